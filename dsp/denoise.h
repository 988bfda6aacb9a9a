/* Classical band-wise noise suppression: tracks a noise floor per band (minimum statistics
 * with a slow upward drift, so it follows changing noise without eating sustained notes too
 * fast) and turns the a-priori SNR (decision-directed) into a Wiener gain, limited by a
 * maximum attenuation and smoothed in time.  Works on any set of band powers, so the same
 * code serves the 16 kHz mel bands and the host-rate high band.
 *
 * The tracker can be told which frames carry no evidence about the noise (a tonal band, a
 * frame of digital silence, an STFT window not yet full): those hold the band's estimate.
 * The depth of the cut grows with the evidence: a band's floor moves from 0 dB to
 * -max_atten_db in proportion to the frames it has learnt from (full after the 1.5 s window),
 * so a fresh tracker fades its suppression in instead of switching it on in one step. */
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
/* As denoise_process, but the tracker learns from noise_obs instead of band_power:
 * noise_obs[b] is the power band b would have if it held only its noise-like content (same
 * units as band_power), or a negative value when this frame tells nothing about band b's
 * noise (the estimate holds).  noise_obs may be NULL (learn from band_power).  Powers below
 * 1e-30 (digital silence) never teach the tracker anything either. */
void denoise_process_guided(denoise *d, const float *band_power, const float *noise_obs,
                            float *band_gain);
/* Forgets everything learnt (as after create). */
void denoise_reset(denoise *d);

/* Priming from audio ahead of time (not real-time safe).  prime_begin resets the tracker and
 * starts recording the noise estimate of every band that has settled (after half the 1.5 s
 * window of observations); process frames as usual (the gains can be ignored); prime_end
 * installs, per band, the 20th percentile of what was recorded as a converged estimate with
 * full depth, so the next frames are treated like those in the middle of the primed audio.
 * Bands that never settled stay unlearnt.  Returns -1 (and changes nothing) when out of
 * memory. */
int denoise_prime_begin(denoise *d);
void denoise_prime_end(denoise *d);
/* Holds the noise floor at noise_power (n_bands powers, the units of band_power) instead of
 * tracking it, with full depth from the next frame: a floor learnt from the room tone before
 * the music (the engine's Learn noise).  A band whose power is below 1e-30 is left alone.  NULL
 * tracks again, starting from the held floor; denoise_reset forgets it.  Real-time safe. */
void denoise_hold(denoise *d, const float *noise_power);
/* Copies src's learnt noise floor (estimates, minimum windows, depth) into dst; the audio
 * state of dst (smoothed powers and gains) restarts from that floor.  Same band count only
 * (otherwise nothing happens). */
void denoise_take_noise(denoise *dst, const denoise *src);
#endif
