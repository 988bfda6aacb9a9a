/* Mel2Mel: log2-mel in, cleaned log2-mel out.  Three architectures, chosen by the model file's
 * "mel2mel" metadata (JSON, written by train/export.py from train/models.py):
 *
 *  "resnet"  the reference pix2pix ResNet generator (DESIGN section 1).  Whole-clip
 *            InstanceNorm: offline only (nn_m2m_offline_*).
 *  "gain"    per-band gains of a causal dilated 1-D convolution trunk (train/models.py
 *            Mel2MelGain), streamed frame by frame with cached history (nn_m2m_stream_*):
 *            output frame t estimates the clean frame t - nn_mel2mel_lookahead(), and any
 *            chunking gives the whole-clip output.  No BLAS: safe on the audio thread.
 *  "nrt"     the gain trunk with three heads whose gains are summed (train/models.py
 *            Mel2MelNRT): Noise and Room (per band and frame, cuts only) and Tone (slow,
 *            smooth across frequency, +-tone_db), each with its own strength
 *            (nn_m2m_stream_set_strength).
 * The earlier causal U-Net ("stream") was retired: a file that holds one is refused with a
 * message naming the replacement.
 *
 * Frames are n_mels floats (128); a clip of T frames is T x n_mels, row-major; the networks see
 * it as an image with H = time and W = frequency, as the PyTorch twins do.
 *
 * A loaded nn_mel2mel is immutable and may be shared by any number of streams/threads; each
 * stream or offline runner owns all its mutable state, allocated at create: processing
 * allocates nothing. */
#ifndef MENHANCE_NN_MEL2MEL_H
#define MENHANCE_NN_MEL2MEL_H
#include <stddef.h>

#include "nn/safetensors.h"

typedef struct nn_mel2mel nn_mel2mel;
typedef struct nn_m2m_stream nn_m2m_stream;
typedef struct nn_m2m_offline nn_m2m_offline;

/* Builds the network from f's metadata and "mel2mel.*" tensors.  NULL with a message on any
 * inconsistency (bad JSON, absurd sizes, missing/mis-shaped/non-finite tensors). */
nn_mel2mel *nn_mel2mel_load(const st_file *f, char *err, size_t errlen);
void nn_mel2mel_free(nn_mel2mel *net);

int nn_mel2mel_streaming(const nn_mel2mel *net); /* 1 for "gain" and "nrt" */
/* Gain heads whose strengths can be set: 3 for "nrt" (noise, room, tone), else 0. */
int nn_mel2mel_heads(const nn_mel2mel *net);
/* Frames of look-ahead of the streaming model (0 for "resnet", which is offline). */
int nn_mel2mel_lookahead(const nn_mel2mel *net);
int nn_mel2mel_n_mels(const nn_mel2mel *net);
double nn_mel2mel_macs_per_frame(const nn_mel2mel *net);
long long nn_mel2mel_params(const nn_mel2mel *net);
const char *nn_mel2mel_describe(const nn_mel2mel *net);

/* Streaming runner: NULL if net is not a streaming model or memory runs out. */
nn_m2m_stream *nn_m2m_stream_create(const nn_mel2mel *net);
void nn_m2m_stream_destroy(nn_m2m_stream *s);
/* Back to the state after create (history = silence at the normalisation mean). */
void nn_m2m_stream_reset(nn_m2m_stream *s);
/* in, out: n frames (n >= 0, any size); out[t] estimates the clean frame t - lookahead of
 * the stream.  Real-time safe.  in and out may not overlap. */
void nn_m2m_stream_process(nn_m2m_stream *s, const float *in, int n, float *out);
/* As nn_m2m_stream_process, with cf: n frames of the classical suppressor's log2 power gain per
 * band (engine/enhance.h enhance_classical_feature; values <= 0, anything else read as 0), the
 * fifth input of "nrt" models with classical_input (nn_mel2mel_classical_input); NULL reads 0 dB;
 * other models ignore it.  Real-time safe. */
void nn_m2m_stream_process_cf(nn_m2m_stream *s, const float *in, const float *cf, int n,
                              float *out);
/* 1 when the model reads the classical suppressor's gain (nn_m2m_stream_process_cf), else 0. */
int nn_mel2mel_classical_input(const nn_mel2mel *net);
/* "nrt" only (ignored otherwise): the frames that follow are x + k_noise * g_noise + k_room *
 * g_room + k_tone * g_tone, strength = {k_noise, k_room, k_tone} (1 = as trained, 0 = that head
 * off, 2 = twice its gain in log power).  Kept across reset; 1, 1, 1 after create.  Real-time
 * safe. */
void nn_m2m_stream_set_strength(nn_m2m_stream *s, const float strength[3]);
/* "nrt": the unscaled per-head gains behind the last frame out, 3 x n_mels log2 power units
 * (noise, room, tone); NULL for the other architectures. */
const float *nn_m2m_stream_heads(const nn_m2m_stream *s);
/* "gain" and "nrt" (the architectures with a noise-floor input, train/models.py
 * context_features): copies the floor feature of the last frame, n_mels log2 power values,
 * into out and returns n_mels; 0 for the others.  Real-time safe. */
int nn_m2m_stream_floor(const nn_m2m_stream *s, float *out);
/* Holds the noise-floor feature at `floor` (n_mels log2 powers, the input's units) instead of
 * tracking it, from the next frame on (a floor the user had the engine learn from the room
 * tone); NULL tracks again, starting from the held values.  Kept across reset.  Ignored by
 * architectures without the feature.  Real-time safe. */
void nn_m2m_stream_pin_floor(nn_m2m_stream *s, const float *floor);

/* Whole-clip runner for any architecture, for clips up to max_frames frames.  Output is
 * time-aligned with the input (for the streaming ones: the clip is followed by lookahead copies
 * of its last frame and the first lookahead outputs are dropped).  Returns 0, or -1 if T is out of
 * range [1, max_frames]. */
nn_m2m_offline *nn_m2m_offline_create(const nn_mel2mel *net, int max_frames);
void nn_m2m_offline_destroy(nn_m2m_offline *o);
int nn_m2m_offline_process(nn_m2m_offline *o, const float *in, int T, float *out);
/* As nn_m2m_offline_process with the classical feature cf (T x n_mels, or NULL), as
 * nn_m2m_stream_process_cf. */
int nn_m2m_offline_process_cf(nn_m2m_offline *o, const float *in, const float *cf, int T,
                              float *out);
#endif
