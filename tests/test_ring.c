/* Single-threaded edge cases of the SPSC ring: rounding, empty/full, all-or-nothing,
 * wrap-around, peek and reset.  The two-thread test is tests/stress_ring.c. */
#include "dsp/ring.h"
#include "tests/check.h"

#include <stdint.h>
#include <string.h>

static void test_capacity(void) {
    static const size_t req[] = {0, 1, 2, 3, 5, 64, 65, 1000, 4096};
    static const size_t want[] = {1, 1, 2, 4, 8, 64, 128, 1024, 4096};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        ring *r = ring_create(req[i]);
        CHECK(r != NULL, "create(%zu)", req[i]);
        if (!r) continue;
        CHECK(ring_capacity(r) == want[i], "capacity(%zu) = %zu, want %zu", req[i],
              ring_capacity(r), want[i]);
        CHECK(ring_read_space(r) == 0, "new ring not empty");
        CHECK(ring_write_space(r) == want[i], "new ring write space");
        ring_destroy(r);
    }
    CHECK(ring_create(SIZE_MAX) == NULL, "absurd capacity must fail");
    ring_destroy(NULL);
}

static void test_empty_full(void) {
    ring *r = ring_create(16);
    unsigned char a[32], b[32];
    for (int i = 0; i < 32; i++)
        a[i] = (unsigned char)(i + 1);
    memset(b, 0xEE, sizeof b);
    CHECK(ring_read(r, b, 1) == 0, "read from empty");
    CHECK(ring_peek(r, b, 1) == 0, "peek from empty");
    CHECK(b[0] == 0xEE, "failed read touched dst");
    CHECK(ring_read(r, b, 0) == 1 && ring_write(r, a, 0) == 1, "zero-size ops succeed");
    CHECK(ring_write(r, a, 17) == 0, "oversized write");
    CHECK(ring_read_space(r) == 0, "failed write left data");
    CHECK(ring_write(r, a, 16) == 1, "exact fill");
    CHECK(ring_write_space(r) == 0 && ring_read_space(r) == 16, "full spaces");
    CHECK(ring_write(r, a, 1) == 0, "write to full");
    CHECK(ring_write(r, a, 0) == 1, "zero write to full");
    CHECK(ring_read(r, b, 17) == 0, "read more than available");
    CHECK(ring_read_space(r) == 16, "failed read consumed");
    CHECK(ring_read(r, b, 16) == 1 && memcmp(a, b, 16) == 0, "read back full ring");
    CHECK(ring_read_space(r) == 0 && ring_write_space(r) == 16, "empty again");
    ring_destroy(r);
}

static void test_wrap_and_peek(void) {
    ring *r = ring_create(8);
    unsigned char out[8];
    unsigned next_w = 0, next_r = 0;
    int ok = 1;
    /* Sizes chosen so the indices cross the end of the buffer at every offset. */
    for (int it = 0; it < 1000; it++) {
        size_t n = (size_t)(it % 7) + 1;
        unsigned char in[8];
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(next_w + i);
        if (ring_write_space(r) < n) {
            size_t m = ring_read_space(r);
            unsigned char pk[8];
            ok &= ring_peek(r, pk, m) == 1;
            ok &= ring_read_space(r) == m; /* peek leaves data */
            ok &= ring_read(r, out, m) == 1;
            ok &= memcmp(pk, out, m) == 0;
            for (size_t i = 0; i < m; i++)
                ok &= out[i] == (unsigned char)(next_r + i);
            next_r += (unsigned)m;
        }
        ok &= ring_write(r, in, n) == 1;
        next_w += (unsigned)n;
    }
    CHECK(ok, "wrap-around data mismatch");
    ring_reset(r);
    CHECK(ring_read_space(r) == 0 && ring_write_space(r) == 8, "reset empties");
    ring_destroy(r);
}

/* Fixed-size messages never tear: a 12-byte message in a 16-byte ring that holds one. */
static void test_messages(void) {
    ring *r = ring_create(16);
    uint32_t msg[3] = {1, 2, 3}, got[3];
    int ok = 1;
    for (uint32_t i = 0; i < 100; i++) {
        msg[0] = i;
        ok &= ring_write(r, msg, sizeof msg) == 1;
        ok &= ring_write(r, msg, sizeof msg) == 0; /* 4 bytes free < 12 */
        ok &= ring_read(r, got, sizeof got) == 1 && got[0] == i && got[2] == 3;
    }
    CHECK(ok, "message round trip");
    ring_destroy(r);
}

int main(void) {
    test_capacity();
    test_empty_full();
    test_wrap_and_peek();
    test_messages();
    return check_summary("test_ring");
}
