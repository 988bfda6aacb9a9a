/* Griffin-Lim vocoder for the offline path: the reference front end's log2-mel frames
 * (16 kHz, n_fft 1023, hop 256, periodic Hann, centre framing, HTK mel 0..8000 Hz) back to
 * audio without a learned vocoder.  The baseline the paper compares DiffWave against.
 *
 * Two stages: mel power -> linear power by non-negative least squares against the mel
 * filterbank (multiplicative updates: the filterbank is wide at high frequencies, so the
 * plain pseudo-inverse rings and goes negative), then "fast" Griffin-Lim (momentum 0.99, as
 * librosa) with the front end's own STFT and a least-squares inverse STFT. */
#ifndef MENHANCE_DSP_GRIFFINLIM_H
#define MENHANCE_DSP_GRIFFINLIM_H
#include <stddef.h>

#define GRIFFINLIM_RATE 16000
#define GRIFFINLIM_NFFT 1023
#define GRIFFINLIM_HOP 256

typedef void (*griffinlim_progress_fn)(void *user, double fraction);

/* log2-mel power [T][n_mels] -> linear power [T][n_fft / 2 + 1] (>= 0).  Returns 0 or -1. */
int griffinlim_mel_to_power(const float *logmel, int T, int n_mels, float *power);

/* logmel [T][n_mels] -> out[0..n), 16 kHz, aligned as the centre-framed analysis that made
 * the mel (frame f centred at sample f * 256).  n must satisfy T == 1 + (n - 1) / 256 or be
 * shorter (the rest is dropped).  iters >= 0 (0: the initial random phase only).  Deterministic
 * for a given seed.  fn (may be NULL) is told the fraction done.  Returns 0, or -1 with a
 * message. */
int griffinlim_vocode(const float *logmel, int T, int n_mels, int iters, unsigned seed, float *out,
                      long n, griffinlim_progress_fn fn, void *user, char *err, size_t errlen);
#endif
