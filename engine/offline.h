/* Internals of the offline reference path (menhance_offline_*, engine/menhance.h): its
 * resampling stages, exposed for tests. */
#ifndef MENHANCE_ENGINE_OFFLINE_H
#define MENHANCE_ENGINE_OFFLINE_H
#include "engine/menhance.h"

#define OFFLINE_RATE 16000

/* offline_to_model_rate: interleaved host audio -> mono 16 kHz
 * of ceil(frames * 16000 / rate) samples (*n16), sample j being the input at host time
 * j * rate / 16000 (malloc'd; NULL on failure).  offline_from_model_rate: the inverse
 * direction, x16[0..n16) -> out, frames x channels interleaved, out sample k being x16 at
 * 16 kHz time k * 16000 / rate (samples past n16 read as silence).  Returns 0 or -1. */
float *offline_to_model_rate(const float *in, long frames, int channels, int rate, long *n16);
int offline_from_model_rate(const float *x16, long n16, int rate, int channels, long frames,
                            float *out);
#endif
