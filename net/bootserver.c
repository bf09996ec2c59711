/* bootserver.c — `p2psip bootstrap-server`: a stable host that is not a peer and forwards a
 * joining peer's first messages to a bootstrap peer (seed draft §5.4, "bootstrap server";
 * RFC 6940 §11.4 leaves how bootstrap nodes are reached to the deployment; docs/bootstrap.md).
 *
 * The server knows a list of bootstrap peers (--peer).  Each joining peer (a source address on
 * the listen socket) gets a session: a socket of its own on an ephemeral port and one chosen
 * bootstrap peer (round robin).  Every datagram from the joining peer that is a well-formed
 * FramedMessage (§6.6.2: an ACK, or a DATA frame whose forwarding header decodes) goes out of
 * the session's socket to the chosen peer, unchanged; every datagram from that peer to the
 * session's socket goes back to the joining peer from the listen socket.  To the joining peer
 * the server's address is its bootstrap peer's; to the bootstrap peer the session's socket is
 * the joining peer's address until the join's Attach (§10.5) gives the peers each other's real
 * addresses and they talk directly.  A session whose peer has not answered for
 * BOOTSERVER_FAILOVER moves to the next peer (a bootstrap peer that left); sessions idle for
 * --expire seconds are closed; at most BOOTSERVER_MAX_SESSIONS exist at once.  The server
 * parses headers only to refuse garbage: it routes nothing, stores nothing, has no Node-ID.
 */
#include <glib-unix.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../cli/cli.h"
#include "../core/wire.h"
#include "udp.h"

#define BOOTSERVER_MAX_PEERS 16
#define BOOTSERVER_MAX_SESSIONS 256
#define BOOTSERVER_FAILOVER_US (2 * G_USEC_PER_SEC)
#define BOOTSERVER_DEFAULT_EXPIRE_S 30

struct bootserver;

struct bootserver_session {
    struct bootserver *srv;
    struct env_addr client; /* the joining peer */
    unsigned peer;          /* index of the chosen bootstrap peer */
    struct net_udp_app *sock;
    gint64 last_active;   /* either direction */
    gint64 waiting_since; /* first datagram to the peer not answered yet; 0: answered */
};

struct bootserver {
    GMainLoop *loop;
    struct net_udp *udp; /* the listen socket, logger and counters */
    struct env_addr listen;
    struct env_addr peers[BOOTSERVER_MAX_PEERS];
    unsigned n_peers, next_peer;
    GHashTable *sessions; /* client address (uint64 key) -> struct bootserver_session */
    gint64 expire_us;
    uint64_t relayed_up, relayed_down, malformed, refused, failovers, sessions_opened;
};

static guint64 *bootserver_key(const struct env_addr *a)
{
    guint64 *k = g_new(guint64, 1);
    *k = (guint64)a->ip << 16 | a->port;
    return k;
}

static void bootserver_session_free(gpointer p)
{
    struct bootserver_session *s = p;
    net_udp_app_free(s->sock);
    g_free(s);
}

/* An answer from the chosen peer to the session's socket: back to the joining peer. */
static void bootserver_from_peer(void *ud, const struct env_addr *from, const uint8_t *buf,
                                 size_t len)
{
    struct bootserver_session *s = ud;
    struct bootserver *srv = s->srv;
    if (!env_addr_eq(from, &srv->peers[s->peer])) {
        srv->refused++;
        return;
    }
    s->last_active = g_get_monotonic_time();
    s->waiting_since = 0;
    srv->relayed_down++;
    env_send(net_udp_env(srv->udp), &s->client, buf, len);
}

/* The frame type of buf when it is a FramedMessage worth relaying, else -1. */
static int bootserver_frame_type(const uint8_t *buf, size_t len)
{
    struct wire_frame f;
    if (wire_decode_frame(buf, len, &f) < 0)
        return -1;
    if (f.type == WIRE_FRAME_ACK)
        return f.type;
    struct wire_header *h = g_new(struct wire_header, 1); /* about 4 KiB */
    size_t hl;
    bool ok = wire_decode_header(f.message.p, f.message.len, h, &hl) == 0;
    g_free(h);
    return ok ? f.type : -1;
}

static void bootserver_from_client(void *ud, const struct env_addr *from, const uint8_t *buf,
                                   size_t len)
{
    struct bootserver *srv = ud;
    char a[NET_UDP_ADDR_STRLEN], b[NET_UDP_ADDR_STRLEN];
    int type = bootserver_frame_type(buf, len);
    if (type < 0) {
        srv->malformed++;
        net_udp_logf(srv->udp, ENV_LOG_WARN, "dropped a malformed datagram from %s (%zu bytes)",
                     net_udp_format_addr(from, a), len);
        return;
    }
    guint64 key = (guint64)from->ip << 16 | from->port;
    struct bootserver_session *s = g_hash_table_lookup(srv->sessions, &key);
    gint64 now = g_get_monotonic_time();
    if (!s) {
        if (g_hash_table_size(srv->sessions) >= BOOTSERVER_MAX_SESSIONS) {
            srv->refused++;
            return;
        }
        GError *err = NULL;
        s = g_new0(struct bootserver_session, 1);
        s->srv = srv;
        s->client = *from;
        s->peer = srv->next_peer++ % srv->n_peers;
        struct env_addr eph = {.ip = srv->listen.ip, .port = 0};
        s->sock = net_udp_app_new(srv->udp, &eph, bootserver_from_peer, s, &err);
        if (!s->sock) {
            net_udp_logf(srv->udp, ENV_LOG_ERROR, "cannot open a session socket: %s", err->message);
            g_error_free(err);
            g_free(s);
            return;
        }
        g_hash_table_insert(srv->sessions, bootserver_key(from), s);
        srv->sessions_opened++;
        net_udp_logf(srv->udp, ENV_LOG_INFO, "session for %s: relaying to bootstrap peer %s",
                     net_udp_format_addr(from, a), net_udp_format_addr(&srv->peers[s->peer], b));
    } else if (s->waiting_since && now - s->waiting_since > BOOTSERVER_FAILOVER_US &&
               srv->n_peers > 1) {
        s->peer = (s->peer + 1) % srv->n_peers;
        s->waiting_since = 0;
        srv->failovers++;
        net_udp_logf(srv->udp, ENV_LOG_INFO,
                     "session for %s: no answer from its bootstrap peer; now relaying to %s",
                     net_udp_format_addr(from, a), net_udp_format_addr(&srv->peers[s->peer], b));
    }
    s->last_active = now;
    if (!s->waiting_since && type == WIRE_FRAME_DATA) /* an ACK expects no answer */
        s->waiting_since = now;
    srv->relayed_up++;
    net_udp_app_send(s->sock, &srv->peers[s->peer], buf, len);
}

static gboolean bootserver_expire_one(gpointer key, gpointer value, gpointer ud)
{
    struct bootserver *srv = ud;
    const struct bootserver_session *s = value;
    return g_get_monotonic_time() - s->last_active > srv->expire_us;
}

static gboolean bootserver_expire(gpointer ud)
{
    struct bootserver *srv = ud;
    g_hash_table_foreach_remove(srv->sessions, bootserver_expire_one, srv);
    return G_SOURCE_CONTINUE;
}

static gboolean bootserver_signal(gpointer ud)
{
    struct bootserver *srv = ud;
    g_main_loop_quit(srv->loop);
    return G_SOURCE_CONTINUE;
}

static const char bootserver_summary[] =
    "Runs a bootstrap server (seed draft sec. 5.4): a stable host, not itself a peer, that\n"
    "relays a joining peer's first RELOAD datagrams to one of its bootstrap peers (--peer,\n"
    "chosen round robin; the next one when the chosen peer does not answer within 2 s) and\n"
    "relays the answers back.  A joining peer uses it with `p2psip peer --bootstrap-server`.\n"
    "Each joining peer gets a relay socket of its own, closed after --expire idle seconds.\n"
    "\n"
    "Lines on stdout: listening addr=A.B.C.D:PORT peers=N\n"
    "Logs go to stderr.  Exit codes: 0 after SIGINT/SIGTERM, 1 when the socket cannot be\n"
    "opened, 2 on a usage error.";

int net_cli_bootstrap_server(int argc, char **argv)
{
    char *listen_s = NULL, **peer_s = NULL;
    int expire = BOOTSERVER_DEFAULT_EXPIRE_S;
    gboolean verbose = FALSE;
    GOptionEntry entries[] = {
        {"listen", 'l', 0, G_OPTION_ARG_STRING, &listen_s,
         "Receive joining peers on this IPv4 address and UDP port [required]", "ADDR:PORT"},
        {"peer", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &peer_s,
         "A bootstrap peer of the overlay (repeatable, up to 16) [required]", "ADDR:PORT"},
        {"expire", 'e', 0, G_OPTION_ARG_INT, &expire,
         "Close a joining peer's relay after this many idle seconds (default 30)", "SECONDS"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debugging detail to stderr", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new("- relay joining peers to bootstrap peers");
    g_option_context_set_summary(ctx, bootserver_summary);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_set_prgname("p2psip bootstrap-server");
    struct bootserver srv = {0};
    GError *err = NULL;
    const char *usage = NULL;
    char *usage_owned = NULL;
    int rc = 2;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        usage = usage_owned = g_strdup(err->message);
        g_clear_error(&err);
    } else if (argc > 1) {
        usage = "unexpected argument";
    } else if (!listen_s) {
        usage = "--listen ADDR:PORT is required";
    } else if (net_udp_parse_addr(listen_s, &srv.listen, &err) < 0) {
        usage = usage_owned = g_strdup_printf("--listen: %s", err->message);
        g_clear_error(&err);
    } else if (!peer_s || !peer_s[0]) {
        usage = "at least one --peer ADDR:PORT is required";
    } else if (expire <= 0) {
        usage = "--expire must be a positive number of seconds";
    }
    for (unsigned i = 0; !usage && peer_s[i]; i++) {
        if (i == BOOTSERVER_MAX_PEERS)
            usage = "--peer: at most 16 bootstrap peers";
        else if (net_udp_parse_addr(peer_s[i], &srv.peers[i], &err) < 0) {
            usage = usage_owned = g_strdup_printf("--peer: %s", err->message);
            g_clear_error(&err);
        } else
            srv.n_peers = i + 1;
    }
    if (usage) {
        fprintf(stderr, "p2psip bootstrap-server: %s\nTry 'p2psip bootstrap-server --help'.\n",
                usage);
        goto out;
    }
    rc = 1;
    srv.udp = net_udp_new(&srv.listen, NULL, &err);
    if (!srv.udp) {
        fprintf(stderr, "p2psip bootstrap-server: %s\n", err->message);
        g_error_free(err);
        goto out;
    }
    srv.listen = net_udp_local_addr(srv.udp);
    char a[NET_UDP_ADDR_STRLEN], tag[NET_UDP_ADDR_STRLEN + 20];
    g_snprintf(tag, sizeof tag, "bootstrap-server %s", net_udp_format_addr(&srv.listen, a));
    net_udp_set_tag(srv.udp, tag);
    net_udp_set_log_level(srv.udp, verbose ? ENV_LOG_DEBUG : ENV_LOG_INFO);
    net_udp_set_receiver(srv.udp, bootserver_from_client, &srv);
    srv.expire_us = (gint64)expire * G_USEC_PER_SEC;
    srv.sessions =
        g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, bootserver_session_free);
    srv.loop = g_main_loop_new(NULL, FALSE);
    guint expire_src = g_timeout_add_seconds(1, bootserver_expire, &srv);
    guint sig_int = g_unix_signal_add(SIGINT, bootserver_signal, &srv);
    guint sig_term = g_unix_signal_add(SIGTERM, bootserver_signal, &srv);
    printf("listening addr=%s peers=%u\n", a, srv.n_peers);
    fflush(stdout);
    g_main_loop_run(srv.loop);
    net_udp_logf(srv.udp, ENV_LOG_INFO,
                 "stats: sessions %" PRIu64 ", relayed to peers %" PRIu64 ", relayed back %" PRIu64
                 ", failovers %" PRIu64 ", malformed %" PRIu64 ", refused %" PRIu64,
                 srv.sessions_opened, srv.relayed_up, srv.relayed_down, srv.failovers,
                 srv.malformed, srv.refused);
    g_source_remove(expire_src);
    g_source_remove(sig_int);
    g_source_remove(sig_term);
    g_hash_table_destroy(srv.sessions);
    g_main_loop_unref(srv.loop);
    net_udp_free(srv.udp);
    rc = 0;
out:
    g_free(usage_owned);
    g_free(listen_s);
    g_strfreev(peer_s);
    g_option_context_free(ctx);
    return rc;
}
