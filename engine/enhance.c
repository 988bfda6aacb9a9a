#include "engine/enhance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/biquad.h"
#include "dsp/denoise.h"
#include "dsp/mel.h"
#include "dsp/stft.h"
#include "dsp/tonal.h"
#include "engine/channel_levels.h"
#include "engine/frontend_eq.h"
#include "engine/model.h"

/* the feature equaliser is measured for this STFT */
_Static_assert(ENHANCE_NFFT == FRONTEND_EQ_NFFT, "engine/frontend_eq.h and the engine STFT differ");

#define BINS (ENHANCE_NFFT / 2 + 1)
#define LA ENHANCE_LOOKAHEAD
#define HIST (LA + 1)
#define MAX_CH 2
/* Frames for a full crossfade between the classical and the model gains. */
#define MIX_FRAMES 8
/* The Tone head's verdict is faded in over the model's first TONE_WARMUP_S of real frames.  Its
 * features start from the first frame (nn/mel2mel.c: the ~8 s long-term balance begins as one
 * frame's spectrum), so its first seconds judge a colouration from a fraction of a second of
 * music: measured on a nearly clean clip (make eval noise_17, 25 dB SNR), the engine tilted
 * the spectrum by up to 4 dB (-1.3 log2 above 5 kHz) in the first second, still 0.6 dB at 3 s
 * (log-mel L1 0.74-0.89 against the input's 0.08-0.25).  A colouration is a property of
 * the recording, so holding its correction back for the first seconds costs little. */
#define TONE_WARMUP_S 4.0f
/* Learn noise: a shorter learning turn than this (of real frames) learns nothing and lets the
 * trackers follow the noise again: the switch's "forget" gesture. */
#define LEARN_MIN_FRAMES ((int)(0.5f * ENHANCE_RATE / ENHANCE_HOP))
#define TONE_WARMUP_FRAMES ((int)(TONE_WARMUP_S * ENHANCE_RATE / ENHANCE_HOP))
/* The live Tone verdict kept for a saved state (enhance_tone_profile) is the mean of the Tone
 * head's verdicts over about this long (an exponential average, each verdict weighted by the
 * warm-up's confidence): a colouration belongs to the recording chain and holds for a take,
 * while the head's verdict follows the music's own balance from phrase to phrase. */
#define TONE_SAVE_S 10.0f
/* A held Tone verdict (a saved state's) is clamped to the Tone head's range, 12 dB in log2
 * power units (train/models.py tone_db: 12 for every noise/room/tone model so far; a model with
 * a wider range would have its saved verdicts clipped here, never widened). */
#define TONE_PROFILE_MAX (12.0f / 3.0103f)
/* Model gains may lift bands the microphone or room took away, but no further than this;
 * they cut at most as deep as the user's Max attenuation (README: that control bounds the
 * model's gains too). */
#define MODEL_MAX_BOOST_DB 15.0f
/* Nothing is lifted below this: the lowest mel band's gain used to reach 0 Hz, so DC and
 * rumble came out louder (issue 8).  40 Hz keeps a bass guitar's low E (41 Hz) liftable. */
#define NO_LIFT_BELOW_HZ 40.0f
/* The bands whose gains speak for the band above 8 kHz (enhance_hiband): 6-8 kHz, where hiss
 * and the air of the music continue above. */
#define HIBAND_FROM_HZ 6000.0f
/* A band whose noise-like bins carry less than this share of its filter weight tells the
 * tracker nothing about its noise (a partial fills it): hold. */
#define MIN_NOISE_SHARE 0.25f
/* A hop whose energy is this many times the previous hop's starts an attack (6 dB).  Hiss
 * fluctuates by about 0.5 dB from hop to hop, so only real attacks pass. */
#define ONSET_RATIO 4.0f
#define ONSET_MIN_ENERGY 1e-12f /* about -125 dBFS per sample: digital-silence edges */
#define EHOP 8                  /* hop-energy history, >= LA + 5 */
/* A band that has been mostly tonal for the last half second (beating partials dip out of
 * "tonal" for a frame or two) is neither learnt from nor cut. */
#define TONAL_SLOW_S 0.5f
#define TONAL_HOLD 0.5f
/* The model's gains give way to held notes only once a band has been steady for a couple of
 * seconds (its tonal share smoothed over TONAL_LONG_S): test tones and drones are left alone,
 * but the network may still correct the balance of music whose notes change.  With the
 * classical tracker's per-frame guard, every band holding a partial kept its EQ error (make
 * eval, EQ condition: log-mel L1 1.82 against the network's own 1.71; 1.76 with this). */
#define TONAL_LONG_S 2.0f
#define GUARD_FULL 0.8f
#define GUARD_NONE 0.3f
/* The classical suppressor's verdict as the network's input (enhance_classical_feature) is
 * taken at fixed settings, whatever the user's Strength and Max attenuation: the network is
 * trained on it.  30 dB is the network's own deepest cut (train/models.py cut_db). */
#define FEATURE_STRENGTH 1.0f
#define FEATURE_ATTEN_DB 30.0f
/* First frame whose analysis window holds no samples from before the start. */
#define STFT_FULL ((ENHANCE_NFFT + ENHANCE_HOP - 1) / ENHANCE_HOP - 1)

struct enhance {
    int channels;
    stft *st[MAX_CH];
    mel *mel;
    denoise *dn;
    denoise *dnf;             /* the same tracker at the feature's fixed settings */
    float feat[ENHANCE_MELS]; /* enhance_classical_feature of the newest frame */
    /* Spectra and noisy log-mels of the last HIST frames: gains for frame f - LA are only
     * known at frame f. */
    float re[MAX_CH][HIST][BINS], im[MAX_CH][HIST][BINS];
    float logmel[HIST][ENHANCE_MELS];
    /* The model's view of the same frames: band edge equalised to the training front end. */
    float logmel_m[HIST][ENHANCE_MELS];
    float feq[BINS], power_m[BINS], melpow_m[ENHANCE_MELS];
    float gcl[HIST][ENHANCE_MELS]; /* classical band gains, same history */
    /* Model outputs, delayed further when the model looks ahead less than LA frames. */
    float mclean[HIST][ENHANCE_MELS];
    int mvalid[HIST];
    long long frame;
    float mix; /* 0: classical gains, 1: model gains */
    int effective_mode;
    menhance_model *last_model;
    /* Music awareness: per-bin tonal weights, per-band noise observations for the tracker and
     * the power share of tonal bins in each band (same history as the spectra). */
    tonal *ton;
    float tw[BINS], obs[ENHANCE_MELS];
    float tband[HIST][ENHANCE_MELS];
    float tslow[ENHANCE_MELS]; /* tband smoothed over TONAL_SLOW_S */
    float a_slow;
    float tlong[ENHANCE_MELS]; /* tband smoothed over TONAL_LONG_S: the model's guard */
    float a_long;
    int primed;  /* the tracker starts from a floor learnt ahead of time */
    int start;   /* since reset, no model output yet: a model mode passes the input untouched */
    int mfed;    /* the model has been given a real frame since its reset */
    int mreal;   /* ... and this frame was one (not digital silence repeating the last) */
    int mframes; /* real frames the model has been given since its reset (to TONE_WARMUP_S) */
    /* Tone priming (enhance_prime_begin/end, enhance_take_tone): while priming, the Tone head's
     * verdicts summed with the warm-up's confidence as weight; then the verdict that stands in
     * for the live one while the live one warms up, for the model it was learnt from. */
    int priming;
    double tsum[ENHANCE_MELS], twsum;
    long tcount;
    int tone_valid;
    float tone_primed[ENHANCE_MELS];
    const menhance_model *tone_for;
    /* A verdict handed in (enhance_hold_tone: a saved state's) stands in for any model's live
     * verdict while it warms up, after every reset and model change, until cleared; the live
     * verdicts' running mean (TONE_SAVE_S) is what enhance_tone_profile reads back. */
    int tone_held;
    float tone_held_profile[ENHANCE_MELS];
    double tema[ENHANCE_MELS], tema_w;
    float a_tema;
    /* Learn noise: sums over the learning turn's real frames (band powers; the network's floor
     * feature where it ran, else the log-mel), then the held floor and its version */
    int learning;
    long lcount, lcount_model;
    double lpow[ENHANCE_MELS], lfloor[ENHANCE_MELS], llog[ENHANCE_MELS];
    int held;
    float held_profile[ENHANCE_NOISE_PROFILE];
    unsigned held_version;
    const menhance_model *pinned; /* the model the held floor (or its absence) was given to */
    float mlast[ENHANCE_MELS];    /* the last real frame the model was given */
    float flast[ENHANCE_MELS];    /* and its classical feature */
    int blo[ENHANCE_MELS], bhi[ENHANCE_MELS]; /* nonzero range of each mel filter */
    const float *filt;
    float ehop[EHOP];          /* linked energy of each input hop, by frame */
    float gprev[ENHANCE_MELS]; /* band gains applied to the previous frame */
    int nlow;                  /* bins below NO_LIFT_BELOW_HZ */
    int btop;                  /* first band centred at or above HIBAND_FROM_HZ */
    float hi_gain, hi_share;   /* enhance_hiband() */
    float hi_prev[2];          /* the top bands' gain of the last two frames */
    /* Every mode's output leaves ENHANCE_OUTPUT_DELAY (one hop) after the phase path made it:
     * the channels' hop and its common part (their mean) wait here. */
    float pend[MAX_CH][ENHANCE_HOP], pend_mid[ENHANCE_HOP];
    float mid_last;                    /* the last sample of the common part made last hop */
    float cring[3][ENHANCE_MELS];      /* the model's cleaned mels of the last three hops */
    float clast[ENHANCE_MELS];         /* the last cleaned mel (a vocoder fading out without one) */
    int cvalid;                        /* how many of them in a row are real */
    float hi_pend_gain, hi_pend_share; /* the high band's verdict for the hop that waits */
    /* Vocoder path: running while wanted or fading out; its output goes through the line
     * vline so that it lands on the same samples as the phase path's. */
    int voc_running, voc_frames;
    float voc_w;
    float vline[ENHANCE_VOCODER_MAX_LOOKAHEAD + 2 * ENHANCE_HOP];
    biquad dc;     /* DC blocker on the vocoder's output */
    double vdc[2]; /* and its state */
    int vpos;
    float vk[MAX_CH], vr[MAX_CH]; /* mode 2: each channel's level over the common part's and over
                                   * the channels' mean level, last hop */
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
    h->dnf = denoise_create(ENHANCE_MELS, (float)ENHANCE_RATE / ENHANCE_HOP);
    h->ton = tonal_create(BINS, (float)ENHANCE_RATE / ENHANCE_HOP);
    int ok = h->mel && h->dn && h->dnf && h->ton;
    for (int c = 0; c < channels; c++)
        ok = ok && h->st[c];
    if (!ok) {
        enhance_destroy(h);
        return NULL;
    }
    h->filt = mel_filters(h->mel);
    for (int k = 0; k < BINS; k++)
        h->feq[k] = 1.0f;
    for (int b = 0; b < ENHANCE_MELS; b++) {
        const float *w = h->filt + (size_t)b * BINS;
        int lo = 0, hi = BINS - 1;
        while (lo < BINS - 1 && w[lo] == 0.0f)
            lo++;
        while (hi > lo && w[hi] == 0.0f)
            hi--;
        h->blo[b] = lo;
        h->bhi[b] = hi;
    }
    h->nlow = (int)ceilf(NO_LIFT_BELOW_HZ * ENHANCE_NFFT / ENHANCE_RATE);
    h->btop = ENHANCE_MELS - 1;
    for (int b = ENHANCE_MELS - 1; b >= 0; b--)
        if (0.5f * (float)(h->blo[b] + h->bhi[b]) * ENHANCE_RATE / ENHANCE_NFFT >= HIBAND_FROM_HZ)
            h->btop = b;
    h->a_slow = expf(-(float)ENHANCE_HOP / (TONAL_SLOW_S * ENHANCE_RATE));
    h->a_long = expf(-(float)ENHANCE_HOP / (TONAL_LONG_S * ENHANCE_RATE));
    h->a_tema = (float)ENHANCE_HOP / (TONE_SAVE_S * ENHANCE_RATE);
    h->dc = biquad_hp1(ENHANCE_RATE, ENHANCE_DC_HZ);
    denoise_set(h->dnf, FEATURE_STRENGTH, FEATURE_ATTEN_DB);
    enhance_reset(h);
    return h;
}

void enhance_destroy(enhance *h) {
    if (!h) return;
    for (int c = 0; c < MAX_CH; c++)
        stft_destroy(h->st[c]);
    mel_destroy(h->mel);
    denoise_destroy(h->dn);
    denoise_destroy(h->dnf);
    tonal_destroy(h->ton);
    free(h);
}

int enhance_latency(const enhance *h) {
    return stft_latency(h->st[0]) + LA * ENHANCE_HOP + ENHANCE_OUTPUT_DELAY;
}

/* Both band trackers (the classical path's and the network feature's) hold the same floor, or
 * track again (NULL). */
static void hold_trackers(enhance *h, const float *profile) {
    denoise_hold(h->dn, profile);
    denoise_hold(h->dnf, profile);
}

/* The live Tone verdicts' running mean, once the live Tone head has warmed up: 1 and v filled,
 * else 0. */
static int live_tone(const enhance *h, float *v) {
    if (h->mframes < TONE_WARMUP_FRAMES || h->tema_w <= 0.0) return 0;
    for (int b = 0; b < ENHANCE_MELS; b++)
        v[b] = (float)(h->tema[b] / h->tema_w);
    return 1;
}

/* A live Tone verdict that has warmed up outlives the history it came from: a reset (a host's
 * re-activation, a stalled worker) or a model change keeps it as the held stand-in, so the next
 * start is treated like the rest of the take and a later save still has it; the mean starts
 * afresh. */
static void restart_live_tone(enhance *h) {
    float v[ENHANCE_MELS];
    if (live_tone(h, v)) enhance_hold_tone(h, v);
    memset(h->tema, 0, sizeof h->tema);
    h->tema_w = 0.0;
}

void enhance_reset(enhance *h) {
    restart_live_tone(h);
    for (int c = 0; c < h->channels; c++)
        stft_reset(h->st[c]);
    denoise_reset(h->dn);
    denoise_reset(h->dnf);
    /* the held floor is the user's, not history */
    if (h->held) hold_trackers(h, h->held_profile);
    for (int b = 0; b < ENHANCE_MELS; b++)
        h->feat[b] = 0.0f;
    h->learning = 0;
    tonal_reset(h->ton);
    h->primed = 0;
    h->priming = 0;
    h->tone_valid = 0;
    memset(h->re, 0, sizeof h->re);
    memset(h->im, 0, sizeof h->im);
    for (int k = 0; k < HIST; k++) {
        for (int b = 0; b < ENHANCE_MELS; b++) {
            h->logmel[k][b] = h->logmel_m[k][b] = log2f(MEL_LOG_FLOOR);
            h->gcl[k][b] = 1.0f;
            h->tband[k][b] = 1.0f;
        }
        h->mvalid[k] = 0;
    }
    for (int b = 0; b < ENHANCE_MELS; b++) {
        h->gprev[b] = h->tslow[b] = 1.0f;
        h->tlong[b] = 0.0f;
    }
    memset(h->ehop, 0, sizeof h->ehop);
    h->frame = 0;
    h->mix = 0.0f;
    h->start = 1;
    h->mfed = 0;
    h->mframes = 0;
    h->hi_gain = 1.0f;
    h->hi_share = 0.0f;
    h->hi_prev[0] = h->hi_prev[1] = 1.0f;
    h->hi_pend_gain = 1.0f;
    h->hi_pend_share = 1.0f; /* as at the start: the model's verdict, which is "no cut" */
    memset(h->pend, 0, sizeof h->pend);
    memset(h->pend_mid, 0, sizeof h->pend_mid);
    h->mid_last = 0.0f;
    h->cvalid = 0;
    for (int b = 0; b < ENHANCE_MELS; b++)
        h->clast[b] = log2f(MEL_LOG_FLOOR);
    h->effective_mode = MENHANCE_MODE_CLASSICAL;
    h->voc_running = 0;
    h->voc_w = 0.0f;
    if (h->last_model) model_reset(h->last_model);
}

int enhance_effective_mode(const enhance *h) {
    return h->effective_mode;
}

/* A log-mel value at the log floor (mel_to_log clamps there): the band holds nothing. */
static int at_log_floor(float logmel) {
    return logmel <= log2f(MEL_LOG_FLOOR) + 1e-3f;
}

/* Every band of a log-mel frame at the log floor: digital silence or next to it. */
static int at_floor(const float *logmel) {
    for (int b = 0; b < ENHANCE_MELS; b++)
        if (!at_log_floor(logmel[b])) return 0;
    return 1;
}

/* The model's cleaned mel for the frame that leaves now (f - LA), if it has one. */
static int model_frame(enhance *h, menhance_model *m, int slot_now, float *clean) {
    if (m != h->last_model) {
        /* A new model starts from empty history; the gain mix restarts from classical.  A Tone
         * verdict primed for the model before it is not this one's (the address may be reused). */
        if (h->last_model) h->tone_valid = 0;
        restart_live_tone(h);
        h->last_model = m;
        h->mix = 0.0f;
        h->voc_running = 0;
        h->voc_w = 0.0f;
        for (int k = 0; k < HIST; k++)
            h->mvalid[k] = 0;
        h->mfed = 0;
        h->mframes = 0;
        h->cvalid = 0; /* the refiner's ring holds the old model's mels */
        if (m) model_reset(m);
        h->pinned = NULL;
    }
    if (!m || !model_has_mel2mel(m)) return 0;
    if (h->pinned != m) {
        model_pin_floor(m, h->held ? h->held_profile + ENHANCE_MELS : NULL);
        h->pinned = m;
    }
    int la = model_lookahead(m);
    if (la > LA) la = LA; /* model_load refuses these; keep indices in range regardless */
    float *dst = h->mclean[slot_now];
    /* The model is fed real frames only.  A frame whose STFT window is still filling, or that
     * is digital silence (every band at the log floor), is nothing the network saw in
     * training, and its running noise floor (nn/mel2mel.c: f = min(x, f + floor_rise), 0.12 dB
     * a frame) would sink to the log floor and take ~10 s to climb back: the engine's model
     * cut almost nothing on 6 s clips whose first frames were the window filling up (make
     * eval, noise condition).  Before the first real frame the model is not fed (it starts
     * there, as in training); after it, a silent frame repeats the last real one, which keeps
     * the model's frames in step with the engine's. */
    const float *x = h->logmel_m[slot_now];
    h->mreal = 0;
    if (h->frame >= STFT_FULL && !at_floor(x)) {
        memcpy(h->mlast, x, sizeof h->mlast);
        memcpy(h->flast, h->feat, sizeof h->flast);
        h->mfed = 1;
        h->mreal = 1;
        if (h->mframes < TONE_WARMUP_FRAMES) h->mframes++;
    }
    if (!h->mfed) {
        h->mvalid[slot_now] = 0;
        return 0;
    }
    h->mvalid[slot_now] = model_mel2mel_frame(m, h->mlast, h->flast, dst);
    /* Output for frame f - la arrived now; frame f - LA's arrived LA - la frames ago. */
    int back = (slot_now - (LA - la) + HIST) % HIST;
    if (!h->mvalid[back]) return 0;
    memcpy(clean, h->mclean[back], sizeof(float) * ENHANCE_MELS);
    return 1;
}

/* The Tone verdict learnt ahead of time (enhance_take_tone), or else a held one
 * (enhance_hold_tone), stands in for the live one while that warms up: the live Tone head runs at
 * strength k * r (r = mframes / TONE_WARMUP_FRAMES, set before the frame), the stand-in adds
 * k * (1 - r).  While priming, the live verdicts are summed instead, each weighted by r: the
 * head's later, better-informed verdicts count most.  Live, they also feed the running mean a
 * saved state keeps (TONE_SAVE_S), with the same weights. */
static void prime_tone(enhance *h, const menhance_model *model, const enhance_params *p,
                       float *clean) {
    const float *heads = model_heads(model);
    if (!heads) return;
    const float r = (float)h->mframes / (float)TONE_WARMUP_FRAMES;
    const float *tone = heads + 2 * ENHANCE_MELS;
    /* Digital silence repeats the last real frame's verdict: it is no new evidence (a host's
     * stopped transport would otherwise make one frozen frame the whole verdict). */
    if (h->priming) {
        if (!h->mreal) return;
        for (int b = 0; b < ENHANCE_MELS; b++)
            h->tsum[b] += (double)r * tone[b];
        h->twsum += r;
        h->tcount++;
        return;
    }
    if (h->mreal) {
        const double a = (double)(h->a_tema * r);
        for (int b = 0; b < ENHANCE_MELS; b++)
            h->tema[b] += a * ((double)tone[b] - h->tema[b]);
        h->tema_w += a * (1.0 - h->tema_w);
    }
    if (r >= 1.0f) return;
    const float *stand_in = h->tone_valid && model == h->tone_for ? h->tone_primed
                            : h->tone_held                        ? h->tone_held_profile
                                                                  : NULL;
    if (!stand_in) return;
    const float k = (1.0f - r) * p->heads[2];
    for (int b = 0; b < ENHANCE_MELS; b++)
        clean[b] += k * stand_in[b];
}

/* Mode 2.  out: the channels' hop that leaves now (made one hop ago), mid: its common part (the
 * channels' mean); cur_mid: the common part of the hop the phase path made now.
 *
 * A refiner (train/refiner.py) is given mode 1 itself: the cleaned mel of frame f - LA - 2 with
 * the common part of the hop made now, one sample late, as its prior.  In the refiner's
 * framing (mel frame j conditions samples [256 j, 256 j + 256)), engine frame F conditions
 * input samples [256 F - 256, 256 F), and the hop the phase path makes at frame f covers
 * [256 (f - LA) - 767, 256 (f - LA) - 511): frame f - LA - 2's span moved by one sample.  Its
 * refined output comes model_vocoder_latency() + 1 samples later, inside the output delay;
 * the line vline makes up the rest.  Each channel then takes the refiner's change to the common
 * part in its own proportion: y_c = x_c + k_c (v - m), k_c the channel's level over m's, so a
 * refiner that changes nothing gives mode 1 bit for bit and any refiner keeps the channels'
 * level ratio (R = 0.5 L stays 6.02 dB apart, in phase).
 *
 * A vocoder from noise (mel in, waveform out: the cleaned mel of frame f - LA, centre framing
 * frame f - LA - 1) makes a mono v at the level of the channels' mean power, so each channel c
 * takes r_c v in place of its share of the common part: y_c = x_c - k_c m + r_c v, r_c the
 * channel's level over the mean level (per hop, interpolated across it).  One that reproduces
 * the input gives the input back in every channel, hard-panned sources included; one whose
 * phase owes nothing to the input still keeps the channels' level ratio (replacing m outright
 * gave L and R 0.16 dB apart, anti-correlated).
 *
 * Switching in and out is a one-hop linear crossfade after a warm-up. */
static void vocode(enhance *h, menhance_model *m, int want, const float *clean,
                   const float *cur_mid, float *const *out, const float *mid) {
    if (!h->voc_running && !want) return;
    const int refiner = model_vocoder_is_refiner(m);
    if (!h->voc_running) {
        model_vocoder_reset(m);
        memset(h->vline, 0, sizeof h->vline);
        h->vdc[0] = h->vdc[1] = 0.0;
        h->vpos = 0;
        h->voc_frames = 0;
        h->voc_running = 1;
    }
    const int L = (int)(sizeof h->vline / sizeof h->vline[0]);
    float v[ENHANCE_HOP];
    int delay, warm_after;
    if (refiner) {
        float prior[ENHANCE_HOP];
        prior[0] = h->mid_last;
        memcpy(prior + 1, cur_mid, sizeof(float) * (ENHANCE_HOP - 1));
        model_refine_frame(m, h->cring[(h->frame + 1) % 3], prior, v);
        delay = ENHANCE_REFINER_MAX_LOOKAHEAD - model_vocoder_latency(m);
        /* the hop that leaves at the stream's second call is the first one refined (the
         * stream's first prior sample is the last one of the hop before it began, a real one) */
        warm_after = 1;
    } else {
        model_vocoder_frame(m, clean, v);
        /* The engine's input is DC-blocked (engine.c), but a vocoder makes its own waveform:
         * the same high-pass keeps DC out of mode 2 too. */
        for (int t = 0; t < ENHANCE_HOP; t++)
            v[t] = biquad_run(&h->dc, h->vdc, v[t]);
        delay = ENHANCE_VOCODER_MAX_LOOKAHEAD + ENHANCE_OUTPUT_DELAY - model_vocoder_latency(m);
        warm_after = 1 + (ENHANCE_VOCODER_MAX_LOOKAHEAD + ENHANCE_OUTPUT_DELAY + ENHANCE_HOP - 1) /
                             ENHANCE_HOP;
    }
    for (int t = 0; t < ENHANCE_HOP; t++)
        h->vline[(h->vpos + t + delay) % L] = v[t];
    for (int t = 0; t < ENHANCE_HOP; t++)
        v[t] = h->vline[(h->vpos + t) % L];
    h->vpos = (h->vpos + ENHANCE_HOP) % L;
    h->voc_frames++;
    const int warm = h->voc_frames > warm_after;
    if (refiner)
        /* the refiner's change, DC-blocked as a vocoder's output is (the prior already is); the
         * blocker starts with the first refined hop (before it, v - m is just -m) */
        for (int t = 0; t < ENHANCE_HOP; t++)
            v[t] = warm ? biquad_run(&h->dc, h->vdc, v[t] - mid[t]) : 0.0f;
    float w0 = h->voc_w, w1 = want && warm ? 1.0f : 0.0f;
    const int C = h->channels;
    double em = 0.0, ec[MAX_CH] = {0.0};
    for (int t = 0; t < ENHANCE_HOP; t++) {
        em += (double)mid[t] * mid[t];
        for (int c = 0; c < C; c++)
            ec[c] += (double)out[c][t] * out[c][t];
    }
    float k1[MAX_CH], r1[MAX_CH];
    channel_levels(ec, em, C, k1, r1);
    for (int c = 0; c < C; c++)
        /* a channel that is digital silence in mode 1 stays so for the whole hop (a refiner's
         * correction of silence, a vocoder's noise floor), not from the last hop's level on */
        if (h->voc_frames <= 1 || ec[c] == 0.0) h->vk[c] = k1[c], h->vr[c] = r1[c];
    for (int t = 0; t < ENHANCE_HOP; t++) {
        float a = (float)(t + 1) / ENHANCE_HOP, w = w0 + (w1 - w0) * a;
        for (int c = 0; c < C; c++) {
            float k = h->vk[c] + (k1[c] - h->vk[c]) * a, r = h->vr[c] + (r1[c] - h->vr[c]) * a;
            if (refiner)
                out[c][t] += w * (k * v[t]);
            else
                out[c][t] += w * (r * v[t] - k * mid[t]);
        }
    }
    for (int c = 0; c < C; c++) {
        h->vk[c] = k1[c];
        h->vr[c] = r1[c];
    }
    h->voc_w = w1;
    if (w1 > 0.0f) h->effective_mode = MENHANCE_MODE_MEL2MEL_VOCODER;
    if (!want && w1 == 0.0f) h->voc_running = 0;
}

/* Splits each band into its tonal and noise-like parts (bin weights from the stationarity
 * detector): obs[b] is the band's power as if every bin held what its noise-like bins hold,
 * or -1 when too little of the band is noise-like to say (or the STFT window is not full
 * yet); tband[b] is the share of the band's power in tonal bins. */
static void split_bands(enhance *h, int now) {
    const int valid = h->frame >= STFT_FULL;
    for (int b = 0; b < ENHANCE_MELS; b++) {
        const float *w = h->filt + (size_t)b * BINS;
        float sw = 0, swn = 0, spn = 0, sp = 0, spt = 0;
        for (int k = h->blo[b]; k <= h->bhi[b]; k++) {
            float wk = w[k], t = h->tw[k], pk = wk * h->power[k];
            sw += wk;
            swn += wk * (1.0f - t);
            spn += pk * (1.0f - t);
            sp += pk;
            spt += pk * t;
        }
        float tb = sp > 0.0f ? spt / sp : 1.0f;
        h->tband[now][b] = tb;
        h->tslow[b] = h->a_slow * h->tslow[b] + (1.0f - h->a_slow) * tb;
        h->tlong[b] = h->a_long * h->tlong[b] + (1.0f - h->a_long) * tb;
        int learn = valid && swn >= MIN_NOISE_SHARE * sw && h->tslow[b] < TONAL_HOLD;
        h->obs[b] = learn ? spn / swn * sw : -1.0f;
    }
}

/* Share of a gain (in dB) a band keeps given its tonal share: none from GUARD_FULL up (a
 * band of steady partials, beating ones included, rarely reads above 0.9 tonal), all of it
 * from GUARD_NONE down. */
static float guard(float tonal_share) {
    float u = (GUARD_FULL - tonal_share) / (GUARD_FULL - GUARD_NONE);
    return u > 1.0f ? 1.0f : (u < 0.0f ? 0.0f : u);
}

/* The network's view of the classical suppressor (enhance_classical_feature): the feature
 * tracker's gain for the newest frame with the per-frame tonal guard the classical path applies,
 * in log2 power units.  Before the STFT window is full the tracker has learnt nothing: 0. */
static void classical_feature(enhance *h, int now) {
    float g[ENHANCE_MELS];
    denoise_process_guided(h->dnf, h->melpow, h->obs, g);
    for (int b = 0; b < ENHANCE_MELS; b++) {
        const float u = guard(fmaxf(h->tband[now][b], h->tslow[b]));
        h->feat[b] = 2.0f * u * log2f(fmaxf(g[b], 1e-6f));
    }
}

void enhance_classical_feature(const enhance *h, float *out) {
    memcpy(out, h->feat, sizeof h->feat);
}

static int onset_at(const enhance *h, long long k) {
    if (k < 1) return 0;
    float e = h->ehop[k % EHOP], prev = h->ehop[(k - 1) % EHOP];
    return e > ONSET_RATIO * prev && e > ONSET_MIN_ENERGY * ENHANCE_HOP;
}

void enhance_hold_noise(enhance *h, const float *profile) {
    h->held = profile != NULL;
    if (profile) memcpy(h->held_profile, profile, sizeof h->held_profile);
    hold_trackers(h, profile);
    h->pinned = NULL; /* model_frame gives the network the new floor (or none) */
    h->held_version++;
}

int enhance_noise_profile(const enhance *h, float *profile, unsigned *version) {
    if (version) *version = h->held_version;
    if (h->held && profile) memcpy(profile, h->held_profile, sizeof h->held_profile);
    return h->held;
}

/* Learn noise: while p->learn_noise is on, the real frames' band powers and the network's floor
 * feature are averaged (the trackers keep following the input meanwhile, a held floor is let
 * go); when it goes off, the averages become the held floor.  The classical floor is the mean
 * power (the noise's power spectral density, what the Wiener rule wants); the network's is the
 * mean of its own floor feature over the turn (the values it was trained to read), or of the
 * log-mel where no network ran. */
static void learn_noise(enhance *h, const enhance_params *p, const menhance_model *model, int now) {
    if (p->learn_noise) {
        if (!h->learning) {
            h->learning = 1;
            h->lcount = h->lcount_model = 0;
            memset(h->lpow, 0, sizeof h->lpow);
            memset(h->lfloor, 0, sizeof h->lfloor);
            memset(h->llog, 0, sizeof h->llog);
            if (h->held) enhance_hold_noise(h, NULL);
        }
        /* the network's features' log-mel where it reads them, else the plain one */
        const float *x = model && model_has_mel2mel(model) ? h->logmel_m[now] : h->logmel[now];
        if (h->frame < STFT_FULL || at_floor(x)) return;
        float f[ENHANCE_MELS];
        const int mf = h->mfed && model_floor(model, f);
        for (int b = 0; b < ENHANCE_MELS; b++) {
            h->lpow[b] += h->melpow[b];
            h->llog[b] += x[b];
            if (mf) h->lfloor[b] += f[b];
        }
        h->lcount++;
        h->lcount_model += mf;
        return;
    }
    if (!h->learning) return;
    h->learning = 0;
    if (h->lcount < LEARN_MIN_FRAMES) {
        h->held_version++; /* a touch of the switch: nothing learnt, the trackers follow */
        return;
    }
    float prof[ENHANCE_NOISE_PROFILE];
    const int use_model = h->lcount_model * 2 >= h->lcount;
    for (int b = 0; b < ENHANCE_MELS; b++) {
        prof[b] = (float)(h->lpow[b] / (double)h->lcount);
        prof[ENHANCE_MELS + b] = use_model ? (float)(h->lfloor[b] / (double)h->lcount_model)
                                           : (float)(h->llog[b] / (double)h->lcount);
    }
    enhance_hold_noise(h, prof);
}

void enhance_process(enhance *h, const float *const *in, float *const *out, const enhance_params *p,
                     menhance_model *model) {
    const int C = h->channels;
    const int now = (int)(h->frame % HIST);
    const int old = (int)((h->frame + 1) % HIST); /* frame f - LA */

    /* Analysis, and the linked power: one decision for all channels keeps the image. */
    for (int k = 0; k < BINS; k++)
        h->power[k] = 0.0f;
    float e = 0.0f;
    for (int c = 0; c < C; c++) {
        stft_analyze(h->st[c], in[c], h->re[c][now], h->im[c][now]);
        for (int k = 0; k < BINS; k++) {
            float r = h->re[c][now][k], i = h->im[c][now][k];
            h->power[k] += (r * r + i * i) / (float)C;
        }
        for (int t = 0; t < ENHANCE_HOP; t++)
            e += in[c][t] * in[c][t] / (float)C;
    }
    h->ehop[h->frame % EHOP] = e;
    mel_apply(h->mel, h->power, h->melpow);
    mel_to_log(h->mel, h->melpow, h->logmel[now]);
    /* The model's features, only where a Mel2Mel will read them: a model's first valid output
     * (model_mel2mel_frame, after its warm-up) is for a frame it was fed, so no stale frame is
     * ever used when one is loaded later. */
    if (model && model_has_mel2mel(model)) {
        for (int k = 0; k < BINS; k++)
            h->power_m[k] = h->power[k] * h->feq[k];
        mel_apply(h->mel, h->power_m, h->melpow_m);
        mel_to_log(h->mel, h->melpow_m, h->logmel_m[now]);
    }
    /* A window still filling up (the first frames) jumps by its fill, not by its content. */
    if (h->frame >= STFT_FULL)
        tonal_process(h->ton, h->power, h->tw);
    else
        for (int k = 0; k < BINS; k++)
            h->tw[k] = h->primed ? 0.0f : 1.0f;
    split_bands(h, now);

    denoise_set(h->dn, p->strength, p->max_atten_db);
    denoise_process_guided(h->dn, h->melpow, h->obs, h->gcl[now]);
    classical_feature(h, now);

    /* Model gains in log2 amplitude: cut no deeper than the user's limit, lift at most
     * MODEL_MAX_BOOST_DB, and leave content that has held steady for seconds alone in
     * proportion to its share of the band (a drone is music, whatever the network makes of
     * it: issue 8 measured a clean 440 Hz sine losing 7.8 dB; see TONAL_LONG_S). */
    const float lo2 = -p->max_atten_db / (20.0f * 0.30103f);
    const float hi2 = MODEL_MAX_BOOST_DB / (20.0f * 0.30103f);
    float clean[ENHANCE_MELS];
    if (model) {
        float k[3] = {p->heads[0], p->heads[1], p->heads[2]};
        k[2] *= (float)h->mframes / (float)TONE_WARMUP_FRAMES;
        model_set_strength(model, k);
    }
    int have_model = model_frame(h, model, now, clean);
    if (have_model) {
        prime_tone(h, model, p, clean);
        memcpy(h->clast, clean, sizeof clean);
    } else
        memcpy(clean, h->clast, sizeof clean); /* read only by a vocoder fading out */
    learn_noise(h, p, model, now);
    int want_model = p->mode != MENHANCE_MODE_CLASSICAL && have_model;
    /* A stream that starts in a model mode passes the input untouched until the model has
     * filled its look-ahead, then takes the model's gains at once.  Crossfading in from the
     * classical gains, which a primed tracker applies from the first frame, cut clean music
     * for the first 100 ms: most of what the engine added to clean and nearly clean clips
     * beyond the network's own change (make eval, noise condition).  Switching modes later
     * still crossfades. */
    const int model_mode = p->mode != MENHANCE_MODE_CLASSICAL && model && model_has_mel2mel(model);
    if (h->start && (!model_mode || have_model)) {
        h->start = 0;
        if (have_model) h->mix = 1.0f;
    }
    h->effective_mode = want_model || h->start ? MENHANCE_MODE_MEL2MEL : MENHANCE_MODE_CLASSICAL;
    float target = want_model ? 1.0f : 0.0f;
    float step = 1.0f / MIX_FRAMES;
    if (h->mix < target) h->mix = fminf(target, h->mix + step);
    if (h->mix > target) h->mix = fmaxf(target, h->mix - step);

    /* Pre-echo: a frame's gain reaches back over its whole window, so a frame whose second
     * half holds an attack may not raise its gain above the previous frame's (the attack
     * opens the gate only from frames centred on or after it), and no frame holding an
     * attack may lift (> 1) beyond what the previous frame lifted. */
    const long long fo = h->frame - LA;
    /* ... and a frame just before an attack that the network already sees in its look-ahead may
     * not raise its gain either: a model that eases its noise cut ahead of a hit lifts the hiss
     * there over its treatment elsewhere (the noise/room/tone model: +2 dB in the 30 ms before
     * snare hits). */
    const int after = onset_at(h, fo) || onset_at(h, fo - 1) || onset_at(h, fo - 2) ||
                      onset_at(h, fo + 1) || onset_at(h, fo + 2);
    const int any = after || onset_at(h, fo - 3);
    for (int b = 0; b < ENHANCE_MELS; b++) {
        /* The same respect for held notes in the classical gains: a band that is mostly
         * steady partials is cut only in proportion to its noise-like share. */
        const float u = guard(fmaxf(h->tband[old][b], h->tslow[b]));
        float g = h->start ? 1.0f : powf(h->gcl[old][b], u);
        if (h->mix > 0.0f && have_model) {
            float l2 = 0.5f * (clean[b] - h->logmel_m[old][b]); /* log2 power ratio / 2 */
            if (!(l2 == l2)) l2 = 0.0f;
            /* A band at the log floor says nothing of what it should hold: never lifted (a
             * fade's tail or a silent frame must not come up by MODEL_MAX_BOOST_DB). */
            if (at_log_floor(h->logmel_m[old][b])) l2 = fminf(l2, 0.0f);
            l2 = fminf(fmaxf(l2, lo2), hi2) * guard(h->tlong[b]);
            g = h->mix * exp2f(l2) + (1.0f - h->mix) * g;
        }
        if (after) g = fminf(g, h->gprev[b]);
        if (any) g = fminf(g, fmaxf(1.0f, h->gprev[b]));
        h->band[b] = g;
        h->gprev[b] = g;
    }
    /* The top bands' mean gain in log terms, cuts only: above 8 kHz nothing says a lift is
     * right, and a lift there would raise hiss. */
    float lg = 0.0f;
    for (int b = h->btop; b < ENHANCE_MELS; b++)
        lg += log2f(fmaxf(h->band[b], 1e-6f));
    /* The hop that leaves now is the first of frame f - LA's window, whose centre lies 1.5 hops
     * later: it takes the gains of the two frames before it, whichever cuts more, so the verdict
     * is never ahead of the samples it is applied to.  (Pre-echo in the high band is kept off by
     * engine.c, which smooths this verdict over HI_SMOOTH_S and leaves the timing to the
     * classical tracker.) */
    float gtop = fminf(1.0f, exp2f(lg / (float)(ENHANCE_MELS - h->btop)));
    /* ... and the hop leaves one hop later still (ENHANCE_OUTPUT_DELAY): the verdict waits too */
    h->hi_gain = h->hi_pend_gain;
    h->hi_share = h->hi_pend_share;
    h->hi_pend_gain = fminf(h->hi_prev[0], h->hi_prev[1]);
    h->hi_prev[1] = h->hi_prev[0];
    h->hi_prev[0] = gtop;
    h->hi_pend_share = h->start ? 1.0f : have_model ? h->mix : 0.0f;
    mel_gains_to_bins(h->mel, h->band, h->bin_gain);
    for (int k = 0; k < h->nlow; k++)
        h->bin_gain[k] = fminf(h->bin_gain[k], 1.0f);

    /* The hop made one hop ago leaves now (ENHANCE_OUTPUT_DELAY); this one waits. */
    float yre[BINS], yim[BINS], cur[ENHANCE_HOP], cur_mid[ENHANCE_HOP];
    for (int t = 0; t < ENHANCE_HOP; t++)
        cur_mid[t] = 0.0f;
    for (int c = 0; c < C; c++) {
        for (int k = 0; k < BINS; k++) {
            yre[k] = h->re[c][old][k] * h->bin_gain[k];
            yim[k] = h->im[c][old][k] * h->bin_gain[k];
        }
        stft_synthesize(h->st[c], yre, yim, cur);
        memcpy(out[c], h->pend[c], sizeof cur);
        memcpy(h->pend[c], cur, sizeof cur);
        for (int t = 0; t < ENHANCE_HOP; t++)
            cur_mid[t] += cur[t];
    }
    float mid[ENHANCE_HOP];
    memcpy(mid, h->pend_mid, sizeof mid);
    for (int t = 0; t < ENHANCE_HOP; t++)
        h->pend_mid[t] = cur_mid[t] /= (float)C;
    /* the refiner's conditioning: frame f - LA - 2's cleaned mel (vocode()) */
    if (have_model) {
        memcpy(h->cring[h->frame % 3], clean, sizeof clean);
        if (h->cvalid < 3) h->cvalid++;
    } else {
        h->cvalid = 0;
    }
    int want_voc =
        want_model && p->mode == MENHANCE_MODE_MEL2MEL_VOCODER && model_has_vocoder(model);
    if (model_vocoder_is_refiner(model) && h->cvalid < 3) want_voc = 0;
    vocode(h, model, want_voc, clean, cur_mid, out, mid);
    h->mid_last = cur_mid[ENHANCE_HOP - 1];
    h->frame++;
}

int enhance_prime_begin(enhance *h) {
    enhance_reset(h);
    h->priming = 1;
    memset(h->tsum, 0, sizeof h->tsum);
    h->twsum = 0.0;
    h->tcount = 0;
    if (denoise_prime_begin(h->dnf)) return -1;
    return denoise_prime_begin(h->dn);
}

void enhance_prime_end(enhance *h) {
    denoise_prime_end(h->dn);
    denoise_prime_end(h->dnf);
    h->priming = 0;
    /* The weighted mean of the verdicts, as sure as the live warm-up would be after as much
     * audio: a clip shorter than TONE_WARMUP_S gives a proportionally weaker verdict. */
    if (h->twsum > 0.0) {
        const double sure = fmin(1.0, (double)h->tcount / TONE_WARMUP_FRAMES);
        for (int b = 0; b < ENHANCE_MELS; b++)
            h->tone_primed[b] = (float)(h->tsum[b] / h->twsum * sure);
        h->tone_valid = 1;
    }
}

void enhance_take_tone(enhance *dst, const enhance *src, const menhance_model *model) {
    dst->tone_valid = src->tone_valid && model;
    memcpy(dst->tone_primed, src->tone_primed, sizeof dst->tone_primed);
    dst->tone_for = model;
}

void enhance_tone_clean(const float *in, float *out) {
    for (int b = 0; b < ENHANCE_MELS; b++) {
        const float v = in[b];
        out[b] = v == v ? fminf(fmaxf(v, -TONE_PROFILE_MAX), TONE_PROFILE_MAX) : 0.0f;
    }
}

void enhance_hold_tone(enhance *h, const float *profile) {
    h->tone_held = profile != NULL;
    if (profile) enhance_tone_clean(profile, h->tone_held_profile);
}

int enhance_tone_profile(const enhance *h, float *profile) {
    if (live_tone(h, profile)) return 1;
    /* a primed verdict counts only for the model it was primed with (as in prime_tone) */
    const int primed = h->tone_valid && (!h->last_model || h->tone_for == h->last_model);
    const float *v = primed ? h->tone_primed : h->tone_held ? h->tone_held_profile : NULL;
    if (!v) return 0;
    memcpy(profile, v, sizeof(float) * ENHANCE_MELS);
    return 1;
}

void enhance_take_noise(enhance *dst, const enhance *src) {
    denoise_take_noise(dst->dn, src->dn);
    denoise_take_noise(dst->dnf, src->dnf);
    if (dst->held) hold_trackers(dst, dst->held_profile); /* the user's floor wins */
    /* With a known floor the start needs no tonal caution: levels decide at once. */
    tonal_reset_noise(dst->ton);
    for (int b = 0; b < ENHANCE_MELS; b++)
        dst->tslow[b] = 0.0f;
    dst->primed = 1;
}

void enhance_hiband(const enhance *h, float *gain, float *share) {
    *gain = h->hi_gain;
    *share = h->hi_share;
}

void enhance_set_feature_eq(enhance *h, const float *feq) {
    for (int k = 0; k < BINS; k++)
        h->feq[k] = feq[k];
}
