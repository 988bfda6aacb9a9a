/* Two-thread stress test of the SPSC ring, built with -fsanitize=thread by mk/dsp.mk.
 * The producer sends millions of variable-size messages (a header with a sequence number
 * and a length, then a payload derived from both); the consumer checks every byte.  Any
 * missing acquire/release pairing shows up as a TSan report or as a corrupted message. */
#include "dsp/ring.h"
#include "tests/check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* Up to N_MSG messages, but stop after TIME_LIMIT_S so a loaded CI machine stays within the
 * 20 s budget (an idle machine passes ~2 M messages in that time, one with load 8 about 1 M);
 * at least MIN_MSG must get through. */
#define N_MSG 3000000u
#define MIN_MSG 100000u
#define TIME_LIMIT_S 8.0
#define MAX_PAYLOAD 61

typedef struct {
    ring *r;
    atomic_int stop;    /* consumer -> producer: time is up */
    atomic_uint n_sent; /* producer -> consumer: final count, valid once done is set */
    atomic_int done;
} shared;

typedef struct {
    uint32_t seq;
    uint32_t len;
} header;

static unsigned char payload_byte(uint32_t seq, uint32_t i) {
    return (unsigned char)(seq * 31u + i * 7u + 1u);
}

static void *producer(void *arg) {
    shared *sh = arg;
    ring *r = sh->r;
    unsigned char msg[sizeof(header) + MAX_PAYLOAD];
    uint32_t seq;
    for (seq = 0; seq < N_MSG && !atomic_load(&sh->stop); seq++) {
        header h = {seq, (seq * 2654435761u >> 7) % (MAX_PAYLOAD + 1)};
        memcpy(msg, &h, sizeof h);
        for (uint32_t i = 0; i < h.len; i++)
            msg[sizeof h + i] = payload_byte(seq, i);
        /* Header and payload in one write: all-or-nothing keeps the message whole. */
        while (!ring_write(r, msg, sizeof h + h.len))
            sched_yield();
    }
    atomic_store(&sh->n_sent, seq);
    atomic_store(&sh->done, 1);
    return NULL;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
    /* Small capacity so the ring is full or empty very often and wraps constantly. */
    shared sh = {.r = ring_create(200)};
    ring *r = sh.r;
    pthread_t t;
    pthread_create(&t, NULL, producer, &sh);
    uint32_t bad = 0, received = 0;
    unsigned char buf[MAX_PAYLOAD];
    double t0 = now_s();
    for (;;) {
        if ((received & 0xFFFF) == 0 && now_s() - t0 > TIME_LIMIT_S) atomic_store(&sh.stop, 1);
        header h;
        if (!ring_peek(r, &h, sizeof h)) {
            /* Empty: finished once the producer is done and everything it sent is in. */
            if (atomic_load(&sh.done) && received == atomic_load(&sh.n_sent)) break;
            sched_yield();
            continue;
        }
        /* The whole message was written at once, so once the header is visible the payload
         * must be too. */
        if (ring_read_space(r) < sizeof h + h.len) bad++;
        if (!ring_read(r, &h, sizeof h)) bad++;
        if (h.len > MAX_PAYLOAD || !ring_read(r, buf, h.len)) {
            bad++;
            break;
        }
        if (h.seq != received) bad++;
        for (uint32_t i = 0; i < h.len; i++)
            if (buf[i] != payload_byte(h.seq, i)) bad++;
        received++;
    }
    pthread_join(t, NULL);
    printf("stress_ring: %u messages in %.1f s\n", received, now_s() - t0);
    CHECK(received == atomic_load(&sh.n_sent), "received %u of %u", received,
          atomic_load(&sh.n_sent));
    CHECK(received >= MIN_MSG, "only %u messages got through", received);
    CHECK(bad == 0, "%u corrupted or out-of-order messages", bad);
    CHECK(ring_read_space(r) == 0, "leftover bytes");
    ring_destroy(r);
    return check_summary("stress_ring");
}
