/* dns.c — RFC 3263 §4 (locating SIP servers: NAPTR, SRV, A) over c-ares on the GLib main loop;
 * the contract is in dns.h.  c-ares reports the sockets it wants watched through its
 * sock_state callback (each becomes a GLib fd source) and its timeouts are served by a 100 ms
 * tick while queries are pending.
 */
#include "dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <glib-unix.h>
#include <string.h>

#define DNS_T_A 1
#define DNS_T_SRV 33
#define DNS_T_NAPTR 35
#define DNS_C_IN 1
#define DNS_TIMEOUT_MS 1000
#define DNS_TRIES 2
#define DNS_TICK_MS 100
#define DNS_MAX_TARGETS 8

struct net_dns {
    ares_channel ch;
    struct net_udp *log;
    GHashTable *watches; /* fd -> GLib source id */
    guint tick;
    unsigned pending; /* queries c-ares has not answered yet */
    GPtrArray *searches;
    struct sip_locator locator;
    struct net_dns_stats stats;
    bool closing;
};

enum dns_step { STEP_NAPTR, STEP_SRV, STEP_A_SRV, STEP_A_PLAIN };

/* One search for a domain's next hop. */
struct dns_search {
    struct net_dns *dns;
    char *domain;
    uint16_t port;
    sip_locate_cb cb;
    void *ud;
    bool cancelled;
    bool querying; /* a c-ares query of ours is outstanding */
    guint idle;    /* the first query, started from the loop (cb never runs during start) */
    enum dns_step step;
    char *srv_name;
    char *targets[DNS_MAX_TARGETS]; /* SRV targets in order, and their ports */
    uint16_t ports[DNS_MAX_TARGETS];
    unsigned n_targets, next_target;
    char how[64]; /* for the log: which records led there */
};

static void search_free(struct dns_search *s)
{
    if (s->idle)
        g_source_remove(s->idle);
    for (unsigned i = 0; i < s->n_targets; i++)
        g_free(s->targets[i]);
    g_free(s->srv_name);
    g_free(s->domain);
    g_free(s);
}

/* ---- c-ares on the GLib loop ---- */

static gboolean on_fd(gint fd, GIOCondition cond, gpointer ud)
{
    struct net_dns *d = ud;
    ares_process_fd(d->ch, cond & (G_IO_IN | G_IO_HUP | G_IO_ERR) ? fd : ARES_SOCKET_BAD,
                    cond & G_IO_OUT ? fd : ARES_SOCKET_BAD);
    return G_SOURCE_CONTINUE;
}

static void on_sock_state(void *ud, ares_socket_t fd, int readable, int writable)
{
    struct net_dns *d = ud;
    g_hash_table_remove(d->watches, GINT_TO_POINTER(fd));
    if (!readable && !writable)
        return;
    GIOCondition cond = (readable ? G_IO_IN : 0) | (writable ? G_IO_OUT : 0);
    guint id = g_unix_fd_add(fd, cond, on_fd, d);
    g_hash_table_insert(d->watches, GINT_TO_POINTER(fd), GUINT_TO_POINTER(id));
}

static void watch_free(gpointer p)
{
    g_source_remove(GPOINTER_TO_UINT(p));
}

static gboolean on_tick(gpointer ud)
{
    struct net_dns *d = ud;
    ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts and retries */
    if (d->pending)
        return G_SOURCE_CONTINUE;
    d->tick = 0;
    return G_SOURCE_REMOVE;
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen);

static void query(struct dns_search *s, const char *name, int type)
{
    struct net_dns *d = s->dns;
    d->pending++;
    d->stats.queries++;
    s->querying = true;
    if (!d->tick)
        d->tick = g_timeout_add(DNS_TICK_MS, on_tick, d);
    ares_query(d->ch, name, DNS_C_IN, type, on_answer, s);
}

/* ---- the search (RFC 3263 §4.1, §4.2) ---- */

static void finish(struct dns_search *s, const struct env_addr *hop)
{
    struct net_dns *d = s->dns;
    g_ptr_array_remove_fast(d->searches, s);
    char a[NET_UDP_ADDR_STRLEN];
    if (hop) {
        d->stats.found++;
        net_udp_logf(d->log, ENV_LOG_INFO, "dns: %s -> %s (%s)", s->domain,
                     net_udp_format_addr(hop, a), s->how);
    } else {
        d->stats.failed++;
        net_udp_logf(d->log, ENV_LOG_WARN, "dns: %s: no SIP server found (NAPTR, SRV, A)",
                     s->domain);
    }
    s->cb(s->ud, hop ? 0 : -1, hop);
    search_free(s);
}

static void next_target(struct dns_search *s)
{
    if (s->next_target < s->n_targets) {
        s->step = STEP_A_SRV;
        query(s, s->targets[s->next_target++], DNS_T_A);
        return;
    }
    finish(s, NULL);
}

static void srv_query(struct dns_search *s)
{
    s->step = STEP_SRV;
    query(s, s->srv_name, DNS_T_SRV);
}

static void a_plain(struct dns_search *s)
{
    s->step = STEP_A_PLAIN;
    query(s, s->domain, DNS_T_A);
}

static gint naptr_cmp(gconstpointer a, gconstpointer b)
{
    const struct ares_naptr_reply *x = *(struct ares_naptr_reply *const *)a;
    const struct ares_naptr_reply *y = *(struct ares_naptr_reply *const *)b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return x->preference < y->preference ? -1 : x->preference > y->preference;
}

static void on_naptr(struct dns_search *s, int status, unsigned char *abuf, int alen)
{
    struct ares_naptr_reply *list = NULL;
    GPtrArray *ok = g_ptr_array_new();
    if (status == ARES_SUCCESS && ares_parse_naptr_reply(abuf, alen, &list) == ARES_SUCCESS)
        for (struct ares_naptr_reply *n = list; n; n = n->next)
            if (g_ascii_strcasecmp((const char *)n->service, "SIP+D2U") == 0 &&
                g_ascii_strcasecmp((const char *)n->flags, "s") == 0 && n->replacement &&
                n->replacement[0] && strcmp(n->replacement, ".") != 0)
                g_ptr_array_add(ok, n);
    g_ptr_array_sort(ok, naptr_cmp);
    if (ok->len) {
        const struct ares_naptr_reply *n = ok->pdata[0];
        s->srv_name = g_strdup(n->replacement);
        g_strlcpy(s->how, "NAPTR SIP+D2U, SRV, A", sizeof s->how);
    } else {
        s->srv_name = g_strdup_printf("_sip._udp.%s", s->domain);
        g_strlcpy(s->how, "no NAPTR; SRV, A", sizeof s->how);
    }
    g_ptr_array_free(ok, TRUE);
    if (list)
        ares_free_data(list);
    srv_query(s);
}

static gint srv_cmp(gconstpointer a, gconstpointer b)
{
    const struct ares_srv_reply *x = *(struct ares_srv_reply *const *)a;
    const struct ares_srv_reply *y = *(struct ares_srv_reply *const *)b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return x->weight > y->weight ? -1 : x->weight < y->weight;
}

static void on_srv(struct dns_search *s, int status, unsigned char *abuf, int alen)
{
    struct ares_srv_reply *list = NULL;
    GPtrArray *all = g_ptr_array_new();
    if (status == ARES_SUCCESS && ares_parse_srv_reply(abuf, alen, &list) == ARES_SUCCESS)
        for (struct ares_srv_reply *r = list; r; r = r->next)
            if (r->host && r->host[0] && strcmp(r->host, ".") != 0)
                g_ptr_array_add(all, r);
    g_ptr_array_sort(all, srv_cmp);
    for (guint i = 0; i < all->len && s->n_targets < DNS_MAX_TARGETS; i++) {
        const struct ares_srv_reply *r = all->pdata[i];
        s->targets[s->n_targets] = g_strdup(r->host);
        s->ports[s->n_targets++] = r->port;
    }
    g_ptr_array_free(all, TRUE);
    if (list)
        ares_free_data(list);
    if (s->n_targets) {
        next_target(s);
        return;
    }
    g_strlcpy(s->how, "no NAPTR or SRV; A, port 5060", sizeof s->how);
    s->port = 5060;
    a_plain(s);
}

static void on_a(struct dns_search *s, int status, unsigned char *abuf, int alen)
{
    struct ares_addrttl addrs[4];
    int n = G_N_ELEMENTS(addrs);
    if (status == ARES_SUCCESS && ares_parse_a_reply(abuf, alen, NULL, addrs, &n) == ARES_SUCCESS &&
        n > 0) {
        struct env_addr hop = {
            .ip = ntohl(addrs[0].ipaddr.s_addr),
            .port = s->step == STEP_A_SRV ? s->ports[s->next_target - 1] : s->port,
        };
        finish(s, &hop);
        return;
    }
    if (s->step == STEP_A_SRV)
        next_target(s);
    else
        finish(s, NULL);
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct dns_search *s = arg;
    struct net_dns *d = s->dns;
    d->pending--;
    s->querying = false;
    if (s->cancelled || d->closing) {
        search_free(s);
        return;
    }
    switch (s->step) {
    case STEP_NAPTR:
        on_naptr(s, status, abuf, alen);
        break;
    case STEP_SRV:
        on_srv(s, status, abuf, alen);
        break;
    case STEP_A_SRV:
    case STEP_A_PLAIN:
        on_a(s, status, abuf, alen);
        break;
    }
}

static gboolean begin(gpointer ud)
{
    struct dns_search *s = ud;
    s->idle = 0;
    if (s->port) {
        g_strlcpy(s->how, "the URI's port; A", sizeof s->how);
        a_plain(s);
    } else {
        s->step = STEP_NAPTR;
        query(s, s->domain, DNS_T_NAPTR);
    }
    return G_SOURCE_REMOVE;
}

static void *locate_start(void *ctx, const char *domain, uint16_t port, sip_locate_cb cb, void *ud)
{
    struct net_dns *d = ctx;
    struct dns_search *s = g_new0(struct dns_search, 1);
    s->dns = d;
    s->domain = g_ascii_strdown(domain, -1);
    s->port = port;
    s->cb = cb;
    s->ud = ud;
    s->idle = g_idle_add(begin, s);
    g_ptr_array_add(d->searches, s);
    d->stats.searches++;
    return s;
}

static void locate_cancel(void *ctx, void *handle)
{
    struct net_dns *d = ctx;
    struct dns_search *s = handle;
    g_ptr_array_remove_fast(d->searches, s);
    if (s->querying)
        s->cancelled = true; /* freed when c-ares answers (or gives up) */
    else
        search_free(s);
}

/* ---- life cycle ---- */

static GQuark net_dns_error_quark(void)
{
    return g_quark_from_static_string("net-dns-error-quark");
}

struct net_dns *net_dns_new(const char *server, struct net_udp *log, GError **err)
{
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        g_set_error(err, net_dns_error_quark(), rc, "c-ares: %s", ares_strerror(rc));
        return NULL;
    }
    struct net_dns *d = g_new0(struct net_dns, 1);
    d->log = log;
    d->watches = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, watch_free);
    d->searches = g_ptr_array_new();
    struct ares_options o = {
        .sock_state_cb = on_sock_state,
        .sock_state_cb_data = d,
        .timeout = DNS_TIMEOUT_MS,
        .tries = DNS_TRIES,
        .flags = ARES_FLAG_NOSEARCH,
    };
    rc = ares_init_options(
        &d->ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS);
    if (rc == ARES_SUCCESS && server) {
        struct env_addr a;
        if (net_udp_parse_addr(server, &a, NULL) != 0)
            rc = ARES_EBADSTR;
        else
            rc = ares_set_servers_ports_csv(d->ch, server);
        if (rc != ARES_SUCCESS) {
            g_set_error(err, net_dns_error_quark(), rc, "DNS server '%s': %s", server,
                        rc == ARES_EBADSTR ? "not an A.B.C.D:PORT address" : ares_strerror(rc));
            ares_destroy(d->ch);
            d->ch = NULL;
        }
    } else if (rc != ARES_SUCCESS) {
        g_set_error(err, net_dns_error_quark(), rc, "c-ares: %s", ares_strerror(rc));
        d->ch = NULL;
    }
    if (!d->ch) {
        g_hash_table_destroy(d->watches);
        g_ptr_array_free(d->searches, TRUE);
        g_free(d);
        ares_library_cleanup();
        return NULL;
    }
    d->locator = (struct sip_locator){.start = locate_start, .cancel = locate_cancel, .ctx = d};
    return d;
}

void net_dns_free(struct net_dns *d)
{
    if (!d)
        return;
    d->closing = true;
    for (guint i = 0; i < d->searches->len; i++) {
        struct dns_search *s = d->searches->pdata[i];
        if (s->querying)
            s->cancelled = true;
        else
            search_free(s);
    }
    g_ptr_array_free(d->searches, TRUE);
    ares_destroy(d->ch); /* answers the outstanding queries (ARES_EDESTRUCTION): they free */
    if (d->tick)
        g_source_remove(d->tick);
    g_hash_table_destroy(d->watches);
    g_free(d);
    ares_library_cleanup();
}

const struct sip_locator *net_dns_locator(struct net_dns *d)
{
    return &d->locator;
}

const struct net_dns_stats *net_dns_get_stats(const struct net_dns *d)
{
    return &d->stats;
}
