/* node.c — one RELOAD node: link layer, forwarding, transactions and method dispatch.
 *
 * RFC 6940 §6.1 (message receipt and forwarding), §6.2 (symmetric recursive routing: requests
 * grow a via list, responses travel the reversed via list), §6.3.2 (TTL, overlay hash),
 * §6.2.1 (transaction ids, end-to-end retransmission with the overlay-reliability-timer,
 * duplicate requests within the 15 s request lifetime), §6.6.2–6.6.3 (FramedMessage: every
 * data frame is acknowledged; a neighbour that stops acknowledging is a failed link, which is
 * how the topology learns of crashed peers) and §6.5.1 (Attach: how a node learns the address
 * of a Node-ID; a host candidate, plus with NAT traversal on the srflx and relay candidates
 * and checks of ice.c), §6.5.2 (AppAttach, the same for an
 * application such as SIP: node_app_attach / node_app_listen).
 *
 * Via lists: the RFC has the *receiver* append the previous hop, which it knows from the
 * (D)TLS connection.  Without DTLS a receiver cannot tell a sender's Node-ID from its address,
 * so here the *sender* appends itself just before transmission.  Every receiver still sees
 * exactly the via list RFC 6940 describes, except that the first link's copy already names the
 * origin; the response's destination list is the reversed via list, as §6.2.2 requires.
 * Hop count: the overlay links a request crossed = the length of its via list on arrival.
 */
#include "node_int.h"

#include <string.h>

#include "bamboo.h"

struct txn {
    uint64_t txid;
    uint16_t code;
    uint8_t dest_type;
    uint32_t slot; /* its index in node->txns */
    struct id dest_id;
    bool has_first_hop;
    struct env_addr first_hop;
    GBytes *msg; /* the encoded request, resent unchanged on retransmission */
    env_time started;
    unsigned transmissions;
    env_timer timer;
    node_txn_fn done;
    void *arg;
    struct node *node;
};

/* node->txns: the pending transactions and, once there are many, their index by id (see
 * txn_find).  The index pointer shares the array's allocation: no cost in struct node, and
 * none in the heap either (4k pointers plus 8 bytes stay in the same malloc size class). */
struct txn_table {
    GHashTable *index; /* txid -> struct txn *; NULL until TXN_INDEX_MIN are pending */
    struct txn *v[];   /* the n_txns pending, in the order node_free goes through them */
};

/* The duplicate-request cache is a queue in answer order (every entry lives request_lifetime,
 * so the head expires first) indexed by transaction id: a lookup costs O(1) however many
 * requests a busy peer answered in the last 15 s.  A request answered twice (a duplicate that
 * arrived before its first answer) has a chain of entries, oldest first; the index holds the
 * oldest, whose response a duplicate gets. */
struct dup_entry {
    uint64_t txid;
    env_time expires;
    GBytes *response;        /* encoded response, routed again on a duplicate */
    struct dup_entry *newer; /* the next entry of the same txid, or NULL */
};

/* User operations (lookup, store, fetch) waiting for their transaction. */
enum op_type { OP_LOOKUP, OP_STORE, OP_FETCH };
struct op {
    enum op_type type;
    uint64_t cookie;
    struct id key;
    env_time started;
    node_store_cb store_cb;
    node_fetch_cb fetch_cb;
    void *ud;
    uint32_t rejected; /* fetched values that failed the security checks */
    struct id signer;  /* the verified signer of the first value kept */
};

static void route_out(struct node *n, struct wire_header *h, const uint8_t *msg, size_t len,
                      size_t hdr_len, bool forwarding);
struct hop_frame;
static void hop_free(struct hop_frame *f);
static void hop_reroute(struct node *n, const struct id *to);
static void deliver_local(struct node *n, const struct wire_header *h, const uint8_t *msg,
                          size_t len, size_t hdr_len);
static void txn_transmit(struct txn *t);
static void attach_done(struct node *n, void *arg, int status, const struct wire_message *resp);
struct attach_ctx {
    node_attach_fn cb;
    void *arg;
    bool quiet;        /* traversal's own Attach: no topology callback */
    bool have_target;  /* the Attach went to Node-ID target */
    struct id target;
};
static int error_status(const struct wire_message *resp);
static bool can_originate(const struct node *n);

/* ---- configuration and kinds ------------------------------------------------------------ */

void node_config_default(struct node_config *c)
{
    memset(c, 0, sizeof *c);
    c->overlay = id_overlay_hash("p2psip.example");
    c->initial_ttl = 100;
    c->reliability_timer = 3 * ENV_S;
    c->max_transmissions = 5;
    c->request_lifetime = 15 * ENV_S;
    c->link_rto = 500 * ENV_MS;
    c->link_fail_after = 3;
    c->successors = 4;
    c->predecessors = 4;
    c->replicas = 2;
    c->fingers_min = 16;
    c->update_interval = 60 * ENV_S;
    c->ping_interval = 60 * ENV_S;
    c->reactive = true;
    c->client = false;
    c->max_value_size = 64 * 1024;
    c->partition_interval = 120 * ENV_S;
    c->topology = NODE_TOPOLOGY_CHORD;
    c->bamboo.digit_bits = 4;
    c->bamboo.leaf_set = 8;
    c->bamboo.leafset_interval = 5 * ENV_S;
    c->bamboo.table_interval = 10 * ENV_S;
    c->bamboo.reactive = false;
    c->bamboo.pns = true;
    c->bamboo.rto_floor = 100 * ENV_MS;
    c->bamboo.rto_cap = 5 * ENV_S;
    c->superpeer.is_super = false;
    c->superpeer.replicas = 2;
    c->superpeer.keepalive = 15 * ENV_S;
    c->ice.keepalive = 20 * ENV_S;
    c->ice.check_interval = 200 * ENV_MS;
    c->ice.check_rounds = 5;
    c->ice.failover = true;
}

/* The kinds this build knows, without limits of their own (max_value_size applies).  Their
 * policies (enforced only with a security provider; docs/security.md): SIP-REGISTRATION and
 * the service directory are dictionaries keyed by the storing node's Node-ID, so NODE-KEY-MATCH
 * (RFC 7904's USER-NODE-MATCH without its user half: a peer registers the phones it serves,
 * docs/sip.md); the private-use value kinds (the simulator's workload, `p2psip store`) admit
 * any verified signer. */
static const struct node_kind builtin_kinds[] = {
    {.id = NODE_KIND_SIP_REGISTRATION, .model = WIRE_MODEL_DICTIONARY,
     .access = NODE_ACCESS_NODE_KEY_MATCH},
    {.id = NODE_KIND_VALUE, .model = WIRE_MODEL_SINGLE},
    {.id = NODE_KIND_ARRAY, .model = WIRE_MODEL_ARRAY},
    {.id = NODE_KIND_DICT, .model = WIRE_MODEL_DICTIONARY},
    {.id = NODE_KIND_SERVICE, .model = WIRE_MODEL_DICTIONARY, .access = NODE_ACCESS_NODE_KEY_MATCH},
};

const struct node_kind *node_kind_find(const struct node *n, uint32_t kind)
{
    for (unsigned i = 0; n && i < n->cfg->n_kinds; i++)
        if (n->cfg->kinds[i].id == kind)
            return &n->cfg->kinds[i];
    for (size_t i = 0; i < G_N_ELEMENTS(builtin_kinds); i++)
        if (builtin_kinds[i].id == kind)
            return &builtin_kinds[i];
    return NULL;
}

int node_kind_model(uint32_t kind, void *node)
{
    const struct node_kind *k = node_kind_find(node, kind);
    return k ? k->model : 0;
}

uint16_t node_config_sequence(const struct node *n)
{
    return n->cfg->config_seq;
}

/* ---- life cycle ------------------------------------------------------------------------- */

struct node *node_new(const struct env *env, const struct node_config *cfg, const struct id *self,
                      const struct env_addr *addr)
{
    struct node *n = g_new0(struct node, 1);
    n->env = *env;
    n->cfg = cfg; /* borrowed: shared with every node of this configuration */
    n->self = *self;
    id_to_bytes(self, n->self_bytes);
    n->addr = *addr;
    n->state = NODE_IDLE;
    n->born = env_now(env);
    g_queue_init(&n->dup_cache);
    /* The store is created by the first Store (storage.c). */
    if (!cfg->client)
        n->topo = cfg->topology == NODE_TOPOLOGY_BAMBOO      ? bamboo_new(n)
                  : cfg->topology == NODE_TOPOLOGY_SUPERPEER ? superpeer_new(n)
                                                             : chord_new(n);
    /* Bamboo retransmits hop by hop with per-neighbour timeouts (frames awaiting an ACK). */
    if (!cfg->client && cfg->topology == NODE_TOPOLOGY_BAMBOO)
        n->hops = g_ptr_array_new();
    if (!cfg->client && cfg->ice.enabled)
        n->ice = ice_new(n);
    return n;
}

static void txn_free(struct txn *t)
{
    env_timer_stop(&t->node->env, t->timer);
    g_bytes_unref(t->msg);
    g_free(t);
}

static void dup_free(struct dup_entry *d)
{
    g_bytes_unref(d->response);
    g_free(d);
}

/* Drops the entries whose request lifetime has ended. */
static void dup_expire(struct node *n, env_time now)
{
    struct dup_entry *d;
    while ((d = g_queue_peek_head(&n->dup_cache)) && d->expires <= now) {
        g_queue_pop_head(&n->dup_cache);
        /* The oldest entry of all is the oldest of its txid: the indexed one. */
        if (d->newer)
            g_hash_table_replace(n->dup_index, &d->newer->txid, d->newer);
        else
            g_hash_table_remove(n->dup_index, &d->txid);
        dup_free(d);
    }
}

void node_free(struct node *n)
{
    if (!n)
        return;
    for (unsigned i = 0; i < n->n_txns; i++) {
        struct txn *t = n->txns->v[i];
        /* A pending request's arg is g_malloc'd memory (node_int.h); an Attach's wraps the
         * caller's own. */
        if (t->done == attach_done && t->arg)
            g_free(((struct attach_ctx *)t->arg)->arg);
        if (t->done == redundant_path_done)
            redundant_path_free(t->arg); /* one of k paths sharing a state (redundant.c) */
        else
            g_free(t->arg);
        txn_free(t);
    }
    if (n->txns && n->txns->index)
        g_hash_table_destroy(n->txns->index);
    g_free(n->txns);
    struct dup_entry *d;
    while ((d = g_queue_pop_head(&n->dup_cache)))
        dup_free(d);
    if (n->dup_index)
        g_hash_table_destroy(n->dup_index);
    env_timer_stop(&n->env, n->link_timer);
    env_timer_stop(&n->env, n->maint_timer);
    env_timer_stop(&n->env, n->join_timer);
    if (n->hops) {
        for (guint i = 0; i < n->hops->len; i++)
            hop_free(n->hops->pdata[i]);
        g_ptr_array_free(n->hops, TRUE);
    }
    if (n->topo)
        n->topo->ops->destroy(n->topo);
    ice_free(n->ice);
    configupdate_free(n);
    client_free(n);
    storage_free(n->store);
    g_free(n->conns);
    g_free(n->apps);
    g_free(n);
}

/* ---- connection table -------------------------------------------------------------------- */

/* Milliseconds since the node was created, plus one so that 0 can mean "none". */
static uint32_t node_ms(const struct node *n)
{
    return (uint32_t)((env_now(&n->env) - n->born) / ENV_MS) + 1;
}

struct conn *node_conn_find(struct node *n, const struct id *id)
{
    for (unsigned i = 0; i < n->n_conns; i++)
        if (id_eq(&n->conns[i].id, id))
            return &n->conns[i];
    return NULL;
}

/* The Connection Table is kept sorted by address: every received datagram (half of them
 * ACKs, which name no Node-ID) is matched by address, so that lookup is a binary search. */
static int addr_cmp(const struct env_addr *a, const struct env_addr *b)
{
    if (a->ip != b->ip)
        return a->ip < b->ip ? -1 : 1;
    return a->port < b->port ? -1 : a->port > b->port;
}

/* Index of the first entry whose address is >= a. */
static unsigned conn_lower_bound(const struct node *n, const struct env_addr *a)
{
    unsigned lo = 0, hi = n->n_conns;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (addr_cmp(&n->conns[mid].addr, a) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct conn *conn_find_addr(struct node *n, const struct env_addr *a)
{
    unsigned i = conn_lower_bound(n, a);
    return i < n->n_conns && env_addr_eq(&n->conns[i].addr, a) ? &n->conns[i] : NULL;
}

static void conn_remove_at(struct node *n, unsigned i)
{
    memmove(&n->conns[i], &n->conns[i + 1], (n->n_conns - i - 1) * sizeof *n->conns);
    n->n_conns--;
}

/* heard: a datagram from id just arrived from addr.  With NAT traversal an address that is
 * only claimed (a routing table's, a candidate) never replaces one that is known to work. */
static struct conn *conn_add(struct node *n, const struct id *id, const struct env_addr *addr,
                             bool heard)
{
    if (id_eq(id, &n->self))
        return NULL;
    struct conn *c = node_conn_find(n, id);
    if (c) {
        if (env_addr_eq(&c->addr, addr) || (n->ice && !heard && node_conn_verified(c)))
            return c;
        /* The node moved (or restarted): a new association, at its new place. */
        conn_remove_at(n, (unsigned)(c - n->conns));
    }
    /* An address now used by another Node-ID (a peer restarted with a new id) is replaced. */
    c = conn_find_addr(n, addr);
    if (c)
        conn_remove_at(n, (unsigned)(c - n->conns));
    /* Grow by a few entries at a time: tables are small and memory per peer counts. */
    if (n->n_conns == n->cap_conns) {
        n->cap_conns = (uint16_t)(n->cap_conns + 4);
        n->conns = g_renew(struct conn, n->conns, n->cap_conns);
    }
    unsigned i = conn_lower_bound(n, addr);
    memmove(&n->conns[i + 1], &n->conns[i], (n->n_conns - i) * sizeof *n->conns);
    n->n_conns++;
    c = &n->conns[i];
    memset(c, 0, sizeof *c);
    c->id = *id;
    c->addr = *addr;
    c->last_tx_ms = node_ms(n); /* counts as use: the idle clock starts now */
    return c;
}

struct conn *node_conn_add(struct node *n, const struct id *id, const struct env_addr *addr)
{
    return conn_add(n, id, addr, false);
}

void node_conn_remove(struct node *n, const struct id *id)
{
    for (unsigned i = 0; i < n->n_conns; i++)
        if (id_eq(&n->conns[i].id, id)) {
            conn_remove_at(n, i);
            return;
        }
}

/* ---- link layer: FramedMessage, ACKs, failure detection (§6.6.2–6.6.3) ---------------- */

static void emit_sent(struct node *n, uint16_t code, size_t bytes)
{
    n->stats.msgs_sent++;
    n->stats.bytes_sent += bytes;
    if (n->env.ops->event) {
        struct env_event ev = {.type = ENV_EV_MSG_SENT, .code = code, .bytes = (uint32_t)bytes};
        env_event(&n->env, &ev);
    }
}

static env_time link_timeout(const struct node *n)
{
    return n->cfg->link_rto * (n->cfg->link_fail_after ? n->cfg->link_fail_after : 1);
}

static void link_check(void *arg);

static void link_arm(struct node *n, env_time delay)
{
    if (!n->link_timer)
        n->link_timer = env_timer_start(&n->env, delay, link_check, n);
}

static void link_failed(struct node *n, struct id id)
{
    n->stats.links_failed++;
    node_conn_remove(n, &id);
    /* A client moves to its next peer first: the event's host sees where it went. */
    if (n->client)
        client_link_failed(n, &id);
    if (n->env.ops->event) {
        struct env_event ev = {.type = ENV_EV_LINK_FAILED, .responder = id};
        env_event(&n->env, &ev);
    }
    if (n->ice)
        ice_link_failed(n, &id);
    if (n->topo)
        n->topo->ops->peer_lost(n->topo, &id);
    hop_reroute(n, &id);
}

static void link_check(void *arg)
{
    struct node *n = arg;
    n->link_timer = 0;
    uint32_t now = node_ms(n), tmo = (uint32_t)(link_timeout(n) / ENV_MS), next = 0;
    struct id dead[16];
    unsigned n_dead = 0;
    for (unsigned i = 0; i < n->n_conns; i++) {
        const struct conn *c = &n->conns[i];
        if (!c->unacked_ms)
            continue;
        uint32_t due = c->unacked_ms + tmo;
        if (due <= now && n_dead < G_N_ELEMENTS(dead))
            dead[n_dead++] = c->id;
        else if (!next || due - now < next)
            next = due > now ? due - now : 1;
    }
    if (next)
        link_arm(n, (env_time)next * ENV_MS);
    for (unsigned i = 0; i < n_dead; i++)
        link_failed(n, dead[i]);
}

/* ---- Bamboo: per-neighbour timeouts, hop-by-hop retransmission ----------------------------
 * With the Bamboo topology (Rhea et al., USENIX 2004, §5.2) a data frame sent to a neighbour
 * is kept until that neighbour acknowledges it.  One not acknowledged within bamboo_timeout()
 * (srtt + 4 rttvar of that neighbour, within [rto_floor, rto_cap]) is sent again, so a lost
 * message is retried soon on a fast link and late on a slow one; after link_fail_after
 * transmissions the link has failed: the topology drops the neighbour and every message still
 * waiting on that link is routed again, around it.  This replaces the fixed link_rto failure
 * detection for Bamboo; the end-to-end retransmission of §6.2.1 stays as the last resort. */
struct hop_frame {
    struct node *node;
    struct id to;
    uint32_t seq;   /* sequence number of the latest transmission */
    unsigned tries; /* transmissions so far */
    uint16_t code;
    env_timer timer;
    GBytes *msg; /* the message as sent, its via list ending with this node */
};

static bool hop_by_hop(const struct node *n)
{
    return n->hops != NULL;
}

static void hop_free(struct hop_frame *f)
{
    env_timer_stop(&f->node->env, f->timer);
    g_bytes_unref(f->msg);
    g_free(f);
}

static void link_send(struct node *n, struct conn *c, const struct env_addr *to, GByteArray *b,
                      uint16_t code);
static void link_failed(struct node *n, struct id id);

static void hop_timeout(void *arg)
{
    struct hop_frame *f = arg;
    struct node *n = f->node;
    f->timer = 0;
    struct conn *c = node_conn_find(n, &f->to);
    if (c && f->tries < MAX(n->cfg->link_fail_after, 1u)) {
        gsize len;
        const uint8_t *p = g_bytes_get_data(f->msg, &len);
        GByteArray *b = g_byte_array_sized_new((guint)len + WIRE_FRAME_DATA_OVERHEAD);
        g_byte_array_set_size(b, WIRE_FRAME_DATA_OVERHEAD);
        g_byte_array_append(b, p, (guint)len);
        link_send(n, c, NULL, b, f->code);
        g_byte_array_free(b, TRUE);
        f->seq = c->tx_seq - 1;
        f->tries++;
        f->timer = env_timer_start(&n->env, bamboo_timeout(n->topo, &f->to), hop_timeout, f);
        return;
    }
    struct id to = f->to;
    if (c)
        link_failed(n, to); /* reroutes f too */
    else
        hop_reroute(n, &to);
}

/* Keeps the frame just sent to c (b: frame header and message) until it is acknowledged. */
static void hop_track(struct node *n, const struct conn *c, const GByteArray *b, uint16_t code)
{
    struct hop_frame *f = g_new0(struct hop_frame, 1);
    f->node = n;
    f->to = c->id;
    f->seq = c->tx_seq - 1;
    f->tries = 1;
    f->code = code;
    f->msg = g_bytes_new(b->data + WIRE_FRAME_DATA_OVERHEAD, b->len - WIRE_FRAME_DATA_OVERHEAD);
    f->timer = env_timer_start(&n->env, bamboo_timeout(n->topo, &c->id), hop_timeout, f);
    g_ptr_array_add(n->hops, f);
}

/* An ACK from c of sequence seq, with the §6.6.2 bitmask of other sequences received. */
static void hop_acked(struct node *n, const struct conn *c, uint32_t seq, uint32_t received)
{
    for (guint i = 0; i < n->hops->len;) {
        struct hop_frame *f = n->hops->pdata[i];
        uint32_t d = seq - f->seq;
        if (id_eq(&f->to, &c->id) && (d == 0 || (d < 32 && (received >> d & 1)))) {
            g_ptr_array_remove_index(n->hops, i);
            hop_free(f);
        } else {
            i++;
        }
    }
}

/* Routes again every message that was waiting on the link to `to`, which has failed. */
static void hop_reroute(struct node *n, const struct id *to)
{
    if (!n->hops)
        return;
    GPtrArray *mine = g_ptr_array_new();
    for (guint i = 0; i < n->hops->len;) {
        struct hop_frame *f = n->hops->pdata[i];
        if (id_eq(&f->to, to)) {
            g_ptr_array_remove_index(n->hops, i);
            g_ptr_array_add(mine, f);
        } else {
            i++;
        }
    }
    struct wire_header *h = g_new(struct wire_header, 1);
    for (guint i = 0; i < mine->len; i++) {
        struct hop_frame *f = mine->pdata[i];
        gsize len;
        const uint8_t *p = g_bytes_get_data(f->msg, &len);
        size_t hl;
        struct id last;
        struct id first;
        /* A route through the failed peer (a source route, a response's reversed via list)
         * cannot be repaired here: such a message is left to end-to-end retransmission. */
        if (wire_decode_header(p, len, h, &hl) == 0 &&
            !(h->n_dest > 1 && h->dest[0].type == WIRE_DEST_NODE &&
              wire_dest_id(&h->dest[0], &first) == 0 && id_eq(&first, to))) {
            /* This node appended itself when sending; send_remote appends it again. */
            if (h->n_via && wire_dest_id(&h->via[h->n_via - 1], &last) == 0 &&
                id_eq(&last, &n->self))
                h->n_via--;
            route_out(n, h, p, len, hl, false);
        }
        hop_free(f);
    }
    g_free(h);
    g_ptr_array_free(mine, TRUE);
}

/* Frames and sends the message in b (which starts with WIRE_FRAME_DATA_OVERHEAD spare bytes)
 * to conn c, or to the bare address when c is NULL (bootstrap, a client's peer). */
static void link_send(struct node *n, struct conn *c, const struct env_addr *to, GByteArray *b,
                      uint16_t code)
{
    uint32_t seq = 0;
    if (c) {
        seq = c->tx_seq++;
        c->last_tx_ms = node_ms(n);
        if (!c->unacked_ms)
            c->unacked_ms = c->last_tx_ms;
        if (!hop_by_hop(n))
            link_arm(n, link_timeout(n));
        to = &c->addr;
    }
    size_t mlen = b->len - WIRE_FRAME_DATA_OVERHEAD;
    uint8_t *p = b->data;
    p[0] = WIRE_FRAME_DATA;
    p[1] = (uint8_t)(seq >> 24);
    p[2] = (uint8_t)(seq >> 16);
    p[3] = (uint8_t)(seq >> 8);
    p[4] = (uint8_t)seq;
    p[5] = (uint8_t)(mlen >> 16);
    p[6] = (uint8_t)(mlen >> 8);
    p[7] = (uint8_t)mlen;
    env_send(&n->env, to, b->data, b->len);
    emit_sent(n, code, b->len);
}

static void link_ack(struct node *n, const struct env_addr *to, uint32_t seq, uint32_t received)
{
    uint8_t a[9] = {WIRE_FRAME_ACK,
                    (uint8_t)(seq >> 24),
                    (uint8_t)(seq >> 16),
                    (uint8_t)(seq >> 8),
                    (uint8_t)seq,
                    (uint8_t)(received >> 24),
                    (uint8_t)(received >> 16),
                    (uint8_t)(received >> 8),
                    (uint8_t)received};
    env_send(&n->env, to, a, sizeof a);
    emit_sent(n, 0, sizeof a);
}

/* An RTT sample (ms) from the ACK of the newest frame (RFC 6940 §6.6.3.1 refers to RFC 6298:
 * SRTT and RTTVAR with gains 1/8 and 1/4), kept in units of 100 us, saturating. */
static void rtt_sample(struct conn *c, uint32_t ms)
{
    uint32_t r = MIN(ms * 10, 65535u);
    if (!c->srtt) {
        c->srtt = (uint16_t)MAX(r, 1u);
        c->rttvar = (uint16_t)(r / 2);
        return;
    }
    uint32_t diff = r > c->srtt ? r - c->srtt : c->srtt - r;
    c->rttvar = (uint16_t)((3u * c->rttvar + diff) / 4);
    c->srtt = (uint16_t)MAX((7u * c->srtt + r) / 8, 1u);
}

bool node_peer_rtt(const struct node *n, const struct id *peer, env_time *srtt, env_time *rttvar)
{
    for (unsigned i = 0; i < n->n_conns; i++)
        if (id_eq(&n->conns[i].id, peer)) {
            if (!n->conns[i].srtt)
                return false;
            *srtt = (env_time)n->conns[i].srtt * 100;
            *rttvar = (env_time)n->conns[i].rttvar * 100;
            return true;
        }
    return false;
}

/* Records sequence seq in c's receive window and returns the §6.6.2 received bitmask: bit d
 * set when seq - d (1 <= d <= 31) is among the packets received. */
static uint32_t rx_window(struct conn *c, uint32_t seq)
{
    if (!(c->rx_mask & 1)) {
        c->rx_last = seq;
        c->rx_mask = 1;
    } else if (seq > c->rx_last) {
        uint32_t d = seq - c->rx_last;
        c->rx_mask = d >= 32 ? 1 : (c->rx_mask << d) | (1u << d) | 1;
        c->rx_last = seq;
    } else if (seq < c->rx_last && c->rx_last - seq < 32) {
        c->rx_mask |= 1u << (c->rx_last - seq);
    }
    if (seq == c->rx_last)
        return c->rx_mask & ~1u;
    return 0;
}

/* ---- building and routing messages ------------------------------------------------------ */

static void header_init(const struct node *n, struct wire_header *h, uint64_t txid)
{
    memset(h, 0, offsetof(struct wire_header, via));
    h->overlay = n->cfg->overlay;
    h->config_seq = n->cfg->config_seq;
    h->version = WIRE_VERSION;
    h->ttl = n->cfg->initial_ttl;
    h->fragment = WIRE_FRAGMENT_LAST;
    h->txid = txid;
    h->options.p = NULL;
    h->options.len = 0;
}

/* Signs with cfg's provider as self (§6.3.4): overlay || transaction_id || MessageContents
 * (the provider appends the SignerIdentity itself); the encoded Signature goes to sig and
 * self's certificate to certs, which *sec then points into.  0, or the provider's negative
 * code with *sec left unsigned. */
static int sign_message(const struct node_config *cfg, const struct id *self,
                        const struct wire_header *h, uint16_t code, const struct wire_bytes *body,
                        GByteArray *sig, GByteArray *certs, struct wire_security *sec)
{
    const struct node_security_ops *ops = cfg->security.ops;
    GByteArray *contents = g_byte_array_sized_new(16 + body->len);
    wire_encode_contents(contents, code, body, NULL);
    GByteArray *in = g_byte_array_sized_new(12 + contents->len);
    wire_message_input(in, h->overlay, h->txid, contents->data, contents->len);
    int rc = ops->sign(cfg->security.ud, self, in->data, in->len, sig);
    if (rc == 0 && (rc = wire_decode_signature(sig->data, sig->len, &sec->sig)) == 0) {
        ops->certificates(cfg->security.ud, self, certs);
        sec->certificates = (struct wire_bytes){certs->data, certs->len};
    } else {
        wire_security_none(sec);
        rc = rc < 0 ? rc : -1;
    }
    g_byte_array_unref(in);
    g_byte_array_unref(contents);
    return rc;
}

/* node_encode_message, with extra certificates (GenericCertificate entries, NULL: none)
 * after self's own in the bucket. */
static int encode_signed(const struct node_config *cfg, const struct id *self,
                         const struct wire_header *h, uint16_t code, const struct wire_bytes *body,
                         const GByteArray *extra, GByteArray *out)
{
    struct wire_security sec;
    wire_security_none(&sec);
    if (!cfg->security.ops) {
        wire_encode_message(out, h, code, body, NULL, &sec);
        return 0;
    }
    GByteArray *sig = g_byte_array_sized_new(128), *certs = g_byte_array_sized_new(640);
    int rc = sign_message(cfg, self, h, code, body, sig, certs, &sec);
    if (rc == 0 && extra && extra->len) {
        g_byte_array_append(certs, extra->data, extra->len);
        sec.certificates = (struct wire_bytes){certs->data, certs->len};
    }
    wire_encode_message(out, h, code, body, NULL, &sec);
    g_byte_array_unref(sig);
    g_byte_array_unref(certs);
    return rc;
}

int node_encode_message(const struct node_config *cfg, const struct id *self,
                        const struct wire_header *h, uint16_t code, const struct wire_bytes *body,
                        GByteArray *out)
{
    return encode_signed(cfg, self, h, code, body, NULL, out);
}

/* Encodes a message this node originates; signed when the node has a security provider, its
 * certificates bucket holding this node's certificate and then certs (borrowed; NULL: none).
 * When the provider cannot sign as this node the message goes out unsigned (every receiver
 * with security will drop it), logged at WARN on the node's first message. */
static GBytes *encode_message_certs(struct node *n, const struct wire_header *h, uint16_t code,
                                    const GByteArray *body, const GByteArray *certs)
{
    GByteArray *b = g_byte_array_sized_new(64 + (body ? body->len : 0) + 40 * (h->n_via + h->n_dest));
    struct wire_bytes bb = {body ? body->data : NULL, body ? body->len : 0};
    int rc = encode_signed(n->cfg, &n->self, h, code, &bb, certs, b);
    if (rc < 0) {
        const struct node_security_ops *ops = n->cfg->security.ops;
        char hex[ID_HEX_LEN + 1];
        id_to_hex(&n->self, hex);
        env_logf(&n->env, n->stats.msgs_sent ? ENV_LOG_DEBUG : ENV_LOG_WARN,
                 "cannot sign as node-id=%s (%s): messages go out unsigned and will be dropped",
                 hex, ops->strerror ? ops->strerror(rc) : "provider error");
    }
    return g_byte_array_free_to_bytes(b);
}

static GBytes *encode_message(struct node *n, const struct wire_header *h, uint16_t code,
                              const GByteArray *body)
{
    return encode_message_certs(n, h, code, body, NULL);
}

static uint16_t message_code(const uint8_t *msg, size_t len, size_t hdr_len)
{
    if (hdr_len + 2 > len)
        return 0;
    return (uint16_t)(msg[hdr_len] << 8 | msg[hdr_len + 1]);
}

/* Sends msg (with its decoded header h, possibly modified) over the network to conn c or to
 * address to, appending this node to the via list first (see the file comment).  A message
 * being forwarded loses one TTL first; one whose TTL is spent is dropped (§6.3.2). */
static void send_remote(struct node *n, struct wire_header *h, const uint8_t *msg, size_t len,
                        size_t hdr_len, struct conn *c, const struct env_addr *to, bool forwarding)
{
    if (h->n_via >= WIRE_MAX_LIST || (forwarding && h->ttl == 0)) {
        n->stats.dropped_ttl++;
        return;
    }
    uint8_t ttl = h->ttl;
    if (forwarding) {
        h->ttl--;
        n->stats.forwarded++;
    }
    wire_dest_node(&h->via[h->n_via++], n->self_bytes);
    GByteArray *b = g_byte_array_sized_new((guint)len + 64);
    g_byte_array_set_size(b, WIRE_FRAME_DATA_OVERHEAD);
    wire_reencode_header(b, h, msg, len, hdr_len);
    link_send(n, c, to, b, message_code(msg, len, hdr_len));
    if (c && hop_by_hop(n))
        hop_track(n, c, b, message_code(msg, len, hdr_len));
    g_byte_array_free(b, TRUE);
    h->n_via--;
    h->ttl = ttl;
}

/* NAT traversal (ice.c): sends msg towards peer `to` (the first destination or the next hop)
 * over a verified connection, else through to's relay with `to` pushed in front of the
 * destination list, so that the relay forwards it by §6.1's rule (a destination it is
 * connected to); the relay's via entry then brings the answer back the same way.  False when
 * neither applies: the caller sends to the address its tables hold, as without traversal. */
static bool ice_route(struct node *n, struct wire_header *h, const uint8_t *msg, size_t len,
                      size_t hdr_len, const struct id *to, bool forwarding)
{
    struct conn *c = node_conn_find(n, to);
    if (c && node_conn_verified(c)) {
        send_remote(n, h, msg, len, hdr_len, c, NULL, forwarding);
        return true;
    }
    const struct node_peer *r = ice_relay_for(n, to);
    struct id first;
    bool push = !(h->dest[0].type == WIRE_DEST_NODE && wire_dest_id(&h->dest[0], &first) == 0 &&
                  id_eq(&first, to));
    if (!r || (push && h->n_dest >= WIRE_MAX_LIST))
        return false;
    struct node_peer relay = *r;
    uint8_t to_bytes[ID_BYTES];
    if (push) {
        id_to_bytes(to, to_bytes);
        memmove(&h->dest[1], &h->dest[0], h->n_dest * sizeof h->dest[0]);
        wire_dest_node(&h->dest[0], to_bytes);
        h->n_dest++;
    }
    struct conn *rc = node_conn_find(n, &relay.id);
    if (!rc)
        rc = node_conn_add(n, &relay.id, &relay.addr);
    send_remote(n, h, msg, len, hdr_len, rc, NULL, forwarding);
    if (push) {
        h->n_dest--;
        memmove(&h->dest[0], &h->dest[1], h->n_dest * sizeof h->dest[0]);
    }
    ice_relayed(n, &relay, to);
    return true;
}

bool node_routes(const struct node *n)
{
    return n->topo && (n->state == NODE_JOINED);
}

/* Decides where the message goes next (§6.1): to this node, to a directly connected node
 * named by the first destination, or to the topology's next hop. */
static void route_out(struct node *n, struct wire_header *h, const uint8_t *msg, size_t len,
                      size_t hdr_len, bool forwarding)
{
    for (;;) {
        if (h->n_dest == 0) {
            deliver_local(n, h, msg, len, hdr_len);
            return;
        }
        struct id d;
        if (wire_dest_id(&h->dest[0], &d) < 0) {
            n->stats.dropped_malformed++;
            return;
        }
        /* A received message for the wildcard Node-ID is ours and never forwarded (§6.1.1):
         * how a node reaches a peer it knows by address only (a configured relay, ice.c). */
        if (h->dest[0].type == WIRE_DEST_NODE &&
            (id_eq(&d, &n->self) || (forwarding && id_is_wildcard(&d)))) {
            memmove(&h->dest[0], &h->dest[1], (h->n_dest - 1) * sizeof h->dest[0]);
            h->n_dest--;
            continue;
        }
        struct conn *c = h->dest[0].type == WIRE_DEST_NODE ? node_conn_find(n, &d) : NULL;
        /* A relay passes a message relayed to it (its first destination a peer, more behind)
         * only over a verified connection to that peer, never on through the overlay or
         * another relay: relays whose views of failed relays differ (failover) would hand it
         * back and forth, each pushing the peer again (ice.c). */
        if (n->ice && forwarding && h->dest[0].type == WIRE_DEST_NODE && h->n_dest > 1 &&
            !(c && node_conn_verified(c)) && ice_is_relay(n) && n->cfg->ice.failover) {
            env_logf(&n->env, ENV_LOG_DEBUG, "relay: no connection to the client; dropped");
            return;
        }
        /* A Node-ID that traversal knows (not, say, a point of the id space that a topology
         * Attaches to in order to find whoever is responsible for it). */
        if (n->ice && h->dest[0].type == WIRE_DEST_NODE && (c || ice_knows(n, &d)) &&
            ice_route(n, h, msg, len, hdr_len, &d, forwarding))
            return;
        /* A relay forwards only to the peers connected to it (TURN-like): routing a message
         * for an absent client on through the overlay would bring it back here. */
        if (n->ice && !c && forwarding && h->dest[0].type == WIRE_DEST_NODE && h->n_dest > 1 &&
            ice_serves(n, &d)) {
            env_logf(&n->env, ENV_LOG_DEBUG, "relay: no connection to the client; dropped");
            return;
        }
        if (c) {
            send_remote(n, h, msg, len, hdr_len, c, NULL, forwarding);
            return;
        }
        if (n->cfg->client) {
            /* A client sends everything through its peer and forwards nothing (§4.2.1). */
            if (n->have_client_peer && !forwarding)
                send_remote(n, h, msg, len, hdr_len, conn_find_addr(n, &n->client_peer),
                            &n->client_peer, false);
            return;
        }
        if (n->topo && n->topo->ops->responsible(n->topo, &d) &&
            (n->state == NODE_JOINED || n->state == NODE_LEAVING)) {
            deliver_local(n, h, msg, len, hdr_len);
            return;
        }
        struct node_peer next;
        if (n->topo && n->topo->ops->next_hop(n->topo, &d, &next)) {
            /* A hostile node (simulation only, adversary.c) may drop, misroute or answer. */
            if (forwarding && n->cfg->adversary.active &&
                adversary_forward(n, h, msg, len, hdr_len, &next))
                return;
            if (n->ice && ice_route(n, h, msg, len, hdr_len, &next.id, forwarding))
                return;
            c = node_conn_find(n, &next.id);
            if (!c)
                c = node_conn_add(n, &next.id, &next.addr);
            send_remote(n, h, msg, len, hdr_len, c, NULL, forwarding);
            return;
        }
        env_logf(&n->env, ENV_LOG_DEBUG, "no route for a message; dropped");
        return;
    }
}

/* Routes an encoded message that this node originates. */
static void route_bytes(struct node *n, GBytes *msg)
{
    gsize len;
    const uint8_t *p = g_bytes_get_data(msg, &len);
    struct wire_header h;
    size_t hl;
    if (wire_decode_header(p, len, &h, &hl) < 0)
        return;
    route_out(n, &h, p, len, hl, false);
}

/* ---- transactions (§6.2.1) --------------------------------------------------------------- */

/* The pending transactions are an array (node->txns->v) that each txn knows its slot in.
 * Most nodes have 0-2 pending, and a scan of them is cheapest; a node with TXN_INDEX_MIN
 * pending (a SIP peer under load has thousands) gets an index by transaction id as well, kept
 * for the rest of its life, so answers are matched in O(1). */
#define TXN_INDEX_MIN 16

static struct txn *txn_find(struct node *n, uint64_t txid)
{
    if (!n->txns)
        return NULL;
    if (n->txns->index)
        return g_hash_table_lookup(n->txns->index, &txid);
    for (unsigned i = 0; i < n->n_txns; i++)
        if (n->txns->v[i]->txid == txid)
            return n->txns->v[i];
    return NULL;
}

static void txn_add(struct node *n, struct txn *t)
{
    if (n->n_txns == n->cap_txns) {
        g_assert(n->cap_txns < G_MAXUINT32 / 2);
        bool first = !n->txns;
        n->cap_txns += n->cap_txns < 64 ? 4u : n->cap_txns / 2u;
        n->txns = g_realloc(n->txns, sizeof *n->txns + n->cap_txns * sizeof n->txns->v[0]);
        if (first)
            n->txns->index = NULL;
    }
    struct txn_table *tt = n->txns;
    t->slot = n->n_txns;
    tt->v[n->n_txns++] = t;
    if (tt->index) {
        g_hash_table_insert(tt->index, &t->txid, t);
    } else if (n->n_txns >= TXN_INDEX_MIN) {
        tt->index = g_hash_table_new(g_int64_hash, g_int64_equal);
        for (unsigned i = 0; i < n->n_txns; i++)
            g_hash_table_insert(tt->index, &tt->v[i]->txid, tt->v[i]);
    }
}

static void txn_finish(struct node *n, struct txn *t, int status, const struct wire_message *resp)
{
    unsigned i = t->slot;
    struct txn_table *tt = n->txns;
    if (i >= n->n_txns || tt->v[i] != t)
        return;
    if (tt->index)
        g_hash_table_remove(tt->index, &t->txid);
    tt->v[i] = tt->v[--n->n_txns];
    tt->v[i]->slot = i;
    node_txn_fn done = t->done;
    void *arg = t->arg;
    n->finishing_transmissions = t->transmissions;
    txn_free(t);
    if (done)
        done(n, arg, status, resp);
}

static void txn_timeout(void *arg)
{
    struct txn *t = arg;
    struct node *n = t->node;
    t->timer = 0;
    if (t->transmissions >= n->cfg->max_transmissions) {
        txn_finish(n, t, NODE_E_TIMEOUT, NULL);
        return;
    }
    n->stats.retransmissions++;
    txn_transmit(t);
}

static void txn_transmit(struct txn *t)
{
    struct node *n = t->node;
    t->transmissions++;
    t->timer = env_timer_start(&n->env, n->cfg->reliability_timer, txn_timeout, t);
    gsize len;
    const uint8_t *p = g_bytes_get_data(t->msg, &len);
    struct wire_header h;
    size_t hl;
    if (wire_decode_header(p, len, &h, &hl) < 0)
        return;
    if (t->has_first_hop)
        send_remote(n, &h, p, len, hl, conn_find_addr(n, &t->first_hop), &t->first_hop, false);
    else
        route_out(n, &h, p, len, hl, false);
}

uint64_t node_request(struct node *n, const struct node_dest *dest, size_t n_dest, uint16_t code,
                      const GByteArray *body, const struct env_addr *first_hop, node_txn_fn done,
                      void *arg)
{
    return node_request_certs(n, dest, n_dest, code, body, first_hop, done, arg, NULL);
}

uint64_t node_request_certs(struct node *n, const struct node_dest *dest, size_t n_dest,
                            uint16_t code, const GByteArray *body,
                            const struct env_addr *first_hop, node_txn_fn done, void *arg,
                            const GByteArray *certs)
{
    uint64_t txid;
    do
        txid = env_random(&n->env);
    while (txid == 0 || txn_find(n, txid));
    struct wire_header h;
    header_init(n, &h, txid);
    uint8_t ids[WIRE_MAX_LIST][ID_BYTES];
    g_assert(n_dest > 0 && n_dest <= WIRE_MAX_LIST);
    for (size_t i = 0; i < n_dest; i++) {
        id_to_bytes(&dest[i].id, ids[i]);
        if (dest[i].type == WIRE_DEST_RESOURCE)
            wire_dest_resource(&h.dest[i], ids[i], ID_BYTES);
        else
            wire_dest_node(&h.dest[i], ids[i]);
    }
    h.n_dest = (uint16_t)n_dest;
    struct txn *t = g_new0(struct txn, 1);
    t->txid = txid;
    t->code = code;
    t->dest_type = dest[n_dest - 1].type;
    t->dest_id = dest[n_dest - 1].id;
    if (first_hop) {
        t->has_first_hop = true;
        t->first_hop = *first_hop;
    }
    t->msg = encode_message_certs(n, &h, code, body, certs);
    t->started = env_now(&n->env);
    t->done = done;
    t->arg = arg;
    t->node = n;
    txn_add(n, t);
    txn_transmit(t);
    return txid;
}

/* Builds the response header for request req: destination list = reversed via list. */
static void response_header(struct node *n, const struct wire_message *req, struct wire_header *h)
{
    header_init(n, h, req->h.txid);
    for (uint16_t i = 0; i < req->h.n_via; i++)
        h->dest[i] = req->h.via[req->h.n_via - 1 - i];
    h->n_dest = req->h.n_via;
}

static bool cached_request(uint16_t code)
{
    return code == WIRE_STORE_REQ || code == WIRE_JOIN_REQ || code == WIRE_LEAVE_REQ;
}

/* cache: keep the response for duplicates of the request (§6.2.1), as for every answer to a
 * Store, Join or Leave -- but not for the refusal of a request whose signature failed, which
 * must not pre-empt the answer to a genuine request of the same transaction id. */
static void send_response_certs(struct node *n, const struct wire_message *req, uint16_t code,
                                const GByteArray *body, bool cache, const GByteArray *certs)
{
    struct wire_header h;
    response_header(n, req, &h);
    GBytes *msg = encode_message_certs(n, &h, code, body, certs);
    if (cache && cached_request(req->code)) {
        struct dup_entry *d = g_new0(struct dup_entry, 1);
        d->txid = req->h.txid;
        d->expires = env_now(&n->env) + n->cfg->request_lifetime;
        d->response = g_bytes_ref(msg);
        g_queue_push_tail(&n->dup_cache, d);
        if (!n->dup_index)
            n->dup_index = g_hash_table_new(g_int64_hash, g_int64_equal);
        struct dup_entry *old = g_hash_table_lookup(n->dup_index, &d->txid);
        if (old) {
            while (old->newer)
                old = old->newer;
            old->newer = d;
        } else {
            g_hash_table_insert(n->dup_index, &d->txid, d);
        }
    }
    route_bytes(n, msg);
    g_bytes_unref(msg);
}

static void send_response_as(struct node *n, const struct wire_message *req, uint16_t code,
                             const GByteArray *body, bool cache)
{
    send_response_certs(n, req, code, body, cache, NULL);
}

static void send_response(struct node *n, const struct wire_message *req, uint16_t code,
                          const GByteArray *body)
{
    send_response_as(n, req, code, body, true);
}

void node_respond_certs(struct node *n, const struct wire_message *req, uint16_t code,
                        const GByteArray *body, const GByteArray *certs)
{
    send_response_certs(n, req, code, body, true, certs);
}

void node_respond(struct node *n, const struct wire_message *req, uint16_t code,
                  const GByteArray *body)
{
    send_response(n, req, code, body);
}

void node_respond_error(struct node *n, const struct wire_message *req, uint16_t error_code,
                        const char *info)
{
    GByteArray *b = g_byte_array_new();
    struct wire_error e = {.code = error_code,
                           .info = {(const uint8_t *)info, info ? (uint32_t)strlen(info) : 0}};
    wire_encode_error(b, &e);
    send_response(n, req, WIRE_ERROR, b);
    g_byte_array_free(b, TRUE);
}

static bool dup_resend(struct node *n, uint64_t txid)
{
    dup_expire(n, env_now(&n->env));
    struct dup_entry *d = n->dup_index ? g_hash_table_lookup(n->dup_index, &txid) : NULL;
    if (!d)
        return false;
    route_bytes(n, d->response);
    return true;
}

/* ---- methods handled by the node itself ------------------------------------------------- */

static void on_ping(struct node *n, const struct wire_message *m)
{
    struct wire_ping_req req;
    if (wire_decode_ping_req(m->body.p, m->body.len, &req) < 0) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad PingReq");
        return;
    }
    GByteArray *b = g_byte_array_new();
    struct wire_ping_ans a = {.response_id = env_random(&n->env),
                              .time = env_now(&n->env) / 1000};
    wire_encode_ping_ans(b, &a);
    node_respond(n, m, WIRE_PING_ANS, b);
    g_byte_array_free(b, TRUE);
}

static void attach_body(struct node *n, GByteArray *b, bool send_update, bool answering_direct)
{
    static const uint8_t ufrag[] = "p2psip", pwd[] = "p2psip-no-ice";
    struct wire_attach a;
    memset(&a, 0, sizeof a);
    a.ufrag.p = ufrag;
    a.ufrag.len = sizeof ufrag - 1;
    a.password.p = pwd;
    a.password.len = sizeof pwd - 1;
    a.role.p = (const uint8_t *)"passive";
    a.role.len = 7;
    a.n_candidates = 1;
    a.candidates[0].addr = n->addr;
    a.candidates[0].overlay_link = WIRE_LINK_DTLS_UDP_SR_NO_ICE;
    a.candidates[0].foundation.p = (const uint8_t *)"1";
    a.candidates[0].foundation.len = 1;
    a.candidates[0].priority = (126u << 24) | (65535u << 8) | 255u; /* host, RFC 8445 §5.1.2 */
    a.candidates[0].type = WIRE_CAND_HOST;
    a.send_update = send_update;
    uint8_t ext[ICE_EXT_BYTES];
    if (n->ice)
        ice_candidates(n, &a, answering_direct, ext);
    wire_encode_attach(b, &a);
}

/* The first IPv4 candidate of an Attach body. */
static bool attach_addr(const struct wire_attach *a, struct env_addr *out)
{
    for (uint16_t i = 0; i < a->n_candidates; i++)
        if (!a->candidates[i].is_v6) {
            *out = a->candidates[i].addr;
            return true;
        }
    return false;
}

/* The sender of a request: the first via entry (the origin). */
static bool request_origin(const struct wire_message *m, struct id *out)
{
    return m->h.n_via > 0 && wire_dest_id(&m->h.via[0], out) == 0 &&
           m->h.via[0].type == WIRE_DEST_NODE;
}

static void on_attach(struct node *n, const struct wire_message *m)
{
    struct wire_attach a;
    struct id origin;
    struct env_addr addr;
    if (wire_decode_attach(m->body.p, m->body.len, &a) < 0 || !request_origin(m, &origin) ||
        !attach_addr(&a, &addr)) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad AttachReq");
        return;
    }
    /* Straight from its origin (a one-entry via list, §6.2): the datagram's source is the
     * origin's reflexive address, which the answer reports (ice.c). */
    bool direct = m->h.n_via == 1;
    GByteArray *b = g_byte_array_new();
    attach_body(n, b, false, direct);
    node_respond(n, m, WIRE_ATTACH_ANS, b);
    g_byte_array_free(b, TRUE);
    /* Without traversal the candidate is used as it is; with it the checks start (ice.c).
     * The attacher enters the Connection Table only, not the routing table (§10.5 step 3). */
    if (n->ice)
        ice_on_attach_req(n, &origin, &a, direct);
    else
        node_conn_add(n, &origin, &addr);
    /* send_update asks for our routing table in an Update (§6.5.1.1). */
    if (n->topo && a.send_update)
        n->topo->ops->send_update(n->topo, &origin);
}

static void attach_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct attach_ctx *ctx = arg;
    struct wire_attach a;
    struct node_peer p;
    memset(&p, 0, sizeof p);
    if (status == NODE_OK) {
        if (resp->h.n_via > 0 && wire_dest_id(&resp->h.via[0], &p.id) == 0 &&
            wire_decode_attach(resp->body.p, resp->body.len, &a) == 0 && attach_addr(&a, &p.addr)) {
            if (n->ice)
                ice_on_attach_ans(n, &p.id, &a, resp->h.n_via == 1);
            else
                node_conn_add(n, &p.id, &p.addr);
            if (n->topo && !ctx->quiet)
                n->topo->ops->peer_connected(n->topo, &p);
        } else {
            status = NODE_E_REFUSED;
        }
    }
    if (status != NODE_OK && n->ice && ctx->have_target)
        ice_attach_failed(n, &ctx->target);
    if (ctx->cb)
        ctx->cb(n, ctx->arg, status, status == NODE_OK ? &p : NULL);
    g_free(ctx);
}

static void attach_send(struct node *n, const struct node_dest *d, size_t nd, bool send_update,
                        const struct env_addr *first_hop, bool quiet, node_attach_fn cb,
                        void *arg)
{
    GByteArray *b = g_byte_array_new();
    attach_body(n, b, send_update, false);
    struct attach_ctx *ctx = g_new0(struct attach_ctx, 1);
    ctx->cb = cb;
    ctx->arg = arg;
    ctx->quiet = quiet;
    if (d[nd - 1].type == WIRE_DEST_NODE) {
        ctx->have_target = true;
        ctx->target = d[nd - 1].id;
    }
    node_request(n, d, nd, WIRE_ATTACH_REQ, b, first_hop, attach_done, ctx);
    g_byte_array_free(b, TRUE);
}

void node_attach(struct node *n, const struct id *target, const struct id *through,
                 node_attach_fn cb, void *arg)
{
    struct node_dest d[2];
    size_t nd = 0;
    if (through && !id_eq(through, &n->self) && !id_eq(through, target))
        d[nd++] = (struct node_dest){WIRE_DEST_NODE, *through};
    d[nd++] = (struct node_dest){WIRE_DEST_NODE, *target};
    attach_send(n, d, nd, false, NULL, false, cb, arg);
}

void node_attach_bootstrap(struct node *n, const struct id *resource,
                           const struct env_addr *bootstrap, node_attach_fn cb, void *arg)
{
    struct node_dest d = {WIRE_DEST_RESOURCE, *resource};
    const struct node_peer *r;
    /* ice.c: the join's bootstrap peer, known by Node-ID, is reached through its relay. */
    if (n->ice && n->have_join_bootstrap_id && env_addr_eq(bootstrap, &n->join_bootstrap) &&
        (r = ice_relay_for(n, &n->join_bootstrap_id)) != NULL) {
        struct node_dest dd[2] = {{WIRE_DEST_NODE, n->join_bootstrap_id}, d};
        attach_send(n, dd, 2, true, &r->addr, false, cb, arg);
        return;
    }
    attach_send(n, &d, 1, true, bootstrap, false, cb, arg);
}

void node_attach_quiet(struct node *n, const struct id *target)
{
    struct node_dest d = {WIRE_DEST_NODE, *target};
    attach_send(n, &d, 1, false, NULL, true, NULL, NULL);
}

void node_attach_direct(struct node *n, const struct node_peer *p)
{
    struct node_dest d = {WIRE_DEST_NODE, p->id};
    attach_send(n, &d, 1, false, &p->addr, true, NULL, NULL);
}

void node_send_check(struct node *n, const struct id *to, const struct env_addr *addr)
{
    struct wire_header h;
    header_init(n, &h, env_random(&n->env) | 1);
    uint8_t id[ID_BYTES];
    id_to_bytes(to, id);
    wire_dest_node(&h.dest[0], id);
    h.n_dest = 1;
    GByteArray *body = g_byte_array_new();
    struct wire_ping_req req = {{NULL, 0}};
    wire_encode_ping_req(body, &req);
    GBytes *msg = encode_message(n, &h, WIRE_PING_REQ, body);
    g_byte_array_free(body, TRUE);
    gsize len;
    const uint8_t *p = g_bytes_get_data(msg, &len);
    size_t hl;
    if (wire_decode_header(p, len, &h, &hl) == 0)
        send_remote(n, &h, p, len, hl, NULL, addr, false);
    g_bytes_unref(msg);
}

/* ---- AppAttach (§6.5.2) ----------------------------------------------------------------- */

static const struct env_addr *app_find(const struct node *n, uint16_t application)
{
    for (unsigned i = 0; i < n->n_apps; i++)
        if (n->apps[i].application == application)
            return &n->apps[i].addr;
    return NULL;
}

void node_app_listen(struct node *n, uint16_t application, const struct env_addr *addr)
{
    for (unsigned i = 0; i < n->n_apps; i++)
        if (n->apps[i].application == application) {
            if (addr)
                n->apps[i].addr = *addr;
            else
                n->apps[i] = n->apps[--n->n_apps];
            return;
        }
    if (addr && n->n_apps < NODE_MAX_APPS) {
        if (!n->apps) /* few nodes serve applications: no room in the others */
            n->apps = g_new(struct node_app, NODE_MAX_APPS);
        n->apps[n->n_apps].application = application;
        n->apps[n->n_apps].data_cb = NULL;
        n->apps[n->n_apps++].addr = *addr;
    }
}

/* An AppAttachReq/Ans body: one host candidate (as attach_body's) at addr. */
static void app_attach_body(GByteArray *b, uint16_t application, bool active,
                            const struct env_addr *addr)
{
    static const uint8_t ufrag[] = "p2psip", pwd[] = "p2psip-no-ice";
    struct wire_app_attach a;
    memset(&a, 0, sizeof a);
    a.ufrag.p = ufrag;
    a.ufrag.len = sizeof ufrag - 1;
    a.password.p = pwd;
    a.password.len = sizeof pwd - 1;
    a.application = application;
    a.role.p = (const uint8_t *)(active ? "active" : "passive");
    a.role.len = active ? 6 : 7;
    a.n_candidates = 1;
    a.candidates[0].addr = *addr;
    a.candidates[0].overlay_link = WIRE_LINK_DTLS_UDP_SR_NO_ICE;
    a.candidates[0].foundation.p = (const uint8_t *)"1";
    a.candidates[0].foundation.len = 1;
    a.candidates[0].priority = (126u << 24) | (65535u << 8) | 255u; /* host, RFC 8445 §5.1.2 */
    a.candidates[0].type = WIRE_CAND_HOST;
    wire_encode_app_attach(b, &a);
}

static void on_app_attach(struct node *n, const struct wire_message *m)
{
    struct wire_app_attach req;
    if (wire_decode_app_attach(m->body.p, m->body.len, &req) < 0) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad AppAttachReq");
        return;
    }
    const struct env_addr *addr = app_find(n, req.application);
    if (!addr) {
        node_respond_error(n, m, WIRE_ERR_NOT_FOUND, "no such application"); /* §6.5.2.2 */
        return;
    }
    /* The requester's candidate is not needed: the application answers its datagrams at their
     * source address. */
    GByteArray *b = g_byte_array_new();
    app_attach_body(b, req.application, false, addr);
    node_respond(n, m, WIRE_APP_ATTACH_ANS, b);
    g_byte_array_free(b, TRUE);
}

struct app_attach_ctx {
    uint16_t application;
    node_app_attach_cb cb;
    void *ud;
};

static void app_attach_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct app_attach_ctx *ctx = arg;
    struct wire_app_attach a;
    struct id peer;
    struct env_addr addr = {0, 0};
    bool have = false;
    if (status == NODE_E_REFUSED)
        status = error_status(resp);
    if (status == NODE_OK) {
        if (resp->h.n_via > 0 && wire_dest_id(&resp->h.via[0], &peer) == 0 &&
            wire_decode_app_attach(resp->body.p, resp->body.len, &a) == 0 &&
            a.application == ctx->application)
            for (uint16_t i = 0; i < a.n_candidates && !have; i++)
                if (!a.candidates[i].is_v6) {
                    addr = a.candidates[i].addr;
                    have = true;
                }
        if (!have)
            status = NODE_E_REFUSED;
    }
    if (ctx->cb)
        ctx->cb(ctx->ud, status, have ? &peer : NULL, have ? &addr : NULL);
    g_free(ctx);
}

int node_app_attach(struct node *n, const struct wire_dest *dest, size_t n_dest,
                    uint16_t application, node_app_attach_cb cb, void *ud)
{
    struct node_dest d[16]; /* as many as a route holds (RFC 7904's lists are short) */
    if (n_dest == 0 || n_dest > G_N_ELEMENTS(d))
        return NODE_E_INVALID;
    for (size_t i = 0; i < n_dest; i++) {
        if ((dest[i].type != WIRE_DEST_NODE && dest[i].type != WIRE_DEST_RESOURCE) ||
            wire_dest_id(&dest[i], &d[i].id) < 0)
            return NODE_E_INVALID;
        d[i].type = dest[i].type;
    }
    if (!can_originate(n))
        return NODE_E_STATE;
    const struct env_addr *mine = app_find(n, application);
    GByteArray *b = g_byte_array_new();
    app_attach_body(b, application, true, mine ? mine : &n->addr);
    struct app_attach_ctx *ctx = g_new(struct app_attach_ctx, 1);
    ctx->application = application;
    ctx->cb = cb;
    ctx->ud = ud;
    node_request(n, d, n_dest, WIRE_APP_ATTACH_REQ, b, NULL, app_attach_done, ctx);
    g_byte_array_free(b, TRUE);
    return NODE_OK;
}

void node_app_attach_cancel(struct node *n, const void *ud)
{
    for (unsigned i = 0; i < n->n_txns; i++) {
        struct txn *t = n->txns->v[i];
        struct app_attach_ctx *ctx = t->done == app_attach_done ? t->arg : NULL;
        if (ctx && ctx->ud == ud)
            ctx->cb = NULL;
    }
}

bool node_can_originate(const struct node *n)
{
    return can_originate(n);
}

static void on_request(struct node *n, const struct wire_message *m)
{
    if (cached_request(m->code) && dup_resend(n, m->h.txid))
        return;
    /* A client answers only what is addressed to it as an endpoint: Ping, AppAttach and
     * AppData (a phone it serves is reached through its peer, docs/clients.md). */
    if (n->cfg->client && m->code != WIRE_PING_REQ && m->code != WIRE_APP_ATTACH_REQ &&
        m->code != WIRE_EXP_A_REQ) {
        node_respond_error(n, m, WIRE_ERR_FORBIDDEN, "a client does not serve requests");
        return;
    }
    if (n->cfg->adversary.active && adversary_on_request(n, m))
        return; /* a hostile node's forgery or refusal (simulation only, adversary.c) */
    switch (m->code) {
    case WIRE_PING_REQ:
        on_ping(n, m);
        break;
    case WIRE_ATTACH_REQ:
        on_attach(n, m);
        break;
    case WIRE_STORE_REQ:
        storage_on_store(n, m);
        break;
    case WIRE_FETCH_REQ:
        storage_on_fetch(n, m);
        break;
    case WIRE_STAT_REQ:
        storage_on_stat(n, m);
        break;
    case WIRE_FIND_REQ:
        storage_on_find(n, m);
        break;
    case WIRE_JOIN_REQ:
    case WIRE_LEAVE_REQ:
    case WIRE_UPDATE_REQ:
    case WIRE_ROUTE_QUERY_REQ:
    case WIRE_PROBE_REQ:
        n->topo->ops->on_request(n->topo, m);
        break;
    case WIRE_APP_ATTACH_REQ:
        on_app_attach(n, m);
        break;
    case WIRE_CONFIG_UPDATE_REQ:
        configupdate_on_request(n, m);
        break;
    case WIRE_EXP_A_REQ: /* AppData, a private extension (appdata.c) */
        appdata_on_request(n, m);
        break;
    default:
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "unsupported method");
        break;
    }
}

/* A whole message addressed to this node. */
/* The decoded header without copying the unused list slots (the struct holds 2 x 128). */
static void header_copy(struct wire_header *dst, const struct wire_header *src)
{
    memcpy(dst, src, offsetof(struct wire_header, via));
    memcpy(dst->via, src->via, src->n_via * sizeof src->via[0]);
    memcpy(dst->dest, src->dest, src->n_dest * sizeof src->dest[0]);
    dst->options = src->options;
}

static void drop(struct node *n, size_t len, const char *why);

/* ---- security: what a message's signature allows (§6.3.4, §13.6.2) ----------------------
 * Only the final receiver verifies (forwarders re-encode only the header, which the signature
 * does not cover).  A message that is unsigned or fails verification is counted
 * (dropped_signature) and never acted upon: an answer is dropped, a request is refused with
 * Error_Forbidden.  That refusal is signed like everything this node sends and is not kept in
 * the duplicate cache; it tells an honest peer that lacks a credential the overlay trusts why
 * it cannot join, at the price of an answer (with our certificate) to an unverified sender.
 * The requests and answers that bind a Node-ID to an address or to a place in the overlay --
 * JoinReq (the joining Node-ID), AttachReq and AttachAns (the origin of the via list), LeaveReq
 * (the leaving Node-ID) -- are acted upon only when the signature names that Node-ID: a peer
 * cannot join, attach or leave as a Node-ID its certificate does not carry.  A refused Join or
 * Attach request counts in refused_join and is logged with the reason. */

/* A message delivered to this node and what its signature said.  Handlers get &rx->m;
 * node_message_signer() answers for the message being handled (rx_current, set by
 * deliver_local for the duration of its dispatch and restored after, since a handler may
 * deliver another message to this or another node synchronously).  Per thread: the simulator
 * may run worlds in parallel threads. */
struct node_rx {
    struct wire_message m;
    struct node_signer who;
    bool verified;
};
static _Thread_local const struct node_rx *rx_current;

const struct node_signer *node_message_signer(const struct wire_message *m)
{
    const struct node_rx *rx = rx_current;
    return rx && &rx->m == m && rx->verified ? &rx->who : NULL;
}

/* The Node-ID message m speaks for, when it is one of the kinds that bind one (above). */
static bool claimed_node(const struct wire_message *m, struct id *out, const char **what)
{
    struct wire_join_req j;
    struct wire_leave_req l;
    switch (m->code) {
    case WIRE_JOIN_REQ:
        *what = "a JoinReq";
        if (wire_decode_join_req(m->body.p, m->body.len, &j) < 0)
            return false; /* the topology answers a malformed body */
        *out = j.joining;
        return true;
    case WIRE_LEAVE_REQ:
        *what = "a LeaveReq";
        if (wire_decode_leave_req(m->body.p, m->body.len, &l) < 0)
            return false;
        *out = l.leaving;
        return true;
    case WIRE_ATTACH_REQ:
    case WIRE_ATTACH_ANS:
        *what = m->code == WIRE_ATTACH_REQ ? "an AttachReq" : "an AttachAns";
        return m->h.n_via > 0 && m->h.via[0].type == WIRE_DEST_NODE &&
               wire_dest_id(&m->h.via[0], out) == 0;
    default:
        *what = NULL;
        return false;
    }
}

/* Checks rx (decoded from msg) against node_config.security; true when it may be acted
 * upon, else it has been counted, logged, and refused or dropped. */
static bool security_check(struct node *n, const uint8_t *msg, struct node_rx *rx)
{
    const struct node_security_ops *ops = n->cfg->security.ops;
    const struct wire_message *m = &rx->m;
    const char *why = NULL;
    if (m->sec.sig.identity_type == WIRE_SIGNER_NONE || m->sec.sig.sig_alg == 0) {
        why = "unsigned";
    } else {
        struct wire_bytes c = wire_message_contents(msg, m);
        GByteArray *in = g_byte_array_sized_new(12 + c.len);
        wire_message_input(in, m->h.overlay, m->h.txid, c.p, c.len);
        int rc = ops->verify(n->cfg->security.ud, m->sec.certificates, &m->sec.sig, in->data,
                             in->len, env_now(&n->env), &rx->who);
        g_byte_array_unref(in);
        if (rc != 0)
            why = ops->strerror ? ops->strerror(rc) : "signature does not verify";
    }
    bool bad_sig = why != NULL;
    struct id claimed;
    const char *what;
    bool claims = claimed_node(m, &claimed, &what);
    if (!why && claims && !id_eq(&claimed, &rx->who.node))
        why = "signed as another Node-ID than the one it introduces";
    if (!why) {
        rx->verified = true;
        return true;
    }
    bool request = m->code != WIRE_ERROR && (m->code & 1);
    struct id from;
    char hex[ID_HEX_LEN + 1] = "unknown";
    if (m->h.n_via > 0 && m->h.via[0].type == WIRE_DEST_NODE &&
        wire_dest_id(&m->h.via[0], &from) == 0)
        id_to_hex(&from, hex);
    if (request && (m->code == WIRE_JOIN_REQ || m->code == WIRE_ATTACH_REQ)) {
        /* Admission (§13.6.2): without a credential the overlay trusts, a peer cannot join. */
        env_logf(&n->env, n->stats.refused_join ? ENV_LOG_INFO : ENV_LOG_WARN,
                 "refused %s from node-id=%s: %s", what, hex, why);
        n->stats.refused_join++;
        if (bad_sig)
            n->stats.dropped_signature++;
    } else if (n->stats.dropped_signature++ == 0) {
        env_logf(&n->env, ENV_LOG_WARN,
                 "dropped a message (code 0x%04x from node-id=%s): %s; further ones are only "
                 "counted",
                 (unsigned)m->code, hex, why);
    } else {
        env_logf(&n->env, ENV_LOG_DEBUG, "dropped a message (code 0x%04x from node-id=%s): %s",
                 (unsigned)m->code, hex, why);
    }
    if (request) {
        char info[128];
        g_snprintf(info, sizeof info, "signature: %s", why);
        GByteArray *b = g_byte_array_new();
        struct wire_error e = {.code = WIRE_ERR_FORBIDDEN,
                               .info = {(const uint8_t *)info, (uint32_t)strlen(info)}};
        wire_encode_error(b, &e);
        send_response_as(n, m, WIRE_ERROR, b, false);
        g_byte_array_free(b, TRUE);
    }
    return false;
}

static void deliver_local(struct node *n, const struct wire_header *h, const uint8_t *msg,
                          size_t len, size_t hdr_len)
{
    /* The header is already decoded (and possibly modified: destinations popped); only the
     * contents and security block remain.  Everything points into msg, borrowed for the
     * duration of the call. */
    struct node_rx rx; /* about 4 KiB: on the stack, not the heap */
    struct wire_message *m = &rx.m;
    rx.verified = false;
    if (wire_decode_contents(msg, len, hdr_len, m) < 0) {
        drop(n, len, "malformed message contents");
        return;
    }
    header_copy(&m->h, h);
    if (n->cfg->security.ops && !security_check(n, msg, &rx))
        return;
    if (n->cfg->config_doc)
        configupdate_seen(n, m);
    const struct node_rx *outer = rx_current;
    rx_current = &rx;
    if (m->code == WIRE_ERROR || (m->code & 1) == 0) {
        struct txn *t = txn_find(n, m->h.txid);
        if (t)
            txn_finish(n, t, m->code == WIRE_ERROR ? NODE_E_REFUSED : NODE_OK, m);
    } else {
        on_request(n, m);
    }
    rx_current = outer;
}

/* ---- receiving ------------------------------------------------------------------------- */

static void drop(struct node *n, size_t len, const char *why)
{
    n->stats.dropped_malformed++;
    env_logf(&n->env, ENV_LOG_DEBUG, "dropped a datagram of %zu bytes: %s", len, why);
    if (n->env.ops->event) {
        struct env_event ev = {.type = ENV_EV_MSG_DROPPED, .bytes = (uint32_t)len};
        env_event(&n->env, &ev);
    }
}

void node_receive(struct node *n, const struct env_addr *from, const uint8_t *buf, size_t len)
{
    if (n->state == NODE_LEFT)
        return;
    n->stats.msgs_received++;
    n->stats.bytes_received += len;
    struct wire_frame f;
    if (wire_decode_frame(buf, len, &f) < 0) {
        drop(n, len, "not a FramedMessage");
        return;
    }
    struct conn *c = conn_find_addr(n, from);
    if (f.type == WIRE_FRAME_ACK) {
        if (c) {
            if (hop_by_hop(n))
                hop_acked(n, c, f.sequence, f.received);
            if (f.sequence + 1 == c->tx_seq) {
                rtt_sample(c, node_ms(n) - c->last_tx_ms);
                c->unacked_ms = 0;
            } else if (c->unacked_ms)
                c->unacked_ms = node_ms(n);
        }
        return;
    }
    struct wire_header hdr_, *h = &hdr_; /* about 4 KiB: on the stack, not the heap */
    size_t hl;
    int rc = wire_decode_header(f.message.p, f.message.len, h, &hl);
    if (rc < 0 || h->length != f.message.len) {
        drop(n, len, "malformed forwarding header");
        return;
    }
    /* Another overlay's message (§6.3.2: the overlay hash detects misconfiguration) is
     * counted and dropped before it touches the link layer: no ACK, no connection. */
    if (h->overlay != n->cfg->overlay) {
        if (n->stats.dropped_overlay++ == 0)
            env_logf(&n->env, ENV_LOG_WARN,
                     "dropped a message for another overlay (hash %08x, ours %08x); further "
                     "ones are only counted",
                     (unsigned)h->overlay, (unsigned)n->cfg->overlay);
        return;
    }
    /* Acknowledge every well-formed data frame (§6.6.3: the receiver only ACKs). */
    struct id prev;
    bool prev_known = h->n_via > 0 && h->via[h->n_via - 1].type == WIRE_DEST_NODE &&
                      wire_dest_id(&h->via[h->n_via - 1], &prev) == 0;
    if (prev_known && !c)
        c = conn_add(n, &prev, from, true);
    else if (prev_known && n->client)
        client_heard(n, c, &prev);
    uint32_t received = c ? rx_window(c, f.sequence) : 0;
    link_ack(n, from, f.sequence, received);
    if (n->ice && prev_known)
        ice_heard(n, &prev, from);
    if (h->ttl > n->cfg->initial_ttl) {
        drop(n, len, "TTL above initial-ttl");
        return;
    }
    if (n->ice)
        ice_set_rx_from(n, from);
    route_out(n, h, f.message.p, f.message.len, hl, true);
    if (n->ice)
        ice_set_rx_from(n, NULL);
}

/* ---- user operations: lookup, store, fetch --------------------------------------------- */

static void report(struct node *n, struct op *op, int status, const struct wire_message *resp,
                   int found)
{
    struct env_event ev = {.status = status, .cookie = op->cookie, .key = op->key, .found = found,
                           .rejected = op->rejected, .signer = op->signer};
    ev.type = op->type == OP_LOOKUP  ? ENV_EV_LOOKUP_DONE
              : op->type == OP_STORE ? ENV_EV_STORE_DONE
                                     : ENV_EV_FETCH_DONE;
    ev.latency = env_now(&n->env) - op->started;
    ev.responder = n->self;
    ev.retransmits = n->finishing_transmissions ? n->finishing_transmissions - 1 : 0;
    if (resp) {
        ev.hops = resp->h.n_via;
        if (resp->h.n_via > 0)
            wire_dest_id(&resp->h.via[0], &ev.responder);
    }
    env_event(&n->env, &ev);
}

static int error_status(const struct wire_message *resp)
{
    struct wire_error e;
    if (resp && wire_decode_error(resp->body.p, resp->body.len, &e) == 0 &&
        e.code == WIRE_ERR_NOT_FOUND)
        return NODE_E_NOT_FOUND;
    return NODE_E_REFUSED;
}

static void op_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct op *op = arg;
    if (status == NODE_E_REFUSED)
        status = error_status(resp);
    switch (op->type) {
    case OP_LOOKUP:
        report(n, op, status, resp, 0);
        break;
    case OP_STORE:
        report(n, op, status, resp, 0);
        if (op->store_cb)
            op->store_cb(op->ud, status);
        break;
    case OP_FETCH: {
        struct wire_fetch_ans ans;
        memset(&ans, 0, sizeof ans);
        int found = 0;
        if (status == NODE_OK) {
            if (wire_decode_fetch_ans(resp->body.p, resp->body.len, &ans, node_kind_model, n) < 0)
                status = NODE_E_REFUSED;
            else
                /* With a provider, values whose signature or policy fails are dropped. */
                op->rejected = storage_check_fetched(n, &op->key, resp->sec.certificates, &ans,
                                                     &op->signer);
            if (status == NODE_OK)
                for (uint32_t k = 0; k < ans.n_kinds; k++)
                    for (uint32_t v = 0; v < ans.kinds[k].n_values; v++)
                        found |= ans.kinds[k].values[v].exists;
            if (status == NODE_OK && !found)
                status = NODE_E_NOT_FOUND;
        }
        report(n, op, status, resp, found);
        if (op->fetch_cb)
            op->fetch_cb(op->ud, status, status == NODE_OK ? &ans : NULL);
        wire_fetch_ans_clear(&ans);
        break;
    }
    }
    g_free(op);
}

static bool can_originate(const struct node *n)
{
    if (n->cfg->client)
        return n->have_client_peer;
    return n->state == NODE_JOINED;
}

static struct op *op_new(struct node *n, enum op_type type, const struct id *key, uint64_t cookie)
{
    struct op *op = g_new0(struct op, 1);
    op->type = type;
    op->key = *key;
    op->cookie = cookie;
    op->started = env_now(&n->env);
    return op;
}

int node_lookup(struct node *n, const struct id *key, uint64_t cookie)
{
    if (!can_originate(n))
        return NODE_E_STATE;
    struct node_dest d = {WIRE_DEST_RESOURCE, *key};
    GByteArray *b = g_byte_array_new();
    struct wire_ping_req req = {{NULL, 0}};
    wire_encode_ping_req(b, &req);
    node_request(n, &d, 1, WIRE_PING_REQ, b, NULL, op_done, op_new(n, OP_LOOKUP, key, cookie));
    g_byte_array_free(b, TRUE);
    return NODE_OK;
}

int node_store(struct node *n, const struct id *res, uint32_t kind, const struct node_value *v,
               uint64_t cookie, node_store_cb cb, void *ud)
{
    const struct node_kind *def = node_kind_find(n, kind);
    if (!def || v->value_len > (def->max_size ? def->max_size : n->cfg->max_value_size))
        return NODE_E_INVALID;
    int model = def->model;
    if (!can_originate(n))
        return NODE_E_STATE;
    uint8_t rid[ID_BYTES];
    id_to_bytes(res, rid);
    struct wire_stored_data sd;
    memset(&sd, 0, sizeof sd);
    sd.storage_time = env_now(&n->env) / 1000;
    sd.lifetime = v->lifetime;
    sd.model = (uint8_t)model;
    sd.index = v->index;
    sd.key.p = v->key;
    sd.key.len = v->key_len;
    sd.exists = v->exists;
    sd.value.p = v->value;
    sd.value.len = v->value_len;
    sd.sig.identity_type = WIRE_SIGNER_NONE;
    /* With a security provider the storer signs the value (§7.1); sig holds the Signature. */
    GByteArray *sig = NULL;
    if (n->cfg->security.ops) {
        sig = g_byte_array_new();
        GByteArray *in = g_byte_array_new();
        wire_stored_data_input(in, rid, ID_BYTES, kind, &sd);
        int rc = n->cfg->security.ops->sign(n->cfg->security.ud, &n->self, in->data, in->len, sig);
        g_byte_array_unref(in);
        if (rc < 0 || wire_decode_signature(sig->data, sig->len, &sd.sig) < 0) {
            g_byte_array_unref(sig);
            return NODE_E_STATE;
        }
    }
    struct wire_store_kind sk = {.kind = kind, .generation = 0, .n_values = 1, .values = &sd};
    struct wire_store_req req = {.resource = {rid, ID_BYTES}, .replica_number = 0,
                                 .n_kinds = 1, .kinds = &sk};
    GByteArray *b = g_byte_array_new();
    wire_encode_store_req(b, &req);
    if (sig)
        g_byte_array_unref(sig);
    struct op *op = op_new(n, OP_STORE, res, cookie);
    op->store_cb = cb;
    op->ud = ud;
    struct node_dest d = {WIRE_DEST_RESOURCE, *res};
    node_request(n, &d, 1, WIRE_STORE_REQ, b, NULL, op_done, op);
    g_byte_array_free(b, TRUE);
    return NODE_OK;
}

GByteArray *node_fetch_all_body(const struct id *res, uint32_t kind, int model)
{
    uint8_t rid[ID_BYTES];
    id_to_bytes(res, rid);
    /* Everything of the kind: an empty key list / an open array range (§7.4.2.1). */
    struct wire_array_range all = {0, INT32_MAX};
    struct wire_specifier sp = {.kind = kind, .generation = 0, .model = (uint8_t)model};
    if (model == WIRE_MODEL_ARRAY) {
        sp.n_ranges = 1;
        sp.ranges = &all;
    }
    struct wire_fetch_req req = {.resource = {rid, ID_BYTES}, .n_specifiers = 1, .specifiers = &sp};
    GByteArray *b = g_byte_array_new();
    wire_encode_fetch_req(b, &req);
    return b;
}

int node_fetch(struct node *n, const struct id *res, uint32_t kind, uint64_t cookie,
               node_fetch_cb cb, void *ud)
{
    int model = node_kind_model(kind, n);
    if (!model)
        return NODE_E_INVALID;
    if (!can_originate(n))
        return NODE_E_STATE;
    GByteArray *b = node_fetch_all_body(res, kind, model);
    struct op *op = op_new(n, OP_FETCH, res, cookie);
    op->fetch_cb = cb;
    op->ud = ud;
    struct node_dest d = {WIRE_DEST_RESOURCE, *res};
    node_request(n, &d, 1, WIRE_FETCH_REQ, b, NULL, op_done, op);
    g_byte_array_free(b, TRUE);
    return NODE_OK;
}

/* ---- joining, leaving, maintenance ------------------------------------------------------ */

static void maintenance(void *arg);

static void maint_arm(struct node *n)
{
    if (!n->maint_timer) {
        env_time period = 30 * ENV_S;
        n->maint_timer = env_timer_start(&n->env, period / 2 + env_random(&n->env) % period,
                                         maintenance, n);
    }
}

/* Periodic housekeeping: expired duplicate-cache entries, idle connections that no routing
 * table refers to, expired stored values. */
static void maintenance(void *arg)
{
    struct node *n = arg;
    n->maint_timer = 0;
    dup_expire(n, env_now(&n->env));
    if (n->topo) {
        /* Connections that no routing table names are kept while they may still carry the
         * response to a request routed through them (twice the request lifetime). */
        struct node_peer rt[256];
        size_t nrt = n->topo->ops->routing_table(n->topo, rt, G_N_ELEMENTS(rt));
        uint32_t keep_ms = (uint32_t)(2 * n->cfg->request_lifetime / ENV_MS), now_ms = node_ms(n);
        for (unsigned i = 0; i < n->n_conns;) {
            const struct conn *c = &n->conns[i];
            bool used = now_ms - c->last_tx_ms < keep_ms || c->unacked_ms;
            for (size_t j = 0; !used && j < nrt; j++)
                used = id_eq(&rt[j].id, &c->id);
            if (!used)
                conn_remove_at(n, i);
            else
                i++;
        }
    }
    if (n->store)
        storage_rebalance(n);
    if (n->state == NODE_JOINED || n->cfg->client)
        maint_arm(n);
}

/* A join that has not completed after NODE_JOIN_RETRY starts again (lost Attach, admitting
 * peer gone): the topology abandons its attempt and makes a new one. */
#define NODE_JOIN_RETRY (20 * ENV_S)

static void join_retry(void *arg)
{
    struct node *n = arg;
    n->join_timer = 0;
    if (n->state != NODE_JOINING)
        return;
    env_logf(&n->env, ENV_LOG_INFO, "%s: join timed out; trying again", n->topo->ops->name);
    n->join_timer = env_timer_start(&n->env, NODE_JOIN_RETRY, join_retry, n);
    n->topo->ops->join(n->topo, &n->join_bootstrap);
}

int node_join(struct node *n, const struct env_addr *bootstrap)
{
    if (n->cfg->client || n->state != NODE_IDLE)
        return NODE_E_STATE;
    n->state = NODE_JOINING;
    n->started = env_now(&n->env);
    if (n->ice)
        ice_start(n);
    if (bootstrap) {
        n->have_join_bootstrap = true; /* node_bootstraps' default */
        n->join_bootstrap = *bootstrap;
        n->join_timer = env_timer_start(&n->env, NODE_JOIN_RETRY, join_retry, n);
    }
    int rc = n->topo->ops->join(n->topo, bootstrap);
    if (rc != NODE_OK) {
        env_timer_stop(&n->env, n->join_timer);
        n->join_timer = 0;
    }
    return rc;
}

int node_join_id(struct node *n, const struct env_addr *bootstrap, const struct id *bootstrap_id)
{
    if (n->cfg->client || n->state != NODE_IDLE)
        return NODE_E_STATE;
    n->join_bootstrap_id = *bootstrap_id;
    n->have_join_bootstrap_id = true;
    return node_join(n, bootstrap);
}

const struct env_addr *node_bootstraps(const struct node *n, unsigned *count)
{
    if (n->cfg->n_bootstraps) {
        *count = n->cfg->n_bootstraps;
        return n->cfg->bootstraps;
    }
    *count = n->have_join_bootstrap ? 1 : 0;
    return &n->join_bootstrap;
}

void node_set_joined(struct node *n)
{
    if (n->state == NODE_JOINED)
        return;
    env_timer_stop(&n->env, n->join_timer);
    n->join_timer = 0;
    n->state = NODE_JOINED;
    maint_arm(n);
    if (n->ice)
        ice_start(n);
    struct env_event ev = {.type = ENV_EV_JOIN_DONE,
                           .latency = env_now(&n->env) - n->started,
                           .responder = n->self};
    env_event(&n->env, &ev);
}

void node_neighbors_changed(struct node *n)
{
    if (n->store && n->state == NODE_JOINED)
        storage_rebalance(n);
}

void node_leave(struct node *n)
{
    if (n->cfg->client || n->state != NODE_JOINED) {
        n->state = NODE_LEFT;
        return;
    }
    n->state = NODE_LEAVING;
    struct node_peer succ;
    if (n->topo->ops->successors(n->topo, &succ, 1) == 1)
        storage_push_all(n, &succ.id);
    n->topo->ops->leave(n->topo);
    n->state = NODE_LEFT;
}

void node_install_view(struct node *n, const struct topology_view *v)
{
    if (n->cfg->client || !n->topo->ops->install_view)
        return;
    n->started = env_now(&n->env);
    n->topo->ops->install_view(n->topo, v);
    node_set_joined(n);
}

void node_install_ring(struct node *n, const struct node_peer *pred, size_t n_pred,
                       const struct node_peer *succ, size_t n_succ,
                       const struct node_peer *fingers, size_t n_fingers)
{
    if (n->cfg->client)
        return;
    n->started = env_now(&n->env);
    n->topo->ops->install(n->topo, pred, n_pred, succ, n_succ, fingers, n_fingers);
    node_set_joined(n);
}

/* ---- introspection ----------------------------------------------------------------------- */

const struct id *node_id(const struct node *n)
{
    return &n->self;
}

bool node_is_joined(const struct node *n)
{
    return n->state == NODE_JOINED;
}

size_t node_routing_table(const struct node *n, struct node_peer *out, size_t max)
{
    return n->topo ? n->topo->ops->routing_table(n->topo, out, max) : 0;
}

size_t node_successors(const struct node *n, struct node_peer *out, size_t max)
{
    return n->topo ? n->topo->ops->successors(n->topo, out, max) : 0;
}

size_t node_predecessors(const struct node *n, struct node_peer *out, size_t max)
{
    return n->topo ? n->topo->ops->predecessors(n->topo, out, max) : 0;
}

size_t node_stored_records(const struct node *n)
{
    return n->store ? storage_records(n->store) : 0;
}

bool node_holds(const struct node *n, const struct id *res, uint32_t kind)
{
    return n->store && storage_holds(n->store, res, kind, env_now(&n->env));
}

const struct node_stats *node_get_stats(const struct node *n)
{
    return &n->stats;
}

size_t node_pending_requests(const struct node *n)
{
    return n->n_txns;
}
