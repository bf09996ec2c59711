/* test_wire.c — CUnit suite for core/wire.c, the RELOAD codec (RFC 6940 §6.3, §6.4.2, §6.5,
 * §6.6.2, §7.4, §10.7–10.8).
 *
 * Every body type and every message code is taken through a round trip (encode, decode,
 * compare every field with the value encoded, encode the decoded value again and compare the
 * bytes), every prefix of every encoding must fail to decode, and random or mutated input must
 * never crash (fixed seed).  Hand-laid golden bytes pin the layout to the RFC text.  The suite
 * also exports every message, framed, to tests/tmp/wire_all.pcap for tests/t_tshark.sh.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "../core/wire.h"
#include "../sim/pcap.h"

#define KIND_SIP_REGISTRATION 1u /* dictionary keyed by Node-ID (RFC 7904) */
#define KIND_VALUE 0xf0000001u   /* single value (private use) */
#define KIND_ARRAY 0xf0000002u   /* array (private use) */
#define KIND_DICT 0xf0000003u    /* dictionary (private use) */
#define KIND_UNKNOWN 0xf00000ffu

#define PCAP_PATH "tests/tmp/wire_all.pcap"
#define RELOAD_PORT 6084

static int test_model(uint32_t kind, void *ud)
{
    switch (kind) {
    case KIND_SIP_REGISTRATION:
    case KIND_DICT:
        return WIRE_MODEL_DICTIONARY;
    case KIND_VALUE:
        return WIRE_MODEL_SINGLE;
    case KIND_ARRAY:
        return WIRE_MODEL_ARRAY;
    default:
        return 0;
    }
}

/* ---- reference values ---------------------------------------------------------------------- */

static const uint8_t NODE_A[ID_BYTES] = {0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81,
                                         0x92, 0xa3, 0xb4, 0xc5, 0xd6, 0xe7, 0xf8, 0x09};
static const uint8_t NODE_B[ID_BYTES] = {0x9b, 0x0c, 0x1d, 0x2e, 0x3f, 0x40, 0x51, 0x62,
                                         0x73, 0x84, 0x95, 0xa6, 0xb7, 0xc8, 0xd9, 0xea};
static const uint8_t NODE_C[ID_BYTES] = {0xc3, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                         0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
/* SHA-1("alice@example.com") truncated: any 16 bytes do for the codec. */
static const uint8_t RES[ID_BYTES] = {0x5c, 0x4b, 0xf5, 0x8e, 0x10, 0x36, 0x2b, 0x7a,
                                      0x6e, 0x59, 0x01, 0xd3, 0x88, 0x47, 0x22, 0xf0};
static const uint8_t CERT_HASH[1 + 1 + 32] = {4, 32, 0xde, 0xad, 0xbe, 0xef}; /* sha256 */
static const uint8_t SIG_VALUE[64] = {0x30, 0x44, 0x02, 0x20, 0x11, 0x22};
static const uint8_t ICE_EXT[] = {0, 5, 'x', '-', 'f', 'o', 'o', 0, 3, 'b', 'a', 'r'};
static const uint8_t V6_A[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x01};
static const uint8_t V6_B[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07};

/* A SipRegistration (RFC 7904 §3.1) of type sip_registration_uri, built once. */
static uint8_t sip_reg_value[64];
static struct wire_bytes sip_reg(void)
{
    static const char uri[] = "sip:alice@example.com";
    size_t n = sizeof uri - 1;
    sip_reg_value[0] = 1; /* sip_registration_uri */
    sip_reg_value[1] = 0; /* length of the rest */
    sip_reg_value[2] = (uint8_t)(n + 2);
    sip_reg_value[3] = 0; /* uri<0..2^16-1> */
    sip_reg_value[4] = (uint8_t)n;
    memcpy(sip_reg_value + 5, uri, n);
    return (struct wire_bytes){sip_reg_value, (uint32_t)(n + 5)};
}

static struct wire_bytes B(const char *s) {
    return (struct wire_bytes){(const uint8_t *)s, (uint32_t)strlen(s)};
}

static struct wire_bytes
BA(const uint8_t *p, size_t n) {
    return (struct wire_bytes){p, (uint32_t)n};
}

static bool
bytes_eq(struct wire_bytes a, struct wire_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool garray_eq(const GByteArray *a, const GByteArray *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static struct id as_id(const uint8_t b[ID_BYTES])
{
    return id_from_bytes(b);
}

/* A data signature by a certificate (cert_hash identity, RSA with SHA-256); fake bytes. */
static void signed_by_cert(struct wire_signature *s)
{
    s->hash_alg = 4;
    s->sig_alg = 1;
    s->identity_type = WIRE_SIGNER_CERT_HASH;
    s->identity = BA(CERT_HASH, sizeof CERT_HASH);
    s->value = BA(SIG_VALUE, sizeof SIG_VALUE);
}

static bool sig_eq(const struct wire_signature *a, const struct wire_signature *b)
{
    return a->hash_alg == b->hash_alg && a->sig_alg == b->sig_alg &&
           a->identity_type == b->identity_type && bytes_eq(a->identity, b->identity) &&
           bytes_eq(a->value, b->value);
}

static bool dest_eq(const struct wire_dest *a, const struct wire_dest *b)
{
    return a->type == b->type && a->compressed == b->compressed && a->len == b->len &&
           memcmp(a->data, b->data, a->len) == 0;
}

/* ---- body cases: a reference value, its encoder and a checking decoder --------------------- */

/* Decodes p, and on success compares every field with the reference value and encodes the
 * decoded value into `again`.  Returns the decoder's result. */
typedef int (*check_fn)(const uint8_t *p, size_t len, GByteArray *again);

struct body_case {
    const char *name;
    uint16_t code;
    void (*encode)(GByteArray *out);
    check_fn check;
};

/* Encoder of a case: fills the reference value and encodes it. */
#define CASE_ENCODER(name, type, encoder)                                                          \
    static void enc_##name(GByteArray *out)                                                        \
    {                                                                                              \
        struct type ref;                                                                           \
        ref_##name(&ref);                                                                          \
        encoder(out, &ref);                                                                        \
    }

static void ref_join_req(struct wire_join_req *b)
{
    *b = (struct wire_join_req){.joining = as_id(NODE_A), .overlay_data = B("")};
}
CASE_ENCODER(join_req, wire_join_req, wire_encode_join_req)
static int chk_join_req(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_join_req r, d;
    int rc = wire_decode_join_req(p, len, &d);
    if (rc)
        return rc;
    ref_join_req(&r);
    CU_ASSERT(id_eq(&d.joining, &r.joining));
    CU_ASSERT(bytes_eq(d.overlay_data, r.overlay_data));
    wire_encode_join_req(again, &d);
    return 0;
}

static void ref_join_ans(struct wire_join_ans *b)
{
    *b = (struct wire_join_ans){.overlay_data = B("welcome")};
}
CASE_ENCODER(join_ans, wire_join_ans, wire_encode_join_ans)
static int chk_join_ans(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_join_ans r, d;
    int rc = wire_decode_join_ans(p, len, &d);
    if (rc)
        return rc;
    ref_join_ans(&r);
    CU_ASSERT(bytes_eq(d.overlay_data, r.overlay_data));
    wire_encode_join_ans(again, &d);
    return 0;
}

/* ChordLeaveData (§10.9) from_succ with one successor, as overlay data. */
static uint8_t chord_leave_data[1 + 2 + ID_BYTES];
static void ref_leave_req(struct wire_leave_req *b)
{
    chord_leave_data[0] = 1;
    chord_leave_data[1] = 0;
    chord_leave_data[2] = ID_BYTES;
    memcpy(chord_leave_data + 3, NODE_C, ID_BYTES);
    *b = (struct wire_leave_req){.leaving = as_id(NODE_A),
                                 .overlay_data = BA(chord_leave_data, sizeof chord_leave_data)};
}
CASE_ENCODER(leave_req, wire_leave_req, wire_encode_leave_req)
static int chk_leave_req(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_leave_req r, d;
    int rc = wire_decode_leave_req(p, len, &d);
    if (rc)
        return rc;
    ref_leave_req(&r);
    CU_ASSERT(id_eq(&d.leaving, &r.leaving));
    CU_ASSERT(bytes_eq(d.overlay_data, r.overlay_data));
    wire_encode_leave_req(again, &d);
    return 0;
}

/* LeaveAns and UpdateAns (CHORD-RELOAD) are empty. */
static void enc_empty(GByteArray *out) {}
static int chk_empty(const uint8_t *p, size_t len, GByteArray *again)
{
    return len == 0 ? 0 : WIRE_E_INVALID;
}

static void ref_route_query_req(struct wire_route_query_req *b)
{
    *b = (struct wire_route_query_req){.send_update = true, .overlay_data = B("")};
    wire_dest_resource(&b->destination, RES, ID_BYTES);
}
CASE_ENCODER(route_query_req, wire_route_query_req, wire_encode_route_query_req)
static int chk_route_query_req(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_route_query_req r, d;
    int rc = wire_decode_route_query_req(p, len, &d);
    if (rc)
        return rc;
    ref_route_query_req(&r);
    CU_ASSERT(d.send_update == r.send_update);
    CU_ASSERT(dest_eq(&d.destination, &r.destination));
    CU_ASSERT(bytes_eq(d.overlay_data, r.overlay_data));
    wire_encode_route_query_req(again, &d);
    return 0;
}

static void ref_route_query_ans(struct wire_chord_route_query_ans *b)
{
    b->next_peer = as_id(NODE_C);
}
CASE_ENCODER(route_query_ans, wire_chord_route_query_ans, wire_encode_chord_route_query_ans)
static int chk_route_query_ans(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_chord_route_query_ans r, d;
    int rc = wire_decode_chord_route_query_ans(p, len, &d);
    if (rc)
        return rc;
    ref_route_query_ans(&r);
    CU_ASSERT(id_eq(&d.next_peer, &r.next_peer));
    wire_encode_chord_route_query_ans(again, &d);
    return 0;
}

static void ref_probe_req(struct wire_probe_req *b)
{
    *b = (struct wire_probe_req){
        .n = 3,
        .requested = {WIRE_PROBE_RESPONSIBLE_SET, WIRE_PROBE_NUM_RESOURCES, WIRE_PROBE_UPTIME}};
}
CASE_ENCODER(probe_req, wire_probe_req, wire_encode_probe_req)
static int chk_probe_req(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_probe_req r, d;
    int rc = wire_decode_probe_req(p, len, &d);
    if (rc)
        return rc;
    ref_probe_req(&r);
    CU_ASSERT_EQUAL(d.n, r.n);
    CU_ASSERT(memcmp(d.requested, r.requested, r.n) == 0);
    wire_encode_probe_req(again, &d);
    return 0;
}

static void ref_probe_ans(struct wire_probe_ans *b)
{
    *b = (struct wire_probe_ans){.n = 3};
    b->info[0].type = WIRE_PROBE_RESPONSIBLE_SET;
    b->info[0].value = 333333333;
    b->info[1].type = WIRE_PROBE_NUM_RESOURCES;
    b->info[1].value = 42;
    b->info[2].type = WIRE_PROBE_UPTIME;
    b->info[2].value = 86400;
}
CASE_ENCODER(probe_ans, wire_probe_ans, wire_encode_probe_ans)
static int chk_probe_ans(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_probe_ans r, d;
    int rc = wire_decode_probe_ans(p, len, &d);
    if (rc)
        return rc;
    ref_probe_ans(&r);
    CU_ASSERT_EQUAL(d.n, r.n);
    for (unsigned i = 0; i < r.n && i < d.n; i++) {
        CU_ASSERT_EQUAL(d.info[i].type, r.info[i].type);
        CU_ASSERT_EQUAL(d.info[i].value, r.info[i].value);
    }
    wire_encode_probe_ans(again, &d);
    return 0;
}

/* ChordUpdate of each type (§10.7). */
static void ref_update(struct wire_chord_update *b, uint8_t type)
{
    memset(b, 0, sizeof *b);
    b->uptime = 3600;
    b->type = type;
    if (type == WIRE_CHORD_PEER_READY)
        return;
    b->n_pred = 2;
    b->pred[0] = as_id(NODE_A);
    b->pred[1] = as_id(NODE_C);
    b->n_succ = 3;
    b->succ[0] = as_id(NODE_B);
    b->succ[1] = as_id(NODE_C);
    b->succ[2] = as_id(RES);
    if (type == WIRE_CHORD_FULL) {
        b->n_fingers = 4;
        for (unsigned i = 0; i < 4; i++)
            b->fingers[i] = id_add_pow2(&b->pred[0], 124 + i);
    }
}
static void ref_update_full(struct wire_chord_update *b)
{
    ref_update(b, WIRE_CHORD_FULL);
}
static void ref_update_neighbors(struct wire_chord_update *b)
{
    ref_update(b, WIRE_CHORD_NEIGHBORS);
}
static void ref_update_ready(struct wire_chord_update *b)
{
    ref_update(b, WIRE_CHORD_PEER_READY);
}
static int chk_update(const uint8_t *p, size_t len, GByteArray *again, uint8_t type)
{
    static struct wire_chord_update r, d; /* large: keep them off the stack */
    int rc = wire_decode_chord_update(p, len, &d);
    if (rc)
        return rc;
    ref_update(&r, type);
    CU_ASSERT_EQUAL(d.uptime, r.uptime);
    CU_ASSERT_EQUAL(d.type, r.type);
    CU_ASSERT_EQUAL(d.n_pred, r.n_pred);
    CU_ASSERT_EQUAL(d.n_succ, r.n_succ);
    CU_ASSERT_EQUAL(d.n_fingers, r.n_fingers);
    for (unsigned i = 0; i < r.n_pred && i < d.n_pred; i++)
        CU_ASSERT(id_eq(&d.pred[i], &r.pred[i]));
    for (unsigned i = 0; i < r.n_succ && i < d.n_succ; i++)
        CU_ASSERT(id_eq(&d.succ[i], &r.succ[i]));
    for (unsigned i = 0; i < r.n_fingers && i < d.n_fingers; i++)
        CU_ASSERT(id_eq(&d.fingers[i], &r.fingers[i]));
    wire_encode_chord_update(again, &d);
    return 0;
}
static void enc_update_full(GByteArray *out)
{
    static struct wire_chord_update b;
    ref_update_full(&b);
    wire_encode_chord_update(out, &b);
}
static void enc_update_neighbors(GByteArray *out)
{
    static struct wire_chord_update b;
    ref_update_neighbors(&b);
    wire_encode_chord_update(out, &b);
}
static void enc_update_ready(GByteArray *out)
{
    static struct wire_chord_update b;
    ref_update_ready(&b);
    wire_encode_chord_update(out, &b);
}
static int chk_update_full(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_update(p, len, again, WIRE_CHORD_FULL);
}
static int chk_update_neighbors(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_update(p, len, again, WIRE_CHORD_NEIGHBORS);
}
static int chk_update_ready(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_update(p, len, again, WIRE_CHORD_PEER_READY);
}

/* ICE candidates (§6.5.1.1): host, srflx and relay, IPv4 and IPv6, one with an extension. */
static struct env_addr A4(uint32_t ip, uint16_t port) {
    return (struct env_addr){.ip = ip, .port = port};
} static void ref_candidates(struct wire_candidate *k, uint16_t *n)
{
    *n = 4;
    memset(k, 0, 4 * sizeof *k);
    k[0] = (struct wire_candidate){.addr = A4(0xc0000201, 6084), /* 192.0.2.1 */
                                   .overlay_link = WIRE_LINK_DTLS_UDP_SR,
                                   .foundation = B("1"),
                                   .priority = 2130706431,
                                   .type = WIRE_CAND_HOST};
    k[1] = (struct wire_candidate){.addr = A4(0xcb007107, 40000), /* 203.0.113.7 */
                                   .overlay_link = WIRE_LINK_DTLS_UDP_SR,
                                   .foundation = B("2"),
                                   .priority = 1694498815,
                                   .type = WIRE_CAND_SRFLX,
                                   .rel_addr = A4(0xc0000201, 6084)};
    k[2] = (struct wire_candidate){.addr = A4(0, 3478),
                                   .is_v6 = true,
                                   .overlay_link = WIRE_LINK_DTLS_UDP_SR,
                                   .foundation = B("3"),
                                   .priority = 16777215,
                                   .type = WIRE_CAND_RELAY,
                                   .rel_addr = A4(0, 40000),
                                   .rel_is_v6 = true};
    memcpy(k[2].addr6, V6_B, 16);
    memcpy(k[2].rel_addr6, V6_A, 16);
    k[3] = (struct wire_candidate){.addr = A4(0, 6084),
                                   .is_v6 = true,
                                   .overlay_link = WIRE_LINK_DTLS_UDP_SR,
                                   .foundation = B("4"),
                                   .priority = 2130706175,
                                   .type = WIRE_CAND_HOST,
                                   .extensions = BA(ICE_EXT, sizeof ICE_EXT)};
    memcpy(k[3].addr6, V6_A, 16);
}
static void check_candidates(const struct wire_candidate *d, uint16_t nd,
                             const struct wire_candidate *r, uint16_t nr)
{
    CU_ASSERT_EQUAL(nd, nr);
    for (unsigned i = 0; i < nr && i < nd; i++) {
        CU_ASSERT(env_addr_eq(&d[i].addr, &r[i].addr));
        CU_ASSERT_EQUAL(d[i].is_v6, r[i].is_v6);
        CU_ASSERT(memcmp(d[i].addr6, r[i].addr6, 16) == 0);
        CU_ASSERT_EQUAL(d[i].overlay_link, r[i].overlay_link);
        CU_ASSERT(bytes_eq(d[i].foundation, r[i].foundation));
        CU_ASSERT_EQUAL(d[i].priority, r[i].priority);
        CU_ASSERT_EQUAL(d[i].type, r[i].type);
        CU_ASSERT(env_addr_eq(&d[i].rel_addr, &r[i].rel_addr));
        CU_ASSERT_EQUAL(d[i].rel_is_v6, r[i].rel_is_v6);
        CU_ASSERT(memcmp(d[i].rel_addr6, r[i].rel_addr6, 16) == 0);
        CU_ASSERT(bytes_eq(d[i].extensions, r[i].extensions));
    }
}

static void ref_attach_req(struct wire_attach *b)
{
    memset(b, 0, sizeof *b);
    b->ufrag = B("8hhY");
    b->password = B("asd88fgpdd777uzjYhagZg");
    b->role = B("passive");
    ref_candidates(b->candidates, &b->n_candidates);
    b->send_update = true;
}
static void ref_attach_ans(struct wire_attach *b)
{
    memset(b, 0, sizeof *b);
    b->ufrag = B("9uB6");
    b->password = B("YH75Fviy6338Vbrhrlp8Yh");
    b->role = B("active");
    ref_candidates(b->candidates, &b->n_candidates);
    b->n_candidates = 2;
}
CASE_ENCODER(attach_req, wire_attach, wire_encode_attach)
CASE_ENCODER(attach_ans, wire_attach, wire_encode_attach)
static int chk_attach(const uint8_t *p, size_t len, GByteArray *again,
                      void (*ref)(struct wire_attach *))
{
    struct wire_attach r, d;
    int rc = wire_decode_attach(p, len, &d);
    if (rc)
        return rc;
    ref(&r);
    CU_ASSERT(bytes_eq(d.ufrag, r.ufrag));
    CU_ASSERT(bytes_eq(d.password, r.password));
    CU_ASSERT(bytes_eq(d.role, r.role));
    check_candidates(d.candidates, d.n_candidates, r.candidates, r.n_candidates);
    CU_ASSERT_EQUAL(d.send_update, r.send_update);
    wire_encode_attach(again, &d);
    return 0;
}
static int chk_attach_req(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_attach(p, len, again, ref_attach_req);
}
static int chk_attach_ans(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_attach(p, len, again, ref_attach_ans);
}

static void ref_app_attach_req(struct wire_app_attach *b)
{
    memset(b, 0, sizeof *b);
    b->ufrag = B("aF3q");
    b->password = B("pw-app-attach-req-0001");
    b->application = 5060; /* SIP, §14.5 */
    b->role = B("passive");
    ref_candidates(b->candidates, &b->n_candidates);
    b->n_candidates = 3;
}
static void ref_app_attach_ans(struct wire_app_attach *b)
{
    ref_app_attach_req(b);
    b->ufrag = B("Zz9k");
    b->role = B("active");
    b->n_candidates = 1;
}
CASE_ENCODER(app_attach_req, wire_app_attach, wire_encode_app_attach)
CASE_ENCODER(app_attach_ans, wire_app_attach, wire_encode_app_attach)
static int chk_app_attach(const uint8_t *p, size_t len, GByteArray *again,
                          void (*ref)(struct wire_app_attach *))
{
    struct wire_app_attach r, d;
    int rc = wire_decode_app_attach(p, len, &d);
    if (rc)
        return rc;
    ref(&r);
    CU_ASSERT(bytes_eq(d.ufrag, r.ufrag));
    CU_ASSERT(bytes_eq(d.password, r.password));
    CU_ASSERT_EQUAL(d.application, r.application);
    CU_ASSERT(bytes_eq(d.role, r.role));
    check_candidates(d.candidates, d.n_candidates, r.candidates, r.n_candidates);
    wire_encode_app_attach(again, &d);
    return 0;
}
static int chk_app_attach_req(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_app_attach(p, len, again, ref_app_attach_req);
}
static int chk_app_attach_ans(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_app_attach(p, len, again, ref_app_attach_ans);
}

static const uint8_t PADDING[32];
static void ref_ping_req(struct wire_ping_req *b)
{
    b->padding = BA(PADDING, sizeof PADDING);
}
CASE_ENCODER(ping_req, wire_ping_req, wire_encode_ping_req)
static int chk_ping_req(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_ping_req r, d;
    int rc = wire_decode_ping_req(p, len, &d);
    if (rc)
        return rc;
    ref_ping_req(&r);
    CU_ASSERT(bytes_eq(d.padding, r.padding));
    wire_encode_ping_req(again, &d);
    return 0;
}

static void ref_ping_ans(struct wire_ping_ans *b)
{
    *b = (struct wire_ping_ans){.response_id = 0x0123456789abcdefull, .time = 1700000000123ull};
}
CASE_ENCODER(ping_ans, wire_ping_ans, wire_encode_ping_ans)
static int chk_ping_ans(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_ping_ans r, d;
    int rc = wire_decode_ping_ans(p, len, &d);
    if (rc)
        return rc;
    ref_ping_ans(&r);
    CU_ASSERT_EQUAL(d.response_id, r.response_id);
    CU_ASSERT_EQUAL(d.time, r.time);
    wire_encode_ping_ans(again, &d);
    return 0;
}

static void ref_error(struct wire_error *b)
{
    *b = (struct wire_error){.code = WIRE_ERR_NOT_FOUND, .info = B("no such resource")};
}
CASE_ENCODER(error, wire_error, wire_encode_error)
static int chk_error(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_error r, d;
    int rc = wire_decode_error(p, len, &d);
    if (rc)
        return rc;
    ref_error(&r);
    CU_ASSERT_EQUAL(d.code, r.code);
    CU_ASSERT(bytes_eq(d.info, r.info));
    wire_encode_error(again, &d);
    return 0;
}

/* ---- storage bodies ------------------------------------------------------------------------ */

static void check_stored(const struct wire_stored_data *d, const struct wire_stored_data *r)
{
    CU_ASSERT_EQUAL(d->storage_time, r->storage_time);
    CU_ASSERT_EQUAL(d->lifetime, r->lifetime);
    CU_ASSERT_EQUAL(d->model, r->model);
    if (r->model == WIRE_MODEL_ARRAY)
        CU_ASSERT_EQUAL(d->index, r->index);
    if (r->model == WIRE_MODEL_DICTIONARY)
        CU_ASSERT(bytes_eq(d->key, r->key));
    CU_ASSERT_EQUAL(d->exists, r->exists);
    CU_ASSERT(bytes_eq(d->value, r->value));
    CU_ASSERT(sig_eq(&d->sig, &r->sig));
}

/* Values of each model: a SIP registration (kind 1), a single value, array entries. */
static struct wire_stored_data sd_sip[2], sd_single[1], sd_array[3];
static void ref_stored_values(void)
{
    const uint64_t t = 1700000000000ull; /* ms since 1970 */
    memset(sd_sip, 0, sizeof sd_sip);
    for (unsigned i = 0; i < 2; i++) {
        sd_sip[i] = (struct wire_stored_data){.storage_time = t + i,
                                              .lifetime = 3600,
                                              .model = WIRE_MODEL_DICTIONARY,
                                              .key = BA(i ? NODE_B : NODE_A, ID_BYTES),
                                              .exists = true,
                                              .value = sip_reg()};
        signed_by_cert(&sd_sip[i].sig);
    }
    sd_single[0] = (struct wire_stored_data){.storage_time = t,
                                             .lifetime = 86400,
                                             .model = WIRE_MODEL_SINGLE,
                                             .exists = true,
                                             .value = B("10.0.0.7:5060")};
    signed_by_cert(&sd_single[0].sig);
    for (unsigned i = 0; i < 3; i++) {
        sd_array[i] = (struct wire_stored_data){.storage_time = t + 10 * i,
                                                .lifetime = 600,
                                                .model = WIRE_MODEL_ARRAY,
                                                .index = i,
                                                .exists = i != 1,
                                                .value = i == 1 ? B("") : B("entry")};
        signed_by_cert(&sd_array[i].sig);
    }
    sd_array[2].index = 0xffffffffu; /* append */
}

static struct wire_store_kind store_kinds[3];
static void ref_store(struct wire_store_req *b, unsigned first, unsigned n)
{
    ref_stored_values();
    store_kinds[0] = (struct wire_store_kind){KIND_SIP_REGISTRATION, 7, 2, sd_sip};
    store_kinds[1] = (struct wire_store_kind){KIND_VALUE, 0, 1, sd_single};
    store_kinds[2] = (struct wire_store_kind){KIND_ARRAY, 107, 3, sd_array};
    *b = (struct wire_store_req){.resource = BA(RES, ID_BYTES),
                                 .replica_number = 0,
                                 .n_kinds = n,
                                 .kinds = &store_kinds[first]};
}
static void ref_store_dict(struct wire_store_req *b)
{
    ref_store(b, 0, 1);
}
static void ref_store_single(struct wire_store_req *b)
{
    ref_store(b, 1, 1);
    b->replica_number = 1;
}
static void ref_store_array(struct wire_store_req *b)
{
    ref_store(b, 2, 1);
}
static void ref_store_all(struct wire_store_req *b)
{
    ref_store(b, 0, 3);
}
CASE_ENCODER(store_dict, wire_store_req, wire_encode_store_req)
CASE_ENCODER(store_single, wire_store_req, wire_encode_store_req)
CASE_ENCODER(store_array, wire_store_req, wire_encode_store_req)
CASE_ENCODER(store_all, wire_store_req, wire_encode_store_req)
static int chk_store(const uint8_t *p, size_t len, GByteArray *again,
                     void (*ref)(struct wire_store_req *))
{
    struct wire_store_req r, d;
    int rc = wire_decode_store_req(p, len, &d, test_model, NULL);
    if (rc) {
        CU_ASSERT(d.kinds == NULL && d.n_kinds == 0); /* a failed decode leaves nothing */
        return rc;
    }
    ref(&r);
    CU_ASSERT(bytes_eq(d.resource, r.resource));
    CU_ASSERT_EQUAL(d.replica_number, r.replica_number);
    CU_ASSERT_EQUAL(d.n_kinds, r.n_kinds);
    for (unsigned i = 0; i < r.n_kinds && i < d.n_kinds; i++) {
        CU_ASSERT_EQUAL(d.kinds[i].kind, r.kinds[i].kind);
        CU_ASSERT_EQUAL(d.kinds[i].generation, r.kinds[i].generation);
        CU_ASSERT_EQUAL(d.kinds[i].n_values, r.kinds[i].n_values);
        for (unsigned j = 0; j < r.kinds[i].n_values && j < d.kinds[i].n_values; j++)
            check_stored(&d.kinds[i].values[j], &r.kinds[i].values[j]);
    }
    wire_encode_store_req(again, &d);
    wire_store_req_clear(&d);
    return 0;
}
static int chk_store_dict(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_store(p, len, again, ref_store_dict);
}
static int chk_store_single(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_store(p, len, again, ref_store_single);
}
static int chk_store_array(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_store(p, len, again, ref_store_array);
}
static int chk_store_all(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_store(p, len, again, ref_store_all);
}

static struct id replicas[2];
static struct wire_store_kind_ans store_ans_kinds[2];
static void ref_store_ans(struct wire_store_ans *b)
{
    replicas[0] = as_id(NODE_B);
    replicas[1] = as_id(NODE_C);
    store_ans_kinds[0] = (struct wire_store_kind_ans){KIND_SIP_REGISTRATION, 8, 2, replicas};
    store_ans_kinds[1] = (struct wire_store_kind_ans){KIND_VALUE, 1, 0, NULL};
    *b = (struct wire_store_ans){.n_kinds = 2, .kinds = store_ans_kinds};
}
CASE_ENCODER(store_ans, wire_store_ans, wire_encode_store_ans)
static int chk_store_ans(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_store_ans r, d;
    int rc = wire_decode_store_ans(p, len, &d);
    if (rc)
        return rc;
    ref_store_ans(&r);
    CU_ASSERT_EQUAL(d.n_kinds, r.n_kinds);
    for (unsigned i = 0; i < r.n_kinds && i < d.n_kinds; i++) {
        CU_ASSERT_EQUAL(d.kinds[i].kind, r.kinds[i].kind);
        CU_ASSERT_EQUAL(d.kinds[i].generation, r.kinds[i].generation);
        CU_ASSERT_EQUAL(d.kinds[i].n_replicas, r.kinds[i].n_replicas);
        for (unsigned j = 0; j < r.kinds[i].n_replicas && j < d.kinds[i].n_replicas; j++)
            CU_ASSERT(id_eq(&d.kinds[i].replicas[j], &r.kinds[i].replicas[j]));
    }
    wire_encode_store_ans(again, &d);
    wire_store_ans_clear(&d);
    return 0;
}

/* One specifier per model: a dictionary (two keys), a single value, an array (two ranges). */
static struct wire_array_range ranges[2] = {{0, 2}, {5, -1}};
static struct wire_bytes keys[2];
static struct wire_specifier specs[3];
static void ref_fetch_req(struct wire_fetch_req *b)
{
    keys[0] = BA(NODE_A, ID_BYTES);
    keys[1] = BA(NODE_B, ID_BYTES);
    specs[0] = (struct wire_specifier){.kind = KIND_SIP_REGISTRATION,
                                       .generation = 0,
                                       .model = WIRE_MODEL_DICTIONARY,
                                       .n_keys = 2,
                                       .keys = keys};
    specs[1] =
        (struct wire_specifier){.kind = KIND_VALUE, .generation = 3, .model = WIRE_MODEL_SINGLE};
    specs[2] = (struct wire_specifier){.kind = KIND_ARRAY,
                                       .generation = 0,
                                       .model = WIRE_MODEL_ARRAY,
                                       .n_ranges = 2,
                                       .ranges = ranges};
    *b = (struct wire_fetch_req){
        .resource = BA(RES, ID_BYTES), .n_specifiers = 3, .specifiers = specs};
}
/* The same without the array kind. */
static void ref_fetch_req_two(struct wire_fetch_req *b)
{
    ref_fetch_req(b);
    b->n_specifiers = 2;
}
CASE_ENCODER(fetch_req, wire_fetch_req, wire_encode_fetch_req)
CASE_ENCODER(fetch_req_two, wire_fetch_req, wire_encode_fetch_req)
static int chk_fetch(const uint8_t *p, size_t len, GByteArray *again,
                     void (*ref)(struct wire_fetch_req *))
{
    struct wire_fetch_req r, d;
    int rc = wire_decode_fetch_req(p, len, &d, test_model, NULL);
    if (rc)
        return rc;
    ref(&r);
    CU_ASSERT(bytes_eq(d.resource, r.resource));
    CU_ASSERT_EQUAL(d.n_specifiers, r.n_specifiers);
    for (unsigned i = 0; i < r.n_specifiers && i < d.n_specifiers; i++) {
        const struct wire_specifier *ds = &d.specifiers[i], *rs = &r.specifiers[i];
        CU_ASSERT_EQUAL(ds->kind, rs->kind);
        CU_ASSERT_EQUAL(ds->generation, rs->generation);
        CU_ASSERT_EQUAL(ds->model, rs->model);
        CU_ASSERT_EQUAL(ds->n_ranges, rs->n_ranges);
        for (unsigned j = 0; j < rs->n_ranges && j < ds->n_ranges; j++) {
            CU_ASSERT_EQUAL(ds->ranges[j].first, rs->ranges[j].first);
            CU_ASSERT_EQUAL(ds->ranges[j].last, rs->ranges[j].last);
        }
        CU_ASSERT_EQUAL(ds->n_keys, rs->n_keys);
        for (unsigned j = 0; j < rs->n_keys && j < ds->n_keys; j++)
            CU_ASSERT(bytes_eq(ds->keys[j], rs->keys[j]));
    }
    wire_encode_fetch_req(again, &d);
    wire_fetch_req_clear(&d);
    return 0;
}
static int chk_fetch_req(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_fetch(p, len, again, ref_fetch_req);
}
static int chk_fetch_req_two(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_fetch(p, len, again, ref_fetch_req_two);
}

static struct wire_fetch_kind fetch_kinds[3];
static void ref_fetch_ans(struct wire_fetch_ans *b)
{
    ref_stored_values();
    fetch_kinds[0] = (struct wire_fetch_kind){KIND_SIP_REGISTRATION, 8, 2, sd_sip};
    fetch_kinds[1] = (struct wire_fetch_kind){KIND_VALUE, 1, 1, sd_single};
    fetch_kinds[2] = (struct wire_fetch_kind){KIND_ARRAY, 108, 3, sd_array};
    *b = (struct wire_fetch_ans){.n_kinds = 3, .kinds = fetch_kinds};
}
static void ref_fetch_ans_two(struct wire_fetch_ans *b)
{
    ref_fetch_ans(b);
    b->n_kinds = 2;
}
CASE_ENCODER(fetch_ans, wire_fetch_ans, wire_encode_fetch_ans)
CASE_ENCODER(fetch_ans_two, wire_fetch_ans, wire_encode_fetch_ans)
static int chk_fetch_ans_with(const uint8_t *p, size_t len, GByteArray *again,
                              void (*ref)(struct wire_fetch_ans *))
{
    struct wire_fetch_ans r, d;
    int rc = wire_decode_fetch_ans(p, len, &d, test_model, NULL);
    if (rc)
        return rc;
    ref(&r);
    CU_ASSERT_EQUAL(d.n_kinds, r.n_kinds);
    for (unsigned i = 0; i < r.n_kinds && i < d.n_kinds; i++) {
        CU_ASSERT_EQUAL(d.kinds[i].kind, r.kinds[i].kind);
        CU_ASSERT_EQUAL(d.kinds[i].generation, r.kinds[i].generation);
        CU_ASSERT_EQUAL(d.kinds[i].n_values, r.kinds[i].n_values);
        for (unsigned j = 0; j < r.kinds[i].n_values && j < d.kinds[i].n_values; j++)
            check_stored(&d.kinds[i].values[j], &r.kinds[i].values[j]);
    }
    wire_encode_fetch_ans(again, &d);
    wire_fetch_ans_clear(&d);
    return 0;
}
static int chk_fetch_ans(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_fetch_ans_with(p, len, again, ref_fetch_ans);
}
static int chk_fetch_ans_two(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_fetch_ans_with(p, len, again, ref_fetch_ans_two);
}

static const uint8_t SHA1_OF_VALUE[20] = {0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a};
static struct wire_stored_meta meta_sip[1], meta_single[1], meta_array[2];
static struct wire_stat_kind stat_kinds[3];
static void ref_stat_ans(struct wire_stat_ans *b)
{
    const uint64_t t = 1700000000000ull;
    meta_sip[0] = (struct wire_stored_meta){.storage_time = t,
                                            .lifetime = 3600,
                                            .model = WIRE_MODEL_DICTIONARY,
                                            .key = BA(NODE_A, ID_BYTES),
                                            .exists = true,
                                            .meta_value_length = 26,
                                            .hash_alg = 2,
                                            .hash_value = BA(SHA1_OF_VALUE, 20)};
    meta_single[0] = (struct wire_stored_meta){.storage_time = t,
                                               .lifetime = 86400,
                                               .model = WIRE_MODEL_SINGLE,
                                               .exists = true,
                                               .meta_value_length = 13,
                                               .hash_alg = 2,
                                               .hash_value = BA(SHA1_OF_VALUE, 20)};
    for (unsigned i = 0; i < 2; i++)
        meta_array[i] = (struct wire_stored_meta){.storage_time = t,
                                                  .lifetime = 600,
                                                  .model = WIRE_MODEL_ARRAY,
                                                  .index = 4 + i,
                                                  .exists = i == 0,
                                                  .meta_value_length = 5,
                                                  .hash_alg = 0,
                                                  .hash_value = B("")};
    stat_kinds[0] = (struct wire_stat_kind){KIND_SIP_REGISTRATION, 8, 1, meta_sip};
    stat_kinds[1] = (struct wire_stat_kind){KIND_VALUE, 1, 1, meta_single};
    stat_kinds[2] = (struct wire_stat_kind){KIND_ARRAY, 108, 2, meta_array};
    *b = (struct wire_stat_ans){.n_kinds = 3, .kinds = stat_kinds};
}
static void ref_stat_ans_two(struct wire_stat_ans *b)
{
    ref_stat_ans(b);
    b->n_kinds = 2;
}
CASE_ENCODER(stat_ans, wire_stat_ans, wire_encode_stat_ans)
CASE_ENCODER(stat_ans_two, wire_stat_ans, wire_encode_stat_ans)
static int chk_stat_ans_with(const uint8_t *p, size_t len, GByteArray *again,
                             void (*ref)(struct wire_stat_ans *))
{
    struct wire_stat_ans r, d;
    int rc = wire_decode_stat_ans(p, len, &d, test_model, NULL);
    if (rc)
        return rc;
    ref(&r);
    CU_ASSERT_EQUAL(d.n_kinds, r.n_kinds);
    for (unsigned i = 0; i < r.n_kinds && i < d.n_kinds; i++) {
        CU_ASSERT_EQUAL(d.kinds[i].kind, r.kinds[i].kind);
        CU_ASSERT_EQUAL(d.kinds[i].generation, r.kinds[i].generation);
        CU_ASSERT_EQUAL(d.kinds[i].n_values, r.kinds[i].n_values);
        for (unsigned j = 0; j < r.kinds[i].n_values && j < d.kinds[i].n_values; j++) {
            const struct wire_stored_meta *dm = &d.kinds[i].values[j];
            const struct wire_stored_meta *rm = &r.kinds[i].values[j];
            /* value_length counts the rest of the StoredMetaData: storage_time and lifetime,
             * the head, then MetaData: exists, value_length, hash_algorithm, hash_value. */
            uint32_t head = rm->model == WIRE_MODEL_ARRAY        ? 4
                            : rm->model == WIRE_MODEL_DICTIONARY ? 2 + rm->key.len
                                                                 : 0;
            CU_ASSERT_EQUAL(dm->value_length, 12 + head + 1 + 4 + 1 + 1 + rm->hash_value.len);
            CU_ASSERT_EQUAL(dm->storage_time, rm->storage_time);
            CU_ASSERT_EQUAL(dm->lifetime, rm->lifetime);
            CU_ASSERT_EQUAL(dm->model, rm->model);
            CU_ASSERT_EQUAL(dm->index, rm->index);
            CU_ASSERT(bytes_eq(dm->key, rm->key));
            CU_ASSERT_EQUAL(dm->exists, rm->exists);
            CU_ASSERT_EQUAL(dm->meta_value_length, rm->meta_value_length);
            CU_ASSERT_EQUAL(dm->hash_alg, rm->hash_alg);
            CU_ASSERT(bytes_eq(dm->hash_value, rm->hash_value));
        }
    }
    wire_encode_stat_ans(again, &d);
    wire_stat_ans_clear(&d);
    return 0;
}
static int chk_stat_ans(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_stat_ans_with(p, len, again, ref_stat_ans);
}
static int chk_stat_ans_two(const uint8_t *p, size_t len, GByteArray *again)
{
    return chk_stat_ans_with(p, len, again, ref_stat_ans_two);
}

static void ref_find_req(struct wire_find_req *b)
{
    *b = (struct wire_find_req){
        .resource = BA(RES, ID_BYTES), .n_kinds = 2, .kinds = {KIND_SIP_REGISTRATION, KIND_VALUE}};
}
CASE_ENCODER(find_req, wire_find_req, wire_encode_find_req)
static int chk_find_req(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_find_req r, d;
    int rc = wire_decode_find_req(p, len, &d);
    if (rc)
        return rc;
    ref_find_req(&r);
    CU_ASSERT(bytes_eq(d.resource, r.resource));
    CU_ASSERT_EQUAL(d.n_kinds, r.n_kinds);
    CU_ASSERT(memcmp(d.kinds, r.kinds, 4 * r.n_kinds) == 0);
    wire_encode_find_req(again, &d);
    return 0;
}

static const uint8_t ZERO_ID[ID_BYTES];
static void ref_find_ans(struct wire_find_ans *b)
{
    memset(b, 0, sizeof *b);
    b->n_results = 2;
    b->results[0].kind = KIND_SIP_REGISTRATION;
    b->results[0].closest = BA(NODE_C, ID_BYTES);
    b->results[1].kind = KIND_VALUE;
    b->results[1].closest = BA(ZERO_ID, ID_BYTES); /* none known: 0 (§7.4.4.2) */
}
CASE_ENCODER(find_ans, wire_find_ans, wire_encode_find_ans)
static int chk_find_ans(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_find_ans r, d;
    int rc = wire_decode_find_ans(p, len, &d);
    if (rc)
        return rc;
    ref_find_ans(&r);
    CU_ASSERT_EQUAL(d.n_results, r.n_results);
    for (unsigned i = 0; i < r.n_results && i < d.n_results; i++) {
        CU_ASSERT_EQUAL(d.results[i].kind, r.results[i].kind);
        CU_ASSERT(bytes_eq(d.results[i].closest, r.results[i].closest));
    }
    wire_encode_find_ans(again, &d);
    return 0;
}

/* Every message type; storage messages once per data model and once mixing them.  All of
 * them go to the pcap (tshark knows kind 1's model and skips the private kinds' values). */
static const struct body_case cases[] = {
    {"probe_req", WIRE_PROBE_REQ, enc_probe_req, chk_probe_req},
    {"probe_ans", WIRE_PROBE_ANS, enc_probe_ans, chk_probe_ans},
    {"attach_req", WIRE_ATTACH_REQ, enc_attach_req, chk_attach_req},
    {"attach_ans", WIRE_ATTACH_ANS, enc_attach_ans, chk_attach_ans},
    {"store_req dictionary", WIRE_STORE_REQ, enc_store_dict, chk_store_dict},
    {"store_req single", WIRE_STORE_REQ, enc_store_single, chk_store_single},
    {"store_req array", WIRE_STORE_REQ, enc_store_array, chk_store_array},
    {"store_req three kinds", WIRE_STORE_REQ, enc_store_all, chk_store_all},
    {"store_ans", WIRE_STORE_ANS, enc_store_ans, chk_store_ans},
    {"fetch_req", WIRE_FETCH_REQ, enc_fetch_req, chk_fetch_req},
    {"fetch_req two kinds", WIRE_FETCH_REQ, enc_fetch_req_two, chk_fetch_req_two},
    {"fetch_ans", WIRE_FETCH_ANS, enc_fetch_ans, chk_fetch_ans},
    {"fetch_ans two kinds", WIRE_FETCH_ANS, enc_fetch_ans_two, chk_fetch_ans_two},
    {"find_req", WIRE_FIND_REQ, enc_find_req, chk_find_req},
    {"find_ans", WIRE_FIND_ANS, enc_find_ans, chk_find_ans},
    {"join_req", WIRE_JOIN_REQ, enc_join_req, chk_join_req},
    {"join_ans", WIRE_JOIN_ANS, enc_join_ans, chk_join_ans},
    {"leave_req", WIRE_LEAVE_REQ, enc_leave_req, chk_leave_req},
    {"leave_ans", WIRE_LEAVE_ANS, enc_empty, chk_empty},
    {"update_req full", WIRE_UPDATE_REQ, enc_update_full, chk_update_full},
    {"update_req neighbors", WIRE_UPDATE_REQ, enc_update_neighbors, chk_update_neighbors},
    {"update_req peer_ready", WIRE_UPDATE_REQ, enc_update_ready, chk_update_ready},
    {"update_ans", WIRE_UPDATE_ANS, enc_empty, chk_empty},
    {"route_query_req", WIRE_ROUTE_QUERY_REQ, enc_route_query_req, chk_route_query_req},
    {"route_query_ans", WIRE_ROUTE_QUERY_ANS, enc_route_query_ans, chk_route_query_ans},
    {"ping_req", WIRE_PING_REQ, enc_ping_req, chk_ping_req},
    {"ping_ans", WIRE_PING_ANS, enc_ping_ans, chk_ping_ans},
    {"stat_req", WIRE_STAT_REQ, enc_fetch_req, chk_fetch_req},
    {"stat_req two kinds", WIRE_STAT_REQ, enc_fetch_req_two, chk_fetch_req_two},
    {"stat_ans", WIRE_STAT_ANS, enc_stat_ans, chk_stat_ans},
    {"stat_ans two kinds", WIRE_STAT_ANS, enc_stat_ans_two, chk_stat_ans_two},
    {"app_attach_req", WIRE_APP_ATTACH_REQ, enc_app_attach_req, chk_app_attach_req},
    {"app_attach_ans", WIRE_APP_ATTACH_ANS, enc_app_attach_ans, chk_app_attach_ans},
    {"error", WIRE_ERROR, enc_error, chk_error},
};

/* ---- headers and messages ------------------------------------------------------------------ */

/* One ForwardingOption of an unassigned type (2 is RFC 7363's extensive_routing_mode). */
static const uint8_t OPTIONS[] = {0x7f, 0x00, 0x00, 0x02, 0xab, 0xcd};
static const uint8_t COMPRESSED[2] = {0x80, 0x2a};
static const uint8_t OPAQUE_ID[3] = {0x01, 0x02, 0x03};

/* The header of case i: requests go from A to a resource or to B, answers back to A; every
 * fourth request also crosses a via list with each destination form. */
static void make_header(struct wire_header *h, unsigned i, uint16_t code)
{
    memset(h, 0, sizeof *h);
    h->overlay = id_overlay_hash("p2psip.example.org");
    h->config_seq = 1;
    h->version = WIRE_VERSION;
    h->ttl = 100;
    h->fragment = WIRE_FRAGMENT_LAST;
    bool request = code != WIRE_ERROR && (code & 1);
    /* An answer carries the transaction id of the latest request of its method. */
    unsigned t = i;
    while (!request && code != WIRE_ERROR && t > 0 && cases[t].code != code - 1)
        t--;
    h->txid = 0x5eed000000000000ull + t;
    h->max_response_length = request ? 65535 : 0; /* answers SHOULD carry 0 */
    if (!request) {
        h->n_dest = 1;
        wire_dest_node(&h->dest[0], NODE_A);
        return;
    }
    if (i % 4 == 0) {
        h->n_via = 3;
        wire_dest_node(&h->via[0], NODE_A);
        h->via[1] = (struct wire_dest){
            .type = WIRE_DEST_OPAQUE, .compressed = true, .len = 2, .data = COMPRESSED};
        h->via[2] = (struct wire_dest){
            .type = WIRE_DEST_OPAQUE, .len = sizeof OPAQUE_ID, .data = OPAQUE_ID};
        h->options = BA(OPTIONS, sizeof OPTIONS);
    }
    h->n_dest = 2;
    wire_dest_node(&h->dest[0], NODE_C);
    wire_dest_resource(&h->dest[1], RES, ID_BYTES);
}

static void check_header_eq(const struct wire_header *d, const struct wire_header *r)
{
    CU_ASSERT_EQUAL(d->overlay, r->overlay);
    CU_ASSERT_EQUAL(d->config_seq, r->config_seq);
    CU_ASSERT_EQUAL(d->version, r->version);
    CU_ASSERT_EQUAL(d->ttl, r->ttl);
    CU_ASSERT_EQUAL(d->fragment, r->fragment);
    CU_ASSERT_EQUAL(d->txid, r->txid);
    CU_ASSERT_EQUAL(d->max_response_length, r->max_response_length);
    CU_ASSERT_EQUAL(d->n_via, r->n_via);
    CU_ASSERT_EQUAL(d->n_dest, r->n_dest);
    for (unsigned i = 0; i < r->n_via && i < d->n_via; i++)
        CU_ASSERT(dest_eq(&d->via[i], &r->via[i]));
    for (unsigned i = 0; i < r->n_dest && i < d->n_dest; i++)
        CU_ASSERT(dest_eq(&d->dest[i], &r->dest[i]));
    CU_ASSERT(bytes_eq(d->options, r->options));
}

/* Encodes case i as a whole message into out. */
static void encode_case_message(GByteArray *out, unsigned i)
{
    static struct wire_header h;
    GByteArray *body = g_byte_array_new();
    struct wire_security sec;
    cases[i].encode(body);
    make_header(&h, i, cases[i].code);
    wire_security_none(&sec);
    wire_encode_message(out, &h, cases[i].code, &(struct wire_bytes){body->data, body->len}, NULL,
                        &sec);
    g_byte_array_free(body, TRUE);
}

/* Every strict prefix of buf must fail; so must buf with its length field one off. */
static void check_truncations(const GByteArray *buf, check_fn check)
{
    GByteArray *scratch = g_byte_array_new();
    for (size_t n = 0; n < buf->len; n++) {
        uint8_t *copy = g_memdup2(buf->data, n ? n : 1); /* exact-size copy: ASan sees overreads */
        int rc = check(copy, n, scratch);
        CU_ASSERT(rc < 0);
        g_free(copy);
    }
    g_byte_array_free(scratch, TRUE);
}

static void test_body_round_trips(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const struct body_case *c = &cases[i];
        GByteArray *b1 = g_byte_array_new(), *b2 = g_byte_array_new();
        c->encode(b1);
        int rc = c->check(b1->data, b1->len, b2);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT(garray_eq(b1, b2));
        if (rc != 0 || !garray_eq(b1, b2))
            fprintf(stderr, "\n  body round trip failed: %s (rc %d)\n", c->name, rc);
        check_truncations(b1, c->check);
        /* A byte of trailing garbage is rejected too. */
        g_byte_array_append(b1, (const uint8_t *)"", 1);
        CU_ASSERT(c->check(b1->data, b1->len, b2) < 0);
        g_byte_array_free(b1, TRUE);
        g_byte_array_free(b2, TRUE);
    }
}

static int chk_message(const uint8_t *p, size_t len, GByteArray *again)
{
    static struct wire_message m;
    return wire_decode_message(p, len, &m);
}

static void test_message_round_trips(void)
{
    static struct wire_message m;
    static struct wire_header ref;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const struct body_case *c = &cases[i];
        GByteArray *msg = g_byte_array_new(), *body = g_byte_array_new();
        GByteArray *again = g_byte_array_new();
        c->encode(body);
        encode_case_message(msg, (unsigned)i);
        make_header(&ref, (unsigned)i, c->code);

        CU_ASSERT_EQUAL_FATAL(wire_decode_message(msg->data, msg->len, &m), 0);
        check_header_eq(&m.h, &ref);
        CU_ASSERT_EQUAL(m.h.length, msg->len);
        CU_ASSERT_EQUAL(m.code, c->code);
        CU_ASSERT(bytes_eq(m.body, BA(body->data, body->len)));
        CU_ASSERT_EQUAL(m.extensions.len, 0);
        CU_ASSERT_EQUAL(m.sec.certificates.len, 0);
        CU_ASSERT_EQUAL(m.sec.sig.hash_alg, 0);
        CU_ASSERT_EQUAL(m.sec.sig.sig_alg, 0);
        CU_ASSERT_EQUAL(m.sec.sig.identity_type, WIRE_SIGNER_NONE);
        CU_ASSERT_EQUAL(m.sec.sig.identity.len, 0);
        CU_ASSERT_EQUAL(m.sec.sig.value.len, 0);
        /* The body decodes from the decoded message. */
        CU_ASSERT_EQUAL(c->check(m.body.p, m.body.len, again), 0);

        /* Re-encoding the decoded message, or just its header, gives the same bytes. */
        g_byte_array_set_size(again, 0);
        wire_encode_message(again, &m.h, m.code, &m.body, &m.extensions, &m.sec);
        CU_ASSERT(garray_eq(msg, again));
        g_byte_array_set_size(again, 0);
        wire_reencode_header(again, &m.h, msg->data, msg->len, m.header_len);
        CU_ASSERT(garray_eq(msg, again));

        check_truncations(msg, chk_message);
        for (int delta = -1; delta <= 1; delta += 2) { /* the length field one off */
            GByteArray *bad = g_byte_array_new();
            g_byte_array_append(bad, msg->data, msg->len);
            uint32_t l = (uint32_t)msg->len + (uint32_t)delta;
            bad->data[16] = (uint8_t)(l >> 24);
            bad->data[17] = (uint8_t)(l >> 16);
            bad->data[18] = (uint8_t)(l >> 8);
            bad->data[19] = (uint8_t)l;
            CU_ASSERT(wire_decode_message(bad->data, bad->len, &m) < 0);
            g_byte_array_free(bad, TRUE);
        }
        g_byte_array_free(msg, TRUE);
        g_byte_array_free(body, TRUE);
        g_byte_array_free(again, TRUE);
    }
}

/* The forwarding path: a new via entry and a lower TTL, the rest copied verbatim. */
static void test_forwarding_reencode(void)
{
    static struct wire_message m, m2;
    GByteArray *msg = g_byte_array_new(), *fwd = g_byte_array_new();
    encode_case_message(msg, 0); /* probe_req with via list and options */
    CU_ASSERT_EQUAL_FATAL(wire_decode_message(msg->data, msg->len, &m), 0);
    struct wire_header h = m.h;
    h.ttl--;
    wire_dest_node(&h.via[h.n_via++], NODE_B);
    h.dest[0] = h.dest[1]; /* the first destination was us: pop it */
    h.n_dest = 1;
    wire_reencode_header(fwd, &h, msg->data, msg->len, m.header_len);
    CU_ASSERT_EQUAL_FATAL(wire_decode_message(fwd->data, fwd->len, &m2), 0);
    CU_ASSERT_EQUAL(m2.h.length, fwd->len);
    CU_ASSERT_EQUAL(m2.h.ttl, 99);
    CU_ASSERT_EQUAL(m2.h.n_via, 4);
    CU_ASSERT(dest_eq(&m2.h.via[3], &(struct wire_dest){WIRE_DEST_NODE, false, 16, NODE_B}));
    CU_ASSERT_EQUAL(m2.h.n_dest, 1);
    CU_ASSERT_EQUAL(m2.h.dest[0].type, WIRE_DEST_RESOURCE);
    CU_ASSERT_EQUAL(fwd->len - m2.header_len, msg->len - m.header_len);
    CU_ASSERT(
        memcmp(fwd->data + m2.header_len, msg->data + m.header_len, msg->len - m.header_len) == 0);
    struct id id;
    CU_ASSERT_EQUAL(wire_dest_id(&m2.h.via[3], &id), 0);
    CU_ASSERT(id_eq(&id, &(struct id){0x9b0c1d2e3f405162ull, 0x738495a6b7c8d9eaull}));
    CU_ASSERT_EQUAL(wire_dest_id(&m2.h.via[1], &id), -1); /* compressed */
    g_byte_array_free(msg, TRUE);
    g_byte_array_free(fwd, TRUE);
}

static int chk_frame(const uint8_t *p, size_t len, GByteArray *again)
{
    struct wire_frame f;
    return wire_decode_frame(p, len, &f);
}

static void test_frames(void)
{
    GByteArray *msg = g_byte_array_new(), *fr = g_byte_array_new();
    struct wire_frame f;
    encode_case_message(msg, 1);
    wire_frame_data(fr, 7, msg->data, msg->len);
    CU_ASSERT_EQUAL(fr->len, msg->len + WIRE_FRAME_DATA_OVERHEAD);
    CU_ASSERT_EQUAL_FATAL(wire_decode_frame(fr->data, fr->len, &f), 0);
    CU_ASSERT_EQUAL(f.type, WIRE_FRAME_DATA);
    CU_ASSERT_EQUAL(f.sequence, 7);
    CU_ASSERT(bytes_eq(f.message, BA(msg->data, msg->len)));
    check_truncations(fr, chk_frame);

    g_byte_array_set_size(fr, 0);
    wire_frame_ack(fr, 0xfffffffe, 0x80000001);
    CU_ASSERT_EQUAL_FATAL(wire_decode_frame(fr->data, fr->len, &f), 0);
    CU_ASSERT_EQUAL(f.type, WIRE_FRAME_ACK);
    CU_ASSERT_EQUAL(f.sequence, 0xfffffffe);
    CU_ASSERT_EQUAL(f.received, 0x80000001);
    check_truncations(fr, chk_frame);
    g_byte_array_append(fr, (const uint8_t *)"", 1);
    CU_ASSERT_EQUAL(wire_decode_frame(fr->data, fr->len, &f), WIRE_E_INVALID);
    fr->data[0] = 130; /* no such FramedMessageType */
    CU_ASSERT_EQUAL(wire_decode_frame(fr->data, fr->len, &f), WIRE_E_UNSUPPORTED);
    g_byte_array_free(msg, TRUE);
    g_byte_array_free(fr, TRUE);
}

/* ---- golden bytes, laid out by hand from the RFC text -------------------------------------- */

/* §6.3.1.1: "192.0.2.1" port 6084 is 01 06 c0 00 02 01 17 c4; here as the one host candidate
 * of an AttachReqAns. */
static void test_golden_ip_address_port(void)
{
    static const uint8_t golden[] = {
        0x01, 'u',                                      /* ufrag<0..2^8-1> */
        0x01, 'p',                                      /* password */
        0x07, 'p',  'a',  's',  's',  'i',  'v',  'e',  /* role */
        0x00, 0x12,                                     /* candidates<0..2^16-1>: 18 bytes */
        0x01, 0x06, 0xc0, 0x00, 0x02, 0x01, 0x17, 0xc4, /* IpAddressPort, RFC example */
        0x01,                                           /* overlay_link DTLS-UDP-SR */
        0x01, 'f',                                      /* foundation */
        0x7e, 0xff, 0xff, 0xff,                         /* priority */
        0x01,                                           /* type host: no rel_addr_port */
        0x00, 0x00,                                     /* extensions */
        0x00,                                           /* send_update False */
    };
    struct wire_attach a = {
        .ufrag = B("u"), .password = B("p"), .role = B("passive"), .n_candidates = 1};
    a.candidates[0] = (struct wire_candidate){.addr = A4(0xc0000201, 6084),
                                              .overlay_link = WIRE_LINK_DTLS_UDP_SR,
                                              .foundation = B("f"),
                                              .priority = 0x7effffff,
                                              .type = WIRE_CAND_HOST};
    GByteArray *out = g_byte_array_new();
    wire_encode_attach(out, &a);
    CU_ASSERT(garray_eq(out, &(GByteArray){(uint8_t *)golden, sizeof golden}));
    struct wire_attach d;
    CU_ASSERT_EQUAL_FATAL(wire_decode_attach(golden, sizeof golden, &d), 0);
    CU_ASSERT_EQUAL(d.candidates[0].addr.ip, 0xc0000201);
    CU_ASSERT_EQUAL(d.candidates[0].addr.port, 6084);
    g_byte_array_free(out, TRUE);
}

/* A whole Ping request (§6.3.2, §6.3.3, §6.3.4, §6.5.3.1) to one Node-ID. */
static const uint8_t GOLDEN_PING[] = {
    0xd2, 0x45, 0x4c, 0x4f,                         /* relo_token */
    0xde, 0xad, 0xbe, 0xef,                         /* overlay */
    0x00, 0x01,                                     /* configuration_sequence */
    0x0a,                                           /* version 1.0 */
    0x64,                                           /* ttl 100 */
    0xc0, 0x00, 0x00, 0x00,                         /* fragment: unfragmented */
    0x00, 0x00, 0x00, 0x4d,                         /* length 77 */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* transaction_id */
    0x00, 0x00, 0x00, 0x00,                         /* max_response_length */
    0x00, 0x00,                                     /* via_list_length */
    0x00, 0x12,                                     /* destination_list_length: 18 bytes */
    0x00, 0x00,                                     /* options_length */
    0x01, 0x10,                                     /* Destination: node, 16 bytes */
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, /* the Node-ID */
    0x00, 0x17,                                     /* message_code ping_req */
    0x00, 0x00, 0x00, 0x02,                         /* message_body<0..2^32-1> */
    0x00, 0x00,                                     /* PingReq padding<0..2^16-1>, empty */
    0x00, 0x00, 0x00, 0x00,                         /* extensions */
    0x00, 0x00,                                     /* certificates */
    0x00, 0x00,                                     /* SignatureAndHashAlgorithm: none, anonymous */
    0x03, 0x00, 0x00,                               /* SignerIdentity: none, length 0 */
    0x00, 0x00,                                     /* signature_value */
};

static void test_golden_ping(void)
{
    static struct wire_header h;
    static struct wire_message m;
    static const uint8_t node[ID_BYTES] = {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                           0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};
    memset(&h, 0, sizeof h);
    h.overlay = 0xdeadbeef;
    h.config_seq = 1;
    h.version = WIRE_VERSION;
    h.ttl = 100;
    h.fragment = WIRE_FRAGMENT_LAST;
    h.txid = 0x0102030405060708ull;
    h.n_dest = 1;
    wire_dest_node(&h.dest[0], node);
    GByteArray *body = g_byte_array_new(), *out = g_byte_array_new();
    wire_encode_ping_req(body, &(struct wire_ping_req){{NULL, 0}});
    struct wire_security sec;
    wire_security_none(&sec);
    wire_encode_message(out, &h, WIRE_PING_REQ, &(struct wire_bytes){body->data, body->len}, NULL,
                        &sec);
    CU_ASSERT_EQUAL(out->len, sizeof GOLDEN_PING);
    CU_ASSERT(garray_eq(out, &(GByteArray){(uint8_t *)GOLDEN_PING, sizeof GOLDEN_PING}));

    size_t hl;
    CU_ASSERT_EQUAL_FATAL(wire_decode_message(GOLDEN_PING, sizeof GOLDEN_PING, &m), 0);
    CU_ASSERT_EQUAL(wire_decode_header(GOLDEN_PING, sizeof GOLDEN_PING, &m.h, &hl), 0);
    CU_ASSERT_EQUAL(hl, 56);
    CU_ASSERT_EQUAL(m.header_len, 56);
    CU_ASSERT_EQUAL(m.h.overlay, 0xdeadbeef);
    CU_ASSERT_EQUAL(m.h.txid, 0x0102030405060708ull);
    CU_ASSERT_EQUAL(m.h.length, 77);
    CU_ASSERT_EQUAL(m.code, WIRE_PING_REQ);
    CU_ASSERT_EQUAL(m.body.len, 2);
    CU_ASSERT_EQUAL(m.sec.sig.identity_type, WIRE_SIGNER_NONE);
    CU_ASSERT_STRING_EQUAL(wire_code_name(m.code), "ping_req");
    g_byte_array_free(body, TRUE);
    g_byte_array_free(out, TRUE);
}

/* Destination forms (§6.3.2.2) in a RouteQueryReq and framing (§6.6.2). */
static void test_golden_destinations_and_frames(void)
{
    static const uint8_t rq[] = {
        0x01,                              /* send_update True */
        0x02, 0x05, 0x04,                  /* resource: TLV length 5 = ResourceId<0..2^8-1> of 4 */
        'a',  'b',  'c',  'd', 0x00, 0x00, /* overlay_specific_data */
    };
    struct wire_route_query_req q = {.send_update = true};
    wire_dest_resource(&q.destination, (const uint8_t *)"abcd", 4);
    GByteArray *out = g_byte_array_new();
    wire_encode_route_query_req(out, &q);
    CU_ASSERT(garray_eq(out, &(GByteArray){(uint8_t *)rq, sizeof rq}));

    static const uint8_t rq_compressed[] = {0x00, 0x80, 0x2a, 0x00, 0x00};
    struct wire_route_query_req d;
    CU_ASSERT_EQUAL_FATAL(wire_decode_route_query_req(rq_compressed, sizeof rq_compressed, &d), 0);
    CU_ASSERT(d.destination.compressed);
    CU_ASSERT_EQUAL(d.destination.type, WIRE_DEST_OPAQUE);
    CU_ASSERT_EQUAL(d.destination.len, 2);
    CU_ASSERT_EQUAL(d.destination.data[1], 0x2a);

    static const uint8_t ack[] = {0x81, 0x00, 0x00, 0x00, 0x05, 0x80, 0x00, 0x00, 0x01};
    static const uint8_t data[] = {0x80, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x02, 'h', 'i'};
    g_byte_array_set_size(out, 0);
    wire_frame_ack(out, 5, 0x80000001);
    CU_ASSERT(garray_eq(out, &(GByteArray){(uint8_t *)ack, sizeof ack}));
    g_byte_array_set_size(out, 0);
    wire_frame_data(out, 9, (const uint8_t *)"hi", 2);
    CU_ASSERT(garray_eq(out, &(GByteArray){(uint8_t *)data, sizeof data}));
    g_byte_array_free(out, TRUE);
}

/* ---- specific rejections ------------------------------------------------------------------- */

static void test_rejections(void)
{
    static struct wire_message m;
    uint8_t buf[sizeof GOLDEN_PING];
#define MUTATE(at, value, expect)                                                                  \
    do {                                                                                           \
        memcpy(buf, GOLDEN_PING, sizeof buf);                                                      \
        buf[at] = (value);                                                                         \
        CU_ASSERT_EQUAL(wire_decode_message(buf, sizeof buf, &m), (expect));                       \
    } while (0)
    MUTATE(0, 0x52, WIRE_E_UNSUPPORTED);  /* token without its high bit */
    MUTATE(10, 0x01, WIRE_E_UNSUPPORTED); /* version 0.1 */
    MUTATE(12, 0x80, WIRE_E_UNSUPPORTED); /* not the last fragment */
    MUTATE(12, 0x40, WIRE_E_UNSUPPORTED); /* high bit missing */
    MUTATE(15, 0x01, WIRE_E_UNSUPPORTED); /* a fragment offset */
    MUTATE(19, 0x4e, WIRE_E_TRUNCATED);   /* length past the buffer */
    MUTATE(19, 0x4c, WIRE_E_INVALID);     /* length short of the buffer */
    MUTATE(35, 0x11, WIRE_E_TRUNCATED);   /* destination list of 17 bytes: node cut short */
    MUTATE(39, 0x0f, WIRE_E_TRUNCATED);   /* node TLV of 15 bytes */
    MUTATE(38, 0x00, WIRE_E_INVALID);     /* invalidDestinationType */
    MUTATE(61, 0x00, WIRE_E_INVALID);     /* body length 0: what follows misparses */
    MUTATE(67, 0x01, WIRE_E_TRUNCATED);   /* extensions length 1: half a type */
    MUTATE(68, 0x01, WIRE_E_TRUNCATED);   /* certificates length 256 */
    MUTATE(69, 0x02, WIRE_E_TRUNCATED);   /* certificates length 2: no GenericCertificate */
    MUTATE(72, 0x00, WIRE_E_INVALID);     /* invalidSignerIdentityType */
    MUTATE(74, 0x01, WIRE_E_INVALID);     /* identity none with a value byte */
    MUTATE(76, 0x01, WIRE_E_TRUNCATED);   /* signature_value length 1 */
#undef MUTATE
    /* A resource destination whose ResourceId leaves a byte of its TLV unused. */
    memcpy(buf, GOLDEN_PING, sizeof buf);
    buf[38] = WIRE_DEST_RESOURCE;
    buf[40] = 14;
    CU_ASSERT_EQUAL(wire_decode_message(buf, sizeof buf, &m), WIRE_E_INVALID);
    buf[40] = 15;
    CU_ASSERT_EQUAL(wire_decode_message(buf, sizeof buf, &m), WIRE_OK);
    CU_ASSERT_EQUAL(m.h.dest[0].len, 15);
    /* Identity none with a non-empty value is rejected; cert_hash must parse. */
    static const uint8_t sig_none_long[] = {0, 0, 3, 0, 1, 9, 0, 0};
    static const uint8_t sig_hash_bad[] = {0, 0, 1, 0, 2, 4, 5, 0, 0};
    static const uint8_t sig_hash_ok[] = {0, 0, 1, 0, 3, 4, 1, 0xaa, 0, 1, 0xbb};
    uint8_t msg[256];
    const uint8_t *sigs[] = {sig_none_long, sig_hash_bad, sig_hash_ok};
    size_t sig_len[] = {sizeof sig_none_long, sizeof sig_hash_bad, sizeof sig_hash_ok};
    int expect[] = {WIRE_E_INVALID, WIRE_E_TRUNCATED, WIRE_OK};
    for (unsigned i = 0; i < 3; i++) {
        size_t n = sizeof GOLDEN_PING - 7 + sig_len[i];
        memcpy(msg, GOLDEN_PING, sizeof GOLDEN_PING - 7);
        memcpy(msg + sizeof GOLDEN_PING - 7, sigs[i], sig_len[i]);
        msg[19] = (uint8_t)n;
        CU_ASSERT_EQUAL(wire_decode_message(msg, n, &m), expect[i]);
    }

    /* Booleans other than 0 and 1. */
    static const uint8_t rq_bool[] = {0x02, 0x80, 0x2a, 0x00, 0x00};
    struct wire_route_query_req q;
    CU_ASSERT_EQUAL(wire_decode_route_query_req(rq_bool, sizeof rq_bool, &q), WIRE_E_INVALID);

    /* A Store of a Kind whose data model is unknown. */
    struct wire_store_req sr;
    GByteArray *out = g_byte_array_new();
    ref_store_single(&sr);
    store_kinds[1].kind = KIND_UNKNOWN;
    wire_encode_store_req(out, &sr);
    CU_ASSERT_EQUAL(wire_decode_store_req(out->data, out->len, &sr, test_model, NULL),
                    WIRE_E_UNKNOWN_KIND);
    CU_ASSERT(sr.kinds == NULL);
    wire_store_req_clear(&sr); /* safe on a failed decode */
    g_byte_array_set_size(out, 0);
    struct wire_fetch_req fr;
    ref_fetch_req(&fr);
    specs[1].kind = KIND_UNKNOWN;
    wire_encode_fetch_req(out, &fr);
    CU_ASSERT_EQUAL(wire_decode_fetch_req(out->data, out->len, &fr, test_model, NULL),
                    WIRE_E_UNKNOWN_KIND);
    struct wire_fetch_ans fa;
    ref_fetch_ans(&fa);
    fetch_kinds[2].kind = KIND_UNKNOWN;
    g_byte_array_set_size(out, 0);
    wire_encode_fetch_ans(out, &fa);
    CU_ASSERT_EQUAL(wire_decode_fetch_ans(out->data, out->len, &fa, test_model, NULL),
                    WIRE_E_UNKNOWN_KIND);
    CU_ASSERT(fa.kinds == NULL);
    struct wire_stat_ans sa;
    ref_stat_ans(&sa);
    stat_kinds[0].kind = KIND_UNKNOWN;
    g_byte_array_set_size(out, 0);
    wire_encode_stat_ans(out, &sa);
    CU_ASSERT_EQUAL(wire_decode_stat_ans(out->data, out->len, &sa, test_model, NULL),
                    WIRE_E_UNKNOWN_KIND);

    /* More via entries than WIRE_MAX_LIST. */
    static struct wire_header h;
    memset(&h, 0, sizeof h);
    h.version = WIRE_VERSION;
    h.fragment = WIRE_FRAGMENT_LAST;
    h.n_via = WIRE_MAX_LIST;
    for (unsigned i = 0; i < WIRE_MAX_LIST; i++)
        h.via[i] = (struct wire_dest){WIRE_DEST_OPAQUE, true, 2, COMPRESSED};
    g_byte_array_set_size(out, 0);
    wire_encode_message(out, &h, WIRE_PING_ANS, &(struct wire_bytes){NULL, 0}, NULL, NULL);
    CU_ASSERT_EQUAL(wire_decode_message(out->data, out->len, &m), WIRE_OK);
    CU_ASSERT_EQUAL(m.h.n_via, WIRE_MAX_LIST);
    h.n_via = WIRE_MAX_LIST - 1; /* one more, written by hand: a 129th compressed entry */
    g_byte_array_set_size(out, 0);
    wire_encode_message(out, &h, WIRE_PING_ANS, &(struct wire_bytes){NULL, 0}, NULL, NULL);
    GByteArray *big = g_byte_array_new();
    g_byte_array_append(big, out->data, 38);
    g_byte_array_append(big, COMPRESSED, 2);
    g_byte_array_append(big, COMPRESSED, 2);
    g_byte_array_append(big, out->data + 38, out->len - 38);
    uint16_t via_bytes = (uint16_t)(2 * (WIRE_MAX_LIST + 1));
    big->data[32] = (uint8_t)(via_bytes >> 8);
    big->data[33] = (uint8_t)via_bytes;
    big->data[19] = (uint8_t)big->len;
    big->data[18] = (uint8_t)(big->len >> 8);
    CU_ASSERT_EQUAL(wire_decode_message(big->data, big->len, &m), WIRE_E_TOO_MANY);
    g_byte_array_free(big, TRUE);

    /* A NodeId list whose length is not a multiple of 16. */
    static const uint8_t upd[] = {0, 0, 0, 1, 2, 0, 3, 1, 2, 3, 0, 0};
    static struct wire_chord_update cu;
    CU_ASSERT_EQUAL(wire_decode_chord_update(upd, sizeof upd, &cu), WIRE_E_INVALID);
    /* An IpAddressPort of an unknown type. */
    static const uint8_t att[] = {0, 0, 0, 0, 8, 7, 6, 1, 2, 3, 4, 5, 6, 0};
    struct wire_attach at;
    CU_ASSERT_EQUAL(wire_decode_attach(att, sizeof att, &at), WIRE_E_UNSUPPORTED);
    CU_ASSERT_STRING_EQUAL(wire_code_name(WIRE_ERROR), "error");
    CU_ASSERT_STRING_EQUAL(wire_code_name(WIRE_APP_ATTACH_ANS), "app_attach_ans");
    CU_ASSERT_STRING_EQUAL(wire_code_name(0x5), "unknown");
    g_byte_array_free(out, TRUE);
}

/* ---- random and mutated input -------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Runs every decoder over buf; none may crash or read outside [buf, buf+len), and the
 * allocating ones must leave nothing behind on failure (checked under ASan/LSan). */
static void decode_everything(const uint8_t *buf, size_t len)
{
    static struct wire_message m;
    static struct wire_header h;
    static struct wire_chord_update cu;
    static struct wire_attach at;
    static struct wire_app_attach aa;
    static struct wire_probe_req pq;
    static struct wire_probe_ans pa;
    static struct wire_find_req fq;
    static struct wire_find_ans fa;
    size_t hl;
    struct wire_frame f;
    struct wire_join_req jq;
    struct wire_join_ans ja;
    struct wire_leave_req lq;
    struct wire_route_query_req rq;
    struct wire_chord_route_query_ans ra;
    struct wire_ping_req gq;
    struct wire_ping_ans ga;
    struct wire_error er;
    struct wire_store_req sq;
    struct wire_store_ans sa;
    struct wire_fetch_req fr;
    struct wire_fetch_ans fan;
    struct wire_stat_ans st;
    wire_decode_header(buf, len, &h, &hl);
    wire_decode_message(buf, len, &m);
    wire_decode_frame(buf, len, &f);
    wire_decode_join_req(buf, len, &jq);
    wire_decode_join_ans(buf, len, &ja);
    wire_decode_leave_req(buf, len, &lq);
    wire_decode_route_query_req(buf, len, &rq);
    wire_decode_chord_route_query_ans(buf, len, &ra);
    wire_decode_probe_req(buf, len, &pq);
    wire_decode_probe_ans(buf, len, &pa);
    wire_decode_chord_update(buf, len, &cu);
    wire_decode_attach(buf, len, &at);
    wire_decode_app_attach(buf, len, &aa);
    wire_decode_ping_req(buf, len, &gq);
    wire_decode_ping_ans(buf, len, &ga);
    wire_decode_error(buf, len, &er);
    wire_decode_find_req(buf, len, &fq);
    wire_decode_find_ans(buf, len, &fa);
    if (wire_decode_store_req(buf, len, &sq, test_model, NULL) == 0)
        wire_store_req_clear(&sq);
    if (wire_decode_store_ans(buf, len, &sa) == 0)
        wire_store_ans_clear(&sa);
    if (wire_decode_fetch_req(buf, len, &fr, test_model, NULL) == 0)
        wire_fetch_req_clear(&fr);
    if (wire_decode_fetch_ans(buf, len, &fan, test_model, NULL) == 0)
        wire_fetch_ans_clear(&fan);
    if (wire_decode_stat_ans(buf, len, &st, test_model, NULL) == 0)
        wire_stat_ans_clear(&st);
}

static void test_random_input(void)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    uint8_t *buf = g_malloc(512);
    for (unsigned iter = 0; iter < 5000; iter++) {
        size_t len = rng_next(&seed) % 512;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rng_next(&seed);
        if (len >= 20 && iter % 2) { /* a plausible header start reaches deeper code */
            memcpy(buf, GOLDEN_PING, 12);
            buf[16] = buf[17] = 0;
            buf[18] = (uint8_t)(len >> 8);
            buf[19] = (uint8_t)len;
        }
        uint8_t *exact = g_memdup2(buf, len ? len : 1);
        decode_everything(exact, len);
        g_free(exact);
    }
    /* Mutations of every valid message and body: one to three random bytes changed. */
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GByteArray *msg = g_byte_array_new();
        encode_case_message(msg, (unsigned)i);
        for (unsigned iter = 0; iter < 200; iter++) {
            uint8_t *copy = g_memdup2(msg->data, msg->len);
            unsigned n = 1 + (unsigned)(rng_next(&seed) % 3);
            for (unsigned k = 0; k < n; k++)
                copy[rng_next(&seed) % msg->len] = (uint8_t)rng_next(&seed);
            decode_everything(copy, msg->len);
            static struct wire_message m;
            if (wire_decode_message(copy, msg->len, &m) == 0) {
                uint8_t *body = g_memdup2(m.body.p, m.body.len ? m.body.len : 1);
                decode_everything(body, m.body.len);
                g_free(body);
            }
            g_free(copy);
        }
        g_byte_array_free(msg, TRUE);
    }
    g_free(buf);
    CU_PASS("no crash");
}

/* ---- pcap export for tests/t_tshark.sh ----------------------------------------------------- */

static void test_pcap_export(void)
{
    const struct env_addr a = {0x0a000001, RELOAD_PORT}, b = {0x0a000002, RELOAD_PORT};
    uint32_t seq_ab = 0, seq_ba = 0;
    env_time t = 1700000000ull * ENV_S;
    GError *err = NULL;
    CU_ASSERT_EQUAL_FATAL(g_mkdir_with_parents("tests/tmp", 0755), 0);
    struct pcap_writer *w = pcap_open(PCAP_PATH, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    unsigned records = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GByteArray *msg = g_byte_array_new(), *fr = g_byte_array_new();
        encode_case_message(msg, (unsigned)i);
        bool request = cases[i].code != WIRE_ERROR && (cases[i].code & 1);
        wire_frame_data(fr, request ? seq_ab++ : seq_ba++, msg->data, msg->len);
        pcap_write_udp(w, t, request ? &a : &b, request ? &b : &a, fr->data, fr->len);
        t += 1500;
        records++;
        g_byte_array_free(msg, TRUE);
        g_byte_array_free(fr, TRUE);
    }
    GByteArray *ack = g_byte_array_new();
    /* The last frame from A, and all earlier ones: sequence numbers 0 .. seq_ab - 2. */
    CU_ASSERT_FATAL(seq_ab >= 1 && seq_ab <= 32);
    wire_frame_ack(ack, seq_ab - 1, (uint32_t)((1ull << (seq_ab - 1)) - 1));
    pcap_write_udp(w, t, &b, &a, ack->data, ack->len);
    records++;
    g_byte_array_free(ack, TRUE);
    CU_ASSERT_EQUAL(pcap_written(w), records);
    pcap_close(w);

    /* Read it back: the file header, then each record's IPv4 header checksums to zero. */
    gchar *data;
    gsize len;
    CU_ASSERT_FATAL(g_file_get_contents(PCAP_PATH, &data, &len, NULL));
    const uint8_t *p = (const uint8_t *)data;
    CU_ASSERT(len > 24 && p[0] == 0xd4 && p[1] == 0xc3 && p[2] == 0xb2 && p[3] == 0xa1);
    CU_ASSERT_EQUAL(p[20], 101); /* LINKTYPE_RAW */
    size_t off = 24;
    unsigned seen = 0;
    while (off + 16 <= len) {
        uint32_t incl = (uint32_t)p[off + 8] | (uint32_t)p[off + 9] << 8 |
                        (uint32_t)p[off + 10] << 16 | (uint32_t)p[off + 11] << 24;
        const uint8_t *ip = p + off + 16;
        CU_ASSERT_FATAL(off + 16 + incl <= len && incl >= 28);
        uint32_t sum = 0;
        for (unsigned k = 0; k < 20; k += 2)
            sum += (uint32_t)ip[k] << 8 | ip[k + 1];
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        CU_ASSERT_EQUAL(sum, 0xffff);
        CU_ASSERT_EQUAL((ip[2] << 8 | ip[3]), incl);
        CU_ASSERT_EQUAL((ip[22] << 8 | ip[23]), RELOAD_PORT);
        off += 16 + incl;
        seen++;
    }
    CU_ASSERT_EQUAL(off, len);
    CU_ASSERT_EQUAL(seen, records);
    g_free(data);
}

CU_TestInfo test_wire_tests[] = {
    {"body round trips and truncations", test_body_round_trips},
    {"message round trips and truncations", test_message_round_trips},
    {"forwarding re-encode", test_forwarding_reencode},
    {"frames", test_frames},
    {"golden IpAddressPort (6.3.1.1)", test_golden_ip_address_port},
    {"golden Ping request", test_golden_ping},
    {"golden destinations and frames", test_golden_destinations_and_frames},
    {"rejections", test_rejections},
    {"random and mutated input", test_random_input},
    {"pcap export", test_pcap_export},
    CU_TEST_INFO_NULL,
};
