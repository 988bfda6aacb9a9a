/* Audio input for the CLI: libsndfile for what it reads (WAV, FLAC, Ogg, AIFF, MP3, ...),
 * Debian's FFmpeg libraries for the rest (M4A/AAC, raw AAC, AMR, audio tracks of video
 * files), behind one reader that delivers interleaved floats at the file's own rate.  Checks
 * that the engine can take the audio (mono or stereo, 8-192 kHz). */
#ifndef MENHANCE_TOOLS_AUDIO_IN_H
#define MENHANCE_TOOLS_AUDIO_IN_H
#include <stddef.h>

typedef struct audio_in audio_in;

typedef struct {
    int rate, channels;
    /* libsndfile: exact.  FFmpeg: exact for MP4/MOV, else an estimate; 0: unknown. */
    long long frames;
    /* The length the file's header promises when the file holds less (a truncated WAV or
     * AIFF: a recorder that crashed, a copy cut short), else 0. */
    long long declared_frames;
    int sf_format;     /* libsndfile's format code when libsndfile reads the file, else 0 */
    int float_samples; /* no fixed word length (float or lossy): worth a float output */
    char format[80];   /* what the file is, e.g. "WAV 16-bit", "AAC in M4A" */
} audio_in_info;

/* path "-" reads standard input (what libsndfile reads from a pipe: WAV, AU, Ogg; Debian's
 * libsndfile 1.2.0 loses sync on FLAC through a pipe;
 * frames is then 0, unknown).  Returns NULL with a one-line message in err (naming the format and
 * what would read it when the file is audio that neither library can decode). */
audio_in *audio_in_open(const char *path, audio_in_info *info, char *err, size_t errlen);
/* Reads up to `frames` interleaved frames: the number read, 0 at the end, -1 on error. */
long audio_in_read(audio_in *a, float *buf, long frames);
const char *audio_in_error(const audio_in *a);
/* Damaged packets the decoder skipped (FFmpeg inputs; 0 for libsndfile). */
long long audio_in_damaged(const audio_in *a);
void audio_in_close(audio_in *a);
#endif
