/* test_sip.c — the SIP usage (RFC 7904 §3) byte for byte, and the proxy/registrar adapter
 * (sip/registrar.c, RFC 3261 §10.3 and §17.2) end to end on a CHORD-RELOAD ring of the fake
 * environment: REGISTER stores in the overlay, another peer resolves the AoR, Expires: 0
 * removes, contacts expire, stored values are refreshed, forwarding URIs are followed with a
 * depth limit, and malformed SIP is answered 400 or dropped. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "../sip/registrar.h"
#include "../sip/resolve.h"
#include "../sip/router.h"
#include "../sip/usage.h"
#include "fake_env.h"
#include "ring.h"

/* ---- the codec ---------------------------------------------------------------------------- */

static const uint8_t NODE_A[ID_BYTES] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                         0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

static GByteArray *encode(const struct sip_registration *r)
{
    GByteArray *b = g_byte_array_new();
    sip_usage_encode(b, r);
    return b;
}

static void test_codec_bytes(void)
{
    /* A route to one Node-ID, no preferences: type 2, length 22, contact_prefs<0>, a list of
     * 18 bytes holding Destination {node(1), length 16, Node-ID}. */
    static const uint8_t route[] = {0x02, 0x00, 0x16, 0x00, 0x00, 0x00, 0x12, 0x01, 0x10,
                                    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                    0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    struct sip_registration r;
    sip_usage_route_to(&r, NODE_A, NULL);
    GByteArray *b = encode(&r);
    CU_ASSERT_EQUAL(b->len, sizeof route);
    CU_ASSERT_EQUAL(memcmp(b->data, route, sizeof route), 0);
    g_byte_array_free(b, TRUE);

    /* A forwarding URI: type 1, length 9, uri<7>. */
    static const uint8_t uri[] = {0x01, 0x00, 0x09, 0x00, 0x07, 's', 'i', 'p', ':', 'b', '@', 'x'};
    sip_usage_uri(&r, "sip:b@x");
    b = encode(&r);
    CU_ASSERT_EQUAL(b->len, sizeof uri);
    CU_ASSERT_EQUAL(memcmp(b->data, uri, sizeof uri), 0);
    g_byte_array_free(b, TRUE);

    /* Preferences "a" and two destinations: the Node-ID, then Resource-ID aabbccdd
     * (type 2, length 5, resource_id<4>). */
    static const uint8_t two[] = {0x02, 0x00, 0x1e, 0x00, 0x01, 'a',  0x00, 0x19, 0x01, 0x10, 0x00,
                                  0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
                                  0xcc, 0xdd, 0xee, 0xff, 0x02, 0x05, 0x04, 0xaa, 0xbb, 0xcc, 0xdd};
    static const uint8_t rid[] = {0xaa, 0xbb, 0xcc, 0xdd};
    sip_usage_route_to(&r, NODE_A, "a");
    r.n_dest = 2;
    wire_dest_resource(&r.dest[1], rid, sizeof rid);
    b = encode(&r);
    CU_ASSERT_EQUAL(b->len, sizeof two);
    CU_ASSERT_EQUAL(memcmp(b->data, two, sizeof two), 0);
    struct sip_registration d;
    CU_ASSERT_EQUAL(sip_usage_decode(two, sizeof two, &d), WIRE_OK);
    CU_ASSERT_EQUAL(d.type, SIP_USAGE_ROUTE);
    CU_ASSERT_EQUAL(d.contact_prefs.len, 1);
    CU_ASSERT_EQUAL(d.contact_prefs.p[0], 'a');
    CU_ASSERT_EQUAL(d.n_dest, 2);
    CU_ASSERT_EQUAL(d.dest[0].type, WIRE_DEST_NODE);
    CU_ASSERT_EQUAL(memcmp(d.dest[0].data, NODE_A, ID_BYTES), 0);
    CU_ASSERT_EQUAL(d.dest[1].type, WIRE_DEST_RESOURCE);
    CU_ASSERT_EQUAL(d.dest[1].len, 4);
    CU_ASSERT_EQUAL(memcmp(d.dest[1].data, rid, 4), 0);
    GByteArray *again = encode(&d);
    CU_ASSERT_EQUAL(again->len, sizeof two);
    CU_ASSERT_EQUAL(memcmp(again->data, two, sizeof two), 0);
    g_byte_array_free(again, TRUE);
    g_byte_array_free(b, TRUE);
}

static void test_codec_roundtrip_unknown(void)
{
    struct sip_registration r, d;
    sip_usage_uri(&r, "sip:carol@p2p.example");
    GByteArray *b = encode(&r);
    CU_ASSERT_EQUAL(sip_usage_decode(b->data, b->len, &d), WIRE_OK);
    CU_ASSERT_EQUAL(d.type, SIP_USAGE_URI);
    CU_ASSERT_EQUAL(d.uri.len, strlen("sip:carol@p2p.example"));
    CU_ASSERT_EQUAL(memcmp(d.uri.p, "sip:carol@p2p.example", d.uri.len), 0);
    g_byte_array_free(b, TRUE);

    /* A type this build does not know keeps its data and re-encodes verbatim. */
    static const uint8_t future[] = {0x07, 0x00, 0x03, 0xde, 0xad, 0x00};
    CU_ASSERT_EQUAL(sip_usage_decode(future, sizeof future, &d), WIRE_OK);
    CU_ASSERT_EQUAL(d.type, 7);
    CU_ASSERT_EQUAL(d.raw.len, 3);
    b = encode(&d);
    CU_ASSERT_EQUAL(b->len, sizeof future);
    CU_ASSERT_EQUAL(memcmp(b->data, future, sizeof future), 0);
    g_byte_array_free(b, TRUE);
}

static void test_codec_malformed(void)
{
    struct sip_registration r, d;
    static const uint8_t rid[] = {1, 2, 3};
    sip_usage_route_to(&r, NODE_A, "prefs");
    r.n_dest = 2;
    wire_dest_resource(&r.dest[1], rid, sizeof rid);
    GByteArray *b = encode(&r);
    /* Every truncation is refused, and so is a trailing byte. */
    for (guint i = 0; i < b->len; i++)
        CU_ASSERT_TRUE(sip_usage_decode(b->data, i, &d) < 0);
    g_byte_array_append(b, (const uint8_t *)"x", 1);
    CU_ASSERT_EQUAL(sip_usage_decode(b->data, b->len, &d), WIRE_E_INVALID);
    g_byte_array_free(b, TRUE);

    static const uint8_t type0[] = {0x00, 0x00, 0x00};
    CU_ASSERT_EQUAL(sip_usage_decode(type0, sizeof type0, &d), WIRE_E_INVALID);
    /* uri<9> inside a structure of 9 bytes: runs past it. */
    static const uint8_t uri_long[] = {0x01, 0x00, 0x09, 0x00, 0x09, 's',
                                       'i',  'p',  ':',  'b',  '@',  'x'};
    CU_ASSERT_EQUAL(sip_usage_decode(uri_long, sizeof uri_long, &d), WIRE_E_TRUNCATED);
    /* uri<5> inside 9 bytes: bytes left inside the structure. */
    static const uint8_t uri_short[] = {0x01, 0x00, 0x09, 0x00, 0x05, 's',
                                        'i',  'p',  ':',  'b',  '@',  'x'};
    CU_ASSERT_EQUAL(sip_usage_decode(uri_short, sizeof uri_short, &d), WIRE_E_INVALID);
    /* A node Destination of 15 bytes. */
    static const uint8_t bad_dest[] = {0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x11, 0x01,
                                       0x0f, 1,    2,    3,    4,    5,    6,    7,
                                       8,    9,    10,   11,   12,   13,   14,   15};
    CU_ASSERT_TRUE(sip_usage_decode(bad_dest, sizeof bad_dest, &d) < 0);
    /* Destination list length beyond the structure. */
    static const uint8_t list_long[] = {0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x12};
    CU_ASSERT_EQUAL(sip_usage_decode(list_long, sizeof list_long, &d), WIRE_E_TRUNCATED);
    /* More destinations than kept. */
    GByteArray *many = g_byte_array_new();
    uint8_t head[] = {0x02, 0, 0, 0x00, 0x00, 0, 0};
    g_byte_array_append(many, head, sizeof head);
    for (unsigned i = 0; i <= SIP_USAGE_MAX_DEST; i++) {
        uint8_t one[] = {0x02, 0x02, 0x01, (uint8_t)i};
        g_byte_array_append(many, one, sizeof one);
    }
    size_t list = many->len - 7, body = many->len - 3;
    many->data[1] = (uint8_t)(body >> 8), many->data[2] = (uint8_t)body;
    many->data[5] = (uint8_t)(list >> 8), many->data[6] = (uint8_t)list;
    CU_ASSERT_EQUAL(sip_usage_decode(many->data, many->len, &d), WIRE_E_TOO_MANY);
    g_byte_array_free(many, TRUE);
}

static void check_aor(const char *uri, const char *want)
{
    char *got = sip_usage_aor(uri);
    if (!want) {
        CU_ASSERT_PTR_NULL(got);
    } else {
        CU_ASSERT_STRING_EQUAL(got ? got : "(null)", want);
    }
    g_free(got);
}

static void test_aor(void)
{
    check_aor("sip:Bob@Example.COM;transport=udp", "sip:Bob@example.com");
    check_aor("SIP:bob@EXAMPLE.com:5070?subject=x", "sip:bob@example.com:5070");
    check_aor("sips:b%6Fb@x.org", "sips:bob@x.org");
    check_aor("sip:p2p.example", "sip:p2p.example");
    check_aor("tel:+1234", NULL);
    check_aor("garbage", NULL);
    struct id want = id_hash("sip:bob@example.com", strlen("sip:bob@example.com"));
    struct id got = sip_usage_resource_id("sip:bob@example.com");
    CU_ASSERT_TRUE(id_eq(&got, &want));
}

/* ---- the adapter on a ring ---------------------------------------------------------------- */

#define DOMAIN "p2p.example"
#define PEERS 5

/* Peer i's adapter receives SIP at 10.0.1.<i+1>:5060.  What an adapter sends to another
 * adapter arrives there SIP_LAT later; what it sends elsewhere (to phones) is recorded in its
 * struct ua, with the address. */
#define SIP_LAT ENV_MS

struct sip_rig;

struct ua {
    GPtrArray *msgs; /* char *: what the adapter sent to phones */
    GArray *tos;     /* struct env_addr: where each of msgs went */
    struct env_addr to;
    struct sip_rig *rig; /* NULL: no other adapters */
};

struct sip_rig {
    struct ring ring;
    struct sip_registrar *reg[PEERS];
    struct ua ua[PEERS];
    GPtrArray *inflight; /* struct sip_dgram * between adapters */
};

struct sip_dgram {
    struct sip_rig *rig;
    unsigned to;
    struct env_addr from;
    char *text;
    size_t len;
    env_timer timer;
};

static struct env_addr peer_sip(unsigned i)
{
    return (struct env_addr){0x0a000101 + i, 5060};
}

static void dgram_arrive(void *arg)
{
    struct sip_dgram *d = arg;
    g_ptr_array_remove_fast(d->rig->inflight, d);
    sip_registrar_receive(d->rig->reg[d->to], &d->from, (const uint8_t *)d->text, d->len);
    g_free(d->text);
    g_free(d);
}

static void ua_send(void *ud, const struct env_addr *to, const char *msg, size_t len)
{
    struct ua *u = ud;
    for (unsigned i = 0; u->rig && i < PEERS; i++) {
        struct env_addr a = peer_sip(i);
        if (!env_addr_eq(&a, to))
            continue;
        struct sip_dgram *d = g_new0(struct sip_dgram, 1);
        d->rig = u->rig;
        d->to = i;
        d->from = peer_sip((unsigned)(u - u->rig->ua));
        d->text = g_strndup(msg, len);
        d->len = len;
        d->timer = env_timer_start(&u->rig->ring.h[i]->env, SIP_LAT, dgram_arrive, d);
        g_ptr_array_add(u->rig->inflight, d);
        return;
    }
    g_ptr_array_add(u->msgs, g_strndup(msg, len));
    if (u->tos)
        g_array_append_val(u->tos, *to);
    u->to = *to;
}

static const struct env_addr UA_ADDR = {0xc0a8000a, 5062}; /* 192.168.0.10:5062 */

static void rig_build(struct sip_rig *s, const struct sip_registrar_config *cfg)
{
    memset(s, 0, sizeof *s);
    ring_build(&s->ring, PEERS);
    s->inflight = g_ptr_array_new();
    struct sip_registrar_config c;
    if (cfg) {
        c = *cfg;
    } else {
        sip_registrar_config_default(&c);
        c.domain = DOMAIN;
    }
    for (unsigned i = 0; i < PEERS; i++) {
        s->ua[i].msgs = g_ptr_array_new_with_free_func(g_free);
        s->ua[i].tos = g_array_new(FALSE, FALSE, sizeof(struct env_addr));
        s->ua[i].rig = s;
        c.addr = peer_sip(i);
        s->reg[i] =
            sip_registrar_new(&s->ring.h[i]->env, s->ring.h[i]->node, &c, ua_send, &s->ua[i]);
    }
}

static void rig_free(struct sip_rig *s)
{
    for (guint i = 0; i < s->inflight->len; i++) {
        struct sip_dgram *d = s->inflight->pdata[i];
        env_timer_stop(&s->ring.h[d->to]->env, d->timer);
        g_free(d->text);
        g_free(d);
    }
    g_ptr_array_free(s->inflight, TRUE);
    for (unsigned i = 0; i < PEERS; i++) {
        sip_registrar_free(s->reg[i]);
        g_ptr_array_free(s->ua[i].msgs, TRUE);
        g_array_free(s->ua[i].tos, TRUE);
    }
    ring_free(&s->ring);
}

static void run(struct sip_rig *s, env_time d)
{
    fake_net_run_until(s->ring.net, fake_net_now(s->ring.net) + d);
}

static void deliver(struct sip_rig *s, unsigned peer, const char *text)
{
    sip_registrar_receive(s->reg[peer], &UA_ADDR, (const uint8_t *)text, strlen(text));
}

/* A REGISTER for USER@DOMAIN; contact and expires may be NULL (header left out). */
static char *reg_msg(const char *user, const char *branch, unsigned cseq, const char *contact,
                     const char *expires)
{
    GString *m = g_string_new(NULL);
    g_string_append_printf(m,
                           "REGISTER sip:" DOMAIN " SIP/2.0\r\n"
                           "Via: SIP/2.0/UDP 192.168.0.10:5062;branch=z9hG4bK%s;rport\r\n"
                           "Max-Forwards: 70\r\n"
                           "From: <sip:%s@" DOMAIN ">;tag=ua1\r\n"
                           "To: <sip:%s@" DOMAIN ">\r\n"
                           "Call-ID: reg-%s@192.168.0.10\r\n"
                           "CSeq: %u REGISTER\r\n",
                           branch, user, user, user, cseq);
    if (contact)
        g_string_append_printf(m, "Contact: %s\r\n", contact);
    if (expires)
        g_string_append_printf(m, "Expires: %s\r\n", expires);
    g_string_append(m, "Content-Length: 0\r\n\r\n");
    return g_string_free(m, FALSE);
}

static void send_reg(struct sip_rig *s, unsigned peer, const char *user, const char *branch,
                     unsigned cseq, const char *contact, const char *expires)
{
    char *m = reg_msg(user, branch, cseq, contact, expires);
    deliver(s, peer, m);
    g_free(m);
}

static const char *last(const struct sip_rig *s, unsigned peer)
{
    const GPtrArray *a = s->ua[peer].msgs;
    return a->len ? a->pdata[a->len - 1] : "";
}

struct resolved {
    int calls, status;
    size_t n;
    struct id node, dest0;
    char aor[64];
    unsigned depth;
};

static void on_resolved(void *ud, int status, const struct sip_route *routes, size_t n)
{
    struct resolved *r = ud;
    r->calls++;
    r->status = status;
    r->n = n;
    if (n) {
        r->node = routes[0].node;
        g_strlcpy(r->aor, routes[0].aor, sizeof r->aor);
        r->depth = routes[0].depth;
        if (routes[0].n_dest)
            wire_dest_id(&routes[0].dest[0], &r->dest0);
    }
}

static struct resolved resolve(struct sip_rig *s, unsigned via, const char *aor, unsigned depth)
{
    struct resolved r = {0};
    CU_ASSERT_EQUAL(sip_resolve(s->ring.h[via]->node, aor, depth, 0, on_resolved, &r, NULL),
                    NODE_OK);
    run(s, 10 * ENV_S);
    CU_ASSERT_EQUAL(r.calls, 1);
    return r;
}

static unsigned holders_of(const struct sip_rig *s, const char *aor)
{
    struct id k = sip_usage_resource_id(aor);
    unsigned n = 0;
    for (unsigned i = 0; i < PEERS; i++)
        n += node_holds(s->ring.h[i]->node, &k, NODE_KIND_SIP_REGISTRATION);
    return n;
}

static void test_register_resolve_remove(void)
{
    struct sip_rig s;
    rig_build(&s, NULL);
    const char *aor = "sip:bob@" DOMAIN;
    send_reg(&s, 0, "bob", "b1", 1, "<sip:bob@192.168.0.10:5062>", "3600");
    run(&s, 5 * ENV_S);
    CU_ASSERT_EQUAL_FATAL(s.ua[0].msgs->len, 1);
    const char *ok = last(&s, 0);
    CU_ASSERT_TRUE(g_str_has_prefix(ok, "SIP/2.0 200 OK\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ok, "<sip:bob@192.168.0.10:5062>;expires=3600"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ok, "rport=5062"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ok, "CSeq: 1 REGISTER"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ok, ";tag="));
    CU_ASSERT_TRUE(env_addr_eq(&s.ua[0].to, &UA_ADDR));
    /* Stored in the overlay: the responsible peer and its two replicas. */
    struct id k = sip_usage_resource_id(aor);
    CU_ASSERT_TRUE(node_holds(s.ring.h[oracle(&s.ring, &k)]->node, &k, NODE_KIND_SIP_REGISTRATION));
    CU_ASSERT_EQUAL(holders_of(&s, aor), 3);

    /* Another peer resolves the AoR to a route to peer 0. */
    struct resolved r = resolve(&s, 3, aor, SIP_RESOLVE_DEPTH);
    CU_ASSERT_EQUAL(r.status, NODE_OK);
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_TRUE(id_eq(&r.node, node_id(s.ring.h[0]->node)));
    CU_ASSERT_TRUE(id_eq(&r.dest0, node_id(s.ring.h[0]->node)));
    CU_ASSERT_STRING_EQUAL(r.aor, aor);

    /* The retransmitted REGISTER gets the same answer and stores nothing more. */
    uint64_t stores = sip_registrar_get_stats(s.reg[0])->stores;
    send_reg(&s, 0, "bob", "b1", 1, "<sip:bob@192.168.0.10:5062>", "3600");
    run(&s, ENV_S);
    CU_ASSERT_EQUAL_FATAL(s.ua[0].msgs->len, 2);
    CU_ASSERT_STRING_EQUAL(s.ua[0].msgs->pdata[0], s.ua[0].msgs->pdata[1]);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[0])->stores, stores);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[0])->retransmissions, 1);

    /* A second contact, by the expires parameter; a query lists both. */
    send_reg(&s, 0, "bob", "b2", 2, "<sip:bob@192.168.0.11:5060>;expires=1800", NULL);
    run(&s, 5 * ENV_S);
    CU_ASSERT_PTR_NOT_NULL(strstr(last(&s, 0), "<sip:bob@192.168.0.11:5060>;expires=1800"));
    send_reg(&s, 0, "bob", "b3", 3, NULL, NULL);
    run(&s, ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 0), "SIP/2.0 200 OK\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(last(&s, 0), "sip:bob@192.168.0.10:5062"));
    CU_ASSERT_PTR_NOT_NULL(strstr(last(&s, 0), "sip:bob@192.168.0.11:5060"));
    CU_ASSERT_EQUAL(sip_registrar_contacts(s.reg[0], aor, NULL, 0), 2);

    /* A stale CSeq of the same Call-ID changes nothing. */
    send_reg(&s, 0, "bob", "b4", 2, "<sip:bob@192.168.0.11:5060>", "0");
    run(&s, ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 0), "SIP/2.0 500 "));
    CU_ASSERT_EQUAL(sip_registrar_contacts(s.reg[0], aor, NULL, 0), 2);

    /* Expires: 0 on one contact keeps the other; "*" with Expires: 0 removes the rest. */
    send_reg(&s, 0, "bob", "b5", 5, "<sip:bob@192.168.0.11:5060>", "0");
    run(&s, 5 * ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 0), "SIP/2.0 200 OK\r\n"));
    CU_ASSERT_PTR_NULL(strstr(last(&s, 0), "192.168.0.11"));
    CU_ASSERT_EQUAL(sip_registrar_contacts(s.reg[0], aor, NULL, 0), 1);
    CU_ASSERT_EQUAL(resolve(&s, 2, aor, SIP_RESOLVE_DEPTH).status, NODE_OK);
    send_reg(&s, 0, "bob", "b6", 6, "*", "0");
    run(&s, 5 * ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 0), "SIP/2.0 200 OK\r\n"));
    CU_ASSERT_PTR_NULL(strstr(last(&s, 0), "Contact"));
    CU_ASSERT_EQUAL(sip_registrar_contacts(s.reg[0], aor, NULL, 0), 0);
    CU_ASSERT_EQUAL(holders_of(&s, aor), 0);
    r = resolve(&s, 3, aor, SIP_RESOLVE_DEPTH);
    CU_ASSERT_EQUAL(r.status, NODE_E_NOT_FOUND);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[0])->registers_ok, 5);
    run(&s, 60 * ENV_S); /* every transaction's Timer J */
    rig_free(&s);
}

static void test_expiry_and_refresh(void)
{
    struct sip_registrar_config cfg;
    sip_registrar_config_default(&cfg);
    cfg.domain = DOMAIN;
    cfg.store_lifetime = 60; /* stored values live 60 s and are renewed after 54 s */
    cfg.expired_grace = 0;   /* the value ends with the contact (test_lapsed: with a grace) */
    struct sip_rig s;
    rig_build(&s, &cfg);
    const char *aor = "sip:carol@" DOMAIN;

    /* Too brief: 423 with Min-Expires, nothing kept. */
    send_reg(&s, 1, "carol", "c0", 1, "<sip:carol@192.168.0.10:5062>", "10");
    run(&s, ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 1), "SIP/2.0 423 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(last(&s, 1), "Min-Expires: 60"));
    CU_ASSERT_EQUAL(sip_registrar_contacts(s.reg[1], aor, NULL, 0), 0);

    send_reg(&s, 1, "carol", "c1", 2, "<sip:carol@192.168.0.10:5062>", "150");
    run(&s, 5 * ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 1), "SIP/2.0 200 OK\r\n"));
    /* Past the first stored lifetime the value is still found: it was stored again. */
    run(&s, 90 * ENV_S);
    CU_ASSERT_TRUE(sip_registrar_get_stats(s.reg[1])->refreshes >= 1);
    struct resolved r = resolve(&s, 4, aor, SIP_RESOLVE_DEPTH);
    CU_ASSERT_EQUAL(r.status, NODE_OK);
    CU_ASSERT_TRUE(id_eq(&r.node, node_id(s.ring.h[1]->node)));
    CU_ASSERT_EQUAL(sip_registrar_contacts(s.reg[1], aor, NULL, 0), 1);
    /* After 150 s the contact is gone here and the value in the overlay. */
    run(&s, 60 * ENV_S);
    CU_ASSERT_EQUAL(sip_registrar_contacts(s.reg[1], aor, NULL, 0), 0);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[1])->bindings_expired, 1);
    CU_ASSERT_EQUAL(holders_of(&s, aor), 0);
    CU_ASSERT_EQUAL(resolve(&s, 4, aor, SIP_RESOLVE_DEPTH).status, NODE_E_NOT_FOUND);
    rig_free(&s);
}

static void test_forwarding(void)
{
    struct sip_rig s;
    rig_build(&s, NULL);
    /* bob is at peer 3; alice forwards to bob; x and y forward to each other; c0 -> c1 ->
     * c2 -> c3 -> bob. */
    send_reg(&s, 3, "bob", "f1", 1, "<sip:bob@192.168.0.10:5062>", NULL);
    send_reg(&s, 0, "alice", "f2", 1, "<sip:bob@" DOMAIN ">", NULL);
    send_reg(&s, 0, "x", "f3", 1, "<sip:y@" DOMAIN ">", NULL);
    send_reg(&s, 2, "y", "f4", 1, "<sip:x@" DOMAIN ">", NULL);
    send_reg(&s, 1, "c0", "f5", 1, "<sip:c1@" DOMAIN ">", NULL);
    send_reg(&s, 2, "c1", "f6", 1, "<sip:c2@" DOMAIN ">", NULL);
    send_reg(&s, 4, "c2", "f7", 1, "<sip:bob@" DOMAIN ">", NULL);
    run(&s, 5 * ENV_S);
    for (unsigned i = 0; i < PEERS; i++)
        for (guint j = 0; j < s.ua[i].msgs->len; j++)
            CU_ASSERT_TRUE(g_str_has_prefix(s.ua[i].msgs->pdata[j], "SIP/2.0 200 OK\r\n"));

    struct resolved r = resolve(&s, 1, "sip:alice@" DOMAIN, SIP_RESOLVE_DEPTH);
    CU_ASSERT_EQUAL(r.status, NODE_OK);
    CU_ASSERT_STRING_EQUAL(r.aor, "sip:bob@" DOMAIN);
    CU_ASSERT_EQUAL(r.depth, 1);
    CU_ASSERT_TRUE(id_eq(&r.node, node_id(s.ring.h[3]->node)));

    r = resolve(&s, 4, "sip:x@" DOMAIN, SIP_RESOLVE_DEPTH);
    CU_ASSERT_EQUAL(r.status, SIP_RESOLVE_E_LOOP);
    CU_ASSERT_EQUAL(r.n, 0);

    r = resolve(&s, 4, "sip:c0@" DOMAIN, 3);
    CU_ASSERT_EQUAL(r.status, NODE_OK);
    CU_ASSERT_EQUAL(r.depth, 3);
    r = resolve(&s, 4, "sip:c0@" DOMAIN, 2);
    CU_ASSERT_EQUAL(r.status, SIP_RESOLVE_E_LOOP);

    /* The proxy side: an INVITE for an AoR registered nowhere gets 100 then 404, and the 404
     * is repeated until the ACK; one that resolves through alice's forwarding URI goes to
     * bob's peer and on to bob, retargeted to bob's AoR and then to his contact. */
    const char *inv = "INVITE sip:nobody@" DOMAIN " SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP 192.168.0.10:5062;branch=z9hG4bKinv1\r\n"
                      "Max-Forwards: 70\r\n"
                      "From: <sip:alice@" DOMAIN ">;tag=a1\r\n"
                      "To: <sip:nobody@" DOMAIN ">\r\n"
                      "Call-ID: call-1@192.168.0.10\r\n"
                      "CSeq: 1 INVITE\r\n"
                      "Content-Length: 0\r\n\r\n";
    guint before = s.ua[2].msgs->len;
    deliver(&s, 2, inv);
    run(&s, 2 * ENV_S);
    CU_ASSERT_TRUE_FATAL(s.ua[2].msgs->len >= before + 2);
    CU_ASSERT_TRUE(g_str_has_prefix(s.ua[2].msgs->pdata[before], "SIP/2.0 100 Trying\r\n"));
    CU_ASSERT_TRUE(g_str_has_prefix(s.ua[2].msgs->pdata[before + 1], "SIP/2.0 404 Not Found\r\n"));
    guint repeated = s.ua[2].msgs->len - before - 2;
    CU_ASSERT_TRUE(repeated >= 1); /* Timer G: at 0.5 s and 1.5 s after the 404 */
    const char *ack = "ACK sip:nobody@" DOMAIN " SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP 192.168.0.10:5062;branch=z9hG4bKinv1\r\n"
                      "Max-Forwards: 70\r\n"
                      "From: <sip:alice@" DOMAIN ">;tag=a1\r\n"
                      "To: <sip:nobody@" DOMAIN ">;tag=x\r\n"
                      "Call-ID: call-1@192.168.0.10\r\n"
                      "CSeq: 1 ACK\r\n"
                      "Content-Length: 0\r\n\r\n";
    deliver(&s, 2, ack);
    guint at_ack = s.ua[2].msgs->len;
    run(&s, 40 * ENV_S);
    CU_ASSERT_EQUAL(s.ua[2].msgs->len, at_ack);

    const char *inv3 = "INVITE sip:alice@" DOMAIN " SIP/2.0\r\n"
                       "Via: SIP/2.0/UDP 192.168.0.10:5062;branch=z9hG4bKinv2\r\n"
                       "From: <sip:c0@" DOMAIN ">;tag=a2\r\n"
                       "To: <sip:alice@" DOMAIN ">\r\n"
                       "Call-ID: call-2@192.168.0.10\r\n"
                       "CSeq: 1 INVITE\r\n"
                       "Content-Length: 0\r\n\r\n";
    deliver(&s, 2, inv3);
    run(&s, 2 * ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 2), "SIP/2.0 100 "));
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 3), "INVITE sip:bob@192.168.0.10:5062 SIP/2.0\r\n"));
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[2])->forwarded, 1);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[3])->forwarded, 1);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[2])->lookups, 2);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[2])->lookups_found, 1);

    /* CANCEL while the lookup runs: 200 for the CANCEL, 487 for the INVITE, and the lookup's
     * late answer changes nothing. */
    char *inv4 = g_strdup(inv3), *cancel = g_strdup(inv3);
    memcpy(strstr(inv4, "inv2"), "inv4", 4);
    memcpy(strstr(cancel, "inv2"), "inv4", 4);
    memcpy(cancel, "CANCEL", 6);
    memcpy(strstr(cancel, "1 INVITE"), "1 CANCEL", 8);
    guint at_cancel = s.ua[2].msgs->len;
    deliver(&s, 2, inv4);
    deliver(&s, 2, cancel);
    g_free(inv4);
    g_free(cancel);
    run(&s, 100 * ENV_MS);
    CU_ASSERT_EQUAL_FATAL(s.ua[2].msgs->len, at_cancel + 3);
    CU_ASSERT_TRUE(g_str_has_prefix(s.ua[2].msgs->pdata[at_cancel], "SIP/2.0 100 "));
    CU_ASSERT_TRUE(g_str_has_prefix(s.ua[2].msgs->pdata[at_cancel + 1], "SIP/2.0 200 OK"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s.ua[2].msgs->pdata[at_cancel + 1], "CSeq: 1 CANCEL"));
    CU_ASSERT_TRUE(g_str_has_prefix(s.ua[2].msgs->pdata[at_cancel + 2], "SIP/2.0 487 "));
    run(&s, 40 * ENV_S);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[2])->lookups_found, 1);
    rig_free(&s);
}

static void test_malformed(void)
{
    struct sip_rig s;
    rig_build(&s, NULL);
    const struct sip_registrar_stats *st = sip_registrar_get_stats(s.reg[0]);
    /* Cannot be answered: dropped and counted, nothing sent. */
    deliver(&s, 0, "hello world");
    deliver(&s, 0, "REGISTER sip:" DOMAIN " SIP/2.0\r\n\r\n");
    deliver(&s, 0,
            "REGISTER sip:" DOMAIN " SIP/2.0\r\n" /* no Via */
            "From: <sip:a@" DOMAIN ">;tag=1\r\nTo: <sip:a@" DOMAIN ">\r\n"
            "Call-ID: m1\r\nCSeq: 1 REGISTER\r\n\r\n");
    deliver(&s, 0,
            "REGISTER sip:" DOMAIN " SIP/2.0\r\n" /* no CSeq */
            "Via: SIP/2.0/UDP 192.168.0.10:5062;branch=z9hG4bKm2\r\n"
            "From: <sip:a@" DOMAIN ">;tag=1\r\nTo: <sip:a@" DOMAIN ">\r\n"
            "Call-ID: m2\r\n\r\n");
    deliver(&s, 0, "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKr\r\n\r\n");
    static const uint8_t binary[] = {0x00, 0xff, 0x13, 0x37, 0x80, 0x00, 0x0d, 0x0a};
    sip_registrar_receive(s.reg[0], &UA_ADDR, binary, sizeof binary);
    run(&s, ENV_S);
    CU_ASSERT_EQUAL(s.ua[0].msgs->len, 0);
    CU_ASSERT_EQUAL(st->dropped_malformed, 5);
    CU_ASSERT_EQUAL(st->dropped_other, 1);

    /* Answerable but wrong: 400. */
    char *m = reg_msg("a", "m3", 1, "<sip:a@192.168.0.10>", NULL);
    memcpy(strstr(m, "1 REGISTER"), "1 OPTIONS ", 10); /* CSeq method differs */
    deliver(&s, 0, m);
    g_free(m);
    send_reg(&s, 0, "a", "m4", 2, "*", "3600"); /* wildcard without Expires: 0 */
    send_reg(&s, 0, "a", "m5", 3, "*, <sip:a@192.168.0.10>", "0");
    m = reg_msg("a", "m6", 4, NULL, NULL);
    memcpy(strstr(m, "CSeq: 4"), "CSeq: x", 7);
    deliver(&s, 0, m);
    g_free(m);
    run(&s, ENV_S);
    CU_ASSERT_EQUAL(s.ua[0].msgs->len, 4);
    for (guint i = 0; i < s.ua[0].msgs->len; i++)
        CU_ASSERT_TRUE(g_str_has_prefix(s.ua[0].msgs->pdata[i], "SIP/2.0 400 "));
    CU_ASSERT_EQUAL(st->bad_requests, 4);
    /* A To that is no SIP AoR: 404. */
    m = reg_msg("a", "m7", 5, "<sip:a@192.168.0.10>", NULL);
    memcpy(strstr(m, "To: <sip:"), "To: <tel:", 9);
    deliver(&s, 0, m);
    g_free(m);
    run(&s, ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 0), "SIP/2.0 404 "));

    /* Every prefix of a valid REGISTER, and the same bytes with one byte changed: answered or
     * dropped, never a crash, and the peer still registers afterwards. */
    char *good = reg_msg("z", "zz", 1, "<sip:z@192.168.0.10:5062>", "600");
    size_t len = strlen(good);
    for (size_t i = 0; i < len; i++) {
        sip_registrar_receive(s.reg[1], &UA_ADDR, (const uint8_t *)good, i);
        char *bad = g_strdup(good);
        bad[i] = (char)(bad[i] ^ 0x5a);
        sip_registrar_receive(s.reg[1], &UA_ADDR, (const uint8_t *)bad, len);
        g_free(bad);
    }
    g_free(good);
    run(&s, 5 * ENV_S);
    send_reg(&s, 1, "w", "w1", 1, "<sip:w@192.168.0.10:5062>", NULL);
    run(&s, 5 * ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 1), "SIP/2.0 200 OK\r\n"));
    CU_ASSERT_EQUAL(resolve(&s, 4, "sip:w@" DOMAIN, SIP_RESOLVE_DEPTH).status, NODE_OK);
    run(&s, 60 * ENV_S);
    rig_free(&s);
}

/* A peer that is not part of an overlay yet answers 503, keeps the contact and stores it
 * once it can. */
static void test_store_retry(void)
{
    struct ring r = {.net = fake_net_new(LAT), .n = 1};
    struct node *n = mk_node(&r, 0);
    struct ua ua = {.msgs = g_ptr_array_new_with_free_func(g_free)};
    struct sip_registrar_config cfg;
    sip_registrar_config_default(&cfg);
    struct sip_registrar *reg = sip_registrar_new(&r.h[0]->env, n, &cfg, ua_send, &ua);
    char *m = reg_msg("dan", "d1", 1, "<sip:dan@192.168.0.10:5062>", NULL);
    sip_registrar_receive(reg, &UA_ADDR, (const uint8_t *)m, strlen(m));
    g_free(m);
    CU_ASSERT_EQUAL_FATAL(ua.msgs->len, 1);
    CU_ASSERT_TRUE(g_str_has_prefix(ua.msgs->pdata[0], "SIP/2.0 503 "));
    CU_ASSERT_EQUAL(sip_registrar_contacts(reg, "sip:dan@" DOMAIN, NULL, 0), 1);
    CU_ASSERT_EQUAL(node_join(n, NULL), NODE_OK);
    fake_net_run_until(r.net, 15 * ENV_S);
    struct id k = sip_usage_resource_id("sip:dan@" DOMAIN);
    CU_ASSERT_TRUE(node_holds(n, &k, NODE_KIND_SIP_REGISTRATION));
    CU_ASSERT_EQUAL(sip_registrar_get_stats(reg)->store_failures, 1);
    sip_registrar_free(reg);
    g_ptr_array_free(ua.msgs, TRUE);
    ring_free(&r);
}

/* ---- calls through the overlay (proxy.c) --------------------------------------------------- */

static const struct env_addr ALICE = {0xc0a80014, 5064}; /* 192.168.0.20:5064 */

static void deliver_from(struct sip_rig *s, unsigned peer, const struct env_addr *from,
                         const char *text)
{
    sip_registrar_receive(s->reg[peer], from, (const uint8_t *)text, strlen(text));
}

/* The last message peer's adapter sent to phone `to` that starts with prefix, or NULL. */
static const char *sent_to(const struct sip_rig *s, unsigned peer, const struct env_addr *to,
                           const char *prefix)
{
    const struct ua *u = &s->ua[peer];
    for (guint i = u->msgs->len; i-- > 0;) {
        const struct env_addr *a = &g_array_index(u->tos, struct env_addr, i);
        if (env_addr_eq(a, to) && g_str_has_prefix(u->msgs->pdata[i], prefix))
            return u->msgs->pdata[i];
    }
    return NULL;
}

static unsigned count_of(const char *text, const char *needle)
{
    unsigned n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The header lines of msg that start with one of the names, in order, as one string. */
static GString *lines_of(const char *msg, const char *const *names)
{
    GString *g = g_string_new(NULL);
    char **lines = g_strsplit(msg, "\r\n", -1);
    for (char **l = lines; *l && **l; l++)
        for (const char *const *n = names; *n; n++)
            if (g_str_has_prefix(*l, *n))
                g_string_append_printf(g, "%s\r\n", *l);
    g_strfreev(lines);
    return g;
}

/* The phone's answer to request req (RFC 3261 §8.2.6): its Via, Record-Route, From, Call-ID
 * and CSeq, its To with our tag, and a Contact. */
static char *answer(const char *req, const char *status)
{
    static const char *const copied[] = {
        "Via:", "Record-Route:", "From:", "Call-ID:", "CSeq:", NULL};
    static const char *const to[] = {"To:", NULL};
    GString *h = lines_of(req, copied), *t = lines_of(req, to);
    g_strchomp(t->str);
    char *m = g_strdup_printf("SIP/2.0 %s\r\n%s%s%s\r\n"
                              "Contact: <sip:bob@192.168.0.10:5062>\r\nContent-Length: 0\r\n\r\n",
                              status, h->str, t->str, strstr(t->str, "tag=") ? "" : ";tag=bob1");
    g_string_free(h, TRUE);
    g_string_free(t, TRUE);
    return m;
}

/* Alice's request in the dialog: to bob's contact along the route set (the 2xx's
 * Record-Route, reversed: §12.1.2). */
static char *in_dialog(const char *ok, const char *method, unsigned cseq, const char *branch)
{
    static const char *const rr[] = {"Record-Route:", NULL};
    GString *g = lines_of(ok, rr);
    char **lines = g_strsplit(g->str, "\r\n", -1);
    GString *route = g_string_new(NULL);
    for (int i = (int)g_strv_length(lines) - 1; i >= 0; i--)
        if (lines[i][0])
            g_string_append_printf(route, "Route:%s\r\n", lines[i] + strlen("Record-Route:"));
    char *m = g_strdup_printf("%s sip:bob@192.168.0.10:5062 SIP/2.0\r\n"
                              "Via: SIP/2.0/UDP 192.168.0.20:5064;branch=z9hG4bK%s\r\n"
                              "%sMax-Forwards: 70\r\n"
                              "From: <sip:alice@" DOMAIN ">;tag=a1\r\n"
                              "To: <sip:bob@" DOMAIN ">;tag=bob1\r\n"
                              "Call-ID: call-9@192.168.0.20\r\n"
                              "CSeq: %u %s\r\nContent-Length: 0\r\n\r\n",
                              method, branch, route->str, cseq, method);
    g_strfreev(lines);
    g_string_free(g, TRUE);
    g_string_free(route, TRUE);
    return m;
}

static const char SDP[] = "v=0\r\no=alice 1 1 IN IP4 192.168.0.20\r\ns=-\r\n"
                          "c=IN IP4 192.168.0.20\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

static char *invite(const char *user, const char *branch, const char *call_id)
{
    return g_strdup_printf("INVITE sip:%s@" DOMAIN " SIP/2.0\r\n"
                           "Via: SIP/2.0/UDP 192.168.0.20:5064;branch=z9hG4bK%s;rport\r\n"
                           "Max-Forwards: 70\r\n"
                           "From: <sip:alice@" DOMAIN ">;tag=a1\r\n"
                           "To: <sip:%s@" DOMAIN ">\r\n"
                           "Call-ID: %s@192.168.0.20\r\n"
                           "CSeq: 1 INVITE\r\n"
                           "Contact: <sip:alice@192.168.0.20:5064>\r\n"
                           "Content-Type: application/sdp\r\n"
                           "Content-Length: %zu\r\n\r\n%s",
                           user, branch, user, call_id, strlen(SDP), SDP);
}

/* A call from alice (a phone of peer 1) to bob (a phone of peer 3): the INVITE goes through
 * peer 1 (lookup, AppAttach to peer 3) and peer 3 (its binding) to bob; 180 and 200 come back
 * along the Vias; ACK and BYE follow the Record-Routes; a second call reuses the AppAttach
 * answer and is cancelled downstream. */
static void test_call(void)
{
    struct sip_rig s;
    rig_build(&s, NULL);
    send_reg(&s, 3, "bob", "r1", 1, "<sip:bob@192.168.0.10:5062>", NULL);
    run(&s, 5 * ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 3), "SIP/2.0 200 OK\r\n"));

    char *inv = invite("bob", "c1", "call-9");
    deliver_from(&s, 1, &ALICE, inv);
    run(&s, 2 * ENV_S);
    CU_ASSERT_PTR_NOT_NULL(sent_to(&s, 1, &ALICE, "SIP/2.0 100 Trying\r\n"));
    const char *at_bob = sent_to(&s, 3, &UA_ADDR, "INVITE ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(at_bob);
    CU_ASSERT_TRUE(g_str_has_prefix(at_bob, "INVITE sip:bob@192.168.0.10:5062 SIP/2.0\r\n"));
    CU_ASSERT_EQUAL(count_of(at_bob, "\r\nVia: "), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(at_bob, "\r\nVia: SIP/2.0/UDP 10.0.1.4:5060;branch=z9hG4bK"));
    CU_ASSERT_PTR_NOT_NULL(strstr(at_bob, "Record-Route: <sip:10.0.1.4:5060;lr>\r\n"
                                          "Record-Route: <sip:10.0.1.2:5060;lr>\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(at_bob, "ax-forwards: 68\r\n")); /* libosip2: "Max-forwards" */
    CU_ASSERT_PTR_NOT_NULL(strstr(at_bob, "m=audio 4000 RTP/AVP 0"));
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[1])->app_attaches, 1);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[1])->forwarded, 1);

    /* Bob rings and answers; alice sees both, with her own Via only. */
    char *ringing = answer(at_bob, "180 Ringing"), *ok = answer(at_bob, "200 OK");
    deliver_from(&s, 3, &UA_ADDR, ringing);
    run(&s, 100 * ENV_MS);
    deliver_from(&s, 3, &UA_ADDR, ok);
    run(&s, 100 * ENV_MS);
    const char *r180 = sent_to(&s, 1, &ALICE, "SIP/2.0 180 ");
    const char *r200 = sent_to(&s, 1, &ALICE, "SIP/2.0 200 ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r180);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r200);
    CU_ASSERT_EQUAL(count_of(r200, "\r\nVia: "), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r200, "branch=z9hG4bKc1"));
    CU_ASSERT_EQUAL(count_of(r200, "\r\nRecord-Route: "), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r200, ";tag=bob1"));
    /* Bob retransmits the 200 until the ACK: it reaches alice again. */
    guint n200 = s.ua[1].msgs->len;
    deliver_from(&s, 3, &UA_ADDR, ok);
    run(&s, 100 * ENV_MS);
    CU_ASSERT_EQUAL(s.ua[1].msgs->len, n200 + 1);

    /* ACK and BYE through both peers; BYE's 200 back. */
    char *ack = in_dialog(r200, "ACK", 1, "c1ack");
    deliver_from(&s, 1, &ALICE, ack);
    run(&s, 100 * ENV_MS);
    const char *ack_at_bob = sent_to(&s, 3, &UA_ADDR, "ACK ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ack_at_bob);
    CU_ASSERT_TRUE(g_str_has_prefix(ack_at_bob, "ACK sip:bob@192.168.0.10:5062 SIP/2.0\r\n"));
    CU_ASSERT_EQUAL(count_of(ack_at_bob, "\r\nRoute: "), 0);
    CU_ASSERT_EQUAL(count_of(ack_at_bob, "\r\nVia: "), 3);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[1])->forwarded_stateless, 1);
    char *bye = in_dialog(r200, "BYE", 2, "c1bye");
    deliver_from(&s, 1, &ALICE, bye);
    run(&s, 100 * ENV_MS);
    const char *bye_at_bob = sent_to(&s, 3, &UA_ADDR, "BYE ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(bye_at_bob);
    char *bye_ok = answer(bye_at_bob, "200 OK");
    deliver_from(&s, 3, &UA_ADDR, bye_ok);
    run(&s, 100 * ENV_MS);
    const char *bye_done = sent_to(&s, 1, &ALICE, "SIP/2.0 200 ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(bye_done);
    CU_ASSERT_PTR_NOT_NULL(strstr(bye_done, "CSeq: 2 BYE"));
    CU_ASSERT_PTR_NOT_NULL(strstr(bye_done, "branch=z9hG4bKc1bye"));

    /* A second call: the AppAttach answer is reused; alice cancels while bob rings. */
    char *inv2 = invite("bob", "c2", "call-10");
    deliver_from(&s, 1, &ALICE, inv2);
    run(&s, 2 * ENV_S);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[1])->app_attaches, 1);
    const char *inv2_at_bob = sent_to(&s, 3, &UA_ADDR, "INVITE ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(inv2_at_bob);
    CU_ASSERT_PTR_NOT_NULL(strstr(inv2_at_bob, "call-10"));
    char *ring2 = answer(inv2_at_bob, "180 Ringing");
    deliver_from(&s, 3, &UA_ADDR, ring2);
    run(&s, 100 * ENV_MS);
    char *cancel = g_strdup_printf("CANCEL sip:bob@" DOMAIN " SIP/2.0\r\n"
                                   "Via: SIP/2.0/UDP 192.168.0.20:5064;branch=z9hG4bKc2;rport\r\n"
                                   "Max-Forwards: 70\r\nFrom: <sip:alice@" DOMAIN ">;tag=a1\r\n"
                                   "To: <sip:bob@" DOMAIN ">\r\nCall-ID: call-10@192.168.0.20\r\n"
                                   "CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n");
    deliver_from(&s, 1, &ALICE, cancel);
    run(&s, 100 * ENV_MS);
    CU_ASSERT_PTR_NOT_NULL(sent_to(&s, 1, &ALICE, "SIP/2.0 200 OK\r\n"));
    const char *cancel_at_bob = sent_to(&s, 3, &UA_ADDR, "CANCEL ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cancel_at_bob);
    char *c200 = answer(cancel_at_bob, "200 OK"),
         *c487 = answer(inv2_at_bob, "487 Request Terminated");
    deliver_from(&s, 3, &UA_ADDR, c200);
    deliver_from(&s, 3, &UA_ADDR, c487);
    run(&s, 100 * ENV_MS);
    const char *r487 = sent_to(&s, 1, &ALICE, "SIP/2.0 487 ");
    CU_ASSERT_PTR_NOT_NULL(r487);
    CU_ASSERT_PTR_NOT_NULL(sent_to(&s, 3, &UA_ADDR, "ACK ")); /* peer 3 ACKs the 487 */
    CU_ASSERT_PTR_NOT_NULL(strstr(sent_to(&s, 3, &UA_ADDR, "ACK "), "CSeq: 1 ACK"));

    g_free(inv);
    g_free(ringing);
    g_free(ok);
    g_free(ack);
    g_free(bye);
    g_free(bye_ok);
    g_free(inv2);
    g_free(ring2);
    g_free(cancel);
    g_free(c200);
    g_free(c487);
    run(&s, 60 * ENV_S); /* every transaction ends */
    for (unsigned i = 0; i < PEERS; i++)
        CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[i])->proxy_timeouts, 0);
    rig_free(&s);
}

/* 404 for an AoR never registered or unregistered, 480 while a lapsed registration is still
 * in the overlay (expired_grace), 404 after; 480 too when the peer of a route cannot be
 * reached. */
static void test_not_found_and_lapsed(void)
{
    struct sip_registrar_config cfg;
    sip_registrar_config_default(&cfg);
    cfg.domain = DOMAIN;
    cfg.min_expires = 10;
    cfg.expired_grace = 60;
    struct sip_rig s;
    rig_build(&s, &cfg);
    char *inv = invite("nobody", "n1", "call-20");
    deliver_from(&s, 0, &ALICE, inv);
    g_free(inv);
    run(&s, 2 * ENV_S);
    CU_ASSERT_PTR_NOT_NULL(sent_to(&s, 0, &ALICE, "SIP/2.0 404 Not Found\r\n"));

    /* carol's contact lasts 30 s. */
    send_reg(&s, 2, "carol", "l1", 1, "<sip:carol@192.168.0.10:5062>", "30");
    run(&s, 40 * ENV_S);
    CU_ASSERT_EQUAL(sip_registrar_contacts(s.reg[2], "sip:carol@" DOMAIN, NULL, 0), 0);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[2])->bindings_expired, 1);
    inv = invite("carol", "n2", "call-21");
    deliver_from(&s, 0, &ALICE, inv);
    g_free(inv);
    run(&s, 2 * ENV_S);
    CU_ASSERT_PTR_NOT_NULL(sent_to(&s, 0, &ALICE, "SIP/2.0 480 "));
    CU_ASSERT_PTR_NULL(sent_to(&s, 2, &UA_ADDR, "INVITE "));
    /* A caller at carol's own peer gets 480 as well. */
    inv = invite("carol", "n3", "call-22");
    deliver_from(&s, 2, &ALICE, inv);
    g_free(inv);
    run(&s, 2 * ENV_S);
    CU_ASSERT_PTR_NOT_NULL(sent_to(&s, 2, &ALICE, "SIP/2.0 480 "));
    /* After the grace: 404. */
    run(&s, 60 * ENV_S);
    inv = invite("carol", "n4", "call-23");
    deliver_from(&s, 0, &ALICE, inv);
    g_free(inv);
    run(&s, 2 * ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 0), "SIP/2.0 404 "));

    /* dan unregisters: 404 at once. */
    send_reg(&s, 4, "dan", "l2", 1, "<sip:dan@192.168.0.10:5062>", "600");
    run(&s, 5 * ENV_S);
    send_reg(&s, 4, "dan", "l3", 2, "<sip:dan@192.168.0.10:5062>", "0");
    run(&s, 5 * ENV_S);
    inv = invite("dan", "n5", "call-24");
    deliver_from(&s, 0, &ALICE, inv);
    g_free(inv);
    run(&s, 2 * ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 0), "SIP/2.0 404 "));

    /* erin's peer stops serving SIP (its AppAttach answers Error_Not_Found): 480. */
    send_reg(&s, 3, "erin", "l4", 1, "<sip:erin@192.168.0.10:5062>", "600");
    run(&s, 5 * ENV_S);
    node_app_listen(s.ring.h[3]->node, NODE_APP_SIP, NULL);
    inv = invite("erin", "n6", "call-25");
    deliver_from(&s, 0, &ALICE, inv);
    g_free(inv);
    run(&s, 2 * ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 0), "SIP/2.0 480 "));
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[0])->app_attach_failures, 1);
    run(&s, 60 * ENV_S);
    rig_free(&s);
}

/* A phone that never answers: Timer B at its peer, 408 back to the caller; an in-dialog
 * request whose next hop is no IPv4 address gets 502. */
static void test_timeout(void)
{
    struct sip_rig s;
    rig_build(&s, NULL);
    send_reg(&s, 4, "bob", "t1", 1, "<sip:bob@192.168.0.10:5062>", NULL);
    run(&s, 5 * ENV_S);
    char *inv = invite("bob", "t2", "call-30");
    deliver_from(&s, 0, &ALICE, inv);
    g_free(inv);
    run(&s, 40 * ENV_S);
    CU_ASSERT_PTR_NOT_NULL(sent_to(&s, 0, &ALICE, "SIP/2.0 408 "));
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[4])->proxy_timeouts, 1);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[0])->proxy_timeouts, 0);
    /* INVITE retransmissions by Timer A: 1 + 6 in 32 s. */
    unsigned invites = 0;
    for (guint i = 0; i < s.ua[4].msgs->len; i++)
        invites += g_str_has_prefix(s.ua[4].msgs->pdata[i], "INVITE ");
    CU_ASSERT_EQUAL(invites, 7);
    const char *bad = "BYE sip:bob@192.168.0.10:5062 SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP 192.168.0.20:5064;branch=z9hG4bKt3\r\n"
                      "Route: <sip:proxy.example.com;lr>\r\n"
                      "From: <sip:alice@" DOMAIN ">;tag=a1\r\nTo: <sip:bob@" DOMAIN ">;tag=b\r\n"
                      "Call-ID: call-31\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    deliver_from(&s, 0, &ALICE, bad);
    run(&s, ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 0), "SIP/2.0 502 "));
    run(&s, 60 * ENV_S);
    rig_free(&s);
}

/* Regression (found by fuzz/fuzz_sip.c; fuzz/regress/sip/in-dialog-self-loop): an in-dialog
 * request whose Request-URI is the adapter's own address was forwarded to itself, hop after hop,
 * until Max-Forwards ran out (70 self-sent BYEs and 483).  It names a resource of the proxy
 * (RFC 3261 §16.5), which is looked up instead: 404 at once, nothing forwarded. */
static void test_in_dialog_to_self(void)
{
    struct sip_rig s;
    rig_build(&s, NULL);
    const char *bye = "BYE sip:x@10.0.1.1 SIP/2.0\r\n" /* peer_sip(0), port 5060 */
                      "Via: SIP/2.0/UDP 192.168.0.20:5064;branch=z9hG4bKs\r\n"
                      "From: <sip:a@" DOMAIN ">;tag=a\r\nTo: <sip:x@" DOMAIN ">;tag=b\r\n"
                      "Call-ID: s\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
    deliver_from(&s, 0, &ALICE, bye);
    run(&s, 2 * ENV_S);
    CU_ASSERT_PTR_NOT_NULL(sent_to(&s, 0, &ALICE, "SIP/2.0 404 "));
    CU_ASSERT_PTR_NULL(sent_to(&s, 0, &ALICE, "SIP/2.0 483 "));
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[0])->forwarded, 0);
    run(&s, 60 * ENV_S);
    rig_free(&s);
}

/* Regression (issue 7's SANITIZE=1 run): an adapter freed while its AppAttach is pending must
 * free the op it handed the node, and the node, still running, must not call the freed adapter
 * back — nor the new adapter put on the same node.  Under ASan a leak or a use after free
 * fails this test; without it the new adapter's counters show the answer went nowhere. */
static void test_free_with_app_attach_pending(void)
{
    struct sip_rig s;
    rig_build(&s, NULL);
    send_reg(&s, 3, "bob", "p1", 1, "<sip:bob@192.168.0.10:5062>", NULL);
    run(&s, 5 * ENV_S);
    char *inv = invite("bob", "p2", "call-40");
    deliver_from(&s, 1, &ALICE, inv);
    g_free(inv);
    for (unsigned i = 0; i < 2000 && !sip_registrar_get_stats(s.reg[1])->lookups_found; i++)
        run(&s, ENV_MS);
    CU_ASSERT_EQUAL_FATAL(sip_registrar_get_stats(s.reg[1])->lookups_found, 1);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[1])->app_attaches, 0); /* still pending */
    sip_registrar_free(s.reg[1]);
    struct sip_registrar_config c;
    sip_registrar_config_default(&c);
    c.domain = DOMAIN;
    c.addr = peer_sip(1);
    s.reg[1] = sip_registrar_new(&s.ring.h[1]->env, s.ring.h[1]->node, &c, ua_send, &s.ua[1]);
    run(&s, 5 * ENV_S);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[1])->app_attaches, 0);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[1])->app_attach_failures, 0);
    /* And one freed together with its node while the AppAttach is pending (rig_free). */
    inv = invite("bob", "p3", "call-41");
    deliver_from(&s, 1, &ALICE, inv);
    g_free(inv);
    for (unsigned i = 0; i < 2000 && !sip_registrar_get_stats(s.reg[1])->lookups_found; i++)
        run(&s, ENV_MS);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[1])->lookups_found, 1);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[1])->app_attaches, 0);
    rig_free(&s);
}

/* Overload control: with max_pending RELOAD requests outstanding, new REGISTERs get 503 with
 * Retry-After before any overlay work starts (a retransmission gets the same answer); once the
 * overlay has answered, REGISTERs are served again.  Without a limit none is refused. */
static unsigned overload_burst(unsigned max_pending, unsigned *ok, unsigned *busy)
{
    struct sip_rig s;
    struct sip_registrar_config cfg;
    sip_registrar_config_default(&cfg);
    cfg.domain = DOMAIN;
    cfg.max_pending = max_pending;
    rig_build(&s, &cfg);
    run(&s, 2 * ENV_S);
    char user[16], branch[16];
    for (unsigned i = 0; i < 12; i++) { /* all at once: no answer from the overlay yet */
        g_snprintf(user, sizeof user, "u%u", i);
        g_snprintf(branch, sizeof branch, "ov%u", i);
        send_reg(&s, 0, user, branch, 1, "<sip:u@192.168.0.10:5062>", NULL);
    }
    CU_ASSERT(max_pending == 0 || node_pending_requests(s.ring.h[0]->node) <= max_pending);
    unsigned rejected = 0;
    const GPtrArray *msgs = s.ua[0].msgs;
    for (guint i = 0; i < msgs->len; i++) {
        if (g_str_has_prefix(msgs->pdata[i], "SIP/2.0 503 ")) {
            rejected++;
            CU_ASSERT_PTR_NOT_NULL(strstr(msgs->pdata[i], "\r\nRetry-After: 1\r\n"));
        }
    }
    if (rejected) { /* the rejected request's retransmission: the same 503, counted once */
        guint before = msgs->len;
        send_reg(&s, 0, "u11", "ov11", 1, "<sip:u@192.168.0.10:5062>", NULL);
        CU_ASSERT_EQUAL(msgs->len, before + 1);
        CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 0), "SIP/2.0 503 "));
    }
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[0])->rejected_overload, rejected);
    run(&s, 2 * ENV_S);
    *busy = rejected;
    *ok = (unsigned)sip_registrar_get_stats(s.reg[0])->registers_ok;
    CU_ASSERT_EQUAL(node_pending_requests(s.ring.h[0]->node), 0);
    send_reg(&s, 0, "late", "ovlate", 1, "<sip:late@192.168.0.10:5062>", NULL);
    run(&s, 2 * ENV_S);
    CU_ASSERT_TRUE(g_str_has_prefix(last(&s, 0), "SIP/2.0 200 "));
    rig_free(&s);
    return rejected;
}

static void test_overload(void)
{
    unsigned ok, busy;
    overload_burst(2, &ok, &busy);
    CU_ASSERT_TRUE(busy > 0);
    CU_ASSERT_EQUAL(ok + busy, 12);
    overload_burst(0, &ok, &busy);
    CU_ASSERT_EQUAL(busy, 0);
    CU_ASSERT_EQUAL(ok, 12);
}

/* A locator whose searches the test completes by hand (net/dns.c is the real one). */
struct fake_locator {
    char *domain;
    uint16_t port;
    sip_locate_cb cb;
    void *ud;
    unsigned started, cancelled;
};

static void *fake_locate_start(void *ctx, const char *domain, uint16_t port, sip_locate_cb cb,
                               void *ud)
{
    struct fake_locator *f = ctx;
    g_free(f->domain);
    f->domain = g_strdup(domain);
    f->port = port;
    f->cb = cb;
    f->ud = ud;
    f->started++;
    return f;
}

static void fake_locate_cancel(void *ctx, void *handle)
{
    struct fake_locator *f = ctx;
    CU_ASSERT_PTR_EQUAL(handle, f);
    f->cb = NULL;
    f->cancelled++;
}

static void fake_locate_finish(struct fake_locator *f, int status, const struct env_addr *hop)
{
    sip_locate_cb cb = f->cb;
    f->cb = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(cb);
    cb(f->ud, status, hop);
}

/* An INVITE as invite() builds it, for Request-URI sip:TARGET instead of the user's AoR. */
static char *out_invite(const char *target, const char *branch, const char *call_id)
{
    char *inv = invite("u", branch, call_id);
    const char *rest = strstr(inv, " SIP/2.0\r\n");
    char *out = g_strdup_printf("INVITE sip:%s%s", target, rest);
    g_free(inv);
    return out;
}

/* RFC 3263 out of the overlay: a request for another domain goes to the hop the locator finds,
 * record-routed; none found: 502; an IPv4 literal is the hop itself; the overlay's own domain
 * is still looked up in the overlay; an adapter freed with a search pending cancels it. */
static void test_out_by_locator(void)
{
    static const struct env_addr CLASSIC = {0xc0a8001e, 5070}; /* 192.168.0.30:5070 */
    struct fake_locator f = {0};
    struct sip_locator loc = {fake_locate_start, fake_locate_cancel, &f};
    struct sip_registrar_config cfg;
    sip_registrar_config_default(&cfg);
    cfg.domain = DOMAIN;
    cfg.locator = &loc;
    struct sip_rig s;
    rig_build(&s, &cfg);
    char *out = out_invite("carol@Classic.Test", "o1", "call-50");
    deliver_from(&s, 1, &ALICE, out);
    g_free(out);
    run(&s, ENV_S);
    CU_ASSERT_EQUAL(f.started, 1);
    CU_ASSERT_STRING_EQUAL(f.domain, "Classic.Test");
    CU_ASSERT_EQUAL(f.port, 0);
    CU_ASSERT_PTR_NULL(sent_to(&s, 1, &CLASSIC, "INVITE "));
    fake_locate_finish(&f, 0, &CLASSIC);
    const char *fwd = sent_to(&s, 1, &CLASSIC, "INVITE sip:carol@Classic.Test SIP/2.0\r\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fwd);
    CU_ASSERT_PTR_NOT_NULL(strstr(fwd, "Record-Route: <sip:10.0.1.2:5060;lr>\r\n"));
    CU_ASSERT_EQUAL(count_of(fwd, "\r\nVia: "), 2);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[1])->located, 1);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[1])->lookups, 0);
    /* The classic UAS answers; the 200 goes back to alice. */
    char *ok = answer(fwd, "200 OK");
    deliver_from(&s, 1, &CLASSIC, ok);
    g_free(ok);
    run(&s, 100 * ENV_MS);
    CU_ASSERT_PTR_NOT_NULL(sent_to(&s, 1, &ALICE, "SIP/2.0 200 "));

    /* Nothing found: 502. */
    out = out_invite("x@nowhere.test:5080", "o2", "call-51");
    deliver_from(&s, 1, &ALICE, out);
    g_free(out);
    run(&s, ENV_S);
    CU_ASSERT_EQUAL_FATAL(f.started, 2);
    CU_ASSERT_EQUAL(f.port, 5080);
    fake_locate_finish(&f, -1, NULL);
    CU_ASSERT_PTR_NOT_NULL(sent_to(&s, 1, &ALICE, "SIP/2.0 502 "));
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[1])->locate_failures, 1);

    /* An IPv4 literal: no search. */
    out = out_invite("x@192.168.0.30:5070", "o3", "call-52");
    deliver_from(&s, 1, &ALICE, out);
    g_free(out);
    run(&s, ENV_S);
    CU_ASSERT_EQUAL(f.started, 2);
    CU_ASSERT_PTR_NOT_NULL(sent_to(&s, 1, &CLASSIC, "INVITE sip:x@192.168.0.30:5070 "));

    /* The overlay's own domain: looked up in the overlay (404, nobody registered). */
    out = invite("nobody", "o4", "call-53");
    deliver_from(&s, 1, &ALICE, out);
    g_free(out);
    run(&s, 2 * ENV_S);
    CU_ASSERT_EQUAL(f.started, 2);
    CU_ASSERT_PTR_NOT_NULL(sent_to(&s, 1, &ALICE, "SIP/2.0 404 "));

    /* Freed with a search pending: cancelled. */
    out = out_invite("y@classic.test", "o5", "call-54");
    deliver_from(&s, 1, &ALICE, out);
    g_free(out);
    run(&s, ENV_S);
    CU_ASSERT_EQUAL(f.started, 3);
    run(&s, 60 * ENV_S);
    rig_free(&s);
    CU_ASSERT_EQUAL(f.cancelled, 1);
    g_free(f.domain);
}

/* sip_router: requests go to the adapter of the Request-URI's (or To URI's) domain, responses
 * by the "-N-" in their Via branch, anything else to the first adapter. */
static void test_router(void)
{
    struct sip_rig s;
    rig_build(&s, NULL); /* reg[i] serve DOMAIN */
    struct sip_registrar_config c;
    sip_registrar_config_default(&c);
    c.domain = "b.example";
    c.addr = peer_sip(0);
    c.instance = 1;
    struct sip_registrar *b =
        sip_registrar_new(&s.ring.h[2]->env, s.ring.h[2]->node, &c, ua_send, &s.ua[0]);
    struct sip_router *rt = sip_router_new();
    sip_router_add(rt, DOMAIN, s.reg[0]);
    sip_router_add(rt, "B.example", b);
    const char *reg_b = "REGISTER sip:b.example SIP/2.0\r\n"
                        "Via: SIP/2.0/UDP 192.168.0.10:5062;branch=z9hG4bKrb\r\n"
                        "From: <sip:zoe@b.example>;tag=1\r\nTo: <sip:zoe@b.example>\r\n"
                        "Call-ID: rb\r\nCSeq: 1 REGISTER\r\n"
                        "Contact: <sip:zoe@192.168.0.10:5062>\r\nContent-Length: 0\r\n\r\n";
    sip_router_receive(rt, &UA_ADDR, (const uint8_t *)reg_b, strlen(reg_b));
    char *reg_a = reg_msg("amy", "ra", 1, "<sip:amy@192.168.0.10:5062>", NULL);
    sip_router_receive(rt, &UA_ADDR, (const uint8_t *)reg_a, strlen(reg_a));
    g_free(reg_a);
    run(&s, 5 * ENV_S);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(b)->registers_ok, 1);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[0])->registers_ok, 1);
    CU_ASSERT_EQUAL(sip_registrar_contacts(b, "sip:zoe@b.example", NULL, 0), 1);
    CU_ASSERT_EQUAL(sip_registrar_contacts(s.reg[0], "sip:amy@" DOMAIN, NULL, 0), 1);
    /* A BYE whose Request-URI is an address goes by its To domain; responses by branch. */
    const char *bye = "BYE sip:zoe@192.168.0.10:5062 SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP 192.168.0.20:5064;branch=z9hG4bKbb\r\n"
                      "From: <sip:a@x>;tag=a\r\nTo: <sip:zoe@b.example>;tag=z\r\n"
                      "Call-ID: bb\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    uint64_t before = sip_registrar_get_stats(b)->received;
    sip_router_receive(rt, &ALICE, (const uint8_t *)bye, strlen(bye));
    CU_ASSERT_EQUAL(sip_registrar_get_stats(b)->received, before + 1);
    const char *resp1 =
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.1.1:5060;branch=z9hG4bKp2p-1-ab\r\n"
        "From: <sip:a@x>;tag=a\r\nTo: <sip:q@y>;tag=z\r\n"
        "Call-ID: r1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    const char *resp0 = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.1.1:5060;branch=z9hG4bKp2pab\r\n"
                        "From: <sip:a@x>;tag=a\r\nTo: <sip:q@b.example>;tag=z\r\n"
                        "Call-ID: r0\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    uint64_t a0 = sip_registrar_get_stats(s.reg[0])->received;
    sip_router_receive(rt, &ALICE, (const uint8_t *)resp1, strlen(resp1));
    CU_ASSERT_EQUAL(sip_registrar_get_stats(b)->received, before + 2);
    sip_router_receive(rt, &ALICE, (const uint8_t *)resp0, strlen(resp0));
    sip_router_receive(rt, &ALICE, (const uint8_t *)"garbage", 7);
    CU_ASSERT_EQUAL(sip_registrar_get_stats(s.reg[0])->received, a0 + 2);
    CU_ASSERT_EQUAL(sip_router_count(rt, 0), a0 + 2);
    CU_ASSERT_EQUAL(sip_router_count(rt, 1), before + 2);
    sip_router_free(rt);
    run(&s, 60 * ENV_S);
    sip_registrar_free(b);
    rig_free(&s);
}

CU_TestInfo test_sip_tests[] = {
    {"out of the overlay: the locator's hop, 502, IPv4 literals, own domain, cancel",
     test_out_by_locator},
    {"router: by Request-URI or To domain, responses by Via branch", test_router},
    {"overload: 503 with Retry-After past max_pending overlay requests, then served again",
     test_overload},
    {"an adapter freed with an AppAttach pending frees it; no call back",
     test_free_with_app_attach_pending},
    {"an in-dialog request to the adapter itself is looked up, not looped", test_in_dialog_to_self},
    {"a call through two peers: INVITE, 180, 200, ACK, BYE; CANCEL downstream", test_call},
    {"404 unknown or unregistered, 480 lapsed or unreachable, then 404", test_not_found_and_lapsed},
    {"a phone that never answers: 408 after Timer B; 502 for a bad Route", test_timeout},
    {"SipRegistration bytes: route, uri, two destinations", test_codec_bytes},
    {"SipRegistration round trip; an unknown type kept raw", test_codec_roundtrip_unknown},
    {"SipRegistration truncated or malformed is refused", test_codec_malformed},
    {"canonical AoR and its Resource-ID", test_aor},
    {"REGISTER stores, another peer resolves, Expires: 0 removes", test_register_resolve_remove},
    {"contacts expire; stored values are refreshed before they run out", test_expiry_and_refresh},
    {"forwarding URIs are followed with a depth limit; loops stop; 404; retargeting",
     test_forwarding},
    {"malformed SIP gets 400 or is dropped, without harm", test_malformed},
    {"a peer outside the overlay answers 503 and stores later", test_store_retry},
    CU_TEST_INFO_NULL,
};
