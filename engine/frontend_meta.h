/* The "frontend" metadata of a model file: the features the network was trained on (JSON
 * written by train/export.py from train/models.py FRONTEND).  A network only makes sense on
 * exactly the engine's front end: 16 kHz, STFT n_fft 1023 / hop 256, 128 HTK mel bands over
 * 0-8000 Hz, log2 with a floor of 1e-5 (dsp/mel.h, DESIGN section 1). */
#ifndef MENHANCE_ENGINE_FRONTEND_META_H
#define MENHANCE_ENGINE_FRONTEND_META_H
#include <stddef.h>

/* json: the metadata string (NULL when the file has none).  Returns 1 if it describes the
 * engine's front end, else 0 with the reason in why (missing, not JSON, or the first key that
 * differs and the value it should have). */
int frontend_meta_check(const char *json, char *why, size_t len);
#endif
