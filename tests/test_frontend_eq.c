/* Feature equaliser (engine/frontend_eq.h): after it, the response of our host -> 16 kHz
 * resampler is the training front end's (engine/frontend_edge.h), for the engine's quality and
 * the offline path's; untouched below the edge; bounded; bad rates leave it flat. */
#include "engine/frontend_eq.h"
#include "dsp/resample.h"
#include "engine/frontend_edge.h"
#include "tests/check.h"

#include <math.h>

static const int rates[] = {16000, 22050, 32000, 44100, 48000, 88200, 96000};
#define N_RATES (int)(sizeof rates / sizeof rates[0])
static const int qualities[] = {6, 10}; /* engine.c and offline.c RS_QUALITY */

static double edge_db(int k) {
    return k >= FRONTEND_EDGE_FIRST ? frontend_edge_db[k - FRONTEND_EDGE_FIRST] : 0.0;
}

int main(void) {
    float feq[FRONTEND_EQ_BINS], H[FRONTEND_EQ_BINS];
    for (int i = 0; i < N_RATES; i++) {
        for (int j = 0; j < 2; j++) {
            const int rate = rates[i], q = qualities[j];
            CHECK(frontend_eq_measure(rate, q, feq) == 0, "%d Hz q%d: measured", rate, q);
            CHECK(resampler_power_response(rate, 16000, q, FRONTEND_EQ_NFFT, 1, H) == 0,
                  "%d Hz q%d: reference response", rate, q);
            /* below 6 kHz both resamplers are flat: nothing to correct */
            double low = 0;
            for (int k = 0; k < 384; k++)
                low = fmax(low, fabs(10 * log10(feq[k])));
            /* across the edge, where soxr keeps more than -20 dB and the +12 dB bound does not
             * bind, the corrected response is soxr's */
            double err = 0;
            int n = 0;
            for (int k = 384; k < FRONTEND_EQ_BINS; k++) {
                if (edge_db(k) < -20.0 || 10 * log10(feq[k]) > 11.9) continue;
                err = fmax(err, fabs(10 * log10(feq[k] * H[k]) - edge_db(k)));
                n++;
            }
            double top = -1e9;
            for (int k = 0; k < FRONTEND_EQ_BINS; k++)
                top = fmax(top, 10 * log10(feq[k]));
            /* 7.65 kHz (bin 489): soxr's -6 dB point */
            double at = 10 * log10(feq[489] * H[489]);
            CHECK(low < 0.05 && err < 0.1 && n > 60 && top <= 12.05 && at < -5.0 && at > -7.0,
                  "%d Hz q%d: %.3f dB below 6 kHz, edge within %.3f dB over %d bins, max %+.1f dB, "
                  "%.2f dB at 7.65 kHz",
                  rate, q, low, err, n, top, at);
        }
    }
    CHECK(frontend_eq_measure(0, 6, feq) != 0 && feq[0] == 1.0f && feq[500] == 1.0f,
          "bad rate: error, flat");
    CHECK(frontend_eq_measure(48000, 11, feq) != 0 && feq[500] == 1.0f, "bad quality: error, flat");
    return check_summary("test_frontend_eq");
}
