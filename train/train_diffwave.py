#!/usr/bin/python3
"""Trains the real-time DiffWave vocoder on clean mels of the training music (DESIGN sections
1, 2; issue 5).  Same code on Debian's torch 1.13 (CPU) and torch 2.x (GPU).

    OPENBLAS_CORETYPE=SkylakeX nice /usr/bin/python3 train/train_diffwave.py --hours 1.5
    /usr/bin/python3 train/train_diffwave.py --export models/diffwave_small.safetensors

Size: L=12, C=32, two dilation cycles of 6, causal taps (no look-ahead per step, so the
streaming latency does not grow with the number of steps), 6-step inference schedule
[1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5].  Loss: MSE on epsilon (the reference recipe).
Checkpoints (data/ckpt_dw/last.pt) resume across runs; the log says where and how long it ran.

Level: the plugin does not peak-normalise a stream, so each excerpt gets a random gain in
[-30, 0] dB after RMS normalisation; the mel carries the level and the vocoder must follow it.
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from data import DATA, AudioPool  # noqa: E402
from diffwave import DiffWave, export_diffwave, training_loss  # noqa: E402
from models import MelFrontEnd  # noqa: E402

HOP = 256
CKPT_DIR = os.path.join(DATA, "ckpt_dw")


def make_model(args):
    return DiffWave(layers=args.layers, channels=args.channels, cycle=args.cycle, causal=True)


def batch(rng, pool, front, n, b):
    """b excerpts of n samples (n multiple of HOP) and their mels (B, 128, n // HOP)."""
    xs = []
    for _ in range(b):
        x = pool.excerpt(rng, n)
        rms = float(np.sqrt(np.mean(x * x)) + 1e-6)
        if rms < 1e-4:  # near-silent excerpt: draw another next time, keep it quiet now
            rms = 1e-4
        gain_db = rng.uniform(-30.0, 0.0)
        x = x / rms * 0.1 * 10 ** (gain_db / 20.0)
        xs.append(np.clip(x, -1.0, 1.0))
    audio = torch.from_numpy(np.stack(xs).astype(np.float32))
    with torch.no_grad():
        mel = front(audio)[:, : n // HOP, :].transpose(1, 2).contiguous()
    return audio, mel


def train(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed + int(time.time()) % 100000)
    pool = AudioPool("music_train")
    front = MelFrontEnd()
    model = make_model(args)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    os.makedirs(CKPT_DIR, exist_ok=True)
    last = os.path.join(CKPT_DIR, "last.pt")
    step, seconds = 0, 0.0
    if os.path.exists(last):
        ck = torch.load(last, map_location="cpu")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, seconds = ck["step"], ck.get("seconds", 0.0)
        print("resumed at step %d (%.2f h trained)" % (step, seconds / 3600), flush=True)
    log = open(os.path.join(CKPT_DIR, "log.txt"), "a")
    log.write("# run on %s, torch %s, %d thread(s), L=%d C=%d cycle=%d causal, batch %d x %d\n" %
              (platform.node(), torch.__version__, args.threads, args.layers, args.channels,
               args.cycle, args.batch, args.samples))
    t_end = time.time() + args.hours * 3600
    t_save = time.time() + args.save_minutes * 60
    run_start = time.time()
    avg = None
    model.train()
    while time.time() < t_end:
        t0 = time.time()
        audio, mel = batch(rng, pool, front, args.samples, args.batch)
        loss = training_loss(model, audio, mel)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seconds += time.time() - t0
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 25 == 0:
            msg = "step %d loss %.4f avg %.4f %.2f s/step" % (step, loss.item(), avg,
                                                              time.time() - t0)
            print(msg, flush=True)
            log.write(msg + "\n")
            log.flush()
        if time.time() > t_save:
            save(model, opt, step, seconds, last)
            t_save = time.time() + args.save_minutes * 60
    save(model, opt, step, seconds, last)
    log.write("# run ended: %d steps total, %.2f h total training, this run %.2f h\n" %
              (step, seconds / 3600, (time.time() - run_start) / 3600))
    log.close()


def save(model, opt, step, seconds, path):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                "seconds": seconds, "hparams": model.hparams()}, tmp)
    os.replace(tmp, path)


def export(args):
    ck = torch.load(os.path.join(CKPT_DIR, "last.pt"), map_location="cpu")
    hp = ck["hparams"]
    model = DiffWave(**hp)
    model.load_state_dict(ck["model"])
    card = {"steps": ck["step"], "train_hours": round(ck["seconds"] / 3600, 3),
            "data": "music_train (Debian packages, shared/data/music_train.tsv), clean mels",
            "hardware": "CPU (%s), torch %s" % (platform.processor() or "x86-64",
                                                 torch.__version__)}
    export_diffwave(model, args.export, extra_meta={"training": json.dumps(card)})
    print("exported %s: %s" % (args.export, card))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--cycle", type=int, default=6)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--samples", type=int, default=8192)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--save-minutes", type=float, default=5.0)
    ap.add_argument("--export", metavar="PATH", help="export data/ckpt_dw/last.pt and exit")
    args = ap.parse_args()
    if args.export:
        export(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
