/* Single-precision GEMM for DiffWave-shaped products: Y[m][n] = sum_k W[m][k] B[k][n], with
 * W a constant weight matrix (packed once at load for the chosen ISA), B the activations
 * (channel-major rows, n contiguous) and small fused epilogues.
 *
 * B is given as a list of row groups rather than one matrix, so a dilated convolution is a
 * single GEMM without an im2col copy: tap j of a 3-tap conv is the group
 * {x + offset_j, ldx, C_in}, and extra inputs (the conditioner) are one more group.
 * Row order of B = group order, then row order inside a group; W's columns follow it.
 *
 * Performance notes (see DESIGN.md section 2): keep n at 256-1024 per call and keep leading
 * dimensions away from powers of two (nn_gemm_ld()); the micro-kernels are register-blocked
 * (AVX-512 8x32, AVX2 6x16) and stream the weight panel while the activation panel stays in
 * L1. */
#ifndef MENHANCE_NN_GEMM_H
#define MENHANCE_NN_GEMM_H
#include "nn/cpu.h"

typedef struct {
    const float *p; /* row r of this group is p[r * ld + 0 .. n) */
    int ld;
    int rows;
} nn_gemm_src;

typedef struct {
    const float *bias; /* bias[m], or NULL */
    const float *add;  /* add[m * ld_add + n] added, or NULL */
    int ld_add;
    float scale;    /* if nonzero, the sum (acc + bias + add) is multiplied by it */
    int accumulate; /* 1: Y += result instead of Y = result */
    int relu;       /* 1: clamp the final value at 0 (after accumulation) */
    float *y2;      /* if set, also y2[m * ld_y2 + n] = final value + bias2[m] (DiffWave: the
                       next layer's x and x + step projection in one pass) */
    int ld_y2;
    const float *bias2;
    int gate; /* DiffWave's gated activation fused: W's rows (and bias, add) are in the
                 panel-interleaved order of nn_gemm_gate_order(); Y gets m/2 rows
                 sigmoid(gate) * tanh(filter).  scale, accumulate, relu, y2 are ignored. */
} nn_gemm_ep;

typedef struct nn_gemm_w nn_gemm_w;

/* Packs the row-major m x k matrix w (row stride ldw) for isa (which must be in cpu->has).
 * Returns NULL on allocation failure or bad arguments. */
nn_gemm_w *nn_gemm_w_create(nn_isa isa, const float *w, int m, int k, int ldw);
void nn_gemm_w_free(nn_gemm_w *w);
int nn_gemm_w_rows(const nn_gemm_w *w);
int nn_gemm_w_cols(const nn_gemm_w *w);
nn_isa nn_gemm_w_isa(const nn_gemm_w *w);

/* Y (m x n, row stride ldy) = epilogue(W * B).  The sum of src[].rows must equal k.
 * Allocates nothing; real-time safe.  ep may be NULL (plain store). */
void nn_gemm_run(const nn_gemm_w *w, const nn_gemm_src *src, int nsrc, int n, float *y, int ldy,
                 const nn_gemm_ep *ep);

/* Row order for a fused gate on isa: order[q] = original row (of 2C: C gates then C filters)
 * to place at packed row q, so each weight panel holds h gates and their h filters.  Returns
 * 0, or -1 when C is not a multiple of the panel's half height (then run nn_gate()). */
int nn_gemm_gate_order(nn_isa isa, int C, int *order);

/* Gated activation of DiffWave: out[c][t] = sigmoid(g[c][t]) * tanh(g[c + C][t]) for c < C,
 * t < n, where g has 2C rows of stride ldg and out has C rows of stride ldo. */
void nn_gate(nn_isa isa, const float *g, int ldg, int C, int n, float *out, int ldo);

/* A leading dimension >= n (in floats) that is a multiple of 16 floats (64 bytes) but not
 * of 512 floats, so successive rows do not alias the same L1 sets. */
int nn_gemm_ld(int n);

/* Reference implementation (plain triple loop, double accumulation) for the tests. */
void nn_gemm_naive(const float *w, int m, int k, int ldw, const nn_gemm_src *src, int nsrc, int n,
                   float *y, int ldy, const nn_gemm_ep *ep);
#endif
