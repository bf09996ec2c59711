/* udp.c — the real backend's environment (net/udp.h): the sans-I/O core over one UDP socket
 * and the GLib main loop.
 *
 * RFC 6940 §6.6 places RELOAD's link layer under the message transport; this module is that
 * lowest layer for unsecured UDP: a datagram in is one FramedMessage handed to node_receive(),
 * a datagram out is one sendto().  Losses and send errors are the core's business (its link
 * layer and end-to-end retransmission, §6.2.1 and §6.6.3), so a failed sendto is logged and
 * counted, never fatal.  An application's socket (net_udp_app: SIP beside RELOAD) is read and
 * written the same way, its datagrams handed to the application's function instead.
 *
 * Timers: delays are rounded up to the next millisecond, as GLib timeouts would (a timer never
 * fires early).  The core addresses timers by env_timer handles that this module hands out
 * from a counter and maps to its timers in a hash table; a handle is never reused, so
 * stopping a timer that fired or was stopped finds nothing and does nothing.  All timers live
 * in one binary min-heap (deadline, then handle) behind a single GSource whose ready time is
 * the earliest deadline: a GSource per timer made every main-loop iteration walk every
 * pending timer (g_main_context_prepare/check), which under SIP load — thousands of
 * registrations, each with its refresh and transaction timers — took most of the CPU
 * (docs/benchmarks.md, "SIP").
 */
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Largest UDP payload; a receive buffer this size never truncates a datagram. */
#define UDP_MAX_DATAGRAM 65536
/* Datagrams read per wake-up before returning to the main loop, so that timers and signals
 * are not starved by a flood. */
#define UDP_RECV_BURST 64

struct udp_timer {
    gint64 due;       /* g_get_monotonic_time() at which it fires */
    env_timer handle; /* key in u->timers */
    guint pos;        /* index in u->heap */
    env_timer_fn fn;
    void *arg;
};

/* The one GSource that fires the timers (ready time = the heap's earliest deadline). */
struct udp_timer_source {
    GSource base;
    struct net_udp *u;
};

struct net_udp {
    struct env env;
    int fd;
    guint watch; /* the socket's GLib fd source id */
    struct env_addr local;
    char *tag;
    enum env_log_level log_max;
    struct node *node;
    GRand *rand;
    GHashTable *timers; /* env_timer handle -> struct udp_timer (owned by u->heap) */
    GPtrArray *heap;    /* struct udp_timer *, min-heap by (due, handle) */
    GSource *timer_source;
    env_timer next_handle;
    net_udp_event_fn event_fn;
    void *event_ud;
    net_udp_recv_fn receiver; /* net_udp_set_receiver: datagrams go here instead of the node */
    void *receiver_ud;
    const struct env_addr *rx_from; /* set while node_receive() runs */
    struct net_udp_counters counters;
    uint8_t rxbuf[UDP_MAX_DATAGRAM];
};

GQuark net_udp_error_quark(void)
{
    return g_quark_from_static_string("net-udp-error-quark");
}

/* ---- addresses --------------------------------------------------------------------------- */

static void udp_to_sockaddr(const struct env_addr *a, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(a->ip);
    sa->sin_port = htons(a->port);
}

static struct env_addr udp_from_sockaddr(const struct sockaddr_in *sa)
{
    return (struct env_addr){.ip = ntohl(sa->sin_addr.s_addr), .port = ntohs(sa->sin_port)};
}

int net_udp_parse_addr(const char *s, struct env_addr *out, GError **err)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon || colon == s || colon[1] == '\0') {
        g_set_error(err, NET_UDP_ERROR, 0, "'%s' is not an address of the form A.B.C.D:PORT",
                    s ? s : "");
        return -1;
    }
    char *host = g_strndup(s, (gsize)(colon - s));
    struct in_addr in;
    int ok = inet_pton(AF_INET, g_str_equal(host, "localhost") ? "127.0.0.1" : host, &in) == 1;
    g_free(host);
    guint64 port = 0;
    if (!ok || !g_ascii_string_to_unsigned(colon + 1, 10, 0, 65535, &port, NULL)) {
        g_set_error(err, NET_UDP_ERROR, 0,
                    "'%s' is not an address of the form A.B.C.D:PORT (IPv4, port 0-65535)", s);
        return -1;
    }
    out->ip = ntohl(in.s_addr);
    out->port = (uint16_t)port;
    return 0;
}

char *net_udp_format_addr(const struct env_addr *a, char buf[NET_UDP_ADDR_STRLEN])
{
    g_snprintf(buf, NET_UDP_ADDR_STRLEN, "%u.%u.%u.%u:%u", (a->ip >> 24) & 0xff,
               (a->ip >> 16) & 0xff, (a->ip >> 8) & 0xff, a->ip & 0xff, a->port);
    return buf;
}

/* ---- logging ----------------------------------------------------------------------------- */

static const char *udp_level_name(enum env_log_level level)
{
    switch (level) {
    case ENV_LOG_ERROR:
        return "ERROR";
    case ENV_LOG_WARN:
        return "WARN";
    case ENV_LOG_INFO:
        return "INFO";
    case ENV_LOG_DEBUG:
        return "DEBUG";
    }
    return "?";
}

/* One line per message, written with a single fputs so that lines of processes sharing a
 * terminal or log file do not interleave mid-line. */
static void udp_log(void *ctx, enum env_log_level level, const char *msg)
{
    struct net_udp *u = ctx;
    if (level > u->log_max)
        return;
    GDateTime *t = g_date_time_new_now_local();
    char *clock = g_date_time_format(t, "%H:%M:%S");
    char *line = g_strdup_printf("%s.%03d %-5s %s%s%s%s\n", clock,
                                 g_date_time_get_microsecond(t) / 1000, udp_level_name(level),
                                 u->tag ? "[" : "", u->tag ? u->tag : "", u->tag ? "] " : "", msg);
    fputs(line, stderr);
    g_free(line);
    g_free(clock);
    g_date_time_unref(t);
}

void net_udp_logf(struct net_udp *u, enum env_log_level level, const char *fmt, ...)
{
    if (level > u->log_max)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    udp_log(u, level, msg);
    g_free(msg);
}

/* ---- env operations ---------------------------------------------------------------------- */

/* One sendto() on fd, counted in u's counters. */
static void udp_sendto(struct net_udp *u, int fd, const struct env_addr *to, const uint8_t *buf,
                       size_t len)
{
    struct sockaddr_in sa;
    udp_to_sockaddr(to, &sa);
    ssize_t n;
    do
        n = sendto(fd, buf, len, 0, (const struct sockaddr *)&sa, sizeof sa);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        /* EAGAIN (a full socket buffer) included: UDP may lose datagrams, the core recovers. */
        int e = errno;
        char a[NET_UDP_ADDR_STRLEN];
        u->counters.send_failures++;
        net_udp_logf(u, ENV_LOG_WARN, "sendto %s (%zu bytes) failed: %s",
                     net_udp_format_addr(to, a), len, g_strerror(e));
        return;
    }
    u->counters.datagrams_out++;
    u->counters.bytes_out += len;
}

static void udp_send(void *ctx, const struct env_addr *to, const uint8_t *buf, size_t len)
{
    struct net_udp *u = ctx;
    udp_sendto(u, u->fd, to, buf, len);
}

static bool udp_timer_before(const struct udp_timer *a, const struct udp_timer *b)
{
    return a->due < b->due || (a->due == b->due && a->handle < b->handle);
}

static void udp_heap_set(struct net_udp *u, guint i, struct udp_timer *t)
{
    g_ptr_array_index(u->heap, i) = t;
    t->pos = i;
}

/* Moves the timer at index i up or down until the heap order holds again. */
static void udp_heap_fix(struct net_udp *u, guint i)
{
    struct udp_timer *t = g_ptr_array_index(u->heap, i);
    while (i > 0) {
        struct udp_timer *parent = g_ptr_array_index(u->heap, (i - 1) / 2);
        if (!udp_timer_before(t, parent))
            break;
        udp_heap_set(u, i, parent);
        i = (i - 1) / 2;
    }
    for (;;) {
        guint c = 2 * i + 1;
        if (c >= u->heap->len)
            break;
        struct udp_timer *child = g_ptr_array_index(u->heap, c);
        if (c + 1 < u->heap->len) {
            struct udp_timer *right = g_ptr_array_index(u->heap, c + 1);
            if (udp_timer_before(right, child)) {
                child = right;
                c++;
            }
        }
        if (!udp_timer_before(child, t))
            break;
        udp_heap_set(u, i, child);
        i = c;
    }
    udp_heap_set(u, i, t);
}

/* Takes timer t out of the heap and the handle map (the caller frees it). */
static void udp_heap_remove(struct net_udp *u, struct udp_timer *t)
{
    guint i = t->pos;
    struct udp_timer *last = g_ptr_array_index(u->heap, u->heap->len - 1);
    g_ptr_array_set_size(u->heap, u->heap->len - 1);
    if (last != t) {
        udp_heap_set(u, i, last);
        udp_heap_fix(u, i);
    }
    g_hash_table_remove(u->timers, &t->handle);
}

/* Points the timer source's ready time at the earliest deadline (-1: none pending). */
static void udp_timer_rearm(struct net_udp *u)
{
    gint64 ready = -1;
    if (u->heap->len)
        ready = ((struct udp_timer *)g_ptr_array_index(u->heap, 0))->due;
    if (g_source_get_ready_time(u->timer_source) != ready)
        g_source_set_ready_time(u->timer_source, ready);
}

/* Fires every timer due by the loop's current time that existed when the dispatch began (a
 * timer started by a callback, even with delay 0, waits for the next iteration, as a new
 * GLib timeout would). */
static gboolean udp_timer_dispatch(GSource *source, GSourceFunc cb, gpointer ud)
{
    struct net_udp *u = ((struct udp_timer_source *)source)->u;
    gint64 now = g_source_get_time(source);
    env_timer last = u->next_handle;
    while (u->heap->len) {
        struct udp_timer *t = g_ptr_array_index(u->heap, 0);
        if (t->due > now || t->handle > last)
            break;
        env_timer_fn fn = t->fn;
        void *arg = t->arg;
        /* Unmap first: the callback may start timers, or stop this very handle (a no-op). */
        udp_heap_remove(u, t);
        g_free(t);
        u->counters.timers_fired++;
        fn(arg);
    }
    udp_timer_rearm(u);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs udp_timer_funcs = {.dispatch = udp_timer_dispatch};

static env_timer udp_timer_start(void *ctx, env_time delay, env_timer_fn fn, void *arg)
{
    struct net_udp *u = ctx;
    struct udp_timer *t = g_new0(struct udp_timer, 1);
    env_time ms = (delay + ENV_MS - 1) / ENV_MS;
    t->due = g_get_monotonic_time() + (gint64)ms * 1000;
    t->handle = ++u->next_handle;
    t->fn = fn;
    t->arg = arg;
    g_ptr_array_add(u->heap, t);
    udp_heap_fix(u, u->heap->len - 1);
    g_hash_table_insert(u->timers, &t->handle, t);
    u->counters.timers_started++;
    udp_timer_rearm(u);
    return t->handle;
}

static void udp_timer_stop(void *ctx, env_timer handle)
{
    struct net_udp *u = ctx;
    struct udp_timer *t = g_hash_table_lookup(u->timers, &handle);
    if (!t)
        return; /* fired, stopped, or never ours: harmless */
    udp_heap_remove(u, t);
    g_free(t);
    u->counters.timers_stopped++;
    udp_timer_rearm(u);
}

static env_time udp_now(void *ctx)
{
    return (env_time)g_get_real_time();
}

static uint64_t udp_random(void *ctx)
{
    struct net_udp *u = ctx;
    uint64_t hi = g_rand_int(u->rand);
    return hi << 32 | g_rand_int(u->rand);
}

static void udp_event(void *ctx, const struct env_event *ev)
{
    struct net_udp *u = ctx;
    if ((unsigned)ev->type < G_N_ELEMENTS(u->counters.events))
        u->counters.events[ev->type]++;
    if (u->event_fn)
        u->event_fn(u->event_ud, ev, u->rx_from);
}

static const struct env_ops udp_ops = {
    .send = udp_send,
    .timer_start = udp_timer_start,
    .timer_stop = udp_timer_stop,
    .now = udp_now,
    .random = udp_random,
    .log = udp_log,
    .event = udp_event,
};

/* ---- the socket -------------------------------------------------------------------------- */

/* Reads up to UDP_RECV_BURST datagrams from fd into u->rxbuf; each goes to deliver(ud, ...). */
static void udp_drain(struct net_udp *u, int fd, net_udp_recv_fn deliver, void *ud)
{
    for (int i = 0; i < UDP_RECV_BURST; i++) {
        struct sockaddr_in sa;
        socklen_t salen = sizeof sa;
        ssize_t n = recvfrom(fd, u->rxbuf, sizeof u->rxbuf, 0, (struct sockaddr *)&sa, &salen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                net_udp_logf(u, ENV_LOG_DEBUG, "recvfrom: %s", g_strerror(errno));
            break;
        }
        if (salen < sizeof sa || sa.sin_family != AF_INET)
            continue;
        struct env_addr from = udp_from_sockaddr(&sa);
        u->counters.datagrams_in++;
        u->counters.bytes_in += (uint64_t)n;
        deliver(ud, &from, u->rxbuf, (size_t)n);
    }
}

static void udp_to_node(void *ud, const struct env_addr *from, const uint8_t *buf, size_t len)
{
    struct net_udp *u = ud;
    if (!u->node)
        return;
    u->rx_from = from;
    node_receive(u->node, from, buf, len);
    u->rx_from = NULL;
}

static gboolean udp_readable(gint fd, GIOCondition cond, gpointer p)
{
    struct net_udp *u = p;
    if (u->receiver)
        udp_drain(u, fd, u->receiver, u->receiver_ud);
    else
        udp_drain(u, fd, udp_to_node, u);
    return G_SOURCE_CONTINUE;
}

static int udp_fail(GError **err, int fd, const char *what, const struct env_addr *a)
{
    int e = errno;
    char s[NET_UDP_ADDR_STRLEN];
    g_set_error(err, NET_UDP_ERROR, e, "%s %s: %s", what, net_udp_format_addr(a, s), g_strerror(e));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Opens, binds and reads back the bound address; returns the fd or -1 with err set.  reuse
 * sets SO_REUSEADDR first (several listeners to one multicast group on one host). */
static int udp_open_opt(const struct env_addr *listen, struct env_addr *local, bool reuse,
                        GError **err)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return udp_fail(err, -1, "cannot open a UDP socket for", listen);
    int one = 1;
    if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return udp_fail(err, fd, "SO_REUSEADDR on", listen);
    struct sockaddr_in sa;
    udp_to_sockaddr(listen, &sa);
    if (bind(fd, (const struct sockaddr *)&sa, sizeof sa) < 0)
        return udp_fail(err, fd, "cannot bind UDP", listen);
    socklen_t salen = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
        return udp_fail(err, fd, "getsockname on", listen);
    *local = udp_from_sockaddr(&sa);
    return fd;
}

static int udp_open(const struct env_addr *listen, struct env_addr *local, GError **err)
{
    return udp_open_opt(listen, local, false, err);
}

struct net_udp *net_udp_new(const struct env_addr *listen, const char *tag, GError **err)
{
    struct env_addr local;
    int fd = udp_open(listen, &local, err);
    if (fd < 0)
        return NULL;
    struct net_udp *u = g_new0(struct net_udp, 1);
    u->env.ops = &udp_ops;
    u->env.ctx = u;
    u->fd = fd;
    u->local = local;
    u->tag = g_strdup(tag);
    u->log_max = ENV_LOG_INFO;
    u->rand = g_rand_new(); /* seeded from /dev/urandom */
    u->timers = g_hash_table_new(g_int64_hash, g_int64_equal);
    u->heap = g_ptr_array_new();
    u->timer_source = g_source_new(&udp_timer_funcs, sizeof(struct udp_timer_source));
    ((struct udp_timer_source *)u->timer_source)->u = u;
    g_source_set_priority(u->timer_source, G_PRIORITY_DEFAULT);
    g_source_attach(u->timer_source, NULL);
    u->watch = g_unix_fd_add(fd, G_IO_IN, udp_readable, u);
    return u;
}

void net_udp_free(struct net_udp *u)
{
    if (!u)
        return;
    g_source_destroy(u->timer_source);
    g_source_unref(u->timer_source);
    g_hash_table_destroy(u->timers); /* keys live in the timers: unmap before freeing them */
    for (guint i = 0; i < u->heap->len; i++)
        g_free(g_ptr_array_index(u->heap, i));
    g_ptr_array_free(u->heap, TRUE);
    g_source_remove(u->watch);
    close(u->fd);
    g_rand_free(u->rand);
    g_free(u->tag);
    g_free(u);
}

/* ---- an application's socket (SIP) ------------------------------------------------------- */

struct net_udp_app {
    struct net_udp *u;
    int fd;
    guint watch;
    struct env_addr local;
    net_udp_recv_fn fn;
    void *ud;
};

static gboolean udp_app_readable(gint fd, GIOCondition cond, gpointer p)
{
    struct net_udp_app *a = p;
    udp_drain(a->u, fd, a->fn, a->ud);
    return G_SOURCE_CONTINUE;
}

static struct net_udp_app *udp_app_wrap(struct net_udp *u, int fd, const struct env_addr *local,
                                        net_udp_recv_fn fn, void *ud)
{
    struct net_udp_app *a = g_new0(struct net_udp_app, 1);
    a->u = u;
    a->fd = fd;
    a->local = *local;
    a->fn = fn;
    a->ud = ud;
    a->watch = g_unix_fd_add(fd, G_IO_IN, udp_app_readable, a);
    return a;
}

struct net_udp_app *net_udp_app_new_multicast(struct net_udp *u, const struct env_addr *group,
                                              uint32_t iface, net_udp_recv_fn fn, void *ud,
                                              GError **err)
{
    if ((group->ip >> 28) != 0xe) {
        char s[NET_UDP_ADDR_STRLEN];
        g_set_error(err, NET_UDP_ERROR, 0, "%s is not an IPv4 multicast address (224.0.0.0/4)",
                    net_udp_format_addr(group, s));
        return NULL;
    }
    /* Bound to the group's address: only datagrams sent to the group arrive here. */
    struct env_addr local;
    int fd = udp_open_opt(group, &local, true, err);
    if (fd < 0)
        return NULL;
    struct ip_mreq mreq = {.imr_multiaddr.s_addr = htonl(group->ip),
                           .imr_interface.s_addr = htonl(iface)};
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0) {
        udp_fail(err, fd, "cannot join multicast group", group);
        return NULL;
    }
    return udp_app_wrap(u, fd, &local, fn, ud);
}

int net_udp_app_multicast_out(struct net_udp_app *a, uint32_t iface, GError **err)
{
    struct in_addr ifa = {.s_addr = htonl(iface)};
    unsigned char ttl = 1, loop = 1;
    if (setsockopt(a->fd, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa) < 0 ||
        setsockopt(a->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) < 0 ||
        setsockopt(a->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) < 0) {
        int e = errno;
        g_set_error(err, NET_UDP_ERROR, e, "cannot set the multicast options: %s", g_strerror(e));
        return -1;
    }
    return 0;
}

struct net_udp_app *net_udp_app_new(struct net_udp *u, const struct env_addr *listen,
                                    net_udp_recv_fn fn, void *ud, GError **err)
{
    struct env_addr local;
    int fd = udp_open(listen, &local, err);
    if (fd < 0)
        return NULL;
    return udp_app_wrap(u, fd, &local, fn, ud);
}

void net_udp_app_send(struct net_udp_app *a, const struct env_addr *to, const uint8_t *buf,
                      size_t len)
{
    udp_sendto(a->u, a->fd, to, buf, len);
}

struct env_addr net_udp_app_local_addr(const struct net_udp_app *a)
{
    return a->local;
}

void net_udp_app_free(struct net_udp_app *a)
{
    if (!a)
        return;
    g_source_remove(a->watch);
    close(a->fd);
    g_free(a);
}

/* ---- accessors --------------------------------------------------------------------------- */

const struct env *net_udp_env(struct net_udp *u)
{
    return &u->env;
}

struct env_addr net_udp_local_addr(const struct net_udp *u)
{
    return u->local;
}

void net_udp_attach(struct net_udp *u, struct node *n)
{
    u->node = n;
}

void net_udp_set_tag(struct net_udp *u, const char *tag)
{
    g_free(u->tag);
    u->tag = g_strdup(tag);
}

void net_udp_set_log_level(struct net_udp *u, enum env_log_level max)
{
    u->log_max = max;
}

void net_udp_set_receiver(struct net_udp *u, net_udp_recv_fn fn, void *ud)
{
    u->receiver = fn;
    u->receiver_ud = ud;
}

void net_udp_set_event_hook(struct net_udp *u, net_udp_event_fn fn, void *ud)
{
    u->event_fn = fn;
    u->event_ud = ud;
}

const struct net_udp_counters *net_udp_get_counters(const struct net_udp *u)
{
    return &u->counters;
}

unsigned net_udp_pending_timers(const struct net_udp *u)
{
    return g_hash_table_size(u->timers);
}
