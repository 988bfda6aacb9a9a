/* Minimal test harness: every test binary counts its checks and ends with the
 * summary line "N passed, N failed" that tests/run.sh adds up. */
#ifndef MENHANCE_TESTS_CHECK_H
#define MENHANCE_TESTS_CHECK_H
#include <stdio.h>

static int check_passed_, check_failed_;

#define CHECK(cond, ...)                                                                         \
    do {                                                                                         \
        if (cond) {                                                                              \
            check_passed_++;                                                                     \
        } else {                                                                                 \
            check_failed_++;                                                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                 \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
        }                                                                                        \
    } while (0)

static inline int check_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_passed_, check_failed_);
    return check_failed_ ? 1 : 0;
}
#endif
