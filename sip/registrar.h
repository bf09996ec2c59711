/* registrar.h — the SIP proxy/registrar adapter of a RELOAD peer (seed draft §5.5–5.6; the
 * registrar of RFC 3261 §10.3 whose location service is the overlay, RFC 7904 §3).
 *
 * Ordinary SIP user agents send SIP text over UDP to the adapter; the host hands every
 * datagram to sip_registrar_receive() and sends what the adapter gives to its send function.
 * The adapter is sans-I/O like core/: time, timers and randomness come from its env, overlay
 * operations go through the node, SIP text is parsed and built with libosip2's parser only
 * (never its wall-clock transaction layer).  The same code runs in the simulator and over
 * real sockets.
 *
 * REGISTER (RFC 3261 §10.3): the AoR is the canonical To URI (sip_usage_aor); its contacts are
 * kept here, and the node stores one SIP-REGISTRATION value at hash(AoR) under its own Node-ID
 * (RFC 7904 §3): a route whose destination list is this node — or, when a contact is a URI of
 * the overlay's own SIP domain (config domain), a forwarding URI to that AoR.  The 200 OK is
 * sent when the Store has completed and lists every current contact with its expires.
 * Expires: 0 (or "Contact: *" with Expires: 0) removes contacts; when none remain the value is
 * replaced by a nonexistent one (exists = False) for the rest of its lifetime (RFC 6940
 * §7.4.1.3).  The stored lifetime is capped at store_lifetime and the value is stored again
 * before it runs out while contacts remain; contacts expire on the env clock.
 *
 * When the last contact expires the binding is kept, without contacts, for expired_grace (and
 * the stored value lives that much longer): requests for it then get 480, not 404.
 *
 * Other requests are the proxy's (proxy.c, RFC 3261 §16): a Route naming this adapter is
 * removed and a further one followed; an in-dialog request goes to its Request-URI (unless
 * that is this adapter's own address); otherwise the Request-URI's AoR is looked up — in the
 * local bindings first (the request goes to the most recent contact, at the address its
 * REGISTER came from), else in the overlay
 * (resolve.h): 404 when nothing is registered, 482 for a forwarding loop, 480 for a lapsed
 * registration or when no route's peer can be reached; a route's peer is reached by AppAttach
 * (node_app_attach, its answer cached) and the request is sent to its SIP address, with this
 * adapter's Via and Record-Route.  Responses return on the server transaction that asked;
 * the ACK of a 2xx is forwarded statelessly.
 *
 * Malformed input: a datagram libosip2 cannot parse, a response matching no client
 * transaction, or a request lacking Via, From, To, Call-ID or CSeq cannot be answered and is
 * counted and dropped; a request that can be answered but is wrong (CSeq method differs, bad
 * Contact or Expires use) gets 400.
 * Server transactions (RFC 3261 §17.2) absorb retransmitted requests and repeat the final
 * response; their timers (J for non-INVITE, G/H/I for INVITE) run on the env clock.
 */
#ifndef P2PSIP_SIP_REGISTRAR_H
#define P2PSIP_SIP_REGISTRAR_H

#include <stddef.h>
#include <stdint.h>

#include "../core/env.h"
#include "../core/node.h"

struct sip_registrar_config {
    const char *domain;       /* the overlay's SIP domain (copied); NULL: no forwarding URIs */
    uint32_t default_expires; /* s, when neither the Contact nor the request says, 3600 */
    uint32_t min_expires;     /* s, shorter non-zero requests get 423, 60 */
    uint32_t max_expires;     /* s, longer ones are shortened, 86400 */
    unsigned max_contacts;    /* per AoR; more get 403, 16 */
    uint32_t store_lifetime;  /* s, the longest lifetime given to a stored value, 600 */
    unsigned resolve_depth;   /* forwarding URIs followed by a lookup, SIP_RESOLVE_DEPTH */
    env_time t1, t2, t4;      /* RFC 3261 §17 timer values: 500 ms, 4 s, 5 s */
    uint64_t cookie;          /* passed to node_store/node_fetch (env_event.cookie), 0 */
    /* The proxy (docs/sip.md).  addr is where this adapter receives SIP datagrams: its Via
     * sent-by and Record-Route, and what the node answers an AppAttach for SIP with
     * (node_app_listen).  Port 0: requests are not forwarded (501). */
    struct env_addr addr;
    uint32_t expired_grace; /* s a lapsed registration stays known (480, not 404), 300 */
    uint32_t app_cache;     /* s an AppAttach answer (a peer's SIP address) is reused, 120 */
    /* Overload control (RFC 3261 §21.5.4; docs/sip.md, "Overload"): while the node has at
     * least max_pending RELOAD requests of its own awaiting answers, a new request that would
     * add overlay work — a REGISTER, or a request outside a dialog (no To tag) other than ACK
     * and CANCEL — is answered 503 with Retry-After: retry_after, before any overlay work is
     * started.  In-dialog requests (BYE) pass: they end calls.  0: no limit.  2048, 1 s. */
    unsigned max_pending;
    uint32_t retry_after;
    /* Ordinary SIP out of the overlay (RFC 3263; docs/sip.md, "Out of the overlay"): with a
     * locator, a new request whose Request-URI host is neither `domain` nor an IPv4 literal
     * is for a domain no overlay of this peer serves: the locator finds its next hop (NAPTR,
     * SRV, A) and the request is forwarded there, record-routed; 502 when none is found.  An
     * IPv4 literal host is the next hop itself.  NULL: every AoR is looked up in the overlay. */
    const struct sip_locator *locator; /* borrowed, must outlive the adapter */
    /* Several adapters sharing one SIP address (sip/router.h): 0 for the first; N > 0 puts
     * "-N-" at the start of this adapter's Via branches so that responses find it. */
    unsigned instance;
};

/* Completion of a locator's search: 0 and the next hop, or a negative code (none found). */
typedef void (*sip_locate_cb)(void *ud, int status, const struct env_addr *hop);
/* A host's resolver of SIP domains (net/dns.h over c-ares; tests use fakes).  start finds the
 * next hop for a domain name (port: the URI's, 0 when it gives none) and returns a handle;
 * cb runs later — never during start — exactly once, unless cancel(ctx, handle) comes first.
 * start returns NULL when it cannot begin (cb will not run). */
struct sip_locator {
    void *(*start)(void *ctx, const char *domain, uint16_t port, sip_locate_cb cb, void *ud);
    void (*cancel)(void *ctx, void *handle);
    void *ctx;
};
void sip_registrar_config_default(struct sip_registrar_config *c);
/* Initialises libosip2's parser tables (and silences its trace output) once per process;
 * sip_registrar_new does it too.  For hosts that parse SIP themselves (sim/sipua.c). */
void sip_registrar_parser_init(void);

/* Sends one SIP datagram to a user agent; msg is borrowed for the call. */
typedef void (*sip_registrar_send_fn)(void *ud, const struct env_addr *to, const char *msg,
                                      size_t len);

struct sip_registrar;

/* env (copied) gives time, timers and randomness (it may be the node's own); node must stay
 * alive until sip_registrar_free and its pending Stores and Fetches should have completed
 * before node_free (their completions then find nothing to do and free their state). */
struct sip_registrar *sip_registrar_new(const struct env *env, struct node *node,
                                        const struct sip_registrar_config *cfg,
                                        sip_registrar_send_fn send, void *send_ud);
/* Stops every timer and forgets the local bindings (stored values expire by themselves). */
void sip_registrar_free(struct sip_registrar *r);

/* A SIP datagram arrived from `from`.  buf is borrowed and need not be NUL-terminated. */
void sip_registrar_receive(struct sip_registrar *r, const struct env_addr *from, const uint8_t *buf,
                           size_t len);

/* Stores every binding that has contacts again, now (in AoR order): what a client's host calls
 * when the client moved to another peer, so that the routes ([peer, client], docs/clients.md)
 * name the new one. */
void sip_registrar_restore(struct sip_registrar *r);

/* The unexpired contacts kept for a canonical AoR: up to max URIs (borrowed, valid until the
 * adapter is next entered) with their absolute expiry times; returns how many exist. */
struct sip_registrar_contact {
    const char *uri;
    env_time expires;
};
size_t sip_registrar_contacts(const struct sip_registrar *r, const char *aor,
                              struct sip_registrar_contact *out, size_t max);

struct sip_registrar_stats {
    uint64_t received;          /* datagrams given to sip_registrar_receive */
    uint64_t dropped_malformed; /* unparsable, or a request that cannot be answered */
    uint64_t dropped_other;     /* responses for no transaction, ACKs that cannot go on */
    uint64_t retransmissions;   /* requests absorbed by their server transaction */
    uint64_t responses_sent;    /* including retransmitted responses */
    uint64_t bad_requests;      /* 400 answers */
    uint64_t registers_ok;      /* REGISTERs answered 200 */
    uint64_t registers_failed;  /* REGISTERs answered otherwise */
    uint64_t stores, store_failures, refreshes;
    uint64_t bindings_expired; /* AoRs whose last contact expired */
    uint64_t lookups, lookups_found;
    /* The proxy. */
    uint64_t forwarded;           /* requests sent on downstream (client transactions) */
    uint64_t forwarded_stateless; /* ACKs of 2xx sent on */
    uint64_t relayed;             /* responses passed upstream */
    uint64_t app_attaches, app_attach_failures;
    uint64_t proxy_timeouts;      /* client transactions that timed out (408 upstream) */
    /* SIP datagrams to and from other peers carried through the overlay (AppData, proxy.c) */
    uint64_t tunnelled_sent, tunnelled_received;
    /* Out of the overlay by ordinary SIP (locator): searches started, found, failed (502). */
    uint64_t located, locate_failures;
    /* Overload control (cfg.max_pending): new requests answered 503 with Retry-After. */
    uint64_t rejected_overload;
};
const struct sip_registrar_stats *sip_registrar_get_stats(const struct sip_registrar *r);

#endif
