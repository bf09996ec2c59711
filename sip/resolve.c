/* resolve.c — AoR lookup through the overlay (RFC 7904 §4): Fetch SIP-REGISTRATION at
 * hash(AoR), follow forwarding URIs breadth first with a depth limit and a visited set, collect
 * the routes.
 *
 * A resolution counts its outstanding Fetches plus one token held while code of this file
 * runs for it (the start, or the handling of one answer); it completes when the count drops to
 * zero.  node_fetch() may answer before it returns (the node is responsible itself), so no
 * state is touched after a call that may complete the resolution.
 */
#include "resolve.h"

#include <string.h>

struct sip_resolve {
    struct node *node;
    unsigned max_depth;
    uint64_t cookie;
    sip_resolve_cb cb; /* NULL once cancelled */
    void *ud;
    unsigned pending;  /* outstanding Fetches + tokens */
    int error;         /* first Fetch error other than Not Found */
    bool loop;         /* a forwarding URI was not followed (visited or too deep) */
    GArray *visited;   /* struct id: AoRs fetched */
    GPtrArray *routes; /* struct route_copy * */
};

/* A route with the bytes it points to. */
struct route_copy {
    struct sip_route r;
    char *aor, *prefs;
    GByteArray *dest_bytes;
};

struct fetch_ctx {
    struct sip_resolve *res;
    unsigned depth;
    char *aor;
};

static void route_copy_free(gpointer p)
{
    struct route_copy *c = p;
    g_free(c->aor);
    g_free(c->prefs);
    g_byte_array_free(c->dest_bytes, TRUE);
    g_free(c);
}

static void release(struct sip_resolve *r)
{
    g_assert(r->pending > 0);
    if (--r->pending)
        return;
    if (r->cb) {
        size_t n = r->routes->len;
        struct sip_route *list = g_new(struct sip_route, n ? n : 1);
        for (size_t i = 0; i < n; i++)
            list[i] = ((struct route_copy *)r->routes->pdata[i])->r;
        int status = n          ? NODE_OK
                     : r->error ? r->error
                     : r->loop  ? SIP_RESOLVE_E_LOOP
                                : NODE_E_NOT_FOUND;
        r->cb(r->ud, status, list, n);
        g_free(list);
    }
    g_array_free(r->visited, TRUE);
    g_ptr_array_free(r->routes, TRUE);
    g_free(r);
}

static bool visited(const struct sip_resolve *r, const struct id *res)
{
    for (guint i = 0; i < r->visited->len; i++)
        if (id_eq(&g_array_index(r->visited, struct id, i), res))
            return true;
    return false;
}

static void on_fetch(void *ud, int status, const struct wire_fetch_ans *ans);

/* Fetches aor at depth; the caller holds a token.  Returns the node_fetch status. */
static int fetch(struct sip_resolve *r, const char *aor, unsigned depth)
{
    struct id res = sip_usage_resource_id(aor);
    g_array_append_val(r->visited, res);
    struct fetch_ctx *f = g_new0(struct fetch_ctx, 1);
    f->res = r;
    f->depth = depth;
    f->aor = g_strdup(aor);
    r->pending++;
    int rc = node_fetch(r->node, &res, NODE_KIND_SIP_REGISTRATION, r->cookie, on_fetch, f);
    if (rc != NODE_OK) {
        r->pending--;
        g_free(f->aor);
        g_free(f);
    }
    return rc;
}

static void add_route(struct sip_resolve *r, const struct fetch_ctx *f,
                      const struct wire_stored_data *d, const struct sip_registration *reg)
{
    if (r->routes->len >= SIP_RESOLVE_MAX_ROUTES)
        return;
    struct route_copy *c = g_new0(struct route_copy, 1);
    c->aor = g_strdup(f->aor);
    c->prefs = g_strndup((const char *)reg->contact_prefs.p, reg->contact_prefs.len);
    /* Re-encoding and decoding the list gives destinations that point into our own copy. */
    c->dest_bytes = g_byte_array_new();
    wire_encode_dest_list(c->dest_bytes, reg->dest, reg->n_dest);
    size_t n = 0;
    int rc = wire_decode_dest_list(c->dest_bytes->data, c->dest_bytes->len, c->r.dest,
                                   SIP_USAGE_MAX_DEST, &n);
    g_assert(rc == WIRE_OK);
    c->r.n_dest = (uint16_t)n;
    c->r.aor = c->aor;
    c->r.contact_prefs = c->prefs;
    c->r.depth = f->depth;
    if (d->key.len == ID_BYTES)
        c->r.node = id_from_bytes(d->key.p);
    g_ptr_array_add(r->routes, c);
}

static void follow(struct sip_resolve *r, const struct fetch_ctx *f,
                   const struct sip_registration *reg)
{
    char *uri = g_strndup((const char *)reg->uri.p, reg->uri.len);
    char *aor = sip_usage_aor(uri);
    g_free(uri);
    if (!aor)
        return; /* not an AoR this usage can look up */
    struct id res = sip_usage_resource_id(aor);
    if (visited(r, &res) || f->depth + 1 > r->max_depth) {
        r->loop = true;
    } else {
        int rc = fetch(r, aor, f->depth + 1);
        if (rc != NODE_OK && !r->error)
            r->error = rc;
    }
    g_free(aor);
}

static void on_fetch(void *ud, int status, const struct wire_fetch_ans *ans)
{
    struct fetch_ctx *f = ud;
    struct sip_resolve *r = f->res;
    /* The Fetch's own count is the token held until the end of this function. */
    if (status == NODE_OK && r->cb) {
        for (uint32_t k = 0; k < ans->n_kinds; k++) {
            if (ans->kinds[k].kind != NODE_KIND_SIP_REGISTRATION)
                continue;
            for (uint32_t v = 0; v < ans->kinds[k].n_values; v++) {
                const struct wire_stored_data *d = &ans->kinds[k].values[v];
                struct sip_registration reg;
                if (!d->exists || sip_usage_decode(d->value.p, d->value.len, &reg) < 0)
                    continue;
                if (reg.type == SIP_USAGE_ROUTE)
                    add_route(r, f, d, &reg);
                else if (reg.type == SIP_USAGE_URI)
                    follow(r, f, &reg);
            }
        }
    } else if (status != NODE_OK && status != NODE_E_NOT_FOUND && !r->error) {
        r->error = status;
    }
    g_free(f->aor);
    g_free(f);
    release(r);
}

int sip_resolve(struct node *n, const char *aor, unsigned max_depth, uint64_t cookie,
                sip_resolve_cb cb, void *ud, struct sip_resolve **handle)
{
    struct sip_resolve *r = g_new0(struct sip_resolve, 1);
    r->node = n;
    r->max_depth = max_depth;
    r->cookie = cookie;
    r->cb = cb;
    r->ud = ud;
    r->visited = g_array_new(FALSE, FALSE, sizeof(struct id));
    r->routes = g_ptr_array_new_with_free_func(route_copy_free);
    r->pending = 1; /* the start's token */
    int rc = fetch(r, aor, 0);
    if (rc != NODE_OK)
        r->cb = NULL; /* the caller learns the failure from the return value */
    /* Only the token left: the Fetch has been answered already and release() completes. */
    bool done = r->pending == 1;
    if (handle)
        *handle = done ? NULL : r;
    release(r);
    return rc;
}

void sip_resolve_cancel(struct sip_resolve *r)
{
    if (r)
        r->cb = NULL;
}
