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

/* A fixed number of messages, however long they take: this test asserts correctness only
 * (nothing lost, reordered or torn).  How fast the ring goes is a benchmark figure
 * (`make bench`, "ring" in build/bench.json): a loaded 2-core machine under TSan once got only
 * 65,540 messages through in the time an old rate check allowed.  100,000 messages of 0-61
 * bytes through a 256-byte ring wrap it about 15,000 times (under a second idle). */
#define N_MSG 100000u
#define MAX_PAYLOAD 61

typedef struct {
    ring *r;
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
    for (seq = 0; seq < N_MSG; seq++) {
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

int main(void) {
    /* Small capacity so the ring is full or empty very often and wraps constantly. */
    shared sh = {.r = ring_create(200)};
    ring *r = sh.r;
    pthread_t t;
    pthread_create(&t, NULL, producer, &sh);
    uint32_t bad = 0, received = 0;
    unsigned char buf[MAX_PAYLOAD];
    for (;;) {
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
    CHECK(atomic_load(&sh.n_sent) == N_MSG, "sent %u of %u", atomic_load(&sh.n_sent), N_MSG);
    CHECK(received == atomic_load(&sh.n_sent), "received %u of %u", received,
          atomic_load(&sh.n_sent));
    CHECK(bad == 0, "%u corrupted or out-of-order messages", bad);
    CHECK(ring_read_space(r) == 0, "leftover bytes");
    ring_destroy(r);
    return check_summary("stress_ring");
}
