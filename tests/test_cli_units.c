/* Unit tests for the CLI's helpers: output-format and output-name policy, temporary outputs,
 * paths, the streaming spectrogram (a sine lands in its bin, every column is filled, the PNG is
 * well-formed) and the pixel font.
 * The helpers live in tools/ (not in the engine library), so they are compiled in here. */
#include "tests/check.h"

#include "tools/audio_file.c"
#include "tools/cli_path.c"
#include "tools/tempfile.c"
#include "tools/pixfont.c"
#include "tools/spectrogram.c"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

static audio_in_info sndfile_info(int rate, int ch, int format, int is_float) {
    audio_in_info in = {
        .rate = rate, .channels = ch, .sf_format = format, .float_samples = is_float};
    snprintf(in.format, sizeof in.format, "test");
    return in;
}

static void test_output_format(void) {
    audio_in_info pcm16 = sndfile_info(44100, 2, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 0);
    audio_in_info flt = sndfile_info(48000, 1, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1);
    audio_in_info flac = sndfile_info(48000, 2, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 0);
    audio_in_info mp3 = sndfile_info(44100, 2, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 1);
    audio_in_info m4a = sndfile_info(44100, 2, 0, 1); /* read by FFmpeg */
    snprintf(m4a.format, sizeof m4a.format, "AAC in M4A");
    char err[256];
    int f = 0;
    CHECK(audio_file_output_format("a/b.wav", &pcm16, 0, &f, err, sizeof err) == 0 &&
              f == (SF_FORMAT_WAV | SF_FORMAT_PCM_24),
          "16-bit in, .wav out: 24-bit WAV (got %#x)", f);
    CHECK(audio_file_output_format("b.WAV", &flt, 0, &f, err, sizeof err) == 0 &&
              f == (SF_FORMAT_WAV | SF_FORMAT_FLOAT),
          "float in, .WAV out: float WAV (got %#x)", f);
    CHECK(audio_file_output_format("x.flac", &flt, 0, &f, err, sizeof err) == 0 &&
              f == (SF_FORMAT_FLAC | SF_FORMAT_PCM_24),
          "float in, .flac out: 24-bit FLAC (got %#x)", f);
    CHECK(audio_file_output_format("x.ogg", &pcm16, 0, &f, err, sizeof err) == 0 &&
              f == (SF_FORMAT_OGG | SF_FORMAT_VORBIS),
          ".ogg: Vorbis (got %#x)", f);
    CHECK(audio_file_output_format("dir.v2/noext", &flac, 0, &f, err, sizeof err) == 0 &&
              (f & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC,
          "no extension: the input's container (got %#x)", f);
    CHECK(audio_file_output_format("x.mp5", &pcm16, 0, &f, err, sizeof err) != 0 &&
              strstr(err, "mp5") != NULL,
          "unknown extension refused with a message");
    CHECK(audio_file_output_format(".hidden", &flac, 0, &f, err, sizeof err) == 0 &&
              (f & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC,
          "a dot file has no extension");
    CHECK(audio_file_output_format("x.wav", &m4a, 0, &f, err, sizeof err) == 0 &&
              f == (SF_FORMAT_WAV | SF_FORMAT_FLOAT),
          "lossy FFmpeg input, .wav: float WAV (got %#x)", f);
    err[0] = 0;
    CHECK(audio_file_output_format("noext", &m4a, 0, &f, err, sizeof err) != 0 &&
              strstr(err, "no extension") && strstr(err, "AAC in M4A") && !strstr(err, "Hz"),
          "M4A in, no extension: names the format problem, not the rate (%s)", err);
    err[0] = 0;
    CHECK(audio_file_output_format("noext", &mp3, 0, &f, err, sizeof err) != 0 &&
              strstr(err, "no extension") && !strstr(err, "Hz"),
          "MP3 in, no extension: names the format problem, not the rate (%s)", err);
    CHECK(audio_file_output_format("noext", &mp3, SF_FORMAT_WAV, &f, err, sizeof err) == 0 &&
              f == (SF_FORMAT_WAV | SF_FORMAT_FLOAT),
          "MP3 in, no extension, --format wav: float WAV (got %#x)", f);
    CHECK(audio_file_output_format("x.flac", &pcm16, SF_FORMAT_WAV, &f, err, sizeof err) == 0 &&
              (f & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC,
          "an extension beats --format (the CLI refuses the conflict before)");
}

static void test_output_name(void) {
    audio_in_info wav = sndfile_info(44100, 2, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 0);
    audio_in_info mp3 = sndfile_info(44100, 2, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 1);
    audio_in_info opus = sndfile_info(48000, 2, SF_FORMAT_OGG | SF_FORMAT_OPUS, 1);
    audio_in_info m4a = sndfile_info(44100, 2, 0, 1);
    const struct {
        const char *in;
        const audio_in_info *info;
        int container;
        const char *want;
    } cases[] = {
        {"a/take1.wav", &wav, 0, "take1.wav"},
        {"a/take1.WAV", &wav, 0, "take1.WAV"},
        {"song.mp3", &mp3, 0, "song.flac"},
        {"dir/voice.opus", &opus, 0, "voice.flac"},
        {"phone.m4a", &m4a, 0, "phone.flac"},
        {"clip.v1.mp4", &m4a, 0, "clip.v1.flac"},
        {"memo", &m4a, 0, "memo.flac"},
        {"take2", &wav, 0, "take2"},
        {"phone.m4a", &m4a, SF_FORMAT_WAV, "phone.wav"},
        {"take1.wav", &wav, SF_FORMAT_FLAC, "take1.flac"},
        {".hidden", &m4a, SF_FORMAT_WAV, ".hidden.wav"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64] = "";
        int rc =
            audio_file_output_name(cases[i].in, cases[i].info, cases[i].container, out, sizeof out);
        CHECK(rc == 0 && !strcmp(out, cases[i].want), "output name of %s: '%s', wanted '%s'",
              cases[i].in, out, cases[i].want);
    }
    char tiny[8];
    CHECK(audio_file_output_name("longer-name.m4a", &m4a, 0, tiny, sizeof tiny) != 0,
          "a name that does not fit is refused");
    CHECK(audio_file_parse_container("FLAC") == SF_FORMAT_FLAC &&
              audio_file_parse_container("wav") == SF_FORMAT_WAV &&
              audio_file_parse_container("mp3") == 0 && audio_file_parse_container("") == 0,
          "--format names");
}

/* Temporary outputs: beside the target, hidden, with a new file's permissions; commit renames,
 * discard removes. */
static void test_tempfile(void) {
    char dir[] = "/tmp/menhance-tmpf-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    char target[128], tmp[PATH_MAX];
    snprintf(target, sizeof target, "%s/out.wav", dir);
    int fd = tempfile_create(target, tmp, sizeof tmp);
    CHECK(fd >= 0, "create");
    if (fd < 0) return;
    char want[160];
    snprintf(want, sizeof want, "%s/.out.wav.menhance-", dir);
    CHECK(!strncmp(tmp, want, strlen(want)), "hidden name beside the target: %s", tmp);
    struct stat st;
    mode_t mask = umask(0);
    umask(mask);
    CHECK(fstat(fd, &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask),
          "permissions of a new file (%o)", (unsigned)(st.st_mode & 0777));
    CHECK(write(fd, "x", 1) == 1, "write");
    close(fd);
    CHECK(tempfile_commit(tmp, target) == 0 && access(target, F_OK) == 0 && access(tmp, F_OK) != 0,
          "commit renames");
    fd = tempfile_create(target, tmp, sizeof tmp);
    CHECK(fd >= 0, "second create");
    close(fd);
    tempfile_discard(tmp);
    CHECK(access(tmp, F_OK) != 0, "discard removes");
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nodir/out.wav", dir);
    errno = 0;
    CHECK(tempfile_create(missing, tmp, sizeof tmp) < 0 && errno == ENOENT,
          "missing directory: -1, ENOENT");
    /* Slots are reused: many create/discard cycles never run out. */
    int ok = 1;
    for (int i = 0; i < 20 && ok; i++) {
        fd = tempfile_create(target, tmp, sizeof tmp);
        ok = fd >= 0;
        if (ok) {
            close(fd);
            tempfile_discard(tmp);
        }
    }
    CHECK(ok, "slots are reused");
    unlink(target);
    rmdir(dir);
}

static void test_cli_path(void) {
    char out[128];
    CHECK(!strcmp(cli_path_base("a/b/c.wav"), "c.wav") && !strcmp(cli_path_base("c"), "c"),
          "base name");
    CHECK(cli_path_join(out, sizeof out, "d/", "x.flac") == 0 && !strcmp(out, "d/x.flac"),
          "join with a slash: %s", out);
    CHECK(cli_path_join(out, sizeof out, "d", "x.flac") == 0 && !strcmp(out, "d/x.flac"),
          "join without: %s", out);
    CHECK(cli_path_spectrogram("/tmp/nodir-menhance/stem.png", "a/in.m4a", out, sizeof out) == 0 &&
              !strcmp(out, "/tmp/nodir-menhance/stem-in.m4a.png"),
          "stem naming: %s", out);
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
    test_output_name();
    test_tempfile();
    test_cli_path();
    test_same_file();
    test_spectrogram();
    test_pixfont();
    return check_summary("test_cli_units");
}
