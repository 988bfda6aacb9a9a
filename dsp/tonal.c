/* Per-bin stationarity detector; the numbers behind the thresholds are in tonal.h. */
#include "dsp/tonal.h"

#include <math.h>
#include <stdlib.h>

#define TONAL_TAU_S 0.2f /* smoothing of the per-frame log jump */
#define TONAL_J_LO 0.3f  /* at or below: tonal */
#define TONAL_J_HI 0.6f  /* at or above: noise-like */
/* Floor added to every power before the log: far below any real recording's noise (a 24-bit
 * noise floor is ~1e-11 in these units), so digital silence reads as steady, not as noise. */
#define TONAL_P_FLOOR 1e-30f
/* Half-width of a Hann main lobe in bins: a bin this close to a stronger tonal bin is that
 * partial's skirt.  Two partials closer than a lobe (an organ chord's C3 and E3 are 2.2 bins
 * apart) make the bins between them beat, which alone would read as noise. */
#define TONAL_LOBE 2
/* Largest jump one frame may contribute: an attack (several ln units in a frame or two)
 * must not make a note look like noise for the next second.  Noise's mean clipped jump
 * stays near 0.9, far above TONAL_J_HI. */
#define TONAL_JUMP_MAX 1.5f
/* Peak persistence: a bin counts as a peak in a frame when it is a local maximum standing
 * TONAL_PEAK_PROM over at least one bin three away (beyond a Hann main lobe, whose first
 * sidelobe is -31 dB).  In noise that happens in about 1 frame in 10 at any bin; a partial
 * keeps its peak in nearly every frame, also while beating against a close neighbour (an
 * organ chord's C3 x 5 and E3 x 4 are 5 Hz apart and beat at 5 Hz, through nulls the jump
 * measure reads as noise).  The smoothed peak rate maps to a weight from PEAK_LO to
 * PEAK_HI. */
#define TONAL_PEAK_PROM 8.0f /* 9 dB */
#define TONAL_PEAK_LO 0.5f
#define TONAL_PEAK_HI 0.8f

struct tonal {
    int n, started;
    float a;
    float *lp;          /* previous frame's ln power */
    float *j;           /* smoothed |delta ln power| */
    float *w;           /* own weight, before the skirt rule */
    float *pk;          /* smoothed peak rate */
    unsigned char *isp; /* this frame's prominent peaks */
};

tonal *tonal_create(int n_bins, float frame_rate) {
    if (n_bins < 1 || !(frame_rate > 0.0f) || frame_rate > 1e6f) return NULL;
    tonal *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->n = n_bins;
    t->lp = calloc((size_t)n_bins, sizeof *t->lp);
    t->j = calloc((size_t)n_bins, sizeof *t->j);
    t->w = calloc((size_t)n_bins, sizeof *t->w);
    t->pk = calloc((size_t)n_bins, sizeof *t->pk);
    t->isp = calloc((size_t)n_bins, sizeof *t->isp);
    if (!t->lp || !t->j || !t->w || !t->pk || !t->isp) {
        tonal_destroy(t);
        return NULL;
    }
    t->a = expf(-1.0f / (TONAL_TAU_S * frame_rate));
    tonal_reset(t);
    return t;
}

void tonal_destroy(tonal *t) {
    if (!t) return;
    free(t->lp);
    free(t->j);
    free(t->w);
    free(t->pk);
    free(t->isp);
    free(t);
}

void tonal_reset(tonal *t) {
    for (int k = 0; k < t->n; k++) {
        t->lp[k] = t->j[k] = 0.0f;
        t->pk[k] = 1.0f;
    }
    t->started = 0;
}

void tonal_reset_noise(tonal *t) {
    for (int k = 0; k < t->n; k++) {
        t->lp[k] = t->pk[k] = 0.0f;
        t->j[k] = TONAL_J_HI;
    }
    t->started = 0;
}

void tonal_process(tonal *t, const float *power, float *weight) {
    const float a = t->a, span = TONAL_J_HI - TONAL_J_LO;
    for (int k = 0; k < t->n; k++) {
        float p = power[k];
        if (!(p >= 0.0f)) p = 0.0f;
        if (p > 1e30f) p = 1e30f;
        float l = logf(p + TONAL_P_FLOOR);
        /* The first frame has no predecessor: its jump would be meaningless. */
        if (t->started)
            t->j[k] = a * t->j[k] + (1.0f - a) * fminf(fabsf(l - t->lp[k]), TONAL_JUMP_MAX);
        t->lp[k] = l;
        float w = (TONAL_J_HI - t->j[k]) / span;
        t->w[k] = w > 1.0f ? 1.0f : (w < 0.0f ? 0.0f : w);
    }
    t->started = 1;
    /* lp now holds this frame's ln power: compare in the log domain. */
    const float prom = logf(TONAL_PEAK_PROM), pspan = TONAL_PEAK_HI - TONAL_PEAK_LO;
    const float *l = t->lp;
    for (int k = 0; k < t->n; k++) {
        float c = l[k];
        int peak = (k == 0 || c >= l[k - 1]) && (k == t->n - 1 || c >= l[k + 1]);
        float side = k >= 3 ? l[k - 3] : c, side2 = k + 3 < t->n ? l[k + 3] : c;
        t->isp[k] = peak && c - fminf(side, side2) >= prom;
    }
    for (int k = 0; k < t->n; k++) {
        /* A peak within a bin either side counts: vibrato moves a partial's peak by a bin. */
        int peak = t->isp[k] || (k > 0 && t->isp[k - 1]) || (k + 1 < t->n && t->isp[k + 1]);
        t->pk[k] = a * t->pk[k] + (1.0f - a) * (peak ? 1.0f : 0.0f);
        float w = (t->pk[k] - TONAL_PEAK_LO) / pspan;
        w = w > 1.0f ? 1.0f : (w < 0.0f ? 0.0f : w);
        if (w > t->w[k]) t->w[k] = w;
    }
    for (int k = 0; k < t->n; k++) {
        float w = t->w[k];
        int lo = k - TONAL_LOBE > 0 ? k - TONAL_LOBE : 0;
        int hi = k + TONAL_LOBE < t->n - 1 ? k + TONAL_LOBE : t->n - 1;
        for (int i = lo; i <= hi; i++)
            if (t->w[i] > w && t->lp[i] > t->lp[k]) w = t->w[i];
        weight[k] = w;
    }
}
