"""Writes tests/golden/dw_*.safetensors: tiny DiffWave models with random weights (every layer,
including the zero-initialised output projection, randomised so nothing is trivially zero),
a random mel, injected noise, and PyTorch's outputs for tests/test_nn_diffwave.c:

  golden.mel        [n_mels, F]   conditioner input
  golden.x          [N]           noisy audio for the single-step check
  golden.t          [1]           fractional diffusion step (exercises the embedding lerp)
  golden.eps        [N]           model(x, mel, t)
  golden.noise_fast [S, N]        injected noise for the metadata's fast schedule
  golden.audio_fast [N]           sample(..., fast=True, noise=noise_fast)
  golden.noise_full [50, N], golden.audio_full [N]   the same for the 50-step schedule
                                                      (dw_sym only)

and tests/golden/dw_refiner.safetensors, the mode-2 refiner's steps (train/refiner.py refine) with a
tiny causal DiffWave as its correction:

  golden.mel [n_mels, F], golden.prior [N] (mode 1's waveform), golden.eps [N] (the start noise),
  golden.steps [S] (training steps, as floats), golden.out [N] (refine's output)

Usage: /usr/bin/python3 golden_diffwave.py ../tests/golden [--refiner-only]
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diffwave import DiffWave, count_params, export_diffwave, sample  # noqa: E402

CONFIGS = {
    # symmetric (reference-style) dilations
    "dw_sym": dict(layers=4, channels=8, cycle=3, n_mels=12, embed_dim=32),
    # causal taps, width 16 (full AVX-512 row panels)
    "dw_causal": dict(layers=5, channels=16, cycle=3, n_mels=10, embed_dim=24, causal=True),
    # limited look-ahead of 2 samples per layer, odd width
    "dw_limited": dict(layers=6, channels=12, cycle=4, n_mels=9, embed_dim=16, lookahead=2),
}
FRAMES = 5
WITH_FULL = ("dw_sym",)  # the 50-step schedule in one file keeps the set under 1 MB


def refiner_golden(outdir):
    import numpy as np
    from refiner import Refiner, refine
    torch.manual_seed(4321)
    net = Refiner(layers=4, channels=8, cycle=2, n_mels=10, embed_dim=16).eval()
    with torch.no_grad():
        for p in net.parameters():  # the zero-initialised correction made non-trivial
            p.copy_(torch.randn_like(p) * (0.5 / max(1, p[0].numel()) ** 0.5 + 0.05))
    g = torch.Generator().manual_seed(77)
    N = FRAMES * 256
    mel = torch.randn(1, 10, FRAMES, generator=g)
    prior = torch.randn(1, N, generator=g) * 0.2
    eps = torch.randn(1, N, generator=g)
    out = refine(net, prior, mel, eps=eps)
    extra = {"golden.mel": mel[0].numpy(), "golden.prior": prior[0].numpy(), "golden.eps": eps[0].numpy(),
             "golden.steps": np.array(net.steps, np.float32), "golden.out": out[0].numpy()}
    path = os.path.join(outdir, "dw_refiner.safetensors")
    export_diffwave(net.dw, path, extra_meta={"golden": "train/golden_diffwave.py refiner_golden",
                                              "params": str(count_params(net.dw)),
                                              "torch": torch.__version__}, extra_tensors=extra)
    print("%s: %d bytes, out - prior rms %.3f" % (path, os.path.getsize(path),
                                                 float((out - prior).pow(2).mean().sqrt())))


def main(outdir, refiner_only=False):
    os.makedirs(outdir, exist_ok=True)
    refiner_golden(outdir)
    if refiner_only:
        return
    for i, (name, cfg) in enumerate(CONFIGS.items()):
        torch.manual_seed(1234 + i)
        m = DiffWave(**cfg).eval()
        with torch.no_grad():
            for p in m.parameters():  # random everything, at a scale that keeps gates alive
                p.copy_(torch.randn_like(p) * (0.5 / max(1, p[0].numel()) ** 0.5 + 0.05))
        g = torch.Generator().manual_seed(99 + i)
        n_mels, N = cfg["n_mels"], FRAMES * 256
        mel = torch.randn(1, n_mels, FRAMES, generator=g)
        x = torch.randn(1, N, generator=g) * 0.5
        t = torch.tensor([2.37])
        with torch.no_grad():
            eps = m(x, mel, t)
        S = len(m.hp["betas_infer"])
        noise_fast = torch.randn(S, 1, N, generator=g)
        audio_fast = sample(m, mel, fast=True, noise=noise_fast)
        extra = {"golden.mel": mel[0].numpy(), "golden.x": x[0].numpy(),
                 "golden.t": t.numpy(), "golden.eps": eps[0].numpy(),
                 "golden.noise_fast": noise_fast[:, 0].numpy(),
                 "golden.audio_fast": audio_fast[0].numpy()}
        if name in WITH_FULL:
            noise_full = torch.randn(50, 1, N, generator=g)
            audio_full = sample(m, mel, fast=False, noise=noise_full)
            extra["golden.noise_full"] = noise_full[:, 0].numpy()
            extra["golden.audio_full"] = audio_full[0].numpy()
        path = os.path.join(outdir, name + ".safetensors")
        export_diffwave(m, path, extra_meta={"golden": "train/golden_diffwave.py",
                                             "params": str(count_params(m)),
                                             "torch": torch.__version__}, extra_tensors=extra)
        print("%s: %d bytes, eps rms %.3f, audio_fast rms %.3f" % (
            path, os.path.getsize(path), float(eps.pow(2).mean().sqrt()),
            float(audio_fast.pow(2).mean().sqrt())))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(args[0] if args else "../tests/golden", "--refiner-only" in sys.argv)
