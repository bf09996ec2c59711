/* service.c — services findable by name (service.h; draft-ietf-p2psip-concepts-00 §2.1,
 * §5.1, §6.1): the ServiceRecord codec, advertising with refreshes and withdrawal (RFC 6940
 * §7.4.1, dictionary data model §7.2.3, nonexistent values §7.4.1.3), finding by one Fetch
 * (§7.4.2), and the selection policies.
 *
 * An agent keeps its advertisements (one timer each: the next refresh, retry or load update)
 * and its pending requests (a small list, so that service_free can release their state).
 * node_store and node_fetch may complete before they return (the node is responsible for
 * the service's Resource-ID itself), so nothing of a request is touched after a call that
 * may have completed it.
 */
#include "service.h"

#include <math.h>
#include <string.h>

#include "wire.h"

/* ---- the ServiceRecord codec ---------------------------------------------------------------- */

enum { ADDR_IPV4 = 1, ADDR_IPV6 = 2 };

static bool cand_ok(uint8_t t)
{
    return t == WIRE_CAND_HOST || t == WIRE_CAND_SRFLX || t == WIRE_CAND_RELAY;
}

bool service_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    return len >= 1 && len <= SERVICE_NAME_MAX;
}

struct id service_resource_id(const char *name)
{
    char *s = g_strconcat("service:", name, NULL);
    struct id id = id_hash(s, strlen(s));
    g_free(s);
    return id;
}

static void put_be(GByteArray *o, uint64_t v, unsigned n)
{
    uint8_t b[8];
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    g_byte_array_append(o, b, n);
}

int service_record_encode(GByteArray *out, const struct service_record *r)
{
    if (!service_name_ok(r->name) || !cand_ok(r->candidate_type))
        return SERVICE_E_INVALID;
    uint8_t id[ID_BYTES];
    id_to_bytes(&r->provider, id);
    size_t name_len = strlen(r->name);
    put_be(out, SERVICE_RECORD_VERSION, 1);
    g_byte_array_append(out, id, ID_BYTES);
    put_be(out, r->candidate_type, 1);
    put_be(out, ADDR_IPV4, 1);
    put_be(out, 6, 1);
    put_be(out, r->addr.ip, 4);
    put_be(out, r->addr.port, 2);
    put_be(out, r->capacity, 4);
    put_be(out, r->load, 4);
    put_be(out, name_len, 1);
    g_byte_array_append(out, (const uint8_t *)r->name, (guint)name_len);
    return 0;
}

/* A read cursor: every read checks the bytes left. */
struct rd {
    const uint8_t *p;
    size_t left;
};

static bool get_be(struct rd *c, unsigned n, uint64_t *v)
{
    if (c->left < n)
        return false;
    *v = 0;
    for (unsigned i = 0; i < n; i++)
        *v = *v << 8 | c->p[i];
    c->p += n;
    c->left -= n;
    return true;
}

int service_record_decode(const uint8_t *p, size_t len, struct service_record *r)
{
    struct rd c = {p, len};
    uint64_t version, cand, atype, alen, ip, port, cap, load, nlen;
    memset(r, 0, sizeof *r);
    if (!get_be(&c, 1, &version))
        return SERVICE_E_TRUNCATED;
    if (version != SERVICE_RECORD_VERSION)
        return SERVICE_E_UNSUPPORTED;
    if (c.left < ID_BYTES)
        return SERVICE_E_TRUNCATED;
    r->provider = id_from_bytes(c.p);
    c.p += ID_BYTES;
    c.left -= ID_BYTES;
    if (!get_be(&c, 1, &cand) || !get_be(&c, 1, &atype) || !get_be(&c, 1, &alen))
        return SERVICE_E_TRUNCATED;
    if (!cand_ok((uint8_t)cand))
        return SERVICE_E_INVALID;
    if (atype == ADDR_IPV6)
        return SERVICE_E_UNSUPPORTED; /* the simulator and net/ are IPv4 only */
    if (atype != ADDR_IPV4 || alen != 6)
        return SERVICE_E_INVALID;
    if (!get_be(&c, 4, &ip) || !get_be(&c, 2, &port) || !get_be(&c, 4, &cap) ||
        !get_be(&c, 4, &load) || !get_be(&c, 1, &nlen))
        return SERVICE_E_TRUNCATED;
    if (nlen == 0 || memchr(c.p, 0, MIN(nlen, c.left)))
        return SERVICE_E_INVALID;
    if (c.left < nlen)
        return SERVICE_E_TRUNCATED;
    if (c.left > nlen)
        return SERVICE_E_TRUNCATED; /* bytes after the name: not one record */
    r->candidate_type = (uint8_t)cand;
    r->addr.ip = (uint32_t)ip;
    r->addr.port = (uint16_t)port;
    r->capacity = (uint32_t)cap;
    r->load = (uint32_t)load;
    memcpy(r->name, c.p, nlen);
    r->name[nlen] = '\0';
    return 0;
}

/* ---- the agent ------------------------------------------------------------------------------ */

/* One advertised service. */
struct advert {
    struct service *svc;
    char *name;
    struct env_addr addr;
    uint8_t cand;
    uint32_t capacity, load;
    env_time last_issue; /* when the last Store was sent; 0 before the first */
    bool issued;
    env_timer timer; /* the next Store: refresh, retry or load update */
    env_time due;    /* when timer fires */
};

enum op_type { OP_STORE, OP_WITHDRAW, OP_FIND };

/* A request awaiting its answer. */
struct op {
    struct service *svc;
    enum op_type type;
    char *name;
    env_time started;
    service_find_cb cb;
    void *ud;
};

struct service {
    struct env env;
    struct node *node;
    struct service_config cfg;
    GPtrArray *adverts; /* struct advert *, in the order advertised */
    GPtrArray *ops;     /* struct op * */
    struct service_stats stats;
};

void service_config_default(struct service_config *c)
{
    memset(c, 0, sizeof *c);
    c->lifetime = 300;
    c->retry = 10 * ENV_S;
    c->load_interval = 30 * ENV_S;
    c->cookie = 0;
}

static void advert_free(gpointer p)
{
    struct advert *a = p;
    env_timer_stop(&a->svc->env, a->timer);
    g_free(a->name);
    g_free(a);
}

static void op_free(gpointer p)
{
    struct op *o = p;
    g_free(o->name);
    g_free(o);
}

struct service *service_new(const struct env *env, struct node *n, const struct service_config *cfg)
{
    struct service *s = g_new0(struct service, 1);
    s->env = *env;
    s->node = n;
    if (cfg)
        s->cfg = *cfg;
    else
        service_config_default(&s->cfg);
    s->adverts = g_ptr_array_new_with_free_func(advert_free);
    s->ops = g_ptr_array_new_with_free_func(op_free);
    return s;
}

void service_free(struct service *s)
{
    if (!s)
        return;
    g_ptr_array_free(s->adverts, TRUE);
    g_ptr_array_free(s->ops, TRUE);
    g_free(s);
}

unsigned service_pending(const struct service *s)
{
    return s->ops->len;
}

size_t service_advertised(const struct service *s)
{
    return s->adverts->len;
}

const struct service_stats *service_get_stats(const struct service *s)
{
    return &s->stats;
}

static struct advert *advert_find(const struct service *s, const char *name)
{
    for (guint i = 0; i < s->adverts->len; i++) {
        struct advert *a = s->adverts->pdata[i];
        if (strcmp(a->name, name) == 0)
            return a;
    }
    return NULL;
}

static struct op *op_new(struct service *s, enum op_type type, const char *name)
{
    struct op *o = g_new0(struct op, 1);
    o->svc = s;
    o->type = type;
    o->name = g_strdup(name);
    o->started = env_now(&s->env);
    g_ptr_array_add(s->ops, o);
    return o;
}

/* Takes o off the pending list and frees it. */
static void op_done(struct op *o)
{
    g_ptr_array_remove(o->svc->ops, o);
}

static void advert_timer(void *arg);

/* Arms a's timer for `at`, unless it is armed for an earlier time already. */
static void advert_arm(struct advert *a, env_time at)
{
    struct service *s = a->svc;
    env_time now = env_now(&s->env);
    if (at < now)
        at = now;
    if (a->timer && a->due <= at)
        return;
    env_timer_stop(&s->env, a->timer);
    a->due = at;
    a->timer = env_timer_start(&s->env, at - now, advert_timer, a);
}

/* The next refresh of a record stored at t: at 80-90 % of its lifetime (spread so that
 * providers started together do not refresh together). */
static env_time refresh_at(struct service *s, env_time t)
{
    env_time life = (env_time)s->cfg.lifetime * ENV_S;
    return t + life * 8 / 10 + env_random(&s->env) % (life / 10 + 1);
}

static void on_store(void *ud, int status);

/* Stores the record (exists) or a nonexistent value under this node's key.  Returns the
 * node_store status; the op is freed here when the Store could not be sent. */
static int store(struct service *s, const char *name, const struct advert *a, enum op_type type)
{
    uint8_t key[ID_BYTES];
    id_to_bytes(node_id(s->node), key);
    GByteArray *body = g_byte_array_new();
    if (a) {
        struct service_record r = {.provider = *node_id(s->node),
                                   .candidate_type = a->cand,
                                   .addr = a->addr,
                                   .capacity = a->capacity,
                                   .load = a->load};
        g_strlcpy(r.name, name, sizeof r.name);
        int rc = service_record_encode(body, &r);
        g_assert(rc == 0); /* names and candidate types were checked on entry */
    }
    struct node_value v = {.key = key,
                           .key_len = ID_BYTES,
                           .value = body->data,
                           .value_len = body->len,
                           .exists = a != NULL,
                           .lifetime = s->cfg.lifetime};
    struct id res = service_resource_id(name);
    struct op *o = op_new(s, type, name);
    int rc = node_store(s->node, &res, NODE_KIND_SERVICE, &v, s->cfg.cookie, on_store, o);
    g_byte_array_free(body, TRUE);
    if (rc != NODE_OK)
        op_done(o);
    return rc;
}

/* Stores advertisement a now; on failure to send, tries again after cfg.retry. */
static int advert_store(struct advert *a)
{
    struct service *s = a->svc;
    env_time now = env_now(&s->env);
    a->last_issue = now;
    a->issued = true;
    s->stats.stores++;
    int rc = store(s, a->name, a, OP_STORE);
    if (rc != NODE_OK) {
        s->stats.stores_failed++;
        advert_arm(a, now + s->cfg.retry);
    }
    return rc;
}

static void advert_timer(void *arg)
{
    struct advert *a = arg;
    a->timer = 0;
    advert_store(a);
}

static void on_store(void *ud, int status)
{
    struct op *o = ud;
    struct service *s = o->svc;
    struct advert *a = o->type == OP_STORE ? advert_find(s, o->name) : NULL;
    if (o->type == OP_STORE) {
        if (status == NODE_OK)
            s->stats.stores_ok++;
        else
            s->stats.stores_failed++;
    }
    /* A record withdrawn meanwhile needs nothing more. */
    if (a) {
        env_time now = env_now(&s->env);
        if (status == NODE_OK)
            advert_arm(a, refresh_at(s, o->started));
        else
            advert_arm(a, now + s->cfg.retry);
    }
    op_done(o);
}

int service_advertise(struct service *s, const char *name, const struct env_addr *addr,
                      uint8_t cand, uint32_t capacity, uint32_t load)
{
    if (!service_name_ok(name) || !cand_ok(cand))
        return NODE_E_INVALID;
    struct advert *a = advert_find(s, name);
    if (!a) {
        a = g_new0(struct advert, 1);
        a->svc = s;
        a->name = g_strdup(name);
        g_ptr_array_add(s->adverts, a);
    }
    a->addr = *addr;
    a->cand = cand;
    a->capacity = capacity;
    a->load = load;
    return advert_store(a);
}

int service_set_load(struct service *s, const char *name, uint32_t load)
{
    struct advert *a = name ? advert_find(s, name) : NULL;
    if (!a)
        return NODE_E_NOT_FOUND;
    if (a->load == load)
        return NODE_OK;
    a->load = load;
    env_time now = env_now(&s->env);
    env_time next = a->issued ? a->last_issue + s->cfg.load_interval : now;
    if (next <= now)
        advert_store(a); /* when it cannot be sent, a retry is armed */
    else
        advert_arm(a, next);
    return NODE_OK;
}

int service_withdraw(struct service *s, const char *name)
{
    struct advert *a = name ? advert_find(s, name) : NULL;
    if (!a)
        return NODE_E_NOT_FOUND;
    char *copy = g_strdup(name);
    g_ptr_array_remove(s->adverts, a); /* stops its timer */
    s->stats.withdraws++;
    int rc = store(s, copy, NULL, OP_WITHDRAW);
    g_free(copy);
    return rc;
}

/* ---- finding -------------------------------------------------------------------------------- */

static void on_fetch(void *ud, int status, const struct wire_fetch_ans *ans)
{
    struct op *o = ud;
    struct service *s = o->svc;
    GArray *list = g_array_new(FALSE, FALSE, sizeof(struct service_record));
    size_t skipped = 0;
    for (uint32_t k = 0; status == NODE_OK && k < ans->n_kinds; k++) {
        if (ans->kinds[k].kind != NODE_KIND_SERVICE)
            continue;
        for (uint32_t v = 0; v < ans->kinds[k].n_values; v++) {
            const struct wire_stored_data *d = &ans->kinds[k].values[v];
            if (!d->exists)
                continue;
            struct service_record r;
            /* The record must decode, name the service asked for, and sit under its
             * provider's own key (the dictionary key is the advertising Node-ID). */
            struct id key = d->key.len == ID_BYTES ? id_from_bytes(d->key.p) : (struct id){0, 0};
            if (service_record_decode(d->value.p, d->value.len, &r) != 0 ||
                strcmp(r.name, o->name) != 0 || d->key.len != ID_BYTES ||
                !id_eq(&key, &r.provider)) {
                skipped++;
                continue;
            }
            g_array_append_val(list, r);
        }
    }
    s->stats.records_skipped += skipped;
    if (status == NODE_OK && list->len == 0)
        status = NODE_E_NOT_FOUND;
    if (status == NODE_OK)
        s->stats.finds_found++;
    else if (status == NODE_E_NOT_FOUND)
        s->stats.finds_not_found++;
    else
        s->stats.finds_failed++;
    service_find_cb cb = o->cb;
    void *cb_ud = o->ud;
    env_time latency = env_now(&s->env) - o->started;
    op_done(o);
    cb(cb_ud, status, (struct service_record *)(void *)list->data, list->len, skipped, latency);
    g_array_free(list, TRUE);
}

int service_find(struct service *s, const char *name, service_find_cb cb, void *ud)
{
    if (!service_name_ok(name))
        return NODE_E_INVALID;
    struct id res = service_resource_id(name);
    struct op *o = op_new(s, OP_FIND, name);
    o->cb = cb;
    o->ud = ud;
    s->stats.finds++;
    int rc = node_fetch(s->node, &res, NODE_KIND_SERVICE, s->cfg.cookie, on_fetch, o);
    if (rc != NODE_OK) {
        s->stats.finds--;
        op_done(o);
    }
    return rc;
}

/* ---- policies (draft §6.1) ------------------------------------------------------------------ */

static double score_random(const struct service_policy *p, const struct node *n,
                           const struct service_record *r)
{
    return 0;
}

static double score_least_loaded(const struct service_policy *p, const struct node *n,
                                 const struct service_record *r)
{
    if (r->capacity == 0)
        return INFINITY;
    return (double)r->load / (double)r->capacity;
}

static double score_lowest_rtt(const struct service_policy *p, const struct node *n,
                               const struct service_record *r)
{
    if (id_eq(&r->provider, node_id(n)))
        return 0;
    env_time srtt, rttvar;
    if (!node_peer_rtt(n, &r->provider, &srtt, &rttvar))
        return INFINITY;
    return (double)srtt;
}

const struct service_policy service_policy_random = {"random", score_random, NULL};
const struct service_policy service_policy_least_loaded = {"least_loaded", score_least_loaded,
                                                           NULL};
const struct service_policy service_policy_lowest_rtt = {"lowest_rtt", score_lowest_rtt, NULL};

/* A random order, then the less loaded of the first two in front. */
static void order_two_choices(const struct service_policy *p, const struct node *n,
                              const struct env *env, struct service_record *list, size_t count)
{
    service_rank(&service_policy_random, n, env, list, count);
    if (count >= 2 && score_least_loaded(p, n, &list[1]) < score_least_loaded(p, n, &list[0])) {
        struct service_record t = list[0];
        list[0] = list[1];
        list[1] = t;
    }
}

const struct service_policy service_policy_two_choices = {"two_choices", NULL, order_two_choices};

const struct service_policy *service_policy_by_name(const char *name)
{
    static const struct service_policy *const all[] = {
        &service_policy_random, &service_policy_least_loaded, &service_policy_lowest_rtt,
        &service_policy_two_choices};
    for (size_t i = 0; name && i < G_N_ELEMENTS(all); i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

struct ranked {
    double score;
    uint64_t tie;
    size_t index;
};

static int ranked_cmp(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    if (x->tie != y->tie)
        return x->tie < y->tie ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

void service_rank(const struct service_policy *p, const struct node *n, const struct env *env,
                  struct service_record *list, size_t count)
{
    if (count == 0)
        return;
    if (p->order) {
        p->order(p, n, env, list, count);
        return;
    }
    struct ranked *r = g_new(struct ranked, count);
    for (size_t i = 0; i < count; i++) {
        r[i].score = p->score(p, n, &list[i]);
        r[i].tie = env_random(env);
        r[i].index = i;
    }
    qsort(r, count, sizeof *r, ranked_cmp);
    struct service_record *copy = g_memdup2(list, count * sizeof *list);
    for (size_t i = 0; i < count; i++)
        list[i] = copy[r[i].index];
    g_free(copy);
    g_free(r);
}
