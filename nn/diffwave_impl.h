/* Internal to nn/diffwave*.c: the loaded model's layout. */
#ifndef MENHANCE_NN_DIFFWAVE_IMPL_H
#define MENHANCE_NN_DIFFWAVE_IMPL_H
#include "nn/diffwave.h"
#include "nn/gemm.h"

/* Output sample o of the two x16 transposed convolutions depends on mel frames up to
 * ((o + 8) / 16 + 8) / 16, so with frames 0..F-1 the samples below 256 F - 136 are final. */
#define DW_UPSAMPLER_LOOKAHEAD 136
#define DW_MAX_OWNED 4096

typedef struct {
    int d, sh;             /* dilation; look-ahead (future samples read) */
    nn_gemm_w *dil;        /* 2C x 3C, columns tap-major */
    nn_gemm_w *dil_cond;   /* 2C x (3C + n_mels): dilated conv and conditioner in one GEMM */
    nn_gemm_w *cond;       /* 2C x n_mels */
    float *bias_dc;        /* dilated conv bias + conditioner bias */
    nn_gemm_w *res, *skip; /* the two halves of the output projection, C x C each */
    const float *res_b, *skip_b;
    const float *dp_w, *dp_b; /* diffusion projection C x E, bias C */
} dw_layer;

struct nn_diffwave {
    nn_diffwave_info info;
    nn_isa isa;
    int gated; /* dil/dil_cond/cond/bias_dc rows are in nn_gemm_gate_order(): gate fused */
    const float *in_w, *in_b;
    const float *emb_table; /* [max_steps][128], PyTorch's float32 values */
    const float *p1_w, *p1_b, *p2_w, *p2_b;
    const float *up_w[2], *up_b[2]; /* [3][32] each, one bias */
    dw_layer *layers;
    nn_gemm_w *skipproj; /* C x C, pre-scaled by 1/sqrt(L) */
    const float *skipproj_b;
    nn_gemm_w *outproj; /* 1 x C */
    const float *outproj_b;
    double *betas_train, *betas_infer;
    float *owned[DW_MAX_OWNED];
    int n_owned;
    unsigned char *seen; /* while loading: tensors of the file read (st_unused) */
};

/* d[layer][c] = diffusion_projection_layer(embedding MLP(lerp(table, t))). */
void dw_step_projection(const nn_diffwave *m, float t, float *d);
#endif
