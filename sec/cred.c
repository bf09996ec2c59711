/* cred.c — RELOAD credentials (RFC 6940 §11.3, §11.3.1, §13.3) on OpenSSL's libcrypto:
 * the overlay CA, enrollment, self-signed certificates, parsing and verification.
 * See cred.h for the certificate profile and the contracts.
 */
#include "cred.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CRED_CA_SUFFIX " RELOAD CA"
#define CRED_URI_PREFIX "reload://0110" /* a Destination of type node_id (1), length 16 */

/* ---- small helpers ------------------------------------------------------------------------ */

static struct cred *cred_alloc(void)
{
    return g_new0(struct cred, 1);
}

void cred_free(struct cred *c)
{
    if (!c)
        return;
    EVP_PKEY_free(c->key);
    X509_free(c->cert);
    g_free(c);
}

const char *cred_strerror(int code)
{
    switch (code) {
    case CRED_OK:
        return "ok";
    case CRED_E_MALFORMED:
        return "malformed certificate";
    case CRED_E_UNTRUSTED:
        return "certificate not signed by the overlay CA";
    case CRED_E_EXPIRED:
        return "certificate expired";
    case CRED_E_NOT_YET_VALID:
        return "certificate not yet valid";
    case CRED_E_NODE_MISMATCH:
        return "Node-ID does not match the public key";
    case CRED_E_INVALID_ARG:
        return "invalid argument";
    case CRED_E_CRYPTO:
        return "cryptographic library failure";
    default:
        return "unknown error";
    }
}

/* A user name: 1..CRED_MAX_USER printable ASCII characters, no spaces. */
static bool user_ok(const char *s, size_t len)
{
    if (len == 0 || len > CRED_MAX_USER)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

/* An overlay name usable as the URI's reg-name: letters, digits and - . _ ~ */
static bool overlay_ok(const char *s, size_t len)
{
    if (len == 0 || len > CRED_MAX_OVERLAY)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_isalnum(s[i]) && !strchr("-._~", s[i]))
            return false;
    return true;
}

static bool window_ok(int64_t not_before, int64_t not_after)
{
    return not_before >= 0 && not_after > not_before && not_after < ((int64_t)1 << 40);
}

static EVP_PKEY *key_new(void)
{
    return EVP_EC_gen("P-256");
}

static int64_t asn1_time_seconds(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return -1;
    return (int64_t)timegm(&tm);
}

static bool random_serial(X509 *x)
{
    uint8_t b[8];
    if (RAND_bytes(b, sizeof b) != 1)
        return false;
    b[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
    bool ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

/* The parts every certificate made here shares: version 3, serial, window, public key. */
static X509 *cert_skeleton(EVP_PKEY *key, int64_t not_before, int64_t not_after)
{
    X509 *x = X509_new();
    if (!x || !X509_set_version(x, 2) || !random_serial(x) ||
        !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) || !X509_set_pubkey(x, key)) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static bool add_ext_conf(X509 *x, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, nid, value);
    bool ok = e && X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok;
}

static bool push_name(GENERAL_NAMES *gens, int type, const char *text)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    if (!g || !s || !ASN1_STRING_set(s, text, (int)strlen(text))) {
        GENERAL_NAME_free(g);
        ASN1_IA5STRING_free(s);
        return false;
    }
    GENERAL_NAME_set0_value(g, type, s);
    if (!sk_GENERAL_NAME_push(gens, g)) {
        GENERAL_NAME_free(g);
        return false;
    }
    return true;
}

/* subjectAltName (§11.3): the user name as rfc822Name and one RELOAD URI per Node-ID.  It is
 * critical because the subject name is empty (RFC 5280 §4.2.1.6). */
static bool add_reload_san(X509 *x, const char *user, const char *overlay, const struct id *nodes,
                           unsigned n)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    bool ok = gens && push_name(gens, GEN_EMAIL, user);
    for (unsigned i = 0; ok && i < n; i++) {
        char hex[ID_HEX_LEN + 1];
        id_to_hex(&nodes[i], hex);
        char *uri = g_strdup_printf(CRED_URI_PREFIX "%s@%s/", hex, overlay);
        ok = push_name(gens, GEN_URI, uri);
        g_free(uri);
    }
    ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 1, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(gens);
    return ok;
}

/* ---- reading a certificate's RELOAD fields ------------------------------------------------ */

/* "reload://0110<32 hex>@OVERLAY/" → Node-ID and overlay; false when it is anything else. */
static bool parse_node_uri(const char *uri, size_t len, struct id *node, char *overlay)
{
    size_t pre = strlen(CRED_URI_PREFIX);
    if (len < pre + ID_HEX_LEN + 3 || g_ascii_strncasecmp(uri, CRED_URI_PREFIX, pre) != 0)
        return false;
    char hex[ID_HEX_LEN + 1];
    memcpy(hex, uri + pre, ID_HEX_LEN);
    hex[ID_HEX_LEN] = 0;
    for (size_t i = 0; i < ID_HEX_LEN; i++)
        hex[i] = g_ascii_tolower(hex[i]);
    if (id_from_hex(hex, node) != 0 || uri[pre + ID_HEX_LEN] != '@' || uri[len - 1] != '/')
        return false;
    const char *ov = uri + pre + ID_HEX_LEN + 1;
    size_t ov_len = (size_t)(uri + len - 1 - ov);
    if (!overlay_ok(ov, ov_len))
        return false;
    memcpy(overlay, ov, ov_len);
    overlay[ov_len] = 0;
    return true;
}

static int read_san(X509 *x, struct cred_info *info)
{
    int crit = 0;
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    if (!gens)
        return crit == -1 ? 0 : CRED_E_MALFORMED; /* -1: absent; else duplicated or bad */
    int rc = 0;
    bool have_user = false;
    for (int i = 0; rc == 0 && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        int type;
        const ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);
        if (type != GEN_EMAIL && type != GEN_URI) {
            rc = CRED_E_MALFORMED; /* §11.3: no identities beyond these */
            break;
        }
        const char *text = (const char *)ASN1_STRING_get0_data(s);
        size_t len = (size_t)ASN1_STRING_length(s);
        if (memchr(text, 0, len)) {
            rc = CRED_E_MALFORMED;
        } else if (type == GEN_EMAIL) {
            if (have_user || !user_ok(text, len))
                rc = CRED_E_MALFORMED;
            else {
                memcpy(info->user, text, len);
                info->user[len] = 0;
                have_user = true;
            }
        } else {
            char ov[CRED_MAX_OVERLAY + 1];
            struct id node;
            if (info->n_nodes == CRED_MAX_NODES || !parse_node_uri(text, len, &node, ov) ||
                (info->n_nodes > 0 && strcmp(ov, info->overlay) != 0))
                rc = CRED_E_MALFORMED;
            else {
                g_strlcpy(info->overlay, ov, sizeof info->overlay);
                info->nodes[info->n_nodes++] = node;
            }
        }
    }
    GENERAL_NAMES_free(gens);
    return rc;
}

static int read_info(X509 *x, struct cred_info *info)
{
    memset(info, 0, sizeof *info);
    info->not_before = asn1_time_seconds(X509_get0_notBefore(x));
    info->not_after = asn1_time_seconds(X509_get0_notAfter(x));
    if (info->not_before < 0 || info->not_after < 0 || !X509_get0_pubkey(x))
        return CRED_E_MALFORMED;
    int crit = 0;
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
    if (!bc && crit != -1)
        return CRED_E_MALFORMED;
    info->is_ca = bc && bc->ca;
    BASIC_CONSTRAINTS_free(bc);
    info->self_issued = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
    int rc = read_san(x, info);
    if (rc)
        return rc;
    if (info->is_ca) {
        char cn[CRED_MAX_OVERLAY + sizeof CRED_CA_SUFFIX + 1] = "";
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
        char *suffix = g_strrstr(cn, CRED_CA_SUFFIX);
        if (suffix && suffix[strlen(CRED_CA_SUFFIX)] == 0)
            *suffix = 0;
        if (!info->overlay[0])
            g_strlcpy(info->overlay, cn, sizeof info->overlay);
        return 0;
    }
    return info->user[0] && info->n_nodes > 0 ? 0 : CRED_E_MALFORMED;
}

/* ---- making credentials ------------------------------------------------------------------- */

int cred_ca_new(const char *overlay, int64_t not_before, int64_t not_after, struct cred **out)
{
    *out = NULL;
    if (!overlay || !overlay_ok(overlay, strlen(overlay)) || !window_ok(not_before, not_after))
        return CRED_E_INVALID_ARG;
    struct cred *c = cred_alloc();
    c->key = key_new();
    c->cert = c->key ? cert_skeleton(c->key, not_before, not_after) : NULL;
    bool ok = c->cert != NULL;
    if (ok) {
        char *cn = g_strconcat(overlay, CRED_CA_SUFFIX, NULL);
        X509_NAME *name = X509_get_subject_name(c->cert);
        ok = X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                        (const unsigned char *)cn, -1, -1, 0) &&
             X509_set_issuer_name(c->cert, name) &&
             add_ext_conf(c->cert, NID_basic_constraints, "critical,CA:TRUE") &&
             add_ext_conf(c->cert, NID_key_usage, "critical,keyCertSign,cRLSign") &&
             X509_sign(c->cert, c->key, EVP_sha256()) > 0;
        g_free(cn);
    }
    if (!ok || read_info(c->cert, &c->info) != 0) {
        cred_free(c);
        return CRED_E_CRYPTO;
    }
    *out = c;
    return 0;
}

/* A user certificate for key with the given Node-IDs, signed by signer (issuer name from
 * issuer_cert, or its own empty name when self-signed). */
static int make_user(EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer_cert, const char *overlay,
                     const char *user, const struct id *nodes, unsigned n, int64_t not_before,
                     int64_t not_after, struct cred *c)
{
    c->cert = cert_skeleton(key, not_before, not_after);
    bool ok = c->cert &&
              (!issuer_cert || X509_set_issuer_name(c->cert, X509_get_subject_name(issuer_cert))) &&
              add_ext_conf(c->cert, NID_basic_constraints, "critical,CA:FALSE") &&
              add_ext_conf(c->cert, NID_key_usage, "critical,digitalSignature") &&
              add_reload_san(c->cert, user, overlay, nodes, n) &&
              X509_sign(c->cert, signer, EVP_sha256()) > 0;
    if (!ok || read_info(c->cert, &c->info) != 0)
        return CRED_E_CRYPTO;
    return 0;
}

static int check_user_args(const char *user, unsigned n_nodes, int64_t nb, int64_t na)
{
    if (!user || !user_ok(user, strlen(user)) || n_nodes < 1 || n_nodes > CRED_MAX_NODES ||
        !window_ok(nb, na))
        return CRED_E_INVALID_ARG;
    return 0;
}

int cred_enroll(const struct cred *ca, const char *user, unsigned n_nodes, const struct id *nodes,
                int64_t not_before, int64_t not_after, struct cred **out)
{
    *out = NULL;
    int rc = check_user_args(user, n_nodes, not_before, not_after);
    if (rc)
        return rc;
    if (!ca || !ca->key || !ca->info.is_ca)
        return CRED_E_INVALID_ARG;
    struct id ids[CRED_MAX_NODES];
    for (unsigned i = 0; i < n_nodes; i++) {
        if (nodes) {
            ids[i] = nodes[i];
            continue;
        }
        uint8_t b[ID_BYTES];
        do {
            if (RAND_bytes(b, sizeof b) != 1)
                return CRED_E_CRYPTO;
            ids[i] = id_from_bytes(b);
        } while (id_is_wildcard(&ids[i]));
    }
    struct cred *c = cred_alloc();
    c->key = key_new();
    rc = c->key ? make_user(c->key, ca->key, ca->cert, ca->info.overlay, user, ids, n_nodes,
                            not_before, not_after, c)
                : CRED_E_CRYPTO;
    if (rc) {
        cred_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int cred_self_node_id(EVP_PKEY *key, uint32_t index, struct id *out)
{
    unsigned char *spki = NULL;
    int len = i2d_PUBKEY(key, &spki);
    if (len <= 0)
        return CRED_E_CRYPTO;
    uint8_t d[EVP_MAX_MD_SIZE];
    uint8_t be[4] = {index >> 24, index >> 16, index >> 8, index};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
              (index == 0 || EVP_DigestUpdate(ctx, be, sizeof be)) &&
              EVP_DigestUpdate(ctx, spki, (size_t)len) && EVP_DigestFinal_ex(ctx, d, NULL);
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        OPENSSL_free(spki);
        return CRED_E_CRYPTO;
    }
    OPENSSL_free(spki);
    *out = id_from_bytes(d);
    return 0;
}

int cred_self_signed(const char *overlay, const char *user, unsigned n_nodes, int64_t not_before,
                     int64_t not_after, struct cred **out)
{
    *out = NULL;
    int rc = check_user_args(user, n_nodes, not_before, not_after);
    if (rc)
        return rc;
    if (!overlay || !overlay_ok(overlay, strlen(overlay)))
        return CRED_E_INVALID_ARG;
    struct cred *c = cred_alloc();
    c->key = key_new();
    struct id ids[CRED_MAX_NODES];
    rc = c->key ? 0 : CRED_E_CRYPTO;
    for (unsigned i = 0; rc == 0 && i < n_nodes; i++)
        rc = cred_self_node_id(c->key, n_nodes == 1 ? 0 : i + 1, &ids[i]);
    if (rc == 0)
        rc = make_user(c->key, c->key, NULL, overlay, user, ids, n_nodes, not_before, not_after, c);
    if (rc) {
        cred_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* ---- parsing and verification ------------------------------------------------------------- */

int cred_from_der(const uint8_t *der, size_t len, struct cred **out)
{
    *out = NULL;
    if (!der || len == 0 || len > INT32_MAX)
        return CRED_E_MALFORMED;
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x || p != der + len) {
        X509_free(x);
        return CRED_E_MALFORMED;
    }
    /* DER only: d2i_X509 also takes some BER (found by fuzz/fuzz_cert.c: a signature BIT
     * STRING with unused bits set), which would re-encode (cred_to_der, the SignerIdentity
     * hash) to other bytes than those received. */
    unsigned char *re = NULL;
    int re_len = i2d_X509(x, &re);
    bool canonical = re_len == (int)len && memcmp(re, der, len) == 0;
    OPENSSL_free(re);
    if (!canonical) {
        X509_free(x);
        return CRED_E_MALFORMED;
    }
    struct cred *c = cred_alloc();
    c->cert = x;
    int rc = read_info(x, &c->info);
    if (rc) {
        cred_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void cred_to_der(const struct cred *c, GByteArray *out)
{
    unsigned char *der = NULL;
    int len = i2d_X509(c->cert, &der);
    g_assert(len > 0);
    g_byte_array_append(out, der, (guint)len);
    OPENSSL_free(der);
}

static int window_check(const struct cred_info *info, int64_t now)
{
    if (now < info->not_before)
        return CRED_E_NOT_YET_VALID;
    if (now > info->not_after)
        return CRED_E_EXPIRED;
    return 0;
}

static int verify_chain(const struct cred *c, const struct cred *ca, int64_t now)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = CRED_E_CRYPTO;
    if (store && ctx && X509_STORE_add_cert(store, ca->cert) &&
        X509_STORE_CTX_init(ctx, store, c->cert, NULL)) {
        X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)now);
        if (X509_verify_cert(ctx) == 1) {
            rc = 0;
        } else {
            int err = X509_STORE_CTX_get_error(ctx);
            rc = err == X509_V_ERR_CERT_HAS_EXPIRED     ? CRED_E_EXPIRED
                 : err == X509_V_ERR_CERT_NOT_YET_VALID ? CRED_E_NOT_YET_VALID
                                                        : CRED_E_UNTRUSTED;
        }
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

int cred_verify(const struct cred *c, const struct cred *ca, int64_t now)
{
    if (!c || !c->cert || c->info.is_ca || !c->info.user[0] || c->info.n_nodes == 0)
        return CRED_E_MALFORMED;
    if (ca) {
        if (!ca->cert || !ca->info.is_ca)
            return CRED_E_UNTRUSTED;
        int rc = verify_chain(c, ca, now);
        if (rc)
            return rc;
        /* OpenSSL checked both windows; our own check makes the answer independent of its
         * order of checks. */
        return window_check(&c->info, now);
    }
    EVP_PKEY *pub = X509_get0_pubkey(c->cert);
    if (!pub || !c->info.self_issued || X509_verify(c->cert, pub) != 1)
        return CRED_E_UNTRUSTED;
    int rc = window_check(&c->info, now);
    if (rc)
        return rc;
    for (unsigned i = 0; i < c->info.n_nodes; i++) {
        struct id want;
        if (cred_self_node_id(pub, c->info.n_nodes == 1 ? 0 : i + 1, &want) != 0)
            return CRED_E_CRYPTO;
        if (!id_eq(&want, &c->info.nodes[i]))
            return CRED_E_NODE_MISMATCH;
    }
    return 0;
}

/* ---- PEM files ------------------------------------------------------------------------------ */

static FILE *open_write(const char *path, mode_t mode, GError **error)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", path,
                    g_strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    return f;
}

static bool close_ok(FILE *f, bool wrote, const char *path, GError **error)
{
    bool ok = fclose(f) == 0 && wrote;
    if (!ok)
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_IO, "%s: write failed", path);
    return ok;
}

bool cred_save(const struct cred *c, const char *key_path, const char *cert_path, GError **error)
{
    if (key_path && c->key) {
        FILE *f = open_write(key_path, 0600, error);
        if (!f)
            return false;
        bool wrote = PEM_write_PrivateKey(f, c->key, NULL, NULL, 0, NULL, NULL) == 1;
        if (!close_ok(f, wrote, key_path, error))
            return false;
    }
    FILE *f = open_write(cert_path, 0644, error);
    if (!f)
        return false;
    bool wrote = PEM_write_X509(f, c->cert) == 1;
    return close_ok(f, wrote, cert_path, error);
}

static FILE *open_read(const char *path, GError **error)
{
    FILE *f = fopen(path, "r");
    if (!f)
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", path,
                    g_strerror(errno));
    return f;
}

struct cred *cred_load(const char *key_path, const char *cert_path, GError **error)
{
    FILE *f = open_read(cert_path, error);
    if (!f)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: not a PEM certificate",
                    cert_path);
        return NULL;
    }
    struct cred *c = cred_alloc();
    c->cert = x;
    int rc = read_info(x, &c->info);
    if (rc) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s", cert_path,
                    cred_strerror(rc));
        cred_free(c);
        return NULL;
    }
    if (key_path) {
        f = open_read(key_path, error);
        if (!f) {
            cred_free(c);
            return NULL;
        }
        c->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (!c->key || X509_check_private_key(x, c->key) != 1) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s: not a PEM private key matching %s", key_path, cert_path);
            cred_free(c);
            return NULL;
        }
    }
    return c;
}
