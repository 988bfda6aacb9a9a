/* Streaming spectrogram and its PNG rendering (see spectrogram.h). */
#include "tools/spectrogram.h"
#include "tools/pixfont.h"

#include <errno.h>
#include <fftw3.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct spectrogram {
    int rate, nfft, bins, width, hop;
    double col_samples; /* signal samples per image column */
    long long pushed, frames;
    int fill;   /* samples in buf */
    float *buf; /* the newest nfft samples, the oldest first */
    float *win; /* Hann */
    float *in;  /* FFT input */
    fftwf_complex *out;
    fftwf_plan plan;
    double *power; /* width x bins, summed power */
    int *count;    /* frames summed per column */
};

static int next_pow2(int n) {
    int p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

spectrogram *spectrogram_create(int rate, long long expected_samples, int width) {
    spectrogram *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->rate = rate;
    /* ~40 ms frames: enough resolution for bass notes, short enough to see onsets */
    s->nfft = next_pow2(rate / 25);
    s->bins = s->nfft / 2 + 1;
    if (expected_samples < 1) expected_samples = 1;
    s->width = width < 1 ? 1 : width;
    if (s->width > expected_samples) s->width = (int)expected_samples;
    s->col_samples = (double)expected_samples / s->width;
    /* At most a quarter-frame hop (full overlap-free coverage), at least one frame per column */
    s->hop = (int)s->col_samples;
    if (s->hop > s->nfft / 4) s->hop = s->nfft / 4;
    if (s->hop < 1) s->hop = 1;
    s->buf = calloc((size_t)s->nfft, sizeof *s->buf);
    s->win = malloc((size_t)s->nfft * sizeof *s->win);
    s->in = fftwf_malloc((size_t)s->nfft * sizeof *s->in);
    s->out = fftwf_malloc((size_t)s->bins * sizeof *s->out);
    s->power = calloc((size_t)s->width * s->bins, sizeof *s->power);
    s->count = calloc((size_t)s->width, sizeof *s->count);
    if (!s->buf || !s->win || !s->in || !s->out || !s->power || !s->count) {
        spectrogram_destroy(s);
        return NULL;
    }
    s->plan = fftwf_plan_dft_r2c_1d(s->nfft, s->in, s->out, FFTW_ESTIMATE);
    if (!s->plan) {
        spectrogram_destroy(s);
        return NULL;
    }
    for (int i = 0; i < s->nfft; i++)
        s->win[i] = 0.5f - 0.5f * cosf(2.0f * (float)M_PI * (float)i / (float)s->nfft);
    /* Frames are centred on their sample: the first one sees nfft/2 zeros before the start. */
    s->fill = s->nfft / 2;
    return s;
}

void spectrogram_destroy(spectrogram *s) {
    if (!s) return;
    if (s->plan) fftwf_destroy_plan(s->plan);
    fftwf_free(s->in);
    fftwf_free(s->out);
    free(s->buf);
    free(s->win);
    free(s->power);
    free(s->count);
    free(s);
}

/* Analyses the frame centred on sample frames * hop, then slides by one hop. */
static void analyse_frame(spectrogram *s) {
    long long centre = s->frames * (long long)s->hop;
    int col = (int)((double)centre / s->col_samples);
    if (col >= s->width) col = s->width - 1;
    for (int i = 0; i < s->nfft; i++)
        s->in[i] = s->buf[i] * s->win[i];
    fftwf_execute(s->plan);
    double *p = s->power + (size_t)col * s->bins;
    for (int k = 0; k < s->bins; k++) {
        double re = s->out[k][0], im = s->out[k][1];
        p[k] += re * re + im * im;
    }
    s->count[col]++;
    s->frames++;
    memmove(s->buf, s->buf + s->hop, (size_t)(s->nfft - s->hop) * sizeof *s->buf);
    s->fill -= s->hop;
}

void spectrogram_push(spectrogram *s, const float *x, int n) {
    while (n > 0) {
        int take = s->nfft - s->fill;
        if (take > n) take = n;
        memcpy(s->buf + s->fill, x, (size_t)take * sizeof *x);
        s->fill += take;
        s->pushed += take;
        x += take;
        n -= take;
        if (s->fill == s->nfft) analyse_frame(s);
    }
}

void spectrogram_finish(spectrogram *s) {
    while (s->frames * (long long)s->hop < s->pushed) {
        memset(s->buf + s->fill, 0, (size_t)(s->nfft - s->fill) * sizeof *s->buf);
        s->fill = s->nfft;
        analyse_frame(s);
    }
}

/* ---- rendering ---- */

enum {
    PLOT_H = 300,
    MARGIN_L = 44,
    MARGIN_R = 64,
    TITLE_H = 16,
    GAP_H = 6,
    AXIS_H = 18,
    TICK = 4,
};
static const double DB_RANGE = 90.0;
static const double FMIN = 30.0;
static const unsigned char BG[3] = {20, 20, 24}, FG[3] = {225, 225, 225};

/* Power in [f_lo, f_hi) Hz: the mean of the bins inside, or interpolated where the band is
 * narrower than a bin (the bottom of a log axis). */
static double band_power(const double *p, int bins, double hz_per_bin, double f_lo, double f_hi) {
    double b_lo = f_lo / hz_per_bin, b_hi = f_hi / hz_per_bin;
    int k0 = (int)ceil(b_lo), k1 = (int)floor(b_hi);
    if (k1 > bins - 1) k1 = bins - 1;
    if (k1 >= k0) {
        double sum = 0;
        for (int k = k0; k <= k1; k++)
            sum += p[k];
        return sum / (k1 - k0 + 1);
    }
    double b = 0.5 * (b_lo + b_hi);
    int k = (int)b;
    if (k >= bins - 1) return p[bins - 1];
    double t = b - k;
    return (1 - t) * p[k] + t * p[k + 1];
}

static void colormap(double t, unsigned char rgb[3]) {
    /* inferno-like: black, purple, red, orange, pale yellow */
    static const double stops[][3] = {
        {0, 0, 4}, {87, 16, 110}, {188, 55, 84}, {249, 142, 9}, {252, 255, 164}};
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    double x = t * 4;
    int i = (int)x;
    if (i > 3) i = 3;
    double f = x - i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (unsigned char)lround(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]));
}

/* Row r (0 = top) of a plot of height h spans [lo, hi) Hz. */
static void row_band(int r, int h, double nyq, spectrogram_scale scale, double *lo, double *hi) {
    double a = (double)(h - r - 1) / h, b = (double)(h - r) / h;
    if (scale == SPECTROGRAM_LINEAR_FREQ) {
        *lo = a * nyq;
        *hi = b * nyq;
    } else {
        *lo = FMIN * pow(nyq / FMIN, a);
        *hi = FMIN * pow(nyq / FMIN, b);
    }
}

static int freq_to_row(double f, int h, double nyq, spectrogram_scale scale) {
    double a = scale == SPECTROGRAM_LINEAR_FREQ ? f / nyq : log(f / FMIN) / log(nyq / FMIN);
    return (int)lround((1.0 - a) * h);
}

static void fill_rect(unsigned char *img, int w, int h, int x0, int y0, int x1, int y1,
                      const unsigned char c[3]) {
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < w; x++)
            memcpy(img + 3 * ((size_t)y * w + x), c, 3);
}

static void freq_label(double f, char *buf, size_t n) {
    if (f >= 1000)
        snprintf(buf, n, "%gK", f / 1000);
    else
        snprintf(buf, n, "%g", f);
}

static int write_png_file(const char *path, const unsigned char *img, int w, int h, char *err,
                          size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        remove(path);
        snprintf(err, errlen, "%s: PNG encoding failed", path);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, (png_const_bytep)(img + (size_t)y * w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        remove(path);
        return -1;
    }
    return 0;
}

int spectrogram_write_png(const char *path, const spectrogram_panel *panels, int npanels,
                          spectrogram_scale scale, char *err, size_t errlen) {
    if (npanels < 1) {
        snprintf(err, errlen, "no spectrogram panels");
        return -1;
    }
    const spectrogram *s0 = panels[0].spec;
    for (int i = 1; i < npanels; i++) {
        const spectrogram *s = panels[i].spec;
        if (s->rate != s0->rate || s->width != s0->width || s->bins != s0->bins) {
            snprintf(err, errlen, "spectrogram panels differ in rate or size");
            return -1;
        }
    }
    int pw = s0->width, bins = s0->bins;
    double nyq = 0.5 * s0->rate, hz_per_bin = (double)s0->rate / s0->nfft;
    int W = MARGIN_L + pw + MARGIN_R;
    int H = npanels * (TITLE_H + PLOT_H + GAP_H) + AXIS_H;

    /* dB per cell first, so all panels share one reference level */
    double *db = malloc((size_t)npanels * pw * PLOT_H * sizeof *db);
    unsigned char *img = malloc((size_t)W * H * 3);
    if (!db || !img) {
        free(db);
        free(img);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    double band_lo[PLOT_H], band_hi[PLOT_H];
    for (int r = 0; r < PLOT_H; r++)
        row_band(r, PLOT_H, nyq, scale, &band_lo[r], &band_hi[r]);
    double ref = -INFINITY;
    for (int i = 0; i < npanels; i++) {
        const spectrogram *s = panels[i].spec;
        for (int x = 0; x < pw; x++) {
            const double *p = s->power + (size_t)x * bins;
            int n = s->count[x];
            for (int r = 0; r < PLOT_H; r++) {
                double v = -INFINITY;
                if (n > 0) {
                    double pw_ = band_power(p, bins, hz_per_bin, band_lo[r], band_hi[r]);
                    v = 10.0 * log10(pw_ / n + 1e-30);
                    if (v > ref) ref = v;
                }
                db[((size_t)i * PLOT_H + r) * pw + x] = v;
            }
        }
    }
    if (!isfinite(ref)) ref = 0;

    fill_rect(img, W, H, 0, 0, W, H, BG);
    for (int i = 0; i < npanels; i++) {
        int top = i * (TITLE_H + PLOT_H + GAP_H);
        int y0 = top + TITLE_H;
        pixfont_draw(img, W, H, MARGIN_L, top + 4, panels[i].title ? panels[i].title : "", FG, 1);
        for (int r = 0; r < PLOT_H; r++)
            for (int x = 0; x < pw; x++) {
                double v = db[((size_t)i * PLOT_H + r) * pw + x];
                unsigned char c[3];
                colormap((v - (ref - DB_RANGE)) / DB_RANGE, c);
                memcpy(img + 3 * ((size_t)(y0 + r) * W + MARGIN_L + x), c, 3);
            }
        static const double ticks[] = {50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000};
        for (size_t t = 0; t < sizeof ticks / sizeof ticks[0]; t++) {
            double f = ticks[t];
            if (scale == SPECTROGRAM_LINEAR_FREQ && f < 1000) continue;
            if (f <= FMIN || f >= nyq) continue;
            int y = y0 + freq_to_row(f, PLOT_H, nyq, scale);
            char lab[16];
            freq_label(f, lab, sizeof lab);
            fill_rect(img, W, H, MARGIN_L - TICK, y, MARGIN_L, y + 1, FG);
            pixfont_draw(img, W, H, MARGIN_L - TICK - 2 - pixfont_width(lab, 1), y - 3, lab, FG, 1);
        }
        if (i == 0) pixfont_draw(img, W, H, 2, top + 4, "HZ", FG, 1);
    }

    /* time axis under the last panel */
    double seconds = s0->col_samples * pw / s0->rate;
    static const double steps[] = {0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600};
    double step = steps[sizeof steps / sizeof steps[0] - 1];
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++)
        if (seconds / steps[k] <= 10) {
            step = steps[k];
            break;
        }
    int axis_y = npanels * (TITLE_H + PLOT_H + GAP_H) - GAP_H;
    for (int k = 0; k * step <= seconds + 1e-9; k++) {
        double t = k * step;
        int x = MARGIN_L + (int)lround(t / seconds * pw);
        if (x >= MARGIN_L + pw) x = MARGIN_L + pw - 1;
        char lab[24];
        snprintf(lab, sizeof lab, "%gS", t);
        fill_rect(img, W, H, x, axis_y, x + 1, axis_y + TICK, FG);
        int lx = x - pixfont_width(lab, 1) / 2;
        if (lx < MARGIN_L) lx = MARGIN_L;
        pixfont_draw(img, W, H, lx, axis_y + TICK + 2, lab, FG, 1);
    }

    /* colour bar: 0 dB at the loudest cell of any panel */
    int bx = MARGIN_L + pw + 8, by0 = TITLE_H, bh = PLOT_H;
    for (int r = 0; r < bh; r++) {
        unsigned char c[3];
        colormap(1.0 - (double)r / (bh - 1), c);
        fill_rect(img, W, H, bx, by0 + r, bx + 10, by0 + r + 1, c);
    }
    for (int d = 0; d <= (int)DB_RANGE; d += 30) {
        int y = by0 + (int)lround(d / DB_RANGE * (bh - 1));
        char lab[16];
        snprintf(lab, sizeof lab, "%d", -d);
        fill_rect(img, W, H, bx + 10, y, bx + 13, y + 1, FG);
        pixfont_draw(img, W, H, bx + 15, y - 3, lab, FG, 1);
    }
    pixfont_draw(img, W, H, bx, by0 - 12, "DB", FG, 1);

    int rc = write_png_file(path, img, W, H, err, errlen);
    free(db);
    free(img);
    return rc;
}
