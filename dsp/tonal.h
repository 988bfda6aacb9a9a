/* Per-bin stationarity: which STFT bins hold steady (tonal) components rather than noise.
 *
 * The power of a noise bin is exponentially distributed from frame to frame, so its log
 * jumps by about 1 natural-log unit per frame (measured with the 1023/256 Hann STFT: median
 * 1.1, below 0.6 in 0.2 % of bin-frames); a steady partial 12 dB or more over the noise in its
 * bin moves by less than 0.3 per frame, and so do a slow decay (10 dB/s: 0.04), a 5 Hz
 * tremolo of +-3 dB (about 0.2) and vibrato of up to +-10 Hz on the partial's centre bin.
 * The detector smooths |delta ln P| (each frame's jump clipped at 1.5, so an attack does
 * not count as a second of noise) over about 0.2 s per bin and maps it to a weight:
 * 1 (tonal) at or below TONAL_J_LO, 0 (noise-like) at or above TONAL_J_HI, linear between.
 * A bin within a Hann main lobe (2 bins) of a stronger tonal bin takes that bin's weight:
 * it is the partial's skirt, and two close partials beat in the bins between them.
 * Everything starts tonal ("not known to be noise"), so nothing is learnt as noise or cut
 * on the strength of the first frames. */
#ifndef MENHANCE_TONAL_H
#define MENHANCE_TONAL_H

typedef struct tonal tonal;

/* n_bins: bins per frame; frame_rate: frames per second (16000 / 256 in the engine). */
tonal *tonal_create(int n_bins, float frame_rate);
void tonal_destroy(tonal *t);
/* power: n_bins bin powers of the current frame (any scale; NaN/negative read as 0);
 * weight: n_bins tonal weights in [0, 1] for the same frame. */
void tonal_process(tonal *t, const float *power, float *weight);
void tonal_reset(tonal *t);
/* As tonal_reset, but every bin starts noise-like: for a caller that already knows the noise
 * floor (a primed tracker), so levels alone decide until the bins show their nature. */
void tonal_reset_noise(tonal *t);
#endif
