/* Offline reference path (see offline.h). */
#include "engine/offline.h"

#include "dsp/mel.h"
#include "dsp/resample.h"
#include "dsp/stft.h"
#include "engine/features.h"
#include "engine/frontend_eq.h"
#include "engine/menhance.h"
#include "nn/diffwave.h"
#include "nn/mel2mel.h"
#include "nn/safetensors.h"
#include "dsp/griffinlim.h"
#include "engine/channel_levels.h"
#include "engine/hiband.h"
#include "engine/vocoder_gate.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    NFFT = 1023,
    HOP = 256,
    BINS = NFFT / 2 + 1,
    N_MELS = 128,
    /* best speexdsp filters: offline, the cost is negligible next to the networks */
    RS_QUALITY = 10,
    DEFAULT_WINDOW = 512,
    DEFAULT_OVERLAP = 32,
    /* the resnet's reflect paddings and stride-2 levels need a few frames */
    RESNET_MIN_FRAMES = 32,
    DW_CHUNK = 16,
};
_Static_assert(NFFT == FRONTEND_EQ_NFFT, "engine/frontend_eq.h and the offline STFT differ");

struct menhance_offline {
    st_file *m2m_file, *voc_file; /* voc_file may be m2m_file */
    nn_mel2mel *m2m;
    nn_diffwave *dw;
    int fast;           /* 1: the model's fast schedule */
    double *betas;      /* respaced schedule, or NULL */
    int n_betas, steps; /* steps actually run */
    int gl_iters;       /* Griffin-Lim when dw is NULL */
    int window, overlap;
    unsigned long long seed;
    int keep_peaks;
    double ceiling_gain_db; /* what the last process did to keep the peak under the ceiling */
    char desc[1024];
};

/* -1 dBFS: the live limiter's -1 dBTP ceiling, as a sample peak. */
#define PEAK_CEILING 0.89125094f

/* The whole clip is known: one gain keeps its peak under the ceiling, no limiting. */
static double lower_to_ceiling(float *out, long long n) {
    float peak = 0.0f;
    for (long long i = 0; i < n; i++)
        peak = fmaxf(peak, fabsf(out[i]));
    if (!(peak > PEAK_CEILING)) return 0.0;
    const float g = PEAK_CEILING / peak;
    for (long long i = 0; i < n; i++)
        out[i] *= g;
    return 20.0 * log10(g);
}

static void set_err(char *err, size_t len, const char *fmt, ...) {
    if (!err || !len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* ---- resampling with the delay removed ---- */

/* Streams (pad zeros, x[0..n), zeros...) through r and keeps outputs [skip, skip + want). */
static int resample_run(resampler *r, const float *x, long n, long pad, long skip, long want,
                        float *out) {
    enum { IN_CHUNK = 1024, OUT_CAP = 12 * IN_CHUNK + 256 };
    float ib[IN_CHUNK];
    float *ob = malloc(sizeof *ob * OUT_CAP);
    if (!ob) return -1;
    long pos = 0, got = 0;
    int stall = 0;
    while (got < skip + want) {
        for (int i = 0; i < IN_CHUNK; i++) {
            long j = pos + i - pad;
            ib[i] = j >= 0 && j < n ? x[j] : 0.0f;
        }
        int il = IN_CHUNK, ol = OUT_CAP;
        resampler_process(r, ib, &il, ob, &ol);
        pos += il;
        for (int i = 0; i < ol; i++) {
            long k = got + i - skip;
            if (k >= 0 && k < want) out[k] = ob[i];
        }
        got += ol;
        stall = il == 0 && ol == 0 ? stall + 1 : 0;
        if (stall > 4) {
            free(ob);
            return -1;
        }
    }
    free(ob);
    return 0;
}

/* Output sample j of r is the input at time j * in / out - delay (dsp/resample.h).  Delaying
 * the input by e = resampler_integer_pad() zeros makes (delay + e) a whole number s of
 * output samples; dropping those s outputs leaves output j = input at j * in / out, exactly. */
static int resample_aligned(int in_rate, int out_rate, const float *x, long n, long want,
                            float *out) {
    resampler *r = resampler_create(in_rate, out_rate, RS_QUALITY);
    if (!r) return -1;
    long d = resampler_delay(r), e = resampler_integer_pad(r);
    long num = (d + e) * (long)out_rate;
    int rc = -1;
    if (num % in_rate == 0) rc = resample_run(r, x, n, e, num / in_rate, want, out);
    resampler_destroy(r);
    return rc;
}

float *offline_to_model_rate(const float *in, long frames, int channels, int rate, long *n16) {
    if (frames < 1 || channels < 1 || rate < 1) return NULL;
    long n = (long)(((long long)frames * OFFLINE_RATE + rate - 1) / rate);
    float *mono = malloc(sizeof *mono * (size_t)frames), *y = malloc(sizeof *y * (size_t)n);
    if (!mono || !y) goto fail;
    for (long i = 0; i < frames; i++) {
        float s = 0.0f;
        for (int c = 0; c < channels; c++)
            s += in[(size_t)i * channels + c];
        mono[i] = s / (float)channels;
    }
    if (resample_aligned(rate, OFFLINE_RATE, mono, frames, n, y) != 0) goto fail;
    free(mono);
    *n16 = n;
    return y;
fail:
    free(mono);
    free(y);
    return NULL;
}

int offline_from_model_rate(const float *x16, long n16, int rate, int channels, long frames,
                            float *out) {
    float *y = malloc(sizeof *y * (size_t)(frames > 0 ? frames : 1));
    if (!y || frames < 1 || channels < 1 ||
        resample_aligned(OFFLINE_RATE, rate, x16, n16, frames, y) != 0) {
        free(y);
        return -1;
    }
    for (long i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++)
            out[(size_t)i * channels + c] = y[i];
    free(y);
    return 0;
}

/* ---- loading ---- */

/* The networks only make sense on the features they were trained on; files written before
 * the "frontend" key existed (test models) are taken as the reference front end. */
static int check_frontend(const st_file *f, const char *path, char *err, size_t errlen) {
    const char *js = st_meta(f, "frontend");
    if (!js) return 0;
    cJSON *j = cJSON_Parse(js);
    if (!j) {
        set_err(err, errlen, "%s: \"frontend\" metadata is not valid JSON", path);
        return -1;
    }
    static const struct {
        const char *key;
        double want;
    } need[] = {{"sample_rate", OFFLINE_RATE},
                {"n_fft", NFFT},
                {"hop", HOP},
                {"n_mels", N_MELS},
                {"fmin", 0.0},
                {"fmax", 8000.0}};
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof need / sizeof need[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, need[i].key);
        if (cJSON_IsNumber(v) && fabs(v->valuedouble - need[i].want) > 1e-6 * fabs(need[i].want)) {
            set_err(err, errlen, "%s: front end mismatch: %s is %g, this tool computes %g", path,
                    need[i].key, v->valuedouble, need[i].want);
            rc = -1;
        }
    }
    cJSON_Delete(j);
    return rc;
}

static st_file *open_model(const char *path, char *err, size_t errlen) {
    char why[256] = "";
    st_file *f = st_open(path, why, sizeof why);
    if (!f) set_err(err, errlen, "cannot read model %s: %s", path, why);
    return f;
}

/* The training schedule's betas from the "diffwave" metadata (not in nn_diffwave_info). */
static double *train_betas(const st_file *f, int *n) {
    cJSON *j = cJSON_Parse(st_meta(f, "diffwave"));
    const cJSON *a = j ? cJSON_GetObjectItemCaseSensitive(j, "betas_train") : NULL;
    double *b = NULL;
    *n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    if (*n > 0 && (b = malloc(sizeof *b * (size_t)*n))) {
        int i = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, a) b[i++] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
    cJSON_Delete(j);
    return b;
}

/* S steps respaced from the training schedule (Nichol & Dhariwal's skip-step sampling): step
 * n lands exactly on training step t_n = round((n + 1) * T / S) - 1, its beta chosen so the
 * cumulative alpha matches the training one there.  The tiny margins keep each cumulative
 * alpha inside the interval the sampler's step lookup searches, despite rounding. */
static double *respaced_betas(const double *bt, int T, int S) {
    double *b = malloc(sizeof *b * (size_t)S), *tac = malloc(sizeof *tac * (size_t)T);
    if (!b || !tac) {
        free(b);
        free(tac);
        return NULL;
    }
    double acc = 1.0;
    for (int t = 0; t < T; t++)
        tac[t] = acc *= 1.0 - bt[t];
    double prev = 1.0;
    for (int n = 0; n < S; n++) {
        int t = (int)lround((double)(n + 1) * T / S) - 1;
        double target = tac[t] * (t == T - 1 ? 1.0 + 1e-12 : 1.0 - 1e-12);
        b[n] = 1.0 - target / prev;
        prev = target;
    }
    free(tac);
    return b;
}

static int setup_steps(menhance_offline *o, int steps, char *err, size_t errlen) {
    const nn_diffwave_info *in = nn_diffwave_get_info(o->dw);
    if (steps == 0 || steps == in->max_steps) {
        o->fast = 0;
        o->steps = in->max_steps;
        return 0;
    }
    if (steps == in->n_fast_steps) {
        o->fast = 1;
        o->steps = steps;
        return 0;
    }
    if (steps < 1 || steps > in->max_steps) {
        set_err(err, errlen, "--steps %d: this DiffWave was trained with %d steps (use 1..%d)",
                steps, in->max_steps, in->max_steps);
        return -1;
    }
    int nt = 0;
    double *bt = train_betas(o->voc_file, &nt);
    int ok = bt && nt == in->max_steps;
    if (ok) o->betas = respaced_betas(bt, nt, steps);
    if (ok && o->betas) {
        double *al = malloc(sizeof *al * (size_t)steps), *ac = malloc(sizeof *ac * (size_t)steps);
        float *tt = malloc(sizeof *tt * (size_t)steps);
        ok = al && ac && tt && nn_diffwave_schedule(bt, nt, o->betas, steps, al, ac, tt) == 0;
        free(al);
        free(ac);
        free(tt);
    }
    free(bt);
    if (!ok || !o->betas) {
        set_err(err, errlen, "--steps %d: cannot derive a schedule from the model's metadata",
                steps);
        return -1;
    }
    o->n_betas = o->steps = steps;
    return 0;
}

void menhance_offline_destroy(menhance_offline *o) {
    if (!o) return;
    nn_mel2mel_free(o->m2m);
    nn_diffwave_free(o->dw);
    if (o->voc_file != o->m2m_file) st_close(o->voc_file);
    st_close(o->m2m_file);
    free(o->betas);
    free(o);
}

const char *menhance_offline_describe(const menhance_offline *o) {
    return o ? o->desc : "none";
}

menhance_offline *menhance_offline_create(const menhance_offline_config *cfg, char *err,
                                          size_t errlen, char *warn, size_t warnlen) {
    char def[PATH_MAX], why[256] = "", reason[PATH_MAX + 128] = "";
    const char *hint = "";
    const char *m2m_path = cfg->mel2mel_path;
    int have_default = menhance_default_model_path(def, sizeof def);
    if (warn && warnlen) warn[0] = 0;
    menhance_offline *o = calloc(1, sizeof *o);
    if (!o) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    o->window = cfg->window > 0 ? cfg->window : DEFAULT_WINDOW;
    o->overlap = cfg->overlap > 0 ? cfg->overlap : DEFAULT_OVERLAP;
    if (o->overlap > o->window / 2) o->overlap = o->window / 2;
    o->seed = cfg->seed ? cfg->seed : 1;
    o->keep_peaks = cfg->keep_peaks;

    if (m2m_path && !strcmp(m2m_path, "none")) {
        m2m_path = NULL;
    } else {
        if (!m2m_path && !have_default) {
            set_err(err, errlen,
                    "no default model found (use --mel2mel PATH, --mel2mel none, or set "
                    "MENHANCE_MODEL_DIR)");
            goto fail;
        }
        if (!m2m_path) m2m_path = def;
        if (!(o->m2m_file = open_model(m2m_path, err, errlen))) goto fail;
        if (!st_meta(o->m2m_file, "mel2mel")) {
            set_err(err, errlen, "%s holds no Mel2Mel network (no \"mel2mel\" metadata)", m2m_path);
            goto fail;
        }
        if (check_frontend(o->m2m_file, m2m_path, err, errlen)) goto fail;
        if (!(o->m2m = nn_mel2mel_load(o->m2m_file, why, sizeof why))) {
            set_err(err, errlen, "cannot use Mel2Mel in %s: %s", m2m_path, why);
            goto fail;
        }
        if (nn_mel2mel_n_mels(o->m2m) != N_MELS) {
            set_err(err, errlen, "%s: Mel2Mel takes %d mel bands, the front end makes %d", m2m_path,
                    nn_mel2mel_n_mels(o->m2m), N_MELS);
            goto fail;
        }
    }

    /* Vocoder: explicit file, else the Mel2Mel file (or the default model) if it has one. */
    const char *voc_path = cfg->vocoder_path;
    if (cfg->griffin_lim > 0) {
        o->gl_iters = cfg->griffin_lim;
    } else {
        const char *src = voc_path ? voc_path : m2m_path ? m2m_path : have_default ? def : NULL;
        if (src && o->m2m_file && !strcmp(src, m2m_path)) {
            o->voc_file = o->m2m_file;
        } else if (src && !(o->voc_file = open_model(src, err, errlen))) {
            if (voc_path) goto fail;
            o->voc_file = NULL; /* the default model is unreadable: Griffin-Lim below */
        }
        if (o->voc_file && st_meta(o->voc_file, "refiner")) {
            /* A refiner (train/refiner.py) corrects mode 1's waveform; started from noise, as this
             * path runs a vocoder, it would make noise.  Mode 2 of the live engine runs it. */
            if (voc_path) {
                set_err(err, errlen,
                        "%s holds a mode-2 refiner, not a vocoder from the mel (live mode 2 "
                        "runs it: --mode vocoder)",
                        voc_path);
                goto fail;
            }
            if (o->voc_file != o->m2m_file) st_close(o->voc_file);
            o->voc_file = NULL;
            snprintf(reason, sizeof reason,
                     "the DiffWave in %s is a mode-2 refiner (--mode vocoder runs it), not a "
                     "vocoder from the mel",
                     src);
        } else if (o->voc_file && !st_meta(o->voc_file, "diffwave")) {
            if (voc_path) {
                set_err(err, errlen, "%s holds no DiffWave vocoder (no \"diffwave\" metadata)",
                        voc_path);
                goto fail;
            }
            if (o->voc_file != o->m2m_file) st_close(o->voc_file);
            o->voc_file = NULL;
        }
        if (!o->voc_file) {
            if (!reason[0])
                snprintf(reason, sizeof reason, "no DiffWave vocoder in %s",
                         src ? src : "the default model (none found)");
        } else {
            /* A wrong file or --steps is an error whether or not the vocoder then runs. */
            if (o->voc_file != o->m2m_file && check_frontend(o->voc_file, src, err, errlen))
                goto fail;
            if (!(o->dw = nn_diffwave_load(o->voc_file, why, sizeof why))) {
                set_err(err, errlen, "cannot use DiffWave in %s: %s", src, why);
                goto fail;
            }
            const nn_diffwave_info *in = nn_diffwave_get_info(o->dw);
            if (in->n_mels != N_MELS || in->hop != HOP) {
                set_err(err, errlen,
                        "%s: DiffWave takes %d mels at hop %d, the front end makes %d at %d", src,
                        in->n_mels, in->hop, N_MELS, HOP);
                goto fail;
            }
            if (setup_steps(o, cfg->steps, err, errlen)) goto fail;
            if (!cfg->experimental_vocoder && !vocoder_gate_passed(o->voc_file)) {
                /* An under-trained DiffWave returns noise that does not follow the input. */
                snprintf(reason, sizeof reason,
                         "the DiffWave vocoder in %s has not passed its quality gate", src);
                hint = " (--experimental-vocoder runs it)";
                nn_diffwave_free(o->dw);
                o->dw = NULL;
                free(o->betas);
                o->betas = NULL;
                if (o->voc_file != o->m2m_file) st_close(o->voc_file);
                o->voc_file = NULL;
            }
        }
        if (!o->dw) {
            if (cfg->strict) {
                set_err(err, errlen, "%s; --strict refuses the fallback to Griffin-Lim%s", reason,
                        hint);
                goto fail;
            }
            o->gl_iters = MENHANCE_OFFLINE_DEFAULT_GL_ITERS;
            if (warn && warnlen)
                snprintf(warn, warnlen, "%s; using Griffin-Lim (%d iterations)%s", reason,
                         o->gl_iters, hint);
        }
    }

    char a[400], b[300];
    if (o->m2m)
        snprintf(a, sizeof a, "%s", nn_mel2mel_describe(o->m2m));
    else
        snprintf(a, sizeof a, "no Mel2Mel (resynthesis)");
    if (o->dw) {
        const nn_diffwave_info *in = nn_diffwave_get_info(o->dw);
        snprintf(b, sizeof b, "DiffWave L=%d C=%d (%.2f M params), %d steps (%s)", in->layers,
                 in->channels, in->params / 1e6, o->steps,
                 o->betas  ? "respaced training schedule"
                 : o->fast ? "fast schedule"
                           : "full training schedule");
    } else {
        snprintf(b, sizeof b, "Griffin-Lim, %d iterations", o->gl_iters);
    }
    snprintf(o->desc, sizeof o->desc, "%s; %s", a, b);
    return o;
fail:
    menhance_offline_destroy(o);
    return NULL;
}

/* ---- processing ---- */

typedef struct {
    menhance_progress_fn fn;
    void *user;
    double lo, hi;
} span_progress;

static void report(void *user, double f) {
    span_progress *p = user;
    if (p->fn) p->fn(p->user, p->lo + (p->hi - p->lo) * (f < 0 ? 0 : f > 1 ? 1 : f));
}

/* Resnet Mel2Mel over a window of n frames; short windows are edge-padded to the minimum. */
static int resnet_window(nn_m2m_offline *r, const float *in, int n, float *out, float *pad) {
    if (n >= RESNET_MIN_FRAMES) return nn_m2m_offline_process(r, in, n, out);
    for (int t = 0; t < RESNET_MIN_FRAMES; t++)
        memcpy(pad + (size_t)t * N_MELS, in + (size_t)(t < n ? t : n - 1) * N_MELS,
               sizeof(float) * N_MELS);
    float *tmp = pad + (size_t)RESNET_MIN_FRAMES * N_MELS;
    if (nn_m2m_offline_process(r, pad, RESNET_MIN_FRAMES, tmp)) return -1;
    memcpy(out, tmp, sizeof(float) * (size_t)n * N_MELS);
    return 0;
}

/* Streaming models run over the whole clip (exact, memory linear in T).  The resnet normalises
 * over whatever it sees, so long clips go in windows whose outputs are crossfaded (linear
 * ramps over the overlap, weights normalised to one). */
static int run_mel2mel(menhance_offline *o, const float *in, const float *cf, int T, float *out,
                       span_progress *pr) {
    const nn_mel2mel *net = o->m2m;
    if (nn_mel2mel_streaming(net)) {
        nn_m2m_offline *r = nn_m2m_offline_create(net, T);
        int rc = r ? nn_m2m_offline_process_cf(r, in, cf, T, out) : -1;
        nn_m2m_offline_destroy(r);
        report(pr, 1.0);
        return rc;
    }
    const int W = T < o->window ? T : o->window, OV = o->overlap, step = W - OV;
    const int cap = W > RESNET_MIN_FRAMES ? W : RESNET_MIN_FRAMES;
    nn_m2m_offline *r = nn_m2m_offline_create(net, cap);
    float *y = malloc(sizeof *y * (size_t)W * N_MELS);
    float *pad = malloc(sizeof *pad * (size_t)2 * RESNET_MIN_FRAMES * N_MELS);
    double *acc = calloc((size_t)T * N_MELS, sizeof *acc), *wsum = calloc((size_t)T, sizeof *wsum);
    int rc = -1;
    if (!r || !y || !pad || !acc || !wsum) goto done;
    for (int s = 0;; s += step) {
        if (s + W > T) s = T - W; /* the last window ends with the clip */
        if (resnet_window(r, in + (size_t)s * N_MELS, W, y, pad)) goto done;
        for (int i = 0; i < W; i++) {
            double w = 1.0;
            if (s > 0 && i < OV) w = (i + 0.5) / OV;
            if (s + W < T && i >= W - OV) w = fmin(w, (W - i - 0.5) / OV);
            wsum[s + i] += w;
            for (int m = 0; m < N_MELS; m++)
                acc[(size_t)(s + i) * N_MELS + m] += w * y[(size_t)i * N_MELS + m];
        }
        report(pr, (double)(s + W) / T);
        if (s + W >= T) break;
    }
    for (int t = 0; t < T; t++)
        for (int m = 0; m < N_MELS; m++)
            out[(size_t)t * N_MELS + m] = (float)(acc[(size_t)t * N_MELS + m] / wsum[t]);
    rc = 0;
done:
    nn_m2m_offline_destroy(r);
    free(y);
    free(pad);
    free(acc);
    free(wsum);
    return rc;
}

/* DiffWave through its streaming runner (so progress can be reported), latency dropped. */
static int run_diffwave(menhance_offline *o, const float *mel, int T, float *y, long n,
                        span_progress *pr, char *err, size_t errlen) {
    nn_diffwave_stream_config c;
    nn_diffwave_stream_config_default(&c);
    c.fast = o->fast;
    c.betas = o->betas;
    c.n_betas = o->n_betas;
    c.max_frames = DW_CHUNK;
    c.seed = o->seed;
    nn_diffwave_stream *s = nn_diffwave_stream_create(o->dw, &c, err, errlen);
    if (!s) return -1;
    const long lat = nn_diffwave_lookahead(o->dw, o->steps), total = (long)T * HOP + lat;
    float *buf = malloc(sizeof *buf * (size_t)total);
    long w = 0;
    int rc = buf ? 0 : -1;
    for (int f = 0; f < T && rc >= 0; f += DW_CHUNK) {
        int k = T - f < DW_CHUNK ? T - f : DW_CHUNK;
        rc = nn_diffwave_stream_process(s, mel + (size_t)f * N_MELS, k, buf + w);
        w += rc;
        report(pr, (double)(f + k) / T);
    }
    if (rc >= 0) rc = nn_diffwave_stream_finish(s, buf + w);
    if (rc >= 0 && w + rc != total) rc = -1;
    if (rc >= 0)
        memcpy(y, buf + lat, sizeof *y * (size_t)n);
    else
        set_err(err, errlen, "diffwave: vocoding failed");
    free(buf);
    nn_diffwave_stream_free(s);
    return rc < 0 ? -1 : 0;
}

/* The vocoded 16 kHz mono result v (at the host rate) into each channel, as the live engine's
 * mode 2 does (engine/enhance.c vocode()): each channel keeps its own difference from the
 * channels' common 16 kHz part and takes v at its own level, and keeps its own band above 8 kHz,
 * denoised as the live path denoises it (engine/hiband.c at the default strength and Max
 * attenuation):
 *     out_c = lo_c - k_c m + r_c v + hiband(x_c - lo_c)
 * with lo_c the channel through the 16 kHz round trip (what the 16 kHz path carries, aligned
 * with v), m the channels' mean of lo_c, and k_c, r_c the channel's level over m's and over the
 * channels' mean level per 16 ms block (interpolated across it; 0 for a silent channel).  A
 * vocoder that gave back m would give back the input.  Returns 0, or -1 out of memory. */
static int keep_channels_and_band(const float *in, long frames, int C, int rate, const float *v,
                                  float *out) {
    const long B = (long)rate * HOP / OFFLINE_RATE; /* one 16 kHz hop at the host rate */
    long n16 = 0;
    float *lo = malloc(sizeof *lo * (size_t)frames * C), *x = malloc(sizeof *x * (size_t)frames);
    float *m = calloc((size_t)frames, sizeof *m);
    float *hi[8] = {NULL};
    int rc = lo && x && m ? 0 : -1;
    for (int c = 0; c < C && rc == 0; c++) {
        for (long i = 0; i < frames; i++)
            x[i] = in[(size_t)i * C + c];
        float *x16 = offline_to_model_rate(x, frames, 1, rate, &n16);
        float *l = lo + (size_t)c * frames;
        rc = x16 && !offline_from_model_rate(x16, n16, rate, 1, frames, l) ? 0 : -1;
        free(x16);
        hi[c] = malloc(sizeof(float) * (size_t)frames);
        if (rc || !hi[c]) {
            rc = -1;
            break;
        }
        for (long i = 0; i < frames; i++) {
            hi[c][i] = x[i] - l[i];
            m[i] += l[i] / (float)C;
        }
    }
    /* the band above 8 kHz: stereo-linked in pairs, as the live engine links its two channels */
    for (int c = 0; c < C && rc == 0; c += 2) {
        const int w = C - c >= 2 ? 2 : 1;
        hiband *hb = hiband_create(rate, w);
        menhance_params p;
        menhance_params_default(&p);
        if (!hb) {
            rc = -1;
            break;
        }
        hiband_set(hb, p.strength, p.max_atten_db);
        for (long i0 = 0; i0 < frames; i0 += 4096) {
            const int n = (int)(frames - i0 < 4096 ? frames - i0 : 4096);
            float *blk[2] = {hi[c] + i0, w == 2 ? hi[c + 1] + i0 : NULL};
            hiband_process(hb, blk, n);
        }
        hiband_destroy(hb);
    }
    float k0[8], r0[8];
    for (long b0 = 0; b0 < frames && rc == 0; b0 += B) {
        const long n = frames - b0 < B ? frames - b0 : B;
        double em = 0.0, ec[8] = {0.0};
        for (long i = b0; i < b0 + n; i++) {
            em += (double)m[i] * m[i];
            for (int c = 0; c < C; c++)
                ec[c] += (double)lo[(size_t)c * frames + i] * lo[(size_t)c * frames + i];
        }
        float k1[8], r1[8];
        channel_levels(ec, em, C, k1, r1);
        for (int c = 0; c < C; c++) {
            if (b0 == 0) k0[c] = k1[c], r0[c] = r1[c];
            for (long i = b0; i < b0 + n; i++) {
                const float a = (float)(i - b0 + 1) / (float)n;
                const float kk = k0[c] + (k1[c] - k0[c]) * a, rr = r0[c] + (r1[c] - r0[c]) * a;
                out[(size_t)i * C + c] =
                    lo[(size_t)c * frames + i] - kk * m[i] + rr * v[i] + hi[c][i];
            }
            k0[c] = k1[c];
            r0[c] = r1[c];
        }
    }
    for (int c = 0; c < C; c++)
        free(hi[c]);
    free(lo);
    free(x);
    free(m);
    return rc;
}

/* Digital silence in a channel (exact zeros: a muted channel, silence an editor inserted)
 * is nothing to enhance, yet a vocoder or Mel2Mel turns its mel floor into noise, and the mono
 * result would fill a silent channel.  Each output sample is kept while its channel's input
 * has sound within SMEAR_S (one 1023-sample analysis frame at 16 kHz plus the resamplers'
 * filters), faded out over FADE_S beyond that, and exactly zero further away. */
static int keep_digital_silence(const float *in, long frames, int channels, int rate, float *out) {
    static const double SMEAR_S = 0.040, FADE_S = 0.010;
    const long smear = (long)ceil(SMEAR_S * rate), fade = (long)ceil(FADE_S * rate);
    long *dist = malloc(sizeof *dist * (size_t)frames);
    if (!dist) return -1;
    for (int c = 0; c < channels; c++) {
        long last = -1; /* distance to the nearest sound before, then after, each sample */
        for (long i = 0; i < frames; i++) {
            if (in[(size_t)i * channels + c] != 0.0f) last = i;
            dist[i] = last < 0 ? LONG_MAX : i - last;
        }
        last = -1;
        for (long i = frames - 1; i >= 0; i--) {
            if (in[(size_t)i * channels + c] != 0.0f) last = i;
            long d = last < 0 ? LONG_MAX : last - i;
            if (d < dist[i]) dist[i] = d;
            float *y = &out[(size_t)i * channels + c];
            if (dist[i] >= smear + fade)
                *y = 0.0f;
            else if (dist[i] > smear)
                *y *= (float)(smear + fade - dist[i]) / (float)fade;
        }
    }
    free(dist);
    return 0;
}

int menhance_offline_process(menhance_offline *o, const float *in, long frames, int channels,
                             int rate, float *out, menhance_progress_fn fn, void *user, char *err,
                             size_t errlen) {
    if (o) o->ceiling_gain_db = 0.0;
    if (!o || frames < 1 || channels < 1 || channels > 8 || rate < 8000 || rate > 192000) {
        set_err(err, errlen, "offline: bad input (%ld frames, %d channels, %d Hz)", frames,
                channels, rate);
        return -1;
    }
    long n16 = 0;
    float *x = NULL, *power = NULL, *logmel = NULL, *clean = NULL, *y = NULL, *v = NULL, *cf = NULL;
    stft *st = NULL;
    mel *mb = NULL;
    int rc = -1;
    span_progress pr = {fn, user, 0.0, 0.0};
    if (!(x = offline_to_model_rate(in, frames, channels, rate, &n16))) goto oom;
    /* Centre framing reflects n_fft / 2 samples at each end: very short clips get silence
     * appended first (dropped again at the end). */
    const long n = n16 > NFFT / 2 + 1 ? n16 : NFFT / 2 + 1;
    if (n > n16) {
        float *t = realloc(x, sizeof *x * (size_t)n);
        if (!t) goto oom;
        x = t;
        memset(x + n16, 0, sizeof *x * (size_t)(n - n16));
    }
    if ((n - 1) / HOP + 1 > INT_MAX / BINS) {
        set_err(err, errlen, "offline: input too long");
        goto done;
    }
    st = stft_create(NFFT, HOP);
    mb = mel_create(OFFLINE_RATE, NFFT, N_MELS, 0.0f, OFFLINE_RATE / 2.0f);
    if (!st || !mb) goto oom;
    const int T = stft_offline_frames(st, (int)n);
    power = malloc(sizeof *power * (size_t)T * BINS);
    logmel = malloc(sizeof *logmel * (size_t)T * N_MELS);
    clean = malloc(sizeof *clean * (size_t)T * N_MELS);
    y = calloc((size_t)T * HOP, sizeof *y); /* T * HOP >= n */
    if (!power || !logmel || !clean || !y) goto oom;
    if (stft_power_offline(st, x, (int)n, power) != T) {
        set_err(err, errlen, "offline: front end failed");
        goto done;
    }
    /* The networks (Mel2Mel and DiffWave) were trained on features with soxr's band edge, not
     * this resampler's: the mel is computed from the power equalised to it. */
    float feq[FRONTEND_EQ_BINS];
    if (frontend_eq_measure(rate, RS_QUALITY, feq)) goto oom;
    for (int t = 0; t < T; t++) {
        float *p = power + (size_t)t * BINS;
        for (int k = 0; k < BINS; k++)
            p[k] *= feq[k];
        mel_log(mb, p, logmel + (size_t)t * N_MELS);
    }
    report(&pr, 0.0);

    pr.lo = 0.0;
    pr.hi = o->m2m ? (nn_mel2mel_streaming(o->m2m) ? 0.01 : 0.1) : 0.0;
    if (o->m2m) {
        /* a model that reads the classical suppressor's gain gets it as the live engine computes
         * it, on the same (unequalised) signal */
        if (nn_mel2mel_classical_input(o->m2m)) {
            if (!(cf = malloc(sizeof *cf * (size_t)T * N_MELS))) goto oom;
            if (features_classical_centred(x, n, cf) != T) {
                set_err(err, errlen, "offline: classical feature failed (out of memory?)");
                goto done;
            }
        }
        if (run_mel2mel(o, logmel, cf, T, clean, &pr)) {
            set_err(err, errlen, "offline: Mel2Mel failed (out of memory?)");
            goto done;
        }
    } else {
        memcpy(clean, logmel, sizeof *clean * (size_t)T * N_MELS);
    }
    pr.lo = pr.hi;
    pr.hi = 1.0;
    if (o->dw) {
        if (run_diffwave(o, clean, T, y, n, &pr, err, errlen)) goto done;
    } else if (griffinlim_vocode(clean, T, N_MELS, o->gl_iters, (unsigned)o->seed, y, n, report,
                                 &pr, err, errlen)) {
        goto done;
    }
    /* the vocoded result at the host rate, then into each channel with its own band above 8 kHz */
    v = malloc(sizeof *v * (size_t)frames);
    if (!v || offline_from_model_rate(y, n, rate, 1, frames, v)) goto oom;
    if (keep_channels_and_band(in, frames, channels, rate, v, out)) goto oom;
    if (keep_digital_silence(in, frames, channels, rate, out)) goto oom;
    o->ceiling_gain_db = o->keep_peaks ? 0.0 : lower_to_ceiling(out, (long long)frames * channels);
    rc = 0;
    goto done;
oom:
    set_err(err, errlen, "offline: out of memory");
done:
    free(x);
    free(power);
    free(logmel);
    free(cf);
    free(clean);
    free(y);
    free(v);
    stft_destroy(st);
    mel_destroy(mb);
    return rc;
}

double menhance_offline_ceiling_gain_db(const menhance_offline *o) {
    return o ? o->ceiling_gain_db : 0.0;
}
