/* menhance engine: the one public API that the LV2 plugin, the CLI and the tests drive.
 *
 * Host-rate audio in, host-rate audio out, with a constant latency fixed at create.
 * Internally: resample to 16 kHz, STFT/mel front end, enhancement on a worker thread fed by
 * lock-free rings (or inline when synchronous), overlap-add, resample back, plus a classical
 * high band above 8 kHz, dry/wet and click-free bypass.  Everything but the dry part of
 * the dry/wet mix and the bypass is DC-blocked (10 Hz high-pass), and the output passes a
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
    float hiband;       /* high band (above 8 kHz) amount: 0 removes it, 1 keeps it denoised */
    float strength;     /* classical suppression strength, 0..2 */
    float max_atten_db; /* deepest classical cut, 0..40 dB */
    int mode;           /* menhance_mode */
    int enabled;        /* 0: bypass (delayed dry, crossfaded, latency unchanged) */
    int synchronous;    /* 1: compute inline (freewheeling/offline): deterministic */
    int limiter;        /* 1 (default): output true peaks held under -1 dBTP; 0: off.
                         * Latency is the same either way; switching is click-free. */
} menhance_params;

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

/* Primes the classical noise trackers (16 kHz mel bands and the high band) from audio given
 * ahead of time, so the suppressor treats the start of a file like the rest of it instead of
 * learning for 1.5 s first.  in: channels x n host-rate samples, typically the whole file or
 * its first 30 s; the noise floor installed per band is the 20th percentile of what the
 * tracker learns over that audio (tonal content is not learnt as noise).  Call after create
 * or reset and before the first menhance_process; it changes no audio history, latency or
 * alignment.  Not real-time safe (allocates, runs the analysis of the whole input: about
 * 1 % of a core's real time).  Returns 0, or -1 when out of memory (nothing changed).
 * Without priming (live use) the suppression fades in as the trackers learn, at most
 * max_atten_db per 1.5 s of evidence, never in one step. */
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
