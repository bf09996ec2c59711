/* proxy.c — the proxy half of the SIP adapter: requests other than REGISTER travel through the
 * overlay to the peer where the callee registered, and on to the phone.  RFC 3261 §16 (a
 * transaction-stateful proxy: §16.4 Route pre-processing, §16.6 forwarding with Via,
 * Record-Route and Max-Forwards, §16.7 responses, §16.10 CANCEL), §17.1 (client transactions
 * over UDP: Timers A/B, E/F, D, K; RFC 6026's Accepted state with Timer M for 2xx), §19.1.1
 * loose routing (lr); RFC 7904 §4 (the lookup, resolve.c) and RFC 6940 §6.5.2 (AppAttach, to
 * learn the SIP address of the peer at the end of a route); the seed draft's option 3
 * (docs/sip.md).
 *
 * Routing a new request (sip_proxy_request), in this order:
 *   1. a Route naming this proxy is removed; a further Route is the next hop (loose routing);
 *   2. an in-dialog request (To tag) without Route goes to its Request-URI (the remote target),
 *      unless that URI names this proxy (then step 3);
 *   3. otherwise the Request-URI's AoR is looked up: a binding kept here sends the request to
 *      the most recent contact, at the address its REGISTER came from (its flow); a lapsed one
 *      gets 480; else the overlay is asked (resolve.c): no registration 404, a loop 482, and
 *      the routes found are tried in order: AppAttach to the route's node (its answer cached
 *      per Node-ID for cfg.app_cache), then the request goes to that peer's SIP address.  No
 *      route reachable (or only routes to this node, which has no binding): 480.
 * A request forwarded in step 3 is record-routed, so that the dialog's ACK and BYE come back
 * through both peers and follow step 1.  With a locator (cfg.locator, RFC 3263), step 3 sends
 * a request for another domain than this overlay's — one no overlay of this peer serves —
 * out by ordinary SIP to the next hop the locator finds (docs/sip.md, "Out of the overlay");
 * without one only IPv4 literals are next hops.
 *
 * One client transaction per forwarded request (no forking), keyed by our Via branch and
 * method; its responses go back on the server transaction that asked, our Via removed.  An
 * ACK of a 2xx is forwarded statelessly, with a branch derived from the incoming one (§16.11).
 * Responses for no transaction of ours are dropped, except a 2xx through our Via, passed on
 * by the next Via (a retransmission after the transactions ended).
 *
 * Across NATs (docs/sip.md, "Across NATs"): the SIP address an AppAttach gives may be a private
 * one behind a box.  A request to a peer's AppAttach address that gets no response by the
 * first retransmission (Timer A or E) is sent again, and everything after it for that address,
 * through the overlay to the peer's Node-ID in an AppData message (core/appdata.c, a private
 * extension), which crosses the box as the overlay does; the receiving peer hands it to its
 * adapter as a datagram from the sender's SIP address and sends its responses and requests
 * for that address back the same way (the tunnel table, keyed by SIP address).
 */
#include <string.h>

#include "registrar_int.h"
#include "resolve.h"
#include "usage.h"

#define BRANCH_MAGIC "z9hG4bK"
#define TIMER_C (180 * ENV_S) /* an INVITE left ringing this long is cancelled (§16.6 step 11) */
#define TIMER_D (32 * ENV_S)  /* non-2xx final responses are ACKed again (§17.1.1.2) */

/* A route found by the lookup, waiting to be tried. */
struct proxy_route {
    struct id node; /* the registering peer (the value's dictionary key) */
    char *aor;      /* the AoR it was found under, when forwarding URIs led there; else NULL */
    GBytes *dests;  /* its destination list, encoded (resolve's copy lives only in the call) */
};

enum ctxn_state { CT_CALLING, CT_PROCEEDING, CT_COMPLETED, CT_ACCEPTED };

/* A client transaction (§17.1): one request sent downstream. */
struct ctxn {
    struct sip_registrar *reg;
    char *key;  /* branch|METHOD, in reg->ctxns */
    char *stxn; /* the server transaction it serves; NULL for a CANCEL of our own */
    bool invite;
    bool cancelled; /* Timer C fired and a CANCEL went out */
    enum ctxn_state state;
    osip_message_t *req; /* as forwarded (for its ACK and CANCEL) */
    char *text;          /* as sent, for retransmissions */
    size_t len;
    char *ack; /* the ACK sent for a non-2xx final response, again for each retransmission */
    size_t ack_len;
    struct env_addr hop;
    struct id peer; /* the peer whose cached SIP address hop is */
    bool via_peer;
    env_timer timer;
    env_time interval, deadline;
};

/* What an AppAttach taught us about a peer: its SIP address. */
struct peer_entry {
    struct id node;
    struct env_addr addr;
    env_time expires;   /* 0 while the AppAttach is pending */
    GPtrArray *waiting; /* char *: keys of server transactions waiting for it */
};

/* An AppAttach in flight, owned by reg->attaches: freed when its answer comes, or by
 * sip_proxy_clear, which first makes the node forget it (node_app_attach_cancel) — a node
 * freed with the request pending never calls back, so the op cannot wait for its answer. */
struct attach_op {
    struct sip_registrar *reg;
    struct id node;
};

/* A search for the next hop of a domain outside the overlays (cfg.locator), owned by
 * reg->locates; the server transaction is found again by its key when the answer comes. */
struct locate_op {
    struct sip_registrar *reg;
    char *key;
    void *handle;
};

/* A SIP address reached through the overlay: the peer it belongs to. */
struct tunnel {
    gint64 key; /* ip << 16 | port, the table's key */
    struct id node;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static bool parse_ipv4(const char *s, uint32_t *out)
{
    uint32_t ip = 0;
    for (int i = 0; i < 4; i++) {
        unsigned v = 0, digits = 0;
        while (g_ascii_isdigit(*s) && digits < 4) {
            v = v * 10 + (unsigned)(*s++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255)
            return false;
        ip = ip << 8 | v;
        if (i < 3 && *s++ != '.')
            return false;
    }
    if (*s)
        return false;
    *out = ip;
    return true;
}

/* The address of host:port (port NULL or empty: 5060); only IPv4 literals. */
static bool host_addr(const char *host, const char *port, struct env_addr *out)
{
    uint32_t ip, p = 5060;
    if (!host || !parse_ipv4(host, &ip))
        return false;
    if (port && port[0] && (!sip_registrar_seconds(port, &p) || p == 0 || p > 65535))
        return false;
    out->ip = ip;
    out->port = (uint16_t)p;
    return true;
}

static bool uri_addr(const osip_uri_t *u, struct env_addr *out)
{
    return u && host_addr(u->host, u->port, out);
}

static bool is_me(const struct sip_registrar *r, const osip_uri_t *u)
{
    struct env_addr a;
    return uri_addr(u, &a) && env_addr_eq(&a, &r->cfg.addr);
}

static bool has_to_tag(osip_message_t *m)
{
    osip_generic_param_t *tag = NULL;
    return m->to && osip_to_get_tag(m->to, &tag) >= 0 && tag && tag->gvalue;
}

static const char *via_param(osip_via_t *v, const char *name)
{
    osip_generic_param_t *p = NULL;
    return osip_via_param_get_byname(v, (char *)name, &p) >= 0 && p ? p->gvalue : NULL;
}

static uint32_t max_forwards(osip_message_t *m)
{
    uint32_t hops = 70;
    const char *mf = sip_registrar_header(m, "max-forwards");
    if (mf && !sip_registrar_seconds(mf, &hops))
        hops = 0;
    return hops;
}

static void set_max_forwards(osip_message_t *m, uint32_t hops)
{
    char v[12];
    g_snprintf(v, sizeof v, "%u", hops);
    osip_header_t *h = NULL;
    if (osip_message_get_max_forwards(m, 0, &h) >= 0 && h) {
        osip_free(h->hvalue);
        h->hvalue = osip_strdup(v);
    } else {
        osip_message_set_max_forwards(m, v);
    }
}

/* Removes the first Route when it names this proxy (§16.4). */
static void pop_own_route(const struct sip_registrar *r, osip_message_t *m)
{
    osip_route_t *rt = osip_list_get(&m->routes, 0);
    if (rt && is_me(r, rt->url)) {
        osip_list_remove(&m->routes, 0);
        osip_route_free(rt);
    }
}

static void push_via(const struct sip_registrar *r, osip_message_t *m, const char *branch)
{
    char *s = g_strdup_printf("SIP/2.0/UDP %s;branch=%s", r->sent_by, branch);
    osip_via_t *v = NULL;
    osip_via_init(&v);
    if (osip_via_parse(v, s) == 0)
        osip_list_add(&m->vias, v, 0);
    else
        osip_via_free(v);
    g_free(s);
}

static void push_record_route(const struct sip_registrar *r, osip_message_t *m)
{
    char *s = g_strdup_printf("<sip:%s;lr>", r->sent_by);
    osip_record_route_t *rr = NULL;
    osip_record_route_init(&rr);
    if (osip_record_route_parse(rr, s) == 0)
        osip_list_add(&m->record_routes, rr, 0);
    else
        osip_record_route_free(rr);
    g_free(s);
}

static void drop_top_via(osip_message_t *m)
{
    osip_via_t *v = osip_list_get(&m->vias, 0);
    if (v) {
        osip_list_remove(&m->vias, 0);
        osip_via_free(v);
    }
}

static char *to_text(osip_message_t *m, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    osip_message_force_update(m);
    if (osip_message_to_str(m, &text, &n) != 0 || !text)
        return NULL;
    char *out = g_strndup(text, n);
    osip_free(text);
    *len = n;
    return out;
}

/* ---- the tunnel through the overlay (AppData) ---------------------------------------------- */

static gint64 addr_key(const struct env_addr *a)
{
    return (gint64)a->ip << 16 | a->port;
}

/* From now on, datagrams for SIP address addr go to node through the overlay. */
static void tunnel_learn(struct sip_registrar *r, const struct env_addr *addr, const struct id *node)
{
    gint64 key = addr_key(addr);
    struct tunnel *tu = g_hash_table_lookup(r->tunnels, &key);
    if (!tu) {
        tu = g_new(struct tunnel, 1);
        tu->key = key;
        g_hash_table_replace(r->tunnels, &tu->key, tu);
    }
    tu->node = *node;
}

void sip_proxy_heard(struct sip_registrar *r, const struct env_addr *addr)
{
    gint64 key = addr_key(addr);
    if (!g_hash_table_contains(r->direct, &key))
        g_hash_table_add(r->direct, g_memdup2(&key, sizeof key));
}

static void tunnel_forget(struct sip_registrar *r, const struct env_addr *addr)
{
    gint64 key = addr_key(addr);
    g_hash_table_remove(r->tunnels, &key);
}

/* AppData from another peer: a SIP datagram from its SIP address, answered the same way. */
static void on_tunnel(void *ud, const struct id *from, const struct env_addr *from_app,
                      const uint8_t *data, size_t len)
{
    struct sip_registrar *r = ud;
    r->stats.tunnelled_received++;
    if (!from_app->port) {
        r->stats.dropped_other++; /* a sender without a SIP address cannot be answered */
        return;
    }
    tunnel_learn(r, from_app, from);
    sip_registrar_take(r, from_app, data, len, true);
}

void sip_proxy_send(struct sip_registrar *r, const struct env_addr *to, const char *text,
                    size_t len)
{
    gint64 key = addr_key(to);
    struct tunnel *tu = r->tunnels ? g_hash_table_lookup(r->tunnels, &key) : NULL;
    if (tu && node_app_send(r->node, &tu->node, NODE_APP_SIP, (const uint8_t *)text, len) ==
                  NODE_OK) {
        r->stats.tunnelled_sent++;
        return;
    }
    r->send(r->send_ud, to, text, len);
}

static void send_text(struct sip_registrar *r, const struct env_addr *to, const char *text,
                      size_t len)
{
    sip_proxy_send(r, to, text, len);
}

/* Whether v is a Via this proxy put in. */
static bool own_via(const struct sip_registrar *r, osip_via_t *v)
{
    struct env_addr a;
    return v && host_addr(v->host, v->port, &a) && env_addr_eq(&a, &r->cfg.addr);
}

/* A response without the proxy's Via goes where the next Via says (§18.2.2 with RFC 3581):
 * received and rport when present, else the sent-by. */
static void relay_by_via(struct sip_registrar *r, osip_message_t *m)
{
    drop_top_via(m);
    osip_via_t *v = osip_list_get(&m->vias, 0);
    struct env_addr to;
    const char *received = v ? via_param(v, "received") : NULL;
    const char *rport = v ? via_param(v, "rport") : NULL;
    if (!v || !host_addr(received ? received : v->host, rport && rport[0] ? rport : v->port, &to)) {
        r->stats.dropped_other++;
        return;
    }
    size_t len = 0;
    char *text = to_text(m, &len);
    if (text) {
        r->stats.relayed++;
        send_text(r, &to, text, len);
    }
    g_free(text);
}

/* ---- client transactions (§17.1) ---------------------------------------------------------- */

static void ctxn_free(gpointer p)
{
    struct ctxn *c = p;
    env_timer_stop(&c->reg->env, c->timer);
    if (c->req)
        osip_message_free(c->req);
    g_free(c->text);
    g_free(c->ack);
    g_free(c->stxn);
    g_free(c->key);
    g_free(c);
}

static void ctxn_timer(void *arg);

static void ctxn_arm(struct ctxn *c, env_time delay)
{
    env_timer_stop(&c->reg->env, c->timer);
    c->timer = env_timer_start(&c->reg->env, delay, ctxn_timer, c);
}

static void ctxn_end(struct ctxn *c)
{
    g_hash_table_remove(c->reg->ctxns, c->key);
}

static struct txn *ctxn_server(const struct ctxn *c)
{
    return c->stxn ? g_hash_table_lookup(c->reg->txns, c->stxn) : NULL;
}

/* Starts a client transaction for m (the request as it goes out, our Via on top with
 * branch), which it takes over, and sends it to hop. */
static struct ctxn *ctxn_start(struct sip_registrar *r, osip_message_t *m, const char *branch,
                               const struct env_addr *hop, const char *stxn)
{
    size_t len = 0;
    char *text = to_text(m, &len);
    if (!text) {
        osip_message_free(m);
        return NULL;
    }
    struct ctxn *c = g_new0(struct ctxn, 1);
    c->reg = r;
    c->key = g_strconcat(branch, "|", m->sip_method, NULL);
    c->stxn = g_strdup(stxn);
    c->invite = strcmp(m->sip_method, "INVITE") == 0;
    c->state = CT_CALLING;
    c->req = m;
    c->text = text;
    c->len = len;
    c->hop = *hop;
    c->interval = r->cfg.t1;
    c->deadline = env_now(&r->env) + 64 * r->cfg.t1; /* Timer B or F */
    g_hash_table_replace(r->ctxns, c->key, c);
    send_text(r, hop, text, len);
    ctxn_arm(c, c->interval);
    return c;
}

/* An ACK (for a non-2xx final response, To from it) or a CANCEL (To from the request) for c's
 * INVITE, hop by hop: its Request-URI, top Via, Route, From, Call-ID and CSeq number
 * (§17.1.1.3, §9.1). */
static osip_message_t *hop_request(const struct ctxn *c, const char *method, const osip_to_t *to)
{
    const osip_message_t *q = c->req;
    osip_message_t *m = NULL;
    osip_message_init(&m);
    osip_message_set_method(m, osip_strdup(method));
    osip_message_set_version(m, osip_strdup("SIP/2.0"));
    osip_uri_t *u = NULL;
    osip_uri_clone(q->req_uri, &u);
    osip_message_set_uri(m, u);
    osip_via_t *v = NULL;
    if (osip_via_clone(osip_list_get(&q->vias, 0), &v) == 0)
        osip_list_add(&m->vias, v, -1);
    for (int i = 0; i < osip_list_size(&q->routes); i++) {
        osip_route_t *rt = NULL;
        if (osip_route_clone(osip_list_get(&q->routes, i), &rt) == 0)
            osip_list_add(&m->routes, rt, -1);
    }
    osip_from_clone(q->from, &m->from);
    osip_to_clone(to ? to : q->to, &m->to);
    osip_call_id_clone(q->call_id, &m->call_id);
    osip_cseq_init(&m->cseq);
    osip_cseq_set_number(m->cseq, osip_strdup(q->cseq->number));
    osip_cseq_set_method(m->cseq, osip_strdup(method));
    osip_message_set_max_forwards(m, "70");
    osip_message_set_content_length(m, "0");
    return m;
}

static void send_cancel(struct ctxn *c)
{
    osip_via_t *v = osip_list_get(&c->req->vias, 0);
    const char *branch = v ? via_param(v, "branch") : NULL;
    if (!branch)
        return;
    ctxn_start(c->reg, hop_request(c, "CANCEL", NULL), branch, &c->hop, NULL);
}

/* No final response in time: 408 upstream (§16.8), and the peer's cached address, which may
 * be stale, is forgotten. */
static void ctxn_timeout(struct ctxn *c)
{
    struct sip_registrar *r = c->reg;
    r->stats.proxy_timeouts++;
    struct peer_entry *e = c->via_peer ? g_hash_table_lookup(r->peers, &c->peer) : NULL;
    if (e && e->expires)
        g_hash_table_remove(r->peers, &c->peer);
    if (c->via_peer)
        tunnel_forget(r, &c->hop); /* the next request to that peer tries directly first */
    struct txn *t = ctxn_server(c);
    if (t)
        sip_registrar_respond(t, 408, NULL, NULL, NULL, NULL);
    ctxn_end(c);
}

static void ctxn_timer(void *arg)
{
    struct ctxn *c = arg;
    struct sip_registrar *r = c->reg;
    c->timer = 0;
    env_time now = env_now(&r->env);
    switch (c->state) {
    case CT_CALLING:
    case CT_PROCEEDING:
        if (c->invite && c->state == CT_PROCEEDING) {
            if (c->cancelled) {
                ctxn_timeout(c); /* no final response even to the CANCEL */
                return;
            }
            /* Timer C: the INVITE rang too long; CANCEL it and wait for its 487. */
            c->cancelled = true;
            send_cancel(c);
            ctxn_arm(c, 64 * r->cfg.t1);
            return;
        }
        if (now >= c->deadline) {
            ctxn_timeout(c); /* Timer B or F */
            return;
        }
        /* No answer from a peer's AppAttach address yet: it may be a private one behind a
         * NAT, so this and what follows for that address go through the overlay — unless
         * that address has answered us directly before: then the path works and the delay
         * is load, which the tunnel (four datagrams per SIP message, and the overlay's own
         * retransmissions) would only make worse. */
        gint64 hop_key = addr_key(&c->hop);
        if (c->via_peer && c->state == CT_CALLING && !g_hash_table_contains(r->direct, &hop_key))
            tunnel_learn(r, &c->hop, &c->peer);
        /* Timer A (doubling) or E (doubling up to T2; T2 once a provisional came). */
        send_text(r, &c->hop, c->text, c->len);
        c->interval = c->invite                   ? 2 * c->interval
                      : c->state == CT_PROCEEDING ? r->cfg.t2
                                                  : MIN(2 * c->interval, r->cfg.t2);
        ctxn_arm(c, MIN(c->interval, c->deadline - now));
        return;
    case CT_COMPLETED:
    case CT_ACCEPTED:
        ctxn_end(c); /* Timer D, K or M */
        return;
    }
}

/* Passes response m (our Via still on top) upstream on c's server transaction. */
static void relay(struct ctxn *c, osip_message_t *m, int code)
{
    struct sip_registrar *r = c->reg;
    if (!c->stxn)
        return; /* the answer to a CANCEL of our own */
    struct txn *t = ctxn_server(c);
    if (!t || (t->state >= TXN_COMPLETED && code >= 200)) {
        /* Its server transaction is over: only a 2xx retransmission still goes upstream. */
        if (code >= 200 && code < 300)
            relay_by_via(r, m);
        return;
    }
    drop_top_via(m);
    size_t len = 0;
    char *text = to_text(m, &len);
    if (!text)
        return;
    r->stats.relayed++;
    sip_registrar_answer(t, code, text, len);
}

void sip_proxy_response(struct sip_registrar *r, osip_message_t *m)
{
    osip_via_t *v = osip_list_get(&m->vias, 0);
    const char *branch = v ? via_param(v, "branch") : NULL;
    char *key = branch && m->cseq && m->cseq->method
                    ? g_strconcat(branch, "|", m->cseq->method, NULL)
                    : NULL;
    struct ctxn *c = key ? g_hash_table_lookup(r->ctxns, key) : NULL;
    g_free(key);
    int code = m->status_code;
    if (!c) {
        if (own_via(r, v) && code >= 200 && code < 300 && m->cseq && m->cseq->method &&
            strcmp(m->cseq->method, "INVITE") == 0)
            relay_by_via(r, m);
        else
            r->stats.dropped_other++;
        osip_message_free(m);
        return;
    }
    if (code < 200) {
        if (c->state == CT_CALLING) {
            c->state = CT_PROCEEDING;
            if (c->invite)
                ctxn_arm(c, TIMER_C); /* Timer A stops (§17.1.1.2) */
        }
        if (code > 100)
            relay(c, m, code); /* 100 stays here (§16.7 step 3) */
    } else if (c->state == CT_CALLING || c->state == CT_PROCEEDING) {
        if (c->invite && code >= 300) {
            osip_message_t *ack = hop_request(c, "ACK", m->to);
            g_free(c->ack);
            c->ack = to_text(ack, &c->ack_len);
            osip_message_free(ack);
            if (c->ack)
                send_text(r, &c->hop, c->ack, c->ack_len);
            c->state = CT_COMPLETED;
            ctxn_arm(c, TIMER_D);
        } else if (c->invite) {
            c->state = CT_ACCEPTED;
            ctxn_arm(c, 64 * r->cfg.t1); /* Timer M (RFC 6026) */
        } else {
            c->state = CT_COMPLETED;
            ctxn_arm(c, r->cfg.t4); /* Timer K */
        }
        relay(c, m, code);
    } else if (c->state == CT_COMPLETED && c->ack) {
        send_text(r, &c->hop, c->ack, c->ack_len); /* the final response again: ACK again */
    } else if (c->state == CT_ACCEPTED && code < 300) {
        relay(c, m, code); /* 2xx retransmissions go upstream */
    }
    osip_message_free(m);
}

/* ---- forwarding (§16.6) ----------------------------------------------------------------- */

/* Forwards t's request to hop: a copy with Request-URI ruri (when not NULL), our Route entry
 * removed, Max-Forwards one less, a Record-Route when record, our Via on top; a client
 * transaction sends it.  peer, when not NULL, is the peer whose SIP address hop is. */
static void forward(struct sip_registrar *r, struct txn *t, const struct env_addr *hop,
                    const char *ruri, bool record, const struct id *peer)
{
    osip_message_t *m = NULL;
    if (osip_message_clone(t->req, &m) != 0) {
        sip_registrar_respond(t, 500, NULL, NULL, NULL, NULL);
        return;
    }
    if (ruri) {
        osip_uri_t *u = NULL;
        osip_uri_init(&u);
        if (osip_uri_parse(u, ruri) != 0) {
            osip_uri_free(u);
            osip_message_free(m);
            sip_registrar_respond(t, 480, "Bad Contact", NULL, NULL, NULL);
            return;
        }
        osip_uri_free(m->req_uri);
        osip_message_set_uri(m, u);
    }
    pop_own_route(r, m);
    set_max_forwards(m, max_forwards(t->req) - 1);
    if (record)
        push_record_route(r, m);
    char *branch = g_strdup_printf(BRANCH_MAGIC "p2p%s%016" G_GINT64_MODIFIER "x", r->branch_tag,
                                   env_random(&r->env));
    push_via(r, m, branch);
    gint64 key = addr_key(hop);
    struct tunnel *tu = peer ? g_hash_table_lookup(r->tunnels, &key) : NULL;
    if (tu && !id_eq(&tu->node, peer))
        tu->node = *peer; /* that address belongs to another peer now */
    struct ctxn *c = ctxn_start(r, m, branch, hop, t->key);
    g_free(branch);
    if (!c) {
        sip_registrar_respond(t, 500, NULL, NULL, NULL, NULL);
        return;
    }
    if (peer) {
        c->peer = *peer;
        c->via_peer = true;
    }
    g_free(t->ctxn);
    t->ctxn = g_strdup(c->key);
    r->stats.forwarded++;
}

/* ---- routes: AppAttach to the peer where the callee registered ---------------------------- */

static void route_free(gpointer p)
{
    struct proxy_route *pr = p;
    g_bytes_unref(pr->dests);
    g_free(pr->aor);
    g_free(pr);
}

static void peer_entry_free(gpointer p)
{
    struct peer_entry *e = p;
    if (e->waiting)
        g_ptr_array_free(e->waiting, TRUE);
    g_free(e);
}

static guint id_hash_fn(gconstpointer p)
{
    const struct id *k = p;
    return (guint)(k->hi ^ k->lo ^ (k->lo >> 32));
}

static gboolean id_equal_fn(gconstpointer a, gconstpointer b)
{
    return id_eq(a, b);
}

static void try_routes(struct sip_registrar *r, struct txn *t);

static void on_app_attach(void *ud, int status, const struct id *node, const struct env_addr *addr)
{
    struct attach_op *op = ud;
    struct sip_registrar *r = op->reg;
    g_ptr_array_remove_fast(r->attaches, op);
    struct peer_entry *e = g_hash_table_lookup(r->peers, &op->node);
    GPtrArray *waiting = e ? e->waiting : NULL;
    if (e)
        e->waiting = NULL;
    struct env_addr to = {0, 0};
    /* Only the peer asked for may answer: another one (the peer now responsible for the
     * Node-ID of a peer that is gone) would draw the call to a proxy without the binding. */
    if (status == NODE_OK && (!node || !id_eq(node, &op->node)))
        status = NODE_E_NOT_FOUND;
    if (status == NODE_OK) {
        r->stats.app_attaches++;
        to = *addr;
        if (e) {
            e->addr = to;
            e->expires = env_now(&r->env) + (env_time)r->cfg.app_cache * ENV_S + 1;
        }
    } else {
        r->stats.app_attach_failures++;
        env_logf(&r->env, ENV_LOG_DEBUG, "sip: AppAttach failed (%d)", status);
        if (e)
            g_hash_table_remove(r->peers, &op->node);
    }
    for (guint i = 0; waiting && i < waiting->len; i++) {
        struct txn *t = g_hash_table_lookup(r->txns, waiting->pdata[i]);
        if (!t || t->state >= TXN_COMPLETED || t->ctxn)
            continue; /* answered meanwhile (CANCEL) or gone */
        if (status == NODE_OK)
            forward(r, t, &to, t->target, true, &op->node);
        else
            try_routes(r, t);
    }
    if (waiting)
        g_ptr_array_free(waiting, TRUE);
    g_free(op);
}

/* Tries t's next route: a known peer address at once, else an AppAttach (shared by every
 * request for that peer while it runs).  None left: 480. */
static void try_routes(struct sip_registrar *r, struct txn *t)
{
    env_time now = env_now(&r->env);
    while (t->routes && t->routes->len) {
        struct proxy_route *pr = g_ptr_array_steal_index(t->routes, 0);
        struct peer_entry *e = g_hash_table_lookup(r->peers, &pr->node);
        if (id_eq(&pr->node, node_id(r->node))) {
            route_free(pr); /* a route to this node, which keeps no binding for the AoR */
            continue;
        }
        /* Found through a forwarding URI: the request is retargeted to that AoR (§16.5). */
        g_free(t->target);
        t->target = g_strdup(pr->aor);
        if (e && e->expires > now) {
            forward(r, t, &e->addr, t->target, true, &pr->node);
            route_free(pr);
            return;
        }
        if (e && e->expires == 0) {
            g_ptr_array_add(e->waiting, g_strdup(t->key));
            route_free(pr);
            return;
        }
        if (e)
            g_hash_table_remove(r->peers, &pr->node); /* expired */
        gsize len = 0;
        const uint8_t *p = g_bytes_get_data(pr->dests, &len);
        struct wire_dest dest[SIP_USAGE_MAX_DEST];
        size_t nd = 0;
        struct attach_op *op = g_new0(struct attach_op, 1);
        op->reg = r;
        op->node = pr->node;
        /* The entry and the op exist before the AppAttach starts: its answer may come before
         * node_app_attach returns (when this node is responsible for the destination). */
        e = g_new0(struct peer_entry, 1);
        e->node = pr->node;
        e->waiting = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(e->waiting, g_strdup(t->key));
        g_hash_table_replace(r->peers, &e->node, e);
        g_ptr_array_add(r->attaches, op);
        struct id node = pr->node;
        int rc = wire_decode_dest_list(p, len, dest, G_N_ELEMENTS(dest), &nd) == 0
                     ? node_app_attach(r->node, dest, nd, NODE_APP_SIP, on_app_attach, op)
                     : NODE_E_INVALID;
        route_free(pr);
        if (rc != NODE_OK) { /* nothing started: on_app_attach will not run */
            g_ptr_array_remove_fast(r->attaches, op);
            g_free(op);
            g_hash_table_remove(r->peers, &node);
            continue;
        }
        return;
    }
    sip_registrar_respond(t, 480, NULL, NULL, NULL, NULL);
}

static void on_resolved(void *ud, int status, const struct sip_route *routes, size_t n)
{
    struct txn *t = ud;
    struct sip_registrar *r = t->reg;
    t->lookup = NULL;
    if (status == NODE_OK) {
        r->stats.lookups_found++;
        if (!r->cfg.addr.port) {
            sip_registrar_respond(t, 501, "Proxying Not Configured", NULL, NULL, NULL);
            return;
        }
        t->routes = g_ptr_array_new_with_free_func(route_free);
        static const struct id zero = {0, 0};
        for (size_t i = 0; i < n; i++) {
            if (routes[i].n_dest == 0 || id_eq(&routes[i].node, &zero))
                continue; /* no Node-ID to cache its address under */
            GByteArray *b = g_byte_array_new();
            wire_encode_dest_list(b, routes[i].dest, routes[i].n_dest);
            struct proxy_route *pr = g_new0(struct proxy_route, 1);
            pr->node = routes[i].node;
            pr->aor = routes[i].depth ? g_strdup(routes[i].aor) : NULL;
            pr->dests = g_byte_array_free_to_bytes(b);
            g_ptr_array_add(t->routes, pr);
        }
        try_routes(r, t);
        return;
    }
    switch (status) {
    case NODE_E_NOT_FOUND:
        sip_registrar_respond(t, 404, NULL, NULL, NULL, NULL);
        break;
    case SIP_RESOLVE_E_LOOP:
        sip_registrar_respond(t, 482, NULL, NULL, NULL, NULL);
        break;
    default: {
        const char *reason = NULL;
        int code = sip_registrar_status_of(status, &reason);
        sip_registrar_respond(t, code, reason, NULL, NULL, NULL);
        break;
    }
    }
}

/* A request for an AoR registered here: to its most recent contact (no forking), at the
 * address its REGISTER came from.  A binding whose contacts are all forwarding URIs is the
 * overlay's business (false). */
static bool to_local_contact(struct sip_registrar *r, struct txn *t, const struct binding *b)
{
    env_time now = env_now(&r->env);
    const struct contact *best = NULL;
    bool any = false;
    for (guint i = 0; i < b->contacts->len; i++) {
        const struct contact *c = b->contacts->pdata[i];
        if (c->expires <= now)
            continue;
        any = true;
        if (!c->forward && (!best || c->order > best->order))
            best = c;
    }
    if (any && !best)
        return false;
    if (!best) {
        sip_registrar_respond(t, 480, NULL, NULL, NULL, NULL); /* lapsed */
        return true;
    }
    if (!r->cfg.addr.port) {
        sip_registrar_respond(t, 501, "Proxying Not Configured", NULL, NULL, NULL);
        return true;
    }
    forward(r, t, &best->flow, best->uri, true, NULL);
    return true;
}

static bool to_outside(struct sip_registrar *r, struct txn *t);

void sip_proxy_request(struct sip_registrar *r, struct txn *t)
{
    osip_message_t *m = t->req;
    const char *mf = sip_registrar_header(m, "max-forwards");
    uint32_t hops = 70;
    if (mf && !sip_registrar_seconds(mf, &hops)) {
        sip_registrar_respond(t, 400, "Bad Max-Forwards", NULL, NULL, NULL);
        return;
    }
    if (t->invite)
        sip_registrar_respond(t, 100, NULL, NULL, NULL, NULL); /* a stateful proxy's Trying */
    if (m->req_uri && (!m->req_uri->username || !m->req_uri->username[0]) &&
        strcmp(m->sip_method, "OPTIONS") == 0 && osip_list_size(&m->routes) == 0) {
        sip_registrar_respond(t, 200, NULL, NULL, "Allow", "REGISTER, OPTIONS"); /* for us */
        return;
    }
    if (hops == 0) {
        sip_registrar_respond(t, 483, NULL, NULL, NULL, NULL); /* §16.3 step 3 */
        return;
    }
    /* 1. Loose routing (§16.4, §16.6 step 6). */
    osip_route_t *rt = osip_list_get(&m->routes, 0);
    osip_route_t *next = osip_list_get(&m->routes, rt && is_me(r, rt->url) ? 1 : 0);
    struct env_addr hop;
    if (next && r->cfg.addr.port) {
        if (!uri_addr(next->url, &hop))
            sip_registrar_respond(t, 502, "Unresolvable Route", NULL, NULL, NULL);
        else
            forward(r, t, &hop, NULL, false, NULL);
        return;
    }
    /* 2. In a dialog the Request-URI is the remote target — unless it names this proxy, which
     * would forward to itself until Max-Forwards ran out (a loop found by fuzz_sip): then the
     * URI is a resource of ours (§16.5) and step 3 looks it up. */
    if (has_to_tag(m) && r->cfg.addr.port && uri_addr(m->req_uri, &hop) &&
        !env_addr_eq(&hop, &r->cfg.addr)) {
        forward(r, t, &hop, NULL, false, NULL);
        return;
    }
    /* 3. The location service: bindings kept here, else the overlay. */
    char *aor = sip_registrar_aor_of(m->req_uri);
    if (!aor) {
        sip_registrar_respond(t, 416, NULL, NULL, NULL, NULL);
        return;
    }
    const struct binding *b = g_hash_table_lookup(r->bindings, aor);
    if (b && to_local_contact(r, t, b)) {
        g_free(aor);
        return;
    }
    if (r->cfg.locator && r->cfg.addr.port && to_outside(r, t)) {
        g_free(aor);
        return;
    }
    r->stats.lookups++;
    struct sip_resolve *h = NULL;
    int rc = sip_resolve(r->node, aor, r->cfg.resolve_depth, r->cfg.cookie, on_resolved, t, &h);
    g_free(aor);
    if (rc != NODE_OK) {
        const char *reason = NULL;
        int code = sip_registrar_status_of(rc, &reason);
        sip_registrar_respond(t, code, reason, NULL, NULL, NULL);
        return;
    }
    t->lookup = h; /* NULL when already answered */
}

/* ---- out of the overlay by ordinary SIP (RFC 3263; cfg.locator) -------------------------- */

static void on_located(void *ud, int status, const struct env_addr *hop)
{
    struct locate_op *op = ud;
    struct sip_registrar *r = op->reg;
    g_ptr_array_remove_fast(r->locates, op);
    struct txn *t = g_hash_table_lookup(r->txns, op->key);
    if (t && t->state < TXN_COMPLETED && !t->ctxn) { /* else answered meanwhile (CANCEL) */
        if (status == 0 && !env_addr_eq(hop, &r->cfg.addr)) {
            r->stats.located++;
            forward(r, t, hop, NULL, true, NULL);
        } else {
            r->stats.locate_failures++;
            sip_registrar_respond(t, 502, "Unresolvable Destination", NULL, NULL, NULL);
        }
    }
    g_free(op->key);
    g_free(op);
}

/* A new request whose Request-URI host is not this overlay's domain leaves the overlays: an
 * IPv4 literal is the next hop (RFC 3263 §4.2), a domain name is located (NAPTR, SRV, A).
 * False when the host is ours (or this proxy's own address): the overlay is asked. */
static bool to_outside(struct sip_registrar *r, struct txn *t)
{
    const osip_uri_t *u = t->req->req_uri;
    struct env_addr hop;
    if (!u->host || !u->host[0] || (r->domain && g_ascii_strcasecmp(u->host, r->domain) == 0))
        return false;
    if (uri_addr(u, &hop)) {
        if (env_addr_eq(&hop, &r->cfg.addr))
            return false;
        forward(r, t, &hop, NULL, true, NULL);
        return true;
    }
    uint32_t port = 0;
    if (u->port && u->port[0] && (!sip_registrar_seconds(u->port, &port) || port > 65535)) {
        sip_registrar_respond(t, 416, NULL, NULL, NULL, NULL);
        return true;
    }
    struct locate_op *op = g_new0(struct locate_op, 1);
    op->reg = r;
    op->key = g_strdup(t->key);
    const struct sip_locator *l = r->cfg.locator;
    op->handle = l->start(l->ctx, u->host, (uint16_t)port, on_located, op);
    if (!op->handle) {
        g_free(op->key);
        g_free(op);
        r->stats.locate_failures++;
        sip_registrar_respond(t, 502, "Unresolvable Destination", NULL, NULL, NULL);
        return true;
    }
    g_ptr_array_add(r->locates, op);
    return true;
}

/* CANCEL (§9.2, §16.10): answered 200 on its own transaction.  The INVITE it names, when still
 * unanswered, is cancelled downstream (its 487 comes back that way) or, before it was
 * forwarded, answered 487 here. */
void sip_proxy_cancel(struct sip_registrar *r, struct txn *t)
{
    char *key = g_strdup(t->key);
    char *bar = strrchr(key, '|');
    struct txn *inv = NULL;
    if (bar && g_str_has_suffix(key, "|CANCEL")) {
        *bar = 0;
        char *ikey = g_strconcat(key, "|INVITE", NULL);
        inv = g_hash_table_lookup(r->txns, ikey);
        g_free(ikey);
    }
    g_free(key);
    if (!inv || inv->state >= TXN_COMPLETED) {
        sip_registrar_respond(t, 481, NULL, NULL, NULL, NULL);
        return;
    }
    sip_registrar_respond(t, 200, NULL, NULL, NULL, NULL);
    struct ctxn *c = inv->ctxn ? g_hash_table_lookup(r->ctxns, inv->ctxn) : NULL;
    if (c && (c->state == CT_CALLING || c->state == CT_PROCEEDING)) {
        if (!c->cancelled) {
            c->cancelled = true;
            send_cancel(c);
        }
        return;
    }
    sip_resolve_cancel(inv->lookup);
    inv->lookup = NULL;
    sip_registrar_respond(inv, 487, NULL, NULL, NULL, NULL);
}

/* ---- the ACK of a 2xx: stateless (§16.11) ------------------------------------------------ */

void sip_proxy_ack(struct sip_registrar *r, osip_message_t *m)
{
    uint32_t hops = max_forwards(m);
    struct env_addr hop;
    osip_via_t *v = osip_list_get(&m->vias, 0);
    const char *in = v ? via_param(v, "branch") : NULL;
    pop_own_route(r, m);
    osip_route_t *next = osip_list_get(&m->routes, 0);
    if (!r->cfg.addr.port || hops == 0 || !in ||
        !(next ? uri_addr(next->url, &hop) : uri_addr(m->req_uri, &hop))) {
        r->stats.dropped_other++;
        osip_message_free(m);
        return;
    }
    /* The same ACK (a retransmission) gets the same branch: derived from the incoming one. */
    char *seed = g_strconcat(in, "|", r->sent_by, NULL);
    char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA1, seed, -1);
    char *branch = g_strdup_printf(BRANCH_MAGIC "p2s%s%.16s", r->branch_tag, sum);
    set_max_forwards(m, hops - 1);
    push_via(r, m, branch);
    size_t len = 0;
    char *text = to_text(m, &len);
    if (text) {
        r->stats.forwarded_stateless++;
        send_text(r, &hop, text, len);
    }
    g_free(text);
    g_free(branch);
    g_free(sum);
    g_free(seed);
    osip_message_free(m);
}

/* ---- life cycle --------------------------------------------------------------------------- */

void sip_proxy_init(struct sip_registrar *r)
{
    char *ip = sip_registrar_ip_string(r->cfg.addr.ip);
    r->sent_by = g_strdup_printf("%s:%u", ip, r->cfg.addr.port);
    g_free(ip);
    r->ctxns = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, ctxn_free);
    r->peers = g_hash_table_new_full(id_hash_fn, id_equal_fn, NULL, peer_entry_free);
    r->attaches = g_ptr_array_new();
    r->tunnels = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    r->direct = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    r->locates = g_ptr_array_new();
    r->branch_tag = r->cfg.instance ? g_strdup_printf("-%u-", r->cfg.instance) : g_strdup("");
    if (r->cfg.addr.port) {
        node_app_listen(r->node, NODE_APP_SIP, &r->cfg.addr);
        node_app_on_data(r->node, NODE_APP_SIP, on_tunnel, r);
    }
}

void sip_proxy_clear(struct sip_registrar *r)
{
    if (r->cfg.addr.port)
        node_app_listen(r->node, NODE_APP_SIP, NULL);
    for (guint i = 0; i < r->attaches->len; i++) {
        node_app_attach_cancel(r->node, r->attaches->pdata[i]);
        g_free(r->attaches->pdata[i]);
    }
    g_ptr_array_free(r->attaches, TRUE);
    g_hash_table_destroy(r->ctxns);
    g_hash_table_destroy(r->peers);
    g_hash_table_destroy(r->tunnels);
    r->tunnels = NULL;
    g_hash_table_destroy(r->direct);
    for (guint i = 0; i < r->locates->len; i++) {
        struct locate_op *op = r->locates->pdata[i];
        r->cfg.locator->cancel(r->cfg.locator->ctx, op->handle);
        g_free(op->key);
        g_free(op);
    }
    g_ptr_array_free(r->locates, TRUE);
    g_free(r->branch_tag);
    g_free(r->sent_by);
}
