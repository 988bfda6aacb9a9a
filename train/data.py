#!/usr/bin/python3
"""Audio data plumbing for menhance training/eval.

`convert`: decode the files of one list (shared/data/*.tsv layout: path, seconds, ...) to int16 WAV at a
given rate/channel count with ffmpeg (one process at a time, niced by the caller). Loops in
planetblupi-music-ogg are cut to one period (the listed duration).

Loaders: `AudioPool` keeps a split's int16 files in memory (27 h of 16 kHz mono is 3.2 GB: fine here, but it
memory-maps so small machines work too) and hands out random excerpts.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data")


def read_list(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            cols = line.split("\t")
            rows.append((cols[0], float(cols[1]), cols[2:] if len(cols) > 2 else []))
    return rows


def out_name(rel):
    """x/<pkg>/<path>.ogg -> <pkg>/<path>.wav"""
    parts = rel.split("/", 1)
    rel = parts[1] if parts[0] == "x" else rel
    return os.path.splitext(rel)[0] + ".wav"


def _convert_inprocess(inp, tmp, rate, channels):
    """libsndfile decode + polyphase resampling (scipy, Kaiser window); False if libsndfile cannot read it."""
    try:
        import soundfile as sf
        from scipy import signal
        x, fs = sf.read(inp, dtype="float64", always_2d=True)
    except Exception:
        return False
    if x.shape[0] == 0:
        return False
    x = x.mean(axis=1, keepdims=True) if channels == 1 else (
        np.repeat(x, channels, axis=1) if x.shape[1] == 1 else x[:, :channels])
    if fs != rate:
        g = np.gcd(int(fs), int(rate))
        x = signal.resample_poly(x, rate // g, fs // g, axis=0)
    write_wav(tmp, x, rate)
    return True


def convert(list_path, src, dst, rate, channels):
    rows = read_list(list_path)
    done = skipped = failed = 0
    for rel, seconds, _ in rows:
        out = os.path.join(dst, out_name(rel))
        if os.path.exists(out):
            skipped += 1
            continue
        inp = os.path.join(src, rel)
        if not os.path.exists(inp):
            print("convert: missing %s" % inp, file=sys.stderr)
            failed += 1
            continue
        os.makedirs(os.path.dirname(out), exist_ok=True)
        tmp = out + ".part.wav"
        if os.path.getsize(inp) < 4 << 20 and "planetblupi-music-ogg" not in rel and _convert_inprocess(
                inp, tmp, rate, channels):
            # small files (the 11k speech clips): one ffmpeg process each costs more than the decode
            os.replace(tmp, out)
            done += 1
            continue
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-threads", "1", "-i", inp]
        if "planetblupi-music-ogg" in rel:
            cmd += ["-t", "%.3f" % seconds]  # exact loops: keep one period
        # soxr for a clean band edge; dither off: int16 from float decode either way
        cmd += ["-map", "0:a:0", "-ac", str(channels), "-af", "aresample=resampler=soxr:precision=28",
                "-ar", str(rate), "-c:a", "pcm_s16le", "-f", "wav", "-bitexact", tmp]
        r = subprocess.run(cmd)
        if r.returncode != 0:
            print("convert: ffmpeg failed on %s" % inp, file=sys.stderr)
            failed += 1
            if os.path.exists(tmp):
                os.unlink(tmp)
            continue
        os.replace(tmp, out)
        done += 1
    print("convert %s -> %s: %d converted, %d already there, %d failed" % (
        os.path.basename(list_path), dst, done, skipped, failed))
    return failed == 0


def wav_memmap(path):
    """int16 WAV as a read-only memmap (frames x channels). Finds the data chunk by walking chunks."""
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError("not a WAV: " + path)
        channels = 1
        rate = 0
        while True:
            ch = f.read(8)
            if len(ch) < 8:
                raise ValueError("no data chunk: " + path)
            cid, size = ch[:4], int.from_bytes(ch[4:], "little")
            if cid == b"fmt ":
                fmt = f.read(size)
                channels = int.from_bytes(fmt[2:4], "little")
                rate = int.from_bytes(fmt[4:8], "little")
                bits = int.from_bytes(fmt[14:16], "little")
                if bits != 16:
                    raise ValueError("not int16: " + path)
            elif cid == b"data":
                off = f.tell()
                total = os.path.getsize(path)
                size = min(size, total - off) if size else total - off
                n = size // (2 * channels)
                arr = np.memmap(path, dtype="<i2", mode="r", offset=off, shape=(n, channels))
                return arr, rate
            else:
                f.seek(size + (size & 1), 1)


def read_wav(path):
    """float32 (frames,) for mono or (frames, channels), and the rate."""
    arr, rate = wav_memmap(path)
    x = np.asarray(arr, dtype=np.float32) / 32768.0
    return (x[:, 0] if x.shape[1] == 1 else x), rate


def write_wav(path, x, rate, gain=1.0):
    """float (frames,) or (frames, ch), times gain -> int16 WAV (clipped), converted a block at a time so a
    long file needs no more than its own size in memory."""
    import wave
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[:, None]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with wave.open(path, "wb") as w:
        w.setnchannels(x.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        for i in range(0, len(x), 1 << 20):
            b = np.asarray(x[i:i + (1 << 20)], dtype=np.float64) * (gain * 32767.0)
            w.writeframes(np.clip(np.round(b), -32768, 32767).astype("<i2").tobytes())


class _WavRef:
    """An int16 WAV's sample data, read on demand (no open file kept)."""

    def __init__(self, path, offset, frames, channels):
        self.path, self.offset, self.shape = path, offset, (frames, channels)

    def __getitem__(self, sl):
        start, stop, _ = sl.indices(self.shape[0]) if isinstance(sl, slice) else (0, self.shape[0], 1)
        ch = self.shape[1]
        a = np.fromfile(self.path, dtype="<i2", count=(stop - start) * ch, offset=self.offset + 2 * start * ch)
        return a.reshape(-1, ch)

    def __array__(self, dtype=None):
        a = self[:]
        return a.astype(dtype) if dtype is not None else a


class AudioPool:
    """All converted files of one split, memory-mapped. Random excerpts, weighted by length."""

    def __init__(self, split, rate_dir="16k", list_path=None, min_seconds=0.5, packages=None,
                 exclude_packages=None):
        """packages / exclude_packages: keep only (or drop) files of these Debian packages (paths are
        x/<package>/...), so evaluation can hold sources out by package."""
        base = os.path.join(DATA, rate_dir, split)
        if list_path is None:
            list_path = os.path.join(DATA, "lists", split + ".tsv")
        self.files, self.arrays = [], []
        for rel, _, _ in read_list(list_path):
            pkg = rel.split("/")[1] if rel.startswith("x/") else ""
            if (packages is not None and pkg not in packages) or (exclude_packages and pkg in exclude_packages):
                continue
            p = os.path.join(base, out_name(rel))
            if not os.path.exists(p):
                continue  # not converted (yet): the pool works on what is there
            arr, self.rate = wav_memmap(p)
            if arr.shape[0] < min_seconds * self.rate:
                continue
            self.files.append(p)
            # keep (offset, frames, channels), not the memmap: 11k speech files would exhaust file descriptors
            self.arrays.append(_WavRef(p, arr.offset, arr.shape[0], arr.shape[1]))
            del arr
        if not self.arrays:
            raise RuntimeError("no audio for split %s under %s" % (split, base))
        self.lengths = np.array([a.shape[0] for a in self.arrays], dtype=np.float64)
        self.weights = self.lengths / self.lengths.sum()

    def __len__(self):
        return len(self.arrays)

    def hours(self):
        return self.lengths.sum() / self.rate / 3600.0

    def excerpt(self, rng, n, index=None):
        """n samples (mono float32) from a random (or given) file; files shorter than n are looped."""
        i = rng.choice(len(self.arrays), p=self.weights) if index is None else index
        a = self.arrays[i]
        L = a.shape[0]
        if L >= n:
            s = int(rng.integers(0, L - n + 1))
            x = a[s:s + n].astype(np.float32)
        else:
            reps = -(-n // L)
            x = np.tile(a[:].astype(np.float32), (reps, 1))[:n]
        return x.mean(axis=1) / 32768.0


class MixPool:
    """Several pools as one: a pool is drawn with the given probability, then an excerpt from it."""

    def __init__(self, pools, probs):
        self.pools = list(pools)
        p = np.asarray(probs, np.float64)
        self.p = p / p.sum()
        self.rate = self.pools[0].rate

    def __len__(self):
        return sum(len(p) for p in self.pools)

    def hours(self):
        return sum(p.hours() for p in self.pools)

    def excerpt(self, rng, n, index=None):
        return self.pools[int(rng.choice(len(self.pools), p=self.p))].excerpt(rng, n)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert")
    c.add_argument("--list", required=True)
    c.add_argument("--src", required=True)
    c.add_argument("--dst", required=True)
    c.add_argument("--rate", type=int, default=16000)
    c.add_argument("--channels", type=int, default=1)
    a = ap.parse_args()
    if a.cmd == "convert":
        sys.exit(0 if convert(a.list, a.src, a.dst, a.rate, a.channels) else 1)


if __name__ == "__main__":
    main()

