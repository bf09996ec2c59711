/* churn.h — when peers come and go: session/down-time churn drawn from distributions
 * (sim/dist.h), replayed traces, and scripted events (mass failure, partition and heal, flash
 * crowd), driven on the world's engine.
 *
 * The churn module decides *when* and *who*; the world carries it out through the callbacks
 * (a peer starts and joins, leaves gracefully or crashes, the network partitions or heals).
 * Session model (Stutzbach & Rejaie, IMC 2006; Rhea et al., USENIX 2004): every peer that is
 * up at churn.start stays up for a session drawn from churn.session, then leaves — gracefully
 * with probability churn.graceful, else it crashes — stays down for a time drawn from
 * churn.downtime and rejoins with the same Node-ID.  A trace replays "TIME PEER up|down"
 * lines (TIME a duration such as 12.5s or plain seconds; '#' comments); a peer whose first
 * trace event is "up" starts down.  Scripted events come from churn.events.
 *
 * Determinism: all draws come from one churn stream of the run seed; events for the same
 * instant run in a fixed order.
 */
#ifndef P2PSIP_SIM_CHURN_H
#define P2PSIP_SIM_CHURN_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "scenario.h"

struct churn_hooks {
    void *ud;
    /* Peer index comes up and joins (a rejoin keeps its Node-ID); it is down before. */
    void (*up)(void *ud, uint32_t peer);
    /* Peer index goes down: graceful = Leave first, else a crash. */
    void (*down)(void *ud, uint32_t peer, bool graceful);
    /* Whether peer index is currently up (for choosing whom to fail). */
    bool (*is_up)(void *ud, uint32_t peer);
    /* Partition into groups (0 or 1: heal). */
    void (*partition)(void *ud, uint32_t groups);
};

struct churn;

/* initial_peers: peers 0..initial_peers-1 exist at the start; flash crowds add peers after
 * them, so the world must size itself with churn_max_peers().  Returns NULL and sets err when
 * a trace file cannot be read (message with FILE:LINE:COLUMN) or names a peer out of range. */
struct churn *churn_new(const struct scenario *sc, struct sim_engine *e, uint32_t initial_peers,
                        const struct churn_hooks *hooks, uint64_t seed, GError **err);
void churn_free(struct churn *c);
/* Total peer slots needed: initial peers plus every flash crowd. */
uint32_t churn_max_peers(const struct churn *c);
/* Whether peer index should be up at time 0 (false for trace peers that start with "up" and
 * for flash-crowd peers). */
bool churn_initially_up(const struct churn *c, uint32_t peer);
/* Schedules everything on the engine (call once, after the initial peers exist). */
void churn_start(struct churn *c);
/* Counters: departures (graceful, crashes) and arrivals so far. */
uint64_t churn_leaves(const struct churn *c);
uint64_t churn_crashes(const struct churn *c);
uint64_t churn_joins(const struct churn *c);

#endif
