/* Audio decoding through Debian's FFmpeg libraries (libavformat, libavcodec, libswresample)
 * for what libsndfile cannot read: M4A/AAC from phones, raw AAC (ADTS), AMR, the audio track
 * of video files.  Used by tools/audio_in.c after libsndfile has declined a file. */
#ifndef MENHANCE_TOOLS_FFMPEG_IN_H
#define MENHANCE_TOOLS_FFMPEG_IN_H
#include <stddef.h>

typedef struct ffmpeg_in ffmpeg_in;

typedef struct {
    int rate, channels;
    /* Exact when the container states it (MP4/MOV family), else an estimate; 0: unknown. */
    long long frames;
    int float_samples; /* the decoder delivers floats (lossy codecs) rather than integers */
    char format[64];   /* e.g. "AAC in M4A", "raw AAC (ADTS)", "AMR-NB in AMR" */
} ffmpeg_in_info;

/* Opens the best audio track of path.  Returns NULL with a message in err that names the
 * format and, when FFmpeg knows it but cannot decode it, what would.  *recognised is set to 1
 * when FFmpeg identified the file (so its message beats libsndfile's). */
ffmpeg_in *ffmpeg_in_open(const char *path, ffmpeg_in_info *info, int *recognised, char *err,
                          size_t errlen);

/* Reads up to `frames` interleaved float frames.  Returns the number read, 0 at the end, or
 * -1 on a read error (message from ffmpeg_in_error). */
long ffmpeg_in_read(ffmpeg_in *f, float *buf, long frames);
const char *ffmpeg_in_error(const ffmpeg_in *f);
/* Packets the decoder rejected as damaged and that were skipped. */
long long ffmpeg_in_damaged(const ffmpeg_in *f);
void ffmpeg_in_close(ffmpeg_in *f);
#endif
