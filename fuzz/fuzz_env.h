/* fuzz_env.h — the environment the libFuzzer targets (fuzz/fuzz_*.c) run the protocol core
 * on: a virtual clock, a small timer queue, a fixed random stream whose next draws a target
 * may dictate, and hosts at addresses, between which datagrams travel in 1 ms; datagrams to
 * any other address are dropped.  It is core/env.h's contract (RFC 6940's node is entered
 * only by datagrams, timers and API calls) reduced to what a fuzz input needs: one process,
 * a node or two, thousands of inputs a second, and nothing left behind between inputs.
 *
 * fuzz_peer_receive() builds a whole peer — a node of a given topology, joined through an
 * installed routing state or joining through a bootstrap, with a request of its own pending —
 * and hands it one datagram, then runs its timers for a few virtual seconds and frees it.
 * A peer must never crash, leak or misbehave on any datagram (node.h: node_receive).
 */
#ifndef P2PSIP_FUZZ_ENV_H
#define P2PSIP_FUZZ_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "../core/env.h"
#include "../core/node.h"

/* Timers and datagrams in flight at once; more are a bug of the node under test (a timer
 * leak) and abort. */
#define FUZZ_ENV_MAX_PENDING 4096
#define FUZZ_ENV_MAX_HOSTS 8

/* Receives a datagram addressed to a host (node_receive, sip_registrar_receive, ...). */
typedef void (*fuzz_deliver_fn)(void *ud, const struct env_addr *from, const uint8_t *buf,
                                size_t len);

struct fuzz_env;
/* An address something listens on; its env is what a node or adapter there is given. */
struct fuzz_host {
    struct fuzz_env *f;
    struct env env;
    struct env_addr addr;
    fuzz_deliver_fn deliver; /* NULL: datagrams to it are dropped */
    void *ud;
};

struct fuzz_env {
    env_time now;
    uint64_t rng;
    uint64_t next_handle, seq;
    uint64_t forced[4]; /* the next random draws, when n_forced > 0 (oldest first) */
    unsigned n_forced;
    struct fuzz_host hosts[FUZZ_ENV_MAX_HOSTS];
    unsigned n_hosts;
    struct fuzz_pending *pending; /* unsorted: run in (at, seq) order */
    size_t n_pending;
    uint64_t sent; /* datagrams sent */
};

/* The clock starts at 1 s; randomness is splitmix64 from seed. */
void fuzz_env_init(struct fuzz_env *f, uint64_t seed);
/* Frees the datagrams still in flight; a timer still pending is a bug of the node or adapter
 * that started it (they must stop their timers when freed) and aborts. */
void fuzz_env_clear(struct fuzz_env *f);
/* Adds a host at addr (at most FUZZ_ENV_MAX_HOSTS); set deliver and ud once the receiver
 * exists.  The pointer stays valid until fuzz_env_clear. */
struct fuzz_host *fuzz_env_host(struct fuzz_env *f, const struct env_addr *addr);
/* Sends a datagram from `from` to `to`: when a host with a deliver function listens at `to`
 * it receives a copy 1 ms later; otherwise it is dropped.  Host envs send through this. */
void fuzz_env_send(struct fuzz_env *f, const struct env_addr *from, const struct env_addr *to,
                   const uint8_t *buf, size_t len);
/* A fuzz_deliver_fn for a host whose ud is a struct node. */
void fuzz_env_to_node(void *node, const struct env_addr *from, const uint8_t *buf, size_t len);
/* The next random draw returns v (up to 4 queued). */
void fuzz_env_force_random(struct fuzz_env *f, uint64_t v);
/* Fires timers and delivers datagrams due up to `until`, at most max_events of them; the
 * clock ends at until (or at the last event when the cap stopped it). */
void fuzz_env_run(struct fuzz_env *f, env_time until, unsigned max_events);

/* The peer harness shared by fuzz_wire.c and fuzz_topology.c.  `mode` bits choose the peer:
 *   bits 0-1  role: 0 joined peer, 1 joined peer with NAT traversal on, 2 peer joining
 *             through a bootstrap, 3 client connected to a peer;
 *   bit 2     the node's Node-ID is the datagram's last destination (so that a request is
 *             for it and a response reaches it), else a fixed id;
 *   bits 3-4  the request it has pending, whose transaction id is the datagram's (so that an
 *             answer matches): 0 Ping (lookup), 1 Store, 2 Fetch, 3 AppAttach;
 *   bit 5     super-peer topology only: this node is a super-peer.
 * The datagram is delivered from a neighbour's address; then the node's timers run for 5
 * virtual seconds (at most 200 events) and the node is freed. */
void fuzz_peer_receive(enum node_topology topology, uint8_t mode, const uint8_t *buf, size_t len);

#endif
