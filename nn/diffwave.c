/* DiffWave: model loading, noise schedule and step embeddings.  The streaming engine that
 * runs the network lives in nn/diffwave_stream.c. */
#include "nn/diffwave.h"
#include "nn/diffwave_impl.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t len, const char *fmt, ...) {
    if (!err || !len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* Copies a tensor out of the file (the model must not depend on f staying open). */
static float *take(nn_diffwave *m, const st_file *f, const char *name, int ndim,
                   const int64_t *shape, char *err, size_t errlen) {
    if (m->n_owned >= DW_MAX_OWNED) {
        set_err(err, errlen, "diffwave: too many tensors");
        return NULL;
    }
    char full[160], e2[200];
    snprintf(full, sizeof full, "diffwave.%s", name);
    const float *p = st_tensor_f32(f, full, ndim, shape, e2, sizeof e2);
    if (!p) {
        set_err(err, errlen, "diffwave: %s", e2);
        return NULL;
    }
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= (size_t)shape[i];
    float *c = malloc(count * sizeof(float));
    if (!c) {
        set_err(err, errlen, "diffwave: out of memory");
        return NULL;
    }
    memcpy(c, p, count * sizeof(float));
    m->owned[m->n_owned++] = c;
    int idx = st_tensor_index(f, full);
    if (m->seen && idx >= 0) m->seen[idx] = 1;
    return c;
}

static int json_int(const cJSON *o, const char *key, int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return def != INT32_MIN;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble) return 0;
    *out = (int)v->valuedouble;
    return 1;
}

static double *json_betas(const cJSON *o, const char *key, int *n) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a)) return NULL;
    int cnt = cJSON_GetArraySize(a);
    if (cnt < 1 || cnt > 10000) return NULL;
    double *b = malloc(sizeof(double) * (size_t)cnt);
    if (!b) return NULL;
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble > 0.0 && v->valuedouble < 1.0)) {
            free(b);
            return NULL;
        }
        b[i++] = v->valuedouble;
    }
    *n = cnt;
    return b;
}

static int parse_meta(nn_diffwave *m, const char *meta, char *err, size_t errlen) {
    cJSON *o = cJSON_Parse(meta);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        set_err(err, errlen, "diffwave: metadata is not a JSON object");
        return -1;
    }
    nn_diffwave_info *in = &m->info;
    int ok = json_int(o, "layers", INT32_MIN, &in->layers) &&
             json_int(o, "channels", INT32_MIN, &in->channels) &&
             json_int(o, "cycle", INT32_MIN, &in->cycle) &&
             json_int(o, "n_mels", INT32_MIN, &in->n_mels) && json_int(o, "hop", 256, &in->hop) &&
             json_int(o, "embed_dim", 512, &in->embed_dim) &&
             json_int(o, "lookahead", -1, &in->lookahead);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "causal");
    in->causal = c && cJSON_IsTrue(c);
    if (ok) {
        m->betas_train = json_betas(o, "betas_train", &in->max_steps);
        m->betas_infer = json_betas(o, "betas_infer", &in->n_fast_steps);
    }
    cJSON_Delete(o);
    if (!ok || !m->betas_train || !m->betas_infer) {
        set_err(err, errlen, "diffwave: metadata lacks or mangles a required key");
        return -1;
    }
    if (in->layers < 1 || in->layers > 256 || in->channels < 1 || in->channels > 1024 ||
        in->cycle < 1 || in->cycle > 16 || in->n_mels < 1 || in->n_mels > 1024 ||
        in->embed_dim < 1 || in->embed_dim > 4096 || in->lookahead < -1) {
        set_err(err, errlen, "diffwave: hyperparameters out of range");
        return -1;
    }
    if (in->hop != 256) {
        set_err(err, errlen, "diffwave: hop must be 256 (fixed x16 x16 upsampler)");
        return -1;
    }
    double *al = malloc(sizeof(double) * 2 * (size_t)in->n_fast_steps);
    float *T = malloc(sizeof(float) * (size_t)in->n_fast_steps);
    int bad = !al || !T ||
              nn_diffwave_schedule(m->betas_train, in->max_steps, m->betas_infer, in->n_fast_steps,
                                   al, al + in->n_fast_steps, T) != 0;
    free(al);
    free(T);
    if (bad) {
        set_err(err, errlen, "diffwave: betas_infer do not fit inside betas_train");
        return -1;
    }
    return 0;
}

static int layer_lookahead(const nn_diffwave_info *in, int d) {
    if (in->causal) return 0;
    if (in->lookahead >= 0) return d < in->lookahead ? d : in->lookahead;
    return d;
}

nn_diffwave *nn_diffwave_load(const st_file *f, char *err, size_t errlen) {
    nn_cpu cpu = nn_cpu_detect();
    return nn_diffwave_load_isa(f, cpu.best, err, errlen);
}

nn_diffwave *nn_diffwave_load_isa(const st_file *f, nn_isa isa, char *err, size_t errlen) {
    nn_cpu cpu = nn_cpu_detect();
    if (isa < 0 || isa >= NN_ISA_COUNT || !cpu.has[isa]) {
        set_err(err, errlen, "diffwave: ISA %d not supported on this CPU", (int)isa);
        return NULL;
    }
    const char *meta = f ? st_meta(f, "diffwave") : NULL;
    if (!meta) {
        set_err(err, errlen, "diffwave: no \"diffwave\" metadata in the model file");
        return NULL;
    }
    float *tmp = NULL; /* load-time scratch, freed on every exit */
    int *order = NULL;
    nn_diffwave *m = calloc(1, sizeof *m);
    if (!m) {
        set_err(err, errlen, "diffwave: out of memory");
        return NULL;
    }
    m->isa = isa;
    if (!(m->seen = calloc((size_t)st_tensor_count(f) + 1, 1))) {
        set_err(err, errlen, "diffwave: out of memory");
        goto fail;
    }
    if (parse_meta(m, meta, err, errlen) != 0) goto fail;
    nn_diffwave_info *in = &m->info;
    const int C = in->channels, E = in->embed_dim, M = in->n_mels, L = in->layers;
    const int64_t C2 = 2 * C;
    char name[128];
#define TAKE(ptr, nm, nd, ...)                                                                     \
    do {                                                                                           \
        const int64_t shp_[] = {__VA_ARGS__};                                                      \
        if (!((ptr) = take(m, f, (nm), (nd), shp_, err, errlen))) goto fail;                       \
    } while (0)

    TAKE(m->in_w, "input_projection.weight", 3, C, 1, 1);
    TAKE(m->in_b, "input_projection.bias", 1, C);
    int64_t tshape[2];
    if (st_tensor_shape(f, "diffwave.diffusion_embedding.embedding", tshape) != 2 ||
        tshape[0] != in->max_steps || tshape[1] != 128) {
        set_err(err, errlen, "diffwave: diffusion_embedding.embedding must be [%d, 128]",
                in->max_steps);
        goto fail;
    }
    TAKE(m->emb_table, "diffusion_embedding.embedding", 2, in->max_steps, 128);
    TAKE(m->p1_w, "diffusion_embedding.projection1.weight", 2, E, 128);
    TAKE(m->p1_b, "diffusion_embedding.projection1.bias", 1, E);
    TAKE(m->p2_w, "diffusion_embedding.projection2.weight", 2, E, E);
    TAKE(m->p2_b, "diffusion_embedding.projection2.bias", 1, E);
    for (int s = 0; s < 2; s++) {
        snprintf(name, sizeof name, "spectrogram_upsampler.conv%d.weight", s + 1);
        TAKE(m->up_w[s], name, 4, 1, 1, 3, 32);
        snprintf(name, sizeof name, "spectrogram_upsampler.conv%d.bias", s + 1);
        TAKE(m->up_b[s], name, 1, 1);
    }
    m->layers = calloc((size_t)L, sizeof *m->layers);
    tmp = malloc(sizeof(float) * (size_t)C2 * (size_t)(3 * C + M));
    order = malloc(sizeof(int) * (size_t)C2);
    if (order) m->gated = nn_gemm_gate_order(isa, C, order) == 0;
    if (order && !m->gated)
        for (int r = 0; r < C2; r++)
            order[r] = r;
    if (!m->layers || !tmp || !order) {
        set_err(err, errlen, "diffwave: out of memory");
        goto fail;
    }
    for (int i = 0; i < L; i++) {
        dw_layer *ly = &m->layers[i];
        ly->d = 1 << (i % in->cycle);
        ly->sh = layer_lookahead(in, ly->d);
        in->step_lookahead += ly->sh;
        const float *dw, *db, *cw, *cb, *ow, *ob;
#define LTAKE(ptr, nm, nd, ...)                                                                    \
    do {                                                                                           \
        snprintf(name, sizeof name, "residual_layers.%d.%s", i, (nm));                             \
        TAKE(ptr, name, nd, __VA_ARGS__);                                                          \
    } while (0)
        LTAKE(dw, "dilated_conv.weight", 3, C2, C, 3);
        LTAKE(db, "dilated_conv.bias", 1, C2);
        LTAKE(ly->dp_w, "diffusion_projection.weight", 2, C, E);
        LTAKE(ly->dp_b, "diffusion_projection.bias", 1, C);
        LTAKE(cw, "conditioner_projection.weight", 3, C2, M, 1);
        LTAKE(cb, "conditioner_projection.bias", 1, C2);
        LTAKE(ow, "output_projection.weight", 3, C2, C, 1);
        LTAKE(ob, "output_projection.bias", 1, C2);
        /* tap-major columns (k = tap * C + c) so each tap is one source group, then the
         * conditioner's mel rows for the recompute path */
        /* ... with rows in gate-fusion order when the kernels allow it */
        const int K = 3 * C + M;
        for (int q = 0; q < C2; q++) {
            const int r = order[q];
            for (int j = 0; j < 3; j++)
                for (int c = 0; c < C; c++)
                    tmp[(size_t)q * K + j * C + c] = dw[((size_t)r * C + c) * 3 + j];
            for (int c = 0; c < M; c++)
                tmp[(size_t)q * K + 3 * C + c] = cw[(size_t)r * M + c];
        }
        ly->dil = nn_gemm_w_create(isa, tmp, (int)C2, 3 * C, K);
        ly->dil_cond = nn_gemm_w_create(isa, tmp, (int)C2, K, K);
        ly->cond = nn_gemm_w_create(isa, tmp + 3 * C, (int)C2, M, K);
        ly->res = nn_gemm_w_create(isa, ow, C, C, C);
        ly->skip = nn_gemm_w_create(isa, ow + (size_t)C * C, C, C, C);
        ly->bias_dc = malloc(sizeof(float) * (size_t)C2);
        if (!ly->dil || !ly->dil_cond || !ly->cond || !ly->res || !ly->skip || !ly->bias_dc) {
            set_err(err, errlen, "diffwave: out of memory");
            goto fail;
        }
        for (int q = 0; q < C2; q++)
            ly->bias_dc[q] = db[order[q]] + cb[order[q]];
        ly->res_b = ob;
        ly->skip_b = ob + C;
#undef LTAKE
    }
    const float *sw, *ow1;
    TAKE(sw, "skip_projection.weight", 3, C, C, 1);
    TAKE(m->skipproj_b, "skip_projection.bias", 1, C);
    TAKE(ow1, "output_projection.weight", 3, 1, C, 1);
    TAKE(m->outproj_b, "output_projection.bias", 1, 1);
    /* fold the 1/sqrt(L) of the skip sum into the skip projection */
    const float inv = 1.0f / sqrtf((float)L);
    for (size_t i = 0; i < (size_t)C * C; i++)
        tmp[i] = sw[i] * inv;
    m->skipproj = nn_gemm_w_create(isa, tmp, C, C, C);
    m->outproj = nn_gemm_w_create(isa, ow1, 1, C, C);
    if (!m->skipproj || !m->outproj) {
        set_err(err, errlen, "diffwave: out of memory");
        goto fail;
    }
#undef TAKE
    in->params = 2L * C + 128L * E + E + (long)E * E + E + 2 * (96 + 1) +
                 (long)L * (C2 * C * 3 + C2 + (long)E * C + C + C2 * M + C2 + C2 * C + C2) +
                 (long)C * C + C + C + 1;
    {
        char why[320];
        if (st_unused(f, "diffwave.", m->seen, why, sizeof why)) {
            set_err(err, errlen, "diffwave: %s", why);
            goto fail;
        }
    }
    free(m->seen);
    m->seen = NULL;
    free(tmp);
    free(order);
    return m;
fail:
    free(tmp);
    free(order);
    nn_diffwave_free(m);
    return NULL;
}

void nn_diffwave_free(nn_diffwave *m) {
    if (!m) return;
    free(m->seen);
    if (m->layers)
        for (int i = 0; i < m->info.layers; i++) {
            dw_layer *ly = &m->layers[i];
            nn_gemm_w_free(ly->dil);
            nn_gemm_w_free(ly->dil_cond);
            nn_gemm_w_free(ly->cond);
            nn_gemm_w_free(ly->res);
            nn_gemm_w_free(ly->skip);
            free(ly->bias_dc);
        }
    free(m->layers);
    nn_gemm_w_free(m->skipproj);
    nn_gemm_w_free(m->outproj);
    for (int i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->betas_train);
    free(m->betas_infer);
    free(m);
}

const nn_diffwave_info *nn_diffwave_get_info(const nn_diffwave *m) {
    return &m->info;
}

long nn_diffwave_lookahead(const nn_diffwave *m, int steps) {
    return DW_UPSAMPLER_LOOKAHEAD + (long)steps * m->info.step_lookahead - m->layers[0].sh;
}

int nn_diffwave_schedule(const double *betas_train, int n_train, const double *betas, int S,
                         double *alpha, double *alpha_cum, float *T) {
    /* Mirrors train/diffwave.py noise_schedule(): align each inference step's cumulative
     * alpha with the training schedule's and interpolate the step index in sqrt(alpha_cum). */
    double *tac = malloc(sizeof(double) * (size_t)n_train);
    if (!tac) return -1;
    double acc = 1.0;
    for (int t = 0; t < n_train; t++) {
        acc *= 1.0 - betas_train[t];
        tac[t] = acc;
    }
    acc = 1.0;
    int rc = 0;
    for (int s = 0; s < S; s++) {
        alpha[s] = 1.0 - betas[s];
        acc *= alpha[s];
        alpha_cum[s] = acc;
        int found = 0;
        for (int t = 0; t < n_train - 1 && !found; t++)
            if (tac[t + 1] <= acc && acc <= tac[t]) {
                double tw = (sqrt(tac[t]) - sqrt(acc)) / (sqrt(tac[t]) - sqrt(tac[t + 1]));
                T[s] = (float)(t + tw);
                found = 1;
            }
        if (!found) rc = -1;
    }
    free(tac);
    return rc;
}

static float silu(double v) {
    return (float)v / (1.0f + expf(-(float)v));
}

void dw_step_projection(const nn_diffwave *m, float t, float *d) {
    const nn_diffwave_info *in = &m->info;
    const int E = in->embed_dim, C = in->channels;
    float e0[128];
    int lo = (int)floorf(t), hi = (int)ceilf(t);
    if (lo < 0) lo = 0;
    if (hi > in->max_steps - 1) hi = in->max_steps - 1;
    if (lo > hi) lo = hi;
    const float frac = t - (float)lo;
    for (int j = 0; j < 128; j++) {
        const float a = m->emb_table[lo * 128 + j], b = m->emb_table[hi * 128 + j];
        e0[j] = a + (b - a) * frac;
    }
    float *h1 = malloc(sizeof(float) * 2 * (size_t)E);
    if (!h1) {
        memset(d, 0, sizeof(float) * (size_t)in->layers * C);
        return;
    }
    float *h2 = h1 + E;
    for (int r = 0; r < E; r++) {
        double s = m->p1_b[r];
        for (int j = 0; j < 128; j++)
            s += (double)m->p1_w[(size_t)r * 128 + j] * e0[j];
        h1[r] = silu(s);
    }
    for (int r = 0; r < E; r++) {
        double s = m->p2_b[r];
        for (int j = 0; j < E; j++)
            s += (double)m->p2_w[(size_t)r * E + j] * h1[j];
        h2[r] = silu(s);
    }
    for (int i = 0; i < in->layers; i++) {
        const dw_layer *ly = &m->layers[i];
        for (int c = 0; c < C; c++) {
            double s = ly->dp_b[c];
            for (int j = 0; j < E; j++)
                s += (double)ly->dp_w[(size_t)c * E + j] * h2[j];
            d[(size_t)i * C + c] = (float)s;
        }
    }
    free(h1);
}
