/* nat.c — simulated NAT boxes (sim/nat.h) after RFC 4787: endpoint-independent,
 * address-dependent and address-and-port-dependent mapping (§4.1) and filtering (§5), the
 * binding timeout refreshed by outbound traffic (§4.3, REQ-6; inbound refresh is an option),
 * port preservation or random ports (§4.2), hairpinning (§6); and the scenario's layout of
 * peers behind boxes (docs/nat.md).
 *
 * State.  Three open-addressing hash tables (linear probing, power-of-two capacity) shared by
 * every box, each entry carrying its box:
 *   map   (box, external port) -> the mapping: internal endpoint, the remote part of its key
 *         (0.0.0.0:0 for endpoint-independent mapping, Y:0 for address-dependent, Y:y for
 *         address-and-port-dependent) and its expiry.  32 bytes.
 *   out   (box, internal endpoint, remote part) -> external port: how an outbound datagram
 *         finds its mapping.  20 bytes.  An entry whose mapping has expired (or whose port
 *         went to another mapping since) is stale and treated as absent.
 *   perm  (box, external port, Y, y or 0) -> expiry: the filter's permissions, kept only
 *         when the filter is stricter than the mapping (EIM with address-dependent or
 *         address-and-port-dependent filtering, ADM with APDF).  Otherwise the mapping's own
 *         key is the permission: a symmetric mapping serves exactly one remote endpoint, so
 *         "Y:y was sent to through this mapping" is "Y:y is the mapping's remote".  24 bytes.
 * Permissions belong to a mapping, as in conntrack-style NATs; with endpoint-independent
 * mapping that is RFC 4787's "the internal endpoint has sent to Y".  A permission never
 * outlives its mapping (both are refreshed by the same datagrams), so a port handed to a new
 * mapping inherits no live permission.
 *
 * Expiry is lazy: an entry is alive while now < expires and nothing removes it when it dies.
 * A table is rebuilt when it would pass 3/4 full: the live entries are rehashed into a table
 * at most 3/8 full (grown when needed), the dead ones dropped.  A rebuild costs O(capacity)
 * after at least capacity/8 inserts, so O(1) amortised; nothing is allocated per datagram
 * otherwise.  Memory, at a load between 3/8 and 3/4: 70-140 bytes per mapping (map + out),
 * 32-64 bytes per permission.  A port-restricted peer talking to 30 others holds one mapping
 * and 30 permissions, a symmetric one 30 mappings: measured with 100,000 boxes, 1.1 KB and
 * 2.2 KB per peer (115 MB and 220 MB in all).  Plus 2 bytes per box and, for a scenario
 * layout, 4 bytes per peer.
 *
 * Port assignment (§4.2): `preserve` tries the internal port first (when inside the box's
 * range), `random` a port drawn uniformly from the range with the layer's seeded stream; both
 * then take the next free port upwards, wrapping.  A port is free when no live mapping holds
 * it.  When none is, the datagram is dropped (NAT_NO_PORT) until a mapping expires.
 */
#include "nat.h"

#include <string.h>

#include "engine.h"

/* Streams of the run seed: "natports" and "natlayot" in ASCII. */
#define NAT_STREAM_PORTS UINT64_C(0x6e6174706f727473)
#define NAT_STREAM_LAYOUT UINT64_C(0x6e61746c61796f74)

#define NAT_TABLE_MIN 64 /* slots */

struct nat_map {
    uint32_t box; /* NAT_NONE: an empty slot (the first field of every table entry) */
    uint16_t ext_port, int_port;
    uint32_t int_ip, rem_ip;
    uint16_t rem_port;
    env_time expires;
};

struct nat_out {
    uint32_t box;
    uint32_t int_ip, rem_ip;
    uint16_t int_port, rem_port, ext_port;
};

struct nat_perm {
    uint32_t box;
    uint16_t ext_port, rem_port;
    uint32_t rem_ip;
    env_time expires;
};

/* One table: `elt`-byte slots, an empty one starting with box == NAT_NONE. */
struct nat_table {
    uint8_t *slots;
    size_t elt;
    uint32_t mask; /* capacity - 1 */
    uint32_t used; /* slots holding an entry, alive or not */
};

struct nat {
    struct nat_table map, out, perm;
    GArray *configs; /* struct nat_config, distinct */
    GArray *box_cfg; /* uint16_t per box: its index in configs */
    struct sim_rng rng;
    uint64_t seed;
    uint64_t count[NAT_VERDICTS];
    uint64_t made;
    /* The scenario layout (nat_from_scenario), else NULL / 0. */
    uint32_t *peer_box;
    uint32_t n_peers;
    uint32_t type_peers[SCENARIO_NAT_TYPES];
};

/* ---- hashing and the tables ---------------------------------------------------------------- */

static uint64_t nat_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static uint64_t nat_hash_map(uint32_t box, uint16_t port)
{
    return nat_mix(((uint64_t)box << 16 | port) + 1);
}

static uint64_t nat_hash_out(uint32_t box, uint32_t int_ip, uint16_t int_port, uint32_t rem_ip,
                             uint16_t rem_port)
{
    uint64_t h = nat_mix((uint64_t)box << 32 | int_ip);
    h = nat_mix(h ^ ((uint64_t)int_port << 48 | (uint64_t)rem_port << 32 | rem_ip));
    return h;
}

static uint64_t nat_hash_perm(uint32_t box, uint16_t ext_port, uint32_t rem_ip, uint16_t rem_port)
{
    return nat_mix(nat_mix((uint64_t)box << 16 | ext_port) ^ ((uint64_t)rem_port << 32 | rem_ip));
}

static void nat_table_init(struct nat_table *t, size_t elt, uint32_t cap)
{
    t->elt = elt;
    t->mask = cap - 1;
    t->used = 0;
    t->slots = g_malloc(elt * cap);
    for (uint32_t i = 0; i < cap; i++)
        memcpy(t->slots + (size_t)i * elt, &(uint32_t){NAT_NONE}, sizeof(uint32_t));
}

static void *nat_slot(const struct nat_table *t, uint32_t i)
{
    return t->slots + (size_t)i * t->elt;
}

static bool nat_slot_empty(const void *slot)
{
    uint32_t box;
    memcpy(&box, slot, sizeof box);
    return box == NAT_NONE;
}

static size_t nat_table_bytes(const struct nat_table *t)
{
    return t->slots ? ((size_t)t->mask + 1) * t->elt : 0;
}

/* ---- lookups: the slot holding the key, or the empty slot where it would go ---- */

static struct nat_map *nat_map_find(const struct nat *n, uint32_t box, uint16_t port)
{
    const struct nat_table *t = &n->map;
    for (uint32_t i = (uint32_t)nat_hash_map(box, port) & t->mask;; i = (i + 1) & t->mask) {
        struct nat_map *m = nat_slot(t, i);
        if (m->box == NAT_NONE || (m->box == box && m->ext_port == port))
            return m;
    }
}

static struct nat_out *nat_out_find(const struct nat *n, uint32_t box, uint32_t int_ip,
                                    uint16_t int_port, uint32_t rem_ip, uint16_t rem_port)
{
    const struct nat_table *t = &n->out;
    uint64_t h = nat_hash_out(box, int_ip, int_port, rem_ip, rem_port);
    for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
        struct nat_out *o = nat_slot(t, i);
        if (o->box == NAT_NONE ||
            (o->box == box && o->int_ip == int_ip && o->int_port == int_port &&
             o->rem_ip == rem_ip && o->rem_port == rem_port))
            return o;
    }
}

static struct nat_perm *nat_perm_find(const struct nat *n, uint32_t box, uint16_t ext_port,
                                      uint32_t rem_ip, uint16_t rem_port)
{
    const struct nat_table *t = &n->perm;
    uint64_t h = nat_hash_perm(box, ext_port, rem_ip, rem_port);
    for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
        struct nat_perm *p = nat_slot(t, i);
        if (p->box == NAT_NONE || (p->box == box && p->ext_port == ext_port &&
                                   p->rem_ip == rem_ip && p->rem_port == rem_port))
            return p;
    }
}

static bool nat_map_alive(const struct nat_map *m, env_time now)
{
    return m->box != NAT_NONE && now < m->expires;
}

/* The live mapping an out entry names, or NULL when the entry is stale. */
static struct nat_map *nat_out_target(const struct nat *n, const struct nat_out *o, env_time now)
{
    struct nat_map *m = nat_map_find(n, o->box, o->ext_port);
    if (!nat_map_alive(m, now) || m->int_ip != o->int_ip || m->int_port != o->int_port ||
        m->rem_ip != o->rem_ip || m->rem_port != o->rem_port)
        return NULL;
    return m;
}

/* ---- rebuilding: keep the live entries, drop the dead, resize ---- */

enum nat_which { NAT_MAP, NAT_OUT, NAT_PERM };

static bool nat_keep(const struct nat *n, enum nat_which which, const void *slot, env_time now)
{
    switch (which) {
    case NAT_MAP:
        return now < ((const struct nat_map *)slot)->expires;
    case NAT_OUT:
        return nat_out_target(n, slot, now) != NULL;
    case NAT_PERM:
        return now < ((const struct nat_perm *)slot)->expires;
    }
    g_assert_not_reached();
}

static uint64_t nat_hash_slot(enum nat_which which, const void *slot)
{
    switch (which) {
    case NAT_MAP: {
        const struct nat_map *m = slot;
        return nat_hash_map(m->box, m->ext_port);
    }
    case NAT_OUT: {
        const struct nat_out *o = slot;
        return nat_hash_out(o->box, o->int_ip, o->int_port, o->rem_ip, o->rem_port);
    }
    case NAT_PERM: {
        const struct nat_perm *p = slot;
        return nat_hash_perm(p->box, p->ext_port, p->rem_ip, p->rem_port);
    }
    }
    g_assert_not_reached();
}

static struct nat_table *nat_table_of(struct nat *n, enum nat_which which)
{
    return which == NAT_MAP ? &n->map : which == NAT_OUT ? &n->out : &n->perm;
}

/* Makes room for one more entry: when the table would pass 3/4 full, its live entries are
 * moved to a table at most 3/8 full.  The out table is rebuilt while the map table is
 * unchanged (its entries are judged against it), so the map is never rebuilt from here
 * while an out entry is being judged. */
static void nat_reserve(struct nat *n, enum nat_which which, env_time now)
{
    struct nat_table *t = nat_table_of(n, which);
    uint32_t cap = t->mask + 1;
    if ((uint64_t)(t->used + 1) * 4 <= (uint64_t)cap * 3)
        return;
    uint32_t live = 0;
    for (uint32_t i = 0; i < cap; i++) {
        const void *s = nat_slot(t, i);
        live += !nat_slot_empty(s) && nat_keep(n, which, s, now);
    }
    uint32_t new_cap = NAT_TABLE_MIN;
    while ((uint64_t)(live + 1) * 8 > (uint64_t)new_cap * 3)
        new_cap *= 2;
    struct nat_table old = *t;
    nat_table_init(t, old.elt, new_cap);
    for (uint32_t i = 0; i < cap; i++) {
        const void *s = nat_slot(&old, i);
        if (nat_slot_empty(s) || !nat_keep(n, which, s, now))
            continue;
        uint32_t j = (uint32_t)nat_hash_slot(which, s) & t->mask;
        while (!nat_slot_empty(nat_slot(t, j)))
            j = (j + 1) & t->mask;
        memcpy(nat_slot(t, j), s, t->elt);
        t->used++;
    }
    g_free(old.slots);
}

/* ---- boxes --------------------------------------------------------------------------------- */

void nat_config_default(struct nat_config *c, enum scenario_nat_type type)
{
    static const enum scenario_nat_behaviour map[SCENARIO_NAT_TYPES][2] = {
        [SCENARIO_NAT_PUBLIC] = {SCENARIO_NAT_ENDPOINT_INDEPENDENT,
                                 SCENARIO_NAT_ENDPOINT_INDEPENDENT},
        [SCENARIO_NAT_FULL_CONE] = {SCENARIO_NAT_ENDPOINT_INDEPENDENT,
                                    SCENARIO_NAT_ENDPOINT_INDEPENDENT},
        [SCENARIO_NAT_RESTRICTED] = {SCENARIO_NAT_ENDPOINT_INDEPENDENT,
                                     SCENARIO_NAT_ADDRESS_DEPENDENT},
        [SCENARIO_NAT_PORT_RESTRICTED] = {SCENARIO_NAT_ENDPOINT_INDEPENDENT,
                                          SCENARIO_NAT_ADDRESS_PORT_DEPENDENT},
        [SCENARIO_NAT_SYMMETRIC] = {SCENARIO_NAT_ADDRESS_PORT_DEPENDENT,
                                    SCENARIO_NAT_ADDRESS_PORT_DEPENDENT},
        [SCENARIO_NAT_CUSTOM] = {SCENARIO_NAT_ENDPOINT_INDEPENDENT,
                                 SCENARIO_NAT_ENDPOINT_INDEPENDENT},
    };
    g_assert((unsigned)type < SCENARIO_NAT_TYPES);
    memset(c, 0, sizeof *c);
    c->type = type;
    c->mapping = map[type][0];
    c->filtering = map[type][1];
    c->ports =
        type == SCENARIO_NAT_SYMMETRIC ? SCENARIO_NAT_PORTS_RANDOM : SCENARIO_NAT_PORTS_PRESERVE;
    c->timeout = 120 * ENV_S;
    c->port_min = NAT_PORT_MIN;
    c->port_max = NAT_PORT_MAX;
}

struct nat *nat_new(uint64_t seed)
{
    struct nat *n = g_new0(struct nat, 1);
    nat_table_init(&n->map, sizeof(struct nat_map), NAT_TABLE_MIN);
    nat_table_init(&n->out, sizeof(struct nat_out), NAT_TABLE_MIN);
    nat_table_init(&n->perm, sizeof(struct nat_perm), NAT_TABLE_MIN);
    n->configs = g_array_new(FALSE, FALSE, sizeof(struct nat_config));
    n->box_cfg = g_array_new(FALSE, FALSE, sizeof(uint16_t));
    n->seed = seed;
    sim_rng_init(&n->rng, seed, NAT_STREAM_PORTS);
    return n;
}

void nat_free(struct nat *n)
{
    if (!n)
        return;
    g_free(n->map.slots);
    g_free(n->out.slots);
    g_free(n->perm.slots);
    g_array_unref(n->configs);
    g_array_unref(n->box_cfg);
    g_free(n->peer_box);
    g_free(n);
}

uint32_t nat_box_add(struct nat *n, const struct nat_config *cfg)
{
    g_assert(n->box_cfg->len < NAT_MAX_BOXES);
    g_assert(cfg->port_min >= 1 && cfg->port_min <= cfg->port_max && cfg->timeout > 0);
    struct nat_config c; /* compared whole below, so its padding is zeroed */
    memset(&c, 0, sizeof c);
    c.type = cfg->type;
    c.mapping = cfg->mapping;
    c.filtering = cfg->filtering;
    c.ports = cfg->ports;
    c.timeout = cfg->timeout;
    c.hairpin = cfg->hairpin;
    c.inbound_refresh = cfg->inbound_refresh;
    c.port_min = cfg->port_min;
    c.port_max = cfg->port_max;
    guint i = 0;
    while (i < n->configs->len &&
           memcmp(&g_array_index(n->configs, struct nat_config, i), &c, sizeof c) != 0)
        i++;
    if (i == n->configs->len) {
        g_assert(i <= UINT16_MAX);
        g_array_append_val(n->configs, c);
    }
    uint16_t idx = (uint16_t)i;
    g_array_append_val(n->box_cfg, idx);
    return n->box_cfg->len - 1;
}

uint32_t nat_boxes(const struct nat *n)
{
    return n->box_cfg->len;
}

const struct nat_config *nat_box_config(const struct nat *n, uint32_t box)
{
    g_assert(box < n->box_cfg->len);
    return &g_array_index(n->configs, struct nat_config, g_array_index(n->box_cfg, uint16_t, box));
}

uint32_t nat_box_ip(uint32_t box)
{
    g_assert(box < NAT_MAX_BOXES);
    return NAT_IP_BASE + box + 1;
}

uint32_t nat_box_at(const struct nat *n, uint32_t ip)
{
    if (ip <= NAT_IP_BASE)
        return NAT_NONE;
    uint64_t b = (uint64_t)ip - NAT_IP_BASE - 1;
    return b < n->box_cfg->len ? (uint32_t)b : NAT_NONE;
}

/* ---- translation --------------------------------------------------------------------------- */

static enum nat_verdict nat_verdict(struct nat *n, enum nat_verdict v)
{
    n->count[v]++;
    return v;
}

/* Whether the filter needs permissions of its own: it looks at more of the remote endpoint
 * than the mapping's key does. */
static bool nat_needs_perms(const struct nat_config *c)
{
    return c->filtering != SCENARIO_NAT_ENDPOINT_INDEPENDENT && c->filtering > c->mapping;
}

/* A free external port for a new mapping (see the file comment), or 0. */
static uint16_t nat_free_port(struct nat *n, uint32_t box, const struct nat_config *c,
                              uint16_t int_port, env_time now)
{
    uint32_t range = (uint32_t)c->port_max - c->port_min + 1;
    uint32_t first;
    if (c->ports == SCENARIO_NAT_PORTS_RANDOM)
        first = (uint32_t)sim_rng_below(&n->rng, range);
    else
        first = int_port >= c->port_min && int_port <= c->port_max ? int_port - c->port_min : 0;
    for (uint32_t k = 0; k < range; k++) {
        uint16_t port = (uint16_t)(c->port_min + (first + k) % range);
        if (!nat_map_alive(nat_map_find(n, box, port), now))
            return port;
    }
    return 0;
}

/* Adds or refreshes the permission for remote on mapping (box, ext_port). */
static void nat_permit(struct nat *n, uint32_t box, const struct nat_config *c, uint16_t ext_port,
                       const struct env_addr *remote, env_time now)
{
    uint16_t rem_port = c->filtering == SCENARIO_NAT_ADDRESS_PORT_DEPENDENT ? remote->port : 0;
    struct nat_perm *p = nat_perm_find(n, box, ext_port, remote->ip, rem_port);
    if (p->box == NAT_NONE) {
        nat_reserve(n, NAT_PERM, now);
        p = nat_perm_find(n, box, ext_port, remote->ip, rem_port);
        *p = (struct nat_perm){
            .box = box, .ext_port = ext_port, .rem_port = rem_port, .rem_ip = remote->ip};
        n->perm.used++;
    }
    p->expires = now + c->timeout;
}

enum nat_verdict nat_outbound(struct nat *n, uint32_t box, const struct env_addr *internal,
                              const struct env_addr *remote, env_time now,
                              struct env_addr *external)
{
    const struct nat_config *c = nat_box_config(n, box);
    if (remote->ip == nat_box_ip(box) && !c->hairpin)
        return nat_verdict(n, NAT_NO_HAIRPIN);
    uint32_t rem_ip = c->mapping == SCENARIO_NAT_ENDPOINT_INDEPENDENT ? 0 : remote->ip;
    uint16_t rem_port = c->mapping == SCENARIO_NAT_ADDRESS_PORT_DEPENDENT ? remote->port : 0;
    struct nat_out *o = nat_out_find(n, box, internal->ip, internal->port, rem_ip, rem_port);
    struct nat_map *m = o->box != NAT_NONE ? nat_out_target(n, o, now) : NULL;
    if (!m) {
        uint16_t port = nat_free_port(n, box, c, internal->port, now);
        if (port == 0)
            return nat_verdict(n, NAT_NO_PORT);
        /* Room first: a rebuild moves entries, so the slots are looked up afterwards. */
        nat_reserve(n, NAT_MAP, now);
        m = nat_map_find(n, box, port);
        if (m->box == NAT_NONE)
            n->map.used++;
        *m = (struct nat_map){.box = box,
                              .ext_port = port,
                              .int_port = internal->port,
                              .int_ip = internal->ip,
                              .rem_ip = rem_ip,
                              .rem_port = rem_port};
        nat_reserve(n, NAT_OUT, now); /* judges entries by the map, which is complete now */
        o = nat_out_find(n, box, internal->ip, internal->port, rem_ip, rem_port);
        if (o->box == NAT_NONE)
            n->out.used++;
        *o = (struct nat_out){.box = box,
                              .int_ip = internal->ip,
                              .rem_ip = rem_ip,
                              .int_port = internal->port,
                              .rem_port = rem_port,
                              .ext_port = port};
        m = nat_map_find(n, box, port);
        n->made++;
    }
    m->expires = now + c->timeout;
    uint16_t port = m->ext_port;
    if (nat_needs_perms(c))
        nat_permit(n, box, c, port, remote, now);
    external->ip = nat_box_ip(box);
    external->port = port;
    return nat_verdict(n, NAT_PASS);
}

/* Whether mapping m's filter admits remote (see the file comment). */
static bool nat_admits(const struct nat *n, const struct nat_config *c, const struct nat_map *m,
                       const struct env_addr *remote, env_time now)
{
    switch (c->filtering) {
    case SCENARIO_NAT_ENDPOINT_INDEPENDENT:
        return true;
    case SCENARIO_NAT_ADDRESS_DEPENDENT:
    case SCENARIO_NAT_ADDRESS_PORT_DEPENDENT: {
        bool port_too = c->filtering == SCENARIO_NAT_ADDRESS_PORT_DEPENDENT;
        if (!nat_needs_perms(c)) /* the mapping is keyed at least as finely as the filter */
            return m->rem_ip == remote->ip && (!port_too || m->rem_port == remote->port);
        const struct nat_perm *p =
            nat_perm_find(n, m->box, m->ext_port, remote->ip, port_too ? remote->port : 0);
        return p->box != NAT_NONE && now < p->expires;
    }
    }
    g_assert_not_reached();
}

enum nat_verdict nat_inbound(struct nat *n, uint32_t box, uint16_t port,
                             const struct env_addr *remote, env_time now, struct env_addr *internal)
{
    const struct nat_config *c = nat_box_config(n, box);
    struct nat_map *m = nat_map_find(n, box, port);
    if (!nat_map_alive(m, now))
        return nat_verdict(n, NAT_NO_BINDING);
    if (!nat_admits(n, c, m, remote, now))
        return nat_verdict(n, NAT_FILTERED);
    if (c->inbound_refresh) {
        m->expires = now + c->timeout;
        if (nat_needs_perms(c))
            nat_permit(n, box, c, port, remote, now); /* exists: no rebuild, m stays valid */
    }
    internal->ip = m->int_ip;
    internal->port = m->int_port;
    return nat_verdict(n, NAT_PASS);
}

bool nat_peek(const struct nat *n, uint32_t box, uint16_t port, env_time now,
              struct env_addr *internal)
{
    if (box >= n->box_cfg->len)
        return false;
    const struct nat_map *m = nat_map_find(n, box, port);
    if (!nat_map_alive(m, now))
        return false;
    internal->ip = m->int_ip;
    internal->port = m->int_port;
    return true;
}

/* ---- figures ------------------------------------------------------------------------------- */

uint64_t nat_count(const struct nat *n, enum nat_verdict v)
{
    g_assert((unsigned)v < NAT_VERDICTS);
    return n->count[v];
}

uint64_t nat_mappings_made(const struct nat *n)
{
    return n->made;
}

size_t nat_entries(const struct nat *n)
{
    return (size_t)n->map.used + n->out.used + n->perm.used;
}

size_t nat_memory(const struct nat *n)
{
    return sizeof *n + nat_table_bytes(&n->map) + nat_table_bytes(&n->out) +
           nat_table_bytes(&n->perm) + n->configs->len * sizeof(struct nat_config) +
           n->box_cfg->len * sizeof(uint16_t) + (size_t)n->n_peers * sizeof(uint32_t);
}

const char *nat_verdict_name(enum nat_verdict v)
{
    static const char *const names[NAT_VERDICTS] = {
        [NAT_PASS] = "pass",          [NAT_NO_BINDING] = "no_binding",
        [NAT_FILTERED] = "filtered",  [NAT_NO_PORT] = "no_port",
        [NAT_NO_HAIRPIN] = "hairpin", [NAT_UNREACHABLE] = "unreachable",
    };
    g_assert((unsigned)v < NAT_VERDICTS);
    return names[v];
}

const char *nat_type_name(enum scenario_nat_type t)
{
    static const char *const names[SCENARIO_NAT_TYPES] = {
        [SCENARIO_NAT_PUBLIC] = "public",
        [SCENARIO_NAT_FULL_CONE] = "full_cone",
        [SCENARIO_NAT_RESTRICTED] = "restricted",
        [SCENARIO_NAT_PORT_RESTRICTED] = "port_restricted",
        [SCENARIO_NAT_SYMMETRIC] = "symmetric",
        [SCENARIO_NAT_CUSTOM] = "custom",
    };
    g_assert((unsigned)t < SCENARIO_NAT_TYPES);
    return names[t];
}

/* ---- the scenario's layout ------------------------------------------------------------------ */

bool nat_in_scenario(const struct scenario *sc)
{
    return sc->nat.mix && sc->nat.mix->len > 0;
}

/* Exact counts per mix entry summing to peers: floor(share * peers) each, then one more for
 * the entries with the largest remainders (the earlier entry first on a tie). */
static void nat_counts(const GArray *mix, uint32_t peers, uint32_t *count)
{
    guint k = mix->len;
    double *rest = g_new(double, k);
    uint64_t given = 0;
    for (guint i = 0; i < k; i++) {
        double want = g_array_index(mix, struct scenario_nat_entry, i).share * peers;
        count[i] = (uint32_t)MIN(want, (double)peers);
        rest[i] = want - count[i];
        given += count[i];
    }
    while (given < peers) {
        guint best = 0;
        for (guint i = 1; i < k; i++)
            if (rest[i] > rest[best])
                best = i;
        count[best]++;
        rest[best] = -1;
        given++;
    }
    while (given > peers) { /* only through rounding of shares that sum to slightly over 1 */
        guint i = k;
        while (i-- > 0 && count[i] == 0)
            ;
        count[i]--;
        given--;
    }
    g_free(rest);
}

struct nat *nat_from_scenario(const struct scenario *sc, uint32_t peers, uint64_t seed,
                              GError **err)
{
    const char *f = sc->file ? sc->file : "scenario";
    const GArray *mix = sc->nat.mix;
    g_assert(nat_in_scenario(sc));
    double sum = 0;
    for (guint i = 0; i < mix->len; i++)
        sum += g_array_index(mix, struct scenario_nat_entry, i).share;
    if (!(sum > 1 - 1e-9 && sum < 1 + 1e-9)) {
        scenario_fail(err, "%s: nat.mix: the shares sum to %g, not 1", f, sum);
        return NULL;
    }
    if (sc->nat.peers_per_nat < 1) {
        scenario_fail(err, "%s: nat.peers_per_nat: must be >= 1", f);
        return NULL;
    }
    if (!(sc->nat.binding_timeout > 0)) {
        scenario_fail(err, "%s: nat.binding_timeout: must be > 0", f);
        return NULL;
    }
    uint32_t *count = g_new(uint32_t, mix->len);
    nat_counts(mix, peers, count);
    uint64_t boxes = 0;
    for (guint i = 0; i < mix->len; i++)
        if (g_array_index(mix, struct scenario_nat_entry, i).type != SCENARIO_NAT_PUBLIC)
            boxes += (count[i] + sc->nat.peers_per_nat - 1) / sc->nat.peers_per_nat;
    if (boxes > NAT_MAX_BOXES) {
        g_free(count);
        scenario_fail(err,
                      "%s: nat: %llu NAT boxes would be needed, more than the %u that fit in "
                      "100.64.0.0/10 (raise nat.peers_per_nat or lower the NAT shares)",
                      f, (unsigned long long)boxes, NAT_MAX_BOXES);
        return NULL;
    }
    struct nat *n = nat_new(seed);
    /* The entries dealt out: count[i] slots of entry i, shuffled (Fisher-Yates). */
    uint16_t *entry = g_new(uint16_t, MAX(peers, 1));
    uint32_t at = 0;
    for (guint i = 0; i < mix->len; i++)
        for (uint32_t j = 0; j < count[i]; j++)
            entry[at++] = (uint16_t)i;
    g_assert(at == peers);
    struct sim_rng r;
    sim_rng_init(&r, seed, NAT_STREAM_LAYOUT);
    for (uint32_t i = peers; i > 1; i--) {
        uint32_t j = (uint32_t)sim_rng_below(&r, i);
        uint16_t t = entry[i - 1];
        entry[i - 1] = entry[j];
        entry[j] = t;
    }
    /* Boxes: each entry fills its current box, peers_per_nat peers at a time. */
    uint32_t *open = g_new(uint32_t, mix->len);
    uint32_t *filled = g_new0(uint32_t, mix->len);
    for (guint i = 0; i < mix->len; i++)
        open[i] = NAT_NONE;
    n->peer_box = g_new(uint32_t, MAX(peers, 1));
    n->n_peers = peers;
    for (uint32_t p = 0; p < peers; p++) {
        const struct scenario_nat_entry *e =
            &g_array_index(mix, struct scenario_nat_entry, entry[p]);
        n->type_peers[e->type]++;
        if (e->type == SCENARIO_NAT_PUBLIC) {
            n->peer_box[p] = NAT_NONE;
            continue;
        }
        if (open[entry[p]] == NAT_NONE || filled[entry[p]] == sc->nat.peers_per_nat) {
            struct nat_config c;
            nat_config_default(&c, e->type);
            c.mapping = e->mapping;
            c.filtering = e->filtering;
            c.ports = e->ports;
            c.timeout = sc->nat.binding_timeout;
            c.hairpin = sc->nat.hairpin;
            c.inbound_refresh = sc->nat.inbound_refresh;
            open[entry[p]] = nat_box_add(n, &c);
            filled[entry[p]] = 0;
        }
        n->peer_box[p] = open[entry[p]];
        filled[entry[p]]++;
    }
    g_free(open);
    g_free(filled);
    g_free(entry);
    g_free(count);
    return n;
}

uint32_t nat_peer_box(const struct nat *n, uint32_t peer)
{
    return peer < n->n_peers ? n->peer_box[peer] : NAT_NONE;
}

uint32_t nat_type_peers(const struct nat *n, enum scenario_nat_type t)
{
    g_assert((unsigned)t < SCENARIO_NAT_TYPES);
    return n->type_peers[t];
}
