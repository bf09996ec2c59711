/* fuzz_env.c — the fuzz targets' environment and peer harness (fuzz_env.h): core/env.h's
 * contract on a virtual clock, and a RELOAD peer (RFC 6940 §6.2 transactions, §6.6 link
 * layer, §10 topology) built around one datagram. */
#include "fuzz_env.h"

#include <glib.h>
#include <string.h>

#include "../core/topology.h"
#include "../core/wire.h"

struct fuzz_pending {
    env_time at;
    uint64_t seq;
    uint64_t handle;   /* a timer's; 0 for a datagram */
    env_timer_fn fn;
    void *arg;
    struct fuzz_host *to; /* a datagram's receiver, its bytes and sender */
    uint8_t *bytes;
    size_t len;
    struct env_addr from;
};

static struct fuzz_pending *pending_add(struct fuzz_env *f, env_time at)
{
    if (f->n_pending == FUZZ_ENV_MAX_PENDING)
        g_error("fuzz_env: more than %d timers pending: a timer leak", FUZZ_ENV_MAX_PENDING);
    if (!f->pending)
        f->pending = g_new(struct fuzz_pending, FUZZ_ENV_MAX_PENDING);
    struct fuzz_pending *p = &f->pending[f->n_pending++];
    memset(p, 0, sizeof *p);
    p->at = at;
    p->seq = f->seq++;
    return p;
}

void fuzz_env_send(struct fuzz_env *f, const struct env_addr *from, const struct env_addr *to,
                   const uint8_t *buf, size_t len)
{
    f->sent++;
    for (unsigned i = 0; i < f->n_hosts; i++) {
        struct fuzz_host *h = &f->hosts[i];
        if (!h->deliver || !env_addr_eq(to, &h->addr))
            continue;
        struct fuzz_pending *p = pending_add(f, f->now + ENV_MS);
        p->to = h;
        p->bytes = g_malloc(len ? len : 1); /* the exact size: overreads are caught */
        if (len)
            memcpy(p->bytes, buf, len);
        p->len = len;
        p->from = *from;
        return;
    }
}

void fuzz_env_to_node(void *node, const struct env_addr *from, const uint8_t *buf, size_t len)
{
    node_receive(node, from, buf, len);
}

static void e_send(void *ctx, const struct env_addr *to, const uint8_t *buf, size_t len)
{
    struct fuzz_host *h = ctx;
    fuzz_env_send(h->f, &h->addr, to, buf, len);
}

static env_timer e_timer_start(void *ctx, env_time delay, env_timer_fn fn, void *arg)
{
    struct fuzz_env *f = ((struct fuzz_host *)ctx)->f;
    struct fuzz_pending *p = pending_add(f, f->now + delay);
    p->handle = ++f->next_handle;
    p->fn = fn;
    p->arg = arg;
    return p->handle;
}

static void e_timer_stop(void *ctx, env_timer t)
{
    struct fuzz_env *f = ((struct fuzz_host *)ctx)->f;
    for (size_t i = 0; i < f->n_pending; i++)
        if (f->pending[i].handle == t) {
            f->pending[i] = f->pending[--f->n_pending];
            return;
        }
}

static env_time e_now(void *ctx)
{
    return ((struct fuzz_host *)ctx)->f->now;
}

static uint64_t e_random(void *ctx)
{
    struct fuzz_env *f = ((struct fuzz_host *)ctx)->f;
    if (f->n_forced) {
        uint64_t v = f->forced[0];
        memmove(f->forced, f->forced + 1, --f->n_forced * sizeof f->forced[0]);
        return v;
    }
    uint64_t z = (f->rng += 0x9e3779b97f4a7c15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void e_log(void *ctx, enum env_log_level level, const char *msg)
{
}

static const struct env_ops fuzz_ops = {
    .send = e_send,
    .timer_start = e_timer_start,
    .timer_stop = e_timer_stop,
    .now = e_now,
    .random = e_random,
    .log = e_log,
};

void fuzz_env_init(struct fuzz_env *f, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    f->rng = seed;
    f->now = ENV_S;
}

struct fuzz_host *fuzz_env_host(struct fuzz_env *f, const struct env_addr *addr)
{
    g_assert(f->n_hosts < FUZZ_ENV_MAX_HOSTS);
    struct fuzz_host *h = &f->hosts[f->n_hosts++];
    *h = (struct fuzz_host){.f = f, .env = {.ops = &fuzz_ops, .ctx = h}, .addr = *addr};
    return h;
}

void fuzz_env_clear(struct fuzz_env *f)
{
    for (size_t i = 0; i < f->n_pending; i++) {
        if (f->pending[i].handle)
            g_error("fuzz_env: a timer outlived the node or adapter that started it");
        g_free(f->pending[i].bytes);
    }
    g_free(f->pending);
    memset(f, 0, sizeof *f);
}

void fuzz_env_force_random(struct fuzz_env *f, uint64_t v)
{
    if (f->n_forced < G_N_ELEMENTS(f->forced))
        f->forced[f->n_forced++] = v;
}

void fuzz_env_run(struct fuzz_env *f, env_time until, unsigned max_events)
{
    for (unsigned fired = 0; fired < max_events; fired++) {
        size_t best = f->n_pending;
        for (size_t i = 0; i < f->n_pending; i++) {
            const struct fuzz_pending *p = &f->pending[i];
            if (p->at <= until &&
                (best == f->n_pending || p->at < f->pending[best].at ||
                 (p->at == f->pending[best].at && p->seq < f->pending[best].seq)))
                best = i;
        }
        if (best == f->n_pending) {
            f->now = until; /* nothing more is due */
            return;
        }
        struct fuzz_pending p = f->pending[best];
        f->pending[best] = f->pending[--f->n_pending];
        f->now = p.at;
        if (p.handle) {
            p.fn(p.arg);
        } else {
            if (p.to->deliver)
                p.to->deliver(p.to->ud, &p.from, p.bytes, p.len);
            g_free(p.bytes);
        }
    }
}

/* ---- the peer harness -------------------------------------------------------------------- */

#define PEERS 8 /* neighbours around the fuzzed node */

static struct env_addr peer_addr(unsigned i)
{
    return (struct env_addr){0x0a000100u + i + 1, 6084}; /* 10.0.1.<i+1>:6084 */
}

static struct id peer_id(unsigned i)
{
    char name[32];
    g_snprintf(name, sizeof name, "fuzz-peer-%u", i);
    return id_hash(name, strlen(name));
}

static int peer_cmp(const void *a, const void *b)
{
    return id_cmp(&((const struct node_peer *)a)->id, &((const struct node_peer *)b)->id);
}

/* Installs a routing state of PEERS neighbours (ids SHA-1("fuzz-peer-<i>")) around self. */
static void install(struct node *n, enum node_topology topology, bool self_super)
{
    struct node_peer all[PEERS + 1];
    uint8_t super[PEERS + 1];
    for (unsigned i = 0; i < PEERS; i++)
        all[i] = (struct node_peer){peer_id(i), peer_addr(i)};
    all[PEERS] = (struct node_peer){*node_id(n), peer_addr(PEERS)};
    if (topology == NODE_TOPOLOGY_CHORD) {
        /* Predecessors and successors by distance around the ring; fingers: all of them. */
        struct node_peer by_dist[PEERS];
        memcpy(by_dist, all, sizeof by_dist);
        for (unsigned i = 0; i < PEERS; i++) /* key: distance from self, clockwise */
            by_dist[i].id = id_sub(&all[i].id, node_id(n));
        qsort(by_dist, PEERS, sizeof by_dist[0], peer_cmp);
        struct node_peer succ[PEERS / 2], pred[PEERS / 2];
        for (unsigned i = 0; i < PEERS / 2; i++) {
            struct id back = id_add(&by_dist[i].id, node_id(n));
            succ[i] = (struct node_peer){back, by_dist[i].addr};
            back = id_add(&by_dist[PEERS - 1 - i].id, node_id(n));
            pred[i] = (struct node_peer){back, by_dist[PEERS - 1 - i].addr};
        }
        node_install_ring(n, pred, PEERS / 2, succ, PEERS / 2, all, PEERS);
        return;
    }
    qsort(all, PEERS + 1, sizeof all[0], peer_cmp);
    size_t self = 0;
    while (!id_eq(&all[self].id, node_id(n)))
        self++;
    /* Every third peer is a super-peer; self's flag is its configuration's. */
    for (unsigned i = 0; i <= PEERS; i++)
        super[i] = i == self ? self_super : i % 3 == 0;
    struct topology_view v = {.peers = all, .n = PEERS + 1, .self = self};
    if (topology == NODE_TOPOLOGY_SUPERPEER)
        v.super = super;
    node_install_view(n, &v);
}

static void store_done(void *ud, int status)
{
}

static void fetch_done(void *ud, int status, const struct wire_fetch_ans *ans)
{
}

static void app_done(void *ud, int status, const struct id *node, const struct env_addr *app)
{
}

void fuzz_peer_receive(enum node_topology topology, uint8_t mode, const uint8_t *buf, size_t len)
{
    struct fuzz_env f;
    fuzz_env_init(&f, 0x5eed);
    struct node_config cfg;
    node_config_default(&cfg);
    cfg.topology = topology;
    cfg.superpeer.is_super = topology == NODE_TOPOLOGY_SUPERPEER && (mode & 0x20);
    unsigned role = mode & 3;
    struct node_peer relays[2] = {{peer_id(0), peer_addr(0)}, {peer_id(1), peer_addr(1)}};
    if (role == 1) {
        cfg.ice.enabled = true;
        cfg.ice.relays = relays;
        cfg.ice.n_relays = 2;
    }
    cfg.client = role == 3;

    /* What the datagram says, so that the node can be the one it is for. */
    struct wire_frame fr;
    struct wire_header h;
    size_t hl;
    bool parsed = wire_decode_frame(buf, len, &fr) == 0 && fr.type == WIRE_FRAME_DATA &&
                  wire_decode_header(fr.message.p, fr.message.len, &h, &hl) == 0;
    struct id self = id_hash("fuzz-self", 9);
    if ((mode & 4) && parsed && h.n_dest > 0)
        wire_dest_id(&h.dest[h.n_dest - 1], &self); /* leaves self alone for other kinds */
    for (unsigned i = 0; i < PEERS; i++) { /* a routing state never holds the node itself */
        struct id p = peer_id(i);
        if (id_eq(&self, &p))
            self = id_hash("fuzz-self", 9);
    }

    struct env_addr addr = peer_addr(PEERS);
    struct fuzz_host *host = fuzz_env_host(&f, &addr); /* what it sends itself comes back */
    struct node *n = node_new(&host->env, &cfg, &self, &addr);
    host->deliver = fuzz_env_to_node;
    host->ud = n;
    if (role == 2) {
        struct env_addr boot = peer_addr(0);
        if (parsed)
            fuzz_env_force_random(&f, h.txid);
        node_join(n, &boot);
    } else {
        if (role == 3)
            node_client_connect(n, &(struct env_addr){peer_addr(0).ip, 6084});
        else
            install(n, topology, cfg.superpeer.is_super);
        if (parsed)
            fuzz_env_force_random(&f, h.txid);
        struct id key = id_hash("fuzz-key", 8);
        static const uint8_t value[] = "sip:fuzz@example.org";
        struct node_value v = {.value = value, .value_len = sizeof value - 1, .exists = true,
                               .lifetime = 60};
        uint8_t target[ID_BYTES];
        id_to_bytes(&key, target);
        struct wire_dest d;
        switch ((mode >> 3) & 3) {
        case 0:
            node_lookup(n, &key, 1);
            break;
        case 1:
            node_store(n, &key, NODE_KIND_VALUE, &v, 2, store_done, NULL);
            break;
        case 2:
            node_fetch(n, &key, NODE_KIND_VALUE, 3, fetch_done, NULL);
            break;
        default:
            wire_dest_node(&d, target);
            node_app_attach(n, &d, 1, NODE_APP_SIP, app_done, NULL);
            break;
        }
    }
    f.now += ENV_MS;
    struct env_addr from = (mode & 0x40) ? (struct env_addr){0xc0000201u, 5000} : peer_addr(0);
    node_receive(n, &from, buf, len);
    fuzz_env_run(&f, f.now + 5 * ENV_S, 200);
    node_free(n);
    fuzz_env_clear(&f);
}
