#!/usr/bin/python3
"""Merges model files into one menhance model: a streaming Mel2Mel plus a DiffWave vocoder.

    /usr/bin/python3 train/combine.py models/menhance.safetensors \\
        models/mel2mel_nrt.safetensors models/diffwave_small.safetensors

Tensor names are already prefixed by network ("mel2mel.", "diffwave."), so they cannot clash;
metadata entries are merged, and a key two inputs disagree on is an error."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import load_file, save_file  # noqa: E402


def combine(out, inputs):
    tensors, meta = {}, {}
    for path in inputs:
        t, m = load_file(path)
        for k in t:
            if k in tensors:
                raise SystemExit("%s: tensor %s appears twice" % (path, k))
        tensors.update(t)
        for k, v in (m or {}).items():
            if k in meta and meta[k] != v and k not in ("training", "format"):
                raise SystemExit("%s: metadata %s differs from an earlier input" % (path, k))
            meta.setdefault(k, v)
    save_file(tensors, out, meta)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    combine(sys.argv[1], sys.argv[2:])
