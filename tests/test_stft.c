/* Streaming STFT: exact delayed identity (latency n_fft - hop) for the reference 1023/256 and
 * other odd/even pairs, analysis against a double-precision DFT, the offline centre framing
 * against torch's frame count and reflect padding, reset, and the per-hop cost. */
#include "dsp/stft.h"
#include "tests/check.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static uint32_t rng_state = 12345;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) * (2.0 / 16777216.0) - 1.0);
}

static void test_identity(int n_fft, int hop) {
    stft *s = stft_create(n_fft, hop);
    CHECK(s != NULL, "create %d/%d", n_fft, hop);
    if (!s) return;
    int bins = stft_bins(s), lat = stft_latency(s), hops = 200, n = hops * hop;
    CHECK(bins == n_fft / 2 + 1 && stft_hop(s) == hop && stft_nfft(s) == n_fft, "sizes");
    CHECK(lat == n_fft - hop, "latency %d", lat);
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    float *re = malloc(sizeof(float) * (size_t)bins), *im = malloc(sizeof(float) * (size_t)bins);
    for (int pass = 0; pass < 2; pass++) { /* the second pass checks reset */
        for (int i = 0; i < n; i++)
            x[i] = 0.5f * frand();
        for (int h = 0; h < hops; h++) {
            stft_analyze(s, x + h * hop, re, im);
            stft_synthesize(s, re, im, y + h * hop);
        }
        double maxerr = 0, maxlead = 0;
        for (int i = 0; i < n; i++) {
            if (i < lat) {
                maxlead = fmax(maxlead, fabs(y[i])); /* nothing may come out early */
                continue;
            }
            double e = fabs(y[i] - x[i - lat]);
            if (i >= lat + n_fft) maxerr = fmax(maxerr, e); /* after warm-up */
        }
        CHECK(maxerr < 1e-5, "%d/%d identity error %g (pass %d)", n_fft, hop, maxerr, pass);
        /* Only FFT rounding (~1e-8) may appear before the delayed input does. */
        CHECK(maxlead < 1e-6, "%d/%d output before latency %g", n_fft, hop, maxlead);
        /* Any other delay must be far off: the check above really pins the latency. */
        double e1 = 0;
        for (int i = lat + n_fft; i < n; i++)
            e1 = fmax(e1, fabs(y[i] - x[i - lat - 1]));
        CHECK(e1 > 0.1, "delay lat+1 also fits (%g)", e1);
        stft_reset(s);
    }
    free(x), free(y), free(re), free(im);
    stft_destroy(s);
}

/* One streamed frame against a double DFT of the windowed newest n_fft samples. */
static void test_analysis(void) {
    int n_fft = 1023, hop = 256;
    stft *s = stft_create(n_fft, hop);
    int bins = stft_bins(s), n = 5 * hop;
    float x[5 * 256], re[512], im[512];
    for (int i = 0; i < n; i++)
        x[i] = frand();
    for (int h = 0; h < 5; h++)
        stft_analyze(s, x + h * hop, re, im);
    const float *w = stft_window(s);
    double werr = 0, maxerr = 0, scale = 0;
    for (int i = 0; i < n_fft; i++)
        werr = fmax(werr, fabs(w[i] - (0.5 - 0.5 * cos(2 * M_PI * i / n_fft))));
    CHECK(werr < 1e-7 && w[0] == 0.0f, "window is periodic Hann (%g)", werr);
    const float *frame = x + n - n_fft;
    for (int k = 0; k < bins; k++) {
        double sr = 0, si = 0;
        for (int i = 0; i < n_fft; i++) {
            double a = -2 * M_PI * (double)k * i / n_fft;
            sr += frame[i] * (double)w[i] * cos(a);
            si += frame[i] * (double)w[i] * sin(a);
        }
        maxerr = fmax(maxerr, fmax(fabs(sr - re[k]), fabs(si - im[k])));
        scale = fmax(scale, hypot(sr, si));
    }
    CHECK(maxerr < 1e-5 * scale, "analysis vs DFT: %g (scale %g)", maxerr, scale);
    stft_destroy(s);
}

static void test_offline_n(stft *s, int n);

static void test_offline(void) {
    stft *s = stft_create(1023, 256);
    CHECK(stft_offline_frames(s, 47360) == 185, "47360 samples -> %d frames",
          stft_offline_frames(s, 47360));
    CHECK(stft_offline_frames(s, 512) == 2 && stft_offline_frames(s, 511) == 0, "edge counts");
    for (int n = 2800; n <= 3000; n += 200) /* odd and even frame counts */
        test_offline_n(s, n);
    stft_destroy(s);
}

/* Power of the first and last frames of an n-sample signal against a double DFT. */
static void test_offline_n(stft *s, int n) {
    int bins = 512, frames = stft_offline_frames(s, n);
    CHECK(frames == 1 + (n - 1) / 256, "frames %d", frames);
    float *x = malloc(sizeof(float) * (size_t)n);
    float *p = malloc(sizeof(float) * (size_t)(frames * bins));
    for (int i = 0; i < n; i++)
        x[i] = frand();
    CHECK(stft_power_offline(s, x, n, p) == frames, "return value");
    const float *w = stft_window(s);
    /* First and last frames exercise both reflections. */
    int check_frames[2] = {0, frames - 1};
    for (int c = 0; c < 2; c++) {
        int f = check_frames[c];
        double maxerr = 0, scale = 0;
        for (int k = 0; k < bins; k += 7) {
            double sr = 0, si = 0;
            for (int i = 0; i < 1023; i++) {
                int j = f * 256 - 511 + i;
                j = j < 0 ? -j : (j >= n ? 2 * (n - 1) - j : j);
                double a = -2 * M_PI * (double)k * i / 1023;
                sr += x[j] * (double)w[i] * cos(a);
                si += x[j] * (double)w[i] * sin(a);
            }
            maxerr = fmax(maxerr, fabs(sr * sr + si * si - p[f * bins + k]));
            scale = fmax(scale, sr * sr + si * si);
        }
        CHECK(maxerr < 1e-4 * scale, "offline frame %d power error %g (scale %g)", f, maxerr,
              scale);
    }
    free(x), free(p);
}

/* Instances created and destroyed from several threads at once (a host instantiating
 * plugins in parallel): the FFTW planner must be serialised, and each instance must still
 * compute the right thing. */
static void *planner_thread(void *arg) {
    int id = (int)(intptr_t)arg, *bad = malloc(sizeof *bad);
    *bad = 0;
    for (int i = 0; i < 40; i++) {
        int n_fft = 255 + 2 * ((id * 40 + i) % 64), hop = 64; /* many distinct plans */
        stft *s = stft_create(n_fft, hop);
        if (!s) {
            (*bad)++;
            continue;
        }
        float x[64], re[512], im[512];
        for (int k = 0; k < 64; k++)
            x[k] = (k == 5) ? 1.0f : 0.0f;
        stft_analyze(s, x, re, im);
        /* An impulse at frame position n_fft - 64 + 5 has a flat |X| = w[that position]. */
        float w = stft_window(s)[n_fft - 64 + 5];
        for (int k = 0; k < n_fft / 2 + 1; k++)
            if (fabsf(hypotf(re[k], im[k]) - w) > 1e-5f) (*bad)++;
        stft_destroy(s);
    }
    return bad;
}

static void test_threads(void) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, planner_thread, (void *)(intptr_t)i);
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += *(int *)r;
        free(r);
    }
    CHECK(bad == 0, "%d failures creating STFTs from 4 threads", bad);
}

static void bench(void) {
    stft *s = stft_create(1023, 256);
    float x[256] = {0}, y[256], re[512], im[512];
    for (int i = 0; i < 256; i++)
        x[i] = frand();
    int iters = 20000;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < iters; i++) {
        stft_analyze(s, x, re, im);
        stft_synthesize(s, re, im, y);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / iters;
    printf("stft 1023/256 analyze+synthesize: %.2f us per hop (%.4f%% of a 16 ms hop)\n", us,
           us / 160.0);
    CHECK(y[0] == y[0], "bench output finite");
    stft_destroy(s);
}

int main(void) {
    test_identity(1023, 256);
    test_identity(1024, 256);
    test_identity(1000, 300); /* hop does not divide n_fft, even size */
    test_identity(255, 64);
    test_identity(64, 40); /* little overlap */
    CHECK(stft_create(0, 1) == NULL && stft_create(16, 17) == NULL, "bad sizes rejected");
    test_analysis();
    test_offline();
    test_threads();
    bench();
    return check_summary("test_stft");
}
