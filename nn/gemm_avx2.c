/* AVX2 + FMA kernels (compiled with -mavx2 -mfma, see mk/diffwave.mk; only called after
 * nn_cpu_detect() found both).  6 x 16 tile: 12 ymm accumulators + 2 loads + 1 broadcast
 * fit the 16 registers, the classic Haswell-class blocking. */
#include "nn/gemm_kernels.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#define V_T __m256
#define V_MASK_T __m256i
#define NN_VL 8
#define NN_MR 6
#define NN_NV 2
#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(x) _mm256_set1_ps(x)
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_LOADM(p, m) _mm256_maskload_ps((p), (m))
#define V_STORE(p, v) _mm256_storeu_ps((p), (v))
#define V_STOREM(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define V_FNMA(a, b, c) _mm256_fnmadd_ps((a), (b), (c))
#define V_ADD(a, b) _mm256_add_ps((a), (b))
#define V_MUL(a, b) _mm256_mul_ps((a), (b))
#define V_SUB(a, b) _mm256_sub_ps((a), (b))
#define V_DIV(a, b) _mm256_div_ps((a), (b))
#define V_MAX(a, b) _mm256_max_ps((a), (b))
#define V_MIN(a, b) _mm256_min_ps((a), (b))
#define V_ROUND(a) _mm256_round_ps((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
/* p * 2^n for integral n in [-127, 127]: build 2^n in the exponent field. */
#define V_SCALE2(p, n)                                                                             \
    _mm256_mul_ps((p), _mm256_castsi256_ps(_mm256_slli_epi32(                                      \
                           _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23)))
#define V_MASK_MAKE(rem)                                                                           \
    _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define NN_FMA_CHAINS 12
#define NN_TILE_NAME tile_avx2
#define NN_GATE_NAME gate_avx2
#define NN_FMA_LOOP_NAME fma_loop_avx2
#include "nn/gemm_tile.inc"

const nn_isa_kernels nn_kernels_avx2 = {NN_MR, NN_NR, tile_avx2, gate_avx2, fma_loop_avx2};
#elif defined(NN_HAVE_X86_KERNELS)
#error "nn/gemm_avx2.c must be compiled with -mavx2 -mfma (mk/diffwave.mk)"
#endif
