/* Where the CLI's audio goes, chosen by what the output path is:
 *
 *   a new name, or a regular file (also through symbolic links, which stay links)
 *       a temporary file beside the final target (tempfile.h), renamed over the target only
 *       when complete: a failure or a fatal signal leaves nothing half-written.  A WAV that
 *       may outgrow the RIFF header's 32-bit sizes (4 GiB) is written as RF64 and falls back to
 *       a plain WAV when it stays smaller (libsndfile's SFC_RF64_AUTO_DOWNGRADE), so a 3-hour
 *       float output is readable to its last sample, as sox's and ffmpeg's are;
 *   "-"  standard output: a streamed WAV (below), also when it is redirected to a file (which
 *       may be opened for appending); a terminal is refused;
 *   an existing FIFO, character device (/dev/null, a terminal) or socket
 *       written in place as a streamed WAV; never replaced by a file.
 *
 * A streamed WAV cannot be rewound to fix its header, so its sizes are written first: exact
 * when the caller knows the frame count and it fits, else sox's "unspecified" data length
 * 0x7FFFF000, which sox and ffmpeg read to the end of the stream.  Samples: 32-bit float, or
 * 16/24-bit PCM clipped to full scale (as the libsndfile outputs are, SFC_SET_CLIPPING). */
#ifndef MENHANCE_TOOLS_AUDIO_OUT_H
#define MENHANCE_TOOLS_AUDIO_OUT_H
#include <sndfile.h>
#include <stddef.h>

typedef struct audio_out audio_out;

/* What `path` would be written as: 1 a streamed WAV (standard output, a FIFO, a character
 * device, a socket), 0 a file renamed into place, -1 an error (message in err: a terminal on
 * standard output, a directory, a block device, a dangling link). */
int audio_out_streams(const char *path, char *err, size_t errlen);

/* Opens the output.  info: rate, channels and format (a libsndfile container | sample
 * format; a stream takes only WAV with FLOAT, PCM_16 or PCM_24).  frames: the exact number
 * of frames that will be written, or 0 when unknown (a stream's header); estimate: the likely
 * number (a decoder's estimate), 0 when unknown: a WAV file is RF64 when it might not fit.
 * An RF64 that stays under 4 GiB is rewritten by libsndfile as a WAV with a JUNK chunk and a
 * WAVE_FORMAT_EXTENSIBLE header, which every WAV reader takes.  Returns NULL with a one-line
 * message in err. */
audio_out *audio_out_open(const char *path, const SF_INFO *info, long long frames,
                          long long estimate, char *err, size_t errlen);

/* Writes `frames` interleaved frames.  Returns 0, or -1 (audio_out_error says why). */
int audio_out_write(audio_out *o, const float *interleaved, long frames);

/* The last error, for messages. */
const char *audio_out_error(const audio_out *o);

/* The container written so far (SF_FORMAT_RF64 once a WAV has outgrown 4 GiB) | sample format. */
int audio_out_format(const audio_out *o);

/* Finishes the output: closes the file and renames it into place, or ends the stream.
 * Returns 0, or -1 with a message in err (the temporary file is then removed by
 * audio_out_close).  Call audio_out_close afterwards in every case. */
int audio_out_commit(audio_out *o, char *err, size_t errlen);

/* Releases the output; an uncommitted temporary file is removed.  NULL is a no-op. */
void audio_out_close(audio_out *o);
#endif
