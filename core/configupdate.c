/* configupdate.c — configuration sequence numbers and the ConfigUpdate method: RFC 6940
 * §6.3.2.1 (every message carries the sequence of the configuration document its sender
 * follows; sequences compare modulo 65535 like TCP's) and §6.5.4 (a node that notices another
 * node's older document pushes its own with a ConfigUpdateReq of type config; the receiver
 * adopts a document with a greater sequence and answers with an empty ConfigUpdateAns).
 *
 * The document is XML (§11.1), which the core does not parse: the host gives the node its
 * document's bytes and a parser (node_config.config_doc, config_parse; config/config.h is the
 * one p2psip uses).  What a running node adopts from a newer document is what it can change
 * without leaving: the sequence, the kinds (data models and limits) and the bootstrap nodes.
 * The configuration a node was created with is shared and never written (node.h): adopting a
 * document gives the node its own copy of it first (copy-on-write).
 * Other parameters (topology, intervals) take effect when the peer next starts.
 *
 * Deviations, chosen so that a mixed overlay keeps working while a new document spreads:
 *   - a request whose configuration_sequence differs from ours is served anyway (§6.3.2.1
 *     asks for Error_Config_Too_Old or Error_Config_Too_New); the node that holds the newer
 *     document pushes it to the origin, at most once per origin per request lifetime;
 *   - the core checks no signature itself: the host's parser refuses a document whose
 *     signature is missing, wrong or not by a signer the configuration in force lists
 *     (§11.1; net/security.c for peers with credentials, docs/config.md), and a node without
 *     such a parser adopts any newer document for its overlay;
 *   - ConfigUpdates of type kind (§6.5.4.2: signed kind-blocks) are refused with
 *     Error_Forbidden.
 */
#include <string.h>

#include "node_int.h"

/* Origins a document was pushed to recently (a small ring: pushes are rare). */
#define CONFIGUPDATE_RECENT 8
/* Destination lists longer than this are not worth a push (a route is a few hops). */
#define CONFIGUPDATE_MAX_PATH 32

struct configupdate {
    /* Copy-on-write: a node borrows the configuration it was created with, shared with other
     * nodes (node.h).  The first document it adopts gives it its own copy, n->cfg then. */
    struct node_config *own;
    struct node_kind *kinds; /* an adopted document's kinds (own->kinds points here) */
    uint8_t *doc;            /* an adopted document's bytes (own->config_doc points here) */
    struct {
        struct id id;
        env_time at;
    } pushed[CONFIGUPDATE_RECENT];
    unsigned n_pushed, next;
};

static struct configupdate *state(struct node *n)
{
    if (!n->cfgup)
        n->cfgup = g_new0(struct configupdate, 1);
    return n->cfgup;
}

void configupdate_free(struct node *n)
{
    if (!n->cfgup)
        return;
    g_free(n->cfgup->kinds);
    g_free(n->cfgup->doc);
    g_free(n->cfgup->own);
    g_free(n->cfgup);
    n->cfgup = NULL;
}

/* §6.3.2.1: sequences increase modulo 65535 and compare as TCP's do; 65535 is special. */
static bool seq_newer(uint16_t a, uint16_t b)
{
    if (a == 65535 || b == 65535)
        return false;
    unsigned d = ((unsigned)a + 65535u - b) % 65535u;
    return d != 0 && d < 32768u;
}

/* Whether a push to origin went out within the request lifetime (and records one if not). */
static bool pushed_recently(struct node *n, const struct id *origin)
{
    struct configupdate *u = state(n);
    env_time now = env_now(&n->env);
    for (unsigned i = 0; i < u->n_pushed; i++)
        if (id_eq(&u->pushed[i].id, origin) && now - u->pushed[i].at < n->cfg->request_lifetime)
            return true;
    u->pushed[u->next].id = *origin;
    u->pushed[u->next].at = now;
    u->next = (u->next + 1) % CONFIGUPDATE_RECENT;
    if (u->n_pushed < CONFIGUPDATE_RECENT)
        u->n_pushed++;
    return false;
}

static void push_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    env_logf(&n->env, ENV_LOG_DEBUG, "ConfigUpdate (sequence %u) %s", n->cfg->config_seq,
             status == NODE_OK ? "accepted" : "not accepted");
}

void configupdate_seen(struct node *n, const struct wire_message *m)
{
    if (!n->cfg->config_doc || n->cfg->client || m->code == WIRE_CONFIG_UPDATE_REQ ||
        !seq_newer(n->cfg->config_seq, m->h.config_seq) || m->h.n_via == 0 ||
        m->h.n_via > CONFIGUPDATE_MAX_PATH)
        return;
    /* The reversed via list leads back to the origin (of a request) or the responder (of a
     * response), as a response's destination list does (§6.2.2). */
    struct node_dest path[CONFIGUPDATE_MAX_PATH];
    for (uint16_t i = 0; i < m->h.n_via; i++) {
        const struct wire_dest *v = &m->h.via[m->h.n_via - 1 - i];
        if (v->type != WIRE_DEST_NODE || wire_dest_id(v, &path[i].id) < 0)
            return;
        path[i].type = WIRE_DEST_NODE;
    }
    if (pushed_recently(n, &path[m->h.n_via - 1].id))
        return;
    struct wire_config_update_req req = {
        .type = WIRE_CONFIG_UPDATE_CONFIG,
        .data = {n->cfg->config_doc, (uint32_t)n->cfg->config_doc_len},
    };
    GByteArray *b = g_byte_array_new();
    wire_encode_config_update_req(b, &req);
    env_logf(&n->env, ENV_LOG_DEBUG, "a message with configuration sequence %u: pushing ours (%u)",
             m->h.config_seq, n->cfg->config_seq);
    node_request(n, path, m->h.n_via, WIRE_CONFIG_UPDATE_REQ, b, NULL, push_done, NULL);
    g_byte_array_free(b, TRUE);
}

/* Makes the node follow document doc (bytes [p, p+len), copied). */
static void adopt(struct node *n, const struct node_config_doc *doc, const uint8_t *p, size_t len)
{
    struct configupdate *u = state(n);
    if (!u->own) {
        u->own = g_memdup2(n->cfg, sizeof *n->cfg);
        n->cfg = u->own;
    }
    struct node_config *c = u->own;
    g_free(u->kinds);
    g_free(u->doc);
    u->kinds = doc->n_kinds ? g_memdup2(doc->kinds, doc->n_kinds * sizeof doc->kinds[0]) : NULL;
    u->doc = g_memdup2(p, len);
    c->kinds = u->kinds;
    c->n_kinds = doc->n_kinds;
    c->config_doc = u->doc;
    c->config_doc_len = len;
    c->config_seq = doc->sequence;
    if (doc->n_bootstraps) {
        c->n_bootstraps = MIN(doc->n_bootstraps, NODE_MAX_BOOTSTRAPS);
        memcpy(c->bootstraps, doc->bootstraps, c->n_bootstraps * sizeof c->bootstraps[0]);
    }
    n->stats.config_updates++;
    env_logf(&n->env, ENV_LOG_INFO,
             "adopted configuration sequence %u through ConfigUpdate (%u kinds, %u bootstrap "
             "nodes)",
             doc->sequence, doc->n_kinds, doc->n_bootstraps);
}

void configupdate_on_request(struct node *n, const struct wire_message *m)
{
    struct wire_config_update_req req;
    if (wire_decode_config_update_req(m->body.p, m->body.len, &req) < 0) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad ConfigUpdateReq");
        return;
    }
    if (req.type != WIRE_CONFIG_UPDATE_CONFIG) {
        node_respond_error(n, m, WIRE_ERR_FORBIDDEN, "only configuration documents are taken");
        return;
    }
    if (!n->cfg->config_parse) {
        node_respond_error(n, m, WIRE_ERR_FORBIDDEN, "this node reads no configuration");
        return;
    }
    /* About 1 KiB: on the heap, as the handler runs deep in a receive path. */
    struct node_config_doc *doc = g_new0(struct node_config_doc, 1);
    if (n->cfg->config_parse(n->cfg->config_parse_ud, req.data.p, req.data.len, n->cfg->overlay,
                             doc) < 0)
        node_respond_error(n, m, WIRE_ERR_INCOMPATIBLE_WITH_OVERLAY,
                           "no valid configuration for this overlay");
    else if (doc->overlay != n->cfg->overlay)
        node_respond_error(n, m, WIRE_ERR_INCOMPATIBLE_WITH_OVERLAY, "another overlay");
    else if (!seq_newer(doc->sequence, n->cfg->config_seq))
        node_respond_error(n, m, WIRE_ERR_CONFIG_TOO_OLD, "not newer than ours");
    else {
        adopt(n, doc, req.data.p, req.data.len);
        node_respond(n, m, WIRE_CONFIG_UPDATE_ANS, NULL);
    }
    g_free(doc);
}
