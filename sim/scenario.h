/* scenario.h — an experiment as read from a YAML scenario file (libyaml).
 *
 * scenario_load() parses the file, applies --set overrides (dotted keys), checks every key
 * and value, and fills struct scenario.  Every error names FILE:LINE:COLUMN and the key
 * (for an override: "--set KEY=VALUE" instead of the position), so that the command line can
 * print it and exit 2.  docs/scenarios.md documents every key; scenario_to_yaml()
 * writes the fully resolved scenario (defaults included) back as YAML for the results folder.
 *
 * Durations are written as a number with a unit ("200ms", "10s", "5m", "2h"; a bare number
 * means seconds) and held in microseconds.
 */
#ifndef P2PSIP_SIM_SCENARIO_H
#define P2PSIP_SIM_SCENARIO_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/env.h"

enum scenario_latency_model { SCENARIO_LATENCY_CONSTANT, SCENARIO_LATENCY_UNIFORM };
enum scenario_join { SCENARIO_JOIN_INSTANT, SCENARIO_JOIN_PROTOCOL };

struct scenario {
    char *file;  /* path it was read from */
    char *name;  /* name: (required) */
    uint64_t seed;        /* seed: 1 */
    env_time duration;    /* duration: (required) simulated time of the whole run */
    uint32_t peers;       /* peers: (required, >= 1) */
    struct {
        char *topology;          /* overlay.topology: chord (only value for now) */
        char *name;              /* overlay.name: "p2psip.example" (overlay hash source) */
        enum scenario_join join; /* overlay.join: instant | protocol */
        env_time join_interval;  /* overlay.join_interval: 200ms between protocol joins */
        uint32_t successors;     /* overlay.successors: 4 */
        uint32_t predecessors;   /* overlay.predecessors: 4 */
        uint32_t replicas;       /* overlay.replicas: 2 */
        env_time update_interval; /* overlay.update_interval: 60s */
        env_time ping_interval;   /* overlay.ping_interval: 60s */
        bool reactive;            /* overlay.reactive: true */
        env_time reliability_timer; /* overlay.reliability_timer: 3s */
    } overlay;
    struct {
        enum scenario_latency_model model; /* latency.model: constant | uniform */
        double ms;     /* latency.ms: 50 (constant, one-way) */
        double min_ms; /* latency.min_ms: 10 (uniform, per message) */
        double max_ms; /* latency.max_ms: 100 */
    } latency;
    struct {
        env_time start;          /* workload.start: 10s; measurement starts here (warm-up) */
        uint64_t lookups;        /* workload.lookups: 1000 total lookups (0 = none) */
        double lookup_rate;      /* workload.lookup_rate: 100 per second, whole system, Poisson */
        uint64_t keys;           /* workload.keys: 0 = lookups pick random ids */
        uint64_t keys_per_peer;  /* workload.keys_per_peer: 0; when set, keys = peers * this */
        uint64_t records;        /* workload.records: 0 records stored by random peers at start */
        uint32_t record_lifetime; /* workload.record_lifetime: 3600 (seconds) */
        uint32_t value_size;     /* workload.value_size: 64 bytes */
        uint64_t fetches;        /* workload.fetches: 0 fetches of stored records */
        double fetch_rate;       /* workload.fetch_rate: 100 per second */
    } workload;
    struct {
        char *pcap;  /* output.pcap: "" (empty = none); file name inside the run folder */
    } output;
};

/* Loads path and applies overrides ("key=value" strings, dotted keys, NULL-terminated or
 * NULL).  Returns NULL and sets *err (domain SCENARIO_ERROR) on any problem. */
struct scenario *scenario_load(const char *path, const char *const *overrides, GError **err);
void scenario_free(struct scenario *s);
/* The fully resolved scenario as YAML (defaults included); g_free the result. */
char *scenario_to_yaml(const struct scenario *s);

#define SCENARIO_ERROR (scenario_error_quark())
GQuark scenario_error_quark(void);
enum { SCENARIO_ERROR_SYNTAX, SCENARIO_ERROR_KEY, SCENARIO_ERROR_VALUE, SCENARIO_ERROR_IO };

#endif
