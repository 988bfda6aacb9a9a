/* The engine with a model: Mel2Mel and vocoder modes keep every promise of the classical
 * path (constant latency, block-size invariance, finite output), model swaps go through the
 * lock-free handover, and bad model files are refused with a message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/menhance.h"
#include "tests/check.h"

#define MODEL "tests/golden/engine_voc.safetensors"

static void fill(float *x, int n, int rate) {
    unsigned s = 99;
    for (int i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        float noise = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.05f;
        x[i] = 0.3f * sinf(2 * (float)M_PI * 330.0f * i / rate) + noise;
    }
}

/* Runs mono audio through a fresh engine in the given mode with a block pattern; returns
 * the latency, writes n + latency samples. */
static int run(int mode, const float *x, int n, float *y, int block, menhance_stats *st) {
    char err[512];
    menhance_model *m = menhance_model_load(MODEL, err, sizeof err);
    CHECK(m != NULL, "load: %s", err);
    if (!m) return -1;
    menhance_config cfg = {48000, 1, 8192, 1024, 0};
    menhance *e = menhance_create(&cfg, m, err, sizeof err);
    menhance_params p;
    menhance_params_default(&p);
    p.mode = mode;
    menhance_set_params(e, &p);
    int L = menhance_latency(e), total = n + L;
    float *buf = calloc((size_t)total, sizeof(float));
    memcpy(buf, x, sizeof(float) * n);
    unsigned s = 7;
    for (int pos = 0; pos < total;) {
        s = s * 1664525u + 1013904223u;
        int b = block > 0 ? block : 1 + (int)((s >> 8) % 3000);
        if (b > total - pos) b = total - pos;
        const float *in[1] = {buf + pos};
        float *out[1] = {y + pos};
        menhance_process(e, in, out, b);
        pos += b;
    }
    if (st) menhance_get_stats(e, st);
    menhance_destroy(e);
    free(buf);
    return L;
}

static void test_modes(void) {
    int n = 48000, L0;
    float *x = malloc(sizeof(float) * n);
    fill(x, n, 48000);
    float *ref = calloc((size_t)n * 2, sizeof(float)), *got = calloc((size_t)n * 2, sizeof(float));
    {
        char err[128];
        menhance_config cfg = {48000, 1, 8192, 1024, 0};
        menhance *e = menhance_create(&cfg, NULL, err, sizeof err);
        L0 = menhance_latency(e);
        menhance_destroy(e);
    }
    for (int mode = 1; mode <= 2; mode++) {
        menhance_stats st;
        int L = run(mode, x, n, ref, 8192, &st);
        CHECK(L == L0, "mode %d: latency %d differs from classical %d", mode, L, L0);
        CHECK(st.effective_mode == mode, "mode %d: effective mode %d", mode, st.effective_mode);
        int finite = 1;
        double e_in = 0, e_out = 0;
        for (int i = 0; i < n + L; i++)
            finite &= isfinite(ref[i]) && fabsf(ref[i]) <= 8.0f;
        for (int i = L + 4800; i < n; i++) {
            e_in += (double)x[i - L] * x[i - L];
            e_out += (double)ref[i] * ref[i];
        }
        CHECK(finite, "mode %d: non-finite or huge output", mode);
        CHECK(e_out > 1e-4 * e_in, "mode %d: output silent", mode);
        static const int blocks[] = {1, 97, 480, -1};
        for (int b = 0; b < 4; b++) {
            memset(got, 0, sizeof(float) * n * 2);
            run(mode, x, n, got, blocks[b], NULL);
            CHECK(memcmp(ref, got, sizeof(float) * (n + L)) == 0,
                  "mode %d block %d: differs from the 8192-block run", mode, blocks[b]);
        }
    }
    free(x);
    free(ref);
    free(got);
}

static void test_swap(void) {
    char err[512];
    menhance_config cfg = {44100, 2, 512, 512, 1};
    menhance *e = menhance_create(&cfg, NULL, err, sizeof err);
    CHECK(e != NULL, "threaded create");
    if (!e) return;
    menhance_params p;
    menhance_params_default(&p);
    p.mode = 1;
    menhance_set_params(e, &p);
    float l[512] = {0}, r[512] = {0};
    const float *in[2] = {l, r};
    float *out[2] = {l, r};
    int L = menhance_latency(e);
    menhance_model *m1 = menhance_model_load(MODEL, err, sizeof err);
    menhance_model *m2 = menhance_model_load(MODEL, err, sizeof err);
    CHECK(m1 && m2, "load twice");
    CHECK(menhance_swap_model(e, m1) == NULL, "first swap returns nothing to free");
    /* A second swap before the first is picked up hands the first back. */
    CHECK(menhance_swap_model(e, m2) == m1, "unpicked model handed back");
    menhance_model_free(m1);
    menhance_stats st = {0};
    for (int k = 0; k < 400 && st.effective_mode != 1; k++) {
        fill(l, 512, 44100);
        memcpy(r, l, sizeof l);
        menhance_process(e, in, out, 512);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        menhance_get_stats(e, &st);
    }
    CHECK(st.effective_mode == 1, "model mode never became effective");
    /* Swap to no model: the old one comes back through collect. */
    CHECK(menhance_swap_model(e, NULL) == NULL, "swap to none");
    menhance_model *back = NULL;
    for (int k = 0; k < 400 && !back; k++) {
        menhance_process(e, in, out, 512);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        back = menhance_collect_model(e);
    }
    CHECK(back == m2, "retired model collected");
    menhance_model_free(back);
    CHECK(menhance_latency(e) == L, "latency constant across swaps");
    menhance_destroy(e);
}

static void test_bad_files(void) {
    char err[512] = "";
    CHECK(menhance_model_load("/nonexistent/model.safetensors", err, sizeof err) == NULL &&
              strstr(err, "nonexistent"),
          "missing file names the path: %s", err);
    /* A truncated copy of a good file. */
    FILE *f = fopen(MODEL, "rb");
    CHECK(f != NULL, "open model");
    if (!f) return;
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* In /tmp, not build/: the build directory is BUILDDIR, and may not be build/. */
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/menhance-truncated-%d.safetensors", (int)getpid());
    size_t cuts[] = {4, 100, n / 2, n - 1};
    for (int i = 0; i < 4; i++) {
        FILE *o = fopen(tmp, "wb");
        fwrite(buf, 1, cuts[i], o);
        fclose(o);
        err[0] = 0;
        menhance_model *m = menhance_model_load(tmp, err, sizeof err);
        CHECK(m == NULL && err[0], "truncated at %zu accepted", cuts[i]);
        menhance_model_free(m);
    }
    /* An offline-only network is refused by the real-time engine with a reason. */
    menhance_model *m =
        menhance_model_load("tests/golden/nn_m2m_resnet_small.safetensors", err, sizeof err);
    CHECK(m == NULL && strstr(err, "offline"), "resnet refused: %s", err);
    remove(tmp);
}

/* A vocoder the machine cannot keep up with: the engine drops to the cleaned-magnitude path
 * by itself, the output stays processed (not dry), and the latency does not move. */
static void test_vocoder_fallback(void) {
    char err[512];
    menhance_model *m = menhance_model_load(MODEL, err, sizeof err);
    menhance_config cfg = {48000, 1, 256, 256, 1};
    menhance *e = menhance_create(&cfg, m, err, sizeof err);
    CHECK(e != NULL, "create");
    if (!e) return;
    menhance_params p;
    menhance_params_default(&p);
    p.mode = 2;
    menhance_set_params(e, &p);
    int L = menhance_latency(e);
    menhance_debug_set_worker_delay(e, 0, 30000); /* 30 ms per 16 ms chunk in vocoder mode */
    float x[256], y[256];
    const float *in[1] = {x};
    float *out[1] = {y};
    menhance_stats st = {0};
    int k;
    for (k = 0; k < 48000 * 4 / 256; k++) {
        for (int i = 0; i < 256; i++)
            x[i] = 0.2f * sinf(0.05f * (float)(k * 256 + i));
        menhance_process(e, in, out, 256);
        struct timespec ts = {0, 5333333};
        nanosleep(&ts, NULL);
    }
    unsigned long long late0;
    menhance_get_stats(e, &st);
    late0 = st.chunks_late;
    CHECK(st.effective_mode == 1, "fell back to mode %d", st.effective_mode);
    CHECK(late0 > 0 && late0 < 100, "late chunks %llu", late0);
    for (k = 0; k < 48000 / 256; k++) {
        menhance_process(e, in, out, 256);
        struct timespec ts = {0, 5333333};
        nanosleep(&ts, NULL);
    }
    menhance_get_stats(e, &st);
    CHECK(st.chunks_late == late0, "still late in the fallback (%llu -> %llu)", late0,
          st.chunks_late);
    CHECK(menhance_latency(e) == L, "latency moved");
    menhance_destroy(e);
}

/* The shipped default model, if the tree has one: it loads, and every mode it offers runs
 * with the classical latency and finite, non-silent output. */
static void test_shipped_model(void) {
    char path[2048], err[512];
    if (getenv("MENHANCE_MODEL_DIR") || !menhance_default_model_path(path, sizeof path)) {
        printf("test_engine_model: no shipped model, skipped\n");
        return;
    }
    menhance_model *m = menhance_model_load(path, err, sizeof err);
    CHECK(m != NULL, "shipped model %s: %s", path, err);
    if (!m) return;
    int modes = menhance_model_has_vocoder(m) ? 2 : 1;
    menhance_model_free(m);
    for (int mode = 1; mode <= modes; mode++) {
        m = menhance_model_load(path, err, sizeof err);
        menhance_config cfg = {44100, 2, 1024, 1024, 0};
        menhance *e = menhance_create(&cfg, m, err, sizeof err);
        menhance_params p;
        menhance_params_default(&p);
        p.mode = mode;
        menhance_set_params(e, &p);
        float l[1024], r[1024];
        const float *in[2] = {l, r};
        float *out[2] = {l, r};
        double energy = 0;
        int finite = 1;
        for (int k = 0; k < 44100 * 2 / 1024; k++) {
            fill(l, 1024, 44100);
            memcpy(r, l, sizeof l);
            menhance_process(e, in, out, 1024);
            for (int i = 0; i < 1024; i++) {
                finite &= isfinite(l[i]) && isfinite(r[i]);
                if (k > 20) energy += (double)l[i] * l[i];
            }
        }
        menhance_stats st;
        menhance_get_stats(e, &st);
        CHECK(finite && energy > 1e-3, "shipped model mode %d: finite %d energy %g", mode, finite,
              energy);
        CHECK(st.effective_mode == mode, "shipped model: mode %d ran as %d", mode,
              st.effective_mode);
        menhance_destroy(e);
    }
}

int main(void) {
    test_shipped_model();
    test_vocoder_fallback();
    test_modes();
    test_swap();
    test_bad_files();
    return check_summary("test_engine_model");
}
