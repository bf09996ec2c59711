/* engine.c — the discrete-event engine of sim/engine.h and its deterministic random streams.
 *
 * Follows DESIGN.md ("The simulated world: Engine") and STYLE.md points 3-5: virtual time in
 * microseconds, events ordered by (time, insertion sequence) as libuv's timer heap orders
 * timers, per-node random streams derived from one run seed.
 *
 * The queue is a 4-ary min-heap of 16-byte entries {time, key}, key = sequence << 32 | slot.
 * Comparing (time, key) compares (time, sequence) because sequence numbers are unique, so the
 * slot index rides along for free.  A 4-ary heap is half as deep as a binary one and its four
 * children fill exactly one 64-byte cache line (the array is offset so that they do); with a
 * million pending events that roughly halves the cache misses per operation.
 *
 * Each event's callback lives in a slab record {fn, arg, heap position, generation}; records
 * are recycled through a free list, so scheduling never calls malloc once the arrays have
 * grown.  The record's heap position makes cancellation O(log n).  A handle is
 * generation << 32 | slot; the generation is bumped whenever a record is freed, so a handle
 * to an event that already ran or was cancelled never matches a later occupant of the slot.
 * (After 2^32 reuses of one slot a generation repeats; a handle kept that long is the
 * caller's bug.)
 *
 * Sequence numbers have 32 bits in the key.  When they run out, the pending entries are
 * sorted and renumbered 0..n-1 (a sorted array is a valid heap), which keeps their relative
 * order; this happens once per four billion schedules.
 *
 * Random numbers: xoshiro256** (Blackman and Vigna, "Scrambled linear pseudorandom number
 * generators", 2021), state filled by splitmix64; bounded integers by Lemire's
 * multiply-and-reject method ("Fast random integer generation in an interval", 2019).
 */
#include "engine.h"

#include <assert.h>
#include <glib.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Width of the sequence field in a heap key.  Compiling with a small value (e.g.
 * -DSIM_SEQ_BITS=8) exercises the renumbering path in the unit tests. */
#ifndef SIM_SEQ_BITS
#define SIM_SEQ_BITS 32
#endif
#define SEQ_LIMIT ((uint64_t)1 << SIM_SEQ_BITS)
#define SLOT_MASK ((uint64_t)0xffffffffu)
#define NO_SLOT UINT32_MAX
#define ARITY 4
/* heap[] starts this many entries into its 64-byte aligned block, so that the children
 * 4i+1..4i+4 of every node share one cache line. */
#define HEAP_PAD (ARITY - 1)

struct sim_entry {
    env_time time;
    uint64_t key; /* sequence << 32 | slot */
};

struct sim_record {
    sim_fn fn; /* NULL while the record is free */
    void *arg;
    uint32_t pos; /* index in heap[] while live; next free slot while free */
    uint32_t gen; /* never 0, so that a handle is never 0 */
};

struct sim_engine {
    struct sim_entry *heap; /* heap_mem + HEAP_PAD */
    struct sim_entry *heap_mem;
    size_t n, cap;
    struct sim_record *slab;
    uint32_t slab_len, slab_cap;
    uint32_t free_head;
    uint64_t seq; /* next sequence number, < SEQ_LIMIT */
    env_time now;
    uint64_t events_run;
    bool stop;
};

static inline uint32_t entry_slot(const struct sim_entry *x)
{
    return (uint32_t)(x->key & SLOT_MASK);
}

static inline bool entry_less(const struct sim_entry *a, const struct sim_entry *b)
{
    return a->time < b->time || (a->time == b->time && a->key < b->key);
}

static void heap_realloc(struct sim_engine *e, size_t cap)
{
    struct sim_entry *mem = g_aligned_alloc(cap + HEAP_PAD, sizeof *mem, 64);
    if (e->n)
        memcpy(mem + HEAP_PAD, e->heap, e->n * sizeof *mem);
    g_aligned_free(e->heap_mem);
    e->heap_mem = mem;
    e->heap = mem + HEAP_PAD;
    e->cap = cap;
}

struct sim_engine *sim_engine_new(void)
{
    struct sim_engine *e = g_new0(struct sim_engine, 1);
    heap_realloc(e, 1024);
    e->slab_cap = 1024;
    e->slab = g_new(struct sim_record, e->slab_cap);
    e->free_head = NO_SLOT;
    return e;
}

void sim_engine_free(struct sim_engine *e)
{
    if (!e)
        return;
    g_aligned_free(e->heap_mem);
    g_free(e->slab);
    g_free(e);
}

/* ---- slab ---------------------------------------------------------------------------------- */

static uint32_t slot_alloc(struct sim_engine *e)
{
    if (e->free_head != NO_SLOT) {
        uint32_t slot = e->free_head;
        e->free_head = e->slab[slot].pos;
        return slot;
    }
    if (e->slab_len == e->slab_cap) {
        assert(e->slab_cap < NO_SLOT / 2);
        e->slab_cap *= 2;
        e->slab = g_renew(struct sim_record, e->slab, e->slab_cap);
    }
    uint32_t slot = e->slab_len++;
    e->slab[slot].gen = 1;
    return slot;
}

static void slot_free(struct sim_engine *e, uint32_t slot)
{
    struct sim_record *r = &e->slab[slot];
    r->fn = NULL;
    r->arg = NULL;
    if (++r->gen == 0)
        r->gen = 1;
    r->pos = e->free_head;
    e->free_head = slot;
}

/* ---- heap: every move of an entry records its new index in the slab ------------------------ */

static inline void heap_put(struct sim_engine *e, size_t i, struct sim_entry x)
{
    e->heap[i] = x;
    e->slab[entry_slot(&x)].pos = (uint32_t)i;
}

/* Places x at hole i or above it. */
static void sift_up(struct sim_engine *e, size_t i, struct sim_entry x)
{
    struct sim_entry *h = e->heap;
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        if (!entry_less(&x, &h[parent]))
            break;
        heap_put(e, i, h[parent]);
        i = parent;
    }
    heap_put(e, i, x);
}

/* Places x at hole i or below it. */
static void sift_down(struct sim_engine *e, size_t i, struct sim_entry x)
{
    struct sim_entry *h = e->heap;
    size_t n = e->n;
    for (;;) {
        size_t first = ARITY * i + 1;
        if (first >= n)
            break;
        /* The next level's lines are fetched while this one is compared: the four candidate
         * groups load in parallel instead of one serial miss per level. */
        size_t grand = ARITY * first + 1;
        for (size_t g = grand; g < n && g < grand + ARITY * ARITY; g += ARITY)
            __builtin_prefetch(&h[g]);
        size_t best = first;
        size_t last = first + ARITY < n ? first + ARITY : n;
        for (size_t c = first + 1; c < last; c++)
            if (entry_less(&h[c], &h[best]))
                best = c;
        if (!entry_less(&h[best], &x))
            break;
        heap_put(e, i, h[best]);
        i = best;
    }
    heap_put(e, i, x);
}

/* Removes the entry at index i (its slab record stays allocated). */
static void heap_remove(struct sim_engine *e, size_t i)
{
    size_t last = --e->n;
    if (i == last)
        return;
    struct sim_entry x = e->heap[last];
    if (i > 0 && entry_less(&x, &e->heap[(i - 1) / ARITY]))
        sift_up(e, i, x);
    else
        sift_down(e, i, x);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct sim_entry *x = a, *y = b;
    return entry_less(x, y) ? -1 : entry_less(y, x) ? 1 : 0;
}

/* The sequence space ran out: renumber the pending entries in their current order. */
static void renumber(struct sim_engine *e)
{
    qsort(e->heap, e->n, sizeof *e->heap, entry_cmp);
    for (size_t i = 0; i < e->n; i++) {
        uint32_t slot = entry_slot(&e->heap[i]);
        e->heap[i].key = (uint64_t)i << 32 | slot;
        e->slab[slot].pos = (uint32_t)i;
    }
    e->seq = e->n;
}

/* ---- public API ---------------------------------------------------------------------------- */

sim_handle sim_schedule_at(struct sim_engine *e, env_time at, sim_fn fn, void *arg)
{
    assert(fn);
    if (at < e->now)
        at = e->now;
    if (e->seq >= SEQ_LIMIT)
        renumber(e);
    uint32_t slot = slot_alloc(e);
    struct sim_record *r = &e->slab[slot];
    r->fn = fn;
    r->arg = arg;
    if (e->n == e->cap)
        heap_realloc(e, e->cap * 2);
    struct sim_entry x = {.time = at, .key = e->seq++ << 32 | slot};
    sift_up(e, e->n++, x);
    return (sim_handle)r->gen << 32 | slot;
}

sim_handle sim_schedule(struct sim_engine *e, env_time delay, sim_fn fn, void *arg)
{
    env_time at = e->now + delay;
    if (at < e->now) /* overflow: "never" */
        at = UINT64_MAX;
    return sim_schedule_at(e, at, fn, arg);
}

void sim_cancel(struct sim_engine *e, sim_handle h)
{
    uint32_t slot = (uint32_t)(h & SLOT_MASK);
    uint32_t gen = (uint32_t)(h >> 32);
    if (h == 0 || slot >= e->slab_len)
        return;
    struct sim_record *r = &e->slab[slot];
    if (r->gen != gen || !r->fn)
        return;
    heap_remove(e, r->pos);
    slot_free(e, slot);
}

env_time sim_now(const struct sim_engine *e)
{
    return e->now;
}

int sim_step(struct sim_engine *e)
{
    if (e->n == 0)
        return 0;
    struct sim_entry top = e->heap[0];
    if (--e->n > 0)
        sift_down(e, 0, e->heap[e->n]);
    uint32_t slot = entry_slot(&top);
    sim_fn fn = e->slab[slot].fn;
    void *arg = e->slab[slot].arg;
    /* Free before the call: the callback may cancel its own (now stale) handle or reuse the
     * slot by scheduling. */
    slot_free(e, slot);
    e->now = top.time;
    e->events_run++;
    if (e->n) /* the next event's record, while this one runs */
        __builtin_prefetch(&e->slab[entry_slot(&e->heap[0])]);
    fn(arg);
    return 1;
}

uint64_t sim_run_until(struct sim_engine *e, env_time end)
{
    uint64_t ran = 0;
    e->stop = false;
    while (e->n > 0 && e->heap[0].time <= end) {
        sim_step(e);
        ran++;
        if (e->stop) /* the clock stays at the event that asked to stop */
            return ran;
    }
    if (end > e->now)
        e->now = end;
    return ran;
}

void sim_stop(struct sim_engine *e)
{
    e->stop = true;
}

size_t sim_pending(const struct sim_engine *e)
{
    return e->n;
}

uint64_t sim_events_run(const struct sim_engine *e)
{
    return e->events_run;
}

size_t sim_engine_memory(const struct sim_engine *e)
{
    return sizeof *e + (e->cap + HEAP_PAD) * sizeof *e->heap +
           (size_t)e->slab_cap * sizeof *e->slab;
}

/* ---- random streams ------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Each state word mixes the seed's and the stream's splitmix64 sequences.  Two different
 * streams of one seed differ in all four words; the constant keeps (a, b) and (b, a) apart. */
void sim_rng_init(struct sim_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;
    uint64_t y = stream ^ 0x5851f42d4c957f2du;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x) ^ splitmix64(&y);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) /* the one forbidden state */
        r->s[0] = 1;
}

uint64_t sim_rng_next(struct sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sim_rng_unit(struct sim_rng *r)
{
    return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

__extension__ typedef unsigned __int128 sim_u128;

/* The high word of x * n is uniform in [0, n) once the products whose low word falls below
 * 2^64 mod n are rejected; the division happens only on the rare slow path. */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n)
{
    assert(n > 0);
    sim_u128 m = (sim_u128)sim_rng_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            m = (sim_u128)sim_rng_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double sim_rng_exp(struct sim_rng *r, double mean)
{
    return -mean * log1p(-sim_rng_unit(r)); /* 1 - u is in (0, 1]: the log is finite */
}
