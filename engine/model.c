/* menhance_model: a model file opened, checked against the engine's front end, and built into
 * networks with their streaming state, all off the audio thread. */
#include "engine/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "dsp/mel.h"
#include "engine/enhance.h"
#include "engine/frontend_meta.h"
#include "nn/diffwave.h"
#include "nn/mel2mel.h"
#include "nn/safetensors.h"

struct menhance_model {
    st_file *file;
    nn_mel2mel *m2m;
    nn_m2m_stream *stream;
    long long frames; /* frames pushed since reset, to skip the warm-up outputs */
    nn_diffwave *dw;
    nn_diffwave_stream *dws;
    int dw_latency;
    int refiner; /* dws refines mode 1's waveform (metadata "refiner") */
    int refine_steps[MODEL_MAX_REFINE_STEPS];
    int borrowed; /* m2m belongs to another model (model_twin) */
    char desc[768];
};

static void set_err(char *err, size_t len, const char *fmt, const char *a, const char *b) {
    if (err && len) snprintf(err, len, fmt, a, b);
}

/* The network only makes sense on the features it was trained on. */
static int check_frontend(const st_file *f, char *why, size_t len) {
    return frontend_meta_check(st_meta(f, "frontend"), why, len);
}

/* The metadata "refiner" = {"steps": [k0, k1, ...]} (train/refiner.py export_refiner): the
 * training steps, decreasing.  Returns their count, 0 when the file has no refiner, -1 when the
 * entry is malformed (why says how). */
static int refiner_steps(const st_file *f, int *steps, char *why, size_t len) {
    const char *js = st_meta(f, "refiner");
    if (!js) return 0;
    cJSON *j = cJSON_Parse(js);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "steps");
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    if (n < 1 || n > MODEL_MAX_REFINE_STEPS) n = -1;
    for (int k = 0; n > 0 && k < n; k++) {
        const cJSON *v = cJSON_GetArrayItem(a, k);
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.0 && v->valuedouble < 1e6) ||
            v->valuedouble != (int)v->valuedouble) {
            n = -1;
            break;
        }
        steps[k] = (int)v->valuedouble;
    }
    cJSON_Delete(j);
    if (n < 0)
        snprintf(why, len, "metadata \"refiner\" is not {\"steps\": [1 to %d whole numbers]}",
                 MODEL_MAX_REFINE_STEPS);
    return n;
}

/* The vocoder is optional: a file whose vocoder cannot run in real time still gives Mel2Mel,
 * and the description says why the vocoder is missing.  A refiner (mode 1's waveform refined,
 * train/refiner.py) must keep its look-ahead under a hop (enhance.c aligns its output within
 * the one hop by which every mode is delayed); a vocoder from noise under
 * ENHANCE_VOCODER_MAX_LOOKAHEAD. */
static void load_vocoder(menhance_model *m, char *what, size_t len) {
    char why[256] = "";
    const int n_refine = refiner_steps(m->file, m->refine_steps, why, sizeof why);
    if (n_refine < 0) {
        snprintf(what, len, "vocoder not usable: %.200s", why);
        return;
    }
    m->dw = nn_diffwave_load(m->file, why, sizeof why);
    if (!m->dw) {
        snprintf(what, len, "vocoder not usable: %.200s", why);
        return;
    }
    const nn_diffwave_info *in = nn_diffwave_get_info(m->dw);
    nn_diffwave_stream_config c;
    nn_diffwave_stream_config_default(&c);
    c.max_frames = 1;
    c.block = ENHANCE_HOP;
    c.refine_steps = m->refine_steps;
    c.n_refine = n_refine;
    const int steps = n_refine ? n_refine : in->n_fast_steps;
    long la = nn_diffwave_lookahead(m->dw, steps);
    const long budget = n_refine ? ENHANCE_REFINER_MAX_LOOKAHEAD : ENHANCE_VOCODER_MAX_LOOKAHEAD;
    if (in->n_mels != ENHANCE_MELS || in->hop != ENHANCE_HOP || la > budget) {
        snprintf(what, len, "%s not usable in real time (look-ahead %ld > %ld samples)",
                 n_refine ? "refiner" : "vocoder", la, budget);
        nn_diffwave_free(m->dw);
        m->dw = NULL;
        return;
    }
    m->dws = nn_diffwave_stream_create(m->dw, &c, why, sizeof why);
    if (!m->dws) {
        snprintf(what, len, "vocoder not usable: %.200s", why);
        nn_diffwave_free(m->dw);
        m->dw = NULL;
        return;
    }
    m->dw_latency = (int)la;
    m->refiner = n_refine > 0;
    snprintf(what, len, "DiffWave %sL=%d C=%d, %d steps, look-ahead %ld samples",
             n_refine ? "refiner " : "", in->layers, in->channels, steps, la);
}

menhance_model *menhance_model_load(const char *path, char *err, size_t errlen) {
    char why[256] = "";
    if (!path || !*path) {
        set_err(err, errlen, "%s%s", "no model path given", "");
        return NULL;
    }
    menhance_model *m = calloc(1, sizeof *m);
    if (!m) {
        set_err(err, errlen, "%s: %s", path, "out of memory");
        return NULL;
    }
    m->file = st_open(path, why, sizeof why);
    if (!m->file) goto fail;
    if (!check_frontend(m->file, why, sizeof why)) goto fail;
    if (!st_meta(m->file, "mel2mel")) {
        snprintf(why, sizeof why, "the file holds no Mel2Mel network");
        goto fail;
    }
    m->m2m = nn_mel2mel_load(m->file, why, sizeof why);
    if (!m->m2m) goto fail;
    if (!nn_mel2mel_streaming(m->m2m)) {
        snprintf(why, sizeof why,
                 "this Mel2Mel is offline-only (whole-clip normalisation); "
                 "the real-time engine needs a streaming model");
        goto fail;
    }
    if (nn_mel2mel_n_mels(m->m2m) != ENHANCE_MELS ||
        nn_mel2mel_lookahead(m->m2m) > ENHANCE_LOOKAHEAD || nn_mel2mel_lookahead(m->m2m) < 0) {
        snprintf(why, sizeof why, "unsupported Mel2Mel shape (n_mels %d, look-ahead %d > %d)",
                 nn_mel2mel_n_mels(m->m2m), nn_mel2mel_lookahead(m->m2m), ENHANCE_LOOKAHEAD);
        goto fail;
    }
    m->stream = nn_m2m_stream_create(m->m2m);
    if (!m->stream) {
        snprintf(why, sizeof why, "out of memory for the streaming state");
        goto fail;
    }
    char voc[256] = "no vocoder";
    if (st_meta(m->file, "diffwave")) load_vocoder(m, voc, sizeof voc);
    snprintf(m->desc, sizeof m->desc, "%s: %s; %s", path, nn_mel2mel_describe(m->m2m), voc);
    return m;
fail:
    set_err(err, errlen, "cannot use model %s: %s", path, why);
    menhance_model_free(m);
    return NULL;
}

void menhance_model_free(menhance_model *m) {
    if (!m) return;
    nn_diffwave_stream_free(m->dws);
    nn_diffwave_free(m->dw);
    nn_m2m_stream_destroy(m->stream);
    if (!m->borrowed) nn_mel2mel_free(m->m2m);
    st_close(m->file);
    free(m);
}

menhance_model *model_twin(const menhance_model *m) {
    if (!m || !m->stream) return NULL;
    menhance_model *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->m2m = m->m2m;
    t->borrowed = 1;
    t->stream = nn_m2m_stream_create(m->m2m);
    if (!t->stream) {
        free(t);
        return NULL;
    }
    memcpy(t->desc, m->desc, sizeof t->desc); /* a twin describes itself as its original */
    return t;
}

const float *model_heads(const menhance_model *m) {
    return m && m->stream ? nn_m2m_stream_heads(m->stream) : NULL;
}

const char *menhance_model_describe(const menhance_model *m) {
    return m ? m->desc : "none";
}

int model_has_mel2mel(const menhance_model *m) {
    return m && m->stream;
}
int model_lookahead(const menhance_model *m) {
    return nn_mel2mel_lookahead(m->m2m);
}

int model_mel2mel_frame(menhance_model *m, const float *logmel, const float *cf, float *clean) {
    nn_m2m_stream_process_cf(m->stream, logmel, cf, 1, clean);
    return ++m->frames > nn_mel2mel_lookahead(m->m2m);
}

int model_floor(const menhance_model *m, float *out) {
    return m && m->stream && nn_m2m_stream_floor(m->stream, out) > 0;
}

void model_pin_floor(menhance_model *m, const float *floor) {
    if (m && m->stream) nn_m2m_stream_pin_floor(m->stream, floor);
}

void model_set_strength(menhance_model *m, const float k[3]) {
    if (m && m->stream) nn_m2m_stream_set_strength(m->stream, k);
}

void model_reset(menhance_model *m) {
    if (!m || !m->stream) return;
    nn_m2m_stream_reset(m->stream);
    m->frames = 0;
}

int model_has_vocoder(const menhance_model *m) {
    return m && m->dws;
}
int model_vocoder_latency(const menhance_model *m) {
    return m->dw_latency;
}

int model_vocoder_is_refiner(const menhance_model *m) {
    return m && m->dws && m->refiner;
}

/* The streams are sized for one frame per call, so these calls cannot fail; silence if they did. */
void model_vocoder_frame(menhance_model *m, const float *logmel, float *out) {
    if (nn_diffwave_stream_process(m->dws, logmel, 1, out) < 0)
        memset(out, 0, sizeof(float) * ENHANCE_HOP);
}

void model_refine_frame(menhance_model *m, const float *logmel, const float *prior, float *out) {
    if (nn_diffwave_stream_process_prior(m->dws, logmel, prior, 1, out) < 0)
        memset(out, 0, sizeof(float) * ENHANCE_HOP);
}

/* A fixed seed: a synchronous run must give the same audio every time. */
void model_vocoder_reset(menhance_model *m) {
    if (m && m->dws) nn_diffwave_stream_reset(m->dws, 1);
}

int menhance_model_has_vocoder(const menhance_model *m) {
    return model_has_vocoder(m);
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int menhance_default_model_path(char *buf, size_t len) {
    static const char *const names[] = {"menhance.safetensors"};
    /* An explicit $MENHANCE_MODEL_DIR is the only place searched (tests, relocated installs).
     * MENHANCE_BUILD_MODEL_DIR (the checkout's models/) is defined for the build tree's own
     * binaries only: installed copies are built without it, so they never depend on the
     * checkout they came from. */
    const char *env = getenv("MENHANCE_MODEL_DIR");
    const char *dirs[2] = {MENHANCE_DATADIR "/models",
#ifdef MENHANCE_BUILD_MODEL_DIR
                           MENHANCE_BUILD_MODEL_DIR
#else
                           NULL
#endif
    };
    if (env) {
        dirs[0] = env;
        dirs[1] = NULL;
    }
    for (int d = 0; d < 2; d++) {
        if (!dirs[d] || !*dirs[d]) continue;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            int w = snprintf(buf, len, "%s/%s", dirs[d], names[i]);
            if (w > 0 && (size_t)w < len && file_exists(buf)) return 1;
        }
    }
    if (len) buf[0] = '\0';
    return 0;
}
