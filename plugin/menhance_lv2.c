/* menhance LV2 plugin: all the LV2 glue, none of the DSP.
 *
 * This file reads top to bottom like the LV2 example plugins (eg-amp, eg-sampler): each block
 * opens with the LV2 concept it implements.  The signal path lives in the engine library
 * (engine/menhance.h), which knows nothing of LV2; this file only maps ports to engine
 * parameters, moves models on and off the audio thread with the LV2 worker, saves/restores
 * the model path with the state extension, and lets hosts pick the model file through a
 * patch:Set message on the control port (the eg-sampler "sample" parameter).
 *
 * Two plugins come from this one source: a mono one and a stereo-linked one (one shared gain
 * decision, so the stereo image cannot wander).  Their TTL is generated from one template in
 * ttl/, so the port indices below are the single source of truth for both. */
#include "engine/menhance.h"

#include <lv2/atom/atom.h>
#include <lv2/atom/forge.h>
#include <lv2/atom/util.h>
#include <lv2/buf-size/buf-size.h>
#include <lv2/core/lv2.h>
#include <lv2/log/log.h>
#include <lv2/log/logger.h>
#include <lv2/options/options.h>
#include <lv2/parameters/parameters.h>
#include <lv2/patch/patch.h>
#include <lv2/state/state.h>
#include <lv2/urid/urid.h>
#include <lv2/worker/worker.h>

#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MENHANCE_URI "https://menhance.org/plugins/menhance"
#define MENHANCE_URI_MONO MENHANCE_URI "#mono"
#define MENHANCE_URI_STEREO MENHANCE_URI "#stereo"
/* The model file: a patch parameter (hosts show a file chooser) and the state key. */
#define MENHANCE_URI_MODEL MENHANCE_URI "#model"
/* State: the held noise floor (Learn noise), MENHANCE_NOISE_PROFILE_LEN numbers as text. */
#define MENHANCE_URI_NOISE_PROFILE MENHANCE_URI "#noiseProfile"
/* State: the Tone head's verdict on this track (MENHANCE_TONE_PROFILE_LEN numbers as text), so
 * that after a session reload the colouration is corrected from the first second instead of
 * fading in over 4 s. */
#define MENHANCE_URI_TONE_PROFILE MENHANCE_URI "#toneProfile"

/* The mode port's default; mk/plugin.mk passes the same value into the TTL. */
#ifndef MENHANCE_LV2_DEFAULT_MODE
#define MENHANCE_LV2_DEFAULT_MODE 0
#endif

/* Hosts that do not say how large a block can get (lv2apply, lv2proc) still never go past
 * this in practice; run() splits anything larger, so it is a performance choice only, and so
 * is the cap on what a host may announce (the engine sizes buffers by it). */
#define DEFAULT_MAX_BLOCK 8192
#define MAX_MAX_BLOCK 16384
/* Longest model path we keep.  Worker messages carry the path, so it also bounds them. */
#define PATH_MAX_LEN 2048
/* Samples between two attempts to collect the models the engine has retired. */
#define COLLECT_INTERVAL 4096

/* Port indices, in the order of the TTL.  Control ports come first so that both variants
 * share their indices; the audio ports of the second channel exist in the stereo plugin
 * only.  The limiter switch came later, so it follows the audio ports (existing indices
 * stay): port 10 in the mono plugin, 12 in the stereo one; then the model's Noise, Room and
 * Tone strengths and the "listen to what is removed" switch (11-14 mono, 13-16 stereo).  The
 * two atom ports (the model file as a patch parameter) come last, so that a bundle can leave
 * them out (lv2proc refuses atom ports): ports 15 and 16 in the mono plugin, 17 and 18 in the
 * stereo one.  Hosts save control values by symbol, so moving the atom ports loses nothing.
 * connect_port() maps the mono plugin's ports from 10 on here. */
typedef enum {
    PORT_ENABLED = 0,   /* lv2:enabled: the host's bypass switch */
    PORT_FREEWHEEL = 1, /* lv2:freeWheeling: offline render, compute synchronously */
    PORT_LATENCY = 2,   /* output: reported latency in samples */
    PORT_AMOUNT = 3,
    PORT_MODE = 4,
    PORT_HIBAND = 5,
    PORT_STRENGTH = 6,
    PORT_MAX_ATTEN = 7,
    PORT_IN_L = 8,
    PORT_OUT_L = 9,
    PORT_IN_R = 10,
    PORT_OUT_R = 11,
    PORT_LIMITER = 12, /* output ceiling on/off (menhance_params.limiter) */
    PORT_NOISE = 13,   /* model head strengths, 0..2 (menhance_params.noise/room/tone) */
    PORT_ROOM = 14,
    PORT_TONE = 15,
    PORT_LISTEN = 16,  /* output what is removed (menhance_params.listen_removed) */
    PORT_LEARN = 17,   /* learn the noise floor, then hold it (menhance_params.learn_noise) */
    PORT_CONTROL = 18, /* atom input: patch:Set / patch:Get of the model parameter */
    PORT_NOTIFY = 19,  /* atom output: patch:Set telling the host the model in use */
    PORT_COUNT = 20
} PortIndex;

/* Messages between run() and the worker.  The LV2 worker copies them, so a message is a
 * plain header, optionally followed by a path.  The worker API promises no alignment for the
 * copy (the test host hands them over 4 bytes off on purpose), and Job holds a pointer:
 * receivers memcpy the header out instead of casting the buffer. */
typedef enum {
    JOB_LOAD,         /* worker: load the model at the path that follows */
    JOB_FREE,         /* worker: free a model the engine handed back */
    JOB_COLLECT,      /* worker: free the models the engine has retired */
    JOB_WARN_NOMODEL, /* worker: log that a model mode was asked for without a model */
    JOB_WARN_VOCODER, /* worker: log that mode 2 runs mode 1 (no vocoder past its gate) */
    REPLY_LOADED,     /* audio thread: swap the loaded model (path follows) in */
    REPLY_COLLECTED   /* audio thread: the collect job is over */
} JobType;

typedef struct {
    uint32_t type;
    uint32_t path_len; /* bytes of path that follow, NUL included; 0 if none */
    menhance_model *model;
    int count;      /* REPLY_COLLECTED: models freed */
    int vocoder_ok; /* REPLY_LOADED: the model's vocoder passed its quality gate */
    int restoring;  /* JOB_LOAD from restore(): the path is the project's even if it fails */
} Job;

typedef struct {
    Job head;
    char path[PATH_MAX_LEN];
} JobWithPath;

typedef struct {
    LV2_URID atom_Int;
    LV2_URID atom_Float;
    LV2_URID atom_Path;
    LV2_URID atom_URID;
    LV2_URID patch_Get;
    LV2_URID patch_Set;
    LV2_URID patch_property;
    LV2_URID patch_value;
    LV2_URID bufsz_maxBlockLength;
    LV2_URID bufsz_nominalBlockLength;
    LV2_URID param_sampleRate;
    LV2_URID menhance_model;
    LV2_URID menhance_noise_profile;
    LV2_URID menhance_tone_profile;
    LV2_URID atom_String;
} URIs;

typedef struct {
    /* Host features; every one of them is optional. */
    LV2_URID_Map *map;
    LV2_Worker_Schedule *schedule;
    LV2_State_Map_Path *map_path;
    LV2_State_Free_Path *free_path;
    LV2_Log_Logger logger;
    LV2_Atom_Forge forge;
    URIs uris;

    /* Port buffers, as connected by the host. */
    const float *ports[PORT_COUNT];
    int channels;

    menhance *engine;
    menhance_params params;
    int max_block;
    int activated;

    /* Models.  The engine owns every model handed to it and frees what it still holds at
     * destroy; models it retires come back through menhance_collect_model(), which only the
     * LV2 worker calls (or restore(), in a host without one).  The counters below belong to
     * the audio thread (and to restore() without a worker, which never runs alongside it):
     * live_models counts the non-NULL models the engine holds; all but the newest are
     * retired or about to be, so collect jobs go out while live_models > newest_is_model. */
    int live_models;
    int newest_is_model;
    int collect_in_flight;
    uint32_t samples_since_collect;
    menhance_model *orphan; /* handed back by the engine, waiting for a free job */
    int warned_nomodel;
    /* The loaded model carries a vocoder that passed its quality gate; without one, mode 2
     * runs mode 1 (as the CLI does) and says so once through the log. */
    int vocoder_ok, warned_vocoder;

    /* The model path as the audio thread knows it, for patch:Set notifications; written in
     * instantiate, work_response() and worker-less restore(), never alongside run(). */
    char rt_path[PATH_MAX_LEN];
    int notify_pending;

    /* Path of the model in use, for save().  Written only off the audio thread (instantiate,
     * restore, work), read by save(), which may run concurrently with work(). */
    pthread_mutex_t path_lock;
    char model_path[PATH_MAX_LEN];
} Plugin;

/* ---------------------------------------------------------------------------------------
 * Features.  A host passes a NULL-terminated array; lv2apply passes none at all (NULL) and
 * lv2file passes an entry whose URI is NULL, so every entry is checked before strcmp.
 * lv2_features_query() from lv2_util.h would crash on the latter. */
static const void *feature_find(const LV2_Feature *const *features, const char *uri) {
    for (int i = 0; features && features[i]; ++i)
        if (features[i]->URI && !strcmp(features[i]->URI, uri)) return features[i]->data;
    return NULL;
}

static void uris_map(URIs *u, LV2_URID_Map *map) {
    u->atom_Int = map->map(map->handle, LV2_ATOM__Int);
    u->atom_Float = map->map(map->handle, LV2_ATOM__Float);
    u->atom_Path = map->map(map->handle, LV2_ATOM__Path);
    u->atom_URID = map->map(map->handle, LV2_ATOM__URID);
    u->patch_Get = map->map(map->handle, LV2_PATCH__Get);
    u->patch_Set = map->map(map->handle, LV2_PATCH__Set);
    u->patch_property = map->map(map->handle, LV2_PATCH__property);
    u->patch_value = map->map(map->handle, LV2_PATCH__value);
    u->bufsz_maxBlockLength = map->map(map->handle, LV2_BUF_SIZE__maxBlockLength);
    u->bufsz_nominalBlockLength = map->map(map->handle, LV2_BUF_SIZE__nominalBlockLength);
    u->param_sampleRate = map->map(map->handle, LV2_PARAMETERS__sampleRate);
    u->menhance_model = map->map(map->handle, MENHANCE_URI_MODEL);
    u->menhance_noise_profile = map->map(map->handle, MENHANCE_URI_NOISE_PROFILE);
    u->menhance_tone_profile = map->map(map->handle, MENHANCE_URI_TONE_PROFILE);
    u->atom_String = map->map(map->handle, LV2_ATOM__String);
}

/* ---------------------------------------------------------------------------------------
 * Options (buf-size, parameters): the host may say how large blocks get and what the
 * nominal block is.  Only integer and float values are understood; anything else keeps the
 * defaults.  Needs urid:map to recognise the keys. */
static int option_int(const Plugin *self, const LV2_Options_Option *o) {
    if (o->type == self->uris.atom_Int && o->size == sizeof(int32_t))
        return *(const int32_t *)o->value;
    if (o->type == self->uris.atom_Float && o->size == sizeof(float))
        return (int)*(const float *)o->value;
    return 0;
}

static void options_read(const Plugin *self, const LV2_Options_Option *opts, int *max_block,
                         int *nominal_block, double *rate) {
    for (; opts && opts->key; ++opts) {
        if (opts->context != LV2_OPTIONS_INSTANCE || !opts->value) continue;
        int v = option_int(self, opts);
        if (opts->key == self->uris.bufsz_maxBlockLength && v > 0) *max_block = v;
        if (opts->key == self->uris.bufsz_nominalBlockLength && v > 0) *nominal_block = v;
        if (opts->key == self->uris.param_sampleRate && v > 0 && *rate <= 0) *rate = v;
    }
}

/* ---------------------------------------------------------------------------------------
 * Model bookkeeping.  Loading and freeing happen off the audio thread; handing a model to the
 * engine (menhance_swap_model) is a pointer exchange, safe anywhere. */

/* Frees the retired models.  Not real-time safe; one thread only (the LV2 worker). */
static int collect_now(Plugin *self) {
    int n = 0;
    menhance_model *m;
    while ((m = menhance_collect_model(self->engine))) {
        menhance_model_free(m);
        ++n;
    }
    return n;
}

/* Book-keeping for a model (or NULL) just handed to the engine. */
static void model_handed(Plugin *self, menhance_model *m, menhance_model *handed_back) {
    self->live_models += (m != NULL) - (handed_back != NULL);
    self->newest_is_model = m != NULL;
}

static void path_set(Plugin *self, const char *path) {
    pthread_mutex_lock(&self->path_lock);
    snprintf(self->model_path, sizeof self->model_path, "%s", path ? path : "");
    pthread_mutex_unlock(&self->path_lock);
}

/* The audio thread's copy; bounded copy, real-time safe. */
static void rt_path_set(Plugin *self, const char *path, size_t len) {
    if (len >= sizeof self->rt_path) len = sizeof self->rt_path - 1;
    memcpy(self->rt_path, path, len);
    self->rt_path[len] = '\0';
    self->notify_pending = 1;
}

/* Hands a model to the engine from restore() when it loads synchronously: run() is not
 * running then, so the audio thread's counters are ours, and without a worker nobody else
 * collects. */
static void model_install_now(Plugin *self, menhance_model *m) {
    menhance_model *back = menhance_swap_model(self->engine, m);
    model_handed(self, m, back);
    if (back) menhance_model_free(back);
    if (!self->schedule) self->live_models -= collect_now(self);
}

static menhance_model *model_load_logged(Plugin *self, const char *path) {
    char err[256] = "";
    menhance_model *m = menhance_model_load(path, err, sizeof err);
    if (m)
        lv2_log_note(&self->logger, "menhance: loaded model %s (%s)\n", path,
                     menhance_model_describe(m));
    else
        lv2_log_error(&self->logger, "menhance: %s\n", err); /* names the path and the reason */
    return m;
}

/* ---------------------------------------------------------------------------------------
 * Instantiation.  Not real-time: this is where the engine allocates everything it will ever
 * need and where the shipped default model is loaded.  A missing model is no error: the
 * classical mode needs none, and the model modes fall back to it. */
static void cleanup(LV2_Handle instance);

static LV2_Handle instantiate(const LV2_Descriptor *descriptor, double rate,
                              const char *bundle_path, const LV2_Feature *const *features) {
    (void)bundle_path;
    Plugin *self = (Plugin *)calloc(1, sizeof(Plugin));
    if (!self) return NULL;
    pthread_mutex_init(&self->path_lock, NULL);
    self->channels = strcmp(descriptor->URI, MENHANCE_URI_STEREO) ? 1 : 2;

    self->map = (LV2_URID_Map *)feature_find(features, LV2_URID__map);
    self->schedule = (LV2_Worker_Schedule *)feature_find(features, LV2_WORKER__schedule);
    self->map_path = (LV2_State_Map_Path *)feature_find(features, LV2_STATE__mapPath);
    self->free_path = (LV2_State_Free_Path *)feature_find(features, LV2_STATE__freePath);
    LV2_Log_Log *log = (LV2_Log_Log *)feature_find(features, LV2_LOG__log);
    /* The logger needs urid:map for its message types; without either it prints to stderr,
     * which is fine here and in every other non-real-time function. */
    lv2_log_logger_init(&self->logger, self->map, self->map ? log : NULL);

    int max_block = DEFAULT_MAX_BLOCK, nominal_block = 0;
    if (self->map) {
        uris_map(&self->uris, self->map);
        lv2_atom_forge_init(&self->forge, self->map);
        options_read(self, (const LV2_Options_Option *)feature_find(features, LV2_OPTIONS__options),
                     &max_block, &nominal_block, &rate);
    }
    if (max_block > MAX_MAX_BLOCK) max_block = MAX_MAX_BLOCK;
    self->max_block = max_block;

    menhance_model *model = NULL;
    char path[PATH_MAX_LEN];
    if (menhance_default_model_path(path, sizeof path)) {
        model = model_load_logged(self, path);
        if (model) {
            path_set(self, path);
            rt_path_set(self, path, strlen(path));
            self->vocoder_ok = menhance_vocoder_gate_passed(path);
        }
    } else {
        lv2_log_warning(&self->logger,
                        "menhance: no model found; only the classical mode is available\n");
    }

    /* Real-time hosts (Ardour, jalv, Carla, Qtractor, ...) all provide the LV2 worker; the
     * offline tools that do not (lv2apply, lv2file, lv2proc) call run() as fast as they can
     * and never set the freewheel port, so an engine thread would fall behind and fill in
     * with dry audio.  Without a worker the engine therefore computes inline, always: the
     * result is deterministic and identical to a freewheeling run. */
    menhance_config cfg = {
        .sample_rate = (int)lrint(rate),
        .channels = self->channels,
        .max_block = max_block,
        .nominal_block = nominal_block,
        .threaded = self->schedule != NULL,
    };
    char err[256] = "";
    self->engine = menhance_create(&cfg, model, err, sizeof err);
    model_handed(self, model, NULL);
    if (!self->engine) {
        menhance_model_free(model); /* creation failed: nobody took it */
        lv2_log_error(&self->logger, "menhance: cannot start at %.0f Hz: %s\n", rate, err);
        cleanup((LV2_Handle)self);
        return NULL;
    }
    menhance_params_default(&self->params);
    return (LV2_Handle)self;
}

/* ---------------------------------------------------------------------------------------
 * Ports.  The host hands over a buffer per port; control ports are single floats.  Ports
 * may be left unconnected (NULL): controls then keep their defaults. */
static void connect_port(LV2_Handle instance, uint32_t port, void *data) {
    Plugin *self = (Plugin *)instance;
    if (self->channels == 1 && port >= PORT_IN_R) port += 2; /* mono: no second channel */
    if (port < PORT_COUNT) self->ports[port] = (const float *)data;
}

/* Activation: reset the audio state so a re-activated plugin starts from silence, as after
 * instantiate.  Not real-time (the engine may wait for its worker here). */
static void activate(LV2_Handle instance) {
    Plugin *self = (Plugin *)instance;
    menhance_reset(self->engine);
    self->activated = 1;
}

static void deactivate(LV2_Handle instance) {
    ((Plugin *)instance)->activated = 0;
}

static float control(const Plugin *self, PortIndex p, float dflt, float lo, float hi) {
    const float *v = self->ports[p];
    if (!v || !isfinite(*v)) return dflt;
    return *v < lo ? lo : *v > hi ? hi : *v;
}

static void params_from_ports(Plugin *self) {
    menhance_params *p = &self->params;
    p->enabled = control(self, PORT_ENABLED, 1.f, 0.f, 1.f) > 0.5f;
    p->synchronous = control(self, PORT_FREEWHEEL, 0.f, 0.f, 1.f) > 0.5f;
    p->amount = control(self, PORT_AMOUNT, 1.f, 0.f, 1.f);
    p->mode = (int)lrintf(
        control(self, PORT_MODE, (float)MENHANCE_LV2_DEFAULT_MODE, 0.f, MENHANCE_MODE_COUNT - 1));
    p->hiband = control(self, PORT_HIBAND, 1.f, 0.f, 1.f);
    p->strength = control(self, PORT_STRENGTH, 1.f, 0.f, 2.f);
    p->max_atten_db = control(self, PORT_MAX_ATTEN, 18.f, 0.f, 40.f);
    p->limiter = control(self, PORT_LIMITER, 1.f, 0.f, 1.f) > 0.5f;
    p->noise = control(self, PORT_NOISE, 1.f, 0.f, 2.f);
    p->room = control(self, PORT_ROOM, 1.f, 0.f, 2.f);
    p->tone = control(self, PORT_TONE, 1.f, 0.f, 2.f);
    p->listen_removed = control(self, PORT_LISTEN, 0.f, 0.f, 1.f) > 0.5f;
    p->learn_noise = control(self, PORT_LEARN, 0.f, 0.f, 1.f) > 0.5f;
}

static int schedule_job(Plugin *self, JobType type, menhance_model *m) {
    Job job = {.type = type, .path_len = 0, .model = m};
    return self->schedule && self->schedule->schedule_work(self->schedule->handle, sizeof job,
                                                           &job) == LV2_WORKER_SUCCESS;
}

/* Asks the worker to load a model file; path need not be NUL-terminated.  Real-time safe. */
static void request_load(Plugin *self, const char *path, size_t len) {
    if (!self->schedule || len == 0 || len >= PATH_MAX_LEN) return;
    JobWithPath job = {.head = {.type = JOB_LOAD, .path_len = (uint32_t)len + 1}};
    memcpy(job.path, path, len);
    job.path[len] = '\0';
    self->schedule->schedule_work(self->schedule->handle, (uint32_t)(sizeof(Job) + len + 1), &job);
}

/* ---------------------------------------------------------------------------------------
 * Patch messages.  The model file is a writable parameter (patch:writable in the TTL): hosts
 * set it with patch:Set { property model, value <path> } on the control port, ask for it with
 * patch:Get, and learn the model in use from patch:Set on the notify port. */
static void control_read(Plugin *self, const LV2_Atom_Sequence *seq) {
    const URIs *u = &self->uris;
    LV2_ATOM_SEQUENCE_FOREACH(seq, ev) {
        if (!lv2_atom_forge_is_object_type(&self->forge, ev->body.type)) continue;
        const LV2_Atom_Object *obj = (const LV2_Atom_Object *)&ev->body;
        if (obj->body.otype == u->patch_Get) {
            self->notify_pending = 1;
        } else if (obj->body.otype == u->patch_Set) {
            const LV2_Atom *property = NULL, *value = NULL;
            lv2_atom_object_get(obj, u->patch_property, &property, u->patch_value, &value, 0);
            if (property && property->type == u->atom_URID &&
                ((const LV2_Atom_URID *)property)->body == u->menhance_model && value &&
                value->type == u->atom_Path) {
                const char *p = (const char *)LV2_ATOM_BODY_CONST(value);
                request_load(self, p, strnlen(p, value->size));
            }
        }
    }
}

static void notify_write(Plugin *self, LV2_Atom_Sequence *seq) {
    LV2_Atom_Forge *f = &self->forge;
    lv2_atom_forge_set_buffer(f, (uint8_t *)seq, seq->atom.size);
    LV2_Atom_Forge_Frame seq_frame, obj_frame;
    lv2_atom_forge_sequence_head(f, &seq_frame, 0);
    if (self->notify_pending && self->rt_path[0]) {
        self->notify_pending = 0;
        lv2_atom_forge_frame_time(f, 0);
        lv2_atom_forge_object(f, &obj_frame, 0, self->uris.patch_Set);
        lv2_atom_forge_key(f, self->uris.patch_property);
        lv2_atom_forge_urid(f, self->uris.menhance_model);
        lv2_atom_forge_key(f, self->uris.patch_value);
        lv2_atom_forge_path(f, self->rt_path, (uint32_t)strlen(self->rt_path));
        lv2_atom_forge_pop(f, &obj_frame);
    }
    lv2_atom_forge_pop(f, &seq_frame);
}

/* Frees a model through the worker; if the worker cannot take the job now, run() retries. */
static void free_later(Plugin *self, menhance_model *m) {
    if (!schedule_job(self, JOB_FREE, m)) self->orphan = m;
}

/* ---------------------------------------------------------------------------------------
 * Audio.  run() is real-time: it only copies port values into the engine's parameters and
 * lets the engine process.  Blocks longer than the engine was sized for are split, so a
 * host that never told us its block size still works.  Bypass (lv2:enabled) stays inside
 * the engine: it crossfades to the input delayed by the same latency, so hosts see one
 * constant latency whatever the switch says. */
static void run(LV2_Handle instance, uint32_t n_samples) {
    Plugin *self = (Plugin *)instance;
    float *latency = (float *)self->ports[PORT_LATENCY];

    params_from_ports(self);
    const int want_vocoder = self->params.mode == MENHANCE_MODE_MEL2MEL_VOCODER;
    if (want_vocoder && !self->vocoder_ok) self->params.mode = MENHANCE_MODE_MEL2MEL;
    menhance_set_params(self->engine, &self->params);
    const LV2_Atom_Sequence *control = (const LV2_Atom_Sequence *)self->ports[PORT_CONTROL];
    if (control && self->map) control_read(self, control);

    const float *in[2] = {self->ports[PORT_IN_L], self->ports[PORT_IN_R]};
    float *out[2] = {(float *)self->ports[PORT_OUT_L], (float *)self->ports[PORT_OUT_R]};
    int connected = 1;
    for (int c = 0; c < self->channels; ++c)
        connected &= in[c] && out[c];
    for (uint32_t done = 0; connected && done < n_samples;) {
        uint32_t n = n_samples - done;
        if (n > (uint32_t)self->max_block) n = (uint32_t)self->max_block;
        const float *bin[2] = {in[0] + done, self->channels > 1 ? in[1] + done : NULL};
        float *bout[2] = {out[0] + done, self->channels > 1 ? out[1] + done : NULL};
        menhance_process(self->engine, bin, bout, (int)n);
        done += n;
    }
    if (latency) *latency = (float)menhance_latency(self->engine);
    LV2_Atom_Sequence *notify = (LV2_Atom_Sequence *)self->ports[PORT_NOTIFY];
    if (notify && self->map) notify_write(self, notify);

    if (!self->schedule) return;
    /* Housekeeping through the worker, never here: tell the user once that a model mode
     * runs without a model, and now and then free models the engine has let go of. */
    if (self->params.mode != MENHANCE_MODE_CLASSICAL && !self->newest_is_model &&
        !self->warned_nomodel)
        self->warned_nomodel = schedule_job(self, JOB_WARN_NOMODEL, NULL);
    if (self->newest_is_model) self->warned_nomodel = 0;
    if (want_vocoder && !self->vocoder_ok && self->newest_is_model && !self->warned_vocoder)
        self->warned_vocoder = schedule_job(self, JOB_WARN_VOCODER, NULL);
    if (self->orphan && schedule_job(self, JOB_FREE, self->orphan)) self->orphan = NULL;
    self->samples_since_collect += n_samples;
    if (!self->collect_in_flight && self->samples_since_collect >= COLLECT_INTERVAL &&
        self->live_models > self->newest_is_model) {
        self->samples_since_collect = 0;
        self->collect_in_flight = schedule_job(self, JOB_COLLECT, NULL);
    }
}

/* ---------------------------------------------------------------------------------------
 * Worker (eg-sampler's pattern).  work() runs off the audio thread (Ardour runs it inline
 * while freewheeling, where blocking is allowed): it loads and frees models and logs.
 * work_response() runs in the audio thread between run() calls: it only swaps pointers and
 * schedules the next job. */
static LV2_Worker_Status work(LV2_Handle instance, LV2_Worker_Respond_Function respond,
                              LV2_Worker_Respond_Handle handle, uint32_t size, const void *data) {
    Plugin *self = (Plugin *)instance;
    Job job;
    if (size < sizeof job) return LV2_WORKER_ERR_UNKNOWN;
    memcpy(&job, data, sizeof job);
    switch ((JobType)job.type) {
    case JOB_LOAD: {
        const char *path = (const char *)data + sizeof(Job);
        if (job.path_len == 0 || job.path_len > PATH_MAX_LEN || size < sizeof(Job) + job.path_len ||
            path[job.path_len - 1] != '\0')
            return LV2_WORKER_ERR_UNKNOWN;
        menhance_model *m = model_load_logged(self, path);
        /* A project's model that cannot be loaded (moved, on an unmounted disk) stays the
         * project's choice: the next save writes it again, while the current model plays. */
        if (!m && job.restoring) path_set(self, path);
        if (!m) return LV2_WORKER_SUCCESS; /* keep the current model; already logged */
        path_set(self, path);
        JobWithPath reply = {.head = {.type = REPLY_LOADED,
                                      .path_len = job.path_len,
                                      .model = m,
                                      .vocoder_ok = menhance_vocoder_gate_passed(path)}};
        memcpy(reply.path, path, job.path_len);
        return respond(handle, (uint32_t)(sizeof(Job) + job.path_len), &reply);
    }
    case JOB_FREE:
        menhance_model_free(job.model);
        return LV2_WORKER_SUCCESS;
    case JOB_COLLECT: {
        Job reply = {.type = REPLY_COLLECTED, .count = collect_now(self)};
        return respond(handle, sizeof reply, &reply);
    }
    case JOB_WARN_NOMODEL:
        lv2_log_warning(&self->logger, "menhance: no model loaded; the model modes fall back "
                                       "to the classical one\n");
        return LV2_WORKER_SUCCESS;
    case JOB_WARN_VOCODER:
        lv2_log_warning(&self->logger,
                        "menhance: the model's vocoder has not passed its quality gate; mode 2 "
                        "runs mode 1 (Mel2Mel gains on the input's phase)\n");
        return LV2_WORKER_SUCCESS;
    default:
        return LV2_WORKER_ERR_UNKNOWN;
    }
}

static LV2_Worker_Status work_response(LV2_Handle instance, uint32_t size, const void *data) {
    Plugin *self = (Plugin *)instance;
    Job job;
    if (size < sizeof job) return LV2_WORKER_ERR_UNKNOWN;
    memcpy(&job, data, sizeof job);
    if (job.type == REPLY_COLLECTED) {
        self->collect_in_flight = 0;
        self->live_models -= job.count;
        return LV2_WORKER_SUCCESS;
    }
    if (job.type != REPLY_LOADED) return LV2_WORKER_ERR_UNKNOWN;

    /* The engine switches at its next chunk; a model it had not picked up yet comes back
     * here and goes to the worker to be freed. */
    menhance_model *back = menhance_swap_model(self->engine, job.model);
    model_handed(self, job.model, back);
    self->vocoder_ok = job.vocoder_ok;
    if (back) free_later(self, back);
    if (job.path_len && size >= sizeof(Job) + job.path_len)
        rt_path_set(self, (const char *)data + sizeof(Job), job.path_len - 1);
    return LV2_WORKER_SUCCESS;
}

/* ---------------------------------------------------------------------------------------
 * State.  The only state beyond the control ports is the model file.  It is saved as an
 * atom:Path mapped through state:mapPath, so a host can make it relative to (or copy it
 * into) the session.  restore() tolerates a missing key: jalv restores every preset through
 * it, and presets carry port values only. */
static void path_free(const Plugin *self, LV2_State_Free_Path *fp, char *path) {
    (void)self;
    if (fp)
        fp->free_path(fp->handle, path);
    else
        free(path);
}

/* Numbers in the state are written and read in the C locale, whatever the host set (Qt hosts
 * call setlocale(LC_ALL, ""): a comma decimal separator would make the state unportable). */
static locale_t c_numeric_begin(locale_t *old) {
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    *old = c ? uselocale(c) : (locale_t)0;
    return c;
}

static void c_numeric_end(locale_t c, locale_t old) {
    if (!c) return;
    uselocale(old);
    freelocale(c);
}

/* The two numeric profiles the state keeps, as text (portable, and readable in a session file):
 * the held noise floor (Learn noise: 128 band powers >= 0, then 128 log2 floors) and the Tone
 * verdict (128 log2 power corrections). */
typedef struct {
    const char *what; /* for messages */
    int len, nonneg;  /* the first `nonneg` values may not be negative */
    int (*get)(menhance *, float *);
    void (*set)(menhance *, const float *);
    const char *lost; /* what the engine does when the saved one is damaged */
} Profile;

static const Profile noise_profile = {"noise floor",
                                      MENHANCE_NOISE_PROFILE_LEN,
                                      MENHANCE_NOISE_PROFILE_LEN / 2,
                                      menhance_get_noise_profile,
                                      menhance_set_noise_profile,
                                      "the noise trackers follow the input"};
static const Profile tone_profile = {"Tone verdict",
                                     MENHANCE_TONE_PROFILE_LEN,
                                     0,
                                     menhance_get_tone_profile,
                                     menhance_set_tone_profile,
                                     "the Tone correction fades in as it learns"};

#define PROFILE_MAX_LEN MENHANCE_NOISE_PROFILE_LEN
_Static_assert(MENHANCE_TONE_PROFILE_LEN <= PROFILE_MAX_LEN, "profile buffers");

static LV2_State_Status save_profile(Plugin *self, const Profile *pr, LV2_URID key,
                                     LV2_State_Store_Function store, LV2_State_Handle handle) {
    float prof[PROFILE_MAX_LEN];
    if (!self->engine || !pr->get(self->engine, prof)) return LV2_STATE_SUCCESS;
    char text[PROFILE_MAX_LEN * 16 + 1];
    size_t n = 0;
    locale_t old, c = c_numeric_begin(&old);
    for (int i = 0; i < pr->len; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, i ? " %.9g" : "%.9g", (double)prof[i]);
    c_numeric_end(c, old);
    return store(handle, key, text, n + 1, self->uris.atom_String,
                 LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE);
}

/* A saved profile back into the engine; anything but pr->len finite numbers (the first
 * pr->nonneg of them >= 0) is refused with a message, and the engine forgets the old one. */
static LV2_State_Status restore_profile(Plugin *self, const Profile *pr, LV2_URID key,
                                        LV2_State_Retrieve_Function retrieve,
                                        LV2_State_Handle handle) {
    size_t size = 0;
    uint32_t type = 0, vflags = 0;
    const char *v = (const char *)retrieve(handle, key, &size, &type, &vflags);
    if (!v) return LV2_STATE_SUCCESS;
    if (type != self->uris.atom_String) return LV2_STATE_ERR_BAD_TYPE;
    char text[PROFILE_MAX_LEN * 32 + 1];
    size_t n = strnlen(v, size);
    if (n >= sizeof text) n = sizeof text - 1;
    memcpy(text, v, n);
    text[n] = '\0';
    float prof[PROFILE_MAX_LEN];
    char *p = text, *end;
    int k = 0;
    locale_t old, c = c_numeric_begin(&old);
    for (; k < pr->len; k++, p = end) {
        prof[k] = strtof(p, &end);
        if (end == p || !isfinite(prof[k]) || (k < pr->nonneg && prof[k] < 0)) break;
    }
    c_numeric_end(c, old);
    while (k == pr->len && isspace((unsigned char)*p))
        p++;
    if (k < pr->len || *p) {
        /* the project's profile is lost: learn afresh rather than keep an older one */
        if (self->engine) pr->set(self->engine, NULL);
        lv2_log_error(&self->logger,
                      "menhance: the saved %s is damaged (%d of %d numbers read); %s\n", pr->what,
                      k, pr->len, pr->lost);
        return LV2_STATE_ERR_UNKNOWN;
    }
    if (self->engine) pr->set(self->engine, prof);
    return LV2_STATE_SUCCESS;
}

static LV2_State_Status save(LV2_Handle instance, LV2_State_Store_Function store,
                             LV2_State_Handle handle, uint32_t flags,
                             const LV2_Feature *const *features) {
    (void)flags;
    Plugin *self = (Plugin *)instance;
    if (!self->map) return LV2_STATE_ERR_NO_FEATURE;
    LV2_State_Map_Path *mp = (LV2_State_Map_Path *)feature_find(features, LV2_STATE__mapPath);
    LV2_State_Free_Path *fp = (LV2_State_Free_Path *)feature_find(features, LV2_STATE__freePath);
    if (!mp) mp = self->map_path;
    if (!fp) fp = self->free_path;

    /* Every key is stored even when one fails (the model path matters most); the first
     * failure is what save() reports. */
    LV2_State_Status nst =
        save_profile(self, &noise_profile, self->uris.menhance_noise_profile, store, handle);
    LV2_State_Status tst =
        save_profile(self, &tone_profile, self->uris.menhance_tone_profile, store, handle);
    if (nst == LV2_STATE_SUCCESS) nst = tst;

    char path[PATH_MAX_LEN];
    pthread_mutex_lock(&self->path_lock);
    memcpy(path, self->model_path, sizeof path);
    pthread_mutex_unlock(&self->path_lock);
    if (!path[0]) return nst;

    char *abstract = mp ? mp->abstract_path(mp->handle, path) : NULL;
    const char *value = abstract ? abstract : path;
    LV2_State_Status st = store(handle, self->uris.menhance_model, value, strlen(value) + 1,
                                self->uris.atom_Path, LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE);
    if (abstract) path_free(self, fp, abstract);
    return nst != LV2_STATE_SUCCESS ? nst : st;
}

static LV2_State_Status restore(LV2_Handle instance, LV2_State_Retrieve_Function retrieve,
                                LV2_State_Handle handle, uint32_t flags,
                                const LV2_Feature *const *features) {
    (void)flags;
    Plugin *self = (Plugin *)instance;
    if (!self->map) return LV2_STATE_ERR_NO_FEATURE;
    LV2_State_Status nst =
        restore_profile(self, &noise_profile, self->uris.menhance_noise_profile, retrieve, handle);
    LV2_State_Status tst =
        restore_profile(self, &tone_profile, self->uris.menhance_tone_profile, retrieve, handle);
    if (nst == LV2_STATE_SUCCESS) nst = tst;

    size_t size = 0;
    uint32_t type = 0, vflags = 0;
    const char *stored =
        (const char *)retrieve(handle, self->uris.menhance_model, &size, &type, &vflags);
    if (!stored) return nst;
    if (type != self->uris.atom_Path) return LV2_STATE_ERR_BAD_TYPE;
    /* Hosts disagree on the size of a string value: lilv counts the terminating NUL, Carla
     * does not, and nothing promises a NUL inside `size` at all.  Take the bytes up to the
     * first NUL or to `size`, whichever comes first, and never read past `size`. */
    size_t n = strnlen(stored, size);
    if (n == 0) return nst; /* an empty path names no model */
    if (n >= PATH_MAX_LEN) {
        lv2_log_error(&self->logger, "menhance: model path too long (%zu bytes)\n", n);
        return LV2_STATE_ERR_UNKNOWN;
    }
    char value[PATH_MAX_LEN];
    memcpy(value, stored, n);
    value[n] = '\0';

    LV2_State_Map_Path *mp = (LV2_State_Map_Path *)feature_find(features, LV2_STATE__mapPath);
    LV2_State_Free_Path *fp = (LV2_State_Free_Path *)feature_find(features, LV2_STATE__freePath);
    if (!mp) mp = self->map_path;
    if (!fp) fp = self->free_path;
    char *absolute = mp ? mp->absolute_path(mp->handle, value) : NULL;
    const char *path = absolute ? absolute : value;

    LV2_State_Status st = LV2_STATE_SUCCESS;
    size_t len = strlen(path) + 1;
    /* A worker passed to restore() itself means the host runs restore alongside run():
     * load through it.  Otherwise nothing else runs now, so load right here. */
    LV2_Worker_Schedule *sched =
        (LV2_Worker_Schedule *)feature_find(features, LV2_WORKER__schedule);
    if (len > PATH_MAX_LEN) {
        lv2_log_error(&self->logger, "menhance: model path too long: %s\n", path);
        st = LV2_STATE_ERR_UNKNOWN;
    } else if (sched && self->activated) {
        JobWithPath job = {.head = {.type = JOB_LOAD, .path_len = (uint32_t)len, .restoring = 1}};
        memcpy(job.path, path, len);
        if (sched->schedule_work(sched->handle, (uint32_t)(sizeof(Job) + len), &job) !=
            LV2_WORKER_SUCCESS)
            st = LV2_STATE_ERR_UNKNOWN;
    } else {
        menhance_model *m = model_load_logged(self, path);
        /* kept even when the file cannot be loaded: the project's choice (see work()) */
        path_set(self, path);
        if (m) {
            model_install_now(self, m);
            rt_path_set(self, path, len - 1);
            self->vocoder_ok = menhance_vocoder_gate_passed(path);
        }
    }
    if (absolute) path_free(self, fp, absolute);
    return st != LV2_STATE_SUCCESS ? st : nst;
}

/* ---------------------------------------------------------------------------------------
 * Cleanup: the engine frees every model it still holds, current, pending and retired. */
static void cleanup(LV2_Handle instance) {
    Plugin *self = (Plugin *)instance;
    menhance_destroy(self->engine);
    if (self->orphan) menhance_model_free(self->orphan);
    pthread_mutex_destroy(&self->path_lock);
    free(self);
}

static const void *extension_data(const char *uri) {
    static const LV2_Worker_Interface worker = {work, work_response, NULL};
    static const LV2_State_Interface state = {save, restore};
    if (!strcmp(uri, LV2_WORKER__interface)) return &worker;
    if (!strcmp(uri, LV2_STATE__interface)) return &state;
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Descriptors: the only symbol this library exports. */
static const LV2_Descriptor descriptors[] = {
    {MENHANCE_URI_MONO, instantiate, connect_port, activate, run, deactivate, cleanup,
     extension_data},
    {MENHANCE_URI_STEREO, instantiate, connect_port, activate, run, deactivate, cleanup,
     extension_data},
};

LV2_SYMBOL_EXPORT const LV2_Descriptor *lv2_descriptor(uint32_t index) {
    return index < sizeof descriptors / sizeof descriptors[0] ? &descriptors[index] : NULL;
}
