/* Real-time safety of streaming Mel2Mel as the engine drives it (one frame per call), checked
 * by clang's RealtimeSanitizer when mk/nn.mk builds this with clang-22 -fsanitize=realtime:
 * any malloc/free/lock/syscall reached from the nonblocking function, OpenBLAS included,
 * aborts with a report.  Built by the plain compiler it is a smoke test of reset + process.
 * The gain network (the shipped default) uses no BLAS and is checked on every CPU; the older
 * "stream" network's GEMMs go through OpenBLAS, whose locking depends on the kernel set: where
 * it locks, that check is SKIPped (counted and shown). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nn/layers.h"
#include "nn/mel2mel.h"
#include "tests/check.h"
#include "tests/test_nn_util.h"

#if defined(__has_feature)
#if __has_feature(realtime_sanitizer)
#define NONBLOCKING __attribute__((nonblocking))
#endif
#endif
#ifndef NONBLOCKING
#define NONBLOCKING
#endif

static float run_frames(nn_m2m_stream *s, const float *x, float *y, int frames) NONBLOCKING;
static float run_frames(nn_m2m_stream *s, const float *x, float *y, int frames) {
    float acc = 0;
    nn_m2m_stream_reset(s);
    for (int t = 0; t < frames; t++) {
        nn_m2m_stream_process(s, x + (size_t)t * 128, 1, y);
        acc += y[t % 128];
    }
    nn_m2m_stream_process(s, x, 0, y);
    return acc;
}

/* The same without the sanitizer's contract, for BLAS builds known to lock. */
static float run_frames_unchecked(nn_m2m_stream *s, const float *x, float *y, int frames) {
    float acc = 0;
    nn_m2m_stream_reset(s);
    for (int t = 0; t < frames; t++) {
        nn_m2m_stream_process(s, x + (size_t)t * 128, 1, y);
        acc += y[t % 128];
    }
    return acc;
}

/* OpenBLAS 0.3.21 skips its buffer pool (and the pool's mutex) only through the small-matrix
 * kernels, which exist for the AVX-512 cores; elsewhere every GEMM takes a pthread mutex. */
static int blas_is_lock_free(void) {
    static const char *ok[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    const char *core = layers_blas_core();
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (core && !strcasecmp(core, ok[i])) return 1;
    return 0;
}

static void check_gain(const float *x, float *y, int T) {
    size_t n = 0;
    char err[256] = "";
    unsigned char *b = nnu_read_file("tests/golden/nn_m2m_gain_small.safetensors", &n);
    st_file *f = b ? st_open_memory(b, n, err, sizeof err) : NULL;
    nn_mel2mel *net = f ? nn_mel2mel_load(f, err, sizeof err) : NULL;
    nn_m2m_stream *s = net ? nn_m2m_stream_create(net) : NULL;
    CHECK(s != NULL, "gain model: %s", err);
    if (s) {
        float a = run_frames(s, x, y, T), a2 = run_frames_unchecked(s, x, y, T);
        CHECK(isfinite(a) && a == a2, "gain model: output not finite or not reproducible");
    }
    nn_m2m_stream_destroy(s);
    nn_mel2mel_free(net);
    st_close(f);
    free(b);
}

int main(void) {
    const int T = 40;
    {
        float *x = malloc(sizeof(float) * 128 * T), y[128];
        uint32_t seed = 5;
        for (int i = 0; i < 128 * T; i++)
            x[i] = -6.0f + 3.0f * nnu_rand(&seed);
        check_gain(x, y, T);
        free(x);
    }
    /* The "stream" network: the default configuration and the training helper's 4-level one. */
    static const int ch3[] = {16, 32, 48}, ch4[] = {16, 32, 32, 48},
                     dil[] = {1, 2, 4, 8, 1, 2, 4, 8};
    const int *chs[2] = {ch3, ch4}, nlev[2] = {3, 4};
    float *x = malloc(sizeof(float) * 128 * T), y[128];
    uint32_t seed = 3;
    for (int i = 0; i < 128 * T; i++)
        x[i] = -6.0f + 3.0f * nnu_rand(&seed);
    for (int k = 0; k < 2; k++) {
        size_t n;
        char err[256] = "";
        unsigned char *b = nnu_stream_file(chs[k], nlev[k], dil, 8, 2, &n);
        st_file *f = st_open_memory(b, n, err, sizeof err);
        nn_mel2mel *net = f ? nn_mel2mel_load(f, err, sizeof err) : NULL;
        nn_m2m_stream *s = net ? nn_m2m_stream_create(net) : NULL;
        CHECK(s != NULL, "model %d: %s", k, err);
        if (s) {
            int strict = blas_is_lock_free();
            if (!strict)
                SKIP("stream model %d: OpenBLAS core %s locks a mutex per GEMM: real-time check "
                     "not run (the gain model above uses no BLAS)",
                     k, layers_blas_core());
            float a = strict ? run_frames(s, x, y, T) : run_frames_unchecked(s, x, y, T);
            float a2 = run_frames_unchecked(s, x, y, T);
            CHECK(isfinite(a) && a == a2, "model %d: output not finite or not reproducible", k);
        }
        nn_m2m_stream_destroy(s);
        nn_mel2mel_free(net);
        st_close(f);
        free(b);
    }
    free(x);
    return check_summary("test_nn_rtsan");
}
