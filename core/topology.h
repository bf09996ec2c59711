/* topology.h — the topology plug-in interface (RFC 6940 §6.4.1).
 *
 * A plug-in decides who is responsible for an id, the next hop towards an id, the replica
 * set, and how the overlay is joined, maintained and left.  It is a strategy behind a small
 * vtable with the base struct embedded first (as ngtcp2_cc is embedded in reno/cubic/bbr);
 * the node (node.c) owns transactions, forwarding, the link layer and storage, and calls the
 * plug-in through these operations.  CHORD-RELOAD (chord.c) is the first plug-in; Bamboo and
 * super-peer implement the same operations.
 */
#ifndef P2PSIP_TOPOLOGY_H
#define P2PSIP_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

#include "id.h"
#include "node.h"
#include "wire.h"

struct topology;

/* A complete, correct picture of the overlay's membership, from which a plug-in builds its
 * routing state directly (the simulator's stable start, like node_install_ring for Chord). */
struct topology_view {
    const struct node_peer *peers; /* every joined peer, sorted by Node-ID ascending */
    size_t n;
    size_t self; /* this node's index in peers */
    /* Underlay one-way latency between peers[i] and peers[j], for proximity neighbour
     * selection; NULL when unknown. */
    env_time (*latency)(void *ud, size_t i, size_t j);
    void *ud;
    /* Per peer: 1 when it is a super-peer (super-peer topology); NULL for other topologies. */
    const uint8_t *super;
};

struct topology_ops {
    const char *name; /* the overlay algorithm name, e.g. "CHORD-RELOAD" */
    void (*destroy)(struct topology *t);
    /* Starts joining through bootstrap (NULL: start a new overlay alone).  While the node
     * is still joining NODE_JOIN_RETRY later, the node calls it again: the plug-in then
     * abandons its attempt and starts afresh (the retry timer is the node's, not each
     * plug-in's). */
    int (*join)(struct topology *t, const struct env_addr *bootstrap);
    /* Installs a ready-made routing state (simulator's stable start). */
    void (*install)(struct topology *t, const struct node_peer *pred, size_t n_pred,
                    const struct node_peer *succ, size_t n_succ, const struct node_peer *fingers,
                    size_t n_fingers);
    /* Builds the routing state from a view of the whole overlay (optional: NULL when the
     * plug-in has none; the node then counts as joined). */
    void (*install_view)(struct topology *t, const struct topology_view *v);
    /* Announces departure to the neighbours (data handover is the node's). */
    void (*leave)(struct topology *t);
    /* True when this node is responsible for k (stores it, answers requests to it). */
    bool (*responsible)(const struct topology *t, const struct id *k);
    /* Next hop towards k, never this node; false when the routing table is empty (Bamboo:
     * also when no known peer is closer to k, which happens only while joining). */
    bool (*next_hop)(const struct topology *t, const struct id *k, struct node_peer *out);
    /* The peers that hold replicas of what this node is responsible for, in order. */
    size_t (*replicas)(const struct topology *t, struct node_peer *out, size_t max);
    /* True when this node should keep a replica of k (responsible or in its replica set). */
    bool (*keeps)(const struct topology *t, const struct id *k);
    /* A request of a topology method (Join, Leave, Update, RouteQuery) delivered here.
     * The plug-in answers through node_respond / node_respond_error. */
    void (*on_request)(struct topology *t, const struct wire_message *m);
    /* A connection to peer was lost (link layer), or it left. */
    void (*peer_lost)(struct topology *t, const struct id *peer);
    /* Sends this node's whole routing table to peer (Attach with send_update, §6.5.1.1). */
    void (*send_update)(struct topology *t, const struct id *peer);
    /* A node became reachable (an Attach completed or it contacted us). */
    void (*peer_connected)(struct topology *t, const struct node_peer *p);
    /* Routing table for introspection: neighbours first, then fingers. */
    size_t (*routing_table)(const struct topology *t, struct node_peer *out, size_t max);
    size_t (*successors)(const struct topology *t, struct node_peer *out, size_t max);
    size_t (*predecessors)(const struct topology *t, struct node_peer *out, size_t max);
    /* Bytes of memory the plug-in holds (for memory-per-peer figures). */
    size_t (*memory)(const struct topology *t);
};

struct topology {
    const struct topology_ops *ops;
    struct node *node;
};

/* CHORD-RELOAD, RFC 6940 §10. */
struct topology *chord_new(struct node *n);
/* Bamboo (Rhea et al., USENIX 2004) over RELOAD framing. */
struct topology *bamboo_new(struct node *n);
/* Super-peer (Yang & Garcia-Molina, ICDE 2003; seed draft §5.3) over RELOAD framing. */
struct topology *superpeer_new(struct node *n);

#endif
