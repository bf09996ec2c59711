/* test_world.c — CUnit suite for the simulated world (sim/world.h): small CHORD-RELOAD rings
 * (RFC 6940 §10) built instantly or by the join protocol, judged against the oracle
 * (§10.1: the responsible peer is the first Node-ID at or after the key), determinism of a
 * seeded run, and a Store followed by Fetch (§7.4.1–7.4.2).
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "../core/node.h"
#include "../sim/world.h"

/* A scenario held in caller storage, with the loader's defaults written out by hand so
 * that this suite does not depend on the YAML loader. */
static void tw_scenario(struct scenario *sc, uint32_t peers, enum scenario_join join)
{
    memset(sc, 0, sizeof *sc);
    sc->file = (char *)"test_world";
    sc->name = (char *)"test-world";
    sc->seed = 1;
    sc->peers = peers;
    sc->overlay.topology = (char *)"chord";
    sc->overlay.name = (char *)"p2psip.example";
    sc->overlay.join = join;
    sc->overlay.join_interval = 200 * ENV_MS;
    sc->overlay.successors = 4;
    sc->overlay.predecessors = 4;
    sc->overlay.replicas = 2;
    sc->overlay.update_interval = 60 * ENV_S;
    sc->overlay.ping_interval = 60 * ENV_S;
    sc->overlay.reactive = true;
    sc->overlay.reliability_timer = 3 * ENV_S;
    sc->latency.model = SCENARIO_LATENCY_CONSTANT;
    sc->latency.ms = 50;
    sc->latency.min_ms = 10;
    sc->latency.max_ms = 100;
    /* Protocol joins need peers × join_interval, then time to settle. */
    env_time warmup =
        join == SCENARIO_JOIN_PROTOCOL ? peers * sc->overlay.join_interval + 10 * ENV_S : 1 * ENV_S;
    sc->workload.start = warmup;
    sc->workload.lookups = 300;
    sc->workload.lookup_rate = 200;
    sc->workload.record_lifetime = 3600;
    sc->workload.value_size = 64;
    sc->workload.fetch_rate = 100;
    sc->duration = warmup + 10 * ENV_S;
    sc->output.pcap = (char *)"";
}

static struct world *tw_run(const struct scenario *sc, struct world_summary *s)
{
    GError *err = NULL;
    struct world *w = world_new(sc, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    world_run(w, NULL, NULL);
    world_summarize(w, s);
    return w;
}

/* Every lookup completes at the responsible peer, in a plausible number of hops. */
static void tw_check_lookups(uint32_t peers, enum scenario_join join)
{
    struct scenario sc;
    tw_scenario(&sc, peers, join);
    struct world_summary s;
    struct world *w = tw_run(&sc, &s);
    CU_ASSERT_EQUAL(s.joined, peers);
    CU_ASSERT_EQUAL(s.lookups, sc.workload.lookups);
    CU_ASSERT_EQUAL(s.lookups_completed, s.lookups);
    CU_ASSERT_EQUAL(s.lookups_correct, s.lookups);
    CU_ASSERT_EQUAL(s.lookup_timeouts, 0);
    CU_ASSERT_DOUBLE_EQUAL(s.lookup_success, 1.0, 1e-12);
    double log2n = log2((double)peers);
    CU_ASSERT(s.hops_mean > 0.25 * log2n);
    CU_ASSERT(s.hops_mean < log2n + 1);
    CU_ASSERT(s.hops_max <= (uint32_t)log2n + 2);
    /* 50 ms per link, twice (request and answer, symmetric routing). */
    CU_ASSERT_DOUBLE_EQUAL(s.latency_ms_mean, 100.0 * s.hops_mean, 1e-6);
    CU_ASSERT(s.messages > 0);
    CU_ASSERT(s.acks > 0);
    CU_ASSERT_EQUAL(s.dropped, 0);
    world_free(w);
}

static void test_world_instant_16(void)
{
    tw_check_lookups(16, SCENARIO_JOIN_INSTANT);
}

static void test_world_instant_64(void)
{
    tw_check_lookups(64, SCENARIO_JOIN_INSTANT);
}

static void test_world_protocol_16(void)
{
    tw_check_lookups(16, SCENARIO_JOIN_PROTOCOL);
}

static void test_world_protocol_64(void)
{
    tw_check_lookups(64, SCENARIO_JOIN_PROTOCOL);
}

/* The instant ring gives every node its oracle neighbours. */
static void test_world_instant_ring(void)
{
    struct scenario sc;
    tw_scenario(&sc, 64, SCENARIO_JOIN_INSTANT);
    GError *err = NULL;
    struct world *w = world_new(&sc, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    for (uint32_t i = 0; i < world_peers(w); i++) {
        const struct node *n = world_node(w, i);
        CU_ASSERT(node_is_joined(n));
        struct node_peer succ[4];
        size_t k = node_successors(n, succ, 4);
        CU_ASSERT_EQUAL_FATAL(k, 4);
        struct id just_after = id_add_pow2(node_id(n), 0);
        int64_t expect = world_responsible(w, &just_after);
        CU_ASSERT_FATAL(expect >= 0);
        CU_ASSERT(id_eq(&succ[0].id, node_id(world_node(w, (uint32_t)expect))));
        struct env_addr a = world_addr((uint32_t)expect);
        CU_ASSERT(env_addr_eq(&succ[0].addr, &a));
    }
    world_free(w);
}

/* The oracle agrees with a brute-force search for the nearest Node-ID clockwise. */
static void test_world_oracle(void)
{
    struct scenario sc;
    tw_scenario(&sc, 64, SCENARIO_JOIN_INSTANT);
    GError *err = NULL;
    struct world *w = world_new(&sc, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    for (int t = 0; t < 200; t++) {
        char name[32];
        g_snprintf(name, sizeof name, "probe-%d", t);
        struct id k = id_hash(name, strlen(name));
        if (t < 64) /* exactly on a Node-ID: that peer itself */
            k = *node_id(world_node(w, (uint32_t)t));
        uint32_t best = 0;
        struct id best_d = {UINT64_MAX, UINT64_MAX};
        for (uint32_t i = 0; i < world_peers(w); i++) {
            struct id d = id_dist(&k, node_id(world_node(w, i)));
            if (id_cmp(&d, &best_d) < 0) {
                best_d = d;
                best = i;
            }
        }
        CU_ASSERT_EQUAL(world_responsible(w, &k), (int64_t)best);
    }
    world_free(w);
}

/* Same scenario and seed: identical metrics and event counts; another seed differs. */
static void test_world_deterministic(void)
{
    struct scenario sc;
    tw_scenario(&sc, 64, SCENARIO_JOIN_INSTANT);
    sc.latency.model = SCENARIO_LATENCY_UNIFORM;
    sc.workload.records = 10;
    sc.workload.fetches = 20;
    struct world_summary a, b, c;
    world_free(tw_run(&sc, &a));
    world_free(tw_run(&sc, &b));
    CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof a), 0);
    CU_ASSERT_EQUAL(a.events, b.events);
    sc.seed = 2;
    world_free(tw_run(&sc, &c));
    CU_ASSERT_NOT_EQUAL(a.events, c.events);
    CU_ASSERT(a.latency_ms_mean != c.latency_ms_mean);
}

/* Records stored at workload.start are found by every later fetch. */
static void test_world_store_fetch(void)
{
    struct scenario sc;
    tw_scenario(&sc, 32, SCENARIO_JOIN_INSTANT);
    sc.workload.lookups = 0;
    sc.workload.records = 10;
    sc.workload.fetches = 40;
    struct world_summary s;
    struct world *w = tw_run(&sc, &s);
    CU_ASSERT_EQUAL(s.stores, 10);
    CU_ASSERT_EQUAL(s.stores_ok, 10);
    CU_ASSERT_EQUAL(s.fetches, 40);
    CU_ASSERT_EQUAL(s.fetches_found, 40);
    CU_ASSERT_EQUAL(s.lookups, 0);
    /* Each record is held by the responsible peer and its replicas. */
    char name[] = "record-0";
    struct id res = id_hash(name, strlen(name));
    int64_t owner = world_responsible(w, &res);
    CU_ASSERT_FATAL(owner >= 0);
    CU_ASSERT(node_holds(world_node(w, (uint32_t)owner), &res, NODE_KIND_VALUE));
    world_free(w);
}

/* A pcap of the run is written into the output folder. */
static void test_world_pcap(void)
{
    struct scenario sc;
    tw_scenario(&sc, 16, SCENARIO_JOIN_INSTANT);
    sc.workload.lookups = 20;
    sc.output.pcap = (char *)"traffic.pcap";
    char *dir = g_dir_make_tmp("test_world_XXXXXX", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    struct world_options opt = {.out_dir = dir};
    GError *err = NULL;
    struct world *w = world_new(&sc, &opt, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    world_run(w, NULL, NULL);
    world_free(w);
    char *path = g_build_filename(dir, "traffic.pcap", NULL);
    char *bytes = NULL;
    gsize len = 0;
    CU_ASSERT(g_file_get_contents(path, &bytes, &len, NULL));
    CU_ASSERT(len > 24 + 20 * 16); /* file header, then a record per datagram */
    g_free(bytes);
    g_remove(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

static void test_world_rejects(void)
{
    struct scenario sc;
    tw_scenario(&sc, 16, SCENARIO_JOIN_INSTANT);
    sc.overlay.topology = (char *)"kademlia";
    GError *err = NULL;
    CU_ASSERT_PTR_NULL(world_new(&sc, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL(err);
    CU_ASSERT_PTR_NOT_NULL(err ? strstr(err->message, "overlay.topology") : NULL);
    g_clear_error(&err);
}

static void test_world_rank(void)
{
    CU_ASSERT_EQUAL(world_rank(0, 50), 0);
    CU_ASSERT_EQUAL(world_rank(1, 99), 0);
    CU_ASSERT_EQUAL(world_rank(10, 50), 4);
    CU_ASSERT_EQUAL(world_rank(10, 0), 0);
    CU_ASSERT_EQUAL(world_rank(10, 100), 9);
    CU_ASSERT_EQUAL(world_rank(100, 99), 98);
    CU_ASSERT_EQUAL(world_rank(101, 99), 99);
    CU_ASSERT_EQUAL(world_rank(20, 95), 18);
}

CU_TestInfo test_world_tests[] = {
    {"rank", test_world_rank},
    {"oracle", test_world_oracle},
    {"instant_ring", test_world_instant_ring},
    {"instant_16", test_world_instant_16},
    {"instant_64", test_world_instant_64},
    {"protocol_16", test_world_protocol_16},
    {"protocol_64", test_world_protocol_64},
    {"deterministic", test_world_deterministic},
    {"store_fetch", test_world_store_fetch},
    {"pcap", test_world_pcap},
    {"rejects", test_world_rejects},
    CU_TEST_INFO_NULL,
};
