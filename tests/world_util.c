/* world_util.c — test helpers for suites that run whole simulated worlds (see world_util.h;
 * sim/world.c, sim/scenario.c, docs/scenarios.md).  No RFC of its own.
 */
#include "world_util.h"

#include <CUnit/CUnit.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

char *world_util_write_yaml(const char *yaml)
{
    char *path = NULL;
    int fd = g_file_open_tmp("p2psip-test-XXXXXX.yaml", &path, NULL);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_FATAL(g_file_set_contents(path, yaml, -1, NULL));
    return path;
}

struct scenario *world_util_load_yaml(const char *yaml, char **path, GError **err)
{
    *path = world_util_write_yaml(yaml);
    return scenario_load(*path, NULL, err);
}

struct scenario *world_util_reload(const char *yaml)
{
    char *path;
    GError *err = NULL;
    struct scenario *again = world_util_load_yaml(yaml, &path, &err);
    CU_ASSERT_PTR_NULL(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(again);
    char *yaml2 = scenario_to_yaml(again);
    CU_ASSERT_STRING_EQUAL(yaml, yaml2);
    g_free(yaml2);
    g_unlink(path);
    g_free(path);
    return again;
}

void world_util_check_bad(size_t case_no, const char *yaml, const char *where, const char *what)
{
    char *path;
    GError *err = NULL;
    struct scenario *s = world_util_load_yaml(yaml, &path, &err);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    char *prefix = g_strconcat(path, where, NULL);
    if (!g_str_has_prefix(err->message, prefix) || !strstr(err->message, what))
        fprintf(stderr, "\n    case %zu: got '%s'", case_no, err->message);
    CU_ASSERT(g_str_has_prefix(err->message, prefix));
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, what));
    g_free(prefix);
    g_error_free(err);
    scenario_free(s);
    g_unlink(path);
    g_free(path);
}

void world_util_run_yaml(const char *yaml, struct world_util_run *r)
{
    char *path;
    GError *err = NULL;
    r->s = world_util_load_yaml(yaml, &path, &err);
    if (err)
        fprintf(stderr, "\n    %s", err->message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->s);
    r->w = world_new(r->s, NULL, &err);
    if (err)
        fprintf(stderr, "\n    %s", err->message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->w);
    world_run(r->w, NULL, NULL);
    r->rows = world_summary_rows(r->w, NULL);
    g_unlink(path);
    g_free(path);
}

void world_util_run_free(struct world_util_run *r)
{
    world_free(r->w);
    scenario_free(r->s);
    g_array_unref(r->rows);
}

double world_util_row(const GArray *rows, const char *name)
{
    for (guint i = 0; i < rows->len; i++) {
        const struct world_row *r = &g_array_index(rows, struct world_row, i);
        if (strcmp(r->name, name) == 0)
            return r->value;
    }
    return NAN;
}

bool world_util_has_row(const GArray *rows, const char *name)
{
    for (guint i = 0; i < rows->len; i++)
        if (strcmp(g_array_index(rows, struct world_row, i).name, name) == 0)
            return true;
    return false;
}

void world_util_scenario(struct scenario *sc, const char *file, const char *name, uint32_t peers,
                         const char *topology, double latency_ms)
{
    memset(sc, 0, sizeof *sc);
    sc->file = (char *)file;
    sc->name = (char *)name;
    sc->seed = 1;
    sc->peers = peers;
    sc->overlay.topology = (char *)topology;
    sc->overlay.name = (char *)"p2psip.example";
    sc->overlay.join = SCENARIO_JOIN_INSTANT;
    sc->overlay.join_interval = 200 * ENV_MS;
    sc->overlay.successors = 4;
    sc->overlay.predecessors = 4;
    sc->overlay.replicas = 2;
    sc->overlay.update_interval = 60 * ENV_S;
    sc->overlay.ping_interval = 60 * ENV_S;
    sc->overlay.reactive = true;
    sc->overlay.reliability_timer = 3 * ENV_S;
    sc->latency.model = SCENARIO_LATENCY_CONSTANT;
    sc->latency.ms = latency_ms;
    sc->workload.record_lifetime = 3600;
    sc->workload.value_size = 64;
    sc->workload.fetch_rate = 100;
    sc->output.pcap = (char *)"";
}
