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

struct config; /* config/config.h */

enum scenario_latency_model {
    SCENARIO_LATENCY_CONSTANT,
    SCENARIO_LATENCY_UNIFORM,
    SCENARIO_LATENCY_COORDINATES, /* synthetic coordinates: Euclidean + height */
    SCENARIO_LATENCY_MATRIX,      /* one-way milliseconds from a file */
};
enum scenario_join { SCENARIO_JOIN_INSTANT, SCENARIO_JOIN_PROTOCOL };
/* How a joining peer finds a bootstrap peer (docs/bootstrap.md, "In the simulator"). */
enum scenario_bootstrap {
    SCENARIO_BOOTSTRAP_RANDOM,     /* a uniformly chosen joined peer (an oracle) */
    SCENARIO_BOOTSTRAP_CONFIGURED, /* the first live one of peers 0..3 */
    SCENARIO_BOOTSTRAP_REMEMBERED, /* its routing table at its last departure, then configured */
    SCENARIO_BOOTSTRAP_SERVER,     /* a server that fails over through peers 0..3 */
};

/* A probability distribution with named parameters (sim/dist.h samples it).  Which
 * parameters apply depends on the kind; the loader checks that exactly the needed ones are
 * given and positive:
 *   constant:    value                       (key .value)
 *   exponential: mean                        (key .mean)
 *   pareto:      shape (alpha > 1) and either scale (x_m) or mean
 *   weibull:     shape (k) and either scale (lambda) or median
 *   lognormal:   sigma and either median (= e^mu) or mean
 * Time-valued parameters are durations (held in microseconds). */
enum scenario_dist_kind {
    SCENARIO_DIST_NONE,
    SCENARIO_DIST_CONSTANT,
    SCENARIO_DIST_EXPONENTIAL,
    SCENARIO_DIST_PARETO,
    SCENARIO_DIST_WEIBULL,
    SCENARIO_DIST_LOGNORMAL,
};
struct scenario_dist {
    enum scenario_dist_kind kind; /* .dist: constant|exponential|pareto|weibull|lognormal */
    env_time value;               /* .value */
    env_time mean;                /* .mean */
    env_time scale;               /* .scale */
    env_time median;              /* .median */
    double shape;                 /* .shape */
    double sigma;                 /* .sigma */
};

/* A scripted event (churn.events: a list of mappings). */
enum scenario_event_action {
    SCENARIO_EVENT_FAIL,        /* crash `fraction` of the live peers at once */
    SCENARIO_EVENT_PARTITION,   /* split the network into `groups` groups (by peer index) */
    SCENARIO_EVENT_HEAL,        /* remove the partition */
    SCENARIO_EVENT_FLASH_CROWD, /* `peers` new peers join over `over` */
};
struct scenario_event {
    env_time at;                        /* at: (required) */
    enum scenario_event_action action;  /* action: fail | partition | heal | flash_crowd */
    double fraction;                    /* fraction: (fail) in (0, 1] */
    uint32_t groups;                    /* groups: (partition) >= 2 */
    uint32_t peers;                     /* peers: (flash_crowd) >= 1 */
    env_time over;                      /* over: (flash_crowd) 10s, joins spread uniformly */
};

/* An expectation (expect: metric: "OP NUMBER"), checked against summary.tsv at the end. */
struct scenario_expect {
    char *metric; /* a summary.tsv metric name */
    char *op;     /* one of >=, <=, >, <, ==, != */
    double value;
    char *where;  /* "FILE:LINE:COLUMN" of the expectation, for messages */
};

/* One swept key (sweep: KEY: [V1, V2, ...]); keys are crossed in file order. */
struct scenario_sweep {
    char *key;        /* a dotted scenario key */
    GPtrArray *values; /* char * strings, applied like --set KEY=VALUE */
};

enum scenario_churn_model { SCENARIO_CHURN_NONE, SCENARIO_CHURN_SESSIONS, SCENARIO_CHURN_TRACE };
/* How the simulator elects super-peers (overlay.superpeer.election; docs/superpeer.md):
 * random: each peer with probability share, for life; capacity: the share of peers with the
 * highest capacity drawn from overlay.superpeer.capacity, for life; uptime: random at the
 * start, then ordinary peers with the longest uptime are promoted as the tier needs them. */
enum scenario_election {
    SCENARIO_ELECTION_RANDOM,
    SCENARIO_ELECTION_CAPACITY,
    SCENARIO_ELECTION_UPTIME,
};
enum scenario_arrivals { SCENARIO_ARRIVALS_SYSTEM, SCENARIO_ARRIVALS_PER_PEER };
/* Which joined peers a client attaches to (clients.attach; docs/clients.md). */
enum scenario_client_attach { SCENARIO_CLIENT_ATTACH_RANDOM, SCENARIO_CLIENT_ATTACH_NEAREST };
enum scenario_popularity { SCENARIO_POPULARITY_UNIFORM, SCENARIO_POPULARITY_ZIPF };

/* NATs (nat: block, docs/nat.md, RFC 4787).  A mix entry's type is a shorthand for a mapping
 * and a filtering behaviour, or custom with both given. */
enum scenario_nat_type {
    SCENARIO_NAT_PUBLIC,          /* no NAT */
    SCENARIO_NAT_FULL_CONE,       /* endpoint-independent mapping and filtering */
    SCENARIO_NAT_RESTRICTED,      /* EIM, address-dependent filtering */
    SCENARIO_NAT_PORT_RESTRICTED, /* EIM, address-and-port-dependent filtering */
    SCENARIO_NAT_SYMMETRIC,       /* address-and-port-dependent mapping and filtering */
    SCENARIO_NAT_CUSTOM,          /* mapping: and filtering: given */
};
#define SCENARIO_NAT_TYPES (SCENARIO_NAT_CUSTOM + 1)
/* RFC 4787 §4.1 (mapping) and §5 (filtering), in order of strictness. */
enum scenario_nat_behaviour {
    SCENARIO_NAT_ENDPOINT_INDEPENDENT,
    SCENARIO_NAT_ADDRESS_DEPENDENT,
    SCENARIO_NAT_ADDRESS_PORT_DEPENDENT,
};
/* External port assignment (RFC 4787 §4.2): keep the internal port when free (else the next
 * free one), or a seeded random port (then the next free one). */
enum scenario_nat_ports { SCENARIO_NAT_PORTS_PRESERVE, SCENARIO_NAT_PORTS_RANDOM };
struct scenario_nat_entry {
    enum scenario_nat_type type;           /* type: (required) */
    double share;                          /* share: (required) in [0, 1] */
    enum scenario_nat_behaviour mapping;   /* mapping: (custom only; filled in for shorthands) */
    enum scenario_nat_behaviour filtering; /* filtering: (custom only; filled in likewise) */
    enum scenario_nat_ports ports;         /* ports: preserve (random for symmetric) */
};

/* A service some peers offer (services.list; docs/services.md, core/service.h). */
struct scenario_service {
    char *name;        /* name: (required) the service name, 1..255 bytes of free text */
    double share;      /* share: (required) fraction of the scenario's peers offering it, in
                          [0, 1]; round(share x peers) peers, at least one when share > 0 */
    uint32_t capacity; /* capacity: 1 (advertised in every record) */
    double weight;     /* weight: 1 (relative share of the service lookups that ask for it) */
};

/* How a hostile peer refuses Stores (hostile.refuse_store; enum node_refuse's order). */
enum scenario_refuse { SCENARIO_REFUSE_NONE, SCENARIO_REFUSE_ERROR, SCENARIO_REFUSE_SILENT };
/* security.signatures: none (unsigned, as RFC 6940 without §13), modelled (sim/secmodel.h:
 * real sizes and CPU cost, deterministic), real (sec/provider.h: X.509 and ECDSA). */
enum scenario_signatures {
    SCENARIO_SIGNATURES_NONE,
    SCENARIO_SIGNATURES_MODELLED,
    SCENARIO_SIGNATURES_REAL,
};

struct scenario {
    char *file;  /* path it was read from */
    char *name;  /* name: (required) */
    uint64_t seed;        /* seed: 1 */
    env_time duration;    /* duration: (required) simulated time of the whole run */
    uint32_t peers;       /* peers: (required, >= 1) */
    struct {
        char *topology;          /* overlay.topology: chord | bamboo | superpeer */
        char *name;              /* overlay.name: "p2psip.example" (overlay hash source) */
        /* overlay.config: "" (an overlay configuration document, RFC 6940 §11.1; its values
         * are the defaults of the overlay.* keys it names, docs/config.md).  doc is the parsed
         * document (NULL without one); the world takes its kinds and sequence from it. */
        char *config;
        struct config *doc;
        enum scenario_join join; /* overlay.join: instant | protocol */
        env_time join_interval;  /* overlay.join_interval: 200ms between protocol joins */
        uint32_t successors;     /* overlay.successors: 4 */
        uint32_t predecessors;   /* overlay.predecessors: 4 */
        uint32_t replicas;       /* overlay.replicas: 2 */
        env_time update_interval; /* overlay.update_interval: 60s */
        env_time ping_interval;   /* overlay.ping_interval: 60s */
        bool reactive;            /* overlay.reactive: true */
        env_time reliability_timer; /* overlay.reliability_timer: 3s */
        struct {
            uint32_t digit_bits;       /* overlay.bamboo.digit_bits: 4 (base 2^b digits) */
            uint32_t leaf_set;         /* overlay.bamboo.leaf_set: 8 (per side) */
            env_time leafset_interval; /* overlay.bamboo.leafset_interval: 5s */
            env_time table_interval;   /* overlay.bamboo.table_interval: 10s */
            bool reactive;             /* overlay.bamboo.reactive: false */
            bool pns;                  /* overlay.bamboo.pns: true */
        } bamboo;
        struct {
            double share;       /* overlay.superpeer.share: 0.1 (fraction of super-peers) */
            env_time keepalive; /* overlay.superpeer.keepalive: 15s */
            enum scenario_election election; /* overlay.superpeer.election: random */
            /* overlay.superpeer.capacity.*: capacities are plain numbers, held like durations
             * (x 10^6, so dist_sample()'s microseconds are micro-units); with election
             * capacity and no distribution given, the loader fills in pareto(2, scale 1). */
            struct scenario_dist capacity;
            double min_capacity;        /* overlay.superpeer.min_capacity: 0 */
            env_time election_interval; /* overlay.superpeer.election_interval: 30s */
            env_time min_uptime;        /* overlay.superpeer.min_uptime: 10m */
        } superpeer;
    } overlay;
    struct {
        enum scenario_bootstrap method; /* bootstrap.method: random */
    } bootstrap;
    uint32_t seeds; /* seeds: 1; runs per sweep point with seeds seed, seed+1, ... */
    struct {
        enum scenario_latency_model model; /* latency.model: constant|uniform|coordinates|matrix */
        double ms;     /* latency.ms: 50 (constant, one-way) */
        double min_ms; /* latency.min_ms: 10 (uniform, per message) */
        double max_ms; /* latency.max_ms: 100 */
        uint32_t dims;       /* latency.dims: 2 (coordinates: Euclidean dimensions) */
        double side_ms;      /* latency.side_ms: 150 (coordinates: side of the cube, ms) */
        double height_ms;    /* latency.height_ms: 10 (coordinates: mean access height, ms,
                                exponential) */
        char *matrix;        /* latency.matrix: "" (matrix: file of one-way ms, see docs) */
        double jitter_ms;    /* latency.jitter_ms: 0 (added per message, exponential mean) */
    } latency;
    struct {
        double loss;          /* network.loss: 0 (probability a datagram is lost) */
        uint64_t upload_bps;  /* network.upload: 0 = unlimited ("1Mbit", "512kbit", bits/s) */
        uint64_t download_bps; /* network.download: 0 = unlimited */
        uint32_t queue_bytes; /* network.queue: 65536 (bytes per access-link queue) */
    } network;
    struct {
        enum scenario_churn_model model; /* churn.model: none | sessions | trace */
        struct scenario_dist session;    /* churn.session.*: time a peer stays up */
        struct scenario_dist downtime;   /* churn.downtime.*: time a peer stays down */
        char *trace;                     /* churn.trace: "" (file of "TIME PEER up|down") */
        double graceful;                 /* churn.graceful: 0.5 (fraction of departures that
                                            Leave; the rest crash) */
        env_time start;                  /* churn.start: 0 (churn begins) */
        GArray *events;                  /* churn.events: struct scenario_event, sorted by at
                                            (--set churn.events.N.FIELD: N in file order) */
    } churn;
    struct {
        env_time start;          /* workload.start: 10s; measurement starts here (warm-up) */
        uint64_t lookups;        /* workload.lookups: 1000 total lookups (0 = no limit) */
        double lookup_rate;      /* workload.lookup_rate: 100/s, Poisson (0 = no lookups) */
        enum scenario_arrivals arrivals; /* workload.arrivals: system | per_peer: whether the
                                            rates are for the whole system or each live peer */
        enum scenario_popularity popularity; /* workload.popularity: uniform | zipf (keys) */
        double zipf_alpha;       /* workload.zipf_alpha: 1.0 */
        env_time refresh;        /* workload.refresh: 0 (owners re-store records this often;
                                    0 = never) */
        uint64_t keys;           /* workload.keys: 0 = lookups pick random ids */
        uint64_t keys_per_peer;  /* workload.keys_per_peer: 0; when set, keys = peers * this */
        uint64_t records;        /* workload.records: 0 records stored by random peers at start */
        uint32_t record_lifetime; /* workload.record_lifetime: 3600 (seconds) */
        uint32_t value_size;     /* workload.value_size: 64 bytes */
        uint64_t fetches;        /* workload.fetches: 0 fetches of stored records */
        double fetch_rate;       /* workload.fetch_rate: 100 per second */
        env_time fetch_start;    /* workload.fetch_start: workload.start + 1s (>= start); the
                                    first fetch is issued after it */
    } workload;
    /* SIP user agents (docs/sip.md, "SIP in the simulator"): only when the file has a sip:
     * section (or a --set/sweep gives a sip.* key); scenario_to_yaml writes it only then. */
    struct {
        bool enabled;              /* a sip: section is present */
        uint32_t users_per_peer;   /* sip.users_per_peer: 1 (user agents on each peer's host) */
        double call_rate;          /* sip.call_rate: 2/h per live user, Poisson (0 = no calls) */
        env_time answer_delay;     /* sip.answer_delay: 2s (180 at once, 200 this much later) */
        env_time call_duration;    /* sip.call_duration: 1m (ACK to BYE) */
        env_time register_expires; /* sip.register_expires: 1h (REGISTER Expires; refreshed at
                                      nine tenths) */
    } sip;
    struct {
        env_time interval;   /* metrics.interval: 10s (time-series step) */
        GArray *snapshots;   /* metrics.snapshots: [] (env_time: overlay graph snapshots) */
    } metrics;
    struct {
        char *pcap;  /* output.pcap: "" (empty = none); file name inside the run folder */
        bool plots;  /* output.plots: true (render gnuplot PNG/SVG when gnuplot exists) */
    } output;
    struct {
        GArray *mix;              /* nat.mix: [] (struct scenario_nat_entry; empty = every peer
                                     public, no NAT layer at all); shares sum to 1 */
        env_time binding_timeout; /* nat.binding_timeout: 120s (RFC 4787 §4.3) */
        bool inbound_refresh;     /* nat.inbound_refresh: false (outbound refreshes only) */
        bool hairpin;             /* nat.hairpin: false (RFC 4787 §6) */
        uint32_t peers_per_nat;   /* nat.peers_per_nat: 1 (hosts sharing one box) */
        bool traversal;           /* nat.traversal: true (core/ice.c: candidates, checks, relays) */
        uint32_t relays;          /* nat.relays: 8 (public peers that relay for the others) */
        uint32_t relay_servers;   /* nat.relay_servers: 0 (relay/STUN hosts outside the overlay) */
        /* nat.relay_discovery: configured (the relays are the configuration's list) | service
         * (the first nat.bootstrap_relays of them are configured; the nat.relays relay peers
         * advertise service "relay" with nat.relay_capacity and NATed peers find theirs with
         * nat.relay_policy; docs/nat.md, "Relays from the directory") */
        enum scenario_relay_discovery {
            SCENARIO_RELAYS_CONFIGURED,
            SCENARIO_RELAYS_SERVICE
        } relay_discovery;
        char *relay_policy;        /* nat.relay_policy: two_choices (services.policy names) */
        uint32_t relay_capacity;   /* nat.relay_capacity: 100 (clients a relay advertises) */
        uint32_t bootstrap_relays; /* nat.bootstrap_relays: 1 (service discovery only) */
        bool relay_failover;       /* nat.relay_failover: true (replace a failed relay) */
    } nat;
    struct {
        GArray *list;      /* services.list: [] (struct scenario_service; empty = no services,
                              no service rows in summary.tsv) */
        double lookup_rate; /* services.lookup_rate: 0.2/min, Poisson (0 = no lookups) */
        enum scenario_arrivals arrivals; /* services.arrivals: per_peer | system */
        char *policy;      /* services.policy: random | least_loaded | lowest_rtt |
                              two_choices */
        env_time lifetime; /* services.lifetime: 300s (stored records; refreshed at 80-90 %) */
        env_time hold;     /* services.hold: 60s (a selection adds 1 to the chosen provider's
                              load for this long; 0 = selections add no load) */
    } services;
    /* Hostile peers and countermeasures (docs/security.md; core/adversary.c, core/redundant.c).
     * hostile.fraction of the scenario's peers (round(fraction x peers), chosen by the seed)
     * misbehave as the flags say; the workload's lookups, stores and fetches come from the
     * others. */
    struct {
        double fraction;    /* hostile.fraction: 0, in [0, 1) */
        bool drop;          /* hostile.drop: false (requests to forward are dropped) */
        bool misroute;      /* hostile.misroute: false (... sent to a random table entry) */
        bool forge;         /* hostile.forge: false (Fetches answered with forged values,
                               lookups passing through answered as if responsible) */
        enum scenario_refuse refuse_store; /* hostile.refuse_store: none | error | silent */
    } hostile;
    struct {
        enum scenario_signatures signatures; /* security.signatures: none | modelled | real */
        uint32_t redundant_paths; /* security.redundant_paths: 1 (lookups and fetches over k
                                     paths, 1..16) */
        env_time sign_cost;       /* security.sign_cost: 30us (modelled CPU per signature) */
        env_time verify_cost;     /* security.verify_cost: 90us (modelled CPU per check) */
    } security;
    /* Clients (RFC 6940 §4.2; docs/clients.md): hosts that attach to peers and neither route
     * nor store.  clients.fraction F of all hosts: round(peers x F / (1 - F)) clients beside
     * the scenario's peers. */
    struct {
        double fraction;    /* clients.fraction: 0, in [0, 0.95] */
        uint32_t peers;     /* clients.peers: 2 (random joined peers a client attaches to,
                               used in order on link failure; 1..8) */
        env_time keepalive; /* clients.keepalive: 0s (the client's probe Ping period; 0:
                               none, a dead peer is noticed by the next request) */
        enum scenario_client_attach attach; /* clients.attach: random | nearest (the lowest
                                               base latency from the client) */
    } clients;
    GPtrArray *expect; /* expect: struct scenario_expect *, in file order */
    GPtrArray *sweep;  /* sweep: struct scenario_sweep *, in file order */
};

/* Rates are written "0.5/s", "30/min", "2/h" (a bare number is per second) and held per
 * second; bandwidths "1Mbit", "512kbit", "10Gbit", "800bit" (also "kB", "MB" for bytes) held
 * in bits per second; sizes "64KB", "1MB" or bytes.
 *
 * Loads path and applies overrides ("key=value" strings, dotted keys, NULL-terminated or
 * NULL).  A key may name one element of a sequence the file gives: churn.events.N.FIELD or
 * metrics.snapshots.N, N counting from 0 in the order the file lists them.  Returns NULL and
 * sets *err (domain SCENARIO_ERROR) on any problem. */
struct scenario *scenario_load(const char *path, const char *const *overrides, GError **err);
void scenario_free(struct scenario *s);
/* The fully resolved scenario as YAML (defaults included); g_free the result. */
char *scenario_to_yaml(const struct scenario *s);

/* Sweeps: the number of points of the sweep block (the product of its value-list lengths; 1
 * without a sweep), and the overrides of one point (0 <= point < points) as a NULL-terminated
 * string vector of "KEY=VALUE" (g_strfreev it).  Keys are crossed in file order, the last key
 * varying fastest.  Loading the same file with these overrides (the sweep block may stay)
 * gives that point's scenario. */
size_t scenario_sweep_points(const struct scenario *s);
char **scenario_sweep_overrides(const struct scenario *s, size_t point);

/* Whether any hostile: or security: key differs from its default: the world then runs hostile
 * peers and countermeasures, with the workload of docs/security.md ("The workload and the
 * oracle"), and summary.tsv has the security rows. */
bool scenario_security_on(const struct scenario *s);

/* A data file named by a scenario key (latency.matrix, churn.trace): a relative path is looked
 * up next to the scenario file first, then in the current folder.  g_free the result. */
char *scenario_data_path(const struct scenario *s, const char *path);
/* Sets *err (domain SCENARIO_ERROR, code SCENARIO_ERROR_VALUE) from a printf format and returns
 * FALSE, so that a model's parameter check reads `return scenario_fail(err, ...)`. */
gboolean scenario_fail(GError **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

#define SCENARIO_ERROR (scenario_error_quark())
GQuark scenario_error_quark(void);
enum { SCENARIO_ERROR_SYNTAX, SCENARIO_ERROR_KEY, SCENARIO_ERROR_VALUE, SCENARIO_ERROR_IO };

#endif
