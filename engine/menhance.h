/* menhance engine: the one public API that the LV2 plugin, the CLI and the tests drive.
 *
 * Host-rate audio in, host-rate audio out, with a constant latency fixed at create.
 * Internally: resample to 16 kHz, STFT/mel front end, enhancement on a worker thread fed by
 * lock-free rings (or inline when synchronous), overlap-add, resample back, plus a classical
 * high band above 8 kHz, dry/wet and click-free bypass.  Everything but the dry part of
 * the dry/wet mix and the bypass is DC-blocked (5 Hz 1st-order high-pass), and the output passes a
 * -1 dBTP true-peak limiter (params.limiter) whose look-ahead is inside the latency.
 * Digital silence in gives digital silence out in every mode.
 *
 * Threading: menhance_process and the menhance_set_* calls belong to one (audio) thread and
 * are real-time safe: no allocation, locks, waits, logging or file access.  Everything else
 * (create, destroy, model load/free) may block and must stay off the audio thread. */
#ifndef MENHANCE_H
#define MENHANCE_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct menhance menhance;
typedef struct menhance_model menhance_model;

typedef enum {
    MENHANCE_MODE_CLASSICAL = 0,       /* mel-band Wiener suppression, input phase */
    MENHANCE_MODE_MEL2MEL = 1,         /* streaming Mel2Mel magnitudes on the input's phase */
    MENHANCE_MODE_MEL2MEL_VOCODER = 2, /* Mel2Mel + streaming DiffWave vocoder */
    MENHANCE_MODE_COUNT
} menhance_mode;

typedef struct {
    int sample_rate;   /* host rate, 8000..192000 */
    int channels;      /* 1 or 2 (stereo is linked: one shared gain decision) */
    int max_block;     /* largest block process() will see */
    int nominal_block; /* typical block; sizes the worker's slack (0: 1024) */
    int threaded;      /* 1: enhancement on an engine-owned worker thread; 0: inline */
} menhance_config;

typedef struct {
    float amount;       /* dry/wet, 0..1 */
    float hiband;       /* high band (above 8 kHz) amount: 0 removes it, 1 keeps it denoised
                         * (a classical tracker; in the model modes it cuts only as far as the
                         * model cuts 6-8 kHz, so a band the model leaves alone passes) */
    float strength;     /* classical suppression strength, 0..2 */
    float max_atten_db; /* deepest classical cut, 0..40 dB */
    int mode;           /* menhance_mode */
    int enabled;        /* 0: bypass (delayed dry, crossfaded, latency unchanged) */
    int synchronous;    /* 1: compute inline (freewheeling/offline): deterministic */
    int limiter;        /* 1 (default): output true peaks held under -1 dBTP; 0: off.
                         * Latency is the same either way; switching is click-free. */
    /* Strengths of the model's three parts, 0..2 (1 = as trained, the default; 0 leaves that
     * part of the recording untouched; 2 twice the part's gain in dB): noise (additive noise,
     * cuts only), room (late reverberation, cuts only), tone (the colouration, may lift).  They
     * scale the heads of a noise/room/tone model before Max attenuation bounds the sum; a model
     * without separate heads ignores them. */
    float noise, room, tone;
    /* 1: the output is what the processing takes away (the delayed input minus the enhanced
     * signal, before the limiter), so a user can hear whether music is being removed; ramped
     * like Amount.  0 (default): the enhanced signal. */
    int listen_removed;
    /* Learn noise, as noise-repellent's and Audacity's noise profile: while 1, the engine learns
     * the noise floor from what it hears (play it the room tone before the band starts; the
     * trackers keep following the input meanwhile); when it goes back to 0 the floor learnt is
     * held: the classical suppressor's noise estimate and the network's noise-floor input stay
     * there instead of following the input (menhance_get_noise_profile reads it for a saved
     * state).  A turn shorter than 0.5 s of audio learns nothing and lets the trackers follow
     * the input again.  The band above 8 kHz keeps its own tracker.  Default 0. */
    int learn_noise;
} menhance_params;

/* A held noise floor (learn_noise): the 128 mel bands' noise power as the classical suppressor
 * sees it, then the network's noise-floor feature (128 log2 mel powers). */
#define MENHANCE_NOISE_PROFILE_LEN 256

/* Fills p with the factory defaults. */
void menhance_params_default(menhance_params *p);

/* Creates an engine.  model may be NULL (classical only).  The engine takes ownership of
 * every model handed to it (create or swap) and frees whatever it still holds at destroy.
 * A model object carries its own streaming state, so one model serves one engine.
 * On failure returns NULL, writes a message into err, and the caller keeps the model. */
menhance *menhance_create(const menhance_config *cfg, menhance_model *model, char *err,
                          size_t errlen);
void menhance_destroy(menhance *e);

/* Constant latency in host samples, valid from create on. */
int menhance_latency(const menhance *e);

/* Real-time safe.  Parameters take effect at the next process call (ramped where audible). */
void menhance_set_params(menhance *e, const menhance_params *p);

/* Real-time safe.  in/out: channel pointers; in-place (in[c] == out[c]) is fine.
 * n may be anything from 0 to max_block. */
void menhance_process(menhance *e, const float *const *in, float *const *out, int n);

/* Clears all audio state (as after create), a primed noise floor included; not real-time
 * safe with a running worker. */
void menhance_reset(menhance *e);

/* The held noise floor (learn_noise): returns 1 and fills profile (MENHANCE_NOISE_PROFILE_LEN
 * values), or 0 when the trackers follow the input.  Safe from any thread (a host's save()
 * beside run()): lock-free, never waits on the audio thread; a floor learnt in the chunk
 * being processed shows from the next call. */
int menhance_get_noise_profile(menhance *e, float *profile);
/* Holds the noise floor at profile (a saved state's, menhance_get_noise_profile's layout) from
 * the next 16 kHz chunk on; NULL lets the trackers follow the input again.  Call from one
 * thread at a time (a host's restore(), the command line before processing); lock-free beside
 * run().  A held floor survives menhance_reset. */
void menhance_set_noise_profile(menhance *e, const float *profile);

/* The Tone verdict, for a saved state (a plugin's): the colouration the Tone head of a
 * noise/room/tone model judges this recording to have, MENHANCE_TONE_PROFILE_LEN values (the
 * 128 16 kHz mel bands' correction in log2 power units; 1 = +3.01 dB).  Once the live Tone head
 * has warmed up (4 s of audio) it is the mean of its verdicts over about the last 10 s; before
 * that, a primed (menhance_prime) or handed-in one.  Returns 1 and fills profile, or 0 when there
 * is none.  Safe from any thread beside run() (lock-free, never waits on the audio thread). */
#define MENHANCE_TONE_PROFILE_LEN 128
int menhance_get_tone_profile(menhance *e, float *profile);
/* Hands in a saved Tone verdict (menhance_get_tone_profile's layout; each value clamped to the
 * Tone head's +-12 dB, a NaN read as 0): after every reset or model change, while the live Tone
 * verdict fades in over its first 4 s, this one makes up the rest (scaled by the Tone control),
 * as a primed one does, so a reloaded session's first seconds are treated like the rest.
 * From the next 16 kHz chunk on; NULL clears it.  Call from one thread at a time (a host's
 * restore()); lock-free beside run().  Survives menhance_reset. */
void menhance_set_tone_profile(menhance *e, const float *profile);

/* Primes the classical noise trackers (16 kHz mel bands and the high band) from audio given
 * ahead of time, so the suppressor treats the start of a file like the rest of it instead of
 * learning for 1.5 s first; with a noise/room/tone model, also the Tone correction, which then
 * applies from the first frame instead of fading in over 4 s (engine/enhance.c TONE_WARMUP_S;
 * docs/engine.md).  in: channels x n host-rate samples, typically the whole file or
 * its first 30 s; the noise floor installed per band is the 20th percentile of what the
 * tracker learns over that audio (tonal content is not learnt as noise).  Call after create
 * or reset and before the first menhance_process; it changes no audio history, latency or
 * alignment.  Not real-time safe (allocates, runs the analysis of the whole input: about
 * 1 % of a core's real time, 2-3 % with a noise/room/tone model).  Returns 0, or -1 when out of
 * memory (nothing changed). Without priming (live use) the suppression fades in as the trackers
 * learn, at most max_atten_db per 1.5 s of evidence, never in one step. */
int menhance_prime(menhance *e, const float *const *in, long long n);

/* Models (nn/ networks plus their front-end metadata), loaded off the audio thread. */
menhance_model *menhance_model_load(const char *path, char *err, size_t errlen);
void menhance_model_free(menhance_model *m);
const char *menhance_model_describe(const menhance_model *m);
/* 1 if the model carries a streaming vocoder (mode MEL2MEL_VOCODER), else 0. */
int menhance_model_has_vocoder(const menhance_model *m);
/* Finds the shipped default model: only in $MENHANCE_MODEL_DIR when that is set, else in the
 * installed DATADIR/models, then the source tree's models/.  Writes the path into buf and
 * returns 1, or returns 0. */
int menhance_default_model_path(char *buf, size_t len);

/* Real-time safe: hands a new model (or NULL for classical only) to the engine, which
 * switches at the next chunk.  Returns a model that is now safe to free (a previous swap
 * that was never picked up), else NULL.  Models the engine retires later come back from
 * menhance_collect_model(), to be called off the audio thread (one thread only, e.g. the
 * LV2 worker) and freed there. */
menhance_model *menhance_swap_model(menhance *e, menhance_model *m);
menhance_model *menhance_collect_model(menhance *e);

/* Offline reference path (the CLI's `--offline`): the way the reference system ran (DESIGN.md
 * section 1), for comparison; not real time.
 *
 *   host audio -> mono 16 kHz (channel average, speexdsp quality 10, delay removed exactly)
 *   -> centre-framed log2-mel (stft_power_offline + mel_log, the training front end)
 *   -> Mel2Mel over the whole clip (streaming models exactly; the "resnet" in windows of 512
 *      frames with 32-frame crossfades, since its InstanceNorm statistics and activations
 *      grow with the clip)
 *   -> DiffWave (full 50-step training schedule by default, its fast schedule, or N steps
 *      respaced from the training schedule) or Griffin-Lim
 *   -> back to the host rate, the input's length, aligned sample for sample with the input,
 *      and into each channel as the live mode 2 does: the mono result takes the place of the
 *      channels' common 16 kHz part, each channel at its own level, each keeping its own
 *      difference from that part (the stereo image) and its own band above 8 kHz, denoised as
 *      the live high band is (engine/hiband.c, default strength and Max attenuation); where a
 *      channel of the input is digital silence (away from its sound by more than the analysis
 *      can smear), so is the output.
 *
 * The whole clip is held in memory (about 24 bytes per host sample and channel plus
 * about 14 kB per 16 ms mel frame for Griffin-Lim). */
typedef struct menhance_offline menhance_offline;

#define MENHANCE_OFFLINE_DEFAULT_GL_ITERS 32

typedef struct {
    /* Mel2Mel file; NULL: menhance_default_model_path(); "none": no Mel2Mel (resynthesis). */
    const char *mel2mel_path;
    /* DiffWave file; NULL: the Mel2Mel file (or the default model with "none") when it holds
     * "diffwave" metadata, else Griffin-Lim with a warning. */
    const char *vocoder_path;
    /* 0: a DiffWave that has not passed its quality gate (menhance_vocoder_gate_passed) is replaced
     * by Griffin-Lim with a warning; 1: it runs anyway. */
    int experimental_vocoder;
    /* 1: every fallback to Griffin-Lim (no DiffWave, or one short of the gate) is an error. */
    int strict;
    int steps;               /* DiffWave steps; 0: the full training schedule */
    int griffin_lim;         /* > 0: Griffin-Lim with this many iterations instead of DiffWave */
    int window;              /* resnet Mel2Mel window in frames (0: 512) */
    int overlap;             /* its crossfade in frames (0: 32) */
    unsigned long long seed; /* vocoder noise / initial phase (0: 1) */
    /* 0: the whole output is lowered to a -1 dBFS peak when it would exceed it (the live
     * limiter's -1 dBTP ceiling as a sample peak, one gain for the clip); 1: peaks pass. */
    int keep_peaks;
} menhance_offline_config;

/* Told the fraction of the work done, 0..1. */
typedef void (*menhance_progress_fn)(void *user, double fraction);

/* Loads the networks.  NULL with a message in err for unusable files; warn (may be NULL)
 * receives a warning, e.g. the fallback to Griffin-Lim, or "" when there is none. */
menhance_offline *menhance_offline_create(const menhance_offline_config *cfg, char *err,
                                          size_t errlen, char *warn, size_t warnlen);
void menhance_offline_destroy(menhance_offline *o);
/* One line: which networks and settings run. */
const char *menhance_offline_describe(const menhance_offline *o);

/* in: frames x channels interleaved at `rate`; out: the same layout and length (may not
 * alias in).  channels 1..8, rate 8000..192000, frames >= 1.  Returns 0, or -1 with a message. */
int menhance_offline_process(menhance_offline *o, const float *in, long frames, int channels,
                             int rate, float *out, menhance_progress_fn fn, void *user, char *err,
                             size_t errlen);

/* The gain (dB, <= 0) the last menhance_offline_process applied to keep the peak under the
 * ceiling; 0 when none was needed, keep_peaks was set, or the call failed. */
double menhance_offline_ceiling_gain_db(const menhance_offline *o);

/* Whether the model file at path carries a DiffWave vocoder that passed its quality gate
 * (metadata "vocoder_gate": {"passed": true, ...}, written by the training side when `make eval`
 * finds it no worse than Mel2Mel on the input's phase; issue 9).  1 passed, 0 not or unreadable. */
int menhance_vocoder_gate_passed(const char *path);

/* Counters for tests and meters. */
typedef struct {
    unsigned long long chunks_processed; /* worker chunks that arrived in time */
    unsigned long long chunks_late;      /* chunks replaced by the delayed dry signal */
    int effective_mode; /* the mode really running (a model mode without its model falls back) */
} menhance_stats;
void menhance_get_stats(const menhance *e, menhance_stats *s);

/* Tests only: makes the worker thread sleep this long before each chunk (and the second
 * value more for chunks in vocoder mode), to simulate a machine that cannot keep up. */
void menhance_debug_set_worker_delay(menhance *e, int microseconds, int vocoder_microseconds);

#ifdef __cplusplus
}
#endif
#endif
