/* Streaming spectrogram for before/after pictures: audio is pushed in blocks as it is
 * processed (the whole file is never held), each image column averages the power spectra
 * of the frames that fall in it, and the panels are rendered side by side in one PNG on a
 * shared dB scale so that "before" and "after" compare directly. */
#ifndef MENHANCE_TOOLS_SPECTROGRAM_H
#define MENHANCE_TOOLS_SPECTROGRAM_H
#include <stddef.h>

typedef struct spectrogram spectrogram;

/* expected_samples sizes the time axis (the file's length); width is the number of image
 * columns wanted (fewer for very short signals).  Returns NULL on allocation failure. */
spectrogram *spectrogram_create(int rate, long long expected_samples, int width);
void spectrogram_destroy(spectrogram *s);
/* x: n mono samples. */
void spectrogram_push(spectrogram *s, const float *x, int n);
/* Analyses what is still buffered (the signal's tail); call once, after the last push. */
void spectrogram_finish(spectrogram *s);

typedef struct {
    const spectrogram *spec;
    const char *title;
} spectrogram_panel;

typedef enum { SPECTROGRAM_LOG_FREQ = 0, SPECTROGRAM_LINEAR_FREQ = 1 } spectrogram_scale;

/* Writes the panels stacked top to bottom (all from the same rate and length) with frequency
 * and time axes, titles and a dB colour bar.  Returns 0, or -1 with a message. */
int spectrogram_write_png(const char *path, const spectrogram_panel *panels, int npanels,
                          spectrogram_scale scale, char *err, size_t errlen);
#endif
