"""Writes the committed C-vs-PyTorch parity files (random weights, fixed seeds):

    tests/golden/nn_m2m_resnet_small.safetensors   reduced Mel2MelResNet (ngf 8, 2 blocks)
    tests/golden/nn_m2m_gain_small.safetensors     Mel2MelGain 16 channels, dilations 1/2/4, L 2
    tests/golden/nn_m2m_gain_b.safetensors         Mel2MelGain 8 channels, dilations 3/1, kt 2, L 0
    tests/golden/nn_m2m_nrt_small.safetensors      Mel2MelNRT 16 channels, dilations 1/2/4, 6 basis, local 5, L 2
    tests/golden/nn_m2m_nrt_b.safetensors          Mel2MelNRT 8 channels, dilations 3/1, kt 2, local 3 dil 2, L 0
    tests/golden/nn_m2m_nrt_w.safetensors          as nrt_small with feature_warmup (running means start as averages)
    tests/golden/nn_m2m_nrt_c.safetensors          as nrt_small with feature_warmup, reading the classical suppressor's gain (golden.cf)
    tests/golden/engine_cut.safetensors            Mel2MelGain that cuts every band by ~30 dB (engine tests)
    tests/golden/engine_identity.safetensors       Mel2MelGain with 0 dB in every band (engine tests)
    tests/golden/engine_nrt.safetensors            Mel2MelNRT: noise -9, room -6, tone +4 dB everywhere (engine tests)
    tests/golden/engine_classical.safetensors      Mel2MelNRT whose Noise head is the classical feature (engine tests)
    tests/fuzz/corpus/*                             tiny valid model files and truncations

Each golden file is a normal model file plus "golden.input" (T x 128 log2-mel) and
"golden.output" (what PyTorch computes; for the streaming models the raw streaming output, where
output[t] estimates clean[t - lookahead]).  Mel2MelNRT files also hold "golden.strength" (the
three head strengths) and "golden.output_strength" (the output with those strengths).  Run: /usr/bin/python3 train/golden.py
(or `train/golden.py --full DIR` for full-size parity files that are not committed).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import export_mel2mel, save_file, mel2mel_tensors  # noqa: E402
from models import FRONTEND, Mel2MelGain, Mel2MelNRT, Mel2MelResNet  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def randomize(net, seed):
    """Non-trivial random weights everywhere (default init leaves norms at 1/0 and output convs
    at zero, which would hide bugs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() == 1 and "norm" in name:
                p.copy_((1.0 + 0.2 * torch.randn(p.shape, generator=g)) if name.endswith("weight")
                        else 0.2 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[1] * p[0, 0].numel()
                if isinstance(net, Mel2MelResNet) and name.startswith("up."):
                    fan_in = p.shape[0] * p[0, 0].numel() / 4.0  # stride-2 transposed conv
                p.copy_(torch.randn(p.shape, generator=g) * (1.5 / fan_in) ** 0.5)


def clip(T, n_mels, seed):
    """A log2-mel-like input: a smooth spectral envelope, harmonics and noise."""
    g = torch.Generator().manual_seed(seed)
    f = torch.arange(n_mels, dtype=torch.float32)
    t = torch.arange(T, dtype=torch.float32)[:, None]
    x = -4.0 - 0.05 * f + 2.0 * torch.sin(f / 7.0 + t / 5.0) + 1.5 * torch.randn(T, n_mels,
                                                                                 generator=g)
    return x


def classical_clip(T, n_mels, seed):
    """A classical-suppressor-gain-like input (log2 power gains <= 0): deep cuts in some bands and frames, 0 dB
    in others (whole bands of steady partials, the first frames)."""
    g = torch.Generator().manual_seed(seed)
    cf = torch.clamp(-4.0 + 3.0 * torch.randn(T, n_mels, generator=g), -9.97, 0.0)
    cf[:, ::5] = 0.0
    cf[:3] = 0.0
    return cf


def write_golden(net, path, T, seed):
    net.eval()
    x = clip(T, net.n_mels, seed)
    extra = {"golden.input": x.numpy()}
    cf = None
    if getattr(net, "classical_input", 0):
        cf = classical_clip(T, net.n_mels, seed + 1)
        extra["golden.cf"] = cf.numpy()
        cf = cf[None]
    kw = {"cf": cf} if cf is not None else {}
    with torch.no_grad():
        y = net(x[None], **kw)[0]
        if isinstance(net, Mel2MelNRT):
            k = (0.0, 2.0, 0.5)
            extra["golden.strength"] = np.array(k, np.float32)
            extra["golden.output_strength"] = net(x[None], strength=k, **kw)[0].numpy()
    extra["golden.output"] = y.numpy()
    export_mel2mel(net, path, extra_meta={"golden": "train/golden.py seed %d" % seed}, extra_tensors=extra)
    print("%-50s %7d bytes, output max |y| %.3f" % (os.path.relpath(path, ROOT),
                                                     os.path.getsize(path), y.abs().max()))


def fuzz_corpus(outdir):
    os.makedirs(outdir, exist_ok=True)
    seeds = []
    r = Mel2MelResNet(ngf=1, n_blocks=1, n_down=1, n_mels=8)
    randomize(r, 12)
    gn = Mel2MelGain(channels=3, dilations=(1, 2), lookahead=1, n_mels=8)
    randomize(gn, 13)
    for name, net in (("resnet", r), ("gain", gn)):
        path = os.path.join(outdir, "tiny_%s.safetensors" % name)
        export_mel2mel(net, path)
        seeds.append(path)
    with open(seeds[0], "rb") as f:
        data = f.read()
    for cut in (7, 8, 40, len(data) // 2, len(data) - 1):
        with open(os.path.join(outdir, "trunc_%d" % cut), "wb") as f:
            f.write(data[:cut])
    # A tiny DiffWave (the DiffWave loader's seed) and a Mel2Mel whose front end differs (the
    # engine's front-end check); both go through every loader in the fuzz target.
    from diffwave import DiffWave, export_diffwave
    torch.manual_seed(14)
    dw = DiffWave(layers=2, channels=4, cycle=2, n_mels=8, embed_dim=8, causal=True).eval()
    export_diffwave(dw, os.path.join(outdir, "tiny_diffwave.safetensors"))
    fe = dict(FRONTEND, n_mels=64, hop=160)
    export_mel2mel(gn, os.path.join(outdir, "tiny_gain_frontend.safetensors"),
                   extra_meta={"frontend": json.dumps(fe)})
    # A file with metadata but an F16 tensor and an I64 tensor (exercises the dtype paths).
    save_file({"mel2mel.x": np.ones((2, 3), np.float16), "step": np.arange(3, dtype=np.int64)},
              os.path.join(outdir, "dtypes.safetensors"),
              {"mel2mel": json.dumps(gn.hparams()), "frontend": json.dumps(FRONTEND)})


def full_size(outdir):
    """Full-size parity files (too big to commit, ~46 MB): the reference ResNet at 11.37 M
    parameters and the default noise/room/tone model.  Checked by
    MENHANCE_NN_FULL_GOLDEN=DIR build/tests/test_nn_mel2mel (make check-nn-full)."""
    os.makedirs(outdir, exist_ok=True)
    r = Mel2MelResNet()
    randomize(r, 21)
    write_golden(r, os.path.join(outdir, "nn_full_resnet.safetensors"), 185, 201)
    s = Mel2MelNRT()
    randomize(s, 22)
    write_golden(s, os.path.join(outdir, "nn_full_nrt.safetensors"), 185, 202)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--full":
        full_size(sys.argv[2])
        return
    torch.manual_seed(0)
    gdir = os.path.join(ROOT, "tests", "golden")
    os.makedirs(gdir, exist_ok=True)
    r = Mel2MelResNet(ngf=8, n_blocks=2, n_down=2)
    randomize(r, 1)
    write_golden(r, os.path.join(gdir, "nn_m2m_resnet_small.safetensors"), 37, 101)
    # gain models: output large enough to reach both soft bounds (randomize scales conv_out up)
    gs = Mel2MelGain(channels=16, dilations=(1, 2, 4), lookahead=2, norm_mean=-6.0, norm_scale=0.3)
    randomize(gs, 4)
    with torch.no_grad():
        gs.conv_out.weight.mul_(8.0)
    write_golden(gs, os.path.join(gdir, "nn_m2m_gain_small.safetensors"), 70, 104)
    gb = Mel2MelGain(channels=8, dilations=(3, 1), lookahead=0, kt=2, norm_mean=-5.0, norm_scale=0.5,
                     lift_db=6.0, cut_db=20.0, ema_alpha=0.1, floor_rise=0.05)
    randomize(gb, 5)
    write_golden(gb, os.path.join(gdir, "nn_m2m_gain_b.safetensors"), 41, 105)
    # noise/room/tone models: heads scaled up so the cuts and the tone bound are reached
    for name, kw, seed in (("small", dict(channels=16, dilations=(1, 2, 4), lookahead=2, n_basis=6,
                                          norm_mean=-6.0, norm_scale=0.3, local_ch=5), 6),
                           ("b", dict(channels=8, dilations=(3, 1), lookahead=0, kt=2, n_basis=4, norm_mean=-5.0,
                                      norm_scale=0.5, cut_db=20.0, tone_db=6.0, ema_alpha=0.1, floor_rise=0.05,
                                      lt_alpha=0.05, tone_alpha=0.2, local_ch=3, local_dil=2), 7),
                           ("w", dict(channels=16, dilations=(1, 2, 4), lookahead=2, n_basis=6, norm_mean=-6.0,
                                      norm_scale=0.3, local_ch=5, ema_alpha=0.05, lt_alpha=0.01,
                                      feature_warmup=1), 8),
                           ("c", dict(channels=16, dilations=(1, 2, 4), lookahead=2, n_basis=6, norm_mean=-6.0,
                                      norm_scale=0.3, local_ch=5, feature_warmup=1, classical_input=1), 9),
                           ("d", dict(channels=16, dilations=(1, 2, 4), lookahead=2, n_basis=6, norm_mean=-6.0,
                                      norm_scale=0.3, local_ch=5, feature_warmup=1, classical_input=1,
                                      decay_input=1, decay_alpha=0.1), 10)):
        nrt = Mel2MelNRT(**kw)
        randomize(nrt, seed)
        with torch.no_grad():
            for head in (nrt.noise_out, nrt.room_out, nrt.tone_out, nrt.local_out):
                head.weight.mul_(8.0)
            nrt.corpus_tilt.copy_(torch.linspace(1.0, -1.0, nrt.n_mels))
        write_golden(nrt, os.path.join(gdir, "nn_m2m_nrt_%s.safetensors" % name), 90, 100 + seed)
    # A gain model that asks for a ~30 dB cut in every band whatever it hears (zero weights, output
    # bias -30): the engine tests check that Max attenuation bounds it (tests/test_engine_model.c).
    cut = Mel2MelGain(channels=4, dilations=(1,), lookahead=2)
    with torch.no_grad():
        for prm in cut.parameters():
            prm.zero_()
        cut.conv_out.bias.fill_(-30.0)
    export_mel2mel(cut, os.path.join(gdir, "engine_cut.safetensors"),
                   extra_meta={"golden": "train/golden.py: cuts every band by ~30 dB"})
    engine_identity(gdir)
    engine_nrt(gdir)
    engine_classical(gdir)
    fuzz_corpus(os.path.join(ROOT, "tests", "fuzz", "corpus"))


def engine_nrt(gdir):
    """A noise/room/tone Mel2Mel whose heads ask for fixed gains whatever they hear (zero weights, biases only):
    noise -9 dB, room -6 dB, tone +4 dB in every band.  The engine tests check each control against it."""
    net = Mel2MelNRT(channels=4, dilations=(1,), lookahead=2, local_ch=2)
    cut = net.cut_db / 10.0 / math.log10(2.0)

    def bias_for(db):  # one_sided_cut(b) = -db
        return cut * math.atanh(-db / (10.0 * math.log10(2.0)) / cut)

    with torch.no_grad():
        for prm in net.parameters():
            prm.zero_()
        net.noise_out.bias.fill_(bias_for(9.0))
        net.room_out.bias.fill_(bias_for(6.0))
        lim = net.tone_db / 10.0 / math.log10(2.0)
        net.tone_out.bias.fill_(lim * math.atanh(4.0 / net.tone_db))
    export_mel2mel(net, os.path.join(gdir, "engine_nrt.safetensors"),
                   extra_meta={"golden": "train/golden.py: noise -9 dB, room -6 dB, tone +4 dB in every band"})


def engine_classical(gdir):
    """A noise/room/tone Mel2Mel whose Noise head is the classical feature it is given and nothing else: the
    local branch passes the feature of the newest frame through (layer 1: -cf * norm_scale, layer 2: itself,
    output: z_noise = cf), every other weight zero.  The engine tests check that the engine feeds the feature
    (its cut is the classical suppressor's) and that the Noise control scales it."""
    net = Mel2MelNRT(channels=4, dilations=(1,), lookahead=2, local_ch=1, classical_input=1)
    with torch.no_grad():
        for prm in net.parameters():
            prm.zero_()
        net.local1.weight[0, 4, 2, 2] = -1.0  # feature plane, the newest frame (tap 2), the band itself
        net.local2.weight[0, 0, 2, 1] = 1.0
        net.local_out.weight[0, 0, 0, 0] = -1.0 / net.norm_scale
    export_mel2mel(net, os.path.join(gdir, "engine_classical.safetensors"),
                   extra_meta={"golden": "train/golden.py: the Noise head is the classical feature"})


def engine_identity(gdir):
    """A gain Mel2Mel whose every weight is zero: 0 dB in every band, the network that changes nothing."""
    ident = Mel2MelGain(channels=4, dilations=(1,), lookahead=2)
    with torch.no_grad():
        for prm in ident.parameters():
            prm.zero_()
    export_mel2mel(ident, os.path.join(gdir, "engine_identity.safetensors"),
                   extra_meta={"golden": "train/golden.py: 0 dB in every band (the identity)"})


if __name__ == "__main__":
    main()
