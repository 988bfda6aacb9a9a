/* Where the CLI's audio goes (see audio_out.h). */
#include "tools/audio_out.h"

#include "tools/tempfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* sox's marker for a data length it could not know (wav.c: the largest value every reader
 * accepts as a length, not 0xFFFFFFFF, which sox takes literally and then reports an early
 * end); ffmpeg also reads such a stream to its end. */
#define WAV_UNSPECIFIED_DATA 0x7FFFF000u
/* Leave room for the header chunks below 4 GiB when deciding whether a WAV fits. */
#define WAV_MAX_DATA (0xFFFFFFFFull - 4096u)

struct audio_out {
    SNDFILE *sf; /* a file (temporary, or standard output when it is a regular file) */
    int fd;      /* the stream's descriptor, -1 for files */
    int own_fd;
    int format, channels, bytes; /* stream: bytes per sample */
    unsigned char *buf;
    size_t cap;
    char tmp[PATH_MAX], target[PATH_MAX];
    int tmp_made, rf64;
    long long written;
    char err[PATH_MAX + 128];
};

static int stream_kind(mode_t m) {
    return S_ISFIFO(m) || S_ISCHR(m) || S_ISSOCK(m);
}

int audio_out_streams(const char *path, char *err, size_t errlen) {
    struct stat st;
    if (!strcmp(path, "-")) {
        if (isatty(STDOUT_FILENO)) {
            snprintf(err, errlen,
                     "-o -: standard output is a terminal; redirect it to a file or a pipe "
                     "(e.g. | sox -t wav - out.flac)");
            return -1;
        }
        if (fstat(STDOUT_FILENO, &st) != 0) {
            snprintf(err, errlen, "-o -: standard output is closed (%s)", strerror(errno));
            return -1;
        }
        /* always streamed, even into a regular file: `>> file` appends, and a shell may have
         * written before us, so nothing may seek back to a header at offset 0 */
        return 1;
    }
    if (stat(path, &st) == 0) {
        if (stream_kind(st.st_mode)) return 1;
        if (S_ISREG(st.st_mode)) return 0;
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s: is a directory", path);
            return -1;
        }
        snprintf(err, errlen, "%s: is a block device or other special file, not an audio file",
                 path);
        return -1;
    }
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        snprintf(err, errlen, "%s: is a symbolic link to a missing file", path);
        return -1;
    }
    return 0;
}

static int stream_bytes(int format) {
    switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_FLOAT:
        return 4;
    case SF_FORMAT_PCM_24:
        return 3;
    case SF_FORMAT_PCM_16:
        return 2;
    default:
        return 0;
    }
}

static void put16(unsigned char *p, unsigned v) {
    p[0] = (unsigned char)(v & 0xFF);
    p[1] = (unsigned char)((v >> 8) & 0xFF);
}

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)((v >> (8 * i)) & 0xFF);
}

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* RIFF/WAVE header for a stream: fmt (WAVE_FORMAT_PCM, or WAVE_FORMAT_IEEE_FLOAT with the
 * cbSize field and the fact chunk that non-PCM WAV needs), then the data chunk's header. */
static int stream_header(audio_out *o, int rate, long long frames) {
    const int is_float = (o->format & SF_FORMAT_SUBMASK) == SF_FORMAT_FLOAT;
    const uint32_t block = (uint32_t)(o->channels * o->bytes);
    unsigned long long data = (unsigned long long)frames * block;
    uint32_t data32 = frames > 0 && data <= WAV_MAX_DATA ? (uint32_t)data : WAV_UNSPECIFIED_DATA;
    unsigned char h[58];
    size_t n = 0;
    const uint32_t fmt_len = is_float ? 18 : 16;
    memcpy(h, "RIFF", 4);
    /* RIFF size: everything after this field */
    uint32_t riff = 4 + (8 + fmt_len) + (is_float ? 12 : 0) + 8 + data32;
    put32(h + 4, riff);
    memcpy(h + 8, "WAVEfmt ", 8);
    put32(h + 16, fmt_len);
    put16(h + 20, is_float ? 3 : 1);
    put16(h + 22, (unsigned)o->channels);
    put32(h + 24, (uint32_t)rate);
    put32(h + 28, (uint32_t)rate * block);
    put16(h + 32, block);
    put16(h + 34, (unsigned)(8 * o->bytes));
    n = 36;
    if (is_float) {
        put16(h + n, 0); /* cbSize */
        n += 2;
        memcpy(h + n, "fact", 4);
        put32(h + n + 4, 4);
        put32(h + n + 8, data32 / block);
        n += 12;
    }
    memcpy(h + n, "data", 4);
    put32(h + n + 4, data32);
    n += 8;
    return write_all(o->fd, h, n);
}

audio_out *audio_out_open(const char *path, const SF_INFO *info, long long frames,
                          long long estimate, char *err, size_t errlen) {
    int s = audio_out_streams(path, err, errlen);
    if (s < 0) return NULL;
    audio_out *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    o->fd = -1;
    o->format = info->format;
    o->channels = info->channels;
    const int is_stdout = !strcmp(path, "-");
    const char *name = is_stdout ? "standard output" : path;
    if (s == 1) {
        o->bytes = stream_bytes(info->format);
        if ((info->format & SF_FORMAT_TYPEMASK) != SF_FORMAT_WAV || !o->bytes) {
            snprintf(err, errlen,
                     "%s is not a regular file: only WAV (float, 16- or 24-bit) can be streamed "
                     "to it (--format wav)",
                     name);
            free(o);
            return NULL;
        }
        if (is_stdout) {
            o->fd = STDOUT_FILENO;
        } else {
            /* a FIFO's open waits for its reader, as any writer's does */
            o->fd = open(path, O_WRONLY | O_CLOEXEC);
            if (o->fd < 0) {
                snprintf(err, errlen, "%s: cannot write (%s)", path, strerror(errno));
                free(o);
                return NULL;
            }
            o->own_fd = 1;
        }
        snprintf(o->target, sizeof o->target, "%s", name);
        if (stream_header(o, info->samplerate, frames) != 0) {
            snprintf(err, errlen, "%s: write failed (%s)", name, strerror(errno));
            audio_out_close(o);
            return NULL;
        }
        return o;
    }

    SF_INFO si = *info;
    /* 4 bytes a sample covers every sample format; an estimate gets a quarter's margin */
    const long long likely = frames > 0 ? frames : estimate + estimate / 4;
    const unsigned long long bytes =
        (unsigned long long)(likely > 0 ? likely : 0) * (unsigned long long)info->channels * 4u;
    const int rf64 = (info->format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV &&
                     (likely <= 0 || bytes > WAV_MAX_DATA);
    if (rf64) si.format = SF_FORMAT_RF64 | (info->format & SF_FORMAT_SUBMASK);
    int fd;
    {
        /* the file a symbolic link names is the one replaced; the link stays */
        char real[PATH_MAX];
        struct stat st;
        if (stat(path, &st) == 0 && realpath(path, real))
            snprintf(o->target, sizeof o->target, "%s", real);
        else
            snprintf(o->target, sizeof o->target, "%s", path);
        fd = tempfile_create(o->target, o->tmp, sizeof o->tmp);
        if (fd < 0) {
            snprintf(err, errlen, "%s: cannot write (%s)", path, strerror(errno));
            free(o);
            return NULL;
        }
        o->tmp_made = 1;
    }
    o->sf = sf_open_fd(fd, SFM_WRITE, &si, SF_TRUE); /* closes fd itself, even on failure */
    if (!o->sf) {
        snprintf(err, errlen, "%s: cannot write (%s)", name, sf_strerror(NULL));
        audio_out_close(o);
        return NULL;
    }
    o->format = si.format;
    o->rf64 = rf64;
    if (rf64) sf_command(o->sf, SFC_RF64_AUTO_DOWNGRADE, NULL, SF_TRUE);
    /* integer outputs clip rather than wrap around on overs */
    sf_command(o->sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    return o;
}

/* libsndfile's float to integer conversion with clipping (SFC_SET_CLIPPING), so a streamed
 * output holds the same samples as a file: scaled to 32 bits in single precision, rounded,
 * clipped, then the low bits dropped (an arithmetic shift). */
static int32_t to_int(float y, int bytes) {
    const float s = y * 2147483648.0f;
    int32_t v;
    if (s >= 2147483647.0f)
        v = INT32_MAX;
    else if (s <= -2147483648.0f)
        v = INT32_MIN;
    else if (s == s)
        v = (int32_t)lrintf(s);
    else
        v = 0; /* NaN */
    return v >> (32 - 8 * bytes);
}

int audio_out_write(audio_out *o, const float *x, long frames) {
    if (o->sf) {
        if (sf_writef_float(o->sf, x, frames) != frames) {
            snprintf(o->err, sizeof o->err, "%s", sf_strerror(o->sf));
            return -1;
        }
        o->written += frames;
        return 0;
    }
    const size_t n = (size_t)frames * (size_t)o->channels, need = n * (size_t)o->bytes;
    if (need > o->cap) {
        unsigned char *b = realloc(o->buf, need);
        if (!b) {
            snprintf(o->err, sizeof o->err, "out of memory");
            return -1;
        }
        o->buf = b;
        o->cap = need;
    }
    unsigned char *p = o->buf;
    for (size_t i = 0; i < n; i++) {
        if (o->bytes == 4) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            put32(p, u);
        } else {
            uint32_t u = (uint32_t)to_int(x[i], o->bytes);
            for (int k = 0; k < o->bytes; k++)
                p[k] = (unsigned char)((u >> (8 * k)) & 0xFF);
        }
        p += o->bytes;
    }
    if (write_all(o->fd, o->buf, need) != 0) {
        snprintf(o->err, sizeof o->err, "%s", strerror(errno));
        return -1;
    }
    o->written += frames;
    return 0;
}

const char *audio_out_error(const audio_out *o) {
    return o->err[0] ? o->err : "no error";
}

int audio_out_format(const audio_out *o) {
    if (o->rf64) {
        /* what SFC_RF64_AUTO_DOWNGRADE leaves: a plain WAV when the data fits */
        int b = stream_bytes(o->format);
        unsigned long long data =
            (unsigned long long)o->written * (unsigned)o->channels * (unsigned)(b ? b : 8);
        if (data <= WAV_MAX_DATA) return SF_FORMAT_WAV | (o->format & SF_FORMAT_SUBMASK);
    }
    return o->format;
}

int audio_out_commit(audio_out *o, char *err, size_t errlen) {
    if (o->sf) {
        int rc = sf_close(o->sf);
        o->sf = NULL;
        if (rc != 0) {
            snprintf(err, errlen, "%s: %s", o->target[0] ? o->target : "standard output",
                     sf_error_number(rc));
            return -1;
        }
        if (o->tmp_made) {
            if (tempfile_commit(o->tmp, o->target) != 0) {
                snprintf(err, errlen, "%s: %s", o->target, strerror(errno));
                return -1;
            }
            o->tmp_made = 0;
        }
        return 0;
    }
    if (o->own_fd) {
        int rc = close(o->fd);
        o->own_fd = 0;
        o->fd = -1;
        if (rc != 0) {
            snprintf(err, errlen, "%s: %s", o->target, strerror(errno));
            return -1;
        }
    }
    return 0;
}

void audio_out_close(audio_out *o) {
    if (!o) return;
    if (o->sf) sf_close(o->sf);
    if (o->tmp_made) tempfile_discard(o->tmp);
    if (o->own_fd) close(o->fd);
    free(o->buf);
    free(o);
}
