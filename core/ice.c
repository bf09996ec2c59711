/* ice.c — NAT traversal for a node: server-reflexive and relayed candidates in Attach,
 * ICE-style connectivity checks, keepalives, and relaying through public peers.
 *
 * RFC 6940 §6.5.1 (Attach carries ICE candidates: host, srflx, relay, §6.5.1.1), simplified
 * from RFC 8445 (ICE) and RFC 8656 (TURN) as docs/nat.md ("Traversal") describes:
 *
 * - Server-reflexive address (the STUN Binding of RFC 8489, done by Attach): a peer answering
 *   an AttachReq that came straight from its origin puts the datagram's source address in an
 *   IceExtension "reflexive-address" (value: an IpAddressPort, §6.3.1.1) of its host
 *   candidate.  Every node Attaches to its relay when it starts and every keepalive period,
 *   which keeps the relay's connection to it open and tells it its mapped address.
 * - Candidates: host (the node's own address), srflx (the mapped address, when it differs)
 *   and relay (the relay peer's address; the relay forwards by Node-ID, so the "token" is the
 *   node's own Node-ID).  Candidates that cannot be used (IPv6, address or port 0, a relay
 *   address that is no configured relay) are dropped and counted.
 * - Checks: when the Attach exchange completes, each side sends a check (a PingReq to the
 *   other's Node-ID) to every host and srflx candidate of the other at once, every
 *   check_interval for check_rounds rounds.  One socket per node, so a candidate pair is just
 *   a remote candidate; no priorities, no nomination: the first data frame that arrives
 *   straight from the peer proves a working pair (what arrives from an address can be answered
 *   at it), and the connection uses that address.  Both sides sending at once is what opens
 *   endpoint-independent-mapping NATs with any filtering.
 * - Relay: until a check succeeds, and for good when none does, messages to the peer go to
 *   its relay with the peer's Node-ID pushed in front of the destination list; the relay
 *   forwards it over the connection the peer keeps open to it (RFC 6940 §6.1).  No TURN
 *   allocations, permissions or channels.
 * - Keepalives: every keepalive period a node behind a NAT (its reflexive address differs
 *   from its own) sends a check to each verified connection of its routing table, which
 *   refreshes its bindings (keepalive < the NAT's binding timeout).
 *
 * Relays come from the node's configuration (cfg.ice.relays): node X's relay is
 * relays[node_ice_relay_index(X)], which every node can compute, so the first Attach to X
 * can be sent through it.  A service lookup ("turn-relay", core/service.h) could fill that
 * list instead; the lookup itself needs a working overlay, hence the configured list.  A relay
 * may be configured by address only (Node-ID the wildcard, as a configuration document lists
 * bootstrap peers, §11.1): the node Attaches to the wildcard Node-ID at that address (§6.1.1)
 * and takes the Node-ID of the peer that answers from it; until then that relay is not used.
 * A relay may also be a node that never joins (the simulator's relay servers, the seed
 * draft's STUN/TURN servers, §6.1): answering Attaches and forwarding to its connected
 * clients is all the relay function needs, and neither depends on a topology.
 */
#include "node_int.h"

#include <string.h>

#define ICE_RETRY (60 * ENV_S) /* a failed or relayed peer is tried again after this */
static const char ice_ext_name[] = "reflexive-address";

enum ice_state { ICE_ATTACHING, ICE_CHECKING, ICE_CONNECTED, ICE_RELAYED, ICE_FAILED };

/* What this node knows about reaching one peer. */
struct ice_peer {
    struct ice *ice;
    struct id id;
    enum ice_state state;
    bool initiator;   /* this node sent the Attach: it counts the outcome */
    bool heard_early; /* a check arrived before the Attach answer */
    bool have_relay, have_host;
    unsigned relay;           /* index in ice->relays of the relay its Attach advertised */
    struct env_addr host;     /* the peer's host candidate */
    struct env_addr heard;    /* where it was heard from */
    struct env_addr check[2]; /* check targets: host, srflx */
    unsigned n_check, rounds;
    env_time since; /* when the state was entered */
    env_timer timer;
};

struct ice {
    struct node *node;
    GHashTable *peers; /* struct id * -> struct ice_peer * */
    bool started, have_srflx;
    struct env_addr srflx;
    const struct env_addr *rx_from;
    struct node_peer *relays; /* cfg.ice.relays, with the Node-IDs learnt so far */
    unsigned n_relays;
    env_timer keepalive;
    struct node_ice_stats stats;
};

static guint ice_id_hash(gconstpointer k)
{
    const struct id *id = k;
    return (guint)(id->lo ^ (id->lo >> 32));
}

static gboolean ice_id_equal(gconstpointer a, gconstpointer b)
{
    return id_eq(a, b);
}

static void ice_peer_free(gpointer p)
{
    struct ice_peer *ip = p;
    env_timer_stop(&ip->ice->node->env, ip->timer);
    g_free(ip);
}

struct ice *ice_new(struct node *n)
{
    struct ice *ice = g_new0(struct ice, 1);
    ice->node = n;
    ice->peers = g_hash_table_new_full(ice_id_hash, ice_id_equal, NULL, ice_peer_free);
    ice->n_relays = n->cfg->ice.n_relays;
    ice->relays = g_new0(struct node_peer, ice->n_relays ? ice->n_relays : 1);
    for (unsigned i = 0; i < ice->n_relays; i++) {
        ice->relays[i] = n->cfg->ice.relays[i];
        if (id_is_wildcard(&ice->relays[i].id) && env_addr_eq(&ice->relays[i].addr, &n->addr))
            ice->relays[i].id = n->self; /* this node is that relay */
    }
    return ice;
}

void ice_free(struct ice *ice)
{
    if (!ice)
        return;
    env_timer_stop(&ice->node->env, ice->keepalive);
    g_hash_table_destroy(ice->peers);
    g_free(ice->relays);
    g_free(ice);
}

const struct node_ice_stats *node_ice_get_stats(const struct node *n)
{
    return n->ice ? &n->ice->stats : NULL;
}

bool node_ice_srflx(const struct node *n, struct env_addr *out)
{
    if (!n->ice || !n->ice->have_srflx)
        return false;
    *out = n->ice->srflx;
    return true;
}

unsigned node_ice_relay_index(const struct id *id, unsigned n)
{
    return n ? (unsigned)((id->hi >> 11) % n) : 0;
}

void ice_set_rx_from(struct node *n, const struct env_addr *from)
{
    n->ice->rx_from = from;
}

/* The configured relay of Node-ID id (its Node-ID may still be the wildcard: unknown); NULL
 * without relays. */
static const struct node_peer *relay_of(const struct node *n, const struct id *id)
{
    unsigned k = n->ice->n_relays;
    return k ? &n->ice->relays[node_ice_relay_index(id, k)] : NULL;
}

static bool is_relay(const struct node *n, const struct id *id)
{
    for (unsigned i = 0; i < n->ice->n_relays; i++)
        if (id_eq(&n->ice->relays[i].id, id))
            return true;
    return false;
}

/* A message from peer arrived straight from the address of a relay configured by address
 * only: that relay is peer. */
static void learn_relay(struct node *n, const struct id *peer)
{
    struct ice *ice = n->ice;
    if (!ice->rx_from || id_is_wildcard(peer))
        return;
    for (unsigned i = 0; i < ice->n_relays; i++) {
        struct node_peer *r = &ice->relays[i];
        if (id_is_wildcard(&r->id) && env_addr_eq(&r->addr, ice->rx_from)) {
            r->id = *peer;
            char hex[ID_HEX_LEN + 1];
            id_to_hex(peer, hex);
            env_logf(&n->env, ENV_LOG_INFO, "relay %u.%u.%u.%u:%u is node-id %s", r->addr.ip >> 24,
                     (r->addr.ip >> 16) & 0xff, (r->addr.ip >> 8) & 0xff, r->addr.ip & 0xff,
                     r->addr.port, hex);
        }
    }
}

static bool behind_nat(const struct ice *ice)
{
    return ice->have_srflx && !env_addr_eq(&ice->srflx, &ice->node->addr);
}

static void ice_outcome(struct ice_peer *p, enum node_connect o)
{
    struct node *n = p->ice->node;
    p->ice->stats.outcomes[o]++;
    struct env_event ev = {.type = ENV_EV_CONNECT, .code = (uint16_t)o, .responder = p->id};
    env_event(&n->env, &ev);
}

/* A working pair: the peer was heard from `from`. */
static void ice_connected(struct ice_peer *p, const struct env_addr *from)
{
    struct ice *ice = p->ice;
    env_timer_stop(&ice->node->env, p->timer);
    p->timer = 0;
    p->state = ICE_CONNECTED;
    p->since = env_now(&ice->node->env);
    if (p->initiator) {
        bool untranslated = p->have_host && env_addr_eq(from, &p->host) && !behind_nat(ice);
        ice_outcome(p, untranslated ? NODE_CONNECT_DIRECT : NODE_CONNECT_PUNCHED);
    }
}

static void ice_check_round(void *arg)
{
    struct ice_peer *p = arg;
    struct ice *ice = p->ice;
    struct node *n = ice->node;
    p->timer = 0;
    if (p->rounds >= n->cfg->ice.check_rounds) {
        p->state = p->have_relay ? ICE_RELAYED : ICE_FAILED;
        p->since = env_now(&n->env);
        if (p->initiator)
            ice_outcome(p, p->have_relay ? NODE_CONNECT_RELAYED : NODE_CONNECT_FAILED);
        return;
    }
    p->rounds++;
    for (unsigned i = 0; i < p->n_check; i++) {
        node_send_check(n, &p->id, &p->check[i]);
        ice->stats.checks_sent++;
    }
    p->timer = env_timer_start(&n->env, n->cfg->ice.check_interval, ice_check_round, p);
}

static struct ice_peer *ice_peer_get(struct ice *ice, const struct id *id)
{
    struct ice_peer *p = g_hash_table_lookup(ice->peers, id);
    if (!p) {
        p = g_new0(struct ice_peer, 1);
        p->ice = ice;
        p->id = *id;
        p->state = ICE_FAILED;
        g_hash_table_insert(ice->peers, &p->id, p);
    }
    return p;
}

/* ---- candidates -------------------------------------------------------------------------- */

static bool usable(const struct wire_candidate *c)
{
    return !c->is_v6 && c->addr.ip != 0 && c->addr.port != 0;
}

/* The index of the relay peer at addr among the configured ones; -1 when none is. */
static int relay_at(const struct node *n, const struct env_addr *addr)
{
    for (unsigned i = 0; i < n->ice->n_relays; i++)
        if (env_addr_eq(&n->ice->relays[i].addr, addr))
            return (int)i;
    return -1;
}

/* The reflexive-address IceExtension of a candidate, when there is one. */
static bool reflexive_of(const struct wire_candidate *c, struct env_addr *out)
{
    const uint8_t *p = c->extensions.p, *end = p + c->extensions.len;
    while (end - p >= 4) {
        size_t nl = (size_t)p[0] << 8 | p[1];
        if ((size_t)(end - p) < 2 + nl + 2)
            return false;
        const uint8_t *name = p + 2, *v = p + 2 + nl + 2;
        size_t vl = (size_t)p[2 + nl] << 8 | p[2 + nl + 1];
        if ((size_t)(end - v) < vl)
            return false;
        /* IpAddressPort, §6.3.1.1: type 1 (IPv4), length 6, address, port. */
        if (nl == sizeof ice_ext_name - 1 && memcmp(name, ice_ext_name, nl) == 0 && vl == 8 &&
            v[0] == 1 && v[1] == 6) {
            out->ip = (uint32_t)v[2] << 24 | (uint32_t)v[3] << 16 | (uint32_t)v[4] << 8 | v[5];
            out->port = (uint16_t)(v[6] << 8 | v[7]);
            return out->ip != 0 && out->port != 0;
        }
        p = v + vl;
    }
    return false;
}

void ice_candidates(struct node *n, struct wire_attach *a, bool answering_direct, uint8_t *ext)
{
    struct ice *ice = n->ice;
    /* a->candidates[0] is the host candidate (node.c). */
    if (answering_direct && ice->rx_from) {
        static const size_t nl = sizeof ice_ext_name - 1;
        size_t k = 0;
        ext[k++] = 0;
        ext[k++] = (uint8_t)nl;
        memcpy(ext + k, ice_ext_name, nl);
        k += nl;
        ext[k++] = 0;
        ext[k++] = 8;
        ext[k++] = 1;
        ext[k++] = 6;
        for (int s = 24; s >= 0; s -= 8)
            ext[k++] = (uint8_t)(ice->rx_from->ip >> s);
        ext[k++] = (uint8_t)(ice->rx_from->port >> 8);
        ext[k++] = (uint8_t)ice->rx_from->port;
        a->candidates[0].extensions.p = ext;
        a->candidates[0].extensions.len = (uint32_t)k;
    }
    struct wire_candidate *c;
    if (behind_nat(ice)) {
        c = &a->candidates[a->n_candidates++];
        *c = a->candidates[0];
        memset(&c->extensions, 0, sizeof c->extensions);
        c->addr = ice->srflx;
        c->rel_addr = n->addr;
        c->type = WIRE_CAND_SRFLX;
        c->foundation.p = (const uint8_t *)"2";
        c->priority = (100u << 24) | (65535u << 8) | 255u; /* RFC 8445 §5.1.2.2 */
    }
    const struct node_peer *r = relay_of(n, &n->self);
    if (r && !id_eq(&r->id, &n->self) && !is_relay(n, &n->self)) {
        c = &a->candidates[a->n_candidates++];
        *c = a->candidates[0];
        memset(&c->extensions, 0, sizeof c->extensions);
        c->addr = r->addr;
        c->rel_addr = ice->have_srflx ? ice->srflx : n->addr;
        c->type = WIRE_CAND_RELAY;
        c->foundation.p = (const uint8_t *)"3";
        c->priority = (0u << 24) | (65535u << 8) | 255u;
    }
}

/* Takes the peer's candidates into p: check targets, host, relay. */
static void take_candidates(struct ice *ice, struct ice_peer *p, const struct wire_attach *a)
{
    p->n_check = 0;
    for (uint16_t i = 0; i < a->n_candidates; i++) {
        const struct wire_candidate *c = &a->candidates[i];
        if (!usable(c)) {
            ice->stats.bad_candidates++;
            continue;
        }
        if (c->type == WIRE_CAND_RELAY) {
            int r = relay_at(ice->node, &c->addr);
            if (r < 0 || id_eq(&ice->relays[r].id, &p->id)) {
                ice->stats.bad_candidates++;
                continue;
            }
            p->have_relay = true;
            p->relay = (unsigned)r;
            continue;
        }
        if (c->type == WIRE_CAND_HOST && !p->have_host) {
            p->have_host = true;
            p->host = c->addr;
        }
        bool dup = false;
        for (unsigned k = 0; k < p->n_check; k++)
            dup |= env_addr_eq(&p->check[k], &c->addr);
        if (!dup && p->n_check < G_N_ELEMENTS(p->check))
            p->check[p->n_check++] = c->addr;
    }
}

/* Starts the rounds of checks (or ends at once when the exchange itself was direct). */
static void ice_begin_checks(struct ice *ice, struct ice_peer *p, bool direct)
{
    struct node *n = ice->node;
    env_timer_stop(&n->env, p->timer);
    p->timer = 0;
    struct conn *c = node_conn_find(n, &p->id);
    if (direct && c && node_conn_verified(c)) {
        ice_connected(p, &c->addr);
        return;
    }
    if (p->heard_early) {
        ice_connected(p, &p->heard);
        return;
    }
    p->state = ICE_CHECKING;
    p->since = env_now(&n->env);
    p->rounds = 0;
    ice_check_round(p);
}

void ice_on_attach_req(struct node *n, const struct id *origin, const struct wire_attach *a,
                       bool direct)
{
    struct ice *ice = n->ice;
    if (direct)
        learn_relay(n, origin);
    struct ice_peer *p = ice_peer_get(ice, origin);
    if (p->state == ICE_CHECKING && p->initiator)
        return; /* both sides attached at once: ours runs */
    p->initiator = false;
    p->heard_early = false;
    take_candidates(ice, p, a);
    ice_begin_checks(ice, p, direct);
}

void ice_on_attach_ans(struct node *n, const struct id *peer, const struct wire_attach *a,
                       bool direct)
{
    struct ice *ice = n->ice;
    struct env_addr refl;
    if (direct)
        learn_relay(n, peer);
    /* The relays are the STUN servers: behind an address-dependent-mapping (symmetric) NAT
     * every other peer would see, and report, another port (found over real NATs, where the
     * address flipped with each answer; tests/t_natns.sh). */
    if (direct && is_relay(n, peer) && a->n_candidates > 0 &&
        reflexive_of(&a->candidates[0], &refl)) {
        ice->srflx = refl;
        ice->have_srflx = true;
    }
    struct ice_peer *p = ice_peer_get(ice, peer);
    if (direct && is_relay(n, peer)) { /* registration (or any Attach straight to a relay) */
        env_timer_stop(&n->env, p->timer);
        p->timer = 0;
        p->state = ICE_CONNECTED;
        p->since = env_now(&n->env);
        return;
    }
    if (p->state != ICE_ATTACHING) { /* the topology's own Attach */
        p->initiator = true;
        p->heard_early = false;
    }
    take_candidates(ice, p, a);
    ice_begin_checks(ice, p, direct);
}

void ice_attach_failed(struct node *n, const struct id *peer)
{
    struct ice_peer *p = g_hash_table_lookup(n->ice->peers, peer);
    if (!p || p->state != ICE_ATTACHING)
        return;
    if (p->heard_early) {
        ice_connected(p, &p->heard);
        return;
    }
    p->state = ICE_FAILED;
    p->since = env_now(&n->env);
    ice_outcome(p, NODE_CONNECT_FAILED);
}

void ice_heard(struct node *n, const struct id *peer, const struct env_addr *from)
{
    struct ice_peer *p = g_hash_table_lookup(n->ice->peers, peer);
    if (!p)
        return;
    if (p->state == ICE_ATTACHING) {
        p->heard_early = true;
        p->heard = *from;
    } else if (p->state == ICE_CHECKING) {
        ice_connected(p, from);
    }
}

const struct node_peer *ice_relay_for(struct node *n, const struct id *peer)
{
    if (is_relay(n, peer))
        return NULL;
    struct ice_peer *p = g_hash_table_lookup(n->ice->peers, peer);
    const struct node_peer *r = p && p->have_relay ? &n->ice->relays[p->relay] : relay_of(n, peer);
    if (!r || id_is_wildcard(&r->id) || id_eq(&r->id, &n->self) || id_eq(&r->id, peer))
        return NULL;
    return r;
}

bool ice_peer_addr(struct node *n, const struct id *peer, struct env_addr *out)
{
    struct conn *c = node_conn_find(n, peer);
    if (c) {
        *out = c->addr;
        return true;
    }
    struct ice_peer *p = n->ice ? g_hash_table_lookup(n->ice->peers, peer) : NULL;
    if (!p || !p->have_host)
        return false;
    *out = p->host;
    return true;
}

bool ice_knows(struct node *n, const struct id *peer)
{
    return g_hash_table_contains(n->ice->peers, peer);
}

bool ice_serves(struct node *n, const struct id *peer)
{
    const struct node_peer *r = relay_of(n, peer);
    return r && id_eq(&r->id, &n->self) && !id_eq(peer, &n->self);
}

void ice_relayed(struct node *n, const struct node_peer *r, const struct id *peer)
{
    struct ice *ice = n->ice;
    ice->stats.relayed_sent++;
    struct env_event ev = {.type = ENV_EV_RELAYED, .responder = r->id};
    env_event(&n->env, &ev);
    struct ice_peer *p = g_hash_table_lookup(ice->peers, peer);
    env_time now = env_now(&n->env);
    if (p && (p->state == ICE_ATTACHING || p->state == ICE_CHECKING ||
              ((p->state == ICE_RELAYED || p->state == ICE_FAILED) && now - p->since < ICE_RETRY)))
        return;
    p = ice_peer_get(ice, peer);
    p->state = ICE_ATTACHING;
    p->initiator = true;
    p->heard_early = false;
    p->since = now;
    node_attach_quiet(n, peer);
}

/* ---- registration and keepalives ---------------------------------------------------------- */

/* Registers with this node's relay (an Attach straight to it, which also reflects the
 * node's address), and Attaches to every relay whose Node-ID is not known yet. */
static void ice_register(struct node *n)
{
    struct ice *ice = n->ice;
    const struct node_peer *own = relay_of(n, &n->self);
    for (unsigned i = 0; i < ice->n_relays; i++) {
        const struct node_peer *r = &ice->relays[i];
        if ((r == own || id_is_wildcard(&r->id)) && !id_eq(&r->id, &n->self))
            node_attach_direct(n, r);
    }
}

static void ice_keepalive(void *arg)
{
    struct node *n = arg;
    struct ice *ice = n->ice;
    ice->keepalive = env_timer_start(&n->env, n->cfg->ice.keepalive, ice_keepalive, n);
    ice_register(n);
    if (!behind_nat(ice) || !n->topo)
        return;
    struct node_peer rt[256];
    size_t k = n->topo->ops->routing_table(n->topo, rt, G_N_ELEMENTS(rt));
    for (size_t i = 0; i < k; i++) {
        struct conn *c = node_conn_find(n, &rt[i].id);
        if (c && node_conn_verified(c)) {
            node_send_check(n, &c->id, &c->addr);
            ice->stats.checks_sent++;
        }
    }
}

void ice_start(struct node *n)
{
    struct ice *ice = n->ice;
    if (ice->started)
        return;
    ice->started = true;
    ice_register(n);
    env_time k = n->cfg->ice.keepalive;
    if (k)
        ice->keepalive = env_timer_start(&n->env, k / 2 + env_random(&n->env) % k, ice_keepalive, n);
}
