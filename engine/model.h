/* Internal side of menhance_model: the loaded networks plus their streaming state. */
#ifndef MENHANCE_MODEL_H
#define MENHANCE_MODEL_H
#include "engine/menhance.h"

/* Cleans one frame of log2-mel (ENHANCE_MELS values); cf: the same frame's classical feature
 * (enhance_classical_feature), read by models that take it.  Returns 1 and writes the cleaned
 * frame that belongs to the input frame model_lookahead() frames ago, or 0 while warming up. */
int model_mel2mel_frame(menhance_model *m, const float *logmel, const float *cf, float *clean);
int model_lookahead(const menhance_model *m);
/* Strengths of a noise/room/tone model's heads (noise, room, tone) for the frames that follow;
 * ignored by models without heads.  Real-time safe. */
void model_set_strength(menhance_model *m, const float k[3]);
int model_has_mel2mel(const menhance_model *m);
/* The network's noise-floor feature of the last frame (ENHANCE_MELS log2 powers): 1 and
 * written to out, or 0 when the network has none.  Real-time safe. */
int model_floor(const menhance_model *m, float *out);
/* Holds the network's noise-floor feature at floor (ENHANCE_MELS log2 powers), NULL tracks
 * again.  Real-time safe. */
void model_pin_floor(menhance_model *m, const float *floor);
/* Clears the streaming state (the weights stay). */
void model_reset(menhance_model *m);
/* A noise/room/tone model's unscaled head gains behind its last frame out (3 x ENHANCE_MELS
 * log2 power units: noise, room, tone; nn_m2m_stream_heads), or NULL for other models.
 * Real-time safe. */
const float *model_heads(const menhance_model *m);
/* A model that shares m's Mel2Mel weights with a streaming state of its own and no vocoder,
 * for a twin engine that runs beside m's (menhance_prime); NULL when m has no Mel2Mel or
 * memory runs out.  Free it with menhance_model_free before m.  Not real-time safe. */
menhance_model *model_twin(const menhance_model *m);

/* Most steps a refiner's metadata may list. */
#define MODEL_MAX_REFINE_STEPS 8

/* The streaming vocoder, if the file has one that fits the real-time look-ahead budget. */
int model_has_vocoder(const menhance_model *m);
/* Samples of look-ahead of the vocoder (latency of model_vocoder_frame). */
int model_vocoder_latency(const menhance_model *m);
/* One cleaned log2-mel frame (centre framing) in, ENHANCE_HOP samples out: vocoded audio
 * model_vocoder_latency() samples behind the frame's centre hop.  Real-time safe. */
void model_vocoder_frame(menhance_model *m, const float *logmel, float *out);
void model_vocoder_reset(menhance_model *m);
/* Whether the vocoder is a refiner (train/refiner.py): it takes mode 1's waveform as its prior
 * (model_refine_frame) instead of starting from noise. */
int model_vocoder_is_refiner(const menhance_model *m);
/* The refiner's step: one cleaned log2-mel frame (the refiner's framing: it conditions the
 * ENHANCE_HOP prior samples given with it) and those prior samples in, ENHANCE_HOP refined
 * samples out, model_vocoder_latency() samples behind the prior.  Real-time safe. */
void model_refine_frame(menhance_model *m, const float *logmel, const float *prior, float *out);
#endif
