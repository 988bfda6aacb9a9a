#!/usr/bin/python3
"""Synthesises the bundled demo clip: ~6 s of music made entirely by this script (no
recorded or copyrighted audio), then degrades it like a phone recording in a room.

  tests/data/demo_clean.flac  the synthetic mix (reference)
  tests/data/demo_noisy.flac  the same after noise (~12 dB SNR), reverb (T60 ~0.6 s) and a
                              phone-like EQ (HP 200 Hz, 2 kHz resonance, LP 7 kHz)

Music: a I-vi-IV-V progression arpeggiated on a Karplus-Strong plucked string (tuned with a
loop all-pass so notes are in tune), a decaying bass line, and kick/snare/hi-hat made from
swept sines and filtered noise; 44.1 kHz stereo with the voices panned apart.
Deterministic (fixed seed).  Needs only numpy and scipy (plus python3-soundfile, or sox,
to write FLAC).

Usage: /usr/bin/python3 scripts/make_demo_clip.py [--out tests/data] [--seconds 6]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from scipy import signal
from scipy.io import wavfile

RATE = 44100
BPM = 120.0


def midi_hz(m):
    return 440.0 * 2.0 ** ((m - 69) / 12.0)


def pan(x, p):
    """Equal-power pan, p in [0, 1] (0 left, 1 right) -> (2, n)."""
    a = p * np.pi / 2
    return np.stack([np.cos(a) * x, np.sin(a) * x])


def karplus_strong(f, dur, rng, decay=0.996, brightness=0.6):
    """Plucked string: a noise burst circulating in a delay loop with an averaging low-pass
    and a first-order all-pass for the fractional part of the period.  Built as one IIR
    filter so scipy runs the loop in C."""
    period = RATE / f
    n_int = int(np.floor(period - 0.6))
    d = period - 0.5 - n_int  # all-pass delay in [0.1, 1.1)
    c = (1.0 - d) / (1.0 + d)
    # loop: H(z) = g * 0.5 (1 + z^-1) * (c + z^-1) / (1 + c z^-1) * z^-N
    # y = x + H y  ->  y (1 + c z^-1 - g*0.5 z^-N (c + (1+c) z^-1 + z^-2)) = x (1 + c z^-1)
    a = np.zeros(n_int + 3)
    a[0] = 1.0
    a[1] += c
    g = 0.5 * decay
    a[n_int] -= g * c
    a[n_int + 1] -= g * (1.0 + c)
    a[n_int + 2] -= g
    b = np.array([1.0, c])
    n = int(dur * RATE)
    x = np.zeros(n)
    burst = rng.uniform(-1, 1, n_int)
    # a softer pluck has less high-frequency energy in its burst
    burst = signal.lfilter([brightness], [1, -(1 - brightness)], burst)
    x[:n_int] = burst - burst.mean()
    y = signal.lfilter(b, a, x)
    return y / (np.max(np.abs(y)) + 1e-9)


def bass_note(f, dur):
    t = np.arange(int(dur * RATE)) / RATE
    env = np.exp(-t / 0.35) * (1 - np.exp(-t / 0.004))
    y = np.sin(2 * np.pi * f * t) + 0.35 * np.sin(4 * np.pi * f * t) + 0.12 * np.sin(6 * np.pi * f * t)
    return env * y


def kick(dur=0.35):
    t = np.arange(int(dur * RATE)) / RATE
    f = 45 + 75 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(f) / RATE
    return np.sin(phase) * np.exp(-t / 0.09)


def snare(rng, dur=0.25):
    t = np.arange(int(dur * RATE)) / RATE
    sos = signal.butter(2, [1200, 6000], btype="bandpass", fs=RATE, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal(t.size))
    noise /= np.max(np.abs(noise))
    tone = np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.03)
    return 0.8 * noise * np.exp(-t / 0.06) + 0.5 * tone


def hihat(rng, dur=0.08):
    t = np.arange(int(dur * RATE)) / RATE
    sos = signal.butter(4, 7000, btype="highpass", fs=RATE, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal(t.size))
    noise /= np.max(np.abs(noise))
    return noise * np.exp(-t / 0.02)


def add(mix, x, start):
    i = int(start * RATE)
    if i >= mix.shape[-1]:
        return
    n = min(x.shape[-1], mix.shape[-1] - i)
    mix[..., i:i + n] += x[..., :n]


def compose(seconds, rng):
    n = int(seconds * RATE)
    mix = np.zeros((2, n))
    beat = 60.0 / BPM
    # I - vi - IV - V in C major, two beats... one chord per 3 beats (1.5 s at 120 BPM)
    chords = [[60, 64, 67, 72], [57, 60, 64, 69], [53, 57, 60, 65], [55, 59, 62, 67]]
    bass = [36, 33, 29, 31]
    chord_len = 3 * beat
    pattern = [0, 1, 2, 3, 2, 1]  # eighth-note arpeggio
    t = 0.0
    k = 0
    while t < seconds:
        ch = chords[k % 4]
        for j, idx in enumerate(pattern):
            start = t + j * beat / 2
            f = midi_hz(ch[idx])
            note = karplus_strong(f, 1.6, rng, decay=0.995, brightness=0.5 + 0.2 * rng.random())
            vel = 0.55 + 0.15 * rng.random()
            add(mix, pan(vel * note, 0.25 + 0.5 * idx / 3), start)
        b = bass_note(midi_hz(bass[k % 4]), chord_len)
        add(mix, pan(0.7 * b, 0.5), t)
        add(mix, pan(0.5 * bass_note(midi_hz(bass[k % 4] + 12), beat), 0.5), t + 2 * beat)
        t += chord_len
        k += 1
    # drums: kick on 1 and 3, snare on 2 and 4, hats on eighths
    nbeats = int(seconds / beat) + 1
    for i in range(nbeats):
        if i % 2 == 0:
            add(mix, pan(0.9 * kick(), 0.5), i * beat)
        else:
            add(mix, pan(0.45 * snare(rng), 0.42), i * beat)
        for h in range(2):
            add(mix, pan((0.12 if h else 0.18) * hihat(rng), 0.68), i * beat + h * beat / 2)
    # gentle fade in/out so the clip does not start or end on a click
    fade = int(0.01 * RATE)
    mix[:, :fade] *= np.linspace(0, 1, fade)
    mix[:, -int(0.3 * RATE):] *= np.linspace(1, 0, int(0.3 * RATE))
    return 0.8 * mix / np.max(np.abs(mix))


def pink_noise(n, rng):
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / RATE)
    spec[1:] /= np.sqrt(f[1:] / f[1])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return x / np.std(x)


def babble(n, rng, talkers=6):
    """Speech-like noise: noise through a few formant band-passes, with syllable-rate (3-6 Hz)
    amplitude modulation, one "talker" per combination; no actual speech."""
    t = np.arange(n) / RATE
    out = np.zeros(n)
    for _ in range(talkers):
        voice = np.zeros(n)
        for lo, hi in ((250, 900), (900, 2400), (2400, 3800)):
            fc = rng.uniform(lo, hi)
            sos = signal.butter(2, [fc / 1.25, fc * 1.25], btype="bandpass", fs=RATE, output="sos")
            voice += signal.sosfilt(sos, rng.standard_normal(n)) * rng.uniform(0.4, 1.0)
        rate = rng.uniform(3, 6)
        env = np.clip(np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)), 0, None) ** 1.5
        env *= np.clip(np.sin(2 * np.pi * 0.4 * t + rng.uniform(0, 2 * np.pi)) + 0.6, 0, None)
        out += voice * env
    return out / np.std(out)


def room_ir(rng, t60=0.6, drr_db=2.0):
    """Synthetic stereo RIR: direct path, a few early reflections, then exponentially decaying
    noise (60 dB down at t60), darker as it decays.  Starts at its peak (no pre-delay)."""
    n = int(1.2 * t60 * RATE)
    t = np.arange(n) / RATE
    irs = []
    for _ in range(2):
        tail = rng.standard_normal(n) * np.exp(-6.9078 * t / t60)
        tail[: int(0.004 * RATE)] = 0  # the diffuse field builds up after the first reflections
        # high frequencies die faster: low-pass the tail progressively (two segments are enough)
        sos = signal.butter(2, 3500, fs=RATE, output="sos")
        late = int(0.08 * RATE)
        tail[late:] = signal.sosfilt(sos, tail[late:])
        for _ in range(6):
            k = int(rng.uniform(0.003, 0.03) * RATE)
            tail[k] += rng.uniform(-0.5, 0.5) * 8
        direct = np.zeros(n)
        direct[0] = 1.0
        e_tail = np.sum(tail ** 2)
        tail *= np.sqrt(10 ** (-drr_db / 10) / e_tail)
        irs.append(direct + tail)
    return np.stack(irs)


def phone_eq(x):
    hp = signal.butter(4, 200, btype="highpass", fs=RATE, output="sos")
    lp = signal.butter(4, 7000, btype="lowpass", fs=RATE, output="sos")
    # RBJ peaking biquad: +9 dB at 2 kHz, Q 2 (a small speaker/mic resonance)
    f0, gain_db, q = 2000.0, 9.0, 2.0
    a_ = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / RATE
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * a_, -2 * np.cos(w0), 1 - alpha * a_])
    a = np.array([1 + alpha / a_, -2 * np.cos(w0), 1 - alpha / a_])
    peak = np.concatenate([b / a[0], a / a[0]])[None, :]
    sos = np.concatenate([hp, peak, lp])
    return signal.sosfilt(sos, x, axis=-1)


def degrade(clean, rng, snr_db=12.0, t60=0.6):
    n = clean.shape[1]
    # noise in the room: pink ambience plus babble, partly correlated between the channels
    common = 0.6 * pink_noise(n, rng) + 0.8 * babble(n, rng)
    noise = np.stack([common + 0.5 * pink_noise(n, rng), common + 0.5 * pink_noise(n, rng)])
    p_sig = np.mean(clean ** 2)
    p_noise = np.mean(noise ** 2)
    noisy = clean + noise * np.sqrt(p_sig / p_noise * 10 ** (-snr_db / 10))
    # the room reverberates music and noise alike (the paper's order: noise, then reverb)
    ir = room_ir(rng, t60=t60)
    wet = np.stack([signal.fftconvolve(noisy[c], ir[c])[:n] for c in range(2)])
    out = phone_eq(wet)
    return 0.9 * out / np.max(np.abs(out))


def write_flac(path, x):
    """16-bit FLAC (keeps the bundled files small)."""
    pcm = np.clip(np.round(x.T * 32767), -32768, 32767).astype(np.int16)
    try:
        import soundfile

        soundfile.write(path, pcm, RATE, subtype="PCM_16", format="FLAC")
        return
    except ImportError:
        pass
    tool = shutil.which("sox") or shutil.which("flac")
    if not tool:
        sys.exit("make_demo_clip: need python3-soundfile or sox to write FLAC")
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "x.wav")
        wavfile.write(wav, RATE, pcm)
        if tool.endswith("sox"):
            subprocess.run([tool, wav, path], check=True)
        else:
            subprocess.run([tool, "-s", "-f", "-8", "-o", path, wav], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/data")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--seed", type=int, default=20220523)
    ap.add_argument("--snr", type=float, default=12.0)
    ap.add_argument("--t60", type=float, default=0.6)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    clean = compose(args.seconds, rng)
    noisy = degrade(clean, rng, snr_db=args.snr, t60=args.t60)
    os.makedirs(args.out, exist_ok=True)
    for name, x in (("demo_clean.flac", clean), ("demo_noisy.flac", noisy)):
        path = os.path.join(args.out, name)
        write_flac(path, x)
        print("wrote %s (%d bytes, %.2f s, %d Hz stereo)" % (path, os.path.getsize(path), x.shape[1] / RATE, RATE))


if __name__ == "__main__":
    main()
