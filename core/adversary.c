/* adversary.c — hostile behaviour of a node, a SIMULATION feature (node_config.adversary).
 *
 * The seed draft warns (draft-ietf-p2psip-concepts-00 §7) and RFC 6940 §13 assumes that the
 * peers routing a message may be hostile.  To measure what signatures (§13.4, §7.1) and
 * redundant routing (core/redundant.c) buy against them, the simulator (scenario key
 * hostile:, docs/security.md "Hostile peers") gives a fraction of its peers a configuration
 * whose adversary block enables any of the attacks Castro et al. ("Secure routing for
 * structured peer-to-peer overlay networks", OSDI 2002, §2–4) consider:
 *
 *   drop          requests this node should forward vanish;
 *   misroute      they go to a random entry of its routing table instead of the next hop;
 *   forge         a Fetch this node receives — as the storing peer, whether or not it holds
 *                 the record, or on its way elsewhere — is answered with a forged value
 *                 signed as this node (with its genuine credential when the overlay uses
 *                 signatures); a lookup (a Ping to a Resource-ID) on its way elsewhere is
 *                 answered as if this node were responsible;
 *   refuse_store  Stores delivered to it are refused with Error_Forbidden, or silently:
 *                 answered as stored and not kept.
 *
 * node.c calls in at two points only, each behind one test of adversary.active: route_out,
 * just before a request goes to the topology's next hop, and on_request, before dispatch.
 * A real peer never sets the block.
 */
#include "node_int.h"

#include <string.h>

/* The forged value's bytes: recognisable in a pcap, and never what the workload stores. */
#define ADVERSARY_FORGED "forged by a hostile peer"
#define ADVERSARY_FORGED_LIFETIME 3600u
#define ADVERSARY_MAX_TABLE 64

static uint16_t request_code(const uint8_t *msg, size_t len, size_t hdr_len)
{
    if (hdr_len + 2 > len)
        return 0;
    return (uint16_t)(msg[hdr_len] << 8 | msg[hdr_len + 1]);
}

/* Signs d (stored at resource under kind) as this node, as an honest storer would (§7.1:
 * resource_id || kind || storage_time || StoredDataValue); the Signature lands in sig_buf,
 * which d->sig then borrows.  Without a provider the value goes out unsigned. */
static void sign_value(struct node *n, const uint8_t *resource, size_t rlen, uint32_t kind,
                       struct wire_stored_data *d, GByteArray *sig_buf)
{
    const struct node_security_ops *ops = n->cfg->security.ops;
    d->sig.identity_type = WIRE_SIGNER_NONE;
    if (!ops)
        return;
    GByteArray *input = g_byte_array_new();
    wire_stored_data_input(input, resource, rlen, kind, d);
    if (ops->sign(n->cfg->security.ud, &n->self, input->data, input->len, sig_buf) < 0 ||
        wire_decode_signature(sig_buf->data, sig_buf->len, &d->sig) < 0)
        d->sig.identity_type = WIRE_SIGNER_NONE;
    g_byte_array_free(input, TRUE);
}

/* Answers a FetchReq with one forged value per specifier. */
static void forge_fetch(struct node *n, const struct wire_message *m)
{
    struct wire_fetch_req req;
    memset(&req, 0, sizeof req);
    if (wire_decode_fetch_req(m->body.p, m->body.len, &req, node_kind_model, n) < 0) {
        wire_fetch_req_clear(&req);
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad request");
        return;
    }
    uint32_t nk = req.n_specifiers;
    struct wire_fetch_ans ans = {.n_kinds = nk, .kinds = g_new0(struct wire_fetch_kind, nk + 1)};
    struct wire_stored_data *vals = g_new0(struct wire_stored_data, nk + 1);
    GByteArray **sigs = g_new0(GByteArray *, nk + 1);
    uint8_t forged[sizeof ADVERSARY_FORGED - 1 + ID_BYTES];
    memcpy(forged, ADVERSARY_FORGED, sizeof ADVERSARY_FORGED - 1);
    memcpy(forged + sizeof ADVERSARY_FORGED - 1, n->self_bytes, ID_BYTES);
    for (uint32_t i = 0; i < nk; i++) {
        const struct wire_specifier *sp = &req.specifiers[i];
        struct wire_stored_data *d = &vals[i];
        d->storage_time = env_now(&n->env) / 1000;
        d->lifetime = ADVERSARY_FORGED_LIFETIME;
        d->model = sp->model;
        d->exists = true;
        d->value.p = forged;
        d->value.len = sizeof forged;
        if (sp->model == WIRE_MODEL_DICTIONARY) { /* keyed by this node, as SIP registrations */
            d->key.p = n->self_bytes;
            d->key.len = ID_BYTES;
        }
        sigs[i] = g_byte_array_new();
        sign_value(n, req.resource.p, req.resource.len, sp->kind, d, sigs[i]);
        ans.kinds[i].kind = sp->kind;
        ans.kinds[i].generation = sp->generation + 1;
        ans.kinds[i].n_values = 1;
        ans.kinds[i].values = d;
    }
    GByteArray *b = g_byte_array_new();
    wire_encode_fetch_ans(b, &ans);
    node_respond(n, m, WIRE_FETCH_ANS, b);
    g_byte_array_free(b, TRUE);
    for (uint32_t i = 0; i < nk; i++)
        g_byte_array_free(sigs[i], TRUE);
    g_free(sigs);
    g_free(vals);
    g_free(ans.kinds);
    wire_fetch_req_clear(&req);
}

/* Answers a Ping as if this node were the responsible peer. */
static void forge_ping(struct node *n, const struct wire_message *m)
{
    GByteArray *b = g_byte_array_new();
    struct wire_ping_ans a = {.response_id = env_random(&n->env), .time = env_now(&n->env) / 1000};
    wire_encode_ping_ans(b, &a);
    node_respond(n, m, WIRE_PING_ANS, b);
    g_byte_array_free(b, TRUE);
}

/* A Store refused silently: a StoreAns naming each kind, no replicas, nothing kept. */
static void refuse_silently(struct node *n, const struct wire_message *m)
{
    struct wire_store_req req;
    memset(&req, 0, sizeof req);
    if (wire_decode_store_req(m->body.p, m->body.len, &req, node_kind_model, n) < 0) {
        wire_store_req_clear(&req);
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad request");
        return;
    }
    struct wire_store_ans ans = {.n_kinds = (uint16_t)MIN(req.n_kinds, G_MAXUINT16)};
    ans.kinds = g_new0(struct wire_store_kind_ans, ans.n_kinds + 1);
    for (uint16_t i = 0; i < ans.n_kinds; i++) {
        ans.kinds[i].kind = req.kinds[i].kind;
        ans.kinds[i].generation = req.kinds[i].generation + 1;
    }
    GByteArray *b = g_byte_array_new();
    wire_encode_store_ans(b, &ans);
    node_respond(n, m, WIRE_STORE_ANS, b);
    g_byte_array_free(b, TRUE);
    g_free(ans.kinds);
    wire_store_req_clear(&req);
}

bool adversary_on_request(struct node *n, const struct wire_message *m)
{
    const struct node_adversary *a = &n->cfg->adversary;
    if (m->code == WIRE_FETCH_REQ && a->forge) {
        forge_fetch(n, m);
        return true;
    }
    if (m->code == WIRE_STORE_REQ && a->refuse_store == NODE_REFUSE_ERROR) {
        node_respond_error(n, m, WIRE_ERR_FORBIDDEN, "store refused");
        return true;
    }
    if (m->code == WIRE_STORE_REQ && a->refuse_store == NODE_REFUSE_SILENT) {
        refuse_silently(n, m);
        return true;
    }
    return false;
}

/* A request to forward, decoded as deliver_local would (the header as routing left it). */
static bool intercept(struct node *n, const struct wire_header *h, const uint8_t *msg, size_t len,
                      size_t hdr_len, uint16_t code)
{
    struct wire_message *m = g_new(struct wire_message, 1);
    bool done = wire_decode_contents(msg, len, hdr_len, m) == 0;
    if (done) {
        memcpy(&m->h, h, offsetof(struct wire_header, via));
        memcpy(m->h.via, h->via, h->n_via * sizeof h->via[0]);
        memcpy(m->h.dest, h->dest, h->n_dest * sizeof h->dest[0]);
        m->h.options = h->options;
        if (code == WIRE_FETCH_REQ)
            forge_fetch(n, m);
        else
            forge_ping(n, m);
    }
    g_free(m);
    return done;
}

bool adversary_forward(struct node *n, const struct wire_header *h, const uint8_t *msg, size_t len,
                       size_t hdr_len, struct node_peer *next)
{
    const struct node_adversary *a = &n->cfg->adversary;
    uint16_t code = request_code(msg, len, hdr_len);
    if (code == WIRE_ERROR || (code & 1) == 0)
        return false; /* answers travel on: only requests are attacked */
    if (a->forge && (code == WIRE_FETCH_REQ || code == WIRE_PING_REQ) && h->n_dest == 1 &&
        h->dest[0].type == WIRE_DEST_RESOURCE && intercept(n, h, msg, len, hdr_len, code))
        return true;
    if (a->drop) {
        env_logf(&n->env, ENV_LOG_DEBUG, "hostile: dropped a request to forward");
        return true;
    }
    if (a->misroute && n->topo) {
        struct node_peer table[ADVERSARY_MAX_TABLE];
        size_t count = n->topo->ops->routing_table(n->topo, table, ADVERSARY_MAX_TABLE);
        if (count > 1) {
            size_t pick = (size_t)(env_random(&n->env) % count);
            if (id_eq(&table[pick].id, &next->id))
                pick = (pick + 1) % count;
            *next = table[pick];
        }
    }
    return false;
}
