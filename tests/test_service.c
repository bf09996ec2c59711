/* test_service.c — services findable by name (core/service.c; draft-ietf-p2psip-concepts-00
 * §2.1, §5.1, §6.1): the ServiceRecord codec byte for byte and against malformed input, then
 * end to end on CHORD-RELOAD and Bamboo overlays of the fake environment: providers advertise
 * "turn-relay", another node finds every one of them, a withdrawal removes one, a record that
 * is not refreshed expires while a refreshed one lives on, load updates reach the finder,
 * foreign or malformed values are skipped, and each selection policy picks what it should;
 * then the simulator's services block (sim/scenario.c, sim/world.c): its keys and errors, and
 * small runs with and without crashed providers. */
#include <CUnit/CUnit.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../core/service.h"
#include "../core/wire.h"
#include "../sim/scenario.h"
#include "../sim/world.h"
#include "fake_env.h"
#include "ring.h"
#include "world_util.h"

/* ---- the codec ---------------------------------------------------------------------------- */

static struct service_record sample_record(const char *name)
{
    struct service_record r = {.provider = {0x0011223344556677ULL, 0x8899aabbccddeeffULL},
                               .candidate_type = WIRE_CAND_SRFLX,
                               .addr = {0xc0000207u, 3478},
                               .capacity = 10,
                               .load = 3};
    g_strlcpy(r.name, name, sizeof r.name);
    return r;
}

static void test_codec_bytes(void)
{
    struct service_record r = sample_record("stun");
    GByteArray *b = g_byte_array_new();
    CU_ASSERT_EQUAL_FATAL(service_record_encode(b, &r), 0);
    uint8_t id[ID_BYTES];
    id_to_bytes(&r.provider, id);
    static const uint8_t tail[] = {
        0x02,                               /* candidate type srflx */
        0x01, 0x06,                         /* IpAddressPort: ipv4_address, length 6 */
        0xc0, 0x00, 0x02, 0x07, 0x0d, 0x96, /* 192.0.2.7:3478 */
        0x00, 0x00, 0x00, 0x0a,             /* capacity 10 */
        0x00, 0x00, 0x00, 0x03,             /* load 3 */
        0x04, 's',  't',  'u',  'n',        /* name<4> */
    };
    CU_ASSERT_EQUAL_FATAL(b->len, 1 + ID_BYTES + sizeof tail);
    CU_ASSERT_EQUAL(b->len, SERVICE_RECORD_FIXED + 4);
    CU_ASSERT_EQUAL(b->data[0], SERVICE_RECORD_VERSION);
    CU_ASSERT_EQUAL(memcmp(b->data + 1, id, ID_BYTES), 0);
    CU_ASSERT_EQUAL(memcmp(b->data + 1 + ID_BYTES, tail, sizeof tail), 0);

    struct service_record d;
    CU_ASSERT_EQUAL(service_record_decode(b->data, b->len, &d), 0);
    CU_ASSERT_TRUE(id_eq(&d.provider, &r.provider));
    CU_ASSERT_EQUAL(d.candidate_type, WIRE_CAND_SRFLX);
    CU_ASSERT_TRUE(env_addr_eq(&d.addr, &r.addr));
    CU_ASSERT_EQUAL(d.capacity, 10);
    CU_ASSERT_EQUAL(d.load, 3);
    CU_ASSERT_STRING_EQUAL(d.name, "stun");
    g_byte_array_free(b, TRUE);

    /* The longest name round-trips. */
    char longest[SERVICE_NAME_MAX + 1];
    memset(longest, 'x', SERVICE_NAME_MAX);
    longest[SERVICE_NAME_MAX] = '\0';
    r = sample_record(longest);
    b = g_byte_array_new();
    CU_ASSERT_EQUAL(service_record_encode(b, &r), 0);
    CU_ASSERT_EQUAL(service_record_decode(b->data, b->len, &d), 0);
    CU_ASSERT_STRING_EQUAL(d.name, longest);
    g_byte_array_free(b, TRUE);

    /* The Resource-ID is SHA-1("service:" NAME). */
    struct id want = id_hash("service:turn-relay", strlen("service:turn-relay"));
    struct id got = service_resource_id("turn-relay");
    CU_ASSERT_TRUE(id_eq(&got, &want));
}

static void test_codec_refuses(void)
{
    struct service_record r = sample_record("turn-relay");
    GByteArray *good = g_byte_array_new();
    CU_ASSERT_EQUAL_FATAL(service_record_encode(good, &r), 0);
    struct service_record d;
    /* Every truncation, and a byte too many. */
    for (size_t len = 0; len < good->len; len++)
        CU_ASSERT_EQUAL(service_record_decode(good->data, len, &d), SERVICE_E_TRUNCATED);
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, good->data, good->len);
    g_byte_array_append(b, (const uint8_t *)"!", 1);
    CU_ASSERT_EQUAL(service_record_decode(b->data, b->len, &d), SERVICE_E_TRUNCATED);
    g_byte_array_free(b, TRUE);

    /* One field broken at a time: offset, new byte, expected result. */
    const size_t cand = 1 + ID_BYTES, atype = cand + 1, alen = cand + 2,
                 nlen = SERVICE_RECORD_FIXED - 1;
    const struct {
        size_t at;
        uint8_t byte;
        int want;
    } cases[] = {
        {0, 2, SERVICE_E_UNSUPPORTED}, /* version 2 */
        {cand, 3, SERVICE_E_INVALID},  /* no such candidate type */
        {cand, 0, SERVICE_E_INVALID},
        {atype, 2, SERVICE_E_UNSUPPORTED}, /* IPv6 */
        {atype, 0, SERVICE_E_INVALID},     /* reserved address type */
        {atype, 9, SERVICE_E_INVALID},
        {alen, 5, SERVICE_E_INVALID},     /* IPv4 with a length other than 6 */
        {nlen, 0, SERVICE_E_INVALID},     /* an empty name */
        {nlen, 11, SERVICE_E_TRUNCATED},  /* a name longer than the bytes left */
        {nlen, 9, SERVICE_E_TRUNCATED},   /* ... or shorter */
        {nlen + 3, 0, SERVICE_E_INVALID}, /* a NUL inside the name */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        b = g_byte_array_new();
        g_byte_array_append(b, good->data, good->len);
        b->data[cases[i].at] = cases[i].byte;
        int rc = service_record_decode(b->data, b->len, &d);
        if (rc != cases[i].want)
            printf("\n  case %zu: got %d, want %d\n", i, rc, cases[i].want);
        CU_ASSERT_EQUAL(rc, cases[i].want);
        g_byte_array_free(b, TRUE);
    }
    g_byte_array_free(good, TRUE);

    /* The encoder refuses what the decoder would. */
    b = g_byte_array_new();
    r = sample_record("");
    CU_ASSERT_EQUAL(service_record_encode(b, &r), SERVICE_E_INVALID);
    r = sample_record("x");
    r.candidate_type = 3;
    CU_ASSERT_EQUAL(service_record_encode(b, &r), SERVICE_E_INVALID);
    CU_ASSERT_EQUAL(b->len, 0);
    g_byte_array_free(b, TRUE);
    char too_long[SERVICE_NAME_MAX + 2];
    memset(too_long, 'y', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    CU_ASSERT_FALSE(service_name_ok(too_long));
    CU_ASSERT_FALSE(service_name_ok(""));
    CU_ASSERT_FALSE(service_name_ok(NULL));
    CU_ASSERT_TRUE(service_name_ok("pstn-gateway"));
}

/* ---- overlays with agents ------------------------------------------------------------------- */

#define N_PEERS 8

struct svc_ring {
    struct ring ring;
    struct service *agent[N_PEERS];
    struct node_config node_cfg; /* the nodes' configuration (node_new borrows it) */
};

/* N_PEERS peers of the topology joined one after the other through peer 0, each with an
 * agent whose records live `lifetime` seconds. */
static void svc_build(struct svc_ring *s, enum node_topology topo, uint32_t lifetime)
{
    memset(s, 0, sizeof *s);
    struct ring *r = &s->ring;
    if (topo == NODE_TOPOLOGY_CHORD) {
        ring_build(r, N_PEERS);
    } else {
        r->net = fake_net_new(LAT);
        r->n = N_PEERS;
        struct node_config *cfg = &s->node_cfg;
        node_config_default(cfg);
        cfg->topology = topo;
        cfg->partition_interval = 0;
        for (unsigned i = 0; i < N_PEERS; i++) {
            char name[32];
            snprintf(name, sizeof name, "svc-%u", i);
            struct id id = id_hash(name, strlen(name));
            r->h[i] = fake_net_add_host(r->net);
            r->h[i]->node = node_new(&r->h[i]->env, cfg, &id, &r->h[i]->addr);
            CU_ASSERT_EQUAL_FATAL(node_join(r->h[i]->node, i ? &r->h[0]->addr : NULL), NODE_OK);
            fake_net_run_until(r->net, fake_net_now(r->net) + 2 * ENV_S);
        }
        fake_net_run_until(r->net, fake_net_now(r->net) + 30 * ENV_S);
    }
    struct service_config cfg;
    service_config_default(&cfg);
    cfg.lifetime = lifetime;
    for (unsigned i = 0; i < N_PEERS; i++) {
        CU_ASSERT_TRUE(node_is_joined(r->h[i]->node));
        s->agent[i] = service_new(&r->h[i]->env, r->h[i]->node, &cfg);
    }
}

/* Agents first (nothing may be pending then), then the nodes; no timer may survive. */
static void svc_free(struct svc_ring *s)
{
    for (unsigned i = 0; i < N_PEERS; i++) {
        if (!s->agent[i])
            continue;
        CU_ASSERT_EQUAL(service_pending(s->agent[i]), 0);
        service_free(s->agent[i]);
    }
    ring_free(&s->ring);
}

static void run(struct svc_ring *s, env_time d)
{
    fake_net_run_until(s->ring.net, fake_net_now(s->ring.net) + d);
}

/* Peer i offers a relay at its own address, port 3478, with capacity 10 + i. */
static void advertise(struct svc_ring *s, unsigned i, const char *name)
{
    struct env_addr a = {s->ring.h[i]->addr.ip, 3478};
    CU_ASSERT_EQUAL(service_advertise(s->agent[i], name, &a, WIRE_CAND_HOST, 10 + i, 0), NODE_OK);
}

struct found {
    int calls, status;
    size_t n, skipped;
    struct service_record list[N_PEERS + 4];
    env_time latency;
};

static void on_found(void *ud, int status, struct service_record *list, size_t n, size_t skipped,
                     env_time latency)
{
    struct found *f = ud;
    f->calls++;
    f->status = status;
    f->n = MIN(n, G_N_ELEMENTS(f->list));
    if (f->n) /* list may be NULL when nothing was found */
        memcpy(f->list, list, f->n * sizeof *list);
    f->skipped = skipped;
    f->latency = latency;
}

static struct found find(struct svc_ring *s, unsigned via, const char *name)
{
    struct found f = {0};
    CU_ASSERT_EQUAL(service_find(s->agent[via], name, on_found, &f), NODE_OK);
    run(s, 20 * ENV_S);
    CU_ASSERT_EQUAL(f.calls, 1);
    return f;
}

/* Whether peer i is in the list, with the address and capacity it advertised. */
static bool lists(const struct svc_ring *s, const struct found *f, unsigned i)
{
    for (size_t k = 0; k < f->n; k++) {
        const struct service_record *r = &f->list[k];
        if (id_eq(&r->provider, node_id(s->ring.h[i]->node)))
            return r->addr.ip == s->ring.h[i]->addr.ip && r->addr.port == 3478 &&
                   r->capacity == 10 + i && r->candidate_type == WIRE_CAND_HOST &&
                   strcmp(r->name, "turn-relay") == 0;
    }
    return false;
}

/* Three providers, a fourth node finds all three; another name finds nothing; a withdrawal
 * removes one. */
static void find_and_withdraw(enum node_topology topo)
{
    struct svc_ring s;
    svc_build(&s, topo, 300);
    advertise(&s, 1, "turn-relay");
    advertise(&s, 3, "turn-relay");
    advertise(&s, 5, "turn-relay");
    advertise(&s, 2, "voicemail");
    run(&s, 10 * ENV_S);
    CU_ASSERT_EQUAL(service_get_stats(s.agent[1])->stores_ok, 1);

    struct found f = find(&s, 6, "turn-relay");
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_EQUAL(f.n, 3);
    CU_ASSERT_EQUAL(f.skipped, 0);
    CU_ASSERT_TRUE(lists(&s, &f, 1) && lists(&s, &f, 3) && lists(&s, &f, 5));
    CU_ASSERT_TRUE(f.latency < 5 * ENV_S); /* 0 when peer 6 holds the dictionary itself */
    /* The same from a provider itself. */
    f = find(&s, 3, "turn-relay");
    CU_ASSERT_EQUAL(f.n, 3);

    f = find(&s, 6, "voicemail");
    CU_ASSERT_EQUAL(f.n, 1);
    CU_ASSERT_TRUE(id_eq(&f.list[0].provider, node_id(s.ring.h[2]->node)));
    f = find(&s, 6, "pstn-gateway");
    CU_ASSERT_EQUAL(f.status, NODE_E_NOT_FOUND);
    CU_ASSERT_EQUAL(f.n, 0);

    CU_ASSERT_EQUAL(service_withdraw(s.agent[3], "turn-relay"), NODE_OK);
    CU_ASSERT_EQUAL(service_withdraw(s.agent[3], "turn-relay"), NODE_E_NOT_FOUND);
    CU_ASSERT_EQUAL(service_advertised(s.agent[3]), 0);
    run(&s, 10 * ENV_S);
    f = find(&s, 6, "turn-relay");
    CU_ASSERT_EQUAL(f.n, 2);
    CU_ASSERT_TRUE(lists(&s, &f, 1) && lists(&s, &f, 5) && !lists(&s, &f, 3));
    CU_ASSERT_EQUAL(service_get_stats(s.agent[6])->finds_found, 3);
    CU_ASSERT_EQUAL(service_get_stats(s.agent[6])->finds_not_found, 1);

    /* Bad arguments. */
    struct env_addr a = {1, 2};
    CU_ASSERT_EQUAL(service_advertise(s.agent[0], "", &a, WIRE_CAND_HOST, 1, 0), NODE_E_INVALID);
    CU_ASSERT_EQUAL(service_advertise(s.agent[0], "x", &a, 7, 1, 0), NODE_E_INVALID);
    CU_ASSERT_EQUAL(service_find(s.agent[0], "", on_found, NULL), NODE_E_INVALID);
    CU_ASSERT_EQUAL(service_set_load(s.agent[0], "turn-relay", 1), NODE_E_NOT_FOUND);
    svc_free(&s);
}

static void test_chord_find_withdraw(void)
{
    find_and_withdraw(NODE_TOPOLOGY_CHORD);
}

static void test_bamboo_find_withdraw(void)
{
    find_and_withdraw(NODE_TOPOLOGY_BAMBOO);
}

/* A record whose provider stops refreshing (its agent is gone) expires after its lifetime; a
 * refreshed one is still found after several lifetimes. */
static void test_expiry_and_refresh(void)
{
    struct svc_ring s;
    svc_build(&s, NODE_TOPOLOGY_CHORD, 60);
    advertise(&s, 1, "turn-relay");
    advertise(&s, 4, "turn-relay");
    run(&s, 5 * ENV_S);
    CU_ASSERT_EQUAL(find(&s, 7, "turn-relay").n, 2);
    /* Peer 4 stops: its agent (nothing pending) goes, so nobody stores its record again. */
    CU_ASSERT_EQUAL_FATAL(service_pending(s.agent[4]), 0);
    service_free(s.agent[4]);
    s.agent[4] = NULL;
    run(&s, 20 * ENV_S); /* 45 s after the store: both still there */
    CU_ASSERT_EQUAL(find(&s, 7, "turn-relay").n, 2);
    run(&s, 40 * ENV_S);
    struct found f = find(&s, 7, "turn-relay");
    CU_ASSERT_EQUAL(f.n, 1);
    CU_ASSERT_TRUE(lists(&s, &f, 1));
    run(&s, 200 * ENV_S); /* four more lifetimes */
    f = find(&s, 7, "turn-relay");
    CU_ASSERT_EQUAL(f.n, 1);
    CU_ASSERT_TRUE(lists(&s, &f, 1));
    const struct service_stats *st = service_get_stats(s.agent[1]);
    /* A refresh at 80-90 % of 60 s: one store and at least five refreshes in ~330 s. */
    CU_ASSERT_TRUE(st->stores >= 6 && st->stores <= 8);
    CU_ASSERT_EQUAL(st->stores_ok, st->stores);
    svc_free(&s);
}

/* A load update is stored again, at most once per load_interval (30 s). */
static void test_load_updates(void)
{
    struct svc_ring s;
    svc_build(&s, NODE_TOPOLOGY_CHORD, 300);
    advertise(&s, 2, "turn-relay");
    run(&s, 5 * ENV_S);
    CU_ASSERT_EQUAL(service_set_load(s.agent[2], "turn-relay", 4), NODE_OK);
    CU_ASSERT_EQUAL(service_set_load(s.agent[2], "turn-relay", 7), NODE_OK);
    run(&s, 5 * ENV_S);
    /* 10 s after the first store: not yet stored again. */
    CU_ASSERT_EQUAL(service_get_stats(s.agent[2])->stores, 1);
    struct found f = find(&s, 0, "turn-relay"); /* +20 s: 30 s reached during it */
    CU_ASSERT_EQUAL(f.n, 1);
    run(&s, 10 * ENV_S);
    CU_ASSERT_EQUAL(service_get_stats(s.agent[2])->stores, 2);
    f = find(&s, 0, "turn-relay");
    CU_ASSERT_EQUAL_FATAL(f.n, 1);
    CU_ASSERT_EQUAL(f.list[0].load, 7);
    CU_ASSERT_EQUAL(f.list[0].capacity, 12);
    /* Long after the last store, an update goes out at once. */
    run(&s, 40 * ENV_S);
    CU_ASSERT_EQUAL(service_set_load(s.agent[2], "turn-relay", 1), NODE_OK);
    CU_ASSERT_EQUAL(service_get_stats(s.agent[2])->stores, 3);
    run(&s, 5 * ENV_S);
    CU_ASSERT_EQUAL(find(&s, 0, "turn-relay").list[0].load, 1);
    svc_free(&s);
}

static void on_store_status(void *ud, int status)
{
    *(int *)ud = status;
}

/* Values that are no ServiceRecord, name another service, or sit under another Node-ID's key
 * are skipped (and counted); the valid one is returned. */
static void test_foreign_values_skipped(void)
{
    struct svc_ring s;
    svc_build(&s, NODE_TOPOLOGY_CHORD, 300);
    advertise(&s, 1, "turn-relay");
    struct id res = service_resource_id("turn-relay");
    uint8_t key[ID_BYTES];
    struct node *n = s.ring.h[2]->node;
    /* Garbage under peer 2's key. */
    id_to_bytes(node_id(n), key);
    static const uint8_t junk[] = {1, 2, 3};
    struct node_value v = {.key = key,
                           .key_len = ID_BYTES,
                           .value = junk,
                           .value_len = sizeof junk,
                           .exists = true,
                           .lifetime = 300};
    int st = 99;
    CU_ASSERT_EQUAL(node_store(n, &res, NODE_KIND_SERVICE, &v, 0, on_store_status, &st), NODE_OK);
    run(&s, 5 * ENV_S);
    CU_ASSERT_EQUAL(st, NODE_OK);
    /* A valid record naming peer 5 stored under peer 3's key (someone else's record). */
    struct service_record r = sample_record("turn-relay");
    r.provider = *node_id(s.ring.h[5]->node);
    GByteArray *b = g_byte_array_new();
    service_record_encode(b, &r);
    id_to_bytes(node_id(s.ring.h[3]->node), key);
    v.value = b->data;
    v.value_len = b->len;
    CU_ASSERT_EQUAL(node_store(n, &res, NODE_KIND_SERVICE, &v, 0, on_store_status, &st), NODE_OK);
    run(&s, 5 * ENV_S);
    /* A record of "voicemail" filed under "turn-relay" by its own provider. */
    struct id other = {1, 2};
    r = sample_record("voicemail");
    r.provider = other;
    g_byte_array_set_size(b, 0);
    service_record_encode(b, &r);
    id_to_bytes(&other, key);
    v.value = b->data;
    v.value_len = b->len;
    CU_ASSERT_EQUAL(node_store(n, &res, NODE_KIND_SERVICE, &v, 0, on_store_status, &st), NODE_OK);
    run(&s, 5 * ENV_S);
    g_byte_array_free(b, TRUE);

    struct found f = find(&s, 6, "turn-relay");
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_EQUAL(f.n, 1);
    CU_ASSERT_TRUE(lists(&s, &f, 1));
    CU_ASSERT_EQUAL(f.skipped, 3);
    CU_ASSERT_EQUAL(service_get_stats(s.agent[6])->records_skipped, 3);
    svc_free(&s);
}

/* ---- policies ---------------------------------------------------------------------------------
 */

static struct service_record rec(uint64_t hi, uint32_t capacity, uint32_t load)
{
    struct service_record r = sample_record("turn-relay");
    r.provider = (struct id){hi, 0};
    r.capacity = capacity;
    r.load = load;
    return r;
}

static void test_policy_least_loaded_and_random(void)
{
    struct fake_net *net = fake_net_new(LAT);
    struct fake_host *h = fake_net_add_host(net);
    struct node_config cfg;
    node_config_default(&cfg);
    struct id self = {42, 42};
    h->node = node_new(&h->env, &cfg, &self, &h->addr);

    CU_ASSERT_PTR_EQUAL(service_policy_by_name("least_loaded"), &service_policy_least_loaded);
    CU_ASSERT_PTR_EQUAL(service_policy_by_name("random"), &service_policy_random);
    CU_ASSERT_PTR_EQUAL(service_policy_by_name("lowest_rtt"), &service_policy_lowest_rtt);
    CU_ASSERT_PTR_EQUAL(service_policy_by_name("two_choices"), &service_policy_two_choices);
    CU_ASSERT_PTR_NULL(service_policy_by_name("cheapest"));

    /* least_loaded: 2/10 < 5/10 < 1/1 < capacity 0. */
    for (unsigned round = 0; round < 20; round++) {
        struct service_record l[4] = {rec(1, 10, 5), rec(2, 0, 0), rec(3, 1, 1), rec(4, 10, 2)};
        service_rank(&service_policy_least_loaded, h->node, &h->env, l, 4);
        CU_ASSERT_EQUAL(l[0].provider.hi, 4);
        CU_ASSERT_EQUAL(l[1].provider.hi, 1);
        CU_ASSERT_EQUAL(l[2].provider.hi, 3);
        CU_ASSERT_EQUAL(l[3].provider.hi, 2);
    }
    /* Ties under least_loaded, and random: every provider comes first sometimes, each about a
     * third of the time over 600 draws. */
    const struct service_policy *ps[] = {&service_policy_random, &service_policy_least_loaded};
    for (size_t p = 0; p < G_N_ELEMENTS(ps); p++) {
        unsigned first[3] = {0};
        for (unsigned round = 0; round < 600; round++) {
            struct service_record l[3] = {rec(0, 4, 1), rec(1, 8, 2), rec(2, 2, 0)};
            if (p == 1)
                l[2].load = 1, l[2].capacity = 4; /* all three at 1/4 */
            service_rank(ps[p], h->node, &h->env, l, 3);
            first[l[0].provider.hi]++;
        }
        for (unsigned i = 0; i < 3; i++)
            CU_ASSERT_TRUE(first[i] > 150 && first[i] < 250);
    }
    /* two_choices: the most loaded of three is never first; the least loaded is first when it
     * is one of the two drawn (2/3 of the time), the middle one otherwise. */
    unsigned first[3] = {0};
    for (unsigned round = 0; round < 600; round++) {
        struct service_record l[3] = {rec(0, 10, 9), rec(1, 10, 1), rec(2, 10, 5)};
        service_rank(&service_policy_two_choices, h->node, &h->env, l, 3);
        first[l[0].provider.hi]++;
    }
    CU_ASSERT_EQUAL(first[0], 0);
    CU_ASSERT_TRUE(first[1] > 350 && first[1] < 450);
    CU_ASSERT_EQUAL(first[1] + first[2], 600);
    struct service_record one = rec(5, 0, 0);
    service_rank(&service_policy_two_choices, h->node, &h->env, &one, 1);
    CU_ASSERT_EQUAL(one.provider.hi, 5);
    service_rank(&service_policy_random, h->node, &h->env, NULL, 0); /* nothing to do */
    node_free(h->node);
    h->node = NULL;
    fake_net_free(net);
}

/* One-way latency: 5 ms plus 10 ms per index of the higher-numbered host. */
static env_time far_latency(void *ud, unsigned from, unsigned to)
{
    return 5 * ENV_MS + 10 * ENV_MS * (from > to ? from : to);
}

/* lowest_rtt: the node itself first, then its connected peers by measured RTT, then peers it
 * has no sample for, in random order. */
static void test_policy_lowest_rtt(void)
{
    struct svc_ring s;
    svc_build(&s, NODE_TOPOLOGY_CHORD, 300);
    fake_net_set_latency(s.ring.net, far_latency, NULL);
    run(&s, 60 * ENV_S); /* maintenance traffic gives RTT samples on the new latencies */
    struct node *n = s.ring.h[0]->node;
    /* Two peers node 0 has RTT samples for, with different RTTs, nearer first. */
    int known[2] = {-1, -1};
    env_time rtt[2] = {0, 0};
    for (unsigned i = 1; i < N_PEERS && known[1] < 0; i++) {
        env_time srtt, var;
        if (!node_peer_rtt(n, node_id(s.ring.h[i]->node), &srtt, &var) ||
            (known[0] >= 0 && srtt == rtt[0]))
            continue;
        int slot = known[0] < 0 ? 0 : 1;
        known[slot] = (int)i;
        rtt[slot] = srtt;
    }
    CU_ASSERT_FATAL(known[1] > 0);
    if (rtt[1] < rtt[0]) {
        int k = known[0];
        known[0] = known[1];
        known[1] = k;
    }
    unsigned unknown_first[2] = {0};
    for (unsigned round = 0; round < 200; round++) {
        struct service_record l[5] = {rec(0, 1, 0), rec(0, 1, 0), rec(0, 1, 0), rec(0, 1, 0),
                                      rec(0, 1, 0)};
        l[0].provider = (struct id){7, 7}; /* unknown */
        l[1].provider = *node_id(s.ring.h[known[1]]->node);
        l[2].provider = (struct id){8, 8}; /* unknown */
        l[3].provider = *node_id(n);       /* itself */
        l[4].provider = *node_id(s.ring.h[known[0]]->node);
        service_rank(&service_policy_lowest_rtt, n, &s.ring.h[0]->env, l, 5);
        CU_ASSERT_TRUE(id_eq(&l[0].provider, node_id(n)));
        CU_ASSERT_TRUE(id_eq(&l[1].provider, node_id(s.ring.h[known[0]]->node)));
        CU_ASSERT_TRUE(id_eq(&l[2].provider, node_id(s.ring.h[known[1]]->node)));
        unknown_first[l[3].provider.hi == 8]++;
    }
    /* The two unknowns come last, either one first. */
    CU_ASSERT_TRUE(unknown_first[0] > 60 && unknown_first[1] > 60);
    svc_free(&s);
}

/* ---- the simulator's services block ---------------------------------------------------------- */

#define HEAD "name: svc\nduration: 150s\npeers: 100\n"

static void test_scenario_keys(void)
{
    char *path;
    GError *err = NULL;
    struct scenario *s =
        world_util_load_yaml(HEAD "services:\n"
                                  "  list:\n"
                                  "    - {name: turn-relay, share: 0.05, capacity: 10}\n"
                                  "    - {name: \"pstn gateway: +1\", share: 0, weight: 0.5}\n"
                                  "  lookup_rate: 3/min\n"
                                  "  arrivals: system\n"
                                  "  policy: lowest_rtt\n"
                                  "  lifetime: 10m\n"
                                  "  hold: 0s\n",
                             &path, &err);
    CU_ASSERT_PTR_NULL(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL_FATAL(s->services.list->len, 2);
    const struct scenario_service *e = (const struct scenario_service *)s->services.list->data;
    CU_ASSERT_STRING_EQUAL(e[0].name, "turn-relay");
    CU_ASSERT_DOUBLE_EQUAL(e[0].share, 0.05, 1e-12);
    CU_ASSERT_EQUAL(e[0].capacity, 10);
    CU_ASSERT_DOUBLE_EQUAL(e[0].weight, 1, 1e-12);
    CU_ASSERT_STRING_EQUAL(e[1].name, "pstn gateway: +1");
    CU_ASSERT_EQUAL(e[1].capacity, 1);
    CU_ASSERT_DOUBLE_EQUAL(e[1].weight, 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(s->services.lookup_rate, 0.05, 1e-12);
    CU_ASSERT_EQUAL(s->services.arrivals, SCENARIO_ARRIVALS_SYSTEM);
    CU_ASSERT_STRING_EQUAL(s->services.policy, "lowest_rtt");
    CU_ASSERT_EQUAL(s->services.lifetime, 600 * ENV_S);
    CU_ASSERT_EQUAL(s->services.hold, 0);
    /* The resolved YAML reads back to the same block. */
    char *yaml = scenario_to_yaml(s);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(yaml, "services:\n  list:\n    - {name: turn-relay, share: 0.05, capacity: 10, "
                     "weight: 1}\n    - {name: \"pstn gateway: +1\", share: 0, capacity: 1, "
                     "weight: 0.5}\n"));
    scenario_free(world_util_reload(yaml));
    g_free(yaml);
    scenario_free(s);
    g_unlink(path);
    g_free(path);

    /* No block: no services, the defaults. */
    s = world_util_load_yaml(HEAD, &path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->services.list->len, 0);
    CU_ASSERT_DOUBLE_EQUAL(s->services.lookup_rate, 0.2 / 60, 1e-12);
    CU_ASSERT_EQUAL(s->services.arrivals, SCENARIO_ARRIVALS_PER_PEER);
    CU_ASSERT_STRING_EQUAL(s->services.policy, "random");
    CU_ASSERT_EQUAL(s->services.lifetime, 300 * ENV_S);
    CU_ASSERT_EQUAL(s->services.hold, 60 * ENV_S);
    scenario_free(s);
    g_unlink(path);
    g_free(path);
}

/* Bad services settings: each error names FILE:LINE:COLUMN and the key. */
static void test_scenario_errors(void)
{
    char long_name[300];
    memset(long_name, 'n', 256);
    long_name[256] = '\0';
    char *too_long = g_strdup_printf(HEAD "services:\n  list: [{name: %s, share: 1}]\n", long_name);
    const struct {
        const char *yaml, *where, *what;
    } bad[] = {
        {HEAD "services:\n  list: [{name: stun}]\n",
         ":5:10:", "key 'services.list.0.share': missing required field"},
        {HEAD "services:\n  list: [{share: 0.5}]\n",
         ":5:10:", "key 'services.list.0.name': missing required field"},
        {HEAD "services:\n  list: [{name: \"\", share: 0.5}]\n",
         ":5:17:", "key 'services.list.0.name': must not be empty"},
        {too_long, ":5:17:", "key 'services.list.0.name': 256 bytes, longer than the 255"},
        {HEAD "services:\n  list: [{name: stun, share: 1.5}]\n",
         ":5:30:", "key 'services.list.0.share': must be <= 1"},
        {HEAD "services:\n  list: [{name: stun, share: 1, capacity: -1}]\n",
         ":5:43:", "key 'services.list.0.capacity': must be >= 0, got -1"},
        {HEAD "services:\n  list: [{name: stun, share: 1, colour: red}]\n",
         ":5:33:", "key 'services.list.0.colour': unknown field"},
        {HEAD "services:\n  list: [{name: stun, share: 1}, {name: stun, share: 0.1}]\n",
         ":5:34:", "key 'services.list.1.name': service 'stun' is listed twice"},
        {HEAD "services:\n  list: {name: stun}\n",
         ":5:9:", "key 'services.list': expected a sequence"},
        {HEAD "services:\n  list: [stun]\n", ":5:10:", "key 'services.list.0': expected a mapping"},
        {HEAD "services:\n  policy: cheapest\n",
         ":5:11:", "key 'services.policy': unknown value 'cheapest'"},
        {HEAD "services:\n  lifetime: 0s\n", ":5:13:", "key 'services.lifetime'"},
        {HEAD "services:\n  relays: 3\n", ":5:3:", "key 'services.relays': unknown key"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
        world_util_check_bad(i, bad[i].yaml, bad[i].where, bad[i].what);
    g_free(too_long);
}

#define WORLD_HEAD                                                                                 \
    HEAD "latency: {model: constant, ms: 20}\n"                                                    \
         "workload: {start: 10s, lookup_rate: 0, lookups: 0}\n"
#define SERVICES                                                                                   \
    "services:\n"                                                                                  \
    "  list: [{name: turn-relay, share: 0.1, capacity: 2}, {name: voicemail, share: 0.05}]\n"      \
    "  lookup_rate: 20/s\n"                                                                        \
    "  arrivals: system\n"                                                                         \
    "  lifetime: 60s\n"                                                                            \
    "  hold: 5s\n"

/* A stable overlay: every lookup finds every provider of its service, none stale; records are
 * refreshed; without the block, no service rows. */
static void test_world_stable(void)
{
    struct world_util_run plain, r;
    world_util_run_yaml(WORLD_HEAD, &plain);
    CU_ASSERT_TRUE(isnan(world_util_row(plain.rows, "service_lookups")));
    CU_ASSERT_TRUE(isnan(world_util_row(plain.rows, "services")));
    world_util_run_free(&plain);

    world_util_run_yaml(WORLD_HEAD SERVICES, &r);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "services"), 2);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "service_providers"), 15);
    double lookups = world_util_row(r.rows, "service_lookups");
    CU_ASSERT_TRUE(lookups > 2500 && lookups < 3100); /* 20/s over 140 s */
    /* Lookups in flight at the end are not completed; every other one found providers. */
    CU_ASSERT_TRUE(world_util_row(r.rows, "service_lookups_completed") >= lookups - 5);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "service_lookup_success"), 1);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "service_stale_providers"), 0);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "service_selected_stale"), 0);
    /* Half the lookups ask for 10 relays, half for 5 voicemail servers. */
    double mean = world_util_row(r.rows, "service_providers_mean");
    CU_ASSERT_TRUE(mean > 7 && mean < 8);
    /* 15 first stores, then refreshes (at 80-90 % of 60 s: at least two each in 150 s) and
     * load updates, at most one per provider every 30 s (load_interval). */
    double stores = world_util_row(r.rows, "service_stores");
    CU_ASSERT_TRUE(stores >= 45 && stores <= 15 * (1 + 150 / 30));
    CU_ASSERT_EQUAL(world_util_row(r.rows, "service_stores_failed"), 0);
    /* 10 selections a second held 5 s on 10 relays of capacity 2: many over capacity. */
    CU_ASSERT_TRUE(world_util_row(r.rows, "service_over_capacity") > 100);
    CU_ASSERT_TRUE(world_util_row(r.rows, "service_latency_ms_p50") >= 40);
    world_util_run_free(&r);
}

/* Half the peers crash at 60 s: their records stay until their lifetime ends, so lookups
 * return stale providers for a while; the live ones are still found. */
static void test_world_crashes(void)
{
    struct world_util_run r;
    world_util_run_yaml(
        WORLD_HEAD SERVICES "churn: {events: [{at: 60s, action: fail, fraction: 0.5}]}\n", &r);
    CU_ASSERT_TRUE(world_util_row(r.rows, "service_stale_providers") > 100);
    double frac = world_util_row(r.rows, "service_stale_fraction");
    CU_ASSERT_TRUE(frac > 0.05 && frac < 0.5);
    CU_ASSERT_TRUE(world_util_row(r.rows, "service_selected_stale") > 0);
    CU_ASSERT_TRUE(world_util_row(r.rows, "service_lookup_success") > 0.95);
    world_util_run_free(&r);
}

CU_TestInfo test_service_tests[] = {
    {"ServiceRecord bytes and round trip", test_codec_bytes},
    {"malformed ServiceRecords are refused", test_codec_refuses},
    {"chord: providers found by name; withdraw removes one", test_chord_find_withdraw},
    {"bamboo: providers found by name; withdraw removes one", test_bamboo_find_withdraw},
    {"unrefreshed records expire; refreshed ones live on", test_expiry_and_refresh},
    {"load updates are stored, rate-limited", test_load_updates},
    {"foreign and malformed values are skipped", test_foreign_values_skipped},
    {"least_loaded, random and two_choices policies", test_policy_least_loaded_and_random},
    {"lowest_rtt policy: self, measured, unknown last", test_policy_lowest_rtt},
    {"scenario: services keys and round trip", test_scenario_keys},
    {"scenario: bad services settings", test_scenario_errors},
    {"world: stable overlay, every provider found", test_world_stable},
    {"world: crashed providers are returned until they expire", test_world_crashes},
    CU_TEST_INFO_NULL,
};
