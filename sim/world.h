/* world.h — the simulated world: one experiment built from a struct scenario and run in
 * virtual time on one discrete-event engine.
 *
 * The world owns N virtual peers, each a RELOAD node (core/node.h) behind a struct env whose
 * operations map onto the engine: datagrams become delivery events after the underlay
 * latency, timers become engine events, randomness comes from the peer's own stream of the
 * run seed.  An omniscient oracle (the sorted Node-IDs of the joined peers) names the peer
 * responsible for any key as CHORD-RELOAD does (RFC 6940 §10.1: the first Node-ID at or
 * after the key, wrapping), so that every lookup can be judged correct or not.  The workload
 * (lookups as a Poisson process, stores, fetches) and the metrics follow the scenario; the
 * path-length measurement reproduces Stoica et al., "Chord", SIGCOMM 2001, §6.3.
 *
 * Addresses: peer i listens on 10.0.0.0 + i + 1, UDP port 6084, so up to 2^24 - 2 peers fit
 * in 10.0.0.0/8 and a pcap of the run looks like a real network.
 *
 * Determinism: a world is a pure function of its scenario (seed included).  Every random
 * draw comes from a named stream: peer i uses stream i, Node-IDs, bootstrap choices and the
 * workload use streams of their own above 2^32.
 */
#ifndef P2PSIP_SIM_WORLD_H
#define P2PSIP_SIM_WORLD_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/env.h"
#include "../core/id.h"
#include "scenario.h"

#define WORLD_PORT 6084
#define WORLD_IP_BASE 0x0a000000u /* 10.0.0.0; peer i is WORLD_IP_BASE + i + 1 */
#define WORLD_MAX_PEERS 0xfffffeu /* every peer address stays inside 10.0.0.0/8 */

/* Message accounting slots: slot 0 is the link-layer ACK (code 0), slots 1..63 the RELOAD
 * message codes of that value, WORLD_SLOT_ERROR the Error response (0xffff) and
 * WORLD_SLOT_OTHER any other code. */
#define WORLD_SLOT_ERROR 64
#define WORLD_SLOT_OTHER 65
#define WORLD_SLOTS 66

struct world_traffic {
    uint64_t count;
    uint64_t bytes;
};

/* Raw measurements.  Only what completes at or after workload.start (the end of the warm-up)
 * is counted; messages count when sent at or after workload.start. */
struct world_metrics {
    uint64_t lookups_issued;
    uint64_t lookups_completed;
    uint64_t lookups_answered; /* completed with status 0 */
    uint64_t lookups_correct;  /* answered by the peer the oracle names responsible */
    uint64_t lookup_timeouts;  /* completed with NODE_E_TIMEOUT */
    uint64_t stores, stores_ok, stores_failed;
    uint64_t fetches, fetches_found, fetches_not_found, fetches_failed;
    uint64_t joins_done;            /* ENV_EV_JOIN_DONE, whole run (warm-up included) */
    uint64_t dropped_undeliverable; /* datagrams to a dead or unknown address, whole run */
    uint64_t dropped_malformed;     /* ENV_EV_MSG_DROPPED, whole run */
    uint64_t links_failed;          /* ENV_EV_LINK_FAILED, whole run */
    struct world_traffic traffic[WORLD_SLOTS];
    uint64_t hops_hist[256]; /* answered lookups by hop count (>= 255 in the last bin) */
    GArray *hops;            /* uint32_t per answered lookup, in completion order */
    GArray *latency;         /* env_time per answered lookup, in completion order */
};

/* Figures derived from the metrics.  Percentiles are nearest-rank: the p-th percentile of n
 * sorted samples x[0..n-1] is x[ceil(p/100 * n) - 1] (x[0] for p = 0); 0 when n = 0. */
struct world_summary {
    uint32_t peers;
    uint32_t joined;   /* peers in the oracle at the end */
    double measured_s; /* duration - workload.start, seconds */
    uint64_t lookups, lookups_completed, lookups_correct, lookup_timeouts, lookups_unfinished;
    double lookup_success; /* lookups_correct / lookups_completed (1 when none) */
    double hops_mean;
    uint32_t hops_p50, hops_p99, hops_max;
    double latency_ms_mean, latency_ms_p50, latency_ms_p95, latency_ms_p99, latency_ms_max;
    uint64_t stores, stores_ok, stores_failed;
    uint64_t fetches, fetches_found, fetches_not_found, fetches_failed;
    uint64_t messages, message_bytes; /* RELOAD messages (every code but 0) */
    uint64_t acks, ack_bytes;         /* link-layer ACKs */
    double bytes_per_peer_per_s;      /* (message_bytes + ack_bytes) / peers / measured_s */
    double messages_per_peer_per_s;   /* messages / peers / measured_s */
    uint64_t events;                  /* engine events run */
    uint64_t dropped;                 /* undeliverable + malformed */
};

struct world;

struct world_options {
    const char *out_dir; /* folder output.pcap is written in; NULL: the current folder */
    bool verbose;        /* print the nodes' log lines on stderr with time and peer */
};

/* Builds the world: the engine, the peers and their nodes, the ring (instant join) or the
 * join schedule (protocol join), and the workload.  sc is borrowed and must outlive the
 * world; opt may be NULL (defaults: no out_dir, quiet).  Returns NULL and sets *err on a
 * scenario the world cannot run (unknown topology, too many peers) or when the pcap cannot be
 * opened. */
struct world *world_new(const struct scenario *sc, const struct world_options *opt, GError **err);
/* Frees the nodes, the messages still in flight, the engine and the metrics. */
void world_free(struct world *w);

/* Runs every event up to min(t, duration). */
void world_run_until(struct world *w, env_time t);
/* Called between slices of world_run (a few hundred thousand events each, at most 1 % of
 * the duration of simulated time), for progress reports. */
typedef void (*world_progress_fn)(void *ud, const struct world *w);
/* Runs the whole experiment to the scenario's duration. */
void world_run(struct world *w, world_progress_fn progress, void *ud);

env_time world_now(const struct world *w);
env_time world_duration(const struct world *w);
uint64_t world_events(const struct world *w);
const struct world_metrics *world_metrics(const struct world *w);
/* Computes the summary; sorts copies of the sample arrays, so it may be called at any time. */
void world_summarize(const struct world *w, struct world_summary *out);
/* Sorted latencies of answered lookups (a new array of env_time; g_array_unref it). */
GArray *world_sorted_latencies(const struct world *w);
/* Name of a traffic slot: "ack", a RELOAD message name (wire_code_name), or "other". */
const char *world_slot_name(unsigned slot);

/* ---- the oracle and the peers, for tests and snapshots ---- */
uint32_t world_peers(const struct world *w);
uint32_t world_joined(const struct world *w);
struct node *world_node(const struct world *w, uint32_t index);
/* The joined peer responsible for k (first Node-ID >= k, wrapping); -1 when none joined. */
int64_t world_responsible(const struct world *w, const struct id *k);
/* Address of peer index. */
struct env_addr world_addr(uint32_t index);

/* Nearest-rank percentile of n sorted samples (see struct world_summary). */
size_t world_rank(size_t n, double p);

#endif
