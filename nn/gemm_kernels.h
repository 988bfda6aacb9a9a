/* Internal: the per-ISA kernel tables behind nn/gemm.c and nn/cpu.c.  Each ISA lives in its
 * own translation unit compiled with that ISA's flags (see mk/diffwave.mk); nothing outside
 * those files may be inlined across the boundary, or AVX-512 code could leak into paths that
 * run on older CPUs. */
#ifndef MENHANCE_NN_GEMM_KERNELS_H
#define MENHANCE_NN_GEMM_KERNELS_H
#include "nn/gemm.h"

typedef struct {
    int mr; /* rows per packed weight panel (panel layout: [k][mr]) */
    int nr; /* columns per micro-tile */
    /* One micro-tile: rows [0, mrows) of the packed panel wp times columns [n0, n0 + nn) of
     * B (nn <= nr).  y and ep (bias, add) are already offset to the panel's first row; the
     * column offset n0 is applied inside (to src, y and ep->add). */
    void (*tile)(const float *wp, int k, const nn_gemm_src *src, int nsrc, int n0, int nn,
                 int mrows, float *y, int ldy, const nn_gemm_ep *ep);
    void (*gate)(const float *g, int ldg, int C, int n, float *out, int ldo);
    /* Runs iters iterations of a register-only FMA loop; returns the FLOP count done. */
    double (*fma_loop)(long iters);
} nn_isa_kernels;

extern const nn_isa_kernels nn_kernels_generic;
#if defined(__x86_64__) || defined(__i386__)
#define NN_HAVE_X86_KERNELS 1
extern const nn_isa_kernels nn_kernels_avx2;
extern const nn_isa_kernels nn_kernels_avx512;
#endif

/* The table for isa (falls back to generic when the build has no such kernels). */
const nn_isa_kernels *nn_kernels_for(nn_isa isa);
#endif
