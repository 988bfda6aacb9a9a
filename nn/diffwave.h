/* DiffWave vocoder (Kong et al. 2021, as used by Kandpal et al. 2022): log-mel frames in,
 * 16 kHz audio out, in streaming form.
 *
 * Architecture (DESIGN.md section 1, any depth/width): input 1x1 conv 1->C + ReLU; step
 * embedding sin/cos(128) -> Linear E -> SiLU -> Linear E -> SiLU; conditioner: two
 * ConvTranspose2d [3,32] stride [1,16] + LeakyReLU 0.4 (x256 upsampling); L residual layers
 * with dilation 2^(i mod cycle): y = x + Linear_E->C(step); dilated conv C->2C (3 taps) plus
 * 1x1 n_mels->2C on the conditioner; sigmoid(gate) * tanh(filter); 1x1 C->2C into residual
 * ((x + res) / sqrt 2) and skip; sum(skip) / sqrt(L) -> 1x1 -> ReLU -> 1x1 C->1.
 *
 * Layer i with dilation d reads its input at t-2d+s, t-d+s, t+s: s = d is the reference
 * (symmetric), s = 0 causal, s = min(d, lookahead) limited look-ahead; s is trained in
 * (train/diffwave.py) and read from the model's metadata.
 *
 * Model file: safetensors with tensors "diffwave.<PyTorch state_dict name>" plus
 * "diffwave.diffusion_embedding.embedding" [max_steps, 128], and metadata "diffwave" =
 * {"layers","channels","cycle","causal","lookahead","n_mels","hop","embed_dim",
 *  "betas_train":[...],"betas_infer":[...]}.
 *
 * Memory: weights at load (shared, read-only, usable by many streams at once), all state at
 * stream create; processing allocates nothing. */
#ifndef MENHANCE_NN_DIFFWAVE_H
#define MENHANCE_NN_DIFFWAVE_H
#include <stddef.h>
#include <stdint.h>

#include "nn/cpu.h"
#include "nn/safetensors.h"

typedef struct nn_diffwave nn_diffwave;
typedef struct nn_diffwave_stream nn_diffwave_stream;

typedef struct {
    int layers, channels, cycle, n_mels, hop, embed_dim;
    int causal;
    int lookahead;      /* per-layer look-ahead cap, -1 when none (symmetric or causal) */
    int max_steps;      /* length of the training schedule */
    int n_fast_steps;   /* length of betas_infer */
    long params;        /* parameter count (PyTorch's count) */
    int step_lookahead; /* future samples one denoising step reads: sum of layer look-aheads */
} nn_diffwave_info;

/* Loads with the widest kernels this CPU runs (nn_cpu_detect()). */
nn_diffwave *nn_diffwave_load(const st_file *f, char *err, size_t errlen);
/* Same with an explicit ISA (tests, benchmarks); isa must be supported by the CPU. */
nn_diffwave *nn_diffwave_load_isa(const st_file *f, nn_isa isa, char *err, size_t errlen);
void nn_diffwave_free(nn_diffwave *m);
const nn_diffwave_info *nn_diffwave_get_info(const nn_diffwave *m);

/* Samples of look-ahead of the whole vocoder for a sampler of `steps` steps: the
 * conditioner's upsampler (136 samples past the last complete frame) plus steps * the
 * per-step look-ahead (minus the first layer's, whose input is noise).  Equals the latency of
 * nn_diffwave_stream_process(). */
long nn_diffwave_lookahead(const nn_diffwave *m, int steps);

/* Noise source for tests: fill out[0..n) with noise stream k at positions pos..pos+n-1.
 * k = 0 is x_T; k = S - n is the noise added after step n > 0 (S steps, n = S-1 .. 0);
 * the same convention as train/diffwave.py sample(noise=...). */
typedef void (*nn_diffwave_noise_fn)(void *user, int k, long pos, int n, float *out);

typedef struct {
    int fast;            /* 1: the metadata's betas_infer; 0: the training schedule */
    const double *betas; /* custom inference betas (overrides fast), or NULL */
    int n_betas;
    int max_frames;             /* most mel frames per nn_diffwave_stream_process() call */
    int block;                  /* internal block in samples (0: 512; 256..1024 is best) */
    uint64_t seed;              /* seed of the built-in noise (xoshiro256**, Box-Muller) */
    size_t cond_cache_bytes;    /* budget for cached per-layer conditioner projections;
                                   above it they are recomputed each step (0: 256 MiB;
                                   1: always recompute) */
    int step_major;             /* nn_diffwave_vocode only: 1 runs the steps one after the
                                   other over the whole utterance (little memory, conditioner
                                   recomputed each step), -1 never, 0 when the pipelined
                                   state would exceed 1 GiB (long look-ahead, many steps) */
    nn_diffwave_noise_fn noise; /* NULL: built-in generator */
    void *noise_user;
    /* The mode-2 refiner (nn_diffwave_refine, streamed): n_refine > 0 runs the training steps
     * refine_steps[0..n_refine) (decreasing) from a prior signal given with each block
     * (nn_diffwave_stream_process_prior) instead of from noise; the schedule fields above are
     * then unused.  Noise stream 0 is the start noise. */
    const int *refine_steps;
    int n_refine;
} nn_diffwave_stream_config;

void nn_diffwave_stream_config_default(nn_diffwave_stream_config *c);

nn_diffwave_stream *nn_diffwave_stream_create(const nn_diffwave *m,
                                              const nn_diffwave_stream_config *cfg, char *err,
                                              size_t errlen);
void nn_diffwave_stream_free(nn_diffwave_stream *s);
/* Back to the start of an utterance (noise re-seeded).  Real-time safe: allocates nothing and
 * clears only the layers' zero history (sum of 2 x dilation x C floats per step). */
void nn_diffwave_stream_reset(nn_diffwave_stream *s, uint64_t seed);
int nn_diffwave_stream_steps(const nn_diffwave_stream *s);
/* Bytes allocated by the stream (state, caches, scratch). */
size_t nn_diffwave_stream_bytes(const nn_diffwave_stream *s);
int nn_diffwave_stream_caches_cond(const nn_diffwave_stream *s);

/* Feeds nf <= max_frames frames (frame-major: mel[f * n_mels + m]) and writes exactly
 * nf * hop samples: output sample j (counted from the stream's start) is vocoded sample
 * j - latency (zeros before that), latency = nn_diffwave_lookahead(m, steps).
 * Real-time safe. Returns nf * hop, or -1 on misuse (nf too large, after finish). */
int nn_diffwave_stream_process(nn_diffwave_stream *s, const float *mel, int nf, float *out);

/* The refiner's form of nn_diffwave_stream_process: prior holds nf * hop samples of mode 1's
 * waveform for the same span as the frames (sample j of the stream's prior is the signal the
 * output's sample j refines).  Output sample j is refined sample j - latency.  Returns nf * hop,
 * or -1 on misuse (not a refiner stream, nf too large, after finish).  Real-time safe. */
int nn_diffwave_stream_process_prior(nn_diffwave_stream *s, const float *mel, const float *prior,
                                     int nf, float *out);

/* Ends the utterance (zero padding beyond it, as PyTorch pads) and writes the remaining
 * `latency` samples into out (which must hold that many).  Returns the count written. */
int nn_diffwave_stream_finish(nn_diffwave_stream *s, float *out);

/* Whole utterance: mel [nf][n_mels] -> out [nf * hop].  Allocates a stream internally. */
int nn_diffwave_vocode(const nn_diffwave *m, const nn_diffwave_stream_config *cfg, const float *mel,
                       int nf, float *out, char *err, size_t errlen);

/* One network evaluation eps = model(x, mel, t) over a whole utterance at (fractional)
 * diffusion step t: x [nf * hop], eps [nf * hop].  For tests and tools; allocates. */
int nn_diffwave_eps(const nn_diffwave *m, const float *mel, int nf, const float *x, float t,
                    float *eps, char *err, size_t errlen);

/* The mode-2 refiner (train/refiner.py), whole utterance: from prior (mode 1's waveform,
 * [nf * hop]) diffused with eps ([nf * hop]) to training step steps[0], n_steps deterministic
 * steps over the decreasing training steps `steps`, each x0 = prior + model(x, mel, step) and
 * x' = sqrt(abar') x0 + sqrt(1 - abar') (x - sqrt(abar) x0) / sqrt(1 - abar); out = the last x0
 * ([nf * hop]).  A model whose output projection is zero returns prior exactly.  Offline
 * (allocates, a stream per step).  Returns 0, or -1 with a message (steps not decreasing or
 * outside the training schedule, memory). */
int nn_diffwave_refine(const nn_diffwave *m, const int *steps, int n_steps, const float *mel,
                       int nf, const float *prior, const float *eps, float *out, char *err,
                       size_t errlen);

/* Sampler coefficients (double, as train/diffwave.py noise_schedule computes them) for a
 * schedule of S betas; T[n] is the fractional training step of inference step n.
 * Returns 0, or -1 if a beta falls outside the training schedule. */
int nn_diffwave_schedule(const double *betas_train, int n_train, const double *betas, int S,
                         double *alpha, double *alpha_cum, float *T);
#endif
