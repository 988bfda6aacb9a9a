#!/usr/bin/python3
"""Writes tests/golden/engine_refiner_id.safetensors and engine_refiner_small.safetensors: engine_voc's tiny
noise/room/tone Mel2Mel (scripts/make_engine_model.py's architecture and weight scale) plus a tiny mode-2 refiner
(train/refiner.py: causal DiffWave, x0 = mode 1 + correction, steps 5, 2, 0), each carrying a passed *test*
vocoder gate ("vocoder_gate": {"passed": true, "test": ...}) so the engine runs it in mode 2:
  _id     the refiner as training starts it: its correction is exactly 0, so mode 2 must give mode 1 bit
          for bit (engine alignment, stereo image, level);
  _small  the same with the correction's output projection at random weights 0.02 x N(0, 1): a refiner
          that changes the sound a little, for the stereo image and level checks;
  _mel    a Mel2Mel that changes nothing (every weight 0) and a refiner whose correction is a function of
          one mel band of its conditioning frame alone (MEL_BAND, about 1 kHz), the same for every sample of
          the frame's span and every step: the engine test reads from the correction which frame
          conditioned which samples (engine/enhance.c vocode: mel frame f - LA - 2 on the prior one sample
          late).
Deterministic (fixed seeds); needs torch (run once, outputs committed)."""
import json
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "train"))
from diffwave import diffwave_tensors  # noqa: E402
from export import mel2mel_tensors, save_file  # noqa: E402
from models import FRONTEND, Mel2MelNRT  # noqa: E402
from refiner import Refiner  # noqa: E402



def write(name, m2m, ref, gate_note, golden_note):
    """tests/golden/<name>.safetensors: the Mel2Mel and the refiner with a passed *test* gate."""
    tensors = mel2mel_tensors(m2m)
    tensors.update(diffwave_tensors(ref.dw))
    meta = {"mel2mel": json.dumps(m2m.hparams()), "diffwave": json.dumps(ref.dw.hparams()),
            "refiner": json.dumps({"steps": list(ref.steps)}),
            "vocoder_gate": json.dumps({"passed": True, "test": gate_note}),
            "frontend": json.dumps(FRONTEND), "format": "menhance-1", "golden": golden_note}
    out = os.path.join(ROOT, "tests", "golden", name + ".safetensors")
    save_file(tensors, out, meta)
    print("wrote", out, os.path.getsize(out), "bytes")


torch.manual_seed(5)
m2m = Mel2MelNRT(channels=8, dilations=(1, 2), lookahead=2, norm_mean=-6.0, norm_scale=0.25,
                 n_basis=4, local_ch=2)
with torch.no_grad():
    for p in m2m.parameters():
        p.copy_(0.1 * torch.randn_like(p))
for name, scale in (("engine_refiner_id", 0.0), ("engine_refiner_small", 0.02)):
    torch.manual_seed(11)
    ref = Refiner(layers=3, channels=8, cycle=3, embed_dim=16)
    with torch.no_grad():
        for n, p in ref.dw.named_parameters():
            if not n.startswith("output_projection"):
                p.copy_(0.1 * torch.randn_like(p))
        ref.dw.output_projection.weight.copy_(scale * torch.randn_like(ref.dw.output_projection.weight))
    write(name, m2m, ref, "a test gate: random weights, never shipped",
          "scripts/make_engine_refiner.py (random weights, correction x %g)" % scale)

# _mel: upsampler stages that repeat each frame 16 times (taps 8..23 of the centre mel row: output sample o
# of a stage reads input o // 16 only), so sample o of the refiner's span reads frame o // 256 alone; layer 0's
# filter half reads MEL_BAND (alpha), its gate half is 0 (sigmoid 0.5), its skip half passes filter channel 0;
# skip and output projections pass that channel (beta).  Nothing reads the signal or the step: every refine
# step gives x0 = m + c(mel), so mode 2 = mode 1 + c(mel of the frame) exactly (before the engine's DC blocker).
MEL_BAND = 24
zero = Mel2MelNRT(channels=4, dilations=(1,), lookahead=2, n_basis=4, local_ch=0)
with torch.no_grad():
    for p in zero.parameters():
        p.zero_()
ref = Refiner(layers=3, channels=8, cycle=3, embed_dim=16)
C = 8
with torch.no_grad():
    for p in ref.dw.parameters():
        p.zero_()
    for conv in (ref.dw.spectrogram_upsampler.conv1, ref.dw.spectrogram_upsampler.conv2):
        conv.weight[0, 0, 1, 8:24] = 1.0
    layer = ref.dw.residual_layers[0]
    layer.conditioner_projection.weight[C + 0, MEL_BAND, 0] = 0.02
    layer.output_projection.weight[C + 0, 0, 0] = 1.0
    ref.dw.skip_projection.weight[0, 0, 0] = 1.0
    ref.dw.output_projection.weight[0, 0, 0] = 0.5
write("engine_refiner_mel", zero, ref, "a test gate: hand-set weights, never shipped",
      "scripts/make_engine_refiner.py: correction = c(mel band %d of the conditioning frame)" % MEL_BAND)
# what the correction is, in PyTorch: c for a few constant mels (the C test only needs it to grow with the band)
with torch.no_grad():
    for v in (4.0, 8.0, 12.0):
        mel = torch.zeros(1, 128, 4)
        mel[0, MEL_BAND] = v
        m = torch.zeros(1, 1024)
        print("band %d at %.0f log2: correction %.5f" % (MEL_BAND, v, float(ref.x0(m, m, mel, 2)[0, 600])))
