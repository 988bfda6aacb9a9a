/* The engine's per-frame network features for a whole clip, outside the real-time path: the
 * --offline path and the trainers (tools/features_lib.c -> train/cfeatures.py) compute them with
 * the same code the live engine runs, so training, offline and live see the same numbers. */
#ifndef MENHANCE_FEATURES_H
#define MENHANCE_FEATURES_H

/* x: n samples of mono 16 kHz audio.  Runs the engine (classical mode, no model) over it one hop
 * at a time; engine frame k is the analysis after hop k, of the samples up to 256 (k + 1) - 1, so
 * its window is centred on sample 256 (k - 1).  feat: enhance_classical_feature of each frame,
 * frames x ENHANCE_MELS; logmel (may be NULL): the log2-mel of the same frames from the engine's
 * STFT and mel modules (for alignment checks).  Returns the frame count n / ENHANCE_HOP (at most
 * max_frames rows are written), or -1 on bad arguments or when out of memory. */
long features_engine_frames(const float *x, long n, float *feat, float *logmel, long max_frames);

/* The same feature on centre framing (torch.stft center=True, train/models.py MelFrontEnd, the
 * --offline front end): 1 + (n - 1) / ENHANCE_HOP rows of ENHANCE_MELS (stft_offline_frames; 0 for
 * n = 0), row t for the frame centred on
 * sample 256 t (engine frame t + 1; the clip is followed by silence for the last rows).  Returns
 * the row count, or -1 as above. */
long features_classical_centred(const float *x, long n, float *feat);
#endif
