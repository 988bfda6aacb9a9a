/* No thread of ours or of a library burns CPU while the engine is idle (issue 10 item 7).
 *
 * A threaded engine with a model (the Mel2Mel's GEMMs may go through OpenBLAS on the worker)
 * processes two seconds of audio, then the host stops calling it, as a paused transport does.
 * Over the next 1.5 s the whole process may use at most 30 ms of CPU, and it holds no thread
 * beyond the caller and the engine's worker: a multi-threaded BLAS parks helper threads that
 * poll with sched_yield even when told to use one thread (measured: 383-626 calls in 5 s), so
 * the build links the single-threaded OpenBLAS. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/menhance.h"
#include "tests/check.h"

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int thread_count(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

int main(void) {
    char path[1024], err[256] = "";
    CHECK(menhance_default_model_path(path, sizeof path) == 1, "a model to load");
    menhance_model *model = menhance_model_load(path, err, sizeof err);
    CHECK(model != NULL, "model %s: %s", path, err);
    menhance_config cfg = {
        .sample_rate = 48000, .channels = 2, .max_block = 512, .nominal_block = 512, .threaded = 1};
    menhance *e = menhance_create(&cfg, model, err, sizeof err);
    CHECK(e != NULL, "create: %s", err);
    if (!e) return check_summary("test_idle");
    menhance_params p;
    menhance_params_default(&p);
    p.mode = MENHANCE_MODE_MEL2MEL;
    menhance_set_params(e, &p);
    enum { N = 512 };
    static float l[N], r[N], ol[N], orr[N];
    const float *in[2] = {l, r};
    float *out[2] = {ol, orr};
    long long t = 0;
    for (int b = 0; b < 2 * 48000 / N; b++) {
        for (int i = 0; i < N; i++, t++)
            l[i] = r[i] =
                0.1f * sinf(0.05f * (float)t) + 0.01f * (float)((t * 7919) % 101 - 50) / 50.0f;
        menhance_process(e, in, out, N);
        struct timespec ts = {0, 5 * 1000 * 1000}; /* a host's block period, roughly */
        nanosleep(&ts, NULL);
    }
    struct timespec settle = {0, 200 * 1000 * 1000};
    nanosleep(&settle, NULL); /* the worker finishes the last chunk */
    int threads = thread_count();
    double c0 = cpu_seconds();
    struct timespec idle = {1, 500 * 1000 * 1000};
    nanosleep(&idle, NULL);
    double used = cpu_seconds() - c0;
    printf("idle 1.5 s: %.1f ms of CPU, %d threads\n", 1e3 * used, threads);
    CHECK(used < 0.030, "idle engine used %.1f ms of CPU in 1.5 s", 1e3 * used);
    CHECK(threads == 2, "%d threads (want the caller and the engine's worker only)", threads);
    menhance_destroy(e);
    return check_summary("test_idle");
}
