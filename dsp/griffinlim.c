/* Griffin-Lim from log2-mels (see griffinlim.h). */
#include "dsp/griffinlim.h"

#include "dsp/mel.h"

/* complex.h first: fftwf_complex is then C99's float complex */
#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    GL_NFFT = GRIFFINLIM_NFFT,
    GL_HOP = GRIFFINLIM_HOP,
    GL_BINS = GL_NFFT / 2 + 1,
    GL_PAD = GL_NFFT / 2,
    GL_NNLS_ITERS = 60,
};

/* librosa's default: heavy momentum converges in far fewer iterations than plain GL. */
#define GL_MOMENTUM 0.99f

static void gl_set_err(char *err, size_t len, const char *fmt, ...) {
    if (!err || !len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* Nonzero bin range of each triangular filter: the filterbank is sparse (each bin lies in at
 * most two filters), so products with it cost O(bins), not O(bins * bands). */
typedef struct {
    int lo, hi;
} span;

static void filter_spans(const float *F, int M, span *sp) {
    for (int b = 0; b < M; b++) {
        int lo = GL_BINS, hi = 0;
        for (int k = 0; k < GL_BINS; k++)
            if (F[(size_t)b * GL_BINS + k] > 0.0f) {
                if (k < lo) lo = k;
                hi = k + 1;
            }
        sp[b].lo = lo < hi ? lo : 0;
        sp[b].hi = lo < hi ? hi : 0;
    }
}

static void mel_forward(const float *F, const span *sp, int M, const float *p, double *y) {
    for (int b = 0; b < M; b++) {
        double s = 0.0;
        for (int k = sp[b].lo; k < sp[b].hi; k++)
            s += (double)F[(size_t)b * GL_BINS + k] * p[k];
        y[b] = s;
    }
}

static void mel_transpose(const float *F, const span *sp, int M, const double *y, double *x) {
    for (int k = 0; k < GL_BINS; k++)
        x[k] = 0.0;
    for (int b = 0; b < M; b++)
        for (int k = sp[b].lo; k < sp[b].hi; k++)
            x[k] += (double)F[(size_t)b * GL_BINS + k] * y[b];
}

int griffinlim_mel_to_power(const float *logmel, int T, int n_mels, float *power) {
    if (T < 1 || n_mels < 1) return -1;
    mel *mb = mel_create(GRIFFINLIM_RATE, GL_NFFT, n_mels, 0.0f, GRIFFINLIM_RATE / 2.0f);
    span *sp = malloc(sizeof *sp * (size_t)n_mels);
    double *y = malloc(sizeof *y * (size_t)n_mels), *fy = malloc(sizeof *fy * (size_t)n_mels);
    double *num = malloc(sizeof *num * GL_BINS), *den = malloc(sizeof *den * GL_BINS);
    double *colsum = malloc(sizeof *colsum * GL_BINS), *wb = malloc(sizeof *wb * (size_t)n_mels);
    int rc = -1;
    if (!mb || !sp || !y || !fy || !num || !den || !colsum || !wb || mel_bins(mb) != GL_BINS)
        goto done;
    const float *F = mel_filters(mb);
    filter_spans(F, n_mels, sp);
    for (int b = 0; b < n_mels; b++) {
        wb[b] = 0.0;
        for (int k = sp[b].lo; k < sp[b].hi; k++)
            wb[b] += F[(size_t)b * GL_BINS + k];
    }
    for (int b = 0; b < n_mels; b++)
        y[b] = 1.0;
    mel_transpose(F, sp, n_mels, y, colsum);

    for (int t = 0; t < T; t++) {
        float *p = power + (size_t)t * GL_BINS;
        /* the floor stands for "nothing here": it must not become a noise floor */
        for (int b = 0; b < n_mels; b++) {
            float l = logmel[(size_t)t * n_mels + b];
            y[b] = l > log2f(MEL_LOG_FLOOR) + 1e-3f ? exp2(l) : 0.0;
        }
        /* Start from each bin's filter-weighted mean of its bands' per-bin power (exact for
         * a flat spectrum), then refine by Lee-Seung multiplicative updates, which keep
         * p >= 0 and decrease ||F p - y||^2 monotonically. */
        for (int b = 0; b < n_mels; b++)
            fy[b] = wb[b] > 0.0 ? y[b] / wb[b] : 0.0;
        mel_transpose(F, sp, n_mels, fy, num);
        for (int k = 0; k < GL_BINS; k++)
            p[k] = colsum[k] > 0.0 ? (float)(num[k] / colsum[k]) : 0.0f;
        mel_transpose(F, sp, n_mels, y, num); /* F^T y */
        for (int it = 0; it < GL_NNLS_ITERS; it++) {
            mel_forward(F, sp, n_mels, p, fy);
            mel_transpose(F, sp, n_mels, fy, den); /* F^T F p */
            for (int k = 0; k < GL_BINS; k++)
                if (den[k] > 0.0) p[k] = (float)(p[k] * num[k] / (den[k] + 1e-30));
        }
    }
    rc = 0;
done:
    mel_destroy(mb);
    free(sp);
    free(y);
    free(fy);
    free(num);
    free(den);
    free(colsum);
    free(wb);
    return rc;
}

/* Centre-framed STFT / least-squares inverse on a signal of N = T * GL_HOP samples. */
typedef struct {
    int T;
    long N;
    float win[GL_NFFT];
    float *frame;        /* GL_NFFT */
    fftwf_complex *spec; /* GL_BINS */
    fftwf_plan fwd, inv;
    float *padded, *wsum; /* N + 2 * GL_PAD */
} gl_stft;

static void gl_stft_free(gl_stft *s) {
    if (s->fwd) fftwf_destroy_plan(s->fwd);
    if (s->inv) fftwf_destroy_plan(s->inv);
    fftwf_free(s->frame);
    fftwf_free(s->spec);
    free(s->padded);
    free(s->wsum);
}

static int gl_stft_init(gl_stft *s, int T) {
    memset(s, 0, sizeof *s);
    s->T = T;
    s->N = (long)T * GL_HOP;
    for (int i = 0; i < GL_NFFT; i++)
        s->win[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * i / GL_NFFT)); /* periodic Hann */
    s->frame = fftwf_malloc(sizeof(float) * GL_NFFT);
    s->spec = fftwf_malloc(sizeof(fftwf_complex) * GL_BINS);
    s->padded = malloc(sizeof(float) * (size_t)(s->N + 2 * GL_PAD));
    s->wsum = calloc((size_t)(s->N + 2 * GL_PAD), sizeof(float));
    if (!s->frame || !s->spec || !s->padded || !s->wsum) return -1;
    s->fwd = fftwf_plan_dft_r2c_1d(GL_NFFT, s->frame, s->spec, FFTW_ESTIMATE);
    s->inv = fftwf_plan_dft_c2r_1d(GL_NFFT, s->spec, s->frame, FFTW_ESTIMATE);
    if (!s->fwd || !s->inv) return -1;
    for (int f = 0; f < T; f++)
        for (int i = 0; i < GL_NFFT; i++)
            s->wsum[(size_t)f * GL_HOP + i] += s->win[i] * s->win[i];
    return 0;
}

/* x[0..N) -> X[T][GL_BINS], reflect padding as torch.stft(center=True). */
static void gl_stft_forward(gl_stft *s, const float *x, float complex *X) {
    const long N = s->N;
    for (long i = 0; i < N + 2 * GL_PAD; i++) {
        long j = i - GL_PAD;
        if (j < 0) j = -j;
        if (j >= N) j = 2 * N - 2 - j;
        s->padded[i] = x[j];
    }
    for (int f = 0; f < s->T; f++) {
        const float *src = s->padded + (size_t)f * GL_HOP;
        for (int i = 0; i < GL_NFFT; i++)
            s->frame[i] = src[i] * s->win[i];
        fftwf_execute(s->fwd);
        for (int k = 0; k < GL_BINS; k++)
            X[(size_t)f * GL_BINS + k] = s->spec[k];
    }
}

/* X[T][GL_BINS] -> x[0..N): windowed overlap-add divided by the summed squared window, the
 * least-squares signal whose STFT is closest to X (torch.istft). */
static void gl_stft_inverse(gl_stft *s, const float complex *X, float *x) {
    memset(s->padded, 0, sizeof(float) * (size_t)(s->N + 2 * GL_PAD));
    for (int f = 0; f < s->T; f++) {
        for (int k = 0; k < GL_BINS; k++) {
            s->spec[k] = X[(size_t)f * GL_BINS + k];
        }
        fftwf_execute(s->inv);
        float *dst = s->padded + (size_t)f * GL_HOP;
        for (int i = 0; i < GL_NFFT; i++)
            dst[i] += s->frame[i] * s->win[i] * (1.0f / GL_NFFT);
    }
    for (long i = 0; i < s->N; i++) {
        float w = s->wsum[i + GL_PAD];
        x[i] = w > 1e-8f ? s->padded[i + GL_PAD] / w : 0.0f;
    }
}

static unsigned lcg(unsigned *st) {
    *st = *st * 1664525u + 1013904223u;
    return *st;
}

int griffinlim_vocode(const float *logmel, int T, int n_mels, int iters, unsigned seed, float *out,
                      long n, griffinlim_progress_fn fn, void *user, char *err, size_t errlen) {
    if (T < 2 || n_mels < 1 || iters < 0 || n < 0 || n > (long)T * GL_HOP) {
        gl_set_err(err, errlen, "griffin-lim: bad sizes (%d frames, %ld samples)", T, n);
        return -1;
    }
    gl_stft s;
    int rc = -1;
    const size_t cells = (size_t)T * GL_BINS;
    float *mag = malloc(sizeof *mag * cells), *x = malloc(sizeof *x * (size_t)T * GL_HOP);
    float complex *ang = malloc(sizeof *ang * cells), *reb = malloc(sizeof *reb * cells);
    float complex *prev = malloc(sizeof *prev * cells);
    if (gl_stft_init(&s, T) != 0 || !mag || !x || !ang || !reb || !prev) {
        gl_set_err(err, errlen, "griffin-lim: out of memory");
        goto done;
    }
    if (griffinlim_mel_to_power(logmel, T, n_mels, mag) != 0) {
        gl_set_err(err, errlen, "griffin-lim: bad mel filterbank");
        goto done;
    }
    for (size_t i = 0; i < cells; i++)
        mag[i] = sqrtf(mag[i]);
    unsigned st = seed ? seed : 1;
    for (size_t i = 0; i < cells; i++) {
        float ph = (float)(2.0 * M_PI * (lcg(&st) >> 8) / 16777216.0);
        ang[i] = cosf(ph) + I * sinf(ph);
        reb[i] = 0.0f;
    }
    const float mom = GL_MOMENTUM / (1.0f + GL_MOMENTUM);
    for (int it = 0; it < iters; it++) {
        for (size_t i = 0; i < cells; i++)
            prev[i] = mag[i] * ang[i];
        gl_stft_inverse(&s, prev, x);
        float complex *t = prev;
        prev = reb; /* the previous rebuilt spectrogram */
        reb = t;
        gl_stft_forward(&s, x, reb);
        for (size_t i = 0; i < cells; i++) {
            float complex a = reb[i] - (it ? mom * prev[i] : 0.0f);
            float m = cabsf(a);
            ang[i] = m > 1e-16f ? a / m : 1.0f;
        }
        if (fn) fn(user, (double)(it + 1) / (iters + 1));
    }
    for (size_t i = 0; i < cells; i++)
        reb[i] = mag[i] * ang[i];
    gl_stft_inverse(&s, reb, x);
    memcpy(out, x, sizeof *out * (size_t)n);
    if (fn) fn(user, 1.0);
    rc = 0;
done:
    gl_stft_free(&s);
    free(mag);
    free(x);
    free(ang);
    free(reb);
    free(prev);
    return rc;
}
