/* Temporary outputs removed on fatal signals (see tempfile.h). */
#include "tools/tempfile.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A signal handler can only reach file-scope state: the registry of live temporary files.
 * It is changed only with the handled signals blocked, so the handler never sees a half-
 * written entry; mkstemp writes its name into the slot before it creates the file. */
enum { SLOTS = 4 };
static char slot_path[SLOTS][PATH_MAX];
static volatile sig_atomic_t slot_used[SLOTS];

static const int caught[] = {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGXCPU, SIGXFSZ};
static const char *const caught_msg[] = {
    "menhance: stopped by SIGHUP (hangup); temporary files removed\n",
    "menhance: interrupted; temporary files removed\n",
    "menhance: stopped by SIGQUIT; temporary files removed\n",
    "menhance: stopped by SIGPIPE (broken pipe); temporary files removed\n",
    "menhance: stopped by SIGTERM; temporary files removed\n",
    "menhance: stopped by SIGXCPU (CPU time limit); temporary files removed\n",
    "menhance: stopped by SIGXFSZ (file size limit); temporary files removed\n",
};
enum { N_CAUGHT = sizeof caught / sizeof caught[0] };

static void block_signals(sigset_t *old) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < N_CAUGHT; i++)
        sigaddset(&set, caught[i]);
    sigprocmask(SIG_BLOCK, &set, old);
}

static void restore_signals(const sigset_t *old) {
    sigprocmask(SIG_SETMASK, old, NULL);
}

static void say(const char *s) {
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r; /* nothing to do if stderr is gone (SIGPIPE) */
}

static void on_fatal_signal(int sig) {
    for (int i = 0; i < SLOTS; i++)
        if (slot_used[i]) unlink(slot_path[i]);
    for (int i = 0; i < N_CAUGHT; i++)
        if (caught[i] == sig) say(caught_msg[i]);
    /* Die of the same signal, so that the parent (a shell loop, make) sees why. */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(128 + sig);
}

void tempfile_catch_signals(void) {
    struct sigaction sa = {.sa_handler = on_fatal_signal};
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < N_CAUGHT; i++)
        sigaddset(&sa.sa_mask, caught[i]);
    for (int i = 0; i < N_CAUGHT; i++) {
        struct sigaction old;
        if (sigaction(caught[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(caught[i], &sa, NULL);
    }
}

int tempfile_create(const char *target, char *tmp, size_t n) {
    const char *slash = strrchr(target, '/');
    int dirlen = slash ? (int)(slash - target + 1) : 0;
    const char *base = target + dirlen;
    char name[PATH_MAX];
    if (snprintf(name, sizeof name, "%.*s.%s.menhance-XXXXXX", dirlen, target, base) >=
            (int)sizeof name ||
        strlen(name) >= n) {
        errno = ENAMETOOLONG;
        return -1;
    }
    sigset_t old;
    block_signals(&old);
    int s = 0;
    while (s < SLOTS && slot_used[s])
        s++;
    int fd = -1;
    if (s == SLOTS) {
        errno = EMFILE;
    } else {
        memcpy(slot_path[s], name, strlen(name) + 1);
        fd = mkstemp(slot_path[s]);
        if (fd >= 0) {
            slot_used[s] = 1;
            memcpy(tmp, slot_path[s], strlen(slot_path[s]) + 1);
        }
    }
    restore_signals(&old);
    if (fd < 0) return -1;
    /* mkstemp makes 0600; the output should get what any new file gets. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        int e = errno;
        close(fd);
        tempfile_discard(tmp);
        errno = e;
        return -1;
    }
    return fd;
}

static int find(const char *tmp) {
    for (int i = 0; i < SLOTS; i++)
        if (slot_used[i] && !strcmp(slot_path[i], tmp)) return i;
    return -1;
}

int tempfile_commit(const char *tmp, const char *target) {
    sigset_t old;
    block_signals(&old);
    int rc = rename(tmp, target), e = errno;
    int s = find(tmp);
    if (rc == 0 && s >= 0) slot_used[s] = 0;
    restore_signals(&old);
    errno = e;
    return rc;
}

void tempfile_discard(const char *tmp) {
    sigset_t old;
    block_signals(&old);
    int s = find(tmp);
    if (s >= 0) {
        unlink(tmp);
        slot_used[s] = 0;
    }
    restore_signals(&old);
}
