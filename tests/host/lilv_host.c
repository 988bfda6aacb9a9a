/* The plugin as hosts see it, loaded through lilv from build/menhance.lv2:
 * freewheeling (synchronous, deterministic) runs at four rates, mono and stereo, must equal a
 * whole-file run of the engine whatever the block sizes; the latency port must report the
 * engine's latency from the first run on and never change; in-place buffers must give what
 * separate ones give; hostile input must never turn into NaN/Inf or huge samples; bypass
 * must keep the latency, not click, and pass the input delayed by the latency; poor hosts
 * (no features, a NULL feature URI, unconnected controls) must work; state must tolerate
 * missing keys and missing model files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lv2/atom/forge.h>
#include <lv2/atom/util.h>
#include <lv2/patch/patch.h>

#include "engine/menhance.h"
#include "tests/check.h"
#include "tests/host/host_common.h"

#define MAX_CH 2

static unsigned rng = 2024u;
static unsigned rnd(void) {
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}
static float frand(void) {
    return (float)(rnd() & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

/* Music-like: partials with vibrato, a decaying pluck every 0.25 s, a little noise. */
static float *make_signal(int rate, int n, int channels) {
    float *x = calloc((size_t)n * channels, sizeof(float));
    for (int i = 0; i < n; i++) {
        double t = (double)i / rate, tp = fmod(t, 0.25);
        double s = 0.25 * sin(2 * M_PI * 220 * t + 2 * sin(2 * M_PI * 5 * t)) +
                   0.15 * sin(2 * M_PI * 660 * t) +
                   0.2 * exp(-tp * 30) * sin(2 * M_PI * 1500 * tp) +
                   0.04 * sin(2 * M_PI * 9000 * t) * (rate > 20000);
        for (int c = 0; c < channels; c++)
            x[(size_t)c * n + i] = (float)s * (c ? 0.8f : 1.0f) + 0.01f * frand();
    }
    return x;
}

typedef struct {
    float enabled, freewheel, latency, amount, mode, hiband, strength, max_atten;
    float noise, room, tone, listen, learn;
} Controls;

static Controls controls_default(void) {
    return (Controls){1, 1, -1, 1, 0, 1, 0.5f, 6, 1, 1, 1, 0, 0}; /* the TTL defaults */
}

static const char *in_sym(int channels, int c) {
    return channels == 1 ? "in" : c ? "in_r" : "in_l";
}
static const char *out_sym(int channels, int c) {
    return channels == 1 ? "out" : c ? "out_r" : "out_l";
}

static void connect_controls(Host *h, Controls *k) {
    host_connect(h, "enabled", &k->enabled);
    host_connect(h, "freewheel", &k->freewheel);
    host_connect(h, "latency", &k->latency);
    host_connect(h, "amount", &k->amount);
    host_connect(h, "mode", &k->mode);
    host_connect(h, "hiband", &k->hiband);
    host_connect(h, "strength", &k->strength);
    host_connect(h, "max_atten", &k->max_atten);
    host_connect(h, "noise", &k->noise);
    host_connect(h, "room", &k->room);
    host_connect(h, "tone", &k->tone);
    host_connect(h, "listen_removed", &k->listen);
    host_connect(h, "learn_noise", &k->learn);
}

/* One run of the plugin over x (planar, C x n) into y.  block > 0: fixed size; 0: random
 * sizes 1..8192.  inplace: the host copies the input into the output buffer and connects
 * both ports to it (what Ardour does).  schedule(k, pos) may change controls before each
 * block.  Returns the latency reported after the first run, or -1; *lat_const says whether
 * it never changed afterwards. */
typedef void (*ControlSchedule)(Controls *k, int pos, int rate);

typedef struct {
    int rate, channels, kind, block, inplace, connect_controls;
    Controls k;
    ControlSchedule schedule;
} RunSpec;

/* What the test host announces as bufsz:maxBlockLength. */
static int announced_max_block = 8192;

static int run_plugin(LilvWorld *w, const RunSpec *rs, const float *x, int n, float *y,
                      int *lat_const, Host *keep) {
    Host host, *h = keep ? keep : &host;
    const char *uri = rs->channels == 1 ? HOST_URI_MONO : HOST_URI_STEREO;
    if (host_open(h, w, uri, rs->rate, rs->kind, announced_max_block, 1024)) return -1;
    /* A kept instance keeps pointing at its controls after we return. */
    static Controls kept;
    Controls local, *kp = keep ? &kept : &local;
    *kp = rs->k;
    if (rs->connect_controls) connect_controls(h, kp);
    lilv_instance_activate(h->instance);
    float *buf[MAX_CH] = {NULL, NULL};
    for (int c = 0; c < rs->channels; c++)
        buf[c] = malloc(sizeof(float) * 8192);
    int first = -1;
    *lat_const = 1;
    for (int pos = 0; pos < n;) {
        int b = rs->block > 0 ? rs->block : 1 + (int)(rnd() % 8192);
        if (b > n - pos) b = n - pos;
        if (rs->schedule) rs->schedule(kp, pos, rs->rate);
        for (int c = 0; c < rs->channels; c++) {
            float *out = rs->inplace ? buf[c] : y + (size_t)c * n + pos;
            const float *in = rs->inplace ? buf[c] : x + (size_t)c * n + pos;
            if (rs->inplace) memcpy(buf[c], x + (size_t)c * n + pos, sizeof(float) * b);
            host_connect(h, in_sym(rs->channels, c), (void *)in);
            host_connect(h, out_sym(rs->channels, c), out);
        }
        lilv_instance_run(h->instance, (uint32_t)b);
        if (rs->inplace)
            for (int c = 0; c < rs->channels; c++)
                memcpy(y + (size_t)c * n + pos, buf[c], sizeof(float) * b);
        host_worker_work(h);
        host_worker_respond(h);
        if (first < 0)
            first = (int)kp->latency;
        else if ((int)kp->latency != first)
            *lat_const = 0;
        pos += b;
    }
    for (int c = 0; c < rs->channels; c++)
        free(buf[c]);
    if (!keep) host_close(h);
    return first;
}

/* The reference: the engine itself, the whole signal in one call, synchronous, with the
 * same model and block configuration the plugin gets. */
static int run_reference_k(int rate, int channels, const Controls *k, const float *x, int n,
                           float *y) {
    char err[256], path[2048];
    menhance_model *m = NULL;
    if (menhance_default_model_path(path, sizeof path))
        m = menhance_model_load(path, err, sizeof err);
    menhance_config cfg = {rate, channels, n, 1024, 0};
    menhance *e = menhance_create(&cfg, m, err, sizeof err);
    if (!e) return -1;
    menhance_params p;
    menhance_params_default(&p);
    p.synchronous = 1;
    p.mode = (int)k->mode;
    p.amount = k->amount;
    p.hiband = k->hiband;
    p.strength = k->strength;
    p.max_atten_db = k->max_atten;
    p.noise = k->noise;
    p.room = k->room;
    p.tone = k->tone;
    p.listen_removed = k->listen > 0.5f;
    menhance_set_params(e, &p);
    const float *in[MAX_CH] = {x, channels > 1 ? x + n : NULL};
    float *out[MAX_CH] = {y, channels > 1 ? y + n : NULL};
    menhance_process(e, in, out, n);
    int lat = menhance_latency(e);
    menhance_destroy(e);
    return lat;
}

static int run_reference(int rate, int channels, int mode, const float *x, int n, float *y) {
    Controls k = controls_default();
    k.mode = (float)mode;
    return run_reference_k(rate, channels, &k, x, n, y);
}

static double max_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double v = fabs((double)a[i] - b[i]);
        if (!(v <= d)) d = v; /* NaN counts as a difference */
    }
    return d;
}

static int all_sane(const float *y, size_t n, float bound) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i]) || fabsf(y[i]) > bound) {
            fprintf(stderr, "  sample %zu: %g\n", i, y[i]);
            return 0;
        }
    return 1;
}

/* Block-size invariance, latency and in-place at one rate, width and mode. */
static void test_invariance(LilvWorld *w, int rate, int channels, int mode) {
    int n = rate * 3 / 4;
    float *x = make_signal(rate, n, channels);
    float *ref = calloc((size_t)n * channels, sizeof(float));
    float *y = calloc((size_t)n * channels, sizeof(float));
    /* mode 2 without a vocoder past its quality gate runs mode 1, as the CLI does */
    char mpath[2048];
    int ref_mode = mode;
    if (mode == MENHANCE_MODE_MEL2MEL_VOCODER &&
        !(menhance_default_model_path(mpath, sizeof mpath) && menhance_vocoder_gate_passed(mpath)))
        ref_mode = MENHANCE_MODE_MEL2MEL;
    int lat_ref = run_reference(rate, channels, ref_mode, x, n, ref);
    CHECK(lat_ref > 0, "reference engine at %d Hz", rate);
    Controls k = controls_default();
    k.mode = (float)mode;
    const int blocks[] = {1, 7, 64, 480, 1024, 8192, 0};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        RunSpec rs = {rate, channels, HOST_FEATURES_FULL, blocks[b], 0, 1, k, NULL};
        int lat_const;
        int lat = run_plugin(w, &rs, x, n, y, &lat_const, NULL);
        CHECK(lat == lat_ref, "%d Hz %dch mode %d block %d: latency port %d, engine %d", rate,
              channels, mode, blocks[b], lat, lat_ref);
        CHECK(lat_const, "%d Hz %dch mode %d block %d: latency changed during the run", rate,
              channels, mode, blocks[b]);
        double d = max_diff(ref, y, (size_t)n * channels);
        CHECK(d < 1e-6, "%d Hz %dch mode %d block %d: max diff to whole-file run %g", rate,
              channels, mode, blocks[b], d);
    }
    /* In place (Ardour) against separate buffers, odd blocks. */
    float *y2 = calloc((size_t)n * channels, sizeof(float));
    RunSpec rs = {rate, channels, HOST_FEATURES_FULL, 480, 0, 1, k, NULL};
    int lc;
    run_plugin(w, &rs, x, n, y, &lc, NULL);
    rs.inplace = 1;
    run_plugin(w, &rs, x, n, y2, &lc, NULL);
    CHECK(max_diff(y, y2, (size_t)n * channels) == 0.0, "%d Hz %dch mode %d: in-place differs",
          rate, channels, mode);
    free(y2);
    free(x);
    free(ref);
    free(y);
}

/* Hostile input: NaN, infinities, denormals, full-scale square and Nyquist, silence. */
static void test_hostile(LilvWorld *w, int channels) {
    const int rate = 48000, seg = rate / 5, n = seg * 8;
    float *x = calloc((size_t)n * channels, sizeof(float));
    for (int c = 0; c < channels; c++) {
        float *xc = x + (size_t)c * n;
        for (int i = 0; i < seg; i++) {
            xc[i] = 0.0f;                                       /* silence */
            xc[seg + i] = (i % 97 == 3) ? NAN : 0.3f * frand(); /* NaN sprinkled */
            xc[2 * seg + i] = (i & 1) ? INFINITY : -INFINITY;   /* infinities */
            xc[3 * seg + i] = 1e-40f * (i & 1 ? 1 : -1);        /* denormals */
            xc[4 * seg + i] = ((i / 24) & 1) ? 1.0f : -1.0f;    /* full-scale 1 kHz square */
            xc[5 * seg + i] = (i & 1) ? 1.0f : -1.0f;           /* full-scale Nyquist */
            xc[6 * seg + i] = (i % 500 == 0) ? 1.0f : 0.0f;     /* impulses */
            xc[7 * seg + i] = 0.5f * (float)sin(2 * M_PI * 440.0 * i / rate); /* recovery */
        }
    }
    float *y = calloc((size_t)n * channels, sizeof(float));
    for (int mode = 0; mode < 3; mode++) {
        Controls k = controls_default();
        k.mode = (float)mode;
        k.strength = 2.0f;
        k.max_atten = 40.0f;
        RunSpec rs = {rate, channels, HOST_FEATURES_FULL, 256, 1, 1, k, NULL};
        int lc;
        int lat = run_plugin(w, &rs, x, n, y, &lc, NULL);
        CHECK(lat > 0 && lc, "hostile: latency %d", lat);
        /* Everything stays finite and within the engine's +18 dBFS limit; the infinities
         * are clamped to it, everything that went in at or below full scale stays within
         * 12 dBFS. */
        CHECK(all_sane(y, (size_t)n * channels, 8.0f), "hostile %dch mode %d: NaN/Inf or |y|>8",
              channels, mode);
        for (int c = 0; c < channels; c++) {
            const float *yc = y + (size_t)c * n;
            int inf_from = lat + 2 * seg - 1000, inf_to = lat + 3 * seg + 1000;
            CHECK(all_sane(yc, inf_from, 4.0f) && all_sane(yc + inf_to, n - inf_to, 4.0f),
                  "hostile %dch mode %d: |y| > 4 outside the infinities", channels, mode);
        }
        /* The sine at the end must come through once the junk has passed. */
        double e = 0;
        for (int i = n - seg / 2; i < n; i++)
            e += (double)y[i] * y[i];
        e /= seg / 2;
        CHECK(e > 0.01, "hostile %dch mode %d: no recovery (power %g)", channels, mode, e);
    }
    free(x);
    free(y);
}

/* Deactivate and re-activate mid-signal (a transport restart, a plugin toggled off and on): silent
 * (under -80 dBFS) for the latency, then no sample-to-sample step larger than the signal's own. */
static void test_reactivate(LilvWorld *w, float enabled, float amount) {
    const int rate = 48000, n = rate, half = 512 * 47;
    Host h;
    if (host_open(&h, w, HOST_URI_MONO, rate, HOST_FEATURES_FULL, 8192, 1024)) {
        CHECK(0, "instantiate for re-activation");
        return;
    }
    Controls k = controls_default();
    k.mode = MENHANCE_MODE_MEL2MEL; /* the plugin's default: it starts by passing the input */
    k.enabled = enabled;
    k.amount = amount;
    connect_controls(&h, &k);
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++)
        x[i] = (float)(0.19 * sin(2 * M_PI * 1000.0 * i / rate + 1.0));
    lilv_instance_activate(h.instance);
    for (int pos = 0; pos < n; pos += 512) {
        if (pos == half) {
            lilv_instance_deactivate(h.instance);
            lilv_instance_activate(h.instance);
        }
        int b = n - pos < 512 ? n - pos : 512;
        host_connect(&h, "in", x + pos);
        host_connect(&h, "out", y + pos);
        lilv_instance_run(h.instance, (uint32_t)b);
        host_worker_work(&h);
        host_worker_respond(&h);
    }
    /* No step in the output after re-activation larger than the input's own largest step (a
     * model's gains may lift or cut the settled output; a click is what exceeds the input). */
    double own = 0.0, out_step = 0.0, quiet = 0.0;
    for (int i = 1; i < n; i++)
        own = fmax(own, fabs(x[i] - x[i - 1]));
    for (int i = half + 1; i < n; i++)
        out_step = fmax(out_step, fabs(y[i] - y[i - 1]));
    for (int i = half; i < half + (int)k.latency; i++)
        quiet = fmax(quiet, fabs(y[i]));
    CHECK(quiet < 1e-4,
          "re-activation (enabled %.0f, amount %.1f): not silent for the latency (%g)", enabled,
          amount, quiet);
    CHECK(out_step <= own * 1.001,
          "re-activation (enabled %.0f, amount %.1f): step %.4f, the signal's own largest %.4f",
          enabled, amount, out_step, own);
    printf("re-activation (enabled %.0f, amount %.1f): largest step %.4f (the signal's own %.4f)\n",
           enabled, amount, out_step, own);
    host_close(&h);
    free(x);
    free(y);
}

/* Bypass through lv2:enabled: on for 0.5 s, off for 0.5 s, on again. */
static void bypass_schedule(Controls *k, int pos, int rate) {
    k->enabled = (pos >= rate / 2 && pos < rate) ? 0.0f : 1.0f;
}

static void test_bypass(LilvWorld *w, int channels) {
    const int rate = 48000, n = rate * 3 / 2;
    float *x = make_signal(rate, n, channels);
    float *y = calloc((size_t)n * channels, sizeof(float));
    Controls k = controls_default();
    k.strength = 1.5f; /* make processing audible so a switch would show */
    RunSpec rs = {rate, channels, HOST_FEATURES_FULL, 256, 1, 1, k, bypass_schedule};
    int lc;
    int L = run_plugin(w, &rs, x, n, y, &lc, NULL);
    CHECK(L > 0 && lc, "bypass: latency %d, constant %d", L, lc);
    if (L <= 0) goto out;
    for (int c = 0; c < channels; c++) {
        const float *xc = x + (size_t)c * n, *yc = y + (size_t)c * n;
        /* Bypassed and settled: the input delayed by the latency, exactly. */
        double d = 0;
        for (int i = rate / 2 + rate / 20; i < rate; i++)
            d = fmax(d, fabs(yc[i] - xc[i - L]));
        CHECK(d < 1e-6, "bypass ch%d: output != input delayed by %d (max diff %g)", c, L, d);
        /* No click: around each switch, the largest step between samples stays within what
         * the signal does anyway (steady state before the first switch and at the end). */
        double steady = 0, sw = 0;
        for (int i = L + rate / 10; i < rate / 2 - rate / 50; i++)
            steady = fmax(steady, fabs(yc[i] - yc[i - 1]));
        for (int i = n - rate / 5; i < n; i++)
            steady = fmax(steady, fabs(yc[i] - yc[i - 1]));
        const int at[2] = {rate / 2, rate};
        for (int s = 0; s < 2; s++)
            for (int i = at[s] - rate / 50; i < at[s] + rate / 20; i++)
                sw = fmax(sw, fabs(yc[i] - yc[i - 1]));
        CHECK(sw <= 1.2 * steady + 1e-3, "bypass ch%d: click, step %g vs steady %g", c, sw, steady);
    }
out:
    free(x);
    free(y);
}

/* Poor hosts: no features (lv2apply), a NULL feature URI (lv2file), no control ports. */
static void test_poor_hosts(LilvWorld *w) {
    const int rate = 48000, n = rate / 2;
    float *x = make_signal(rate, n, 1);
    float *ref = calloc(n, sizeof(float)), *y = calloc(n, sizeof(float));
    int lat_ref = run_reference(rate, 1, MENHANCE_MODE_CLASSICAL, x, n, ref);
    const int kinds[2] = {HOST_FEATURES_NONE, HOST_FEATURES_NULL_URI};
    for (int i = 0; i < 2; i++) {
        RunSpec rs = {rate, 1, kinds[i], 7, 0, 1, controls_default(), NULL};
        int lc;
        int lat = run_plugin(w, &rs, x, n, y, &lc, NULL);
        CHECK(lat == lat_ref && lc, "features kind %d: latency %d, want %d", kinds[i], lat,
              lat_ref);
        CHECK(max_diff(ref, y, n) < 1e-6, "features kind %d: output differs", kinds[i]);
    }
    /* A host announcing an absurd maximum block, then running blocks larger than 8192. */
    announced_max_block = 1 << 24;
    RunSpec big = {rate, 1, HOST_FEATURES_FULL, 20000, 0, 1, controls_default(), NULL};
    int lcb;
    int latb = run_plugin(w, &big, x, n, y, &lcb, NULL);
    announced_max_block = 8192;
    CHECK(latb == lat_ref && lcb, "maxBlockLength 2^24: latency %d, want %d", latb, lat_ref);
    CHECK(max_diff(ref, y, n) < 1e-6, "maxBlockLength 2^24, 20000-sample blocks: output differs");
    /* Controls unconnected: defaults, live (not freewheeling) mode, output must be sane. */
    RunSpec rs = {rate, 1, HOST_FEATURES_NULL_URI, 256, 0, 0, controls_default(), NULL};
    int lc;
    run_plugin(w, &rs, x, n, y, &lc, NULL);
    CHECK(all_sane(y, n, 4.0f), "unconnected controls: output not sane");
    /* Unsupported rates are refused at instantiate, not crashed on. */
    Host h;
    CHECK(host_open(&h, w, HOST_URI_MONO, 4000, HOST_FEATURES_FULL, 8192, 1024) == -2,
          "4 kHz should be refused");
    host_close(&h);
    free(x);
    free(ref);
    free(y);
}

/* State.  The test host's retrieve function serves one atom:Path value (or nothing). */
/* How the host sizes the path it hands to restore(): lilv counts the terminating NUL, Carla
 * does not, and a host may hand over bytes with no NUL inside the size at all. */
enum { SIZE_WITH_NUL, SIZE_WITHOUT_NUL, SIZE_UNTERMINATED };

typedef struct {
    Host *h;
    const char *path;
    const char *profile_in; /* served as the noise-floor key, or NULL */
    char profile[8192];     /* the noise floor saved, "" if none */
    const char *tone_in;    /* served as the Tone-verdict key, or NULL */
    char tone[4096];        /* the Tone verdict saved, "" if none */
    char saved[2048];
    int stores;
    int size_kind;
    char unterminated[2048 + 8]; /* the path, then no NUL within the size */
} StateBox;

static const void *retrieve_fn(LV2_State_Handle handle, uint32_t key, size_t *size, uint32_t *type,
                               uint32_t *flags) {
    StateBox *b = (StateBox *)handle;
    if (b->profile_in && key == host_map_uri(&b->h->map, HOST_URI "#noiseProfile")) {
        *size = strlen(b->profile_in) + 1;
        *type = host_map_uri(&b->h->map, LV2_ATOM__String);
        *flags = LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE;
        return b->profile_in;
    }
    if (b->tone_in && key == host_map_uri(&b->h->map, HOST_URI "#toneProfile")) {
        *size = strlen(b->tone_in) + 1;
        *type = host_map_uri(&b->h->map, LV2_ATOM__String);
        *flags = LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE;
        return b->tone_in;
    }
    if (!b->path || key != host_map_uri(&b->h->map, HOST_URI "#model")) return NULL;
    *size = strlen(b->path) + (b->size_kind == SIZE_WITH_NUL);
    *type = host_map_uri(&b->h->map, LV2_ATOM__Path);
    *flags = LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE;
    if (b->size_kind == SIZE_UNTERMINATED) {
        /* Junk right after the size: a plugin that reads past it loads the wrong file. */
        size_t n = strlen(b->path);
        memcpy(b->unterminated, b->path, n);
        memcpy(b->unterminated + n, "JUNK", 5);
        return b->unterminated;
    }
    return b->path;
}

static LV2_State_Status store_fn(LV2_State_Handle handle, uint32_t key, const void *value,
                                 size_t size, uint32_t type, uint32_t flags) {
    StateBox *b = (StateBox *)handle;
    (void)flags;
    if (key == host_map_uri(&b->h->map, HOST_URI "#noiseProfile")) {
        if (type != host_map_uri(&b->h->map, LV2_ATOM__String) || size > sizeof b->profile)
            return LV2_STATE_ERR_BAD_TYPE;
        memcpy(b->profile, value, size);
        return LV2_STATE_SUCCESS;
    }
    if (key == host_map_uri(&b->h->map, HOST_URI "#toneProfile")) {
        if (type != host_map_uri(&b->h->map, LV2_ATOM__String) || size > sizeof b->tone)
            return LV2_STATE_ERR_BAD_TYPE;
        memcpy(b->tone, value, size);
        return LV2_STATE_SUCCESS;
    }
    if (key != host_map_uri(&b->h->map, HOST_URI "#model") ||
        type != host_map_uri(&b->h->map, LV2_ATOM__Path) || size > sizeof b->saved)
        return LV2_STATE_ERR_BAD_TYPE;
    memcpy(b->saved, value, size);
    b->stores++;
    return LV2_STATE_SUCCESS;
}

static void worker_cycles(Host *h, int n) {
    for (int i = 0; i < n; i++) {
        lilv_instance_run(h->instance, 512);
        host_worker_work(h);
        host_worker_respond(h);
    }
}

/* The model path handed to restore() with and without its NUL counted in the size (lilv,
 * Carla) and with no NUL within the size at all: each must load that very file (a name of
 * its own, so a load that failed or read past the size shows in what save() stores). */
static void test_restore_sizes(Host *h, StateBox *b, const char *model) {
    char dir[64] = "/tmp/menhance-restore-test-XXXXXX", link[3][128];
    if (!mkdtemp(dir)) return;
    static const char *const kinds[3] = {"size with NUL", "size without NUL", "no NUL in size"};
    LV2_Handle inst = lilv_instance_get_handle(h->instance);
    for (int k = 0; k < 3; k++) {
        snprintf(link[k], sizeof link[k], "%s/model-%d.safetensors", dir, k);
        CHECK(symlink(model, link[k]) == 0, "symlink %s", link[k]);
        b->path = link[k];
        b->size_kind = k;
        int errors = h->log_errors;
        LV2_State_Status st = h->state->restore(inst, retrieve_fn, b, 0, h->features);
        worker_cycles(h, 20);
        b->saved[0] = 0;
        h->state->save(inst, store_fn, b, 0, h->features);
        CHECK(st == LV2_STATE_SUCCESS && h->log_errors == errors && !strcmp(b->saved, link[k]),
              "restore, %s: status %d, %d errors logged, then saved '%s', want '%s'", kinds[k], st,
              h->log_errors - errors, b->saved, link[k]);
        unlink(link[k]);
    }
    b->size_kind = SIZE_WITH_NUL;
    rmdir(dir);
}

/* Learn noise: on over 1 s of noise, then off; the floor learnt is saved with the state (256
 * numbers as text), restored into a fresh instance it saves the same text, and a damaged one
 * is refused with a message while the plugin keeps running. */
static void learn_first_second(Controls *k, int pos, int rate) {
    k->learn = pos < rate ? 1.0f : 0.0f;
}

static void test_learn_noise(LilvWorld *w) {
    const int rate = 48000, n = 2 * rate;
    float *x = malloc(sizeof(float) * (size_t)n * 2), *y = calloc((size_t)n * 2, sizeof(float));
    for (int i = 0; i < 2 * n; i++)
        x[i] = 0.02f * frand();
    Host h;
    RunSpec rs = {rate, 2, HOST_FEATURES_FULL, 512, 0, 1, controls_default(), learn_first_second};
    int lc;
    CHECK(run_plugin(w, &rs, x, n, y, &lc, &h) > 0, "learn noise: plugin runs");
    if (!h.state) {
        host_close(&h);
        free(x);
        free(y);
        return;
    }
    LV2_Handle inst = lilv_instance_get_handle(h.instance);
    StateBox b = {.h = &h};
    CHECK(h.state->save(inst, store_fn, &b, 0, h.features) == LV2_STATE_SUCCESS, "learn: save");
    int count = 0;
    for (char *p = b.profile, *end; *p; p = end) {
        float v = strtof(p, &end);
        if (end == p || !isfinite(v)) break;
        count++;
    }
    CHECK(count == 256, "learn: the saved floor holds %d numbers, want 256", count);
    host_close(&h);

    /* into a fresh instance: the same floor comes back out */
    Host h2;
    RunSpec rs2 = {rate, 2, HOST_FEATURES_FULL, 512, 0, 1, controls_default(), NULL};
    CHECK(run_plugin(w, &rs2, x, rate / 4, y, &lc, &h2) > 0, "learn: second instance runs");
    inst = lilv_instance_get_handle(h2.instance);
    StateBox b2 = {.h = &h2, .profile_in = b.profile};
    CHECK(h2.state->restore(inst, retrieve_fn, &b2, 0, h2.features) == LV2_STATE_SUCCESS,
          "learn: restore");
    float out[2][512], zero[512] = {0};
    host_connect(&h2, "in_l", zero);
    host_connect(&h2, "in_r", zero);
    host_connect(&h2, "out_l", out[0]);
    host_connect(&h2, "out_r", out[1]);
    worker_cycles(&h2, 4); /* the floor is taken at the next 16 kHz chunk */
    StateBox b3 = {.h = &h2};
    h2.state->save(inst, store_fn, &b3, 0, h2.features);
    CHECK(count == 256 && !strcmp(b3.profile, b.profile), "learn: restored floor saved back %s",
          b3.profile[0] ? "changed" : "missing");
    /* a value that ends in a newline (a hand-edited session file) is the same floor */
    char nl[sizeof b.profile + 2];
    snprintf(nl, sizeof nl, "%s\n", b.profile);
    StateBox bnl = {.h = &h2, .profile_in = nl};
    CHECK(h2.state->restore(inst, retrieve_fn, &bnl, 0, h2.features) == LV2_STATE_SUCCESS,
          "learn: a floor ending in a newline refused");
    /* damaged: refused, logged once, the plugin runs on */
    int errors = h2.log_errors;
    StateBox bad = {.h = &h2, .profile_in = "1 2 3 nonsense"};
    CHECK(h2.state->restore(inst, retrieve_fn, &bad, 0, h2.features) != LV2_STATE_SUCCESS,
          "learn: a damaged floor accepted");
    CHECK(h2.log_errors == errors + 1 && strstr(h2.last_log, "damaged"),
          "learn: a damaged floor: '%s'", h2.last_log);
    worker_cycles(&h2, 4);
    CHECK(all_sane(out[0], 512, 4.0f), "learn: output after a damaged floor");
    host_close(&h2);
    free(x);
    free(y);
}

static void test_state(LilvWorld *w) {
    const int rate = 48000, n = rate / 4;
    float *x = make_signal(rate, n, 2), *y = calloc((size_t)n * 2, sizeof(float));
    Host h;
    RunSpec rs = {rate, 2, HOST_FEATURES_FULL, 512, 0, 1, controls_default(), NULL};
    int lc;
    CHECK(run_plugin(w, &rs, x, n, y, &lc, &h) > 0, "state: plugin runs");
    CHECK(h.state != NULL, "state interface missing");
    if (!h.state) goto out;
    LV2_Handle inst = lilv_instance_get_handle(h.instance);

    /* Save: the model path if a model is in use, nothing otherwise. */
    StateBox b = {.h = &h};
    char def[2048];
    int have_default = menhance_default_model_path(def, sizeof def);
    CHECK(h.state->save(inst, store_fn, &b, 0, h.features) == LV2_STATE_SUCCESS, "save");
    if (have_default)
        CHECK(b.stores == 1 && !strcmp(b.saved, def), "save: stored '%s', want '%s'", b.saved, def);
    else
        CHECK(b.stores == 0, "save without a model stored %d values", b.stores);

    /* Restore without the key (a preset, as jalv does): success, nothing logged as error. */
    int errors = h.log_errors;
    CHECK(h.state->restore(inst, retrieve_fn, &b, 0, h.features) == LV2_STATE_SUCCESS,
          "restore without key");
    CHECK(h.log_errors == errors, "restore without key logged an error");

    /* Restore a missing file: logged, the plugin keeps its model and keeps running. */
    b.path = "/nonexistent/menhance-model.safetensors";
    LV2_State_Status st = h.state->restore(inst, retrieve_fn, &b, 0, h.features);
    CHECK(st == LV2_STATE_SUCCESS, "restore of a missing file returned %d", st);
    float out[2][512], zero[512] = {0};
    host_connect(&h, "in_l", zero);
    host_connect(&h, "in_r", zero);
    host_connect(&h, "out_l", out[0]);
    host_connect(&h, "out_r", out[1]);
    for (int i = 0; i < 4; i++) {
        lilv_instance_run(h.instance, 512);
        host_worker_work(&h);
        host_worker_respond(&h);
    }
    CHECK(h.log_errors == errors + 1, "a missing model file: %d errors logged, want 1",
          h.log_errors - errors);
    /* one message: the path once, and the system's reason */
    const char *msg = h.last_log, *first = strstr(msg, b.path);
    CHECK(first && !strstr(first + 1, b.path) && strstr(msg, "No such file"),
          "missing model message: '%s'", msg);
    CHECK(all_sane(out[0], 512, 4.0f), "output after failed restore");
    b.stores = 0;
    b.saved[0] = 0;
    h.state->save(inst, store_fn, &b, 0, h.features);
    /* the project's choice survives the failed load: the next save writes it again */
    CHECK(b.stores == 1 && !strcmp(b.saved, b.path),
          "after a failed load the saved path is '%s', want the project's '%s'", b.saved, b.path);

    /* A real model file, if one is installed: loads through the worker, then saves. */
    if (have_default) {
        b.path = def;
        CHECK(h.state->restore(inst, retrieve_fn, &b, 0, h.features) == LV2_STATE_SUCCESS,
              "restore of the default model");
        for (int i = 0; i < 200; i++) { /* also drives the collect jobs */
            lilv_instance_run(h.instance, 512);
            host_worker_work(&h);
            host_worker_respond(&h);
        }
        b.saved[0] = 0;
        h.state->save(inst, store_fn, &b, 0, h.features);
        CHECK(!strcmp(b.saved, def), "after restore, saved '%s'", b.saved);
        test_restore_sizes(&h, &b, def);
    }
    CHECK(h.schedule_failures == 0, "worker queue overflowed");
out:
    host_close(&h);
    free(x);
    free(y);
}

/* Factory presets.  What presets.ttl says (parsed here as text, independently of lilv) must
 * be what a host applies: each preset is loaded with lilv_state and restored into an
 * instance, and every value must reach its port as an atom:Float, the only type hosts such
 * as lv2file set control ports from (Turtle reads "1" as an integer, which lilv hands over as
 * an atom:Int, so an integer-looking value would be skipped there). */
#define MAX_PRESETS 16
#define MAX_PRESET_PORTS 12
typedef struct {
    char uri[256], sym[MAX_PRESET_PORTS][32];
    double want[MAX_PRESET_PORTS];
    int n, set[MAX_PRESET_PORTS];
} PresetText;

static int presets_parse(const char *path, PresetText *p, int max) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512], uri_prefix[128];
    snprintf(uri_prefix, sizeof uri_prefix, "<%s/presets#", HOST_URI);
    int n = -1;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, uri_prefix, strlen(uri_prefix)) && n + 1 < max) {
            n++;
            memset(&p[n], 0, sizeof p[n]);
            snprintf(p[n].uri, sizeof p[n].uri, "%.*s", (int)strcspn(line + 1, ">"), line + 1);
        }
        const char *sym = strstr(line, "lv2:symbol \""), *val = strstr(line, "pset:value ");
        if (n < 0 || !sym || !val || p[n].n == MAX_PRESET_PORTS) continue;
        sym += strlen("lv2:symbol \"");
        PresetText *q = &p[n];
        snprintf(q->sym[q->n], sizeof q->sym[q->n], "%.*s", (int)strcspn(sym, "\""), sym);
        q->want[q->n++] = strtod(val + strlen("pset:value "), NULL);
    }
    fclose(f);
    return n + 1;
}

typedef struct {
    Host *h;
    PresetText *p;
    int wrong_type;
} PresetApply;

static void preset_set_value(const char *sym, void *user, const void *value, uint32_t size,
                             uint32_t type) {
    PresetApply *a = (PresetApply *)user;
    if (type != host_map_uri(&a->h->map, LV2_ATOM__Float) || size != sizeof(float)) {
        fprintf(stderr, "  preset %s: port %s arrives as %s\n", a->p->uri, sym,
                host_unmap_uri(&a->h->map, type));
        a->wrong_type++;
        return;
    }
    for (int i = 0; i < a->p->n; i++)
        if (!strcmp(a->p->sym[i], sym))
            a->p->set[i] += fabs(*(const float *)value - a->p->want[i]) < 1e-6;
}

static void test_presets(LilvWorld *w) {
    char path[2048];
    const char *bundle = getenv("MENHANCE_LV2_BUNDLE");
    snprintf(path, sizeof path, "%s/presets.ttl", bundle ? bundle : HOST_BUNDLE);
    static PresetText p[MAX_PRESETS];
    int n = presets_parse(path, p, MAX_PRESETS);
    CHECK(n >= 6, "%s: %d presets parsed, want at least 6", path, n);
    static const char *const controls[] = {"amount",    "mode",  "hiband", "strength",
                                           "max_atten", "noise", "room",   "tone"};
    const int nuser = (int)(sizeof controls / sizeof controls[0]);
    for (int c = 1; c <= 2; c++) {
        Host h;
        if (host_open(&h, w, c == 1 ? HOST_URI_MONO : HOST_URI_STEREO, 48000, HOST_FEATURES_FULL,
                      8192, 1024)) {
            CHECK(0, "instantiate for presets");
            continue;
        }
        for (int i = 0; i < n; i++) {
            PresetText *q = &p[i];
            memset(q->set, 0, sizeof q->set);
            /* Every user control, and nothing else (never enabled or freewheel). */
            int users = 0;
            for (int k = 0; k < q->n; k++)
                for (size_t u = 0; u < sizeof controls / sizeof controls[0]; u++)
                    users += !strcmp(q->sym[k], controls[u]);
            CHECK(q->n == nuser && users == nuser,
                  "preset %s sets %d controls, %d of the %d user ones", q->uri, q->n, users, nuser);
            LilvNode *node = lilv_new_uri(w, q->uri);
            lilv_world_load_resource(w, node);
            LilvState *st = lilv_state_new_from_world(w, &h.map_feature, node);
            lilv_node_free(node);
            CHECK(st != NULL, "preset %s: lilv_state_new_from_world failed", q->uri);
            if (!st) continue;
            PresetApply a = {&h, q, 0};
            lilv_state_restore(st, h.instance, preset_set_value, &a, 0, h.features);
            lilv_state_free(st);
            CHECK(a.wrong_type == 0, "preset %s: %d values not atom:Float", q->uri, a.wrong_type);
            for (int k = 0; k < q->n; k++)
                CHECK(q->set[k] == 1, "preset %s: %s = %g not applied", q->uri, q->sym[k],
                      q->want[k]);
        }
        host_close(&h);
    }
}

/* Hosts show doap:maintainer's foaf:name as the plugin's maker (Carla: "Maker"). */
static void test_maker(LilvWorld *w) {
    for (int c = 1; c <= 2; c++) {
        LilvNode *u = lilv_new_uri(w, c == 1 ? HOST_URI_MONO : HOST_URI_STEREO);
        const LilvPlugin *p = lilv_plugins_get_by_uri(lilv_world_get_all_plugins(w), u);
        lilv_node_free(u);
        LilvNode *name = p ? lilv_plugin_get_author_name(p) : NULL;
        const char *s = name ? lilv_node_as_string(name) : "(none)";
        CHECK(!strcmp(s, "menhance developers"), "plugin %d: author/maker '%s'", c, s);
        lilv_node_free(name);
    }
}

/* Patch messages: the model file as a writable parameter.  The host sends patch:Set on the
 * control port; the plugin loads it through the worker and answers patch:Set on notify. */
typedef struct {
    LV2_Atom_Sequence seq;
    uint8_t room[8192];
} AtomBuf;

static void atom_empty(Host *h, AtomBuf *b) {
    b->seq.atom.size = sizeof(LV2_Atom_Sequence_Body);
    b->seq.atom.type = host_map_uri(&h->map, LV2_ATOM__Sequence);
    b->seq.body.unit = 0;
    b->seq.body.pad = 0;
}

static void atom_patch(Host *h, AtomBuf *b, const char *path) {
    LV2_Atom_Forge f;
    lv2_atom_forge_init(&f, &h->map_feature);
    lv2_atom_forge_set_buffer(&f, (uint8_t *)b, sizeof *b);
    LV2_Atom_Forge_Frame sf, of;
    lv2_atom_forge_sequence_head(&f, &sf, 0);
    lv2_atom_forge_frame_time(&f, 0);
    if (path) {
        lv2_atom_forge_object(&f, &of, 0, host_map_uri(&h->map, LV2_PATCH__Set));
        lv2_atom_forge_key(&f, host_map_uri(&h->map, LV2_PATCH__property));
        lv2_atom_forge_urid(&f, host_map_uri(&h->map, HOST_URI "#model"));
        lv2_atom_forge_key(&f, host_map_uri(&h->map, LV2_PATCH__value));
        lv2_atom_forge_path(&f, path, (uint32_t)strlen(path));
    } else {
        lv2_atom_forge_object(&f, &of, 0, host_map_uri(&h->map, LV2_PATCH__Get));
    }
    lv2_atom_forge_pop(&f, &of);
    lv2_atom_forge_pop(&f, &sf);
}

/* The path in the first patch:Set on the notify port, or "" if none. */
static const char *notified_path(Host *h, AtomBuf *b) {
    LV2_ATOM_SEQUENCE_FOREACH(&b->seq, ev) {
        const LV2_Atom_Object *obj = (const LV2_Atom_Object *)&ev->body;
        if (ev->body.type != host_map_uri(&h->map, LV2_ATOM__Object) ||
            obj->body.otype != host_map_uri(&h->map, LV2_PATCH__Set))
            continue;
        const LV2_Atom *value = NULL;
        lv2_atom_object_get(obj, host_map_uri(&h->map, LV2_PATCH__value), &value, 0);
        if (value && value->type == host_map_uri(&h->map, LV2_ATOM__Path))
            return (const char *)LV2_ATOM_BODY_CONST(value);
    }
    return "";
}

static void patch_cycle(Host *h, AtomBuf *in, AtomBuf *out, float *zero, float *y) {
    out->seq.atom.size = sizeof out->room; /* capacity, as hosts do */
    out->seq.atom.type = host_map_uri(&h->map, LV2_ATOM__Chunk);
    host_connect(h, "in", zero);
    host_connect(h, "out", y);
    lilv_instance_run(h->instance, 256);
    host_worker_work(h);
    host_worker_respond(h);
    atom_empty(h, in);
}

static void test_patch(LilvWorld *w) {
    char def[2048], other[128], dir[64] = "/tmp/menhance-patch-test-XXXXXX";
    if (!menhance_default_model_path(def, sizeof def) || !mkdtemp(dir)) {
        printf("plugin_host: no model to test patch:Set with\n");
        return;
    }
    Host h;
    /* A second name for the model, so that a change of path shows. */
    snprintf(other, sizeof other, "%s/other.safetensors", dir);
    CHECK(symlink(def, other) == 0, "symlink %s", other);
    CHECK(host_open(&h, w, HOST_URI_MONO, 48000, HOST_FEATURES_FULL, 8192, 1024) == 0,
          "instantiate for patch");
    static AtomBuf in, out;
    float zero[256] = {0}, y[256];
    Controls k = controls_default();
    connect_controls(&h, &k);
    host_connect(&h, "control", &in);
    host_connect(&h, "notify", &out);
    lilv_instance_activate(h.instance);
    atom_empty(&h, &in);
    patch_cycle(&h, &in, &out, zero, y);
    CHECK(!strcmp(notified_path(&h, &out), def), "first run: notified '%s', want '%s'",
          notified_path(&h, &out), def);
    patch_cycle(&h, &in, &out, zero, y);
    CHECK(!strcmp(notified_path(&h, &out), ""), "notified again without a change");

    atom_patch(&h, &in, other);
    patch_cycle(&h, &in, &out, zero, y); /* run sees patch:Set, worker loads, swap */
    patch_cycle(&h, &in, &out, zero, y); /* notification of the new path */
    CHECK(!strcmp(notified_path(&h, &out), other), "after patch:Set: notified '%s'",
          notified_path(&h, &out));
    atom_patch(&h, &in, NULL); /* patch:Get */
    patch_cycle(&h, &in, &out, zero, y);
    CHECK(!strcmp(notified_path(&h, &out), other), "patch:Get answered '%s'",
          notified_path(&h, &out));
    StateBox b = {.h = &h};
    h.state->save(lilv_instance_get_handle(h.instance), store_fn, &b, 0, h.features);
    CHECK(!strcmp(b.saved, other), "after patch:Set, save stored '%s'", b.saved);

    int errors = h.log_errors;
    atom_patch(&h, &in, "/nonexistent/model.safetensors");
    for (int i = 0; i < 3; i++)
        patch_cycle(&h, &in, &out, zero, y);
    CHECK(h.log_errors == errors + 1, "a bad patch:Set path was not logged once");
    b.saved[0] = 0;
    h.state->save(lilv_instance_get_handle(h.instance), store_fn, &b, 0, h.features);
    CHECK(!strcmp(b.saved, other), "a bad patch:Set path replaced the model: '%s'", b.saved);
    CHECK(all_sane(y, 256, 4.0f), "output after patch messages");
    host_close(&h);
    unlink(other);
    rmdir(dir);
}

/* The model modes need a model: always the engine tests' tiny model
 * (tests/golden/engine_voc.safetensors), offered to both the plugin and the reference through
 * $MENHANCE_MODEL_DIR, so results do not depend on the shipped weights (test_engine_model
 * covers those) and the run stays fast. */
static char model_dir[64];
static void provide_test_model(void) {
    const char *golden = "tests/golden/engine_voc.safetensors";
    if (access(golden, R_OK)) return;
    snprintf(model_dir, sizeof model_dir, "/tmp/menhance-plugin-test-XXXXXX");
    if (!mkdtemp(model_dir)) return;
    char abs[1024], link[128];
    if (!realpath(golden, abs)) return;
    snprintf(link, sizeof link, "%s/menhance.safetensors", model_dir);
    if (symlink(abs, link) == 0) setenv("MENHANCE_MODEL_DIR", model_dir, 1);
}

/* Makes golden the plugin's default model for the instances created next (the tests after
 * provide_test_model relink it to engine_voc when done).  Returns 0 without a model
 * directory or the file. */
static int use_test_model(const char *golden) {
    char link[128], abs[1024];
    if (!model_dir[0] || !realpath(golden, abs)) return 0;
    snprintf(link, sizeof link, "%s/menhance.safetensors", model_dir);
    unlink(link);
    CHECK(symlink(abs, link) == 0, "%s as the test model", golden);
    return 1;
}

/* The Noise, Room and Tone ports and the "listen to what is removed" switch reach the engine:
 * the plugin with the fixed-gain noise/room/tone model (tests/golden/engine_nrt) as its model
 * matches the engine run with the same settings, and each setting changes the output. */
static void test_model_controls(LilvWorld *w) {
    if (!use_test_model("tests/golden/engine_nrt.safetensors")) return;
    const int rate = 48000, n = rate / 2;
    float *x = make_signal(rate, n, 2);
    float *ref = calloc((size_t)n * 2, sizeof(float)), *y = calloc((size_t)n * 2, sizeof(float));
    float *first = calloc((size_t)n * 2, sizeof(float));
    static const float set[4][4] = {{1, 1, 1, 0}, {0, 2, 0.5f, 0}, {2, 0, 1, 0}, {1, 1, 1, 1}};
    for (int i = 0; i < 4; i++) {
        Controls k = controls_default();
        k.mode = MENHANCE_MODE_MEL2MEL;
        k.max_atten = 30;
        k.noise = set[i][0], k.room = set[i][1], k.tone = set[i][2], k.listen = set[i][3];
        run_reference_k(rate, 2, &k, x, n, ref);
        RunSpec rs = {rate, 2, HOST_FEATURES_FULL, 480, 0, 1, k, NULL};
        int lc;
        run_plugin(w, &rs, x, n, y, &lc, NULL);
        double d = max_diff(ref, y, (size_t)n * 2);
        CHECK(d < 1e-6, "noise %.1f room %.1f tone %.1f listen %.0f: plugin vs engine %g", k.noise,
              k.room, k.tone, k.listen, d);
        if (i == 0)
            memcpy(first, y, sizeof(float) * n * 2);
        else
            CHECK(max_diff(first, y, (size_t)n * 2) > 1e-3,
                  "noise %.1f room %.1f tone %.1f listen %.0f: output as with the defaults",
                  k.noise, k.room, k.tone, k.listen);
    }
    use_test_model("tests/golden/engine_voc.safetensors");
    free(first);
    free(x);
    free(ref);
    free(y);
}

/* Numbers in a saved profile's text (up to the first that does not parse), their range. */
static int profile_numbers(const char *text, float *lo, float *hi) {
    int count = 0;
    *lo = INFINITY, *hi = -INFINITY;
    for (const char *p = text; *p;) {
        char *end;
        float v = strtof(p, &end);
        if (end == p || !isfinite(v)) break;
        *lo = fminf(*lo, v), *hi = fmaxf(*hi, v);
        count++;
        p = end;
    }
    return count;
}

/* The Tone verdict in the state: with the fixed-gain model (Tone +3.9 dB) as the plugin's model,
 * 5 s of audio leave a verdict of 128 numbers near 1.29 (log2 power) in the saved state; a fresh
 * instance given it by restore() lifts low-passed noise by most of that (bins under
 * NO_LIFT_BELOW_HZ are never lifted) from its first half second after activation, where one
 * without it fades the lift in; it saves the same text back before it plays again, and a damaged
 * verdict is refused with a message (the restored one dropped) while the plugin runs on. */
static void test_tone_state(LilvWorld *w) {
    if (!use_test_model("tests/golden/engine_nrt.safetensors")) return;
    const int rate = 48000, n = 5 * rate;
    float *x = malloc(sizeof(float) * (size_t)n * 2), *y = calloc((size_t)n * 2, sizeof(float));
    /* noise under about 1 kHz (one-pole low-pass): the model's 16 kHz band holds all of it (the
     * band above 8 kHz takes cuts only) */
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < n; i++) {
            float prev = i ? x[(size_t)c * n + i - 1] : 0.0f;
            x[(size_t)c * n + i] = 0.9f * prev + 0.05f * frand();
        }
    Controls k = controls_default();
    k.mode = MENHANCE_MODE_MEL2MEL;
    k.max_atten = 30;
    k.noise = k.room = 0;
    RunSpec rs = {rate, 2, HOST_FEATURES_FULL, 512, 0, 1, k, NULL};
    Host h;
    int lc;
    StateBox b = {.h = &h};
    if (run_plugin(w, &rs, x, n, y, &lc, &h) > 0 && h.state) {
        CHECK(h.state->save(lilv_instance_get_handle(h.instance), store_fn, &b, 0, h.features) ==
                  LV2_STATE_SUCCESS,
              "tone state: save");
        host_close(&h);
    } else {
        CHECK(0, "tone state: plugin runs with a state interface");
    }
    float lo, hi;
    int count = profile_numbers(b.tone, &lo, &hi);
    CHECK(count == 128 && lo > 1.1f && hi < 1.5f,
          "tone state: the saved verdict holds %d numbers in %.3f..%.3f, want 128 near 1.29", count,
          lo, hi);

    /* Two fresh instances, one given the verdict: activated again (a stream start), each plays
     * 1 s; the lift over 0.1-0.5 s after the latency. */
    const int m = rate;
    double lift[2] = {0, 0};
    for (int given = 0; given < 2 && count == 128; given++) {
        Host h2;
        RunSpec rs2 = rs;
        if (run_plugin(w, &rs2, x, rate / 4, y, &lc, &h2) <= 0) continue;
        LV2_Handle inst = lilv_instance_get_handle(h2.instance);
        if (given) {
            StateBox b2 = {.h = &h2, .tone_in = b.tone};
            CHECK(h2.state->restore(inst, retrieve_fn, &b2, 0, h2.features) == LV2_STATE_SUCCESS,
                  "tone state: restore");
            StateBox b3 = {.h = &h2};
            h2.state->save(inst, store_fn, &b3, 0, h2.features);
            CHECK(!strcmp(b3.tone, b.tone), "tone state: restored verdict saved back %s",
                  b3.tone[0] ? "changed" : "missing");
        }
        lilv_instance_deactivate(h2.instance);
        lilv_instance_activate(h2.instance);
        for (int pos = 0; pos < m; pos += 512) {
            host_connect(&h2, "in_l", x + pos);
            host_connect(&h2, "in_r", x + n + pos);
            host_connect(&h2, "out_l", y + pos);
            host_connect(&h2, "out_r", y + n + pos);
            lilv_instance_run(h2.instance, 512);
            host_worker_work(&h2);
            host_worker_respond(&h2);
        }
        double ex = 0, ey = 0;
        for (int t = rate / 10; t < rate / 2; t++) {
            ex += (double)x[t] * x[t];
            ey += (double)y[t + lc] * y[t + lc];
        }
        lift[given] = 10 * log10((ey + 1e-30) / (ex + 1e-30));
        if (given) {
            /* damaged: refused, logged once, the plugin runs on */
            int errors = h2.log_errors;
            StateBox bad = {.h = &h2, .tone_in = "1 2 3 nonsense"};
            CHECK(h2.state->restore(inst, retrieve_fn, &bad, 0, h2.features) != LV2_STATE_SUCCESS,
                  "tone state: a damaged verdict accepted");
            CHECK(h2.log_errors == errors + 1 && strstr(h2.last_log, "damaged"),
                  "tone state: a damaged verdict: '%s'", h2.last_log);
            float out[2][512];
            host_connect(&h2, "in_l", x);
            host_connect(&h2, "in_r", x + n);
            host_connect(&h2, "out_l", out[0]);
            host_connect(&h2, "out_r", out[1]);
            worker_cycles(&h2, 4);
            CHECK(all_sane(out[0], 512, 4.0f), "tone state: output after a damaged verdict");
            /* the damaged one dropped the restored verdict, and 1.25 s of live audio is no verdict
             */
            StateBox b4 = {.h = &h2};
            h2.state->save(inst, store_fn, &b4, 0, h2.features);
            CHECK(!b4.tone[0], "tone state: after a damaged verdict, saved '%.40s...'", b4.tone);
        }
        host_close(&h2);
    }
    printf("plugin tone state: %d numbers %.3f..%.3f; first 0.1-0.5 s %+.2f dB without, %+.2f dB "
           "with the saved verdict\n",
           count, lo, hi, lift[0], lift[1]);
    CHECK(lift[0] < 1.0 && lift[1] - lift[0] > 2.5,
          "tone state: first 0.1-0.5 s %+.2f dB without, %+.2f dB with the saved verdict, want "
          "under +1 without and 2.5 dB more with it",
          lift[0], lift[1]);
    use_test_model("tests/golden/engine_voc.safetensors");
    free(x);
    free(y);
}

/* A refiner (train/refiner.py) whose test gate passed: the plugin runs mode 2 with it (no
 * fallback to mode 1), matching the engine in any block size, and keeps mode 1's stereo image
 * and level (R = 0.5 L stays 6.02 dB apart; level within 0.5 dB of mode 1); the refiner that
 * changes nothing gives mode 1 exactly. */
static void test_refiner(LilvWorld *w) {
    const char *models[2] = {"tests/golden/engine_refiner_small.safetensors",
                             "tests/golden/engine_refiner_id.safetensors"};
    for (int i = 0; i < 2; i++) {
        if (!use_test_model(models[i])) return;
        if (i == 0) {
            test_invariance(w, 48000, 2, MENHANCE_MODE_MEL2MEL_VOCODER);
            test_invariance(w, 44100, 1, MENHANCE_MODE_MEL2MEL_VOCODER);
        }
        const int rate = 48000, n = 2 * rate;
        float *x = make_signal(rate, n, 1), *xs = malloc(sizeof(float) * 2 * n);
        float *y[2] = {calloc((size_t)n * 2, sizeof(float)), calloc((size_t)n * 2, sizeof(float))};
        for (int t = 0; t < n; t++)
            xs[t] = x[t], xs[n + t] = 0.5f * x[t];
        for (int mode = 1; mode <= 2; mode++) {
            Controls k = controls_default();
            k.mode = (float)mode;
            RunSpec rs = {rate, 2, HOST_FEATURES_FULL, 480, 0, 1, k, NULL};
            int lc;
            run_plugin(w, &rs, xs, n, y[mode - 1], &lc, NULL);
        }
        double el[2] = {0}, er[2] = {0};
        for (int mode = 0; mode < 2; mode++)
            for (int t = rate; t < n; t++) {
                el[mode] += (double)y[mode][t] * y[mode][t];
                er[mode] += (double)y[mode][n + t] * y[mode][n + t];
            }
        const double r1 = 10 * log10((el[0] + 1e-30) / (er[0] + 1e-30)),
                     r2 = 10 * log10((el[1] + 1e-30) / (er[1] + 1e-30)),
                     lvl = 10 * log10((el[1] + er[1] + 1e-30) / (el[0] + er[0] + 1e-30));
        const double d = max_diff(y[0], y[1], (size_t)n * 2);
        printf("plugin, %s: mode 2 L-R %.3f dB (mode 1 %.3f), level %+.3f dB, max diff %.3g\n",
               models[i] + 13, r2, r1, lvl, d);
        CHECK(el[0] > 1.0 && fabs(r2 - r1) < 0.5 && fabs(lvl) < 0.5,
              "%s: mode 2 L-R %.3f dB (mode 1 %.3f), level %+.3f dB", models[i], r2, r1, lvl);
        if (i == 0)
            CHECK(d > 1e-5, "small refiner: mode 2 is mode 1 (max diff %g)", d);
        else
            CHECK(d == 0.0, "identity refiner: mode 2 differs from mode 1 by %g", d);
        free(x);
        free(xs);
        free(y[0]);
        free(y[1]);
    }
    use_test_model("tests/golden/engine_voc.safetensors");
}

static void remove_test_model(void) {
    if (!model_dir[0]) return;
    char link[128];
    snprintf(link, sizeof link, "%s/menhance.safetensors", model_dir);
    unlink(link);
    rmdir(model_dir);
}

int main(void) {
    provide_test_model();
    LilvWorld *w = host_world();
    LilvNode *u = lilv_new_uri(w, HOST_URI_MONO);
    const LilvPlugin *p = lilv_plugins_get_by_uri(lilv_world_get_all_plugins(w), u);
    lilv_node_free(u);
    CHECK(p != NULL, "plugin %s not found in %s", HOST_URI_MONO,
          getenv("MENHANCE_LV2_BUNDLE") ? getenv("MENHANCE_LV2_BUNDLE") : HOST_BUNDLE);
    if (!p) {
        remove_test_model();
        return check_summary("plugin_host");
    }

    const int rates[] = {44100, 48000, 88200, 96000};
    for (int r = 0; r < 4; r++)
        for (int c = 1; c <= 2; c++)
            test_invariance(w, rates[r], c, MENHANCE_MODE_CLASSICAL);
    /* The model modes, when a model is installed (they fall back to classical otherwise). */
    char path[2048];
    if (menhance_default_model_path(path, sizeof path)) {
        for (int c = 1; c <= 2; c++) {
            test_invariance(w, 48000, c, MENHANCE_MODE_MEL2MEL);
            test_invariance(w, 44100, c, MENHANCE_MODE_MEL2MEL_VOCODER);
        }
    } else {
        printf("plugin_host: no model installed; model modes tested as fallbacks only\n");
    }
    for (int c = 1; c <= 2; c++) {
        test_hostile(w, c);
        test_bypass(w, c);
    }
    test_poor_hosts(w);
    test_state(w);
    test_learn_noise(w);
    test_presets(w);
    test_maker(w);
    test_model_controls(w);
    test_tone_state(w);
    test_refiner(w);
    test_reactivate(w, 1.0f, 1.0f);
    test_reactivate(w, 1.0f, 0.0f); /* dry */
    test_reactivate(w, 0.0f, 1.0f); /* bypassed */
    /* The model patch parameter lives in whichever bundle declares the atom ports (the
     * shipped one or the test-only alternative); the other must run without them. */
    LilvWorld *alt = host_world_alt();
    int patched = 0;
    LilvWorld *worlds[2] = {w, alt};
    for (int i = 0; i < 2; i++) {
        Host h;
        if (!worlds[i] ||
            host_open(&h, worlds[i], HOST_URI_STEREO, 48000, HOST_FEATURES_FULL, 8192, 1024))
            continue;
        int control = host_port(&h, "control"), notify = host_port(&h, "notify");
        /* The limiter switch, the model's controls and Learn noise came after the audio
         * ports; the atom ports stay last. */
        int audio_last = host_port(&h, "learn_noise");
        host_close(&h);
        CHECK((control < 0) == (notify < 0), "bundle %d: control %d notify %d", i, control, notify);
        if (control < 0) continue;
        CHECK(control == audio_last + 1 && notify == control + 1,
              "bundle %d: atom ports must come last (%d, %d after %d)", i, control, notify,
              audio_last);
        test_patch(worlds[i]);
        patched++;
    }
    CHECK(alt == NULL || patched == 1, "%d bundles with the model parameter, want 1", patched);
    if (alt) lilv_world_free(alt);
    lilv_world_free(w);
    remove_test_model();
    return check_summary("plugin_host");
}
