/* Streaming STFT with exact reconstruction for any n_fft/hop pair, including the reference's
 * odd 1023/256.  The synthesis window is ws[n] = w[n] / norm[n mod hop], where norm[k] sums
 * w^2 over every window position congruent to k modulo hop: each output sample receives
 * w*ws from exactly that set of positions, so the overlap-add of w*ws is 1 everywhere even
 * though hop does not divide n_fft.
 *
 * The transforms are complex-to-complex FFTW plans even though the signal is real: for
 * the odd size 1023 = 3 * 11 * 31, FFTW's r2c/c2r plans go through its generic
 * real-data odd-factor solvers, which malloc a buffer inside fftwf_execute (RealtimeSanitizer
 * caught it: tests/rtsan_dsp.c), while the complex plan (Cooley-Tukey down to a stack-
 * buffered generic 31-point DFT) allocates nothing and is just as fast here (~9 us either
 * way, the real-data generic path gains nothing).  The offline path packs two real frames
 * into one complex transform to make up for it.
 *
 * Plans use FFTW_ESTIMATE: MEASURE was measured no faster (8.7 vs 9.6 us), takes time at
 * instantiate and may pick a different (possibly allocating) algorithm from run to run;
 * ESTIMATE gives the same plan, hence bit-identical output, on every run on a machine.
 * The planner is made thread safe (fftwf_make_planner_thread_safe, libfftw3f_threads)
 * because a host may instantiate several plugins, ours or others using FFTW, from
 * different threads. */
#include "dsp/stft.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct stft {
    int n_fft, hop, bins;
    float *win;          /* analysis window, n_fft */
    float *swin;         /* synthesis window / n_fft (FFTW's inverse is unnormalised) */
    float *inbuf;        /* the newest n_fft input samples */
    float *olabuf;       /* overlap-add accumulator; olabuf[0] is the next sample to emit */
    fftwf_complex *time; /* FFT time-domain buffer, n_fft */
    fftwf_complex *spec; /* FFT frequency-domain buffer, n_fft */
    fftwf_plan fwd, inv;
};

stft *stft_create(int n_fft, int hop) {
    if (n_fft < 2 || hop < 1 || hop > n_fft) return NULL;
    stft *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->n_fft = n_fft;
    s->hop = hop;
    s->bins = n_fft / 2 + 1;
    s->win = fftwf_alloc_real((size_t)n_fft);
    s->swin = fftwf_alloc_real((size_t)n_fft);
    s->inbuf = fftwf_alloc_real((size_t)n_fft);
    s->olabuf = fftwf_alloc_real((size_t)n_fft);
    s->time = fftwf_alloc_complex((size_t)n_fft);
    s->spec = fftwf_alloc_complex((size_t)n_fft);
    double *norm = calloc((size_t)hop, sizeof *norm);
    if (!s->win || !s->swin || !s->inbuf || !s->olabuf || !s->time || !s->spec || !norm) {
        free(norm);
        stft_destroy(s);
        return NULL;
    }
    for (int n = 0; n < n_fft; n++) {
        double w = 0.5 - 0.5 * cos(2.0 * M_PI * n / n_fft);
        s->win[n] = (float)w;
        norm[n % hop] += w * w;
    }
    for (int n = 0; n < n_fft; n++) {
        double d = norm[n % hop];
        /* d == 0 only if hop > n_fft would leave gaps, which create rejects; keep it safe. */
        s->swin[n] = d > 0 ? (float)(s->win[n] / d / n_fft) : 0.0f;
    }
    free(norm);

    fftwf_make_planner_thread_safe();
    s->fwd = fftwf_plan_dft_1d(n_fft, s->time, s->spec, FFTW_FORWARD, FFTW_ESTIMATE);
    s->inv = fftwf_plan_dft_1d(n_fft, s->spec, s->time, FFTW_BACKWARD, FFTW_ESTIMATE);
    if (!s->fwd || !s->inv) {
        stft_destroy(s);
        return NULL;
    }
    stft_reset(s);
    return s;
}

void stft_destroy(stft *s) {
    if (!s) return;
    if (s->fwd) fftwf_destroy_plan(s->fwd);
    if (s->inv) fftwf_destroy_plan(s->inv);
    fftwf_free(s->win);
    fftwf_free(s->swin);
    fftwf_free(s->inbuf);
    fftwf_free(s->olabuf);
    fftwf_free(s->time);
    fftwf_free(s->spec);
    free(s);
}

int stft_bins(const stft *s) {
    return s->bins;
}
int stft_hop(const stft *s) {
    return s->hop;
}
int stft_nfft(const stft *s) {
    return s->n_fft;
}
int stft_latency(const stft *s) {
    return s->n_fft - s->hop;
}
const float *stft_window(const stft *s) {
    return s->win;
}

void stft_reset(stft *s) {
    memset(s->inbuf, 0, sizeof(float) * (size_t)s->n_fft);
    memset(s->olabuf, 0, sizeof(float) * (size_t)s->n_fft);
}

void stft_analyze(stft *s, const float *in, float *re, float *im) {
    int keep = s->n_fft - s->hop;
    memmove(s->inbuf, s->inbuf + s->hop, sizeof(float) * (size_t)keep);
    memcpy(s->inbuf + keep, in, sizeof(float) * (size_t)s->hop);
    for (int n = 0; n < s->n_fft; n++) {
        s->time[n][0] = s->inbuf[n] * s->win[n];
        s->time[n][1] = 0.0f;
    }
    fftwf_execute(s->fwd);
    for (int k = 0; k < s->bins; k++) {
        re[k] = s->spec[k][0];
        im[k] = s->spec[k][1];
    }
}

void stft_synthesize(stft *s, const float *re, const float *im, float *out) {
    int n_fft = s->n_fft;
    for (int k = 0; k < s->bins; k++) {
        s->spec[k][0] = re[k];
        s->spec[k][1] = im[k];
    }
    /* Hermitian completion, as c2r would assume: the imaginary parts of DC (and of Nyquist
     * for even n_fft) cannot exist in a real signal's spectrum and are dropped. */
    s->spec[0][1] = 0.0f;
    if (n_fft % 2 == 0) s->spec[n_fft / 2][1] = 0.0f;
    for (int k = 1; k < s->bins; k++) {
        if (n_fft - k < s->bins) break;
        s->spec[n_fft - k][0] = re[k];
        s->spec[n_fft - k][1] = -im[k];
    }
    fftwf_execute(s->inv);
    for (int n = 0; n < n_fft; n++)
        s->olabuf[n] += s->time[n][0] * s->swin[n];
    /* Once this frame is in, the first hop samples can receive nothing more: the next frame
     * starts hop samples later. */
    memcpy(out, s->olabuf, sizeof(float) * (size_t)s->hop);
    int keep = n_fft - s->hop;
    memmove(s->olabuf, s->olabuf + s->hop, sizeof(float) * (size_t)keep);
    memset(s->olabuf + keep, 0, sizeof(float) * (size_t)s->hop);
}

int stft_offline_frames(const stft *s, int n) {
    int pad = s->n_fft / 2;
    if (n <= pad) return 0;
    return 1 + (n + 2 * pad - s->n_fft) / s->hop;
}

/* Reflect without repeating the edge sample, like numpy/torch "reflect". */
static float reflect(const float *x, int n, int j) {
    if (j < 0) j = -j;
    if (j >= n) j = 2 * (n - 1) - j;
    return x[j];
}

int stft_power_offline(stft *s, const float *x, int n, float *power) {
    int pad = s->n_fft / 2, n_fft = s->n_fft, frames = stft_offline_frames(s, n);
    /* Two real frames per complex transform: frame a in the real part, frame b in the
     * imaginary part; with Z = FFT(a + i b), A[k] = (Z[k] + conj Z[-k]) / 2 and
     * B[k] = (Z[k] - conj Z[-k]) / 2i. */
    for (int f = 0; f < frames; f += 2) {
        int two = f + 1 < frames;
        int sa = f * s->hop - pad, sb = sa + s->hop;
        for (int i = 0; i < n_fft; i++) {
            s->time[i][0] = reflect(x, n, sa + i) * s->win[i];
            s->time[i][1] = two ? reflect(x, n, sb + i) * s->win[i] : 0.0f;
        }
        fftwf_execute(s->fwd);
        float *pa = power + (size_t)f * (size_t)s->bins, *pb = pa + s->bins;
        for (int k = 0; k < s->bins; k++) {
            int m = k ? n_fft - k : 0;
            float zr = s->spec[k][0], zi = s->spec[k][1];
            float cr = s->spec[m][0], ci = -s->spec[m][1]; /* conj Z[-k] */
            float ar = 0.5f * (zr + cr), ai = 0.5f * (zi + ci);
            pa[k] = ar * ar + ai * ai;
            if (two) {
                float br = 0.5f * (zi - ci), bi = -0.5f * (zr - cr);
                pb[k] = br * br + bi * bi;
            }
        }
    }
    return frames;
}
