/* The band above the model's 8 kHz Nyquist, at the host rate: split in two (about 8-12 kHz
 * and above, complementary by subtraction so the bands sum back exactly), each denoised by
 * band-power tracking with zero added latency.  Stereo-linked like the 16 kHz path. */
#ifndef MENHANCE_HIBAND_H
#define MENHANCE_HIBAND_H

typedef struct hiband hiband;

hiband *hiband_create(int sample_rate, int channels);
void hiband_destroy(hiband *h);
void hiband_set(hiband *h, float strength, float max_atten_db);
/* x: channels x n, processed in place.  Output depends on the sample count so far only,
 * never on how samples are split into calls. */
void hiband_process(hiband *h, float *const *x, int n);
void hiband_reset(hiband *h);
#endif
