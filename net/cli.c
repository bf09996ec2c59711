/* cli.c — the real backend's commands (cli/cli.h): `p2psip peer`, `p2psip store` and
 * `p2psip fetch`, each one RELOAD node on the UDP environment of net/udp.h and a GLib main
 * loop.
 *
 * `peer` runs a RELOAD peer (RFC 6940 §3.2): it starts an overlay or joins one through a
 * bootstrap peer (§10.5, §11.4) and, on SIGINT or SIGTERM, leaves gracefully (§10.9: Leave to
 * the neighbours, stored data handed to the successor) before exiting.  With --sip it is also
 * the SIP proxy/registrar of ordinary phones (seed draft §5.5-5.6; sip/registrar.h), on a
 * second UDP socket whose datagrams go to the adapter and from which the adapter sends.
 * `store` and `fetch` run a short-lived RELOAD client (§4.2: a node that neither routes nor
 * stores) that sends everything through one peer (§4.2.1) and issues one Store (§7.4.1) or
 * Fetch (§7.4.2) of the single-value kind NODE_KIND_VALUE at Resource-ID SHA-1(NAME) (§10.2).
 *
 * `peer --client` runs such a client for as long as the process lives (docs/clients.md): it
 * attaches to one or more peers with failover between them (core/client.c), takes store and
 * fetch commands on stdin and, with --sip, serves phones reached through its peer.
 *
 * `peer` may join further overlays (--overlay NAME,key=value; net/overlays.h, seed draft §6.5),
 * one SIP adapter each behind one SIP socket (sip/router.h), and with --dns sends requests for
 * other domains out by RFC 3263 (net/dns.h).
 *
 * With --config FILE every command reads the overlay configuration document (RFC 6940 §11.1;
 * config/config.h, docs/config.md): the overlay's name, sequence, topology, parameters and
 * kinds, and its bootstrap nodes when no --bootstrap (peer) or --peer (store, fetch) is given.
 *
 * Command-line parsing uses GOptionContext, so `--help` is generated from the option tables
 * below.  Exit codes follow cli/cli.h: 0 success, 1 not found or failed, 2 usage error.
 */
#include <glib-unix.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../cli/cli.h"
#include "../config/config.h"
#include "../core/id.h"
#include "../core/node.h"
#include "../sip/registrar.h"
#include "../sip/router.h"
#include "bootstrap.h"
#include "dns.h"
#include "overlays.h"
#include "security.h"
#include "udp.h"

#define CLI_DEFAULT_OVERLAY "p2psip.example"
/* How long a leaving peer keeps its loop running so that Leave and the handover Stores
 * (and their link-layer retransmissions) go out before the process exits. */
#define CLI_LEAVE_GRACE_MS 300
#define CLI_DEFAULT_TIMEOUT_S 10.0
#define CLI_DEFAULT_LIFETIME_S 3600
#define CLI_CLIENT_KEEPALIVE_S 10.0

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILED = 1, CLI_EXIT_USAGE = 2 };

/* ---- shared helpers ---------------------------------------------------------------------- */

static const char *cli_strerror(int status)
{
    switch (status) {
    case NODE_OK:
        return "success";
    case NODE_E_TIMEOUT:
        return "no answer from the overlay (request timed out)";
    case NODE_E_NOT_FOUND:
        return "not found";
    case NODE_E_REFUSED:
        return "refused by the overlay (error response)";
    case NODE_E_STATE:
        return "not connected to the overlay";
    case NODE_E_INVALID:
        return "invalid request (unknown kind or value too large)";
    }
    return "unknown error";
}

static int cli_usage_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "p2psip %s: %s\nTry 'p2psip %s --help'.\n", cmd, msg, cmd);
    return CLI_EXIT_USAGE;
}

/* Parses the options of ctx out of argv; on error prints it and returns false. */
static bool cli_parse(GOptionContext *ctx, const char *cmd, int *argc, char ***argv)
{
    GError *err = NULL;
    char *prgname = g_strdup_printf("p2psip %s", cmd);
    g_set_prgname(prgname);
    g_free(prgname);
    if (g_option_context_parse(ctx, argc, argv, &err))
        return true;
    cli_usage_error(cmd, err->message);
    g_error_free(err);
    return false;
}

/* Parses an ADDR:PORT option value; on error prints it and returns false. */
static bool cli_addr(const char *cmd, const char *opt, const char *s, struct env_addr *out)
{
    GError *err = NULL;
    if (net_udp_parse_addr(s, out, &err) == 0)
        return true;
    char *msg = g_strdup_printf("--%s: %s", opt, err->message);
    cli_usage_error(cmd, msg);
    g_free(msg);
    g_error_free(err);
    return false;
}

static struct id cli_random_id(const struct env *env)
{
    return (struct id){.hi = env_random(env), .lo = env_random(env)};
}

/* ---- p2psip peer ------------------------------------------------------------------------- */

/* While a join has not completed, say so this often (the core keeps retrying on its own). */
#define CLI_JOIN_NAG_S 10

struct cli_peer {
    GMainLoop *loop;
    struct net_udp *udp;
    struct node *node;
    bool joined, leaving;
    guint join_nag;                      /* source of the "not joined yet" warning, 0 once joined */
    guint quit_source;                   /* the leave grace period's timeout, 0 when not pending */
    unsigned waited_s;                   /* seconds spent joining so far */
    char bootstrap[NET_UDP_ADDR_STRLEN]; /* empty when starting a new overlay */
    int exit_code;
    struct net_udp_app *sip_sock; /* with --sip: the SIP socket and its adapter */
    struct sip_registrar *sip;
    bool have_srflx; /* with --relay: the reflexive address logged last */
    struct env_addr srflx;
    struct net_bootstrap *search;              /* finding a bootstrap peer (net/bootstrap.h) */
    struct net_bootstrap_announcer *announcer; /* --announce */
    const char *cache;                         /* --cache FILE, or NULL */
    guint cache_source;                        /* the periodic cache write */
    /* Several overlays (net/overlays.h): the further ones, their SIP adapters (NULL without
     * --sip), the router in front of every adapter, and the DNS locator (--dns). */
    GPtrArray *extras;                /* struct net_overlay * */
    struct sip_registrar **extra_sip; /* one per extra */
    struct sip_router *router;
    struct net_dns *dns;
    /* --client (docs/clients.md): the peer last reported on stdout, the periodic check of
     * it, and the command channel on stdin. */
    bool client, have_reported;
    struct node_peer reported;
    guint client_tick, stdin_watch;
    GIOChannel *stdin_ch;
};

/* ---- NAT traversal (--relay; core/ice.c, docs/nat.md "Traversal") ---- */

#define CLI_MAX_RELAYS 16

static const char *cli_connect_outcome(uint16_t code)
{
    switch (code) {
    case NODE_CONNECT_DIRECT:
        return "direct";
    case NODE_CONNECT_PUNCHED:
        return "hole-punched";
    case NODE_CONNECT_RELAYED:
        return "relayed";
    case NODE_CONNECT_FAILED:
        return "failed";
    }
    return "unknown";
}

/* Logs the server-reflexive address when the node learns it or it changes. */
static void cli_peer_note_srflx(struct cli_peer *p)
{
    struct env_addr s;
    if (!node_ice_srflx(p->node, &s) || (p->have_srflx && env_addr_eq(&s, &p->srflx)))
        return;
    p->have_srflx = true;
    p->srflx = s;
    struct env_addr self = net_udp_local_addr(p->udp);
    char a[NET_UDP_ADDR_STRLEN];
    net_udp_logf(p->udp, ENV_LOG_INFO, "ice: server-reflexive address %s (%s)",
                 net_udp_format_addr(&s, a),
                 env_addr_eq(&s, &self) ? "the same as ours: not behind a NAT" : "behind a NAT");
}

/* One line per connection attempt this peer started, and the totals at exit. */
static void cli_peer_log_connect(struct cli_peer *p, const struct env_event *ev)
{
    char hex[ID_HEX_LEN + 1];
    id_to_hex(&ev->responder, hex);
    net_udp_logf(p->udp, ENV_LOG_INFO, "ice: connection to node-id=%s: %s", hex,
                 cli_connect_outcome(ev->code));
}

/* The peer's own relay changed (docs/nat.md, "Relay failover"). */
static void cli_peer_log_relay(struct cli_peer *p, const struct env_event *ev)
{
    char hex[ID_HEX_LEN + 1];
    id_to_hex(&ev->responder, hex);
    if (ev->code == NODE_RELAY_LOOKUP_FAILED)
        net_udp_logf(p->udp, ENV_LOG_INFO, "ice: relay lookup found no provider");
    else
        net_udp_logf(p->udp, ENV_LOG_INFO, "ice: own relay now node-id=%s (%s)", hex,
                     ev->code == NODE_RELAY_FOUND ? "from the directory" : "failover");
}

static void cli_peer_log_ice(struct cli_peer *p)
{
    const struct node_ice_stats *s = node_ice_get_stats(p->node);
    if (!s)
        return;
    net_udp_logf(p->udp, ENV_LOG_INFO,
                 "ice: connections direct %" PRIu64 ", hole-punched %" PRIu64 ", relayed %" PRIu64
                 ", failed %" PRIu64 "; messages sent through a relay %" PRIu64
                 ", checks sent %" PRIu64 ", bad candidates %" PRIu64,
                 s->outcomes[NODE_CONNECT_DIRECT], s->outcomes[NODE_CONNECT_PUNCHED],
                 s->outcomes[NODE_CONNECT_RELAYED], s->outcomes[NODE_CONNECT_FAILED],
                 s->relayed_sent, s->checks_sent, s->bad_candidates);
}

static void cli_sip_send(void *ud, const struct env_addr *to, const char *msg, size_t len)
{
    struct cli_peer *p = ud;
    net_udp_app_send(p->sip_sock, to, (const uint8_t *)msg, len);
}

static void cli_sip_receive(void *ud, const struct env_addr *from, const uint8_t *buf, size_t len)
{
    struct cli_peer *p = ud;
    if (p->router)
        sip_router_receive(p->router, from, buf, len);
}

static void cli_peer_event(void *ud, const struct env_event *ev, const struct env_addr *from)
{
    struct cli_peer *p = ud;
    const struct net_udp_counters *c = net_udp_get_counters(p->udp);
    char a[NET_UDP_ADDR_STRLEN], hex[ID_HEX_LEN + 1];
    if (node_ice_get_stats(p->node))
        cli_peer_note_srflx(p);
    switch (ev->type) {
    case ENV_EV_JOIN_DONE:
        if (ev->status != NODE_OK) {
            net_udp_logf(p->udp, ENV_LOG_ERROR, "join failed: %s", cli_strerror(ev->status));
            p->exit_code = CLI_EXIT_FAILED;
            g_main_loop_quit(p->loop);
            break;
        }
        if (p->joined)
            break;
        p->joined = true;
        if (p->join_nag)
            g_source_remove(p->join_nag);
        p->join_nag = 0;
        struct env_addr self = net_udp_local_addr(p->udp);
        id_to_hex(node_id(p->node), hex);
        printf("joined node-id=%s addr=%s\n", hex, net_udp_format_addr(&self, a));
        fflush(stdout);
        break;
    case ENV_EV_MSG_DROPPED:
        if (from)
            net_udp_logf(p->udp, ENV_LOG_WARN,
                         "dropped malformed datagram from %s (%u bytes; %" PRIu64 " so far)",
                         net_udp_format_addr(from, a), ev->bytes, c->events[ENV_EV_MSG_DROPPED]);
        else
            net_udp_logf(p->udp, ENV_LOG_WARN,
                         "dropped an undeliverable message (%" PRIu64 " so far)",
                         c->events[ENV_EV_MSG_DROPPED]);
        break;
    case ENV_EV_LINK_FAILED:
        net_udp_logf(p->udp, ENV_LOG_INFO,
                     "a neighbour stopped acknowledging (%" PRIu64 " failed links so far)",
                     c->events[ENV_EV_LINK_FAILED]);
        break;
    case ENV_EV_STORE_DONE:
    case ENV_EV_FETCH_DONE:
    case ENV_EV_LOOKUP_DONE:
    case ENV_EV_MSG_SENT:
    case ENV_EV_RELAYED:
        break;
    case ENV_EV_CONNECT:
        cli_peer_log_connect(p, ev);
        break;
    case ENV_EV_RELAY:
        cli_peer_log_relay(p, ev);
        break;
    }
}

static gboolean cli_peer_join_nag(gpointer ud)
{
    struct cli_peer *p = ud;
    p->waited_s += CLI_JOIN_NAG_S;
    net_udp_logf(p->udp, ENV_LOG_WARN, "not joined yet after %u s (is the bootstrap peer %s up?)",
                 p->waited_s, p->bootstrap[0] ? p->bootstrap : "(none)");
    return G_SOURCE_CONTINUE;
}

static gboolean cli_peer_quit(gpointer ud)
{
    struct cli_peer *p = ud;
    p->quit_source = 0;
    g_main_loop_quit(p->loop);
    return G_SOURCE_REMOVE;
}

/* ---- bootstrap (net/bootstrap.h; docs/bootstrap.md) ---- */

/* How often a joined peer with --cache rewrites its remembered peers. */
#define CLI_CACHE_WRITE_S 5

static void cli_peer_write_cache(struct cli_peer *p)
{
    if (!p->cache || !node_is_joined(p->node))
        return;
    GError *err = NULL;
    struct env_addr self = net_udp_local_addr(p->udp);
    if (net_bootstrap_cache_write(p->cache, p->node, &self, &err) < 0) {
        net_udp_logf(p->udp, ENV_LOG_WARN, "--cache: %s", err->message);
        g_error_free(err);
    }
}

static gboolean cli_peer_cache_tick(gpointer ud)
{
    cli_peer_write_cache(ud);
    return G_SOURCE_CONTINUE;
}

/* Joins through bootstrap (NULL: starts a new overlay) and says which way on stdout. */
static int cli_peer_join(struct cli_peer *p, const struct env_addr *bootstrap,
                         enum net_bootstrap_method method)
{
    if (bootstrap) {
        net_udp_format_addr(bootstrap, p->bootstrap);
        printf("bootstrap method=%s addr=%s\n", net_bootstrap_method_name(method), p->bootstrap);
        fflush(stdout);
    } else {
        p->bootstrap[0] = '\0';
    }
    int r = node_join(p->node, bootstrap);
    if (r != NODE_OK)
        net_udp_logf(p->udp, ENV_LOG_ERROR, "cannot join: %s", cli_strerror(r));
    return r;
}

static void cli_peer_bootstrap_found(void *ud, const struct env_addr *found,
                                     enum net_bootstrap_method method)
{
    struct cli_peer *p = ud;
    struct env_addr addr; /* found points into the search, freed here (ASan, SANITIZE=1) */
    if (found)
        addr = *found;
    net_bootstrap_free(p->search);
    p->search = NULL;
    if (!found)
        net_udp_logf(p->udp, ENV_LOG_INFO,
                     "bootstrap: no remembered or discovered peer answered; starting a new "
                     "overlay");
    if (cli_peer_join(p, found ? &addr : NULL, method) != NODE_OK) {
        p->exit_code = CLI_EXIT_FAILED;
        g_main_loop_quit(p->loop);
    }
}

/* First signal: leave politely and exit after a grace period; a second one exits at once. */
static gboolean cli_peer_signal(gpointer ud)
{
    struct cli_peer *p = ud;
    if (p->leaving) {
        g_main_loop_quit(p->loop);
        return G_SOURCE_CONTINUE;
    }
    p->leaving = true;
    net_udp_logf(p->udp, ENV_LOG_INFO, "signal received: leaving the overlay");
    cli_peer_write_cache(p); /* before Leave empties the routing table */
    node_leave(p->node);
    for (guint i = 0; p->extras && i < p->extras->len; i++)
        net_overlay_leave(p->extras->pdata[i]);
    p->quit_source = g_timeout_add(CLI_LEAVE_GRACE_MS, cli_peer_quit, p);
    return G_SOURCE_CONTINUE;
}

/* The SIP adapter's counters (none without --sip). */
static void cli_sip_log_stats(struct net_udp *udp, const struct sip_registrar *sip)
{
    if (!sip)
        return;
    const struct sip_registrar_stats *st = sip_registrar_get_stats(sip);
    net_udp_logf(
        udp, ENV_LOG_INFO,
        "sip: received %" PRIu64 ", registers ok %" PRIu64 " failed %" PRIu64 ", lookups %" PRIu64
        " found %" PRIu64 ", forwarded %" PRIu64 " (+%" PRIu64 " ACKs), relayed %" PRIu64
        ", timeouts %" PRIu64 ", AppAttaches %" PRIu64 " failed %" PRIu64 ", malformed %" PRIu64
        ", out by DNS %" PRIu64 " (unresolvable %" PRIu64 ")",
        st->received, st->registers_ok, st->registers_failed, st->lookups, st->lookups_found,
        st->forwarded, st->forwarded_stateless, st->relayed, st->proxy_timeouts, st->app_attaches,
        st->app_attach_failures, st->dropped_malformed, st->located, st->locate_failures);
}

static void cli_peer_log_stats(struct cli_peer *p)
{
    const struct node_stats *s = node_get_stats(p->node);
    const struct net_udp_counters *c = net_udp_get_counters(p->udp);
    net_udp_logf(p->udp, ENV_LOG_INFO,
                 "stats: sent %" PRIu64 " msgs (%" PRIu64 " bytes), received %" PRIu64
                 " msgs (%" PRIu64 " bytes), forwarded %" PRIu64 ", retransmissions %" PRIu64
                 ", dropped malformed %" PRIu64 ", ttl %" PRIu64 ", other overlay %" PRIu64
                 ", links failed %" PRIu64 ", send failures %" PRIu64
                 ", config updates %" PRIu64 " (sequence %u), records held %zu"
                 ", dropped signature %" PRIu64 ", refused joins %" PRIu64,
                 s->msgs_sent, s->bytes_sent, s->msgs_received, s->bytes_received, s->forwarded,
                 s->retransmissions, s->dropped_malformed, s->dropped_ttl, s->dropped_overlay,
                 s->links_failed, c->send_failures, s->config_updates,
                 node_config_sequence(p->node), node_stored_records(p->node),
                 s->dropped_signature, s->refused_join);
    cli_sip_log_stats(p->udp, p->sip);
    for (guint i = 0; p->extras && i < p->extras->len; i++) {
        net_overlay_log_stats(p->extras->pdata[i]);
        cli_sip_log_stats(net_overlay_udp(p->extras->pdata[i]), p->extra_sip[i]);
    }
    if (p->dns) {
        const struct net_dns_stats *d = net_dns_get_stats(p->dns);
        net_udp_logf(p->udp, ENV_LOG_INFO,
                     "dns: searches %" PRIu64 ", found %" PRIu64 ", failed %" PRIu64
                     ", queries %" PRIu64,
                     d->searches, d->found, d->failed, d->queries);
    }
}

static const char peer_summary[] =
    "Runs one RELOAD peer (RFC 6940) over UDP until SIGINT or SIGTERM, then leaves the overlay\n"
    "gracefully (Leave to the neighbours, stored data handed to the successor) and exits 0.\n"
    "\n"
    "Without --bootstrap the peer starts a new overlay alone; with it, the peer joins through\n"
    "the peer at that address (RFC 6940 sec. 10.5).\n"
    "\n"
    "With --config the peer follows an overlay configuration document (RFC 6940 sec. 11.1;\n"
    "docs/config.md): overlay name, sequence, topology, parameters, kinds and bootstrap nodes.\n"
    "Without --bootstrap it joins through the document's first bootstrap node that is not its\n"
    "own --listen address, or starts the overlay when it is itself the first one.  Options\n"
    "given on the command line win over the document.\n"
    "\n"
    "With --sip the peer is also the SIP proxy/registrar of ordinary SIP phones (UDP): a\n"
    "REGISTER for sip:USER@DOMAIN stores the user's registration in the overlay (RFC 7904), and\n"
    "an INVITE (or any request) for an AoR is looked up in the overlay and proxied to the peer\n"
    "where the callee registered, and on to the phone; ACK and BYE follow Record-Route.\n"
    "With --dns, a request for a domain no joined overlay serves leaves by ordinary SIP to the\n"
    "next hop found by DNS NAPTR, SRV and A records (RFC 3263).\n"
    "\n"
    "Each --overlay NAME,listen=ADDR:PORT[,bootstrap=...][,config=FILE][,node-id=HEX32]\n"
    "[,sip-domain=D] joins one more overlay from the same process, on a socket of its own, with\n"
    "its own Node-ID, storage and neighbours (seed draft sec. 6.5).  With --sip every overlay\n"
    "serves its SIP domain on the one SIP socket: requests go to the overlay of their\n"
    "Request-URI's domain (docs/sip.md, \"Several overlays\").\n"
    "\n"
    "With --relay (repeatable, the same list at every peer) the peer crosses NATs (docs/nat.md,\n"
    "\"Traversal\"): it learns its server-reflexive address from its relay, offers host,\n"
    "server-reflexive and relayed candidates in Attach, runs connectivity checks, and sends\n"
    "through the other peer's relay when no check answers.  A peer whose --listen address is\n"
    "in the list is that relay.  Each connection attempt it starts is logged as\n"
    "  ice: connection to node-id=HEX: direct|hole-punched|relayed|failed\n"
    "\n"
    "With --cache, --discover or --bootstrap-server, or several bootstrap nodes, the peer\n"
    "probes every candidate with a RELOAD Ping and joins through the best that answers:\n"
    "remembered peers (--cache FILE, which it keeps up to date), multicast discovery\n"
    "(--discover; joined peers answer with --announce), configured peers, then the bootstrap\n"
    "server (docs/bootstrap.md).  With only --cache/--discover and no answer it starts a new\n"
    "overlay.\n"
    "\n"
    "With --key and --cert (p2psip ca enroll) the peer runs as its certificate's Node-ID, signs\n"
    "every RELOAD message it sends and verifies every message that ends at it (RFC 6940 sec.\n"
    "6.3.4); unsigned or unverifiable ones are dropped and counted, and a peer without a\n"
    "credential the trust anchor accepts cannot join (logged as 'refused an AttachReq from\n"
    "node-id=HEX: REASON').  The trust anchor is --ca, else the --config document's\n"
    "<root-cert>, else self-signed mode (docs/security.md).  With a credential the --config\n"
    "document must be signed (p2psip ca sign-config) by a <configuration-signer> the anchor\n"
    "trusts (in self-signed mode only when it lists one), and a newer one arriving by\n"
    "ConfigUpdate by a signer the configuration in force lists; others are refused\n"
    "(docs/config.md, \"Signed configurations\").\n"
    "\n"
    "With --client the process is a RELOAD client (RFC 6940 sec. 4.2; docs/clients.md): it\n"
    "attaches to the --attach peers (in order; the next when the link to the current one\n"
    "fails), neither routes nor stores, and reads commands on stdin: 'store NAME VALUE',\n"
    "'fetch NAME', 'peer'; answered on stdout as 'stored NAME', 'fetched NAME VALUE', 'fetch\n"
    "NAME not found', '... failed: REASON', and 'attached peer-id=HEX addr=A.B.C.D:PORT' each\n"
    "time its peer changes.  SIGUSR1 logs the routing table (any peer) on stderr.\n"
    "\n"
    "Lines on stdout, each flushed:\n"
    "  listening node-id=HEX addr=A.B.C.D:PORT overlay=NAME\n"
    "  bootstrap method=remembered|multicast|configured|server addr=A.B.C.D:PORT\n"
    "  sip addr=A.B.C.D:PORT domain=NAME            (with --sip)\n"
    "  joined node-id=HEX addr=A.B.C.D:PORT\n"
    "Logs go to stderr.  Exit codes: 0 after a clean leave, 1 when the join fails or the socket\n"
    "cannot be opened, 2 on a usage error.";

/* The peer's command line, checked and converted. */
struct cli_peer_opts {
    struct env_addr listen, bootstrap, sip;
    bool has_bootstrap, has_id, verbose, has_sip;
    char *cache;             /* --cache FILE (owned) */
    bool discover, announce; /* --discover, --announce */
    struct env_addr group;   /* --discover-group */
    bool has_server;         /* --bootstrap-server */
    struct env_addr server;
    const char *sip_domain;
    struct id self;
    const char *overlay;
    struct node_config cfg;
    struct config *doc; /* --config: must outlive the node (cfg borrows its kinds) */
    struct node_peer relays[CLI_MAX_RELAYS]; /* --relay: cfg.ice.relays borrows them */
    struct net_security *sec; /* --key/--cert: must outlive the node (cfg borrows it) */
    char **extras; /* the --overlay NAME,key=value,... specifications (owned, NULL-ended) */
    char *dns;     /* --dns: "A.B.C.D:PORT", "system", or NULL (owned) */
    bool client;   /* --client: the peers to attach to, in order of use */
    struct env_addr attach[NODE_MAX_CLIENT_PEERS];
    unsigned n_attach;
};

/* Reads --config FILE for command cmd (--overlay picks the configuration when given) and
 * applies it to cfg; NULL after printing why. */
static struct config *cli_config(const char *cmd, const char *path, const char *overlay,
                                 struct node_config *cfg)
{
    GError *err = NULL;
    struct config *doc = config_load(path, overlay, &err);
    if (!doc) {
        char *msg = g_strdup_printf("--config: %s", err->message);
        cli_usage_error(cmd, msg);
        g_free(msg);
        g_error_free(err);
        return NULL;
    }
    config_apply(doc, cfg);
    return doc;
}

/* The document's IPv4 bootstrap nodes other than self, at most max, in document order;
 * *self_first tells whether self is the first IPv4 one. */
static unsigned cli_config_bootstraps(const struct config *doc, const struct env_addr *self,
                                      struct env_addr *out, unsigned max, bool *self_first)
{
    unsigned n = 0;
    bool first = true;
    *self_first = false;
    for (guint i = 0; i < doc->bootstraps->len; i++) {
        const struct config_bootstrap *b = &g_array_index(doc->bootstraps, struct config_bootstrap, i);
        if (!b->is_v4)
            continue;
        bool is_self = b->addr.port == self->port && (b->addr.ip == self->ip || self->ip == 0);
        if (first && is_self)
            *self_first = true;
        first = false;
        if (!is_self && n < max)
            out[n++] = b->addr;
    }
    return n;
}

/* --key/--cert/--ca (net/security.h): loads the credential and trust anchor into *sec and
 * turns security on in cfg; the node runs as *self, which must be one of the certificate's
 * Node-IDs when has_self (--node-id), else becomes its first.  Returns 0, or an exit code
 * after printing why. */
static int cli_security(const char *cmd, const char *key, const char *cert, const char *ca,
                        const struct config *doc, const char *overlay, struct node_config *cfg,
                        struct net_security **sec, struct id *self, bool has_self)
{
    GError *err = NULL;
    *sec = net_security_new(key, cert, ca, doc, overlay, &err);
    if (!*sec) {
        if (!err)
            return CLI_EXIT_OK; /* no credential: security off */
        int rc = cli_usage_error(cmd, err->message);
        g_error_free(err);
        return rc;
    }
    if (!net_security_node_id(*sec, has_self ? self : NULL, self)) {
        net_security_free(*sec);
        *sec = NULL;
        return cli_usage_error(cmd, "--node-id is not a Node-ID of the --cert certificate");
    }
    net_security_apply(*sec, cfg);
    return CLI_EXIT_OK;
}

/* Parses and checks the peer's arguments into o; returns 0 or an exit code after printing
 * why. */
static int cli_peer_parse(int argc, char **argv, struct cli_peer_opts *o)
{
    char *listen_s = NULL, *bootstrap_s = NULL, *overlay = NULL, *node_id_s = NULL;
    char **overlay_v = NULL, *dns_s = NULL;
    char *sip_s = NULL, *sip_domain = NULL, *config_s = NULL;
    char **relay_s = NULL;
    char *cache_s = NULL, *group_s = NULL, *server_s = NULL;
    char *key_s = NULL, *cert_s = NULL, *ca_s = NULL;
    gboolean discover = FALSE, announce = FALSE;
    double update_interval = 0;
    gboolean verbose = FALSE, client = FALSE;
    char **attach_s = NULL;
    double keepalive = CLI_CLIENT_KEEPALIVE_S;
    GOptionEntry entries[] = {
        {"client", 0, 0, G_OPTION_ARG_NONE, &client,
         "Run as a RELOAD client (RFC 6940 sec. 4.2): attach to a peer (--attach, else "
         "--bootstrap or the --config document's bootstrap nodes) and neither route nor store; "
         "commands on stdin (docs/clients.md)",
         NULL},
        {"attach", 0, 0, G_OPTION_ARG_STRING_ARRAY, &attach_s,
         "With --client: a peer to attach to (repeatable, up to 8, used in order: the next "
         "when the link to the current one fails)",
         "ADDR:PORT"},
        {"keepalive", 0, 0, G_OPTION_ARG_DOUBLE, &keepalive,
         "With --client: Ping the peer this often (default 10; 0: never)", "SECONDS"},
        {"listen", 'l', 0, G_OPTION_ARG_STRING, &listen_s,
         "Receive on this IPv4 address and UDP port (port 0: any free port) [required]",
         "ADDR:PORT"},
        {"bootstrap", 'b', 0, G_OPTION_ARG_STRING, &bootstrap_s,
         "Join the overlay through the peer at this address (default: start a new overlay)",
         "ADDR:PORT"},
        {"overlay", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &overlay_v,
         "Overlay name; its hash goes in every message header (default " CLI_DEFAULT_OVERLAY
         ", or the --config document's instance-name).  Repeatable as NAME,listen=ADDR:PORT"
         "[,bootstrap=ADDR:PORT][,config=FILE][,node-id=HEX32][,sip-domain=NAME]"
         "[,key=FILE,cert=FILE[,ca=FILE]]: one more overlay this process joins, with a "
         "credential of its own when key= and cert= are given (docs/sip.md, \"Several "
         "overlays\")",
         "NAME[,KEY=VALUE...]"},
        {"dns", 0, 0, G_OPTION_ARG_STRING, &dns_s,
         "With --sip: send requests for domains no joined overlay serves out by ordinary SIP, "
         "the next hop found by DNS NAPTR/SRV/A (RFC 3263) asking this server, or the "
         "system's resolver with 'system'",
         "ADDR:PORT|system"},
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_s,
         "Follow this overlay configuration document (RFC 6940 sec. 11.1; with --overlay, its "
         "configuration of that instance-name)",
         "FILE"},
        {"node-id", 'n', 0, G_OPTION_ARG_STRING, &node_id_s,
         "This peer's Node-ID as 32 hex digits (default: random)", "HEX32"},
        {"update-interval", 'u', 0, G_OPTION_ARG_DOUBLE, &update_interval,
         "Chord stabilization interval, chord-update-interval (default 60)", "SECONDS"},
        {"sip", 's', 0, G_OPTION_ARG_STRING, &sip_s,
         "Be the SIP proxy/registrar of phones on this IPv4 address and UDP port (port 0: any "
         "free port; the address must be one phones and other peers reach, not 0.0.0.0)",
         "ADDR:PORT"},
        {"sip-domain", 'd', 0, G_OPTION_ARG_STRING, &sip_domain,
         "The overlay's SIP domain: a registered Contact in it is a forwarding URI (default: "
         "the overlay name)",
         "NAME"},
        {"relay", 'r', 0, G_OPTION_ARG_STRING_ARRAY, &relay_s,
         "A relay peer of the overlay (public; repeatable, up to 16, the same list at every "
         "peer): enables NAT traversal",
         "ADDR:PORT"},
        {"cache", 0, 0, G_OPTION_ARG_FILENAME, &cache_s,
         "Remember a few current neighbours in this file (every 5 s and at exit) and try them "
         "first when joining",
         "FILE"},
        {"discover", 0, 0, G_OPTION_ARG_NONE, &discover,
         "Look for a peer of the overlay by multicast on the local link", NULL},
        {"announce", 0, 0, G_OPTION_ARG_NONE, &announce,
         "Once joined, answer multicast discovery from joining peers", NULL},
        {"discover-group", 0, 0, G_OPTION_ARG_STRING, &group_s,
         "Multicast group and port of --discover and --announce (default " NET_BOOTSTRAP_GROUP ")",
         "ADDR:PORT"},
        {"bootstrap-server", 0, 0, G_OPTION_ARG_STRING, &server_s,
         "Join through this bootstrap server (p2psip bootstrap-server) when no remembered, "
         "discovered or configured peer answers",
         "ADDR:PORT"},
        {"key", 0, 0, G_OPTION_ARG_FILENAME, &key_s,
         "This peer's private key (PEM, from p2psip ca enroll): with --cert, every message is "
         "signed and every message received is verified (docs/security.md)",
         "FILE"},
        {"cert", 0, 0, G_OPTION_ARG_FILENAME, &cert_s,
         "This peer's certificate (PEM); the Node-ID is one it carries", "FILE"},
        {"ca", 0, 0, G_OPTION_ARG_FILENAME, &ca_s,
         "The overlay CA's certificate (PEM), the trust anchor (default: the --config "
         "document's <root-cert>, else self-signed mode)",
         "FILE"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debugging detail to stderr", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new("- run one RELOAD peer over UDP");
    g_option_context_set_summary(ctx, peer_summary);
    g_option_context_add_main_entries(ctx, entries, NULL);
    node_config_default(&o->cfg);
    int rc = CLI_EXIT_USAGE;
    if (!cli_parse(ctx, "peer", &argc, &argv))
        goto out;
    /* A plain --overlay NAME names the first overlay; NAME,key=value adds another one. */
    GPtrArray *extras = g_ptr_array_new();
    for (unsigned i = 0; overlay_v && overlay_v[i]; i++) {
        GError *e = NULL;
        if (strchr(overlay_v[i], ',') && !net_overlay_spec_check(overlay_v[i], &e)) {
            g_ptr_array_free(extras, TRUE);
            cli_usage_error("peer", e->message);
            g_error_free(e);
            goto out;
        }
        if (strchr(overlay_v[i], ','))
            g_ptr_array_add(extras, g_strdup(overlay_v[i]));
        else if (!overlay)
            overlay = g_strdup(overlay_v[i]);
        else {
            g_ptr_array_free(extras, TRUE);
            cli_usage_error("peer", "--overlay NAME given twice (a further overlay needs "
                                    "NAME,listen=ADDR:PORT,...)");
            goto out;
        }
    }
    g_ptr_array_add(extras, NULL);
    o->extras = (char **)g_ptr_array_free(extras, FALSE);
    if (dns_s && !sip_s) {
        cli_usage_error("peer", "--dns needs --sip");
        goto out;
    }
    if (dns_s && strcmp(dns_s, "system") != 0) {
        struct env_addr da;
        if (!cli_addr("peer", "dns", dns_s, &da))
            goto out;
    }
    o->dns = g_strdup(dns_s);
    if (argc > 1) {
        cli_usage_error("peer", "unexpected argument");
        goto out;
    }
    if (!listen_s) {
        cli_usage_error("peer", "--listen ADDR:PORT is required");
        goto out;
    }
    if (!cli_addr("peer", "listen", listen_s, &o->listen) ||
        (bootstrap_s && !cli_addr("peer", "bootstrap", bootstrap_s, &o->bootstrap)) ||
        (sip_s && !cli_addr("peer", "sip", sip_s, &o->sip)) ||
        !cli_addr("peer", "discover-group", group_s ? group_s : NET_BOOTSTRAP_GROUP, &o->group) ||
        (server_s && !cli_addr("peer", "bootstrap-server", server_s, &o->server)))
        goto out;
    if ((o->group.ip >> 28) != 0xe) {
        cli_usage_error("peer", "--discover-group needs an IPv4 multicast address (224.0.0.0/4)");
        goto out;
    }
    o->discover = discover;
    o->announce = announce;
    o->has_server = server_s != NULL;
    o->cache = g_strdup(cache_s);
    for (unsigned i = 0; relay_s && relay_s[i]; i++) {
        if (i == CLI_MAX_RELAYS) {
            cli_usage_error("peer", "--relay: at most 16 relays");
            goto out;
        }
        /* Known by address only: the core learns each relay's Node-ID (core/ice.c). */
        o->relays[i].id = id_wildcard();
        if (!cli_addr("peer", "relay", relay_s[i], &o->relays[i].addr))
            goto out;
        if (o->relays[i].addr.ip == 0 || o->relays[i].addr.port == 0) {
            cli_usage_error("peer", "--relay needs an address and port peers reach (not 0.0.0.0 "
                                    "or port 0)");
            goto out;
        }
        o->cfg.ice.enabled = true;
        o->cfg.ice.relays = o->relays;
        o->cfg.ice.n_relays = i + 1;
    }
    if (relay_s && o->listen.ip == 0) {
        cli_usage_error("peer", "--relay needs a --listen address other peers reach (not "
                                "0.0.0.0): it is the peer's host candidate");
        goto out;
    }
    if (sip_s && o->sip.ip == 0) {
        cli_usage_error("peer", "--sip needs the address phones reach (not 0.0.0.0): it goes "
                                "in Via and Record-Route");
        goto out;
    }
    if (sip_domain && !sip_s) {
        cli_usage_error("peer", "--sip-domain needs --sip");
        goto out;
    }
    o->has_sip = sip_s != NULL;
    o->has_bootstrap = bootstrap_s != NULL;
    if (attach_s && !client) {
        cli_usage_error("peer", "--attach needs --client");
        goto out;
    }
    for (unsigned i = 0; attach_s && attach_s[i]; i++) {
        if (i == NODE_MAX_CLIENT_PEERS) {
            cli_usage_error("peer", "--attach: at most 8 peers");
            goto out;
        }
        if (!cli_addr("peer", "attach", attach_s[i], &o->attach[i]))
            goto out;
        o->n_attach = i + 1;
    }
    if (client && (relay_s || announce || discover || server_s || cache_s || o->extras[0])) {
        cli_usage_error("peer", "--client takes no --relay, --announce, --discover, "
                                "--bootstrap-server, --cache or further --overlay");
        goto out;
    }
    if (client && !(keepalive >= 0 && keepalive <= 3600.0)) {
        cli_usage_error("peer", "--keepalive must lie between 0 and 3600 seconds");
        goto out;
    }
    o->client = client;
    o->cfg.client = client;
    o->cfg.client_keepalive = (env_time)(keepalive * (double)ENV_S);
    o->has_id = node_id_s != NULL;
    if (node_id_s && id_from_hex(node_id_s, &o->self) != 0) {
        cli_usage_error("peer", "--node-id needs exactly 32 hex digits");
        goto out;
    }
    if (update_interval < 0 || update_interval > 86400.0) {
        cli_usage_error("peer", "--update-interval must lie between 0 and 86400 seconds");
        goto out;
    }
    if (config_s) {
        o->doc = cli_config("peer", config_s, overlay, &o->cfg);
        if (!o->doc)
            goto out;
        bool self_first;
        struct env_addr bs[NODE_MAX_BOOTSTRAPS];
        unsigned nb = cli_config_bootstraps(o->doc, &o->listen, bs, NODE_MAX_BOOTSTRAPS,
                                            &self_first);
        o->cfg.n_bootstraps = nb;
        memcpy(o->cfg.bootstraps, bs, nb * sizeof bs[0]);
        if (!o->has_bootstrap && nb && !self_first) {
            o->bootstrap = bs[0];
            o->has_bootstrap = true;
        }
    }
    if (update_interval > 0)
        o->cfg.update_interval = (env_time)(update_interval * (double)ENV_S);
    /* A client's peers: --attach, else --bootstrap, else the document's bootstrap nodes. */
    if (client && o->n_attach == 0 && o->has_bootstrap)
        o->attach[o->n_attach++] = o->bootstrap;
    for (unsigned i = 0; client && !attach_s && i < o->cfg.n_bootstraps &&
                         o->n_attach < NODE_MAX_CLIENT_PEERS;
         i++)
        if (!env_addr_eq(&o->cfg.bootstraps[i], &o->bootstrap) || !o->has_bootstrap)
            o->attach[o->n_attach++] = o->cfg.bootstraps[i];
    if (client && o->n_attach == 0) {
        cli_usage_error("peer", "--client needs a peer: --attach ADDR:PORT (or --bootstrap, or "
                                "a --config document with bootstrap nodes)");
        goto out;
    }
    o->overlay = g_intern_string(overlay         ? overlay
                                 : o->doc ? o->doc->instance_name
                                          : CLI_DEFAULT_OVERLAY);
    o->sip_domain = g_intern_string(sip_domain ? sip_domain : o->overlay);
    o->cfg.overlay = id_overlay_hash(o->overlay);
    if (cli_security("peer", key_s, cert_s, ca_s, o->doc, o->overlay, &o->cfg, &o->sec,
                     &o->self, o->has_id) != CLI_EXIT_OK)
        goto out;
    o->has_id = o->has_id || o->sec;
    o->verbose = verbose;
    rc = CLI_EXIT_OK;
out:
    g_option_context_free(ctx);
    g_free(listen_s);
    g_free(bootstrap_s);
    g_free(overlay);
    g_strfreev(overlay_v);
    g_free(dns_s);
    g_free(node_id_s);
    g_free(sip_s);
    g_free(sip_domain);
    g_free(config_s);
    g_strfreev(relay_s);
    g_strfreev(attach_s);
    g_free(cache_s);
    g_free(group_s);
    g_free(server_s);
    g_free(key_s);
    g_free(cert_s);
    g_free(ca_s);
    if (rc != CLI_EXIT_OK) {
        net_security_free(o->sec);
        o->sec = NULL;
        g_strfreev(o->extras);
        o->extras = NULL;
        g_free(o->dns);
        o->dns = NULL;
        g_free(o->cache);
        o->cache = NULL;
        config_free(o->doc);
        o->doc = NULL;
    }
    return rc;
}

/* Appends a to list unless it is there already or is self. */
static void cli_candidate_add(struct net_bootstrap_candidate *list, unsigned *n,
                              const struct env_addr *a, enum net_bootstrap_method m,
                              const struct env_addr *self)
{
    if (*n == NET_BOOTSTRAP_MAX_CANDIDATES || env_addr_eq(a, self))
        return;
    for (unsigned i = 0; i < *n; i++)
        if (env_addr_eq(&list[i].addr, a))
            return;
    list[(*n)++] = (struct net_bootstrap_candidate){.addr = *a, .method = m};
}

/* Starts joining: the bootstrap candidates in order of preference (remembered peers from
 * --cache, configured peers from --bootstrap and the --config document, the bootstrap server),
 * probed together with multicast discovery (net/bootstrap.h) — except that a lone configured
 * peer or server, without discovery, is joined through at once (the core retries the join).
 * Returns NODE_OK or the error of node_join. */
static int cli_peer_start(struct cli_peer *p, const struct cli_peer_opts *o)
{
    struct net_bootstrap_candidate cand[NET_BOOTSTRAP_MAX_CANDIDATES];
    unsigned n = 0, n_fixed = 0;
    struct env_addr self = net_udp_local_addr(p->udp);
    if (o->cache) {
        struct env_addr mem[NET_BOOTSTRAP_CACHE_MAX];
        unsigned nm = net_bootstrap_cache_read(o->cache, mem, NET_BOOTSTRAP_CACHE_MAX);
        net_udp_logf(p->udp, ENV_LOG_INFO, "bootstrap: %u remembered peers in %s", nm, o->cache);
        for (unsigned i = 0; i < nm; i++)
            cli_candidate_add(cand, &n, &mem[i], NET_BOOTSTRAP_REMEMBERED, &self);
    }
    if (o->has_bootstrap)
        cli_candidate_add(cand, &n, &o->bootstrap, NET_BOOTSTRAP_CONFIGURED, &self);
    /* The document's other bootstrap nodes (o->bootstrap is its first when it came from
     * there); none when this peer is the first and so starts the overlay. */
    for (unsigned i = 0; o->has_bootstrap && i < o->cfg.n_bootstraps; i++)
        cli_candidate_add(cand, &n, &o->cfg.bootstraps[i], NET_BOOTSTRAP_CONFIGURED, &self);
    if (o->has_server)
        cli_candidate_add(cand, &n, &o->server, NET_BOOTSTRAP_SERVER, &self);
    for (unsigned i = 0; i < n; i++)
        n_fixed += cand[i].method != NET_BOOTSTRAP_REMEMBERED;
    if (n == 0 && !o->discover)
        return cli_peer_join(p, NULL, NET_BOOTSTRAP_CONFIGURED);
    if (n == 1 && n_fixed == 1 && !o->discover)
        return cli_peer_join(p, &cand[0].addr, cand[0].method);
    struct net_bootstrap_config bc = {
        .candidates = cand,
        .n_candidates = n,
        .discover = o->discover,
        .group = o->group,
        .iface = self.ip,
        .local = {.ip = self.ip, .port = 0},
        .overlay = o->cfg.overlay,
        .config_seq = o->cfg.config_seq,
        .ttl = o->cfg.initial_ttl,
        .self = *node_id(p->node),
        .give_up = n_fixed == 0, /* nothing configured: a lone peer starts the overlay */
        .node_cfg = &o->cfg, /* signed probes when the peer has a credential */
    };
    GError *err = NULL;
    p->search = net_bootstrap_new(p->udp, &bc, cli_peer_bootstrap_found, p, &err);
    if (!p->search) {
        net_udp_logf(p->udp, ENV_LOG_ERROR, "bootstrap: %s", err->message);
        g_error_free(err);
        return NODE_E_STATE;
    }
    net_udp_logf(p->udp, ENV_LOG_INFO, "bootstrap: probing %u candidates%s", n,
                 o->discover ? " and the multicast group" : "");
    return NODE_OK;
}

/* With --sip: the SIP socket, one adapter per overlay behind a router (sip/router.h), and
 * with --dns the locator that sends requests for other domains out (net/dns.h).  Prints
 * "sip addr=A.B.C.D:PORT domain=NAME" (and " overlay=NAME" for the further overlays).
 * Returns 0, or -1 with p->exit_code set. */
static int cli_peer_sip_start(struct cli_peer *p, const struct cli_peer_opts *o)
{
    GError *err = NULL;
    p->sip_sock = net_udp_app_new(p->udp, &o->sip, cli_sip_receive, p, &err);
    if (!p->sip_sock) {
        net_udp_logf(p->udp, ENV_LOG_ERROR, "--sip: %s", err->message);
        g_error_free(err);
        p->exit_code = CLI_EXIT_FAILED;
        return -1;
    }
    if (o->dns) {
        p->dns = net_dns_new(strcmp(o->dns, "system") == 0 ? NULL : o->dns, p->udp, &err);
        if (!p->dns) {
            net_udp_logf(p->udp, ENV_LOG_ERROR, "--dns: %s", err->message);
            g_error_free(err);
            p->exit_code = CLI_EXIT_FAILED;
            return -1;
        }
    }
    struct sip_registrar_config sc;
    sip_registrar_config_default(&sc);
    sc.domain = o->sip_domain;
    sc.addr = net_udp_app_local_addr(p->sip_sock);
    sc.locator = p->dns ? net_dns_locator(p->dns) : NULL;
    p->router = sip_router_new();
    p->sip = sip_registrar_new(net_udp_env(p->udp), p->node, &sc, cli_sip_send, p);
    sip_router_add(p->router, o->sip_domain, p->sip);
    char sa[NET_UDP_ADDR_STRLEN];
    printf("sip addr=%s domain=%s\n", net_udp_format_addr(&sc.addr, sa), o->sip_domain);
    for (guint i = 0; i < p->extras->len; i++) {
        struct net_overlay *ov = p->extras->pdata[i];
        sc.domain = net_overlay_sip_domain(ov);
        sc.instance = i + 1;
        p->extra_sip[i] = sip_registrar_new(net_udp_env(net_overlay_udp(ov)),
                                            net_overlay_node(ov), &sc, cli_sip_send, p);
        sip_router_add(p->router, sc.domain, p->extra_sip[i]);
        printf("sip addr=%s domain=%s overlay=%s\n", sa, sc.domain, net_overlay_name(ov));
    }
    fflush(stdout);
    return 0;
}

/* ---- p2psip peer --client (RFC 6940 §4.2; core/client.c, docs/clients.md) ---- */

/* How often the client checks which peer it is attached to (it reports changes). */
#define CLI_CLIENT_TICK_MS 200

/* Prints "attached peer-id=HEX addr=A.B.C.D:PORT" when the client's peer (or its Node-ID,
 * learnt from its first frame) changed; with --sip the phones' routes are stored again. */
static gboolean cli_client_tick(gpointer ud)
{
    struct cli_peer *p = ud;
    struct node_peer cur;
    if (!node_client_peer(p->node, &cur))
        return G_SOURCE_CONTINUE;
    if (p->have_reported && id_eq(&cur.id, &p->reported.id) &&
        env_addr_eq(&cur.addr, &p->reported.addr))
        return G_SOURCE_CONTINUE;
    bool moved = p->have_reported;
    p->reported = cur;
    p->have_reported = true;
    char a[NET_UDP_ADDR_STRLEN], hex[ID_HEX_LEN + 1];
    id_to_hex(&cur.id, hex);
    printf("attached peer-id=%s addr=%s\n", hex, net_udp_format_addr(&cur.addr, a));
    fflush(stdout);
    if (p->sip)
        sip_registrar_restore(p->sip);
    if (moved)
        net_udp_logf(p->udp, ENV_LOG_INFO, "client: failed over to %s (%" PRIu64 " failovers)", a,
                     node_get_stats(p->node)->client_failovers);
    return G_SOURCE_CONTINUE;
}

/* One stdin command's answer: the command's words, kept until the operation completes. */
struct cli_client_cmd {
    struct cli_peer *p;
    char *name;
};

static void cli_client_stored(void *ud, int status)
{
    struct cli_client_cmd *c = ud;
    if (status == NODE_OK)
        printf("stored %s\n", c->name);
    else
        printf("store %s failed: %s\n", c->name, cli_strerror(status));
    fflush(stdout);
    g_free(c->name);
    g_free(c);
}

static void cli_client_fetched(void *ud, int status, const struct wire_fetch_ans *ans)
{
    struct cli_client_cmd *c = ud;
    const struct wire_stored_data *d = NULL;
    for (uint32_t k = 0; status == NODE_OK && ans && k < ans->n_kinds && !d; k++)
        for (uint32_t v = 0; v < ans->kinds[k].n_values && !d; v++)
            if (ans->kinds[k].values[v].exists)
                d = &ans->kinds[k].values[v];
    if (d)
        printf("fetched %s %.*s\n", c->name, (int)d->value.len, (const char *)d->value.p);
    else if (status == NODE_OK || status == NODE_E_NOT_FOUND)
        printf("fetch %s not found\n", c->name);
    else
        printf("fetch %s failed: %s\n", c->name, cli_strerror(status));
    fflush(stdout);
    g_free(c->name);
    g_free(c);
}

/* Runs one command line: "store NAME VALUE", "fetch NAME" or "peer". */
static void cli_client_command(struct cli_peer *p, char *line)
{
    char **w = g_strsplit_set(g_strstrip(line), " \t", 3);
    unsigned n = g_strv_length(w);
    int rc = NODE_OK;
    if (n == 0 || !w[0][0]) {
        g_strfreev(w);
        return;
    }
    struct id res = n > 1 ? id_hash(w[1], strlen(w[1])) : (struct id){0, 0};
    if (strcmp(w[0], "store") == 0 && n == 3) {
        struct cli_client_cmd *c = g_new0(struct cli_client_cmd, 1);
        c->p = p;
        c->name = g_strdup(w[1]);
        struct node_value v = {.value = (const uint8_t *)w[2],
                               .value_len = (uint32_t)strlen(w[2]),
                               .exists = true,
                               .lifetime = CLI_DEFAULT_LIFETIME_S};
        rc = node_store(p->node, &res, NODE_KIND_VALUE, &v, 0, cli_client_stored, c);
        if (rc != NODE_OK) {
            g_free(c->name);
            g_free(c);
        }
    } else if (strcmp(w[0], "fetch") == 0 && n == 2) {
        struct cli_client_cmd *c = g_new0(struct cli_client_cmd, 1);
        c->p = p;
        c->name = g_strdup(w[1]);
        rc = node_fetch(p->node, &res, NODE_KIND_VALUE, 0, cli_client_fetched, c);
        if (rc != NODE_OK) {
            g_free(c->name);
            g_free(c);
        }
    } else if (strcmp(w[0], "peer") == 0 && n == 1) {
        p->have_reported = false; /* reported again at the next tick */
    } else {
        printf("error: unknown command (store NAME VALUE | fetch NAME | peer)\n");
    }
    if (rc != NODE_OK)
        printf("%s %s failed: %s\n", w[0], w[1], cli_strerror(rc));
    fflush(stdout);
    g_strfreev(w);
}

static gboolean cli_client_stdin(GIOChannel *ch, GIOCondition cond, gpointer ud)
{
    struct cli_peer *p = ud;
    char *line = NULL;
    GIOStatus st = g_io_channel_read_line(ch, &line, NULL, NULL, NULL);
    if (st == G_IO_STATUS_NORMAL && line)
        cli_client_command(p, line);
    g_free(line);
    if (st == G_IO_STATUS_EOF || st == G_IO_STATUS_ERROR || (cond & (G_IO_HUP | G_IO_ERR))) {
        p->stdin_watch = 0; /* stdin closed: the client keeps running */
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

/* Attaches the client to its peers and starts its reports and stdin commands. */
static int cli_client_start(struct cli_peer *p, const struct cli_peer_opts *o)
{
    int r = node_client_connect_list(p->node, o->attach, o->n_attach);
    if (r != NODE_OK) {
        net_udp_logf(p->udp, ENV_LOG_ERROR, "cannot attach: %s", cli_strerror(r));
        return r;
    }
    char a[NET_UDP_ADDR_STRLEN];
    for (unsigned i = 0; i < o->n_attach; i++)
        net_udp_logf(p->udp, ENV_LOG_INFO, "client: peer %u of %u: %s", i + 1, o->n_attach,
                     net_udp_format_addr(&o->attach[i], a));
    p->client = true;
    p->client_tick = g_timeout_add(CLI_CLIENT_TICK_MS, cli_client_tick, p);
    p->stdin_ch = g_io_channel_unix_new(0);
    p->stdin_watch = g_io_add_watch(p->stdin_ch, G_IO_IN | G_IO_HUP | G_IO_ERR, cli_client_stdin, p);
    return NODE_OK;
}

/* SIGUSR1: the routing table (Node-ID and address of each entry) and, for a client, its peer,
 * on stderr — how tests see who a peer routes through (docs/clients.md). */
static gboolean cli_peer_dump(gpointer ud)
{
    struct cli_peer *p = ud;
    struct node_peer t[256];
    size_t n = node_routing_table(p->node, t, G_N_ELEMENTS(t));
    char a[NET_UDP_ADDR_STRLEN], hex[ID_HEX_LEN + 1];
    net_udp_logf(p->udp, ENV_LOG_INFO, "table: %zu entries", n);
    for (size_t i = 0; i < n; i++) {
        id_to_hex(&t[i].id, hex);
        net_udp_logf(p->udp, ENV_LOG_INFO, "table: node-id=%s addr=%s", hex,
                     net_udp_format_addr(&t[i].addr, a));
    }
    struct node_peer cur;
    if (p->client) {
        bool known = node_client_peer(p->node, &cur);
        id_to_hex(&cur.id, hex);
        net_udp_logf(p->udp, ENV_LOG_INFO, "client: attached to %s node-id=%s, %" PRIu64
                     " failovers", net_udp_format_addr(&cur.addr, a), known ? hex : "(unknown)",
                     node_get_stats(p->node)->client_failovers);
    }
    return G_SOURCE_CONTINUE;
}

int net_cli_peer(int argc, char **argv)
{
    struct cli_peer_opts o = {0};
    int rc = cli_peer_parse(argc, argv, &o);
    if (rc != CLI_EXIT_OK)
        return rc;

    GError *err = NULL;
    struct cli_peer p = {.exit_code = CLI_EXIT_OK};
    p.udp = net_udp_new(&o.listen, NULL, &err);
    if (!p.udp) {
        fprintf(stderr, "p2psip peer: %s\n", err->message);
        g_error_free(err);
        config_free(o.doc);
        return CLI_EXIT_FAILED;
    }
    const struct env *env = net_udp_env(p.udp);
    struct env_addr local = net_udp_local_addr(p.udp);
    char tag[NET_UDP_ADDR_STRLEN + 8], a[NET_UDP_ADDR_STRLEN], hex[ID_HEX_LEN + 1];
    g_snprintf(tag, sizeof tag, "peer %s", net_udp_format_addr(&local, a));
    net_udp_set_tag(p.udp, tag);
    net_udp_set_log_level(p.udp, o.verbose ? ENV_LOG_DEBUG : ENV_LOG_INFO);
    if (!o.has_id)
        o.self = cli_random_id(env);

    p.loop = g_main_loop_new(NULL, FALSE);
    p.node = node_new(env, &o.cfg, &o.self, &local);
    net_udp_attach(p.udp, p.node);
    net_udp_set_event_hook(p.udp, cli_peer_event, &p);
    guint sig_int = g_unix_signal_add(SIGINT, cli_peer_signal, &p);
    guint sig_term = g_unix_signal_add(SIGTERM, cli_peer_signal, &p);
    guint sig_usr1 = g_unix_signal_add(SIGUSR1, cli_peer_dump, &p);

    id_to_hex(&o.self, hex);
    printf("listening node-id=%s addr=%s overlay=%s\n", hex, a, o.overlay);
    fflush(stdout);
    if (o.sec) {
        net_security_set_env(o.sec, env); /* logs the ConfigUpdate checks */
        char *d = net_security_describe(o.sec);
        net_udp_logf(p.udp, ENV_LOG_INFO, "security: %s", d);
        g_free(d);
    }
    if (o.doc)
        net_udp_logf(p.udp, ENV_LOG_INFO,
                     "configuration %s: overlay %s, sequence %u, topology %s, %u kinds, %u "
                     "bootstrap nodes",
                     o.doc->file, o.doc->instance_name, o.doc->sequence, o.doc->topology_name,
                     o.doc->n_kinds, o.doc->bootstraps->len);
    p.extras = g_ptr_array_new_with_free_func((GDestroyNotify)net_overlay_free);
    for (unsigned i = 0; o.extras[i]; i++) {
        struct net_overlay *ov = net_overlay_new(o.extras[i], o.verbose, &err);
        if (!ov) {
            net_udp_logf(p.udp, ENV_LOG_ERROR, "%s", err->message);
            p.exit_code = err->code == NET_OVERLAY_E_USAGE ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
            g_error_free(err);
            goto done;
        }
        g_ptr_array_add(p.extras, ov);
    }
    p.extra_sip = g_new0(struct sip_registrar *, p.extras->len + 1);
    if (o.has_sip && cli_peer_sip_start(&p, &o) != 0)
        goto done;
    if (o.announce) {
        p.announcer = net_bootstrap_announce_new(p.udp, p.node, &o.group, local.ip, &err);
        if (!p.announcer) {
            net_udp_logf(p.udp, ENV_LOG_ERROR, "--announce: %s", err->message);
            g_error_free(err);
            p.exit_code = CLI_EXIT_FAILED;
            goto done;
        }
    }
    p.cache = o.cache;
    if (p.cache)
        p.cache_source = g_timeout_add_seconds(CLI_CACHE_WRITE_S, cli_peer_cache_tick, &p);
    int started;
    if (o.client) {
        started = cli_client_start(&p, &o);
    } else {
        p.join_nag = g_timeout_add_seconds(CLI_JOIN_NAG_S, cli_peer_join_nag, &p);
        started = cli_peer_start(&p, &o);
    }
    for (guint i = 0; started == NODE_OK && i < p.extras->len; i++)
        started = net_overlay_start(p.extras->pdata[i]);
    if (started == NODE_OK)
        g_main_loop_run(p.loop);
    else
        p.exit_code = CLI_EXIT_FAILED;
done:
    if (p.cache_source)
        g_source_remove(p.cache_source);
    net_bootstrap_free(p.search);
    net_bootstrap_announce_free(p.announcer);
    if (p.join_nag)
        g_source_remove(p.join_nag);
    if (p.quit_source)
        g_source_remove(p.quit_source);
    cli_peer_log_stats(&p);
    cli_peer_log_ice(&p);
    g_source_remove(sig_int);
    g_source_remove(sig_term);
    g_source_remove(sig_usr1);
    if (p.client_tick)
        g_source_remove(p.client_tick);
    if (p.stdin_watch)
        g_source_remove(p.stdin_watch);
    if (p.stdin_ch)
        g_io_channel_unref(p.stdin_ch);
    net_udp_attach(p.udp, NULL);
    sip_router_free(p.router);
    p.router = NULL;
    sip_registrar_free(p.sip);
    p.sip = NULL;
    for (guint i = 0; p.extras && i < p.extras->len; i++)
        sip_registrar_free(p.extra_sip[i]);
    g_free(p.extra_sip);
    net_dns_free(p.dns);
    net_udp_app_free(p.sip_sock);
    if (p.extras)
        g_ptr_array_free(p.extras, TRUE);
    node_free(p.node);
    g_strfreev(o.extras);
    g_free(o.dns);
    config_free(o.doc);
    net_security_free(o.sec);
    g_free(o.cache);
    net_udp_free(p.udp);
    g_main_loop_unref(p.loop);
    return p.exit_code;
}

/* ---- the client commands: p2psip store / p2psip fetch ------------------------------------ */

/* Options shared by store and fetch. */
struct cli_client_opts {
    char *peer, *listen, *overlay, *config;
    char *key, *cert, *ca; /* --key/--cert/--ca (net/security.h) */
    double timeout;
    gboolean verbose;
};

struct cli_client {
    const char *cmd;
    const char *name;
    GMainLoop *loop;
    struct net_udp *udp;
    struct node *node;
    struct node_config cfg; /* the node's configuration: node_new borrows it */
    struct config *doc; /* --config */
    struct net_security *sec; /* --key/--cert: cfg borrows it */
    guint timeout_source;
    int exit_code;
};

static void cli_client_finish(struct cli_client *c, int exit_code)
{
    c->exit_code = exit_code;
    g_main_loop_quit(c->loop);
}

static gboolean cli_client_timeout(gpointer ud)
{
    struct cli_client *c = ud;
    c->timeout_source = 0;
    fprintf(stderr, "p2psip %s: %s: no answer in time (is the peer running?)\n", c->cmd, c->name);
    cli_client_finish(c, CLI_EXIT_FAILED);
    return G_SOURCE_REMOVE;
}

static void cli_client_opts_clear(struct cli_client_opts *o)
{
    g_free(o->peer);
    g_free(o->listen);
    g_free(o->overlay);
    g_free(o->config);
    g_free(o->key);
    g_free(o->cert);
    g_free(o->ca);
}

/* Appends the shared options to ctx; they write into o. */
static void cli_client_add_options(GOptionContext *ctx, struct cli_client_opts *o)
{
    GOptionEntry entries[] = {
        {"peer", 'p', 0, G_OPTION_ARG_STRING, &o->peer,
         "Send the request through the RELOAD peer at this address [required without --config]",
         "ADDR:PORT"},
        {"timeout", 't', 0, G_OPTION_ARG_DOUBLE, &o->timeout,
         "Give up after this long without an answer (default 10)", "SECONDS"},
        {"overlay", 'o', 0, G_OPTION_ARG_STRING, &o->overlay,
         "Overlay name (default " CLI_DEFAULT_OVERLAY ", or the --config document's)", "NAME"},
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &o->config,
         "Overlay configuration document (RFC 6940 sec. 11.1): overlay name, sequence, kinds; "
         "without --peer, its first IPv4 bootstrap node is the peer",
         "FILE"},
        {"listen", 'l', 0, G_OPTION_ARG_STRING, &o->listen,
         "Local address of the client's socket (default: 127.0.0.1:0 for a loopback peer, "
         "else 0.0.0.0:0)",
         "ADDR:PORT"},
        {"key", 0, 0, G_OPTION_ARG_FILENAME, &o->key,
         "The client's private key (PEM): with --cert its messages are signed and the answers "
         "verified (docs/security.md)",
         "FILE"},
        {"cert", 0, 0, G_OPTION_ARG_FILENAME, &o->cert,
         "The client's certificate (PEM); the client runs as its first Node-ID", "FILE"},
        {"ca", 0, 0, G_OPTION_ARG_FILENAME, &o->ca,
         "The overlay CA's certificate (PEM) (default: the --config document's <root-cert>, "
         "else self-signed mode)",
         "FILE"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose, "Log debugging detail to stderr", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_option_context_add_main_entries(ctx, entries, NULL);
}

/* Checks the shared options, opens the socket, creates the client node and points it at the
 * peer.  Returns 0, or an exit code after printing why. */
static int cli_client_open(struct cli_client *c, const struct cli_client_opts *o)
{
    struct env_addr peer, local = {.ip = 0, .port = 0};
    struct node_config *cfg = &c->cfg;
    node_config_default(cfg);
    if (o->config && !(c->doc = cli_config(c->cmd, o->config, o->overlay, cfg)))
        return CLI_EXIT_USAGE;
    if (o->peer) {
        if (!cli_addr(c->cmd, "peer", o->peer, &peer))
            return CLI_EXIT_USAGE;
    } else {
        bool self_first;
        struct env_addr none = {0, 0};
        if (!c->doc || !cli_config_bootstraps(c->doc, &none, &peer, 1, &self_first))
            return cli_usage_error(c->cmd, c->doc ? "--peer ADDR:PORT is required (the "
                                                    "--config document lists no IPv4 bootstrap node)"
                                                  : "--peer ADDR:PORT is required");
    }
    if (o->listen && !cli_addr(c->cmd, "listen", o->listen, &local))
        return CLI_EXIT_USAGE;
    if (!o->listen && peer.ip >> 24 == 127)
        local.ip = 0x7f000001u;
    if (!(o->timeout > 0 && o->timeout <= 86400.0))
        return cli_usage_error(c->cmd, "--timeout must lie between 0 and 86400 seconds");
    struct id self;
    const char *overlay = o->overlay ? o->overlay
                          : c->doc   ? c->doc->instance_name
                                     : CLI_DEFAULT_OVERLAY;
    int src = cli_security(c->cmd, o->key, o->cert, o->ca, c->doc, overlay, cfg, &c->sec, &self,
                           false);
    if (src != CLI_EXIT_OK)
        return src;

    GError *err = NULL;
    c->udp = net_udp_new(&local, c->cmd, &err);
    if (!c->udp) {
        fprintf(stderr, "p2psip %s: %s\n", c->cmd, err->message);
        g_error_free(err);
        return CLI_EXIT_FAILED;
    }
    net_udp_set_log_level(c->udp, o->verbose ? ENV_LOG_DEBUG : ENV_LOG_WARN);
    const struct env *env = net_udp_env(c->udp);
    cfg->client = true;
    cfg->overlay = id_overlay_hash(overlay);
    if (!c->sec)
        self = cli_random_id(env);
    struct env_addr bound = net_udp_local_addr(c->udp);
    c->loop = g_main_loop_new(NULL, FALSE);
    c->node = node_new(env, cfg, &self, &bound);
    net_udp_attach(c->udp, c->node);
    int r = node_client_connect(c->node, &peer);
    if (r != NODE_OK) {
        char a[NET_UDP_ADDR_STRLEN];
        fprintf(stderr, "p2psip %s: cannot use peer %s: %s\n", c->cmd,
                net_udp_format_addr(&peer, a), cli_strerror(r));
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}

/* Runs the loop until a callback finishes or the timeout expires; returns the exit code. */
static int cli_client_run(struct cli_client *c, double timeout)
{
    c->exit_code = -1;
    c->timeout_source = g_timeout_add((guint)(timeout * 1000.0 + 0.5), cli_client_timeout, c);
    g_main_loop_run(c->loop);
    if (c->timeout_source)
        g_source_remove(c->timeout_source);
    c->timeout_source = 0;
    return c->exit_code;
}

static void cli_client_close(struct cli_client *c)
{
    if (c->udp)
        net_udp_attach(c->udp, NULL);
    if (c->node)
        node_free(c->node);
    config_free(c->doc);
    net_security_free(c->sec);
    net_udp_free(c->udp);
    if (c->loop)
        g_main_loop_unref(c->loop);
}

/* ---- p2psip store ---- */

static void cli_store_done(void *ud, int status)
{
    struct cli_client *c = ud;
    if (status != NODE_OK) {
        fprintf(stderr, "p2psip store: %s: %s\n", c->name, cli_strerror(status));
        cli_client_finish(c, CLI_EXIT_FAILED);
        return;
    }
    cli_client_finish(c, CLI_EXIT_OK);
}

static const char store_summary[] =
    "Stores VALUE under NAME in the overlay: a RELOAD client (RFC 6940 sec. 4.2) on an\n"
    "ephemeral UDP port sends a Store of the single-value kind 0xf0000001 at Resource-ID\n"
    "SHA-1(NAME) (sec. 7.4.1, 10.2) through the peer given with --peer.\n"
    "Exit codes: 0 stored, 1 failed (the reason goes to stderr), 2 usage error.";

int net_cli_store(int argc, char **argv)
{
    struct cli_client_opts o = {.timeout = CLI_DEFAULT_TIMEOUT_S};
    int lifetime = CLI_DEFAULT_LIFETIME_S;
    GOptionEntry entries[] = {
        {"lifetime", 'L', 0, G_OPTION_ARG_INT, &lifetime,
         "Seconds the overlay keeps the value (default 3600)", "SECONDS"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new("NAME VALUE - store a value in the overlay");
    g_option_context_set_summary(ctx, store_summary);
    cli_client_add_options(ctx, &o);
    g_option_context_add_main_entries(ctx, entries, NULL);
    struct cli_client c = {.cmd = "store"};
    int rc = CLI_EXIT_USAGE;
    if (!cli_parse(ctx, c.cmd, &argc, &argv))
        goto out;
    if (argc != 3) {
        cli_usage_error(c.cmd, "expected exactly two arguments, NAME and VALUE");
        goto out;
    }
    if (lifetime <= 0) {
        cli_usage_error(c.cmd, "--lifetime must be a positive number of seconds");
        goto out;
    }
    c.name = argv[1];
    const char *value = argv[2];
    rc = cli_client_open(&c, &o);
    if (rc != CLI_EXIT_OK)
        goto out;
    struct id res = id_hash(c.name, strlen(c.name));
    struct node_value v = {
        .value = (const uint8_t *)value,
        .value_len = (uint32_t)strlen(value),
        .exists = true,
        .lifetime = (uint32_t)lifetime,
    };
    int r = node_store(c.node, &res, NODE_KIND_VALUE, &v, 0, cli_store_done, &c);
    if (r != NODE_OK) {
        fprintf(stderr, "p2psip store: %s: %s\n", c.name, cli_strerror(r));
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    rc = cli_client_run(&c, o.timeout);
out:
    cli_client_close(&c);
    cli_client_opts_clear(&o);
    g_option_context_free(ctx);
    return rc;
}

/* ---- p2psip fetch ---- */

/* The stored value of kind NODE_KIND_VALUE in a FetchAns, or NULL when none exists. */
static const struct wire_stored_data *cli_fetch_value(const struct wire_fetch_ans *ans)
{
    for (uint32_t k = 0; ans && k < ans->n_kinds; k++) {
        const struct wire_fetch_kind *fk = &ans->kinds[k];
        if (fk->kind != NODE_KIND_VALUE)
            continue;
        for (uint32_t i = 0; i < fk->n_values; i++)
            if (fk->values[i].exists)
                return &fk->values[i];
    }
    return NULL;
}

static void cli_fetch_done(void *ud, int status, const struct wire_fetch_ans *ans)
{
    struct cli_client *c = ud;
    const struct wire_stored_data *sd = status == NODE_OK ? cli_fetch_value(ans) : NULL;
    if (sd) {
        fwrite(sd->value.p, 1, sd->value.len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        cli_client_finish(c, CLI_EXIT_OK);
        return;
    }
    if (status == NODE_OK || status == NODE_E_NOT_FOUND)
        fprintf(stderr, "p2psip fetch: %s: not found\n", c->name);
    else
        fprintf(stderr, "p2psip fetch: %s: %s\n", c->name, cli_strerror(status));
    cli_client_finish(c, CLI_EXIT_FAILED);
}

static const char fetch_summary[] =
    "Prints the value stored under NAME: a RELOAD client (RFC 6940 sec. 4.2) on an ephemeral\n"
    "UDP port sends a Fetch of the single-value kind 0xf0000001 at Resource-ID SHA-1(NAME)\n"
    "(sec. 7.4.2, 10.2) through the peer given with --peer, and prints the value as text\n"
    "followed by a newline.\n"
    "Exit codes: 0 found, 1 not found or failed (the reason goes to stderr), 2 usage error.";

int net_cli_fetch(int argc, char **argv)
{
    struct cli_client_opts o = {.timeout = CLI_DEFAULT_TIMEOUT_S};
    GOptionContext *ctx = g_option_context_new("NAME - print the value stored under NAME");
    g_option_context_set_summary(ctx, fetch_summary);
    cli_client_add_options(ctx, &o);
    struct cli_client c = {.cmd = "fetch"};
    int rc = CLI_EXIT_USAGE;
    if (!cli_parse(ctx, c.cmd, &argc, &argv))
        goto out;
    if (argc != 2) {
        cli_usage_error(c.cmd, "expected exactly one argument, NAME");
        goto out;
    }
    c.name = argv[1];
    rc = cli_client_open(&c, &o);
    if (rc != CLI_EXIT_OK)
        goto out;
    struct id res = id_hash(c.name, strlen(c.name));
    int r = node_fetch(c.node, &res, NODE_KIND_VALUE, 0, cli_fetch_done, &c);
    if (r != NODE_OK) {
        fprintf(stderr, "p2psip fetch: %s: %s\n", c.name, cli_strerror(r));
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    rc = cli_client_run(&c, o.timeout);
out:
    cli_client_close(&c);
    cli_client_opts_clear(&o);
    g_option_context_free(ctx);
    return rc;
}
