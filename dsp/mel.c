/* HTK mel filterbank built exactly as torchaudio.functional.melscale_fbanks(norm=None,
 * mel_scale="htk") builds it, because the reference system used torchaudio's MelScale: the
 * filters sit on linspace(0, sample_rate // 2, n_bins) rather than on the true bin
 * frequencies k * sample_rate / n_fft (0.1 % apart for 1023 points), and every triangle
 * peaks at 1 without area normalisation.  Filters are stored dense for mel_filters() and as
 * per-row nonzero ranges for the per-frame products. */
#include "dsp/mel.h"

#include <math.h>
#include <stdlib.h>

struct mel {
    int n_mels, n_bins;
    float *fb;       /* n_mels x n_bins */
    int *row_lo;     /* first nonzero bin of each filter */
    int *row_hi;     /* one past the last nonzero bin */
    int *bin_lo;     /* first band with weight on each bin (or the nearest band) */
    int *bin_hi;     /* one past the last such band */
    float *bin_norm; /* 1 / sum of the weights on each bin (1 for nearest-band bins) */
};

static double hz_to_mel(double f) {
    return 2595.0 * log10(1.0 + f / 700.0);
}
static double mel_to_hz(double m) {
    return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
}

mel *mel_create(int sample_rate, int n_fft, int n_mels, float f_lo, float f_hi) {
    if (sample_rate <= 0 || n_fft < 2 || n_mels < 1 || !(f_lo >= 0) || !(f_hi > f_lo)) return NULL;
    int nb = n_fft / 2 + 1;
    mel *m = calloc(1, sizeof *m);
    double *fpts = malloc(sizeof(double) * (size_t)(n_mels + 2));
    double *centre = malloc(sizeof(double) * (size_t)n_mels);
    if (!m || !fpts || !centre) goto fail;
    m->n_mels = n_mels;
    m->n_bins = nb;
    m->fb = calloc((size_t)n_mels * (size_t)nb, sizeof(float));
    m->row_lo = malloc(sizeof(int) * (size_t)n_mels);
    m->row_hi = malloc(sizeof(int) * (size_t)n_mels);
    m->bin_lo = malloc(sizeof(int) * (size_t)nb);
    m->bin_hi = malloc(sizeof(int) * (size_t)nb);
    m->bin_norm = malloc(sizeof(float) * (size_t)nb);
    if (!m->fb || !m->row_lo || !m->row_hi || !m->bin_lo || !m->bin_hi || !m->bin_norm) goto fail;

    double mmin = hz_to_mel(f_lo), mmax = hz_to_mel(f_hi);
    for (int i = 0; i < n_mels + 2; i++)
        fpts[i] = mel_to_hz(mmin + (mmax - mmin) * i / (n_mels + 1));
    double nyq = (double)(sample_rate / 2); /* torchaudio: sample_rate // 2 */
    for (int b = 0; b < n_mels; b++) {
        double lo = fpts[b], mid = fpts[b + 1], hi = fpts[b + 2];
        centre[b] = mid;
        int first = nb, last = -1;
        for (int k = 0; k < nb; k++) {
            double f = nyq * k / (nb - 1);
            double down = (f - lo) / (mid - lo), up = (hi - f) / (hi - mid);
            double w = fmax(0.0, fmin(down, up));
            m->fb[(size_t)b * (size_t)nb + (size_t)k] = (float)w;
            if (w > 0) {
                if (first > k) first = k;
                last = k;
            }
        }
        /* A filter narrower than the bin spacing can be empty; give it an empty range. */
        m->row_lo[b] = first <= last ? first : 0;
        m->row_hi[b] = first <= last ? last + 1 : 0;
    }
    for (int k = 0; k < nb; k++) {
        int first = n_mels, last = -1;
        double sum = 0;
        for (int b = 0; b < n_mels; b++) {
            float w = m->fb[(size_t)b * (size_t)nb + (size_t)k];
            if (w > 0) {
                if (first > b) first = b;
                last = b;
                sum += w;
            }
        }
        if (last >= 0) {
            m->bin_lo[k] = first;
            m->bin_hi[k] = last + 1;
            m->bin_norm[k] = (float)(1.0 / sum);
        } else {
            /* Uncovered bins (DC and the top bin sit on the outer filter edges) take the
             * band whose centre is nearest. */
            double f = nyq * k / (nb - 1), best = INFINITY;
            int bb = 0;
            for (int b = 0; b < n_mels; b++)
                if (fabs(centre[b] - f) < best) best = fabs(centre[b] - f), bb = b;
            m->bin_lo[k] = bb;
            m->bin_hi[k] = bb + 1;
            m->bin_norm[k] = -1.0f; /* marks "copy the band gain" */
        }
    }
    free(fpts);
    free(centre);
    return m;
fail:
    free(fpts);
    free(centre);
    mel_destroy(m);
    return NULL;
}

void mel_destroy(mel *m) {
    if (!m) return;
    free(m->fb);
    free(m->row_lo);
    free(m->row_hi);
    free(m->bin_lo);
    free(m->bin_hi);
    free(m->bin_norm);
    free(m);
}

int mel_bands(const mel *m) {
    return m->n_mels;
}
int mel_bins(const mel *m) {
    return m->n_bins;
}
const float *mel_filters(const mel *m) {
    return m->fb;
}

void mel_apply(const mel *m, const float *power, float *melpow) {
    for (int b = 0; b < m->n_mels; b++) {
        const float *row = m->fb + (size_t)b * (size_t)m->n_bins;
        float acc = 0.0f;
        for (int k = m->row_lo[b]; k < m->row_hi[b]; k++)
            acc += row[k] * power[k];
        melpow[b] = acc;
    }
}

void mel_to_log(const mel *m, const float *melpow, float *logmel) {
    for (int b = 0; b < m->n_mels; b++) {
        float v = melpow[b];
        /* NaN compares false, so it is floored too rather than poisoning the network. */
        logmel[b] = log2f(v > MEL_LOG_FLOOR ? v : MEL_LOG_FLOOR);
    }
}

void mel_log(const mel *m, const float *power, float *logmel) {
    mel_apply(m, power, logmel);
    mel_to_log(m, logmel, logmel);
}

void mel_gains_to_bins(const mel *m, const float *band_gain, float *bin_gain) {
    for (int k = 0; k < m->n_bins; k++) {
        if (m->bin_norm[k] < 0) {
            bin_gain[k] = band_gain[m->bin_lo[k]];
            continue;
        }
        float acc = 0.0f;
        for (int b = m->bin_lo[k]; b < m->bin_hi[k]; b++)
            acc += m->fb[(size_t)b * (size_t)m->n_bins + (size_t)k] * band_gain[b];
        bin_gain[k] = acc * m->bin_norm[k];
    }
}
