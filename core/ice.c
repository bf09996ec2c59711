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
 * can be sent through it.  With cfg.ice.discovery = NODE_ICE_RELAYS_SERVICE the configured
 * list is only the bootstrap: a node behind a NAT registers with its configured ("home")
 * relay to join, and once joined looks the relay service up in the directory
 * (core/service.h: providers advertise with node_ice_offer_relay, their load being the peers
 * registered with them), ranks the providers with a policy, registers with the first and
 * advertises it in its relayed candidate — with the relay's Node-ID in an IceExtension
 * "relay-node-id", since no configuration names it.  It stays registered with its home relay
 * too, which every other node can compute, so that a first message can reach it before its
 * candidates are known (docs/nat.md, "Relays from the directory").
 *
 * Failover (cfg.ice.failover): a relay whose link fails or that does not answer a
 * registration is marked failed for ICE_RELAY_DEAD.  The home relay of a node whose
 * configured relay is marked is then the live known relay with the highest rendezvous weight
 * (relay_index_of); a peer's advertised relay is forgotten (its home relay serves); a node
 * whose own relay it was takes the next provider of its ranked list, a new lookup, or its
 * recomputed home relay, registers there, and Attaches again to the peers it has no verified
 * connection with, so that their stale relayed candidates are replaced.  A node behind a NAT
 * also registers in advance with its backup relay (relay_backup_of), the home relay others
 * compute once its configured one has failed, so that it stays reachable before it has
 * noticed the failure itself (docs/nat.md, "Relay failover").
 *
 * A relay may be configured by address only (Node-ID the wildcard, as a configuration
 * document lists bootstrap peers, §11.1): the node Attaches to the wildcard Node-ID at that
 * address (§6.1.1) and takes the Node-ID of the peer that answers from it; until then that
 * relay is not used.
 * A relay may also be a node that never joins (the simulator's relay servers, the seed
 * draft's STUN/TURN servers, §6.1): answering Attaches and forwarding to its connected
 * clients is all the relay function needs, and neither depends on a topology.
 */
#include "node_int.h"

#include <string.h>

#include "service.h"

#define ICE_RETRY (60 * ENV_S)      /* a failed or relayed peer is tried again after this */
#define ICE_RELAY_DEAD (60 * ENV_S) /* a failed relay is avoided this long */
#define ICE_FIND_RETRY (5 * ENV_S)  /* a relay lookup that found nothing is repeated */
/* A relay advertises itself at most this long after joining. */
#define ICE_ADVERT_SPREAD (1 * ENV_S)
/* A relay stores its client count at most this often: finders that start together see each
 * other's choices. */
#define ICE_LOAD_INTERVAL (2 * ENV_S)
#define ICE_RELAY_LIFETIME 120 /* s, the relay service records' lifetime */
#define ICE_RANKED_MAX 8       /* providers kept from a lookup, best first */
#define ICE_RELAYS_MAX 256     /* relays a node knows (configured and discovered) */
#define ICE_READVERTISE_MAX 64 /* peers Attached again after a change of relay */
static const char ice_ext_name[] = "reflexive-address";
static const char ice_ext_relay[] = "relay-node-id";

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

/* A relay this node knows: configured, or found in the directory or in a relayed
 * candidate. */
struct ice_relay {
    struct node_peer peer;
    env_time dead_until; /* marked failed until then (failover); 0 when not */
};

struct ice {
    struct node *node;
    GHashTable *peers; /* struct id * -> struct ice_peer * */
    bool started, have_srflx;
    struct env_addr srflx;
    const struct env_addr *rx_from;
    GArray *relays;    /* struct ice_relay: cfg.ice.relays first (with the Node-IDs learnt so
                          far), then the ones discovered */
    unsigned n_relays; /* configured ones */
    int own;           /* index of this node's own relay once chosen; -1: the computed one */
    bool readvertise;  /* Attach again to relayed peers once own relay's registration answers */
    env_timer keepalive;
    struct node_ice_stats stats;
    /* The directory (service mode; and a relay that offers itself). */
    struct service *svc;
    bool finding, found; /* a lookup is under way; own relay came from the directory */
    bool spread;         /* the first lookup's random delay was drawn */
    unsigned find_fails; /* lookups in a row that found nothing */
    env_timer find_timer, advert_timer;
    struct service_record *ranked; /* the last lookup's usable providers, best first */
    unsigned n_ranked;
    char *offer; /* the service name this node advertises itself under, or NULL */
    uint32_t offer_capacity;
    GHashTable *clients; /* relay side: Node-ID (owned) -> last registration time + 1 */
};

static inline struct ice_relay *R(const struct ice *ice, unsigned i)
{
    return &g_array_index(ice->relays, struct ice_relay, i);
}

static void client_registered(struct node *n, const struct id *peer);
static void register_backup(struct node *n);
static void readvertise(struct node *n);
static void relay_failed(struct node *n, unsigned i);
static void ice_find_relay(struct node *n);
static void find_later(struct node *n);

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
    ice->own = -1;
    ice->relays = g_array_new(FALSE, TRUE, sizeof(struct ice_relay));
    for (unsigned i = 0; i < ice->n_relays; i++) {
        struct ice_relay r = {.peer = n->cfg->ice.relays[i]};
        if (id_is_wildcard(&r.peer.id) && env_addr_eq(&r.peer.addr, &n->addr))
            r.peer.id = n->self; /* this node is that relay */
        g_array_append_val(ice->relays, r);
    }
    return ice;
}

void ice_free(struct ice *ice)
{
    if (!ice)
        return;
    env_timer_stop(&ice->node->env, ice->keepalive);
    env_timer_stop(&ice->node->env, ice->find_timer);
    env_timer_stop(&ice->node->env, ice->advert_timer);
    g_hash_table_destroy(ice->peers);
    g_array_free(ice->relays, TRUE);
    service_free(ice->svc); /* node_free has dropped its pending requests */
    g_free(ice->ranked);
    g_free(ice->offer);
    if (ice->clients)
        g_hash_table_destroy(ice->clients);
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

static bool relay_dead(const struct node *n, unsigned i)
{
    return n->cfg->ice.failover && R(n->ice, i)->dead_until > env_now(&n->env);
}

/* splitmix64's finalizer: a well-mixed 64-bit value of x. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The index of the (home) relay of Node-ID id: the configured relay node_ice_relay_index
 * chooses, or, when that one is marked failed, the live known relay (configured, or found in
 * the directory) with the highest rendezvous weight mix(id, relay) (Thaler and Ravishankar,
 * "Using name-based mappings to increase hit rates", IEEE/ACM ToN 6(1), 1998): a failed
 * relay's clients spread evenly over the live ones, and nodes that know the same relays and
 * failures compute the same relay.  When every one is marked, the first choice.  -1 without
 * configured relays. */
static int relay_hrw(const struct node *n, const struct id *id, int exclude)
{
    int best = -1;
    uint64_t w = 0;
    for (unsigned j = 0; j < n->ice->relays->len; j++) {
        const struct id *r = &R(n->ice, j)->peer.id;
        uint64_t x = mix64(id->hi ^ mix64(id->lo ^ mix64(r->hi ^ mix64(r->lo))));
        if ((int)j != exclude && !relay_dead(n, j) && !id_is_wildcard(r) && (best < 0 || x > w)) {
            best = (int)j;
            w = x;
        }
    }
    return best;
}

static int relay_index_of(const struct node *n, const struct id *id)
{
    unsigned k = n->ice->n_relays;
    if (!k)
        return -1;
    unsigned i0 = node_ice_relay_index(id, k);
    if (!relay_dead(n, i0))
        return (int)i0;
    int best = relay_hrw(n, id, -1);
    return best >= 0 ? best : (int)i0;
}

/* With failover, the relay that becomes Node-ID id's home relay when its configured one
 * fails (what relay_index_of then computes, as far as this node knows): a node behind a NAT
 * registers with it in advance, so that it stays reachable while it has not noticed the
 * failure itself.  -1 when none. */
static int relay_backup_of(const struct node *n, const struct id *id)
{
    unsigned k = n->ice->n_relays;
    if (!k || !n->cfg->ice.failover)
        return -1;
    return relay_hrw(n, id, (int)node_ice_relay_index(id, k));
}

/* The configured relay of Node-ID id (its Node-ID may still be the wildcard: unknown); NULL
 * without relays. */
static const struct node_peer *relay_of(const struct node *n, const struct id *id)
{
    int i = relay_index_of(n, id);
    return i < 0 ? NULL : &R(n->ice, (unsigned)i)->peer;
}

/* The index of this node's own relay (the one it advertises), -1 when none. */
static int own_index(const struct node *n)
{
    return n->ice->own >= 0 ? n->ice->own : relay_index_of(n, &n->self);
}

static bool is_relay(const struct node *n, const struct id *id)
{
    if (n->ice->offer && id_eq(id, &n->self))
        return true;
    for (unsigned i = 0; i < n->ice->relays->len; i++)
        if (id_eq(&R(n->ice, i)->peer.id, id))
            return true;
    return false;
}

/* The index of the relay with Node-ID id, -1 when none. */
static int relay_find(const struct node *n, const struct id *id)
{
    for (unsigned i = 0; i < n->ice->relays->len; i++)
        if (id_eq(&R(n->ice, i)->peer.id, id))
            return (int)i;
    return -1;
}

/* The index of relay p among the known ones, added when new (at most ICE_RELAYS_MAX: -1). */
static int relay_add(struct node *n, const struct node_peer *p)
{
    int i = relay_find(n, &p->id);
    if (i >= 0)
        return i;
    if (n->ice->relays->len >= ICE_RELAYS_MAX)
        return -1;
    struct ice_relay r = {.peer = *p};
    g_array_append_val(n->ice->relays, r);
    return (int)n->ice->relays->len - 1;
}

/* A message from peer arrived straight from the address of a relay configured by address
 * only: that relay is peer. */
static void learn_relay(struct node *n, const struct id *peer)
{
    struct ice *ice = n->ice;
    if (!ice->rx_from || id_is_wildcard(peer))
        return;
    for (unsigned i = 0; i < ice->n_relays; i++) {
        struct node_peer *r = &R(ice, i)->peer;
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

/* The index of the relay peer at addr among the known ones; -1 when none is. */
static int relay_at(const struct node *n, const struct env_addr *addr)
{
    for (unsigned i = 0; i < n->ice->relays->len; i++)
        if (env_addr_eq(&R(n->ice, i)->peer.addr, addr))
            return (int)i;
    return -1;
}

/* The value of the IceExtension called name (len bytes) of a candidate, when there is one. */
static bool extension_of(const struct wire_candidate *c, const char *name, size_t len,
                         const uint8_t **value, size_t *value_len)
{
    const uint8_t *p = c->extensions.p, *end = p + c->extensions.len;
    while (end - p >= 4) {
        size_t nl = (size_t)p[0] << 8 | p[1];
        if ((size_t)(end - p) < 2 + nl + 2)
            return false;
        const uint8_t *nm = p + 2, *v = p + 2 + nl + 2;
        size_t vl = (size_t)p[2 + nl] << 8 | p[2 + nl + 1];
        if ((size_t)(end - v) < vl)
            return false;
        if (nl == len && memcmp(nm, name, nl) == 0) {
            *value = v;
            *value_len = vl;
            return true;
        }
        p = v + vl;
    }
    return false;
}

/* Appends an IceExtension (§6.5.1.1: name<0..2^16-1>, value<0..2^16-1>) at ext + k. */
static size_t put_extension(uint8_t *ext, size_t k, const char *name, const uint8_t *v, size_t vl)
{
    size_t nl = strlen(name);
    ext[k++] = (uint8_t)(nl >> 8);
    ext[k++] = (uint8_t)nl;
    memcpy(ext + k, name, nl);
    k += nl;
    ext[k++] = (uint8_t)(vl >> 8);
    ext[k++] = (uint8_t)vl;
    memcpy(ext + k, v, vl);
    return k + vl;
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
    int own = own_index(n);
    const struct node_peer *r = own < 0 ? NULL : &R(ice, (unsigned)own)->peer;
    if (r && !id_eq(&r->id, &n->self) && !is_relay(n, &n->self)) {
        c = &a->candidates[a->n_candidates++];
        *c = a->candidates[0];
        memset(&c->extensions, 0, sizeof c->extensions);
        c->addr = r->addr;
        c->rel_addr = ice->have_srflx ? ice->srflx : n->addr;
        c->type = WIRE_CAND_RELAY;
        c->foundation.p = (const uint8_t *)"3";
        c->priority = (0u << 24) | (65535u << 8) | 255u;
        if ((unsigned)own >= ice->n_relays) { /* found in the directory: name it */
            uint8_t id[ID_BYTES];
            id_to_bytes(&r->id, id);
            size_t k = put_extension(ext + 40, 0, ice_ext_relay, id, ID_BYTES);
            c->extensions.p = ext + 40;
            c->extensions.len = (uint32_t)k;
        }
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
            const uint8_t *v;
            size_t vl;
            if (r < 0 && extension_of(c, ice_ext_relay, sizeof ice_ext_relay - 1, &v, &vl) &&
                vl == ID_BYTES) { /* a relay from the directory, named by its Node-ID */
                struct node_peer np = {.id = id_from_bytes(v), .addr = c->addr};
                if (!id_is_wildcard(&np.id) && relay_find(ice->node, &np.id) < 0)
                    r = relay_add(ice->node, &np);
            }
            if (r < 0 || id_eq(&R(ice, (unsigned)r)->peer.id, &p->id)) {
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
    if (direct)
        for (uint16_t i = 0; i < a->n_candidates; i++)
            if (a->candidates[i].type == WIRE_CAND_RELAY &&
                env_addr_eq(&a->candidates[i].addr, &n->addr))
                client_registered(n, origin); /* it names this node its relay */
    struct ice_peer *p = ice_peer_get(ice, origin);
    if (p->state == ICE_CHECKING && p->initiator) {
        /* both sides attached at once: ours runs; its relay may have changed, though */
        struct ice_peer q = *p;
        take_candidates(ice, &q, a);
        p->have_relay = q.have_relay;
        p->relay = q.relay;
        return;
    }
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
        bool first = !ice->have_srflx;
        ice->srflx = refl;
        ice->have_srflx = true;
        if (first)
            register_backup(n); /* now it knows whether it is behind a NAT */
        if (first)
            ice_find_relay(n);
    }
    struct ice_peer *p = ice_peer_get(ice, peer);
    if (direct && is_relay(n, peer)) { /* registration (or any Attach straight to a relay) */
        env_timer_stop(&n->env, p->timer);
        p->timer = 0;
        p->state = ICE_CONNECTED;
        p->since = env_now(&n->env);
        int own = own_index(n);
        if (ice->readvertise && own >= 0 && id_eq(&R(ice, (unsigned)own)->peer.id, peer)) {
            ice->readvertise = false;
            readvertise(n);
        }
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
    int r = relay_find(n, peer);
    if (r >= 0 && !id_eq(peer, &n->self)) { /* a registration went unanswered */
        relay_failed(n, (unsigned)r);
        return;
    }
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
    const struct node_peer *r = p && p->have_relay ? &R(n->ice, p->relay)->peer : relay_of(n, peer);
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
    struct ice *ice = n->ice;
    if (id_eq(peer, &n->self))
        return false;
    if (ice->clients && g_hash_table_contains(ice->clients, peer))
        return true;
    unsigned k = ice->n_relays;
    return k && id_eq(&R(ice, node_ice_relay_index(peer, k))->peer.id, &n->self);
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
 * node's address) and, when that is another one, with its computed (home) relay, through
 * which others reach it before they know its candidates; and Attaches to every configured
 * relay whose Node-ID is not known yet. */
static void ice_register(struct node *n)
{
    struct ice *ice = n->ice;
    int own = own_index(n), home = relay_index_of(n, &n->self);
    int backup = behind_nat(ice) ? relay_backup_of(n, &n->self) : -1;
    for (unsigned i = 0; i < ice->relays->len; i++) {
        const struct node_peer *r = &R(ice, i)->peer;
        bool wild = i < ice->n_relays && id_is_wildcard(&r->id);
        if (((int)i == own || (int)i == home || (int)i == backup || wild) &&
            !id_eq(&r->id, &n->self))
            node_attach_direct(n, r);
    }
}

/* ---- relays from the directory, and failover ---------------------------------------------- */

/* A node behind a NAT registers with its backup relay (relay_backup_of) now, not only at the
 * next keepalive. */
static void register_backup(struct node *n)
{
    struct ice *ice = n->ice;
    int b = behind_nat(ice) ? relay_backup_of(n, &n->self) : -1;
    if (b >= 0 && b != own_index(n) && !id_eq(&R(ice, (unsigned)b)->peer.id, &n->self))
        node_attach_direct(n, &R(ice, (unsigned)b)->peer);
}

static void relay_event(struct node *n, enum node_relay_change why, const struct id *relay)
{
    struct env_event ev = {.type = ENV_EV_RELAY, .code = (uint16_t)why};
    if (relay)
        ev.responder = *relay;
    env_event(&n->env, &ev);
}

static void client_registered(struct node *n, const struct id *peer)
{
    struct ice *ice = n->ice;
    if (!ice->clients)
        ice->clients = g_hash_table_new_full(ice_id_hash, ice_id_equal, g_free, NULL);
    bool fresh = !g_hash_table_contains(ice->clients, peer);
    g_hash_table_replace(ice->clients, g_memdup2(peer, sizeof *peer),
                         (gpointer)(uintptr_t)(env_now(&n->env) + 1));
    if (fresh && ice->offer && ice->svc)
        service_set_load(ice->svc, ice->offer, g_hash_table_size(ice->clients));
}

/* Forgets the clients that have not registered for three keepalive periods. */
static void clients_prune(struct node *n)
{
    struct ice *ice = n->ice;
    if (!ice->clients)
        return;
    env_time now = env_now(&n->env), max_age = 3 * n->cfg->ice.keepalive;
    GHashTableIter it;
    gpointer v;
    guint before = g_hash_table_size(ice->clients);
    g_hash_table_iter_init(&it, ice->clients);
    while (g_hash_table_iter_next(&it, NULL, &v))
        if (now - ((env_time)(uintptr_t)v - 1) > max_age)
            g_hash_table_iter_remove(&it);
    if (g_hash_table_size(ice->clients) != before && ice->offer && ice->svc)
        service_set_load(ice->svc, ice->offer, g_hash_table_size(ice->clients));
}

static int id_ptr_cmp(const void *a, const void *b)
{
    return id_cmp(*(const struct id *const *)a, *(const struct id *const *)b);
}

/* After a change of own relay: Attaches again (in Node-ID order, at most
 * ICE_READVERTISE_MAX) to the peers this node has no verified connection with, which reach it
 * through its relay and hold the old one in their candidates. */
static void readvertise(struct node *n)
{
    struct ice *ice = n->ice;
    GPtrArray *ids = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, ice->peers);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct ice_peer *p = v;
        struct conn *c = node_conn_find(n, &p->id);
        if (is_relay(n, &p->id) || (c && node_conn_verified(c)) || p->state == ICE_ATTACHING)
            continue;
        g_ptr_array_add(ids, k);
    }
    g_ptr_array_sort(ids, id_ptr_cmp);
    for (guint i = 0; i < ids->len && i < ICE_READVERTISE_MAX; i++) {
        struct ice_peer *p = g_hash_table_lookup(ice->peers, ids->pdata[i]);
        if (p->state != ICE_CHECKING) { /* checks under way restart with the answer */
            p->state = ICE_ATTACHING;
            p->initiator = true;
            p->heard_early = false;
            p->since = env_now(&n->env);
        }
        node_attach_quiet(n, &p->id);
    }
    g_ptr_array_free(ids, TRUE);
}

/* Makes relay i this node's own: registers with it and, once it answers, Attaches again to
 * the relayed peers. */
static void relay_use(struct node *n, int i, enum node_relay_change why)
{
    struct ice *ice = n->ice;
    if (i == own_index(n) && ice->own >= 0)
        return;
    ice->own = i;
    if (why == NODE_RELAY_FOUND)
        ice->stats.relay_found++;
    else
        ice->stats.relay_failover++;
    relay_event(n, why, i >= 0 ? &R(ice, (unsigned)i)->peer.id : NULL);
    if (i < 0)
        return;
    ice->readvertise = true;
    node_attach_direct(n, &R(ice, (unsigned)i)->peer);
}

/* The next provider of the last lookup that is neither failed nor this node, taken off the
 * list; -1 when none is left. */
static int next_ranked(struct node *n)
{
    struct ice *ice = n->ice;
    while (ice->n_ranked > 0) {
        struct service_record r = ice->ranked[0];
        memmove(ice->ranked, ice->ranked + 1, --ice->n_ranked * sizeof *ice->ranked);
        struct node_peer p = {.id = r.provider, .addr = r.addr};
        int i = relay_add(n, &p);
        if (i >= 0 && !relay_dead(n, (unsigned)i))
            return i;
    }
    return -1;
}

static void find_retry(void *arg)
{
    struct node *n = arg;
    n->ice->find_timer = 0;
    ice_find_relay(n);
}

static void relay_found(void *ud, int status, struct service_record *list, size_t count,
                        size_t skipped, env_time latency)
{
    struct node *n = ud;
    struct ice *ice = n->ice;
    (void)skipped;
    (void)latency;
    ice->finding = false;
    size_t k = 0;
    for (size_t i = 0; status == NODE_OK && i < count; i++) {
        int r = relay_find(n, &list[i].provider);
        if (!id_eq(&list[i].provider, &n->self) && list[i].addr.ip && list[i].addr.port &&
            (r < 0 || !relay_dead(n, (unsigned)r)))
            list[k++] = list[i];
    }
    if (k == 0) {
        ice->stats.relay_lookup_failed++;
        relay_event(n, NODE_RELAY_LOOKUP_FAILED, NULL);
        find_later(n);
        return;
    }
    ice->find_fails = 0;
    /* Every provider becomes a known relay, so that nodes compute home relays over (about)
     * the same set. */
    for (size_t i = 0; i < k; i++)
        relay_add(n, &(struct node_peer){list[i].provider, list[i].addr});
    if (!behind_nat(ice)) { /* public: it only wanted to know them */
        ice->found = true;
        return;
    }
    const struct service_policy *pol =
        n->cfg->ice.relay_policy ? n->cfg->ice.relay_policy : &service_policy_two_choices;
    service_rank(pol, n, &n->env, list, k);
    g_free(ice->ranked);
    ice->n_ranked = (unsigned)MIN(k, (size_t)ICE_RANKED_MAX);
    ice->ranked = g_memdup2(list, ice->n_ranked * sizeof *list);
    int i = next_ranked(n);
    if (i >= 0) {
        ice->found = true;
        relay_use(n, i, NODE_RELAY_FOUND);
    } else {
        find_later(n);
    }
    register_backup(n); /* among the relays just learnt */
}

static struct service *ice_service(struct node *n)
{
    struct ice *ice = n->ice;
    if (!ice->svc) {
        struct service_config c;
        service_config_default(&c);
        c.lifetime = ICE_RELAY_LIFETIME;
        c.load_interval = ICE_LOAD_INTERVAL;
        ice->svc = service_new(&n->env, n, &c);
    }
    return ice->svc;
}

/* A lookup that found nothing is repeated after ICE_FIND_RETRY, doubling up to 12 times that. */
static void find_later(struct node *n)
{
    struct ice *ice = n->ice;
    env_time d = ICE_FIND_RETRY << MIN(ice->find_fails, 3u);
    ice->find_fails++;
    if (!ice->find_timer)
        ice->find_timer = env_timer_start(&n->env, MIN(d, 12 * ICE_FIND_RETRY), find_retry, n);
}

/* Service mode: a joined node without a relay from the directory (or whose relay failed and
 * whose list ran out) looks the relay service up, unless a retry is pending.  A public node
 * does so too, once: it needs no relay, but learns the providers, among which the home relay
 * of a node whose configured relay failed is computed (relay_index_of). */
static void ice_find_relay(struct node *n)
{
    struct ice *ice = n->ice;
    if (n->cfg->ice.discovery != NODE_ICE_RELAYS_SERVICE || ice->finding || ice->offer ||
        ice->find_timer || ice->found || !ice->have_srflx || n->state != NODE_JOINED)
        return;
    if (!ice->spread) {
        /* The first lookup waits up to ICE_FIND_RETRY, at random: the nodes that start
         * together do not all read the same records (relays still storing theirs, loads not
         * yet updated) at the same moment. */
        ice->spread = true;
        ice->find_timer =
            env_timer_start(&n->env, 1 + env_random(&n->env) % ICE_FIND_RETRY, find_retry, n);
        return;
    }
    const char *name = n->cfg->ice.relay_service ? n->cfg->ice.relay_service : "relay";
    ice->finding = true;
    if (service_find(ice_service(n), name, relay_found, n) != NODE_OK) {
        ice->finding = false;
        find_later(n);
    }
}

/* Relay i failed (its link, or a registration): avoided for ICE_RELAY_DEAD; the peers that
 * advertised it fall back to their computed relay; when it was this node's own, another one
 * takes over. */
static void relay_failed(struct node *n, unsigned i)
{
    struct ice *ice = n->ice;
    if (!n->cfg->ice.failover || relay_dead(n, i))
        return;
    int own = own_index(n), home_before = relay_index_of(n, &n->self);
    R(ice, i)->dead_until = env_now(&n->env) + ICE_RELAY_DEAD;
    ice->stats.relays_failed++;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, ice->peers);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        struct ice_peer *p = v;
        if (p->have_relay && p->relay == i)
            p->have_relay = false;
    }
    if (is_relay(n, &n->self))
        return;
    if ((int)i != own) {
        int home = relay_index_of(n, &n->self);
        if ((int)i == home_before && home >= 0 && home != own && !relay_dead(n, (unsigned)home))
            node_attach_direct(n, &R(ice, (unsigned)home)->peer); /* the new home, at once */
        return;
    }
    int next = next_ranked(n);
    if (next < 0 && ice->found) {
        /* the list ran out: the computed relay serves until a new lookup answers */
        ice->found = false;
        ice->own = -1;
        ice_find_relay(n);
    }
    if (next < 0)
        next = relay_index_of(n, &n->self); /* the next configured one */
    if (next >= 0 && !relay_dead(n, (unsigned)next))
        relay_use(n, next, NODE_RELAY_FAILOVER);
}

bool ice_is_relay(struct node *n)
{
    return is_relay(n, &n->self);
}

void ice_link_failed(struct node *n, const struct id *peer)
{
    int r = relay_find(n, peer);
    if (r >= 0 && !id_eq(peer, &n->self))
        relay_failed(n, (unsigned)r);
}

static void ice_keepalive(void *arg)
{
    struct node *n = arg;
    struct ice *ice = n->ice;
    ice->keepalive = env_timer_start(&n->env, n->cfg->ice.keepalive, ice_keepalive, n);
    ice_register(n);
    clients_prune(n);
    ice_find_relay(n);
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

static void advertise(void *arg)
{
    struct node *n = arg;
    struct ice *ice = n->ice;
    ice->advert_timer = 0;
    if (ice->offer)
        service_advertise(ice_service(n), ice->offer, &n->addr, WIRE_CAND_HOST, ice->offer_capacity,
                          ice->clients ? g_hash_table_size(ice->clients) : 0);
}

/* Joined: a relay advertises itself, a node behind a NAT looks its relay up (service mode).
 * The advertisement waits up to ICE_ADVERT_SPREAD, at random: relays that join together (an
 * instant ring) do not all Store before the peers that route the Stores are up. */
static void ice_joined(struct node *n)
{
    struct ice *ice = n->ice;
    if (ice->offer && !ice->advert_timer)
        ice->advert_timer =
            env_timer_start(&n->env, 1 + env_random(&n->env) % ICE_ADVERT_SPREAD, advertise, n);
    ice_find_relay(n);
}

bool node_ice_relay(const struct node *n, struct node_peer *out)
{
    if (!n->ice || is_relay(n, &n->self))
        return false;
    int i = own_index(n);
    if (i < 0)
        return false;
    *out = R(n->ice, (unsigned)i)->peer;
    return !id_eq(&out->id, &n->self);
}

int node_ice_offer_relay(struct node *n, const char *name, uint32_t capacity)
{
    if (!n->ice)
        return NODE_E_STATE;
    if (!service_name_ok(name))
        return NODE_E_INVALID;
    g_free(n->ice->offer);
    n->ice->offer = g_strdup(name);
    n->ice->offer_capacity = capacity;
    if (n->state == NODE_JOINED)
        ice_joined(n);
    return NODE_OK;
}

unsigned node_ice_relay_clients(const struct node *n)
{
    if (!n->ice || !n->ice->clients)
        return 0;
    env_time now = env_now(&n->env), max_age = 3 * n->cfg->ice.keepalive;
    unsigned k = 0;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, n->ice->clients);
    while (g_hash_table_iter_next(&it, NULL, &v))
        k += now - ((env_time)(uintptr_t)v - 1) <= max_age;
    return k;
}

void ice_start(struct node *n)
{
    struct ice *ice = n->ice;
    if (n->state == NODE_JOINED)
        ice_joined(n);
    if (ice->started)
        return;
    ice->started = true;
    ice_register(n);
    env_time k = n->cfg->ice.keepalive;
    if (k)
        ice->keepalive =
            env_timer_start(&n->env, k / 2 + env_random(&n->env) % k, ice_keepalive, n);
}
