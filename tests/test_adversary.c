/* test_adversary.c — suites "adversary" (core/adversary.c: hostile nodes, a simulation
 * feature) and "redundant" (core/redundant.c: lookups and fetches over several paths, after
 * Castro et al., OSDI 2002, §4.3), on CHORD-RELOAD rings of the fake environment.
 *
 * Hostile nodes are chosen by index; their configuration is the honest one plus the
 * adversary block.  Nodes join one after the other through node 0 (RFC 6940 §10.5); a ring
 * whose hostile nodes drop what they forward has them join last, so that the attack does not
 * stop the ring from forming (a node drops only requests it forwards, never its own).
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "../core/redundant.h"
#include "ring.h"

#define FORGED_PREFIX "forged by a hostile peer"
#define RING_N 40 /* nodes: enough that most lookups cross a forwarder or two */
#define KEYS 60   /* lookups per measurement */

/* Every fifth node is hostile. */
static void forgers(bool *hostile)
{
    for (unsigned i = 0; i < RING_N; i++)
        hostile[i] = i % 5 == 3;
}

static struct node_config honest_cfg, hostile_cfg;

static void configs(struct node_adversary a)
{
    node_config_default(&honest_cfg);
    honest_cfg.update_interval = 10 * ENV_S;
    honest_cfg.ping_interval = 10 * ENV_S;
    honest_cfg.partition_interval = 20 * ENV_S;
    hostile_cfg = honest_cfg;
    a.active = true;
    hostile_cfg.adversary = a;
}

static struct id node_name_id(unsigned i)
{
    char name[32];
    snprintf(name, sizeof name, "node-%u", i);
    return id_hash(name, strlen(name));
}

/* The index among the first n nodes responsible for key (first Node-ID at or after it). */
static unsigned responsible_of(unsigned n, const struct id *key)
{
    unsigned best = 0;
    struct id bd = {0, 0};
    for (unsigned i = 0; i < n; i++) {
        struct id id = node_name_id(i), d = id_dist(key, &id);
        if (i == 0 || id_cmp(&d, &bd) < 0) {
            best = i;
            bd = d;
        }
    }
    return best;
}

/* n nodes; hostile[i] marks the hostile ones.  Nodes join in index order. */
static void hostile_ring(struct ring *r, unsigned n, const bool *hostile)
{
    r->net = fake_net_new(LAT);
    r->n = n;
    for (unsigned i = 0; i < n; i++) {
        struct id id = node_name_id(i);
        r->h[i] = fake_net_add_host(r->net);
        r->h[i]->node =
            node_new(&r->h[i]->env, hostile[i] ? &hostile_cfg : &honest_cfg, &id, &r->h[i]->addr);
        CU_ASSERT_EQUAL_FATAL(node_join(r->h[i]->node, i ? &r->h[0]->addr : NULL), NODE_OK);
        fake_net_run_until(r->net, fake_net_now(r->net) + 2 * ENV_S);
    }
    fake_net_run_until(r->net, fake_net_now(r->net) + 30 * ENV_S);
    for (unsigned i = 0; i < n; i++)
        CU_ASSERT_FATAL(node_is_joined(r->h[i]->node));
}

static struct id key_of(unsigned j)
{
    char name[32];
    snprintf(name, sizeof name, "key-%u", j);
    return id_hash(name, strlen(name));
}

/* Lookups of keys 0..keys-1 from node `from` (k paths); counts the answers by the oracle. */
struct tally {
    unsigned done, correct, wrong_hostile, wrong_honest, timeouts;
    env_time max_latency; /* of the answered lookups */
};
static struct tally lookups(struct ring *r, const bool *hostile, unsigned from, unsigned keys,
                            unsigned k)
{
    struct fake_host *h = r->h[from];
    guint before = h->events->len;
    for (unsigned j = 0; j < keys; j++) {
        struct id key = key_of(j);
        CU_ASSERT_EQUAL(redundant_lookup(h->node, &key, k, 1000 + j), NODE_OK);
    }
    fake_net_run_until(r->net, fake_net_now(r->net) + 30 * ENV_S);
    struct tally t = {0};
    for (guint e = before; e < h->events->len; e++) {
        const struct env_event *ev = h->events->pdata[e];
        if (ev->type != ENV_EV_LOOKUP_DONE)
            continue;
        t.done++;
        if (ev->status == NODE_E_TIMEOUT) {
            t.timeouts++;
            continue;
        }
        CU_ASSERT_EQUAL(ev->status, NODE_OK);
        t.max_latency = MAX(t.max_latency, ev->latency);
        struct id key = key_of((unsigned)(ev->cookie - 1000));
        unsigned want = oracle(r, &key);
        if (id_eq(&ev->responder, node_id(r->h[want]->node))) {
            t.correct++;
            continue;
        }
        bool by_hostile = false;
        for (unsigned i = 0; i < r->n; i++)
            by_hostile |= hostile[i] && id_eq(&ev->responder, node_id(r->h[i]->node));
        if (by_hostile)
            t.wrong_hostile++;
        else
            t.wrong_honest++;
    }
    CU_ASSERT_EQUAL(t.done, keys); /* every lookup completes exactly once */
    return t;
}

/* ---- adversary ---------------------------------------------------------------------------- */

/* A hostile storing peer answers a Fetch with its forgery, whatever it holds. */
static void test_forge_responsible(void)
{
    configs((struct node_adversary){.forge = true});
    struct id k = id_hash("alice", 5);
    bool hostile[12] = {false};
    unsigned resp = responsible_of(12, &k);
    hostile[resp] = true;
    struct ring r;
    hostile_ring(&r, 12, hostile);
    unsigned a = resp == 0 ? 1 : 0, b = resp == 2 ? 3 : 2;
    CU_ASSERT_EQUAL(store_value(&r, a, "alice", "sip:alice@192.0.2.7"), NODE_OK);
    struct fetch_result f = fetch_value(&r, b, "alice");
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_EQUAL(strncmp(f.value, FORGED_PREFIX, strlen(FORGED_PREFIX)), 0);
    ring_free(&r);
}

/* refuse_store error: Error_Forbidden, nothing kept; silent: "stored", nothing kept. */
static void test_refuse_store(void)
{
    for (int mode = NODE_REFUSE_ERROR; mode <= NODE_REFUSE_SILENT; mode++) {
        configs((struct node_adversary){.refuse_store = (uint8_t)mode});
        struct id k = id_hash("bob", 3);
        bool hostile[10] = {false};
        unsigned resp = responsible_of(10, &k);
        hostile[resp] = true;
        struct ring r;
        hostile_ring(&r, 10, hostile);
        unsigned a = resp == 0 ? 1 : 0;
        int st = store_value(&r, a, "bob", "sip:bob@192.0.2.8");
        CU_ASSERT_EQUAL(st, mode == NODE_REFUSE_ERROR ? NODE_E_REFUSED : NODE_OK);
        CU_ASSERT_EQUAL(holders(&r, "bob"), 0);
        CU_ASSERT_EQUAL(fetch_value(&r, a, "bob").status, NODE_E_NOT_FOUND);
        ring_free(&r);
    }
}

/* Droppers: lookups routed through them time out; the others reach the responsible peer. */
static void test_drop(void)
{
    configs((struct node_adversary){.drop = true});
    bool hostile[RING_N] = {false};
    for (unsigned i = RING_N - 6; i < RING_N; i++)
        hostile[i] = true; /* they join last */
    struct ring r;
    hostile_ring(&r, RING_N, hostile);
    struct tally t = lookups(&r, hostile, 0, KEYS, 1);
    CU_ASSERT(t.timeouts > 0);
    CU_ASSERT_EQUAL(t.correct + t.timeouts, KEYS);
    ring_free(&r);
}

/* Forgers on the way answer lookups as if responsible: the wrong answers all come from them. */
static void test_forge_lookup(void)
{
    configs((struct node_adversary){.forge = true});
    bool hostile[RING_N];
    forgers(hostile);
    struct ring r;
    hostile_ring(&r, RING_N, hostile);
    struct tally t = lookups(&r, hostile, 0, KEYS, 1);
    CU_ASSERT(t.wrong_hostile > 0);
    CU_ASSERT_EQUAL(t.wrong_honest, 0);
    CU_ASSERT_EQUAL(t.timeouts, 0);
    ring_free(&r);
}

/* misroute: requests wander (more hops) but a Chord ring still delivers them. */
static void test_misroute(void)
{
    configs((struct node_adversary){.misroute = true});
    bool hostile[RING_N];
    forgers(hostile);
    struct ring r;
    hostile_ring(&r, RING_N, hostile);
    struct tally t = lookups(&r, hostile, 0, KEYS, 1);
    CU_ASSERT_EQUAL(t.correct, KEYS);
    ring_free(&r);
}

/* ---- redundant ---------------------------------------------------------------------------- */

/* k = 4 paths with the nearest answer beat one path against forgers, never reporting an
 * honest wrong peer. */
static void test_redundant_lookup(void)
{
    configs((struct node_adversary){.forge = true});
    bool hostile[RING_N];
    forgers(hostile);
    struct ring r;
    hostile_ring(&r, RING_N, hostile);
    struct tally one = lookups(&r, hostile, 0, KEYS, 1);
    struct tally four = lookups(&r, hostile, 0, KEYS, 4);
    CU_ASSERT(four.correct > one.correct);
    CU_ASSERT_EQUAL(four.wrong_honest, 0);
    ring_free(&r);
}

/* Against droppers, 4 paths answer more lookups than 1, and no later than one reliability
 * timer after their first answer (a dropped path would take 15 s to time out). */
static void test_redundant_drop(void)
{
    configs((struct node_adversary){.drop = true});
    bool hostile[RING_N] = {false};
    for (unsigned i = RING_N - 6; i < RING_N; i++)
        hostile[i] = true;
    struct ring r;
    hostile_ring(&r, RING_N, hostile);
    struct tally one = lookups(&r, hostile, 0, KEYS, 1);
    struct tally four = lookups(&r, hostile, 0, KEYS, 4);
    CU_ASSERT(four.correct > one.correct);
    CU_ASSERT_EQUAL(four.wrong_honest + four.wrong_hostile, 0);
    CU_ASSERT(four.max_latency < 2 * honest_cfg.reliability_timer);
    ring_free(&r);
}

/* Without signatures a fetch takes the value most paths return: over 4 paths the genuine
 * value wins more often than over 1 against forging forwarders. */
static void test_redundant_fetch(void)
{
    configs((struct node_adversary){.forge = true});
    bool hostile[RING_N];
    forgers(hostile);
    struct ring r;
    hostile_ring(&r, RING_N, hostile);
    unsigned genuine[2] = {0, 0};
    for (unsigned j = 0; j < 12; j++) {
        char name[32];
        snprintf(name, sizeof name, "user-%u", j);
        struct id key = id_hash(name, strlen(name));
        if (hostile[oracle(&r, &key)])
            continue; /* a hostile owner forges on every path */
        CU_ASSERT_EQUAL(store_value(&r, 0, name, "genuine"), NODE_OK);
        for (unsigned c = 0; c < 2; c++) {
            struct fetch_result f = {0};
            CU_ASSERT_EQUAL(
                redundant_fetch(r.h[1]->node, &key, NODE_KIND_VALUE, c ? 4 : 1, 7, on_fetch, &f),
                NODE_OK);
            fake_net_run_until(r.net, fake_net_now(r.net) + 30 * ENV_S);
            CU_ASSERT_EQUAL(f.calls, 1);
            genuine[c] += f.status == NODE_OK && strcmp(f.value, "genuine") == 0;
        }
    }
    CU_ASSERT(genuine[1] > genuine[0]);
    ring_free(&r);
}

/* k = 1: exactly node_lookup (the same answer and hop count). */
static void test_redundant_one_path(void)
{
    struct ring r;
    ring_build(&r, 8);
    struct id key = key_of(5);
    CU_ASSERT_EQUAL(redundant_lookup(r.h[2]->node, &key, 1, 1), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 10 * ENV_S);
    const struct env_event *a = fake_host_last_event(r.h[2], ENV_EV_LOOKUP_DONE);
    CU_ASSERT_FATAL(a != NULL);
    struct env_event first = *a;
    CU_ASSERT_EQUAL(node_lookup(r.h[2]->node, &key, 2), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 10 * ENV_S);
    const struct env_event *b = fake_host_last_event(r.h[2], ENV_EV_LOOKUP_DONE);
    CU_ASSERT_EQUAL(b->cookie, 2);
    CU_ASSERT(id_eq(&first.responder, &b->responder));
    CU_ASSERT_EQUAL(first.hops, b->hops);
    CU_ASSERT(id_eq(&first.responder, node_id(r.h[oracle(&r, &key)]->node)));
    ring_free(&r);
}

/* Freeing nodes while their paths are pending releases the shared state (ASan checks). */
static void test_redundant_free_pending(void)
{
    struct ring r;
    ring_build(&r, 8);
    for (unsigned j = 0; j < 5; j++) {
        struct id key = key_of(j);
        CU_ASSERT_EQUAL(redundant_lookup(r.h[j % 8]->node, &key, 4, j), NODE_OK);
        CU_ASSERT_EQUAL(
            redundant_fetch(r.h[(j + 1) % 8]->node, &key, NODE_KIND_VALUE, 3, j, NULL, NULL),
            NODE_OK);
    }
    fake_net_run_until(r.net, fake_net_now(r.net) + 30 * ENV_MS); /* some answers only */
    ring_free(&r);
}

CU_TestInfo test_adversary_tests[] = {
    {"forge: the storing peer answers with its forgery", test_forge_responsible},
    {"refuse_store: with an error, or silently", test_refuse_store},
    {"drop: lookups through droppers time out", test_drop},
    {"forge: lookups answered by forwarders", test_forge_lookup},
    {"misroute: more hops, still delivered", test_misroute},
    CU_TEST_INFO_NULL,
};

CU_TestInfo test_redundant_tests[] = {
    {"lookups: 4 paths, nearest answer", test_redundant_lookup},
    {"lookups: 4 paths around droppers, bounded wait", test_redundant_drop},
    {"fetches: 4 paths, majority of values", test_redundant_fetch},
    {"one path is node_lookup", test_redundant_one_path},
    {"freeing nodes with paths pending", test_redundant_free_pending},
    CU_TEST_INFO_NULL,
};
