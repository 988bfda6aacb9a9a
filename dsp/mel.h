/* HTK mel filterbank and the log2-mel front end (DESIGN section 1): 128 triangular filters
 * from 0 to 8000 Hz on the bins of a 1023-point FFT at 16 kHz, no area normalisation,
 * log2 with an explicit floor (MEL_LOG_FLOOR on the mel power). */
#ifndef MENHANCE_MEL_H
#define MENHANCE_MEL_H

#define MEL_LOG_FLOOR 1e-5f

typedef struct mel mel;

mel *mel_create(int sample_rate, int n_fft, int n_mels, float fmin, float fmax);
void mel_destroy(mel *m);
int mel_bands(const mel *m);
int mel_bins(const mel *m);
/* Filter matrix, n_mels rows of n_bins. */
const float *mel_filters(const mel *m);
/* power: n_bins values -> mel power (n_mels values). */
void mel_apply(const mel *m, const float *power, float *melpow);
/* mel power (n_mels values, may alias logmel) -> log2(max(MEL_LOG_FLOOR, mel power)). */
void mel_to_log(const mel *m, const float *melpow, float *logmel);
/* power: n_bins values -> log2(max(MEL_LOG_FLOOR, mel power)). */
void mel_log(const mel *m, const float *power, float *logmel);
/* Spreads per-band gains to per-bin gains (filter-weighted average of the bands covering
 * each bin), so a gain that is constant over bands is the same constant on every bin. */
void mel_gains_to_bins(const mel *m, const float *band_gain, float *bin_gain);
#endif
