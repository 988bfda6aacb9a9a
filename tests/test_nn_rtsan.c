/* Real-time safety of streaming Mel2Mel as the engine drives it (one frame per call, strengths
 * set and a noise floor held or released between frames), checked by clang's
 * RealtimeSanitizer when mk/nn.mk builds this with clang-22 -fsanitize=realtime: any
 * malloc/free/lock/syscall reached from the nonblocking function aborts with a report.  Built
 * by the plain compiler it is a smoke test of reset + process.  The streaming networks ("gain"
 * and the shipped "nrt") use no BLAS, so the check runs on every CPU. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static float run_frames(nn_m2m_stream *s, const float *x, float *y, const float *floor,
                        int frames) NONBLOCKING;
static float run_frames(nn_m2m_stream *s, const float *x, float *y, const float *floor,
                        int frames) {
    static const float k[3] = {1.0f, 0.5f, 2.0f};
    float acc = 0;
    nn_m2m_stream_reset(s);
    nn_m2m_stream_set_strength(s, k);
    for (int t = 0; t < frames; t++) {
        nn_m2m_stream_pin_floor(s, t >= frames / 2 ? floor : NULL);
        nn_m2m_stream_process(s, x + (size_t)t * 128, 1, y);
        acc += y[t % 128];
    }
    nn_m2m_stream_process(s, x, 0, y);
    nn_m2m_stream_pin_floor(s, NULL);
    return acc;
}

static void check_file(const char *what, unsigned char *b, size_t n, const float *x, float *y,
                       int T) {
    char err[256] = "";
    st_file *f = b ? st_open_memory(b, n, err, sizeof err) : NULL;
    nn_mel2mel *net = f ? nn_mel2mel_load(f, err, sizeof err) : NULL;
    nn_m2m_stream *s = net ? nn_m2m_stream_create(net) : NULL;
    CHECK(s != NULL, "%s: %s", what, err);
    if (s) {
        float floor[128];
        for (int i = 0; i < 128; i++)
            floor[i] = -12.0f;
        float a = run_frames(s, x, y, floor, T), a2 = run_frames(s, x, y, floor, T);
        CHECK(isfinite(a) && a == a2, "%s: output not finite or not reproducible", what);
    }
    nn_m2m_stream_destroy(s);
    nn_mel2mel_free(net);
    st_close(f);
    free(b);
}

int main(void) {
    const int T = 40;
    float *x = malloc(sizeof(float) * 128 * T), y[128];
    uint32_t seed = 5;
    for (int i = 0; i < 128 * T; i++)
        x[i] = -6.0f + 3.0f * nnu_rand(&seed);
    static const char *const goldens[] = {"tests/golden/nn_m2m_gain_small.safetensors",
                                          "tests/golden/nn_m2m_nrt_small.safetensors",
                                          "tests/golden/nn_m2m_nrt_b.safetensors"};
    for (size_t g = 0; g < sizeof goldens / sizeof goldens[0]; g++) {
        size_t n = 0;
        unsigned char *b = nnu_read_file(goldens[g], &n);
        check_file(goldens[g], b, n, x, y, T);
    }
    /* The default gain configuration (128 channels, 6 blocks). */
    static const int dil[] = {1, 2, 4, 8, 16, 32};
    size_t n;
    unsigned char *b = nnu_gain_file(128, dil, 6, 2, &n);
    check_file("default gain", b, n, x, y, T);
    free(x);
    return check_summary("test_nn_rtsan");
}
