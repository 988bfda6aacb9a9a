/* DiffWave in C against its PyTorch twin (tests/golden/dw_*.safetensors, written by
 * train/golden_diffwave.py): one network evaluation, full sampling with injected noise
 * (fast and 50-step schedules), on every ISA this CPU runs; then streaming == whole
 * utterance, conditioner cache == recompute, latency and seeding. */
#include "nn/diffwave.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GOLDEN_DIR
#define GOLDEN_DIR "tests/golden"
#endif

static const float *tensor(const st_file *f, const char *name, int64_t *shape, int *nd) {
    *nd = st_tensor_shape(f, name, shape);
    if (*nd < 0) return NULL;
    char err[200];
    return st_tensor_f32(f, name, *nd, shape, err, sizeof err);
}

/* max |a - b| / max |b| */
static double rel_err(const float *a, const float *b, long n) {
    double num = 0, den = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > num || isnan(d)) num = isnan(d) ? INFINITY : d;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / (den > 0 ? den : 1);
}

typedef struct {
    const float *noise; /* [S][N] */
    long N;
} injected;

static void inject(void *user, int k, long pos, int n, float *out) {
    const injected *in = user;
    for (int i = 0; i < n; i++)
        out[i] = pos + i < in->N ? in->noise[(long)k * in->N + pos + i] : 0.0f;
}

static float *frame_major(const float *mel, int M, int F) {
    float *t = malloc(sizeof(float) * M * F);
    for (int m = 0; m < M; m++)
        for (int f = 0; f < F; f++)
            t[f * M + m] = mel[m * F + f];
    return t;
}

/* Streams mel in chunks of `chunk` frames; returns the vocoded audio aligned to position 0. */
static float *stream_run(const nn_diffwave *m, nn_diffwave_stream_config *cfg, const float *mel,
                         int F, int chunk) {
    char err[256];
    cfg->max_frames = chunk;
    nn_diffwave_stream *s = nn_diffwave_stream_create(m, cfg, err, sizeof err);
    CHECK(s != NULL, "stream create: %s", err);
    if (!s) return NULL;
    const int M = nn_diffwave_get_info(m)->n_mels;
    const long lat = nn_diffwave_lookahead(m, nn_diffwave_stream_steps(s));
    float *buf = calloc((size_t)F * 256 + lat, sizeof(float));
    long w = 0;
    for (int f = 0; f < F; f += chunk) {
        int k = F - f < chunk ? F - f : chunk;
        int r = nn_diffwave_stream_process(s, mel + (size_t)f * M, k, buf + w);
        CHECK(r == k * 256, "process returned %d", r);
        w += k * 256;
    }
    int r = nn_diffwave_stream_finish(s, buf + w);
    CHECK(r == lat, "finish returned %d, latency %ld", r, lat);
    for (long i = 0; i < lat && i < w; i++)
        CHECK(buf[i] == 0.0f, "output before the latency is not silent");
    float *out = malloc(sizeof(float) * (size_t)F * 256);
    memcpy(out, buf + lat, sizeof(float) * (size_t)F * 256);
    free(buf);
    nn_diffwave_stream_free(s);
    return out;
}

static void test_file(const char *name) {
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/%s.safetensors", GOLDEN_DIR, name);
    st_file *f = st_open(path, err, sizeof err);
    CHECK(f != NULL, "open %s: %s", path, err);
    if (!f) return;
    int64_t sh[8];
    int nd;
    const float *mel = tensor(f, "golden.mel", sh, &nd);
    const int M = (int)sh[0], F = (int)sh[1];
    const long N = (long)F * 256;
    const float *x = tensor(f, "golden.x", sh, &nd);
    const float *tt = tensor(f, "golden.t", sh, &nd);
    const float *eps_ref = tensor(f, "golden.eps", sh, &nd);
    const float *nfast = tensor(f, "golden.noise_fast", sh, &nd);
    const int S = (int)sh[0];
    const float *afast = tensor(f, "golden.audio_fast", sh, &nd);
    const float *nfull = tensor(f, "golden.noise_full", sh, &nd);
    const float *afull = tensor(f, "golden.audio_full", sh, &nd);
    CHECK(mel && x && tt && eps_ref && nfast && afast, "%s: golden tensors missing", name);
    if (!(mel && x && tt && eps_ref && nfast && afast)) {
        st_close(f);
        return;
    }
    float *melf = frame_major(mel, M, F);
    float *out = malloc(sizeof(float) * N), *out2 = malloc(sizeof(float) * N);
    nn_cpu cpu = nn_cpu_detect();
    nn_diffwave *keep = NULL;
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        if (!cpu.has[isa]) continue;
        nn_diffwave *m = nn_diffwave_load_isa(f, (nn_isa)isa, err, sizeof err);
        CHECK(m != NULL, "%s load: %s", name, err);
        if (!m) continue;
        const nn_diffwave_info *in = nn_diffwave_get_info(m);
        /* parameter count as PyTorch counts it (golden metadata) */
        const char *pc = st_meta(f, "params");
        CHECK(pc && atol(pc) == in->params, "%s params %ld vs PyTorch %s", name, in->params,
              pc ? pc : "?");
        CHECK(in->n_mels == M, "n_mels %d vs %d", in->n_mels, M);

        int rc = nn_diffwave_eps(m, melf, F, x, tt[0], out, err, sizeof err);
        CHECK(rc == 0, "eps: %s", err);
        double e = rel_err(out, eps_ref, N);
        CHECK(e < 1e-4, "%s/%s one step: rel err %g", name, nn_isa_name((nn_isa)isa), e);
        printf("%s %-7s one step      rel err %.2e\n", name, nn_isa_name((nn_isa)isa), e);

        injected inj = {nfast, N};
        nn_diffwave_stream_config cfg;
        nn_diffwave_stream_config_default(&cfg);
        cfg.noise = inject;
        cfg.noise_user = &inj;
        rc = nn_diffwave_vocode(m, &cfg, melf, F, out, err, sizeof err);
        CHECK(rc == 0, "vocode: %s", err);
        e = rel_err(out, afast, N);
        CHECK(e < 1e-4, "%s/%s fast sampling (%d steps): rel err %g", name,
              nn_isa_name((nn_isa)isa), S, e);
        printf("%s %-7s fast %d steps rel err %.2e\n", name, nn_isa_name((nn_isa)isa), S, e);

        if (nfull && afull) {
            injected inj2 = {nfull, N};
            cfg.noise_user = &inj2;
            cfg.fast = 0;
            rc = nn_diffwave_vocode(m, &cfg, melf, F, out, err, sizeof err);
            e = rel_err(out, afull, N);
            CHECK(rc == 0 && e < 1e-4, "%s/%s 50 steps: rel err %g", name, nn_isa_name((nn_isa)isa),
                  e);
            printf("%s %-7s 50 steps      rel err %.2e\n", name, nn_isa_name((nn_isa)isa), e);
            /* the same with the conditioner recomputed each step instead of cached */
            cfg.cond_cache_bytes = 1;
            rc = nn_diffwave_vocode(m, &cfg, melf, F, out2, err, sizeof err);
            e = rel_err(out2, afull, N);
            CHECK(rc == 0 && e < 1e-4, "%s/%s 50 steps, no cache: rel err %g", name,
                  nn_isa_name((nn_isa)isa), e);
            /* and step after step over the whole utterance (the low-memory offline path) */
            cfg.cond_cache_bytes = 0;
            cfg.step_major = 1;
            rc = nn_diffwave_vocode(m, &cfg, melf, F, out2, err, sizeof err);
            e = rel_err(out2, afull, N);
            CHECK(rc == 0 && e < 1e-4, "%s/%s 50 steps, step-major: rel err %g", name,
                  nn_isa_name((nn_isa)isa), e);
            printf("%s %-7s 50 steps step-major rel err %.2e\n", name, nn_isa_name((nn_isa)isa), e);
        }
        if (isa == (int)cpu.best)
            keep = m;
        else
            nn_diffwave_free(m);
    }
    /* streaming == whole: built-in noise, several chunkings and block sizes */
    if (keep) {
        nn_diffwave_stream_config cfg;
        nn_diffwave_stream_config_default(&cfg);
        cfg.seed = 7;
        cfg.max_frames = F;
        cfg.block = 1024;
        int rc = nn_diffwave_vocode(keep, &cfg, melf, F, out, err, sizeof err);
        CHECK(rc == 0, "vocode: %s", err);
        static const int chunks[] = {1, 2, 3};
        static const int blocks[] = {256, 100, 512};
        for (int c = 0; c < 3; c++) {
            nn_diffwave_stream_config sc = cfg;
            sc.block = blocks[c];
            sc.cond_cache_bytes = c == 2 ? 1 : 0;
            float *st = stream_run(keep, &sc, melf, F, chunks[c]);
            if (!st) continue;
            double e = rel_err(st, out, N);
            CHECK(e < (c == 2 ? 1e-5 : 1e-6), "%s streaming (chunk %d, block %d%s) != whole: %g",
                  name, chunks[c], blocks[c], c == 2 ? ", recompute" : "", e);
            printf("%s stream chunk %d block %4d%s vs whole: max rel diff %.2e\n", name, chunks[c],
                   blocks[c], c == 2 ? " (recompute)" : "", e);
            free(st);
        }
        /* the step-major offline path draws the same built-in noise */
        nn_diffwave_stream_config sm = cfg;
        sm.step_major = 1;
        rc = nn_diffwave_vocode(keep, &sm, melf, F, out2, err, sizeof err);
        double e2 = rel_err(out2, out, N);
        CHECK(rc == 0 && e2 < 1e-5, "%s step-major != pipelined: %g", name, e2);
        printf("%s step-major vs pipelined (built-in noise): %.2e\n", name, e2);
        /* seeds: same seed same audio, other seed other audio */
        cfg.seed = 8;
        nn_diffwave_vocode(keep, &cfg, melf, F, out2, err, sizeof err);
        CHECK(rel_err(out2, out, N) > 1e-3, "seed has no effect");
        cfg.seed = 7;
        nn_diffwave_vocode(keep, &cfg, melf, F, out2, err, sizeof err);
        CHECK(rel_err(out2, out, N) == 0.0, "same seed, different audio");
        nn_diffwave_free(keep);
    }
    free(melf);
    free(out);
    free(out2);
    st_close(f);
}

/* A longer utterance (many buffer shifts), 50 steps: streamed in 1-frame calls with small
 * blocks == one call == step after step. */
static void test_long(const char *name) {
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/%s.safetensors", GOLDEN_DIR, name);
    st_file *f = st_open(path, err, sizeof err);
    nn_diffwave *m = f ? nn_diffwave_load(f, err, sizeof err) : NULL;
    CHECK(m != NULL, "%s: %s", path, err);
    if (!m) {
        st_close(f);
        return;
    }
    const int M = nn_diffwave_get_info(m)->n_mels, F = 41;
    const long N = (long)F * 256;
    float *mel = malloc(sizeof(float) * M * F), *a = malloc(sizeof(float) * N),
          *b = malloc(sizeof(float) * N);
    for (int i = 0; i < M * F; i++)
        mel[i] = (float)sin(0.37 * i) * 2.0f;
    nn_diffwave_stream_config cfg;
    nn_diffwave_stream_config_default(&cfg);
    cfg.fast = 0;
    cfg.seed = 42;
    cfg.max_frames = F;
    cfg.block = 1024;
    cfg.step_major = -1;
    int rc = nn_diffwave_vocode(m, &cfg, mel, F, a, err, sizeof err);
    CHECK(rc == 0, "vocode: %s", err);
    cfg.block = 64;
    float *st = stream_run(m, &cfg, mel, F, 1);
    if (st) {
        double e = rel_err(st, a, N);
        CHECK(e < 1e-6, "%s long stream != whole: %g", name, e);
        printf("%s long (%ld samples, 50 steps) stream vs whole: %.2e\n", name, N, e);
        free(st);
    }
    cfg.step_major = 1;
    rc = nn_diffwave_vocode(m, &cfg, mel, F, b, err, sizeof err);
    double e = rel_err(b, a, N);
    CHECK(rc == 0 && e < 1e-6, "%s long step-major != pipelined: %g", name, e);
    /* a reset stream (dirty buffers, cleared history only) == a fresh one */
    cfg.max_frames = 3;
    nn_diffwave_stream *s = nn_diffwave_stream_create(m, &cfg, err, sizeof err);
    const long lat = nn_diffwave_lookahead(m, nn_diffwave_stream_steps(s));
    float *r1 = malloc(sizeof(float) * (N + lat)), *r2 = malloc(sizeof(float) * (N + lat));
    for (int pass = 0; pass < 2; pass++) {
        float *r = pass ? r2 : r1;
        if (pass) nn_diffwave_stream_reset(s, 42);
        long w = 0;
        for (int fr = 0; fr < F; fr += 3) {
            int k = F - fr < 3 ? F - fr : 3;
            w += nn_diffwave_stream_process(s, mel + (size_t)fr * M, k, r + w);
        }
        nn_diffwave_stream_finish(s, r + w);
    }
    CHECK(memcmp(r1, r2, sizeof(float) * (N + lat)) == 0, "%s: reset stream differs", name);
    CHECK(rel_err(r1 + lat, a, N) < 1e-6, "%s: chunk-3 stream != whole", name);
    free(r1);
    free(r2);
    nn_diffwave_stream_free(s);
    free(mel);
    free(a);
    free(b);
    nn_diffwave_free(m);
    st_close(f);
}

/* Metadata that describes fewer layers than the file holds ("layers": 5 -> 2) is refused with
 * the unused tensors named, instead of loading as a smaller (and louder) network (issue 10). */
static void test_layers_mismatch(void) {
    FILE *fp = fopen("tests/golden/dw_causal.safetensors", "rb");
    CHECK(fp != NULL, "open dw_causal");
    if (!fp) return;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *bytes = malloc((size_t)n);
    CHECK(bytes && fread(bytes, 1, (size_t)n, fp) == (size_t)n, "read dw_causal");
    fclose(fp);
    static const char from[] = "\\\"layers\\\": 5,", to[] = "\\\"layers\\\": 2,";
    unsigned char *hit = bytes ? memmem(bytes, (size_t)n, from, sizeof from - 1) : NULL;
    CHECK(hit != NULL, "dw_causal metadata holds %s", from);
    if (hit) {
        char err[256] = "";
        memcpy(hit, to, sizeof to - 1);
        st_file *f = st_open_memory(bytes, (size_t)n, err, sizeof err);
        nn_diffwave *m = f ? nn_diffwave_load(f, err, sizeof err) : NULL;
        CHECK(f && !m, "2 of 5 layers described: refused");
        CHECK(strstr(err, "diffwave.residual_layers.2.") != NULL, "message names layer 2: %s", err);
        printf("dw_causal with 2 of 5 layers described: %s\n", err);
        nn_diffwave_free(m);
        st_close(f);
    }
    free(bytes);
}

/* The refiner streamed from its prior in chunks of `chunk` frames: the output after the stream's
 * latency (N = F * 256 samples, malloc'd), or NULL.  Checks each call's count, that the plain
 * process call is refused, and that finish returns the latency. */
static float *stream_refined(const nn_diffwave *m, const int *steps, int S, const float *melf,
                             int F, const float *prior, const float *eps, int chunk, int block,
                             int max_frames) {
    char err[256];
    const int M = nn_diffwave_get_info(m)->n_mels;
    const long N = (long)F * 256;
    injected inj = {eps, N};
    nn_diffwave_stream_config cfg;
    nn_diffwave_stream_config_default(&cfg);
    cfg.refine_steps = steps;
    cfg.n_refine = S;
    cfg.noise = inject;
    cfg.noise_user = &inj;
    cfg.max_frames = max_frames;
    cfg.block = block;
    nn_diffwave_stream *s = nn_diffwave_stream_create(m, &cfg, err, sizeof err);
    CHECK(s != NULL, "refiner stream: %s", err);
    if (!s) return NULL;
    const long lat = nn_diffwave_lookahead(m, S);
    float *buf = calloc((size_t)(N + lat), sizeof(float));
    CHECK(nn_diffwave_stream_process(s, melf, 1, buf) == -1,
          "a refiner stream took frames without its prior");
    long w = 0;
    for (int f0 = 0; f0 < F; f0 += chunk) {
        int k = F - f0 < chunk ? F - f0 : chunk;
        int r = nn_diffwave_stream_process_prior(s, melf + (size_t)f0 * M, prior + f0 * 256L, k,
                                                 buf + w);
        CHECK(r == k * 256, "process_prior returned %d", r);
        w += k * 256;
    }
    int r = nn_diffwave_stream_finish(s, buf + w);
    CHECK(r == lat, "refiner finish returned %d, latency %ld", r, lat);
    nn_diffwave_stream_free(s);
    memmove(buf, buf + lat, sizeof(float) * (size_t)N);
    return buf;
}

/* The mode-2 refiner's steps (nn_diffwave_refine) against train/refiner.py refine, given the
 * start signal and noise; misuse refused; a correction that is zero returns the prior. */
static void test_refiner(void) {
    char err[256];
    st_file *f = st_open(GOLDEN_DIR "/dw_refiner.safetensors", err, sizeof err);
    CHECK(f != NULL, "open dw_refiner: %s", err);
    if (!f) return;
    int64_t sh[8];
    int nd;
    const float *mel = tensor(f, "golden.mel", sh, &nd);
    const int M = (int)sh[0], F = (int)sh[1];
    const long N = (long)F * 256;
    const float *prior = tensor(f, "golden.prior", sh, &nd),
                *eps = tensor(f, "golden.eps", sh, &nd);
    const float *stf = tensor(f, "golden.steps", sh, &nd);
    const int S = stf ? (int)sh[0] : 0;
    const float *ref = tensor(f, "golden.out", sh, &nd);
    CHECK(mel && prior && eps && stf && ref && S > 0 && S <= 8, "dw_refiner: golden tensors");
    nn_diffwave *m = nn_diffwave_load(f, err, sizeof err);
    CHECK(m != NULL, "dw_refiner load: %s", err);
    if (m && mel && prior && eps && stf && ref) {
        int steps[8];
        for (int i = 0; i < S; i++)
            steps[i] = (int)stf[i];
        float *melf = frame_major(mel, M, F), *out = malloc(sizeof(float) * (size_t)N);
        int rc = nn_diffwave_refine(m, steps, S, melf, F, prior, eps, out, err, sizeof err);
        CHECK(rc == 0, "refine: %s", err);
        double e = rel_err(out, ref, N);
        CHECK(e < 1e-4, "refiner vs PyTorch: rel err %g", e);
        printf("dw_refiner %d steps: rel err %.2e\n", S, e);
        int bad[2] = {2, 5};
        CHECK(nn_diffwave_refine(m, bad, 2, melf, F, prior, eps, out, err, sizeof err) == -1 &&
                  strstr(err, "decrease"),
              "increasing refine steps accepted (%s)", err);
        int far[1] = {500};
        CHECK(nn_diffwave_refine(m, far, 1, melf, F, prior, eps, out, err, sizeof err) == -1,
              "a refine step outside the schedule accepted");
        /* streamed, in chunks of 1, 2 and 3 frames: the whole-utterance result after the
         * latency, and the plain process call refused */
        for (int chunk = 1; chunk <= 3; chunk++) {
            float *y = stream_refined(m, steps, S, melf, F, prior, eps, chunk, 256, 4);
            if (!y) continue;
            double es = rel_err(y, out, N), eg = rel_err(y, ref, N);
            CHECK(es < 1e-5 && eg < 1e-4,
                  "refiner streamed in %d-frame chunks: rel err %g (whole), %g (PyTorch)", chunk,
                  es, eg);
            if (chunk == 1)
                printf("dw_refiner streamed: rel err %.2e vs whole, %.2e vs PyTorch\n", es, eg);
            free(y);
        }
        free(melf);
        free(out);
    }
    nn_diffwave_free(m);
    st_close(f);
}

/* The streamed refiner on models with look-ahead (the stages lag each other by the step
 * look-ahead), against the whole-utterance steps (whose network evaluations these models'
 * goldens check against PyTorch); and the stream's refusals. */
static void test_refiner_lookahead(const char *name) {
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/%s.safetensors", GOLDEN_DIR, name);
    st_file *f = st_open(path, err, sizeof err);
    nn_diffwave *m = f ? nn_diffwave_load(f, err, sizeof err) : NULL;
    CHECK(m != NULL, "%s: %s", name, err);
    if (m) {
        const int M = nn_diffwave_get_info(m)->n_mels, F = 7;
        const long N = (long)F * 256;
        float *mel = malloc(sizeof(float) * M * F), *prior = malloc(sizeof(float) * N),
              *eps = malloc(sizeof(float) * N), *whole = malloc(sizeof(float) * N);
        uint32_t seed = 11;
        for (int i = 0; i < M * F; i++)
            mel[i] = (float)cos(0.37 * i);
        for (long i = 0; i < N; i++) {
            seed = seed * 1664525u + 1013904223u;
            eps[i] = (float)((seed >> 8) * (1.0 / 8388608.0)) - 1.0f;
            prior[i] = (float)(0.3 * sin(0.03 * (double)i));
        }
        static const int steps[3] = {5, 2, 0};
        CHECK(nn_diffwave_refine(m, steps, 3, mel, F, prior, eps, whole, err, sizeof err) == 0,
              "%s refine: %s", name, err);
        for (int chunk = 1; chunk <= 3; chunk++) {
            const int block = chunk == 2 ? 16 : 256; /* the smallest block too */
            float *y = stream_refined(m, steps, 3, mel, F, prior, eps, chunk, block, 3);
            if (!y) continue;
            double e = rel_err(y, whole, N);
            CHECK(e < 1e-5, "%s refiner streamed in %d-frame chunks (block %d): rel err %g", name,
                  chunk, block, e);
            free(y);
        }
        /* refusals */
        nn_diffwave_stream_config cfg;
        nn_diffwave_stream_config_default(&cfg);
        cfg.n_refine = 3;
        CHECK(!nn_diffwave_stream_create(m, &cfg, err, sizeof err), "refine steps NULL accepted");
        static const int up[2] = {2, 5}, far[1] = {50};
        cfg.refine_steps = up;
        cfg.n_refine = 2;
        CHECK(!nn_diffwave_stream_create(m, &cfg, err, sizeof err), "increasing steps accepted");
        cfg.refine_steps = far;
        cfg.n_refine = 1;
        CHECK(!nn_diffwave_stream_create(m, &cfg, err, sizeof err), "step 50 of 50 accepted");
        cfg.n_refine = -1;
        CHECK(!nn_diffwave_stream_create(m, &cfg, err, sizeof err), "negative n_refine accepted");
        free(mel);
        free(prior);
        free(eps);
        free(whole);
    }
    nn_diffwave_free(m);
    st_close(f);
}

int main(void) {
    test_layers_mismatch();
    test_refiner();
    test_refiner_lookahead("dw_limited");
    test_refiner_lookahead("dw_sym");
    test_long("dw_sym");
    test_long("dw_limited");
    test_file("dw_sym");
    test_file("dw_causal");
    test_file("dw_limited");

    /* latency bookkeeping: causal models only wait for the upsampler */
    char err[256];
    st_file *f = st_open(GOLDEN_DIR "/dw_causal.safetensors", err, sizeof err);
    if (f) {
        nn_diffwave *m = nn_diffwave_load(f, err, sizeof err);
        CHECK(m && nn_diffwave_lookahead(m, 4) == 136, "causal look-ahead");
        CHECK(m && nn_diffwave_get_info(m)->step_lookahead == 0, "causal step look-ahead");
        nn_diffwave_free(m);
        st_close(f);
    }
    f = st_open(GOLDEN_DIR "/dw_sym.safetensors", err, sizeof err);
    if (f) {
        nn_diffwave *m = nn_diffwave_load(f, err, sizeof err);
        /* 4 layers, cycle 3: dilations 1 2 4 1 -> 8 per step, the first layer's is free */
        CHECK(m && nn_diffwave_get_info(m)->step_lookahead == 8, "symmetric step look-ahead");
        CHECK(m && nn_diffwave_lookahead(m, 6) == 136 + 6 * 8 - 1, "symmetric look-ahead");
        nn_diffwave_free(m);
        st_close(f);
    }
    return check_summary("test_nn_diffwave");
}
