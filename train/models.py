"""PyTorch twins of the C Mel2Mel networks (nn/mel2mel.c) and of the log2-mel front end.

Runs on Debian's torch 1.13 (CPU) and on torch 2.x (GPU) alike: only plain nn/functional ops.

Tensor layout everywhere: a log2-mel clip is (B, T, n_mels) -- T frames of 128 mel bins.  Inside
the networks it becomes an image (B, C, H=T time, W=n_mels frequency): H is TIME, W is FREQUENCY,
and the C engine uses the same convention (channel-last [t][f][c]).

Networks
--------
Mel2MelResNet   the reference pix2pix ResNet generator (DESIGN section 1), 11.37 M parameters at the
                default size.  Uses InstanceNorm over the whole clip: offline only.  Dropout is left
                out (the reference kept it on at inference, a defect).
Mel2MelGain     a streaming model: per-band gains from a causal dilated 1-D convolution trunk over
                time, with running context features (band mean, noise floor); frame by frame in C.
Mel2MelNRT      the shipped streaming model: the gain trunk with Noise, Room and Tone heads.

                LOOKAHEAD SEMANTICS (both): output[:, t] estimates clean[:, t - lookahead].  The
                network sees `lookahead` frames of future relative to the frame it restores; for
                t < lookahead the output is warm-up and is left out of every loss.  out = x[t - L]
                + gains (a delayed identity path), so an untrained network does nothing.

(The first streaming model, a causal U-Net "stream", was retired: its GEMMs went through BLAS
on the audio path.  nn/mel2mel.c refuses its files.)

Front end
---------
MelFrontEnd     16 kHz waveform (B, N) -> (B, T, 128) log2-mel, T = 1 + N // 256, exactly the C
                front end: centre-framed STFT (reflect padding of 511), n_fft = window = 1023,
                hop 256, periodic Hann, power spectrum, 128 HTK-mel triangles 0..8000 Hz without
                area normalisation, log2(max(mel, 1e-5)).

Exporting
---------
    from models import Mel2MelNRT
    from export import export_mel2mel
    net = Mel2MelNRT()
    ... train (train/train_mel2mel.py) ...
    export_mel2mel(net, "models/mel2mel_nrt.safetensors", extra_meta={"trained_on": "..."})

The exported file holds tensors "mel2mel.<state_dict name>" and metadata "mel2mel" (JSON of
net.hparams()) and "frontend" (JSON of FRONTEND); the C loader builds the network from those alone.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

FRONTEND = {
    "sample_rate": 16000,
    "n_fft": 1023,
    "hop": 256,
    "n_mels": 128,
    "fmin": 0.0,
    "fmax": 8000.0,
    "log": "log2",
    "floor": 1e-5,
}


# ----------------------------------------------------------------------------------------------
# Front end
# ----------------------------------------------------------------------------------------------
def hz_to_mel(f):
    return 2595.0 * math.log10(1.0 + f / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def htk_mel_filters(sample_rate=16000, n_fft=1023, n_mels=128, fmin=0.0, fmax=8000.0):
    """(n_mels, n_fft // 2 + 1) triangular HTK-mel filters, no area normalisation.

    Built as torchaudio.functional.melscale_fbanks(norm=None, mel_scale="htk") and dsp/mel.c
    build it (the reference used torchaudio): bin k sits at (sample_rate // 2) * k / (n_bins - 1)
    Hz -- not the true bin frequency k * sample_rate / n_fft, 0.1 % apart for 1023 points.  The
    corners are n_mels + 2 points equally spaced on the HTK mel scale between fmin and fmax.
    Computed in float64 and returned as float32, like the C code."""
    n_bins = n_fft // 2 + 1
    mmin, mmax = hz_to_mel(fmin), hz_to_mel(fmax)
    pts = [mel_to_hz(mmin + (mmax - mmin) * i / (n_mels + 1)) for i in range(n_mels + 2)]
    fb = torch.zeros(n_mels, n_bins, dtype=torch.float64)
    for m in range(n_mels):
        lo, mid, hi = pts[m], pts[m + 1], pts[m + 2]
        for k in range(n_bins):
            f = (sample_rate // 2) * k / (n_bins - 1)
            up = (f - lo) / (mid - lo)
            down = (hi - f) / (hi - mid)
            v = min(up, down)
            if v > 0.0:
                fb[m, k] = v
    return fb.float()


class MelFrontEnd(nn.Module):
    """Waveform (B, N) at 16 kHz -> log2-mel (B, T, n_mels), T = 1 + N // hop (N > n_fft // 2)."""

    def __init__(self, sample_rate=16000, n_fft=1023, hop=256, n_mels=128, fmin=0.0, fmax=8000.0,
                 floor=1e-5):
        super().__init__()
        self.n_fft, self.hop, self.floor = n_fft, hop, floor
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True), persistent=False)
        self.register_buffer("fb", htk_mel_filters(sample_rate, n_fft, n_mels, fmin, fmax),
                             persistent=False)

    def forward(self, wav):
        spec = torch.stft(wav, self.n_fft, hop_length=self.hop, win_length=self.n_fft,
                          window=self.window, center=True, pad_mode="reflect",
                          return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2  # (B, bins, T)
        mel = torch.matmul(self.fb, power)  # (B, n_mels, T)
        return torch.log2(torch.clamp(mel, min=self.floor)).transpose(1, 2)


# ----------------------------------------------------------------------------------------------
# Reference ResNet generator (pix2pix, DESIGN section 1)
# ----------------------------------------------------------------------------------------------
class _ResnetBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        # pix2pix: use_bias = (norm_layer == InstanceNorm2d) -> biases on every conv.
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=0, bias=True)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=0, bias=True)

    def forward(self, x):
        h = self.conv1(F.pad(x, (1, 1, 1, 1), mode="reflect"))
        h = F.relu(F.instance_norm(h, eps=1e-5))
        h = self.conv2(F.pad(h, (1, 1, 1, 1), mode="reflect"))
        return x + F.instance_norm(h, eps=1e-5)


class Mel2MelResNet(nn.Module):
    """pix2pix ResnetGenerator(input_nc=1, output_nc=1, ngf, InstanceNorm, n_blocks) without the
    final Tanh and without dropout.  Stride-2 convs zero-pad by 1 (as pix2pix); the 7x7 and the
    residual 3x3 convs reflect-pad.  Input (B, T, n_mels); output cropped to (B, T, n_mels).
    n_mels must be divisible by 2**n_down; T is free (padded by the network, then cropped)."""

    def __init__(self, ngf=64, n_blocks=9, n_down=2, n_mels=128):
        super().__init__()
        self.ngf, self.n_blocks, self.n_down, self.n_mels = ngf, n_blocks, n_down, n_mels
        self.conv_in = nn.Conv2d(1, ngf, 7, padding=0, bias=True)
        self.down = nn.ModuleList(
            [nn.Conv2d(ngf * 2 ** i, ngf * 2 ** (i + 1), 3, stride=2, padding=1, bias=True)
             for i in range(n_down)])
        ch = ngf * 2 ** n_down
        self.blocks = nn.ModuleList([_ResnetBlock(ch) for _ in range(n_blocks)])
        self.up = nn.ModuleList(
            [nn.ConvTranspose2d(ngf * 2 ** (n_down - i), ngf * 2 ** (n_down - i - 1), 3, stride=2,
                                padding=1, output_padding=1, bias=True)
             for i in range(n_down)])
        self.conv_out = nn.Conv2d(ngf, 1, 7, padding=0, bias=True)

    def hparams(self):
        return {"arch": "resnet", "n_mels": self.n_mels, "ngf": self.ngf,
                "n_blocks": self.n_blocks, "n_down": self.n_down, "eps": 1e-5}

    def forward(self, x):
        T = x.shape[1]
        h = x.unsqueeze(1)  # (B, 1, T, F)
        h = F.relu(F.instance_norm(self.conv_in(F.pad(h, (3, 3, 3, 3), mode="reflect"))))
        for conv in self.down:
            h = F.relu(F.instance_norm(conv(h)))
        for blk in self.blocks:
            h = blk(h)
        for conv in self.up:
            h = F.relu(F.instance_norm(conv(h)))
        h = self.conv_out(F.pad(h, (3, 3, 3, 3), mode="reflect"))
        return h[:, 0, :T, :]


# ----------------------------------------------------------------------------------------------
# Streaming gain models (frame by frame in nn/mel2mel.c)
# ----------------------------------------------------------------------------------------------
DB_PER_LOG2 = 10.0 * math.log10(2.0)  # 1 log2 unit of power = 3.0103 dB


def warmup_alpha(alpha, t, warmup):
    """The running mean's coefficient at frame t (0-based): alpha, or with warmup max(alpha, 1/(t+1)),
    which makes the first 1/alpha frames a plain average of the frames so far (every frame weighs the
    same) instead of an average dominated by the first frame."""
    return max(alpha, 1.0 / (t + 1)) if warmup else alpha


def context_features(x, ema_alpha, floor_rise, warmup=False):
    """Slow causal context of a log2-mel clip x (B, T, F), computed exactly as nn/mel2mel.c does:
    running band mean   m[t] = m[t-1] + a_t * (x[t] - m[t-1]),  a_t = warmup_alpha(ema_alpha, t, warmup),
    noise-floor tracker f[t] = min(x[t], f[t-1] + floor_rise)   (log2 units per frame),
    both starting at the first frame (m[0] = f[0] = x[0]), so adding a constant to x adds it to m
    and f (the features follow the level like the mel does).  No gradient flows through them.
    Returns (m, f), each (B, T, F)."""
    with torch.no_grad():
        T = x.shape[1]
        m = torch.empty_like(x)
        f = torch.empty_like(x)
        mp = x[:, 0]
        fp = x[:, 0]
        for t in range(T):
            xt = x[:, t]
            mp = mp + warmup_alpha(ema_alpha, t, warmup) * (xt - mp)
            fp = torch.minimum(xt, fp + floor_rise)
            m[:, t] = mp
            f[:, t] = fp
    return m, f


def bounded_gain(z, lift_max, cut_max):
    """Soft bound with unit slope at 0: z >= 0 -> lift_max * tanh(z / lift_max), z < 0 ->
    cut_max * tanh(z / cut_max).  Units are those of lift_max/cut_max (log2 power here)."""
    return torch.where(z >= 0, lift_max * torch.tanh(z / lift_max), cut_max * torch.tanh(z / cut_max))


class _GainBlock(nn.Module):
    """Pre-activation residual block: h + W2 relu(causal dilated conv_k(relu(h)))."""

    def __init__(self, ch, dilation, kt):
        super().__init__()
        self.kt, self.dilation = kt, dilation
        self.conv = nn.Conv1d(ch, ch, kt, dilation=dilation, bias=True)
        self.proj = nn.Conv1d(ch, ch, 1, bias=True)
        with torch.no_grad():
            self.proj.weight.mul_(0.2)  # small residual updates at the start: stable without norms

    def forward(self, h):
        a = F.relu(self.conv(F.pad(F.relu(h), ((self.kt - 1) * self.dilation, 0))))
        return h + self.proj(a)


class Mel2MelGain(nn.Module):
    """Gain Mel2Mel.  x: (B, T, n_mels) log2-mel -> (B, T, n_mels) log2-mel, output[:, t] estimates
    clean[:, t - lookahead] (the look-ahead semantics in this module's docstring).

    Per frame the network sees the log2-mel and two slow context features (context_features:
    running band mean, noise-floor tracker), all normalised by (v - norm_mean) * norm_scale, as
    3 * n_mels channels.  A 1x1 conv lifts them to `channels`; residual blocks of causal dilated
    1-D convolutions over time (kernel kt, one block per entry of `dilations`) follow; a final
    ReLU + 1x1 conv gives a per-band gain, soft-bounded to [-cut_db, +lift_db] dB (bounded_gain),
    added to the input frame t - lookahead.  The output conv is zero-initialised: the untrained
    network is exactly the delayed identity (0 dB everywhere).
    Cost per frame: macs_per_frame() (3F*C + blocks * (kt + 1) * C^2 + C*F)."""

    def __init__(self, channels=128, dilations=(1, 2, 4, 8, 16, 32), lookahead=2, kt=3,
                 norm_mean=-6.0, norm_scale=0.25, n_mels=128, lift_db=12.0, cut_db=30.0,
                 ema_alpha=1.0 / 64.0, floor_rise=0.02):
        super().__init__()
        if not 0 <= lookahead <= 8:
            raise ValueError("lookahead must be in 0..8")
        self.channels, self.dilations = int(channels), tuple(int(d) for d in dilations)
        self.lookahead, self.kt, self.n_mels = int(lookahead), int(kt), int(n_mels)
        self.norm_mean, self.norm_scale = float(norm_mean), float(norm_scale)
        self.lift_db, self.cut_db = float(lift_db), float(cut_db)
        self.ema_alpha, self.floor_rise = float(ema_alpha), float(floor_rise)
        C = self.channels
        self.conv_in = nn.Conv1d(3 * n_mels, C, 1, bias=True)
        self.blocks = nn.ModuleList([_GainBlock(C, d, self.kt) for d in self.dilations])
        self.conv_out = nn.Conv1d(C, n_mels, 1, bias=True)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def hparams(self):
        return {"arch": "gain", "n_mels": self.n_mels, "channels": self.channels,
                "dilations": list(self.dilations), "lookahead": self.lookahead, "kt": self.kt,
                "norm_mean": self.norm_mean, "norm_scale": self.norm_scale,
                "lift_db": self.lift_db, "cut_db": self.cut_db, "ema_alpha": self.ema_alpha,
                "floor_rise": self.floor_rise}

    def receptive_field(self):
        return sum((self.kt - 1) * d for d in self.dilations)

    def macs_per_frame(self):
        C, F_ = self.channels, self.n_mels
        return 3 * F_ * C + len(self.dilations) * (self.kt + 1) * C * C + C * F_

    def gains(self, x):
        """Per-band gains in log2 power units, (B, T, n_mels); gains[:, t] applies to x[:, t - L]."""
        m, f = context_features(x, self.ema_alpha, self.floor_rise)
        u = torch.cat([x, m, f], dim=2)
        u = ((u - self.norm_mean) * self.norm_scale).transpose(1, 2)  # (B, 3F, T)
        h = self.conv_in(u)
        for blk in self.blocks:
            h = blk(h)
        z = self.conv_out(F.relu(h)).transpose(1, 2)
        return bounded_gain(z, self.lift_db / DB_PER_LOG2, self.cut_db / DB_PER_LOG2)

    def forward(self, x):
        L = self.lookahead
        # frames before the stream are digital silence (the front end's floor)
        xd = F.pad(x, (0, 0, L, 0), value=math.log2(FRONTEND["floor"]))[:, : x.shape[1]] if L > 0 else x
        return xd + self.gains(x)


# ----------------------------------------------------------------------------------------------
# Noise / Room / Tone model (the shipped default from session 5)
# ----------------------------------------------------------------------------------------------
HEADS = ("noise", "room", "tone")


def long_term_feature(x, lt_alpha, corpus_tilt, warmup=False):
    """Long-term tonal balance against the training corpus's: lt[t] = lt[t-1] + a_t * (x[t] - lt[t-1]),
    a_t = warmup_alpha(lt_alpha, t, warmup) (lt[0] = x[0]; 1/512 is an 8 s time constant at 62.5 frames/s;
    without warmup a 2.6 s training crop's lt still weighs its first frame 73 %), minus its mean over bands (so
    it does not follow the level), minus corpus_tilt (the corpus's mean log2-mel, also minus its own band
    mean).  x (B, T, F) -> (B, T, F); no gradient.  Computed exactly as nn/mel2mel.c does."""
    with torch.no_grad():
        T = x.shape[1]
        out = torch.empty_like(x)
        lp = x[:, 0]
        for t in range(T):
            lp = lp + warmup_alpha(lt_alpha, t, warmup) * (x[:, t] - lp)
            out[:, t] = lp - lp.mean(dim=1, keepdim=True) - corpus_tilt
    return out


def decay_feature(x, decay_alpha):
    """Each band's steepest recent fall: d[t] = max(x[t-1] - x[t], 0) (log2 units per frame; d[0] = 0), held
    as s[t] = max(d[t], (1 - decay_alpha) s[t-1]) from s = 0 (1/64: a 1 s time constant at 62.5 frames/s).
    A room caps how fast a band can fall (60 dB per T60: 0.64 log2 units a frame at T60 0.5 s, 0.11 at 3 s)
    while dry music ends notes in a frame or two, so the feature is a blind decay-rate (T60) cue, which the
    Room head's per-frame inputs did not give it (docs/status.md: the drop below a band's recent peak
    correlated 0.01-0.04 with the late part's share).  A difference, so it does not follow the level.  x (B, T,
    F) -> (B, T, F); no gradient.  Computed exactly as nn/mel2mel.c does."""
    with torch.no_grad():
        T = x.shape[1]
        out = torch.empty_like(x)
        sp = torch.zeros_like(x[:, 0])
        k = 1.0 - decay_alpha
        for t in range(T):
            d = torch.clamp(x[:, t - 1] - x[:, t], min=0.0) if t else torch.zeros_like(sp)
            sp = torch.maximum(d, k * sp)
            out[:, t] = sp
    return out


def tone_basis(n_basis, n_mels):
    """(n_basis, n_mels) Hann bumps equally spaced over the mel index, each as wide as two spacings, so they
    sum to 1 across the band: a Tone gain is smooth across frequency by construction."""
    b = torch.zeros(n_basis, n_mels)
    sp = (n_mels - 1) / (n_basis - 1)
    i = torch.arange(n_mels, dtype=torch.float64)
    for k in range(n_basis):
        u = (i - k * sp) / sp
        b[k] = torch.where(u.abs() < 1, 0.5 * (1 + torch.cos(math.pi * u)), torch.zeros_like(u)).float()
    return b


def one_sided_cut(z, cut_max):
    """z -> a cut in (-cut_max, 0]: cut_max * tanh(min(z, 0) / cut_max), unit slope below 0 dB, exactly 0 dB
    for z >= 0.  The heads' own loss (train_mel2mel.nrt_loss) is taken on z itself, so a head that asks for no
    cut still learns (a softplus form, -cut * tanh(softplus(z) / cut), sank to z = -8 within 8,000 steps and
    stopped learning: its gradient is sigmoid(z))."""
    return cut_max * torch.tanh(torch.clamp(z, max=0.0) / cut_max)


class Mel2MelNRT(nn.Module):
    """Noise / Room / Tone Mel2Mel.  x: (B, T, n_mels) log2-mel -> (B, T, n_mels) log2-mel, output[:, t]
    estimates clean[:, t - lookahead] (the module docstring's look-ahead semantics): the input frame t - lookahead plus
    the sum of three per-band gains (log2 power units; 1 = 3.01 dB), each with its own strength (forward's
    `strength`, the plugin's Noise / Room / Tone controls; 1 = as trained):

      noise  <= 0, per band and frame: the additive noise's share (target: degraded without its noise over
             degraded, train_mel2mel.head_targets);
      room   <= 0, per band and frame: late reverberation (target: the signal with only the direct sound and
             early reflections, degrade.early_part, over the signal with the whole room response);
      tone   +-tone_db, slow and smooth: n_basis coefficients per frame (tone_basis across the mel bands), each
             smoothed by a one-pole average (tone_alpha per frame, starting at 0 dB when the stream starts), then
             soft-bounded (tanh); the only head that may lift (target: the clip's mean of clean over coloured).

    The trunk is Mel2MelGain's: per frame the log2-mel, its running band mean (EMA ema_alpha), its noise-floor
    tracker (floor_rise) -- all as (v - norm_mean) * norm_scale -- and the long-term tonal balance against the
    corpus (long_term_feature, times norm_scale), and with classical_input the classical suppressor's own log2
    gain of the frame (the engine's enhance_classical_feature via cfeatures.classical_feature, times norm_scale:
    the RNNoise / PercepNet hybrid, the network learns where to trust it), and with decay_input each band's
    steepest recent fall (decay_feature, decay_alpha, times norm_scale: a blind T60 cue for the Room head),
    n_feat * n_mels channels (n_feat 4 to 6, in that order) -> 1x1 conv to `channels` -> residual
    blocks of causal dilated 1-D convs over time -> ReLU, then one 1x1 conv per head.  A frequency-local branch
    (local_ch > 0) adds to the noise and room heads' z: two causal 2-D convs over (time, mel band), 3x5 and 3x3
    with time dilation local_dil, on the same n_feat features, weights shared by every band (the per-band SNR
    and decay evidence a 128-channel trunk mixing all bands carries poorly), zero at the start.  noise/room are
    one_sided_cut(z) bounded by cut_db (z itself is what their loss sees); they start near 0 dB, tone at 0 dB.
    Cost per frame: macs_per_frame()."""

    def __init__(self, channels=128, dilations=(1, 2, 4, 8, 16, 32), lookahead=2, kt=3,
                 norm_mean=-6.0, norm_scale=0.25, n_mels=128, cut_db=30.0, tone_db=12.0, n_basis=16,
                 ema_alpha=1.0 / 64.0, floor_rise=0.02, lt_alpha=1.0 / 512.0, tone_alpha=1.0 / 64.0,
                 local_ch=12, local_dil=4, feature_warmup=0, classical_input=0, decay_input=0,
                 decay_alpha=1.0 / 64.0):
        super().__init__()
        if not 0 <= lookahead <= 8:
            raise ValueError("lookahead must be in 0..8")
        self.local_ch, self.local_dil = int(local_ch), int(local_dil)
        self.classical_input = int(bool(classical_input))
        self.decay_input, self.decay_alpha = int(bool(decay_input)), float(decay_alpha)
        self.n_feat = 4 + self.classical_input + self.decay_input
        self.channels, self.dilations = int(channels), tuple(int(d) for d in dilations)
        self.lookahead, self.kt, self.n_mels = int(lookahead), int(kt), int(n_mels)
        self.norm_mean, self.norm_scale = float(norm_mean), float(norm_scale)
        self.cut_db, self.tone_db, self.n_basis = float(cut_db), float(tone_db), int(n_basis)
        self.ema_alpha, self.floor_rise = float(ema_alpha), float(floor_rise)
        self.lt_alpha, self.tone_alpha = float(lt_alpha), float(tone_alpha)
        self.feature_warmup = int(feature_warmup)
        C = self.channels
        self.conv_in = nn.Conv1d(self.n_feat * n_mels, C, 1, bias=True)
        self.blocks = nn.ModuleList([_GainBlock(C, d, self.kt) for d in self.dilations])
        self.noise_out = nn.Conv1d(C, n_mels, 1, bias=True)
        self.room_out = nn.Conv1d(C, n_mels, 1, bias=True)
        self.tone_out = nn.Conv1d(C, self.n_basis, 1, bias=True)
        for head in (self.noise_out, self.room_out):
            nn.init.normal_(head.weight, std=0.01)
            nn.init.zeros_(head.bias)
        nn.init.zeros_(self.tone_out.weight)
        nn.init.zeros_(self.tone_out.bias)
        if self.local_ch:
            H = self.local_ch
            self.local1 = nn.Conv2d(self.n_feat, H, (3, 5), bias=True)
            self.local2 = nn.Conv2d(H, H, (3, 3), dilation=(self.local_dil, 1), bias=True)
            self.local_out = nn.Conv2d(H, 2, 1, bias=True)
            nn.init.zeros_(self.local_out.weight)
            nn.init.zeros_(self.local_out.bias)
        self.register_buffer("tone_basis", tone_basis(self.n_basis, n_mels))
        self.register_buffer("corpus_tilt", torch.zeros(n_mels))

    def hparams(self):
        return {"arch": "nrt", "n_mels": self.n_mels, "channels": self.channels,
                "dilations": list(self.dilations), "lookahead": self.lookahead, "kt": self.kt,
                "norm_mean": self.norm_mean, "norm_scale": self.norm_scale, "cut_db": self.cut_db,
                "tone_db": self.tone_db, "n_basis": self.n_basis, "ema_alpha": self.ema_alpha,
                "floor_rise": self.floor_rise, "lt_alpha": self.lt_alpha, "tone_alpha": self.tone_alpha,
                "local_ch": self.local_ch, "local_dil": self.local_dil,
                "feature_warmup": self.feature_warmup, "classical_input": self.classical_input,
                **({"decay_input": 1, "decay_alpha": self.decay_alpha} if self.decay_input else {})}

    def receptive_field(self):
        return sum((self.kt - 1) * d for d in self.dilations)

    def macs_per_frame(self):
        C, F_, K, H = self.channels, self.n_mels, self.n_basis, self.local_ch
        local = F_ * (self.n_feat * H * 15 + H * H * 9 + 2 * H)
        return self.n_feat * F_ * C + len(self.dilations) * (self.kt + 1) * C * C + 2 * C * F_ + C * K + K * F_ + local

    def heads(self, x, raw=False, cf=None):
        """Per-head gains (noise, room, tone), each (B, T, n_mels) in log2 power units; [:, t] applies to
        x[:, t - lookahead].  raw=True also returns the noise and room heads' unbounded outputs z (the cut is
        one_sided_cut(z)): ((noise, room, tone), (z_noise, z_room)).  cf (B, T, n_mels): the classical
        suppressor's log2 gain of the same frames (cfeatures.classical_feature; required when classical_input,
        ignored otherwise)."""
        m, f = context_features(x, self.ema_alpha, self.floor_rise, self.feature_warmup)
        lt = long_term_feature(x, self.lt_alpha, self.corpus_tilt, self.feature_warmup)
        parts = [(torch.cat([x, m, f], dim=2) - self.norm_mean) * self.norm_scale, lt * self.norm_scale]
        if self.classical_input:
            if cf is None or cf.shape != x.shape:
                raise ValueError("this model reads the classical suppressor's gain: cf must be shaped as x")
            # a gain, <= 0 by construction: anything else (> 0, NaN, below -1000) reads as 0 dB, as in nn/mel2mel.c
            cf = torch.where((cf < 0) & (cf > -1e3), cf, torch.zeros_like(cf))
            parts.append(cf * self.norm_scale)
        if self.decay_input:
            parts.append(decay_feature(x, self.decay_alpha) * self.norm_scale)
        u = torch.cat(parts, dim=2).transpose(1, 2)  # (B, n_feat F, T)
        h = self.conv_in(u)
        if self.local_ch:
            # the frequency-local branch: per band, its own four features and its neighbours' over a few
            # frames (a per-band SNR and decay detector, weights shared by every band), added to the noise and
            # room heads' z; causal in time, zero-padded in frequency
            B, _, T = u.shape
            v = u.view(B, self.n_feat, self.n_mels, T).transpose(2, 3)  # (B, n_feat, T, F)
            v = F.relu(self.local1(F.pad(v, (2, 2, 2, 0))))
            v = F.relu(self.local2(F.pad(v, (1, 1, 2 * self.local_dil, 0))))
            zl = self.local_out(v)  # (B, 2, T, F)
        for blk in self.blocks:
            h = blk(h)
        a = F.relu(h)
        cut = self.cut_db / DB_PER_LOG2
        z_noise = self.noise_out(a).transpose(1, 2)
        z_room = self.room_out(a).transpose(1, 2)
        if self.local_ch:
            z_noise = z_noise + zl[:, 0]
            z_room = z_room + zl[:, 1]
        g_noise = one_sided_cut(z_noise, cut)
        g_room = one_sided_cut(z_room, cut)
        zc = self.tone_out(a)  # (B, K, T)
        # one-pole average over time, from 0 at the stream's start: a colouration is judged on seconds
        alpha = self.tone_alpha
        T = zc.shape[2]
        if T <= 64:
            cs, cp = [], torch.zeros_like(zc[:, :, 0])
            for t in range(T):
                cp = cp + alpha * (zc[:, :, t] - cp)
                cs.append(cp)
            c = torch.stack(cs, dim=2)
        else:
            # the same recurrence as a causal convolution with the truncated kernel alpha (1 - alpha)^k
            n = min(T, int(math.ceil(math.log(1e-7) / math.log(1.0 - alpha))) + 1)
            k = alpha * (1.0 - alpha) ** torch.arange(n - 1, -1, -1, dtype=zc.dtype, device=zc.device)
            c = F.conv1d(F.pad(zc.reshape(-1, 1, T), (n - 1, 0)), k.view(1, 1, n)).view_as(zc)
        lim = self.tone_db / DB_PER_LOG2
        g_tone = lim * torch.tanh(torch.einsum("bkt,kf->btf", c, self.tone_basis) / lim)
        if raw:
            return (g_noise, g_room, g_tone), (z_noise, z_room)
        return g_noise, g_room, g_tone

    def forward(self, x, strength=(1.0, 1.0, 1.0), return_heads=False, return_raw=False, cf=None):
        """return_heads: (out, heads); return_raw: (out, heads, (z_noise, z_room)) (Mel2MelNRT.heads); cf as
        there."""
        L = self.lookahead
        xd = F.pad(x, (0, 0, L, 0), value=math.log2(FRONTEND["floor"]))[:, : x.shape[1]] if L > 0 else x
        g, z = self.heads(x, raw=True, cf=cf)
        out = xd + strength[0] * g[0] + strength[1] * g[1] + strength[2] * g[2]
        if return_raw:
            return out, g, z
        return (out, g) if return_heads else out


def mel2mel_from_hparams(hp):
    """Builds the network described by the "mel2mel" metadata (net.hparams()) of a model file."""
    hp = dict(hp)
    arch = hp.pop("arch", None)
    if arch == "stream":
        raise ValueError("the \"stream\" Mel2Mel was retired; use a \"nrt\" model")
    if arch == "resnet":
        hp.pop("eps", None)
        return Mel2MelResNet(**hp)
    if arch == "gain":
        return Mel2MelGain(**hp)
    if arch == "nrt":
        return Mel2MelNRT(**hp)
    raise ValueError("unknown Mel2Mel arch %r" % arch)


def count_params(net):
    return sum(p.numel() for p in net.parameters())


if __name__ == "__main__":
    torch.manual_seed(0)
    ref = Mel2MelResNet()
    print("Mel2MelResNet params: %d" % count_params(ref))
    s = Mel2MelNRT()
    print("Mel2MelNRT params: %d, MMAC/frame %.2f, receptive field %d frames, lookahead %d"
          % (count_params(s), s.macs_per_frame() / 1e6, s.receptive_field(), s.lookahead))
    x = torch.randn(2, 37, 128) * 3 - 6
    y = s(x)
    # Causality check: changing future frames must not change earlier outputs.
    x2 = x.clone()
    x2[:, 20:] += 1.0
    y2 = s(x2)
    assert torch.equal(y[:, :20], y2[:, :20]), "streaming model is not causal"
    print("causal: ok; resnet out", tuple(ref(x).shape))
    fe = MelFrontEnd()
    print("frontend", tuple(fe(torch.randn(1, 16000)).shape))
