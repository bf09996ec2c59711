/* test_scenario.c — CUnit suite for the YAML scenario loader (sim/scenario.h).
 *
 * Covers what docs/scenarios.md promises: every key read, defaults applied, --set overrides,
 * every error naming FILE:LINE:COLUMN (or "--set KEY=VALUE") and the dotted key, and a round
 * trip through scenario_to_yaml().  Input files live in tests/data/; tests run from the
 * repository root.
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
    expect_error(m, SETS("workload.lookup_rate=0"), SCENARIO_ERROR_VALUE,
                 "--set workload.lookup_rate=0: ", PARTS("> 0"));
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
                 PARTS("key 'overlay.topolgy'", "unknown key", "topology, name, join"));
    expect_error(DATA "scenario_err_unknown_value.yaml", NULL, SCENARIO_ERROR_VALUE,
                 DATA "scenario_err_unknown_value.yaml:6:13: ",
                 PARTS("key 'overlay.topology': unknown value 'pastry' (expected: chord)"));
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
    CU_ASSERT_STRING_EQUAL(a->output.pcap, b->output.pcap);
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
    {"round trip through scenario_to_yaml", test_round_trip},
    CU_TEST_INFO_NULL,
};
