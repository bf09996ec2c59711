/* bootstrap.c — how a joining peer finds the overlay (net/bootstrap.h; seed draft §5.4,
 * RFC 6940 §11.4): the probe of remembered, discovered, configured and server candidates,
 * the remembered-peer cache, and the multicast announcer (docs/bootstrap.md).
 *
 * The probe is an ordinary RELOAD Ping request (§6.5.3) in a FramedMessage (§6.6.2): via list
 * [the joining node's Node-ID], destination list [the wildcard Node-ID] (§6.1.1: the first
 * peer that receives it answers it itself).  The answering peer records the probe socket as
 * the joining node's address; the join that follows, from the node's own socket, replaces
 * that record (core/node.c, conn_add).  The probe ACKs the answer's frame so that the peer's
 * link layer does not count a silent link (§6.6.3).
 */
#include "bootstrap.h"

#include <stdio.h>
#include <string.h>

#include "../core/wire.h"

const char *net_bootstrap_method_name(enum net_bootstrap_method m)
{
    switch (m) {
    case NET_BOOTSTRAP_REMEMBERED:
        return "remembered";
    case NET_BOOTSTRAP_MULTICAST:
        return "multicast";
    case NET_BOOTSTRAP_CONFIGURED:
        return "configured";
    case NET_BOOTSTRAP_SERVER:
        return "server";
    }
    return "?";
}

/* ---- the probe --------------------------------------------------------------------------- */

struct net_bootstrap {
    struct net_udp *u;
    struct net_bootstrap_config cfg; /* cfg.candidates points at cand */
    struct net_bootstrap_candidate cand[NET_BOOTSTRAP_MAX_CANDIDATES];
    struct net_udp_app *sock;
    guint timer;
    uint64_t txid; /* the current round's Pings */
    unsigned round;
    bool have_best;
    unsigned best_rank;
    struct env_addr best;
    net_bootstrap_done_fn done;
    void *ud;
};

/* Smaller is preferred: the method first, then the candidate's place in the list. */
static unsigned bootstrap_rank(enum net_bootstrap_method m, unsigned index)
{
    return (unsigned)m * NET_BOOTSTRAP_MAX_CANDIDATES + index;
}

/* The best rank any answer of this search can have. */
static unsigned bootstrap_best_possible(const struct net_bootstrap *b)
{
    unsigned r = b->cfg.discover ? bootstrap_rank(NET_BOOTSTRAP_MULTICAST, 0) : G_MAXUINT;
    for (unsigned i = 0; i < b->cfg.n_candidates; i++)
        r = MIN(r, bootstrap_rank(b->cand[i].method, i));
    return r;
}

static void bootstrap_finish(struct net_bootstrap *b)
{
    if (b->timer)
        g_source_remove(b->timer);
    b->timer = 0;
    enum net_bootstrap_method m =
        b->have_best ? (enum net_bootstrap_method)(b->best_rank / NET_BOOTSTRAP_MAX_CANDIDATES)
                     : NET_BOOTSTRAP_CONFIGURED;
    b->done(b->ud, b->have_best ? &b->best : NULL, m);
}

/* Finishing from a receive callback or a timer: done may free b, so nothing touches b after. */
static gboolean bootstrap_finish_idle(gpointer p)
{
    struct net_bootstrap *b = p;
    b->timer = 0;
    bootstrap_finish(b);
    return G_SOURCE_REMOVE;
}

static void bootstrap_on_datagram(void *ud, const struct env_addr *from, const uint8_t *buf,
                                  size_t len)
{
    struct net_bootstrap *b = ud;
    struct wire_frame f;
    if (wire_decode_frame(buf, len, &f) < 0 || f.type != WIRE_FRAME_DATA)
        return;
    GByteArray *ack = g_byte_array_new();
    wire_frame_ack(ack, f.sequence, 0);
    net_udp_app_send(b->sock, from, ack->data, ack->len);
    g_byte_array_free(ack, TRUE);
    struct wire_message *m = g_new(struct wire_message, 1); /* about 4 KiB */
    bool ok = wire_decode_message(f.message.p, f.message.len, m) == 0 && m->code == WIRE_PING_ANS &&
              m->h.txid == b->txid && m->h.overlay == b->cfg.overlay;
    g_free(m);
    if (!ok || (b->have_best && b->best_rank == bootstrap_best_possible(b)))
        return;
    unsigned rank = G_MAXUINT;
    for (unsigned i = 0; i < b->cfg.n_candidates; i++)
        if (env_addr_eq(&b->cand[i].addr, from)) {
            rank = bootstrap_rank(b->cand[i].method, i);
            break;
        }
    if (rank == G_MAXUINT && b->cfg.discover)
        rank = bootstrap_rank(NET_BOOTSTRAP_MULTICAST, 0); /* first answer wins */
    if (rank == G_MAXUINT || (b->have_best && rank >= b->best_rank))
        return;
    b->have_best = true;
    b->best_rank = rank;
    b->best = *from;
    if (rank == bootstrap_best_possible(b)) {
        /* Nothing can beat it: finish now rather than at the end of the window. */
        if (b->timer)
            g_source_remove(b->timer);
        b->timer = g_idle_add(bootstrap_finish_idle, b);
    }
}

static void bootstrap_send_ping(struct net_bootstrap *b, const struct env_addr *to)
{
    struct wire_header *h = g_new0(struct wire_header, 1);
    h->overlay = b->cfg.overlay;
    h->config_seq = b->cfg.config_seq;
    h->version = WIRE_VERSION;
    h->ttl = b->cfg.ttl;
    h->fragment = WIRE_FRAGMENT_LAST;
    h->txid = b->txid;
    uint8_t self[ID_BYTES], wildcard[ID_BYTES];
    struct id w = id_wildcard();
    id_to_bytes(&b->cfg.self, self);
    id_to_bytes(&w, wildcard);
    wire_dest_node(&h->via[0], self);
    wire_dest_node(&h->dest[0], wildcard);
    h->n_via = 1;
    h->n_dest = 1;
    GByteArray *body = g_byte_array_new();
    struct wire_ping_req ping = {{NULL, 0}};
    wire_encode_ping_req(body, &ping);
    GByteArray *msg = g_byte_array_new();
    struct wire_bytes bb = {body->data, body->len};
    if (b->cfg.node_cfg)
        node_encode_message(b->cfg.node_cfg, &b->cfg.self, h, WIRE_PING_REQ, &bb, msg);
    else
        wire_encode_message(msg, h, WIRE_PING_REQ, &bb, NULL, NULL);
    GByteArray *frame = g_byte_array_new();
    wire_frame_data(frame, b->round, msg->data, msg->len);
    net_udp_app_send(b->sock, to, frame->data, frame->len);
    g_byte_array_free(frame, TRUE);
    g_byte_array_free(msg, TRUE);
    g_byte_array_free(body, TRUE);
    g_free(h);
}

static gboolean bootstrap_round(gpointer p);

static gboolean bootstrap_round_end(gpointer p)
{
    struct net_bootstrap *b = p;
    b->timer = 0;
    if (b->have_best || b->cfg.give_up) {
        bootstrap_finish(b);
        return G_SOURCE_REMOVE;
    }
    net_udp_logf(b->u, ENV_LOG_INFO, "bootstrap: no candidate answered (round %u); retrying",
                 b->round);
    b->timer = g_timeout_add((guint)(NET_BOOTSTRAP_RETRY / ENV_MS), bootstrap_round, b);
    return G_SOURCE_REMOVE;
}

static gboolean bootstrap_round(gpointer p)
{
    struct net_bootstrap *b = p;
    b->round++;
    b->txid = env_random(net_udp_env(b->u));
    for (unsigned i = 0; i < b->cfg.n_candidates; i++)
        bootstrap_send_ping(b, &b->cand[i].addr);
    if (b->cfg.discover)
        bootstrap_send_ping(b, &b->cfg.group);
    b->timer = g_timeout_add((guint)(NET_BOOTSTRAP_WINDOW / ENV_MS), bootstrap_round_end, b);
    return G_SOURCE_REMOVE;
}

struct net_bootstrap *net_bootstrap_new(struct net_udp *u, const struct net_bootstrap_config *cfg,
                                        net_bootstrap_done_fn done, void *ud, GError **err)
{
    struct net_bootstrap *b = g_new0(struct net_bootstrap, 1);
    b->u = u;
    b->cfg = *cfg;
    b->cfg.n_candidates = MIN(cfg->n_candidates, NET_BOOTSTRAP_MAX_CANDIDATES);
    memcpy(b->cand, cfg->candidates, b->cfg.n_candidates * sizeof b->cand[0]);
    b->cfg.candidates = b->cand;
    b->done = done;
    b->ud = ud;
    b->sock = net_udp_app_new(u, &cfg->local, bootstrap_on_datagram, b, err);
    if (!b->sock || (cfg->discover && net_udp_app_multicast_out(b->sock, cfg->iface, err) < 0)) {
        net_bootstrap_free(b);
        return NULL;
    }
    b->timer = g_idle_add(bootstrap_round, b);
    return b;
}

void net_bootstrap_free(struct net_bootstrap *b)
{
    if (!b)
        return;
    if (b->timer)
        g_source_remove(b->timer);
    net_udp_app_free(b->sock);
    g_free(b);
}

/* ---- the remembered-peer cache ----------------------------------------------------------- */

unsigned net_bootstrap_cache_read(const char *path, struct env_addr *out, unsigned max)
{
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return 0;
    unsigned n = 0;
    char **lines = g_strsplit(text, "\n", -1);
    for (unsigned i = 0; lines[i] && n < max; i++) {
        char *hash = strchr(lines[i], '#');
        if (hash)
            *hash = '\0';
        char *s = g_strstrip(lines[i]);
        struct env_addr a;
        if (*s && net_udp_parse_addr(s, &a, NULL) == 0 && a.ip && a.port)
            out[n++] = a;
    }
    g_strfreev(lines);
    g_free(text);
    return n;
}

int net_bootstrap_cache_write(const char *path, const struct node *n, const struct env_addr *self,
                              GError **err)
{
    struct node_peer rt[64];
    size_t nrt = node_routing_table(n, rt, G_N_ELEMENTS(rt));
    struct env_addr kept[NET_BOOTSTRAP_CACHE_MAX];
    unsigned nk = 0;
    GString *s =
        g_string_new("# p2psip remembered peers (net/bootstrap.c): one ADDR:PORT a line\n");
    for (size_t i = 0; i < nrt && nk < NET_BOOTSTRAP_CACHE_MAX; i++) {
        bool dup = env_addr_eq(&rt[i].addr, self) || rt[i].addr.port == 0;
        for (unsigned j = 0; j < nk && !dup; j++)
            dup = env_addr_eq(&kept[j], &rt[i].addr);
        if (dup)
            continue;
        kept[nk++] = rt[i].addr;
        char a[NET_UDP_ADDR_STRLEN];
        g_string_append_printf(s, "%s\n", net_udp_format_addr(&rt[i].addr, a));
    }
    int rc = (int)nk;
    if (nk && !g_file_set_contents(path, s->str, (gssize)s->len, err))
        rc = -1;
    g_string_free(s, TRUE);
    return rc;
}

/* ---- the announcer ----------------------------------------------------------------------- */

struct net_bootstrap_announcer {
    struct net_udp_app *sock;
    struct node *node;
    uint64_t answered;
};

static void announce_on_datagram(void *ud, const struct env_addr *from, const uint8_t *buf,
                                 size_t len)
{
    struct net_bootstrap_announcer *a = ud;
    /* A peer still joining cannot yet bring anyone in; its own discovery Ping, looped back to
     * it, is not answered either. */
    if (!node_is_joined(a->node))
        return;
    a->answered++;
    node_receive(a->node, from, buf, len);
}

struct net_bootstrap_announcer *net_bootstrap_announce_new(struct net_udp *u, struct node *n,
                                                           const struct env_addr *group,
                                                           uint32_t iface, GError **err)
{
    struct net_bootstrap_announcer *a = g_new0(struct net_bootstrap_announcer, 1);
    a->node = n;
    a->sock = net_udp_app_new_multicast(u, group, iface, announce_on_datagram, a, err);
    if (!a->sock) {
        g_free(a);
        return NULL;
    }
    return a;
}

void net_bootstrap_announce_free(struct net_bootstrap_announcer *a)
{
    if (!a)
        return;
    net_udp_app_free(a->sock);
    g_free(a);
}

uint64_t net_bootstrap_announce_answered(const struct net_bootstrap_announcer *a)
{
    return a ? a->answered : 0;
}
