/* Real-time safety of every per-block dsp call, checked by clang's RealtimeSanitizer
 * (mk/dsp.mk builds this with clang-22 -fsanitize=realtime).  The block function is marked
 * nonblocking, so any malloc/free/lock/syscall reached from it, including inside FFTW and
 * speexdsp, aborts the program with a report.  Without the sanitizer it still runs as a plain
 * smoke test. */
#include "dsp/denoise.h"
#include "dsp/mel.h"
#include "dsp/resample.h"
#include "dsp/ring.h"
#include "dsp/stft.h"
#include "dsp/tonal.h"
#include "tests/check.h"

#include <math.h>

#if defined(__has_feature)
#if __has_feature(realtime_sanitizer)
#define NONBLOCKING __attribute__((nonblocking))
#endif
#endif
#ifndef NONBLOCKING
#define NONBLOCKING
#endif

typedef struct {
    ring *rg;
    stft *st;
    mel *ml;
    resampler *down, *up, *down441;
    denoise *dn;
    tonal *tn;
} chain;

/* One host block through everything the engine does per block. */
static float block(chain *c, const float *in, int n, int it) NONBLOCKING;
static float block(chain *c, const float *in, int n, int it) {
    float mid[512], back[2048], re[512], im[512], pw[512], mp[128], lm[128], g[128], bg[512];
    float tw[512], obs[128];
    float hop_out[256], acc = 0;
    int il = n, ol = 512;
    resampler_process(c->down, in, &il, mid, &ol);
    int il2 = n, ol2 = 512;
    resampler_process(c->down441, in, &il2, mid, &ol2);
    if (ring_write_space(c->rg) >= sizeof(float) * (size_t)ol)
        ring_write(c->rg, mid, sizeof(float) * (size_t)ol);
    float hop[256];
    while (ring_read_space(c->rg) >= sizeof hop) {
        ring_peek(c->rg, hop, sizeof hop);
        ring_read(c->rg, hop, sizeof hop);
        stft_analyze(c->st, hop, re, im);
        for (int k = 0; k < 512; k++)
            pw[k] = re[k] * re[k] + im[k] * im[k];
        mel_apply(c->ml, pw, mp);
        mel_log(c->ml, pw, lm);
        denoise_set(c->dn, 1.0f + 0.1f * (float)(it % 3), 18.0f);
        tonal_process(c->tn, pw, tw);
        for (int b = 0; b < 128; b++)
            obs[b] = tw[4 * b] > 0.5f ? -1.0f : mp[b];
        denoise_process_guided(c->dn, mp, obs, g);
        mel_gains_to_bins(c->ml, g, bg);
        for (int k = 0; k < 512; k++)
            re[k] *= bg[k], im[k] *= bg[k];
        stft_synthesize(c->st, re, im, hop_out);
        int i3 = 256, o3 = 2048;
        resampler_process(c->up, hop_out, &i3, back, &o3);
        acc += lm[3] + (o3 ? back[0] : 0);
    }
    if (it == 50) { /* resets are allowed on the audio thread too */
        stft_reset(c->st);
        denoise_reset(c->dn);
        tonal_reset(c->tn);
        resampler_reset(c->down);
        resampler_reset(c->up);
    }
    return acc;
}

int main(void) {
    chain c = {ring_create(1 << 14),
               stft_create(1023, 256),
               mel_create(16000, 1023, 128, 0, 8000),
               resampler_create(48000, 16000, 10),
               resampler_create(16000, 48000, 10),
               resampler_create(44100, 16000, 10),
               denoise_create(128, 16000.0f / 256.0f),
               tonal_create(512, 16000.0f / 256.0f)};
    CHECK(c.rg && c.st && c.ml && c.down && c.up && c.down441 && c.dn && c.tn, "create");
    float in[1024];
    double sum = 0;
    for (int it = 0; it < 200; it++) {
        int n = 1 + (it * 397) % 1024;
        for (int i = 0; i < n; i++)
            in[i] = 0.3f * sinf(0.05f * (float)(it * 1024 + i));
        sum += block(&c, in, n, it);
    }
    CHECK(isfinite(sum), "chain output finite");
    ring_destroy(c.rg);
    stft_destroy(c.st);
    mel_destroy(c.ml);
    resampler_destroy(c.down), resampler_destroy(c.up), resampler_destroy(c.down441);
    denoise_destroy(c.dn);
    tonal_destroy(c.tn);
    return check_summary("rtsan_dsp");
}
