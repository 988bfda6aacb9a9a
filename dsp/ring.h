/* Lock-free single-producer/single-consumer byte ring (C11 atomics).
 * One thread writes, one thread reads; neither ever blocks, allocates or locks.
 * Writes and reads are all-or-nothing so fixed-size messages never tear. */
#ifndef MENHANCE_RING_H
#define MENHANCE_RING_H
#include <stddef.h>

typedef struct ring ring;

/* Capacity is rounded up to a power of two; returns NULL on allocation failure. */
ring *ring_create(size_t capacity_bytes);
void ring_destroy(ring *r);
size_t ring_capacity(const ring *r);
size_t ring_read_space(const ring *r);  /* bytes ready for the reader */
size_t ring_write_space(const ring *r); /* bytes free for the writer */
/* Copies exactly n bytes or nothing; returns 1 on success, 0 if not enough data/space. */
int ring_write(ring *r, const void *src, size_t n);
int ring_read(ring *r, void *dst, size_t n);
int ring_peek(const ring *r, void *dst, size_t n); /* like ring_read, leaves data in place */
/* Resets both ends; only valid while neither thread uses the ring. */
void ring_reset(ring *r);
#endif
