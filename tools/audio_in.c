/* One reader over libsndfile and FFmpeg (see audio_in.h). */
#include "tools/audio_in.h"
#include "tools/ffmpeg_in.h"

#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The engine's documented host-rate range (engine/menhance.h). */
enum { RATE_MIN = 8000, RATE_MAX = 192000 };

struct audio_in {
    SNDFILE *sf;
    ffmpeg_in *ff;
    char err[256];
};

void audio_in_close(audio_in *a) {
    if (!a) return;
    if (a->sf) sf_close(a->sf);
    ffmpeg_in_close(a->ff);
    free(a);
}

static void sndfile_format_name(int format, char *out, size_t n) {
    SF_FORMAT_INFO major = {.format = format & SF_FORMAT_TYPEMASK};
    SF_FORMAT_INFO sub = {.format = format & SF_FORMAT_SUBMASK};
    int have_major = sf_command(NULL, SFC_GET_FORMAT_INFO, &major, sizeof major) == 0;
    int have_sub = sf_command(NULL, SFC_GET_FORMAT_INFO, &sub, sizeof sub) == 0;
    snprintf(out, n, "%s%s%s", have_major ? major.name : "audio", have_sub ? ", " : "",
             have_sub ? sub.name : "");
}

static int sndfile_float(int format) {
    switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_FLOAT:
    case SF_FORMAT_DOUBLE:
    case SF_FORMAT_VORBIS:
    case SF_FORMAT_OPUS:
    case SF_FORMAT_MPEG_LAYER_I:
    case SF_FORMAT_MPEG_LAYER_II:
    case SF_FORMAT_MPEG_LAYER_III:
        return 1; /* lossy codecs decode to floats with no fixed word length */
    default:
        return 0;
    }
}

/* libsndfile reads a truncated file to its real end and notes the header's claim in its log
 * ("data : 960000 (should be 384000)"; AIFF: "SSND"): the promised frame count, else 0. */
static long long declared_frames(SNDFILE *sf, long long frames) {
    char log[4096];
    sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
    static const char *const chunks[] = {"\ndata : ", "\nSSND : "};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        const char *p = strstr(log, chunks[k]);
        long long said, real;
        /* 0x7FFFF000 and 0xFFFFFFFF are what streamed WAVs (sox, ffmpeg, this CLI's -o -) write
         * when they cannot know the length: not a promise */
        if (p && sscanf(p + strlen(chunks[k]), "%lld (should be %lld)", &said, &real) == 2 &&
            real > 0 && said > real && said < 0x7FFFF000LL)
            return (long long)((double)frames * (double)said / (double)real + 0.5);
    }
    return 0;
}

static audio_in *open_stdin(audio_in_info *info, char *err, size_t errlen) {
    struct stat st;
    if (isatty(STDIN_FILENO)) {
        snprintf(err, errlen, "standard input is a terminal: pipe or redirect audio into it");
        return NULL;
    }
    audio_in *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    SF_INFO si = {0};
    a->sf = sf_open_fd(STDIN_FILENO, SFM_READ, &si, SF_FALSE);
    if (!a->sf) {
        snprintf(err, errlen,
                 "standard input: not audio that libsndfile reads from a pipe (%s); WAV, Ogg "
                 "and AU stream; FLAC and other formats need a file",
                 sf_strerror(NULL));
        free(a);
        return NULL;
    }
    info->rate = si.samplerate;
    info->channels = si.channels;
    /* a pipe's header may promise anything; only a redirected regular file has a length */
    info->frames = fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) ? si.frames : 0;
    info->sf_format = si.format;
    info->float_samples = sndfile_float(si.format);
    sndfile_format_name(si.format, info->format, sizeof info->format);
    return a;
}

static int check_engine_range(audio_in *a, const char *path, audio_in_info *info, char *err,
                              size_t errlen);

audio_in *audio_in_open(const char *path, audio_in_info *info, char *err, size_t errlen) {
    struct stat st;
    if (!strcmp(path, "-")) {
        memset(info, 0, sizeof *info);
        audio_in *a = open_stdin(info, err, errlen);
        return a && check_engine_range(a, "standard input", info, err, errlen) == 0 ? a : NULL;
    }
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: no such file", path);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory", path);
        return NULL;
    }
    audio_in *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memset(info, 0, sizeof *info);
    SF_INFO si = {0};
    a->sf = sf_open(path, SFM_READ, &si);
    if (a->sf) {
        info->rate = si.samplerate;
        info->channels = si.channels;
        info->frames = si.frames;
        info->sf_format = si.format;
        info->float_samples = sndfile_float(si.format);
        info->declared_frames = declared_frames(a->sf, si.frames);
        sndfile_format_name(si.format, info->format, sizeof info->format);
    } else {
        char sf_why[128], ff_why[320];
        snprintf(sf_why, sizeof sf_why, "%s", sf_strerror(NULL));
        ffmpeg_in_info fi;
        int recognised = 0;
        a->ff = ffmpeg_in_open(path, &fi, &recognised, ff_why, sizeof ff_why);
        if (!a->ff) {
            if (recognised)
                snprintf(err, errlen, "%s", ff_why);
            else
                snprintf(err, errlen,
                         "%s: unsupported or unreadable audio file: libsndfile: %s; %s", path,
                         sf_why, ff_why);
            audio_in_close(a);
            return NULL;
        }
        info->rate = fi.rate;
        info->channels = fi.channels;
        info->frames = fi.frames;
        info->float_samples = fi.float_samples;
        snprintf(info->format, sizeof info->format, "%s", fi.format);
    }
    return check_engine_range(a, path, info, err, errlen) == 0 ? a : NULL;
}

/* Mono or stereo at 8-192 kHz, or the reader is closed and -1 returned. */
static int check_engine_range(audio_in *a, const char *path, audio_in_info *info, char *err,
                              size_t errlen) {
    if (info->channels < 1 || info->channels > 2) {
        snprintf(err, errlen, "%s: %d channels (%s); only mono and stereo are supported", path,
                 info->channels, info->format);
        audio_in_close(a);
        return -1;
    }
    if (info->rate < RATE_MIN || info->rate > RATE_MAX) {
        snprintf(err, errlen, "%s: sample rate %d Hz is outside %d..%d Hz", path, info->rate,
                 RATE_MIN, RATE_MAX);
        audio_in_close(a);
        return -1;
    }
    return 0;
}

long audio_in_read(audio_in *a, float *buf, long frames) {
    if (a->ff) return ffmpeg_in_read(a->ff, buf, frames);
    sf_count_t n = sf_readf_float(a->sf, buf, frames);
    if (n == 0 && sf_error(a->sf) != SF_ERR_NO_ERROR) {
        snprintf(a->err, sizeof a->err, "%s", sf_strerror(a->sf));
        return -1;
    }
    return (long)n;
}

const char *audio_in_error(const audio_in *a) {
    if (a->ff) return ffmpeg_in_error(a->ff);
    return a->err[0] ? a->err : "no error";
}

long long audio_in_damaged(const audio_in *a) {
    return a->ff ? ffmpeg_in_damaged(a->ff) : 0;
}
