/* scenario.c — loads a YAML scenario file (sim/scenario.h) with libyaml's document API.
 *
 * Follows DESIGN.md ("What the product is": a researcher writes a YAML scenario) and STYLE.md
 * point 9 (GError at the edges where a person reads the message); docs/scenarios.md is the
 * user's reference for every key.
 *
 * Loading runs in four steps:
 *   1. libyaml parses the file into a document; we copy it into a small tree of mappings,
 *      sequences and scalars, each node keeping its 1-based line and column;
 *   2. every --set KEY=VALUE override is grafted onto the tree (nodes it creates remember the
 *      override text instead of a position);
 *   3. the tree is checked against one table of key descriptors (dotted name, type, field
 *      offset, default, range): unknown keys, wrong shapes;
 *   4. the table is walked to fill struct scenario, parsing each value (or the default, which
 *      is written in the same syntax as the file), then cross-key rules are checked.
 * A new key is one row in scenario_keys[]; scenario_free() and scenario_to_yaml() follow the
 * same table, so they never need to learn about it.
 *
 * Most keys hold one value (a string, number, duration, rate, bandwidth, size, choice...).
 * Four hold structures and have their own parsers: churn.events (a sequence of mappings),
 * metrics.snapshots (a sequence of durations), expect (metric -> "OP NUMBER") and sweep
 * (dotted key -> list of values, each checked as if given with --set).  --set and sweep reach
 * single values only, but these include one element of the two sequences the file gives:
 * churn.events.N.FIELD and metrics.snapshots.N, N counting in file order (the order as
 * written, before events and snapshots are sorted by time).  Such an "element key" replaces
 * that one value in the tree, which is then parsed exactly like the file.  Distribution
 * parameters (churn.session.*, churn.downtime.*) are single values whose presence matters:
 * check_dist() enforces exactly the parameters each kind needs.  One key has a default that
 * depends on another (workload.fetch_start, after workload.start): check_cross() fills it in.
 */
#include "scenario.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "../config/config.h"

G_DEFINE_QUARK(p2psip_scenario_error, scenario_error)

/* ---- the key table ------------------------------------------------------------------------- */

enum key_type {
    KEY_STRING,    /* char *, g_strdup'ed; .min = minimum length; .choices restricts values */
    KEY_U32,       /* uint32_t in [.min, .max or UINT32_MAX] */
    KEY_U64,       /* uint64_t in [.min, .max or UINT64_MAX] */
    KEY_DOUBLE,    /* double, finite, >= .fmin (> with KEY_FMIN_OPEN), <= .fmax with KEY_FMAX
                      (< with KEY_FMAX_OPEN too) */
    KEY_DURATION,  /* env_time from "200ms", "10s", ... in [.min, .max or UINT64_MAX] us */
    KEY_BOOL,      /* bool from true / false */
    KEY_ENUM,      /* an enum (int-sized) holding the index of the value in .choices */
    KEY_RATE,      /* double per second from "0.5/s", "30/min", "2/h" or a bare number;
                      bounds as KEY_DOUBLE */
    KEY_BANDWIDTH, /* uint64_t bits per second from "1Mbit", "64kB", ...; [.min, .max] */
    KEY_SIZE,      /* uint32_t bytes from "64KB", "1MB" or a bare number; [.min, .max] */
    KEY_EVENTS,    /* GArray of struct scenario_event from a sequence of mappings */
    KEY_TIMES,     /* GArray of env_time from a sequence of durations, sorted */
    KEY_EXPECT,    /* GPtrArray of struct scenario_expect * from a mapping */
    KEY_SWEEP,     /* GPtrArray of struct scenario_sweep * from a mapping */
    KEY_NAT_MIX,   /* GArray of struct scenario_nat_entry from a sequence of mappings */
    KEY_SERVICES,  /* GArray of struct scenario_service from a sequence of mappings */
};

enum {
    KEY_FMIN_OPEN = 1,   /* KEY_DOUBLE, KEY_RATE: the lower bound itself is refused */
    KEY_FMAX = 2,        /* KEY_DOUBLE, KEY_RATE: .fmax applies */
    KEY_DNS_NAME = 4,    /* KEY_STRING: letters, digits, '-' and '.' only */
    KEY_FMAX_OPEN = 8,   /* with KEY_FMAX: the upper bound itself is refused */
    KEY_DIST_PARAM = 16, /* a distribution parameter: no default (0 = not given), written back
                            only when given; check_dist() decides which may be given */
    KEY_DERIVED = 32,    /* no default in the table: check_cross() derives one from other keys
                            when the key is not given */
    KEY_PLAIN = 64,      /* KEY_DURATION: a plain number without unit (a capacity), held
                            x 10^6 so that sim/dist.h samples it like a time in seconds */
};

struct scenario_key {
    const char *name; /* dotted path */
    enum key_type type;
    size_t offset;
    const char *def; /* default, in file syntax; NULL = required (structures: empty) */
    uint64_t min, max;
    double fmin, fmax;
    unsigned flags;
    const char *const *choices; /* NULL-terminated */
};

/* The first four fields of a row; the rest are designated where they differ from 0. */
#define KEY(key, type_, field, default_)                                                           \
    .name = key, .type = type_, .offset = offsetof(struct scenario, field), .def = default_

static const char *const topology_names[] = {"chord", "bamboo", "superpeer", NULL};
static const char *const join_names[] = {"instant", "protocol", NULL};
static const char *const latency_names[] = {"constant", "uniform", "coordinates", "matrix", NULL};
static const char *const dist_names[] = {"none",    "constant",  "exponential", "pareto",
                                         "weibull", "lognormal", NULL};
static const char *const churn_names[] = {"none", "sessions", "trace", NULL};
static const char *const arrivals_names[] = {"system", "per_peer", NULL};
static const char *const client_attach_names[] = {"random", "nearest", NULL};
static const char *const popularity_names[] = {"uniform", "zipf", NULL};
static const char *const action_names[] = {"fail", "partition", "heal", "flash_crowd", NULL};
static const char *const election_names[] = {"random", "capacity", "uptime", NULL};
static const char *const relay_discovery_names[] = {"configured", "service", NULL};
static const char *const bootstrap_names[] = {"random", "configured", "remembered", "server", NULL};
static const char *const refuse_names[] = {"none", "error", "silent", NULL};
static const char *const signatures_names[] = {"none", "modelled", "real", NULL};
/* core/service.h's built-in policies (service_policy_by_name). */
static const char *const service_policy_names[] = {"random", "least_loaded", "lowest_rtt",
                                                    "two_choices", NULL};

_Static_assert(sizeof(enum scenario_join) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum scenario_bootstrap) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum scenario_latency_model) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum scenario_dist_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum scenario_churn_model) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum scenario_arrivals) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum scenario_popularity) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum scenario_event_action) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum scenario_election) == sizeof(int), "enums are stored as int");
_Static_assert(SCENARIO_ELECTION_UPTIME == 2, "election_names follows the enum's order");
_Static_assert(SCENARIO_LATENCY_MATRIX == 3 && SCENARIO_DIST_LOGNORMAL == 5 &&
                   SCENARIO_CHURN_TRACE == 2 && SCENARIO_EVENT_FLASH_CROWD == 3,
               "the choice lists above follow the enums' order");

/* A distribution (struct scenario_dist) under `key`: its kind and every parameter.  Given
 * parameters must be positive; which ones may be given is check_dist()'s business. */
/* clang-format off */
#define DIST_KEYS_OF(key, field, unit)                                                             \
    {KEY(key ".dist", KEY_ENUM, field.kind, "none"), .choices = dist_names},                       \
    {KEY(key ".value", KEY_DURATION, field.value, NULL), .min = 1, .flags = KEY_DIST_PARAM | unit},\
    {KEY(key ".mean", KEY_DURATION, field.mean, NULL), .min = 1, .flags = KEY_DIST_PARAM | unit},  \
    {KEY(key ".scale", KEY_DURATION, field.scale, NULL), .min = 1, .flags = KEY_DIST_PARAM | unit},\
    {KEY(key ".median", KEY_DURATION, field.median, NULL), .min = 1,                               \
     .flags = KEY_DIST_PARAM | unit},                                                              \
    {KEY(key ".shape", KEY_DOUBLE, field.shape, NULL), .flags = KEY_DIST_PARAM | KEY_FMIN_OPEN},   \
    {KEY(key ".sigma", KEY_DOUBLE, field.sigma, NULL), .flags = KEY_DIST_PARAM | KEY_FMIN_OPEN}
/* A distribution of times (parameters are durations), or of plain numbers (KEY_PLAIN). */
#define DIST_KEYS(key, field) DIST_KEYS_OF(key, field, 0)
#define DIST_KEYS_PLAIN(key, field) DIST_KEYS_OF(key, field, KEY_PLAIN)
/* clang-format on */

/* Keys of one section must be adjacent (scenario_to_yaml relies on it); docs/scenarios.md
 * lists them in this order. */
static const struct scenario_key scenario_keys[] = {
    {KEY("name", KEY_STRING, name, NULL), .min = 1},
    {KEY("seed", KEY_U64, seed, "1")},
    {KEY("seeds", KEY_U32, seeds, "1"), .min = 1, .max = 1000000},
    {KEY("duration", KEY_DURATION, duration, NULL), .min = 1},
    {KEY("peers", KEY_U32, peers, NULL), .min = 1},
    {KEY("overlay.topology", KEY_STRING, overlay.topology, "chord"), .choices = topology_names},
    /* RFC 6940 section 6.3.2: the overlay name must be usable as a DNS name. */
    {KEY("overlay.name", KEY_STRING, overlay.name, "p2psip.example"), .min = 1,
     .flags = KEY_DNS_NAME},
    {KEY("overlay.config", KEY_STRING, overlay.config, "")},
    {KEY("overlay.join", KEY_ENUM, overlay.join, "instant"), .choices = join_names},
    {KEY("overlay.join_interval", KEY_DURATION, overlay.join_interval, "200ms")},
    {KEY("overlay.successors", KEY_U32, overlay.successors, "4"), .min = 1},
    {KEY("overlay.predecessors", KEY_U32, overlay.predecessors, "4"), .min = 1},
    {KEY("overlay.replicas", KEY_U32, overlay.replicas, "2")},
    {KEY("overlay.update_interval", KEY_DURATION, overlay.update_interval, "60s"), .min = 1},
    {KEY("overlay.ping_interval", KEY_DURATION, overlay.ping_interval, "60s"), .min = 1},
    {KEY("overlay.reactive", KEY_BOOL, overlay.reactive, "true")},
    /* RFC 6940 section 11.1, overlay-reliability-timer: "MUST be at least 200 milliseconds" */
    {KEY("overlay.reliability_timer", KEY_DURATION, overlay.reliability_timer, "3s"),
     .min = 200 * ENV_MS},
    {KEY("overlay.bamboo.digit_bits", KEY_U32, overlay.bamboo.digit_bits, "4"), .min = 1, .max = 8},
    {KEY("overlay.bamboo.leaf_set", KEY_U32, overlay.bamboo.leaf_set, "8"), .min = 1, .max = 64},
    {KEY("overlay.bamboo.leafset_interval", KEY_DURATION, overlay.bamboo.leafset_interval, "5s"),
     .min = 1},
    {KEY("overlay.bamboo.table_interval", KEY_DURATION, overlay.bamboo.table_interval, "10s"),
     .min = 1},
    {KEY("overlay.bamboo.reactive", KEY_BOOL, overlay.bamboo.reactive, "false")},
    {KEY("overlay.bamboo.pns", KEY_BOOL, overlay.bamboo.pns, "true")},
    {KEY("overlay.superpeer.share", KEY_DOUBLE, overlay.superpeer.share, "0.1"), .fmin = 0,
     .fmax = 1, .flags = KEY_FMIN_OPEN | KEY_FMAX},
    {KEY("overlay.superpeer.keepalive", KEY_DURATION, overlay.superpeer.keepalive, "15s"),
     .min = 1},
    {KEY("overlay.superpeer.election", KEY_ENUM, overlay.superpeer.election, "random"),
     .choices = election_names},
    DIST_KEYS_PLAIN("overlay.superpeer.capacity", overlay.superpeer.capacity),
    {KEY("overlay.superpeer.min_capacity", KEY_DOUBLE, overlay.superpeer.min_capacity, "0")},
    {KEY("overlay.superpeer.election_interval", KEY_DURATION, overlay.superpeer.election_interval,
         "30s"),
     .min = 1},
    {KEY("overlay.superpeer.min_uptime", KEY_DURATION, overlay.superpeer.min_uptime, "10m")},
    {KEY("bootstrap.method", KEY_ENUM, bootstrap.method, "random"), .choices = bootstrap_names},
    {KEY("latency.model", KEY_ENUM, latency.model, "constant"), .choices = latency_names},
    {KEY("latency.ms", KEY_DOUBLE, latency.ms, "50")},
    {KEY("latency.min_ms", KEY_DOUBLE, latency.min_ms, "10")},
    {KEY("latency.max_ms", KEY_DOUBLE, latency.max_ms, "100")},
    {KEY("latency.dims", KEY_U32, latency.dims, "2"), .min = 1, .max = 16},
    {KEY("latency.side_ms", KEY_DOUBLE, latency.side_ms, "150")},
    {KEY("latency.height_ms", KEY_DOUBLE, latency.height_ms, "10")},
    {KEY("latency.matrix", KEY_STRING, latency.matrix, "")},
    {KEY("latency.jitter_ms", KEY_DOUBLE, latency.jitter_ms, "0")},
    {KEY("network.loss", KEY_DOUBLE, network.loss, "0"), .fmax = 1,
     .flags = KEY_FMAX | KEY_FMAX_OPEN},
    {KEY("network.upload", KEY_BANDWIDTH, network.upload_bps, "0")},
    {KEY("network.download", KEY_BANDWIDTH, network.download_bps, "0")},
    {KEY("network.queue", KEY_SIZE, network.queue_bytes, "64KB"), .min = 1},
    {KEY("nat.mix", KEY_NAT_MIX, nat.mix, NULL)},
    {KEY("nat.binding_timeout", KEY_DURATION, nat.binding_timeout, "120s"), .min = 1},
    {KEY("nat.inbound_refresh", KEY_BOOL, nat.inbound_refresh, "false")},
    {KEY("nat.hairpin", KEY_BOOL, nat.hairpin, "false")},
    {KEY("nat.peers_per_nat", KEY_U32, nat.peers_per_nat, "1"), .min = 1, .max = 4096},
    {KEY("nat.traversal", KEY_BOOL, nat.traversal, "true")},
    {KEY("nat.relays", KEY_U32, nat.relays, "8"), .min = 0, .max = 64},
    {KEY("nat.relay_servers", KEY_U32, nat.relay_servers, "0"), .min = 0, .max = 64},
    {KEY("nat.relay_discovery", KEY_ENUM, nat.relay_discovery, "configured"),
     .choices = relay_discovery_names},
    {KEY("nat.relay_policy", KEY_STRING, nat.relay_policy, "two_choices"),
     .choices = service_policy_names},
    {KEY("nat.relay_capacity", KEY_U32, nat.relay_capacity, "100"), .min = 1},
    {KEY("nat.bootstrap_relays", KEY_U32, nat.bootstrap_relays, "1"), .min = 1, .max = 64},
    {KEY("nat.relay_failover", KEY_BOOL, nat.relay_failover, "true")},
    {KEY("churn.model", KEY_ENUM, churn.model, "none"), .choices = churn_names},
    DIST_KEYS("churn.session", churn.session),
    DIST_KEYS("churn.downtime", churn.downtime),
    {KEY("churn.trace", KEY_STRING, churn.trace, "")},
    {KEY("churn.graceful", KEY_DOUBLE, churn.graceful, "0.5"), .fmax = 1, .flags = KEY_FMAX},
    {KEY("churn.start", KEY_DURATION, churn.start, "0s")},
    {KEY("churn.events", KEY_EVENTS, churn.events, NULL)},
    {KEY("workload.start", KEY_DURATION, workload.start, "10s")},
    {KEY("workload.lookups", KEY_U64, workload.lookups, "1000")},
    {KEY("workload.lookup_rate", KEY_RATE, workload.lookup_rate, "100/s")},
    {KEY("workload.arrivals", KEY_ENUM, workload.arrivals, "system"), .choices = arrivals_names},
    {KEY("workload.popularity", KEY_ENUM, workload.popularity, "uniform"),
     .choices = popularity_names},
    {KEY("workload.zipf_alpha", KEY_DOUBLE, workload.zipf_alpha, "1"), .flags = KEY_FMIN_OPEN},
    {KEY("workload.refresh", KEY_DURATION, workload.refresh, "0s")},
    {KEY("workload.keys", KEY_U64, workload.keys, "0")},
    {KEY("workload.keys_per_peer", KEY_U64, workload.keys_per_peer, "0")},
    {KEY("workload.records", KEY_U64, workload.records, "0")},
    {KEY("workload.record_lifetime", KEY_U32, workload.record_lifetime, "3600"), .min = 1},
    {KEY("workload.value_size", KEY_U32, workload.value_size, "64")},
    {KEY("workload.fetches", KEY_U64, workload.fetches, "0")},
    {KEY("workload.fetch_rate", KEY_RATE, workload.fetch_rate, "100/s"), .flags = KEY_FMIN_OPEN},
    {KEY("workload.fetch_start", KEY_DURATION, workload.fetch_start, NULL), .flags = KEY_DERIVED},
    {KEY("sip.users_per_peer", KEY_U32, sip.users_per_peer, "1"), .min = 1, .max = 1000},
    {KEY("sip.call_rate", KEY_RATE, sip.call_rate, "2/h")},
    {KEY("sip.answer_delay", KEY_DURATION, sip.answer_delay, "2s")},
    {KEY("sip.call_duration", KEY_DURATION, sip.call_duration, "1m")},
    {KEY("sip.register_expires", KEY_DURATION, sip.register_expires, "1h"), .min = 60 * ENV_S,
     .max = 86400 * ENV_S},
    {KEY("metrics.interval", KEY_DURATION, metrics.interval, "10s"), .min = 1},
    {KEY("metrics.snapshots", KEY_TIMES, metrics.snapshots, NULL)},
    {KEY("output.pcap", KEY_STRING, output.pcap, "")},
    {KEY("output.plots", KEY_BOOL, output.plots, "true")},
    {KEY("services.list", KEY_SERVICES, services.list, NULL)},
    {KEY("services.lookup_rate", KEY_RATE, services.lookup_rate, "0.2/min")},
    {KEY("services.arrivals", KEY_ENUM, services.arrivals, "per_peer"), .choices = arrivals_names},
    {KEY("services.policy", KEY_STRING, services.policy, "random"),
     .choices = service_policy_names},
    {KEY("services.lifetime", KEY_DURATION, services.lifetime, "300s"), .min = ENV_S,
     .max = UINT32_MAX * ENV_S},
    {KEY("services.hold", KEY_DURATION, services.hold, "60s")},
    {KEY("hostile.fraction", KEY_DOUBLE, hostile.fraction, "0"), .fmax = 1,
     .flags = KEY_FMAX | KEY_FMAX_OPEN},
    {KEY("hostile.drop", KEY_BOOL, hostile.drop, "false")},
    {KEY("hostile.misroute", KEY_BOOL, hostile.misroute, "false")},
    {KEY("hostile.forge", KEY_BOOL, hostile.forge, "false")},
    {KEY("hostile.refuse_store", KEY_ENUM, hostile.refuse_store, "none"), .choices = refuse_names},
    {KEY("security.signatures", KEY_ENUM, security.signatures, "none"),
     .choices = signatures_names},
    {KEY("security.redundant_paths", KEY_U32, security.redundant_paths, "1"), .min = 1, .max = 16},
    {KEY("security.sign_cost", KEY_DURATION, security.sign_cost, "30us")},
    {KEY("security.verify_cost", KEY_DURATION, security.verify_cost, "90us")},
    /* Clients (RFC 6940 §4.2; docs/clients.md): a share of all hosts. */
    {KEY("clients.fraction", KEY_DOUBLE, clients.fraction, "0"), .fmax = 0.95,
     .flags = KEY_FMAX},
    {KEY("clients.peers", KEY_U32, clients.peers, "2"), .min = 1, .max = 8},
    {KEY("clients.keepalive", KEY_DURATION, clients.keepalive, "0s")},
    {KEY("clients.attach", KEY_ENUM, clients.attach, "random"), .choices = client_attach_names},
    {KEY("expect", KEY_EXPECT, expect, NULL)},
    {KEY("sweep", KEY_SWEEP, sweep, NULL)},
};
#define N_KEYS G_N_ELEMENTS(scenario_keys)

/* Keys a sweep may not vary: one experiment has one name, and seeds: N already gives every
 * point the seeds seed, seed+1, ..., seed+N-1 (runs.tsv has a seed column, not a swept one). */
static const char *const unsweepable[] = {"name", "seed", "seeds", NULL};

#define MAX_SWEEP_POINTS 1000000

static bool key_is_structure(const struct scenario_key *k)
{
    return k->type >= KEY_EVENTS;
}

static const struct scenario_key *key_find(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(scenario_keys[i].name, name) == 0)
            return &scenario_keys[i];
    return NULL;
}

/* True when some key lies below `path` (path is a section such as "overlay"). */
static bool key_is_section(const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < N_KEYS; i++)
        if (strncmp(scenario_keys[i].name, path, len) == 0 && scenario_keys[i].name[len] == '.')
            return true;
    return false;
}

/* "a, b, c": the distinct names directly below section `prefix` (NULL = top level). */
static char *key_children(const char *prefix)
{
    size_t len = prefix ? strlen(prefix) + 1 : 0;
    GString *out = g_string_new(NULL);
    GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *name = scenario_keys[i].name;
        if (prefix && (strncmp(name, prefix, len - 1) != 0 || name[len - 1] != '.'))
            continue;
        const char *rest = name + len;
        char *child = g_strndup(rest, strcspn(rest, "."));
        bool dup = false;
        for (guint j = 0; j < seen->len && !dup; j++)
            dup = strcmp(seen->pdata[j], child) == 0;
        if (dup) {
            g_free(child);
            continue;
        }
        g_string_append_printf(out, "%s%s", seen->len ? ", " : "", child);
        g_ptr_array_add(seen, child);
    }
    g_ptr_array_free(seen, TRUE);
    return g_string_free(out, FALSE);
}

static char *choices_text(const char *const *choices)
{
    return g_strjoinv(", ", (char **)choices);
}

/* ---- the tree ------------------------------------------------------------------------------ */

/* Where a node came from: a file position (1-based) or an override string. */
struct spos {
    unsigned line, col;
    const char *origin; /* the override "KEY=VALUE" (borrowed), or NULL */
    bool document;      /* origin is "FILE:LINE:COL" in overlay.config's document instead */
};

enum snode_kind { SN_SCALAR, SN_SEQUENCE, SN_MAPPING };

struct snode {
    enum snode_kind kind;
    struct spos pos;
    char *text;       /* SN_SCALAR */
    bool null;        /* SN_SCALAR: an empty plain scalar, ~ or null */
    bool replaced;    /* SN_SCALAR: put in place of the file's value by an element key (--set
                         or a sweep value), so pos is the override's, not the file's */
    GPtrArray *items; /* SN_SEQUENCE: struct snode * */
    GPtrArray *pairs; /* SN_MAPPING: struct spair *, in document order */
};

struct spair {
    char *key;
    struct spos pos; /* of the key */
    struct snode *value;
};

static void snode_free(struct snode *n);

static void spair_free(void *p)
{
    struct spair *pair = p;
    g_free(pair->key);
    snode_free(pair->value);
    g_free(pair);
}

static void snode_free_cb(void *p)
{
    snode_free(p);
}

static struct snode *snode_new(enum snode_kind kind, struct spos pos)
{
    struct snode *n = g_new0(struct snode, 1);
    n->kind = kind;
    n->pos = pos;
    if (kind == SN_MAPPING)
        n->pairs = g_ptr_array_new_with_free_func(spair_free);
    if (kind == SN_SEQUENCE)
        n->items = g_ptr_array_new_with_free_func(snode_free_cb);
    return n;
}

static void snode_free(struct snode *n)
{
    if (!n)
        return;
    g_free(n->text);
    if (n->items)
        g_ptr_array_free(n->items, TRUE);
    if (n->pairs)
        g_ptr_array_free(n->pairs, TRUE);
    g_free(n);
}

static struct spair *snode_pair(const struct snode *map, const char *key)
{
    for (guint i = 0; i < map->pairs->len; i++) {
        struct spair *p = map->pairs->pdata[i];
        if (strcmp(p->key, key) == 0)
            return p;
    }
    return NULL;
}

/* A deep copy (NULL for NULL). */
static struct snode *snode_copy(const struct snode *n)
{
    if (!n)
        return NULL;
    struct snode *c = snode_new(n->kind, n->pos);
    c->text = g_strdup(n->text);
    c->null = n->null;
    c->replaced = n->replaced;
    for (guint i = 0; n->items && i < n->items->len; i++)
        g_ptr_array_add(c->items, snode_copy(n->items->pdata[i]));
    for (guint i = 0; n->pairs && i < n->pairs->len; i++) {
        const struct spair *p = n->pairs->pdata[i];
        struct spair *q = g_new(struct spair, 1);
        *q = (struct spair){.key = g_strdup(p->key), .pos = p->pos, .value = snode_copy(p->value)};
        g_ptr_array_add(c->pairs, q);
    }
    return c;
}

/* The node for a dotted key, or NULL; *enclosing is the deepest mapping on the way. */
static const struct snode *tree_lookup(const struct snode *root, const char *name,
                                       const struct snode **enclosing)
{
    char **parts = g_strsplit(name, ".", -1);
    const struct snode *n = root;
    *enclosing = root;
    for (char **p = parts; *p && n; p++) {
        if (n->kind != SN_MAPPING) { /* a null section */
            n = NULL;
            break;
        }
        *enclosing = n;
        struct spair *pair = snode_pair(n, *p);
        n = pair ? pair->value : NULL;
    }
    g_strfreev(parts);
    return n;
}

static const char *snode_kind_name(const struct snode *n)
{
    return n->kind == SN_MAPPING ? "a mapping" : n->kind == SN_SEQUENCE ? "a sequence" : "a value";
}

/* ---- errors -------------------------------------------------------------------------------- */

struct loader {
    const char *file;
    GError **err;
    struct snode *root;
    const struct snode *found[N_KEYS]; /* the node each key was read from, or NULL */
    size_t nodes;                      /* tree size, bounded against alias bombs */
};

/* Sets the error (the first one wins) and returns false.  The message is
 * "FILE:LINE:COL: key 'K': ..." or "--set K=V: key 'K': ...". */
G_GNUC_PRINTF(5, 6)
static bool fail(struct loader *ld, const struct spos *pos, int code, const char *key,
                 const char *fmt, ...)
{
    if (ld->err && *ld->err)
        return false;
    GString *msg = g_string_new(NULL);
    if (pos->origin)
        g_string_append_printf(msg, pos->document ? "%s: " : "--set %s: ", pos->origin);
    else
        g_string_append_printf(msg, "%s:%u:%u: ", ld->file, pos->line, pos->col);
    if (key)
        g_string_append_printf(msg, "key '%s': ", key);
    va_list ap;
    va_start(ap, fmt);
    g_string_append_vprintf(msg, fmt, ap);
    va_end(ap);
    g_set_error_literal(ld->err, SCENARIO_ERROR, code, msg->str);
    g_string_free(msg, TRUE);
    return false;
}

/* ---- step 1: YAML document -> tree --------------------------------------------------------- */

#define MAX_DEPTH 32
#define MAX_NODES 100000

static struct spos mark_pos(yaml_mark_t m)
{
    return (struct spos){.line = (unsigned)m.line + 1, .col = (unsigned)m.column + 1};
}

static char *path_join(const char *prefix, const char *key)
{
    return prefix ? g_strdup_printf("%s.%s", prefix, key) : g_strdup(key);
}

static struct snode *tree_from_yaml(struct loader *ld, yaml_document_t *doc, yaml_node_t *y,
                                    const char *path, int depth)
{
    struct spos pos = mark_pos(y->start_mark);
    if (depth > MAX_DEPTH || ++ld->nodes > MAX_NODES) {
        fail(ld, &pos, SCENARIO_ERROR_SYNTAX, path, "document nested too deeply or too large");
        return NULL;
    }
    if (y->type == YAML_SCALAR_NODE) {
        const char *v = (const char *)y->data.scalar.value;
        size_t len = y->data.scalar.length;
        if (memchr(v, '\0', len)) {
            fail(ld, &pos, SCENARIO_ERROR_VALUE, path, "value contains a NUL character");
            return NULL;
        }
        struct snode *n = snode_new(SN_SCALAR, pos);
        n->text = g_strndup(v, len);
        n->null = y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                  (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
                   strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
        return n;
    }
    if (y->type == YAML_SEQUENCE_NODE) {
        struct snode *n = snode_new(SN_SEQUENCE, pos);
        for (yaml_node_item_t *it = y->data.sequence.items.start; it < y->data.sequence.items.top;
             it++) {
            struct snode *item =
                tree_from_yaml(ld, doc, yaml_document_get_node(doc, *it), path, depth + 1);
            if (!item) {
                snode_free(n);
                return NULL;
            }
            g_ptr_array_add(n->items, item);
        }
        return n;
    }
    struct snode *n = snode_new(SN_MAPPING, pos);
    for (yaml_node_pair_t *p = y->data.mapping.pairs.start; p < y->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        struct spos kpos = mark_pos(k->start_mark);
        if (k->type != YAML_SCALAR_NODE) {
            fail(ld, &kpos, SCENARIO_ERROR_SYNTAX, path, "keys must be plain names, not %s",
                 k->type == YAML_MAPPING_NODE ? "mappings" : "sequences");
            snode_free(n);
            return NULL;
        }
        char *key = g_strndup((const char *)k->data.scalar.value, k->data.scalar.length);
        char *sub = path_join(path, key);
        struct spair *dup = snode_pair(n, key);
        struct snode *value = NULL;
        if (dup)
            fail(ld, &kpos, SCENARIO_ERROR_KEY, sub, "duplicate key (first given at %u:%u)",
                 dup->pos.line, dup->pos.col);
        else
            value = tree_from_yaml(ld, doc, yaml_document_get_node(doc, p->value), sub, depth + 1);
        g_free(sub);
        if (!value) {
            g_free(key);
            snode_free(n);
            return NULL;
        }
        struct spair *pair = g_new(struct spair, 1);
        *pair = (struct spair){.key = key, .pos = kpos, .value = value};
        g_ptr_array_add(n->pairs, pair);
    }
    return n;
}

/* libyaml's reader errors carry a byte offset only. */
static struct spos offset_pos(const char *buf, size_t len, size_t offset)
{
    struct spos pos = {.line = 1, .col = 1};
    for (size_t i = 0; i < offset && i < len; i++) {
        if (buf[i] == '\n') {
            pos.line++;
            pos.col = 1;
        } else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
            pos.col++;
        }
    }
    return pos;
}

static bool syntax_error(struct loader *ld, yaml_parser_t *p, const char *buf, size_t len)
{
    struct spos pos = p->error == YAML_READER_ERROR ? offset_pos(buf, len, p->problem_offset)
                                                    : mark_pos(p->problem_mark);
    const char *problem = p->problem ? p->problem : "cannot parse";
    if (p->context)
        return fail(ld, &pos, SCENARIO_ERROR_SYNTAX, NULL,
                    "YAML syntax error: %s (%s that started at %u:%u)", problem, p->context,
                    (unsigned)p->context_mark.line + 1, (unsigned)p->context_mark.column + 1);
    return fail(ld, &pos, SCENARIO_ERROR_SYNTAX, NULL, "YAML syntax error: %s", problem);
}

static char *read_all(const char *path, size_t *len, int *errnum)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *errnum = errno;
        return NULL;
    }
    GString *buf = g_string_new(NULL);
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        g_string_append_len(buf, chunk, (gssize)got);
    *errnum = ferror(f) ? errno : 0;
    fclose(f);
    if (*errnum) {
        g_string_free(buf, TRUE);
        return NULL;
    }
    *len = buf->len;
    return g_string_free(buf, FALSE);
}

/* Parses the file into ld->root (a mapping; an empty file gives an empty mapping). */
static bool load_tree(struct loader *ld)
{
    static const struct spos top = {.line = 1, .col = 1};
    size_t len = 0;
    int errnum = 0;
    char *buf = read_all(ld->file, &len, &errnum);
    if (!buf)
        return fail(ld, &top, SCENARIO_ERROR_IO, NULL, "cannot read scenario: %s",
                    g_strerror(errnum));
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    yaml_document_t doc;
    bool ok = yaml_parser_load(&parser, &doc);
    if (!ok) {
        syntax_error(ld, &parser, buf, len);
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) {
            ld->root = snode_new(SN_MAPPING, top);
        } else if (root->type != YAML_MAPPING_NODE) {
            struct spos pos = mark_pos(root->start_mark);
            ok = fail(ld, &pos, SCENARIO_ERROR_SYNTAX, NULL,
                      "a scenario is a mapping of keys (name, duration, peers, ...), not %s",
                      root->type == YAML_SEQUENCE_NODE ? "a sequence" : "a single value");
        } else {
            ld->root = tree_from_yaml(ld, &doc, root, NULL, 0);
            ok = ld->root != NULL;
        }
        yaml_document_delete(&doc);
    }
    if (ok) { /* exactly one document */
        ok = yaml_parser_load(&parser, &doc);
        if (!ok) {
            syntax_error(ld, &parser, buf, len);
        } else {
            yaml_node_t *extra = yaml_document_get_root_node(&doc);
            if (extra) {
                struct spos pos = mark_pos(doc.start_mark);
                ok = fail(ld, &pos, SCENARIO_ERROR_SYNTAX, NULL,
                          "a scenario file holds one YAML document; found a second one");
            }
            yaml_document_delete(&doc);
        }
    }
    yaml_parser_delete(&parser);
    g_free(buf);
    return ok;
}

/* ---- step 2: overrides --------------------------------------------------------------------- */

static const struct scenario_key *element_owner(const char *key);
static bool mix_key(const char *key, int *type);
static bool mix_override(struct loader *ld, const char *key, const char *value,
                         const struct spos *pos);
static bool element_override(struct loader *ld, const char *key, const char *value,
                             const struct spos *pos);

/* Sets the dotted key parts[0].parts[1]... (a NULL-terminated list) of the tree to the scalar
 * text, at pos: mappings are made on the way, and whatever stands where a mapping or the value
 * must go (a scalar, a null section, an earlier value) is replaced. */
static void tree_set(struct snode *root, char *const *parts, const char *text, struct spos pos)
{
    struct snode *map = root;
    for (char *const *p = parts; *p; p++) {
        struct spair *pair = snode_pair(map, *p);
        if (p[1] && pair && pair->value->kind == SN_MAPPING) {
            map = pair->value;
            continue;
        }
        struct snode *value = snode_new(p[1] ? SN_MAPPING : SN_SCALAR, pos);
        if (!p[1])
            value->text = g_strdup(text);
        if (pair) {
            snode_free(pair->value);
            pair->value = value;
        } else {
            pair = g_new(struct spair, 1);
            *pair = (struct spair){.key = g_strdup(*p), .pos = pos, .value = value};
            g_ptr_array_add(map->pairs, pair);
        }
        map = value;
    }
}

static bool apply_override(struct loader *ld, const char *ov)
{
    struct spos pos = {.origin = ov};
    const char *eq = strchr(ov, '=');
    if (!eq || eq == ov)
        return fail(ld, &pos, SCENARIO_ERROR_KEY, NULL, "expected KEY=VALUE");
    char *path = g_strstrip(g_strndup(ov, (gsize)(eq - ov)));
    char **parts = g_strsplit(path, ".", -1);
    bool ok = *path || fail(ld, &pos, SCENARIO_ERROR_KEY, NULL, "expected KEY=VALUE");
    for (char **p = parts; *p && ok; p++)
        if (**p == '\0')
            ok = fail(ld, &pos, SCENARIO_ERROR_KEY, path, "empty component in dotted key");
    int mix_type;
    bool element = ok && (element_owner(path) || mix_key(path, &mix_type));
    if (element && mix_key(path, &mix_type)) /* nat.mix.TYPE: one type's share */
        ok = mix_override(ld, path, eq + 1, &pos);
    else if (element) /* churn.events.N.FIELD, metrics.snapshots.N: one value inside a sequence */
        ok = element_override(ld, path, eq + 1, &pos);
    if (ok && !element && parts[0] && parts[1] && strcmp(parts[0], "sweep") == 0) {
        /* A sweep entry's key is dotted itself: sweep.overlay.successors is one entry. */
        char *entry = g_strjoinv(".", parts + 1);
        for (char **p = parts + 1; *p; p++)
            g_free(*p);
        parts[1] = entry;
        parts[2] = NULL;
    }
    if (ok && !element)
        tree_set(ld->root, parts, eq + 1, pos); /* replaces what the file said */
    g_strfreev(parts);
    g_free(path);
    return ok;
}

/* overlay.config (config/config.h, docs/config.md): the document's values become the defaults
 * of the keys that name them.  Each is grafted into the tree where the scenario (file, --set,
 * sweep point) gives no value, remembering its place in the document for messages.
 * overlay.name, when the scenario gives it, picks the document's configuration of that
 * instance-name.  The parsed document stays in s->overlay.doc for the world. */
static bool apply_overlay_config(struct loader *ld, struct scenario *s)
{
    const struct snode *enclosing;
    const struct snode *n = tree_lookup(ld->root, "overlay.config", &enclosing);
    if (!n || n->kind != SN_SCALAR || n->null || !*n->text)
        return true;
    const struct snode *name = tree_lookup(ld->root, "overlay.name", &enclosing);
    char *path = scenario_data_path(s, n->text);
    GError *e = NULL;
    s->overlay.doc = config_load(
        path, name && name->kind == SN_SCALAR && !name->null ? name->text : NULL, &e);
    g_free(path);
    if (!s->overlay.doc) {
        fail(ld, &n->pos, SCENARIO_ERROR_VALUE, "overlay.config", "%s", e->message);
        g_error_free(e);
        return false;
    }
    size_t count;
    const struct config_setting *set = config_settings(s->overlay.doc, &count);
    for (size_t i = 0; i < count; i++) {
        if (tree_lookup(ld->root, set[i].key, &enclosing))
            continue; /* the scenario's own value wins */
        struct spos pos = {.origin = set[i].where, .document = true};
        char **parts = g_strsplit(set[i].key, ".", -1);
        tree_set(ld->root, parts, set[i].value, pos); /* fills a null section too */
        g_strfreev(parts);
    }
    return true;
}

/* ---- value parsing ------------------------------------------------------------------------- */

enum parse_result { PARSE_OK, PARSE_BAD, PARSE_NEGATIVE, PARSE_TOO_LARGE };

/* Decimal digits with an optional leading '-'. */
static enum parse_result parse_uint(const char *t, uint64_t *out)
{
    bool neg = *t == '-';
    const char *p = t + neg;
    if (!isdigit((unsigned char)*p))
        return PARSE_BAD;
    uint64_t v = 0;
    bool overflow = false;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        overflow |= v > (UINT64_MAX - d) / 10;
        v = v * 10 + d;
    }
    if (*p)
        return PARSE_BAD;
    if (neg && v)
        return PARSE_NEGATIVE;
    *out = v;
    return overflow ? PARSE_TOO_LARGE : PARSE_OK;
}

static const struct {
    const char *name;
    env_time us;
} duration_units[] = {
    {"h", 3600 * ENV_S}, {"m", 60 * ENV_S}, {"s", ENV_S}, {"ms", ENV_MS}, {"us", 1},
};

/* NUMBER[UNIT]: digits, optional fraction, unit us|ms|s|m|h (none = seconds); rounded to the
 * nearest microsecond. */
static enum parse_result parse_duration(const char *t, env_time *out)
{
    bool neg = *t == '-';
    const char *p = t + neg;
    const char *int_start = p;
    while (isdigit((unsigned char)*p))
        p++;
    const char *int_end = p, *frac_start = p;
    if (*p == '.') {
        frac_start = ++p;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (int_end == int_start && p == frac_start) /* no digit at all */
        return PARSE_BAD;
    env_time unit = 0;
    if (*p == '\0') {
        unit = ENV_S;
    } else {
        for (size_t i = 0; i < G_N_ELEMENTS(duration_units); i++)
            if (strcmp(p, duration_units[i].name) == 0)
                unit = duration_units[i].us;
    }
    if (!unit)
        return PARSE_BAD;
    uint64_t whole = 0;
    bool overflow = false;
    for (const char *d = int_start; d < int_end; d++) {
        overflow |= whole > (UINT64_MAX - 9) / 10;
        whole = whole * 10 + (uint64_t)(*d - '0');
    }
    double frac = 0;
    if (p > frac_start) {
        char *digits = g_strndup(frac_start - 1, (gsize)(p - frac_start + 1)); /* ".ddd" */
        frac = g_ascii_strtod(digits, NULL);
        g_free(digits);
    }
    overflow |= whole > UINT64_MAX / unit;
    env_time us = whole * unit;
    env_time part = (env_time)llround(frac * (double)unit);
    overflow |= us > UINT64_MAX - part;
    if (overflow)
        return PARSE_TOO_LARGE;
    us += part;
    if (neg && us)
        return PARSE_NEGATIVE;
    *out = us;
    return PARSE_OK;
}

/* The largest unit that represents us exactly: 200000 -> "200ms", 5400 s -> "90m". */
static void format_duration(env_time us, char *buf, size_t size)
{
    if (us == 0) {
        g_strlcpy(buf, "0s", size);
        return;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(duration_units); i++)
        if (us % duration_units[i].us == 0) {
            g_snprintf(buf, size, "%" G_GUINT64_FORMAT "%s", us / duration_units[i].us,
                       duration_units[i].name);
            return;
        }
}

/* The shortest text that reads back as exactly v. */
static void format_double(double v, char *buf, size_t size)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        g_snprintf(buf, size, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        char fmt[8];
        g_snprintf(fmt, sizeof fmt, "%%.%dg", prec);
        g_ascii_formatd(buf, (gint)size, fmt, v);
        if (g_ascii_strtod(buf, NULL) == v)
            return;
    }
}

/* A number followed directly by a unit: [-]DIGITS[.DIGITS][e[+-]DIGITS] (or .DIGITS...).
 * Returns false when there is no number; otherwise *v is its magnitude (possibly infinite),
 * *neg whether it had a '-', and *unit points at the rest of t. */
static bool parse_number_unit(const char *t, double *v, bool *neg, const char **unit)
{
    *neg = *t == '-';
    const char *start = t + *neg, *p = start;
    bool digits = false;
    for (; isdigit((unsigned char)*p); p++)
        digits = true;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            digits = true;
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        if (*q == '+' || *q == '-')
            q++;
        if (isdigit((unsigned char)*q)) {
            while (isdigit((unsigned char)*q))
                q++;
            p = q;
        }
    }
    char *num = g_strndup(start, (gsize)(p - start));
    *v = g_ascii_strtod(num, NULL);
    g_free(num);
    *unit = p;
    return true;
}

/* Units of rates: the time they count per, in seconds ("" = per second). */
static const struct unit {
    const char *name;
    double factor;
} rate_units[] = {
    {"", 1}, {"/s", 1}, {"/m", 60}, {"/min", 60}, {"/h", 3600},
};

/* Bandwidths, in bits per second: network speeds use decimal prefixes. */
static const struct unit bandwidth_units[] = {
    {"", 1},         {"bit", 1},      {"kbit", 1e3},   {"Mbit", 1e6}, {"Gbit", 1e9}, {"bit/s", 1},
    {"kbit/s", 1e3}, {"Mbit/s", 1e6}, {"Gbit/s", 1e9}, {"bps", 1},    {"kbps", 1e3}, {"Mbps", 1e6},
    {"Gbps", 1e9},   {"B", 8},        {"kB", 8e3},     {"MB", 8e6},   {"GB", 8e9},   {"B/s", 8},
    {"kB/s", 8e3},   {"MB/s", 8e6},   {"GB/s", 8e9},
};

/* Sizes, in bytes: buffer sizes use binary prefixes (64KB = 65536 bytes). */
static const struct unit size_units[] = {
    {"", 1},
    {"B", 1},
    {"KB", 1024.0},
    {"kB", 1024.0},
    {"KiB", 1024.0},
    {"MB", 1048576.0},
    {"MiB", 1048576.0},
    {"GB", 1073741824.0},
    {"GiB", 1073741824.0},
};

static const struct unit *unit_find(const struct unit *units, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(units[i].name, name) == 0)
            return &units[i];
    return NULL;
}

/* A rate: NUMBER[/s|/m|/min|/h], held per second. */
static enum parse_result parse_rate(const char *t, double *out)
{
    double v;
    bool neg;
    const char *name;
    if (!parse_number_unit(t, &v, &neg, &name))
        return PARSE_BAD;
    const struct unit *u = unit_find(rate_units, G_N_ELEMENTS(rate_units), name);
    if (!u)
        return PARSE_BAD;
    if (!isfinite(v))
        return PARSE_TOO_LARGE;
    if (neg && v != 0)
        return PARSE_NEGATIVE;
    *out = v / u->factor;
    return PARSE_OK;
}

/* "30/min" rather than "0.5/s" when a per-minute or per-hour count is a whole number. */
static void format_rate(double per_s, char *buf, size_t size)
{
    static const struct unit out_units[] = {{"/s", 1}, {"/min", 60}, {"/h", 3600}};
    for (size_t i = 0; i < G_N_ELEMENTS(out_units); i++) {
        double x = per_s * out_units[i].factor;
        if (x == floor(x) && fabs(x) < 1e15 && x / out_units[i].factor == per_s) {
            g_snprintf(buf, size, "%.0f%s", x, out_units[i].name);
            return;
        }
    }
    char num[40];
    format_double(per_s, num, sizeof num);
    g_snprintf(buf, size, "%s/s", num);
}

/* NUMBER[UNIT] scaled by the unit's factor and rounded to the nearest integer. */
static enum parse_result parse_scaled(const char *t, const struct unit *units, size_t n,
                                      uint64_t *out)
{
    double v;
    bool neg;
    const char *name;
    if (!parse_number_unit(t, &v, &neg, &name))
        return PARSE_BAD;
    const struct unit *u = unit_find(units, n, name);
    if (!u)
        return PARSE_BAD;
    double x = floor(v * u->factor + 0.5);
    if (!(x < 0x1p64))
        return PARSE_TOO_LARGE;
    if (neg && x != 0)
        return PARSE_NEGATIVE;
    *out = (uint64_t)x;
    return PARSE_OK;
}

/* v in the largest of units[] (integer factors, largest first) that divides it, else bare. */
static void format_scaled(uint64_t v, const struct unit *units, size_t n, char *buf, size_t size)
{
    for (size_t i = 0; v && i < n; i++) {
        uint64_t f = (uint64_t)units[i].factor;
        if (v % f == 0) {
            g_snprintf(buf, size, "%" G_GUINT64_FORMAT "%s", v / f, units[i].name);
            return;
        }
    }
    g_snprintf(buf, size, "%" G_GUINT64_FORMAT, v);
}

static const struct unit bandwidth_out[] = {
    {"Gbit", 1e9}, {"Mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}};
static const struct unit size_out[] = {{"GB", 1073741824.0}, {"MB", 1048576.0}, {"KB", 1024.0}};

static void format_bandwidth(uint64_t bps, char *buf, size_t size)
{
    format_scaled(bps, bandwidth_out, G_N_ELEMENTS(bandwidth_out), buf, size);
}

static void format_size(uint64_t bytes, char *buf, size_t size)
{
    format_scaled(bytes, size_out, G_N_ELEMENTS(size_out), buf, size);
}

static const char *const structure_expectation[] = {
    [KEY_EVENTS - KEY_EVENTS] = "a sequence of events such as [{at: 60s, action: fail, "
                                "fraction: 0.5}]",
    [KEY_TIMES - KEY_EVENTS] = "a sequence of durations such as [10m, 20m]",
    [KEY_EXPECT - KEY_EVENTS] = "a mapping of metric: \"OP NUMBER\" such as "
                                "{lookup_success: \">= 0.99\"}",
    [KEY_SWEEP - KEY_EVENTS] = "a mapping of dotted key: [values] such as "
                               "{overlay.successors: [4, 8]}",
    [KEY_NAT_MIX - KEY_EVENTS] = "a sequence of NAT types such as [{type: public, share: 0.5}, "
                                 "{type: symmetric, share: 0.5}]",
    [KEY_SERVICES - KEY_EVENTS] = "a sequence of services such as [{name: turn-relay, share: "
                                  "0.05, capacity: 10}]",
};

/* A sentence describing what the key accepts, for error messages. */
static char *key_expectation(const struct scenario_key *k)
{
    char lo[32], hi[32];
    switch (k->type) {
    case KEY_STRING:
        if (k->choices) {
            char *c = choices_text(k->choices);
            char *s = g_strdup_printf("one of: %s", c);
            g_free(c);
            return s;
        }
        return g_strdup(k->min ? "a non-empty string" : "a string");
    case KEY_ENUM: {
        char *c = choices_text(k->choices);
        char *s = g_strdup_printf("one of: %s", c);
        g_free(c);
        return s;
    }
    case KEY_BOOL:
        return g_strdup("true or false");
    case KEY_U32:
    case KEY_U64:
        return g_strdup_printf("an integer >= %" G_GUINT64_FORMAT, k->min);
    case KEY_DOUBLE:
    case KEY_RATE: {
        format_double(k->fmin, lo, sizeof lo);
        format_double(k->fmax, hi, sizeof hi);
        char *range = g_strdup_printf("%s %s%s%s%s", k->flags & KEY_FMIN_OPEN ? ">" : ">=", lo,
                                      k->flags & KEY_FMAX ? " and " : "",
                                      !(k->flags & KEY_FMAX)     ? ""
                                      : k->flags & KEY_FMAX_OPEN ? "< "
                                                                 : "<= ",
                                      k->flags & KEY_FMAX ? hi : "");
        char *s = k->type == KEY_DOUBLE
                      ? g_strdup_printf("a number %s", range)
                      : g_strdup_printf("a rate %s (a number per unit: 0.5/s, 30/min, 2/h; a "
                                        "bare number is per second)",
                                        range);
        g_free(range);
        return s;
    }
    case KEY_DURATION:
        if (k->flags & KEY_PLAIN)
            return g_strdup("a number > 0 (no unit)");
        return g_strdup("a duration (a number with unit us, ms, s, m or h, e.g. 200ms; a bare "
                        "number means seconds)");
    case KEY_BANDWIDTH:
        return g_strdup("a bandwidth (a number with unit bit, kbit, Mbit, Gbit or B, kB, MB, GB "
                        "per second, e.g. 1Mbit; a bare number means bit/s; 0 = unlimited)");
    case KEY_SIZE:
        return g_strdup("a size (a number of bytes, or with unit B, KB, MB or GB, e.g. 64KB)");
    case KEY_EVENTS:
    case KEY_TIMES:
    case KEY_EXPECT:
    case KEY_SWEEP:
    case KEY_NAT_MIX:
    case KEY_SERVICES:
        return g_strdup(structure_expectation[k->type - KEY_EVENTS]);
    }
    g_assert_not_reached();
}

static void store(void *base, const struct scenario_key *k, const void *v, size_t size)
{
    memcpy((char *)base + k->offset, v, size);
}

#define DNS_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."

static int choice_index(const char *const *choices, const char *t)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], t) == 0)
            return i;
    return -1;
}

/* Checks a number against the key's bounds (KEY_DOUBLE, KEY_RATE). */
static bool check_fbounds(struct loader *ld, const struct scenario_key *k, const char *name,
                          double v, const char *t, const struct spos *pos)
{
    char bound[32];
    bool open = k->flags & KEY_FMIN_OPEN;
    if (v < k->fmin || (open && v == k->fmin)) {
        format_double(k->fmin, bound, sizeof bound);
        return fail(ld, pos, SCENARIO_ERROR_VALUE, name, "must be %s %s, got %s",
                    open ? ">" : ">=", bound, t);
    }
    bool max_open = k->flags & KEY_FMAX_OPEN;
    if ((k->flags & KEY_FMAX) && (v > k->fmax || (max_open && v == k->fmax))) {
        format_double(k->fmax, bound, sizeof bound);
        return fail(ld, pos, SCENARIO_ERROR_VALUE, name, "must be %s %s, got %s",
                    max_open ? "<" : "<=", bound, t);
    }
    return true;
}

/* Parses text t for key k into the struct at base (a struct scenario, or a struct
 * scenario_event for event fields); name is the key as messages show it.  pos and errors: as
 * fail(). */
static bool parse_value(struct loader *ld, void *base, const struct scenario_key *k,
                        const char *name, const char *t, const struct spos *pos)
{
    const int V = SCENARIO_ERROR_VALUE;
    char *want = NULL;
    bool ok = true;
    switch (k->type) {
    case KEY_STRING:
    case KEY_ENUM: {
        int idx = k->choices ? choice_index(k->choices, t) : 0;
        if (idx < 0) {
            char *c = choices_text(k->choices);
            ok = fail(ld, pos, V, name, "unknown value '%s' (expected: %s)", t, c);
            g_free(c);
        } else if (strlen(t) < k->min) {
            ok = fail(ld, pos, V, name, "must not be empty");
        } else if ((k->flags & KEY_DNS_NAME) && strspn(t, DNS_CHARS) != strlen(t)) {
            ok = fail(ld, pos, V, name,
                      "must be a DNS name (letters, digits, '-' and '.'), got '%s'", t);
        } else if (k->type == KEY_ENUM) {
            store(base, k, &idx, sizeof idx);
        } else {
            char **field = (char **)((char *)base + k->offset);
            g_free(*field);
            *field = g_strdup(t);
        }
        break;
    }
    case KEY_BOOL: {
        bool b = strcmp(t, "true") == 0;
        if (!b && strcmp(t, "false") != 0)
            ok = fail(ld, pos, V, name, "expected true or false, got '%s'", t);
        else
            store(base, k, &b, sizeof b);
        break;
    }
    case KEY_U32:
    case KEY_U64: {
        uint64_t max = k->max ? k->max : k->type == KEY_U32 ? UINT32_MAX : UINT64_MAX;
        uint64_t v = 0;
        enum parse_result r = parse_uint(t, &v);
        if (r == PARSE_BAD) {
            want = key_expectation(k);
            ok = fail(ld, pos, V, name, "expected %s, got '%s'", want, t);
        } else if (r == PARSE_TOO_LARGE || (r == PARSE_OK && v > max)) {
            ok = fail(ld, pos, V, name, "must be <= %" G_GUINT64_FORMAT ", got %s", max, t);
        } else if (r == PARSE_NEGATIVE || v < k->min) {
            ok = fail(ld, pos, V, name, "must be >= %" G_GUINT64_FORMAT ", got %s", k->min, t);
        } else if (k->type == KEY_U32) {
            uint32_t v32 = (uint32_t)v;
            store(base, k, &v32, sizeof v32);
        } else {
            store(base, k, &v, sizeof v);
        }
        break;
    }
    case KEY_DOUBLE:
    case KEY_RATE: {
        double v = NAN;
        bool parsed;
        if (k->type == KEY_DOUBLE) {
            char *end = NULL;
            if (*t && !isspace((unsigned char)*t))
                v = g_ascii_strtod(t, &end);
            parsed = end && !*end && isfinite(v);
        } else {
            enum parse_result r = parse_rate(t, &v);
            parsed = r == PARSE_OK || r == PARSE_NEGATIVE;
            if (r == PARSE_NEGATIVE)
                v = -1;
        }
        if (!parsed) {
            want = key_expectation(k);
            ok = fail(ld, pos, V, name, "expected %s, got '%s'", want, t);
        } else if (check_fbounds(ld, k, name, v, t, pos)) {
            store(base, k, &v, sizeof v);
        } else {
            ok = false;
        }
        break;
    }
    case KEY_DURATION: {
        env_time v = 0;
        uint64_t max = k->max ? k->max : UINT64_MAX;
        char bound[32];
        if (k->flags & KEY_PLAIN) { /* a plain number, in millionths: > 0, finite, < 10^12 */
            char *end = NULL;
            double x = *t && !isspace((unsigned char)*t) ? g_ascii_strtod(t, &end) : NAN;
            if (!end || *end || !(x * 1e6 >= 0.5) || !(x < 1e12)) {
                want = key_expectation(k);
                ok = fail(ld, pos, V, name, "expected %s, got '%s'", want, t);
            } else {
                v = (env_time)llround(x * 1e6);
                store(base, k, &v, sizeof v);
            }
            break;
        }
        enum parse_result r = parse_duration(t, &v);
        if (r == PARSE_BAD) {
            want = key_expectation(k);
            ok = fail(ld, pos, V, name, "expected %s, got '%s'", want, t);
        } else if (r == PARSE_TOO_LARGE || (r == PARSE_OK && v > max)) {
            format_duration(max, bound, sizeof bound);
            ok = fail(ld, pos, V, name, "duration must be <= %s, got '%s'", bound, t);
        } else if (r == PARSE_NEGATIVE || v < k->min) {
            format_duration(k->min, bound, sizeof bound);
            ok = fail(ld, pos, V, name, "duration must be >= %s, got '%s'", bound, t);
        } else {
            store(base, k, &v, sizeof v);
        }
        break;
    }
    case KEY_BANDWIDTH:
    case KEY_SIZE: {
        bool size = k->type == KEY_SIZE;
        uint64_t max = k->max ? k->max : size ? UINT32_MAX : UINT64_MAX;
        uint64_t v = 0;
        char bound[32];
        enum parse_result r =
            size ? parse_scaled(t, size_units, G_N_ELEMENTS(size_units), &v)
                 : parse_scaled(t, bandwidth_units, G_N_ELEMENTS(bandwidth_units), &v);
        void (*format)(uint64_t, char *, size_t) = size ? format_size : format_bandwidth;
        if (r == PARSE_BAD) {
            want = key_expectation(k);
            ok = fail(ld, pos, V, name, "expected %s, got '%s'", want, t);
        } else if (r == PARSE_TOO_LARGE || (r == PARSE_OK && v > max)) {
            format(max, bound, sizeof bound);
            ok = fail(ld, pos, V, name, "must be <= %s, got '%s'", bound, t);
        } else if (r == PARSE_NEGATIVE || v < k->min) {
            format(k->min, bound, sizeof bound);
            ok = fail(ld, pos, V, name, "must be >= %s, got '%s'", bound, t);
        } else if (size) {
            uint32_t v32 = (uint32_t)v;
            store(base, k, &v32, sizeof v32);
        } else {
            store(base, k, &v, sizeof v);
        }
        break;
    }
    case KEY_EVENTS:
    case KEY_TIMES:
    case KEY_EXPECT:
    case KEY_SWEEP:
    case KEY_NAT_MIX:
    case KEY_SERVICES:
        g_assert_not_reached(); /* structures are not parsed from one scalar */
    }
    g_free(want);
    return ok;
}

/* ---- step 3: shape check ------------------------------------------------------------------- */

/* A structure key: a sequence or a mapping, or nothing (empty).  --set gives only scalars. */
static bool check_structure_shape(struct loader *ld, const struct scenario_key *k,
                                  const struct snode *v, const char *path)
{
    bool seq = k->type == KEY_EVENTS || k->type == KEY_TIMES || k->type == KEY_NAT_MIX ||
               k->type == KEY_SERVICES;
    if (v->kind == (seq ? SN_SEQUENCE : SN_MAPPING) || (v->kind == SN_SCALAR && v->null))
        return true;
    if (v->pos.origin && seq)
        return fail(ld, &v->pos, SCENARIO_ERROR_VALUE, path,
                    "--set cannot set sequences; write %s in the scenario file", path);
    if (v->pos.origin)
        return fail(ld, &v->pos, SCENARIO_ERROR_VALUE, path,
                    "--set cannot set a whole mapping; write %s in the scenario file%s", path,
                    k->type == KEY_EXPECT ? " or set one entry: --set expect.METRIC='OP NUMBER'"
                                          : "");
    return fail(ld, &v->pos, SCENARIO_ERROR_VALUE, path, "expected %s, got %s",
                structure_expectation[k->type - KEY_EVENTS], snode_kind_name(v));
}

static bool check_shape(struct loader *ld, const struct snode *map, const char *prefix)
{
    for (guint i = 0; i < map->pairs->len; i++) {
        const struct spair *p = map->pairs->pdata[i];
        char *path = path_join(prefix, p->key);
        const struct scenario_key *k = key_find(path);
        const struct snode *v = p->value;
        bool ok = true;
        if (k && key_is_structure(k)) {
            ok = check_structure_shape(ld, k, v, path);
        } else if (k) {
            if (v->kind != SN_SCALAR) {
                char *want = key_expectation(k);
                ok = fail(ld, &v->pos, SCENARIO_ERROR_VALUE, path, "expected %s, got %s", want,
                          snode_kind_name(v));
                g_free(want);
            } else if (v->null) {
                char *want = key_expectation(k);
                ok = fail(ld, &v->pos, SCENARIO_ERROR_VALUE, path, "missing value (expected %s)",
                          want);
                g_free(want);
            }
        } else if (key_is_section(path)) {
            if (v->kind == SN_MAPPING) {
                ok = check_shape(ld, v, path);
            } else if (!(v->kind == SN_SCALAR && v->null)) { /* "overlay:" alone is empty */
                char *children = key_children(path);
                ok = fail(ld, &v->pos, SCENARIO_ERROR_VALUE, path,
                          "expected a mapping (keys: %s), got %s", children, snode_kind_name(v));
                g_free(children);
            }
        } else {
            char *children = key_children(prefix);
            if (prefix)
                ok = fail(ld, &p->pos, SCENARIO_ERROR_KEY, path,
                          "unknown key (valid keys in '%s': %s)", prefix, children);
            else
                ok = fail(ld, &p->pos, SCENARIO_ERROR_KEY, path,
                          "unknown key (valid top-level keys: %s)", children);
            g_free(children);
        }
        g_free(path);
        if (!ok)
            return false;
    }
    return true;
}

/* ---- step 4: structures -------------------------------------------------------------------- */

/* A scalar inside a structure must hold a value. */
static bool check_scalar(struct loader *ld, const struct snode *v, const char *name,
                         const char *want)
{
    if (v->kind != SN_SCALAR)
        return fail(ld, &v->pos, SCENARIO_ERROR_VALUE, name, "expected %s, got %s", want,
                    snode_kind_name(v));
    if (v->null)
        return fail(ld, &v->pos, SCENARIO_ERROR_VALUE, name, "missing value (expected %s)", want);
    return true;
}

/* One entry of a list of mappings (churn.events, nat.mix, services.list): its fields, and the
 * words of its errors. */
struct entry_kind {
    const struct scenario_key *fields;
    size_t n;
    size_t required;     /* fields[0 .. required-1] must be given */
    const char *example; /* "{...}": the mapping a non-mapping entry is told to be */
    const char *has;     /* "an event has: ...": the fields an unknown one is told of */
    bool table_order;    /* check every value, then parse them in fields[] order */
    /* After a value is parsed into out: a check of its own, or NULL. */
    bool (*check)(struct loader *ld, size_t f, const void *out, const char *name,
                  const struct spos *pos);
};

/* Parses entry `item`, named base (e.g. "nat.mix.3"), into out: each pair's field is found in
 * kind->fields and its value parsed, in the order written unless kind->table_order; then a
 * field not given is missing when required, else takes its default (if any).  given[f] is the
 * pair that set fields[f], else NULL.  Leaves the entry's own cross-checks to the caller. */
static bool entry_parse(struct loader *ld, const struct entry_kind *kind, const struct snode *item,
                        const char *base, void *out, const struct spair **given)
{
    if (item->kind != SN_MAPPING)
        return fail(ld, &item->pos, SCENARIO_ERROR_VALUE, base,
                    "expected a mapping such as %s, got %s", kind->example, snode_kind_name(item));
    char *name = NULL;
    bool ok = true;
    for (guint i = 0; ok && i < item->pairs->len; i++) {
        const struct spair *p = item->pairs->pdata[i];
        g_free(name);
        name = g_strdup_printf("%s.%s", base, p->key);
        size_t f = 0;
        while (f < kind->n && strcmp(kind->fields[f].name, p->key) != 0)
            f++;
        if (f == kind->n) {
            ok = fail(ld, &p->pos, SCENARIO_ERROR_KEY, name, "unknown field (%s)", kind->has);
            break;
        }
        char *want = key_expectation(&kind->fields[f]);
        ok = check_scalar(ld, p->value, name, want) &&
             (kind->table_order ||
              (parse_value(ld, out, &kind->fields[f], name, p->value->text, &p->value->pos) &&
               (!kind->check || kind->check(ld, f, out, name, &p->value->pos))));
        g_free(want);
        given[f] = p;
    }
    for (size_t f = 0; ok && kind->table_order && f < kind->n; f++) {
        if (!given[f])
            continue;
        g_free(name);
        name = g_strdup_printf("%s.%s", base, kind->fields[f].name);
        ok = parse_value(ld, out, &kind->fields[f], name, given[f]->value->text,
                         &given[f]->value->pos);
    }
    for (size_t f = 0; ok && f < kind->n; f++) {
        if (given[f] || (f >= kind->required && !kind->fields[f].def))
            continue;
        g_free(name);
        name = g_strdup_printf("%s.%s", base, kind->fields[f].name);
        ok = f < kind->required
                 ? fail(ld, &item->pos, SCENARIO_ERROR_KEY, name, "missing required field")
                 : parse_value(ld, out, &kind->fields[f], name, kind->fields[f].def, &item->pos);
    }
    g_free(name);
    return ok;
}

/* churn.events: the fields of one event, as rows parsed into a struct scenario_event. */
#define EVENT_FIELD(key, type_, field)                                                             \
    .name = key, .type = type_, .offset = offsetof(struct scenario_event, field)
static const struct scenario_key event_fields[] = {
    {EVENT_FIELD("at", KEY_DURATION, at)},
    {EVENT_FIELD("action", KEY_ENUM, action), .choices = action_names},
    {EVENT_FIELD("fraction", KEY_DOUBLE, fraction), .fmax = 1, .flags = KEY_FMIN_OPEN | KEY_FMAX},
    {EVENT_FIELD("groups", KEY_U32, groups), .min = 2},
    {EVENT_FIELD("peers", KEY_U32, peers), .min = 1},
    {EVENT_FIELD("over", KEY_DURATION, over), .def = "10s"},
};
enum { EV_AT = 1, EV_ACTION = 2, EV_FRACTION = 4, EV_GROUPS = 8, EV_PEERS = 16, EV_OVER = 32 };

/* Per action: the fields it needs and the ones it accepts (besides at and action). */
static const struct {
    unsigned required, allowed;
    const char *takes;
} event_rules[] = {
    [SCENARIO_EVENT_FAIL] = {EV_FRACTION, EV_FRACTION, "fraction"},
    [SCENARIO_EVENT_PARTITION] = {EV_GROUPS, EV_GROUPS, "groups"},
    [SCENARIO_EVENT_HEAL] = {0, 0, "no other field"},
    [SCENARIO_EVENT_FLASH_CROWD] = {EV_PEERS, EV_PEERS | EV_OVER, "peers and optionally over"},
};
#define EVENT_FIELD_NAMES "at, action, fraction, groups, peers, over"

/* "LINE:COL" of a file position, or "--set KEY=VALUE"; g_free it. */
static char *spos_text(const struct spos *pos)
{
    return pos->origin ? g_strdup_printf("--set %s", pos->origin)
                       : g_strdup_printf("%u:%u", pos->line, pos->col);
}

/* ---- element keys: churn.events.N.FIELD, metrics.snapshots.N ------------------------------- */

/* The sequence key that an element key reaches into, or NULL when key is not one. */
static const struct scenario_key *element_owner(const char *key)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct scenario_key *k = &scenario_keys[i];
        size_t len = strlen(k->name);
        if ((k->type == KEY_EVENTS || k->type == KEY_TIMES) && strncmp(key, k->name, len) == 0 &&
            key[len] == '.')
            return k;
    }
    return NULL;
}

/* An element key resolved against the file's sequence. */
struct element {
    const struct scenario_key *owner; /* churn.events or metrics.snapshots */
    guint index;                      /* position in the file's list as written, from 0 */
    const struct scenario_key *field; /* churn.events: a row of event_fields[]; else NULL */
};

/* Checks element key `key` against seq, the sequence the tree holds for its owner (NULL when
 * the file has none): the index must name an entry, and an event field must be one that the
 * entry's action takes.  Errors name `name` (the key as the user wrote it) at pos. */
static bool element_resolve(struct loader *ld, const char *key, const char *name,
                            const struct snode *seq, const struct spos *pos, struct element *e)
{
    const int K = SCENARIO_ERROR_KEY;
    const struct scenario_key *owner = element_owner(key);
    bool events = owner->type == KEY_EVENTS;
    const char *form = events ? "churn.events.N.FIELD" : "metrics.snapshots.N";
    char **parts = g_strsplit(key + strlen(owner->name) + 1, ".", -1);
    guint n = g_strv_length(parts);
    const char *digits = n ? parts[0] : "";
    uint64_t index = 0;
    bool ok = true;
    *e = (struct element){.owner = owner};
    /* Digits only, without leading zeros: one entry has one key (runs.tsv columns, and the
     * command line's refusal to --set a swept key, compare keys as text). */
    if (!*digits || strspn(digits, "0123456789") != strlen(digits) ||
        (digits[0] == '0' && digits[1]) || parse_uint(digits, &index) != PARSE_OK)
        ok = fail(ld, pos, K, name,
                  "'%s' is not an index: write %s, N counting from 0 in the order the file "
                  "lists them",
                  digits, form);
    else if (events && n == 1)
        ok = fail(ld, pos, K, name,
                  "an event is set one field at a time: %s.FIELD, FIELD one of " EVENT_FIELD_NAMES,
                  key);
    else if (n > (events ? 2u : 1u))
        ok = fail(ld, pos, K, name, "unknown key (write %s)", form);
    for (size_t f = 0; ok && events && f < G_N_ELEMENTS(event_fields) && !e->field; f++)
        if (strcmp(event_fields[f].name, parts[1]) == 0)
            e->field = &event_fields[f];
    if (ok && events && !e->field)
        ok = fail(ld, pos, K, name, "unknown field '%s' (an event has: " EVENT_FIELD_NAMES ")",
                  parts[1]);
    ok = ok && (!seq || check_structure_shape(ld, owner, seq, owner->name));
    guint count = seq && seq->kind == SN_SEQUENCE ? seq->items->len : 0;
    if (ok && count == 0)
        ok = fail(ld, pos, K, name,
                  "index %" G_GUINT64_FORMAT " is out of range: the scenario file has no %s "
                  "(write the list in the file; %s changes an entry it has)",
                  index, owner->name, form);
    else if (ok && index >= count)
        ok = fail(ld, pos, K, name,
                  "index %" G_GUINT64_FORMAT " is out of range: %s in the scenario file has %u "
                  "entries (indexes 0 to %u, in the order written)",
                  index, owner->name, count, count - 1);
    if (ok)
        e->index = (guint)index;
    /* A field the event's action does not take: reported at the key, before any value. */
    if (ok && e->field && e->field - event_fields >= 2) {
        const struct snode *item = seq->items->pdata[e->index];
        const struct spair *a = item->kind == SN_MAPPING ? snode_pair(item, "action") : NULL;
        int action =
            a && a->value->kind == SN_SCALAR ? choice_index(action_names, a->value->text) : -1;
        unsigned bit = 1u << (e->field - event_fields);
        if (action >= 0 && !(event_rules[action].allowed & bit))
            ok = fail(ld, pos, K, name, "not a field of action '%s' (it takes %s)",
                      action_names[action], event_rules[action].takes);
    }
    g_strfreev(parts);
    return ok;
}

/* Puts value in place of the element's value in seq (the sequence element_resolve() accepted,
 * or a copy of it); pos is where the value comes from. */
static void element_set(struct snode *seq, const struct element *e, const char *value,
                        const struct spos *pos)
{
    struct snode *v = snode_new(SN_SCALAR, *pos);
    v->text = g_strdup(value);
    v->replaced = true;
    if (!e->field) {
        snode_free(seq->items->pdata[e->index]);
        seq->items->pdata[e->index] = v;
        return;
    }
    struct snode *item = seq->items->pdata[e->index];
    if (item->kind != SN_MAPPING) { /* parse_event() reports the file's mistake */
        snode_free(v);
        return;
    }
    struct spair *pair = snode_pair(item, e->field->name);
    if (pair) {
        snode_free(pair->value);
        pair->value = v;
        return;
    }
    pair = g_new(struct spair, 1);
    *pair = (struct spair){.key = g_strdup(e->field->name), .pos = *pos, .value = v};
    g_ptr_array_add(item->pairs, pair);
}

/* --set of an element key: the value replaces the file's in the tree. */
static bool element_override(struct loader *ld, const char *key, const char *value,
                             const struct spos *pos)
{
    const struct snode *enclosing;
    /* The tree is the loader's to change; tree_lookup() only promises not to. */
    struct snode *seq = (struct snode *)tree_lookup(ld->root, element_owner(key)->name, &enclosing);
    struct element e;
    if (!element_resolve(ld, key, key, seq, pos, &e))
        return false;
    element_set(seq, &e, value, pos);
    return true;
}

static const struct entry_kind event_kind = {
    .fields = event_fields,
    .n = G_N_ELEMENTS(event_fields),
    .required = 2, /* at, action */
    .example = "{at: 60s, action: fail, fraction: 0.5}",
    .has = "an event has: " EVENT_FIELD_NAMES,
    .table_order = true,
};

/* Where a given field is blamed: at its value when an override replaced it, else at its key. */
static const struct spos *given_pos(const struct spair *p)
{
    return p->value->replaced ? &p->value->pos : &p->pos;
}

static bool parse_event(struct loader *ld, struct scenario *s, const struct snode *item,
                        guint index, struct scenario_event *ev)
{
    char *base = g_strdup_printf("churn.events.%u", index);
    const struct spair *given[G_N_ELEMENTS(event_fields)] = {0};
    char *name = NULL;
    *ev = (struct scenario_event){0}; /* over: its default, 10s */
    bool ok = entry_parse(ld, &event_kind, item, base, ev, given);
    /* An action an override changed is blamed, not the fields the file gave for the old one. */
    bool action_replaced = ok && given[1]->value->replaced;
    for (size_t f = 2; ok && f < G_N_ELEMENTS(event_fields); f++) {
        const char *action = action_names[ev->action];
        const char *takes = event_rules[ev->action].takes;
        g_free(name);
        name = g_strdup_printf("%s.%s", base, event_fields[f].name);
        unsigned bit = 1u << f;
        if (given[f] && !(event_rules[ev->action].allowed & bit) && action_replaced &&
            !given[f]->value->replaced) {
            char *field_at = spos_text(given_pos(given[f]));
            g_free(name);
            name = g_strdup_printf("%s.action", base);
            ok = fail(ld, &given[1]->value->pos, SCENARIO_ERROR_KEY, name,
                      "action '%s' does not take the event's %s (written at %s; it takes %s)",
                      action, event_fields[f].name, field_at, takes);
            g_free(field_at);
        } else if (given[f] && !(event_rules[ev->action].allowed & bit)) {
            ok = fail(ld, given_pos(given[f]), SCENARIO_ERROR_KEY, name,
                      "not a field of action '%s' (it takes %s)", action, takes);
        } else if (!given[f] && (event_rules[ev->action].required & bit)) {
            ok = fail(ld, action_replaced ? &given[1]->value->pos : &item->pos, SCENARIO_ERROR_KEY,
                      name, "missing: action '%s' needs %s", action, takes);
        }
    }
    if (ok && ev->at > s->duration) {
        char at[32], end[32];
        format_duration(ev->at, at, sizeof at);
        format_duration(s->duration, end, sizeof end);
        g_free(name);
        name = g_strdup_printf("%s.at", base);
        ok = fail(ld, &given[0]->value->pos, SCENARIO_ERROR_VALUE, name,
                  "%s is after the end of the run (duration %s)", at, end);
    }
    g_free(name);
    g_free(base);
    return ok;
}

struct indexed_event {
    struct scenario_event ev;
    guint index;
};

/* By time, then by file order: events at the same instant run as written. */
static int indexed_event_cmp(const void *a, const void *b)
{
    const struct indexed_event *x = a, *y = b;
    if (x->ev.at != y->ev.at)
        return x->ev.at < y->ev.at ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static bool parse_events(struct loader *ld, struct scenario *s, const struct snode *seq)
{
    guint n = seq->items->len;
    struct indexed_event *all = g_new0(struct indexed_event, n ? n : 1);
    uint64_t total = s->peers;
    bool ok = true;
    for (guint i = 0; ok && i < n; i++) {
        const struct snode *item = seq->items->pdata[i];
        ok = parse_event(ld, s, item, i, &all[i].ev);
        all[i].index = i;
        if (ok && all[i].ev.action == SCENARIO_EVENT_FLASH_CROWD) {
            total += all[i].ev.peers;
            if (total > UINT32_MAX) {
                char *name = g_strdup_printf("churn.events.%u.peers", i);
                ok = fail(ld, &item->pos, SCENARIO_ERROR_VALUE, name,
                          "peers plus every flash crowd exceed %u peers", UINT32_MAX);
                g_free(name);
            }
        }
    }
    if (ok) {
        qsort(all, n, sizeof *all, indexed_event_cmp);
        for (guint i = 0; i < n; i++)
            g_array_append_val(s->churn.events, all[i].ev);
    }
    g_free(all);
    return ok;
}

/* nat.mix: the fields of one entry, parsed into a struct scenario_nat_entry. */
static const char *const nat_type_names[] = {"public",    "full_cone", "restricted",
                                             "port_restricted", "symmetric", "custom", NULL};
static const char *const nat_behaviour_names[] = {"endpoint_independent", "address_dependent",
                                                  "address_port_dependent", NULL};
static const char *const nat_ports_names[] = {"preserve", "random", NULL};
_Static_assert(sizeof(enum scenario_nat_type) == sizeof(int) &&
                   sizeof(enum scenario_nat_behaviour) == sizeof(int) &&
                   sizeof(enum scenario_nat_ports) == sizeof(int),
               "enums are stored as int");
_Static_assert(SCENARIO_NAT_CUSTOM == 5 && SCENARIO_NAT_ADDRESS_PORT_DEPENDENT == 2 &&
                   SCENARIO_NAT_PORTS_RANDOM == 1,
               "the NAT choice lists follow the enums' order");
#define NAT_FIELD(key, type_, field)                                                               \
    .name = key, .type = type_, .offset = offsetof(struct scenario_nat_entry, field)
static const struct scenario_key nat_fields[] = {
    {NAT_FIELD("type", KEY_ENUM, type), .choices = nat_type_names},
    {NAT_FIELD("share", KEY_DOUBLE, share), .fmax = 1, .flags = KEY_FMAX},
    {NAT_FIELD("mapping", KEY_ENUM, mapping), .choices = nat_behaviour_names},
    {NAT_FIELD("filtering", KEY_ENUM, filtering), .choices = nat_behaviour_names},
    {NAT_FIELD("ports", KEY_ENUM, ports), .choices = nat_ports_names},
};
enum { NAT_F_TYPE, NAT_F_SHARE, NAT_F_MAPPING, NAT_F_FILTERING, NAT_F_PORTS };
#define NAT_FIELD_NAMES "type, share, mapping, filtering, ports"
#define NAT_MIX_MAX 64

/* The shorthands' behaviours (RFC 4787 terms; docs/nat.md). */
static const enum scenario_nat_behaviour nat_shorthand[SCENARIO_NAT_TYPES][2] = {
    [SCENARIO_NAT_FULL_CONE] = {SCENARIO_NAT_ENDPOINT_INDEPENDENT,
                                SCENARIO_NAT_ENDPOINT_INDEPENDENT},
    [SCENARIO_NAT_RESTRICTED] = {SCENARIO_NAT_ENDPOINT_INDEPENDENT, SCENARIO_NAT_ADDRESS_DEPENDENT},
    [SCENARIO_NAT_PORT_RESTRICTED] = {SCENARIO_NAT_ENDPOINT_INDEPENDENT,
                                      SCENARIO_NAT_ADDRESS_PORT_DEPENDENT},
    [SCENARIO_NAT_SYMMETRIC] = {SCENARIO_NAT_ADDRESS_PORT_DEPENDENT,
                                SCENARIO_NAT_ADDRESS_PORT_DEPENDENT},
};

static const struct entry_kind nat_kind = {
    .fields = nat_fields,
    .n = G_N_ELEMENTS(nat_fields),
    .required = NAT_F_SHARE + 1, /* type, share */
    .example = "{type: port_restricted, share: 0.4}",
    .has = "a NAT type has: " NAT_FIELD_NAMES,
};

/* One nat.mix entry: type and share always; mapping and filtering exactly for custom; ports
 * for any type but public (default: random for symmetric, else preserve). */
static bool parse_nat_entry(struct loader *ld, const struct snode *item, guint index,
                            struct scenario_nat_entry *e)
{
    char *base = g_strdup_printf("nat.mix.%u", index);
    char *name = NULL;
    const struct spair *given[G_N_ELEMENTS(nat_fields)] = {0};
    *e = (struct scenario_nat_entry){0};
    bool ok = entry_parse(ld, &nat_kind, item, base, e, given);
    bool custom = ok && e->type == SCENARIO_NAT_CUSTOM;
    for (size_t f = NAT_F_MAPPING; ok && f <= NAT_F_PORTS; f++) {
        g_free(name);
        name = g_strdup_printf("%s.%s", base, nat_fields[f].name);
        const char *type = nat_type_names[e->type];
        if (f == NAT_F_PORTS && given[f] && e->type == SCENARIO_NAT_PUBLIC)
            ok = fail(ld, &given[f]->pos, SCENARIO_ERROR_KEY, name,
                      "not a field of type 'public' (a public peer has no NAT)");
        else if (f != NAT_F_PORTS && given[f] && !custom)
            ok = fail(ld, &given[f]->pos, SCENARIO_ERROR_KEY, name,
                      "not a field of type '%s' (only type custom takes mapping and filtering; "
                      "%s is a shorthand, docs/nat.md)",
                      type, type);
        else if (f != NAT_F_PORTS && !given[f] && custom)
            ok = fail(ld, &item->pos, SCENARIO_ERROR_KEY, name,
                      "missing: type custom needs mapping and filtering (each one of: "
                      "endpoint_independent, address_dependent, address_port_dependent)");
    }
    if (ok && !custom) {
        e->mapping = nat_shorthand[e->type][0];
        e->filtering = nat_shorthand[e->type][1];
    }
    if (ok && !given[NAT_F_PORTS])
        e->ports = e->type == SCENARIO_NAT_SYMMETRIC ? SCENARIO_NAT_PORTS_RANDOM
                                                     : SCENARIO_NAT_PORTS_PRESERVE;
    g_free(name);
    g_free(base);
    return ok;
}

/* A list (nat.mix, services.list) holds at most max entries. */
static bool list_fits(struct loader *ld, const struct snode *seq, const char *key, guint max)
{
    if (seq->items->len > max)
        return fail(ld, &seq->pos, SCENARIO_ERROR_VALUE, key,
                    "%u entries, more than the %u supported", seq->items->len, max);
    return true;
}

/* nat.mix: at most NAT_MIX_MAX entries whose shares sum to 1. */
static bool parse_nat_mix(struct loader *ld, struct scenario *s, const struct snode *seq)
{
    guint n = seq->items->len;
    if (!list_fits(ld, seq, "nat.mix", NAT_MIX_MAX))
        return false;
    double sum = 0;
    for (guint i = 0; i < n; i++) {
        struct scenario_nat_entry e;
        if (!parse_nat_entry(ld, seq->items->pdata[i], i, &e))
            return false;
        sum += e.share;
        g_array_append_val(s->nat.mix, e);
    }
    if (n > 0 && !(fabs(sum - 1) <= 1e-9)) {
        char buf[32];
        format_double(sum, buf, sizeof buf);
        return fail(ld, &seq->pos, SCENARIO_ERROR_VALUE, "nat.mix",
                    "the shares sum to %s; they must sum to 1", buf);
    }
    return true;
}

/* ---- nat.mix.TYPE: the share of one NAT type, the other entries rescaled ---------------------
 * nat.mix is a list in the file, so --set and sweep: cannot replace it; nat.mix.TYPE (TYPE a
 * shorthand other than custom) sets the share of the file's first entry of that type and
 * scales the other entries' shares by the same factor so that they still sum to 1: sweeping
 * nat.mix.symmetric over [0, 0.2, 0.4] keeps the other types in the file's proportions. */

/* Whether key is nat.mix.TYPE; *type is then the type. */
static bool mix_key(const char *key, int *type)
{
    static const char prefix[] = "nat.mix.";
    if (strncmp(key, prefix, sizeof prefix - 1) != 0)
        return false;
    *type = choice_index(nat_type_names, key + sizeof prefix - 1);
    return *type >= 0 && *type != SCENARIO_NAT_CUSTOM;
}

/* Sets the share of type's first entry of seq (the file's nat.mix, or a copy) to text and
 * rescales the others (scalar nodes replaced, blamed at pos).  Errors name `name`.  A mix the
 * parser will refuse anyway (an entry that is no mapping, a share that is no number) is left
 * for parse_nat_mix to report. */
static bool mix_set(struct loader *ld, struct snode *seq, int type, const char *text,
                    const struct spos *pos, const char *name)
{
    const int K = SCENARIO_ERROR_KEY, V = SCENARIO_ERROR_VALUE;
    char *end;
    double v = g_ascii_strtod(text, &end);
    if (!*text || *end || !(v >= 0 && v <= 1))
        return fail(ld, pos, V, name, "expected a share from 0 to 1, got '%s'", text);
    if (!seq || seq->kind != SN_SEQUENCE || seq->items->len == 0)
        return fail(ld, pos, K, name,
                    "the scenario file has no nat.mix (write the mix in the file; %s changes "
                    "the share of one of its types)",
                    name);
    struct snode *mine = NULL;
    double others = 0;
    for (guint i = 0; i < seq->items->len; i++) {
        const struct snode *item = seq->items->pdata[i];
        const struct spair *t = item->kind == SN_MAPPING ? snode_pair(item, "type") : NULL;
        const struct spair *sh = item->kind == SN_MAPPING ? snode_pair(item, "share") : NULL;
        if (!t || !sh || t->value->kind != SN_SCALAR || sh->value->kind != SN_SCALAR)
            return true;
        double x = g_ascii_strtod(sh->value->text, &end);
        if (!*sh->value->text || *end)
            return true;
        if (!mine && choice_index(nat_type_names, t->value->text) == type)
            mine = seq->items->pdata[i];
        else
            others += x;
    }
    if (!mine)
        return fail(ld, pos, K, name, "nat.mix in the scenario file has no entry of type '%s'",
                    nat_type_names[type]);
    if (v < 1 && !(others > 0))
        return fail(ld, pos, V, name,
                    "the other nat.mix entries have no share to scale up to the remaining %g",
                    1 - v);
    for (guint i = 0; i < seq->items->len; i++) {
        struct snode *item = seq->items->pdata[i];
        struct spair *sh = snode_pair(item, "share");
        double x = item == mine ? v
                   : others > 0 ? g_ascii_strtod(sh->value->text, NULL) * ((1 - v) / others)
                                : 0;
        struct snode *nv = snode_new(SN_SCALAR, *pos);
        nv->text = g_strdup_printf("%.17g", x);
        nv->replaced = true;
        snode_free(sh->value);
        sh->value = nv;
    }
    return true;
}

/* --set nat.mix.TYPE=SHARE: the shares change in the tree. */
static bool mix_override(struct loader *ld, const char *key, const char *value,
                         const struct spos *pos)
{
    int type;
    const struct snode *enclosing;
    mix_key(key, &type);
    /* The tree is the loader's to change; tree_lookup() only promises not to. */
    struct snode *seq = (struct snode *)tree_lookup(ld->root, "nat.mix", &enclosing);
    return mix_set(ld, seq, type, value, pos, key);
}

static struct scenario *scenario_alloc(void);

/* A swept value of nat.mix.TYPE, checked on a copy of the mix, parsed whole. */
static bool mix_check_value(struct loader *ld, const char *key, const char *name,
                            const char *value, const struct spos *pos)
{
    int type;
    const struct snode *enclosing;
    mix_key(key, &type);
    struct snode *seq = snode_copy(tree_lookup(ld->root, "nat.mix", &enclosing));
    bool ok = mix_set(ld, seq, type, value, pos, name);
    if (ok && seq && seq->kind == SN_SEQUENCE) {
        struct scenario *scratch = scenario_alloc();
        ok = parse_nat_mix(ld, scratch, seq);
        scenario_free(scratch);
    }
    snode_free(seq);
    return ok;
}

/* services.list: the fields of one entry, parsed into a struct scenario_service. */
#define SERVICE_FIELD(key, type_, field, default_)                                                 \
    .name = key, .type = type_, .offset = offsetof(struct scenario_service, field),                \
    .def = default_
static const struct scenario_key service_fields[] = {
    {SERVICE_FIELD("name", KEY_STRING, name, NULL), .min = 1},
    {SERVICE_FIELD("share", KEY_DOUBLE, share, NULL), .fmax = 1, .flags = KEY_FMAX},
    {SERVICE_FIELD("capacity", KEY_U32, capacity, "1")},
    {SERVICE_FIELD("weight", KEY_DOUBLE, weight, "1")},
};
#define SERVICE_FIELD_NAMES "name, share, capacity, weight"
#define SERVICES_MAX 64
#define SERVICE_NAME_BYTES 255 /* core/service.h: name<1..2^8-1> */

static void service_clear(gpointer p)
{
    struct scenario_service *e = p;
    g_free(e->name);
}

/* A service's name must fit its record. */
static bool service_check(struct loader *ld, size_t f, const void *out, const char *name,
                          const struct spos *pos)
{
    const struct scenario_service *e = out;
    if (f == 0 && strlen(e->name) > SERVICE_NAME_BYTES)
        return fail(ld, pos, SCENARIO_ERROR_VALUE, name,
                    "%zu bytes, longer than the %u a service record holds", strlen(e->name),
                    SERVICE_NAME_BYTES);
    return true;
}

static const struct entry_kind service_kind = {
    .fields = service_fields,
    .n = G_N_ELEMENTS(service_fields),
    .required = 2, /* name, share */
    .example = "{name: turn-relay, share: 0.05, capacity: 10}",
    .has = "a service has: " SERVICE_FIELD_NAMES,
    .check = service_check,
};

/* services.list: at most SERVICES_MAX entries with distinct names; in each, name and share are
 * required, capacity and weight defaulted. */
static bool parse_services(struct loader *ld, struct scenario *s, const struct snode *seq)
{
    guint n = seq->items->len;
    if (!list_fits(ld, seq, "services.list", SERVICES_MAX))
        return false;
    for (guint i = 0; i < n; i++) {
        struct scenario_service e = {0};
        const struct spair *given[G_N_ELEMENTS(service_fields)] = {0};
        char *base = g_strdup_printf("services.list.%u", i);
        bool ok = entry_parse(ld, &service_kind, seq->items->pdata[i], base, &e, given);
        g_free(base);
        g_array_append_val(s->services.list, e); /* freed with the list even when not ok */
        if (!ok)
            return false;
        for (guint j = 0; j < i; j++)
            if (strcmp(g_array_index(s->services.list, struct scenario_service, j).name, e.name) ==
                0) {
                const struct snode *item = seq->items->pdata[i];
                char *name = g_strdup_printf("services.list.%u.name", i);
                fail(ld, &item->pos, SCENARIO_ERROR_VALUE, name,
                     "service '%s' is listed twice (entry %u too)", e.name, j);
                g_free(name);
                return false;
            }
    }
    return true;
}

struct timed_node {
    env_time t;
    const struct snode *node;
    guint index; /* in the sequence */
};

static int timed_node_cmp(const void *a, const void *b)
{
    const struct timed_node *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    /* Equal times: the one reported as given twice sorts later.  That is a value put in by
     * --set or a sweep (the one being checked), else the later in the file. */
    if (x->node->replaced != y->node->replaced)
        return x->node->replaced ? 1 : -1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* metrics.snapshots: durations within the run, sorted, each at most once. */
static bool parse_times(struct loader *ld, struct scenario *s, const struct scenario_key *k,
                        const struct snode *seq, GArray *out)
{
    guint n = seq->items->len;
    struct timed_node *all = g_new0(struct timed_node, n ? n : 1);
    struct scenario_key row = {.name = k->name, .type = KEY_DURATION};
    bool ok = true;
    char end[32], at[32];
    format_duration(s->duration, end, sizeof end);
    for (guint i = 0; ok && i < n; i++) {
        const struct snode *item = seq->items->pdata[i];
        char *name = g_strdup_printf("%s.%u", k->name, i);
        ok = check_scalar(ld, item, name, "a duration") &&
             parse_value(ld, &all[i].t, &row, name, item->text, &item->pos);
        all[i].node = item;
        all[i].index = i;
        if (ok && all[i].t > s->duration) {
            format_duration(all[i].t, at, sizeof at);
            ok = fail(ld, &item->pos, SCENARIO_ERROR_VALUE, name,
                      "%s is after the end of the run (duration %s)", at, end);
        }
        g_free(name);
    }
    if (ok)
        qsort(all, n, sizeof *all, timed_node_cmp);
    for (guint i = 1; ok && i < n; i++)
        if (all[i].t == all[i - 1].t) {
            char *first = spos_text(&all[i - 1].node->pos);
            format_duration(all[i].t, at, sizeof at);
            ok = fail(ld, &all[i].node->pos, SCENARIO_ERROR_VALUE, k->name,
                      "%s is given twice (first at %s)", at, first);
            g_free(first);
        }
    for (guint i = 0; ok && i < n; i++)
        g_array_append_val(out, all[i].t);
    g_free(all);
    return ok;
}

static const char *const expect_ops[] = {">=", "<=", "==", "!=", ">", "<", NULL};

/* "OP NUMBER" (spaces optional) or a bare NUMBER (meaning ==). */
static bool parse_expectation(const char *t, const char **op, double *value)
{
    const char *p = t;
    while (*p == ' ' || *p == '\t')
        p++;
    *op = "==";
    for (size_t i = 0; expect_ops[i]; i++)
        if (g_str_has_prefix(p, expect_ops[i])) {
            *op = expect_ops[i];
            p += strlen(expect_ops[i]);
            break;
        }
    while (*p == ' ' || *p == '\t')
        p++;
    char *end = NULL;
    *value = *p ? g_ascii_strtod(p, &end) : NAN;
    if (!end || end == p)
        return false;
    while (*end == ' ' || *end == '\t')
        end++;
    return *end == '\0' && isfinite(*value);
}

static void expect_free(void *p)
{
    struct scenario_expect *e = p;
    g_free(e->metric);
    g_free(e->op);
    g_free(e->where);
    g_free(e);
}

static bool parse_expect(struct loader *ld, struct scenario *s, const struct snode *map)
{
    bool ok = true;
    for (guint i = 0; ok && i < map->pairs->len; i++) {
        const struct spair *p = map->pairs->pdata[i];
        char *name = g_strdup_printf("expect.%s", p->key);
        const char *op = "==";
        double value = 0;
        if (!*p->key || strspn(p->key, " \t") == strlen(p->key))
            ok = fail(ld, &p->pos, SCENARIO_ERROR_KEY, name,
                      "empty metric name (expected a summary.tsv metric such as lookup_success)");
        else if (!check_scalar(ld, p->value, name, "\"OP NUMBER\""))
            ok = false;
        else if (!parse_expectation(p->value->text, &op, &value))
            ok = fail(ld, &p->value->pos, SCENARIO_ERROR_VALUE, name,
                      "expected \"OP NUMBER\" with OP one of >=, <=, >, <, ==, != (e.g. \">= "
                      "0.99\"; a bare number means ==), got '%s'",
                      p->value->text);
        if (ok) {
            struct scenario_expect *e = g_new0(struct scenario_expect, 1);
            e->metric = g_strdup(p->key);
            e->op = g_strdup(op);
            e->value = value;
            const struct spos *at = p->value->pos.origin ? &p->value->pos : &p->pos;
            e->where = at->origin ? g_strdup_printf("--set %s", at->origin)
                                  : g_strdup_printf("%s:%u:%u", ld->file, at->line, at->col);
            g_ptr_array_add(s->expect, e);
        }
        g_free(name);
    }
    return ok;
}

static void sweep_free(void *p)
{
    struct scenario_sweep *w = p;
    g_free(w->key);
    if (w->values)
        g_ptr_array_unref(w->values);
    g_free(w);
}

static struct scenario *scenario_alloc(void);

/* A swept value of an element key, checked the way loading its point will check it: the
 * value goes into a copy of the sequence, which is then parsed whole (so an event is checked
 * with its other fields, and a snapshot time against the others).  The end-of-run rule uses
 * the scenario's duration, unless duration is swept too: then loading the point checks it. */
static bool element_check_value(struct loader *ld, const struct scenario *s,
                                const struct element *e, const char *value, const struct spos *pos,
                                bool duration_swept)
{
    const struct snode *enclosing;
    struct snode *seq = snode_copy(tree_lookup(ld->root, e->owner->name, &enclosing));
    element_set(seq, e, value, pos);
    struct scenario *scratch = scenario_alloc();
    scratch->duration = duration_swept ? UINT64_MAX : s->duration;
    scratch->peers = s->peers;
    bool ok = e->owner->type == KEY_EVENTS
                  ? parse_events(ld, scratch, seq)
                  : parse_times(ld, scratch, e->owner, seq, scratch->metrics.snapshots);
    scenario_free(scratch);
    snode_free(seq);
    return ok;
}

/* One swept key: a single-value key (or an element key) and a non-empty list of values, each
 * checked the way --set KEY=VALUE would check it (the cross-key rules apply when a point is
 * loaded).  map is the whole sweep block. */
static bool parse_sweep_entry(struct loader *ld, const struct scenario *s, const struct snode *map,
                              const struct spair *p, struct scenario_sweep *w)
{
    const int K = SCENARIO_ERROR_KEY, V = SCENARIO_ERROR_VALUE;
    char *name = g_strdup_printf("sweep.%s", p->key);
    const struct scenario_key *k = key_find(p->key);
    const struct scenario_key *owner = k ? NULL : element_owner(p->key);
    int mix_type;
    bool mix = !k && !owner && mix_key(p->key, &mix_type);
    struct element e = {0};
    const struct snode *v = p->value;
    bool ok = true;
    if (v->kind != SN_SEQUENCE && v->pos.origin) {
        ok = fail(ld, &v->pos, V, name, "--set cannot set sequences; write %s in the scenario file",
                  name);
    } else if (k && g_strv_contains(unsweepable, p->key)) {
        ok = fail(ld, &p->pos, K, name, "%s cannot be swept (%s)", p->key,
                  strcmp(p->key, "name") == 0
                      ? "a sweep is one experiment with one name"
                      : "use seeds: N, which runs every point with seeds seed .. seed+N-1");
    } else if (k && key_is_structure(k)) {
        ok = fail(ld, &p->pos, K, name,
                  "%s cannot be swept: only keys that hold one value can be%s", p->key,
                  k->type == KEY_EVENTS  ? " (sweep one field of one event: churn.events.N.FIELD)"
                  : k->type == KEY_TIMES ? " (sweep one of the times: metrics.snapshots.N)"
                                         : "");
    } else if (owner) {
        const struct snode *enclosing;
        ok = element_resolve(ld, p->key, name, tree_lookup(ld->root, owner->name, &enclosing),
                             &p->pos, &e);
    } else if (mix) { /* nat.mix.TYPE: its values are checked below */
    } else if (!k && key_is_section(p->key)) {
        char *children = key_children(p->key);
        ok = fail(ld, &p->pos, K, name,
                  "'%s' is a section; sweep one of its keys (%s), written with dots", p->key,
                  children);
        g_free(children);
    } else if (!k) {
        ok = fail(ld, &p->pos, K, name,
                  "unknown key '%s' (sweep takes dotted scenario keys such as "
                  "overlay.successors)",
                  p->key);
    }
    if (ok && v->kind != SN_SEQUENCE)
        ok = fail(ld, &v->pos, V, name, "expected a sequence of values such as [4, 8], got %s",
                  snode_kind_name(v));
    else if (ok && v->items->len == 0)
        ok = fail(ld, &v->pos, V, name, "needs at least one value");
    if (ok) {
        w->key = g_strdup(p->key);
        w->values = g_ptr_array_new_with_free_func(g_free);
    }
    char *want = !ok     ? NULL
                 : mix   ? g_strdup("a share from 0 to 1")
                 : owner ? (e.field ? key_expectation(e.field) : g_strdup("a duration"))
                         : key_expectation(k);
    struct scenario *scratch = ok && !owner && !mix ? scenario_alloc() : NULL;
    bool duration_swept = snode_pair(map, "duration") != NULL;
    for (guint i = 0; ok && i < v->items->len; i++) {
        const struct snode *item = v->items->pdata[i];
        ok = check_scalar(ld, item, name, want) &&
             (mix     ? mix_check_value(ld, p->key, name, item->text, &item->pos)
              : owner ? element_check_value(ld, s, &e, item->text, &item->pos, duration_swept)
                      : parse_value(ld, scratch, k, k->name, item->text, &item->pos));
        if (ok)
            g_ptr_array_add(w->values, g_strdup(item->text));
    }
    scenario_free(scratch);
    g_free(want);
    g_free(name);
    return ok;
}

static bool parse_sweep(struct loader *ld, struct scenario *s, const struct snode *map)
{
    uint64_t points = 1;
    for (guint i = 0; i < map->pairs->len; i++) {
        const struct spair *p = map->pairs->pdata[i];
        struct scenario_sweep *w = g_new0(struct scenario_sweep, 1);
        g_ptr_array_add(s->sweep, w);
        if (!parse_sweep_entry(ld, s, map, p, w))
            return false;
        points *= w->values->len;
        if (points > MAX_SWEEP_POINTS) {
            char *name = g_strdup_printf("sweep.%s", p->key);
            fail(ld, &p->pos, SCENARIO_ERROR_VALUE, name,
                 "the sweep has more than %u points (the product of its list lengths)",
                 MAX_SWEEP_POINTS);
            g_free(name);
            return false;
        }
    }
    return true;
}

/* ---- step 4: fill the struct --------------------------------------------------------------- */

static bool fill_structure(struct loader *ld, struct scenario *s, const struct scenario_key *k,
                           const struct snode *n)
{
    if (n->kind == SN_SCALAR) /* null: empty */
        return true;
    void *field = *(void **)((char *)s + k->offset);
    switch (k->type) {
    case KEY_EVENTS:
        return parse_events(ld, s, n);
    case KEY_TIMES:
        return parse_times(ld, s, k, n, field);
    case KEY_EXPECT:
        return parse_expect(ld, s, n);
    case KEY_SWEEP:
        return parse_sweep(ld, s, n);
    case KEY_NAT_MIX:
        return parse_nat_mix(ld, s, n);
    case KEY_SERVICES:
        return parse_services(ld, s, n);
    default:
        g_assert_not_reached();
    }
}

static bool fill(struct loader *ld, struct scenario *s)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct scenario_key *k = &scenario_keys[i];
        const struct snode *enclosing;
        const struct snode *n = tree_lookup(ld->root, k->name, &enclosing);
        ld->found[i] = n;
        if (n && key_is_structure(k)) {
            if (!fill_structure(ld, s, k, n))
                return false;
        } else if (n) {
            if (!parse_value(ld, s, k, k->name, n->text, &n->pos))
                return false;
        } else if (k->def) {
            static const struct spos builtin = {.origin = "(built-in default)"};
            bool ok = parse_value(ld, s, k, k->name, k->def, &builtin);
            g_assert(ok); /* a default that does not parse is a bug in the table */
        } else if (!key_is_structure(k) && !(k->flags & (KEY_DIST_PARAM | KEY_DERIVED))) {
            return fail(ld, &enclosing->pos, SCENARIO_ERROR_KEY, k->name, "missing required key");
        }
    }
    return true;
}

static const struct spos *key_pos(const struct loader *ld, const char *name)
{
    const struct scenario_key *k = key_find(name);
    g_assert(k);
    const struct snode *n = ld->found[k - scenario_keys];
    return n ? &n->pos : &ld->root->pos;
}

static bool key_given(const struct loader *ld, const char *name)
{
    const struct scenario_key *k = key_find(name);
    g_assert(k);
    return ld->found[k - scenario_keys] != NULL;
}

/* Where a dotted path (a key or a section) was written, else where it would belong. */
static const struct spos *path_pos(const struct loader *ld, const char *path)
{
    const struct snode *enclosing;
    const struct snode *n = tree_lookup(ld->root, path, &enclosing);
    return n ? &n->pos : &enclosing->pos;
}

/* The parameters of each distribution kind (sim/dist.h gives the formulas). */
enum { P_VALUE = 1, P_MEAN = 2, P_SCALE = 4, P_MEDIAN = 8, P_SHAPE = 16, P_SIGMA = 32 };
static const char *const dist_params[] = {"value", "mean", "scale", "median", "shape", "sigma"};
static const struct {
    unsigned required; /* all of these */
    unsigned one_of;   /* exactly one of these (a scale written three ways) */
    const char *takes;
} dist_rules[] = {
    [SCENARIO_DIST_NONE] = {0, 0, "no parameters"},
    [SCENARIO_DIST_CONSTANT] = {P_VALUE, 0, "value"},
    [SCENARIO_DIST_EXPONENTIAL] = {P_MEAN, 0, "mean"},
    [SCENARIO_DIST_PARETO] = {P_SHAPE, P_SCALE | P_MEAN, "shape and either scale or mean"},
    [SCENARIO_DIST_WEIBULL] = {P_SHAPE, P_SCALE | P_MEDIAN, "shape and either scale or median"},
    [SCENARIO_DIST_LOGNORMAL] = {P_SIGMA, P_MEDIAN | P_MEAN, "sigma and either median or mean"},
};

/* Exactly the parameters the kind needs (their ranges were checked when parsed). */
static bool check_dist(struct loader *ld, const char *prefix, const struct scenario_dist *d)
{
    const int K = SCENARIO_ERROR_KEY;
    char name[64], kind_key[64];
    g_snprintf(kind_key, sizeof kind_key, "%s.dist", prefix);
    const char *kind = dist_names[d->kind];
    unsigned required = dist_rules[d->kind].required, one_of = dist_rules[d->kind].one_of;
    const char *takes = dist_rules[d->kind].takes;
    unsigned given = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(dist_params); i++) {
        g_snprintf(name, sizeof name, "%s.%s", prefix, dist_params[i]);
        if (key_given(ld, name))
            given |= 1u << i;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(dist_params); i++) {
        unsigned bit = 1u << i;
        g_snprintf(name, sizeof name, "%s.%s", prefix, dist_params[i]);
        if (!(given & bit) || ((required | one_of) & bit))
            continue;
        if (d->kind == SCENARIO_DIST_NONE)
            return fail(ld, key_pos(ld, name), K, name,
                        "%s is none, so there is nothing to parameterise; set %s to constant, "
                        "exponential, pareto, weibull or lognormal",
                        kind_key, kind_key);
        return fail(ld, key_pos(ld, name), K, name, "not a parameter of %s (%s takes %s)", kind,
                    kind, takes);
    }
    const struct spos *at = key_given(ld, kind_key) ? key_pos(ld, kind_key) : path_pos(ld, prefix);
    for (size_t i = 0; i < G_N_ELEMENTS(dist_params); i++) {
        g_snprintf(name, sizeof name, "%s.%s", prefix, dist_params[i]);
        if ((required & (1u << i)) && !(given & (1u << i)))
            return fail(ld, at, K, name, "missing: %s needs %s", kind, takes);
    }
    if (one_of) {
        unsigned both = given & one_of;
        int first = g_bit_nth_lsf(one_of, -1), second = g_bit_nth_lsf(one_of, first);
        if (!both) {
            g_snprintf(name, sizeof name, "%s.%s", prefix, dist_params[first]);
            return fail(ld, at, K, name, "missing: %s needs %s", kind, takes);
        }
        if (both == one_of) { /* report the one an override set, else the later one */
            char a[64], b[64];
            g_snprintf(a, sizeof a, "%s.%s", prefix, dist_params[first]);
            g_snprintf(b, sizeof b, "%s.%s", prefix, dist_params[second]);
            const struct spos *pa = key_pos(ld, a), *pb = key_pos(ld, b);
            bool a_later = pa->line > pb->line || (pa->line == pb->line && pa->col > pb->col);
            const char *at_key = pa->origin || pb->origin ? (pa->origin ? a : b) : a_later ? a : b;
            return fail(ld, key_pos(ld, at_key), K, at_key,
                        "give either %s or %s, not both (%s takes %s)", a, b, kind, takes);
        }
    }
    /* The mean of a Pareto distribution is a x_m / (a - 1): finite only for shape a > 1. */
    if (d->kind == SCENARIO_DIST_PARETO && (given & P_MEAN) && d->shape <= 1) {
        char shape[32];
        format_double(d->shape, shape, sizeof shape);
        g_snprintf(name, sizeof name, "%s.shape", prefix);
        return fail(ld, key_pos(ld, name), SCENARIO_ERROR_VALUE, name,
                    "a pareto distribution given by its mean needs shape > 1 (its mean is "
                    "infinite for shape <= 1), got %s",
                    shape);
    }
    return true;
}

/* Churn needs what its model reads; a model left at its default must not silently ignore a
 * distribution or trace the file gives. */
static bool check_churn(struct loader *ld, struct scenario *s)
{
    const int V = SCENARIO_ERROR_VALUE;
    static const char *const dists[] = {"churn.session", "churn.downtime"};
    const struct scenario_dist *d[] = {&s->churn.session, &s->churn.downtime};
    for (size_t i = 0; i < G_N_ELEMENTS(dists); i++)
        if (!check_dist(ld, dists[i], d[i]))
            return false;
    bool model_given = key_given(ld, "churn.model");
    for (size_t i = 0; i < G_N_ELEMENTS(dists); i++) {
        char kind_key[64];
        g_snprintf(kind_key, sizeof kind_key, "%s.dist", dists[i]);
        if (s->churn.model == SCENARIO_CHURN_SESSIONS && d[i]->kind == SCENARIO_DIST_NONE)
            return fail(ld, path_pos(ld, dists[i]), V, kind_key,
                        "churn.model is sessions, which needs a %s distribution (e.g. %s: "
                        "{dist: exponential, mean: 30m})",
                        dists[i], dists[i]);
        if (s->churn.model == SCENARIO_CHURN_NONE && !model_given &&
            d[i]->kind != SCENARIO_DIST_NONE)
            return fail(ld, key_pos(ld, kind_key), V, kind_key,
                        "%s is given but churn.model is none (the default); add churn.model: "
                        "sessions",
                        dists[i]);
    }
    if (s->churn.model == SCENARIO_CHURN_TRACE && !*s->churn.trace) {
        const char *at = key_given(ld, "churn.trace") ? "churn.trace" : "churn.model";
        return fail(ld, key_pos(ld, at), V, at,
                    "churn.model is trace, which needs churn.trace (a file of \"TIME PEER "
                    "up|down\" lines)");
    }
    if (s->churn.model == SCENARIO_CHURN_NONE && !model_given && *s->churn.trace)
        return fail(ld, key_pos(ld, "churn.trace"), V, "churn.trace",
                    "churn.trace is given but churn.model is none (the default); add "
                    "churn.model: trace");
    return true;
}

/* The super-peer election rule and the keys it reads (docs/superpeer.md, "Election").  As for
 * churn, a key only another rule reads, given while overlay.superpeer.election is left at its
 * default, is an error (it would be silently ignored).  With election capacity and no
 * capacity distribution, the default pareto(shape 2, scale 1) is filled in, so that the
 * resolved scenario names it. */
static bool check_superpeer(struct loader *ld, struct scenario *s)
{
    struct scenario_dist *cap = &s->overlay.superpeer.capacity;
    if (!check_dist(ld, "overlay.superpeer.capacity", cap))
        return false;
    static const struct {
        const char *key;
        enum scenario_election reads;
    } rules[] = {
        {"overlay.superpeer.capacity.dist", SCENARIO_ELECTION_CAPACITY},
        {"overlay.superpeer.min_capacity", SCENARIO_ELECTION_CAPACITY},
        {"overlay.superpeer.election_interval", SCENARIO_ELECTION_UPTIME},
        {"overlay.superpeer.min_uptime", SCENARIO_ELECTION_UPTIME},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(rules); i++)
        if (!key_given(ld, "overlay.superpeer.election") && key_given(ld, rules[i].key))
            return fail(ld, key_pos(ld, rules[i].key), SCENARIO_ERROR_VALUE, rules[i].key,
                        "%s is read only by the %s election, but overlay.superpeer.election is "
                        "random (the default); add overlay.superpeer.election: %s",
                        rules[i].key, election_names[rules[i].reads],
                        election_names[rules[i].reads]);
    if (s->overlay.superpeer.election == SCENARIO_ELECTION_CAPACITY &&
        cap->kind == SCENARIO_DIST_NONE) {
        cap->kind = SCENARIO_DIST_PARETO;
        cap->shape = 2;
        cap->scale = ENV_S; /* 1 */
    }
    return true;
}

/* Rules that involve more than one key.  Errors point at the key the user most likely set. */
bool scenario_security_on(const struct scenario *s)
{
    return s->hostile.fraction > 0 || s->hostile.drop || s->hostile.misroute || s->hostile.forge ||
           s->hostile.refuse_store != SCENARIO_REFUSE_NONE ||
           s->security.signatures != SCENARIO_SIGNATURES_NONE || s->security.redundant_paths > 1;
}

static bool check_cross(struct loader *ld, struct scenario *s)
{
    const int V = SCENARIO_ERROR_VALUE;
    const struct snode *sip_enclosing;
    s->sip.enabled = tree_lookup(ld->root, "sip", &sip_enclosing) != NULL;
    if (s->latency.min_ms > s->latency.max_ms) {
        const char *at = key_given(ld, "latency.min_ms") ? "latency.min_ms" : "latency.max_ms";
        char lo[32], hi[32];
        format_double(s->latency.min_ms, lo, sizeof lo);
        format_double(s->latency.max_ms, hi, sizeof hi);
        return fail(ld, key_pos(ld, at), V, at,
                    "latency.min_ms (%s) must not exceed latency.max_ms (%s)", lo, hi);
    }
    if (s->latency.model == SCENARIO_LATENCY_MATRIX && !*s->latency.matrix) {
        const char *at = key_given(ld, "latency.matrix") ? "latency.matrix" : "latency.model";
        return fail(ld, key_pos(ld, at), V, at,
                    "latency.model is matrix, which needs latency.matrix (a file of one-way "
                    "milliseconds, see docs/underlay.md)");
    }
    if (s->overlay.replicas > s->overlay.successors) {
        const char *at =
            key_given(ld, "overlay.replicas") ? "overlay.replicas" : "overlay.successors";
        return fail(ld, key_pos(ld, at), V, at,
                    "overlay.replicas (%u) must not exceed overlay.successors (%u): replicas "
                    "are stored on successors",
                    s->overlay.replicas, s->overlay.successors);
    }
    if (s->workload.keys_per_peer) {
        uint64_t per = s->workload.keys_per_peer;
        const char *at = "workload.keys_per_peer";
        if (per > UINT64_MAX / s->peers)
            return fail(ld, key_pos(ld, at), V, at, "peers * keys_per_peer overflows");
        uint64_t keys = per * s->peers;
        if (key_given(ld, "workload.keys") && s->workload.keys != keys)
            return fail(ld, key_pos(ld, "workload.keys"), V, "workload.keys",
                        "%" G_GUINT64_FORMAT
                        " contradicts workload.keys_per_peer (%" G_GUINT64_FORMAT
                        " per peer * %" G_GUINT32_FORMAT " peers = %" G_GUINT64_FORMAT
                        "); set only one of them",
                        s->workload.keys, per, s->peers, keys);
        s->workload.keys = keys;
    }
    /* Fetches follow the stores issued over the workload's first second (sim/world.c). */
    if (!key_given(ld, "workload.fetch_start")) {
        env_time start = s->workload.start;
        s->workload.fetch_start = start > UINT64_MAX - ENV_S ? UINT64_MAX : start + ENV_S;
    } else if (s->workload.fetch_start < s->workload.start) {
        const char *at =
            key_pos(ld, "workload.start")->origin && !key_pos(ld, "workload.fetch_start")->origin
                ? "workload.start"
                : "workload.fetch_start";
        char fetch[32], start[32];
        format_duration(s->workload.fetch_start, fetch, sizeof fetch);
        format_duration(s->workload.start, start, sizeof start);
        return fail(ld, key_pos(ld, at), V, at,
                    "workload.fetch_start (%s) must not be before workload.start (%s)", fetch,
                    start);
    }
    if (s->hostile.fraction > 0 && !s->hostile.drop && !s->hostile.misroute &&
        !s->hostile.forge && s->hostile.refuse_store == SCENARIO_REFUSE_NONE)
        return fail(ld, key_pos(ld, "hostile.fraction"), V, "hostile.fraction",
                    "hostile peers need at least one behaviour: hostile.drop, hostile.misroute "
                    "or hostile.forge true, or hostile.refuse_store error or silent");
    uint64_t honest = s->peers - (uint64_t)llround(s->hostile.fraction * s->peers);
    if (scenario_security_on(s) && s->workload.records > honest) {
        const char *at =
            key_given(ld, "workload.records") ? "workload.records" : "hostile.fraction";
        return fail(ld, key_pos(ld, at), V, at,
                    "%" G_GUINT64_FORMAT " records need as many honest peers to own them (one "
                    "each with hostile: or security: keys, docs/security.md); there are "
                    "%" G_GUINT64_FORMAT,
                    s->workload.records, honest);
    }
    if (s->workload.popularity == SCENARIO_POPULARITY_ZIPF && s->workload.keys == 0)
        return fail(ld, key_pos(ld, "workload.popularity"), V, "workload.popularity",
                    "zipf popularity ranks a finite set of keys: set workload.keys or "
                    "workload.keys_per_peer");
    if (s->clients.fraction > 0 && (s->sip.enabled || (s->nat.mix && s->nat.mix->len > 0) ||
                                    scenario_security_on(s)))
        return fail(ld, key_pos(ld, "clients.fraction"), V, "clients.fraction",
                    "clients are not simulated together with sip:, nat: or hostile:/security: "
                    "(docs/clients.md)");
    return check_churn(ld, s) && check_superpeer(ld, s);
}

/* ---- public API ---------------------------------------------------------------------------- */

/* A zeroed scenario whose structures exist (empty), so that every consumer may read them. */
static struct scenario *scenario_alloc(void)
{
    struct scenario *s = g_new0(struct scenario, 1);
    s->churn.events = g_array_new(FALSE, TRUE, sizeof(struct scenario_event));
    s->metrics.snapshots = g_array_new(FALSE, TRUE, sizeof(env_time));
    s->nat.mix = g_array_new(FALSE, TRUE, sizeof(struct scenario_nat_entry));
    s->services.list = g_array_new(FALSE, TRUE, sizeof(struct scenario_service));
    g_array_set_clear_func(s->services.list, service_clear);
    s->expect = g_ptr_array_new_with_free_func(expect_free);
    s->sweep = g_ptr_array_new_with_free_func(sweep_free);
    return s;
}

struct scenario *scenario_load(const char *path, const char *const *overrides, GError **err)
{
    g_return_val_if_fail(path != NULL, NULL);
    g_return_val_if_fail(err == NULL || *err == NULL, NULL);
    GError *local = NULL;
    struct loader ld = {.file = path, .err = &local};
    struct scenario *s = scenario_alloc();
    s->file = g_strdup(path);
    bool ok = load_tree(&ld);
    for (size_t i = 0; ok && overrides && overrides[i]; i++)
        ok = apply_override(&ld, overrides[i]);
    ok = ok && check_shape(&ld, ld.root, NULL) && apply_overlay_config(&ld, s) && fill(&ld, s) &&
         check_cross(&ld, s);
    snode_free(ld.root);
    if (!ok) {
        scenario_free(s);
        g_propagate_error(err, local);
        return NULL;
    }
    return s;
}

void scenario_free(struct scenario *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct scenario_key *k = &scenario_keys[i];
        void **field = (void **)((char *)s + k->offset);
        if (k->type == KEY_STRING)
            g_free(*field);
        else if ((k->type == KEY_EVENTS || k->type == KEY_TIMES || k->type == KEY_NAT_MIX ||
                  k->type == KEY_SERVICES) &&
                 *field)
            g_array_unref(*field);
        else if ((k->type == KEY_EXPECT || k->type == KEY_SWEEP) && *field)
            g_ptr_array_unref(*field);
    }
    config_free(s->overlay.doc);
    g_free(s->file);
    g_free(s);
}

size_t scenario_sweep_points(const struct scenario *s)
{
    size_t points = 1;
    for (guint i = 0; s->sweep && i < s->sweep->len; i++)
        points *= ((const struct scenario_sweep *)s->sweep->pdata[i])->values->len;
    return points;
}

char **scenario_sweep_overrides(const struct scenario *s, size_t point)
{
    g_return_val_if_fail(point < scenario_sweep_points(s), NULL);
    guint n = s->sweep ? s->sweep->len : 0;
    char **out = g_new0(char *, n + 1);
    /* Mixed radix, the last key the lowest digit. */
    for (guint i = n; i-- > 0;) {
        const struct scenario_sweep *w = s->sweep->pdata[i];
        guint len = w->values->len;
        out[i] = g_strdup_printf("%s=%s", w->key, (const char *)w->values->pdata[point % len]);
        point /= len;
    }
    return out;
}

static void yaml_quote(GString *out, const char *t)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_printf(out, "\\%c", *p);
        else if (*p == '\n')
            g_string_append(out, "\\n");
        else if (*p == '\t')
            g_string_append(out, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            g_string_append_printf(out, "\\x%02x", *p);
        else
            g_string_append_c(out, (char)*p);
    }
    g_string_append_c(out, '"');
}

/* Plain when that reads back as the same text (and not as null), else quoted. */
static void yaml_scalar(GString *out, const char *t)
{
    static const char *const null_words[] = {"null", "Null", "NULL", NULL};
    bool plain = (isalnum((unsigned char)*t) || *t == '.') && !g_strv_contains(null_words, t);
    for (const char *p = t; plain && *p; p++)
        plain = isalnum((unsigned char)*p) || strchr("._/+-", *p);
    if (plain)
        g_string_append(out, t);
    else
        yaml_quote(out, t);
}

/* A structure after "KEY:", at the given indentation of its own entries. */
static void yaml_structure(GString *out, const struct scenario *s, const struct scenario_key *k,
                           int indent)
{
    const void *field = *(void *const *)((const char *)s + k->offset);
    char buf[64];
    switch (k->type) {
    case KEY_EVENTS: {
        const GArray *events = field;
        if (!events || events->len == 0) {
            g_string_append(out, " []\n");
            break;
        }
        g_string_append_c(out, '\n');
        for (guint i = 0; i < events->len; i++) {
            const struct scenario_event *ev = &g_array_index(events, struct scenario_event, i);
            format_duration(ev->at, buf, sizeof buf);
            g_string_append_printf(out, "%*s- {at: %s, action: %s", indent, "", buf,
                                   action_names[ev->action]);
            switch (ev->action) {
            case SCENARIO_EVENT_FAIL:
                format_double(ev->fraction, buf, sizeof buf);
                g_string_append_printf(out, ", fraction: %s", buf);
                break;
            case SCENARIO_EVENT_PARTITION:
                g_string_append_printf(out, ", groups: %" G_GUINT32_FORMAT, ev->groups);
                break;
            case SCENARIO_EVENT_HEAL:
                break;
            case SCENARIO_EVENT_FLASH_CROWD:
                format_duration(ev->over, buf, sizeof buf);
                g_string_append_printf(out, ", peers: %" G_GUINT32_FORMAT ", over: %s", ev->peers,
                                       buf);
                break;
            }
            g_string_append(out, "}\n");
        }
        break;
    }
    case KEY_TIMES: {
        const GArray *times = field;
        g_string_append(out, " [");
        for (guint i = 0; times && i < times->len; i++) {
            format_duration(g_array_index(times, env_time, i), buf, sizeof buf);
            g_string_append_printf(out, "%s%s", i ? ", " : "", buf);
        }
        g_string_append(out, "]\n");
        break;
    }
    case KEY_EXPECT: {
        const GPtrArray *expect = field;
        if (!expect || expect->len == 0) {
            g_string_append(out, " {}\n");
            break;
        }
        g_string_append_c(out, '\n');
        for (guint i = 0; i < expect->len; i++) {
            const struct scenario_expect *e = expect->pdata[i];
            g_string_append_printf(out, "%*s", indent, "");
            yaml_scalar(out, e->metric);
            format_double(e->value, buf, sizeof buf);
            g_string_append_printf(out, ": \"%s %s\"\n", e->op, buf);
        }
        break;
    }
    case KEY_NAT_MIX: {
        const GArray *mix = field;
        if (!mix || mix->len == 0) {
            g_string_append(out, " []\n");
            break;
        }
        g_string_append_c(out, '\n');
        for (guint i = 0; i < mix->len; i++) {
            const struct scenario_nat_entry *e = &g_array_index(mix, struct scenario_nat_entry, i);
            format_double(e->share, buf, sizeof buf);
            g_string_append_printf(out, "%*s- {type: %s, share: %s", indent, "",
                                   nat_type_names[e->type], buf);
            if (e->type == SCENARIO_NAT_CUSTOM)
                g_string_append_printf(out, ", mapping: %s, filtering: %s",
                                       nat_behaviour_names[e->mapping],
                                       nat_behaviour_names[e->filtering]);
            if (e->type != SCENARIO_NAT_PUBLIC)
                g_string_append_printf(out, ", ports: %s", nat_ports_names[e->ports]);
            g_string_append(out, "}\n");
        }
        break;
    }
    case KEY_SERVICES: {
        const GArray *list = field;
        if (!list || list->len == 0) {
            g_string_append(out, " []\n");
            break;
        }
        g_string_append_c(out, '\n');
        for (guint i = 0; i < list->len; i++) {
            const struct scenario_service *e = &g_array_index(list, struct scenario_service, i);
            g_string_append_printf(out, "%*s- {name: ", indent, "");
            yaml_scalar(out, e->name);
            format_double(e->share, buf, sizeof buf);
            g_string_append_printf(out, ", share: %s, capacity: %" G_GUINT32_FORMAT, buf,
                                   e->capacity);
            format_double(e->weight, buf, sizeof buf);
            g_string_append_printf(out, ", weight: %s}\n", buf);
        }
        break;
    }
    case KEY_SWEEP: {
        const GPtrArray *sweep = field;
        if (!sweep || sweep->len == 0) {
            g_string_append(out, " {}\n");
            break;
        }
        g_string_append_c(out, '\n');
        for (guint i = 0; i < sweep->len; i++) {
            const struct scenario_sweep *w = sweep->pdata[i];
            g_string_append_printf(out, "%*s%s: [", indent, "", w->key);
            for (guint j = 0; j < w->values->len; j++) {
                g_string_append(out, j ? ", " : "");
                yaml_scalar(out, w->values->pdata[j]);
            }
            g_string_append(out, "]\n");
        }
        break;
    }
    default:
        g_assert_not_reached();
    }
}

/* One single value in file syntax. */
static void yaml_value(GString *out, const struct scenario *s, const struct scenario_key *k)
{
    const void *field = (const char *)s + k->offset;
    char buf[64];
    switch (k->type) {
    case KEY_STRING:
        yaml_quote(out, *(char *const *)field ? *(char *const *)field : "");
        break;
    case KEY_ENUM:
        g_string_append(out, k->choices[*(const int *)field]);
        break;
    case KEY_BOOL:
        g_string_append(out, *(const bool *)field ? "true" : "false");
        break;
    case KEY_U32:
        g_string_append_printf(out, "%" G_GUINT32_FORMAT, *(const uint32_t *)field);
        break;
    case KEY_U64:
        g_string_append_printf(out, "%" G_GUINT64_FORMAT, *(const uint64_t *)field);
        break;
    case KEY_DOUBLE:
        format_double(*(const double *)field, buf, sizeof buf);
        g_string_append(out, buf);
        break;
    case KEY_RATE:
        format_rate(*(const double *)field, buf, sizeof buf);
        g_string_append(out, buf);
        break;
    case KEY_DURATION:
        if (k->flags & KEY_PLAIN)
            format_double((double)*(const env_time *)field / 1e6, buf, sizeof buf);
        else
            format_duration(*(const env_time *)field, buf, sizeof buf);
        g_string_append(out, buf);
        break;
    case KEY_BANDWIDTH:
        format_bandwidth(*(const uint64_t *)field, buf, sizeof buf);
        g_string_append(out, buf);
        break;
    case KEY_SIZE:
        format_size(*(const uint32_t *)field, buf, sizeof buf);
        g_string_append(out, buf);
        break;
    default:
        g_assert_not_reached();
    }
}

/* Whether a distribution parameter holds a value (parameters are positive when given). */
static bool dist_param_set(const struct scenario *s, const struct scenario_key *k)
{
    const void *field = (const char *)s + k->offset;
    return k->type == KEY_DOUBLE ? *(const double *)field != 0 : *(const env_time *)field != 0;
}

char *scenario_to_yaml(const struct scenario *s)
{
    GString *out = g_string_new("# p2psip scenario, fully resolved: every key, defaults "
                                "included (docs/scenarios.md)\n");
    char **prev = g_new0(char *, 1);
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct scenario_key *k = &scenario_keys[i];
        if ((k->flags & KEY_DIST_PARAM) && !dist_param_set(s, k))
            continue; /* not a parameter of this distribution */
        if (!s->sip.enabled && g_str_has_prefix(k->name, "sip."))
            continue; /* no sip: section, no user agents */
        char **parts = g_strsplit(k->name, ".", -1);
        guint depth = g_strv_length(parts) - 1;
        /* Open the sections this key does not share with the previous one. */
        guint common = 0;
        while (common < depth && prev[common] && strcmp(prev[common], parts[common]) == 0)
            common++;
        for (guint d = common; d < depth; d++)
            g_string_append_printf(out, "%*s%s:\n", (int)(2 * d), "", parts[d]);
        g_string_append_printf(out, "%*s%s:", (int)(2 * depth), "", parts[depth]);
        if (key_is_structure(k)) {
            yaml_structure(out, s, k, (int)(2 * depth + 2));
        } else {
            g_string_append_c(out, ' ');
            yaml_value(out, s, k);
            g_string_append_c(out, '\n');
        }
        g_strfreev(prev);
        prev = parts;
    }
    g_strfreev(prev);
    return g_string_free(out, FALSE);
}

char *scenario_data_path(const struct scenario *s, const char *path)
{
    if (g_path_is_absolute(path) || !s->file)
        return g_strdup(path);
    char *dir = g_path_get_dirname(s->file);
    char *near = g_build_filename(dir, path, NULL);
    g_free(dir);
    if (g_file_test(near, G_FILE_TEST_EXISTS))
        return near;
    g_free(near);
    return g_strdup(path);
}

gboolean scenario_fail(GError **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    GError *e = g_error_new_valist(SCENARIO_ERROR, SCENARIO_ERROR_VALUE, fmt, ap);
    va_end(ap);
    g_propagate_error(err, e);
    return FALSE;
}
