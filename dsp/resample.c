/* speexdsp resampler behind a small real-time-safe wrapper.
 *
 * Timing convention (verified sample-exactly by tests/test_resample.c): speex keeps
 * filt_len - 1 zeros of history in front of the first input sample and centres its
 * windowed-sinc filter half a filter length into that buffer, so output sample j is the
 * band-limited input evaluated at input time j * in_rate / out_rate - filt_len / 2.  We do
 * NOT call speex_resampler_skip_zeros: skipping would shift the first output forward in
 * time and make the delay depend on how much input had arrived, whereas without it the
 * delay is the constant speex_resampler_get_input_latency() = filt_len / 2 input samples and
 * output count tracks input count at the rate ratio from the very first call.
 *
 * Equal rates bypass speex entirely (a copy, zero delay): its filter would only add latency
 * and a gentle low-pass at 0.975 * Nyquist. */
#include "dsp/resample.h"

#include <math.h>
#include <speex/speex_resampler.h>
#include <stdlib.h>
#include <string.h>

struct resampler {
    SpeexResamplerState *st; /* NULL when in_rate == out_rate */
    int in_rate, out_rate, delay;
};

resampler *resampler_create(int in_rate, int out_rate, int quality) {
    if (in_rate <= 0 || out_rate <= 0 || quality < 0 || quality > 10) return NULL;
    resampler *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->in_rate = in_rate;
    r->out_rate = out_rate;
    if (in_rate != out_rate) {
        int err = 0;
        r->st =
            speex_resampler_init(1, (spx_uint32_t)in_rate, (spx_uint32_t)out_rate, quality, &err);
        if (!r->st || err != RESAMPLER_ERR_SUCCESS) {
            if (r->st) speex_resampler_destroy(r->st);
            free(r);
            return NULL;
        }
        r->delay = speex_resampler_get_input_latency(r->st);
    }
    return r;
}

void resampler_destroy(resampler *r) {
    if (!r) return;
    if (r->st) speex_resampler_destroy(r->st);
    free(r);
}

void resampler_process(resampler *r, const float *in, int *in_len, float *out, int *out_len) {
    if (*in_len < 0) *in_len = 0;
    if (*out_len < 0) *out_len = 0;
    if (!r->st) {
        int n = *in_len < *out_len ? *in_len : *out_len;
        memmove(out, in, sizeof(float) * (size_t)n);
        *in_len = *out_len = n;
        return;
    }
    spx_uint32_t il = (spx_uint32_t)*in_len, ol = (spx_uint32_t)*out_len;
    speex_resampler_process_float(r->st, 0, in, &il, out, &ol);
    *in_len = (int)il;
    *out_len = (int)ol;
}

int resampler_delay(const resampler *r) {
    return r->delay;
}

int resampler_in_rate(const resampler *r) {
    return r->in_rate;
}
int resampler_out_rate(const resampler *r) {
    return r->out_rate;
}

int resampler_integer_pad(const resampler *r) {
    /* (delay + e) * out_rate must be a multiple of in_rate: e steps of in_rate / gcd. */
    long a = r->in_rate, b = r->out_rate;
    while (b) {
        long t = a % b;
        a = b;
        b = t;
    }
    long step = r->in_rate / a, rem = r->delay % step;
    return rem ? (int)(step - rem) : 0;
}

void resampler_reset(resampler *r) {
    if (r->st) speex_resampler_reset_mem(r->st);
}

int resampler_power_response(int in_rate, int out_rate, int quality, int n_fft, int first_bin,
                             float *H) {
    if (in_rate <= 0 || out_rate <= 0 || n_fft < 16 || n_fft > 4096 || first_bin < 1) return -1;
    const int rate = in_rate;
    const int N = n_fft, nb = N / 2 + 1, n_in = rate * 6 / 10, frames = 4;
    const int out_cap = (int)((long long)n_in * out_rate / rate) + 64;
    const int at = out_cap - 64 - frames * N - N / 2; /* well after the filter's transient */
    float *x = malloc(sizeof(float) * n_in), *y = malloc(sizeof(float) * out_cap);
    double *v = malloc(sizeof(double) * N), *P = malloc(sizeof(double) * nb);
    resampler *r = NULL;
    int rc = -1;
    if (!x || !y || !v || !P || at < out_cap / 3) goto done;
    for (int k = 0; k < nb; k++)
        H[k] = 1.0f;
    for (int parity = 0; parity < 2; parity++) {
        for (int i = 0; i < n_in; i++)
            x[i] = 0.0f;
        for (int k = first_bin + parity; k < nb; k += 2) {
            /* cos(w i + ph) by the Chebyshev recurrence (double: exact enough over a second) */
            const double w = 2.0 * M_PI * k * out_rate / N / rate, ph = 0.7 * k, c2 = 2.0 * cos(w);
            double y1 = cos(ph - w), y0 = cos(ph);
            for (int i = 0; i < n_in; i++) {
                x[i] += (float)(0.01 * y0);
                double yn = c2 * y0 - y1;
                y1 = y0;
                y0 = yn;
            }
        }
        r = resampler_create(rate, out_rate, quality);
        if (!r) goto done;
        int in_len = n_in, out_len = out_cap;
        resampler_process(r, x, &in_len, y, &out_len);
        resampler_destroy(r);
        r = NULL;
        if (out_len < at + frames * N) goto done;
        for (int k = 0; k < nb; k++)
            P[k] = 0.0;
        for (int f = 0; f < frames; f++) {
            for (int t = 0; t < N; t++)
                v[t] = y[at + f * N + t] * (0.5 - 0.5 * cos(2.0 * M_PI * t / N));
            for (int k = first_bin + parity; k < nb; k += 2) {
                /* Goertzel: |sum v[t] e^{-i 2 pi k t / N}|^2 */
                const double cw = cos(2.0 * M_PI * k / N), coef = 2.0 * cw;
                double s1 = 0, s2 = 0;
                for (int t = 0; t < N; t++) {
                    double s0 = v[t] + coef * s1 - s2;
                    s2 = s1;
                    s1 = s0;
                }
                P[k] += (s1 * s1 + s2 * s2 - coef * s1 * s2) / frames;
            }
        }
        const double ref = (0.01 * N / 4) * (0.01 * N / 4);
        for (int k = first_bin + parity; k < nb; k += 2)
            H[k] = (float)(P[k] / ref);
    }
    rc = 0;
done:
    resampler_destroy(r);
    free(x);
    free(y);
    free(v);
    free(P);
    return rc;
}
