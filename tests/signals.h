/* Test signals and measurements shared by the engine tests (issue 8's "signals that must
 * pass untouched" and issue 11's level-safety cases), and a helper that runs a mono signal
 * through an engine and returns it aligned (latency removed). */
#ifndef MENHANCE_TESTS_SIGNALS_H
#define MENHANCE_TESTS_SIGNALS_H
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/menhance.h"

static unsigned long long sig_rng_ = 0x9E3779B97F4A7C15ull;
static inline double sig_gauss(void) {
    double u[2];
    for (int i = 0; i < 2; i++) {
        sig_rng_ ^= sig_rng_ << 13, sig_rng_ ^= sig_rng_ >> 7, sig_rng_ ^= sig_rng_ << 17;
        u[i] = ((sig_rng_ >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(2 * M_PI * u[1]);
}

typedef enum {
    SIG_SINE440,  /* -15 dBFS RMS steady sine */
    SIG_SINE100,  /* same at 100 Hz */
    SIG_SAW,      /* band-limited 220 Hz sawtooth, peak 0.58 */
    SIG_ORGAN,    /* C3 E3 G3 C4, 8 harmonics each: beating partials (654/659 Hz, ...) */
    SIG_HARMONIC, /* 110 Hz, 40 harmonics at 1/sqrt(h) */
    SIG_SNARE,    /* noise hits (40 ms decay) every 0.5 s over -40 dBFS white hiss */
    SIG_COUNT
} sig_kind;
static const char *const sig_names[] = {"440 Hz sine", "100 Hz sine",   "sawtooth",
                                        "organ chord", "harmonic tone", "snare over hiss"};

/* Attacks of SIG_SNARE: at 0.25 s + k * 0.5 s. */
#define SIG_SNARE_FIRST 0.25
#define SIG_SNARE_PERIOD 0.5

static inline float *sig_make(sig_kind k, int rate, int n) {
    float *x = malloc(sizeof(float) * n);
    static const double organ[] = {130.81, 164.81, 196.0, 261.63};
    for (int i = 0; i < n; i++) {
        double t = (double)i / rate, v = 0;
        switch (k) {
        case SIG_SINE440:
            v = 0.25 * sin(2 * M_PI * 440 * t);
            break;
        case SIG_SINE100:
            v = 0.25 * sin(2 * M_PI * 100 * t);
            break;
        case SIG_SAW:
            for (int h = 1; h * 220 < rate / 2; h++)
                v += 0.5 * (2 / M_PI) * (h % 2 ? 1 : -1) / h * sin(2 * M_PI * 220 * h * t);
            break;
        case SIG_ORGAN:
            for (int j = 0; j < 4; j++)
                for (int h = 1; h <= 8; h++)
                    v += 0.05 / h * sin(2 * M_PI * organ[j] * h * t + j * h);
            break;
        case SIG_HARMONIC:
            for (int h = 1; h <= 40 && h * 110 < rate / 2; h++)
                v += 0.12 / sqrt(h) * sin(2 * M_PI * 110 * h * t + h * h);
            break;
        default: {
            double ph = fmod(t, SIG_SNARE_PERIOD);
            v = 0.01 * sig_gauss();
            if (ph >= SIG_SNARE_FIRST)
                v += 0.15 * sig_gauss() * exp(-(ph - SIG_SNARE_FIRST) / 0.04);
        }
        }
        x[i] = (float)v;
    }
    return x;
}

static inline double sig_energy(const float *x, int a, int b) {
    double s = 0;
    for (int i = a; i < b; i++)
        s += (double)x[i] * x[i];
    return s;
}

static inline double sig_level_db(const float *x, int a, int b) {
    return 10 * log10(sig_energy(x, a, b) / (b - a) + 1e-30);
}

/* Power of x at frequency f over [a, b) (single-bin DFT). */
static inline double sig_tone_power(const float *x, int a, int b, double f, int rate) {
    double c = 0, s = 0;
    for (int i = a; i < b; i++) {
        c += x[i] * cos(2 * M_PI * f * i / rate);
        s += x[i] * sin(2 * M_PI * f * i / rate);
    }
    return (c * c + s * s) / ((double)(b - a) * (b - a));
}

/* True peak by 8x windowed-sinc interpolation over +-32 samples (finer than any 4x meter). */
static inline double sig_true_peak(const float *x, int n) {
    static double c[8][64];
    if (c[1][0] == 0.0)
        for (int p = 1; p < 8; p++)
            for (int t = 0; t < 64; t++) {
                double u = (t - 31) - p / 8.0;
                c[p][t] = sin(M_PI * u) / (M_PI * u) * (0.5 + 0.5 * cos(M_PI * u / 33.0));
            }
    double pk = 0;
    for (int i = 0; i < n; i++) {
        pk = fmax(pk, fabs(x[i]));
        if (i < 31 || i + 32 >= n) continue;
        for (int p = 1; p < 8; p++) {
            double s = 0;
            for (int t = 0; t < 64; t++)
                s += x[i - 31 + t] * c[p][t];
            pk = fmax(pk, fabs(s));
        }
    }
    return pk;
}

/* Runs mono x (n samples at `rate`) through a fresh synchronous engine (model may be NULL;
 * the engine takes it) in blocks of `block`, after menhance_prime over x when prime is set.
 * Returns n output samples aligned with the input (latency removed), or NULL. */
static inline float *sig_run(int rate, const menhance_params *p, menhance_model *model,
                             const float *x, int n, int block, int prime) {
    menhance_config cfg = {rate, 1, block, block, 0};
    char err[256];
    menhance *e = menhance_create(&cfg, model, err, sizeof err);
    if (!e) return NULL;
    menhance_set_params(e, p);
    if (prime) {
        const float *in[1] = {x};
        if (menhance_prime(e, in, n) != 0) {
            menhance_destroy(e);
            return NULL;
        }
    }
    int L = menhance_latency(e), total = n + L;
    float *buf = calloc((size_t)total, sizeof(float)), *y = calloc((size_t)total, sizeof(float));
    memcpy(buf, x, sizeof(float) * n);
    for (int pos = 0; pos < total; pos += block) {
        int b = total - pos < block ? total - pos : block;
        const float *in[1] = {buf + pos};
        float *out[1] = {y + pos};
        menhance_process(e, in, out, b);
    }
    memmove(y, y + L, sizeof(float) * n);
    free(buf);
    menhance_destroy(e);
    return y;
}

/* Pre-echo of SIG_SNARE output y against input x: dB by which the output/input energy ratio
 * in the 30 ms before each attack exceeds that ratio in the hiss 100-200 ms before it, and
 * (in *vs_input) the pre-attack output energy over the input's.  Attacks from first_s on. */
static inline double sig_pre_echo(const float *x, const float *y, int n, int rate, double first_s,
                                  double *vs_input) {
    double pi = 0, po = 0, bi = 0, bo = 0;
    for (double ta = first_s; ta < (double)n / rate - 0.3; ta += SIG_SNARE_PERIOD) {
        int a = (int)(ta * rate + 0.5);
        pi += sig_energy(x, a - rate * 3 / 100, a);
        po += sig_energy(y, a - rate * 3 / 100, a);
        bi += sig_energy(x, a - rate / 5, a - rate / 10);
        bo += sig_energy(y, a - rate / 5, a - rate / 10);
    }
    *vs_input = 10 * log10(po / pi);
    return 10 * log10(po / pi) - 10 * log10(bo / bi);
}
#endif
