#include "engine/enhance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/denoise.h"
#include "dsp/mel.h"
#include "dsp/stft.h"
#include "engine/model.h"

#define BINS (ENHANCE_NFFT / 2 + 1)
#define LA ENHANCE_LOOKAHEAD
#define HIST (LA + 1)
#define MAX_CH 2
/* Frames for a full crossfade between the classical and the model gains. */
#define MIX_FRAMES 8
/* Model gains may lift bands the microphone or room took away, but no further than this,
 * and cut at most this deep (the classical attenuation limit does not bind the model). */
#define MODEL_MAX_BOOST_DB 15.0f
#define MODEL_MAX_CUT_DB 40.0f

struct enhance {
    int channels;
    stft *st[MAX_CH];
    mel *mel;
    denoise *dn;
    /* Spectra and noisy log-mels of the last HIST frames: gains for frame f - LA are only
     * known at frame f. */
    float re[MAX_CH][HIST][BINS], im[MAX_CH][HIST][BINS];
    float logmel[HIST][ENHANCE_MELS];
    float gcl[HIST][ENHANCE_MELS]; /* classical band gains, same history */
    /* Model outputs, delayed further when the model looks ahead less than LA frames. */
    float mclean[HIST][ENHANCE_MELS];
    int mvalid[HIST];
    long long frame;
    float mix; /* 0: classical gains, 1: model gains */
    int effective_mode;
    menhance_model *last_model;
    /* Vocoder path: running while wanted or fading out; its output is delayed by vdelay so
     * it lands on the same samples as the phase path's. */
    int voc_running, voc_frames;
    float voc_w;
    float vline[ENHANCE_VOCODER_MAX_LOOKAHEAD + ENHANCE_HOP];
    int vpos;
    float power[BINS], melpow[ENHANCE_MELS], band[ENHANCE_MELS], bin_gain[BINS];
};

enhance *enhance_create(int channels) {
    if (channels < 1 || channels > MAX_CH) return NULL;
    enhance *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->channels = channels;
    for (int c = 0; c < channels; c++)
        h->st[c] = stft_create(ENHANCE_NFFT, ENHANCE_HOP);
    h->mel = mel_create(ENHANCE_RATE, ENHANCE_NFFT, ENHANCE_MELS, 0.0f, 8000.0f);
    h->dn = denoise_create(ENHANCE_MELS, (float)ENHANCE_RATE / ENHANCE_HOP);
    int ok = h->mel && h->dn;
    for (int c = 0; c < channels; c++)
        ok = ok && h->st[c];
    if (!ok) {
        enhance_destroy(h);
        return NULL;
    }
    enhance_reset(h);
    return h;
}

void enhance_destroy(enhance *h) {
    if (!h) return;
    for (int c = 0; c < MAX_CH; c++)
        stft_destroy(h->st[c]);
    mel_destroy(h->mel);
    denoise_destroy(h->dn);
    free(h);
}

int enhance_latency(const enhance *h) {
    return stft_latency(h->st[0]) + LA * ENHANCE_HOP;
}

void enhance_reset(enhance *h) {
    for (int c = 0; c < h->channels; c++)
        stft_reset(h->st[c]);
    denoise_reset(h->dn);
    memset(h->re, 0, sizeof h->re);
    memset(h->im, 0, sizeof h->im);
    for (int k = 0; k < HIST; k++) {
        for (int b = 0; b < ENHANCE_MELS; b++) {
            h->logmel[k][b] = log2f(MEL_LOG_FLOOR);
            h->gcl[k][b] = 1.0f;
        }
        h->mvalid[k] = 0;
    }
    h->frame = 0;
    h->mix = 0.0f;
    h->effective_mode = MENHANCE_MODE_CLASSICAL;
    h->voc_running = 0;
    h->voc_w = 0.0f;
    if (h->last_model) model_reset(h->last_model);
}

int enhance_effective_mode(const enhance *h) {
    return h->effective_mode;
}

static float db_to_gain(float db) {
    return powf(10.0f, db / 20.0f);
}

/* The model's cleaned mel for the frame that leaves now (f - LA), if it has one. */
static int model_frame(enhance *h, menhance_model *m, int slot_now, float *clean) {
    if (m != h->last_model) {
        /* A new model starts from empty history; the gain mix restarts from classical. */
        h->last_model = m;
        h->mix = 0.0f;
        h->voc_running = 0;
        h->voc_w = 0.0f;
        for (int k = 0; k < HIST; k++)
            h->mvalid[k] = 0;
        if (m) model_reset(m);
    }
    if (!m || !model_has_mel2mel(m)) return 0;
    int la = model_lookahead(m);
    if (la > LA) la = LA; /* model_load refuses these; keep indices in range regardless */
    float *dst = h->mclean[slot_now];
    h->mvalid[slot_now] = model_mel2mel_frame(m, h->logmel[slot_now], dst);
    /* Output for frame f - la arrived now; frame f - LA's arrived LA - la frames ago. */
    int back = (slot_now - (LA - la) + HIST) % HIST;
    if (!h->mvalid[back]) return 0;
    memcpy(clean, h->mclean[back], sizeof(float) * ENHANCE_MELS);
    return 1;
}

/* Mode 2: the cleaned mel (the frame leaving now, centre framing frame f - LA - 1) goes
 * through the streaming vocoder; its mono output replaces the channels' common part, and each
 * channel keeps its difference from that common part from the phase path, so stereo width
 * survives.  Switching in and out is a one-hop linear crossfade after a warm-up. */
static void vocode(enhance *h, menhance_model *m, int want, const float *clean, float *const *out) {
    if (!h->voc_running && !want) return;
    if (!h->voc_running) {
        model_vocoder_reset(m);
        memset(h->vline, 0, sizeof h->vline);
        h->vpos = 0;
        h->voc_frames = 0;
        h->voc_running = 1;
    }
    const int L = ENHANCE_VOCODER_MAX_LOOKAHEAD + ENHANCE_HOP;
    const int delay = ENHANCE_VOCODER_MAX_LOOKAHEAD - model_vocoder_latency(m);
    float v[ENHANCE_HOP];
    model_vocoder_frame(m, clean, v);
    for (int t = 0; t < ENHANCE_HOP; t++) {
        h->vline[(h->vpos + t + delay) % L] = v[t];
    }
    for (int t = 0; t < ENHANCE_HOP; t++)
        v[t] = h->vline[(h->vpos + t) % L];
    h->vpos = (h->vpos + ENHANCE_HOP) % L;
    h->voc_frames++;
    /* Valid once the first vocoded samples have come through the look-ahead and the delay. */
    int warm = h->voc_frames > 1 + (ENHANCE_VOCODER_MAX_LOOKAHEAD + ENHANCE_HOP - 1) / ENHANCE_HOP;
    float w0 = h->voc_w, w1 = want && warm ? 1.0f : 0.0f;
    const int C = h->channels;
    for (int t = 0; t < ENHANCE_HOP; t++) {
        float w = w0 + (w1 - w0) * (float)(t + 1) / ENHANCE_HOP;
        float mid = 0.0f;
        for (int c = 0; c < C; c++)
            mid += out[c][t];
        mid /= (float)C;
        for (int c = 0; c < C; c++)
            out[c][t] += w * (v[t] - mid);
    }
    h->voc_w = w1;
    if (w1 > 0.0f) h->effective_mode = MENHANCE_MODE_MEL2MEL_VOCODER;
    if (!want && w1 == 0.0f) h->voc_running = 0;
}

void enhance_process(enhance *h, const float *const *in, float *const *out, const enhance_params *p,
                     menhance_model *model) {
    const int C = h->channels;
    const int now = (int)(h->frame % HIST);
    const int old = (int)((h->frame + 1) % HIST); /* frame f - LA */

    /* Analysis, and the linked power: one decision for all channels keeps the image. */
    for (int k = 0; k < BINS; k++)
        h->power[k] = 0.0f;
    for (int c = 0; c < C; c++) {
        stft_analyze(h->st[c], in[c], h->re[c][now], h->im[c][now]);
        for (int k = 0; k < BINS; k++) {
            float r = h->re[c][now][k], i = h->im[c][now][k];
            h->power[k] += (r * r + i * i) / (float)C;
        }
    }
    mel_apply(h->mel, h->power, h->melpow);
    mel_to_log(h->mel, h->melpow, h->logmel[now]);

    denoise_set(h->dn, p->strength, p->max_atten_db);
    denoise_process(h->dn, h->melpow, h->gcl[now]);

    const float floor_gain = db_to_gain(-MODEL_MAX_CUT_DB);
    const float max_boost = db_to_gain(MODEL_MAX_BOOST_DB);
    float clean[ENHANCE_MELS];
    int have_model = model_frame(h, model, now, clean);
    int want_model = p->mode != MENHANCE_MODE_CLASSICAL && have_model;
    h->effective_mode = want_model ? MENHANCE_MODE_MEL2MEL : MENHANCE_MODE_CLASSICAL;
    float target = want_model ? 1.0f : 0.0f;
    float step = 1.0f / MIX_FRAMES;
    if (h->mix < target) h->mix = fminf(target, h->mix + step);
    if (h->mix > target) h->mix = fmaxf(target, h->mix - step);

    for (int b = 0; b < ENHANCE_MELS; b++) {
        float g = h->gcl[old][b];
        if (h->mix > 0.0f && have_model) {
            /* log2 power ratio -> amplitude gain */
            float gm = exp2f(0.5f * (clean[b] - h->logmel[old][b]));
            if (!(gm == gm)) gm = 1.0f;
            gm = fminf(fmaxf(gm, floor_gain), max_boost);
            g = h->mix * gm + (1.0f - h->mix) * g;
        }
        h->band[b] = g;
    }
    mel_gains_to_bins(h->mel, h->band, h->bin_gain);

    float yre[BINS], yim[BINS];
    for (int c = 0; c < C; c++) {
        for (int k = 0; k < BINS; k++) {
            yre[k] = h->re[c][old][k] * h->bin_gain[k];
            yim[k] = h->im[c][old][k] * h->bin_gain[k];
        }
        stft_synthesize(h->st[c], yre, yim, out[c]);
    }
    int want_voc =
        want_model && p->mode == MENHANCE_MODE_MEL2MEL_VOCODER && model_has_vocoder(model);
    vocode(h, model, want_voc, clean, out);
    h->frame++;
}
