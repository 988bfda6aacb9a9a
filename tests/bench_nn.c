/* NN benchmark: single-core fp32 peak, the DiffWave GEMM shapes (our kernels vs OpenBLAS as
 * detected and with OPENBLAS_CORETYPE=SkylakeX), whole DiffWave steps, and real-time factors
 * at 16 kHz.  One thread, CPU time of this thread.  Prints a table; writes JSON (argv[1]).
 *
 *   build/bench_nn [out.json]     (make bench-nn)
 *   build/bench_nn --blas-only    (internal: OpenBLAS numbers, run under another core type)
 *
 * Models are synthetic (random weights; speed does not depend on the values) and causal:
 * dilation look-ahead changes latency and memory, not the arithmetic. */
#include "nn/cpu.h"
#include "nn/diffwave.h"
#include "nn/gemm.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NMELS 128
#define BLOCK_N 512

static uint64_t rs = 0x1234567887654321ull;
static float frand(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (float)((double)(rs >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* ---- GEMM shapes ----------------------------------------------------------------------- */

typedef struct {
    char name[48];
    int m, k, n;
} shape;

static int shapes(shape *out) {
    static const int Cs[] = {32, 48, 64, 128};
    int n = 0;
    for (int i = 0; i < 4; i++) {
        const int C = Cs[i];
        out[n++] = (shape){"", 2 * C, 3 * C, BLOCK_N};
        snprintf(out[n - 1].name, 48, "dilated 3-tap C%d (%dx%dx%d)", C, 2 * C, 3 * C, BLOCK_N);
        out[n++] = (shape){"", 2 * C, NMELS, BLOCK_N};
        snprintf(out[n - 1].name, 48, "conditioner C%d (%dx%dx%d)", C, 2 * C, NMELS, BLOCK_N);
        out[n++] = (shape){"", C, C, BLOCK_N};
        snprintf(out[n - 1].name, 48, "res/skip 1x1 C%d (%dx%dx%d)", C, C, C, BLOCK_N);
    }
    return n;
}

/* GFLOP/s of f over ~seconds (best of 3 runs). */
typedef void (*gemm_fn)(void *ctx);
static double time_gflops(gemm_fn f, void *ctx, double flops, double seconds) {
    long it = 1;
    for (;;) {
        double t0 = nn_thread_cpu_seconds();
        for (long i = 0; i < it; i++)
            f(ctx);
        double dt = nn_thread_cpu_seconds() - t0;
        if (dt > 0.01) break;
        it *= 4;
    }
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = nn_thread_cpu_seconds();
        long n = 0;
        double dt;
        do {
            for (long i = 0; i < it; i++)
                f(ctx);
            n += it;
            dt = nn_thread_cpu_seconds() - t0;
        } while (dt < seconds / 3);
        if (flops * n / dt > best) best = flops * n / dt;
    }
    return best * 1e-9;
}

typedef struct {
    const nn_gemm_w *w;
    nn_gemm_src src[3];
    int nsrc, m, k, n, ldx, ldy;
    const float *W, *X;
    float *Y;
} gctx;

static void run_ours(void *p) {
    gctx *c = p;
    nn_gemm_run(c->w, c->src, c->nsrc, c->n, c->Y, c->ldy, NULL);
}

static void run_blas(void *p) {
    gctx *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->m, c->n, c->k, 1.0f, c->W, c->k, c->X,
                c->ldx, 0.0f, c->Y, c->ldy);
}

/* OpenBLAS on one shape; the activation matrix is K contiguous rows (im2col done for it). */
static double blas_gflops(const shape *s) {
    const int ld = nn_gemm_ld(s->n);
    float *W = malloc(sizeof(float) * s->m * s->k), *X = malloc(sizeof(float) * s->k * ld),
          *Y = malloc(sizeof(float) * s->m * ld);
    for (int i = 0; i < s->m * s->k; i++)
        W[i] = frand();
    for (int i = 0; i < s->k * ld; i++)
        X[i] = frand();
    gctx c = {.m = s->m, .k = s->k, .n = s->n, .ldx = ld, .ldy = ld, .W = W, .X = X, .Y = Y};
    double g = time_gflops(run_blas, &c, 2.0 * s->m * s->k * s->n, 0.15);
    free(W);
    free(X);
    free(Y);
    return g;
}

static double ours_gflops(nn_isa isa, const shape *s, int taps) {
    const int C = s->k / taps, ld = nn_gemm_ld(s->n + 256);
    float *W = malloc(sizeof(float) * s->m * s->k), *X = malloc(sizeof(float) * C * ld),
          *Y = malloc(sizeof(float) * s->m * nn_gemm_ld(s->n));
    for (int i = 0; i < s->m * s->k; i++)
        W[i] = frand();
    for (int i = 0; i < C * ld; i++)
        X[i] = frand();
    nn_gemm_w *w = nn_gemm_w_create(isa, W, s->m, s->k, s->k);
    gctx c = {.w = w, .nsrc = taps, .n = s->n, .ldy = nn_gemm_ld(s->n), .Y = Y};
    for (int j = 0; j < taps; j++) /* dilated taps: the same rows at shifted columns */
        c.src[j] = (nn_gemm_src){X + 64 * j, ld, C};
    double g = time_gflops(run_ours, &c, 2.0 * s->m * s->k * s->n, 0.2);
    nn_gemm_w_free(w);
    free(W);
    free(X);
    free(Y);
    return g;
}

/* ---- synthetic DiffWave models ------------------------------------------------------------ */

typedef struct {
    cJSON *hdr;
    unsigned char *data;
    size_t size, cap;
} stw;

static void add_tensor(stw *w, const char *name, int nd, const int *shp, float scale, int zero) {
    size_t cnt = 1;
    cJSON *sa = cJSON_CreateArray();
    for (int i = 0; i < nd; i++) {
        cnt *= (size_t)shp[i];
        cJSON_AddItemToArray(sa, cJSON_CreateNumber(shp[i]));
    }
    if (w->size + cnt * 4 > w->cap) {
        w->cap = (w->size + cnt * 4) * 2;
        w->data = realloc(w->data, w->cap);
    }
    float *p = (float *)(w->data + w->size);
    for (size_t i = 0; i < cnt; i++)
        p[i] = zero ? 0.0f : scale * frand();
    cJSON *t = cJSON_CreateObject();
    char full[128];
    snprintf(full, sizeof full, "diffwave.%s", name);
    cJSON_AddStringToObject(t, "dtype", "F32");
    cJSON_AddItemToObject(t, "shape", sa);
    cJSON *off = cJSON_CreateArray();
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)w->size));
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(w->size + cnt * 4)));
    cJSON_AddItemToObject(t, "data_offsets", off);
    cJSON_AddItemToObject(w->hdr, full, t);
    w->size += cnt * 4;
}

static nn_diffwave *synth_model(int L, int C, int cycle, int causal, nn_isa isa) {
    const int E = 512, M = NMELS, T = 50;
    stw w = {cJSON_CreateObject(), NULL, 0, 0};
    char meta[2048];
    int n = snprintf(meta, sizeof meta,
                     "{\"layers\":%d,\"channels\":%d,\"cycle\":%d,\"causal\":%s,\"n_mels\":%d,"
                     "\"hop\":256,\"embed_dim\":%d,\"betas_infer\":[1e-4,1e-3,1e-2,0.05,0.2,0.5],"
                     "\"betas_train\":[",
                     L, C, cycle, causal ? "true" : "false", M, E);
    for (int i = 0; i < T; i++)
        n += snprintf(meta + n, sizeof meta - n, "%s%.10g", i ? "," : "",
                      1e-4 + (0.05 - 1e-4) * i / (T - 1));
    snprintf(meta + n, sizeof meta - n, "]}");
    cJSON *md = cJSON_CreateObject();
    cJSON_AddStringToObject(md, "diffwave", meta);
    cJSON_AddItemToObject(w.hdr, "__metadata__", md);
    char nm[128];
#define T1(name, a, sc) add_tensor(&w, name, 1, (int[]){a}, sc, 0)
#define T2(name, a, b, sc) add_tensor(&w, name, 2, (int[]){a, b}, sc, 0)
#define T3(name, a, b, c, sc) add_tensor(&w, name, 3, (int[]){a, b, c}, sc, 0)
    T3("input_projection.weight", C, 1, 1, 1.0f);
    T1("input_projection.bias", C, 0.1f);
    T2("diffusion_embedding.embedding", T, 128, 1.0f);
    T2("diffusion_embedding.projection1.weight", E, 128, 0.09f);
    T1("diffusion_embedding.projection1.bias", E, 0.1f);
    T2("diffusion_embedding.projection2.weight", E, E, 0.04f);
    T1("diffusion_embedding.projection2.bias", E, 0.1f);
    for (int s = 1; s <= 2; s++) {
        snprintf(nm, sizeof nm, "spectrogram_upsampler.conv%d.weight", s);
        add_tensor(&w, nm, 4, (int[]){1, 1, 3, 32}, 0.1f, 0);
        snprintf(nm, sizeof nm, "spectrogram_upsampler.conv%d.bias", s);
        T1(nm, 1, 0.1f);
    }
    const float sc = 1.0f / sqrtf((float)C);
    for (int i = 0; i < L; i++) {
#define LN(suffix) (snprintf(nm, sizeof nm, "residual_layers.%d.%s", i, suffix), nm)
        T3(LN("dilated_conv.weight"), 2 * C, C, 3, sc);
        T1(LN("dilated_conv.bias"), 2 * C, 0.1f);
        T2(LN("diffusion_projection.weight"), C, E, 0.04f);
        T1(LN("diffusion_projection.bias"), C, 0.1f);
        T3(LN("conditioner_projection.weight"), 2 * C, M, 1, 0.09f);
        T1(LN("conditioner_projection.bias"), 2 * C, 0.1f);
        T3(LN("output_projection.weight"), 2 * C, C, 1, sc);
        T1(LN("output_projection.bias"), 2 * C, 0.1f);
    }
    T3("skip_projection.weight", C, C, 1, sc);
    T1("skip_projection.bias", C, 0.1f);
    T3("output_projection.weight", 1, C, 1, sc);
    T1("output_projection.bias", 1, 0.1f);
    char *h = cJSON_PrintUnformatted(w.hdr);
    size_t hl = strlen(h), pad = (8 - hl % 8) % 8;
    size_t total = 8 + hl + pad + w.size;
    unsigned char *buf = malloc(total);
    uint64_t hl64 = hl + pad;
    memcpy(buf, &hl64, 8);
    memcpy(buf + 8, h, hl);
    memset(buf + 8 + hl, ' ', pad);
    memcpy(buf + 8 + hl + pad, w.data, w.size);
    char err[256];
    st_file *f = st_open_memory(buf, total, err, sizeof err);
    nn_diffwave *m = f ? nn_diffwave_load_isa(f, isa, err, sizeof err) : NULL;
    if (!m) fprintf(stderr, "synthetic model L=%d C=%d: %s\n", L, C, err);
    st_close(f);
    free(buf);
    free(h);
    free(w.data);
    cJSON_Delete(w.hdr);
    return m;
}

/* Network FLOPs per output sample of one step (the conditioner is cached, not counted). */
static double step_flops(int L, int C) {
    return 2.0 * (L * (2.0 * C * 3 * C + 2.0 * C * C) - (double)C * C + C * C + C);
}
static double cond_flops(int L, int C) {
    return 2.0 * L * 2.0 * C * NMELS + 2 * 6.0 * NMELS;
}

/* CPU seconds to stream `frames` frames through a steps-step sampler, `chunk` frames per
 * call (after one warm-up call). */
static double stream_seconds(const nn_diffwave *m, int steps, int frames, int chunk) {
    double *betas = malloc(sizeof(double) * steps);
    for (int i = 0; i < steps; i++) /* geometric from 1e-4 to 0.5, inside the training range */
        betas[i] = steps == 1 ? 0.05 : 1e-4 * pow(0.5 / 1e-4, (double)i / (steps - 1));
    nn_diffwave_stream_config cfg;
    nn_diffwave_stream_config_default(&cfg);
    cfg.betas = betas;
    cfg.n_betas = steps;
    cfg.max_frames = chunk;
    cfg.block = BLOCK_N;
    char err[256];
    nn_diffwave_stream *s = nn_diffwave_stream_create(m, &cfg, err, sizeof err);
    if (!s) {
        fprintf(stderr, "stream: %s\n", err);
        free(betas);
        return -1;
    }
    float *mel = malloc(sizeof(float) * NMELS * chunk), *out = malloc(sizeof(float) * 256 * chunk);
    for (int i = 0; i < NMELS * chunk; i++)
        mel[i] = frand();
    nn_diffwave_stream_process(s, mel, chunk, out);
    double t0 = nn_thread_cpu_seconds();
    for (int f = 0; f < frames; f += chunk)
        nn_diffwave_stream_process(s, mel, chunk, out);
    double dt = nn_thread_cpu_seconds() - t0;
    nn_diffwave_stream_free(s);
    free(mel);
    free(out);
    free(betas);
    return dt;
}

int main(int argc, char **argv) {
    shape sh[16];
    const int ns = shapes(sh);
    openblas_set_num_threads(1);
    if (argc > 1 && strcmp(argv[1], "--blas-only") == 0) {
        printf("core %s\n", openblas_get_corename());
        for (int i = 0; i < ns; i++)
            printf("%d %.3f\n", i, blas_gflops(&sh[i]));
        return 0;
    }
    const char *json_path = argc > 1 ? argv[1] : "build/bench_nn.json";
    double load[3] = {0};
    if (getloadavg(load, 3) < 0) load[0] = -1;
    nn_cpu cpu = nn_cpu_detect();
    printf("CPU %s, kernels %s, load average %.2f\n", cpu.vendor, nn_isa_name(cpu.best), load[0]);
    cJSON *root = cJSON_CreateObject();
    double peak = 0;
    cJSON *peaks = cJSON_CreateObject();
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        if (!cpu.has[isa]) continue;
        double p = nn_cpu_peak_gflops(&cpu, (nn_isa)isa, 0.2);
        printf("peak %-8s %7.1f GFLOP/s\n", nn_isa_name((nn_isa)isa), p);
        cJSON_AddNumberToObject(peaks, nn_isa_name((nn_isa)isa), p);
        if (isa == (int)cpu.best) peak = p;
    }
    cJSON_AddNumberToObject(root, "peak_gflops", peak);
    cJSON_AddItemToObject(root, "peak_gflops_by_isa", peaks);
    cJSON_AddStringToObject(root, "isa", nn_isa_name(cpu.best));
    cJSON_AddNumberToObject(root, "load_average", load[0]);

    /* OpenBLAS with SkylakeX kernels: a child process, since the core type is read at load */
    double skx[16] = {0};
    char skx_core[64] = "?";
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl > 0) {
        self[sl] = 0;
        char cmd[4200];
        snprintf(cmd, sizeof cmd,
                 "OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 '%s' --blas-only", self);
        FILE *p = popen(cmd, "r");
        char line[256];
        while (p && fgets(line, sizeof line, p)) {
            int i;
            double g;
            if (sscanf(line, "core %63s", skx_core) == 1) continue;
            if (sscanf(line, "%d %lf", &i, &g) == 2 && i >= 0 && i < 16) skx[i] = g;
        }
        if (p) pclose(p);
    }
    printf("\n%-34s %9s %9s %9s %9s %9s %6s\n", "GEMM (M x K x N)", nn_isa_name(cpu.best), "avx2",
           "generic", "blas", "blas-skx", "%peak");
    printf("(OpenBLAS core as detected: %s; forced: %s)\n", openblas_get_corename(), skx_core);
    cJSON *ga = cJSON_CreateArray();
    for (int i = 0; i < ns; i++) {
        const int taps = strncmp(sh[i].name, "dilated", 7) == 0 ? 3 : 1;
        double ours = ours_gflops(cpu.best, &sh[i], taps);
        double gen = ours_gflops(NN_ISA_GENERIC, &sh[i], taps);
        double avx2 = cpu.has[NN_ISA_AVX2] ? ours_gflops(NN_ISA_AVX2, &sh[i], taps) : 0.0;
        double blas = blas_gflops(&sh[i]);
        printf("%-34s %9.1f %9.1f %9.1f %9.1f %9.1f %5.0f%%\n", sh[i].name, ours, avx2, gen, blas,
               skx[i], 100 * ours / peak);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", sh[i].name);
        cJSON_AddNumberToObject(o, "gflops", ours);
        cJSON_AddNumberToObject(o, "fraction_of_peak", ours / peak);
        cJSON_AddNumberToObject(o, "generic_gflops", gen);
        cJSON_AddNumberToObject(o, "avx2_gflops", avx2);
        cJSON_AddNumberToObject(o, "openblas_gflops", blas);
        cJSON_AddNumberToObject(o, "openblas_skylakex_gflops", skx[i]);
        cJSON_AddItemToArray(ga, o);
    }
    cJSON_AddItemToObject(root, "gemm", ga);
    cJSON_AddStringToObject(root, "openblas_core_detected", openblas_get_corename());

    /* whole steps and real-time factors */
    static const int Ls[] = {12, 16, 20, 30}, Cs[] = {32, 48, 64}, Ss[] = {2, 4, 6};
    cJSON *da = cJSON_CreateArray(), *ra = cJSON_CreateArray();
    printf("\n%-4s %-4s %6s %10s %6s | rtf@16k: %7s %7s %7s %7s (chunk 2 frames, block %d)\n", "L",
           "C", "steps", "GFLOP/s", "%peak", "2", "4", "6", "50*", BLOCK_N);
    for (int li = 0; li < 4; li++)
        for (int ci = 0; ci < 3; ci++) {
            const int L = Ls[li], C = Cs[ci];
            nn_diffwave *m = synth_model(L, C, 8, 1, cpu.best);
            if (!m) continue;
            /* about 0.25 s of CPU per measurement */
            const double per_frame = 256.0 * (6 * step_flops(L, C) + cond_flops(L, C)) / 1e11;
            int frames = (int)(0.25 / per_frame);
            frames = frames < 8 ? 8 : frames > 2000 ? 2000 : frames;
            frames &= ~1;
            double rtf[3], sec[3];
            for (int si = 0; si < 3; si++) {
                sec[si] = stream_seconds(m, Ss[si], frames, 2);
                rtf[si] = sec[si] / (frames * 256.0 / 16000.0);
            }
            /* least squares line through (steps, seconds): the slope is one step's cost */
            double mx = 4, my = (sec[0] + sec[1] + sec[2]) / 3;
            double slope = ((2 - mx) * (sec[0] - my) + (6 - mx) * (sec[2] - my)) / 8.0;
            double icpt = my - slope * mx;
            double rtf50 = (icpt + 50 * slope) / (frames * 256.0 / 16000.0);
            double gfl = step_flops(L, C) * frames * 256.0 / slope * 1e-9;
            double whole6 =
                (6 * step_flops(L, C) + cond_flops(L, C)) * frames * 256.0 / sec[2] * 1e-9;
            printf("%-4d %-4d %6d %10.1f %5.0f%% |          %7.3f %7.3f %7.3f %7.2f\n", L, C, 6,
                   gfl, 100 * gfl / peak, rtf[0], rtf[1], rtf[2], rtf50);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "L", L);
            cJSON_AddNumberToObject(o, "C", C);
            cJSON_AddNumberToObject(o, "gflops", gfl);
            cJSON_AddNumberToObject(o, "fraction_of_peak", gfl / peak);
            cJSON_AddNumberToObject(o, "gflops_6_steps_with_conditioner", whole6);
            cJSON_AddStringToObject(o, "method",
                                    "slope of CPU time vs steps (2, 4, 6), "
                                    "network FLOPs of one step per second");
            cJSON_AddItemToArray(da, o);
            for (int si = 0; si < 4; si++) {
                cJSON *r = cJSON_CreateObject();
                cJSON_AddNumberToObject(r, "L", L);
                cJSON_AddNumberToObject(r, "C", C);
                cJSON_AddNumberToObject(r, "steps", si < 3 ? Ss[si] : 50);
                cJSON_AddNumberToObject(r, "rtf", si < 3 ? rtf[si] : rtf50);
                if (si == 3)
                    cJSON_AddStringToObject(r, "note",
                                            "extrapolated: intercept + 50 x slope of "
                                            "the measured 2/4/6-step times");
                cJSON_AddItemToArray(ra, r);
            }
            nn_diffwave_free(m);
        }
    cJSON_AddItemToObject(root, "diffwave_step", da);
    cJSON_AddItemToObject(root, "diffwave_rtf_16k", ra);
    printf("(* 50 steps extrapolated from the 2/4/6-step measurements; causal dilations, cycle 8, "
           "conditioner cached, one thread)\n");
    /* streaming granularity: the same model fed 1 frame per call */
    nn_diffwave *m = synth_model(16, 48, 8, 1, cpu.best);
    if (m) {
        double s1 = stream_seconds(m, 4, 400, 1), s2 = stream_seconds(m, 4, 400, 2),
               s8 = stream_seconds(m, 4, 400, 8);
        const double a = 400 * 256.0 / 16000.0;
        printf("L=16 C=48 4 steps: rtf %.3f (1 frame/call), %.3f (2), %.3f (8)\n", s1 / a, s2 / a,
               s8 / a);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "frames_per_call_1", s1 / a);
        cJSON_AddNumberToObject(o, "frames_per_call_2", s2 / a);
        cJSON_AddNumberToObject(o, "frames_per_call_8", s8 / a);
        cJSON_AddItemToObject(root, "rtf_L16_C48_4steps_by_chunk", o);
        nn_diffwave_free(m);
    }
    char *js = cJSON_Print(root);
    FILE *jf = fopen(json_path, "w");
    if (jf) {
        fputs(js, jf);
        fputc('\n', jf);
        fclose(jf);
        printf("wrote %s\n", json_path);
    }
    free(js);
    cJSON_Delete(root);
    return 0;
}
