"""safetensors writer/reader (json + struct + numpy; Debian has no python3-safetensors) and the
Mel2Mel exporter that the C engine (nn/mel2mel.c) loads.

    from export import export_mel2mel
    export_mel2mel(net, "models/mel2mel_nrt.safetensors", extra_meta={"trained_on": "..."})

File layout: 8-byte little-endian header length, JSON header (padded with spaces to a multiple of
8), then the raw little-endian tensor bytes.  Metadata values must be strings; menhance stores
JSON documents in them ("mel2mel", "frontend").
"""
import json
import struct
import sys

import numpy as np

_DTYPES = {np.dtype("float32"): "F32", np.dtype("float16"): "F16", np.dtype("int64"): "I64",
           np.dtype("int32"): "I32"}
_NP = {v: k for k, v in _DTYPES.items()}


def save_file(tensors, path, metadata=None):
    """tensors: dict name -> numpy array (or torch tensor); metadata: dict str -> str."""
    header, blobs, off = {}, [], 0
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("safetensors metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    for name in tensors:
        a = tensors[name]
        if hasattr(a, "detach"):
            a = a.detach().cpu().numpy()
        a = np.ascontiguousarray(a)
        if a.dtype not in _DTYPES:
            a = a.astype(np.float32)
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def load_file(path):
    """Returns (tensors: dict name -> numpy array, metadata: dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[base + b:base + e], dtype=_NP[info["dtype"]]).reshape(
            info["shape"]).copy()
    return out, meta


def mel2mel_tensors(net, prefix="mel2mel."):
    return {prefix + k: v.detach().cpu().float().numpy()
            for k, v in net.state_dict().items() if v.dtype.is_floating_point}


def export_mel2mel(net, path, extra_meta=None, extra_tensors=None):
    """Writes net (Mel2MelResNet, Mel2MelGain or Mel2MelNRT from models.py) with the metadata the C
    loader needs.  extra_meta: more str->str metadata (e.g. training provenance);
    extra_tensors: more tensors (used by golden.py for golden.input/golden.output)."""
    from models import FRONTEND
    meta = {"mel2mel": json.dumps(net.hparams()), "frontend": json.dumps(FRONTEND),
            "format": "menhance-1"}
    if extra_meta:
        meta.update({str(k): str(v) for k, v in extra_meta.items()})
    tensors = mel2mel_tensors(net)
    if extra_tensors:
        tensors.update(extra_tensors)
    save_file(tensors, path, meta)


def load_mel2mel(path):
    """The Mel2Mel (models.py class, eval mode) stored in a safetensors model file."""
    import torch
    from models import mel2mel_from_hparams
    t, meta = load_file(path)
    net = mel2mel_from_hparams(json.loads(meta["mel2mel"]))
    net.load_state_dict({k[len("mel2mel."):]: torch.from_numpy(v) for k, v in t.items()
                         if k.startswith("mel2mel.")})
    return net.eval()


if __name__ == "__main__":
    # Usage: export.py FILE  -- prints the metadata and tensor shapes of a safetensors file.
    t, m = load_file(sys.argv[1])
    for k, v in m.items():
        print("meta %s = %s" % (k, v))
    for k, v in t.items():
        print("%-40s %s %s" % (k, v.dtype, tuple(v.shape)))
