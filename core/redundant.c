/* redundant.c — lookups and fetches over several independent paths (redundant.h).
 *
 * Castro et al., OSDI 2002, §4.3 (redundant routing); the paths are RFC 6940 destination
 * lists (§6.1.1): [Resource-ID] for the ordinary route, [X_i, Resource-ID] for a path whose
 * first hop is the routing-table entry X_i.
 *
 * First hops: the topology's own next hop for the key, then the other routing-table entries
 * in increasing distance to the key: clockwise from the entry (the peers that precede the key
 * most closely first, which on a Chord ring make the most progress), or on Bamboo, whose
 * routes fix digits, numerically the shorter way round (a proxy for the same).  Paths start apart
 * but need not stay apart: every one ends at the peer responsible for the key, and on a ring they
 * tend to meet in the last hops (the key's predecessors).  Redundancy thus routes around hostile
 * forwarders, not around a hostile responsible peer or its hostile predecessor — docs/security.md
 * gives the figures.
 *
 * One redundant request holds k transactions of the node (node_request).  Each carries its
 * own small g_malloc'd arg that points at the shared state, which is reference-counted:
 * node_free, which frees the args of pending transactions, calls redundant_path_free for
 * these (node_int.h).
 */
#include "redundant.h"

#include <stdlib.h>
#include <string.h>

#include "node_int.h"

struct answer {
    int status; /* NODE_OK, NODE_E_NOT_FOUND, NODE_E_REFUSED or NODE_E_TIMEOUT */
    bool found; /* fetch: at least one value that exists */
    struct id responder;
    struct id signer; /* fetch with signatures: the verified signer of the first value kept */
    uint32_t hops, retransmits;
    uint32_t rejected; /* fetch: values that failed the fetcher's checks */
    GBytes *body;      /* fetch: the FetchAns (its values that passed the fetcher's checks),
                          decoded again for the callback */
    GBytes *digest;    /* the values (fetch) or responder (lookup) that votes compare */
};

struct rop {
    struct node *n;
    bool fetch;
    bool decided;
    struct id key;
    uint32_t kind;
    uint64_t cookie;
    env_time started;
    node_fetch_cb cb;
    void *ud;
    unsigned paths;  /* requests sent */
    unsigned ended;  /* of which answered or timed out */
    unsigned refs;   /* paths whose transaction still holds a reference */
    env_timer grace; /* armed at the first answer while paths are pending (see decide) */
    struct answer ans[REDUNDANT_MAX_PATHS]; /* in arrival order */
};

struct rpath {
    struct rop *op;
};

static void rop_unref(struct rop *op)
{
    if (--op->refs > 0)
        return;
    env_timer_stop(&op->n->env, op->grace); /* the node is being freed with paths pending */
    for (unsigned i = 0; i < op->ended; i++) {
        if (op->ans[i].body)
            g_bytes_unref(op->ans[i].body);
        if (op->ans[i].digest)
            g_bytes_unref(op->ans[i].digest);
    }
    g_free(op);
}

void redundant_path_free(void *arg)
{
    struct rpath *p = arg;
    if (p)
        rop_unref(p->op);
    g_free(p);
}

/* ---- combining ---------------------------------------------------------------------------- */

/* The answers with a's values, one vote per answering peer: paths that merged before the
 * answering peer (or met the same forger) bring the same answer from the same peer, which
 * must not count twice. */
static unsigned votes(const struct rop *op, const struct answer *a)
{
    unsigned v = 0;
    for (unsigned i = 0; i < op->ended; i++) {
        const struct answer *b = &op->ans[i];
        if (!b->digest || !g_bytes_equal(b->digest, a->digest))
            continue;
        bool seen = false;
        for (unsigned j = 0; j < i && !seen; j++)
            seen = op->ans[j].digest && g_bytes_equal(op->ans[j].digest, a->digest) &&
                   id_eq(&op->ans[j].responder, &b->responder);
        v += !seen;
    }
    return v;
}

/* How far Node-ID x is from key k as the topology assigns keys: numerically (the shorter way
 * round) on Bamboo, clockwise from the key elsewhere (Chord and the super-peer tier give a key
 * to the first peer at or after it). */
static struct id key_distance(const struct node *n, const struct id *x, const struct id *k)
{
    struct id cw = id_sub(x, k);
    if (n->cfg->topology != NODE_TOPOLOGY_BAMBOO)
        return cw;
    struct id ccw = id_sub(k, x);
    return id_cmp(&cw, &ccw) <= 0 ? cw : ccw;
}

/* The values most answering peers agree on (fetches without signatures); among equals the
 * answer whose responder is nearest the key (see nearest()); NULL when no path brought one. */
static const struct answer *majority(const struct rop *op)
{
    const struct answer *best = NULL;
    unsigned best_votes = 0;
    struct id best_d = {0, 0};
    for (unsigned i = 0; i < op->ended; i++) {
        const struct answer *a = &op->ans[i];
        unsigned v = a->digest ? votes(op, a) : 0;
        struct id d = key_distance(op->n, &a->responder, &op->key);
        if (v > best_votes || (v && v == best_votes && id_cmp(&d, &best_d) < 0)) {
            best = a;
            best_votes = v;
            best_d = d;
        }
    }
    return best;
}

/* The answering Node-ID nearest the key (lookups): the responsible peer is, and a hostile
 * peer that claims the key is further from it; NULL when no path was answered. */
static const struct answer *nearest(const struct rop *op)
{
    const struct answer *best = NULL;
    struct id best_d = {0, 0};
    for (unsigned i = 0; i < op->ended; i++) {
        const struct answer *a = &op->ans[i];
        if (!a->digest)
            continue;
        struct id d = key_distance(op->n, &a->responder, &op->key);
        if (!best || id_cmp(&d, &best_d) < 0) {
            best = a;
            best_d = d;
        }
    }
    return best;
}

/* The status of a failed redundant request: not found when any path said so, else a
 * refusal, else a timeout. */
static int failure_status(const struct rop *op)
{
    int st = NODE_E_TIMEOUT;
    for (unsigned i = 0; i < op->ended; i++) {
        int s = op->ans[i].status;
        if (s == NODE_E_NOT_FOUND || (s == NODE_OK && op->fetch))
            return NODE_E_NOT_FOUND;
        if (s == NODE_E_REFUSED)
            st = NODE_E_REFUSED;
    }
    return st;
}

static void decide(struct rop *op, const struct answer *a)
{
    struct node *n = op->n;
    op->decided = true;
    env_timer_stop(&n->env, op->grace);
    op->grace = 0;
    struct env_event ev = {.type = op->fetch ? ENV_EV_FETCH_DONE : ENV_EV_LOOKUP_DONE,
                           .status = a ? NODE_OK : failure_status(op),
                           .cookie = op->cookie,
                           .key = op->key,
                           .found = a && a->found,
                           .latency = env_now(&n->env) - op->started,
                           .responder = n->self};
    if (a) {
        ev.responder = a->responder;
        ev.signer = a->signer;
        ev.hops = a->hops;
        ev.retransmits = a->retransmits;
    }
    for (unsigned i = 0; i < op->ended; i++)
        ev.rejected += op->ans[i].rejected; /* by the paths that ended before the decision */
    env_event(&n->env, &ev);
    if (!op->fetch || !op->cb)
        return;
    struct wire_fetch_ans ans;
    memset(&ans, 0, sizeof ans);
    gsize len = 0;
    const uint8_t *p = a ? g_bytes_get_data(a->body, &len) : NULL;
    if (a && wire_decode_fetch_ans(p, len, &ans, node_kind_model, n) == 0)
        op->cb(op->ud, NODE_OK, &ans);
    else
        op->cb(op->ud, ev.status, NULL);
    wire_fetch_ans_clear(&ans);
}

/* The grace period after the first answer ended: the decision is taken with the answers in. */
static void grace_expired(void *arg)
{
    struct rop *op = arg;
    op->grace = 0;
    if (!op->decided)
        decide(op, op->fetch ? majority(op) : nearest(op));
}

/* Records a path's outcome; takes the decision once it is clear.  A path through a peer that
 * drops it ends only after every retransmission (max_transmissions x reliability_timer, 15 s
 * by default): rather than wait for it, the decision that needs several answers is taken at
 * most one reliability_timer after the first answer, with the answers in by then. */
void redundant_path_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct rpath *p = arg;
    struct rop *op = p->op;
    g_free(p);
    struct answer *a = &op->ans[op->ended++];
    memset(a, 0, sizeof *a);
    a->retransmits = n->finishing_transmissions ? n->finishing_transmissions - 1 : 0;
    if (status == NODE_E_REFUSED) {
        struct wire_error e;
        if (resp && wire_decode_error(resp->body.p, resp->body.len, &e) == 0 &&
            e.code == WIRE_ERR_NOT_FOUND)
            status = NODE_E_NOT_FOUND;
    }
    a->status = status;
    if (status == NODE_OK) {
        a->hops = resp->h.n_via;
        a->responder = n->self;
        if (resp->h.n_via > 0)
            wire_dest_id(&resp->h.via[0], &a->responder);
        if (op->fetch) {
            struct wire_fetch_ans ans;
            memset(&ans, 0, sizeof ans);
            if (wire_decode_fetch_ans(resp->body.p, resp->body.len, &ans, node_kind_model, n) < 0) {
                a->status = NODE_E_REFUSED;
            } else {
                /* With signatures, values whose signature or policy fails are dropped and
                 * counted (storage.c), as node_fetch's answer loses them. */
                a->rejected =
                    storage_check_fetched(n, &op->key, resp->sec.certificates, &ans, &a->signer);
                GByteArray *d = g_byte_array_new();
                for (uint32_t k = 0; k < ans.n_kinds; k++)
                    for (uint32_t v = 0; v < ans.kinds[k].n_values; v++) {
                        const struct wire_stored_data *sd = &ans.kinds[k].values[v];
                        if (!sd->exists)
                            continue;
                        a->found = true;
                        uint32_t l = sd->value.len;
                        g_byte_array_append(d, (const uint8_t *)&l, sizeof l);
                        g_byte_array_append(d, sd->value.p, sd->value.len);
                    }
                if (a->found) {
                    GByteArray *body = g_byte_array_new();
                    wire_encode_fetch_ans(body, &ans);
                    a->body = g_byte_array_free_to_bytes(body);
                    a->digest = g_byte_array_free_to_bytes(d);
                } else {
                    g_byte_array_free(d, TRUE);
                }
            }
            wire_fetch_ans_clear(&ans);
        } else {
            a->digest = g_bytes_new(&a->responder, sizeof a->responder);
        }
    }
    if (!op->decided) {
        bool signatures = op->fetch && n->cfg->security.ops;
        if (!op->fetch) {
            if (op->ended == op->paths)
                decide(op, nearest(op)); /* every path has answered or timed out */
        } else if (signatures && a->digest) {
            decide(op, a); /* the first value that verifies */
        } else if (!signatures && a->digest && votes(op, a) * 2 > op->paths) {
            decide(op, a); /* distinct peers on a majority of the paths already agree */
        } else if (op->ended == op->paths) {
            decide(op, signatures ? NULL : majority(op));
        }
        if (!op->decided && !op->grace && a->digest && !signatures)
            op->grace = env_timer_start(&n->env, n->cfg->reliability_timer, grace_expired, op);
    }
    rop_unref(op);
}

/* ---- sending ------------------------------------------------------------------------------ */

struct candidate {
    struct node_peer p;
    struct id dist; /* from the entry to the key (first_hops) */
};

static int candidate_cmp(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    int c = id_cmp(&x->dist, &y->dist);
    return c ? c : id_cmp(&x->p.id, &y->p.id);
}

/* The first hops of paths 2..k (see the file comment); returns how many. */
static unsigned first_hops(struct node *n, const struct id *key, unsigned want,
                           struct node_peer *out)
{
    enum { MAX_TABLE = 256 };
    struct node_peer table[MAX_TABLE];
    size_t count = node_routing_table(n, table, MAX_TABLE);
    struct node_peer next;
    bool have_next = n->topo->ops->next_hop(n->topo, key, &next);
    struct candidate *c = g_new(struct candidate, count + 1);
    size_t nc = 0;
    for (size_t i = 0; i < count; i++) {
        if (id_eq(&table[i].id, &n->self) || (have_next && id_eq(&table[i].id, &next.id)))
            continue;
        bool dup = false;
        for (size_t j = 0; j < nc && !dup; j++)
            dup = id_eq(&c[j].p.id, &table[i].id);
        if (dup)
            continue;
        c[nc].p = table[i];
        c[nc].dist = n->cfg->topology == NODE_TOPOLOGY_BAMBOO ? key_distance(n, &table[i].id, key)
                                                              : id_sub(key, &table[i].id);
        nc++;
    }
    qsort(c, nc, sizeof *c, candidate_cmp);
    unsigned got = 0;
    for (size_t i = 0; i < nc && got < want; i++)
        out[got++] = c[i].p;
    g_free(c);
    return got;
}

static bool redundant_applies(struct node *n, const struct id *key, unsigned k)
{
    return k > 1 && !n->cfg->client && n->topo && node_routes(n) &&
           !n->topo->ops->responsible(n->topo, key);
}

/* Sends body (code) along the ordinary route and through each first hop. */
static void send_paths(struct node *n, struct rop *op, uint16_t code, const GByteArray *body,
                       unsigned k)
{
    struct node_peer hops[REDUNDANT_MAX_PATHS];
    unsigned extra = first_hops(n, &op->key, MIN(k, REDUNDANT_MAX_PATHS) - 1, hops);
    op->paths = 1 + extra;
    op->refs = op->paths;
    op->started = env_now(&n->env);
    for (unsigned i = 0; i < op->paths; i++) {
        struct node_dest d[2] = {{WIRE_DEST_NODE, i ? hops[i - 1].id : op->key},
                                 {WIRE_DEST_RESOURCE, op->key}};
        struct rpath *p = g_new(struct rpath, 1);
        p->op = op;
        if (i == 0)
            node_request(n, &d[1], 1, code, body, NULL, redundant_path_done, p);
        else
            node_request(n, d, 2, code, body, NULL, redundant_path_done, p);
    }
}

int redundant_lookup(struct node *n, const struct id *key, unsigned k, uint64_t cookie)
{
    if (!redundant_applies(n, key, k))
        return node_lookup(n, key, cookie);
    struct rop *op = g_new0(struct rop, 1);
    op->n = n;
    op->key = *key;
    op->cookie = cookie;
    GByteArray *b = g_byte_array_new();
    struct wire_ping_req req = {{NULL, 0}};
    wire_encode_ping_req(b, &req);
    send_paths(n, op, WIRE_PING_REQ, b, k);
    g_byte_array_free(b, TRUE);
    return NODE_OK;
}

int redundant_fetch(struct node *n, const struct id *res, uint32_t kind, unsigned k,
                    uint64_t cookie, node_fetch_cb cb, void *ud)
{
    int model = node_kind_model(kind, n);
    if (!model || !redundant_applies(n, res, k))
        return node_fetch(n, res, kind, cookie, cb, ud);
    GByteArray *b = node_fetch_all_body(res, kind, model); /* as node_fetch asks */
    struct rop *op = g_new0(struct rop, 1);
    op->n = n;
    op->fetch = true;
    op->key = *res;
    op->kind = kind;
    op->cookie = cookie;
    op->cb = cb;
    op->ud = ud;
    send_paths(n, op, WIRE_FETCH_REQ, b, k);
    g_byte_array_free(b, TRUE);
    return NODE_OK;
}
