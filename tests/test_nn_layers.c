/* nn/layers against direct textbook loops (PyTorch semantics, NCHW weights): convolution
 * with strides, dilations, zero/reflect padding and ring-buffer input, transposed convolution,
 * linear, instance/frame norms and activations. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layers.h"
#include "tests/check.h"

static uint32_t seed = 1;
static float frand(void) {
    seed = seed * 1664525u + 1013904223u;
    return (float)((seed >> 8) * (1.0 / 8388608.0)) - 1.0f;
}
static float *rnd(size_t n) {
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = frand();
    return v;
}
static double max_err(const float *a, const double *b, size_t n) {
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= e)) e = d;
    }
    return e;
}

static int reflect(int i, int n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

/* Direct conv on x[H][W][cin] (channel-last) with PyTorch weights w[cout][cin][kh][kw]. */
static void conv_ref(const layers_conv *c, const float *w, const float *b, const float *x, int H,
                     int W, double *y, int Ho, int Wo) {
    for (int oh = 0; oh < Ho; oh++)
        for (int ow = 0; ow < Wo; ow++)
            for (int o = 0; o < c->cout; o++) {
                double s = b ? b[o] : 0;
                for (int i = 0; i < c->cin; i++)
                    for (int a = 0; a < c->kh; a++)
                        for (int bb = 0; bb < c->kw; bb++) {
                            int ih = oh * c->sh + a * c->dh - c->ph;
                            int iw = ow * c->sw + bb * c->dw - c->pw;
                            if (ih < 0 || ih >= H) {
                                if (c->padh == LAYERS_PAD_ZERO) continue;
                                ih = reflect(ih, H);
                            }
                            if (iw < 0 || iw >= W) {
                                if (c->padw == LAYERS_PAD_ZERO) continue;
                                iw = reflect(iw, W);
                            }
                            s += (double)w[((o * c->cin + i) * c->kh + a) * c->kw + bb] *
                                 x[((size_t)ih * W + iw) * c->cin + i];
                        }
                y[((size_t)oh * Wo + ow) * c->cout + o] = s;
            }
}

static void test_conv(layers_conv c, int H, int W, const char *what) {
    int K = c.kh * c.kw * c.cin;
    float *w = rnd((size_t)c.cout * K), *b = rnd((size_t)c.cout), *x = rnd((size_t)H * W * c.cin);
    int Ho = layers_conv_out_len(H, c.kh, c.sh, c.dh, c.ph);
    int Wo = layers_conv_out_len(W, c.kw, c.sw, c.dw, c.pw);
    CHECK(layers_conv_init(&c, w, b) == 0, "init");
    float *y = calloc((size_t)Ho * Wo * c.cout, sizeof *y);
    double *r = calloc((size_t)Ho * Wo * c.cout, sizeof *r);
    float *work = malloc(layers_conv_work(&c) * sizeof *work);
    layers_conv_forward(&c, x, 0, H, H, W, y, Ho, Wo, work);
    conv_ref(&c, w, b, x, H, W, r, Ho, Wo);
    double e = max_err(y, r, (size_t)Ho * Wo * c.cout);
    CHECK(e < 1e-4, "%s: conv max err %.3g", what, e);

    /* The same input held in a ring starting at row 3 of a 2H-row buffer (wrapping). */
    int cap = H + 5;
    float *ring = calloc((size_t)cap * W * c.cin, sizeof *ring);
    for (int h = 0; h < H; h++)
        memcpy(ring + (size_t)((3 + h) % cap) * W * c.cin, x + (size_t)h * W * c.cin,
               (size_t)W * c.cin * sizeof *x);
    float *y2 = calloc((size_t)Ho * Wo * c.cout, sizeof *y2);
    layers_conv_forward(&c, ring, 3, cap, H, W, y2, Ho, Wo, work);
    CHECK(!memcmp(y, y2, (size_t)Ho * Wo * c.cout * sizeof *y), "%s: ring input differs", what);
    layers_conv_free(&c);
    free(w), free(b), free(x), free(y), free(y2), free(r), free(work), free(ring);
}

static void test_convt(layers_convt c, int H, int W, const char *what) {
    float *w = rnd((size_t)c.cin * c.cout * c.kh * c.kw), *b = rnd((size_t)c.cout);
    float *x = rnd((size_t)H * W * c.cin);
    int Ho = layers_convt_out_len(H, c.kh, c.sh, c.ph, c.oph);
    int Wo = layers_convt_out_len(W, c.kw, c.sw, c.pw, c.opw);
    CHECK(layers_convt_init(&c, w, b) == 0, "init");
    float *y = calloc((size_t)Ho * Wo * c.cout, sizeof *y);
    double *r = calloc((size_t)Ho * Wo * c.cout, sizeof *r);
    float *work = malloc(layers_convt_work(&c) * sizeof *work);
    layers_convt_forward(&c, x, H, W, y, Ho, Wo, work);
    /* PyTorch: y[o][ih*s - p + a][iw*s - p + b] += x[i][ih][iw] * w[i][o][a][b] */
    for (size_t k = 0; k < (size_t)Ho * Wo; k++)
        for (int o = 0; o < c.cout; o++)
            r[k * c.cout + o] = b[o];
    for (int ih = 0; ih < H; ih++)
        for (int iw = 0; iw < W; iw++)
            for (int i = 0; i < c.cin; i++)
                for (int o = 0; o < c.cout; o++)
                    for (int a = 0; a < c.kh; a++)
                        for (int bb = 0; bb < c.kw; bb++) {
                            int oh = ih * c.sh - c.ph + a, ow = iw * c.sw - c.pw + bb;
                            if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                            r[((size_t)oh * Wo + ow) * c.cout + o] +=
                                (double)x[((size_t)ih * W + iw) * c.cin + i] *
                                w[((i * c.cout + o) * c.kh + a) * c.kw + bb];
                        }
    double e = max_err(y, r, (size_t)Ho * Wo * c.cout);
    CHECK(e < 1e-4, "%s: convt max err %.3g (%dx%d -> %dx%d)", what, e, H, W, Ho, Wo);
    layers_convt_free(&c);
    free(w), free(b), free(x), free(y), free(r), free(work);
}

static void test_norms_acts(void) {
    const int npos = 300, C = 5;
    float *x = rnd((size_t)npos * C), *y = malloc(sizeof(float) * npos * C);
    for (int i = 0; i < npos * C; i++)
        x[i] = 3.0f * x[i] + 10.0f + (float)(i % C);
    memcpy(y, x, sizeof(float) * npos * C);
    double scratch[2 * 5];
    layers_instance_norm(y, npos, C, 1e-5f, scratch);
    int ok = 1;
    for (int c = 0; c < C; c++) {
        double m = 0, v = 0;
        for (int p = 0; p < npos; p++)
            m += y[p * C + c];
        m /= npos;
        for (int p = 0; p < npos; p++)
            v += (y[p * C + c] - m) * (y[p * C + c] - m);
        v /= npos;
        ok &= fabs(m) < 1e-5 && fabs(v - 1) < 1e-4;
    }
    CHECK(ok, "instance norm: per-channel mean 0, variance 1");

    /* Frame norm: 3 frames of 20 positions x 5 channels; check against formula. */
    const int F = 20, T = 3;
    float g[5] = {1, 2, -1, 0.5f, 0}, bb[5] = {0, 1, 2, 3, -1};
    for (int relu = 0; relu <= 1; relu++) {
        memcpy(y, x, sizeof(float) * T * F * C);
        layers_frame_norm(y, T, F, C, g, bb, 1e-5f, relu);
        double e = 0;
        for (int t = 0; t < T; t++) {
            const float *v = x + (size_t)t * F * C;
            double m = 0, var = 0;
            for (int i = 0; i < F * C; i++)
                m += v[i];
            m /= F * C;
            for (int i = 0; i < F * C; i++)
                var += (v[i] - m) * (v[i] - m);
            var /= F * C;
            for (int i = 0; i < F * C; i++) {
                double r = (v[i] - m) / sqrt(var + 1e-5) * g[i % C] + bb[i % C];
                if (relu && r < 0) r = 0;
                e = fmax(e, fabs(r - y[(size_t)t * F * C + i]));
            }
        }
        CHECK(e < 1e-5, "frame norm (relu %d) max err %.3g", relu, e);
    }

    float v[6] = {-2, -0.5f, 0, 0.5f, 2, 30}, t[6];
    struct {
        layers_act_kind k;
        const char *name;
    } kinds[] = {{LAYERS_ACT_RELU, "relu"},       {LAYERS_ACT_LEAKY_RELU, "leaky_relu"},
                 {LAYERS_ACT_SILU, "silu"},       {LAYERS_ACT_TANH, "tanh"},
                 {LAYERS_ACT_SIGMOID, "sigmoid"}, {LAYERS_ACT_NONE, "none"}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        memcpy(t, v, sizeof v);
        layers_act(t, 6, kinds[k].k, 0.2f);
        double e = 0;
        for (int i = 0; i < 6; i++) {
            double a = v[i], r = a;
            switch (kinds[k].k) {
            case LAYERS_ACT_RELU:
                r = a > 0 ? a : 0;
                break;
            case LAYERS_ACT_LEAKY_RELU:
                r = a > 0 ? a : 0.2 * a;
                break;
            case LAYERS_ACT_SILU:
                r = a / (1 + exp(-a));
                break;
            case LAYERS_ACT_TANH:
                r = tanh(a);
                break;
            case LAYERS_ACT_SIGMOID:
                r = 1 / (1 + exp(-a));
                break;
            case LAYERS_ACT_NONE:
                break;
            }
            e = fmax(e, fabs(r - t[i]));
        }
        CHECK(e < 1e-6, "%s max err %.3g", kinds[k].name, e);
        CHECK(layers_act_parse(kinds[k].name) == (int)kinds[k].k, "parse %s", kinds[k].name);
    }
    CHECK(layers_act_parse("gelu") == -1, "unknown activation parsed");

    /* Linear: y = x W^T + b. */
    float *W = rnd(7 * 4), *B = rnd(7), *X = rnd(3 * 4), Y[21];
    layers_linear(W, B, 4, 7, X, 3, Y);
    double e = 0;
    for (int n = 0; n < 3; n++)
        for (int o = 0; o < 7; o++) {
            double s = B[o];
            for (int i = 0; i < 4; i++)
                s += (double)X[n * 4 + i] * W[o * 4 + i];
            e = fmax(e, fabs(s - Y[n * 7 + o]));
        }
    CHECK(e < 1e-5, "linear max err %.3g", e);
    free(W), free(B), free(X), free(x), free(y);
}

int main(void) {
    /* cin, cout, kh, kw, sh, sw, dh, dw, ph, pw, padh, padw */
    test_conv((layers_conv){3, 5, 7, 7, 1, 1, 1, 1, 3, 3, LAYERS_PAD_REFLECT, LAYERS_PAD_REFLECT,
                            NULL, NULL},
              9, 12, "7x7 reflect");
    test_conv(
        (layers_conv){4, 6, 3, 3, 2, 2, 1, 1, 1, 1, LAYERS_PAD_ZERO, LAYERS_PAD_ZERO, NULL, NULL},
        9, 16, "3x3 stride 2 zero");
    test_conv(
        (layers_conv){4, 6, 3, 3, 1, 2, 1, 1, 0, 1, LAYERS_PAD_ZERO, LAYERS_PAD_ZERO, NULL, NULL},
        6, 16, "causal freq stride 2");
    test_conv((layers_conv){5, 3, 3, 3, 1, 1, 4, 2, 0, 2, LAYERS_PAD_ZERO, LAYERS_PAD_REFLECT, NULL,
                            NULL},
              12, 10, "dilated 4x2 mixed padding");
    test_conv((layers_conv){2, 2, 3, 3, 1, 1, 1, 1, 1, 1, LAYERS_PAD_REFLECT, LAYERS_PAD_REFLECT,
                            NULL, NULL},
              1, 2, "reflect on a 1-row map");
    test_conv(
        (layers_conv){300, 2, 1, 1, 1, 1, 1, 1, 0, 0, LAYERS_PAD_ZERO, LAYERS_PAD_ZERO, NULL, NULL},
        20, 20, "1x1, several tiles");
    /* cin, cout, kh, kw, sh, sw, ph, pw, oph, opw */
    test_convt((layers_convt){6, 4, 3, 3, 2, 2, 1, 1, 1, 1, NULL, NULL}, 5, 8, "3x3 s2 op1");
    test_convt((layers_convt){6, 4, 1, 4, 1, 2, 0, 1, 0, 0, NULL, NULL}, 3, 16, "1x4 freq s2");
    test_convt((layers_convt){3, 2, 3, 3, 2, 2, 1, 1, 1, 1, NULL, NULL}, 19, 20, "several tiles");
    test_norms_acts();
    return check_summary("test_nn_layers");
}
