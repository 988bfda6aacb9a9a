/* Real-time safety of the streaming DiffWave as the engine drives it (one mel frame per call):
 * built by mk/diffwave.mk with clang-22 -fsanitize=realtime, any malloc/free/lock/syscall
 * reached from the nonblocking function aborts with a report.  Built by the plain compiler
 * (as every tests/test_*.c) it is a smoke test: the output must be finite and, after a
 * reset with the same seed, identical. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/diffwave.h"
#include "tests/check.h"

#if defined(__has_feature)
#if __has_feature(realtime_sanitizer)
#define NONBLOCKING __attribute__((nonblocking))
#endif
#endif
#ifndef NONBLOCKING
#define NONBLOCKING
#endif

#ifndef GOLDEN_DIR
#define GOLDEN_DIR "tests/golden"
#endif

static double run_frames(nn_diffwave_stream *s, const float *mel, int M, int F,
                         float *out) NONBLOCKING;
static double run_frames(nn_diffwave_stream *s, const float *mel, int M, int F, float *out) {
    double acc = 0;
    nn_diffwave_stream_reset(s, 5); /* the engine resets on its audio thread too */
    for (int f = 0; f < F; f++) {
        nn_diffwave_stream_process(s, mel + (size_t)f * M, 1, out);
        for (int j = 0; j < 256; j++)
            acc += (double)out[j] * out[j];
    }
    return acc;
}

static double run_refiner(nn_diffwave_stream *s, const float *mel, const float *prior, int M, int F,
                          float *out) NONBLOCKING;
static double run_refiner(nn_diffwave_stream *s, const float *mel, const float *prior, int M, int F,
                          float *out) {
    double acc = 0;
    nn_diffwave_stream_reset(s, 5);
    for (int f = 0; f < F; f++) {
        nn_diffwave_stream_process_prior(s, mel + (size_t)f * M, prior + (size_t)f * 256, 1, out);
        for (int j = 0; j < 256; j++)
            acc += (double)out[j] * out[j];
    }
    return acc;
}

/* The mode-2 refiner, streamed frame by frame from its prior (tests/golden/dw_refiner). */
static void check_refiner(void) {
    char err[256] = "";
    st_file *f = st_open(GOLDEN_DIR "/dw_refiner.safetensors", err, sizeof err);
    nn_diffwave *m = f ? nn_diffwave_load(f, err, sizeof err) : NULL;
    CHECK(m != NULL, "dw_refiner: %s", err);
    if (m) {
        static const int steps[3] = {5, 2, 0};
        const int M = nn_diffwave_get_info(m)->n_mels, F = 60;
        nn_diffwave_stream_config cfg;
        nn_diffwave_stream_config_default(&cfg);
        cfg.max_frames = 1;
        cfg.block = 256;
        cfg.seed = 5;
        cfg.refine_steps = steps;
        cfg.n_refine = 3;
        nn_diffwave_stream *s = nn_diffwave_stream_create(m, &cfg, err, sizeof err);
        CHECK(s != NULL, "refiner stream: %s", err);
        float *mel = malloc(sizeof(float) * M * F), *prior = malloc(sizeof(float) * 256 * F),
              out[256];
        for (int i = 0; i < M * F; i++)
            mel[i] = (float)cos(0.21 * i);
        for (int i = 0; i < 256 * F; i++)
            prior[i] = (float)(0.3 * sin(0.05 * i));
        if (s) {
            double a = run_refiner(s, mel, prior, M, F, out);
            double b = run_refiner(s, mel, prior, M, F, out);
            CHECK(isfinite(a) && a > 0 && a == b, "refiner: energy %g then %g", a, b);
        }
        free(mel);
        free(prior);
        nn_diffwave_stream_free(s);
    }
    nn_diffwave_free(m);
    st_close(f);
}

int main(void) {
    check_refiner();
    static const char *names[] = {"dw_causal", "dw_sym", "dw_limited"};
    for (int k = 0; k < 3; k++) {
        char path[256], err[256] = "";
        snprintf(path, sizeof path, "%s/%s.safetensors", GOLDEN_DIR, names[k]);
        st_file *f = st_open(path, err, sizeof err);
        nn_diffwave *m = f ? nn_diffwave_load(f, err, sizeof err) : NULL;
        CHECK(m != NULL, "%s: %s", path, err);
        if (!m) {
            st_close(f);
            continue;
        }
        const int M = nn_diffwave_get_info(m)->n_mels, F = 60;
        nn_diffwave_stream_config cfg;
        nn_diffwave_stream_config_default(&cfg);
        cfg.max_frames = 1;
        cfg.block = 256;
        cfg.seed = 5;
        nn_diffwave_stream *s = nn_diffwave_stream_create(m, &cfg, err, sizeof err);
        CHECK(s != NULL, "stream: %s", err);
        float *mel = malloc(sizeof(float) * M * F), out[256];
        for (int i = 0; i < M * F; i++)
            mel[i] = (float)cos(0.21 * i);
        if (s) {
            double a = run_frames(s, mel, M, F, out);
            double b = run_frames(s, mel, M, F, out);
            CHECK(isfinite(a) && a > 0, "%s: output energy %g", names[k], a);
            CHECK(a == b, "%s: reset did not restart the stream (%g vs %g)", names[k], a, b);
        }
        free(mel);
        nn_diffwave_stream_free(s);
        nn_diffwave_free(m);
        st_close(f);
    }
    return check_summary("test_nn_diffwave_rtsan");
}
