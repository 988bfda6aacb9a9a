/* Audio file helpers for the command-line tool: which inputs we accept, which output format
 * an output path implies, and whether two paths name the same file.  Thin policy over
 * libsndfile; the CLI does the streaming itself. */
#ifndef MENHANCE_TOOLS_AUDIO_FILE_H
#define MENHANCE_TOOLS_AUDIO_FILE_H
#include <sndfile.h>
#include <stddef.h>

/* Opens path for reading and checks that the engine can take it (1 or 2 channels, a rate
 * the engine supports).  Returns NULL with a message in err otherwise. */
SNDFILE *audio_file_open_input(const char *path, SF_INFO *info, char *err, size_t errlen);

/* Picks the libsndfile format for writing out_path: the container from its extension
 * (.wav .flac .ogg/.oga .aif/.aiff; none: the input's container), the sample format from what
 * the container holds best (float WAV/AIFF for float inputs, else 24-bit PCM; Vorbis for Ogg).
 * Returns 0, or -1 with a message for an unknown extension or an impossible combination. */
int audio_file_output_format(const char *out_path, const SF_INFO *in, int *format, char *err,
                             size_t errlen);

/* 1 when both paths exist and are the same file (also through links), else 0. */
int audio_file_same(const char *a, const char *b);

/* Short human-readable names, e.g. "FLAC" and "24-bit". */
const char *audio_file_container_name(int format);
const char *audio_file_sample_name(int format);
#endif
