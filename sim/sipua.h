/* sipua.h — SIP in the simulator: every peer of the world runs the SIP proxy/registrar adapter
 * (sip/registrar.h, seed draft §5.5–5.6, RFC 7904) on a second port of its host, and simulated
 * SIP user agents on the same host register with it and call each other through the overlay
 * (RFC 3261: REGISTER §10, INVITE/180/200/ACK/BYE §13–15, UDP transactions §17).
 *
 * Users: user u (AoR sip:user<u>@<overlay.name>) lives on host u / users_per_peer and listens
 * on SIPUA_UA_PORT + u % users_per_peer of that host's address; the host's registrar listens
 * on SIPUA_PEER_PORT.  A user is up while its peer is up and joined: it REGISTERs when its peer
 * has joined (within a second), refreshes at nine tenths of sip.register_expires, retries 30 s
 * after a failure, and goes down with its peer (its calls are dropped; it registers again when
 * the peer is back).  Calls arrive Poisson at sip.call_rate per live user from workload.start;
 * the caller is uniform among live users, the callee uniform among all users (down ones too).
 * The callee answers 180 at once and 200 after sip.answer_delay (repeated until the ACK); the
 * caller ACKs, holds sip.call_duration and sends BYE.  Call setup latency is INVITE sent →
 * 200 received; a call fails with the final status it got (404, 480, 408, 5xx, other) or by
 * timeout (no final answer within 64 s + answer_delay).  A call is "reachable" when its callee was
 * registered when the INVITE left: call_success_reachable leaves out the callees that were down.
 *
 * The world (sim/world.c) carries the datagrams: sipua sends through hooks.send and the world
 * hands each datagram that reaches a SIP port to sipua_receive.  Memory: 24 bytes per host
 * and 32 per user, plus the registrar of each live peer and a few hundred bytes per call in
 * progress (state exists only while a call runs).  Deterministic: randomness comes from one
 * stream of the run seed; calls are found by Call-ID, never iterated in hash order.
 */
#ifndef P2PSIP_SIM_SIPUA_H
#define P2PSIP_SIM_SIPUA_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/env.h"
#include "../core/node.h"
#include "engine.h"
#include "scenario.h"

#define SIPUA_PEER_PORT 5060 /* every peer's SIP proxy/registrar */
#define SIPUA_UA_PORT 5062   /* user agent j of a host: SIPUA_UA_PORT + j */

/* What sipua needs from its host, the world. */
struct sipua_hooks {
    void *ud;
    /* Sends a datagram from port `port` of host `host` (a peer slot) to `to`; buf is borrowed. */
    void (*send)(void *ud, uint32_t host, uint16_t port, const struct env_addr *to,
                 const uint8_t *buf, size_t len);
};

/* Counters, whole run (calls start at workload.start). */
struct sipua_stats {
    uint64_t registrations;    /* REGISTERs sent */
    uint64_t registrations_ok; /* answered 2xx */
    uint64_t registrations_failed; /* answered otherwise, or no answer in 32 s */
    uint64_t calls;            /* INVITEs sent */
    uint64_t calls_completed;  /* set up: 2xx received */
    uint64_t failed_404, failed_480, failed_408, failed_5xx, failed_other, failed_timeout;
    uint64_t calls_abandoned;  /* the caller went down (its peer) before a final answer */
    /* Calls whose callee was registered (and so up) when the INVITE left, and of those the
     * setups that ended (2xx or failure) and the ones set up: what the overlay could do. */
    uint64_t calls_reachable, reachable_setups, reachable_completed;
    uint64_t calls_ended;      /* BYE answered 2xx */
    uint64_t byes_failed;      /* BYE answered otherwise or not at all */
    uint64_t answered;         /* INVITEs the callee UAs answered 200 */
    uint64_t messages, bytes;  /* SIP datagrams sent by user agents and registrars */
};

struct sipua;

/* Users for `hosts` peer slots (the scenario's sip section, workload.start, overlay.name and
 * the seed: the random stream `stream`); calls are scheduled on engine e from
 * workload.start.  sc and e are borrowed and must outlive the sipua. */
struct sipua *sipua_new(const struct scenario *sc, uint32_t hosts, struct sim_engine *e,
                        uint64_t stream, const struct sipua_hooks *hooks);
/* Frees the registrars (before their nodes are freed), the users and the calls. */
void sipua_free(struct sipua *s);

/* Peer `host` got a node (it may not have joined yet): its registrar starts, on env (copied;
 * the peer's) and node, at the host's address and SIPUA_PEER_PORT. */
void sipua_peer_start(struct sipua *s, uint32_t host, const struct env *env, struct node *node);
/* Its node has joined: its users come up and register.  No-op when they already are or the
 * peer has no registrar. */
void sipua_peer_joined(struct sipua *s, uint32_t host);
/* The peer stops (before its node leaves or is freed): its registrar is freed, its users go
 * down, their calls are dropped (an unanswered call of theirs counts as abandoned). */
void sipua_peer_stop(struct sipua *s, uint32_t host);

/* Whether port is one SIP listens on (the registrar's or a user agent's). */
bool sipua_port(const struct sipua *s, uint16_t port);
/* A datagram reached port `port` of host `host` from `from`.  Returns false when nothing
 * listens there now (the peer is down): the world counts it undeliverable. */
bool sipua_receive(struct sipua *s, uint32_t host, uint16_t port, const struct env_addr *from,
                   const uint8_t *buf, size_t len);

/* Places a call from user `caller` to user `callee` now (the arrival process does this; for
 * tests).  Returns false when the caller is down (nothing sent). */
bool sipua_call(struct sipua *s, uint32_t caller, uint32_t callee);
/* User u is registered (its last REGISTER was answered 2xx and it is up). */
bool sipua_registered(const struct sipua *s, uint32_t u);
uint32_t sipua_users(const struct sipua *s);
/* Calls in progress (caller and callee sides counted apart): state that exists now. */
size_t sipua_active_calls(const struct sipua *s);
const struct sipua_stats *sipua_stats(const struct sipua *s);
/* Call setup latencies (INVITE → 2xx) of completed calls, sorted (a new array of env_time). */
GArray *sipua_sorted_setup(const struct sipua *s);
/* The registrar of host, NULL while the peer is down. */
struct sip_registrar *sipua_registrar(const struct sipua *s, uint32_t host);

/* ---- results (the world calls these only when the scenario has a sip section) ---- */
/* One time-series step (the world's metrics.interval tick). */
void sipua_tick(struct sipua *s);
/* Appends the summary.tsv rows (struct world_row) of the SIP workload to rows. */
void sipua_rows(const struct sipua *s, GArray *rows);
/* Appends the timeseries.tsv lines of step i (time t seconds) to g. */
void sipua_series_tsv(const struct sipua *s, guint i, double t, GString *g);
/* call_setup_cdf.tsv: setup_ms and the fraction of completed calls at or below it. */
char *sipua_cdf_tsv(const struct sipua *s);

#endif
