/* Temporary outputs that are renamed into place when complete, and that no way of stopping
 * the CLI leaves behind: the fatal signals a user or a dying terminal or pipe sends (HUP, INT,
 * QUIT, PIPE, TERM, XCPU, XFSZ) remove every registered temporary file, then end the process
 * with that signal (exit status 128 + N, as the shell reports it). */
#ifndef MENHANCE_TOOLS_TEMPFILE_H
#define MENHANCE_TOOLS_TEMPFILE_H
#include <stddef.h>

/* Installs the handlers, except for signals that were ignored when the program started
 * (nohup's SIGHUP, a background job's SIGINT stay ignored). */
void tempfile_catch_signals(void);

/* Creates ".NAME.menhance-XXXXXX" beside target (same file system, so the final rename is
 * atomic), with the permissions a new file would get, and registers it.  Writes its path
 * into tmp.  Returns an open descriptor, or -1 with errno set. */
int tempfile_create(const char *target, char *tmp, size_t n);

/* Renames tmp to target and forgets it.  Returns 0, or -1 with errno set (tmp stays
 * registered: call tempfile_discard). */
int tempfile_commit(const char *tmp, const char *target);

/* Removes tmp and forgets it. */
void tempfile_discard(const char *tmp);
#endif
