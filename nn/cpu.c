/* CPU feature detection and peak-FLOP probe.  Feature bits come from GCC's
 * __builtin_cpu_supports, which also checks (via XGETBV) that the OS saves the wide
 * registers, so a kernel is never picked that would fault. */
#include "nn/cpu.h"
#include "nn/gemm_kernels.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

nn_cpu nn_cpu_detect(void) {
    nn_cpu c;
    memset(&c, 0, sizeof c);
    c.has[NN_ISA_GENERIC] = 1;
    c.best = NN_ISA_GENERIC;
    strcpy(c.vendor, "unknown");
#ifdef NN_HAVE_X86_KERNELS
    __builtin_cpu_init();
    unsigned a, b, cc, d;
    if (__get_cpuid(0, &a, &b, &cc, &d)) {
        memcpy(c.vendor, &b, 4);
        memcpy(c.vendor + 4, &d, 4);
        memcpy(c.vendor + 8, &cc, 4);
        c.vendor[12] = 0;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        c.has[NN_ISA_AVX2] = 1;
        c.best = NN_ISA_AVX2;
    }
    if (c.has[NN_ISA_AVX2] && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512vl")) {
        c.has[NN_ISA_AVX512] = 1;
        c.best = NN_ISA_AVX512;
    }
#endif
    const char *env = getenv("MENHANCE_ISA");
    if (env) {
        for (int i = 0; i < NN_ISA_COUNT; i++)
            if (strcmp(env, nn_isa_name((nn_isa)i)) == 0 && c.has[i] && (nn_isa)i < c.best)
                c.best = (nn_isa)i;
    }
    return c;
}

const char *nn_isa_name(nn_isa isa) {
    switch (isa) {
    case NN_ISA_AVX512:
        return "avx512";
    case NN_ISA_AVX2:
        return "avx2";
    default:
        return "generic";
    }
}

double nn_wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double nn_thread_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double nn_cpu_peak_gflops(const nn_cpu *cpu, nn_isa isa, double seconds) {
    if (isa < 0 || isa >= NN_ISA_COUNT || !cpu->has[isa]) return 0.0;
    const nn_isa_kernels *k = nn_kernels_for(isa);
    /* Calibrate, then take the best of three runs: CPU time of this thread, so time the
     * scheduler gives to other processes is not counted against the core. */
    long iters = 1 << 16;
    for (;;) {
        double t0 = nn_thread_cpu_seconds();
        k->fma_loop(iters);
        double dt = nn_thread_cpu_seconds() - t0;
        if (dt > 0.02 || iters > (1L << 40)) break;
        iters *= 4;
    }
    double best = 0.0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = nn_thread_cpu_seconds();
        double flops = k->fma_loop(iters);
        double dt = nn_thread_cpu_seconds() - t0;
        if (dt > 0 && flops / dt > best) best = flops / dt;
        if (rep == 0 && dt > 0) {
            /* rescale so three runs take about `seconds` */
            double want = seconds / 3.0;
            iters = (long)((double)iters * want / dt) + 1;
        }
    }
    return best * 1e-9;
}
