/* Path helpers for the CLI: where each output and spectrogram goes. */
#ifndef MENHANCE_TOOLS_CLI_PATH_H
#define MENHANCE_TOOLS_CLI_PATH_H
#include <stddef.h>

/* The file name part of path ("a/b.wav" -> "b.wav"). */
const char *cli_path_base(const char *path);
int cli_path_is_directory(const char *path);
int cli_path_ends_with_slash(const char *path);
/* mkdir -p; 0 when path is a directory afterwards. */
int cli_path_make_directories(const char *path);
/* dir + "/" + name into out; -1 if it does not fit. */
int cli_path_join(char *out, size_t n, const char *dir, const char *name);
/* The spectrogram for input `in` when there are several: DIR/NAME.png when arg is a directory
 * (or ends with '/', then created), else STEM-NAME.png (arg without ".png"), NAME being the
 * input's file name with its extension.  0, or -1. */
int cli_path_spectrogram(const char *arg, const char *in, char *out, size_t n);
#endif
