/* The 16 kHz enhancement stage that runs on the worker thread (or inline when synchronous):
 * one hop of samples per channel in, one hop of enhanced samples out, with a fixed delay of
 * enhance_latency() samples.  Every mode ends as per-band gains on the input's spectra
 * (stereo-linked: one gain decision from the channels' mean power), so switching modes is a
 * crossfade of gains, not of signals. */
#ifndef MENHANCE_ENHANCE_H
#define MENHANCE_ENHANCE_H
#include "engine/menhance.h"

#define ENHANCE_RATE 16000
#define ENHANCE_NFFT 1023
#define ENHANCE_HOP 256
#define ENHANCE_MELS 128
/* The DC blocker on everything the engine processes (engine.c) and on the vocoder's own output
 * (enhance.c): 1st-order high-pass (biquad_hp1).  A DC step decays with a 32 ms time constant;
 * the lowest musical fundamentals that matter lose little (a 32' organ pipe's C0, 16.4 Hz:
 * -0.37 dB; a piano's A0, 27.5 Hz: -0.14 dB; a bass's low E, 41 Hz: -0.06 dB), and their
 * phase moves little (7 degrees at 41 Hz).  Until session 4 it was a 2nd-order Butterworth at
 * 10 Hz, whose phase turn below 40 Hz alone moved the lowest log-mel bands of already-clean
 * music by 0.01-0.02 of log-mel L1 (make eval: it was most of the engine's change to near-clean
 * clips); this filter moves them by under 0.002. */
#define ENHANCE_DC_HZ 5.0
/* Frames of look-ahead every mode is padded to, so the latency never depends on the mode. */
#define ENHANCE_LOOKAHEAD 2
/* Every mode's output is delayed by one hop more than the phase path needs, so that mode 2's
 * refiner (train/refiner.py) can refine mode 1's own output without the latency depending on
 * the mode: the refiner takes a hop of mode 1 as its prior when the phase path has made it and
 * gives it back refined its look-ahead (the upsampler's 136 samples) plus one sample later
 * (docs/engine.md, "Mode 2").  16 ms at 16 kHz. */
#define ENHANCE_OUTPUT_DELAY ENHANCE_HOP
/* A refiner's look-ahead must fit inside that delay (its prior is one sample behind the hop). */
#define ENHANCE_REFINER_MAX_LOOKAHEAD (ENHANCE_OUTPUT_DELAY - 1)
/* A vocoder from noise must fit inside the delay the phase path already has (frames are
 * vocoded once the model's output for them exists): 511 samples; the output delay above comes
 * on top. */
#define ENHANCE_VOCODER_MAX_LOOKAHEAD (ENHANCE_NFFT - ENHANCE_HOP - ENHANCE_HOP)

typedef struct enhance enhance;

typedef struct {
    int mode;
    float strength;
    float max_atten_db;
    float heads[3];  /* the model's noise, room and tone strengths (menhance_params) */
    int learn_noise; /* menhance_params.learn_noise */
} enhance_params;

/* A held noise floor: the classical bands' noise powers (ENHANCE_MELS, mel band power), then the
 * network's noise-floor feature (ENHANCE_MELS, log2 mel power). */
#define ENHANCE_NOISE_PROFILE (2 * ENHANCE_MELS)
_Static_assert(ENHANCE_NOISE_PROFILE == MENHANCE_NOISE_PROFILE_LEN, "the public profile layout");
_Static_assert(ENHANCE_MELS == MENHANCE_TONE_PROFILE_LEN, "the public Tone verdict layout");

enhance *enhance_create(int channels);
void enhance_destroy(enhance *h);
int enhance_latency(const enhance *h);
/* in/out: channels x ENHANCE_HOP.  model may be NULL. */
void enhance_process(enhance *h, const float *const *in, float *const *out, const enhance_params *p,
                     menhance_model *model);
/* After enhance_process: what the model's gains say of the band above 8 kHz for the hop it just
 * put out (made one call earlier: ENHANCE_OUTPUT_DELAY).  gain: linear, <= 1 (the top mel bands'
 * mean gain in dB, cuts only); share: 0..1, how far the model's gains are mixed in (0 in classical
 * mode or without model output), i.e. how much of the high band should follow gain rather than the
 * classical tracker. */
void enhance_hiband(const enhance *h, float *gain, float *share);
/* Per-bin power gains (ENHANCE_NFFT / 2 + 1 values, 1 = flat; frontend_eq_measure) applied to
 * the spectrum the model's features are computed from, never to the audio: they give the
 * features the band edge of the front end the network was trained on.  Not real-time safe. */
void enhance_set_feature_eq(enhance *h, const float *feq);
/* Forget all history (after a gap in the input or a model change); a held noise floor stays. */
void enhance_reset(enhance *h);
/* Holds the noise floor at profile (ENHANCE_NOISE_PROFILE values) in the classical suppressor
 * and the network's floor feature from the next frame on; NULL tracks again.  Real-time safe. */
void enhance_hold_noise(enhance *h, const float *profile);
/* The held floor: 1 and profile filled, or 0 (tracking).  *version (may be NULL) changes
 * whenever the held floor does (learnt, set or cleared). */
int enhance_noise_profile(const enhance *h, float *profile, unsigned *version);
/* The classical suppressor's verdict on the newest frame, as a network input (issue 16: the hybrid
 * RNNoise and PercepNet use, where the network learns when to trust a classical estimate):
 * ENHANCE_MELS values, the log2 power gain (<= 0; 1 = 3.01 dB) of the band-wise Wiener tracker
 * (dsp/denoise.h) run at fixed settings (strength 1, 30 dB deepest cut), weakened in bands of
 * steady partials as the classical path weakens its own gains.  The user's Strength and Max
 * attenuation do not change it; a held or primed floor does.  Real-time safe. */
void enhance_classical_feature(const enhance *h, float *out);
/* Mode actually in effect (a model mode without a model runs classical). */
int enhance_effective_mode(const enhance *h);
/* Noise priming (not real-time safe): prime_begin resets h and starts recording what its
 * classical tracker learns while enhance_process runs over audio given ahead of time;
 * prime_end installs the learnt floor (dsp/denoise.h).  take_noise copies a primed floor
 * from src into dst.  prime_begin returns -1 when out of memory. */
int enhance_prime_begin(enhance *h);
void enhance_prime_end(enhance *h);
void enhance_take_noise(enhance *dst, const enhance *src);
/* Tone priming, alongside: where a noise/room/tone model ran while priming, prime_end keeps the
 * Tone head's verdict on the audio given ahead of time; take_tone gives src's verdict to dst for
 * `model` (dst's model, whose twin src ran), and dst applies it in place of the live verdict
 * while that warms up (TONE_WARMUP_S), scaled by the Tone control.  Cleared by reset. */
void enhance_take_tone(enhance *dst, const enhance *src, const menhance_model *model);
/* A Tone verdict handed in (a saved state's: ENHANCE_MELS values, log2 power units, each clamped
 * to the Tone head's +-12 dB, NaN read as 0) stands in for the live verdict of whatever
 * noise/room/tone model runs, while that warms up after each reset or model change, scaled by
 * the Tone control; a primed verdict (take_tone) for the running model comes first.  Survives
 * reset; NULL clears it.  A live verdict that has warmed up replaces it at a reset or model
 * change (the track's latest verdict).  Real-time safe. */
void enhance_hold_tone(enhance *h, const float *profile);
/* in -> out (ENHANCE_MELS each, may alias): each value clamped to the Tone head's +-12 dB (log2
 * power units), NaN read as 0: what enhance_hold_tone keeps of a handed-in verdict. */
void enhance_tone_clean(const float *in, float *out);
/* The Tone verdict to save: once the live Tone head has warmed up, the mean of its verdicts
 * (exponential, about TONE_SAVE_S); before that, the primed or held verdict.  Returns 1 and fills
 * profile (ENHANCE_MELS values, log2 power units), or 0 when there is none (no noise/room/tone
 * model has run long enough, nothing primed or held).  Real-time safe. */
int enhance_tone_profile(const enhance *h, float *profile);
#endif
