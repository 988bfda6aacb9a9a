#include "engine/limiter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CH 2
#define TAPS 12      /* per phase */
#define TAP_BEFORE 6 /* taps at or before sample j for a point between j and j + 1 */
#define PHASES 4     /* oversampling factor */
#define KAISER_BETA 6.0
#define ATTACK_S 0.0015 /* W: look-ahead and ramp length */
#define RELEASE_S 0.1

struct limiter {
    int C, on, W, lat;
    int xmask, qmask;
    float ceiling;
    float coef[PHASES - 1][TAPS];
    /* No interpolated point can exceed (sum of |taps|) x the largest tap input, so while no
     * sample of the last TAPS is over quiet = ceiling / that sum, the estimate is skipped. */
    float quiet;
    int hot;          /* samples over `quiet` among the last TAPS (any channel) */
    float *x[MAX_CH]; /* input history, by absolute index & xmask */
    float *q;         /* required gain, by index & qmask */
    float *r;         /* released minimum, last W values, by index % W */
    long long *dq;    /* monotonic deque of indices into q (ring of W + 1) */
    int dq_head, dq_len;
    double sum; /* of the last W values of r */
    float r_prev, a_rel;
    long long m; /* input samples written */
};

static double bessel_i0(double x) {
    double s = 1.0, t = 1.0;
    for (int k = 1; k < 40; k++) {
        t *= (x / (2.0 * k)) * (x / (2.0 * k));
        s += t;
    }
    return s;
}

static int pow2_at_least(int n) {
    int p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

limiter *limiter_create(int sample_rate, int channels) {
    if (sample_rate < 1000 || channels < 1 || channels > MAX_CH) return NULL;
    limiter *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->C = channels;
    l->W = (int)lround(ATTACK_S * sample_rate);
    if (l->W < 2) l->W = 2;
    /* Output j needs q up to j + W - 1, and q[j] needs x up to j + TAPS - TAP_BEFORE. */
    l->lat = l->W - 1 + (TAPS - TAP_BEFORE);
    int xn = pow2_at_least(l->lat + TAPS + 2), qn = pow2_at_least(l->W + 2);
    l->xmask = xn - 1;
    l->qmask = qn - 1;
    int ok = 1;
    for (int c = 0; c < channels; c++)
        ok = ok && (l->x[c] = calloc((size_t)xn, sizeof(float)));
    l->q = calloc((size_t)qn, sizeof(float));
    l->r = calloc((size_t)l->W, sizeof(float));
    l->dq = calloc((size_t)l->W + 1, sizeof(long long));
    if (!ok || !l->q || !l->r || !l->dq) {
        limiter_destroy(l);
        return NULL;
    }
    l->ceiling = powf(10.0f, LIMITER_CEILING_DB / 20.0f);
    l->quiet = l->ceiling;
    l->a_rel = (float)exp(-1.0 / (RELEASE_S * sample_rate));
    /* Interpolator for the points j + p/4, p = 1..3, from x[j - 5] .. x[j + 6] (tap t reads
     * x[j - TAP_BEFORE + 1 + t]); each phase normalised to unit DC gain. */
    for (int p = 1; p < PHASES; p++) {
        double mu = (double)p / PHASES, sum = 0.0, half = TAPS / 2.0;
        for (int t = 0; t < TAPS; t++) {
            double u = (double)(t - (TAP_BEFORE - 1)) - mu;
            double s = fabs(u) < 1e-12 ? 1.0 : sin(M_PI * u) / (M_PI * u);
            double z = u / half, w = fabs(z) < 1.0 ? bessel_i0(KAISER_BETA * sqrt(1.0 - z * z)) /
                                                         bessel_i0(KAISER_BETA)
                                                   : 0.0;
            l->coef[p - 1][t] = (float)(s * w);
            sum += s * w;
        }
        double abs_sum = 0.0;
        for (int t = 0; t < TAPS; t++) {
            l->coef[p - 1][t] = (float)(l->coef[p - 1][t] / sum);
            abs_sum += fabs(l->coef[p - 1][t]);
        }
        float q = (float)(l->ceiling / (abs_sum * 1.001));
        if (p == 1 || q < l->quiet) l->quiet = q;
    }
    l->on = 1;
    limiter_reset(l);
    return l;
}

void limiter_destroy(limiter *l) {
    if (!l) return;
    for (int c = 0; c < MAX_CH; c++)
        free(l->x[c]);
    free(l->q);
    free(l->r);
    free(l->dq);
    free(l);
}

int limiter_latency(const limiter *l) {
    return l->lat;
}

void limiter_set(limiter *l, int on) {
    l->on = on != 0;
}

void limiter_reset(limiter *l) {
    for (int c = 0; c < l->C; c++)
        memset(l->x[c], 0, sizeof(float) * (size_t)(l->xmask + 1));
    for (int i = 0; i <= l->qmask; i++)
        l->q[i] = 1.0f;
    for (int i = 0; i < l->W; i++)
        l->r[i] = 1.0f;
    l->sum = l->W;
    l->r_prev = 1.0f;
    l->dq_head = l->dq_len = 0;
    l->hot = 0;
    l->m = 0;
}

/* The largest of |x[j]| and the three interpolated points between x[j] and x[j + 1]. */
static float true_peak(const limiter *l, long long j) {
    float pk = 0.0f;
    for (int c = 0; c < l->C; c++) {
        const float *x = l->x[c];
        float v = fabsf(x[j & l->xmask]);
        if (v > pk) pk = v;
        for (int p = 0; p < PHASES - 1; p++) {
            float s = 0.0f;
            for (int t = 0; t < TAPS; t++)
                s += l->coef[p][t] * x[(j - (TAP_BEFORE - 1) + t) & l->xmask];
            s = fabsf(s);
            if (s > pk) pk = s;
        }
    }
    return pk;
}

void limiter_process(limiter *l, float *const *x, int n) {
    const int W = l->W, cap = W + 1;
    for (int i = 0; i < n; i++) {
        long long m = l->m++;
        int in_hot = 0, out_hot = 0;
        for (int c = 0; c < l->C; c++) {
            out_hot |= fabsf(l->x[c][(m - TAPS) & l->xmask]) > l->quiet;
            l->x[c][m & l->xmask] = x[c][i];
            in_hot |= fabsf(x[c][i]) > l->quiet;
        }
        l->hot += in_hot - (m >= TAPS && out_hot);
        /* q[j] for the newest j whose interpolation taps are all here. */
        long long j = m - (TAPS - TAP_BEFORE);
        float qj = 1.0f;
        if (l->on && j >= 0 && l->hot > 0) {
            float pk = true_peak(l, j);
            if (pk > l->ceiling) qj = l->ceiling / pk;
        }
        l->q[j & l->qmask] = qj;
        /* Sliding minimum of q over [j - W + 1, j] = h[j - W + 1]. */
        while (l->dq_len > 0 && l->q[l->dq[(l->dq_head + l->dq_len - 1) % cap] & l->qmask] >= qj)
            l->dq_len--;
        l->dq[(l->dq_head + l->dq_len) % cap] = j;
        l->dq_len++;
        while (l->dq[l->dq_head] < j - W + 1) {
            l->dq_head = (l->dq_head + 1) % cap;
            l->dq_len--;
        }
        float h = l->q[l->dq[l->dq_head] & l->qmask];
        long long o = j - W + 1; /* the sample leaving now */
        float r = h < l->r_prev ? h : l->r_prev + (h - l->r_prev) * (1.0f - l->a_rel);
        l->r_prev = r;
        int slot = (int)(((o % W) + W) % W);
        l->sum += (double)r - (double)l->r[slot];
        l->r[slot] = r;
        float g = (float)(l->sum / W);
        /* Rounding in the running sum must not break the guarantee. */
        float qo = o >= 0 ? l->q[o & l->qmask] : 1.0f;
        if (g > qo) g = qo;
        if (g > 1.0f) g = 1.0f;
        for (int c = 0; c < l->C; c++)
            x[c][i] = o >= 0 ? l->x[c][o & l->xmask] * g : 0.0f;
    }
}
