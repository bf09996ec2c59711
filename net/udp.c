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
 * Timers: GLib timeouts have millisecond resolution, so delays are rounded up to the next
 * millisecond (a timer never fires early).  The core addresses timers by env_timer handles
 * that this module hands out from a counter and maps to GSources in a hash table; a handle is
 * never reused, so stopping a timer that fired or was stopped finds nothing and does nothing,
 * and g_source_remove() is only ever called on a live source.
 */
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <stdarg.h>
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
    struct net_udp *u;
    env_timer handle; /* key in u->timers */
    guint source;     /* the GLib timeout source id */
    env_timer_fn fn;
    void *arg;
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
    GHashTable *timers; /* env_timer handle -> struct udp_timer (owned by its GSource) */
    env_timer next_handle;
    net_udp_event_fn event_fn;
    void *event_ud;
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

static gboolean udp_timer_fire(gpointer p)
{
    struct udp_timer *t = p;
    struct net_udp *u = t->u;
    /* Unmap first: the callback may start timers, or stop this very handle (a no-op now). */
    g_hash_table_remove(u->timers, &t->handle);
    u->counters.timers_fired++;
    t->fn(t->arg);
    return G_SOURCE_REMOVE; /* the source's destroy notify frees t */
}

static env_timer udp_timer_start(void *ctx, env_time delay, env_timer_fn fn, void *arg)
{
    struct net_udp *u = ctx;
    struct udp_timer *t = g_new0(struct udp_timer, 1);
    env_time ms = (delay + ENV_MS - 1) / ENV_MS;
    t->u = u;
    t->handle = ++u->next_handle;
    t->fn = fn;
    t->arg = arg;
    t->source = g_timeout_add_full(G_PRIORITY_DEFAULT, ms > G_MAXUINT ? G_MAXUINT : (guint)ms,
                                   udp_timer_fire, t, g_free);
    g_hash_table_insert(u->timers, &t->handle, t);
    u->counters.timers_started++;
    return t->handle;
}

static void udp_timer_stop(void *ctx, env_timer handle)
{
    struct net_udp *u = ctx;
    struct udp_timer *t = g_hash_table_lookup(u->timers, &handle);
    if (!t)
        return; /* fired, stopped, or never ours: harmless */
    g_hash_table_remove(u->timers, &handle);
    u->counters.timers_stopped++;
    g_source_remove(t->source); /* frees t */
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
    udp_drain(p, fd, udp_to_node, p);
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

/* Opens, binds and reads back the bound address; returns the fd or -1 with err set. */
static int udp_open(const struct env_addr *listen, struct env_addr *local, GError **err)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return udp_fail(err, -1, "cannot open a UDP socket for", listen);
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
    u->watch = g_unix_fd_add(fd, G_IO_IN, udp_readable, u);
    return u;
}

void net_udp_free(struct net_udp *u)
{
    if (!u)
        return;
    GHashTableIter it;
    gpointer value;
    GArray *sources = g_array_new(FALSE, FALSE, sizeof(guint));
    g_hash_table_iter_init(&it, u->timers);
    while (g_hash_table_iter_next(&it, NULL, &value))
        g_array_append_val(sources, ((struct udp_timer *)value)->source);
    g_hash_table_remove_all(u->timers); /* keys live in the timers: unmap before freeing them */
    for (guint i = 0; i < sources->len; i++)
        g_source_remove(g_array_index(sources, guint, i));
    g_array_free(sources, TRUE);
    g_hash_table_destroy(u->timers);
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

struct net_udp_app *net_udp_app_new(struct net_udp *u, const struct env_addr *listen,
                                    net_udp_recv_fn fn, void *ud, GError **err)
{
    struct env_addr local;
    int fd = udp_open(listen, &local, err);
    if (fd < 0)
        return NULL;
    struct net_udp_app *a = g_new0(struct net_udp_app, 1);
    a->u = u;
    a->fd = fd;
    a->local = local;
    a->fn = fn;
    a->ud = ud;
    a->watch = g_unix_fd_add(fd, G_IO_IN, udp_app_readable, a);
    return a;
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
