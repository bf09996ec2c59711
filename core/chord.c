/* chord.c — the CHORD-RELOAD topology plug-in, RFC 6940 §10.
 *
 * State: a neighbour table of predecessors and successors (nearest first, §10.1, §10.7) and a
 * finger table holding at most one peer per power-of-two distance slot: slot s covers ids at
 * clockwise distance [2^s, 2^(s+1)) from this node, which is RFC finger i = 128 - s
 * (§10.7.4.2); any peer in the slot is a valid finger, as the RFC's randomised fingers allow.
 *
 * Routing (§10.3): a node responsible for k delivers; otherwise, when its neighbour table shows
 * which peer is responsible for k (k between two consecutive known neighbours), it sends
 * straight there — the RFC's "directly connected" rule extended to the whole neighbour table,
 * which saves the predecessor's extra hop; otherwise it sends to the known peer with the
 * largest id in (self, k], or failing that to the peer just after k.
 *
 * Joining (§10.5): Attach to Resource-ID n+1 through the bootstrap with send_update; the
 * admitting peer (AP) answers and sends its whole routing table in an Update; the joining
 * node Attaches to the neighbours it learns (source-routed through AP, §10.6) and to AP's
 * fingers, then sends Join to AP; AP hands over the data in the new range, takes the joining
 * node as predecessor and Updates its neighbours; the new node Updates its neighbours.
 *
 * Maintenance (§10.7): Updates to every neighbour each update_interval (randomly offset);
 * reactive recovery (chord-reactive) sends them at once, coalesced through a zero-delay
 * timer, whenever the neighbour table changes; a lost neighbour (link failure or Leave) is
 * replaced from the routing table and the new nearest neighbour is asked for its table with
 * RouteQuery(send_update) (§10.8); invalid finger slots are searched every ping_interval with
 * the RFC's exponentially weighted choice (Alternative 1), by an Attach to a random id in
 * the slot.  Leaving (§10.9): Leave with ChordLeaveData to every neighbour.
 * Partition detection (§10.7.4.4): every partition_interval a peer Pings the id after its own
 * through one of its configured bootstrap peers and Attaches to a responder that is not its
 * successor, which merges two rings once a partition heals.
 * Beyond the RFC, Chord's notify (Stoica et al., SIGCOMM 2001, "stabilize"/"notify"): a peer
 * that receives an Update from a peer taking it for its immediate neighbour, while it knows
 * closer peers on that side, answers with its own neighbours (notify_stale), so that a peer
 * in nobody's neighbour table — whom the Updates of §10.7.4.1 never reach — closes the ring.
 */
#include <string.h>

#include "node_int.h"
#include "topology.h"

#define CHORD_MAX_NEIGHBORS 16
#define CHORD_MAX_FINGERS 128

enum { CHORD_LEAVE_FROM_SUCC = 1, CHORD_LEAVE_FROM_PRED = 2 };

/* A finger: a node_peer with its slot packed into what would be padding (24 bytes). */
struct finger {
    struct id id;
    uint32_t ip;
    uint16_t port;
    uint8_t slot;
};

static struct node_peer finger_peer(const struct finger *f)
{
    struct node_peer p = {f->id, {f->ip, f->port}};
    return p;
}

static void finger_set(struct finger *f, const struct node_peer *p)
{
    f->id = p->id;
    f->ip = p->addr.ip;
    f->port = p->addr.port;
}

/* Fields ordered to leave no padding, and the neighbour tables in the same allocation: memory
 * per peer counts (docs/benchmarks.md). */
/* The last two peers told they are stale (notify_stale), and when. */
struct chord_notified {
    struct id id[2];
    env_time at[2];
};

struct chord {
    struct topology base;
    struct node_peer *pred, *succ; /* max_pred() and max_succ() entries, in neighbours[] */
    struct finger *fingers; /* sorted by slot */
    env_timer update_timer, finger_timer, reactive_timer, partition_timer;
    uint8_t n_pred, n_succ;
    uint8_t n_fingers, cap_fingers;
    unsigned partition_round; /* which bootstrap the next partition check goes through */
    /* Joining state. */
    struct node_peer ap;
    bool have_ap;
    bool ap_table; /* AP's Update arrived */
    bool join_sent;
    unsigned pending_attaches;
    uint32_t join_gen; /* tells this join attempt's Attaches from an earlier attempt's */
    /* The last peers told they are stale (on_update), and when: one notice per update
     * interval each. */
    struct chord_notified *notified; /* NULL until the first notice (memory per peer counts) */
    struct node_peer neighbours[]; /* succ's entries, then pred's */
};

static inline struct node *N(const struct chord *c)
{
    return c->base.node;
}

static inline const struct id *SELF(const struct chord *c)
{
    return &c->base.node->self;
}

/* floor(log2(d)) for d != 0: the finger slot of a peer at distance d. */
static int slot_of(const struct id *d)
{
    if (d->hi)
        return 127 - __builtin_clzll(d->hi);
    if (d->lo)
        return 63 - __builtin_clzll(d->lo);
    return -1;
}

/* ---- neighbour and finger tables -------------------------------------------------------- */

static bool in_list(const struct node_peer *l, unsigned n, const struct id *id)
{
    for (unsigned i = 0; i < n; i++)
        if (id_eq(&l[i].id, id))
            return true;
    return false;
}

static bool list_remove(struct node_peer *l, uint8_t *n, const struct id *id)
{
    for (unsigned i = 0; i < *n; i++)
        if (id_eq(&l[i].id, id)) {
            memmove(&l[i], &l[i + 1], (*n - i - 1) * sizeof *l);
            (*n)--;
            return true;
        }
    return false;
}

/* Inserts p into a list kept sorted by dist(p) ascending, capped at max.  succ lists measure
 * dist(self, p), pred lists dist(p, self).  Returns true when the list changed. */
static bool list_insert(const struct chord *c, struct node_peer *l, uint8_t *n, unsigned max,
                        const struct node_peer *p, bool is_pred)
{
    if (in_list(l, *n, &p->id)) {
        for (unsigned i = 0; i < *n; i++)
            if (id_eq(&l[i].id, &p->id))
                l[i].addr = p->addr;
        return false;
    }
    struct id d = is_pred ? id_dist(&p->id, SELF(c)) : id_dist(SELF(c), &p->id);
    unsigned pos = 0;
    while (pos < *n) {
        struct id e = is_pred ? id_dist(&l[pos].id, SELF(c)) : id_dist(SELF(c), &l[pos].id);
        if (id_cmp(&d, &e) < 0)
            break;
        pos++;
    }
    if (pos >= max)
        return false;
    unsigned keep = *n < max ? *n : max - 1;
    memmove(&l[pos + 1], &l[pos], (keep - pos) * sizeof *l);
    l[pos] = *p;
    *n = (uint8_t)(keep + 1);
    return true;
}

static unsigned neighbors_clamp(unsigned m)
{
    return m < 1 ? 1 : m > CHORD_MAX_NEIGHBORS ? CHORD_MAX_NEIGHBORS : m;
}

static unsigned max_succ(const struct chord *c)
{
    return neighbors_clamp(N(c)->cfg->successors);
}

static unsigned max_pred(const struct chord *c)
{
    return neighbors_clamp(N(c)->cfg->predecessors);
}

/* Offers p as a neighbour; returns true when the neighbour table changed. */
static bool neighbor_consider(struct chord *c, const struct node_peer *p)
{
    if (id_eq(&p->id, SELF(c)))
        return false;
    bool a = list_insert(c, c->succ, &c->n_succ, max_succ(c), p, false);
    bool b = list_insert(c, c->pred, &c->n_pred, max_pred(c), p, true);
    return a || b;
}

/* Offers p as a finger: it takes its distance slot when the slot is empty or p is nearer the
 * slot's start (the RFC's ideal finger is the first peer at or after x + 2^s). */
static void finger_consider(struct chord *c, const struct node_peer *p)
{
    if (id_eq(&p->id, SELF(c)))
        return;
    struct id d = id_dist(SELF(c), &p->id);
    int s = slot_of(&d);
    if (s < 0)
        return;
    unsigned i = 0;
    while (i < c->n_fingers && c->fingers[i].slot < s)
        i++;
    if (i < c->n_fingers && c->fingers[i].slot == s) {
        struct id e = id_dist(SELF(c), &c->fingers[i].id);
        if (id_cmp(&d, &e) < 0 || id_eq(&c->fingers[i].id, &p->id))
            finger_set(&c->fingers[i], p);
        return;
    }
    if (c->n_fingers == c->cap_fingers) {
        c->cap_fingers = (uint8_t)MIN(c->cap_fingers + 4, CHORD_MAX_FINGERS);
        c->fingers = g_renew(struct finger, c->fingers, c->cap_fingers);
    }
    memmove(&c->fingers[i + 1], &c->fingers[i], (c->n_fingers - i) * sizeof *c->fingers);
    finger_set(&c->fingers[i], p);
    c->fingers[i].slot = (uint8_t)s;
    c->n_fingers++;
}

static bool finger_remove(struct chord *c, const struct id *id)
{
    for (unsigned i = 0; i < c->n_fingers; i++)
        if (id_eq(&c->fingers[i].id, id)) {
            memmove(&c->fingers[i], &c->fingers[i + 1], (c->n_fingers - i - 1) * sizeof *c->fingers);
            c->n_fingers--;
            return true;
        }
    return false;
}

/* ---- responsibility and routing (§10.1, §10.3, §10.4) ------------------------------------ */

static bool chord_responsible(const struct topology *t, const struct id *k)
{
    const struct chord *c = (const struct chord *)t;
    if (c->n_pred == 0)
        return true; /* alone in the ring */
    return id_in_oc(k, &c->pred[0].id, SELF(c));
}

static bool chord_next_hop(const struct topology *t, const struct id *k, struct node_peer *out)
{
    const struct chord *c = (const struct chord *)t;
    const struct id *self = SELF(c);
    /* The responsible peer is known from the neighbour table. */
    const struct id *lo = self;
    for (unsigned i = 0; i < c->n_succ; i++) {
        if (id_in_oc(k, lo, &c->succ[i].id)) {
            *out = c->succ[i];
            return true;
        }
        lo = &c->succ[i].id;
    }
    for (unsigned i = 0; i + 1 < c->n_pred; i++)
        if (id_in_oc(k, &c->pred[i + 1].id, &c->pred[i].id)) {
            *out = c->pred[i];
            return true;
        }
    /* Otherwise the closest preceding known peer: the largest id in (self, k]. */
    struct id dk = id_dist(self, k), best = {0, 0};
    bool found = false;
#define CONSIDER(P)                                                                                \
    do {                                                                                           \
        struct id de = id_dist(self, &(P).id);                                                     \
        if (id_cmp(&de, &dk) <= 0 && (!found || id_cmp(&de, &best) > 0)) {                        \
            best = de;                                                                             \
            *out = (P);                                                                            \
            found = true;                                                                          \
        }                                                                                          \
    } while (0)
    for (unsigned i = 0; i < c->n_fingers; i++) {
        struct node_peer fp = finger_peer(&c->fingers[i]);
        CONSIDER(fp);
    }
    for (unsigned i = 0; i < c->n_succ; i++)
        CONSIDER(c->succ[i]);
    for (unsigned i = 0; i < c->n_pred; i++)
        CONSIDER(c->pred[i]);
#undef CONSIDER
    if (found)
        return true;
    /* No known peer precedes k: the smallest id after k. */
    if (c->n_succ) {
        *out = c->succ[0];
        return true;
    }
    if (c->n_pred) {
        *out = c->pred[c->n_pred - 1];
        return true;
    }
    return false;
}

static size_t chord_replicas(const struct topology *t, struct node_peer *out, size_t max)
{
    const struct chord *c = (const struct chord *)t;
    size_t n = MIN(MIN((size_t)N(c)->cfg->replicas, (size_t)c->n_succ), max);
    for (size_t i = 0; i < n; i++)
        out[i] = c->succ[i];
    return n;
}

static bool chord_keeps(const struct topology *t, const struct id *k)
{
    const struct chord *c = (const struct chord *)t;
    unsigned r = N(c)->cfg->replicas;
    if (c->n_pred <= r)
        return true; /* too few predecessors known to rule it out */
    return id_in_oc(k, &c->pred[r].id, SELF(c));
}

/* ---- Update, RouteQuery, Join, Leave ---------------------------------------------------- */

static void update_body(const struct chord *c, GByteArray *b, uint8_t type)
{
    struct wire_chord_update *u = g_new0(struct wire_chord_update, 1);
    u->uptime = (uint32_t)((env_now(&N(c)->env) - N(c)->started) / ENV_S);
    u->type = type;
    if (type != WIRE_CHORD_PEER_READY) {
        for (unsigned i = 0; i < c->n_pred; i++)
            u->pred[u->n_pred++] = c->pred[i].id;
        for (unsigned i = 0; i < c->n_succ; i++)
            u->succ[u->n_succ++] = c->succ[i].id;
    }
    if (type == WIRE_CHORD_FULL)
        for (unsigned i = 0; i < c->n_fingers && i < WIRE_MAX_UPDATE_IDS; i++)
            u->fingers[u->n_fingers++] = c->fingers[i].id; /* ascending: sorted by slot */
    wire_encode_chord_update(b, u);
    g_free(u);
}

static void send_update(struct chord *c, const struct id *to, uint8_t type)
{
    GByteArray *b = g_byte_array_new();
    update_body(c, b, type);
    struct node_dest d = {WIRE_DEST_NODE, *to};
    node_request(N(c), &d, 1, WIRE_UPDATE_REQ, b, NULL, NULL, NULL);
    g_byte_array_free(b, TRUE);
}

/* Sends an Update to every distinct neighbour. */
static void update_neighbors(struct chord *c)
{
    struct node_peer all[2 * CHORD_MAX_NEIGHBORS];
    unsigned n = 0;
    for (unsigned i = 0; i < c->n_succ; i++)
        all[n++] = c->succ[i];
    for (unsigned i = 0; i < c->n_pred; i++)
        if (!in_list(all, n, &c->pred[i].id))
            all[n++] = c->pred[i];
    for (unsigned i = 0; i < n; i++)
        send_update(c, &all[i].id, WIRE_CHORD_NEIGHBORS);
}

static void chord_send_update(struct topology *t, const struct id *peer)
{
    struct chord *c = (struct chord *)t;
    if (node_routes(N(c)))
        send_update(c, peer, WIRE_CHORD_FULL);
}

static void reactive_fire(void *arg)
{
    struct chord *c = arg;
    c->reactive_timer = 0;
    if (!node_routes(N(c)))
        return;
    if (N(c)->cfg->reactive)
        update_neighbors(c);
    node_neighbors_changed(N(c));
}

/* The neighbour table changed: recheck storage, and with reactive recovery tell the
 * neighbours — once, after the current burst of changes. */
static void neighbors_changed(struct chord *c)
{
    if (!c->reactive_timer && node_routes(N(c)))
        c->reactive_timer = env_timer_start(&N(c)->env, 0, reactive_fire, c);
}

/* True when id would enter the successor or predecessor list. */
static bool would_take(const struct chord *c, const struct id *id)
{
    if (in_list(c->succ, c->n_succ, id) || in_list(c->pred, c->n_pred, id))
        return false;
    if (c->n_succ < max_succ(c) || c->n_pred < max_pred(c))
        return true;
    struct id ds = id_dist(SELF(c), id), ls = id_dist(SELF(c), &c->succ[c->n_succ - 1].id);
    struct id dp = id_dist(id, SELF(c)), lp = id_dist(&c->pred[c->n_pred - 1].id, SELF(c));
    return id_cmp(&ds, &ls) < 0 || id_cmp(&dp, &lp) < 0;
}

static void attach_learned(struct node *n, void *arg, int status, const struct node_peer *p)
{
    /* peer_connected already offered the peer to the tables. */
}

/* Offers an id learned from a neighbour's table: connected ids go straight in, others are
 * Attached to through the peer that named them (§10.6). */
static void learn(struct chord *c, const struct id *id, const struct id *through, bool as_finger)
{
    if (id_eq(id, SELF(c)))
        return;
    struct conn *cn = node_conn_find(N(c), id);
    if (cn) {
        struct node_peer p = {*id, cn->addr};
        if (neighbor_consider(c, &p))
            neighbors_changed(c);
        if (as_finger)
            finger_consider(c, &p);
        return;
    }
    /* Would it improve the neighbour table (or fill a finger slot)?  Only then Attach. */
    bool useful = would_take(c, id);
    if (!useful && as_finger) {
        struct id d = id_dist(SELF(c), id);
        int s = slot_of(&d);
        useful = true;
        for (unsigned i = 0; i < c->n_fingers; i++)
            if (c->fingers[i].slot == s)
                useful = false;
    }
    if (useful)
        node_attach(N(c), id, through, attach_learned, NULL);
}

static void maybe_join(struct chord *c);

/* A neighbour Attach of the joining phase finished, well or not. */
static void join_attached(struct node *n, void *arg, int status, const struct node_peer *p)
{
    struct chord *c = (struct chord *)n->topo;
    uint32_t gen = *(uint32_t *)arg;
    g_free(arg);
    if (gen != c->join_gen || n->state != NODE_JOINING || !c->pending_attaches)
        return;
    c->pending_attaches--;
    maybe_join(c);
}

/* Sends peer our neighbours (an Update), unless it was told less than an update interval
 * ago: a peer whose view stays wrong (it cannot reach the peers named) is not told again at
 * each of its Updates. */
static void notify_stale(struct chord *c, const struct id *peer)
{
    env_time now = env_now(&N(c)->env), period = N(c)->cfg->update_interval;
    if (!c->notified)
        c->notified = g_new0(struct chord_notified, 1);
    struct chord_notified *nt = c->notified;
    for (unsigned i = 0; i < G_N_ELEMENTS(nt->id); i++)
        if (nt->at[i] && id_eq(&nt->id[i], peer) && now - nt->at[i] < period)
            return;
    unsigned k = nt->at[0] <= nt->at[1] ? 0 : 1; /* the older slot */
    nt->id[k] = *peer;
    nt->at[k] = now ? now : 1;
    send_update(c, peer, WIRE_CHORD_NEIGHBORS);
}

static void on_update(struct chord *c, const struct wire_message *m)
{
    struct wire_chord_update *u = g_new(struct wire_chord_update, 1);
    struct id sender;
    if (wire_decode_chord_update(m->body.p, m->body.len, u) < 0 || m->h.n_via == 0 ||
        wire_dest_id(&m->h.via[0], &sender) < 0) {
        node_respond_error(N(c), m, WIRE_ERR_INVALID_MESSAGE, "bad ChordUpdate");
        g_free(u);
        return;
    }
    struct node *n = N(c);
    struct env_addr ap_addr; /* behind NATs maybe reached through a relay only (ice.c) */
    if (n->ice && n->state == NODE_JOINING && !c->ap_table && !ice_peer_addr(n, &sender, &ap_addr)) {
        /* Through relays AP's Update can overtake the answer to our Attach (which retraces
         * the Attach's path): left unanswered, it comes again (end-to-end retransmission). */
        g_free(u);
        return;
    }
    node_respond(N(c), m, WIRE_UPDATE_ANS, NULL);
    if (n->state == NODE_JOINING && !c->ap_table) {
        /* AP's routing table (§10.5): learn neighbours, then Join once Attached to them. */
        if (!ice_peer_addr(n, &sender, &ap_addr)) {
            g_free(u);
            return;
        }
        c->ap_table = true;
        if (!c->have_ap) {
            c->have_ap = true;
            c->ap.id = sender;
            c->ap.addr = ap_addr;
        }
        neighbor_consider(c, &c->ap);
        finger_consider(c, &c->ap);
        const struct id *lists[3] = {u->pred, u->succ, u->fingers};
        unsigned counts[3] = {u->n_pred, u->n_succ, u->n_fingers};
        for (unsigned l = 0; l < 3; l++)
            for (unsigned i = 0; i < counts[l]; i++) {
                const struct id *id = &lists[l][i];
                if (id_eq(id, SELF(c)) || node_conn_find(n, id))
                    continue;
                if (l < 2) {
                    c->pending_attaches++;
                    uint32_t *gen = g_new(uint32_t, 1);
                    *gen = c->join_gen;
                    node_attach(n, id, &sender, join_attached, gen);
                } else {
                    node_attach(n, id, &sender, attach_learned, NULL);
                }
            }
        g_free(u);
        maybe_join(c);
        return;
    }
    if (n->state != NODE_JOINED) {
        g_free(u);
        return;
    }
    struct node_peer p = {sender, {0, 0}}; /* behind NATs maybe relayed only (ice.c) */
    if (ice_peer_addr(n, &sender, &p.addr)) {
        if (neighbor_consider(c, &p))
            neighbors_changed(c);
        finger_consider(c, &p);
    }
    /* The sender takes this node for its immediate successor or predecessor, but this node
     * knows closer ones on that side (the sender is in neither list): its view is stale — it
     * joined through the wrong peer, or nobody told it of the peers that joined next to it —
     * and the Updates of §10.7.4.1 go to neighbours only, so no one else will.  Tell it
     * (Chord's notify). */
    if (!in_list(c->succ, c->n_succ, &sender) && !in_list(c->pred, c->n_pred, &sender) &&
        ((u->n_succ && id_eq(&u->succ[0], SELF(c))) || (u->n_pred && id_eq(&u->pred[0], SELF(c)))))
        notify_stale(c, &sender);
    for (unsigned i = 0; i < u->n_pred; i++)
        learn(c, &u->pred[i], &sender, true);
    for (unsigned i = 0; i < u->n_succ; i++)
        learn(c, &u->succ[i], &sender, true);
    for (unsigned i = 0; i < u->n_fingers; i++)
        learn(c, &u->fingers[i], &sender, true);
    g_free(u);
}

static void on_route_query(struct chord *c, const struct wire_message *m)
{
    struct wire_route_query_req q;
    struct id target, origin;
    if (wire_decode_route_query_req(m->body.p, m->body.len, &q) < 0 ||
        wire_dest_id(&q.destination, &target) < 0) {
        node_respond_error(N(c), m, WIRE_ERR_INVALID_MESSAGE, "bad RouteQueryReq");
        return;
    }
    struct node_peer next = {*SELF(c), {0, 0}};
    if (!chord_responsible(&c->base, &target))
        chord_next_hop(&c->base, &target, &next);
    GByteArray *b = g_byte_array_new();
    struct wire_chord_route_query_ans a = {next.id};
    wire_encode_chord_route_query_ans(b, &a);
    node_respond(N(c), m, WIRE_ROUTE_QUERY_ANS, b);
    g_byte_array_free(b, TRUE);
    if (q.send_update && m->h.n_via > 0 && wire_dest_id(&m->h.via[0], &origin) == 0)
        send_update(c, &origin, WIRE_CHORD_FULL);
}

/* Asks peer for its routing table (RouteQuery with send_update, §10.8). */
static void query_table(struct chord *c, const struct id *peer)
{
    uint8_t idb[ID_BYTES];
    id_to_bytes(peer, idb);
    struct wire_route_query_req q;
    memset(&q, 0, sizeof q);
    q.send_update = true;
    wire_dest_node(&q.destination, idb);
    GByteArray *b = g_byte_array_new();
    wire_encode_route_query_req(b, &q);
    struct node_dest d = {WIRE_DEST_NODE, *peer};
    node_request(N(c), &d, 1, WIRE_ROUTE_QUERY_REQ, b, NULL, NULL, NULL);
    g_byte_array_free(b, TRUE);
}

static void on_probe(struct chord *c, const struct wire_message *m)
{
    struct wire_probe_req q;
    if (wire_decode_probe_req(m->body.p, m->body.len, &q) < 0) {
        node_respond_error(N(c), m, WIRE_ERR_INVALID_MESSAGE, "bad ProbeReq");
        return;
    }
    struct wire_probe_ans a;
    memset(&a, 0, sizeof a);
    for (unsigned i = 0; i < q.n && a.n < WIRE_MAX_PROBE; i++) {
        uint32_t v;
        switch (q.requested[i]) {
        case WIRE_PROBE_RESPONSIBLE_SET: {
            /* Share of the id space this peer is responsible for, in parts per billion. */
            struct id span = c->n_pred ? id_dist(&c->pred[0].id, SELF(c)) : (struct id){~0ull, ~0ull};
            v = (uint32_t)(id_to_unit(&span) * 1e9);
            break;
        }
        case WIRE_PROBE_NUM_RESOURCES:
            v = (uint32_t)node_stored_records(N(c));
            break;
        case WIRE_PROBE_UPTIME:
            v = (uint32_t)((env_now(&N(c)->env) - N(c)->started) / ENV_S);
            break;
        default:
            continue;
        }
        a.info[a.n].type = q.requested[i];
        a.info[a.n].value = v;
        a.n++;
    }
    GByteArray *b = g_byte_array_new();
    wire_encode_probe_ans(b, &a);
    node_respond(N(c), m, WIRE_PROBE_ANS, b);
    g_byte_array_free(b, TRUE);
}

/* AP side of §10.5 steps 5–8. */
static void on_join(struct chord *c, const struct wire_message *m)
{
    struct node *n = N(c);
    struct wire_join_req j;
    if (wire_decode_join_req(m->body.p, m->body.len, &j) < 0) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad JoinReq");
        return;
    }
    struct env_addr jn_addr; /* behind NATs maybe reached through a relay only (ice.c) */
    if (n->state != NODE_JOINED || !ice_peer_addr(n, &j.joining, &jn_addr)) {
        node_respond_error(n, m, WIRE_ERR_FORBIDDEN, "Attach before Join");
        return;
    }
    struct wire_join_ans a = {{NULL, 0}};
    GByteArray *b = g_byte_array_new();
    wire_encode_join_ans(b, &a);
    node_respond(n, m, WIRE_JOIN_ANS, b);
    g_byte_array_free(b, TRUE);
    /* Hand over the data the joining node is now responsible for: (old predecessor, JN]. */
    if (chord_responsible(&c->base, &j.joining)) {
        struct id from = c->n_pred ? c->pred[0].id : *SELF(c);
        storage_push_range(n, &j.joining, &from, &j.joining);
    }
    struct node_peer p = {j.joining, jn_addr};
    neighbor_consider(c, &p);
    finger_consider(c, &p);
    /* Steps 7–8: tell JN and every neighbour (always, reactive or not). */
    update_neighbors(c);
    node_neighbors_changed(n);
}

static void leave_body(const struct chord *c, GByteArray *b, uint8_t type)
{
    uint8_t idb[ID_BYTES];
    id_to_bytes(SELF(c), idb);
    GByteArray *osd = g_byte_array_new();
    const struct node_peer *l = type == CHORD_LEAVE_FROM_SUCC ? c->succ : c->pred;
    unsigned n = type == CHORD_LEAVE_FROM_SUCC ? c->n_succ : c->n_pred;
    uint16_t len = (uint16_t)(n * ID_BYTES);
    uint8_t hdr[3] = {type, (uint8_t)(len >> 8), (uint8_t)len};
    g_byte_array_append(osd, hdr, 3);
    for (unsigned i = 0; i < n; i++) {
        uint8_t x[ID_BYTES];
        id_to_bytes(&l[i].id, x);
        g_byte_array_append(osd, x, ID_BYTES);
    }
    struct wire_leave_req r = {.leaving = *SELF(c), .overlay_data = {osd->data, osd->len}};
    wire_encode_leave_req(b, &r);
    g_byte_array_free(osd, TRUE);
}

static void lose_peer(struct chord *c, const struct id *peer)
{
    bool was_succ0 = c->n_succ && id_eq(&c->succ[0].id, peer);
    bool was_pred0 = c->n_pred && id_eq(&c->pred[0].id, peer);
    bool changed = list_remove(c->succ, &c->n_succ, peer);
    changed |= list_remove(c->pred, &c->n_pred, peer);
    finger_remove(c, peer);
    if (!changed)
        return;
    /* Replace from the rest of the routing table (§10.7.1). */
    for (unsigned i = 0; i < c->n_fingers; i++) {
        struct node_peer fp = finger_peer(&c->fingers[i]);
        neighbor_consider(c, &fp);
    }
    if (node_routes(N(c))) {
        if (was_succ0 && c->n_succ)
            query_table(c, &c->succ[0].id);
        if (was_pred0 && c->n_pred)
            query_table(c, &c->pred[0].id);
    }
    neighbors_changed(c);
}

static void on_leave(struct chord *c, const struct wire_message *m)
{
    struct wire_leave_req r;
    if (wire_decode_leave_req(m->body.p, m->body.len, &r) < 0) {
        node_respond_error(N(c), m, WIRE_ERR_INVALID_MESSAGE, "bad LeaveReq");
        return;
    }
    node_respond(N(c), m, WIRE_LEAVE_ANS, NULL);
    /* ChordLeaveData: the leaver's successors (from_succ) or predecessors (from_pred). */
    const uint8_t *p = r.overlay_data.p;
    uint32_t len = r.overlay_data.len;
    lose_peer(c, &r.leaving);
    node_conn_remove(N(c), &r.leaving);
    if (len >= 3) {
        uint32_t l = (uint32_t)(p[1] << 8 | p[2]);
        if (3 + l <= len && l % ID_BYTES == 0)
            for (uint32_t o = 3; o < 3 + l; o += ID_BYTES) {
                struct id id = id_from_bytes(p + o);
                if (!id_eq(&id, &r.leaving))
                    learn(c, &id, NULL, false);
            }
    }
}

static void chord_on_request(struct topology *t, const struct wire_message *m)
{
    struct chord *c = (struct chord *)t;
    switch (m->code) {
    case WIRE_UPDATE_REQ:
        on_update(c, m);
        break;
    case WIRE_JOIN_REQ:
        on_join(c, m);
        break;
    case WIRE_LEAVE_REQ:
        on_leave(c, m);
        break;
    case WIRE_ROUTE_QUERY_REQ:
        on_route_query(c, m);
        break;
    case WIRE_PROBE_REQ:
        on_probe(c, m);
        break;
    default:
        node_respond_error(N(c), m, WIRE_ERR_INVALID_MESSAGE, "unsupported method");
    }
}

/* ---- periodic stabilization (§10.7.4) ---------------------------------------------------- */

static void stabilize(void *arg);
static void refresh_fingers(void *arg);
static void check_partition(void *arg);

static env_time jitter(struct chord *c, env_time period)
{
    return period / 2 + env_random(&N(c)->env) % (period ? period : 1);
}

static void start_timers(struct chord *c)
{
    struct node *n = N(c);
    if (!c->update_timer && n->cfg->update_interval)
        c->update_timer =
            env_timer_start(&n->env, jitter(c, n->cfg->update_interval), stabilize, c);
    if (!c->finger_timer && n->cfg->ping_interval)
        c->finger_timer =
            env_timer_start(&n->env, jitter(c, n->cfg->ping_interval), refresh_fingers, c);
    unsigned n_boot;
    node_bootstraps(n, &n_boot);
    if (!c->partition_timer && n->cfg->partition_interval && n_boot)
        c->partition_timer =
            env_timer_start(&n->env, jitter(c, n->cfg->partition_interval), check_partition, c);
}

/* §10.7.4.4: the answer to a Ping for our successor position, routed by a bootstrap peer.
 * A responder we do not have as successor means the overlay the bootstrap sees is not
 * ours (a partition healed, or our successor is stale): Attach to it through the same
 * bootstrap with send_update, so both rings learn of each other and merge through their
 * Updates. */
static void partition_answer(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct env_addr *via = arg;
    struct chord *c = (struct chord *)n->topo;
    struct id responder;
    if (status == NODE_OK && node_routes(n) && resp->h.n_via > 0 &&
        wire_dest_id(&resp->h.via[0], &responder) == 0 && !id_eq(&responder, SELF(c)) &&
        !(c->n_succ && id_eq(&responder, &c->succ[0].id)) && !node_conn_find(n, &responder))
        node_attach_bootstrap(n, &responder, via, NULL, NULL);
    g_free(via);
}

static void check_partition(void *arg)
{
    struct chord *c = arg;
    struct node *n = N(c);
    c->partition_timer = 0;
    if (!node_routes(n))
        return;
    unsigned n_boot;
    const struct env_addr *boot = node_bootstraps(n, &n_boot);
    const struct env_addr *b = &boot[c->partition_round++ % n_boot];
    if (!env_addr_eq(b, &n->addr)) {
        struct id one = {0, 1};
        struct node_dest d = {WIRE_DEST_RESOURCE, id_add(SELF(c), &one)};
        GByteArray *body = g_byte_array_new();
        struct wire_ping_req ping = {{NULL, 0}};
        wire_encode_ping_req(body, &ping);
        node_request(n, &d, 1, WIRE_PING_REQ, body, b, partition_answer,
                     g_memdup2(b, sizeof *b));
        g_byte_array_free(body, TRUE);
    }
    start_timers(c);
}

static void stabilize(void *arg)
{
    struct chord *c = arg;
    c->update_timer = 0;
    if (!node_routes(N(c)))
        return;
    update_neighbors(c);
    start_timers(c);
}

/* Alternative 1 of §10.7.4.2: walk the slots from the farthest (RFC i = 1) down to the
 * last successor's slot; each empty slot is chosen with probability 1/2. */
static void refresh_fingers(void *arg)
{
    struct chord *c = arg;
    c->finger_timer = 0;
    struct node *n = N(c);
    if (!node_routes(n))
        return;
    int lowest = 0;
    if (c->n_succ) {
        struct id d = id_dist(SELF(c), &c->succ[c->n_succ - 1].id);
        lowest = slot_of(&d) + 1;
    }
    for (int s = 127; s >= lowest; s--) {
        bool filled = false;
        for (unsigned i = 0; i < c->n_fingers && !filled; i++)
            filled = c->fingers[i].slot == s;
        if (filled || (env_random(&n->env) & 1))
            continue;
        /* A random id in [self + 2^s, self + 2^(s+1)). */
        struct id off = {env_random(&n->env), env_random(&n->env)};
        if (s < 64) {
            off.hi = 0;
            off.lo = s ? off.lo & ((1ull << s) - 1) : 0;
        } else {
            off.hi = s > 64 ? off.hi & ((1ull << (s - 64)) - 1) : 0;
        }
        struct id base = id_add_pow2(SELF(c), (unsigned)s);
        struct id target = id_add(&base, &off);
        node_attach(n, &target, NULL, attach_learned, NULL);
        break;
    }
    start_timers(c);
}

/* ---- joining (§10.5) --------------------------------------------------------------------- */

static void join_done(struct node *n, void *arg, int status, const struct wire_message *resp);

static void send_join(struct chord *c)
{
    struct node *n = N(c);
    c->join_sent = true;
    GByteArray *b = g_byte_array_new();
    struct wire_join_req j = {.joining = *SELF(c)};
    wire_encode_join_req(b, &j);
    struct node_dest d = {WIRE_DEST_NODE, c->ap.id};
    node_request(n, &d, 1, WIRE_JOIN_REQ, b, NULL, join_done, NULL);
    g_byte_array_free(b, TRUE);
}

static void join_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct chord *c = (struct chord *)n->topo;
    if (n->state != NODE_JOINING)
        return;
    if (status != NODE_OK) {
        c->join_sent = false;
        return; /* the join timer retries */
    }
    node_set_joined(n);
    /* Step 9: Update every neighbour. */
    update_neighbors(c);
    start_timers(c);
}

static void maybe_join(struct chord *c)
{
    if (N(c)->state == NODE_JOINING && c->have_ap && c->ap_table && !c->pending_attaches &&
        !c->join_sent)
        send_join(c);
}

static void ap_attached(struct node *n, void *arg, int status, const struct node_peer *p)
{
    struct chord *c = (struct chord *)n->topo;
    if (status != NODE_OK || n->state != NODE_JOINING)
        return;
    if (!c->have_ap) {
        c->have_ap = true;
        c->ap = *p;
    }
    maybe_join(c);
}

static void join_start(struct chord *c, const struct env_addr *bootstrap)
{
    struct node *n = N(c);
    c->have_ap = c->ap_table = c->join_sent = false;
    c->pending_attaches = 0;
    c->join_gen++;
    struct id one = {0, 1};
    struct id target = id_add(SELF(c), &one);
    node_attach_bootstrap(n, &target, bootstrap, ap_attached, NULL);
}

static int chord_join(struct topology *t, const struct env_addr *bootstrap)
{
    struct chord *c = (struct chord *)t;
    if (!bootstrap) {
        node_set_joined(N(c));
        start_timers(c);
        return NODE_OK;
    }
    join_start(c, bootstrap);
    return NODE_OK;
}

static void chord_peer_connected(struct topology *t, const struct node_peer *p)
{
    struct chord *c = (struct chord *)t;
    struct node *n = N(c);
    if (n->state == NODE_JOINING) {
        neighbor_consider(c, p);
        finger_consider(c, p);
        return;
    }
    if (neighbor_consider(c, p))
        neighbors_changed(c);
    finger_consider(c, p);
}

static void chord_peer_lost(struct topology *t, const struct id *peer)
{
    struct chord *c = (struct chord *)t;
    lose_peer(c, peer);
}

static void chord_install(struct topology *t, const struct node_peer *pred, size_t n_pred,
                          const struct node_peer *succ, size_t n_succ,
                          const struct node_peer *fingers, size_t n_fingers)
{
    struct chord *c = (struct chord *)t;
    struct node *n = N(c);
    c->n_pred = c->n_succ = 0;
    c->n_fingers = 0;
    for (size_t i = 0; i < n_pred; i++)
        if (node_conn_add(n, &pred[i].id, &pred[i].addr))
            list_insert(c, c->pred, &c->n_pred, max_pred(c), &pred[i], true);
    for (size_t i = 0; i < n_succ; i++)
        if (node_conn_add(n, &succ[i].id, &succ[i].addr))
            list_insert(c, c->succ, &c->n_succ, max_succ(c), &succ[i], false);
    for (size_t i = 0; i < n_fingers; i++)
        if (node_conn_add(n, &fingers[i].id, &fingers[i].addr))
            finger_consider(c, &fingers[i]);
    start_timers(c);
}

static void chord_leave(struct topology *t)
{
    struct chord *c = (struct chord *)t;
    GByteArray *bs = g_byte_array_new(), *bp = g_byte_array_new();
    leave_body(c, bs, CHORD_LEAVE_FROM_SUCC); /* to predecessors: here are my successors */
    leave_body(c, bp, CHORD_LEAVE_FROM_PRED); /* to successors: here are my predecessors */
    for (unsigned i = 0; i < c->n_pred; i++) {
        struct node_dest d = {WIRE_DEST_NODE, c->pred[i].id};
        node_request(N(c), &d, 1, WIRE_LEAVE_REQ, bs, NULL, NULL, NULL);
    }
    for (unsigned i = 0; i < c->n_succ; i++) {
        if (in_list(c->pred, c->n_pred, &c->succ[i].id))
            continue;
        struct node_dest d = {WIRE_DEST_NODE, c->succ[i].id};
        node_request(N(c), &d, 1, WIRE_LEAVE_REQ, bp, NULL, NULL, NULL);
    }
    g_byte_array_free(bs, TRUE);
    g_byte_array_free(bp, TRUE);
}

/* ---- introspection and life cycle -------------------------------------------------------- */

static size_t chord_routing_table(const struct topology *t, struct node_peer *out, size_t max)
{
    const struct chord *c = (const struct chord *)t;
    size_t n = 0;
    for (unsigned i = 0; i < c->n_succ && n < max; i++)
        out[n++] = c->succ[i];
    for (unsigned i = 0; i < c->n_pred && n < max; i++)
        if (!in_list(out, (unsigned)n, &c->pred[i].id))
            out[n++] = c->pred[i];
    for (unsigned i = 0; i < c->n_fingers && n < max; i++)
        if (!in_list(out, (unsigned)n, &c->fingers[i].id))
            out[n++] = finger_peer(&c->fingers[i]);
    return n;
}

static size_t chord_successors(const struct topology *t, struct node_peer *out, size_t max)
{
    const struct chord *c = (const struct chord *)t;
    size_t n = MIN((size_t)c->n_succ, max);
    memcpy(out, c->succ, n * sizeof *out);
    return n;
}

static size_t chord_predecessors(const struct topology *t, struct node_peer *out, size_t max)
{
    const struct chord *c = (const struct chord *)t;
    size_t n = MIN((size_t)c->n_pred, max);
    memcpy(out, c->pred, n * sizeof *out);
    return n;
}

static size_t chord_memory(const struct topology *t)
{
    const struct chord *c = (const struct chord *)t;
    return sizeof *c + (max_succ(c) + max_pred(c)) * sizeof(struct node_peer) +
           c->cap_fingers * sizeof(struct finger);
}

static void chord_destroy(struct topology *t)
{
    struct chord *c = (struct chord *)t;
    struct node *n = N(c);
    env_timer_stop(&n->env, c->update_timer);
    env_timer_stop(&n->env, c->finger_timer);
    env_timer_stop(&n->env, c->reactive_timer);
    env_timer_stop(&n->env, c->partition_timer);
    g_free(c->fingers);
    g_free(c->notified);
    g_free(c); /* succ and pred included */
}

static const struct topology_ops chord_ops = {
    .name = "CHORD-RELOAD",
    .destroy = chord_destroy,
    .join = chord_join,
    .install = chord_install,
    .leave = chord_leave,
    .responsible = chord_responsible,
    .next_hop = chord_next_hop,
    .replicas = chord_replicas,
    .keeps = chord_keeps,
    .on_request = chord_on_request,
    .peer_lost = chord_peer_lost,
    .send_update = chord_send_update,
    .peer_connected = chord_peer_connected,
    .routing_table = chord_routing_table,
    .successors = chord_successors,
    .predecessors = chord_predecessors,
    .memory = chord_memory,
};

struct topology *chord_new(struct node *n)
{
    unsigned succ = neighbors_clamp(n->cfg->successors),
             pred = neighbors_clamp(n->cfg->predecessors);
    struct chord *c = g_malloc0(sizeof *c + (succ + pred) * sizeof c->neighbours[0]);
    c->base.ops = &chord_ops;
    c->base.node = n;
    c->succ = c->neighbours;
    c->pred = c->succ + succ;
    return &c->base;
}
