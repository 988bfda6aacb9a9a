#include "engine/hiband.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/denoise.h"

#define MAX_CH 2
#define NBANDS 2
/* Band powers are measured over this many samples; gains glide across the next frame. */
#define FRAME 64
#define SPLIT_HZ 12000.0

typedef struct {
    float b0, b1, b2, a1, a2;
} biquad;

struct hiband {
    int channels, nbands;
    biquad lp;             /* 2nd-order Butterworth; run twice for Linkwitz-Riley 4 */
    float z[MAX_CH][2][2]; /* two cascaded sections per channel, DF2T state */
    denoise *dn;
    float acc[NBANDS]; /* linked band power of the current frame */
    int pos;
    float gain_from[NBANDS], gain_to[NBANDS];
    long warmup, warm; /* samples not learnt from after reset; left */
};

static biquad butter_lp(double fs, double fc) {
    double w = tan(M_PI * fc / fs), q = M_SQRT1_2;
    double n = 1.0 / (1.0 + w / q + w * w);
    biquad b;
    b.b0 = (float)(w * w * n);
    b.b1 = 2.0f * b.b0;
    b.b2 = b.b0;
    b.a1 = (float)(2.0 * (w * w - 1.0) * n);
    b.a2 = (float)((1.0 - w / q + w * w) * n);
    return b;
}

static float biquad_run(const biquad *b, float *z, float x) {
    float y = b->b0 * x + z[0];
    z[0] = b->b1 * x - b->a1 * y + z[1];
    z[1] = b->b2 * x - b->a2 * y;
    return y;
}

hiband *hiband_create(int sample_rate, int channels) {
    if (channels < 1 || channels > MAX_CH || sample_rate < 8000) return NULL;
    hiband *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->channels = channels;
    /* Below ~28 kHz there is no room for a second band above 12 kHz. */
    h->nbands = sample_rate > 28000 ? 2 : 1;
    if (h->nbands == 2) h->lp = butter_lp(sample_rate, SPLIT_HZ);
    h->dn = denoise_create(h->nbands, (float)sample_rate / FRAME);
    if (!h->dn) {
        free(h);
        return NULL;
    }
    hiband_reset(h);
    return h;
}

void hiband_destroy(hiband *h) {
    if (!h) return;
    denoise_destroy(h->dn);
    free(h);
}

void hiband_set_warmup(hiband *h, long samples) {
    h->warmup = samples > 0 ? samples : 0;
    h->warm = h->warmup;
}

void hiband_set(hiband *h, float strength, float max_atten_db) {
    denoise_set(h->dn, strength, max_atten_db);
}

void hiband_reset(hiband *h) {
    memset(h->z, 0, sizeof h->z);
    memset(h->acc, 0, sizeof h->acc);
    h->pos = 0;
    h->warm = h->warmup;
    for (int b = 0; b < NBANDS; b++)
        h->gain_from[b] = h->gain_to[b] = 1.0f;
    denoise_reset(h->dn);
}

void hiband_process(hiband *h, float *const *x, int n) {
    const int C = h->channels, B = h->nbands;
    for (int i = 0; i < n; i++) {
        float t = (float)(h->pos + 1) / FRAME;
        float g[NBANDS];
        for (int b = 0; b < B; b++)
            g[b] = h->gain_from[b] + t * (h->gain_to[b] - h->gain_from[b]);
        for (int c = 0; c < C; c++) {
            float v = x[c][i], band[NBANDS];
            if (B == 2) {
                float lo = biquad_run(&h->lp, h->z[c][0], v);
                lo = biquad_run(&h->lp, h->z[c][1], lo);
                band[0] = lo;
                band[1] = v - lo;
            } else {
                band[0] = v;
            }
            float y = 0.0f;
            for (int b = 0; b < B; b++) {
                h->acc[b] += band[b] * band[b] / (float)C;
                y += g[b] * band[b];
            }
            x[c][i] = y;
        }
        if (++h->pos == FRAME) {
            float pw[NBANDS], gn[NBANDS], hold[NBANDS] = {-1.0f, -1.0f};
            for (int b = 0; b < B; b++)
                pw[b] = h->acc[b] / FRAME;
            denoise_process_guided(h->dn, pw, h->warm > 0 ? hold : NULL, gn);
            h->warm = h->warm > FRAME ? h->warm - FRAME : 0;
            for (int b = 0; b < B; b++) {
                h->gain_from[b] = h->gain_to[b];
                h->gain_to[b] = gn[b];
                h->acc[b] = 0.0f;
            }
            h->pos = 0;
        }
    }
}

int hiband_prime_begin(hiband *h) {
    hiband_reset(h);
    return denoise_prime_begin(h->dn);
}

void hiband_prime_end(hiband *h) {
    denoise_prime_end(h->dn);
}

void hiband_take_noise(hiband *dst, const hiband *src) {
    denoise_take_noise(dst->dn, src->dn);
}
