/* sig.c — RELOAD signatures (RFC 6940 §6.3.4, §7.1) and access control (§7.3) on OpenSSL's
 * libcrypto.  See sig.h for the contracts.
 */
#include "sig.h"

#include <openssl/evp.h>
#include <string.h>

const char *sig_strerror(int code)
{
    switch (code) {
    case SIG_OK:
        return "ok";
    case SIG_E_MALFORMED:
        return "malformed signature or certificate bucket";
    case SIG_E_ALGORITHM:
        return "unsupported signature algorithm";
    case SIG_E_UNKNOWN_SIGNER:
        return "signer certificate not found";
    case SIG_E_BAD_SIGNATURE:
        return "signature does not verify";
    case SIG_E_DENIED:
        return "access control policy refuses the signer";
    case SIG_E_INVALID_ARG:
        return "invalid argument";
    case SIG_E_CRYPTO:
        return "cryptographic library failure";
    default:
        return "unknown error";
    }
}

void sig_view(const struct sig_signature *s, struct wire_signature *out)
{
    *out = (struct wire_signature){
        .hash_alg = s->hash_alg,
        .sig_alg = s->sig_alg,
        .identity_type = s->identity_type,
        .identity = {s->identity->data, s->identity->len},
        .value = {s->value->data, s->value->len},
    };
}

void sig_signature_clear(struct sig_signature *s)
{
    if (s->identity)
        g_byte_array_unref(s->identity);
    if (s->value)
        g_byte_array_unref(s->value);
    memset(s, 0, sizeof *s);
}

/* The TLS SignatureAlgorithm of a key, or 0 when it is neither EC nor RSA. */
static uint8_t key_alg(EVP_PKEY *key)
{
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC:
        return SIG_ALG_ECDSA;
    case EVP_PKEY_RSA:
        return SIG_ALG_RSA;
    default:
        return 0;
    }
}

static bool has_node(const struct cred_info *info, const struct id *node)
{
    for (unsigned i = 0; i < info->n_nodes; i++)
        if (id_eq(&info->nodes[i], node))
            return true;
    return false;
}

/* SignerIdentityValue for c (§6.3.4): hash_alg, then SHA-256(cert) or SHA-256(node || cert)
 * as opaque<0..2^8-1>. */
static void identity_value(const struct cred *c, const struct id *node, GByteArray *out)
{
    GByteArray *in = g_byte_array_new();
    if (node) {
        uint8_t b[ID_BYTES];
        id_to_bytes(node, b);
        g_byte_array_append(in, b, sizeof b);
    }
    cred_to_der(c, in);
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    bool ok = EVP_Digest(in->data, in->len, d, &dlen, EVP_sha256(), NULL) == 1;
    g_assert(ok); /* SHA-256 of memory cannot fail but for OOM, which aborts */
    g_byte_array_unref(in);
    uint8_t head[2] = {SIG_HASH_SHA256, (uint8_t)dlen};
    g_byte_array_append(out, head, 2);
    g_byte_array_append(out, d, dlen);
}

/* input || SignerIdentity: what the signature covers. */
static GByteArray *to_be_signed(const uint8_t *input, size_t len, const struct wire_signature *s)
{
    GByteArray *tbs = g_byte_array_sized_new((guint)len + 64);
    g_byte_array_append(tbs, input, (guint)len);
    wire_encode_signer_identity(tbs, s);
    return tbs;
}

int sig_sign(const struct cred *c, const struct id *node, const uint8_t *input, size_t len,
             struct sig_signature *out)
{
    memset(out, 0, sizeof *out);
    if (!c || !c->key || !c->cert)
        return SIG_E_INVALID_ARG;
    if (node ? !has_node(&c->info, node) : c->info.n_nodes != 1)
        return SIG_E_INVALID_ARG;
    uint8_t alg = key_alg(c->key);
    if (!alg)
        return SIG_E_ALGORITHM;
    out->hash_alg = SIG_HASH_SHA256;
    out->sig_alg = alg;
    out->identity_type = node ? WIRE_SIGNER_CERT_HASH_NODE_ID : WIRE_SIGNER_CERT_HASH;
    out->identity = g_byte_array_new();
    out->value = g_byte_array_new();
    identity_value(c, node, out->identity);
    struct wire_signature view;
    sig_view(out, &view);
    GByteArray *tbs = to_be_signed(input, len, &view);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t slen = 0;
    bool ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, c->key) == 1 &&
              EVP_DigestSign(ctx, NULL, &slen, tbs->data, tbs->len) == 1;
    if (ok) {
        g_byte_array_set_size(out->value, (guint)slen);
        ok = EVP_DigestSign(ctx, out->value->data, &slen, tbs->data, tbs->len) == 1;
        g_byte_array_set_size(out->value, (guint)slen);
    }
    EVP_MD_CTX_free(ctx);
    g_byte_array_unref(tbs);
    if (!ok) {
        sig_signature_clear(out);
        return SIG_E_CRYPTO;
    }
    return 0;
}

/* Does s's identity name certificate c (and which Node-ID)?  1 yes, 0 no, <0 malformed. */
static int identity_matches(const struct wire_signature *s, const struct cred *c, struct id *node)
{
    if (s->identity_type != WIRE_SIGNER_CERT_HASH &&
        s->identity_type != WIRE_SIGNER_CERT_HASH_NODE_ID)
        return SIG_E_MALFORMED;
    if (s->identity.len < 2 || s->identity.p[0] != SIG_HASH_SHA256 ||
        s->identity.p[1] != s->identity.len - 2)
        return SIG_E_MALFORMED;
    GByteArray *want = g_byte_array_new();
    int found = 0;
    if (s->identity_type == WIRE_SIGNER_CERT_HASH) {
        identity_value(c, NULL, want);
        found = want->len == s->identity.len && !memcmp(want->data, s->identity.p, want->len);
        if (found && c->info.n_nodes != 1)
            found = SIG_E_MALFORMED; /* cert_hash names one Node-ID only (§6.3.4) */
        else if (found)
            *node = c->info.nodes[0];
    } else {
        for (unsigned i = 0; !found && i < c->info.n_nodes; i++) {
            g_byte_array_set_size(want, 0);
            identity_value(c, &c->info.nodes[i], want);
            found = want->len == s->identity.len && !memcmp(want->data, s->identity.p, want->len);
            if (found)
                *node = c->info.nodes[i];
        }
    }
    g_byte_array_unref(want);
    return found;
}

int sig_verify(const struct wire_signature *s, const struct cred *signer, const uint8_t *input,
               size_t len)
{
    if (!signer || !signer->cert)
        return SIG_E_INVALID_ARG;
    EVP_PKEY *pub = X509_get0_pubkey(signer->cert);
    if (!pub)
        return SIG_E_MALFORMED;
    if (s->hash_alg != SIG_HASH_SHA256 || s->sig_alg != key_alg(pub))
        return SIG_E_ALGORITHM;
    struct id node;
    int m = identity_matches(s, signer, &node);
    if (m < 0)
        return m;
    if (m == 0)
        return SIG_E_UNKNOWN_SIGNER;
    GByteArray *tbs = to_be_signed(input, len, s);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = SIG_E_CRYPTO;
    if (ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1)
        rc = EVP_DigestVerify(ctx, s->value.p, s->value.len, tbs->data, tbs->len) == 1
                 ? 0
                 : SIG_E_BAD_SIGNATURE;
    EVP_MD_CTX_free(ctx);
    g_byte_array_unref(tbs);
    return rc;
}

int sig_find_signer(struct wire_bytes certificates, const struct wire_signature *s,
                    struct cred **signer, struct id *node)
{
    *signer = NULL;
    struct wire_bytes rest = certificates;
    uint8_t type;
    struct wire_bytes der;
    int r;
    while ((r = wire_next_certificate(&rest, &type, &der)) == 1) {
        struct cred *c;
        if (type != WIRE_CERT_X509 || cred_from_der(der.p, der.len, &c) != 0)
            continue;
        int m = identity_matches(s, c, node);
        if (m == 1) {
            *signer = c;
            return 0;
        }
        cred_free(c);
        if (m < 0)
            return m;
    }
    return r < 0 ? SIG_E_MALFORMED : SIG_E_UNKNOWN_SIGNER;
}

void sig_add_certificate(GByteArray *bucket, const struct cred *c)
{
    GByteArray *der = g_byte_array_new();
    cred_to_der(c, der);
    wire_encode_certificate(bucket, WIRE_CERT_X509, der->data, der->len);
    g_byte_array_unref(der);
}

/* ---- access control, §7.3 ------------------------------------------------------------------- */

int sig_access_check(enum config_access policy, uint32_t max_node_multiple, const uint8_t *resource,
                     size_t resource_len, const struct wire_stored_data *d,
                     const struct cred_info *signer, const struct id *node)
{
    if (!signer || !node || !has_node(signer, node))
        return SIG_E_DENIED; /* the signing Node-ID must be one the certificate carries */
    struct node_signer who = {.node = *node, .has_user = signer->user[0] != 0};
    if (who.has_user) {
        struct id h = id_hash(signer->user, strlen(signer->user));
        id_to_bytes(&h, who.user_hash);
    }
    return access_check(config_node_access(policy), max_node_multiple, resource, resource_len, d,
                        &who) == ACCESS_OK
               ? 0
               : SIG_E_DENIED;
}
