#include "engine/features.h"
#include <stdlib.h>
#include <string.h>

#include "dsp/mel.h"
#include "dsp/stft.h"
#include "engine/enhance.h"

#define BINS (ENHANCE_NFFT / 2 + 1)

long features_engine_frames(const float *x, long n, float *feat, float *logmel, long max_frames) {
    if (!x || n < 0 || !feat || max_frames < 0) return -1;
    enhance *h = enhance_create(1);
    stft *st = logmel ? stft_create(ENHANCE_NFFT, ENHANCE_HOP) : NULL;
    mel *m = logmel ? mel_create(ENHANCE_RATE, ENHANCE_NFFT, ENHANCE_MELS, 0.0f, 8000.0f) : NULL;
    float *buf = malloc(sizeof(float) * (3 * BINS + ENHANCE_HOP));
    long frames = n / ENHANCE_HOP;
    if (!h || !buf || (logmel && (!st || !m))) frames = -1;
    /* the feature does not depend on the mode or the user's settings (enhance.h) */
    const enhance_params p = {.mode = MENHANCE_MODE_CLASSICAL,
                              .strength = 1.0f,
                              .max_atten_db = 18.0f,
                              .heads = {1.0f, 1.0f, 1.0f}};
    float *re = buf, *im = buf + BINS, *pw = buf + 2 * BINS, *out = buf + 3 * BINS;
    for (long k = 0; k < frames && k < max_frames; k++) {
        const float *in = x + k * ENHANCE_HOP;
        enhance_process(h, &in, &out, &p, NULL);
        enhance_classical_feature(h, feat + k * ENHANCE_MELS);
        if (!logmel) continue;
        stft_analyze(st, in, re, im);
        for (int b = 0; b < BINS; b++)
            pw[b] = re[b] * re[b] + im[b] * im[b];
        mel_log(m, pw, logmel + k * ENHANCE_MELS);
    }
    enhance_destroy(h);
    stft_destroy(st);
    mel_destroy(m);
    free(buf);
    return frames;
}

long features_classical_centred(const float *x, long n, float *feat) {
    if (!x || n < 0 || !feat) return -1;
    /* torch.stft's count for the 1023-point window centred with 511 samples of padding */
    const long rows = n > 0 ? 1 + (n - 1) / ENHANCE_HOP : 0, len = (rows + 1) * ENHANCE_HOP;
    float *xp = calloc((size_t)len, sizeof *xp);
    float *fe = malloc(sizeof *fe * (size_t)(rows + 1) * ENHANCE_MELS);
    long rc = -1;
    if (xp && fe) {
        memcpy(xp, x, sizeof *xp * (size_t)n);
        if (features_engine_frames(xp, len, fe, NULL, rows + 1) == rows + 1) {
            memcpy(feat, fe + ENHANCE_MELS, sizeof *fe * (size_t)rows * ENHANCE_MELS);
            rc = rows;
        }
    }
    free(xp);
    free(fe);
    return rc;
}
