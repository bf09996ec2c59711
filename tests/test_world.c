/* test_world.c — CUnit suite for the simulated world (sim/world.h): small CHORD-RELOAD rings
 * (RFC 6940 §10) built instantly or by the join protocol, judged against the oracle
 * (§10.1: the responsible peer is the first Node-ID at or after the key), determinism of a
 * seeded run, a Store followed by Fetch (§7.4.1–7.4.2); and the experiments' world: churn
 * (peers leave, crash and rejoin, §10.5 and §10.9; the oracle follows), a partition and its
 * healing, records lost when every replica crashes (§10.4), owners' refreshes, per-peer
 * Poisson arrivals, Zipf key popularity, the time series and result files, flash crowds and
 * graph snapshots.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "../core/node.h"
#include "../sim/world.h"
#include "world_util.h"

/* A scenario held in caller storage, with the loader's defaults written out by hand so
 * that this suite does not depend on the YAML loader. */
static void tw_scenario(struct scenario *sc, uint32_t peers, enum scenario_join join)
{
    world_util_scenario(sc, "test_world", "test-world", peers, "chord", 50);
    sc->overlay.join = join;
    sc->latency.min_ms = 10;
    sc->latency.max_ms = 100;
    /* Protocol joins need peers × join_interval, then time to settle. */
    env_time warmup =
        join == SCENARIO_JOIN_PROTOCOL ? peers * sc->overlay.join_interval + 10 * ENV_S : 1 * ENV_S;
    sc->workload.start = warmup;
    sc->workload.lookups = 300;
    sc->workload.lookup_rate = 200;
    sc->duration = warmup + 10 * ENV_S;
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
    sc.workload.lookup_rate = 0; /* no lookups (lookups: 0 would mean no limit) */
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

/* ---- the experiments' world: churn, partitions, records, workload, results ---------------- */

static struct scenario_dist tw_exp(env_time mean)
{
    struct scenario_dist d = {.kind = SCENARIO_DIST_EXPONENTIAL, .mean = mean};
    return d;
}

/* Session churn from `start`: exponential sessions and down times. */
static void tw_churn(struct scenario *sc, env_time session, env_time down, env_time start)
{
    sc->churn.model = SCENARIO_CHURN_SESSIONS;
    sc->churn.session = tw_exp(session);
    sc->churn.downtime = tw_exp(down);
    sc->churn.graceful = 0.5;
    sc->churn.start = start;
}

/* churn.events for a hand-built scenario (g_array_unref it afterwards). */
static GArray *tw_events(struct scenario *sc)
{
    sc->churn.events = g_array_new(FALSE, TRUE, sizeof(struct scenario_event));
    return sc->churn.events;
}

static void tw_event(GArray *events, env_time at, enum scenario_event_action action,
                     uint32_t groups, uint32_t peers)
{
    struct scenario_event e = {.at = at,
                               .action = action,
                               .groups = groups,
                               .peers = peers,
                               .over = 5 * ENV_S,
                               .fraction = 0.5};
    g_array_append_val(events, e);
}

/* The oracle holds exactly the peers that are up and whose node has joined, under their own
 * Node-IDs; a peer is up exactly when it has a node. */
static void tw_check_oracle(const struct world *w)
{
    uint32_t joined = 0;
    for (uint32_t i = 0; i < world_peers(w); i++) {
        const struct node *n = world_node(w, i);
        CU_ASSERT_EQUAL(n != NULL, world_is_up(w, i));
        const struct id *id = world_peer_id(w, i);
        int64_t r = world_responsible(w, id);
        if (n && node_is_joined(n)) {
            joined++;
            CU_ASSERT_EQUAL(r, (int64_t)i);
            CU_ASSERT(id_eq(node_id(n), id));
        } else {
            CU_ASSERT_NOT_EQUAL(r, (int64_t)i);
        }
    }
    CU_ASSERT_EQUAL(joined, world_joined(w));
}

/* world_responsible against a brute-force search over the joined peers, for probe keys. */
static void tw_check_responsible(const struct world *w, int probes)
{
    for (int t = 0; t < probes; t++) {
        char name[32];
        g_snprintf(name, sizeof name, "probe-%d", t);
        struct id k = id_hash(name, strlen(name));
        int64_t best = -1;
        struct id best_d = {UINT64_MAX, UINT64_MAX};
        for (uint32_t i = 0; i < world_peers(w); i++) {
            const struct node *n = world_node(w, i);
            if (!n || !node_is_joined(n))
                continue;
            struct id d = id_dist(&k, world_peer_id(w, i));
            if (best < 0 || id_cmp(&d, &best_d) < 0) {
                best_d = d;
                best = i;
            }
        }
        CU_ASSERT_EQUAL(world_responsible(w, &k), best);
    }
}

/* Peers leave, crash and come back; the oracle follows them and lookups mostly succeed. */
static void test_world_churn(void)
{
    struct scenario sc;
    tw_scenario(&sc, 100, SCENARIO_JOIN_INSTANT);
    sc.latency.ms = 20;
    sc.overlay.update_interval = 15 * ENV_S;
    tw_churn(&sc, 60 * ENV_S, 30 * ENV_S, 10 * ENV_S);
    sc.workload.start = 10 * ENV_S;
    sc.workload.arrivals = SCENARIO_ARRIVALS_PER_PEER;
    sc.workload.lookups = 0;
    sc.workload.lookup_rate = 0.1;
    sc.metrics.interval = 10 * ENV_S;
    sc.duration = 180 * ENV_S;
    struct world_summary s;
    struct world *w = tw_run(&sc, &s);
    CU_ASSERT(s.leaves > 20);
    CU_ASSERT(s.crashes > 20);
    CU_ASSERT(s.joins > 20);
    CU_ASSERT(s.joins_completed > 100);
    CU_ASSERT(s.alive_end > 30 && s.alive_end < 100);
    CU_ASSERT(s.alive_mean > 50 && s.alive_mean < 95);
    CU_ASSERT_EQUAL(s.alive_end, world_alive(w));
    CU_ASSERT(s.lookups > 1000);
    CU_ASSERT(s.lookup_success > 0.9);
    CU_ASSERT(s.lookup_consistency <= s.lookup_success);
    CU_ASSERT(s.lookup_consistency > 0.85);
    CU_ASSERT(s.dropped_undeliverable > 0); /* datagrams to peers that crashed */
    tw_check_oracle(w);
    tw_check_responsible(w, 200);
    /* Every peer that is down comes back when asked, with its Node-ID, and joins. */
    for (uint32_t i = 0; i < world_peers(w); i++)
        world_peer_up(w, i);
    CU_ASSERT_EQUAL(world_alive(w), 100);
    sc.duration += 30 * ENV_S; /* churn goes on meanwhile */
    world_run_until(w, sc.duration);
    tw_check_oracle(w);
    world_free(w);
}

/* Same scenario with churn and seed: identical summaries and time series. */
static void test_world_churn_deterministic(void)
{
    struct scenario sc;
    tw_scenario(&sc, 60, SCENARIO_JOIN_INSTANT);
    tw_churn(&sc, 40 * ENV_S, 20 * ENV_S, 5 * ENV_S);
    sc.latency.model = SCENARIO_LATENCY_UNIFORM;
    sc.workload.start = 5 * ENV_S;
    sc.workload.records = 20;
    sc.workload.refresh = 10 * ENV_S;
    sc.workload.fetches = 100;
    sc.metrics.interval = 5 * ENV_S;
    sc.duration = 90 * ENV_S;
    struct world_summary a, b;
    struct world *wa = tw_run(&sc, &a);
    struct world *wb = tw_run(&sc, &b);
    CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof a), 0);
    const GArray *ta = world_timeseries(wa), *tb = world_timeseries(wb);
    CU_ASSERT_EQUAL_FATAL(ta->len, tb->len);
    CU_ASSERT_EQUAL(ta->len, 18);
    CU_ASSERT_EQUAL(memcmp(ta->data, tb->data, ta->len * sizeof(struct world_sample)), 0);
    CU_ASSERT(a.leaves + a.crashes > 10);
    world_free(wa);
    world_free(wb);
}

/* Sample of the time series at t (seconds). */
static const struct world_sample *tw_sample(const struct world *w, unsigned t)
{
    const GArray *ts = world_timeseries(w);
    for (guint i = 0; i < ts->len; i++) {
        const struct world_sample *s = &g_array_index(ts, struct world_sample, i);
        if (s->t == t * ENV_S)
            return s;
    }
    return NULL;
}

/* Split in two halves at 20 s, healed at 50 s: about half of the lookups fail during the
 * partition (their key lives on the other side), all succeed again once the rings merge. */
static void test_world_partition(void)
{
    struct scenario sc;
    tw_scenario(&sc, 64, SCENARIO_JOIN_INSTANT);
    sc.latency.ms = 20;
    sc.overlay.update_interval = 10 * ENV_S;
    sc.overlay.ping_interval = 10 * ENV_S;
    GArray *ev = tw_events(&sc);
    tw_event(ev, 20 * ENV_S, SCENARIO_EVENT_PARTITION, 2, 0);
    tw_event(ev, 50 * ENV_S, SCENARIO_EVENT_HEAL, 0, 0);
    sc.workload.start = 5 * ENV_S;
    sc.workload.lookups = 0;
    sc.workload.lookup_rate = 20;
    sc.metrics.interval = 10 * ENV_S;
    sc.duration = 120 * ENV_S;
    struct world_summary s;
    struct world *w = tw_run(&sc, &s);
    for (unsigned t = 10; t <= 20; t += 10) {
        const struct world_sample *x = tw_sample(w, t);
        CU_ASSERT_FATAL(x && x->lookups > 0);
        CU_ASSERT_EQUAL(x->lookups_correct, x->lookups);
    }
    for (unsigned t = 30; t <= 50; t += 10) {
        const struct world_sample *x = tw_sample(w, t);
        CU_ASSERT_FATAL(x && x->lookups > 0);
        double ok = (double)x->lookups_correct / x->lookups;
        CU_ASSERT(ok > 0.2 && ok < 0.75);
    }
    for (unsigned t = 90; t <= 120; t += 10) {
        const struct world_sample *x = tw_sample(w, t);
        CU_ASSERT_FATAL(x && x->lookups > 0);
        CU_ASSERT_EQUAL(x->lookups_correct, x->lookups);
    }
    CU_ASSERT(s.dropped_partition > 0);
    CU_ASSERT_EQUAL(s.alive_end, 64);
    CU_ASSERT_EQUAL(s.joined, 64);
    world_free(w);
    g_array_unref(ev);
}

/* The peers that hold record i now. */
static uint32_t tw_holders(const struct world *w, uint64_t rec, uint32_t *out, uint32_t max)
{
    struct id res = world_record_id(rec);
    uint32_t k = 0;
    for (uint32_t i = 0; i < world_peers(w) && k < max; i++) {
        const struct node *n = world_node(w, i);
        if (n && node_holds(n, &res, NODE_KIND_VALUE))
            out[k++] = i;
    }
    return k;
}

/* Crashing every replica of a record at once loses it; one crash, or graceful departures one
 * after another, do not (§10.4 replicas, §10.9 hand-over). */
static void test_world_records_lost(void)
{
    struct scenario sc;
    tw_scenario(&sc, 32, SCENARIO_JOIN_INSTANT);
    sc.workload.lookup_rate = 0;
    sc.workload.records = 5;
    sc.duration = 40 * ENV_S;
    uint32_t h[8];

    GError *err = NULL;
    struct world *w = world_new(&sc, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    world_run_until(w, 5 * ENV_S);
    CU_ASSERT_EQUAL(world_records_lost(w), 0);
    uint32_t k = tw_holders(w, 0, h, 8);
    CU_ASSERT_FATAL(k >= 1 + sc.overlay.replicas);
    world_peer_down(w, h[0], false);
    CU_ASSERT_EQUAL(world_records_lost(w), 0);
    for (uint32_t j = 1; j < k; j++)
        world_peer_down(w, h[j], false);
    CU_ASSERT(world_records_lost(w) >= 1);
    world_run_until(w, sc.duration);
    struct world_summary s;
    world_summarize(w, &s);
    CU_ASSERT_EQUAL(s.records_stored, 5);
    CU_ASSERT(s.records_lost >= 1);
    CU_ASSERT_EQUAL(s.records_lost, world_records_lost(w));
    world_free(w);

    w = world_new(&sc, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    world_run_until(w, 5 * ENV_S);
    k = tw_holders(w, 0, h, 8);
    CU_ASSERT_FATAL(k >= 1 + sc.overlay.replicas);
    for (uint32_t j = 0; j < k; j++) {
        world_peer_down(w, h[j], true);
        world_run_until(w, world_now(w) + 5 * ENV_S);
    }
    CU_ASSERT_EQUAL(world_records_lost(w), 0);
    world_free(w);
}

/* Owners re-store their records: with a 20 s lifetime and a 10 s refresh they outlive their
 * first lifetime; without refresh they expire, and an expired record is not "lost". */
static void test_world_refresh(void)
{
    struct scenario sc;
    tw_scenario(&sc, 32, SCENARIO_JOIN_INSTANT);
    sc.workload.lookup_rate = 0;
    sc.workload.records = 10;
    sc.workload.record_lifetime = 20;
    sc.workload.refresh = 10 * ENV_S;
    sc.duration = 65 * ENV_S;
    struct world_summary s;
    struct world *w = tw_run(&sc, &s);
    CU_ASSERT_EQUAL(s.stores_ok, 10);
    CU_ASSERT_EQUAL(s.refreshes, 60); /* at 11, 21, ..., 61 s */
    CU_ASSERT_EQUAL(s.refreshes_ok, 60);
    CU_ASSERT_EQUAL(s.records_lost, 0);
    uint32_t h[8];
    CU_ASSERT(tw_holders(w, 3, h, 8) >= 1);
    world_free(w);

    sc.workload.refresh = 0;
    w = tw_run(&sc, &s);
    CU_ASSERT_EQUAL(s.refreshes, 0);
    CU_ASSERT_EQUAL(s.records_lost, 0);
    CU_ASSERT_EQUAL(tw_holders(w, 3, h, 8), 0);
    world_free(w);
}

/* Per-peer arrivals: the system rate is rate × joined peers, following the population. */
static void test_world_per_peer_rate(void)
{
    struct scenario sc;
    tw_scenario(&sc, 200, SCENARIO_JOIN_INSTANT);
    sc.workload.lookups = 0;
    sc.workload.lookup_rate = 0.5;
    sc.workload.arrivals = SCENARIO_ARRIVALS_PER_PEER;
    sc.duration = 21 * ENV_S; /* 20 s measured: 0.5 × 200 × 20 = 2000 expected */
    struct world_summary s;
    world_free(tw_run(&sc, &s));
    CU_ASSERT(fabs((double)s.lookups - 2000) < 150); /* Poisson: sd 45 */

    sc.workload.arrivals = SCENARIO_ARRIVALS_SYSTEM; /* 0.5 × 20 = 10 expected */
    world_free(tw_run(&sc, &s));
    CU_ASSERT(s.lookups <= 25);

    /* Half the peers crash at 11 s: 0.5 × (200 × 10 + 100 × 10) = 1500 expected. */
    sc.workload.arrivals = SCENARIO_ARRIVALS_PER_PEER;
    GError *err = NULL;
    struct world *w = world_new(&sc, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    world_run_until(w, 11 * ENV_S);
    for (uint32_t i = 0; i < 200; i += 2)
        world_peer_down(w, i, false);
    CU_ASSERT_EQUAL(world_joined(w), 100);
    world_run_until(w, sc.duration);
    world_summarize(w, &s);
    CU_ASSERT(fabs((double)s.lookups - 1500) < 130);
    CU_ASSERT_DOUBLE_EQUAL(s.alive_mean, 150.0, 1e-9);
    world_free(w);
}

/* Messages sent by the peer responsible for key rank r. */
static double tw_sent_by_owner(const struct world *w, uint64_t r, int64_t *who)
{
    struct id k = world_key_id(r);
    *who = world_responsible(w, &k);
    return (double)node_get_stats(world_node(w, (uint32_t)*who))->msgs_sent;
}

/* Zipf popularity over two keys with alpha 3: key 0 gets 8/9 of the lookups, so its peer
 * answers eight times as many as key 1's.  What a peer sends also counts forwarding, which
 * depends on where the two peers sit, so the ratio is compared with the same ring under
 * uniform popularity (1:1 answers). */
static void test_world_zipf(void)
{
    struct scenario sc;
    tw_scenario(&sc, 32, SCENARIO_JOIN_INSTANT);
    sc.workload.keys = 2;
    sc.workload.lookups = 1000;
    sc.workload.lookup_rate = 200;
    sc.workload.popularity = SCENARIO_POPULARITY_ZIPF;
    sc.workload.zipf_alpha = 3;
    struct world_summary s;
    int64_t r0, r1;
    struct world *w = tw_run(&sc, &s);
    double zipf = tw_sent_by_owner(w, 0, &r0) / tw_sent_by_owner(w, 1, &r1);
    CU_ASSERT_FATAL(r0 != r1);
    CU_ASSERT_EQUAL(s.lookups_correct, 1000);
    world_free(w);

    sc.workload.popularity = SCENARIO_POPULARITY_UNIFORM;
    w = tw_run(&sc, &s);
    double uniform = tw_sent_by_owner(w, 0, &r0) / tw_sent_by_owner(w, 1, &r1);
    CU_ASSERT(zipf > 3 * uniform);
    world_free(w);

    sc.workload.popularity = SCENARIO_POPULARITY_ZIPF;
    sc.workload.zipf_alpha = 0; /* alpha 0 is uniform again */
    w = tw_run(&sc, &s);
    double flat = tw_sent_by_owner(w, 0, &r0) / tw_sent_by_owner(w, 1, &r1);
    CU_ASSERT(flat < 1.5 * uniform && uniform < 1.5 * flat);
    world_free(w);

    sc.workload.keys = 0; /* Zipf needs a key population */
    GError *err = NULL;
    CU_ASSERT_PTR_NULL(world_new(&sc, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL(err ? strstr(err->message, "workload.popularity") : NULL);
    g_clear_error(&err);
}

static char *tw_read(const char *dir, const char *name)
{
    char *path = g_build_filename(dir, name, NULL);
    char *text = NULL;
    CU_ASSERT(g_file_get_contents(path, &text, NULL, NULL));
    g_free(path);
    return text ? text : g_strdup("");
}

static unsigned tw_count(const char *text, const char *needle)
{
    unsigned n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Removes the files of a temporary folder, then the folder. */
static void tw_rmdir(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *path = g_build_filename(dir, name, NULL);
        g_remove(path);
        g_free(path);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
}

/* The time series has one sample per interval; the result files are long-format TSVs; the
 * summary rows keep the foundation's order and add the new metrics. */
static void test_world_results(void)
{
    struct scenario sc;
    tw_scenario(&sc, 32, SCENARIO_JOIN_INSTANT);
    sc.metrics.interval = 5 * ENV_S;
    sc.workload.lookup_rate = 20; /* 300 lookups over 15 s */
    sc.workload.records = 4;
    sc.duration = 30 * ENV_S;
    struct world_summary s;
    struct world *w = tw_run(&sc, &s);
    const GArray *ts = world_timeseries(w);
    CU_ASSERT_EQUAL_FATAL(ts->len, 6);
    uint64_t lookups = 0;
    for (guint i = 0; i < ts->len; i++) {
        const struct world_sample *x = &g_array_index(ts, struct world_sample, i);
        CU_ASSERT_EQUAL(x->t, (i + 1) * 5 * ENV_S);
        CU_ASSERT_EQUAL(x->alive, 32);
        CU_ASSERT_EQUAL(x->joined, 32);
        CU_ASSERT_EQUAL(x->records_lost, 0);
        CU_ASSERT(i > 0 || x->bytes_per_peer_per_s > 0); /* later windows may be silent */
        lookups += x->lookups;
    }
    CU_ASSERT_EQUAL(lookups, s.lookups_completed);
    CU_ASSERT_DOUBLE_EQUAL(s.alive_mean, 32.0, 1e-12);
    CU_ASSERT_EQUAL(s.application_messages + s.maintenance_messages, s.messages + s.acks);
    CU_ASSERT_DOUBLE_EQUAL(s.application_bytes_per_peer_per_s + s.maintenance_bytes_per_peer_per_s,
                           s.bytes_per_peer_per_s, 1e-6);

    GArray *rows = world_summary_rows(w, &s);
    CU_ASSERT_FATAL(rows->len > 50);
    const struct world_row *r = (const struct world_row *)rows->data;
    CU_ASSERT_STRING_EQUAL(r[0].name, "peers");
    CU_ASSERT_STRING_EQUAL(r[34].name, "events");
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < rows->len; i++) {
        CU_ASSERT_FALSE(g_hash_table_contains(seen, r[i].name));
        g_hash_table_add(seen, (gpointer)r[i].name);
        if (!strcmp(r[i].name, "lookups"))
            CU_ASSERT_DOUBLE_EQUAL(r[i].value, (double)s.lookups, 0);
        if (!strcmp(r[i].name, "lookup_success"))
            CU_ASSERT_STRING_EQUAL(r[i].text, "1.000000");
    }
    const char *wanted[] = {"lookup_consistency",
                            "retransmits_per_lookup",
                            "maintenance_bytes_per_peer_per_s",
                            "application_bytes_per_peer_per_s",
                            "records_stored",
                            "records_lost",
                            "alive_peers_end",
                            "joins",
                            "leaves",
                            "crashes",
                            "dropped_loss",
                            "dropped_queue",
                            "dropped_partition"};
    for (size_t i = 0; i < G_N_ELEMENTS(wanted); i++)
        CU_ASSERT(g_hash_table_contains(seen, wanted[i]));
    g_hash_table_unref(seen);
    g_array_unref(rows);

    char *dir = g_dir_make_tmp("test_world_XXXXXX", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    GError *err = NULL;
    CU_ASSERT(world_write_results(w, dir, &err));
    char *t = tw_read(dir, "timeseries.tsv");
    CU_ASSERT(g_str_has_prefix(t, "time_s\tmetric\tvalue\n"));
    CU_ASSERT_EQUAL(tw_count(t, "\talive_peers\t32\n"), 6);
    /* 300 lookups take 15 s from 1 s: the windows ending at 25 and 30 s have none. */
    CU_ASSERT_EQUAL(tw_count(t, "\n"), 1 + 4 * 8 + 2 * 5);
    CU_ASSERT(strstr(t, "5.000\tlookup_success\t1.000000\n") != NULL);
    g_free(t);
    t = tw_read(dir, "traffic.tsv");
    CU_ASSERT(g_str_has_prefix(t, "class\ttype\tcount\tbytes\tper_peer_per_s\n"));
    CU_ASSERT(strstr(t, "\napplication\tping_req\t") != NULL);
    CU_ASSERT(strstr(t, "\nmaintenance\tack\t") != NULL);
    CU_ASSERT_EQUAL(tw_count(t, "\t"), 4 * tw_count(t, "\n"));
    g_free(t);
    t = tw_read(dir, "hops.tsv");
    CU_ASSERT(g_str_has_prefix(t, "hops\tcount\n"));
    g_free(t);
    world_free(w);
    tw_rmdir(dir);
    g_free(dir);
}

/* A flash crowd of 20 peers joins a ring of 40 through the protocol. */
static void test_world_flash_crowd(void)
{
    struct scenario sc;
    tw_scenario(&sc, 40, SCENARIO_JOIN_INSTANT);
    GArray *ev = tw_events(&sc);
    tw_event(ev, 5 * ENV_S, SCENARIO_EVENT_FLASH_CROWD, 0, 20);
    sc.workload.start = 30 * ENV_S;
    sc.duration = 40 * ENV_S;
    struct world_summary s;
    struct world *w = tw_run(&sc, &s);
    CU_ASSERT_EQUAL(world_peers(w), 60);
    CU_ASSERT_EQUAL(s.peers, 40);
    CU_ASSERT_EQUAL(s.alive_end, 60);
    CU_ASSERT_EQUAL(s.joined, 60);
    CU_ASSERT_EQUAL(s.joins, 20);
    CU_ASSERT_DOUBLE_EQUAL(s.lookup_success, 1.0, 1e-12);
    tw_check_oracle(w);
    world_free(w);
    g_array_unref(ev);
}

/* Most peers crash and come back: the chunked oracle empties chunks, then splits them, and
 * stays equal to a brute-force search. */
static void test_world_oracle_churn(void)
{
    struct scenario sc;
    tw_scenario(&sc, 1500, SCENARIO_JOIN_INSTANT);
    sc.overlay.update_interval = 5 * ENV_S;
    sc.workload.lookup_rate = 0;
    sc.duration = 60 * ENV_S;
    GError *err = NULL;
    struct world *w = world_new(&sc, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    tw_check_responsible(w, 100);
    world_run_until(w, ENV_S);
    for (uint32_t i = 0; i < 1500; i++)
        if (i % 15 != 0)
            world_peer_down(w, i, i % 2 == 0);
    CU_ASSERT_EQUAL(world_joined(w), 100);
    tw_check_responsible(w, 100);
    world_run_until(w, 20 * ENV_S);
    for (uint32_t i = 0; i < 1500; i++)
        world_peer_up(w, i);
    world_run_until(w, sc.duration);
    CU_ASSERT_EQUAL(world_joined(w), 1500);
    tw_check_oracle(w);
    tw_check_responsible(w, 100);
    world_free(w);
}

/* Graph snapshots land in the output folder at the scenario's times. */
static void test_world_snapshots(void)
{
    struct scenario sc;
    tw_scenario(&sc, 32, SCENARIO_JOIN_INSTANT);
    env_time at[] = {10 * ENV_S, 5 * ENV_S, 99 * ENV_S /* after the end: ignored */};
    sc.metrics.snapshots = g_array_new(FALSE, FALSE, sizeof(env_time));
    g_array_append_vals(sc.metrics.snapshots, at, 3);
    char *dir = g_dir_make_tmp("test_world_XXXXXX", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    struct world_options opt = {.out_dir = dir};
    GError *err = NULL;
    struct world *w = world_new(&sc, &opt, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    world_run(w, NULL, NULL);
    CU_ASSERT_EQUAL(world_metrics(w)->snapshots, 2);
    for (int i = 0; i < 2; i++) {
        char *path = g_build_filename(dir, i ? "graph-t10.graphml" : "graph-t5.graphml", NULL);
        CU_ASSERT(g_file_test(path, G_FILE_TEST_EXISTS));
        g_free(path);
    }
    char *t = tw_read(dir, "graph.tsv");
    CU_ASSERT(strstr(t, "t5\t") != NULL && strstr(t, "t10\t") != NULL);
    g_free(t);
    CU_ASSERT(world_write_results(w, dir, &err));
    world_free(w);
    tw_rmdir(dir);
    g_free(dir);
    g_array_unref(sc.metrics.snapshots);
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
    {"churn", test_world_churn},
    {"churn_deterministic", test_world_churn_deterministic},
    {"partition", test_world_partition},
    {"records_lost", test_world_records_lost},
    {"refresh", test_world_refresh},
    {"per_peer_rate", test_world_per_peer_rate},
    {"zipf", test_world_zipf},
    {"results", test_world_results},
    {"flash_crowd", test_world_flash_crowd},
    {"oracle_churn", test_world_oracle_churn},
    {"snapshots", test_world_snapshots},
    CU_TEST_INFO_NULL,
};
