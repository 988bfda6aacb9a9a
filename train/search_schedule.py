#!/usr/bin/python3
"""Chooses the vocoder's few-step inference schedule by measured quality (issue 5).

Vocodes clean mels of validation music (never training data) with each candidate schedule
and scores the result against the original: log-mel L1 (the reference front end) and a
multi-resolution STFT distance.  Prints a table; --write stores the best 4-step schedule in a
DiffWave file's metadata (betas_infer), the schedule the C engine runs.

    /usr/bin/python3 train/search_schedule.py models/diffwave_small.safetensors --write
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from data import AudioPool  # noqa: E402
from diffwave import load_diffwave, noise_schedule, sample  # noqa: E402
from export import load_file, save_file  # noqa: E402
from models import MelFrontEnd  # noqa: E402

CANDIDATES = {
    "fast6 (DiffWave)": [1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5],
    "4a": [1e-4, 1e-2, 0.2, 0.5],
    "4b": [1e-3, 0.05, 0.2, 0.5],
    "4c": [1e-4, 1e-3, 0.05, 0.5],
    "4d": [1e-3, 1e-2, 0.1, 0.5],
    "2": [0.05, 0.5],
}


def mrstft(a, b):
    d = 0.0
    for n in (512, 1024, 2048):
        w = torch.hann_window(n)
        A = torch.stft(torch.from_numpy(a), n, n // 4, window=w, return_complex=True).abs()
        B = torch.stft(torch.from_numpy(b), n, n // 4, window=w, return_complex=True).abs()
        sc = torch.linalg.norm(B - A) / (torch.linalg.norm(B) + 1e-9)
        lm = torch.mean(torch.abs(torch.log10(A + 1e-7) - torch.log10(B + 1e-7)))
        d += float(sc + lm)
    return d / 3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_diffwave(args.model).eval()
    front = MelFrontEnd()
    pool = AudioPool("music_val")
    rng = np.random.default_rng(1)
    n = int(args.seconds * 16000) // 256 * 256
    clips = []
    for _ in range(args.clips):
        x = pool.excerpt(rng, n)
        x = x / (np.sqrt(np.mean(x * x)) + 1e-6) * 0.1
        clips.append(np.clip(x, -1, 1).astype(np.float32))
    results = {}
    for name, betas in CANDIDATES.items():
        try:
            noise_schedule(model.hp["betas_train"], betas)
        except ValueError as e:
            print("%-18s skipped: %s" % (name, e))
            continue
        l1s, mrs = [], []
        for i, x in enumerate(clips):
            xt = torch.from_numpy(x)[None]
            mel = front(xt)[:, : n // 256].transpose(1, 2)
            g = torch.Generator().manual_seed(i)
            y = sample(model, mel, betas_infer=betas, generator=g)[0].numpy()
            l1s.append(float(torch.mean(torch.abs(front(torch.from_numpy(y)[None]) - front(xt)))))
            mrs.append(mrstft(y, x))
        results[name] = (float(np.mean(l1s)), float(np.mean(mrs)), betas)
        print("%-18s steps %d  logmel_l1 %.3f  mrstft %.3f" % (name, len(betas), *results[name][:2]),
              flush=True)
    four = {k: v for k, v in results.items() if len(v[2]) == 4}
    best = min(four, key=lambda k: four[k][0] + four[k][1])
    print("best 4-step schedule: %s %s" % (best, four[best][2]))
    if args.write:
        tensors, meta = load_file(args.model)
        hp = json.loads(meta["diffwave"])
        hp["betas_infer"] = list(map(float, four[best][2]))
        meta["diffwave"] = json.dumps(hp)
        meta["schedule_search"] = json.dumps({k: {"logmel_l1": v[0], "mrstft": v[1],
                                                  "betas": v[2]} for k, v in results.items()})
        save_file(tensors, args.model, meta)
        print("wrote betas_infer into", args.model)


if __name__ == "__main__":
    main()
