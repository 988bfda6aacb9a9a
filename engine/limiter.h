/* Output ceiling: a stereo-linked, true-peak, look-ahead limiter at host rate.
 *
 * The true peak is estimated by 4x oversampling (ITU-R BS.1770-4 Annex 2's method: the three
 * points between every two samples are interpolated by a 12-tap Kaiser-windowed sinc and
 * compared with the samples themselves).  The gain needed to keep every estimate under the
 * ceiling is run through a minimum over the next W samples, an exponential release and a
 * W-sample moving average: the average of minima that each cover the sample is never above
 * that sample's need, so the ceiling holds without clipping, and the gain moves in ramps of
 * W samples (1.5 ms), not steps.  The ceiling is -1 dBTP (EBU R 128 / AES TD1004's limit for
 * distribution), which leaves room for the estimator's under-read near Nyquist, so real
 * inter-sample peaks stay under full scale.  Off, the gain releases to 1 and the delay stays:
 * the latency never depends on the switch. */
#ifndef MENHANCE_LIMITER_H
#define MENHANCE_LIMITER_H

#define LIMITER_CEILING_DB (-1.0f)

typedef struct limiter limiter;

limiter *limiter_create(int sample_rate, int channels);
void limiter_destroy(limiter *l);
/* Delay in samples between a sample entering limiter_process and leaving it. */
int limiter_latency(const limiter *l);
void limiter_set(limiter *l, int on);
/* x: channels x n, in place; the output is the input delayed by limiter_latency() samples and
 * scaled by the limiter's gain.  Any split into calls gives the same output. */
void limiter_process(limiter *l, float *const *x, int n);
void limiter_reset(limiter *l);
#endif
