/* test_sec.c — CUnit suite for sec/: credentials (sec/cred.h; RFC 6940 §11.3, §11.3.1, §13.3),
 * signatures (sec/sig.h; §6.3.4, §7.1) and access control (§7.3).
 *
 * Covers: a CA-enrolled certificate verifies and yields its user and Node-IDs, also after a
 * DER round trip; another CA's certificate is refused; expired and not-yet-valid windows are
 * refused (made with past or future windows, checked at a fixed `now`); self-signed
 * credentials and their Node-ID check; malformed certificate bytes; a signed message through
 * the codec verifies and tampering with it fails; StoredData signatures through a Store;
 * USER-MATCH, NODE-MATCH, USER-NODE-MATCH and NODE-MULTIPLE decisions; malformed Signature
 * structures and certificate buckets; PEM files.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "../core/wire.h"
#include "../sec/cred.h"
#include "../sec/sig.h"

#define NOW ((int64_t)1800000000) /* a fixed "now" (2027-01-15) */
#define DAY ((int64_t)86400)
#define OVERLAY "sec.example"

static struct cred *new_ca(void)
{
    struct cred *ca = NULL;
    CU_ASSERT_EQUAL_FATAL(cred_ca_new(OVERLAY, NOW - DAY, NOW + 365 * DAY, &ca), 0);
    return ca;
}

static struct cred *enroll(const struct cred *ca, const char *user, unsigned n,
                           const struct id *nodes)
{
    struct cred *c = NULL;
    CU_ASSERT_EQUAL_FATAL(cred_enroll(ca, user, n, nodes, NOW - DAY, NOW + 30 * DAY, &c), 0);
    return c;
}

static struct id node_n(uint64_t n)
{
    return (struct id){0x1234567800000000ull, n};
}

static uint8_t *id_bytes(const struct id *a, uint8_t b[ID_BYTES])
{
    id_to_bytes(a, b);
    return b;
}

/* ---- credentials ------------------------------------------------------------------------- */

static void test_enroll_verifies(void)
{
    struct cred *ca = new_ca();
    CU_ASSERT(ca->info.is_ca);
    CU_ASSERT_STRING_EQUAL(ca->info.overlay, OVERLAY);
    struct id nodes[2] = {node_n(1), node_n(2)};
    struct cred *c = enroll(ca, "alice@sec.example", 2, nodes);
    CU_ASSERT_EQUAL(cred_verify(c, ca, NOW), 0);
    CU_ASSERT_STRING_EQUAL(c->info.user, "alice@sec.example");
    CU_ASSERT_STRING_EQUAL(c->info.overlay, OVERLAY);
    CU_ASSERT_EQUAL(c->info.n_nodes, 2);
    CU_ASSERT(id_eq(&c->info.nodes[0], &nodes[0]) && id_eq(&c->info.nodes[1], &nodes[1]));
    CU_ASSERT_FALSE(c->info.is_ca);
    CU_ASSERT_EQUAL(c->info.not_before, NOW - DAY);
    CU_ASSERT_EQUAL(c->info.not_after, NOW + 30 * DAY);

    /* What a receiver sees: the DER of a GenericCertificate. */
    GByteArray *der = g_byte_array_new();
    cred_to_der(c, der);
    struct cred *r = NULL;
    CU_ASSERT_EQUAL_FATAL(cred_from_der(der->data, der->len, &r), 0);
    CU_ASSERT_PTR_NULL(r->key);
    CU_ASSERT_STRING_EQUAL(r->info.user, "alice@sec.example");
    CU_ASSERT(id_eq(&r->info.nodes[1], &nodes[1]));
    CU_ASSERT_EQUAL(cred_verify(r, ca, NOW), 0);

    /* The subjectAltName holds the rfc822Name and RELOAD URIs (§11.3, §14.15). */
    GENERAL_NAMES *gens = X509_get_ext_d2i(r->cert, NID_subject_alt_name, NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(sk_GENERAL_NAME_num(gens), 3);
    int type;
    const ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, 1), &type);
    CU_ASSERT_EQUAL(type, GEN_URI);
    CU_ASSERT_STRING_EQUAL((const char *)ASN1_STRING_get0_data(s),
                           "reload://011012345678000000000000000000000001@sec.example/");
    GENERAL_NAMES_free(gens);
    CU_ASSERT_EQUAL(X509_NAME_entry_count(X509_get_subject_name(r->cert)), 0);

    /* Random Node-IDs when none are given; a bad user name is refused. */
    struct cred *b = enroll(ca, "bob@sec.example", 3, NULL);
    CU_ASSERT_EQUAL(b->info.n_nodes, 3);
    CU_ASSERT_FALSE(id_eq(&b->info.nodes[0], &b->info.nodes[1]));
    struct cred *bad = NULL;
    CU_ASSERT_EQUAL(cred_enroll(ca, "has space", 1, NULL, NOW, NOW + DAY, &bad),
                    CRED_E_INVALID_ARG);
    CU_ASSERT_EQUAL(cred_enroll(ca, "", 1, NULL, NOW, NOW + DAY, &bad), CRED_E_INVALID_ARG);
    CU_ASSERT_EQUAL(cred_enroll(ca, "x", 0, NULL, NOW, NOW + DAY, &bad), CRED_E_INVALID_ARG);
    CU_ASSERT_EQUAL(cred_enroll(ca, "x", 1, NULL, NOW, NOW - DAY, &bad), CRED_E_INVALID_ARG);
    CU_ASSERT_EQUAL(cred_enroll(c, "x", 1, NULL, NOW, NOW + DAY, &bad), CRED_E_INVALID_ARG);
    CU_ASSERT_EQUAL(cred_ca_new("bad/name", NOW, NOW + DAY, &bad), CRED_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(bad);
    g_byte_array_unref(der);
    cred_free(b);
    cred_free(r);
    cred_free(c);
    cred_free(ca);
}

static void test_other_ca_refused(void)
{
    struct cred *ca = new_ca(), *other = new_ca(); /* same overlay, same CA name */
    struct cred *c = enroll(other, "mallory@sec.example", 1, NULL);
    CU_ASSERT_EQUAL(cred_verify(c, other, NOW), 0);
    CU_ASSERT_EQUAL(cred_verify(c, ca, NOW), CRED_E_UNTRUSTED);
    /* A CA-issued certificate is not self-signed, and a CA is not a user. */
    CU_ASSERT_EQUAL(cred_verify(c, NULL, NOW), CRED_E_UNTRUSTED);
    CU_ASSERT_EQUAL(cred_verify(ca, ca, NOW), CRED_E_MALFORMED);
    /* A user certificate is no trust anchor. */
    struct cred *d = enroll(ca, "dave@sec.example", 1, NULL);
    CU_ASSERT_EQUAL(cred_verify(d, c, NOW), CRED_E_UNTRUSTED);
    cred_free(d);
    cred_free(c);
    cred_free(other);
    cred_free(ca);
}

static void test_validity_window(void)
{
    struct cred *ca = NULL, *c = NULL;
    CU_ASSERT_EQUAL_FATAL(cred_ca_new(OVERLAY, NOW - 30 * DAY, NOW + 30 * DAY, &ca), 0);
    CU_ASSERT_EQUAL_FATAL(
        cred_enroll(ca, "old@sec.example", 1, NULL, NOW - 10 * DAY, NOW - DAY, &c), 0);
    CU_ASSERT_EQUAL(cred_verify(c, ca, NOW), CRED_E_EXPIRED);
    CU_ASSERT_EQUAL(cred_verify(c, ca, NOW - 5 * DAY), 0); /* it was valid then */
    CU_ASSERT_EQUAL(cred_verify(c, ca, NOW - 31 * DAY), CRED_E_NOT_YET_VALID); /* before the CA */
    cred_free(c);
    CU_ASSERT_EQUAL_FATAL(cred_enroll(ca, "new@sec.example", 1, NULL, NOW + DAY, NOW + 9 * DAY, &c),
                          0);
    CU_ASSERT_EQUAL(cred_verify(c, ca, NOW), CRED_E_NOT_YET_VALID);
    cred_free(c);
    /* An expired CA vouches for nothing, even within the user's own window. */
    struct cred *old_ca = NULL;
    CU_ASSERT_EQUAL_FATAL(cred_ca_new(OVERLAY, NOW - 10 * DAY, NOW - DAY, &old_ca), 0);
    CU_ASSERT_EQUAL_FATAL(
        cred_enroll(old_ca, "u@sec.example", 1, NULL, NOW - 2 * DAY, NOW + DAY, &c), 0);
    CU_ASSERT_EQUAL(cred_verify(c, old_ca, NOW), CRED_E_EXPIRED);
    cred_free(c);
    cred_free(old_ca);
    cred_free(ca);
}

/* A self-issued certificate for key with the given SAN text, signed by key. */
static struct cred *hand_made(EVP_PKEY *key, const char *san)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(NOW - DAY));
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(NOW + DAY));
    X509_set_pubkey(x, key);
    if (san) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, (char *)san);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    CU_ASSERT_FATAL(X509_sign(x, key, EVP_sha256()) > 0);
    GByteArray *der = g_byte_array_new();
    unsigned char *p = NULL;
    int len = i2d_X509(x, &p);
    g_byte_array_append(der, p, (guint)len);
    OPENSSL_free(p);
    X509_free(x);
    struct cred *c = NULL;
    int rc = cred_from_der(der->data, der->len, &c);
    g_byte_array_unref(der);
    return rc == 0 ? c : NULL;
}

static void test_self_signed(void)
{
    struct cred *c = NULL;
    CU_ASSERT_EQUAL_FATAL(cred_self_signed(OVERLAY, "carol", 1, NOW - DAY, NOW + DAY, &c), 0);
    CU_ASSERT(c->info.self_issued);
    CU_ASSERT_EQUAL(cred_verify(c, NULL, NOW), 0);
    struct id want;
    CU_ASSERT_EQUAL(cred_self_node_id(c->key, 0, &want), 0);
    CU_ASSERT(id_eq(&c->info.nodes[0], &want));
    CU_ASSERT_EQUAL(cred_verify(c, NULL, NOW + 2 * DAY), CRED_E_EXPIRED);
    struct cred *ca = new_ca();
    CU_ASSERT_EQUAL(cred_verify(c, ca, NOW), CRED_E_UNTRUSTED); /* not from the overlay CA */
    cred_free(ca);

    struct cred *m = NULL;
    CU_ASSERT_EQUAL_FATAL(cred_self_signed(OVERLAY, "carol", 3, NOW - DAY, NOW + DAY, &m), 0);
    CU_ASSERT_EQUAL(cred_verify(m, NULL, NOW), 0);
    CU_ASSERT_EQUAL(cred_self_node_id(m->key, 2, &want), 0);
    CU_ASSERT(id_eq(&m->info.nodes[1], &want));

    /* Node-ID theft: a self-signed certificate claiming someone else's Node-ID. */
    char hex[ID_HEX_LEN + 1];
    id_to_hex(&c->info.nodes[0], hex);
    char *san = g_strdup_printf("critical,email:eve,URI:reload://0110%s@" OVERLAY "/", hex);
    struct cred *thief = hand_made(m->key, san);
    CU_ASSERT_PTR_NOT_NULL_FATAL(thief);
    CU_ASSERT_EQUAL(cred_verify(thief, NULL, NOW), CRED_E_NODE_MISMATCH);
    g_free(san);
    cred_free(thief);
    cred_free(m);
    cred_free(c);
}

static void test_malformed_certificates(void)
{
    struct cred *ca = new_ca(), *r = NULL;
    struct cred *c = enroll(ca, "alice@sec.example", 1, NULL);
    GByteArray *der = g_byte_array_new();
    cred_to_der(c, der);
    CU_ASSERT_EQUAL(cred_from_der(der->data, 0, &r), CRED_E_MALFORMED);
    CU_ASSERT_EQUAL(cred_from_der(NULL, 10, &r), CRED_E_MALFORMED);
    for (guint cut = 1; cut < der->len; cut += 7)
        CU_ASSERT_EQUAL(cred_from_der(der->data, cut, &r), CRED_E_MALFORMED);
    g_byte_array_append(der, (const guint8 *)"x", 1); /* trailing byte */
    CU_ASSERT_EQUAL(cred_from_der(der->data, der->len, &r), CRED_E_MALFORMED);
    g_byte_array_set_size(der, der->len - 1);
    /* Flipped bytes: either refused as malformed or, if it still parses, refused by the CA. */
    GRand *rng = g_rand_new_with_seed(7);
    for (int i = 0; i < 300; i++) {
        GByteArray *m = g_byte_array_new();
        g_byte_array_append(m, der->data, der->len);
        m->data[g_rand_int_range(rng, 0, (gint32)m->len)] ^= (uint8_t)g_rand_int_range(rng, 1, 256);
        if (cred_from_der(m->data, m->len, &r) == 0) {
            CU_ASSERT_NOT_EQUAL(cred_verify(r, ca, NOW), 0);
            cred_free(r);
        }
        g_byte_array_unref(m);
    }
    g_rand_free(rng);
    CU_ASSERT_PTR_NULL(hand_made(c->key, NULL)); /* no user name, no Node-ID */
    CU_ASSERT_PTR_NULL(hand_made(c->key, "critical,email:a,URI:http://x/"));
    CU_ASSERT_PTR_NULL(hand_made(c->key, "critical,email:a,email:b,URI:reload://0110"
                                         "00000000000000000000000000000001@o/"));
    CU_ASSERT_PTR_NULL(hand_made(c->key, "critical,email:a,URI:reload://0110"
                                         "0000000000000000000000000000001@o/")); /* 31 digits */
    CU_ASSERT_PTR_NULL(hand_made(c->key, "critical,email:a,DNS:example.com,URI:reload://0110"
                                         "00000000000000000000000000000001@o/"));
    g_byte_array_unref(der);
    cred_free(c);
    cred_free(ca);
}

static void test_pem_files(void)
{
    char *dir = g_dir_make_tmp("p2psip-sec-XXXXXX", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    char *key = g_build_filename(dir, "a.key", NULL), *pem = g_build_filename(dir, "a.pem", NULL);
    char *key2 = g_build_filename(dir, "b.key", NULL), *pem2 = g_build_filename(dir, "b.pem", NULL);
    struct cred *ca = new_ca();
    struct cred *a = enroll(ca, "alice@sec.example", 1, NULL);
    struct cred *b = enroll(ca, "bob@sec.example", 1, NULL);
    CU_ASSERT(cred_save(a, key, pem, NULL));
    CU_ASSERT(cred_save(b, key2, pem2, NULL));
    GError *err = NULL;
    struct cred *l = cred_load(key, pem, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_STRING_EQUAL(l->info.user, "alice@sec.example");
    CU_ASSERT_EQUAL(cred_verify(l, ca, NOW), 0);
    CU_ASSERT_PTR_NULL(cred_load(key2, pem, &err)); /* bob's key with alice's certificate */
    CU_ASSERT_PTR_NOT_NULL(err);
    g_clear_error(&err);
    CU_ASSERT_PTR_NULL(cred_load(NULL, key, &err)); /* a key is no certificate */
    g_clear_error(&err);
    GStatBuf st;
    CU_ASSERT(g_stat(key, &st) == 0 && (st.st_mode & 077) == 0);
    cred_free(l);
    cred_free(a);
    cred_free(b);
    cred_free(ca);
    g_unlink(key);
    g_unlink(pem);
    g_unlink(key2);
    g_unlink(pem2);
    g_rmdir(dir);
    g_free(key);
    g_free(pem);
    g_free(key2);
    g_free(pem2);
    g_free(dir);
}

/* ---- signatures --------------------------------------------------------------------------- */

/* Encodes a PingReq-like message from `signer` with its signature and certificate. */
static void signed_message(GByteArray *out, const struct cred *signer, const struct id *node)
{
    struct wire_header h = {.overlay = id_overlay_hash(OVERLAY),
                            .version = WIRE_VERSION,
                            .ttl = 100,
                            .fragment = WIRE_FRAGMENT_LAST,
                            .txid = 0x0102030405060708ull,
                            .max_response_length = 0,
                            .n_dest = 1};
    uint8_t dest[ID_BYTES] = {9};
    wire_dest_node(&h.dest[0], dest);
    const uint8_t payload[] = "padding-bytes";
    struct wire_bytes body = {payload, sizeof payload};
    /* MessageContents as the encoder lays them out: code, body<4>, extensions<4>. */
    GByteArray *contents = g_byte_array_new();
    uint8_t head[6] = {0, WIRE_PING_REQ, 0, 0, 0, sizeof payload};
    g_byte_array_append(contents, head, 6);
    g_byte_array_append(contents, payload, sizeof payload);
    g_byte_array_append(contents, (const guint8 *)"\0\0\0\0", 4);
    GByteArray *in = g_byte_array_new();
    wire_message_input(in, h.overlay, h.txid, contents->data, contents->len);
    struct sig_signature s;
    CU_ASSERT_EQUAL_FATAL(sig_sign(signer, node, in->data, in->len, &s), 0);
    GByteArray *bucket = g_byte_array_new();
    sig_add_certificate(bucket, signer);
    struct wire_security sec = {.certificates = {bucket->data, bucket->len}};
    sig_view(&s, &sec.sig);
    wire_encode_message(out, &h, WIRE_PING_REQ, &body, NULL, &sec);
    sig_signature_clear(&s);
    g_byte_array_unref(bucket);
    g_byte_array_unref(in);
    g_byte_array_unref(contents);
}

/* What a receiver does: decode, find the signer, check its certificate, verify. */
static int check_message(const uint8_t *buf, size_t len, const struct cred *ca, struct id *node)
{
    struct wire_message m;
    if (wire_decode_message(buf, len, &m) != 0)
        return -100;
    struct cred *signer = NULL;
    int rc = sig_find_signer(m.sec.certificates, &m.sec.sig, &signer, node);
    if (rc)
        return rc;
    rc = cred_verify(signer, ca, NOW) ? -200 : 0;
    if (rc == 0) {
        struct wire_bytes c = wire_message_contents(buf, &m);
        GByteArray *in = g_byte_array_new();
        wire_message_input(in, m.h.overlay, m.h.txid, c.p, c.len);
        rc = sig_verify(&m.sec.sig, signer, in->data, in->len);
        g_byte_array_unref(in);
    }
    cred_free(signer);
    return rc;
}

static void test_message_signature(void)
{
    struct cred *ca = new_ca();
    struct cred *a = enroll(ca, "alice@sec.example", 1, NULL);
    GByteArray *msg = g_byte_array_new();
    signed_message(msg, a, NULL);
    struct id node;
    CU_ASSERT_EQUAL(check_message(msg->data, msg->len, ca, &node), 0);
    CU_ASSERT(id_eq(&node, &a->info.nodes[0]));
    struct wire_message m;
    CU_ASSERT_EQUAL_FATAL(wire_decode_message(msg->data, msg->len, &m), 0);
    CU_ASSERT_EQUAL(m.sec.sig.hash_alg, SIG_HASH_SHA256);
    CU_ASSERT_EQUAL(m.sec.sig.sig_alg, SIG_ALG_ECDSA);
    CU_ASSERT_EQUAL(m.sec.sig.identity_type, WIRE_SIGNER_CERT_HASH);

    /* Tampering: a byte of the body, of the transaction id, of the signature. */
    size_t body_at = (size_t)(m.body.p - msg->data);
    size_t sig_at = (size_t)(m.sec.sig.value.p - msg->data);
    size_t spots[] = {body_at + 3, 20 /* txid */, sig_at + m.sec.sig.value.len / 2};
    for (size_t i = 0; i < G_N_ELEMENTS(spots); i++) {
        msg->data[spots[i]] ^= 0x40;
        int rc = check_message(msg->data, msg->len, ca, &node);
        CU_ASSERT(rc == SIG_E_BAD_SIGNATURE || rc == -100);
        CU_ASSERT_NOT_EQUAL(rc, 0);
        msg->data[spots[i]] ^= 0x40;
    }
    CU_ASSERT_EQUAL(check_message(msg->data, msg->len, ca, &node), 0);

    /* A multi-Node-ID certificate signs as one of its Node-IDs (cert_hash_node_id). */
    struct id nodes[2] = {node_n(5), node_n(6)};
    struct cred *b = enroll(ca, "bob@sec.example", 2, nodes);
    struct sig_signature s;
    CU_ASSERT_EQUAL(sig_sign(b, NULL, (const uint8_t *)"x", 1, &s), SIG_E_INVALID_ARG);
    struct id stranger = node_n(7);
    CU_ASSERT_EQUAL(sig_sign(b, &stranger, (const uint8_t *)"x", 1, &s), SIG_E_INVALID_ARG);
    g_byte_array_set_size(msg, 0);
    signed_message(msg, b, &nodes[1]);
    CU_ASSERT_EQUAL(check_message(msg->data, msg->len, ca, &node), 0);
    CU_ASSERT(id_eq(&node, &nodes[1]));
    /* Bob's signature checked with Alice's certificate names nobody. */
    CU_ASSERT_EQUAL_FATAL(wire_decode_message(msg->data, msg->len, &m), 0);
    CU_ASSERT_EQUAL(sig_verify(&m.sec.sig, a, (const uint8_t *)"x", 1), SIG_E_UNKNOWN_SIGNER);
    g_byte_array_unref(msg);
    cred_free(b);
    cred_free(a);
    cred_free(ca);
}

static int model_of(uint32_t kind, void *ud)
{
    return kind == 77 ? WIRE_MODEL_DICTIONARY : WIRE_MODEL_SINGLE;
}

/* Signs a StoredData as `signer` for resource/kind; value and model from the arguments. */
static void sign_data(const struct cred *signer, const struct id *node, const uint8_t *res,
                      uint32_t kind, struct wire_stored_data *d, struct sig_signature *s)
{
    GByteArray *in = g_byte_array_new();
    wire_stored_data_input(in, res, ID_BYTES, kind, d);
    CU_ASSERT_EQUAL_FATAL(sig_sign(signer, node, in->data, in->len, s), 0);
    sig_view(s, &d->sig);
    g_byte_array_unref(in);
}

static int verify_data(const struct cred *signer, const uint8_t *res, uint32_t kind,
                       const struct wire_stored_data *d)
{
    GByteArray *in = g_byte_array_new();
    wire_stored_data_input(in, res, ID_BYTES, kind, d);
    int rc = sig_verify(&d->sig, signer, in->data, in->len);
    g_byte_array_unref(in);
    return rc;
}

static void test_stored_data_user_match(void)
{
    struct cred *ca = new_ca();
    struct cred *a = enroll(ca, "alice@sec.example", 1, NULL);
    struct cred *m = enroll(ca, "mallory@sec.example", 1, NULL);
    struct id rid = id_hash("alice@sec.example", strlen("alice@sec.example"));
    uint8_t res[ID_BYTES];
    id_to_bytes(&rid, res);
    const uint8_t val[] = "sip:alice@192.0.2.1";
    struct wire_stored_data d = {.storage_time = 1234,
                                 .lifetime = 60,
                                 .model = WIRE_MODEL_SINGLE,
                                 .exists = true,
                                 .value = {val, sizeof val}};
    struct sig_signature s;
    sign_data(a, NULL, res, 1, &d, &s);

    /* Through the Store codec: the signature travels inside the StoredData. */
    struct wire_store_kind k = {.kind = 1, .generation = 0, .n_values = 1, .values = &d};
    struct wire_store_req req = {.resource = {res, ID_BYTES}, .n_kinds = 1, .kinds = &k};
    GByteArray *buf = g_byte_array_new();
    wire_encode_store_req(buf, &req);
    struct wire_store_req got;
    CU_ASSERT_EQUAL_FATAL(wire_decode_store_req(buf->data, buf->len, &got, model_of, NULL), 0);
    struct wire_stored_data *gd = &got.kinds[0].values[0];
    CU_ASSERT_EQUAL(verify_data(a, got.resource.p, 1, gd), 0);
    CU_ASSERT_EQUAL(sig_access_check(CONFIG_ACCESS_USER_MATCH, 0, got.resource.p, got.resource.len,
                                     gd, &a->info, &a->info.nodes[0]),
                    0);
    /* The signature covers kind, resource and storage time, not only the value. */
    CU_ASSERT_EQUAL(verify_data(a, got.resource.p, 2, gd), SIG_E_BAD_SIGNATURE);
    gd->storage_time++;
    CU_ASSERT_EQUAL(verify_data(a, got.resource.p, 1, gd), SIG_E_BAD_SIGNATURE);
    gd->storage_time--;
    uint8_t other[ID_BYTES] = {1};
    CU_ASSERT_EQUAL(verify_data(a, other, 1, gd), SIG_E_BAD_SIGNATURE);
    wire_store_req_clear(&got);
    g_byte_array_unref(buf);

    /* Mallory's Store at Alice's Resource-ID: a good signature, the wrong user. */
    struct sig_signature ms;
    struct wire_stored_data md = d;
    sign_data(m, NULL, res, 1, &md, &ms);
    CU_ASSERT_EQUAL(verify_data(m, res, 1, &md), 0);
    CU_ASSERT_EQUAL(sig_access_check(CONFIG_ACCESS_USER_MATCH, 0, res, ID_BYTES, &md, &m->info,
                                     &m->info.nodes[0]),
                    SIG_E_DENIED);
    /* ...nor can she pass it off as Alice's: her signature does not name Alice's certificate. */
    CU_ASSERT_EQUAL(verify_data(a, res, 1, &md), SIG_E_UNKNOWN_SIGNER);
    sig_signature_clear(&ms);
    sig_signature_clear(&s);
    cred_free(m);
    cred_free(a);
    cred_free(ca);
}

static void test_node_policies(void)
{
    struct cred *ca = new_ca();
    struct id nodes[2] = {node_n(11), node_n(12)};
    struct cred *c = enroll(ca, "nina@sec.example", 2, nodes);
    uint8_t nb[ID_BYTES + 4], res[ID_BYTES];
    struct wire_stored_data single = {.model = WIRE_MODEL_SINGLE, .exists = true};

    /* NODE-MATCH: Resource-ID = H(Node-ID), the Node-ID the signature names. */
    struct id rid = id_hash(id_bytes(&nodes[1], nb), ID_BYTES);
    id_to_bytes(&rid, res);
    CU_ASSERT_EQUAL(
        sig_access_check(CONFIG_ACCESS_NODE_MATCH, 0, res, ID_BYTES, &single, &c->info, &nodes[1]),
        0);
    CU_ASSERT_EQUAL(
        sig_access_check(CONFIG_ACCESS_NODE_MATCH, 0, res, ID_BYTES, &single, &c->info, &nodes[0]),
        SIG_E_DENIED);
    struct id stranger = node_n(13);
    CU_ASSERT_EQUAL(
        sig_access_check(CONFIG_ACCESS_NODE_MATCH, 0, res, ID_BYTES, &single, &c->info, &stranger),
        SIG_E_DENIED);
    CU_ASSERT_EQUAL(
        sig_access_check(CONFIG_ACCESS_NODE_MATCH, 0, res, 15, &single, &c->info, &nodes[1]),
        SIG_E_DENIED);
    CU_ASSERT_EQUAL(
        sig_access_check(CONFIG_ACCESS_USER_MATCH, 0, res, ID_BYTES, &single, &c->info, &nodes[1]),
        SIG_E_DENIED);

    /* USER-NODE-MATCH: H(user) and a dictionary key equal to the signing Node-ID. */
    rid = id_hash("nina@sec.example", strlen("nina@sec.example"));
    id_to_bytes(&rid, res);
    struct wire_stored_data dict = {
        .model = WIRE_MODEL_DICTIONARY, .exists = true, .key = {id_bytes(&nodes[0], nb), ID_BYTES}};
    CU_ASSERT_EQUAL(sig_access_check(CONFIG_ACCESS_USER_NODE_MATCH, 0, res, ID_BYTES, &dict,
                                     &c->info, &nodes[0]),
                    0);
    CU_ASSERT_EQUAL(sig_access_check(CONFIG_ACCESS_USER_NODE_MATCH, 0, res, ID_BYTES, &dict,
                                     &c->info, &nodes[1]),
                    SIG_E_DENIED); /* key is node 0 */
    CU_ASSERT_EQUAL(sig_access_check(CONFIG_ACCESS_USER_NODE_MATCH, 0, res, ID_BYTES, &single,
                                     &c->info, &nodes[0]),
                    SIG_E_DENIED);                                 /* not a dictionary */
    struct cred *o = enroll(ca, "otto@sec.example", 1, &nodes[0]); /* same Node-ID, other user */
    CU_ASSERT_EQUAL(sig_access_check(CONFIG_ACCESS_USER_NODE_MATCH, 0, res, ID_BYTES, &dict,
                                     &o->info, &nodes[0]),
                    SIG_E_DENIED);

    /* NODE-MULTIPLE: Resource-ID = H(Node-ID || i) for some 1 <= i <= max. */
    id_to_bytes(&nodes[0], nb);
    nb[16] = nb[17] = nb[18] = 0;
    nb[19] = 3;
    rid = id_hash(nb, sizeof nb);
    id_to_bytes(&rid, res);
    CU_ASSERT_EQUAL(sig_access_check(CONFIG_ACCESS_NODE_MULTIPLE, 5, res, ID_BYTES, &single,
                                     &c->info, &nodes[0]),
                    0);
    CU_ASSERT_EQUAL(sig_access_check(CONFIG_ACCESS_NODE_MULTIPLE, 3, res, ID_BYTES, &single,
                                     &c->info, &nodes[0]),
                    0);
    CU_ASSERT_EQUAL(sig_access_check(CONFIG_ACCESS_NODE_MULTIPLE, 2, res, ID_BYTES, &single,
                                     &c->info, &nodes[0]),
                    SIG_E_DENIED);
    CU_ASSERT_EQUAL(sig_access_check(CONFIG_ACCESS_NODE_MULTIPLE, 5, res, ID_BYTES, &single,
                                     &c->info, &nodes[1]),
                    SIG_E_DENIED);
    nb[19] = 0; /* i = 0 is not a counter value */
    rid = id_hash(nb, sizeof nb);
    id_to_bytes(&rid, res);
    CU_ASSERT_EQUAL(sig_access_check(CONFIG_ACCESS_NODE_MULTIPLE, 5, res, ID_BYTES, &single,
                                     &c->info, &nodes[0]),
                    SIG_E_DENIED);
    cred_free(o);
    cred_free(c);
    cred_free(ca);
}

static void test_malformed_signatures(void)
{
    struct cred *ca = new_ca();
    struct cred *a = enroll(ca, "alice@sec.example", 1, NULL);
    const uint8_t in[] = "input";
    struct sig_signature s;
    CU_ASSERT_EQUAL_FATAL(sig_sign(a, NULL, in, sizeof in, &s), 0);
    struct wire_signature w;
    sig_view(&s, &w);
    CU_ASSERT_EQUAL(sig_verify(&w, a, in, sizeof in), 0);
    GByteArray *enc = g_byte_array_new();
    wire_encode_signature(enc, &w);

    /* Every truncation is refused by the decoder. */
    struct wire_signature d;
    CU_ASSERT_EQUAL(wire_decode_signature(enc->data, enc->len, &d), 0);
    for (guint cut = 0; cut < enc->len; cut++)
        CU_ASSERT(wire_decode_signature(enc->data, cut, &d) < 0);
    uint8_t zero_type[] = {4, 3, 0, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(wire_decode_signature(zero_type, sizeof zero_type, &d), WIRE_E_INVALID);
    uint8_t long_id[] = {4, 3, 1, 0, 9, 4, 32, 1, 0, 0};
    CU_ASSERT(wire_decode_signature(long_id, sizeof long_id, &d) < 0);

    /* Well-formed structures that must not verify. */
    struct wire_signature x = w;
    x.hash_alg = 2; /* sha1 */
    CU_ASSERT_EQUAL(sig_verify(&x, a, in, sizeof in), SIG_E_ALGORITHM);
    x = w;
    x.sig_alg = SIG_ALG_RSA;
    CU_ASSERT_EQUAL(sig_verify(&x, a, in, sizeof in), SIG_E_ALGORITHM);
    x = w;
    x.identity_type = WIRE_SIGNER_NONE;
    CU_ASSERT_EQUAL(sig_verify(&x, a, in, sizeof in), SIG_E_MALFORMED);
    x = w;
    x.identity.len = 5; /* inner length says 32 */
    CU_ASSERT_EQUAL(sig_verify(&x, a, in, sizeof in), SIG_E_MALFORMED);
    x = w;
    x.value.len = 0;
    CU_ASSERT_EQUAL(sig_verify(&x, a, in, sizeof in), SIG_E_BAD_SIGNATURE);
    x = w;
    x.value.len -= 1;
    CU_ASSERT_EQUAL(sig_verify(&x, a, in, sizeof in), SIG_E_BAD_SIGNATURE);

    /* Random corruption of the encoded Signature never crashes and never verifies. */
    GRand *rng = g_rand_new_with_seed(11);
    for (int i = 0; i < 500; i++) {
        GByteArray *m = g_byte_array_new();
        g_byte_array_append(m, enc->data, enc->len);
        int flips = g_rand_int_range(rng, 1, 4);
        for (int f = 0; f < flips; f++)
            m->data[g_rand_int_range(rng, 0, (gint32)m->len)] ^=
                (uint8_t)g_rand_int_range(rng, 1, 256);
        if (wire_decode_signature(m->data, m->len, &d) == 0)
            CU_ASSERT_NOT_EQUAL(sig_verify(&d, a, in, sizeof in), 0);
        g_byte_array_unref(m);
    }
    g_rand_free(rng);

    /* Certificate buckets: malformed, or holding garbage and other types. */
    struct cred *found = NULL;
    struct id node;
    uint8_t bad_bucket[] = {0, 0, 9, 1};
    CU_ASSERT_EQUAL(
        sig_find_signer((struct wire_bytes){bad_bucket, sizeof bad_bucket}, &w, &found, &node),
        SIG_E_MALFORMED);
    GByteArray *bucket = g_byte_array_new();
    wire_encode_certificate(bucket, WIRE_CERT_X509, (const uint8_t *)"garbage", 7);
    wire_encode_certificate(bucket, 1 /* OpenPGP */, (const uint8_t *)"pgp", 3);
    CU_ASSERT_EQUAL(
        sig_find_signer((struct wire_bytes){bucket->data, bucket->len}, &w, &found, &node),
        SIG_E_UNKNOWN_SIGNER);
    sig_add_certificate(bucket, a);
    CU_ASSERT_EQUAL(
        sig_find_signer((struct wire_bytes){bucket->data, bucket->len}, &w, &found, &node), 0);
    CU_ASSERT_PTR_NOT_NULL(found);
    CU_ASSERT(id_eq(&node, &a->info.nodes[0]));
    cred_free(found);
    CU_ASSERT_EQUAL(sig_find_signer((struct wire_bytes){NULL, 0}, &w, &found, &node),
                    SIG_E_UNKNOWN_SIGNER);
    g_byte_array_unref(bucket);
    g_byte_array_unref(enc);
    sig_signature_clear(&s);
    cred_free(a);
    cred_free(ca);
}

/* Regression (found by fuzz/fuzz_cert.c; fuzz/regress/cert/bitstring-unused-bits): a
 * certificate whose signature BIT STRING declares 7 unused bits holding ones is BER, not DER;
 * d2i_X509 took it and cred_to_der wrote other bytes.  It is refused as malformed. */
static void test_non_der_refused(void)
{
    struct cred *ca = new_ca(), *r = NULL;
    struct cred *c = enroll(ca, "alice@sec.example", 1, NULL);
    GByteArray *der = g_byte_array_new();
    cred_to_der(c, der);
    CU_ASSERT_EQUAL(cred_from_der(der->data, der->len, &r), 0);
    cred_free(r);
    /* The signature is the last element: BIT STRING (03), short length L, 00 unused bits. */
    guint at = 0;
    for (guint l = 2; l < 128 && l + 2 <= der->len && !at; l++)
        if (der->data[der->len - l - 2] == 0x03 && der->data[der->len - l - 1] == l &&
            der->data[der->len - l] == 0)
            at = der->len - l;
    CU_ASSERT_NOT_EQUAL_FATAL(at, 0);
    der->data[at] = 7;                /* 7 unused bits ... */
    der->data[der->len - 1] |= 0x7f;  /* ... that are not zero */
    r = NULL;
    CU_ASSERT_EQUAL(cred_from_der(der->data, der->len, &r), CRED_E_MALFORMED);
    CU_ASSERT_PTR_NULL(r);
    g_byte_array_unref(der);
    cred_free(c);
    cred_free(ca);
}

CU_TestInfo test_sec_tests[] = {
    {"a certificate in BER, not DER, is refused", test_non_der_refused},
    {"a CA-enrolled certificate verifies and yields user and Node-IDs", test_enroll_verifies},
    {"a certificate from another CA is refused", test_other_ca_refused},
    {"expired and not-yet-valid certificates are refused", test_validity_window},
    {"self-signed: Node-ID is the key's hash; Node-ID theft refused", test_self_signed},
    {"malformed certificate bytes are refused", test_malformed_certificates},
    {"PEM files: save, load, key mismatch, key mode 0600", test_pem_files},
    {"a signed message verifies; tampering fails", test_message_signature},
    {"StoredData signature; USER-MATCH refuses the wrong user", test_stored_data_user_match},
    {"NODE-MATCH, USER-NODE-MATCH, NODE-MULTIPLE", test_node_policies},
    {"malformed Signature structures and certificate buckets", test_malformed_signatures},
    CU_TEST_INFO_NULL,
};
