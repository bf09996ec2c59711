/* test_client.c — CUnit suite "client": RELOAD clients (RFC 6940 §4.2, core/client.c) on a
 * CHORD-RELOAD ring of the fake environment: a client's lookup, store and fetch go through
 * its peer; no peer ever takes a client into its routing table or neighbour set; a client
 * fails over to its next peer when the link to its peer fails; a client is reached through
 * its peer by the destination list [peer, client] (§4.2.1), as the SIP adapter's routes do.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "../core/node.h"
#include "fake_env.h"
#include "ring.h"
#include "world_util.h"

/* One client on the ring's network; cfg must outlive the node. */
struct client_host {
    struct node_config cfg;
    struct fake_host *h;
};

static struct node *client_new(struct ring *r, struct client_host *c, const struct id *id,
                               env_time keepalive)
{
    node_config_default(&c->cfg);
    c->cfg.client = true;
    c->cfg.client_keepalive = keepalive;
    c->h = fake_net_add_host(r->net);
    c->h->node = node_new(&c->h->env, &c->cfg, id, &c->h->addr);
    return c->h->node;
}

static void client_free_host(struct client_host *c)
{
    node_free(c->h->node);
    c->h->node = NULL;
}

static int client_store(struct ring *r, struct node *n, const char *name, const char *value)
{
    struct id k = id_hash(name, strlen(name));
    struct node_value v = {.value = (const uint8_t *)value,
                           .value_len = (uint32_t)strlen(value),
                           .exists = true,
                           .lifetime = 3600};
    int status = 99;
    CU_ASSERT_EQUAL(node_store(n, &k, NODE_KIND_VALUE, &v, 1, on_store, &status), NODE_OK);
    fake_net_run_until(r->net, fake_net_now(r->net) + 20 * ENV_S);
    return status;
}

static struct fetch_result client_fetch(struct ring *r, struct node *n, const char *name)
{
    struct fetch_result f = {0};
    struct id k = id_hash(name, strlen(name));
    CU_ASSERT_EQUAL(node_fetch(n, &k, NODE_KIND_VALUE, 2, on_fetch, &f), NODE_OK);
    fake_net_run_until(r->net, fake_net_now(r->net) + 20 * ENV_S);
    CU_ASSERT_EQUAL(f.calls, 1);
    return f;
}

/* Whether any live peer's routing table, successors or predecessors name id. */
static bool known_by_peers(const struct ring *r, const struct id *id)
{
    for (unsigned i = 0; i < r->n; i++) {
        if (r->h[i]->down || !r->h[i]->node)
            continue;
        struct node_peer t[128];
        size_t n = node_routing_table(r->h[i]->node, t, 128);
        n += node_successors(r->h[i]->node, t + n, 128 - n);
        n += node_predecessors(r->h[i]->node, t + n, 128 - n);
        for (size_t j = 0; j < n; j++)
            if (id_eq(&t[j].id, id))
                return true;
    }
    return false;
}

/* A client attached to one peer looks up, stores and fetches through it; the value lands at
 * the responsible peer (and its replicas), not at the client; its lookup is answered by the
 * peer the oracle names. */
static void test_client_operations(void)
{
    struct ring r;
    ring_build(&r, 6);
    struct client_host c;
    struct id cid = id_hash("client-x", 8);
    struct node *n = client_new(&r, &c, &cid, 0);
    CU_ASSERT_EQUAL(node_lookup(n, &cid, 1), NODE_E_STATE); /* not connected yet */
    CU_ASSERT_EQUAL(node_client_connect(n, &r.h[2]->addr), NODE_OK);
    CU_ASSERT_EQUAL(client_store(&r, n, "alice", "sip:alice@10.0.0.9"), NODE_OK);
    struct id k = id_hash("alice", 5);
    CU_ASSERT_TRUE(node_holds(r.h[oracle(&r, &k)]->node, &k, NODE_KIND_VALUE));
    CU_ASSERT_FALSE(node_holds(n, &k, NODE_KIND_VALUE));
    CU_ASSERT_EQUAL(holders(&r, "alice"), 3);
    struct fetch_result f = client_fetch(&r, n, "alice");
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_STRING_EQUAL(f.value, "sip:alice@10.0.0.9");
    struct id key = id_hash("some-key", 8);
    CU_ASSERT_EQUAL(node_lookup(n, &key, 7), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 5 * ENV_S);
    const struct env_event *ev = fake_host_last_event(c.h, ENV_EV_LOOKUP_DONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_EQUAL(ev->status, NODE_OK);
    CU_ASSERT_TRUE(id_eq(&ev->responder, node_id(r.h[oracle(&r, &key)]->node)));
    /* Requests to a client other than Ping/AppAttach/AppData are refused, and it forwards
     * nothing and stores nothing. */
    CU_ASSERT_EQUAL(node_get_stats(n)->forwarded, 0);
    CU_ASSERT_EQUAL(node_stored_records(n), 0);
    client_free_host(&c);
    ring_free(&r);
}

/* The client's Node-ID sits just after peer 0's: were it taken in as a peer it would be
 * peer 0's successor and in several tables.  After traffic in both directions and minutes of
 * stabilisation (Updates, finger refreshes) no peer names it; the client's probe learnt its
 * peer's Node-ID. */
static void test_client_not_in_tables(void)
{
    struct ring r;
    ring_build(&r, 6);
    struct client_host c;
    struct id cid = *node_id(r.h[0]->node);
    cid.lo += 1;
    struct node *n = client_new(&r, &c, &cid, 5 * ENV_S);
    CU_ASSERT_EQUAL(node_client_connect(n, &r.h[0]->addr), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 2 * ENV_S);
    struct node_peer cur;
    CU_ASSERT_TRUE(node_client_peer(n, &cur));
    CU_ASSERT_TRUE(id_eq(&cur.id, node_id(r.h[0]->node)));
    CU_ASSERT_TRUE(env_addr_eq(&cur.addr, &r.h[0]->addr));
    CU_ASSERT_EQUAL(client_store(&r, n, "bob", "sip:bob@10.0.0.9"), NODE_OK);
    CU_ASSERT_EQUAL(client_fetch(&r, n, "bob").status, NODE_OK);
    /* A lookup of the client's own Node-ID is answered by a peer, not the client. */
    CU_ASSERT_EQUAL(node_lookup(r.h[3]->node, &cid, 9), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 120 * ENV_S);
    const struct env_event *ev = fake_host_last_event(r.h[3], ENV_EV_LOOKUP_DONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_FALSE(id_eq(&ev->responder, &cid));
    CU_ASSERT_FALSE(known_by_peers(&r, &cid));
    CU_ASSERT_EQUAL(node_get_stats(n)->client_failovers, 0);
    client_free_host(&c);
    ring_free(&r);
}

/* A client attached to peers 1 and 4 (in that order); peer 1 crashes.  With keepalives the
 * client notices without traffic of its own and moves to peer 4; a store and fetch then
 * succeed.  Without keepalives a request issued after the crash notices it (its frame goes
 * unacknowledged), and its end-to-end retransmission goes through the next peer: the request
 * still succeeds. */
static void failover(env_time keepalive)
{
    struct ring r;
    ring_build(&r, 6);
    struct client_host c;
    struct id cid = id_hash("client-f", 8);
    struct node *n = client_new(&r, &c, &cid, keepalive);
    struct env_addr peers[2] = {r.h[1]->addr, r.h[4]->addr};
    CU_ASSERT_EQUAL(node_client_connect_list(n, peers, 2), NODE_OK);
    CU_ASSERT_EQUAL(client_store(&r, n, "carol", "v1"), NODE_OK);
    r.h[1]->down = true;
    fake_net_run_until(r.net, fake_net_now(r.net) + 20 * ENV_S);
    if (keepalive)
        CU_ASSERT_EQUAL(node_get_stats(n)->client_failovers, 1);
    CU_ASSERT_EQUAL(client_store(&r, n, "carol", "v2"), NODE_OK);
    struct fetch_result f = client_fetch(&r, n, "carol");
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_STRING_EQUAL(f.value, "v2");
    CU_ASSERT_EQUAL(node_get_stats(n)->client_failovers, 1);
    struct node_peer cur;
    node_client_peer(n, &cur);
    CU_ASSERT_TRUE(env_addr_eq(&cur.addr, &r.h[4]->addr));
    CU_ASSERT(fake_host_count_events(c.h, ENV_EV_LINK_FAILED) >= 1);
    client_free_host(&c);
    ring_free(&r);
}

static void test_client_failover_keepalive(void)
{
    failover(5 * ENV_S);
}

static void test_client_failover_on_request(void)
{
    failover(0);
}

/* §4.2.1: a client is reached by the destination list [its peer, itself].  Peer 5 sends an
 * AppAttach for SIP along it: the client answers with its SIP address.  The bare client
 * Node-ID is not routable (the overlay delivers it to the peer responsible for that id). */
static void test_client_reached_through_peer(void)
{
    struct ring r;
    ring_build(&r, 6);
    struct client_host c;
    struct id cid = id_hash("client-s", 8);
    struct node *n = client_new(&r, &c, &cid, 5 * ENV_S);
    CU_ASSERT_EQUAL(node_client_connect(n, &r.h[2]->addr), NODE_OK);
    const struct env_addr sip = {0x0a0000f0, 5060};
    node_app_listen(n, NODE_APP_SIP, &sip);
    /* Longer than the peers' idle-connection pruning (30 s): the keepalive keeps it. */
    fake_net_run_until(r.net, fake_net_now(r.net) + 90 * ENV_S);
    uint8_t pb[ID_BYTES], cb[ID_BYTES];
    id_to_bytes(node_id(r.h[2]->node), pb);
    id_to_bytes(&cid, cb);
    struct wire_dest d[2];
    wire_dest_node(&d[0], pb);
    wire_dest_node(&d[1], cb);
    struct app_result a = {0};
    CU_ASSERT_EQUAL(node_app_attach(r.h[5]->node, d, 2, NODE_APP_SIP, on_app_attach, &a), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 5 * ENV_S);
    CU_ASSERT_EQUAL(a.calls, 1);
    CU_ASSERT_EQUAL(a.status, NODE_OK);
    CU_ASSERT_TRUE(id_eq(&a.node, &cid));
    CU_ASSERT_TRUE(env_addr_eq(&a.addr, &sip));
    memset(&a, 0, sizeof a);
    CU_ASSERT_EQUAL(node_app_attach(r.h[5]->node, &d[1], 1, NODE_APP_SIP, on_app_attach, &a), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 20 * ENV_S);
    CU_ASSERT_EQUAL(a.calls, 1);
    CU_ASSERT_NOT_EQUAL(a.status, NODE_OK);
    client_free_host(&c);
    ring_free(&r);
}

/* ---- clients in the simulator (clients:, sim/world.c) ---- */

/* 60 peers and clients.fraction 0.25 (20 clients) under churn: every client's node is a
 * client attached to a peer, none is in the oracle or any peer's routing table, the
 * workload's lookups come from both classes and succeed, and clients whose peer left moved
 * (failovers or re-attaches).  The scenario's errors name file:line:column and the key. */
static const char clients_yaml[] =
    "name: clients-test\n"
    "duration: 4m\n"
    "peers: 60\n"
    "clients: {fraction: 0.25, peers: 2}\n"
    "latency: {model: constant, ms: 20}\n"
    "churn:\n"
    "  model: sessions\n"
    "  start: 30s\n"
    "  session: {dist: exponential, mean: 2m}\n"
    "  downtime: {dist: exponential, mean: 1m}\n"
    "workload: {start: 30s, lookups: 0, lookup_rate: 10/s, records: 20, fetches: 400,"
    " fetch_rate: 5/s}\n";

static void test_world_clients(void)
{
    struct world_util_run r;
    world_util_run_yaml(clients_yaml, &r);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "clients"), 20);
    CU_ASSERT_EQUAL(world_peers(r.w), 60); /* clients are no peer slots */
    double lc = world_util_row(r.rows, "lookups_clients"),
           lp = world_util_row(r.rows, "lookups_peers");
    CU_ASSERT(lc > 100 && lp > 100);
    CU_ASSERT(world_util_row(r.rows, "lookup_success_clients") >= 0.9);
    CU_ASSERT(world_util_row(r.rows, "lookup_success_peers") >= 0.9);
    CU_ASSERT(world_util_row(r.rows, "fetches_found_clients") > 0);
    /* A client's path has one more hop: itself to its peer. */
    CU_ASSERT(world_util_row(r.rows, "hops_mean_clients") >
              world_util_row(r.rows, "hops_mean_peers"));
    CU_ASSERT(world_util_row(r.rows, "client_failovers") +
                  world_util_row(r.rows, "client_reattaches") >
              0);
    /* Every completed lookup was issued by one class or could not start at all. */
    double done = world_util_row(r.rows, "lookups_completed");
    CU_ASSERT(lc + lp <= done && lc + lp >= 0.95 * done);
    /* No peer names a client (client Node-IDs: SHA-1 of "client-<k>"). */
    unsigned named = 0;
    for (uint32_t i = 0; i < world_peers(r.w); i++) {
        struct node *n = world_node(r.w, i);
        struct node_peer t[256];
        size_t k = n ? node_routing_table(n, t, 256) : 0;
        for (size_t j = 0; j < k; j++)
            for (unsigned c = 0; c < 20; c++) {
                char name[32];
                g_snprintf(name, sizeof name, "client-%u", c);
                struct id cid = id_hash(name, strlen(name));
                named += id_eq(&t[j].id, &cid);
            }
    }
    CU_ASSERT_EQUAL(named, 0);
    world_util_run_free(&r);
    world_util_check_bad(0, "name: x\nduration: 1m\npeers: 10\nclients:\n  fraction: 0.99\n",
                         ":5:13:", "clients.fraction");
    world_util_check_bad(1, "name: x\nduration: 1m\npeers: 10\nclients: {peers: 9}\n",
                         ":4:", "clients.peers");
}

/* clients.attach nearest: the clients' first hop is the shortest there is, so their lookups
 * are faster than with random peers on the same coordinates underlay (no churn). */
static double client_p50(const char *attach)
{
    char *yaml = g_strdup_printf("name: clients-near\n"
                                 "duration: 70s\n"
                                 "peers: 80\n"
                                 "clients: {fraction: 0.2, peers: 1, attach: %s}\n"
                                 "latency: {model: coordinates, side_ms: 200}\n"
                                 "workload: {start: 10s, lookups: 0, lookup_rate: 20/s}\n",
                                 attach);
    struct world_util_run r;
    world_util_run_yaml(yaml, &r);
    double p50 = world_util_row(r.rows, "latency_ms_p50_clients");
    CU_ASSERT(world_util_row(r.rows, "lookups_clients") > 100);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "lookup_success_clients"), 1);
    world_util_run_free(&r);
    g_free(yaml);
    return p50;
}

static void test_world_clients_nearest(void)
{
    double random = client_p50("random"), nearest = client_p50("nearest");
    CU_ASSERT(nearest > 0 && nearest < random);
}

CU_TestInfo test_client_tests[] = {
    {"a client looks up, stores and fetches through its peer", test_client_operations},
    {"no peer takes a client into its tables", test_client_not_in_tables},
    {"failover: keepalive notices a dead peer", test_client_failover_keepalive},
    {"failover: a request notices a dead peer and still succeeds", test_client_failover_on_request},
    {"a client is reached through its peer ([peer, client])", test_client_reached_through_peer},
    {"simulator: clients attach, fail over and issue their share", test_world_clients},
    {"simulator: clients attached to the nearest peers are faster", test_world_clients_nearest},
    CU_TEST_INFO_NULL,
};
