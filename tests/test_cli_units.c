/* Unit tests for the CLI's helpers: output-format policy, the streaming spectrogram (a sine
 * lands in its bin, every column is filled, the PNG is well-formed) and the pixel font.
 * The helpers live in tools/ (not in the engine library), so they are compiled in here. */
#include "tests/check.h"

#include "tools/audio_file.c"
#include "tools/pixfont.c"
#include "tools/spectrogram.c"

#include <unistd.h>

static void test_output_format(void) {
    SF_INFO pcm16 = {
        .samplerate = 44100, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SF_INFO flt = {.samplerate = 48000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SF_INFO flac = {
        .samplerate = 48000, .channels = 2, .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
    char err[256];
    int f = 0;
    CHECK(audio_file_output_format("a/b.wav", &pcm16, &f, err, sizeof err) == 0 &&
              f == (SF_FORMAT_WAV | SF_FORMAT_PCM_24),
          "16-bit in, .wav out: 24-bit WAV (got %#x)", f);
    CHECK(audio_file_output_format("b.WAV", &flt, &f, err, sizeof err) == 0 &&
              f == (SF_FORMAT_WAV | SF_FORMAT_FLOAT),
          "float in, .WAV out: float WAV (got %#x)", f);
    CHECK(audio_file_output_format("x.flac", &flt, &f, err, sizeof err) == 0 &&
              f == (SF_FORMAT_FLAC | SF_FORMAT_PCM_24),
          "float in, .flac out: 24-bit FLAC (got %#x)", f);
    CHECK(audio_file_output_format("x.ogg", &pcm16, &f, err, sizeof err) == 0 &&
              f == (SF_FORMAT_OGG | SF_FORMAT_VORBIS),
          ".ogg: Vorbis (got %#x)", f);
    CHECK(audio_file_output_format("dir.v2/noext", &flac, &f, err, sizeof err) == 0 &&
              (f & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC,
          "no extension: the input's container (got %#x)", f);
    CHECK(audio_file_output_format("x.mp5", &pcm16, &f, err, sizeof err) != 0 &&
              strstr(err, "mp5") != NULL,
          "unknown extension refused with a message");
    CHECK(audio_file_output_format(".hidden", &flac, &f, err, sizeof err) == 0 &&
              (f & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC,
          "a dot file has no extension");
}

static void test_same_file(void) {
    char a[] = "/tmp/menhance-same-XXXXXX";
    int fd = mkstemp(a);
    CHECK(fd >= 0, "temp file");
    if (fd < 0) return;
    close(fd);
    char b[64];
    snprintf(b, sizeof b, "%s.lnk", a);
    CHECK(symlink(a, b) == 0, "symlink");
    CHECK(audio_file_same(a, a), "a file is itself");
    CHECK(audio_file_same(a, b), "a link to a file is the file");
    CHECK(!audio_file_same(a, "/tmp"), "different files differ");
    CHECK(!audio_file_same(a, "/nonexistent/x"), "a missing file is not the same");
    unlink(b);
    unlink(a);
}

static void test_spectrogram(void) {
    const int rate = 48000, n = rate; /* 1 s */
    const double f0 = 1000.0;
    spectrogram *s = spectrogram_create(rate, n, 400);
    CHECK(s != NULL, "create");
    if (!s) return;
    float block[333];
    for (int i = 0; i < n; i += 333) { /* an odd block size: framing must not care */
        int m = n - i < 333 ? n - i : 333;
        for (int k = 0; k < m; k++)
            block[k] = 0.5f * sinf(2.0f * (float)M_PI * (float)(f0 * (i + k) / rate));
        spectrogram_push(s, block, m);
    }
    spectrogram_finish(s);
    int empty = 0, off = 0;
    double hz = (double)rate / s->nfft;
    for (int x = 0; x < s->width; x++) {
        if (s->count[x] == 0) {
            empty++;
            continue;
        }
        const double *p = s->power + (size_t)x * s->bins;
        int best = 0;
        for (int k = 1; k < s->bins; k++)
            if (p[k] > p[best]) best = k;
        if (fabs(best * hz - f0) > hz) off++;
    }
    CHECK(s->width == 400, "width %d", s->width);
    CHECK(empty == 0, "%d empty columns", empty);
    CHECK(off == 0, "%d columns peak away from %g Hz", off, f0);

    spectrogram *t = spectrogram_create(rate, n, 400); /* silence: must still render */
    spectrogram_finish(t);
    char path[] = "/tmp/menhance-spec-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "temp png");
    if (fd >= 0) close(fd);
    char err[256];
    spectrogram_panel panels[2] = {{s, "SINE 1 KHZ"}, {t, "SILENCE"}};
    CHECK(spectrogram_write_png(path, panels, 2, SPECTROGRAM_LOG_FREQ, err, sizeof err) == 0,
          "write png: %s", err);
    unsigned char hdr[24] = {0};
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(hdr, 1, sizeof hdr, f) : 0;
    if (f) fclose(f);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    CHECK(got == sizeof hdr && !memcmp(hdr, sig, 8) && !memcmp(hdr + 12, "IHDR", 4),
          "PNG signature and IHDR");
    unsigned w = (unsigned)hdr[16] << 24 | hdr[17] << 16 | hdr[18] << 8 | hdr[19];
    unsigned h = (unsigned)hdr[20] << 24 | hdr[21] << 16 | hdr[22] << 8 | hdr[23];
    CHECK(w == (unsigned)(MARGIN_L + 400 + MARGIN_R), "PNG width %u", w);
    CHECK(h == (unsigned)(2 * (TITLE_H + PLOT_H + GAP_H) + AXIS_H), "PNG height %u", h);
    CHECK(spectrogram_write_png("/nonexistent-dir/x.png", panels, 1, SPECTROGRAM_LINEAR_FREQ, err,
                                sizeof err) != 0,
          "unwritable path reported");
    unlink(path);
    spectrogram_destroy(s);
    spectrogram_destroy(t);

    spectrogram *tiny = spectrogram_create(rate, 10, 1200); /* fewer samples than columns */
    float ten[10] = {1};
    spectrogram_push(tiny, ten, 10);
    spectrogram_finish(tiny);
    CHECK(tiny->width == 10 && tiny->count[0] > 0, "tiny signal: width %d", tiny->width);
    spectrogram_destroy(tiny);
}

static void test_pixfont(void) {
    CHECK(pixfont_width("AB", 1) == 11, "two glyphs, one gap: %d", pixfont_width("AB", 1));
    CHECK(pixfont_width("", 2) == 0, "empty text");
    unsigned char img[3 * 8 * 8] = {0};
    const unsigned char white[3] = {255, 255, 255};
    pixfont_draw(img, 8, 8, 0, 0, "1", white, 1);
    int lit = 0;
    for (int i = 0; i < 8 * 8; i++)
        lit += img[3 * i] == 255;
    CHECK(lit == 10, "'1' lights 10 pixels, got %d", lit); /* 1+2+1+1+1+1+3 */
    pixfont_draw(img, 8, 8, 6, 6, "W", white, 3); /* clipped at the edges: must not crash */
}

int main(void) {
    test_output_format();
    test_same_file();
    test_spectrogram();
    test_pixfont();
    return check_summary("test_cli_units");
}
