/* Real-time safety of run() and work_response(), the two functions a host calls from its
 * audio thread.  This host calls them, and nothing else, inside
 *   - a function marked nonblocking: built with clang -fsanitize=realtime, RealtimeSanitizer
 *     then reports any malloc, lock, sleep or I/O reached from it (rt_host_rtsan);
 *   - rt_trap_set(1) / rt_trap_set(0) when tests/host/rt_trap.so is preloaded: the trap counts
 *     the same calls by this thread (rt_host with LD_PRELOAD);
 * and the plain build doubles as a short valgrind run (argument "short").
 * The plugin is driven the way hosts drive it: every block size from 1 to 8192 and random
 * ones, parameter, mode, bypass and freewheel changes, and a model load through the worker
 * when a model is installed.  Setup, work() and teardown run outside the real-time region,
 * as in a host. */
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lv2/atom/forge.h>
#include <lv2/patch/patch.h>

#include "tests/check.h"
#include "tests/host/host_common.h"

#if defined(__has_feature)
#if __has_feature(realtime_sanitizer)
#define RT_NONBLOCKING __attribute__((nonblocking))
#endif
#endif
#ifndef RT_NONBLOCKING
#define RT_NONBLOCKING
#endif

typedef void (*TrapSet)(int);
typedef long (*TrapReport)(char *, size_t);
static TrapSet trap_set;

static void rt_run(const LV2_Descriptor *d, LV2_Handle h, uint32_t n) RT_NONBLOCKING {
    d->run(h, n);
}

static void rt_respond(Host *host) RT_NONBLOCKING {
    host_worker_respond(host);
}

/* Freewheeling (lv2:freeWheeling = 1) means no real-time constraints: the engine computes
 * synchronously then, and such blocks run outside the checks, as Ardour runs work() inline
 * while exporting.  Every live block, and the switches into and out of freewheeling, are
 * checked. */
static int check_freewheel; /* RT_CHECK_FREEWHEEL=1: check those blocks too (informative) */

static void audio_thread_call(Host *host, uint32_t n, int freewheel) {
    const LV2_Descriptor *d = lilv_instance_get_descriptor(host->instance);
    LV2_Handle h = lilv_instance_get_handle(host->instance);
    if (freewheel && !check_freewheel) {
        d->run(h, n);
        host_worker_work(host);
        host_worker_respond(host);
        return;
    }
    if (trap_set) trap_set(1);
    rt_run(d, h, n);
    if (trap_set) trap_set(0);
    host_worker_work(host); /* the worker thread's half */
    if (trap_set) trap_set(1);
    rt_respond(host);
    if (trap_set) trap_set(0);
}

static unsigned rng = 777u;
static unsigned rnd(void) {
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

typedef struct {
    float enabled, freewheel, latency, amount, mode, hiband, strength, max_atten;
} Controls;

/* Restores a model path through the state interface (the worker loads it). */
static const char *restore_path;
static Host *restore_host;
static const void *retrieve_fn(LV2_State_Handle handle, uint32_t key, size_t *size, uint32_t *type,
                               uint32_t *flags) {
    (void)handle;
    if (key != host_map_uri(&restore_host->map, HOST_URI "#model")) return NULL;
    *size = strlen(restore_path) + 1;
    *type = host_map_uri(&restore_host->map, LV2_ATOM__Path);
    *flags = LV2_STATE_IS_POD;
    return restore_path;
}

/* Atom buffers for the control (patch:Set / patch:Get) and notify ports. */
typedef struct {
    LV2_Atom_Sequence seq;
    uint8_t room[8192];
} AtomBuf;

/* Fills b with an empty sequence, or one patch:Set of the model (path) or patch:Get (NULL). */
static void atom_fill(Host *h, AtomBuf *b, int message, const char *path) {
    LV2_Atom_Forge f;
    lv2_atom_forge_init(&f, &h->map_feature);
    lv2_atom_forge_set_buffer(&f, (uint8_t *)b, sizeof *b);
    LV2_Atom_Forge_Frame sf, of;
    lv2_atom_forge_sequence_head(&f, &sf, 0);
    if (message) {
        lv2_atom_forge_frame_time(&f, 0);
        lv2_atom_forge_object(&f, &of, 0,
                              host_map_uri(&h->map, path ? LV2_PATCH__Set : LV2_PATCH__Get));
        if (path) {
            lv2_atom_forge_key(&f, host_map_uri(&h->map, LV2_PATCH__property));
            lv2_atom_forge_urid(&f, host_map_uri(&h->map, HOST_URI "#model"));
            lv2_atom_forge_key(&f, host_map_uri(&h->map, LV2_PATCH__value));
            lv2_atom_forge_path(&f, path, (uint32_t)strlen(path));
        }
        lv2_atom_forge_pop(&f, &of);
    }
    lv2_atom_forge_pop(&f, &sf);
}

static void drive(LilvWorld *w, const char *uri, int rate, int channels, int seconds_x10,
                  const char *model_path) {
    Host h;
    int rc = host_open(&h, w, uri, rate, HOST_FEATURES_FULL, 8192, 1024);
    CHECK(rc == 0, "instantiate %s at %d: %d", uri, rate, rc);
    if (rc) return;
    Controls k = {1, 0, -1, 1, 0, 1, 1, 18};
    host_connect(&h, "enabled", &k.enabled);
    host_connect(&h, "freewheel", &k.freewheel);
    host_connect(&h, "latency", &k.latency);
    host_connect(&h, "amount", &k.amount);
    host_connect(&h, "mode", &k.mode);
    host_connect(&h, "hiband", &k.hiband);
    host_connect(&h, "strength", &k.strength);
    host_connect(&h, "max_atten", &k.max_atten);
    static AtomBuf control, notify;
    host_connect(&h, "control", &control);
    host_connect(&h, "notify", &notify);
    float *in[2], *out[2];
    for (int c = 0; c < channels; c++) {
        in[c] = calloc(8192, sizeof(float));
        out[c] = calloc(8192, sizeof(float));
        host_connect(&h, channels == 1 ? "in" : c ? "in_r" : "in_l", in[c]);
        host_connect(&h, channels == 1 ? "out" : c ? "out_r" : "out_l", out[c]);
    }
    lilv_instance_activate(h.instance);

    static const int sizes[] = {1, 7, 64, 256, 480, 1024, 8192};
    long total = (long)rate * seconds_x10 / 10, pos = 0;
    int bad = 0, iter = 0, restored = 0;
    double phase = 0;
    while (pos < total) {
        /* Change something every few blocks: mode, bypass, freewheel, the knobs. */
        if (iter % 5 == 0) {
            k.mode = (float)(rnd() % 3);
            k.enabled = (rnd() % 4) ? 1.0f : 0.0f;
            k.freewheel = (rnd() % 3) ? 0.0f : 1.0f;
            k.amount = (float)(rnd() % 101) / 100.0f;
            k.hiband = (float)(rnd() % 101) / 100.0f;
            k.strength = (float)(rnd() % 201) / 100.0f;
            k.max_atten = (float)(rnd() % 41);
        }
        /* Load the model twice: at 1/3 through state restore (replacing "no model"), at 2/3
         * through patch:Set on the control port (retiring a model, which the collect jobs
         * must then free).  Ask for the model with patch:Get now and then. */
        atom_fill(&h, &control, iter % 7 == 3, NULL);
        if (model_path && restored == 0 && pos > total / 3) {
            restore_path = model_path;
            restore_host = &h;
            h.state->restore(lilv_instance_get_handle(h.instance), retrieve_fn, NULL, 0,
                             h.features);
            restored++;
        } else if (model_path && restored == 1 && pos > total * 2 / 3) {
            atom_fill(&h, &control, 1, model_path);
            restored++;
        }
        notify.seq.atom.size = sizeof notify.room;
        notify.seq.atom.type = host_map_uri(&h.map, LV2_ATOM__Chunk);
        int n = iter % 3 == 2 ? 1 + (int)(rnd() % 8192) : sizes[(iter / 3) % 7];
        if (n > total - pos) n = (int)(total - pos);
        for (int i = 0; i < n; i++) {
            float s = 0.4f * (float)sin(phase) + 0.05f * ((float)(rnd() & 1023) / 512.0f - 1.0f);
            phase += 2 * M_PI * 330.0 / rate;
            for (int c = 0; c < channels; c++)
                in[c][i] = s;
        }
        audio_thread_call(&h, (uint32_t)n, k.freewheel > 0.5f);
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < n; i++)
                bad += !isfinite(out[c][i]) || fabsf(out[c][i]) > 4.0f;
        pos += n;
        iter++;
    }
    CHECK(bad == 0, "%s %d Hz: %d bad output samples", uri, rate, bad);
    CHECK(k.latency > 0, "%s %d Hz: latency %g", uri, rate, k.latency);
    CHECK(h.schedule_failures == 0, "%s: worker queue overflowed", uri);
    /* Without the atom ports (the default bundle) the patch:Set load cannot happen. */
    int expected = restored - (restored == 2 && host_port(&h, "control") < 0);
    if (model_path)
        CHECK(h.log_loads == expected, "%s: %d of %d model loads succeeded", uri, h.log_loads,
              expected);
    for (int c = 0; c < channels; c++) {
        free(in[c]);
        free(out[c]);
    }
    host_close(&h);
}

int main(int argc, char **argv) {
    int quick = argc > 1 && !strcmp(argv[1], "short");
    trap_set = (TrapSet)dlsym(RTLD_DEFAULT, "rt_trap_set");
    check_freewheel = getenv("RT_CHECK_FREEWHEEL") != NULL;
    TrapReport trap_report = (TrapReport)dlsym(RTLD_DEFAULT, "rt_trap_report");
    const char *model = getenv("MENHANCE_TEST_MODEL"); /* optional: a model to swap in */

    LilvWorld *w = host_world();
    if (quick) {
        drive(w, HOST_URI_MONO, 48000, 1, 5, model);
    } else {
        drive(w, HOST_URI_MONO, 44100, 1, 40, model);
        drive(w, HOST_URI_STEREO, 48000, 2, 40, model);
        drive(w, HOST_URI_STEREO, 96000, 2, 20, model);
    }
    lilv_world_free(w);
    /* The bundle with the model patch parameter (or without it, if the shipped one has it). */
    LilvWorld *alt = host_world_alt();
    if (alt) {
        drive(alt, HOST_URI_STEREO, 48000, 2, quick ? 5 : 20, model);
        lilv_world_free(alt);
    }

    if (trap_report) {
        char names[256];
        long v = trap_report(names, sizeof names);
        CHECK(v == 0, "%ld real-time violations in run()/work_response(): %s", v, names);
        printf("rt_trap: %ld violations\n", v);
    }
    return check_summary(trap_report ? "rt_host (trap)" : "rt_host");
}
