/* test_scenario.c — CUnit suite for the YAML scenario loader (sim/scenario.h).
 *
 * Covers what docs/scenarios.md promises: every key read, defaults applied, --set overrides,
 * every error naming FILE:LINE:COLUMN (or "--set KEY=VALUE") and the dotted key, the value
 * syntaxes (durations, rates, bandwidths, sizes, probabilities), distributions and their
 * parameter rules, churn events, metric snapshots, list entries set or swept by index
 * (churn.events.N.FIELD, metrics.snapshots.N), workload.fetch_start and its derived default,
 * expectations, sweeps (points and the order of their overrides), and a round trip through
 * scenario_to_yaml().  Input files live in tests/data/ or are written inline to a temporary
 * file; tests run from the repository root.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../sim/scenario.h"

#define DATA "tests/data/"

static struct scenario *load_ok(const char *path, const char *const *overrides)
{
    GError *err = NULL;
    struct scenario *s = scenario_load(path, overrides, &err);
    if (!s) {
        fprintf(stderr, "\nunexpected error: %s\n", err->message);
        g_error_free(err);
    }
    return s;
}

/* Loads, expects failure with `code`, and checks that the message starts with `where` and
 * contains every string in `parts` (NULL-terminated). */
static void expect_error(const char *path, const char *const *overrides, int code,
                         const char *where, const char *const *parts)
{
    GError *err = NULL;
    struct scenario *s = scenario_load(path, overrides, &err);
    CU_ASSERT_PTR_NULL(s);
    scenario_free(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT(g_error_matches(err, SCENARIO_ERROR, code));
    bool ok = g_str_has_prefix(err->message, where);
    for (size_t i = 0; parts && parts[i]; i++)
        ok = ok && strstr(err->message, parts[i]) != NULL;
    if (!ok)
        fprintf(stderr, "\nmessage: %s\nwanted prefix '%s'\n", err->message, where);
    CU_ASSERT(ok);
    g_error_free(err);
}

#define PARTS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define SETS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- valid files --------------------------------------------------------------------------- */

static void test_full(void)
{
    struct scenario *s = load_ok(DATA "scenario_full.yaml", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s->file, DATA "scenario_full.yaml");
    CU_ASSERT_STRING_EQUAL(s->name, "full-example");
    CU_ASSERT_EQUAL(s->seed, 12345678901234u);
    CU_ASSERT_EQUAL(s->duration, 90 * 60 * ENV_S);
    CU_ASSERT_EQUAL(s->peers, 2500);
    CU_ASSERT_STRING_EQUAL(s->overlay.topology, "chord");
    CU_ASSERT_STRING_EQUAL(s->overlay.name, "overlay.test");
    CU_ASSERT_EQUAL(s->overlay.join, SCENARIO_JOIN_PROTOCOL);
    CU_ASSERT_EQUAL(s->overlay.join_interval, 50 * ENV_MS);
    CU_ASSERT_EQUAL(s->overlay.successors, 8);
    CU_ASSERT_EQUAL(s->overlay.predecessors, 6);
    CU_ASSERT_EQUAL(s->overlay.replicas, 3);
    CU_ASSERT_EQUAL(s->overlay.update_interval, 120 * ENV_S);
    CU_ASSERT_EQUAL(s->overlay.ping_interval, 30 * ENV_S); /* bare number: seconds */
    CU_ASSERT_FALSE(s->overlay.reactive);
    CU_ASSERT_EQUAL(s->overlay.reliability_timer, 1500 * ENV_MS);
    CU_ASSERT_EQUAL(s->latency.model, SCENARIO_LATENCY_UNIFORM);
    CU_ASSERT_EQUAL(s->latency.ms, 12.5);
    CU_ASSERT_EQUAL(s->latency.min_ms, 5.0);
    CU_ASSERT_EQUAL(s->latency.max_ms, 80.25);
    CU_ASSERT_EQUAL(s->workload.start, 0);
    CU_ASSERT_EQUAL(s->workload.lookups, 0);
    CU_ASSERT_EQUAL(s->workload.lookup_rate, 0.5);
    CU_ASSERT_EQUAL(s->workload.keys, 5000);
    CU_ASSERT_EQUAL(s->workload.keys_per_peer, 2);
    CU_ASSERT_EQUAL(s->workload.records, 100);
    CU_ASSERT_EQUAL(s->workload.record_lifetime, 60);
    CU_ASSERT_EQUAL(s->workload.value_size, 0);
    CU_ASSERT_EQUAL(s->workload.fetches, 7);
    CU_ASSERT_EQUAL(s->workload.fetch_rate, 2.25);
    CU_ASSERT_STRING_EQUAL(s->output.pcap, "traffic \"all\".pcap");
    scenario_free(s);
}

static void test_defaults(void)
{
    struct scenario *s = load_ok(DATA "scenario_minimal.yaml", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s->name, "minimal");
    CU_ASSERT_EQUAL(s->duration, 10 * ENV_S);
    CU_ASSERT_EQUAL(s->peers, 1);
    CU_ASSERT_EQUAL(s->seed, 1);
    CU_ASSERT_STRING_EQUAL(s->overlay.topology, "chord");
    CU_ASSERT_STRING_EQUAL(s->overlay.name, "p2psip.example");
    CU_ASSERT_EQUAL(s->overlay.join, SCENARIO_JOIN_INSTANT);
    CU_ASSERT_EQUAL(s->overlay.join_interval, 200 * ENV_MS);
    CU_ASSERT_EQUAL(s->overlay.successors, 4);
    CU_ASSERT_EQUAL(s->overlay.predecessors, 4);
    CU_ASSERT_EQUAL(s->overlay.replicas, 2);
    CU_ASSERT_EQUAL(s->overlay.update_interval, 60 * ENV_S);
    CU_ASSERT_EQUAL(s->overlay.ping_interval, 60 * ENV_S);
    CU_ASSERT_TRUE(s->overlay.reactive);
    CU_ASSERT_EQUAL(s->overlay.reliability_timer, 3 * ENV_S);
    CU_ASSERT_EQUAL(s->latency.model, SCENARIO_LATENCY_CONSTANT);
    CU_ASSERT_EQUAL(s->latency.ms, 50.0);
    CU_ASSERT_EQUAL(s->latency.min_ms, 10.0);
    CU_ASSERT_EQUAL(s->latency.max_ms, 100.0);
    CU_ASSERT_EQUAL(s->workload.start, 10 * ENV_S);
    CU_ASSERT_EQUAL(s->workload.lookups, 1000);
    CU_ASSERT_EQUAL(s->workload.lookup_rate, 100.0);
    CU_ASSERT_EQUAL(s->workload.keys, 0);
    CU_ASSERT_EQUAL(s->workload.keys_per_peer, 0);
    CU_ASSERT_EQUAL(s->workload.records, 0);
    CU_ASSERT_EQUAL(s->workload.record_lifetime, 3600);
    CU_ASSERT_EQUAL(s->workload.value_size, 64);
    CU_ASSERT_EQUAL(s->workload.fetches, 0);
    CU_ASSERT_EQUAL(s->workload.fetch_rate, 100.0);
    CU_ASSERT_STRING_EQUAL(s->output.pcap, "");
    /* Keys of the experiments issue. */
    CU_ASSERT_EQUAL(s->seeds, 1);
    CU_ASSERT_EQUAL(s->latency.dims, 2);
    CU_ASSERT_EQUAL(s->latency.side_ms, 150.0);
    CU_ASSERT_EQUAL(s->latency.height_ms, 10.0);
    CU_ASSERT_STRING_EQUAL(s->latency.matrix, "");
    CU_ASSERT_EQUAL(s->latency.jitter_ms, 0.0);
    CU_ASSERT_EQUAL(s->network.loss, 0.0);
    CU_ASSERT_EQUAL(s->network.upload_bps, 0);
    CU_ASSERT_EQUAL(s->network.download_bps, 0);
    CU_ASSERT_EQUAL(s->network.queue_bytes, 65536);
    CU_ASSERT_EQUAL(s->churn.model, SCENARIO_CHURN_NONE);
    CU_ASSERT_EQUAL(s->churn.session.kind, SCENARIO_DIST_NONE);
    CU_ASSERT_EQUAL(s->churn.downtime.kind, SCENARIO_DIST_NONE);
    CU_ASSERT_STRING_EQUAL(s->churn.trace, "");
    CU_ASSERT_EQUAL(s->churn.graceful, 0.5);
    CU_ASSERT_EQUAL(s->churn.start, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->churn.events);
    CU_ASSERT_EQUAL(s->churn.events->len, 0);
    CU_ASSERT_EQUAL(s->workload.arrivals, SCENARIO_ARRIVALS_SYSTEM);
    CU_ASSERT_EQUAL(s->workload.popularity, SCENARIO_POPULARITY_UNIFORM);
    CU_ASSERT_EQUAL(s->workload.zipf_alpha, 1.0);
    CU_ASSERT_EQUAL(s->workload.refresh, 0);
    CU_ASSERT_EQUAL(s->metrics.interval, 10 * ENV_S);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->metrics.snapshots);
    CU_ASSERT_EQUAL(s->metrics.snapshots->len, 0);
    CU_ASSERT_TRUE(s->output.plots);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->expect);
    CU_ASSERT_EQUAL(s->expect->len, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->sweep);
    CU_ASSERT_EQUAL(s->sweep->len, 0);
    CU_ASSERT_EQUAL(scenario_sweep_points(s), 1);
    char **none = scenario_sweep_overrides(s, 0);
    CU_ASSERT_PTR_NOT_NULL(none);
    if (none)
        CU_ASSERT_PTR_NULL(none[0]);
    g_strfreev(none);
    scenario_free(s);
}

static void test_durations(void)
{
    static const struct {
        const char *text;
        env_time us;
    } cases[] = {
        {"7", 7 * ENV_S},        {"250us", 250},      {"200ms", 200 * ENV_MS},
        {"1.5s", 1500 * ENV_MS}, {"2m", 120 * ENV_S}, {"2h", 7200 * ENV_S},
        {".5ms", 500},           {"0.0000015s", 2},   {"0s", 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *set = g_strdup_printf("workload.start=%s", cases[i].text);
        struct scenario *s = load_ok(DATA "scenario_minimal.yaml", SETS(set));
        CU_ASSERT_PTR_NOT_NULL(s);
        if (s)
            CU_ASSERT_EQUAL(s->workload.start, cases[i].us);
        scenario_free(s);
        g_free(set);
    }
    static const char *const bad[] = {"", "s", "5 s", "5sec", "1e3", "-1s", "5ms5", "0x10s"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *set = g_strdup_printf("workload.start=%s", bad[i]);
        char *where = g_strdup_printf("--set %s: ", set);
        expect_error(DATA "scenario_minimal.yaml", SETS(set), SCENARIO_ERROR_VALUE, where,
                     PARTS("key 'workload.start'"));
        g_free(where);
        g_free(set);
    }
}

/* ---- overrides ----------------------------------------------------------------------------- */

static void test_overrides(void)
{
    struct scenario *s =
        load_ok(DATA "scenario_full.yaml",
                SETS("peers=10", "overlay.join=instant", "latency.ms=1.25", "seed=99",
                     "output.pcap=", "workload.keys_per_peer=0", "workload.keys=0", "peers=11"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->peers, 11); /* later overrides win */
    CU_ASSERT_EQUAL(s->overlay.join, SCENARIO_JOIN_INSTANT);
    CU_ASSERT_EQUAL(s->latency.ms, 1.25);
    CU_ASSERT_EQUAL(s->seed, 99);
    CU_ASSERT_STRING_EQUAL(s->output.pcap, "");
    CU_ASSERT_EQUAL(s->overlay.successors, 8); /* untouched keys keep the file's value */
    scenario_free(s);

    /* Keys absent from the file, including a whole section. */
    s = load_ok(DATA "scenario_minimal.yaml",
                SETS("overlay.successors=16", "workload.keys_per_peer=3", "peers=5",
                     "output.pcap=run.pcap"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->overlay.successors, 16);
    CU_ASSERT_EQUAL(s->overlay.predecessors, 4);
    CU_ASSERT_EQUAL(s->workload.keys, 15); /* keys = peers * keys_per_peer */
    CU_ASSERT_STRING_EQUAL(s->output.pcap, "run.pcap");
    scenario_free(s);

    /* An override may repair a file: without it the file is invalid. */
    s = load_ok(DATA "scenario_err_zero_count.yaml", SETS("peers=3"));
    CU_ASSERT_PTR_NOT_NULL(s);
    scenario_free(s);
}

static void test_override_errors(void)
{
    const char *m = DATA "scenario_minimal.yaml";
    expect_error(m, SETS("overlay.bogus=3"), SCENARIO_ERROR_KEY, "--set overlay.bogus=3: ",
                 PARTS("key 'overlay.bogus'", "unknown key", "successors"));
    expect_error(m, SETS("bogus=1"), SCENARIO_ERROR_KEY,
                 "--set bogus=1: ", PARTS("key 'bogus'", "unknown key"));
    expect_error(m, SETS("peers"), SCENARIO_ERROR_KEY, "--set peers: ", PARTS("KEY=VALUE"));
    expect_error(m, SETS("overlay..join=x"), SCENARIO_ERROR_KEY, "--set overlay..join=x: ", NULL);
    expect_error(m, SETS("peers=0"), SCENARIO_ERROR_VALUE,
                 "--set peers=0: ", PARTS("key 'peers'", ">= 1"));
    expect_error(m, SETS("overlay=5"), SCENARIO_ERROR_VALUE,
                 "--set overlay=5: ", PARTS("key 'overlay'", "mapping"));
    expect_error(m, SETS("overlay.reactive=yes"), SCENARIO_ERROR_VALUE,
                 "--set overlay.reactive=yes: ", PARTS("true or false"));
    expect_error(m, SETS("latency.ms=fast"), SCENARIO_ERROR_VALUE,
                 "--set latency.ms=fast: ", PARTS("key 'latency.ms'", "number"));
    /* lookup_rate may be 0 (no lookups); fetch_rate may not. */
    expect_error(m, SETS("workload.fetch_rate=0"), SCENARIO_ERROR_VALUE,
                 "--set workload.fetch_rate=0: ", PARTS("key 'workload.fetch_rate'", "> 0"));
    expect_error(m, SETS("peers=4294967296"), SCENARIO_ERROR_VALUE,
                 "--set peers=4294967296: ", PARTS("<= 4294967295"));
    expect_error(m, SETS("seed=-1"), SCENARIO_ERROR_VALUE, "--set seed=-1: ", PARTS("key 'seed'"));
    expect_error(m, SETS("name="), SCENARIO_ERROR_VALUE, "--set name=: ", PARTS("empty"));
    expect_error(m, SETS("overlay.name=my overlay"), SCENARIO_ERROR_VALUE,
                 "--set overlay.name=my overlay: ", PARTS("DNS name"));
    expect_error(m, SETS("overlay.reliability_timer=199ms"), SCENARIO_ERROR_VALUE,
                 "--set overlay.reliability_timer=199ms: ", PARTS(">= 200ms"));
    /* Rules across keys point at the key that was set. */
    expect_error(m, SETS("latency.min_ms=500"), SCENARIO_ERROR_VALUE,
                 "--set latency.min_ms=500: ", PARTS("latency.max_ms"));
    expect_error(m, SETS("overlay.successors=1"), SCENARIO_ERROR_VALUE,
                 "--set overlay.successors=1: ", PARTS("overlay.replicas"));
    expect_error(DATA "scenario_full.yaml", SETS("peers=7"), SCENARIO_ERROR_VALUE,
                 DATA "scenario_full.yaml:27:9: ", PARTS("key 'workload.keys'", "keys_per_peer"));
}

/* ---- errors in files ----------------------------------------------------------------------- */

static void test_file_errors(void)
{
    expect_error(DATA "scenario_err_syntax.yaml", NULL, SCENARIO_ERROR_SYNTAX,
                 DATA "scenario_err_syntax.yaml:6:14: ", PARTS("YAML syntax error"));
    expect_error(DATA "scenario_err_unknown_key.yaml", NULL, SCENARIO_ERROR_KEY,
                 DATA "scenario_err_unknown_key.yaml:5:3: ",
                 PARTS("key 'overlay.topolgy'", "unknown key", "topology, name, config, join"));
    expect_error(DATA "scenario_err_unknown_value.yaml", NULL, SCENARIO_ERROR_VALUE,
                 DATA "scenario_err_unknown_value.yaml:6:13: ",
                 PARTS("key 'overlay.topology': unknown value 'pastry' (expected: chord, bamboo, superpeer)"));
    expect_error(
        DATA "scenario_err_type_string.yaml", NULL, SCENARIO_ERROR_VALUE,
        DATA "scenario_err_type_string.yaml:3:8: ", PARTS("key 'peers'", "integer", "'lots'"));
    expect_error(
        DATA "scenario_err_type_mapping.yaml", NULL, SCENARIO_ERROR_VALUE,
        DATA "scenario_err_type_mapping.yaml:6:5: ", PARTS("key 'latency.ms'", "got a mapping"));
    expect_error(DATA "scenario_err_zero_count.yaml", NULL, SCENARIO_ERROR_VALUE,
                 DATA "scenario_err_zero_count.yaml:3:8: ", PARTS("key 'peers'", ">= 1"));
    expect_error(
        DATA "scenario_err_negative.yaml", NULL, SCENARIO_ERROR_VALUE,
        DATA "scenario_err_negative.yaml:4:23: ", PARTS("key 'overlay.successors'", ">= 1", "-3"));
    expect_error(DATA "scenario_err_bad_duration.yaml", NULL, SCENARIO_ERROR_VALUE,
                 DATA "scenario_err_bad_duration.yaml:3:11: ",
                 PARTS("key 'duration'", "'12 parsecs'", "ms"));
    expect_error(
        DATA "scenario_err_missing.yaml", NULL, SCENARIO_ERROR_KEY,
        DATA "scenario_err_missing.yaml:3:1: ", PARTS("key 'duration'", "missing required key"));
    expect_error(DATA "scenario_err_duplicate.yaml", NULL, SCENARIO_ERROR_KEY,
                 DATA "scenario_err_duplicate.yaml:6:3: ",
                 PARTS("key 'workload.lookups'", "duplicate", "5:3"));
    expect_error(DATA "no_such_file.yaml", NULL, SCENARIO_ERROR_IO,
                 DATA "no_such_file.yaml:1:1: ", PARTS("No such file"));
    /* A required key that an override does not supply stays missing. */
    expect_error(DATA "scenario_err_missing.yaml", SETS("peers=3"), SCENARIO_ERROR_KEY,
                 DATA "scenario_err_missing.yaml:3:1: ", PARTS("key 'duration'"));
}

/* Errors from inline YAML, written to a temporary file. */
static void expect_text_error(const char *yaml, int code, const char *pos, const char *part)
{
    char *path = NULL;
    int fd = g_file_open_tmp("p2psip-scenario-XXXXXX.yaml", &path, NULL);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_FATAL(g_file_set_contents(path, yaml, -1, NULL));
    char *where = g_strdup_printf("%s:%s: ", path, pos);
    expect_error(path, NULL, code, where, PARTS(part));
    g_free(where);
    g_unlink(path);
    g_free(path);
}

static void test_shape_errors(void)
{
    expect_text_error("", SCENARIO_ERROR_KEY, "1:1", "key 'name': missing required key");
    expect_text_error("- name: x\n", SCENARIO_ERROR_SYNTAX, "1:1", "mapping of keys");
    expect_text_error("name: a\nduration: 1s\npeers: 2\n---\nname: b\n", SCENARIO_ERROR_SYNTAX,
                      "4:1", "one YAML document");
    expect_text_error("name: a\nduration: 1s\npeers:\n", SCENARIO_ERROR_VALUE, "3:7",
                      "key 'peers': missing value");
    expect_text_error("name: [a, b]\nduration: 1s\npeers: 2\n", SCENARIO_ERROR_VALUE, "1:7",
                      "key 'name': expected a non-empty string, got a sequence");
    expect_text_error("name: a\nduration: 1s\npeers: 2\nlatency: fast\n", SCENARIO_ERROR_VALUE,
                      "4:10", "key 'latency': expected a mapping");
    expect_text_error("name: a\nduration: 1s\npeers: 2\n? [x]\n: 1\n", SCENARIO_ERROR_SYNTAX, "4:3",
                      "keys must be plain names");
    expect_text_error("a: &x [*x]\n", SCENARIO_ERROR_SYNTAX, "1:4", "nested too deeply");
    expect_text_error("name: \"a\xff\"\n", SCENARIO_ERROR_SYNTAX, "1:9", "invalid leading UTF-8");
    /* "overlay:" with nothing below is an empty section: defaults. */
    char *path = NULL;
    int fd = g_file_open_tmp("p2psip-scenario-XXXXXX.yaml", &path, NULL);
    close(fd);
    g_file_set_contents(path, "name: a\nduration: 1s\npeers: 2\noverlay:\n", -1, NULL);
    struct scenario *s = load_ok(path, NULL);
    CU_ASSERT_PTR_NOT_NULL(s);
    if (s)
        CU_ASSERT_EQUAL(s->overlay.successors, 4);
    scenario_free(s);
    g_unlink(path);
    g_free(path);
}

/* ---- the experiments keys ------------------------------------------------------------------ */

/* The first three lines of every inline scenario below; what follows starts on line 4. */
#define HEAD "name: a\nduration: 1h\npeers: 10\n"

/* Loads inline YAML (written to a temporary file) with overrides; NULL on error. */
static struct scenario *load_text(const char *yaml, const char *const *overrides)
{
    char *path = NULL;
    int fd = g_file_open_tmp("p2psip-scenario-XXXXXX.yaml", &path, NULL);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_FATAL(g_file_set_contents(path, yaml, -1, NULL));
    struct scenario *s = load_ok(path, overrides);
    g_unlink(path);
    g_free(path);
    return s;
}

static void test_experiment_file(void)
{
    struct scenario *s = load_ok(DATA "scenario_experiment.yaml", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->seeds, 5);
    CU_ASSERT_EQUAL(s->latency.model, SCENARIO_LATENCY_COORDINATES);
    CU_ASSERT_EQUAL(s->latency.dims, 3);
    CU_ASSERT_EQUAL(s->latency.side_ms, 120.5);
    CU_ASSERT_EQUAL(s->latency.height_ms, 7.0);
    CU_ASSERT_STRING_EQUAL(s->latency.matrix, "data/king.txt");
    CU_ASSERT_EQUAL(s->latency.jitter_ms, 2.5);
    CU_ASSERT_EQUAL(s->network.loss, 0.01);
    CU_ASSERT_EQUAL(s->network.upload_bps, 1000000);
    CU_ASSERT_EQUAL(s->network.download_bps, 512000); /* 64kB = 64000 bytes/s */
    CU_ASSERT_EQUAL(s->network.queue_bytes, 32768);
    CU_ASSERT_EQUAL(s->churn.model, SCENARIO_CHURN_SESSIONS);
    CU_ASSERT_EQUAL(s->churn.session.kind, SCENARIO_DIST_WEIBULL);
    CU_ASSERT_EQUAL(s->churn.session.shape, 0.5);
    CU_ASSERT_EQUAL(s->churn.session.median, 30 * 60 * ENV_S);
    CU_ASSERT_EQUAL(s->churn.session.scale, 0); /* not given */
    CU_ASSERT_EQUAL(s->churn.downtime.kind, SCENARIO_DIST_EXPONENTIAL);
    CU_ASSERT_EQUAL(s->churn.downtime.mean, 10 * 60 * ENV_S);
    CU_ASSERT_EQUAL(s->churn.graceful, 0.25);
    CU_ASSERT_EQUAL(s->churn.start, 5 * 60 * ENV_S);
    CU_ASSERT_EQUAL(s->workload.lookups, 0);
    CU_ASSERT_EQUAL(s->workload.lookup_rate, 0.5); /* 30/min */
    CU_ASSERT_EQUAL(s->workload.arrivals, SCENARIO_ARRIVALS_PER_PEER);
    CU_ASSERT_EQUAL(s->workload.popularity, SCENARIO_POPULARITY_ZIPF);
    CU_ASSERT_EQUAL(s->workload.zipf_alpha, 0.8);
    CU_ASSERT_EQUAL(s->workload.refresh, 20 * 60 * ENV_S);
    CU_ASSERT_EQUAL(s->workload.fetch_rate, 2.0 / 3600);
    CU_ASSERT_EQUAL(s->metrics.interval, 30 * ENV_S);
    CU_ASSERT_FALSE(s->output.plots);

    /* Events sorted by time; the two at 30m keep their file order. */
    CU_ASSERT_EQUAL_FATAL(s->churn.events->len, 5);
    const struct scenario_event *ev = (const struct scenario_event *)s->churn.events->data;
    CU_ASSERT_EQUAL(ev[0].at, 10 * 60 * ENV_S);
    CU_ASSERT_EQUAL(ev[0].action, SCENARIO_EVENT_FAIL);
    CU_ASSERT_EQUAL(ev[0].fraction, 0.5);
    CU_ASSERT_EQUAL(ev[1].action, SCENARIO_EVENT_PARTITION);
    CU_ASSERT_EQUAL(ev[1].groups, 2);
    CU_ASSERT_EQUAL(ev[2].at, 30 * 60 * ENV_S);
    CU_ASSERT_EQUAL(ev[2].action, SCENARIO_EVENT_FLASH_CROWD);
    CU_ASSERT_EQUAL(ev[2].peers, 100);
    CU_ASSERT_EQUAL(ev[2].over, 10 * ENV_S); /* default */
    CU_ASSERT_EQUAL(ev[3].action, SCENARIO_EVENT_HEAL);
    CU_ASSERT_EQUAL(ev[3].at, 40 * 60 * ENV_S);
    CU_ASSERT_EQUAL(ev[4].over, 60 * ENV_S);

    /* Snapshots sorted. */
    CU_ASSERT_EQUAL_FATAL(s->metrics.snapshots->len, 3);
    CU_ASSERT_EQUAL(g_array_index(s->metrics.snapshots, env_time, 0), 10 * 60 * ENV_S);
    CU_ASSERT_EQUAL(g_array_index(s->metrics.snapshots, env_time, 1), 50 * 60 * ENV_S);
    CU_ASSERT_EQUAL(g_array_index(s->metrics.snapshots, env_time, 2), 3600 * ENV_S);

    /* Expectations in file order, with their position. */
    CU_ASSERT_EQUAL_FATAL(s->expect->len, 4);
    static const struct {
        const char *metric, *op;
        double value;
        unsigned line;
    } want[] = {{"lookup_success", ">=", 0.99, 51},
                {"hops_mean", "<=", 8, 52},
                {"timeouts", "==", 0, 53},
                {"alive_min", "!=", 3.5, 54}};
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        const struct scenario_expect *e = s->expect->pdata[i];
        CU_ASSERT_STRING_EQUAL(e->metric, want[i].metric);
        CU_ASSERT_STRING_EQUAL(e->op, want[i].op);
        CU_ASSERT_EQUAL(e->value, want[i].value);
        char *where = g_strdup_printf(DATA "scenario_experiment.yaml:%u:3", want[i].line);
        CU_ASSERT_STRING_EQUAL(e->where, where);
        g_free(where);
    }
    scenario_free(s);
}

/* Reads `text` as the value of `key` (via --set) and checks the field; or expects an error. */
#define SET_OK(key, text, field, expected)                                                         \
    do {                                                                                           \
        struct scenario *s_ = load_ok(DATA "scenario_minimal.yaml", SETS(key "=" text));           \
        CU_ASSERT_PTR_NOT_NULL(s_);                                                                \
        if (s_)                                                                                    \
            CU_ASSERT_EQUAL(s_->field, expected);                                                  \
        scenario_free(s_);                                                                         \
    } while (0)
#define SET_BAD(key, text, part)                                                                   \
    expect_error(DATA "scenario_minimal.yaml", SETS(key "=" text), SCENARIO_ERROR_VALUE,           \
                 "--set " key "=" text ": ", PARTS("key '" key "'", part))

static void test_rates(void)
{
    SET_OK("workload.lookup_rate", "0.5/s", workload.lookup_rate, 0.5);
    SET_OK("workload.lookup_rate", "30/min", workload.lookup_rate, 0.5);
    SET_OK("workload.lookup_rate", "30/m", workload.lookup_rate, 0.5);
    SET_OK("workload.lookup_rate", "2/h", workload.lookup_rate, 2.0 / 3600);
    SET_OK("workload.lookup_rate", "7", workload.lookup_rate, 7.0);
    SET_OK("workload.lookup_rate", "1e3", workload.lookup_rate, 1000.0);
    SET_OK("workload.lookup_rate", ".25/s", workload.lookup_rate, 0.25);
    SET_OK("workload.lookup_rate", "0", workload.lookup_rate, 0.0); /* no lookups */
    SET_OK("workload.lookups", "0", workload.lookups, 0);           /* no limit */
    SET_OK("workload.fetch_rate", "3/min", workload.fetch_rate, 0.05);
    SET_BAD("workload.lookup_rate", "3/day", "expected a rate");
    SET_BAD("workload.lookup_rate", "5 /s", "expected a rate");
    SET_BAD("workload.lookup_rate", "/s", "expected a rate");
    SET_BAD("workload.lookup_rate", "fast", "expected a rate");
    SET_BAD("workload.lookup_rate", "1e999", "expected a rate");
    SET_BAD("workload.lookup_rate", "-1/s", ">= 0");
    SET_BAD("workload.fetch_rate", "0/h", "> 0");
}

static void test_bandwidths_and_sizes(void)
{
    SET_OK("network.upload", "1Mbit", network.upload_bps, 1000000);
    SET_OK("network.upload", "512kbit", network.upload_bps, 512000);
    SET_OK("network.upload", "10Gbit", network.upload_bps, 10000000000u);
    SET_OK("network.upload", "800bit", network.upload_bps, 800);
    SET_OK("network.upload", "1.5Mbit/s", network.upload_bps, 1500000);
    SET_OK("network.upload", "2Mbps", network.upload_bps, 2000000);
    SET_OK("network.download", "64kB", network.download_bps, 512000);
    SET_OK("network.download", "1MB", network.download_bps, 8000000);
    SET_OK("network.download", "300", network.download_bps, 300); /* bare: bits per second */
    SET_OK("network.download", "0", network.download_bps, 0);     /* unlimited */
    SET_BAD("network.upload", "1 Mbit", "expected a bandwidth");
    SET_BAD("network.upload", "1Mb", "expected a bandwidth");
    SET_BAD("network.upload", "fast", "expected a bandwidth");
    SET_BAD("network.upload", "-1Mbit", ">= 0");
    SET_BAD("network.upload", "1e30Gbit", "<= ");

    SET_OK("network.queue", "64KB", network.queue_bytes, 65536);
    SET_OK("network.queue", "1MB", network.queue_bytes, 1048576);
    SET_OK("network.queue", "1.5KB", network.queue_bytes, 1536);
    SET_OK("network.queue", "1500", network.queue_bytes, 1500);
    SET_OK("network.queue", "100B", network.queue_bytes, 100);
    SET_BAD("network.queue", "0", ">= 1");
    SET_BAD("network.queue", "4GB", "<= 4294967295");
    SET_BAD("network.queue", "64 KB", "expected a size");
    SET_BAD("network.queue", "64Kbit", "expected a size");

    SET_OK("network.loss", "0.01", network.loss, 0.01);
    SET_OK("network.loss", "0", network.loss, 0.0);
    SET_BAD("network.loss", "1", "< 1");
    SET_BAD("network.loss", "-0.1", ">= 0");
    SET_BAD("network.loss", "1%", "a number >= 0 and < 1");
    SET_OK("churn.graceful", "1", churn.graceful, 1.0);
    SET_BAD("churn.graceful", "1.5", "<= 1");

    /* The new choices and numbers. */
    SET_OK("latency.model", "coordinates", latency.model, SCENARIO_LATENCY_COORDINATES);
    SET_BAD("latency.model", "king", "coordinates, matrix");
    SET_BAD("latency.dims", "0", ">= 1");
    SET_BAD("latency.dims", "17", "<= 16");
    SET_BAD("workload.arrivals", "perpeer", "system, per_peer");
    SET_BAD("workload.zipf_alpha", "0", "> 0");
    SET_BAD("seeds", "0", ">= 1");
    SET_OK("output.plots", "false", output.plots, false);
    SET_OK("metrics.interval", "1m", metrics.interval, 60 * ENV_S);
    SET_BAD("metrics.interval", "0s", ">= 1us");
}

/* Rules across keys: a model needs its file or key population, and a distribution or trace
 * given without its churn model is an error (not silently ignored). */
static void test_cross_rules(void)
{
    const char *m = DATA "scenario_minimal.yaml";
    expect_error(m, SETS("latency.model=matrix"), SCENARIO_ERROR_VALUE,
                 "--set latency.model=matrix: ", PARTS("key 'latency.model'", "latency.matrix"));
    struct scenario *s = load_ok(m, SETS("latency.model=matrix", "latency.matrix=m.txt"));
    CU_ASSERT_PTR_NOT_NULL(s);
    scenario_free(s);
    expect_error(m, SETS("workload.popularity=zipf"), SCENARIO_ERROR_VALUE,
                 "--set workload.popularity=zipf: ", PARTS("workload.keys"));
    s = load_ok(m, SETS("workload.popularity=zipf", "workload.keys_per_peer=10"));
    CU_ASSERT_PTR_NOT_NULL(s);
    scenario_free(s);
    expect_error(m, SETS("churn.model=trace"), SCENARIO_ERROR_VALUE,
                 "--set churn.model=trace: ", PARTS("key 'churn.model'", "churn.trace"));
    expect_text_error(HEAD "churn:\n  trace: t.txt\n", SCENARIO_ERROR_VALUE, "5:10",
                      "key 'churn.trace': churn.trace is given but churn.model is none");
    s = load_ok(m, SETS("churn.model=trace", "churn.trace=t.txt"));
    CU_ASSERT_PTR_NOT_NULL(s);
    scenario_free(s);
}
#undef SET_OK
#undef SET_BAD

static void test_distributions(void)
{
    static const struct {
        const char *yaml;
        enum scenario_dist_kind kind;
        env_time value, mean, scale, median;
        double shape, sigma;
    } good[] = {
        {"{dist: constant, value: 90s}", SCENARIO_DIST_CONSTANT, 90 * ENV_S, 0, 0, 0, 0, 0},
        {"{dist: exponential, mean: 1h}", SCENARIO_DIST_EXPONENTIAL, 0, 3600 * ENV_S, 0, 0, 0, 0},
        {"{dist: pareto, shape: 2, scale: 10m}", SCENARIO_DIST_PARETO, 0, 0, 600 * ENV_S, 0, 2, 0},
        {"{dist: pareto, shape: 1.5, mean: 30m}", SCENARIO_DIST_PARETO, 0, 1800 * ENV_S, 0, 0, 1.5,
         0},
        {"{dist: pareto, shape: 0.9, scale: 1m}", SCENARIO_DIST_PARETO, 0, 0, 60 * ENV_S, 0, 0.9,
         0}, /* shape <= 1 is allowed with a scale (infinite mean) */
        {"{dist: weibull, shape: 0.5, median: 30m}", SCENARIO_DIST_WEIBULL, 0, 0, 0, 1800 * ENV_S,
         0.5, 0},
        {"{dist: weibull, shape: 2, scale: 1h}", SCENARIO_DIST_WEIBULL, 0, 0, 3600 * ENV_S, 0, 2,
         0},
        {"{dist: lognormal, sigma: 1.2, median: 20m}", SCENARIO_DIST_LOGNORMAL, 0, 0, 0,
         1200 * ENV_S, 0, 1.2},
        {"{dist: lognormal, sigma: 0.5, mean: 2h}", SCENARIO_DIST_LOGNORMAL, 0, 7200 * ENV_S, 0, 0,
         0, 0.5},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        char *yaml = g_strdup_printf(HEAD "churn:\n  model: sessions\n  session: %s\n"
                                          "  downtime: {dist: exponential, mean: 5m}\n",
                                     good[i].yaml);
        struct scenario *s = load_text(yaml, NULL);
        CU_ASSERT_PTR_NOT_NULL(s);
        if (s) {
            const struct scenario_dist *d = &s->churn.session;
            CU_ASSERT_EQUAL(d->kind, good[i].kind);
            CU_ASSERT_EQUAL(d->value, good[i].value);
            CU_ASSERT_EQUAL(d->mean, good[i].mean);
            CU_ASSERT_EQUAL(d->scale, good[i].scale);
            CU_ASSERT_EQUAL(d->median, good[i].median);
            CU_ASSERT_EQUAL(d->shape, good[i].shape);
            CU_ASSERT_EQUAL(d->sigma, good[i].sigma);
        }
        scenario_free(s);
        g_free(yaml);
    }

    /* Errors: line 6 is "  session: {...}" (the mapping starts at column 12); a
     * missing parameter is reported at the distribution name, a wrong one at its value. */
    static const struct {
        const char *yaml, *pos, *part;
        int code;
    } bad[] = {
        {"{dist: weibull, shape: 0.5}", "6:19",
         "key 'churn.session.scale': missing: weibull needs shape and either scale or median",
         SCENARIO_ERROR_KEY},
        {"{dist: weibull, median: 30m}", "6:19", "key 'churn.session.shape': missing",
         SCENARIO_ERROR_KEY},
        {"{dist: weibull, shape: 1, scale: 1h, median: 30m}", "6:57",
         "key 'churn.session.median': give either churn.session.scale or churn.session.median",
         SCENARIO_ERROR_KEY},
        {"{dist: exponential, mean: 1h, shape: 2}", "6:49",
         "key 'churn.session.shape': not a parameter of exponential (exponential takes mean)",
         SCENARIO_ERROR_KEY},
        {"{dist: constant, mean: 1h}", "6:35", "key 'churn.session.mean': not a parameter",
         SCENARIO_ERROR_KEY},
        {"{dist: pareto, shape: 1, mean: 1h}", "6:34",
         "key 'churn.session.shape': a pareto distribution given by its mean needs shape > 1",
         SCENARIO_ERROR_VALUE},
        {"{dist: lognormal, sigma: 1, median: 1h, mean: 2h}", "6:58",
         "key 'churn.session.mean': give either", SCENARIO_ERROR_KEY},
        {"{dist: lognormal, median: 1h, sigma: 0}", "6:49",
         "key 'churn.session.sigma': must be > 0, got 0", SCENARIO_ERROR_VALUE},
        {"{dist: exponential, mean: 0s}", "6:38",
         "key 'churn.session.mean': duration must be >= 1us", SCENARIO_ERROR_VALUE},
        {"{dist: gamma, mean: 1h}", "6:19", "key 'churn.session.dist': unknown value 'gamma'",
         SCENARIO_ERROR_VALUE},
        {"{dist: none, mean: 1h}", "6:31", "key 'churn.session.mean': churn.session.dist is none",
         SCENARIO_ERROR_KEY},
        {"{mean: 1h}", "6:19", "key 'churn.session.mean': churn.session.dist is none",
         SCENARIO_ERROR_KEY},
        {"{dist: exponential, average: 1h}", "6:32",
         "key 'churn.session.average': unknown key (valid keys in 'churn.session': dist, value, "
         "mean, scale, median, shape, sigma)",
         SCENARIO_ERROR_KEY},
        {"exponential", "6:12", "key 'churn.session': expected a mapping (keys: dist, value",
         SCENARIO_ERROR_VALUE},
        {"{dist: exponential, mean: [1h]}", "6:38", "key 'churn.session.mean': expected a duration",
         SCENARIO_ERROR_VALUE},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *yaml = g_strdup_printf(HEAD "churn:\n  model: sessions\n  session: %s\n"
                                          "  downtime: {dist: exponential, mean: 5m}\n",
                                     bad[i].yaml);
        expect_text_error(yaml, bad[i].code, bad[i].pos, bad[i].part);
        g_free(yaml);
    }

    /* The model needs both distributions; a distribution needs the model. */
    expect_text_error(HEAD "churn:\n  model: sessions\n  session: {dist: exponential, mean: 1h}\n",
                      SCENARIO_ERROR_VALUE, "5:3",
                      "key 'churn.downtime.dist': churn.model is sessions, which needs a "
                      "churn.downtime distribution");
    expect_text_error(HEAD "churn:\n  session: {dist: exponential, mean: 1h}\n",
                      SCENARIO_ERROR_VALUE, "5:19",
                      "key 'churn.session.dist': churn.session is given but churn.model is none");
    /* An explicit "model: none" keeps the distributions for later (--set churn.model=...). */
    struct scenario *s = load_text(HEAD "churn:\n  model: none\n"
                                        "  session: {dist: exponential, mean: 1h}\n",
                                   NULL);
    CU_ASSERT_PTR_NOT_NULL(s);
    scenario_free(s);

    /* --set on distribution parameters. */
    s = load_ok(DATA "scenario_experiment.yaml",
                SETS("churn.session.median=10m", "churn.session.shape=0.7"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->churn.session.median, 600 * ENV_S);
    CU_ASSERT_EQUAL(s->churn.session.shape, 0.7);
    scenario_free(s);
    s = load_ok(
        DATA "scenario_experiment.yaml",
        SETS("churn.downtime.dist=lognormal", "churn.downtime.sigma=1", "churn.downtime.mean=20m"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->churn.downtime.kind, SCENARIO_DIST_LOGNORMAL);
    CU_ASSERT_EQUAL(s->churn.downtime.mean, 1200 * ENV_S);
    scenario_free(s);
    /* The override, not the file, is blamed when it adds the second of a pair. */
    expect_error(DATA "scenario_experiment.yaml", SETS("churn.session.scale=1h"),
                 SCENARIO_ERROR_KEY,
                 "--set churn.session.scale=1h: ", PARTS("key 'churn.session.scale'", "not both"));
    expect_error(DATA "scenario_experiment.yaml", SETS("churn.session.dist=lognormal"),
                 SCENARIO_ERROR_KEY, DATA "scenario_experiment.yaml:22:35: ",
                 PARTS("key 'churn.session.shape'", "not a parameter of lognormal"));
}

static void test_events(void)
{
    struct scenario *s = load_text(HEAD "churn:\n  events:\n"
                                        "    - {at: 3m, action: heal}\n"
                                        "    - {at: 2m, action: partition, groups: 3}\n"
                                        "    - at: 60s\n"
                                        "      action: fail\n"
                                        "      fraction: 1\n"
                                        "    - {at: 2m, action: flash_crowd, peers: 7, over: 0s}\n"
                                        "    - {at: 1m, action: heal}\n",
                                   NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL_FATAL(s->churn.events->len, 5);
    const struct scenario_event *ev = (const struct scenario_event *)s->churn.events->data;
    static const enum scenario_event_action order[] = {
        SCENARIO_EVENT_FAIL, SCENARIO_EVENT_HEAL, SCENARIO_EVENT_PARTITION,
        SCENARIO_EVENT_FLASH_CROWD, SCENARIO_EVENT_HEAL};
    static const env_time at[] = {60 * ENV_S, 60 * ENV_S, 120 * ENV_S, 120 * ENV_S, 180 * ENV_S};
    for (size_t i = 0; i < G_N_ELEMENTS(order); i++) {
        CU_ASSERT_EQUAL(ev[i].action, order[i]);
        CU_ASSERT_EQUAL(ev[i].at, at[i]);
    }
    CU_ASSERT_EQUAL(ev[0].fraction, 1.0);
    CU_ASSERT_EQUAL(ev[2].groups, 3);
    CU_ASSERT_EQUAL(ev[3].peers, 7);
    CU_ASSERT_EQUAL(ev[3].over, 0);
    scenario_free(s);

    /* An empty list, or nothing at all, is no event. */
    s = load_text(HEAD "churn:\n  events: []\nmetrics:\n  snapshots:\n", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->churn.events->len, 0);
    CU_ASSERT_EQUAL(s->metrics.snapshots->len, 0);
    scenario_free(s);

    /* Errors: the event is on line 7 (after a valid one on line 6), starting at column 7. */
    static const struct {
        const char *yaml, *pos, *part;
        int code;
    } bad[] = {
        {"{action: heal}", "7:7", "key 'churn.events.1.at': missing required field",
         SCENARIO_ERROR_KEY},
        {"{at: 1m}", "7:7", "key 'churn.events.1.action': missing required field",
         SCENARIO_ERROR_KEY},
        {"{at: 1m, action: explode}", "7:24",
         "key 'churn.events.1.action': unknown value 'explode' (expected: fail, partition, "
         "heal, flash_crowd)",
         SCENARIO_ERROR_VALUE},
        {"{at: 1m, action: fail}", "7:7",
         "key 'churn.events.1.fraction': missing: action 'fail' needs fraction",
         SCENARIO_ERROR_KEY},
        {"{at: 1m, action: fail, fraction: 0}", "7:40",
         "key 'churn.events.1.fraction': must be > 0, got 0", SCENARIO_ERROR_VALUE},
        {"{at: 1m, action: fail, fraction: 1.5}", "7:40",
         "key 'churn.events.1.fraction': must be <= 1", SCENARIO_ERROR_VALUE},
        {"{at: 1m, action: partition, groups: 1}", "7:43",
         "key 'churn.events.1.groups': must be >= 2", SCENARIO_ERROR_VALUE},
        {"{at: 1m, action: partition}", "7:7",
         "key 'churn.events.1.groups': missing: action 'partition' needs groups",
         SCENARIO_ERROR_KEY},
        {"{at: 1m, action: heal, groups: 2}", "7:30",
         "key 'churn.events.1.groups': not a field of action 'heal' (it takes no other field)",
         SCENARIO_ERROR_KEY},
        {"{at: 1m, action: fail, fraction: 0.5, over: 1s}", "7:45",
         "key 'churn.events.1.over': not a field of action 'fail'", SCENARIO_ERROR_KEY},
        {"{at: 1m, action: flash_crowd, over: 5s}", "7:7",
         "key 'churn.events.1.peers': missing: action 'flash_crowd' needs peers",
         SCENARIO_ERROR_KEY},
        {"{at: 1m, action: flash_crowd, peers: 0}", "7:44",
         "key 'churn.events.1.peers': must be >= 1", SCENARIO_ERROR_VALUE},
        {"{at: 1m, action: heal, when: now}", "7:30",
         "key 'churn.events.1.when': unknown field (an event has: at, action, fraction, groups, "
         "peers, over)",
         SCENARIO_ERROR_KEY},
        {"{at: soon, action: heal}", "7:12", "key 'churn.events.1.at': expected a duration",
         SCENARIO_ERROR_VALUE},
        {"{at: 2h, action: heal}", "7:12",
         "key 'churn.events.1.at': 2h is after the end of the run (duration 1h)",
         SCENARIO_ERROR_VALUE},
        {"{at: 1m, action: [heal]}", "7:24", "key 'churn.events.1.action': expected one of",
         SCENARIO_ERROR_VALUE},
        {"heal at 1m", "7:7", "key 'churn.events.1': expected a mapping such as",
         SCENARIO_ERROR_VALUE},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *yaml = g_strdup_printf(
            HEAD "churn:\n  events:\n    - {at: 0s, action: heal}\n    - %s\n", bad[i].yaml);
        expect_text_error(yaml, bad[i].code, bad[i].pos, bad[i].part);
        g_free(yaml);
    }
    expect_text_error(HEAD "churn:\n  events: {at: 1m}\n", SCENARIO_ERROR_VALUE, "5:11",
                      "key 'churn.events': expected a sequence of events");
    expect_text_error(
        HEAD "churn:\n  events:\n    - {at: 1m, action: flash_crowd, peers: 4294967290}\n",
        SCENARIO_ERROR_VALUE, "6:7", "key 'churn.events.0.peers': peers plus every flash crowd");
}

static void test_snapshots(void)
{
    struct scenario *s = load_text(HEAD "metrics:\n  snapshots: [30m, 1h, 0s, 90]\n", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL_FATAL(s->metrics.snapshots->len, 4);
    static const env_time want[] = {0, 90 * ENV_S, 1800 * ENV_S, 3600 * ENV_S};
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
        CU_ASSERT_EQUAL(g_array_index(s->metrics.snapshots, env_time, i), want[i]);
    scenario_free(s);
    expect_text_error(HEAD "metrics:\n  snapshots: [30m, 2h]\n", SCENARIO_ERROR_VALUE, "5:20",
                      "key 'metrics.snapshots.1': 2h is after the end of the run");
    expect_text_error(HEAD "metrics:\n  snapshots: [30m, 10m, 1800s]\n", SCENARIO_ERROR_VALUE,
                      "5:25", "key 'metrics.snapshots': 30m is given twice (first at 5:15)");
    expect_text_error(HEAD "metrics:\n  snapshots: [30m, later]\n", SCENARIO_ERROR_VALUE, "5:20",
                      "key 'metrics.snapshots.1': expected a duration");
    expect_text_error(HEAD "metrics:\n  snapshots: [30m, [1m]]\n", SCENARIO_ERROR_VALUE, "5:20",
                      "key 'metrics.snapshots.1': expected a duration, got a sequence");
    expect_text_error(HEAD "metrics:\n  snapshots: 10m\n", SCENARIO_ERROR_VALUE, "5:14",
                      "key 'metrics.snapshots': expected a sequence of durations");
}

static void test_expect(void)
{
    struct scenario *s = load_text(HEAD "expect:\n"
                                        "  a: \">= 0.99\"\n"
                                        "  b: \"<=8\"\n"
                                        "  c: \" > -1e-3 \"\n"
                                        "  d: '< 5'\n"
                                        "  e: == 2\n"
                                        "  f: \"!= 0\"\n"
                                        "  g: 42\n",
                                   SETS("expect.h=>= 7", "expect.a=> 0.5"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    static const struct {
        const char *metric, *op;
        double value;
    } want[] = {{"a", ">", 0.5}, {"b", "<=", 8}, {"c", ">", -1e-3}, {"d", "<", 5},
                {"e", "==", 2},  {"f", "!=", 0}, {"g", "==", 42},   {"h", ">=", 7}};
    CU_ASSERT_EQUAL_FATAL(s->expect->len, G_N_ELEMENTS(want));
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        const struct scenario_expect *e = s->expect->pdata[i];
        CU_ASSERT_STRING_EQUAL(e->metric, want[i].metric);
        CU_ASSERT_STRING_EQUAL(e->op, want[i].op);
        CU_ASSERT_EQUAL(e->value, want[i].value);
    }
    /* The override of "a" replaced the file's entry; its position is the override. */
    CU_ASSERT_STRING_EQUAL(((const struct scenario_expect *)s->expect->pdata[0])->where,
                           "--set expect.a=> 0.5");
    CU_ASSERT(g_str_has_suffix(((const struct scenario_expect *)s->expect->pdata[1])->where,
                               ".yaml:6:3"));
    scenario_free(s);

    static const char *const bad[] = {"\"about 3\"", "\">=\"",     "\"=> 3\"", "\">= 3 4\"",
                                      "\"~ 3\"",     "\">= nan\"", "\"= 3\""};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *yaml = g_strdup_printf(HEAD "expect:\n  hops_mean: %s\n", bad[i]);
        expect_text_error(yaml, SCENARIO_ERROR_VALUE, "5:14",
                          "key 'expect.hops_mean': expected \"OP NUMBER\" with OP one of >=, <=, "
                          ">, <, ==, !=");
        g_free(yaml);
    }
    expect_text_error(HEAD "expect:\n  hops_mean:\n", SCENARIO_ERROR_VALUE, "5:13",
                      "key 'expect.hops_mean': missing value");
    expect_text_error(HEAD "expect:\n  hops_mean: [1, 2]\n", SCENARIO_ERROR_VALUE, "5:14",
                      "key 'expect.hops_mean': expected \"OP NUMBER\", got a sequence");
    expect_text_error(HEAD "expect:\n  \"\": 1\n", SCENARIO_ERROR_KEY, "5:3",
                      "key 'expect.': empty metric name");
    expect_text_error(HEAD "expect: [lookup_success]\n", SCENARIO_ERROR_VALUE, "4:9",
                      "key 'expect': expected a mapping of metric");
    expect_error(DATA "scenario_minimal.yaml", SETS("expect=3"), SCENARIO_ERROR_VALUE,
                 "--set expect=3: ",
                 PARTS("key 'expect'", "--set cannot set a whole mapping", "--set expect.METRIC="));
}

/* Loads the experiment file once per sweep point, the way the CLI does. */
static void test_sweep(void)
{
    struct scenario *s = load_ok(DATA "scenario_experiment.yaml", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL_FATAL(s->sweep->len, 2);
    const struct scenario_sweep *w = s->sweep->pdata[0];
    CU_ASSERT_STRING_EQUAL(w->key, "overlay.successors");
    CU_ASSERT_EQUAL(w->values->len, 3);
    CU_ASSERT_EQUAL_FATAL(scenario_sweep_points(s), 6);
    static const char *const want[][2] = {
        {"overlay.successors=4", "churn.session.median=10m"},
        {"overlay.successors=4", "churn.session.median=30m"},
        {"overlay.successors=8", "churn.session.median=10m"},
        {"overlay.successors=8", "churn.session.median=30m"},
        {"overlay.successors=16", "churn.session.median=10m"},
        {"overlay.successors=16", "churn.session.median=30m"},
    };
    for (size_t p = 0; p < G_N_ELEMENTS(want); p++) {
        char **ov = scenario_sweep_overrides(s, p);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ov);
        CU_ASSERT_EQUAL(g_strv_length(ov), 2);
        CU_ASSERT_STRING_EQUAL(ov[0], want[p][0]);
        CU_ASSERT_STRING_EQUAL(ov[1], want[p][1]);
        /* The point loads with the sweep block still present, plus a --set of the user. */
        GPtrArray *all = g_ptr_array_new();
        g_ptr_array_add(all, "seed=9");
        for (char **o = ov; *o; o++)
            g_ptr_array_add(all, *o);
        g_ptr_array_add(all, NULL);
        struct scenario *point =
            load_ok(DATA "scenario_experiment.yaml", (const char *const *)all->pdata);
        CU_ASSERT_PTR_NOT_NULL(point);
        if (point) {
            CU_ASSERT_EQUAL(point->overlay.successors, p < 2 ? 4u : p < 4 ? 8u : 16u);
            CU_ASSERT_EQUAL(point->churn.session.median, (p % 2 ? 30 : 10) * 60 * ENV_S);
            CU_ASSERT_EQUAL(point->seed, 9);
            CU_ASSERT_EQUAL(scenario_sweep_points(point), 6);
        }
        scenario_free(point);
        g_ptr_array_free(all, TRUE);
        g_strfreev(ov);
    }
    scenario_free(s);

    /* Three keys: the last varies fastest, the first slowest. */
    s = load_text(HEAD "sweep:\n  peers: [1, 2]\n  output.pcap: ['', \"a b.pcap\"]\n"
                       "  workload.lookup_rate: [1/s, 2/s, 3/s]\n",
                  NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(scenario_sweep_points(s), 12);
    char **ov = scenario_sweep_overrides(s, 7); /* 7 = 1*6 + 0*3 + 1 */
    CU_ASSERT_STRING_EQUAL(ov[0], "peers=2");
    CU_ASSERT_STRING_EQUAL(ov[1], "output.pcap=");
    CU_ASSERT_STRING_EQUAL(ov[2], "workload.lookup_rate=2/s");
    CU_ASSERT_PTR_NULL(ov[3]);
    g_strfreev(ov);
    scenario_free(s);

    /* Errors: the sweep entry is on line 5. */
    static const struct {
        const char *yaml, *pos, *part;
        int code;
    } bad[] = {
        {"overlay.succesors: [4, 8]", "5:3",
         "key 'sweep.overlay.succesors': unknown key 'overlay.succesors'", SCENARIO_ERROR_KEY},
        {"overlay: [4, 8]", "5:3", "key 'sweep.overlay': 'overlay' is a section",
         SCENARIO_ERROR_KEY},
        {"name: [a, b]", "5:3", "key 'sweep.name': name cannot be swept", SCENARIO_ERROR_KEY},
        {"seeds: [1, 2]", "5:3", "key 'sweep.seeds': seeds cannot be swept", SCENARIO_ERROR_KEY},
        {"seed: [1, 2]", "5:3", "key 'sweep.seed': seed cannot be swept (use seeds: N",
         SCENARIO_ERROR_KEY},
        {"sweep: [1]", "5:3", "key 'sweep.sweep': sweep cannot be swept", SCENARIO_ERROR_KEY},
        {"expect: [1]", "5:3", "key 'sweep.expect': expect cannot be swept", SCENARIO_ERROR_KEY},
        {"churn.events: [1]", "5:3", "key 'sweep.churn.events': churn.events cannot be swept",
         SCENARIO_ERROR_KEY},
        {"metrics.snapshots: [1]", "5:3",
         "key 'sweep.metrics.snapshots': metrics.snapshots "
         "cannot be swept",
         SCENARIO_ERROR_KEY},
        {"peers: 4", "5:10", "key 'sweep.peers': expected a sequence of values",
         SCENARIO_ERROR_VALUE},
        {"peers: []", "5:10", "key 'sweep.peers': needs at least one value", SCENARIO_ERROR_VALUE},
        {"peers: [4, 0, 8]", "5:14", "key 'peers': must be >= 1, got 0", SCENARIO_ERROR_VALUE},
        {"network.upload: [1Mbit, 2 Mbit]", "5:27", "key 'network.upload': expected a bandwidth",
         SCENARIO_ERROR_VALUE},
        {"peers: [4, ~]", "5:14", "key 'sweep.peers': missing value", SCENARIO_ERROR_VALUE},
        {"peers: [4, [5]]", "5:14", "key 'sweep.peers': expected an integer", SCENARIO_ERROR_VALUE},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *yaml = g_strdup_printf(HEAD "sweep:\n  %s\n", bad[i].yaml);
        expect_text_error(yaml, bad[i].code, bad[i].pos, bad[i].part);
        g_free(yaml);
    }
    expect_text_error(HEAD "sweep:\n  peers: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]\n"
                           "  workload.fetches: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                           "  overlay.successors: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                           "  overlay.predecessors: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                           "  workload.keys: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                           "  workload.records: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n",
                      SCENARIO_ERROR_VALUE, "10:3", "more than 1000000 points");
    expect_text_error(HEAD "sweep: [peers]\n", SCENARIO_ERROR_VALUE, "4:8",
                      "key 'sweep': expected a mapping of dotted key");
    expect_error(DATA "scenario_minimal.yaml", SETS("sweep.peers=1"), SCENARIO_ERROR_VALUE,
                 "--set sweep.peers=1: ", PARTS("key 'sweep.peers'", "--set cannot set sequences"));
    expect_error(
        DATA "scenario_minimal.yaml", SETS("churn.events=[]"), SCENARIO_ERROR_VALUE,
        "--set churn.events=[]: ", PARTS("key 'churn.events'", "--set cannot set sequences"));
    expect_error(
        DATA "scenario_experiment.yaml", SETS("metrics.snapshots.x=1"), SCENARIO_ERROR_KEY,
        "--set metrics.snapshots.x=1: ", PARTS("key 'metrics.snapshots.x'", "'x' is not an index"));
    /* seeds: N */
    s = load_ok(DATA "scenario_minimal.yaml", SETS("seeds=20"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->seeds, 20);
    scenario_free(s);
}

/* ---- element keys: churn.events.N.FIELD, metrics.snapshots.N ------------------------------- */

/* Writes inline YAML to a temporary file; g_unlink and g_free the returned path. */
static char *text_file(const char *yaml)
{
    char *path = NULL;
    int fd = g_file_open_tmp("p2psip-scenario-XXXXXX.yaml", &path, NULL);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_FATAL(g_file_set_contents(path, yaml, -1, NULL));
    return path;
}

/* Events out of time order: file index 0 is the heal at 3m, 1 the fail at 1m, 2 the crowd. */
#define ELEMENTS                                                                                   \
    HEAD "churn:\n"                                                                                \
         "  events:\n"                                                                             \
         "    - {at: 3m, action: heal}\n"                                                          \
         "    - {at: 1m, action: fail, fraction: 0.1}\n"                                           \
         "    - {at: 2m, action: flash_crowd, peers: 5}\n"                                         \
         "metrics:\n"                                                                              \
         "  snapshots: [30m, 10m]\n"

static const struct scenario_event *event_at(const struct scenario *s, guint i)
{
    return &g_array_index(s->churn.events, struct scenario_event, i);
}

/* Indexes count in the file's order as written; the result is sorted by time again. */
static void test_element_overrides(void)
{
    char *path = text_file(ELEMENTS);
    struct scenario *s = load_ok(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(event_at(s, 0)->action, SCENARIO_EVENT_FAIL); /* sorted: 1m, 2m, 3m */
    scenario_free(s);

    s = load_ok(path, SETS("churn.events.1.fraction=0.25", "churn.events.0.at=30s",
                           "churn.events.2.over=5s", "churn.events.2.peers=9",
                           "churn.events.2.peers=7", "metrics.snapshots.1=45m"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL_FATAL(s->churn.events->len, 3);
    CU_ASSERT_EQUAL(event_at(s, 0)->action, SCENARIO_EVENT_HEAL); /* moved to 30s: first */
    CU_ASSERT_EQUAL(event_at(s, 0)->at, 30 * ENV_S);
    CU_ASSERT_EQUAL(event_at(s, 1)->action, SCENARIO_EVENT_FAIL);
    CU_ASSERT_EQUAL(event_at(s, 1)->fraction, 0.25);
    CU_ASSERT_EQUAL(event_at(s, 2)->action, SCENARIO_EVENT_FLASH_CROWD);
    CU_ASSERT_EQUAL(event_at(s, 2)->peers, 7);        /* the later override wins */
    CU_ASSERT_EQUAL(event_at(s, 2)->over, 5 * ENV_S); /* a field the file left out */
    CU_ASSERT_EQUAL_FATAL(s->metrics.snapshots->len, 2);
    CU_ASSERT_EQUAL(g_array_index(s->metrics.snapshots, env_time, 0), 1800 * ENV_S);
    CU_ASSERT_EQUAL(g_array_index(s->metrics.snapshots, env_time, 1), 2700 * ENV_S);
    scenario_free(s);

    /* Index 1 of the snapshots is the file's second time (10m), not the second smallest. */
    s = load_ok(path, SETS("metrics.snapshots.1=50m"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(g_array_index(s->metrics.snapshots, env_time, 0), 1800 * ENV_S);
    CU_ASSERT_EQUAL(g_array_index(s->metrics.snapshots, env_time, 1), 3000 * ENV_S);
    scenario_free(s);

    static const struct {
        const char *set, *part;
        int code;
    } bad[] = {
        {"churn.events.3.fraction=0.5",
         "key 'churn.events.3.fraction': index 3 is out of range: churn.events in the scenario "
         "file has 3 entries (indexes 0 to 2",
         SCENARIO_ERROR_KEY},
        {"churn.events.0.groups=2",
         "key 'churn.events.0.groups': not a field of action 'heal' (it takes no other field)",
         SCENARIO_ERROR_KEY},
        {"churn.events.1.groups=2",
         "key 'churn.events.1.groups': not a field of action 'fail' (it takes fraction)",
         SCENARIO_ERROR_KEY},
        {"churn.events.1.fraction=1.5", "key 'churn.events.1.fraction': must be <= 1, got 1.5",
         SCENARIO_ERROR_VALUE},
        {"churn.events.1.fraction=0", "key 'churn.events.1.fraction': must be > 0, got 0",
         SCENARIO_ERROR_VALUE},
        {"churn.events.1.fraction=half", "key 'churn.events.1.fraction': expected a number",
         SCENARIO_ERROR_VALUE},
        {"churn.events.2.peers=0", "key 'churn.events.2.peers': must be >= 1",
         SCENARIO_ERROR_VALUE},
        {"churn.events.0.action=explode", "key 'churn.events.0.action': unknown value 'explode'",
         SCENARIO_ERROR_VALUE},
        {"churn.events.0.at=2h",
         "key 'churn.events.0.at': 2h is after the end of the run (duration 1h)",
         SCENARIO_ERROR_VALUE},
        {"churn.events.1.action=heal",
         "key 'churn.events.1.action': action 'heal' does not take the event's fraction (written "
         "at 7:30; it takes no other field)",
         SCENARIO_ERROR_KEY},
        {"churn.events.0.action=fail",
         "key 'churn.events.0.fraction': missing: action 'fail' needs fraction",
         SCENARIO_ERROR_KEY},
        {"churn.events.x.at=1m", "key 'churn.events.x.at': 'x' is not an index",
         SCENARIO_ERROR_KEY},
        {"churn.events.-1.at=1m", "key 'churn.events.-1.at': '-1' is not an index",
         SCENARIO_ERROR_KEY},
        {"churn.events.99999999999999999999.at=1m", "is not an index", SCENARIO_ERROR_KEY},
        {"churn.events.01.at=1m", "key 'churn.events.01.at': '01' is not an index",
         SCENARIO_ERROR_KEY},
        {"churn.events.1=fail", "key 'churn.events.1': an event is set one field at a time",
         SCENARIO_ERROR_KEY},
        {"churn.events.1.when=now",
         "key 'churn.events.1.when': unknown field 'when' (an event has: at, action, fraction, "
         "groups, peers, over)",
         SCENARIO_ERROR_KEY},
        {"churn.events.1.at.x=1m",
         "key 'churn.events.1.at.x': unknown key (write churn.events.N.FIELD)", SCENARIO_ERROR_KEY},
        {"metrics.snapshots.2=1m",
         "key 'metrics.snapshots.2': index 2 is out of range: metrics.snapshots in the scenario "
         "file has 2 entries (indexes 0 to 1",
         SCENARIO_ERROR_KEY},
        {"metrics.snapshots.0=10m", "key 'metrics.snapshots': 10m is given twice (first at 10:20)",
         SCENARIO_ERROR_VALUE},
        {"metrics.snapshots.0=2h", "key 'metrics.snapshots.0': 2h is after the end of the run",
         SCENARIO_ERROR_VALUE},
        {"metrics.snapshots.0=soon", "key 'metrics.snapshots.0': expected a duration",
         SCENARIO_ERROR_VALUE},
        {"metrics.snapshots.0.x=1",
         "key 'metrics.snapshots.0.x': unknown key (write metrics.snapshots.N)",
         SCENARIO_ERROR_KEY},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *where = g_strdup_printf("--set %s: ", bad[i].set);
        expect_error(path, SETS(bad[i].set), bad[i].code, where, PARTS(bad[i].part));
        g_free(where);
    }
    /* Two overrides that give the same time: the later is reported, the first named. */
    expect_error(path, SETS("metrics.snapshots.0=20m", "metrics.snapshots.1=20m"),
                 SCENARIO_ERROR_VALUE, "--set metrics.snapshots.1=20m: ",
                 PARTS("20m is given twice (first at --set metrics.snapshots.0=20m)"));
    g_unlink(path);
    g_free(path);

    /* A file without the list: nothing to index. */
    expect_error(DATA "scenario_minimal.yaml", SETS("churn.events.0.at=1s"), SCENARIO_ERROR_KEY,
                 "--set churn.events.0.at=1s: ",
                 PARTS("key 'churn.events.0.at': index 0 is out of range: the scenario file has "
                       "no churn.events"));
    expect_error(
        DATA "scenario_minimal.yaml", SETS("metrics.snapshots.0=1s"), SCENARIO_ERROR_KEY,
        "--set metrics.snapshots.0=1s: ", PARTS("the scenario file has no metrics.snapshots"));
    /* A sweep entry is one dotted key, even under --set. */
    expect_error(DATA "scenario_minimal.yaml", SETS("sweep.churn.events.0.fraction=0.5"),
                 SCENARIO_ERROR_VALUE, "--set sweep.churn.events.0.fraction=0.5: ",
                 PARTS("key 'sweep.churn.events.0.fraction'", "--set cannot set sequences"));
    expect_error(DATA "scenario_minimal.yaml", SETS(" =1"), SCENARIO_ERROR_KEY,
                 "--set  =1: ", PARTS("KEY=VALUE"));
}

/* The Chord §6.4 shape: one failure event whose fraction is swept. */
#define SWEEP_EVENTS                                                                               \
    HEAD "churn:\n"                                                                                \
         "  events:\n"                                                                             \
         "    - {at: 40s, action: fail, fraction: 0.1}\n"                                          \
         "    - {at: 30s, action: partition, groups: 2}\n"                                         \
         "sweep:\n"

static void test_element_sweeps(void)
{
    char *path = text_file(SWEEP_EVENTS "  churn.events.0.fraction: [0.1, 0.2, 0.3]\n");
    struct scenario *s = load_ok(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL_FATAL(scenario_sweep_points(s), 3);
    CU_ASSERT_STRING_EQUAL(((const struct scenario_sweep *)s->sweep->pdata[0])->key,
                           "churn.events.0.fraction");
    static const double fraction[] = {0.1, 0.2, 0.3};
    for (size_t p = 0; p < G_N_ELEMENTS(fraction); p++) {
        char **ov = scenario_sweep_overrides(s, p);
        char *want = g_strdup_printf("churn.events.0.fraction=%g", fraction[p]);
        CU_ASSERT_STRING_EQUAL(ov[0], want);
        CU_ASSERT_PTR_NULL(ov[1]);
        /* The way the command line loads a point: the file, the point's overrides. */
        struct scenario *point = load_ok(path, (const char *const *)ov);
        CU_ASSERT_PTR_NOT_NULL(point);
        if (point) {
            CU_ASSERT_EQUAL(event_at(point, 1)->action, SCENARIO_EVENT_FAIL); /* 40s after 30s */
            CU_ASSERT_EQUAL(event_at(point, 1)->fraction, fraction[p]);
            CU_ASSERT_EQUAL(event_at(point, 0)->groups, 2);
        }
        scenario_free(point);
        g_free(want);
        g_strfreev(ov);
    }
    scenario_free(s);
    g_unlink(path);
    g_free(path);

    /* Sweeping a time re-sorts the events; snapshots too. */
    path = text_file(SWEEP_EVENTS "  churn.events.0.at: [10s, 50s]\n"
                                  "  metrics.snapshots.1: [5m, 20m]\n"
                                  "metrics:\n  snapshots: [10m, 15m]\n");
    s = load_ok(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL_FATAL(scenario_sweep_points(s), 4);
    char **ov = scenario_sweep_overrides(s, 1);
    CU_ASSERT_STRING_EQUAL(ov[0], "churn.events.0.at=10s");
    CU_ASSERT_STRING_EQUAL(ov[1], "metrics.snapshots.1=20m");
    struct scenario *point = load_ok(path, (const char *const *)ov);
    CU_ASSERT_PTR_NOT_NULL_FATAL(point);
    CU_ASSERT_EQUAL(event_at(point, 0)->action, SCENARIO_EVENT_FAIL);
    CU_ASSERT_EQUAL(event_at(point, 0)->at, 10 * ENV_S);
    CU_ASSERT_EQUAL(g_array_index(point->metrics.snapshots, env_time, 1), 1200 * ENV_S);
    scenario_free(point);
    g_strfreev(ov);
    ov = scenario_sweep_overrides(s, 2);
    CU_ASSERT_STRING_EQUAL(ov[1], "metrics.snapshots.1=5m");
    point = load_ok(path, (const char *const *)ov);
    CU_ASSERT_PTR_NOT_NULL_FATAL(point);
    CU_ASSERT_EQUAL(event_at(point, 1)->at, 50 * ENV_S);
    CU_ASSERT_EQUAL(g_array_index(point->metrics.snapshots, env_time, 0), 300 * ENV_S);
    scenario_free(point);
    g_strfreev(ov);
    scenario_free(s);
    g_unlink(path);
    g_free(path);

    /* Errors: the sweep entry is on line 9; a bad key is reported at the key, a bad value at
     * the value. */
    static const struct {
        const char *yaml, *pos, *part;
        int code;
    } bad[] = {
        {"churn.events.2.fraction: [0.1]", "9:3",
         "key 'sweep.churn.events.2.fraction': index 2 is out of range", SCENARIO_ERROR_KEY},
        {"churn.events.0.groups: [2, 3]", "9:3",
         "key 'sweep.churn.events.0.groups': not a field of action 'fail' (it takes fraction)",
         SCENARIO_ERROR_KEY},
        {"churn.events.0.size: [2]", "9:3", "key 'sweep.churn.events.0.size': unknown field 'size'",
         SCENARIO_ERROR_KEY},
        {"churn.events.first.fraction: [0.5]", "9:3", "'first' is not an index",
         SCENARIO_ERROR_KEY},
        {"churn.events.0: [0.5]", "9:3", "an event is set one field at a time", SCENARIO_ERROR_KEY},
        {"churn.events.0.fraction: [0.1, 2]", "9:34",
         "key 'churn.events.0.fraction': must be <= 1, got 2", SCENARIO_ERROR_VALUE},
        {"churn.events.0.at: [10s, 2h]", "9:28",
         "key 'churn.events.0.at': 2h is after the end of the run (duration 1h)",
         SCENARIO_ERROR_VALUE},
        {"churn.events.0.fraction: 0.5", "9:28", "expected a sequence of values",
         SCENARIO_ERROR_VALUE},
        {"churn.events.0.fraction: [[0.5]]", "9:29",
         "key 'sweep.churn.events.0.fraction': expected a number", SCENARIO_ERROR_VALUE},
        {"metrics.snapshots.0: [1m]", "9:3",
         "key 'sweep.metrics.snapshots.0': index 0 is out of range: the scenario file has no "
         "metrics.snapshots",
         SCENARIO_ERROR_KEY},
        {"churn.events: [1]", "9:3", "(sweep one field of one event: churn.events.N.FIELD)",
         SCENARIO_ERROR_KEY},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *yaml = g_strdup_printf(SWEEP_EVENTS "  %s\n", bad[i].yaml);
        expect_text_error(yaml, bad[i].code, bad[i].pos, bad[i].part);
        g_free(yaml);
    }
    expect_text_error(SWEEP_EVENTS "  metrics.snapshots.0: [10m, 20m]\n"
                                   "metrics:\n  snapshots: [5m, 20m]\n",
                      SCENARIO_ERROR_VALUE, "9:30",
                      "key 'metrics.snapshots': 20m is given twice (first at 11:19)");

    /* With duration swept too, the end-of-run rule waits for each point. */
    path = text_file(SWEEP_EVENTS "  duration: [1h, 3h]\n  churn.events.0.at: [30m, 2h]\n");
    s = load_ok(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(scenario_sweep_points(s), 4);
    ov = scenario_sweep_overrides(s, 1); /* duration 1h, at 2h */
    expect_error(path, (const char *const *)ov, SCENARIO_ERROR_VALUE,
                 "--set churn.events.0.at=2h: ", PARTS("after the end of the run (duration 1h)"));
    g_strfreev(ov);
    ov = scenario_sweep_overrides(s, 3); /* duration 3h, at 2h */
    point = load_ok(path, (const char *const *)ov);
    CU_ASSERT_PTR_NOT_NULL(point);
    scenario_free(point);
    g_strfreev(ov);
    scenario_free(s);
    g_unlink(path);
    g_free(path);
}

/* ---- workload.fetch_start ------------------------------------------------------------------- */

static void test_fetch_start(void)
{
    struct scenario *s = load_ok(DATA "scenario_minimal.yaml", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->workload.fetch_start, 11 * ENV_S); /* start (10s) + 1s */
    char *yaml = scenario_to_yaml(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "\n  fetch_start: 11s\n"));
    g_free(yaml);
    scenario_free(s);
    /* The default follows workload.start, also when start is overridden or swept. */
    s = load_ok(DATA "scenario_minimal.yaml", SETS("workload.start=2m"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->workload.fetch_start, 121 * ENV_S);
    scenario_free(s);
    s = load_text(HEAD "workload:\n  start: 1m\n  fetch_start: 3m\n", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->workload.fetch_start, 180 * ENV_S);
    scenario_free(s);
    s = load_text(HEAD "workload:\n  start: 1m\n  fetch_start: 1m\n", NULL); /* equal is fine */
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->workload.fetch_start, 60 * ENV_S);
    scenario_free(s);
    s = load_ok(DATA "scenario_minimal.yaml", SETS("workload.fetch_start=90s"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->workload.fetch_start, 90 * ENV_S);
    scenario_free(s);

    expect_text_error(HEAD "workload:\n  start: 1m\n  fetch_start: 30s\n", SCENARIO_ERROR_VALUE,
                      "6:16",
                      "key 'workload.fetch_start': workload.fetch_start (30s) must not be before "
                      "workload.start (1m)");
    expect_text_error(HEAD "workload:\n  fetch_start: soon\n", SCENARIO_ERROR_VALUE, "5:16",
                      "key 'workload.fetch_start': expected a duration");
    expect_error(
        DATA "scenario_minimal.yaml", SETS("workload.fetch_start=5s"), SCENARIO_ERROR_VALUE,
        "--set workload.fetch_start=5s: ", PARTS("must not be before workload.start (10s)"));
    /* An override of start that conflicts with the file's fetch_start is blamed. */
    char *path = text_file(HEAD "workload:\n  fetch_start: 3m\n");
    expect_error(path, SETS("workload.start=5m"), SCENARIO_ERROR_VALUE,
                 "--set workload.start=5m: ", PARTS("key 'workload.start'", "(3m)", "(5m)"));
    g_unlink(path);
    g_free(path);
}

/* ---- round trip ---------------------------------------------------------------------------- */

static void assert_equal_scenarios(const struct scenario *a, const struct scenario *b)
{
    CU_ASSERT_STRING_EQUAL(a->name, b->name);
    CU_ASSERT_EQUAL(a->seed, b->seed);
    CU_ASSERT_EQUAL(a->duration, b->duration);
    CU_ASSERT_EQUAL(a->peers, b->peers);
    CU_ASSERT_STRING_EQUAL(a->overlay.topology, b->overlay.topology);
    CU_ASSERT_STRING_EQUAL(a->overlay.name, b->overlay.name);
    CU_ASSERT_EQUAL(a->overlay.join, b->overlay.join);
    CU_ASSERT_EQUAL(a->overlay.join_interval, b->overlay.join_interval);
    CU_ASSERT_EQUAL(a->overlay.successors, b->overlay.successors);
    CU_ASSERT_EQUAL(a->overlay.predecessors, b->overlay.predecessors);
    CU_ASSERT_EQUAL(a->overlay.replicas, b->overlay.replicas);
    CU_ASSERT_EQUAL(a->overlay.update_interval, b->overlay.update_interval);
    CU_ASSERT_EQUAL(a->overlay.ping_interval, b->overlay.ping_interval);
    CU_ASSERT_EQUAL(a->overlay.reactive, b->overlay.reactive);
    CU_ASSERT_EQUAL(a->overlay.reliability_timer, b->overlay.reliability_timer);
    CU_ASSERT_EQUAL(a->latency.model, b->latency.model);
    CU_ASSERT_EQUAL(a->latency.ms, b->latency.ms);
    CU_ASSERT_EQUAL(a->latency.min_ms, b->latency.min_ms);
    CU_ASSERT_EQUAL(a->latency.max_ms, b->latency.max_ms);
    CU_ASSERT_EQUAL(a->workload.start, b->workload.start);
    CU_ASSERT_EQUAL(a->workload.lookups, b->workload.lookups);
    CU_ASSERT_EQUAL(a->workload.lookup_rate, b->workload.lookup_rate);
    CU_ASSERT_EQUAL(a->workload.keys, b->workload.keys);
    CU_ASSERT_EQUAL(a->workload.keys_per_peer, b->workload.keys_per_peer);
    CU_ASSERT_EQUAL(a->workload.records, b->workload.records);
    CU_ASSERT_EQUAL(a->workload.record_lifetime, b->workload.record_lifetime);
    CU_ASSERT_EQUAL(a->workload.value_size, b->workload.value_size);
    CU_ASSERT_EQUAL(a->workload.fetches, b->workload.fetches);
    CU_ASSERT_EQUAL(a->workload.fetch_rate, b->workload.fetch_rate);
    CU_ASSERT_EQUAL(a->workload.fetch_start, b->workload.fetch_start);
    CU_ASSERT_STRING_EQUAL(a->output.pcap, b->output.pcap);
    CU_ASSERT_EQUAL(a->seeds, b->seeds);
    CU_ASSERT_EQUAL(a->latency.dims, b->latency.dims);
    CU_ASSERT_EQUAL(a->latency.side_ms, b->latency.side_ms);
    CU_ASSERT_EQUAL(a->latency.height_ms, b->latency.height_ms);
    CU_ASSERT_STRING_EQUAL(a->latency.matrix, b->latency.matrix);
    CU_ASSERT_EQUAL(a->latency.jitter_ms, b->latency.jitter_ms);
    CU_ASSERT_EQUAL(a->network.loss, b->network.loss);
    CU_ASSERT_EQUAL(a->network.upload_bps, b->network.upload_bps);
    CU_ASSERT_EQUAL(a->network.download_bps, b->network.download_bps);
    CU_ASSERT_EQUAL(a->network.queue_bytes, b->network.queue_bytes);
    CU_ASSERT_EQUAL(a->churn.model, b->churn.model);
    CU_ASSERT(memcmp(&a->churn.session, &b->churn.session, sizeof a->churn.session) == 0);
    CU_ASSERT(memcmp(&a->churn.downtime, &b->churn.downtime, sizeof a->churn.downtime) == 0);
    CU_ASSERT_STRING_EQUAL(a->churn.trace, b->churn.trace);
    CU_ASSERT_EQUAL(a->churn.graceful, b->churn.graceful);
    CU_ASSERT_EQUAL(a->churn.start, b->churn.start);
    CU_ASSERT_EQUAL_FATAL(a->churn.events->len, b->churn.events->len);
    for (guint i = 0; i < a->churn.events->len; i++) {
        const struct scenario_event *x = &g_array_index(a->churn.events, struct scenario_event, i);
        const struct scenario_event *y = &g_array_index(b->churn.events, struct scenario_event, i);
        CU_ASSERT_EQUAL(x->at, y->at);
        CU_ASSERT_EQUAL(x->action, y->action);
        CU_ASSERT_EQUAL(x->fraction, y->fraction);
        CU_ASSERT_EQUAL(x->groups, y->groups);
        CU_ASSERT_EQUAL(x->peers, y->peers);
        CU_ASSERT_EQUAL(x->over, y->over);
    }
    CU_ASSERT_EQUAL(a->workload.arrivals, b->workload.arrivals);
    CU_ASSERT_EQUAL(a->workload.popularity, b->workload.popularity);
    CU_ASSERT_EQUAL(a->workload.zipf_alpha, b->workload.zipf_alpha);
    CU_ASSERT_EQUAL(a->workload.refresh, b->workload.refresh);
    CU_ASSERT_EQUAL(a->metrics.interval, b->metrics.interval);
    CU_ASSERT_EQUAL_FATAL(a->metrics.snapshots->len, b->metrics.snapshots->len);
    for (guint i = 0; i < a->metrics.snapshots->len; i++)
        CU_ASSERT_EQUAL(g_array_index(a->metrics.snapshots, env_time, i),
                        g_array_index(b->metrics.snapshots, env_time, i));
    CU_ASSERT_EQUAL(a->output.plots, b->output.plots);
    CU_ASSERT_EQUAL_FATAL(a->expect->len, b->expect->len);
    for (guint i = 0; i < a->expect->len; i++) {
        const struct scenario_expect *x = a->expect->pdata[i], *y = b->expect->pdata[i];
        CU_ASSERT_STRING_EQUAL(x->metric, y->metric);
        CU_ASSERT_STRING_EQUAL(x->op, y->op);
        CU_ASSERT_EQUAL(x->value, y->value);
    }
    CU_ASSERT_EQUAL_FATAL(a->sweep->len, b->sweep->len);
    for (guint i = 0; i < a->sweep->len; i++) {
        const struct scenario_sweep *x = a->sweep->pdata[i], *y = b->sweep->pdata[i];
        CU_ASSERT_STRING_EQUAL(x->key, y->key);
        CU_ASSERT_EQUAL_FATAL(x->values->len, y->values->len);
        for (guint j = 0; j < x->values->len; j++)
            CU_ASSERT_STRING_EQUAL(x->values->pdata[j], y->values->pdata[j]);
    }
}

static void round_trip(const char *file, const char *const *overrides)
{
    struct scenario *a = load_ok(file, overrides);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    char *yaml = scenario_to_yaml(a);
    char *again = scenario_to_yaml(a);
    CU_ASSERT_STRING_EQUAL(yaml, again); /* stable */
    char *path = NULL;
    int fd = g_file_open_tmp("p2psip-resolved-XXXXXX.yaml", &path, NULL);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_FATAL(g_file_set_contents(path, yaml, -1, NULL));
    struct scenario *b = load_ok(path, NULL);
    CU_ASSERT_PTR_NOT_NULL(b);
    if (b) {
        assert_equal_scenarios(a, b);
        char *yaml_b = scenario_to_yaml(b);
        CU_ASSERT_STRING_EQUAL(yaml, yaml_b); /* a fixed point */
        g_free(yaml_b);
    }
    /* Every key is written, defaults included. */
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "\n  reliability_timer: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "\noutput:\n  pcap: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "\n  events:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "\n  snapshots: ["));
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "\n  session:\n    dist: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "\nexpect:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "\nsweep:"));
    scenario_free(b);
    scenario_free(a);
    g_unlink(path);
    g_free(path);
    g_free(again);
    g_free(yaml);
}

static void test_round_trip(void)
{
    round_trip(DATA "scenario_full.yaml", NULL);
    round_trip(DATA "scenario_minimal.yaml", NULL);
    round_trip(DATA "scenario_experiment.yaml", NULL);
    round_trip(DATA "scenario_experiment.yaml",
               SETS("churn.downtime.dist=lognormal", "churn.downtime.sigma=1",
                    "network.upload=1234567", "network.queue=1000", "workload.lookup_rate=0.123",
                    "latency.model=matrix", "expect.lookup_success=0.5"));
    round_trip(DATA "scenario_churn.yaml", NULL);
    round_trip(DATA "scenario_experiment.yaml",
               SETS("workload.fetch_start=1.5h", "churn.events.0.at=1s"));
    round_trip(DATA "scenario_minimal.yaml",
               SETS("latency.ms=0.1", "latency.max_ms=1e300", "name=ünïcode: [not, a list]",
                    "output.pcap=tab\there \"quoted\" \\ #x", "overlay.name=a-b.example",
                    "duration=1.0000005s", "seed=18446744073709551615"));
}

CU_TestInfo test_scenario_tests[] = {
    {"full file", test_full},
    {"defaults", test_defaults},
    {"durations", test_durations},
    {"--set overrides", test_overrides},
    {"--set errors", test_override_errors},
    {"file errors name file:line:col and key", test_file_errors},
    {"shape errors", test_shape_errors},
    {"experiments keys from a file", test_experiment_file},
    {"rates", test_rates},
    {"bandwidths, sizes, probabilities and new choices", test_bandwidths_and_sizes},
    {"rules across keys", test_cross_rules},
    {"distributions and their parameters", test_distributions},
    {"churn events", test_events},
    {"metric snapshots", test_snapshots},
    {"expectations", test_expect},
    {"sweeps and seeds", test_sweep},
    {"--set of churn.events.N.FIELD and metrics.snapshots.N", test_element_overrides},
    {"sweeps of churn.events.N.FIELD and metrics.snapshots.N", test_element_sweeps},
    {"workload.fetch_start", test_fetch_start},
    {"round trip through scenario_to_yaml", test_round_trip},
    CU_TEST_INFO_NULL,
};
