#!/usr/bin/python3
"""Self-test of the classical-suppressor input (train/cfeatures.py over build/libmenhance_features.so, and
models.Mel2MelNRT classical_input): the engine's frames line up with MelFrontEnd's, the feature does what the
classical suppressor does (deep cuts on steady noise once its window is full, none on digital silence or a held
tone), and a checkpoint widened to read it (train_mel2mel.widen_input) computes what it did before.  Needs
torch and the built library, so it runs under `make test-train`.  Prints "test_cfeatures: N passed, N failed"."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cfeatures import classical_feature, classical_features, engine_frames  # noqa: E402
from models import Mel2MelNRT, MelFrontEnd, decay_feature  # noqa: E402
from selftest import Checks  # noqa: E402
from train_mel2mel import LEAD, widen_input  # noqa: E402

check = Checks("test_cfeatures")
rng = np.random.default_rng(3)
sr, n = 16000, 16000 * 4
t = np.arange(n) / sr
x = (0.1 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
     + 0.01 * rng.standard_normal(n)).astype(np.float32)

# The engine's frame k is MelFrontEnd's frame k - 1 (engine/features.h): same log-mel to float rounding.
feat, lm = engine_frames(x, with_logmel=True)
ref = MelFrontEnd()(torch.from_numpy(x)[None])[0].numpy()
k = np.arange(4, len(lm) - 2)
d1 = float(np.abs(lm[k] - ref[k - 1]).max())
d0 = float(np.abs(lm[k] - ref[k]).max())
check(d1 < 1e-3 and d0 > 1.0, "engine frame k is MelFrontEnd frame k - 1 (max diff %.2g; unshifted %.2g)" % (d1, d0))

cf = classical_feature(x)
check(cf.shape == ref.shape, "one row per MelFrontEnd frame: %s vs %s" % (cf.shape, ref.shape))
check(np.array_equal(cf[:len(feat) - 1], feat[1:]), "classical_feature row t is the engine's frame t + 1")
check(float(cf.max()) <= 0.0 and np.isfinite(cf).all(), "a gain: finite, <= 0 (max %.3g)" % float(cf.max()))
check(np.array_equal(classical_features(np.stack([x, x]))[1], cf), "classical_features: row by row")

# Steady noise: once the 1.5 s window is full, the noise-only bands are cut deep (to the 30 dB bound in
# log2 power, -9.97); digital silence is not cut at all; a steady sine's band keeps (nearly) all of it.
noise = (0.01 * rng.standard_normal(n)).astype(np.float32)
cn = classical_feature(noise)
late = cn[int(2.5 * sr / 256):]
check(float(np.median(late)) < -3.0, "steady noise after 2.5 s: median cut %.2f log2 (want < -3)" %
      float(np.median(late)))
check(float(np.abs(cn[:3]).max()) == 0.0, "the first frames (nothing learnt yet): 0")
check(float(np.abs(classical_feature(np.zeros(n, np.float32))).max()) == 0.0, "digital silence: 0")
tone = (0.3 * np.sin(2 * np.pi * 1000 * t) + 0.001 * rng.standard_normal(n)).astype(np.float32)
ct = classical_feature(tone)
band = int(np.argmax(ref.mean(axis=0) * 0 + MelFrontEnd()(torch.from_numpy(tone)[None])[0].numpy().mean(axis=0)))
check(float(ct[int(2.5 * sr / 256):, band].mean()) > -0.5,
      "a held 1 kHz tone's band (%d) is left alone: %.2f log2" % (band, float(ct[int(2.5 * sr / 256):, band].mean())))
# The feature does not follow the level (a ratio), to the tracker's rounding
c20 = classical_feature(noise * 0.1)
check(float(np.abs(c20[200:] - cn[200:]).mean()) < 0.05, "level-independent: mean diff %.3g at -20 dB" %
      float(np.abs(c20[200:] - cn[200:]).mean()))
check(LEAD % 256 == 0 and LEAD >= 24000, "the cache's lead-in is whole hops and covers the tracker's window")

# A checkpoint widened to read the feature computes what it did before, whatever the feature says.
torch.manual_seed(0)
hp = dict(channels=16, dilations=(1, 2), lookahead=2, n_basis=6, local_ch=3)
old = Mel2MelNRT(**hp)
with torch.no_grad():
    for p in old.parameters():
        p.add_(0.05 * torch.randn_like(p))
opt = torch.optim.Adam(old.parameters(), lr=1e-3)
xin = torch.randn(2, 40, 128) - 6.0
old(xin).square().mean().backward()
opt.step()
state = {"model": {k: v.clone() for k, v in old.state_dict().items()},
         "ema": {k: v.clone() for k, v in old.state_dict().items()}, "opt": opt.state_dict()}
widen_input(state, dict(old.hparams()))
new = Mel2MelNRT(**dict(hp, classical_input=1))
new.load_state_dict(state["model"])
opt2 = torch.optim.Adam(new.parameters(), lr=1e-3)
try:
    opt2.load_state_dict(state["opt"])
    shapes_ok = all(st["exp_avg"].shape == p.shape for p, st in zip(new.parameters(), [opt2.state[q] for q in
                                                                                         new.parameters()]))
except (ValueError, KeyError) as e:
    shapes_ok = False
    print(e)
check(shapes_ok, "widened optimiser state fits the widened model")
cfin = -4.0 * torch.rand(2, 40, 128)
with torch.no_grad():
    dy = float((new(xin, cf=cfin) - old(xin)).abs().max())
check(dy == 0.0, "widened model == checkpoint whatever the feature (max diff %.2g)" % dy)
# ... and widened once more to read the decay cue (models.decay_feature), it still does.
state2 = {"model": {k: v.clone() for k, v in new.state_dict().items()},
          "ema": {k: v.clone() for k, v in new.state_dict().items()}, "opt": opt2.state_dict()}
widen_input(state2, dict(new.hparams()))
newd = Mel2MelNRT(**dict(hp, classical_input=1, decay_input=1))
newd.load_state_dict(state2["model"])
with torch.no_grad():
    dyd = float((newd(xin, cf=cfin) - old(xin)).abs().max())
check(dyd == 0.0 and newd.n_feat == 6 and newd.hparams()["decay_input"] == 1,
      "widened to the decay cue == checkpoint (max diff %.2g)" % dyd)

# The decay cue: a band's steepest recent fall, held and released by (1 - alpha) a frame; rises are no fall; the
# level does not move it.
xd = torch.zeros(1, 12, 3)
xd[0, 5:, 0] = -3.0             # band 0 falls by 3 at frame 5
xd[0, 5:, 1] = 2.0              # band 1 rises
xd[0, :, 2] = -0.5 * torch.arange(12.0)  # band 2 falls by 0.5 every frame (a room's decay)
dc = decay_feature(xd, 0.25)
want0 = [0.0] * 5 + [3.0 * 0.75 ** k for k in range(7)]
check(torch.allclose(dc[0, :, 0], torch.tensor(want0)) and float(dc[0, :, 1].abs().max()) == 0.0 and
      torch.allclose(dc[0, 1:, 2], torch.full((11,), 0.5)) and float(dc[0, 0, 2]) == 0.0,
      "decay cue: a fall held and released, a rise none, a steady decay its rate")
check(torch.equal(decay_feature(xd - 7.0, 0.25), dc), "decay cue: level-independent")

# A new line from an exported model file (train_mel2mel.py --init-export): the same weights in the model and its
# average, the file's step and hours, an empty optimiser state, and it widens like a checkpoint.
import tempfile  # noqa: E402
from export import export_mel2mel  # noqa: E402
from train_mel2mel import state_from_export  # noqa: E402
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "m.safetensors")
    export_mel2mel(old, path, extra_meta={"train_steps": "1234", "train_hours": "1.50"})
    st = state_from_export(path)
same = all(torch.equal(st["model"][k], v) and torch.equal(st["ema"][k], v) for k, v in old.state_dict().items())
check(same and st["step"] == 1234 and abs(st["elapsed"] - 5400.0) < 1e-6 and not st["opt"]["state"],
      "state from an export: weights, step, hours, empty optimiser state")
widen_input(st, st["hparams"])
new2 = Mel2MelNRT(**dict(hp, classical_input=1))
new2.load_state_dict(st["model"])
with torch.no_grad():
    dy2 = float((new2(xin, cf=cfin) - old(xin)).abs().max())
check(dy2 == 0.0, "an export widened == the export (max diff %.2g)" % dy2)

# Out-of-range feature values (> 0, NaN, below -1000: never made by the engine) read as 0 dB, as nn/mel2mel.c reads
# them, so a bad value cannot reach the output as NaN.
with torch.no_grad():
    for p in new2.parameters():
        p.add_(0.05 * torch.randn_like(p))
    bad = cfin.clone()
    bad[0, 3, 5], bad[1, 7, 9], bad[0, 11, 0] = float("nan"), 2.0, -5e3
    zeroed = bad.clone()
    zeroed[0, 3, 5] = zeroed[1, 7, 9] = zeroed[0, 11, 0] = 0.0
    yb, yz = new2(xin, cf=bad), new2(xin, cf=zeroed)
check(bool(torch.isfinite(yb).all()) and float((yb - yz).abs().max()) == 0.0,
      "out-of-range classical feature reads as 0 dB")

try:
    new(xin)
    check(False, "a classical-input model without cf is refused")
except ValueError:
    check(True, "")
check.finish()
