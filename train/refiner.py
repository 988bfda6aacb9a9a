"""The DiffWave refiner for mode 2 (issue 18's design): a few reverse-diffusion steps that start from
mode 1's output instead of from noise, and can only correct it.

Mode 1 (the engine's default) applies the Mel2Mel's per-band gains to the input's spectrum and keeps
its phase.  What gains cannot do -- energy the recording lost (a phone's band limits, deep EQ notches,
partials under noise), the smeared phase of a reverberant tail, codec artefacts -- is the refiner's job.

Formulation (SDEdit-like start, x0 parametrised as a correction; cf. StoRM's "predictive then
generative" and PriorGrad's data-dependent prior):

    m      mode 1's waveform (16 kHz), the prior mean
    x_k    = sqrt(abar_k) m + sqrt(1 - abar_k) eps          the start: m diffused to a small noise level
    x0_k   = m + f(x_k, mel, k)                             f: a DiffWave whose output projection is 0 at
                                                            init (diffwave.DiffWave), conditioned on the
                                                            cleaned log-mel
    x_{k'} = sqrt(abar_k') x0_k + sqrt(1 - abar_k') eps_k   deterministic (DDIM, eta 0) between the refine
             eps_k = (x_k - sqrt(abar_k) x0_k) / sqrt(1 - abar_k)   steps k > k' of REFINE_STEPS

An untrained refiner (f = 0) returns m exactly whatever the noise: eps_k is then the start's own eps,
so every step lands on sqrt(abar) m + sqrt(1 - abar) eps and the last x0 is m.  Every training step is
judged against mode 1.  Training (refiner_loss) draws one refine step k per example, builds x_k from m
as the sampler does and takes L1 plus multi-resolution STFT distance between x0_k and the clean music.

Shapes: waveforms (B, N) float32 at 16 kHz, N a multiple of the hop (256); mel (B, n_mels, N // 256)
log2-mel (models.MelFrontEnd's, transposed).  Runs on torch 1.13 (CPU) and 2.x (GPU).
"""
import json
import math

import numpy as np
import torch
import torch.nn.functional as F

from diffwave import BETAS_TRAIN, DiffWave

# Training-schedule steps the refiner runs, largest first (0-based indices into BETAS_TRAIN).  The start
# noise sqrt(1 - abar_5) is -18 dBFS (start_noise_db()): x_k still shows m clearly, so f can see what it
# corrects, and the noise is enough to let the steps make what m lacks (lost bands, partials).  A first
# choice, to be set by quality per CPU-hour once the refiner trains.
REFINE_STEPS = (5, 2, 0)


def alpha_bar(betas=BETAS_TRAIN):
    """Cumulative products of (1 - beta), float64 (len(betas),)."""
    return np.cumprod(1.0 - np.asarray(betas, dtype=np.float64))


def start_noise_db(steps=REFINE_STEPS, betas=BETAS_TRAIN):
    """The start's noise level, sqrt(1 - abar), in dB of full scale."""
    ab = alpha_bar(betas)[steps[0]]
    return 20.0 * math.log10(math.sqrt(1.0 - ab))


class Refiner(torch.nn.Module):
    """x0 = m + f(x_k, mel, k), f a causal DiffWave (diffwave.DiffWave, output projection zero at init)."""

    def __init__(self, layers=12, channels=32, cycle=6, n_mels=128, embed_dim=128, steps=REFINE_STEPS):
        super().__init__()
        self.dw = DiffWave(layers=layers, channels=channels, cycle=cycle, n_mels=n_mels, causal=True,
                           embed_dim=embed_dim)
        # the correction starts at exactly 0 (DiffWave zeroes the weight, not the bias)
        torch.nn.init.zeros_(self.dw.output_projection.bias)
        self.steps = tuple(int(s) for s in steps)
        if list(self.steps) != sorted(self.steps, reverse=True) or self.steps[-1] < 0 or \
                self.steps[0] >= len(BETAS_TRAIN):
            raise ValueError("refine steps must decrease within the training schedule")

    def hparams(self):
        return dict(self.dw.hparams(), refine_steps=list(self.steps))

    def x0(self, x_k, m, mel, k):
        """x_k, m (B, N); mel (B, n_mels, N // 256); k: int or (B,) step indices -> x0 (B, N)."""
        if not torch.is_tensor(k):
            k = torch.full((x_k.shape[0],), int(k), dtype=torch.long, device=x_k.device)
        return m + self.dw(x_k, mel, k)


@torch.no_grad()
def refine(net, m, mel, eps=None, generator=None):
    """The sampler: m (B, N) mode 1's waveform, mel (B, n_mels, N // 256) -> refined waveform (B, N).
    eps: the start noise (B, N), drawn when None."""
    ab = alpha_bar()
    if eps is None:
        eps = torch.randn(m.shape, generator=generator, dtype=m.dtype, device=m.device)
    k = net.steps[0]
    x = math.sqrt(ab[k]) * m + math.sqrt(1.0 - ab[k]) * eps
    x0 = m
    for i, k in enumerate(net.steps):
        x0 = net.x0(x, m, mel, k)
        if i + 1 == len(net.steps):
            break
        e = (x - math.sqrt(ab[k]) * x0) / math.sqrt(1.0 - ab[k])
        kn = net.steps[i + 1]
        x = math.sqrt(ab[kn]) * x0 + math.sqrt(1.0 - ab[kn]) * e
    return x0


def mr_stft(y, ref, ffts=(512, 1024, 2048)):
    """Multi-resolution STFT distance (B, N) x (B, N) -> scalar: mean over FFT sizes (hop n/4, Hann) of
    spectral convergence + mean |log10 |Y| - log10 |R|| (train/eval.py's metric, differentiable)."""
    total = 0.0
    for n in ffts:
        w = torch.hann_window(n, device=y.device, dtype=y.dtype)
        Y = torch.stft(y, n, n // 4, window=w, return_complex=True).abs()
        R = torch.stft(ref, n, n // 4, window=w, return_complex=True).abs()
        sc = (Y - R).norm() / R.norm().clamp(min=1e-8)
        lm = (torch.log10(Y.clamp(min=1e-7)) - torch.log10(R.clamp(min=1e-7))).abs().mean()
        total = total + sc + lm
    return total / len(ffts)


def refiner_loss(net, m, clean, mel, generator=None, w_stft=1.0):
    """One training term: a refine step per example, x_k from m as the sampler builds it, then
    L1(x0, clean) + w_stft * MR-STFT(x0, clean).  Returns (total, l1, stft)."""
    ab = torch.tensor(alpha_bar(), dtype=m.dtype, device=m.device)
    B = m.shape[0]
    idx = torch.randint(0, len(net.steps), (B,), generator=generator, device=m.device)
    k = torch.tensor(net.steps, device=m.device)[idx]
    eps = torch.randn(m.shape, generator=generator, dtype=m.dtype, device=m.device)
    a = ab[k].unsqueeze(1)
    x_k = a.sqrt() * m + (1 - a).sqrt() * eps
    x0 = net.x0(x_k, m, mel, k)
    l1 = F.l1_loss(x0, clean)
    st = mr_stft(x0, clean)
    return l1 + w_stft * st, l1, st


def export_refiner(net, path, extra_meta=None):
    """Writes the refiner as a DiffWave model file (diffwave.export_diffwave: tensors "diffwave.*",
    metadata "diffwave") plus metadata "refiner" = {"steps": [...]}, the training steps
    nn_diffwave_refine runs (C parity: tests/golden/dw_refiner.safetensors)."""
    from diffwave import export_diffwave
    meta = {"refiner": json.dumps({"steps": list(net.steps)})}
    meta.update(extra_meta or {})
    export_diffwave(net.dw, path, extra_meta=meta)
