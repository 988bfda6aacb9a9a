#!/usr/bin/python3
"""WAV helper for tests/host/hosts_smoke.sh (numpy only; float WAV written and read by hand).

  wavtool.py gen OUT CHANNELS RATE SECONDS      music-like test signal, 32-bit float
  wavtool.py check IN OUT [OUT2]                 prints: frames channels finite peak rms_ratio lag
                                                 [maxdiff to OUT2, first difference: one token,
                                                 first=FRAME/chCH/OUT/OUT2, first=none or
                                                 first=shape:AxB/CxD]
  wavtool.py align REF OUT SKIP                  impulse onsets (|x| > 0.2) from sample SKIP on:
                                                 prints n_ref n_out n_out_on_ref_onsets maxdiff
                                                 xcorr_lag (best lag within +-500 samples)
"""
import struct
import sys

import numpy as np


def write_wav(path, rate, x):
    x = np.asarray(x, dtype='<f4')
    if x.ndim == 1:
        x = x[:, None]
    n, ch = x.shape
    data = x.tobytes()
    fmt = struct.pack('<HHIIHH', 3, ch, rate, rate * ch * 4, ch * 4, 32)
    with open(path, 'wb') as f:
        f.write(b'RIFF' + struct.pack('<I', 4 + 8 + len(fmt) + 8 + len(data)) + b'WAVE')
        f.write(b'fmt ' + struct.pack('<I', len(fmt)) + fmt)
        f.write(b'data' + struct.pack('<I', len(data)) + data)


def read_wav(path):
    b = open(path, 'rb').read()
    assert b[:4] == b'RIFF' and b[8:12] == b'WAVE', path
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(b):
        cid, size = b[pos:pos + 4], struct.unpack('<I', b[pos + 4:pos + 8])[0]
        body = b[pos + 8:pos + 8 + size]
        if cid == b'fmt ':
            fmt = struct.unpack('<HHIIHH', body[:16])
        elif cid == b'data':
            data = body
        pos += 8 + size + (size & 1)
    tag, ch, rate, _, _, bits = fmt
    if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the subformat's first two bytes
        tag = struct.unpack('<H', b[b.index(b'fmt ') + 8 + 24:][:2])[0]
    if tag == 3 and bits == 32:
        x = np.frombuffer(data, '<f4')
    elif tag == 3 and bits == 64:
        x = np.frombuffer(data, '<f8')
    elif tag == 1 and bits == 16:
        x = np.frombuffer(data, '<i2') / 32768.0
    elif tag == 1 and bits == 32:
        x = np.frombuffer(data, '<i4') / 2147483648.0
    else:
        raise SystemExit('unsupported WAV format %d/%d in %s' % (tag, bits, path))
    return rate, x.astype(np.float64).reshape(-1, ch)


def gen(out, ch, rate, secs):
    n = int(rate * secs)
    rng = np.random.default_rng(7)
    x = np.zeros(n)
    # decaying notes at irregular times, so the lag estimate has one clear answer
    for s in [0.02, 0.19, 0.27, 0.5, 0.64, 0.83]:
        s0 = int(s * n)
        k = np.arange(n - s0)
        x[s0:] += 0.35 * np.exp(-k / (0.04 * rate)) * np.sin(2 * np.pi * (250 + 900 * s) * k / rate)
    x += 0.01 * rng.standard_normal(n)
    y = np.stack([x * (1.0 - 0.2 * c) for c in range(ch)], 1)
    write_wav(out, rate, y)


def check(inp, out, out2=None):
    _, x = read_wav(inp)
    _, y = read_wav(out)
    finite = bool(np.isfinite(y).all())
    yc = np.nan_to_num(y)
    n = min(len(x), len(yc))
    a, b = x[:n, 0], yc[:n, 0]
    X = np.fft.rfft(a, 2 * n)
    Y = np.fft.rfft(b, 2 * n)
    cc = np.fft.irfft(Y * np.conj(X))[:n]
    lag = int(np.argmax(cc))
    tail = b[lag:]
    ratio = float(np.sqrt(np.mean(tail ** 2)) / max(1e-12, np.sqrt(np.mean(a[:n - lag] ** 2))))
    res = [len(y), y.shape[1], int(finite), '%.4f' % float(np.abs(yc).max()), '%.3f' % ratio, lag]
    if out2:
        _, z = read_wav(out2)
        if z.shape != yc.shape:
            res += ['1e9', 'first=shape:%dx%d/%dx%d' % (yc.shape + z.shape)]
        else:
            d = np.abs(np.nan_to_num(z) - yc)
            res.append('%.3g' % float(d.max()) if len(d) else '0')
            idx = np.argwhere(d > 0)
            if len(idx):
                f, c = int(idx[0][0]), int(idx[0][1])
                res.append('first=%d/ch%d/%.9g/%.9g' % (f, c, yc[f, c], z[f, c]))
            else:
                res.append('first=none')
    print(*res)


def onsets(x, skip, thr=0.2):
    out, last = [], -10 ** 9
    for i in np.nonzero(np.abs(x) > thr)[0]:
        if i >= skip and i - last > 100:
            out.append(int(i))
        if i - last > 100:
            last = i
    return out


def align(ref, out, skip):
    _, r = read_wav(ref)
    _, y = read_wav(out)
    skip = int(skip)
    n = min(len(r), len(y))
    a = onsets(r[:n, 0], skip)
    b = onsets(y[:n, 0], skip)
    on = len(set(a) & set(b))
    # Cross-correlation over the same window: the lag that best explains OUT by REF.
    ra, yb = r[skip:n, 0], y[skip:n, 0]
    m = len(ra)
    cc = np.fft.irfft(np.fft.rfft(yb, 2 * m) * np.conj(np.fft.rfft(ra, 2 * m)))
    lags = np.r_[np.arange(0, 501), np.arange(-500, 0)]
    lag = int(lags[np.argmax(cc[lags])])
    print(len(a), len(b), on, '%.3g' % float(np.abs(r[skip:n] - y[skip:n]).max()), lag)


if __name__ == '__main__':
    if sys.argv[1] == 'align':
        align(*sys.argv[2:5])
    elif sys.argv[1] == 'gen':
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    else:
        check(*sys.argv[2:])
