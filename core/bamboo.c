/* bamboo.c — the Bamboo topology plug-in over RELOAD framing: Pastry's prefix routing table
 * and leaf set (Rowstron and Druschel, "Pastry", Middleware 2001, §2) kept up by Bamboo's
 * periodic recovery, proximity neighbour selection and RTT-based timeouts (Rhea, Geels,
 * Roscoe and Kubiatowicz, "Handling Churn in a DHT", USENIX 2004, §4–§5).  docs/bamboo.md
 * explains the choices; this comment is the map.
 *
 * Ids are the 128-bit Node-IDs read as digits of b = cfg.bamboo.digit_bits bits, most
 * significant first; when b does not divide 128 the last digit is narrower (128 mod b bits).
 * Routing table: row r holds peers sharing exactly r digits with this node, column c the peer
 * whose digit r is c; one peer per cell; rows are allocated when a cell in them is first
 * filled.  Leaf set: the leaf_set peers nearest clockwise (cw) and counter-clockwise (ccw).
 *
 * Responsibility (Pastry §2.2): a key belongs to the numerically closest Node-ID by ring
 * distance min(cw, ccw); at equal distance, to the peer that follows the key clockwise (the
 * same tie rule as Chord's successor).  A node decides it from its leaf set.  Replicas: the
 * leaf-set members alternately clockwise and counter-clockwise (cw[0], ccw[0], cw[1], ...),
 * cfg.replicas of them, so that both peers that can inherit a key when its owner fails hold it.
 *
 * Routing (Pastry §2.2, recursive): a key within the leaf set's range goes to the closest
 * leaf; else to the routing-table entry for the key's next digit after the shared prefix; else
 * (the rare case) to a known peer sharing at least as long a prefix and numerically closer;
 * else to the known peer closest to the key.  Every hop makes progress: none when this node is
 * the closest it knows (only while joining).  A next hop whose link fails (peer_lost) is
 * removed at once, so the end-to-end retransmission takes the next route.
 *
 * Joining: Attach with send_update to the joining node's own id through the bootstrap; the
 * closest peer (AP) answers and sends a full BambooUpdate (leaf set and routing table); the
 * joining node Attaches (through AP) to the peers that make its leaf set and to candidates for
 * empty cells, sends Join to AP (who hands over the keys that move), and then pushes its leaf
 * set to every leaf so that they take it in.  A join Attach that nobody answers (peers that
 * still hold a previous incarnation route it to the node itself) makes the node send Leave to
 * every peer that contacted it.  Leaving: Leave, carrying the leaf set, to every leaf.
 *
 * Recovery (Bamboo §4): every leafset_interval a leaf_set Update to one random leaf, whose
 * answer carries its leaf set (push/pull); every table_interval one random routing-table cell
 * is explored: its entry is probed (liveness, RTT) and an Attach to a random id with the cell's
 * prefix finds a candidate.  With cfg.bamboo.reactive the leaf_set timer only probes a random
 * leaf (failure detection); a leaf-set change is pushed at once to every leaf, whose answers
 * bring their leaf sets, and a lost cell is explored at once.  PNS (cfg.bamboo.pns): a cell prefers
 * the candidate with the lower RTT (probe or link estimate; the view's latency at install_view).
 */
#include <string.h>

#include "bamboo.h"
#include "node_int.h"
#include "topology.h"

#define BAMBOO_MAX_LEAF (BAMBOO_MAX_LEAF_IDS / 2) /* leaf-set size per side, at most */
#define BAMBOO_INITIAL_RTO ENV_S        /* RFC 6298 §2.1: the RTO before any sample */
#define BAMBOO_RTT_UNIT ((env_time)100) /* cell RTTs are kept in units of 100 us */

/* A routing-table cell (24 bytes).  Empty when the address is 0.0.0.0:0, which no peer has.
 * rtt: the last round-trip estimate in units of 100 us, saturating; 0 when unknown. */
struct bamboo_cell {
    struct id id;
    uint32_t ip;
    uint16_t port;
    uint16_t rtt;
};

struct bamboo {
    struct topology base;
    uint8_t bits;     /* b */
    uint8_t ndigits;  /* ceil(128 / b) */
    uint8_t leaf_max; /* leaf-set size per side */
    uint8_t n_cw, n_ccw;
    uint8_t n_rows;             /* entries of rows[]; rows past it are empty */
    struct node_peer *cw, *ccw; /* nearest first; one allocation */
    struct bamboo_cell **rows;  /* rows[r]: NULL, or columns(r) cells */
    env_timer leaf_timer, table_timer, reactive_timer;
    /* Joining. */
    bool have_ap, ap_table, join_sent;
    unsigned pending_attaches;
    uint32_t join_gen; /* tells this join attempt's Attaches from an earlier attempt's */
    struct node_peer ap;
};

static const struct topology_ops bamboo_ops;

static inline struct node *N(const struct bamboo *t)
{
    return t->base.node;
}

static inline const struct id *SELF(const struct bamboo *t)
{
    return &t->base.node->self;
}

/* ---- digits ------------------------------------------------------------------------------ */

/* Bits [o, o + w) of x, counted from the most significant bit (w <= 8), as a number. */
static unsigned id_bits(const struct id *x, unsigned o, unsigned w)
{
    unsigned s = 128 - o - w; /* right shift that brings the field down to bit 0 */
    uint64_t v;
    if (s >= 64)
        v = x->hi >> (s - 64);
    else if (s == 0)
        v = x->lo;
    else
        v = (x->lo >> s) | (x->hi << (64 - s));
    return (unsigned)(v & ((1u << w) - 1));
}

/* Width of digit i: b, except a narrower last digit when b does not divide 128. */
static unsigned digit_width(const struct bamboo *t, unsigned i)
{
    return MIN((unsigned)t->bits, 128 - i * t->bits);
}

static unsigned digit(const struct bamboo *t, const struct id *x, unsigned i)
{
    return id_bits(x, i * t->bits, digit_width(t, i));
}

static unsigned columns(const struct bamboo *t, unsigned i)
{
    return 1u << digit_width(t, i);
}

/* Number of leading digits x and y share (ndigits when they are equal). */
static unsigned shared_digits(const struct bamboo *t, const struct id *x, const struct id *y)
{
    uint64_t h = x->hi ^ y->hi, l = x->lo ^ y->lo;
    if (!h && !l)
        return t->ndigits;
    unsigned bits = h ? (unsigned)__builtin_clzll(h) : 64 + (unsigned)__builtin_clzll(l);
    return bits / t->bits;
}

/* The top p bits set (0 <= p <= 128). */
static struct id mask_top(unsigned p)
{
    struct id m = {0, 0};
    if (p >= 64) {
        m.hi = ~0ull;
        m.lo = p == 64 ? 0 : ~0ull << (128 - p);
    } else if (p) {
        m.hi = ~0ull << (64 - p);
    }
    return m;
}

/* v << s as a 128-bit id (v < 2^8, s < 128). */
static struct id shifted(uint64_t v, unsigned s)
{
    if (s >= 64)
        return (struct id){v << (s - 64), 0};
    if (s == 0)
        return (struct id){0, v};
    return (struct id){v >> (64 - s), v << s};
}

/* A random id in cell (row, col): this node's first `row` digits, digit `row` = col, then
 * random bits — the lookup target of routing-table exploration (Bamboo §4.2). */
static struct id cell_random_id(struct bamboo *t, unsigned row, unsigned col)
{
    const struct env *e = &N(t)->env;
    unsigned o = row * t->bits, p = o + digit_width(t, row);
    struct id keep = mask_top(o), field = mask_top(p), v = shifted(col, 128 - p);
    struct id r = {env_random(e), env_random(e)};
    struct id x;
    x.hi = (SELF(t)->hi & keep.hi) | v.hi | (r.hi & ~field.hi);
    x.lo = (SELF(t)->lo & keep.lo) | v.lo | (r.lo & ~field.lo);
    return x;
}

/* ---- ring distance and the responsibility rule -------------------------------------------- */

static struct id ring_dist(const struct id *a, const struct id *b)
{
    struct id d1 = id_dist(a, b), d2 = id_dist(b, a);
    return id_cmp(&d1, &d2) <= 0 ? d1 : d2;
}

/* True when a is strictly closer to k than b: the smaller ring distance; at equal distance,
 * the one that follows k clockwise. */
static bool closer(const struct id *a, const struct id *b, const struct id *k)
{
    struct id da = ring_dist(a, k), db = ring_dist(b, k);
    int c = id_cmp(&da, &db);
    if (c)
        return c < 0;
    struct id ca = id_dist(k, a), cb = id_dist(k, b);
    return id_cmp(&ca, &cb) < 0;
}

/* ceil(d / 2). */
static struct id half_up(const struct id *d)
{
    struct id h = {d->hi >> 1, (d->lo >> 1) | (d->hi << 63)};
    if (d->lo & 1)
        h = id_add(&h, &(struct id){0, 1});
    return h;
}

/* ---- leaf set ------------------------------------------------------------------------------ */

static bool in_list(const struct node_peer *l, unsigned n, const struct id *id)
{
    for (unsigned i = 0; i < n; i++)
        if (id_eq(&l[i].id, id))
            return true;
    return false;
}

/* Distance of id from this node along one side: clockwise for cw, counter-clockwise for ccw. */
static struct id side_dist(const struct bamboo *t, const struct id *id, bool ccw)
{
    return ccw ? id_dist(id, SELF(t)) : id_dist(SELF(t), id);
}

/* Offers p to one side of a leaf set kept nearest first and capped at leaf_max (l may also be
 * a scratch list).  A known peer only gets its address refreshed.  True when l changed. */
static bool leaf_insert(const struct bamboo *t, struct node_peer *l, uint8_t *n,
                        const struct node_peer *p, bool ccw)
{
    if (id_eq(&p->id, SELF(t)))
        return false;
    struct id d = side_dist(t, &p->id, ccw);
    unsigned i;
    for (i = 0; i < *n; i++) {
        if (id_eq(&l[i].id, &p->id)) {
            l[i].addr = p->addr;
            return false;
        }
        struct id e = side_dist(t, &l[i].id, ccw);
        if (id_cmp(&d, &e) < 0)
            break;
    }
    if (i >= t->leaf_max)
        return false;
    unsigned keep = MIN((unsigned)*n, t->leaf_max - 1u);
    memmove(&l[i + 1], &l[i], (keep - i) * sizeof *l);
    l[i] = *p;
    *n = (uint8_t)(keep + 1);
    return true;
}

static bool leaf_remove(struct node_peer *l, uint8_t *n, const struct id *id)
{
    for (unsigned i = 0; i < *n; i++)
        if (id_eq(&l[i].id, id)) {
            memmove(&l[i], &l[i + 1], (*n - i - 1) * sizeof *l);
            (*n)--;
            return true;
        }
    return false;
}

static bool leaf_consider(struct bamboo *t, const struct node_peer *p)
{
    bool a = leaf_insert(t, t->cw, &t->n_cw, p, false);
    bool b = leaf_insert(t, t->ccw, &t->n_ccw, p, true);
    return a || b;
}

/* True when id would enter the leaf set. */
static bool leaf_would_take(const struct bamboo *t, const struct id *id)
{
    if (id_eq(id, SELF(t)) || in_list(t->cw, t->n_cw, id) || in_list(t->ccw, t->n_ccw, id))
        return false;
    if (t->n_cw < t->leaf_max || t->n_ccw < t->leaf_max)
        return true;
    struct id ds = side_dist(t, id, false), ls = side_dist(t, &t->cw[t->n_cw - 1].id, false);
    struct id dp = side_dist(t, id, true), lp = side_dist(t, &t->ccw[t->n_ccw - 1].id, true);
    return id_cmp(&ds, &ls) < 0 || id_cmp(&dp, &lp) < 0;
}

/* The distinct leaves, clockwise side first. */
static unsigned leaf_all(const struct bamboo *t, struct node_peer *out)
{
    unsigned n = 0;
    for (unsigned i = 0; i < t->n_cw; i++)
        out[n++] = t->cw[i];
    for (unsigned i = 0; i < t->n_ccw; i++)
        if (!in_list(t->cw, t->n_cw, &t->ccw[i].id))
            out[n++] = t->ccw[i];
    return n;
}

/* The two sides overlap: the leaf set holds every peer of a small overlay. */
static bool leaf_wraps(const struct bamboo *t)
{
    return t->n_cw && in_list(t->ccw, t->n_ccw, &t->cw[t->n_cw - 1].id);
}

/* True when k lies within the leaf set's range [ccw farthest, cw farthest] (Pastry §2.2). */
static bool leaf_covers(const struct bamboo *t, const struct id *k)
{
    if (!t->n_cw || !t->n_ccw)
        return false;
    if (leaf_wraps(t))
        return true;
    const struct id *lo = &t->ccw[t->n_ccw - 1].id, *hi = &t->cw[t->n_cw - 1].id;
    struct id dk = id_dist(lo, k), dh = id_dist(lo, hi);
    return id_cmp(&dk, &dh) <= 0;
}

/* The leaf closest to k; false when the leaf set is empty. */
static bool closest_leaf(const struct bamboo *t, const struct id *k, struct node_peer *out)
{
    const struct node_peer *best = NULL;
    for (unsigned s = 0; s < 2; s++) {
        const struct node_peer *l = s ? t->ccw : t->cw;
        unsigned n = s ? t->n_ccw : t->n_cw;
        for (unsigned i = 0; i < n; i++)
            if (!best || closer(&l[i].id, &best->id, k))
                best = &l[i];
    }
    if (best)
        *out = *best;
    return best != NULL;
}

/* ---- routing table ------------------------------------------------------------------------- */

static bool cell_used(const struct bamboo_cell *c)
{
    return c->ip || c->port;
}

static struct node_peer cell_peer(const struct bamboo_cell *c)
{
    struct node_peer p = {c->id, {c->ip, c->port}};
    return p;
}

static struct bamboo_cell *cell_at(const struct bamboo *t, unsigned row, unsigned col)
{
    if (row >= t->n_rows || !t->rows[row])
        return NULL;
    return &t->rows[row][col];
}

/* The cell id belongs in, or NULL (its row is not allocated and alloc is false, or id is this
 * node's own). */
static struct bamboo_cell *cell_for(struct bamboo *t, const struct id *id, bool alloc)
{
    unsigned row = shared_digits(t, SELF(t), id);
    if (row >= t->ndigits)
        return NULL;
    unsigned col = digit(t, id, row);
    if (alloc && (row >= t->n_rows || !t->rows[row])) {
        if (row >= t->n_rows) {
            t->rows = g_renew(struct bamboo_cell *, t->rows, row + 1);
            memset(t->rows + t->n_rows, 0, (row + 1 - t->n_rows) * sizeof *t->rows);
            t->n_rows = (uint8_t)(row + 1);
        }
        t->rows[row] = g_new0(struct bamboo_cell, columns(t, row));
    }
    return cell_at(t, row, col);
}

static const struct bamboo_cell *cell_find(const struct bamboo *t, const struct id *id)
{
    const struct bamboo_cell *c = cell_for((struct bamboo *)t, id, false);
    return c && cell_used(c) && id_eq(&c->id, id) ? c : NULL;
}

/* An RTT in cell units (1..65535), from microseconds. */
static uint16_t rtt_units(env_time us)
{
    env_time u = us / BAMBOO_RTT_UNIT;
    return (uint16_t)(u < 1 ? 1 : u > 65535 ? 65535 : u);
}

/* The best RTT estimate of peer in cell units: the link layer's SRTT, else the cell's own
 * estimate (stored, which may be 0: unknown). */
static uint16_t peer_rtt(const struct bamboo *t, const struct id *id, uint16_t stored)
{
    env_time srtt, var;
    if (node_peer_rtt(N(t), id, &srtt, &var))
        return rtt_units(srtt);
    return stored;
}

/* Offers p to its routing-table cell with an RTT estimate (cell units, 0 unknown).  An empty
 * cell takes it; an occupied one keeps its entry unless PNS is on and p is known to be nearer
 * (an entry of unknown RTT loses to a candidate of known RTT).  True when the cell changed. */
static bool table_offer(struct bamboo *t, const struct node_peer *p, uint16_t rtt)
{
    struct bamboo_cell *c = cell_for(t, &p->id, true);
    if (!c)
        return false;
    if (cell_used(c) && id_eq(&c->id, &p->id)) {
        c->ip = p->addr.ip;
        c->port = p->addr.port;
        if (rtt)
            c->rtt = rtt;
        return false;
    }
    if (cell_used(c)) {
        if (!N(t)->cfg->bamboo.pns)
            return false;
        uint16_t mine = rtt ? rtt : peer_rtt(t, &p->id, 0), theirs = peer_rtt(t, &c->id, c->rtt);
        if (!mine || (theirs && theirs <= mine))
            return false;
        rtt = mine;
    }
    c->id = p->id;
    c->ip = p->addr.ip;
    c->port = p->addr.port;
    c->rtt = rtt;
    return true;
}

static bool table_remove(struct bamboo *t, const struct id *id)
{
    struct bamboo_cell *c = cell_for(t, id, false);
    if (!c || !cell_used(c) || !id_eq(&c->id, id))
        return false;
    memset(c, 0, sizeof *c);
    return true;
}

/* Runs the statement that follows with c bound to each used routing-table cell, row by row. */
#define TABLE_FOREACH(t, c)                                                                        \
    for (unsigned r_ = 0; r_ < (t)->n_rows; r_++)                                                  \
        for (unsigned k_ = 0; (t)->rows[r_] && k_ < columns((t), r_); k_++)                        \
            for (const struct bamboo_cell *c = &(t)->rows[r_][k_]; c; c = NULL)                    \
                if (cell_used(c))

/* Offers a reachable peer to the leaf set and the routing table; true when the leaf set
 * changed. */
static bool consider(struct bamboo *t, const struct node_peer *p, uint16_t rtt)
{
    if (id_eq(&p->id, SELF(t)))
        return false;
    bool changed = leaf_consider(t, p);
    table_offer(t, p, rtt);
    return changed;
}

/* ---- responsibility, replicas and routing (Pastry §2.2) ------------------------------------ */

static bool bamboo_responsible(const struct topology *tp, const struct id *k)
{
    const struct bamboo *t = (const struct bamboo *)tp;
    struct node_peer best;
    if (!closest_leaf(t, k, &best))
        return true; /* alone */
    return closer(SELF(t), &best.id, k);
}

/* The rare case of routing: the best peer sharing at least `prefix` digits with k and closer
 * to it than this node, and, failing that, simply the known peer closest to k. */
struct rare_pick {
    const struct id *k;
    unsigned prefix;
    bool found, found_any;
    struct node_peer best, any;
};

static void rare_offer(const struct bamboo *t, struct rare_pick *r, const struct node_peer *p)
{
    if (!r->found_any || closer(&p->id, &r->any.id, r->k)) {
        r->any = *p;
        r->found_any = true;
    }
    if (shared_digits(t, &p->id, r->k) >= r->prefix && closer(&p->id, SELF(t), r->k) &&
        (!r->found || closer(&p->id, &r->best.id, r->k))) {
        r->best = *p;
        r->found = true;
    }
}

/* Every hop makes progress (Pastry §2.2): to a peer that shares a longer prefix with k, or
 * one numerically closer to k than this node.  So there is no next hop when this node is the
 * closest it knows: that happens only while it is joining (node.c then drops the message).
 * A joining node that passed such a message to its closest leaf sent it back to a peer that
 * had taken it for the responsible one, and the two passed it to and fro until its TTL ran
 * out (docs/bamboo.md, "Churn"). */
static bool bamboo_next_hop(const struct topology *tp, const struct id *k, struct node_peer *out)
{
    const struct bamboo *t = (const struct bamboo *)tp;
    /* Within the leaf set's range: the closest leaf holds the key (or is one hop from it). */
    if (leaf_covers(t, k) && closest_leaf(t, k, out))
        return closer(&out->id, SELF(t), k);
    /* The routing-table entry that shares one more digit with the key. */
    unsigned l = shared_digits(t, SELF(t), k);
    if (l < t->ndigits) {
        const struct bamboo_cell *c = cell_at(t, l, digit(t, k, l));
        if (c && cell_used(c)) {
            *out = cell_peer(c);
            return true;
        }
    }
    struct rare_pick r = {.k = k, .prefix = l};
    for (unsigned i = 0; i < t->n_cw; i++)
        rare_offer(t, &r, &t->cw[i]);
    for (unsigned i = 0; i < t->n_ccw; i++)
        rare_offer(t, &r, &t->ccw[i]);
    TABLE_FOREACH(t, c)
    {
        struct node_peer p = cell_peer(c);
        rare_offer(t, &r, &p);
    }
    if (r.found || r.found_any)
        *out = r.found ? r.best : r.any;
    return r.found || (r.found_any && closer(&r.any.id, SELF(t), k));
}

/* Leaves alternately clockwise and counter-clockwise, nearest first: the replica order. */
static size_t leaf_alternating(const struct bamboo *t, struct node_peer *out, size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; i < MAX(t->n_cw, t->n_ccw) && n < max; i++) {
        if (i < t->n_cw && !in_list(out, (unsigned)n, &t->cw[i].id))
            out[n++] = t->cw[i];
        if (n < max && i < t->n_ccw && !in_list(out, (unsigned)n, &t->ccw[i].id))
            out[n++] = t->ccw[i];
    }
    return n;
}

static size_t bamboo_replicas(const struct topology *tp, struct node_peer *out, size_t max)
{
    const struct bamboo *t = (const struct bamboo *)tp;
    return leaf_alternating(t, out, MIN((size_t)N(t)->cfg->replicas, max));
}

/* Keep k when this node is responsible for it or its owner is within `replicas` positions of
 * this node on either side of the leaf set (its replica range).  The owner's replica set is
 * narrower (its leaves alternately clockwise and counter-clockwise), but the range tolerates
 * views that lag one change behind: a peer next to a crashed owner's neighbour still counts
 * the dead owner for a while, and must not drop the copy the new owner has just pushed to it.
 * Peers unknown here can only put the owner farther away, so the test errs on keeping. */
static bool bamboo_keeps(const struct topology *tp, const struct id *k)
{
    const struct bamboo *t = (const struct bamboo *)tp;
    struct node_peer owner;
    if (!closest_leaf(t, k, &owner) || closer(SELF(t), &owner.id, k))
        return true;
    struct node_peer all[2 * BAMBOO_MAX_LEAF];
    unsigned n = leaf_all(t, all), before = 0, after = 0;
    for (unsigned i = 0; i < n; i++) {
        if (id_in_oo(&all[i].id, &owner.id, SELF(t)))
            before++; /* between the owner and this node, clockwise */
        if (id_in_oo(&all[i].id, SELF(t), &owner.id))
            after++;
    }
    return MIN(before, after) < N(t)->cfg->replicas;
}

/* ---- BambooUpdate codec ------------------------------------------------------------------- */

static void put_ids(GByteArray *out, const struct id *ids, size_t n)
{
    uint8_t len[2] = {(uint8_t)((n * ID_BYTES) >> 8), (uint8_t)(n * ID_BYTES)};
    g_byte_array_append(out, len, 2);
    for (size_t i = 0; i < n; i++) {
        uint8_t b[ID_BYTES];
        id_to_bytes(&ids[i], b);
        g_byte_array_append(out, b, ID_BYTES);
    }
}

/* Reads NodeId list<0..2^16-1> at *off, leaving *off after it. */
static int get_ids(const uint8_t *p, size_t len, size_t *off, const uint8_t **ids, uint16_t *n,
                   size_t max)
{
    if (len - *off < 2)
        return WIRE_E_TRUNCATED;
    size_t l = (size_t)p[*off] << 8 | p[*off + 1];
    *off += 2;
    if (l > len - *off)
        return WIRE_E_TRUNCATED;
    if (l % ID_BYTES)
        return WIRE_E_INVALID;
    if (l / ID_BYTES > max)
        return WIRE_E_TOO_MANY;
    *ids = p + *off;
    *n = (uint16_t)(l / ID_BYTES);
    *off += l;
    return WIRE_OK;
}

void bamboo_encode_update(GByteArray *out, uint8_t type, const struct id *leaf, size_t n_leaf,
                          const struct id *table, size_t n_table)
{
    g_assert(type == BAMBOO_UPDATE_FULL || n_table == 0);
    g_byte_array_append(out, &type, 1);
    put_ids(out, leaf, MIN(n_leaf, (size_t)BAMBOO_MAX_LEAF_IDS));
    put_ids(out, table, MIN(n_table, (size_t)BAMBOO_MAX_TABLE_IDS));
}

int bamboo_decode_update(const uint8_t *p, size_t len, struct bamboo_update *u)
{
    memset(u, 0, sizeof *u);
    if (len < 1)
        return WIRE_E_TRUNCATED;
    u->type = p[0];
    if (u->type != BAMBOO_UPDATE_LEAF_SET && u->type != BAMBOO_UPDATE_FULL)
        return WIRE_E_INVALID;
    size_t off = 1;
    int rc = get_ids(p, len, &off, &u->leaf, &u->n_leaf, BAMBOO_MAX_LEAF_IDS);
    if (rc == WIRE_OK)
        rc = get_ids(p, len, &off, &u->table, &u->n_table, BAMBOO_MAX_TABLE_IDS);
    if (rc == WIRE_OK && (off != len || (u->type == BAMBOO_UPDATE_LEAF_SET && u->n_table)))
        rc = WIRE_E_INVALID;
    return rc;
}

/* Leave overlay data: the leaver's leaf set as one NodeId list<0..2^16-1>. */
static int decode_leave_data(const uint8_t *p, size_t len, const uint8_t **ids, uint16_t *n)
{
    size_t off = 0;
    int rc = get_ids(p, len, &off, ids, n, BAMBOO_MAX_LEAF_IDS);
    return rc == WIRE_OK && off != len ? WIRE_E_INVALID : rc;
}

static void leaf_body(const struct bamboo *t, GByteArray *b, uint8_t type)
{
    struct node_peer l[2 * BAMBOO_MAX_LEAF];
    struct id ids[2 * BAMBOO_MAX_LEAF];
    unsigned n = leaf_all(t, l);
    for (unsigned i = 0; i < n; i++)
        ids[i] = l[i].id;
    if (type == BAMBOO_UPDATE_LEAF_SET) {
        bamboo_encode_update(b, type, ids, n, NULL, 0);
        return;
    }
    GArray *tab = g_array_new(FALSE, FALSE, sizeof(struct id));
    TABLE_FOREACH(t, c)
    {
        g_array_append_val(tab, c->id);
    }
    bamboo_encode_update(b, type, ids, n, (const struct id *)tab->data, tab->len);
    g_array_free(tab, TRUE);
}

/* ---- Update: push/pull of leaf sets, full state for a joining node ------------------------ */

static void neighbors_changed(struct bamboo *t);
static void learn(struct bamboo *t, const struct id *id, const struct id *through);

static void learn_bytes(struct bamboo *t, const uint8_t *ids, unsigned n, const struct id *through)
{
    for (unsigned i = 0; i < n; i++) {
        struct id id = id_from_bytes(ids + i * ID_BYTES);
        learn(t, &id, through);
    }
}

/* A pull: the answer to a leaf_set Update carries the peer's leaf set. */
static void leaf_reply(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct bamboo *t = (struct bamboo *)n->topo;
    struct bamboo_update u;
    struct id from;
    if (status != NODE_OK || !node_routes(n) || resp->h.n_via == 0 ||
        wire_dest_id(&resp->h.via[0], &from) < 0 ||
        bamboo_decode_update(resp->body.p, resp->body.len, &u) < 0)
        return;
    learn(t, &from, NULL);
    learn_bytes(t, u.leaf, u.n_leaf, &from);
}

static void send_update(struct bamboo *t, const struct id *to, uint8_t type)
{
    GByteArray *b = g_byte_array_new();
    leaf_body(t, b, type);
    struct node_dest d = {WIRE_DEST_NODE, *to};
    node_request(N(t), &d, 1, WIRE_UPDATE_REQ, b, NULL,
                 type == BAMBOO_UPDATE_LEAF_SET ? leaf_reply : NULL, NULL);
    g_byte_array_free(b, TRUE);
}

static void push_leaf_set_to_all(struct bamboo *t)
{
    struct node_peer l[2 * BAMBOO_MAX_LEAF];
    unsigned n = leaf_all(t, l);
    for (unsigned i = 0; i < n; i++)
        send_update(t, &l[i].id, BAMBOO_UPDATE_LEAF_SET);
}

static void attach_learned(struct node *n, void *arg, int status, const struct node_peer *p)
{
    /* peer_connected already offered the peer. */
}

/* Is id worth an Attach: would it enter the leaf set or fill an empty cell? */
static bool useful(struct bamboo *t, const struct id *id)
{
    if (id_eq(id, SELF(t)))
        return false;
    if (leaf_would_take(t, id))
        return true;
    const struct bamboo_cell *c = cell_for(t, id, false);
    return !c || !cell_used(c);
}

/* An id learned from a peer's state: a connected peer is offered at once; an unknown one is
 * Attached to (through the peer that named it, §10.6 style) when it would be useful. */
static void learn(struct bamboo *t, const struct id *id, const struct id *through)
{
    struct node *n = N(t);
    if (id_eq(id, SELF(t)))
        return;
    struct conn *cn = node_conn_find(n, id);
    if (cn) {
        struct node_peer p = {*id, cn->addr};
        if (consider(t, &p, 0))
            neighbors_changed(t);
        return;
    }
    if (useful(t, id))
        node_attach(n, id, through, attach_learned, NULL);
}

static bool request_origin(const struct wire_message *m, struct id *out)
{
    return m->h.n_via > 0 && m->h.via[0].type == WIRE_DEST_NODE &&
           wire_dest_id(&m->h.via[0], out) == 0;
}

static void maybe_join(struct bamboo *t);

/* A leaf-set Attach of the joining phase finished, well or not. */
static void join_attached(struct node *n, void *arg, int status, const struct node_peer *p)
{
    struct bamboo *t = (struct bamboo *)n->topo;
    uint32_t gen = *(uint32_t *)arg;
    g_free(arg);
    if (gen != t->join_gen || n->state != NODE_JOINING || !t->pending_attaches)
        return;
    t->pending_attaches--;
    maybe_join(t);
}

/* The admitting peer's full state, while joining: Attach to the peers that will make this
 * node's leaf set (the Join waits for them) and to one candidate per empty cell. */
static void joining_update(struct bamboo *t, const struct bamboo_update *u, const struct id *from)
{
    struct node *n = N(t);
    struct node_peer ap = {*from, {0, 0}}; /* behind NATs maybe relayed only (ice.c) */
    if (!ice_peer_addr(n, from, &ap.addr))
        return;
    consider(t, &ap, 0);
    if (u->type != BAMBOO_UPDATE_FULL || t->ap_table) {
        learn_bytes(t, u->leaf, u->n_leaf, NULL);
        return;
    }
    t->ap_table = true;
    if (!t->have_ap) {
        t->have_ap = true;
        t->ap = ap;
    }
    /* The leaf set this node will have, from AP and the ids AP knows. */
    struct node_peer pcw[BAMBOO_MAX_LEAF], pccw[BAMBOO_MAX_LEAF];
    uint8_t npcw = 0, npccw = 0;
    leaf_insert(t, pcw, &npcw, &ap, false);
    leaf_insert(t, pccw, &npccw, &ap, true);
    unsigned total = u->n_leaf + u->n_table;
    uint32_t *claimed = g_new(uint32_t, total + 1);
    unsigned n_claimed = 0;
    for (unsigned i = 0; i < total; i++) {
        const uint8_t *b =
            i < u->n_leaf ? u->leaf + i * ID_BYTES : u->table + (i - u->n_leaf) * ID_BYTES;
        struct node_peer p = {id_from_bytes(b), {0, 0}};
        leaf_insert(t, pcw, &npcw, &p, false);
        leaf_insert(t, pccw, &npccw, &p, true);
    }
    for (unsigned s = 0; s < 2; s++) {
        const struct node_peer *l = s ? pccw : pcw;
        unsigned nl = s ? npccw : npcw;
        for (unsigned i = 0; i < nl; i++) {
            const struct id *id = &l[i].id;
            if (s && in_list(pcw, npcw, id))
                continue;
            unsigned row = shared_digits(t, SELF(t), id);
            claimed[n_claimed++] = row << 8 | digit(t, id, row);
            if (node_conn_find(n, id))
                continue;
            t->pending_attaches++;
            uint32_t *gen = g_new(uint32_t, 1);
            *gen = t->join_gen;
            node_attach(n, id, from, join_attached, gen);
        }
    }
    /* One candidate for each cell still empty. */
    for (unsigned i = 0; i < total; i++) {
        const uint8_t *b =
            i < u->n_leaf ? u->leaf + i * ID_BYTES : u->table + (i - u->n_leaf) * ID_BYTES;
        struct id id = id_from_bytes(b);
        if (id_eq(&id, SELF(t)) || in_list(pcw, npcw, &id) || in_list(pccw, npccw, &id) ||
            node_conn_find(n, &id))
            continue;
        unsigned row = shared_digits(t, SELF(t), &id);
        uint32_t key = row << 8 | digit(t, &id, row);
        bool taken = false;
        for (unsigned j = 0; j < n_claimed && !taken; j++)
            taken = claimed[j] == key;
        const struct bamboo_cell *c = cell_for(t, &id, false);
        if (taken || (c && cell_used(c)))
            continue;
        claimed[n_claimed++] = key;
        node_attach(n, &id, from, attach_learned, NULL);
    }
    g_free(claimed);
    maybe_join(t);
}

static void on_update(struct bamboo *t, const struct wire_message *m)
{
    struct node *n = N(t);
    struct bamboo_update u;
    struct id from;
    if (bamboo_decode_update(m->body.p, m->body.len, &u) < 0 || !request_origin(m, &from) ||
        id_eq(&from, SELF(t))) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad BambooUpdate");
        return;
    }
    struct env_addr ap_addr;
    if (n->ice && n->state == NODE_JOINING && !ice_peer_addr(n, &from, &ap_addr))
        return; /* overtook our Attach's answer through relays (chord.c): it comes again */
    GByteArray *b = g_byte_array_new();
    if (u.type == BAMBOO_UPDATE_LEAF_SET)
        leaf_body(t, b, BAMBOO_UPDATE_LEAF_SET); /* the pull */
    node_respond(n, m, WIRE_UPDATE_ANS, b);
    g_byte_array_free(b, TRUE);
    if (n->state == NODE_JOINING) {
        joining_update(t, &u, &from);
        return;
    }
    if (n->state != NODE_JOINED)
        return;
    learn(t, &from, NULL);
    learn_bytes(t, u.leaf, u.n_leaf, &from);
    learn_bytes(t, u.table, u.n_table, &from);
}

static void bamboo_send_update(struct topology *tp, const struct id *peer)
{
    struct bamboo *t = (struct bamboo *)tp;
    if (node_routes(N(t)))
        send_update(t, peer, BAMBOO_UPDATE_FULL);
}

/* ---- reactions to changes ---------------------------------------------------------------- */

static void reactive_fire(void *arg)
{
    struct bamboo *t = arg;
    t->reactive_timer = 0;
    if (!node_routes(N(t)))
        return;
    if (N(t)->cfg->bamboo.reactive)
        push_leaf_set_to_all(t);
    node_neighbors_changed(N(t));
}

/* The leaf set changed: recheck storage and, with reactive recovery, push the new leaf set to
 * every leaf — once, after the current burst of changes. */
static void neighbors_changed(struct bamboo *t)
{
    if (!t->reactive_timer && node_routes(N(t)))
        t->reactive_timer = env_timer_start(&N(t)->env, 0, reactive_fire, t);
}

static void explore_cell(struct bamboo *t, unsigned row, unsigned col);

static void lose_peer(struct bamboo *t, const struct id *peer)
{
    bool leaf = leaf_remove(t->cw, &t->n_cw, peer);
    leaf |= leaf_remove(t->ccw, &t->n_ccw, peer);
    unsigned row = shared_digits(t, SELF(t), peer);
    unsigned col = row < t->ndigits ? digit(t, peer, row) : 0;
    bool cell = table_remove(t, peer);
    if (!leaf && !cell)
        return;
    /* Refill from what is left: table entries may fit the leaf set, leaves the emptied cell. */
    if (leaf)
        TABLE_FOREACH(t, c)
        {
            struct node_peer p = cell_peer(c);
            leaf_consider(t, &p);
        }
    if (cell) {
        for (unsigned i = 0; i < t->n_cw; i++)
            table_offer(t, &t->cw[i], 0);
        for (unsigned i = 0; i < t->n_ccw; i++)
            table_offer(t, &t->ccw[i], 0);
        const struct bamboo_cell *c = cell_at(t, row, col);
        if (N(t)->cfg->bamboo.reactive && node_routes(N(t)) && (!c || !cell_used(c)))
            explore_cell(t, row, col);
    }
    if (leaf)
        neighbors_changed(t);
}

static void bamboo_peer_lost(struct topology *tp, const struct id *peer)
{
    lose_peer((struct bamboo *)tp, peer);
}

static void bamboo_peer_connected(struct topology *tp, const struct node_peer *p)
{
    struct bamboo *t = (struct bamboo *)tp;
    if (consider(t, p, 0) && N(t)->state == NODE_JOINED)
        neighbors_changed(t);
}

/* ---- periodic recovery (Bamboo §4) --------------------------------------------------------- */

static void leaf_tick(void *arg);
static void table_tick(void *arg);

static env_time jitter(struct bamboo *t, env_time period)
{
    return period / 2 + env_random(&N(t)->env) % (period ? period : 1);
}

static void start_timers(struct bamboo *t)
{
    const struct node_config *cfg = N(t)->cfg;
    if (!t->leaf_timer && cfg->bamboo.leafset_interval)
        t->leaf_timer =
            env_timer_start(&N(t)->env, jitter(t, cfg->bamboo.leafset_interval), leaf_tick, t);
    if (!t->table_timer && cfg->bamboo.table_interval)
        t->table_timer =
            env_timer_start(&N(t)->env, jitter(t, cfg->bamboo.table_interval), table_tick, t);
}

static void probe(struct bamboo *t, const struct id *peer);

/* Periodic recovery (Bamboo §4.1): push/pull with one leaf chosen at random; the exchange also
 * probes that leaf (a dead one fails its link and is removed).  Reactive recovery exchanges
 * leaf sets only when they change, so the timer just probes a random leaf for liveness. */
static void leaf_tick(void *arg)
{
    struct bamboo *t = arg;
    t->leaf_timer = 0;
    if (!node_routes(N(t)))
        return;
    struct node_peer l[2 * BAMBOO_MAX_LEAF];
    unsigned n = leaf_all(t, l);
    if (n) {
        const struct id *to = &l[env_random(&N(t)->env) % n].id;
        if (N(t)->cfg->bamboo.reactive)
            probe(t, to);
        else
            send_update(t, to, BAMBOO_UPDATE_LEAF_SET);
    }
    start_timers(t);
}

struct probe {
    struct id peer;
    env_time sent;
};

/* A probe's answer measures the round trip, the RTT proximity neighbour selection uses. */
static void probe_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct probe *pr = arg;
    struct bamboo *t = (struct bamboo *)n->topo;
    struct conn *cn = node_conn_find(n, &pr->peer);
    struct id from;
    /* A Ping to a dead peer's id may be answered by the peer now responsible for it. */
    if (status == NODE_OK && cn && node_routes(n) && resp->h.n_via > 0 &&
        wire_dest_id(&resp->h.via[0], &from) == 0 && id_eq(&from, &pr->peer)) {
        struct node_peer p = {pr->peer, cn->addr};
        table_offer(t, &p, rtt_units(env_now(&n->env) - pr->sent));
    }
    g_free(pr);
}

static void probe(struct bamboo *t, const struct id *peer)
{
    struct node *n = N(t);
    struct probe *pr = g_new(struct probe, 1);
    pr->peer = *peer;
    pr->sent = env_now(&n->env);
    GByteArray *b = g_byte_array_new();
    struct wire_ping_req ping = {{NULL, 0}};
    wire_encode_ping_req(b, &ping);
    struct node_dest d = {WIRE_DEST_NODE, *peer};
    node_request(n, &d, 1, WIRE_PING_REQ, b, NULL, probe_done, pr);
    g_byte_array_free(b, TRUE);
}

/* The peer an exploration Attach found: with PNS, a rival for an occupied cell is probed so
 * that its RTT can be compared with the entry's. */
static void explore_attached(struct node *n, void *arg, int status, const struct node_peer *p)
{
    struct bamboo *t = (struct bamboo *)n->topo;
    if (status != NODE_OK || !node_routes(n) || !n->cfg->bamboo.pns)
        return;
    const struct bamboo_cell *c = cell_for(t, &p->id, false);
    if (c && cell_used(c) && !id_eq(&c->id, &p->id))
        probe(t, &p->id);
}

/* PNS: the connected peers that fit cell (row, col) and have an RTT estimate compete for it.
 * The link layer measures the RTT of every peer this node exchanges frames with, not only of
 * those it probed; a peer is offered to its cell when it connects, usually before any sample,
 * so without this a nearer peer measured later would never displace the entry. */
static void offer_measured(struct bamboo *t, unsigned row, unsigned col)
{
    const struct node *n = N(t);
    for (unsigned i = 0; i < n->n_conns; i++) {
        const struct conn *cn = &n->conns[i];
        if (!cn->srtt || shared_digits(t, SELF(t), &cn->id) != row || digit(t, &cn->id, row) != col)
            continue;
        struct node_peer p = {cn->id, cn->addr};
        table_offer(t, &p, cn->srtt); /* both in units of 100 us */
    }
}

/* Probes the cell's entry (liveness and RTT) and looks for a candidate: an Attach to a random
 * id with the cell's prefix reaches the peer closest to it, which has that prefix whenever
 * any peer does (Bamboo §4.2, "global tuning").  With PNS the measured peers compete first. */
static void explore_cell(struct bamboo *t, unsigned row, unsigned col)
{
    if (N(t)->cfg->bamboo.pns)
        offer_measured(t, row, col);
    const struct bamboo_cell *c = cell_at(t, row, col);
    bool used = c && cell_used(c);
    if (used)
        probe(t, &c->id);
    if (!used || N(t)->cfg->bamboo.pns) {
        struct id target = cell_random_id(t, row, col);
        node_attach(N(t), &target, NULL, explore_attached, NULL);
    }
}

static void table_tick(void *arg)
{
    struct bamboo *t = arg;
    t->table_timer = 0;
    struct node *n = N(t);
    if (!node_routes(n))
        return;
    /* A row up to one past the deepest populated one, then a column other than our digit. */
    unsigned top = 0;
    for (unsigned r = 0; r < t->n_rows; r++)
        if (t->rows[r])
            for (unsigned k = 0; k < columns(t, r); k++)
                if (cell_used(&t->rows[r][k]))
                    top = r + 1;
    top = MIN(top, t->ndigits - 1u);
    unsigned row = (unsigned)(env_random(&n->env) % (top + 1));
    unsigned col = (unsigned)(env_random(&n->env) % (columns(t, row) - 1));
    if (col >= digit(t, SELF(t), row))
        col++;
    explore_cell(t, row, col);
    start_timers(t);
}

/* ---- joining ------------------------------------------------------------------------------- */


/* Joining is complete: push the leaf set to every leaf so that they take this node in. */
static void join_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct bamboo *t = (struct bamboo *)n->topo;
    if (n->state != NODE_JOINING)
        return;
    if (status != NODE_OK) {
        t->join_sent = false;
        return; /* the join timer tries again */
    }
    node_set_joined(n);
    push_leaf_set_to_all(t);
    start_timers(t);
    node_neighbors_changed(n);
}

static void maybe_join(struct bamboo *t)
{
    struct node *n = N(t);
    if (n->state != NODE_JOINING || !t->have_ap || !t->ap_table || t->pending_attaches ||
        t->join_sent)
        return;
    t->join_sent = true;
    GByteArray *b = g_byte_array_new();
    struct wire_join_req j = {.joining = *SELF(t)};
    wire_encode_join_req(b, &j);
    struct node_dest d = {WIRE_DEST_NODE, t->ap.id};
    node_request(n, &d, 1, WIRE_JOIN_REQ, b, NULL, join_done, NULL);
    g_byte_array_free(b, TRUE);
}

/* The join Attach went unanswered.  Besides a dead bootstrap, the cause is peers that still
 * hold this node's previous incarnation (a restart with the same Node-ID before its crash was
 * noticed: the new one acknowledges their frames, so their links do not fail).  They route the
 * Attach, addressed to this node's own id, here, where nothing can answer it before the node
 * has joined; left alone, the node never joins.  Those peers are in the connection table (they
 * sent something here), so every peer in it is told that incarnation left: Leave with an empty
 * leaf set.  They drop it from their state, and the next attempt (NODE_JOIN_RETRY) reaches a
 * peer of the overlay.  To any other peer in the table the Leave only drops the connection. */
static void disown(struct bamboo *t)
{
    struct node *n = N(t);
    unsigned nc = n->n_conns;
    if (!nc)
        return;
    struct id *to = g_new(struct id, nc);
    for (unsigned i = 0; i < nc; i++)
        to[i] = n->conns[i].id;
    GByteArray *osd = g_byte_array_new(), *b = g_byte_array_new();
    put_ids(osd, NULL, 0);
    struct wire_leave_req r = {.leaving = *SELF(t), .overlay_data = {osd->data, osd->len}};
    wire_encode_leave_req(b, &r);
    for (unsigned i = 0; i < nc; i++) {
        struct node_dest d = {WIRE_DEST_NODE, to[i]};
        node_request(n, &d, 1, WIRE_LEAVE_REQ, b, NULL, NULL, NULL);
    }
    g_byte_array_free(osd, TRUE);
    g_byte_array_free(b, TRUE);
    g_free(to);
}

static void ap_attached(struct node *n, void *arg, int status, const struct node_peer *p)
{
    struct bamboo *t = (struct bamboo *)n->topo;
    if (n->state != NODE_JOINING)
        return;
    if (status != NODE_OK) {
        if (!t->have_ap)
            disown(t);
        return; /* the join timer tries again */
    }
    if (!t->have_ap) {
        t->have_ap = true;
        t->ap = *p;
    }
    maybe_join(t);
}

static void join_start(struct bamboo *t, const struct env_addr *bootstrap)
{
    struct node *n = N(t);
    t->have_ap = t->ap_table = t->join_sent = false;
    t->pending_attaches = 0;
    t->join_gen++;
    node_attach_bootstrap(n, SELF(t), bootstrap, ap_attached, NULL);
}

static int bamboo_join(struct topology *tp, const struct env_addr *bootstrap)
{
    struct bamboo *t = (struct bamboo *)tp;
    if (!bootstrap) {
        node_set_joined(N(t));
        start_timers(t);
        return NODE_OK;
    }
    join_start(t, bootstrap);
    return NODE_OK;
}

/* AP's side: answer, take the joining node in, and hand over the keys it is now closest to:
 * those between the midpoints to its neighbours on either side. */
static void on_join(struct bamboo *t, const struct wire_message *m)
{
    struct node *n = N(t);
    struct wire_join_req j;
    if (wire_decode_join_req(m->body.p, m->body.len, &j) < 0) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad JoinReq");
        return;
    }
    struct node_peer jp = {j.joining, {0, 0}}; /* behind NATs maybe relayed only (ice.c) */
    if (n->state != NODE_JOINED || !ice_peer_addr(n, &j.joining, &jp.addr) ||
        id_eq(&j.joining, SELF(t))) {
        node_respond_error(n, m, WIRE_ERR_FORBIDDEN, "Attach before Join");
        return;
    }
    struct wire_join_ans a = {{NULL, 0}};
    GByteArray *b = g_byte_array_new();
    wire_encode_join_ans(b, &a);
    node_respond(n, m, WIRE_JOIN_ANS, b);
    g_byte_array_free(b, TRUE);
    bool changed = consider(t, &jp, 0);
    /* The joining node's neighbours as far as this node knows (itself included). */
    const struct id *pred = SELF(t), *succ = SELF(t);
    struct id dp = id_dist(pred, &j.joining), ds = id_dist(&j.joining, succ);
    struct node_peer l[2 * BAMBOO_MAX_LEAF];
    unsigned nl = leaf_all(t, l);
    for (unsigned i = 0; i < nl; i++) {
        if (id_eq(&l[i].id, &j.joining))
            continue;
        struct id a1 = id_dist(&l[i].id, &j.joining), a2 = id_dist(&j.joining, &l[i].id);
        if (id_cmp(&a1, &dp) < 0) {
            dp = a1;
            pred = &l[i].id;
        }
        if (id_cmp(&a2, &ds) < 0) {
            ds = a2;
            succ = &l[i].id;
        }
    }
    /* JN is closest to the keys in [pred + ceil(dp/2), JN + ceil(ds/2) - 1]: a key half-way
     * to pred goes to JN, which follows it; one half-way to succ goes to succ.  As the
     * interval (from, upto]: */
    struct id one = {0, 1}, hp = half_up(&dp), hs = half_up(&ds);
    struct id from = id_add(pred, &hp), upto = id_add(&j.joining, &hs);
    from = id_sub(&from, &one);
    upto = id_sub(&upto, &one);
    storage_push_range(n, &j.joining, &from, &upto);
    if (changed)
        neighbors_changed(t);
}

/* ---- leaving ------------------------------------------------------------------------------- */

static void bamboo_leave(struct topology *tp)
{
    struct bamboo *t = (struct bamboo *)tp;
    struct node *n = N(t);
    struct node_peer l[2 * BAMBOO_MAX_LEAF];
    struct id ids[2 * BAMBOO_MAX_LEAF];
    unsigned nl = leaf_all(t, l);
    for (unsigned i = 0; i < nl; i++)
        ids[i] = l[i].id;
    /* The node hands everything to its clockwise neighbour; the keys that fall to the other
     * side go to the counter-clockwise one too (it drops what it does not keep). */
    if (t->n_ccw && !(t->n_cw && id_eq(&t->cw[0].id, &t->ccw[0].id)))
        storage_push_range(n, &t->ccw[0].id, &t->ccw[0].id, SELF(t));
    GByteArray *osd = g_byte_array_new(), *b = g_byte_array_new();
    put_ids(osd, ids, nl);
    struct wire_leave_req r = {.leaving = *SELF(t), .overlay_data = {osd->data, osd->len}};
    wire_encode_leave_req(b, &r);
    for (unsigned i = 0; i < nl; i++) {
        struct node_dest d = {WIRE_DEST_NODE, l[i].id};
        node_request(n, &d, 1, WIRE_LEAVE_REQ, b, NULL, NULL, NULL);
    }
    g_byte_array_free(osd, TRUE);
    g_byte_array_free(b, TRUE);
}

static void on_leave(struct bamboo *t, const struct wire_message *m)
{
    struct node *n = N(t);
    struct wire_leave_req r;
    const uint8_t *ids = NULL;
    uint16_t nids = 0;
    if (wire_decode_leave_req(m->body.p, m->body.len, &r) < 0 ||
        decode_leave_data(r.overlay_data.p, r.overlay_data.len, &ids, &nids) < 0) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad LeaveReq");
        return;
    }
    node_respond(n, m, WIRE_LEAVE_ANS, NULL);
    if (id_eq(&r.leaving, SELF(t)))
        return;
    lose_peer(t, &r.leaving);
    node_conn_remove(n, &r.leaving);
    if (n->state != NODE_JOINED)
        return;
    for (unsigned i = 0; i < nids; i++) {
        struct id id = id_from_bytes(ids + i * ID_BYTES);
        if (!id_eq(&id, &r.leaving))
            learn(t, &id, NULL);
    }
}

/* ---- RouteQuery and Probe (§6.4.2.4, §6.4.2.5) ------------------------------------------- */

static void on_route_query(struct bamboo *t, const struct wire_message *m)
{
    struct wire_route_query_req q;
    struct id target, origin;
    if (wire_decode_route_query_req(m->body.p, m->body.len, &q) < 0 ||
        wire_dest_id(&q.destination, &target) < 0) {
        node_respond_error(N(t), m, WIRE_ERR_INVALID_MESSAGE, "bad RouteQueryReq");
        return;
    }
    struct node_peer next = {*SELF(t), {0, 0}};
    if (!bamboo_responsible(&t->base, &target))
        bamboo_next_hop(&t->base, &target, &next);
    /* The answer is one Node-ID, the layout of ChordRouteQueryAns. */
    GByteArray *b = g_byte_array_new();
    struct wire_chord_route_query_ans a = {next.id};
    wire_encode_chord_route_query_ans(b, &a);
    node_respond(N(t), m, WIRE_ROUTE_QUERY_ANS, b);
    g_byte_array_free(b, TRUE);
    if (q.send_update && request_origin(m, &origin) && node_routes(N(t)))
        send_update(t, &origin, BAMBOO_UPDATE_FULL);
}

static void on_probe(struct bamboo *t, const struct wire_message *m)
{
    struct wire_probe_req q;
    if (wire_decode_probe_req(m->body.p, m->body.len, &q) < 0) {
        node_respond_error(N(t), m, WIRE_ERR_INVALID_MESSAGE, "bad ProbeReq");
        return;
    }
    struct wire_probe_ans a;
    memset(&a, 0, sizeof a);
    for (unsigned i = 0; i < q.n && a.n < WIRE_MAX_PROBE; i++) {
        uint32_t v;
        switch (q.requested[i]) {
        case WIRE_PROBE_RESPONSIBLE_SET: {
            /* Share of the id space between the midpoints to the nearest leaves, in parts per
             * billion. */
            double share = 1.0;
            if (t->n_cw && t->n_ccw) {
                struct id a1 = id_dist(&t->ccw[0].id, SELF(t)), a2 = id_dist(SELF(t), &t->cw[0].id);
                share = (id_to_unit(&a1) + id_to_unit(&a2)) / 2;
                if (id_eq(&t->cw[0].id, &t->ccw[0].id))
                    share = 0.5;
            }
            v = (uint32_t)(share * 1e9);
            break;
        }
        case WIRE_PROBE_NUM_RESOURCES:
            v = (uint32_t)node_stored_records(N(t));
            break;
        case WIRE_PROBE_UPTIME:
            v = (uint32_t)((env_now(&N(t)->env) - N(t)->started) / ENV_S);
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
    node_respond(N(t), m, WIRE_PROBE_ANS, b);
    g_byte_array_free(b, TRUE);
}

static void bamboo_on_request(struct topology *tp, const struct wire_message *m)
{
    struct bamboo *t = (struct bamboo *)tp;
    switch (m->code) {
    case WIRE_UPDATE_REQ:
        on_update(t, m);
        break;
    case WIRE_JOIN_REQ:
        on_join(t, m);
        break;
    case WIRE_LEAVE_REQ:
        on_leave(t, m);
        break;
    case WIRE_ROUTE_QUERY_REQ:
        on_route_query(t, m);
        break;
    case WIRE_PROBE_REQ:
        on_probe(t, m);
        break;
    default:
        node_respond_error(N(t), m, WIRE_ERR_INVALID_MESSAGE, "unsupported method");
    }
}

/* ---- installed state (the simulator's stable start) --------------------------------------- */

static void clear_state(struct bamboo *t)
{
    t->n_cw = t->n_ccw = 0;
    for (unsigned r = 0; r < t->n_rows; r++)
        g_free(t->rows[r]);
    g_free(t->rows);
    t->rows = NULL;
    t->n_rows = 0;
}

/* The leaf set is the view's neighbours on either side; each cell takes, with PNS and the
 * view's latencies, the lowest-latency candidate, else the first in id order. */
static void bamboo_install_view(struct topology *tp, const struct topology_view *v)
{
    struct bamboo *t = (struct bamboo *)tp;
    clear_state(t);
    size_t n = v->n, s = v->self;
    g_assert(s < n);
    size_t side = MIN((size_t)t->leaf_max, n - 1);
    for (size_t i = 1; i <= side; i++) {
        t->cw[t->n_cw++] = v->peers[(s + i) % n];
        t->ccw[t->n_ccw++] = v->peers[(s + n - i) % n];
    }
    bool pns = N(t)->cfg->bamboo.pns && v->latency;
    for (size_t j = 0; j < n; j++) {
        if (j == s)
            continue;
        uint16_t rtt = v->latency ? rtt_units(2 * v->latency(v->ud, s, j)) : 0;
        struct bamboo_cell *c = cell_for(t, &v->peers[j].id, true);
        if (!c || (cell_used(c) && (!pns || rtt >= c->rtt)))
            continue;
        c->id = v->peers[j].id;
        c->ip = v->peers[j].addr.ip;
        c->port = v->peers[j].addr.port;
        c->rtt = rtt;
    }
    start_timers(t);
}

/* A Chord-shaped state: every peer given is offered like a learned one. */
static void bamboo_install(struct topology *tp, const struct node_peer *pred, size_t n_pred,
                           const struct node_peer *succ, size_t n_succ,
                           const struct node_peer *fingers, size_t n_fingers)
{
    struct bamboo *t = (struct bamboo *)tp;
    clear_state(t);
    const struct node_peer *lists[3] = {pred, succ, fingers};
    size_t counts[3] = {n_pred, n_succ, n_fingers};
    for (unsigned l = 0; l < 3; l++)
        for (size_t i = 0; i < counts[l]; i++)
            consider(t, &lists[l][i], 0);
    start_timers(t);
}

/* ---- timeouts (Bamboo §5.2) ----------------------------------------------------------------- */

env_time bamboo_timeout(const struct topology *tp, const struct id *peer)
{
    g_assert(tp->ops == &bamboo_ops);
    const struct bamboo *t = (const struct bamboo *)tp;
    const struct node_config *cfg = N(t)->cfg;
    env_time srtt, var, rto;
    const struct bamboo_cell *c;
    /* RFC 6298 §2.3: RTO = SRTT + max(G, 4 RTTVAR).  Without the clock-granularity term G a
     * steady path (RTTVAR near 0) gives RTO = RTT, so the timer races the ACK and every frame
     * is resent; G = 10 ms, the link layer's sample resolution (ms) with a margin.  (Called
     * for every frame sent: the cell is looked up only when the link has no sample.) */
    if (node_peer_rtt(N(t), peer, &srtt, &var))
        rto = srtt + MAX(10 * ENV_MS, 4 * var);
    else if ((c = cell_find(t, peer)) && c->rtt)
        rto = 3 * (env_time)c->rtt * BAMBOO_RTT_UNIT; /* srtt r, rttvar r / 2 */
    else
        rto = BAMBOO_INITIAL_RTO;
    return MIN(MAX(rto, cfg->bamboo.rto_floor), cfg->bamboo.rto_cap);
}

/* ---- introspection and life cycle ----------------------------------------------------------- */

bool bamboo_table_entry(const struct topology *tp, unsigned row, unsigned col,
                        struct node_peer *out)
{
    g_assert(tp->ops == &bamboo_ops);
    const struct bamboo *t = (const struct bamboo *)tp;
    const struct bamboo_cell *c =
        row < t->ndigits && col < columns(t, row) ? cell_at(t, row, col) : NULL;
    if (!c || !cell_used(c))
        return false;
    *out = cell_peer(c);
    return true;
}

static size_t bamboo_routing_table(const struct topology *tp, struct node_peer *out, size_t max)
{
    const struct bamboo *t = (const struct bamboo *)tp;
    struct node_peer l[2 * BAMBOO_MAX_LEAF];
    unsigned nl = leaf_all(t, l);
    size_t n = 0;
    for (unsigned i = 0; i < nl && n < max; i++)
        out[n++] = l[i];
    TABLE_FOREACH(t, c)
    {
        if (n < max && !in_list(l, nl, &c->id))
            out[n++] = cell_peer(c);
    }
    return n;
}

static size_t bamboo_successors(const struct topology *tp, struct node_peer *out, size_t max)
{
    const struct bamboo *t = (const struct bamboo *)tp;
    size_t n = MIN((size_t)t->n_cw, max);
    memcpy(out, t->cw, n * sizeof *out);
    return n;
}

static size_t bamboo_predecessors(const struct topology *tp, struct node_peer *out, size_t max)
{
    const struct bamboo *t = (const struct bamboo *)tp;
    size_t n = MIN((size_t)t->n_ccw, max);
    memcpy(out, t->ccw, n * sizeof *out);
    return n;
}

static size_t bamboo_memory(const struct topology *tp)
{
    const struct bamboo *t = (const struct bamboo *)tp;
    size_t m =
        sizeof *t + 2u * t->leaf_max * sizeof(struct node_peer) + t->n_rows * sizeof *t->rows;
    for (unsigned r = 0; r < t->n_rows; r++)
        if (t->rows[r])
            m += columns(t, r) * sizeof(struct bamboo_cell);
    return m;
}

static void bamboo_destroy(struct topology *tp)
{
    struct bamboo *t = (struct bamboo *)tp;
    struct node *n = N(t);
    env_timer_stop(&n->env, t->leaf_timer);
    env_timer_stop(&n->env, t->table_timer);
    env_timer_stop(&n->env, t->reactive_timer);
    clear_state(t);
    g_free(t->cw); /* ccw shares the allocation */
    g_free(t);
}

static const struct topology_ops bamboo_ops = {
    .name = "BAMBOO",
    .destroy = bamboo_destroy,
    .join = bamboo_join,
    .install = bamboo_install,
    .install_view = bamboo_install_view,
    .leave = bamboo_leave,
    .responsible = bamboo_responsible,
    .next_hop = bamboo_next_hop,
    .replicas = bamboo_replicas,
    .keeps = bamboo_keeps,
    .on_request = bamboo_on_request,
    .peer_lost = bamboo_peer_lost,
    .send_update = bamboo_send_update,
    .peer_connected = bamboo_peer_connected,
    .routing_table = bamboo_routing_table,
    .successors = bamboo_successors,
    .predecessors = bamboo_predecessors,
    .memory = bamboo_memory,
};

struct topology *bamboo_new(struct node *n)
{
    struct bamboo *t = g_new0(struct bamboo, 1);
    t->base.ops = &bamboo_ops;
    t->base.node = n;
    unsigned b = n->cfg->bamboo.digit_bits, l = n->cfg->bamboo.leaf_set;
    if (b < 1 || b > 8) {
        env_logf(&n->env, ENV_LOG_WARN, "bamboo: digit_bits %u out of 1..8; using 4", b);
        b = 4;
    }
    t->bits = (uint8_t)b;
    t->ndigits = (uint8_t)((128 + b - 1) / b);
    t->leaf_max = (uint8_t)CLAMP(l, 1u, (unsigned)BAMBOO_MAX_LEAF);
    t->cw = g_new(struct node_peer, 2u * t->leaf_max);
    t->ccw = t->cw + t->leaf_max;
    return &t->base;
}
