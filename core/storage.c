/* storage.c — a peer's share of the distributed store, RFC 6940 §7, replicated per §10.4.
 *
 * Records are (Resource-ID, Kind) pairs holding values of the kind's data model (§7.2: single
 * value, array, dictionary), each value with its storage_time and lifetime; a record carries
 * the generation counter (§7.4.1.1).  Records live in a GTree ordered by (Resource-ID, Kind),
 * so every walk is in ring order and deterministic.
 *
 * Replication (§10.4, §10.7.3): the responsible peer stores, answers, and sends the record to
 * its replica set (the topology's replicas(): Chord's two next successors) with replica_number
 * 1, 2, ...  Handovers — to a joining peer (§10.5 step 6) or to the successor of a leaving
 * peer (§10.9) — are sent the same way as replica stores.  storage_rebalance() runs after
 * every neighbour change: a record this peer has just become responsible for is pushed to the
 * whole replica set, an owned record to any new replica-set member, and a record outside the
 * range the topology keeps (more than `replicas` predecessors away) is dropped.
 *
 * Generation counters: a request's non-zero generation older than the stored one is refused
 * with Error_Generation_Counter_Too_Low; an accepted client store increments the counter; a
 * replica store adopts the larger counter.  Access control (§7.3) and signatures come with
 * credentials and are not checked yet.
 *
 * Limits: a kind's max-size and max-count from the overlay configuration (§11.1; struct
 * node_kind) are enforced on every original Store with Error_Data_Too_Large (§7.4.1.1 names no
 * error for a count, this one is the nearest); max-count counts the values that would exist
 * after the Store.  Replica stores are checked for size only.
 */
#include <string.h>

#include "node_int.h"

struct sval {
    uint64_t storage_time; /* ms, as sent by the writer */
    uint32_t lifetime;     /* s */
    env_time expires;
    uint32_t index;
    GBytes *key;
    bool exists;
    GBytes *value;
};

struct srec {
    struct id res;
    uint32_t kind;
    uint8_t model;
    bool owned; /* responsible, and the replica set has it */
    uint64_t generation;
    GPtrArray *values; /* struct sval * */
};

struct storage {
    GTree *recs;
    struct node_peer replicas[8];
    size_t n_replicas; /* the replica set records were last pushed to */
};

static int srec_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
    const struct srec *x = a, *y = b;
    int c = id_cmp(&x->res, &y->res);
    if (c)
        return c;
    return x->kind < y->kind ? -1 : x->kind > y->kind;
}

static void sval_free(gpointer p)
{
    struct sval *v = p;
    if (v->key)
        g_bytes_unref(v->key);
    if (v->value)
        g_bytes_unref(v->value);
    g_free(v);
}

static void srec_free(gpointer p)
{
    struct srec *r = p;
    g_ptr_array_free(r->values, TRUE);
    g_free(r);
}

struct storage *storage_new(void)
{
    struct storage *s = g_new0(struct storage, 1);
    s->recs = g_tree_new_full(srec_cmp, NULL, srec_free, NULL);
    return s;
}

void storage_free(struct storage *s)
{
    if (!s)
        return;
    g_tree_destroy(s->recs);
    g_free(s);
}

static struct srec *find(const struct storage *s, const struct id *res, uint32_t kind)
{
    if (!s)
        return NULL;
    struct srec k = {.res = *res, .kind = kind};
    return g_tree_lookup(s->recs, &k);
}

size_t storage_records(const struct storage *s)
{
    return (size_t)g_tree_nnodes(s->recs);
}

static bool live(const struct sval *v, env_time now)
{
    return v->expires > now;
}

bool storage_holds(const struct storage *s, const struct id *res, uint32_t kind, env_time now)
{
    struct srec *r = find(s, res, kind);
    if (!r)
        return false;
    for (guint i = 0; i < r->values->len; i++) {
        struct sval *v = r->values->pdata[i];
        if (v->exists && live(v, now))
            return true;
    }
    return false;
}

static gboolean add_rec_memory(gpointer key, gpointer value, gpointer data)
{
    const struct srec *r = key;
    size_t *m = data;
    *m += sizeof *r + 64;
    for (guint i = 0; i < r->values->len; i++) {
        const struct sval *v = r->values->pdata[i];
        *m += sizeof *v + (v->value ? g_bytes_get_size(v->value) : 0) +
              (v->key ? g_bytes_get_size(v->key) : 0) + 16;
    }
    return FALSE;
}

size_t storage_memory(const struct storage *s)
{
    size_t m = sizeof *s;
    g_tree_foreach(s->recs, add_rec_memory, &m);
    return m;
}

/* ---- values --------------------------------------------------------------------------- */

static bool same_slot(const struct srec *r, const struct sval *v, const struct wire_stored_data *d)
{
    switch (r->model) {
    case WIRE_MODEL_ARRAY:
        return v->index == d->index;
    case WIRE_MODEL_DICTIONARY:
        return v->key && g_bytes_get_size(v->key) == d->key.len &&
               memcmp(g_bytes_get_data(v->key, NULL), d->key.p, d->key.len) == 0;
    default:
        return true;
    }
}

/* Puts one value into r; an older write than the stored one is ignored (returns false). */
static bool put_value(struct srec *r, const struct wire_stored_data *d,
                      env_time now)
{
    struct sval *v = NULL;
    for (guint i = 0; i < r->values->len && !v; i++)
        if (same_slot(r, r->values->pdata[i], d))
            v = r->values->pdata[i];
    if (v && v->storage_time > d->storage_time && live(v, now))
        return false;
    if (!v) {
        v = g_new0(struct sval, 1);
        g_ptr_array_add(r->values, v);
    } else {
        if (v->key)
            g_bytes_unref(v->key);
        if (v->value)
            g_bytes_unref(v->value);
    }
    v->storage_time = d->storage_time;
    v->lifetime = d->lifetime;
    v->expires = now + (env_time)d->lifetime * ENV_S;
    v->index = d->index;
    v->key = r->model == WIRE_MODEL_DICTIONARY ? g_bytes_new(d->key.p, d->key.len) : NULL;
    v->exists = d->exists;
    v->value = g_bytes_new(d->value.p, d->value.len);
    return true;
}

/* Whether two values of a Store of data model `model` write the same slot. */
static bool same_wire_slot(uint8_t model, const struct wire_stored_data *a,
                           const struct wire_stored_data *b)
{
    switch (model) {
    case WIRE_MODEL_ARRAY:
        return a->index == b->index;
    case WIRE_MODEL_DICTIONARY:
        return a->key.len == b->key.len &&
               (a->key.len == 0 || memcmp(a->key.p, b->key.p, a->key.len) == 0);
    default:
        return true;
    }
}

/* The values of record r (NULL: none yet) that would exist after storing kd's values: the
 * last write to each slot decides, a tombstone (exists false) removes. */
static uint32_t count_after(const struct srec *r, const struct wire_store_kind *kd, uint8_t model,
                            env_time now)
{
    uint32_t count = 0;
    for (uint32_t v = 0; v < kd->n_values; v++) {
        bool overwritten = false;
        for (uint32_t w = v + 1; w < kd->n_values && !overwritten; w++)
            overwritten = same_wire_slot(model, &kd->values[v], &kd->values[w]);
        count += !overwritten && kd->values[v].exists;
    }
    for (guint i = 0; r && i < r->values->len; i++) {
        const struct sval *sv = r->values->pdata[i];
        if (!sv->exists || !live(sv, now))
            continue;
        bool written = false;
        for (uint32_t v = 0; v < kd->n_values && !written; v++)
            written = same_slot(r, sv, &kd->values[v]);
        count += !written;
    }
    return count;
}

static struct srec *get_or_add(struct storage *s, const struct id *res, uint32_t kind,
                               uint8_t model)
{
    struct srec *r = find(s, res, kind);
    if (!r) {
        r = g_new0(struct srec, 1);
        r->res = *res;
        r->kind = kind;
        r->model = model;
        r->values = g_ptr_array_new_with_free_func(sval_free);
        g_tree_insert(s->recs, r, r);
    }
    return r;
}

/* Fills d from a stored value (borrowing its bytes). */
static void to_wire(const struct srec *r, const struct sval *v, struct wire_stored_data *d)
{
    memset(d, 0, sizeof *d);
    d->storage_time = v->storage_time;
    d->lifetime = v->lifetime;
    d->model = r->model;
    d->index = v->index;
    if (v->key)
        d->key.p = g_bytes_get_data(v->key, NULL), d->key.len = (uint32_t)g_bytes_get_size(v->key);
    d->exists = v->exists;
    d->value.p = g_bytes_get_data(v->value, NULL);
    d->value.len = (uint32_t)g_bytes_get_size(v->value);
    d->sig.identity_type = WIRE_SIGNER_NONE;
}

/* Sends record r to peer `to` as a replica store (replica_number >= 1). */
static void push_record(struct node *n, const struct srec *r, const struct id *to,
                        uint8_t replica_number)
{
    env_time now = env_now(&n->env);
    struct wire_stored_data *vals = g_new(struct wire_stored_data, r->values->len ? r->values->len : 1);
    uint32_t nv = 0;
    for (guint i = 0; i < r->values->len; i++) {
        const struct sval *v = r->values->pdata[i];
        if (!live(v, now))
            continue;
        to_wire(r, v, &vals[nv]);
        /* The lifetime left, so that the copy expires when the original does. */
        vals[nv].lifetime = (uint32_t)((v->expires - now + ENV_S - 1) / ENV_S);
        nv++;
    }
    if (nv) {
        uint8_t rid[ID_BYTES];
        id_to_bytes(&r->res, rid);
        struct wire_store_kind k = {.kind = r->kind, .generation = r->generation,
                                    .n_values = nv, .values = vals};
        struct wire_store_req req = {.resource = {rid, ID_BYTES}, .replica_number = replica_number,
                                     .n_kinds = 1, .kinds = &k};
        GByteArray *b = g_byte_array_new();
        wire_encode_store_req(b, &req);
        struct node_dest d = {WIRE_DEST_NODE, *to};
        node_request(n, &d, 1, WIRE_STORE_REQ, b, NULL, NULL, NULL);
        g_byte_array_free(b, TRUE);
    }
    g_free(vals);
}

static void replicate(struct node *n, struct srec *r, const struct node_peer *reps, size_t nrep)
{
    for (size_t i = 0; i < nrep; i++)
        push_record(n, r, &reps[i].id, (uint8_t)(i + 1));
    r->owned = true;
}

/* ---- Store (§7.4.1) ----------------------------------------------------------------------- */

void storage_on_store(struct node *n, const struct wire_message *m)
{
    /* Created on first use: most peers of a large simulated ring never store anything. */
    if (!n->store)
        n->store = storage_new();
    struct storage *s = n->store;
    struct wire_store_req req;
    memset(&req, 0, sizeof req);
    int rc = wire_decode_store_req(m->body.p, m->body.len, &req, node_kind_model, n);
    if (rc == WIRE_E_UNKNOWN_KIND) {
        node_respond_error(n, m, WIRE_ERR_UNKNOWN_KIND, "unknown kind");
        return;
    }
    if (rc < 0 || req.resource.len != ID_BYTES) {
        wire_store_req_clear(&req);
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad StoreReq");
        return;
    }
    struct id res = id_from_bytes(req.resource.p);
    env_time now = env_now(&n->env);
    bool replica = req.replica_number > 0;
    /* Check every kind before changing anything. */
    for (uint32_t k = 0; k < req.n_kinds; k++) {
        const struct wire_store_kind *kd = &req.kinds[k];
        struct srec *r = find(s, &res, kd->kind);
        /* The kind's limits from the overlay configuration (§11.1 max-size, max-count). */
        const struct node_kind *def = node_kind_find(n, kd->kind);
        uint32_t max_size = def->max_size ? def->max_size : n->cfg->max_value_size;
        for (uint32_t v = 0; v < kd->n_values; v++)
            if (kd->values[v].value.len > max_size) {
                wire_store_req_clear(&req);
                node_respond_error(n, m, WIRE_ERR_DATA_TOO_LARGE, "value too large");
                return;
            }
        /* Replica stores copy what the responsible peer accepted: only originals count. */
        if (!replica && def->max_count && count_after(r, kd, def->model, now) > def->max_count) {
            wire_store_req_clear(&req);
            node_respond_error(n, m, WIRE_ERR_DATA_TOO_LARGE, "too many values for the kind");
            return;
        }
        if (!replica && r && kd->generation != 0 && kd->generation < r->generation) {
            wire_store_req_clear(&req);
            node_respond_error(n, m, WIRE_ERR_GENERATION_COUNTER_TOO_LOW, "generation too low");
            return;
        }
    }
    struct wire_store_kind_ans *ka = g_new0(struct wire_store_kind_ans, req.n_kinds ? req.n_kinds : 1);
    struct id rep_ids[8];
    struct node_peer reps[8];
    size_t nrep = 0;
    bool responsible = n->topo->ops->responsible(n->topo, &res);
    if (responsible) {
        nrep = n->topo->ops->replicas(n->topo, reps, G_N_ELEMENTS(reps));
        for (size_t i = 0; i < nrep; i++)
            rep_ids[i] = reps[i].id;
    }
    for (uint32_t k = 0; k < req.n_kinds; k++) {
        const struct wire_store_kind *kd = &req.kinds[k];
        struct srec *r = get_or_add(s, &res, kd->kind, (uint8_t)node_kind_model(kd->kind, n));
        for (uint32_t v = 0; v < kd->n_values; v++)
            put_value(r, &kd->values[v], now);
        if (replica)
            r->generation = MAX(r->generation, kd->generation);
        else
            r->generation = MAX(r->generation, kd->generation) + 1;
        ka[k].kind = kd->kind;
        ka[k].generation = r->generation;
        ka[k].n_replicas = replica ? 0 : (uint16_t)nrep;
        ka[k].replicas = rep_ids;
        /* The responsible peer replicates what it accepted (§10.4); so does a peer that was
         * handed a record it is responsible for. */
        if (responsible && n->state == NODE_JOINED && (!replica || !r->owned))
            replicate(n, r, reps, nrep);
    }
    struct wire_store_ans ans = {.n_kinds = (uint16_t)req.n_kinds, .kinds = ka};
    GByteArray *b = g_byte_array_new();
    wire_encode_store_ans(b, &ans);
    node_respond(n, m, WIRE_STORE_ANS, b);
    g_byte_array_free(b, TRUE);
    g_free(ka);
    wire_store_req_clear(&req);
}

/* ---- Fetch and Stat (§7.4.2, §7.4.3) ---------------------------------------------------- */

static bool matches(const struct srec *r, const struct sval *v, const struct wire_specifier *sp)
{
    switch (r->model) {
    case WIRE_MODEL_ARRAY:
        if (!sp->n_ranges)
            return true;
        for (uint16_t i = 0; i < sp->n_ranges; i++)
            if ((int64_t)v->index >= sp->ranges[i].first &&
                (int64_t)v->index <= sp->ranges[i].last)
                return true;
        return false;
    case WIRE_MODEL_DICTIONARY:
        if (!sp->n_keys)
            return true;
        for (uint16_t i = 0; i < sp->n_keys; i++)
            if (g_bytes_get_size(v->key) == sp->keys[i].len &&
                memcmp(g_bytes_get_data(v->key, NULL), sp->keys[i].p, sp->keys[i].len) == 0)
                return true;
        return false;
    default:
        return true;
    }
}

static int parse_fetch(struct node *n, const struct wire_message *m, struct wire_fetch_req *req,
                       struct id *res)
{
    memset(req, 0, sizeof *req);
    int rc = wire_decode_fetch_req(m->body.p, m->body.len, req, node_kind_model, n);
    if (rc == WIRE_E_UNKNOWN_KIND) {
        node_respond_error(n, m, WIRE_ERR_UNKNOWN_KIND, "unknown kind");
        return -1;
    }
    if (rc < 0 || req->resource.len != ID_BYTES) {
        wire_fetch_req_clear(req);
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad request");
        return -1;
    }
    *res = id_from_bytes(req->resource.p);
    return 0;
}

/* The live values at res that each specifier selects (Fetch and Stat select alike); the
 * arrays are g_new'd and the values borrow the store's bytes. */
static struct wire_fetch_ans select_values(struct node *n, const struct wire_fetch_req *req,
                                           const struct id *res)
{
    env_time now = env_now(&n->env);
    struct wire_fetch_ans ans = {.n_kinds = req->n_specifiers};
    ans.kinds = g_new0(struct wire_fetch_kind, req->n_specifiers ? req->n_specifiers : 1);
    for (uint16_t i = 0; i < req->n_specifiers; i++) {
        const struct wire_specifier *sp = &req->specifiers[i];
        struct srec *r = find(n->store, res, sp->kind);
        ans.kinds[i].kind = sp->kind;
        if (!r)
            continue;
        ans.kinds[i].generation = r->generation;
        ans.kinds[i].values = g_new(struct wire_stored_data, r->values->len ? r->values->len : 1);
        for (guint v = 0; v < r->values->len; v++) {
            const struct sval *sv = r->values->pdata[v];
            if (live(sv, now) && matches(r, sv, sp))
                to_wire(r, sv, &ans.kinds[i].values[ans.kinds[i].n_values++]);
        }
    }
    return ans;
}

static void selected_free(struct wire_fetch_ans *ans)
{
    for (uint32_t i = 0; i < ans->n_kinds; i++)
        g_free(ans->kinds[i].values);
    g_free(ans->kinds);
}

void storage_on_fetch(struct node *n, const struct wire_message *m)
{
    struct wire_fetch_req req;
    struct id res;
    if (parse_fetch(n, m, &req, &res) < 0)
        return;
    struct wire_fetch_ans ans = select_values(n, &req, &res);
    GByteArray *b = g_byte_array_new();
    wire_encode_fetch_ans(b, &ans);
    node_respond(n, m, WIRE_FETCH_ANS, b);
    g_byte_array_free(b, TRUE);
    selected_free(&ans);
    wire_fetch_req_clear(&req);
}

/* Stat answers the metadata of what the same Fetch would return (§7.4.3). */
void storage_on_stat(struct node *n, const struct wire_message *m)
{
    struct wire_fetch_req req;
    struct id res;
    if (parse_fetch(n, m, &req, &res) < 0)
        return;
    struct wire_fetch_ans sel = select_values(n, &req, &res);
    struct wire_stat_ans ans = {.n_kinds = sel.n_kinds};
    ans.kinds = g_new0(struct wire_stat_kind, sel.n_kinds ? sel.n_kinds : 1);
    for (uint32_t i = 0; i < sel.n_kinds; i++) {
        const struct wire_fetch_kind *fk = &sel.kinds[i];
        ans.kinds[i].kind = fk->kind;
        ans.kinds[i].generation = fk->generation;
        ans.kinds[i].n_values = fk->n_values;
        ans.kinds[i].values = g_new0(struct wire_stored_meta, fk->n_values ? fk->n_values : 1);
        for (uint32_t v = 0; v < fk->n_values; v++) {
            const struct wire_stored_data *d = &fk->values[v];
            struct wire_stored_meta *md = &ans.kinds[i].values[v];
            md->storage_time = d->storage_time;
            md->lifetime = d->lifetime;
            md->model = d->model;
            md->index = d->index;
            md->key = d->key;
            md->exists = d->exists;
            md->meta_value_length = d->value.len;
            md->hash_alg = 0; /* none: no hash until credentials arrive */
        }
    }
    GByteArray *b = g_byte_array_new();
    wire_encode_stat_ans(b, &ans);
    node_respond(n, m, WIRE_STAT_ANS, b);
    g_byte_array_free(b, TRUE);
    for (uint32_t i = 0; i < ans.n_kinds; i++)
        g_free(ans.kinds[i].values);
    g_free(ans.kinds);
    selected_free(&sel);
    wire_fetch_req_clear(&req);
}

/* ---- Find (§7.4.4) ------------------------------------------------------------------------ */

struct find_walk {
    uint32_t kind;
    struct id from;
    bool found;
    struct id best, best_d;
};

static gboolean find_closest(gpointer key, gpointer value, gpointer data)
{
    const struct srec *r = key;
    struct find_walk *w = data;
    if (r->kind != w->kind)
        return FALSE;
    struct id d = id_dist(&w->from, &r->res);
    if (!w->found || id_cmp(&d, &w->best_d) < 0) {
        w->found = true;
        w->best = r->res;
        w->best_d = d;
    }
    return FALSE;
}

void storage_on_find(struct node *n, const struct wire_message *m)
{
    struct wire_find_req req;
    if (wire_decode_find_req(m->body.p, m->body.len, &req) < 0 || req.resource.len != ID_BYTES) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad FindReq");
        return;
    }
    struct wire_find_ans *ans = g_new0(struct wire_find_ans, 1);
    uint8_t ids[64][ID_BYTES];
    for (uint8_t i = 0; i < req.n_kinds && i < G_N_ELEMENTS(ans->results); i++) {
        struct find_walk w = {.kind = req.kinds[i], .from = id_from_bytes(req.resource.p)};
        if (n->store)
            g_tree_foreach(n->store->recs, find_closest, &w);
        ans->results[i].kind = req.kinds[i];
        if (w.found) {
            id_to_bytes(&w.best, ids[i]);
            ans->results[i].closest.p = ids[i];
            ans->results[i].closest.len = ID_BYTES;
        }
        ans->n_results++;
    }
    GByteArray *b = g_byte_array_new();
    wire_encode_find_ans(b, ans);
    node_respond(n, m, WIRE_FIND_ANS, b);
    g_byte_array_free(b, TRUE);
    g_free(ans);
}

/* ---- replication and handover (§10.4, §10.7.3) -------------------------------------------- */

struct walk {
    struct node *n;
    GPtrArray *list;
    env_time now;
    const struct id *from, *upto;
};

static gboolean collect(gpointer key, gpointer value, gpointer data)
{
    struct walk *w = data;
    const struct srec *r = key;
    if (!w->from || id_in_oc(&r->res, w->from, w->upto))
        g_ptr_array_add(w->list, key);
    return FALSE;
}

static GPtrArray *records(struct node *n, const struct id *from, const struct id *upto)
{
    struct walk w = {.n = n, .list = g_ptr_array_new(), .from = from, .upto = upto};
    if (n->store)
        g_tree_foreach(n->store->recs, collect, &w);
    return w.list;
}

void storage_push_all(struct node *n, const struct id *to)
{
    GPtrArray *l = records(n, NULL, NULL);
    for (guint i = 0; i < l->len; i++)
        push_record(n, l->pdata[i], to, 1);
    g_ptr_array_free(l, TRUE);
}

void storage_push_range(struct node *n, const struct id *to, const struct id *from,
                        const struct id *upto)
{
    GPtrArray *l = records(n, from, upto);
    for (guint i = 0; i < l->len; i++)
        push_record(n, l->pdata[i], to, 1);
    g_ptr_array_free(l, TRUE);
}

static bool has_peer(const struct node_peer *l, size_t n, const struct id *id)
{
    for (size_t i = 0; i < n; i++)
        if (id_eq(&l[i].id, id))
            return true;
    return false;
}

void storage_rebalance(struct node *n)
{
    struct storage *s = n->store;
    if (!s || !n->topo || n->state != NODE_JOINED)
        return;
    env_time now = env_now(&n->env);
    struct node_peer reps[8];
    size_t nrep = n->topo->ops->replicas(n->topo, reps, G_N_ELEMENTS(reps));
    GPtrArray *l = records(n, NULL, NULL);
    for (guint i = 0; i < l->len; i++) {
        struct srec *r = l->pdata[i];
        /* Drop expired values, then empty records. */
        for (guint v = 0; v < r->values->len;) {
            if (!live(r->values->pdata[v], now)) {
                g_ptr_array_remove_index_fast(r->values, v);
            } else {
                v++;
            }
        }
        if (r->values->len == 0) {
            g_tree_remove(s->recs, r);
            continue;
        }
        if (n->topo->ops->responsible(n->topo, &r->res)) {
            for (size_t j = 0; j < nrep; j++)
                if (!r->owned || !has_peer(s->replicas, s->n_replicas, &reps[j].id))
                    push_record(n, r, &reps[j].id, (uint8_t)(j + 1));
            r->owned = true;
        } else {
            r->owned = false;
            if (!n->topo->ops->keeps(n->topo, &r->res))
                g_tree_remove(s->recs, r);
        }
    }
    g_ptr_array_free(l, TRUE);
    memcpy(s->replicas, reps, nrep * sizeof *reps);
    s->n_replicas = nrep;
}
