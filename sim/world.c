/* world.c — the simulated world (world.h): virtual peers on one discrete-event engine, the
 * underlay, churn, the oracle, the workload, the metrics and their result files.
 *
 * The oracle follows CHORD-RELOAD, RFC 6940 §10.1 (a peer is responsible for the keys in
 * (predecessor, self]); the instant ring's fingers follow §10.3 (finger i points at the
 * successor of self + 2^(128-i)); a peer that comes up joins by §10.5 and a graceful
 * departure leaves by §10.9; the workload and the path-length metric follow Stoica et al.,
 * "Chord: A Scalable Peer-to-peer Lookup Service", SIGCOMM 2001, §6.3 (random keys, path
 * length of each lookup), and the churn metrics those of §6.4–6.5 (lookup failures while
 * peers come and go).  Zipf key popularity is the usual p(rank r) ∝ 1 / r^alpha.
 *
 * Memory: a peer slot costs a struct world_peer (80 bytes) and, while joined, an oracle slot
 * (24 bytes, in chunks of at most 512), plus its node in the core while it is up (and 8 bytes
 * under the capacity or uptime super-peer election).  The env is not stored per peer:
 * node_new copies it, and its ops table is one static const shared by every peer.  Datagrams in
 * flight are carved from 64 KB blocks (see struct world_block).
 */
#include "world.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../analysis/graph.h"
#include "../config/config.h"
#include "../sec/cred.h"
#include "../sec/provider.h"
#include "../core/node.h"
#include "../core/redundant.h"
#include "../core/service.h"
#include "../core/topology.h"
#include "../core/wire.h"
#include "churn.h"
#include "dist.h"
#include "engine.h"
#include "nat.h"
#include "pcap.h"
#include "secmodel.h"
#include "sipua.h"
#include "underlay.h"

/* Random streams of the run seed beyond the peers' own (peer i uses stream i).  The churn
 * module and the underlay derive their streams from the seed themselves. */
#define WORLD_STREAM_IDS ((uint64_t)1 << 32)
#define WORLD_STREAM_JOIN (((uint64_t)1 << 32) + 1)
#define WORLD_STREAM_WORKLOAD (((uint64_t)1 << 32) + 2)
#define WORLD_STREAM_ELECTION (((uint64_t)1 << 32) + 3)
#define WORLD_STREAM_CAPACITY (((uint64_t)1 << 32) + 16) /* super-peer capacities */
#define WORLD_STREAM_SIP (((uint64_t)1 << 32) + 0x100)  /* SIP calls (sim/sipua.h) */
/* Services: the lookups' stream, then one per services.list entry for its providers. */
#define WORLD_STREAM_SERVICES (((uint64_t)1 << 32) + 0x200)

/* Cookies tell the workload's requests apart: the top four bits carry the kind of request;
 * a lookup also carries the oracle's answer when it was issued (peer index + 1, 0 for none)
 * in the next 24 bits, and every request a sequence number or record index in the low 36. */
#define WORLD_TAG_SHIFT 60
#define WORLD_RELAY_SERVICE "relay" /* the relay peers' service name (nat.relay_discovery) */
#define WORLD_WHO_SHIFT 36
#define WORLD_WHO_MASK UINT64_C(0xffffff)
#define WORLD_SEQ_MASK ((UINT64_C(1) << WORLD_WHO_SHIFT) - 1)
enum { WORLD_TAG_NONE, WORLD_TAG_LOOKUP, WORLD_TAG_STORE, WORLD_TAG_FETCH, WORLD_TAG_REFRESH };

#define WORLD_FINGERS_MAX 128
#define WORLD_NO_PEER UINT32_MAX
/* Records-lost probe: besides the responsible peer and its `replicas` successors, this many
 * further successors are asked (a replica can sit one or two places further while the ring
 * repairs itself after a join or a crash). */
#define WORLD_LOST_PROBE_EXTRA 3
/* Graph snapshots: mean shortest path sampled from at most this many sources. */
#define WORLD_GRAPH_SOURCES 500
/* Oracle chunk size (slots); see the oracle section. */
#define WORLD_CHUNK 512

struct world_peer {
    struct world *w;
    struct node *node;  /* NULL while down (and after a graceful leave has gone out) */
    struct sim_rng rng; /* stream = index */
    struct id id;       /* kept across sessions: a rejoin has the same Node-ID */
    sim_handle linger;  /* pending free of a node that left gracefully */
    uint32_t index;
    bool up;          /* started and not departed: receives datagrams */
    bool joined;      /* in the oracle */
    bool join_called; /* node_join was called on the current node */
    bool super;       /* a super-peer (superpeer topology) */
    bool hostile;     /* misbehaves (hostile:, docs/security.md) */
};

/* An oracle entry: a joined peer's Node-ID. */
struct world_slot {
    struct id id;
    uint32_t index;
};

/* The oracle: the joined peers sorted by Node-ID, as a list of chunks of at most WORLD_CHUNK
 * slots (never empty) with the number of slots before each chunk.  Lookups by key are two
 * binary searches, by rank one; a join or departure moves at most one chunk's slots and
 * updates one counter per chunk.  A flat sorted array would move N/2 slots per change: fine
 * at 10^5 peers, 12 MB per change at 10^6 with a thousand changes per simulated second;
 * chunks keep that at 6 KB plus N/WORLD_CHUNK counters. */
struct world_chunk {
    uint32_t n;
    struct world_slot s[WORLD_CHUNK];
};
struct world_oracle {
    struct world_chunk **chunk;
    uint32_t *before; /* slots in the chunks before chunk i */
    uint32_t n_chunks, cap;
    uint32_t n;
};

/* Datagrams in flight live in blocks carved in order (a bump allocator).  A block is freed
 * when its last datagram has been delivered and it is no longer the one being carved (or
 * carved again from the start when it is); datagrams arrive within seconds, so few blocks
 * are alive at once, and world_free frees those still holding some.  This saves a malloc
 * and a free per datagram and keeps delivery from touching anything but the datagram and
 * its block's header. */
#define WORLD_BLOCK_BYTES (64 * 1024)
struct world_block {
    struct world_block *prev, *next; /* every live block */
    struct world *w;
    size_t used, size;
    uint64_t live; /* datagrams not yet delivered */
    uint8_t data[];
};

/* A datagram in flight, header and bytes together, 8-byte aligned inside its block. */
struct world_msg {
    struct world_block *block;
    uint32_t to, from; /* peer indexes */
    uint32_t len;
    struct env_addr src, dst; /* the source the receiver sees (a NAT mapping's, or the sender's
                                 own address) and the destination as addressed */
    uint8_t downlinked; /* has passed the receiver's downlink (sim/underlay.h) */
    uint16_t port;      /* the receiver's port: WORLD_PORT (its node) or a SIP port */
    uint8_t bytes[];
};

/* A workload record: who stored it first (and refreshes it) and until when it lives. */
struct world_record {
    struct world *w;
    struct id res;
    env_time expires; /* issue time of the last successful store + lifetime */
    uint32_t owner;   /* WORLD_NO_PEER when the first store had no peer to go through */
    bool stored;      /* a store succeeded at least once */
};

/* Key popularity: the cumulative distribution over ranks 0..n-1, sampled by binary search. */
struct world_zipf {
    double *cdf;
    uint64_t n;
};

/* What the current time-series window has seen. */
struct world_window {
    uint64_t lookups, correct, answered, hops, latency_us, bytes;
};

struct world {
    const struct scenario *sc;
    struct sim_engine *engine;
    struct underlay *underlay;
    struct churn *churn;
    struct nat *nat; /* NULL without a nat block: every peer public, no translation */
    struct world_ice *ice; /* NULL unless NAT traversal runs (world_ice_init) */
    uint64_t nat_drops[NAT_VERDICTS]; /* dropped_nat by verdict */
    bool verbose;
    char *out_dir;
    struct pcap_writer *pcap;
    /* The nodes' configurations, which they borrow (node.h): one per distinct configuration
     * rather than a copy per node.  cfg_super differs only in superpeer.is_super; both are
     * final before the first node starts (world_peers_init). */
    struct node_config cfg, cfg_super;
    /* Hostile peers' (hostile:): cfg and cfg_super with the adversary block set. */
    struct node_config cfg_hostile, cfg_hostile_super;
    struct world_security *sec; /* NULL unless hostile: or security: is used (docs/security.md) */

    uint32_t n_peers; /* slots */
    struct world_peer *peers; /* n_peers slots, then n_servers relay servers (world_ice_init) */
    uint32_t n_servers;       /* nat.relay_servers: hosts outside the overlay, public */
    struct world_oracle oracle;
    uint32_t n_alive;
    int64_t first_joiner; /* the peer that started the overlay, -1 before */

    /* Live peer-microseconds (the integral of n_alive), whole run and measured window. */
    env_time alive_since;
    uint64_t alive_us, alive_us_measured;

    struct world_block *blocks; /* every block holding datagrams, and the current one */
    struct world_block *cur;    /* the block being carved */

    struct sim_rng join_rng;
    uint32_t next_join;

    struct sim_rng wl_rng;
    uint64_t n_keys;
    struct world_zipf key_zipf, record_zipf;
    uint8_t *value; /* the records' value bytes (value_size of them) */
    GArray *stored; /* uint32_t indices of records stored successfully */
    struct world_record *records;
    uint64_t records_issued; /* first stores issued so far */
    uint64_t fetches_issued;

    struct world_window win;
    uint64_t alive_us_tick; /* alive_us at the last time-series step */
    GArray *series;         /* struct world_sample */

    GArray *snapshot_times; /* env_time, sorted */
    guint next_snapshot;
    GError *snapshot_error; /* the first failed snapshot */

    /* Super-peer election (docs/superpeer.md, "Election"): per-slot capacities (election
     * capacity) and session starts (election uptime), NULL under the other rules; the joined
     * super-peers in the oracle and their integral over the measured window. */
    double *capacity;
    env_time *up_since;
    uint32_t n_super;
    env_time super_since;
    uint64_t super_us_measured;

    struct world_services *svc; /* NULL without a services block (docs/services.md) */

    struct sipua *sip; /* NULL without a sip: section (sim/sipua.h, docs/sip.md) */

    struct world_bootstrap *boot; /* NULL under bootstrap.method random (docs/bootstrap.md) */

    uint32_t n_clients;           /* client slots after the relay servers' (clients:) */
    struct node_config cfg_client; /* theirs: cfg as a client */
    struct world_clients *cl;     /* NULL without clients (docs/clients.md) */

    struct world_metrics m;
};

/* ---- small helpers ------------------------------------------------------------------------ */

static int world_time_cmp(const void *a, const void *b)
{
    env_time x = *(const env_time *)a, y = *(const env_time *)b;
    return x < y ? -1 : x > y;
}

struct env_addr world_addr(uint32_t index)
{
    struct env_addr a = {.ip = WORLD_IP_BASE + index + 1, .port = WORLD_PORT};
    return a;
}

/* Index of the peer at addr, or -1 when no peer slot has that address (its node's port, or
 * with a sip: section one of its host's SIP ports). */
static int64_t world_index_of(const struct world *w, const struct env_addr *addr)
{
    bool port = addr->port == WORLD_PORT || (w->sip && sipua_port(w->sip, addr->port));
    if (!port || addr->ip <= WORLD_IP_BASE)
        return -1;
    uint64_t i = (uint64_t)addr->ip - WORLD_IP_BASE - 1;
    return i < (uint64_t)w->n_peers + w->n_servers + w->n_clients ? (int64_t)i : -1;
}

static struct id world_random_id(struct sim_rng *r)
{
    struct id x;
    x.hi = sim_rng_next(r);
    x.lo = sim_rng_next(r);
    return x;
}

static struct id world_named_id(const char *prefix, uint64_t i)
{
    char name[48];
    int len = snprintf(name, sizeof name, "%s-%llu", prefix, (unsigned long long)i);
    return id_hash(name, (size_t)len);
}

struct id world_record_id(uint64_t i)
{
    return world_named_id("record", i);
}

struct id world_key_id(uint64_t r)
{
    return world_named_id("key", r);
}

static uint64_t world_cookie(unsigned tag, int64_t who, uint64_t seq)
{
    uint64_t w = who >= 0 ? (uint64_t)who + 1 : 0;
    return ((uint64_t)tag << WORLD_TAG_SHIFT) | ((w & WORLD_WHO_MASK) << WORLD_WHO_SHIFT) |
           (seq & WORLD_SEQ_MASK);
}

size_t world_rank(size_t n, double p)
{
    if (n == 0)
        return 0;
    double r = ceil(p * (double)n / 100.0);
    if (r < 1)
        r = 1;
    if (r > (double)n)
        r = (double)n;
    return (size_t)r - 1;
}

/* ---- the oracle --------------------------------------------------------------------------- */

static int world_slot_cmp(const void *a, const void *b)
{
    const struct world_slot *x = a, *y = b;
    int c = id_cmp(&x->id, &y->id);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* First slot of chunk c whose id is >= k (c->n when none). */
static uint32_t oracle_chunk_lower(const struct world_chunk *c, const struct id *k)
{
    uint32_t lo = 0, hi = c->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (id_cmp(&c->s[mid].id, k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First chunk whose last id is >= k (n_chunks when none). */
static uint32_t oracle_chunk_of(const struct world_oracle *o, const struct id *k)
{
    uint32_t lo = 0, hi = o->n_chunks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct world_chunk *c = o->chunk[mid];
        if (id_cmp(&c->s[c->n - 1].id, k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Rank of the first slot whose id is >= k (o->n when every id is smaller). */
static uint32_t oracle_lower_bound(const struct world_oracle *o, const struct id *k)
{
    uint32_t c = oracle_chunk_of(o, k);
    if (c == o->n_chunks)
        return o->n;
    return o->before[c] + oracle_chunk_lower(o->chunk[c], k);
}

/* The slot of rank r (0 <= r < o->n). */
static const struct world_slot *oracle_at(const struct world_oracle *o, uint32_t r)
{
    g_assert(r < o->n);
    uint32_t lo = 0, hi = o->n_chunks; /* first chunk with before > r */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (o->before[mid] <= r)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t c = lo - 1;
    return &o->chunk[c]->s[r - o->before[c]];
}

/* Puts chunk ch at position at of the chunk list; before[at] is left for the caller. */
static void oracle_insert_chunk(struct world_oracle *o, uint32_t at, struct world_chunk *ch)
{
    if (o->n_chunks == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 16;
        o->chunk = g_renew(struct world_chunk *, o->chunk, o->cap);
        o->before = g_renew(uint32_t, o->before, o->cap);
    }
    memmove(&o->chunk[at + 1], &o->chunk[at], (o->n_chunks - at) * sizeof *o->chunk);
    memmove(&o->before[at + 1], &o->before[at], (o->n_chunks - at) * sizeof *o->before);
    o->chunk[at] = ch;
    o->n_chunks++;
}

static void oracle_insert(struct world_oracle *o, const struct world_slot *s)
{
    if (o->n_chunks == 0) {
        struct world_chunk *ch = g_new(struct world_chunk, 1);
        ch->n = 1;
        ch->s[0] = *s;
        oracle_insert_chunk(o, 0, ch);
        o->before[0] = 0;
        o->n = 1;
        return;
    }
    uint32_t c = oracle_chunk_of(o, &s->id);
    if (c == o->n_chunks)
        c--;
    struct world_chunk *ch = o->chunk[c];
    if (ch->n == WORLD_CHUNK) {
        uint32_t half = WORLD_CHUNK / 2;
        struct world_chunk *right = g_new(struct world_chunk, 1);
        right->n = WORLD_CHUNK - half;
        memcpy(right->s, &ch->s[half], right->n * sizeof *right->s);
        ch->n = half;
        oracle_insert_chunk(o, c + 1, right);
        o->before[c + 1] = o->before[c] + half;
        if (id_cmp(&s->id, &ch->s[half - 1].id) > 0) {
            c++;
            ch = right;
        }
    }
    uint32_t pos = oracle_chunk_lower(ch, &s->id);
    g_assert(pos == ch->n || !id_eq(&ch->s[pos].id, &s->id));
    memmove(&ch->s[pos + 1], &ch->s[pos], (ch->n - pos) * sizeof *ch->s);
    ch->s[pos] = *s;
    ch->n++;
    for (uint32_t i = c + 1; i < o->n_chunks; i++)
        o->before[i]++;
    o->n++;
}

static void oracle_remove(struct world_oracle *o, const struct id *id)
{
    uint32_t c = oracle_chunk_of(o, id);
    g_assert(c < o->n_chunks);
    struct world_chunk *ch = o->chunk[c];
    uint32_t pos = oracle_chunk_lower(ch, id);
    g_assert(pos < ch->n && id_eq(&ch->s[pos].id, id));
    memmove(&ch->s[pos], &ch->s[pos + 1], (ch->n - pos - 1) * sizeof *ch->s);
    ch->n--;
    o->n--;
    for (uint32_t i = c + 1; i < o->n_chunks; i++)
        o->before[i]--;
    if (ch->n == 0) {
        g_free(ch);
        memmove(&o->chunk[c], &o->chunk[c + 1], (o->n_chunks - c - 1) * sizeof *o->chunk);
        memmove(&o->before[c], &o->before[c + 1], (o->n_chunks - c - 1) * sizeof *o->before);
        o->n_chunks--;
    }
}

/* Fills an empty oracle from n sorted slots, chunks three quarters full. */
static void oracle_load(struct world_oracle *o, const struct world_slot *s, uint32_t n)
{
    g_assert(o->n == 0);
    const uint32_t fill = WORLD_CHUNK * 3 / 4;
    for (uint32_t at = 0; at < n; at += fill) {
        struct world_chunk *ch = g_new(struct world_chunk, 1);
        ch->n = MIN(fill, n - at);
        memcpy(ch->s, &s[at], ch->n * sizeof *s);
        oracle_insert_chunk(o, o->n_chunks, ch);
        o->before[o->n_chunks - 1] = at;
    }
    o->n = n;
}

static void oracle_clear(struct world_oracle *o)
{
    for (uint32_t i = 0; i < o->n_chunks; i++)
        g_free(o->chunk[i]);
    g_free(o->chunk);
    g_free(o->before);
    memset(o, 0, sizeof *o);
}

/* ---- datagrams in flight ------------------------------------------------------------------ */

static void world_block_free(struct world *w, struct world_block *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        w->blocks = b->next;
    if (b->next)
        b->next->prev = b->prev;
    if (w->cur == b)
        w->cur = NULL;
    g_free(b);
}

static struct world_msg *world_msg_new(struct world *w, size_t len)
{
    size_t need = (sizeof(struct world_msg) + len + 7) & ~(size_t)7;
    struct world_block *b = w->cur;
    if (!b || b->size - b->used < need) {
        if (b && b->live == 0)
            world_block_free(w, b);
        size_t size = MAX(WORLD_BLOCK_BYTES, need);
        b = g_malloc(sizeof *b + size);
        b->w = w;
        b->used = 0;
        b->size = size;
        b->live = 0;
        b->prev = NULL;
        b->next = w->blocks;
        if (w->blocks)
            w->blocks->prev = b;
        w->blocks = b;
        w->cur = b;
    }
    struct world_msg *msg = (struct world_msg *)(b->data + b->used);
    b->used += need;
    b->live++;
    msg->block = b;
    msg->len = (uint32_t)len;
    msg->downlinked = 0;
    return msg;
}

static void world_msg_free(struct world_msg *msg)
{
    struct world_block *b = msg->block;
    struct world *w = b->w;
    if (--b->live > 0)
        return;
    if (b == w->cur)
        b->used = 0;
    else
        world_block_free(w, b);
}

/* Rank of k's successor: the first id >= k, wrapping to the smallest. */
static uint32_t world_successor_pos(const struct world *w, const struct id *k)
{
    uint32_t pos = oracle_lower_bound(&w->oracle, k);
    return pos == w->oracle.n ? 0 : pos;
}

/* Rank of the slot responsible for k, as the scenario's topology defines it: CHORD-RELOAD's
 * successor (RFC 6940 §10.1), or Bamboo's numerically closest id, a tie going to the peer
 * that follows the key (docs/bamboo.md). */
static uint32_t world_responsible_pos(const struct world *w, const struct id *k)
{
    uint32_t succ = world_successor_pos(w, k);
    if (w->cfg.topology == NODE_TOPOLOGY_SUPERPEER) {
        /* Only super-peers are responsible: the first one at or after k (docs/superpeer.md). */
        for (uint32_t i = 0, pos = succ; i < w->oracle.n; i++, pos = (pos + 1) % w->oracle.n)
            if (w->peers[oracle_at(&w->oracle, pos)->index].super)
                return pos;
        return succ;
    }
    if (w->cfg.topology != NODE_TOPOLOGY_BAMBOO || w->oracle.n < 2)
        return succ;
    uint32_t pred = succ == 0 ? w->oracle.n - 1 : succ - 1;
    struct id ds = id_dist(k, &oracle_at(&w->oracle, succ)->id);
    struct id dp = id_dist(&oracle_at(&w->oracle, pred)->id, k);
    return id_cmp(&dp, &ds) < 0 ? pred : succ;
}

int64_t world_responsible(const struct world *w, const struct id *k)
{
    if (w->oracle.n == 0)
        return -1;
    return oracle_at(&w->oracle, world_responsible_pos(w, k))->index;
}

/* Brings the integral of n_super over the measured window up to now; call before n_super
 * changes. */
static void world_super_account(struct world *w)
{
    env_time now = sim_now(w->engine), start = w->sc->workload.start;
    if (now > start && now > w->super_since)
        w->super_us_measured += (uint64_t)w->n_super * (now - MAX(w->super_since, start));
    w->super_since = now;
}

/* Adds a peer that just joined. */
static void world_oracle_add(struct world *w, struct world_peer *p)
{
    if (p->joined || !p->up)
        return;
    struct world_slot s = {.id = p->id, .index = p->index};
    oracle_insert(&w->oracle, &s);
    p->joined = true;
    if (p->super) {
        world_super_account(w);
        w->n_super++;
    }
}

static void world_oracle_drop(struct world *w, struct world_peer *p)
{
    if (!p->joined)
        return;
    oracle_remove(&w->oracle, &p->id);
    p->joined = false;
    if (p->super) {
        world_super_account(w);
        w->n_super--;
    }
}

/* A uniformly chosen joined peer, or NULL when none has joined (no draw then). */
static struct world_peer *world_random_joined(struct world *w, struct sim_rng *r)
{
    if (w->oracle.n == 0)
        return NULL;
    return &w->peers[oracle_at(&w->oracle, (uint32_t)sim_rng_below(r, w->oracle.n))->index];
}

/* ---- live peer-seconds -------------------------------------------------------------------- */

/* Brings the integrals of n_alive up to now; call before n_alive changes. */
static void world_alive_account(struct world *w)
{
    env_time now = sim_now(w->engine);
    if (now <= w->alive_since)
        return;
    w->alive_us += (uint64_t)w->n_alive * (now - w->alive_since);
    env_time start = w->sc->workload.start;
    if (now > start)
        w->alive_us_measured += (uint64_t)w->n_alive * (now - MAX(w->alive_since, start));
    w->alive_since = now;
}

/* Mean number of live peers over the measured window so far (n_alive before it starts). */
static double world_alive_mean(const struct world *w)
{
    env_time now = sim_now(w->engine), start = w->sc->workload.start;
    if (now <= start)
        return w->n_alive;
    uint64_t us = w->alive_us_measured;
    if (now > w->alive_since)
        us += (uint64_t)w->n_alive * (now - MAX(w->alive_since, start));
    return (double)us / (double)(now - start);
}

/* ---- metrics from the core's events ------------------------------------------------------- */

static unsigned world_slot_of(uint16_t code)
{
    if (code < WORLD_SLOT_ERROR)
        return code;
    return code == WIRE_ERROR ? WORLD_SLOT_ERROR : WORLD_SLOT_OTHER;
}

const char *world_slot_name(unsigned slot)
{
    if (slot == 0)
        return "ack";
    if (slot == WORLD_SLOT_ERROR)
        return wire_code_name(WIRE_ERROR);
    if (slot >= WORLD_SLOT_OTHER)
        return "other";
    return wire_code_name((uint16_t)slot);
}

enum world_class world_slot_class(unsigned slot)
{
    switch (slot) {
    case WIRE_PING_REQ:
    case WIRE_PING_ANS:
    case WIRE_STORE_REQ:
    case WIRE_STORE_ANS:
    case WIRE_FETCH_REQ:
    case WIRE_FETCH_ANS:
        return WORLD_CLASS_APPLICATION;
    default:
        return WORLD_CLASS_MAINTENANCE;
    }
}

const char *world_class_name(enum world_class c)
{
    return c == WORLD_CLASS_APPLICATION ? "application" : "maintenance";
}

static void world_on_lookup(struct world *w, const struct env_event *ev)
{
    struct world_metrics *m = &w->m;
    m->lookups_completed++;
    w->win.lookups++;
    m->lookup_retransmits += ev->retransmits; /* end-to-end, RFC 6940 §6.2.1 */
    if (ev->status == NODE_E_TIMEOUT)
        m->lookup_timeouts++;
    if (ev->status != NODE_OK)
        return;
    m->lookups_answered++;
    int64_t who = world_responsible(w, &ev->key);
    if (who >= 0 && id_eq(&w->peers[who].id, &ev->responder)) {
        m->lookups_correct++;
        w->win.correct++;
        int64_t then = (int64_t)((ev->cookie >> WORLD_WHO_SHIFT) & WORLD_WHO_MASK) - 1;
        if (then >= 0 && (uint64_t)then < w->n_peers && id_eq(&w->peers[then].id, &ev->responder))
            m->lookups_consistent++;
    }
    uint32_t hops = ev->hops;
    m->hops_hist[hops < 255 ? hops : 255]++;
    m->hops_sum += hops;
    g_array_append_val(m->hops, hops);
    env_time lat = ev->latency;
    g_array_append_val(m->latency, lat);
    w->win.answered++;
    w->win.hops += hops;
    w->win.latency_us += lat;
}

static void world_on_store(struct world *w, const struct env_event *ev, bool refresh)
{
    uint64_t rec = ev->cookie & WORLD_SEQ_MASK;
    g_assert(rec < w->records_issued);
    struct world_record *r = &w->records[rec];
    if (ev->status != NODE_OK) {
        if (refresh)
            w->m.refreshes_failed++;
        else
            w->m.stores_failed++;
        return;
    }
    env_time issued = sim_now(w->engine) - ev->latency;
    r->expires = issued + (env_time)w->sc->workload.record_lifetime * ENV_S;
    if (refresh) {
        w->m.refreshes_ok++;
        return;
    }
    w->m.stores_ok++;
    r->stored = true;
    uint32_t idx = (uint32_t)rec;
    g_array_append_val(w->stored, idx);
}

static void world_on_fetch(struct world *w, const struct env_event *ev)
{
    if (ev->status == NODE_OK && ev->found)
        w->m.fetches_found++;
    else if (ev->status == NODE_OK || ev->status == NODE_E_NOT_FOUND)
        w->m.fetches_not_found++;
    else
        w->m.fetches_failed++;
}

/* ---- NATs (sim/nat.h, docs/nat.md) -------------------------------------------------------- */

static void world_nat_drop(struct world *w, enum nat_verdict v)
{
    w->nat_drops[v]++;
    w->m.dropped_nat++;
}

/* Where a datagram from peer p to `to` goes when the scenario has NATs: the receiving peer's
 * index, or -1 when it goes nowhere (counted).  *src is p's own address on entry and becomes
 * the source the receiver sees: p's mapping when it leaves through its box.  A private address
 * (that of a peer behind a box) is reached only from behind the same box, untranslated.  A
 * box's public address reaches the peer its mapping on that port leads to now; the box's
 * filter is applied when the datagram arrives (world_nat_admit), so that a hole punched
 * while it travels lets it in.  *port becomes the receiver's port (behind a box: the mapping's
 * internal one). */
/* The box of host i: relay servers (slots from n_peers on) are public. */
static uint32_t world_box(const struct world *w, uint32_t i)
{
    return i < w->n_peers ? nat_peer_box(w->nat, i) : NAT_NONE;
}

static int64_t world_nat_route(struct world *w, const struct world_peer *p,
                               const struct env_addr *to, env_time now, struct env_addr *src,
                               uint16_t *port)
{
    *port = to->port;
    uint32_t own = world_box(w, p->index);
    uint32_t box = NAT_NONE;
    int64_t dst = world_index_of(w, to);
    if (dst >= 0) {
        uint32_t theirs = world_box(w, (uint32_t)dst);
        if (theirs != NAT_NONE && theirs != own) {
            world_nat_drop(w, NAT_UNREACHABLE);
            return -1;
        }
        if (theirs != NAT_NONE) /* inside one private network */
            return dst;
    } else if ((box = nat_box_at(w->nat, to->ip)) == NAT_NONE) {
        w->m.dropped_undeliverable++;
        return -1;
    }
    if (own != NAT_NONE) {
        struct env_addr mapped;
        enum nat_verdict v = nat_outbound(w->nat, own, src, to, now, &mapped);
        if (v != NAT_PASS) {
            world_nat_drop(w, v);
            return -1;
        }
        *src = mapped;
    }
    if (box == NAT_NONE)
        return dst;
    struct env_addr in;
    if (!nat_peek(w->nat, box, to->port, now, &in) || (dst = world_index_of(w, &in)) < 0) {
        world_nat_drop(w, NAT_NO_BINDING);
        return -1;
    }
    *port = in.port;
    return dst;
}

/* A datagram addressed to a box's public address reaches the box now: whether its filter
 * lets it through to the peer chosen when it was sent (counted when not). */
static bool world_nat_admit(struct world *w, const struct world_msg *msg)
{
    uint32_t box = nat_box_at(w->nat, msg->dst.ip);
    if (box == NAT_NONE)
        return true;
    struct env_addr in;
    enum nat_verdict v =
        nat_inbound(w->nat, box, msg->dst.port, &msg->src, sim_now(w->engine), &in);
    if (v == NAT_PASS && world_index_of(w, &in) != (int64_t)msg->to)
        v = NAT_NO_BINDING; /* the mapping expired and its port went to another peer */
    if (v == NAT_PASS)
        return true;
    world_nat_drop(w, v);
    return false;
}

/* The peer an address reaches now (a box's address: through its live mapping), or -1. */
static int64_t world_peer_at(const struct world *w, const struct env_addr *a)
{
    int64_t i = world_index_of(w, a);
    struct env_addr in;
    if (i < 0 && w->nat) {
        uint32_t box = nat_box_at(w->nat, a->ip);
        if (box != NAT_NONE && nat_peek(w->nat, box, a->port, sim_now(w->engine), &in))
            i = world_index_of(w, &in);
    }
    return i < (int64_t)w->n_peers ? i : -1; /* relay servers are no peers */
}

bool world_peer_public(const struct world *w, uint32_t index)
{
    g_assert(index < w->n_peers);
    return !w->nat || nat_peer_box(w->nat, index) == NAT_NONE;
}

/* ---- NAT traversal (core/ice.c; docs/nat.md, "Traversal") ------------------------------------
 * With a nat block that puts some peers behind NATs and leaves some public, every node runs
 * traversal, and the first nat.relays public peers (by slot) are the overlay configuration's
 * relays.  With nat.relay_servers: N, the relays are N relay servers instead (the seed
 * draft's STUN/TURN servers, §6.1): hosts outside the overlay, in the slots after the peers'
 * (public addresses world_addr(n_peers + k)), each running a node that never joins — it
 * answers Attaches (reflecting the mapped address) and forwards to the peers connected to it,
 * and nothing else; the oracle, peer counts and per-peer metrics never see them, and they
 * need no public peer.  The world counts the connection outcomes by NAT pair type and each
 * relay's load. */
struct world_ice {
    struct node_peer relays[64];
    uint32_t relay_slot[64];
    unsigned n_relays;
    uint64_t relay_load[64]; /* messages peers sent through each relay */
    bool service;            /* nat.relay_discovery: service (the relay peers advertise) */
    uint64_t relay_changes[NODE_RELAY_LOOKUP_FAILED + 1]; /* ENV_EV_RELAY by reason */
    uint64_t outcome[SCENARIO_NAT_TYPES][SCENARIO_NAT_TYPES][NODE_CONNECT_OUTCOMES];
    GHashTable *slot_of; /* Node-ID (struct id *) -> peer slot + 1 */
};

static guint world_id_hash(gconstpointer k)
{
    return (guint)((const struct id *)k)->lo;
}

static gboolean world_id_equal(gconstpointer a, gconstpointer b)
{
    return id_eq(a, b);
}

static enum scenario_nat_type world_nat_type(const struct world *w, uint32_t slot)
{
    uint32_t box = nat_peer_box(w->nat, slot);
    return box == NAT_NONE ? SCENARIO_NAT_PUBLIC : nat_box_config(w->nat, box)->type;
}

static void world_ice_init(struct world *w)
{
    uint32_t pub = 0;
    for (uint32_t i = 0; w->nat && i < w->n_peers; i++)
        pub += world_peer_public(w, i);
    if (!w->nat || !w->sc->nat.traversal || pub == w->n_peers ||
        (w->n_servers == 0 && (pub == 0 || w->sc->nat.relays == 0)))
        return;
    struct world_ice *x = w->ice = g_new0(struct world_ice, 1);
    x->slot_of = g_hash_table_new(world_id_hash, world_id_equal);
    for (uint32_t k = 0; k < w->n_servers; k++) {
        uint32_t i = w->n_peers + k;
        x->relay_slot[x->n_relays] = i;
        x->relays[x->n_relays].id = w->peers[i].id;
        x->relays[x->n_relays++].addr = world_addr(i);
    }
    for (uint32_t i = 0; i < w->n_peers; i++) {
        g_hash_table_insert(x->slot_of, &w->peers[i].id, GUINT_TO_POINTER(i + 1));
        if (w->n_servers == 0 && world_peer_public(w, i) &&
            x->n_relays < MIN(w->sc->nat.relays, 64u)) {
            x->relay_slot[x->n_relays] = i;
            x->relays[x->n_relays].id = w->peers[i].id;
            x->relays[x->n_relays++].addr = world_addr(i);
        }
    }
    w->cfg.ice.enabled = true;
    w->cfg.ice.relays = x->relays;
    w->cfg.ice.n_relays = x->n_relays;
    w->cfg.ice.failover = w->sc->nat.relay_failover;
    /* Relays from the directory (docs/nat.md): the relay peers advertise themselves
     * (world_node_start); only the first nat.bootstrap_relays are configured, for joining.
     * Relay servers never join, so they cannot advertise: with them the list stays configured. */
    if (w->sc->nat.relay_discovery == SCENARIO_RELAYS_SERVICE && w->n_servers == 0) {
        x->service = true;
        w->cfg.ice.discovery = NODE_ICE_RELAYS_SERVICE;
        w->cfg.ice.relay_service = WORLD_RELAY_SERVICE;
        w->cfg.ice.relay_policy = service_policy_by_name(w->sc->nat.relay_policy);
        w->cfg.ice.n_relays = MIN(x->n_relays, w->sc->nat.bootstrap_relays);
    }
}

/* Whether slot i is one of the relay peers that advertise themselves (service discovery). */
static bool world_ice_offers(const struct world *w, uint32_t i)
{
    const struct world_ice *x = w->ice;
    for (unsigned k = 0; x && x->service && k < x->n_relays; k++)
        if (x->relay_slot[k] == i)
            return true;
    return false;
}

static void world_ice_event(struct world *w, const struct world_peer *p,
                            const struct env_event *ev)
{
    struct world_ice *x = w->ice;
    if (!x)
        return;
    if (ev->type == ENV_EV_RELAYED) {
        for (unsigned i = 0; i < x->n_relays; i++)
            if (id_eq(&x->relays[i].id, &ev->responder))
                x->relay_load[i]++;
        return;
    }
    if (ev->type == ENV_EV_RELAY) {
        if (ev->code < G_N_ELEMENTS(x->relay_changes))
            x->relay_changes[ev->code]++;
        return;
    }
    uint32_t other = GPOINTER_TO_UINT(g_hash_table_lookup(x->slot_of, &ev->responder));
    if (other == 0 || ev->code >= NODE_CONNECT_OUTCOMES)
        return;
    enum scenario_nat_type a = world_nat_type(w, p->index), b = world_nat_type(w, other - 1);
    x->outcome[MIN(a, b)][MAX(a, b)][ev->code]++;
}

/* Rows (nat runs with traversal only): connect_<outcome> in all, connect_<A>-<B>_<outcome>
 * for each NAT type pair that made attempts (A <= B in the order of nat.mix's types), then
 * relays, relayed_msgs and relay_load_<slot> per relay. */
struct world_security;
static void world_node_retire(struct world *w, struct world_peer *p);
static struct world_peer *world_random_requester(struct world *w, struct sim_rng *r);
static int world_lookup_start(struct world *w, struct world_peer *p, const struct id *key,
                              uint64_t cookie);
static int world_fetch_start(struct world *w, struct world_peer *p, const struct id *res,
                             uint64_t cookie);

/* Rows PREFIX_max_mean and PREFIX_gini: the spread of n relays' values v, the largest over the
 * mean and the Gini coefficient (the mean absolute difference over twice the mean: 0 when
 * every relay has the same, 1 - 1/n when one has everything); 0 when all are 0. */
static void world_ice_spread(GArray *rows, const char *prefix, const uint64_t *v, unsigned n)
{
    double sum = 0, max = 0, diff = 0;
    for (unsigned i = 0; i < n; i++) {
        sum += (double)v[i];
        max = MAX(max, (double)v[i]);
        for (unsigned j = 0; j < n; j++)
            diff += fabs((double)v[i] - (double)v[j]);
    }
    double mean = n ? sum / n : 0;
    char *a = g_strdup_printf("%s_max_mean", prefix), *b = g_strdup_printf("%s_gini", prefix);
    world_row_f(rows, g_intern_string(a), mean > 0 ? max / mean : 0, 3);
    world_row_f(rows, g_intern_string(b), mean > 0 ? diff / (2.0 * n * n * mean) : 0, 3);
    g_free(a);
    g_free(b);
}

static void world_ice_rows(const struct world *w, GArray *rows)
{
    static const char *const outcome[] = {"direct", "punched", "relayed", "failed"};
    const struct world_ice *x = w->ice;
    uint64_t total[NODE_CONNECT_OUTCOMES] = {0};
    for (int a = 0; a < SCENARIO_NAT_TYPES; a++)
        for (int b = a; b < SCENARIO_NAT_TYPES; b++)
            for (int o = 0; o < NODE_CONNECT_OUTCOMES; o++)
                total[o] += x->outcome[a][b][o];
    for (int o = 0; o < NODE_CONNECT_OUTCOMES; o++) {
        char *name = g_strdup_printf("connect_%s", outcome[o]);
        world_row_u(rows, g_intern_string(name), total[o]);
        g_free(name);
    }
    for (int a = 0; a < SCENARIO_NAT_TYPES; a++)
        for (int b = a; b < SCENARIO_NAT_TYPES; b++) {
            uint64_t sum = 0;
            for (int o = 0; o < NODE_CONNECT_OUTCOMES; o++)
                sum += x->outcome[a][b][o];
            for (int o = 0; sum && o < NODE_CONNECT_OUTCOMES; o++) {
                char *name = g_strdup_printf("connect_%s-%s_%s", nat_type_name(a),
                                             nat_type_name(b), outcome[o]);
                world_row_u(rows, g_intern_string(name), x->outcome[a][b][o]);
                g_free(name);
            }
        }
    uint64_t relayed = 0;
    for (unsigned i = 0; i < x->n_relays; i++)
        relayed += x->relay_load[i];
    world_row_u(rows, "relays", x->n_relays);
    if (w->n_servers)
        world_row_u(rows, "relay_servers", w->n_servers);
    world_row_u(rows, "relayed_msgs", relayed);
    for (unsigned i = 0; i < x->n_relays; i++) {
        char *name = g_strdup_printf("relay_load_%u", x->relay_slot[i]);
        world_row_u(rows, g_intern_string(name), x->relay_load[i]);
        g_free(name);
    }
    world_ice_spread(rows, "relay_load", x->relay_load, x->n_relays);
    /* Clients at the end: the peers up whose own relay (node_ice_relay) each relay is. */
    uint64_t clients[64] = {0};
    for (uint32_t i = 0; i < w->n_peers; i++) {
        struct node_peer r;
        if (!w->peers[i].node || world_peer_public(w, i) || !node_ice_relay(w->peers[i].node, &r))
            continue;
        for (unsigned k = 0; k < x->n_relays; k++)
            if (id_eq(&x->relays[k].id, &r.id))
                clients[k]++;
    }
    world_ice_spread(rows, "relay_clients", clients, x->n_relays);
    world_row_u(rows, "relay_found", x->relay_changes[NODE_RELAY_FOUND]);
    world_row_u(rows, "relay_failovers", x->relay_changes[NODE_RELAY_FAILOVER]);
    world_row_u(rows, "relay_lookups_failed", x->relay_changes[NODE_RELAY_LOOKUP_FAILED]);
}

static void world_ice_free(struct world *w)
{
    if (w->ice)
        g_hash_table_destroy(w->ice->slot_of);
    g_free(w->ice);
}

/* ---- the env: one static ops table, ctx = the peer ---------------------------------------- */

static void world_deliver(void *arg)
{
    struct world_msg *msg = arg;
    struct world *w = msg->block->w;
    if (!msg->downlinked && underlay_has_downlinks(w->underlay)) {
        /* The datagram reaches the receiver's access link now; it is received when the link
         * has carried it (arrival order, sim/underlay.h). */
        env_time done;
        msg->downlinked = 1;
        if (underlay_arrive(w->underlay, msg->to, msg->len, sim_now(w->engine), &done) !=
            UNDERLAY_DELIVER) {
            w->m.dropped_queue++;
            world_msg_free(msg);
            return;
        }
        if (done > sim_now(w->engine)) {
            sim_schedule_at(w->engine, done, world_deliver, msg);
            return;
        }
    }
    if (w->nat && !world_nat_admit(w, msg)) {
        world_msg_free(msg);
        return;
    }
    struct world_peer *p = &w->peers[msg->to];
    if (msg->port != WORLD_PORT) { /* SIP: the host's registrar or one of its user agents */
        if (!w->sip || !sipua_receive(w->sip, msg->to, msg->port, &msg->src, msg->bytes, msg->len))
            w->m.dropped_undeliverable++;
    } else if (p->up && p->node) {
        node_receive(p->node, &msg->src, msg->bytes, msg->len);
    } else {
        w->m.dropped_undeliverable++;
    }
    world_msg_free(msg);
}

/* A datagram leaves port `port` of peer p's host (WORLD_PORT: its node).  SIP between a user
 * agent and the registrar of its own host is loopback: no underlay, no NAT, no delay. */
static void world_send(struct world *w, struct world_peer *p, uint16_t port,
                       const struct env_addr *to, const uint8_t *buf, size_t len)
{
    g_assert(len <= UINT32_MAX);
    env_time now = sim_now(w->engine);
    struct env_addr src = world_addr(p->index);
    src.port = port;
    if (w->pcap)
        pcap_write_udp(w->pcap, now, &src, to, buf, len);
    int64_t dst;
    uint16_t dport = to->port;
    bool loopback = port != WORLD_PORT && to->ip == src.ip && to->port != WORLD_PORT;
    if (loopback)
        dst = p->index;
    else if (w->nat)
        dst = world_nat_route(w, p, to, now, &src, &dport); /* counts what it drops */
    else if ((dst = world_index_of(w, to)) < 0)
        w->m.dropped_undeliverable++;
    if (dst < 0)
        return;
    env_time arrive = now;
    switch (loopback ? UNDERLAY_DELIVER
                     : underlay_send(w->underlay, p->index, (uint32_t)dst, len, now, &p->rng,
                                     &arrive)) {
    case UNDERLAY_DELIVER:
        break;
    case UNDERLAY_LOST:
        w->m.dropped_loss++;
        return;
    case UNDERLAY_QUEUE_FULL:
        w->m.dropped_queue++;
        return;
    case UNDERLAY_PARTITIONED:
        w->m.dropped_partition++;
        return;
    }

    struct world_msg *msg = world_msg_new(w, len);
    msg->to = (uint32_t)dst;
    msg->from = p->index;
    msg->src = src;
    msg->dst = *to;
    msg->port = dport;
    if (loopback)
        msg->downlinked = 1;
    memcpy(msg->bytes, buf, len);
    sim_schedule_at(w->engine, arrive, world_deliver, msg);
}

static void world_env_send(void *ctx, const struct env_addr *to, const uint8_t *buf, size_t len)
{
    struct world_peer *p = ctx;
    world_send(p->w, p, WORLD_PORT, to, buf, len);
}

/* sipua's way out (struct sipua_hooks): from a SIP port of a host. */
static void world_sip_send(void *ud, uint32_t host, uint16_t port, const struct env_addr *to,
                           const uint8_t *buf, size_t len)
{
    struct world *w = ud;
    world_send(w, &w->peers[host], port, to, buf, len);
}

static env_timer world_env_timer_start(void *ctx, env_time delay, env_timer_fn fn, void *arg)
{
    struct world_peer *p = ctx;
    return sim_schedule(p->w->engine, delay, fn, arg);
}

static void world_env_timer_stop(void *ctx, env_timer t)
{
    struct world_peer *p = ctx;
    sim_cancel(p->w->engine, t);
}

static env_time world_env_now(void *ctx)
{
    struct world_peer *p = ctx;
    return sim_now(p->w->engine);
}

static uint64_t world_env_random(void *ctx)
{
    struct world_peer *p = ctx;
    return sim_rng_next(&p->rng);
}

static void world_env_log(void *ctx, enum env_log_level level, const char *msg)
{
    struct world_peer *p = ctx;
    if (!p->w->verbose)
        return;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    fprintf(stderr, "%14.6f peer %u %s: %s\n", (double)sim_now(p->w->engine) / ENV_S, p->index,
            names[level], msg);
}

static void world_services_joined(struct world *w, struct world_peer *p);
static void world_services_drop(struct world *w, struct world_peer *p);
static void world_services_withdraw(struct world *w, struct world_peer *p);
static void world_bootstrap_joined(struct world *w, const struct world_peer *p);
static void world_client_event(struct world *w, struct world_peer *p, const struct env_event *ev);
static void world_clients_account(struct world *w, unsigned c, const struct env_event *ev);

static void world_env_event(void *ctx, const struct env_event *ev)
{
    struct world_peer *p = ctx;
    struct world *w = p->w;
    if (w->n_clients && p->index >= w->n_peers + w->n_servers) {
        world_client_event(w, p, ev); /* a client (docs/clients.md) */
        return;
    }
    if (p->index >= w->n_peers)
        return; /* a relay server: its load is counted by the peers that use it */
    bool measuring = sim_now(w->engine) >= w->sc->workload.start;
    unsigned tag = (unsigned)(ev->cookie >> WORLD_TAG_SHIFT);

    switch (ev->type) {
    case ENV_EV_JOIN_DONE:
        w->m.joins_done++;
        world_bootstrap_joined(w, p);
        world_oracle_add(w, p);
        if (w->sip && p->up)
            sipua_peer_joined(w->sip, p->index); /* its SIP users register */
        if (w->svc)
            world_services_joined(w, p);
        break;
    case ENV_EV_MSG_SENT:
        w->win.bytes += ev->bytes;
        if (measuring) {
            struct world_traffic *t = &w->m.traffic[world_slot_of(ev->code)];
            t->count++;
            t->bytes += ev->bytes;
        }
        break;
    case ENV_EV_MSG_DROPPED:
        w->m.dropped_malformed++;
        break;
    case ENV_EV_LINK_FAILED:
        w->m.links_failed++;
        break;
    case ENV_EV_CONNECT:
    case ENV_EV_RELAYED:
    case ENV_EV_RELAY:
        world_ice_event(w, p, ev);
        break;
    case ENV_EV_LOOKUP_DONE:
        if (measuring && tag == WORLD_TAG_LOOKUP)
            world_on_lookup(w, ev);
        if (measuring && tag == WORLD_TAG_LOOKUP && w->cl)
            world_clients_account(w, 0, ev);
        break;
    case ENV_EV_STORE_DONE:
        if (tag == WORLD_TAG_STORE || tag == WORLD_TAG_REFRESH)
            world_on_store(w, ev, tag == WORLD_TAG_REFRESH);
        break;
    case ENV_EV_FETCH_DONE:
        if (measuring && tag == WORLD_TAG_FETCH)
            world_on_fetch(w, ev);
        if (measuring && tag == WORLD_TAG_FETCH && w->cl)
            world_clients_account(w, 0, ev);
        break;
    }
}

static const struct env_ops world_env_ops = {
    .send = world_env_send,
    .timer_start = world_env_timer_start,
    .timer_stop = world_env_timer_stop,
    .now = world_env_now,
    .random = world_env_random,
    .log = world_env_log,
    .event = world_env_event,
};

/* ---- peers coming and going --------------------------------------------------------------- */

/* Creates the peer's node, in its current role, with the Node-ID it always has. */
static void world_node_start(struct world *w, struct world_peer *p)
{
    struct env e = {.ops = &world_env_ops, .ctx = p};
    struct env_addr addr = world_addr(p->index);
    const struct node_config *cfg = p->super ? &w->cfg_super : &w->cfg;
    if (p->hostile)
        cfg = p->super ? &w->cfg_hostile_super : &w->cfg_hostile;
    p->node = node_new(&e, cfg, &p->id, &addr);
    p->join_called = false;
    if (world_ice_offers(w, p->index)) /* a relay peer: in the directory once joined */
        node_ice_offer_relay(p->node, WORLD_RELAY_SERVICE, w->sc->nat.relay_capacity);
    if (w->sip)
        sipua_peer_start(w->sip, p->index, &e, p->node); /* its SIP proxy/registrar */
}

/* Creates the peer's node; the peer is up from now on. */
static void world_peer_start(struct world *w, struct world_peer *p)
{
    g_assert(!p->up && !p->node);
    world_node_start(w, p);
    world_alive_account(w);
    w->n_alive++;
    p->up = true;
    if (w->up_since)
        w->up_since[p->index] = sim_now(w->engine);
}

/* ---- bootstrap methods (bootstrap.method; docs/bootstrap.md, "In the simulator") ---------
 * A model of net/bootstrap.c and net/bootserver.c.  The joining peer's candidates — the peers
 * of its routing table when it last departed (remembered), the configured bootstrap peers 0..3
 * (in order), or a bootstrap server that knows peers 0..3 — are probed at once and the best
 * joined one is taken, in zero time (the real probe costs one round trip on a LAN).  With no
 * joined candidate the search fails (counted) and is repeated WORLD_BOOTSTRAP_RETRY later, as
 * net/bootstrap.c does.  The server starts each joining peer at the next of its peers (round
 * robin) and moves on past a departed one after one end-to-end retransmission
 * (overlay.reliability_timer), which delays that join; its relay hop itself is not modelled.
 * Only chord and bamboo without NAT use it (superpeer and NAT runs keep their own rules). */

#define WORLD_REMEMBER 8
#define WORLD_BOOTSTRAP_RETRY (2 * ENV_S)
#define WORLD_BOOTSTRAP_NONE UINT32_MAX

struct world_bootstrap {
    enum scenario_bootstrap method;
    uint32_t *remembered; /* WORLD_REMEMBER per peer, WORLD_BOOTSTRAP_NONE where unused */
    env_time *asked;      /* per peer: 1 + when the current search began, 0 when none */
    uint32_t *via;        /* per peer: the chosen bootstrap peer of a pending join */
    uint32_t server_next; /* the server's round robin */
    uint64_t joins, failures, join_us;
    uint64_t via_method[SCENARIO_BOOTSTRAP_SERVER + 1];
};

static void world_bootstrap_init(struct world *w)
{
    enum scenario_bootstrap m = w->sc->bootstrap.method;
    if (m == SCENARIO_BOOTSTRAP_RANDOM || w->cfg.topology == NODE_TOPOLOGY_SUPERPEER || w->nat)
        return;
    struct world_bootstrap *b = g_new0(struct world_bootstrap, 1);
    b->method = m;
    b->asked = g_new0(env_time, w->n_peers);
    b->via = g_new(uint32_t, w->n_peers);
    if (m == SCENARIO_BOOTSTRAP_REMEMBERED) {
        b->remembered = g_new(uint32_t, (size_t)w->n_peers * WORLD_REMEMBER);
        for (size_t i = 0; i < (size_t)w->n_peers * WORLD_REMEMBER; i++)
            b->remembered[i] = WORLD_BOOTSTRAP_NONE;
    }
    w->boot = b;
}

static void world_bootstrap_free(struct world *w)
{
    if (!w->boot)
        return;
    g_free(w->boot->remembered);
    g_free(w->boot->asked);
    g_free(w->boot->via);
    g_free(w->boot);
}

/* A departing peer remembers the peers of its routing table (an empty table keeps the old
 * list, as --cache keeps its file). */
static void world_bootstrap_remember(struct world *w, struct world_peer *p)
{
    if (!w->boot || !w->boot->remembered || !p->node)
        return;
    struct node_peer rt[2 * WORLD_REMEMBER];
    size_t n = node_routing_table(p->node, rt, G_N_ELEMENTS(rt));
    uint32_t *mem = &w->boot->remembered[(size_t)p->index * WORLD_REMEMBER];
    unsigned k = 0;
    for (size_t i = 0; i < n && k < WORLD_REMEMBER; i++) {
        int64_t q = world_index_of(w, &rt[i].addr);
        bool dup = q < 0 || (uint32_t)q == p->index || (uint32_t)q >= w->n_peers;
        for (unsigned j = 0; j < k && !dup; j++)
            dup = mem[j] == (uint32_t)q;
        if (!dup)
            mem[k++] = (uint32_t)q;
    }
    for (unsigned j = k; k && j < WORLD_REMEMBER; j++)
        mem[j] = WORLD_BOOTSTRAP_NONE;
}

static void world_bootstrap_search(struct world *w, struct world_peer *p);

/* A pending join (server failover) or a repeated search; stale after the peer went down. */
static void world_bootstrap_fire(void *arg)
{
    struct world_peer *p = arg;
    struct world *w = p->w;
    if (!p->up || !p->node || p->join_called)
        return;
    uint32_t via = w->boot->via[p->index];
    if (via == WORLD_BOOTSTRAP_NONE) {
        world_bootstrap_search(w, p);
        return;
    }
    p->join_called = true;
    struct env_addr boot = world_addr(via);
    node_join(p->node, &boot);
}

static void world_bootstrap_search(struct world *w, struct world_peer *p)
{
    struct world_bootstrap *b = w->boot;
    if (!b->asked[p->index])
        b->asked[p->index] = sim_now(w->engine) + 1;
    uint32_t n_conf = MIN(NODE_MAX_BOOTSTRAPS, w->n_peers), via = WORLD_BOOTSTRAP_NONE;
    enum scenario_bootstrap used = b->method;
    env_time delay = 0;
    for (unsigned k = 0; b->remembered && k < WORLD_REMEMBER && via == WORLD_BOOTSTRAP_NONE; k++) {
        uint32_t q = b->remembered[(size_t)p->index * WORLD_REMEMBER + k];
        if (q != WORLD_BOOTSTRAP_NONE && w->peers[q].joined)
            via = q;
    }
    if (b->method == SCENARIO_BOOTSTRAP_SERVER) {
        uint32_t first = b->server_next++;
        for (uint32_t k = 0; k < n_conf && via == WORLD_BOOTSTRAP_NONE; k++) {
            uint32_t q = (first + k) % n_conf;
            if (q != p->index && w->peers[q].joined) {
                via = q;
                delay = k * w->cfg.reliability_timer;
            }
        }
    } else {
        if (via == WORLD_BOOTSTRAP_NONE)
            used = SCENARIO_BOOTSTRAP_CONFIGURED;
        for (uint32_t q = 0; q < n_conf && via == WORLD_BOOTSTRAP_NONE; q++)
            if (q != p->index && w->peers[q].joined)
                via = q;
    }
    b->via[p->index] = via;
    if (via == WORLD_BOOTSTRAP_NONE) {
        b->failures++;
        sim_schedule(w->engine, WORLD_BOOTSTRAP_RETRY, world_bootstrap_fire, p);
        return;
    }
    b->via_method[used]++;
    if (delay)
        sim_schedule(w->engine, delay, world_bootstrap_fire, p);
    else
        world_bootstrap_fire(p);
}

/* ENV_EV_JOIN_DONE of a peer whose join went through a search. */
static void world_bootstrap_joined(struct world *w, const struct world_peer *p)
{
    if (!w->boot || !w->boot->asked[p->index])
        return;
    w->boot->joins++;
    w->boot->join_us += sim_now(w->engine) - (w->boot->asked[p->index] - 1);
    w->boot->asked[p->index] = 0;
}


static void world_bootstrap_rows(const struct world *w, GArray *rows)
{
    const struct world_bootstrap *b = w->boot;
    world_row_u(rows, "bootstrap_joins", b->joins);
    world_row_f(rows, "bootstrap_join_time_ms_mean",
                b->joins ? (double)b->join_us / (double)b->joins / 1000.0 : 0.0, 3);
    world_row_u(rows, "bootstrap_failures", b->failures);
    uint64_t waiting = 0; /* up at the end and still searching or joining */
    for (uint32_t i = 0; i < w->n_peers; i++)
        waiting += w->peers[i].up && b->asked[i] != 0;
    world_row_u(rows, "bootstrap_unjoined_end", waiting);
    world_row_u(rows, "bootstrap_via_remembered", b->via_method[SCENARIO_BOOTSTRAP_REMEMBERED]);
    world_row_u(rows, "bootstrap_via_configured", b->via_method[SCENARIO_BOOTSTRAP_CONFIGURED]);
    world_row_u(rows, "bootstrap_via_server", b->via_method[SCENARIO_BOOTSTRAP_SERVER]);
}

/* Joins through a uniformly chosen joined peer; while none has joined, through the peer
 * that started the overlay, or as the first peer of a new overlay. */
static void world_peer_join(struct world *w, struct world_peer *p)
{
    /* Once the overlay exists, a peer joins only through what its method finds (a peer
     * that finds nothing keeps searching rather than starting an overlay of its own). */
    if (w->boot && w->m.joins_done > 0) {
        world_bootstrap_search(w, p);
        return;
    }
    p->join_called = true;
    struct world_peer *via = world_random_joined(w, &w->join_rng);
    /* Super-peer overlays are entered through a super-peer (a few tries, then any peer). */
    for (unsigned tries = 0; w->cfg.topology == NODE_TOPOLOGY_SUPERPEER && via && !via->super &&
                             tries < 64;
         tries++)
        via = world_random_joined(w, &w->join_rng);
    /* Behind NATs, through a public peer when there is one: bootstrap peers are reachable
     * (RFC 6940 §11.4), a private address is not (docs/nat.md). */
    for (unsigned tries = 0; w->nat && w->cfg.topology != NODE_TOPOLOGY_SUPERPEER && via &&
                             !world_peer_public(w, via->index) && tries < 64;
         tries++)
        via = world_random_joined(w, &w->join_rng);
    if (!via && w->first_joiner >= 0 && w->peers[w->first_joiner].up)
        via = &w->peers[w->first_joiner];
    if (!via && w->cfg.topology == NODE_TOPOLOGY_SUPERPEER && !p->super) {
        /* An ordinary peer cannot start an overlay (peer 0, which does under the random
         * election, may be ordinary under another): the first super-peer up and not yet
         * joined does, now, and p joins through it. */
        for (uint32_t i = 0; i < w->n_peers && !via; i++) {
            struct world_peer *q = &w->peers[i];
            if (q->super && q->up && q->node && !q->join_called) {
                world_peer_join(w, q);
                via = q;
            }
        }
    }
    if (!via || via == p) {
        w->first_joiner = p->index;
        node_join(p->node, NULL);
        return;
    }
    struct env_addr boot = world_addr(via->index);
    if (w->ice && !world_peer_public(w, via->index)) /* through its relay (docs/nat.md) */
        node_join_id(p->node, &boot, &via->id);
    else
        node_join(p->node, &boot);
}

/* ---- clients (clients:; RFC 6940 §4.2, core/client.c, docs/clients.md) ---------------------
 * clients.fraction F of all hosts are clients: round(peers x F / (1 - F)) slots after the
 * peers and the relay servers (addresses world_addr(first + k)), each a node with
 * node_config.client set that never joins and never churns.  At time 0 a client attaches to
 * clients.peers joined peers drawn uniformly from the clients' own stream (the simulator's
 * model of a list of bootstrap peers; while none has joined it tries again every second).
 * When the link to its current peer fails the core moves on to the next of them; when that
 * one is not joined either the world gives the client a fresh list (a re-attach).  The
 * workload's lookups and fetches come from a host drawn uniformly among the joined peers and
 * all clients (a client is drawn with probability clients / (joined + clients)); stores and
 * refreshes stay with peers (records have peer owners).  The summary's lookup and fetch rows
 * count every requester; the *_peers and *_clients rows split them by requester class.  The
 * clients' own datagrams are counted apart (client_*) and stay out of the per-peer traffic
 * figures, which thus show what serving clients costs the peers. */
#define WORLD_STREAM_CLIENTS (((uint64_t)1 << 32) + 0x400)
#define WORLD_CLIENT_RETRY ENV_S

struct world_class_stats {
    uint64_t lookups, correct, answered, hops, fetches, found;
    GArray *latency; /* env_time per answered lookup */
};

struct world_clients {
    uint32_t n, first; /* client slots first .. first + n - 1 */
    struct sim_rng rng;
    uint64_t attaches, reattaches, waits, link_failures;
    uint64_t msgs_sent, bytes_sent;  /* the clients' own datagrams, measured window */
    struct world_class_stats cls[2]; /* [0] peers, [1] clients as requesters */
};

static uint32_t world_clients_count(const struct scenario *sc)
{
    double f = sc->clients.fraction;
    return f > 0 ? (uint32_t)llround((double)sc->peers * f / (1.0 - f)) : 0;
}

static void world_client_attach_ev(void *arg);

/* Attaches client p to clients.peers joined peers (distinct when there are enough); with no
 * joined peer, tries again WORLD_CLIENT_RETRY later. */
static void world_client_attach(struct world *w, struct world_peer *p)
{
    struct world_clients *cl = w->cl;
    struct env_addr list[NODE_MAX_CLIENT_PEERS];
    unsigned n = 0, want = MIN(w->sc->clients.peers, (uint32_t)NODE_MAX_CLIENT_PEERS);
    if (w->sc->clients.attach == SCENARIO_CLIENT_ATTACH_NEAREST) {
        /* The want joined peers of lowest base latency from the client, nearest first (ties:
         * the lower Node-ID, the oracle's order). */
        env_time lat[NODE_MAX_CLIENT_PEERS];
        for (uint32_t r = 0; r < w->oracle.n; r++) {
            uint32_t q = oracle_at(&w->oracle, r)->index;
            env_time l = underlay_latency(w->underlay, p->index, q);
            if (n == want && l >= lat[n - 1])
                continue;
            unsigned at = n < want ? n++ : n - 1;
            while (at > 0 && lat[at - 1] > l) {
                lat[at] = lat[at - 1];
                list[at] = list[at - 1];
                at--;
            }
            lat[at] = l;
            list[at] = world_addr(q);
        }
    }
    for (unsigned tries = 0; n < want && tries < 4 * want && w->oracle.n > 0; tries++) {
        struct world_peer *q = world_random_joined(w, &cl->rng);
        struct env_addr a = world_addr(q->index);
        bool dup = false;
        for (unsigned i = 0; i < n && !dup; i++)
            dup = env_addr_eq(&list[i], &a);
        if (!dup || w->oracle.n < want)
            list[n++] = a;
    }
    if (n == 0) {
        cl->waits++;
        sim_schedule(w->engine, WORLD_CLIENT_RETRY, world_client_attach_ev, p);
        return;
    }
    cl->attaches++;
    node_client_connect_list(p->node, list, n);
}

static void world_client_attach_ev(void *arg)
{
    struct world_peer *p = arg;
    world_client_attach(p->w, p);
}

/* The client slots and their nodes (after the peers' and relay servers'). */
static void world_clients_init(struct world *w)
{
    if (!w->n_clients)
        return;
    struct world_clients *cl = w->cl = g_new0(struct world_clients, 1);
    cl->n = w->n_clients;
    cl->first = w->n_peers + w->n_servers;
    sim_rng_init(&cl->rng, w->sc->seed, WORLD_STREAM_CLIENTS);
    for (unsigned c = 0; c < 2; c++)
        cl->cls[c].latency = g_array_new(FALSE, FALSE, sizeof(env_time));
    w->cfg_client = w->cfg;
    w->cfg_client.client = true;
    w->cfg_client.client_keepalive = w->sc->clients.keepalive;
    for (uint32_t k = 0; k < cl->n; k++) {
        struct world_peer *p = &w->peers[cl->first + k];
        p->w = w;
        p->index = cl->first + k;
        p->id = world_named_id("client", k);
        sim_rng_init(&p->rng, w->sc->seed, p->index);
        struct env e = {.ops = &world_env_ops, .ctx = p};
        struct env_addr addr = world_addr(p->index);
        p->node = node_new(&e, &w->cfg_client, &p->id, &addr);
        p->up = true;
        sim_schedule_at(w->engine, 0, world_client_attach_ev, p);
    }
}

static void world_clients_free(struct world *w)
{
    struct world_clients *cl = w->cl;
    if (!cl)
        return;
    for (uint32_t k = 0; k < cl->n; k++)
        node_free(w->peers[cl->first + k].node);
    for (unsigned c = 0; c < 2; c++)
        g_array_unref(cl->cls[c].latency);
    g_free(cl);
    w->cl = NULL;
}

/* A workload requester among the clients (NULL: take a joined peer), drawn as the section
 * comment says. */
static struct world_peer *world_clients_pick(struct world *w, struct sim_rng *r)
{
    struct world_clients *cl = w->cl;
    if (!cl)
        return NULL;
    uint64_t u = sim_rng_below(r, (uint64_t)w->oracle.n + cl->n);
    return u < w->oracle.n ? NULL : &w->peers[cl->first + (u - w->oracle.n)];
}

/* A measured lookup or fetch of the workload completed at a requester of class c. */
static void world_clients_account(struct world *w, unsigned c, const struct env_event *ev)
{
    struct world_class_stats *s = &w->cl->cls[c];
    if (ev->type == ENV_EV_FETCH_DONE) {
        s->fetches++;
        s->found += ev->status == NODE_OK && ev->found;
        return;
    }
    s->lookups++;
    if (ev->status != NODE_OK)
        return;
    s->answered++;
    s->hops += ev->hops;
    env_time lat = ev->latency;
    g_array_append_val(s->latency, lat);
    int64_t who = world_responsible(w, &ev->key);
    s->correct += who >= 0 && id_eq(&w->peers[who].id, &ev->responder);
}

/* The core's events at a client. */
static void world_client_event(struct world *w, struct world_peer *p, const struct env_event *ev)
{
    struct world_clients *cl = w->cl;
    bool measuring = sim_now(w->engine) >= w->sc->workload.start;
    unsigned tag = (unsigned)(ev->cookie >> WORLD_TAG_SHIFT);
    switch (ev->type) {
    case ENV_EV_MSG_SENT:
        if (measuring) {
            cl->msgs_sent++;
            cl->bytes_sent += ev->bytes;
        }
        break;
    case ENV_EV_LOOKUP_DONE:
        if (measuring && tag == WORLD_TAG_LOOKUP) {
            world_on_lookup(w, ev);
            world_clients_account(w, 1, ev);
        }
        break;
    case ENV_EV_FETCH_DONE:
        if (measuring && tag == WORLD_TAG_FETCH) {
            world_on_fetch(w, ev);
            world_clients_account(w, 1, ev);
        }
        break;
    case ENV_EV_LINK_FAILED: {
        /* The core moved on to the next peer of the list; a fresh list when it is gone too. */
        cl->link_failures++;
        struct node_peer cur;
        node_client_peer(p->node, &cur);
        int64_t q = world_index_of(w, &cur.addr);
        if (q < 0 || (uint32_t)q >= w->n_peers || !w->peers[q].joined) {
            cl->reattaches++;
            world_client_attach(w, p);
        }
        break;
    }
    default:
        break;
    }
}

/* Rows of runs with clients. */
static void world_clients_rows(const struct world *w, const struct world_summary *s,
                               GArray *rows)
{
    const struct world_clients *cl = w->cl;
    static const char *const lookups[] = {"lookups_peers", "lookups_clients"};
    static const char *const success[] = {"lookup_success_peers", "lookup_success_clients"};
    static const char *const hops[] = {"hops_mean_peers", "hops_mean_clients"};
    static const char *const mean[] = {"latency_ms_mean_peers", "latency_ms_mean_clients"};
    static const char *const p50[] = {"latency_ms_p50_peers", "latency_ms_p50_clients"};
    static const char *const p95[] = {"latency_ms_p95_peers", "latency_ms_p95_clients"};
    static const char *const fetches[] = {"fetches_peers", "fetches_clients"};
    static const char *const found[] = {"fetches_found_peers", "fetches_found_clients"};
    world_row_u(rows, "clients", cl->n);
    uint64_t failovers = 0;
    for (uint32_t k = 0; k < cl->n; k++)
        failovers += node_get_stats(w->peers[cl->first + k].node)->client_failovers;
    world_row_u(rows, "client_failovers", failovers);
    world_row_u(rows, "client_reattaches", cl->reattaches);
    world_row_u(rows, "client_messages", cl->msgs_sent);
    world_row_f(rows, "client_bytes_per_client_per_s",
                s->measured_s > 0 ? (double)cl->bytes_sent / cl->n / s->measured_s : 0.0, 3);
    for (unsigned c = 0; c < 2; c++) {
        const struct world_class_stats *x = &cl->cls[c];
        GArray *lat = g_array_copy(x->latency);
        g_array_sort(lat, world_time_cmp);
        const env_time *v = (const env_time *)lat->data;
        double sum = 0;
        for (guint i = 0; i < lat->len; i++)
            sum += (double)v[i];
        world_row_u(rows, lookups[c], x->lookups);
        world_row_f(rows, success[c], x->lookups ? (double)x->correct / x->lookups : 1.0, 6);
        world_row_f(rows, hops[c], x->answered ? (double)x->hops / x->answered : 0.0, 4);
        world_row_f(rows, mean[c], lat->len ? sum / lat->len / 1000.0 : 0.0, 3);
        world_row_f(rows, p50[c], lat->len ? v[world_rank(lat->len, 50)] / 1000.0 : 0.0, 3);
        world_row_f(rows, p95[c], lat->len ? v[world_rank(lat->len, 95)] / 1000.0 : 0.0, 3);
        world_row_u(rows, fetches[c], x->fetches);
        world_row_u(rows, found[c], x->found);
        g_array_unref(lat);
    }
}

static void world_linger_end(void *arg)
{
    struct world_peer *p = arg;
    p->linger = 0;
    world_node_retire(p->w, p);
    p->node = NULL;
    world_services_drop(p->w, p);
}

/* The peer stops: out of the oracle and deaf at once.  A graceful departure runs
 * node_leave (Leave to the neighbours, data handed to the successor: those datagrams are
 * already in flight when it returns) and frees the node at the next event; a crash frees it
 * now, and datagrams still travelling to it are dropped on arrival. */
static void world_peer_stop(struct world *w, struct world_peer *p, bool graceful)
{
    if (!p->up)
        return;
    world_alive_account(w);
    w->n_alive--;
    p->up = false;
    world_bootstrap_remember(w, p);
    world_oracle_drop(w, p);
    if (w->sip)
        sipua_peer_stop(w->sip, p->index); /* its registrar and SIP users go down with it */
    if (graceful) {
        world_services_withdraw(w, p);
        node_leave(p->node);
        p->linger = sim_schedule(w->engine, 0, world_linger_end, p);
    } else {
        world_node_retire(w, p);
        p->node = NULL;
        world_services_drop(w, p);
    }
}

static void world_churn_up(void *ud, uint32_t index)
{
    struct world *w = ud;
    g_assert(index < w->n_peers);
    struct world_peer *p = &w->peers[index];
    if (p->up)
        return;
    if (p->node) { /* still lingering after a graceful leave */
        sim_cancel(w->engine, p->linger);
        world_linger_end(p);
    }
    if (w->sc->overlay.superpeer.election == SCENARIO_ELECTION_UPTIME)
        p->super = false; /* a super-peer that went down lost the role; promotion may return it */
    world_peer_start(w, p);
    world_peer_join(w, p);
}

static void world_churn_down(void *ud, uint32_t index, bool graceful)
{
    struct world *w = ud;
    g_assert(index < w->n_peers);
    world_peer_stop(w, &w->peers[index], graceful);
}

void world_peer_up(struct world *w, uint32_t index)
{
    world_churn_up(w, index);
}

void world_peer_down(struct world *w, uint32_t index, bool graceful)
{
    world_churn_down(w, index, graceful);
}

static bool world_churn_is_up(void *ud, uint32_t index)
{
    const struct world *w = ud;
    return index < w->n_peers && w->peers[index].up;
}

static void world_churn_partition(void *ud, uint32_t groups)
{
    struct world *w = ud;
    underlay_partition(w->underlay, groups);
}

/* ---- super-peer election (docs/superpeer.md, "Election") ---------------------------------- */

/* Whether peer index may be a super-peer at all: super-peers must be reachable from anywhere
 * (Yang & Garcia-Molina; draft-ietf-p2psip-concepts-00 §5.3), so a peer behind a NAT box
 * (sim/nat.h, a scenario's nat block) is excluded.  Every election rule asks this. */
static bool world_peer_eligible(const struct world *w, uint32_t index)
{
    return world_peer_public(w, index);
}

/* The smallest tier of super-peers holding share of n peers: ceil(share × n), rounding
 * errors of the product aside (0.1 × 800 is 80, not 81). */
static uint32_t world_tier_size(double share, uint32_t n)
{
    return (uint32_t)ceil(share * n - 1e-9);
}

/* Election capacity: every slot draws a capacity from overlay.superpeer.capacity (its own
 * stream, in index order); the tier_size(share, slots) eligible peers with the highest
 * capacity, ties to the lower index, are super-peers for life, except that none below
 * overlay.superpeer.min_capacity is.  FALSE when min_capacity leaves no eligible peer. */
static int world_capacity_cmp(const void *a, const void *b, void *ud)
{
    const double *cap = ud;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (cap[x] != cap[y])
        return cap[x] > cap[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static bool world_elect_capacity(struct world *w, GError **err)
{
    const struct scenario *sc = w->sc;
    struct dist d;
    if (!dist_init(&d, &sc->overlay.superpeer.capacity, err))
        return false;
    struct sim_rng r;
    sim_rng_init(&r, sc->seed, WORLD_STREAM_CAPACITY);
    w->capacity = g_new(double, w->n_peers);
    uint32_t *order = g_new(uint32_t, w->n_peers), n = 0, eligible = 0;
    for (uint32_t i = 0; i < w->n_peers; i++) {
        w->capacity[i] = (double)dist_sample(&d, &r) / 1e6;
        if (!world_peer_eligible(w, i))
            continue;
        eligible++;
        if (w->capacity[i] >= sc->overlay.superpeer.min_capacity)
            order[n++] = i;
    }
    g_qsort_with_data(order, (gint)n, sizeof *order, world_capacity_cmp, w->capacity);
    uint32_t k = MIN(n, world_tier_size(sc->overlay.superpeer.share, w->n_peers));
    for (uint32_t j = 0; j < k; j++)
        w->peers[order[j]].super = true;
    g_free(order);
    if (k == 0 && eligible > 0) { /* none public is like the random rule then: no tier */
        double max = 0;
        for (uint32_t i = 0; i < w->n_peers; i++)
            max = MAX(max, w->capacity[i]);
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                    "%s: overlay.superpeer.min_capacity: %g leaves no peer eligible as a "
                    "super-peer (the largest capacity drawn is %g)",
                    sc->file, sc->overlay.superpeer.min_capacity, max);
        return false;
    }
    return true;
}

/* Promotion: the ordinary node leaves gracefully (its super-peer and the tier are told) and
 * is freed at once, as a lingering node is when its peer comes back; a node of the same
 * Node-ID and address starts as a super-peer and joins through the protocol.  The peer stays
 * up throughout (churn's session, n_alive and up_since go on); it leaves the oracle with the
 * old node and enters it again when the new one has joined.  Requests the old node had in
 * flight are lost with it. */
static void world_promote(struct world *w, struct world_peer *p)
{
    g_assert(p->up && p->node && !p->super);
    world_oracle_drop(w, p);
    if (w->sip)
        sipua_peer_stop(w->sip, p->index); /* the new node has a new registrar */
    node_leave(p->node);
    world_node_retire(w, p);
    p->node = NULL;
    world_services_drop(w, p);
    p->super = true;
    world_node_start(w, p);
    world_peer_join(w, p);
    w->m.promotions++;
}

static int world_since_cmp(const void *a, const void *b, void *ud)
{
    const env_time *since = ud;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (since[x] != since[y])
        return since[x] < since[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Election uptime, every election_interval: while the live super-peers (joined, or joining
 * after a promotion) are fewer than share × the live peers (joined, or super-peers joining),
 * the joined ordinary peers with the longest current uptime, at least min_uptime, ties to the
 * lower index, are promoted. */
static void world_promote_round(void *arg)
{
    struct world *w = arg;
    const struct scenario *sc = w->sc;
    env_time now = sim_now(w->engine);
    uint32_t tier = 0, live = 0, n = 0;
    uint32_t *cand = g_new(uint32_t, w->n_peers);
    for (uint32_t i = 0; i < w->n_peers; i++) {
        const struct world_peer *p = &w->peers[i];
        if (!p->up || !p->node || !(p->joined || (p->super && p->join_called)))
            continue;
        live++;
        if (p->super)
            tier++;
        else if (now - w->up_since[i] >= sc->overlay.superpeer.min_uptime &&
                 world_peer_eligible(w, i))
            cand[n++] = i;
    }
    uint32_t want = world_tier_size(sc->overlay.superpeer.share, live);
    if (want > tier && n > 0) {
        g_qsort_with_data(cand, (gint)n, sizeof *cand, world_since_cmp, w->up_since);
        for (uint32_t j = 0; j < MIN(n, want - tier); j++)
            world_promote(w, &w->peers[cand[j]]);
    }
    g_free(cand);
    env_time next = now + sc->overlay.superpeer.election_interval;
    if (next <= sc->duration)
        sim_schedule_at(w->engine, next, world_promote_round, w);
}

/* ---- joining the initial peers ------------------------------------------------------------ */

static struct node_peer world_node_peer(const struct world *w, uint32_t pos)
{
    const struct world_slot *s = oracle_at(&w->oracle, pos);
    struct node_peer np = {.id = s->id, .addr = world_addr(s->index)};
    return np;
}

/* Gives the peer at oracle position pos the routing state of a stable ring: its neighbours
 * and, for i = 1..128, the successor of self + 2^(128-i) (RFC 6940 §10.3), distinct, self
 * skipped, stopping once the target falls within the successor list. */
static void world_install(struct world *w, uint32_t pos)
{
    const struct scenario *sc = w->sc;
    uint32_t n = w->oracle.n;
    uint32_t others = n - 1;
    uint32_t n_succ = MIN(sc->overlay.successors, others);
    uint32_t n_pred = MIN(sc->overlay.predecessors, others);
    struct node_peer *succ = g_newa(struct node_peer, n_succ + 1);
    struct node_peer *pred = g_newa(struct node_peer, n_pred + 1);
    struct node_peer fingers[WORLD_FINGERS_MAX];
    size_t n_fingers = 0;

    for (uint32_t i = 0; i < n_succ; i++)
        succ[i] = world_node_peer(w, (pos + 1 + i) % n);
    for (uint32_t i = 0; i < n_pred; i++)
        pred[i] = world_node_peer(w, (pos + n - 1 - i) % n);

    const struct world_slot *me = oracle_at(&w->oracle, pos);
    const struct id self = me->id;
    for (unsigned i = 1; i <= 128 && others > 0; i++) {
        struct id target = id_add_pow2(&self, 128 - i);
        if (n_succ > 0 && id_in_oc(&target, &self, &succ[n_succ - 1].id))
            break;
        uint32_t f = world_successor_pos(w, &target);
        if (f == pos)
            continue;
        struct node_peer fp = world_node_peer(w, f);
        if (n_fingers > 0 && id_eq(&fingers[n_fingers - 1].id, &fp.id))
            continue;
        fingers[n_fingers++] = fp;
    }
    struct world_peer *p = &w->peers[me->index];
    node_install_ring(p->node, pred, n_pred, succ, n_succ, fingers, n_fingers);
}

/* One-way underlay latency between the peers at oracle ranks i and j (topology_view). */
static env_time world_view_latency(void *ud, size_t i, size_t j)
{
    const struct world *w = ud;
    return underlay_latency(w->underlay, oracle_at(&w->oracle, (uint32_t)i)->index,
                            oracle_at(&w->oracle, (uint32_t)j)->index);
}

/* instant: every peer up at t = 0 joins with the stable ring the oracle describes. */
static void world_join_instant(struct world *w)
{
    struct world_slot *s = g_new(struct world_slot, w->sc->peers);
    uint32_t n = 0;
    for (uint32_t i = 0; i < w->sc->peers; i++) {
        struct world_peer *p = &w->peers[i];
        if (!p->up)
            continue;
        s[n].id = p->id;
        s[n].index = i;
        p->joined = true;
        p->join_called = true;
        n++;
    }
    qsort(s, n, sizeof *s, world_slot_cmp);
    for (uint32_t i = 1; i < n; i++)
        g_assert(!id_eq(&s[i - 1].id, &s[i].id));
    oracle_load(&w->oracle, s, n);
    for (uint32_t i = 0; i < n; i++)
        w->n_super += w->peers[s[i].index].super;
    g_free(s);
    if (w->cfg.topology == NODE_TOPOLOGY_CHORD) {
        for (uint32_t pos = 0; pos < n; pos++)
            world_install(w, pos);
        return;
    }
    /* Other topologies build their state from the whole sorted membership (topology.h),
     * with the underlay's latency for proximity neighbour selection. */
    struct node_peer *all = g_new(struct node_peer, n);
    uint8_t *super = g_new0(uint8_t, n);
    for (uint32_t pos = 0; pos < n; pos++) {
        all[pos] = world_node_peer(w, pos);
        super[pos] = w->peers[oracle_at(&w->oracle, pos)->index].super;
    }
    struct topology_view v = {.peers = all, .n = n, .latency = world_view_latency, .ud = w};
    if (w->cfg.topology == NODE_TOPOLOGY_SUPERPEER)
        v.super = super;
    for (uint32_t pos = 0; pos < n; pos++) {
        v.self = pos;
        node_install_view(w->peers[oracle_at(&w->oracle, pos)->index].node, &v);
    }
    g_free(super);
    g_free(all);
}

/* protocol: every join_interval the next of the scenario's peers joins (the first starts the
 * overlay), through a uniformly chosen peer that has already joined.  A peer that churn took
 * down before its turn, or already started, is skipped without shifting the schedule. */
static void world_join_next(void *arg)
{
    struct world *w = arg;
    struct world_peer *p = &w->peers[w->next_join++];
    if (p->up && p->node && !p->join_called)
        world_peer_join(w, p);
    if (w->next_join < w->sc->peers)
        sim_schedule(w->engine, w->sc->overlay.join_interval, world_join_next, w);
}

/* ---- the workload ------------------------------------------------------------------------- */

/* p(rank r) ∝ 1 / (r + 1)^alpha over n ranks. */
static void world_zipf_init(struct world_zipf *z, uint64_t n, double alpha)
{
    z->n = n;
    z->cdf = g_new(double, n);
    double sum = 0;
    for (uint64_t r = 0; r < n; r++) {
        sum += pow((double)(r + 1), -alpha);
        z->cdf[r] = sum;
    }
    for (uint64_t r = 0; r < n; r++)
        z->cdf[r] /= sum;
    z->cdf[n - 1] = 1.0;
}

/* The first rank whose cumulative probability exceeds a uniform draw. */
static uint64_t world_zipf_sample(const struct world_zipf *z, struct sim_rng *r)
{
    double u = sim_rng_unit(r);
    uint64_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static struct id world_pick_key(struct world *w)
{
    if (w->key_zipf.n > 0)
        return world_key_id(world_zipf_sample(&w->key_zipf, &w->wl_rng));
    if (w->n_keys > 0)
        return world_key_id(sim_rng_below(&w->wl_rng, w->n_keys));
    return world_random_id(&w->wl_rng);
}

/* The arrival rate now: for the whole system, or per live (joined) peer. */
static double world_rate(const struct world *w, double rate)
{
    if (w->sc->workload.arrivals == SCENARIO_ARRIVALS_PER_PEER)
        return rate * (w->oracle.n + w->n_clients); /* per host: clients issue their share */
    return rate;
}

static env_time world_gap(struct world *w, double rate)
{
    double mean_us = rate > 0 ? 1e6 / rate : 1e6;
    return (env_time)llround(sim_rng_exp(&w->wl_rng, mean_us));
}

static void world_lookup_next(void *arg);
static void world_lookup_wait(void *arg);

/* Schedules the next lookup arrival: Poisson at the current rate (a system-wide process
 * whose rate is re-evaluated at each arrival); while the rate is 0 (no live peer for
 * per-peer arrivals), looks again in a second. */
static void world_lookup_schedule(struct world *w)
{
    const struct scenario *sc = w->sc;
    if (sc->workload.lookups > 0 && w->m.lookups_issued >= sc->workload.lookups)
        return;
    double rate = world_rate(w, sc->workload.lookup_rate);
    if (rate <= 0)
        sim_schedule(w->engine, ENV_S, world_lookup_wait, w);
    else
        sim_schedule(w->engine, world_gap(w, rate), world_lookup_next, w);
}

static void world_lookup_wait(void *arg)
{
    world_lookup_schedule(arg);
}

/* A lookup of a key from a uniformly chosen joined peer (Stoica et al. §6.3). */
static void world_lookup_next(void *arg)
{
    struct world *w = arg;
    uint64_t seq = w->m.lookups_issued++;
    struct world_peer *p = world_random_requester(w, &w->wl_rng);
    struct id key = world_pick_key(w);
    uint64_t cookie = world_cookie(WORLD_TAG_LOOKUP, world_responsible(w, &key), seq);
    if (!p || world_lookup_start(w, p, &key, cookie) != NODE_OK) {
        w->m.lookups_completed++; /* could not even start: a failure */
        w->win.lookups++;
    }
    world_lookup_schedule(w);
}

static void world_refresh(void *arg);

static void world_store_next(void *arg)
{
    struct world *w = arg;
    const struct scenario *sc = w->sc;
    uint64_t rec = w->records_issued++;
    struct world_record *r = &w->records[rec];
    struct world_peer *p = NULL;
    if (!w->sec)
        p = world_random_joined(w, &w->wl_rng);
    else if (w->peers[r->owner].joined) /* the record's owner (docs/security.md) */
        p = &w->peers[r->owner];
    r->owner = p ? p->index : w->sec ? r->owner : WORLD_NO_PEER;
    struct node_value v = {
        .value = w->value,
        .value_len = sc->workload.value_size,
        .exists = true,
        .lifetime = sc->workload.record_lifetime,
    };
    w->m.stores++;
    if (!p || node_store(p->node, &r->res, NODE_KIND_VALUE, &v,
                         world_cookie(WORLD_TAG_STORE, -1, rec), NULL, NULL) != NODE_OK)
        w->m.stores_failed++;
    if (p && sc->workload.refresh > 0)
        sim_schedule(w->engine, sc->workload.refresh, world_refresh, r);
    if (w->records_issued < sc->workload.records) {
        /* Evenly spread over one second from workload.start. */
        env_time at = sc->workload.start + w->records_issued * ENV_S / sc->workload.records;
        sim_schedule_at(w->engine, at, world_store_next, w);
    }
}

/* The owner re-stores its record (a fresh lifetime) every workload.refresh; while the owner
 * is down or not yet joined again, that round is skipped. */
static void world_refresh(void *arg)
{
    struct world_record *r = arg;
    struct world *w = r->w;
    const struct scenario *sc = w->sc;
    struct world_peer *p = &w->peers[r->owner];
    if (p->up && p->joined) {
        struct node_value v = {
            .value = w->value,
            .value_len = sc->workload.value_size,
            .exists = true,
            .lifetime = sc->workload.record_lifetime,
        };
        uint64_t rec = (uint64_t)(r - w->records);
        w->m.refreshes++;
        if (node_store(p->node, &r->res, NODE_KIND_VALUE, &v,
                       world_cookie(WORLD_TAG_REFRESH, -1, rec), NULL, NULL) != NODE_OK)
            w->m.refreshes_failed++;
    }
    sim_schedule(w->engine, sc->workload.refresh, world_refresh, r);
}

static void world_fetch_next(void *arg);
static void world_fetch_wait(void *arg);

static void world_fetch_schedule(struct world *w)
{
    const struct scenario *sc = w->sc;
    if (w->fetches_issued >= sc->workload.fetches)
        return;
    double rate = world_rate(w, sc->workload.fetch_rate);
    if (rate <= 0)
        sim_schedule(w->engine, ENV_S, world_fetch_wait, w);
    else
        sim_schedule(w->engine, world_gap(w, rate), world_fetch_next, w);
}

static void world_fetch_wait(void *arg)
{
    world_fetch_schedule(arg);
}

/* A fetch of a record from a uniformly chosen joined peer: with uniform popularity, one of
 * the records stored successfully so far (any record when none has been yet); with Zipf,
 * record r with p ∝ 1 / (r + 1)^alpha. */
static void world_fetch_next(void *arg)
{
    struct world *w = arg;
    const struct scenario *sc = w->sc;
    uint64_t seq = w->fetches_issued++;
    struct world_peer *p = world_random_requester(w, &w->wl_rng);
    uint64_t rec;
    if (w->record_zipf.n > 0)
        rec = world_zipf_sample(&w->record_zipf, &w->wl_rng);
    else if (w->stored->len > 0)
        rec = g_array_index(w->stored, uint32_t, sim_rng_below(&w->wl_rng, w->stored->len));
    else
        rec = sim_rng_below(&w->wl_rng, MAX(sc->workload.records, 1));
    struct id res = w->records && rec < sc->workload.records ? w->records[rec].res
                                                             : world_record_id(rec);
    w->m.fetches++;
    if (!p || world_fetch_start(w, p, &res, world_cookie(WORLD_TAG_FETCH, -1, seq)) != NODE_OK)
        w->m.fetches_failed++;
    world_fetch_schedule(w);
}

/* Lookups start at workload.start (Poisson from there; lookups 0 = no limit, lookup_rate 0 =
 * none); stores are spread evenly over the first second; fetches start at workload.fetch_start
 * (by default start + 1 s, once every store has been issued). */
static void world_schedule_workload(struct world *w)
{
    const struct scenario *sc = w->sc;
    env_time start = sc->workload.start;
    /* The loader keeps fetch_start >= start; a scenario built by hand may leave it 0. */
    env_time fetch_start =
        sc->workload.fetch_start >= start ? sc->workload.fetch_start : start + ENV_S;
    bool per_peer = sc->workload.arrivals == SCENARIO_ARRIVALS_PER_PEER;
    if (sc->workload.lookup_rate > 0) {
        if (per_peer) /* the rate depends on who has joined by then */
            sim_schedule_at(w->engine, start, world_lookup_wait, w);
        else
            sim_schedule_at(w->engine, start + world_gap(w, sc->workload.lookup_rate),
                            world_lookup_next, w);
    }
    if (sc->workload.records > 0)
        sim_schedule_at(w->engine, start, world_store_next, w);
    if (sc->workload.fetches > 0 && sc->workload.fetch_rate > 0) {
        if (per_peer)
            sim_schedule_at(w->engine, fetch_start, world_fetch_wait, w);
        else
            sim_schedule_at(w->engine, fetch_start + world_gap(w, sc->workload.fetch_rate),
                            world_fetch_next, w);
    }
}

/* ---- hostile peers and security (docs/security.md) ----------------------------------------
 * hostile.fraction of the scenario's peers (chosen by their own seeded stream) run with a
 * configuration whose adversary block (core/adversary.c) the hostile.* flags set, one per
 * role (ordinary, super-peer).  security.signatures gives every node the modelled provider
 * (sim/secmodel.h) or the real one (sec/provider.h, credentials made once per run from one
 * CA) and every peer slot a credential with the user name "user<index>@sim" — hostile peers
 * included: they are insiders.  security.redundant_paths > 1 sends the workload's lookups
 * and fetches over that many paths (core/redundant.h).  Without any hostile: or security:
 * key the world is as before.
 *
 * With any of these the workload is set up so that the truth is known and a forgery can be
 * told from the genuine value: lookups, stores and fetches come from honest peers only, and
 * record i belongs to one honest peer (the i-th in index order), stored at the Resource-ID of
 * its user name, H("user<index>@sim"), under the USER-MATCH policy (RFC 6940 §7.3.1) when
 * signatures are on — the binding that lets a fetcher reject a value a hostile peer signed
 * with its own credential.  The oracle compares each fetched value with what the owner
 * stored: a different one that the fetcher accepted counts as forged_accepted. */

#define WORLD_STREAM_HOSTILE (((uint64_t)1 << 32) + 0x300)

struct world_security {
    struct secmodel *model;      /* security.signatures modelled */
    struct sec_provider *prov;   /* security.signatures real */
    struct node_kind kinds[1];   /* the workload's kind under USER-MATCH (signatures on) */
    uint32_t hostile;            /* hostile peers */
    uint64_t genuine, forged;    /* fetched values the requester accepted, by the oracle */
    struct node_stats gone;      /* counters of nodes already freed */
};

static void world_user_name(uint32_t index, char *buf, size_t size)
{
    snprintf(buf, size, "user%u@sim", index);
}

/* Real credentials: one CA, one enrollment per peer slot with its Node-ID, valid from an hour
 * before the run's virtual time 0 (which stands for the UNIX time they were made) to a day
 * after its end.  The wall clock only places that window: no decision depends on it. */
static bool world_real_credentials(struct world *w, struct world_security *s, GError **err)
{
    int64_t t0 = g_get_real_time() / G_USEC_PER_SEC;
    int64_t t1 = t0 + (int64_t)(w->sc->duration / ENV_S) + 86400;
    struct cred *ca = NULL;
    if (cred_ca_new(w->sc->overlay.name, t0 - 3600, t1, &ca) < 0) {
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                    "%s: security.signatures: real: cannot make the overlay CA", w->sc->file);
        return false;
    }
    s->prov = sec_provider_new(ca);
    sec_provider_set_epoch(s->prov, t0);
    bool ok = true;
    for (uint32_t i = 0; ok && i < w->n_peers + w->n_servers; i++) {
        char user[48];
        world_user_name(i, user, sizeof user);
        struct cred *c = NULL;
        ok = cred_enroll(ca, user, 1, &w->peers[i].id, t0 - 3600, t1, &c) == 0;
        if (ok)
            sec_provider_add(s->prov, c);
        cred_free(c);
    }
    cred_free(ca);
    if (!ok)
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                    "%s: security.signatures: real: an enrollment failed", w->sc->file);
    return ok;
}

/* Chooses the hostile peers, gives every node its provider and the kind its policy, and
 * binds the records to honest owners.  Called once the peers have their Node-IDs, before
 * the per-role configurations are copied from w->cfg. */
static bool world_security_init(struct world *w, GError **err)
{
    const struct scenario *sc = w->sc;
    if (!scenario_security_on(sc))
        return true;
    struct world_security *s = w->sec = g_new0(struct world_security, 1);
    s->hostile = (uint32_t)llround(sc->hostile.fraction * sc->peers);
    struct sim_rng r;
    sim_rng_init(&r, sc->seed, WORLD_STREAM_HOSTILE);
    for (uint32_t chosen = 0; chosen < s->hostile;) { /* distinct peers, uniformly */
        struct world_peer *p = &w->peers[sim_rng_below(&r, sc->peers)];
        if (!p->hostile) {
            p->hostile = true;
            chosen++;
        }
    }
    uint64_t rec = 0; /* the loader keeps workload.records <= the honest peers */
    for (uint32_t i = 0; i < sc->peers && rec < sc->workload.records; i++) {
        if (w->peers[i].hostile)
            continue;
        char user[48];
        world_user_name(i, user, sizeof user);
        w->records[rec].owner = i;
        w->records[rec].res = id_hash(user, strlen(user));
        rec++;
    }
    if (sc->security.signatures == SCENARIO_SIGNATURES_MODELLED) {
        s->model = secmodel_new(sc->seed);
        secmodel_set_costs(s->model, (uint32_t)MIN(sc->security.sign_cost, UINT32_MAX),
                           (uint32_t)MIN(sc->security.verify_cost, UINT32_MAX));
        for (uint32_t i = 0; i < w->n_peers + w->n_servers; i++) {
            char user[48];
            world_user_name(i, user, sizeof user);
            secmodel_enroll(s->model, &w->peers[i].id, user);
        }
        w->cfg.security.ops = secmodel_ops();
        w->cfg.security.ud = s->model;
    } else if (sc->security.signatures == SCENARIO_SIGNATURES_REAL) {
        if (!world_real_credentials(w, s, err))
            return false;
        w->cfg.security.ops = sec_provider_ops();
        w->cfg.security.ud = s->prov;
    }
    if (w->cfg.security.ops && !w->cfg.kinds) {
        const struct node_kind *def = node_kind_find(NULL, NODE_KIND_VALUE);
        s->kinds[0] = *def;
        s->kinds[0].access = NODE_ACCESS_USER_MATCH;
        w->cfg.kinds = s->kinds;
        w->cfg.n_kinds = 1;
    }
    return true;
}

/* The hostile peers' configurations: the honest ones' plus the adversary block. */
static void world_security_roles(struct world *w)
{
    const struct scenario *sc = w->sc;
    struct node_adversary a = {
        .drop = sc->hostile.drop,
        .misroute = sc->hostile.misroute,
        .forge = sc->hostile.forge,
        .refuse_store = (uint8_t)sc->hostile.refuse_store, /* the same order */
    };
    G_STATIC_ASSERT((int)SCENARIO_REFUSE_ERROR == (int)NODE_REFUSE_ERROR &&
                    (int)SCENARIO_REFUSE_SILENT == (int)NODE_REFUSE_SILENT);
    a.active = a.drop || a.misroute || a.forge || a.refuse_store != NODE_REFUSE_NONE;
    w->cfg_hostile = w->cfg;
    w->cfg_hostile.adversary = a;
    w->cfg_hostile_super = w->cfg_super;
    w->cfg_hostile_super.adversary = a;
}

static void world_security_add(struct node_stats *sum, const struct node_stats *s)
{
    sum->dropped_signature += s->dropped_signature;
    sum->refused_join += s->refused_join;
    sum->refused_store += s->refused_store;
    sum->rejected_values += s->rejected_values;
}

/* Frees peer p's node, keeping its security counters. */
static void world_node_retire(struct world *w, struct world_peer *p)
{
    if (w->sec && p->node)
        world_security_add(&w->sec->gone, node_get_stats(p->node));
    node_free(p->node);
}

static void world_security_free(struct world *w)
{
    if (!w->sec)
        return;
    secmodel_free(w->sec->model);
    sec_provider_free(w->sec->prov);
    g_free(w->sec);
}

/* A joined honest peer, uniformly (a workload requester or owner); NULL when none. */
static struct world_peer *world_random_requester(struct world *w, struct sim_rng *r)
{
    struct world_peer *c = world_clients_pick(w, r); /* docs/clients.md */
    if (c)
        return c;
    struct world_peer *p = world_random_joined(w, r);
    for (unsigned tries = 0; w->sec && p && p->hostile && tries < 1000; tries++)
        p = world_random_joined(w, r);
    return p && !p->hostile ? p : NULL;
}

/* The requester's fetch callback: the oracle's verdict on what it accepted. */
static void world_fetch_checked(void *ud, int status, const struct wire_fetch_ans *ans)
{
    struct world *w = ud;
    if (status != NODE_OK || !ans || sim_now(w->engine) < w->sc->workload.start)
        return;
    bool forged = false;
    for (uint32_t k = 0; k < ans->n_kinds; k++)
        for (uint32_t v = 0; v < ans->kinds[k].n_values; v++) {
            const struct wire_stored_data *d = &ans->kinds[k].values[v];
            if (d->exists && (d->value.len != w->sc->workload.value_size ||
                              memcmp(d->value.p, w->value, d->value.len) != 0))
                forged = true;
        }
    if (forged)
        w->sec->forged++;
    else
        w->sec->genuine++;
}

static int world_lookup_start(struct world *w, struct world_peer *p, const struct id *key,
                              uint64_t cookie)
{
    if (w->sec)
        return redundant_lookup(p->node, key, w->sc->security.redundant_paths, cookie);
    return node_lookup(p->node, key, cookie);
}

static int world_fetch_start(struct world *w, struct world_peer *p, const struct id *res,
                             uint64_t cookie)
{
    if (w->sec)
        return redundant_fetch(p->node, res, NODE_KIND_VALUE, w->sc->security.redundant_paths,
                               cookie, world_fetch_checked, w);
    return node_fetch(p->node, res, NODE_KIND_VALUE, cookie, NULL, NULL);
}

static void world_security_rows(const struct world *w, const struct world_summary *sm,
                                GArray *rows)
{
    const struct world_security *s = w->sec;
    struct node_stats sum = s->gone;
    for (uint32_t i = 0; i < w->n_peers + w->n_servers; i++)
        if (w->peers[i].node)
            world_security_add(&sum, node_get_stats(w->peers[i].node));
    world_row_u(rows, "hostile_peers", s->hostile);
    world_row_u(rows, "redundant_paths", w->sc->security.redundant_paths);
    world_row_f(rows, "fetch_success", sm->fetches ? (double)s->genuine / (double)sm->fetches : 1,
                4);
    world_row_u(rows, "fetches_genuine", s->genuine);
    world_row_u(rows, "forged_accepted", s->forged);
    world_row_u(rows, "forged_rejected", sum.rejected_values);
    world_row_u(rows, "dropped_signature", sum.dropped_signature);
    world_row_u(rows, "refused_join", sum.refused_join);
    world_row_u(rows, "refused_store", sum.refused_store);
    /* The modelled provider's operations and CPU time (0 in the other modes, so that every
     * run of a sweep has the same rows). */
    const struct secmodel_stats *ms = s->model ? secmodel_get_stats(s->model) : NULL;
    world_row_u(rows, "signatures", ms ? ms->signs : 0);
    world_row_u(rows, "verifications", ms ? ms->verifies : 0);
    world_row_f(rows, "crypto_cpu_s", ms ? (double)ms->cpu_us / 1e6 : 0, 3);
}

/* ---- services (core/service.h, docs/services.md) ------------------------------------------ */

/* A peer offering one service of services.list. */
struct world_provider {
    struct world *w;
    uint32_t peer;
    uint32_t service; /* index in services.list */
    uint32_t in_use;  /* selections holding it now: the load it advertises */
};

struct world_services {
    const struct service_policy *policy;
    struct service_config cfg;
    struct world_provider *prov; /* sorted by (peer, service) */
    uint32_t n_prov;
    uint32_t *by_id;        /* indexes into prov, sorted by (Node-ID, service) */
    struct service **agent; /* per peer slot: its node's agent, NULL while none is needed */
    struct sim_rng rng;     /* lookups: who asks, for which service */
    double weight_sum;
    struct service_stats gone; /* counters of agents already freed */
    uint64_t lookups, completed, answered, found_live, not_found, failed;
    uint64_t returned, stale, selected_stale, over_capacity;
    GArray *latency; /* env_time per answered lookup */
};

static int world_provider_cmp(const void *a, const void *b)
{
    const struct world_provider *x = a, *y = b;
    if (x->peer != y->peer)
        return x->peer < y->peer ? -1 : 1;
    return x->service < y->service ? -1 : x->service > y->service;
}

static int world_provider_id_cmp(const void *a, const void *b, void *ud)
{
    const struct world *w = ud;
    const struct world_provider *x = &w->svc->prov[*(const uint32_t *)a];
    const struct world_provider *y = &w->svc->prov[*(const uint32_t *)b];
    int c = id_cmp(&w->peers[x->peer].id, &w->peers[y->peer].id);
    if (c)
        return c;
    return x->service < y->service ? -1 : x->service > y->service;
}

static const struct scenario_service *world_service(const struct world *w, uint32_t i)
{
    return &g_array_index(w->sc->services.list, struct scenario_service, i);
}

/* The provider entry of (Node-ID, service name), or NULL when no peer advertises that. */
static struct world_provider *world_provider_of(const struct world *w, const struct id *id,
                                                const char *name)
{
    struct world_services *v = w->svc;
    uint32_t service = UINT32_MAX;
    for (uint32_t i = 0; i < w->sc->services.list->len && service == UINT32_MAX; i++)
        if (strcmp(world_service(w, i)->name, name) == 0)
            service = i;
    uint32_t lo = 0, hi = v->n_prov;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct world_provider *q = &v->prov[v->by_id[mid]];
        int c = id_cmp(&w->peers[q->peer].id, id);
        if (c < 0 || (c == 0 && q->service < service))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == v->n_prov)
        return NULL;
    struct world_provider *q = &v->prov[v->by_id[lo]];
    return id_eq(&w->peers[q->peer].id, id) && q->service == service ? q : NULL;
}

/* The agent of a peer's current node, created when first needed. */
static struct service *world_agent(struct world *w, struct world_peer *p)
{
    struct service **a = &w->svc->agent[p->index];
    if (!*a) {
        struct env e = {.ops = &world_env_ops, .ctx = p};
        *a = service_new(&e, p->node, &w->svc->cfg);
    }
    return *a;
}

static void world_stats_add(struct service_stats *to, const struct service_stats *s)
{
    to->stores += s->stores;
    to->stores_ok += s->stores_ok;
    to->stores_failed += s->stores_failed;
    to->withdraws += s->withdraws;
    to->records_skipped += s->records_skipped;
}

/* The peer's node has been freed: so is its agent (pending requests included). */
static void world_services_drop(struct world *w, struct world_peer *p)
{
    if (!w->svc || !w->svc->agent[p->index])
        return;
    world_stats_add(&w->svc->gone, service_get_stats(w->svc->agent[p->index]));
    service_free(w->svc->agent[p->index]);
    w->svc->agent[p->index] = NULL;
}

/* The first provider entry of peer index (entries are sorted by peer). */
static uint32_t world_provider_first(const struct world_services *v, uint32_t index)
{
    uint32_t lo = 0, hi = v->n_prov;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v->prov[mid].peer < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A provider that has joined advertises what it offers, with its current load, at its own
 * address (a host candidate); run as an event of its own, after the join has completed. */
static void world_services_advertise(void *arg)
{
    struct world_peer *p = arg;
    struct world *w = p->w;
    struct world_services *v = w->svc;
    if (!p->up || !p->joined || !p->node)
        return;
    struct env_addr addr = world_addr(p->index);
    for (uint32_t i = world_provider_first(v, p->index);
         i < v->n_prov && v->prov[i].peer == p->index; i++) {
        const struct scenario_service *e = world_service(w, v->prov[i].service);
        service_advertise(world_agent(w, p), e->name, &addr, WIRE_CAND_HOST, e->capacity,
                          v->prov[i].in_use);
    }
}

static void world_services_joined(struct world *w, struct world_peer *p)
{
    uint32_t i = world_provider_first(w->svc, p->index);
    if (i < w->svc->n_prov && w->svc->prov[i].peer == p->index)
        sim_schedule(w->engine, 0, world_services_advertise, p);
}

/* A provider leaving gracefully withdraws its records before it Leaves. */
static void world_services_withdraw(struct world *w, struct world_peer *p)
{
    struct world_services *v = w->svc;
    if (!v || !v->agent[p->index])
        return;
    for (uint32_t i = world_provider_first(v, p->index);
         i < v->n_prov && v->prov[i].peer == p->index; i++)
        service_withdraw(v->agent[p->index], world_service(w, v->prov[i].service)->name);
}

/* The provider's load changed: a live provider advertises it (rate-limited by the agent). */
static void world_provider_load(struct world_provider *q)
{
    struct world *w = q->w;
    struct service *a = w->svc->agent[q->peer];
    if (a)
        service_set_load(a, world_service(w, q->service)->name, q->in_use);
}

static void world_services_release(void *arg)
{
    struct world_provider *q = arg;
    q->in_use--;
    world_provider_load(q);
}

/* A lookup's answer: count the providers returned and those whose peer is down (stale), rank
 * them with the policy, and let the looker use the first for services.hold. */
static void world_services_found(void *ud, int status, struct service_record *list, size_t n,
                                 size_t skipped, env_time latency)
{
    struct world_peer *p = ud;
    struct world *w = p->w;
    struct world_services *v = w->svc;
    v->completed++;
    if (status != NODE_OK && status != NODE_E_NOT_FOUND) {
        v->failed++;
        return;
    }
    v->answered++;
    g_array_append_val(v->latency, latency);
    if (status == NODE_E_NOT_FOUND) {
        v->not_found++;
        return;
    }
    uint64_t live = 0;
    for (size_t i = 0; i < n; i++) {
        const struct world_provider *q = world_provider_of(w, &list[i].provider, list[i].name);
        bool up = q && w->peers[q->peer].up && w->peers[q->peer].joined;
        live += up;
    }
    v->returned += n;
    v->stale += n - live;
    if (live > 0)
        v->found_live++;
    struct env e = {.ops = &world_env_ops, .ctx = p};
    service_rank(v->policy, p->node, &e, list, n);
    struct world_provider *q = world_provider_of(w, &list[0].provider, list[0].name);
    if (!q || !w->peers[q->peer].up || !w->peers[q->peer].joined) {
        v->selected_stale++;
        return;
    }
    if (w->sc->services.hold == 0)
        return;
    if (q->in_use >= world_service(w, q->service)->capacity)
        v->over_capacity++;
    q->in_use++;
    world_provider_load(q);
    sim_schedule(w->engine, w->sc->services.hold, world_services_release, q);
}

static void world_services_lookup_next(void *arg);
static void world_services_wait(void *arg);

/* The next lookup arrival: Poisson at services.lookup_rate, for the whole system or per
 * joined peer (re-evaluated at each arrival); while that is 0, looks again in a second. */
static void world_services_schedule(struct world *w)
{
    const struct scenario *sc = w->sc;
    double rate = sc->services.lookup_rate;
    if (sc->services.arrivals == SCENARIO_ARRIVALS_PER_PEER)
        rate *= w->oracle.n;
    if (rate <= 0 || w->svc->weight_sum <= 0)
        sim_schedule(w->engine, ENV_S, world_services_wait, w);
    else
        sim_schedule(w->engine, (env_time)llround(sim_rng_exp(&w->svc->rng, 1e6 / rate)),
                     world_services_lookup_next, w);
}

static void world_services_wait(void *arg)
{
    world_services_schedule(arg);
}

/* A uniformly chosen joined peer looks up a service chosen by weight. */
static void world_services_lookup_next(void *arg)
{
    struct world *w = arg;
    struct world_services *v = w->svc;
    const GArray *list = w->sc->services.list;
    v->lookups++;
    struct world_peer *p = world_random_joined(w, &v->rng);
    double x = sim_rng_unit(&v->rng) * v->weight_sum;
    uint32_t s = 0;
    while (s + 1 < list->len && x >= world_service(w, s)->weight) {
        x -= world_service(w, s)->weight;
        s++;
    }
    if (!p || service_find(world_agent(w, p), world_service(w, s)->name, world_services_found,
                           p) != NODE_OK) {
        v->completed++; /* could not even start: a failure */
        v->failed++;
    }
    world_services_schedule(w);
}

/* With a services block: every entry's providers, round(share x peers) of the scenario's peers
 * (at least one when share > 0) drawn without replacement from the entry's own stream; lookups
 * from workload.start. */
static void world_services_init(struct world *w)
{
    const struct scenario *sc = w->sc;
    const GArray *list = sc->services.list;
    if (!list || list->len == 0)
        return;
    struct world_services *v = g_new0(struct world_services, 1);
    w->svc = v;
    v->policy = service_policy_by_name(sc->services.policy);
    g_assert(v->policy); /* the loader accepts only these names */
    service_config_default(&v->cfg);
    v->cfg.lifetime = (uint32_t)(sc->services.lifetime / ENV_S);
    v->agent = g_new0(struct service *, w->n_peers);
    v->latency = g_array_new(FALSE, FALSE, sizeof(env_time));
    sim_rng_init(&v->rng, sc->seed, WORLD_STREAM_SERVICES);
    GArray *prov = g_array_new(FALSE, FALSE, sizeof(struct world_provider));
    uint32_t *pool = g_new(uint32_t, sc->peers);
    for (uint32_t s = 0; s < list->len; s++) {
        const struct scenario_service *e = world_service(w, s);
        v->weight_sum += e->weight;
        uint32_t k = (uint32_t)llround(e->share * sc->peers);
        if (e->share > 0 && k == 0)
            k = 1;
        struct sim_rng r;
        sim_rng_init(&r, sc->seed, WORLD_STREAM_SERVICES + 1 + s);
        for (uint32_t i = 0; i < sc->peers; i++)
            pool[i] = i;
        for (uint32_t i = 0; i < k; i++) { /* a partial Fisher-Yates shuffle */
            uint32_t j = i + (uint32_t)sim_rng_below(&r, sc->peers - i);
            uint32_t t = pool[i];
            pool[i] = pool[j];
            pool[j] = t;
            struct world_provider q = {.w = w, .peer = pool[i], .service = s};
            g_array_append_val(prov, q);
        }
    }
    g_free(pool);
    qsort(prov->data, prov->len, sizeof(struct world_provider), world_provider_cmp);
    v->n_prov = prov->len;
    v->prov = (struct world_provider *)(void *)g_array_free(prov, FALSE);
    v->by_id = g_new(uint32_t, v->n_prov ? v->n_prov : 1);
    for (uint32_t i = 0; i < v->n_prov; i++)
        v->by_id[i] = i;
    g_qsort_with_data(v->by_id, (gint)v->n_prov, sizeof *v->by_id, world_provider_id_cmp, w);
    if (sc->services.lookup_rate > 0)
        sim_schedule_at(w->engine, sc->workload.start, world_services_wait, w);
}

/* After every node (and so every agent) is gone. */
static void world_services_free(struct world *w)
{
    struct world_services *v = w->svc;
    if (!v)
        return;
    g_free(v->agent);
    g_free(v->prov);
    g_free(v->by_id);
    g_array_unref(v->latency);
    g_free(v);
    w->svc = NULL;
}

/* ---- records lost, the time series, graph snapshots --------------------------------------- */

/* Whether a live peer holds the record: the responsible peer, its replica successors and a
 * few more are asked (not every peer: records live on the responsible peer's side). */
static bool world_record_held(const struct world *w, const struct id *res)
{
    uint32_t n = w->oracle.n;
    if (n == 0)
        return false;
    uint32_t pos = world_responsible_pos(w, res);
    uint32_t probes = MIN(n, w->sc->overlay.replicas + 1 + WORLD_LOST_PROBE_EXTRA);
    for (uint32_t i = 0; i < probes; i++) {
        const struct world_slot *s = oracle_at(&w->oracle, (pos + i) % n);
        const struct node *node = w->peers[s->index].node;
        if (node && node_holds(node, res, NODE_KIND_VALUE))
            return true;
    }
    return false;
}

uint64_t world_records_lost(const struct world *w)
{
    env_time now = sim_now(w->engine);
    uint64_t lost = 0;
    for (uint64_t i = 0; i < w->records_issued; i++) {
        const struct world_record *r = &w->records[i];
        if (r->stored && now < r->expires && !world_record_held(w, &r->res))
            lost++;
    }
    return lost;
}

static void world_tick(void *arg)
{
    struct world *w = arg;
    env_time now = sim_now(w->engine);
    world_alive_account(w);
    uint64_t alive_us = w->alive_us - w->alive_us_tick;
    w->alive_us_tick = w->alive_us;
    const struct world_window *win = &w->win;
    struct world_sample s = {
        .t = now,
        .alive = w->n_alive,
        .joined = w->oracle.n,
        .lookups = win->lookups,
        .lookups_correct = win->correct,
        .answered = win->answered,
        .records_lost = world_records_lost(w),
        .super_peers = w->n_super,
    };
    if (win->answered > 0) {
        s.hops_mean = (double)win->hops / (double)win->answered;
        s.latency_ms_mean = (double)win->latency_us / (double)win->answered / 1000.0;
    }
    if (alive_us > 0)
        s.bytes_per_peer_per_s = (double)win->bytes / ((double)alive_us / ENV_S);
    g_array_append_val(w->series, s);
    memset(&w->win, 0, sizeof w->win);
    if (w->sip)
        sipua_tick(w->sip);
    env_time next = now + w->sc->metrics.interval;
    if (next <= w->sc->duration)
        sim_schedule_at(w->engine, next, world_tick, w);
}

/* Every live peer's routing table as edges (peer index -> peer index), analysed and written
 * by graph_snapshot as DIR/graph-t<seconds>.graphml plus rows of graph.tsv and degree.tsv. */
static void world_snapshot(void *arg)
{
    struct world *w = arg;
    env_time now = sim_now(w->engine);
    w->next_snapshot++;
    size_t max = w->sc->overlay.successors + w->sc->overlay.predecessors + WORLD_FINGERS_MAX;
    struct node_peer *rt = g_new(struct node_peer, max);
    uint8_t *alive = g_new0(uint8_t, w->n_peers);
    GArray *from = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    GArray *to = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    for (uint32_t i = 0; i < w->n_peers; i++) {
        const struct world_peer *p = &w->peers[i];
        if (!p->up || !p->node)
            continue;
        alive[i] = 1;
        size_t k = node_routing_table(p->node, rt, max);
        for (size_t e = 0; e < k; e++) {
            int64_t j = world_peer_at(w, &rt[e].addr);
            if (j < 0 || (uint32_t)j == i)
                continue;
            uint32_t dst = (uint32_t)j;
            g_array_append_val(from, i);
            g_array_append_val(to, dst);
        }
    }
    struct graph_edges g = {
        .n_vertices = w->n_peers,
        .alive = alive,
        .n_edges = from->len,
        .from = (const uint32_t *)from->data,
        .to = (const uint32_t *)to->data,
    };
    char tag[48];
    if (now % ENV_S == 0)
        g_snprintf(tag, sizeof tag, "t%llu", (unsigned long long)(now / ENV_S));
    else
        g_snprintf(tag, sizeof tag, "t%.3f", (double)now / ENV_S);
    double hops = w->m.hops->len ? (double)w->m.hops_sum / w->m.hops->len : -1.0;
    struct graph_metrics gm;
    GError *err = NULL;
    if (graph_snapshot(w->out_dir ? w->out_dir : ".", tag, (double)now / ENV_S, &g, hops,
                       WORLD_GRAPH_SOURCES, w->sc->seed, &gm, &err))
        w->m.snapshots++;
    else if (!w->snapshot_error)
        w->snapshot_error = err;
    else
        g_error_free(err);
    g_array_unref(from);
    g_array_unref(to);
    g_free(alive);
    g_free(rt);
}

static void world_schedule_metrics(struct world *w)
{
    const struct scenario *sc = w->sc;
    if (sc->metrics.interval > 0 && sc->metrics.interval <= sc->duration)
        sim_schedule_at(w->engine, sc->metrics.interval, world_tick, w);
    w->snapshot_times = g_array_new(FALSE, FALSE, sizeof(env_time));
    if (sc->metrics.snapshots)
        for (guint i = 0; i < sc->metrics.snapshots->len; i++) {
            env_time t = g_array_index(sc->metrics.snapshots, env_time, i);
            if (t <= sc->duration)
                g_array_append_val(w->snapshot_times, t);
        }
    if (w->snapshot_times->len > 1)
        qsort(w->snapshot_times->data, w->snapshot_times->len, sizeof(env_time), world_time_cmp);
    for (guint i = 0; i < w->snapshot_times->len; i++)
        sim_schedule_at(w->engine, g_array_index(w->snapshot_times, env_time, i), world_snapshot,
                        w);
}

/* ---- building and running ----------------------------------------------------------------- */

static bool world_churn_active(const struct scenario *sc)
{
    return sc->churn.model != SCENARIO_CHURN_NONE || (sc->churn.events && sc->churn.events->len);
}

static void world_config(struct world *w)
{
    const struct scenario *sc = w->sc;
    node_config_default(&w->cfg);
    /* overlay.config: the document's kinds and sequence (its other values reached the
     * scenario's keys as defaults, and the keys below win). */
    if (sc->overlay.doc)
        config_apply(sc->overlay.doc, &w->cfg);
    w->cfg.overlay = id_overlay_hash(sc->overlay.name);
    w->cfg.successors = sc->overlay.successors;
    w->cfg.predecessors = sc->overlay.predecessors;
    w->cfg.replicas = sc->overlay.replicas;
    w->cfg.update_interval = sc->overlay.update_interval;
    w->cfg.ping_interval = sc->overlay.ping_interval;
    w->cfg.reactive = sc->overlay.reactive;
    w->cfg.reliability_timer = sc->overlay.reliability_timer;
    if (g_strcmp0(sc->overlay.topology, "bamboo") == 0)
        w->cfg.topology = NODE_TOPOLOGY_BAMBOO;
    else if (g_strcmp0(sc->overlay.topology, "superpeer") == 0)
        w->cfg.topology = NODE_TOPOLOGY_SUPERPEER;
    w->cfg.superpeer.replicas = sc->overlay.replicas;
    w->cfg.superpeer.keepalive = sc->overlay.superpeer.keepalive;
    w->cfg.bamboo.digit_bits = sc->overlay.bamboo.digit_bits;
    w->cfg.bamboo.leaf_set = sc->overlay.bamboo.leaf_set;
    w->cfg.bamboo.leafset_interval = sc->overlay.bamboo.leafset_interval;
    w->cfg.bamboo.table_interval = sc->overlay.bamboo.table_interval;
    w->cfg.bamboo.reactive = sc->overlay.bamboo.reactive;
    w->cfg.bamboo.pns = sc->overlay.bamboo.pns;
    if (w->cfg.max_value_size < sc->workload.value_size)
        w->cfg.max_value_size = sc->workload.value_size;
    /* Under churn the overlay's configuration lists bootstrap peers (RFC 6940 §11.4): the
     * first few of the scenario's peers.  Partition detection (§10.7.4.4) pings through them,
     * which is how two rings that grew apart during a partition find each other after it
     * heals.  Without churn nothing splits the ring, and a node keeps only the peer it joined
     * through (node_join's default). */
    if (world_churn_active(sc)) {
        w->cfg.n_bootstraps = MIN(NODE_MAX_BOOTSTRAPS, sc->peers);
        for (unsigned i = 0; i < w->cfg.n_bootstraps; i++)
            w->cfg.bootstraps[i] = world_addr(i);
    }
}

static bool world_check(const struct scenario *sc, GError **err)
{
    if (g_strcmp0(sc->overlay.topology, "chord") != 0 &&
        g_strcmp0(sc->overlay.topology, "bamboo") != 0 &&
        g_strcmp0(sc->overlay.topology, "superpeer") != 0) {
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                    "%s: overlay.topology: '%s' is not simulated (chord, bamboo, superpeer)",
                    sc->file, sc->overlay.topology);
        return false;
    }
    if (sc->peers < 1 || sc->peers > WORLD_MAX_PEERS) {
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                    "%s: peers: %u is out of range (1..%u, one 10.0.0.0/8 address each)", sc->file,
                    sc->peers, WORLD_MAX_PEERS);
        return false;
    }
    uint64_t keys =
        sc->workload.keys ? sc->workload.keys : sc->workload.keys_per_peer * (uint64_t)sc->peers;
    if (sc->workload.popularity == SCENARIO_POPULARITY_ZIPF && keys == 0) {
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                    "%s: workload.popularity: zipf needs a key population (workload.keys or "
                    "workload.keys_per_peer > 0)",
                    sc->file);
        return false;
    }
    if (sc->workload.popularity == SCENARIO_POPULARITY_ZIPF && !(sc->workload.zipf_alpha >= 0)) {
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                    "%s: workload.zipf_alpha: %g must be >= 0", sc->file, sc->workload.zipf_alpha);
        return false;
    }
    if (sc->workload.records >= WORLD_SEQ_MASK) {
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                    "%s: workload.records: %llu is too many", sc->file,
                    (unsigned long long)sc->workload.records);
        return false;
    }
    return true;
}

/* Churn first (it decides how many peer slots flash crowds need), then the underlay for that
 * many peers. */
static bool world_models(struct world *w, GError **err)
{
    const struct scenario *sc = w->sc;
    w->n_peers = sc->peers;
    if (world_churn_active(sc)) {
        struct churn_hooks hooks = {
            .ud = w,
            .up = world_churn_up,
            .down = world_churn_down,
            .is_up = world_churn_is_up,
            .partition = world_churn_partition,
        };
        w->churn = churn_new(sc, w->engine, sc->peers, &hooks, sc->seed, err);
        if (!w->churn)
            return false;
        uint32_t max = churn_max_peers(w->churn);
        if (max > WORLD_MAX_PEERS) {
            g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                        "%s: churn.events: flash crowds bring the peers to %u, more than %u "
                        "(one 10.0.0.0/8 address each)",
                        sc->file, max, WORLD_MAX_PEERS);
            return false;
        }
        w->n_peers = MAX(max, sc->peers);
    }
    if (nat_in_scenario(sc))
        w->n_servers = sc->nat.relay_servers; /* hosts after the peers (world_ice_init) */
    w->n_clients = world_clients_count(sc);
    if ((uint64_t)w->n_peers + w->n_servers + w->n_clients > WORLD_MAX_PEERS) {
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                    "%s: clients.fraction: %u clients and %u peers are more than %u hosts (one "
                    "10.0.0.0/8 address each)",
                    sc->file, w->n_clients, w->n_peers, WORLD_MAX_PEERS);
        return false;
    }
    w->underlay = underlay_new(sc, w->n_peers + w->n_servers + w->n_clients, sc->seed, err);
    if (!w->underlay)
        return false;
    if (nat_in_scenario(sc))
        w->nat = nat_from_scenario(sc, w->n_peers, sc->seed, err);
    return !nat_in_scenario(sc) || w->nat;
}

static bool world_open_pcap(struct world *w, const struct world_options *opt, GError **err)
{
    const struct scenario *sc = w->sc;
    char *path = NULL;
    if (opt && opt->pcap_path && opt->pcap_path[0])
        path = g_strdup(opt->pcap_path);
    else if (sc->output.pcap && sc->output.pcap[0])
        path = g_build_filename(w->out_dir ? w->out_dir : ".", sc->output.pcap, NULL);
    if (!path)
        return true;
    w->pcap = pcap_open(path, err);
    g_free(path);
    return w->pcap != NULL;
}

static void world_workload_init(struct world *w)
{
    const struct scenario *sc = w->sc;
    sim_rng_init(&w->join_rng, sc->seed, WORLD_STREAM_JOIN);
    sim_rng_init(&w->wl_rng, sc->seed, WORLD_STREAM_WORKLOAD);
    w->n_keys =
        sc->workload.keys ? sc->workload.keys : sc->workload.keys_per_peer * (uint64_t)sc->peers;
    if (sc->workload.popularity == SCENARIO_POPULARITY_ZIPF) {
        world_zipf_init(&w->key_zipf, w->n_keys, sc->workload.zipf_alpha);
        if (sc->workload.records > 0)
            world_zipf_init(&w->record_zipf, sc->workload.records, sc->workload.zipf_alpha);
    }
    w->value = g_malloc(MAX(sc->workload.value_size, 1));
    for (uint32_t i = 0; i < sc->workload.value_size; i++)
        w->value[i] = (uint8_t)('a' + i % 26);
    w->records = g_new0(struct world_record, sc->workload.records);
    for (uint64_t i = 0; i < sc->workload.records; i++) {
        w->records[i].w = w;
        w->records[i].res = world_record_id(i);
        w->records[i].owner = WORLD_NO_PEER;
    }
}

/* Every slot gets its Node-ID now (drawn in index order from the id stream, so the scenario's
 * peers have the same ids with or without flash crowds) and, for the super-peer topology, its
 * role; the peers up at time 0 get a node.  FALSE when the election finds no super-peer. */
static bool world_peers_init(struct world *w, GError **err)
{
    const struct scenario *sc = w->sc;
    w->peers = g_new0(struct world_peer, w->n_peers + w->n_servers + w->n_clients);
    w->first_joiner = -1;
    struct sim_rng ids;
    sim_rng_init(&ids, sc->seed, WORLD_STREAM_IDS);
    for (uint32_t i = 0; i < w->n_peers; i++) {
        struct world_peer *p = &w->peers[i];
        p->w = w;
        p->index = i;
        p->id = world_random_id(&ids);
        sim_rng_init(&p->rng, sc->seed, i);
    }
    if (w->cfg.topology == NODE_TOPOLOGY_SUPERPEER) {
        /* Election (random, and uptime's initial tier): each peer is a super-peer with
         * probability overlay.superpeer.share, peer 0 always (if eligible); capacity: the
         * share with the highest capacity.  The first few super-peers are every node's
         * bootstrap peers. */
        enum scenario_election rule = sc->overlay.superpeer.election;
        if (rule == SCENARIO_ELECTION_CAPACITY) {
            if (!world_elect_capacity(w, err))
                return false;
        } else {
            struct sim_rng el;
            sim_rng_init(&el, sc->seed, WORLD_STREAM_ELECTION);
            for (uint32_t i = 0; i < w->n_peers; i++)
                w->peers[i].super = (i == 0 || sim_rng_unit(&el) < sc->overlay.superpeer.share) &&
                                    world_peer_eligible(w, i);
        }
        if (rule == SCENARIO_ELECTION_UPTIME)
            w->up_since = g_new0(env_time, w->n_peers);
        w->cfg.n_bootstraps = 0;
        for (uint32_t i = 0; i < w->n_peers; i++)
            if (w->peers[i].super && w->cfg.n_bootstraps < NODE_MAX_BOOTSTRAPS)
                w->cfg.bootstraps[w->cfg.n_bootstraps++] = world_addr(i);
    }
    for (uint32_t k = 0; k < w->n_servers; k++) { /* relay servers: never join */
        struct world_peer *p = &w->peers[w->n_peers + k];
        p->w = w;
        p->index = w->n_peers + k;
        p->id = world_named_id("relay-server", k);
        sim_rng_init(&p->rng, sc->seed, p->index);
    }
    world_ice_init(w);
    world_bootstrap_init(w);
    if (!world_security_init(w, err))
        return false;
    w->cfg_super = w->cfg;
    w->cfg_super.superpeer.is_super = true;
    world_security_roles(w);
    for (uint32_t k = 0; w->ice && k < w->n_servers; k++) {
        struct world_peer *p = &w->peers[w->n_peers + k];
        struct env e = {.ops = &world_env_ops, .ctx = p};
        struct env_addr addr = world_addr(p->index);
        p->node = node_new(&e, &w->cfg, &p->id, &addr);
        p->up = true;
    }
    for (uint32_t i = 0; i < sc->peers; i++)
        if (!w->churn || churn_initially_up(w->churn, i))
            world_peer_start(w, &w->peers[i]);
    world_clients_init(w);
    return true;
}

struct world *world_new(const struct scenario *sc, const struct world_options *opt, GError **err)
{
    if (!world_check(sc, err))
        return NULL;
    struct world *w = g_new0(struct world, 1);
    w->sc = sc;
    w->verbose = opt && opt->verbose;
    w->out_dir = g_strdup(opt ? opt->out_dir : NULL);
    w->engine = sim_engine_new();
    w->m.hops = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    w->m.latency = g_array_new(FALSE, FALSE, sizeof(env_time));
    w->stored = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    w->series = g_array_new(FALSE, FALSE, sizeof(struct world_sample));
    world_config(w);
    if (!world_models(w, err) || !world_open_pcap(w, opt, err)) {
        world_free(w);
        return NULL;
    }
    world_workload_init(w);
    if (sc->sip.enabled) {
        struct sipua_hooks hooks = {.ud = w, .send = world_sip_send};
        w->sip = sipua_new(sc, w->n_peers, w->engine, WORLD_STREAM_SIP, &hooks);
    }
    if (!world_peers_init(w, err)) {
        world_free(w);
        return NULL;
    }
    world_services_init(w);

    if (sc->overlay.join == SCENARIO_JOIN_INSTANT)
        world_join_instant(w);
    else
        sim_schedule_at(w->engine, 0, world_join_next, w);
    for (uint32_t i = 0; w->sip && i < w->n_peers; i++)
        if (w->peers[i].joined) /* an instant join has no JOIN_DONE */
            sipua_peer_joined(w->sip, i);
    world_schedule_workload(w);
    if (w->churn)
        churn_start(w->churn);
    world_schedule_metrics(w);
    if (w->up_since && sc->overlay.superpeer.election_interval <= sc->duration)
        sim_schedule_at(w->engine, sc->overlay.superpeer.election_interval, world_promote_round, w);
    return w;
}

void world_free(struct world *w)
{
    if (!w)
        return;
    sipua_free(w->sip); /* the registrars before their nodes */
    world_clients_free(w);
    for (uint32_t k = 0; w->peers && k < w->n_servers; k++)
        node_free(w->peers[w->n_peers + k].node);
    if (w->peers)
        for (uint32_t i = 0; i < w->n_peers; i++)
            if (w->peers[i].node) {
                node_free(w->peers[i].node);
                world_services_drop(w, &w->peers[i]);
            }
    world_services_free(w);
    world_security_free(w); /* after the nodes that use its provider */
    while (w->blocks)
        world_block_free(w, w->blocks);
    churn_free(w->churn);
    sim_engine_free(w->engine);
    underlay_free(w->underlay);
    nat_free(w->nat);
    world_ice_free(w);
    world_bootstrap_free(w);
    if (w->pcap)
        pcap_close(w->pcap);
    g_array_unref(w->m.hops);
    g_array_unref(w->m.latency);
    g_array_unref(w->stored);
    g_array_unref(w->series);
    if (w->snapshot_times)
        g_array_unref(w->snapshot_times);
    g_clear_error(&w->snapshot_error);
    g_free(w->key_zipf.cdf);
    g_free(w->record_zipf.cdf);
    g_free(w->records);
    g_free(w->value);
    g_free(w->capacity);
    g_free(w->up_since);
    oracle_clear(&w->oracle);
    g_free(w->peers);
    g_free(w->out_dir);
    g_free(w);
}

void world_run_until(struct world *w, env_time t)
{
    env_time end = MIN(t, w->sc->duration);
    if (end >= sim_now(w->engine))
        sim_run_until(w->engine, end);
}

void world_run(struct world *w, world_progress_fn progress, void *ud)
{
    /* Slices only pace the progress reports; they do not change what runs, since between
     * slices no event is pending before the clock. */
    const uint64_t few = 100000, many = 500000;
    env_time duration = w->sc->duration;
    env_time max_slice = MAX(duration / 100, ENV_MS);
    env_time slice = MIN(max_slice, 10 * ENV_MS);
    while (sim_now(w->engine) < duration) {
        uint64_t before = sim_events_run(w->engine);
        world_run_until(w, sim_now(w->engine) + slice);
        uint64_t ran = sim_events_run(w->engine) - before;
        if (ran < few && slice < max_slice)
            slice = MIN(slice * 2, max_slice);
        else if (ran > many && slice > ENV_MS)
            slice /= 2;
        if (progress)
            progress(ud, w);
    }
}

/* ---- introspection ------------------------------------------------------------------------ */

env_time world_now(const struct world *w)
{
    return sim_now(w->engine);
}

env_time world_duration(const struct world *w)
{
    return w->sc->duration;
}

uint64_t world_events(const struct world *w)
{
    return sim_events_run(w->engine);
}

const struct world_metrics *world_metrics(const struct world *w)
{
    return &w->m;
}

const GArray *world_timeseries(const struct world *w)
{
    return w->series;
}

uint32_t world_peers(const struct world *w)
{
    return w->n_peers;
}

uint32_t world_joined(const struct world *w)
{
    return w->oracle.n;
}

uint32_t world_alive(const struct world *w)
{
    return w->n_alive;
}

bool world_is_up(const struct world *w, uint32_t index)
{
    g_assert(index < w->n_peers);
    return w->peers[index].up;
}

struct sipua *world_sipua(const struct world *w)
{
    return w->sip;
}

struct node *world_node(const struct world *w, uint32_t index)
{
    g_assert(index < w->n_peers);
    return w->peers[index].up ? w->peers[index].node : NULL;
}

const struct id *world_peer_id(const struct world *w, uint32_t index)
{
    g_assert(index < w->n_peers);
    return &w->peers[index].id;
}

bool world_peer_super(const struct world *w, uint32_t index)
{
    g_assert(index < w->n_peers);
    return w->peers[index].super;
}

double world_peer_capacity(const struct world *w, uint32_t index)
{
    g_assert(index < w->n_peers);
    return w->capacity ? w->capacity[index] : 0.0;
}

uint32_t world_superpeers(const struct world *w)
{
    return w->n_super;
}

/* Mean number of joined super-peers over the measured window so far (now before it). */
static double world_super_mean(const struct world *w)
{
    env_time now = sim_now(w->engine), start = w->sc->workload.start;
    if (now <= start)
        return w->n_super;
    uint64_t us = w->super_us_measured;
    if (now > w->super_since)
        us += (uint64_t)w->n_super * (now - MAX(w->super_since, start));
    return (double)us / (double)(now - start);
}

/* ---- the summary -------------------------------------------------------------------------- */

static int world_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

GArray *world_sorted_latencies(const struct world *w)
{
    GArray *a = g_array_sized_new(FALSE, FALSE, sizeof(env_time), w->m.latency->len);
    g_array_append_vals(a, w->m.latency->data, w->m.latency->len);
    if (a->len)
        qsort(a->data, a->len, sizeof(env_time), world_time_cmp);
    return a;
}

static void world_summarize_hops(const struct world *w, struct world_summary *s)
{
    const GArray *h = w->m.hops;
    if (h->len == 0)
        return;
    uint32_t *sorted = g_memdup2(h->data, h->len * sizeof(uint32_t));
    qsort(sorted, h->len, sizeof(uint32_t), world_u32_cmp);
    uint64_t sum = 0;
    for (guint i = 0; i < h->len; i++)
        sum += sorted[i];
    s->hops_mean = (double)sum / h->len;
    s->hops_p50 = sorted[world_rank(h->len, 50)];
    s->hops_p99 = sorted[world_rank(h->len, 99)];
    s->hops_max = sorted[h->len - 1];
    g_free(sorted);
}

static void world_summarize_latency(const struct world *w, struct world_summary *s)
{
    GArray *a = world_sorted_latencies(w);
    const env_time *x = (const env_time *)a->data;
    if (a->len > 0) {
        uint64_t sum = 0;
        for (guint i = 0; i < a->len; i++)
            sum += x[i];
        s->latency_ms_mean = (double)sum / a->len / 1000.0;
        s->latency_ms_p50 = x[world_rank(a->len, 50)] / 1000.0;
        s->latency_ms_p95 = x[world_rank(a->len, 95)] / 1000.0;
        s->latency_ms_p99 = x[world_rank(a->len, 99)] / 1000.0;
        s->latency_ms_max = x[a->len - 1] / 1000.0;
    }
    g_array_unref(a);
}

static void world_summarize_traffic(const struct world *w, struct world_summary *s)
{
    const struct world_metrics *m = &w->m;
    for (unsigned i = 1; i < WORLD_SLOTS; i++) {
        s->messages += m->traffic[i].count;
        s->message_bytes += m->traffic[i].bytes;
    }
    s->acks = m->traffic[0].count;
    s->ack_bytes = m->traffic[0].bytes;
    for (unsigned i = 0; i < WORLD_SLOTS; i++) {
        if (world_slot_class(i) == WORLD_CLASS_APPLICATION) {
            s->application_messages += m->traffic[i].count;
            s->application_bytes += m->traffic[i].bytes;
        } else {
            s->maintenance_messages += m->traffic[i].count;
            s->maintenance_bytes += m->traffic[i].bytes;
        }
    }
    /* Live peer-seconds: the mean number of live peers times the measured window (exactly
     * peers × measured_s without churn). */
    double per = s->alive_mean * s->measured_s;
    if (per > 0) {
        s->bytes_per_peer_per_s = (double)(s->message_bytes + s->ack_bytes) / per;
        s->messages_per_peer_per_s = (double)s->messages / per;
        s->application_bytes_per_peer_per_s = (double)s->application_bytes / per;
        s->maintenance_bytes_per_peer_per_s = (double)s->maintenance_bytes / per;
    }
}

void world_summarize(const struct world *w, struct world_summary *s)
{
    const struct world_metrics *m = &w->m;
    const struct scenario *sc = w->sc;
    memset(s, 0, sizeof *s);
    s->peers = sc->peers;
    s->joined = w->oracle.n;
    env_time start = MIN(sc->workload.start, sc->duration);
    s->measured_s = (double)(sc->duration - start) / ENV_S;
    s->lookups = m->lookups_issued;
    s->lookups_completed = m->lookups_completed;
    s->lookups_correct = m->lookups_correct;
    s->lookup_timeouts = m->lookup_timeouts;
    s->lookups_unfinished = m->lookups_issued - m->lookups_completed;
    /* Lookups issued but none answered (no super-peer could be elected, every peer behind a
     * NAT...) is a failure, not a vacuous success; a run that issued none reads 1. */
    s->lookup_success = m->lookups_completed ? (double)m->lookups_correct / m->lookups_completed
                        : m->lookups_issued  ? 0.0
                                             : 1.0;
    s->lookup_consistency =
        m->lookups_completed ? (double)m->lookups_consistent / m->lookups_completed : 1.0;
    s->retransmits_per_lookup =
        m->lookups_completed ? (double)m->lookup_retransmits / m->lookups_completed : 0.0;
    world_summarize_hops(w, s);
    world_summarize_latency(w, s);
    s->stores = m->stores;
    s->stores_ok = m->stores_ok;
    s->stores_failed = m->stores_failed;
    s->fetches = m->fetches;
    s->fetches_found = m->fetches_found;
    s->fetches_not_found = m->fetches_not_found;
    s->fetches_failed = m->fetches_failed;
    s->alive_end = w->n_alive;
    s->alive_mean = world_alive_mean(w);
    world_summarize_traffic(w, s);
    s->events = sim_events_run(w->engine);
    s->dropped = m->dropped_undeliverable + m->dropped_malformed;
    for (uint64_t i = 0; i < w->records_issued; i++)
        s->records_stored += w->records[i].stored;
    s->records_lost = world_records_lost(w);
    s->refreshes = m->refreshes;
    s->refreshes_ok = m->refreshes_ok;
    s->refreshes_failed = m->refreshes_failed;
    if (w->churn) {
        s->joins = churn_joins(w->churn);
        s->leaves = churn_leaves(w->churn);
        s->crashes = churn_crashes(w->churn);
    }
    s->joins_completed = m->joins_done;
    s->dropped_undeliverable = m->dropped_undeliverable;
    s->dropped_malformed = m->dropped_malformed;
    s->dropped_loss = m->dropped_loss;
    s->dropped_queue = m->dropped_queue;
    s->dropped_partition = m->dropped_partition;
    s->links_failed = m->links_failed;
    s->snapshots = m->snapshots;
    s->superpeers_end = w->n_super;
    s->superpeers_mean = world_super_mean(w);
    s->promotions = m->promotions;
}

/* ---- summary rows and result files -------------------------------------------------------- */

void world_row_u(GArray *rows, const char *name, uint64_t v)
{
    struct world_row r = {.name = name, .value = (double)v};
    g_snprintf(r.text, sizeof r.text, "%llu", (unsigned long long)v);
    g_array_append_val(rows, r);
}

/* A real value written with `decimals` digits after the point; value holds what was written. */
void world_row_f(GArray *rows, const char *name, double v, int decimals)
{
    struct world_row r = {.name = name};
    g_snprintf(r.text, sizeof r.text, "%.*f", decimals, v);
    r.value = g_ascii_strtod(r.text, NULL);
    g_array_append_val(rows, r);
}

/* NAT runs only (docs/nat.md): what the boxes dropped, by reason, and the layout (peer slots,
 * flash crowds included). */
static void world_nat_rows(const struct world *w, GArray *rows)
{
    static const char *const drop_rows[NAT_VERDICTS] = {
        [NAT_UNREACHABLE] = "dropped_nat_unreachable", [NAT_NO_BINDING] = "dropped_nat_no_binding",
        [NAT_FILTERED] = "dropped_nat_filtered",       [NAT_NO_HAIRPIN] = "dropped_nat_hairpin",
        [NAT_NO_PORT] = "dropped_nat_no_port",
    };
    static const enum nat_verdict drop_order[] = {NAT_UNREACHABLE, NAT_NO_BINDING, NAT_FILTERED,
                                                  NAT_NO_HAIRPIN, NAT_NO_PORT};
    static const char *const type_rows[SCENARIO_NAT_TYPES] = {
        [SCENARIO_NAT_FULL_CONE] = "peers_full_cone",
        [SCENARIO_NAT_RESTRICTED] = "peers_restricted",
        [SCENARIO_NAT_PORT_RESTRICTED] = "peers_port_restricted",
        [SCENARIO_NAT_SYMMETRIC] = "peers_symmetric",
        [SCENARIO_NAT_CUSTOM] = "peers_custom_nat",
    };
    world_row_u(rows, "dropped_nat", w->m.dropped_nat);
    for (size_t i = 0; i < G_N_ELEMENTS(drop_order); i++)
        world_row_u(rows, drop_rows[drop_order[i]], w->nat_drops[drop_order[i]]);
    uint32_t pub = nat_type_peers(w->nat, SCENARIO_NAT_PUBLIC);
    world_row_u(rows, "peers_public", pub);
    world_row_u(rows, "peers_behind_nat", w->n_peers - pub);
    for (unsigned t = SCENARIO_NAT_FULL_CONE; t < SCENARIO_NAT_TYPES; t++)
        world_row_u(rows, type_rows[t], nat_type_peers(w->nat, t));
    world_row_u(rows, "nat_boxes", nat_boxes(w->nat));
    world_row_u(rows, "nat_mappings", nat_mappings_made(w->nat));
}

/* Runs with a services block only (docs/services.md): the providers, the advertisements
 * (Stores of records and refreshes, whole run) and the service lookups (all issued from
 * workload.start).  A lookup succeeds when it returns at least one provider whose peer is up;
 * providers_mean and latency are over answered lookups (Not Found included, as 0 providers);
 * stale providers are returned ones whose peer is down. */
static void world_services_rows(const struct world *w, GArray *rows)
{
    const struct world_services *v = w->svc;
    struct service_stats st = v->gone;
    for (uint32_t i = 0; i < w->n_peers; i++)
        if (v->agent[i])
            world_stats_add(&st, service_get_stats(v->agent[i]));
    world_row_u(rows, "services", w->sc->services.list->len);
    world_row_u(rows, "service_providers", v->n_prov);
    world_row_u(rows, "service_stores", st.stores);
    world_row_u(rows, "service_stores_failed", st.stores_failed);
    world_row_u(rows, "service_withdraws", st.withdraws);
    world_row_u(rows, "service_lookups", v->lookups);
    world_row_u(rows, "service_lookups_completed", v->completed);
    world_row_u(rows, "service_lookups_found", v->found_live);
    world_row_u(rows, "service_lookups_not_found", v->not_found);
    world_row_u(rows, "service_lookups_failed", v->failed);
    world_row_f(rows, "service_lookup_success",
                v->completed ? (double)v->found_live / v->completed : 1.0, 6);
    world_row_f(rows, "service_providers_mean",
                v->answered ? (double)v->returned / v->answered : 0.0, 3);
    world_row_u(rows, "service_stale_providers", v->stale);
    world_row_f(rows, "service_stale_fraction", v->returned ? (double)v->stale / v->returned : 0.0,
                6);
    world_row_u(rows, "service_selected_stale", v->selected_stale);
    world_row_u(rows, "service_over_capacity", v->over_capacity);
    world_row_u(rows, "service_records_skipped", st.records_skipped);
    GArray *lat = g_array_copy(v->latency);
    g_array_sort(lat, world_time_cmp);
    const env_time *x = (const env_time *)(void *)lat->data;
    double p50 = lat->len ? x[world_rank(lat->len, 50)] / 1000.0 : 0.0;
    double p95 = lat->len ? x[world_rank(lat->len, 95)] / 1000.0 : 0.0;
    g_array_unref(lat);
    world_row_f(rows, "service_latency_ms_p50", p50, 3);
    world_row_f(rows, "service_latency_ms_p95", p95, 3);
}

GArray *world_summary_rows(const struct world *w, const struct world_summary *given)
{
    struct world_summary own;
    const struct world_summary *s = given;
    if (!s) {
        world_summarize(w, &own);
        s = &own;
    }
    const struct scenario *sc = w->sc;
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(struct world_row));
    /* The foundation's rows, unchanged in name, order and format. */
    world_row_u(rows, "peers", s->peers);
    world_row_u(rows, "joined", s->joined);
    world_row_u(rows, "seed", sc->seed);
    world_row_f(rows, "duration_s", (double)sc->duration / ENV_S, 3);
    world_row_f(rows, "measured_s", s->measured_s, 3);
    world_row_u(rows, "lookups", s->lookups);
    world_row_u(rows, "lookups_completed", s->lookups_completed);
    world_row_u(rows, "lookups_correct", s->lookups_correct);
    world_row_u(rows, "lookup_timeouts", s->lookup_timeouts);
    world_row_u(rows, "lookups_unfinished", s->lookups_unfinished);
    world_row_f(rows, "lookup_success", s->lookup_success, 6);
    world_row_f(rows, "hops_mean", s->hops_mean, 4);
    world_row_u(rows, "hops_p50", s->hops_p50);
    world_row_u(rows, "hops_p99", s->hops_p99);
    world_row_u(rows, "hops_max", s->hops_max);
    world_row_f(rows, "latency_ms_mean", s->latency_ms_mean, 3);
    world_row_f(rows, "latency_ms_p50", s->latency_ms_p50, 3);
    world_row_f(rows, "latency_ms_p95", s->latency_ms_p95, 3);
    world_row_f(rows, "latency_ms_p99", s->latency_ms_p99, 3);
    world_row_f(rows, "latency_ms_max", s->latency_ms_max, 3);
    world_row_u(rows, "stores", s->stores);
    world_row_u(rows, "stores_ok", s->stores_ok);
    world_row_u(rows, "stores_failed", s->stores_failed);
    world_row_u(rows, "fetches", s->fetches);
    world_row_u(rows, "fetches_found", s->fetches_found);
    world_row_u(rows, "fetches_not_found", s->fetches_not_found);
    world_row_u(rows, "fetches_failed", s->fetches_failed);
    world_row_u(rows, "messages", s->messages);
    world_row_u(rows, "message_bytes", s->message_bytes);
    world_row_u(rows, "acks", s->acks);
    world_row_u(rows, "ack_bytes", s->ack_bytes);
    world_row_f(rows, "messages_per_peer_per_s", s->messages_per_peer_per_s, 4);
    world_row_f(rows, "bytes_per_peer_per_s", s->bytes_per_peer_per_s, 3);
    world_row_u(rows, "dropped", s->dropped);
    world_row_u(rows, "events", s->events);
    /* The experiments' rows. */
    world_row_f(rows, "lookup_consistency", s->lookup_consistency, 6);
    world_row_f(rows, "retransmits_per_lookup", s->retransmits_per_lookup, 4);
    world_row_u(rows, "application_messages", s->application_messages);
    world_row_u(rows, "application_bytes", s->application_bytes);
    world_row_u(rows, "maintenance_messages", s->maintenance_messages);
    world_row_u(rows, "maintenance_bytes", s->maintenance_bytes);
    world_row_f(rows, "application_bytes_per_peer_per_s", s->application_bytes_per_peer_per_s, 3);
    world_row_f(rows, "maintenance_bytes_per_peer_per_s", s->maintenance_bytes_per_peer_per_s, 3);
    world_row_u(rows, "records_stored", s->records_stored);
    world_row_u(rows, "records_lost", s->records_lost);
    world_row_u(rows, "refreshes", s->refreshes);
    world_row_u(rows, "refreshes_ok", s->refreshes_ok);
    world_row_u(rows, "refreshes_failed", s->refreshes_failed);
    world_row_u(rows, "alive_peers_end", s->alive_end);
    world_row_f(rows, "alive_peers_mean", s->alive_mean, 3);
    world_row_u(rows, "joins", s->joins);
    world_row_u(rows, "joins_completed", s->joins_completed);
    world_row_u(rows, "leaves", s->leaves);
    world_row_u(rows, "crashes", s->crashes);
    world_row_u(rows, "dropped_undeliverable", s->dropped_undeliverable);
    world_row_u(rows, "dropped_malformed", s->dropped_malformed);
    world_row_u(rows, "dropped_loss", s->dropped_loss);
    world_row_u(rows, "dropped_queue", s->dropped_queue);
    world_row_u(rows, "dropped_partition", s->dropped_partition);
    world_row_u(rows, "links_failed", s->links_failed);
    world_row_u(rows, "snapshots", s->snapshots);
    /* The super-peer topology's own rows (other topologies' summaries stay as they were). */
    if (w->cfg.topology == NODE_TOPOLOGY_SUPERPEER) {
        world_row_u(rows, "superpeers_end", s->superpeers_end);
        world_row_f(rows, "superpeers_mean", s->superpeers_mean, 3);
        world_row_u(rows, "promotions", s->promotions);
    }
    if (w->nat)
        world_nat_rows(w, rows);
    if (w->ice)
        world_ice_rows(w, rows);
    if (w->sip)
        sipua_rows(w->sip, rows); /* runs with a sip: section only (docs/sip.md) */
    if (w->svc)
        world_services_rows(w, rows);
    if (w->boot)
        world_bootstrap_rows(w, rows);
    if (w->sec)
        world_security_rows(w, s, rows);
    if (w->cl)
        world_clients_rows(w, s, rows);
    return rows;
}

#define U64(x) ((unsigned long long)(x))

static char *world_hops_tsv(const struct world *w)
{
    const struct world_metrics *m = &w->m;
    GString *g = g_string_new("hops\tcount\n");
    uint32_t max = 0;
    for (uint32_t h = 0; h < 256; h++)
        if (m->hops_hist[h])
            max = h;
    if (m->hops->len > 0)
        for (uint32_t h = 0; h <= max; h++)
            g_string_append_printf(g, "%u\t%llu\n", h, U64(m->hops_hist[h]));
    return g_string_free(g, FALSE);
}

/* The empirical CDF: one line per distinct latency, with the fraction at or below it. */
char *world_cdf_tsv(const char *column, const GArray *sorted)
{
    GString *g = g_string_new(NULL);
    g_string_append_printf(g, "%s\tfraction\n", column);
    const env_time *x = (const env_time *)sorted->data;
    for (guint i = 0; i < sorted->len; i++)
        if (i + 1 == sorted->len || x[i + 1] != x[i])
            g_string_append_printf(g, "%.3f\t%.6f\n", x[i] / 1000.0,
                                   (double)(i + 1) / sorted->len);
    return g_string_free(g, FALSE);
}

static char *world_latency_tsv(const struct world *w)
{
    GArray *a = world_sorted_latencies(w);
    char *tsv = world_cdf_tsv("latency_ms", a);
    g_array_unref(a);
    return tsv;
}

/* RELOAD codes first, the ACK last. */
static char *world_messages_tsv(const struct world *w)
{
    GString *g = g_string_new("type\tcount\tbytes\n");
    for (unsigned slot = 1; slot <= WORLD_SLOTS; slot++) {
        unsigned i = slot % WORLD_SLOTS;
        const struct world_traffic *t = &w->m.traffic[i];
        if (t->count > 0)
            g_string_append_printf(g, "%s\t%llu\t%llu\n", world_slot_name(i), U64(t->count),
                                   U64(t->bytes));
    }
    return g_string_free(g, FALSE);
}

static char *world_traffic_tsv(const struct world *w)
{
    env_time start = MIN(w->sc->workload.start, w->sc->duration);
    double per = world_alive_mean(w) * ((double)(w->sc->duration - start) / ENV_S);
    GString *g = g_string_new("class\ttype\tcount\tbytes\tper_peer_per_s\n");
    for (unsigned c = WORLD_CLASS_APPLICATION; c <= WORLD_CLASS_MAINTENANCE; c++)
        for (unsigned slot = 1; slot <= WORLD_SLOTS; slot++) {
            unsigned i = slot % WORLD_SLOTS;
            const struct world_traffic *t = &w->m.traffic[i];
            if (t->count == 0 || world_slot_class(i) != c)
                continue;
            g_string_append_printf(g, "%s\t%s\t%llu\t%llu\t%.3f\n", world_class_name(c),
                                   world_slot_name(i), U64(t->count), U64(t->bytes),
                                   per > 0 ? (double)t->bytes / per : 0.0);
        }
    return g_string_free(g, FALSE);
}

/* Long format: one (time, metric, value) per line; a window without completed lookups has no
 * lookup_success row, one without answered lookups no hops_mean or latency_ms_mean row. */
static char *world_timeseries_tsv(const struct world *w)
{
    GString *g = g_string_new("time_s\tmetric\tvalue\n");
    for (guint i = 0; i < w->series->len; i++) {
        const struct world_sample *s = &g_array_index(w->series, struct world_sample, i);
        double t = (double)s->t / ENV_S;
        g_string_append_printf(g, "%.3f\talive_peers\t%u\n", t, s->alive);
        g_string_append_printf(g, "%.3f\tjoined_peers\t%u\n", t, s->joined);
        g_string_append_printf(g, "%.3f\tlookups\t%llu\n", t, U64(s->lookups));
        if (s->lookups > 0)
            g_string_append_printf(g, "%.3f\tlookup_success\t%.6f\n", t,
                                   (double)s->lookups_correct / s->lookups);
        if (s->answered > 0) {
            g_string_append_printf(g, "%.3f\thops_mean\t%.4f\n", t, s->hops_mean);
            g_string_append_printf(g, "%.3f\tlatency_ms_mean\t%.3f\n", t, s->latency_ms_mean);
        }
        g_string_append_printf(g, "%.3f\tbytes_per_peer_per_s\t%.3f\n", t, s->bytes_per_peer_per_s);
        g_string_append_printf(g, "%.3f\trecords_lost\t%llu\n", t, U64(s->records_lost));
        if (w->cfg.topology == NODE_TOPOLOGY_SUPERPEER)
            g_string_append_printf(g, "%.3f\tsuper_peers\t%llu\n", t, U64(s->super_peers));
        if (w->sip)
            sipua_series_tsv(w->sip, i, t, g);
    }
    return g_string_free(g, FALSE);
}

/* Writes dir/name from text (taken). */
static gboolean world_write(const char *dir, const char *name, char *text, GError **err)
{
    char *path = g_build_filename(dir, name, NULL);
    gboolean ok = g_file_set_contents(path, text, -1, err);
    g_free(path);
    g_free(text);
    return ok;
}

gboolean world_write_results(const struct world *w, const char *dir, GError **err)
{
    if (!world_write(dir, "hops.tsv", world_hops_tsv(w), err) ||
        !world_write(dir, "latency_cdf.tsv", world_latency_tsv(w), err) ||
        !world_write(dir, "messages.tsv", world_messages_tsv(w), err) ||
        !world_write(dir, "traffic.tsv", world_traffic_tsv(w), err) ||
        !world_write(dir, "timeseries.tsv", world_timeseries_tsv(w), err))
        return FALSE;
    if (w->sip && !world_write(dir, "call_setup_cdf.tsv", sipua_cdf_tsv(w->sip), err))
        return FALSE;
    if (w->snapshot_error) {
        g_set_error_literal(err, w->snapshot_error->domain, w->snapshot_error->code,
                            w->snapshot_error->message);
        return FALSE;
    }
    return TRUE;
}
