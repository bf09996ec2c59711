/* confsig.c — signatures of overlay configuration documents (RFC 6940 §11.1, with the
 * SecurityBlock of §6.3.4) on sec/sig.h and sec/cred.h.  See confsig.h for the contracts and
 * the choices made where the RFC is vague.
 */
#include "confsig.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sig.h"

#define CONFSIG_B64_LINE 64 /* base64 characters per line of a <signature> we write */

GQuark confsig_error_quark(void)
{
    return g_quark_from_static_string("p2psip-confsig-error-quark");
}

/* The bytes a configuration's signature covers; false when the parser found no span. */
static bool span_of(const struct config *c, const uint8_t **p, size_t *len)
{
    gsize n = 0;
    const uint8_t *t = g_bytes_get_data(c->text, &n);
    if (c->span_start == SIZE_MAX || c->span_end > n || c->span_start >= c->span_end)
        return false;
    *p = t + c->span_start;
    *len = c->span_end - c->span_start;
    return true;
}

G_GNUC_PRINTF(4, 5)
static bool sig_fail(const struct config *c, GError **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (c->signature)
        g_set_error(err, CONFSIG_ERROR, code, "%s:%u:%u: <signature>: %s", c->file, c->sig_line,
                    c->sig_col, msg);
    else
        g_set_error(err, CONFSIG_ERROR, code, "%s:%u:%u: <configuration>: %s", c->file, c->line,
                    c->col, msg);
    g_free(msg);
    return false;
}

/* Appends a SecurityBlock (§6.3.4): certificates<0..2^16-1>, then the Signature. */
static void encode_security_block(GByteArray *out, const GByteArray *bucket,
                                  const struct wire_signature *s)
{
    uint8_t l[2] = {(uint8_t)(bucket->len >> 8), (uint8_t)bucket->len};
    g_byte_array_append(out, l, 2);
    g_byte_array_append(out, bucket->data, bucket->len);
    wire_encode_signature(out, s);
}

/* Decodes c's <signature> and checks it over c's span with the certificate it names:
 * *signer (cred_free) and *node, the Node-ID it signed as.  Chain, overlay and the list of
 * signers are confsig_verify's. */
static bool check_signature(const struct config *c, struct cred **signer, struct id *node,
                            GError **err)
{
    *signer = NULL;
    if (!c->signature)
        return sig_fail(c, err, CONFSIG_E_UNSIGNED,
                        "configuration '%s' (sequence %u) is not signed: no <signature> follows "
                        "it (RFC 6940 section 11.1)",
                        c->instance_name, c->sequence);
    const uint8_t *span;
    size_t span_len;
    if (!span_of(c, &span, &span_len))
        return sig_fail(c, err, CONFSIG_E_MALFORMED,
                        "the <configuration> element's text was not found");
    gsize len = 0;
    guchar *blk = g_base64_decode(c->signature, &len);
    bool ok = false;
    struct wire_signature s;
    /* SecurityBlock: certificates<0..2^16-1>, then a Signature to the end. */
    size_t certs = len >= 2 ? (size_t)blk[0] << 8 | blk[1] : 0;
    if (len < 2 || 2 + certs > len ||
        wire_decode_signature(blk + 2 + certs, len - 2 - certs, &s) < 0) {
        sig_fail(c, err, CONFSIG_E_MALFORMED,
                 "not a base64 SecurityBlock (RFC 6940 section 6.3.4: certificates, then a "
                 "Signature)");
        goto out;
    }
    struct wire_bytes bucket = {blk + 2, (uint32_t)certs};
    int rc = sig_find_signer(bucket, &s, signer, node);
    if (rc != 0) {
        sig_fail(c, err, CONFSIG_E_MALFORMED,
                 "%s (the SecurityBlock must carry the signer's certificate)", sig_strerror(rc));
        goto out;
    }
    rc = sig_verify(&s, *signer, span, span_len);
    if (rc == SIG_E_BAD_SIGNATURE)
        sig_fail(c, err, CONFSIG_E_BAD_SIGNATURE,
                 "the signature does not verify over the <configuration> at line %u (its text "
                 "was changed after signing)",
                 c->line);
    else if (rc != 0)
        sig_fail(c, err, CONFSIG_E_MALFORMED, "%s", sig_strerror(rc));
    ok = rc == 0;
out:
    if (!ok) {
        cred_free(*signer);
        *signer = NULL;
    }
    g_free(blk);
    return ok;
}

/* Whether list (hex Node-IDs, as written) holds node. */
static bool lists_node(const GPtrArray *list, const struct id *node)
{
    char hex[ID_HEX_LEN + 1];
    id_to_hex(node, hex);
    for (guint i = 0; list && i < list->len; i++)
        if (!g_ascii_strcasecmp(g_ptr_array_index(list, i), hex))
            return true;
    return false;
}

bool confsig_verify(const struct config *c, const struct cred *anchor, const GPtrArray *signers,
                    const char *whose, const GPtrArray *bad_nodes, int64_t now,
                    struct confsig_signer *who, GError **err)
{
    struct cred *signer;
    struct id node;
    if (!check_signature(c, &signer, &node, err))
        return false;
    char hex[ID_HEX_LEN + 1];
    id_to_hex(&node, hex);
    bool ok = false;
    int rc = cred_verify(signer, anchor, now);
    if (rc != 0)
        sig_fail(c, err, CONFSIG_E_UNTRUSTED, "the signer's certificate (user %s, node-id=%s): %s",
                 signer->info.user, hex, cred_strerror(rc));
    else if (strcmp(signer->info.overlay, c->instance_name) != 0)
        sig_fail(c, err, CONFSIG_E_UNTRUSTED,
                 "the signer's certificate (user %s) is one of overlay %s, not %s",
                 signer->info.user, signer->info.overlay, c->instance_name);
    else if (lists_node(bad_nodes, &node))
        sig_fail(c, err, CONFSIG_E_UNTRUSTED, "the signer node-id=%s is a <bad-node>", hex);
    else if (!lists_node(signers, &node))
        sig_fail(c, err, CONFSIG_E_NOT_SIGNER,
                 "the signer node-id=%s (user %s) is not a <configuration-signer> of %s", hex,
                 signer->info.user, whose);
    else
        ok = true;
    if (ok && who) {
        who->node = node;
        g_strlcpy(who->user, signer->info.user, sizeof who->user);
    }
    cred_free(signer);
    return ok;
}

/* ---- signing ------------------------------------------------------------------------------ */

/* The namespace prefix of the configuration's start tag ("" when none), so that the
 * <signature> we write is in the same (base) namespace. */
static char *tag_prefix(const char *t, size_t start, size_t end)
{
    size_t i = start + 1, colon = 0;
    for (; i < end && !g_ascii_isspace(t[i]) && t[i] != '>' && t[i] != '/'; i++)
        if (t[i] == ':' && !colon)
            colon = i;
    return colon ? g_strndup(t + start + 1, colon - start - 1) : g_strdup("");
}

/* The whitespace before the configuration on its line ("" when other text precedes it). */
static char *indentation(const char *t, size_t start)
{
    size_t ls = start;
    while (ls > 0 && t[ls - 1] != '\n')
        ls--;
    for (size_t i = ls; i < start; i++)
        if (t[i] != ' ' && t[i] != '\t')
            return g_strdup("");
    return g_strndup(t + ls, start - ls);
}

/* The <signature> element of c signed by signer as node. */
static bool signature_element(const struct config *c, const struct cred *signer,
                              const struct id *node, const char *prefix, const char *indent,
                              GString *out, GError **err)
{
    const uint8_t *span;
    size_t span_len;
    if (!span_of(c, &span, &span_len))
        return sig_fail(c, err, CONFSIG_E_INVALID,
                        "the <configuration> element's text was not found");
    struct sig_signature s;
    int rc = sig_sign(signer, node, span, span_len, &s);
    if (rc != 0)
        return sig_fail(c, err, CONFSIG_E_INVALID, "cannot sign: %s", sig_strerror(rc));
    GByteArray *bucket = g_byte_array_new(), *blk = g_byte_array_new();
    sig_add_certificate(bucket, signer);
    struct wire_signature view;
    sig_view(&s, &view);
    encode_security_block(blk, bucket, &view);
    char *b64 = g_base64_encode(blk->data, blk->len);
    const char *p = *prefix ? ":" : "";
    g_string_append_printf(out, "<%s%ssignature>", prefix, p);
    for (size_t i = 0, n = strlen(b64); i < n; i += CONFSIG_B64_LINE)
        g_string_append_printf(out, "\n%s    %.*s", indent, CONFSIG_B64_LINE, b64 + i);
    g_string_append_printf(out, "\n%s</%s%ssignature>", indent, prefix, p);
    g_free(b64);
    g_byte_array_unref(bucket);
    g_byte_array_unref(blk);
    sig_signature_clear(&s);
    return true;
}

char *confsig_sign(const char *text, size_t len, const char *file, const struct cred *signer,
                   GPtrArray *notes, size_t *out_len, GError **err)
{
    if (!signer || !signer->key || signer->info.n_nodes == 0) {
        g_set_error(err, CONFSIG_ERROR, CONFSIG_E_INVALID,
                    "the signer needs a private key and a certificate with a Node-ID");
        return NULL;
    }
    GError *e = NULL;
    GPtrArray *all = config_parse_all(text, len, file, &e);
    if (!all) {
        g_set_error(err, CONFSIG_ERROR, CONFSIG_E_INVALID, "%s", e->message);
        g_error_free(e);
        return NULL;
    }
    gsize tlen = 0;
    GBytes *doc = g_bytes_ref(((struct config *)all->pdata[0])->text); /* outlives all */
    const char *t = g_bytes_get_data(doc, &tlen);
    GString *out = g_string_sized_new(tlen + all->len * 1024);
    size_t at = 0; /* t[0 .. at) is in out */
    bool ok = true;
    for (guint i = 0; ok && i < all->len; i++) {
        const struct config *c = all->pdata[i];
        /* The first of the certificate's Node-IDs the configuration lists, else its first. */
        const struct id *node = &signer->info.nodes[0];
        bool listed = false;
        for (unsigned k = 0; !listed && k < signer->info.n_nodes; k++)
            if ((listed = lists_node(c->configuration_signers, &signer->info.nodes[k])))
                node = &signer->info.nodes[k];
        if (!listed && notes) {
            char hex[ID_HEX_LEN + 1];
            id_to_hex(node, hex);
            g_ptr_array_add(
                notes,
                g_strdup_printf("%s:%u:%u: configuration '%s' lists no Node-ID of user %s "
                                "in <configuration-signer>: signed as node-id=%s, which "
                                "peers following it will refuse",
                                file, c->line, c->col, c->instance_name, signer->info.user, hex));
        }
        char *prefix = tag_prefix(t, c->span_start, c->span_end);
        char *indent = indentation(t, c->span_start);
        if (c->sig_end) { /* replace the old <signature> in place */
            g_string_append_len(out, t + at, (gssize)(c->sig_start - at));
            at = c->sig_end;
        } else { /* a new line after </configuration> */
            g_string_append_len(out, t + at, (gssize)(c->span_end - at));
            at = c->span_end;
            g_string_append_printf(out, "\n%s", indent);
        }
        ok = signature_element(c, signer, node, prefix, indent, out, err);
        g_free(prefix);
        g_free(indent);
    }
    g_ptr_array_unref(all);
    if (ok)
        g_string_append_len(out, t + at, (gssize)(tlen - at));
    g_bytes_unref(doc);
    if (!ok) {
        g_string_free(out, TRUE);
        return NULL;
    }
    /* What we wrote must parse and verify. */
    all = config_parse_all(out->str, out->len, file, &e);
    for (guint i = 0; ok && all && i < all->len; i++) {
        struct cred *who;
        struct id node;
        ok = check_signature(all->pdata[i], &who, &node, &e);
        cred_free(who);
    }
    if (!all || !ok) {
        g_set_error(err, CONFSIG_ERROR, CONFSIG_E_INVALID, "the signed document does not check: %s",
                    e ? e->message : "?");
        g_clear_error(&e);
        if (all)
            g_ptr_array_unref(all);
        g_string_free(out, TRUE);
        return NULL;
    }
    g_ptr_array_unref(all);
    *out_len = out->len;
    return g_string_free(out, FALSE);
}

/* ---- ConfigUpdate guard --------------------------------------------------------------------- */

struct confsig_guard {
    const struct cred *anchor; /* NULL: self-signed mode */
    uint16_t sequence;         /* of the configuration in force */
    GPtrArray *signers;        /* its <configuration-signer> hex Node-IDs */
    GPtrArray *bad_nodes;      /* its <bad-node> */
    const struct env *env;     /* clock and log (NULL: `epoch`, stderr) */
    int64_t epoch;
    uint64_t refused;
};

static GPtrArray *strv_copy(const GPtrArray *a)
{
    GPtrArray *c = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < a->len; i++)
        g_ptr_array_add(c, g_strdup(a->pdata[i]));
    return c;
}

/* c becomes the configuration in force. */
static void guard_follow(struct confsig_guard *g, const struct config *c)
{
    g->sequence = c->sequence;
    if (g->signers)
        g_ptr_array_unref(g->signers);
    if (g->bad_nodes)
        g_ptr_array_unref(g->bad_nodes);
    g->signers = strv_copy(c->configuration_signers);
    g->bad_nodes = strv_copy(c->bad_nodes);
}

struct confsig_guard *confsig_guard_new(const struct config *c, const struct cred *anchor)
{
    struct confsig_guard *g = g_new0(struct confsig_guard, 1);
    g->anchor = anchor;
    guard_follow(g, c);
    return g;
}

void confsig_guard_free(struct confsig_guard *g)
{
    if (!g)
        return;
    g_ptr_array_unref(g->signers);
    g_ptr_array_unref(g->bad_nodes);
    g_free(g);
}

void confsig_guard_set_clock(struct confsig_guard *g, const struct env *env, int64_t epoch)
{
    g->env = env;
    g->epoch = epoch;
}

uint64_t confsig_guard_refused(const struct confsig_guard *g)
{
    return g->refused;
}

/* §6.3.2.1: sequences compare modulo 65535 like TCP's; 65535 is never newer (as the core's
 * configupdate.c compares them, which adopts a document exactly when it is newer). */
static bool seq_newer(uint16_t a, uint16_t b)
{
    if (a == 65535 || b == 65535)
        return false;
    unsigned d = ((unsigned)a + 65535u - b) % 65535u;
    return d != 0 && d < 32768u;
}

G_GNUC_PRINTF(3, 4)
static void guard_log(const struct confsig_guard *g, enum env_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (g->env)
        env_logf(g->env, level, "%s", msg);
    else
        fprintf(stderr, "%s\n", msg);
    g_free(msg);
}

/* The node_config_parse_fn. */
static int guard_parse(void *ud, const uint8_t *doc, size_t len, uint32_t overlay,
                       struct node_config_doc *out)
{
    struct confsig_guard *g = ud;
    GError *e = NULL;
    GPtrArray *all = config_parse_all((const char *)doc, len, "ConfigUpdate", &e);
    const struct config *c = NULL;
    for (guint i = 0; all && i < all->len && !c; i++)
        if (((const struct config *)all->pdata[i])->overlay == overlay)
            c = all->pdata[i];
    if (all && !c)
        g_set_error(&e, CONFSIG_ERROR, CONFSIG_E_INVALID, "no configuration of this overlay");
    struct confsig_signer who;
    char *whose = g_strdup_printf("the configuration in force (sequence %u)", g->sequence);
    int64_t now = g->epoch + (g->env ? (int64_t)(env_now(g->env) / ENV_S) : 0);
    bool ok = c && confsig_verify(c, g->anchor, g->signers, whose, g->bad_nodes, now, &who, &e);
    g_free(whose);
    if (ok) {
        char hex[ID_HEX_LEN + 1];
        id_to_hex(&who.node, hex);
        guard_log(g, ENV_LOG_INFO,
                  "ConfigUpdate: configuration sequence %u signed by node-id=%s (user %s)",
                  c->sequence, hex, who.user);
        if (seq_newer(c->sequence, g->sequence))
            guard_follow(g, c); /* the core adopts it */
        config_node_doc(c, out);
    } else {
        g->refused++;
        guard_log(g, ENV_LOG_WARN,
                  "refused a configuration document received in a ConfigUpdate: %s (kept "
                  "sequence %u; %" PRIu64 " refused)",
                  e->message, g->sequence, g->refused);
        g_error_free(e);
    }
    if (all)
        g_ptr_array_unref(all);
    return ok ? 0 : -1;
}

void confsig_guard_install(struct confsig_guard *g, struct node_config *cfg)
{
    cfg->config_parse = guard_parse;
    cfg->config_parse_ud = g;
}
