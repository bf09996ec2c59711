/* secmodel.c — the modelled security provider: RFC 6940 §6.3.4 Signatures and §13
 * certificates of the real sizes, made of HMAC-SHA256 (GLib) instead of ECDSA.  See
 * secmodel.h for what is modelled and why.
 *
 * Certificate layout (all big-endian, SECMODEL_CERT_BASE + user bytes in all):
 *   "P2SM" (4) | Node-ID (16) | user length (1) | user | zero padding | tag (32)
 * where tag = HMAC-SHA256(ca_secret, everything before it).
 * Signature value (72 bytes, the shape of a DER ECDSA-Sig-Value with 33-byte INTEGERs):
 *   30 46 | 02 21 00 r (32) | 02 21 00 s (32)
 * where r = HMAC-SHA256(node_secret, input || SignerIdentity), s = HMAC-SHA256(node_secret, r)
 * and node_secret = HMAC-SHA256(run_secret, Node-ID).
 */
#include "secmodel.h"

#include <string.h>

#define MAC 32
#define SIG_HASH_SHA256 4
#define SIG_ALG_ECDSA 3
static const uint8_t cert_magic[4] = {'P', '2', 'S', 'M'};

struct secmodel {
    uint8_t run_secret[MAC];
    uint8_t ca_secret[MAC];
    bool enroll_all;
    GHashTable *users; /* struct id * -> char * user name, or NULL value: revoked */
    uint32_t sign_us, verify_us;
    struct secmodel_stats stats;
};

static guint id_key_hash(gconstpointer p)
{
    const struct id *a = p;
    uint8_t b[ID_BYTES];
    id_to_bytes(a, b);
    guint h;
    memcpy(&h, b, sizeof h);
    return h;
}

static gboolean id_key_equal(gconstpointer a, gconstpointer b)
{
    return id_eq(a, b);
}

static void hmac(const uint8_t key[MAC], const uint8_t *a, size_t alen, const uint8_t *b,
                 size_t blen, uint8_t out[MAC])
{
    GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, key, MAC);
    g_hmac_update(h, a, (gssize)alen);
    if (blen)
        g_hmac_update(h, b, (gssize)blen);
    gsize len = MAC;
    g_hmac_get_digest(h, out, &len);
    g_hmac_unref(h);
}

static void sha256(const uint8_t *p, size_t len, uint8_t out[MAC])
{
    GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(c, p, (gssize)len);
    gsize n = MAC;
    g_checksum_get_digest(c, out, &n);
    g_checksum_free(c);
}

struct secmodel *secmodel_new(uint64_t seed)
{
    struct secmodel *m = g_new0(struct secmodel, 1);
    static const char label[] = "p2psip-secmodel";
    uint8_t s[8 + sizeof label];
    for (int i = 0; i < 8; i++)
        s[i] = (uint8_t)(seed >> (56 - 8 * i));
    memcpy(s + 8, label, sizeof label);
    sha256(s, sizeof s, m->run_secret);
    static const char ca_label[] = "overlay CA";
    hmac(m->run_secret, (const uint8_t *)ca_label, sizeof ca_label - 1, NULL, 0, m->ca_secret);
    m->users = g_hash_table_new_full(id_key_hash, id_key_equal, g_free, g_free);
    return m;
}

void secmodel_free(struct secmodel *m)
{
    if (!m)
        return;
    g_hash_table_destroy(m->users);
    memset(m, 0, sizeof *m); /* the secrets */
    g_free(m);
}

void secmodel_enroll(struct secmodel *m, const struct id *id, const char *user)
{
    char *u = NULL;
    if (user) {
        g_return_if_fail(user[0] && strlen(user) <= 255);
        u = g_strdup(user);
    } else {
        uint8_t b[ID_BYTES];
        id_to_bytes(id, b);
        GString *s = g_string_new("n");
        for (int i = 0; i < ID_BYTES; i++)
            g_string_append_printf(s, "%02x", b[i]);
        g_string_append(s, "@sim");
        u = g_string_free(s, FALSE);
    }
    g_hash_table_insert(m->users, g_memdup2(id, sizeof *id), u);
}

void secmodel_enroll_all(struct secmodel *m, bool on)
{
    m->enroll_all = on;
}

void secmodel_revoke(struct secmodel *m, const struct id *id)
{
    g_hash_table_insert(m->users, g_memdup2(id, sizeof *id), NULL);
}

/* The user name of id's credential written into buf (at least 256 bytes); false: none. */
static bool user_of(const struct secmodel *m, const struct id *id, char *buf)
{
    gpointer value;
    if (g_hash_table_lookup_extended(m->users, id, NULL, &value)) {
        if (!value)
            return false;
        g_strlcpy(buf, value, 256);
        return true;
    }
    if (!m->enroll_all)
        return false;
    uint8_t b[ID_BYTES];
    id_to_bytes(id, b);
    char *p = buf;
    *p++ = 'n';
    for (int i = 0; i < ID_BYTES; i++)
        p += g_snprintf(p, 3, "%02x", b[i]);
    g_strlcpy(p, "@sim", 5);
    return true;
}

bool secmodel_has_credential(const struct secmodel *m, const struct id *id)
{
    char user[256];
    return user_of(m, id, user);
}

void secmodel_set_costs(struct secmodel *m, uint32_t sign_us, uint32_t verify_us)
{
    m->sign_us = sign_us;
    m->verify_us = verify_us;
}

const struct secmodel_stats *secmodel_get_stats(const struct secmodel *m)
{
    return &m->stats;
}

const char *secmodel_strerror(int code)
{
    switch (code) {
    case SECMODEL_OK:
        return "ok";
    case SECMODEL_E_NO_CREDENTIAL:
        return "no credential";
    case SECMODEL_E_MALFORMED:
        return "malformed signature or certificate";
    case SECMODEL_E_UNKNOWN_SIGNER:
        return "signer certificate not found";
    case SECMODEL_E_UNTRUSTED:
        return "certificate not issued by the overlay CA";
    case SECMODEL_E_BAD_SIGNATURE:
        return "signature does not verify";
    case SECMODEL_E_ALGORITHM:
        return "unsupported signature algorithm or identity";
    default:
        return "unknown error";
    }
}

/* ---- certificates ------------------------------------------------------------------------ */

static void make_cert(const struct secmodel *m, const struct id *id, const char *user,
                      GByteArray *out)
{
    size_t ulen = strlen(user);
    size_t total = SECMODEL_CERT_BASE + ulen;
    guint at = out->len;
    g_byte_array_set_size(out, at + (guint)total);
    uint8_t *c = out->data + at;
    memset(c, 0, total);
    memcpy(c, cert_magic, 4);
    id_to_bytes(id, c + 4);
    c[20] = (uint8_t)ulen;
    memcpy(c + 21, user, ulen);
    hmac(m->ca_secret, c, total - MAC, NULL, 0, c + total - MAC);
}

/* Reads a certificate the model issued: its Node-ID and user name (buf of 256 bytes). */
static int parse_cert(const struct secmodel *m, struct wire_bytes cert, struct id *id, char *user)
{
    if (cert.len < SECMODEL_CERT_BASE + 1 || memcmp(cert.p, cert_magic, 4) != 0)
        return SECMODEL_E_MALFORMED;
    size_t ulen = cert.p[20];
    if (ulen == 0 || cert.len != SECMODEL_CERT_BASE + ulen)
        return SECMODEL_E_MALFORMED;
    uint8_t tag[MAC];
    hmac(m->ca_secret, cert.p, cert.len - MAC, NULL, 0, tag);
    if (memcmp(tag, cert.p + cert.len - MAC, MAC) != 0)
        return SECMODEL_E_UNTRUSTED;
    *id = id_from_bytes(cert.p + 4);
    memcpy(user, cert.p + 21, ulen);
    user[ulen] = 0;
    return 0;
}

static void ops_certificates(void *ud, const struct id *self, GByteArray *bucket)
{
    struct secmodel *m = ud;
    char user[256];
    if (!user_of(m, self, user))
        return;
    GByteArray *c = g_byte_array_new();
    make_cert(m, self, user, c);
    wire_encode_certificate(bucket, SECMODEL_CERT_TYPE, c->data, c->len);
    g_byte_array_unref(c);
}

/* ---- signatures -------------------------------------------------------------------------- */

/* The 72-byte signature value of node id over input || SignerIdentity. */
static void sig_value(const struct secmodel *m, const struct id *id, const uint8_t *input,
                      size_t len, const struct wire_signature *s, uint8_t out[SECMODEL_SIG_VALUE])
{
    uint8_t nb[ID_BYTES], key[MAC];
    id_to_bytes(id, nb);
    hmac(m->run_secret, nb, sizeof nb, NULL, 0, key);
    GByteArray *ident = g_byte_array_new();
    wire_encode_signer_identity(ident, s);
    static const uint8_t head[5] = {0x30, 0x46, 0x02, 0x21, 0x00};
    memcpy(out, head, 5);
    hmac(key, input, len, ident->data, ident->len, out + 5);
    memcpy(out + 37, head + 2, 3);
    hmac(key, out + 5, MAC, NULL, 0, out + 40);
    g_byte_array_unref(ident);
    memset(key, 0, sizeof key);
}

static int ops_sign(void *ud, const struct id *self, const uint8_t *input, size_t len,
                    GByteArray *out)
{
    struct secmodel *m = ud;
    char user[256];
    m->stats.signs++;
    m->stats.cpu_us += m->sign_us;
    if (!user_of(m, self, user)) {
        m->stats.sign_refused++;
        return SECMODEL_E_NO_CREDENTIAL;
    }
    GByteArray *cert = g_byte_array_new();
    make_cert(m, self, user, cert);
    uint8_t ident[2 + MAC] = {SIG_HASH_SHA256, MAC};
    sha256(cert->data, cert->len, ident + 2);
    g_byte_array_unref(cert);
    struct wire_signature s = {.hash_alg = SIG_HASH_SHA256, .sig_alg = SIG_ALG_ECDSA,
                               .identity_type = WIRE_SIGNER_CERT_HASH,
                               .identity = {ident, sizeof ident}};
    uint8_t value[SECMODEL_SIG_VALUE];
    sig_value(m, self, input, len, &s, value);
    s.value = (struct wire_bytes){value, sizeof value};
    wire_encode_signature(out, &s);
    return 0;
}

static int verify(struct secmodel *m, struct wire_bytes bucket, const struct wire_signature *sig,
                  const uint8_t *input, size_t len, struct node_signer *who)
{
    if (sig->hash_alg != SIG_HASH_SHA256 || sig->sig_alg != SIG_ALG_ECDSA ||
        sig->identity_type != WIRE_SIGNER_CERT_HASH)
        return SECMODEL_E_ALGORITHM;
    if (sig->identity.len != 2 + MAC || sig->identity.p[0] != SIG_HASH_SHA256 ||
        sig->identity.p[1] != MAC || sig->value.len != SECMODEL_SIG_VALUE)
        return SECMODEL_E_MALFORMED;
    struct wire_bytes rest = bucket, cert;
    uint8_t type;
    int r;
    while ((r = wire_next_certificate(&rest, &type, &cert)) == 1) {
        uint8_t h[MAC];
        if (type != SECMODEL_CERT_TYPE)
            continue;
        sha256(cert.p, cert.len, h);
        if (memcmp(h, sig->identity.p + 2, MAC) != 0)
            continue;
        struct id id;
        char user[256];
        int rc = parse_cert(m, cert, &id, user);
        if (rc < 0)
            return rc;
        uint8_t want[SECMODEL_SIG_VALUE];
        sig_value(m, &id, input, len, sig, want);
        if (memcmp(want, sig->value.p, SECMODEL_SIG_VALUE) != 0)
            return SECMODEL_E_BAD_SIGNATURE;
        memset(who, 0, sizeof *who);
        who->node = id;
        struct id uh = id_hash(user, strlen(user));
        id_to_bytes(&uh, who->user_hash);
        who->has_user = true;
        return 0;
    }
    return r < 0 ? SECMODEL_E_MALFORMED : SECMODEL_E_UNKNOWN_SIGNER;
}

static int ops_verify(void *ud, struct wire_bytes bucket, const struct wire_signature *sig,
                      const uint8_t *input, size_t len, env_time now, struct node_signer *who)
{
    struct secmodel *m = ud;
    m->stats.verifies++;
    m->stats.cpu_us += m->verify_us;
    int rc = verify(m, bucket, sig, input, len, who);
    if (rc < 0)
        m->stats.verify_failed++;
    return rc;
}

static const struct node_security_ops ops = {
    .sign = ops_sign,
    .certificates = ops_certificates,
    .verify = ops_verify,
    .strerror = secmodel_strerror,
};

const struct node_security_ops *secmodel_ops(void)
{
    return &ops;
}
