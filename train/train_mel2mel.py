#!/usr/bin/python3
"""Train the Noise / Room / Tone Mel2Mel (train/models.py: Mel2MelNRT) on the CPU (or a GPU), resumable across sessions.

Two processes, so degradation never starves the training thread:
  train_mel2mel.py cache  -- renders training examples of the diet (train/degrade.py: make_diet_pair with parts; clean
                             music from the packaged music list and the MIDI renders of train/render_midi.py) into
                             shards of float16 LOG2-MELs under data/cache3/: the degraded clip, its clean target, the
                             chain without the noise (dry) and without the noise and the late reverberation (early),
                             plus each clip's Tone target (clip_tone_target) and condition; keeps a ring of shards and
                             refreshes the oldest over time.
  train_mel2mel.py train  -- loads whatever shards exist (re-scanning every few minutes), takes random crops and a
                             random level per example (-40..0 dB; exact on floored log2-mels, see ShardSet.batch).
                             Loss (nrt_loss): L1 on log2-mel against the clean target shifted by the look-ahead (the
                             main term) plus each head's L1 against its target (head_targets), a cut deeper than the
                             target weighted --deep (1.75); bins where input and target both sit at the log floor
                             are left out.  The first --warm-steps steps train the heads alone; then the main term
                             comes in and the head terms anneal from 1 to --head-final over --anneal-steps.
                             Adam; constant LR after warm-up until the last 20 % of the planned steps, then cosine;
                             a Polyak average (EMA) of the weights is what gets monitored and exported.
                             A fresh run warm-starts the trunk from models/ckpt/mel2mel_gain.pt (the previous
                             default model, whose input features are the first three of the four here).
                             The checkpoint (weights, optimiser state, step count, hours) is written to
                             models/ckpt/ every few minutes so the next session resumes; log next to it.
  train_mel2mel.py export -- checkpoint -> models/mel2mel_nrt.safetensors (train/export.py).

Set OPENBLAS_CORETYPE only to a kernel the CPU supports (mk/train.mk picks it); one thread by default (measured
faster than two on the 2-vCPU machines: the second core serves the cache builder).  The same script runs on a GPU
(--device cuda) with torch 2.x.
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
CACHE = os.path.join(DATA, "cache3")
CKPT_DIR = os.path.join(ROOT, "models", "ckpt")
CLIP = 256 * 220  # 3.52 s at 16 kHz -> FRAMES frames
FRAMES = 1 + (CLIP - 1) // 256  # MelFrontEnd's frame count (1023-point STFT, centred)
LEAD = 256 * 125  # 2.0 s rendered ahead of each cached clip (render_pairs): the classical feature's lead-in
FLOOR = 1e-5
LOG_FLOOR = math.log2(FLOOR)

# the model shipped with the plugin: ~0.50 M parameters, 0.50 MMAC/frame
DEFAULT_MODEL = dict(arch="nrt", channels=128, dilations=(1, 2, 4, 8, 16, 32), lookahead=2, kt=3, feature_warmup=1)
CUT_LOG2 = 30.0 / (10.0 * math.log10(2.0))   # the Noise and Room heads' -30 dB bound, log2 power units
TONE_LOG2 = 12.0 / (10.0 * math.log10(2.0))  # the Tone head's +-12 dB


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


def music_pool(midi_share=0.35):
    """Packaged training music, plus the MIDI renders when they exist (midi_share of the draws)."""
    from data import AudioPool, MixPool
    music = AudioPool("music_train", "16k")
    try:
        midi = AudioPool("music_midi", "16k")
    except (RuntimeError, FileNotFoundError):
        return music
    return MixPool([music, midi], [1.0 - midi_share, midi_share])


# The conditions whose music may come from a drier mix (cache --room-midi-share): every one with a room, and clean
# music, so that the contrast a Room head learns from (the same kind of music with and without a room) stays, and
# the dry MIDI timbre does not itself say "room".
ROOM_MIX_CONDITIONS = ("clean", "reverb", "two", "full", "phone")


def pool_for(condition, music, music_room=None):
    """The music pool an example of this diet condition draws from: music_room (when given) for
    ROOM_MIX_CONDITIONS, music otherwise."""
    return music_room if music_room is not None and condition in ROOM_MIX_CONDITIONS else music


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


def clip_tone_target(clean, coloured):
    """The Tone head's target for one clip: per band, the clip's mean power of the clean target over the mean power
    of the clean target through the colouration alone (no noise, no room: make_diet_pair's coloured), in log2
    units, clamped to +-12 dB; 0 for an example without colouration, a room's included (until step ~20,000 of
    mel2mel_nrt the denominator held the early reflections too, whose comb the 16 smooth basis functions cannot
    follow: the head learnt to move reverberant clips the wrong way).  clean, coloured (T, F) log2-mels -> (F,)."""
    c = np.asarray(clean, np.float64)
    e = np.asarray(coloured, np.float64)
    lc = np.log2(np.mean(np.exp2(c - c.max()), axis=0)) + c.max()
    le = np.log2(np.mean(np.exp2(e - e.max()), axis=0)) + e.max()
    return np.clip(lc - le, -TONE_LOG2, TONE_LOG2).astype(np.float32)


def render_pairs(rng, n, music, noise, speech, fe, conditions=None, lead=LEAD, music_room=None):
    """n diet examples -> dict of float16 log2-mels deg, clean, dry, early, late (n, FRAMES, 128), tone (n, 128),
    cond (n,) uint8 and, with lead > 0, cf (n, FRAMES, 128) float16: the classical suppressor's log2 gain
    (cfeatures.classical_feature) of the degraded clip.  Each example is rendered lead + CLIP samples long and the
    last CLIP kept: the classical tracker needs its 1.5 s window to reach the depth it has in a running engine,
    and a room's tail from before the crop is in the crop as it would be in a recording.  music_room: the pool
    for pool_for's conditions (None: music for all)."""
    from degrade import DIET_NAMES, diet_condition, make_diet_pair
    w = {k: np.zeros((n, CLIP), np.float32) for k in ("deg", "clean", "dry", "early", "coloured", "late")}
    cond = np.zeros(n, np.uint8)
    cf = np.zeros((n, FRAMES, 128), np.float32) if lead else None
    if lead:
        from cfeatures import classical_feature
    for i in range(n):
        c = None if conditions is None else conditions[i % len(conditions)]
        if music_room is not None and c is None:
            c = diet_condition(rng)
        parts = make_diet_pair(rng, pool_for(c, music, music_room), noise, speech, lead + CLIP, 16000, condition=c,
                               parts=True, late=True)
        name = parts[2]
        for k, v in zip(("deg", "clean", None, "dry", "early", "coloured", "late"), parts):
            if k:
                w[k][i] = v[lead:]
        if lead:
            # MelFrontEnd's frame t of the crop is centred on sample lead + 256 t of the whole render
            cf[i] = classical_feature(parts[0])[lead // 256:lead // 256 + FRAMES]
        cond[i] = DIET_NAMES.index(name)
    out = {k: np.concatenate([log_mel_np(v[i:i + 50], fe) for i in range(0, n, 50)]) for k, v in w.items()}
    out["tone"] = np.stack([clip_tone_target(out["clean"][i], out["coloured"][i])
                            for i in range(n)])
    del out["coloured"]
    if lead:
        out["cf"] = cf
    out = {k: v.astype(np.float16) for k, v in out.items()}
    out["cond"] = cond
    return out


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
        music_room = music_pool(a.room_midi_share) if a.room_midi_share is not None else None
        noise, speech = noise_pools("train")
        t0 = time.time()
        pairs = render_pairs(rng, a.shard_size, music, noise, speech, fe, music_room=music_room)
        tmp = os.path.join(CACHE, "tmp_%06d.npz" % shard)
        np.savez(tmp, **pairs)
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
def val_pairs(per_cond=12, seed=1234, cf=False):
    """Fixed monitoring pairs (render_pairs' dict, float32): validation music, held-out noise packages, every
    diet condition per_cond times.  Only watched during training (the shipped checkpoint is the last one, never
    picked on these).  cf: the set with the classical feature (rendered with render_pairs' lead-in, so its
    clips differ from the set without, whose history goes back to the first NRT runs)."""
    from degrade import DIET_NAMES
    p = os.path.join(CACHE, ("val_cf_%d_%d.npz" if cf else "val_%d_%d.npz") % (per_cond, seed))
    if not os.path.exists(p):
        from data import AudioPool
        from models import MelFrontEnd
        rng = np.random.default_rng(seed)
        music = AudioPool("music_val", "16k")
        noise, _ = noise_pools("val")
        conds = [c for c in DIET_NAMES for _ in range(per_cond)]
        pairs = render_pairs(rng, len(conds), music, noise, None, MelFrontEnd(), conditions=conds,
                             lead=LEAD if cf else 0)
        os.makedirs(CACHE, exist_ok=True)
        np.savez(p + ".tmp.npz", **pairs)
        os.replace(p + ".tmp.npz", p)
    z = np.load(p)
    return {k: (z[k] if k == "cond" else z[k].astype(np.float32)) for k in z.files}


# ------------------------------------------------------------------ trainer
MEL_KEYS = ("deg", "clean", "dry", "early", "late")


def late_from(dry, early):
    """For shards cached before the late-only render: the late part's log2 power as dry's power less early's
    (their interference left in), floored; float16 like the cache."""
    d, e = dry.astype(np.float32), early.astype(np.float32)
    return np.log2(np.maximum(np.exp2(d) - np.exp2(e), 2.0 ** LOG_FLOOR)).astype(np.float16)


class ShardSet:
    """The cache's shards in memory.  need_cf: only shards with the classical feature (render_pairs' cf), and
    batches carry it."""

    def __init__(self, need_cf=False):
        self.loaded = {}
        self.arr = None
        self.keys = MEL_KEYS + ("tone", "cond") + (("cf",) if need_cf else ())

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
                    if "cf" in self.keys and "cf" not in z.files:
                        continue  # made before the classical feature
                    sh = {k: z[k] for k in self.keys if k in z.files}
                    if "late" not in sh:
                        sh["late"] = late_from(sh["dry"], sh["early"])
                    self.loaded[p] = sh
                    changed = True
                except Exception:
                    pass  # being written
        if changed and self.loaded:
            self.arr = None  # free the old copy before building the new one
            self.arr = {k: np.concatenate([v[k] for v in self.loaded.values()]) for k in self.keys}
        return len(self.loaded)

    def size(self):
        return 0 if self.arr is None else self.arr["deg"].shape[0]

    def batch(self, rng, B, T, level_db=(-40.0, 0.0)):
        """B random crops of T frames at a random level each: dict of deg, clean, dry, early, late (B, T, F), tone
        (B, F), cond (B,).  The cache holds log2(max(mel, FLOOR)) at 0 dB; a cut of g < 0 log2 units gives
        max(v + g, LOG_FLOOR), which is exact: a band that was at the floor before the cut is at the floor after
        it."""
        A = self.arr
        idx = rng.integers(0, A["deg"].shape[0], B)
        st = rng.integers(0, A["deg"].shape[1] - T + 1, B)
        g = (rng.uniform(level_db[0], level_db[1], B) / (10.0 * math.log10(2.0))).astype(np.float32)[:, None, None]
        out = {}
        for k in MEL_KEYS:
            v = np.stack([A[k][i, s:s + T] for i, s in zip(idx, st)]).astype(np.float32)
            out[k] = np.maximum(v + g, LOG_FLOOR)
        out["tone"] = A["tone"][idx].astype(np.float32)
        out["cond"] = A["cond"][idx]
        if "cf" in A:
            # a gain: the level does not move it (the tracker's Wiener rule is a ratio)
            out["cf"] = np.stack([A["cf"][i, s:s + T] for i, s in zip(idx, st)]).astype(np.float32)
        return out


def build_net(hp):
    from models import mel2mel_from_hparams
    return mel2mel_from_hparams(hp)


ROOM_SMOOTH = (5, 3)  # frames x mel bands over which the Room target's powers are averaged


def _smooth_power(v, size):
    """log2 power (B, T, F) -> log2 of its power averaged over a (frames, bands) box, edges replicated."""
    import torch
    import torch.nn.functional as F
    kt, kf = size
    p = F.pad(torch.pow(2.0, v)[:, None], (kf // 2, kf // 2, kt // 2, kt // 2), mode="replicate")
    return torch.log2(torch.clamp(F.avg_pool2d(p, (kt, kf), stride=1)[:, 0], min=1e-30))


def room_level(clean, dry, early, tone):
    """The room's broadband level on a crop: what the direct sound and early reflections add to the music, as a
    cut in log2 power units (B,), clamped to [-30 dB, 0]; 0 for a crop without a room (dry equals early).

    Per band, the crop's mean power of early over that of the clean target through the colouration alone
    (coloured = clean - tone in log2 units, the Tone head's target taken back out), then the median over the bands
    the music fills (mean above the floor by 3 log2 units).  Why a level: make_diet_pair's responses keep the
    direct path at unit amplitude, so every reflection adds energy; on cached reverb-only pairs the median is
    0.42 log2 units (1.3 dB; 10 % of pairs past 3.4 dB), and taking it off every reverb pair scores log-mel L1
    0.84 x the input, where the late part's target alone (head_targets) reaches 0.76 x on the monitor.  Early
    reflections fall within an analysis window, so a per-frame gain cannot undo their comb; their mean energy it
    can.  Why one number, not per band: the comb's fine structure averaged over a mel band swings with the
    response; the level is what the pairs share.  clean, dry, early (B, T, F) log2-mels; tone (B, F)."""
    import torch

    def lmean(v):
        m = v.amax(dim=1, keepdim=True)
        return torch.log2(torch.exp2(v - m).mean(dim=1)) + m[:, 0]

    lc = lmean(clean)
    gap = lmean(early) - lc + tone
    gap = torch.where(lc > LOG_FLOOR + 3.0, gap, torch.full_like(gap, float("nan")))
    lvl = -torch.nanmedian(gap, dim=1).values
    lvl = torch.where(torch.isnan(lvl), torch.zeros_like(lvl), lvl)
    room = ((dry - early).abs().amax(dim=(1, 2)) > 0.05).float()
    return torch.clamp(lvl, -CUT_LOG2, 0.0) * room


def head_targets(x, dry, early, room_smooth=ROOM_SMOOTH, late=None, level=None):
    """The Noise and Room heads' targets (log2 power units, clamped to [-30 dB, 0]): noise = dry - degraded (what
    removing the additive noise takes), room = early - dry (what removing the late reverberation then takes),
    each power averaged over room_smooth (frames, bands) first.  With the late-only render (late: its log2-mel),
    room = early - log2(early + late) on those averaged powers: the expected share of the early sound, which
    is what a gain on magnitudes can reach, with the early/late interference gone at the source rather than
    only averaged down.  Why smoothed: per bin, early - dry swings
    +-1.5 log2 units with the interference of the tail and the early sound (measured on the monitor's reverb
    clips: 10 % of bins have early louder than dry), which no magnitude input predicts; the box average keeps
    the late energy's share (the expected cut) and drops most of that swing.  None for no smoothing.
    level (B,), room_level's cut, joins the Room target in every frame (the room's energy, not only its tail).
    All (B, T, F) tensors at the same level; clean examples give 0 for both."""
    import torch
    if late is not None:
        se = _smooth_power(early, room_smooth or (1, 1))
        sl = _smooth_power(late, room_smooth or (1, 1))
        # the log floor is no late energy: without a room (late all floor) the target is exactly 0, not the
        # -1 of "early at the floor plus late at the floor" in quiet bins
        pl = torch.clamp(torch.exp2(sl) - 2.0 ** LOG_FLOOR, min=0.0)
        room = se - torch.log2(torch.exp2(se) + pl)
    elif room_smooth:
        room = _smooth_power(early, room_smooth) - _smooth_power(dry, room_smooth)
    else:
        room = early - dry
    if level is not None:
        room = room + level[:, None, None]
    return (torch.clamp(dry - x, -CUT_LOG2, 0.0), torch.clamp(room, -CUT_LOG2, 0.0))


def nrt_loss(net, b, w_main=1.0, w_head=1.0, deep=1.75, deep_room=None, tone_skip=64, tone_hold=0.0,
             room_lvl=False):
    """(total, main L1, per-head L1 tuple) for a batch b (tensors deg, clean, dry, early (B, T, F), tone (B, F)).

    main  L1 on log2-mel between the output and the clean target (look-ahead aligned);
    heads each head's gains against its target (noise, room: their unbounded z, so a head that cuts nothing still
          learns) (head_targets; tone: the clip's tone target in every frame after
          the first tone_skip, while its one-pole average is still rising from 0 dB), a cut deeper than the target
          weighted `deep` (Room: `deep_room`, None = deep): a head that is unsure cuts less than the median, so
          doubt leaves music in;
    bins where the input and the clean target both sit at the log floor count in neither;
    hold  the Tone head's mean |gain| on the examples with no colouration (a tone target of 0 in every band:
          clean, noise-only, room-only), weighted tone_hold outside the annealed head weight: once the head terms
          are annealed to 0.3 the main term alone let the head colour noise-only clips (mel2mel_nrt steps
          43k-57k: its error there rose from 0.19 to 0.40 log2 units and the noise condition scored above the
          input), because a noise-lifted long-term balance looks like a treble lift.
    room_lvl  the Room target includes the room's level (room_level).
    total = w_main * main + w_head * (noise + room + tone) + tone_hold * hold."""
    import torch
    L = net.lookahead
    x, y = b["deg"], b["clean"]
    # noise and room: their raw z (models.one_sided_cut)
    out, (_, _, gt), (gn, gr) = net(x, return_raw=True, cf=b.get("cf"))
    lvl = room_level(y, b["dry"], b["early"], b["tone"]) if room_lvl else None
    nt, rt = head_targets(x, b["dry"], b["early"], late=b.get("late"), level=lvl)
    if L:
        out, gn, gr, gt = out[:, L:], gn[:, L:], gr[:, L:], gt[:, L:]
        x, y, nt, rt = x[:, :-L], y[:, :-L], nt[:, :-L], rt[:, :-L]
    floor = LOG_FLOOR + 1e-3
    valid = (~((x <= floor) & (y <= floor))).float()
    nv = valid.sum().clamp(min=1.0)
    main = ((out - y).abs() * valid).sum() / nv

    def head(g, t, v, n, w):
        e = g - t
        return ((torch.where(e < 0, w * (-e), e)) * v).sum() / n

    l_noise = head(gn, nt, valid, nv, deep)
    l_room = head(gr, rt, valid, nv, deep if deep_room is None else deep_room)
    k = min(tone_skip, gt.shape[1] - 1)
    l_tone = (gt[:, k:] - b["tone"][:, None, :]).abs().mean()
    total = w_main * main + w_head * (l_noise + l_room + l_tone)
    if tone_hold:
        plain = (b["tone"].abs().amax(dim=1) < 1e-3).float()  # (B,)
        hold = (gt[:, k:].abs().mean(dim=(1, 2)) * plain).sum() / plain.sum().clamp(min=1.0)
        total = total + tone_hold * hold
    return total, main, (l_noise, l_room, l_tone)


def loss_weights(step, a):
    """(w_main, w_head) at a step: heads alone for a.warm_steps, then the main term and the head terms annealed
    linearly from 1 to a.head_final over a.anneal_steps."""
    if step < a.warm_steps:
        return 0.0, 1.0
    frac = min(1.0, (step - a.warm_steps) / max(1, a.anneal_steps))
    return 1.0, 1.0 + (a.head_final - 1.0) * frac


def evaluate(net, v, room_lvl=False):
    """Per diet condition on the monitoring pairs v (val_pairs): (model L1, input L1, clips worse, clips,
    noise / room / tone head L1 against their targets, ideal L1).  "Worse" is more than 5 % above the input's
    error (clean input: moved by more than 0.15).  "Ideal" is the input plus the three heads' targets, clamped as
    the heads are: the ceiling of what the heads can do."""
    import torch
    from degrade import DIET_NAMES
    L = net.lookahead
    net.eval()
    res = {}
    with torch.no_grad():
        # the monitoring pairs' Room target stays the one they were made with (no late render in the
        # val file): its history stays comparable across the change of training target
        b = {k: torch.from_numpy(v[k]) for k in MEL_KEYS + ("tone", "cf") if k in v}
        outs, gs = [], []
        for i in range(0, b["deg"].shape[0], 16):
            o, g = net(b["deg"][i:i + 16], return_heads=True, cf=b["cf"][i:i + 16] if "cf" in b else None)
            outs.append(o)
            gs.append(g)
        out = torch.cat(outs)
        g = [torch.cat([q[j] for q in gs]) for j in range(3)]
        x, y = b["deg"], b["clean"]
        nt, rt = head_targets(x, b["dry"], b["early"],
                              level=room_level(y, b["dry"], b["early"], b["tone"]) if room_lvl else None)
        sl = slice(L, None)
        e_net = (out[:, L:] - y[:, :-L]).abs().mean(dim=(1, 2)).numpy()
        e_in = (x - y).abs().mean(dim=(1, 2)).numpy()
        e_n = (g[0][:, sl] - nt[:, :x.shape[1] - L]).abs().mean(dim=(1, 2)).numpy()
        e_r = (g[1][:, sl] - rt[:, :x.shape[1] - L]).abs().mean(dim=(1, 2)).numpy()
        e_t = (g[2][:, 64:] - b["tone"][:, None, :]).abs().mean(dim=(1, 2)).numpy()
        # each head's error when it does nothing: the reference its error is read against
        e_0 = [nt.abs().mean(dim=(1, 2)).numpy(), rt.abs().mean(dim=(1, 2)).numpy(),
               b["tone"].abs().mean(dim=1).numpy()]
        ideal = x + nt + rt + b["tone"][:, None, :]
        e_id = (ideal - y).abs().mean(dim=(1, 2)).numpy()
    net.train()
    for k, name in enumerate(DIET_NAMES):
        sel = v["cond"] == k
        if sel.any():
            worse = e_net[sel] > np.maximum(1.05 * e_in[sel], 0.15 if name == "clean" else 0.0)
            res[name] = (float(e_net[sel].mean()), float(e_in[sel].mean()), int(worse.sum()), int(sel.sum()),
                         float(e_n[sel].mean()), float(e_r[sel].mean()), float(e_t[sel].mean()),
                         float(e_id[sel].mean())) + tuple(float(z[sel].mean()) for z in e_0)
    return res


def warm_start(net, path):
    """Copies the trunk of a Mel2MelGain checkpoint (conv_in over its three input features, the residual blocks)
    into net; the long-term feature's input weights and the heads keep their initial values.  Returns the step
    count of the source."""
    import torch
    st = torch.load(path, map_location="cpu")
    src = st.get("ema", st["model"])
    own = net.state_dict()
    F3 = src["conv_in.weight"].shape[1]
    with torch.no_grad():
        own["conv_in.weight"][:, :F3] = src["conv_in.weight"]
        own["conv_in.weight"][:, F3:] = 0.0
        own["conv_in.bias"].copy_(src["conv_in.bias"])
        for k, v in src.items():
            if k.startswith("blocks.") and k in own and own[k].shape == v.shape:
                own[k].copy_(v)
    net.load_state_dict(own)
    return st["step"]


def state_from_export(path):
    """A training state (as a checkpoint holds) from an exported model file: its weights as both the weights and
    their average, its hparams, step and hours from the metadata, and an empty optimiser state, so that a new
    line can start from a shipped model (which generalised better than the checkpoints trained on from it:
    models/mel2mel_nrt.md) rather than from the latest checkpoint."""
    import torch
    from export import load_file
    t, meta = load_file(path)
    hp = json.loads(meta["mel2mel"])
    net = build_net(hp)
    sd = {k[len("mel2mel."):]: torch.from_numpy(v) for k, v in t.items() if k.startswith("mel2mel.")}
    net.load_state_dict(sd)
    opt = torch.optim.Adam(net.parameters())
    return dict(model=net.state_dict(), ema={k: v.clone() for k, v in net.state_dict().items()},
                opt=opt.state_dict(), hparams=hp, step=int(meta.get("train_steps", 0)),
                elapsed=3600.0 * float(meta.get("train_hours", 0.0)), history=[])


def widen_input(state, old_hp):
    """A checkpoint made to read one more input feature, appended after its last (models.Mel2MelNRT: the classical
    input, then the decay cue): conv_in's and the local branch's weights over the new feature start at 0, in the
    weights, their average and their Adam moments, so the widened model computes exactly what the checkpoint did
    and learns from there."""
    import torch
    F = old_hp.get("n_mels", 128)

    def grow(t, dim, n):
        shape = list(t.shape)
        shape[dim] = n
        return torch.cat([t, torch.zeros(shape, dtype=t.dtype)], dim=dim)

    widen = {"conv_in.weight": (1, F), "local1.weight": (1, 1)}
    for key in ("model", "ema"):
        sd = state.get(key)
        for name, (dim, n) in widen.items():
            if sd is not None and name in sd:
                sd[name] = grow(sd[name], dim, n)
    names = [n for n, _ in build_net(old_hp).named_parameters()]
    for idx, st in state["opt"]["state"].items():
        if names[idx] in widen:
            dim, n = widen[names[idx]]
            for m in ("exp_avg", "exp_avg_sq"):
                st[m] = grow(st[m], dim, n)


def cmd_train(a):
    import torch
    from ema import ema_update
    torch.set_num_threads(a.threads)
    from models import count_params
    dev = torch.device(a.device)
    os.makedirs(CKPT_DIR, exist_ok=True)
    name = a.name
    logp = os.path.join(CKPT_DIR, name + "_log.txt")
    last = os.path.join(CKPT_DIR, name + ".pt")
    state = torch.load(last, map_location="cpu") if os.path.exists(last) and not a.fresh else None
    if state is None and a.init_export:
        state = state_from_export(a.init_export)
        log("new line %s from the exported weights %s (step %d, %.2f h; fresh optimiser state)" % (
            name, a.init_export, state["step"], state["elapsed"] / 3600), logp)
    want_cf = bool(a.classical_input) or bool(state is not None and state["hparams"].get("classical_input"))
    shards = ShardSet(need_cf=want_cf)
    while shards.refresh() == 0:
        log("waiting for cache shards%s" % (" with the classical feature" if want_cf else ""), logp)
        time.sleep(20)
    val = val_pairs(cf=want_cf)
    # a line trained on the room's level keeps it when resumed without the flag
    room_lvl = bool(a.room_level) or bool(state is not None and state.get("room_level"))
    if room_lvl and not (state is not None and state.get("room_level")):
        log("the Room target includes the room's level from here on (room_level)", logp)
    warm_from = None
    widened = False
    if state is not None:
        hp = state["hparams"]
        if hp.get("arch") == "nrt" and "local_ch" not in hp and a.local_ch:
            # a checkpoint from before the frequency-local branch: the branch joins it (zero output at first)
            hp = dict(hp, local_ch=a.local_ch, local_dil=4)
        if a.feature_warmup and hp.get("arch") == "nrt" and not hp.get("feature_warmup"):
            # the running means start as plain averages from here on: a 2.6 s crop's long-term balance
            # was 73 % its first frame (models.warmup_alpha); the weights adapt to the truer feature
            hp = dict(hp, feature_warmup=1)
            log("feature warm-up switched on (models.warmup_alpha)", logp)
        if a.classical_input and hp.get("arch") == "nrt" and not hp.get("classical_input"):
            # the classical suppressor's gain joins the inputs with zero weights: the model starts as it was
            widen_input(state, hp)
            hp = dict(hp, classical_input=1)
            widened = True
            log("classical input switched on (cfeatures.classical_feature, zero weights at first)", logp)
        if a.decay_input and hp.get("arch") == "nrt" and not hp.get("decay_input"):
            if not hp.get("classical_input"):
                raise SystemExit("--decay-input: the decay cue follows the classical input; add --classical-input")
            widen_input(state, hp)
            hp = dict(hp, decay_input=1, decay_alpha=1.0 / 64.0)
            widened = True
            log("decay cue switched on (models.decay_feature, zero weights at first)", logp)
        log("resuming from %s at step %d (%.2f h trained)" % (last, state["step"], state["elapsed"] / 3600), logp)
    else:
        hp = dict(DEFAULT_MODEL, local_ch=a.local_ch, classical_input=int(a.classical_input))
        if a.decay_input:
            hp.update(decay_input=1, decay_alpha=1.0 / 64.0)
        src = os.path.join(CKPT_DIR, "mel2mel_gain.pt")
        if a.channels:
            hp["channels"] = int(a.channels)
        if a.dilations:
            hp["dilations"] = tuple(int(c) for c in a.dilations.split(","))
        if os.path.exists(src) and not a.no_warm_start:
            # the trunk's input normalisation must be the one it was trained with
            shp = torch.load(src, map_location="cpu")["hparams"]
            if shp.get("channels") == hp["channels"] and tuple(shp.get("dilations")) == tuple(hp["dilations"]):
                hp["norm_mean"], hp["norm_scale"] = shp["norm_mean"], shp["norm_scale"]
                warm_from = src
        if warm_from is None:
            sample = shards.arr["deg"][:400].astype(np.float32) - 20.0 / (10 * math.log10(2))
            hp["norm_mean"] = float(np.round(sample.mean(), 3))
            hp["norm_scale"] = float(np.round(1.0 / sample.std(), 4))
    net = build_net(hp)
    if state is None:
        # the corpus's mean tonal balance (clean music, all levels as cached) for the long-term feature
        cm = shards.arr["clean"][:2000].astype(np.float64).mean(axis=(0, 1))
        net.corpus_tilt.copy_(torch.from_numpy((cm - cm.mean()).astype(np.float32)))
        if warm_from:
            log("trunk warm-started from %s (step %d)" % (warm_from, warm_start(net, warm_from)), logp)
    net.to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr, betas=(0.9, 0.999))
    # Polyak average of the weights (decay a.ema): what is evaluated and exported, so a run that stops
    # at a high learning rate still ships smoothed weights
    ema = build_net(hp).to(dev)
    ema.load_state_dict(net.state_dict())
    step, elapsed = 0, 0.0
    hist = []
    if state is not None:
        grown = [k for k in net.state_dict() if k not in state["model"]]
        net.load_state_dict(state["model"], strict=not grown)
        ema.load_state_dict(state.get("ema", state["model"]), strict=not grown)
        if grown:
            # parameters the checkpoint lacks: their initial values in both copies, fresh optimiser state;
            # the others keep theirs
            own = net.state_dict()
            ema.load_state_dict({k: own[k] for k in grown}, strict=False)
            old = [prm for k, prm in net.named_parameters() if k in state["model"]]
            tmp = torch.optim.Adam(old, lr=a.lr)
            tmp.load_state_dict(state["opt"])
            for prm in old:
                if prm in tmp.state:
                    opt.state[prm] = tmp.state[prm]
            log("added to the checkpoint's model: %s" % ", ".join(grown), logp)
        else:
            opt.load_state_dict(state["opt"])
        step, elapsed = state["step"], state["elapsed"]
        hist = state.get("history", [])
        for head in filter(None, a.reinit_heads.split(",")):
            # a head whose output form changed: fresh weights (and optimiser state) in both copies
            mod = getattr(net, head + "_out")
            torch.nn.init.normal_(mod.weight, std=0.01)
            torch.nn.init.zeros_(mod.bias)
            getattr(ema, head + "_out").load_state_dict(mod.state_dict())
            for prm in mod.parameters():
                opt.state.pop(prm, None)
            log("head %s re-initialised at step %d" % (head, step), logp)
    log("model %s params %d MMAC/frame %.3f rf %d; shards %d (%d pairs); plan %d steps; this run %.2f h; "
        "threads %d; device %s" % (
            json.dumps(hp), count_params(net), net.macs_per_frame() / 1e6, net.receptive_field(),
            len(shards.loaded), shards.size(), a.total_steps, a.hours, torch.get_num_threads(), dev), logp)
    rng = np.random.default_rng(a.seed + step)
    t_run0 = time.time()
    t_ckpt = t_refresh = time.time()
    run = np.zeros(5)
    run_n = 0
    t_log = time.time()

    def save(val=None):
        st = dict(model=net.state_dict(), opt=opt.state_dict(), ema=ema.state_dict(), hparams=hp, step=step,
                  elapsed=elapsed + time.time() - t_run0, history=hist, val=val, room_level=room_lvl,
                  note="train/train_mel2mel.py train --name %s resumes from here" % name)
        st = {k: ({n: t.cpu() for n, t in v.items()} if k in ("model", "ema") else v) for k, v in st.items()}
        torch.save(st, last + ".tmp")
        os.replace(last + ".tmp", last)

    # a fresh optimiser (a new model, or a line started from an export) warms its rate up over its first
    # 200 steps: Adam's first steps move every weight by about the full rate
    k_warm = step if not any(opt.state.values()) else -10**9

    def lr_at(k):
        warm = min(1.0, (k - max(0, k_warm) + 1) / 200.0) if k_warm >= 0 else 1.0
        tail = 0.8 * a.total_steps
        if k < tail:
            return a.lr * warm
        frac = min(1.0, (k - tail) / (a.total_steps - tail))
        return a.lr_min + (a.lr - a.lr_min) * 0.5 * (1 + math.cos(math.pi * frac))

    def checkpoint():
        ema.cpu()
        res = evaluate(ema, val, room_lvl=room_lvl)
        ema.to(dev)
        hist.append(dict(step=step, hours=(elapsed + time.time() - t_run0) / 3600,
                         val={k: v[0] for k, v in res.items()}, val_input={k: v[1] for k, v in res.items()},
                         worse={k: v[2] for k, v in res.items()},
                         heads={k: v[4:7] for k, v in res.items()}, ideal={k: v[7] for k, v in res.items()}))
        save(res)
        log("step %d monitor (model / input / ideal L1, clips worse >5%%; head L1 noise/room/tone "
            "[doing nothing]): %s" % (
                step, "  ".join("%s %.3f/%.3f/%.3f %d/%d; %.3f/%.3f/%.3f [%.3f/%.3f/%.3f]" % (
                    k, v[0], v[1], v[7], v[2], v[3], v[4], v[5], v[6], v[8], v[9], v[10])
                    for k, v in res.items())), logp)

    if widened:
        # the starting point on the new monitoring pairs: what the run is to be read against
        checkpoint()
    # SIGTERM (kill, make's interrupt) ends the run at the next step with a checkpoint, so no work is lost.
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while time.time() - t_run0 < a.hours * 3600 and step < a.total_steps and not stop:
        lr = lr_at(step)
        for g in opt.param_groups:
            g["lr"] = lr
        bn = shards.batch(rng, a.batch, a.frames)
        b = {k: torch.from_numpy(v).to(dev) for k, v in bn.items() if k != "cond"}
        w_main, w_head = loss_weights(step, a)
        loss, main, heads = nrt_loss(net, b, w_main=w_main, w_head=w_head, deep=a.deep, deep_room=a.deep_room,
                                     tone_hold=a.tone_hold, room_lvl=room_lvl)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        ema_update(ema, net, min(a.ema, (1.0 + step) / (10.0 + step)))
        step += 1
        run += [float(loss), float(main)] + [float(h) for h in heads]
        run_n += 1
        if step % a.log_every == 0:
            r = run / run_n
            log("step %d loss %.4f main %.4f heads %.4f/%.4f/%.4f (w %.2f/%.2f) lr %.2e %.3f s/step run %.2f h" % (
                step, r[0], r[1], r[2], r[3], r[4], w_main, w_head, lr, (time.time() - t_log) / run_n,
                (time.time() - t_run0) / 3600), logp)
            run[:] = 0
            run_n = 0
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
    c.add_argument("--max-shards", type=int, default=30)
    c.add_argument("--pause", type=float, default=60.0, help="seconds between shards once the ring is full")
    c.add_argument("--hours", type=float, default=3.0)
    c.add_argument("--seed", type=int, default=7)
    c.add_argument("--room-midi-share", type=float, default=None,
                   help="share of the dry MIDI renders in the music of clean and room examples (default: 0.35 like "
                        "the rest): packaged soundtracks carry their own reverb (docs/status.md, Room head)")
    t = sub.add_parser("train")
    t.add_argument("--name", default="mel2mel_nrt")
    t.add_argument("--hours", type=float, default=1.5, help="wall-clock budget of this run")
    t.add_argument("--total-steps", type=int, default=150000, help="planned steps over all sessions (LR schedule)")
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
    t.add_argument("--deep", type=float, default=1.75, help="weight of a head's cut deeper than its target")
    t.add_argument("--feature-warmup", action="store_true",
                   help="on resume: switch the running means' warm-up on (new models have it)")
    t.add_argument("--deep-room", type=float, default=1.25,
                   help="the same for the Room head (its smoothed target is rarely 0 inside a room)")
    t.add_argument("--tone-hold", type=float, default=1.0,
                   help="weight of the Tone head's |gain| on examples with no colouration (not annealed)")
    t.add_argument("--warm-steps", type=int, default=2000, help="steps on the head targets alone (a fresh model)")
    t.add_argument("--anneal-steps", type=int, default=20000, help="head terms' weight 1 -> --head-final over these")
    t.add_argument("--head-final", type=float, default=0.3)
    t.add_argument("--device", default="cpu", help="cpu, or cuda where a GPU is lent")
    t.add_argument("--no-warm-start", action="store_true", help="fresh model without mel2mel_gain's trunk")
    t.add_argument("--local-ch", type=int, default=12, help="channels of the frequency-local branch (new models, "
                   "and checkpoints from before it)")
    t.add_argument("--reinit-heads", default="", help="on resume: heads (noise,room,tone) to start afresh")
    t.add_argument("--classical-input", action="store_true",
                   help="the model reads the classical suppressor's gain (new models; on resume: widened to it)")
    t.add_argument("--decay-input", action="store_true",
                   help="each band's steepest recent fall as an input (models.decay_feature; a checkpoint is widened)")
    t.add_argument("--room-level", action="store_true",
                   help="the Room target includes the room's broadband level (room_level); kept on resume")
    t.add_argument("--fresh", action="store_true")
    t.add_argument("--init-export", default="", help="a new line (no checkpoint of --name yet) starts from this "
                   "exported model file's weights, step and hours")
    e = sub.add_parser("export")
    e.add_argument("--ckpt", default=os.path.join(CKPT_DIR, "mel2mel_nrt.pt"))
    e.add_argument("--out", default=os.path.join(ROOT, "models", "mel2mel_nrt.safetensors"))
    a = ap.parse_args()
    {"cache": cmd_cache, "train": cmd_train, "export": cmd_export}[a.cmd](a)


if __name__ == "__main__":
    main()
