/* provider.c — the real security provider (RFC 6940 §6.3.4, §11.3, §11.3.1, §13.3): signs
 * and verifies RELOAD messages and values for the core (struct node_security_ops) with
 * sec/cred and sec/sig on libcrypto, caching the certificates it has verified.
 * See provider.h for the contracts.
 */
#include "provider.h"

#include <openssl/evp.h>
#include <string.h>

#include "sig.h"

#define SHA256_LEN 32

/* A certificate that verified once against the trust anchor (key: SHA-256 of its DER). */
struct sec_cert {
    struct cred *c; /* without a key */
    uint8_t user_hash[ID_BYTES];
    bool has_user;
};
/* A SignerIdentity that names a cached certificate (key: identity type || its digest). */
struct sec_ident {
    const struct sec_cert *cert;
    struct id node;
};
/* A credential this provider signs with as one of its Node-IDs (key: that Node-ID). */
struct sec_own {
    struct id node;
    struct cred *c;
    GByteArray *entry; /* its GenericCertificate, ready for a bucket */
};

struct sec_provider {
    struct cred *ca; /* NULL: self-signed mode */
    char *overlay;   /* NULL: certificates of any overlay */
    int64_t epoch;
    GHashTable *own;    /* struct id * -> struct sec_own * */
    GHashTable *certs;  /* GBytes (digest) -> struct sec_cert * */
    GHashTable *idents; /* GBytes (type || digest) -> struct sec_ident * */
    struct sec_provider_stats stats;
};

const char *sec_provider_strerror(int code)
{
    switch (code) {
    case SEC_PROVIDER_OK:
        return "ok";
    case SEC_PROVIDER_E_UNSIGNED:
        return "unsigned";
    case SEC_PROVIDER_E_MALFORMED:
        return "malformed signature or certificate";
    case SEC_PROVIDER_E_UNKNOWN_SIGNER:
        return "signer certificate not found";
    case SEC_PROVIDER_E_UNTRUSTED:
        return "certificate not signed by the overlay CA";
    case SEC_PROVIDER_E_EXPIRED:
        return "certificate expired";
    case SEC_PROVIDER_E_NOT_YET_VALID:
        return "certificate not yet valid";
    case SEC_PROVIDER_E_NODE_MISMATCH:
        return "Node-ID does not match the public key";
    case SEC_PROVIDER_E_ALGORITHM:
        return "unsupported signature algorithm";
    case SEC_PROVIDER_E_BAD_SIGNATURE:
        return "signature does not verify";
    case SEC_PROVIDER_E_NO_CREDENTIAL:
        return "no credential for this Node-ID";
    case SEC_PROVIDER_E_CRYPTO:
        return "cryptographic library failure";
    case SEC_PROVIDER_E_OTHER_OVERLAY:
        return "certificate of another overlay";
    default:
        return "unknown error";
    }
}

static int from_cred(int rc)
{
    switch (rc) {
    case CRED_OK:
        return SEC_PROVIDER_OK;
    case CRED_E_MALFORMED:
        return SEC_PROVIDER_E_MALFORMED;
    case CRED_E_UNTRUSTED:
        return SEC_PROVIDER_E_UNTRUSTED;
    case CRED_E_EXPIRED:
        return SEC_PROVIDER_E_EXPIRED;
    case CRED_E_NOT_YET_VALID:
        return SEC_PROVIDER_E_NOT_YET_VALID;
    case CRED_E_NODE_MISMATCH:
        return SEC_PROVIDER_E_NODE_MISMATCH;
    default:
        return SEC_PROVIDER_E_CRYPTO;
    }
}

static int from_sig(int rc)
{
    switch (rc) {
    case SIG_OK:
        return SEC_PROVIDER_OK;
    case SIG_E_MALFORMED:
        return SEC_PROVIDER_E_MALFORMED;
    case SIG_E_ALGORITHM:
        return SEC_PROVIDER_E_ALGORITHM;
    case SIG_E_UNKNOWN_SIGNER:
        return SEC_PROVIDER_E_UNKNOWN_SIGNER;
    case SIG_E_BAD_SIGNATURE:
        return SEC_PROVIDER_E_BAD_SIGNATURE;
    case SIG_E_INVALID_ARG:
        return SEC_PROVIDER_E_NO_CREDENTIAL;
    default:
        return SEC_PROVIDER_E_CRYPTO;
    }
}

/* A new reference to c's certificate and key (libcrypto objects are reference counted). */
static struct cred *cred_ref(const struct cred *c)
{
    struct cred *r = g_new0(struct cred, 1);
    X509_up_ref(c->cert);
    r->cert = c->cert;
    if (c->key) {
        EVP_PKEY_up_ref(c->key);
        r->key = c->key;
    }
    r->info = c->info;
    return r;
}

static void sha256(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                   uint8_t out[SHA256_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned len = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, a, alen) == 1 && (!blen || EVP_DigestUpdate(ctx, b, blen) == 1) &&
              EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == SHA256_LEN;
    EVP_MD_CTX_free(ctx);
    g_assert(ok); /* SHA-256 of memory fails only for want of memory, which aborts */
}

static GBytes *ident_key(uint8_t type, const uint8_t digest[SHA256_LEN])
{
    uint8_t k[1 + SHA256_LEN];
    k[0] = type;
    memcpy(k + 1, digest, SHA256_LEN);
    return g_bytes_new(k, sizeof k);
}

static guint id_key_hash(gconstpointer k)
{
    const struct id *a = k;
    return (guint)(a->hi ^ a->lo ^ (a->lo >> 32));
}

static gboolean id_key_equal(gconstpointer a, gconstpointer b)
{
    return id_eq(a, b);
}

static void own_free(gpointer p)
{
    struct sec_own *o = p;
    cred_free(o->c);
    g_byte_array_unref(o->entry);
    g_free(o);
}

static void cert_free(gpointer p)
{
    struct sec_cert *c = p;
    cred_free(c->c);
    g_free(c);
}

struct sec_provider *sec_provider_new(const struct cred *ca)
{
    struct sec_provider *p = g_new0(struct sec_provider, 1);
    p->ca = ca ? cred_ref(ca) : NULL;
    p->own = g_hash_table_new_full(id_key_hash, id_key_equal, NULL, own_free);
    p->certs = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref,
                                     cert_free);
    p->idents = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref,
                                      g_free);
    return p;
}

void sec_provider_free(struct sec_provider *p)
{
    if (!p)
        return;
    g_hash_table_destroy(p->idents); /* before certs: identities point to them */
    g_hash_table_destroy(p->certs);
    g_hash_table_destroy(p->own);
    cred_free(p->ca);
    g_free(p->overlay);
    g_free(p);
}

void sec_provider_add(struct sec_provider *p, const struct cred *own)
{
    g_return_if_fail(own && own->cert && own->key);
    for (unsigned i = 0; i < own->info.n_nodes; i++) {
        struct sec_own *o = g_new0(struct sec_own, 1);
        o->node = own->info.nodes[i];
        o->c = cred_ref(own);
        o->entry = g_byte_array_new();
        sig_add_certificate(o->entry, own);
        g_hash_table_replace(p->own, &o->node, o);
    }
}

void sec_provider_set_overlay(struct sec_provider *p, const char *name)
{
    g_free(p->overlay);
    p->overlay = g_strdup(name);
}

void sec_provider_set_epoch(struct sec_provider *p, int64_t unix_s)
{
    p->epoch = unix_s;
}

const struct sec_provider_stats *sec_provider_get_stats(const struct sec_provider *p)
{
    return &p->stats;
}

/* ---- the operations --------------------------------------------------------------------- */

static int provider_sign(void *ud, const struct id *self, const uint8_t *input, size_t len,
                         GByteArray *out)
{
    struct sec_provider *p = ud;
    const struct sec_own *o = g_hash_table_lookup(p->own, self);
    if (!o)
        return SEC_PROVIDER_E_NO_CREDENTIAL;
    /* cert_hash names a certificate of one Node-ID; with several, cert_hash_node_id says
     * which one signs (§6.3.4). */
    struct sig_signature s;
    int rc = sig_sign(o->c, o->c->info.n_nodes == 1 ? NULL : self, input, len, &s);
    if (rc != SIG_OK)
        return from_sig(rc);
    struct wire_signature view;
    sig_view(&s, &view);
    wire_encode_signature(out, &view);
    sig_signature_clear(&s);
    p->stats.signed_msgs++;
    return 0;
}

static void provider_certificates(void *ud, const struct id *self, GByteArray *bucket)
{
    struct sec_provider *p = ud;
    const struct sec_own *o = g_hash_table_lookup(p->own, self);
    if (o)
        g_byte_array_append(bucket, o->entry->data, o->entry->len);
}

/* Adds a verified certificate and the identities that name it to the cache. */
static void cache_add(struct sec_provider *p, GBytes *digest_key, struct cred *c)
{
    struct sec_cert *sc = g_new0(struct sec_cert, 1);
    sc->c = c;
    if (c->info.user[0]) {
        struct id h = id_hash(c->info.user, strlen(c->info.user));
        id_to_bytes(&h, sc->user_hash);
        sc->has_user = true;
    }
    g_hash_table_replace(p->certs, digest_key, sc);
    gsize dlen;
    const uint8_t *digest = g_bytes_get_data(digest_key, &dlen);
    GByteArray *der = g_byte_array_new();
    cred_to_der(c, der);
    if (c->info.n_nodes == 1) {
        struct sec_ident *e = g_new(struct sec_ident, 1);
        *e = (struct sec_ident){sc, c->info.nodes[0]};
        g_hash_table_replace(p->idents, ident_key(WIRE_SIGNER_CERT_HASH, digest), e);
    }
    for (unsigned i = 0; i < c->info.n_nodes; i++) {
        uint8_t nb[ID_BYTES], d[SHA256_LEN];
        id_to_bytes(&c->info.nodes[i], nb);
        sha256(nb, sizeof nb, der->data, der->len, d);
        struct sec_ident *e = g_new(struct sec_ident, 1);
        *e = (struct sec_ident){sc, c->info.nodes[i]};
        g_hash_table_replace(p->idents, ident_key(WIRE_SIGNER_CERT_HASH_NODE_ID, d), e);
    }
    g_byte_array_unref(der);
}

/* Brings the bucket's X.509 certificates into the cache, verifying those not seen before at
 * time t.  Returns 0, or the first failure (a certificate that does not verify, a malformed
 * bucket), which is what the caller reports when the signer turns out to be missing. */
static int admit_bucket(struct sec_provider *p, struct wire_bytes bucket, int64_t t)
{
    struct wire_bytes rest = bucket;
    uint8_t type;
    struct wire_bytes der;
    int r, first = 0;
    while ((r = wire_next_certificate(&rest, &type, &der)) == 1) {
        if (type != WIRE_CERT_X509)
            continue;
        uint8_t d[SHA256_LEN];
        sha256(der.p, der.len, NULL, 0, d);
        GBytes *key = g_bytes_new(d, sizeof d);
        if (g_hash_table_contains(p->certs, key)) {
            p->stats.cache_hits++;
            g_bytes_unref(key);
            continue;
        }
        struct cred *c = NULL;
        int rc = cred_from_der(der.p, der.len, &c);
        if (rc == 0)
            rc = from_cred(cred_verify(c, p->ca, t));
        else
            rc = from_cred(rc);
        if (rc == 0 && p->overlay && strcmp(c->info.overlay, p->overlay) != 0)
            rc = SEC_PROVIDER_E_OTHER_OVERLAY;
        if (rc != 0) {
            cred_free(c);
            g_bytes_unref(key);
            if (!first)
                first = rc;
            continue;
        }
        p->stats.certs_parsed++;
        cache_add(p, key, c);
    }
    return r < 0 ? SEC_PROVIDER_E_MALFORMED : first;
}

static int window(const struct cred_info *info, int64_t t)
{
    if (t < info->not_before)
        return SEC_PROVIDER_E_NOT_YET_VALID;
    if (t > info->not_after)
        return SEC_PROVIDER_E_EXPIRED;
    return 0;
}

static int provider_verify_inner(struct sec_provider *p, struct wire_bytes bucket,
                                 const struct wire_signature *sig, const uint8_t *input,
                                 size_t len, env_time now, struct node_signer *who)
{
    if (sig->identity_type == WIRE_SIGNER_NONE || sig->sig_alg == 0)
        return SEC_PROVIDER_E_UNSIGNED;
    if ((sig->identity_type != WIRE_SIGNER_CERT_HASH &&
         sig->identity_type != WIRE_SIGNER_CERT_HASH_NODE_ID) ||
        sig->identity.len != 2 + SHA256_LEN || sig->identity.p[0] != SIG_HASH_SHA256 ||
        sig->identity.p[1] != SHA256_LEN)
        return SEC_PROVIDER_E_MALFORMED;
    int64_t t = p->epoch + (int64_t)(now / ENV_S);
    int admitted = admit_bucket(p, bucket, t);
    GBytes *key = ident_key(sig->identity_type, sig->identity.p + 2);
    const struct sec_ident *e = g_hash_table_lookup(p->idents, key);
    g_bytes_unref(key);
    if (!e)
        return admitted ? admitted : SEC_PROVIDER_E_UNKNOWN_SIGNER;
    int rc = window(&e->cert->c->info, t);
    if (!rc && p->ca)
        rc = window(&p->ca->info, t);
    if (rc)
        return rc;
    rc = sig_verify(sig, e->cert->c, input, len);
    if (rc != SIG_OK)
        return from_sig(rc);
    who->node = e->node;
    memcpy(who->user_hash, e->cert->user_hash, ID_BYTES);
    who->has_user = e->cert->has_user;
    return 0;
}

static int provider_verify(void *ud, struct wire_bytes bucket, const struct wire_signature *sig,
                           const uint8_t *input, size_t len, env_time now,
                           struct node_signer *who)
{
    struct sec_provider *p = ud;
    int rc = provider_verify_inner(p, bucket, sig, input, len, now, who);
    if (rc == 0)
        p->stats.verified++;
    else
        p->stats.failed++;
    return rc;
}

static const struct node_security_ops provider_ops = {
    .sign = provider_sign,
    .certificates = provider_certificates,
    .verify = provider_verify,
    .strerror = sec_provider_strerror,
};

const struct node_security_ops *sec_provider_ops(void)
{
    return &provider_ops;
}
