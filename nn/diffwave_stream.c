/* Streaming DiffWave: S denoising steps as S pipelined stages, each a stack of residual
 * layers with per-layer history, fed block by block as mel frames arrive.
 *
 * Positions are absolute sample indices of the utterance.  Every buffer is a "sliding"
 * buffer (rows x cap) holding a window of positions; when a write would pass its end, the
 * still-needed tail is moved to the front (rarely: cap is a few blocks larger than the
 * history), so GEMMs always see contiguous rows and nothing wraps.
 *
 * Layer i of a stage turns input positions [.., in_end) into outputs [.., in_end - sh);
 * a stage's output lags its input by D = sum(sh).  The conditioner (upsampler and, when the
 * cache fits the budget, every layer's 1x1 projection of it) is computed once per position
 * and shared by all stages, since it does not depend on the step.
 *
 * At the end of an utterance (finish) every layer's input beyond the last sample is zero,
 * exactly as PyTorch's zero padding, so streamed output equals whole-utterance output. */
#include "nn/diffwave.h"
#include "nn/diffwave_impl.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *data;
    int rows, cap, ld;
    long base; /* position of column 0 */
} sbuf;

typedef struct {
    sbuf x, y;    /* layer input x_i and y_i = x_i + d_i (zero outside the utterance) */
    long in_end;  /* x/y written for positions < in_end */
    long out_pos; /* outputs produced for positions < out_pos */
    int padded;   /* end-of-utterance zeros appended */
} dw_lstate;

typedef struct {
    float c1, c2, sigma;
    /* refiner: this step's sqrt(abar), sqrt(1 - abar) and the next step's (rn_a < 0: last) */
    float ra, rs, rn_a, rn_s;
    int noise_k;  /* noise stream added after this step, -1 for none */
    float *dproj; /* [L][C] */
    dw_lstate *ls;
    sbuf skip, xin;
    long in_end, out_pos;
} dw_stage;

typedef struct {
    uint64_t s[4];
    float spare;
    int has_spare;
} dw_rng;

struct nn_diffwave_stream {
    const nn_diffwave *m;
    nn_diffwave_stream_config cfg;
    int S, L, C, M, block, eps_mode, cache, refine;
    dw_stage *st;
    sbuf mel, u1, spec, outq;
    sbuf pri;     /* refiner: the prior (mode 1's waveform) by position */
    long pri_end; /* prior written for positions < pri_end */
    sbuf *cp;     /* [L] cached conditioner projections (2C rows), when cache */
    long frames, u1_end, spec_end, n_end, emitted, latency;
    int finished;
    dw_rng *rng;                        /* [S] */
    float *g, *z, *r, *h, *e, *nz, *xv; /* scratch */
    int gld;
    size_t bytes;
};

/* ---- sliding buffers ------------------------------------------------------------------- */

static int sb_init(nn_diffwave_stream *s, sbuf *b, int rows, int cap, long base) {
    b->rows = rows;
    b->cap = cap;
    b->ld = nn_gemm_ld(cap);
    b->base = base;
    size_t bytes = ((size_t)rows * b->ld * sizeof(float) + 63) & ~(size_t)63;
    b->data = aligned_alloc(64, bytes);
    if (!b->data) return -1;
    memset(b->data, 0, bytes);
    s->bytes += bytes;
    return 0;
}

/* Restarts at `base`, zeroing only the first zero_cols columns: everything else is written
 * before it is read, which keeps a reset proportional to the history, not the state. */
static void sb_clear(sbuf *b, long base, int zero_cols) {
    for (int r = 0; r < b->rows && zero_cols > 0; r++)
        memset(b->data + (size_t)r * b->ld, 0, sizeof(float) * (size_t)zero_cols);
    b->base = base;
}

static inline float *sb_at(const sbuf *b, long pos) {
    return b->data + (pos - b->base);
}

/* Columns that can still be written past `end` if everything before keep_from may go. */
static inline long sb_room(const sbuf *b, long keep_from, long end) {
    return (long)b->cap - (end - keep_from);
}

/* Makes positions up to `upto` writable, keeping [keep_from, end). */
static void sb_reserve(sbuf *b, long keep_from, long end, long upto) {
    if (upto - b->base <= b->cap) return;
    const long shift = keep_from - b->base, keep = end - keep_from;
    if (shift <= 0) return; /* cannot happen when callers respect sb_room() */
    for (int r = 0; r < b->rows; r++) {
        float *row = b->data + (size_t)r * b->ld;
        if (keep > 0) memmove(row, row + shift, sizeof(float) * (size_t)keep);
    }
    b->base = keep_from;
}

static inline long lmin(long a, long b) {
    return a < b ? a : b;
}
static inline long lmax(long a, long b) {
    return a > b ? a : b;
}

/* ---- noise: xoshiro256** + Box-Muller, one stream per noise index ---------------------- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_seed(dw_rng *g, uint64_t seed, int k) {
    uint64_t x = seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(k + 1));
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&x);
    g->has_spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(dw_rng *g) {
    uint64_t *s = g->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static float rng_gauss(dw_rng *g) {
    if (g->has_spare) {
        g->has_spare = 0;
        return g->spare;
    }
    const double u1 = ((double)(rng_next(g) >> 11) + 1.0) * 0x1.0p-53; /* (0, 1] */
    const double u2 = (double)(rng_next(g) >> 11) * 0x1.0p-53;
    const double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    g->spare = (float)(rad * sin(th));
    g->has_spare = 1;
    return (float)(rad * cos(th));
}

static void draw_noise(nn_diffwave_stream *s, int k, long pos, int n, float *out) {
    if (s->cfg.noise) {
        s->cfg.noise(s->cfg.noise_user, k, pos, n, out);
        return;
    }
    for (int i = 0; i < n; i++)
        out[i] = rng_gauss(&s->rng[k]);
}

/* ---- conditioner upsampler ------------------------------------------------------------- */

/* One ConvTranspose2d([3,32], stride [1,16], padding [1,8]) + LeakyReLU(0.4) for output
 * positions [a, b): out[m][o] gets in[m+1-kh][i] * w[kh][o+8-16i] for the two frames i with
 * 0 <= o+8-16i < 32; inputs outside [0, in_end) or outside the mel axis are zero. */
static void upsample(const sbuf *in, long in_end, const float *w, float bias, int M, long a, long b,
                     sbuf *out) {
    for (int mm = 0; mm < M; mm++) {
        float *o = sb_at(out, a) + (size_t)mm * out->ld;
        const float *rows[3];
        const float *wt[3];
        int nt = 0;
        for (int t = 0; t < 3; t++) {
            const int src = mm + 1 - t;
            if (src < 0 || src >= M) continue;
            rows[nt] = in->data + (size_t)src * in->ld - in->base;
            wt[nt++] = w + t * 32;
        }
        for (long p = a; p < b;) {
            const long ihi = (p + 8) >> 4, ilo = ihi - 1;
            const int ph = (int)(p + 8 - 16 * ihi);
            /* the run of outputs sharing these two input frames (one phase cycle) */
            const int run = (int)lmin(16 - ph, b - p);
            float xh[3] = {0, 0, 0}, xl[3] = {0, 0, 0};
            for (int t = 0; t < nt; t++) {
                if (ihi >= 0 && ihi < in_end) xh[t] = rows[t][ihi];
                if (ilo >= 0 && ilo < in_end) xl[t] = rows[t][ilo];
            }
            float *op = o + (p - a);
            if (run == 16) {
                float acc[16];
                for (int k = 0; k < 16; k++)
                    acc[k] = bias;
                for (int t = 0; t < nt; t++)
                    for (int k = 0; k < 16; k++)
                        acc[k] += xh[t] * wt[t][k] + xl[t] * wt[t][k + 16];
                for (int k = 0; k < 16; k++)
                    op[k] = acc[k] > 0.0f ? acc[k] : 0.4f * acc[k];
            } else {
                for (int k = 0; k < run; k++) {
                    float acc = bias;
                    for (int t = 0; t < nt; t++)
                        acc += xh[t] * wt[t][ph + k] + xl[t] * wt[t][ph + k + 16];
                    op[k] = acc > 0.0f ? acc : 0.4f * acc;
                }
            }
            p += run;
        }
    }
}

static long oldest_layer_pos(const nn_diffwave_stream *s, int layer) {
    long o = LONG_MAX;
    for (int k = 0; k < s->S; k++)
        o = lmin(o, s->st[k].ls[layer].out_pos);
    return o;
}

static long oldest_any_pos(const nn_diffwave_stream *s) {
    long o = LONG_MAX;
    for (int i = 0; i < s->L; i++)
        o = lmin(o, oldest_layer_pos(s, i));
    return o;
}

/* Advances the conditioner by up to one block; returns 1 on progress. */
static int cond_advance(nn_diffwave_stream *s) {
    const nn_diffwave *m = s->m;
    const int M = s->M;
    const long u1_target = s->finished ? 16 * s->frames : lmax(0, 16 * s->frames - 8);
    const long target = s->finished ? s->n_end : lmax(0, 256 * s->frames - DW_UPSAMPLER_LOOKAHEAD);
    long n = lmin(target - s->spec_end, s->block);
    if (n <= 0) return 0;
    /* room in the destination */
    if (s->cache) {
        for (int i = 0; i < s->L; i++)
            n = lmin(n, sb_room(&s->cp[i], oldest_layer_pos(s, i), s->spec_end));
    } else {
        n = lmin(n, sb_room(&s->spec, oldest_any_pos(s), s->spec_end));
    }
    if (n <= 0) return 0;
    const long a = s->spec_end, b = a + n;
    /* stage 1 up to what stage 2 needs for [a, b) */
    const long u1_need = lmin(u1_target, ((b - 1 + 8) >> 4) + 1);
    if (u1_need > s->u1_end) {
        const long keep = lmax(-1, ((a + 8) >> 4) - 1);
        sb_reserve(&s->u1, keep, s->u1_end, u1_need);
        sb_reserve(&s->mel, lmax(-1, ((s->u1_end + 8) >> 4) - 1), s->frames, s->frames);
        upsample(&s->mel, s->frames, m->up_w[0], m->up_b[0][0], M, s->u1_end, u1_need, &s->u1);
        s->u1_end = u1_need;
    }
    if (s->cache) {
        /* spectrogram into scratch, then every layer's projection of it */
        sbuf tmp = {s->g, M, s->block, s->gld, a};
        upsample(&s->u1, s->u1_end, m->up_w[1], m->up_b[1][0], M, a, b, &tmp);
        nn_gemm_src src = {s->g, s->gld, M};
        for (int i = 0; i < s->L; i++) {
            const dw_layer *ly = &m->layers[i];
            sbuf *cp = &s->cp[i];
            sb_reserve(cp, oldest_layer_pos(s, i), a, b);
            nn_gemm_ep ep = {.bias = ly->bias_dc};
            nn_gemm_run(ly->cond, &src, 1, (int)n, sb_at(cp, a), cp->ld, &ep);
        }
    } else {
        sb_reserve(&s->spec, oldest_any_pos(s), a, b);
        upsample(&s->u1, s->u1_end, m->up_w[1], m->up_b[1][0], M, a, b, &s->spec);
    }
    s->spec_end = b;
    return 1;
}

/* ---- stages ----------------------------------------------------------------------------- */

/* Writes x (the layer-0 residual input after the input projection) and y for positions
 * [p0, p0 + n) of layer `li` from values v[c][j] (row stride ldv), masking y outside the
 * utterance. */
static void layer_write(nn_diffwave_stream *s, dw_stage *st, int li, long p0, int n, const float *v,
                        int ldv) {
    dw_lstate *l = &st->ls[li];
    const int C = s->C;
    const dw_layer *ly = &s->m->layers[li];
    sb_reserve(&l->x, l->out_pos, l->in_end, p0 + n);
    sb_reserve(&l->y, l->out_pos - 2 * ly->d + ly->sh, l->in_end, p0 + n);
    const float *d = st->dproj + (size_t)li * C;
    /* y is zero outside the utterance [0, n_end): columns [j0, j1) are inside */
    const int j0 = (int)lmin(n, lmax(0, -p0)), j1 = (int)lmax(j0, lmin(n, s->n_end - p0));
    for (int c = 0; c < C; c++) {
        const float *restrict src = v + (size_t)c * ldv;
        float *restrict x = sb_at(&l->x, p0) + (size_t)c * l->x.ld;
        float *restrict y = sb_at(&l->y, p0) + (size_t)c * l->y.ld;
        const float dc = d[c];
        if (src != x) memcpy(x, src, sizeof(float) * (size_t)n);
        for (int j = 0; j < j0; j++)
            y[j] = 0.0f;
        for (int j = j0; j < j1; j++)
            y[j] = src[j] + dc;
        for (int j = j1; j < n; j++)
            y[j] = 0.0f;
    }
    l->in_end = p0 + n;
}

static long layer_room(const nn_diffwave_stream *s, const dw_stage *st, int li) {
    const dw_lstate *l = &st->ls[li];
    const dw_layer *ly = &s->m->layers[li];
    return lmin(sb_room(&l->x, l->out_pos, l->in_end),
                sb_room(&l->y, l->out_pos - 2 * ly->d + ly->sh, l->in_end));
}

/* Stage input x for [p0, p0+n): kept for the update, projected 1 -> C (+ReLU) into layer 0. */
static void stage_feed(nn_diffwave_stream *s, dw_stage *st, long p0, int n, const float *x) {
    sb_reserve(&st->xin, st->out_pos, st->in_end, p0 + n);
    memcpy(sb_at(&st->xin, p0), x, sizeof(float) * (size_t)n);
    const nn_diffwave *m = s->m;
    for (int c = 0; c < s->C; c++) {
        float *h = s->h + (size_t)c * s->gld;
        const float w = m->in_w[c], b = m->in_b[c];
        for (int j = 0; j < n; j++) {
            const float v = w * x[j] + b;
            h[j] = v > 0.0f ? v : 0.0f;
        }
    }
    layer_write(s, st, 0, p0, n, s->h, s->gld);
    st->in_end = p0 + n;
}

static long stage_room(const nn_diffwave_stream *s, const dw_stage *st) {
    return lmin(sb_room(&st->xin, st->out_pos, st->in_end), layer_room(s, st, 0));
}

/* Runs layer li of stage st over up to one block; returns 1 on progress. */
static int layer_advance(nn_diffwave_stream *s, dw_stage *st, int li) {
    const nn_diffwave *m = s->m;
    const dw_layer *ly = &m->layers[li];
    dw_lstate *l = &st->ls[li];
    const int C = s->C, L = s->L;
    if (s->finished && !l->padded && l->in_end >= s->n_end) {
        /* zeros past the end of the utterance, as PyTorch's padding */
        const long a = l->in_end, b = s->n_end + ly->sh;
        if (b > a) {
            if (layer_room(s, st, li) < b - a) return 0;
            sb_reserve(&l->x, l->out_pos, l->in_end, b);
            sb_reserve(&l->y, l->out_pos - 2 * ly->d + ly->sh, l->in_end, b);
            for (int c = 0; c < C; c++) {
                memset(sb_at(&l->x, a) + (size_t)c * l->x.ld, 0, sizeof(float) * (size_t)(b - a));
                memset(sb_at(&l->y, a) + (size_t)c * l->y.ld, 0, sizeof(float) * (size_t)(b - a));
            }
            l->in_end = b;
        }
        l->padded = 1;
    }
    long n = lmin(lmin(l->in_end - ly->sh, s->spec_end), s->n_end) - l->out_pos;
    n = lmin(n, s->block);
    if (li + 1 < L) n = lmin(n, layer_room(s, st, li + 1));
    n = lmin(n, sb_room(&st->skip, st->out_pos, l->out_pos));
    if (n <= 0) return 0;
    const long p0 = l->out_pos;
    /* dilated conv (+ conditioner): taps at p - 2d + sh, p - d + sh, p + sh */
    nn_gemm_src src[4];
    for (int j = 0; j < 3; j++) {
        src[j].p = sb_at(&l->y, p0 + (long)(j - 2) * ly->d + ly->sh);
        src[j].ld = l->y.ld;
        src[j].rows = C;
    }
    /* gate fused into the GEMM's epilogue when the model's rows were packed for it */
    float *gout = m->gated ? s->z : s->g;
    if (s->cache) {
        const sbuf *cp = &s->cp[li];
        nn_gemm_ep ep = {.add = sb_at(cp, p0), .ld_add = cp->ld, .gate = m->gated};
        nn_gemm_run(ly->dil, src, 3, (int)n, gout, s->gld, &ep);
    } else {
        src[3].p = sb_at(&s->spec, p0);
        src[3].ld = s->spec.ld;
        src[3].rows = s->M;
        nn_gemm_ep ep = {.bias = ly->bias_dc, .gate = m->gated};
        nn_gemm_run(ly->dil_cond, src, 4, (int)n, gout, s->gld, &ep);
    }
    if (!m->gated) nn_gate(m->isa, s->g, s->gld, C, (int)n, s->z, s->gld);
    /* skip: the first layer stores, the others accumulate */
    nn_gemm_src zs = {s->z, s->gld, C};
    sb_reserve(&st->skip, st->out_pos, l->out_pos > 0 ? st->ls[0].out_pos : 0, p0 + n);
    nn_gemm_ep eps = {.bias = ly->skip_b, .accumulate = li > 0};
    nn_gemm_run(ly->skip, &zs, 1, (int)n, sb_at(&st->skip, p0), st->skip.ld, &eps);
    if (li + 1 < L) {
        /* residual straight into the next layer's x: (W z + b + x) / sqrt 2 */
        dw_lstate *nl = &st->ls[li + 1];
        const dw_layer *nly = &m->layers[li + 1];
        sb_reserve(&nl->x, nl->out_pos, nl->in_end, p0 + n);
        sb_reserve(&nl->y, nl->out_pos - 2 * nly->d + nly->sh, nl->in_end, p0 + n);
        float *nx = sb_at(&nl->x, p0);
        nn_gemm_ep epr = {.bias = ly->res_b,
                          .add = sb_at(&l->x, p0),
                          .ld_add = l->x.ld,
                          .scale = (float)M_SQRT1_2};
        if (p0 >= 0 && p0 + n <= s->n_end) {
            /* inside the utterance: y = x + d straight from the epilogue */
            epr.y2 = sb_at(&nl->y, p0);
            epr.ld_y2 = nl->y.ld;
            epr.bias2 = st->dproj + (size_t)(li + 1) * C;
            nn_gemm_run(ly->res, &zs, 1, (int)n, nx, nl->x.ld, &epr);
            nl->in_end = p0 + n;
        } else {
            nn_gemm_run(ly->res, &zs, 1, (int)n, nx, nl->x.ld, &epr);
            layer_write(s, st, li + 1, p0, (int)n, nx, nl->x.ld);
        }
    }
    l->out_pos = p0 + n;
    return 1;
}

/* Output head and sampler update for positions complete in all layers; returns 1 on
 * progress.  next is the following stage, or NULL for the last one (output queue). */
static int stage_output(nn_diffwave_stream *s, dw_stage *st, dw_stage *next) {
    const nn_diffwave *m = s->m;
    long n = lmin(st->ls[s->L - 1].out_pos - st->out_pos, s->block);
    if (next)
        n = lmin(n, stage_room(s, next));
    else
        n = lmin(n, sb_room(&s->outq, lmax(0, s->emitted - s->latency), st->out_pos));
    if (n <= 0) return 0;
    const long p0 = st->out_pos;
    nn_gemm_src hs = {sb_at(&st->skip, p0), st->skip.ld, s->C};
    nn_gemm_ep e1 = {.bias = m->skipproj_b, .relu = 1};
    nn_gemm_run(m->skipproj, &hs, 1, (int)n, s->h, s->gld, &e1);
    nn_gemm_src os = {s->h, s->gld, s->C};
    nn_gemm_ep e2 = {.bias = m->outproj_b};
    nn_gemm_run(m->outproj, &os, 1, (int)n, s->e, s->gld, &e2);
    float *v = s->xv;
    if (s->eps_mode) {
        memcpy(v, s->e, sizeof(float) * (size_t)n);
    } else if (s->refine) {
        /* x0 = prior + correction; the next step's input, or x0 itself after the last */
        const float *x = sb_at(&st->xin, p0), *pr = sb_at(&s->pri, p0);
        for (long j = 0; j < n; j++) {
            const float x0 = pr[j] + s->e[j];
            v[j] =
                st->rn_a < 0.0f ? x0 : st->rn_a * x0 + st->rn_s * ((x[j] - st->ra * x0) / st->rs);
        }
    } else {
        const float *x = sb_at(&st->xin, p0);
        if (st->noise_k >= 0) draw_noise(s, st->noise_k, p0, (int)n, s->nz);
        for (long j = 0; j < n; j++) {
            float a = st->c1 * (x[j] - st->c2 * s->e[j]);
            if (st->noise_k >= 0) a = a + st->sigma * s->nz[j];
            v[j] = a < -1.0f ? -1.0f : a > 1.0f ? 1.0f : a;
        }
    }
    if (next) {
        stage_feed(s, next, p0, (int)n, v);
    } else {
        const long keep = lmax(0, s->emitted - s->latency);
        sb_reserve(&s->outq, keep, p0, p0 + n);
        memcpy(sb_at(&s->outq, p0), v, sizeof(float) * (size_t)n);
    }
    st->out_pos = p0 + n;
    return 1;
}

static int stage0_input(nn_diffwave_stream *s) {
    dw_stage *st = &s->st[0];
    long n = lmin(s->spec_end + s->m->layers[0].sh, s->n_end) - st->in_end;
    if (s->refine) n = lmin(n, s->pri_end - st->in_end);
    n = lmin(lmin(n, s->block), stage_room(s, st));
    if (n <= 0) return 0;
    draw_noise(s, 0, st->in_end, (int)n, s->xv);
    if (s->refine) {
        /* the start: the prior diffused to the first refine step */
        const float *pr = sb_at(&s->pri, st->in_end);
        for (long j = 0; j < n; j++)
            s->xv[j] = st->ra * pr[j] + st->rs * s->xv[j];
    }
    stage_feed(s, st, st->in_end, (int)n, s->xv);
    return 1;
}

static void run_available(nn_diffwave_stream *s) {
    for (;;) {
        int progress = cond_advance(s);
        progress |= stage0_input(s);
        for (int k = 0; k < s->S; k++) {
            dw_stage *st = &s->st[k];
            for (int i = 0; i < s->L; i++)
                progress |= layer_advance(s, st, i);
            progress |= stage_output(s, st, k + 1 < s->S ? &s->st[k + 1] : NULL);
        }
        if (!progress) break;
    }
}

/* ---- public API -------------------------------------------------------------------------- */

static void set_err(char *err, size_t len, const char *fmt, ...) {
    if (!err || !len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

void nn_diffwave_stream_config_default(nn_diffwave_stream_config *c) {
    memset(c, 0, sizeof *c);
    c->fast = 1;
    c->max_frames = 16;
    c->block = 512;
    c->seed = 1;
}

static void stream_clear(nn_diffwave_stream *s) {
    const nn_diffwave *m = s->m;
    for (int k = 0; k < s->S; k++) {
        dw_stage *st = &s->st[k];
        for (int i = 0; i < s->L; i++) {
            dw_lstate *l = &st->ls[i];
            const dw_layer *ly = &m->layers[i];
            sb_clear(&l->x, 0, 0);
            /* the 2d samples before the start read as zeros: PyTorch's left padding */
            sb_clear(&l->y, -2L * ly->d, 2 * ly->d);
            l->in_end = 0;
            l->out_pos = 0;
            l->padded = 0;
        }
        sb_clear(&st->skip, 0, 0);
        sb_clear(&st->xin, 0, 0);
        st->in_end = st->out_pos = 0;
    }
    sb_clear(&s->mel, -1, 0); /* the upsampler never reads frames before 0 or past the end */
    sb_clear(&s->u1, -1, 0);
    if (s->cache)
        for (int i = 0; i < s->L; i++)
            sb_clear(&s->cp[i], 0, 0);
    else
        sb_clear(&s->spec, 0, 0);
    sb_clear(&s->outq, 0, 0);
    if (s->refine) sb_clear(&s->pri, 0, 0);
    s->pri_end = 0;
    s->frames = s->u1_end = s->spec_end = s->emitted = 0;
    s->n_end = LONG_MAX;
    s->finished = 0;
}

void nn_diffwave_stream_reset(nn_diffwave_stream *s, uint64_t seed) {
    s->cfg.seed = seed;
    for (int k = 0; k < s->S; k++)
        rng_seed(&s->rng[k], seed, k);
    stream_clear(s);
}

/* t_override >= 0: one stage in eps mode at that step (nn_diffwave_eps). */
static nn_diffwave_stream *stream_create(const nn_diffwave *m, const nn_diffwave_stream_config *cfg,
                                         float t_override, char *err, size_t errlen) {
    const nn_diffwave_info *in = &m->info;
    nn_diffwave_stream_config c;
    if (cfg)
        c = *cfg;
    else
        nn_diffwave_stream_config_default(&c);
    if (c.block <= 0) c.block = 512;
    if (c.max_frames <= 0) c.max_frames = 16;
    if (c.block < 16 || c.block > 1 << 16 || c.max_frames > 1 << 20) {
        set_err(err, errlen, "diffwave: bad stream configuration");
        return NULL;
    }
    const double *betas = c.betas ? c.betas : c.fast ? m->betas_infer : m->betas_train;
    if (t_override < 0 && c.n_refine < 0) {
        set_err(err, errlen, "diffwave: negative number of refine steps");
        return NULL;
    }
    const int refine = t_override < 0 && c.n_refine > 0;
    const int S = t_override >= 0 ? 1
                  : refine        ? c.n_refine
                  : c.betas       ? c.n_betas
                  : c.fast        ? in->n_fast_steps
                                  : in->max_steps;
    for (int k = 0; refine && k < S; k++)
        if (!c.refine_steps || c.refine_steps[k] < 0 || c.refine_steps[k] >= in->max_steps ||
            (k && c.refine_steps[k] >= c.refine_steps[k - 1])) {
            set_err(err, errlen, "diffwave: refine steps must decrease within 0..%d",
                    in->max_steps - 1);
            return NULL;
        }
    if (S < 1 || S > 1000) {
        set_err(err, errlen, "diffwave: bad number of steps %d", S);
        return NULL;
    }
    nn_diffwave_stream *s = calloc(1, sizeof *s);
    if (!s) {
        set_err(err, errlen, "diffwave: out of memory");
        return NULL;
    }
    s->m = m;
    s->cfg = c;
    s->S = S;
    s->L = in->layers;
    s->C = in->channels;
    s->M = in->n_mels;
    s->block = c.block;
    s->eps_mode = t_override >= 0;
    s->refine = refine;
    s->latency = nn_diffwave_lookahead(m, S);
    const int L = s->L, C = s->C, B = s->block;
    const long D = in->step_lookahead;
    s->gld = nn_gemm_ld(B);
    const long span = (long)S * D + 3L * B + 64; /* positions the conditioner must keep */
    const size_t cache_bytes =
        (size_t)L * 2 * C * (size_t)nn_gemm_ld((int)lmin(span, INT_MAX / 2)) * 4;
    const size_t budget = c.cond_cache_bytes ? c.cond_cache_bytes : (size_t)256 << 20;
    s->cache = cache_bytes <= budget && span < INT_MAX / 4;
    double *alpha = malloc(sizeof(double) * 2 * (size_t)(S + 1));
    float *T = malloc(sizeof(float) * (size_t)(S + 1));
    s->st = calloc((size_t)S, sizeof *s->st);
    s->rng = calloc((size_t)S, sizeof *s->rng);
    int fail = !alpha || !T || !s->st || !s->rng;
    if (!fail && !s->eps_mode && !refine &&
        nn_diffwave_schedule(m->betas_train, in->max_steps, betas, S, alpha, alpha + S + 1, T)) {
        set_err(err, errlen, "diffwave: inference betas outside the training schedule");
        free(alpha);
        free(T);
        nn_diffwave_stream_free(s);
        return NULL;
    }
    const size_t fb = sizeof(float) * (size_t)s->gld;
    if (!fail) {
        const int gr = 2 * C > s->M ? 2 * C : s->M;
        s->g = aligned_alloc(64, fb * (size_t)gr);
        s->z = aligned_alloc(64, fb * (size_t)C);
        s->r = aligned_alloc(64, fb * (size_t)C);
        s->h = aligned_alloc(64, fb * (size_t)C);
        s->e = aligned_alloc(64, fb);
        s->nz = aligned_alloc(64, fb);
        s->xv = aligned_alloc(64, fb);
        s->bytes += fb * (size_t)(gr + 3 * C + 3);
        fail = !s->g || !s->z || !s->r || !s->h || !s->e || !s->nz || !s->xv;
    }
    for (int k = 0; k < S && !fail; k++) {
        dw_stage *st = &s->st[k];
        const int n = S - 1 - k; /* diffusion step handled by this stage */
        if (s->eps_mode) {
            st->noise_k = -1;
        } else if (refine) {
            double ab = 1.0, abn = 1.0;
            for (int t = 0; t <= c.refine_steps[k]; t++)
                ab *= 1.0 - m->betas_train[t];
            st->ra = (float)sqrt(ab);
            st->rs = (float)sqrt(1.0 - ab);
            st->rn_a = st->rn_s = -1.0f;
            if (k + 1 < S) {
                for (int t = 0; t <= c.refine_steps[k + 1]; t++)
                    abn *= 1.0 - m->betas_train[t];
                st->rn_a = (float)sqrt(abn);
                st->rn_s = (float)sqrt(1.0 - abn);
            }
            st->noise_k = -1;
        } else {
            const double *ac = alpha + S + 1;
            const double beta = betas[n];
            st->c1 = (float)(1.0 / sqrt(alpha[n]));
            st->c2 = (float)(beta / sqrt(1.0 - ac[n]));
            st->sigma = n > 0 ? (float)sqrt((1.0 - ac[n - 1]) / (1.0 - ac[n]) * beta) : 0.0f;
            st->noise_k = n > 0 ? S - n : -1;
        }
        st->dproj = malloc(sizeof(float) * (size_t)L * C);
        st->ls = calloc((size_t)L, sizeof *st->ls);
        if (!st->dproj || !st->ls) {
            fail = 1;
            break;
        }
        s->bytes += sizeof(float) * (size_t)L * C;
        dw_step_projection(m,
                           s->eps_mode ? t_override
                           : refine    ? (float)c.refine_steps[k]
                                       : T[n],
                           st->dproj);
        for (int i = 0; i < L && !fail; i++) {
            const dw_layer *ly = &m->layers[i];
            fail |= sb_init(s, &st->ls[i].x, C, ly->sh + 2 * B + 64, 0);
            fail |= sb_init(s, &st->ls[i].y, C, 2 * ly->d + ly->sh + 2 * B + 64, 0);
        }
        if (!fail) {
            fail |= sb_init(s, &st->skip, C, (int)D + 2 * B + 64, 0);
            fail |= sb_init(s, &st->xin, 1, (int)D + 2 * B + 64, 0);
        }
    }
    free(alpha);
    free(T);
    if (!fail) {
        fail |= sb_init(s, &s->mel, s->M, c.max_frames + B / 256 + 8, -1);
        fail |= sb_init(s, &s->u1, s->M, 16 * c.max_frames + B / 16 + 8, -1);
        fail |= sb_init(s, &s->outq, 1, 256 * c.max_frames + 2 * B + 64, 0);
        /* the prior is kept from the last stage's position to what process has given: the
         * stream's latency behind, plus a call's frames and a block */
        if (refine)
            fail |= sb_init(s, &s->pri, 1, (int)s->latency + 256 * c.max_frames + 2 * B + 64, 0);
    }
    if (!fail && s->cache) {
        s->cp = calloc((size_t)L, sizeof *s->cp);
        fail = !s->cp;
        for (int i = 0; i < L && !fail; i++)
            fail |= sb_init(s, &s->cp[i], 2 * C, (int)span, 0);
    } else if (!fail) {
        fail |= sb_init(s, &s->spec, s->M, (int)lmin(span, INT_MAX / 4), 0);
    }
    if (fail) {
        set_err(err, errlen, "diffwave: out of memory for the stream state");
        nn_diffwave_stream_free(s);
        return NULL;
    }
    nn_diffwave_stream_reset(s, c.seed);
    return s;
}

nn_diffwave_stream *nn_diffwave_stream_create(const nn_diffwave *m,
                                              const nn_diffwave_stream_config *cfg, char *err,
                                              size_t errlen) {
    return stream_create(m, cfg, -1.0f, err, errlen);
}

void nn_diffwave_stream_free(nn_diffwave_stream *s) {
    if (!s) return;
    if (s->st)
        for (int k = 0; k < s->S; k++) {
            dw_stage *st = &s->st[k];
            if (st->ls)
                for (int i = 0; i < s->L; i++) {
                    free(st->ls[i].x.data);
                    free(st->ls[i].y.data);
                }
            free(st->ls);
            free(st->dproj);
            free(st->skip.data);
            free(st->xin.data);
        }
    free(s->st);
    if (s->cp)
        for (int i = 0; i < s->L; i++)
            free(s->cp[i].data);
    free(s->cp);
    free(s->spec.data);
    free(s->mel.data);
    free(s->u1.data);
    free(s->outq.data);
    free(s->pri.data);
    free(s->rng);
    free(s->g);
    free(s->z);
    free(s->r);
    free(s->h);
    free(s->e);
    free(s->nz);
    free(s->xv);
    free(s);
}

int nn_diffwave_stream_steps(const nn_diffwave_stream *s) {
    return s->S;
}
size_t nn_diffwave_stream_bytes(const nn_diffwave_stream *s) {
    return s->bytes;
}
int nn_diffwave_stream_caches_cond(const nn_diffwave_stream *s) {
    return s->cache;
}

/* Copies output samples [emitted, emitted + n) (vocoded position = index - latency). */
static void emit(nn_diffwave_stream *s, float *out, long n) {
    for (long j = 0; j < n; j++) {
        const long pos = s->emitted + j - s->latency;
        const long done = s->st[s->S - 1].out_pos;
        out[j] = (pos >= 0 && pos < done) ? *sb_at(&s->outq, pos) : 0.0f;
    }
    s->emitted += n;
}

static int process_frames(nn_diffwave_stream *s, const float *mel, int nf, float *out);

int nn_diffwave_stream_process(nn_diffwave_stream *s, const float *mel, int nf, float *out) {
    if (s->refine) return -1; /* a refiner needs its prior: nn_diffwave_stream_process_prior */
    return process_frames(s, mel, nf, out);
}

int nn_diffwave_stream_process_prior(nn_diffwave_stream *s, const float *mel, const float *prior,
                                     int nf, float *out) {
    if (!s->refine || s->finished || nf < 0 || nf > s->cfg.max_frames) return -1;
    const long p0 = s->pri_end, n = (long)nf * 256, keep = s->st[s->S - 1].out_pos;
    if (p0 + n - keep > s->pri.cap) return -1; /* cannot happen: sized at create */
    sb_reserve(&s->pri, keep, p0, p0 + n);
    memcpy(sb_at(&s->pri, p0), prior, sizeof(float) * (size_t)n);
    s->pri_end = p0 + n;
    return process_frames(s, mel, nf, out);
}

static int process_frames(nn_diffwave_stream *s, const float *mel, int nf, float *out) {
    if (s->finished || nf < 0 || nf > s->cfg.max_frames) return -1;
    const int M = s->M;
    for (int f0 = 0; f0 < nf;) {
        /* frames go in as fast as the mel buffer has room; the pipeline drains in between */
        long room = sb_room(&s->mel, lmax(-1, ((s->u1_end + 8) >> 4) - 1), s->frames);
        int take = (int)lmin(nf - f0, room);
        if (take <= 0) {
            run_available(s);
            room = sb_room(&s->mel, lmax(-1, ((s->u1_end + 8) >> 4) - 1), s->frames);
            take = (int)lmin(nf - f0, room);
            if (take <= 0) return -1; /* cannot happen: sized at create */
        }
        sb_reserve(&s->mel, lmax(-1, ((s->u1_end + 8) >> 4) - 1), s->frames, s->frames + take);
        for (int f = 0; f < take; f++)
            for (int mm = 0; mm < M; mm++)
                sb_at(&s->mel, s->frames + f)[(size_t)mm * s->mel.ld] =
                    mel[(size_t)(f0 + f) * M + mm];
        s->frames += take;
        f0 += take;
    }
    run_available(s);
    emit(s, out, (long)nf * 256);
    return nf * 256;
}

int nn_diffwave_stream_finish(nn_diffwave_stream *s, float *out) {
    if (s->finished) return 0;
    s->finished = 1;
    s->n_end = 256 * s->frames;
    /* the tail can be longer than the output queue: emit as it drains */
    const long total = s->n_end + s->latency;
    long w = 0;
    while (s->emitted < total) {
        run_available(s);
        const long avail = lmin(s->st[s->S - 1].out_pos + s->latency, total) - s->emitted;
        if (avail <= 0) return -1; /* stalled: a sizing bug, never expected */
        emit(s, out + w, avail);
        w += avail;
    }
    return (int)w;
}

static int whole(const nn_diffwave *m, const nn_diffwave_stream_config *cfg, float t,
                 const float *mel, int nf, float *out, char *err, size_t errlen) {
    nn_diffwave_stream_config c;
    if (cfg)
        c = *cfg;
    else
        nn_diffwave_stream_config_default(&c);
    if (c.max_frames <= 0) c.max_frames = 16;
    nn_diffwave_stream *s = stream_create(m, &c, t, err, errlen);
    if (!s) return -1;
    const long lat = s->latency;
    float *tmp = malloc(sizeof(float) * ((size_t)nf * 256 + (size_t)lat));
    if (!tmp) {
        nn_diffwave_stream_free(s);
        set_err(err, errlen, "diffwave: out of memory");
        return -1;
    }
    long w = 0;
    int rc = 0;
    for (int f = 0; f < nf && rc >= 0; f += c.max_frames) {
        const int k = nf - f < c.max_frames ? nf - f : c.max_frames;
        rc = nn_diffwave_stream_process(s, mel + (size_t)f * m->info.n_mels, k, tmp + w);
        w += rc;
    }
    if (rc >= 0) rc = nn_diffwave_stream_finish(s, tmp + w);
    if (rc < 0)
        set_err(err, errlen, "diffwave: stream failed");
    else
        memcpy(out, tmp + lat, sizeof(float) * (size_t)nf * 256);
    free(tmp);
    nn_diffwave_stream_free(s);
    return rc < 0 ? -1 : 0;
}

int nn_diffwave_vocode(const nn_diffwave *m, const nn_diffwave_stream_config *cfg, const float *mel,
                       int nf, float *out, char *err, size_t errlen) {
    return whole(m, cfg, -1.0f, mel, nf, out, err, errlen);
}

typedef struct {
    const float *x;
    long n;
} eps_src;

static void eps_noise(void *user, int k, long pos, int n, float *out) {
    const eps_src *e = user;
    (void)k;
    for (int i = 0; i < n; i++)
        out[i] = pos + i < e->n ? e->x[pos + i] : 0.0f;
}

int nn_diffwave_eps(const nn_diffwave *m, const float *mel, int nf, const float *x, float t,
                    float *eps, char *err, size_t errlen) {
    eps_src src = {x, (long)nf * 256};
    nn_diffwave_stream_config c;
    nn_diffwave_stream_config_default(&c);
    c.noise = eps_noise;
    c.noise_user = &src;
    if (t < 0) t = 0;
    return whole(m, &c, t, mel, nf, eps, err, errlen);
}

int nn_diffwave_refine(const nn_diffwave *m, const int *steps, int n_steps, const float *mel,
                       int nf, const float *prior, const float *eps, float *out, char *err,
                       size_t errlen) {
    const int T = m->info.max_steps;
    if (!steps) n_steps = 0;
    for (int i = 0; i < n_steps; i++)
        if (steps[i] < 0 || steps[i] >= T || (i && steps[i] >= steps[i - 1])) {
            set_err(err, errlen, "diffwave: refine steps must decrease within 0..%d", T - 1);
            return -1;
        }
    if (n_steps < 1) {
        set_err(err, errlen, "diffwave: no refine steps");
        return -1;
    }
    const long N = (long)nf * 256;
    float *x = malloc(sizeof(float) * (size_t)N), *f = malloc(sizeof(float) * (size_t)N);
    double *ab = malloc(sizeof(double) * (size_t)T);
    if (!x || !f || !ab) {
        free(x);
        free(f);
        free(ab);
        set_err(err, errlen, "diffwave: out of memory");
        return -1;
    }
    double acc = 1.0;
    for (int t = 0; t < T; t++) {
        acc *= 1.0 - m->betas_train[t];
        ab[t] = acc;
    }
    /* the same single-precision arithmetic as the PyTorch twin (float tensors, scalars cast) */
    const float a0 = (float)sqrt(ab[steps[0]]), s0 = (float)sqrt(1.0 - ab[steps[0]]);
    for (long j = 0; j < N; j++)
        x[j] = a0 * prior[j] + s0 * eps[j];
    int rc = 0;
    for (int i = 0; i < n_steps && rc == 0; i++) {
        const int k = steps[i];
        rc = nn_diffwave_eps(m, mel, nf, x, (float)k, f, err, errlen);
        if (rc) break;
        if (i + 1 == n_steps) {
            for (long j = 0; j < N; j++)
                out[j] = prior[j] + f[j];
            break;
        }
        const float ak = (float)sqrt(ab[k]), sk = (float)sqrt(1.0 - ab[k]);
        const float an = (float)sqrt(ab[steps[i + 1]]), sn = (float)sqrt(1.0 - ab[steps[i + 1]]);
        for (long j = 0; j < N; j++) {
            const float x0 = prior[j] + f[j];
            const float e = (x[j] - ak * x0) / sk;
            x[j] = an * x0 + sn * e;
        }
    }
    free(x);
    free(f);
    free(ab);
    return rc;
}
