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
 * (k + delay) * out_rate / in_rate). */
int resampler_delay(const resampler *r);
void resampler_reset(resampler *r);
#endif
