/* registrar.c — the SIP proxy/registrar adapter of a RELOAD peer: RFC 3261 §10.3 (registrar),
 * §17.2 (server transactions over UDP), §18.2 (responses go back to the source address; Via
 * received/rport per RFC 3581), RFC 7904 §3 (what is stored) and §4 (lookup, in resolve.c).
 * See registrar.h for the contract and docs/sip.md for the design.  Requests other than
 * REGISTER go to the proxy half, proxy.c (RFC 3261 §16); registrar_int.h holds what they share.
 *
 * Ownership: a server transaction (struct txn) lives from its request until its last timer
 * (J, or H/I for INVITE) fires; a binding (struct binding) while it has contacts, and after
 * the last one expired for the rest of its grace (lapsed_until).  Stores are
 * tracked as struct store_op, which outlive the adapter when the node answers after
 * sip_registrar_free (op->reg is then NULL and the completion only frees the op).  Lookups are
 * tied to their transaction, which cancels them when it is answered otherwise (CANCEL).
 */
#include "registrar.h"

#include <stdarg.h>
#include <string.h>

#include "registrar_int.h"
#include "resolve.h"
#include "usage.h"

#define NEVER G_MAXUINT64
#define MAX_DATAGRAM 65535
#define RETRY_STORE (10 * ENV_S) /* a failed refresh is tried again this much later */

struct store_op {
    struct sip_registrar *reg; /* NULL once the adapter is gone */
    char *aor;
    char *txn_key; /* the REGISTER waiting for this Store; NULL for a refresh */
    bool removal;
};

/* ---- libosip2: parser tables once, its trace output silenced --------------------------- */

static void osip_silent(const char *fi, int li, osip_trace_level_t level, const char *chfr,
                        va_list ap)
{
}

static gpointer osip_setup(gpointer unused)
{
    parser_init();
    /* Without a trace function libosip2 prints parse errors with wall-clock stamps. */
    osip_trace_initialize_func(TRACE_LEVEL0, osip_silent);
    return NULL;
}

/* ---- configuration, life cycle ---------------------------------------------------------- */

void sip_registrar_config_default(struct sip_registrar_config *c)
{
    memset(c, 0, sizeof *c);
    c->default_expires = 3600;
    c->min_expires = 60;
    c->max_expires = 86400;
    c->max_contacts = 16;
    c->store_lifetime = 600;
    c->resolve_depth = SIP_RESOLVE_DEPTH;
    c->t1 = 500 * ENV_MS;
    c->t2 = 4 * ENV_S;
    c->t4 = 5 * ENV_S;
    c->expired_grace = 300;
    c->app_cache = 120;
    c->max_pending = 2048;
    c->retry_after = 1;
}

static void contact_free(gpointer p)
{
    struct contact *c = p;
    g_free(c->uri);
    g_free(c->call_id);
    g_free(c);
}

static void binding_free(gpointer p)
{
    struct binding *b = p;
    env_timer_stop(&b->reg->env, b->timer);
    g_ptr_array_free(b->contacts, TRUE);
    if (b->stored)
        g_byte_array_free(b->stored, TRUE);
    g_free(b->aor);
    g_free(b);
}

static void txn_free(gpointer p)
{
    struct txn *t = p;
    env_timer_stop(&t->reg->env, t->timer);
    sip_resolve_cancel(t->lookup);
    if (t->req)
        osip_message_free(t->req);
    if (t->routes)
        g_ptr_array_unref(t->routes);
    g_free(t->ctxn);
    g_free(t->target);
    g_free(t->resp);
    g_free(t->key);
    g_free(t);
}

static void store_op_free(struct store_op *op)
{
    g_free(op->aor);
    g_free(op->txn_key);
    g_free(op);
}

void sip_registrar_parser_init(void)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, osip_setup, NULL);
}

struct sip_registrar *sip_registrar_new(const struct env *env, struct node *node,
                                        const struct sip_registrar_config *cfg,
                                        sip_registrar_send_fn send, void *send_ud)
{
    sip_registrar_parser_init();
    struct sip_registrar *r = g_new0(struct sip_registrar, 1);
    r->env = *env;
    r->node = node;
    r->cfg = *cfg;
    r->domain = cfg->domain ? g_ascii_strdown(cfg->domain, -1) : NULL;
    r->cfg.domain = r->domain;
    r->send = send;
    r->send_ud = send_ud;
    r->bindings = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, binding_free);
    r->txns = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, txn_free);
    r->ops = g_ptr_array_new();
    id_to_bytes(node_id(node), r->self);
    sip_proxy_init(r);
    return r;
}

void sip_registrar_free(struct sip_registrar *r)
{
    if (!r)
        return;
    for (guint i = 0; i < r->ops->len; i++)
        ((struct store_op *)r->ops->pdata[i])->reg = NULL;
    g_ptr_array_free(r->ops, TRUE);
    sip_proxy_clear(r);
    g_hash_table_destroy(r->txns);
    g_hash_table_destroy(r->bindings);
    g_free(r->domain);
    g_free(r);
}

const struct sip_registrar_stats *sip_registrar_get_stats(const struct sip_registrar *r)
{
    return &r->stats;
}

/* ---- small helpers ---------------------------------------------------------------------- */

/* A decimal delta-seconds (RFC 3261 §25.1, at most 2^32-1); false when malformed. */
bool sip_registrar_seconds(const char *s, uint32_t *out)
{
    if (!s)
        return false;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!g_ascii_isdigit(*s))
        return false;
    uint64_t v = 0;
    for (; g_ascii_isdigit(*s); s++) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > G_MAXUINT32)
            v = G_MAXUINT32 + (uint64_t)1;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s || v > G_MAXUINT32)
        return false;
    *out = (uint32_t)v;
    return true;
}

static uint32_t seconds_left(env_time until, env_time now)
{
    return until > now ? (uint32_t)((until - now + ENV_S - 1) / ENV_S) : 0;
}

char *sip_registrar_ip_string(uint32_t ip)
{
    return g_strdup_printf("%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

/* The canonical AoR of an osip URI, or NULL. */
char *sip_registrar_aor_of(const osip_uri_t *u)
{
    char *s = NULL;
    if (!u || osip_uri_to_str(u, &s) != 0)
        return NULL;
    char *aor = sip_usage_aor(s);
    osip_free(s);
    return aor;
}

const char *sip_registrar_header(osip_message_t *m, const char *name)
{
    osip_header_t *h = NULL;
    return osip_message_header_get_byname(m, name, 0, &h) >= 0 && h ? h->hvalue : NULL;
}

/* ---- responses and server transactions (RFC 3261 §8.2.6, §17.2) ------------------------ */

static void txn_send(struct txn *t)
{
    t->reg->stats.responses_sent++;
    sip_proxy_send(t->reg, &t->peer, t->resp, t->resp_len); /* directly or tunnelled */
}

static void txn_timer(void *arg);

static void txn_arm(struct txn *t, env_time delay)
{
    env_timer_stop(&t->reg->env, t->timer);
    t->timer = env_timer_start(&t->reg->env, delay, txn_timer, t);
}

static void txn_timer(void *arg)
{
    struct txn *t = arg;
    struct sip_registrar *r = t->reg;
    t->timer = 0;
    env_time now = env_now(&r->env);
    if (t->invite && t->state == TXN_COMPLETED && now < t->deadline) {
        /* Timer G: the final response again until the ACK comes (§17.2.1). */
        txn_send(t);
        t->interval = MIN(2 * t->interval, r->cfg.t2);
        txn_arm(t, MIN(t->interval, t->deadline - now));
        return;
    }
    /* Timer J, H or I: the transaction ends. */
    g_hash_table_remove(r->txns, t->key);
}

/* Builds a response to t's request: Via (the top one with received/rport, RFC 3581), From,
 * To (with our tag, except on 100), Call-ID and CSeq copied; then the contacts of b (with
 * their expires) when b is not NULL, and one extra header when name is not NULL. */
static char *build_response(struct txn *t, int code, const char *reason, const struct binding *b,
                            const char *name, const char *value, size_t *len)
{
    struct sip_registrar *r = t->reg;
    const osip_message_t *req = t->req;
    osip_message_t *m = NULL;
    osip_message_init(&m);
    osip_message_set_version(m, osip_strdup("SIP/2.0"));
    osip_message_set_status_code(m, code);
    const char *phrase = reason ? reason : osip_message_get_reason(code);
    osip_message_set_reason_phrase(m, osip_strdup(phrase ? phrase : "Unknown"));
    for (int i = 0; i < osip_list_size(&req->vias); i++) {
        osip_via_t *v = NULL;
        osip_via_clone(osip_list_get(&req->vias, i), &v);
        if (i == 0) {
            char *ip = sip_registrar_ip_string(t->peer.ip);
            osip_generic_param_t *rport = NULL;
            osip_via_param_get_byname(v, (char *)"rport", &rport);
            if (!v->host || strcmp(v->host, ip) != 0 || rport)
                osip_via_set_received(v, osip_strdup(ip));
            if (rport && !rport->gvalue) {
                char *port = g_strdup_printf("%u", t->peer.port);
                rport->gvalue = osip_strdup(port);
                g_free(port);
            }
            g_free(ip);
        }
        osip_list_add(&m->vias, v, -1);
    }
    osip_from_clone(req->from, &m->from);
    osip_to_clone(req->to, &m->to);
    osip_generic_param_t *tag = NULL;
    if (code > 100 && osip_to_get_tag(m->to, &tag) < 0)
        osip_to_set_tag(m->to, osip_strdup(t->tag));
    osip_call_id_clone(req->call_id, &m->call_id);
    osip_cseq_clone(req->cseq, &m->cseq);
    if (b) {
        env_time now = env_now(&r->env);
        for (guint i = 0; i < b->contacts->len; i++) {
            const struct contact *c = b->contacts->pdata[i];
            if (c->expires <= now)
                continue; /* its timer has not run yet */
            char *h = g_strdup_printf("<%s>;expires=%u", c->uri, seconds_left(c->expires, now));
            osip_message_set_contact(m, h);
            g_free(h);
        }
    }
    if (name)
        osip_message_set_header(m, name, value);
    osip_message_set_content_length(m, "0");
    char *text = NULL;
    size_t n = 0;
    char *out = NULL;
    if (osip_message_to_str(m, &text, &n) == 0) {
        out = g_strndup(text, n);
        *len = n;
        osip_free(text);
    }
    osip_message_free(m);
    return out;
}

void sip_registrar_respond(struct txn *t, int code, const char *reason, const struct binding *b,
                           const char *name, const char *value)
{
    if (t->state >= TXN_COMPLETED)
        return;
    size_t len = 0;
    char *text = build_response(t, code, reason, b, name, value, &len);
    if (text)
        sip_registrar_answer(t, code, text, len);
}

/* Sends a response on t; a final one completes the transaction and starts its timers. */
void sip_registrar_answer(struct txn *t, int code, char *text, size_t len)
{
    struct sip_registrar *r = t->reg;
    if (t->state >= TXN_COMPLETED) {
        g_free(text);
        return;
    }
    g_free(t->resp);
    t->resp = text;
    t->resp_len = len;
    if (code == 400)
        r->stats.bad_requests++;
    if (t->req->sip_method && strcmp(t->req->sip_method, "REGISTER") == 0 && code >= 200) {
        if (code < 300)
            r->stats.registers_ok++;
        else
            r->stats.registers_failed++;
    }
    txn_send(t);
    if (code < 200) {
        t->state = TXN_PROCEEDING;
        return;
    }
    t->state = TXN_COMPLETED;
    t->final_code = code;
    if (t->invite && code >= 300) {
        t->interval = r->cfg.t1;
        t->deadline = env_now(&r->env) + 64 * r->cfg.t1;
        txn_arm(t, t->interval);
    } else {
        txn_arm(t, 64 * r->cfg.t1); /* Timer J (and the end of a 2xx INVITE transaction) */
    }
}

/* The transaction key (§17.2.3): the top Via's branch when it has the RFC 3261 magic cookie,
 * with its sent-by and the method (ACK matches INVITE); otherwise Call-ID, CSeq, From tag and
 * the top Via. */
/* Overload control (cfg.max_pending): would request m add overlay work while the node has
 * max_pending requests of its own outstanding?  Requests within a dialog, ACK and CANCEL
 * never count: they finish work. */
static bool overloaded(const struct sip_registrar *r, osip_message_t *m)
{
    if (!r->cfg.max_pending || node_pending_requests(r->node) < r->cfg.max_pending)
        return false;
    if (strcmp(m->sip_method, "REGISTER") == 0)
        return true;
    osip_generic_param_t *tag = NULL;
    bool in_dialog = m->to && osip_to_get_tag(m->to, &tag) >= 0 && tag && tag->gvalue;
    return !in_dialog && strcmp(m->sip_method, "ACK") != 0 && strcmp(m->sip_method, "CANCEL") != 0;
}

static char *txn_key(osip_message_t *m)
{
    osip_via_t *v = osip_list_get(&m->vias, 0);
    osip_generic_param_t *branch = NULL;
    const char *method = strcmp(m->sip_method, "ACK") == 0 ? "INVITE" : m->sip_method;
    osip_via_param_get_byname(v, (char *)"branch", &branch);
    if (branch && branch->gvalue && g_str_has_prefix(branch->gvalue, "z9hG4bK"))
        return g_strconcat(branch->gvalue, "|", v->host ? v->host : "", ":", v->port ? v->port : "",
                           "|", method, NULL);
    osip_generic_param_t *ftag = NULL;
    osip_from_get_tag(m->from, &ftag);
    char *via = NULL;
    osip_via_to_str(v, &via);
    char *k = g_strconcat(
        m->call_id->number ? m->call_id->number : "", "|", m->cseq->number ? m->cseq->number : "",
        "|", ftag && ftag->gvalue ? ftag->gvalue : "", "|", via ? via : "", "|", method, NULL);
    osip_free(via);
    return k;
}

/* ---- bindings and what the node stores -------------------------------------------------- */

static void binding_timer(void *arg);

static void binding_arm(struct binding *b)
{
    struct sip_registrar *r = b->reg;
    env_timer_stop(&r->env, b->timer);
    b->timer = 0;
    env_time next = b->refresh_at;
    for (guint i = 0; i < b->contacts->len; i++)
        next = MIN(next, ((struct contact *)b->contacts->pdata[i])->expires);
    if (b->contacts->len == 0 && b->lapsed_until)
        next = MIN(next, b->lapsed_until);
    if (next == NEVER)
        return;
    env_time now = env_now(&r->env);
    b->timer = env_timer_start(&r->env, next > now ? next - now : 0, binding_timer, b);
}

static struct binding *binding_get(struct sip_registrar *r, const char *aor, bool create)
{
    struct binding *b = g_hash_table_lookup(r->bindings, aor);
    if (b || !create)
        return b;
    b = g_new0(struct binding, 1);
    b->reg = r;
    b->aor = g_strdup(aor);
    b->res = sip_usage_resource_id(aor);
    b->contacts = g_ptr_array_new_with_free_func(contact_free);
    b->refresh_at = NEVER;
    g_hash_table_insert(r->bindings, b->aor, b);
    return b;
}

/* The value b's contacts call for: a forwarding URI to the AoR of the most recent contact in
 * the overlay's domain, else a route to this node (RFC 7904 §3). */
static GByteArray *binding_value(const struct binding *b)
{
    const struct contact *fwd = NULL;
    for (guint i = 0; i < b->contacts->len; i++) {
        const struct contact *c = b->contacts->pdata[i];
        if (c->forward && (!fwd || c->order > fwd->order))
            fwd = c;
    }
    struct sip_registration reg;
    char *aor = fwd ? sip_usage_aor(fwd->uri) : NULL;
    struct node_peer via;
    uint8_t via_id[ID_BYTES];
    if (aor) {
        sip_usage_uri(&reg, aor);
    } else if (node_client_peer(b->reg->node, &via)) {
        /* A client is reached only through its peer (RFC 6940 §4.2.1, docs/clients.md):
         * the route is the destination list [that peer, this client]. */
        sip_usage_route_to(&reg, b->reg->self, NULL);
        id_to_bytes(&via.id, via_id);
        reg.dest[1] = reg.dest[0];
        wire_dest_node(&reg.dest[0], via_id);
        reg.n_dest = 2;
    } else {
        sip_usage_route_to(&reg, b->reg->self, NULL);
    }
    GByteArray *v = g_byte_array_new();
    sip_usage_encode(v, &reg);
    g_free(aor);
    return v;
}

static void on_store(void *ud, int status);

/* Stores b's value (exists) or the nonexistent value that removes it.  When t is not NULL
 * the transaction's response waits for the Store.  Returns node_store's status. */
static int binding_store(struct binding *b, struct txn *t, bool exists)
{
    struct sip_registrar *r = b->reg;
    env_time now = env_now(&r->env);
    GByteArray *value = exists ? binding_value(b) : g_byte_array_new();
    uint32_t lifetime;
    if (exists) {
        env_time last = now;
        for (guint i = 0; i < b->contacts->len; i++)
            last = MAX(last, ((struct contact *)b->contacts->pdata[i])->expires);
        /* The value outlives the last contact by expired_grace: a call in that time reaches
         * this node, which answers 480 (a lapsed registration) rather than 404. */
        uint32_t left = (uint32_t)MIN((uint64_t)seconds_left(last, now) + r->cfg.expired_grace,
                                      (uint64_t)G_MAXUINT32);
        lifetime = MIN(left, r->cfg.store_lifetime);
        /* A capped lifetime is renewed after nine tenths of it; otherwise the value ends
         * with the contacts (and the grace). */
        b->refresh_at = left > lifetime ? now + (env_time)lifetime * ENV_S * 9 / 10 : NEVER;
        b->stored_until = now + (env_time)lifetime * ENV_S;
    } else {
        /* At least the rest of the lifetime of the value it replaces (RFC 6940 §7.4.1.3). */
        lifetime = MAX(seconds_left(b->stored_until, now), 1u);
        b->refresh_at = NEVER;
        b->stored_until = 0;
    }
    if (b->stored)
        g_byte_array_free(b->stored, TRUE);
    b->stored = exists ? g_byte_array_sized_new(value->len) : NULL;
    if (b->stored)
        g_byte_array_append(b->stored, value->data, value->len);
    struct node_value v = {.key = r->self,
                           .key_len = ID_BYTES,
                           .value = value->data,
                           .value_len = value->len,
                           .exists = exists,
                           .lifetime = lifetime};
    struct store_op *op = g_new0(struct store_op, 1);
    op->reg = r;
    op->aor = g_strdup(b->aor);
    op->txn_key = t ? g_strdup(t->key) : NULL;
    op->removal = !exists;
    g_ptr_array_add(r->ops, op);
    r->stats.stores++;
    struct id res = b->res;
    /* The completion may run inside node_store: nothing below may use b. */
    int rc = node_store(r->node, &res, NODE_KIND_SIP_REGISTRATION, &v, r->cfg.cookie, on_store, op);
    if (rc != NODE_OK) { /* nothing was sent and on_store will not run: b is intact */
        g_ptr_array_remove_fast(r->ops, op);
        store_op_free(op);
        r->stats.store_failures++;
        if (exists)
            b->refresh_at = now + RETRY_STORE;
    }
    g_byte_array_free(value, TRUE);
    return rc;
}

int sip_registrar_status_of(int node_status, const char **reason)
{
    switch (node_status) {
    case NODE_E_STATE:
        *reason = "Overlay Not Joined";
        return 503;
    case NODE_E_TIMEOUT:
        *reason = "Overlay Timeout";
        return 504;
    default:
        *reason = "Overlay Refused";
        return 500;
    }
}

static void on_store(void *ud, int status)
{
    struct store_op *op = ud;
    struct sip_registrar *r = op->reg;
    if (!r) {
        store_op_free(op);
        return;
    }
    g_ptr_array_remove_fast(r->ops, op);
    struct binding *b = g_hash_table_lookup(r->bindings, op->aor);
    if (status != NODE_OK) {
        r->stats.store_failures++;
        if (b && !op->removal) {
            b->refresh_at = env_now(&r->env) + RETRY_STORE;
            binding_arm(b);
        }
    }
    struct txn *t = op->txn_key ? g_hash_table_lookup(r->txns, op->txn_key) : NULL;
    if (t) {
        const char *reason = NULL;
        if (status == NODE_OK)
            sip_registrar_respond(t, 200, NULL, b, NULL, NULL);
        else {
            int code = sip_registrar_status_of(status, &reason);
            sip_registrar_respond(t, code, reason, NULL, NULL, NULL);
        }
    }
    store_op_free(op);
}

static void binding_drop(struct binding *b)
{
    g_hash_table_remove(b->reg->bindings, b->aor);
}

/* b's last contact expired: b is kept, without contacts, while the overlay still holds its
 * route (at most expired_grace), so that requests for it get 480; then dropped.  Returns b,
 * or NULL when it was dropped at once. */
static struct binding *binding_lapse(struct binding *b, env_time now)
{
    struct sip_registrar *r = b->reg;
    r->stats.bindings_expired++;
    env_time until = MIN(now + (env_time)r->cfg.expired_grace * ENV_S, b->stored_until);
    if (until <= now) {
        binding_drop(b);
        return NULL;
    }
    b->lapsed_until = until;
    b->refresh_at = NEVER;
    binding_arm(b);
    return b;
}

/* Removes expired contacts; true when some were removed. */
static bool binding_expire(struct binding *b, env_time now)
{
    bool changed = false;
    for (guint i = b->contacts->len; i-- > 0;) {
        if (((struct contact *)b->contacts->pdata[i])->expires <= now) {
            g_ptr_array_remove_index(b->contacts, i);
            changed = true;
        }
    }
    return changed;
}

static void binding_timer(void *arg)
{
    struct binding *b = arg;
    struct sip_registrar *r = b->reg;
    b->timer = 0;
    env_time now = env_now(&r->env);
    bool changed = binding_expire(b, now);
    if (b->contacts->len == 0) {
        /* The stored value's lifetime ends with the last contact and its grace: nothing to
         * remove. */
        if (b->lapsed_until)
            binding_drop(b); /* the lapse is over */
        else
            binding_lapse(b, now);
        return;
    }
    bool refresh = now >= b->refresh_at;
    if (changed && !refresh) {
        GByteArray *v = binding_value(b);
        refresh =
            !b->stored || v->len != b->stored->len || memcmp(v->data, b->stored->data, v->len) != 0;
        g_byte_array_free(v, TRUE);
    }
    if (refresh) {
        r->stats.refreshes++;
        b->refresh_at = NEVER;
        binding_store(b, NULL, true);
    }
    binding_arm(b);
}

/* ---- REGISTER (RFC 3261 §10.3) ---------------------------------------------------------- */

struct reg_contact {
    char *uri;
    uint32_t expires;
    bool forward;
};

static void reg_contacts_free(GArray *a)
{
    for (guint i = 0; i < a->len; i++)
        g_free(g_array_index(a, struct reg_contact, i).uri);
    g_array_free(a, TRUE);
}

static struct contact *find_contact(const struct binding *b, const char *uri, guint *index)
{
    for (guint i = 0; b && i < b->contacts->len; i++) {
        struct contact *c = b->contacts->pdata[i];
        if (strcmp(c->uri, uri) == 0) {
            if (index)
                *index = i;
            return c;
        }
    }
    return NULL;
}

/* Reads the request's Contacts into out (uri, expires); returns 0, or the error status with
 * *reason and, for 423, the Min-Expires value. */
static int read_contacts(struct sip_registrar *r, osip_message_t *m, GArray *out, bool *wildcard,
                         const char **reason)
{
    uint32_t header_expires = r->cfg.default_expires;
    const char *hv = sip_registrar_header(m, "expires");
    bool has_header = false;
    if (hv) {
        /* A malformed value counts as the default (§20.19: as 3600). */
        uint32_t e;
        if (sip_registrar_seconds(hv, &e)) {
            header_expires = e;
            has_header = true;
        }
    }
    *wildcard = false;
    int n = osip_list_size(&m->contacts);
    for (int i = 0; i < n; i++) {
        osip_contact_t *c = osip_list_get(&m->contacts, i);
        if (!c->url) {
            if (c->displayname && strcmp(c->displayname, "*") == 0) {
                *wildcard = true;
                continue;
            }
            *reason = "Bad Contact";
            return 400;
        }
        osip_generic_param_t *p = NULL;
        uint32_t e = header_expires;
        if (osip_contact_param_get_byname(c, (char *)"expires", &p) >= 0 && p) {
            uint32_t pe;
            if (sip_registrar_seconds(p->gvalue, &pe))
                e = pe;
        }
        struct reg_contact rc = {0};
        if (osip_uri_to_str(c->url, &rc.uri) != 0 || !rc.uri) {
            *reason = "Bad Contact";
            return 400;
        }
        char *s = rc.uri;
        rc.uri = g_strdup(s);
        osip_free(s);
        if (e && e < r->cfg.min_expires) {
            g_free(rc.uri);
            *reason = NULL;
            return 423;
        }
        rc.expires = MIN(e, r->cfg.max_expires);
        rc.forward = r->domain && c->url->host && g_ascii_strcasecmp(c->url->host, r->domain) == 0;
        g_array_append_val(out, rc);
    }
    /* "Contact: *" must stand alone, with Expires: 0 (§10.3 step 6). */
    if (*wildcard && (n != 1 || !has_header || header_expires != 0)) {
        *reason = "Bad Wildcard Contact";
        return 400;
    }
    return 0;
}

static void handle_register(struct sip_registrar *r, struct txn *t)
{
    osip_message_t *m = t->req;
    char *aor = sip_registrar_aor_of(m->to ? m->to->url : NULL);
    if (!aor) {
        sip_registrar_respond(t, 404, "Not A SIP Address Of Record", NULL, NULL, NULL);
        return;
    }
    GArray *cs = g_array_new(FALSE, TRUE, sizeof(struct reg_contact));
    bool wildcard = false;
    const char *reason = NULL;
    int err = read_contacts(r, m, cs, &wildcard, &reason);
    uint32_t cseq = 0;
    sip_registrar_seconds(m->cseq->number, &cseq);
    const char *call_id = m->call_id->number ? m->call_id->number : "";
    struct binding *b = binding_get(r, aor, false);
    env_time now = env_now(&r->env);
    if (b && binding_expire(b, now) && b->contacts->len == 0)
        b = binding_lapse(b, now); /* its timer was due at this very time */
    if (!err) {
        /* A binding of the same Call-ID may only change with a higher CSeq; otherwise
         * nothing is changed (§10.3 step 7).  Wildcard removal checks every binding. */
        unsigned added = 0;
        for (guint i = 0; b && i < b->contacts->len && !err; i++) {
            const struct contact *c = b->contacts->pdata[i];
            bool named = wildcard;
            for (guint j = 0; j < cs->len && !named; j++)
                named = strcmp(g_array_index(cs, struct reg_contact, j).uri, c->uri) == 0;
            if (named && strcmp(c->call_id, call_id) == 0 && cseq <= c->cseq) {
                err = 500;
                reason = "Out Of Order CSeq";
            }
        }
        for (guint j = 0; j < cs->len; j++) {
            const struct reg_contact *rc = &g_array_index(cs, struct reg_contact, j);
            added += rc->expires && !find_contact(b, rc->uri, NULL);
        }
        if (!err && (b ? b->contacts->len : 0) + added > r->cfg.max_contacts) {
            err = 403;
            reason = "Too Many Contacts";
        }
    }
    if (err) {
        char *min = err == 423 ? g_strdup_printf("%u", r->cfg.min_expires) : NULL;
        sip_registrar_respond(t, err, reason, NULL, min ? "Min-Expires" : NULL, min);
        g_free(min);
        reg_contacts_free(cs);
        g_free(aor);
        return;
    }
    if (cs->len == 0 && !wildcard) {
        /* A query: the current bindings (§10.2.3). */
        sip_registrar_respond(t, 200, NULL, b, NULL, NULL);
        reg_contacts_free(cs);
        g_free(aor);
        return;
    }
    b = binding_get(r, aor, true);
    if (wildcard)
        g_ptr_array_set_size(b->contacts, 0);
    for (guint j = 0; j < cs->len; j++) {
        const struct reg_contact *rc = &g_array_index(cs, struct reg_contact, j);
        guint index = 0;
        struct contact *c = find_contact(b, rc->uri, &index);
        if (!rc->expires) {
            if (c)
                g_ptr_array_remove_index(b->contacts, index);
            continue;
        }
        if (!c) {
            c = g_new0(struct contact, 1);
            c->uri = g_strdup(rc->uri);
            g_ptr_array_add(b->contacts, c);
        }
        g_free(c->call_id);
        c->call_id = g_strdup(call_id);
        c->cseq = cseq;
        c->expires = now + (env_time)rc->expires * ENV_S;
        c->order = ++r->order;
        c->flow = t->peer;
        c->forward = rc->forward;
    }
    reg_contacts_free(cs);
    g_free(aor);
    int rc;
    if (b->contacts->len) {
        b->lapsed_until = 0;
        rc = binding_store(b, t, true);
        binding_arm(b); /* b survives a Store, failed or not: only a removal drops it */
    } else if (b->stored_until > now) {
        /* The answer then lists no contacts, whenever the Store completes. */
        rc = binding_store(b, t, false);
        binding_drop(b);
    } else {
        binding_drop(b);
        sip_registrar_respond(t, 200, NULL, NULL, NULL, NULL);
        return;
    }
    if (rc != NODE_OK) {
        const char *why = NULL;
        int code = sip_registrar_status_of(rc, &why);
        sip_registrar_respond(t, code, why, NULL, NULL, NULL);
    }
}

/* ---- entry -------------------------------------------------------------------------------- */

/* Whether m has what a response copies (§8.2.6.2): Via, From, To, Call-ID, CSeq. */
static bool answerable(const osip_message_t *m)
{
    return m->sip_method && osip_list_size(&m->vias) > 0 && m->from && m->to && m->call_id &&
           m->call_id->number && m->cseq && m->cseq->number && m->cseq->method;
}

void sip_registrar_receive(struct sip_registrar *r, const struct env_addr *from, const uint8_t *buf,
                           size_t len)
{
    sip_registrar_take(r, from, buf, len, false);
}

void sip_registrar_take(struct sip_registrar *r, const struct env_addr *from, const uint8_t *buf,
                        size_t len, bool tunnelled)
{
    r->stats.received++;
    osip_message_t *m = NULL;
    if (len == 0 || len > MAX_DATAGRAM || osip_message_init(&m) != 0) {
        r->stats.dropped_malformed++;
        return;
    }
    if (osip_message_parse(m, (const char *)buf, len) != 0) {
        osip_message_free(m);
        r->stats.dropped_malformed++;
        env_logf(&r->env, ENV_LOG_DEBUG, "sip: unparsable datagram of %zu bytes dropped", len);
        return;
    }
    if (MSG_IS_RESPONSE(m)) {
        if (!tunnelled)
            sip_proxy_heard(r, from);
        sip_proxy_response(r, m);
        return;
    }
    if (!answerable(m)) {
        osip_message_free(m);
        r->stats.dropped_malformed++;
        env_logf(&r->env, ENV_LOG_DEBUG, "sip: request without Via/From/To/Call-ID/CSeq dropped");
        return;
    }
    char *key = txn_key(m);
    struct txn *t = g_hash_table_lookup(r->txns, key);
    bool ack = strcmp(m->sip_method, "ACK") == 0;
    if (ack && (!t || (t->final_code >= 200 && t->final_code < 300))) {
        /* The ACK of a 2xx is a request of its own (§13.2.2.4), going end to end; a UA of
         * RFC 2543 may reuse the INVITE's branch for it. */
        g_free(key);
        sip_proxy_ack(r, m);
        return;
    }
    if (t) {
        g_free(key);
        osip_message_free(m);
        if (ack) {
            /* The ACK of a non-2xx final response (§17.2.1): Timer I, then the end. */
            if (t->invite && t->state == TXN_COMPLETED) {
                t->state = TXN_CONFIRMED;
                txn_arm(t, r->cfg.t4);
            }
            return;
        }
        r->stats.retransmissions++;
        if (t->resp)
            txn_send(t);
        return;
    }
    t = g_new0(struct txn, 1);
    t->reg = r;
    t->key = key;
    t->req = m;
    t->peer = *from;
    t->invite = strcmp(m->sip_method, "INVITE") == 0;
    t->state = TXN_TRYING;
    g_snprintf(t->tag, sizeof t->tag, "%016" G_GINT64_MODIFIER "x", env_random(&r->env));
    g_hash_table_insert(r->txns, t->key, t);
    if (g_ascii_strcasecmp(m->cseq->method, m->sip_method) != 0) {
        sip_registrar_respond(t, 400, "CSeq Method Mismatch", NULL, NULL, NULL);
        return;
    }
    uint32_t cseq;
    if (!sip_registrar_seconds(m->cseq->number, &cseq)) {
        sip_registrar_respond(t, 400, "Bad CSeq", NULL, NULL, NULL);
        return;
    }
    if (overloaded(r, m)) {
        r->stats.rejected_overload++;
        if (!r->overload_logged)
            env_logf(&r->env, ENV_LOG_WARN,
                     "sip: overloaded (%zu overlay requests pending, limit %u): new requests "
                     "get 503 until it drains",
                     node_pending_requests(r->node), r->cfg.max_pending);
        r->overload_logged = true;
        char retry[16];
        g_snprintf(retry, sizeof retry, "%u", r->cfg.retry_after);
        sip_registrar_respond(t, 503, "Service Unavailable", NULL, "Retry-After", retry);
        return;
    }
    r->overload_logged = false;
    if (strcmp(m->sip_method, "REGISTER") == 0)
        handle_register(r, t);
    else if (strcmp(m->sip_method, "CANCEL") == 0)
        sip_proxy_cancel(r, t);
    else
        sip_proxy_request(r, t);
}

void sip_registrar_restore(struct sip_registrar *r)
{
    GList *keys = g_list_sort(g_hash_table_get_keys(r->bindings), (GCompareFunc)strcmp);
    for (GList *k = keys; k; k = k->next) {
        struct binding *b = g_hash_table_lookup(r->bindings, k->data);
        if (b && b->contacts->len > 0)
            binding_store(b, NULL, true);
    }
    g_list_free(keys);
}

size_t sip_registrar_contacts(const struct sip_registrar *r, const char *aor,
                              struct sip_registrar_contact *out, size_t max)
{
    const struct binding *b = g_hash_table_lookup(r->bindings, aor);
    if (!b)
        return 0;
    env_time now = env_now(&r->env);
    size_t n = 0;
    for (guint i = 0; i < b->contacts->len; i++) {
        const struct contact *c = b->contacts->pdata[i];
        if (c->expires <= now)
            continue;
        if (n < max)
            out[n] = (struct sip_registrar_contact){c->uri, c->expires};
        n++;
    }
    return n;
}
