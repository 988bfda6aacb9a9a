#!/usr/bin/python3
"""Writes tests/golden/engine_voc.safetensors: a tiny 128-mel noise/room/tone Mel2Mel (the
shipped architecture, random weights, look-ahead 2) plus a tiny causal DiffWave, so the engine's model and vocoder paths
are tested in CI without trained weights or PyTorch.  Deterministic (fixed seeds)."""
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "train"))
from diffwave import DiffWave, diffwave_tensors  # noqa: E402
from export import mel2mel_tensors, save_file  # noqa: E402
from models import FRONTEND, Mel2MelNRT  # noqa: E402
import json  # noqa: E402

torch.manual_seed(5)
m2m = Mel2MelNRT(channels=8, dilations=(1, 2), lookahead=2, norm_mean=-6.0, norm_scale=0.25,
                 n_basis=4, local_ch=2)
dw = DiffWave(layers=3, channels=8, cycle=3, causal=True, embed_dim=16)
with torch.no_grad():
    for p in list(m2m.parameters()) + list(dw.parameters()):
        p.copy_(0.1 * torch.randn_like(p))
tensors = mel2mel_tensors(m2m)
tensors.update(diffwave_tensors(dw))
meta = {"mel2mel": json.dumps(m2m.hparams()), "diffwave": json.dumps(dw.hparams()),
        "frontend": json.dumps(FRONTEND), "format": "menhance-1",
        "golden": "scripts/make_engine_model.py (random weights)"}
out = os.path.join(ROOT, "tests", "golden", "engine_voc.safetensors")
save_file(tensors, out, meta)
print("wrote", out)
