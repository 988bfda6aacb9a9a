/* Every GEMM kernel this machine can run, against a double-precision reference, over odd
 * shapes (row/column tails, several source groups with their own strides, every epilogue),
 * plus the gate kernel against libm. */
#include "nn/cpu.h"
#include "nn/gemm.h"
#include "tests/check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 88172645463325252ull;
static float frand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* Bound on the rounding error: sum of |terms| of each output. */
static double scale_of(const float *w, int k, int ldw, int i, const nn_gemm_src *src, int nsrc,
                       int j) {
    double s = 0;
    int kk = 0;
    for (int g = 0; g < nsrc; g++)
        for (int r = 0; r < src[g].rows; r++, kk++)
            s += fabs((double)w[(long)i * ldw + kk] * src[g].p[(long)r * src[g].ld + j]);
    (void)k;
    return s;
}

static int run_case(nn_isa isa, int m, int n, int nsrc, const int *rows, int flags) {
    int k = 0;
    for (int g = 0; g < nsrc; g++)
        k += rows[g];
    const int ldw = k + 3;
    float *w = malloc(sizeof(float) * m * ldw);
    for (int i = 0; i < m * ldw; i++)
        w[i] = frand();
    nn_gemm_src src[4];
    float *bufs[4];
    for (int g = 0; g < nsrc; g++) {
        int ld = n + 1 + 7 * g; /* odd strides on purpose */
        int off = 5 * g;        /* and offsets into the buffer, like conv taps */
        bufs[g] = malloc(sizeof(float) * (rows[g] * ld + off + 1));
        for (int i = 0; i < rows[g] * ld + off + 1; i++)
            bufs[g][i] = frand();
        src[g].p = bufs[g] + off;
        src[g].ld = ld;
        src[g].rows = rows[g];
    }
    const int ldy = n + 5, ld_add = n + 2;
    float *bias = malloc(sizeof(float) * m), *add = malloc(sizeof(float) * m * ld_add);
    for (int i = 0; i < m; i++)
        bias[i] = frand();
    for (int i = 0; i < m * ld_add; i++)
        add[i] = frand();
    float *y = malloc(sizeof(float) * m * ldy), *ref = malloc(sizeof(float) * m * ldy);
    for (int i = 0; i < m * ldy; i++)
        y[i] = ref[i] = frand();
    nn_gemm_ep ep = {0};
    if (flags & 1) ep.bias = bias;
    if (flags & 2) {
        ep.add = add;
        ep.ld_add = ld_add;
    }
    ep.accumulate = (flags & 4) != 0;
    ep.relu = (flags & 8) != 0;
    const int ldy2 = n + 9;
    float *y2 = calloc((size_t)m * ldy2, sizeof(float)), *ref2 = calloc((size_t)m * ldy2, 4);
    if (flags & 16) {
        ep.scale = 0.7071f;
        ep.bias2 = add; /* any m values */
    }

    nn_gemm_w *pw = nn_gemm_w_create(isa, w, m, k, ldw);
    CHECK(pw != NULL, "pack failed");
    int ok = 1;
    if (pw) {
        if (flags & 16) {
            ep.y2 = y2;
            ep.ld_y2 = ldy2;
        }
        nn_gemm_run(pw, src, nsrc, n, y, ldy, flags ? &ep : NULL);
        if (flags & 16) ep.y2 = ref2;
        nn_gemm_naive(w, m, k, ldw, src, nsrc, n, ref, ldy, flags ? &ep : NULL);
        double worst = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double sc = scale_of(w, k, ldw, i, src, nsrc, j) + fabs(ref[i * ldy + j]) + 1.0;
                double e = fabs((double)y[i * ldy + j] - ref[i * ldy + j]) / sc;
                if (e > worst) worst = e;
            }
        for (int i = 0; i < m && (flags & 16); i++)
            for (int j = 0; j < ldy2; j++) {
                double e = fabs((double)y2[i * ldy2 + j] - ref2[i * ldy2 + j]) /
                           (scale_of(w, k, ldw, i, src, nsrc, j < n ? j : 0) + 2.0);
                if (e > worst) worst = e;
            }
        /* the padding beyond n must be untouched */
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldy; j++)
                if (y[i * ldy + j] != ref[i * ldy + j]) worst = 1;
        CHECK(worst < 1e-5, "%s m=%d n=%d k=%d nsrc=%d flags=%d: rel err %g", nn_isa_name(isa), m,
              n, k, nsrc, flags, worst);
        ok = worst < 1e-5;
    }
    nn_gemm_w_free(pw);
    for (int g = 0; g < nsrc; g++)
        free(bufs[g]);
    free(w);
    free(bias);
    free(add);
    free(y);
    free(ref);
    free(y2);
    free(ref2);
    return ok;
}

static void test_gate(nn_isa isa) {
    const int C = 13, n = 77, ldg = 80, ldo = 79;
    float *g = malloc(sizeof(float) * 2 * C * ldg), *o = malloc(sizeof(float) * C * ldo);
    for (int i = 0; i < 2 * C * ldg; i++)
        g[i] = 12.0f * frand();
    g[0] = 100.0f; /* saturating inputs */
    g[1] = -100.0f;
    g[C * ldg] = 95.0f;
    g[C * ldg + 1] = -95.0f;
    for (int i = 0; i < C * ldo; i++)
        o[i] = 7.0f;
    nn_gate(isa, g, ldg, C, n, o, ldo);
    double worst = 0;
    int tail_ok = 1;
    for (int c = 0; c < C; c++) {
        for (int t = 0; t < n; t++) {
            double r = tanh(g[(c + C) * ldg + t]) / (1.0 + exp(-(double)g[c * ldg + t]));
            double e = fabs(o[c * ldo + t] - r);
            if (e > worst) worst = e;
        }
        for (int t = n; t < ldo; t++)
            tail_ok &= o[c * ldo + t] == 7.0f;
    }
    CHECK(worst < 1e-6, "gate %s abs err %g", nn_isa_name(isa), worst);
    CHECK(tail_ok, "gate %s wrote past n", nn_isa_name(isa));
    free(g);
    free(o);
}

/* Fused gate: permuted rows, against the unfused GEMM + sigmoid * tanh in double. */
static void test_fused_gate(nn_isa isa, int C, int K, int n, int with_add) {
    int *order = malloc(sizeof(int) * 2 * C);
    if (nn_gemm_gate_order(isa, C, order) != 0) {
        free(order);
        return; /* not fusable for this width on this ISA: the caller uses nn_gate() */
    }
    const int ld = n + 3;
    float *w = malloc(sizeof(float) * 2 * C * K), *wp = malloc(sizeof(float) * 2 * C * K);
    float *x = malloc(sizeof(float) * K * ld), *bias = malloc(sizeof(float) * 2 * C);
    float *bp = malloc(sizeof(float) * 2 * C), *add = malloc(sizeof(float) * 2 * C * ld);
    float *ap = malloc(sizeof(float) * 2 * C * ld), *g = malloc(sizeof(float) * 2 * C * ld);
    float *z = malloc(sizeof(float) * C * ld);
    for (int i = 0; i < 2 * C * K; i++)
        w[i] = frand() * 0.3f;
    for (int i = 0; i < K * ld; i++)
        x[i] = frand();
    for (int i = 0; i < 2 * C; i++)
        bias[i] = frand();
    for (int i = 0; i < 2 * C * ld; i++)
        add[i] = frand();
    for (int q = 0; q < 2 * C; q++) {
        memcpy(wp + q * K, w + order[q] * K, sizeof(float) * K);
        memcpy(ap + q * ld, add + order[q] * ld, sizeof(float) * ld);
        bp[q] = bias[order[q]];
    }
    nn_gemm_src src = {x, ld, K};
    nn_gemm_ep ref = {.bias = bias, .add = with_add ? add : NULL, .ld_add = ld};
    nn_gemm_naive(w, 2 * C, K, K, &src, 1, n, g, ld, &ref);
    nn_gemm_w *pw = nn_gemm_w_create(isa, wp, 2 * C, K, K);
    nn_gemm_ep ep = {.bias = bp, .add = with_add ? ap : NULL, .ld_add = ld, .gate = 1};
    for (int i = 0; i < C * ld; i++)
        z[i] = 9.0f;
    nn_gemm_run(pw, &src, 1, n, z, ld, &ep);
    double worst = 0;
    int tail_ok = 1;
    for (int c = 0; c < C; c++) {
        for (int j = 0; j < n; j++) {
            double r = tanh(g[(c + C) * ld + j]) / (1.0 + exp(-(double)g[c * ld + j]));
            double e = fabs(z[c * ld + j] - r);
            if (e > worst || isnan(e)) worst = isnan(e) ? 1 : e;
        }
        for (int j = n; j < ld; j++)
            tail_ok &= z[c * ld + j] == 9.0f;
    }
    CHECK(worst < 2e-6, "fused gate %s C=%d K=%d n=%d add=%d: abs err %g", nn_isa_name(isa), C, K,
          n, with_add, worst);
    CHECK(tail_ok, "fused gate %s wrote past n", nn_isa_name(isa));
    nn_gemm_w_free(pw);
    free(order);
    free(w);
    free(wp);
    free(x);
    free(bias);
    free(bp);
    free(add);
    free(ap);
    free(g);
    free(z);
}

int main(void) {
    nn_cpu cpu = nn_cpu_detect();
    printf("cpu %s, best isa %s\n", cpu.vendor, nn_isa_name(cpu.best));
    static const int ms[] = {1, 2, 5, 7, 8, 9, 13, 16, 31, 64, 96, 100};
    static const int ns[] = {1, 3, 15, 16, 17, 31, 33, 47, 64, 100, 257};
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        if (!cpu.has[isa]) {
            printf("skipping %s (not supported here)\n", nn_isa_name((nn_isa)isa));
            continue;
        }
        int cases = 0;
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t b = 0; b < sizeof ns / sizeof *ns; b++) {
                int rows[3] = {1 + (int)((a * 7 + b * 3) % 40), 1 + (int)((a + b) % 9),
                               (int)(a * 5 % 17) + 1};
                int nsrc = 1 + (int)((a + b) % 3);
                run_case((nn_isa)isa, ms[a], ns[b], nsrc, rows, (int)((a * 3 + b) % 32));
                cases++;
            }
        /* DiffWave shapes: 3-tap conv with a conditioner group, 1x1, output layers */
        int conv[4] = {48, 48, 48, 128};
        run_case((nn_isa)isa, 96, 256, 4, conv, 3);
        int conv64[3] = {64, 64, 64};
        run_case((nn_isa)isa, 128, 512, 3, conv64, 1);
        int one[1] = {48};
        run_case((nn_isa)isa, 96, 300, 1, one, 5);
        run_case((nn_isa)isa, 1, 1024, 1, one, 1);
        for (int f = 0; f < 32; f++)
            run_case((nn_isa)isa, 24, 70, 1, one, f);
        test_gate((nn_isa)isa);
        static const int gc[] = {2, 4, 6, 12, 16, 24, 32, 48, 64};
        for (int i = 0; i < 9; i++)
            test_fused_gate((nn_isa)isa, gc[i], 3 * gc[i] + 5, 7 + 61 * i, i & 1);
        {
            int order[2 * 32];
            int rc = nn_gemm_gate_order((nn_isa)isa, 32, order);
            CHECK(isa == NN_ISA_AVX2 ? rc == -1 : rc == 0, "gate order C=32 on %s: %d",
                  nn_isa_name((nn_isa)isa), rc);
        }
        printf("%s: %d shapes checked\n", nn_isa_name((nn_isa)isa), cases + 36);
    }
    /* MENHANCE_ISA may only lower the choice */
    setenv("MENHANCE_ISA", "generic", 1);
    nn_cpu g = nn_cpu_detect();
    CHECK(g.best == NN_ISA_GENERIC, "MENHANCE_ISA=generic ignored");
    unsetenv("MENHANCE_ISA");
    CHECK(nn_cpu_peak_gflops(&cpu, cpu.best, 0.03) > 0.1, "peak probe returned nothing");
    return check_summary("test_gemm");
}
