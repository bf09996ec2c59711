/* udp.h — the real backend's environment: core/env.h over one UDP socket on a GLib main loop.
 *
 * RELOAD over plain UDP (RFC 6940 §6.6: the overlay link layer; this build runs the
 * FramedMessage protocol of §6.6.2–6.6.3 on unsecured UDP, with no DTLS).  One net_udp owns one
 * IPv4 socket, watched by the default GLib main context; every datagram that arrives is
 * handed to the attached node through node_receive().  Timers are one-shot GLib timeout
 * sources with millisecond resolution, addressed through handles this module owns, so that
 * stopping a timer that already fired or was stopped is a harmless no-op (env.h's contract).
 * The clock is the wall clock (g_get_real_time), and randomness comes from a GRand seeded by
 * the operating system.
 *
 * Nothing here decides protocol behaviour: this is a port layer (lwIP's sense), and the same
 * core runs under sim/ in virtual time.
 */
#ifndef P2PSIP_NET_UDP_H
#define P2PSIP_NET_UDP_H

#include <glib.h>
#include <stdint.h>

#include "../core/env.h"
#include "../core/node.h"

/* "255.255.255.255:65535" and a NUL. */
#define NET_UDP_ADDR_STRLEN 22

struct net_udp;

/* Called for every event the core reports, after this module has counted it.  from is the
 * source of the datagram being processed when the event was raised (for example the sender
 * of a malformed datagram, for ENV_EV_MSG_DROPPED), or NULL when the event arose from a timer
 * or an API call. */
typedef void (*net_udp_event_fn)(void *ud, const struct env_event *ev, const struct env_addr *from);

/* Error domain of the GErrors set here; the code is the errno of the failed call (0 for a
 * parse error). */
#define NET_UDP_ERROR (net_udp_error_quark())
GQuark net_udp_error_quark(void);

/* Opens a UDP socket bound to `listen` (port 0 picks an ephemeral port) and watches it from
 * the default main context.  tag prefixes every log line (NULL: none).  Returns NULL and sets
 * err when the socket cannot be opened or bound. */
struct net_udp *net_udp_new(const struct env_addr *listen, const char *tag, GError **err);
/* Stops every pending timer, removes the socket watch and closes the socket.  Does not free an
 * attached node (free the node first: node_free stops its timers through this env). */
void net_udp_free(struct net_udp *u);

/* The environment to hand to node_new(); valid as long as u. */
const struct env *net_udp_env(struct net_udp *u);
/* The address the socket is bound to (the actual port when 0 was asked for). */
struct env_addr net_udp_local_addr(const struct net_udp *u);
/* Datagrams received from now on go to n (NULL: they are counted and discarded). */
void net_udp_attach(struct net_udp *u, struct node *n);

/* Replaces the tag that prefixes log lines (NULL: none); tag is copied. */
void net_udp_set_tag(struct net_udp *u, const char *tag);
/* Messages of a level above max (less severe) are not written.  The default is ENV_LOG_INFO. */
void net_udp_set_log_level(struct net_udp *u, enum env_log_level max);
/* Installs the event hook (NULL removes it). */
void net_udp_set_event_hook(struct net_udp *u, net_udp_event_fn fn, void *ud);
/* Writes one line to stderr through this env's logger (same format and filter as the core's). */
void net_udp_logf(struct net_udp *u, enum env_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct net_udp_counters {
    uint64_t datagrams_in, bytes_in;
    uint64_t datagrams_out, bytes_out;
    uint64_t send_failures; /* sendto() errors (logged, never fatal) */
    uint64_t timers_started, timers_fired, timers_stopped;
    uint64_t events[ENV_EV_TYPES]; /* indexed by enum env_event_type */
};
const struct net_udp_counters *net_udp_get_counters(const struct net_udp *u);
/* Timers started and neither fired nor stopped yet. */
unsigned net_udp_pending_timers(const struct net_udp *u);

/* An application's own UDP socket on the same main loop, logger and counters (SIP beside
 * RELOAD: RFC 6940 §6.5.2 has applications use connections of their own).  Every datagram
 * that arrives is handed to fn(ud, from, buf, len); buf is borrowed for the call. */
typedef void (*net_udp_recv_fn)(void *ud, const struct env_addr *from, const uint8_t *buf,
                                size_t len);
struct net_udp_app;
/* Opens and binds the socket (port 0: an ephemeral port); NULL with err set on failure.  Free
 * it before u. */
struct net_udp_app *net_udp_app_new(struct net_udp *u, const struct env_addr *listen,
                                    net_udp_recv_fn fn, void *ud, GError **err);
/* Sends one datagram from the application's socket; buf is borrowed.  Failures are logged and
 * counted as the node's are. */
void net_udp_app_send(struct net_udp_app *a, const struct env_addr *to, const uint8_t *buf,
                      size_t len);
struct env_addr net_udp_app_local_addr(const struct net_udp_app *a);
void net_udp_app_free(struct net_udp_app *a);

/* A socket that receives what is sent to the IPv4 multicast group `group` (address and port),
 * joined on the interface whose address is iface (0: the system's choice).  It is bound to
 * the group's address with SO_REUSEADDR, so several processes of one host can listen to the
 * same group (net/bootstrap.h's discovery).  NULL with err set on failure. */
struct net_udp_app *net_udp_app_new_multicast(struct net_udp *u, const struct env_addr *group,
                                              uint32_t iface, net_udp_recv_fn fn, void *ud,
                                              GError **err);
/* Sends a's multicast datagrams out of the interface whose address is iface (0: the routing
 * table's choice), with TTL 1 (the local link only) and looped back to this host's
 * listeners.  Returns 0, or -1 with err set. */
int net_udp_app_multicast_out(struct net_udp_app *a, uint32_t iface, GError **err);

/* Datagrams arriving on u's own socket go to fn(ud, ...) instead of an attached node: for a
 * host that speaks RELOAD framing without being a node (the bootstrap server,
 * net/bootserver.c).  fn NULL restores delivery to the node. */
void net_udp_set_receiver(struct net_udp *u, net_udp_recv_fn fn, void *ud);

/* Parses "A.B.C.D:PORT" (the host part must be a dotted IPv4 address; PORT 0–65535).
 * Returns 0, or -1 and sets err with a message naming the input. */
int net_udp_parse_addr(const char *s, struct env_addr *out, GError **err);
/* Formats an address as "A.B.C.D:PORT"; returns buf. */
char *net_udp_format_addr(const struct env_addr *a, char buf[NET_UDP_ADDR_STRLEN]);

#endif
