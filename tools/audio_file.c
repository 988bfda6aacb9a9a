/* Output-format policy for the CLI (see audio_file.h). */
#include "tools/audio_file.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const struct {
    const char *ext;
    int major;
} containers[] = {{"wav", SF_FORMAT_WAV},   {"flac", SF_FORMAT_FLAC}, {"ogg", SF_FORMAT_OGG},
                  {"aiff", SF_FORMAT_AIFF}, {"w64", SF_FORMAT_W64},   {"caf", SF_FORMAT_CAF},
                  {"oga", SF_FORMAT_OGG},   {"aif", SF_FORMAT_AIFF},  {"aifc", SF_FORMAT_AIFF}};
enum { N_CONTAINERS = sizeof containers / sizeof containers[0] };

static const char *extension_of(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    return (dot && dot != base) ? dot + 1 : NULL;
}

int audio_file_parse_container(const char *name) {
    for (int i = 0; i < N_CONTAINERS; i++)
        if (strcasecmp(name, containers[i].ext) == 0) return containers[i].major;
    return 0;
}

const char *audio_file_extension(int container) {
    for (int i = 0; i < N_CONTAINERS; i++)
        if (containers[i].major == (container & SF_FORMAT_TYPEMASK)) return containers[i].ext;
    return NULL;
}

int audio_file_container_of(const char *path, int *has_ext) {
    const char *ext = extension_of(path);
    if (has_ext) *has_ext = ext != NULL;
    return ext ? audio_file_parse_container(ext) : 0;
}

/* The input's own container when this tool writes it, else 0 (MP3, Opus in .opus, FFmpeg). */
static int writable_input_container(const audio_in_info *in) {
    int major = in->sf_format & SF_FORMAT_TYPEMASK;
    return major && audio_file_extension(major) ? major : 0;
}

int audio_file_output_name(const char *in_path, const audio_in_info *in, int container, char *out,
                           size_t n) {
    const char *slash = strrchr(in_path, '/');
    const char *base = slash ? slash + 1 : in_path;
    const char *ext = extension_of(base);
    int keep = !container &&
               (ext ? audio_file_parse_container(ext) != 0 : writable_input_container(in) != 0);
    if (keep) return snprintf(out, n, "%s", base) < (int)n ? 0 : -1;
    const char *new_ext =
        audio_file_extension(container ? container : AUDIO_FILE_DEFAULT_CONTAINER);
    int stem = ext ? (int)(ext - 1 - base) : (int)strlen(base);
    return snprintf(out, n, "%.*s.%s", stem, base, new_ext) < (int)n ? 0 : -1;
}

int audio_file_output_format(const char *out_path, const audio_in_info *in, int container,
                             int *format, char *err, size_t errlen) {
    const char *ext = extension_of(out_path);
    int major = ext         ? audio_file_parse_container(ext)
                : container ? container
                            : writable_input_container(in);
    if (!major && ext) {
        snprintf(err, errlen,
                 "%s: unknown output extension '.%s' (use .wav, .flac, .ogg, .aiff, .w64, .caf)",
                 out_path, ext);
        return -1;
    }
    if (!major) {
        snprintf(err, errlen,
                 "%s: the name has no extension and the input's format (%s) cannot be written: "
                 "name it .flac or .wav (or .ogg, .aiff, .w64, .caf), or give --format",
                 out_path, in->format);
        return -1;
    }
    int sub;
    if (major == SF_FORMAT_FLAC)
        sub = SF_FORMAT_PCM_24; /* FLAC has no float samples */
    else if (major == SF_FORMAT_OGG)
        sub = SF_FORMAT_VORBIS;
    else
        sub = in->float_samples ? SF_FORMAT_FLOAT : SF_FORMAT_PCM_24;

    SF_INFO probe = {.samplerate = in->rate, .channels = in->channels};
    probe.format = major | sub;
    if (!sf_format_check(&probe)) {
        /* e.g. a container that only takes 16-bit: fall back before giving up */
        probe.format = major | SF_FORMAT_PCM_16;
        if (!sf_format_check(&probe)) {
            snprintf(err, errlen, "%s: cannot write %s at %d Hz, %d channels", out_path,
                     audio_file_container_name(major), in->rate, in->channels);
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
    case SF_FORMAT_RF64:
        return "RF64 WAV";
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
