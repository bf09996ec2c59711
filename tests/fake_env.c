/* fake_env.c — the test environment of fake_env.h: manual clock, ordered event list, a tiny
 * network of fake hosts with a fixed latency, and recorded core events. */
#include "fake_env.h"

#include <stdio.h>
#include <string.h>

struct fake_ev {
    env_time at;
    uint64_t seq;
    uint64_t handle; /* timers: their handle; deliveries: 0 */
    env_timer_fn fn;
    void *arg;
    struct fake_host *to;
    struct env_addr from;
    GBytes *bytes;
};

struct fake_net {
    env_time now, latency;
    fake_latency_fn latency_fn; /* per pair, when set */
    void *latency_ud;
    fake_tap_fn tap; /* sees every datagram sent, when set */
    void *tap_ud;
    uint64_t seq, next_handle, datagrams;
    unsigned drop_next;
    unsigned groups;
    GList *events; /* sorted by (at, seq) */
    GPtrArray *hosts;
};

static gint ev_cmp(gconstpointer a, gconstpointer b)
{
    const struct fake_ev *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void push(struct fake_net *net, struct fake_ev *ev)
{
    ev->seq = net->seq++;
    net->events = g_list_insert_sorted(net->events, ev, ev_cmp);
}

static void ev_free(struct fake_ev *ev)
{
    if (ev->bytes)
        g_bytes_unref(ev->bytes);
    g_free(ev);
}

static struct fake_host *host_by_addr(struct fake_net *net, const struct env_addr *a)
{
    for (guint i = 0; i < net->hosts->len; i++) {
        struct fake_host *h = net->hosts->pdata[i];
        if (env_addr_eq(&h->addr, a))
            return h;
    }
    return NULL;
}

/* The index of h in net->hosts (its address is 10.0.0.<index+1>). */
static unsigned host_index(const struct fake_host *h)
{
    return (h->addr.ip & 0xffffffu) - 1;
}

static void f_send(void *ctx, const struct env_addr *to, const uint8_t *buf, size_t len)
{
    struct fake_host *h = ctx;
    struct fake_net *net = h->net;
    net->datagrams++;
    if (net->tap)
        net->tap(net->tap_ud, host_index(h), buf, len);
    if (net->drop_next) {
        net->drop_next--;
        return;
    }
    struct fake_host *dst = host_by_addr(net, to);
    if (!dst)
        return;
    if (net->groups > 1 && (h->addr.ip % net->groups) != (dst->addr.ip % net->groups))
        return;
    struct fake_ev *ev = g_new0(struct fake_ev, 1);
    ev->at = net->now + (net->latency_fn
                             ? net->latency_fn(net->latency_ud, host_index(h), host_index(dst))
                             : net->latency);
    ev->to = dst;
    ev->from = h->addr;
    ev->bytes = g_bytes_new(buf, len);
    push(net, ev);
}

static env_timer f_timer_start(void *ctx, env_time delay, env_timer_fn fn, void *arg)
{
    struct fake_host *h = ctx;
    struct fake_ev *ev = g_new0(struct fake_ev, 1);
    ev->at = h->net->now + delay;
    ev->handle = ++h->net->next_handle;
    ev->fn = fn;
    ev->arg = arg;
    ev->to = h;
    push(h->net, ev);
    return ev->handle;
}

static void f_timer_stop(void *ctx, env_timer t)
{
    struct fake_host *h = ctx;
    for (GList *l = h->net->events; l; l = l->next) {
        struct fake_ev *ev = l->data;
        if (ev->handle == t) {
            h->net->events = g_list_delete_link(h->net->events, l);
            ev_free(ev);
            return;
        }
    }
}

static env_time f_now(void *ctx)
{
    return ((struct fake_host *)ctx)->net->now;
}

static uint64_t f_random(void *ctx)
{
    /* splitmix64: a fixed stream per host */
    struct fake_host *h = ctx;
    uint64_t z = (h->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void f_log(void *ctx, enum env_log_level level, const char *msg)
{
    if (g_getenv("FAKE_ENV_LOG"))
        fprintf(stderr, "[%s] %s\n", ((struct fake_host *)ctx)->node ? "node" : "-", msg);
}

static void f_event(void *ctx, const struct env_event *ev)
{
    struct fake_host *h = ctx;
    if (ev->type == ENV_EV_MSG_SENT)
        return;
    g_ptr_array_add(h->events, g_memdup2(ev, sizeof *ev));
}

static const struct env_ops fake_ops = {
    .send = f_send,
    .timer_start = f_timer_start,
    .timer_stop = f_timer_stop,
    .now = f_now,
    .random = f_random,
    .log = f_log,
    .event = f_event,
};

struct fake_net *fake_net_new(env_time latency)
{
    struct fake_net *net = g_new0(struct fake_net, 1);
    net->latency = latency;
    net->hosts = g_ptr_array_new();
    return net;
}

void fake_net_free(struct fake_net *net)
{
    for (guint i = 0; i < net->hosts->len; i++) {
        struct fake_host *h = net->hosts->pdata[i];
        node_free(h->node);
        g_ptr_array_free(h->events, TRUE);
        g_ptr_array_free(h->inbox, TRUE);
        g_free(h);
    }
    g_ptr_array_free(net->hosts, TRUE);
    g_list_free_full(net->events, (GDestroyNotify)ev_free);
    g_free(net);
}

struct fake_host *fake_net_add_host(struct fake_net *net)
{
    struct fake_host *h = g_new0(struct fake_host, 1);
    h->net = net;
    h->env.ops = &fake_ops;
    h->env.ctx = h;
    h->addr.ip = (10u << 24) | (net->hosts->len + 1);
    h->addr.port = 6084;
    h->rng = 0x1234 + net->hosts->len;
    h->events = g_ptr_array_new_with_free_func(g_free);
    h->inbox = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_ptr_array_add(net->hosts, h);
    return h;
}

env_time fake_net_now(const struct fake_net *net)
{
    return net->now;
}

void fake_net_run_until(struct fake_net *net, env_time until)
{
    while (net->events) {
        struct fake_ev *ev = net->events->data;
        if (ev->at > until)
            break;
        net->events = g_list_delete_link(net->events, net->events);
        net->now = ev->at;
        if (ev->fn) {
            if (!ev->to->down)
                ev->fn(ev->arg);
        } else if (!ev->to->down) {
            gsize len;
            const uint8_t *p = g_bytes_get_data(ev->bytes, &len);
            if (ev->to->node)
                node_receive(ev->to->node, &ev->from, p, len);
            else
                g_ptr_array_add(ev->to->inbox, g_bytes_ref(ev->bytes));
        }
        ev_free(ev);
    }
    if (until > net->now)
        net->now = until;
}

void fake_net_set_latency(struct fake_net *net, fake_latency_fn fn, void *ud)
{
    net->latency_fn = fn;
    net->latency_ud = ud;
}

void fake_net_set_tap(struct fake_net *net, fake_tap_fn fn, void *ud)
{
    net->tap = fn;
    net->tap_ud = ud;
}

void fake_net_partition(struct fake_net *net, unsigned groups)
{
    net->groups = groups;
}

void fake_net_drop_next(struct fake_net *net, unsigned n)
{
    net->drop_next = n;
}

size_t fake_net_pending_timers(const struct fake_net *net)
{
    size_t n = 0;
    for (GList *l = net->events; l; l = l->next)
        n += ((struct fake_ev *)l->data)->fn != NULL;
    return n;
}

uint64_t fake_net_datagrams(const struct fake_net *net)
{
    return net->datagrams;
}

void fake_net_inject(struct fake_net *net, struct fake_host *h, const struct env_addr *from,
                     const uint8_t *buf, size_t len)
{
    struct fake_ev *ev = g_new0(struct fake_ev, 1);
    ev->at = net->now;
    ev->to = h;
    ev->from = *from;
    ev->bytes = g_bytes_new(buf, len);
    push(net, ev);
}

const struct env_event *fake_host_last_event(const struct fake_host *h, enum env_event_type t)
{
    for (guint i = h->events->len; i > 0; i--) {
        const struct env_event *ev = h->events->pdata[i - 1];
        if (ev->type == t)
            return ev;
    }
    return NULL;
}

unsigned fake_host_count_events(const struct fake_host *h, enum env_event_type t)
{
    unsigned n = 0;
    for (guint i = 0; i < h->events->len; i++)
        n += ((const struct env_event *)h->events->pdata[i])->type == t;
    return n;
}
