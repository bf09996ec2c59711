/* world_util.h — test helpers shared by the CUnit suites that run whole simulated worlds
 * (sim/world.h on a scenario of sim/scenario.h): a scenario from a YAML string, a world run to
 * its end with its summary rows (the rows of summary.tsv, docs/scenarios.md), and a scenario
 * in caller storage with the loader's defaults written out by hand.  No RFC of its own.
 */
#ifndef P2PSIP_TESTS_WORLD_UTIL_H
#define P2PSIP_TESTS_WORLD_UTIL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../sim/scenario.h"
#include "../sim/world.h"

/* A finished run: the scenario, the world after world_run, and its summary rows
 * (struct world_row).  All three are owned; world_util_run_free frees them. */
struct world_util_run {
    struct scenario *s;
    struct world *w;
    GArray *rows;
};

/* Writes yaml to a new temporary file and returns its path (g_free it; the caller unlinks the
 * file).  A failure to write fails the current test fatally. */
char *world_util_write_yaml(const char *yaml);

/* Loads a scenario from yaml through a temporary file whose path is returned in *path (the
 * caller unlinks and frees it): scenario_load's result, NULL with *err set on a bad scenario. */
struct scenario *world_util_load_yaml(const char *yaml, char **path, GError **err);

/* Loads the resolved YAML that scenario_to_yaml wrote (through a temporary file, removed
 * again) and checks that it loads without error and resolves to the same text: the loader's
 * round trip.  Returns the scenario read back (scenario_free it). */
struct scenario *world_util_reload(const char *yaml);

/* Checks that yaml is refused: loading it fails with a message that starts with the temporary
 * file's path followed by where (":LINE:COLUMN:") and contains what; on a mismatch the message
 * is printed with case_no, the caller's index of the case. */
void world_util_check_bad(size_t case_no, const char *yaml, const char *where, const char *what);

/* Loads yaml, builds the world, runs it to the end and takes its summary rows into *r.  A
 * scenario or world that cannot be made fails the current test fatally, the loader's message
 * printed. */
void world_util_run_yaml(const char *yaml, struct world_util_run *r);

/* Frees what world_util_run_yaml made. */
void world_util_run_free(struct world_util_run *r);

/* The value of the summary row called name, NAN when rows has none. */
double world_util_row(const GArray *rows, const char *name);

/* Whether rows has a row called name (whatever its value). */
bool world_util_has_row(const GArray *rows, const char *name);

/* Fills *sc (caller storage, zeroed first) with a small instant-join overlay as the loader's
 * defaults would make it: file and name as given (borrowed, not copied), seed 1, peers peers,
 * topology topology on overlay "p2psip.example", 200 ms join interval, 4 successors and
 * predecessors, 2 replicas, 60 s updates and pings, reactive recovery, 3 s reliability timer,
 * a constant latency of latency_ms, records of 64 bytes living an hour, fetches at 100/s and
 * no pcap.  Callers set the workload's start and size, the duration and anything else. */
void world_util_scenario(struct scenario *sc, const char *file, const char *name, uint32_t peers,
                         const char *topology, double latency_ms);

#endif
