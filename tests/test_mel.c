/* Mel front end against the float64 numpy reference (scripts/golden_mel.py): the offline C
 * path stft_power_offline + mel_log must match the reference log2-mel, and the filterbank
 * must have torchaudio's shape.  Also checks mel_gains_to_bins. */
#include "dsp/mel.h"
#include "dsp/stft.h"
#include "tests/check.h"
#include "tests/golden/mel_golden.h"

#include <math.h>
#include <stdlib.h>

static void test_filters(const mel *m) {
    int nm = mel_bands(m), nb = mel_bins(m);
    CHECK(nm == 128 && nb == 512, "sizes %d x %d", nm, nb);
    const float *fb = mel_filters(m);
    int prev_peak = -1, mono = 1, le1 = 1;
    double row_err = 0, col_err = 0;
    for (int b = 0; b < nm; b++) {
        int peak = 0;
        double sum = 0;
        for (int k = 0; k < nb; k++) {
            float w = fb[b * nb + k];
            le1 &= w >= 0.0f && w <= 1.0f;
            if (w > fb[b * nb + peak]) peak = k;
            sum += w;
        }
        mono &= peak >= prev_peak; /* the lowest filters are narrower than a bin */
        prev_peak = peak;
        row_err = fmax(row_err, fabs(sum - golden_fb_rowsum[b]));
    }
    for (int k = 0; k < nb; k++) {
        double sum = 0;
        for (int b = 0; b < nm; b++)
            sum += fb[b * nb + k];
        col_err = fmax(col_err, fabs(sum - golden_fb_colsum[k]));
    }
    CHECK(mono, "filter peaks not monotonic");
    CHECK(le1, "filter weights outside [0, 1]");
    CHECK(row_err < 1e-5, "filter sums differ from torchaudio formula by %g", row_err);
    CHECK(col_err < 1e-5, "bin sums differ from torchaudio formula by %g", col_err);
    /* The top bin sits on the last filter's edge: zero up to mel<->Hz rounding (torchaudio's
     * own float32 matrix has the same ~1e-14 residue there). */
    CHECK(fb[(nm - 1) * nb + nb - 1] < 1e-6f && fb[0] == 0.0f, "outer edges are zero");
    /* Triangles overlap half-way: interior bins carry total weight 1 (up to the linspace
     * grid's rounding), so mel power is an energy-preserving regrouping. */
    double mid = 0;
    for (int k = 0; k < nm; k++)
        mid += fb[k * nb + 300];
    CHECK(fabs(mid - 1.0) < 1e-5, "interior bin weight sum %g", mid);
}

static void test_golden(const mel *m) {
    stft *s = stft_create(1023, 256);
    int frames = stft_offline_frames(s, GOLDEN_N);
    CHECK(frames == GOLDEN_FRAMES, "frames %d vs golden %d", frames, GOLDEN_FRAMES);
    float *p = malloc(sizeof(float) * (size_t)frames * 512);
    float logmel[128];
    CHECK(stft_power_offline(s, golden_x, GOLDEN_N, p) == frames, "power frames");
    double maxerr = 0;
    int worst = -1, floored = 0;
    for (int f = 0; f < frames && f < GOLDEN_FRAMES; f++) {
        mel_log(m, p + f * 512, logmel);
        for (int b = 0; b < 128; b++) {
            double e = fabs(logmel[b] - golden_logmel[f * 128 + b]);
            if (e > maxerr) maxerr = e, worst = f * 128 + b;
            floored += logmel[b] == log2f(MEL_LOG_FLOOR);
        }
    }
    printf("log-mel vs float64 reference: max abs error %.3g (log2 units) at %d, %d floored\n",
           maxerr, worst, floored);
    CHECK(maxerr < 1e-3, "log-mel error %g at index %d", maxerr, worst);
    CHECK(floored > 0, "the golden signal should reach the floor");
    free(p);
    stft_destroy(s);
}

static void test_gains(const mel *m) {
    float g[128], bins[512];
    for (int b = 0; b < 128; b++)
        g[b] = 0.37f;
    mel_gains_to_bins(m, g, bins);
    double e = 0;
    for (int k = 0; k < 512; k++)
        e = fmax(e, fabs(bins[k] - 0.37));
    CHECK(e < 1e-6, "constant gain not constant on bins (%g)", e);
    /* A ramp of band gains gives a bin gain inside the range of the bands covering it, and
     * the uncovered DC and top bins take the outermost bands. */
    for (int b = 0; b < 128; b++)
        g[b] = (float)b / 127.0f;
    mel_gains_to_bins(m, g, bins);
    int mono = 1;
    for (int k = 1; k < 512; k++)
        mono &= bins[k] >= bins[k - 1] - 1e-6f;
    CHECK(mono, "ramp gains not monotonic over bins");
    CHECK(bins[0] == g[0] && bins[511] == g[127], "edge bins %g %g", bins[0], bins[511]);
    /* A single band's gain reaches exactly the bins its filter covers. */
    for (int b = 0; b < 128; b++)
        g[b] = 1.0f;
    g[60] = 0.0f;
    mel_gains_to_bins(m, g, bins);
    const float *fb = mel_filters(m);
    int ok = 1;
    for (int k = 0; k < 512; k++)
        ok &= (bins[k] < 1.0f - 1e-5f) == (fb[60 * 512 + k] > 1e-5f);
    CHECK(ok, "band 60 gain leaks outside its filter");
}

static void test_apply(const mel *m) {
    float p[512], mp[128], lm[128];
    for (int k = 0; k < 512; k++)
        p[k] = 0.0f;
    mel_log(m, p, lm);
    int ok = 1;
    for (int b = 0; b < 128; b++)
        ok &= lm[b] == log2f(MEL_LOG_FLOOR);
    CHECK(ok, "silence must give the floor");
    p[200] = NAN;
    mel_log(m, p, lm);
    ok = 1;
    for (int b = 0; b < 128; b++)
        ok &= !isnan(lm[b]);
    CHECK(ok, "NaN power must not give NaN log-mel");
    for (int k = 0; k < 512; k++)
        p[k] = 1.0f;
    mel_apply(m, p, mp);
    CHECK(fabsf(mp[64] - (float)golden_fb_rowsum[64]) < 1e-4f, "flat power -> filter sum");
}

int main(void) {
    mel *m = mel_create(16000, 1023, 128, 0.0f, 8000.0f);
    CHECK(m != NULL, "create");
    if (!m) return check_summary("test_mel");
    CHECK(mel_create(16000, 1023, 128, 9000.0f, 8000.0f) == NULL, "bad range rejected");
    test_filters(m);
    test_golden(m);
    test_gains(m);
    test_apply(m);
    mel_destroy(m);
    return check_summary("test_mel");
}
