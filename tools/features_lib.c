/* The engine's per-frame features as a shared library (build/libmenhance_features.so) for the
 * trainers (train/cfeatures.py, through ctypes): the network is trained on exactly what the engine
 * computes, with no Python twin to drift from it.  engine/features.h documents both functions. */
#include "engine/features.h"

long menhance_engine_frames(const float *x, long n, float *feat, float *logmel, long max_frames) {
    return features_engine_frames(x, n, feat, logmel, max_frames);
}

long menhance_classical_feature(const float *x, long n, float *feat) {
    return features_classical_centred(x, n, feat);
}
