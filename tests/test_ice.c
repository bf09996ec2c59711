/* test_ice.c — NAT traversal (core/ice.c; docs/nat.md, "Traversal"): RFC 6940 §6.5.1 Attach
 * with host, server-reflexive and relayed candidates, ICE-style checks (RFC 8445, simplified)
 * and the relay fallback, on simulated NATs (RFC 4787, sim/nat.c) and with a fake env.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <string.h>

#include "../core/node.h"
#include "../core/wire.h"
#include "../sim/scenario.h"
#include "../sim/world.h"
#include "fake_env.h"
#include "world_util.h"

#define SMALL(peers, topology)                                                                     \
    "name: ice\nseed: 5\nduration: 14s\npeers: " peers "\n"                                        \
    "overlay: {topology: " topology ", join: instant}\n"                                           \
    "latency: {model: constant, ms: 20}\n"                                                         \
    "workload: {start: 4s, lookups: 300, lookup_rate: 100, records: 10, fetches: 50}\n"

/* One public peer (the relay and STUN server, reached straight: not counted as an attempt)
 * and two port-restricted ones: the two punch a hole to each other (both send checks at
 * once), nothing is relayed for good. */
static void test_ice_port_restricted_punched(void)
{
    struct world_util_run r;
    world_util_run_yaml(SMALL("3", "chord") "nat: {mix: [{type: public, share: 0.34},"
                                            " {type: port_restricted, share: 0.66}]}\n",
                        &r);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "relays"), 1);
    CU_ASSERT(world_util_row(r.rows, "connect_port_restricted-port_restricted_punched") >= 1);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "connect_port_restricted-port_restricted_relayed"), 0);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "connect_port_restricted-port_restricted_failed"), 0);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "connect_relayed"), 0);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "connect_failed"), 0);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "lookup_success"), 1.0);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "links_failed"), 0);
    world_util_run_free(&r);
}

/* Symmetric against port-restricted: the symmetric box maps each destination to a new port,
 * which the port-restricted filter refuses, so no check answers and the pair is relayed;
 * lookups still all succeed. */
static void test_ice_symmetric_relayed(void)
{
    struct world_util_run r;
    world_util_run_yaml(SMALL("3", "chord") "nat: {mix: [{type: public, share: 0.34},"
                                            " {type: port_restricted, share: 0.33},"
                                            " {type: symmetric, share: 0.33}]}\n",
                        &r);
    CU_ASSERT(world_util_row(r.rows, "connect_port_restricted-symmetric_relayed") >= 1);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "connect_port_restricted-symmetric_punched"), 0);
    CU_ASSERT(world_util_row(r.rows, "relayed_msgs") > 0);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "relays"), 1);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "lookup_success"), 1.0);
    world_util_run_free(&r);
}

#define HALF                                                                                       \
    "nat: {mix: [{type: public, share: 0.5}, {type: port_restricted, share: 0.25},"                \
    " {type: full_cone, share: 0.15}, {type: symmetric, share: 0.1}]"

/* Half the peers behind NATs (the nat-chord-50 mix), 128 peers: with traversal Chord and
 * Bamboo answer at least 99 % of the lookups; without it they do not. */
static void test_ice_half_natted(void)
{
    static const char *const topo[] = {"chord", "bamboo"};
    for (int t = 0; t < 2; t++) {
        char *yaml = g_strdup_printf("name: ice\nseed: 7\nduration: 16s\npeers: 128\n"
                                     "overlay: {topology: %s, join: instant}\n"
                                     "latency: {model: constant, ms: 20}\n"
                                     "workload: {start: 6s, lookups: 1000, lookup_rate: 200,"
                                     " records: 20, fetches: 100}\n" HALF "%s}\n",
                                     topo[t], "");
        char *off = g_strdup_printf("name: ice\nseed: 7\nduration: 16s\npeers: 128\n"
                                    "overlay: {topology: %s, join: instant}\n"
                                    "latency: {model: constant, ms: 20}\n"
                                    "workload: {start: 6s, lookups: 1000, lookup_rate: 200,"
                                    " records: 20, fetches: 100}\n" HALF "%s}\n",
                                    topo[t], ", traversal: false");
        struct world_util_run r, o;
        world_util_run_yaml(yaml, &r);
        world_util_run_yaml(off, &o);
        CU_ASSERT(world_util_row(r.rows, "lookup_success") >= 0.99);
        CU_ASSERT_EQUAL(world_util_row(r.rows, "fetches_found"), 100);
        CU_ASSERT(world_util_row(r.rows, "connect_punched") > 0);
        CU_ASSERT(world_util_row(r.rows, "connect_relayed") > 0);
        CU_ASSERT(world_util_row(o.rows, "lookup_success") < 0.95);
        CU_ASSERT(!world_util_has_row(o.rows, "connect_punched")); /* no traversal rows */
        world_util_run_free(&r);
        world_util_run_free(&o);
        g_free(yaml);
        g_free(off);
    }
}

/* Every peer behind a port-restricted NAT of its own, no peer public, plus relay servers
 * outside the overlay (nat.relay_servers; docs/nat.md, "Relay servers"): 128 peers, Chord and
 * Bamboo answer >= 99 % of the lookups through them; the servers are no peers (not counted,
 * never responsible).  Without them the same overlay fails.  The super-peer topology elects
 * no one.  A protocol join through a NATed bootstrap peer completes through its relay. */
static void test_ice_relay_servers(void)
{
    static const char *const topo[] = {"chord", "bamboo", "superpeer"};
    for (int t = 0; t < 3; t++) {
        for (int servers = 0; servers <= 4; servers += 4) {
            char *yaml = g_strdup_printf(
                "name: ice\nseed: 7\nduration: 16s\npeers: 128\n"
                "overlay: {topology: %s, join: instant}\n"
                "latency: {model: constant, ms: 20}\n"
                "workload: {start: 6s, lookups: 1000, lookup_rate: 200, records: 20,"
                " fetches: 100}\n"
                "nat: {mix: [{type: port_restricted, share: 1}], relay_servers: %d}\n",
                topo[t], servers);
            struct world_util_run r;
            world_util_run_yaml(yaml, &r);
            CU_ASSERT_EQUAL(world_util_row(r.rows, "peers_public"), 0);
            CU_ASSERT_EQUAL(world_util_row(r.rows, "alive_peers_end"), 128);
            if (t == 2) { /* super-peer: no one to elect, with or without servers */
                CU_ASSERT_EQUAL(world_util_row(r.rows, "superpeers_end"), 0);
                CU_ASSERT_EQUAL(world_util_row(r.rows, "lookups_completed"), 0);
            } else if (servers) {
                CU_ASSERT(world_util_row(r.rows, "lookup_success") >= 0.99);
                CU_ASSERT_EQUAL(world_util_row(r.rows, "fetches_found"), 100);
                CU_ASSERT_EQUAL(world_util_row(r.rows, "joined"), 128);
                CU_ASSERT_EQUAL(world_util_row(r.rows, "relay_servers"), 4);
                CU_ASSERT(world_util_row(r.rows, "connect_punched") > 0);
                CU_ASSERT(world_util_row(r.rows, "relayed_msgs") > 0);
                CU_ASSERT(world_util_row(r.rows, "relay_load_128") >= 0); /* servers: slots 128… */
                CU_ASSERT(!world_util_has_row(r.rows, "relay_load_0"));
            } else {
                CU_ASSERT(world_util_row(r.rows, "lookup_success") < 0.5);
                CU_ASSERT(!world_util_has_row(r.rows, "relays")); /* traversal cannot run */
            }
            world_util_run_free(&r);
            g_free(yaml);
        }
    }
    /* Joining by the protocol: every bootstrap peer is behind a NAT. */
    for (int servers = 0; servers <= 4; servers += 4) {
        char *yaml = g_strdup_printf(
            "name: ice\nseed: 7\nduration: 12s\npeers: 48\n"
            "overlay: {topology: chord, join: protocol, join_interval: 50ms}\n"
            "latency: {model: constant, ms: 20}\n"
            "workload: {start: 10s, lookups: 10, lookup_rate: 10, records: 0, fetches: 0}\n"
            "nat: {mix: [{type: port_restricted, share: 0.5}, {type: symmetric, share: 0.5}],"
            " relay_servers: %d}\n",
            servers);
        struct world_util_run r;
        world_util_run_yaml(yaml, &r);
        if (servers) {
            CU_ASSERT_EQUAL(world_util_row(r.rows, "joined"), 48);
        } else {
            CU_ASSERT(world_util_row(r.rows, "joined") < 5);
        }
        world_util_run_free(&r);
        g_free(yaml);
    }
}

/* ---- malformed candidates, with a fake env ---------------------------------------------- */

/* Sends an AttachReq from host `from` (no node) to node `to` with these candidates. */
static void inject_attach(struct fake_net *net, struct fake_host *from, struct fake_host *to,
                          const struct id *from_id, const struct wire_candidate *c, unsigned n)
{
    struct wire_attach a;
    memset(&a, 0, sizeof a);
    a.ufrag = (struct wire_bytes){(const uint8_t *)"u", 1};
    a.password = (struct wire_bytes){(const uint8_t *)"p", 1};
    a.role = (struct wire_bytes){(const uint8_t *)"active", 6};
    a.n_candidates = (uint16_t)n;
    memcpy(a.candidates, c, n * sizeof *c);
    GByteArray *body = g_byte_array_new();
    wire_encode_attach(body, &a);
    struct node_config cfg;
    node_config_default(&cfg);
    struct wire_header h;
    memset(&h, 0, sizeof h);
    h.overlay = cfg.overlay;
    h.version = WIRE_VERSION;
    h.ttl = cfg.initial_ttl;
    h.fragment = WIRE_FRAGMENT_LAST;
    h.txid = 0x1234;
    uint8_t fb[ID_BYTES], tb[ID_BYTES];
    id_to_bytes(from_id, fb);
    id_to_bytes(node_id(to->node), tb);
    wire_dest_node(&h.via[0], fb);
    h.n_via = 1;
    wire_dest_node(&h.dest[0], tb);
    h.n_dest = 1;
    GByteArray *m = g_byte_array_new();
    struct wire_bytes bb = {body->data, body->len};
    wire_encode_message(m, &h, WIRE_ATTACH_REQ, &bb, NULL, NULL);
    uint8_t fr[8] = {WIRE_FRAME_DATA, 0, 0, 0, 0, (uint8_t)(m->len >> 16), (uint8_t)(m->len >> 8),
                     (uint8_t)m->len};
    GByteArray *f = g_byte_array_new();
    g_byte_array_append(f, fr, sizeof fr);
    g_byte_array_append(f, m->data, m->len);
    fake_net_inject(net, to, &from->addr, f->data, f->len);
    g_byte_array_free(f, TRUE);
    g_byte_array_free(m, TRUE);
    g_byte_array_free(body, TRUE);
}

static void test_ice_malformed_candidates(void)
{
    struct fake_net *net = fake_net_new(10 * ENV_MS);
    struct fake_host *relay = fake_net_add_host(net), *a = fake_net_add_host(net),
                     *b = fake_net_add_host(net);
    struct node_peer relays[1] = {{{7, 7}, relay->addr}};
    struct node_config cfg;
    node_config_default(&cfg);
    cfg.ice.enabled = true;
    cfg.ice.relays = relays;
    cfg.ice.n_relays = 1;
    struct id aid = {1, 1}, bid = {2, 2};
    a->node = node_new(&a->env, &cfg, &aid, &a->addr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(node_ice_get_stats(a->node));
    struct wire_candidate c[5];
    memset(c, 0, sizeof c);
    for (int i = 0; i < 5; i++) {
        c[i].overlay_link = WIRE_LINK_DTLS_UDP_SR;
        c[i].foundation = (struct wire_bytes){(const uint8_t *)"1", 1};
        c[i].type = WIRE_CAND_HOST;
        c[i].addr = b->addr;
    }
    c[1].is_v6 = true;                     /* IPv6: not ours */
    c[1].addr6[15] = 1;
    c[2].addr.port = 0;                    /* port 0 */
    c[3].type = WIRE_CAND_RELAY;           /* a relay that is no configured relay */
    c[3].addr = (struct env_addr){0x0a0000ffu, 6084};
    c[3].rel_addr = b->addr;
    c[4].type = WIRE_CAND_RELAY;           /* the configured relay: kept */
    c[4].addr = relay->addr;
    c[4].rel_addr = b->addr;
    inject_attach(net, b, a, &bid, c, 5);
    fake_net_run_until(net, 50 * ENV_MS);
    const struct node_ice_stats *st = node_ice_get_stats(a->node);
    CU_ASSERT_EQUAL(st->bad_candidates, 3);
    CU_ASSERT_EQUAL(node_get_stats(a->node)->dropped_malformed, 0);
    /* The request was answered (an AttachAns and an ACK reached b) and no check was needed:
     * b's datagram came straight from b. */
    CU_ASSERT(b->inbox->len >= 2);
    CU_ASSERT_EQUAL(st->checks_sent, 0);
    /* The answer reflects b's address in a "reflexive-address" IceExtension. */
    bool reflexive = false;
    for (guint i = 0; i < b->inbox->len; i++) {
        gsize len;
        const uint8_t *p = g_bytes_get_data(b->inbox->pdata[i], &len);
        for (gsize k = 0; k + 17 <= len; k++)
            reflexive |= memcmp(p + k, "reflexive-address", 17) == 0;
    }
    CU_ASSERT(reflexive);
    node_free(a->node);
    a->node = NULL;
    fake_net_free(net);
}

/* A relay known by address only (`p2psip peer --relay ADDR:PORT`): its configured Node-ID is
 * the wildcard.  The relay recognises its own address and never Attaches to itself; the other
 * peers Attach to the wildcard Node-ID at that address (RFC 6940 §6.1.1: the receiver is
 * responsible for it), take the relay's Node-ID from the answer, and their reflexive address
 * from it (only relays' answers count); a lookup then succeeds. */
static void test_ice_relay_by_address(void)
{
    struct fake_net *net = fake_net_new(10 * ENV_MS);
    struct fake_host *h[3];
    for (int i = 0; i < 3; i++)
        h[i] = fake_net_add_host(net);
    struct node_peer relays[1] = {{id_wildcard(), h[0]->addr}};
    struct node_config cfg;
    node_config_default(&cfg);
    cfg.ice.enabled = true;
    cfg.ice.relays = relays;
    cfg.ice.n_relays = 1;
    for (int i = 0; i < 3; i++) {
        struct id self = {0x4000000000000000ull * (uint64_t)(i + 1), 0};
        h[i]->node = node_new(&h[i]->env, &cfg, &self, &h[i]->addr);
    }
    CU_ASSERT_EQUAL(node_join(h[0]->node, NULL), NODE_OK);
    fake_net_run_until(net, 100 * ENV_MS);
    CU_ASSERT_EQUAL(node_join(h[1]->node, &h[0]->addr), NODE_OK);
    CU_ASSERT_EQUAL(node_join(h[2]->node, &h[0]->addr), NODE_OK);
    fake_net_run_until(net, 5 * ENV_S);
    struct env_addr srflx;
    for (int i = 1; i < 3; i++) {
        CU_ASSERT(node_is_joined(h[i]->node));
        CU_ASSERT_FATAL(node_ice_srflx(h[i]->node, &srflx));
        CU_ASSERT(env_addr_eq(&srflx, &h[i]->addr));
    }
    CU_ASSERT_FALSE(node_ice_srflx(h[0]->node, &srflx)); /* no Attach to itself */
    struct id key = {0x9000000000000000ull, 5};
    CU_ASSERT_EQUAL(node_lookup(h[1]->node, &key, 1), NODE_OK);
    fake_net_run_until(net, 8 * ENV_S);
    const struct env_event *ev = fake_host_last_event(h[1], ENV_EV_LOOKUP_DONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_EQUAL(ev->status, NODE_OK);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(node_ice_get_stats(h[i]->node)->bad_candidates, 0);
        node_free(h[i]->node);
        h[i]->node = NULL;
    }
    CU_ASSERT_EQUAL(fake_net_pending_timers(net), 0);
    fake_net_free(net);
}

CU_TestInfo test_ice_tests[] = {
    {"port-restricted pair: hole punched", test_ice_port_restricted_punched},
    {"symmetric vs port-restricted: relayed", test_ice_symmetric_relayed},
    {"half the peers behind NATs: >= 99 % of lookups", test_ice_half_natted},
    {"every peer behind a NAT, relay servers: >= 99 % of lookups", test_ice_relay_servers},
    {"malformed candidates dropped", test_ice_malformed_candidates},
    {"relay known by address only: Node-ID learnt", test_ice_relay_by_address},
    CU_TEST_INFO_NULL,
};
