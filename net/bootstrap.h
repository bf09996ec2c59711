/* bootstrap.h — how a joining peer finds the overlay (seed draft §5.4; RFC 6940 §11.4 and
 * §10.5), over real sockets: remembered peers, multicast discovery, configured bootstrap
 * peers and a bootstrap server (docs/bootstrap.md).
 *
 * The search probes every candidate at once with a RELOAD Ping (§6.5.3) whose destination is
 * the wildcard Node-ID (§6.1.1: the receiving peer answers it itself), sent from a probe socket
 * of its own; with discovery the same Ping also goes to a link-local multicast group, where
 * peers run with `--announce` hand it to their node, which answers from its own address.  A
 * round lasts NET_BOOTSTRAP_WINDOW; its best answer by method (remembered, multicast,
 * configured, server, in this order; within a method, list order) is the bootstrap peer the
 * join goes through.  A round without an answer is repeated every NET_BOOTSTRAP_RETRY, or ends
 * the search with no result when the caller allows that (a peer with nothing configured then
 * starts a new overlay).
 *
 * The remembered-peer cache is a text file of "A.B.C.D:PORT" lines (at most
 * NET_BOOTSTRAP_CACHE_MAX; '#' starts a comment), written atomically (temporary file and
 * rename, g_file_set_contents) from the node's routing table, neighbours first.
 */
#ifndef P2PSIP_NET_BOOTSTRAP_H
#define P2PSIP_NET_BOOTSTRAP_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/node.h"
#include "udp.h"

/* The discovery group and port used when none is given (administratively scoped, RFC 2365). */
#define NET_BOOTSTRAP_GROUP "239.255.83.80:6085"
#define NET_BOOTSTRAP_CACHE_MAX 8
#define NET_BOOTSTRAP_MAX_CANDIDATES 32
#define NET_BOOTSTRAP_WINDOW (500 * ENV_MS)
#define NET_BOOTSTRAP_RETRY (2 * ENV_S)

/* In order of preference. */
enum net_bootstrap_method {
    NET_BOOTSTRAP_REMEMBERED,
    NET_BOOTSTRAP_MULTICAST,
    NET_BOOTSTRAP_CONFIGURED,
    NET_BOOTSTRAP_SERVER,
};
const char *net_bootstrap_method_name(enum net_bootstrap_method m);

struct net_bootstrap_candidate {
    struct env_addr addr;
    enum net_bootstrap_method method; /* not MULTICAST: those are found, not given */
};

struct net_bootstrap_config {
    const struct net_bootstrap_candidate *candidates; /* borrowed for the call */
    unsigned n_candidates;
    bool discover;         /* also query the multicast group */
    struct env_addr group; /* the group and port */
    uint32_t iface;        /* interface address for multicast (0: the default) */
    struct env_addr local; /* the probe socket's address (port 0) */
    uint32_t overlay;      /* id_overlay_hash: in the Ping's header */
    uint16_t config_seq;
    uint8_t ttl;
    struct id self; /* the joining node's Node-ID: the Ping's via entry */
    bool give_up;   /* a round without an answer ends the search (found NULL) */
    /* The joining node's configuration (borrowed, may be NULL): with a security provider
     * (node_config.security) the Pings are signed as self, as peers with one require. */
    const struct node_config *node_cfg;
};

/* The search's result: found is the bootstrap peer's address (borrowed for the call), or NULL
 * when a round found nothing and cfg.give_up was set. */
typedef void (*net_bootstrap_done_fn)(void *ud, const struct env_addr *found,
                                      enum net_bootstrap_method method);

struct net_bootstrap;
/* Starts the search on u's main loop; done runs once, later (never from this call).  NULL with
 * err set when the probe socket cannot be opened. */
struct net_bootstrap *net_bootstrap_new(struct net_udp *u, const struct net_bootstrap_config *cfg,
                                        net_bootstrap_done_fn done, void *ud, GError **err);
/* Stops the search (if still running) and closes its socket; NULL is a no-op. */
void net_bootstrap_free(struct net_bootstrap *b);

/* Reads the cache at path into out (at most max addresses, file order).  A missing file is an
 * empty cache; unreadable lines are skipped.  Returns the count. */
unsigned net_bootstrap_cache_read(const char *path, struct env_addr *out, unsigned max);
/* Writes the addresses of up to NET_BOOTSTRAP_CACHE_MAX peers of n's routing table (not
 * self) to path atomically.  Returns the count written (0 writes nothing and keeps the old
 * file: a peer that lost its neighbours does not forget what it knew), or -1 with err set. */
int net_bootstrap_cache_write(const char *path, const struct node *n, const struct env_addr *self,
                              GError **err);

/* The announcer: a socket on the group (joined on iface) whose datagrams — discovery
 * Pings — go to node n, which answers them from its own socket.  Only a joined node answers.
 * NULL with err set on failure. */
struct net_bootstrap_announcer;
struct net_bootstrap_announcer *net_bootstrap_announce_new(struct net_udp *u, struct node *n,
                                                           const struct env_addr *group,
                                                           uint32_t iface, GError **err);
void net_bootstrap_announce_free(struct net_bootstrap_announcer *a);
/* Discovery Pings answered so far. */
uint64_t net_bootstrap_announce_answered(const struct net_bootstrap_announcer *a);

#endif
