/* Classical band-wise noise suppression: tracks a noise floor per band (minimum statistics
 * with a slow upward drift, so it follows changing noise without eating sustained notes too
 * fast) and turns the a-priori SNR (decision-directed) into a Wiener gain, limited by a
 * maximum attenuation and smoothed in time.  Works on any set of band powers, so the same
 * code serves the 16 kHz mel bands and the host-rate high band. */
#ifndef MENHANCE_DENOISE_H
#define MENHANCE_DENOISE_H

typedef struct denoise denoise;

/* frame_rate: band-power frames per second (e.g. 16000 / 256). */
denoise *denoise_create(int n_bands, float frame_rate);
void denoise_destroy(denoise *d);
/* strength: noise over-estimation factor (1 = plain Wiener, 0 = no suppression);
 * max_atten_db: the deepest cut (e.g. 18 means gains never below -18 dB). */
void denoise_set(denoise *d, float strength, float max_atten_db);
/* band_power: n_bands powers of the current frame; band_gain: amplitude gains in (0, 1]. */
void denoise_process(denoise *d, const float *band_power, float *band_gain);
void denoise_reset(denoise *d);
#endif
