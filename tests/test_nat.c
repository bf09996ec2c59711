/* test_nat.c — CUnit suite for the simulated NAT boxes (sim/nat.h, RFC 4787) and their place
 * in the world (sim/world.c, docs/nat.md).
 *
 * The box alone: for each of the nine mapping (§4.1) x filtering (§5) combinations, which
 * external port each outbound datagram leaves from and which inbound datagrams pass after
 * which outbound ones; the shorthands; the binding timeout (§4.3) with outbound refresh and
 * the inbound-refresh option, permissions expiring on their own; hairpinning on and off (§6);
 * several hosts behind one box; port preservation, random ports and exhaustion with reuse
 * after expiry; lazy expiry keeping the tables bounded.  Then the scenario: the nat block's
 * keys and errors (FILE:LINE:COLUMN and key), the resolved YAML, the layout of peers behind
 * boxes; and whole worlds: a nat block with every peer public changes nothing, peers behind
 * one shared box reach each other privately, and NATs without traversal break links.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "../sim/nat.h"
#include "../sim/world.h"
#include "world_util.h"

#define T (120 * ENV_S)

static struct env_addr ep(uint32_t ip, uint16_t port)
{
    struct env_addr a = {.ip = ip, .port = port};
    return a;
}

/* Hosts behind the box and endpoints outside it. */
#define X_IP 0x0a000001u  /* 10.0.0.1 */
#define X2_IP 0x0a000002u /* 10.0.0.2 */
#define Y1_IP 0xc6336401u /* 198.51.100.1 */
#define Y2_IP 0xc6336402u /* 198.51.100.2 */

static struct nat *one_box(enum scenario_nat_behaviour mapping,
                           enum scenario_nat_behaviour filtering, uint32_t *box)
{
    struct nat *n = nat_new(7);
    struct nat_config c;
    nat_config_default(&c, SCENARIO_NAT_CUSTOM);
    c.mapping = mapping;
    c.filtering = filtering;
    *box = nat_box_add(n, &c);
    return n;
}

static uint16_t out_port(struct nat *n, uint32_t box, struct env_addr from, struct env_addr to,
                         env_time now)
{
    struct env_addr ext = {0};
    CU_ASSERT_EQUAL(nat_outbound(n, box, &from, &to, now, &ext), NAT_PASS);
    CU_ASSERT_EQUAL(ext.ip, nat_box_ip(box));
    return ext.port;
}

static enum nat_verdict in(struct nat *n, uint32_t box, uint16_t port, struct env_addr from,
                           env_time now, struct env_addr *to)
{
    struct env_addr dummy;
    return nat_inbound(n, box, port, &from, now, to ? to : &dummy);
}

/* ---- the nine combinations ------------------------------------------------------------------ */

/* X:4000 sends to Y1:5000, then the inbound probes below; then X sends to Y1:5001 and to
 * Y2:5000 and the probes run again.  Expected results per mapping x filtering. */
static void test_nat_combinations(void)
{
    const enum scenario_nat_behaviour EI = SCENARIO_NAT_ENDPOINT_INDEPENDENT,
                                      AD = SCENARIO_NAT_ADDRESS_DEPENDENT,
                                      APD = SCENARIO_NAT_ADDRESS_PORT_DEPENDENT;
    const struct env_addr y1 = ep(Y1_IP, 5000), y1b = ep(Y1_IP, 5001), y2 = ep(Y2_IP, 5000);
    const struct env_addr probes[3] = {y1, y1b, y2};
    /* [mapping][filtering][probe]: passes to the first mapping's port after the first send */
    static const bool first[3][3][3] = {
        /* EIM */ {{1, 1, 1}, {1, 1, 0}, {1, 0, 0}},
        /* ADM */ {{1, 1, 1}, {1, 1, 0}, {1, 0, 0}},
        /* APDM */ {{1, 1, 1}, {1, 1, 0}, {1, 0, 0}},
    };
    /* ... after the sends to Y1:5001 and Y2:5000: with EIM they went through the same mapping
     * and opened its filter; with ADM only Y1:5001 did; with APDM neither. */
    static const bool after[3][3][3] = {
        /* EIM */ {{1, 1, 1}, {1, 1, 1}, {1, 1, 1}},
        /* ADM */ {{1, 1, 1}, {1, 1, 0}, {1, 1, 0}},
        /* APDM */ {{1, 1, 1}, {1, 1, 0}, {1, 0, 0}},
    };
    const enum scenario_nat_behaviour all[3] = {EI, AD, APD};
    for (int m = 0; m < 3; m++)
        for (int f = 0; f < 3; f++) {
            uint32_t box;
            struct nat *n = one_box(all[m], all[f], &box);
            struct env_addr x = ep(X_IP, 4000);
            uint16_t p1 = out_port(n, box, x, y1, 0);
            CU_ASSERT_EQUAL(p1, 4000); /* port preservation */
            for (int k = 0; k < 3; k++) {
                struct env_addr to = {0};
                enum nat_verdict v = in(n, box, p1, probes[k], ENV_S, &to);
                CU_ASSERT_EQUAL(v, first[m][f][k] ? NAT_PASS : NAT_FILTERED);
                if (v == NAT_PASS)
                    CU_ASSERT(env_addr_eq(&to, &x));
            }
            /* A port with no mapping behind it. */
            CU_ASSERT_EQUAL(in(n, box, 4001, y1, ENV_S, NULL), NAT_NO_BINDING);
            uint16_t p2 = out_port(n, box, x, y1b, 2 * ENV_S);
            uint16_t p3 = out_port(n, box, x, y2, 2 * ENV_S);
            /* §4.1: the same mapping for another port of Y1 unless APDM, for Y2 only with EIM */
            CU_ASSERT_EQUAL(p2 == p1, all[m] != APD);
            CU_ASSERT_EQUAL(p3 == p1, all[m] == EI);
            CU_ASSERT(p3 != p2 || all[m] == EI);
            for (int k = 0; k < 3; k++)
                CU_ASSERT_EQUAL(in(n, box, p1, probes[k], 3 * ENV_S, NULL),
                                after[m][f][k] ? NAT_PASS : NAT_FILTERED);
            /* Each mapping leads back to X and admits the endpoint it was made for. */
            struct env_addr to = {0};
            CU_ASSERT_EQUAL(in(n, box, p3, y2, 3 * ENV_S, &to), NAT_PASS);
            CU_ASSERT(env_addr_eq(&to, &x));
            CU_ASSERT_EQUAL(nat_mappings_made(n), all[m] == EI ? 1u : all[m] == AD ? 2u : 3u);
            nat_free(n);
        }
}

/* The shorthands are the combinations docs/nat.md names. */
static void test_nat_shorthands(void)
{
    struct nat_config c;
    nat_config_default(&c, SCENARIO_NAT_FULL_CONE);
    CU_ASSERT(c.mapping == SCENARIO_NAT_ENDPOINT_INDEPENDENT &&
              c.filtering == SCENARIO_NAT_ENDPOINT_INDEPENDENT);
    nat_config_default(&c, SCENARIO_NAT_RESTRICTED);
    CU_ASSERT(c.mapping == SCENARIO_NAT_ENDPOINT_INDEPENDENT &&
              c.filtering == SCENARIO_NAT_ADDRESS_DEPENDENT);
    nat_config_default(&c, SCENARIO_NAT_PORT_RESTRICTED);
    CU_ASSERT(c.mapping == SCENARIO_NAT_ENDPOINT_INDEPENDENT &&
              c.filtering == SCENARIO_NAT_ADDRESS_PORT_DEPENDENT);
    CU_ASSERT_EQUAL(c.ports, SCENARIO_NAT_PORTS_PRESERVE);
    nat_config_default(&c, SCENARIO_NAT_SYMMETRIC);
    CU_ASSERT(c.mapping == SCENARIO_NAT_ADDRESS_PORT_DEPENDENT &&
              c.filtering == SCENARIO_NAT_ADDRESS_PORT_DEPENDENT);
    CU_ASSERT_EQUAL(c.ports, SCENARIO_NAT_PORTS_RANDOM);
    CU_ASSERT_EQUAL(c.timeout, T);
    CU_ASSERT(!c.hairpin && !c.inbound_refresh);
    CU_ASSERT_STRING_EQUAL(nat_type_name(SCENARIO_NAT_PORT_RESTRICTED), "port_restricted");
}

/* ---- timeouts ------------------------------------------------------------------------------- */

static void test_nat_expiry_refresh(void)
{
    uint32_t box;
    struct nat *n =
        one_box(SCENARIO_NAT_ENDPOINT_INDEPENDENT, SCENARIO_NAT_ENDPOINT_INDEPENDENT, &box);
    struct env_addr x = ep(X_IP, 4000), y = ep(Y1_IP, 5000);
    uint16_t p = out_port(n, box, x, y, 0);
    CU_ASSERT_EQUAL(in(n, box, p, y, T - 1, NULL), NAT_PASS);
    CU_ASSERT_EQUAL(in(n, box, p, y, T, NULL), NAT_NO_BINDING); /* inbound did not refresh */
    /* Outbound refreshes. */
    CU_ASSERT_EQUAL(out_port(n, box, x, y, 2 * T), p); /* a new mapping, the same port */
    CU_ASSERT_EQUAL(out_port(n, box, x, y, 2 * T + T / 2), p);
    CU_ASSERT_EQUAL(in(n, box, p, y, 3 * T + T / 2 - 1, NULL), NAT_PASS);
    CU_ASSERT_EQUAL(in(n, box, p, y, 3 * T + T / 2, NULL), NAT_NO_BINDING);
    struct env_addr peek;
    CU_ASSERT(!nat_peek(n, box, p, 3 * T + T / 2, &peek));
    CU_ASSERT_EQUAL(nat_mappings_made(n), 2);
    nat_free(n);

    /* With inbound refresh, inbound traffic keeps the binding. */
    struct nat *m = nat_new(7);
    struct nat_config c;
    nat_config_default(&c, SCENARIO_NAT_PORT_RESTRICTED);
    c.inbound_refresh = true;
    box = nat_box_add(m, &c);
    p = out_port(m, box, x, y, 0);
    for (env_time t = T / 2; t < 5 * T; t += T / 2)
        CU_ASSERT_EQUAL(in(m, box, p, y, t, NULL), NAT_PASS);
    CU_ASSERT(nat_peek(m, box, p, 5 * T - 1, &peek));
    CU_ASSERT(env_addr_eq(&peek, &x));
    /* ... but a filtered datagram refreshes nothing. */
    struct env_addr other = ep(Y2_IP, 5000);
    CU_ASSERT_EQUAL(in(m, box, p, other, 5 * T, NULL), NAT_FILTERED);
    CU_ASSERT_EQUAL(in(m, box, p, y, 5 * T + T / 2, NULL), NAT_NO_BINDING);
    nat_free(m);
}

/* A permission lives until `timeout` after the last datagram to its endpoint, even while the
 * mapping lives on through traffic to others. */
static void test_nat_permission_expiry(void)
{
    uint32_t box;
    struct nat *n =
        one_box(SCENARIO_NAT_ENDPOINT_INDEPENDENT, SCENARIO_NAT_ADDRESS_PORT_DEPENDENT, &box);
    struct env_addr x = ep(X_IP, 4000), y1 = ep(Y1_IP, 5000), y2 = ep(Y2_IP, 5000);
    uint16_t p = out_port(n, box, x, y1, 0);
    CU_ASSERT_EQUAL(out_port(n, box, x, y2, T / 2), p);
    CU_ASSERT_EQUAL(in(n, box, p, y1, T - 1, NULL), NAT_PASS);
    CU_ASSERT_EQUAL(in(n, box, p, y1, T, NULL), NAT_FILTERED);
    CU_ASSERT_EQUAL(in(n, box, p, y2, T, NULL), NAT_PASS);
    CU_ASSERT_EQUAL(in(n, box, p, y2, T + T / 2, NULL), NAT_NO_BINDING);
    CU_ASSERT_EQUAL(nat_count(n, NAT_FILTERED), 1);
    CU_ASSERT_EQUAL(nat_count(n, NAT_NO_BINDING), 1);
    nat_free(n);
}

/* ---- hairpinning ---------------------------------------------------------------------------- */

static void test_nat_hairpin(void)
{
    for (int hairpin = 0; hairpin <= 1; hairpin++)
        for (int cone = 0; cone <= 1; cone++) {
            struct nat *n = nat_new(7);
            struct nat_config c;
            nat_config_default(&c, cone ? SCENARIO_NAT_FULL_CONE : SCENARIO_NAT_PORT_RESTRICTED);
            c.hairpin = hairpin;
            uint32_t box = nat_box_add(n, &c);
            struct env_addr a = ep(X_IP, 6084), b = ep(X2_IP, 6084), y = ep(Y1_IP, 6084);
            uint16_t pa = out_port(n, box, a, y, 0);
            uint16_t pb = out_port(n, box, b, y, 0);
            CU_ASSERT_EQUAL(pa, 6084);
            CU_ASSERT_EQUAL(pb, 6085); /* the next free port */
            struct env_addr to_b = ep(nat_box_ip(box), pb), ext = {0};
            enum nat_verdict v = nat_outbound(n, box, &a, &to_b, ENV_S, &ext);
            if (!hairpin) {
                CU_ASSERT_EQUAL(v, NAT_NO_HAIRPIN);
                nat_free(n);
                continue;
            }
            /* §6: the hairpinned datagram carries A's external address as its source. */
            CU_ASSERT_EQUAL_FATAL(v, NAT_PASS);
            CU_ASSERT(env_addr_eq(&ext, &(struct env_addr){nat_box_ip(box), pa}));
            struct env_addr to = {0};
            v = nat_inbound(n, box, pb, &ext, ENV_S, &to);
            if (cone) {
                CU_ASSERT_EQUAL(v, NAT_PASS);
                CU_ASSERT(env_addr_eq(&to, &b));
            } else {
                /* B has not sent to A's external address yet; once it has, A gets in. */
                CU_ASSERT_EQUAL(v, NAT_FILTERED);
                struct env_addr to_a = ep(nat_box_ip(box), pa), ext_b = {0};
                CU_ASSERT_EQUAL(nat_outbound(n, box, &b, &to_a, 2 * ENV_S, &ext_b), NAT_PASS);
                CU_ASSERT_EQUAL(ext_b.port, pb);
                CU_ASSERT_EQUAL(nat_inbound(n, box, pb, &ext, 3 * ENV_S, &to), NAT_PASS);
                CU_ASSERT(env_addr_eq(&to, &b));
            }
            nat_free(n);
        }
}

/* ---- several hosts, ports ------------------------------------------------------------------- */

static void test_nat_several_hosts(void)
{
    uint32_t box;
    struct nat *n =
        one_box(SCENARIO_NAT_ENDPOINT_INDEPENDENT, SCENARIO_NAT_ADDRESS_PORT_DEPENDENT, &box);
    uint32_t other = nat_box_add(n, nat_box_config(n, box));
    CU_ASSERT_EQUAL(other, 1);
    CU_ASSERT_EQUAL(nat_boxes(n), 2);
    CU_ASSERT_EQUAL(nat_box_at(n, nat_box_ip(other)), other);
    CU_ASSERT_EQUAL(nat_box_at(n, nat_box_ip(2)), NAT_NONE);
    CU_ASSERT_EQUAL(nat_box_at(n, X_IP), NAT_NONE);
    struct env_addr y = ep(Y1_IP, 6084);
    uint16_t port[8];
    for (uint32_t h = 0; h < 8; h++)
        port[h] = out_port(n, box, ep(X_IP + h, 6084), y, 0);
    for (uint32_t h = 0; h < 8; h++) {
        CU_ASSERT_EQUAL(port[h], 6084 + h);
        struct env_addr to = {0};
        CU_ASSERT_EQUAL(in(n, box, port[h], y, ENV_S, &to), NAT_PASS);
        CU_ASSERT(env_addr_eq(&to, &(struct env_addr){X_IP + h, 6084}));
    }
    /* Boxes are independent: the other one preserves 6084 too, and knows nothing of box 0. */
    CU_ASSERT_EQUAL(out_port(n, other, ep(X_IP, 6084), y, 0), 6084);
    CU_ASSERT_EQUAL(in(n, other, 6085, y, ENV_S, NULL), NAT_NO_BINDING);
    nat_free(n);
}

static void test_nat_port_exhaustion(void)
{
    struct nat *n = nat_new(7);
    struct nat_config c;
    nat_config_default(&c, SCENARIO_NAT_SYMMETRIC);
    c.ports = SCENARIO_NAT_PORTS_PRESERVE;
    c.port_min = 5000;
    c.port_max = 5001;
    uint32_t box = nat_box_add(n, &c);
    struct env_addr x = ep(X_IP, 5001), y1 = ep(Y1_IP, 1), y2 = ep(Y1_IP, 2), y3 = ep(Y1_IP, 3);
    CU_ASSERT_EQUAL(out_port(n, box, x, y1, 0), 5001);
    CU_ASSERT_EQUAL(out_port(n, box, x, y2, 0), 5000); /* wraps to the start of the range */
    struct env_addr ext;
    CU_ASSERT_EQUAL(nat_outbound(n, box, &x, &y3, ENV_S, &ext), NAT_NO_PORT);
    CU_ASSERT_EQUAL(nat_count(n, NAT_NO_PORT), 1);
    /* The existing mappings still work and are refreshed; y2's expires. */
    CU_ASSERT_EQUAL(out_port(n, box, x, y1, T / 2), 5001);
    CU_ASSERT_EQUAL(out_port(n, box, x, y3, T), 5000); /* y2's port, reused */
    /* The reused port admits its new remote only, not the old one. */
    CU_ASSERT_EQUAL(in(n, box, 5000, y3, T + 1, NULL), NAT_PASS);
    CU_ASSERT_EQUAL(in(n, box, 5000, y2, T + 1, NULL), NAT_FILTERED);
    /* EIM with APDF: a reused port inherits no permission of the mapping it replaces. */
    struct nat *m = nat_new(7);
    nat_config_default(&c, SCENARIO_NAT_PORT_RESTRICTED);
    c.port_min = c.port_max = 7000;
    box = nat_box_add(m, &c);
    CU_ASSERT_EQUAL(out_port(m, box, ep(X_IP, 1), y1, 0), 7000);
    CU_ASSERT_EQUAL(nat_outbound(m, box, &(struct env_addr){X2_IP, 1}, &y2, T - 1, &ext),
                    NAT_NO_PORT);
    CU_ASSERT_EQUAL(out_port(m, box, ep(X2_IP, 1), y2, T), 7000);
    struct env_addr to;
    CU_ASSERT_EQUAL(in(m, box, 7000, y1, T, &to), NAT_FILTERED);
    CU_ASSERT_EQUAL(in(m, box, 7000, y2, T, &to), NAT_PASS);
    CU_ASSERT_EQUAL(to.ip, X2_IP);
    nat_free(m);
    nat_free(n);
}

/* Random ports: in range, seeded, not the internal port's neighbourhood every time. */
static void test_nat_random_ports(void)
{
    uint16_t a[50], b[50];
    for (int run = 0; run < 2; run++) {
        struct nat *n = nat_new(99);
        struct nat_config c;
        nat_config_default(&c, SCENARIO_NAT_SYMMETRIC);
        uint32_t box = nat_box_add(n, &c);
        for (uint16_t i = 0; i < 50; i++)
            (run ? b : a)[i] = out_port(n, box, ep(X_IP, 6084), ep(Y1_IP, 1000 + i), 0);
        nat_free(n);
    }
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
    int distinct_from_preserved = 0;
    for (int i = 0; i < 50; i++) {
        CU_ASSERT(a[i] >= NAT_PORT_MIN);
        distinct_from_preserved += a[i] < 6084 || a[i] > 6084 + 50;
        for (int j = 0; j < i; j++)
            CU_ASSERT(a[i] != a[j]);
    }
    CU_ASSERT(distinct_from_preserved > 40);
}

/* Expired entries are dropped when the tables fill: a long run of short-lived mappings keeps
 * the tables small. */
static void test_nat_lazy_expiry(void)
{
    struct nat *n = nat_new(7);
    struct nat_config c;
    nat_config_default(&c, SCENARIO_NAT_PORT_RESTRICTED);
    c.timeout = 10 * ENV_S;
    uint32_t box = nat_box_add(n, &c);
    size_t mem0 = nat_memory(n);
    /* 20,000 hosts each open a mapping and a permission, 100 per second. */
    uint16_t first = 0, last = 0;
    for (uint32_t h = 0; h < 20000; h++) {
        last = out_port(n, box, ep(X_IP + h, 1), ep(Y1_IP, 2), (env_time)h * 10 * ENV_MS);
        if (h == 0)
            first = last;
    }
    CU_ASSERT_EQUAL(nat_mappings_made(n), 20000);
    /* About 1000 are alive at any time: a table holds at most 4 entries per live one (a
     * rebuild leaves it at most 3/8 full, the next comes at 3/4), not 20,000. */
    CU_ASSERT(nat_entries(n) <= 3 * 4 * 1002);
    CU_ASSERT(nat_memory(n) < mem0 + 3 * 4096 * 80);
    /* The newest mapping works; the first one's port now leads to a recent host. */
    struct env_addr to;
    CU_ASSERT_EQUAL(in(n, box, last, ep(Y1_IP, 2), 200 * ENV_S, &to), NAT_PASS);
    CU_ASSERT_EQUAL(to.ip, X_IP + 19999);
    if (nat_inbound(n, box, first, &(struct env_addr){Y1_IP, 2}, 200 * ENV_S, &to) == NAT_PASS)
        CU_ASSERT(to.ip > X_IP + 18000);
    nat_free(n);
}

/* ---- the scenario --------------------------------------------------------------------------- */

#define HEAD "name: n\nduration: 5s\npeers: 100\n"

static void test_nat_scenario_keys(void)
{
    char *path;
    GError *err = NULL;
    struct scenario *s =
        world_util_load_yaml(HEAD "nat:\n"
                                  "  mix:\n"
                                  "    - {type: public, share: 0.3}\n"
                                  "    - {type: port_restricted, share: 0.4}\n"
                                  "    - {type: custom, share: 0.2, mapping: address_dependent,"
                                  " filtering: endpoint_independent, ports: random}\n"
                                  "    - {type: symmetric, share: 0.1}\n"
                                  "  binding_timeout: 30s\n"
                                  "  hairpin: true\n"
                                  "  peers_per_nat: 3\n",
                             &path, &err);
    CU_ASSERT_PTR_NULL(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(nat_in_scenario(s));
    CU_ASSERT_EQUAL_FATAL(s->nat.mix->len, 4);
    const struct scenario_nat_entry *e = (const struct scenario_nat_entry *)s->nat.mix->data;
    CU_ASSERT_EQUAL(e[1].type, SCENARIO_NAT_PORT_RESTRICTED);
    CU_ASSERT_EQUAL(e[1].filtering, SCENARIO_NAT_ADDRESS_PORT_DEPENDENT);
    CU_ASSERT_EQUAL(e[1].ports, SCENARIO_NAT_PORTS_PRESERVE);
    CU_ASSERT_EQUAL(e[2].mapping, SCENARIO_NAT_ADDRESS_DEPENDENT);
    CU_ASSERT_EQUAL(e[2].ports, SCENARIO_NAT_PORTS_RANDOM);
    CU_ASSERT_EQUAL(e[3].mapping, SCENARIO_NAT_ADDRESS_PORT_DEPENDENT);
    CU_ASSERT_EQUAL(e[3].ports, SCENARIO_NAT_PORTS_RANDOM);
    CU_ASSERT_DOUBLE_EQUAL(e[3].share, 0.1, 1e-12);
    CU_ASSERT_EQUAL(s->nat.binding_timeout, 30 * ENV_S);
    CU_ASSERT(s->nat.hairpin && !s->nat.inbound_refresh);
    CU_ASSERT_EQUAL(s->nat.peers_per_nat, 3);
    /* The resolved YAML reads back to the same mix. */
    char *yaml = scenario_to_yaml(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "  mix:\n    - {type: public, share: 0.3}\n"));
    struct scenario *again = world_util_reload(yaml);
    CU_ASSERT_EQUAL(again->nat.mix->len, 4);
    CU_ASSERT_EQUAL(
        memcmp(again->nat.mix->data, s->nat.mix->data, 4 * sizeof(struct scenario_nat_entry)), 0);
    g_free(yaml);
    scenario_free(again);
    scenario_free(s);
    g_unlink(path);
    g_free(path);

    /* No block: no NAT, and the defaults. */
    s = world_util_load_yaml(HEAD, &path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(!nat_in_scenario(s));
    CU_ASSERT_EQUAL(s->nat.binding_timeout, T);
    CU_ASSERT_EQUAL(s->nat.peers_per_nat, 1);
    scenario_free(s);
    g_unlink(path);
    g_free(path);
}

/* Bad nat settings: each error names FILE:LINE:COLUMN and the key. */
static void test_nat_scenario_errors(void)
{
    static const struct {
        const char *yaml, *where, *what;
    } bad[] = {
        {HEAD "nat:\n  mix: [{type: public, share: 0.3}, {type: symmetric, share: 0.3}]\n",
         ":5:8:", "key 'nat.mix': the shares sum to 0.6; they must sum to 1"},
        {HEAD "nat:\n  mix: [{type: cgnat, share: 1}]\n",
         ":5:16:", "key 'nat.mix.0.type': unknown value 'cgnat'"},
        {HEAD "nat:\n  mix: [{type: custom, share: 1, mapping: endpoint_independent}]\n",
         ":5:9:", "key 'nat.mix.0.filtering': missing: type custom needs mapping and filtering"},
        {HEAD "nat:\n  mix: [{type: full_cone, share: 1, filtering: address_dependent}]\n",
         ":5:37:", "key 'nat.mix.0.filtering': not a field of type 'full_cone'"},
        {HEAD "nat:\n  mix: [{type: public, share: 1, ports: random}]\n",
         ":5:34:", "key 'nat.mix.0.ports': not a field of type 'public'"},
        {HEAD "nat:\n  mix: [{type: symmetric}]\n",
         ":5:9:", "key 'nat.mix.0.share': missing required field"},
        {HEAD "nat:\n  mix: [{type: symmetric, share: 1.5}]\n",
         ":5:34:", "key 'nat.mix.0.share': must be <= 1"},
        {HEAD "nat:\n  mix: [{type: symmetric, share: 1, colour: red}]\n",
         ":5:37:", "key 'nat.mix.0.colour': unknown field"},
        {HEAD "nat:\n  mix: {type: symmetric}\n", ":5:8:", "key 'nat.mix': expected a sequence"},
        {HEAD "nat:\n  peers_per_nat: 0\n", ":5:18:", "key 'nat.peers_per_nat': must be >= 1"},
        {HEAD "nat:\n  hairpin: sometimes\n",
         ":5:12:", "key 'nat.hairpin': expected true or false"},
        {HEAD "nat:\n  stun: yes\n", ":5:3:", "key 'nat.stun': unknown key"},
        {HEAD "nat:\n  relay_discovery: dns\n", ":5:20:",
         "key 'nat.relay_discovery': unknown value 'dns' (expected: configured, service)"},
        {HEAD "nat:\n  relay_policy: nearest\n", ":5:17:", "key 'nat.relay_policy': unknown value"},
        {HEAD "nat:\n  bootstrap_relays: 0\n",
         ":5:21:", "key 'nat.bootstrap_relays': must be >= 1"},
        {HEAD "nat:\n  relay_capacity: 0\n", ":5:19:", "key 'nat.relay_capacity': must be >= 1"},
        {HEAD "nat:\n  relay_failover: maybe\n",
         ":5:19:", "key 'nat.relay_failover': expected true or false"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
        world_util_check_bad(i, bad[i].yaml, bad[i].where, bad[i].what);
    /* The mix cannot be --set (it is a list in the file). */
    char *path;
    GError *err = NULL;
    const char *ov[] = {"nat.mix=symmetric", NULL};
    char *p = world_util_write_yaml(HEAD);
    struct scenario *s = scenario_load(p, ov, &err);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "--set nat.mix=symmetric: key 'nat.mix'"));
    g_clear_error(&err);
    g_unlink(p);
    g_free(p);
    (void)path;
}

/* Exact shares, seeded shuffle, boxes of peers_per_nat peers of one entry. */
static void test_nat_layout(void)
{
    char *path;
    GError *err = NULL;
    struct scenario *s = world_util_load_yaml(
        HEAD "nat:\n  mix: [{type: public, share: 0.25},"
             " {type: full_cone, share: 0.35}, {type: symmetric, share: 0.4}]\n"
             "  peers_per_nat: 4\n",
        &path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    struct nat *n = nat_from_scenario(s, 1001, 5, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    /* 250.25, 350.35, 400.4: floors 250 + 350 + 400 = 1000; the last peer to the largest
     * remainder (symmetric's 0.4). */
    CU_ASSERT_EQUAL(nat_type_peers(n, SCENARIO_NAT_PUBLIC), 250);
    CU_ASSERT_EQUAL(nat_type_peers(n, SCENARIO_NAT_FULL_CONE), 350);
    CU_ASSERT_EQUAL(nat_type_peers(n, SCENARIO_NAT_SYMMETRIC), 401);
    CU_ASSERT_EQUAL(nat_boxes(n), (350 + 3) / 4 + (401 + 3) / 4);
    uint32_t *members = g_new0(uint32_t, nat_boxes(n));
    uint32_t pub = 0, last_new = 0;
    bool in_order = true;
    for (uint32_t p = 0; p < 1001; p++) {
        uint32_t b = nat_peer_box(n, p);
        if (b == NAT_NONE) {
            pub++;
            continue;
        }
        if (members[b]++ == 0) { /* boxes numbered in the order of their first peer */
            in_order &= b == last_new;
            last_new++;
        }
    }
    CU_ASSERT(in_order);
    CU_ASSERT_EQUAL(pub, 250);
    for (uint32_t b = 0; b < nat_boxes(n); b++) {
        CU_ASSERT(members[b] >= 1 && members[b] <= 4);
        const struct nat_config *c = nat_box_config(n, b);
        CU_ASSERT(c->type == SCENARIO_NAT_FULL_CONE || c->type == SCENARIO_NAT_SYMMETRIC);
        CU_ASSERT_EQUAL(c->timeout, T);
    }
    CU_ASSERT_EQUAL(nat_peer_box(n, 5000), NAT_NONE);
    /* The same seed gives the same layout; another seed another one. */
    struct nat *same = nat_from_scenario(s, 1001, 5, &err);
    struct nat *other = nat_from_scenario(s, 1001, 6, &err);
    uint32_t differ = 0;
    for (uint32_t p = 0; p < 1001; p++) {
        CU_ASSERT_EQUAL(nat_peer_box(same, p), nat_peer_box(n, p));
        differ += nat_peer_box(other, p) != nat_peer_box(n, p);
    }
    CU_ASSERT(differ > 100);
    nat_free(same);
    nat_free(other);
    g_free(members);
    nat_free(n);
    scenario_free(s);
    g_unlink(path);
    g_free(path);
}

/* ---- whole worlds --------------------------------------------------------------------------- */

#define WORLD_YAML                                                                                 \
    "name: w\nseed: 3\nduration: 16s\npeers: 64\n"                                                 \
    "overlay: {topology: chord, join: instant}\n"                                                  \
    "latency: {model: constant, ms: 20}\n"                                                         \
    "workload: {start: 6s, lookups: 500, lookup_rate: 100, records: 20, fetches: 100}\n"

/* A nat block where every peer is public changes nothing but adds the NAT rows. */
static void test_nat_world_all_public(void)
{
    struct world_util_run plain, pub;
    world_util_run_yaml(WORLD_YAML, &plain);
    world_util_run_yaml(WORLD_YAML "nat: {mix: [{type: public, share: 1}]}\n", &pub);
    CU_ASSERT(!world_util_has_row(plain.rows, "dropped_nat"));
    CU_ASSERT_EQUAL_FATAL(pub.rows->len, plain.rows->len + 15);
    for (guint i = 0; i < plain.rows->len; i++) {
        const struct world_row *a = &g_array_index(plain.rows, struct world_row, i);
        const struct world_row *b = &g_array_index(pub.rows, struct world_row, i);
        CU_ASSERT_STRING_EQUAL(a->name, b->name);
        CU_ASSERT_STRING_EQUAL(a->text, b->text);
    }
    CU_ASSERT_EQUAL(world_util_row(pub.rows, "lookup_success"), 1.0);
    CU_ASSERT_EQUAL(world_util_row(pub.rows, "dropped_nat"), 0);
    CU_ASSERT_EQUAL(world_util_row(pub.rows, "peers_public"), 64);
    CU_ASSERT_EQUAL(world_util_row(pub.rows, "peers_behind_nat"), 0);
    CU_ASSERT_EQUAL(world_util_row(pub.rows, "nat_boxes"), 0);
    CU_ASSERT(world_peer_public(plain.w, 0) && world_peer_public(pub.w, 63));
    world_util_run_free(&plain);
    world_util_run_free(&pub);
}

/* Every peer behind one box: the overlay lives in one private network and never crosses the
 * NAT. */
static void test_nat_world_one_box(void)
{
    struct world_util_run r;
    world_util_run_yaml(WORLD_YAML "nat: {mix: [{type: symmetric, share: 1}], peers_per_nat: 64}\n",
                        &r);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "lookup_success"), 1.0);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "nat_boxes"), 1);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "peers_symmetric"), 64);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "dropped_nat"), 0);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "nat_mappings"), 0);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "links_failed"), 0);
    for (uint32_t i = 0; i < 64; i++)
        CU_ASSERT(!world_peer_public(r.w, i));
    world_util_run_free(&r);
}

/* Half the peers behind port-restricted NATs, without traversal: public peers cannot reach the
 * private addresses their tables hold, so links fail and lookups with them; the peers behind
 * NATs still reach public ones (outbound mappings).  Seeded: the same rows twice. */
static void test_nat_world_half(void)
{
    const char *yaml = WORLD_YAML "nat: {traversal: false, mix: [{type: public, share: 0.5},"
                                  " {type: port_restricted, share: 0.5}]}\n";
    struct world_util_run r, again;
    world_util_run_yaml(yaml, &r);
    uint32_t pub = 0;
    for (uint32_t i = 0; i < 64; i++)
        pub += world_peer_public(r.w, i);
    CU_ASSERT_EQUAL(pub, 32);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "peers_port_restricted"), 32);
    CU_ASSERT_EQUAL(world_util_row(r.rows, "nat_boxes"), 32);
    CU_ASSERT(world_util_row(r.rows, "dropped_nat_unreachable") > 0);
    CU_ASSERT(world_util_row(r.rows, "nat_mappings") >= 32); /* every NATed peer went out */
    CU_ASSERT(world_util_row(r.rows, "lookup_success") < 0.95);
    CU_ASSERT(world_util_row(r.rows, "links_failed") > 0);
    CU_ASSERT_EQUAL(world_metrics(r.w)->dropped_nat,
                    (uint64_t)world_util_row(r.rows, "dropped_nat"));
    CU_ASSERT_EQUAL(world_util_row(r.rows, "dropped_nat"),
                    world_util_row(r.rows, "dropped_nat_unreachable") +
                        world_util_row(r.rows, "dropped_nat_no_binding") +
                        world_util_row(r.rows, "dropped_nat_filtered") +
                        world_util_row(r.rows, "dropped_nat_hairpin") +
                        world_util_row(r.rows, "dropped_nat_no_port"));
    world_util_run_yaml(yaml, &again);
    CU_ASSERT_EQUAL_FATAL(again.rows->len, r.rows->len);
    for (guint i = 0; i < r.rows->len; i++)
        CU_ASSERT_STRING_EQUAL(g_array_index(r.rows, struct world_row, i).text,
                               g_array_index(again.rows, struct world_row, i).text);
    world_util_run_free(&again);
    world_util_run_free(&r);
}

/* nat.mix.TYPE (--set and sweep:): the share of the file's entry of that type, the other
 * entries rescaled in proportion; a sweep point loads with its share; bad values, a type the
 * mix lacks and a mix with nothing left to rescale are refused with the key. */
static void test_nat_mix_share_keys(void)
{
    static const char *const yaml =
        HEAD "nat:\n  mix:\n    - {type: public, share: 0.5}\n"
             "    - {type: port_restricted, share: 0.3}\n    - {type: symmetric, share: 0.2}\n"
             "sweep:\n  nat.mix.symmetric: [0, 0.6]\n";
    char *path = world_util_write_yaml(yaml);
    GError *err = NULL;
    const char *const set[] = {"nat.mix.symmetric=0.6", NULL};
    struct scenario *s = scenario_load(path, set, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const struct scenario_nat_entry *e = (const struct scenario_nat_entry *)s->nat.mix->data;
    CU_ASSERT_EQUAL(s->nat.mix->len, 3);
    CU_ASSERT_DOUBLE_EQUAL(e[0].share, 0.25, 1e-12); /* 0.5 and 0.3 scaled by 0.4 / 0.8 */
    CU_ASSERT_DOUBLE_EQUAL(e[1].share, 0.15, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(e[2].share, 0.6, 1e-12);
    CU_ASSERT_EQUAL(e[2].type, SCENARIO_NAT_SYMMETRIC);
    CU_ASSERT_EQUAL(scenario_sweep_points(s), 2);
    char **ov = scenario_sweep_overrides(s, 0);
    CU_ASSERT_STRING_EQUAL(ov[0], "nat.mix.symmetric=0");
    scenario_free(s);
    s = scenario_load(path, (const char *const *)ov, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    e = (const struct scenario_nat_entry *)s->nat.mix->data;
    CU_ASSERT_DOUBLE_EQUAL(e[0].share, 0.625, 1e-12); /* scaled by 1 / 0.8 */
    CU_ASSERT_DOUBLE_EQUAL(e[2].share, 0, 1e-12);
    scenario_free(s);
    g_strfreev(ov);
    static const struct {
        const char *set, *what;
    } bad[] = {
        {"nat.mix.symmetric=1.5", "key 'nat.mix.symmetric': expected a share from 0 to 1"},
        {"nat.mix.symmetric=lots", "key 'nat.mix.symmetric': expected a share from 0 to 1"},
        {"nat.mix.full_cone=0.1",
         "key 'nat.mix.full_cone': nat.mix in the scenario file has no entry of type 'full_cone'"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        const char *const one[] = {bad[i].set, NULL};
        struct scenario *b = scenario_load(path, one, &err);
        CU_ASSERT_PTR_NULL(b);
        CU_ASSERT_PTR_NOT_NULL_FATAL(err);
        if (!strstr(err->message, bad[i].what))
            fprintf(stderr, "\n    case %zu: %s", i, err->message);
        CU_ASSERT(strstr(err->message, bad[i].what) != NULL);
        CU_ASSERT_EQUAL(err->code, i < 2 ? SCENARIO_ERROR_VALUE : SCENARIO_ERROR_KEY);
        g_clear_error(&err);
        scenario_free(b);
    }
    g_unlink(path);
    g_free(path);
    world_util_check_bad(0, HEAD "nat:\n  mix: [{type: public, share: 1}]\n"
                                 "sweep:\n  nat.mix.public: [0.5]\n",
                         ":7:20:", "key 'sweep.nat.mix.public': the other nat.mix entries have "
                                   "no share to scale up");
    world_util_check_bad(1, HEAD "sweep:\n  nat.mix.symmetric: [0.5]\n", ":5:23:",
                         "key 'sweep.nat.mix.symmetric': the scenario file has no nat.mix");
}

CU_TestInfo test_nat_tests[] = {
    {"combinations", test_nat_combinations},
    {"shorthands", test_nat_shorthands},
    {"expiry_refresh", test_nat_expiry_refresh},
    {"permission_expiry", test_nat_permission_expiry},
    {"hairpin", test_nat_hairpin},
    {"several_hosts", test_nat_several_hosts},
    {"port_exhaustion", test_nat_port_exhaustion},
    {"random_ports", test_nat_random_ports},
    {"lazy_expiry", test_nat_lazy_expiry},
    {"scenario_keys", test_nat_scenario_keys},
    {"scenario_errors", test_nat_scenario_errors},
    {"mix_share_keys", test_nat_mix_share_keys},
    {"layout", test_nat_layout},
    {"world_all_public", test_nat_world_all_public},
    {"world_one_box", test_nat_world_one_box},
    {"world_half", test_nat_world_half},
    CU_TEST_INFO_NULL,
};
