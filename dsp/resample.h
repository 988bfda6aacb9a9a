/* Real-time-safe resampler between the host rate and the model rate (speexdsp, fixed
 * filters, no allocation after create).  Output is a fixed linear-phase function of the
 * input: how the input is chunked does not change a single output sample. */
#ifndef MENHANCE_RESAMPLE_H
#define MENHANCE_RESAMPLE_H

typedef struct resampler resampler;

/* quality 0..10 (speexdsp); returns NULL on bad rates. */
resampler *resampler_create(int in_rate, int out_rate, int quality);
void resampler_destroy(resampler *r);
/* Consumes up to *in_len samples, produces up to *out_len; both are updated to the counts
 * actually used. */
void resampler_process(resampler *r, const float *in, int *in_len, float *out, int *out_len);
/* Group delay in input samples (a sample at input index k appears at output time
 * (k + delay) * out_rate / in_rate).  Exactly: counting input and output samples from 0 at
 * create/reset, output sample j is the band-limited input evaluated at input time
 * j * in_rate / out_rate - delay (the phase arithmetic is exact rational, so this holds for
 * every j).  delay is speex's filt_len / 2 (0 when in_rate == out_rate, a plain copy).
 *
 * A host -> model -> host round trip (down then up, rates R and M) therefore delays the
 * signal by d_down + d_up * R / M host samples, an integer only when d_up * R is a multiple
 * of M (e.g. 48 and 96 kHz with the 16 kHz model, not 44.1, 88.2 or 22.05 kHz).  Feeding
 * resampler_integer_pad(up) zeros into the up resampler first (delaying the model-rate
 * stream) makes the total an integer. */
int resampler_delay(const resampler *r);
/* Extra input-rate delay e >= 0 (smallest) such that (delay + e) * out_rate / in_rate is an
 * integer number of output samples. */
int resampler_integer_pad(const resampler *r);
int resampler_in_rate(const resampler *r);
int resampler_out_rate(const resampler *r);
/* The power response of a fresh in_rate -> out_rate resampler of this quality at the bins of
 * an out_rate STFT (periodic Hann, n_fft <= 4096): H[k] for k = first_bin .. n_fft / 2, and 1
 * below first_bin (H has n_fft / 2 + 1 values; 1 = flat).  Measured with bin-centred cosines,
 * every other bin per pass so the window's main lobe keeps each in its own bin, 0.6 s of
 * input, four frames after the filter's transient.  Not real-time safe (allocates; ~10-40 ms).
 * Returns 0, or -1 on bad arguments or no memory. */
int resampler_power_response(int in_rate, int out_rate, int quality, int n_fft, int first_bin,
                             float *H);
/* Back to the state after create (zero history, phase 0). */
void resampler_reset(resampler *r);
#endif
