#!/usr/bin/python3
"""`make eval`: objective evaluation of every output path against the clean validation music.

Builds the fixed evaluation sets (degrade.make_eval_set, seed 1: N clips of S seconds from the 35 validation
files at 48 kHz mono, conditions clean / noise / reverb / eq / full / phone / cabinet; noise from packages
training never hears; cabinet: real speaker and cabinet responses from rakarrack, train/fetch_irs.sh, which the
training generator never uses), plus a rock/guitar group (the held-out MIDI package rendered with distorted guitars by
render_midi.py --val, reported under "rock"), writes the degraded clips to build/eval/,
runs the C command line (build/menhance) on them, and scores

  logmel_l1   mean |log2-mel(out) - log2-mel(clean)| with the reference 16 kHz front end (outputs resampled to 16 kHz)
  mrstft      multi-resolution STFT distance at 16 kHz: mean over FFT 512/1024/2048 (hop n/4, Hann) of
              spectral convergence + mean |log10 |S_out| - log10 |S_clean||
  sisdr       scale-invariant SDR (dB) at 16 kHz, only where the output keeps the input's phase
  mrstft_fb   full-band MR-STFT at 48 kHz (FFT 1536/3072/6144), CLI outputs only

Methods: input (untouched), ideal_gains (the ceiling of mode 1: every mel band and frame at its ideal gain on the
input's spectrum and phase, Metrics-free MelInverter.ideal_gains), classical (CLI), mel2mel_phase (CLI defaults, cleaned magnitudes on the input phase; mel2mel_phase_30db: Max attenuation 30 dB),
mel2mel_gl (the network in PyTorch + Griffin-Lim in Python, 16 kHz), mel2mel_net (the network's output mel
itself, logmel_l1 only: training progress without the C path; the network reads the degraded clip resampled as
its training audio was, to16k_train, and is scored against the clean clip resampled the same way), mel2mel_diffwave (CLI --mode vocoder with models/menhance.safetensors, when its
model loads). "vocoder": resynthesis of the clean mels (griffinlim; input_phase = clean mel magnitudes on the
degraded phase of the full-chain clips) -- the ceiling of each output path with a perfect Mel2Mel.

Per condition and method, "worse_than_input" counts the clips the method made worse than the untouched input
by more than 5 % (log-mel L1, MR-STFT, full-band MR-STFT; on clean input: log-mel L1 above 0.15), and
"per_clip_logmel_l1" lists every method's log-mel L1 clip by clip. "targets"
checks the done-when bars (do no harm; per-condition ratios to the input; clean drift) for the default mode.
Writes build/eval.json and prints a table.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
from scipy import signal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.dirname(HERE)

import degrade  # noqa: E402

FS_HOST = 48000
FS = 16000


def read_audio(path):
    import soundfile as sf
    x, fs = sf.read(path, dtype="float64", always_2d=True)
    return x.mean(axis=1), fs


def write_audio(path, x, fs):
    import soundfile as sf
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, np.asarray(x, np.float32), fs, subtype="FLOAT")


def to16k(x, fs):
    if fs == FS:
        return np.asarray(x, np.float64)
    g = np.gcd(fs, FS)
    return signal.resample_poly(x, FS // g, fs // g)


def to16k_train(x, fs):
    """16 kHz as the training audio was made (ffmpeg soxr, train/data.py), for what the network reads: its
    band edge (-6 dB near 7.65 kHz) is what the network learnt hiss from, and resample_poly's (-6 dB at
    8 kHz) made the PyTorch network cut far more than it does on its own training front end (the C engine
    equalises to the same edge: engine/frontend_edge.h).  Falls back to to16k without ffmpeg."""
    if fs == FS:
        return np.asarray(x, np.float64)
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-f", "f32le", "-ar", str(fs), "-ac", "1", "-i", "-",
           "-af", "aresample=resampler=soxr:precision=28", "-ar", str(FS), "-f", "f32le", "-"]
    try:
        r = subprocess.run(cmd, input=np.asarray(x, np.float32).tobytes(), capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return to16k(x, fs)
    y = np.frombuffer(r.stdout, np.float32).astype(np.float64)
    n = int(round(len(x) * FS / fs))
    return np.pad(y, (0, max(0, n - len(y))))[:n]


# ------------------------------------------------------------------ metrics
class Metrics:
    def __init__(self):
        import torch
        from models import MelFrontEnd
        self.torch = torch
        self.fe = MelFrontEnd()

    def logmel(self, x16):
        with self.torch.no_grad():
            return self.fe(self.torch.from_numpy(np.asarray(x16, np.float32))[None])[0].numpy()

    def mags(self, x, ffts):
        """|STFT| (Hann, hop n/4, no padding) at each FFT size, float32 torch."""
        torch = self.torch
        t = torch.from_numpy(np.asarray(x, np.float32))
        out = {}
        for nf in ffts:
            S = torch.stft(t, nf, hop_length=nf // 4, win_length=nf, window=torch.hann_window(nf, periodic=True),
                           center=False, return_complex=True)
            out[nf] = S.abs().numpy()
        return out

    def mrstft(self, out, ref, ffts=(512, 1024, 2048), ref_mags=None):
        """Mean over resolutions of spectral convergence + mean |log10 |S_out| - log10 |S_ref||.
        ref_mags: the reference's mags(ref, ffts), computed once per clip."""
        n = min(len(out), len(ref))
        mo = self.mags(out[:n], ffts)
        mr = ref_mags if ref_mags is not None and len(ref) == n else self.mags(ref[:n], ffts)
        tot = 0.0
        for nf in ffts:
            So, Sr = mo[nf], mr[nf]
            T = min(So.shape[1], Sr.shape[1])
            So, Sr = So[:, :T], Sr[:, :T]
            sc = np.linalg.norm(Sr - So) / (np.linalg.norm(Sr) + 1e-12)
            lm = np.mean(np.abs(np.log10(Sr + 1e-7) - np.log10(So + 1e-7)))
            tot += sc + lm
        return float(tot / len(ffts))

    @staticmethod
    def sisdr(out, ref):
        n = min(len(out), len(ref))
        out, ref = out[:n] - np.mean(out[:n]), ref[:n] - np.mean(ref[:n])
        a = np.dot(out, ref) / (np.dot(ref, ref) + 1e-12)
        e_t = a * ref
        e_r = out - e_t
        return 10 * np.log10((np.dot(e_t, e_t) + 1e-12) / (np.dot(e_r, e_r) + 1e-12))


# ------------------------------------------------------------------ network + Griffin-Lim (Python)
def load_net(path):
    """A streaming Mel2Mel (stream, gain or nrt) from a training checkpoint (.pt: its weight average when it has
    one) or an exported .safetensors file."""
    import torch
    from models import mel2mel_from_hparams
    if path.endswith(".pt"):
        st = torch.load(path, map_location="cpu")
        hp, sd = st["hparams"], st.get("ema", st["model"])
    else:
        from export import load_file
        t, meta = load_file(path)
        hp = json.loads(meta["mel2mel"])
        sd = {k[len("mel2mel."):]: torch.from_numpy(v) for k, v in t.items() if k.startswith("mel2mel.")}
    if hp.get("arch") not in ("gain", "nrt"):
        raise ValueError("eval: only the streaming Mel2Mel models are evaluated here")
    net = mel2mel_from_hparams(hp)
    net.load_state_dict(sd)
    net.eval()
    return net


def run_net(net, logmel, wav=None):
    """log2-mel (T, 128) -> cleaned log2-mel aligned with the input frames (the look-ahead removed by feeding
    `lookahead` extra frames of the last frame and dropping the first outputs).  wav: the 16 kHz waveform the
    log-mel is of, for a model that reads the classical suppressor's gain (cfeatures.classical_feature; a
    ValueError without it)."""
    import torch
    L = net.lookahead
    x = np.concatenate([logmel, np.repeat(logmel[-1:], L, axis=0)]) if L else logmel
    kw = {}
    if getattr(net, "classical_input", 0):
        if wav is None:
            raise ValueError("run_net: this model reads the classical feature; pass the waveform")
        from cfeatures import classical_feature
        cf = classical_feature(wav)[:len(logmel)]
        cf = np.concatenate([cf, np.repeat(cf[-1:], L, axis=0)]) if L else cf
        kw["cf"] = torch.from_numpy(cf)[None]
    with torch.no_grad():
        y = net(torch.from_numpy(x.astype(np.float32))[None], **kw)[0].numpy()
    return y[L:]


class MelInverter:
    """log2-mel -> waveform: linear power from the mel by non-negative multiplicative updates (Lee-Seung,
    min ||fb P - m||), then Griffin-Lim (momentum 0.99, 'fast GL') with the reference STFT."""

    def __init__(self, fe):
        import torch
        self.torch = torch
        self.fe = fe
        self.fb = fe.fb.float()
        self.win = fe.window.float()

    def mel_to_power(self, logmel, iters=30):
        torch = self.torch
        m = torch.from_numpy((2.0 ** logmel).astype(np.float32)).T.contiguous()  # (128, T)
        fb = self.fb
        w = fb.sum(dim=1, keepdim=True).clamp(min=1e-3)
        P = (fb.T @ (m / w)).clamp(min=1e-10)
        for _ in range(iters):
            P = P * (fb.T @ m) / (fb.T @ (fb @ P) + 1e-12)
        return P  # (bins, T)

    def stft(self, x):
        return self.torch.stft(x, self.fe.n_fft, hop_length=self.fe.hop, win_length=self.fe.n_fft,
                               window=self.win, center=True, pad_mode="reflect", return_complex=True)

    def istft(self, S, n):
        return self.torch.istft(S, self.fe.n_fft, hop_length=self.fe.hop, win_length=self.fe.n_fft,
                                window=self.win, center=True, length=n)

    def griffin_lim(self, logmel, n, iters=48, seed=0):
        torch = self.torch
        mag = self.mel_to_power(logmel).sqrt()
        g = torch.Generator().manual_seed(seed)
        ang = torch.rand(mag.shape, generator=g, dtype=torch.float32) * 2 * np.pi
        S = torch.polar(mag, ang)
        prev = S
        for _ in range(iters):
            x = self.istft(S, n)
            R = self.stft(x)
            Rm = R + 0.99 * (R - prev)
            prev = R
            S = mag * Rm / (Rm.abs() + 1e-12)
        return self.istft(S, n).numpy().astype(np.float64)

    def with_phase(self, logmel, x_phase):
        """Magnitudes from the mel, phase of x_phase (16 kHz): the mel2mel_phase path with a known mel."""
        torch = self.torch
        mag = self.mel_to_power(logmel).sqrt()
        X = self.stft(torch.from_numpy(np.asarray(x_phase, np.float32)))
        T = min(X.shape[1], mag.shape[1])
        S = mag[:, :T] * X[:, :T] / (X[:, :T].abs() + 1e-12)
        return self.istft(S, len(x_phase)).numpy().astype(np.float64)


    def ideal_gains(self, deg16, clean16):
        """The ceiling of mode 1 (per-band gains on the input's spectrum and phase): each 16 kHz mel band and
        frame of the degraded clip gets its ideal gain, the clean clip's mel power over the degraded one's
        (no bound), spread to the STFT bins by the mel filters (each bin the filter-weighted mean of its bands'
        log gains).  deg16, clean16: 16 kHz float arrays; returns the degraded clip with those gains."""
        torch = self.torch
        x = torch.from_numpy(np.asarray(deg16, np.float32))
        X = self.stft(x)
        Y = self.stft(torch.from_numpy(np.asarray(clean16, np.float32)))
        T = min(X.shape[1], Y.shape[1])
        fb = self.fb  # (128, bins)
        md = (fb @ X[:, :T].abs() ** 2).clamp(min=1e-10)
        mc = (fb @ Y[:, :T].abs() ** 2).clamp(min=1e-10)
        lg = 0.5 * torch.log2(mc / md)  # log2 amplitude gain per band and frame
        w = fb.sum(dim=0, keepdim=True).T.clamp(min=1e-6)  # (bins, 1)
        gb = torch.exp2((fb.T @ lg) / w)
        S = X.clone()
        S[:, :T] = X[:, :T] * gb
        return self.istft(S, len(deg16)).numpy().astype(np.float64)


def run_diffwave(dw, logmel, n, seed):
    """DiffWave (train/diffwave.py, its fast schedule) from a log2-mel (T, 128) -> n samples at 16 kHz."""
    import torch
    from diffwave import sample
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        y = sample(dw, torch.from_numpy(logmel.T.astype(np.float32))[None], fast=True, generator=g)
    return y[0, :n].numpy().astype(np.float64)


# ------------------------------------------------------------------ CLI
def run_cli(cli, inputs, outdir, args):
    os.makedirs(outdir, exist_ok=True)
    cmd = [cli, "-q"] + args + list(inputs) + ["-o", outdir]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return "exit %d: %s" % (r.returncode, (r.stderr or r.stdout).strip()[-300:])
    return None


def mean_dict(rows):
    keys = rows[0].keys()
    out = {}
    for k in keys:
        v = [r[k] for r in rows if r.get(k) is not None]
        out[k] = round(float(np.mean(v)), 4) if v else None
    return out


HARM_METRICS = ("logmel_l1", "mrstft", "mrstft_fb")
CLEAN_L1_MAX = 0.15  # issue 8: clean input comes out nearly untouched


def worse_counts(rows, input_rows, clean):
    """Per metric, how many clips the method made worse than the untouched input by more than 5 % (on clean
    input, whose own error is 0: log-mel L1 above CLEAN_L1_MAX, and any MR-STFT above 0.05)."""
    out = {}
    for k in HARM_METRICS:
        pairs = [(r.get(k), i.get(k)) for r, i in zip(rows, input_rows)]
        pairs = [(r, i) for r, i in pairs if r is not None and i is not None]
        if not pairs:
            continue
        if clean:
            lim = CLEAN_L1_MAX if k == "logmel_l1" else 0.05
            out[k] = sum(r > lim for r, _ in pairs)
        else:
            out[k] = sum(r > 1.05 * i for r, i in pairs)
    out["of"] = len(rows)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--conditions", default="clean,noise,reverb,eq,full,phone,cabinet")
    ap.add_argument("--rock-clips", type=int, default=16,
                    help="clips per condition from the held-out MIDI rock renders (render_midi.py --val), reported "
                         "separately; 0 to skip")
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "menhance"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "mel2mel_nrt.safetensors"),
                    help="Mel2Mel for the CLI and the Python paths (.safetensors or a training .pt)")
    default_voc = os.path.join(ROOT, "models", "menhance.safetensors")
    ap.add_argument("--vocoder-model", default=default_voc if os.path.exists(default_voc) else "",
                    help="model file (Mel2Mel + DiffWave) for the CLI vocoder mode, reported as "
                         "mel2mel_diffwave ('' to skip)")
    ap.add_argument("--diffwave", default="auto", help="DiffWave .safetensors for the Python vocoder paths "
                    "('auto': models/diffwave*.safetensors if present, '' to skip)")
    ap.add_argument("--no-cli", action="store_true")
    ap.add_argument("--methods", default="classical,mel2mel_phase,mel2mel_phase_30db,mel2mel_diffwave",
                    help="the CLI methods to run (a quick comparison of two models needs only mel2mel_phase)")
    ap.add_argument("--no-gl", action="store_true")
    ap.add_argument("--gl-clips", type=int, default=20, help="Griffin-Lim (2-3 s a clip) on the first N clips only")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "eval.json"))
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "eval"))
    a = ap.parse_args()

    import torch
    torch.set_num_threads(1)
    M = Metrics()
    inv = MelInverter(M.fe)
    net = None
    if a.model and os.path.exists(a.model):
        net = load_net(a.model)
        print("eval: network %s (%s)" % (a.model, json.dumps(net.hparams())))
    else:
        print("eval: no Mel2Mel model at %s: network paths skipped" % a.model)
    have_cli = not a.no_cli and os.access(a.cli, os.X_OK)
    if not have_cli and not a.no_cli:
        print("eval: %s not built: CLI paths skipped" % a.cli)
    cli_model_args = []
    if net is not None and a.model.endswith(".safetensors"):
        cli_model_args = ["--model", a.model, "--strict"]

    voc_rows = {"griffinlim": [], "input_phase": [], "diffwave": []}
    dw = None
    if a.diffwave == "auto":
        import glob
        cands = sorted(glob.glob(os.path.join(ROOT, "models", "diffwave*.safetensors")))
        a.diffwave = cands[0] if cands else ""
    if a.diffwave:
        from diffwave import load_diffwave
        dw = load_diffwave(a.diffwave)
        dw.eval()
        res_dw = os.path.relpath(a.diffwave, ROOT)
        print("eval: DiffWave %s (%s)" % (a.diffwave, json.dumps(dw.hparams())))
    res = {"set": "val", "seed": a.seed, "clips": a.clips, "gl_clips": min(a.gl_clips, a.clips),
           "seconds": a.seconds, "rate_host": FS_HOST,
           "model": os.path.relpath(a.model, ROOT) if net is not None else None, "conditions": {}, "notes": {}}
    if dw is not None:
        res["diffwave_model"] = res_dw
    t0 = time.time()
    rock = None
    if a.rock_clips > 0:
        from data import AudioPool, DATA
        lp = os.path.join(DATA, "lists", "midi_val.tsv")
        if os.path.exists(lp):
            rock = AudioPool("midi_val", rate_dir="48k", list_path=lp)
        else:
            print("eval: no held-out rock renders (train/render_midi.py --val): rock group skipped")
    res["rock"] = {}
    jobs = [("all", c) for c in a.conditions.split(",")]
    if rock is not None:
        jobs += [("rock", c) for c in a.conditions.split(",")]
    for group, cond in jobs:
        if group == "rock":
            clips = degrade.make_eval_set(cond, seed=a.seed + 100, n_clips=a.rock_clips, seconds=a.seconds,
                                          fs=FS_HOST, music=rock)
        else:
            clips = degrade.make_eval_set(cond, seed=a.seed, n_clips=a.clips, seconds=a.seconds, fs=FS_HOST)
        cdir = os.path.join(a.workdir, cond if group == "all" else "rock_" + cond)
        if os.path.isdir(cdir):
            shutil.rmtree(cdir)
        paths = []
        for c in clips:
            p = os.path.join(cdir, "degraded", c["name"] + ".wav")
            write_audio(p, c["degraded"], FS_HOST)
            write_audio(os.path.join(cdir, "clean", c["name"] + ".wav"), c["clean"], FS_HOST)
            paths.append(p)
        outs = {"input": [c["degraded"] for c in clips]}
        if have_cli:
            for method, args in (("classical", ["-m", "classical", "--no-model"]),
                                 ("mel2mel_phase", ["-m", "mel2mel"] + cli_model_args),
                                 # the same with the model's full cut range (Max attenuation bounds it;
                                 # the default 6 dB is the gentle classical setting)
                                 ("mel2mel_phase_30db", ["-m", "mel2mel", "--max-atten", "30"] + cli_model_args),
                                 # mode 2 measured even before its gate passed (train/vocoder_gate.py decides
                                 # the gate from this); --strict: never mode 1 in its place
                                 ("mel2mel_diffwave", ["-m", "vocoder", "--model", a.vocoder_model, "--strict",
                                                       "--experimental-vocoder"])):
                if method not in a.methods.split(","):
                    continue
                if method.startswith("mel2mel_phase") and not cli_model_args:
                    continue
                if method == "mel2mel_diffwave" and not a.vocoder_model:
                    continue  # the CLI's vocoder mode needs a model file that carries a vocoder
                err = run_cli(a.cli, paths, os.path.join(cdir, method), args)
                if err:
                    res["notes"]["%s/%s" % (cond, method)] = err
                    print("eval: %s %s failed: %s" % (cond, method, err))
                    continue
                outs[method] = [read_audio(os.path.join(cdir, method, c["name"] + ".wav"))[0] for c in clips]
        FFB = (1536, 3072, 6144)
        refs = []
        for c in clips:  # everything about the clean reference, once per clip
            ref16 = to16k(c["clean"], FS_HOST)
            refs.append(dict(ref16=ref16, lr=M.logmel(ref16), m16=M.mags(ref16, (512, 1024, 2048)),
                             m48=M.mags(c["clean"], FFB), deg16=to16k(c["degraded"], FS_HOST),
                             deg16_train=to16k_train(c["degraded"], FS_HOST) if net is not None else None,
                             lr_train=M.logmel(to16k_train(c["clean"], FS_HOST)) if net is not None else None))
        rows = {}
        for method, ys in outs.items():
            rows[method] = []
            for c, r, y in zip(clips, refs, ys):
                y16 = r["deg16"] if method == "input" else to16k(y, FS_HOST)
                lr, lo = r["lr"], M.logmel(y16)
                T = min(len(lr), len(lo))
                rows[method].append(dict(logmel_l1=float(np.mean(np.abs(lr[:T] - lo[:T]))),
                                         mrstft=M.mrstft(y16, r["ref16"], ref_mags=r["m16"]),
                                         sisdr=M.sisdr(y16, r["ref16"]),
                                         mrstft_fb=M.mrstft(y, c["clean"], FFB, ref_mags=r["m48"])))
        # the ceiling of mode 1 (ideal per-band gains on the input's phase), every clip
        rows["ideal_gains"] = []
        for c, r in zip(clips, refs):
            y16 = inv.ideal_gains(r["deg16"], r["ref16"])
            lo = M.logmel(y16)
            T = min(len(lo), len(r["lr"]))
            rows["ideal_gains"].append(dict(logmel_l1=float(np.mean(np.abs(lo[:T] - r["lr"][:T]))),
                                            mrstft=M.mrstft(y16, r["ref16"], ref_mags=r["m16"]),
                                            sisdr=M.sisdr(y16, r["ref16"])))
        if net is not None:
            rows["mel2mel_net"], rows["mel2mel_gl"] = [], []
            for i, (c, r) in enumerate(zip(clips, refs)):
                ref16, deg16, lr = r["ref16"], r["deg16"], r["lr"]
                y = run_net(net, M.logmel(r["deg16_train"]), r["deg16_train"])
                # against the clean clip through the same soxr front end: the network's top bands carry
                # soxr's edge, which resample_poly's reference lacks (up to 2 log2 units at 7.7-8 kHz)
                rows["mel2mel_net"].append(dict(logmel_l1=float(np.mean(np.abs(y - r["lr_train"])))))
                if not a.no_gl and i < a.gl_clips:
                    w = inv.griffin_lim(y, len(deg16), seed=i)
                    lo = M.logmel(w)
                    rows["mel2mel_gl"].append(dict(logmel_l1=float(np.mean(np.abs(lo - lr))),
                                                   mrstft=M.mrstft(w, ref16, ref_mags=r["m16"]), sisdr=None))
            if not rows["mel2mel_gl"]:
                del rows["mel2mel_gl"]
            if dw is not None:
                rows["mel2mel_diffwave_py"] = []
                for i, (c, r) in enumerate(zip(clips[:a.gl_clips], refs)):
                    ref16, lr = r["ref16"], r["lr"]
                    w = run_diffwave(dw, run_net(net, M.logmel(r["deg16_train"]), r["deg16_train"]), len(ref16), i)
                    rows["mel2mel_diffwave_py"].append(dict(logmel_l1=float(np.mean(np.abs(M.logmel(w) - lr))),
                                                            mrstft=M.mrstft(w, ref16), sisdr=None))
        if cond == "full" and not a.no_gl and group == "all":
            for i, (c, r) in enumerate(zip(clips[:a.gl_clips], refs)):
                ref16, deg16, lr = r["ref16"], r["deg16"], r["lr"]
                w = inv.griffin_lim(lr, len(ref16), seed=i)
                voc_rows["griffinlim"].append(dict(logmel_l1=float(np.mean(np.abs(M.logmel(w) - lr))),
                                                   mrstft=M.mrstft(w, ref16)))
                if dw is not None:
                    w = run_diffwave(dw, lr, len(ref16), i)
                    voc_rows["diffwave"].append(dict(logmel_l1=float(np.mean(np.abs(M.logmel(w) - lr))),
                                                     mrstft=M.mrstft(w, ref16)))
                w = inv.with_phase(lr, deg16)
                voc_rows["input_phase"].append(dict(logmel_l1=float(np.mean(np.abs(M.logmel(w) - lr))),
                                                    mrstft=M.mrstft(w, ref16), sisdr=M.sisdr(w, ref16)))
        summary = {m: mean_dict(r) for m, r in rows.items()}
        for m, r in rows.items():
            if m != "input" and len(r) == len(rows["input"]):
                summary[m]["worse_than_input"] = worse_counts(r, rows["input"], cond == "clean")
        # per clip, for finding which recordings a method harms: log-mel L1 of each clip, in clip order
        summary["per_clip_logmel_l1"] = {
            "clips": [c["name"] for c in clips],
            **{m: [round(x["logmel_l1"], 4) for x in r] for m, r in rows.items() if len(r) == len(clips)}}
        (res["conditions"] if group == "all" else res["rock"])[cond] = summary
        print("eval: %s %s done (%d clips, %.0f s)" % (group, cond, len(clips), time.time() - t0), flush=True)
    res["vocoder"] = {k: mean_dict(v) for k, v in voc_rows.items() if v}

    # targets of issue 8 (do no harm, then clean), for the default mode (mel2mel_phase) and the classical mode
    tg = {}
    conds = res["conditions"]
    m = "mel2mel_phase"
    degraded = {k: v for k, v in conds.items() if k != "clean"}
    if any(m in c for c in conds.values()):
        tg["default_no_worse_than_input_on_means"] = all(
            c[m][k] <= c["input"][k] for c in degraded.values() if m in c for k in HARM_METRICS
            if c[m].get(k) is not None and c["input"].get(k) is not None)
        tg["default_worse_5pct_fraction_max"] = max(
            (c[m]["worse_than_input"]["logmel_l1"] / c[m]["worse_than_input"]["of"]) for c in conds.values()
            if m in c and "worse_than_input" in c[m])
        tg["default_fewer_than_1_in_8_worse"] = tg["default_worse_5pct_fraction_max"] < 1 / 8
        if "clean" in conds and m in conds["clean"]:
            tg["default_clean_logmel_l1"] = conds["clean"][m]["logmel_l1"]
            tg["default_clean_le_0.15"] = conds["clean"][m]["logmel_l1"] <= CLEAN_L1_MAX
        # the Noise / Room / Tone model's bars: log-mel L1 against the input per condition, clean drift <= 0.05
        for c, bar in (("noise", 0.85), ("reverb", 0.90), ("eq", 0.75), ("full", 0.80), ("phone", 0.85)):
            if c in conds and m in conds[c]:
                tg["default_%s_ratio" % c] = round(conds[c][m]["logmel_l1"] / conds[c]["input"]["logmel_l1"], 3)
                tg["default_%s_le_%g" % (c, bar)] = tg["default_%s_ratio" % c] <= bar
        # real colourations from outside the generator: reported next to eq, no bar of their own
        if "cabinet" in conds and m in conds["cabinet"]:
            tg["default_cabinet_ratio"] = round(conds["cabinet"][m]["logmel_l1"] /
                                                conds["cabinet"]["input"]["logmel_l1"], 3)
        if "clean" in conds and m in conds["clean"]:
            tg["default_clean_le_0.05"] = conds["clean"][m]["logmel_l1"] <= 0.05
    if "noise" in conds and "classical" in conds["noise"]:
        tg["classical_noise_no_worse_than_input"] = all(
            conds["noise"]["classical"][k] <= conds["noise"]["input"][k] for k in HARM_METRICS
            if conds["noise"]["classical"].get(k) is not None)
    res["targets"] = tg

    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    # table
    print("\n%-8s %-16s %9s %8s %8s %9s" % ("cond", "method", "logmel_l1", "mrstft", "sisdr", "mrstft_fb"))
    fmt = lambda v, f: (f % v) if v is not None else "-"  # noqa: E731
    for gname, gres in (("", res["conditions"]), ("rock_", res["rock"])):
        for cond, ms in gres.items():
            for m, v in ms.items():
                if m == "per_clip_logmel_l1":
                    continue
                w = v.get("worse_than_input")
                print("%-8s %-16s %9s %8s %8s %9s %s" % (
                    gname + cond, m, fmt(v.get("logmel_l1"), "%.3f"), fmt(v.get("mrstft"), "%.3f"),
                    fmt(v.get("sisdr"), "%.2f"), fmt(v.get("mrstft_fb"), "%.3f"),
                    ("worse %d/%d" % (w["logmel_l1"], w["of"])) if w and "logmel_l1" in w else ""))
    for m, v in res["vocoder"].items():
        print("%-8s %-16s %9s %8s %8s" % ("vocoder", m, fmt(v.get("logmel_l1"), "%.3f"), fmt(v.get("mrstft"), "%.3f"),
                                          fmt(v.get("sisdr"), "%.2f")))
    if tg:
        print("targets:", json.dumps(tg))
    print("eval: wrote %s (%.0f s)" % (a.out, time.time() - t0))


if __name__ == "__main__":
    main()
