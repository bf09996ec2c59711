/* test_node.c — the protocol core end to end on the fake environment: CHORD-RELOAD join,
 * routing, storage with replicas, failures, leave, retransmission and malformed input
 * (RFC 6940 §6.2, §6.6, §7, §10). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "../core/node.h"
#include "fake_env.h"

#include "ring.h"

/* Lookups from every live peer in turn; returns how many failed or reached a peer other than
 * the responsible one. */
static unsigned lookup_failures(struct ring *r, unsigned count)
{
    unsigned bad = 0;
    for (unsigned q = 0; q < count; q++) {
        unsigned from = q % r->n;
        if (r->h[from]->down)
            continue;
        char name[32];
        snprintf(name, sizeof name, "key-%u", q);
        struct id k = id_hash(name, strlen(name));
        CU_ASSERT_EQUAL(node_lookup(r->h[from]->node, &k, q), NODE_OK);
        fake_net_run_until(r->net, fake_net_now(r->net) + 2 * ENV_S);
        const struct env_event *ev = fake_host_last_event(r->h[from], ENV_EV_LOOKUP_DONE);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        CU_ASSERT_EQUAL(ev->cookie, q);
        unsigned want = oracle(r, &k);
        if (ev->status != NODE_OK || !id_eq(&ev->responder, node_id(r->h[want]->node)))
            bad++;
    }
    return bad;
}

static void test_alone(void)
{
    struct ring r = {.net = fake_net_new(LAT), .n = 1};
    struct node *a = mk_node(&r, 0);
    CU_ASSERT_EQUAL(node_lookup(a, &(struct id){1, 2}, 7), NODE_E_STATE);
    CU_ASSERT_EQUAL(node_join(a, NULL), NODE_OK);
    CU_ASSERT_TRUE(node_is_joined(a));
    CU_ASSERT_EQUAL(fake_host_count_events(r.h[0], ENV_EV_JOIN_DONE), 1);
    CU_ASSERT_EQUAL(node_lookup(a, &(struct id){1, 2}, 7), NODE_OK);
    fake_net_run_until(r.net, ENV_S);
    const struct env_event *ev = fake_host_last_event(r.h[0], ENV_EV_LOOKUP_DONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_EQUAL(ev->status, NODE_OK);
    CU_ASSERT_EQUAL(ev->hops, 0);
    CU_ASSERT_TRUE(id_eq(&ev->responder, node_id(a)));
    ring_free(&r);
}

static void test_join_and_route(void)
{
    struct ring r;
    ring_build(&r, 12);
    for (unsigned i = 0; i < r.n; i++) {
        CU_ASSERT_TRUE(node_is_joined(r.h[i]->node));
        /* The first successor is the next id around the ring. */
        struct node_peer s;
        CU_ASSERT_EQUAL_FATAL(node_successors(r.h[i]->node, &s, 1), 1);
        struct id after = id_add(node_id(r.h[i]->node), &(struct id){0, 1});
        CU_ASSERT_TRUE(id_eq(&s.id, node_id(r.h[oracle(&r, &after)]->node)));
    }
    CU_ASSERT_EQUAL(lookup_failures(&r, 60), 0);
    /* The link layer measured the 2 x 20 ms round trip to the successor. */
    struct node_peer s0;
    env_time srtt, var;
    CU_ASSERT_EQUAL_FATAL(node_successors(r.h[3]->node, &s0, 1), 1);
    CU_ASSERT_TRUE_FATAL(node_peer_rtt(r.h[3]->node, &s0.id, &srtt, &var));
    CU_ASSERT_EQUAL(srtt, 40 * ENV_MS);
    CU_ASSERT_TRUE(var < 5 * ENV_MS);
    ring_free(&r);
}

static void test_store_fetch_replicas(void)
{
    struct ring r;
    ring_build(&r, 10);
    CU_ASSERT_EQUAL(store_value(&r, 2, "alice", "sip:alice@10.0.0.3"), NODE_OK);
    struct fetch_result f = fetch_value(&r, 7, "alice");
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_STRING_EQUAL(f.value, "sip:alice@10.0.0.3");
    CU_ASSERT_EQUAL(f.generation, 1);
    /* The responsible peer and its two successors (§10.4). */
    CU_ASSERT_EQUAL(holders(&r, "alice"), 3);
    struct id k = id_hash("alice", 5);
    CU_ASSERT_TRUE(node_holds(r.h[oracle(&r, &k)]->node, &k, NODE_KIND_VALUE));
    /* A second store bumps the generation; an absent name is not found. */
    CU_ASSERT_EQUAL(store_value(&r, 4, "alice", "sip:alice@10.0.0.9"), NODE_OK);
    f = fetch_value(&r, 0, "alice");
    CU_ASSERT_STRING_EQUAL(f.value, "sip:alice@10.0.0.9");
    CU_ASSERT_EQUAL(f.generation, 2);
    f = fetch_value(&r, 5, "nobody");
    CU_ASSERT_EQUAL(f.status, NODE_E_NOT_FOUND);
    ring_free(&r);
}

static void test_crash_keeps_data(void)
{
    struct ring r;
    ring_build(&r, 10);
    CU_ASSERT_EQUAL(store_value(&r, 1, "bob", "sip:bob@10.0.0.2"), NODE_OK);
    struct id k = id_hash("bob", 3);
    unsigned owner = oracle(&r, &k);
    r.h[owner]->down = true; /* crash: no Leave, no handover */
    fake_net_run_until(r.net, fake_net_now(r.net) + 60 * ENV_S);
    unsigned via = (owner + 3) % r.n;
    struct fetch_result f = fetch_value(&r, via, "bob");
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_STRING_EQUAL(f.value, "sip:bob@10.0.0.2");
    /* Replication restored: the new owner and two successors. */
    CU_ASSERT_EQUAL(holders(&r, "bob"), 3);
    CU_ASSERT_EQUAL(lookup_failures(&r, 30), 0);
    ring_free(&r);
}

static void test_leave_hands_over(void)
{
    struct ring r;
    ring_build(&r, 8);
    CU_ASSERT_EQUAL(store_value(&r, 3, "carol", "sip:carol@10.0.0.4"), NODE_OK);
    struct id k = id_hash("carol", 5);
    unsigned owner = oracle(&r, &k);
    node_leave(r.h[owner]->node);
    fake_net_run_until(r.net, fake_net_now(r.net) + ENV_S);
    r.h[owner]->down = true;
    fake_net_run_until(r.net, fake_net_now(r.net) + 30 * ENV_S);
    /* No peer keeps the leaver in its neighbour table. */
    for (unsigned i = 0; i < r.n; i++) {
        if (i == owner)
            continue;
        struct node_peer rt[64];
        size_t n = node_routing_table(r.h[i]->node, rt, 64);
        for (size_t j = 0; j < n; j++)
            CU_ASSERT_FALSE(id_eq(&rt[j].id, node_id(r.h[owner]->node)));
    }
    struct fetch_result f = fetch_value(&r, (owner + 1) % r.n, "carol");
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_EQUAL(holders(&r, "carol"), 3);
    ring_free(&r);
}

static void test_retransmission(void)
{
    struct ring r;
    ring_build(&r, 6);
    struct id k = id_hash("key-x", 5);
    unsigned from = (oracle(&r, &k) + 2) % r.n;
    fake_net_drop_next(r.net, 1); /* the request's first transmission is lost */
    CU_ASSERT_EQUAL(node_lookup(r.h[from]->node, &k, 9), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 10 * ENV_S);
    const struct env_event *ev = fake_host_last_event(r.h[from], ENV_EV_LOOKUP_DONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_EQUAL(ev->status, NODE_OK);
    CU_ASSERT_TRUE(ev->latency >= 3 * ENV_S); /* one overlay-reliability-timer */
    CU_ASSERT_EQUAL(node_get_stats(r.h[from]->node)->retransmissions, 1);
    CU_ASSERT_EQUAL(ev->retransmits, 1);
    ring_free(&r);
}

/* Many requests pending at once on one node (more than node.c's TXN_INDEX_MIN, so answers are
 * matched through its transaction index): every answer completes its own request, once; a
 * node freed with requests still pending frees them. */
static void test_many_pending(void)
{
    enum { N = 300 };
    struct ring r;
    ring_build(&r, 6);
    struct fake_host *h = r.h[1];
    unsigned before = fake_host_count_events(h, ENV_EV_LOOKUP_DONE);
    struct id keys[N];
    for (unsigned q = 0; q < N; q++) {
        char name[32];
        snprintf(name, sizeof name, "many-%u", q);
        keys[q] = id_hash(name, strlen(name));
        CU_ASSERT_EQUAL(node_lookup(h->node, &keys[q], 1000 + q), NODE_OK);
    }
    fake_net_run_until(r.net, fake_net_now(r.net) + 2 * ENV_S);
    CU_ASSERT_EQUAL_FATAL(fake_host_count_events(h, ENV_EV_LOOKUP_DONE) - before, N);
    unsigned seen[N] = {0};
    for (guint i = 0; i < h->events->len; i++) {
        const struct env_event *ev = g_ptr_array_index(h->events, i);
        if (ev->type != ENV_EV_LOOKUP_DONE || ev->cookie < 1000 || ev->cookie >= 1000 + N)
            continue;
        unsigned q = (unsigned)(ev->cookie - 1000);
        seen[q]++;
        CU_ASSERT_EQUAL(ev->status, NODE_OK);
        CU_ASSERT_TRUE(id_eq(&ev->responder, node_id(r.h[oracle(&r, &keys[q])]->node)));
    }
    for (unsigned q = 0; q < N; q++)
        CU_ASSERT_EQUAL(seen[q], 1);
    CU_ASSERT_EQUAL(node_get_stats(h->node)->retransmissions, 0);
    /* Cut off from the others: each of 40 requests completes once, after retransmission (the
     * node, alone after its links failed, answers its own request). */
    CU_ASSERT_EQUAL(lookup_failures(&r, 6), 0);
    fake_net_partition(r.net, r.n);
    before = fake_host_count_events(h, ENV_EV_LOOKUP_DONE);
    for (unsigned q = 0; q < 40; q++)
        CU_ASSERT_EQUAL(node_lookup(h->node, &keys[q], 3000 + q), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 60 * ENV_S);
    CU_ASSERT_EQUAL(fake_host_count_events(h, ENV_EV_LOOKUP_DONE) - before, 40);
    unsigned retransmitted = 0;
    memset(seen, 0, sizeof seen);
    for (guint i = 0; i < h->events->len; i++) {
        const struct env_event *ev = g_ptr_array_index(h->events, i);
        if (ev->type == ENV_EV_LOOKUP_DONE && ev->cookie >= 3000 && ev->cookie < 3040) {
            seen[ev->cookie - 3000]++;
            retransmitted += ev->retransmits > 0;
            CU_ASSERT_TRUE(ev->status == NODE_OK || ev->status == NODE_E_TIMEOUT);
        }
    }
    for (unsigned q = 0; q < 40; q++)
        CU_ASSERT_EQUAL(seen[q], 1);
    CU_ASSERT_TRUE(retransmitted >= 20);
    fake_net_partition(r.net, 0);
    for (unsigned q = 0; q < 50; q++)
        CU_ASSERT_EQUAL(node_lookup(h->node, &keys[q], 5000 + q), NODE_OK);
    ring_free(&r); /* node_free with 50 pending (ASan/valgrind would see a leak) */
}

static void test_malformed_dropped(void)
{
    struct ring r;
    ring_build(&r, 4);
    struct env_addr evil = {0x7f000001, 9999};
    uint8_t junk[200];
    uint64_t x = 42;
    for (unsigned t = 0; t < 200; t++) {
        for (size_t i = 0; i < sizeof junk; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            junk[i] = (uint8_t)(x >> 56);
        }
        if (t % 3 == 0)
            junk[0] = 128; /* a data frame around garbage */
        fake_net_inject(r.net, r.h[1], &evil, junk, 1 + t % sizeof junk);
    }
    fake_net_run_until(r.net, fake_net_now(r.net) + ENV_S);
    CU_ASSERT_EQUAL(fake_host_count_events(r.h[1], ENV_EV_MSG_DROPPED), 200);
    CU_ASSERT_EQUAL(node_get_stats(r.h[1]->node)->dropped_malformed, 200);
    CU_ASSERT_EQUAL(lookup_failures(&r, 12), 0);
    ring_free(&r);
}

static void test_install_ring(void)
{
    /* A ring installed directly (the simulator's stable start) routes like a joined one. */
    struct ring r = {.net = fake_net_new(LAT), .n = 16};
    struct node_peer all[16];
    for (unsigned i = 0; i < r.n; i++) {
        mk_node(&r, i);
        all[i].id = *node_id(r.h[i]->node);
        all[i].addr = r.h[i]->addr;
    }
    for (unsigned i = 0; i < r.n; i++) {
        struct node_peer succ[4], pred[4];
        /* Successors and predecessors by brute force over all ids. */
        for (unsigned j = 0; j < 4; j++) {
            const struct id *ref = j ? &succ[j - 1].id : node_id(r.h[i]->node);
            int best = -1;
            struct id bd = {0, 0};
            for (unsigned q = 0; q < r.n; q++) {
                if (id_eq(&all[q].id, ref))
                    continue;
                struct id d = id_dist(ref, &all[q].id);
                if (best < 0 || id_cmp(&d, &bd) < 0)
                    best = (int)q, bd = d;
            }
            succ[j] = all[best];
        }
        for (unsigned j = 0; j < 4; j++) {
            const struct id *ref = j ? &pred[j - 1].id : node_id(r.h[i]->node);
            int best = -1;
            struct id bd = {0, 0};
            for (unsigned q = 0; q < r.n; q++) {
                if (id_eq(&all[q].id, ref))
                    continue;
                struct id d = id_dist(&all[q].id, ref);
                if (best < 0 || id_cmp(&d, &bd) < 0)
                    best = (int)q, bd = d;
            }
            pred[j] = all[best];
        }
        node_install_ring(r.h[i]->node, pred, 4, succ, 4, all, 16);
    }
    CU_ASSERT_EQUAL(lookup_failures(&r, 64), 0);
    ring_free(&r);
}

/* Two halves that lost each other during a partition merge again after it heals, through
 * the partition check of §10.7.4.4 (a Ping for the own successor via a bootstrap peer). */
static void test_partition_heals(void)
{
    struct ring r;
    ring_build(&r, 12);
    fake_net_partition(r.net, 2);
    fake_net_run_until(r.net, fake_net_now(r.net) + 60 * ENV_S);
    /* Each half has become a ring of its own: some lookups now answer wrongly. */
    CU_ASSERT_TRUE(lookup_failures(&r, 24) > 0);
    fake_net_partition(r.net, 0);
    fake_net_run_until(r.net, fake_net_now(r.net) + 180 * ENV_S);
    CU_ASSERT_EQUAL(lookup_failures(&r, 48), 0);
    ring_free(&r);
}

/* AppAttach (§6.5.2): a peer that listens for an application answers with its address; one
 * that does not answers Error_Not_Found; a bad destination list is refused at once. */
static void test_app_attach(void)
{
    struct ring r;
    ring_build(&r, 5);
    const struct env_addr sip = {0x0a000303, 5060};
    node_app_listen(r.h[3]->node, NODE_APP_SIP, &sip);
    uint8_t id3[ID_BYTES];
    id_to_bytes(node_id(r.h[3]->node), id3);
    struct wire_dest d;
    wire_dest_node(&d, id3);
    struct app_result a = {0};
    CU_ASSERT_EQUAL(node_app_attach(r.h[0]->node, &d, 1, NODE_APP_SIP, on_app_attach, &a), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 2 * ENV_S);
    CU_ASSERT_EQUAL(a.calls, 1);
    CU_ASSERT_EQUAL(a.status, NODE_OK);
    CU_ASSERT_TRUE(id_eq(&a.node, node_id(r.h[3]->node)));
    CU_ASSERT_TRUE(env_addr_eq(&a.addr, &sip));

    /* Another application, and the same one after the listener withdrew. */
    memset(&a, 0, sizeof a);
    CU_ASSERT_EQUAL(node_app_attach(r.h[1]->node, &d, 1, 5061, on_app_attach, &a), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 2 * ENV_S);
    CU_ASSERT_EQUAL(a.calls, 1);
    CU_ASSERT_EQUAL(a.status, NODE_E_NOT_FOUND);
    node_app_listen(r.h[3]->node, NODE_APP_SIP, NULL);
    memset(&a, 0, sizeof a);
    CU_ASSERT_EQUAL(node_app_attach(r.h[1]->node, &d, 1, NODE_APP_SIP, on_app_attach, &a), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 2 * ENV_S);
    CU_ASSERT_EQUAL(a.status, NODE_E_NOT_FOUND);

    static const uint8_t opaque[2] = {1, 2};
    struct wire_dest bad = {.type = WIRE_DEST_OPAQUE, .len = 2, .data = opaque};
    CU_ASSERT_EQUAL(node_app_attach(r.h[1]->node, &bad, 1, NODE_APP_SIP, on_app_attach, &a),
                    NODE_E_INVALID);
    CU_ASSERT_EQUAL(node_app_attach(r.h[1]->node, &d, 0, NODE_APP_SIP, on_app_attach, &a),
                    NODE_E_INVALID);
    ring_free(&r);
}

struct data_result {
    int calls;
    struct id from;
    struct env_addr from_app;
    char data[32];
};

static void on_app_data(void *ud, const struct id *from, const struct env_addr *from_app,
                        const uint8_t *data, size_t len)
{
    struct data_result *d = ud;
    d->calls++;
    d->from = *from;
    d->from_app = *from_app;
    g_strlcpy(d->data, (const char *)data, MIN(len + 1, sizeof d->data));
}

/* AppData (core/appdata.c, a private extension in exp_a_req): routed to a Node-ID, delivered
 * to the application's receiver there with the sender's Node-ID and its address for the
 * application; a Node-ID no node has reaches no receiver (the responsible node refuses it),
 * nor does a node without a receiver for the application. */
static void test_app_data(void)
{
    struct ring r;
    ring_build(&r, 5);
    struct data_result got[5];
    memset(got, 0, sizeof got);
    for (unsigned i = 0; i < 5; i++) {
        const struct env_addr sip = {0x0a000300 + i, 5060};
        if (i != 2) /* node 2 listens for nothing */
            node_app_listen(r.h[i]->node, NODE_APP_SIP, &sip);
        if (i != 4) /* node 4 listens but takes no data */
            node_app_on_data(r.h[i]->node, NODE_APP_SIP, on_app_data, &got[i]);
    }
    static const char hello[] = "INVITE sip:x SIP/2.0";
    CU_ASSERT_EQUAL(node_app_send(r.h[1]->node, node_id(r.h[3]->node), NODE_APP_SIP,
                                  (const uint8_t *)hello, strlen(hello)),
                    NODE_OK);
    CU_ASSERT_EQUAL(node_app_send(r.h[2]->node, node_id(r.h[0]->node), NODE_APP_SIP,
                                  (const uint8_t *)"x", 1),
                    NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 2 * ENV_S);
    CU_ASSERT_EQUAL(got[3].calls, 1);
    CU_ASSERT_TRUE(id_eq(&got[3].from, node_id(r.h[1]->node)));
    CU_ASSERT_EQUAL(got[3].from_app.ip, 0x0a000301);
    CU_ASSERT_EQUAL(got[3].from_app.port, 5060);
    CU_ASSERT_STRING_EQUAL(got[3].data, hello);
    CU_ASSERT_EQUAL(got[0].calls, 1);
    CU_ASSERT_EQUAL(got[0].from_app.port, 0); /* node 2 has no address for SIP */

    struct id nobody = id_hash("nobody", 6);
    CU_ASSERT_EQUAL(node_app_send(r.h[1]->node, &nobody, NODE_APP_SIP, (const uint8_t *)"y", 1),
                    NODE_OK);
    CU_ASSERT_EQUAL(node_app_send(r.h[1]->node, node_id(r.h[4]->node), NODE_APP_SIP,
                                  (const uint8_t *)"z", 1),
                    NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 20 * ENV_S);
    unsigned total = 0;
    for (unsigned i = 0; i < 5; i++)
        total += (unsigned)got[i].calls;
    CU_ASSERT_EQUAL(total, 2); /* nothing more, not even after retransmissions */
    CU_ASSERT_EQUAL(node_app_send(r.h[1]->node, &nobody, NODE_APP_SIP, (const uint8_t *)"y",
                                  70000),
                    NODE_E_INVALID);
    ring_free(&r);
}

/* A Store from a fake sender (a host without a node) as a framed datagram with transaction
 * id txid. */
static GByteArray *framed_store(const struct id *sender, uint64_t txid, const char *name,
                                const char *value)
{
    uint8_t from[ID_BYTES], rid[ID_BYTES];
    id_to_bytes(sender, from);
    struct id k = id_hash(name, strlen(name));
    id_to_bytes(&k, rid);
    struct wire_stored_data sd = {.lifetime = 3600,
                                  .model = WIRE_MODEL_SINGLE,
                                  .exists = true,
                                  .value = {(const uint8_t *)value, (uint32_t)strlen(value)}};
    sd.sig.identity_type = WIRE_SIGNER_NONE;
    struct wire_store_kind sk = {.kind = NODE_KIND_VALUE, .n_values = 1, .values = &sd};
    struct wire_store_req req = {.resource = {rid, ID_BYTES}, .n_kinds = 1, .kinds = &sk};
    GByteArray *body = g_byte_array_new();
    wire_encode_store_req(body, &req);
    struct wire_header *h = g_new0(struct wire_header, 1);
    struct node_config cfg;
    node_config_default(&cfg);
    h->overlay = cfg.overlay;
    h->version = WIRE_VERSION;
    h->ttl = 100;
    h->fragment = WIRE_FRAGMENT_LAST;
    h->txid = txid;
    h->n_via = 1;
    wire_dest_node(&h->via[0], from);
    h->n_dest = 1;
    wire_dest_resource(&h->dest[0], rid, ID_BYTES);
    GByteArray *msg = g_byte_array_new(), *frame = g_byte_array_new();
    struct wire_bytes bb = {body->data, body->len};
    wire_encode_message(msg, h, WIRE_STORE_REQ, &bb, NULL, NULL);
    wire_frame_data(frame, (uint32_t)txid, msg->data, msg->len);
    g_byte_array_free(msg, TRUE);
    g_byte_array_free(body, TRUE);
    g_free(h);
    return frame;
}

/* Duplicate requests within the request lifetime (§6.2.1) get the first answer again, byte for
 * byte, without being processed twice; after it they are new requests. */
static void test_duplicate_cache(void)
{
    struct ring r = {.net = fake_net_new(LAT), .n = 1};
    struct node *a = mk_node(&r, 0);
    CU_ASSERT_EQUAL(node_join(a, NULL), NODE_OK);
    struct fake_host *sender = fake_net_add_host(r.net); /* no node: its inbox records */
    struct id sid = id_hash("sender", 6);
    /* Many answered requests in the cache, then the duplicates of one of them. */
    for (uint64_t t = 1; t <= 200; t++) {
        GByteArray *f = framed_store(&sid, 1000 + t, "other", "x");
        fake_net_inject(r.net, r.h[0], &sender->addr, f->data, f->len);
        g_byte_array_free(f, TRUE);
    }
    fake_net_run_until(r.net, ENV_S);
    GByteArray *f = framed_store(&sid, 77, "dup", "v1");
    fake_net_inject(r.net, r.h[0], &sender->addr, f->data, f->len);
    fake_net_run_until(r.net, 2 * ENV_S);
    guint before = sender->inbox->len;
    fake_net_inject(r.net, r.h[0], &sender->addr, f->data, f->len);
    fake_net_run_until(r.net, 3 * ENV_S);
    /* An ACK frame and the answer again; the value was stored once (generation 1). */
    CU_ASSERT_EQUAL_FATAL(sender->inbox->len, before + 2);
    GBytes *first = sender->inbox->pdata[before - 1], *again = sender->inbox->pdata[before + 1];
    gsize l1, l2;
    const uint8_t *p1 = g_bytes_get_data(first, &l1), *p2 = g_bytes_get_data(again, &l2);
    /* Frames differ in their sequence number only (bytes 1-4). */
    CU_ASSERT_EQUAL_FATAL(l1, l2);
    CU_ASSERT_EQUAL(memcmp(p1 + 5, p2 + 5, l1 - 5), 0);
    struct fetch_result fr = fetch_value(&r, 0, "dup");
    CU_ASSERT_EQUAL(fr.generation, 1);
    /* After the request lifetime the same transaction id is a new request. */
    fake_net_run_until(r.net, fake_net_now(r.net) + 16 * ENV_S);
    fake_net_inject(r.net, r.h[0], &sender->addr, f->data, f->len);
    fake_net_run_until(r.net, fake_net_now(r.net) + ENV_S);
    fr = fetch_value(&r, 0, "dup");
    CU_ASSERT_EQUAL(fr.generation, 2);
    g_byte_array_free(f, TRUE);
    ring_free(&r);
}

CU_TestInfo test_node_tests[] = {
    {"AppAttach: the listener's address, Error_Not_Found, bad lists", test_app_attach},
    {"AppData: to the node named, with the sender's address; nobody else", test_app_data},
    {"duplicate requests get the cached answer within the request lifetime", test_duplicate_cache},
    {"a partitioned overlay merges after the partition heals", test_partition_heals},
    {"a lone peer answers everything with 0 hops", test_alone},
    {"12 peers join through the protocol and route to the responsible peer", test_join_and_route},
    {"store, fetch, generation counters, 2 replicas", test_store_fetch_replicas},
    {"a crashed owner's data survives on replicas", test_crash_keeps_data},
    {"a leaving peer hands its data over", test_leave_hands_over},
    {"a lost request is retransmitted end to end", test_retransmission},
    {"300 requests pending on one node: each answer completes its own", test_many_pending},
    {"malformed datagrams are counted and dropped", test_malformed_dropped},
    {"an installed ring routes correctly", test_install_ring},
    CU_TEST_INFO_NULL,
};
