/* Second-order sections in double precision: at 5 Hz and 192 kHz a high-pass's pole sits 1.6e-4
 * from 1, where float coefficients and state would add audible noise.  Header-only: each user
 * keeps its own coefficients and state. */
#ifndef MENHANCE_DSP_BIQUAD_H
#define MENHANCE_DSP_BIQUAD_H
#include <math.h>

typedef struct {
    double b0, b1, b2, a1, a2;
} biquad;

/* RBJ / bilinear-transform 2nd-order Butterworth high-pass at fc Hz for rate fs, cut-off
 * pre-warped. */
static inline biquad biquad_butter_hp(double fs, double fc) {
    double k = tan(M_PI * fc / fs), n = 1.0 / (1.0 + M_SQRT2 * k + k * k);
    biquad b = {n, -2.0 * n, n, 2.0 * (k * k - 1.0) * n, (1.0 - M_SQRT2 * k + k * k) * n};
    return b;
}

/* Bilinear-transform 1st-order high-pass at fc Hz for rate fs (b2 = a2 = 0), cut-off pre-warped. */
static inline biquad biquad_hp1(double fs, double fc) {
    double k = tan(M_PI * fc / fs), n = 1.0 / (1.0 + k);
    biquad b = {n, -n, 0.0, (k - 1.0) * n, 0.0};
    return b;
}

/* One sample through b, transposed direct form II; z: two doubles of state, zero at start. */
static inline float biquad_run(const biquad *b, double *z, float xf) {
    double x = xf, y = b->b0 * x + z[0];
    z[0] = b->b1 * x - b->a1 * y + z[1];
    z[1] = b->b2 * x - b->a2 * y;
    return (float)y;
}
#endif
