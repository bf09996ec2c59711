/* node_int.h — internals shared by node.c, the topology plug-ins and storage.c.
 * Not part of the core's public API (node.h).
 */
#ifndef P2PSIP_NODE_INT_H
#define P2PSIP_NODE_INT_H

#include <glib.h>

#include "node.h"
#include "topology.h"
#include "wire.h"

/* A Connection Table entry (RFC 6940 §10.1): a node we can send to, with the link-layer state
 * of §6.6.2–6.6.3 (sequence numbers, the receive window for ACKs, unacknowledged frames). */
struct conn {
    struct id id;
    struct env_addr addr;
    uint32_t tx_seq;        /* next sequence number to send */
    uint32_t rx_last;       /* highest sequence received */
    uint32_t rx_mask;       /* bit d (1..31) set: rx_last - d was received; bit 0: any */
    uint32_t unacked_ms;    /* node_ms() when the oldest unacknowledged frame left; 0 none */
    uint32_t last_tx_ms;    /* node_ms() when the newest frame left (also the idle clock: a
                               connection we only receive from needs no state of its own) */
    uint16_t srtt, rttvar;  /* RFC 6298 estimates in units of 100 us; srtt 0: no sample */
};
/* Connection Table entries are the largest part of a peer's memory, hence the 32-bit times
 * relative to the node's creation (good for 49 days). */

enum node_state { NODE_IDLE, NODE_JOINING, NODE_JOINED, NODE_LEAVING, NODE_LEFT };

/* An AppAttach application (§6.5.2) served on this node. */
struct node_app {
    uint16_t application;  /* its application id */
    struct env_addr addr;  /* the address given as its host candidate */
    node_app_data_cb data_cb; /* AppData receiver (appdata.c), NULL when none */
    void *data_ud;
};

struct storage;
struct txn;
struct txn_table;

struct node {
    struct env env;
    /* The configuration, borrowed (node.h: one immutable node_config shared by every node
     * created with it), or the node's own copy once a ConfigUpdate changed it (configupdate.c,
     * copy-on-write).  Never written through: what differs per node lives below. */
    const struct node_config *cfg;
    struct id self;
    uint8_t self_bytes[ID_BYTES];
    struct env_addr addr;
    env_time started;
    struct topology *topo;
    struct conn *conns;   /* unordered */
    uint16_t n_conns, cap_conns;
    enum node_state state; /* (fields ordered to leave no padding: memory per peer counts) */
    env_time born;        /* env_now() at node_new: the origin of the conns' times */
    struct txn_table *txns; /* pending transactions this node originated (node.c; a */
    uint32_t n_txns, cap_txns; /* GPtrArray would reserve 16 slots: most have 0-2 pending) */
    GQueue dup_cache;     /* struct dup_entry *, oldest first (§6.2.1 request lifetime) */
    GHashTable *dup_index; /* txid -> the oldest struct dup_entry of it; created when needed */
    struct node_app *apps; /* NODE_MAX_APPS entries, from the first node_app_listen */
    struct storage *store;
    env_timer link_timer; /* armed while frames await an ACK */
    GPtrArray *hops;      /* struct hop_frame *: Bamboo's frames awaiting an ACK (node.c) */
    env_timer maint_timer;
    env_timer join_timer;          /* while joining: restart the attempt when it fires */
    struct env_addr join_bootstrap; /* the address the join goes through */
    struct id join_bootstrap_id;    /* its Node-ID, when node_join_id gave it (ice.c) */
    bool have_join_bootstrap_id;
    bool have_client_peer;
    bool have_join_bootstrap;   /* node_join was given a bootstrap (join_bootstrap) */
    uint8_t n_apps;
    struct env_addr client_peer; /* clients: the peer everything goes through */
    unsigned finishing_transmissions; /* transmissions of the transaction being completed */
    struct node_stats stats;
    struct ice *ice;      /* NAT traversal state (ice.c); NULL unless cfg.ice.enabled */
    struct configupdate *cfgup; /* configupdate.c's state; NULL until first needed */
    struct client *client; /* client.c's state; NULL but for a connected client */
};

/* Completion of a request this node originated.  arg, when not NULL, must be g_malloc'd:
 * the callback owns (frees) it, and node_free frees it when the request is still pending.  status is NODE_OK with the answer in resp,
 * NODE_E_REFUSED with an error response in resp, or NODE_E_TIMEOUT with resp NULL. */
typedef void (*node_txn_fn)(struct node *n, void *arg, int status, const struct wire_message *resp);

/* Sends a request to the destination list dest (ids as 16-byte node or resource entries).
 * first_hop, when not NULL, is the address the first transmission goes to (bootstrap or a
 * client's peer); otherwise the node routes.  body is copied.  Returns the transaction id. */
struct node_dest {
    uint8_t type; /* WIRE_DEST_NODE or WIRE_DEST_RESOURCE */
    struct id id;
};
uint64_t node_request(struct node *n, const struct node_dest *dest, size_t n_dest, uint16_t code,
                      const GByteArray *body, const struct env_addr *first_hop, node_txn_fn done,
                      void *arg);
/* Answers request req with code and body (symmetric routing: the reversed via list). */
void node_respond(struct node *n, const struct wire_message *req, uint16_t code,
                  const GByteArray *body);
void node_respond_error(struct node *n, const struct wire_message *req, uint16_t error_code,
                        const char *info);
/* node_request and node_respond whose certificates bucket carries certs (a sequence of
 * GenericCertificate entries, borrowed; NULL: none) after this node's own certificate: the
 * certificates of the stored values' signers in a replica store or FetchAns (storage.c).
 * Without a security provider certs are ignored. */
uint64_t node_request_certs(struct node *n, const struct node_dest *dest, size_t n_dest,
                            uint16_t code, const GByteArray *body,
                            const struct env_addr *first_hop, node_txn_fn done, void *arg,
                            const GByteArray *certs);
void node_respond_certs(struct node *n, const struct wire_message *req, uint16_t code,
                        const GByteArray *body, const GByteArray *certs);
/* The body of a FetchReq for every value of a kind (model: its data model) at res
 * (§7.4.2.1: an empty key list, an open array range); the caller frees it. */
GByteArray *node_fetch_all_body(const struct id *res, uint32_t kind, int model);

/* The verified signer of a message this node received, as a handler sees it (on_request's
 * message, a transaction callback's resp): NULL when the node has no security provider
 * (node_config.security; with one, a message whose signature fails never reaches a handler).
 * Only the message node.c is handing over counts: for a copy, or after the handler has
 * returned, the answer is NULL. */
const struct node_signer *node_message_signer(const struct wire_message *m);

/* Connection table. */
struct conn *node_conn_find(struct node *n, const struct id *id);
struct conn *node_conn_add(struct node *n, const struct id *id, const struct env_addr *addr);
void node_conn_remove(struct node *n, const struct id *id);

/* Sends an Attach (§6.5.1) to node `target`, source-routed through `through` when not NULL;
 * on success the connection exists and the topology's peer_connected is called; then cb (if
 * not NULL) learns the outcome and the peer that answered (the node responsible for target).
 * arg follows the node_txn_fn rule: NULL or g_malloc'd, freed by cb. */
typedef void (*node_attach_fn)(struct node *n, void *arg, int status, const struct node_peer *p);
void node_attach(struct node *n, const struct id *target, const struct id *through,
                 node_attach_fn cb, void *arg);
/* The joining form: an Attach to Resource-ID `resource` with send_update set, whose first hop
 * is the bootstrap address (§10.5 step 2). */
void node_attach_bootstrap(struct node *n, const struct id *resource,
                           const struct env_addr *bootstrap, node_attach_fn cb, void *arg);

/* The bootstrap peers partition detection and rejoining go through (§11.4, §10.7.4.4): the
 * configuration's, else the one node_join was given; *count is 0 when there are none. */
const struct env_addr *node_bootstraps(const struct node *n, unsigned *count);

/* The topology reports that this node is now part of the overlay. */
void node_set_joined(struct node *n);
/* The topology reports a change of neighbours: replicas and responsibility are rechecked. */
void node_neighbors_changed(struct node *n);
/* Whether this node takes part in routing (joined, not leaving). */
bool node_routes(const struct node *n);

/* ---- storage.c (RFC 6940 §7, replication per the topology) ---- */
struct storage *storage_new(void);
void storage_free(struct storage *s);
/* Store, Fetch, Stat, Find requests delivered to this node. */
void storage_on_store(struct node *n, const struct wire_message *m);
void storage_on_fetch(struct node *n, const struct wire_message *m);
void storage_on_stat(struct node *n, const struct wire_message *m);
void storage_on_find(struct node *n, const struct wire_message *m);
/* Rechecks responsibility and replica sets after a neighbour change (§10.7.3). */
void storage_rebalance(struct node *n);
/* Hands every record to `to` (leave, §10.9), or the records in (from, upto] (join, §10.5). */
void storage_push_all(struct node *n, const struct id *to);
void storage_push_range(struct node *n, const struct id *to, const struct id *from,
                        const struct id *upto);
size_t storage_records(const struct storage *s);
bool storage_holds(const struct storage *s, const struct id *res, uint32_t kind, env_time now);
size_t storage_memory(const struct storage *s);
/* The fetcher's checks (node_config.security; nothing without a provider): every value of a
 * FetchAns for res must carry a signature that verifies against a certificate of the answer's
 * bucket (certs) and satisfy its kind's policy (§7.1, §7.3).  Values that fail are removed
 * from ans (in place), counted in node_stats.rejected_values and logged (once per answer);
 * returns how many.  *first_signer receives the verified signer of the first value kept
 * (unchanged when none is). */
uint32_t storage_check_fetched(struct node *n, const struct id *res, struct wire_bytes certs,
                               struct wire_fetch_ans *ans, struct id *first_signer);
/* Fault injection, for tests and hostile peers in the simulator: replaces the bytes of every
 * value of (res, kind) this node holds by value (len bytes), keeping their signatures -- what
 * a storing peer that alters records does.  Returns the values changed. */
unsigned storage_tamper(struct node *n, const struct id *res, uint32_t kind,
                        const uint8_t *value, size_t len);

/* ---- configupdate.c: configuration sequences and ConfigUpdate (§6.3.2.1, §6.5.4) ---- */
/* A message delivered to this node: when it carries an older configuration sequence than
 * ours and we hold a document, pushes the document to its origin with a ConfigUpdate. */
void configupdate_seen(struct node *n, const struct wire_message *m);
/* A ConfigUpdateReq delivered to this node. */
void configupdate_on_request(struct node *n, const struct wire_message *m);

/* ---- appdata.c (private extension: exp_a_req, docs/sip.md "Across NATs") ---- */
void appdata_on_request(struct node *n, const struct wire_message *m);
/* Whether the node can send a request of its own now (joined, or a connected client). */
bool node_can_originate(const struct node *n);
void configupdate_free(struct node *n);

/* ---- client.c: a client's peers, probe/keepalive and failover (RFC 6940 §4.2.1) ---- */
/* A data frame arrived on conn whose last via entry names prev: the client's connection to
 * its current peer, known by address only so far, takes that Node-ID. */
void client_heard(struct node *n, struct conn *conn, const struct id *prev);
/* The link to peer failed: when it is the current peer, the client moves to the next. */
void client_link_failed(struct node *n, const struct id *peer);
void client_free(struct node *n);

/* ---- adversary.c: hostile behaviour, a simulation feature (node_config.adversary) ---- */
/* A request route_out is about to forward to *next: true when the hostile node consumed it
 * (dropped it, or answered it with a forgery); false to send it on to *next, which misroute
 * may have changed. */
bool adversary_forward(struct node *n, const struct wire_header *h, const uint8_t *msg,
                       size_t len, size_t hdr_len, struct node_peer *next);
/* A request delivered to this node: true when the hostile node answered it itself (a Fetch
 * with a forged value, a refused Store). */
bool adversary_on_request(struct node *n, const struct wire_message *m);

/* ---- redundant.c: requests over several paths (redundant.h) ---- */
/* The completion of each path's transaction, and what node_free calls instead of g_free for
 * the arg of one still pending (the paths share a reference-counted state). */
void redundant_path_done(struct node *n, void *arg, int status, const struct wire_message *resp);
void redundant_path_free(void *arg);

/* ---- ice.c: NAT traversal (cfg.ice; docs/nat.md, "Traversal") ---- */
struct ice;
struct ice *ice_new(struct node *n);
void ice_free(struct ice *ice);
/* Whether a datagram from c's current address arrived (data frame) or c acknowledged one:
 * the address works in both directions. */
static inline bool node_conn_verified(const struct conn *c)
{
    return (c->rx_mask & 1) || c->srtt;
}
/* The node starts taking part (joining or joined): registers with its relay, which also
 * tells it its server-reflexive address, and arms the keepalive.  Idempotent. */
void ice_start(struct node *n);
/* The relay through which peer is reached while no verified connection exists: the relay
 * its Attach advertised, else the configured one; NULL when peer is a relay itself, this
 * node is its relay, or there are no relays (then the node sends to the table's address). */
const struct node_peer *ice_relay_for(struct node *n, const struct id *peer);
/* Whether traversal has dealt with peer (an Attach or checks); whether this node is the
 * configured relay of peer. */
bool ice_knows(struct node *n, const struct id *peer);
/* The address of peer when it has a connection (*conn_addr), else, with traversal, the host
 * candidate of a peer traversal reaches without one (relayed: messages go by Node-ID through
 * its relay).  False when neither: how a topology admits a joining peer behind a NAT. */
bool ice_peer_addr(struct node *n, const struct id *peer, struct env_addr *out);
bool ice_serves(struct node *n, const struct id *peer);
/* A message to peer went through relay r: counts it and starts an Attach with checks to
 * peer unless one is under way (or failed less than a minute ago). */
void ice_relayed(struct node *n, const struct node_peer *r, const struct id *peer);
/* A data frame from peer arrived directly from `from`: a working pair (ends its checks). */
void ice_heard(struct node *n, const struct id *peer, const struct env_addr *from);
/* The datagram being received (set by node_receive for the duration of the call, else
 * NULL): the source a STUN server would reflect. */
void ice_set_rx_from(struct node *n, const struct env_addr *from);
/* Candidates of this node into a (host, server-reflexive, relayed).  When answering a
 * request that came straight from its origin, the host candidate carries the origin's
 * source address as an IceExtension "reflexive-address"; a relayed candidate naming a relay
 * found in the directory (no configured one) carries its Node-ID as an IceExtension
 * "relay-node-id".  ext must hold ICE_EXT_BYTES. */
#define ICE_EXT_BYTES 80
void ice_candidates(struct node *n, struct wire_attach *a, bool answering_direct, uint8_t *ext);
/* An AttachReq from origin (direct: straight from it) / an AttachAns from peer: learns the
 * reflexive address (answers only), keeps the relayed candidate, starts the checks. */
void ice_on_attach_req(struct node *n, const struct id *origin, const struct wire_attach *a,
                       bool direct);
void ice_on_attach_ans(struct node *n, const struct id *peer, const struct wire_attach *a,
                       bool direct);
/* An Attach this node sent to peer failed. */
void ice_attach_failed(struct node *n, const struct id *peer);
/* Whether this node is a relay (configured, known as one, or offering the service). */
bool ice_is_relay(struct node *n);
/* The link to peer failed (node.c's link layer): when peer is a relay, failover. */
void ice_link_failed(struct node *n, const struct id *peer);
/* node.c services for ice.c: one connectivity check (a PingReq to Node-ID to, sent
 * unframed-sequence to addr, outside any connection and transaction); an Attach sent
 * straight to a peer's address (relay registration; no topology callback). */
void node_send_check(struct node *n, const struct id *to, const struct env_addr *addr);
void node_attach_direct(struct node *n, const struct node_peer *p);
/* An Attach to target routed through the overlay, without the topology callback. */
void node_attach_quiet(struct node *n, const struct id *target);

#endif
