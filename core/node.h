/* node.h — one RELOAD node (peer or client): the protocol core's public API.
 *
 * A node owns its transaction table (RFC 6940 §6.2: random transaction ids, end-to-end
 * retransmission with the overlay-reliability-timer, duplicate-request handling for the 15 s
 * request lifetime), symmetric recursive routing (§6.1–6.2: via and destination lists,
 * responses follow the reversed via list, TTL), the link layer (§6.6.2–6.6.3: FramedMessage
 * with sequence numbers and ACKs, used to detect failed links), its topology plug-in
 * (topology.h; CHORD-RELOAD in chord.c) and its share of the distributed store (storage.h).
 *
 * The node is sans-I/O: it is entered only through node_receive(), timers it started through
 * its env, and the calls below; it acts only through its env (env.h).
 *
 * Error codes returned by these functions and reported in env_event.status:
 */
#ifndef P2PSIP_NODE_H
#define P2PSIP_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "id.h"
#include "wire.h"

enum {
    NODE_OK = 0,
    NODE_E_TIMEOUT = -1,   /* no answer after every end-to-end retransmission */
    NODE_E_NOT_FOUND = -2, /* Error_Not_Found, or a Fetch that returned no value */
    NODE_E_REFUSED = -3,   /* any other RELOAD error response */
    NODE_E_STATE = -4,     /* not joined (or not connected, for a client), or leaving */
    NODE_E_INVALID = -5,   /* bad arguments (unknown kind, value too large) */
};

/* Kinds this build knows (RFC 6940 §7.4.5, RFC 7904).  The private-use Kind-IDs hold the
 * simulator's workload records and `p2psip store`/`fetch` values. */
#define NODE_KIND_SIP_REGISTRATION 1u  /* dictionary, RFC 7904 */
#define NODE_KIND_VALUE 0xf0000001u    /* single value: NAME -> VALUE */
#define NODE_KIND_ARRAY 0xf0000002u    /* array */
#define NODE_KIND_DICT 0xf0000003u     /* dictionary */
#define NODE_KIND_SERVICE 0xf0000004u  /* dictionary of ServiceRecords (core/service.h) */
/* Data model of a known kind (enum wire_model), 0 when unknown.  Fits wire_model_fn.  node is
 * NULL for the kinds this build knows, or a const struct node * whose configuration's kinds
 * (node_config.kinds) count first. */
int node_kind_model(uint32_t kind, void *node);

/* A kind as the overlay configuration document defines it (RFC 6940 §11.1 <kind>): its data
 * model and the limits the storing peer enforces (§7.4.1.1: Error_Data_Too_Large beyond). */
struct node_kind {
    uint32_t id;
    uint8_t model;      /* enum wire_model */
    uint32_t max_count; /* values per (Resource-ID, Kind) after a Store; 0 = no limit */
    uint32_t max_size;  /* bytes per value; 0 = node_config.max_value_size */
    uint8_t access;     /* enum node_access: the storing peer's policy (§7.3) */
    uint32_t max_node_multiple; /* NODE-MULTIPLE's bound, else 0 */
};
#define NODE_MAX_KINDS 64

/* Access-control policies (RFC 6940 §7.3), enforced by a storing peer that has a security
 * provider (node_config.security).  NODE_ACCESS_OPEN (0, this build's extension) admits any
 * verified signer: it is what a kind gets when nothing defines a policy. */
enum node_access {
    NODE_ACCESS_OPEN = 0,
    NODE_ACCESS_USER_MATCH,
    NODE_ACCESS_NODE_MATCH,
    NODE_ACCESS_USER_NODE_MATCH,
    NODE_ACCESS_NODE_MULTIPLE,
    /* This build's extension (core/access.h): a dictionary value whose key is the signer's
     * Node-ID, USER-NODE-MATCH without its user half.  The built-in SIP-REGISTRATION's policy,
     * so that a peer may register the phones it serves (docs/sip.md). */
    NODE_ACCESS_NODE_KEY_MATCH,
};
struct node;
struct service_policy;
/* The definition of kind that node uses: its configuration's, else the built-in one; NULL
 * when the kind is unknown.  node may be NULL (built-in kinds only). */
const struct node_kind *node_kind_find(const struct node *node, uint32_t kind);

#define NODE_MAX_BOOTSTRAPS 4

/* What a running node adopts from a newer configuration document received in a ConfigUpdate
 * (§6.5.4): the host parses the document (XML stays outside the core) into this. */
struct node_config_doc {
    uint32_t overlay;  /* id_overlay_hash(instance-name) */
    uint16_t sequence; /* 0 .. 65534 */
    struct node_kind kinds[NODE_MAX_KINDS];
    unsigned n_kinds;
    struct env_addr bootstraps[NODE_MAX_BOOTSTRAPS]; /* IPv4 bootstrap nodes */
    unsigned n_bootstraps;
};
/* Parses the configuration of the overlay whose hash is `overlay` out of a document's bytes
 * (borrowed) into out; returns 0, or a negative value when the document is malformed or
 * refused or holds no configuration for that overlay. */
typedef int (*node_config_parse_fn)(void *ud, const uint8_t *doc, size_t len, uint32_t overlay,
                                    struct node_config_doc *out);

/* ---- Security (RFC 6940 §13; docs/security.md) ----------------------------------------------
 * The core does no cryptography itself: a provider does, through these hooks.  sec/ backs them
 * with X.509 credentials and ECDSA (libcrypto); the simulator models them (signatures of the
 * real size that only the signer's own node can produce) or uses sec/ for small runs.  One
 * provider may serve many nodes (the simulator shares one configuration between nodes), so
 * every hook names the node it acts for.  Without a provider (ops NULL) messages and values
 * go out unsigned (algorithm none, identity none) and nothing is checked, as before. */

/* Who signed, as the provider verified it. */
struct node_signer {
    struct id node;               /* the Node-ID the signature names; the certificate carries it */
    uint8_t user_hash[ID_BYTES];  /* id_hash() of the certificate's user name (USER-MATCH) */
    bool has_user;
};

struct node_security_ops {
    /* Signs input (len bytes: the §6.3.4 or §7.1 input without the SignerIdentity, which the
     * provider appends itself) as node `self`, appending the encoded Signature (§6.3.4:
     * algorithm, SignerIdentity, value) to out.  0, or a negative provider code. */
    int (*sign)(void *ud, const struct id *self, const uint8_t *input, size_t len,
                GByteArray *out);
    /* Appends self's GenericCertificate(s) (§6.3.4) to a certificates bucket. */
    void (*certificates)(void *ud, const struct id *self, GByteArray *bucket);
    /* Verifies sig over input: finds the signer's certificate (in bucket, or one the provider
     * has seen before), checks it against the overlay's trust anchor at time now (env clock)
     * and the signature; fills *who.  0, or a negative provider code (never acted upon). */
    int (*verify)(void *ud, struct wire_bytes bucket, const struct wire_signature *sig,
                  const uint8_t *input, size_t len, env_time now, struct node_signer *who);
    /* A short text for a provider code, for logs. */
    const char *(*strerror)(int code);
};

/* A node reachable at an address, as routing tables hold it. */
struct node_peer {
    struct id id;
    struct env_addr addr;
};

/* The topology plug-in (topology.h). */
enum node_topology { NODE_TOPOLOGY_CHORD, NODE_TOPOLOGY_BAMBOO, NODE_TOPOLOGY_SUPERPEER };

/* A node's configuration.  Ownership: node_new borrows it.  The caller owns it, keeps it alive
 * and unchanged until node_free, and may hand the same one to any number of nodes (the
 * simulator holds one per distinct configuration, not one per node: memory per peer counts).
 * The core never writes it.  What differs per node is node state instead: the bootstrap
 * node_join was given (used when bootstraps is empty), the super-peer role once the node runs
 * (superpeer.is_super is only the role it starts in), and a document adopted through
 * ConfigUpdate, for which the node makes its own copy of the configuration (copy-on-write,
 * core/configupdate.c). */
struct node_config {
    enum node_topology topology; /* CHORD by default */
    uint32_t overlay;            /* id_overlay_hash(overlay name) */
    uint8_t initial_ttl;         /* 100 (§6.3.2) */
    env_time reliability_timer;  /* overlay-reliability-timer, 3 s (§11.1) */
    unsigned max_transmissions;  /* 5 (§6.2.1) */
    env_time request_lifetime;   /* duplicate-request cache lifetime, 15 s (§6.2.1) */
    env_time link_rto;           /* link-layer RTO before a frame counts as unacked, 500 ms */
    unsigned link_fail_after;    /* consecutive unacked frames that fail a link, 3 */
    unsigned successors;         /* neighbour-table size per side, >= 3 (§10.7) */
    unsigned predecessors;
    unsigned replicas;           /* replicas beyond the responsible peer, 2 (§10.4) */
    unsigned fingers_min;        /* grow the finger table to this many entries, 16 (§10.7.4.3) */
    env_time update_interval;    /* chord-update-interval (§10.7.4.1) */
    env_time ping_interval;      /* chord-ping-interval: finger refresh (§10.7.4.2) */
    bool reactive;               /* chord-reactive (§10): Update at once on a change */
    bool client;                 /* a client (§4.2): neither routes nor stores */
    /* A client Pings the wildcard Node-ID through its peer (§4.2.1's probe, core/client.c)
     * at once and then this often: it learns the peer's Node-ID, keeps the peer's connection
     * to it alive and notices a dead peer without traffic of its own.  0 (default): never. */
    env_time client_keepalive;
    uint32_t max_value_size;     /* largest value accepted by Store, bytes */
    /* Bootstrap peers (§11.4) kept for partition detection (§10.7.4.4): every
     * partition_interval a joined peer Pings its own successor position through one of
     * them and Attaches to a responder it did not know.  When the list is empty the node uses
     * the address node_join() was given.  No bootstrap or interval 0: no detection. */
    struct env_addr bootstraps[NODE_MAX_BOOTSTRAPS];
    unsigned n_bootstraps;
    env_time partition_interval; /* 120 s */
    /* The overlay configuration document (RFC 6940 §11.1; docs/config.md).  Without one these
     * stay 0/NULL: sequence 0 in every header, this build's kinds, ConfigUpdates refused. */
    uint16_t config_seq;           /* its sequence: each message's configuration_sequence */
    const struct node_kind *kinds; /* its kinds, borrowed (must outlive the node), looked up */
    unsigned n_kinds;              /*   before the built-in ones */
    const uint8_t *config_doc;     /* its bytes, borrowed: pushed in a ConfigUpdate (§6.5.4) */
    size_t config_doc_len;         /*   to a node whose messages carry an older sequence */
    node_config_parse_fn config_parse; /* reads the document of a ConfigUpdate received */
    void *config_parse_ud;
    /* Bamboo (core/bamboo.c; docs/bamboo.md). */
    struct {
        unsigned digit_bits;       /* b: routing digits of b bits (base 2^b), 4 */
        unsigned leaf_set;         /* leaf-set size per side, 8 */
        env_time leafset_interval; /* periodic leaf-set push/pull with a neighbour, 5 s */
        env_time table_interval;   /* periodic routing-table exploration, 10 s */
        bool reactive;             /* react at once to changes instead of periodically, false */
        bool pns;                  /* proximity neighbour selection, true */
        env_time rto_floor;        /* per-neighbour timeout: srtt + 4 rttvar, within */
        env_time rto_cap;          /*   [rto_floor 100 ms, rto_cap 5 s] */
    } bamboo;
    /* Super-peer (core/superpeer.c; docs/superpeer.md). */
    struct {
        bool is_super;         /* a node created with this configuration starts as a
                                  super-peer (the simulator holds one config per role) */
        unsigned replicas;     /* replicas on the next super-peers, 2 */
        env_time keepalive;    /* ordinary peer -> super-peer keepalive, 15 s */
    } superpeer;
    /* NAT traversal (core/ice.c; docs/nat.md, "Traversal"): server-reflexive and relayed
     * candidates in Attach, ICE-style connectivity checks, relaying through public peers.
     * Off by default: a node then sends to the addresses its tables hold, as before. */
    struct {
        bool enabled;
        /* The relay peers of the overlay's configuration (public peers that forward for
         * others, TURN-like), borrowed: the array must outlive the node.  Node X's relay is
         * relays[node_ice_relay_index(X, n_relays)]; a service lookup may fill it instead.
         * An entry whose Node-ID is the wildcard (id_wildcard()) names a relay by address
         * only: the node learns its Node-ID by an Attach to the wildcard at that address. */
        const struct node_peer *relays;
        unsigned n_relays;
        env_time keepalive;      /* relay refresh and NAT binding keepalive, 20 s */
        env_time check_interval; /* between rounds of connectivity checks, 200 ms */
        unsigned check_rounds;   /* rounds before falling back to the relay, 5 */
        /* Where a node behind a NAT finds its own relay (docs/nat.md, "Relays from the
         * directory"): NODE_ICE_RELAYS_CONFIGURED (default) takes the configured one above;
         * NODE_ICE_RELAYS_SERVICE, once joined, looks service relay_service up
         * (core/service.h) and ranks the providers with relay_policy (NULL: two_choices),
         * the configured list then being only the bootstrap relays a node uses to join. */
        enum node_ice_relays { NODE_ICE_RELAYS_CONFIGURED, NODE_ICE_RELAYS_SERVICE } discovery;
        const char *relay_service;                 /* borrowed; NULL: "relay" */
        const struct service_policy *relay_policy; /* borrowed (core/service.h) */
        /* Relay failover: a relay whose link failed or that did not answer a registration is
         * avoided for ICE_RELAY_DEAD (60 s); a node whose own relay it was switches to
         * another one and Attaches again to the peers that reach it through a relay.  True
         * by default. */
        bool failover;
    } ice;
    /* Security (see struct node_security_ops).  With ops set, every message this node sends
     * is signed and carries its certificate; a message whose signature does not verify is
     * counted (node_stats.dropped_signature) and never acted upon (a request gets
     * Error_Forbidden); a Join is admitted only from the Node-ID its signer's certificate
     * carries; every value stored is signed, checked by the storing peer against its kind's
     * policy (node_kind.access) and by the fetcher. */
    struct {
        const struct node_security_ops *ops;
        void *ud;
    } security;
    /* A HOSTILE node — a simulation feature (scenario key hostile:, core/adversary.c,
     * docs/security.md "Hostile peers"); every real peer leaves it all zero.  active is set
     * when any behaviour is: the hooks cost one test of it where they apply. */
    struct node_adversary {
        bool active;
        bool drop;     /* requests it should forward are dropped */
        bool misroute; /* requests it should forward go to a random routing-table entry */
        bool forge;    /* a Fetch it receives or forwards is answered with a forged value
                          signed as itself; a lookup (Ping) it forwards is answered as if it
                          were responsible */
        uint8_t refuse_store; /* enum node_refuse: Stores delivered to it are refused */
    } adversary;
};
/* How a hostile node refuses Stores (node_config.adversary.refuse_store). */
enum node_refuse {
    NODE_REFUSE_NONE = 0,
    NODE_REFUSE_ERROR,  /* answered with Error_Forbidden */
    NODE_REFUSE_SILENT, /* answered as stored, and not kept */
};
/* Fills c with RFC 6940's defaults, except update_interval 60 s and ping_interval 60 s
 * (RFC defaults 600 s and 3600 s suit deployments, not minutes-long simulations). */
void node_config_default(struct node_config *c);

/* Appends message (h, code, body) to out as a node running as self with configuration cfg
 * would send it: signed with cfg's security provider when it has one (§6.3.4), else with the
 * "none" signature.  For hosts that send a RELOAD message outside a node (net/bootstrap.c's
 * probes).  Returns 0, or the provider's negative code when it could not sign (the message
 * is then encoded unsigned). */
int node_encode_message(const struct node_config *cfg, const struct id *self,
                        const struct wire_header *h, uint16_t code, const struct wire_bytes *body,
                        GByteArray *out);

struct node;

/* env is copied; cfg is borrowed: it must stay alive and unchanged until node_free (see
 * struct node_config).  self is the node's Node-ID; addr the address it receives on. */
struct node *node_new(const struct env *env, const struct node_config *cfg, const struct id *self,
                      const struct env_addr *addr);
/* Frees the node and stops its timers; sends nothing (use node_leave first to leave politely). */
void node_free(struct node *n);

/* A datagram (a FramedMessage) arrived from `from`.  Malformed input is counted, reported as
 * ENV_EV_MSG_DROPPED and dropped; it never crashes the node. buf is borrowed. */
void node_receive(struct node *n, const struct env_addr *from, const uint8_t *buf, size_t len);

/* Joins through the peer at bootstrap (RFC 6940 §10.5); NULL starts a new overlay with this
 * node alone.  Completion is reported as ENV_EV_JOIN_DONE.  Returns 0 or NODE_E_STATE. */
int node_join(struct node *n, const struct env_addr *bootstrap);
/* node_join through a bootstrap peer whose Node-ID is known: with NAT traversal (cfg.ice) the
 * join's first Attach goes through that peer's relay (docs/nat.md, "Traversal"), so a
 * bootstrap peer behind a NAT can be entered through. */
int node_join_id(struct node *n, const struct env_addr *bootstrap, const struct id *bootstrap_id);
/* A client (cfg.client) sends everything through the peer at `peer` (§4.2.1). */
int node_client_connect(struct node *n, const struct env_addr *peer);
/* A client attaches to one or more peers (core/client.c, docs/clients.md): it uses peers[0]
 * and, when the link to the current peer fails, the next (wrapping), counted in
 * node_stats.client_failovers.  May be called again with a new list at any time.  NODE_OK,
 * NODE_E_STATE for a peer, NODE_E_INVALID for 0 or more than NODE_MAX_CLIENT_PEERS. */
#define NODE_MAX_CLIENT_PEERS 8
int node_client_connect_list(struct node *n, const struct env_addr *peers, size_t count);
/* A client's current peer: its address, and its Node-ID once a frame from it named it (then
 * true; before, the id is the wildcard and false).  False and out untouched for a peer or an
 * unconnected client. */
bool node_client_peer(const struct node *n, struct node_peer *out);
/* Leaves gracefully (§6.4.2.2, §10.9): hands stored data to the successor, sends Leave to the
 * neighbours, and stops taking part in the overlay. */
void node_leave(struct node *n);

/* Installs a routing state directly, as a simulator does to start from a stable ring
 * without running the join protocol; the node then counts as joined and runs stabilization. */
void node_install_ring(struct node *n, const struct node_peer *pred, size_t n_pred,
                       const struct node_peer *succ, size_t n_succ,
                       const struct node_peer *fingers, size_t n_fingers);

/* Builds the routing state from a complete view of the overlay (topology.h), for any
 * topology whose plug-in supports it; the node then counts as joined. */
struct topology_view;
void node_install_view(struct node *n, const struct topology_view *v);

/* Routes a Ping to Resource-ID key and reports ENV_EV_LOOKUP_DONE with the answering
 * Node-ID and the hop count (the overlay links the request crossed). */
int node_lookup(struct node *n, const struct id *key, uint64_t cookie);

/* A value to store under a kind; which fields count depends on the kind's data model. */
struct node_value {
    uint32_t index;         /* array */
    const uint8_t *key;     /* dictionary */
    uint16_t key_len;
    const uint8_t *value;
    uint32_t value_len;
    bool exists;            /* false stores a tombstone (removal, §7.4.1.3) */
    uint32_t lifetime;      /* seconds */
};
/* Completion callbacks (optional); ans is valid only during the call. */
typedef void (*node_store_cb)(void *ud, int status);
typedef void (*node_fetch_cb)(void *ud, int status, const struct wire_fetch_ans *ans);

/* Stores one value of a kind at Resource-ID res (§7.4.1); reports ENV_EV_STORE_DONE.  With a
 * security provider the value is signed as this node (§7.1); NODE_E_STATE when the provider
 * cannot sign for it (no credential). */
int node_store(struct node *n, const struct id *res, uint32_t kind, const struct node_value *v,
               uint64_t cookie, node_store_cb cb, void *ud);
/* Fetches every value of a kind at res (§7.4.2); reports ENV_EV_FETCH_DONE.  With a security
 * provider every value of the answer is checked (its signature against the answer's
 * certificates, then its kind's policy, core/access.h); a value that fails is removed before
 * cb and the event see the answer, counted in node_stats.rejected_values and in the event's
 * `rejected`, and logged; the event's `signer` names the verified signer of the first value
 * kept (under an OPEN policy, what tells a genuine value from one a hostile peer signed).  A forged value is thus never reported as stored data.  When every
 * value failed the status is NODE_E_NOT_FOUND. */
int node_fetch(struct node *n, const struct id *res, uint32_t kind, uint64_t cookie,
               node_fetch_cb cb, void *ud);

/* AppAttach (§6.5.2): reaching an application (SIP) on the node at the end of a destination
 * list.  No ICE here either: each side gives one host candidate, the address its application
 * receives datagrams on.  Application ids are IANA port numbers (§14.5); SIP is 5060. */
#define NODE_APP_SIP 5060
#define NODE_MAX_APPS 4
/* Completion of node_app_attach: NODE_OK with the answering node's Node-ID and the address of
 * its application (the first IPv4 candidate of the AppAttachAns); NODE_E_NOT_FOUND when that
 * node serves no such application (Error_Not_Found); NODE_E_TIMEOUT or NODE_E_REFUSED (a
 * malformed answer included) otherwise, with node and app_addr NULL.  Both are valid only
 * during the call. */
typedef void (*node_app_attach_cb)(void *ud, int status, const struct id *node,
                                   const struct env_addr *app_addr);
/* Sends an AppAttachReq for `application` along dest (16-byte node or resource entries, a
 * route's destination list); the request's candidate is this node's own address for that
 * application when it listens for it, else its RELOAD address.  Returns NODE_OK (cb runs
 * later, or not at all when the node is freed first), NODE_E_STATE when the node cannot send,
 * or NODE_E_INVALID for an empty list, too long a list or an entry that is no 16-byte id. */
int node_app_attach(struct node *n, const struct wire_dest *dest, size_t n_dest,
                    uint16_t application, node_app_attach_cb cb, void *ud);
/* Every pending node_app_attach whose callback would get ud forgets it: the callback will not
 * run, so the caller may free ud now (the request itself still runs out its retransmissions). */
void node_app_attach_cancel(struct node *n, const void *ud);
/* Declares that `application` receives datagrams at addr on this node: an AppAttachReq for it
 * is answered with addr as the host candidate (without, Error_Not_Found).  addr NULL withdraws
 * it; at most NODE_MAX_APPS applications (more are ignored). */
void node_app_listen(struct node *n, uint16_t application, const struct env_addr *addr);

/* AppData, a private extension (core/appdata.c; docs/sip.md, "Across NATs"): an application's
 * datagram carried through the overlay to a Node-ID in RFC 6940's experimentation message code
 * exp_a_req (0x23), answered by an empty exp_a_ans (0x24).  It reaches a node wherever the
 * overlay does, NATs included.  Only the node the request names takes it: another node (the
 * one now responsible for a departed node's Node-ID) answers Error_Not_Found, as does a node
 * without a receiver for the application.  A node that does not know the code answers with an
 * error as for any unknown method.  The receiver learns the sender's Node-ID and the sender's
 * own address for the application (its node_app_listen address, port 0 when none). */
typedef void (*node_app_data_cb)(void *ud, const struct id *from, const struct env_addr *from_app,
                                 const uint8_t *data, size_t len);
/* Sets the receiver of AppData for an application the node listens for (node_app_listen
 * first; withdrawing the application withdraws it); cb NULL removes it. */
void node_app_on_data(struct node *n, uint16_t application, node_app_data_cb cb, void *ud);
/* Sends data (at most 65535 bytes, copied) to the application on node `to`; RELOAD's
 * end-to-end retransmission applies, nothing reports completion.  Returns NODE_OK,
 * NODE_E_STATE when the node cannot send, NODE_E_INVALID for too much data. */
int node_app_send(struct node *n, const struct id *to, uint16_t application, const uint8_t *data,
                  size_t len);

/* Introspection, for the simulator's oracle, graph snapshots and tests. */
const struct id *node_id(const struct node *n);
bool node_is_joined(const struct node *n);
/* Copies up to max routing-table entries (neighbours first, then fingers). */
size_t node_routing_table(const struct node *n, struct node_peer *out, size_t max);
/* Current successor/predecessor lists, nearest first. */
size_t node_successors(const struct node *n, struct node_peer *out, size_t max);
size_t node_predecessors(const struct node *n, struct node_peer *out, size_t max);
/* Number of (resource, kind) records and of values held, replicas included. */
size_t node_stored_records(const struct node *n);
/* True when this node holds an unexpired value of kind at res. */
bool node_holds(const struct node *n, const struct id *res, uint32_t kind);

/* The link layer's round-trip estimate to a connected peer (RFC 6298 SRTT and RTTVAR from the
 * ACKs of §6.6.3, 100 us resolution, ms-granular samples); false when there is no sample. */
bool node_peer_rtt(const struct node *n, const struct id *peer, env_time *srtt, env_time *rttvar);

/* Counters, for Stat-like diagnostics and the simulator's summary. */
struct node_stats {
    uint64_t msgs_sent, bytes_sent, msgs_received, bytes_received;
    uint64_t dropped_malformed, dropped_ttl, forwarded, retransmissions;
    uint64_t links_failed;
    uint64_t dropped_overlay; /* data frames whose overlay hash is another overlay's (§6.3.2) */
    uint64_t config_updates;  /* newer configuration documents adopted through ConfigUpdate */
    /* Security (node_config.security): messages whose signature was missing or did not
     * verify; Joins refused for want of a credential; Stores refused by a kind's policy or a
     * value's signature; fetched values whose signature did not verify (never reported). */
    uint64_t dropped_signature, refused_join, refused_store, rejected_values;
    uint64_t client_failovers; /* a client moved to another peer (core/client.c) */
};
const struct node_stats *node_get_stats(const struct node *n);
/* Requests this node originated that await their answer (its transaction table): a measure
 * of the overlay work a host has queued behind it (sip/registrar.h's overload control). */
size_t node_pending_requests(const struct node *n);
/* The sequence of the configuration document the node follows now (node_config.config_seq,
 * or a newer one adopted through ConfigUpdate). */
uint16_t node_config_sequence(const struct node *n);

/* NAT traversal (cfg.ice): how connection attempts ended, counted by the node that started
 * them (the Attach's sender), and reported as ENV_EV_CONNECT with this in env_event.code. */
enum node_connect {
    NODE_CONNECT_DIRECT,  /* a host candidate answered and neither side is translated */
    NODE_CONNECT_PUNCHED, /* a check through a NAT answered (hole punching) */
    NODE_CONNECT_RELAYED, /* no check answered; traffic goes through the peer's relay */
    NODE_CONNECT_FAILED,  /* the Attach failed, or no check answered and no relay is known */
};
#define NODE_CONNECT_OUTCOMES (NODE_CONNECT_FAILED + 1)
struct node_ice_stats {
    uint64_t outcomes[NODE_CONNECT_OUTCOMES];
    uint64_t bad_candidates; /* candidates dropped: IPv6, address or port 0, unknown relay */
    uint64_t relayed_sent;   /* messages this node sent through a relay */
    uint64_t checks_sent;
    /* Relays from the directory and failover (reported as ENV_EV_RELAY with this reason in
     * env_event.code and the new relay in responder): */
    uint64_t relay_found;         /* own relay taken from a service lookup */
    uint64_t relay_failover;      /* own relay replaced after it failed */
    uint64_t relay_lookup_failed; /* service lookups that gave no usable provider */
    uint64_t relays_failed;       /* relays marked failed (link failure, no registration) */
};
enum node_relay_change { NODE_RELAY_FOUND, NODE_RELAY_FAILOVER, NODE_RELAY_LOOKUP_FAILED };
/* NULL when traversal is off. */
const struct node_ice_stats *node_ice_get_stats(const struct node *n);
/* The server-reflexive address learnt from a peer's AttachAns; false when none yet. */
bool node_ice_srflx(const struct node *n, struct env_addr *out);
/* Which of n relays serves Node-ID id (every node computes the same). */
unsigned node_ice_relay_index(const struct id *id, unsigned n);
/* The relay this node registers with and advertises in its relayed candidate; false when it
 * has none (traversal off, no relays, or this node is a relay). */
bool node_ice_relay(const struct node *n, struct node_peer *out);
/* This node offers relaying (it must be publicly reachable): it advertises service `name`
 * (copied) with capacity (clients) in the directory once joined (and after each rejoin of the
 * same node object), its load being the peers registered with it, and serves the peers that
 * register with it.  NODE_OK, NODE_E_STATE without traversal, NODE_E_INVALID for a bad name. */
int node_ice_offer_relay(struct node *n, const char *name, uint32_t capacity);
/* Peers registered with this relay now (registrations younger than 3 keepalive periods). */
unsigned node_ice_relay_clients(const struct node *n);

#endif
