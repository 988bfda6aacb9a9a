/* LD_PRELOAD trap for real-time safety: interposes the libc calls an audio thread must never
 * make (allocation, locks and waits, semaphore and condition-variable wake-ups, raw syscalls
 * such as futex, sleeps, file and console I/O) and counts the ones made by a thread while it
 * has declared itself "in run" through rt_trap_set(1).  Waking another thread is a syscall
 * (futex) whenever that thread sleeps, so sem_post and pthread_cond_signal count even when
 * they happen to find nobody waiting.  Other threads (the
 * engine's worker, the LV2 worker, the test's own setup) may do anything.
 *
 * The test host finds rt_trap_set / rt_trap_report with dlsym(RTLD_DEFAULT, ...), so the same
 * host binary runs with or without the trap.  Allocation goes to glibc's __libc_* entry points
 * (dlsym itself allocates, so it cannot be used to find malloc); everything else is found with
 * dlsym(RTLD_NEXT) on first use. */
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#define TLS __attribute__((tls_model("initial-exec"))) static __thread

TLS int in_run;
TLS int reporting; /* our own bookkeeping must not count */

static long violations;
static char first_names[8][32];
static int n_names;

__attribute__((visibility("default"))) void rt_trap_set(int on) {
    in_run = on;
}

/* Writes the count and the first offending function names; returns the count. */
__attribute__((visibility("default"))) long rt_trap_report(char *buf, size_t len) {
    if (buf && len) {
        buf[0] = 0;
        for (int i = 0; i < n_names; i++) {
            size_t used = strlen(buf);
            snprintf(buf + used, len - used, "%s%s", i ? " " : "", first_names[i]);
        }
    }
    return __atomic_load_n(&violations, __ATOMIC_RELAXED);
}

static void hit(const char *name) {
    if (!in_run || reporting) return;
    reporting = 1;
    long n = __atomic_fetch_add(&violations, 1, __ATOMIC_RELAXED);
    if (n < 8) {
        int i = __atomic_fetch_add(&n_names, 1, __ATOMIC_RELAXED);
        if (i < 8) {
            size_t k = strlen(name);
            if (k > 31) k = 31;
            memcpy(first_names[i], name, k);
            first_names[i][k] = 0;
        }
    }
    reporting = 0;
}

/* ---- allocation ---- */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t n) {
    hit("malloc");
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
    hit("calloc");
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    hit("realloc");
    return __libc_realloc(p, n);
}
void free(void *p) {
    if (p) hit("free");
    __libc_free(p);
}
void *memalign(size_t a, size_t n) {
    hit("memalign");
    return __libc_memalign(a, n);
}
void *aligned_alloc(size_t a, size_t n) {
    hit("aligned_alloc");
    return __libc_memalign(a, n);
}
int posix_memalign(void **out, size_t a, size_t n) {
    hit("posix_memalign");
    void *p = __libc_memalign(a, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}

/* ---- everything else: forward to the next definition ---- */
#define NEXT(ret, name, params)                                                                    \
    typedef ret(*name##_fn) params;                                                                \
    static name##_fn next_##name(void) {                                                           \
        static name##_fn f;                                                                        \
        if (!f) f = (name##_fn)dlsym(RTLD_NEXT, #name);                                            \
        return f;                                                                                  \
    }

NEXT(int, pthread_mutex_lock, (pthread_mutex_t *))
NEXT(int, pthread_cond_wait, (pthread_cond_t *, pthread_mutex_t *))
NEXT(int, pthread_cond_timedwait, (pthread_cond_t *, pthread_mutex_t *, const struct timespec *))
NEXT(int, pthread_cond_signal, (pthread_cond_t *))
NEXT(int, pthread_cond_broadcast, (pthread_cond_t *))
NEXT(int, sem_post, (sem_t *))
NEXT(int, sem_wait, (sem_t *))
NEXT(int, sem_timedwait, (sem_t *, const struct timespec *))
NEXT(long, syscall, (long, long, long, long, long, long, long))
NEXT(int, pthread_join, (pthread_t, void **))
NEXT(int, pthread_create, (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))
NEXT(int, nanosleep, (const struct timespec *, struct timespec *))
NEXT(int, clock_nanosleep, (clockid_t, int, const struct timespec *, struct timespec *))
NEXT(int, usleep, (unsigned))
NEXT(unsigned, sleep, (unsigned))
NEXT(int, open, (const char *, int, ...))
NEXT(int, open64, (const char *, int, ...))
NEXT(int, openat, (int, const char *, int, ...))
NEXT(FILE *, fopen, (const char *, const char *))
NEXT(FILE *, fopen64, (const char *, const char *))
NEXT(int, close, (int))
NEXT(ssize_t, read, (int, void *, size_t))
NEXT(ssize_t, write, (int, const void *, size_t))
NEXT(int, vfprintf, (FILE *, const char *, va_list))
NEXT(int, puts, (const char *))
NEXT(int, fputs, (const char *, FILE *))
NEXT(size_t, fwrite, (const void *, size_t, size_t, FILE *))
NEXT(int, fflush, (FILE *))

int pthread_mutex_lock(pthread_mutex_t *m) {
    hit("pthread_mutex_lock");
    return next_pthread_mutex_lock()(m);
}
int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) {
    hit("pthread_cond_wait");
    return next_pthread_cond_wait()(c, m);
}
int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t) {
    hit("pthread_cond_timedwait");
    return next_pthread_cond_timedwait()(c, m, t);
}
int pthread_cond_signal(pthread_cond_t *c) {
    hit("pthread_cond_signal");
    return next_pthread_cond_signal()(c);
}
int pthread_cond_broadcast(pthread_cond_t *c) {
    hit("pthread_cond_broadcast");
    return next_pthread_cond_broadcast()(c);
}
int sem_post(sem_t *s) {
    hit("sem_post");
    return next_sem_post()(s);
}
int sem_wait(sem_t *s) {
    hit("sem_wait");
    return next_sem_wait()(s);
}
int sem_timedwait(sem_t *s, const struct timespec *t) {
    hit("sem_timedwait");
    return next_sem_timedwait()(s, t);
}
/* syscall(SYS_futex, ...) and friends: six argument registers are passed on whatever the
 * caller gave (extra ones are ignored by the kernel). */
long syscall(long nr, ...) {
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    hit("syscall");
    return next_syscall()(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
int pthread_join(pthread_t t, void **r) {
    hit("pthread_join");
    return next_pthread_join()(t, r);
}
int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg) {
    hit("pthread_create");
    return next_pthread_create()(t, a, f, arg);
}
int nanosleep(const struct timespec *a, struct timespec *b) {
    hit("nanosleep");
    return next_nanosleep()(a, b);
}
int clock_nanosleep(clockid_t c, int fl, const struct timespec *a, struct timespec *b) {
    hit("clock_nanosleep");
    return next_clock_nanosleep()(c, fl, a, b);
}
int usleep(unsigned us) {
    hit("usleep");
    return next_usleep()(us);
}
unsigned sleep(unsigned s) {
    hit("sleep");
    return next_sleep()(s);
}
/* open's mode argument only exists with O_CREAT/O_TMPFILE; passing it always is harmless. */
int open(const char *p, int fl, ...) {
    va_list ap;
    va_start(ap, fl);
    unsigned mode = va_arg(ap, unsigned);
    va_end(ap);
    hit("open");
    return next_open()(p, fl, mode);
}
int open64(const char *p, int fl, ...) {
    va_list ap;
    va_start(ap, fl);
    unsigned mode = va_arg(ap, unsigned);
    va_end(ap);
    hit("open64");
    return next_open64()(p, fl, mode);
}
int openat(int d, const char *p, int fl, ...) {
    va_list ap;
    va_start(ap, fl);
    unsigned mode = va_arg(ap, unsigned);
    va_end(ap);
    hit("openat");
    return next_openat()(d, p, fl, mode);
}
FILE *fopen(const char *p, const char *m) {
    hit("fopen");
    return next_fopen()(p, m);
}
FILE *fopen64(const char *p, const char *m) {
    hit("fopen64");
    return next_fopen64()(p, m);
}
int close(int fd) {
    hit("close");
    return next_close()(fd);
}
ssize_t read(int fd, void *b, size_t n) {
    hit("read");
    return next_read()(fd, b, n);
}
ssize_t write(int fd, const void *b, size_t n) {
    hit("write");
    return next_write()(fd, b, n);
}
int vfprintf(FILE *f, const char *fmt, va_list ap) {
    hit("vfprintf");
    return next_vfprintf()(f, fmt, ap);
}
int fprintf(FILE *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hit("fprintf");
    int r = next_vfprintf()(f, fmt, ap);
    va_end(ap);
    return r;
}
int printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hit("printf");
    int r = next_vfprintf()(stdout, fmt, ap);
    va_end(ap);
    return r;
}
int puts(const char *s) {
    hit("puts");
    return next_puts()(s);
}
int fputs(const char *s, FILE *f) {
    hit("fputs");
    return next_fputs()(s, f);
}
size_t fwrite(const void *p, size_t a, size_t b, FILE *f) {
    hit("fwrite");
    return next_fwrite()(p, a, b, f);
}
int fflush(FILE *f) {
    hit("fflush");
    return next_fflush()(f);
}

/* Resolve every forward now: dlsym may allocate, which must not happen (and count) later
 * inside a run. */
__attribute__((constructor)) static void rt_trap_init(void) {
    next_pthread_mutex_lock();
    next_pthread_cond_wait();
    next_pthread_cond_timedwait();
    next_pthread_cond_signal();
    next_pthread_cond_broadcast();
    next_sem_post();
    next_sem_wait();
    next_sem_timedwait();
    next_syscall();
    next_pthread_join();
    next_pthread_create();
    next_nanosleep();
    next_clock_nanosleep();
    next_usleep();
    next_sleep();
    next_open();
    next_open64();
    next_openat();
    next_fopen();
    next_fopen64();
    next_close();
    next_read();
    next_write();
    next_vfprintf();
    next_puts();
    next_fputs();
    next_fwrite();
    next_fflush();
}
