/* Building blocks of the Mel2Mel networks, on channel-last feature maps: a map of H rows
 * (time) by W columns (frequency) by C channels is stored [h][w][c], so one position's channels
 * are contiguous.  That makes im2col a series of memcpy's and turns every convolution into one
 * GEMM  out[positions x cout] = patches[positions x K] * weights[K x cout].
 *
 * Nothing here allocates except the *_init functions (called at model load); forward passes
 * take caller-owned work buffers sized by the *_work functions. */
#ifndef MENHANCE_NN_LAYERS_H
#define MENHANCE_NN_LAYERS_H
#include <stddef.h>

/* Positions per im2col tile: bounds the work buffer and keeps a tile in L2. */
#define LAYERS_TILE 256

typedef enum { LAYERS_PAD_ZERO, LAYERS_PAD_REFLECT } layers_pad;

typedef enum {
    LAYERS_ACT_NONE,
    LAYERS_ACT_RELU,
    LAYERS_ACT_LEAKY_RELU,
    LAYERS_ACT_SILU,
    LAYERS_ACT_TANH,
    LAYERS_ACT_SIGMOID
} layers_act_kind;

/* The one GEMM every layer goes through (so it can be redirected to other kernels):
 * row-major C[M x N] = A[M x K] * op(B) + beta * C, op(B) = B[K x N] or, if transb, B^T with
 * B stored [N x K].  Single-threaded. */
void layers_gemm(int transb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc);
/* Once per process, before any audio runs (the model loader calls it): keeps the BLAS library
 * from spawning threads (audio threads must not share cores) and, if Debian's OpenBLAS
 * misdetected the CPU as "Prescott", re-selects its AVX-512/AVX2 kernels. */
void layers_init_blas(void);
/* The BLAS kernel set in use (OpenBLAS core name), for benchmarks and logs. */
const char *layers_blas_core(void);

/* 2-D convolution.  kh/sh/dh/ph act along H (time), kw/sw/dw/pw along W (frequency).
 * Padding is symmetric (ph rows before and after) with its own mode per axis. */
typedef struct {
    int cin, cout, kh, kw, sh, sw, dh, dw, ph, pw;
    layers_pad padh, padw;
    float *w; /* [kh][kw][cin][cout]: K x cout with K = kh * kw * cin */
    float *b; /* cout values, or NULL */
} layers_conv;

/* Copies PyTorch weights ([cout][cin][kh][kw]) into GEMM order; bias may be NULL.
 * Returns 0, or -1 when out of memory. */
int layers_conv_init(layers_conv *c, const float *w_torch, const float *bias);
void layers_conv_free(layers_conv *c);
/* Output length along one axis. */
int layers_conv_out_len(int n, int k, int stride, int dilation, int pad);
/* Work floats layers_conv_forward needs. */
size_t layers_conv_work(const layers_conv *c);
/* x: H x W x cin rows held in a ring: input row r lives at row (x_start + r) % x_cap of x
 * (a contiguous map is x_start = 0, x_cap = H).  y: Ho x Wo x cout, Ho/Wo from
 * layers_conv_out_len.  work: layers_conv_work(c) floats. */
void layers_conv_forward(const layers_conv *c, const float *x, int x_start, int x_cap, int H, int W,
                         float *y, int Ho, int Wo, float *work);

/* Transposed 2-D convolution (PyTorch ConvTranspose2d semantics, zero padding). */
typedef struct {
    int cin, cout, kh, kw, sh, sw, ph, pw, oph, opw;
    float *w; /* [cin][kh][kw][cout] */
    float *b;
} layers_convt;

/* PyTorch weights are [cin][cout][kh][kw]. */
int layers_convt_init(layers_convt *c, const float *w_torch, const float *bias);
void layers_convt_free(layers_convt *c);
int layers_convt_out_len(int n, int k, int stride, int pad, int out_pad);
size_t layers_convt_work(const layers_convt *c);
/* x: H x W x cin contiguous; y: Ho x Wo x cout. */
void layers_convt_forward(const layers_convt *c, const float *x, int H, int W, float *y, int Ho,
                          int Wo, float *work);

/* Fully connected: y[n x out] = x[n x in] * W^T + b, W as PyTorch stores it ([out][in]). */
void layers_linear(const float *w, const float *b, int in, int out, const float *x, int n,
                   float *y);

/* Instance norm without affine: per channel over all npos positions; scratch: 2*C doubles. */
void layers_instance_norm(float *x, int npos, int C, float eps, double *scratch);
/* Per-frame norm: each of nframes frames (npf positions x C channels, contiguous) is
 * normalised over all its npf*C values, then scaled/shifted per channel (g, b: C values),
 * then clamped at 0 if relu (fused: these maps are only ~600 MACs per value, so elementwise
 * passes are a visible share of the time). */
void layers_frame_norm(float *x, int nframes, int npf, int C, const float *g, const float *b,
                       float eps, int relu);
/* In-place activation; slope is used by LEAKY_RELU only. */
void layers_act(float *x, size_t n, layers_act_kind kind, float slope);
/* Parses "relu", "leaky_relu", "silu", "tanh", "sigmoid", "none"; -1 if unknown. */
int layers_act_parse(const char *name);
#endif
