/* Mel2Mel in C against PyTorch (committed goldens from train/golden.py), streaming chunk
 * invariance, state independence, the full-size reference network, and malformed models. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/mel2mel.h"
#include "tests/check.h"
#include "tests/test_nn_util.h"

#define GOLDEN_DIR "tests/golden"

/* max |a - b| / max |b| */
static double rel_err(const float *a, const float *b, size_t n) {
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= e)) /* also catches NaN */
            e = d;
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return m > 0 ? e / m : e;
}

typedef struct {
    st_file *f;
    nn_mel2mel *net;
    const float *in, *out;
    int T, F;
} golden;

static int golden_open(golden *g, const char *dir, const char *name) {
    char err[256] = "", path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    memset(g, 0, sizeof *g);
    g->f = st_open(path, err, sizeof err);
    CHECK(g->f != NULL, "%s: %s", name, err);
    if (!g->f) return -1;
    g->net = nn_mel2mel_load(g->f, err, sizeof err);
    CHECK(g->net != NULL, "%s: %s", name, err);
    int64_t shape[ST_MAX_DIMS];
    if (!g->net || st_tensor_shape(g->f, "golden.input", shape) != 2) return -1;
    g->T = (int)shape[0];
    g->F = (int)shape[1];
    g->in = st_tensor_f32(g->f, "golden.input", 2, shape, err, sizeof err);
    g->out = st_tensor_f32(g->f, "golden.output", 2, shape, err, sizeof err);
    CHECK(g->in && g->out && g->F == nn_mel2mel_n_mels(g->net), "%s: golden tensors: %s", name,
          err);
    return g->in && g->out ? 0 : -1;
}

static void golden_close(golden *g) {
    nn_mel2mel_free(g->net);
    st_close(g->f);
}

static void test_resnet_golden(const char *dir, const char *name) {
    golden g;
    if (golden_open(&g, dir, name) == 0) {
        CHECK(!nn_mel2mel_streaming(g.net), "resnet reported as streaming");
        nn_m2m_offline *o = nn_m2m_offline_create(g.net, g.T + 27);
        float *y = calloc((size_t)g.T * g.F, sizeof *y);
        CHECK(o && nn_m2m_offline_process(o, g.in, g.T, y) == 0, "offline process");
        double e = rel_err(y, g.out, (size_t)g.T * g.F);
        CHECK(e < 1e-4, "%s vs PyTorch: rel err %.3g", name, e);
        printf("%s (%s): rel err %.2e\n", name, nn_mel2mel_describe(g.net), e);
        CHECK(nn_m2m_offline_process(o, g.in, g.T + 28, y) == -1, "T > max_frames accepted");
        CHECK(nn_m2m_offline_process(o, g.in, 0, y) == -1, "T = 0 accepted");
        CHECK(nn_m2m_stream_create(g.net) == NULL, "stream runner for the resnet");
        /* Short clips (down to one frame) must run without touching memory out of range. */
        for (int T = 1; T <= 5; T++)
            CHECK(nn_m2m_offline_process(o, g.in, T, y) == 0 && isfinite(y[0]), "T=%d", T);
        free(y);
        nn_m2m_offline_destroy(o);
    }
    golden_close(&g);
}

/* Streams the golden input in the given chunk pattern (0 = random sizes). */
static void run_chunked(nn_m2m_stream *s, const float *in, int T, int F, int chunk, float *out,
                        uint32_t *seed) {
    nn_m2m_stream_reset(s);
    for (int t = 0; t < T;) {
        int n = chunk;
        if (!n) {
            *seed = *seed * 1664525u + 1013904223u;
            n = (int)(*seed >> 28); /* 0..15: zero-length calls included */
        }
        if (n > T - t) n = T - t;
        nn_m2m_stream_process(s, in + (size_t)t * F, n, out + (size_t)t * F);
        t += n;
    }
}

static void test_stream_golden(const char *dir, const char *name) {
    golden g;
    if (golden_open(&g, dir, name) == 0) {
        const int T = g.T, F = g.F, L = nn_mel2mel_lookahead(g.net);
        const size_t N = (size_t)T * F;
        CHECK(nn_mel2mel_streaming(g.net), "%s: not streaming", name);
        nn_m2m_stream *s = nn_m2m_stream_create(g.net), *s2 = nn_m2m_stream_create(g.net);
        float *whole = calloc(N, sizeof *whole), *y = calloc(N, sizeof *y);
        CHECK(s && s2, "stream create");
        nn_m2m_stream_process(s, g.in, T, whole);
        double e = rel_err(whole, g.out, N);
        CHECK(e < 1e-4, "%s vs PyTorch: rel err %.3g", name, e);
        printf("%s (%s): rel err %.2e\n", name, nn_mel2mel_describe(g.net), e);

        static const int chunks[] = {1, 2, 3, 7, 16, 17, 0, 0};
        uint32_t seed = 99;
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            run_chunked(s, g.in, T, F, chunks[c], y, &seed);
            double ce = rel_err(y, whole, N);
            /* Every frame goes through the same arithmetic whatever the chunking; only BLAS
             * blocking could reorder sums, so allow float rounding but nothing more. */
            CHECK(ce <= 1e-6, "%s chunk %d: differs from whole by %.3g", name, chunks[c], ce);
            if (chunks[c] == 1)
                printf("%s: chunk-1 vs whole %s (rel %.2e)\n", name,
                       memcmp(y, whole, N * sizeof *y) ? "differs" : "bit-identical", ce);
        }
        /* Two streams on one network interleaved: no shared mutable state. */
        nn_m2m_stream_reset(s);
        nn_m2m_stream_reset(s2);
        float *y2 = calloc(N, sizeof *y2), *junk = calloc(N, sizeof *junk);
        for (int t = 0; t < T; t++) {
            nn_m2m_stream_process(s, g.in + (size_t)t * F, 1, y + (size_t)t * F);
            nn_m2m_stream_process(s2, g.in + (size_t)(T - 1 - t) * F, 1, junk);
        }
        CHECK(rel_err(y, whole, N) <= 1e-6, "%s: interleaved streams interfere", name);
        /* Offline runner: aligned output, out[t] == stream[t + L]. */
        nn_m2m_offline *o = nn_m2m_offline_create(g.net, T);
        CHECK(o && nn_m2m_offline_process(o, g.in, T, y2) == 0, "offline stream");
        CHECK(rel_err(y2, whole + (size_t)L * F, (size_t)(T - L) * F) <= 1e-6,
              "%s: offline not aligned by lookahead %d", name, L);
        nn_m2m_offline_destroy(o);
        free(y2);
        free(junk);
        free(whole);
        free(y);
        nn_m2m_stream_destroy(s);
        nn_m2m_stream_destroy(s2);
    }
    golden_close(&g);
}

static nn_mel2mel *load_mem(const unsigned char *b, size_t n, char *err, size_t errlen,
                            st_file **fout) {
    st_file *f = st_open_memory(b, n, err, errlen);
    nn_mel2mel *net = f ? nn_mel2mel_load(f, err, errlen) : NULL;
    *fout = f;
    return net;
}

static void test_full_size(void) {
    size_t n;
    unsigned char *b = nnu_resnet_file(64, 9, 2, &n);
    char err[256] = "";
    st_file *f;
    nn_mel2mel *net = load_mem(b, n, err, sizeof err, &f);
    CHECK(net != NULL, "full-size resnet: %s", err);
    if (net) {
        CHECK(nn_mel2mel_params(net) == 11365633, "full resnet params %lld",
              nn_mel2mel_params(net));
        double mac = nn_mel2mel_macs_per_frame(net);
        CHECK(mac > 90e6 && mac < 100e6, "full resnet MAC/frame %.3g", mac);
        const int T = 37, F = 128;
        float *x = malloc(sizeof(float) * T * F), *y = malloc(sizeof(float) * T * F);
        uint32_t s = 5;
        for (int i = 0; i < T * F; i++)
            x[i] = -6.0f + 3.0f * nnu_rand(&s);
        nn_m2m_offline *o = nn_m2m_offline_create(net, T);
        CHECK(o && nn_m2m_offline_process(o, x, T, y) == 0, "full resnet run");
        int finite = 1;
        for (int i = 0; i < T * F; i++)
            finite &= isfinite(y[i]) != 0;
        CHECK(finite, "full resnet output not finite");
        printf("%s: ran T=%d\n", nn_mel2mel_describe(net), T);
        nn_m2m_offline_destroy(o);
        free(x);
        free(y);
    }
    nn_mel2mel_free(net);
    st_close(f);
    free(b);

    /* Default gain configuration (128 channels, 6 blocks): the cost model matches
     * train/models.py Mel2MelGain.macs_per_frame. */
    static const int dil[] = {1, 2, 4, 8, 16, 32};
    b = nnu_gain_file(128, dil, 6, 2, &n);
    net = load_mem(b, n, err, sizeof err, &f);
    CHECK(net != NULL, "default gain: %s", err);
    if (net) {
        CHECK(nn_mel2mel_params(net) == 460544, "gain params %lld", nn_mel2mel_params(net));
        CHECK(fabs(nn_mel2mel_macs_per_frame(net) - 458752.0) < 1.0, "gain MAC/frame %.0f",
              nn_mel2mel_macs_per_frame(net));
        CHECK(nn_mel2mel_lookahead(net) == 2, "lookahead");
    }
    nn_mel2mel_free(net);
    st_close(f);
    free(b);
}

/* "nrt": the head strengths against PyTorch (golden.strength, golden.output_strength), the heads
 * API (the output is the delayed input plus the strength-weighted heads, noise and room never
 * above 0 dB), and strengths kept across reset. */
static void test_nrt_golden(const char *name) {
    golden g;
    if (golden_open(&g, GOLDEN_DIR, name) == 0) {
        const int T = g.T, F = g.F, L = nn_mel2mel_lookahead(g.net);
        const size_t N = (size_t)T * F;
        char err[256] = "";
        int64_t shape[ST_MAX_DIMS] = {3};
        const float *k = st_tensor_f32(g.f, "golden.strength", 1, shape, err, sizeof err);
        shape[0] = T;
        shape[1] = F;
        const float *ys = st_tensor_f32(g.f, "golden.output_strength", 2, shape, err, sizeof err);
        CHECK(k && ys, "%s: strength tensors: %s", name, err);
        CHECK(nn_mel2mel_heads(g.net) == 3, "%s: heads %d", name, nn_mel2mel_heads(g.net));
        nn_m2m_stream *s = nn_m2m_stream_create(g.net);
        float *y = calloc(N, sizeof *y), *heads = calloc(3 * N, sizeof *heads);
        CHECK(s && nn_m2m_stream_heads(s) != NULL, "%s: stream and heads", name);
        if (k && ys && s) {
            nn_m2m_stream_set_strength(s, k);
            nn_m2m_stream_reset(s); /* strengths survive a reset */
            nn_m2m_stream_process(s, g.in, T, y);
            double e = rel_err(y, ys, N);
            CHECK(e < 1e-4, "%s with strengths %.1f/%.1f/%.1f vs PyTorch: rel err %.3g", name, k[0],
                  k[1], k[2], e);
            printf("%s strengths %.1f/%.1f/%.1f: rel err %.2e\n", name, k[0], k[1], k[2], e);
            const float one[3] = {1.0f, 1.0f, 1.0f};
            nn_m2m_stream_set_strength(s, one);
            nn_m2m_stream_reset(s);
            double worst = 0.0;
            float maxcut = -1e9f;
            for (int t = 0; t < T; t++) {
                nn_m2m_stream_process(s, g.in + (size_t)t * F, 1, y + (size_t)t * F);
                const float *h = nn_m2m_stream_heads(s);
                memcpy(heads + (size_t)t * 3 * F, h, 3 * (size_t)F * sizeof *h);
                if (t < L) continue;
                for (int f = 0; f < F; f++) {
                    float sum = g.in[(size_t)(t - L) * F + f] + h[f] + h[F + f] + h[2 * F + f];
                    double d = fabs((double)sum - y[(size_t)t * F + f]);
                    worst = d > worst ? d : worst;
                    maxcut = fmaxf(maxcut, fmaxf(h[f], h[F + f]));
                }
            }
            CHECK(worst < 1e-4, "%s: output != delayed input + heads (%.3g)", name, worst);
            CHECK(maxcut <= 0.0f, "%s: noise/room head above 0 dB (%.3g)", name, maxcut);
            CHECK(rel_err(y, g.out, N) < 1e-4, "%s: strength 1 after reset", name);
            /* A held floor: the floor feature reads the held values from the next frame, and
             * the output changes; released, it tracks again from there. */
            float *pin = malloc((size_t)F * sizeof *pin), *fl = malloc((size_t)F * sizeof *fl);
            for (int f = 0; f < F; f++)
                pin[f] = -3.0f + 0.01f * (float)f;
            nn_m2m_stream_reset(s);
            nn_m2m_stream_pin_floor(s, pin);
            nn_m2m_stream_process(s, g.in, T, y);
            CHECK(nn_m2m_stream_floor(s, fl) == F && !memcmp(fl, pin, (size_t)F * sizeof *fl),
                  "%s: the held floor is the floor feature", name);
            CHECK(rel_err(y, g.out, N) > 1e-3, "%s: a held floor changes nothing", name);
            nn_m2m_stream_pin_floor(s, NULL);
            nn_m2m_stream_reset(s);
            nn_m2m_stream_process(s, g.in, T, y);
            CHECK(rel_err(y, g.out, N) < 1e-4, "%s: released floor: the golden again", name);
            free(pin);
            free(fl);
        }
        free(y);
        free(heads);
        nn_m2m_stream_destroy(s);
    }
    golden_close(&g);
}

/* Replaces the first occurrence of `from` in the header of a model file (same length). */
static unsigned char *patched(const unsigned char *b, size_t n, const char *from, const char *to) {
    unsigned char *c = malloc(n);
    memcpy(c, b, n);
    size_t lf = strlen(from);
    for (size_t i = 8; i + lf <= n; i++)
        if (!memcmp(c + i, from, lf)) {
            memcpy(c + i, to, lf);
            return c;
        }
    free(c);
    return NULL;
}

static void expect_fail(const unsigned char *b, size_t n, const char *what, const char *msg) {
    char err[256] = "";
    st_file *f;
    nn_mel2mel *net = b ? load_mem(b, n, err, sizeof err, &f) : NULL;
    CHECK(b && !net, "%s: accepted", what);
    CHECK(strstr(err, msg) != NULL, "%s: message '%s' lacks '%s'", what, err, msg);
    nn_mel2mel_free(net);
    if (b) st_close(f);
}

static void test_malformed(void) {
    static const int dil[] = {1, 2};
    size_t n;
    unsigned char *b = nnu_gain_file(4, dil, 2, 1, &n), *c;
    char err[256];
    st_file *f;
    nn_mel2mel *net = load_mem(b, n, err, sizeof err, &f);
    CHECK(net != NULL, "small gain: %s", err);
    nn_mel2mel_free(net);
    st_close(f);

    /* Every truncation fails cleanly (every 7th length keeps the test fast). */
    int ok = 1;
    for (size_t k = 0; k < n; k += 7) {
        err[0] = 0;
        net = load_mem(b, k, err, sizeof err, &f);
        ok &= !net && err[0];
        nn_mel2mel_free(net);
        st_close(f);
    }
    CHECK(ok, "a truncated model loaded or gave no message");

    expect_fail(c = patched(b, n, "\"mel2mel\":", "\"melXmel\":"), n, "no metadata",
                "no 'mel2mel'");
    free(c);
    expect_fail(c = patched(b, n, "{\\\"arch", "[\\\"arch"), n, "bad JSON", "not a JSON object");
    free(c);
    expect_fail(c = patched(b, n, "gain\\\"", "gaix\\\""), n, "unknown arch", "'arch'");
    free(c);
    expect_fail(c = patched(b, n, "[4,384,1]", "[4,385,1]"), n, "wrong shape", "shape");
    free(c);
    expect_fail(c = patched(b, n, "lookahead\\\":1", "lookahead\\\":9"), n, "lookahead 9",
                "lookahead");
    free(c);
    expect_fail(c = patched(b, n, "\"dtype\":\"F32\"", "\"dtype\":\"I32\""), n, "wrong dtype",
                "dtype");
    free(c);
    expect_fail(c = patched(b, n, "conv_out.bias", "conv_out.bixs"), n, "missing tensor",
                "conv_out.bias");
    free(c);
    /* Absurd sizes in the metadata are refused before anything is allocated. */
    expect_fail(c = patched(b, n, "[1,2]", "[9e9]"), n, "dilation 9e9", "dilations");
    free(c);
    free(b);

    /* The retired causal U-Net: refused, naming what replaces it. */
    static const int ch[] = {4, 6};
    b = nnu_stream_file(ch, 2, dil, 2, 1, &n);
    expect_fail(b, n, "a \"stream\" model", "retired");
    free(b);

    b = nnu_resnet_file(2, 1, 1, &n);
    expect_fail(c = patched(b, n, "n_down\\\":1", "n_down\\\":9"), n, "n_down 9", "n_down");
    free(c);
    free(b);
    stw w;
    stw_begin(&w, "{\"mel2mel\":\"{\\\"arch\\\":\\\"gain\\\",\\\"channels\\\":9e9}\"}");
    b = stw_end(&w, &n);
    expect_fail(b, n, "9e9 channels", "channels");
    free(b);
    stw_begin(&w, "{\"mel2mel\":\"{\\\"arch\\\":\\\"resnet\\\",\\\"ngf\\\":2.5}\"}");
    b = stw_end(&w, &n);
    expect_fail(b, n, "fractional ngf", "ngf");
    free(b);

    /* NaN weight: refused at load, naming the tensor. */
    stw_begin(&w, "{\"mel2mel\":\"{\\\"arch\\\":\\\"gain\\\",\\\"channels\\\":1,"
                  "\\\"dilations\\\":[]}\"}");
    uint32_t s = 3;
    int64_t win[3] = {1, 384, 1}, one[1] = {1}, wo[3] = {128, 1, 1}, bo[1] = {128};
    stw_rand(&w, "mel2mel.conv_in.weight", 3, win, 0.1f, 0, &s);
    stw_rand(&w, "mel2mel.conv_in.bias", 1, one, 0.1f, 0, &s);
    float nanw[128];
    for (int i = 0; i < 128; i++)
        nanw[i] = i == 2 ? NAN : 1.0f;
    stw_f32(&w, "mel2mel.conv_out.weight", 3, wo, nanw);
    stw_f32(&w, "mel2mel.conv_out.bias", 1, bo, nanw);
    b = stw_end(&w, &n);
    expect_fail(b, n, "NaN weight", "mel2mel.conv_out.weight");
    free(b);
}

/* A file whose metadata describes fewer blocks than its tensors hold ("dilations" cut from
 * [1, 2, 4] to [1, 2], padded so the header keeps its length) must be refused, naming a tensor
 * of the block it no longer describes: loaded, it would run as another network (issue 10). */
static void test_metadata_mismatch(const char *name, const char *unused_tensor) {
    char path[256], err[256] = "";
    snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, name);
    size_t n = 0;
    unsigned char *bytes = nnu_read_file(path, &n);
    CHECK(bytes != NULL, "%s: read", name);
    if (!bytes) return;
    static const char from[] = "\\\"dilations\\\": [1, 2, 4]",
                      to[] = "\\\"dilations\\\": [1, 2]   ";
    unsigned char *hit = memmem(bytes, n, from, sizeof from - 1);
    CHECK(hit != NULL, "%s: metadata holds %s", name, from);
    if (hit) {
        memcpy(hit, to, sizeof to - 1);
        st_file *f = st_open_memory(bytes, n, err, sizeof err);
        CHECK(f != NULL, "%s: edited file opens: %s", name, err);
        nn_mel2mel *net = f ? nn_mel2mel_load(f, err, sizeof err) : NULL;
        CHECK(net == NULL, "%s: metadata with 2 of 3 blocks is refused", name);
        CHECK(strstr(err, unused_tensor) != NULL, "%s: message names %s: %s", name, unused_tensor,
              err);
        printf("%s with 2 of 3 blocks described: %s\n", name, err);
        nn_mel2mel_free(net);
        st_close(f);
    }
    free(bytes);
}

/* "nrt" with classical_input: the fifth feature (the classical suppressor's gain, golden.cf)
 * against PyTorch whole, chunked and offline; the output depends on it (NULL reads 0 dB, the same
 * as zeros); models without the input ignore cf. */
static void test_classical_golden(const char *name) {
    golden g;
    if (golden_open(&g, GOLDEN_DIR, name) == 0) {
        const int T = g.T, F = g.F, L = nn_mel2mel_lookahead(g.net);
        const size_t N = (size_t)T * F;
        char err[256] = "";
        int64_t shape[ST_MAX_DIMS] = {T, F};
        const float *cf = st_tensor_f32(g.f, "golden.cf", 2, shape, err, sizeof err);
        shape[0] = 3;
        const float *k = st_tensor_f32(g.f, "golden.strength", 1, shape, err, sizeof err);
        shape[0] = T;
        const float *ys = st_tensor_f32(g.f, "golden.output_strength", 2, shape, err, sizeof err);
        CHECK(cf && k && ys, "%s: golden tensors: %s", name, err);
        CHECK(nn_mel2mel_classical_input(g.net) == 1, "%s: classical input not reported", name);
        CHECK(strstr(nn_mel2mel_describe(g.net), "classical input") != NULL, "%s: describe: %s",
              name, nn_mel2mel_describe(g.net));
        nn_m2m_stream *s = nn_m2m_stream_create(g.net);
        float *y = calloc(N, sizeof *y), *y2 = calloc(N, sizeof *y2),
              *zero = calloc(N, sizeof *zero);
        if (cf && k && ys && s && y && y2 && zero) {
            nn_m2m_stream_process_cf(s, g.in, cf, T, y);
            double e = rel_err(y, g.out, N);
            CHECK(e < 1e-4, "%s vs PyTorch: rel err %.3g", name, e);
            printf("%s (%s): rel err %.2e\n", name, nn_mel2mel_describe(g.net), e);
            /* chunked: the feature travels with its frames */
            nn_m2m_stream_reset(s);
            for (int t = 0, n = 1; t < T; t += n, n = n % 7 + 1) {
                int m = n < T - t ? n : T - t;
                nn_m2m_stream_process_cf(s, g.in + (size_t)t * F, cf + (size_t)t * F, m,
                                         y2 + (size_t)t * F);
            }
            CHECK(rel_err(y2, y, N) <= 1e-6, "%s: chunked differs from whole", name);
            nn_m2m_stream_set_strength(s, k);
            nn_m2m_stream_reset(s);
            nn_m2m_stream_process_cf(s, g.in, cf, T, y2);
            CHECK(rel_err(y2, ys, N) < 1e-4, "%s: strengths vs PyTorch", name);
            const float one[3] = {1.0f, 1.0f, 1.0f};
            nn_m2m_stream_set_strength(s, one);
            /* the feature matters, and NULL is 0 dB */
            nn_m2m_stream_reset(s);
            nn_m2m_stream_process_cf(s, g.in, NULL, T, y2);
            CHECK(rel_err(y2, y, N) > 1e-3, "%s: output does not depend on the feature", name);
            nn_m2m_stream_reset(s);
            nn_m2m_stream_process_cf(s, g.in, zero, T, y);
            CHECK(!memcmp(y, y2, N * sizeof *y), "%s: NULL feature differs from 0 dB", name);
            nn_m2m_stream_reset(s);
            nn_m2m_stream_process(s, g.in, T, y);
            CHECK(!memcmp(y, y2, N * sizeof *y), "%s: process() differs from a NULL feature", name);
            /* offline: aligned by the look-ahead, feature included */
            nn_m2m_offline *o = nn_m2m_offline_create(g.net, T);
            CHECK(o && nn_m2m_offline_process_cf(o, g.in, cf, T, y2) == 0, "%s: offline", name);
            CHECK(rel_err(y2, g.out + (size_t)L * F, (size_t)(T - L) * F) <= 1e-4,
                  "%s: offline with the feature not aligned", name);
            nn_m2m_offline_destroy(o);
        }
        free(y);
        free(y2);
        free(zero);
        nn_m2m_stream_destroy(s);
    }
    golden_close(&g);
    /* a model without the input ignores the feature */
    if (golden_open(&g, GOLDEN_DIR, "nn_m2m_nrt_w.safetensors") == 0) {
        const size_t N = (size_t)g.T * g.F;
        CHECK(nn_mel2mel_classical_input(g.net) == 0, "nrt_w reports a classical input");
        nn_m2m_stream *s = nn_m2m_stream_create(g.net);
        float *y = calloc(N, sizeof *y), *cf = malloc(N * sizeof *cf);
        if (s && y && cf) {
            for (size_t i = 0; i < N; i++)
                cf[i] = -5.0f;
            nn_m2m_stream_process_cf(s, g.in, cf, g.T, y);
            CHECK(!memcmp(y, g.out, N * sizeof *y) || rel_err(y, g.out, N) < 1e-4,
                  "nrt_w: the feature changed a model that does not read it");
        }
        free(y);
        free(cf);
        nn_m2m_stream_destroy(s);
    }
    golden_close(&g);
}

int main(void) {
    test_classical_golden("nn_m2m_nrt_c.safetensors");
    /* the decay cue (train/models.py decay_feature) after the classical input */
    test_classical_golden("nn_m2m_nrt_d.safetensors");
    test_metadata_mismatch("nn_m2m_gain_small.safetensors", "mel2mel.blocks.2.");
    test_resnet_golden(GOLDEN_DIR, "nn_m2m_resnet_small.safetensors");
    test_stream_golden(GOLDEN_DIR, "nn_m2m_gain_small.safetensors");
    test_stream_golden(GOLDEN_DIR, "nn_m2m_gain_b.safetensors");
    test_stream_golden(GOLDEN_DIR, "nn_m2m_nrt_small.safetensors");
    test_stream_golden(GOLDEN_DIR, "nn_m2m_nrt_b.safetensors");
    test_stream_golden(GOLDEN_DIR, "nn_m2m_nrt_w.safetensors");
    test_nrt_golden("nn_m2m_nrt_small.safetensors");
    test_nrt_golden("nn_m2m_nrt_b.safetensors");
    test_nrt_golden("nn_m2m_nrt_w.safetensors");
    test_metadata_mismatch("nn_m2m_nrt_small.safetensors", "mel2mel.blocks.2.");
    /* Full-size parity files are too big to commit: train/golden.py --full DIR makes them. */
    const char *full = getenv("MENHANCE_NN_FULL_GOLDEN");
    if (full && *full) {
        test_resnet_golden(full, "nn_full_resnet.safetensors");
        test_stream_golden(full, "nn_full_nrt.safetensors");
    }
    test_full_size();
    test_malformed();
    return check_summary("test_nn_mel2mel");
}
