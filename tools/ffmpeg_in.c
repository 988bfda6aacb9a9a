/* FFmpeg input backend (see ffmpeg_in.h). */
#include "tools/ffmpeg_in.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ffmpeg_in {
    AVFormatContext *fc;
    AVCodecContext *dec;
    SwrContext *swr;
    int swr_fmt; /* the sample format swr was set up for (decoders may only say at frame 1) */
    AVPacket *pkt;
    AVFrame *frame;
    int stream, channels, rate;
    float *buf; /* decoded interleaved frames, [pos, have) not yet delivered */
    long cap, have, pos;
    long long delivered, limit; /* limit < 0: none */
    long long damaged;
    int flushing, done;
    char err[320];
};

static void set_err(char *err, size_t n, const char *what, int averr) {
    char why[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(averr, why, sizeof why);
    snprintf(err, n, "%s (%s)", what, why);
}

/* "AAC (Advanced Audio Coding)" -> "AAC": the short name people know the codec by. */
static void codec_label(const AVCodecParameters *par, char *out, size_t n) {
    const AVCodecDescriptor *d = avcodec_descriptor_get(par->codec_id);
    if (!d) {
        snprintf(out, n, "unknown codec (tag 0x%x)", par->codec_tag);
        return;
    }
    const char *s = d->long_name ? d->long_name : d->name;
    const char *paren = strstr(s, " (");
    int len = paren ? (int)(paren - s) : (int)strlen(s);
    snprintf(out, n, "%.*s", len, s);
}

/* The demuxer's name for the container, preferring the token that matches the file's
 * extension ("mov,mp4,m4a,3gp,3g2,mj2" and x.m4a -> "M4A"). */
static void container_label(const AVInputFormat *f, const char *path, char *out, size_t n) {
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.'), *ext = dot && dot != base ? dot + 1 : "";
    const char *names = f->name, *pick = names;
    size_t pick_len = strcspn(names, ",");
    for (const char *t = names; *t;) {
        size_t len = strcspn(t, ",");
        if (len == strlen(ext) && !strncasecmp(t, ext, len)) {
            pick = t;
            pick_len = len;
        }
        t += len + (t[len] == ',');
    }
    if (n == 0) return;
    size_t i = 0;
    for (; i < pick_len && i + 1 < n; i++)
        out[i] = (char)toupper((unsigned char)pick[i]);
    out[i] = 0;
}

static void describe(const AVFormatContext *fc, const AVCodecParameters *par, const char *path,
                     char *out, size_t n) {
    char codec[48], box[32];
    codec_label(par, codec, sizeof codec);
    container_label(fc->iformat, path, box, sizeof box);
    if (!strcasecmp(codec, box))
        snprintf(out, n, "raw %s", codec);
    else if (!strncasecmp(codec, box, strlen(box)))
        snprintf(out, n, "%s", codec); /* "AMR-NB" in an "AMR" file */
    else
        snprintf(out, n, "%s in %s", codec, box);
}

void ffmpeg_in_close(ffmpeg_in *f) {
    if (!f) return;
    swr_free(&f->swr);
    avcodec_free_context(&f->dec);
    avformat_close_input(&f->fc);
    av_packet_free(&f->pkt);
    av_frame_free(&f->frame);
    free(f->buf);
    free(f);
}

/* Why the file has no decodable audio, naming what it is and what would read it. */
static void no_decoder(const AVFormatContext *fc, const char *path, char *err, size_t n) {
    const AVStream *audio = NULL;
    for (unsigned i = 0; i < fc->nb_streams && !audio; i++)
        if (fc->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) audio = fc->streams[i];
    if (!audio) {
        snprintf(err, n, "%s: %s file with no audio track", path, fc->iformat->long_name);
        return;
    }
    char what[128];
    describe(fc, audio->codecpar, path, what, sizeof what);
    const AVCodecDescriptor *d = avcodec_descriptor_get(audio->codecpar->codec_id);
    if (d)
        snprintf(err, n,
                 "%s: %s: this FFmpeg (%s) has no %s decoder; an FFmpeg built with one would "
                 "read it",
                 path, what, av_version_info(), d->name);
    else
        snprintf(err, n,
                 "%s: %s: neither libsndfile nor FFmpeg knows this codec; only the software "
                 "that recorded it can convert it",
                 path, what);
}

ffmpeg_in *ffmpeg_in_open(const char *path, ffmpeg_in_info *info, int *recognised, char *err,
                          size_t errlen) {
    /* The CLI reports problems itself, in one line each. */
    av_log_set_level(AV_LOG_QUIET);
    *recognised = 0;
    memset(info, 0, sizeof *info);
    ffmpeg_in *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int r = avformat_open_input(&f->fc, path, NULL, NULL);
    if (r < 0) {
        set_err(err, errlen, "FFmpeg does not recognise it either", r);
        goto fail;
    }
    *recognised = 1;
    if ((r = avformat_find_stream_info(f->fc, NULL)) < 0) {
        char what[256];
        snprintf(what, sizeof what, "%s: %s file that FFmpeg cannot parse", path,
                 f->fc->iformat->long_name);
        set_err(err, errlen, what, r);
        goto fail;
    }
    const AVCodec *codec = NULL;
    f->stream = av_find_best_stream(f->fc, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (f->stream < 0 || !codec) {
        no_decoder(f->fc, path, err, errlen);
        goto fail;
    }
    AVStream *st = f->fc->streams[f->stream];
    for (unsigned i = 0; i < f->fc->nb_streams; i++)
        if ((int)i != f->stream) f->fc->streams[i]->discard = AVDISCARD_ALL; /* video: skip */
    if (!(f->dec = avcodec_alloc_context3(codec)) || !(f->pkt = av_packet_alloc()) ||
        !(f->frame = av_frame_alloc())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if ((r = avcodec_parameters_to_context(f->dec, st->codecpar)) < 0 ||
        (f->dec->pkt_timebase = st->time_base, r = avcodec_open2(f->dec, codec, NULL)) < 0) {
        char what[256];
        snprintf(what, sizeof what, "%s: FFmpeg cannot open its %s decoder", path, codec->name);
        set_err(err, errlen, what, r);
        goto fail;
    }
    f->rate = f->dec->sample_rate;
    f->channels = f->dec->ch_layout.nb_channels;
    f->swr_fmt = AV_SAMPLE_FMT_NONE;
    /* MP4/MOV state the exact length (the edit list); decoders emit whole codec frames, so
     * the last one carries the encoder's padding.  Elsewhere durations are estimates. */
    f->limit = -1;
    int exact = strstr(f->fc->iformat->name, "mov") || strstr(f->fc->iformat->name, "mp4");
    long long frames = 0;
    if (f->rate > 0 && st->duration != AV_NOPTS_VALUE && st->duration > 0)
        frames = av_rescale_q(st->duration, st->time_base, (AVRational){1, f->rate});
    else if (f->rate > 0 && f->fc->duration != AV_NOPTS_VALUE && f->fc->duration > 0)
        frames = av_rescale(f->fc->duration, f->rate, AV_TIME_BASE);
    if (exact && frames > 0) f->limit = frames;

    info->rate = f->rate;
    info->channels = f->channels;
    info->frames = frames;
    enum AVSampleFormat packed = av_get_packed_sample_fmt(f->dec->sample_fmt);
    info->float_samples =
        packed == AV_SAMPLE_FMT_FLT || packed == AV_SAMPLE_FMT_DBL || packed == AV_SAMPLE_FMT_NONE;
    describe(f->fc, st->codecpar, path, info->format, sizeof info->format);
    return f;
fail:
    ffmpeg_in_close(f);
    return NULL;
}

static int fail(ffmpeg_in *f, const char *what, int averr) {
    set_err(f->err, sizeof f->err, what, averr);
    return -1;
}

/* Converts the decoded frame to interleaved float in f->buf (channel count and rate kept). */
static int convert(ffmpeg_in *f) {
    AVFrame *fr = f->frame;
    if (fr->sample_rate != f->rate || fr->ch_layout.nb_channels != f->channels) {
        snprintf(f->err, sizeof f->err, "the audio changes from %d Hz %d ch to %d Hz %d ch",
                 f->rate, f->channels, fr->sample_rate, fr->ch_layout.nb_channels);
        return -1;
    }
    if (!f->swr || f->swr_fmt != fr->format) {
        /* Only the sample layout changes: same rate and channels, so swr adds no delay. */
        AVChannelLayout lay;
        av_channel_layout_default(&lay, f->channels);
        swr_free(&f->swr);
        int r = swr_alloc_set_opts2(&f->swr, &lay, AV_SAMPLE_FMT_FLT, f->rate, &lay, fr->format,
                                    f->rate, 0, NULL);
        if (r < 0 || (r = swr_init(f->swr)) < 0) return fail(f, "sample conversion", r);
        f->swr_fmt = fr->format;
    }
    if (fr->nb_samples > f->cap) {
        float *b = realloc(f->buf, sizeof *b * (size_t)fr->nb_samples * (size_t)f->channels);
        if (!b) {
            snprintf(f->err, sizeof f->err, "out of memory");
            return -1;
        }
        f->buf = b;
        f->cap = fr->nb_samples;
    }
    uint8_t *out[1] = {(uint8_t *)f->buf};
    int n = swr_convert(f->swr, out, fr->nb_samples, (const uint8_t **)fr->extended_data,
                        fr->nb_samples);
    if (n < 0) return fail(f, "sample conversion", n);
    f->pos = 0;
    f->have = n;
    if (f->limit >= 0 && f->delivered + f->have > f->limit)
        f->have = (long)(f->limit - f->delivered);
    return 0;
}

/* Decodes until f->buf holds frames: 1, 0 at the end, -1 on error. */
static int decode_next(ffmpeg_in *f) {
    for (;;) {
        int r = avcodec_receive_frame(f->dec, f->frame);
        if (r == 0) {
            r = convert(f);
            av_frame_unref(f->frame);
            if (r < 0) return -1;
            if (f->have > 0) return 1;
            if (f->limit >= 0 && f->delivered >= f->limit) return 0;
            continue;
        }
        if (r == AVERROR_EOF) return 0;
        if (r == AVERROR_INVALIDDATA) {
            f->damaged++;
            continue;
        }
        if (r != AVERROR(EAGAIN)) return fail(f, "decoding failed", r);
        if (f->flushing) return 0;
        r = av_read_frame(f->fc, f->pkt);
        if (r == AVERROR_EOF) {
            f->flushing = 1;
            avcodec_send_packet(f->dec, NULL); /* drain the decoder's last frames */
            continue;
        }
        if (r < 0) return fail(f, "read failed", r);
        if (f->pkt->stream_index == f->stream) {
            r = avcodec_send_packet(f->dec, f->pkt);
            if (r == AVERROR_INVALIDDATA) {
                f->damaged++;
            } else if (r < 0) {
                av_packet_unref(f->pkt);
                return fail(f, "decoding failed", r);
            }
        }
        av_packet_unref(f->pkt);
    }
}

long ffmpeg_in_read(ffmpeg_in *f, float *buf, long frames) {
    long got = 0;
    while (got < frames && !f->done) {
        if (f->pos == f->have) {
            int r = decode_next(f);
            if (r < 0) return -1;
            if (r == 0) {
                f->done = 1;
                break;
            }
        }
        long take = f->have - f->pos < frames - got ? f->have - f->pos : frames - got;
        memcpy(buf + (size_t)got * f->channels, f->buf + (size_t)f->pos * f->channels,
               sizeof *buf * (size_t)take * f->channels);
        f->pos += take;
        got += take;
        f->delivered += take;
    }
    return got;
}

const char *ffmpeg_in_error(const ffmpeg_in *f) {
    return f->err[0] ? f->err : "no error";
}

long long ffmpeg_in_damaged(const ffmpeg_in *f) {
    return f->damaged;
}
