#!/usr/bin/python3
"""Self-test of the Noise / Room / Tone training loss (train/train_mel2mel.py nrt_loss, head_targets,
loss_weights) and of the degradation chain's parts (degrade.make_diet_pair parts=True, early_part) on hand-made
inputs; needs torch, so it runs under `make test-train`, not `make test`.  Prints "test_train: N passed, N failed",
exits nonzero on failure."""
import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import degrade as D  # noqa: E402
from train_mel2mel import CUT_LOG2, LOG_FLOOR, head_targets, loss_weights, nrt_loss, pool_for, room_level  # noqa: E402
from selftest import Checks  # noqa: E402

check = Checks("test_train")


class Fixed(torch.nn.Module):
    """A 'network' that returns given head gains (look-ahead 0, noise and room given as their raw z, which
    are also the gains here): output = input + the heads' sum."""
    lookahead = 0

    def __init__(self, gn, gr, gt):
        super().__init__()
        self.g = (gn, gr, gt)

    def forward(self, x, return_heads=False, return_raw=False, cf=None):
        out = x + sum(self.g)
        if return_raw:
            return out, self.g, self.g[:2]
        return (out, self.g) if return_heads else out


def full(v, shape=(1, 4, 3)):
    return torch.full(shape, float(v))


def batch(x, y, dry, early, tone):
    return {"deg": full(x), "clean": full(y), "dry": full(dry), "early": full(early), "tone": full(tone, (1, 3))}


def losses(b, gn, gr, gt, **kw):
    total, main, heads = nrt_loss(Fixed(full(gn), full(gr), full(gt)), b, tone_skip=0, **kw)
    return float(total), float(main), [float(h) for h in heads]


# Targets: noise = dry - degraded, room = early - dry, both clamped to [-30 dB, 0].
nt, rt = head_targets(full(-2.0), full(-5.0), full(-6.0))
check(abs(float(nt.mean()) + 3.0) < 1e-6 and abs(float(rt.mean()) + 1.0) < 1e-6,
      "targets: noise %.3f room %.3f, want -3, -1" % (float(nt.mean()), float(rt.mean())))
nt, rt = head_targets(full(0.0), full(1.0), full(-40.0))
check(float(nt.max()) == 0.0 and abs(float(rt.min()) + CUT_LOG2) < 1e-6, "targets clamp a lift to 0 and a cut to -30 dB")

# The Room target is taken on powers averaged over ROOM_SMOOTH: an early/dry ratio that alternates +-1 log2
# unit bin to bin (the tail's interference) averages to the ratio of the mean powers, not to 0 after clamping.
alt = torch.tensor([1.0, -1.0] * 8).repeat(1, 16, 8)  # (1, 16, 128): alternates along the mel axis
nt, rt = head_targets(alt * 0, alt * 0, alt)
check(abs(float(rt[:, 4:-4, 4:-4].mean()) - 0.0) < 0.05 and float(rt.max()) <= 0.0,
      "room target smoothed: +-1 swing about 0 gives ~0 cut (got %.3f)" % float(rt[:, 4:-4, 4:-4].mean()))
nt, rt = head_targets(alt * 0, alt * 0, alt - 2.0)
want = math.log2((2.0 ** -1 + 2.0 ** -3) / 2.0)
check(abs(float(rt[:, 4:-4, 4:-4].mean()) - want) < 0.1,
      "room target smoothed: mean power ratio %.3f, want %.3f" % (float(rt[:, 4:-4, 4:-4].mean()), want))
nt, rt = head_targets(alt * 0, alt * 0, alt - 2.0, room_smooth=None)
check(abs(float(rt.mean()) + 2.0) < 1e-6, "room target unsmoothed: per-bin ratio")

# Perfect heads: every term 0.
b = batch(x=-2.0, y=-7.0, dry=-5.0, early=-6.0, tone=-1.0)
total, main, heads = losses(b, -3.0, -1.0, -1.0)
check(total < 1e-6 and main < 1e-6, "perfect heads: total %.3g main %.3g" % (total, main))
# A noise cut short of its target costs plain L1 (1 per unit) on the head and on the output.
total, main, heads = losses(b, -2.0, -1.0, -1.0)
check(abs(heads[0] - 1.0) < 1e-6 and abs(main - 1.0) < 1e-6, "short noise cut: head %.3f main %.3f" % (heads[0], main))
# A noise cut deeper than its target by the same amount costs `deep` (1.75) on the head.
total, main, heads = losses(b, -4.0, -1.0, -1.0)
check(abs(heads[0] - 1.75) < 1e-6, "deep noise cut: head %.3f, want 1.75" % heads[0])
check(abs(total - (1.0 + 1.75)) < 1e-6, "total = main + heads: %.3f" % total)
# The Room head's deeper-than-target weight is its own (deep_room).
total, main, heads = losses(b, -3.0, -2.0, -1.0, deep_room=1.25)
check(abs(heads[1] - 1.25) < 1e-6, "deep room cut: head %.3f, want 1.25" % heads[1])
# The tone head is symmetric.
total, main, heads = losses(b, -3.0, -1.0, -2.0)
check(abs(heads[2] - 1.0) < 1e-6, "tone too low: %.3f" % heads[2])
# The tone hold: the Tone head's |gain| on examples whose tone target is 0 everywhere, weighted tone_hold on
# top of everything else; examples with a colouration are not held.
b0 = batch(x=-2.0, y=-7.0, dry=-5.0, early=-6.0, tone=0.0)
t0, _, _ = losses(b0, -3.0, -1.0, 0.5)
t1, _, _ = losses(b0, -3.0, -1.0, 0.5, tone_hold=2.0)
check(abs((t1 - t0) - 2.0 * 0.5) < 1e-6, "tone hold on a plain example: +%.3f, want 1.0" % (t1 - t0))
t0, _, _ = losses(b, -3.0, -1.0, 0.5)
t1, _, _ = losses(b, -3.0, -1.0, 0.5, tone_hold=2.0)
check(abs(t1 - t0) < 1e-6, "tone hold leaves a coloured example alone: %+.3f" % (t1 - t0))
# Weights: heads alone first, then main + annealed heads.
a = argparse.Namespace(warm_steps=100, anneal_steps=1000, head_final=0.3)
check(loss_weights(0, a) == (0.0, 1.0) and np.allclose(loss_weights(1100, a), (1.0, 0.3))
      and abs(loss_weights(600, a)[1] - 0.65) < 1e-9, "loss_weights schedule")
total, main, heads = losses(b, -2.0, -1.0, -1.0, w_main=0.0, w_head=0.5)
check(abs(total - 0.5) < 1e-6, "w_main 0, w_head 0.5: total %.3f" % total)
# A noise head that asks for a lift (z > 0) cuts nothing, and its loss still pulls it toward the target.
from models import one_sided_cut  # noqa: E402
z = torch.tensor([2.0, 0.0, -1.0, -100.0], requires_grad=True)
g = one_sided_cut(z, CUT_LOG2)
check(float(g[0]) == 0.0 and float(g[1]) == 0.0 and abs(float(g[2]) + 1.0) < 0.01 and abs(float(g[3]) + CUT_LOG2) < 0.01,
      "one_sided_cut: 0 for z >= 0, about z just below, -30 dB at most")
total, main, heads = losses(b, 1.0, -1.0, -1.0)
check(abs(heads[0] - 4.0) < 1e-6, "raw z above 0 still costs its distance to the target: %.3f" % heads[0])
# Bins where input and clean both sit at the log floor count in neither term.
bf = batch(x=LOG_FLOOR, y=LOG_FLOOR, dry=LOG_FLOOR, early=LOG_FLOOR, tone=0.0)
total, main, heads = losses(bf, -5.0, -5.0, 0.0)
check(main == 0.0 and heads[0] == 0.0 and heads[1] == 0.0, "floor bins left out: main %.3f noise %.3f" % (
    main, heads[0]))

# early_part: the direct sound and 50 ms after it, faded, zero after.
fs = 16000
h = np.zeros(4000)
h[40] = 1.0
h[41:] = 0.1 * np.exp(-np.arange(3959) / 800.0)
e = D.early_part(h, fs)
end = 40 + int(0.05 * fs)
check(e[40] == 1.0 and np.all(e[end:] == 0.0) and np.allclose(e[41:end - 80], h[41:end - 80]),
      "early_part keeps 50 ms after the peak")


class Pool:
    rate = 16000

    def excerpt(self, rng, n, index=None):
        t = np.arange(n) / 16000
        return (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32)


class NoisePool:
    def excerpt(self, rng, n, index=None):
        return rng.standard_normal(n).astype(np.float32)


for cond in ("clean", "noise", "reverb", "eq", "full", "phone"):
    rng = np.random.default_rng(3)
    y, c, name, dry, early, col = D.make_diet_pair(rng, Pool(), NoisePool(), None, 16000, condition=cond,
                                                   parts=True)
    rng = np.random.default_rng(3)
    y2, c2, _ = D.make_diet_pair(rng, Pool(), NoisePool(), None, 16000, condition=cond)
    same = np.array_equal(y, y2) and np.array_equal(c, c2)
    ok = {"clean": np.array_equal(dry, y) and np.array_equal(early, c),
          "noise": not np.allclose(dry, y) and np.allclose(dry, early),
          "reverb": np.allclose(dry, y) and not np.allclose(early, dry) and np.allclose(col, c),
          "eq": np.allclose(dry, y) and np.allclose(early, dry) and np.allclose(col, y)}.get(
              cond, not np.allclose(dry, y))
    check(same and ok, "%s: parts consistent (same pair with and without parts %s)" % (cond, same))
# The late-only render: the same pair (the random stream is not touched), dry = early + late where there is a
# room (every stage after it is linear or one gain), no late part without one.
for cond in ("clean", "noise", "reverb", "eq", "full", "phone"):
    rng = np.random.default_rng(4)
    a = D.make_diet_pair(rng, Pool(), NoisePool(), None, 16000, condition=cond, parts=True)
    rng = np.random.default_rng(4)
    b7 = D.make_diet_pair(rng, Pool(), NoisePool(), None, 16000, condition=cond, parts=True, late=True)
    same = len(b7) == 7 and all(np.array_equal(u, v) for u, v in zip(a, b7) if isinstance(u, np.ndarray))
    lt = b7[6]
    if cond in ("reverb", "full", "phone"):
        err = float(np.max(np.abs(b7[4] + lt - b7[3])))
        ok = err < 1e-4 and float(np.abs(lt).max()) > 1e-3
    else:
        err, ok = float(np.abs(lt).max()), float(np.abs(lt).max()) == 0.0
    check(same and ok, "%s: late part (same pair %s, |early + late - dry| or |late| %.2g)" % (cond, same, err))
# With the late render, the Room target is the early share of early + late on the averaged powers: equal
# powers give -1 (half), a late part at the floor gives 0.
nt, rt = head_targets(full(-2.0), full(-3.0), full(-4.0), late=full(-4.0))
check(abs(float(rt.mean()) + 1.0) < 1e-3, "room target with late: equal early and late -> %.4f, want -1" %
      float(rt.mean()))
nt, rt = head_targets(full(-2.0), full(-3.0), full(-4.0), late=full(LOG_FLOOR))
check(float(rt.abs().max()) == 0.0, "room target with late at the floor -> %.4f, want 0" % float(rt.mean()))
nt, rt = head_targets(full(LOG_FLOOR), full(LOG_FLOOR), full(LOG_FLOOR), late=full(LOG_FLOOR))
check(float(rt.abs().max()) == 0.0, "room target, everything at the floor (a quiet bin, no room) -> %.4f, want 0"
      % float(rt.mean()))
nt, rt = head_targets(alt * 0, alt * 0, alt, late=alt)
check(abs(float(rt[:, 4:-4, 4:-4].mean()) + 1.0) < 1e-4,
      "room target with late: interference-free even where early swings (%.4f)" % float(rt[:, 4:-4, 4:-4].mean()))

# The room's level (room_level): early reflections 1 log2 unit above the music give a -1 cut in every frame of the
# Room target; the colouration is taken back out (early = clean - tone + 1 still gives -1); no room (dry equals
# early) gives 0 whatever early holds; early quieter than the music is no cut; bands at the floor do not vote.
g = torch.Generator().manual_seed(3)
music = -4.0 + torch.randn((2, 40, 16), generator=g)
tone = torch.zeros((2, 16))
lv = room_level(music, music + 1.5, music + 1.0, tone)
check(bool(torch.allclose(lv, torch.tensor([-1.0, -1.0]), atol=1e-4)), "room level: early +1 -> %s, want -1" % lv)
tone = torch.linspace(-2.0, 2.0, 16).repeat(2, 1)
lv = room_level(music, music + 1.5, music - tone[:, None, :] + 1.0, tone)
check(bool(torch.allclose(lv, torch.tensor([-1.0, -1.0]), atol=1e-4)),
      "room level: the colouration is not the room's (%s, want -1)" % lv)
lv = room_level(music, music + 1.0, music + 1.0, torch.zeros((2, 16)))
check(float(lv.abs().max()) == 0.0, "room level: no room (dry equals early) -> %s, want 0" % lv)
lv = room_level(music, music + 1.0, music - 1.0, torch.zeros((2, 16)))
check(float(lv.abs().max()) == 0.0, "room level: early below the music is no cut (%s)" % lv)
quiet = music.clone()
quiet[:, :, 10:] = LOG_FLOOR
early = music + 0.5
early[:, :, 10:] = 5.0  # would vote for a deep cut if floor bands counted
lv = room_level(quiet, early + 0.5, early, torch.zeros((2, 16)))
check(bool(torch.allclose(lv, torch.tensor([-0.5, -0.5]), atol=1e-4)), "room level: floor bands do not vote (%s)" % lv)
nt, rt = head_targets(full(-2.0), full(-5.0), full(-6.0), level=torch.tensor([-0.5]))
check(abs(float(rt.mean()) + 1.5) < 1e-6, "room target with the level: -1 - 0.5 -> %.3f" % float(rt.mean()))
nt, rt = head_targets(full(-2.0), full(-5.0), full(-6.0), level=torch.tensor([-CUT_LOG2]))
check(abs(float(rt.min()) + CUT_LOG2) < 1e-6, "room target with the level: clamped at -30 dB")

b = batch(-2.0, -7.0, -5.0, -6.0, 0.0)  # early 1 above the music, dry 1 above early: room target -1 - 1
_, _, h = losses(b, -3.0, -2.0, 0.0, room_lvl=True)
_, _, h0 = losses(b, -3.0, -2.0, 0.0)
check(h[1] < 1e-6 and abs(h0[1] - 1.75) < 1e-6, "loss: the Room head's term with the level %.3f (want 0), without "
      "%.3f (want 1.75: a cut 1 deeper than -1)" % (h[1], h0[1]))

# The drier music mix (cache --room-midi-share) serves clean music and every condition with a room, nothing else.
picks = {c: pool_for(c, "music", "room") for c in D.DIET_NAMES}
check(picks == {c: ("room" if c in ("clean", "reverb", "two", "full", "phone") else "music") for c in D.DIET_NAMES}
      and pool_for("reverb", "music", None) == "music", "room mix: %s" % picks)

# A noise-only pair: the dry version is the chain without the noise, so the degraded minus dry is the noise.
rng = np.random.default_rng(5)
y, c, _, dry, early, col = D.make_diet_pair(rng, Pool(), NoisePool(), None, 16000, condition="noise", parts=True)
check(np.allclose(dry, c, atol=1e-6), "noise-only: dry == clean target")
check(math.isfinite(float(np.sum(y))), "finite")

check.finish()
