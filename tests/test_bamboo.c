/* test_bamboo.c — the Bamboo topology plug-in (core/bamboo.c) on the fake environment: the
 * BambooUpdate codec, routing over installed views of 16 to 4096 peers against an oracle of
 * the numerically closest peer, proximity neighbour selection, joins through the protocol,
 * a crash and a leave repaired by periodic and by reactive recovery, replicated storage, the
 * maintenance mechanisms one by one against bounds (leaf-set push/pull, routing-table
 * exploration, PNS by exploration, hop-by-hop retries around a failed next hop), RTT-based
 * timeouts and malformed bodies (Rhea, Geels, Roscoe and Kubiatowicz, "Handling
 * Churn in a DHT", USENIX 2004; Rowstron and Druschel, "Pastry", Middleware 2001). */
#include <CUnit/CUnit.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bamboo.h"
#include "../core/node_int.h"
#include "fake_env.h"
#include "ring.h"

/* An overlay of Bamboo peers on the fake network. */
struct overlay {
    struct fake_net *net;
    struct fake_host **h;
    unsigned n;
    uint64_t cookie; /* the next lookup cookie */
};

static void bamboo_config(struct node_config *cfg)
{
    node_config_default(cfg);
    cfg->topology = NODE_TOPOLOGY_BAMBOO;
    cfg->partition_interval = 0;
}

/* A node of host h; cfg.topology selects the Bamboo plug-in (checked). */
static struct node *bamboo_node_new(struct fake_host *h, const struct node_config *cfg,
                                    const struct id *id)
{
    struct node *n = node_new(&h->env, cfg, id, &h->addr);
    CU_ASSERT_STRING_EQUAL(n->topo->ops->name, "BAMBOO");
    return n;
}

/* n peers with Node-IDs SHA-1("bamboo-<i>"), or ids[i] when ids is not NULL. */
static void ov_init(struct overlay *o, unsigned n, const struct node_config *cfg,
                    const struct id *ids)
{
    o->net = fake_net_new(LAT);
    o->n = n;
    o->cookie = 1;
    o->h = g_new0(struct fake_host *, n);
    for (unsigned i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "bamboo-%u", i);
        struct id id = ids ? ids[i] : id_hash(name, strlen(name));
        o->h[i] = fake_net_add_host(o->net);
        o->h[i]->node = bamboo_node_new(o->h[i], cfg, &id);
    }
}

static void ov_free(struct overlay *o)
{
    for (unsigned i = 0; i < o->n; i++) {
        node_free(o->h[i]->node);
        o->h[i]->node = NULL;
    }
    /* Every timer belonged to a node: none may survive it. */
    CU_ASSERT_EQUAL(fake_net_pending_timers(o->net), 0);
    fake_net_free(o->net);
    g_free(o->h);
}

static bool live(const struct overlay *o, unsigned i)
{
    return !o->h[i]->down && o->h[i]->node && node_is_joined(o->h[i]->node);
}

static const struct id *ID(const struct overlay *o, unsigned i)
{
    return node_id(o->h[i]->node);
}

/* The oracle: the live peer numerically closest to k (ring distance); at equal distance the
 * one that follows k clockwise. */
static unsigned closest(const struct overlay *o, const struct id *k)
{
    int best = -1;
    struct id bd = {0, 0}, bc = {0, 0};
    for (unsigned i = 0; i < o->n; i++) {
        if (!live(o, i))
            continue;
        struct id cw = id_dist(k, ID(o, i)), ccw = id_dist(ID(o, i), k);
        struct id d = id_cmp(&cw, &ccw) <= 0 ? cw : ccw;
        int c = best < 0 ? -1 : id_cmp(&d, &bd);
        if (c < 0 || (c == 0 && id_cmp(&cw, &bc) < 0)) {
            best = (int)i;
            bd = d;
            bc = cw;
        }
    }
    CU_ASSERT_FATAL(best >= 0);
    return (unsigned)best;
}

/* ---- installed views ---------------------------------------------------------------------- */

/* Underlay coordinates for proximity: host i at (x[i], y[i]) ms, latency = distance + 1 ms. */
struct coords {
    double x[4096], y[4096];
    unsigned *host; /* view index -> host index */
};

static env_time coord_latency(const struct coords *c, unsigned a, unsigned b)
{
    if (a == b)
        return 0;
    double dx = c->x[a] - c->x[b], dy = c->y[a] - c->y[b];
    return (env_time)((sqrt(dx * dx + dy * dy) + 1) * ENV_MS);
}

static env_time view_latency(void *ud, size_t i, size_t j)
{
    const struct coords *c = ud;
    return coord_latency(c, c->host[i], c->host[j]);
}

static const struct overlay *sort_ov;

static int by_id(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return id_cmp(ID(sort_ov, x), ID(sort_ov, y));
}

/* Installs the sorted view of every peer in every peer (latencies from c when not NULL). */
static void ov_install(struct overlay *o, struct coords *c)
{
    unsigned *order = g_new(unsigned, o->n);
    struct node_peer *peers = g_new(struct node_peer, o->n);
    for (unsigned i = 0; i < o->n; i++)
        order[i] = i;
    sort_ov = o;
    qsort(order, o->n, sizeof *order, by_id);
    for (unsigned i = 0; i < o->n; i++) {
        peers[i].id = *ID(o, order[i]);
        peers[i].addr = o->h[order[i]]->addr;
    }
    if (c)
        c->host = order;
    for (unsigned i = 0; i < o->n; i++) {
        struct topology_view v = {
            .peers = peers, .n = o->n, .self = i, .latency = c ? view_latency : NULL, .ud = c};
        node_install_view(o->h[order[i]]->node, &v);
    }
    if (c)
        c->host = NULL;
    g_free(peers);
    g_free(order);
}

static void random_coords(struct coords *c, unsigned n, uint64_t seed)
{
    for (unsigned i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        c->x[i] = (double)(seed >> 40) / (double)(1ull << 24) * 150;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        c->y[i] = (double)(seed >> 40) / (double)(1ull << 24) * 150;
    }
}

static struct id key_of(const char *prefix, unsigned q)
{
    char name[40];
    snprintf(name, sizeof name, "%s-%u", prefix, q);
    return id_hash(name, strlen(name));
}

struct lookups {
    unsigned issued, answered, wrong;
    double mean_hops;
};

/* count lookups of keys key-<q>, all at once, from live peers in turn; waits `wait` and checks
 * each answer against the oracle. */
static struct lookups ov_lookups(struct overlay *o, unsigned count, env_time wait)
{
    struct lookups r = {0};
    uint64_t first = o->cookie;
    struct id *keys = g_new(struct id, count);
    for (unsigned q = 0; q < count; q++) {
        unsigned from = q % o->n;
        keys[q] = key_of("key", (unsigned)(first + q));
        if (!live(o, from))
            continue;
        CU_ASSERT_EQUAL(node_lookup(o->h[from]->node, &keys[q], first + q), NODE_OK);
        r.issued++;
    }
    o->cookie += count;
    fake_net_run_until(o->net, fake_net_now(o->net) + wait);
    uint64_t hops = 0;
    for (unsigned i = 0; i < o->n; i++) {
        GPtrArray *ev = o->h[i]->events;
        for (guint e = 0; e < ev->len; e++) {
            const struct env_event *x = ev->pdata[e];
            if (x->type != ENV_EV_LOOKUP_DONE || x->cookie < first || x->cookie >= first + count)
                continue;
            r.answered++;
            unsigned want = closest(o, &keys[x->cookie - first]);
            if (x->status != NODE_OK || !id_eq(&x->responder, ID(o, want)))
                r.wrong++;
            hops += x->hops;
        }
    }
    r.mean_hops = r.answered ? (double)hops / r.answered : 0;
    g_free(keys);
    return r;
}

/* Follows next_hop from peer to peer, as the forwarding code does, without sending anything:
 * for overlays too large to run message by message.  Returns the mean hop count; *wrong counts
 * lookups that ended elsewhere than at the oracle's peer; *latency, when not NULL, receives
 * the mean path latency under c. */
static double walk(struct overlay *o, unsigned count, unsigned *wrong, const struct coords *c,
                   double *latency)
{
    GHashTable *by_addr = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (unsigned i = 0; i < o->n; i++)
        g_hash_table_insert(by_addr, GUINT_TO_POINTER(o->h[i]->addr.ip), GUINT_TO_POINTER(i + 1));
    uint64_t hops = 0;
    double lat = 0;
    *wrong = 0;
    for (unsigned q = 0; q < count; q++) {
        struct id k = key_of("walk", q);
        unsigned cur = q % o->n, n_hops = 0;
        while (n_hops < 64) {
            struct topology *t = o->h[cur]->node->topo;
            if (t->ops->responsible(t, &k))
                break;
            struct node_peer next;
            CU_ASSERT_TRUE_FATAL(t->ops->next_hop(t, &k, &next));
            unsigned nx =
                GPOINTER_TO_UINT(g_hash_table_lookup(by_addr, GUINT_TO_POINTER(next.addr.ip)));
            CU_ASSERT_FATAL(nx > 0 && id_eq(&next.id, ID(o, nx - 1)));
            if (c)
                lat += (double)coord_latency(c, cur, nx - 1) / ENV_MS;
            cur = nx - 1;
            n_hops++;
        }
        hops += n_hops;
        if (cur != closest(o, &k))
            (*wrong)++;
    }
    g_hash_table_destroy(by_addr);
    if (latency)
        *latency = lat / count;
    return (double)hops / count;
}

static void check_hops(unsigned n, double mean)
{
    double expect = log((double)n) / log(16.0);
    printf("\n    bamboo b=4: N=%u mean hops %.2f (log16 N = %.2f) ", n, mean, expect);
    CU_ASSERT_TRUE(mean <= expect + 0.5);
    CU_ASSERT_TRUE(mean >= expect - 1.0);
}

/* Lookups over installed views of 16, 64 and 256 peers, message by message: all reach the
 * numerically closest peer, in about log16 N hops. */
static void test_view_lookups(void)
{
    static const unsigned sizes[] = {16, 64, 256};
    for (unsigned s = 0; s < G_N_ELEMENTS(sizes); s++) {
        struct node_config cfg;
        bamboo_config(&cfg);
        struct overlay o;
        ov_init(&o, sizes[s], &cfg, NULL);
        ov_install(&o, NULL);
        struct lookups r = ov_lookups(&o, 2 * sizes[s], 5 * ENV_S);
        CU_ASSERT_EQUAL(r.answered, r.issued);
        CU_ASSERT_EQUAL(r.wrong, 0);
        check_hops(sizes[s], r.mean_hops);
        unsigned wrong;
        double w = walk(&o, 2 * sizes[s], &wrong, NULL, NULL);
        CU_ASSERT_EQUAL(wrong, 0);
        CU_ASSERT_TRUE(fabs(w - r.mean_hops) < 0.3); /* the walk matches the messages */
        ov_free(&o);
    }
}

/* The hop counts of larger overlays (b = 4), by walking next_hop. */
static void test_view_hops_large(void)
{
    static const unsigned sizes[] = {1024, 4096};
    for (unsigned s = 0; s < G_N_ELEMENTS(sizes); s++) {
        struct node_config cfg;
        bamboo_config(&cfg);
        cfg.bamboo.leafset_interval = cfg.bamboo.table_interval = 0; /* no traffic */
        struct overlay o;
        ov_init(&o, sizes[s], &cfg, NULL);
        ov_install(&o, NULL);
        unsigned wrong;
        double mean = walk(&o, 4000, &wrong, NULL, NULL);
        CU_ASSERT_EQUAL(wrong, 0);
        check_hops(sizes[s], mean);
        /* Memory: about log16 N populated rows. */
        size_t mem = 0;
        for (unsigned i = 0; i < o.n; i++)
            mem += o.h[i]->node->topo->ops->memory(o.h[i]->node->topo);
        printf("routing state %zu bytes/peer ", mem / o.n);
        CU_ASSERT_TRUE(mem / o.n < 4096);
        ov_free(&o);
    }
}

/* Every digit size, and ids that share 124 leading bits, so that the last, partial digit
 * (b = 3, 5, 6, 7) is used; a leaf set of one peer per side makes the routing table do the
 * work. */
static void test_digit_sizes(void)
{
    struct id ids[64];
    struct id base = id_hash("cluster", 7);
    base.lo &= ~0xfull;
    for (unsigned i = 0; i < 16; i++)
        ids[i] = (struct id){base.hi, base.lo | i};
    for (unsigned i = 16; i < 64; i++)
        ids[i] = key_of("spread", i);
    for (unsigned b = 1; b <= 8; b++) {
        struct node_config cfg;
        bamboo_config(&cfg);
        cfg.bamboo.digit_bits = b;
        cfg.bamboo.leaf_set = 1;
        cfg.bamboo.leafset_interval = cfg.bamboo.table_interval = 0;
        struct overlay o;
        ov_init(&o, 64, &cfg, ids);
        ov_install(&o, NULL);
        unsigned wrong;
        walk(&o, 300, &wrong, NULL, NULL);
        CU_ASSERT_EQUAL(wrong, 0);
        /* Keys inside the cluster. */
        unsigned bad = 0;
        for (unsigned q = 0; q < 64; q++) {
            struct id k = {base.hi, base.lo | (q % 16)};
            unsigned cur = (q * 7) % o.n, n_hops = 0;
            for (; n_hops < 64; n_hops++) {
                struct topology *t = o.h[cur]->node->topo;
                if (t->ops->responsible(t, &k))
                    break;
                struct node_peer next;
                CU_ASSERT_TRUE_FATAL(t->ops->next_hop(t, &k, &next));
                unsigned j = 0;
                while (j < o.n && !id_eq(ID(&o, j), &next.id))
                    j++;
                CU_ASSERT_FATAL(j < o.n);
                cur = j;
            }
            bad += cur != closest(&o, &k);
        }
        CU_ASSERT_EQUAL(bad, 0);
        ov_free(&o);
    }
}

/* b = 4 helpers for the PNS check. */
static unsigned nibbles_shared(const struct id *a, const struct id *b)
{
    unsigned i = 0;
    uint8_t x[ID_BYTES], y[ID_BYTES];
    id_to_bytes(a, x);
    id_to_bytes(b, y);
    while (i < 32 && ((x[i / 2] >> (i % 2 ? 0 : 4)) & 15) == ((y[i / 2] >> (i % 2 ? 0 : 4)) & 15))
        i++;
    return i;
}

static unsigned nibble(const struct id *a, unsigned i)
{
    uint8_t x[ID_BYTES];
    id_to_bytes(a, x);
    return (x[i / 2] >> (i % 2 ? 0 : 4)) & 15;
}

/* Proximity neighbour selection: each routing-table entry is the lowest-latency candidate of
 * its cell, and paths get shorter in time (not in hops) than without it. */
static void test_pns(void)
{
    static struct coords c;
    random_coords(&c, 256, 7);
    double lat[2], hops[2];
    for (unsigned pns = 0; pns < 2; pns++) {
        struct node_config cfg;
        bamboo_config(&cfg);
        cfg.bamboo.pns = pns;
        cfg.bamboo.leafset_interval = cfg.bamboo.table_interval = 0;
        struct overlay o;
        ov_init(&o, 256, &cfg, NULL);
        ov_install(&o, &c);
        unsigned wrong;
        hops[pns] = walk(&o, 2000, &wrong, &c, &lat[pns]);
        CU_ASSERT_EQUAL(wrong, 0);
        if (pns) {
            unsigned checked = 0;
            for (unsigned i = 0; i < 32; i++) {
                struct node_peer rt[256];
                size_t n = node_routing_table(o.h[i]->node, rt, 256);
                /* Leaves come first: 8 on each side, distinct in 256 peers. */
                for (size_t e = 16; e < n; e++) {
                    unsigned row = nibbles_shared(ID(&o, i), &rt[e].id);
                    unsigned col = nibble(&rt[e].id, row), ej = 0;
                    while (!id_eq(ID(&o, ej), &rt[e].id))
                        ej++;
                    for (unsigned j = 0; j < o.n; j++)
                        if (nibbles_shared(ID(&o, i), ID(&o, j)) == row &&
                            nibble(ID(&o, j), row) == col)
                            CU_ASSERT_TRUE(coord_latency(&c, i, ej) <= coord_latency(&c, i, j));
                    checked++;
                }
            }
            CU_ASSERT_TRUE(checked > 100);
        }
        ov_free(&o);
    }
    printf("\n    N=256: path latency %.1f ms without PNS, %.1f ms with (hops %.2f, %.2f) ", lat[0],
           lat[1], hops[0], hops[1]);
    CU_ASSERT_TRUE(lat[1] < 0.8 * lat[0]);
}

/* ---- the protocol ---------------------------------------------------------------------------- */

/* Peers join one after the other through peer 0, then 30 s of settling. */
static void ov_join_all(struct overlay *o)
{
    for (unsigned i = 0; i < o->n; i++) {
        CU_ASSERT_EQUAL_FATAL(node_join(o->h[i]->node, i ? &o->h[0]->addr : NULL), NODE_OK);
        fake_net_run_until(o->net, fake_net_now(o->net) + 2 * ENV_S);
    }
    fake_net_run_until(o->net, fake_net_now(o->net) + 30 * ENV_S);
}

/* Each live peer's leaf set is exactly its `side` live neighbours on either side (fewer in a
 * small overlay); returns the number of peers whose leaf set is wrong. */
static unsigned bad_leaf_sets(const struct overlay *o, unsigned side)
{
    unsigned bad = 0, n_live = 0;
    for (unsigned i = 0; i < o->n; i++)
        n_live += live(o, i);
    for (unsigned i = 0; i < o->n; i++) {
        if (!live(o, i))
            continue;
        struct node_peer got[2][32];
        size_t ng[2] = {node_successors(o->h[i]->node, got[0], 32),
                        node_predecessors(o->h[i]->node, got[1], 32)};
        for (unsigned s = 0; s < 2; s++) {
            unsigned want = MIN(side, n_live - 1);
            bool ok = ng[s] == want;
            const struct id *prev = ID(o, i);
            for (unsigned k = 0; ok && k < want; k++) {
                /* The next live peer after prev on this side. */
                int best = -1;
                struct id bd = {0, 0};
                for (unsigned j = 0; j < o->n; j++) {
                    if (!live(o, j) || id_eq(ID(o, j), prev))
                        continue;
                    struct id d = s ? id_dist(ID(o, j), prev) : id_dist(prev, ID(o, j));
                    if (best < 0 || id_cmp(&d, &bd) < 0)
                        best = (int)j, bd = d;
                }
                ok = id_eq(&got[s][k].id, ID(o, (unsigned)best));
                prev = ID(o, (unsigned)best);
            }
            bad += !ok;
        }
    }
    return bad;
}

static void protocol_overlay(unsigned n, unsigned b, unsigned leaf_set)
{
    struct node_config cfg;
    bamboo_config(&cfg);
    cfg.bamboo.digit_bits = b;
    cfg.bamboo.leaf_set = leaf_set;
    struct overlay o;
    ov_init(&o, n, &cfg, NULL);
    ov_join_all(&o);
    for (unsigned i = 0; i < o.n; i++)
        CU_ASSERT_TRUE(node_is_joined(o.h[i]->node));
    CU_ASSERT_EQUAL(bad_leaf_sets(&o, leaf_set), 0);
    struct lookups r = ov_lookups(&o, 5 * n, 5 * ENV_S);
    CU_ASSERT_EQUAL(r.answered, r.issued);
    CU_ASSERT_EQUAL(r.wrong, 0);
    unsigned wrong;
    walk(&o, 400, &wrong, NULL, NULL);
    CU_ASSERT_EQUAL(wrong, 0);
    ov_free(&o);
}

/* With recovery off, the join protocol alone gives every peer, old and new, its exact leaf
 * set: the joining node learns it from the admitting peer and announces itself to it. */
static void test_join_builds_leaf_sets(void)
{
    struct node_config cfg;
    bamboo_config(&cfg);
    cfg.bamboo.leaf_set = 2;
    cfg.bamboo.leafset_interval = cfg.bamboo.table_interval = 0;
    struct overlay o;
    ov_init(&o, 16, &cfg, NULL);
    for (unsigned i = 0; i < o.n; i++) {
        CU_ASSERT_EQUAL_FATAL(node_join(o.h[i]->node, i ? &o.h[0]->addr : NULL), NODE_OK);
        fake_net_run_until(o.net, fake_net_now(o.net) + 2 * ENV_S);
        CU_ASSERT_TRUE(node_is_joined(o.h[i]->node));
        CU_ASSERT_EQUAL(bad_leaf_sets(&o, 2), 0);
    }
    ov_free(&o);
}

/* A key exactly half-way between two peers belongs to the one that follows it clockwise. */
static void test_tie(void)
{
    struct node_config cfg;
    bamboo_config(&cfg);
    struct id ids[3] = {{0x1000, 0}, {0x3000, 0}, {0x9000, 0}};
    struct overlay o;
    ov_init(&o, 3, &cfg, ids);
    ov_install(&o, NULL);
    struct id k = {0x2000, 0};
    for (unsigned i = 0; i < 3; i++) {
        struct topology *t = o.h[i]->node->topo;
        CU_ASSERT_EQUAL(t->ops->responsible(t, &k), i == 1);
    }
    CU_ASSERT_EQUAL(closest(&o, &k), 1);
    CU_ASSERT_EQUAL(node_lookup(o.h[2]->node, &k, 77), NODE_OK);
    fake_net_run_until(o.net, fake_net_now(o.net) + ENV_S);
    const struct env_event *ev = fake_host_last_event(o.h[2], ENV_EV_LOOKUP_DONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_TRUE(id_eq(&ev->responder, &ids[1]));
    ov_free(&o);
}

/* 12 peers join through the protocol (digits of 4 bits, the default leaf set). */
static void test_join_12(void)
{
    protocol_overlay(12, 4, 8);
}

/* Small leaf sets make the routing table, learnt while joining and by exploration, carry the
 * lookups: digits of 2 and of 4 bits. */
static void test_join_small_leaf_sets(void)
{
    protocol_overlay(24, 2, 2);
    protocol_overlay(24, 4, 2);
}

/* ---- storage, crash, leave ---------------------------------------------------------------- */

static int ov_store(struct overlay *o, unsigned via, const char *name, const char *value)
{
    struct id k = id_hash(name, strlen(name));
    struct node_value v = {.value = (const uint8_t *)value,
                           .value_len = (uint32_t)strlen(value),
                           .exists = true,
                           .lifetime = 3600};
    int status = 99;
    CU_ASSERT_EQUAL(node_store(o->h[via]->node, &k, NODE_KIND_VALUE, &v, 1, on_store, &status),
                    NODE_OK);
    fake_net_run_until(o->net, fake_net_now(o->net) + 20 * ENV_S);
    return status;
}

static struct fetch_result ov_fetch(struct overlay *o, unsigned via, const char *name)
{
    struct fetch_result f = {0};
    struct id k = id_hash(name, strlen(name));
    CU_ASSERT_EQUAL(node_fetch(o->h[via]->node, &k, NODE_KIND_VALUE, 2, on_fetch, &f), NODE_OK);
    fake_net_run_until(o->net, fake_net_now(o->net) + 20 * ENV_S);
    CU_ASSERT_EQUAL(f.calls, 1);
    return f;
}

static unsigned ov_holders(const struct overlay *o, const char *name)
{
    struct id k = id_hash(name, strlen(name));
    unsigned n = 0;
    for (unsigned i = 0; i < o->n; i++)
        n += live(o, i) && node_holds(o->h[i]->node, &k, NODE_KIND_VALUE);
    return n;
}

/* Peers joining an overlay that stores values take over the keys they become closest to. */
static void test_join_takes_over_keys(void)
{
    struct node_config cfg;
    bamboo_config(&cfg);
    cfg.bamboo.leaf_set = 3;
    struct overlay o;
    ov_init(&o, 24, &cfg, NULL);
    o.n = 12;
    ov_join_all(&o);
    char name[16];
    for (unsigned q = 0; q < 24; q++) {
        snprintf(name, sizeof name, "user-%u", q);
        CU_ASSERT_EQUAL(ov_store(&o, q % o.n, name, name), NODE_OK);
    }
    for (unsigned i = 12; i < 24; i++) {
        o.n = i + 1;
        CU_ASSERT_EQUAL(node_join(o.h[i]->node, &o.h[0]->addr), NODE_OK);
        fake_net_run_until(o.net, fake_net_now(o.net) + 2 * ENV_S);
    }
    fake_net_run_until(o.net, fake_net_now(o.net) + 10 * ENV_S);
    unsigned moved = 0;
    for (unsigned q = 0; q < 24; q++) {
        snprintf(name, sizeof name, "user-%u", q);
        struct id k = id_hash(name, strlen(name));
        unsigned owner = closest(&o, &k);
        moved += owner >= 12;
        CU_ASSERT_TRUE(node_holds(o.h[owner]->node, &k, NODE_KIND_VALUE));
        CU_ASSERT_TRUE(ov_holders(&o, name) >= 3); /* a former replica may keep its copy */
        struct fetch_result f = ov_fetch(&o, q % o.n, name);
        CU_ASSERT_EQUAL(f.status, NODE_OK);
        CU_ASSERT_STRING_EQUAL(f.value, name);
    }
    CU_ASSERT_TRUE(moved >= 6);
    ov_free(&o);
}

/* Store and fetch through node_store/node_fetch: the owner and its two replicas, one on each
 * side, hold the value; a second store bumps the generation. */
static void test_store_fetch(void)
{
    struct node_config cfg;
    bamboo_config(&cfg);
    cfg.bamboo.leaf_set = 4;
    struct overlay o;
    ov_init(&o, 16, &cfg, NULL);
    ov_install(&o, NULL);
    CU_ASSERT_EQUAL(ov_store(&o, 2, "alice", "sip:alice@10.0.0.3"), NODE_OK);
    struct fetch_result f = ov_fetch(&o, 9, "alice");
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_STRING_EQUAL(f.value, "sip:alice@10.0.0.3");
    CU_ASSERT_EQUAL(f.generation, 1);
    CU_ASSERT_EQUAL(ov_holders(&o, "alice"), 3);
    struct id k = id_hash("alice", 5);
    unsigned owner = closest(&o, &k);
    CU_ASSERT_TRUE(node_holds(o.h[owner]->node, &k, NODE_KIND_VALUE));
    struct node_peer s, p;
    CU_ASSERT_EQUAL_FATAL(node_successors(o.h[owner]->node, &s, 1), 1);
    CU_ASSERT_EQUAL_FATAL(node_predecessors(o.h[owner]->node, &p, 1), 1);
    for (unsigned i = 0; i < o.n; i++)
        if (id_eq(ID(&o, i), &s.id) || id_eq(ID(&o, i), &p.id))
            CU_ASSERT_TRUE(node_holds(o.h[i]->node, &k, NODE_KIND_VALUE));
    CU_ASSERT_EQUAL(ov_store(&o, 5, "alice", "sip:alice@10.0.0.9"), NODE_OK);
    f = ov_fetch(&o, 0, "alice");
    CU_ASSERT_STRING_EQUAL(f.value, "sip:alice@10.0.0.9");
    CU_ASSERT_EQUAL(f.generation, 2);
    f = ov_fetch(&o, 3, "nobody");
    CU_ASSERT_EQUAL(f.status, NODE_E_NOT_FOUND);
    ov_free(&o);
}

/* The owner of a stored key crashes (or leaves); recovery rebuilds every leaf set (a leaf set
 * of 3 per side over 48 peers, so the neighbours must learn peers they did not know), lookups
 * route around the failure, and the value is again held by three peers. */
static void repair(bool reactive, bool crash)
{
    struct node_config cfg;
    bamboo_config(&cfg);
    cfg.bamboo.leaf_set = 3;
    cfg.bamboo.reactive = reactive;
    struct overlay o;
    ov_init(&o, 48, &cfg, NULL);
    ov_install(&o, NULL);
    CU_ASSERT_EQUAL(ov_store(&o, 1, "bob", "sip:bob@10.0.0.2"), NODE_OK);
    CU_ASSERT_EQUAL(ov_holders(&o, "bob"), 3);
    struct id k = id_hash("bob", 3);
    unsigned owner = closest(&o, &k);
    if (crash) {
        o.h[owner]->down = true; /* no Leave, no handover */
    } else {
        struct node_peer leaves[6];
        size_t nl = node_successors(o.h[owner]->node, leaves, 3);
        nl += node_predecessors(o.h[owner]->node, leaves + nl, 3);
        node_leave(o.h[owner]->node);
        fake_net_run_until(o.net, fake_net_now(o.net) + ENV_S);
        o.h[owner]->down = true;
        /* A Leave is acted on at once, whatever the recovery mode: the leaves drop the leaver
         * from their whole routing state and refill their leaf sets. */
        fake_net_run_until(o.net, fake_net_now(o.net) + 2 * ENV_S);
        CU_ASSERT_EQUAL(bad_leaf_sets(&o, 3), 0);
        for (unsigned i = 0; i < o.n; i++)
            for (size_t j = 0; j < nl; j++)
                if (id_eq(ID(&o, i), &leaves[j].id)) {
                    struct node_peer rt[128];
                    size_t n = node_routing_table(o.h[i]->node, rt, 128);
                    for (size_t e = 0; e < n; e++)
                        CU_ASSERT_FALSE(id_eq(&rt[e].id, ID(&o, owner)));
                }
    }
    fake_net_run_until(o.net, fake_net_now(o.net) + (crash ? 300 : 60) * ENV_S);
    CU_ASSERT_EQUAL(bad_leaf_sets(&o, 3), 0);
    /* Lookups are right, even where a routing-table entry of the dead peer remains: the failed
     * hop is dropped and the retransmission routes around it. */
    struct lookups r = ov_lookups(&o, 60, 20 * ENV_S);
    CU_ASSERT_EQUAL(r.answered, r.issued);
    CU_ASSERT_EQUAL(r.wrong, 0);
    struct fetch_result f = ov_fetch(&o, (owner + 5) % o.n, "bob");
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_STRING_EQUAL(f.value, "sip:bob@10.0.0.2");
    CU_ASSERT_EQUAL(ov_holders(&o, "bob"), 3);
    ov_free(&o);
}

static void test_crash_periodic(void)
{
    repair(false, true);
}

static void test_crash_reactive(void)
{
    repair(true, true);
}

static void test_leave_periodic(void)
{
    repair(false, false);
}

static void test_leave_reactive(void)
{
    repair(true, false);
}

/* ---- maintenance: leaf-set push/pull, routing-table exploration, PNS, failed next hops ------ */

/* Digits of b bits (any b from 1 to 8), for checking routing-table cells. */
static unsigned id_bit(const struct id *x, unsigned i)
{
    return (unsigned)(i < 64 ? x->hi >> (63 - i) : x->lo >> (127 - i)) & 1;
}

static unsigned digit_b(const struct id *x, unsigned b, unsigned i)
{
    unsigned v = 0, w = MIN(b, 128 - i * b);
    for (unsigned k = 0; k < w; k++)
        v = v << 1 | id_bit(x, i * b + k);
    return v;
}

static unsigned shared_b(const struct id *x, const struct id *y, unsigned b)
{
    unsigned nd = (128 + b - 1) / b, i = 0;
    while (i < nd && digit_b(x, b, i) == digit_b(y, b, i))
        i++;
    return i;
}

/* Host indices sorted by Node-ID (order) and each host's place in that order (pos). */
static void ov_ring_order(const struct overlay *o, unsigned *order, unsigned *pos)
{
    for (unsigned i = 0; i < o->n; i++)
        order[i] = i;
    sort_ov = o;
    qsort(order, o->n, sizeof *order, by_id);
    for (unsigned k = 0; k < o->n; k++)
        pos[order[k]] = k;
}

/* Which peers each peer's installed view holds besides itself. */
typedef bool (*view_keep_fn)(const struct overlay *o, unsigned viewer, unsigned other, void *ud);

/* Installs at every peer a view of the peers keep() lets it see (no latencies). */
static void ov_install_partial(struct overlay *o, view_keep_fn keep, void *ud)
{
    unsigned *order = g_new(unsigned, o->n), *pos = g_new(unsigned, o->n);
    struct node_peer *peers = g_new(struct node_peer, o->n);
    ov_ring_order(o, order, pos);
    for (unsigned v = 0; v < o->n; v++) {
        unsigned viewer = order[v];
        size_t m = 0, self = 0;
        for (unsigned k = 0; k < o->n; k++) {
            unsigned j = order[k];
            if (j != viewer && !keep(o, viewer, j, ud))
                continue;
            if (j == viewer)
                self = m;
            peers[m].id = *ID(o, j);
            peers[m++].addr = o->h[j]->addr;
        }
        struct topology_view tv = {.peers = peers, .n = m, .self = self};
        node_install_view(o->h[viewer]->node, &tv);
    }
    g_free(peers);
    g_free(pos);
    g_free(order);
}

/* Runs the overlay in steps of `step` until bad(o, ud) is 0, for at most `limit`; returns the
 * time that took, or G_MAXUINT64 when it never happened. */
static env_time ov_converge(struct overlay *o, unsigned (*bad)(const struct overlay *, void *),
                            void *ud, env_time step, env_time limit)
{
    env_time t0 = fake_net_now(o->net);
    for (env_time t = 0; t <= limit; t += step) {
        if (bad(o, ud) == 0)
            return t;
        fake_net_run_until(o->net, t0 + t + step);
    }
    return G_MAXUINT64;
}

static unsigned leaf_sets_wrong(const struct overlay *o, void *side)
{
    return bad_leaf_sets(o, *(unsigned *)side);
}

/* Leaf-set push/pull (Bamboo §4.1; periodic recovery, the routing-table exploration off so
 * that nothing else repairs): six of 48 peers crash, three of them next to each other, so
 * that their neighbours must drop them and learn peers they never knew (leaf sets of three per
 * side).  Every live peer's leaf set becomes exactly the nearest live peers within 30
 * leafset_interval periods: a peer detects a dead leaf when its turn picks it (1 in 6 per
 * period; for the 36 pairs of a peer and a dead leaf, all within 30 periods with probability
 * 0.96) and the pulls bring the peers behind it.  Without the push/pull the dead leaves stay
 * for ever. */
static void test_leafset_pushpull_crashes(void)
{
    struct node_config cfg;
    bamboo_config(&cfg);
    cfg.bamboo.leaf_set = 3;
    cfg.bamboo.table_interval = 0;
    struct overlay o;
    ov_init(&o, 48, &cfg, NULL);
    ov_install(&o, NULL);
    unsigned order[48], pos[48], side = 3;
    ov_ring_order(&o, order, pos);
    static const unsigned crash_at[] = {5, 6, 7, 20, 33, 41}; /* places on the ring */
    for (unsigned c = 0; c < G_N_ELEMENTS(crash_at); c++)
        o.h[order[crash_at[c]]]->down = true;
    CU_ASSERT_TRUE(bad_leaf_sets(&o, side) > 0);
    env_time took = ov_converge(&o, leaf_sets_wrong, &side, cfg.bamboo.leafset_interval,
                                30 * cfg.bamboo.leafset_interval);
    CU_ASSERT_TRUE(took <= 30 * cfg.bamboo.leafset_interval);
    if (took != G_MAXUINT64)
        printf("\n    leaf sets exact %.0f s (%.1f periods) after 6 crashes ", (double)took / ENV_S,
               (double)took / cfg.bamboo.leafset_interval);
    ov_free(&o);
}

struct missed_join {
    unsigned joiner; /* the host some peers do not know */
    unsigned only;   /* the one host that missed it, or UINT_MAX: everybody but the joiner */
};

static bool keep_but_joiner(const struct overlay *o, unsigned viewer, unsigned other, void *ud)
{
    const struct missed_join *m = ud;
    return other != m->joiner || (m->only != UINT_MAX && viewer != m->only);
}

/* A peer that missed a join learns of the new peer by push/pull alone (table exploration
 * off): (1) one neighbour of the joiner lacks it, and learns it from the leaf sets its
 * neighbours send back (the pull) or from the joiner's push; (2) no peer but the joiner itself
 * knows it, so only its pushes can make it known, and the pulls then spread it.  Within 12
 * leafset_interval periods every leaf set is exact. */
static void test_leafset_missed_join(void)
{
    for (unsigned only = 0; only < 2; only++) {
        struct node_config cfg;
        bamboo_config(&cfg);
        cfg.bamboo.leaf_set = 3;
        cfg.bamboo.table_interval = 0;
        struct overlay o;
        ov_init(&o, 32, &cfg, NULL);
        unsigned order[32], pos[32], side = 3;
        ov_ring_order(&o, order, pos);
        struct missed_join m = {.joiner = order[10], .only = only ? order[11] : UINT_MAX};
        ov_install_partial(&o, keep_but_joiner, &m);
        CU_ASSERT_EQUAL(bad_leaf_sets(&o, side), only ? 1 : 2 * side);
        env_time took =
            ov_converge(&o, leaf_sets_wrong, &side, ENV_S, 12 * cfg.bamboo.leafset_interval);
        CU_ASSERT_TRUE(took <= 12 * cfg.bamboo.leafset_interval);
        if (took != G_MAXUINT64)
            printf("\n    missed join (%s): leaf sets exact after %.0f s ",
                   only ? "one peer" : "all peers", (double)took / ENV_S);
        ov_free(&o);
    }
}

/* Routing-table cells against the truth: for every live peer and every cell, the live peers
 * that fit it (share exactly `row` digits with the peer, digit `row` = the column).  A cell
 * must hold one of them when there is any and be empty when there is none. */
struct cell_check {
    unsigned b;
    unsigned stale; /* cells holding a crashed peer or one that does not fit */
    unsigned empty; /* empty cells that have a live candidate */
};

static int host_of(const struct overlay *o, const struct id *id)
{
    for (unsigned j = 0; j < o->n; j++)
        if (id_eq(ID(o, j), id))
            return (int)j;
    return -1;
}

static unsigned cells_wrong(const struct overlay *o, void *ud)
{
    struct cell_check *cc = ud;
    unsigned b = cc->b, nd = (128 + b - 1) / b;
    static bool has[128][256];
    cc->stale = cc->empty = 0;
    for (unsigned i = 0; i < o->n; i++) {
        if (!live(o, i))
            continue;
        memset(has, 0, sizeof has);
        for (unsigned j = 0; j < o->n; j++)
            if (j != i && live(o, j)) {
                unsigned r = shared_b(ID(o, i), ID(o, j), b);
                has[r][digit_b(ID(o, j), b, r)] = true;
            }
        struct topology *t = o->h[i]->node->topo;
        for (unsigned r = 0; r < nd; r++)
            for (unsigned c = 0; c < (1u << MIN(b, 128 - r * b)); c++) {
                if (c == digit_b(ID(o, i), b, r))
                    continue;
                struct node_peer e;
                bool used = bamboo_table_entry(t, r, c, &e);
                if (!used) {
                    cc->empty += has[r][c];
                    continue;
                }
                int j = host_of(o, &e.id);
                cc->stale += j < 0 || !live(o, (unsigned)j) || shared_b(ID(o, i), &e.id, b) != r ||
                             digit_b(&e.id, b, r) != c;
            }
    }
    return cc->stale + cc->empty;
}

/* Views that lack a third of the peers (never a leaf-set neighbour): cells whose candidates
 * were all left out are empty. */
static bool keep_two_thirds(const struct overlay *o, unsigned viewer, unsigned other, void *ud)
{
    const unsigned *pos = ud;
    unsigned d = (pos[other] + o->n - pos[viewer]) % o->n;
    if (d <= 2 || o->n - d <= 2)
        return true;
    return (viewer * 7 + other * 13) % 3 != 0;
}

/* Routing-table exploration (Bamboo §4.2; leaf-set push/pull off, so nothing else looks for
 * peers): 64 peers with digits of 2 bits, views missing a third of the peers, then 6 crashes.
 * Within 150 table_interval periods every cell of every live peer is right: entries of
 * crashed peers are gone or replaced, and every cell that has a live candidate holds one (a
 * peer picks one of about 15 cells per period, so a given cell waits 15 periods on average).
 * With PNS (an occupied cell is also explored by an Attach) and without it. */
static void test_table_exploration(void)
{
    for (unsigned pns = 0; pns < 2; pns++) {
        struct node_config cfg;
        bamboo_config(&cfg);
        cfg.bamboo.digit_bits = 2;
        cfg.bamboo.leaf_set = 2;
        cfg.bamboo.leafset_interval = 0;
        cfg.bamboo.pns = pns;
        struct overlay o;
        ov_init(&o, 64, &cfg, NULL);
        unsigned order[64], pos[64];
        ov_ring_order(&o, order, pos);
        ov_install_partial(&o, keep_two_thirds, pos);
        struct cell_check cc = {.b = 2};
        CU_ASSERT_EQUAL(cells_wrong(&o, &cc), cc.empty);
        unsigned empty0 = cc.empty;
        for (unsigned c = 0; c < 6; c++)
            o.h[order[3 + 10 * c]]->down = true;
        cells_wrong(&o, &cc);
        CU_ASSERT_TRUE(empty0 > 10 && cc.stale > 20);
        unsigned stale0 = cc.stale;
        env_time took = ov_converge(&o, cells_wrong, &cc, cfg.bamboo.table_interval,
                                    150 * cfg.bamboo.table_interval);
        CU_ASSERT_TRUE(took <= 150 * cfg.bamboo.table_interval);
        if (took != G_MAXUINT64)
            printf("\n    exploration (pns %u): %u stale and %u empty cells right after %.0f "
                   "periods ",
                   pns, stale0, empty0, (double)took / cfg.bamboo.table_interval);
        /* And lookups are right over the explored tables. */
        struct lookups r = ov_lookups(&o, 200, 20 * ENV_S);
        CU_ASSERT_EQUAL(r.answered, r.issued);
        CU_ASSERT_EQUAL(r.wrong, 0);
        ov_free(&o);
    }
}

static env_time fake_coord_latency(void *ud, unsigned a, unsigned b)
{
    return coord_latency(ud, a, b);
}

/* PNS by exploration: peers on a 150 x 150 ms plane; the installed views carry no latencies, so
 * each cell starts with its first candidate in id order.  Exploring a cell offers it the
 * connected peers with an RTT estimate, probes its entry and looks for a new candidate, which
 * is probed in turn; the lower RTT wins.  After 40 table_interval periods the RTTs each node
 * has are noted; 150 periods later (by then every cell has been explored again: about 15 cells
 * per peer, one per period) every entry is at least as near as each of the cell's peers the
 * node had an RTT for then and still has (an idle connection may have been pruned meanwhile),
 * and entries are much nearer on average than at the start. */
static void test_pns_exploration(void)
{
    static struct coords c;
    static bool measured[64][64];
    random_coords(&c, 64, 11);
    struct node_config cfg;
    bamboo_config(&cfg);
    cfg.bamboo.digit_bits = 2;
    cfg.bamboo.leaf_set = 2;
    cfg.bamboo.leafset_interval = 0;
    struct overlay o;
    ov_init(&o, 64, &cfg, NULL);
    fake_net_set_latency(o.net, fake_coord_latency, &c);
    ov_install(&o, NULL);
    double lat[2] = {0, 0};
    unsigned n_cells[2] = {0, 0}, worse = 0, known = 0;
    for (unsigned phase = 0; phase < 2; phase++) {
        if (phase) {
            fake_net_run_until(o.net, fake_net_now(o.net) + 40 * cfg.bamboo.table_interval);
            for (unsigned i = 0; i < o.n; i++)
                for (unsigned j = 0; j < o.n; j++) {
                    env_time srtt, var;
                    measured[i][j] = j != i && node_peer_rtt(o.h[i]->node, ID(&o, j), &srtt, &var);
                }
            fake_net_run_until(o.net, fake_net_now(o.net) + 150 * cfg.bamboo.table_interval);
        }
        for (unsigned i = 0; i < o.n; i++) {
            struct topology *t = o.h[i]->node->topo;
            for (unsigned r = 0; r < 64; r++)
                for (unsigned col = 0; col < 4; col++) {
                    struct node_peer e;
                    if (!bamboo_table_entry(t, r, col, &e))
                        continue;
                    unsigned ej = (unsigned)host_of(&o, &e.id);
                    lat[phase] += (double)coord_latency(&c, i, ej) / ENV_MS;
                    n_cells[phase]++;
                    for (unsigned j = 0; phase && j < o.n; j++) {
                        env_time srtt, var;
                        if (!measured[i][j] || shared_b(ID(&o, i), ID(&o, j), 2) != r ||
                            digit_b(ID(&o, j), 2, r) != col ||
                            !node_peer_rtt(o.h[i]->node, ID(&o, j), &srtt, &var))
                            continue;
                        known++;
                        worse += coord_latency(&c, i, j) < coord_latency(&c, i, ej);
                    }
                }
        }
    }
    printf("\n    PNS by exploration: mean entry latency %.1f ms -> %.1f ms; %u of %u measured "
           "candidates nearer than the entry ",
           lat[0] / n_cells[0], lat[1] / n_cells[1], worse, known);
    CU_ASSERT_TRUE(known > 200);
    CU_ASSERT_EQUAL(worse, 0);
    CU_ASSERT_TRUE(lat[1] / n_cells[1] < 0.75 * lat[0] / n_cells[0]);
    ov_free(&o);
}

/* The lookup of key k from host `from`; returns its LOOKUP_DONE event (fails when none). */
static const struct env_event *one_lookup(struct overlay *o, unsigned from, const struct id *k)
{
    uint64_t cookie = o->cookie++;
    CU_ASSERT_EQUAL(node_lookup(o->h[from]->node, k, cookie), NODE_OK);
    fake_net_run_until(o->net, fake_net_now(o->net) + 10 * ENV_S);
    const struct env_event *ev = fake_host_last_event(o->h[from], ENV_EV_LOOKUP_DONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_EQUAL(ev->cookie, cookie);
    return ev;
}

/* Pings `to` from host `from` a few times, so that the link has an RTT estimate. */
static void warm_link(struct overlay *o, unsigned from, const struct id *to)
{
    for (unsigned i = 0; i < 8; i++) {
        GByteArray *b = g_byte_array_new();
        struct wire_ping_req ping = {{NULL, 0}};
        wire_encode_ping_req(b, &ping);
        struct node_dest d = {WIRE_DEST_NODE, *to};
        node_request(o->h[from]->node, &d, 1, WIRE_PING_REQ, b, NULL, NULL, NULL);
        g_byte_array_free(b, TRUE);
        fake_net_run_until(o->net, fake_net_now(o->net) + ENV_S);
    }
}

static env_time slow_link_latency(void *ud, unsigned a, unsigned b)
{
    const unsigned *pair = ud;
    bool slow = (a == pair[0] && b == pair[1]) || (a == pair[1] && b == pair[0]);
    return slow ? 150 * ENV_MS : LAT;
}

/* Hop-by-hop recovery with per-neighbour timeouts (Bamboo §5.2): a lookup whose first hop has
 * crashed is resent after bamboo_timeout() of that hop, link_fail_after times in all, then
 * routed around it, and reaches the right peer long before the end-to-end retransmission
 * (3 s) would.  The timeout follows the hop's RTT: 100 ms (the floor) on a 40 ms round trip,
 * about 0.4 s on a 300 ms one.  A lost first datagram costs one such timeout. */
static void test_failed_next_hop(void)
{
    for (unsigned slow = 0; slow < 2; slow++) {
        struct node_config cfg;
        bamboo_config(&cfg);
        cfg.bamboo.leafset_interval = cfg.bamboo.table_interval = 0; /* no other traffic */
        struct overlay o;
        ov_init(&o, 64, &cfg, NULL);
        ov_install(&o, NULL);
        /* A key whose first hop from host 0 is not its owner. */
        struct topology *t = o.h[0]->node->topo;
        struct node_peer hop;
        struct id k;
        unsigned q = 0, via = 0;
        for (;; q++) {
            k = key_of("detour", q);
            CU_ASSERT_FATAL(q < 1000);
            if (t->ops->responsible(t, &k) || !t->ops->next_hop(t, &k, &hop))
                continue;
            via = (unsigned)host_of(&o, &hop.id);
            if (via != closest(&o, &k))
                break;
        }
        unsigned pair[2] = {0, via};
        if (slow)
            fake_net_set_latency(o.net, slow_link_latency, pair);
        warm_link(&o, 0, &hop.id);
        env_time rto = bamboo_timeout(t, &hop.id), srtt, var;
        CU_ASSERT_TRUE_FATAL(node_peer_rtt(o.h[0]->node, &hop.id, &srtt, &var));
        CU_ASSERT_EQUAL(srtt, slow ? 300 * ENV_MS : 40 * ENV_MS);
        CU_ASSERT_EQUAL(rto, MAX(srtt + MAX(10 * ENV_MS, 4 * var), cfg.bamboo.rto_floor));
        /* Normal: the path's latency, no retransmission. */
        const struct env_event *ev = one_lookup(&o, 0, &k);
        CU_ASSERT_EQUAL(ev->status, NODE_OK);
        env_time normal = ev->latency;
        /* The first datagram is lost: one hop timeout later it goes again. */
        rto = bamboo_timeout(t, &hop.id);
        fake_net_drop_next(o.net, 1);
        ev = one_lookup(&o, 0, &k);
        CU_ASSERT_EQUAL(ev->status, NODE_OK);
        CU_ASSERT_TRUE(ev->latency >= normal + rto && ev->latency <= normal + rto + 20 * ENV_MS);
        env_time lost = ev->latency;
        /* The first hop crashes. */
        rto = bamboo_timeout(t, &hop.id);
        o.h[via]->down = true;
        ev = one_lookup(&o, 0, &k);
        CU_ASSERT_EQUAL(ev->status, NODE_OK);
        CU_ASSERT_TRUE(id_eq(&ev->responder, ID(&o, closest(&o, &k))));
        CU_ASSERT_TRUE(ev->latency >= cfg.link_fail_after * rto);
        CU_ASSERT_TRUE(ev->latency < cfg.link_fail_after * rto + normal + 200 * ENV_MS);
        printf("\n    first hop %s (rto %.0f ms): lookup %.0f ms, lost datagram %.0f ms, "
               "crashed hop %.0f ms ",
               slow ? "300 ms away" : "40 ms away", (double)rto / ENV_MS, (double)normal / ENV_MS,
               (double)lost / ENV_MS, (double)ev->latency / ENV_MS);
        /* The dead hop is gone from host 0's state. */
        struct node_peer rt[128];
        size_t n = node_routing_table(o.h[0]->node, rt, 128);
        for (size_t e = 0; e < n; e++)
            CU_ASSERT_FALSE(id_eq(&rt[e].id, ID(&o, via)));
        ov_free(&o);
    }
}

/* ---- timeouts, codec, malformed input -------------------------------------------------------- */

static void test_timeout(void)
{
    struct node_config cfg;
    bamboo_config(&cfg);
    struct overlay o;
    ov_init(&o, 16, &cfg, NULL);
    ov_install(&o, NULL);
    struct topology *t = o.h[0]->node->topo;
    /* No sample and no latency estimate: RFC 6298's initial 1 s. */
    struct node_peer s;
    CU_ASSERT_EQUAL_FATAL(node_successors(o.h[0]->node, &s, 1), 1);
    CU_ASSERT_EQUAL(bamboo_timeout(t, &s.id), ENV_S);
    /* After traffic: srtt + 4 rttvar of the link layer's estimate (40 ms round trips). */
    for (unsigned i = 0; i < 8; i++) {
        GByteArray *b = g_byte_array_new();
        struct wire_ping_req ping = {{NULL, 0}};
        wire_encode_ping_req(b, &ping);
        struct node_dest d = {WIRE_DEST_NODE, s.id};
        node_request(o.h[0]->node, &d, 1, WIRE_PING_REQ, b, NULL, NULL, NULL);
        g_byte_array_free(b, TRUE);
        fake_net_run_until(o.net, fake_net_now(o.net) + ENV_S);
    }
    env_time srtt, var;
    CU_ASSERT_TRUE_FATAL(node_peer_rtt(o.h[0]->node, &s.id, &srtt, &var));
    CU_ASSERT_EQUAL(srtt, 40 * ENV_MS);
    CU_ASSERT_EQUAL(bamboo_timeout(t, &s.id), MAX(srtt + 4 * var, cfg.bamboo.rto_floor));
    /* The floor and the cap (in cfg, which the nodes borrow; restored for the next overlay). */
    env_time floor0 = cfg.bamboo.rto_floor, cap0 = cfg.bamboo.rto_cap;
    cfg.bamboo.rto_floor = 2 * ENV_S;
    cfg.bamboo.rto_cap = 3 * ENV_S;
    CU_ASSERT_EQUAL(bamboo_timeout(t, &s.id), 2 * ENV_S);
    cfg.bamboo.rto_floor = 10 * ENV_MS;
    cfg.bamboo.rto_cap = 20 * ENV_MS;
    CU_ASSERT_EQUAL(bamboo_timeout(t, &s.id), 20 * ENV_MS);
    cfg.bamboo.rto_floor = floor0;
    cfg.bamboo.rto_cap = cap0;
    ov_free(&o);
    /* From the view's latency before any sample: srtt 2 x 30 ms, rttvar half of it.  Peer 0
     * is 30 ms from everyone, so each cell holds its candidate of smallest id. */
    static struct coords c;
    for (unsigned i = 0; i < 16; i++)
        c.x[i] = c.y[i] = 0;
    c.x[0] = 29;
    ov_init(&o, 16, &cfg, NULL);
    ov_install(&o, &c);
    t = o.h[0]->node->topo;
    unsigned checked = 0;
    for (unsigned j = 1; j < o.n; j++) {
        unsigned row = nibbles_shared(ID(&o, 0), ID(&o, j));
        bool first = true;
        for (unsigned q = 1; q < o.n; q++)
            if (nibbles_shared(ID(&o, 0), ID(&o, q)) == row &&
                nibble(ID(&o, q), row) == nibble(ID(&o, j), row) &&
                id_cmp(ID(&o, q), ID(&o, j)) < 0)
                first = false;
        CU_ASSERT_EQUAL(bamboo_timeout(t, ID(&o, j)), first ? 180 * ENV_MS : ENV_S);
        checked += first;
    }
    CU_ASSERT_TRUE(checked > 3);
    ov_free(&o);
}

static void test_codec(void)
{
    struct id leaf[3] = {{1, 2}, {3, 4}, {5, 6}}, table[2] = {{7, 8}, {9, 10}};
    GByteArray *b = g_byte_array_new();
    bamboo_encode_update(b, BAMBOO_UPDATE_FULL, leaf, 3, table, 2);
    CU_ASSERT_EQUAL(b->len, 1 + 2 + 48 + 2 + 32);
    struct bamboo_update u;
    CU_ASSERT_EQUAL_FATAL(bamboo_decode_update(b->data, b->len, &u), 0);
    CU_ASSERT_EQUAL(u.type, BAMBOO_UPDATE_FULL);
    CU_ASSERT_EQUAL(u.n_leaf, 3);
    CU_ASSERT_EQUAL(u.n_table, 2);
    struct id x = id_from_bytes(u.leaf + 2 * ID_BYTES), y = id_from_bytes(u.table + ID_BYTES);
    CU_ASSERT_TRUE(id_eq(&x, &leaf[2]));
    CU_ASSERT_TRUE(id_eq(&y, &table[1]));
    /* Every truncation fails, and so does a trailing byte. */
    for (guint l = 0; l < b->len; l++)
        CU_ASSERT_TRUE(bamboo_decode_update(b->data, l, &u) < 0);
    g_byte_array_append(b, (const uint8_t *)"x", 1);
    CU_ASSERT_EQUAL(bamboo_decode_update(b->data, b->len, &u), WIRE_E_INVALID);
    g_byte_array_set_size(b, b->len - 1);
    /* An unknown type; a list length that is not a multiple of 16. */
    b->data[0] = 9;
    CU_ASSERT_EQUAL(bamboo_decode_update(b->data, b->len, &u), WIRE_E_INVALID);
    b->data[0] = BAMBOO_UPDATE_FULL;
    b->data[2] = 47;
    CU_ASSERT_TRUE(bamboo_decode_update(b->data, b->len, &u) < 0);
    /* A leaf_set Update carries no routing table. */
    g_byte_array_set_size(b, 0);
    bamboo_encode_update(b, BAMBOO_UPDATE_LEAF_SET, leaf, 3, NULL, 0);
    CU_ASSERT_EQUAL(bamboo_decode_update(b->data, b->len, &u), 0);
    CU_ASSERT_EQUAL(u.n_table, 0);
    b->data[b->len - 1] = 16;
    g_byte_array_append(b, b->data + 3, 16);
    CU_ASSERT_EQUAL(bamboo_decode_update(b->data, b->len, &u), WIRE_E_INVALID);
    /* Too many leaf ids. */
    uint8_t big[3 + 65 * ID_BYTES + 2] = {BAMBOO_UPDATE_LEAF_SET, (65 * ID_BYTES) >> 8,
                                          (65 * ID_BYTES) & 0xff};
    CU_ASSERT_EQUAL(bamboo_decode_update(big, sizeof big, &u), WIRE_E_TOO_MANY);
    /* Random bytes never crash the decoder. */
    uint64_t r = 99;
    for (unsigned t = 0; t < 2000; t++) {
        uint8_t junk[80];
        for (size_t i = 0; i < sizeof junk; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            junk[i] = (uint8_t)(r >> 56);
        }
        junk[0] = (uint8_t)(1 + t % 2);
        junk[1] = 0;
        bamboo_decode_update(junk, 1 + t % sizeof junk, &u);
    }
    g_byte_array_free(b, TRUE);
}

static unsigned invalid_answers, other_answers;

static void count_refusal(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct wire_error e;
    if (status == NODE_E_REFUSED && wire_decode_error(resp->body.p, resp->body.len, &e) == 0 &&
        e.code == WIRE_ERR_INVALID_MESSAGE)
        invalid_answers++;
    else
        other_answers++;
}

/* Malformed Update and Leave bodies are answered with Error_Invalid_Message, change nothing,
 * and the overlay keeps routing. */
static void test_malformed(void)
{
    struct node_config cfg;
    bamboo_config(&cfg);
    struct overlay o;
    ov_init(&o, 6, &cfg, NULL);
    ov_install(&o, NULL);
    static const struct {
        const char *bytes;
        unsigned len;
    } bad_updates[] = {
        {"", 0},
        {"\x01", 1},
        {"\x07\x00\x00\x00\x00", 5},
        {"\x01\x00\x10", 3},
        {"\x01\x00\x05xxxxx\x00\x00", 10},
        {"\x01\x00\x00\x00\x10xxxxxxxxxxxxxxxx", 21},
        {"\x02\x00\x00\x00\x00z", 6},
        {"\x02\xff\xff", 3},
    };
    invalid_answers = other_answers = 0;
    struct node_dest d = {WIRE_DEST_NODE, *ID(&o, 3)};
    for (unsigned i = 0; i < G_N_ELEMENTS(bad_updates); i++) {
        GByteArray *b = g_byte_array_new();
        g_byte_array_append(b, (const uint8_t *)bad_updates[i].bytes, bad_updates[i].len);
        node_request(o.h[0]->node, &d, 1, WIRE_UPDATE_REQ, b, NULL, count_refusal, NULL);
        g_byte_array_free(b, TRUE);
    }
    /* A Leave whose overlay data is not a list of Node-IDs. */
    GByteArray *b = g_byte_array_new(), *osd = g_byte_array_new();
    g_byte_array_append(osd, (const uint8_t *)"\x00\x11zzzzzzzzzzzzzzzzz", 19);
    struct wire_leave_req lr = {.leaving = *ID(&o, 0), .overlay_data = {osd->data, osd->len}};
    wire_encode_leave_req(b, &lr);
    node_request(o.h[0]->node, &d, 1, WIRE_LEAVE_REQ, b, NULL, count_refusal, NULL);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(osd, TRUE);
    fake_net_run_until(o.net, fake_net_now(o.net) + 5 * ENV_S);
    CU_ASSERT_EQUAL(invalid_answers, G_N_ELEMENTS(bad_updates) + 1);
    CU_ASSERT_EQUAL(other_answers, 0);
    /* Peer 3 still has peer 0 (the Leave was refused) and routes correctly. */
    struct node_peer rt[16];
    size_t n = node_routing_table(o.h[3]->node, rt, 16);
    bool has0 = false;
    for (size_t i = 0; i < n; i++)
        has0 |= id_eq(&rt[i].id, ID(&o, 0));
    CU_ASSERT_TRUE(has0);
    struct lookups r = ov_lookups(&o, 30, 5 * ENV_S);
    CU_ASSERT_EQUAL(r.wrong, 0);
    CU_ASSERT_EQUAL(r.answered, r.issued);
    ov_free(&o);
}

/* A lone peer answers everything itself; a second one joins through it. */
static void test_alone_then_two(void)
{
    struct node_config cfg;
    bamboo_config(&cfg);
    struct overlay o;
    ov_init(&o, 2, &cfg, NULL);
    CU_ASSERT_EQUAL(node_join(o.h[0]->node, NULL), NODE_OK);
    CU_ASSERT_TRUE(node_is_joined(o.h[0]->node));
    struct lookups r = ov_lookups(&o, 1, ENV_S);
    CU_ASSERT_EQUAL(r.answered, 1);
    CU_ASSERT_EQUAL(r.mean_hops, 0);
    CU_ASSERT_EQUAL(node_join(o.h[1]->node, &o.h[0]->addr), NODE_OK);
    fake_net_run_until(o.net, fake_net_now(o.net) + 5 * ENV_S);
    CU_ASSERT_TRUE(node_is_joined(o.h[1]->node));
    CU_ASSERT_EQUAL(bad_leaf_sets(&o, 8), 0);
    r = ov_lookups(&o, 20, 2 * ENV_S);
    CU_ASSERT_EQUAL(r.answered, 20);
    CU_ASSERT_EQUAL(r.wrong, 0);
    ov_free(&o);
}

/* ---- churn: a peer that comes back with its Node-ID ----------------------------------------- */

/* What crosses the network (fake_net_set_tap): data frames, the longest via list, and frames
 * whose via list names a peer twice (a message that came back to a peer it had crossed). */
struct via_tap {
    struct wire_header *h;
    unsigned frames, revisits, max_via;
};

static void via_tap(void *ud, unsigned from, const uint8_t *buf, size_t len)
{
    struct via_tap *v = ud;
    struct wire_frame f;
    size_t hl;
    if (wire_decode_frame(buf, len, &f) < 0 || f.type != WIRE_FRAME_DATA ||
        wire_decode_header(f.message.p, f.message.len, v->h, &hl) < 0)
        return;
    v->frames++;
    v->max_via = MAX(v->max_via, (unsigned)v->h->n_via);
    struct id ids[WIRE_MAX_LIST];
    bool again = false;
    for (unsigned i = 0; i < v->h->n_via && !again; i++) {
        if (wire_dest_id(&v->h->via[i], &ids[i]) < 0)
            continue;
        for (unsigned j = 0; j < i && !again; j++)
            again = id_eq(&ids[i], &ids[j]);
    }
    v->revisits += again;
}

/* A peer crashes and comes straight back with the same Node-ID and address, before anyone
 * noticed the crash: its neighbours keep it in their state (it acknowledges their frames) and
 * route to it what it is closest to, its own join Attach included, while it is still joining.
 * It must neither pass such messages back and forth with them until their TTL runs out (the
 * ping-pong that multiplied Bamboo's maintenance traffic under churn) nor stay joining: it
 * joins within three join attempts, no message crosses a peer twice, and no via list grows
 * longer than in the same overlay before the restart.  Lookups of its keys run throughout. */
static void test_restart_same_id(void)
{
    struct node_config cfg;
    bamboo_config(&cfg);
    struct overlay o;
    ov_init(&o, 40, &cfg, NULL);
    ov_install(&o, NULL);
    struct via_tap tap = {g_new(struct wire_header, 1), 0, 0, 0};
    fake_net_set_tap(o.net, via_tap, &tap);
    /* The stable overlay: lookups and maintenance, for the longest via list it needs. */
    struct lookups r = ov_lookups(&o, 80, 60 * ENV_S);
    CU_ASSERT_EQUAL(r.answered, r.issued);
    CU_ASSERT_EQUAL(r.wrong, 0);
    unsigned stable_via = tap.max_via;
    CU_ASSERT_EQUAL(tap.revisits, 0);
    /* Peer x restarts; it joins through the peer opposite it on the ring, outside its leaf
     * set, so the join Attach has to be routed towards x's id. */
    unsigned order[40], pos[40];
    ov_ring_order(&o, order, pos);
    unsigned x = 7, b = order[(pos[x] + o.n / 2) % o.n];
    struct id xid = *ID(&o, x);
    node_free(o.h[x]->node);
    o.h[x]->node = bamboo_node_new(o.h[x], &cfg, &xid);
    env_time t0 = fake_net_now(o.net), joined = 0;
    CU_ASSERT_EQUAL_FATAL(node_join(o.h[x]->node, &o.h[b]->addr), NODE_OK);
    for (unsigned s = 0; s < 90; s++) {
        unsigned from = (x + 1 + s % (o.n - 1)) % o.n;
        struct id off = {0, s + 1}, k = id_add(&xid, &off); /* x is the closest to k */
        CU_ASSERT_EQUAL(node_lookup(o.h[from]->node, &k, o.cookie++), NODE_OK);
        fake_net_run_until(o.net, fake_net_now(o.net) + ENV_S);
        if (!joined && node_is_joined(o.h[x]->node))
            joined = fake_net_now(o.net) - t0;
    }
    CU_ASSERT_TRUE(joined > 0 && joined <= 3 * 20 * ENV_S);
    CU_ASSERT_EQUAL(tap.revisits, 0);
    /* One hop more than before: the join Attach enters through the bootstrap. */
    CU_ASSERT_TRUE(tap.max_via <= stable_via + 1);
    /* Once it has joined, x answers for its keys again and the overlay routes right. */
    r = ov_lookups(&o, 80, 20 * ENV_S);
    CU_ASSERT_EQUAL(r.answered, r.issued);
    CU_ASSERT_EQUAL(r.wrong, 0);
    unsigned right = 0;
    for (unsigned q = 0; q < 10; q++) {
        struct id off = {0, 1000 + q}, k = id_add(&xid, &off);
        const struct env_event *ev = one_lookup(&o, (x + 1 + 3 * q) % o.n, &k);
        right += ev->status == NODE_OK && id_eq(&ev->responder, &xid);
    }
    CU_ASSERT_EQUAL(right, 10);
    if (joined > 0)
        printf("\n    restart with the same Node-ID: joined after %.1f s, %u frames, %u revisits, "
               "longest via list %u (stable %u)\n",
               (double)joined / ENV_S, tap.frames, tap.revisits, tap.max_via, stable_via);
    fake_net_set_tap(o.net, NULL, NULL);
    g_free(tap.h);
    ov_free(&o);
}

CU_TestInfo test_bamboo_tests[] = {
    {"BambooUpdate encodes, decodes and refuses malformed bodies", test_codec},
    {"a lone peer, then a second one joining", test_alone_then_two},
    {"installed views of 16, 64, 256 peers: lookups reach the closest peer", test_view_lookups},
    {"installed views of 1024 and 4096 peers: hops near log16 N", test_view_hops_large},
    {"digits of 1 to 8 bits, partial last digit", test_digit_sizes},
    {"proximity neighbour selection picks the nearest candidate", test_pns},
    {"a key half-way between two peers goes to the one after it", test_tie},
    {"12 peers join through the protocol and route correctly", test_join_12},
    {"the join protocol alone builds exact leaf sets", test_join_builds_leaf_sets},
    {"joining peers take over their keys", test_join_takes_over_keys},
    {"small leaf sets: the routing table carries lookups (b = 2, 4)", test_join_small_leaf_sets},
    {"store and fetch with replicas on both sides", test_store_fetch},
    {"a crash is repaired by periodic recovery", test_crash_periodic},
    {"a crash is repaired by reactive recovery", test_crash_reactive},
    {"a leave is repaired (periodic)", test_leave_periodic},
    {"a leave is repaired (reactive)", test_leave_reactive},
    {"leaf-set push/pull repairs every leaf set after crashes", test_leafset_pushpull_crashes},
    {"a peer that missed a join learns it by push/pull", test_leafset_missed_join},
    {"table exploration replaces dead entries and fills empty cells", test_table_exploration},
    {"PNS by exploration: each entry the nearest known candidate", test_pns_exploration},
    {"a crashed or lossy next hop: retried after its RTO, routed around", test_failed_next_hop},
    {"timeouts from RTT estimates, floor and cap", test_timeout},
    {"malformed Update and Leave bodies are refused", test_malformed},
    {"a peer back with its Node-ID before its crash was noticed: no ping-pong, it rejoins",
     test_restart_same_id},
    CU_TEST_INFO_NULL,
};
