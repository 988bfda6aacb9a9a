#!/usr/bin/python3
"""Self-test of the degradation chain (train/degrade.py): fast, synthetic signals only, no data files.
Prints "test_degrade: N passed, N failed" and exits nonzero on failure (tests/run.sh convention)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import degrade as D  # noqa: E402
from selftest import Checks  # noqa: E402

check = Checks("test_degrade")


def db(x):
    return 10 * np.log10(np.mean(np.asarray(x) ** 2) + 1e-30)


def tone(f, fs, n):
    return np.sin(2 * np.pi * f * np.arange(n) / fs)


for fs in (16000, 48000):
    rng = np.random.default_rng(3)
    n = 2 * fs
    x = rng.standard_normal(n)

    # EQ at 0 dB is an identity (Butterworth crossovers, zero-phase: the bands sum back exactly)
    y = D.mic_eq(x, fs, [0, 0, 0, 0])
    check(np.max(np.abs(y - x)) < 1e-6, "fs %d: 0 dB EQ not identity (err %g)" % (fs, np.max(np.abs(y - x))))

    # each band gets its gain: tones in the middle of bands 1..4 (log centres), 35 Hz band untouched
    gains = [9.0, -12.0, 6.0, -3.0]
    for f, g in ((84.0, 9.0), (450.0, -12.0), (2000.0, 6.0), (7000.0, -3.0), (15.0, 0.0)):
        t = tone(f, fs, n)
        yy = D.mic_eq(t, fs, gains)
        mid = slice(n // 4, 3 * n // 4)
        got = db(yy[mid]) - db(t[mid])
        # 4th-order crossovers overlap: allow the neighbouring band's skirt
        check(abs(got - g) < 1.5, "fs %d: EQ at %g Hz gave %.2f dB, want %.1f" % (fs, f, got, g))

    # the 35 Hz high-pass: 20 Hz strongly cut (>20 dB with 8th-order zero-phase magnitude), 200 Hz kept
    t20, t200 = tone(20.0, fs, n), tone(200.0, fs, n)
    mid = slice(n // 4, 3 * n // 4)
    check(db(D.highpass35(t20, fs)[mid]) - db(t20[mid]) < -20, "fs %d: HP35 does not cut 20 Hz" % fs)
    check(abs(db(D.highpass35(t200, fs)[mid]) - db(t200[mid])) < 0.1, "fs %d: HP35 changes 200 Hz" % fs)

    # additive noise at the requested clip-wide SNR
    s = tone(440.0, fs, n) * 0.3
    for snr in (5.0, 17.0, 30.0):
        y = D.add_noise(s, rng.standard_normal(n), snr)
        check(abs(db(s) - db(y - s) - snr) < 1e-6, "fs %d: SNR %g not met" % (fs, snr))

    # synthetic RIR: starts 2.5 ms before its peak, unit direct path, requested DRR, decay close to T60
    for t60, drr in ((0.3, 0.0), (0.8, 6.0), (2.0, -10.0)):
        h = D.synth_rir(rng, fs, t60=t60, drr_db=drr)
        pk = int(np.argmax(np.abs(h)))
        check(pk == int(round(0.0025 * fs)), "fs %d: RIR peak at %d, want 2.5 ms" % (fs, pk))
        check(abs(abs(h[pk]) - 1) < 1e-9, "fs %d: direct path not unit" % fs)
        d = int(round(0.0025 * fs)) * 2 + 1
        got = 10 * np.log10(np.sum(h[:d] ** 2) / np.sum(h[d:] ** 2))
        check(abs(got - drr) < 0.5, "fs %d: DRR %.2f, want %.1f" % (fs, got, drr))
        edc = np.cumsum((h[d:] ** 2)[::-1])[::-1]
        edc = 10 * np.log10(edc / edc[0] + 1e-30)
        i5, i25 = np.argmax(edc < -5), np.argmax(edc < -25)
        est = 3.0 * (i25 - i5) / fs
        check(0.6 * t60 < est < 1.4 * t60, "fs %d: T60 estimate %.2f for %.2f" % (fs, est, t60))

    # full chain: peak 0.95, target aligned with the direct path, same gain on both sides
    clean = 0.1 * rng.standard_normal(n)  # white: one sharp correlation peak
    h = D.synth_rir(rng, fs, t60=0.5, drr_db=10.0)
    y, c = D.degrade(rng, clean, fs, noise=rng.standard_normal(n), snr_db=30.0, rir=h, eq_gains=[0, 0, 0, 0])
    check(abs(np.max(np.abs(y)) - 0.95) < 1e-6, "fs %d: not peak-normalised" % fs)
    lag = int(np.argmax(np.correlate(y[fs // 2:fs // 2 + 4096], c[fs // 2 - 200:fs // 2 + 4096 + 200], "valid")))
    check(lag == 200, "fs %d: target misaligned by %d samples" % (fs, lag - 200))

    # phone extras keep length, finite output
    for f in (D.phone_mic, D.agc):
        z = f(rng, clean, fs)
        check(z.shape == clean.shape and np.all(np.isfinite(z)), "fs %d: %s broke the signal" % (fs, f.__name__))


# training pairs are reproducible from the generator state
class FakePool:
    rate = 16000

    def __init__(self, seed):
        self.x = np.random.default_rng(seed).standard_normal(16000 * 10).astype(np.float32) * 0.1

    def excerpt(self, rng, n, index=None):
        s = int(rng.integers(0, len(self.x) - n))
        return self.x[s:s + n]


m, nz = FakePool(1), FakePool(2)
a = D.make_training_pair(np.random.default_rng(9), m, nz, nz, 47360)
b = D.make_training_pair(np.random.default_rng(9), m, nz, nz, 47360)
check(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), "training pair not reproducible")
check(a[0].shape == (47360,) and a[1].shape == (47360,), "training pair shape")
pk = np.max(np.abs(a[0]))
check(0.95 * 10 ** (-30 / 20) - 1e-6 <= pk <= 0.95 + 1e-6, "training pair level %.4f outside -30..0 dB of 0.95" % pk)

# synthetic noise: finite, the requested length, and both steady and level-modulated draws occur
fs = 16000
spread = []
for seed in range(24):
    y = D.synthetic_noise(np.random.default_rng(seed), 3 * fs, fs)
    check(y.shape == (3 * fs,) and np.all(np.isfinite(y)) and db(y) > -200, "synthetic noise seed %d" % seed)
    blocks = [db(y[k:k + fs // 4]) for k in range(0, 3 * fs, fs // 4)]
    spread.append(max(blocks) - min(blocks))
check(min(spread) < 2.0 and max(spread) > 6.0,
      "synthetic noise: level spread over 0.25 s blocks %.1f..%.1f dB, want steady (<2) and modulated (>6) draws"
      % (min(spread), max(spread)))

# noise scenes (recorded noise played faster/slower, recoloured, mixed): the requested length, finite, reproducible,
# and different draws give differently coloured noise from the same white pool
tilts = []
for seed in range(16):
    y = D.noise_scene(np.random.default_rng(seed), nz, 2 * fs, fs)
    y2 = D.noise_scene(np.random.default_rng(seed), nz, 2 * fs, fs)
    check(y.shape == (2 * fs,) and np.all(np.isfinite(y)) and db(y) > -200 and np.array_equal(y, y2),
          "noise scene seed %d" % seed)
    Y = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1.0 / fs)
    tilts.append(10 * np.log10(Y[(f > 4000) & (f < 7000)].mean() / Y[(f > 200) & (f < 500)].mean()))
check(max(tilts) - min(tilts) > 6.0, "noise scenes all of one colour: high/low balance %.1f..%.1f dB"
      % (min(tilts), max(tilts)))
# tonal calls: unit power, and tonal (a few bins hold most of a 50 ms frame's energy)
c = D._chirps(np.random.default_rng(3), 3 * fs, fs)
check(c.shape == (3 * fs,) and abs(D.power(c) - 1.0) < 1e-6, "chirps: unit power")
k = int(np.argmax(np.convolve(c ** 2, np.ones(800), "same")))
seg = c[max(0, k - 400):k + 400] * np.hanning(len(c[max(0, k - 400):k + 400]))
S = np.sort(np.abs(np.fft.rfft(seg)) ** 2)[::-1]
check(S[:20].sum() > 0.5 * S.sum(), "chirps not tonal: top 20 bins hold %.2f of the energy" % (S[:20].sum() / S.sum()))

# source colour: same length, finite, 1 kHz untouched (the tilt's pivot, far from the filters), tilt within +-12 dB
x = np.random.default_rng(5).standard_normal(3 * fs)
f = np.fft.rfftfreq(len(x), 1.0 / fs)
X = np.abs(np.fft.rfft(x)) ** 2
for seed in range(12):
    y = D.source_colour(np.random.default_rng(seed), x, fs)
    Y = np.abs(np.fft.rfft(y)) ** 2
    mid = (f > 950) & (f < 1050)
    d1k = 10 * np.log10(Y[mid].mean() / X[mid].mean())
    check(y.shape == x.shape and np.all(np.isfinite(y)) and abs(d1k) < 1.0,
          "source colour seed %d: 1 kHz moved %.2f dB" % (seed, d1k))

# The "cabinet" evaluation condition: a response from a file, its pre-delay cut, the music's power kept,
# reproducible, and the clean reference untouched but for the 35 Hz high-pass (synthetic responses in a
# temporary folder: the real ones, train/fetch_irs.sh, are not needed here).
import tempfile  # noqa: E402
from scipy.io import wavfile  # noqa: E402


class OnePiece:
    files = ["tone.wav"]

    def __len__(self):
        return 1

    def excerpt(self, rng, n, index=None):
        t = np.arange(n) / 48000
        return 0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.sin(2 * np.pi * 3000 * t)


with tempfile.TemporaryDirectory() as d:
    h = np.zeros(2205)
    h[100] = 1.0
    h[101:] = 0.3 * np.exp(-np.arange(2104) / 200.0) * np.sin(np.arange(2104) * 0.7)
    wavfile.write(os.path.join(d, "a.wav"), 44100, (h * 20000).astype(np.int16))  # 16-bit, as rakarrack's
    wavfile.write(os.path.join(d, "b.wav"), 48000, np.r_[np.zeros(50), 0.5, np.zeros(400)].astype(np.float32))
    cab = D.eval_cabinets(48000, d)
    check(len(cab) == 2 and abs(cab[0][0]) == np.max(np.abs(cab[0])) and len(cab[1]) == 401 and len(cab[0]) > 2000,
          "eval_cabinets: two responses, each starting at its peak, the 44.1 kHz one resampled")
    s1 = D.make_eval_set("cabinet", n_clips=2, seconds=1.0, music=OnePiece(), cabinets=cab)
    s2 = D.make_eval_set("cabinet", n_clips=2, seconds=1.0, music=OnePiece(), cabinets=cab)
    check(all(np.array_equal(x["degraded"], y["degraded"]) for x, y in zip(s1, s2)), "cabinet set reproducible")
    check([c["params"]["response"] for c in s1] == [0, 1], "cabinet clips cycle through the responses")
    # a pure delta at 48 kHz (b.wav) leaves the music as it was: the degraded clip is its reference
    check(np.allclose(s1[1]["degraded"], s1[1]["clean"], atol=1e-6), "a delta response changes nothing")
    check(not np.allclose(s1[0]["degraded"], s1[0]["clean"], atol=1e-3), "a coloured response colours")
    p_in, p_out = D.power(s1[0]["clean"]), D.power(s1[0]["degraded"])
    check(abs(10 * np.log10(p_out / p_in)) < 0.5, "cabinet keeps the music's power (%.2f dB)" %
          (10 * np.log10(p_out / p_in)))
try:
    D.eval_cabinets(48000, "/nonexistent")
    check(False, "eval_cabinets without responses must raise")
except FileNotFoundError:
    check(True, "")
check.finish()
