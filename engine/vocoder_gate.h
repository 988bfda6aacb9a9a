/* Whether a model file's DiffWave vocoder may be used by default.  Issue 9 sets its quality
 * gate (never worse than Mel2Mel on the input's phase, measured by `make eval`); a model that
 * passed carries the metadata entry "vocoder_gate": {"passed": true, ...} written by the
 * training side.  Until then the CLI runs what works instead (mode 1 live, Griffin-Lim
 * offline) and says so, unless asked for the experimental vocoder. */
#ifndef MENHANCE_ENGINE_VOCODER_GATE_H
#define MENHANCE_ENGINE_VOCODER_GATE_H
#include "engine/menhance.h"
#include "nn/safetensors.h"

#define VOCODER_GATE_KEY "vocoder_gate"

/* 1 when f's metadata says its vocoder passed the gate, else 0. */
int vocoder_gate_passed(const st_file *f);
/* menhance_vocoder_gate_passed (engine/menhance.h) asks the same of a file on disk. */
#endif
