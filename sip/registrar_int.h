/* registrar_int.h — internals shared by the two halves of the SIP adapter: registrar.c (the
 * registrar of RFC 3261 §10.3, server transactions of §17.2, the REGISTER side) and proxy.c
 * (the proxy of RFC 3261 §16 that carries other requests through the overlay, RFC 7904 §4).
 * Not part of the adapter's API (registrar.h).
 */
#ifndef P2PSIP_SIP_REGISTRAR_INT_H
#define P2PSIP_SIP_REGISTRAR_INT_H

#include <glib.h>
#include <osipparser2/osip_parser.h>

#include "registrar.h"
#include "resolve.h"

struct contact {
    char *uri; /* as libosip2 prints the Contact URI (compared byte for byte) */
    char *call_id;
    uint32_t cseq;
    env_time expires;
    uint64_t order;       /* registration order, for the most recent forwarding contact */
    bool forward;         /* a URI of the overlay's domain: forwarding to that AoR */
    struct env_addr flow; /* where the REGISTER came from: requests for it go there */
};

struct binding {
    struct sip_registrar *reg;
    char *aor;
    struct id res;
    GPtrArray *contacts;   /* struct contact * */
    env_timer timer;       /* the next contact expiry or refresh, or the end of the lapse */
    env_time refresh_at;   /* NEVER when the stored value ends with the contacts */
    env_time stored_until; /* end of the lifetime of the value last stored; 0 none */
    GByteArray *stored;    /* the value last stored */
    env_time lapsed_until; /* no contacts left by expiry: known (480) until then; 0 otherwise */
};

enum txn_state { TXN_TRYING, TXN_PROCEEDING, TXN_COMPLETED, TXN_CONFIRMED };

/* A server transaction (RFC 3261 §17.2). */
struct txn {
    struct sip_registrar *reg;
    char *key;
    bool invite;
    enum txn_state state;
    osip_message_t *req;
    struct env_addr peer; /* the request's source: responses go there */
    char tag[17];         /* our To tag */
    char *resp;           /* the last response sent (g_malloc'd) */
    size_t resp_len;
    int final_code; /* status of the final response sent, 0 before one */
    env_timer timer;
    env_time interval; /* Timer G */
    env_time deadline; /* Timer H */
    struct sip_resolve *lookup;
    /* proxy.c: the routes still to try, and the client transaction forwarding the request. */
    GPtrArray *routes; /* struct proxy_route *, owned (free function set by proxy.c) */
    char *target;      /* the AoR a forwarding URI led to (the new Request-URI), or NULL */
    char *ctxn;        /* its client transaction's key, NULL until forwarded */
};

struct sip_registrar {
    struct env env;
    struct node *node;
    struct sip_registrar_config cfg;
    char *domain;
    sip_registrar_send_fn send;
    void *send_ud;
    GHashTable *bindings; /* canonical AoR -> struct binding * */
    GHashTable *txns;     /* key -> struct txn * */
    GPtrArray *ops;       /* struct store_op * in flight */
    uint64_t order;
    uint8_t self[ID_BYTES];
    struct sip_registrar_stats stats;
    /* proxy.c */
    char *sent_by;       /* "a.b.c.d:port" of cfg.addr: Via sent-by, Record-Route host */
    GHashTable *ctxns;   /* branch -> struct ctxn * (client transactions) */
    GHashTable *peers;   /* struct id * -> struct peer_entry *: AppAttach answers */
    GPtrArray *attaches; /* struct attach_op * in flight */
    GHashTable *tunnels; /* SIP address -> struct tunnel *: peers reached through the overlay */
    GPtrArray *locates;  /* struct locate_op * in flight (cfg.locator) */
    char *branch_tag;    /* "" or "-N-" (cfg.instance) */
    bool overload_logged; /* the current overload episode has been logged */
    GHashTable *direct;   /* SIP addresses a response came from directly (proxy.c) */
};

/* ---- registrar.c ---- */
/* Sends a response built here on t (To tag ours unless the request had one; the contacts of
 * b and one extra header when not NULL); a final one completes t and starts its timers. */
void sip_registrar_respond(struct txn *t, int code, const char *reason, const struct binding *b,
                           const char *name, const char *value);
/* The same for a response already built (relayed from downstream): text is taken over. */
void sip_registrar_answer(struct txn *t, int code, char *text, size_t len);
/* The SIP status for a failed overlay operation (503, 504 or 500) and its reason phrase. */
int sip_registrar_status_of(int node_status, const char **reason);
/* The canonical AoR of an osip URI, or NULL. */
char *sip_registrar_aor_of(const osip_uri_t *u);
/* The first header of that (lower-case) name, or NULL. */
const char *sip_registrar_header(osip_message_t *m, const char *name);
/* A decimal delta-seconds (RFC 3261 §25.1); false when malformed. */
bool sip_registrar_seconds(const char *s, uint32_t *out);
/* "a.b.c.d" (g_malloc'd). */
char *sip_registrar_ip_string(uint32_t ip);

/* ---- proxy.c ---- */
void sip_proxy_init(struct sip_registrar *r);
/* Stops every client transaction; AppAttaches in flight are cancelled at the node and freed. */
void sip_proxy_clear(struct sip_registrar *r);
/* A new request other than REGISTER, CANCEL and ACK, on its server transaction t. */
void sip_proxy_request(struct sip_registrar *r, struct txn *t);
/* CANCEL on its own server transaction (§9.2, §16.10). */
void sip_proxy_cancel(struct sip_registrar *r, struct txn *t);
/* An ACK that no server transaction absorbs (the ACK of a 2xx, §13.2.2.4): forwarded
 * statelessly along Route or Request-URI.  m is taken over. */
void sip_proxy_ack(struct sip_registrar *r, osip_message_t *m);
/* A response: matched to a client transaction by the top Via's branch (§17.1.3) and relayed
 * upstream.  m is taken over. */
void sip_proxy_response(struct sip_registrar *r, osip_message_t *m);
/* A response arrived straight from SIP address addr, not through the tunnel: the direct path
 * to it works, so a slow answer from it later is load, not a NAT (no tunnel is learnt). */
void sip_proxy_heard(struct sip_registrar *r, const struct env_addr *addr);
/* sip_registrar_receive for a datagram that came straight from `from` (tunnelled false) or
 * through the overlay's tunnel (true, proxy.c): only the former proves a direct path. */
void sip_registrar_take(struct sip_registrar *r, const struct env_addr *from, const uint8_t *buf,
                        size_t len, bool tunnelled);
/* Sends a datagram to a SIP address: through the overlay (AppData to the peer's Node-ID) when
 * that address is a peer reached that way, else directly (the host's send). */
void sip_proxy_send(struct sip_registrar *r, const struct env_addr *to, const char *text,
                    size_t len);

#endif
