/* fake_env.h — a test environment for the core: a manual clock, a timer list, a recorded
 * outbox, a fixed random stream, and a tiny network that delivers between fake nodes.
 *
 * Tests drive the core with explicit timestamps: fake_net_run_until() fires timers and
 * delivers datagrams in (time, sequence) order, so tests are deterministic (lwIP's unit tests
 * link a fake clock in the same way).
 */
#ifndef P2PSIP_TESTS_FAKE_ENV_H
#define P2PSIP_TESTS_FAKE_ENV_H

#include <glib.h>
#include <stdbool.h>

#include "../core/env.h"
#include "../core/node.h"

struct fake_net;

struct fake_host {
    struct fake_net *net;
    struct env env;
    struct env_addr addr;
    struct node *node; /* may be NULL: datagrams to it are recorded in outbox only */
    uint64_t rng;
    bool down;         /* crashed: datagrams to it are lost, its timers do not fire */
    GPtrArray *events; /* struct env_event copies reported by the core */
    GPtrArray *inbox;  /* GBytes received while node == NULL */
};

/* A network of hosts with a fixed one-way latency. */
struct fake_net *fake_net_new(env_time latency);
void fake_net_free(struct fake_net *net);
/* One-way latency from host index `from` to host index `to` (indices in order of
 * fake_net_add_host). */
typedef env_time (*fake_latency_fn)(void *ud, unsigned from, unsigned to);
/* Replaces the fixed latency by fn(ud, from, to) for datagrams sent from now on; NULL restores
 * the fixed latency (to test proximity and per-neighbour timeouts). */
void fake_net_set_latency(struct fake_net *net, fake_latency_fn fn, void *ud);
/* Adds a host with address 10.0.0.<index+1>:6084; the caller then creates its node with
 * node_new(&h->env, ...) and stores it in h->node. */
struct fake_host *fake_net_add_host(struct fake_net *net);
env_time fake_net_now(const struct fake_net *net);
/* Fires every timer and delivers every datagram due up to `until`. */
void fake_net_run_until(struct fake_net *net, env_time until);
/* Drop the next n datagrams sent anywhere (to test retransmission). */
void fake_net_drop_next(struct fake_net *net, unsigned n);
/* Calls fn(ud, from, datagram) for every datagram sent from now on, before any loss (to
 * inspect what crosses the network); NULL stops it. */
typedef void (*fake_tap_fn)(void *ud, unsigned from, const uint8_t *buf, size_t len);
void fake_net_set_tap(struct fake_net *net, fake_tap_fn fn, void *ud);
/* Splits the hosts into `groups` groups by index (host i in group i mod groups); datagrams
 * between groups are lost.  0 or 1 heals. */
void fake_net_partition(struct fake_net *net, unsigned groups);
/* Pending timers (for teardown checks). */
size_t fake_net_pending_timers(const struct fake_net *net);
/* Datagrams sent so far. */
uint64_t fake_net_datagrams(const struct fake_net *net);
/* Sends raw bytes to host h as if from `from` (to test malformed input). */
void fake_net_inject(struct fake_net *net, struct fake_host *h, const struct env_addr *from,
                     const uint8_t *buf, size_t len);

/* The last event of a type reported by a host, or NULL. */
const struct env_event *fake_host_last_event(const struct fake_host *h, enum env_event_type t);
unsigned fake_host_count_events(const struct fake_host *h, enum env_event_type t);

#endif
