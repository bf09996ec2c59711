/* engine.h — the discrete-event engine: one queue of events ordered by (time, insertion
 * sequence), virtual time in microseconds.
 *
 * Ties are broken by the order in which events were scheduled, never by pointer or hash
 * order, so a run is a pure function of its inputs (libuv's timer heap does the same).
 * Events live in a slab of intrusive entries addressed by handle; cancelling is O(log n) and a
 * handle carries a generation so that cancelling an event that already ran is a no-op.
 */
#ifndef P2PSIP_SIM_ENGINE_H
#define P2PSIP_SIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/env.h"

typedef void (*sim_fn)(void *arg);
/* Non-zero for a live event; 0 is never returned. */
typedef uint64_t sim_handle;

struct sim_engine;

struct sim_engine *sim_engine_new(void);
/* Frees the engine; pending events are dropped without running. */
void sim_engine_free(struct sim_engine *e);

/* Schedules fn(arg) at absolute time `at` (clamped to now when in the past). */
sim_handle sim_schedule_at(struct sim_engine *e, env_time at, sim_fn fn, void *arg);
/* Schedules fn(arg) after `delay` microseconds. */
sim_handle sim_schedule(struct sim_engine *e, env_time delay, sim_fn fn, void *arg);
/* Cancels a pending event; a stale or zero handle is a no-op. */
void sim_cancel(struct sim_engine *e, sim_handle h);

env_time sim_now(const struct sim_engine *e);
/* Runs the earliest event; returns 0 when the queue was empty, else 1. */
int sim_step(struct sim_engine *e);
/* Runs every event with time <= end, then sets the clock to end. Returns events run. */
uint64_t sim_run_until(struct sim_engine *e, env_time end);
/* Asks a running sim_run_until to return after the current event. */
void sim_stop(struct sim_engine *e);

size_t sim_pending(const struct sim_engine *e);
uint64_t sim_events_run(const struct sim_engine *e);
/* Bytes the engine holds (slab and heap), for memory figures. */
size_t sim_engine_memory(const struct sim_engine *e);

/* ---- Deterministic random streams (xoshiro256** seeded through splitmix64) ---- */
struct sim_rng {
    uint64_t s[4];
};
/* Stream `stream` of run seed `seed`: distinct streams are independent; same inputs, same
 * numbers on every machine. */
void sim_rng_init(struct sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(struct sim_rng *r);
/* Uniform in [0, 1). */
double sim_rng_unit(struct sim_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n);
/* Exponential with the given mean. */
double sim_rng_exp(struct sim_rng *r, double mean);

#endif
