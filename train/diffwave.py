"""DiffWave (Kong et al. 2021) as used by Kandpal et al. 2022, the PyTorch twin of nn/diffwave.c.

Runs on Debian's torch 1.13 (CPU) and on torch 2.x (GPU) alike.  Follows lmnt-com/diffwave's
module and parameter names, so its checkpoints map onto ours, plus two things the real-time
engine needs:

* dilation taps that look less far ahead: layer i with dilation d reads its input at
  t - 2d + s, t - d + s, t + s where s is the layer's look-ahead: s = d (the reference,
  symmetric), s = 0 (causal=True) or s = min(d, lookahead) (limited look-ahead);
* an embedding MLP width option (embed_dim, 512 in the reference) so golden test models stay
  small.

    model = DiffWave(layers=16, channels=48, cycle=8, causal=True)
    loss = training_loss(model, audio, mel)           # audio [B, N], mel [B, n_mels, N // hop]
    audio = sample(model, mel, fast=True)              # DiffWave's 6-step schedule
    export_diffwave(model, "models/diffwave.safetensors")

Sampler noise can be injected (noise=[S, B, N]: noise[0] is x_T, noise[k] the noise added
after step S-k), which is how the C engine's golden tests use identical noise.
"""
import json
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BETAS_TRAIN = np.linspace(1e-4, 0.05, 50).tolist()
BETAS_FAST = [1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5]


def _conv1d(*args, **kwargs):
    layer = nn.Conv1d(*args, **kwargs)
    nn.init.kaiming_normal_(layer.weight)
    return layer


def _silu(x):
    return x * torch.sigmoid(x)


class DiffusionEmbedding(nn.Module):
    def __init__(self, max_steps, embed_dim=512):
        super().__init__()
        self.register_buffer("embedding", self._build_embedding(max_steps), persistent=False)
        self.projection1 = nn.Linear(128, embed_dim)
        self.projection2 = nn.Linear(embed_dim, embed_dim)

    def forward(self, diffusion_step):
        if diffusion_step.dtype in (torch.int32, torch.int64):
            x = self.embedding[diffusion_step]
        else:
            x = self._lerp_embedding(diffusion_step)
        x = _silu(self.projection1(x))
        x = _silu(self.projection2(x))
        return x

    def _lerp_embedding(self, t):
        low_idx = torch.floor(t).long()
        high_idx = torch.ceil(t).long()
        low = self.embedding[low_idx]
        high = self.embedding[high_idx]
        return low + (high - low) * (t - low_idx).unsqueeze(-1)

    @staticmethod
    def _build_embedding(max_steps):
        steps = torch.arange(max_steps).unsqueeze(1)  # [T, 1]
        dims = torch.arange(64).unsqueeze(0)  # [1, 64]
        table = steps * 10.0 ** (dims * 4.0 / 63.0)  # [T, 64]
        return torch.cat([torch.sin(table), torch.cos(table)], dim=1)


class SpectrogramUpsampler(nn.Module):
    """Two ConvTranspose2d (kernel [3, 32], stride [1, 16], padding [1, 8]) + LeakyReLU 0.4:
    mel frames -> samples (x256).  Sample o depends on frames up to (o + 136) // 256."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.ConvTranspose2d(1, 1, [3, 32], stride=[1, 16], padding=[1, 8])
        self.conv2 = nn.ConvTranspose2d(1, 1, [3, 32], stride=[1, 16], padding=[1, 8])

    def forward(self, x):
        x = torch.unsqueeze(x, 1)
        x = F.leaky_relu(self.conv1(x), 0.4)
        x = F.leaky_relu(self.conv2(x), 0.4)
        return torch.squeeze(x, 1)


class ResidualBlock(nn.Module):
    def __init__(self, n_mels, channels, dilation, lookahead, embed_dim):
        super().__init__()
        self.dilation = dilation
        self.lookahead = lookahead  # future samples this layer reads (0..dilation)
        self.dilated_conv = _conv1d(channels, 2 * channels, 3, padding=0, dilation=dilation)
        self.diffusion_projection = nn.Linear(embed_dim, channels)
        self.conditioner_projection = _conv1d(n_mels, 2 * channels, 1)
        self.output_projection = _conv1d(channels, 2 * channels, 1)

    def forward(self, x, conditioner, diffusion_step):
        d = self.diffusion_projection(diffusion_step).unsqueeze(-1)
        y = x + d
        y = F.pad(y, (2 * self.dilation - self.lookahead, self.lookahead))
        y = self.dilated_conv(y) + self.conditioner_projection(conditioner)
        gate, filt = torch.chunk(y, 2, dim=1)
        y = torch.sigmoid(gate) * torch.tanh(filt)
        y = self.output_projection(y)
        residual, skip = torch.chunk(y, 2, dim=1)
        return (x + residual) / math.sqrt(2.0), skip


def layer_lookaheads(layers, cycle, causal=False, lookahead=None):
    """Future samples read by each layer: d (symmetric), 0 (causal) or min(d, lookahead)."""
    out = []
    for i in range(layers):
        d = 2 ** (i % cycle)
        out.append(0 if causal else (d if lookahead is None else min(d, int(lookahead))))
    return out


class DiffWave(nn.Module):
    def __init__(self, layers=30, channels=64, cycle=10, n_mels=128, hop=256, causal=False,
                 lookahead=None, betas_train=None, betas_infer=None, embed_dim=512):
        super().__init__()
        if hop != 256:
            raise ValueError("the conditioner upsampler is fixed at x256 (two x16 stages)")
        self.hp = dict(layers=layers, channels=channels, cycle=cycle, n_mels=n_mels, hop=hop,
                       causal=bool(causal), lookahead=lookahead,
                       betas_train=list(map(float, betas_train or BETAS_TRAIN)),
                       betas_infer=list(map(float, betas_infer or BETAS_FAST)),
                       embed_dim=embed_dim)
        self.input_projection = _conv1d(1, channels, 1)
        self.diffusion_embedding = DiffusionEmbedding(len(self.hp["betas_train"]), embed_dim)
        self.spectrogram_upsampler = SpectrogramUpsampler()
        las = layer_lookaheads(layers, cycle, causal, lookahead)
        self.residual_layers = nn.ModuleList([
            ResidualBlock(n_mels, channels, 2 ** (i % cycle), las[i], embed_dim)
            for i in range(layers)])
        self.skip_projection = _conv1d(channels, channels, 1)
        self.output_projection = _conv1d(channels, 1, 1)
        nn.init.zeros_(self.output_projection.weight)

    def hparams(self):
        return dict(self.hp)

    def lookahead_per_step(self):
        return sum(l.lookahead for l in self.residual_layers)

    def forward(self, audio, spectrogram, diffusion_step):
        """audio [B, N], spectrogram [B, n_mels, N // 256], diffusion_step [B] (int or float)."""
        x = F.relu(self.input_projection(audio.unsqueeze(1)))
        diffusion_step = self.diffusion_embedding(diffusion_step)
        spectrogram = self.spectrogram_upsampler(spectrogram)
        skip = None
        for layer in self.residual_layers:
            x, s = layer(x, spectrogram, diffusion_step)
            skip = s if skip is None else skip + s
        x = skip / math.sqrt(len(self.residual_layers))
        x = F.relu(self.skip_projection(x))
        return self.output_projection(x).squeeze(1)


def noise_schedule(betas_train, betas_infer=None):
    """DiffWave's sampler coefficients.  With betas_infer (fast sampling), each inference step
    is mapped to a fractional training step t by aligning cumulative alphas (the paper's
    continuous-time mapping, lmnt-com/diffwave inference.py).  Returns float64 arrays
    (alpha, alpha_cum, beta, T), step n = len-1 .. 0."""
    tb = np.array(betas_train, dtype=np.float64)
    beta = np.array(betas_infer if betas_infer is not None else betas_train, dtype=np.float64)
    talpha_cum = np.cumprod(1 - tb)
    alpha = 1 - beta
    alpha_cum = np.cumprod(alpha)
    T = []
    for s in range(len(beta)):
        for t in range(len(tb) - 1):
            if talpha_cum[t + 1] <= alpha_cum[s] <= talpha_cum[t]:
                twiddle = (np.sqrt(talpha_cum[t]) - np.sqrt(alpha_cum[s])) / (
                    np.sqrt(talpha_cum[t]) - np.sqrt(talpha_cum[t + 1]))
                T.append(t + twiddle)
                break
        else:
            raise ValueError("inference beta %d is outside the training schedule" % s)
    return alpha, alpha_cum, beta, np.array(T, dtype=np.float32)


@torch.no_grad()
def sample(model, spectrogram, fast=True, betas_infer=None, noise=None, generator=None,
           return_eps=False):
    """Ancestral sampling.  spectrogram [B, n_mels, F] -> audio [B, F * 256].  noise: optional
    [S, B, N] tensor (noise[0] = x_T, noise[S - n] = noise added after step n > 0)."""
    hp = model.hp
    if betas_infer is None:
        betas_infer = hp["betas_infer"] if fast else hp["betas_train"]
    alpha, alpha_cum, beta, T = noise_schedule(hp["betas_train"], betas_infer)
    S = len(beta)
    B, _, frames = spectrogram.shape
    N = frames * hp["hop"]

    def draw(k):
        if noise is not None:
            return noise[k].to(device=spectrogram.device, dtype=spectrogram.dtype)
        return torch.randn(B, N, generator=generator, dtype=spectrogram.dtype,
                           device=spectrogram.device)

    audio = draw(0)
    for n in range(S - 1, -1, -1):
        c1 = 1 / alpha[n] ** 0.5
        c2 = beta[n] / (1 - alpha_cum[n]) ** 0.5
        t = torch.full((B,), float(T[n]), dtype=torch.float32, device=spectrogram.device)
        eps = model(audio, spectrogram, t)
        audio = c1 * (audio - c2 * eps)
        if n > 0:
            sigma = ((1.0 - alpha_cum[n - 1]) / (1.0 - alpha_cum[n]) * beta[n]) ** 0.5
            audio = audio + sigma * draw(S - n)
        audio = torch.clamp(audio, -1.0, 1.0)
    return audio


def training_loss(model, audio, spectrogram, generator=None):
    """MSE between the true and predicted noise at a random training step per example."""
    dev = audio.device
    betas = torch.tensor(model.hp["betas_train"], dtype=torch.float64)
    alpha_cum = torch.cumprod(1 - betas, 0).to(device=dev, dtype=audio.dtype)
    B = audio.shape[0]
    # generator (optional) must live on audio's device, as torch requires
    t = torch.randint(0, len(betas), (B,), generator=generator, device=dev)
    noise = torch.randn(audio.shape, generator=generator, dtype=audio.dtype, device=dev)
    a = alpha_cum[t].unsqueeze(1)
    noisy = a.sqrt() * audio + (1 - a).sqrt() * noise
    return F.mse_loss(model(noisy, spectrogram, t), noise)


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def diffwave_tensors(model, prefix="diffwave."):
    t = {prefix + k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()}
    # The sin/cos table is not a parameter, but C must use PyTorch's float32 values: for large
    # step indices a one-ulp difference in the argument moves sin() by ~0.03.
    t[prefix + "diffusion_embedding.embedding"] = \
        model.diffusion_embedding.embedding.detach().cpu().float().numpy()
    return t


def export_diffwave(model, path, extra_meta=None, extra_tensors=None):
    """Writes the model as safetensors with metadata key "diffwave" (JSON hyperparameters),
    the layout nn_diffwave_load() reads."""
    try:
        from export import save_file
    except ImportError:  # train/ not on sys.path
        import importlib.util
        import os
        spec = importlib.util.spec_from_file_location(
            "export", os.path.join(os.path.dirname(os.path.abspath(__file__)), "export.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        save_file = mod.save_file
    meta = {"diffwave": json.dumps(model.hparams()), "format": "menhance-1"}
    if extra_meta:
        meta.update({str(k): str(v) for k, v in extra_meta.items()})
    tensors = diffwave_tensors(model)
    if extra_tensors:
        tensors.update(extra_tensors)
    save_file(tensors, path, meta)


def load_diffwave(path):
    """Inverse of export_diffwave (for fine-tuning or evaluation in Python)."""
    from export import load_file
    tensors, meta = load_file(path)
    hp = json.loads(meta["diffwave"])
    model = DiffWave(**hp)
    sd = {k[len("diffwave."):]: torch.from_numpy(v) for k, v in tensors.items()
          if k.startswith("diffwave.") and not k.endswith("diffusion_embedding.embedding")}
    model.load_state_dict(sd)
    return model


if __name__ == "__main__":
    ref = DiffWave(layers=30, channels=64, cycle=10, n_mels=128)
    print("reference L=30 C=64 n_mels=128: %.3f M parameters" % (count_params(ref) / 1e6))
    ref80 = DiffWave(layers=30, channels=64, cycle=10, n_mels=80)
    print("reference L=30 C=64 n_mels=80:  %.3f M parameters" % (count_params(ref80) / 1e6))
    m = DiffWave(layers=4, channels=8, cycle=2, n_mels=20, embed_dim=32)
    mel = torch.randn(1, 20, 3)
    print("sample:", sample(m, mel).shape, "loss:", float(training_loss(m, torch.randn(2, 768),
                                                                        torch.randn(2, 20, 3))))
