/* LD_PRELOAD probe for command-line LV2 hosts (tests/host/lv2file_check.sh): wraps
 * lilv_plugin_instantiate() and reports on stderr, before the plugin sees them, every feature
 * the host passes, whether each URI pointer can be read, and whether instantiate returned.
 *
 * Why: Debian's lv2file 0.95 passes a feature whose URI pointer is uninitialised, so the
 * plugin's feature scan (strcmp on each URI, as the LV2 spec allows) dies in 3-7 runs out of
 * 10.  A host crash must not be taken for a plugin bug, nor the reverse: the check script
 * calls a death "the known host bug" only when this probe saw an unreadable URI pointer and
 * instantiate never returned; anything else stays a failure. */
#include <dlfcn.h>
#include <lilv/lilv.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

typedef LilvInstance *(*instantiate_fn)(const LilvPlugin *, double, const LV2_Feature *const *);

/* Copies n bytes from p, or returns 0 if they cannot be read: process_vm_readv on our own
 * pid fails with EFAULT where a plain read would fault (write() to /dev/null would not even
 * look at the bytes). */
static int peek(void *dst, const void *p, size_t n) {
    struct iovec local = {dst, n}, remote = {(void *)p, n};
    return p && process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n;
}

/* Reads a string of at most max - 1 bytes into buf; returns its length, or -1 if some byte
 * before its end cannot be read or it is longer. */
static long peek_string(char *buf, const char *s, size_t max) {
    for (size_t n = 0; n + 1 < max; n++) {
        if (!peek(buf + n, s + n, 1)) return -1;
        if (!buf[n]) return (long)n;
    }
    return -1;
}

LilvInstance *lilv_plugin_instantiate(const LilvPlugin *plugin, double rate,
                                      const LV2_Feature *const *features) {
    instantiate_fn next = (instantiate_fn)dlsym(RTLD_NEXT, "lilv_plugin_instantiate");
    int bad = 0;
    const LV2_Feature *fp;
    for (int i = 0; features && peek(&fp, &features[i], sizeof fp) && fp; i++) {
        LV2_Feature f;
        if (!peek(&f, fp, sizeof f)) {
            fprintf(stderr, "feature_probe: feature %d at %p is unreadable\n", i, (void *)fp);
            bad++;
            break;
        }
        char uri[300];
        long n = f.URI ? peek_string(uri, f.URI, sizeof uri) : 0;
        if (!f.URI) {
            fprintf(stderr, "feature_probe: feature %d: URI NULL\n", i);
        } else if (n <= 0 || !memchr(uri, ':', (size_t)n)) {
            fprintf(stderr, "feature_probe: feature %d: URI pointer %p is %s\n", i,
                    (const void *)f.URI, n < 0 ? "unreadable" : "not a URI string");
            bad++;
        } else {
            fprintf(stderr, "feature_probe: feature %d: %s\n", i, uri);
        }
    }
    fprintf(stderr, "feature_probe: instantiate called, %d bad feature(s)\n", bad);
    LilvInstance *inst = next ? next(plugin, rate, features) : NULL;
    fprintf(stderr, "feature_probe: instantiate returned %s\n", inst ? "an instance" : "NULL");
    return inst;
}
