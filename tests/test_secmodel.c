/* test_secmodel.c — the modelled security provider (sim/secmodel.c) and, through it, signed
 * StoredData end to end (RFC 6940 §7.1 signatures, §7.3 access-control policies enforced by
 * the storing peer and checked again by the fetcher; core/storage.c, core/access.c): a Store
 * signed by the wrong user refused under USER-MATCH, a value altered by its storing peer
 * rejected by the fetcher, replicas whose signatures still verify after a handover, and the
 * NODE-KEY-MATCH policy of the built-in SIP-REGISTRATION kind. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "../config/config.h"
#include "../core/access.h"
#include "../core/node_int.h"
#include "../sim/secmodel.h"
#include "ring.h"

/* ---- the model alone ------------------------------------------------------------------------ */

static const uint8_t input[] = "overlay || txid || contents";

static int sign(struct secmodel *m, const struct id *self, GByteArray *out)
{
    return secmodel_ops()->sign(m, self, input, sizeof input, out);
}

static int verify(struct secmodel *m, const GByteArray *bucket, const GByteArray *sig,
                  const uint8_t *in, size_t len, struct node_signer *who)
{
    struct wire_signature s;
    if (wire_decode_signature(sig->data, sig->len, &s) < 0)
        return -100;
    return secmodel_ops()->verify(m, (struct wire_bytes){bucket->data, bucket->len}, &s, in, len,
                                  0, who);
}

static void test_model_sign_verify(void)
{
    struct secmodel *m = secmodel_new(7);
    struct id a = id_hash("a", 1), b = id_hash("b", 1);
    secmodel_enroll(m, &a, "alice@p2psip.example");
    secmodel_enroll(m, &b, "bob@p2psip.example");
    secmodel_set_costs(m, 50, 120);
    GByteArray *sig = g_byte_array_new(), *bucket = g_byte_array_new();
    CU_ASSERT_EQUAL_FATAL(sign(m, &a, sig), 0);
    /* Real sizes: algorithm 2 + identity 3 + 34 + value 2 + 72. */
    CU_ASSERT_EQUAL(sig->len, 2 + 3 + 34 + 2 + SECMODEL_SIG_VALUE);
    secmodel_ops()->certificates(m, &a, bucket);
    /* A P-256 certificate of `p2psip ca enroll` for this user is 417 bytes (+ 3 of header). */
    CU_ASSERT_EQUAL(bucket->len, 3 + 417);
    struct node_signer who;
    CU_ASSERT_EQUAL(verify(m, bucket, sig, input, sizeof input, &who), 0);
    CU_ASSERT_TRUE(id_eq(&who.node, &a));
    struct id uh = id_hash("alice@p2psip.example", strlen("alice@p2psip.example"));
    uint8_t ub[ID_BYTES];
    id_to_bytes(&uh, ub);
    CU_ASSERT_TRUE(who.has_user && memcmp(who.user_hash, ub, ID_BYTES) == 0);
    /* Another input, a flipped signature byte, a certificate missing from the bucket. */
    CU_ASSERT_EQUAL(verify(m, bucket, sig, input, sizeof input - 1, &who),
                    SECMODEL_E_BAD_SIGNATURE);
    sig->data[sig->len - 1] ^= 1;
    CU_ASSERT_EQUAL(verify(m, bucket, sig, input, sizeof input, &who), SECMODEL_E_BAD_SIGNATURE);
    sig->data[sig->len - 1] ^= 1;
    GByteArray *other = g_byte_array_new();
    secmodel_ops()->certificates(m, &b, other);
    CU_ASSERT_EQUAL(verify(m, other, sig, input, sizeof input, &who), SECMODEL_E_UNKNOWN_SIGNER);
    /* b's certificate with a's name patched in no longer carries the CA's tag. */
    g_byte_array_set_size(other, 0);
    g_byte_array_append(other, bucket->data, bucket->len);
    other->data[3 + 25] ^= 0x20; /* a byte of the user name */
    CU_ASSERT_NOT_EQUAL(verify(m, other, sig, input, sizeof input, &who), 0);
    const struct secmodel_stats *st = secmodel_get_stats(m);
    CU_ASSERT_EQUAL(st->signs, 1);
    CU_ASSERT_EQUAL(st->verifies, 5);
    CU_ASSERT_EQUAL(st->verify_failed, 4);
    CU_ASSERT_EQUAL(st->cpu_us, 50 + 5 * 120);
    g_byte_array_unref(other);
    g_byte_array_unref(sig);
    g_byte_array_unref(bucket);
    secmodel_free(m);
}

static void test_model_credentials(void)
{
    struct secmodel *m = secmodel_new(1), *m2 = secmodel_new(2);
    struct id a = id_hash("a", 1), b = id_hash("b", 1);
    GByteArray *sig = g_byte_array_new(), *bucket = g_byte_array_new();
    /* Nobody holds a credential until enrolled: sign fails, no certificate. */
    CU_ASSERT_EQUAL(sign(m, &a, sig), SECMODEL_E_NO_CREDENTIAL);
    secmodel_ops()->certificates(m, &a, bucket);
    CU_ASSERT_EQUAL(bucket->len, 0);
    CU_ASSERT_EQUAL(secmodel_get_stats(m)->sign_refused, 1);
    secmodel_enroll_all(m, true);
    secmodel_revoke(m, &b);
    CU_ASSERT_TRUE(secmodel_has_credential(m, &a));
    CU_ASSERT_FALSE(secmodel_has_credential(m, &b));
    CU_ASSERT_EQUAL(sign(m, &b, sig), SECMODEL_E_NO_CREDENTIAL);
    CU_ASSERT_EQUAL_FATAL(sign(m, &a, sig), 0);
    secmodel_ops()->certificates(m, &a, bucket);
    CU_ASSERT_EQUAL(bucket->len, 3 + SECMODEL_CERT_BASE + strlen("n") + 32 + strlen("@sim"));
    struct node_signer who;
    CU_ASSERT_EQUAL(verify(m, bucket, sig, input, sizeof input, &who), 0);
    /* Another run (seed): its CA did not issue this certificate. */
    CU_ASSERT_EQUAL(verify(m2, bucket, sig, input, sizeof input, &who), SECMODEL_E_UNTRUSTED);
    /* Deterministic: the same seed signs alike. */
    struct secmodel *m3 = secmodel_new(1);
    secmodel_enroll_all(m3, true);
    GByteArray *sig3 = g_byte_array_new();
    CU_ASSERT_EQUAL(sign(m3, &a, sig3), 0);
    CU_ASSERT_TRUE(sig3->len == sig->len && memcmp(sig3->data, sig->data, sig->len) == 0);
    g_byte_array_unref(sig3);
    secmodel_free(m3);
    g_byte_array_unref(sig);
    g_byte_array_unref(bucket);
    secmodel_free(m);
    secmodel_free(m2);
}

/* ---- policies (pure) ------------------------------------------------------------------------ */

static void test_access_policies(void)
{
    struct node_signer who = {.node = id_hash("n", 1), .has_user = true};
    struct id uh = id_hash("alice", 5);
    id_to_bytes(&uh, who.user_hash);
    uint8_t alice[ID_BYTES], nb[ID_BYTES], other[ID_BYTES];
    id_to_bytes(&uh, alice);
    id_to_bytes(&who.node, nb);
    struct id o = id_hash("other", 5);
    id_to_bytes(&o, other);
    struct wire_stored_data single = {.model = WIRE_MODEL_SINGLE};
    struct wire_stored_data dict = {.model = WIRE_MODEL_DICTIONARY, .key = {nb, ID_BYTES}};
    struct wire_stored_data dict_other = {.model = WIRE_MODEL_DICTIONARY, .key = {other, ID_BYTES}};
    CU_ASSERT_EQUAL(access_check(NODE_ACCESS_OPEN, 0, other, ID_BYTES, &single, &who), 0);
    CU_ASSERT_EQUAL(access_check(NODE_ACCESS_USER_MATCH, 0, alice, ID_BYTES, &single, &who), 0);
    CU_ASSERT_EQUAL(access_check(NODE_ACCESS_USER_MATCH, 0, other, ID_BYTES, &single, &who),
                    ACCESS_E_DENIED);
    CU_ASSERT_EQUAL(access_check(NODE_ACCESS_USER_NODE_MATCH, 0, alice, ID_BYTES, &dict, &who), 0);
    CU_ASSERT_EQUAL(access_check(NODE_ACCESS_USER_NODE_MATCH, 0, alice, ID_BYTES, &dict_other,
                                 &who),
                    ACCESS_E_DENIED);
    CU_ASSERT_EQUAL(access_check(NODE_ACCESS_NODE_KEY_MATCH, 0, other, ID_BYTES, &dict, &who), 0);
    CU_ASSERT_EQUAL(access_check(NODE_ACCESS_NODE_KEY_MATCH, 0, other, ID_BYTES, &dict_other, &who),
                    ACCESS_E_DENIED);
    CU_ASSERT_EQUAL(access_check(NODE_ACCESS_NODE_KEY_MATCH, 0, other, ID_BYTES, &single, &who),
                    ACCESS_E_DENIED);
    struct id h = id_hash(nb, ID_BYTES);
    uint8_t hb[ID_BYTES];
    id_to_bytes(&h, hb);
    CU_ASSERT_EQUAL(access_check(NODE_ACCESS_NODE_MATCH, 0, hb, ID_BYTES, &single, &who), 0);
    CU_ASSERT_EQUAL(access_check(NODE_ACCESS_NODE_MATCH, 0, alice, ID_BYTES, &single, &who),
                    ACCESS_E_DENIED);
    who.has_user = false; /* a certificate without a user name never matches a user */
    CU_ASSERT_EQUAL(access_check(NODE_ACCESS_USER_MATCH, 0, alice, ID_BYTES, &single, &who),
                    ACCESS_E_DENIED);
    CU_ASSERT_EQUAL(access_check(99, 0, alice, ID_BYTES, &single, &who), ACCESS_E_DENIED);
}

/* The configuration document's <access-control> becomes the kind's policy. */
static void test_config_policies(void)
{
    GError *err = NULL;
    struct config *c = config_load("docs/overlay-example.xml", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    unsigned seen = 0;
    for (unsigned i = 0; i < c->n_kinds; i++) {
        if (c->kinds[i].id == NODE_KIND_SIP_REGISTRATION) {
            CU_ASSERT_EQUAL(c->kinds[i].access, NODE_ACCESS_USER_NODE_MATCH);
            seen++;
        }
        if (c->kinds[i].id == NODE_KIND_VALUE) {
            CU_ASSERT_EQUAL(c->kinds[i].access, NODE_ACCESS_USER_MATCH);
            seen++;
        }
    }
    CU_ASSERT_EQUAL(seen, 2);
    config_free(c);
    CU_ASSERT_EQUAL(config_node_access(CONFIG_ACCESS_NODE_MULTIPLE), NODE_ACCESS_NODE_MULTIPLE);
    CU_ASSERT_EQUAL(config_node_access(CONFIG_ACCESS_NODE_MATCH), NODE_ACCESS_NODE_MATCH);
    /* Without a document the built-in kinds' policies apply. */
    CU_ASSERT_EQUAL(node_kind_find(NULL, NODE_KIND_SIP_REGISTRATION)->access,
                    NODE_ACCESS_NODE_KEY_MATCH);
    CU_ASSERT_EQUAL(node_kind_find(NULL, NODE_KIND_VALUE)->access, NODE_ACCESS_OPEN);
}

/* ---- signed storage through nodes ---------------------------------------------------------- */

#define KIND_USER 0xf0000010u /* a SINGLE kind under USER-MATCH */

static struct node_config sec_cfg;
static struct node_kind sec_kinds[1];

/* A ring of n peers (Node-IDs as ring.c's mk_node) that all hold credentials of the model m,
 * user "user<i>", built through the join protocol with signatures on. */
static void secure_ring(struct ring *r, unsigned n, struct secmodel *m)
{
    node_config_default(&sec_cfg);
    sec_cfg.update_interval = 10 * ENV_S;
    sec_cfg.ping_interval = 10 * ENV_S;
    sec_cfg.partition_interval = 20 * ENV_S;
    sec_kinds[0] = (struct node_kind){.id = KIND_USER, .model = WIRE_MODEL_SINGLE,
                                      .access = NODE_ACCESS_USER_MATCH};
    sec_cfg.kinds = sec_kinds;
    sec_cfg.n_kinds = 1;
    sec_cfg.security.ops = secmodel_ops();
    sec_cfg.security.ud = m;
    r->net = fake_net_new(LAT);
    r->n = n;
    for (unsigned i = 0; i < n; i++) {
        char name[32], user[32];
        snprintf(name, sizeof name, "node-%u", i);
        snprintf(user, sizeof user, "user%u", i);
        struct id id = id_hash(name, strlen(name));
        secmodel_enroll(m, &id, user);
        r->h[i] = fake_net_add_host(r->net);
        r->h[i]->node = node_new(&r->h[i]->env, &sec_cfg, &id, &r->h[i]->addr);
        CU_ASSERT_EQUAL_FATAL(node_join(r->h[i]->node, i ? &r->h[0]->addr : NULL), NODE_OK);
        fake_net_run_until(r->net, fake_net_now(r->net) + 2 * ENV_S);
    }
    fake_net_run_until(r->net, fake_net_now(r->net) + 30 * ENV_S);
    for (unsigned i = 0; i < n; i++)
        CU_ASSERT_TRUE(node_is_joined(r->h[i]->node));
}

static int put(struct ring *r, unsigned via, const struct id *res, uint32_t kind,
               const struct node_value *v)
{
    int status = 99;
    int rc = node_store(r->h[via]->node, res, kind, v, 0, on_store, &status);
    if (rc != NODE_OK)
        return rc;
    fake_net_run_until(r->net, fake_net_now(r->net) + 20 * ENV_S);
    return status;
}

static struct fetch_result get(struct ring *r, unsigned via, const struct id *res, uint32_t kind)
{
    struct fetch_result f = {0};
    CU_ASSERT_EQUAL(node_fetch(r->h[via]->node, res, kind, 0, on_fetch, &f), NODE_OK);
    fake_net_run_until(r->net, fake_net_now(r->net) + 20 * ENV_S);
    CU_ASSERT_EQUAL(f.calls, 1);
    return f;
}

static struct node_value text(const char *s)
{
    return (struct node_value){.value = (const uint8_t *)s, .value_len = (uint32_t)strlen(s),
                               .exists = true, .lifetime = 3600};
}

static uint64_t sum_stat(const struct ring *r, size_t offset)
{
    uint64_t s = 0;
    for (unsigned i = 0; i < r->n; i++)
        if (r->h[i]->node)
            s += *(const uint64_t *)((const uint8_t *)node_get_stats(r->h[i]->node) + offset);
    return s;
}

/* USER-MATCH (§7.3.1): user3 may write H("user3"); user4 may not, and its Store is refused by
 * the storing peer with Error_Forbidden while user3's value stays. */
static void test_wrong_user_refused(void)
{
    struct secmodel *m = secmodel_new(11);
    struct ring r;
    secure_ring(&r, 6, m);
    struct id res = id_hash("user3", 5);
    struct node_value v = text("sip:user3@10.0.0.4");
    CU_ASSERT_EQUAL(put(&r, 3, &res, KIND_USER, &v), NODE_OK);
    CU_ASSERT_EQUAL(sum_stat(&r, offsetof(struct node_stats, refused_store)), 0);
    struct node_value evil = text("sip:mallory@10.6.6.6");
    CU_ASSERT_EQUAL(put(&r, 4, &res, KIND_USER, &evil), NODE_E_REFUSED);
    unsigned resp = oracle(&r, &res);
    CU_ASSERT_EQUAL(node_get_stats(r.h[resp]->node)->refused_store, 1);
    struct fetch_result f = get(&r, 1, &res, KIND_USER);
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_STRING_EQUAL(f.value, "sip:user3@10.0.0.4");
    /* Under the open built-in kind both may write. */
    CU_ASSERT_EQUAL(put(&r, 4, &res, NODE_KIND_VALUE, &evil), NODE_OK);
    /* A node that holds no credential cannot even sign its value. */
    secmodel_revoke(m, node_id(r.h[5]->node));
    CU_ASSERT_EQUAL(node_store(r.h[5]->node, &res, NODE_KIND_VALUE, &v, 0, NULL, NULL),
                    NODE_E_STATE);
    ring_free(&r);
    secmodel_free(m);
}

/* A storing peer that alters a value it holds: the fetcher checks the signature, drops the
 * value, counts it and reports it in the event; nothing is found. */
static void test_tampered_value_rejected(void)
{
    struct secmodel *m = secmodel_new(12);
    struct ring r;
    secure_ring(&r, 6, m);
    struct id res = id_hash("record", 6);
    struct node_value v = text("genuine");
    CU_ASSERT_EQUAL(put(&r, 1, &res, NODE_KIND_VALUE, &v), NODE_OK);
    unsigned via = (oracle(&r, &res) + 2) % r.n;
    struct fetch_result f = get(&r, via, &res, NODE_KIND_VALUE);
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_STRING_EQUAL(f.value, "genuine");
    const struct env_event *ok = fake_host_last_event(r.h[via], ENV_EV_FETCH_DONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ok);
    CU_ASSERT_TRUE(id_eq(&ok->signer, node_id(r.h[1]->node))); /* who signed what was kept */
    CU_ASSERT_EQUAL(ok->rejected, 0);
    unsigned resp = oracle(&r, &res);
    CU_ASSERT_EQUAL(storage_tamper(r.h[resp]->node, &res, NODE_KIND_VALUE,
                                   (const uint8_t *)"forged!", 7),
                    1);
    f = get(&r, via, &res, NODE_KIND_VALUE);
    CU_ASSERT_EQUAL(f.status, NODE_E_NOT_FOUND);
    CU_ASSERT_EQUAL(node_get_stats(r.h[via]->node)->rejected_values, 1);
    const struct env_event *ev = fake_host_last_event(r.h[via], ENV_EV_FETCH_DONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_EQUAL(ev->rejected, 1);
    CU_ASSERT_EQUAL(ev->found, 0);
    ring_free(&r);
    secmodel_free(m);
}

/* Replicas carry the original signatures and certificates: after the responsible peer leaves,
 * its successor answers with values that still verify, and every replica store on the way
 * (the handover, the new replica set) was accepted. */
static void test_replicas_keep_signatures(void)
{
    struct secmodel *m = secmodel_new(13);
    struct ring r;
    secure_ring(&r, 7, m);
    struct id res[3];
    const char *names[3] = {"alpha", "beta", "gamma"};
    for (unsigned i = 0; i < 3; i++) {
        res[i] = id_hash(names[i], strlen(names[i]));
        struct node_value v = text(names[i]);
        CU_ASSERT_EQUAL(put(&r, i + 1, &res[i], NODE_KIND_VALUE, &v), NODE_OK);
    }
    unsigned gone = oracle(&r, &res[0]);
    node_leave(r.h[gone]->node);
    fake_net_run_until(r.net, fake_net_now(r.net) + 5 * ENV_S);
    r.h[gone]->down = true;
    fake_net_run_until(r.net, fake_net_now(r.net) + 60 * ENV_S);
    unsigned now_resp = oracle(&r, &res[0]);
    CU_ASSERT_NOT_EQUAL(now_resp, gone);
    unsigned via = (gone + 3) % r.n == now_resp ? (gone + 4) % r.n : (gone + 3) % r.n;
    for (unsigned i = 0; i < 3; i++) {
        struct fetch_result f = get(&r, via, &res[i], NODE_KIND_VALUE);
        CU_ASSERT_EQUAL(f.status, NODE_OK);
        CU_ASSERT_STRING_EQUAL(f.value, names[i]);
    }
    CU_ASSERT_EQUAL(node_get_stats(r.h[via]->node)->rejected_values, 0);
    CU_ASSERT_EQUAL(sum_stat(&r, offsetof(struct node_stats, refused_store)), 0);
    CU_ASSERT_EQUAL(sum_stat(&r, offsetof(struct node_stats, dropped_signature)), 0);
    /* Each value is held by the responsible peer and its replicas, signatures included. */
    unsigned holding = 0;
    for (unsigned i = 0; i < r.n; i++)
        holding += !r.h[i]->down && node_holds(r.h[i]->node, &res[0], NODE_KIND_VALUE);
    CU_ASSERT_TRUE(holding >= 3);
    ring_free(&r);
    secmodel_free(m);
}

/* The built-in SIP-REGISTRATION kind is NODE-KEY-MATCH: a peer may add its own entry (its
 * Node-ID as the key) at any AoR, and no one else's. */
static void test_sip_registration_policy(void)
{
    struct secmodel *m = secmodel_new(14);
    struct ring r;
    secure_ring(&r, 5, m);
    struct id aor = id_hash("sip:carol@dht.example.com", 25);
    uint8_t own[ID_BYTES], other[ID_BYTES];
    id_to_bytes(node_id(r.h[2]->node), own);
    id_to_bytes(node_id(r.h[3]->node), other);
    struct node_value v = text("route");
    v.key = own;
    v.key_len = ID_BYTES;
    CU_ASSERT_EQUAL(put(&r, 2, &aor, NODE_KIND_SIP_REGISTRATION, &v), NODE_OK);
    v.key = other; /* node 2 overwriting node 3's entry */
    CU_ASSERT_EQUAL(put(&r, 2, &aor, NODE_KIND_SIP_REGISTRATION, &v), NODE_E_REFUSED);
    struct fetch_result f = get(&r, 4, &aor, NODE_KIND_SIP_REGISTRATION);
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_EQUAL(f.n_values, 1);
    ring_free(&r);
    secmodel_free(m);
}

CU_TestInfo test_secmodel_tests[] = {
    {"model signs and verifies with real sizes", test_model_sign_verify},
    {"model credentials, trust and determinism", test_model_credentials},
    {"access policies", test_access_policies},
    {"configuration policies", test_config_policies},
    {"Store by the wrong user refused (USER-MATCH)", test_wrong_user_refused},
    {"value tampered by its storing peer rejected by the fetcher", test_tampered_value_rejected},
    {"replicas keep verifiable signatures after a handover", test_replicas_keep_signatures},
    {"SIP-REGISTRATION is NODE-KEY-MATCH", test_sip_registration_policy},
    CU_TEST_INFO_NULL,
};
