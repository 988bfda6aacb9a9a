/* Output limiter: the ceiling holds between samples too (checked by a much finer
 * interpolator than the limiter's own), quiet signals pass bit for bit (a pure delay of the
 * reported latency), the gain moves in ramps, any block split gives the same output, and
 * switching it off releases without a step. */
#include "engine/limiter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "tests/signals.h"

static unsigned rng = 777u;
static float frand(void) { /* [-1, 1) */
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

static void run(limiter *l, float *const *x, int n, int block) {
    for (int pos = 0; pos < n; pos += block) {
        int b = n - pos < block ? n - pos : block;
        float *p[2] = {x[0] + pos, x[1] + pos};
        limiter_process(l, p, b);
    }
}

static void test_ceiling(int rate) {
    const int n = rate / 8;
    const float ceil_lin = powf(10.0f, LIMITER_CEILING_DB / 20.0f);
    /* Hot signals of every kind: a full-scale square wave, a band-limited sawtooth at +6 dB,
     * near-Nyquist sines (the worst case for inter-sample peaks), one huge sample, and dense
     * partials up to 0.4 of the rate at +6 dB (music-like; white noise up to Nyquist has no
     * well-defined true peak for any 4x meter, BS.1770 included). */
    for (int kind = 0; kind < 5; kind++) {
        limiter *l = limiter_create(rate, 2);
        float *a = calloc(n, sizeof(float)), *b = calloc(n, sizeof(float));
        for (int i = 0; i < n; i++) {
            double t = (double)i / rate;
            switch (kind) {
            case 0:
                a[i] = fmod(t * 1000.0, 1.0) < 0.5 ? 1.0f : -1.0f;
                break;
            case 1:
                for (int h = 1; h * 220 < rate / 2; h++)
                    a[i] += (float)(1.2 * sin(2 * M_PI * 220 * h * t) / h);
                break;
            case 2:
                a[i] = (float)sin(2 * M_PI * 0.45 * rate * t + 0.7);
                break;
            case 3:
                a[i] = i == n / 3 ? 8.0f : 0.0f;
                break;
            default:
                for (int k = 0; k < 60; k++)
                    a[i] +=
                        (float)(0.12 * sin(2 * M_PI * (50.0 + k * 0.4 * rate / 60) * t + k * k));
                break;
            }
            b[i] = kind == 2 ? (float)sin(2 * M_PI * 0.23 * rate * t) : 0.5f * a[i];
        }
        float *x[2] = {a, b};
        run(l, x, n, 333);
        double tp = fmax(sig_true_peak(a, n), sig_true_peak(b, n));
        float sp = 0;
        for (int i = 0; i < n; i++)
            sp = fmaxf(sp, fmaxf(fabsf(a[i]), fabsf(b[i])));
        CHECK(sp <= ceil_lin * 1.0001f, "%d Hz kind %d: sample peak %.4f over the ceiling %.4f",
              rate, kind, sp, ceil_lin);
        CHECK(tp <= 1.0, "%d Hz kind %d: true peak %.2f dBFS", rate, kind, 20 * log10(tp));
        if (kind == 0)
            printf(
                "limiter %d Hz: full-scale square -> sample peak %.2f dBFS, true peak %.2f dBTP\n",
                rate, 20 * log10(sp), 20 * log10(tp));
        limiter_destroy(l);
        free(a);
        free(b);
    }
}

/* Under the ceiling: a pure delay of exactly the reported latency, bit for bit. */
static void test_transparent(void) {
    const int rate = 44100, n = 20000;
    limiter *l = limiter_create(rate, 1);
    int L = limiter_latency(l);
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++)
        x[i] = y[i] = 0.5f * (float)sin(0.01 * i) + 0.2f * frand();
    float *p[1] = {y};
    limiter_process(l, p, n);
    int same = 1;
    for (int i = 0; i < n; i++)
        same &= y[i] == (i >= L ? x[i - L] : 0.0f);
    CHECK(same, "quiet signal is not the input delayed by %d samples", L);
    CHECK(L > 0 && L < rate / 200, "latency %d samples", L);
    limiter_destroy(l);
    free(x);
    free(y);
}

/* Same output whatever the block sizes; gain moves smoothly; off releases without a step. */
static void test_blocks_and_switch(void) {
    const int rate = 48000, n = rate;
    float *ref[2], *got[2];
    for (int c = 0; c < 2; c++) {
        ref[c] = malloc(sizeof(float) * n);
        got[c] = malloc(sizeof(float) * n);
    }
    for (int i = 0; i < n; i++) {
        float env = (i / 4000) % 2 ? 2.5f : 0.3f; /* bursts well over the ceiling */
        ref[0][i] = env * (float)sin(2 * M_PI * 300 * i / rate);
        ref[1][i] = env * (float)sin(2 * M_PI * 450 * i / rate);
    }
    for (int c = 0; c < 2; c++)
        memcpy(got[c], ref[c], sizeof(float) * n);
    limiter *l = limiter_create(rate, 2);
    run(l, ref, n, n);
    limiter_destroy(l);
    static const int blocks[] = {1, 7, 64, 1000};
    int same = 1;
    for (int b = 0; b < 4; b++) {
        float *x[2];
        for (int c = 0; c < 2; c++) {
            x[c] = malloc(sizeof(float) * n);
            for (int i = 0; i < n; i++)
                x[c][i] = (i / 4000) % 2 ? 2.5f * (float)sin(2 * M_PI * (c ? 450 : 300) * i / rate)
                                         : 0.3f * (float)sin(2 * M_PI * (c ? 450 : 300) * i / rate);
        }
        l = limiter_create(rate, 2);
        run(l, x, n, blocks[b]);
        limiter_destroy(l);
        for (int c = 0; c < 2; c++) {
            same &= memcmp(x[c], ref[c], sizeof(float) * n) == 0;
            free(x[c]);
        }
    }
    CHECK(same, "block size changes the limiter's output");
    /* A click would be a jump far beyond what a 450 Hz sine at the ceiling can do per sample
     * (2 pi 450 / 48000 * 0.89 = 0.052). */
    float maxd = 0;
    for (int c = 0; c < 2; c++)
        for (int i = 1; i < n; i++)
            maxd = fmaxf(maxd, fabsf(ref[c][i] - ref[c][i - 1]));
    CHECK(maxd < 0.08f, "largest sample step %.3f: the gain jumps", maxd);
    /* Switched off in the middle of a loud stretch: it releases over milliseconds, and a
     * signal over the ceiling then passes unchanged. */
    l = limiter_create(rate, 1);
    float *s = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++)
        s[i] = 1.5f * (float)sin(2 * M_PI * 200 * i / rate);
    float *p[1] = {s};
    limiter_process(l, p, n / 2);
    limiter_set(l, 0);
    p[0] = s + n / 2;
    limiter_process(l, p, n / 2);
    float step = 0, late = 0;
    for (int i = 1; i < n; i++)
        step = fmaxf(step, fabsf(s[i] - s[i - 1]));
    for (int i = n - rate / 10; i < n; i++)
        late = fmaxf(late, fabsf(s[i]));
    CHECK(step < 0.05f, "switching off steps by %.3f", step);
    CHECK(late > 1.49f, "off: a +3.5 dBFS sine still limited (peak %.3f)", late);
    limiter_destroy(l);
    free(s);
    for (int c = 0; c < 2; c++) {
        free(ref[c]);
        free(got[c]);
    }
}

int main(void) {
    test_ceiling(44100);
    test_ceiling(48000);
    test_ceiling(96000);
    test_transparent();
    test_blocks_and_switch();
    CHECK(limiter_create(48000, 3) == NULL, "3 channels refused");
    return check_summary("test_limiter");
}
