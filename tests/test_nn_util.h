/* Test/bench helpers: builds safetensors files in memory (random-weight Mel2Mel models with
 * the PyTorch twin's tensor names) and reads whole files. */
#ifndef MENHANCE_TESTS_NN_UTIL_H
#define MENHANCE_TESTS_NN_UTIL_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/safetensors.h"

typedef struct {
    char *json; /* header JSON under construction */
    size_t jlen, jcap;
    unsigned char *data;
    size_t dlen, dcap;
} stw;

static inline void stw_json(stw *w, const char *s) {
    size_t n = strlen(s);
    if (w->jlen + n + 1 > w->jcap) {
        w->jcap = (w->jlen + n + 1) * 2;
        w->json = realloc(w->json, w->jcap);
    }
    memcpy(w->json + w->jlen, s, n + 1);
    w->jlen += n;
}

static inline void stw_begin(stw *w, const char *metadata_json_object) {
    memset(w, 0, sizeof *w);
    stw_json(w, "{");
    if (metadata_json_object) {
        stw_json(w, "\"__metadata__\":");
        stw_json(w, metadata_json_object);
    }
}

/* Adds a tensor with raw bytes (dtype given by name, nbytes of data). */
static inline void stw_raw(stw *w, const char *name, const char *dtype, int ndim,
                           const int64_t *shape, const void *bytes, size_t nbytes) {
    char buf[512];
    int p = snprintf(buf, sizeof buf, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                     w->jlen > 1 ? "," : "", name, dtype);
    for (int i = 0; i < ndim; i++)
        p += snprintf(buf + p, sizeof buf - (size_t)p, i ? ",%lld" : "%lld", (long long)shape[i]);
    snprintf(buf + p, sizeof buf - (size_t)p, "],\"data_offsets\":[%zu,%zu]}", w->dlen,
             w->dlen + nbytes);
    stw_json(w, buf);
    if (w->dlen + nbytes > w->dcap) {
        w->dcap = (w->dlen + nbytes) * 2 + 64;
        w->data = realloc(w->data, w->dcap);
    }
    if (nbytes) memcpy(w->data + w->dlen, bytes, nbytes);
    w->dlen += nbytes;
}

static inline void stw_f32(stw *w, const char *name, int ndim, const int64_t *shape,
                           const float *v) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    stw_raw(w, name, "F32", ndim, shape, v, n * 4);
}

/* Finishes: returns the file bytes (caller frees) and its size. */
static inline unsigned char *stw_end(stw *w, size_t *size) {
    stw_json(w, "}");
    while (w->jlen % 8)
        stw_json(w, " ");
    *size = 8 + w->jlen + w->dlen;
    unsigned char *out = malloc(*size);
    uint64_t h = w->jlen;
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)(h >> (8 * i));
    memcpy(out + 8, w->json, w->jlen);
    if (w->dlen) memcpy(out + 8 + w->jlen, w->data, w->dlen);
    free(w->json);
    free(w->data);
    return out;
}

static inline float nnu_rand(uint32_t *s) { /* uniform in [-1, 1) */
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) * (1.0 / 8388608.0)) - 1.0f;
}

/* Adds a random tensor scaled by `scale`. */
static inline void stw_rand(stw *w, const char *name, int ndim, const int64_t *shape, float scale,
                            float offset, uint32_t *seed) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = offset + scale * nnu_rand(seed);
    stw_f32(w, name, ndim, shape, v);
    free(v);
}

static inline void stw_conv(stw *w, const char *name, int cout, int cin, int kh, int kw,
                            uint32_t *s) {
    char n[160];
    int64_t ws[4] = {cout, cin, kh, kw}, bs[1] = {cout};
    snprintf(n, sizeof n, "mel2mel.%s.weight", name);
    stw_rand(w, n, 4, ws, 1.7f / sqrtf((float)(cin * kh * kw)), 0, s);
    snprintf(n, sizeof n, "mel2mel.%s.bias", name);
    stw_rand(w, n, 1, bs, 0.1f, 0, s);
}

static inline void stw_convt(stw *w, const char *name, int cin, int cout, int kh, int kw,
                             uint32_t *s) {
    char n[160];
    int64_t ws[4] = {cin, cout, kh, kw}, bs[1] = {cout};
    snprintf(n, sizeof n, "mel2mel.%s.weight", name);
    stw_rand(w, n, 4, ws, 1.7f / sqrtf((float)cin), 0, s);
    snprintf(n, sizeof n, "mel2mel.%s.bias", name);
    stw_rand(w, n, 1, bs, 0.1f, 0, s);
}

static inline void stw_norm(stw *w, const char *name, int c, uint32_t *s) {
    char n[160];
    int64_t bs[1] = {c};
    snprintf(n, sizeof n, "mel2mel.%s.weight", name);
    stw_rand(w, n, 1, bs, 0.2f, 1.0f, s);
    snprintf(n, sizeof n, "mel2mel.%s.bias", name);
    stw_rand(w, n, 1, bs, 0.2f, 0, s);
}

/* A random-weight reference ResNet (n_mels 128) as a model file in memory. */
static inline unsigned char *nnu_resnet_file(int ngf, int n_blocks, int n_down, size_t *size) {
    stw w;
    char meta[512], name[64];
    snprintf(meta, sizeof meta,
             "{\"mel2mel\":\"{\\\"arch\\\":\\\"resnet\\\",\\\"ngf\\\":%d,\\\"n_blocks\\\":%d,"
             "\\\"n_down\\\":%d}\"}",
             ngf, n_blocks, n_down);
    stw_begin(&w, meta);
    uint32_t s = 1234;
    stw_conv(&w, "conv_in", ngf, 1, 7, 7, &s);
    for (int i = 0; i < n_down; i++) {
        snprintf(name, sizeof name, "down.%d", i);
        stw_conv(&w, name, ngf << (i + 1), ngf << i, 3, 3, &s);
    }
    for (int j = 0; j < n_blocks; j++)
        for (int k = 1; k <= 2; k++) {
            snprintf(name, sizeof name, "blocks.%d.conv%d", j, k);
            stw_conv(&w, name, ngf << n_down, ngf << n_down, 3, 3, &s);
        }
    for (int i = 0; i < n_down; i++) {
        snprintf(name, sizeof name, "up.%d", i);
        stw_convt(&w, name, ngf << (n_down - i), ngf << (n_down - i - 1), 3, 3, &s);
    }
    stw_conv(&w, "conv_out", 1, ngf, 7, 7, &s);
    return stw_end(&w, size);
}

/* A random-weight streaming model (n_mels 128, relu, kt 3). */
/* A random-weight "gain" Mel2Mel (n_mels 128, kt 3) as a model file in memory. */
static inline unsigned char *nnu_gain_file(int C, const int *dil, int nblk, int lookahead,
                                           size_t *size) {
    stw w;
    char meta[1024], hp[768], name[96];
    int p = snprintf(hp, sizeof hp,
                     "{\\\"arch\\\":\\\"gain\\\",\\\"lookahead\\\":%d,"
                     "\\\"channels\\\":%d,\\\"dilations\\\":[",
                     lookahead, C);
    for (int i = 0; i < nblk; i++)
        p += snprintf(hp + p, sizeof hp - (size_t)p, i ? ",%d" : "%d", dil[i]);
    snprintf(hp + p, sizeof hp - (size_t)p, "]}");
    snprintf(meta, sizeof meta, "{\"mel2mel\":\"%s\"}", hp);
    stw_begin(&w, meta);
    uint32_t s = 1234;
    const int F = 128;
    int64_t win[3] = {C, 3 * F, 1}, wc[3] = {C, C, 3}, wp[3] = {C, C, 1}, wo[3] = {F, C, 1},
            bc[1] = {C}, bo[1] = {F};
    stw_rand(&w, "mel2mel.conv_in.weight", 3, win, 1.0f / sqrtf(3.0f * F), 0, &s);
    stw_rand(&w, "mel2mel.conv_in.bias", 1, bc, 0.1f, 0, &s);
    for (int b = 0; b < nblk; b++) {
        snprintf(name, sizeof name, "mel2mel.blocks.%d.conv.weight", b);
        stw_rand(&w, name, 3, wc, 1.0f / sqrtf(3.0f * C), 0, &s);
        snprintf(name, sizeof name, "mel2mel.blocks.%d.conv.bias", b);
        stw_rand(&w, name, 1, bc, 0.1f, 0, &s);
        snprintf(name, sizeof name, "mel2mel.blocks.%d.proj.weight", b);
        stw_rand(&w, name, 3, wp, 1.0f / sqrtf((float)C), 0, &s);
        snprintf(name, sizeof name, "mel2mel.blocks.%d.proj.bias", b);
        stw_rand(&w, name, 1, bc, 0.1f, 0, &s);
    }
    stw_rand(&w, "mel2mel.conv_out.weight", 3, wo, 1.0f / sqrtf((float)C), 0, &s);
    stw_rand(&w, "mel2mel.conv_out.bias", 1, bo, 0.1f, 0, &s);
    return stw_end(&w, size);
}

/* The retired causal U-Net ("stream") as a model file in memory: the loader must refuse it. */
static inline unsigned char *nnu_stream_file(const int *ch, int nlev, const int *dil, int nblk,
                                             int lookahead, size_t *size) {
    stw w;
    char meta[1024], hp[768], name[64];
    int p = snprintf(hp, sizeof hp,
                     "{\\\"arch\\\":\\\"stream\\\",\\\"lookahead\\\":%d,"
                     "\\\"channels\\\":[",
                     lookahead);
    for (int i = 0; i < nlev; i++)
        p += snprintf(hp + p, sizeof hp - (size_t)p, i ? ",%d" : "%d", ch[i]);
    p += snprintf(hp + p, sizeof hp - (size_t)p, "],\\\"dilations\\\":[");
    for (int i = 0; i < nblk; i++)
        p += snprintf(hp + p, sizeof hp - (size_t)p, i ? ",%d" : "%d", dil[i]);
    snprintf(hp + p, sizeof hp - (size_t)p, "]}");
    snprintf(meta, sizeof meta, "{\"mel2mel\":\"%s\"}", hp);
    stw_begin(&w, meta);
    uint32_t s = 4321;
    const int D = nlev - 1;
    stw_conv(&w, "conv_in.conv", ch[0], 1, 3, 3, &s);
    stw_norm(&w, "conv_in.norm", ch[0], &s);
    for (int i = 0; i < D; i++) {
        snprintf(name, sizeof name, "down.%d.conv", i);
        stw_conv(&w, name, ch[i + 1], ch[i], 3, 3, &s);
        snprintf(name, sizeof name, "down.%d.norm", i);
        stw_norm(&w, name, ch[i + 1], &s);
    }
    for (int j = 0; j < nblk; j++)
        for (int k = 1; k <= 2; k++) {
            snprintf(name, sizeof name, "blocks.%d.conv%d", j, k);
            stw_conv(&w, name, ch[D], ch[D], 3, 3, &s);
            snprintf(name, sizeof name, "blocks.%d.norm%d", j, k);
            stw_norm(&w, name, ch[D], &s);
        }
    for (int i = 0; i < D; i++) {
        snprintf(name, sizeof name, "up.%d.conv", i);
        stw_convt(&w, name, ch[D - i], ch[D - i - 1], 1, 4, &s);
        snprintf(name, sizeof name, "up.%d.norm", i);
        stw_norm(&w, name, ch[D - i - 1], &s);
    }
    stw_conv(&w, "conv_out", 1, ch[0], 1, 1, &s);
    return stw_end(&w, size);
}

static inline unsigned char *nnu_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    *size = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}
#endif
