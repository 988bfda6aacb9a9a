/* Streaming STFT for the reference front end (DESIGN section 1): n_fft = window = 1023
 * (odd; FFTW handles it), hop 256, periodic Hann.  Analysis takes one hop of new samples and
 * returns the spectrum of the newest n_fft samples; synthesis applies a window that makes
 * analysis followed by unmodified synthesis an exact identity delayed by stft_latency().
 * All buffers and FFTW plans are made at create; process calls never allocate. */
#ifndef MENHANCE_STFT_H
#define MENHANCE_STFT_H

typedef struct stft stft;

stft *stft_create(int n_fft, int hop);
void stft_destroy(stft *s);
int stft_bins(const stft *s); /* n_fft / 2 + 1 */
int stft_hop(const stft *s);
int stft_nfft(const stft *s);
/* Samples between an input sample entering stft_analyze and the same sample leaving
 * stft_synthesize (n_fft - hop). */
int stft_latency(const stft *s);
/* in: hop new samples.  re/im: stft_bins() values each. */
void stft_analyze(stft *s, const float *in, float *re, float *im);
/* re/im: a (possibly modified) spectrum; out: hop finished samples. */
void stft_synthesize(stft *s, const float *re, const float *im, float *out);
void stft_reset(stft *s);
/* The analysis window (periodic Hann, n_fft values). */
const float *stft_window(const stft *s);

/* Offline reference framing: centre frames with reflect padding of n_fft/2, as the reference
 * system's torch.stft(center=True, pad_mode="reflect").  Writes the power spectrum of frame f
 * to power[f * bins ...]; returns the frame count stft_offline_frames(s, n), which is torch's
 * 1 + (n + 2 * (n_fft / 2) - n_fft) / hop: for odd n_fft that is 1 + (n - 1) / hop (47360
 * samples -> 185 frames with 1023/256).  n must exceed n_fft / 2. */
int stft_power_offline(stft *s, const float *x, int n, float *power);
/* Frame count of stft_power_offline for n samples (0 if n <= n_fft / 2). */
int stft_offline_frames(const stft *s, int n);
#endif
