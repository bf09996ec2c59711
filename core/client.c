/* client.c — a RELOAD client's attachment to its peers (RFC 6940 §4.2; docs/clients.md).
 *
 * A client (node_config.client) neither routes nor stores: it connects to a peer and sends
 * everything through it.  Of §4.2.1's two ways this is the second, "a connection with an
 * arbitrary peer in the overlay": the client is reachable only by a destination list that
 * names that peer first and the client last ([peer, client]), which a usage must store for
 * others to learn (sip/registrar.c does, for the phones a client serves).
 *
 * The client is given one or more peers' addresses (node_client_connect_list) and uses the
 * first.  Its connection to the current peer starts as a Connection Table entry known by
 * address only (the wildcard Node-ID) so that the link layer (§6.6.3) watches it from the
 * first frame; the first data frame from that address names the peer (its via entry) and
 * the entry takes its Node-ID.  §4.2.1 suggests a Ping to probe the Node-ID of the peer a
 * client is connected to: with node_config.client_keepalive the client sends one at once
 * and then every keepalive period, to the wildcard Node-ID, which the peer answers itself
 * (§6.1.1) — this also keeps the peer's connection to the client from going idle, so that
 * requests routed to [peer, client] find it.
 *
 * Failover: when the link to the current peer fails (frames unacknowledged for link_rto x
 * link_fail_after), the client moves to the next peer of its list (wrapping), counts it in
 * node_stats.client_failovers and probes the new peer at once when keepalives are on.
 * Requests in flight are not lost: their end-to-end retransmissions (§6.2.1) go through
 * whichever peer is current.  The host hears of it through ENV_EV_LINK_FAILED and may give a
 * fresh list (the simulator does, from the live peers).
 */
#include <string.h>

#include "node_int.h"

struct client {
    struct env_addr peers[NODE_MAX_CLIENT_PEERS];
    unsigned n_peers, cur;
    struct id peer_id; /* the current peer's Node-ID, once a frame from it named it */
    bool have_peer_id;
    env_timer keepalive;
};

static void client_keepalive_fire(void *arg);

static void client_ping_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    (void)arg;
    struct client *c = n->client;
    struct id who;
    if (!c || status != NODE_OK || !resp || resp->h.n_via == 0 ||
        wire_dest_id(&resp->h.via[0], &who) < 0)
        return;
    /* The answer came through the current peer; the first via entry is who answered. */
    if (!c->have_peer_id) {
        c->peer_id = who;
        c->have_peer_id = true;
    }
}

static void client_probe(struct node *n)
{
    struct node_dest d = {WIRE_DEST_NODE, id_wildcard()};
    GByteArray *b = g_byte_array_new();
    struct wire_ping_req req;
    memset(&req, 0, sizeof req);
    wire_encode_ping_req(b, &req);
    node_request(n, &d, 1, WIRE_PING_REQ, b, NULL, client_ping_done, NULL);
    g_byte_array_free(b, TRUE);
}

static void client_arm(struct node *n)
{
    struct client *c = n->client;
    env_timer_stop(&n->env, c->keepalive);
    c->keepalive = 0;
    if (n->cfg->client_keepalive)
        c->keepalive = env_timer_start(&n->env, n->cfg->client_keepalive, client_keepalive_fire, n);
}

static void client_keepalive_fire(void *arg)
{
    struct node *n = arg;
    n->client->keepalive = 0;
    client_probe(n);
    client_arm(n);
}

/* Makes peers[cur] the current peer: a fresh connection entry known by address only. */
static void client_use(struct node *n)
{
    struct client *c = n->client;
    struct id wild = id_wildcard();
    node_conn_remove(n, &wild);
    c->have_peer_id = false;
    n->client_peer = c->peers[c->cur];
    n->have_client_peer = true;
    node_conn_add(n, &wild, &n->client_peer);
    if (n->cfg->client_keepalive) {
        client_probe(n);
        client_arm(n);
    }
}

int node_client_connect_list(struct node *n, const struct env_addr *peers, size_t count)
{
    if (!n->cfg->client)
        return NODE_E_STATE;
    if (count == 0 || count > NODE_MAX_CLIENT_PEERS)
        return NODE_E_INVALID;
    if (!n->client)
        n->client = g_new0(struct client, 1);
    struct client *c = n->client;
    /* The peer in use so far leaves the Connection Table (its Node-ID, once known, too). */
    if (c->have_peer_id)
        node_conn_remove(n, &c->peer_id);
    memcpy(c->peers, peers, count * sizeof peers[0]);
    c->n_peers = (unsigned)count;
    c->cur = 0;
    n->started = env_now(&n->env);
    client_use(n);
    return NODE_OK;
}

int node_client_connect(struct node *n, const struct env_addr *peer)
{
    return node_client_connect_list(n, peer, 1);
}

bool node_client_peer(const struct node *n, struct node_peer *out)
{
    const struct client *c = n->client;
    if (!c || !c->n_peers)
        return false;
    out->addr = c->peers[c->cur];
    out->id = c->have_peer_id ? c->peer_id : id_wildcard();
    return c->have_peer_id;
}

void client_heard(struct node *n, struct conn *conn, const struct id *prev)
{
    struct client *c = n->client;
    if (!c || !conn || !id_is_wildcard(&conn->id) || !env_addr_eq(&conn->addr, &n->client_peer))
        return;
    conn->id = *prev;
    c->peer_id = *prev;
    c->have_peer_id = true;
}

void client_link_failed(struct node *n, const struct id *peer)
{
    struct client *c = n->client;
    if (!c || !c->n_peers)
        return;
    bool current = id_is_wildcard(peer) || (c->have_peer_id && id_eq(peer, &c->peer_id));
    if (!current)
        return;
    n->stats.client_failovers++;
    c->cur = (c->cur + 1) % c->n_peers;
    char a[24];
    g_snprintf(a, sizeof a, "%u.%u.%u.%u:%u", c->peers[c->cur].ip >> 24,
               (c->peers[c->cur].ip >> 16) & 255, (c->peers[c->cur].ip >> 8) & 255,
               c->peers[c->cur].ip & 255, c->peers[c->cur].port);
    env_logf(&n->env, ENV_LOG_INFO, "client: the link to the peer failed; now through %s", a);
    client_use(n);
}

void client_free(struct node *n)
{
    if (!n->client)
        return;
    env_timer_stop(&n->env, n->client->keepalive);
    g_free(n->client);
    n->client = NULL;
}
