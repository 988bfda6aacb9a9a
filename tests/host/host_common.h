/* A small LV2 host on lilv for the plugin tests: the features real hosts pass (urid:map,
 * options with buf-size and sample rate, log, worker, state paths), all optional per test.
 *
 * The worker is synchronous and deterministic: schedule_work() (called from run() or
 * work_response()) only copies the job into a fixed queue, and host_worker_step(), called by
 * the test between two run() calls, runs work() for each queued job and then delivers the
 * responses with work_response(), like a worker thread that always finishes in time.  Only
 * work_response() and end_run() belong to the audio thread; the caller decides which of the
 * two halves it wraps in its real-time checks (host_worker_work / host_worker_respond). */
#ifndef MENHANCE_TESTS_HOST_COMMON_H
#define MENHANCE_TESTS_HOST_COMMON_H

#include <lilv/lilv.h>
#include <lv2/atom/atom.h>
#include <lv2/buf-size/buf-size.h>
#include <lv2/core/lv2.h>
#include <lv2/log/log.h>
#include <lv2/options/options.h>
#include <lv2/parameters/parameters.h>
#include <lv2/state/state.h>
#include <lv2/urid/urid.h>
#include <lv2/worker/worker.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST_URI "https://menhance.org/plugins/menhance"
#define HOST_URI_MONO HOST_URI "#mono"
#define HOST_URI_STEREO HOST_URI "#stereo"

#define HOST_MAX_URIS 256
#define HOST_QUEUE_BYTES 65536

typedef struct {
    char *uris[HOST_MAX_URIS];
    int n;
} HostMap;

/* Entries start 8-aligned: a 4-byte size, then the message, which is therefore 4 bytes off
 * an 8-byte boundary on purpose: the worker API promises no alignment, and a plugin that casts
 * a message to a struct holding a pointer must trip UBSan here (rt_checks.sh). */
#define HOST_ENTRY(size) (((uint32_t)sizeof(uint32_t) + (size) + 7u) & ~7u)
typedef struct {
    _Alignas(8) unsigned char data[HOST_QUEUE_BYTES];
    uint32_t used;
} HostQueue;

typedef struct {
    HostMap map;
    LV2_URID_Map map_feature;
    LV2_URID_Unmap unmap_feature;
    LV2_Log_Log log;
    LV2_Worker_Schedule schedule;
    LV2_State_Map_Path map_path;
    LV2_State_Free_Path free_path;
    int32_t max_block, nominal_block;
    float rate_opt;
    LV2_Options_Option options[4];
    LV2_Feature f_map, f_unmap, f_log, f_sched, f_mappath, f_freepath, f_options;
    const LV2_Feature *features[8];

    HostQueue jobs, replies;
    int log_errors, log_warnings, log_lines, log_loads;
    char last_log[1024]; /* the last message, formatted */
    int schedule_failures;

    LilvWorld *world;
    const LilvPlugin *plugin;
    LilvInstance *instance;
    const LV2_Worker_Interface *worker;
    const LV2_State_Interface *state;
} Host;

static LV2_URID host_map_uri(LV2_URID_Map_Handle h, const char *uri) {
    HostMap *m = (HostMap *)h;
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->uris[i], uri)) return (LV2_URID)(i + 1);
    if (m->n == HOST_MAX_URIS) return 0;
    m->uris[m->n] = strdup(uri);
    return (LV2_URID)++m->n;
}

static const char *host_unmap_uri(LV2_URID_Unmap_Handle h, LV2_URID urid) {
    HostMap *m = (HostMap *)h;
    return urid >= 1 && (int)urid <= m->n ? m->uris[urid - 1] : NULL;
}

static int host_vprintf(LV2_Log_Handle h, LV2_URID type, const char *fmt, va_list ap) {
    Host *host = (Host *)h;
    const char *t = host_unmap_uri(&host->map, type);
    host->log_lines++;
    if (strstr(fmt, "loaded model")) host->log_loads++;
    if (t && !strcmp(t, LV2_LOG__Error)) host->log_errors++;
    if (t && !strcmp(t, LV2_LOG__Warning)) host->log_warnings++;
    va_list copy;
    va_copy(copy, ap);
    vsnprintf(host->last_log, sizeof host->last_log, fmt, copy);
    va_end(copy);
    if (getenv("HOST_VERBOSE")) {
        fprintf(stderr, "[plugin log] ");
        return vfprintf(stderr, fmt, ap);
    }
    return 0;
}

static int host_printf(LV2_Log_Handle h, LV2_URID type, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = host_vprintf(h, type, fmt, ap);
    va_end(ap);
    return r;
}

static LV2_Worker_Status host_queue_push(HostQueue *q, uint32_t size, const void *data) {
    if (size > HOST_QUEUE_BYTES || q->used + HOST_ENTRY(size) > HOST_QUEUE_BYTES)
        return LV2_WORKER_ERR_NO_SPACE;
    memcpy(q->data + q->used, &size, sizeof size);
    memcpy(q->data + q->used + sizeof size, data, size);
    q->used += HOST_ENTRY(size);
    return LV2_WORKER_SUCCESS;
}

/* Real-time safe: copies only. */
static LV2_Worker_Status host_schedule(LV2_Worker_Schedule_Handle h, uint32_t size,
                                       const void *data) {
    Host *host = (Host *)h;
    LV2_Worker_Status st = host_queue_push(&host->jobs, size, data);
    if (st != LV2_WORKER_SUCCESS) host->schedule_failures++;
    return st;
}

static LV2_Worker_Status host_respond(LV2_Worker_Respond_Handle h, uint32_t size,
                                      const void *data) {
    return host_queue_push(&((Host *)h)->replies, size, data);
}

/* Paths are kept absolute: the tests check what the plugin stores, not a session layout. */
static char *host_abstract_path(LV2_State_Map_Path_Handle h, const char *path) {
    (void)h;
    return strdup(path);
}
static char *host_absolute_path(LV2_State_Map_Path_Handle h, const char *path) {
    (void)h;
    return strdup(path);
}
static void host_free_path(LV2_State_Free_Path_Handle h, char *path) {
    (void)h;
    free(path);
}

/* What to pass: the feature set of a full host, or of the poorer ones. */
enum { HOST_FEATURES_NONE = 0, HOST_FEATURES_NULL_URI = 1, HOST_FEATURES_FULL = 2 };

static void host_setup_features(Host *h, int kind, double rate) {
    h->map_feature = (LV2_URID_Map){&h->map, host_map_uri};
    h->unmap_feature = (LV2_URID_Unmap){&h->map, host_unmap_uri};
    h->log = (LV2_Log_Log){h, host_printf, host_vprintf};
    h->schedule = (LV2_Worker_Schedule){h, host_schedule};
    h->map_path = (LV2_State_Map_Path){h, host_abstract_path, host_absolute_path};
    h->free_path = (LV2_State_Free_Path){h, host_free_path};
    h->f_map = (LV2_Feature){LV2_URID__map, &h->map_feature};
    h->f_unmap = (LV2_Feature){LV2_URID__unmap, &h->unmap_feature};
    h->f_log = (LV2_Feature){LV2_LOG__log, &h->log};
    h->f_sched = (LV2_Feature){LV2_WORKER__schedule, &h->schedule};
    h->f_mappath = (LV2_Feature){LV2_STATE__mapPath, &h->map_path};
    h->f_freepath = (LV2_Feature){LV2_STATE__freePath, &h->free_path};

    LV2_URID atom_Int = host_map_uri(&h->map, LV2_ATOM__Int);
    LV2_URID atom_Float = host_map_uri(&h->map, LV2_ATOM__Float);
    h->rate_opt = (float)rate;
    h->options[0] = (LV2_Options_Option){
        LV2_OPTIONS_INSTANCE, 0,        host_map_uri(&h->map, LV2_BUF_SIZE__maxBlockLength),
        sizeof(int32_t),      atom_Int, &h->max_block};
    h->options[1] = (LV2_Options_Option){
        LV2_OPTIONS_INSTANCE, 0,        host_map_uri(&h->map, LV2_BUF_SIZE__nominalBlockLength),
        sizeof(int32_t),      atom_Int, &h->nominal_block};
    h->options[2] = (LV2_Options_Option){
        LV2_OPTIONS_INSTANCE, 0,          host_map_uri(&h->map, LV2_PARAMETERS__sampleRate),
        sizeof(float),        atom_Float, &h->rate_opt};
    h->options[3] = (LV2_Options_Option){LV2_OPTIONS_INSTANCE, 0, 0, 0, 0, NULL};
    h->f_options = (LV2_Feature){LV2_OPTIONS__options, h->options};

    static const LV2_Feature null_uri = {NULL, NULL};
    int n = 0;
    if (kind == HOST_FEATURES_FULL) {
        h->features[n++] = &h->f_map;
        h->features[n++] = &h->f_unmap;
        h->features[n++] = &h->f_log;
        h->features[n++] = &h->f_sched;
        h->features[n++] = &h->f_mappath;
        h->features[n++] = &h->f_freepath;
        h->features[n++] = &h->f_options;
    } else if (kind == HOST_FEATURES_NULL_URI) {
        h->features[n++] = &null_uri; /* what lv2file passes */
    }
    h->features[n] = NULL;
}

/* A world holding one bundle (dir) and nothing else, whatever LV2_PATH says. */
static inline LilvWorld *host_world_at(const char *dir) {
    LilvWorld *w = lilv_world_new();
    lilv_world_load_specifications(w);
    lilv_world_load_plugin_classes(w);
    if (!dir) return w;
    char uri[4096];
    snprintf(uri, sizeof uri, "file://%s/", dir);
    LilvNode *b = lilv_new_uri(w, uri);
    lilv_world_load_bundle(w, b);
    lilv_node_free(b);
    return w;
}

/* The bundle under test: $MENHANCE_LV2_BUNDLE, else the build tree's (HOST_BUNDLE). */
static inline LilvWorld *host_world(void) {
    const char *dir = getenv("MENHANCE_LV2_BUNDLE");
#ifdef HOST_BUNDLE
    if (!dir) dir = HOST_BUNDLE;
#endif
    return host_world_at(dir);
}

/* The same plugin with the other TTL choice for the model patch parameter (see
 * mk/plugin.mk), or NULL. */
static inline LilvWorld *host_world_alt(void) {
    const char *dir = getenv("MENHANCE_LV2_ALT_BUNDLE");
#ifdef HOST_ALT_BUNDLE
    if (!dir) dir = HOST_ALT_BUNDLE;
#endif
    return dir ? host_world_at(dir) : NULL;
}

/* Instantiates uri at rate.  kind: HOST_FEATURES_*; max_block/nominal_block go into the
 * options (full features only).  Returns 0 on success. */
static int host_open(Host *h, LilvWorld *world, const char *uri, double rate, int kind,
                     int max_block, int nominal_block) {
    memset(h, 0, sizeof *h);
    h->world = world;
    h->max_block = max_block;
    h->nominal_block = nominal_block;
    host_setup_features(h, kind, rate);
    LilvNode *u = lilv_new_uri(world, uri);
    h->plugin = lilv_plugins_get_by_uri(lilv_world_get_all_plugins(world), u);
    lilv_node_free(u);
    if (!h->plugin) return -1;
    h->instance =
        lilv_plugin_instantiate(h->plugin, rate, kind == HOST_FEATURES_NONE ? NULL : h->features);
    if (!h->instance) return -2;
    h->worker = (const LV2_Worker_Interface *)lilv_instance_get_extension_data(
        h->instance, LV2_WORKER__interface);
    h->state = (const LV2_State_Interface *)lilv_instance_get_extension_data(h->instance,
                                                                             LV2_STATE__interface);
    return 0;
}

static void host_close(Host *h) {
    if (h->instance) {
        lilv_instance_deactivate(h->instance);
        lilv_instance_free(h->instance);
    }
    for (int i = 0; i < h->map.n; i++)
        free(h->map.uris[i]);
    h->instance = NULL;
    h->map.n = 0;
}

static int host_port(const Host *h, const char *symbol) {
    LilvNode *s = lilv_new_string(h->world, symbol);
    const LilvPort *p = lilv_plugin_get_port_by_symbol(h->plugin, s);
    lilv_node_free(s);
    return p ? (int)lilv_port_get_index(h->plugin, p) : -1;
}

static void host_connect(Host *h, const char *symbol, void *buf) {
    int i = host_port(h, symbol);
    if (i >= 0) lilv_instance_connect_port(h->instance, (uint32_t)i, buf);
}

/* Worker, first half (off the audio thread): work() for every queued job. */
static void host_worker_work(Host *h) {
    HostQueue q;
    memcpy(&q, &h->jobs, sizeof q); /* jobs scheduled by work() itself go to the next round */
    h->jobs.used = 0;
    LV2_Handle inst = lilv_instance_get_handle(h->instance);
    for (uint32_t off = 0; off < q.used;) {
        uint32_t size;
        memcpy(&size, q.data + off, sizeof size);
        if (h->worker) h->worker->work(inst, host_respond, h, size, q.data + off + sizeof size);
        off += HOST_ENTRY(size);
    }
}

/* Worker, second half (audio thread): work_response() for every reply, then end_run(). */
static void host_worker_respond(Host *h) {
    LV2_Handle inst = lilv_instance_get_handle(h->instance);
    for (uint32_t off = 0; off < h->replies.used;) {
        uint32_t size;
        memcpy(&size, h->replies.data + off, sizeof size);
        if (h->worker) h->worker->work_response(inst, size, h->replies.data + off + sizeof size);
        off += HOST_ENTRY(size);
    }
    h->replies.used = 0;
    if (h->worker && h->worker->end_run) h->worker->end_run(inst);
}

#endif
