/* Input validation and output-format policy for the CLI (see audio_file.h). */
#include "tools/audio_file.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* The engine's documented host-rate range (engine/menhance.h). */
enum { RATE_MIN = 8000, RATE_MAX = 192000 };

SNDFILE *audio_file_open_input(const char *path, SF_INFO *info, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: no such file", path);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory", path);
        return NULL;
    }
    memset(info, 0, sizeof *info);
    SNDFILE *sf = sf_open(path, SFM_READ, info);
    if (!sf) {
        snprintf(err, errlen, "%s: unsupported or unreadable audio file (%s)", path,
                 sf_strerror(NULL));
        return NULL;
    }
    if (info->channels < 1 || info->channels > 2) {
        snprintf(err, errlen, "%s: %d channels; only mono and stereo are supported", path,
                 info->channels);
        sf_close(sf);
        return NULL;
    }
    if (info->samplerate < RATE_MIN || info->samplerate > RATE_MAX) {
        snprintf(err, errlen, "%s: sample rate %d Hz is outside %d..%d Hz", path, info->samplerate,
                 RATE_MIN, RATE_MAX);
        sf_close(sf);
        return NULL;
    }
    return sf;
}

static const char *extension_of(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    return (dot && dot != base) ? dot + 1 : NULL;
}

static int container_for_extension(const char *ext) {
    static const struct {
        const char *ext;
        int major;
    } map[] = {{"wav", SF_FORMAT_WAV},   {"flac", SF_FORMAT_FLAC}, {"ogg", SF_FORMAT_OGG},
               {"oga", SF_FORMAT_OGG},   {"aif", SF_FORMAT_AIFF},  {"aiff", SF_FORMAT_AIFF},
               {"aifc", SF_FORMAT_AIFF}, {"w64", SF_FORMAT_W64},   {"caf", SF_FORMAT_CAF}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(ext, map[i].ext) == 0) return map[i].major;
    return 0;
}

static int input_is_float(const SF_INFO *in) {
    int sub = in->format & SF_FORMAT_SUBMASK;
    /* Lossy codecs decode to floats with no fixed word length: keep that resolution. */
    return sub == SF_FORMAT_FLOAT || sub == SF_FORMAT_DOUBLE || sub == SF_FORMAT_VORBIS ||
           sub == SF_FORMAT_OPUS;
}

int audio_file_output_format(const char *out_path, const SF_INFO *in, int *format, char *err,
                             size_t errlen) {
    const char *ext = extension_of(out_path);
    int major = ext ? container_for_extension(ext) : (in->format & SF_FORMAT_TYPEMASK);
    if (!major) {
        snprintf(err, errlen,
                 "%s: unknown output extension '.%s' (use .wav, .flac, .ogg, .aiff, .w64, .caf)",
                 out_path, ext);
        return -1;
    }
    int sub;
    if (major == SF_FORMAT_FLAC)
        sub = SF_FORMAT_PCM_24; /* FLAC has no float samples */
    else if (major == SF_FORMAT_OGG)
        sub = SF_FORMAT_VORBIS;
    else
        sub = input_is_float(in) ? SF_FORMAT_FLOAT : SF_FORMAT_PCM_24;

    SF_INFO probe = {.samplerate = in->samplerate, .channels = in->channels};
    probe.format = major | sub;
    if (!sf_format_check(&probe)) {
        /* e.g. a container that only takes 16-bit: fall back before giving up */
        probe.format = major | SF_FORMAT_PCM_16;
        if (!sf_format_check(&probe)) {
            snprintf(err, errlen, "%s: cannot write %s at %d Hz, %d channels", out_path,
                     audio_file_container_name(major), in->samplerate, in->channels);
            return -1;
        }
    }
    *format = probe.format;
    return 0;
}

int audio_file_same(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

const char *audio_file_container_name(int format) {
    switch (format & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_WAV:
        return "WAV";
    case SF_FORMAT_FLAC:
        return "FLAC";
    case SF_FORMAT_OGG:
        return "Ogg";
    case SF_FORMAT_AIFF:
        return "AIFF";
    case SF_FORMAT_W64:
        return "W64";
    case SF_FORMAT_CAF:
        return "CAF";
    default:
        return "audio";
    }
}

const char *audio_file_sample_name(int format) {
    switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_16:
        return "16-bit";
    case SF_FORMAT_PCM_24:
        return "24-bit";
    case SF_FORMAT_PCM_32:
        return "32-bit";
    case SF_FORMAT_FLOAT:
        return "float";
    case SF_FORMAT_DOUBLE:
        return "double";
    case SF_FORMAT_VORBIS:
        return "Vorbis";
    default:
        return "other";
    }
}
