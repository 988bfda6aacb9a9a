#!/usr/bin/python3
"""Render the MIDI files that Debian packages ship into clean training music (16 kHz mono int16 WAV).

shared/data/README.md allows the MIDI packages and General MIDI soundfonts for training.  Every MIDI file
gives four renders, so the model hears solo instruments, ensembles and distorted guitars:
  ens_fluid  the file as written, FluidR3_GM (fluid-soundfont-gm);
  ens_muse   the file as written, MuseScore_General (musescore-general-soundfont);
  solo       only the busiest melodic channel, played by one instrument drawn from SOLO_PROGRAMS;
  rock       every melodic channel but the bass on overdriven/distortion guitar (GM 29/30), drums kept.
fluidsynth renders with its reverb and chorus off (the degradation chain adds rooms), at 16 kHz; each
piece is cut to MAX_SECONDS, and one package's pieces are rendered back to back into one WAV per
variant (data/16k/music_midi/<package>/<variant>.wav), listed in data/lists/music_midi.tsv (path,
seconds, group) so data.AudioPool reads them like the other splits.

Usage: train/render_midi.py [--packages P ...]   (resumable: finished renders are skipped)
       train/render_midi.py --val   the held-out package (VAL_PACKAGE) at 48 kHz, the rock variant (stereo),
                                    into data/48k/midi_val/ and data/lists/midi_val.tsv (make eval's rock group)
Needs: fluidsynth, fluid-soundfont-gm, musescore-general-soundfont, python3-mido (mk/train.mk installs them).
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from data import DATA, read_wav, write_wav  # noqa: E402

PACKAGES = ("planetblupi-music-midi", "openttd-openmsx", "mma", "pianobooster")
# Held out: rendered only for evaluation (`--val`: the rock/guitar group of make eval, 48 kHz)
VAL_PACKAGE = "simutrans-data"
SOUNDFONTS = {"fluid": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
              "muse": "/usr/share/sounds/sf3/MuseScore_General.sf3"}
# GM programs (0-based): pianos, guitars, basses, strings, brass, reeds, pipes, organ, mallets, voice
SOLO_PROGRAMS = (0, 1, 4, 6, 11, 19, 21, 24, 25, 26, 27, 29, 30, 32, 33, 40, 41, 42, 46, 48, 52, 56, 57, 60,
                 65, 66, 68, 71, 73, 74)
MAX_SECONDS = 120.0
VARIANTS = ("ens_fluid", "ens_muse", "solo", "rock")
VARIANT_FONT = {"ens_fluid": "fluid", "ens_muse": "muse", "solo": "fluid", "rock": "muse"}
RATE = 16000


def extract(pkg, debs, dest):
    """Unpack the .mid/.midi/.kar files of one package into dest (once)."""
    if os.path.exists(os.path.join(dest, ".unpacked")):
        return
    deb = sorted(glob.glob(os.path.join(debs, pkg + "_*.deb")))
    if not deb:
        subprocess.run(["apt-get", "download", pkg], cwd=debs, check=True, capture_output=True)
        deb = sorted(glob.glob(os.path.join(debs, pkg + "_*.deb")))
    os.makedirs(dest, exist_ok=True)
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb[0]], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", dest, "--wildcards", "--no-anchored", "--ignore-case",
                    "*.mid", "*.midi", "*.kar"], stdin=tar.stdout, check=False, capture_output=True)
    tar.wait()
    open(os.path.join(dest, ".unpacked"), "w").close()


def variant_midi(mid, variant, rng):
    """A modified copy of a mido.MidiFile for one variant (None if the variant makes no sense)."""
    import mido
    if variant.startswith("ens"):
        return mid
    notes = {}
    for tr in mid.tracks:
        for m in tr:
            if m.type == "note_on" and m.velocity > 0 and m.channel != 9:
                notes[m.channel] = notes.get(m.channel, 0) + 1
    if not notes:
        return None
    out = mido.MidiFile(type=mid.type, ticks_per_beat=mid.ticks_per_beat)
    if variant == "solo":
        keep = max(notes, key=notes.get)
        prog = int(rng.choice(SOLO_PROGRAMS))
        assign = {keep: prog}
    else:  # rock: guitars on every melodic channel except the lowest (bass) one; drums stay
        low = {}
        for tr in mid.tracks:
            for m in tr:
                if m.type == "note_on" and m.velocity > 0 and m.channel != 9:
                    low.setdefault(m.channel, []).append(m.note)
        bass = min(low, key=lambda c: np.median(low[c])) if len(low) > 1 else None
        assign = {c: int(rng.choice((29, 30))) for c in notes if c != bass}
        if bass is not None:
            assign[bass] = int(rng.choice((33, 34)))
        assign[9] = None  # keep drums unchanged
    for tr in mid.tracks:
        nt = mido.MidiTrack()
        pending = 0
        for m in tr:
            ch = getattr(m, "channel", None)
            drop = ch is not None and ch not in assign
            if m.type == "program_change" and ch in assign and assign[ch] is not None:
                m = m.copy(program=assign[ch])
            if drop:
                pending += m.time  # keep the timing of what follows
                continue
            nt.append(m.copy(time=m.time + pending))
            pending = 0
        out.tracks.append(nt)
    # program changes at time 0 for channels that never set one
    head = out.tracks[0] if out.tracks else mido.MidiTrack()
    for c, p in assign.items():
        if p is not None:
            head.insert(0, mido.Message("program_change", channel=c, program=p, time=0))
    return out


def truncate(mid, max_s, pad_s=1.0):
    """One merged track (type 0) cut at max_s seconds (all notes off there), followed by pad_s of silence,
    so pieces rendered back to back stay apart."""
    import mido
    tpb = mid.ticks_per_beat
    tempo, t = 500000, 0.0
    tr = mido.MidiTrack()
    for m in mido.merge_tracks(mid.tracks):
        if m.time:
            t += mido.tick2second(m.time, tpb, tempo)
        if t > max_s:
            break
        if m.type == "end_of_track":
            continue
        tr.append(m)
        if m.type == "set_tempo":
            tempo = m.tempo
    for c in range(16):
        tr.append(mido.Message("control_change", channel=c, control=123, value=0, time=0))
    tr.append(mido.MetaMessage("end_of_track", time=int(mido.second2tick(pad_s, tpb, tempo))))
    out = mido.MidiFile(type=0, ticks_per_beat=tpb)
    out.tracks.append(tr)
    return out


def render_playlist(midis, sf2, out_wav, rate=RATE):
    """Render the MIDI files back to back in one fluidsynth run (a soundfont loads once: MuseScore's
    .sf3 takes ~15 s to decode) and write the trimmed, peak-normalised result.  Returns seconds."""
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, m in enumerate(midis):
            paths.append(os.path.join(d, "%04d.mid" % i))
            m.save(paths[-1])
        raw = os.path.join(d, "out.wav")
        subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.6", "-r", str(rate),
                        "-F", raw, "-T", "wav", sf2] + paths, check=True, capture_output=True, timeout=3600)
        x, rate = read_wav(raw)
    if x.ndim > 1 and rate == RATE:
        x = x.mean(axis=1)  # training reads mono; the 48 kHz evaluation copy stays stereo
    # first and last sample above -60 dB of the peak, without index arrays as long as the render (an hour
    # of 48 kHz stereo took 17 GB that way and was killed)
    env = np.abs(x).max(axis=-1) if x.ndim > 1 else np.abs(x)
    pk = float(env.max()) + 1e-12
    loud = env > pk * 1e-3
    if pk < 1e-4 or not loud.any():
        return 0.0
    first, last = int(np.argmax(loud)), len(loud) - 1 - int(np.argmax(loud[::-1]))
    del env, loud
    x = x[first:last + 1]
    write_wav(out_wav, x, rate, gain=0.5 / pk)
    return len(x) / rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", nargs="*", default=list(PACKAGES))
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--val", action="store_true", help="render the held-out package for evaluation")
    a = ap.parse_args()
    import mido
    debs = os.path.join(DATA, "debs")
    os.makedirs(debs, exist_ok=True)
    if a.val:
        packages, rate, variants, split = [VAL_PACKAGE], 48000, ("rock",), "midi_val"
        dst = os.path.join(DATA, "48k", split)
    else:
        packages, rate, variants, split = a.packages, RATE, VARIANTS, "music_midi"
        dst = os.path.join(DATA, "16k", split)
    rows = []
    for pkg in packages:
        src = os.path.join(DATA, "x", pkg + "_midi")
        extract(pkg, debs, src)
        files = sorted(f for f in glob.glob(os.path.join(src, "**", "*"), recursive=True)
                       if f.lower().endswith((".mid", ".midi", ".kar")))
        mids = []
        for f in files:
            try:
                mids.append(mido.MidiFile(f))
            except Exception as e:  # a broken file in a package is skipped, not fatal
                print("skip %s: %s" % (os.path.relpath(f, src), e))
        for variant in variants:
            name = os.path.join(pkg, variant + ".wav")
            out = os.path.join(dst, name)
            if not os.path.exists(out):
                rng = np.random.default_rng([a.seed, zlib.crc32(name.encode())])
                vms = [variant_midi(m, variant, rng) for m in mids]
                vms = [truncate(m, MAX_SECONDS) for m in vms if m is not None]
                sf = SOUNDFONTS[VARIANT_FONT[variant]]
                try:
                    render_playlist(vms, sf, out, rate)
                except (subprocess.SubprocessError, OSError, ValueError) as e:
                    print("render failed %s: %s" % (name, e))
                    continue
            if os.path.exists(out):
                x, rate = read_wav(out)
                rows.append((name, len(x) / rate, "midi:" + pkg))
                print("%s: %.1f min" % (name, len(x) / rate / 60), flush=True)
    os.makedirs(os.path.join(DATA, "lists"), exist_ok=True)
    with open(os.path.join(DATA, "lists", split + ".tsv"), "w") as fo:
        for name, sec, group in rows:
            fo.write("x/%s\t%.1f\t%s\n" % (name, sec, group))
    print("%s: %d renders, %.2f h" % (split, len(rows), sum(r[1] for r in rows) / 3600))


if __name__ == "__main__":
    main()
