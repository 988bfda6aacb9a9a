/* Mel2Mel speed on one thread: the default streaming model frame by frame (as the plugin runs
 * it, one 256-sample hop per call) and in 16-frame chunks, and the full-size reference ResNet
 * on one 185-frame training clip.  Random weights (speed does not depend on them).
 * Prints JSON lines; rtf_16k = compute time / audio time at 16 kHz (hop 256). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/mel2mel.h"
#include "tests/test_nn_util.h"

#include "nn/layers.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static nn_mel2mel *load(unsigned char *b, size_t n, st_file **f) {
    char err[256];
    *f = st_open_memory(b, n, err, sizeof err);
    nn_mel2mel *net = *f ? nn_mel2mel_load(*f, err, sizeof err) : NULL;
    if (!net) fprintf(stderr, "bench_mel2mel: %s\n", err);
    free(b);
    return net;
}

/* model: a model file to time, or NULL for random weights in the default "gain" configuration
 * (128 channels, 6 blocks: the shipped model's trunk without its heads). */
static void bench_stream(const char *model, const char *name) {
    static const int dil[] = {1, 2, 4, 8, 16, 32};
    size_t n;
    st_file *f;
    unsigned char *b = model ? nnu_read_file(model, &n) : nnu_gain_file(128, dil, 6, 2, &n);
    if (!b) {
        fprintf(stderr, "bench_mel2mel: cannot read %s\n", model);
        exit(1);
    }
    nn_mel2mel *net = load(b, n, &f);
    if (!net || !nn_mel2mel_streaming(net)) exit(1);
    const int F = 128, T = 1000;
    float *x = malloc(sizeof(float) * T * F), *y = malloc(sizeof(float) * T * F);
    uint32_t s = 7;
    for (int i = 0; i < T * F; i++)
        x[i] = -6.0f + 3.0f * nnu_rand(&s);
    nn_m2m_stream *st = nn_m2m_stream_create(net);
    const double hop_s = 256.0 / 16000.0, mmac = nn_mel2mel_macs_per_frame(net) / 1e6;
    for (int chunk = 1; chunk <= 16; chunk += 15) {
        double best = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            nn_m2m_stream_process(st, x, 50, y); /* warm caches */
            double t0 = now();
            for (int t = 0; t < T; t += chunk)
                nn_m2m_stream_process(st, x + (size_t)t * F, T - t < chunk ? T - t : chunk,
                                      y + (size_t)t * F);
            double per = (now() - t0) / T;
            best = per < best ? per : best;
        }
        /* One frame per call is what the plugin does: that line carries the plain name. */
        printf("{\"name\":\"%s%s\",\"chunk_frames\":%d,\"rtf_16k\":%.5f,"
               "\"mmac_per_frame\":%.3f,\"us_per_frame\":%.1f,\"gflops\":%.2f,"
               "\"blas_core\":\"%s\",\"model\":\"%s\"}\n",
               name, chunk == 1 ? "" : "_chunk16", chunk, best / hop_s, mmac, best * 1e6,
               2e-3 * mmac / best, layers_blas_core(), nn_mel2mel_describe(net));
    }
    nn_m2m_stream_destroy(st);
    nn_mel2mel_free(net);
    st_close(f);
    free(x);
    free(y);
}

static void bench_resnet(void) {
    size_t n;
    st_file *f;
    unsigned char *b = nnu_resnet_file(64, 9, 2, &n);
    nn_mel2mel *net = load(b, n, &f);
    if (!net) exit(1);
    const int F = 128, T = 185;
    float *x = malloc(sizeof(float) * T * F), *y = malloc(sizeof(float) * T * F);
    uint32_t s = 9;
    for (int i = 0; i < T * F; i++)
        x[i] = -6.0f + 3.0f * nnu_rand(&s);
    nn_m2m_offline *o = nn_m2m_offline_create(net, T);
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        nn_m2m_offline_process(o, x, T, y);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    double audio = T * 256.0 / 16000.0, mmac = nn_mel2mel_macs_per_frame(net) / 1e6;
    printf("{\"name\":\"mel2mel_resnet\",\"frames\":%d,\"rtf_16k\":%.4f,\"mmac_per_frame\":%.2f,"
           "\"gflops\":%.2f,\"blas_core\":\"%s\"}\n",
           T, best / audio, mmac, 2e-3 * mmac * T / best, layers_blas_core());
    nn_m2m_offline_destroy(o);
    nn_mel2mel_free(net);
    st_close(f);
    free(x);
    free(y);
}

/* Usage: bench_mel2mel [--stream-only] [--model FILE]
 * With --model, "mel2mel_stream" times that file's streaming model (the shipped one) and
 * "mel2mel_stream_default" the default gain trunk with random weights. */
int main(int argc, char **argv) {
    const char *model = NULL;
    int stream_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--stream-only"))
            stream_only = 1;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
    }
    if (model) bench_stream(model, "mel2mel_stream");
    bench_stream(NULL, model ? "mel2mel_stream_default" : "mel2mel_stream");
    if (!stream_only) bench_resnet();
    return 0;
}
