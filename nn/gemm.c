/* GEMM driver: weight packing, loop nest around the per-ISA micro-tiles, and the portable
 * generic kernels.  Loop order: column tiles outside, weight panels inside, so one tile of
 * activations (k x nr floats, 18-48 KB for DiffWave) stays in L1 while the packed weights
 * stream through from L2 in order. */
#include "nn/gemm.h"
#include "nn/gemm_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct nn_gemm_w {
    int m, k, mr;
    nn_isa isa;
    const nn_isa_kernels *kern;
    float *packed; /* ceil(m / mr) panels of [k][mr], rows past m zero */
};

/* ---- portable kernels ------------------------------------------------------------------ */

#define G_MR 4
#define G_NR 16

static void tile_generic(const float *wp, int k, const nn_gemm_src *src, int nsrc, int n0, int nn,
                         int mrows, float *y, int ldy, const nn_gemm_ep *ep) {
    (void)k;
    float acc[G_MR][G_NR] = {{0}};
    const float *w = wp;
    for (int g = 0; g < nsrc; g++) {
        const float *p = src[g].p + n0;
        for (int r = 0; r < src[g].rows; r++, p += src[g].ld, w += G_MR) {
            if (nn == G_NR) {
                for (int i = 0; i < G_MR; i++)
                    for (int j = 0; j < G_NR; j++)
                        acc[i][j] += w[i] * p[j];
            } else {
                for (int i = 0; i < G_MR; i++)
                    for (int j = 0; j < nn; j++)
                        acc[i][j] += w[i] * p[j];
            }
        }
    }
    if (ep && ep->gate) {
        const int h = G_MR / 2;
        for (int i = 0; i < h; i++)
            for (int j = 0; j < nn; j++) {
                float a = acc[i][j] + (ep->bias ? ep->bias[i] : 0.0f);
                float f = acc[i + h][j] + (ep->bias ? ep->bias[i + h] : 0.0f);
                if (ep->add) {
                    a += ep->add[(long)i * ep->ld_add + n0 + j];
                    f += ep->add[(long)(i + h) * ep->ld_add + n0 + j];
                }
                y[(long)i * ldy + n0 + j] = tanhf(f) / (1.0f + expf(-a));
            }
        return;
    }
    for (int i = 0; i < mrows; i++) {
        float *yr = y + (long)i * ldy + n0;
        const float b = ep && ep->bias ? ep->bias[i] : 0.0f;
        const float *add = ep && ep->add ? ep->add + (long)i * ep->ld_add + n0 : NULL;
        for (int j = 0; j < nn; j++) {
            float s = acc[i][j] + b;
            if (add) s += add[j];
            if (ep && ep->scale != 0.0f) s *= ep->scale;
            if (ep && ep->accumulate) s += yr[j];
            if (ep && ep->relu && s < 0.0f) s = 0.0f;
            yr[j] = s;
            if (ep && ep->y2) ep->y2[(long)i * ep->ld_y2 + n0 + j] = s + ep->bias2[i];
        }
    }
}

static void gate_generic(const float *g, int ldg, int C, int n, float *out, int ldo) {
    for (int c = 0; c < C; c++) {
        const float *a = g + (long)c * ldg, *b = g + (long)(c + C) * ldg;
        float *o = out + (long)c * ldo;
        for (int t = 0; t < n; t++)
            o[t] = tanhf(b[t]) / (1.0f + expf(-a[t]));
    }
}

static double fma_loop_generic(long iters) {
    float a[16];
    for (int j = 0; j < 16; j++)
        a[j] = 1.0f + (float)j * 0.001f;
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < 16; j++)
            a[j] = a[j] * 0.999999f + 1e-6f;
    float s = 0;
    for (int j = 0; j < 16; j++)
        s += a[j];
    volatile float sink = s;
    (void)sink;
    return (double)iters * 16.0 * 2.0;
}

const nn_isa_kernels nn_kernels_generic = {G_MR, G_NR, tile_generic, gate_generic,
                                           fma_loop_generic};

const nn_isa_kernels *nn_kernels_for(nn_isa isa) {
#ifdef NN_HAVE_X86_KERNELS
    if (isa == NN_ISA_AVX512) return &nn_kernels_avx512;
    if (isa == NN_ISA_AVX2) return &nn_kernels_avx2;
#endif
    (void)isa;
    return &nn_kernels_generic;
}

/* ---- packing and driver ---------------------------------------------------------------- */

nn_gemm_w *nn_gemm_w_create(nn_isa isa, const float *w, int m, int k, int ldw) {
    if (!w || m <= 0 || k <= 0 || ldw < k || isa < 0 || isa >= NN_ISA_COUNT) return NULL;
    nn_gemm_w *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->m = m;
    g->k = k;
    g->isa = isa;
    g->kern = nn_kernels_for(isa);
    g->mr = g->kern->mr;
    const int panels = (m + g->mr - 1) / g->mr;
    const size_t bytes = ((size_t)panels * g->mr * k * sizeof(float) + 63) & ~(size_t)63;
    g->packed = aligned_alloc(64, bytes);
    if (!g->packed) {
        free(g);
        return NULL;
    }
    memset(g->packed, 0, bytes);
    for (int p = 0; p < panels; p++) {
        float *dst = g->packed + (size_t)p * g->mr * k;
        for (int kk = 0; kk < k; kk++)
            for (int i = 0; i < g->mr; i++) {
                const int row = p * g->mr + i;
                dst[(size_t)kk * g->mr + i] = row < m ? w[(size_t)row * ldw + kk] : 0.0f;
            }
    }
    return g;
}

void nn_gemm_w_free(nn_gemm_w *w) {
    if (!w) return;
    free(w->packed);
    free(w);
}

int nn_gemm_w_rows(const nn_gemm_w *w) {
    return w->m;
}
int nn_gemm_w_cols(const nn_gemm_w *w) {
    return w->k;
}
nn_isa nn_gemm_w_isa(const nn_gemm_w *w) {
    return w->isa;
}

void nn_gemm_run(const nn_gemm_w *w, const nn_gemm_src *src, int nsrc, int n, float *y, int ldy,
                 const nn_gemm_ep *ep) {
    const nn_isa_kernels *kn = w->kern;
    const int mr = w->mr, nr = kn->nr, k = w->k;
    const int panels = (w->m + mr - 1) / mr;
    for (int n0 = 0; n0 < n; n0 += nr) {
        const int nn = n - n0 < nr ? n - n0 : nr;
        for (int p = 0; p < panels; p++) {
            const int row = p * mr;
            const int mrows = w->m - row < mr ? w->m - row : mr;
            nn_gemm_ep e = {0};
            if (ep) {
                e = *ep;
                if (e.bias) e.bias += row;
                if (e.add) e.add += (long)row * e.ld_add;
                if (e.y2) {
                    e.y2 += (long)row * e.ld_y2;
                    e.bias2 += row;
                }
            }
            /* a fused gate writes half a panel of rows */
            const long yrow = ep && ep->gate ? (long)p * (mr / 2) : row;
            kn->tile(w->packed + (size_t)p * mr * k, k, src, nsrc, n0, nn, mrows, y + yrow * ldy,
                     ldy, &e);
        }
    }
}

int nn_gemm_gate_order(nn_isa isa, int C, int *order) {
    const int mr = nn_kernels_for(isa)->mr, h = mr / 2;
    if (mr % 2 || C % h) return -1;
    for (int q = 0; q < 2 * C; q++) {
        const int p = q / mr, i = q % mr;
        order[q] = i < h ? p * h + i : C + p * h + (i - h);
    }
    return 0;
}

void nn_gate(nn_isa isa, const float *g, int ldg, int C, int n, float *out, int ldo) {
    nn_kernels_for(isa)->gate(g, ldg, C, n, out, ldo);
}

int nn_gemm_ld(int n) {
    int ld = (n + 15) & ~15;
    if (ld % 512 == 0) ld += 16;
    return ld;
}

void nn_gemm_naive(const float *w, int m, int k, int ldw, const nn_gemm_src *src, int nsrc, int n,
                   float *y, int ldy, const nn_gemm_ep *ep) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            int kk = 0;
            for (int g = 0; g < nsrc; g++)
                for (int r = 0; r < src[g].rows; r++, kk++)
                    s += (double)w[(long)i * ldw + kk] * src[g].p[(long)r * src[g].ld + j];
            (void)k;
            if (ep && ep->bias) s += ep->bias[i];
            if (ep && ep->add) s += ep->add[(long)i * ep->ld_add + j];
            if (ep && ep->scale != 0.0f) s = (float)s * ep->scale;
            if (ep && ep->accumulate) s += y[(long)i * ldy + j];
            if (ep && ep->relu && s < 0) s = 0;
            y[(long)i * ldy + j] = (float)s;
            if (ep && ep->y2) ep->y2[(long)i * ep->ld_y2 + j] = (float)s + ep->bias2[i];
        }
}
