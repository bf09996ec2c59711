/* test_storage.c — the data storage protocol (RFC 6940 §7): the three data models, lifetimes
 * and expiry, removal, generation counters and kind checks, through real Store/Fetch messages
 * on a small ring. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "../core/node.h"
#include "../core/wire.h"
#include "ring.h"

struct multi {
    int calls, status;
    uint32_t n;
    uint32_t index[8];
    char key[8][16], value[8][32];
    bool exists[8];
};

static void on_multi(void *ud, int status, const struct wire_fetch_ans *ans)
{
    struct multi *m = ud;
    m->calls++;
    m->status = status;
    if (status != NODE_OK)
        return;
    for (uint32_t i = 0; i < ans->kinds[0].n_values && m->n < 8; i++, m->n++) {
        const struct wire_stored_data *d = &ans->kinds[0].values[i];
        m->index[m->n] = d->index;
        m->exists[m->n] = d->exists;
        snprintf(m->key[m->n], 16, "%.*s", (int)d->key.len, (const char *)d->key.p);
        snprintf(m->value[m->n], 32, "%.*s", (int)d->value.len, (const char *)d->value.p);
    }
}

static void put(struct ring *r, unsigned via, const struct id *k, uint32_t kind,
                struct node_value v)
{
    int status = 99;
    CU_ASSERT_EQUAL(node_store(r->h[via]->node, k, kind, &v, 0, on_store, &status), NODE_OK);
    fake_net_run_until(r->net, fake_net_now(r->net) + 5 * ENV_S);
    CU_ASSERT_EQUAL(status, NODE_OK);
}

static struct multi get(struct ring *r, unsigned via, const struct id *k, uint32_t kind)
{
    struct multi m = {0};
    CU_ASSERT_EQUAL(node_fetch(r->h[via]->node, k, kind, 0, on_multi, &m), NODE_OK);
    fake_net_run_until(r->net, fake_net_now(r->net) + 5 * ENV_S);
    CU_ASSERT_EQUAL(m.calls, 1);
    return m;
}

static struct node_value val(const char *s)
{
    return (struct node_value){.value = (const uint8_t *)s, .value_len = (uint32_t)strlen(s),
                               .exists = true, .lifetime = 600};
}

static void test_array(void)
{
    struct ring r;
    ring_build(&r, 5);
    struct id k = id_hash("list", 4);
    uint32_t idx[3] = {0, 1, 5};
    const char *vals[3] = {"zero", "one", "five"};
    for (int i = 0; i < 3; i++) {
        struct node_value v = val(vals[i]);
        v.index = idx[i];
        put(&r, (unsigned)i, &k, NODE_KIND_ARRAY, v);
    }
    struct multi m = get(&r, 4, &k, NODE_KIND_ARRAY);
    CU_ASSERT_EQUAL(m.status, NODE_OK);
    CU_ASSERT_EQUAL_FATAL(m.n, 3);
    for (int i = 0; i < 3; i++) {
        bool seen = false;
        for (uint32_t j = 0; j < m.n; j++)
            seen |= m.index[j] == idx[i] && strcmp(m.value[j], vals[i]) == 0;
        CU_ASSERT_TRUE(seen);
    }
    ring_free(&r);
}

static void test_dictionary(void)
{
    struct ring r;
    ring_build(&r, 5);
    struct id k = id_hash("sip:bob@example.com", 19);
    struct node_value a = val("contact-a"), b = val("contact-b"), a2 = val("contact-a2");
    a.key = (const uint8_t *)"A", a.key_len = 1;
    b.key = (const uint8_t *)"B", b.key_len = 1;
    a2.key = (const uint8_t *)"A", a2.key_len = 1;
    put(&r, 0, &k, NODE_KIND_DICT, a);
    put(&r, 1, &k, NODE_KIND_DICT, b);
    fake_net_run_until(r.net, fake_net_now(r.net) + ENV_S); /* a later storage_time */
    put(&r, 2, &k, NODE_KIND_DICT, a2);
    struct multi m = get(&r, 3, &k, NODE_KIND_DICT);
    CU_ASSERT_EQUAL_FATAL(m.n, 2);
    for (uint32_t j = 0; j < m.n; j++) {
        const char *want = strcmp(m.key[j], "A") == 0 ? "contact-a2" : "contact-b";
        CU_ASSERT_STRING_EQUAL(m.value[j], want);
    }
    ring_free(&r);
}

static void test_lifetime_and_removal(void)
{
    struct ring r;
    ring_build(&r, 5);
    struct id k = id_hash("short", 5);
    struct node_value v = val("brief");
    v.lifetime = 10;
    put(&r, 0, &k, NODE_KIND_VALUE, v);
    struct multi m = get(&r, 1, &k, NODE_KIND_VALUE);
    CU_ASSERT_EQUAL(m.status, NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 60 * ENV_S);
    m = get(&r, 1, &k, NODE_KIND_VALUE);
    CU_ASSERT_EQUAL(m.status, NODE_E_NOT_FOUND);
    CU_ASSERT_EQUAL(holders(&r, "short"), 0);
    /* A stored value with exists = false removes it (§7.4.1.3). */
    CU_ASSERT_EQUAL(store_value(&r, 2, "gone", "here"), NODE_OK);
    struct id g = id_hash("gone", 4);
    struct node_value t = val("");
    t.exists = false;
    put(&r, 3, &g, NODE_KIND_VALUE, t);
    struct fetch_result f = fetch_value(&r, 4, "gone");
    CU_ASSERT_EQUAL(f.status, NODE_E_NOT_FOUND);
    ring_free(&r);
}

static void test_bad_requests(void)
{
    struct ring r;
    ring_build(&r, 3);
    struct id k = id_hash("x", 1);
    struct node_value v = val("v");
    CU_ASSERT_EQUAL(node_store(r.h[0]->node, &k, 0x12345, &v, 0, NULL, NULL), NODE_E_INVALID);
    v.value_len = 1u << 20;
    CU_ASSERT_EQUAL(node_store(r.h[0]->node, &k, NODE_KIND_VALUE, &v, 0, NULL, NULL),
                    NODE_E_INVALID);
    CU_ASSERT_EQUAL(node_fetch(r.h[0]->node, &k, 0x12345, 0, NULL, NULL), NODE_E_INVALID);
    ring_free(&r);
}

/* Sends a request of `code` with `body` for Resource-ID k straight to the peer responsible for
 * it, from a bare host (no node: its datagrams land in an inbox), and returns the answer's
 * code with its body copied into *answer (g_bytes_unref it), or 0 when none came back. */
static uint16_t raw_request(struct ring *r, const struct id *k, uint16_t code,
                            const GByteArray *body, GBytes **answer)
{
    struct fake_host *raw = fake_net_add_host(r->net);
    uint8_t rid[ID_BYTES], me[ID_BYTES];
    id_to_bytes(k, rid);
    struct id my = id_hash("raw", 3);
    id_to_bytes(&my, me);
    GByteArray *msg = g_byte_array_new(), *frame = g_byte_array_new();
    struct wire_header *h = g_new0(struct wire_header, 1);
    h->overlay = id_overlay_hash("p2psip.example");
    h->version = WIRE_VERSION;
    h->ttl = 100;
    h->fragment = WIRE_FRAGMENT_LAST;
    h->txid = 0x1122334455667788ull;
    h->n_via = 1;
    wire_dest_node(&h->via[0], me);
    h->n_dest = 1;
    wire_dest_resource(&h->dest[0], rid, ID_BYTES);
    struct wire_bytes bb = {body->data, body->len};
    wire_encode_message(msg, h, code, &bb, NULL, NULL);
    wire_frame_data(frame, 0, msg->data, msg->len);
    fake_net_inject(r->net, r->h[oracle(r, k)], &raw->addr, frame->data, frame->len);
    fake_net_run_until(r->net, fake_net_now(r->net) + ENV_S);
    /* The inbox holds an ACK and the answer. */
    uint16_t got = 0;
    *answer = NULL;
    struct wire_message *m = g_new(struct wire_message, 1);
    for (guint i = 0; i < raw->inbox->len && !got; i++) {
        gsize len;
        const uint8_t *p = g_bytes_get_data(raw->inbox->pdata[i], &len);
        struct wire_frame f;
        if (wire_decode_frame(p, len, &f) == 0 && f.type == WIRE_FRAME_DATA &&
            wire_decode_message(f.message.p, f.message.len, m) == 0 && m->h.txid == h->txid) {
            got = m->code;
            *answer = g_bytes_new(m->body.p, m->body.len);
        }
    }
    g_free(m);
    g_free(h);
    g_byte_array_free(msg, TRUE);
    g_byte_array_free(frame, TRUE);
    return got;
}

/* A Store with a stale generation counter is refused with Error_Generation_Counter_Too_Low
 * (§7.4.1.1).  The request is crafted on the wire and sent from a bare host. */
static void test_generation_too_low(void)
{
    struct ring r;
    ring_build(&r, 4);
    CU_ASSERT_EQUAL(store_value(&r, 0, "gen", "v1"), NODE_OK);
    CU_ASSERT_EQUAL(store_value(&r, 1, "gen", "v2"), NODE_OK); /* generation now 2 */
    struct id k = id_hash("gen", 3);
    uint8_t rid[ID_BYTES];
    id_to_bytes(&k, rid);
    struct wire_stored_data sd = {.storage_time = 1, .lifetime = 60, .model = WIRE_MODEL_SINGLE,
                                  .exists = true, .value = {(const uint8_t *)"old", 3}};
    sd.sig.identity_type = WIRE_SIGNER_NONE;
    struct wire_store_kind kd = {.kind = NODE_KIND_VALUE, .generation = 1, .n_values = 1,
                                 .values = &sd};
    struct wire_store_req req = {.resource = {rid, ID_BYTES}, .n_kinds = 1, .kinds = &kd};
    GByteArray *body = g_byte_array_new();
    wire_encode_store_req(body, &req);
    GBytes *answer;
    CU_ASSERT_EQUAL(raw_request(&r, &k, WIRE_STORE_REQ, body, &answer), WIRE_ERROR);
    struct wire_error e;
    gsize len;
    const uint8_t *p = answer ? g_bytes_get_data(answer, &len) : NULL;
    CU_ASSERT_TRUE(p && wire_decode_error(p, len, &e) == 0 &&
                   e.code == WIRE_ERR_GENERATION_COUNTER_TOO_LOW);
    struct fetch_result fr = fetch_value(&r, 2, "gen");
    CU_ASSERT_STRING_EQUAL(fr.value, "v2");
    CU_ASSERT_EQUAL(fr.generation, 2);
    if (answer)
        g_bytes_unref(answer);
    g_byte_array_free(body, TRUE);
    ring_free(&r);
}

/* Stat answers the metadata of what a Fetch would return (§7.4.3): here one dictionary
 * entry's key, length and lifetime, and the generation counter. */
static void test_stat(void)
{
    struct ring r;
    ring_build(&r, 4);
    struct id k = id_hash("meta", 4);
    struct node_value v = val("twelve bytes");
    v.key = (const uint8_t *)"K", v.key_len = 1;
    put(&r, 0, &k, NODE_KIND_DICT, v);
    uint8_t rid[ID_BYTES];
    id_to_bytes(&k, rid);
    struct wire_specifier sp = {.kind = NODE_KIND_DICT, .model = WIRE_MODEL_DICTIONARY};
    struct wire_fetch_req req = {.resource = {rid, ID_BYTES}, .n_specifiers = 1, .specifiers = &sp};
    GByteArray *body = g_byte_array_new();
    wire_encode_stat_req(body, &req);
    GBytes *answer;
    CU_ASSERT_EQUAL_FATAL(raw_request(&r, &k, WIRE_STAT_REQ, body, &answer), WIRE_STAT_ANS);
    gsize len;
    const uint8_t *p = g_bytes_get_data(answer, &len);
    struct wire_stat_ans ans;
    CU_ASSERT_EQUAL_FATAL(wire_decode_stat_ans(p, len, &ans, node_kind_model, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(ans.n_kinds, 1);
    CU_ASSERT_EQUAL(ans.kinds[0].generation, 1);
    CU_ASSERT_EQUAL_FATAL(ans.kinds[0].n_values, 1);
    const struct wire_stored_meta *md = &ans.kinds[0].values[0];
    CU_ASSERT_TRUE(md->exists);
    CU_ASSERT_EQUAL(md->meta_value_length, 12);
    CU_ASSERT_EQUAL(md->lifetime, 600);
    CU_ASSERT_TRUE(md->key.len == 1 && md->key.p[0] == 'K');
    wire_stat_ans_clear(&ans);
    g_bytes_unref(answer);
    g_byte_array_free(body, TRUE);
    ring_free(&r);
}

CU_TestInfo test_storage_tests[] = {
    {"array entries by index", test_array},
    {"dictionary entries by key, newest wins", test_dictionary},
    {"lifetimes expire; exists=false removes", test_lifetime_and_removal},
    {"unknown kinds and oversized values are refused", test_bad_requests},
    {"a stale generation counter is refused", test_generation_too_low},
    {"stat answers the metadata of stored values", test_stat},
    CU_TEST_INFO_NULL,
};
