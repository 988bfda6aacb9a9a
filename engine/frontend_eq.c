#include "engine/frontend_eq.h"

#include <math.h>

#include "dsp/resample.h"
#include "engine/frontend_edge.h"

enum {
    EQ_RATE = 16000,
    /* 6 kHz at 16 kHz / 1023: speexdsp is flat below at the engine's quality and above
     * (tests/test_resample.c), and soxr's edge starts at bin FRONTEND_EDGE_FIRST (7.2 kHz) */
    FIRST_BIN = 384,
};

int frontend_eq_measure(int in_rate, int quality, float *feq) {
    float H[FRONTEND_EQ_BINS];
    for (int k = 0; k < FRONTEND_EQ_BINS; k++)
        feq[k] = 1.0f;
    if (resampler_power_response(in_rate, EQ_RATE, quality, FRONTEND_EQ_NFFT, FIRST_BIN, H))
        return -1;
    for (int k = 0; k < FRONTEND_EQ_BINS; k++) {
        float t = k >= FRONTEND_EDGE_FIRST
                      ? powf(10.0f, frontend_edge_db[k - FRONTEND_EDGE_FIRST] / 10.0f)
                      : 1.0f;
        float r = H[k] > 1e-12f ? t / H[k] : 1.0f;
        feq[k] = r > 16.0f ? 16.0f : (r < 1e-6f ? 1e-6f : r);
    }
    return 0;
}
