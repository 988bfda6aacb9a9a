#!/usr/bin/python3
"""Train the Mel2Mel (train/models.py: Mel2MelGain by default) on the CPU (or a GPU), resumable across sessions.

Two processes, so degradation never starves the training thread:
  train_mel2mel.py cache  -- renders training examples of the diet (train/degrade.py: make_diet_pair; clean music
                             from the packaged music list and the MIDI renders of train/render_midi.py) into shards
                             of (degraded, clean-target) LOG2-MEL pairs in float16 under data/cache2/ (CLIP samples,
                             FRAMES frames, with the condition of each example); keeps a ring of shards and
                             refreshes the oldest over time.
  train_mel2mel.py train  -- loads whatever shards exist (re-scanning every few minutes), takes random crops and a
                             random level per example (-40..0 dB; exact on floored log2-mels for cuts, see
                             ShardSet.batch). Loss (diet_loss): L1 on log2-mel against the clean target shifted by
                             the look-ahead, plus the same error again where the output is below the target
                             (over-suppression costs double), plus the gains' magnitude on clean examples (identity)
                             and, weighted by --gain-penalty, on every example (a prior toward doing nothing).
                             Adam; constant LR after warm-up until the last 20 % of the planned steps, then cosine;
                             a Polyak average (EMA) of the weights is what gets monitored and exported.
                             The checkpoint (weights, optimiser state, step count, hours) is written to
                             models/ckpt/ every few minutes so the next session resumes; log next to it.
  train_mel2mel.py export -- checkpoint -> models/mel2mel_gain.safetensors (train/export.py).

Set OPENBLAS_CORETYPE only to a kernel the CPU supports (mk/train.mk picks it); one thread by default (measured
faster than two on the 2-vCPU machines: the second core serves the cache builder).
"""
import argparse
import glob
import json
import math
import os
import sys
import signal
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "data")
CACHE = os.path.join(DATA, "cache2")
CKPT_DIR = os.path.join(ROOT, "models", "ckpt")
CLIP = 256 * 220  # 3.52 s at 16 kHz -> FRAMES frames
FRAMES = 1 + CLIP // 256
FLOOR = 1e-5
LOG_FLOOR = math.log2(FLOOR)

# the model shipped with the plugin: ~0.46 M parameters, 0.46 MMAC/frame
DEFAULT_MODEL = dict(arch="gain", channels=128, dilations=(1, 2, 4, 8, 16, 32), lookahead=2, kt=3)


def log(msg, path=None):
    line = time.strftime("%Y-%m-%d %H:%M:%S ") + msg
    print(line, flush=True)
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def log_mel_np(wav, fe):
    """wav (B, N) float32 -> (B, T, 128) log2-mel (float32), exactly MelFrontEnd."""
    import torch
    with torch.no_grad():
        return fe(torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))).numpy()


def music_pool():
    """Packaged training music, plus the MIDI renders when they exist (35 % of the draws)."""
    from data import AudioPool, MixPool
    music = AudioPool("music_train", "16k")
    try:
        midi = AudioPool("music_midi", "16k")
    except (RuntimeError, FileNotFoundError):
        return music
    return MixPool([music, midi], [0.65, 0.35])


def noise_pools(split):
    """(noise, speech-or-None) for 'train' (noise packages not held out) or 'val' (held-out packages)."""
    from data import AudioPool
    from degrade import VAL_NOISE_PACKAGES
    if split == "train":
        noise = AudioPool("noise", "16k", exclude_packages=VAL_NOISE_PACKAGES)
        try:
            speech = AudioPool("speech", "16k")
        except (RuntimeError, FileNotFoundError):
            speech = None
    else:
        noise = AudioPool("noise", "16k", packages=VAL_NOISE_PACKAGES)
        speech = None
    return noise, speech


def render_pairs(rng, n, music, noise, speech, fe, conditions=None):
    from degrade import DIET_NAMES, make_diet_pair
    deg = np.zeros((n, CLIP), np.float32)
    cln = np.zeros((n, CLIP), np.float32)
    cond = np.zeros(n, np.uint8)
    for i in range(n):
        c = None if conditions is None else conditions[i % len(conditions)]
        deg[i], cln[i], name = make_diet_pair(rng, music, noise, speech, CLIP, 16000, condition=c)
        cond[i] = DIET_NAMES.index(name)
    md = np.concatenate([log_mel_np(deg[i:i + 50], fe) for i in range(0, n, 50)])
    mc = np.concatenate([log_mel_np(cln[i:i + 50], fe) for i in range(0, n, 50)])
    return md.astype(np.float16), mc.astype(np.float16), cond


# ------------------------------------------------------------------ cache builder
def cmd_cache(a):
    import torch
    torch.set_num_threads(1)
    from models import MelFrontEnd
    fe = MelFrontEnd()
    os.makedirs(CACHE, exist_ok=True)
    logp = os.path.join(CACHE, "log.txt")
    rng = np.random.default_rng(a.seed + int(time.time()) % 100000)
    existing = sorted(glob.glob(os.path.join(CACHE, "shard_*.npz")))
    shard = max(int(os.path.basename(p)[6:12]) for p in existing) + 1 if existing else 0
    t_end = time.time() + a.hours * 3600
    while time.time() < t_end:
        music = music_pool()  # re-opened per shard: conversion/rendering may still be adding files
        noise, speech = noise_pools("train")
        t0 = time.time()
        md, mc, cond = render_pairs(rng, a.shard_size, music, noise, speech, fe)
        tmp = os.path.join(CACHE, "tmp_%06d.npz" % shard)
        np.savez(tmp, deg=md, clean=mc, cond=cond)
        os.replace(tmp, os.path.join(CACHE, "shard_%06d.npz" % shard))
        shards = sorted(glob.glob(os.path.join(CACHE, "shard_*.npz")))
        for old in shards[:-a.max_shards]:
            os.unlink(old)
        log("shard %d: %d pairs in %.1f s (music %.1f h, noise %d files, speech %s)" % (
            shard, a.shard_size, time.time() - t0, music.hours(), len(noise),
            "%d files" % len(speech) if speech else "none"), logp)
        shard += 1
        if len(shards) >= a.max_shards:
            time.sleep(a.pause)


# ------------------------------------------------------------------ monitoring pairs (fixed)
def val_pairs(per_cond=12, seed=1234):
    """Fixed monitoring pairs: validation music, held-out noise packages, every diet condition per_cond times.
    Only watched during training (the shipped checkpoint is the last one, never picked on these)."""
    from degrade import DIET_NAMES
    p = os.path.join(CACHE, "val_%d_%d.npz" % (per_cond, seed))
    if os.path.exists(p):
        z = np.load(p)
        return z["deg"].astype(np.float32), z["clean"].astype(np.float32), z["cond"]
    from data import AudioPool
    from models import MelFrontEnd
    rng = np.random.default_rng(seed)
    music = AudioPool("music_val", "16k")
    noise, _ = noise_pools("val")
    conds = [c for c in DIET_NAMES for _ in range(per_cond)]
    md, mc, cond = render_pairs(rng, len(conds), music, noise, None, MelFrontEnd(), conditions=conds)
    os.makedirs(CACHE, exist_ok=True)
    np.savez(p, deg=md, clean=mc, cond=cond)
    return md.astype(np.float32), mc.astype(np.float32), cond


# ------------------------------------------------------------------ trainer
class ShardSet:
    def __init__(self):
        self.loaded = {}
        self.deg = self.clean = self.cond = None

    def refresh(self):
        paths = sorted(glob.glob(os.path.join(CACHE, "shard_*.npz")))
        changed = False
        for p in list(self.loaded):
            if p not in paths:
                del self.loaded[p]
                changed = True
        for p in paths:
            if p not in self.loaded:
                try:
                    z = np.load(p)
                    self.loaded[p] = (z["deg"], z["clean"], z["cond"])
                    changed = True
                except Exception:
                    pass  # being written
        if changed and self.loaded:
            self.deg = np.concatenate([v[0] for v in self.loaded.values()])
            self.clean = np.concatenate([v[1] for v in self.loaded.values()])
            self.cond = np.concatenate([v[2] for v in self.loaded.values()])
        return len(self.loaded)

    def batch(self, rng, B, T, level_db=(-40.0, 0.0)):
        """B random crops of T frames at a random level each.  The cache holds log2(max(mel, FLOOR)) at
        0 dB; a cut of g < 0 log2 units gives max(v + g, LOG_FLOOR), which is exact: a band that was at
        the floor before the cut is at the floor after it."""
        idx = rng.integers(0, self.deg.shape[0], B)
        st = rng.integers(0, self.deg.shape[1] - T + 1, B)
        g = (rng.uniform(level_db[0], level_db[1], B) / (10.0 * math.log10(2.0))).astype(np.float32)[:, None, None]
        d = np.stack([self.deg[i, s:s + T] for i, s in zip(idx, st)]).astype(np.float32)
        c = np.stack([self.clean[i, s:s + T] for i, s in zip(idx, st)]).astype(np.float32)
        d = np.maximum(d + g, LOG_FLOOR)
        c = np.maximum(c + g, LOG_FLOOR)
        return d, c, self.cond[idx]


def build_net(hp):
    from models import mel2mel_from_hparams
    return mel2mel_from_hparams(hp)


def diet_loss(net, x, y, is_clean, w_over=1.0, w_id=1.0, w_gain=0.0, w_harm=0.0):
    """(total, l1) for a batch: x, y (B, T, F) log2-mels; is_clean (B,) bool tensor.
    total = L1 + w_over * over-suppression + w_id * |gain| on clean examples + w_gain * |gain| on all
          + w_harm * harm.

    Over-suppression is how far a cut takes the output below both the target and the input:
    relu(min(input, target) - output).  Until step 33,950 of mel2mel_gain it was relu(target - output), which
    also charged double for a lift that fell short: under that loss the best guess where a band may or may not
    have been EQ'd down is a lift (the 2/3 quantile, not the median), and the model lifted held-out music under
    unfamiliar noise by up to 6 dB (make eval, noise condition).  A lift is now plain L1.
    The |gain| prior pulls toward leaving the recording alone: a correction must be expected to help by more
    than w_gain per unit of gain before the model makes it.
    Harm is how much further from the target the output is than the input was: relu(|output - target| -
    |input - target|), per band and frame.  A change that helps costs plain L1; one that makes a band worse
    than leaving it alone costs (1 + w_harm) per unit, so where the evidence is split the best guess moves
    toward the input.  Added at step 66,000 of mel2mel_gain, after make eval found 3 of 40 held-out noise-only
    clips made worse by lifts of 3-6 dB in bands the noise never touched."""
    import torch
    L = net.lookahead
    out = net(x)
    o, t, xi = (out[:, L:], y[:, :-L], x[:, :-L]) if L else (out, y, x)
    e = o - t
    l1 = e.abs().mean()
    over = torch.relu(torch.minimum(xi, t) - o).mean()
    total = l1 + w_over * over
    g = o - xi
    if bool(is_clean.any()):
        total = total + w_id * g[is_clean].abs().mean() * is_clean.float().mean()
    if w_gain > 0:
        total = total + w_gain * g.abs().mean()
    if w_harm > 0:
        total = total + w_harm * torch.relu(e.abs() - (xi - t).abs()).mean()
    return total, l1


def evaluate(net, vd, vc, vcond):
    """Per diet condition: (model L1, input L1) on the monitoring pairs."""
    import torch
    from degrade import DIET_NAMES
    L = net.lookahead
    net.eval()
    res = {}
    with torch.no_grad():
        x = torch.from_numpy(vd)
        y = torch.from_numpy(vc)
        out = torch.cat([net(x[i:i + 16]) for i in range(0, x.shape[0], 16)])
        e_net = (out[:, L:] - y[:, :-L]).abs().mean(dim=(1, 2)).numpy()
        e_in = (x - y).abs().mean(dim=(1, 2)).numpy()
    net.train()
    for k, name in enumerate(DIET_NAMES):
        sel = vcond == k
        if sel.any():
            # "worse": more than 5 % above the input's error; on clean input (error 0) more than 0.15
            worse = e_net[sel] > np.maximum(1.05 * e_in[sel], 0.15 if name == "clean" else 0.0)
            res[name] = (float(e_net[sel].mean()), float(e_in[sel].mean()), int(worse.sum()), int(sel.sum()))
    return res


def cmd_train(a):
    import torch
    torch.set_num_threads(a.threads)
    from models import count_params
    os.makedirs(CKPT_DIR, exist_ok=True)
    name = a.name
    logp = os.path.join(CKPT_DIR, name + "_log.txt")
    last = os.path.join(CKPT_DIR, name + ".pt")
    shards = ShardSet()
    while shards.refresh() == 0:
        log("waiting for cache shards", logp)
        time.sleep(20)
    vd, vc, vcond = val_pairs()
    state = None
    if os.path.exists(last) and not a.fresh:
        state = torch.load(last, map_location="cpu")
        hp = state["hparams"]
        log("resuming from %s at step %d (%.2f h trained)" % (last, state["step"], state["elapsed"] / 3600), logp)
    else:
        hp = dict(DEFAULT_MODEL)
        if a.channels:
            hp["channels"] = int(a.channels)
        if a.dilations:
            hp["dilations"] = tuple(int(c) for c in a.dilations.split(","))
        # input normalisation from the data (exported with the model), at the mid training level
        sample = shards.deg[:400].astype(np.float32) - 20.0 / (10 * math.log10(2))
        hp["norm_mean"] = float(np.round(sample.mean(), 3))
        hp["norm_scale"] = float(np.round(1.0 / sample.std(), 4))
    net = build_net(hp)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr, betas=(0.9, 0.999))
    # Polyak average of the weights (decay a.ema): what is evaluated and exported, so a run that stops
    # at a high learning rate still ships smoothed weights
    ema = build_net(hp)
    ema.load_state_dict(net.state_dict())
    step, elapsed = 0, 0.0
    hist = []
    if state is not None:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        ema.load_state_dict(state.get("ema", state["model"]))
        step, elapsed = state["step"], state["elapsed"]
        hist = state.get("history", [])
    ema_params = list(ema.parameters())
    net_params = list(net.parameters())
    log("model %s params %d MMAC/frame %.3f rf %d; shards %d (%d pairs); plan %d steps; this run %.2f h; threads %d" % (
        json.dumps(hp), count_params(net), net.macs_per_frame() / 1e6, net.receptive_field(), len(shards.loaded),
        shards.deg.shape[0], a.total_steps, a.hours, torch.get_num_threads()), logp)
    rng = np.random.default_rng(a.seed + step)
    t_run0 = time.time()
    t_ckpt = t_refresh = time.time()
    run_loss, run_l1, run_n = 0.0, 0.0, 0
    t_log = time.time()

    def save(val=None):
        st = dict(model=net.state_dict(), opt=opt.state_dict(), ema=ema.state_dict(), hparams=hp, step=step,
                  elapsed=elapsed + time.time() - t_run0, history=hist, val=val,
                  note="train/train_mel2mel.py train --name %s resumes from here" % name)
        torch.save(st, last + ".tmp")
        os.replace(last + ".tmp", last)

    def lr_at(k):
        warm = min(1.0, (k + 1) / 200.0)
        tail = 0.8 * a.total_steps
        if k < tail:
            return a.lr * warm
        frac = min(1.0, (k - tail) / (a.total_steps - tail))
        return a.lr_min + (a.lr - a.lr_min) * 0.5 * (1 + math.cos(math.pi * frac))

    def checkpoint():
        res = evaluate(ema, vd, vc, vcond)
        hist.append(dict(step=step, hours=(elapsed + time.time() - t_run0) / 3600,
                         val={k: v[0] for k, v in res.items()}, val_input={k: v[1] for k, v in res.items()},
                         worse={k: v[2] for k, v in res.items()}))
        save(res)
        log("step %d monitor (model / input L1, clips worse >5%%): %s" % (step, "  ".join(
            "%s %.3f/%.3f %d/%d" % (k, v[0], v[1], v[2], v[3]) for k, v in res.items())), logp)

    # SIGTERM (kill, make's interrupt) ends the run at the next step with a checkpoint, so no work is lost.
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while time.time() - t_run0 < a.hours * 3600 and step < a.total_steps and not stop:
        lr = lr_at(step)
        for g in opt.param_groups:
            g["lr"] = lr
        d, c, cond = shards.batch(rng, a.batch, a.frames)
        x, y = torch.from_numpy(d), torch.from_numpy(c)
        is_clean = torch.from_numpy(cond == 0)
        loss, l1 = diet_loss(net, x, y, is_clean, w_gain=a.gain_penalty, w_harm=a.harm)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        with torch.no_grad():
            d_ema = min(a.ema, (1.0 + step) / (10.0 + step))
            for pe, pn in zip(ema_params, net_params):
                pe.mul_(d_ema).add_(pn, alpha=1.0 - d_ema)
        step += 1
        run_loss += float(loss)
        run_l1 += float(l1)
        run_n += 1
        if step % a.log_every == 0:
            log("step %d loss %.4f l1 %.4f lr %.2e %.3f s/step run %.2f h" % (
                step, run_loss / run_n, run_l1 / run_n, lr, (time.time() - t_log) / run_n,
                (time.time() - t_run0) / 3600), logp)
            run_loss, run_l1, run_n = 0.0, 0.0, 0
            t_log = time.time()
        now = time.time()
        if now - t_ckpt > a.ckpt_minutes * 60:
            checkpoint()
            t_ckpt = now
        if now - t_refresh > 300:
            shards.refresh()
            t_refresh = now
    checkpoint()
    log("stopped at step %d" % step, logp)


def cmd_export(a):
    import torch
    from export import export_mel2mel
    st = torch.load(a.ckpt, map_location="cpu")
    net = build_net(st["hparams"])
    net.load_state_dict(st.get("ema", st["model"]))  # the Polyak-averaged weights
    meta = {"trained_on": "menhance train/: Debian-packaged music (shared/data/music_train.tsv) and MIDI renders "
                          "(train/render_midi.py), degrade.py training diet",
            "train_steps": str(st["step"]), "train_hours": "%.2f" % (st["elapsed"] / 3600),
            "weights": "Polyak average (EMA) of the training weights"}
    export_mel2mel(net, a.out, extra_meta=meta)
    log("exported %s (step %d) -> %s" % (a.ckpt, st["step"], a.out))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache")
    c.add_argument("--shard-size", type=int, default=500)
    c.add_argument("--max-shards", type=int, default=40)
    c.add_argument("--pause", type=float, default=60.0, help="seconds between shards once the ring is full")
    c.add_argument("--hours", type=float, default=3.0)
    c.add_argument("--seed", type=int, default=7)
    t = sub.add_parser("train")
    t.add_argument("--name", default="mel2mel_gain")
    t.add_argument("--hours", type=float, default=1.5, help="wall-clock budget of this run")
    t.add_argument("--total-steps", type=int, default=99000, help="planned steps over all sessions (LR schedule)")
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--frames", type=int, default=160)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--lr-min", type=float, default=3e-5)
    t.add_argument("--channels", default="")
    t.add_argument("--dilations", default="")
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--log-every", type=int, default=50)
    t.add_argument("--ckpt-minutes", type=float, default=10.0)
    t.add_argument("--ema", type=float, default=0.999, help="decay of the weight average that is exported")
    t.add_argument("--gain-penalty", type=float, default=0.1,
                   help="weight of |gain| on every example (diet_loss w_gain); 0 before step 14.4k of the first run")
    t.add_argument("--harm", type=float, default=1.0,
                   help="weight of the harm term (diet_loss w_harm); 0 before step 66,000 of the first run")
    t.add_argument("--fresh", action="store_true")
    e = sub.add_parser("export")
    e.add_argument("--ckpt", default=os.path.join(CKPT_DIR, "mel2mel_gain.pt"))
    e.add_argument("--out", default=os.path.join(ROOT, "models", "mel2mel_gain.safetensors"))
    a = ap.parse_args()
    {"cache": cmd_cache, "train": cmd_train, "export": cmd_export}[a.cmd](a)


if __name__ == "__main__":
    main()
