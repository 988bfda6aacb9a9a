/* Mel2Mel building blocks: im2col + one GEMM per convolution tile, norms and activations on
 * channel-last maps.  See layers.h for layouts. */
#include "nn/layers.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Declared here rather than relying on which cblas.h the system's alternatives pick; weak, so
 * another CBLAS links too (the OpenBLAS-specific fixes are then skipped). */
void openblas_set_num_threads(int num_threads) __attribute__((weak));
char *openblas_get_corename(void) __attribute__((weak));
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));

/* Debian bookworm's OpenBLAS 0.3.21 (DYNAMIC_ARCH) detects recent Xeons as "Prescott" and
 * runs SSE3 kernels, 3-5x below the CPU (DESIGN section 2).  OPENBLAS_CORETYPE fixes it only
 * if set before the library loads, which a plugin cannot arrange; but the dynamic-arch table
 * can be chosen again: set the variable, drop the table, re-run the detection.  Done once, at
 * the first model load, and only in that broken case.  Caveat: another thread calling BLAS
 * during these few instructions would see no table, so this must run before audio starts. */
static void fix_openblas_core(void) {
    if (!openblas_get_corename || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
    const char *core = openblas_get_corename();
    if (!core || strcasecmp(core, "Prescott") != 0) return;
    const char *want = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want) return;
    const char *old = getenv("OPENBLAS_CORETYPE");
    char saved[64] = "";
    if (old) snprintf(saved, sizeof saved, "%s", old);
    setenv("OPENBLAS_CORETYPE", want, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    if (old)
        setenv("OPENBLAS_CORETYPE", saved, 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
}

static void init_blas_once(void) {
    fix_openblas_core();
    if (openblas_set_num_threads) openblas_set_num_threads(1);
}

void layers_init_blas(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_blas_once);
}

const char *layers_blas_core(void) {
    return openblas_get_corename ? openblas_get_corename() : "unknown";
}

void layers_gemm(int transb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] *= beta;
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, transb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A,
                lda, B, ldb, beta, C, ldc);
}

/* ---------------------------------------------------------------------------------------- */

static float *dup_floats(const float *src, size_t n) {
    float *d = malloc((n ? n : 1) * sizeof *d);
    if (d && src) memcpy(d, src, n * sizeof *d);
    return d;
}

int layers_conv_init(layers_conv *c, const float *w_torch, const float *bias) {
    size_t K = (size_t)c->kh * c->kw * c->cin;
    size_t n = K * (size_t)c->cout;
    c->w = malloc((n ? n : 1) * sizeof *c->w);
    c->b = bias ? dup_floats(bias, (size_t)c->cout) : NULL;
    if (!c->w || (bias && !c->b)) {
        layers_conv_free(c);
        return -1;
    }
    for (int o = 0; o < c->cout; o++)
        for (int i = 0; i < c->cin; i++)
            for (int a = 0; a < c->kh; a++)
                for (int b = 0; b < c->kw; b++)
                    c->w[(((size_t)a * c->kw + b) * c->cin + i) * c->cout + o] =
                        w_torch[(((size_t)o * c->cin + i) * c->kh + a) * c->kw + b];
    return 0;
}

void layers_conv_free(layers_conv *c) {
    free(c->w);
    free(c->b);
    c->w = c->b = NULL;
}

int layers_conv_out_len(int n, int k, int stride, int dilation, int pad) {
    int span = n + 2 * pad - dilation * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
}

size_t layers_conv_work(const layers_conv *c) {
    return (size_t)LAYERS_TILE * c->kh * c->kw * c->cin;
}

/* Maps a padded coordinate into [0, n): -1 for zero padding, mirrored (edge not repeated,
 * PyTorch "reflect") otherwise; mirrors repeatedly so tiny maps never index out of range. */
static int pad_index(int i, int n, layers_pad mode) {
    if (i >= 0 && i < n) return i;
    if (mode == LAYERS_PAD_ZERO || n <= 0) return -1;
    if (n == 1) return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

void layers_conv_forward(const layers_conv *c, const float *x, int x_start, int x_cap, int H, int W,
                         float *y, int Ho, int Wo, float *work) {
    const int cin = c->cin, cout = c->cout, K = c->kh * c->kw * c->cin;
    const size_t row = (size_t)W * cin;
    const int npos = Ho * Wo;
    for (int p0 = 0; p0 < npos; p0 += LAYERS_TILE) {
        int np = npos - p0 < LAYERS_TILE ? npos - p0 : LAYERS_TILE;
        for (int p = 0; p < np; p++) {
            int oh = (p0 + p) / Wo, ow = (p0 + p) % Wo;
            float *dst = work + (size_t)p * K;
            const int w0 = ow * c->sw - c->pw, wspan = (c->kw - 1) * c->dw;
            for (int a = 0; a < c->kh; a++) {
                int ih = pad_index(oh * c->sh + a * c->dh - c->ph, H, c->padh);
                const float *xr = ih < 0 ? NULL : x + (size_t)((x_start + ih) % x_cap) * row;
                if (xr && c->dw == 1 && w0 >= 0 && w0 + wspan < W) {
                    /* interior: the kw taps are adjacent positions, one run of memory */
                    memcpy(dst, xr + (size_t)w0 * cin, (size_t)c->kw * cin * sizeof *dst);
                    dst += (size_t)c->kw * cin;
                    continue;
                }
                for (int b = 0; b < c->kw; b++, dst += cin) {
                    int iw = xr ? pad_index(ow * c->sw + b * c->dw - c->pw, W, c->padw) : -1;
                    if (iw < 0)
                        memset(dst, 0, (size_t)cin * sizeof *dst);
                    else
                        memcpy(dst, xr + (size_t)iw * cin, (size_t)cin * sizeof *dst);
                }
            }
        }
        float *yt = y + (size_t)p0 * cout;
        if (c->b)
            for (int p = 0; p < np; p++)
                memcpy(yt + (size_t)p * cout, c->b, (size_t)cout * sizeof *yt);
        layers_gemm(0, np, cout, K, work, K, c->w, cout, c->b ? 1.0f : 0.0f, yt, cout);
    }
}

/* ---------------------------------------------------------------------------------------- */

int layers_convt_init(layers_convt *c, const float *w_torch, const float *bias) {
    size_t n = (size_t)c->cin * c->kh * c->kw * c->cout;
    c->w = malloc((n ? n : 1) * sizeof *c->w);
    c->b = bias ? dup_floats(bias, (size_t)c->cout) : NULL;
    if (!c->w || (bias && !c->b)) {
        layers_convt_free(c);
        return -1;
    }
    for (int i = 0; i < c->cin; i++)
        for (int o = 0; o < c->cout; o++)
            for (int a = 0; a < c->kh; a++)
                for (int b = 0; b < c->kw; b++)
                    c->w[(((size_t)i * c->kh + a) * c->kw + b) * c->cout + o] =
                        w_torch[(((size_t)i * c->cout + o) * c->kh + a) * c->kw + b];
    return 0;
}

void layers_convt_free(layers_convt *c) {
    free(c->w);
    free(c->b);
    c->w = c->b = NULL;
}

int layers_convt_out_len(int n, int k, int stride, int pad, int out_pad) {
    int len = (n - 1) * stride - 2 * pad + k + out_pad;
    return len < 0 ? 0 : len;
}

size_t layers_convt_work(const layers_convt *c) {
    return (size_t)LAYERS_TILE * c->kh * c->kw * c->cout;
}

/* Each input position's contribution to its kh x kw output window comes from one GEMM row;
 * the rows are then scattered into the output (col2im). */
void layers_convt_forward(const layers_convt *c, const float *x, int H, int W, float *y, int Ho,
                          int Wo, float *work) {
    const int cout = c->cout, KO = c->kh * c->kw * cout;
    for (int p = 0; p < Ho * Wo; p++) {
        if (c->b)
            memcpy(y + (size_t)p * cout, c->b, (size_t)cout * sizeof *y);
        else
            memset(y + (size_t)p * cout, 0, (size_t)cout * sizeof *y);
    }
    const int npos = H * W;
    for (int p0 = 0; p0 < npos; p0 += LAYERS_TILE) {
        int np = npos - p0 < LAYERS_TILE ? npos - p0 : LAYERS_TILE;
        layers_gemm(0, np, KO, c->cin, x + (size_t)p0 * c->cin, c->cin, c->w, KO, 0.0f, work, KO);
        for (int p = 0; p < np; p++) {
            int ih = (p0 + p) / W, iw = (p0 + p) % W;
            const float *src = work + (size_t)p * KO;
            for (int a = 0; a < c->kh; a++) {
                int oh = ih * c->sh - c->ph + a;
                if (oh < 0 || oh >= Ho) continue;
                for (int b = 0; b < c->kw; b++) {
                    int ow = iw * c->sw - c->pw + b;
                    if (ow < 0 || ow >= Wo) continue;
                    float *dst = y + ((size_t)oh * Wo + ow) * cout;
                    const float *s = src + ((size_t)a * c->kw + b) * cout;
                    for (int o = 0; o < cout; o++)
                        dst[o] += s[o];
                }
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------- */

void layers_linear(const float *w, const float *b, int in, int out, const float *x, int n,
                   float *y) {
    if (b)
        for (int i = 0; i < n; i++)
            memcpy(y + (size_t)i * out, b, (size_t)out * sizeof *y);
    layers_gemm(1, n, out, in, x, in, w, in, b ? 1.0f : 0.0f, y, out);
}

/* Two passes in double: the means of large maps are not lost in float rounding. */
void layers_instance_norm(float *x, int npos, int C, float eps, double *scratch) {
    double *mean = scratch, *var = scratch + C;
    for (int c = 0; c < C; c++)
        mean[c] = var[c] = 0.0;
    for (int p = 0; p < npos; p++)
        for (int c = 0; c < C; c++)
            mean[c] += x[(size_t)p * C + c];
    for (int c = 0; c < C; c++)
        mean[c] /= npos > 0 ? npos : 1;
    for (int p = 0; p < npos; p++)
        for (int c = 0; c < C; c++) {
            double d = x[(size_t)p * C + c] - mean[c];
            var[c] += d * d;
        }
    for (int c = 0; c < C; c++)
        var[c] = 1.0 / sqrt(var[c] / (npos > 0 ? npos : 1) + eps);
    for (int p = 0; p < npos; p++)
        for (int c = 0; c < C; c++) {
            float *v = &x[(size_t)p * C + c];
            *v = (float)((*v - mean[c]) * var[c]);
        }
}

/* Sum of n floats in 8 independent lanes: vectorises without -ffast-math, and the order is
 * fixed, so results do not depend on how frames were grouped into calls. */
static float sum8(const float *v, size_t n, float shift) {
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += v[i + k] - shift;
    for (; i < n; i++)
        acc[0] += v[i] - shift;
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static float sumsq8(const float *v, size_t n, float mu) {
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += (v[i + k] - mu) * (v[i + k] - mu);
    for (; i < n; i++)
        acc[0] += (v[i] - mu) * (v[i] - mu);
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void layers_frame_norm(float *x, int nframes, int npf, int C, const float *g, const float *b,
                       float eps, int relu) {
    const size_t n = (size_t)npf * C;
    for (int f = 0; f < nframes; f++) {
        float *v = x + (size_t)f * n;
        /* Shifting by the first value keeps the float sum accurate for large offsets. */
        float mu = v[0] + sum8(v, n, v[0]) / (float)n;
        float r = 1.0f / sqrtf(sumsq8(v, n, mu) / (float)n + eps);
        for (int p = 0; p < npf; p++) {
            float *q = v + (size_t)p * C;
            if (relu)
                for (int c = 0; c < C; c++) {
                    float y = (q[c] - mu) * r * g[c] + b[c];
                    q[c] = y > 0.0f ? y : 0.0f;
                }
            else
                for (int c = 0; c < C; c++)
                    q[c] = (q[c] - mu) * r * g[c] + b[c];
        }
    }
}

void layers_act(float *x, size_t n, layers_act_kind kind, float slope) {
    switch (kind) {
    case LAYERS_ACT_NONE:
        break;
    case LAYERS_ACT_RELU:
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            x[i] = v > 0.0f ? v : 0.0f;
        }
        break;
    case LAYERS_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            x[i] = v > 0.0f ? v : v * slope;
        }
        break;
    case LAYERS_ACT_SILU:
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    case LAYERS_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            x[i] = tanhf(x[i]);
        break;
    case LAYERS_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            x[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    }
}

int layers_act_parse(const char *name) {
    static const char *names[] = {"none", "relu", "leaky_relu", "silu", "tanh", "sigmoid"};
    for (int i = 0; name && i < (int)(sizeof names / sizeof names[0]); i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}
