/* Mel2Mel networks built from a safetensors file (see mel2mel.h and train/models.py, whose
 * state_dict names, prefixed with "mel2mel.", are the tensor names read here). */
#include "nn/mel2mel.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layers.h"

/* Limits that reject absurd metadata before anything is allocated from it. */
#define M2M_MAX_MELS 1024
#define M2M_MAX_CH 1024
#define M2M_MAX_BLOCKS 64
#define M2M_MAX_DILATION 256
#define M2M_MAX_LOOKAHEAD 8

enum { ARCH_RESNET, ARCH_GAIN, ARCH_NRT };
/* Heads of the "nrt" arch, in the order of their strengths: noise, room, tone. */
#define M2M_HEADS 3
#define M2M_MAX_BASIS 64

struct nn_mel2mel {
    int arch, n_mels;
    float eps;
    long long params;
    double macs;
    char desc[256];
    /* resnet */
    int ngf, n_blocks, n_down;
    layers_conv r_in, r_out, *r_down, *r_blk; /* r_blk: 2 per block */
    layers_convt *r_up;
    /* gain: residual blocks of causal dilated convs over time; weights [tap][in][out]
     * (conv1d_weight_t), tap 0 the oldest frame */
    int nblk, dil[M2M_MAX_BLOCKS], lookahead, kt;
    float mean, scale;
    int gch;
    float lift, cut, ema_alpha, floor_rise; /* lift/cut in log2 power units */
    float *g_win, *g_bin, *g_wout, *g_bout, *g_wc[M2M_MAX_BLOCKS], *g_bc[M2M_MAX_BLOCKS],
        *g_wp[M2M_MAX_BLOCKS], *g_bp[M2M_MAX_BLOCKS];
    /* nrt: the gain trunk with a fourth input feature (long-term tonal balance against the
     * corpus) and three heads instead of g_wout: noise and room (n_mels one-sided cuts each),
     * tone (nbasis coefficients, averaged over time, spread by the basis) */
    int nin, nbasis; /* input features (3 gain, 4 nrt, + classical_input, + decay_input); tone basis
                      * functions */
    int cin;         /* nrt: the fifth feature, the classical suppressor's log2 gain, is read */
    int dec;         /* nrt: the last feature, each band's steepest recent fall (decay cue) */
    float dec_alpha; /* its release per frame */
    int fwarm;       /* nrt: running means start as plain averages (train/models.py warmup_alpha) */
    float tone_lim, lt_alpha, tone_alpha;
    float *h_w[M2M_HEADS], *h_b[M2M_HEADS], *basis, *tilt;
    /* nrt's frequency-local branch (lch = 0: none): causal (time, band) convs 3x5 (nin -> lch) and
     * 3x3 with time dilation ldil (lch -> lch), then 1x1 (lch -> 2: noise, room), as PyTorch
     * stores them ([out][in][kt][kf]) */
    int lch, ldil;
    float *l1w, *l1b, *l2w, *l2b, *low, *lob;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------------------------- */
/* Loading                                                                                   */

typedef struct {
    const st_file *f;
    nn_mel2mel *net;
    char *err;
    size_t errlen;
    unsigned char *seen; /* per tensor of f: read by this loader */
} loader;

static const float *get_tensor(loader *L, const char *name, int ndim, const int64_t *shape) {
    char full[160], msg[224];
    snprintf(full, sizeof full, "mel2mel.%s", name);
    const float *t = st_tensor_f32(L->f, full, ndim, shape, msg, sizeof msg);
    if (!t) {
        set_err(L->err, L->errlen, "mel2mel: %s", msg);
        return NULL;
    }
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    L->net->params += n;
    int idx = st_tensor_index(L->f, full);
    if (L->seen && idx >= 0) L->seen[idx] = 1;
    return t;
}

/* conv dims already set in c; reads "<name>.weight" and "<name>.bias". */
static int load_conv(loader *L, const char *name, layers_conv *c) {
    char wn[128], bn[128];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    int64_t ws[4] = {c->cout, c->cin, c->kh, c->kw}, bs[1] = {c->cout};
    const float *w = get_tensor(L, wn, 4, ws), *b = w ? get_tensor(L, bn, 1, bs) : NULL;
    if (!b) return -1;
    if (layers_conv_init(c, w, b)) {
        set_err(L->err, L->errlen, "mel2mel: out of memory");
        return -1;
    }
    return 0;
}

static int load_convt(loader *L, const char *name, layers_convt *c) {
    char wn[128], bn[128];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    int64_t ws[4] = {c->cin, c->cout, c->kh, c->kw}, bs[1] = {c->cout};
    const float *w = get_tensor(L, wn, 4, ws), *b = w ? get_tensor(L, bn, 1, bs) : NULL;
    if (!b) return -1;
    if (layers_convt_init(c, w, b)) {
        set_err(L->err, L->errlen, "mel2mel: out of memory");
        return -1;
    }
    return 0;
}

static layers_conv conv_dims(int cin, int cout, int kh, int kw, int sh, int sw, int dh, int ph,
                             int pw, layers_pad padh, layers_pad padw) {
    layers_conv c = {.cin = cin,
                     .cout = cout,
                     .kh = kh,
                     .kw = kw,
                     .sh = sh,
                     .sw = sw,
                     .dh = dh,
                     .dw = 1,
                     .ph = ph,
                     .pw = pw,
                     .padh = padh,
                     .padw = padw};
    return c;
}

/* Reads an integer hyperparameter (default def when absent) and checks its range. */
static int json_int(loader *L, const cJSON *o, const char *key, int def, int lo, int hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        set_err(L->err, L->errlen, "mel2mel: metadata '%s' must be an integer in [%d, %d]", key, lo,
                hi);
        return -1;
    }
    *out = (int)v->valuedouble;
    return 0;
}

static int json_float(loader *L, const cJSON *o, const char *key, double def, double lo, double hi,
                      float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    double d = def;
    if (v) {
        if (!cJSON_IsNumber(v)) {
            set_err(L->err, L->errlen, "mel2mel: metadata '%s' must be a number", key);
            return -1;
        }
        d = v->valuedouble;
    }
    if (!(d >= lo && d <= hi)) {
        set_err(L->err, L->errlen, "mel2mel: metadata '%s' = %g outside [%g, %g]", key, d, lo, hi);
        return -1;
    }
    *out = (float)d;
    return 0;
}

/* Integer list; returns its length, or -1. */
static int json_int_list(loader *L, const cJSON *o, const char *key, const int *def, int ndef,
                         int maxlen, int lo, int hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        memcpy(out, def, (size_t)ndef * sizeof *out);
        return ndef;
    }
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (n < 0 || n > maxlen) {
        set_err(L->err, L->errlen, "mel2mel: metadata '%s' must be a list of at most %d", key,
                maxlen);
        return -1;
    }
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < lo ||
            e->valuedouble > hi) {
            set_err(L->err, L->errlen,
                    "mel2mel: metadata '%s' entries must be integers in [%d, %d]", key, lo, hi);
            return -1;
        }
        out[i] = (int)e->valuedouble;
    }
    return n;
}

static int load_resnet(loader *L, const cJSON *hp) {
    nn_mel2mel *n = L->net;
    if (json_int(L, hp, "ngf", 64, 1, 256, &n->ngf) ||
        json_int(L, hp, "n_blocks", 9, 0, M2M_MAX_BLOCKS, &n->n_blocks) ||
        json_int(L, hp, "n_down", 2, 0, 4, &n->n_down))
        return -1;
    if (n->n_mels % (1 << n->n_down)) {
        set_err(L->err, L->errlen, "mel2mel: n_mels %d not divisible by 2^n_down", n->n_mels);
        return -1;
    }
    const int D = n->n_down, ngf = n->ngf, top = ngf << D;
    n->r_down = calloc((size_t)D + 1, sizeof *n->r_down);
    n->r_up = calloc((size_t)D + 1, sizeof *n->r_up);
    n->r_blk = calloc(2 * (size_t)n->n_blocks + 1, sizeof *n->r_blk);
    if (!n->r_down || !n->r_up || !n->r_blk) {
        set_err(L->err, L->errlen, "mel2mel: out of memory");
        return -1;
    }
    char name[64];
    n->r_in = conv_dims(1, ngf, 7, 7, 1, 1, 1, 3, 3, LAYERS_PAD_REFLECT, LAYERS_PAD_REFLECT);
    if (load_conv(L, "conv_in", &n->r_in)) return -1;
    double F = n->n_mels, macs = F * ngf * 49;
    for (int i = 0; i < D; i++) {
        n->r_down[i] = conv_dims(ngf << i, ngf << (i + 1), 3, 3, 2, 2, 1, 1, 1, LAYERS_PAD_ZERO,
                                 LAYERS_PAD_ZERO);
        snprintf(name, sizeof name, "down.%d", i);
        if (load_conv(L, name, &n->r_down[i])) return -1;
        /* positions per input frame at level i+1: F / 2^(i+1) bins over 1 / 2^(i+1) frames */
        double pos = F / (double)(1 << (2 * (i + 1)));
        macs += 2 * pos * 9.0 * (ngf << i) * (ngf << (i + 1));
    }
    for (int j = 0; j < 2 * n->n_blocks; j++) {
        n->r_blk[j] =
            conv_dims(top, top, 3, 3, 1, 1, 1, 1, 1, LAYERS_PAD_REFLECT, LAYERS_PAD_REFLECT);
        snprintf(name, sizeof name, "blocks.%d.conv%d", j / 2, j % 2 + 1);
        if (load_conv(L, name, &n->r_blk[j])) return -1;
    }
    macs += 2.0 * n->n_blocks * (F / (double)(1 << (2 * D))) * 9.0 * top * top;
    for (int i = 0; i < D; i++) {
        layers_convt *c = &n->r_up[i];
        *c = (layers_convt){.cin = ngf << (D - i),
                            .cout = ngf << (D - i - 1),
                            .kh = 3,
                            .kw = 3,
                            .sh = 2,
                            .sw = 2,
                            .ph = 1,
                            .pw = 1,
                            .oph = 1,
                            .opw = 1};
        snprintf(name, sizeof name, "up.%d", i);
        if (load_convt(L, name, c)) return -1;
    }
    n->r_out = conv_dims(ngf, 1, 7, 7, 1, 1, 1, 3, 3, LAYERS_PAD_REFLECT, LAYERS_PAD_REFLECT);
    if (load_conv(L, "conv_out", &n->r_out)) return -1;
    n->macs = macs + F * ngf * 49;
    snprintf(n->desc, sizeof n->desc,
             "Mel2Mel resnet (offline): ngf %d, %d blocks, %d downsamplings, %lld params, %.1f "
             "MMAC/frame",
             ngf, n->n_blocks, D, n->params, n->macs / 1e6);
    return 0;
}

/* 1 log2 unit of power in dB (train/models.py DB_PER_LOG2). */
#define M2M_DB_PER_LOG2 3.0102999566398120

/* Reads a PyTorch Conv1d weight [out][in][k] and returns it as [k][in][out] (each output
 * channel contiguous: the frame-by-frame products run over outputs, which vectorises without
 * reordering any sum).  NULL with the loader's error. */
static float *conv1d_weight_t(loader *L, const char *name, int out, int in, int k) {
    int64_t shape[3] = {out, in, k};
    const float *t = get_tensor(L, name, 3, shape);
    if (!t) return NULL;
    float *w = malloc((size_t)out * in * k * sizeof *w);
    if (!w) {
        set_err(L->err, L->errlen, "mel2mel: out of memory");
        return NULL;
    }
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++)
            for (int j = 0; j < k; j++)
                w[((size_t)j * in + i) * out + o] = t[((size_t)o * in + i) * k + j];
    return w;
}

static float *bias_copy(loader *L, const char *name, int n) {
    int64_t shape[1] = {n};
    const float *t = get_tensor(L, name, 1, shape);
    float *b = t ? malloc((size_t)n * sizeof *b) : NULL;
    if (t && !b) set_err(L->err, L->errlen, "mel2mel: out of memory");
    if (b) memcpy(b, t, (size_t)n * sizeof *b);
    return b;
}

/* "gain" and "nrt" (train/models.py Mel2MelGain, Mel2MelNRT): the same trunk. */
/* A copy of a tensor (the network outlives nothing of the file); NULL with the loader's error. */
static float *tensor_copy(loader *L, const char *name, int ndim, const int64_t *shape) {
    const float *t = get_tensor(L, name, ndim, shape);
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    float *c = t ? malloc(n * sizeof *c) : NULL;
    if (t && !c) set_err(L->err, L->errlen, "mel2mel: out of memory");
    if (c) memcpy(c, t, n * sizeof *c);
    return c;
}

static int load_gain(loader *L, const cJSON *hp) {
    nn_mel2mel *n = L->net;
    const int nrt = n->arch == ARCH_NRT;
    static const int def_dil[] = {1, 2, 4, 8, 16, 32};
    n->nblk =
        json_int_list(L, hp, "dilations", def_dil, 6, M2M_MAX_BLOCKS, 1, M2M_MAX_DILATION, n->dil);
    if (n->nblk < 0) return -1;
    float lift_db = 0.0f, cut_db, tone_db = 0.0f;
    if (json_int(L, hp, "channels", 128, 1, M2M_MAX_CH, &n->gch) ||
        json_int(L, hp, "lookahead", 2, 0, M2M_MAX_LOOKAHEAD, &n->lookahead) ||
        json_int(L, hp, "kt", 3, 1, 7, &n->kt) ||
        json_float(L, hp, "norm_mean", -6.0, -1e3, 1e3, &n->mean) ||
        json_float(L, hp, "norm_scale", 0.25, 1e-6, 1e6, &n->scale) ||
        json_float(L, hp, "cut_db", 30.0, 0.0, 120.0, &cut_db) ||
        json_float(L, hp, "ema_alpha", 1.0 / 64.0, 1e-6, 1.0, &n->ema_alpha) ||
        json_float(L, hp, "floor_rise", 0.02, 0.0, 10.0, &n->floor_rise))
        return -1;
    if (!nrt && json_float(L, hp, "lift_db", 12.0, 0.0, 40.0, &lift_db)) return -1;
    if (nrt && (json_float(L, hp, "tone_db", 12.0, 0.1, 40.0, &tone_db) ||
                json_int(L, hp, "local_ch", 0, 0, 64, &n->lch) ||
                json_int(L, hp, "local_dil", 4, 1, 16, &n->ldil) ||
                json_int(L, hp, "n_basis", 16, 2, M2M_MAX_BASIS, &n->nbasis) ||
                json_float(L, hp, "lt_alpha", 1.0 / 512.0, 1e-6, 1.0, &n->lt_alpha) ||
                json_float(L, hp, "tone_alpha", 1.0 / 64.0, 1e-6, 1.0, &n->tone_alpha) ||
                json_int(L, hp, "feature_warmup", 0, 0, 1, &n->fwarm) ||
                json_int(L, hp, "classical_input", 0, 0, 1, &n->cin) ||
                json_int(L, hp, "decay_input", 0, 0, 1, &n->dec) ||
                json_float(L, hp, "decay_alpha", 1.0 / 64.0, 1e-6, 1.0, &n->dec_alpha)))
        return -1;
    n->lift = (float)(lift_db / M2M_DB_PER_LOG2);
    n->cut = (float)(cut_db / M2M_DB_PER_LOG2);
    n->tone_lim = (float)(tone_db / M2M_DB_PER_LOG2);
    n->nin = nrt ? 4 + n->cin + n->dec : 3;
    const int F = n->n_mels, C = n->gch, kt = n->kt, K = n->nbasis;
    if (!(n->g_win = conv1d_weight_t(L, "conv_in.weight", C, n->nin * F, 1)) ||
        !(n->g_bin = bias_copy(L, "conv_in.bias", C)))
        return -1;
    char name[64];
    for (int b = 0; b < n->nblk; b++) {
        snprintf(name, sizeof name, "blocks.%d.conv.weight", b);
        if (!(n->g_wc[b] = conv1d_weight_t(L, name, C, C, kt))) return -1;
        snprintf(name, sizeof name, "blocks.%d.conv.bias", b);
        if (!(n->g_bc[b] = bias_copy(L, name, C))) return -1;
        snprintf(name, sizeof name, "blocks.%d.proj.weight", b);
        if (!(n->g_wp[b] = conv1d_weight_t(L, name, C, C, 1))) return -1;
        snprintf(name, sizeof name, "blocks.%d.proj.bias", b);
        if (!(n->g_bp[b] = bias_copy(L, name, C))) return -1;
    }
    if (!nrt) {
        if (!(n->g_wout = conv1d_weight_t(L, "conv_out.weight", F, C, 1)) ||
            !(n->g_bout = bias_copy(L, "conv_out.bias", F)))
            return -1;
        n->macs = 3.0 * F * C + (double)n->nblk * (kt + 1) * C * C + (double)C * F;
        snprintf(n->desc, sizeof n->desc,
                 "Mel2Mel gain: %d channels, %d blocks, lookahead %d, gains -%.0f..+%.0f dB, %lld "
                 "params, %.2f MMAC/frame",
                 C, n->nblk, n->lookahead, cut_db, lift_db, n->params, n->macs / 1e6);
        return 0;
    }
    static const char *const head[M2M_HEADS] = {"noise_out", "room_out", "tone_out"};
    for (int h = 0; h < M2M_HEADS; h++) {
        const int M = h == 2 ? K : F;
        snprintf(name, sizeof name, "%s.weight", head[h]);
        if (!(n->h_w[h] = conv1d_weight_t(L, name, M, C, 1))) return -1;
        snprintf(name, sizeof name, "%s.bias", head[h]);
        if (!(n->h_b[h] = bias_copy(L, name, M))) return -1;
    }
    int64_t bs[2] = {K, F};
    const float *basis = get_tensor(L, "tone_basis", 2, bs);
    if (!basis || !(n->tilt = bias_copy(L, "corpus_tilt", F))) return -1;
    if (!(n->basis = malloc((size_t)K * F * sizeof *n->basis))) {
        set_err(L->err, L->errlen, "mel2mel: out of memory");
        return -1;
    }
    memcpy(n->basis, basis, (size_t)K * F * sizeof *n->basis);
    const int H = n->lch;
    if (H) {
        int64_t s1[4] = {H, n->nin, 3, 5}, s2[4] = {H, H, 3, 3}, so[4] = {2, H, 1, 1}, sb[1] = {H},
                sbo[1] = {2};
        if (!(n->l1w = tensor_copy(L, "local1.weight", 4, s1)) ||
            !(n->l1b = tensor_copy(L, "local1.bias", 1, sb)) ||
            !(n->l2w = tensor_copy(L, "local2.weight", 4, s2)) ||
            !(n->l2b = tensor_copy(L, "local2.bias", 1, sb)) ||
            !(n->low = tensor_copy(L, "local_out.weight", 4, so)) ||
            !(n->lob = tensor_copy(L, "local_out.bias", 1, sbo)))
            return -1;
    }
    n->macs = (double)n->nin * F * C + (double)n->nblk * (kt + 1) * C * C + 2.0 * C * F +
              (double)C * K + (double)K * F + (double)F * (n->nin * H * 15 + H * H * 9 + 2 * H);
    snprintf(n->desc, sizeof n->desc,
             "Mel2Mel noise/room/tone%s%s: %d channels, %d blocks, local branch %d, lookahead %d, "
             "cuts to -%.0f dB, tone +-%.0f dB (%d basis), %lld params, %.2f MMAC/frame",
             n->cin ? " (classical input)" : "", n->dec ? " (decay cue)" : "", C, n->nblk, n->lch,
             n->lookahead, cut_db, tone_db, K, n->params, n->macs / 1e6);
    return 0;
}

/* The front end is fixed in C (dsp/); a model trained on another mel size cannot run. */
static int check_frontend(loader *L) {
    const char *fe = st_meta(L->f, "frontend");
    if (!fe) return 0;
    cJSON *o = cJSON_Parse(fe);
    int ok = cJSON_IsObject(o), nm = L->net->n_mels;
    if (ok) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "n_mels");
        ok = !v || (cJSON_IsNumber(v) && v->valuedouble == nm);
    }
    cJSON_Delete(o);
    if (!ok)
        set_err(L->err, L->errlen, "mel2mel: 'frontend' metadata is not JSON or its n_mels != %d",
                nm);
    return ok ? 0 : -1;
}

nn_mel2mel *nn_mel2mel_load(const st_file *f, char *err, size_t errlen) {
    const char *meta = f ? st_meta(f, "mel2mel") : NULL;
    if (!meta) {
        set_err(err, errlen, "mel2mel: no 'mel2mel' metadata in the model file");
        return NULL;
    }
    cJSON *hp = cJSON_Parse(meta);
    if (!cJSON_IsObject(hp)) {
        set_err(err, errlen, "mel2mel: 'mel2mel' metadata is not a JSON object");
        cJSON_Delete(hp);
        return NULL;
    }
    nn_mel2mel *net = calloc(1, sizeof *net);
    loader L = {f, net, err, errlen, calloc((size_t)st_tensor_count(f) + 1, 1)};
    int rc = -1;
    if (!net || !L.seen) {
        set_err(err, errlen, "mel2mel: out of memory");
        goto done;
    }
    layers_init_blas();
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(hp, "arch");
    if (json_int(&L, hp, "n_mels", 128, 8, M2M_MAX_MELS, &net->n_mels) ||
        json_float(&L, hp, "eps", 1e-5, 1e-12, 1.0, &net->eps) || check_frontend(&L))
        goto done;
    if (cJSON_IsString(arch) && !strcmp(arch->valuestring, "resnet")) {
        net->arch = ARCH_RESNET;
        rc = load_resnet(&L, hp);
    } else if (cJSON_IsString(arch) && !strcmp(arch->valuestring, "stream")) {
        set_err(err, errlen,
                "mel2mel: the \"stream\" Mel2Mel was retired (a U-Net that ran through BLAS on "
                "the audio path); use a \"nrt\" model such as models/menhance.safetensors");
    } else if (cJSON_IsString(arch) && !strcmp(arch->valuestring, "gain")) {
        net->arch = ARCH_GAIN;
        rc = load_gain(&L, hp);
    } else if (cJSON_IsString(arch) && !strcmp(arch->valuestring, "nrt")) {
        net->arch = ARCH_NRT;
        rc = load_gain(&L, hp);
    } else {
        set_err(err, errlen, "mel2mel: 'arch' must be \"resnet\", \"gain\" or \"nrt\"");
    }
    if (rc == 0) {
        char why[320];
        if (st_unused(f, "mel2mel.", L.seen, why, sizeof why)) {
            set_err(err, errlen, "mel2mel: %s", why);
            rc = -1;
        }
    }
done:
    free(L.seen);
    cJSON_Delete(hp);
    if (rc) {
        nn_mel2mel_free(net);
        return NULL;
    }
    return net;
}

void nn_mel2mel_free(nn_mel2mel *n) {
    if (!n) return;
    layers_conv_free(&n->r_in);
    layers_conv_free(&n->r_out);
    for (int i = 0; n->r_down && i < n->n_down; i++)
        layers_conv_free(&n->r_down[i]);
    for (int i = 0; n->r_up && i < n->n_down; i++)
        layers_convt_free(&n->r_up[i]);
    for (int i = 0; n->r_blk && i < 2 * n->n_blocks; i++)
        layers_conv_free(&n->r_blk[i]);
    free(n->r_down);
    free(n->r_up);
    free(n->r_blk);
    free(n->g_win);
    free(n->g_bin);
    free(n->g_wout);
    free(n->g_bout);
    for (int b = 0; b < M2M_MAX_BLOCKS; b++) {
        free(n->g_wc[b]);
        free(n->g_bc[b]);
        free(n->g_wp[b]);
        free(n->g_bp[b]);
    }
    for (int h = 0; h < M2M_HEADS; h++) {
        free(n->h_w[h]);
        free(n->h_b[h]);
    }
    free(n->basis);
    free(n->tilt);
    free(n->l1w);
    free(n->l1b);
    free(n->l2w);
    free(n->l2b);
    free(n->low);
    free(n->lob);
    free(n);
}

int nn_mel2mel_streaming(const nn_mel2mel *n) {
    return n->arch == ARCH_GAIN || n->arch == ARCH_NRT;
}
int nn_mel2mel_heads(const nn_mel2mel *n) {
    return n->arch == ARCH_NRT ? M2M_HEADS : 0;
}
int nn_mel2mel_lookahead(const nn_mel2mel *n) {
    return nn_mel2mel_streaming(n) ? n->lookahead : 0;
}
int nn_mel2mel_n_mels(const nn_mel2mel *n) {
    return n->n_mels;
}
double nn_mel2mel_macs_per_frame(const nn_mel2mel *n) {
    return n->macs;
}
long long nn_mel2mel_params(const nn_mel2mel *n) {
    return n->params;
}
const char *nn_mel2mel_describe(const nn_mel2mel *n) {
    return n->desc;
}

/* ---------------------------------------------------------------------------------------- */
/* Streaming                                                                                 */

struct nn_m2m_stream {
    const nn_mel2mel *net;
    /* gain: raw input delay line (lookahead + 1 frames), context features, per-block history
     * of relu(h) ((kt - 1) * dilation + 1 frames), frame scratch */
    float *gx, *gm, *gf, *gu, *gh, *ga, *gz, *ghist[M2M_MAX_BLOCKS];
    int gx_pos, gcap[M2M_MAX_BLOCKS], gpos[M2M_MAX_BLOCKS], gstarted;
    long gframes; /* frames since the start, for the warm-up of the running means (capped) */
    /* a noise floor held by the caller (nn_m2m_stream_pin_floor) in place of the tracker's */
    float *gpin;
    int pinned;
    /* nrt: long-term band means, the tone coefficients' running average, the last frame's
     * per-head gains (noise, room, tone; n_mels each) and the heads' strengths */
    float *glt, *gtc, *gheads, strength[M2M_HEADS];
    /* nrt with the decay cue: the previous frame and each band's held steepest fall */
    float *gdp, *gds;
    /* nrt's local branch: the last 3 frames of the nin features ([slot][feature][band]) and the
     * last 2 * ldil + 1 frames of its first layer ([slot][channel][band]); its z (2 x n_mels) */
    float *lu, *lv, *lz;
    int lu_pos, lv_pos;
};

void nn_m2m_stream_destroy(nn_m2m_stream *s) {
    if (!s) return;
    free(s->gx);
    free(s->gm);
    free(s->gf);
    free(s->gpin);
    free(s->gu);
    free(s->gh);
    free(s->ga);
    free(s->gz);
    for (int b = 0; b < M2M_MAX_BLOCKS; b++)
        free(s->ghist[b]);
    free(s->glt);
    free(s->gtc);
    free(s->gheads);
    free(s->gdp);
    free(s->gds);
    free(s->lu);
    free(s->lv);
    free(s->lz);
    free(s);
}

static void gain_reset(nn_m2m_stream *s) {
    const nn_mel2mel *n = s->net;
    /* frames before the stream are digital silence: the front end's floor (train/models.py) */
    const float silence = log2f(1e-5f);
    for (int i = 0; i < (n->lookahead + 1) * n->n_mels; i++)
        s->gx[i] = silence;
    s->gx_pos = 0;
    s->gstarted = 0;
    s->gframes = 0;
    for (int b = 0; b < n->nblk; b++) {
        memset(s->ghist[b], 0, (size_t)s->gcap[b] * n->gch * sizeof(float));
        s->gpos[b] = 0;
    }
    if (n->arch == ARCH_NRT) {
        memset(s->gtc, 0, (size_t)n->nbasis * sizeof(float));
        memset(s->gheads, 0, (size_t)M2M_HEADS * n->n_mels * sizeof(float));
        if (n->lch) {
            memset(s->lu, 0, 3 * (size_t)n->nin * n->n_mels * sizeof(float));
            memset(s->lv, 0, (size_t)(2 * n->ldil + 1) * n->lch * n->n_mels * sizeof(float));
        }
        s->lu_pos = s->lv_pos = 0;
    }
}

static nn_m2m_stream *gain_create(const nn_mel2mel *n) {
    nn_m2m_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->net = n;
    const int F = n->n_mels, C = n->gch;
    int fail = !(s->gx = malloc((size_t)(n->lookahead + 1) * F * sizeof(float)));
    fail |= !(s->gm = malloc((size_t)F * sizeof(float)));
    fail |= !(s->gf = malloc((size_t)F * sizeof(float)));
    fail |= !(s->gpin = malloc((size_t)F * sizeof(float)));
    fail |= !(s->gu = malloc((size_t)n->nin * F * sizeof(float)));
    if (n->arch == ARCH_NRT) {
        fail |= !(s->glt = malloc((size_t)F * sizeof(float)));
        fail |= !(s->gtc = malloc((size_t)n->nbasis * sizeof(float)));
        fail |= !(s->gheads = malloc((size_t)M2M_HEADS * F * sizeof(float)));
        if (n->dec) {
            fail |= !(s->gdp = malloc((size_t)F * sizeof(float)));
            fail |= !(s->gds = malloc((size_t)F * sizeof(float)));
        }
        if (n->lch) {
            fail |= !(s->lu = malloc(3 * (size_t)n->nin * F * sizeof(float)));
            fail |= !(s->lv = malloc((size_t)(2 * n->ldil + 1) * n->lch * F * sizeof(float)));
            fail |= !(s->lz = malloc(2 * (size_t)F * sizeof(float)));
        }
    }
    for (int h = 0; h < M2M_HEADS; h++)
        s->strength[h] = 1.0f;
    fail |= !(s->gh = malloc((size_t)C * sizeof(float)));
    fail |= !(s->ga = malloc((size_t)C * sizeof(float)));
    fail |= !(s->gz = malloc((size_t)(C > F ? C : F) * sizeof(float)));
    for (int b = 0; b < n->nblk && !fail; b++) {
        s->gcap[b] = (n->kt - 1) * n->dil[b] + 1;
        fail |= !(s->ghist[b] = malloc((size_t)s->gcap[b] * C * sizeof(float)));
    }
    if (fail) {
        nn_m2m_stream_destroy(s);
        return NULL;
    }
    gain_reset(s);
    return s;
}

/* y[0..M) (+)= sum_k v[k] * W[k][0..M) (+ bias): W as conv1d_weight_t stores it.  Zero inputs
 * (half of them after a ReLU) are skipped. */
static void matvec_t(const float *W, const float *bias, const float *v, int K, int M, float *y,
                     int accumulate) {
    if (!accumulate) {
        if (bias)
            memcpy(y, bias, (size_t)M * sizeof *y);
        else
            memset(y, 0, (size_t)M * sizeof *y);
    } else if (bias) {
        for (int o = 0; o < M; o++)
            y[o] += bias[o];
    }
    for (int k = 0; k < K; k++) {
        const float a = v[k];
        if (a == 0.0f) continue;
        const float *w = W + (size_t)k * M;
        for (int o = 0; o < M; o++)
            y[o] += a * w[o];
    }
}

/* The noise and room heads' cut (train/models.py one_sided_cut): cut * tanh(min(z, 0) / cut). */
static float one_sided_cut(float z, float cut) {
    return z < 0.0f ? cut * tanhf(z / cut) : 0.0f;
}

/* nrt's frequency-local branch for the newest frame (train/models.py Mel2MelNRT.heads, one time
 * step): the features u (nin x n_mels, as gu) -> s->lz (noise z, room z; n_mels each). */
static void nrt_local(nn_m2m_stream *s, const float *u) {
    const nn_mel2mel *n = s->net;
    const int F = n->n_mels, H = n->lch, d = n->ldil, cap = 2 * d + 1, NI = n->nin;
    memcpy(s->lu + (size_t)s->lu_pos * NI * F, u, (size_t)NI * F * sizeof *u);
    float *v = s->lv + (size_t)s->lv_pos * H * F;
    /* layer 1: tap j reads the frame 2 - j back; band offset q - 2 */
    for (int o = 0; o < H; o++)
        for (int f = 0; f < F; f++) {
            float acc = n->l1b[o];
            for (int i = 0; i < NI; i++)
                for (int j = 0; j < 3; j++) {
                    const float *row =
                        s->lu + (size_t)((s->lu_pos - (2 - j) + 3) % 3) * NI * F + i * F;
                    const float *w = n->l1w + (((size_t)o * NI + i) * 3 + j) * 5;
                    for (int q = 0; q < 5; q++) {
                        int b = f + q - 2;
                        if (b >= 0 && b < F) acc += w[q] * row[b];
                    }
                }
            v[(size_t)o * F + f] = acc > 0.0f ? acc : 0.0f;
        }
    /* layer 2 (tap j: (2 - j) * d frames back; band offset q - 1) and the 1x1 output, per band */
    float h2[64];
    for (int f = 0; f < F; f++) {
        for (int o = 0; o < H; o++) {
            float acc = n->l2b[o];
            for (int i = 0; i < H; i++)
                for (int j = 0; j < 3; j++) {
                    const float *row =
                        s->lv + (size_t)((s->lv_pos - (2 - j) * d + cap) % cap) * H * F + i * F;
                    const float *w = n->l2w + (((size_t)o * H + i) * 3 + j) * 3;
                    for (int q = 0; q < 3; q++) {
                        int b = f + q - 1;
                        if (b >= 0 && b < F) acc += w[q] * row[b];
                    }
                }
            h2[o] = acc > 0.0f ? acc : 0.0f;
        }
        for (int c = 0; c < 2; c++) {
            float acc = n->lob[c];
            for (int i = 0; i < H; i++)
                acc += n->low[c * H + i] * h2[i];
            s->lz[c * F + f] = acc;
        }
    }
    s->lu_pos = (s->lu_pos + 1) % 3;
    s->lv_pos = (s->lv_pos + 1) % cap;
}

/* The three heads of "nrt" from the trunk's ReLU output a (train/models.py Mel2MelNRT.heads, one
 * time step) into s->gheads. */
static void nrt_heads(nn_m2m_stream *s, const float *a) {
    const nn_mel2mel *n = s->net;
    const int F = n->n_mels, C = n->gch, K = n->nbasis;
    float *gn = s->gheads, *gr = gn + F, *gt = gr + F, *z = s->gz;
    const float *lz = n->lch ? s->lz : NULL;
    matvec_t(n->h_w[0], n->h_b[0], a, C, F, z, 0);
    for (int f = 0; f < F; f++)
        gn[f] = one_sided_cut(z[f] + (lz ? lz[f] : 0.0f), n->cut);
    matvec_t(n->h_w[1], n->h_b[1], a, C, F, z, 0);
    for (int f = 0; f < F; f++)
        gr[f] = one_sided_cut(z[f] + (lz ? lz[F + f] : 0.0f), n->cut);
    matvec_t(n->h_w[2], n->h_b[2], a, C, K, z, 0);
    for (int k = 0; k < K; k++)
        s->gtc[k] += n->tone_alpha * (z[k] - s->gtc[k]);
    /* basis is [k][f]: the same layout matvec_t reads */
    matvec_t(n->basis, NULL, s->gtc, K, F, gt, 0);
    for (int f = 0; f < F; f++)
        gt[f] = n->tone_lim * tanhf(gt[f] / n->tone_lim);
}

/* One frame of the gain network (train/models.py Mel2MelGain.forward and Mel2MelNRT.forward,
 * one time step); cf: the frame's classical feature (n_mels values, NULL: 0 dB), read by
 * classical_input models only. */
static void gain_frame(nn_m2m_stream *s, const float *x, const float *cf, float *out) {
    const nn_mel2mel *n = s->net;
    const int F = n->n_mels, C = n->gch, kt = n->kt, nrt = n->arch == ARCH_NRT;
    if (!s->gstarted) {
        memcpy(s->gm, x, (size_t)F * sizeof *x);
        memcpy(s->gf, x, (size_t)F * sizeof *x);
        if (nrt) memcpy(s->glt, x, (size_t)F * sizeof *x);
        if (nrt && n->dec) {
            memcpy(s->gdp, x, (size_t)F * sizeof *x); /* no fall before the first frame */
            memset(s->gds, 0, (size_t)F * sizeof *s->gds);
        }
        s->gstarted = 1;
    }
    /* with warm-up, the running means are plain averages of the frames so far until their own
     * coefficient takes over (train/models.py warmup_alpha) */
    float a_m = n->ema_alpha, a_lt = n->lt_alpha;
    if (n->fwarm) {
        const float w = 1.0f / (float)(s->gframes + 1);
        a_m = a_m > w ? a_m : w;
        a_lt = a_lt > w ? a_lt : w;
        if (s->gframes < 1L << 30) s->gframes++;
    }
    for (int f = 0; f < F; f++) {
        s->gm[f] = s->gm[f] + a_m * (x[f] - s->gm[f]);
        float up = s->gf[f] + n->floor_rise;
        s->gf[f] = s->pinned ? s->gpin[f] : x[f] < up ? x[f] : up;
        s->gu[f] = (x[f] - n->mean) * n->scale;
        s->gu[F + f] = (s->gm[f] - n->mean) * n->scale;
        s->gu[2 * F + f] = (s->gf[f] - n->mean) * n->scale;
    }
    if (nrt) {
        /* long-term tonal balance: band means over ~8 s, less their mean over bands (so not
         * the level), less the training corpus's (train/models.py long_term_feature) */
        float mean = 0.0f;
        for (int f = 0; f < F; f++) {
            s->glt[f] = s->glt[f] + a_lt * (x[f] - s->glt[f]);
            mean += s->glt[f];
        }
        mean /= (float)F;
        for (int f = 0; f < F; f++)
            s->gu[3 * F + f] = (s->glt[f] - mean - n->tilt[f]) * n->scale;
        if (n->cin)
            for (int f = 0; f < F; f++) {
                /* a gain, <= 0 by construction; anything else is a caller's error, read as 0 dB */
                float g = cf ? cf[f] : 0.0f;
                s->gu[4 * F + f] = (g < 0.0f && g > -1e3f ? g : 0.0f) * n->scale;
            }
        if (n->dec) {
            /* each band's steepest fall, held with a release (train/models.py decay_feature): a
             * room caps how fast a band can fall, dry music ends notes in a frame or two */
            float *u = s->gu + (size_t)(4 + n->cin) * F;
            const float keep = 1.0f - n->dec_alpha;
            for (int f = 0; f < F; f++) {
                float d = s->gdp[f] - x[f], held = keep * s->gds[f];
                d = d > 0.0f ? d : 0.0f;
                s->gds[f] = d > held ? d : held;
                s->gdp[f] = x[f];
                u[f] = s->gds[f] * n->scale;
            }
        }
    }
    float *h = s->gh, *a = s->ga, *z = s->gz;
    matvec_t(n->g_win, n->g_bin, s->gu, n->nin * F, C, h, 0);
    for (int b = 0; b < n->nblk; b++) {
        const int cap = s->gcap[b], d = n->dil[b];
        float *row = s->ghist[b] + (size_t)s->gpos[b] * C;
        for (int c = 0; c < C; c++)
            row[c] = h[c] > 0.0f ? h[c] : 0.0f;
        /* tap j sees the frame (kt - 1 - j) * d frames back */
        memcpy(z, n->g_bc[b], (size_t)C * sizeof *z);
        for (int j = 0; j < kt; j++) {
            int back = (kt - 1 - j) * d;
            const float *src = s->ghist[b] + (size_t)((s->gpos[b] - back + cap) % cap) * C;
            matvec_t(n->g_wc[b] + (size_t)j * C * C, NULL, src, C, C, z, 1);
        }
        s->gpos[b] = (s->gpos[b] + 1) % cap;
        for (int c = 0; c < C; c++)
            a[c] = z[c] > 0.0f ? z[c] : 0.0f;
        matvec_t(n->g_wp[b], n->g_bp[b], a, C, C, h, 1);
    }
    for (int c = 0; c < C; c++)
        a[c] = h[c] > 0.0f ? h[c] : 0.0f;
    if (nrt && n->lch) nrt_local(s, s->gu);
    if (nrt)
        nrt_heads(s, a);
    else
        matvec_t(n->g_wout, n->g_bout, a, C, F, z, 0);
    /* delay line: gx holds lookahead + 1 frames; the oldest is the frame the gains apply to */
    const int L = n->lookahead;
    memcpy(s->gx + (size_t)s->gx_pos * F, x, (size_t)F * sizeof *x);
    s->gx_pos = (s->gx_pos + 1) % (L + 1);
    const float *xd = s->gx + (size_t)s->gx_pos * F;
    if (nrt) {
        const float *gn = s->gheads, *gr = gn + F, *gt = gr + F;
        const float kn = s->strength[0], kr = s->strength[1], kto = s->strength[2];
        for (int f = 0; f < F; f++)
            out[f] = xd[f] + kn * gn[f] + kr * gr[f] + kto * gt[f];
        return;
    }
    for (int f = 0; f < F; f++) {
        float g = z[f] >= 0.0f ? n->lift * tanhf(z[f] / n->lift) : n->cut * tanhf(z[f] / n->cut);
        out[f] = xd[f] + g;
    }
}

void nn_m2m_stream_set_strength(nn_m2m_stream *s, const float strength[3]) {
    for (int h = 0; h < M2M_HEADS; h++)
        s->strength[h] = strength[h];
}

const float *nn_m2m_stream_heads(const nn_m2m_stream *s) {
    return s->net->arch == ARCH_NRT ? s->gheads : NULL;
}

int nn_m2m_stream_floor(const nn_m2m_stream *s, float *out) {
    if (!s->gf) return 0;
    memcpy(out, s->gf, (size_t)s->net->n_mels * sizeof *out);
    return s->net->n_mels;
}

void nn_m2m_stream_pin_floor(nn_m2m_stream *s, const float *floor) {
    if (!s->gpin) return;
    s->pinned = floor != NULL;
    if (floor) memcpy(s->gpin, floor, (size_t)s->net->n_mels * sizeof *floor);
}

static size_t max_sz(size_t a, size_t b) {
    return a > b ? a : b;
}

nn_m2m_stream *nn_m2m_stream_create(const nn_mel2mel *n) {
    return n && nn_mel2mel_streaming(n) ? gain_create(n) : NULL;
}

void nn_m2m_stream_reset(nn_m2m_stream *s) {
    gain_reset(s);
}

void nn_m2m_stream_process(nn_m2m_stream *s, const float *in, int n, float *out) {
    nn_m2m_stream_process_cf(s, in, NULL, n, out);
}

void nn_m2m_stream_process_cf(nn_m2m_stream *s, const float *in, const float *cf, int n,
                              float *out) {
    const int F = s->net->n_mels;
    for (int t = 0; t < n; t++)
        gain_frame(s, in + (size_t)t * F, cf ? cf + (size_t)t * F : NULL, out + (size_t)t * F);
}

int nn_mel2mel_classical_input(const nn_mel2mel *n) {
    return n->arch == ARCH_NRT && n->cin;
}

/* ---------------------------------------------------------------------------------------- */
/* Offline                                                                                   */

struct nn_m2m_offline {
    const nn_mel2mel *net;
    int max_frames;
    nn_m2m_stream *stream; /* the streaming archs, run over the clip */
    float *a, *b, *c, *work, *full;
    double *scratch;
};

void nn_m2m_offline_destroy(nn_m2m_offline *o) {
    if (!o) return;
    nn_m2m_stream_destroy(o->stream);
    free(o->a);
    free(o->b);
    free(o->c);
    free(o->work);
    free(o->full);
    free(o->scratch);
    free(o);
}

/* Height of each resnet level for a clip of T frames (level i after i stride-2 convs). */
static int resnet_height(int T, int level) {
    for (int i = 0; i < level; i++)
        T = layers_conv_out_len(T, 3, 2, 1, 1);
    return T;
}

nn_m2m_offline *nn_m2m_offline_create(const nn_mel2mel *n, int max_frames) {
    if (!n || max_frames < 1) return NULL;
    nn_m2m_offline *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->net = n;
    o->max_frames = max_frames;
    int fail = 0;
    if (nn_mel2mel_streaming(n)) {
        fail |= !(o->stream = nn_m2m_stream_create(n));
        fail |= !(o->full = malloc(((size_t)max_frames + (size_t)n->lookahead) * n->n_mels *
                                   sizeof(float)));
    } else {
        const int D = n->n_down, F = n->n_mels;
        size_t act = 0, work = max_sz(layers_conv_work(&n->r_in), layers_conv_work(&n->r_out));
        for (int i = 0; i <= D; i++) {
            size_t Hd = (size_t)resnet_height(max_frames, i);
            size_t Hu = (size_t)resnet_height(max_frames, D) << (D - i);
            act = max_sz(act, max_sz(Hd, Hu) * (size_t)(F >> i) * (size_t)(n->ngf << i));
            if (i < D) {
                work = max_sz(work, layers_conv_work(&n->r_down[i]));
                work = max_sz(work, layers_convt_work(&n->r_up[i]));
            }
        }
        if (n->n_blocks) work = max_sz(work, layers_conv_work(&n->r_blk[0]));
        size_t Hout = (size_t)resnet_height(max_frames, D) << D;
        fail |= !(o->a = malloc(act * sizeof(float)));
        fail |= !(o->b = malloc(act * sizeof(float)));
        fail |= !(o->c = malloc(act * sizeof(float)));
        fail |= !(o->work = malloc(work * sizeof(float)));
        fail |= !(o->full = malloc(Hout * F * sizeof(float)));
        fail |= !(o->scratch = malloc(2 * ((size_t)n->ngf << D) * sizeof(double)));
    }
    if (fail) {
        nn_m2m_offline_destroy(o);
        return NULL;
    }
    return o;
}

static void resnet_run(nn_m2m_offline *o, const float *in, int T, float *out) {
    const nn_mel2mel *n = o->net;
    const int D = n->n_down, F = n->n_mels;
    float *a = o->a, *b = o->b, *c = o->c, *t;
    int H = T, W = F, C = n->ngf;
    layers_conv_forward(&n->r_in, in, 0, T, T, F, a, T, F, o->work);
    layers_instance_norm(a, H * W, C, n->eps, o->scratch);
    layers_act(a, (size_t)H * W * C, LAYERS_ACT_RELU, 0);
    for (int i = 0; i < D; i++) {
        int Ho = layers_conv_out_len(H, 3, 2, 1, 1), Wo = layers_conv_out_len(W, 3, 2, 1, 1);
        layers_conv_forward(&n->r_down[i], a, 0, H, H, W, b, Ho, Wo, o->work);
        H = Ho, W = Wo, C *= 2;
        layers_instance_norm(b, H * W, C, n->eps, o->scratch);
        layers_act(b, (size_t)H * W * C, LAYERS_ACT_RELU, 0);
        t = a, a = b, b = t;
    }
    for (int j = 0; j < n->n_blocks; j++) {
        layers_conv_forward(&n->r_blk[2 * j], a, 0, H, H, W, b, H, W, o->work);
        layers_instance_norm(b, H * W, C, n->eps, o->scratch);
        layers_act(b, (size_t)H * W * C, LAYERS_ACT_RELU, 0);
        layers_conv_forward(&n->r_blk[2 * j + 1], b, 0, H, H, W, c, H, W, o->work);
        layers_instance_norm(c, H * W, C, n->eps, o->scratch);
        for (size_t k = 0; k < (size_t)H * W * C; k++)
            a[k] += c[k];
    }
    for (int i = 0; i < D; i++) {
        int Ho = layers_convt_out_len(H, 3, 2, 1, 1), Wo = layers_convt_out_len(W, 3, 2, 1, 1);
        layers_convt_forward(&n->r_up[i], a, H, W, b, Ho, Wo, o->work);
        H = Ho, W = Wo, C /= 2;
        layers_instance_norm(b, H * W, C, n->eps, o->scratch);
        layers_act(b, (size_t)H * W * C, LAYERS_ACT_RELU, 0);
        t = a, a = b, b = t;
    }
    layers_conv_forward(&n->r_out, a, 0, H, H, W, o->full, H, W, o->work);
    memcpy(out, o->full, (size_t)T * F * sizeof *out); /* crop to the input length */
}

int nn_m2m_offline_process(nn_m2m_offline *o, const float *in, int T, float *out) {
    return nn_m2m_offline_process_cf(o, in, NULL, T, out);
}

int nn_m2m_offline_process_cf(nn_m2m_offline *o, const float *in, const float *cf, int T,
                              float *out) {
    if (!o || T < 1 || T > o->max_frames) return -1;
    const nn_mel2mel *n = o->net;
    if (n->arch == ARCH_RESNET) {
        resnet_run(o, in, T, out);
        return 0;
    }
    const int F = n->n_mels, L = n->lookahead;
    nn_m2m_stream_reset(o->stream);
    nn_m2m_stream_process_cf(o->stream, in, cf, T, o->full);
    for (int k = 0; k < L; k++)
        nn_m2m_stream_process_cf(o->stream, in + (size_t)(T - 1) * F,
                                 cf ? cf + (size_t)(T - 1) * F : NULL, 1,
                                 o->full + (size_t)(T + k) * F);
    memcpy(out, o->full + (size_t)L * F, (size_t)T * F * sizeof *out);
    return 0;
}
