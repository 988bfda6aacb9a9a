/* SPSC byte ring.  Head and tail are free-running counters (they are never wrapped, only
 * masked on access), so "full" and "empty" need no spare slot and the capacity is exactly a
 * power of two.  The writer publishes with a release store of head after copying the bytes;
 * the reader acquires head before copying them out, and the mirror holds for tail. */
#include "dsp/ring.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Head and tail live on their own cache lines so the two threads do not false-share. */
#define RING_LINE 64

struct ring {
    _Alignas(RING_LINE) _Atomic size_t head; /* bytes ever written; only the writer stores */
    _Alignas(RING_LINE) _Atomic size_t tail; /* bytes ever read; only the reader stores */
    _Alignas(RING_LINE) unsigned char *buf;
    size_t mask;
};

ring *ring_create(size_t capacity_bytes) {
    size_t cap = 1;
    /* The largest power of two a size_t holds; beyond it the counters' difference would be
     * ambiguous. */
    if (capacity_bytes > (SIZE_MAX >> 1) + 1) return NULL;
    while (cap < capacity_bytes)
        cap <<= 1;
    ring *r = aligned_alloc(RING_LINE, (sizeof(ring) + RING_LINE - 1) / RING_LINE * RING_LINE);
    if (!r) return NULL;
    r->buf = malloc(cap);
    if (!r->buf) {
        free(r);
        return NULL;
    }
    r->mask = cap - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r;
}

void ring_destroy(ring *r) {
    if (!r) return;
    free(r->buf);
    free(r);
}

size_t ring_capacity(const ring *r) {
    return r->mask + 1;
}

/* The const casts are needed because C11's atomic_load takes a non-const pointer in some
 * libc headers; loads never modify the ring. */
static size_t load_head(const ring *r, memory_order mo) {
    return atomic_load_explicit((_Atomic size_t *)&r->head, mo);
}
static size_t load_tail(const ring *r, memory_order mo) {
    return atomic_load_explicit((_Atomic size_t *)&r->tail, mo);
}

size_t ring_read_space(const ring *r) {
    size_t tail = load_tail(r, memory_order_acquire);
    return load_head(r, memory_order_acquire) - tail;
}

size_t ring_write_space(const ring *r) {
    size_t head = load_head(r, memory_order_acquire);
    return ring_capacity(r) - (head - load_tail(r, memory_order_acquire));
}

/* Copies n bytes starting at counter position pos out of the ring, in at most two pieces. */
static void copy_out(const ring *r, size_t pos, void *dst, size_t n) {
    size_t off = pos & r->mask, first = ring_capacity(r) - off;
    if (first > n) first = n;
    memcpy(dst, r->buf + off, first);
    memcpy((unsigned char *)dst + first, r->buf, n - first);
}

int ring_write(ring *r, const void *src, size_t n) {
    /* Only this thread stores head, so a relaxed load of it is exact; tail needs acquire so
     * the reader's copy-out of the bytes we are about to overwrite has finished. */
    size_t head = load_head(r, memory_order_relaxed);
    size_t tail = load_tail(r, memory_order_acquire);
    if (n > ring_capacity(r) - (head - tail)) return 0;
    if (n == 0) return 1;
    size_t off = head & r->mask, first = ring_capacity(r) - off;
    if (first > n) first = n;
    memcpy(r->buf + off, src, first);
    memcpy(r->buf, (const unsigned char *)src + first, n - first);
    atomic_store_explicit(&r->head, head + n, memory_order_release);
    return 1;
}

int ring_peek(const ring *r, void *dst, size_t n) {
    size_t tail = load_tail(r, memory_order_relaxed);
    size_t head = load_head(r, memory_order_acquire);
    if (n > head - tail) return 0;
    if (n) copy_out(r, tail, dst, n);
    return 1;
}

int ring_read(ring *r, void *dst, size_t n) {
    size_t tail = load_tail(r, memory_order_relaxed);
    size_t head = load_head(r, memory_order_acquire);
    if (n > head - tail) return 0;
    if (n == 0) return 1;
    copy_out(r, tail, dst, n);
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return 1;
}

void ring_reset(ring *r) {
    atomic_store_explicit(&r->head, 0, memory_order_relaxed);
    atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
}
