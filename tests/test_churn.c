/* test_churn.c — CUnit suite for the churn module (sim/churn.h): the session model against the
 * renewal-process formula (fraction of time up = E[session] / (E[session] + E[down]), as in
 * Stutzbach & Rejaie, IMC 2006), exact schedules with constant times, trace replay and its
 * errors, scripted failures (Stoica et al., SIGCOMM 2001, §6.4), partition and heal, flash
 * crowds, determinism and cleanup.
 *
 * A real sim_engine drives the churn; a tiny stand-in for the world keeps each peer's up/down
 * bit and logs every hook call with its time.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "../sim/churn.h"

/* ---- a stand-in world ----------------------------------------------------------------------- */

struct tc_world {
    struct sim_engine *e;
    uint32_t n;
    bool *up;
    env_time *since;  /* when each peer last came up */
    env_time up_time; /* total peer-microseconds up, closed intervals only */
    GString *log;     /* one line per hook call */
    uint64_t ups, leaves, crashes, partitions;
    unsigned violations; /* up on an up peer, down on a down peer, index out of range */
};

static void tc_up(void *ud, uint32_t peer)
{
    struct tc_world *w = ud;
    env_time now = sim_now(w->e);
    g_string_append_printf(w->log, "%" G_GUINT64_FORMAT " up %u\n", now, peer);
    if (peer >= w->n || w->up[peer]) {
        w->violations++;
        return;
    }
    w->up[peer] = true;
    w->since[peer] = now;
    w->ups++;
}

static void tc_down(void *ud, uint32_t peer, bool graceful)
{
    struct tc_world *w = ud;
    env_time now = sim_now(w->e);
    g_string_append_printf(w->log, "%" G_GUINT64_FORMAT " %s %u\n", now,
                           graceful ? "leave" : "crash", peer);
    if (peer >= w->n || !w->up[peer]) {
        w->violations++;
        return;
    }
    w->up[peer] = false;
    w->up_time += now - w->since[peer];
    if (graceful)
        w->leaves++;
    else
        w->crashes++;
}

static bool tc_is_up(void *ud, uint32_t peer)
{
    struct tc_world *w = ud;
    if (peer >= w->n) {
        w->violations++;
        return false;
    }
    return w->up[peer];
}

static void tc_partition(void *ud, uint32_t groups)
{
    struct tc_world *w = ud;
    g_string_append_printf(w->log, "%" G_GUINT64_FORMAT " partition %u\n", sim_now(w->e), groups);
    w->partitions++;
}

/* A scenario with the loader's churn defaults written out, so the suite does not depend on
 * the YAML loader; events is NULL until tc_event adds one. */
static void tc_scenario(struct scenario *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->file = (char *)"tests/test_churn.yaml";
    sc->name = (char *)"test-churn";
    sc->seed = 1;
    sc->churn.model = SCENARIO_CHURN_NONE;
    sc->churn.graceful = 0.5;
}

static void tc_event(struct scenario *sc, struct scenario_event ev)
{
    if (!sc->churn.events)
        sc->churn.events = g_array_new(FALSE, FALSE, sizeof(struct scenario_event));
    g_array_append_val(sc->churn.events, ev);
}

static void tc_scenario_clear(struct scenario *sc)
{
    if (sc->churn.events)
        g_array_unref(sc->churn.events);
    sc->churn.events = NULL;
}

static struct scenario_dist tc_exp(double mean_s)
{
    return (struct scenario_dist){.kind = SCENARIO_DIST_EXPONENTIAL,
                                  .mean = (env_time)(mean_s * ENV_S)};
}

static struct scenario_dist tc_const(double s)
{
    return (struct scenario_dist){.kind = SCENARIO_DIST_CONSTANT, .value = (env_time)(s * ENV_S)};
}

/* Builds the churn on a fresh engine and a world of churn_max_peers slots, each up as
 * churn_initially_up says; returns NULL (and leaves *err) when churn_new fails. */
static struct churn *tc_build(struct tc_world *w, const struct scenario *sc, uint32_t peers,
                              uint64_t seed, GError **err)
{
    memset(w, 0, sizeof *w);
    w->e = sim_engine_new();
    w->log = g_string_new(NULL);
    struct churn_hooks hooks = {
        .ud = w, .up = tc_up, .down = tc_down, .is_up = tc_is_up, .partition = tc_partition};
    struct churn *c = churn_new(sc, w->e, peers, &hooks, seed, err);
    if (!c)
        return NULL;
    w->n = churn_max_peers(c);
    w->up = g_new0(bool, w->n);
    w->since = g_new0(env_time, w->n);
    for (uint32_t p = 0; p < w->n; p++)
        w->up[p] = churn_initially_up(c, p);
    return c;
}

/* Frees churn, world and engine; checks that churn_free left nothing pending. */
static void tc_finish(struct tc_world *w, struct churn *c)
{
    churn_free(c);
    CU_ASSERT_EQUAL(sim_pending(w->e), 0);
    sim_engine_free(w->e);
    g_string_free(w->log, TRUE);
    g_free(w->up);
    g_free(w->since);
}

/* Counters agree with the hook calls and no hook was called out of turn. */
static void tc_check_counters(const struct tc_world *w, const struct churn *c)
{
    CU_ASSERT_EQUAL(w->violations, 0);
    CU_ASSERT_EQUAL(churn_joins(c), w->ups);
    CU_ASSERT_EQUAL(churn_leaves(c), w->leaves);
    CU_ASSERT_EQUAL(churn_crashes(c), w->crashes);
}

/* ---- the session model ---------------------------------------------------------------------- */

/* Runs 200 peers for `hours` and checks the fraction of peer-time spent up against
 * mean_session / (mean_session + mean_down) and the graceful fraction against churn.graceful. */
static void tc_up_fraction(struct scenario_dist session, struct scenario_dist down,
                           double mean_session_s, double mean_down_s, double hours)
{
    struct scenario sc;
    tc_scenario(&sc);
    sc.churn.model = SCENARIO_CHURN_SESSIONS;
    sc.churn.session = session;
    sc.churn.downtime = down;
    sc.churn.graceful = 0.3;
    struct tc_world w;
    const uint32_t n = 200;
    struct churn *c = tc_build(&w, &sc, n, 7, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    churn_start(c);
    env_time end = (env_time)(hours * 3600 * ENV_S);
    sim_run_until(w.e, end);
    env_time up_time = w.up_time;
    for (uint32_t p = 0; p < n; p++)
        if (w.up[p])
            up_time += end - w.since[p];
    double fraction = (double)up_time / ((double)n * (double)end);
    double expected = mean_session_s / (mean_session_s + mean_down_s);
    CU_ASSERT_DOUBLE_EQUAL(fraction, expected, 0.015);
    uint64_t departures = churn_leaves(c) + churn_crashes(c);
    CU_ASSERT(departures > 20000);
    CU_ASSERT_DOUBLE_EQUAL((double)churn_leaves(c) / (double)departures, 0.3, 0.015);
    /* Each peer alternates, so rejoins trail departures by at most one per peer. */
    CU_ASSERT(churn_joins(c) <= departures && departures - churn_joins(c) <= n);
    tc_check_counters(&w, c);
    tc_finish(&w, c);
}

static void test_sessions_exponential(void)
{
    tc_up_fraction(tc_exp(60), tc_exp(20), 60, 20, 8);
}

static void test_sessions_weibull(void)
{
    /* Weibull shape 2, scale 100 s: mean = 100 Γ(1.5) s. */
    struct scenario_dist s = {.kind = SCENARIO_DIST_WEIBULL, .shape = 2, .scale = 100 * ENV_S};
    tc_up_fraction(s, tc_exp(40), 100 * tgamma(1.5), 40, 10);
}

/* Constant times make the schedule exact: sessions of 10 s, down times of 5 s, from 100 s.
 * Peer 2 is down at churn.start, so it starts with a down time. */
static void test_sessions_schedule(void)
{
    struct scenario sc;
    tc_scenario(&sc);
    sc.churn.model = SCENARIO_CHURN_SESSIONS;
    sc.churn.session = tc_const(10);
    sc.churn.downtime = tc_const(5);
    sc.churn.graceful = 1;
    sc.churn.start = 100 * ENV_S;
    struct tc_world w;
    struct churn *c = tc_build(&w, &sc, 3, 1, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    w.up[2] = false;
    churn_start(c);
    sim_run_until(w.e, 126 * ENV_S);
    CU_ASSERT_STRING_EQUAL(w.log->str, "105000000 up 2\n"
                                       "110000000 leave 0\n"
                                       "110000000 leave 1\n"
                                       "115000000 leave 2\n"
                                       "115000000 up 0\n"
                                       "115000000 up 1\n"
                                       "120000000 up 2\n"
                                       "125000000 leave 0\n"
                                       "125000000 leave 1\n");
    CU_ASSERT_EQUAL(churn_leaves(c), 5);
    CU_ASSERT_EQUAL(churn_crashes(c), 0);
    CU_ASSERT_EQUAL(churn_joins(c), 4);
    tc_check_counters(&w, c);
    tc_finish(&w, c);
}

/* A peer crashed by a scripted failure follows the session model's down time. */
static void test_sessions_fail_rejoins(void)
{
    struct scenario sc;
    tc_scenario(&sc);
    sc.churn.model = SCENARIO_CHURN_SESSIONS;
    sc.churn.session = tc_const(100);
    sc.churn.downtime = tc_const(5);
    tc_event(&sc, (struct scenario_event){
                      .at = 10 * ENV_S, .action = SCENARIO_EVENT_FAIL, .fraction = 0.5});
    struct tc_world w;
    struct churn *c = tc_build(&w, &sc, 4, 3, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    churn_start(c);
    sim_run_until(w.e, 10 * ENV_S);
    CU_ASSERT_EQUAL(churn_crashes(c), 2);
    uint32_t crashed[2], k = 0;
    for (uint32_t p = 0; p < 4; p++)
        if (!w.up[p] && k < 2)
            crashed[k++] = p;
    CU_ASSERT_EQUAL_FATAL(k, 2);
    sim_run_until(w.e, 15 * ENV_S);
    CU_ASSERT(w.up[crashed[0]] && w.up[crashed[1]]);
    CU_ASSERT_EQUAL(churn_joins(c), 2);
    /* The survivors' sessions end at 100 s; the rejoined peers' at 115 s. */
    sim_run_until(w.e, 100 * ENV_S);
    CU_ASSERT(w.up[crashed[0]] && w.up[crashed[1]]);
    CU_ASSERT_EQUAL(churn_leaves(c) + churn_crashes(c), 4);
    sim_run_until(w.e, 115 * ENV_S);
    CU_ASSERT(!w.up[crashed[0]] && !w.up[crashed[1]]);
    CU_ASSERT_EQUAL(churn_leaves(c) + churn_crashes(c), 6);
    tc_check_counters(&w, c);
    tc_finish(&w, c);
    tc_scenario_clear(&sc);
}

static void test_sessions_bad_dist(void)
{
    struct scenario sc;
    tc_scenario(&sc);
    sc.churn.model = SCENARIO_CHURN_SESSIONS;
    sc.churn.downtime = tc_exp(10);
    struct tc_world w;
    GError *err = NULL;
    CU_ASSERT_PTR_NULL(tc_build(&w, &sc, 4, 1, &err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "tests/test_churn.yaml: churn.session: "));
    g_error_free(err);
    tc_finish(&w, NULL);
}

/* ---- traces --------------------------------------------------------------------------------- */

/* Writes text (len bytes) to a fresh temporary file; returns its path (g_free it). */
static char *tc_write(const char *text, gsize len)
{
    char *path = NULL;
    int fd = g_file_open_tmp("test_churn_XXXXXX.txt", &path, NULL);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_FATAL(g_file_set_contents(path, text, (gssize)len, NULL));
    return path;
}

static const char tc_trace[] = "# time peer up|down\n"
                               "\n"
                               "0 1 up\n"
                               "\t5s 0 down   # peer 0 goes first at 5 s\n"
                               "2.5 3 down\n"
                               "5 2 down\n"
                               "1m 0 up\n"
                               "90000ms 3 up\n"
                               "0.5m 4 up\n"
                               "1h 2 down\n"
                               "2m 1 down\r\n"
                               "   # the end";

static void tc_trace_run(double graceful, const char *expected_log)
{
    char *path = tc_write(tc_trace, sizeof tc_trace - 1);
    struct scenario sc;
    tc_scenario(&sc);
    sc.churn.model = SCENARIO_CHURN_TRACE;
    sc.churn.trace = path;
    sc.churn.graceful = graceful;
    struct tc_world w;
    GError *err = NULL;
    struct churn *c = tc_build(&w, &sc, 6, 1, &err);
    if (err)
        fprintf(stderr, "%s\n", err->message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(churn_max_peers(c), 6);
    bool expect_up[] = {true, false, true, true, false, true};
    for (uint32_t p = 0; p < 6; p++)
        CU_ASSERT_EQUAL(churn_initially_up(c, p), expect_up[p]);
    churn_start(c);
    sim_run_until(w.e, 2 * 3600 * ENV_S);
    CU_ASSERT_STRING_EQUAL(w.log->str, expected_log);
    CU_ASSERT_EQUAL(churn_joins(c), 4);
    CU_ASSERT_EQUAL(churn_leaves(c) + churn_crashes(c), 4);
    tc_check_counters(&w, c);
    tc_finish(&w, c);
    g_unlink(path);
    g_free(path);
}

/* Lines are replayed by time (file order on ties), whatever their order in the file; a "down"
 * for a peer already down does nothing; peers 1 and 4 start with "up", so they start down. */
static void test_trace_replay(void)
{
    tc_trace_run(1, "0 up 1\n"
                    "2500000 leave 3\n"
                    "5000000 leave 0\n"
                    "5000000 leave 2\n"
                    "30000000 up 4\n"
                    "60000000 up 0\n"
                    "90000000 up 3\n"
                    "120000000 leave 1\n");
    tc_trace_run(0, "0 up 1\n"
                    "2500000 crash 3\n"
                    "5000000 crash 0\n"
                    "5000000 crash 2\n"
                    "30000000 up 4\n"
                    "60000000 up 0\n"
                    "90000000 up 3\n"
                    "120000000 crash 1\n");
}

/* A relative churn.trace is found next to the scenario file. */
static void test_trace_relative(void)
{
    char *dir = g_dir_make_tmp("test_churn_XXXXXX", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    char *trace = g_build_filename(dir, "t.txt", NULL);
    char *yaml = g_build_filename(dir, "s.yaml", NULL);
    CU_ASSERT_FATAL(g_file_set_contents(trace, "1s 0 down\n", -1, NULL));
    struct scenario sc;
    tc_scenario(&sc);
    sc.file = yaml;
    sc.churn.model = SCENARIO_CHURN_TRACE;
    sc.churn.trace = (char *)"t.txt";
    struct tc_world w;
    struct churn *c = tc_build(&w, &sc, 1, 1, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    churn_start(c);
    sim_run_until(w.e, 2 * ENV_S);
    CU_ASSERT_EQUAL(churn_leaves(c) + churn_crashes(c), 1);
    tc_finish(&w, c);
    g_unlink(trace);
    g_rmdir(dir);
    g_free(trace);
    g_free(yaml);
    g_free(dir);
}

static void test_trace_errors(void)
{
    static const struct {
        const char *text;
        gsize len;         /* 0: strlen */
        const char *where; /* ":LINE:COLUMN: churn.trace: " */
        const char *what;
    } cases[] = {
        {"0 1 up\n5x 0 down\n", 0, ":2:1:", "'5x' is not a time"},
        {"# c\n\n  10 7 up\n", 0, ":3:6:", "peer 7 is out of range (the scenario has 5 peers"},
        {"10 99999999999 up\n", 0, ":1:4:", "peer 99999999999 is out of range"},
        {"10 1 sideways\n", 0, ":1:6:", "'sideways' is not an action"},
        {"10 1 UP\n", 0, ":1:6:", "'UP' is not an action"},
        {"10 1\n", 0, ":1:5:", "missing action"},
        {"10   # no peer\n", 0, ":1:3:", "missing peer index and action"},
        {"10 1 up extra\n", 0, ":1:9:", "unexpected 'extra' after the action"},
        {"-5 1 up\n", 0, ":1:1:", "'-5' is not a time"},
        {"1.5.2 0 up\n", 0, ":1:1:", "'1.5.2' is not a time"},
        {"10 days 0 up\n", 0, ":1:4:", "'days' is not a peer index"},
        {"10 x1 up\n", 0, ":1:4:", "'x1' is not a peer index"},
        {"10 -1 up\n", 0, ":1:4:", "'-1' is not a peer index"},
        {"99999999999999999999 1 up\n", 0, ":1:1:", "is not a time"},
        {"10 1 up\n1\0 2 up\n", 16, ":2:2:", "a NUL byte"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        gsize len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        char *path = tc_write(cases[i].text, len);
        struct scenario sc;
        tc_scenario(&sc);
        sc.churn.model = SCENARIO_CHURN_TRACE;
        sc.churn.trace = path;
        struct tc_world w;
        GError *err = NULL;
        CU_ASSERT_PTR_NULL(tc_build(&w, &sc, 5, 1, &err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(err);
        char *where = g_strconcat(path, cases[i].where, " churn.trace: ", NULL);
        bool ok = g_str_has_prefix(err->message, where) && strstr(err->message, cases[i].what);
        if (!ok)
            fprintf(stderr, "\ncase %zu: got \"%s\"\n", i, err->message);
        CU_ASSERT(ok);
        g_free(where);
        g_error_free(err);
        tc_finish(&w, NULL);
        g_unlink(path);
        g_free(path);
    }
}

static void test_trace_missing(void)
{
    struct scenario sc;
    tc_scenario(&sc);
    sc.churn.model = SCENARIO_CHURN_TRACE;
    sc.churn.trace = (char *)"/nonexistent/trace-nowhere.txt";
    struct tc_world w;
    GError *err = NULL;
    CU_ASSERT_PTR_NULL(tc_build(&w, &sc, 5, 1, &err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT(g_error_matches(err, SCENARIO_ERROR, SCENARIO_ERROR_IO));
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "churn.trace"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "trace-nowhere.txt"));
    g_clear_error(&err);
    tc_finish(&w, NULL);

    sc.churn.trace = (char *)"";
    CU_ASSERT_PTR_NULL(tc_build(&w, &sc, 5, 1, &err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "churn.trace: a trace file is required"));
    g_clear_error(&err);
    tc_finish(&w, NULL);
}

/* The example shipped for users parses, and every peer in it is used. */
static void test_trace_example(void)
{
    struct scenario sc;
    tc_scenario(&sc);
    sc.churn.model = SCENARIO_CHURN_TRACE;
    sc.churn.trace = (char *)"scenarios/data/trace-example.txt";
    struct tc_world w;
    GError *err = NULL;
    struct churn *c = tc_build(&w, &sc, 20, 1, &err);
    if (err)
        fprintf(stderr, "%s\n", err->message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    churn_start(c);
    sim_run_until(w.e, 10 * 60 * ENV_S);
    CU_ASSERT(churn_joins(c) > 5);
    CU_ASSERT(churn_leaves(c) + churn_crashes(c) > 5);
    tc_check_counters(&w, c);
    tc_finish(&w, c);
}

/* ---- scripted events ------------------------------------------------------------------------ */

/* 100 peers, the 20 even ones below 40 down: a quarter of the 80 live ones fail, then all. */
static void test_fail_count(void)
{
    struct scenario sc;
    tc_scenario(&sc);
    tc_event(&sc, (struct scenario_event){
                      .at = 5 * ENV_S, .action = SCENARIO_EVENT_FAIL, .fraction = 0.25});
    tc_event(&sc, (struct scenario_event){
                      .at = 6 * ENV_S, .action = SCENARIO_EVENT_FAIL, .fraction = 1});
    tc_event(&sc, (struct scenario_event){
                      .at = 7 * ENV_S, .action = SCENARIO_EVENT_FAIL, .fraction = 0.5});
    struct tc_world w;
    struct churn *c = tc_build(&w, &sc, 100, 1, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    for (uint32_t p = 0; p < 40; p += 2)
        w.up[p] = false;
    churn_start(c);
    sim_run_until(w.e, 5 * ENV_S);
    CU_ASSERT_EQUAL(churn_crashes(c), 20);
    CU_ASSERT_EQUAL(churn_leaves(c), 0);
    CU_ASSERT_EQUAL(w.violations, 0); /* only live peers were crashed */
    sim_run_until(w.e, 10 * ENV_S);
    CU_ASSERT_EQUAL(churn_crashes(c), 80);
    for (uint32_t p = 0; p < 100; p++)
        CU_ASSERT(!w.up[p]);
    tc_check_counters(&w, c);
    tc_finish(&w, c);
    tc_scenario_clear(&sc);
}

/* round(fraction x live), and every live peer equally likely: 400 seeds, half of 10 fail. */
static void test_fail_uniform(void)
{
    struct scenario sc;
    tc_scenario(&sc);
    tc_event(&sc,
             (struct scenario_event){.at = 1, .action = SCENARIO_EVENT_FAIL, .fraction = 0.33});
    unsigned hits[20] = {0};
    for (uint64_t seed = 1; seed <= 400; seed++) {
        struct tc_world w;
        struct churn *c = tc_build(&w, &sc, 20, seed, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        for (uint32_t p = 0; p < 20; p += 2) /* odd peers live: round(0.33 x 10) = 3 fail */
            w.up[p] = false;
        churn_start(c);
        sim_run_until(w.e, ENV_S);
        CU_ASSERT_EQUAL(churn_crashes(c), 3);
        for (uint32_t p = 1; p < 20; p += 2)
            hits[p] += !w.up[p];
        tc_check_counters(&w, c);
        tc_finish(&w, c);
    }
    /* Each live peer fails with probability 0.3: 120 of 400 expected, sd about 9.2. */
    for (uint32_t p = 1; p < 20; p += 2)
        CU_ASSERT(hits[p] > 85 && hits[p] < 155);
    tc_scenario_clear(&sc);
}

static void test_partition_heal(void)
{
    struct scenario sc;
    tc_scenario(&sc);
    tc_event(&sc, (struct scenario_event){
                      .at = 10 * ENV_S, .action = SCENARIO_EVENT_PARTITION, .groups = 3});
    tc_event(&sc, (struct scenario_event){.at = 20 * ENV_S, .action = SCENARIO_EVENT_HEAL});
    tc_event(&sc, (struct scenario_event){
                      .at = 20 * ENV_S, .action = SCENARIO_EVENT_PARTITION, .groups = 2});
    struct tc_world w;
    struct churn *c = tc_build(&w, &sc, 10, 1, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    churn_start(c);
    sim_run_until(w.e, 15 * ENV_S);
    CU_ASSERT_STRING_EQUAL(w.log->str, "10000000 partition 3\n");
    sim_run_until(w.e, 100 * ENV_S);
    CU_ASSERT_STRING_EQUAL(w.log->str, "10000000 partition 3\n"
                                       "20000000 partition 0\n"
                                       "20000000 partition 2\n");
    CU_ASSERT_EQUAL(churn_joins(c) + churn_leaves(c) + churn_crashes(c), 0);
    tc_finish(&w, c);
    tc_scenario_clear(&sc);
}

/* Two crowds after 10 initial peers: 5 peers over [10 s, 30 s) and 3 at once at 15 s. */
static void test_flash_crowd(void)
{
    struct scenario sc;
    tc_scenario(&sc);
    tc_event(&sc, (struct scenario_event){.at = 10 * ENV_S,
                                          .action = SCENARIO_EVENT_FLASH_CROWD,
                                          .peers = 5,
                                          .over = 20 * ENV_S});
    tc_event(&sc, (struct scenario_event){
                      .at = 15 * ENV_S, .action = SCENARIO_EVENT_FLASH_CROWD, .peers = 3});
    struct tc_world w;
    struct churn *c = tc_build(&w, &sc, 10, 1, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(churn_max_peers(c), 18);
    for (uint32_t p = 0; p < 18; p++)
        CU_ASSERT_EQUAL(churn_initially_up(c, p), p < 10);
    CU_ASSERT(!churn_initially_up(c, 18));
    churn_start(c);
    sim_run_until(w.e, 10 * ENV_S - 1);
    CU_ASSERT_EQUAL(churn_joins(c), 0);
    sim_run_until(w.e, 60 * ENV_S);
    CU_ASSERT_EQUAL(churn_joins(c), 8);
    for (uint32_t p = 0; p < 18; p++)
        CU_ASSERT(w.up[p]);
    /* Parse the log: crowd A in index order, nondecreasing, inside its window; crowd B at
     * 15 s exactly. */
    char **lines = g_strsplit(w.log->str, "\n", -1);
    env_time last_a = 0;
    uint32_t next_a = 10, next_b = 15;
    for (char **l = lines; *l && **l; l++) {
        env_time t;
        uint32_t peer;
        CU_ASSERT_FATAL(sscanf(*l, "%" G_GUINT64_FORMAT " up %u", &t, &peer) == 2);
        if (peer < 15) {
            CU_ASSERT_EQUAL(peer, next_a++);
            CU_ASSERT(t >= last_a && t >= 10 * ENV_S && t < 30 * ENV_S);
            last_a = t;
        } else {
            CU_ASSERT_EQUAL(peer, next_b++);
            CU_ASSERT_EQUAL(t, 15 * ENV_S);
        }
    }
    CU_ASSERT_EQUAL(next_a, 15);
    CU_ASSERT_EQUAL(next_b, 18);
    g_strfreev(lines);
    tc_check_counters(&w, c);
    tc_finish(&w, c);
    tc_scenario_clear(&sc);
}

/* Arrival times of a large crowd are uniform over the window: mean and quartiles. */
static void test_flash_crowd_uniform(void)
{
    struct scenario sc;
    tc_scenario(&sc);
    const uint32_t n = 20000;
    tc_event(&sc,
             (struct scenario_event){
                 .at = 0, .action = SCENARIO_EVENT_FLASH_CROWD, .peers = n, .over = 100 * ENV_S});
    struct tc_world w;
    struct churn *c = tc_build(&w, &sc, 1, 5, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    churn_start(c);
    sim_run_until(w.e, 25 * ENV_S);
    double q1 = (double)churn_joins(c) / n;
    sim_run_until(w.e, 50 * ENV_S);
    double q2 = (double)churn_joins(c) / n;
    sim_run_until(w.e, 100 * ENV_S);
    CU_ASSERT_EQUAL(churn_joins(c), n);
    double sum = 0;
    for (uint32_t p = 1; p <= n; p++)
        sum += (double)w.since[p] / ENV_S;
    CU_ASSERT_DOUBLE_EQUAL(sum / n, 50, 1.0);
    CU_ASSERT_DOUBLE_EQUAL(q1, 0.25, 0.02);
    CU_ASSERT_DOUBLE_EQUAL(q2, 0.5, 0.02);
    tc_finish(&w, c);
    tc_scenario_clear(&sc);
}

/* Under the session model, crowd peers get sessions: before churn.start they are taken in at
 * churn.start, after it as they arrive. */
static void test_flash_crowd_sessions(void)
{
    struct scenario sc;
    tc_scenario(&sc);
    sc.churn.model = SCENARIO_CHURN_SESSIONS;
    sc.churn.session = tc_const(10);
    sc.churn.downtime = tc_const(5);
    sc.churn.graceful = 0;
    sc.churn.start = 20 * ENV_S;
    tc_event(&sc, (struct scenario_event){
                      .at = 5 * ENV_S, .action = SCENARIO_EVENT_FLASH_CROWD, .peers = 1});
    tc_event(&sc, (struct scenario_event){
                      .at = 22 * ENV_S, .action = SCENARIO_EVENT_FLASH_CROWD, .peers = 1});
    struct tc_world w;
    struct churn *c = tc_build(&w, &sc, 1, 1, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    churn_start(c);
    sim_run_until(w.e, 33 * ENV_S);
    CU_ASSERT_STRING_EQUAL(w.log->str, "5000000 up 1\n"
                                       "22000000 up 2\n"
                                       "30000000 crash 0\n"
                                       "30000000 crash 1\n"
                                       "32000000 crash 2\n");
    tc_check_counters(&w, c);
    tc_finish(&w, c);
    tc_scenario_clear(&sc);
}

static void test_max_peers_none(void)
{
    struct scenario sc;
    tc_scenario(&sc);
    struct tc_world w;
    struct churn *c = tc_build(&w, &sc, 7, 1, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(churn_max_peers(c), 7);
    for (uint32_t p = 0; p < 7; p++)
        CU_ASSERT(churn_initially_up(c, p));
    churn_start(c);
    CU_ASSERT_EQUAL(sim_pending(w.e), 0);
    sim_run_until(w.e, 3600 * ENV_S);
    CU_ASSERT_EQUAL(w.log->len, 0);
    tc_finish(&w, c);
}

/* ---- determinism and cleanup ---------------------------------------------------------------- */

/* A mixed run: sessions, a failure, a crowd, a partition; returns the call log. */
static char *tc_mixed_log(uint64_t seed, env_time until)
{
    struct scenario sc;
    tc_scenario(&sc);
    sc.churn.model = SCENARIO_CHURN_SESSIONS;
    sc.churn.session =
        (struct scenario_dist){.kind = SCENARIO_DIST_PARETO, .shape = 1.5, .scale = 20 * ENV_S};
    sc.churn.downtime =
        (struct scenario_dist){.kind = SCENARIO_DIST_LOGNORMAL, .sigma = 1, .median = 10 * ENV_S};
    sc.churn.start = 30 * ENV_S;
    tc_event(&sc, (struct scenario_event){.at = 20 * ENV_S,
                                          .action = SCENARIO_EVENT_FLASH_CROWD,
                                          .peers = 20,
                                          .over = 30 * ENV_S});
    tc_event(&sc, (struct scenario_event){
                      .at = 60 * ENV_S, .action = SCENARIO_EVENT_FAIL, .fraction = 0.4});
    tc_event(&sc, (struct scenario_event){
                      .at = 60 * ENV_S, .action = SCENARIO_EVENT_PARTITION, .groups = 2});
    tc_event(&sc, (struct scenario_event){.at = 90 * ENV_S, .action = SCENARIO_EVENT_HEAL});
    struct tc_world w;
    struct churn *c = tc_build(&w, &sc, 50, seed, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    churn_start(c);
    sim_run_until(w.e, until);
    tc_check_counters(&w, c);
    char *log = g_strdup(w.log->str);
    tc_finish(&w, c);
    tc_scenario_clear(&sc);
    return log;
}

static void test_determinism(void)
{
    char *a = tc_mixed_log(42, 600 * ENV_S);
    char *b = tc_mixed_log(42, 600 * ENV_S);
    char *other = tc_mixed_log(43, 600 * ENV_S);
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT_STRING_NOT_EQUAL(a, other);
    CU_ASSERT(strstr(a, "leave") && strstr(a, "crash") && strstr(a, "up 69\n"));
    CU_ASSERT(strstr(a, "60000000 partition 2\n") && strstr(a, "90000000 partition 0\n"));
    g_free(a);
    g_free(b);
    g_free(other);
}

/* churn_free cancels what is pending (tc_finish checks), at any point of a run. */
static void test_free_midway(void)
{
    g_free(tc_mixed_log(1, 45 * ENV_S));
    g_free(tc_mixed_log(1, 70 * ENV_S));
}

CU_TestInfo test_churn_tests[] = {
    {"sessions: exponential up fraction and graceful share", test_sessions_exponential},
    {"sessions: weibull up fraction", test_sessions_weibull},
    {"sessions: exact schedule with constant times", test_sessions_schedule},
    {"sessions: a failed peer follows the down time", test_sessions_fail_rejoins},
    {"sessions: missing distribution is an error", test_sessions_bad_dist},
    {"trace: replay order, times, initially down", test_trace_replay},
    {"trace: relative path next to the scenario", test_trace_relative},
    {"trace: errors name file:line:column", test_trace_errors},
    {"trace: missing file", test_trace_missing},
    {"trace: the shipped example", test_trace_example},
    {"fail: count among live peers", test_fail_count},
    {"fail: uniform choice", test_fail_uniform},
    {"partition and heal", test_partition_heal},
    {"flash crowd: peers, order and window", test_flash_crowd},
    {"flash crowd: uniform arrival times", test_flash_crowd_uniform},
    {"flash crowd: sessions for crowd peers", test_flash_crowd_sessions},
    {"no churn: max peers and nothing scheduled", test_max_peers_none},
    {"determinism: same seed, same calls", test_determinism},
    {"churn_free cancels pending events", test_free_midway},
    CU_TEST_INFO_NULL,
};
