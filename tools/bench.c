/* menhance-bench: cost of each engine mode, the way a host would run it.
 *
 * 48 kHz stereo (by default), one thread: the engine runs synchronously (cfg.threaded = 0,
 * params.synchronous = 1), so every bit of work happens on the calling thread and its
 * CLOCK_THREAD_CPUTIME_ID is the whole cost.  Real-time factor = CPU time / audio time.
 * Also reports menhance_latency() and the slowest block against the block's time budget
 * (what decides crackles on a live host).  Modes that need a model run only when one loads.
 * Also times the SPSC ring (dsp/ring.c) between two threads: tests/stress_ring.c only checks
 * that nothing is lost, reordered or torn; its speed is a figure, measured here.
 * Writes build/bench_modes.json: {"modes": {"classical": {"rtf": .., "latency_samples": ..},
 * "mel2mel": {..}, "diffwave": {..}}, "config": {..}, "ring": [{..}, ..]}. */
#include "dsp/ring.h"
#include "engine/menhance.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct {
    int rate, block;
    double seconds;
    const char *model_path, *out_path;
} bench_options;

typedef struct {
    int available;
    char reason[PATH_MAX + 512];
    char model[256];
    double rtf, wall_rtf, max_block_ms;
    int latency;
    unsigned long long chunks, late;
} mode_result;

static const struct {
    int mode;
    const char *json_key;
} modes[] = {
    {MENHANCE_MODE_CLASSICAL, "classical"},
    {MENHANCE_MODE_MEL2MEL, "mel2mel"},
    {MENHANCE_MODE_MEL2MEL_VOCODER, "diffwave"},
};
enum { NMODES = sizeof modes / sizeof modes[0], CH = 2 };

static double now_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static unsigned lcg(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s;
}

static float uniform(unsigned *s) {
    return (float)(lcg(s) >> 8) / 16777216.0f * 2.0f - 1.0f;
}

/* Music-like test signal: a new chord of harmonic tones every half second, decaying, over
 * a pink-ish noise bed, slightly different per channel.  Busy enough that no stage can
 * coast on silence. */
static void make_signal(float *const *x, long long n, int rate) {
    unsigned seed = 2022;
    double ph[4][6] = {{0}};
    double f0[4] = {220, 277, 330, 440};
    float pink[CH][3] = {{0}};
    long long seg = rate / 2;
    for (long long i = 0; i < n; i++) {
        if (i % seg == 0)
            for (int v = 0; v < 4; v++)
                f0[v] = 110.0 * pow(2.0, (double)(lcg(&seed) % 36) / 12.0);
        double t = (double)(i % seg) / rate, env = exp(-4.0 * t), s = 0;
        for (int v = 0; v < 4; v++)
            for (int h = 0; h < 6; h++) {
                ph[v][h] += 2 * M_PI * f0[v] * (h + 1) / rate;
                if (ph[v][h] > 2 * M_PI) ph[v][h] -= 2 * M_PI;
                s += sin(ph[v][h]) / (h + 1);
            }
        for (int c = 0; c < CH; c++) {
            /* three one-pole stages: a cheap 1/f-ish tilt */
            float w = uniform(&seed);
            pink[c][0] = 0.99f * pink[c][0] + 0.1f * w;
            pink[c][1] = 0.9f * pink[c][1] + 0.3f * w;
            pink[c][2] = 0.5f * pink[c][2] + 0.5f * w;
            float noise = 0.05f * (pink[c][0] + pink[c][1] + pink[c][2]);
            x[c][i] = (float)(0.08 * env * s * (c ? 0.9 : 1.0)) + noise;
        }
    }
}

static void run_mode(const bench_options *o, int mode, float *const *x, long long n,
                     mode_result *r) {
    memset(r, 0, sizeof *r);
    char err[256] = "";
    menhance_model *model = NULL;
    if (mode != MENHANCE_MODE_CLASSICAL) {
        char path[PATH_MAX];
        const char *p = o->model_path;
        if (!p && menhance_default_model_path(path, sizeof path)) p = path;
        if (!p) {
            snprintf(r->reason, sizeof r->reason, "no model found");
            return;
        }
        model = menhance_model_load(p, err, sizeof err);
        if (!model) {
            snprintf(r->reason, sizeof r->reason, "%s: %s", p, err);
            return;
        }
        snprintf(r->model, sizeof r->model, "%s", menhance_model_describe(model));
        /* The public API cannot say whether a model holds a vocoder; its description does.
         * Without one the engine would run this mode as plain Mel2Mel: do not time it twice
         * under a misleading name. */
        if (mode == MENHANCE_MODE_MEL2MEL_VOCODER && !strcasestr(r->model, "diffwave") &&
            !strcasestr(r->model, "vocoder")) {
            snprintf(r->reason, sizeof r->reason, "the model has no DiffWave vocoder (%s)",
                     menhance_model_describe(model));
            menhance_model_free(model);
            return;
        }
    }
    menhance_config cfg = {.sample_rate = o->rate,
                           .channels = CH,
                           .max_block = o->block,
                           .nominal_block = o->block,
                           .threaded = 0};
    menhance *e = menhance_create(&cfg, model, err, sizeof err);
    if (!e) {
        snprintf(r->reason, sizeof r->reason, "engine: %s", err);
        return;
    }
    menhance_params p;
    menhance_params_default(&p);
    p.mode = mode;
    p.enabled = 1;
    p.synchronous = 1;
    menhance_set_params(e, &p);
    r->latency = menhance_latency(e);

    float *out[CH];
    for (int c = 0; c < CH; c++)
        out[c] = malloc((size_t)o->block * sizeof(float));
    /* Half a second of warm-up (caches, first-touch pages) outside the measurement. */
    long long warm = o->rate / 2, i = 0;
    for (; i + o->block <= warm; i += o->block) {
        const float *in[CH] = {x[0] + i, x[1] + i};
        menhance_process(e, in, out, o->block);
    }
    double cpu0 = now_s(CLOCK_THREAD_CPUTIME_ID), wall0 = now_s(CLOCK_MONOTONIC);
    long long start = i;
    double worst = 0;
    for (; i + o->block <= n; i += o->block) {
        const float *in[CH] = {x[0] + i, x[1] + i};
        double b0 = now_s(CLOCK_MONOTONIC);
        menhance_process(e, in, out, o->block);
        double dt = now_s(CLOCK_MONOTONIC) - b0;
        if (dt > worst) worst = dt;
    }
    double cpu = now_s(CLOCK_THREAD_CPUTIME_ID) - cpu0, wall = now_s(CLOCK_MONOTONIC) - wall0;
    double audio = (double)(i - start) / o->rate;
    r->rtf = cpu / audio;
    r->wall_rtf = wall / audio;
    r->max_block_ms = 1e3 * worst;
    menhance_stats st;
    menhance_get_stats(e, &st);
    r->chunks = st.chunks_processed;
    r->late = st.chunks_late;
    r->available = 1;
    for (int c = 0; c < CH; c++)
        free(out[c]);
    menhance_destroy(e);
}

/* ---- the ring: messages per second between a producer and a consumer thread ---- */
enum { RING_MAX_PAYLOAD = 61, RING_CASES = 2 };

typedef struct {
    size_t capacity;
    unsigned messages;
    double seconds, per_s;
    unsigned corrupt;
} ring_result;

typedef struct {
    ring *r;
    unsigned n;
} ring_job;

static void *ring_producer(void *arg) {
    ring_job *j = arg;
    unsigned char msg[8 + RING_MAX_PAYLOAD];
    for (unsigned seq = 0; seq < j->n; seq++) {
        unsigned len = (seq * 2654435761u >> 7) % (RING_MAX_PAYLOAD + 1);
        memcpy(msg, &seq, 4);
        memcpy(msg + 4, &len, 4);
        memset(msg + 8, (int)(seq & 0xff), len);
        while (!ring_write(j->r, msg, 8 + len))
            sched_yield();
    }
    return NULL;
}

/* The same traffic as tests/stress_ring.c (headers and 0-61 byte payloads), without TSan. */
static void ring_bench(size_t capacity, unsigned n, ring_result *res) {
    memset(res, 0, sizeof *res);
    res->capacity = capacity;
    ring_job j = {ring_create(capacity), n};
    if (!j.r) return;
    pthread_t t;
    double t0 = now_s(CLOCK_MONOTONIC);
    if (pthread_create(&t, NULL, ring_producer, &j)) {
        ring_destroy(j.r);
        return;
    }
    unsigned char buf[RING_MAX_PAYLOAD];
    unsigned got = 0;
    while (got < n) {
        unsigned h[2];
        if (!ring_read(j.r, h, sizeof h)) {
            sched_yield();
            continue;
        }
        if (h[1] > RING_MAX_PAYLOAD || h[0] != got) {
            res->corrupt++;
            break;
        }
        while (!ring_read(j.r, buf, h[1]))
            sched_yield();
        if (h[1] && (buf[0] != (unsigned char)(got & 0xff))) res->corrupt++;
        got++;
    }
    pthread_join(t, NULL);
    res->seconds = now_s(CLOCK_MONOTONIC) - t0;
    res->messages = got;
    res->per_s = res->seconds > 0 ? got / res->seconds : 0;
    ring_destroy(j.r);
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static int write_json(const bench_options *o, const mode_result *r, const ring_result *rr) {
    FILE *f = fopen(o->out_path, "w");
    if (!f) return -1;
    fprintf(f,
            "{\n  \"config\": {\"rate\": %d, \"channels\": %d, \"block\": %d, "
            "\"seconds\": %g, \"threads\": 1},\n  \"modes\": {",
            o->rate, CH, o->block, o->seconds);
    int first = 1;
    for (int m = 0; m < NMODES; m++) {
        if (!r[m].available) continue;
        fprintf(f,
                "%s\n    \"%s\": {\"rtf\": %.5f, \"latency_samples\": %d, "
                "\"latency_ms\": %.2f, \"wall_rtf\": %.5f, \"max_block_ms\": %.3f, "
                "\"block_budget_ms\": %.3f, \"chunks_late\": %llu",
                first ? "" : ",", modes[m].json_key, r[m].rtf, r[m].latency,
                1e3 * r[m].latency / o->rate, r[m].wall_rtf, r[m].max_block_ms,
                1e3 * o->block / o->rate, r[m].late);
        if (r[m].model[0]) {
            fprintf(f, ", \"model\": ");
            json_string(f, r[m].model);
        }
        fprintf(f, "}");
        first = 0;
    }
    fprintf(f, "\n  },\n  \"skipped\": {");
    first = 1;
    for (int m = 0; m < NMODES; m++) {
        if (r[m].available) continue;
        fprintf(f, "%s\n    \"%s\": ", first ? "" : ",", modes[m].json_key);
        json_string(f, r[m].reason);
        first = 0;
    }
    fprintf(f, "%s},\n  \"ring\": [", first ? "" : "\n  ");
    for (int i = 0; i < RING_CASES; i++)
        fprintf(f,
                "%s\n    {\"capacity_bytes\": %zu, \"messages\": %u, \"seconds\": %.4f, "
                "\"messages_per_s\": %.0f, \"corrupt\": %u}",
                i ? "," : "", rr[i].capacity, rr[i].messages, rr[i].seconds, rr[i].per_s,
                rr[i].corrupt);
    fprintf(f, "\n  ]\n}\n");
    return fclose(f);
}

static void usage(FILE *f) {
    fprintf(f, "Usage: menhance-bench [--seconds S] [--block N] [--rate HZ] [--model PATH]\n"
               "                      [--out build/bench_modes.json]\n"
               "Times every engine mode on one thread (synchronous engine) on a stereo\n"
               "music-like signal; real-time factor = thread CPU time / audio time.\n");
}

int main(int argc, char **argv) {
    bench_options o = {.rate = 48000,
                       .block = 256,
                       .seconds = 20.0,
                       .model_path = NULL,
                       .out_path = "build/bench_modes.json"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        if (!strcmp(a, "--seconds"))
            o.seconds = atof(v);
        else if (!strcmp(a, "--block"))
            o.block = atoi(v);
        else if (!strcmp(a, "--rate"))
            o.rate = atoi(v);
        else if (!strcmp(a, "--model"))
            o.model_path = v;
        else if (!strcmp(a, "--out"))
            o.out_path = v;
        else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (o.seconds < 1 || o.block < 1 || o.block > 8192 || o.rate < 8000 || o.rate > 192000) {
        fprintf(stderr, "menhance-bench: need --seconds >= 1, --block 1..8192, --rate "
                        "8000..192000\n");
        return 2;
    }
    long long n = (long long)(o.seconds * o.rate) + o.rate / 2; /* + the warm-up */
    float *x[CH];
    for (int c = 0; c < CH; c++) {
        x[c] = malloc((size_t)n * sizeof(float));
        if (!x[c]) {
            fprintf(stderr, "menhance-bench: out of memory\n");
            return 1;
        }
    }
    make_signal(x, n, o.rate);

    mode_result r[NMODES];
    printf("menhance-bench: %d Hz stereo, block %d, %.0f s, one thread (synchronous)\n", o.rate,
           o.block, o.seconds);
    printf("%-10s %9s %9s %10s %10s %14s\n", "mode", "rtf", "wall_rtf", "latency", "latency",
           "worst block");
    for (int m = 0; m < NMODES; m++) {
        run_mode(&o, modes[m].mode, x, n, &r[m]);
        if (!r[m].available) {
            printf("%-10s skipped: %s\n", modes[m].json_key, r[m].reason);
            continue;
        }
        printf("%-10s %9.4f %9.4f %6d smp %7.1f ms %7.2f/%.2f ms\n", modes[m].json_key, r[m].rtf,
               r[m].wall_rtf, r[m].latency, 1e3 * r[m].latency / o.rate, r[m].max_block_ms,
               1e3 * o.block / o.rate);
    }
    for (int c = 0; c < CH; c++)
        free(x[c]);
    /* 256 bytes: full or empty most of the time (the stress test's ring); 64 KiB: streaming. */
    ring_result rr[RING_CASES];
    const size_t caps[RING_CASES] = {256, 65536};
    for (int i = 0; i < RING_CASES; i++) {
        ring_bench(caps[i], 1000000u, &rr[i]);
        printf("ring %6zu B: %u messages in %.3f s, %.0f messages/s%s\n", caps[i], rr[i].messages,
               rr[i].seconds, rr[i].per_s, rr[i].corrupt ? " (CORRUPT)" : "");
    }
    if (!r[0].available) {
        fprintf(stderr, "menhance-bench: the classical mode failed: %s\n", r[0].reason);
        return 1;
    }
    if (write_json(&o, r, rr) != 0) {
        fprintf(stderr, "menhance-bench: cannot write %s\n", o.out_path);
        return 1;
    }
    printf("wrote %s\n", o.out_path);
    return 0;
}
