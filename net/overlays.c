/* overlays.c — the further overlays of one peer process (overlays.h; seed draft §6.5): each a
 * RELOAD node (RFC 6940) on a UDP socket of its own, described by a `--overlay NAME,key=value`
 * specification and optionally an overlay configuration document (§11.1).
 */
#include "overlays.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../config/config.h"
#include "../core/id.h"
#include "security.h"

struct net_overlay {
    char *name, *sip_domain;
    struct env_addr listen, bootstrap;
    bool has_bootstrap, joined;
    struct node_config cfg;
    struct config *doc; /* outlives the node: cfg borrows its kinds */
    struct net_security *sec; /* key=/cert=/ca=: outlives the node (cfg borrows it) */
    struct net_udp *udp;
    struct node *node;
};

GQuark net_overlay_error_quark(void)
{
    return g_quark_from_static_string("net-overlay-error-quark");
}

static void overlay_event(void *ud, const struct env_event *ev, const struct env_addr *from)
{
    struct net_overlay *o = ud;
    char a[NET_UDP_ADDR_STRLEN], hex[ID_HEX_LEN + 1];
    if (ev->type == ENV_EV_JOIN_DONE && ev->status == NODE_OK && !o->joined) {
        o->joined = true;
        struct env_addr self = net_udp_local_addr(o->udp);
        id_to_hex(node_id(o->node), hex);
        printf("joined node-id=%s addr=%s overlay=%s\n", hex, net_udp_format_addr(&self, a),
               o->name);
        fflush(stdout);
    } else if (ev->type == ENV_EV_MSG_DROPPED && from) {
        net_udp_logf(o->udp, ENV_LOG_WARN, "dropped malformed datagram from %s (%u bytes)",
                     net_udp_format_addr(from, a), ev->bytes);
    }
}

static bool usage(GError **err, const char *spec, const char *msg)
{
    g_set_error(err, NET_OVERLAY_ERROR, NET_OVERLAY_E_USAGE, "--overlay '%s': %s", spec, msg);
    return false;
}

/* Fills o from spec; false with err set. */
/* The files of key=, cert= and ca= (owned). */
struct overlay_cred_paths {
    char *key, *cert, *ca;
};

static void cred_paths_clear(struct overlay_cred_paths *c)
{
    g_free(c->key);
    g_free(c->cert);
    g_free(c->ca);
}

static bool parse(struct net_overlay *o, const char *spec, struct id *self, bool *has_id,
                  char **config_path, struct overlay_cred_paths *cred, GError **err)
{
    char **parts = g_strsplit(spec, ",", -1);
    bool ok = false, has_listen = false;
    GError *e = NULL;
    if (!parts[0] || !parts[0][0]) {
        usage(err, spec, "the overlay name comes first (NAME,listen=ADDR:PORT,...)");
        goto out;
    }
    o->name = g_strdup(parts[0]);
    for (unsigned i = 1; parts[i]; i++) {
        char *eq = strchr(parts[i], '=');
        if (!eq) {
            usage(err, spec, "expected key=value after the name");
            goto out;
        }
        *eq = 0;
        const char *k = parts[i], *v = eq + 1;
        if (strcmp(k, "listen") == 0 || strcmp(k, "bootstrap") == 0) {
            struct env_addr *a = k[0] == 'l' ? &o->listen : &o->bootstrap;
            if (net_udp_parse_addr(v, a, &e) != 0) {
                char *m = g_strdup_printf("%s=: %s", k, e->message);
                usage(err, spec, m);
                g_free(m);
                g_clear_error(&e);
                goto out;
            }
            if (k[0] == 'l')
                has_listen = true;
            else
                o->has_bootstrap = true;
        } else if (strcmp(k, "config") == 0) {
            g_free(*config_path);
            *config_path = g_strdup(v);
        } else if (strcmp(k, "node-id") == 0) {
            if (id_from_hex(v, self) != 0) {
                usage(err, spec, "node-id= needs exactly 32 hex digits");
                goto out;
            }
            *has_id = true;
        } else if (strcmp(k, "sip-domain") == 0) {
            g_free(o->sip_domain);
            o->sip_domain = g_strdup(v);
        } else if (strcmp(k, "key") == 0 || strcmp(k, "cert") == 0 || strcmp(k, "ca") == 0) {
            char **slot = k[0] == 'k' ? &cred->key : k[1] == 'e' ? &cred->cert : &cred->ca;
            g_free(*slot);
            *slot = g_strdup(v);
        } else {
            char *m = g_strdup_printf("unknown key '%s' (listen, bootstrap, config, node-id, "
                                      "sip-domain, key, cert, ca)",
                                      k);
            usage(err, spec, m);
            g_free(m);
            goto out;
        }
    }
    if (!has_listen || o->listen.ip == 0) {
        usage(err, spec, "listen=ADDR:PORT is required (an address other than 0.0.0.0)");
        goto out;
    }
    ok = true;
out:
    g_strfreev(parts);
    return ok;
}

struct net_overlay *net_overlay_new(const char *spec, bool verbose, GError **err)
{
    struct net_overlay *o = g_new0(struct net_overlay, 1);
    struct id self;
    bool has_id = false;
    char *config_path = NULL;
    struct overlay_cred_paths cred = {0};
    node_config_default(&o->cfg);
    if (!parse(o, spec, &self, &has_id, &config_path, &cred, err))
        goto fail;
    if (config_path) {
        GError *e = NULL;
        o->doc = config_load(config_path, o->name, &e);
        if (!o->doc) {
            usage(err, spec, e->message);
            g_error_free(e);
            goto fail;
        }
        config_apply(o->doc, &o->cfg);
        /* The document's IPv4 bootstrap nodes other than this one; its first, unless that is
         * this peer (which then starts the overlay), is the join address. */
        unsigned n = 0;
        bool first = true, self_first = false;
        for (guint i = 0; i < o->doc->bootstraps->len; i++) {
            const struct config_bootstrap *b =
                &g_array_index(o->doc->bootstraps, struct config_bootstrap, i);
            if (!b->is_v4)
                continue;
            bool is_self = env_addr_eq(&b->addr, &o->listen);
            self_first |= first && is_self;
            first = false;
            if (!is_self && n < NODE_MAX_BOOTSTRAPS)
                o->cfg.bootstraps[n++] = b->addr;
        }
        o->cfg.n_bootstraps = n;
        if (!o->has_bootstrap && n && !self_first) {
            o->bootstrap = o->cfg.bootstraps[0];
            o->has_bootstrap = true;
        }
    }
    o->cfg.overlay = id_overlay_hash(o->name);
    /* key=/cert=/ca= as the first overlay's --key/--cert/--ca (net/security.h): no
     * inheritance, as a certificate names one overlay (§11.3). */
    GError *se = NULL;
    o->sec = net_security_new(cred.key, cred.cert, cred.ca, o->doc, o->name, &se);
    if (se) {
        usage(err, spec, se->message);
        g_error_free(se);
        goto fail;
    }
    if (o->sec) {
        if (!net_security_node_id(o->sec, has_id ? &self : NULL, &self)) {
            usage(err, spec, "node-id= is not a Node-ID of the cert= certificate");
            goto fail;
        }
        has_id = true;
        net_security_apply(o->sec, &o->cfg);
    }
    if (!o->sip_domain)
        o->sip_domain = g_strdup(o->name);
    o->udp = net_udp_new(&o->listen, NULL, err);
    if (!o->udp) {
        if (err && *err) {
            (*err)->domain = NET_OVERLAY_ERROR;
            (*err)->code = NET_OVERLAY_E_SOCKET;
        }
        goto fail;
    }
    char tag[NET_UDP_ADDR_STRLEN + 80], a[NET_UDP_ADDR_STRLEN], hex[ID_HEX_LEN + 1];
    g_snprintf(tag, sizeof tag, "peer %s %s", net_udp_format_addr(&o->listen, a), o->name);
    net_udp_set_tag(o->udp, tag);
    net_udp_set_log_level(o->udp, verbose ? ENV_LOG_DEBUG : ENV_LOG_INFO);
    const struct env *env = net_udp_env(o->udp);
    if (!has_id)
        self = (struct id){.hi = env_random(env), .lo = env_random(env)};
    o->node = node_new(env, &o->cfg, &self, &o->listen);
    net_udp_attach(o->udp, o->node);
    net_udp_set_event_hook(o->udp, overlay_event, o);
    id_to_hex(&self, hex);
    printf("listening node-id=%s addr=%s overlay=%s\n", hex, a, o->name);
    fflush(stdout);
    if (o->sec) {
        net_security_set_env(o->sec, env);
        char *d = net_security_describe(o->sec);
        net_udp_logf(o->udp, ENV_LOG_INFO, "security: %s", d);
        g_free(d);
    }
    g_free(config_path);
    cred_paths_clear(&cred);
    return o;
fail:
    g_free(config_path);
    cred_paths_clear(&cred);
    net_overlay_free(o);
    return NULL;
}

bool net_overlay_spec_check(const char *spec, GError **err)
{
    struct net_overlay o = {0};
    struct id self;
    bool has_id = false;
    char *config_path = NULL;
    struct overlay_cred_paths cred = {0};
    bool ok = parse(&o, spec, &self, &has_id, &config_path, &cred, err);
    g_free(config_path);
    cred_paths_clear(&cred);
    g_free(o.name);
    g_free(o.sip_domain);
    return ok;
}

int net_overlay_start(struct net_overlay *o)
{
    char a[NET_UDP_ADDR_STRLEN];
    if (o->has_bootstrap) {
        printf("bootstrap method=configured addr=%s overlay=%s\n",
               net_udp_format_addr(&o->bootstrap, a), o->name);
        fflush(stdout);
    }
    return node_join(o->node, o->has_bootstrap ? &o->bootstrap : NULL);
}

void net_overlay_leave(struct net_overlay *o)
{
    node_leave(o->node);
}

void net_overlay_log_stats(struct net_overlay *o)
{
    const struct node_stats *s = node_get_stats(o->node);
    net_udp_logf(o->udp, ENV_LOG_INFO,
                 "stats: overlay %s: sent %" PRIu64 " msgs, received %" PRIu64
                 " msgs, forwarded %" PRIu64 ", dropped malformed %" PRIu64
                 ", other overlay %" PRIu64 ", records held %zu",
                 o->name, s->msgs_sent, s->msgs_received, s->forwarded, s->dropped_malformed,
                 s->dropped_overlay, node_stored_records(o->node));
}

void net_overlay_free(struct net_overlay *o)
{
    if (!o)
        return;
    if (o->udp)
        net_udp_attach(o->udp, NULL);
    node_free(o->node);
    net_udp_free(o->udp);
    net_security_free(o->sec);
    config_free(o->doc);
    g_free(o->name);
    g_free(o->sip_domain);
    g_free(o);
}

struct node *net_overlay_node(struct net_overlay *o)
{
    return o->node;
}

struct net_udp *net_overlay_udp(struct net_overlay *o)
{
    return o->udp;
}

const char *net_overlay_name(const struct net_overlay *o)
{
    return o->name;
}

const char *net_overlay_sip_domain(const struct net_overlay *o)
{
    return o->sip_domain;
}

bool net_overlay_joined(const struct net_overlay *o)
{
    return o->joined;
}
