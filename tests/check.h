/* Minimal test harness: every test binary counts its checks and ends with the
 * summary line "N passed, N failed[, N skipped]" that tests/run.sh adds up.  A check that
 * cannot run here is SKIPped with its reason: counted and shown, never passed. */
#ifndef MENHANCE_TESTS_CHECK_H
#define MENHANCE_TESTS_CHECK_H
#include <stdio.h>

static int check_passed_, check_failed_, check_skipped_;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_passed_++;                                                                       \
        } else {                                                                                   \
            check_failed_++;                                                                       \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define SKIP(...)                                                                                  \
    do {                                                                                           \
        check_skipped_++;                                                                          \
        fprintf(stderr, "SKIP %s:%d: ", __FILE__, __LINE__);                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
    } while (0)

static inline int check_summary(const char *name) {
    if (check_skipped_)
        printf("%s: %d passed, %d failed, %d skipped\n", name, check_passed_, check_failed_,
               check_skipped_);
    else
        printf("%s: %d passed, %d failed\n", name, check_passed_, check_failed_);
    return check_failed_ ? 1 : 0;
}
#endif
