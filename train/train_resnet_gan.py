#!/usr/bin/python3
"""The reference Mel2Mel (pix2pix ResNet generator) with L1 plus a conditional 70x70 PatchGAN,
LSGAN loss (DESIGN section 1).  Meant for a GPU (torch 2.x); runs on the CPU (torch 1.13) too,
slowly.  Uses the same degraded/clean mel cache as train_mel2mel.py (data/cache/shard_*.npz).

One deliberate difference from the public reference code: there the generator's adversarial
term was computed on a detached tensor, so the generator trained on L1 alone.  Here the
adversarial gradient reaches the generator (test_gradient_reaches_generator checks it).

    /usr/bin/python3 train/train_resnet_gan.py --hours 6 --device cuda
    /usr/bin/python3 train/train_resnet_gan.py --export models/mel2mel_resnet.safetensors
    /usr/bin/python3 train/train_resnet_gan.py --selftest      # tiny sizes, a few steps, CPU
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from models import Mel2MelResNet  # noqa: E402

DATA = os.path.join(os.path.dirname(HERE), "data")
CKPT = os.path.join(DATA, "ckpt_resnet")
FLOOR = 1e-5


class PatchGAN(nn.Module):
    """pix2pix NLayerDiscriminator (n_layers 3: a 70x70 receptive field), conditional: it sees
    the degraded mel and a clean or generated mel as two channels of one image."""

    def __init__(self, ndf=64):
        super().__init__()
        def block(i, o, stride, norm=True):
            layers = [nn.Conv2d(i, o, 4, stride, 1)]
            if norm:
                layers.append(nn.InstanceNorm2d(o))
            layers.append(nn.LeakyReLU(0.2))
            return layers
        self.net = nn.Sequential(*block(2, ndf, 2, norm=False), *block(ndf, ndf * 2, 2),
                                 *block(ndf * 2, ndf * 4, 2), *block(ndf * 4, ndf * 8, 1),
                                 nn.Conv2d(ndf * 8, 1, 4, 1, 1))

    def forward(self, degraded, mel):  # (B, T, n_mels) each
        return self.net(torch.stack([degraded, mel], 1))


def gan_step(G, D, og, od, deg, clean, l1_weight=1.0):
    """One pix2pix step, LSGAN.  The generator's adversarial term is NOT detached (unlike the
    public reference), so its gradient reaches G.  Returns (G loss, D loss, L1)."""
    fake = G(deg)
    l1 = (fake - clean).abs().mean()
    pred = D(deg, fake)
    g_loss = F.mse_loss(pred, torch.ones_like(pred)) + l1_weight * l1
    og.zero_grad()
    g_loss.backward()
    og.step()
    od.zero_grad()  # also drops what g_loss left in D
    pred_real, pred_fake = D(deg, clean), D(deg, fake.detach())
    d_loss = 0.5 * (F.mse_loss(pred_real, torch.ones_like(pred_real)) +
                    F.mse_loss(pred_fake, torch.zeros_like(pred_fake)))
    d_loss.backward()
    od.step()
    return g_loss.item(), d_loss.item(), l1.item()


def test_gradient_reaches_generator():
    torch.manual_seed(0)
    G, D = Mel2MelResNet(ngf=4, n_blocks=1), PatchGAN(ndf=4)
    deg, clean = torch.randn(1, 32, 128), torch.randn(1, 32, 128)
    fake = G(deg)
    pred = D(deg, fake)
    adv = F.mse_loss(pred, torch.ones_like(pred))
    adv.backward()
    g = sum(float(p.grad.abs().sum()) for p in G.parameters() if p.grad is not None)
    assert g > 0.0, "adversarial gradient does not reach the generator"
    return g


def batches(rng, B, T):
    from train_mel2mel import ShardSet
    s = ShardSet()
    while s.refresh() == 0:
        print("waiting for data/cache shards (run train_mel2mel.py cache)", flush=True)
        time.sleep(30)
    n = 0
    while True:
        d, c = s.batch(rng, B, T)
        yield torch.from_numpy(d), torch.from_numpy(c)
        n += 1
        if n % 500 == 0:
            s.refresh()


def train(a):
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads)
    G = Mel2MelResNet(ngf=a.ngf, n_blocks=a.blocks).to(dev)
    D = PatchGAN(ndf=a.ndf).to(dev)
    og = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    os.makedirs(CKPT, exist_ok=True)
    last = os.path.join(CKPT, "last.pt")
    step, secs = 0, 0.0
    if os.path.exists(last) and not a.selftest:
        ck = torch.load(last, map_location=dev)
        G.load_state_dict(ck["G"]), D.load_state_dict(ck["D"])
        og.load_state_dict(ck["og"]), od.load_state_dict(ck["od"])
        step, secs = ck["step"], ck["seconds"]
    rng = np.random.default_rng(a.seed + step)
    if a.selftest:
        src = iter(lambda: (torch.randn(2, 32, 128), torch.randn(2, 32, 128)), None)
    else:
        src = batches(rng, a.batch, 185)
    t_end = time.time() + a.hours * 3600
    while time.time() < t_end and (a.steps <= 0 or step < a.steps):
        t0 = time.time()
        deg, clean = (t.to(dev) for t in next(src))
        g_loss, d_loss, l1 = gan_step(G, D, og, od, deg, clean)
        step += 1
        secs += time.time() - t0
        if step % 50 == 0 or a.selftest:
            print("step %d G %.4f D %.4f L1 %.4f %.2f s/step" % (step, g_loss, d_loss, l1,
                                                               time.time() - t0), flush=True)
        if step % 1000 == 0 and not a.selftest:
            torch.save({"G": G.state_dict(), "D": D.state_dict(), "og": og.state_dict(),
                        "od": od.state_dict(), "step": step, "seconds": secs,
                        "hp": {"ngf": a.ngf, "n_blocks": a.blocks}}, last)
    if not a.selftest:
        torch.save({"G": G.state_dict(), "D": D.state_dict(), "og": og.state_dict(),
                    "od": od.state_dict(), "step": step, "seconds": secs,
                    "hp": {"ngf": a.ngf, "n_blocks": a.blocks}}, last)


def export(a):
    from export import export_mel2mel
    ck = torch.load(os.path.join(CKPT, "last.pt"), map_location="cpu")
    G = Mel2MelResNet(ngf=ck["hp"]["ngf"], n_blocks=ck["hp"]["n_blocks"])
    G.load_state_dict(ck["G"])
    export_mel2mel(G, a.export, extra_meta={"training": json.dumps(
        {"steps": ck["step"], "hours": round(ck["seconds"] / 3600, 3), "loss": "L1 + LSGAN"})})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--ndf", type=int, default=64)
    ap.add_argument("--blocks", type=int, default=9)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--export")
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args()
    if a.export:
        return export(a)
    if a.selftest:
        print("adversarial gradient into G: %.3g" % test_gradient_reaches_generator())
        a.ngf, a.ndf, a.blocks, a.steps, a.device = 4, 4, 1, 3, "cpu"
    train(a)
    if a.selftest:
        print("selftest: ok")


if __name__ == "__main__":
    main()
