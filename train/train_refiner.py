#!/usr/bin/python3
"""Trains the mode-2 refiner (train/refiner.py) on mode 1's outputs of the shipped Mel2Mel.

    train_refiner.py cache [--hours H]     pairs into data/cache_ref/: the diet's degraded music through
                                           the Mel2Mel and mode 1's gains (mode1()), with its clean music
                                           and the cleaned log-mel; 16 kHz crops of CROP samples
    train_refiner.py train [--hours H]     resumes models/ckpt/refiner.pt (optimiser state included)
                                           [--device cuda] on a lent GPU: same code, torch 2.x; every
                                           --ckpt-minutes (and on SIGTERM) a checkpoint and a monitor line:
                                           the refiner's weight average (--ema, since session 10) against
                                           mode 1 itself on fixed held-out pairs
                                           (validation music, held-out noise packages), per diet condition
    train_refiner.py export PATH           the checkpoint as a model file (refiner.export_refiner)

A pair is (m, clean, mel): m mode 1's waveform, clean the diet's clean target, mel the Mel2Mel's cleaned
log-mel (what the refiner is conditioned on), all float16 in the cache.  mode1() is the Python twin of
the engine's mode 1 without its guards: the network's per-band gains (its output over its input, in
log2 amplitude) clamped to [-max_atten, +MAX_LIFT_DB], spread to the STFT bins as the engine spreads
them (each bin the filter-weighted mean of its bands' log gains), on the degraded clip's STFT and
phase.  Max attenuation is drawn per pair from MAX_ATTEN_DB (the plugin's 6 dB default and deeper),
so the refiner meets the mode 1 a user sets.
"""
import argparse
import glob
import json
import math
import os
import platform
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from data import DATA  # noqa: E402

ROOT = os.path.dirname(HERE)
CACHE = os.path.join(DATA, "cache_ref")
CKPT = os.path.join(ROOT, "models", "ckpt", "refiner.pt")
# the shipped Mel2Mel (mode 1 as users get it); a training checkpoint (.pt) also works
M2M_CKPT = os.path.join(ROOT, "models", "mel2mel_nrt.safetensors")
CROP = 16384            # 1.024 s at 16 kHz: 64 frames
MAX_LIFT_DB = 12.0      # the engine's MODEL_MAX_BOOST_DB
MAX_ATTEN_DB = (6.0, 12.0, 20.0, 30.0)


def log(msg, path=None):
    line = "%s %s" % (time.strftime("%Y-%m-%d %H:%M:%S"), msg)
    print(line, flush=True)
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def load_mel2mel(path=M2M_CKPT):
    """The Mel2Mel the refiner follows: an exported file, or a checkpoint's weight average."""
    from eval import load_net
    return load_net(path)


def mode1(net, fe, deg, max_atten_db):
    """deg (B, N) float32 16 kHz -> (m (B, N) mode 1's waveform, cleaned log-mel (B, 128, N // 256)).
    N is a multiple of 256; the cleaned mel is aligned with the input frames (look-ahead removed by
    repeating the last frame, as eval.run_net does)."""
    import torch
    x = torch.from_numpy(np.ascontiguousarray(deg, np.float32))
    with torch.no_grad():
        lm = fe(x)  # (B, T, 128), T = N // 256 + 1
        L = net.lookahead
        inp = torch.cat([lm, lm[:, -1:].expand(-1, L, -1)], 1) if L else lm
        kw = {}
        if getattr(net, "classical_input", 0):
            # the engine's own classical feature (cfeatures), its last frame repeated like the mel's
            from cfeatures import classical_features
            cf = torch.from_numpy(classical_features(deg))
            kw["cf"] = torch.cat([cf, cf[:, -1:].expand(-1, L, -1)], 1) if L else cf
        cl = net(inp, **kw)[:, L:]
        g = 0.5 * (cl - lm)  # log2 amplitude per band and frame
        lo = -torch.as_tensor(max_atten_db, dtype=g.dtype).view(-1, 1, 1) / (20.0 * math.log10(2.0))
        g = torch.maximum(torch.clamp(g, max=MAX_LIFT_DB / (20.0 * math.log10(2.0))), lo)
        X = torch.stft(x, fe.n_fft, hop_length=fe.hop, win_length=fe.n_fft, window=fe.window.float(),
                       center=True, pad_mode="reflect", return_complex=True)  # (B, bins, T)
        fb = fe.fb.float()  # (128, bins)
        w = fb.sum(dim=0).clamp(min=1e-6)  # (bins,)
        gb = torch.exp2(torch.einsum("mk,btm->bkt", fb, g) / w.view(1, -1, 1))
        m = torch.istft(X * gb, fe.n_fft, hop_length=fe.hop, win_length=fe.n_fft,
                        window=fe.window.float(), center=True, length=x.shape[1])
    T = x.shape[1] // fe.hop
    return m.numpy(), cl[:, :T].transpose(1, 2).numpy()


def render(rng, n, net, fe, music, noise, speech, conditions=None):
    """n pairs -> dict of float16 m, clean (n, CROP), mel (n, 128, CROP // 256), float32 atten (n,), uint8
    cond (n,) (degrade.DIET_NAMES index); conditions: the diet condition of each pair in turn (None: drawn)."""
    from degrade import DIET_NAMES, make_diet_pair
    deg = np.zeros((n, CROP), np.float32)
    clean = np.zeros((n, CROP), np.float32)
    cond = np.zeros(n, np.uint8)
    for i in range(n):
        want = None if conditions is None else conditions[i % len(conditions)]
        d, c, name = make_diet_pair(rng, music, noise, speech, CROP, 16000, condition=want)
        cond[i] = DIET_NAMES.index(name)
        g = 10 ** (rng.uniform(-30.0, 0.0) / 20.0)  # a stream is never peak-normalised
        deg[i], clean[i] = d * g, c * g
    atten = rng.choice(MAX_ATTEN_DB, n).astype(np.float32)
    ms, mels = [], []
    for i in range(0, n, 32):
        m, mel = mode1(net, fe, deg[i:i + 32], atten[i:i + 32])
        ms.append(m)
        mels.append(mel)
    return {"m": np.concatenate(ms).astype(np.float16), "clean": clean.astype(np.float16),
            "mel": np.concatenate(mels).astype(np.float16), "atten": atten, "cond": cond}


def val_pairs(cache, mel2mel, per_cond=8, seed=4321):
    """Fixed monitoring pairs: validation music, held-out noise packages, every diet condition per_cond
    times (render's dict), made once per Mel2Mel file and kept in the cache."""
    from degrade import DIET_NAMES
    tag = os.path.splitext(os.path.basename(mel2mel))[0]
    p = os.path.join(cache, "val_%s_%d_%d.npz" % (tag, per_cond, seed))
    if not os.path.exists(p):
        from data import AudioPool
        from models import MelFrontEnd
        from train_mel2mel import noise_pools
        music = AudioPool("music_val", "16k")
        noise, _ = noise_pools("val")
        conds = [c for c in DIET_NAMES for _ in range(per_cond)]
        pairs = render(np.random.default_rng(seed), len(conds), load_mel2mel(mel2mel), MelFrontEnd(), music,
                       noise, None, conditions=conds)
        os.makedirs(cache, exist_ok=True)
        np.savez(p + ".tmp.npz", **pairs)
        os.replace(p + ".tmp.npz", p)
    z = np.load(p)
    return {k: z[k] for k in z.files}


def monitor(net, v, device):
    """Per diet condition on the monitoring pairs: (refiner L1 + MR-STFT, mode 1's), the refiner's output
    from a fixed start noise (refiner.refine), both against the clean music; and the count of pairs it
    made worse than mode 1 by more than 2 %."""
    import torch
    from degrade import DIET_NAMES
    from refiner import mr_stft, refine
    g = torch.Generator().manual_seed(99)
    out = {}
    for ci, name in enumerate(DIET_NAMES):
        idx = np.where(v["cond"] == ci)[0]
        if not len(idx):
            continue
        r_err, m_err = [], []
        for i in idx:
            m = torch.from_numpy(v["m"][i:i + 1].astype(np.float32))
            c = torch.from_numpy(v["clean"][i:i + 1].astype(np.float32))
            mel = torch.from_numpy(v["mel"][i:i + 1].astype(np.float32))
            eps = torch.randn(m.shape, generator=g)
            y = refine(net, m.to(device), mel.to(device), eps=eps.to(device)).cpu()
            r_err.append(float((y - c).abs().mean() + mr_stft(y, c)))
            m_err.append(float((m - c).abs().mean() + mr_stft(m, c)))
        out[name] = (float(np.mean(r_err)), float(np.mean(m_err)),
                     int(sum(r > 1.02 * q for r, q in zip(r_err, m_err))), len(idx))
    return out


def cmd_cache(a):
    import torch
    torch.set_num_threads(1)
    from models import MelFrontEnd
    from train_mel2mel import music_pool, noise_pools
    fe = MelFrontEnd()
    net = load_mel2mel(a.mel2mel)
    cache = a.cache
    os.makedirs(cache, exist_ok=True)
    logp = os.path.join(cache, "log.txt")
    rng = np.random.default_rng(a.seed + int(time.time()) % 100000)
    existing = sorted(glob.glob(os.path.join(cache, "shard_*.npz")))
    shard = max(int(os.path.basename(p)[6:12]) for p in existing) + 1 if existing else 0
    t_end = time.time() + a.hours * 3600
    while time.time() < t_end and (a.shards <= 0 or shard < a.shards):
        if a.fill and len(glob.glob(os.path.join(cache, "shard_*.npz"))) >= a.max_shards:
            break
        music = music_pool()
        noise, speech = noise_pools("train")
        t0 = time.time()
        pairs = render(rng, a.shard_size, net, fe, music, noise, speech)
        tmp = os.path.join(cache, "tmp_%06d.npz" % shard)
        np.savez(tmp, **pairs)
        os.replace(tmp, os.path.join(cache, "shard_%06d.npz" % shard))
        for old in sorted(glob.glob(os.path.join(cache, "shard_*.npz")))[:-a.max_shards]:
            os.unlink(old)
        log("shard %d: %d pairs in %.1f s" % (shard, a.shard_size, time.time() - t0), logp)
        shard += 1


def load_shards(cache, wait_s=0.0):
    """Every shard in the cache, concatenated; waits up to wait_s for a first one (a builder just started)."""
    t_end = time.time() + wait_s
    while True:
        paths = sorted(glob.glob(os.path.join(cache, "shard_*.npz")))
        if paths or time.time() >= t_end:
            break
        time.sleep(10)
    if not paths:
        raise SystemExit("train_refiner: no pairs in %s (run: train_refiner.py cache)" % cache)
    z = [np.load(p) for p in paths]
    return {k: np.concatenate([s[k] for s in z]) for k in ("m", "clean", "mel")}


def sub_crop(data, idx, crop, rng):
    """The pairs idx of the cache, each cut to `crop` samples at its own random offset (a multiple of the
    256-sample hop, so the mel frames stay aligned to the samples they describe): float32 m, clean (B, crop),
    mel (B, n_mels, crop // 256).  crop 0 or the cache's length: the whole pairs."""
    n = data["m"].shape[1]
    if crop <= 0 or crop >= n:
        return {k: data[k][idx].astype(np.float32) for k in ("m", "clean", "mel")}
    if crop % 256:
        raise SystemExit("train_refiner: --crop must be a multiple of 256 samples")
    offs = rng.integers(0, (n - crop) // 256 + 1, len(idx))
    out = {"m": [], "clean": [], "mel": []}
    for i, o in zip(idx, offs):
        out["m"].append(data["m"][i, o * 256:o * 256 + crop])
        out["clean"].append(data["clean"][i, o * 256:o * 256 + crop])
        out["mel"].append(data["mel"][i, :, o:o + crop // 256])
    return {k: np.stack(v).astype(np.float32) for k, v in out.items()}


def cmd_train(a):
    import torch
    from ema import ema_update
    from refiner import Refiner, refiner_loss
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    import signal
    data = load_shards(a.cache, wait_s=600)
    val = val_pairs(a.cache, a.mel2mel)
    ckpt = a.ckpt
    logp = ckpt.replace(".pt", "_log.txt")
    import copy
    net = Refiner(layers=a.layers, channels=a.channels, cycle=a.cycle).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    step, seconds = 0, 0.0
    ema = copy.deepcopy(net)
    if os.path.exists(ckpt):
        st = torch.load(ckpt, map_location="cpu")
        net.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        # a checkpoint from before the average starts it at its weights
        ema.load_state_dict(st.get("ema", st["model"]))
        step, seconds = st["step"], st["seconds"]
        log("resuming %s at step %d (%.2f h trained)" % (ckpt, step, seconds / 3600), logp)
    log("refiner %s, %d pairs, batch %d x %d samples, %d threads, %s, torch %s, %s" % (
        json.dumps(net.hparams()), len(data["m"]), a.batch, a.crop, a.threads, a.device, torch.__version__,
        platform.node()), logp)
    rng = np.random.default_rng(a.seed + step)
    g = torch.Generator(device=dev).manual_seed(a.seed + step)
    t_end = time.time() + a.hours * 3600
    run0 = time.time()
    avg = None
    hist = st.get("history", []) if os.path.exists(ckpt) else []

    def save():
        os.makedirs(os.path.dirname(ckpt), exist_ok=True)
        tmp = ckpt + ".tmp"
        torch.save({"model": net.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                    "seconds": seconds, "ema_decay": a.ema,
                    "hparams": net.hparams(), "history": hist, "mel2mel": os.path.basename(a.mel2mel)}, tmp)
        os.replace(tmp, ckpt)

    def checkpoint():
        ema.eval()
        res = monitor(ema, val, dev)
        hist.append({"step": step, "hours": seconds / 3600, "val": res})
        save()
        log("step %d monitor (refiner / mode 1: L1 + MR-STFT against clean, pairs worse than mode 1 >2%%): %s" % (
            step, "  ".join("%s %.4f/%.4f %d/%d" % (k, *v) for k, v in res.items())), logp)

    # SIGTERM ends the run at the next step with a checkpoint
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    if step == 0:
        checkpoint()  # the untrained refiner: mode 1 itself
    t_ckpt = t_refresh = time.time()
    while time.time() < t_end and (a.steps <= 0 or step < a.steps) and not stop:
        t0 = time.time()
        idx = rng.integers(0, len(data["m"]), a.batch)
        b = sub_crop(data, idx, a.crop, rng)
        b = {k: torch.from_numpy(v).to(dev) for k, v in b.items()}
        # a linear warm-up: the correction starts at exactly 0, and the first full-rate Adam steps gave it
        # enough random output to move clean music 6x further than mode 1 (monitor, 3 steps at 2e-4)
        for grp in opt.param_groups:
            grp["lr"] = a.lr * min(1.0, (step + 1) / a.warmup)
        loss, l1, st_ = refiner_loss(net, b["m"], b["clean"], b["mel"], generator=g)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        ema_update(ema, net, a.ema)
        step += 1
        seconds += time.time() - t0
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % a.log_every == 0:
            log("step %d loss %.4f (L1 %.4f MR-STFT %.4f) avg %.4f %.3f s/step" % (
                step, loss.item(), l1.item(), st_.item(), avg, time.time() - t0), logp)
        if time.time() - t_ckpt > a.ckpt_minutes * 60:
            checkpoint()
            t_ckpt = time.time()
        if time.time() - t_refresh > 600:
            data = load_shards(a.cache)  # the builder's newer pairs
            t_refresh = time.time()
    checkpoint()
    log("stopped at step %d (%.2f h trained, this run %.2f h)" % (step, seconds / 3600,
                                                                  (time.time() - run0) / 3600), logp)


def cmd_export(a):
    import torch
    from refiner import Refiner, export_refiner
    if a.fresh:
        # the training defaults, untrained (a correction of exactly 0: mode 1 bit for bit): what a trained
        # refiner costs to run (make bench-refiner), never a product
        net = Refiner(layers=a.layers, channels=a.channels, cycle=a.cycle)
        card = {"steps": 0, "train_hours": 0.0, "note": "untrained: for timing only"}
    else:
        st = torch.load(a.ckpt, map_location="cpu")
        hp = dict(st["hparams"])
        net = Refiner(layers=hp["layers"], channels=hp["channels"], cycle=hp["cycle"], n_mels=hp["n_mels"],
                      embed_dim=hp["embed_dim"], steps=hp["refine_steps"])
        net.load_state_dict(st.get("ema", st["model"]))  # the weight average where the checkpoint has one
        card = {"steps": st["step"], "train_hours": round(st["seconds"] / 3600, 3), "weights": "ema" if "ema" in st
                else "raw",
                "hardware": "%s, torch %s" % (platform.processor() or "x86-64", torch.__version__)}
    export_refiner(net, a.path, extra_meta={"training": json.dumps(card)})
    log("exported %s: %s" % (a.path, card))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache")
    c.add_argument("--hours", type=float, default=1.0)
    c.add_argument("--shards", type=int, default=0, help="stop after this many shards (0: by time)")
    c.add_argument("--shard-size", type=int, default=256)
    c.add_argument("--max-shards", type=int, default=40)
    c.add_argument("--fill", action="store_true", help="stop once the cache holds --max-shards shards")
    c.add_argument("--mel2mel", default=M2M_CKPT)
    c.add_argument("--seed", type=int, default=11)
    c.add_argument("--cache", default=CACHE)
    t = sub.add_parser("train")
    t.add_argument("--hours", type=float, default=1.0)
    t.add_argument("--steps", type=int, default=0, help="stop after this many steps in all (0: by time)")
    # batch 4 x 0.512 s at 2 threads: 0.9 s a step on the 2-vCPU Xeon (8 x 1.024 s at 1 thread beside
    # the builder: 7 s); the network's receptive field is ~250 samples, so shorter crops lose nothing but
    # the MR-STFT's longest frames
    t.add_argument("--batch", type=int, default=4)
    t.add_argument("--crop", type=int, default=8192, help="training crop in samples (multiple of 256)")
    t.add_argument("--layers", type=int, default=12)
    t.add_argument("--channels", type=int, default=32)
    t.add_argument("--cycle", type=int, default=6)
    t.add_argument("--lr", type=float, default=2e-4)
    t.add_argument("--ema", type=float, default=0.999, help="decay of the weight average that is monitored and "
                   "exported")
    t.add_argument("--warmup", type=int, default=1000, help="steps of linear learning-rate warm-up")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--device", default="cpu")
    t.add_argument("--seed", type=int, default=5)
    t.add_argument("--log-every", type=int, default=25)
    t.add_argument("--cache", default=CACHE)
    t.add_argument("--ckpt", default=CKPT)
    t.add_argument("--ckpt-minutes", type=float, default=15.0)
    t.add_argument("--mel2mel", default=M2M_CKPT, help="the Mel2Mel of the monitoring pairs (as the cache's)")
    e = sub.add_parser("export")
    e.add_argument("path")
    e.add_argument("--ckpt", default=CKPT)
    e.add_argument("--fresh", action="store_true", help="an untrained refiner (timing only), no checkpoint")
    e.add_argument("--layers", type=int, default=12)
    e.add_argument("--channels", type=int, default=32)
    e.add_argument("--cycle", type=int, default=6)
    a = ap.parse_args()
    {"cache": cmd_cache, "train": cmd_train, "export": cmd_export}[a.cmd](a)


if __name__ == "__main__":
    main()
