/* Unit tests for the CLI's offline reference path (engine/offline.c, dsp/griffinlim.c):
 * sample-exact alignment of the resampling stages (the only place with a delay to remove),
 * the mel -> linear-power least-squares fit, Griffin-Lim of a sine's mel giving the same sine,
 * an impulse resynthesised by Griffin-Lim landing where it was, and the whole path on a
 * stereo 44.1 kHz file (length, channels, pitch).  The tools are not in the engine library,
 * so they are compiled in here. */
#include "tests/check.h"

#include "dsp/griffinlim.c"
#include "engine/offline.c"
#include "engine/vocoder_gate.c"

#include <math.h>
#include <stdlib.h>

enum { SR = 16000 };

static long argmax_abs(const float *x, long n, int stride) {
    long best = 0;
    for (long i = 0; i < n; i++)
        if (fabsf(x[i * stride]) > fabsf(x[best * stride])) best = i;
    return best;
}

/* Frequency (Hz, 2 Hz grid) of the strongest component of x[0], x[stride], ... (n values)
 * between lo and hi (Goertzel). */
static double peak_freq(const float *x, long n, int stride, double rate, double lo, double hi) {
    double best = 0.0, bf = lo;
    for (double f = lo; f <= hi; f += 2.0) {
        double k = 2.0 * cos(2.0 * M_PI * f / rate), s1 = 0.0, s2 = 0.0;
        for (long i = 0; i < n; i++) {
            double s0 = x[i * stride] + k * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        double p = s1 * s1 + s2 * s2 - k * s1 * s2;
        if (p > best) best = p, bf = f;
    }
    return bf;
}

/* The front end of menhance_offline_process: centre-framed log2-mel of x[0..n). */
static float *front_end(const float *x, int n, int *T) {
    stft *st = stft_create(NFFT, HOP);
    mel *mb = mel_create(SR, NFFT, N_MELS, 0.0f, 8000.0f);
    *T = stft_offline_frames(st, n);
    float *power = malloc(sizeof *power * (size_t)*T * BINS);
    float *lm = malloc(sizeof *lm * (size_t)*T * N_MELS);
    stft_power_offline(st, x, n, power);
    for (int t = 0; t < *T; t++)
        mel_log(mb, power + (size_t)t * BINS, lm + (size_t)t * N_MELS);
    free(power);
    stft_destroy(st);
    mel_destroy(mb);
    return lm;
}

static void test_resampling_alignment(void) {
    static const int rates[] = {16000, 22050, 44100, 48000, 96000};
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        const int rate = rates[r], ch = 2;
        const long frames = rate, at = rate / 2 + 7; /* an impulse at 0.5 s + 7 samples */
        float *in = calloc((size_t)frames * ch, sizeof *in);
        float *out = calloc((size_t)frames * ch, sizeof *out);
        in[at * ch] = 1.0f;
        in[at * ch + 1] = 1.0f;
        long n16 = 0;
        float *x = offline_to_model_rate(in, frames, ch, rate, &n16);
        CHECK(x != NULL, "%d Hz: to 16 kHz", rate);
        if (!x) continue;
        CHECK(n16 == (frames * SR + rate - 1) / rate, "%d Hz: %ld samples at 16 kHz", rate, n16);
        double want16 = (double)at * SR / rate;
        long p16 = argmax_abs(x, n16, 1);
        CHECK(fabs((double)p16 - want16) <= 1.0, "%d Hz: impulse at 16 kHz sample %ld (want %.1f)",
              rate, p16, want16);
        CHECK(offline_from_model_rate(x, n16, rate, ch, frames, out) == 0, "%d Hz: back", rate);
        long p = argmax_abs(out, frames, ch), p1 = argmax_abs(out + 1, frames, ch);
        CHECK(labs(p - at) <= 2 && p1 == p, "%d Hz: round trip peak at %ld / %ld (want %ld)", rate,
              p, p1, at);
        if (rate == SR) {
            double d = 0.0;
            for (long i = 0; i < frames * ch; i++)
                d = fmax(d, fabs(out[i] - in[i]));
            CHECK(d < 1e-6, "16 kHz: round trip is the identity (max diff %g)", d);
        }
        free(x);
        free(in);
        free(out);
    }
}

static void test_mel_to_power(void) {
    /* a coloured spectrum: the fit must reproduce its mel (the least-squares objective) */
    enum { T = 3 };
    float power[T * BINS], lm[T * N_MELS], est[T * BINS];
    mel *mb = mel_create(SR, NFFT, N_MELS, 0.0f, 8000.0f);
    for (int t = 0; t < T; t++)
        for (int k = 0; k < BINS; k++)
            power[t * BINS + k] = (float)(1e-2 / (1.0 + k * 0.05) * (1.0 + 0.5 * sin(k * 0.3 + t)));
    for (int t = 0; t < T; t++)
        mel_log(mb, power + t * BINS, lm + t * N_MELS);
    CHECK(griffinlim_mel_to_power(lm, T, N_MELS, est) == 0, "mel_to_power runs");
    double worst = 0.0;
    int negative = 0;
    float back[N_MELS];
    for (int t = 0; t < T; t++) {
        for (int k = 0; k < BINS; k++)
            negative += est[t * BINS + k] < 0.0f;
        mel_apply(mb, est + t * BINS, back);
        for (int b = 0; b < N_MELS; b++)
            worst = fmax(worst, fabs(log2(back[b] + 1e-12) - lm[t * N_MELS + b]));
    }
    CHECK(negative == 0, "linear power is non-negative (%d negative)", negative);
    CHECK(worst < 0.15, "re-applied filterbank matches the mel within %.3f log2 units", worst);
    mel_destroy(mb);
}

static void test_griffinlim_sine(void) {
    static const double freqs[] = {440.0, 1000.0, 3000.0};
    const int n = 2 * SR;
    float *x = malloc(sizeof *x * n), *y = malloc(sizeof *y * n);
    for (size_t i = 0; i < sizeof freqs / sizeof freqs[0]; i++) {
        for (int k = 0; k < n; k++)
            x[k] = (float)(0.5 * sin(2.0 * M_PI * freqs[i] * k / SR));
        int T;
        float *lm = front_end(x, n, &T);
        char err[256];
        CHECK(griffinlim_vocode(lm, T, N_MELS, 32, 7, y, n, NULL, NULL, err, sizeof err) == 0,
              "griffin-lim runs (%s)", err);
        double f = peak_freq(y + SR / 2, SR / 2, 1, SR, 100.0, 7900.0);
        /* the mel band around f is ~2-5 % wide: the fit cannot do better than that */
        CHECK(fabs(f - freqs[i]) <= 0.03 * freqs[i], "sine %.0f Hz comes back at %.0f Hz", freqs[i],
              f);
        double ex = 0.0, ey = 0.0;
        for (int k = SR / 2; k < n - SR / 2; k++)
            ex += (double)x[k] * x[k], ey += (double)y[k] * y[k];
        CHECK(ey > 0.25 * ex && ey < 4.0 * ex, "sine %.0f Hz: level kept (energy ratio %.2f)",
              freqs[i], ey / ex);
        free(lm);
    }
    free(x);
    free(y);
}

/* Mean |log2-mel(GL output) - log2-mel(target)| over bands within 30 dB of the clip's peak
 * (below that, Griffin-Lim's inconsistency floor fills the valleys between harmonics). */
static double mel_error(const float *lm0, const float *y, int n, int T0) {
    int T;
    float *lm = front_end(y, n, &T);
    float top = -1e9f;
    for (int i = 0; i < T0 * N_MELS; i++)
        top = fmaxf(top, lm0[i]);
    double e = 0.0;
    long cnt = 0;
    for (int i = 0; i < T0 * N_MELS && T == T0; i++)
        if (lm0[i] > top - 10.0f) e += fabs(lm[i] - lm0[i]), cnt++;
    free(lm);
    return T == T0 && cnt ? e / cnt : 1e9;
}

/* Griffin-Lim iterations make the spectrogram consistent: the resynthesis' mel approaches the
 * target's as iterations are added. */
static void test_griffinlim_converges(void) {
    const int n = SR;
    float *x = malloc(sizeof *x * n), *y = malloc(sizeof *y * n);
    unsigned st = 5;
    for (int k = 0; k < n; k++) {
        double t = (double)k / SR, env = exp(-fmod(t, 0.25) * 8.0), v = 0.0;
        for (int h = 1; h <= 6; h++)
            v += sin(2.0 * M_PI * 220.0 * h * t) / h;
        x[k] = (float)(0.2 * env * v + 0.002 * ((double)(lcg(&st) >> 8) / 16777216.0 - 0.5));
    }
    int T;
    float *lm0 = front_end(x, n, &T);
    char err[256];
    double e[3];
    static const int iters[3] = {0, 8, 32};
    for (int i = 0; i < 3; i++) {
        griffinlim_vocode(lm0, T, N_MELS, iters[i], 11, y, n, NULL, NULL, err, sizeof err);
        e[i] = mel_error(lm0, y, n, T);
    }
    CHECK(e[1] < e[0] && e[2] < e[1], "mel error falls with iterations: %.3f, %.3f, %.3f log2",
          e[0], e[1], e[2]);
    CHECK(e[2] < 0.4, "32 iterations: mean mel error %.3f log2 units (< 0.4 = 1.2 dB)", e[2]);
    free(lm0);
    free(x);
    free(y);
}

/* Griffin-Lim is centred like the analysis: a click comes back where it was. */
static void test_griffinlim_impulse(void) {
    const int n = SR, at = 8000 + 77;
    float *x = calloc(n, sizeof *x), *y = malloc(sizeof *y * n);
    x[at] = 1.0f;
    int T;
    float *lm = front_end(x, n, &T);
    char err[256];
    CHECK(griffinlim_vocode(lm, T, N_MELS, 64, 3, y, n, NULL, NULL, err, sizeof err) == 0,
          "griffin-lim of an impulse runs");
    long p = argmax_abs(y, n, 1);
    double e = 0.0, c = 0.0;
    for (int k = 0; k < n; k++)
        e += (double)y[k] * y[k], c += (double)k * y[k] * y[k];
    /* Griffin-Lim only estimates the phase (its peak lands within a few ms), but its energy
     * must be centred on the click: a framing error would move it by 256 or 511 samples. */
    CHECK(fabs(c / e - at) <= 24.0, "impulse energy centroid at %.1f (want %d +-24; peak %ld)",
          c / e, at, p);
    free(lm);
    free(x);
    free(y);
}

/* --steps N: respaced schedules are valid for every N and reproduce the training one at N = T. */
static void test_respacing(void) {
    enum { NT = 50 };
    double bt[NT], al[NT], ac[NT];
    float tt[NT];
    for (int t = 0; t < NT; t++)
        bt[t] = 1e-4 + (0.05 - 1e-4) * t / (NT - 1); /* the reference's linspace */
    int bad = 0;
    for (int S = 1; S <= NT; S++) {
        double *b = respaced_betas(bt, NT, S);
        bad += !b || nn_diffwave_schedule(bt, NT, b, S, al, ac, tt) != 0;
        if (b && S == NT) {
            double d = 0.0;
            for (int t = 0; t < NT; t++)
                d = fmax(d, fabs(b[t] - bt[t]));
            CHECK(d < 1e-9, "50 respaced steps are the training schedule (max diff %g)", d);
            CHECK(fabs(tt[NT - 1] - (NT - 1)) < 1e-3 && fabs(tt[0]) < 1e-3,
                  "steps map onto training steps 0..49 (%g..%g)", tt[0], tt[NT - 1]);
        }
        if (b && S == 5)
            CHECK(fabs(tt[4] - (NT - 1)) < 1e-3 && fabs(tt[0] - 9) < 1e-3,
                  "5 steps land on training steps 9..49 (%g..%g)", tt[0], tt[4]);
        free(b);
    }
    CHECK(bad == 0, "every respaced schedule 1..50 is accepted by the sampler (%d refused)", bad);
}

/* The resnet runs in windows: frames only one window covers are that window's output exactly,
 * and crossfaded frames lie between the two windows' outputs. */
static void test_resnet_windows(void) {
    menhance_offline_config cfg = {.mel2mel_path = MENHANCE_SRCDIR
                                   "/tests/golden/nn_m2m_resnet_small.safetensors",
                                   .griffin_lim = 1,
                                   .window = 128,
                                   .overlap = 32};
    char err[256];
    menhance_offline *o = menhance_offline_create(&cfg, err, sizeof err, NULL, 0);
    CHECK(o != NULL, "resnet model loads (%s)", o ? "" : err);
    if (!o) return;
    enum { T = 300, W = 128 };
    float *in = malloc(sizeof *in * T * N_MELS), *out = malloc(sizeof *out * T * N_MELS);
    float *y0 = malloc(sizeof *y0 * W * N_MELS), *y1 = malloc(sizeof *y1 * W * N_MELS);
    for (int t = 0; t < T; t++)
        for (int m = 0; m < N_MELS; m++)
            in[t * N_MELS + m] = (float)(-8.0 + 3.0 * sin(0.05 * t + 0.1 * m) - 0.02 * m);
    span_progress pr = {0};
    CHECK(run_mel2mel(o, in, NULL, T, out, &pr) == 0, "windowed resnet runs");
    nn_m2m_offline *r = nn_m2m_offline_create(o->m2m, W);
    nn_m2m_offline_process(r, in, W, y0);               /* window [0, 128) */
    nn_m2m_offline_process(r, in + 96 * N_MELS, W, y1); /* window [96, 224) */
    int exact = 1, between = 1, moved = 0;
    for (int t = 0; t < 96; t++)
        for (int m = 0; m < N_MELS; m++)
            exact &= out[t * N_MELS + m] == y0[t * N_MELS + m];
    for (int t = 96; t < 128; t++)
        for (int m = 0; m < N_MELS; m++) {
            float a = y0[t * N_MELS + m], b = y1[(t - 96) * N_MELS + m], v = out[t * N_MELS + m];
            between &= v >= fminf(a, b) - 1e-5f && v <= fmaxf(a, b) + 1e-5f;
            moved += fabsf(a - b) > 1e-4f;
        }
    CHECK(exact, "frames of the first window only: that window's output");
    CHECK(between && moved > 0, "overlap frames crossfade the two windows (%d differ)", moved);
    nn_m2m_offline_destroy(r);
    menhance_offline_destroy(o);
    free(in);
    free(out);
    free(y0);
    free(y1);
}

static void test_whole_path(void) {
    const int rate = 44100, ch = 2;
    const long frames = (long)(1.2 * rate);
    float *in = malloc(sizeof *in * frames * ch), *out = malloc(sizeof *out * frames * ch);
    for (long i = 0; i < frames; i++)
        for (int c = 0; c < ch; c++)
            in[i * ch + c] = (float)(0.3 * sin(2.0 * M_PI * 1000.0 * i / rate) * (c ? 0.5 : 1.0));
    menhance_offline_config cfg = {.mel2mel_path = "none", .griffin_lim = 16};
    char err[256], warn[256];
    menhance_offline *o = menhance_offline_create(&cfg, err, sizeof err, warn, sizeof warn);
    CHECK(o != NULL, "menhance_offline_create without Mel2Mel (%s)", o ? "" : err);
    if (!o) return;
    CHECK(strstr(menhance_offline_describe(o), "Griffin-Lim") != NULL, "described: %s",
          menhance_offline_describe(o));
    CHECK(menhance_offline_process(o, in, frames, ch, rate, out, NULL, NULL, err, sizeof err) == 0,
          "menhance_offline_process (%s)", err);
    double f = peak_freq(out + rate / 4 * ch, rate / 2, ch, rate, 100.0, 7900.0);
    int finite = 1;
    double el = 0.0, er = 0.0, elr = 0.0;
    for (long i = 0; i < frames * ch; i++)
        finite &= isfinite(out[i]);
    for (long i = rate / 4; i < frames - rate / 4; i++) {
        el += (double)out[i * ch] * out[i * ch];
        er += (double)out[i * ch + 1] * out[i * ch + 1];
        elr += (double)out[i * ch] * out[i * ch + 1];
    }
    CHECK(finite, "output finite");
    /* R = 0.5 L in: each channel takes the result at its own level, in phase */
    const double lr = 10 * log10((el + 1e-30) / (er + 1e-30)), corr = elr / sqrt(el * er + 1e-30);
    CHECK(fabs(lr - 6.02) < 0.1 && corr > 0.999, "stereo image kept: L-R %.2f dB, correlation %.4f",
          lr, corr);
    CHECK(fabs(f - 1000.0) <= 30.0, "1 kHz at 44.1 kHz stereo comes back at %.0f Hz", f);
    CHECK(menhance_offline_ceiling_gain_db(o) == 0.0, "0.3 peak in: not lowered (%.2f dB)",
          menhance_offline_ceiling_gain_db(o));
    menhance_offline_destroy(o);

    /* A full-scale tone comes out under the live limiter's ceiling (one gain for the clip),
     * unless the caller keeps the peaks. */
    for (long i = 0; i < frames * ch; i++)
        in[i] *= 1.0f / 0.3f;
    for (int keep = 0; keep <= 1; keep++) {
        cfg.keep_peaks = keep;
        o = menhance_offline_create(&cfg, err, sizeof err, NULL, 0);
        CHECK(o && menhance_offline_process(o, in, frames, ch, rate, out, NULL, NULL, err,
                                            sizeof err) == 0,
              "loud tone (%s)", err);
        float peak = 0.0f;
        for (long i = 0; i < frames * ch; i++)
            peak = fmaxf(peak, fabsf(out[i]));
        double g = menhance_offline_ceiling_gain_db(o);
        if (keep)
            CHECK(g == 0.0 && peak > 0.9f, "keep_peaks: gain %.2f dB, peak %.3f", g, peak);
        else
            CHECK(g < 0.0 && peak <= 0.8913f && peak > 0.88f,
                  "ceiling: gain %.2f dB, peak %.4f (want -1 dBFS)", g, peak);
        menhance_offline_destroy(o);
    }
    cfg.keep_peaks = 0;

    /* The whole chain keeps the timing: a click's energy stays centred (Griffin-Lim's
     * tolerance, 24 samples at 16 kHz = 66 at 44.1 kHz). */
    cfg.griffin_lim = 64;
    o = menhance_offline_create(&cfg, err, sizeof err, NULL, 0);
    const long at = 30011;
    memset(in, 0, sizeof *in * frames * ch);
    in[at * ch] = in[at * ch + 1] = 0.8f;
    CHECK(o && menhance_offline_process(o, in, frames, ch, rate, out, NULL, NULL, err,
                                        sizeof err) == 0,
          "menhance_offline_process of a click");
    double e = 0.0, c = 0.0;
    for (long i = 0; i < frames; i++)
        e += (double)out[i * ch] * out[i * ch], c += (double)i * out[i * ch] * out[i * ch];
    CHECK(e > 0.0 && fabs(c / e - at) <= 66.0, "click at 44.1 kHz: energy centroid %.1f (want %ld)",
          c / e, at);
    menhance_offline_destroy(o);

    cfg = (menhance_offline_config){.mel2mel_path = "/nonexistent/model.safetensors"};
    CHECK(menhance_offline_create(&cfg, err, sizeof err, NULL, 0) == NULL &&
              strstr(err, "cannot read"),
          "missing Mel2Mel file refused: %s", err);
    free(in);
    free(out);
}

/* Power of channel c of interleaved x at frequency f (one DFT bin, Hann window). */
static double tone_power(const float *x, long n, int ch, int c, int rate, double f) {
    double re = 0.0, im = 0.0;
    for (long i = 0; i < n; i++) {
        const double w = 0.5 - 0.5 * cos(2.0 * M_PI * i / (n - 1)), a = 2.0 * M_PI * f * i / rate;
        re += w * x[i * ch + c] * cos(a);
        im -= w * x[i * ch + c] * sin(a);
    }
    return re * re + im * im;
}

/* The offline result keeps the band above 8 kHz, each channel its own: a 12 kHz partial comes
 * back (denoised like the live high band: a steady partial loses at most the default 6 dB Max
 * attenuation), at each channel's level. */
static void test_full_band(void) {
    const int rate = 48000, ch = 2;
    const long frames = 2 * rate;
    float *in = malloc(sizeof *in * frames * ch), *out = malloc(sizeof *out * frames * ch);
    for (long i = 0; i < frames; i++) {
        const float s = (float)(0.3 * sin(2.0 * M_PI * 1000.0 * i / rate) +
                                0.05 * sin(2.0 * M_PI * 12000.0 * i / rate));
        in[i * ch] = s;
        in[i * ch + 1] = 0.5f * s;
    }
    menhance_offline_config cfg = {.mel2mel_path = "none", .griffin_lim = 16};
    char err[256];
    menhance_offline *o = menhance_offline_create(&cfg, err, sizeof err, NULL, 0);
    CHECK(o && menhance_offline_process(o, in, frames, ch, rate, out, NULL, NULL, err,
                                        sizeof err) == 0,
          "offline, 48 kHz stereo with a 12 kHz partial (%s)", err);
    if (o) {
        const long a = rate / 2, n = rate;
        for (int c = 0; c < ch; c++) {
            const double gin = tone_power(in + a * ch, n, ch, c, rate, 12000.0),
                         gout = tone_power(out + a * ch, n, ch, c, rate, 12000.0);
            const double d = 10 * log10((gout + 1e-30) / (gin + 1e-30));
            CHECK(d > -7.0 && d < 0.5, "channel %d: 12 kHz partial %.1f dB from the input's", c, d);
        }
    }
    menhance_offline_destroy(o);
    free(in);
    free(out);
}

/* Digital silence stays silent per channel; sound keeps its output within the smear, then a
 * short fade, then exact zeros. */
static void test_digital_silence(void) {
    const int rate = 48000, ch = 2;
    const long frames = rate, a = 10000, b = 20000;
    float *in = calloc((size_t)frames * ch, sizeof *in), *out = malloc(sizeof *out * frames * ch);
    for (long i = a; i < b; i++)
        in[i * ch] = 0.25f;
    for (long i = 0; i < frames * ch; i++)
        out[i] = 1.0f;
    CHECK(keep_digital_silence(in, frames, ch, rate, out) == 0, "runs");
    const long smear = (long)ceil(0.040 * rate), fade = (long)ceil(0.010 * rate);
    int right_zero = 1;
    for (long i = 0; i < frames; i++)
        right_zero &= out[i * ch + 1] == 0.0f;
    CHECK(right_zero, "a silent channel stays exactly silent");
    CHECK(out[a * ch] == 1.0f && out[(b - 1) * ch] == 1.0f && out[(a - smear) * ch] == 1.0f &&
              out[(b - 1 + smear) * ch] == 1.0f,
          "kept within the smear of the sound");
    CHECK(out[(a - smear - fade) * ch] == 0.0f && out[(b - 1 + smear + fade) * ch] == 0.0f &&
              out[0] == 0.0f && out[(frames - 1) * ch] == 0.0f,
          "exactly zero beyond smear + fade");
    float mid = out[(a - smear - fade / 2) * ch];
    CHECK(mid > 0.3f && mid < 0.7f, "faded in between (%g)", mid);
    int monotonic = 1;
    for (long i = a - smear - fade; i < a - smear; i++)
        monotonic &= out[(i + 1) * ch] >= out[i * ch];
    CHECK(monotonic, "the fade rises towards the sound");
    free(in);
    free(out);
}

/* A model file as bytes: 8-byte header length, then the JSON header. */
static st_file *meta_file(const char *gate_json) {
    char header[256], buf[300];
    if (gate_json)
        snprintf(header, sizeof header, "{\"__metadata__\": {\"vocoder_gate\": \"%s\"}}",
                 gate_json);
    else
        snprintf(header, sizeof header, "{\"__metadata__\": {\"format\": \"menhance-1\"}}");
    unsigned long long n = strlen(header);
    for (int i = 0; i < 8; i++)
        buf[i] = (char)(n >> (8 * i));
    memcpy(buf + 8, header, n);
    char err[128];
    return st_open_memory(buf, 8 + n, err, sizeof err);
}

static void test_vocoder_gate(void) {
    static const struct {
        const char *json;
        int passed;
    } cases[] = {{"{\\\"passed\\\": true, \\\"logmel_l1\\\": 1.2}", 1},
                 {"{\\\"passed\\\": false}", 0},
                 {"{\\\"passed\\\": 1}", 0},
                 {"not json", 0},
                 {NULL, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_file *f = meta_file(cases[i].json);
        CHECK(f != NULL, "model bytes %zu open", i);
        CHECK(vocoder_gate_passed(f) == cases[i].passed, "gate %s -> %d",
              cases[i].json ? cases[i].json : "(absent)", cases[i].passed);
        st_close(f);
    }
    CHECK(!vocoder_gate_passed(NULL), "no file: not passed");
    CHECK(!menhance_vocoder_gate_passed(MENHANCE_SRCDIR "/tests/golden/engine_voc.safetensors"),
          "the test vocoder has not passed the gate");
    /* menhance_offline_create falls back to Griffin-Lim for it, with a warning, unless asked. */
    menhance_offline_config cfg = {
        .mel2mel_path = MENHANCE_SRCDIR "/tests/golden/engine_voc.safetensors", .steps = 6};
    char err[512], warn[512];
    menhance_offline *o = menhance_offline_create(&cfg, err, sizeof err, warn, sizeof warn);
    CHECK(o && strstr(menhance_offline_describe(o), "Griffin-Lim") && strstr(warn, "quality gate"),
          "ungated DiffWave -> Griffin-Lim with a warning (%s)", o ? warn : err);
    menhance_offline_destroy(o);
    cfg.experimental_vocoder = 1;
    o = menhance_offline_create(&cfg, err, sizeof err, warn, sizeof warn);
    CHECK(o && strstr(menhance_offline_describe(o), "DiffWave") && !warn[0],
          "--experimental-vocoder runs it (%s)", o ? menhance_offline_describe(o) : err);
    menhance_offline_destroy(o);
    cfg = (menhance_offline_config){
        .mel2mel_path = MENHANCE_SRCDIR "/tests/golden/engine_voc.safetensors", .strict = 1};
    CHECK(menhance_offline_create(&cfg, err, sizeof err, warn, sizeof warn) == NULL &&
              strstr(err, "quality gate"),
          "strict: the fallback is an error (%s)", err);
}

int main(void) {
    test_resampling_alignment();
    test_mel_to_power();
    test_griffinlim_sine();
    test_griffinlim_converges();
    test_griffinlim_impulse();
    test_respacing();
    test_resnet_windows();
    test_whole_path();
    test_full_band();
    test_digital_silence();
    test_vocoder_gate();
    return check_summary("test_cli_offline");
}
