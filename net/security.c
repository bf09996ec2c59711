/* security.c — credentials for the real backend's commands: --key/--cert/--ca and the
 * configuration document's <root-cert> / <self-signed-permitted> (RFC 6940 §11.1, §11.3,
 * §11.3.1, §13.3) made into a sec/provider.h provider, and the signatures of configuration
 * documents (§11.1, sec/confsig.h) checked at start and on ConfigUpdate (§6.5.4).  See
 * security.h.
 */
#include "security.h"

#include <string.h>

#include "../sec/confsig.h"
#include "../sec/cred.h"
#include "../sec/provider.h"

struct net_security {
    struct cred *own;
    struct cred *ca; /* NULL: self-signed mode */
    const char *anchor; /* where the trust anchor came from, for logs */
    struct sec_provider *provider;
    /* When the peer follows a document: how it was accepted (for logs), and the guard that
     * checks the documents of ConfigUpdates against the configuration in force. */
    char *config_note;
    struct confsig_guard *guard;
};

#define SEC_ERROR g_quark_from_static_string("p2psip-net-security")

void net_security_free(struct net_security *s)
{
    if (!s)
        return;
    sec_provider_free(s->provider);
    cred_free(s->own);
    cred_free(s->ca);
    confsig_guard_free(s->guard);
    g_free(s->config_note);
    g_free(s);
}

/* The rule at start (docs/config.md, "Signed configurations"): with a CA as trust anchor the
 * configuration the peer follows must be signed by a certificate of that CA whose Node-ID its
 * own <configuration-signer> lists; in self-signed mode only when it lists a signer (an
 * unsigned document without signers is accepted: no authority could have signed it). */
static bool security_check_config(struct net_security *s, const struct config *doc,
                                  GError **error)
{
    struct confsig_signer who;
    GError *e = NULL;
    if (!s->ca && !doc->signature && doc->configuration_signers->len == 0) {
        s->config_note = g_strdup_printf("configuration %s unsigned (self-signed mode, no "
                                         "<configuration-signer>)",
                                         doc->file);
    } else if (confsig_verify(doc, s->ca, doc->configuration_signers, "this configuration",
                              doc->bad_nodes, g_get_real_time() / G_USEC_PER_SEC, &who,
                              &e)) {
        char hex[ID_HEX_LEN + 1];
        id_to_hex(&who.node, hex);
        s->config_note = g_strdup_printf("configuration %s signed by node-id=%s (user %s)",
                                         doc->file, hex, who.user);
    } else {
        g_set_error(error, SEC_ERROR, 1, "--config: %s (trust anchor: %s)", e->message,
                    s->anchor);
        g_error_free(e);
        return false;
    }
    s->guard = confsig_guard_new(doc, s->ca);
    /* Until net_security_set_env: the time the peer started. */
    confsig_guard_set_clock(s->guard, NULL, g_get_real_time() / G_USEC_PER_SEC);
    return true;
}

/* The document's first <root-cert>: base64 DER of a CA certificate. */
static struct cred *doc_root(const struct config *doc, GError **error)
{
    gsize len = 0;
    guchar *der = g_base64_decode(g_ptr_array_index(doc->root_certs, 0), &len);
    struct cred *ca = NULL;
    int rc = cred_from_der(der, len, &ca);
    g_free(der);
    if (rc == 0 && !ca->info.is_ca) {
        cred_free(ca);
        ca = NULL;
        rc = CRED_E_MALFORMED;
    }
    if (rc != 0)
        g_set_error(error, SEC_ERROR, 1, "%s: <root-cert>: %s", doc->file,
                    rc == CRED_E_MALFORMED ? "not a CA certificate" : cred_strerror(rc));
    return ca;
}

struct net_security *net_security_new(const char *key_path, const char *cert_path,
                                      const char *ca_path, const struct config *doc,
                                      const char *overlay, GError **error)
{
    if (!key_path && !cert_path) {
        if (ca_path)
            g_set_error(error, SEC_ERROR, 1, "--ca needs a credential (--key and --cert)");
        return NULL;
    }
    if (!key_path || !cert_path) {
        g_set_error(error, SEC_ERROR, 1, "--key and --cert go together");
        return NULL;
    }
    struct net_security *s = g_new0(struct net_security, 1);
    s->own = cred_load(key_path, cert_path, error);
    if (!s->own)
        goto fail;
    if (ca_path) {
        s->ca = cred_load(NULL, ca_path, error);
        if (!s->ca)
            goto fail;
        if (!s->ca->info.is_ca) {
            g_set_error(error, SEC_ERROR, 1, "--ca %s: not a CA certificate", ca_path);
            goto fail;
        }
        s->anchor = "--ca";
    } else if (doc && doc->root_certs && doc->root_certs->len) {
        s->ca = doc_root(doc, error);
        if (!s->ca)
            goto fail;
        s->anchor = "the configuration's <root-cert>";
    } else if ((doc && doc->self_signed_permitted) || s->own->info.self_issued) {
        s->anchor = "self-signed mode";
    } else {
        g_set_error(error, SEC_ERROR, 1,
                    "--cert %s is signed by a CA: give it with --ca (or a --config document "
                    "with <root-cert>)",
                    cert_path);
        goto fail;
    }
    int rc = cred_verify(s->own, s->ca, g_get_real_time() / G_USEC_PER_SEC);
    if (rc != 0) {
        g_set_error(error, SEC_ERROR, 1, "--cert %s: %s (trust anchor: %s)", cert_path,
                    cred_strerror(rc), s->anchor);
        goto fail;
    }
    if (strcmp(s->own->info.overlay, overlay) != 0) {
        g_set_error(error, SEC_ERROR, 1, "--cert %s: a certificate of overlay %s, not %s",
                    cert_path, s->own->info.overlay, overlay);
        goto fail;
    }
    if (doc && !security_check_config(s, doc, error))
        goto fail;
    /* The env clock of net/ is wall-clock time since the UNIX epoch: epoch 0. */
    s->provider = sec_provider_new(s->ca);
    sec_provider_set_overlay(s->provider, overlay);
    sec_provider_add(s->provider, s->own);
    return s;
fail:
    net_security_free(s);
    return NULL;
}

void net_security_apply(struct net_security *s, struct node_config *cfg)
{
    cfg->security.ops = sec_provider_ops();
    cfg->security.ud = s->provider;
    if (s->guard && cfg->config_parse)
        confsig_guard_install(s->guard, cfg);
}

void net_security_set_env(struct net_security *s, const struct env *env)
{
    /* net/'s env clock is the UNIX time: epoch 0. */
    if (s->guard)
        confsig_guard_set_clock(s->guard, env, 0);
}

bool net_security_node_id(const struct net_security *s, const struct id *wanted, struct id *out)
{
    for (unsigned i = 0; wanted && i < s->own->info.n_nodes; i++)
        if (id_eq(&s->own->info.nodes[i], wanted)) {
            *out = *wanted;
            return true;
        }
    if (wanted)
        return false;
    *out = s->own->info.nodes[0];
    return true;
}

char *net_security_describe(const struct net_security *s)
{
    GString *g = g_string_new(NULL);
    g_string_printf(g, "credential of user %s (overlay %s), Node-IDs", s->own->info.user,
                    s->own->info.overlay);
    for (unsigned i = 0; i < s->own->info.n_nodes; i++) {
        char hex[ID_HEX_LEN + 1];
        id_to_hex(&s->own->info.nodes[i], hex);
        g_string_append_printf(g, "%s%s", i ? ", " : " ", hex);
    }
    g_string_append_printf(g, "; trust anchor: %s", s->anchor);
    if (s->config_note)
        g_string_append_printf(g, "; %s", s->config_note);
    return g_string_free(g, FALSE);
}
