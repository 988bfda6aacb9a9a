/* AVX-512 kernels (compiled with -mavx512f -mavx512vl -mfma, see mk/diffwave.mk; only ever
 * called after nn_cpu_detect() found AVX-512).  8 x 32 tile: 16 zmm accumulators, 2 loads
 * and 8 broadcasts per k, which keeps both FMA ports of an Intel core (and the double-pumped
 * 512-bit path of AMD Zen 4) busy; M is always a multiple of 8 in DiffWave and N of 32. */
#include "nn/gemm_kernels.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#define V_T __m512
#define V_MASK_T __mmask16
#define NN_VL 16
#define NN_MR 8
#define NN_NV 2
#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(x) _mm512_set1_ps(x)
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_LOADM(p, m) _mm512_maskz_loadu_ps((m), (p))
#define V_STORE(p, v) _mm512_storeu_ps((p), (v))
#define V_STOREM(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define V_FNMA(a, b, c) _mm512_fnmadd_ps((a), (b), (c))
#define V_ADD(a, b) _mm512_add_ps((a), (b))
#define V_MUL(a, b) _mm512_mul_ps((a), (b))
#define V_SUB(a, b) _mm512_sub_ps((a), (b))
#define V_DIV(a, b) _mm512_div_ps((a), (b))
#define V_MAX(a, b) _mm512_max_ps((a), (b))
#define V_MIN(a, b) _mm512_min_ps((a), (b))
#define V_ROUND(a) _mm512_roundscale_ps((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_SCALE2(p, n) _mm512_scalef_ps((p), (n))
#define V_MASK_MAKE(rem)                                                                           \
    ((rem) >= 16 ? (__mmask16)0xFFFF : (rem) <= 0 ? (__mmask16)0 : (__mmask16)((1u << (rem)) - 1u))
#define NN_TILE_NAME tile_avx512
#define NN_GATE_NAME gate_avx512
#define NN_FMA_LOOP_NAME fma_loop_avx512
#include "nn/gemm_tile.inc"

const nn_isa_kernels nn_kernels_avx512 = {NN_MR, NN_NR, tile_avx512, gate_avx512, fma_loop_avx512};
#elif defined(NN_HAVE_X86_KERNELS)
#error "nn/gemm_avx512.c must be compiled with -mavx512f -mavx512vl -mfma (mk/diffwave.mk)"
#endif
