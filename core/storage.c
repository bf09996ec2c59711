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
 * replica store adopts the larger counter.
 *
 * Signatures and access control (§7.1, §7.3; only with a security provider,
 * node_config.security): every value of a Store must carry a signature that verifies over the
 * §7.1 input against a certificate of the StoreReq's bucket, and its signer must satisfy the
 * kind's policy (core/access.h); in an original (non-replica) Store the StoreReq's own signer
 * must satisfy it too.  Otherwise the whole Store is refused with Error_Forbidden and counted
 * (node_stats.refused_store).  Each value keeps its Signature bytes and a reference to its
 * signer's certificate; certificates are interned per peer (one copy, reference counted, however
 * many values a signer stored), and every replica store and FetchAns carries the certificates
 * of the values it holds (§6.3.4's note: the storing peer keeps them for fetchers).  Without a
 * provider a value holds no security state at all (one NULL pointer).
 *
 * Limits: a kind's max-size and max-count from the overlay configuration (§11.1; struct
 * node_kind) are enforced on every original Store with Error_Data_Too_Large (§7.4.1.1 names no
 * error for a count, this one is the nearest); max-count counts the values that would exist
 * after the Store.  Replica stores are checked for size only.
 */
#include <string.h>

#include "access.h"
#include "node_int.h"

/* A signer's certificate, as the GenericCertificate entry (type, length, bytes) of the bucket
 * it came in; shared by every value it signed (storage.certs interns them). */
struct scert {
    GBytes *entry;
    unsigned refs;
    GHashTable *owner; /* storage.certs, to leave when the last value goes */
};

/* A value's security state: its signer's certificate (NULL when the bucket did not hold it)
 * and its encoded Signature (§6.3.4). */
struct ssig {
    struct scert *cert;
    uint16_t len;
    uint8_t sig[];
};

/* Fields ordered to leave no padding: one per stored value, memory per peer counts. */
struct sval {
    uint64_t storage_time; /* ms, as sent by the writer */
    env_time expires;
    GBytes *key;
    GBytes *value;
    struct ssig *sec;      /* NULL without a security provider */
    uint32_t lifetime;     /* s */
    uint32_t index;
    bool exists;
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
    GHashTable *certs; /* GBytes entry -> struct scert *; created with the first signed value */
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

static void scert_unref(struct scert *c)
{
    if (!c || --c->refs)
        return;
    g_hash_table_remove(c->owner, c->entry);
    g_bytes_unref(c->entry);
    g_free(c);
}

/* The interned certificate whose GenericCertificate entry is `entry`, one reference more. */
static struct scert *scert_get(struct storage *s, struct wire_bytes entry)
{
    if (!s->certs)
        s->certs = g_hash_table_new(g_bytes_hash, g_bytes_equal);
    GBytes *k = g_bytes_new(entry.p, entry.len);
    struct scert *c = g_hash_table_lookup(s->certs, k);
    if (c) {
        g_bytes_unref(k);
    } else {
        c = g_new0(struct scert, 1);
        c->entry = k;
        c->owner = s->certs;
        g_hash_table_insert(s->certs, k, c);
    }
    c->refs++;
    return c;
}

static void ssig_free(struct ssig *g)
{
    if (!g)
        return;
    scert_unref(g->cert);
    g_free(g);
}

static void sval_free(gpointer p)
{
    struct sval *v = p;
    if (v->key)
        g_bytes_unref(v->key);
    if (v->value)
        g_bytes_unref(v->value);
    ssig_free(v->sec);
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
    g_tree_destroy(s->recs); /* first: the values release their certificates */
    if (s->certs)
        g_hash_table_destroy(s->certs);
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
              (v->key ? g_bytes_get_size(v->key) : 0) + 16 +
              (v->sec ? sizeof *v->sec + v->sec->len : 0);
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

/* Puts one value into r with its security state sec (NULL: none), which it takes over; an
 * older write than the stored one is ignored (returns false, sec freed). */
static bool put_value(struct srec *r, const struct wire_stored_data *d, env_time now,
                      struct ssig *sec)
{
    struct sval *v = NULL;
    for (guint i = 0; i < r->values->len && !v; i++)
        if (same_slot(r, r->values->pdata[i], d))
            v = r->values->pdata[i];
    if (v && v->storage_time > d->storage_time && live(v, now)) {
        ssig_free(sec);
        return false;
    }
    if (!v) {
        v = g_new0(struct sval, 1);
        g_ptr_array_add(r->values, v);
    } else {
        if (v->key)
            g_bytes_unref(v->key);
        if (v->value)
            g_bytes_unref(v->value);
        ssig_free(v->sec);
    }
    v->sec = sec;
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
    if (v->sec && wire_decode_signature(v->sec->sig, v->sec->len, &d->sig) < 0)
        g_assert_not_reached(); /* stored only after it decoded */
}

/* ---- signatures and policies (§7.1, §7.3) -------------------------------------------------- */

/* The GenericCertificate entry of bucket that a SignerIdentity names (§6.3.4: cert_hash is
 * the hash of the certificate, cert_hash_node_id that of Node-ID || certificate, with the
 * identity's hash algorithm): false when none does or the algorithm is unknown. */
static bool find_cert_entry(struct wire_bytes bucket, const struct wire_signature *sig,
                            const struct id *node, struct wire_bytes *entry)
{
    if (sig->identity.len < 2 || sig->identity.p[1] != sig->identity.len - 2)
        return false;
    GChecksumType t;
    switch (sig->identity.p[0]) { /* TLS HashAlgorithm */
    case 2:
        t = G_CHECKSUM_SHA1;
        break;
    case 4:
        t = G_CHECKSUM_SHA256;
        break;
    case 5:
        t = G_CHECKSUM_SHA384;
        break;
    case 6:
        t = G_CHECKSUM_SHA512;
        break;
    default:
        return false;
    }
    struct wire_bytes rest = bucket, cert;
    uint8_t type;
    const uint8_t *at = rest.p;
    while (wire_next_certificate(&rest, &type, &cert) == 1) {
        GChecksum *c = g_checksum_new(t);
        if (sig->identity_type == WIRE_SIGNER_CERT_HASH_NODE_ID) {
            uint8_t nb[ID_BYTES];
            id_to_bytes(node, nb);
            g_checksum_update(c, nb, ID_BYTES);
        }
        g_checksum_update(c, cert.p, cert.len);
        uint8_t d[64];
        gsize dlen = sizeof d;
        g_checksum_get_digest(c, d, &dlen);
        g_checksum_free(c);
        if (dlen == sig->identity.p[1] && memcmp(d, sig->identity.p + 2, dlen) == 0) {
            *entry = (struct wire_bytes){at, (uint32_t)(rest.p - at)};
            return true;
        }
        at = rest.p;
    }
    return false;
}

/* Checks value d of kind at resource rid: its signature against a certificate of bucket (the
 * provider's verify), then the kind's policy.  0 with *who filled, or -1 with the reason in
 * why (why_len bytes). */
static int check_value(struct node *n, struct wire_bytes bucket, const uint8_t *rid,
                       uint32_t kind, const struct wire_stored_data *d, struct node_signer *who,
                       char *why, size_t why_len)
{
    const struct node_security_ops *ops = n->cfg->security.ops;
    if (d->sig.identity_type == WIRE_SIGNER_NONE || d->sig.hash_alg == 0) {
        g_strlcpy(why, "unsigned value", why_len);
        return -1;
    }
    GByteArray *in = g_byte_array_sized_new(64 + d->value.len + d->key.len);
    wire_stored_data_input(in, rid, ID_BYTES, kind, d);
    int rc = ops->verify(n->cfg->security.ud, bucket, &d->sig, in->data, in->len,
                         env_now(&n->env), who);
    g_byte_array_unref(in);
    if (rc < 0) {
        g_snprintf(why, why_len, "signature: %s", ops->strerror ? ops->strerror(rc) : "failed");
        return -1;
    }
    const struct node_kind *def = node_kind_find(n, kind);
    if (!def || access_check(def->access, def->max_node_multiple, rid, ID_BYTES, d, who) < 0) {
        g_snprintf(why, why_len, "%s refuses the signer",
                   def ? access_name(def->access) : "unknown kind");
        return -1;
    }
    return 0;
}

static void log_refusal(struct node *n, const char *what, const struct id *res, uint32_t kind,
                        const char *why)
{
    char hex[ID_HEX_LEN + 1];
    id_to_hex(res, hex);
    env_logf(&n->env, ENV_LOG_WARN, "%s kind=0x%08x resource=%s: %s", what, (unsigned)kind,
             hex, why);
}

/* Bytes a bucket of value certificates may take: a SecurityBlock's certificates are
 * <0..2^16-1> and the sender adds its own certificate(s). */
#define BUCKET_ROOM 60000

/* Appends v's certificate to bucket unless seen (the certificates added so far) holds it. */
static void add_cert(GByteArray *bucket, GPtrArray *seen, const struct sval *v)
{
    struct scert *c = v->sec ? v->sec->cert : NULL;
    if (!c)
        return;
    for (guint i = 0; i < seen->len; i++)
        if (seen->pdata[i] == c)
            return;
    gsize len;
    const uint8_t *p = g_bytes_get_data(c->entry, &len);
    if (bucket->len + len > BUCKET_ROOM)
        return; /* the fetcher will reject the values it cannot check */
    g_ptr_array_add(seen, c);
    g_byte_array_append(bucket, p, (guint)len);
}

/* Sends record r to peer `to` as a replica store (replica_number >= 1). */
static void push_record(struct node *n, const struct srec *r, const struct id *to,
                        uint8_t replica_number)
{
    env_time now = env_now(&n->env);
    struct wire_stored_data *vals = g_new(struct wire_stored_data, r->values->len ? r->values->len : 1);
    uint32_t nv = 0;
    /* Replicas carry the original signatures, and the bucket their signers' certificates. */
    GByteArray *certs = g_byte_array_new();
    GPtrArray *seen = g_ptr_array_new();
    for (guint i = 0; i < r->values->len; i++) {
        const struct sval *v = r->values->pdata[i];
        if (!live(v, now))
            continue;
        add_cert(certs, seen, v);
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
        node_request_certs(n, &d, 1, WIRE_STORE_REQ, b, NULL, NULL, NULL, certs);
        g_byte_array_free(b, TRUE);
    }
    g_ptr_array_free(seen, TRUE);
    g_byte_array_unref(certs);
    g_free(vals);
}

static void replicate(struct node *n, struct srec *r, const struct node_peer *reps, size_t nrep)
{
    for (size_t i = 0; i < nrep; i++)
        push_record(n, r, &reps[i].id, (uint8_t)(i + 1));
    r->owned = true;
}

/* ---- Store (§7.4.1) ----------------------------------------------------------------------- */

/* The security checks of a Store (§7.1, §7.3): true with *secs set to the values' security
 * states in request order (a g_malloc'd array; put_value takes over each element, the caller
 * frees the array); false when the Store was refused with Error_Forbidden. */
static bool check_store(struct node *n, const struct wire_message *m,
                        const struct wire_store_req *req, bool replica, struct ssig ***secs)
{
    struct storage *s = n->store;
    struct id res = id_from_bytes(req->resource.p);
    const struct node_signer *msg_signer = node_message_signer(m);
    uint32_t total = 0;
    for (uint32_t k = 0; k < req->n_kinds; k++)
        total += req->kinds[k].n_values;
    GPtrArray *out = g_ptr_array_sized_new(total);
    char why[96];
    bool ok = true;
    for (uint32_t k = 0; ok && k < req->n_kinds; k++) {
        const struct wire_store_kind *kd = &req->kinds[k];
        const struct node_kind *def = node_kind_find(n, kd->kind);
        for (uint32_t v = 0; ok && v < kd->n_values; v++) {
            const struct wire_stored_data *d = &kd->values[v];
            struct node_signer who;
            ok = check_value(n, m->sec.certificates, req->resource.p, kd->kind, d, &who, why,
                             sizeof why) == 0;
            /* In an original Store the StoreReq's signer must conform as well (§7.3). */
            if (ok && !replica && msg_signer &&
                access_check(def->access, def->max_node_multiple, req->resource.p, ID_BYTES, d,
                             msg_signer) < 0) {
                g_snprintf(why, sizeof why, "%s refuses the StoreReq's signer",
                           access_name(def->access));
                ok = false;
            }
            if (!ok)
                break;
            struct wire_bytes entry;
            GByteArray *enc = g_byte_array_new();
            wire_encode_signature(enc, &d->sig);
            struct ssig *g = g_malloc(sizeof *g + enc->len);
            g->len = (uint16_t)enc->len;
            memcpy(g->sig, enc->data, enc->len);
            g_byte_array_unref(enc);
            g->cert = find_cert_entry(m->sec.certificates, &d->sig, &who.node, &entry)
                          ? scert_get(s, entry)
                          : NULL;
            g_ptr_array_add(out, g);
        }
    }
    if (!ok) {
        for (guint i = 0; i < out->len; i++)
            ssig_free(out->pdata[i]);
        g_ptr_array_free(out, TRUE);
        n->stats.refused_store++;
        log_refusal(n, replica ? "replica store refused" : "store refused", &res,
                    req->kinds[0].kind, why);
        node_respond_error(n, m, WIRE_ERR_FORBIDDEN, why);
        return false;
    }
    *secs = (struct ssig **)g_ptr_array_free(out, FALSE);
    return true;
}

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
    /* With a security provider: every value's signature and the kinds' policies (§7.3). */
    struct ssig **secs = NULL;
    size_t next_sec = 0;
    if (n->cfg->security.ops && !check_store(n, m, &req, replica, &secs)) {
        wire_store_req_clear(&req);
        return;
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
            put_value(r, &kd->values[v], now, secs ? secs[next_sec++] : NULL);
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
    g_free(secs);
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
 * arrays are g_new'd and the values borrow the store's bytes.  certs, when not NULL, receives
 * the certificates of the selected values' signers (for a FetchAns's security block). */
static struct wire_fetch_ans select_values(struct node *n, const struct wire_fetch_req *req,
                                           const struct id *res, GByteArray *certs)
{
    GPtrArray *seen = certs ? g_ptr_array_new() : NULL;
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
            if (live(sv, now) && matches(r, sv, sp)) {
                to_wire(r, sv, &ans.kinds[i].values[ans.kinds[i].n_values++]);
                if (seen)
                    add_cert(certs, seen, sv);
            }
        }
    }
    if (seen)
        g_ptr_array_free(seen, TRUE);
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
    GByteArray *certs = g_byte_array_new();
    struct wire_fetch_ans ans = select_values(n, &req, &res, certs);
    GByteArray *b = g_byte_array_new();
    wire_encode_fetch_ans(b, &ans);
    node_respond_certs(n, m, WIRE_FETCH_ANS, b, certs);
    g_byte_array_free(b, TRUE);
    g_byte_array_unref(certs);
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
    struct wire_fetch_ans sel = select_values(n, &req, &res, NULL);
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

/* ---- the fetcher's checks, and fault injection ------------------------------------------- */

uint32_t storage_check_fetched(struct node *n, const struct id *res, struct wire_bytes certs,
                               struct wire_fetch_ans *ans, struct id *first_signer)
{
    if (!n->cfg->security.ops)
        return 0;
    uint8_t rid[ID_BYTES];
    id_to_bytes(res, rid);
    uint32_t rejected = 0;
    char why[96];
    bool have_signer = false;
    for (uint32_t k = 0; k < ans->n_kinds; k++) {
        struct wire_fetch_kind *fk = &ans->kinds[k];
        uint32_t kept = 0;
        for (uint32_t v = 0; v < fk->n_values; v++) {
            struct node_signer who;
            if (check_value(n, certs, rid, fk->kind, &fk->values[v], &who, why, sizeof why) == 0) {
                if (!have_signer && first_signer)
                    *first_signer = who.node;
                have_signer = true;
                fk->values[kept++] = fk->values[v];
            } else if (rejected++ == 0) {
                log_refusal(n, "fetched value rejected", res, fk->kind, why);
            }
        }
        fk->n_values = kept;
    }
    n->stats.rejected_values += rejected;
    return rejected;
}

struct tamper {
    const struct id *res;
    uint32_t kind;
    const uint8_t *value;
    size_t len;
    unsigned changed;
};

static gboolean tamper_one(gpointer key, gpointer value, gpointer data)
{
    struct srec *r = key;
    struct tamper *t = data;
    if (r->kind != t->kind || !id_eq(&r->res, t->res))
        return FALSE;
    for (guint i = 0; i < r->values->len; i++) {
        struct sval *v = r->values->pdata[i];
        if (v->value)
            g_bytes_unref(v->value);
        v->value = g_bytes_new(t->value, t->len);
        t->changed++;
    }
    return TRUE;
}

unsigned storage_tamper(struct node *n, const struct id *res, uint32_t kind,
                        const uint8_t *value, size_t len)
{
    struct tamper t = {res, kind, value, len, 0};
    if (n->store)
        g_tree_foreach(n->store->recs, tamper_one, &t);
    return t.changed;
}
