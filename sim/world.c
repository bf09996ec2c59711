/* world.c — the simulated world (world.h): virtual peers on one discrete-event engine, the
 * underlay, the oracle, the workload and the metrics.
 *
 * The oracle follows CHORD-RELOAD, RFC 6940 §10.1 (a peer is responsible for the keys in
 * (predecessor, self]); the instant ring's fingers follow §10.3 (finger i points at the
 * successor of self + 2^(128-i)); the workload and the path-length metric follow Stoica et
 * al., "Chord: A Scalable Peer-to-peer Lookup Service", SIGCOMM 2001, §6.3 (random keys,
 * path length of each lookup).
 *
 * Memory: a peer costs a struct world_peer (56 bytes) and an oracle slot (24 bytes) here,
 * plus its node in the core.  The env is not stored per peer: node_new copies it, and its
 * ops table is one static const shared by every peer.  Messages in flight cost one g_malloc
 * each (header and bytes together), linked so that world_free can release what is pending.
 */
#include "world.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/node.h"
#include "../core/wire.h"
#include "engine.h"
#include "pcap.h"

/* Random streams of the run seed beyond the peers' own (peer i uses stream i). */
#define WORLD_STREAM_IDS ((uint64_t)1 << 32)
#define WORLD_STREAM_JOIN (((uint64_t)1 << 32) + 1)
#define WORLD_STREAM_WORKLOAD (((uint64_t)1 << 32) + 2)

/* Cookies tell the workload's requests apart: the top two bits carry the kind of request. */
#define WORLD_TAG_SHIFT 62
enum { WORLD_TAG_NONE, WORLD_TAG_LOOKUP, WORLD_TAG_STORE, WORLD_TAG_FETCH };

#define WORLD_FINGERS_MAX 128

struct world_peer {
    struct world *w;
    struct node *node;
    struct sim_rng rng; /* stream = index */
    uint32_t index;
    bool alive;  /* receives datagrams */
    bool joined; /* in the oracle */
};

/* An oracle entry: a joined peer's Node-ID. */
struct world_slot {
    struct id id;
    uint32_t index;
};

/* A datagram in flight: one allocation, header and bytes. */
struct world_msg {
    struct world_msg *prev, *next;
    struct world *w;
    struct env_addr to;
    uint32_t from;
    uint32_t len;
    uint8_t bytes[];
};

struct world {
    const struct scenario *sc;
    struct sim_engine *engine;
    bool verbose;
    struct pcap_writer *pcap;
    struct node_config cfg;

    uint32_t n_peers;
    struct world_peer *peers;
    struct world_slot *oracle; /* joined peers sorted by Node-ID; capacity n_peers */
    uint32_t n_oracle;

    struct world_msg *in_flight; /* doubly linked list head */
    env_time latency_const;
    env_time latency_min, latency_span;

    struct sim_rng join_rng;
    uint32_t next_join;

    struct sim_rng wl_rng;
    uint64_t n_keys;
    uint8_t *value;          /* the records' value bytes (value_size of them) */
    GArray *stored;          /* uint32_t indices of records stored successfully */
    uint64_t records_issued; /* stores issued so far */
    uint64_t fetches_issued;

    struct world_metrics m;
};

/* ---- small helpers ------------------------------------------------------------------------ */

struct env_addr world_addr(uint32_t index)
{
    struct env_addr a = {.ip = WORLD_IP_BASE + index + 1, .port = WORLD_PORT};
    return a;
}

/* Index of the peer at addr, or -1 when no peer has that address. */
static int64_t world_index_of(const struct world *w, const struct env_addr *addr)
{
    if (addr->port != WORLD_PORT || addr->ip <= WORLD_IP_BASE)
        return -1;
    uint64_t i = (uint64_t)addr->ip - WORLD_IP_BASE - 1;
    return i < w->n_peers ? (int64_t)i : -1;
}

static env_time world_ms(double ms)
{
    return ms <= 0 ? 0 : (env_time)llround(ms * 1000.0);
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

static uint64_t world_cookie(unsigned tag, uint64_t seq)
{
    return ((uint64_t)tag << WORLD_TAG_SHIFT) | seq;
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

/* Position of the first slot whose id is >= k (n_oracle when every id is smaller). */
static uint32_t world_lower_bound(const struct world *w, const struct id *k)
{
    uint32_t lo = 0, hi = w->n_oracle;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (id_cmp(&w->oracle[mid].id, k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Position of the slot responsible for k: the first id >= k, wrapping to the smallest. */
static uint32_t world_responsible_pos(const struct world *w, const struct id *k)
{
    uint32_t pos = world_lower_bound(w, k);
    return pos == w->n_oracle ? 0 : pos;
}

int64_t world_responsible(const struct world *w, const struct id *k)
{
    if (w->n_oracle == 0)
        return -1;
    return w->oracle[world_responsible_pos(w, k)].index;
}

/* Adds a peer that just joined.  A sorted-array insertion is O(N) per join; joins are rare
 * next to lookups, and the array keeps lookups at O(log N) with 24 bytes per peer. */
static void world_oracle_add(struct world *w, struct world_peer *p)
{
    if (p->joined)
        return;
    struct world_slot s = {.id = *node_id(p->node), .index = p->index};
    uint32_t pos = world_lower_bound(w, &s.id);
    g_assert(pos == w->n_oracle || !id_eq(&w->oracle[pos].id, &s.id));
    memmove(&w->oracle[pos + 1], &w->oracle[pos], (w->n_oracle - pos) * sizeof s);
    w->oracle[pos] = s;
    w->n_oracle++;
    p->joined = true;
}

/* A uniformly chosen joined peer, or NULL when none has joined. */
static struct world_peer *world_random_joined(struct world *w, struct sim_rng *r)
{
    if (w->n_oracle == 0)
        return NULL;
    return &w->peers[w->oracle[sim_rng_below(r, w->n_oracle)].index];
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

static void world_on_lookup(struct world *w, const struct env_event *ev)
{
    struct world_metrics *m = &w->m;
    m->lookups_completed++;
    if (ev->status == NODE_E_TIMEOUT)
        m->lookup_timeouts++;
    if (ev->status != NODE_OK)
        return;
    m->lookups_answered++;
    int64_t who = world_responsible(w, &ev->key);
    if (who >= 0 && id_eq(node_id(w->peers[who].node), &ev->responder))
        m->lookups_correct++;
    uint32_t hops = ev->hops;
    m->hops_hist[hops < 255 ? hops : 255]++;
    g_array_append_val(m->hops, hops);
    env_time lat = ev->latency;
    g_array_append_val(m->latency, lat);
}

static void world_on_store(struct world *w, const struct env_event *ev)
{
    if (ev->status != NODE_OK) {
        w->m.stores_failed++;
        return;
    }
    w->m.stores_ok++;
    uint32_t rec = (uint32_t)(ev->cookie & ((UINT64_C(1) << WORLD_TAG_SHIFT) - 1));
    g_array_append_val(w->stored, rec);
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

/* ---- the env: one static ops table, ctx = the peer ---------------------------------------- */

static void world_deliver(void *arg)
{
    struct world_msg *msg = arg;
    struct world *w = msg->w;
    if (msg->prev)
        msg->prev->next = msg->next;
    else
        w->in_flight = msg->next;
    if (msg->next)
        msg->next->prev = msg->prev;

    int64_t to = world_index_of(w, &msg->to);
    if (to >= 0 && w->peers[to].alive) {
        struct env_addr from = world_addr(msg->from);
        node_receive(w->peers[to].node, &from, msg->bytes, msg->len);
    } else {
        w->m.dropped_undeliverable++;
    }
    g_free(msg);
}

static void world_env_send(void *ctx, const struct env_addr *to, const uint8_t *buf, size_t len)
{
    struct world_peer *p = ctx;
    struct world *w = p->w;
    g_assert(len <= UINT32_MAX);
    if (w->pcap) {
        struct env_addr from = world_addr(p->index);
        pcap_write_udp(w->pcap, sim_now(w->engine), &from, to, buf, len);
    }
    env_time delay = w->latency_const;
    if (w->latency_span)
        delay = w->latency_min + (env_time)(sim_rng_unit(&p->rng) * (double)w->latency_span);

    struct world_msg *msg = g_malloc(sizeof *msg + len);
    msg->w = w;
    msg->to = *to;
    msg->from = p->index;
    msg->len = (uint32_t)len;
    memcpy(msg->bytes, buf, len);
    msg->prev = NULL;
    msg->next = w->in_flight;
    if (w->in_flight)
        w->in_flight->prev = msg;
    w->in_flight = msg;
    sim_schedule(w->engine, delay, world_deliver, msg);
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

static void world_env_event(void *ctx, const struct env_event *ev)
{
    struct world_peer *p = ctx;
    struct world *w = p->w;
    bool measuring = sim_now(w->engine) >= w->sc->workload.start;
    unsigned tag = (unsigned)(ev->cookie >> WORLD_TAG_SHIFT);

    switch (ev->type) {
    case ENV_EV_JOIN_DONE:
        w->m.joins_done++;
        world_oracle_add(w, p);
        break;
    case ENV_EV_MSG_SENT:
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
    case ENV_EV_LOOKUP_DONE:
        if (measuring && tag == WORLD_TAG_LOOKUP)
            world_on_lookup(w, ev);
        break;
    case ENV_EV_STORE_DONE:
        if (measuring && tag == WORLD_TAG_STORE)
            world_on_store(w, ev);
        break;
    case ENV_EV_FETCH_DONE:
        if (measuring && tag == WORLD_TAG_FETCH)
            world_on_fetch(w, ev);
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

/* ---- joining ------------------------------------------------------------------------------ */

static struct node_peer world_node_peer(const struct world *w, uint32_t pos)
{
    struct node_peer np = {.id = w->oracle[pos].id, .addr = world_addr(w->oracle[pos].index)};
    return np;
}

/* Gives the peer at oracle position pos the routing state of a stable ring: its neighbours
 * and, for i = 1..128, the successor of self + 2^(128-i) (RFC 6940 §10.3), distinct, self
 * skipped, stopping once the target falls within the successor list. */
static void world_install(struct world *w, uint32_t pos)
{
    const struct scenario *sc = w->sc;
    uint32_t n = w->n_oracle;
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

    const struct id *self = &w->oracle[pos].id;
    for (unsigned i = 1; i <= 128 && others > 0; i++) {
        struct id target = id_add_pow2(self, 128 - i);
        if (n_succ > 0 && id_in_oc(&target, self, &succ[n_succ - 1].id))
            break;
        uint32_t f = world_responsible_pos(w, &target);
        if (f == pos)
            continue;
        if (n_fingers > 0 && id_eq(&fingers[n_fingers - 1].id, &w->oracle[f].id))
            continue;
        fingers[n_fingers++] = world_node_peer(w, f);
    }
    struct world_peer *p = &w->peers[w->oracle[pos].index];
    p->alive = true;
    node_install_ring(p->node, pred, n_pred, succ, n_succ, fingers, n_fingers);
}

/* instant: every peer joins at t = 0 with the stable ring the oracle describes. */
static void world_join_instant(struct world *w)
{
    for (uint32_t i = 0; i < w->n_peers; i++) {
        w->oracle[i].id = *node_id(w->peers[i].node);
        w->oracle[i].index = i;
        w->peers[i].joined = true;
    }
    w->n_oracle = w->n_peers;
    qsort(w->oracle, w->n_oracle, sizeof *w->oracle, world_slot_cmp);
    for (uint32_t i = 1; i < w->n_oracle; i++)
        g_assert(!id_eq(&w->oracle[i - 1].id, &w->oracle[i].id));
    for (uint32_t pos = 0; pos < w->n_oracle; pos++)
        world_install(w, pos);
}

/* protocol: peer 0 starts the overlay at t = 0; every join_interval the next peer joins
 * through a uniformly chosen peer that has already joined (peer 0 while none has). */
static void world_join_next(void *arg)
{
    struct world *w = arg;
    struct world_peer *p = &w->peers[w->next_join++];
    p->alive = true;
    if (p->index == 0) {
        node_join(p->node, NULL);
    } else {
        struct world_peer *via = world_random_joined(w, &w->join_rng);
        struct env_addr boot = world_addr(via ? via->index : 0);
        node_join(p->node, &boot);
    }
    if (w->next_join < w->n_peers)
        sim_schedule(w->engine, w->sc->overlay.join_interval, world_join_next, w);
}

/* ---- the workload ------------------------------------------------------------------------- */

static env_time world_gap(struct world *w, double rate)
{
    double mean_us = rate > 0 ? 1e6 / rate : 1e6;
    return (env_time)llround(sim_rng_exp(&w->wl_rng, mean_us));
}

static void world_lookup_next(void *arg)
{
    struct world *w = arg;
    const struct scenario *sc = w->sc;
    uint64_t seq = w->m.lookups_issued++;
    struct world_peer *p = world_random_joined(w, &w->wl_rng);
    struct id key;
    if (w->n_keys > 0)
        key = world_named_id("key", sim_rng_below(&w->wl_rng, w->n_keys));
    else
        key = world_random_id(&w->wl_rng);
    if (!p || node_lookup(p->node, &key, world_cookie(WORLD_TAG_LOOKUP, seq)) != NODE_OK)
        w->m.lookups_completed++; /* could not even start: a failure */
    if (w->m.lookups_issued < sc->workload.lookups)
        sim_schedule(w->engine, world_gap(w, sc->workload.lookup_rate), world_lookup_next, w);
}

static void world_store_next(void *arg)
{
    struct world *w = arg;
    const struct scenario *sc = w->sc;
    uint64_t rec = w->records_issued++;
    struct world_peer *p = world_random_joined(w, &w->wl_rng);
    struct id res = world_named_id("record", rec);
    struct node_value v = {
        .value = w->value,
        .value_len = sc->workload.value_size,
        .exists = true,
        .lifetime = sc->workload.record_lifetime,
    };
    w->m.stores++;
    if (!p || node_store(p->node, &res, NODE_KIND_VALUE, &v, world_cookie(WORLD_TAG_STORE, rec),
                         NULL, NULL) != NODE_OK)
        w->m.stores_failed++;
    if (w->records_issued < sc->workload.records) {
        /* Evenly spread over one second from workload.start. */
        env_time at = sc->workload.start + w->records_issued * ENV_S / sc->workload.records;
        sim_schedule_at(w->engine, at, world_store_next, w);
    }
}

static void world_fetch_next(void *arg)
{
    struct world *w = arg;
    const struct scenario *sc = w->sc;
    uint64_t seq = w->fetches_issued++;
    struct world_peer *p = world_random_joined(w, &w->wl_rng);
    uint64_t rec;
    if (w->stored->len > 0)
        rec = g_array_index(w->stored, uint32_t, sim_rng_below(&w->wl_rng, w->stored->len));
    else
        rec = sim_rng_below(&w->wl_rng, MAX(sc->workload.records, 1));
    struct id res = world_named_id("record", rec);
    w->m.fetches++;
    if (!p || node_fetch(p->node, &res, NODE_KIND_VALUE, world_cookie(WORLD_TAG_FETCH, seq), NULL,
                         NULL) != NODE_OK)
        w->m.fetches_failed++;
    if (w->fetches_issued < sc->workload.fetches)
        sim_schedule(w->engine, world_gap(w, sc->workload.fetch_rate), world_fetch_next, w);
}

/* Lookups start at workload.start (Poisson from there); stores are spread evenly over the
 * first second; fetches follow once every store has been issued, picking records whose
 * store succeeded (any record when none has yet). */
static void world_schedule_workload(struct world *w)
{
    const struct scenario *sc = w->sc;
    env_time start = sc->workload.start;
    if (sc->workload.lookups > 0)
        sim_schedule_at(w->engine, start + world_gap(w, sc->workload.lookup_rate),
                        world_lookup_next, w);
    if (sc->workload.records > 0)
        sim_schedule_at(w->engine, start, world_store_next, w);
    if (sc->workload.fetches > 0)
        sim_schedule_at(w->engine, start + ENV_S + world_gap(w, sc->workload.fetch_rate),
                        world_fetch_next, w);
}

/* ---- building and running ----------------------------------------------------------------- */

static void world_config(struct world *w)
{
    const struct scenario *sc = w->sc;
    node_config_default(&w->cfg);
    w->cfg.overlay = id_overlay_hash(sc->overlay.name);
    w->cfg.successors = sc->overlay.successors;
    w->cfg.predecessors = sc->overlay.predecessors;
    w->cfg.replicas = sc->overlay.replicas;
    w->cfg.update_interval = sc->overlay.update_interval;
    w->cfg.ping_interval = sc->overlay.ping_interval;
    w->cfg.reactive = sc->overlay.reactive;
    w->cfg.reliability_timer = sc->overlay.reliability_timer;
    if (w->cfg.max_value_size < sc->workload.value_size)
        w->cfg.max_value_size = sc->workload.value_size;
}

static bool world_check(const struct scenario *sc, GError **err)
{
    if (g_strcmp0(sc->overlay.topology, "chord") != 0) {
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                    "%s: overlay.topology: '%s' is not simulated yet (only 'chord')", sc->file,
                    sc->overlay.topology);
        return false;
    }
    if (sc->peers < 1 || sc->peers > WORLD_MAX_PEERS) {
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                    "%s: peers: %u is out of range (1..%u, one 10.0.0.0/8 address each)", sc->file,
                    sc->peers, WORLD_MAX_PEERS);
        return false;
    }
    return true;
}

struct world *world_new(const struct scenario *sc, const struct world_options *opt, GError **err)
{
    if (!world_check(sc, err))
        return NULL;
    struct world *w = g_new0(struct world, 1);
    w->sc = sc;
    w->verbose = opt && opt->verbose;
    if (sc->output.pcap && sc->output.pcap[0]) {
        char *path =
            g_build_filename(opt && opt->out_dir ? opt->out_dir : ".", sc->output.pcap, NULL);
        w->pcap = pcap_open(path, err);
        g_free(path);
        if (!w->pcap) {
            g_free(w);
            return NULL;
        }
    }
    w->engine = sim_engine_new();
    world_config(w);

    if (sc->latency.model == SCENARIO_LATENCY_UNIFORM) {
        w->latency_min = world_ms(sc->latency.min_ms);
        env_time max = world_ms(sc->latency.max_ms);
        w->latency_span = max > w->latency_min ? max - w->latency_min : 0;
        w->latency_const = w->latency_min;
    } else {
        w->latency_const = world_ms(sc->latency.ms);
    }

    w->m.hops = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    w->m.latency = g_array_new(FALSE, FALSE, sizeof(env_time));
    w->stored = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    sim_rng_init(&w->join_rng, sc->seed, WORLD_STREAM_JOIN);
    sim_rng_init(&w->wl_rng, sc->seed, WORLD_STREAM_WORKLOAD);
    w->n_keys =
        sc->workload.keys ? sc->workload.keys : sc->workload.keys_per_peer * (uint64_t)sc->peers;
    w->value = g_malloc(MAX(sc->workload.value_size, 1));
    for (uint32_t i = 0; i < sc->workload.value_size; i++)
        w->value[i] = (uint8_t)('a' + i % 26);

    /* Peers and their nodes; Node-IDs are random from the run seed's id stream. */
    w->n_peers = sc->peers;
    w->peers = g_new0(struct world_peer, w->n_peers);
    w->oracle = g_new(struct world_slot, w->n_peers);
    struct sim_rng ids;
    sim_rng_init(&ids, sc->seed, WORLD_STREAM_IDS);
    for (uint32_t i = 0; i < w->n_peers; i++) {
        struct world_peer *p = &w->peers[i];
        p->w = w;
        p->index = i;
        sim_rng_init(&p->rng, sc->seed, i);
        struct env e = {.ops = &world_env_ops, .ctx = p};
        struct id self = world_random_id(&ids);
        struct env_addr addr = world_addr(i);
        p->node = node_new(&e, &w->cfg, &self, &addr);
    }

    if (sc->overlay.join == SCENARIO_JOIN_INSTANT)
        world_join_instant(w);
    else
        sim_schedule_at(w->engine, 0, world_join_next, w);
    world_schedule_workload(w);
    return w;
}

void world_free(struct world *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->n_peers; i++)
        node_free(w->peers[i].node);
    while (w->in_flight) {
        struct world_msg *next = w->in_flight->next;
        g_free(w->in_flight);
        w->in_flight = next;
    }
    sim_engine_free(w->engine);
    if (w->pcap)
        pcap_close(w->pcap);
    g_array_unref(w->m.hops);
    g_array_unref(w->m.latency);
    g_array_unref(w->stored);
    g_free(w->value);
    g_free(w->oracle);
    g_free(w->peers);
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

/* ---- introspection and the summary -------------------------------------------------------- */

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

uint32_t world_peers(const struct world *w)
{
    return w->n_peers;
}

uint32_t world_joined(const struct world *w)
{
    return w->n_oracle;
}

struct node *world_node(const struct world *w, uint32_t index)
{
    g_assert(index < w->n_peers);
    return w->peers[index].node;
}

static int world_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int world_time_cmp(const void *a, const void *b)
{
    env_time x = *(const env_time *)a, y = *(const env_time *)b;
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

void world_summarize(const struct world *w, struct world_summary *s)
{
    const struct world_metrics *m = &w->m;
    const struct scenario *sc = w->sc;
    memset(s, 0, sizeof *s);
    s->peers = w->n_peers;
    s->joined = w->n_oracle;
    env_time start = MIN(sc->workload.start, sc->duration);
    s->measured_s = (double)(sc->duration - start) / ENV_S;
    s->lookups = m->lookups_issued;
    s->lookups_completed = m->lookups_completed;
    s->lookups_correct = m->lookups_correct;
    s->lookup_timeouts = m->lookup_timeouts;
    s->lookups_unfinished = m->lookups_issued - m->lookups_completed;
    s->lookup_success =
        m->lookups_completed ? (double)m->lookups_correct / m->lookups_completed : 1.0;
    world_summarize_hops(w, s);
    world_summarize_latency(w, s);
    s->stores = m->stores;
    s->stores_ok = m->stores_ok;
    s->stores_failed = m->stores_failed;
    s->fetches = m->fetches;
    s->fetches_found = m->fetches_found;
    s->fetches_not_found = m->fetches_not_found;
    s->fetches_failed = m->fetches_failed;
    for (unsigned i = 1; i < WORLD_SLOTS; i++) {
        s->messages += m->traffic[i].count;
        s->message_bytes += m->traffic[i].bytes;
    }
    s->acks = m->traffic[0].count;
    s->ack_bytes = m->traffic[0].bytes;
    if (s->measured_s > 0) {
        double per = (double)s->peers * s->measured_s;
        s->bytes_per_peer_per_s = (double)(s->message_bytes + s->ack_bytes) / per;
        s->messages_per_peer_per_s = (double)s->messages / per;
    }
    s->events = sim_events_run(w->engine);
    s->dropped = m->dropped_undeliverable + m->dropped_malformed;
}
