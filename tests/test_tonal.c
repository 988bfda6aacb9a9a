/* Stationarity detector: noise bins read as noise, steady partials (also beating, decaying,
 * with vibrato, or after an attack) read as tonal, and a fresh detector starts tonal. */
#include "dsp/stft.h"
#include "dsp/tonal.h"
#include "tests/check.h"

#include <math.h>
#include <stdlib.h>

#define NFFT 1023
#define HOP 256
#define BINS 512
#define RATE 16000.0

static unsigned long long rs = 88172645463325252ull;
static double gauss(void) {
    double u[2];
    for (int i = 0; i < 2; i++) {
        rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
        u[i] = ((rs >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(2 * M_PI * u[1]);
}

typedef double (*signal_fn)(double t);

/* Runs `seconds` of signal + white noise (std `noise`) through STFT and detector; returns the
 * weights of the last frame and, in *noise_share, the share of bin-frames after 1 s whose
 * weight is over 0.5. */
static void run(signal_fn f, double noise, double seconds, float *w, double *over) {
    stft *s = stft_create(NFFT, HOP);
    tonal *t = tonal_create(BINS, (float)(RATE / HOP));
    float in[HOP], re[BINS], im[BINS], p[BINS];
    long n = 0, cnt = 0, hi = 0;
    int frames = (int)(seconds * RATE / HOP);
    for (int fr = 0; fr < frames; fr++) {
        for (int i = 0; i < HOP; i++, n++)
            in[i] = (float)((f ? f(n / RATE) : 0.0) + noise * gauss());
        stft_analyze(s, in, re, im);
        for (int k = 0; k < BINS; k++)
            p[k] = re[k] * re[k] + im[k] * im[k];
        tonal_process(t, p, w);
        if (fr * HOP >= RATE)
            for (int k = 1; k < BINS - 1; k++)
                cnt++, hi += w[k] > 0.5f;
    }
    if (over) *over = (double)hi / (double)cnt;
    stft_destroy(s);
    tonal_destroy(t);
}

static double tone440(double t) {
    return 0.01 * sin(2 * M_PI * 440 * t);
}
/* C3 x 5 and E3 x 4: 654.1 and 659.3 Hz, beating at 5 Hz through nulls. */
static double beating(double t) {
    return 0.1 * sin(2 * M_PI * 654.06 * t) + 0.1 * sin(2 * M_PI * 659.26 * t + 1.0);
}
static double vibrato(double t) {
    return 0.1 * sin(2 * M_PI * 440 * t + 1.0 * sin(2 * M_PI * 5 * t)); /* +-5 Hz */
}
/* A plucked note every second: attack, then 10 dB/s decay. */
static double plucked(double t) {
    double ph = fmod(t, 1.0);
    return 0.3 * pow(10, -0.5 * ph) * sin(2 * M_PI * 330 * t) * (ph > 0.002 ? 1 : ph / 0.002);
}

int main(void) {
    float w[BINS];
    double over;
    run(NULL, 0.01, 4.0, w, &over);
    CHECK(over < 0.005, "white noise: %.3f%% of bin-frames read tonal", 100 * over);
    printf("white noise: %.3f%% of bin-frames over 0.5 tonal\n", 100 * over);
    /* 440 Hz at bin 28.1; the noise is std 0.01 (a tone of 0.01 is 22 dB over it per bin). */
    run(tone440, 0.01, 3.0, w, &over);
    CHECK(w[28] == 1.0f && w[27] == 1.0f && w[29] == 1.0f, "steady tone bins %.2f %.2f %.2f", w[27],
          w[28], w[29]);
    CHECK(w[100] < 0.5f && w[300] < 0.5f, "noise away from the tone %.2f %.2f", w[100], w[300]);
    run(beating, 0.001, 3.0, w, NULL);
    CHECK(w[41] == 1.0f && w[42] == 1.0f, "beating partials at bins 41-42: %.2f %.2f", w[41],
          w[42]);
    run(vibrato, 0.001, 3.0, w, NULL);
    CHECK(w[28] == 1.0f, "vibrato +-5 Hz: centre bin %.2f", w[28]);
    /* Sampled 0.5 s after the 4th attack: neither the attacks nor the decay read as noise. */
    run(plucked, 0.001, 3.5, w, NULL);
    CHECK(w[21] == 1.0f, "plucked, decaying note: bin 21 at %.2f", w[21]);
    /* Fresh: everything tonal (not known to be noise); after reset_noise, noise-like. */
    tonal *t = tonal_create(BINS, (float)(RATE / HOP));
    float p[BINS];
    for (int k = 0; k < BINS; k++)
        p[k] = 1.0f + (float)(k % 7);
    tonal_process(t, p, w);
    CHECK(w[10] == 1.0f && w[300] == 1.0f, "fresh detector: %.2f %.2f", w[10], w[300]);
    tonal_reset_noise(t);
    tonal_process(t, p, w);
    CHECK(w[10] == 0.0f && w[300] == 0.0f, "reset to noise-like: %.2f %.2f", w[10], w[300]);
    /* Hostile powers: NaN, negative, huge; weights stay in [0, 1]. */
    for (int k = 0; k < BINS; k++)
        p[k] = k % 3 == 0 ? NAN : (k % 3 == 1 ? -1.0f : 1e38f);
    int ok = 1;
    for (int r = 0; r < 20; r++) {
        tonal_process(t, p, w);
        for (int k = 0; k < BINS; k++)
            ok &= w[k] >= 0.0f && w[k] <= 1.0f;
    }
    CHECK(ok, "weights left [0, 1] on hostile input");
    tonal_destroy(t);
    CHECK(tonal_create(0, 62.5f) == NULL && tonal_create(8, NAN) == NULL, "bad arguments refused");
    return check_summary("test_tonal");
}
