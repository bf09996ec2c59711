/* underlay.h — the simulated network between peers: latency models, jitter, random loss,
 * per-peer access links with bandwidth and a drop-tail queue, and partitions.
 *
 * Each model is usable alone and they compose as wrappers around the base latency, the way
 * SQLite's test VFSes wrap the real one: base one-way latency (constant, uniform per message,
 * synthetic coordinates — Euclidean distance plus the two hosts' access heights, Vivaldi's
 * "height vector" model (Dabek et al., SIGCOMM 2004) — or a latency-matrix file), plus
 * jitter, then loss, then the sender's upload link and the receiver's download link
 * (serialisation delay = bytes * 8 / bandwidth, FIFO in arrival order, a datagram that finds
 * the queue full is dropped), and a partition that drops every datagram between groups.
 *
 * The latency-matrix file format (docs/scenarios.md): text, '#' comments; the first
 * non-comment line is the number of hosts H; then H lines of H one-way latencies in
 * milliseconds (whitespace separated, row = sender, column = receiver).  Peer i uses host
 * i mod H.  scenarios/data/ ships a generated example.
 *
 * All draws come from the rng passed in (the sender's stream), so a run stays deterministic.
 */
#ifndef P2PSIP_SIM_UNDERLAY_H
#define P2PSIP_SIM_UNDERLAY_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/env.h"
#include "engine.h"
#include "scenario.h"

struct underlay;

/* Why a datagram did not arrive. */
enum underlay_verdict {
    UNDERLAY_DELIVER = 0,
    UNDERLAY_LOST,        /* random loss */
    UNDERLAY_QUEUE_FULL,  /* an access-link queue overflowed */
    UNDERLAY_PARTITIONED, /* sender and receiver are in different partition groups */
};

/* Builds the underlay for up to max_peers peers (peer indexes 0..max_peers-1); per-peer state
 * (coordinates, link queues) is allocated lazily or compactly: the world runs a million peers.
 * seed/stream give the rng used for the static draws (coordinates).  Returns NULL and sets
 * err when the matrix file cannot be read or is malformed (the message names the file, line
 * and column). */
struct underlay *underlay_new(const struct scenario *sc, uint32_t max_peers, uint64_t seed,
                              GError **err);
void underlay_free(struct underlay *u);

/* A datagram of `bytes` bytes leaves peer src for peer dst at time now: the sender's uplink,
 * the partition, loss, latency and jitter.  Returns the verdict; on UNDERLAY_DELIVER *arrive
 * receives the time it reaches the receiver (>= now) — or, when downlinks are limited
 * (underlay_has_downlinks), the receiver's downlink, which the caller must then pass it
 * through with underlay_arrive at that time.  rng is the sender's. */
enum underlay_verdict underlay_send(struct underlay *u, uint32_t src, uint32_t dst, size_t bytes,
                                    env_time now, struct sim_rng *rng, env_time *arrive);
/* Whether downlinks are bandwidth-limited (then every datagram needs underlay_arrive). */
bool underlay_has_downlinks(const struct underlay *u);
/* The datagram reaches dst's downlink at time now (calls must come in time order, as engine
 * events do): FIFO serialisation behind what arrived before; *deliver receives the time it
 * is fully received.  UNDERLAY_QUEUE_FULL when the queue would overflow. */
enum underlay_verdict underlay_arrive(struct underlay *u, uint32_t dst, size_t bytes, env_time now,
                                      env_time *deliver);

/* The base one-way latency between two peers without jitter or queues (for graph weights and
 * proximity), in microseconds. */
env_time underlay_latency(const struct underlay *u, uint32_t src, uint32_t dst);

/* Partitions: peers are split into `groups` groups by index (peer i in group i mod groups);
 * groups = 0 or 1 heals. */
void underlay_partition(struct underlay *u, uint32_t groups);
uint32_t underlay_groups(const struct underlay *u);

/* Counters by verdict (whole run). */
uint64_t underlay_count(const struct underlay *u, enum underlay_verdict v);
/* Bytes held for per-peer state. */
size_t underlay_memory(const struct underlay *u);

#endif
