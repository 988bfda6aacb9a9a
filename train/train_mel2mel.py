#!/usr/bin/python3
"""Train the streaming Mel2Mel (train/models.py: Mel2MelStream) on the CPU (or a GPU) within a wall-clock budget.

Two processes, so degradation never starves the training thread:
  train_mel2mel.py cache  -- degrades clean 16 kHz music (train/degrade.py, reference chain + phone extras) into
                             shards of (degraded, clean-target) MEL POWER pairs under data/cache/ (47360-sample
                             clips, 186 frames); keeps a ring of shards and refreshes the oldest over time.
  train_mel2mel.py train  -- loads whatever shards exist (re-scanning every few minutes), takes random crops and
                             a fresh random gain per example (gain is exact in the power domain: the log and the
                             floor are applied afterwards), L1 on log2-mel against the clean target shifted by the
                             model's look-ahead. Adam, cosine decay over the time budget, checkpoints in data/ckpt/
                             every few minutes (resumable), best-on-validation kept, log in data/ckpt/log.txt.
  train_mel2mel.py export -- best checkpoint -> models/mel2mel_stream.safetensors (train/export.py).

Always run with OPENBLAS_CORETYPE=SkylakeX (DESIGN section 2); one thread by default.
"""
import argparse
import glob
import json
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "data")
CLIP = 47360
FLOOR = 1e-5

# the model shipped with the plugin: small enough to train on one CPU thread in ~1.5 h
DEFAULT_MODEL = dict(channels=(16, 32, 32, 48), dilations=(1, 2, 4, 8, 1, 2, 4, 8), lookahead=2, kt=3, act="relu")


def log(msg, path=None):
    line = time.strftime("%Y-%m-%d %H:%M:%S ") + msg
    print(line, flush=True)
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


# ------------------------------------------------------------------ mel power (no log) with the reference front end
def mel_power_np(wav, fe):
    """wav (B, N) float32 -> (B, T, 128) mel power (float32), same STFT/filters as MelFrontEnd, no log/floor."""
    import torch
    with torch.no_grad():
        w = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))
        spec = torch.stft(w, fe.n_fft, hop_length=fe.hop, win_length=fe.n_fft, window=fe.window, center=True,
                          pad_mode="reflect", return_complex=True)
        p = spec.real ** 2 + spec.imag ** 2
        return torch.matmul(fe.fb, p).transpose(1, 2).numpy().astype(np.float32)


# ------------------------------------------------------------------ cache builder
def cmd_cache(a):
    import torch
    torch.set_num_threads(1)
    from data import AudioPool
    from degrade import make_training_pair
    from models import MelFrontEnd
    fe = MelFrontEnd()
    cdir = os.path.join(DATA, "cache")
    os.makedirs(cdir, exist_ok=True)
    logp = os.path.join(cdir, "log.txt")
    rng = np.random.default_rng(a.seed + int(time.time()) % 100000)
    shard = 0
    existing = sorted(glob.glob(os.path.join(cdir, "shard_*.npz")))
    if existing:
        shard = max(int(os.path.basename(p)[6:12]) for p in existing) + 1
    t_end = time.time() + a.hours * 3600
    music = speech = None
    while time.time() < t_end:
        # pools are re-opened per shard: conversion may still be adding files
        music = AudioPool("music_train", "16k")
        noise = AudioPool("noise", "16k")
        try:
            speech = AudioPool("speech", "16k")
        except RuntimeError:
            speech = None
        t0 = time.time()
        deg = np.zeros((a.shard_size, CLIP), np.float32)
        cln = np.zeros((a.shard_size, CLIP), np.float32)
        for i in range(a.shard_size):
            # gain 0 dB here: the trainer draws its own gain per use
            deg[i], cln[i] = make_training_pair(rng, music, noise, speech, CLIP, 16000, gain_db=(0.0, 0.0),
                                                p_babble=0.3 if speech is not None else 0.0,
                                                p_noise=a.p_noise, p_reverb=a.p_reverb, p_eq=a.p_eq,
                                                p_phone=a.p_phone, p_agc=a.p_agc, p_codec=a.p_codec)
        md = np.concatenate([mel_power_np(deg[i:i + 50], fe) for i in range(0, a.shard_size, 50)])
        mc = np.concatenate([mel_power_np(cln[i:i + 50], fe) for i in range(0, a.shard_size, 50)])
        tmp = os.path.join(cdir, "tmp_%06d.npz" % shard)
        np.savez(tmp, deg=md, clean=mc)
        os.replace(tmp, os.path.join(cdir, "shard_%06d.npz" % shard))
        shards = sorted(glob.glob(os.path.join(cdir, "shard_*.npz")))
        for old in shards[:-a.max_shards]:
            os.unlink(old)
        log("shard %d: %d pairs in %.1f s (music %d files %.1f h, speech %s)" % (
            shard, a.shard_size, time.time() - t0, len(music), music.hours(),
            "%d files" % len(speech) if speech else "none"), logp)
        shard += 1
        if len(shards) >= a.max_shards:
            time.sleep(a.pause)


# ------------------------------------------------------------------ validation pairs (fixed)
def val_pairs(n=48, seed=1234):
    """Fixed validation pairs from the validation music, full reference chain (+ phone extras like training),
    as mel power. Cached in data/cache/val.npz."""
    p = os.path.join(DATA, "cache", "val_%d_%d.npz" % (n, seed))
    if os.path.exists(p):
        z = np.load(p)
        return z["deg"], z["clean"]
    from data import AudioPool
    from degrade import make_training_pair
    from models import MelFrontEnd
    fe = MelFrontEnd()
    rng = np.random.default_rng(seed)
    music = AudioPool("music_val", "16k")
    noise = AudioPool("noise", "16k")
    deg = np.zeros((n, CLIP), np.float32)
    cln = np.zeros((n, CLIP), np.float32)
    for i in range(n):
        deg[i], cln[i] = make_training_pair(rng, music, noise, None, CLIP, 16000, gain_db=(-30.0, 0.0),
                                            p_babble=0.0, p_codec=0.0)
    md, mc = mel_power_np(deg, fe), mel_power_np(cln, fe)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    np.savez(p, deg=md, clean=mc)
    return md, mc


def to_log(p):
    return np.log2(np.maximum(p, FLOOR))


# ------------------------------------------------------------------ trainer
class ShardSet:
    def __init__(self):
        self.loaded = {}
        self.deg = self.clean = None

    def refresh(self):
        paths = sorted(glob.glob(os.path.join(DATA, "cache", "shard_*.npz")))
        changed = False
        for p in list(self.loaded):
            if p not in paths:
                del self.loaded[p]
                changed = True
        for p in paths:
            if p not in self.loaded:
                try:
                    z = np.load(p)
                    self.loaded[p] = (z["deg"], z["clean"])
                    changed = True
                except Exception:
                    pass  # being written
        if changed and self.loaded:
            self.deg = np.concatenate([v[0] for v in self.loaded.values()])
            self.clean = np.concatenate([v[1] for v in self.loaded.values()])
        return len(self.loaded)

    def batch(self, rng, B, T, gain_db=(-30.0, 0.0)):
        idx = rng.integers(0, self.deg.shape[0], B)
        nT = self.deg.shape[1]
        st = rng.integers(0, nT - T + 1, B)
        g = 10.0 ** (rng.uniform(gain_db[0], gain_db[1], B) / 10.0)  # power gain
        d = np.stack([self.deg[i, s:s + T] for i, s in zip(idx, st)]) * g[:, None, None].astype(np.float32)
        c = np.stack([self.clean[i, s:s + T] for i, s in zip(idx, st)]) * g[:, None, None].astype(np.float32)
        return to_log(d).astype(np.float32), to_log(c).astype(np.float32)


def build_net(hp):
    from models import Mel2MelStream
    return Mel2MelStream(**hp)


def evaluate(net, vd, vc, L):
    import torch
    from models import stream_loss
    net.eval()
    with torch.no_grad():
        x = torch.from_numpy(to_log(vd))
        y = torch.from_numpy(to_log(vc))
        out = net(x)
        l_net = float(stream_loss(out, y, L))
        l_in = float((x - y).abs().mean())
    net.train()
    return l_net, l_in


def cmd_train(a):
    import torch
    torch.set_num_threads(a.threads)
    from models import count_params, stream_loss
    cdir = os.path.join(DATA, "ckpt")
    os.makedirs(cdir, exist_ok=True)
    logp = os.path.join(cdir, "log.txt")
    last = os.path.join(cdir, "last.pt")
    best = os.path.join(cdir, "best.pt")
    shards = ShardSet()
    while shards.refresh() == 0:
        log("waiting for cache shards", logp)
        time.sleep(20)
    vd, vc = val_pairs()
    state = None
    if os.path.exists(last) and not a.fresh:
        state = torch.load(last, map_location="cpu")
        hp = state["hparams"]
        log("resuming from %s at step %d (%.2f h trained)" % (last, state["step"], state["elapsed"] / 3600), logp)
    else:
        hp = dict(DEFAULT_MODEL)
        if a.channels:
            hp["channels"] = tuple(int(c) for c in a.channels.split(","))
        if a.dilations:
            hp["dilations"] = tuple(int(c) for c in a.dilations.split(","))
        hp["lookahead"] = a.lookahead
        # input normalisation from the data (exported with the model)
        sample = to_log(shards.deg[:200] * 10.0 ** (np.random.default_rng(0).uniform(-3, 0, (min(200, shards.deg.shape[0]), 1, 1))))
        hp["norm_mean"] = float(np.round(sample.mean(), 3))
        hp["norm_scale"] = float(np.round(1.0 / sample.std(), 4))
    net = build_net(hp)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr, betas=(0.9, 0.999))
    step, elapsed, best_val = 0, 0.0, float("inf")
    if state is not None:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, elapsed, best_val = state["step"], state["elapsed"], state.get("best_val", float("inf"))
    total = elapsed + a.hours * 3600 if (state is None or a.extend) else state.get("total", a.hours * 3600)
    log("model %s params %d MMAC/frame %.2f rf %d; shards %d (%d pairs); budget %.2f h; threads %d" % (
        json.dumps(hp), count_params(net), net.macs_per_frame() / 1e6, net.receptive_field(), len(shards.loaded),
        shards.deg.shape[0], total / 3600, torch.get_num_threads()), logp)
    rng = np.random.default_rng(a.seed + step)
    L = hp["lookahead"]
    t_start = time.time() - elapsed
    t_ckpt = t_refresh = time.time()
    run_loss, run_n = 0.0, 0
    t_log = time.time()

    def save(path, val=None):
        torch.save(dict(model=net.state_dict(), opt=opt.state_dict(), hparams=hp, step=step,
                        elapsed=time.time() - t_start, total=total, best_val=best_val, val=val), path + ".tmp")
        os.replace(path + ".tmp", path)

    while True:
        el = time.time() - t_start
        if el >= total:
            break
        frac = el / total
        warm = min(1.0, (step + 1) / 100.0)
        lr = a.lr * warm * (a.lr_min / a.lr + (1 - a.lr_min / a.lr) * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        d, c = shards.batch(rng, a.batch, a.frames)
        x, y = torch.from_numpy(d), torch.from_numpy(c)
        out = net(x)
        loss = stream_loss(out, y, L)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        step += 1
        run_loss += float(loss)
        run_n += 1
        if step % a.log_every == 0:
            log("step %d loss %.4f lr %.2e %.2f s/step elapsed %.2f h" % (
                step, run_loss / run_n, lr, (time.time() - t_log) / run_n, (time.time() - t_start) / 3600), logp)
            run_loss, run_n = 0.0, 0
            t_log = time.time()
        now = time.time()
        if now - t_ckpt > a.ckpt_minutes * 60:
            v, vin = evaluate(net, vd, vc, L)
            if v < best_val:
                best_val = v
                save(best, v)
            save(last, v)
            log("step %d val L1 %.4f (input %.4f, ratio %.3f) best %.4f" % (step, v, vin, v / vin, best_val), logp)
            t_ckpt = now
        if now - t_refresh > 300:
            shards.refresh()
            t_refresh = now
    v, vin = evaluate(net, vd, vc, L)
    if v < best_val:
        best_val = v
        save(best, v)
    save(last, v)
    log("done: step %d val L1 %.4f (input %.4f) best %.4f" % (step, v, vin, best_val), logp)


def cmd_export(a):
    import torch
    from export import export_mel2mel
    st = torch.load(a.ckpt, map_location="cpu")
    net = build_net(st["hparams"])
    net.load_state_dict(st["model"])
    meta = {"trained_on": "menhance train/: Debian-packaged music (shared/data/music_train.tsv), degrade.py chain",
            "train_steps": str(st["step"]), "train_hours": "%.2f" % (st["elapsed"] / 3600),
            "val_logmel_l1": "%.4f" % (st.get("val") or float("nan"))}
    export_mel2mel(net, a.out, extra_meta=meta)
    log("exported %s (step %d) -> %s" % (a.ckpt, st["step"], a.out))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache")
    c.add_argument("--shard-size", type=int, default=400)
    c.add_argument("--max-shards", type=int, default=12)
    c.add_argument("--pause", type=float, default=90.0, help="seconds between shards once the ring is full")
    c.add_argument("--hours", type=float, default=3.0)
    c.add_argument("--seed", type=int, default=7)
    # each stage is present with its own probability, so the model also sees noise-only, EQ-only, ... inputs
    # (and must leave clean-ish input alone); the full chain is ~45 % of the examples
    c.add_argument("--p-noise", type=float, default=0.8)
    c.add_argument("--p-reverb", type=float, default=0.75)
    c.add_argument("--p-eq", type=float, default=0.75)
    c.add_argument("--p-phone", type=float, default=0.3)
    c.add_argument("--p-agc", type=float, default=0.15)
    c.add_argument("--p-codec", type=float, default=0.0)
    t = sub.add_parser("train")
    t.add_argument("--hours", type=float, default=1.5)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--frames", type=int, default=96)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--lr-min", type=float, default=5e-5)
    t.add_argument("--lookahead", type=int, default=2)
    t.add_argument("--channels", default="")
    t.add_argument("--dilations", default="")
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--log-every", type=int, default=20)
    t.add_argument("--ckpt-minutes", type=float, default=5.0)
    t.add_argument("--fresh", action="store_true")
    t.add_argument("--extend", action="store_true", help="on resume, add --hours to the budget")
    e = sub.add_parser("export")
    e.add_argument("--ckpt", default=os.path.join(DATA, "ckpt", "best.pt"))
    e.add_argument("--out", default=os.path.join(ROOT, "models", "mel2mel_stream.safetensors"))
    a = ap.parse_args()
    {"cache": cmd_cache, "train": cmd_train, "export": cmd_export}[a.cmd](a)


if __name__ == "__main__":
    main()
