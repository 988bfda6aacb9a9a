/* Band-wise noise suppression.  Per band, per frame:
 *
 * 1. sanitise the power (NaN/negative -> 0, +Inf/huge -> 1e30) so nothing downstream can
 *    produce NaN;
 * 2. smooth it (S, tau 80 ms) and track the minimum of S * B over a ~1.5 s window kept as 8
 *    sub-window minima (minimum statistics, Martin 2001).  B is Martin's bias compensation
 *    1 + (D - 1) * 2 / Q~, where the equivalent degrees of freedom Q come from the running
 *    variance of S: a band summing 30 FFT bins fluctuates far less than a 1-bin band, so
 *    its minimum sits much closer to its mean, and a fixed bias factor would be wrong for
 *    one or the other.  Applying B before taking the minimum (as Martin does) keeps loud,
 *    fluctuating music frames from ever being chosen;
 * 3. the noise estimate follows that minimum down at once and up with a 1 s time constant
 *    (the "slow upward drift"): a sustained note is only eaten after the window plus the
 *    drift, while rising noise is still followed within seconds;
 * 4. tonal protection: a band's noise may exceed the median of its 7-band neighbourhood by
 *    at most 6 dB.  Noise spectra are smooth across bands, a held tone is not, so a steady
 *    tone amid noise keeps its level instead of being learnt as noise (minimum statistics
 *    alone cannot tell the two apart in a single band);
 * 5. decision-directed a-priori SNR (0.98 per 16 ms frame, scaled to the frame rate),
 *    Wiener gain xi / (1 + xi) against strength * noise, floored at -max_atten_db;
 * 6. gain smoothing: opens fast (5 ms) so onsets are not dulled, closes slowly (80 ms) so
 *    isolated noise peaks do not flicker into musical noise.
 *
 * All state is double: powers can span 1e-30..1e30 and their squares must not overflow. */
#include "dsp/denoise.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_SUB 8        /* sub-windows of the minimum search */
#define WINDOW_S 1.5   /* minimum-statistics window */
#define SMOOTH_S 0.08  /* power smoothing time constant */
#define UP_S 1.0       /* upward drift time constant of the noise estimate */
#define DD_S 0.792     /* decision-directed memory: 0.98 per 16 ms frame */
#define ATTACK_S 0.005 /* gain opening */
#define RELEASE_S 0.08 /* gain closing */
#define TONAL_DB 6.0   /* noise may exceed its neighbourhood median by this much */
#define NEIGH 3        /* neighbourhood half-width in bands */
#define P_MAX 1e30     /* sanitised power ceiling */
#define N_MIN 1e-30    /* noise estimate floor (avoids division by zero) */

typedef struct {
    double s;         /* smoothed power */
    double m1, m2;    /* running first and second moments of s */
    double noise;     /* tracked noise power */
    double sub_min;   /* minimum of s * B in the current sub-window */
    double store_min; /* minimum over the completed sub-windows */
    double win[N_SUB];
    double clean; /* previous frame's estimated clean power, for the DD rule */
    double g;     /* smoothed output gain */
} band;

struct denoise {
    int n, started, sub_len, sub_cnt, sub_pos;
    double a_s, a_m, a_up, a_dd, a_att, a_rel, d_frames, m_d, tonal;
    double strength, floor;
    band *b;
    double *noise_eff; /* per-band noise after tonal protection (scratch) */
};

/* Martin's M(D) for the bias of a minimum over D correlated frames (his table III). */
static double martin_m(double d) {
    static const double dt[] = {1, 2, 5, 8, 10, 15, 20, 30, 40, 60, 80, 120, 140, 160};
    static const double mt[] = {0,     0.26, 0.48,  0.58,  0.61, 0.668, 0.705,
                                0.762, 0.8,  0.841, 0.865, 0.89, 0.9,   0.91};
    int n = (int)(sizeof dt / sizeof dt[0]);
    if (d <= dt[0]) return mt[0];
    for (int i = 1; i < n; i++)
        if (d <= dt[i])
            return mt[i - 1] + (mt[i] - mt[i - 1]) * (d - dt[i - 1]) / (dt[i] - dt[i - 1]);
    return mt[n - 1];
}

denoise *denoise_create(int n_bands, float frame_rate) {
    if (n_bands < 1 || !(frame_rate > 0) || frame_rate > 1e6f) return NULL;
    denoise *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->b = calloc((size_t)n_bands, sizeof *d->b);
    d->noise_eff = calloc((size_t)n_bands, sizeof *d->noise_eff);
    if (!d->b || !d->noise_eff) {
        denoise_destroy(d);
        return NULL;
    }
    d->n = n_bands;
    double t = 1.0 / frame_rate;
    d->a_s = exp(-t / SMOOTH_S);
    d->a_m = fmin(d->a_s * d->a_s, 0.8); /* Martin's moment smoothing */
    d->a_up = exp(-t / UP_S);
    d->a_dd = exp(-t / DD_S);
    d->a_att = exp(-t / ATTACK_S);
    d->a_rel = exp(-t / RELEASE_S);
    int frames = (int)lround(WINDOW_S * frame_rate);
    d->sub_len = frames / N_SUB > 1 ? frames / N_SUB : 1;
    d->d_frames = (double)d->sub_len * N_SUB;
    d->m_d = martin_m(d->d_frames);
    d->tonal = pow(10.0, TONAL_DB / 10.0);
    denoise_set(d, 1.0f, 18.0f);
    denoise_reset(d);
    return d;
}

void denoise_destroy(denoise *d) {
    if (!d) return;
    free(d->b);
    free(d->noise_eff);
    free(d);
}

void denoise_set(denoise *d, float strength, float max_atten_db) {
    d->strength = strength > 0 ? (strength < 100 ? strength : 100) : 0; /* NaN -> 0 */
    double db = max_atten_db > 0 ? (max_atten_db < 200 ? max_atten_db : 200) : 0;
    d->floor = pow(10.0, -db / 20.0);
}

void denoise_reset(denoise *d) {
    memset(d->b, 0, sizeof(band) * (size_t)d->n);
    for (int i = 0; i < d->n; i++) {
        d->b[i].g = 1.0;
        d->b[i].sub_min = d->b[i].store_min = DBL_MAX;
        for (int k = 0; k < N_SUB; k++)
            d->b[i].win[k] = DBL_MAX;
    }
    d->started = 0;
    d->sub_cnt = d->sub_pos = 0;
}

/* Median of the tracked noise over the neighbourhood of band i (upper median). */
static double neighbourhood_median(const denoise *d, int i) {
    double v[2 * NEIGH + 1];
    int lo = i - NEIGH > 0 ? i - NEIGH : 0, hi = i + NEIGH < d->n - 1 ? i + NEIGH : d->n - 1;
    int m = 0;
    for (int k = lo; k <= hi; k++) {
        double x = d->b[k].noise;
        int j = m++;
        while (j > 0 && v[j - 1] > x)
            v[j] = v[j - 1], j--; /* insertion sort, <= 7 values */
        v[j] = x;
    }
    return v[m / 2];
}

static void track_noise(denoise *d, band *b, double p) {
    if (!d->started) {
        b->s = b->m1 = p;
        b->m2 = p * p;
        b->noise = p > N_MIN ? p : N_MIN;
    }
    b->s = d->a_s * b->s + (1 - d->a_s) * p;
    b->m1 = d->a_m * b->m1 + (1 - d->a_m) * b->s;
    b->m2 = d->a_m * b->m2 + (1 - d->a_m) * b->s * b->s;
    double var = b->m2 - b->m1 * b->m1;
    double qinv = var > 0 ? var / (2 * b->noise * b->noise) : 0;
    if (qinv > 0.5) qinv = 0.5; /* the chi-square-2 limit: a single unsmoothed bin */
    double bias = 1.0;
    if (qinv > 0) {
        double q = (1 / qinv - 2 * d->m_d) / (1 - d->m_d);
        bias = 1 + (d->d_frames - 1) * 2 / q;
    }
    double v = b->s * bias;
    if (v < b->sub_min) b->sub_min = v;
    double target = b->sub_min < b->store_min ? b->sub_min : b->store_min;
    if (target < b->noise)
        b->noise = target;
    else
        b->noise += (1 - d->a_up) * (target - b->noise);
    if (!(b->noise > N_MIN)) b->noise = N_MIN;
}

void denoise_process(denoise *d, const float *band_power, float *band_gain) {
    for (int i = 0; i < d->n; i++) {
        double p = band_power[i];
        if (!(p >= 0)) p = 0; /* NaN and negatives */
        if (p > P_MAX) p = P_MAX;
        track_noise(d, &d->b[i], p);
    }
    d->started = 1;
    if (++d->sub_cnt >= d->sub_len) { /* close the sub-window in every band */
        d->sub_cnt = 0;
        for (int i = 0; i < d->n; i++) {
            band *b = &d->b[i];
            b->win[d->sub_pos] = b->sub_min;
            b->sub_min = DBL_MAX;
            b->store_min = b->win[0];
            for (int k = 1; k < N_SUB; k++)
                if (b->win[k] < b->store_min) b->store_min = b->win[k];
        }
        d->sub_pos = (d->sub_pos + 1) % N_SUB;
    }
    for (int i = 0; i < d->n; i++) {
        double nz = d->b[i].noise;
        if (d->n >= 2 * NEIGH + 1) {
            double cap = d->tonal * neighbourhood_median(d, i);
            if (nz > cap) nz = cap;
        }
        d->noise_eff[i] = nz;
    }
    for (int i = 0; i < d->n; i++) {
        band *b = &d->b[i];
        double p = band_power[i];
        if (!(p >= 0)) p = 0;
        if (p > P_MAX) p = P_MAX;
        double g;
        if (d->strength <= 0) {
            g = 1.0;
        } else {
            double ne = d->strength * d->noise_eff[i];
            if (ne < N_MIN) ne = N_MIN;
            double gamma = p / ne, ml = gamma - 1 > 0 ? gamma - 1 : 0;
            double xi = d->a_dd * b->clean / ne + (1 - d->a_dd) * ml;
            g = xi / (1 + xi);
            if (!(g >= d->floor)) g = d->floor; /* also catches NaN */
            if (g > 1) g = 1;
        }
        b->clean = g * g * p;
        double a = g > b->g ? d->a_att : d->a_rel;
        b->g = a * b->g + (1 - a) * g;
        /* After denoise_set raises the floor the smoothed gain may lag below it briefly. */
        double out = b->g > d->floor ? b->g : d->floor;
        band_gain[i] = (float)(out < 1 ? out : 1);
    }
}
