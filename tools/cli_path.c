/* Path helpers for the CLI (see cli_path.h). */
#include "tools/cli_path.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const char *cli_path_base(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int cli_path_is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cli_path_ends_with_slash(const char *path) {
    size_t n = strlen(path);
    return n > 0 && path[n - 1] == '/';
}

int cli_path_make_directories(const char *path) {
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    return cli_path_is_directory(buf) ? 0 : -1;
}

int cli_path_join(char *out, size_t n, const char *dir, const char *name) {
    const char *sep = cli_path_ends_with_slash(dir) ? "" : "/";
    return snprintf(out, n, "%s%s%s", dir, sep, name) < (int)n ? 0 : -1;
}

int cli_path_spectrogram(const char *arg, const char *in, char *out, size_t n) {
    if (cli_path_is_directory(arg) || cli_path_ends_with_slash(arg)) {
        if (cli_path_make_directories(arg) != 0) return -1;
        const char *sep = cli_path_ends_with_slash(arg) ? "" : "/";
        return snprintf(out, n, "%s%s%s.png", arg, sep, cli_path_base(in)) < (int)n ? 0 : -1;
    }
    char stem[PATH_MAX];
    if (snprintf(stem, sizeof stem, "%s", arg) >= (int)sizeof stem) return -1;
    size_t len = strlen(stem);
    if (len > 4 && !strcmp(stem + len - 4, ".png")) stem[len - 4] = 0;
    return snprintf(out, n, "%s-%s.png", stem, cli_path_base(in)) < (int)n ? 0 : -1;
}
