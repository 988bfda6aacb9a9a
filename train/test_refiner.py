#!/usr/bin/python3
"""Self-test of the mode-2 refiner (train/refiner.py): the untrained refiner returns mode 1's waveform
exactly whatever the start noise; the sampler's steps and the training term use the same start; a few
optimiser steps on a toy task (mode 1 = the clean signal at half its level, plus a tone it lacks) lower
the loss.  Prints "test_refiner: N passed, N failed"."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refiner import REFINE_STEPS, Refiner, mr_stft, refine, refiner_loss, start_noise_db  # noqa: E402
from selftest import Checks  # noqa: E402

check = Checks("test_refiner")
torch.manual_seed(0)
torch.set_num_threads(1)
B, N, M = 2, 256 * 16, 8
net = Refiner(layers=4, channels=8, cycle=2, n_mels=M, embed_dim=16)
m = 0.1 * torch.randn(B, N)
mel = torch.randn(B, M, N // 256)
# untrained: exactly mode 1 (the output projection starts at zero)
y = refine(net, m, mel, eps=torch.randn(B, N))
check(torch.equal(y, m) or (y - m).abs().max().item() < 1e-6,
      "untrained refiner returns mode 1 (max diff %.3g)" % (y - m).abs().max().item())
y2 = refine(net, m, mel)
check((y2 - m).abs().max().item() < 1e-6, "untrained: any start noise")
check(-19.0 < start_noise_db() < -17.0, "start noise %.1f dBFS" % start_noise_db())
check(list(REFINE_STEPS) == sorted(REFINE_STEPS, reverse=True), "refine steps decrease")
try:
    Refiner(steps=(2, 5))
    check(False, "increasing steps accepted")
except ValueError:
    check(True, "increasing steps refused")

# A toy correction: clean = 2 * m + a 1 kHz tone that m lacks
t = torch.arange(N, dtype=torch.float32) / 16000.0
clean = 2.0 * m + 0.05 * torch.sin(2 * torch.pi * 1000.0 * t)
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
g = torch.Generator().manual_seed(1)
first = None
for step in range(150):
    loss, l1, st = refiner_loss(net, m, clean, mel, generator=g)
    opt.zero_grad()
    loss.backward()
    opt.step()
    first = loss.item() if first is None else first
last = sum(refiner_loss(net, m, clean, mel, generator=g)[0].item() for _ in range(4)) / 4
check(last < 0.8 * first, "150 steps lower the loss: %.3f -> %.3f" % (first, last))
y3 = refine(net, m, mel)
check(torch.isfinite(y3).all().item() and (y3 - m).abs().max().item() > 1e-4,
      "trained refiner corrects mode 1")
with torch.no_grad():
    err_before = ((m - clean).abs().mean() + mr_stft(m, clean)).item()
    err_after = ((y3 - clean).abs().mean() + mr_stft(y3, clean)).item()
check(err_after < 0.9 * err_before,
      "the sampler's output moves toward the clean (L1 + MR-STFT): %.3f -> %.3f" % (err_before, err_after))
# The trainer's sub-crops keep each mel frame with the samples it describes (offsets are whole hops).
import numpy as np  # noqa: E402
from train_refiner import sub_crop  # noqa: E402
N = 16384
data = {"m": np.tile(np.arange(N, dtype=np.float16) % 2048, (3, 1)), "clean": np.zeros((3, N), np.float16),
        "mel": np.tile(np.arange(N // 256, dtype=np.float16)[None, None, :], (3, 128, 1))}
b = sub_crop(data, np.array([0, 1, 2, 1]), 4096, np.random.default_rng(2))
shapes = b["m"].shape == (4, 4096) and b["mel"].shape == (4, 128, 16) and b["clean"].shape == (4, 4096)
start_frames = b["mel"][:, 0, 0]
aligned = all(int(b["m"][i, 0]) == (int(f) * 256) % 2048 and int(b["mel"][i, 0, -1]) == int(f) + 15
              for i, f in enumerate(start_frames))
check(shapes and aligned and b["m"].dtype == np.float32, "sub_crop: shapes, float32, mel frames aligned to samples")
whole = sub_crop(data, np.array([2]), 0, np.random.default_rng(2))
check(whole["m"].shape == (1, N), "sub_crop 0: the whole pairs")
# The trainer's weight average: decay d keeps d of the average, takes 1 - d of the weights; the average of
# an untrained refiner is still mode 1 exactly.
import copy  # noqa: E402
from ema import ema_update  # noqa: E402
fresh = Refiner(layers=4, channels=8, cycle=2, n_mels=M, embed_dim=16)
avg = copy.deepcopy(fresh)
ema_update(avg, fresh, 0.9)
m2 = 0.1 * torch.randn(B, 256 * 16)
mel2 = torch.randn(B, M, 16)
check((refine(avg, m2, mel2) - m2).abs().max().item() < 1e-6, "weight average of an untrained refiner: mode 1")
with torch.no_grad():
    for p in fresh.parameters():
        p.add_(1.0)
before = [q.detach().clone() for q in avg.parameters()]
ema_update(avg, fresh, 0.75)
moved = all(torch.allclose(q, b + 0.25, atol=1e-5) for q, b in zip(avg.parameters(), before))
check(moved, "ema_update(decay 0.75) moves the average a quarter of the way to the weights")
check.finish()
