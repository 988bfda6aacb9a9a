#!/usr/bin/python3
"""Self-test of the Mel2Mel training loss (train/train_mel2mel.py diet_loss) on hand-made tensors; needs torch,
so it runs under `make test-train`, not `make test`.  Prints "test_train: N passed, N failed", exits nonzero on
failure."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_mel2mel import diet_loss  # noqa: E402
from selftest import Checks  # noqa: E402

check = Checks("test_train")


class Fixed(torch.nn.Module):
    """A 'network' that returns a given output (look-ahead 0)."""
    lookahead = 0

    def __init__(self, out):
        super().__init__()
        self.out = out

    def forward(self, x):
        return self.out


def loss_of(x, y, out, **kw):
    t = lambda v: torch.full((1, 4, 3), float(v))  # noqa: E731
    total, l1 = diet_loss(Fixed(t(out)), t(x), t(y), torch.tensor([False]), **kw)
    return float(total), float(l1)


# A lift that falls short of the target (EQ cut half undone) costs plain L1: no over-suppression charge.
total, l1 = loss_of(x=0.0, y=2.0, out=1.0)
check(abs(l1 - 1.0) < 1e-6 and abs(total - 1.0) < 1e-6, "short lift: total %.3f l1 %.3f, want 1, 1" % (total, l1))
# The same shortfall reached by cutting below the input is over-suppression: charged again.
total, l1 = loss_of(x=0.0, y=2.0, out=-1.0)
check(abs(total - (3.0 + 1.0)) < 1e-6, "cut below input and target: total %.3f, want 4" % total)
# A cut that goes too deep under a noisy input (target below input) is charged for the part below the target.
total, l1 = loss_of(x=3.0, y=1.0, out=0.5)
check(abs(total - 1.0) < 1e-6, "over-cut: total %.3f, want 0.5 + 0.5" % total)
# Under-cutting noise is plain L1.
total, l1 = loss_of(x=3.0, y=1.0, out=2.0)
check(abs(total - 1.0) < 1e-6, "under-cut: total %.3f, want 1" % total)
# The gain prior charges |output - input|.
total, l1 = loss_of(x=3.0, y=1.0, out=2.0, w_gain=0.1)
check(abs(total - 1.1) < 1e-6, "gain prior: total %.3f, want 1.1" % total)
# Harm: a change that leaves a band further from the target than the input was is charged again for the excess.
total, l1 = loss_of(x=1.0, y=1.0, out=2.0, w_harm=1.0)
check(abs(total - 2.0) < 1e-6, "lift of a clean band: total %.3f, want 1 + 1" % total)
total, l1 = loss_of(x=3.0, y=1.0, out=-1.5, w_harm=1.0)
check(abs(total - (2.5 + 2.5 + 0.5)) < 1e-6,
      "cut past the target by more than the noise: total %.3f, want 2.5 L1 + 2.5 over + 0.5 harm" % total)
# ... and a change that helps is not.
total, l1 = loss_of(x=3.0, y=1.0, out=1.5, w_harm=1.0)
check(abs(total - 0.5) < 1e-6, "helpful cut: total %.3f, want 0.5" % total)
# Identity on clean examples: a clean example's gain is charged w_id on top.
t = lambda v: torch.full((2, 4, 3), float(v))  # noqa: E731
total, _ = diet_loss(Fixed(t(1.0)), t(0.0), t(0.0), torch.tensor([True, False]))
check(abs(total - (1.0 + 1.0 * 0.5)) < 1e-6, "identity term: total %.3f, want 1.5" % total)

check.finish()
