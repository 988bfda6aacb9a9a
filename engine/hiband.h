/* The band above the model's 8 kHz Nyquist, at the host rate: split in two (about 8-12 kHz
 * and above, complementary by subtraction so the bands sum back exactly), each denoised by
 * band-power tracking with zero added latency.  Stereo-linked like the 16 kHz path. */
#ifndef MENHANCE_HIBAND_H
#define MENHANCE_HIBAND_H

typedef struct hiband hiband;

hiband *hiband_create(int sample_rate, int channels);
void hiband_destroy(hiband *h);
void hiband_set(hiband *h, float strength, float max_atten_db);
/* The first `samples` after every reset are not learnt from: in the engine the high band is
 * the dry input (a latency late) minus its 16 kHz part, so before one latency has passed it
 * holds only rounding residue, which would pin the minimum tracker for 1.5 s. */
void hiband_set_warmup(hiband *h, long samples);
/* x: channels x n, processed in place.  Output depends on the sample count so far only,
 * never on how samples are split into calls. */
void hiband_process(hiband *h, float *const *x, int n);
void hiband_reset(hiband *h);
/* Noise priming, as enhance_prime_begin/end/take_noise (engine/enhance.h). */
int hiband_prime_begin(hiband *h);
void hiband_prime_end(hiband *h);
void hiband_take_noise(hiband *dst, const hiband *src);
#endif
