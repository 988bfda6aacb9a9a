/* The offline reference path of the menhance CLI (`--offline`): best quality, not real time,
 * the way the reference system ran (DESIGN.md section 1).
 *
 *   host audio -> mono 16 kHz (channel average, speexdsp quality 10, delay removed exactly)
 *   -> centre-framed log2-mel (stft_power_offline + mel_log, the training front end)
 *   -> Mel2Mel over the whole clip (streaming models exactly; the "resnet" in windows of 512
 *      frames with 32-frame crossfades, since its InstanceNorm statistics and activations
 *      grow with the clip)
 *   -> DiffWave (full 50-step training schedule by default, its fast schedule, or N steps
 *      respaced from the training schedule) or Griffin-Lim
 *   -> back to the host rate, the input's length and channel count (mono result in every
 *      channel), aligned sample for sample with the input; where a channel of the input is
 *      digital silence (away from its sound by more than the analysis can smear), so is the
 *      output.
 *
 * The whole clip is held in memory (about 12 bytes per host sample and channel plus
 * about 14 kB per 16 ms mel frame for Griffin-Lim). */
#ifndef MENHANCE_TOOLS_OFFLINE_H
#define MENHANCE_TOOLS_OFFLINE_H
#include <stddef.h>

#define OFFLINE_RATE 16000
#define OFFLINE_DEFAULT_GL_ITERS 32

typedef struct offline offline;

typedef struct {
    /* Mel2Mel file; NULL: menhance_default_model_path(); "none": no Mel2Mel (resynthesis). */
    const char *mel2mel_path;
    /* DiffWave file; NULL: the Mel2Mel file (or the default model with "none") when it holds
     * "diffwave" metadata, else Griffin-Lim with a warning. */
    const char *vocoder_path;
    /* 0: a DiffWave that has not passed its quality gate (tools/vocoder_gate.h) is replaced
     * by Griffin-Lim with a warning; 1: it runs anyway. */
    int experimental_vocoder;
    /* 1: every fallback to Griffin-Lim (no DiffWave, or one short of the gate) is an error. */
    int strict;
    int steps;               /* DiffWave steps; 0: the full training schedule */
    int griffin_lim;         /* > 0: Griffin-Lim with this many iterations instead of DiffWave */
    int window;              /* resnet Mel2Mel window in frames (0: 512) */
    int overlap;             /* its crossfade in frames (0: 32) */
    unsigned long long seed; /* vocoder noise / initial phase (0: 1) */
} offline_config;

/* Loads the networks.  NULL with a message in err for unusable files; warn (may be NULL)
 * receives a warning, e.g. the fallback to Griffin-Lim, or "" when there is none. */
offline *offline_create(const offline_config *cfg, char *err, size_t errlen, char *warn,
                        size_t warnlen);
void offline_destroy(offline *o);
/* One line: which networks and settings run. */
const char *offline_describe(const offline *o);

typedef void (*offline_progress_fn)(void *user, double fraction);

/* in: frames x channels interleaved at `rate`; out: the same layout and length (may not
 * alias in).  channels 1..8, rate 8000..192000, frames >= 1.  Returns 0, or -1 with a message. */
int offline_process(offline *o, const float *in, long frames, int channels, int rate, float *out,
                    offline_progress_fn fn, void *user, char *err, size_t errlen);

/* Stages, exposed for tests.  offline_to_model_rate: interleaved host audio -> mono 16 kHz
 * of ceil(frames * 16000 / rate) samples (*n16), sample j being the input at host time
 * j * rate / 16000 (malloc'd; NULL on failure).  offline_from_model_rate: the inverse
 * direction, x16[0..n16) -> out, frames x channels interleaved, out sample k being x16 at
 * 16 kHz time k * 16000 / rate (samples past n16 read as silence).  Returns 0 or -1. */
float *offline_to_model_rate(const float *in, long frames, int channels, int rate, long *n16);
int offline_from_model_rate(const float *x16, long n16, int rate, int channels, long frames,
                            float *out);
#endif
