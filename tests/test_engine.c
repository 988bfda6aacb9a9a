/* Engine contract: exact constant latency, transparency when nothing is asked of it,
 * block-size invariance, threaded == synchronous, linked stereo, hostile input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsp/mel.h"
#include "dsp/stft.h"
#include "engine/menhance.h"
#include "tests/check.h"
#include "tests/signals.h"

static unsigned rng_state = 12345u;
static float frand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

/* A music-like test signal: a few partials with vibrato plus a little noise. */
static float *make_signal(int rate, int n, int channels, float noise) {
    float *x = malloc(sizeof(float) * n * channels);
    for (int i = 0; i < n; i++) {
        double t = (double)i / rate;
        double s = 0.3 * sin(2 * M_PI * 220 * t + 2 * sin(2 * M_PI * 5 * t)) +
                   0.2 * sin(2 * M_PI * 660 * t) + 0.1 * sin(2 * M_PI * 3300 * t) +
                   0.05 * sin(2 * M_PI * 11000 * t * (rate > 24000));
        for (int c = 0; c < channels; c++)
            x[c * n + i] = (float)s * (c ? 0.7f : 1.0f) + noise * frand();
    }
    return x;
}

/* Runs the engine over x (planar, channels x n) with the given block pattern; y (planar,
 * channel stride n + rate) gets n + latency samples per channel (input followed by silence). */
static menhance *run_engine(const menhance_config *cfg, const menhance_params *p, const float *x,
                            int n, float *y, int block, int random_blocks) {
    const size_t stride = (size_t)n + cfg->sample_rate;
    char err[256];
    menhance *e = menhance_create(cfg, NULL, err, sizeof err);
    if (!e) return NULL;
    menhance_set_params(e, p);
    int L = menhance_latency(e), total = n + L, C = cfg->channels;
    if (L > cfg->sample_rate) {
        menhance_destroy(e);
        return NULL;
    }
    float *in[2], *out[2];
    float *buf = calloc((size_t)total * C, sizeof(float));
    for (int c = 0; c < C; c++)
        memcpy(buf + (size_t)c * total, x + (size_t)c * n, sizeof(float) * n);
    for (int pos = 0; pos < total;) {
        int b = random_blocks ? 1 + (int)((frand() * 0.5f + 0.5f) * (cfg->max_block - 1)) : block;
        if (b > total - pos) b = total - pos;
        for (int c = 0; c < C; c++) {
            in[c] = buf + (size_t)c * total + pos;
            out[c] = y + (size_t)c * stride + pos;
        }
        menhance_process(e, (const float *const *)in, out, b);
        pos += b;
    }
    free(buf);
    return e;
}

/* The engine's documented DC blocker (menhance.h): 1st-order high-pass at 5 Hz, bilinear
 * transform with pre-warping, written out here independently of engine.c. */
static float *dc_blocked(const float *x, int n, int rate) {
    double k = tan(M_PI * 5.0 / rate), b0 = 1 / (1 + k), a1 = (k - 1) / (1 + k), x1 = 0, y1 = 0;
    float *y = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++) {
        double v = b0 * (x[i] - x1) - a1 * y1;
        x1 = x[i], y1 = v;
        y[i] = (float)v;
    }
    return y;
}

static double err_db(const float *ref, const float *got, int n) {
    double s = 0, d = 0;
    for (int i = 0; i < n; i++) {
        s += (double)ref[i] * ref[i];
        d += (double)(ref[i] - got[i]) * (ref[i] - got[i]);
    }
    return 10 * log10((d + 1e-30) / (s + 1e-30));
}

static void test_transparent(int rate) {
    menhance_config cfg = {rate, 1, 1024, 1024, 0};
    menhance_params p;
    menhance_params_default(&p);
    p.strength = 0.0f; /* no suppression: the chain must reduce to a pure delay */
    p.max_atten_db = 0.0f;
    int n = rate * 2;
    float *x = make_signal(rate, n, 1, 0.0f);
    float *y = calloc((size_t)n + rate, sizeof(float));
    menhance *e = run_engine(&cfg, &p, x, n, y, 480, 0);
    CHECK(e != NULL, "create at %d", rate);
    if (!e) return;
    int L = menhance_latency(e);
    /* Skip the first 0.2 s (fade-in of the wet path); compare against the delayed input,
     * DC-blocked as documented. */
    float *r = dc_blocked(x, n, rate);
    int skip = rate / 5, len = n - skip - rate / 10;
    double db = err_db(r + skip, y + L + skip, len);
    CHECK(db < -50.0, "rate %d: transparent path error %.1f dB (latency %d)", rate, db, L);
    /* One sample off must be clearly worse: the latency is exact, not approximately right. */
    double off = err_db(r + skip, y + L + skip + 1, len);
    free(r);
    CHECK(off > db + 10.0, "rate %d: latency not sharp (%.1f vs %.1f dB)", rate, db, off);
    CHECK(L < rate / 4, "rate %d: latency %d over 250 ms", rate, L);
    menhance_destroy(e);
    free(x);
    free(y);
}

static void test_block_invariance(int rate, int channels) {
    menhance_config cfg = {rate, channels, 8192, 1024, 0};
    menhance_params p;
    menhance_params_default(&p);
    int n = rate;
    float *x = make_signal(rate, n, channels, 0.05f);
    int total = n + rate;
    float *ref = calloc((size_t)total * channels, sizeof(float));
    float *got = calloc((size_t)total * channels, sizeof(float));
    menhance *e = run_engine(&cfg, &p, x, n, ref, 8192, 0);
    int L = menhance_latency(e);
    menhance_destroy(e);
    static const int blocks[] = {1, 7, 64, 480, 1024, 8192, -1};
    for (int b = 0; b < 7; b++) {
        memset(got, 0, sizeof(float) * total * channels);
        e = run_engine(&cfg, &p, x, n, got, blocks[b] > 0 ? blocks[b] : 0, blocks[b] < 0);
        CHECK(menhance_latency(e) == L, "latency changed");
        menhance_destroy(e);
        int same = 1;
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < n + L; i++)
                if (ref[(size_t)c * total + i] != got[(size_t)c * total + i]) same = 0;
        CHECK(same, "rate %d ch %d: block %d differs from whole-file run", rate, channels,
              blocks[b]);
    }
    free(x);
    free(ref);
    free(got);
}

static void test_threaded_matches_sync(void) {
    int rate = 48000, n = rate * 2, total = n + rate;
    menhance_config cfg = {rate, 2, 1024, 256, 0};
    menhance_params p;
    menhance_params_default(&p);
    float *x = make_signal(rate, n, 2, 0.05f);
    float *a = calloc((size_t)total * 2, sizeof(float)),
          *b = calloc((size_t)total * 2, sizeof(float));
    menhance *e = run_engine(&cfg, &p, x, n, a, 256, 0);
    menhance_destroy(e);
    cfg.threaded = 1;
    /* Threaded, but paced like a live host so the worker has its slack. */
    char err[256];
    e = menhance_create(&cfg, NULL, err, sizeof err);
    CHECK(e != NULL, "threaded create: %s", err);
    if (!e) return;
    menhance_set_params(e, &p);
    int L = menhance_latency(e);
    float *buf = calloc((size_t)total * 2, sizeof(float));
    for (int c = 0; c < 2; c++)
        memcpy(buf + (size_t)c * total, x + (size_t)c * n, sizeof(float) * n);
    for (int pos = 0; pos + 256 <= n + L; pos += 256) {
        const float *in[2] = {buf + pos, buf + total + pos};
        float *out[2] = {b + pos, b + total + pos};
        menhance_process(e, in, out, 256);
        struct timespec ts = {0, 5333333}; /* 256 samples at 48 kHz */
        nanosleep(&ts, NULL);
    }
    menhance_stats st;
    menhance_get_stats(e, &st);
    CHECK(st.chunks_processed > 100, "threaded: %llu chunks processed", st.chunks_processed);
    if (st.chunks_late == 0) {
        int same = 1;
        for (int i = 0; i < (n + L) / 256 * 256; i++)
            if (a[i] != b[i] || a[total + i] != b[total + i]) same = 0;
        CHECK(same, "threaded output differs from synchronous output");
    } else {
        /* A loaded machine may make the worker late: the output must still be clean. */
        double db = err_db(a + rate / 2, b + rate / 2, n - rate);
        CHECK(db < -10.0, "threaded with %llu late chunks: %.1f dB from sync", st.chunks_late, db);
    }
    menhance_destroy(e);
    free(buf);
    free(x);
    free(a);
    free(b);
}

/* A worker that cannot keep up: the output falls back to the delayed dry input, without
 * clicks, the latency stays where it was, and processing comes back when the worker does. */
static void test_late_worker(void) {
    int rate = 48000, blk = 256, n = rate * 3 / blk * blk;
    menhance_config cfg = {rate, 1, blk, blk, 1};
    menhance_params p;
    menhance_params_default(&p);
    p.max_atten_db = 30.0f;
    char err[256];
    menhance *e = menhance_create(&cfg, NULL, err, sizeof err);
    CHECK(e != NULL, "create: %s", err);
    if (!e) return;
    menhance_set_params(e, &p);
    int L = menhance_latency(e);
    /* Everything below 7 kHz, so the output is all 16 kHz path: the high band (which the
     * audio thread keeps denoising on its own) has nothing to add. */
    float *x = calloc((size_t)n, sizeof(float));
    for (int k = 0; k < 40; k++) {
        double f = 100.0 + 6000.0 * (frand() * 0.5 + 0.5), ph = 6.28 * frand();
        for (int i = 0; i < n; i++)
            x[i] += 0.02f * (float)sin(2 * M_PI * f * i / rate + ph);
    }
    for (int i = 0; i < n; i++)
        x[i] += 0.3f * (float)sin(2 * M_PI * 440.0 * i / rate);
    float *y = calloc((size_t)n, sizeof(float));
    menhance_stats st;
    for (int pos = 0; pos + blk <= n; pos += blk) {
        /* second one: the worker needs 100 ms per 16 ms chunk */
        menhance_debug_set_worker_delay(e, pos >= rate && pos < 2 * rate ? 100000 : 0, 0);
        if (pos / blk == (2 * rate + rate / 2) / blk) menhance_get_stats(e, &st);
        const float *in[1] = {x + pos};
        float *out[1] = {y + pos};
        menhance_process(e, in, out, blk);
        struct timespec ts = {0, 5333333};
        nanosleep(&ts, NULL);
    }
    CHECK(st.chunks_late > 20, "only %llu late chunks while stalled", st.chunks_late);
    CHECK(menhance_latency(e) == L, "latency moved");
    /* Deep inside the stall the output is the (DC-blocked) input delayed by exactly L. */
    int a = rate + rate / 2, len = rate / 4;
    float *r = dc_blocked(x, n, rate);
    double db = err_db(r + a - L, y + a, len);
    free(r);
    CHECK(db < -60.0, "stalled output is not the delayed dry signal (%.1f dB)", db);
    /* No clicks anywhere: no step larger than the input's largest step, plus margin. */
    float maxdx = 0, maxdy = 0;
    for (int i = 1; i < n; i++) {
        maxdx = fmaxf(maxdx, fabsf(x[i] - x[i - 1]));
        if (i > L + 1 && fabsf(y[i] - y[i - 1]) > maxdy) {
            maxdy = fabsf(y[i] - y[i - 1]);
            if (getenv("DEBUG_STEP")) fprintf(stderr, "step %g at %d\n", maxdy, i);
        }
    }
    CHECK(maxdy < 1.5f * maxdx, "output step %.3f vs input step %.3f", maxdy, maxdx);
    /* After the stall, processing resumes (the tail differs from the dry input again). */
    unsigned long long late_end = st.chunks_late;
    menhance_get_stats(e, &st);
    CHECK(st.chunks_late == late_end, "still late after the stall (%llu -> %llu)", late_end,
          st.chunks_late);
    menhance_destroy(e);
    free(x);
    free(y);
}

static void test_linked_stereo(void) {
    int rate = 44100, n = rate, total = n + rate;
    menhance_config cfg = {rate, 2, 512, 512, 0};
    menhance_params p;
    menhance_params_default(&p);
    float *x = make_signal(rate, n, 1, 0.1f);
    float *x2 = malloc(sizeof(float) * n * 2);
    memcpy(x2, x, sizeof(float) * n);
    memcpy(x2 + n, x, sizeof(float) * n);
    float *y = calloc((size_t)total * 2, sizeof(float));
    menhance *e = run_engine(&cfg, &p, x2, n, y, 512, 0);
    int same = 1;
    for (int i = 0; i < total; i++)
        if (y[i] != y[total + i]) same = 0;
    CHECK(same, "identical channels must give identical outputs");
    menhance_destroy(e);
    free(x);
    free(x2);
    free(y);
}

static void test_hostile_input(void) {
    int rate = 48000, n = rate;
    menhance_config cfg = {rate, 2, 1024, 1024, 0};
    menhance_params p;
    menhance_params_default(&p);
    char err[256];
    menhance *e = menhance_create(&cfg, NULL, err, sizeof err);
    menhance_set_params(e, &p);
    float *l = malloc(sizeof(float) * n), *r = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++) {
        int kind = (i / 4800) % 5;
        l[i] = kind == 0   ? NAN
               : kind == 1 ? INFINITY
               : kind == 2 ? 1e30f
               : kind == 3 ? 1e-40f
                           : 1.0f;
        r[i] = (i & 1) ? -INFINITY : 1.0f;
    }
    int bad = 0;
    float peak = 0;
    for (int rep = 0; rep < 3; rep++) {
        for (int pos = 0; pos < n; pos += 1000) {
            int b = n - pos < 1000 ? n - pos : 1000;
            const float *in[2] = {l + pos, r + pos};
            float ol[1000], orr[1000];
            float *out[2] = {ol, orr};
            menhance_process(e, in, out, b);
            for (int i = 0; i < b; i++) {
                if (!isfinite(ol[i]) || !isfinite(orr[i])) bad++;
                peak = fmaxf(peak, fmaxf(fabsf(ol[i]), fabsf(orr[i])));
            }
        }
    }
    CHECK(bad == 0, "%d non-finite output samples", bad);
    CHECK(peak <= 8.0f, "output peak %g", peak);
    menhance_destroy(e);
    free(l);
    free(r);
}

static void test_bad_config(void) {
    char err[256] = "";
    menhance_config cfg = {1000, 1, 256, 0, 0};
    CHECK(menhance_create(&cfg, NULL, err, sizeof err) == NULL && err[0], "rate 1000 refused");
    menhance_config cfg2 = {48000, 3, 256, 0, 0};
    CHECK(menhance_create(&cfg2, NULL, err, sizeof err) == NULL, "3 channels refused");
}

/* Issue 11: DC at the input leaves every path (0.30 in came out as 0.16 in classical and
 * 0.51 in the model mode); the wanted signal beside it is untouched. */
static void test_dc(void) {
    const int rate = 48000, n = rate * 3;
    float *x = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++)
        x[i] = 0.3f + 0.2f * (float)sin(2 * M_PI * 440 * i / (double)rate);
    menhance_params p;
    menhance_params_default(&p);
    p.mode = MENHANCE_MODE_CLASSICAL;
    for (int strong = 0; strong < 2; strong++) {
        if (strong) p.strength = 2.0f, p.max_atten_db = 40.0f;
        float *y = sig_run(rate, &p, NULL, x, n, 1024, 0);
        double mean = 0;
        for (int i = n - rate; i < n; i++)
            mean += y[i] / (double)rate;
        double tone = 10 * log10(sig_tone_power(y, n - rate, n, 440, rate) /
                                 sig_tone_power(x, n - rate, n, 440, rate));
        CHECK(fabs(mean) < 1e-3, "DC 0.30 in: %.4f out (strong %d)", mean, strong);
        CHECK(fabs(tone) < 0.1, "tone beside the DC moved %.2f dB", tone);
        free(y);
    }
    free(x);
}

/* Issue 11: nothing below full scale comes out above it; what was over it comes out under
 * the -1 dBTP ceiling (a full-scale square wave came out at +7.9 dBFS, one 1e30 sample at
 * +17.8 dBFS).  With the limiter off a legitimately hot float signal passes. */
static void test_level_safety(void) {
    const int rate = 48000, n = rate * 2;
    const double ceiling = pow(10, -1 / 20.0);
    float *x = malloc(sizeof(float) * n);
    menhance_params p;
    menhance_params_default(&p);
    p.mode = MENHANCE_MODE_CLASSICAL;
    for (int kind = 0; kind < 4; kind++) {
        for (int i = 0; i < n; i++) {
            double t = (double)i / rate;
            x[i] = kind == 0   ? (fmod(t * 1000, 1) < 0.5 ? 1.0f : -1.0f)
                   : kind == 1 ? (fmod(t * 100, 1) < 0.5 ? 1.0f : -1.0f)
                   : kind == 2 ? 0.3f * (float)sin(2 * M_PI * 330 * t)
                               : 0.0f;
        }
        if (kind == 2) x[n / 2] = 1e30f;
        if (kind == 3) { /* a band-limited sawtooth with its sample peak at -0.2 dBFS */
            float *saw = sig_make(SIG_SAW, rate, n);
            for (int i = 0; i < n; i++)
                x[i] = saw[i] * 0.977f / 0.584f;
            free(saw);
        }
        for (int strong = 0; strong < 2; strong++) {
            p.strength = strong ? 2.0f : 0.5f;
            p.max_atten_db = strong ? 40.0f : 6.0f;
            float *y = sig_run(rate, &p, NULL, x, n, 512, 0);
            float sp = 0;
            for (int i = 0; i < n; i++)
                sp = fmaxf(sp, fabsf(y[i]));
            double tp = sig_true_peak(y + n / 2 - rate / 8, rate / 4);
            CHECK(sp <= ceiling * 1.0001 && tp <= 1.0,
                  "signal %d strong %d: sample peak %.2f dBFS, true peak %.2f dBTP", kind, strong,
                  20 * log10(sp), 20 * log10(tp));
            if (!strong && kind < 3)
                printf("level safety: %s -> sample peak %.2f dBFS, true peak %.2f dBTP\n",
                       kind == 0 ? "full-scale square 1 kHz"
                                 : (kind == 1 ? "full-scale square 100 Hz" : "one 1e30 sample"),
                       20 * log10(sp), 20 * log10(tp));
            free(y);
        }
    }
    /* Limiter off: a +3.5 dBFS float sine is the user's business and passes. */
    for (int i = 0; i < n; i++)
        x[i] = 1.5f * (float)sin(2 * M_PI * 440 * i / (double)rate);
    p.strength = 0.5f;
    p.max_atten_db = 6.0f;
    p.limiter = 0;
    float *y = sig_run(rate, &p, NULL, x, n, 512, 0);
    float sp = 0;
    for (int i = n / 2; i < n; i++)
        sp = fmaxf(sp, fabsf(y[i]));
    CHECK(sp > 1.45f, "limiter off still limits: peak %.3f", sp);
    free(y);
    free(x);
}

/* Issue 11: 10 s of white noise, classical, strength 2, 40 dB: the old tracker left 1.5 s
 * untouched, then cut 39 dB within 0.3 s (about 20 dB per 100 ms).  Unprimed (the plugin)
 * the cut fades in: over the first 25 dB of it (below that the residual's own flutter
 * dominates), no 100 ms window is more than 5 dB under the one 100 ms before.  Primed from
 * the file (the CLI) the start is cut like the rest. */
static void test_prime_and_fade_in(void) {
    const int rate = 48000, n = rate * 10, w = rate / 20;
    float *x = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++)
        x[i] = (float)(0.1 * sig_gauss());
    menhance_params p;
    menhance_params_default(&p);
    p.mode = MENHANCE_MODE_CLASSICAL;
    p.strength = 2.0f;
    p.max_atten_db = 40.0f;
    float *y = sig_run(rate, &p, NULL, x, n, 1024, 0);
    double worst = 0, in_db = sig_level_db(x, 0, n);
    double steady = sig_level_db(y, 5 * rate, n) - in_db;
    for (int a = 2 * w; a + 2 * w <= n; a += w) {
        double before = sig_level_db(y, a - 2 * w, a), l = sig_level_db(y, a, a + 2 * w);
        if (before - in_db > -25.0) worst = fmax(worst, before - l);
    }
    CHECK(worst < 5.0, "unprimed: the cut deepens by %.1f dB in 100 ms", worst);
    CHECK(steady < -35.0, "unprimed: steady cut only %.1f dB", steady);
    printf("white noise, strength 2 / 40 dB, unprimed: largest 100 ms drop %.2f dB, cut %.1f dB "
           "from 5 s\n",
           worst, steady);
    free(y);
    y = sig_run(rate, &p, NULL, x, n, 1024, 1);
    double start = sig_level_db(y, rate / 20, rate * 3 / 2) - in_db;
    steady = sig_level_db(y, 5 * rate, n) - in_db;
    CHECK(fabs(start - steady) < 3.0 && steady < -35.0,
          "primed: first 1.5 s cut %.1f dB, from 5 s %.1f dB", start, steady);
    printf("white noise, primed: cut %.1f dB in 0.05-1.5 s, %.1f dB from 5 s\n", start, steady);
    free(y);
    free(x);
}

/* Digital silence in, digital silence out, whatever the settings; after a signal stops the
 * output is exactly zero once everything it could reach has passed (0.25 s). */
static void test_silence(void) {
    const int rate = 44100, n = rate * 3;
    float *x = calloc(n, sizeof(float));
    menhance_params p;
    menhance_params_default(&p);
    p.mode = MENHANCE_MODE_CLASSICAL;
    for (int k = 0; k < 3; k++) {
        p.amount = k == 1 ? 0.5f : 1.0f;
        p.hiband = k == 2 ? 0.0f : 1.0f;
        p.strength = k == 2 ? 2.0f : 0.5f;
        float *y = sig_run(rate, &p, NULL, x, n, 300, 0);
        int nz = 0;
        for (int i = 0; i < n; i++)
            nz += y[i] != 0.0f;
        CHECK(nz == 0, "settings %d: %d nonzero samples from digital silence", k, nz);
        free(y);
    }
    for (int i = 0; i < rate; i++)
        x[i] = 0.3f * (float)sin(2 * M_PI * 330 * i / (double)rate) + (float)(0.01 * sig_gauss());
    float *y = sig_run(rate, &p, NULL, x, n, 300, 0);
    int nz = 0;
    for (int i = rate + rate / 4; i < n; i++)
        nz += y[i] != 0.0f;
    CHECK(nz == 0, "%d nonzero samples 0.25 s after the input fell silent", nz);
    free(y);
    free(x);
}

/* Issue 8: steady tones, a sawtooth, an organ chord and a harmonic-rich tone within 1 dB
 * (classical cut the organ chord's fundamentals by the full cut after a second of learning
 * it as noise: 5 dB over the chord at strength 2), with gentle and strong settings. */
static void test_steady_tones(void) {
    const int rate = 48000, n = rate * 6;
    menhance_params p;
    menhance_params_default(&p);
    p.mode = MENHANCE_MODE_CLASSICAL;
    for (int k = SIG_SINE440; k <= SIG_HARMONIC; k++) {
        float *x = sig_make((sig_kind)k, rate, n);
        for (int strong = 0; strong < 2; strong++) {
            p.strength = strong ? 2.0f : 0.5f;
            p.max_atten_db = strong ? 40.0f : 6.0f;
            float *y = sig_run(rate, &p, NULL, x, n, 1024, 0);
            double d = sig_level_db(y, 2 * rate, n) - sig_level_db(x, 2 * rate, n);
            CHECK(fabs(d) < 1.0, "classical %s: %+.2f dB (strong %d)", sig_names[k], d, strong);
            if (strong) printf("classical, strength 2 / 40 dB: %s %+.2f dB\n", sig_names[k], d);
            free(y);
        }
        free(x);
    }
}

/* Issue 8: no energy added ahead of an attack.  Snare-like hits over -40 dBFS hiss: in the
 * 30 ms before each attack the output keeps no more of the input than it keeps of the hiss
 * elsewhere (+1 dB for the hiss's own fluctuation), and never more than the input. */
static void test_pre_echo(void) {
    const int rate = 48000, n = rate * 8;
    float *x = sig_make(SIG_SNARE, rate, n);
    menhance_params p;
    menhance_params_default(&p);
    p.mode = MENHANCE_MODE_CLASSICAL;
    for (int strong = 0; strong < 2; strong++) {
        p.strength = strong ? 2.0f : 0.5f;
        p.max_atten_db = strong ? 40.0f : 6.0f;
        float *y = sig_run(rate, &p, NULL, x, n, 1024, 0);
        double vs_in, pre = sig_pre_echo(x, y, n, rate, 2.25, &vs_in);
        CHECK(pre < 1.0 && vs_in < 0.2,
              "classical (strong %d): %+.2f dB over the hiss, %+.2f dB "
              "over the input ahead of attacks",
              strong, pre, vs_in);
        printf("snare over hiss, classical strong %d: ahead of attacks %+.2f dB vs the hiss's "
               "treatment, %+.2f dB vs input\n",
               strong, pre, vs_in);
        free(y);
    }
    free(x);
}

/* log2-mel L1 distance between two 16 kHz signals (the eval's measure, on the model's
 * front end), frames from `from` samples on. */
static double logmel_l1(const float *a, const float *b, int n, int from) {
    stft *st = stft_create(1023, 256);
    mel *m = mel_create(16000, 1023, 128, 0.0f, 8000.0f);
    int frames = stft_offline_frames(st, n);
    float *pa = malloc(sizeof(float) * 512 * frames), *pb = malloc(sizeof(float) * 512 * frames);
    stft_power_offline(st, a, n, pa);
    stft_power_offline(st, b, n, pb);
    double s = 0;
    int cnt = 0;
    for (int f = from / 256; f < frames; f++) {
        float la[128], lb[128];
        mel_log(m, pa + (size_t)f * 512, la);
        mel_log(m, pb + (size_t)f * 512, lb);
        for (int k = 0; k < 128; k++)
            s += fabsf(la[k] - lb[k]), cnt++;
    }
    free(pa);
    free(pb);
    stft_destroy(st);
    mel_destroy(m);
    return s / cnt;
}

/* Issue 8: the classical mode is no worse than the untouched input on noise-only material
 * (make eval: 1.10x the input's log-mel L1 with the old tracker).  Dense music-like clean
 * signal (held chords of full harmonic series, plucked notes, a vibrato line, hits, the
 * take's own -60 dBFS floor) plus white noise at 5-35 dB SNR, at 16 kHz, measured as the eval
 * does: log-mel L1 against the clean.  The old tracker gave 0.79x / 0.95x / 1.54x / 3.40x. */
static void test_classical_no_harm(void) {
    const int rate = 16000, n = rate * 10;
    float *clean = calloc(n, sizeof(float)), *x = malloc(sizeof(float) * n);
    static const double chords[3][3] = {
        {261.6, 329.6, 392.0}, {220.0, 261.6, 329.6}, {196.0, 246.9, 293.7}};
    for (int i = 0; i < n; i++) {
        double t = (double)i / rate, v = 0;
        const double *c = chords[(int)(t / 4) % 3];
        for (int j = 0; j < 3; j++)
            for (int h = 1; h * c[j] < 7000; h++)
                v += 0.04 / h * sin(2 * M_PI * c[j] * h * t + j + h * h);
        double ph = fmod(t, 0.75);
        v += 0.15 * exp(-3 * ph) * sin(2 * M_PI * 523.3 * ((int)(t / 0.75) % 2 ? 1.5 : 1) * t);
        v += 0.05 * sin(2 * M_PI * 880 * t + 3 * sin(2 * M_PI * 5.5 * t));
        if (fmod(t, 1.0) < 0.05) v += 0.1 * sig_gauss() * exp(-fmod(t, 1.0) / 0.01);
        clean[i] = (float)(v + 0.001 * sig_gauss());
    }
    double e = sig_energy(clean, 0, n) / n;
    menhance_params p;
    menhance_params_default(&p);
    p.mode = MENHANCE_MODE_CLASSICAL;
    for (int snr = 5; snr <= 35; snr += 10) {
        double sd = sqrt(e / pow(10, snr / 10.0));
        for (int i = 0; i < n; i++)
            x[i] = clean[i] + (float)(sd * sig_gauss());
        float *y = sig_run(rate, &p, NULL, x, n, 512, 0);
        double l_in = logmel_l1(clean, x, n, rate), l_out = logmel_l1(clean, y, n, rate);
        CHECK(l_out <= l_in, "SNR %d dB: classical log-mel L1 %.3f, input %.3f", snr, l_out, l_in);
        printf("music + noise at %d dB SNR: log-mel L1 input %.3f, classical %.3f (%.2fx)\n", snr,
               l_in, l_out, l_out / l_in);
        free(y);
    }
    free(clean);
    free(x);
}

int main(void) {
    static const int rates[] = {22050, 32000, 44100, 48000, 88200, 96000};
    for (int i = 0; i < 6; i++)
        test_transparent(rates[i]);
    test_block_invariance(48000, 1);
    test_block_invariance(44100, 2);
    test_threaded_matches_sync();
    test_late_worker();
    test_linked_stereo();
    test_hostile_input();
    test_bad_config();
    test_dc();
    test_level_safety();
    test_prime_and_fade_in();
    test_silence();
    test_steady_tones();
    test_pre_echo();
    test_classical_no_harm();
    return check_summary("test_engine");
}
