/* The engine: host-rate blocks in, host-rate blocks out, constant latency.
 *
 * Timeline.  The host signal x is resampled to 16 kHz (x16, delay d1 host samples) and cut
 * into chunks of one hop (256 samples).  Chunk i is published to the enhancement stage; its
 * result ("out chunk" i, enhance_latency() = A samples behind) is due Sc chunks later, when
 * it is appended to the 16 kHz output stream y16, which starts with P0 samples of silence.
 * So y16[k] = P[k - D16] with D16 = A + Sc * hop + P0, and y16 goes back to the host rate
 * (delay d2 at 16 kHz).  P0 is padded so that the whole delay is a whole number of host
 * samples: latency = d1 + (d2 + D16) * rate / 16000.
 *
 * The same delayed, unprocessed x16 goes through an identical upsampler ("raw"): the host
 * input delayed by the latency minus that raw signal is exactly the part of the input the
 * 16 kHz path cannot carry (above ~8 kHz), which hiband.c denoises and adds back.  A late
 * chunk is replaced by the raw chunk, so the fallback is the delayed dry input, and the
 * switch is a linear crossfade over one chunk (we know one chunk ahead whether the next
 * chunk is there).
 *
 * Threads.  The enhancement state (STFT history, model caches) is owned by whoever holds
 * `busy`: the worker thread normally, the audio thread when synchronous (freewheeling or an
 * engine without a thread).  Chunks are processed strictly in order from `next`, whoever
 * runs them, so a synchronous run gives exactly what a live run gives when the worker keeps
 * up.  The audio thread never blocks: the only wait is at the switch into synchronous mode,
 * a spin bounded by one chunk of worker computation. */
#include "engine/menhance.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "dsp/resample.h"
#include "dsp/biquad.h"
#include "dsp/ring.h"
#include "engine/enhance.h"
#include "engine/frontend_eq.h"
#include "engine/hiband.h"
#include "engine/limiter.h"
#include "engine/model.h"

#define HOP ENHANCE_HOP
#define MAX_CH 2
#define NSLOT 64     /* chunks in flight between the threads; power of two */
#define RS_QUALITY 6 /* passes ripple, alias and round-trip specs at 2.7x less delay than 10 */
#define MAX_SLACK_CHUNKS 12
#define HIST16 8192 /* x16 history, enough for D16 + a chunk (checked at create) */
#define RAMP_SECONDS 0.02f
/* The model's verdict on the high band is smoothed over this long: it decides whether the
 * classical tracker may cut there, and must not move around each attack (the tracker's own
 * timing is what keeps attacks free of pre-echo). */
#define HI_SMOOTH_S 0.3f
/* A model cut of the top bands this deep (3 dB) or deeper lets the tracker cut in full. */
#define HI_FULL_CUT 0.70794578f
/* Chunks whose high-band gains are kept: every chunk still in the 16 kHz output FIFO (at most
 * yq_cap / HOP, about 70 for an 8192-sample block at 8 kHz) must still be there. */
#define HI_RING 256
#define VOC_LATE_LIMIT 4
#define VOC_HOLD_CHUNKS 625 /* 10 s */
#define OUT_LIMIT 8.0f      /* +18 dBFS: nothing louder ever leaves, NaN never does */
/* Digital-silence gate ramp: short enough to end in silence, long enough not to click. */
#define GATE_RAMP_S 0.005f
/* Reach of one 16 kHz output sample into the 16 kHz input, either way: the STFT window
 * (1023) backwards, the phase path's look-ahead forwards (the stage's latency less its pure
 * one-hop output delay: 1279), rounded up.  Mode 2's refiner reaches about 100 samples
 * further (its conditioner's look-ahead); the silence gate may trim that reach at the first
 * samples of a sound after digital silence, where the refiner's change is scaled by a channel
 * level near zero anyway. */
#define SPAN16 (ENHANCE_NFFT + ENHANCE_LOOKAHEAD * ENHANCE_HOP + 32)
/* The worker polls for chunks instead of being woken for each one: waking a sleeping thread
 * is a futex syscall, which the audio thread must not make in steady state.  A 2 ms poll
 * (an eighth of a chunk) costs little of the worker's slack of two chunks or more.  After a
 * pause of POLL_IDLE_S plus two of the longest host blocks without a chunk (the host stopped
 * calling), the worker sleeps on the semaphore, and only then does the audio thread post. */
#define POLL_NS 2000000L
#define POLL_IDLE_S 0.5

typedef struct {
    float x[MAX_CH][HOP];
    enhance_params p;
} in_slot;

typedef struct {
    _Atomic long long tag; /* index of the chunk whose result is stored here */
    float y[MAX_CH][HOP];
    float hi_gain, hi_share; /* enhance_hiband() for this chunk */
} out_slot;

/* A profile crossing threads through two seqlocks, one writer each: the host's thread hands
 * one in (or a clear), the stage takes it before a chunk (generation counted, so each is taken
 * once); the stage publishes its own after a chunk.  n floats, at most HANDOVER_MAX. */
#define HANDOVER_MAX ENHANCE_NOISE_PROFILE
_Static_assert(ENHANCE_MELS <= HANDOVER_MAX, "the Tone verdict fits a handover");
typedef struct {
    size_t n;
    float in[HANDOVER_MAX], out[HANDOVER_MAX];
    int in_clear, out_flag;
    _Atomic unsigned in_seq, in_gen, in_applied, out_seq;
} handover;

struct menhance {
    menhance_config cfg;
    int C, rate, latency;
    int d1, d2, Sc, P0, A, D16;
    /* Output stage: everything up to the limiter runs La host samples ahead of the output
     * (the limiter's look-ahead), paid for by emitting each 16 kHz chunk E samples earlier
     * than it is needed, so the latency is what it was without a limiter. */
    int La, E;
    limiter *lim;
    biquad dc;
    double zin[MAX_CH][2], zdry[MAX_CH][2]; /* DC blocker state: wet input, delayed dry */
    /* Digital-silence gate: an output channel is zero while its input has been exactly zero
     * for everything the output could depend on (Wg either side, plus the ramp). */
    int Wg, Rg;
    long long nz[MAX_CH]; /* nonzero input samples inside the window */
    float gate[MAX_CH], gate_step;
    resampler *down[MAX_CH], *up[MAX_CH], *upraw[MAX_CH];

    /* audio-thread state */
    menhance_params params;
    float *scratch16[MAX_CH]; /* resampler output for one block */
    float acc[MAX_CH][HOP];   /* the chunk being filled */
    int acc_n;
    long long chunk_in;             /* chunks published so far */
    float *hist16[MAX_CH];          /* x16 by absolute index mod HIST16 */
    long long n16;                  /* x16 samples seen */
    float *yq[MAX_CH], *rq[MAX_CH]; /* 16 kHz output FIFOs: processed and raw */
    /* Per emitted chunk (by index mod HI_RING): the model's high-band gain and its share. */
    float hr_gain[HI_RING], hr_share[HI_RING];
    long long hr_tag[HI_RING];
    long long h_up; /* host samples upsampled since reset */
    int yq_n, yq_cap;
    float *proc[MAX_CH], *raw[MAX_CH]; /* one host block of each, upsampled */
    float *xw[MAX_CH], *gbuf[MAX_CH];  /* DC-blocked input, then the mix; gate gains */
    float *dry[MAX_CH];                /* host-rate delay line for the dry input */
    int dry_len, dry_pos;
    float *xin[MAX_CH];
    hiband *hb;
    float *hraw[MAX_CH];     /* one host block of the high band before the classical tracker */
    float *hgain, *hshare;   /* one host block of the chunks' high-band gain and share */
    float hg_s, hs_s, hi_a;  /* both smoothed over HI_SMOOTH_S, and its coefficient */
    float w_prev;            /* crossfade target at the end of the last chunk */
    int avail_next;          /* is chunk (emitted + 1) there? decided one chunk ahead */
    long long emitted;       /* next out chunk to append to y16 */
    float g_amt, g_en, g_hi; /* smoothed amount, enabled and high-band amount */
    float g_listen;          /* smoothed listen_removed: 1 plays what is removed */
    float ramp_step;
    _Atomic unsigned long long n_ok, n_late, n_underrun;
    _Atomic int debug_delay_us, debug_voc_delay_us;
    /* Automatic fallback from the vocoder when the worker cannot keep up with it. */
    unsigned long long late_bits; /* fate of the last 64 chunks, 1 = late */
    int voc_hold;                 /* chunks left in the fallback */
    _Atomic int effective_mode;

    /* shared between the audio thread and the worker */
    in_slot *in;
    out_slot *out;
    _Atomic long long produced;
    _Atomic int busy; /* 0 free, 1 worker, 2 audio thread */
    _Atomic int sync_mode;
    _Atomic int quit;
    long long next; /* owned by the holder of busy */
    int warmup;     /* chunks whose output is not valid yet after a restart; same owner */
    enhance *enh;
    menhance_model *active; /* owned by the holder of busy */
    _Atomic(menhance_model *) pending;
    /* Learn noise's held floor and the Tone verdict for a saved state cross threads the same
     * way (handover): menhance_set_*_profile -> the enhancement stage, and the stage's own
     * after each chunk -> menhance_get_*_profile. */
    handover noise_prof, tone_prof;
    unsigned noise_out_version;
    ring *retired;
    char none; /* its address marks "no pending model" */

    pthread_t thread;
    sem_t wake;
    int have_thread, have_sem;
    int idle_polls;     /* polls without a new chunk before the worker sleeps */
    _Atomic int asleep; /* the worker waits on `wake` (or is about to): post to wake it */
};

#define NO_MODEL(e) ((menhance_model *)&(e)->none)

void menhance_params_default(menhance_params *p) {
    p->amount = 1.0f;
    p->hiband = 1.0f;
    /* Gentle on purpose: measured on the validation music, stronger classical settings remove
     * more music than noise (docs/design.md, "Do no harm"). */
    p->strength = 0.5f;
    p->max_atten_db = 6.0f;
    p->mode = MENHANCE_MODE_MEL2MEL; /* runs classical until a model is there */
    p->enabled = 1;
    p->synchronous = 0;
    p->limiter = 1;
    p->noise = p->room = p->tone = 1.0f;
    p->listen_removed = 0;
    p->learn_noise = 0;
}

static int gcd(int a, int b) {
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void set_err(char *err, size_t len, const char *msg) {
    if (err && len) snprintf(err, len, "%s", msg);
}

/* ---- the enhancement stage, run by whoever holds `busy` ---- */

static void pick_up_model(menhance *e) {
    if (atomic_load(&e->pending) == NO_MODEL(e)) return;
    /* Until someone collects the retired models, keep the current one and retry later. */
    if (e->active && ring_write_space(e->retired) < sizeof e->active) return;
    menhance_model *p = atomic_exchange(&e->pending, NO_MODEL(e));
    if (p == NO_MODEL(e)) return;
    if (e->active) ring_write(e->retired, &e->active, sizeof e->active);
    e->active = p;
}

static void debug_sleep(int us) {
    if (us <= 0) return;
    struct timespec d = {us / 1000000, (us % 1000000) * 1000L};
    nanosleep(&d, NULL);
}

/* Seqlock halves: one writer brackets its copy with two increments (odd while writing); a
 * reader copies and retries until it saw the same even count before and after. */
static void seq_write(_Atomic unsigned *seq, float *dst, const float *src, size_t n, int *flag,
                      int flag_value) {
    atomic_fetch_add_explicit(seq, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    if (src) memcpy(dst, src, n * sizeof *dst);
    *flag = flag_value;
    atomic_thread_fence(memory_order_release);
    atomic_fetch_add_explicit(seq, 1, memory_order_relaxed);
}

/* The flag of a consistent copy, or -1 when `once` and the writer was busy (the audio side
 * never waits for a writer: it tries again at its next chunk). */
static int seq_read(_Atomic unsigned *seq, float *dst, const float *src, size_t n, const int *flag,
                    int once) {
    for (;;) {
        unsigned a = atomic_load_explicit(seq, memory_order_acquire);
        if (!(a & 1u)) {
            memcpy(dst, src, n * sizeof *dst);
            int f = *flag;
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(seq, memory_order_relaxed) == a) return f;
        }
        if (once) return -1;
    }
}

/* Host side: hands in a profile, or a clear (NULL). */
static void handover_give(handover *h, const float *profile) {
    seq_write(&h->in_seq, h->in, profile, h->n, &h->in_clear, profile == NULL);
    atomic_fetch_add_explicit(&h->in_gen, 1, memory_order_release);
}

/* Stage side, before a chunk: a profile handed in (or a clear) that no chunk has taken yet goes
 * to hold(), once.  The audio side never waits for the writer: busy, it tries at its next
 * chunk. */
static void handover_pick_up(handover *h, enhance *enh, void (*hold)(enhance *, const float *)) {
    unsigned g = atomic_load_explicit(&h->in_gen, memory_order_acquire);
    if (g == atomic_load_explicit(&h->in_applied, memory_order_relaxed)) return;
    float buf[HANDOVER_MAX];
    int clear = seq_read(&h->in_seq, buf, h->in, h->n, &h->in_clear, 1);
    if (clear < 0) return;
    hold(enh, clear ? NULL : buf);
    atomic_store_explicit(&h->in_applied, g, memory_order_release);
}

/* Stage side, after a chunk: its own profile (NULL: none) and flag. */
static void handover_publish(handover *h, const float *profile, int flag) {
    seq_write(&h->out_seq, h->out, profile, h->n, &h->out_flag, flag);
}

/* Host side: the flag of the profile in effect, copied into profile when set.  One handed in
 * that no chunk has taken yet is the engine's from now on: a host that saves a restored state
 * before it runs again must not lose it. */
static int handover_get(handover *h, float *profile) {
    float buf[HANDOVER_MAX];
    int flag;
    if (atomic_load_explicit(&h->in_gen, memory_order_acquire) !=
        atomic_load_explicit(&h->in_applied, memory_order_acquire))
        flag = !seq_read(&h->in_seq, buf, h->in, h->n, &h->in_clear, 0);
    else
        flag = seq_read(&h->out_seq, buf, h->out, h->n, &h->out_flag, 0);
    if (flag && profile) memcpy(profile, buf, h->n * sizeof *buf);
    return flag;
}

/* After a chunk: the stage's held floor, published when it changed. */
static void publish_noise_profile(menhance *e) {
    unsigned v;
    enhance_noise_profile(e->enh, NULL, &v);
    if (v == e->noise_out_version) return;
    e->noise_out_version = v;
    float buf[ENHANCE_NOISE_PROFILE];
    int held = enhance_noise_profile(e->enh, buf, NULL);
    handover_publish(&e->noise_prof, buf, held);
}

int menhance_get_noise_profile(menhance *e, float *profile) {
    return handover_get(&e->noise_prof, profile);
}

void menhance_set_noise_profile(menhance *e, const float *profile) {
    handover_give(&e->noise_prof, profile);
}

/* After a chunk: the stage's Tone verdict (it moves every frame while a model runs). */
static void publish_tone_profile(menhance *e) {
    float buf[ENHANCE_MELS];
    int valid = enhance_tone_profile(e->enh, buf);
    if (!valid && !e->tone_prof.out_flag) return; /* out_flag: this side is its only writer */
    handover_publish(&e->tone_prof, valid ? buf : NULL, valid);
}

int menhance_get_tone_profile(menhance *e, float *profile) {
    return handover_get(&e->tone_prof, profile);
}

void menhance_set_tone_profile(menhance *e, const float *profile) {
    float clean[ENHANCE_MELS];
    if (profile) enhance_tone_clean(profile, clean); /* read back as it will be applied */
    handover_give(&e->tone_prof, profile ? clean : NULL);
}

/* Processes up to `limit` published chunks in order; returns 1 if more are waiting.
 * on_worker: called by the worker thread (the only one allowed to be slow on purpose). */
static int process_pending(menhance *e, int limit, int on_worker) {
    for (int done = 0;; done++) {
        long long produced = atomic_load_explicit(&e->produced, memory_order_acquire);
        if (e->next >= produced) return 0;
        if (done == limit) return 1;
        if (produced - e->next > NSLOT / 2) {
            /* Fell far behind (a stalled worker): skip to the present, restart history. */
            e->next = produced - 1;
            enhance_reset(e->enh);
            e->warmup = (enhance_latency(e->enh) + HOP - 1) / HOP;
        }
        long long j = e->next;
        in_slot local;
        memcpy(&local, &e->in[j % NSLOT], sizeof local);
        if (atomic_load_explicit(&e->produced, memory_order_acquire) - j >= NSLOT) continue;
        pick_up_model(e);
        /* profiles handed in by menhance_set_{noise,tone}_profile */
        handover_pick_up(&e->noise_prof, e->enh, enhance_hold_noise);
        handover_pick_up(&e->tone_prof, e->enh, enhance_hold_tone);
        if (on_worker && local.p.mode == MENHANCE_MODE_MEL2MEL_VOCODER)
            debug_sleep(atomic_load(&e->debug_voc_delay_us));
        out_slot *o = &e->out[j % NSLOT];
        const float *in[MAX_CH] = {local.x[0], local.x[1]};
        float *out[MAX_CH] = {o->y[0], o->y[1]};
        enhance_process(e->enh, in, out, &local.p, e->active);
        publish_noise_profile(e);
        publish_tone_profile(e);
        enhance_hiband(e->enh, &o->hi_gain, &o->hi_share);
        atomic_store_explicit(&e->effective_mode, enhance_effective_mode(e->enh),
                              memory_order_relaxed);
        /* A restarted history has no past yet: those chunks stay "late" (dry). */
        if (e->warmup > 0)
            e->warmup--;
        else
            atomic_store_explicit(&o->tag, j, memory_order_release);
        e->next = j + 1;
    }
}

static void *worker_main(void *arg) {
    menhance *e = arg;
#if defined(__SSE__)
    _mm_setcsr(_mm_getcsr() | 0x8040); /* flush denormals to zero */
#endif
    int more = 0, idle = 0;
    long long seen = -1;
    while (!atomic_load(&e->quit)) {
        long long produced = atomic_load(&e->produced);
        if (produced != seen) {
            seen = produced;
            idle = 0;
        }
        if (!more && idle < e->idle_polls) {
            idle++;
            debug_sleep(POLL_NS / 1000);
        } else if (!more) {
            /* Dekker with publish_chunk(): either the audio thread sees `asleep` and posts,
             * or this thread sees the new chunk and does not wait. */
            atomic_store(&e->asleep, 1);
            atomic_thread_fence(memory_order_seq_cst);
            if (atomic_load(&e->produced) == seen && !atomic_load(&e->quit)) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 200 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                sem_timedwait(&e->wake, &ts);
            }
            atomic_store(&e->asleep, 0);
        }
        more = 0;
        if (atomic_load(&e->sync_mode)) continue;
        debug_sleep(atomic_load(&e->debug_delay_us));
        int expect = 0;
        if (!atomic_compare_exchange_strong(&e->busy, &expect, 1)) continue;
        /* One chunk at a time, so a switch to synchronous mode waits for one chunk at most. */
        if (!atomic_load(&e->sync_mode)) more = process_pending(e, 1, 1);
        atomic_store_explicit(&e->busy, 0, memory_order_release);
    }
    return NULL;
}

/* ---- create / destroy ---- */

static float *alloc_f(size_t n) {
    return calloc(n ? n : 1, sizeof(float));
}

menhance *menhance_create(const menhance_config *cfg, menhance_model *model, char *err,
                          size_t errlen) {
    if (!cfg || cfg->sample_rate < 8000 || cfg->sample_rate > 192000) {
        set_err(err, errlen, "unsupported sample rate (8000..192000 Hz)");
        return NULL;
    }
    if (cfg->channels < 1 || cfg->channels > MAX_CH) {
        set_err(err, errlen, "unsupported channel count (1 or 2)");
        return NULL;
    }
    if (cfg->max_block < 1 || cfg->max_block > 1 << 20) {
        set_err(err, errlen, "unsupported maximum block size");
        return NULL;
    }
    menhance *e = calloc(1, sizeof *e);
    if (!e) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    e->C = cfg->channels;
    e->noise_prof.n = ENHANCE_NOISE_PROFILE;
    e->tone_prof.n = ENHANCE_MELS;
    e->rate = cfg->sample_rate;
    menhance_params_default(&e->params);
    atomic_store(&e->pending, NO_MODEL(e));
    e->active = NULL;

    int ok = 1;
    for (int c = 0; c < e->C; c++) {
        e->down[c] = resampler_create(e->rate, ENHANCE_RATE, RS_QUALITY);
        e->up[c] = resampler_create(ENHANCE_RATE, e->rate, RS_QUALITY);
        e->upraw[c] = resampler_create(ENHANCE_RATE, e->rate, RS_QUALITY);
        ok = ok && e->down[c] && e->up[c] && e->upraw[c];
    }
    e->enh = enhance_create(e->C);
    if (e->enh && ok) {
        /* the model's features get the band edge of the training front end */
        float feq[FRONTEND_EQ_BINS];
        ok = frontend_eq_measure(e->rate, RS_QUALITY, feq) == 0;
        if (ok) enhance_set_feature_eq(e->enh, feq);
    }
    e->hb = hiband_create(e->rate, e->C);
    e->lim = limiter_create(e->rate, e->C);
    e->retired = ring_create(16 * sizeof(menhance_model *));
    e->in = calloc(NSLOT, sizeof *e->in);
    e->out = calloc(NSLOT, sizeof *e->out);
    ok = ok && e->enh && e->hb && e->lim && e->retired && e->in && e->out;
    if (!ok) {
        set_err(err, errlen, "out of memory creating the engine");
        menhance_destroy(e);
        return NULL;
    }
    for (int s = 0; s < NSLOT; s++)
        atomic_store(&e->out[s].tag, -1);

    /* Latency budget (see the top of this file). */
    e->d1 = resampler_delay(e->down[0]);
    e->d2 = resampler_delay(e->up[0]);
    e->A = enhance_latency(e->enh);
    int nominal = cfg->nominal_block > 0 ? cfg->nominal_block : 1024;
    if (nominal > cfg->max_block) nominal = cfg->max_block;
    int nominal16 = (int)(((long long)nominal * ENHANCE_RATE + e->rate - 1) / e->rate);
    /* The worker must finish a chunk while the host delivers a block and one more chunk;
     * one extra chunk lets the crossfade see the next chunk's fate in advance. */
    e->Sc = 2 + (nominal16 + HOP - 1) / HOP;
    if (e->Sc > MAX_SLACK_CHUNKS) e->Sc = MAX_SLACK_CHUNKS;
    int q = ENHANCE_RATE / gcd(e->rate, ENHANCE_RATE);
    if (q > 320) q = 1; /* odd rates: accept a fractional sample rather than 20+ ms more */
    e->P0 = HOP + 8;
    int base = e->d2 + e->A + e->Sc * HOP + e->P0;
    e->P0 += (q - base % q) % q;
    e->D16 = e->A + e->Sc * HOP + e->P0;
    long long lat = (long long)(e->d2 + e->D16) * e->rate;
    e->latency = e->d1 + (int)((lat + ENHANCE_RATE / 2) / ENHANCE_RATE);
    if (e->D16 + HOP > HIST16) {
        set_err(err, errlen, "internal: 16 kHz history too short");
        menhance_destroy(e);
        return NULL;
    }
    /* The output stage's lead: the limiter's delay, in host samples, and the 16 kHz samples
     * by which chunks are emitted early to feed it (two spare for rounding). */
    e->La = limiter_latency(e->lim);
    e->E = (int)(((long long)e->La * ENHANCE_RATE + e->rate - 1) / e->rate) + 2;
    e->Wg =
        e->d1 + (int)(((long long)(e->d2 + SPAN16) * e->rate + ENHANCE_RATE - 1) / ENHANCE_RATE);
    e->Rg = (int)ceilf(GATE_RAMP_S * (float)e->rate);
    if (e->Wg + e->Rg + e->La > e->latency) e->Wg = e->latency - e->Rg - e->La;
    if (e->E >= HOP || e->Wg < 0) {
        set_err(err, errlen, "internal: latency budget too small for the output stage");
        menhance_destroy(e);
        return NULL;
    }
    e->gate_step = 1.0f / (float)e->Rg;
    hiband_set_warmup(e->hb, e->latency);
    e->dc = biquad_hp1(e->rate, ENHANCE_DC_HZ);

    int max16 = (int)((long long)cfg->max_block * ENHANCE_RATE / e->rate) + 16;
    e->yq_cap = e->P0 + HOP * ((max16 + HOP - 1) / HOP + 3) + HOP;
    e->dry_len = e->latency + e->Wg + e->Rg + cfg->max_block + 2;
    for (int c = 0; c < e->C; c++) {
        e->scratch16[c] = alloc_f(max16);
        e->hist16[c] = alloc_f(HIST16);
        e->yq[c] = alloc_f(e->yq_cap);
        e->rq[c] = alloc_f(e->yq_cap);
        e->proc[c] = alloc_f(cfg->max_block);
        e->raw[c] = alloc_f(cfg->max_block);
        e->dry[c] = alloc_f(e->dry_len);
        e->xin[c] = alloc_f(cfg->max_block);
        e->xw[c] = alloc_f(cfg->max_block);
        e->gbuf[c] = alloc_f(cfg->max_block);
        e->hraw[c] = alloc_f(cfg->max_block);
        ok = ok && e->scratch16[c] && e->hist16[c] && e->yq[c] && e->rq[c] && e->proc[c] &&
             e->raw[c] && e->dry[c] && e->xin[c] && e->xw[c] && e->gbuf[c] && e->hraw[c];
    }
    e->hgain = alloc_f(cfg->max_block);
    e->hshare = alloc_f(cfg->max_block);
    ok = ok && e->hgain && e->hshare;
    if (!ok) {
        set_err(err, errlen, "out of memory creating the engine");
        menhance_destroy(e);
        return NULL;
    }
    e->ramp_step = 1.0f / (RAMP_SECONDS * (float)e->rate);
    e->hi_a = expf(-1.0f / (HI_SMOOTH_S * (float)e->rate));
    e->active = model;
    menhance_reset(e);

    if (cfg->threaded) {
        e->idle_polls = (int)((POLL_IDLE_S + 2.0 * e->cfg.max_block / e->rate) * 1e9 / POLL_NS) + 1;
        if (sem_init(&e->wake, 0, 0) == 0) e->have_sem = 1;
        if (e->have_sem && pthread_create(&e->thread, NULL, worker_main, e) == 0)
            e->have_thread = 1;
        if (!e->have_thread) {
            set_err(err, errlen, "could not start the worker thread");
            menhance_destroy(e);
            return NULL;
        }
    }
    return e;
}

void menhance_destroy(menhance *e) {
    if (!e) return;
    if (e->have_thread) {
        atomic_store(&e->quit, 1);
        sem_post(&e->wake);
        pthread_join(e->thread, NULL);
    }
    if (e->have_sem) sem_destroy(&e->wake);
    menhance_model *m = atomic_exchange(&e->pending, NO_MODEL(e));
    if (m != NO_MODEL(e)) menhance_model_free(m);
    menhance_model_free(e->active);
    while ((m = menhance_collect_model(e)))
        menhance_model_free(m);
    for (int c = 0; c < MAX_CH; c++) {
        resampler_destroy(e->down[c]);
        resampler_destroy(e->up[c]);
        resampler_destroy(e->upraw[c]);
        free(e->scratch16[c]);
        free(e->hist16[c]);
        free(e->yq[c]);
        free(e->rq[c]);
        free(e->proc[c]);
        free(e->raw[c]);
        free(e->dry[c]);
        free(e->xin[c]);
        free(e->xw[c]);
        free(e->gbuf[c]);
        free(e->hraw[c]);
    }
    enhance_destroy(e->enh);
    hiband_destroy(e->hb);
    limiter_destroy(e->lim);
    ring_destroy(e->retired);
    free(e->hgain);
    free(e->hshare);
    free(e->in);
    free(e->out);
    free(e);
}

int menhance_latency(const menhance *e) {
    return e->latency;
}

/* A head strength in 0..2; NaN is "as trained". */
static float head_strength(float k) {
    return k != k ? 1.0f : fminf(fmaxf(k, 0.0f), 2.0f);
}

void menhance_set_params(menhance *e, const menhance_params *p) {
    menhance_params q = *p;
    /* Hosts send anything; keep every value in its range (NaN falls to the default). */
    q.amount = q.amount >= 0.0f ? fminf(q.amount, 1.0f) : 0.0f;
    q.hiband = q.hiband >= 0.0f ? fminf(q.hiband, 1.0f) : 0.0f;
    q.strength = q.strength >= 0.0f ? fminf(q.strength, 2.0f) : 0.0f;
    q.max_atten_db = q.max_atten_db >= 0.0f ? fminf(q.max_atten_db, 40.0f) : 0.0f;
    if (q.mode < 0 || q.mode >= MENHANCE_MODE_COUNT) q.mode = MENHANCE_MODE_CLASSICAL;
    q.limiter = q.limiter != 0;
    q.noise = head_strength(q.noise);
    q.room = head_strength(q.room);
    q.tone = head_strength(q.tone);
    q.listen_removed = q.listen_removed != 0;
    q.learn_noise = q.learn_noise != 0;
    e->params = q;
}

static void upsample(menhance *e, int n);

void menhance_reset(menhance *e) {
    int spin = 0;
    while (!atomic_compare_exchange_weak(&e->busy, &spin, 2))
        spin = 0;
    enhance_reset(e->enh);
    e->next = 0;
    e->warmup = 0;
    atomic_store(&e->produced, 0);
    for (int s = 0; s < NSLOT; s++)
        atomic_store(&e->out[s].tag, -1);
    atomic_store(&e->busy, 0);
    for (int c = 0; c < e->C; c++) {
        resampler_reset(e->down[c]);
        resampler_reset(e->up[c]);
        resampler_reset(e->upraw[c]);
        memset(e->hist16[c], 0, sizeof(float) * HIST16);
        memset(e->yq[c], 0, sizeof(float) * e->yq_cap);
        memset(e->rq[c], 0, sizeof(float) * e->yq_cap);
        memset(e->dry[c], 0, sizeof(float) * e->dry_len);
    }
    for (int k = 0; k < HI_RING; k++)
        e->hr_tag[k] = LLONG_MIN;
    e->h_up = 0;
    e->hg_s = 1.0f;
    e->hs_s = 0.0f;
    hiband_reset(e->hb);
    limiter_reset(e->lim);
    memset(e->zin, 0, sizeof e->zin);
    memset(e->zdry, 0, sizeof e->zdry);
    for (int c = 0; c < MAX_CH; c++) {
        e->nz[c] = 0;
        e->gate[c] = 0.0f;
    }
    e->acc_n = 0;
    e->chunk_in = 0;
    e->n16 = 0;
    e->yq_n = e->P0; /* the silent lead-in of y16 */
    e->dry_pos = 0;
    e->w_prev = 0.0f;
    e->avail_next = 0;
    e->emitted = -e->Sc;
    e->late_bits = 0;
    e->voc_hold = 0;
    e->g_amt = e->params.amount;
    e->g_listen = e->params.listen_removed ? 1.0f : 0.0f;
    e->g_en = e->params.enabled ? 1.0f : 0.0f;
    e->g_hi = e->params.hiband;
    /* The mix runs La samples ahead of the output: its first La samples (all from the silent
     * lead-in) are never needed. */
    for (int left = e->La; left > 0;) {
        int k = left < e->cfg.max_block ? left : e->cfg.max_block;
        upsample(e, k);
        left -= k;
    }
}

/* ---- the audio thread ---- */

/* Slot of chunk j (any sign) in the high-band rings. */
static int hi_slot(long long j) {
    return (int)(((j % HI_RING) + HI_RING) % HI_RING);
}

static int chunk_ready(const menhance *e, long long j) {
    return atomic_load_explicit(&e->out[j % NSLOT].tag, memory_order_acquire) == j;
}

/* Appends out chunk `emitted` (or the raw signal it replaces) to the y16 FIFOs. */
static void emit_chunk(menhance *e) {
    long long j = e->emitted++;
    float *y[MAX_CH], *r[MAX_CH];
    for (int c = 0; c < e->C; c++) {
        y[c] = e->yq[c] + e->yq_n;
        r[c] = e->rq[c] + e->yq_n;
    }
    e->yq_n += HOP;
    /* the lead-in and late chunks: the classical high band */
    const int hr = hi_slot(j);
    e->hr_tag[hr] = j;
    e->hr_gain[hr] = 1.0f;
    e->hr_share[hr] = 0.0f;
    /* raw: x16 delayed by D16; this chunk starts at y16 index P0 + (j + Sc) * HOP */
    long long k0 = e->P0 + (j + e->Sc) * HOP - e->D16;
    for (int c = 0; c < e->C; c++)
        for (int t = 0; t < HOP; t++) {
            long long k = k0 + t;
            r[c][t] = k >= 0 ? e->hist16[c][k % HIST16] : 0.0f;
        }
    if (j < 0) {
        for (int c = 0; c < e->C; c++)
            memcpy(y[c], r[c], sizeof(float) * HOP);
        return;
    }
    int here = j == 0 ? chunk_ready(e, 0) : e->avail_next;
    int next = chunk_ready(e, j + 1);
    e->avail_next = next;
    float w0 = e->w_prev, w1 = (here && next) ? 1.0f : 0.0f;
    if (here)
        atomic_fetch_add_explicit(&e->n_ok, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&e->n_late, 1, memory_order_relaxed);
    /* More than 4 late chunks in the last 64 (about a second) while the vocoder is asked
     * for: the machine does not keep up with it, so run the cheaper cleaned-magnitude path
     * for ~10 s, then try again.  The latency does not change; the switch is a crossfade. */
    e->late_bits = (e->late_bits << 1) | (here ? 0u : 1u);
    if (e->params.mode == MENHANCE_MODE_MEL2MEL_VOCODER && e->voc_hold == 0 &&
        __builtin_popcountll(e->late_bits) > VOC_LATE_LIMIT) {
        e->voc_hold = VOC_HOLD_CHUNKS;
        e->late_bits = 0;
    }
    const out_slot *o = &e->out[j % NSLOT];
    if (here) {
        e->hr_gain[hr] = o->hi_gain;
        e->hr_share[hr] = w1 * o->hi_share;
    }
    for (int c = 0; c < e->C; c++) {
        if (!here) {
            memcpy(y[c], r[c], sizeof(float) * HOP);
            continue;
        }
        for (int t = 0; t < HOP; t++) {
            float w = w0 + (w1 - w0) * (float)(t + 1) / HOP;
            y[c][t] = w * o->y[c][t] + (1.0f - w) * r[c][t];
        }
    }
    e->w_prev = w1;
}

static void publish_chunk(menhance *e) {
    long long i = e->chunk_in++;
    in_slot *s = &e->in[i % NSLOT];
    for (int c = 0; c < e->C; c++)
        memcpy(s->x[c], e->acc[c], sizeof(float) * HOP);
    s->p.mode = e->params.mode;
    if (s->p.mode == MENHANCE_MODE_MEL2MEL_VOCODER && e->voc_hold > 0) {
        s->p.mode = MENHANCE_MODE_MEL2MEL;
        e->voc_hold--;
    }
    s->p.strength = e->params.strength;
    s->p.heads[0] = e->params.noise;
    s->p.heads[1] = e->params.room;
    s->p.heads[2] = e->params.tone;
    s->p.max_atten_db = e->params.max_atten_db;
    s->p.learn_noise = e->params.learn_noise;
    atomic_store_explicit(&e->produced, i + 1, memory_order_release);

    int sync = e->params.synchronous || !e->have_thread;
    if (sync) {
        atomic_store(&e->sync_mode, 1);
        int expect = 0;
        /* Bounded: the worker sees sync_mode and releases after its current chunk. */
        while (!atomic_compare_exchange_weak(&e->busy, &expect, 2)) {
            expect = 0;
#if defined(__SSE2__)
            _mm_pause();
#endif
        }
        process_pending(e, NSLOT, 0);
        atomic_store_explicit(&e->busy, 0, memory_order_release);
    } else {
        atomic_store(&e->sync_mode, 0);
        /* No syscall while the worker polls; see POLL_NS. */
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&e->asleep, memory_order_relaxed) &&
            atomic_exchange(&e->asleep, 0))
            sem_post(&e->wake);
    }
}

/* Non-finite samples are dropped (an Inf burst must not come out as a full-scale burst);
 * finite ones are limited to +-OUT_LIMIT. */
static float sanitize(float v) {
    if (!isfinite(v)) return 0.0f;
    return fminf(fmaxf(v, -OUT_LIMIT), OUT_LIMIT);
}

/* The next n samples of the twin upsamplers into proc and raw. */
static void upsample(menhance *e, int n) {
    int used = 0;
    for (int c = 0; c < e->C; c++) {
        int in_len = e->yq_n, out_len = n;
        resampler_process(e->up[c], e->yq[c], &in_len, e->proc[c], &out_len);
        int in_raw = e->yq_n, out_raw = n;
        resampler_process(e->upraw[c], e->rq[c], &in_raw, e->raw[c], &out_raw);
        if (out_len < n || out_raw < n) {
            atomic_fetch_add_explicit(&e->n_underrun, 1, memory_order_relaxed);
            for (int i = out_len; i < n; i++)
                e->proc[c][i] = 0.0f;
            for (int i = out_raw; i < n; i++)
                e->raw[c][i] = 0.0f;
        }
        used = in_len;
    }
    /* Each host sample takes the high-band gain of the chunk its 16 kHz time falls in (chunk j
     * starts at y16 index P0 + (j + Sc) HOP; the upsampler's few samples of delay are left
     * to the smoothing).  A function of the sample's index alone: any block size, same gains. */
    for (int i = 0; i < n; i++) {
        long long y = (e->h_up + i) * ENHANCE_RATE / e->rate - e->P0;
        long long j = (y >= 0 ? y / HOP : -1 - (-y - 1) / HOP) - e->Sc;
        int hr = hi_slot(j);
        int known = y >= 0 && e->hr_tag[hr] == j;
        e->hgain[i] = known ? e->hr_gain[hr] : 1.0f;
        e->hshare[i] = known ? e->hr_share[hr] : 0.0f;
    }
    e->h_up += n;
    for (int c = 0; c < e->C; c++) {
        memmove(e->yq[c], e->yq[c] + used, sizeof(float) * (e->yq_n - used));
        memmove(e->rq[c], e->rq[c] + used, sizeof(float) * (e->yq_n - used));
    }
    e->yq_n -= used;
}

/* Read position `delay` samples behind write position p in the dry delay line. */
static int dry_pos_back(const menhance *e, int p, int delay) {
    int rd = p - delay;
    return rd < 0 ? rd + e->dry_len : rd;
}

/* Per block, with t the host time of the block's first sample and tau = t + La:
 *   xin   sanitised input (the dry signal: bypass and the dry share of Amount keep it, DC too)
 *   xw    DC-blocked input -> 16 kHz path; later the mix at tau
 *   proc  16 kHz path at tau (upsampled); raw: its unprocessed twin, becoming the high band
 *   gbuf  digital-silence gate at tau
 * The mix at tau goes through the limiter (delay La) and meets the dry input at t. */
static void process_block(menhance *e, const float *const *in, float *const *out, int n) {
#if defined(__SSE__)
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);
#endif
    const int C = e->C;
    for (int c = 0; c < C; c++)
        for (int i = 0; i < n; i++) {
            e->xin[c][i] = sanitize(in[c][i]);
            e->xw[c][i] = biquad_run(&e->dc, e->zin[c], e->xin[c][i]);
        }

    /* Host rate -> 16 kHz, into chunks; each chunk is published when full, and the output
     * chunk it pays for is emitted E samples before that (the output stage's lead). */
    int m = 0;
    for (int c = 0; c < C; c++) {
        int in_len = n, out_len = e->cfg.max_block * ENHANCE_RATE / e->rate + 16;
        resampler_process(e->down[c], e->xw[c], &in_len, e->scratch16[c], &out_len);
        m = out_len; /* identical resamplers on identical counts: same for every channel */
    }
    int pos = 0;
    while (pos < m) {
        int stop = e->acc_n < HOP - e->E ? HOP - e->E : HOP;
        int take = m - pos < stop - e->acc_n ? m - pos : stop - e->acc_n;
        for (int c = 0; c < C; c++) {
            memcpy(e->acc[c] + e->acc_n, e->scratch16[c] + pos, sizeof(float) * take);
            for (int t = 0; t < take; t++)
                e->hist16[c][(e->n16 + t) % HIST16] = e->scratch16[c][pos + t];
        }
        e->n16 += take;
        e->acc_n += take;
        pos += take;
        if (e->acc_n == HOP - e->E) emit_chunk(e);
        if (e->acc_n == HOP) {
            publish_chunk(e);
            e->acc_n = 0;
        }
    }

    /* 16 kHz -> host rate, processed and raw through twin upsamplers, La ahead. */
    upsample(e, n);

    /* Dry delay line.  The mix at tau needs the dry input L - La back, the output at t needs
     * it L back (bypass), the gate's window reaches Wg + Rg ahead of and Wg behind tau - L. */
    const int L = e->latency, La = e->La;
    const int d_front = L - La - e->Wg - e->Rg, d_back = L - La + e->Wg + 1;
    float *hi[MAX_CH];
    const int len = e->dry_len;
    for (int c = 0; c < C; c++) {
        float *dry = e->dry[c], gt = e->gate[c];
        const float step = e->gate_step;
        long long nz = e->nz[c];
        int p = e->dry_pos, pf = dry_pos_back(e, p, d_front), pb = dry_pos_back(e, p, d_back);
        int pm = dry_pos_back(e, p, L - La), po = dry_pos_back(e, p, L);
        for (int i = 0; i < n; i++) {
            dry[p] = e->xin[c][i];
            nz += (dry[pf] != 0.0f) - (dry[pb] != 0.0f);
            gt = nz > 0 ? (gt + step < 1.0f ? gt + step : 1.0f) : (gt > step ? gt - step : 0.0f);
            e->gbuf[c][i] = gt;
            float dm = dry[pm];
            float df = biquad_run(&e->dc, e->zdry[c], dm);
            e->raw[c][i] = df - e->raw[c][i]; /* raw now holds the high band */
            e->xw[c][i] = dm;                 /* xw now holds the dry input at tau */
            e->xin[c][i] = dry[po];           /* xin now holds the dry input at t */
            if (++p == len) p = 0;
            if (++pf == len) pf = 0;
            if (++pb == len) pb = 0;
            if (++pm == len) pm = 0;
            if (++po == len) po = 0;
        }
        e->gate[c] = gt;
        e->nz[c] = nz;
        hi[c] = e->raw[c];
    }
    e->dry_pos = (e->dry_pos + n) % e->dry_len;
    for (int c = 0; c < C; c++)
        memcpy(e->hraw[c], hi[c], sizeof(float) * n);
    hiband_set(e->hb, e->params.strength, e->params.max_atten_db);
    hiband_process(e->hb, hi, n);
    /* In the model modes the classical tracker cuts the high band only as far as the model
     * cuts the top of the 16 kHz band (enhance_hiband): where the model hears no noise the band
     * passes untouched.  The tracker alone, which learns from the music's quiet moments, took
     * up to 3 dB off 7-8 kHz and more above 8 kHz of clean music (make eval, clean and nearly
     * clean clips).  It keeps learning either way, so switching modes needs no warm-up. */
    {
        float gs = e->hg_s, ss = e->hs_s;
        const float a = e->hi_a;
        for (int i = 0; i < n; i++) {
            gs = a * gs + (1.0f - a) * e->hgain[i];
            ss = a * ss + (1.0f - a) * e->hshare[i];
            float v = (1.0f - gs) / (1.0f - HI_FULL_CUT);
            float w = (1.0f - ss) + ss * (v > 1.0f ? 1.0f : v); /* share of the tracker's cut */
            for (int c = 0; c < C; c++)
                hi[c][i] = w * hi[c][i] + (1.0f - w) * e->hraw[c][i];
        }
        e->hg_s = gs;
        e->hs_s = ss;
    }

    /* Mix at tau: m = dry + amount * (proc + hiband * hi - dry), or with listen_removed what
     * the mix takes away, dry - m; gated, into the limiter. */
    const float amt_t = e->params.amount, hi_t = e->params.hiband;
    const float ls_t = e->params.listen_removed ? 1.0f : 0.0f;
    float ga = e->g_amt, gh = e->g_hi, gl = e->g_listen;
    const float st = e->ramp_step;
    for (int i = 0; i < n; i++) {
        ga = ga < amt_t ? fminf(amt_t, ga + st) : fmaxf(amt_t, ga - st);
        gh = gh < hi_t ? fminf(hi_t, gh + st) : fmaxf(hi_t, gh - st);
        gl = gl < ls_t ? fminf(ls_t, gl + st) : fmaxf(ls_t, gl - st);
        for (int c = 0; c < C; c++) {
            float d = e->xw[c][i];
            float wet = e->proc[c][i] + gh * hi[c][i];
            float m = d + ga * (wet - d);
            e->xw[c][i] = (m + gl * (d - 2.0f * m)) * e->gbuf[c][i];
        }
    }
    e->g_amt = ga;
    e->g_hi = gh;
    e->g_listen = gl;
    limiter_set(e->lim, e->params.limiter);
    limiter_process(e->lim, e->xw, n);

    /* Output at t: bypass crossfade against the dry input. */
    const float en_t = e->params.enabled ? 1.0f : 0.0f;
    float ge = e->g_en;
    for (int i = 0; i < n; i++) {
        ge = ge < en_t ? fminf(en_t, ge + st) : fmaxf(en_t, ge - st);
        for (int c = 0; c < C; c++) {
            float d = e->xin[c][i];
            out[c][i] = sanitize(d + ge * (e->xw[c][i] - d));
        }
    }
    e->g_en = ge;
#if defined(__SSE__)
    _mm_setcsr(csr);
#endif
}

void menhance_process(menhance *e, const float *const *in, float *const *out, int n) {
    /* Hosts that exceed their own maximum block still get every sample processed. */
    for (int done = 0; done < n;) {
        int k = n - done < e->cfg.max_block ? n - done : e->cfg.max_block;
        const float *i2[MAX_CH];
        float *o2[MAX_CH];
        for (int c = 0; c < e->C; c++) {
            i2[c] = in[c] + done;
            o2[c] = out[c] + done;
        }
        process_block(e, i2, o2, k);
        done += k;
    }
}

/* A private synchronous twin of the engine runs the audio through exactly the path the live
 * trackers see (DC blocker, resampler, STFT, tonal split, high band), recording; its learnt
 * floor is then copied into this engine's trackers.  With a noise/room/tone model the twin runs
 * a twin of the model too (shared weights, its own state), and the Tone head's verdict on the
 * audio is copied as well (enhance_take_tone). */
int menhance_prime(menhance *e, const float *const *in, long long n) {
    if (!e || !in || n <= 0) return 0;
    menhance_config cfg = e->cfg;
    cfg.threaded = 0;
    int spin = 0;
    while (!atomic_compare_exchange_weak(&e->busy, &spin, 2))
        spin = 0;
    menhance_model *own = e->active;
    const int heads = model_heads(own) != NULL;
    menhance_model *twin = heads ? model_twin(own) : NULL;
    atomic_store(&e->busy, 0);
    if (heads && !twin) return -1;
    menhance *t = menhance_create(&cfg, twin, NULL, 0);
    if (!t) {
        menhance_model_free(twin);
        return -1;
    }
    menhance_params q = e->params;
    q.mode = twin ? MENHANCE_MODE_MEL2MEL : MENHANCE_MODE_CLASSICAL;
    q.tone = 1.0f;
    q.enabled = 1;
    q.synchronous = 1;
    menhance_set_params(t, &q);
    float *buf = calloc((size_t)cfg.max_block * (size_t)t->C * 2, sizeof(float));
    int rc = -1;
    if (buf && enhance_prime_begin(t->enh) == 0 && hiband_prime_begin(t->hb) == 0) {
        float *out[MAX_CH], *zero[MAX_CH];
        for (int c = 0; c < t->C; c++) {
            out[c] = buf + (size_t)c * cfg.max_block;
            zero[c] = buf + (size_t)(t->C + c) * cfg.max_block;
        }
        /* The high band runs a latency behind the input: flush it with silence, which
         * teaches the trackers nothing. */
        for (long long done = 0, total = n + t->latency; done < total;) {
            int k = total - done < cfg.max_block ? (int)(total - done) : cfg.max_block;
            const float *src[MAX_CH];
            if (done + k > n && done < n) k = (int)(n - done);
            for (int c = 0; c < t->C; c++)
                src[c] = done < n ? in[c] + done : zero[c];
            menhance_process(t, src, out, k);
            done += k;
        }
        enhance_prime_end(t->enh);
        hiband_prime_end(t->hb);
        spin = 0;
        while (!atomic_compare_exchange_weak(&e->busy, &spin, 2))
            spin = 0;
        enhance_take_noise(e->enh, t->enh);
        enhance_take_tone(e->enh, t->enh, e->active == own ? own : NULL);
        atomic_store(&e->busy, 0);
        hiband_take_noise(e->hb, t->hb);
        rc = 0;
    }
    free(buf);
    menhance_destroy(t);
    return rc;
}

menhance_model *menhance_swap_model(menhance *e, menhance_model *m) {
    menhance_model *prev = atomic_exchange(&e->pending, m);
    return prev == NO_MODEL(e) ? NULL : prev;
}

menhance_model *menhance_collect_model(menhance *e) {
    menhance_model *m = NULL;
    if (!ring_read(e->retired, &m, sizeof m)) return NULL;
    return m;
}

void menhance_debug_set_worker_delay(menhance *e, int microseconds, int vocoder_microseconds) {
    atomic_store(&e->debug_delay_us, microseconds);
    atomic_store(&e->debug_voc_delay_us, vocoder_microseconds);
}

void menhance_get_stats(const menhance *e, menhance_stats *s) {
    s->chunks_processed = atomic_load_explicit(&e->n_ok, memory_order_relaxed);
    s->chunks_late = atomic_load_explicit(&e->n_late, memory_order_relaxed);
    s->effective_mode = atomic_load_explicit(&e->effective_mode, memory_order_relaxed);
}
