/* Engine contract: exact constant latency, transparency when nothing is asked of it,
 * block-size invariance, threaded == synchronous, linked stereo, hostile input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/menhance.h"
#include "tests/check.h"

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
    /* Skip the first 0.2 s (fade-in of the wet path); compare against the delayed input. */
    int skip = rate / 5, len = n - skip - rate / 10;
    double db = err_db(x + skip, y + L + skip, len);
    CHECK(db < -50.0, "rate %d: transparent path error %.1f dB (latency %d)", rate, db, L);
    /* One sample off must be clearly worse: the latency is exact, not approximately right. */
    double off = err_db(x + skip, y + L + skip + 1, len);
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
    /* Deep inside the stall the output is the input delayed by exactly L. */
    int a = rate + rate / 2, len = rate / 4;
    double db = err_db(x + a - L, y + a, len);
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
    return check_summary("test_engine");
}
