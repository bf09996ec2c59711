/* test_election.c — CUnit suite for the super-peer election of the simulated world
 * (sim/world.c; docs/superpeer.md, "Election"), after Yang & Garcia-Molina, "Designing a
 * super-peer network" (ICDE 2003) and draft-ietf-p2psip-concepts-00 §5.3: the random rule,
 * the capacity rule (exactly the top share of peers by capacity, ties to the lower index, a
 * capacity floor, the first joiner of a protocol-built overlay), the uptime rule under churn
 * (long-lived ordinary peers promoted through the join protocol, the live tier close to the
 * share, promoted peers answering for their own ids, determinism), the summary rows and time
 * series of the super-peer topology only, and the scenario keys' errors.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../core/node_int.h"
#include "../core/wire.h"
#include "../sim/scenario.h"
#include "../sim/world.h"
#include "world_util.h"

/* A super-peer scenario in caller storage, the loader's defaults written out by hand. */
static void te_scenario(struct scenario *sc, uint32_t peers, enum scenario_election rule)
{
    world_util_scenario(sc, "test_election", "test-election", peers, "superpeer", 20);
    sc->overlay.update_interval = 15 * ENV_S;
    sc->overlay.superpeer.share = 0.1;
    sc->overlay.superpeer.keepalive = 15 * ENV_S;
    sc->overlay.superpeer.election = rule;
    sc->overlay.superpeer.capacity =
        (struct scenario_dist){.kind = SCENARIO_DIST_PARETO, .shape = 2, .scale = ENV_S};
    sc->overlay.superpeer.election_interval = 10 * ENV_S;
    sc->overlay.superpeer.min_uptime = 60 * ENV_S;
    sc->workload.start = ENV_S;
    sc->workload.lookups = 400;
    sc->workload.lookup_rate = 200;
    sc->metrics.interval = 10 * ENV_S;
    sc->duration = 10 * ENV_S;
}

/* Churn from 20 s: exponential sessions (mean 3 min) and down times (1 min), half graceful;
 * every live peer looks up a random key every 10 s; 8 minutes in all. */
static void te_churn(struct scenario *sc)
{
    sc->churn.model = SCENARIO_CHURN_SESSIONS;
    sc->churn.session =
        (struct scenario_dist){.kind = SCENARIO_DIST_EXPONENTIAL, .mean = 180 * ENV_S};
    sc->churn.downtime =
        (struct scenario_dist){.kind = SCENARIO_DIST_EXPONENTIAL, .mean = 60 * ENV_S};
    sc->churn.graceful = 0.5;
    sc->churn.start = 20 * ENV_S;
    sc->workload.start = 20 * ENV_S;
    sc->workload.arrivals = SCENARIO_ARRIVALS_PER_PEER;
    sc->workload.lookups = 0;
    sc->workload.lookup_rate = 0.1;
    sc->duration = 480 * ENV_S;
}

static struct world *te_new(const struct scenario *sc)
{
    GError *err = NULL;
    struct world *w = world_new(sc, NULL, &err);
    if (!w)
        fprintf(stderr, "\nworld_new: %s\n", err->message);
    g_clear_error(&err);
    return w;
}

/* A summary row by name, or NAN when the world does not write it. */
static double te_row(const struct world *w, const char *name)
{
    GArray *rows = world_summary_rows(w, NULL);
    double v = NAN;
    for (guint i = 0; i < rows->len; i++) {
        const struct world_row *r = &g_array_index(rows, struct world_row, i);
        if (strcmp(r->name, name) == 0)
            v = r->value;
    }
    g_array_unref(rows);
    return v;
}

static unsigned te_supers(const struct world *w)
{
    unsigned n = 0;
    for (uint32_t i = 0; i < world_peers(w); i++)
        n += world_peer_super(w, i);
    return n;
}

/* Every live node runs in the role the world gives its peer. */
static void te_check_roles(const struct world *w)
{
    for (uint32_t i = 0; i < world_peers(w); i++) {
        const struct node *n = world_node(w, i);
        if (n)
            CU_ASSERT_EQUAL(n->cfg->superpeer.is_super, world_peer_super(w, i));
    }
}

/* ---- random and capacity ------------------------------------------------------------------ */

/* The random rule is the one the world always had: peer 0 and about share of the others; the
 * super-peer rows and series exist for this topology only. */
static void test_election_random(void)
{
    struct scenario sc;
    te_scenario(&sc, 400, SCENARIO_ELECTION_RANDOM);
    struct world *w = te_new(&sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_TRUE(world_peer_super(w, 0));
    unsigned s = te_supers(w);
    CU_ASSERT(s > 25 && s < 55);
    CU_ASSERT_EQUAL(world_superpeers(w), s);
    world_run(w, NULL, NULL);
    CU_ASSERT_EQUAL(te_row(w, "superpeers_end"), s);
    CU_ASSERT_DOUBLE_EQUAL(te_row(w, "superpeers_mean"), s, 1e-9);
    CU_ASSERT_EQUAL(te_row(w, "promotions"), 0);
    CU_ASSERT_EQUAL(te_row(w, "lookup_success"), 1);
    CU_ASSERT_EQUAL(world_peer_capacity(w, 3), 0);
    const GArray *ts = world_timeseries(w);
    CU_ASSERT_EQUAL_FATAL(ts->len, 1);
    CU_ASSERT_EQUAL(g_array_index(ts, struct world_sample, 0).super_peers, s);
    world_free(w);
    /* Chord: no super-peer rows. */
    sc.overlay.topology = (char *)"chord";
    w = te_new(&sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT(isnan(te_row(w, "superpeers_end")));
    CU_ASSERT(isnan(te_row(w, "promotions")));
    CU_ASSERT_FALSE(isnan(te_row(w, "snapshots")));
    world_free(w);
}

/* Exactly ceil(share × peers) super-peers, those with the highest capacities; every lookup
 * correct. */
static void test_election_capacity(void)
{
    struct scenario sc;
    te_scenario(&sc, 405, SCENARIO_ELECTION_CAPACITY);
    struct world *w = te_new(&sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_EQUAL(te_supers(w), 41); /* ceil(40.5) */
    double min_super = INFINITY, max_ordinary = 0, sum = 0;
    for (uint32_t i = 0; i < world_peers(w); i++) {
        double c = world_peer_capacity(w, i);
        CU_ASSERT(c >= 1.0); /* pareto, scale 1 */
        sum += c;
        if (world_peer_super(w, i))
            min_super = MIN(min_super, c);
        else
            max_ordinary = MAX(max_ordinary, c);
    }
    CU_ASSERT(min_super > max_ordinary);
    CU_ASSERT(sum / world_peers(w) > 1.6 && sum / world_peers(w) < 2.6); /* mean 2 */
    CU_ASSERT(min_super > 2.5); /* the top 10 % of pareto(2, 1) start at sqrt(10) */
    world_run(w, NULL, NULL);
    te_check_roles(w);
    CU_ASSERT_EQUAL(te_row(w, "lookups_correct"), 400);
    CU_ASSERT_EQUAL(te_row(w, "superpeers_end"), 41);
    world_free(w);

    /* Equal capacities: ties go to the lower index. */
    sc.overlay.superpeer.capacity =
        (struct scenario_dist){.kind = SCENARIO_DIST_CONSTANT, .value = 3 * ENV_S};
    w = te_new(&sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    for (uint32_t i = 0; i < world_peers(w); i++) {
        CU_ASSERT_EQUAL(world_peer_super(w, i), i < 41);
        CU_ASSERT_EQUAL(world_peer_capacity(w, i), 3.0);
    }
    world_free(w);

    /* A floor: only the peers at or above it, fewer than the share. */
    te_scenario(&sc, 405, SCENARIO_ELECTION_CAPACITY);
    sc.overlay.superpeer.min_capacity = 5;
    w = te_new(&sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    unsigned above = 0;
    for (uint32_t i = 0; i < world_peers(w); i++) {
        bool big = world_peer_capacity(w, i) >= 5;
        above += big;
        CU_ASSERT_EQUAL(world_peer_super(w, i), big);
    }
    CU_ASSERT(above > 5 && above < 41); /* P(X >= 5) = 1/25 */
    world_run(w, NULL, NULL);
    CU_ASSERT_EQUAL(te_row(w, "lookups_correct"), 400);
    world_free(w);

    /* A floor nobody reaches: a scenario error. */
    sc.overlay.superpeer.min_capacity = 1e9;
    GError *err = NULL;
    CU_ASSERT_PTR_NULL(world_new(&sc, NULL, &err));
    CU_ASSERT(g_error_matches(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE));
    CU_ASSERT_PTR_NOT_NULL(err ? strstr(err->message, "overlay.superpeer.min_capacity") : NULL);
    g_clear_error(&err);
}

/* A protocol-built overlay whose peer 0 is ordinary: the first super-peer starts it. */
static void test_election_capacity_protocol(void)
{
    struct scenario sc;
    te_scenario(&sc, 60, SCENARIO_ELECTION_CAPACITY);
    sc.overlay.join = SCENARIO_JOIN_PROTOCOL;
    sc.workload.start = 60 * 200 * ENV_MS + 20 * ENV_S;
    sc.duration = sc.workload.start + 10 * ENV_S;
    struct world *w = te_new(&sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_FALSE(world_peer_super(w, 0)); /* with seed 1 */
    CU_ASSERT_EQUAL(te_supers(w), 6);
    world_run(w, NULL, NULL);
    CU_ASSERT_EQUAL(world_joined(w), 60);
    CU_ASSERT_EQUAL(world_superpeers(w), 6);
    CU_ASSERT_EQUAL(te_row(w, "lookups_correct"), 400);
    world_free(w);
}

/* ---- uptime ------------------------------------------------------------------------------- */

struct te_ping {
    bool done;
    int status;
    struct id responder;
};

static void te_ping_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    (void)n;
    struct te_ping *r = *(struct te_ping **)arg;
    g_free(arg);
    r->done = true;
    r->status = status;
    if (resp && resp->h.n_via)
        wire_dest_id(&resp->h.via[0], &r->responder);
}

/* A Ping from node `from` to Resource-ID k, answered by the super-peer responsible for k. */
static void te_ping(struct node *from, const struct id *k, struct te_ping *r)
{
    memset(r, 0, sizeof *r);
    struct node_dest d = {WIRE_DEST_RESOURCE, *k};
    GByteArray *b = g_byte_array_new();
    struct wire_ping_req p = {{NULL, 0}};
    wire_encode_ping_req(b, &p);
    node_request(from, &d, 1, WIRE_PING_REQ, b, NULL, te_ping_done, g_memdup2(&r, sizeof r));
    g_byte_array_free(b, TRUE);
}

/* Under churn, super-peers that go down lose the role and the longest-lived ordinary peers
 * are promoted: the live tier stays near the share (it shrinks without promotions), promoted
 * peers are joined super-peers that answer for their own ids, and lookups succeed.
 * TE_SEED=n runs another seed. */
static void test_election_uptime(void)
{
    struct scenario sc;
    te_scenario(&sc, 300, SCENARIO_ELECTION_UPTIME);
    te_churn(&sc);
    if (g_getenv("TE_SEED")) /* another churn sequence */
        sc.seed = g_ascii_strtoull(g_getenv("TE_SEED"), NULL, 10);
    struct world *w = te_new(&sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    bool initial[300];
    for (uint32_t i = 0; i < 300; i++)
        initial[i] = world_peer_super(w, i);
    world_run(w, NULL, NULL);
    struct world_summary s;
    world_summarize(w, &s);
    te_check_roles(w);
    CU_ASSERT(s.promotions >= 20);
    CU_ASSERT(s.leaves + s.crashes > 300);
    CU_ASSERT(s.lookup_success > 0.97);
    if (g_getenv("TE_DEBUG"))
        printf("\n    uptime: %llu promotions, success %.4f, tier %u of %u joined, mean %.2f",
               (unsigned long long)s.promotions, s.lookup_success, s.superpeers_end, s.joined,
               s.superpeers_mean);
    /* The tier follows the share: once the first promotions are possible (min_uptime after
     * churn starts), 10 % of the joined peers give or take 2 on average, and never more than
     * 6 off (between two rounds, 10 s apart, super-peers go down). */
    const GArray *ts = world_timeseries(w);
    double dev = 0, worst = 0;
    unsigned steps = 0;
    for (guint i = 0; i < ts->len; i++) {
        const struct world_sample *x = &g_array_index(ts, struct world_sample, i);
        if (x->t < 90 * ENV_S)
            continue;
        double d = fabs((double)x->super_peers - 0.1 * x->joined);
        dev += d;
        worst = MAX(worst, d);
        steps++;
    }
    CU_ASSERT_FATAL(steps > 30);
    if (g_getenv("TE_DEBUG"))
        printf("\n    tier off the share by %.2f on average, %.1f at most", dev / steps, worst);
    CU_ASSERT(dev / steps <= 2.0);
    CU_ASSERT(worst <= 6.0);
    /* Promoted peers: super-peers now that were not at the start (a super-peer that went
     * down came back ordinary), up and joined, and each answers a lookup of its own id. */
    unsigned promoted = 0, answered = 0, still_initial = 0;
    struct te_ping pings[300];
    uint32_t who[300];
    uint32_t asker = 0;
    for (uint32_t i = 0; i < 300; i++) {
        if (!world_peer_super(w, i) || !world_is_up(w, i))
            continue;
        if (initial[i]) {
            still_initial++;
            continue;
        }
        struct node *n = world_node(w, i);
        if (!node_is_joined(n))
            continue; /* promoted in the last round, still joining */
        CU_ASSERT_EQUAL(world_responsible(w, world_peer_id(w, i)), (int64_t)i);
        while (asker < 300 && (!world_node(w, asker) || world_peer_super(w, asker) ||
                               !node_is_joined(world_node(w, asker))))
            asker++;
        CU_ASSERT_FATAL(asker < 300);
        who[promoted] = i;
        te_ping(world_node(w, asker), world_peer_id(w, i), &pings[promoted++]);
    }
    CU_ASSERT(promoted >= 10);
    CU_ASSERT(promoted <= s.promotions);
    sc.duration += 10 * ENV_S;
    world_run_until(w, sc.duration);
    for (unsigned j = 0; j < promoted; j++)
        answered += pings[j].done && pings[j].status == NODE_OK &&
                    id_eq(&pings[j].responder, world_peer_id(w, who[j]));
    CU_ASSERT_EQUAL(answered, promoted);
    world_free(w);

    /* Nobody is up for min_uptime: no promotion, and the tier dwindles below the share. */
    te_scenario(&sc, 300, SCENARIO_ELECTION_UPTIME);
    te_churn(&sc);
    sc.overlay.superpeer.min_uptime = sc.duration + ENV_S;
    w = te_new(&sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    world_run(w, NULL, NULL);
    world_summarize(w, &s);
    CU_ASSERT_EQUAL(s.promotions, 0);
    CU_ASSERT(s.superpeers_end < 0.1 * s.joined - 5);
    world_free(w);
}

/* Who is promoted: the joined ordinary peers with the longest current uptime, at least
 * min_uptime.  A trace restarts every ordinary peer early on, the higher its index the
 * earlier (so the longest uptimes are the highest indices), and crashes every initial
 * super-peer but peer 0 for good; the first round after min_uptime promotes exactly the
 * highest-index ordinary peers, as many as the share asks for. */
static void test_election_uptime_order(void)
{
    struct scenario sc;
    te_scenario(&sc, 40, SCENARIO_ELECTION_UPTIME);
    sc.overlay.superpeer.share = 0.2;
    sc.overlay.superpeer.min_uptime = 20 * ENV_S;
    sc.workload.lookups = 0;
    sc.duration = 35 * ENV_S;
    struct world *w = te_new(&sc); /* the initial election, which the churn does not change */
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    bool initial[40];
    unsigned n_initial = 0;
    GString *trace = g_string_new("# test_election_uptime_order\n");
    for (uint32_t i = 0; i < 40; i++) {
        initial[i] = world_peer_super(w, i);
        n_initial += initial[i];
        if (initial[i] && i > 0)
            g_string_append_printf(trace, "5s %u down\n", i);
        else if (!initial[i])
            g_string_append_printf(trace, "1s %u down\n%.1fs %u up\n", i, 1.5 + (40 - i) * 0.1, i);
    }
    world_free(w);
    CU_ASSERT_FATAL(n_initial >= 3);
    char *path = world_util_write_yaml(trace->str);
    g_string_free(trace, TRUE);
    sc.churn.model = SCENARIO_CHURN_TRACE;
    sc.churn.trace = path;
    w = te_new(&sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    /* Rounds at 10 s (uptimes below 20 s: nobody), 20 s (still below) and 30 s. */
    world_run_until(w, 29 * ENV_S);
    CU_ASSERT_EQUAL(world_metrics(w)->promotions, 0);
    CU_ASSERT_EQUAL(world_superpeers(w), 1);
    world_run(w, NULL, NULL);
    unsigned live = world_joined(w), want = (unsigned)ceil(0.2 * live);
    CU_ASSERT_EQUAL(world_metrics(w)->promotions, want - 1);
    /* The promoted: the want - 1 highest indices among the ordinary peers. */
    unsigned expect = want - 1;
    for (int i = 39; i > 0; i--) {
        if (initial[i])
            continue;
        CU_ASSERT_EQUAL(world_peer_super(w, (uint32_t)i), expect > 0);
        if (expect > 0)
            expect--;
    }
    CU_ASSERT_TRUE(world_peer_super(w, 0));
    te_check_roles(w);
    world_free(w);
    g_remove(path);
    g_free(path);
}

/* The same scenario and seed give the same run, promotions included. */
static void test_election_deterministic(void)
{
    struct scenario sc;
    te_scenario(&sc, 150, SCENARIO_ELECTION_UPTIME);
    te_churn(&sc);
    sc.duration = 240 * ENV_S;
    struct world_summary a, b;
    struct world *wa = te_new(&sc), *wb = te_new(&sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(wa);
    CU_ASSERT_PTR_NOT_NULL_FATAL(wb);
    world_run(wa, NULL, NULL);
    world_run(wb, NULL, NULL);
    world_summarize(wa, &a);
    world_summarize(wb, &b);
    CU_ASSERT(a.promotions > 0);
    CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof a), 0);
    const GArray *ta = world_timeseries(wa), *tb = world_timeseries(wb);
    CU_ASSERT_EQUAL_FATAL(ta->len, tb->len);
    CU_ASSERT_EQUAL(memcmp(ta->data, tb->data, ta->len * sizeof(struct world_sample)), 0);
    world_free(wa);
    world_free(wb);
}

/* ---- scenario keys ------------------------------------------------------------------------ */

static const char te_base[] = "name: e\n"
                              "duration: 1m\n"
                              "peers: 20\n"
                              "overlay:\n"
                              "  topology: superpeer\n"
                              "  superpeer:\n"
                              "    share: 0.2\n";

/* Loads te_base plus `extra` with overrides; expects an error naming `key` and containing
 * `text` (NULL: expects success, returned). */
static struct scenario *te_load(const char *extra, const char *const *sets, const char *key,
                                const char *text)
{
    char *body = g_strconcat(te_base, extra, NULL);
    char *path = world_util_write_yaml(body);
    GError *err = NULL;
    struct scenario *s = scenario_load(path, sets, &err);
    if (key) {
        CU_ASSERT_PTR_NULL(s);
        CU_ASSERT(err && err->domain == SCENARIO_ERROR);
        bool ok = err && strstr(err->message, key) && strstr(err->message, text);
        if (!ok)
            fprintf(stderr, "\nmessage: %s\n", err ? err->message : "(none)");
        CU_ASSERT(ok);
        scenario_free(s);
        s = NULL;
    } else if (!s) {
        fprintf(stderr, "\nunexpected error: %s\n", err->message);
        CU_FAIL("scenario did not load");
    }
    g_clear_error(&err);
    g_remove(path);
    g_free(path);
    g_free(body);
    return s;
}

#define SETS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_election_keys(void)
{
    /* Defaults: random, as before. */
    struct scenario *s = te_load("", NULL, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->overlay.superpeer.election, SCENARIO_ELECTION_RANDOM);
    CU_ASSERT_EQUAL(s->overlay.superpeer.capacity.kind, SCENARIO_DIST_NONE);
    CU_ASSERT_EQUAL(s->overlay.superpeer.min_capacity, 0);
    CU_ASSERT_EQUAL(s->overlay.superpeer.election_interval, 30 * ENV_S);
    CU_ASSERT_EQUAL(s->overlay.superpeer.min_uptime, 600 * ENV_S);
    scenario_free(s);
    /* Capacity with the default distribution, filled in and written back. */
    s = te_load("    election: capacity\n", NULL, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->overlay.superpeer.capacity.kind, SCENARIO_DIST_PARETO);
    CU_ASSERT_EQUAL(s->overlay.superpeer.capacity.shape, 2);
    CU_ASSERT_EQUAL(s->overlay.superpeer.capacity.scale, ENV_S);
    char *yaml = scenario_to_yaml(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "    election: capacity\n    capacity:\n"
                                        "      dist: pareto\n      scale: 1\n      shape: 2\n"));
    g_free(yaml);
    scenario_free(s);
    /* Capacities are plain numbers; a round trip keeps them. */
    s = te_load("    election: capacity\n"
                "    capacity: {dist: lognormal, sigma: 1.5, median: 2.5}\n"
                "    min_capacity: 4\n",
                NULL, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->overlay.superpeer.capacity.median, 2500000);
    CU_ASSERT_EQUAL(s->overlay.superpeer.min_capacity, 4);
    yaml = scenario_to_yaml(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "      median: 2.5\n"));
    char *path = world_util_write_yaml(yaml);
    GError *err = NULL;
    struct scenario *again = scenario_load(path, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(again);
    if (again) {
        CU_ASSERT_EQUAL(again->overlay.superpeer.capacity.median, 2500000);
        CU_ASSERT_EQUAL(again->overlay.superpeer.election, SCENARIO_ELECTION_CAPACITY);
    }
    scenario_free(again);
    g_clear_error(&err);
    g_remove(path);
    g_free(path);
    g_free(yaml);
    scenario_free(s);
    s = te_load("    election: uptime\n    min_uptime: 2m\n    election_interval: 5s\n", NULL, NULL,
                NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->overlay.superpeer.min_uptime, 120 * ENV_S);
    CU_ASSERT_EQUAL(s->overlay.superpeer.election_interval, 5 * ENV_S);
    scenario_free(s);

    /* Errors: position (or --set) and key. */
    te_load("    election: best\n", NULL, ".yaml:8:15: key 'overlay.superpeer.election'",
            "unknown value 'best' (expected: random, capacity, uptime)");
    te_load("", SETS("overlay.superpeer.election=fastest"),
            "--set overlay.superpeer.election=fastest: key 'overlay.superpeer.election'",
            "unknown value");
    te_load("    min_uptime: 5m\n", NULL, "8:17: key 'overlay.superpeer.min_uptime'",
            "read only by the uptime election");
    te_load("    capacity: {dist: pareto, shape: 2, scale: 1}\n", NULL,
            "key 'overlay.superpeer.capacity.dist'", "add overlay.superpeer.election: capacity");
    te_load("    min_capacity: 2\n", NULL, "key 'overlay.superpeer.min_capacity'",
            "read only by the capacity election");
    te_load("    election: capacity\n    capacity: {dist: pareto, shape: 2, scale: 10ms}\n", NULL,
            "key 'overlay.superpeer.capacity.scale'", "expected a number > 0 (no unit)");
    te_load("    election: capacity\n    capacity: {dist: pareto, scale: 1}\n", NULL,
            "key 'overlay.superpeer.capacity.shape'", "missing: pareto needs shape");
    te_load("    election: capacity\n    capacity: {dist: weibull, shape: 1, value: 3}\n", NULL,
            "key 'overlay.superpeer.capacity.value'", "not a parameter of weibull");
    te_load("    election: capacity\n    capacity: {dist: constant, value: 0}\n", NULL,
            "key 'overlay.superpeer.capacity.value'", "expected a number > 0");
    te_load("    election: capacity\n    min_capacity: -1\n", NULL,
            "key 'overlay.superpeer.min_capacity'", "must be >= 0");
    te_load("    election: uptime\n    election_interval: 0s\n", NULL,
            "key 'overlay.superpeer.election_interval'", "must be >= 1us");
    te_load("    election: uptime\n    min_uptime: -5m\n", NULL,
            "key 'overlay.superpeer.min_uptime'", "must be >=");
    /* An explicit random election may keep the other rules' keys (sweeps switch rules). */
    s = te_load("    election: random\n    min_uptime: 5m\n", NULL, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL(s);
    scenario_free(s);
}

CU_TestInfo test_election_tests[] = {
    {"random: peer 0 and about the share; rows for super-peers only", test_election_random},
    {"capacity: exactly the top share, ties by index, a floor", test_election_capacity},
    {"capacity: the first super-peer starts a protocol-built overlay",
     test_election_capacity_protocol},
    {"uptime: promotions keep the tier at the share under churn", test_election_uptime},
    {"uptime: the longest uptimes are promoted first", test_election_uptime_order},
    {"uptime: a run is deterministic", test_election_deterministic},
    {"scenario keys: defaults, round trip and errors", test_election_keys},
    CU_TEST_INFO_NULL,
};
