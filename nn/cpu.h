/* Runtime CPU feature detection and a peak-FLOP probe.
 *
 * The library is compiled for baseline x86-64 so one binary runs everywhere; the hot kernels
 * exist in AVX-512, AVX2+FMA and portable C versions and are picked at run time from the
 * nn_cpu the caller keeps (no process-wide mutable state). */
#ifndef MENHANCE_NN_CPU_H
#define MENHANCE_NN_CPU_H

typedef enum {
    NN_ISA_GENERIC = 0, /* portable C (whatever the compiler's baseline gives) */
    NN_ISA_AVX2 = 1,    /* AVX2 + FMA3 */
    NN_ISA_AVX512 = 2,  /* AVX-512 F + VL */
    NN_ISA_COUNT
} nn_isa;

typedef struct {
    nn_isa best;           /* widest ISA both the CPU and this build support */
    int has[NN_ISA_COUNT]; /* has[isa] != 0: kernels for isa may run here */
    char vendor[13];
} nn_cpu;

/* Detects the CPU.  If the environment variable MENHANCE_ISA is "generic", "avx2" or
 * "avx512", best is lowered to it (never raised above what the CPU has): a debugging and
 * benchmarking aid, read once here and never again. */
nn_cpu nn_cpu_detect(void);

const char *nn_isa_name(nn_isa isa);

/* Single-thread fp32 FMA throughput of isa in GFLOP/s (an FMA counts 2 FLOP), measured by a
 * register-only FMA loop that runs for about `seconds`.  Returns 0 if isa cannot run here. */
double nn_cpu_peak_gflops(const nn_cpu *cpu, nn_isa isa, double seconds);

/* Monotonic wall-clock and per-thread CPU time in seconds (for benchmarks). */
double nn_wall_seconds(void);
double nn_thread_cpu_seconds(void);
#endif
