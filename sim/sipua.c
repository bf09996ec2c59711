/* sipua.c — SIP in the simulator (sipua.h): a proxy/registrar adapter per peer (sip/registrar.h,
 * seed draft §5.5–5.6 with RFC 7904's usage) and minimal simulated user agents around it.
 *
 * The user agents follow RFC 3261 as far as a well-behaved phone on a lossless link to its own
 * proxy needs: REGISTER (§10.2) with a fixed Call-ID and rising CSeq, refreshed before it
 * expires; a UAC INVITE (§13.2) whose 2xx is ACKed end to end along the route set built from
 * Record-Route in reverse (§12.1.2, §13.2.2.4) and whose non-2xx final response is ACKed hop
 * by hop on the INVITE's branch (§17.1.1.3); BYE in the dialog (§15.1); a UAS (§13.3) that
 * answers 180 at once and 200 after sip.answer_delay, repeating the 200 with T1 doubling up to
 * T2 until the ACK or 64·T1 (§13.3.1.4).  The UA's own link to its peer is loopback (same host,
 * no loss), so the UA does not retransmit requests; the proxies retransmit across the overlay.
 * SIP text is written here and parsed with libosip2's parser.
 *
 * Ownership: users and hosts live in two arrays for the whole run; a call (struct sipua_call)
 * lives from its INVITE to its end (BYE answered, final failure, timeout, or its user going
 * down) and is found by Call-ID in one of two hash tables (caller side, callee side), linked
 * into its user's list so that a user going down drops its calls in list order.
 */
#include "sipua.h"

#include <math.h>
#include <osipparser2/osip_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sip/registrar.h"
#include "world.h"

#define SIPUA_T1 (500 * ENV_MS)
#define SIPUA_T2 (4 * ENV_S)
#define SIPUA_TXN_TIMEOUT (64 * SIPUA_T1) /* Timers B/F/H: 32 s */
#define SIPUA_RETRY (30 * ENV_S)          /* a failed registration is tried again this later */
#define SIPUA_JITTER ENV_S                /* users register within this after their peer joined */
#define SIPUA_TRIES 64                    /* draws for a live caller before scanning */

enum sipua_user_state { USER_DOWN, USER_WAIT, USER_REGISTERING, USER_REGISTERED };

struct sipua_user {
    struct sipua *s;
    struct sipua_call *calls; /* calls in progress, either side */
    sim_handle timer;         /* registration: start, answer timeout, refresh or retry */
    uint32_t cseq;            /* of the last REGISTER */
    uint8_t state;            /* enum sipua_user_state */
    bool registered;
};

struct sipua_host {
    struct sipua *s;
    struct sip_registrar *reg; /* NULL while the peer is down */
    uint32_t index;
    bool up; /* joined: its users are up */
};

enum sipua_call_state {
    CALL_CALLING,   /* UAC: INVITE sent */
    CALL_RINGING,   /* UAC: 180 received */
    CALL_CONFIRMED, /* UAC: 2xx ACKed, holding until the BYE */
    CALL_BYE,       /* UAC: BYE sent */
    CALL_ANSWERING, /* UAS: 180 sent, 200 after answer_delay */
    CALL_ANSWERED,  /* UAS: 200 sent, waiting for the ACK */
    CALL_ACKED,     /* UAS: ACK received, waiting for the BYE */
};

struct sipua_call {
    struct sipua *s;
    struct sipua_call *prev, *next; /* the user's list */
    uint64_t id;                    /* Call-ID c<id>@domain */
    uint32_t user;                  /* the caller (UAC) or the callee (UAS) */
    uint32_t other;                 /* UAC: the callee */
    bool uac, rang;
    bool reachable; /* UAC: the callee was registered when the INVITE left */
    uint8_t state;  /* enum sipua_call_state */
    env_time sent; /* UAC: INVITE sent */
    env_time interval, deadline; /* UAS: 200 retransmissions */
    sim_handle timer;
    struct env_addr hop; /* UAC: first hop of in-dialog requests; UAS: where responses go */
    char *msg;           /* UAC: the ACK of the 2xx; UAS: the 200 */
    size_t len;
    char *route, *target, *to; /* UAC dialog: Route lines, remote target, To with its tag */
};

struct sipua_sample {
    uint64_t setups;    /* calls whose setup ended (2xx or failure) in the window */
    uint64_t completed; /* of which set up */
    uint64_t setup_us;  /* sum of their setup latencies */
    uint64_t registered; /* users registered at the tick */
};

struct sipua {
    const struct scenario *sc;
    struct sim_engine *e;
    struct sipua_hooks hooks;
    struct sim_rng rng;
    char *domain;
    uint32_t hosts, upp, n_users, live_hosts, n_registered;
    struct sipua_host *host;
    struct sipua_user *user;
    GHashTable *uac, *uas; /* &call->id -> struct sipua_call * */
    uint64_t next_call;
    struct sipua_stats st;
    GArray *setup; /* env_time per completed call, in completion order */
    GArray *ring;  /* env_time INVITE -> first 180, per call that rang */
    struct sipua_sample win;
    GArray *series; /* struct sipua_sample */
};

/* ---- addresses and sending ------------------------------------------------------------------ */

static uint32_t user_host(const struct sipua *s, uint32_t u)
{
    return u / s->upp;
}

static struct env_addr ua_addr(const struct sipua *s, uint32_t u)
{
    struct env_addr a = world_addr(user_host(s, u));
    a.port = (uint16_t)(SIPUA_UA_PORT + u % s->upp);
    return a;
}

static struct env_addr peer_addr(uint32_t host)
{
    struct env_addr a = world_addr(host);
    a.port = SIPUA_PEER_PORT;
    return a;
}

static void ip_text(uint32_t ip, char out[16])
{
    g_snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

static void send_from(struct sipua *s, uint32_t host, uint16_t port, const struct env_addr *to,
                      const char *text, size_t len)
{
    s->st.messages++;
    s->st.bytes += len;
    s->hooks.send(s->hooks.ud, host, port, to, (const uint8_t *)text, len);
}

static void ua_send(struct sipua *s, uint32_t u, const struct env_addr *to, const char *text,
                    size_t len)
{
    struct env_addr me = ua_addr(s, u);
    send_from(s, user_host(s, u), me.port, to, text, len);
}

static void registrar_send(void *ud, const struct env_addr *to, const char *msg, size_t len)
{
    struct sipua_host *h = ud;
    send_from(h->s, h->index, SIPUA_PEER_PORT, to, msg, len);
}

/* ---- calls: life cycle ----------------------------------------------------------------------- */

static GHashTable *call_table(const struct sipua *s, bool uac)
{
    return uac ? s->uac : s->uas;
}

static struct sipua_call *call_new(struct sipua *s, bool uac, uint32_t user, uint64_t id)
{
    struct sipua_call *c = g_new0(struct sipua_call, 1);
    c->s = s;
    c->uac = uac;
    c->user = user;
    c->id = id;
    struct sipua_user *usr = &s->user[user];
    c->next = usr->calls;
    if (usr->calls)
        usr->calls->prev = c;
    usr->calls = c;
    g_hash_table_insert(call_table(s, uac), &c->id, c);
    return c;
}

static void call_free(struct sipua_call *c)
{
    struct sipua *s = c->s;
    sim_cancel(s->e, c->timer);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->user[c->user].calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    g_hash_table_remove(call_table(s, c->uac), &c->id);
    g_free(c->msg);
    g_free(c->route);
    g_free(c->target);
    g_free(c->to);
    g_free(c);
}

static struct sipua_call *call_find(const struct sipua *s, bool uac, uint64_t id, uint32_t user)
{
    struct sipua_call *c = g_hash_table_lookup(call_table(s, uac), &id);
    return c && c->user == user ? c : NULL;
}

static void call_arm(struct sipua_call *c, env_time delay, sim_fn fn)
{
    sim_cancel(c->s->e, c->timer);
    c->timer = sim_schedule(c->s->e, delay, fn, c);
}

/* ---- registration (RFC 3261 §10.2) ----------------------------------------------------------- */

static void set_registered(struct sipua *s, struct sipua_user *usr, bool on)
{
    if (usr->registered == on)
        return;
    usr->registered = on;
    if (on)
        s->n_registered++;
    else
        s->n_registered--;
}

static void user_timer(void *arg);

static void user_arm(struct sipua_user *usr, env_time delay)
{
    sim_cancel(usr->s->e, usr->timer);
    usr->timer = sim_schedule(usr->s->e, delay, user_timer, usr);
}

static void user_register(struct sipua *s, uint32_t u)
{
    struct sipua_user *usr = &s->user[u];
    struct env_addr me = ua_addr(s, u);
    char ip[16];
    ip_text(me.ip, ip);
    usr->cseq++;
    uint32_t expires = (uint32_t)(s->sc->sip.register_expires / ENV_S);
    char *text = g_strdup_printf("REGISTER sip:%s SIP/2.0\r\n"
                                 "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bKr%ux%u;rport\r\n"
                                 "Max-Forwards: 70\r\n"
                                 "From: <sip:user%u@%s>;tag=r%u\r\n"
                                 "To: <sip:user%u@%s>\r\n"
                                 "Call-ID: r%u@%s\r\n"
                                 "CSeq: %u REGISTER\r\n"
                                 "Contact: <sip:user%u@%s:%u>\r\n"
                                 "Expires: %u\r\n"
                                 "Content-Length: 0\r\n\r\n",
                                 s->domain, ip, me.port, u, usr->cseq, u, s->domain, u, u,
                                 s->domain, u, s->domain, usr->cseq, u, ip, me.port, expires);
    usr->state = USER_REGISTERING;
    s->st.registrations++;
    user_arm(usr, SIPUA_TXN_TIMEOUT);
    struct env_addr to = peer_addr(user_host(s, u));
    ua_send(s, u, &to, text, strlen(text));
    g_free(text);
}

static void register_failed(struct sipua *s, struct sipua_user *usr)
{
    s->st.registrations_failed++;
    set_registered(s, usr, false);
    usr->state = USER_WAIT;
    user_arm(usr, SIPUA_RETRY);
}

static void user_timer(void *arg)
{
    struct sipua_user *usr = arg;
    struct sipua *s = usr->s;
    usr->timer = 0;
    switch (usr->state) {
    case USER_WAIT:
    case USER_REGISTERED: /* start, retry or refresh */
        user_register(s, (uint32_t)(usr - s->user));
        break;
    case USER_REGISTERING: /* no final answer (Timer F) */
        register_failed(s, usr);
        break;
    default:
        break;
    }
}

static void on_register_response(struct sipua *s, uint32_t u, osip_message_t *m)
{
    struct sipua_user *usr = &s->user[u];
    uint32_t cseq = (uint32_t)strtoul(m->cseq->number, NULL, 10);
    int code = m->status_code;
    if (usr->state != USER_REGISTERING || cseq != usr->cseq || code < 200)
        return;
    if (code >= 300) {
        register_failed(s, usr);
        return;
    }
    s->st.registrations_ok++;
    set_registered(s, usr, true);
    usr->state = USER_REGISTERED;
    user_arm(usr, s->sc->sip.register_expires / 10 * 9); /* refresh before it expires */
}

/* ---- the caller (UAC) ------------------------------------------------------------------------ */

/* c's setup ended: set up (ok, after latency) or failed. */
static void record_setup_end(struct sipua_call *c, bool ok, env_time latency)
{
    struct sipua *s = c->s;
    s->win.setups++;
    if (c->reachable) {
        s->st.reachable_setups++;
        s->st.reachable_completed += ok;
    }
    if (!ok)
        return;
    s->win.completed++;
    s->win.setup_us += latency;
    g_array_append_val(s->setup, latency);
}

static void count_failure(struct sipua_call *c, int code)
{
    struct sipua *s = c->s;
    if (code == 404)
        s->st.failed_404++;
    else if (code == 480)
        s->st.failed_480++;
    else if (code == 408)
        s->st.failed_408++;
    else if (code >= 500 && code < 600)
        s->st.failed_5xx++;
    else
        s->st.failed_other++;
    record_setup_end(c, false, 0);
}

static void uac_timer(void *arg);

/* The INVITE's first line and headers up to CSeq, for the INVITE and its hop-by-hop ACK. */
static char *invite_head(const struct sipua *s, const struct sipua_call *c, const char *method,
                         const char *to)
{
    struct env_addr me = ua_addr(s, c->user);
    char ip[16];
    ip_text(me.ip, ip);
    char *to_default = g_strdup_printf("<sip:user%u@%s>", c->other, s->domain);
    char *text = g_strdup_printf("%s sip:user%u@%s SIP/2.0\r\n"
                                 "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bKi%" G_GUINT64_FORMAT
                                 ";rport\r\n"
                                 "Max-Forwards: 70\r\n"
                                 "From: <sip:user%u@%s>;tag=f%" G_GUINT64_FORMAT "\r\n"
                                 "To: %s\r\n"
                                 "Call-ID: c%" G_GUINT64_FORMAT "@%s\r\n"
                                 "CSeq: 1 %s\r\n",
                                 method, c->other, s->domain, ip, me.port, c->id, c->user,
                                 s->domain, c->id, to ? to : to_default, c->id, s->domain, method);
    g_free(to_default);
    return text;
}

bool sipua_call(struct sipua *s, uint32_t caller, uint32_t callee)
{
    g_assert(caller < s->n_users && callee < s->n_users);
    if (s->user[caller].state == USER_DOWN)
        return false;
    struct sipua_call *c = call_new(s, true, caller, ++s->next_call);
    c->other = callee;
    c->reachable = s->user[callee].registered;
    s->st.calls_reachable += c->reachable;
    c->state = CALL_CALLING;
    c->sent = sim_now(s->e);
    struct env_addr me = ua_addr(s, caller);
    char ip[16];
    ip_text(me.ip, ip);
    char *head = invite_head(s, c, "INVITE", NULL);
    char *text = g_strdup_printf("%sContact: <sip:user%u@%s:%u>\r\nContent-Length: 0\r\n\r\n",
                                 head, caller, ip, me.port);
    s->st.calls++;
    /* No final answer by then is a timeout: later than the proxies' own 408 (Timer B, 32 s,
     * after a lookup and an AppAttach of at most a few retransmissions each). */
    call_arm(c, 2 * SIPUA_TXN_TIMEOUT + s->sc->sip.answer_delay, uac_timer);
    c->hop = peer_addr(user_host(s, caller));
    ua_send(s, caller, &c->hop, text, strlen(text));
    g_free(text);
    g_free(head);
    return true;
}

/* An in-dialog request of the caller (ACK of the 2xx, BYE) along the route set. */
static char *dialog_request(const struct sipua *s, const struct sipua_call *c, const char *method,
                            uint32_t cseq, char branch)
{
    struct env_addr me = ua_addr(s, c->user);
    char ip[16];
    ip_text(me.ip, ip);
    return g_strdup_printf("%s %s SIP/2.0\r\n"
                           "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK%c%" G_GUINT64_FORMAT ";rport\r\n"
                           "Max-Forwards: 70\r\n"
                           "%s"
                           "From: <sip:user%u@%s>;tag=f%" G_GUINT64_FORMAT "\r\n"
                           "To: %s\r\n"
                           "Call-ID: c%" G_GUINT64_FORMAT "@%s\r\n"
                           "CSeq: %u %s\r\n"
                           "Content-Length: 0\r\n\r\n",
                           method, c->target, ip, me.port, branch, c->id, c->route, c->user,
                           s->domain, c->id, c->to, c->id, s->domain, cseq, method);
}

static bool parse_ipv4(const char *host, const char *port, struct env_addr *out)
{
    unsigned a, b, c, d;
    char tail;
    if (!host || sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 ||
        b > 255 || c > 255 || d > 255)
        return false;
    unsigned long p = port && port[0] ? strtoul(port, NULL, 10) : 5060;
    if (p == 0 || p > 65535)
        return false;
    out->ip = a << 24 | b << 16 | c << 8 | d;
    out->port = (uint16_t)p;
    return true;
}

/* The dialog a 2xx establishes (§12.1.2): route set = Record-Route reversed, remote target =
 * Contact; the first hop is the first route (loose routing), else the target. */
static bool uac_dialog(struct sipua_call *c, osip_message_t *m)
{
    osip_contact_t *ct = osip_list_get(&m->contacts, 0);
    char *target = NULL;
    if (!ct || !ct->url || osip_uri_to_str(ct->url, &target) != 0)
        return false;
    c->target = g_strdup(target);
    osip_free(target);
    GString *route = g_string_new(NULL);
    int n = osip_list_size(&m->record_routes);
    bool hop = false;
    for (int i = n - 1; i >= 0; i--) {
        osip_record_route_t *rr = osip_list_get(&m->record_routes, i);
        char *t = NULL;
        if (osip_record_route_to_str(rr, &t) == 0 && t) {
            g_string_append_printf(route, "Route: %s\r\n", t);
            osip_free(t);
        }
        if (!hop)
            hop = rr->url && parse_ipv4(rr->url->host, rr->url->port, &c->hop);
    }
    c->route = g_string_free(route, FALSE);
    if (!hop && !parse_ipv4(ct->url->host, ct->url->port, &c->hop))
        return false;
    char *to = NULL;
    if (osip_to_to_str(m->to, &to) != 0)
        return false;
    c->to = g_strdup(to);
    osip_free(to);
    return true;
}

static void uac_send_bye(struct sipua_call *c)
{
    struct sipua *s = c->s;
    char *text = dialog_request(s, c, "BYE", 2, 'b');
    c->state = CALL_BYE;
    call_arm(c, SIPUA_TXN_TIMEOUT, uac_timer);
    ua_send(s, c->user, &c->hop, text, strlen(text));
    g_free(text);
}

static void uac_timer(void *arg)
{
    struct sipua_call *c = arg;
    struct sipua *s = c->s;
    c->timer = 0;
    switch (c->state) {
    case CALL_CALLING:
    case CALL_RINGING:
        s->st.failed_timeout++;
        record_setup_end(c, false, 0);
        call_free(c);
        return;
    case CALL_CONFIRMED: /* the call has lasted call_duration */
        uac_send_bye(c);
        return;
    default: /* CALL_BYE: no answer to the BYE */
        s->st.byes_failed++;
        call_free(c);
        return;
    }
}

static void on_invite_response(struct sipua *s, uint32_t u, uint64_t id, osip_message_t *m)
{
    struct sipua_call *c = call_find(s, true, id, u);
    int code = m->status_code;
    env_time now = sim_now(s->e);
    if (!c)
        return; /* a retransmission after the call ended */
    bool setting_up = c->state == CALL_CALLING || c->state == CALL_RINGING;
    if (code < 200) {
        if (code >= 180 && !c->rang && setting_up) {
            c->rang = true;
            c->state = CALL_RINGING;
            env_time ring = now - c->sent;
            g_array_append_val(s->ring, ring);
        }
        return;
    }
    if (code >= 300) {
        if (!setting_up)
            return;
        /* The ACK of a non-2xx final response goes hop by hop on the INVITE's branch. */
        char *to = NULL;
        osip_to_to_str(m->to, &to);
        char *head = invite_head(s, c, "ACK", to);
        osip_free(to);
        char *text = g_strdup_printf("%sContent-Length: 0\r\n\r\n", head);
        ua_send(s, u, &c->hop, text, strlen(text));
        g_free(text);
        g_free(head);
        count_failure(c, code);
        call_free(c);
        return;
    }
    if (!setting_up) {
        if (c->msg) /* the 2xx again: our ACK was lost */
            ua_send(s, u, &c->hop, c->msg, c->len);
        return;
    }
    if (!uac_dialog(c, m)) {
        s->st.failed_other++; /* a 2xx we cannot follow: no Contact, or not IPv4 */
        record_setup_end(c, false, 0);
        call_free(c);
        return;
    }
    s->st.calls_completed++;
    record_setup_end(c, true, now - c->sent);
    c->msg = dialog_request(s, c, "ACK", 1, 'a');
    c->len = strlen(c->msg);
    c->state = CALL_CONFIRMED;
    call_arm(c, s->sc->sip.call_duration, uac_timer);
    ua_send(s, u, &c->hop, c->msg, c->len);
}

static void on_bye_response(struct sipua *s, uint32_t u, uint64_t id, osip_message_t *m)
{
    struct sipua_call *c = call_find(s, true, id, u);
    if (!c || c->state != CALL_BYE || m->status_code < 200)
        return;
    if (m->status_code < 300)
        s->st.calls_ended++;
    else
        s->st.byes_failed++;
    call_free(c);
}

/* ---- the callee (UAS) ------------------------------------------------------------------------ */

/* A response to req (§8.2.6): Via (every one), Record-Route, From, To (with tag when it has
 * none), Call-ID and CSeq copied; Contact when given. */
static char *response_text(osip_message_t *req, int code, const char *tag, const char *contact,
                           size_t *len)
{
    osip_message_t *m = NULL;
    osip_message_init(&m);
    osip_message_set_version(m, osip_strdup("SIP/2.0"));
    osip_message_set_status_code(m, code);
    const char *phrase = osip_message_get_reason(code);
    osip_message_set_reason_phrase(m, osip_strdup(phrase ? phrase : "Unknown"));
    for (int i = 0; i < osip_list_size(&req->vias); i++) {
        osip_via_t *v = NULL;
        if (osip_via_clone(osip_list_get(&req->vias, i), &v) == 0)
            osip_list_add(&m->vias, v, -1);
    }
    for (int i = 0; i < osip_list_size(&req->record_routes); i++) {
        osip_record_route_t *rr = NULL;
        if (osip_record_route_clone(osip_list_get(&req->record_routes, i), &rr) == 0)
            osip_list_add(&m->record_routes, rr, -1);
    }
    osip_from_clone(req->from, &m->from);
    osip_to_clone(req->to, &m->to);
    osip_generic_param_t *have = NULL;
    if (tag && osip_to_get_tag(m->to, &have) < 0)
        osip_to_set_tag(m->to, osip_strdup(tag));
    osip_call_id_clone(req->call_id, &m->call_id);
    osip_cseq_clone(req->cseq, &m->cseq);
    if (contact)
        osip_message_set_contact(m, contact);
    osip_message_set_content_length(m, "0");
    char *text = NULL, *out = NULL;
    size_t n = 0;
    if (osip_message_to_str(m, &text, &n) == 0) {
        out = g_strndup(text, n);
        *len = n;
        osip_free(text);
    }
    osip_message_free(m);
    return out;
}

static void uas_reply(struct sipua *s, uint32_t u, const struct env_addr *to, osip_message_t *req,
                      int code, const char *tag, const char *contact)
{
    size_t len = 0;
    char *text = response_text(req, code, tag, contact, &len);
    if (text)
        ua_send(s, u, to, text, len);
    g_free(text);
}

static void uas_timer(void *arg)
{
    struct sipua_call *c = arg;
    struct sipua *s = c->s;
    c->timer = 0;
    env_time now = sim_now(s->e);
    switch (c->state) {
    case CALL_ANSWERING: /* answer_delay is over: 200, repeated until the ACK (§13.3.1.4) */
        s->st.answered++;
        c->state = CALL_ANSWERED;
        c->interval = SIPUA_T1;
        c->deadline = now + SIPUA_TXN_TIMEOUT;
        ua_send(s, c->user, &c->hop, c->msg, c->len);
        call_arm(c, c->interval, uas_timer);
        return;
    case CALL_ANSWERED:
        if (now >= c->deadline) {
            call_free(c); /* no ACK: the dialog ends (the BYE §13.3.1.4 asks for is left out) */
            return;
        }
        ua_send(s, c->user, &c->hop, c->msg, c->len);
        c->interval = MIN(2 * c->interval, SIPUA_T2);
        call_arm(c, MIN(c->interval, c->deadline - now), uas_timer);
        return;
    default: /* CALL_ACKED: no BYE came (the caller went down) */
        call_free(c);
        return;
    }
}

static void on_invite(struct sipua *s, uint32_t u, uint64_t id, const struct env_addr *from,
                      osip_message_t *m)
{
    struct sipua_call *c = call_find(s, false, id, u);
    if (c) { /* a retransmission: the 200 again once it has been sent */
        if (c->state == CALL_ANSWERED)
            ua_send(s, u, &c->hop, c->msg, c->len);
        return;
    }
    char user[24];
    g_snprintf(user, sizeof user, "user%u", u);
    if (!m->req_uri || g_strcmp0(m->req_uri->username, user) != 0) {
        uas_reply(s, u, from, m, 404, "nf", NULL);
        return;
    }
    c = call_new(s, false, u, id);
    c->hop = *from;
    c->state = CALL_ANSWERING;
    struct env_addr me = ua_addr(s, u);
    char ip[16], tag[24];
    ip_text(me.ip, ip);
    g_snprintf(tag, sizeof tag, "t%" G_GUINT64_FORMAT, id);
    char *contact = g_strdup_printf("<sip:user%u@%s:%u>", u, ip, me.port);
    c->msg = response_text(m, 200, tag, contact, &c->len);
    uas_reply(s, u, from, m, 180, tag, contact);
    g_free(contact);
    if (!c->msg) {
        call_free(c);
        return;
    }
    call_arm(c, s->sc->sip.answer_delay, uas_timer);
}

static void on_uas_request(struct sipua *s, uint32_t u, uint64_t id, const struct env_addr *from,
                           osip_message_t *m)
{
    const char *method = m->sip_method;
    if (strcmp(method, "INVITE") == 0) {
        on_invite(s, u, id, from, m);
        return;
    }
    struct sipua_call *c = call_find(s, false, id, u);
    if (strcmp(method, "ACK") == 0) {
        if (c && c->state == CALL_ANSWERED) {
            c->state = CALL_ACKED;
            g_free(c->msg);
            c->msg = NULL;
            /* The BYE comes call_duration after the caller's ACK; should the caller go down,
             * the dialog is forgotten a while later. */
            call_arm(c, s->sc->sip.call_duration + 2 * SIPUA_TXN_TIMEOUT, uas_timer);
        }
        return;
    }
    if (strcmp(method, "BYE") == 0) {
        uas_reply(s, u, from, m, c ? 200 : 481, NULL, NULL);
        if (c)
            call_free(c);
        return;
    }
    uas_reply(s, u, from, m, 501, NULL, NULL);
}

/* ---- receiving ------------------------------------------------------------------------------- */

static bool call_id_of(const osip_message_t *m, uint64_t *id)
{
    const char *n = m->call_id ? m->call_id->number : NULL;
    if (!n || n[0] != 'c' || !g_ascii_isdigit(n[1]))
        return false;
    *id = g_ascii_strtoull(n + 1, NULL, 10);
    return true;
}

static void ua_receive(struct sipua *s, uint32_t u, const struct env_addr *from,
                       const uint8_t *buf, size_t len)
{
    osip_message_t *m = NULL;
    if (osip_message_init(&m) != 0)
        return;
    if (osip_message_parse(m, (const char *)buf, len) != 0 || !m->cseq || !m->cseq->method ||
        !m->cseq->number || !m->call_id) {
        osip_message_free(m);
        return;
    }
    uint64_t id = 0;
    if (MSG_IS_RESPONSE(m)) {
        if (strcmp(m->cseq->method, "REGISTER") == 0)
            on_register_response(s, u, m);
        else if (call_id_of(m, &id) && strcmp(m->cseq->method, "INVITE") == 0)
            on_invite_response(s, u, id, m);
        else if (call_id_of(m, &id) && strcmp(m->cseq->method, "BYE") == 0)
            on_bye_response(s, u, id, m);
    } else if (m->sip_method && osip_list_size(&m->vias) > 0 && m->from && m->to) {
        if (call_id_of(m, &id))
            on_uas_request(s, u, id, from, m);
        else if (strcmp(m->sip_method, "ACK") != 0)
            uas_reply(s, u, from, m, 481, NULL, NULL);
    }
    osip_message_free(m);
}

bool sipua_port(const struct sipua *s, uint16_t port)
{
    return port == SIPUA_PEER_PORT ||
           (port >= SIPUA_UA_PORT && (uint32_t)(port - SIPUA_UA_PORT) < s->upp);
}

bool sipua_receive(struct sipua *s, uint32_t host, uint16_t port, const struct env_addr *from,
                   const uint8_t *buf, size_t len)
{
    g_assert(host < s->hosts);
    struct sipua_host *h = &s->host[host];
    if (port == SIPUA_PEER_PORT) {
        if (!h->reg)
            return false;
        sip_registrar_receive(h->reg, from, buf, len);
        return true;
    }
    if (!sipua_port(s, port))
        return false;
    uint32_t u = host * s->upp + (port - SIPUA_UA_PORT);
    if (s->user[u].state == USER_DOWN)
        return false;
    ua_receive(s, u, from, buf, len);
    return true;
}

/* ---- peers coming and going ------------------------------------------------------------------ */

void sipua_peer_start(struct sipua *s, uint32_t host, const struct env *env, struct node *node)
{
    struct sipua_host *h = &s->host[host];
    g_assert(!h->reg);
    struct sip_registrar_config cfg;
    sip_registrar_config_default(&cfg);
    cfg.domain = s->domain;
    cfg.addr = peer_addr(host);
    h->reg = sip_registrar_new(env, node, &cfg, registrar_send, h);
}

void sipua_peer_joined(struct sipua *s, uint32_t host)
{
    struct sipua_host *h = &s->host[host];
    if (!h->reg || h->up)
        return;
    h->up = true;
    s->live_hosts++;
    for (uint32_t j = 0; j < s->upp; j++) {
        struct sipua_user *usr = &s->user[host * s->upp + j];
        usr->state = USER_WAIT;
        user_arm(usr, sim_rng_below(&s->rng, SIPUA_JITTER));
    }
}

void sipua_peer_stop(struct sipua *s, uint32_t host)
{
    struct sipua_host *h = &s->host[host];
    if (h->up) {
        h->up = false;
        s->live_hosts--;
    }
    for (uint32_t j = 0; j < s->upp; j++) {
        struct sipua_user *usr = &s->user[host * s->upp + j];
        sim_cancel(s->e, usr->timer);
        usr->timer = 0;
        usr->state = USER_DOWN;
        set_registered(s, usr, false);
        while (usr->calls) {
            struct sipua_call *c = usr->calls;
            if (c->uac && (c->state == CALL_CALLING || c->state == CALL_RINGING))
                s->st.calls_abandoned++;
            call_free(c);
        }
    }
    sip_registrar_free(h->reg);
    h->reg = NULL;
}

/* ---- call arrivals --------------------------------------------------------------------------- */

static void arrival_schedule(struct sipua *s);

/* A live user, uniformly: hosts drawn until a live one (then a scan from a random host, when
 * the live ones are too rare for drawing), then one of its users. */
static int64_t live_user(struct sipua *s)
{
    if (s->live_hosts == 0)
        return -1;
    uint32_t host = 0;
    bool found = false;
    for (unsigned i = 0; i < SIPUA_TRIES && !found; i++) {
        host = (uint32_t)sim_rng_below(&s->rng, s->hosts);
        found = s->host[host].up;
    }
    for (uint32_t i = 0; i < s->hosts && !found; i++) {
        host = (host + 1) % s->hosts;
        found = s->host[host].up;
    }
    return (int64_t)host * s->upp + (int64_t)sim_rng_below(&s->rng, s->upp);
}

static void arrival(void *arg)
{
    struct sipua *s = arg;
    int64_t caller = live_user(s);
    if (caller >= 0 && s->n_users > 1) {
        uint32_t callee = (uint32_t)sim_rng_below(&s->rng, s->n_users - 1);
        if (callee >= caller)
            callee++;
        sipua_call(s, (uint32_t)caller, callee);
    }
    arrival_schedule(s);
}

static void arrival_wait(void *arg)
{
    arrival_schedule(arg);
}

/* Poisson at call_rate per live user, the rate evaluated at each arrival; while no user is
 * live, looks again in a second. */
static void arrival_schedule(struct sipua *s)
{
    double rate = s->sc->sip.call_rate * s->upp * s->live_hosts;
    if (rate <= 0) {
        sim_schedule(s->e, ENV_S, arrival_wait, s);
        return;
    }
    sim_schedule(s->e, (env_time)llround(sim_rng_exp(&s->rng, 1e6 / rate)), arrival, s);
}

/* ---- life cycle ------------------------------------------------------------------------------ */

struct sipua *sipua_new(const struct scenario *sc, uint32_t hosts, struct sim_engine *e,
                        uint64_t stream, const struct sipua_hooks *hooks)
{
    sip_registrar_parser_init();
    struct sipua *s = g_new0(struct sipua, 1);
    s->sc = sc;
    s->e = e;
    s->hooks = *hooks;
    sim_rng_init(&s->rng, sc->seed, stream);
    s->domain = g_ascii_strdown(sc->overlay.name, -1);
    s->hosts = hosts;
    s->upp = MAX(sc->sip.users_per_peer, 1);
    g_assert((uint64_t)hosts * s->upp <= UINT32_MAX);
    s->n_users = hosts * s->upp;
    s->host = g_new0(struct sipua_host, hosts);
    for (uint32_t i = 0; i < hosts; i++) {
        s->host[i].s = s;
        s->host[i].index = i;
    }
    s->user = g_new0(struct sipua_user, s->n_users);
    for (uint32_t u = 0; u < s->n_users; u++)
        s->user[u].s = s;
    s->uac = g_hash_table_new(g_int64_hash, g_int64_equal);
    s->uas = g_hash_table_new(g_int64_hash, g_int64_equal);
    s->setup = g_array_new(FALSE, FALSE, sizeof(env_time));
    s->ring = g_array_new(FALSE, FALSE, sizeof(env_time));
    s->series = g_array_new(FALSE, FALSE, sizeof(struct sipua_sample));
    if (sc->sip.call_rate > 0)
        sim_schedule_at(e, sc->workload.start, arrival_wait, s);
    return s;
}

static void call_free_cb(gpointer p)
{
    struct sipua_call *c = p;
    g_free(c->msg);
    g_free(c->route);
    g_free(c->target);
    g_free(c->to);
    g_free(c);
}

void sipua_free(struct sipua *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->hosts; i++)
        sip_registrar_free(s->host[i].reg);
    /* The engine goes with the world: timers are not cancelled one by one. */
    GHashTable *tables[] = {s->uac, s->uas};
    for (size_t t = 0; t < G_N_ELEMENTS(tables); t++) {
        GHashTableIter it;
        gpointer v;
        g_hash_table_iter_init(&it, tables[t]);
        while (g_hash_table_iter_next(&it, NULL, &v))
            call_free_cb(v);
        g_hash_table_destroy(tables[t]);
    }
    g_array_unref(s->setup);
    g_array_unref(s->ring);
    g_array_unref(s->series);
    g_free(s->user);
    g_free(s->host);
    g_free(s->domain);
    g_free(s);
}

/* ---- queries and results --------------------------------------------------------------------- */

bool sipua_registered(const struct sipua *s, uint32_t u)
{
    return u < s->n_users && s->user[u].registered;
}

uint32_t sipua_users(const struct sipua *s)
{
    return s->n_users;
}

size_t sipua_active_calls(const struct sipua *s)
{
    return g_hash_table_size(s->uac) + g_hash_table_size(s->uas);
}

const struct sipua_stats *sipua_stats(const struct sipua *s)
{
    return &s->st;
}

struct sip_registrar *sipua_registrar(const struct sipua *s, uint32_t host)
{
    return host < s->hosts ? s->host[host].reg : NULL;
}

static int time_cmp(const void *a, const void *b)
{
    env_time x = *(const env_time *)a, y = *(const env_time *)b;
    return x < y ? -1 : x > y;
}

static GArray *sorted_copy(const GArray *a)
{
    GArray *c = g_array_sized_new(FALSE, FALSE, sizeof(env_time), a->len);
    g_array_append_vals(c, a->data, a->len);
    qsort(c->data, c->len, sizeof(env_time), time_cmp);
    return c;
}

GArray *sipua_sorted_setup(const struct sipua *s)
{
    return sorted_copy(s->setup);
}

void sipua_tick(struct sipua *s)
{
    s->win.registered = s->n_registered;
    g_array_append_val(s->series, s->win);
    memset(&s->win, 0, sizeof s->win);
}

/* Mean and nearest-rank percentiles (world_rank) of latencies, in ms. */
static void latency_rows(GArray *rows, const GArray *samples, const char *const names[5])
{
    GArray *a = sorted_copy(samples);
    const env_time *x = (const env_time *)a->data;
    double sum = 0;
    for (guint i = 0; i < a->len; i++)
        sum += (double)x[i];
    world_row_f(rows, names[0], a->len ? sum / a->len / 1000.0 : 0.0, 3);
    static const double p[] = {50, 95, 99};
    for (size_t i = 0; i < G_N_ELEMENTS(p); i++)
        world_row_f(rows, names[i + 1], a->len ? x[world_rank(a->len, p[i])] / 1000.0 : 0.0, 3);
    world_row_f(rows, names[4], a->len ? x[a->len - 1] / 1000.0 : 0.0, 3);
    g_array_unref(a);
}

void sipua_rows(const struct sipua *s, GArray *rows)
{
    const struct sipua_stats *st = &s->st;
    uint64_t failed = st->failed_404 + st->failed_480 + st->failed_408 + st->failed_5xx +
                      st->failed_other + st->failed_timeout;
    uint64_t reg_done = st->registrations_ok + st->registrations_failed;
    uint64_t setups = st->calls_completed + failed;
    world_row_u(rows, "sip_users", s->n_users);
    world_row_u(rows, "registered_users_end", s->n_registered);
    world_row_u(rows, "registrations", st->registrations);
    world_row_u(rows, "registrations_ok", st->registrations_ok);
    world_row_u(rows, "registrations_failed", st->registrations_failed);
    world_row_f(rows, "registration_success", reg_done ? (double)st->registrations_ok / reg_done : 1.0,
          6);
    world_row_u(rows, "calls", st->calls);
    world_row_u(rows, "calls_completed", st->calls_completed);
    world_row_u(rows, "calls_failed", failed);
    world_row_f(rows, "call_success", setups ? (double)st->calls_completed / setups : 1.0, 6);
    world_row_u(rows, "calls_reachable", st->calls_reachable);
    world_row_f(rows, "call_success_reachable",
          st->reachable_setups ? (double)st->reachable_completed / st->reachable_setups : 1.0, 6);
    static const char *const setup_names[5] = {"call_setup_ms_mean", "call_setup_ms_p50",
                                               "call_setup_ms_p95", "call_setup_ms_p99",
                                               "call_setup_ms_max"};
    latency_rows(rows, s->setup, setup_names);
    static const char *const ring_names[5] = {"call_ring_ms_mean", "call_ring_ms_p50",
                                              "call_ring_ms_p95", "call_ring_ms_p99",
                                              "call_ring_ms_max"};
    latency_rows(rows, s->ring, ring_names);
    world_row_u(rows, "calls_failed_404", st->failed_404);
    world_row_u(rows, "calls_failed_480", st->failed_480);
    world_row_u(rows, "calls_failed_408", st->failed_408);
    world_row_u(rows, "calls_failed_5xx", st->failed_5xx);
    world_row_u(rows, "calls_failed_timeout", st->failed_timeout);
    world_row_u(rows, "calls_failed_other", st->failed_other);
    world_row_u(rows, "calls_abandoned", st->calls_abandoned);
    world_row_u(rows, "calls_unfinished", st->calls - setups - st->calls_abandoned);
    world_row_u(rows, "calls_ended", st->calls_ended);
    world_row_u(rows, "byes_failed", st->byes_failed);
    world_row_u(rows, "sip_messages", st->messages);
    world_row_u(rows, "sip_bytes", st->bytes);
}

void sipua_series_tsv(const struct sipua *s, guint i, double t, GString *g)
{
    if (i >= s->series->len)
        return;
    const struct sipua_sample *x = &g_array_index(s->series, struct sipua_sample, i);
    g_string_append_printf(g, "%.3f\tregistered_users\t%" G_GUINT64_FORMAT "\n", t,
                           x->registered);
    g_string_append_printf(g, "%.3f\tcall_setups\t%" G_GUINT64_FORMAT "\n", t, x->setups);
    if (x->setups > 0)
        g_string_append_printf(g, "%.3f\tcall_success\t%.6f\n", t,
                               (double)x->completed / x->setups);
    if (x->completed > 0)
        g_string_append_printf(g, "%.3f\tcall_setup_ms_mean\t%.3f\n", t,
                               (double)x->setup_us / x->completed / 1000.0);
}

char *sipua_cdf_tsv(const struct sipua *s)
{
    GArray *a = sorted_copy(s->setup);
    char *tsv = world_cdf_tsv("setup_ms", a);
    g_array_unref(a);
    return tsv;
}
