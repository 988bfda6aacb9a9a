/* Output policy for the command-line tool: which container and sample format an output gets,
 * what an output in a directory is called, and whether two paths name the same file.  The
 * CLI writes with libsndfile: WAV, FLAC, Ogg Vorbis, AIFF, W64, CAF. */
#ifndef MENHANCE_TOOLS_AUDIO_FILE_H
#define MENHANCE_TOOLS_AUDIO_FILE_H
#include "tools/audio_in.h"

#include <sndfile.h>
#include <stddef.h>

/* What an input whose own container cannot be written (MP3, Opus, M4A, ...) gets when no
 * --format is given. */
#define AUDIO_FILE_DEFAULT_CONTAINER SF_FORMAT_FLAC

/* --format NAME (flac, wav, ogg, aiff, w64, caf; any case) -> libsndfile container, or 0. */
int audio_file_parse_container(const char *name);
/* The extension written for a container ("flac"), or NULL. */
const char *audio_file_extension(int container);
/* The container an output name's extension asks for, 0 for none or an unknown one; *has_ext
 * (may be NULL) tells which. */
int audio_file_container_of(const char *path, int *has_ext);

/* The name of in_path's output inside a directory: the input's file name, with its extension
 * replaced by `container`'s when that is given (non-zero), or when the input's own format
 * cannot be written (then AUDIO_FILE_DEFAULT_CONTAINER).  Returns 0, or -1 if it does not fit. */
int audio_file_output_name(const char *in_path, const audio_in_info *in, int container, char *out,
                           size_t n);

/* Picks the libsndfile format for writing out_path: the container from its extension, or when
 * it has none `container` (if non-zero), else the input's own; the sample format from what the
 * container holds best (float WAV/AIFF/W64/CAF for float and lossy inputs, else 24-bit PCM;
 * Vorbis for Ogg).  Returns 0, or -1 with a message for an unknown extension, an input format
 * this tool cannot write, or an impossible combination. */
int audio_file_output_format(const char *out_path, const audio_in_info *in, int container,
                             int *format, char *err, size_t errlen);

/* 1 when both paths exist and are the same file (also through links), else 0. */
int audio_file_same(const char *a, const char *b);

/* Short human-readable names, e.g. "FLAC" and "24-bit". */
const char *audio_file_container_name(int format);
const char *audio_file_sample_name(int format);
#endif
