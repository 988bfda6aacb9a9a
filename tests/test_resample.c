/* Resampler: the exact delay convention of dsp/resample.h at every host rate, the host ->
 * 16 kHz -> host round trip, passband flatness, aliasing, chunking invariance and reset. */
#include "dsp/resample.h"
#include "tests/check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef Q
#define Q 10 /* the tests' quality; -DQ=n to survey others */
#endif
#define MODEL 16000
static const int rates[] = {44100, 48000, 88200, 96000, 22050};
#define N_RATES (int)(sizeof rates / sizeof rates[0])

/* Runs all of x through r in one call (the output buffer is big enough). */
static int run_all(resampler *r, const float *x, int n, float *y, int cap) {
    int il = n, ol = cap;
    resampler_process(r, x, &il, y, &ol);
    CHECK(il == n, "one big call consumed %d of %d", il, n);
    return ol;
}

static void sine(float *x, int n, double f, double rate, double amp) {
    for (int i = 0; i < n; i++)
        x[i] = (float)(amp * sin(2 * M_PI * f * i / rate));
}

/* Error of y against the input sine evaluated at time j * step - delay (input samples),
 * over j in [j0, j1), in dB relative to the amplitude. */
static double sine_err_db(const float *y, int j0, int j1, double f, double rate, double step,
                          double delay, double amp) {
    double e = 0;
    for (int j = j0; j < j1; j++) {
        double t = j * step - delay;
        e = fmax(e, fabs(y[j] - amp * sin(2 * M_PI * f * t / rate)));
    }
    return 20 * log10(e / amp + 1e-30);
}

/* Gain of y at frequency f by least squares on sin/cos (any phase, any length). */
static double tone_gain(const float *y, int j0, int j1, double f, double rate) {
    double ss = 0, cc = 0, sc = 0, ys = 0, yc = 0;
    for (int j = j0; j < j1; j++) {
        double s = sin(2 * M_PI * f * j / rate), c = cos(2 * M_PI * f * j / rate);
        ss += s * s, cc += c * c, sc += s * c, ys += y[j] * s, yc += y[j] * c;
    }
    double det = ss * cc - sc * sc, a = (ys * cc - yc * sc) / det, b = (yc * ss - ys * sc) / det;
    return sqrt(a * a + b * b);
}

/* Output j must be the input at time j * in/out - delay: a 3-tone signal checked against the
 * analytic delayed signal, and the neighbouring delays must fit far worse. */
static void test_delay(int in_rate, int out_rate, int quality) {
    resampler *r = resampler_create(in_rate, out_rate, quality);
    int n = in_rate / 4, cap = n * out_rate / in_rate + 16, d = resampler_delay(r);
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)cap);
    static const double fr[3] = {440.0, 1000.0, 2500.0}; /* inside every passband */
    for (int i = 0; i < n; i++) {
        double v = 0;
        for (int t = 0; t < 3; t++)
            v += 0.3 * sin(2 * M_PI * fr[t] * i / in_rate + t);
        x[i] = (float)v;
    }
    int m = run_all(r, x, n, y, cap);
    double step = (double)in_rate / out_rate, err[3];
    int j0 = (int)(2 * d / step) + 2; /* past the start-up transient */
    for (int dd = -1; dd <= 1; dd++) {
        double e = 0;
        for (int j = j0; j < m; j++) {
            double t = j * step - (d + dd), v = 0;
            for (int k = 0; k < 3; k++)
                v += 0.3 * sin(2 * M_PI * fr[k] * t / in_rate + k);
            e = fmax(e, fabs(y[j] - v));
        }
        err[dd + 1] = 20 * log10(e / 0.9);
    }
    /* Low qualities droop a little at 2.5 kHz; the delay is pinned either way. */
    double tol = quality >= 5 ? -70 : -50;
    CHECK(err[1] < tol && err[0] > -30 && err[2] > -30,
          "%d->%d q%d delay %d: err %.1f dB (d-1: %.1f, d+1: %.1f)", in_rate, out_rate, quality, d,
          err[1], err[0], err[2]);
    /* Output count follows input count from the first call: no start-up skipping. */
    CHECK(abs(m - (int)((double)n * out_rate / in_rate)) <= 1, "%d->%d output count %d", in_rate,
          out_rate, m);
    free(x), free(y);
    resampler_destroy(r);
}

static void test_round_trip(int rate) {
    resampler *dn = resampler_create(rate, MODEL, Q), *up = resampler_create(MODEL, rate, Q);
    int dd = resampler_delay(dn), du = resampler_delay(up), pad = resampler_integer_pad(up);
    int n = rate / 2, mid_cap = n * MODEL / rate + 16, out_cap = 2 * n;
    float *x = malloc(sizeof(float) * (size_t)n), *mid = malloc(sizeof(float) * (size_t)mid_cap);
    float *y = malloc(sizeof(float) * (size_t)out_cap);
    double f = 1000.0, amp = 0.8;
    sine(x, n, f, rate, amp);
    int nm = run_all(dn, x, n, mid, mid_cap);
    int ny = run_all(up, mid, nm, y, out_cap);
    double D = dd + (double)du * rate / MODEL;
    int j0 = (int)(2 * D) + 16;
    double e = sine_err_db(y, j0, ny, f, rate, 1.0, D, amp);
    CHECK(e < -60, "%d round trip vs input delayed %.2f: %.1f dB", rate, D, e);
    double e1 = sine_err_db(y, j0, ny, f, rate, 1.0, D + 1, amp);
    CHECK(e1 > -30, "%d round trip also fits D+1 (%.1f dB)", rate, e1);
    /* Integer total delay: compare against the input samples themselves.  With the pad of
     * zeros ahead of the up resampler the total is D + pad * rate / MODEL, an integer. */
    resampler_reset(dn), resampler_reset(up);
    mid_cap += pad;
    mid = realloc(mid, sizeof(float) * (size_t)mid_cap);
    nm = run_all(dn, x, n, mid + pad, mid_cap - pad);
    memset(mid, 0, sizeof(float) * (size_t)pad);
    ny = run_all(up, mid, nm + pad, y, out_cap);
    double Dp = D + (double)pad * rate / MODEL;
    int Di = (int)lround(Dp);
    CHECK(fabs(Dp - Di) < 1e-9, "%d: padded delay %.4f not an integer (pad %d)", rate, Dp, pad);
    CHECK((pad == 0) == (fmod((double)du * rate, MODEL) == 0), "%d: pad %d", rate, pad);
    double emax = 0;
    for (int j = (int)(2 * Dp) + 16; j < ny; j++)
        emax = fmax(emax, fabs(y[j] - x[j - Di]));
    CHECK(20 * log10(emax / amp) < -60, "%d: padded round trip vs x[j - %d]: %.1f dB", rate, Di,
          20 * log10(emax / amp));
    printf("%6d Hz: d_down %d, d_up %d (16 kHz), round trip %.2f samples, err %.1f dB; "
           "integer with pad %d -> %d samples\n",
           rate, dd, du, D, e, pad, Di);
    free(x), free(mid), free(y);
    resampler_destroy(dn), resampler_destroy(up);
}

/* Gain flatness 50 Hz..7 kHz at 16 kHz (down and up), and a 12 kHz tone at the host rate
 * must not alias into the 16 kHz band. */
static void test_response(int rate) {
    static const double fr[] = {50, 300, 1000, 2000, 3000, 4000, 5000, 6000, 6500, 7000};
    int nf = (int)(sizeof fr / sizeof fr[0]);
    int n = rate / 5, cap = n + 64;
    float *x = malloc(sizeof(float) * (size_t)cap), *y = malloc(sizeof(float) * (size_t)cap);
    double gmin[2] = {1e9, 1e9}, gmax[2] = {-1e9, -1e9};
    for (int dir = 0; dir < 2; dir++) {
        int in_rate = dir ? MODEL : rate, out_rate = dir ? rate : MODEL;
        int nin = dir ? MODEL / 5 : n;
        for (int i = 0; i < nf; i++) {
            resampler *r = resampler_create(in_rate, out_rate, Q);
            sine(x, nin, fr[i], in_rate, 0.5);
            int m = run_all(r, x, nin, y, cap);
            int j0 = (int)(2.0 * resampler_delay(r) * out_rate / in_rate) + 8;
            double g = 20 * log10(tone_gain(y, j0, m, fr[i], out_rate) / 0.5);
            gmin[dir] = fmin(gmin[dir], g), gmax[dir] = fmax(gmax[dir], g);
            resampler_destroy(r);
        }
    }
    CHECK(gmax[0] - gmin[0] < 0.1 && gmax[1] - gmin[1] < 0.1,
          "%d: passband ripple down %.4f dB, up %.4f dB", rate, gmax[0] - gmin[0],
          gmax[1] - gmin[1]);
    resampler *r = resampler_create(rate, MODEL, Q);
    double fa = 12000.0, alias = MODEL - fa; /* 12 kHz folds to 4 kHz */
    sine(x, n, fa, rate, 0.5);
    int m = run_all(r, x, n, y, cap);
    int j0 = (int)(2.0 * resampler_delay(r) * MODEL / rate) + 8;
    double att = -20 * log10(tone_gain(y, j0, m, alias, MODEL) / 0.5 + 1e-12);
    CHECK(att > 60, "%d: 12 kHz tone aliased at only -%.1f dB", rate, att);
    printf("%6d Hz: ripple 50 Hz-7 kHz down %.4f dB, up %.4f dB; 12 kHz alias at -%.1f dB\n", rate,
           gmax[0] - gmin[0], gmax[1] - gmin[1], att);
    resampler_destroy(r);
    free(x), free(y);
}

static uint32_t rng = 777;
static int rand_range(int lo, int hi) {
    rng = rng * 1664525u + 1013904223u;
    return lo + (int)((rng >> 8) % (uint32_t)(hi - lo + 1));
}

/* Random input and output chunk sizes give bit-identical output to one big call, with the
 * caller looping when the output space runs out; reset restores the fresh state. */
static void test_chunking(int in_rate, int out_rate) {
    resampler *r = resampler_create(in_rate, out_rate, Q);
    int n = 60000, cap = (int)((double)n * out_rate / in_rate) + 64;
    float *x = malloc(sizeof(float) * (size_t)n);
    float *ref = malloc(sizeof(float) * (size_t)cap), *y = malloc(sizeof(float) * (size_t)cap);
    for (int i = 0; i < n; i++)
        x[i] = (float)rand_range(-30000, 30000) / 32768.0f;
    int m = run_all(r, x, n, ref, cap);
    for (int pass = 0; pass < 2; pass++) {
        resampler_reset(r);
        int pos = 0, got = 0, stuck = 0;
        while (pos < n && !stuck) {
            int chunk = rand_range(1, 4000);
            if (chunk > n - pos) chunk = n - pos;
            int done = 0;
            while (done < chunk) { /* the caller's loop */
                int il = chunk - done, ol = rand_range(pass ? 1 : 0, 600);
                if (ol > cap - got) ol = cap - got;
                resampler_process(r, x + pos + done, &il, y + got, &ol);
                done += il, got += ol;
                stuck = (il == 0 && ol == 0 && cap - got > 0) ? stuck + 1 : 0;
                if (stuck > 1000) break;
            }
            pos += chunk;
        }
        int same = got == m && memcmp(ref, y, sizeof(float) * (size_t)m) == 0;
        CHECK(same, "%d->%d chunked output differs (%d vs %d samples, pass %d)", in_rate, out_rate,
              got, m, pass);
    }
    free(x), free(ref), free(y);
    resampler_destroy(r);
}

static void test_misc(void) {
    CHECK(resampler_create(0, 16000, 5) == NULL && resampler_create(48000, -1, 5) == NULL &&
              resampler_create(48000, 16000, 11) == NULL,
          "bad arguments rejected");
    resampler *r = resampler_create(16000, 16000, Q);
    float x[100], y[100];
    for (int i = 0; i < 100; i++)
        x[i] = (float)i;
    int il = 100, ol = 60;
    resampler_process(r, x, &il, y, &ol);
    CHECK(resampler_delay(r) == 0 && il == 60 && ol == 60 && y[59] == 59.0f, "equal rates copy");
    resampler_destroy(r);
    /* The delay convention holds at every quality, not just the one the tests use. */
    for (int q = 0; q <= 10; q++)
        test_delay(48000, MODEL, q), test_delay(MODEL, 44100, q);
}

/* The response the engine equalises its model features with (engine.c measure_down_response):
 * flat where the pass band is, falling across the band edge, exact for a plain copy. */
static void test_power_response(void) {
    const int N = 1023, nb = N / 2 + 1;
    float H[N / 2 + 1];
    CHECK(resampler_power_response(16000, 16000, Q, N, 2, H) == 0, "copy: measured");
    double worst = 0;
    for (int k = 2; k < nb - 1; k++)
        worst = fmax(worst, fabs(10 * log10(H[k])));
    CHECK(worst < 0.01, "copy: flat within %.4f dB", worst);
    const int qs[2] = {6, Q}; /* the engine's quality (engine.c RS_QUALITY) and the tests' */
    for (int i = 0; i < 2 * N_RATES; i++) {
        const int rate = rates[i % N_RATES], q = qs[i / N_RATES];
        if (rate <= MODEL) continue;
        CHECK(resampler_power_response(rate, MODEL, q, N, 256, H) == 0, "%d Hz q%d: measured", rate,
              q);
        double flat = 0;
        for (int k = 256; k < 384; k++) /* 4-6 kHz: pass band */
            flat = fmax(flat, fabs(10 * log10(H[k])));
        double edge = 10 * log10(H[500]); /* 7.82 kHz */
        int falls = 1;
        for (int k = 470; k < 508; k++)
            falls &= H[k + 2] <= H[k] * 1.001f;
        CHECK(
            flat < 0.05 && edge < -3.0 && falls,
            "%d Hz q%d: pass band within %.3f dB, %.1f dB at 7.82 kHz, falling across the edge %d",
            rate, q, flat, edge, falls);
        CHECK(H[0] == 1.0f && H[255] == 1.0f, "%d Hz q%d: 1 below first_bin", rate, q);
    }
    CHECK(resampler_power_response(48000, MODEL, Q, 8, 2, H) != 0 &&
              resampler_power_response(0, MODEL, Q, N, 2, H) != 0,
          "bad arguments rejected");
}

int main(void) {
    for (int i = 0; i < N_RATES; i++) {
        test_delay(rates[i], MODEL, Q);
        test_delay(MODEL, rates[i], Q);
        test_round_trip(rates[i]);
        test_response(rates[i]);
    }
    test_chunking(44100, MODEL);
    test_chunking(MODEL, 48000);
    test_chunking(MODEL, 44100);
    test_misc();
    test_power_response();
    return check_summary("test_resample");
}
