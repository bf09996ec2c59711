/* env.h — the one door between the sans-I/O protocol core and the world.
 *
 * The core never touches sockets, clocks, random number generators or a main loop: it acts
 * only through a struct env (a table of function pointers plus a context, as SQLite's
 * sqlite3_vfs does), and it is entered only by node_receive() (a datagram arrived), a timer
 * callback registered through env_timer_start() (a timer fired), and the node_* API calls.
 * Three implementations exist: sim/ (virtual time), net/ (UDP sockets and a GLib main loop)
 * and tests/ (a fake env with a manual clock).
 */
#ifndef P2PSIP_ENV_H
#define P2PSIP_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "id.h"

/* Microseconds.  In sim/ virtual time from 0; in net/ wall-clock time since the Unix epoch. */
typedef uint64_t env_time;

#define ENV_MS ((env_time)1000)
#define ENV_S ((env_time)1000000)

/* A transport address: IPv4 address and UDP port, host byte order.  In the simulator every
 * virtual host has an address of its own (see sim/net.h). */
struct env_addr {
    uint32_t ip;
    uint16_t port;
};

static inline int env_addr_eq(const struct env_addr *a, const struct env_addr *b)
{
    return a->ip == b->ip && a->port == b->port;
}

/* An opaque timer handle; 0 is never a valid handle. */
typedef uint64_t env_timer;
typedef void (*env_timer_fn)(void *arg);

enum env_log_level { ENV_LOG_ERROR, ENV_LOG_WARN, ENV_LOG_INFO, ENV_LOG_DEBUG };

/* Measurable happenings, reported through the event hook (metrics live outside the core). */
enum env_event_type {
    ENV_EV_LOOKUP_DONE, /* a lookup (Ping routed to a Resource-ID) finished */
    ENV_EV_STORE_DONE,  /* a Store finished (status 0, or a negative NODE_E* code) */
    ENV_EV_FETCH_DONE,  /* a Fetch finished; found tells whether a value came back */
    ENV_EV_JOIN_DONE,   /* this node became part of the ring */
    ENV_EV_MSG_SENT,    /* a datagram left this node: code and bytes are set */
    ENV_EV_MSG_DROPPED, /* a received datagram was malformed or undeliverable */
    ENV_EV_LINK_FAILED, /* a neighbour stopped acknowledging frames */
    ENV_EV_CONNECT,     /* NAT traversal: a connection attempt to responder ended; code is
                           its enum node_connect outcome */
    ENV_EV_RELAYED,     /* NAT traversal: a message went through relay peer `responder` */
    ENV_EV_RELAY,       /* NAT traversal: this node's own relay changed to `responder`, or a
                           relay lookup failed; code is its enum node_relay_change */
};
#define ENV_EV_TYPES (ENV_EV_RELAY + 1)

struct env_event {
    enum env_event_type type;
    int status;          /* 0 on success, else a negative NODE_E* code (node.h) */
    uint16_t code;       /* RELOAD message code (MSG_SENT); 0 for a link-layer ACK */
    uint32_t bytes;      /* datagram size (MSG_SENT / MSG_DROPPED) */
    uint32_t hops;       /* overlay links the request crossed (LOOKUP/STORE/FETCH_DONE) */
    env_time latency;    /* request sent to final answer, including retransmissions */
    uint64_t cookie;     /* the caller's cookie from node_lookup/node_store/node_fetch */
    struct id key;       /* the Resource-ID asked for */
    struct id responder; /* the Node-ID that answered */
    int found;           /* FETCH_DONE: 1 when at least one value came back (and, with a
                            security provider, passed the fetcher's checks) */
    uint32_t rejected;   /* FETCH_DONE: values of the answer whose signature or access policy
                            failed (node_config.security): removed, never reported */
    struct id signer;    /* FETCH_DONE with a security provider and found: the verified
                            signer (Node-ID) of the first value reported, else zero */
    uint32_t retransmits;
};

struct env_ops {
    /* Sends one datagram.  buf is borrowed for the duration of the call. */
    void (*send)(void *ctx, const struct env_addr *to, const uint8_t *buf, size_t len);
    /* Calls fn(arg) after delay microseconds; returns a handle, never 0. */
    env_timer (*timer_start)(void *ctx, env_time delay, env_timer_fn fn, void *arg);
    /* Cancels a pending timer.  A handle of a timer that already fired or was stopped is a
     * harmless no-op, as is 0. */
    void (*timer_stop)(void *ctx, env_timer t);
    env_time (*now)(void *ctx);
    /* 64 uniformly random bits from this node's own stream. */
    uint64_t (*random)(void *ctx);
    void (*log)(void *ctx, enum env_log_level level, const char *msg);
    /* Optional (may be NULL). */
    void (*event)(void *ctx, const struct env_event *ev);
};

struct env {
    const struct env_ops *ops;
    void *ctx;
};

static inline void env_send(const struct env *e, const struct env_addr *to, const uint8_t *buf,
                            size_t len)
{
    e->ops->send(e->ctx, to, buf, len);
}
static inline env_timer env_timer_start(const struct env *e, env_time delay, env_timer_fn fn,
                                        void *arg)
{
    return e->ops->timer_start(e->ctx, delay, fn, arg);
}
static inline void env_timer_stop(const struct env *e, env_timer t)
{
    if (t)
        e->ops->timer_stop(e->ctx, t);
}
static inline env_time env_now(const struct env *e)
{
    return e->ops->now(e->ctx);
}
static inline uint64_t env_random(const struct env *e)
{
    return e->ops->random(e->ctx);
}
static inline void env_event(const struct env *e, const struct env_event *ev)
{
    if (e->ops->event)
        e->ops->event(e->ctx, ev);
}
/* printf-style logging; formats only when the env has a log function. */
void env_logf(const struct env *e, enum env_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
