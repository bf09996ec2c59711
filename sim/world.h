/* world.h — the simulated world: one experiment built from a struct scenario and run in
 * virtual time on one discrete-event engine.
 *
 * The world owns the virtual peers, each a RELOAD node (core/node.h) behind a struct env
 * whose operations map onto the engine: datagrams cross the underlay (sim/underlay.h: latency,
 * jitter, loss, access links, partitions) and become delivery events, timers become engine
 * events, randomness comes from the peer's own stream of the run seed.  Churn (sim/churn.h)
 * starts and stops peers: a peer that comes up joins through the protocol (RFC 6940 §10.5)
 * with the Node-ID it always had; a graceful departure sends Leave (§10.9) first, a crash
 * does not.  An omniscient oracle (the sorted Node-IDs of the joined peers that are up) names
 * the peer responsible for any key as CHORD-RELOAD does (§10.1: the first Node-ID at or after
 * the key, wrapping), so that every lookup can be judged correct or not.  The workload
 * (lookups, stores with owner refreshes, fetches; Poisson arrivals for the whole system or per
 * live peer; uniform or Zipf key popularity) and the metrics follow the scenario; the
 * path-length measurement reproduces Stoica et al., "Chord", SIGCOMM 2001, §6.3.  With a
 * services block, chosen peers advertise services and the workload looks them up by name
 * (core/service.h, docs/services.md).
 *
 * Addresses: peer i listens on 10.0.0.0 + i + 1, UDP port 6084, so up to 2^24 - 2 peers fit
 * in 10.0.0.0/8 and a pcap of the run looks like a real network.  Peers 0..peers-1 are the
 * scenario's; flash crowds (churn.events) use the slots after them, then relay servers, then
 * clients (clients:, docs/clients.md: hosts whose nodes attach to peers and never join; not
 * counted by world_peers, the oracle or the per-peer figures).  With a nat block
 * (sim/nat.h, docs/nat.md) a peer behind a NAT box keeps that address as its private one,
 * reachable only from behind the same box; boxes have public addresses in 100.64.0.0/10, and
 * the datagrams crossing them are translated when sent and filtered when they arrive.  With a
 * sip: section (sim/sipua.h) the host of peer i also has SIP ports: its proxy/registrar on
 * 5060 and its user agents from 5062; SIP datagrams between two of one host's ports are
 * loopback (no underlay, no NAT).
 *
 * Determinism: a world is a pure function of its scenario (seed included).  Every random
 * draw comes from a named stream: peer i uses stream i (for its node and its datagrams'
 * underlay draws), Node-IDs, bootstrap choices, the workload and churn use streams of their
 * own above 2^32.
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

/* Traffic classes.  Application traffic is what carries the workload: Ping (the lookups),
 * Store and Fetch requests and their answers.  Maintenance is everything else: Join, Leave,
 * Update, RouteQuery, Probe, Attach, Error responses and every link-layer ACK.  The class
 * follows the message code only, so two kinds of overlay upkeep count as application: the
 * replica and hand-over Stores of §10.4/§10.9 and the partition-detection Ping of §10.7.4.4
 * (one per peer per partition interval); traffic.tsv keeps every code apart for a finer
 * split. */
enum world_class { WORLD_CLASS_APPLICATION, WORLD_CLASS_MAINTENANCE };

struct world_traffic {
    uint64_t count;
    uint64_t bytes;
};

/* Raw measurements.  Only what completes at or after workload.start (the end of the warm-up)
 * is counted; messages count when sent at or after workload.start.  Counters marked "whole
 * run" include the warm-up. */
struct world_metrics {
    uint64_t lookups_issued;
    uint64_t lookups_completed;
    uint64_t lookups_answered;   /* completed with status 0 */
    uint64_t lookups_correct;    /* answered by the peer the oracle names responsible */
    uint64_t lookups_consistent; /* correct, and that peer was also responsible at issue */
    uint64_t lookup_timeouts;    /* completed with NODE_E_TIMEOUT */
    /* End-to-end retransmissions of completed lookups: env_event.retransmits, or when the
     * core leaves it at 0, floor(latency / reliability_timer) (max_transmissions - 1 for a
     * timeout), which is what the core's fixed retransmission timer implies (§6.2.1). */
    uint64_t lookup_retransmits;
    uint64_t stores, stores_ok, stores_failed;          /* the records' first stores */
    uint64_t refreshes, refreshes_ok, refreshes_failed; /* owners' re-stores */
    uint64_t fetches, fetches_found, fetches_not_found, fetches_failed;
    uint64_t joins_done;            /* ENV_EV_JOIN_DONE, whole run (warm-up included) */
    uint64_t dropped_undeliverable; /* datagrams to a peer that is down, whole run */
    uint64_t dropped_malformed;     /* ENV_EV_MSG_DROPPED, whole run */
    uint64_t dropped_loss;          /* underlay: random loss, whole run */
    uint64_t dropped_queue;         /* underlay: an access-link queue was full, whole run */
    uint64_t dropped_partition;     /* underlay: across a partition, whole run */
    uint64_t dropped_nat;           /* stopped by a NAT box or sent to a private address from
                                       outside its box (sim/nat.h), whole run */
    uint64_t links_failed;          /* ENV_EV_LINK_FAILED, whole run */
    uint64_t snapshots;             /* overlay graph snapshots written */
    uint64_t promotions;            /* ordinary peers promoted to super-peers, whole run */
    struct world_traffic traffic[WORLD_SLOTS];
    uint64_t hops_hist[256]; /* answered lookups by hop count (>= 255 in the last bin) */
    uint64_t hops_sum;       /* sum of the hops of answered lookups */
    GArray *hops;            /* uint32_t per answered lookup, in completion order */
    GArray *latency;         /* env_time per answered lookup, in completion order */
};

/* Figures derived from the metrics.  Percentiles are nearest-rank: the p-th percentile of n
 * sorted samples x[0..n-1] is x[ceil(p/100 * n) - 1] (x[0] for p = 0); 0 when n = 0.
 *
 * "Per peer per second" figures divide by the live peer-seconds of the measured window (the
 * integral of the number of peers that are up from workload.start to the end), so that churn
 * is accounted for; without churn that is peers × measured_s. */
struct world_summary {
    uint32_t peers;    /* the scenario's peers (flash crowds not included) */
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
    double bytes_per_peer_per_s;      /* (message_bytes + ack_bytes) / live peer-seconds */
    double messages_per_peer_per_s;   /* messages / live peer-seconds */
    uint64_t events;                  /* engine events run */
    uint64_t dropped;                 /* undeliverable + malformed */

    /* Consistency: the fraction of completed lookups answered by the peer the oracle names
     * responsible both when the lookup was issued and when it completed (1 when none); a
     * lookup whose key changed hands in between is correct but not consistent. */
    double lookup_consistency;
    double retransmits_per_lookup; /* end-to-end retransmissions per completed lookup */
    uint64_t application_messages, application_bytes; /* enum world_class, ACKs excluded */
    uint64_t maintenance_messages, maintenance_bytes; /* ACKs included */
    double application_bytes_per_peer_per_s, maintenance_bytes_per_peer_per_s;
    uint64_t records_stored; /* records whose first store succeeded */
    uint64_t records_lost;   /* stored, unexpired records no live peer holds, at the end */
    uint64_t refreshes, refreshes_ok, refreshes_failed;
    uint32_t alive_end;              /* peers up at the end */
    double alive_mean;               /* mean number of peers up over the measured window */
    uint64_t joins, leaves, crashes; /* churn arrivals and departures, whole run */
    uint64_t joins_completed;        /* ENV_EV_JOIN_DONE, whole run */
    uint64_t dropped_undeliverable, dropped_malformed;
    uint64_t dropped_loss, dropped_queue, dropped_partition;
    uint64_t links_failed;
    uint64_t snapshots;
    /* Super-peer topology only (summary rows only then): live joined super-peers at the end
     * and their mean over the measured window; promotions (whole run). */
    uint32_t superpeers_end;
    double superpeers_mean;
    uint64_t promotions;
};

/* One summary.tsv row: the name, the value as summary.tsv writes it, and the same value as
 * a number (for expectations and aggregates). */
struct world_row {
    const char *name; /* static */
    char text[40];
    double value;
};
/* Appends a row of an integer, or of a real written with `decimals` digits after the point
 * (value then holds what was written). */
void world_row_u(GArray *rows, const char *name, uint64_t v);
void world_row_f(GArray *rows, const char *name, double v, int decimals);
/* The empirical CDF of sorted env_time values as TSV, in ms: a header "COLUMN\tfraction", then
 * one line per distinct value with the fraction of values at or below it. */
char *world_cdf_tsv(const char *column, const GArray *sorted);

/* One step of the time series (every metrics.interval of simulated time, from 0): the
 * window is (t - interval, t]. */
struct world_sample {
    env_time t;
    uint32_t alive;           /* peers up at t */
    uint32_t joined;          /* peers in the oracle at t */
    uint64_t lookups;         /* lookups completed in the window */
    uint64_t lookups_correct; /* of which correct */
    uint64_t answered;        /* of which answered (hops and latency are over these) */
    double hops_mean;
    double latency_ms_mean;
    double bytes_per_peer_per_s; /* every datagram sent in the window / live peer-seconds */
    uint64_t records_lost;       /* at t */
    uint64_t super_peers;        /* live joined super-peers at t (super-peer topology; 64 bits
                                    so that the struct has no padding) */
};

struct world;

struct world_options {
    const char *out_dir;   /* folder output.pcap and graph snapshots go in; NULL: "." */
    const char *pcap_path; /* when set, the pcap is written here (as given, relative to the
                              current folder), overriding output.pcap */
    bool verbose;          /* print the nodes' log lines on stderr with time and peer */
};

/* Builds the world: the engine, the underlay, the churn model, the peers and their nodes,
 * the ring (instant join) or the join schedule (protocol join), and the workload.  sc is
 * borrowed and must outlive the world; opt may be NULL (defaults: no out_dir, quiet).
 * Returns NULL and sets *err on a scenario the world cannot run (unknown topology, too many
 * peers, Zipf popularity without keys), when the underlay or churn model cannot be built
 * (a matrix or trace file) or when the pcap cannot be opened. */
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
/* Every summary.tsv row the world measures, in their fixed order (a new GArray of struct
 * world_row; g_array_unref it).  s is world_summarize's result (NULL: computed here).  The
 * command line appends its own rows (wall time, memory) after these. */
GArray *world_summary_rows(const struct world *w, const struct world_summary *s);
/* Writes hops.tsv, latency_cdf.tsv, messages.tsv, timeseries.tsv and traffic.tsv into dir
 * (which must exist); returns FALSE and sets err on an I/O error, or when a graph snapshot
 * failed during the run (its message). */
gboolean world_write_results(const struct world *w, const char *dir, GError **err);
/* Sorted latencies of answered lookups (a new array of env_time; g_array_unref it). */
GArray *world_sorted_latencies(const struct world *w);
/* The time series so far (struct world_sample, in time order; owned by the world). */
const GArray *world_timeseries(const struct world *w);
/* Name of a traffic slot: "ack", a RELOAD message name (wire_code_name), or "other". */
const char *world_slot_name(unsigned slot);
enum world_class world_slot_class(unsigned slot);
const char *world_class_name(enum world_class c);

/* ---- the oracle and the peers, for tests and snapshots ---- */
/* Peer slots: the scenario's peers plus every flash crowd's. */
uint32_t world_peers(const struct world *w);
uint32_t world_joined(const struct world *w);
/* Peers up now (started, not departed). */
uint32_t world_alive(const struct world *w);
bool world_is_up(const struct world *w, uint32_t index);
/* The SIP user agents and registrars (sim/sipua.h), NULL without a sip: section. */
struct sipua *world_sipua(const struct world *w);
/* The node of peer index, NULL while the peer is down (crashed, left, or not yet started). */
struct node *world_node(const struct world *w, uint32_t index);
/* The Node-ID peer index has whenever it is up. */
const struct id *world_peer_id(const struct world *w, uint32_t index);
/* Super-peer topology: whether peer index is (or, while down, was last) a super-peer; its
 * capacity under overlay.superpeer.election capacity (0 under the other rules); the live
 * joined super-peers now. */
bool world_peer_super(const struct world *w, uint32_t index);
double world_peer_capacity(const struct world *w, uint32_t index);
uint32_t world_superpeers(const struct world *w);
/* Starts peer index as churn does (it joins through a uniformly chosen joined peer, with its
 * old Node-ID), or stops it (graceful: node_leave first, else a crash); a no-op when it is
 * already in that state.  For tests and tools; scenarios use churn. */
void world_peer_up(struct world *w, uint32_t index);
void world_peer_down(struct world *w, uint32_t index, bool graceful);
/* The joined peer responsible for k (first Node-ID >= k, wrapping); -1 when none joined. */
int64_t world_responsible(const struct world *w, const struct id *k);
/* Stored, unexpired records that no live peer holds now. */
uint64_t world_records_lost(const struct world *w);
/* The Resource-ID of workload record i ("record-<i>" hashed) and of the workload's key of
 * popularity rank r ("key-<r>" hashed; rank 0 is the most popular under Zipf). */
struct id world_record_id(uint64_t i);
struct id world_key_id(uint64_t r);
/* Address of peer index (a private address when it sits behind a NAT box). */
struct env_addr world_addr(uint32_t index);
/* Whether peer index is publicly reachable: true unless the scenario's nat block put it
 * behind a NAT box (docs/nat.md).  For super-peer eligibility and the like. */
bool world_peer_public(const struct world *w, uint32_t index);

/* Nearest-rank percentile of n sorted samples (see struct world_summary). */
size_t world_rank(size_t n, double p);

#endif
