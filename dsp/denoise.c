/* Band-wise noise suppression.  Per band, per frame:
 *
 * 1. sanitise the power (NaN/negative -> 0, +Inf/huge -> 1e30) so nothing downstream can
 *    produce NaN;
 * 2. learn only from frames that carry evidence about the noise: the caller's noise
 *    observation (the band without its tonal bins, see enhance.c), never digital silence;
 *    a band without evidence holds everything, its minimum window included, so a sustained
 *    note or a silent stretch does not age the learnt noise out of the window (the old
 *    tracker forgot the noise during 1.5 s of silence, then saw none for 1.5 s and cut in one
 *    step when the window filled: issue 11);
 * 3. smooth the observation (S, tau 80 ms) and track the minimum of S * B over a ~1.5 s
 *    window kept as 8 sub-window minima (minimum statistics, Martin 2001), counted in the
 *    band's own observed frames.  B is Martin's bias compensation 1 + (D - 1) * 2 / Q~, where
 *    the equivalent degrees of freedom Q come from the running variance of S: a band summing
 *    30 FFT bins fluctuates far less than a 1-bin band, so its minimum sits much closer to its
 *    mean, and a fixed bias factor would be wrong for one or the other.  Applying B before
 *    taking the minimum (as Martin does) keeps loud, fluctuating music frames from ever being
 *    chosen;
 * 4. the noise estimate follows that minimum down at once and up with a 1 s time constant
 *    (the "slow upward drift"): a sustained note is only eaten after the window plus the
 *    drift, while rising noise is still followed within seconds;
 * 5. tonal protection: a band's noise may exceed the median of its 7-band neighbourhood (of
 *    bands that have learnt anything) by at most 6 dB.  Noise spectra are smooth across
 *    bands, a held tone is not;
 * 6. decision-directed a-priori SNR (0.98 per 16 ms frame, scaled to the frame rate),
 *    Wiener gain xi / (1 + xi) against strength * noise, floored at the band's current
 *    depth: 0 dB before it has learnt anything, -max_atten_db once it has learnt from a full
 *    window of frames, linear in dB between (so a fresh tracker fades suppression in at
 *    max_atten_db per 1.5 s instead of stepping);
 * 7. gain smoothing: opens fast (5 ms) so onsets are not dulled, closes slowly (80 ms) so
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
#define N_MIN 1e-30    /* noise estimate floor; powers below it are digital silence */
/* Priming record: 0.5 dB bins of 10 log10(noise) over [-300, +300] dB. */
#define HIST_BINS 1200
#define HIST_PCT 0.2 /* low enough that music-inflated estimates do not set the floor */

typedef struct {
    double s;         /* smoothed observation */
    double m1, m2;    /* running first and second moments of s */
    double noise;     /* tracked noise power */
    double sub_min;   /* minimum of s * B in the current sub-window */
    double store_min; /* minimum over the completed sub-windows */
    double win[N_SUB];
    int sub_cnt, sub_pos; /* observed frames in the current sub-window; its slot */
    int seen;             /* has learnt from at least one frame */
    long n_obs;           /* frames learnt from (capped), sets the depth */
    double clean;         /* previous frame's estimated clean power, for the DD rule */
    double g;             /* smoothed output gain; < 0: take the next gain unsmoothed */
} band;

struct denoise {
    int n, sub_len;
    long full_obs; /* observations for full depth: one window */
    double a_s, a_m, a_up, a_dd, a_att, a_rel, d_frames, m_d, tonal;
    double strength, atten_db;
    band *b;
    double *noise_eff; /* per-band noise after tonal protection (scratch) */
    unsigned *hist;    /* priming record, n x HIST_BINS, or NULL */
    int hold;          /* denoise_hold: the floor is given, not tracked */
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
    d->full_obs = (long)d->sub_len * N_SUB;
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
    free(d->hist);
    free(d);
}

void denoise_set(denoise *d, float strength, float max_atten_db) {
    d->strength = strength > 0 ? (strength < 100 ? strength : 100) : 0; /* NaN -> 0 */
    d->atten_db = max_atten_db > 0 ? (max_atten_db < 200 ? max_atten_db : 200) : 0;
}

static void band_reset(band *b) {
    memset(b, 0, sizeof *b);
    b->g = 1.0;
    b->noise = N_MIN;
    b->sub_min = b->store_min = DBL_MAX;
    for (int k = 0; k < N_SUB; k++)
        b->win[k] = DBL_MAX;
}

void denoise_reset(denoise *d) {
    for (int i = 0; i < d->n; i++)
        band_reset(&d->b[i]);
    d->hold = 0;
    if (d->hist) memset(d->hist, 0, sizeof(unsigned) * (size_t)d->n * HIST_BINS);
}

/* Median of the tracked noise over the neighbourhood of band i, among bands that have learnt
 * something (upper median); a negative value when none has. */
static double neighbourhood_median(const denoise *d, int i) {
    double v[2 * NEIGH + 1];
    int lo = i - NEIGH > 0 ? i - NEIGH : 0, hi = i + NEIGH < d->n - 1 ? i + NEIGH : d->n - 1;
    int m = 0;
    for (int k = lo; k <= hi; k++) {
        if (!d->b[k].seen) continue;
        double x = d->b[k].noise;
        int j = m++;
        while (j > 0 && v[j - 1] > x)
            v[j] = v[j - 1], j--; /* insertion sort, <= 7 values */
        v[j] = x;
    }
    return m ? v[m / 2] : -1.0;
}

static void track_noise(denoise *d, band *b, double p) {
    if (!b->seen) {
        b->s = b->m1 = p;
        b->m2 = p * p;
        b->noise = p;
        b->seen = 1;
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
    if (++b->sub_cnt >= d->sub_len) { /* close this band's sub-window */
        b->sub_cnt = 0;
        b->win[b->sub_pos] = b->sub_min;
        b->sub_min = DBL_MAX;
        b->store_min = b->win[0];
        for (int k = 1; k < N_SUB; k++)
            if (b->win[k] < b->store_min) b->store_min = b->win[k];
        b->sub_pos = (b->sub_pos + 1) % N_SUB;
    }
    if (b->n_obs < d->full_obs) b->n_obs++;
}

static double sanitize(double p) {
    if (!(p >= 0)) return 0; /* NaN and negatives */
    return p > P_MAX ? P_MAX : p;
}

static void record(denoise *d, int i) {
    double db = 10.0 * log10(d->b[i].noise);
    int k = (int)((db + 300.0) * 2.0);
    if (k < 0) k = 0;
    if (k >= HIST_BINS) k = HIST_BINS - 1;
    d->hist[(size_t)i * HIST_BINS + k]++;
}

void denoise_process_guided(denoise *d, const float *band_power, const float *noise_obs,
                            float *band_gain) {
    for (int i = 0; i < d->n; i++) {
        double o = noise_obs ? noise_obs[i] : band_power[i];
        if (noise_obs && o < 0) continue; /* no evidence: hold (NaN is sanitised below) */
        o = sanitize(o);
        if (o < N_MIN || d->hold) continue;
        track_noise(d, &d->b[i], o);
        if (d->hist && d->b[i].n_obs * 2 >= d->full_obs) record(d, i);
    }
    for (int i = 0; i < d->n; i++) {
        double nz = d->b[i].noise;
        if (d->n >= 2 * NEIGH + 1) {
            double med = neighbourhood_median(d, i);
            if (med > 0 && nz > d->tonal * med) nz = d->tonal * med;
        }
        d->noise_eff[i] = nz;
    }
    for (int i = 0; i < d->n; i++) {
        band *b = &d->b[i];
        double p = sanitize(band_power[i]);
        /* Depth grows with evidence: 0 dB unlearnt, -atten_db after a full window. */
        double depth = d->atten_db * (double)b->n_obs / (double)d->full_obs;
        double floor = pow(10.0, -depth / 20.0);
        double g;
        if (d->strength <= 0 || !b->seen) {
            g = 1.0;
        } else {
            double ne = d->strength * d->noise_eff[i];
            if (ne < N_MIN) ne = N_MIN;
            double gamma = p / ne, ml = gamma - 1 > 0 ? gamma - 1 : 0;
            double xi = d->a_dd * b->clean / ne + (1 - d->a_dd) * ml;
            g = xi / (1 + xi);
            if (!(g >= floor)) g = floor; /* also catches NaN */
            if (g > 1) g = 1;
        }
        b->clean = g * g * p;
        if (b->g < 0) {
            b->g = g;
        } else {
            double a = g > b->g ? d->a_att : d->a_rel;
            b->g = a * b->g + (1 - a) * g;
        }
        /* After denoise_set raises the floor the smoothed gain may lag below it briefly. */
        double out = b->g > floor ? b->g : floor;
        band_gain[i] = (float)(out < 1 ? out : 1);
    }
}

void denoise_process(denoise *d, const float *band_power, float *band_gain) {
    denoise_process_guided(d, band_power, NULL, band_gain);
}

int denoise_prime_begin(denoise *d) {
    if (!d->hist) {
        d->hist = calloc((size_t)d->n * HIST_BINS, sizeof(unsigned));
        if (!d->hist) return -1;
    }
    denoise_reset(d);
    return 0;
}

/* A band restarting from a learnt floor: the window says "noise is here", depth is full. */
static void band_install(band *b, double noise, long full_obs) {
    band_reset(b);
    b->noise = noise;
    b->s = b->m1 = noise;
    b->m2 = noise * noise;
    b->store_min = noise;
    for (int k = 0; k < N_SUB; k++)
        b->win[k] = noise;
    b->seen = 1;
    b->n_obs = full_obs;
    b->g = -1.0; /* the first gain is taken as it is, like the frames in the primed audio */
}

void denoise_prime_end(denoise *d) {
    if (!d->hist) return;
    for (int i = 0; i < d->n; i++) {
        const unsigned *h = d->hist + (size_t)i * HIST_BINS;
        unsigned long total = 0;
        for (int k = 0; k < HIST_BINS; k++)
            total += h[k];
        /* A quarter of a window of settled frames at least, or the band stays unlearnt. */
        if (total * 4 < (unsigned long)d->full_obs) {
            band_reset(&d->b[i]);
            continue;
        }
        unsigned long want = (unsigned long)(HIST_PCT * (double)total), c = 0;
        int k = 0;
        for (; k < HIST_BINS - 1; k++) {
            c += h[k];
            if (c > want) break;
        }
        double db = (k + 0.5) / 2.0 - 300.0;
        band_install(&d->b[i], pow(10.0, db / 10.0), d->full_obs);
    }
    free(d->hist);
    d->hist = NULL;
}

void denoise_hold(denoise *d, const float *noise_power) {
    d->hold = noise_power != NULL;
    if (!noise_power) return;
    for (int i = 0; i < d->n; i++) {
        double p = sanitize(noise_power[i]);
        if (p < N_MIN)
            band_reset(&d->b[i]); /* nothing heard there: the band is left alone */
        else
            band_install(&d->b[i], p, d->full_obs);
    }
}

void denoise_take_noise(denoise *dst, const denoise *src) {
    if (dst->n != src->n) return;
    for (int i = 0; i < dst->n; i++) {
        const band *s = &src->b[i];
        if (!s->seen) {
            band_reset(&dst->b[i]);
            continue;
        }
        band_install(&dst->b[i], s->noise, dst->full_obs);
        memcpy(dst->b[i].win, s->win, sizeof s->win);
        dst->b[i].store_min = s->store_min;
        dst->b[i].sub_min = s->sub_min;
        dst->b[i].sub_cnt = s->sub_cnt;
        dst->b[i].sub_pos = s->sub_pos;
        dst->b[i].n_obs = s->n_obs < dst->full_obs ? s->n_obs : dst->full_obs;
    }
}
