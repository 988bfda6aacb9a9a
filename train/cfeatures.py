"""The engine's own per-frame features for training, through build/libmenhance_features.so (tools/features_lib.c
over engine/features.c, built by `make`): the network is trained on exactly what nn/ is fed in the engine, with
no Python twin to drift from it.

classical_feature(wav) -> (T, 128) float32: enhance_classical_feature (engine/enhance.h), the classical
suppressor's log2 power gain per mel band (<= 0; the band-wise Wiener tracker at fixed settings with the tonal
guard), one row per models.MelFrontEnd frame of the same waveform: T = 1 + (N - 1) // 256, row t for the frame centred
on sample 256 t (the engine's frame t + 1; the waveform is followed by silence for the last rows, where
MelFrontEnd reflects).  The library path can be set with MENHANCE_FEATURES_LIB.
Errors: RuntimeError when the library is missing (run make) or out of memory."""
import ctypes
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.environ.get("MENHANCE_FEATURES_LIB",
                     os.path.join(os.path.dirname(HERE), "build", "libmenhance_features.so"))
HOP, N_MELS = 256, 128
_FP = ctypes.POINTER(ctypes.c_float)
_lib = None


def _load():
    global _lib
    if _lib is None:
        if not os.path.exists(LIB):
            raise RuntimeError("cfeatures: %s not found (run make)" % LIB)
        lib = ctypes.CDLL(LIB)
        lib.menhance_engine_frames.argtypes = [_FP, ctypes.c_long, _FP, _FP, ctypes.c_long]
        lib.menhance_engine_frames.restype = ctypes.c_long
        lib.menhance_classical_feature.argtypes = [_FP, ctypes.c_long, _FP]
        lib.menhance_classical_feature.restype = ctypes.c_long
        _lib = lib
    return _lib


def _mono(wav):
    return np.ascontiguousarray(np.asarray(wav, np.float32).ravel())


def engine_frames(wav, with_logmel=False):
    """The engine's own frames of wav (N,): (feature (K, 128), logmel (K, 128) or None), K = N // 256, frame k
    after the engine's hop k (centred on sample 256 (k - 1))."""
    x = _mono(wav)
    k = len(x) // HOP
    feat = np.zeros((k, N_MELS), np.float32)
    lm = np.zeros((k, N_MELS), np.float32) if with_logmel else None
    got = _load().menhance_engine_frames(x.ctypes.data_as(_FP), len(x), feat.ctypes.data_as(_FP),
                                         lm.ctypes.data_as(_FP) if with_logmel else None, k)
    if got < 0:
        raise RuntimeError("cfeatures: menhance_engine_frames failed (out of memory?)")
    return feat, lm


def classical_feature(wav):
    """wav (N,) float32 at 16 kHz -> (1 + (N - 1) // 256, 128) float32, aligned to MelFrontEnd's frames (module doc)."""
    x = _mono(wav)
    feat = np.zeros((1 + (len(x) - 1) // HOP if len(x) else 0, N_MELS), np.float32)
    if _load().menhance_classical_feature(x.ctypes.data_as(_FP), len(x), feat.ctypes.data_as(_FP)) < 0:
        raise RuntimeError("cfeatures: menhance_classical_feature failed (out of memory?)")
    return feat


def classical_features(wavs):
    """(B, N) -> (B, 1 + (N - 1) // 256, 128) float32: classical_feature of each row."""
    return np.stack([classical_feature(w) for w in np.asarray(wavs, np.float32)])
