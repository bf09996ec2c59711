/* superpeer.c — the super-peer topology plug-in: the "first approach" to NAT traversal of the
 * P2PSIP concepts draft (draft-ietf-p2psip-concepts-00 §5.3) after Yang & Garcia-Molina,
 * "Designing a super-peer network" (ICDE 2003), over RELOAD framing (RFC 6940 §6.4.1 lets a
 * topology plug-in define its own Join, Update and Leave bodies).  docs/superpeer.md has the
 * full design and the body formats.
 *
 * Two tiers.  Super-peers (cfg.superpeer.is_super: publicly reachable, elected by the
 * simulator or named on the command line) form a one-hop overlay: each holds the sorted table
 * of every other super-peer (Node-ID and address) and they split the id space by consistent
 * hashing, a super-peer being responsible for (previous super-peer, itself] as in Chord.
 * Records live on super-peers only, replicated on the cfg.superpeer.replicas next ones.
 * An ordinary peer attaches to the super-peer responsible for its own Node-ID, opening the
 * connection itself (so that it works from behind a NAT), keeps the next super-peer as a
 * backup, and sends a keepalive every cfg.superpeer.keepalive.  It routes for nobody: its next
 * hop is always its super-peer and it is responsible for nothing.  A super-peer records its
 * ordinary peers (Node-ID -> address), so a message from X to Y travels at most
 * X -> SP(X) -> SP(Y) -> Y, three overlay hops (§5.3), and a lookup at most two.
 *
 * Membership (the tier converges to one table):
 *   - a super-peer joins by an Attach to the id after its own through the bootstrap (which
 *     reaches SP(J), the super-peer responsible for J's id), a RouteQuery with send_update to
 *     SP(J), which answers with its member list in FULL Updates, then a Join (role "super") to
 *     SP(J); SP(J) sends an ADD Update to every member and tells its ordinary peers in the
 *     new range to move (an ATTACH_TO Update);
 *   - members are reached lazily: the table holds addresses, a connection is opened on first
 *     use and pruned when idle; only the ring successor is watched continuously (a DIGEST
 *     Update every update_interval carries the size and an order-independent hash of the
 *     sender's table; a mismatch is repaired by a FULL list whose differences are probed with
 *     Probes before they are believed; a DIGEST from an unknown super-peer admits it);
 *   - a failed super-peer is dropped by whoever notices (link-layer failure); the one that
 *     drops its own ring successor sends REMOVE to every member, any other noticer sends it
 *     to the failed one's neighbourhood and to the suspect itself, which, alive after all,
 *     announces itself again (ADD); a leaving super-peer sends Leave to every member and to
 *     its ordinary peers (naming its successors, where they move);
 *   - a node that restarted with the same Node-ID and address before its crash was noticed
 *     (or came back as an ordinary peer) acknowledges every frame, so no link failure
 *     removes it: it refuses DIGESTs while it is not a joined super-peer (the predecessor
 *     then drops it and tells the tier), anti-entropy probes are Probe requests whose answer
 *     tells a super-peer (a responsible set) from an ordinary peer, and joins Attach to the
 *     id after the joiner's own, which a stale entry for the joiner cannot capture;
 *   - partition detection (RFC 6940 §10.7.4.4, as CHORD-RELOAD does it): every
 *     partition_interval a super-peer Pings the id after its own through a bootstrap peer;
 *     an unknown responder is another tier, which both sides then merge.
 * Records: every membership change calls node_neighbors_changed(), so storage_rebalance()
 * re-replicates by replicas() and keeps() (owner to replicas); and when the range of a
 * super-peer's predecessor changes it hands the predecessor what it holds there (back from a
 * replica to the owner: the join handover, and the records a stale or failed admitting peer
 * could not hand over).
 * Ordinary peers join by an Attach through the bootstrap (to X + 1, answered by SP(X)) and a
 * Join (role "ordinary") whose answer names the right super-peer, the backup and two more; a
 * keepalive's answer corrects them when the tier changed; when the super-peer fails (link
 * failure, keepalive unanswered) or leaves, the peer sends its Join to the backup, and failing that
 * attaches again through its bootstrap peers or a super-peer it was told of.
 *
 * The Attach's send_update is answered with the attacher's view of the routing table: a small
 * ATTACH_TO Update naming its super-peer and the backup, not the member list, so that
 * ordinary joins (the common case) do not cost O(S) bytes; a joining super-peer asks for the
 * member list with RouteQuery(send_update) instead.
 */
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "topology.h"

#define SUPERPEER_FULL_CHUNK 256    /* members per FULL Update (about 5.6 KB) */
#define SUPERPEER_MAX_ENTRIES 1024  /* entries a decoder accepts in one body */
#define SUPERPEER_MAX_TIER 65536    /* super-peers a FULL list may announce */
#define SUPERPEER_MAX_PROBES 32     /* Probes one anti-entropy round may start */
#define SUPERPEER_MAX_MOVES 3       /* re-attachments on another's word per keepalive period */
#define SUPERPEER_SPARES 4          /* super-peer addresses an ordinary peer remembers */
#define SUPERPEER_POINTER 4         /* entries of an ATTACH_TO: super-peer, backup, two more */
#define SUPERPEER_CLIENT_EXPIRY 3   /* keepalive periods of silence before a client is dropped */
#define SUPERPEER_ID_ENTRY ID_BYTES /* a Node-ID */
#define SUPERPEER_ADDR_ENTRY (ID_BYTES + 6) /* a Node-ID, an IPv4 address and a port */

/* Update body types (docs/superpeer.md). */
enum {
    SUPERPEER_FULL = 1,      /* total, then a chunk of the sender's member list (with itself) */
    SUPERPEER_ADD = 2,       /* these super-peers joined */
    SUPERPEER_REMOVE = 3,    /* these super-peers failed or left (Node-IDs) */
    SUPERPEER_DIGEST = 4,    /* size and hash of the sender's member list */
    SUPERPEER_KEEPALIVE = 5, /* an ordinary peer is alive; names its backup (0 or 1 Node-ID) */
    SUPERPEER_ATTACH_TO = 6, /* the super-peer to attach to, its backup, the next (1 to 4) */
};

/* Join overlay data: the role of the joining node. */
enum { SUPERPEER_ROLE_SUPER = 1, SUPERPEER_ROLE_ORDINARY = 2 };

/* An ordinary peer attached to this super-peer. */
struct client {
    struct id id;
    struct env_addr addr;
    uint32_t seen_s; /* node seconds of its last keepalive or Join */
};

struct superpeer {
    struct topology base;
    /* Super-peer: every other super-peer, sorted by Node-ID; the attached ordinary peers,
     * sorted by Node-ID. */
    struct node_peer *members;
    uint32_t n_members, cap_members;
    struct client *clients;
    uint32_t n_clients, cap_clients;
    env_timer digest_timer;
    /* Partition detection: every partition_interval a Ping through a bootstrap peer. */
    env_timer partition_timer;
    unsigned partition_round; /* which bootstrap the next check goes through */
    uint64_t pred_hash;       /* the predecessor's range when records were last handed over */
    /* A member list arriving in FULL chunks from sync_from (join or anti-entropy). */
    struct node_peer *sync;
    uint32_t n_sync, cap_sync, sync_total, sync_got;
    struct id sync_from;
    /* Ordinary peer: its super-peer (while joining a super-peer: the admitting peer) and
     * backup; the super-peer it last lost, whose name in a stale answer is ignored until the
     * tier has had time to drop it (failed_s: node seconds when it was lost). */
    struct node_peer sp, backup;
    struct id failed;
    uint32_t failed_s;
    /* Addresses of super-peers it has known, tried after its bootstrap peers when both its
     * super-peer and its backup are lost (a peer started from install_view has no bootstrap
     * address of its own). */
    struct env_addr spares[SUPERPEER_SPARES];
    /* Every keepalive period: an ordinary peer's keepalive, a super-peer's client sweep. */
    env_timer tick_timer;
    /* Joining, and every attempt to attach: answers of older attempts are ignored. */
    uint32_t gen;
    uint16_t boot_round;
    bool is_super, have_sp, have_backup, have_failed, attaching, keepalive_pending;
    uint8_t moves, n_spares, spare_round;
};

static inline struct node *N(const struct superpeer *s)
{
    return s->base.node;
}

static inline const struct id *SELF(const struct superpeer *s)
{
    return &s->base.node->self;
}

static struct node_peer self_peer(const struct superpeer *s)
{
    struct node_peer p = {*SELF(s), N(s)->addr};
    return p;
}

static uint32_t now_s(const struct superpeer *s)
{
    return (uint32_t)((env_now(&N(s)->env) - N(s)->born) / ENV_S);
}

static env_time jitter(const struct superpeer *s, env_time period)
{
    return period / 2 + env_random(&N(s)->env) % (period ? period : 1);
}

static struct id id_next(const struct id *a)
{
    struct id one = {0, 1};
    return id_add(a, &one);
}

/* ---- body codec (docs/superpeer.md) --------------------------------------------------------
 * Every body is checked against its exact length; decoders never read past the buffer. */

struct body {
    uint8_t type;
    uint32_t total; /* FULL: entries of the whole list; DIGEST: members with the sender */
    uint64_t hash;  /* DIGEST */
    uint16_t n;
    const uint8_t *entries; /* n entries of entry_size(type) bytes inside the decoded buffer */
};

static size_t entry_size(uint8_t type)
{
    switch (type) {
    case SUPERPEER_REMOVE:
    case SUPERPEER_KEEPALIVE:
        return SUPERPEER_ID_ENTRY;
    case SUPERPEER_FULL:
    case SUPERPEER_ADD:
    case SUPERPEER_ATTACH_TO:
        return SUPERPEER_ADDR_ENTRY;
    default:
        return 0;
    }
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void put16(GByteArray *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    g_byte_array_append(b, x, 2);
}

static void put32(GByteArray *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    g_byte_array_append(b, x, 4);
}

static void put64(GByteArray *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b, (uint32_t)v);
}

/* Decodes a body; returns 0, or -1 when anything is malformed. */
static int body_decode(const uint8_t *p, size_t len, struct body *b)
{
    memset(b, 0, sizeof *b);
    if (len < 1)
        return -1;
    b->type = p[0];
    if (b->type == SUPERPEER_DIGEST) {
        if (len != 1 + 4 + 8)
            return -1;
        b->total = get32(p + 1);
        b->hash = get64(p + 5);
        return b->total >= 1 && b->total <= SUPERPEER_MAX_TIER ? 0 : -1;
    }
    size_t esz = entry_size(b->type), o = 1;
    if (!esz)
        return -1;
    if (b->type == SUPERPEER_FULL) {
        if (len < o + 4)
            return -1;
        b->total = get32(p + o);
        o += 4;
    }
    if (len < o + 2)
        return -1;
    b->n = get16(p + o);
    o += 2;
    if (len - o != (size_t)b->n * esz)
        return -1;
    b->entries = p + o;
    unsigned lo = 1, hi = SUPERPEER_MAX_ENTRIES;
    if (b->type == SUPERPEER_KEEPALIVE)
        lo = 0, hi = 1;
    else if (b->type == SUPERPEER_ATTACH_TO)
        hi = SUPERPEER_POINTER;
    if (b->n < lo || b->n > hi)
        return -1;
    if (b->type == SUPERPEER_FULL && (b->total < b->n || b->total > SUPERPEER_MAX_TIER))
        return -1;
    if (esz == SUPERPEER_ADDR_ENTRY)
        for (unsigned i = 0; i < b->n; i++) {
            const uint8_t *e = b->entries + i * esz;
            if (get32(e + ID_BYTES) == 0 || get16(e + ID_BYTES + 4) == 0)
                return -1; /* an unusable address */
        }
    return 0;
}

static struct node_peer body_entry(const struct body *b, unsigned i)
{
    size_t esz = entry_size(b->type);
    const uint8_t *e = b->entries + i * esz;
    struct node_peer p = {id_from_bytes(e), {0, 0}};
    if (esz == SUPERPEER_ADDR_ENTRY) {
        p.addr.ip = get32(e + ID_BYTES);
        p.addr.port = get16(e + ID_BYTES + 4);
    }
    return p;
}

/* Appends a list body of `type` (FULL also carries total). */
static void body_encode(GByteArray *b, uint8_t type, uint32_t total, const struct node_peer *l,
                        size_t n)
{
    g_byte_array_append(b, &type, 1);
    if (type == SUPERPEER_FULL)
        put32(b, total);
    put16(b, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t x[ID_BYTES];
        id_to_bytes(&l[i].id, x);
        g_byte_array_append(b, x, ID_BYTES);
        if (entry_size(type) == SUPERPEER_ADDR_ENTRY) {
            put32(b, l[i].addr.ip);
            put16(b, l[i].addr.port);
        }
    }
}

static void body_encode_digest(GByteArray *b, uint32_t size, uint64_t hash)
{
    uint8_t t = SUPERPEER_DIGEST;
    g_byte_array_append(b, &t, 1);
    put32(b, size);
    put64(b, hash);
}

/* A 64-bit mix of an id (splitmix64 finaliser), for order-independent digests. */
static uint64_t id_mix(const struct id *a)
{
    uint64_t z = a->hi ^ (a->lo * 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The sender of a request: the first via entry (node.c appends the origin). */
static bool request_origin(const struct wire_message *m, struct id *out)
{
    return m->h.n_via > 0 && m->h.via[0].type == WIRE_DEST_NODE &&
           wire_dest_id(&m->h.via[0], out) == 0;
}

/* ---- the member table and the client table --------------------------------------------- */

/* Index of the first entry with id >= k in a sorted array (n when none). */
static uint32_t lower_bound(const struct node_peer *a, uint32_t n, const struct id *k)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (id_cmp(&a[mid].id, k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool member_has(const struct superpeer *s, const struct id *id)
{
    uint32_t i = lower_bound(s->members, s->n_members, id);
    return i < s->n_members && id_eq(&s->members[i].id, id);
}

/* Adds p to the table (or updates its address); true when it was not there. */
static bool member_add(struct superpeer *s, const struct node_peer *p)
{
    if (id_eq(&p->id, SELF(s)))
        return false;
    uint32_t i = lower_bound(s->members, s->n_members, &p->id);
    if (i < s->n_members && id_eq(&s->members[i].id, &p->id)) {
        s->members[i].addr = p->addr;
        return false;
    }
    if (s->n_members == s->cap_members) {
        s->cap_members = s->cap_members ? 2 * s->cap_members : 8;
        s->members = g_renew(struct node_peer, s->members, s->cap_members);
    }
    memmove(&s->members[i + 1], &s->members[i], (s->n_members - i) * sizeof *s->members);
    s->members[i] = *p;
    s->n_members++;
    return true;
}

static bool member_remove(struct superpeer *s, const struct id *id)
{
    uint32_t i = lower_bound(s->members, s->n_members, id);
    if (i >= s->n_members || !id_eq(&s->members[i].id, id))
        return false;
    memmove(&s->members[i], &s->members[i + 1], (s->n_members - i - 1) * sizeof *s->members);
    s->n_members--;
    return true;
}

/* The first member at or after k going clockwise; NULL when the table is empty. */
static const struct node_peer *member_at_or_after(const struct superpeer *s, const struct id *k)
{
    if (!s->n_members)
        return NULL;
    uint32_t i = lower_bound(s->members, s->n_members, k);
    return &s->members[i == s->n_members ? 0 : i];
}

/* Index of this super-peer's ring predecessor among the members (the table is not empty). */
static uint32_t pred_index(const struct superpeer *s)
{
    uint32_t i = lower_bound(s->members, s->n_members, SELF(s));
    return (i + s->n_members - 1) % s->n_members;
}

static int client_index(const struct superpeer *s, const struct id *id)
{
    uint32_t lo = 0, hi = s->n_clients;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = id_cmp(&s->clients[mid].id, id);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1 - (int)lo; /* not found: -1 - insertion point */
}

static void client_touch(struct superpeer *s, const struct id *id, const struct env_addr *addr)
{
    int i = client_index(s, id);
    if (i < 0) {
        uint32_t at = (uint32_t)(-1 - i);
        if (s->n_clients == s->cap_clients) {
            s->cap_clients = s->cap_clients ? 2 * s->cap_clients : 4;
            s->clients = g_renew(struct client, s->clients, s->cap_clients);
        }
        memmove(&s->clients[at + 1], &s->clients[at], (s->n_clients - at) * sizeof *s->clients);
        s->n_clients++;
        i = (int)at;
        s->clients[i].id = *id;
    }
    s->clients[i].addr = *addr;
    s->clients[i].seen_s = now_s(s);
}

static bool client_remove(struct superpeer *s, const struct id *id)
{
    int i = client_index(s, id);
    if (i < 0)
        return false;
    memmove(&s->clients[i], &s->clients[i + 1],
            (s->n_clients - (uint32_t)i - 1) * sizeof *s->clients);
    s->n_clients--;
    return true;
}

/* ---- responsibility and routing --------------------------------------------------------- */

static bool superpeer_responsible(const struct topology *t, const struct id *k)
{
    const struct superpeer *s = (const struct superpeer *)t;
    if (!s->is_super)
        return false;
    /* An attached ordinary peer answers for its own Node-ID, as a Chord peer does. */
    if (s->n_clients && client_index(s, k) >= 0)
        return false;
    if (!s->n_members)
        return true;
    return id_in_oc(k, &s->members[pred_index(s)].id, SELF(s));
}

/* The super-peer responsible for k among the members and this node (when a super-peer). */
static bool owner_of(const struct superpeer *s, const struct id *k, struct node_peer *out)
{
    if (s->is_super && (!s->n_members || id_in_oc(k, &s->members[pred_index(s)].id, SELF(s)))) {
        *out = self_peer(s);
        return true;
    }
    const struct node_peer *m = member_at_or_after(s, k);
    if (!m)
        return false;
    *out = *m;
    return true;
}

/* The first super-peer strictly after x (members and this node), other than x. */
static bool ring_next(const struct superpeer *s, const struct id *x, struct node_peer *out)
{
    struct id x1 = id_next(x);
    const struct node_peer *m = member_at_or_after(s, &x1);
    if (m && id_eq(&m->id, x))
        m = NULL;
    if (s->is_super && !id_eq(SELF(s), x) && (!m || id_in_oo(SELF(s), x, &m->id))) {
        *out = self_peer(s);
        return true;
    }
    if (!m)
        return false;
    *out = *m;
    return true;
}

static bool superpeer_next_hop(const struct topology *t, const struct id *k, struct node_peer *out)
{
    const struct superpeer *s = (const struct superpeer *)t;
    if (!s->is_super) {
        if (!s->have_sp)
            return false;
        *out = s->sp;
        return true;
    }
    int c = s->n_clients ? client_index(s, k) : -1;
    if (c >= 0) {
        out->id = s->clients[c].id;
        out->addr = s->clients[c].addr;
        return true;
    }
    /* The member responsible for k; while this node is not (yet) routing, the member that
     * was responsible before it. */
    const struct node_peer *m = member_at_or_after(s, k);
    if (!m)
        return false;
    *out = *m;
    return true;
}

static size_t superpeer_replicas(const struct topology *t, struct node_peer *out, size_t max)
{
    const struct superpeer *s = (const struct superpeer *)t;
    if (!s->is_super || !s->n_members)
        return 0;
    size_t n = MIN(MIN((size_t)N(s)->cfg->superpeer.replicas, (size_t)s->n_members), max);
    uint32_t i = lower_bound(s->members, s->n_members, SELF(s));
    for (size_t j = 0; j < n; j++)
        out[j] = s->members[(i + j) % s->n_members];
    return n;
}

static bool superpeer_keeps(const struct topology *t, const struct id *k)
{
    const struct superpeer *s = (const struct superpeer *)t;
    if (!s->is_super)
        return false;
    uint32_t r = N(s)->cfg->superpeer.replicas;
    if (s->n_members <= r)
        return true; /* every super-peer is in every replica set */
    uint32_t p = (pred_index(s) + s->n_members - r) % s->n_members;
    return id_in_oc(k, &s->members[p].id, SELF(s));
}

/* ---- sending ------------------------------------------------------------------------------ */

static void send_to(struct superpeer *s, const struct id *to, uint16_t code, const GByteArray *body,
                    node_txn_fn done, void *arg)
{
    struct node_dest d = {WIRE_DEST_NODE, *to};
    node_request(N(s), &d, 1, code, body, NULL, done, arg);
}

static void send_list(struct superpeer *s, const struct id *to, uint8_t type,
                      const struct node_peer *l, size_t n, node_txn_fn done, void *arg)
{
    GByteArray *b = g_byte_array_new();
    body_encode(b, type, (uint32_t)n, l, n);
    send_to(s, to, WIRE_UPDATE_REQ, b, done, arg);
    g_byte_array_free(b, TRUE);
}

/* Sends an Update of `type` listing l to every member except `except`. */
static void broadcast(struct superpeer *s, uint8_t type, const struct node_peer *l, size_t n,
                      const struct id *except)
{
    GByteArray *b = g_byte_array_new();
    body_encode(b, type, (uint32_t)n, l, n);
    for (uint32_t i = 0; i < s->n_members; i++)
        if (!except || !id_eq(&s->members[i].id, except))
            send_to(s, &s->members[i].id, WIRE_UPDATE_REQ, b, NULL, NULL);
    g_byte_array_free(b, TRUE);
}

/* Sends the member list with this node in it, except `to` itself, in FULL chunks. */
static void send_full(struct superpeer *s, const struct id *to)
{
    struct node_peer *l = g_new(struct node_peer, s->n_members + 1);
    uint32_t n = 0, at = lower_bound(s->members, s->n_members, SELF(s));
    for (uint32_t i = 0; i <= s->n_members; i++) {
        struct node_peer p = i < at ? s->members[i] : i == at ? self_peer(s) : s->members[i - 1];
        if (!id_eq(&p.id, to))
            l[n++] = p;
    }
    for (uint32_t o = 0; o < n; o += SUPERPEER_FULL_CHUNK) {
        GByteArray *b = g_byte_array_new();
        body_encode(b, SUPERPEER_FULL, n, l + o, MIN(n - o, (uint32_t)SUPERPEER_FULL_CHUNK));
        send_to(s, to, WIRE_UPDATE_REQ, b, NULL, NULL);
        g_byte_array_free(b, TRUE);
    }
    g_free(l);
}

/* Fills out with first and the super-peers after it, up to max, stopping before `stop` (when
 * not NULL) or before going round to first again.  Returns the number of entries. */
static size_t ring_walk(const struct superpeer *s, const struct node_peer *first,
                        const struct id *stop, struct node_peer *out, size_t max)
{
    size_t n = 0;
    out[n++] = *first;
    while (n < max && ring_next(s, &out[n - 1].id, &out[n]) && !id_eq(&out[n].id, &first->id) &&
           !(stop && id_eq(&out[n].id, stop)))
        n++;
    return n;
}

/* ATTACH_TO for an ordinary peer with Node-ID x: the super-peer responsible for x, then the
 * next ones (its backup, then spares).  Returns the number of entries (0: none known). */
static size_t pointer_for(const struct superpeer *s, const struct id *x,
                          struct node_peer out[SUPERPEER_POINTER])
{
    struct node_peer owner;
    if (!owner_of(s, x, &owner))
        return 0;
    return ring_walk(s, &owner, NULL, out, SUPERPEER_POINTER);
}

/* Records flow from an owner to its replicas (storage_rebalance) and, here, back: when the
 * range of this super-peer's ring predecessor, (pred[1], pred[0]], changes, it hands the
 * predecessor the records it holds there.  This is the join handover (a new predecessor takes
 * its range from us); it also covers what an owner alone could not: an admitting super-peer
 * with a stale table, one that failed before the newcomer had its records, or a predecessor
 * whose range grew when the super-peer before it failed (we hold those records as replica).
 * With `push` false it only notes the current range. */
static void hand_records(struct superpeer *s, bool push)
{
    uint32_t n = s->n_members;
    if (!s->is_super || !n)
        return;
    uint32_t p = pred_index(s);
    const struct id *pred = &s->members[p].id;
    const struct id *from = n > 1 ? &s->members[(p + n - 1) % n].id : SELF(s);
    uint64_t h = id_mix(pred) * 31 + id_mix(from);
    if (h == s->pred_hash)
        return;
    s->pred_hash = h;
    if (push && node_routes(N(s)) && N(s)->store)
        storage_push_range(N(s), pred, from, pred);
}

/* The member table changed: hand records to a new predecessor, then let storage rebalance. */
static void membership_changed(struct superpeer *s)
{
    hand_records(s, true);
    node_neighbors_changed(N(s));
}

/* The last super-peer strictly before x (members and this node); x itself when alone. */
static struct id ring_prev(const struct superpeer *s, const struct id *x)
{
    uint32_t n = s->n_members, i = lower_bound(s->members, n, x);
    const struct id *m = n ? &s->members[(i + n - 1) % n].id : NULL;
    if (m && id_eq(m, x))
        m = n > 1 ? &s->members[(i + n - 2) % n].id : NULL;
    if (s->is_super && !id_eq(SELF(s), x) && (!m || id_in_oo(SELF(s), m, x)))
        return *SELF(s);
    return m ? *m : *x;
}

/* Adds super-peer p to the table (or refreshes its address); true when p is new.  p takes
 * (prev, p] out of the range of the super-peer that was responsible for its id: that one
 * sends its ordinary peers there to p (and stays their backup); the records there reach p
 * through hand_records() when the caller reports the change. */
static bool member_joined(struct superpeer *s, const struct node_peer *p)
{
    if (id_eq(&p->id, SELF(s)) || member_has(s, &p->id)) {
        member_add(s, p);
        return false;
    }
    client_remove(s, &p->id); /* an ordinary peer once, a super-peer now */
    bool owner = node_routes(N(s)) && superpeer_responsible(&s->base, &p->id);
    member_add(s, p);
    struct id prev = ring_prev(s, &p->id);
    if (owner) {
        struct node_peer l[2] = {*p, self_peer(s)};
        for (uint32_t i = 0; i < s->n_clients; i++)
            if (id_in_oc(&s->clients[i].id, &prev, &p->id))
                send_list(s, &s->clients[i].id, SUPERPEER_ATTACH_TO, l, 2, NULL, NULL);
    }
    return true;
}

/* Sends REMOVE [gone] to the replicas + 1 members on each side of gone's place in the ring. */
static void tell_neighbourhood(struct superpeer *s, const struct node_peer *gone)
{
    uint32_t n = s->n_members, side = MIN(N(s)->cfg->superpeer.replicas + 1, 8u);
    if (!n)
        return;
    struct id to[16];
    unsigned nt = 0;
    uint32_t after = lower_bound(s->members, n, &gone->id);
    for (uint32_t j = 0; j < MIN(side, n); j++) {
        const struct id *c[2] = {&s->members[(after + j) % n].id,
                                 &s->members[(after + 2 * n - 1 - j) % n].id};
        for (unsigned k = 0; k < 2; k++) {
            bool dup = false;
            for (unsigned q = 0; q < nt && !dup; q++)
                dup = id_eq(&to[q], c[k]);
            if (!dup)
                to[nt++] = *c[k];
        }
    }
    for (unsigned q = 0; q < nt; q++)
        send_list(s, &to[q], SUPERPEER_REMOVE, gone, 1, NULL, NULL);
}

/* Removes super-peer id from the table, because it failed (`noticed`: a link to it failed) or
 * another super-peer said so (REMOVE).  Whoever drops its own ring successor tells the whole
 * tier; any other super-peer that noticed a failure itself tells the failed one's
 * neighbourhood at once: the members whose replica sets or keep ranges it was part of.
 * Otherwise we could take over its range and push a replica to a member that, still counting
 * the failed one among its predecessors, would drop it as outside its keep range.  True when
 * the table changed (the caller then calls membership_changed). */
static bool drop_member(struct superpeer *s, const struct id *id, bool noticed)
{
    if (!member_has(s, id))
        return false;
    struct node_peer succ, gone = {*id, s->members[lower_bound(s->members, s->n_members, id)].addr};
    bool was_succ = ring_next(s, SELF(s), &succ) && id_eq(&succ.id, id);
    member_remove(s, id);
    if (N(s)->state != NODE_JOINED)
        return true;
    if (was_succ)
        broadcast(s, SUPERPEER_REMOVE, &gone, 1, NULL);
    else if (noticed)
        tell_neighbourhood(s, &gone);
    if (noticed) {
        /* Tell the suspect too, at its address: alive, it announces itself again (ADD).
         * Dead, the link fails again and the retransmissions reach the super-peer now
         * responsible for its id. */
        node_conn_add(N(s), &gone.id, &gone.addr);
        send_list(s, &gone.id, SUPERPEER_REMOVE, &gone, 1, NULL, NULL);
    }
    return true;
}

/* ---- anti-entropy: DIGEST, FULL and probes ---------------------------------------------- */

/* Size and order-independent hash of the tier as this super-peer sees it (itself included). */
static uint64_t digest(const struct superpeer *s, uint32_t *size)
{
    uint64_t h = id_mix(SELF(s));
    for (uint32_t i = 0; i < s->n_members; i++)
        h += id_mix(&s->members[i].id);
    *size = s->n_members + 1;
    return h;
}

struct probe {
    struct node_peer peer;
    struct id tell; /* the super-peer whose FULL list differed from this node's table */
    bool listed;    /* peer was in that list (and not in this node's table) */
};

/* Whether a ProbeAns reports a responsible set: a super-peer's is never empty (on_probe), an
 * ordinary peer's always is. */
static bool probe_says_super(const struct wire_message *resp)
{
    struct wire_probe_ans a;
    if (wire_decode_probe_ans(resp->body.p, resp->body.len, &a) < 0)
        return false;
    for (unsigned i = 0; i < a.n; i++)
        if (a.info[i].type == WIRE_PROBE_RESPONSIBLE_SET)
            return a.info[i].value > 0;
    return false;
}

static void probe_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct probe *p = arg;
    struct superpeer *s = (struct superpeer *)n->topo;
    struct id responder;
    bool answered = status == NODE_OK && resp->h.n_via > 0 &&
                    wire_dest_id(&resp->h.via[0], &responder) == 0 &&
                    id_eq(&responder, &p->peer.id);
    bool super = answered && probe_says_super(resp);
    if (node_routes(n) && s->is_super) {
        if (p->listed && super) {
            /* A live super-peer we did not know: admit it and tell the tier, as a Join would
             * (a tier that heals from a partition learns the other one at once). */
            if (member_joined(s, &p->peer)) {
                broadcast(s, SUPERPEER_ADD, &p->peer, 1, &p->peer.id);
                membership_changed(s);
            }
        } else if (p->listed) {
            send_list(s, &p->tell, SUPERPEER_REMOVE, &p->peer, 1, NULL, NULL);
        } else if (super && member_has(s, &p->peer.id)) {
            send_list(s, &p->tell, SUPERPEER_ADD, &p->peer, 1, NULL, NULL);
        } else if (answered && drop_member(s, &p->peer.id, true)) {
            /* Alive but not a super-peer (any more): no link failure would remove it. */
            membership_changed(s);
        }
    }
    g_free(p);
}

/* Probes p (RFC 6940 Probe, asking for its responsible set): what follows depends on whether
 * it answers, and as a super-peer (probe_done).  A Ping would not do: a peer that came back
 * as an ordinary peer with the same Node-ID answers it too, and would be taken for a member. */
static void probe(struct superpeer *s, const struct node_peer *p, const struct id *tell,
                  bool listed)
{
    struct probe *a = g_new(struct probe, 1);
    a->peer = *p;
    a->tell = *tell;
    a->listed = listed;
    /* Not in the table: reach it at the address listed. */
    if (listed)
        node_conn_add(N(s), &p->id, &p->addr);
    GByteArray *b = g_byte_array_new();
    struct wire_probe_req q = {.n = 1, .requested = {WIRE_PROBE_RESPONSIBLE_SET}};
    wire_encode_probe_req(b, &q);
    send_to(s, &p->id, WIRE_PROBE_REQ, b, probe_done, a);
    g_byte_array_free(b, TRUE);
}

/* The answer to a DIGEST: a Forbidden error from the member itself means it is not a joined
 * super-peer (on_update): it restarted under the same Node-ID and address before anyone
 * noticed its crash, or came back as an ordinary peer.  Its new node acknowledges every frame,
 * so no link failure would ever remove it; we do, and tell the tier (it is our successor). */
static void digest_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct superpeer *s = (struct superpeer *)n->topo;
    struct id to = *(struct id *)arg, responder;
    g_free(arg);
    struct wire_error e;
    if (status == NODE_E_REFUSED && s->is_super && node_routes(n) && resp->h.n_via > 0 &&
        wire_dest_id(&resp->h.via[0], &responder) == 0 && id_eq(&responder, &to) &&
        wire_decode_error(resp->body.p, resp->body.len, &e) == 0 && e.code == WIRE_ERR_FORBIDDEN &&
        drop_member(s, &to, true))
        membership_changed(s);
}

/* Sends super-peer `to` our DIGEST: the size and hash of our table. */
static void send_digest(struct superpeer *s, const struct id *to)
{
    uint32_t size;
    uint64_t h = digest(s, &size);
    GByteArray *b = g_byte_array_new();
    body_encode_digest(b, size, h);
    send_to(s, to, WIRE_UPDATE_REQ, b, digest_done, g_memdup2(to, sizeof *to));
    g_byte_array_free(b, TRUE);
}

static int peer_cmp(gconstpointer a, gconstpointer b)
{
    return id_cmp(&((const struct node_peer *)a)->id, &((const struct node_peer *)b)->id);
}

static void sync_reset(struct superpeer *s)
{
    g_free(s->sync);
    s->sync = NULL;
    s->n_sync = s->cap_sync = s->sync_total = s->sync_got = 0;
}

static void join_with_table(struct superpeer *s);

/* A whole FULL list from sync_from arrived (sorted, without duplicates). */
static void sync_complete(struct superpeer *s)
{
    struct node *n = N(s);
    if (n->state == NODE_JOINING) {
        for (uint32_t i = 0; i < s->n_sync; i++)
            member_add(s, &s->sync[i]);
        sync_reset(s);
        join_with_table(s);
        return;
    }
    /* Anti-entropy: probe what differs before believing either side. */
    unsigned probes = 0;
    for (uint32_t i = 0; i < s->n_sync && probes < SUPERPEER_MAX_PROBES; i++)
        if (!id_eq(&s->sync[i].id, SELF(s)) && !member_has(s, &s->sync[i].id)) {
            probe(s, &s->sync[i], &s->sync_from, true);
            probes++;
        }
    for (uint32_t i = 0; i < s->n_members && probes < SUPERPEER_MAX_PROBES; i++) {
        const struct node_peer *m = &s->members[i];
        uint32_t j = lower_bound(s->sync, s->n_sync, &m->id);
        if (id_eq(&m->id, &s->sync_from) || (j < s->n_sync && id_eq(&s->sync[j].id, &m->id)))
            continue;
        probe(s, m, &s->sync_from, false);
        probes++;
    }
    sync_reset(s);
}

static void on_full(struct superpeer *s, const struct id *from, const struct body *u)
{
    struct node *n = N(s);
    if (!s->is_super || (n->state != NODE_JOINED && n->state != NODE_JOINING))
        return;
    if (n->state == NODE_JOINING && (!s->have_sp || !id_eq(from, &s->sp.id)))
        return; /* only the admitting peer's list builds the table */
    if (!s->sync_total || !id_eq(from, &s->sync_from) || u->total != s->sync_total) {
        sync_reset(s);
        s->sync_from = *from;
        s->sync_total = u->total;
    }
    if (s->n_sync + u->n > s->cap_sync) {
        /* Grown by what arrives, not by what total claims. */
        s->cap_sync = MAX(2 * s->cap_sync, s->n_sync + u->n);
        s->sync = g_renew(struct node_peer, s->sync, s->cap_sync);
    }
    for (unsigned i = 0; i < u->n; i++)
        s->sync[s->n_sync++] = body_entry(u, i);
    s->sync_got += u->n;
    if (s->sync_got < s->sync_total)
        return;
    qsort(s->sync, s->n_sync, sizeof *s->sync, peer_cmp);
    uint32_t w = 0;
    for (uint32_t i = 0; i < s->n_sync; i++)
        if (!w || !id_eq(&s->sync[w - 1].id, &s->sync[i].id))
            s->sync[w++] = s->sync[i];
    s->n_sync = w;
    sync_complete(s);
}

/* ---- ordinary peers: attaching, moving, keepalives ------------------------------------- */

static void client_move(struct superpeer *s, const struct node_peer *to,
                        const struct id *leave_old);
static void rejoin_bootstrap(struct superpeer *s);
static void start_timers(struct superpeer *s);

/* The super-peer `lost` failed or left: answers naming it are stale for a while. */
static void mark_lost(struct superpeer *s, const struct id *lost)
{
    s->have_failed = true;
    s->failed = *lost;
    s->failed_s = now_s(s);
}

/* True when id is a super-peer this peer lost so recently that the tier may still list it:
 * within one digest period (when its ring predecessor notices) and two keepalives. */
static bool lost_recently(const struct superpeer *s, const struct id *id)
{
    const struct node_config *c = N(s)->cfg;
    uint32_t window = (uint32_t)((c->update_interval + 2 * c->superpeer.keepalive) / ENV_S);
    return s->have_failed && id_eq(id, &s->failed) && now_s(s) - s->failed_s <= window;
}

/* The Resource-ID a peer Attaches to, through a bootstrap peer, to find the super-peer that
 * is (or will be) responsible for its own Node-ID X: X + 1, not X.  Both reach SP(X) (no
 * other node has the id X + 1), but only X can match a stale entry for this very node: a
 * super-peer that still lists it as a member or as an attached ordinary peer after it
 * restarted (with the same Node-ID and address, before anyone noticed), or after it came
 * back as an ordinary peer, would route an Attach to X to the new node itself, which is not
 * joined and drops it, so that the join could never complete. */
static struct id attach_target(const struct superpeer *s)
{
    return id_next(SELF(s));
}

/* Remembers a super-peer's address for the day both the super-peer and the backup are lost. */
static void remember_spare(struct superpeer *s, const struct env_addr *a)
{
    for (unsigned i = 0; i < s->n_spares; i++)
        if (env_addr_eq(&s->spares[i], a))
            return;
    if (s->n_spares < SUPERPEER_SPARES)
        s->spares[s->n_spares++] = *a;
    else
        s->spares[s->spare_round++ % SUPERPEER_SPARES] = *a;
}

/* A new attempt to attach (or join): answers to earlier attempts are ignored from now on. */
static uint32_t new_attempt(struct superpeer *s)
{
    s->attaching = s->keepalive_pending = false;
    return ++s->gen;
}

/* Applies an ATTACH_TO list l of n entries sent by `from` (this peer's super-peer). */
static void apply_pointer(struct superpeer *s, const struct id *from, const struct node_peer *l,
                          size_t n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n; i++)
        remember_spare(s, &l[i].addr);
    bool stale = lost_recently(s, &l[0].id);
    if (id_eq(&l[0].id, from) || stale) {
        /* from is right (or names the super-peer we just lost): keep it, take the backup. */
        s->have_backup = false;
        for (size_t i = 1; i < n && !s->have_backup; i++)
            if (!id_eq(&l[i].id, from) && !lost_recently(s, &l[i].id)) {
                s->backup = l[i];
                s->have_backup = true;
            }
        if (!stale)
            s->moves = 0;
        return;
    }
    if (s->moves >= SUPERPEER_MAX_MOVES)
        return;
    s->moves++;
    client_move(s, &l[0], from);
}

struct move_arg {
    uint32_t gen;
    bool leave_old;
    struct id old; /* the super-peer left behind, told by a Leave once the move succeeded */
};

static void failover(struct superpeer *s, const struct id *lost);

static void client_joined(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct move_arg *a = arg;
    struct superpeer *s = (struct superpeer *)n->topo;
    struct move_arg m = *a;
    g_free(a);
    if (m.gen != s->gen || n->state == NODE_LEFT || n->state == NODE_LEAVING)
        return;
    struct id answerer;
    struct wire_join_ans ja;
    struct body l;
    bool ok = status == NODE_OK && resp->h.n_via > 0 &&
              wire_dest_id(&resp->h.via[0], &answerer) == 0 && id_eq(&answerer, &s->sp.id) &&
              wire_decode_join_ans(resp->body.p, resp->body.len, &ja) == 0 &&
              body_decode(ja.overlay_data.p, ja.overlay_data.len, &l) == 0 &&
              l.type == SUPERPEER_ATTACH_TO;
    if (!ok) {
        if (n->state == NODE_JOINED)
            failover(s, &s->sp.id);
        return; /* joining: the join timer tries again */
    }
    if (n->state == NODE_JOINING) {
        node_set_joined(n);
        start_timers(s);
    }
    if (m.leave_old && !id_eq(&m.old, &s->sp.id)) {
        GByteArray *b = g_byte_array_new();
        struct wire_leave_req r = {.leaving = *SELF(s)};
        wire_encode_leave_req(b, &r);
        send_to(s, &m.old, WIRE_LEAVE_REQ, b, NULL, NULL);
        g_byte_array_free(b, TRUE);
    }
    struct node_peer e[SUPERPEER_POINTER];
    for (unsigned i = 0; i < l.n; i++)
        e[i] = body_entry(&l, i);
    apply_pointer(s, &s->sp.id, e, l.n);
}

/* Attaches to super-peer `to`: the ordinary peer sends the Join itself, which opens the
 * connection from its side; leave_old, when not NULL, is told by a Leave once `to` accepts. */
static void client_move(struct superpeer *s, const struct node_peer *to, const struct id *leave_old)
{
    struct node *n = N(s);
    uint32_t gen = new_attempt(s);
    s->sp = *to;
    s->have_sp = true;
    if (s->have_backup && id_eq(&s->backup.id, &to->id))
        s->have_backup = false;
    node_conn_add(n, &to->id, &to->addr);
    struct move_arg *a = g_new0(struct move_arg, 1);
    a->gen = gen;
    if (leave_old) {
        a->leave_old = true;
        a->old = *leave_old;
    }
    uint8_t role = SUPERPEER_ROLE_ORDINARY;
    struct wire_join_req j = {.joining = *SELF(s), .overlay_data = {&role, 1}};
    GByteArray *b = g_byte_array_new();
    wire_encode_join_req(b, &j);
    send_to(s, &to->id, WIRE_JOIN_REQ, b, client_joined, a);
    g_byte_array_free(b, TRUE);
}

/* The super-peer `lost` failed or left: go to the backup, else through a bootstrap peer. */
static void failover(struct superpeer *s, const struct id *lost)
{
    if (N(s)->state != NODE_JOINED || s->is_super)
        return;
    mark_lost(s, lost);
    s->moves = 0;
    if (s->have_backup && !id_eq(&s->backup.id, lost)) {
        struct node_peer to = s->backup;
        s->have_backup = false;
        client_move(s, &to, NULL);
        return;
    }
    rejoin_bootstrap(s);
}

static void bootstrap_attached(struct node *n, void *arg, int status, const struct node_peer *p)
{
    struct superpeer *s = (struct superpeer *)n->topo;
    uint32_t gen = *(uint32_t *)arg;
    g_free(arg);
    if (gen != s->gen || n->state != NODE_JOINED)
        return;
    s->attaching = false;
    if (status == NODE_OK)
        client_move(s, p, NULL);
    /* else the next keepalive tick tries another bootstrap peer */
}

static void rejoin_bootstrap(struct superpeer *s)
{
    struct node *n = N(s);
    uint32_t g = new_attempt(s);
    s->have_sp = false;
    unsigned n_boot;
    const struct env_addr *boot = node_bootstraps(n, &n_boot);
    unsigned choices = n_boot + s->n_spares;
    if (!choices)
        return;
    /* The bootstrap peers, then the super-peers known before, in turn. */
    unsigned c = s->boot_round++ % choices;
    const struct env_addr *b = c < n_boot ? &boot[c] : &s->spares[c - n_boot];
    s->attaching = true;
    uint32_t *gen = g_new(uint32_t, 1);
    *gen = g;
    struct id target = attach_target(s);
    node_attach_bootstrap(n, &target, b, bootstrap_attached, gen);
}

struct keepalive_arg {
    uint32_t gen;
};

static void keepalive_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct superpeer *s = (struct superpeer *)n->topo;
    uint32_t gen = ((struct keepalive_arg *)arg)->gen;
    g_free(arg);
    if (gen != s->gen || n->state != NODE_JOINED)
        return;
    s->keepalive_pending = false;
    struct id answerer;
    if (status != NODE_OK || resp->h.n_via == 0 || wire_dest_id(&resp->h.via[0], &answerer) < 0 ||
        !id_eq(&answerer, &s->sp.id)) {
        /* Unanswered, refused, or answered by another super-peer (ours is gone, the tier
         * delivered to the one now responsible for its id): ours no longer serves us. */
        failover(s, &s->sp.id);
        return;
    }
    struct body l;
    if (resp->body.len == 0 || body_decode(resp->body.p, resp->body.len, &l) < 0 ||
        l.type != SUPERPEER_ATTACH_TO) {
        s->moves = 0;
        return; /* nothing to change */
    }
    struct node_peer e[SUPERPEER_POINTER];
    for (unsigned i = 0; i < l.n; i++)
        e[i] = body_entry(&l, i);
    apply_pointer(s, &answerer, e, l.n);
}

/* An ordinary peer's tick: a keepalive to its super-peer, or another attempt to attach. */
static void keepalive(struct superpeer *s)
{
    s->moves = 0;
    if (!s->have_sp) {
        if (!s->attaching)
            rejoin_bootstrap(s);
    } else if (!s->keepalive_pending) {
        s->keepalive_pending = true;
        struct keepalive_arg *a = g_new(struct keepalive_arg, 1);
        a->gen = s->gen;
        send_list(s, &s->sp.id, SUPERPEER_KEEPALIVE, &s->backup, s->have_backup, keepalive_done, a);
    }
}

/* ---- super-peers: periodic work ----------------------------------------------------------- */

static void digest_fire(void *arg)
{
    struct superpeer *s = arg;
    struct node *n = N(s);
    s->digest_timer = 0;
    if (!node_routes(n))
        return;
    if (s->n_members) {
        /* Watch the ring successor and compare tables with it. */
        const struct node_peer *succ =
            &s->members[lower_bound(s->members, s->n_members, SELF(s)) % s->n_members];
        send_digest(s, &succ->id);
    }
    start_timers(s);
}

/* A super-peer's tick: drops ordinary peers silent for SUPERPEER_CLIENT_EXPIRY keepalive
 * periods. */
static void sweep(struct superpeer *s)
{
    struct node *n = N(s);
    uint32_t limit = (uint32_t)(SUPERPEER_CLIENT_EXPIRY * n->cfg->superpeer.keepalive / ENV_S);
    uint32_t now = now_s(s), w = 0;
    for (uint32_t i = 0; i < s->n_clients; i++)
        if (now - s->clients[i].seen_s <= MAX(limit, 1u))
            s->clients[w++] = s->clients[i];
    s->n_clients = w;
}

static void tick_fire(void *arg)
{
    struct superpeer *s = arg;
    struct node *n = N(s);
    s->tick_timer = 0;
    if (n->state != NODE_JOINED)
        return;
    if (s->is_super)
        sweep(s);
    else
        keepalive(s);
    s->tick_timer = env_timer_start(&n->env, n->cfg->superpeer.keepalive, tick_fire, s);
}

static void check_partition(void *arg);

static void start_timers(struct superpeer *s)
{
    struct node *n = N(s);
    env_time ka = n->cfg->superpeer.keepalive;
    if (s->is_super) {
        if (!s->digest_timer && n->cfg->update_interval)
            s->digest_timer =
                env_timer_start(&n->env, jitter(s, n->cfg->update_interval), digest_fire, s);
        unsigned n_boot;
        node_bootstraps(n, &n_boot);
        if (!s->partition_timer && n->cfg->partition_interval && n_boot)
            s->partition_timer =
                env_timer_start(&n->env, jitter(s, n->cfg->partition_interval), check_partition, s);
    }
    if (!s->tick_timer && ka)
        s->tick_timer = env_timer_start(&n->env, jitter(s, ka), tick_fire, s);
}

/* ---- partition detection (after RFC 6940 §10.7.4.4) -------------------------------------
 * Two tiers that lost sight of each other (a network partition: each side dropped the other's
 * super-peers as failed) never compare tables again, since a super-peer only digests with its
 * own ring successor.  So every partition_interval a super-peer Pings the id after its own
 * through one of its bootstrap peers, in turn, as CHORD-RELOAD does: the answer comes from
 * the super-peer the bootstrap's tier holds responsible, which is our successor when both
 * see one tier.  A responder we do not know is a member of another tier (or of ours, missed):
 * we Attach to it through the same bootstrap, admit it and tell our tier (ADD), and send it
 * our DIGEST, which admits us into its tier and brings back its member list.  We probe that
 * list (sync_complete) and tell our tier of every super-peer the probes confirm (probe_done);
 * the digests between the new ring neighbours do the same in the other direction.  Without
 * this a tier split by a partition stayed split after it healed, and about half of all
 * lookups went to the wrong super-peer from then on. */

static void merge_attached(struct node *n, void *arg, int status, const struct node_peer *p)
{
    struct superpeer *s = (struct superpeer *)n->topo;
    struct id want = *(struct id *)arg;
    g_free(arg);
    if (status != NODE_OK || !s->is_super || !node_routes(n) || !id_eq(&p->id, &want) ||
        member_has(s, &p->id))
        return;
    if (member_joined(s, p)) {
        broadcast(s, SUPERPEER_ADD, p, 1, &p->id);
        membership_changed(s);
    }
    send_digest(s, &p->id);
}

static void partition_answer(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct superpeer *s = (struct superpeer *)n->topo;
    struct env_addr via = *(struct env_addr *)arg;
    g_free(arg);
    struct id responder;
    if (status != NODE_OK || !s->is_super || !node_routes(n) || resp->h.n_via == 0 ||
        wire_dest_id(&resp->h.via[0], &responder) < 0 || id_eq(&responder, SELF(s)) ||
        member_has(s, &responder))
        return;
    node_attach_bootstrap(n, &responder, &via, merge_attached,
                          g_memdup2(&responder, sizeof responder));
}

static void check_partition(void *arg)
{
    struct superpeer *s = arg;
    struct node *n = N(s);
    s->partition_timer = 0;
    if (!node_routes(n) || !s->is_super)
        return;
    unsigned n_boot;
    const struct env_addr *boot = node_bootstraps(n, &n_boot);
    const struct env_addr *b = &boot[s->partition_round++ % n_boot];
    if (!env_addr_eq(b, &n->addr)) {
        struct node_dest d = {WIRE_DEST_RESOURCE, id_next(SELF(s))};
        GByteArray *body = g_byte_array_new();
        struct wire_ping_req ping = {{NULL, 0}};
        wire_encode_ping_req(body, &ping);
        node_request(n, &d, 1, WIRE_PING_REQ, body, b, partition_answer, g_memdup2(b, sizeof *b));
        g_byte_array_free(body, TRUE);
    }
    start_timers(s);
}

/* ---- requests: Update, Join, Leave, RouteQuery, Probe ----------------------------------- */

/* A KEEPALIVE from ordinary peer `from`: refresh it, and answer with the right super-peer and
 * backup when its view (us, and the backup it names) is not right any more. */
static void on_keepalive(struct superpeer *s, const struct wire_message *m, const struct id *from,
                         const struct body *u)
{
    struct node *n = N(s);
    if (!s->is_super || !node_routes(n)) {
        node_respond_error(n, m, WIRE_ERR_FORBIDDEN, "not a super-peer");
        return;
    }
    struct conn *c = node_conn_find(n, from);
    if (c && m->h.n_via == 1)
        client_touch(s, from, &c->addr); /* it reached us directly: it is attached here */
    struct node_peer l[SUPERPEER_POINTER], named = {{0, 0}, {0, 0}};
    size_t nl = pointer_for(s, from, l);
    if (u->n)
        named = body_entry(u, 0);
    bool right = nl && id_eq(&l[0].id, SELF(s)) && m->h.n_via == 1 &&
                 (nl >= 2 ? u->n == 1 && id_eq(&named.id, &l[1].id) : u->n == 0);
    if (right) {
        node_respond(n, m, WIRE_UPDATE_ANS, NULL);
        return;
    }
    GByteArray *b = g_byte_array_new();
    body_encode(b, SUPERPEER_ATTACH_TO, (uint32_t)nl, l, nl);
    node_respond(n, m, WIRE_UPDATE_ANS, nl ? b : NULL);
    g_byte_array_free(b, TRUE);
}

static void reannounce(struct superpeer *s)
{
    struct node_peer me = self_peer(s);
    broadcast(s, SUPERPEER_ADD, &me, 1, NULL);
}

static void on_update(struct superpeer *s, const struct wire_message *m)
{
    struct node *n = N(s);
    struct id from;
    struct body u;
    if (!request_origin(m, &from) || body_decode(m->body.p, m->body.len, &u) < 0) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad SuperpeerUpdate");
        return;
    }
    if (u.type == SUPERPEER_KEEPALIVE) {
        on_keepalive(s, m, &from, &u);
        return;
    }
    if (u.type == SUPERPEER_DIGEST && !(s->is_super && n->state == NODE_JOINED)) {
        /* Only a joined super-peer compares tables: the sender holds us as a member by
         * mistake (see digest_done) and drops us when told so. */
        node_respond_error(n, m, WIRE_ERR_FORBIDDEN, "not a joined super-peer");
        return;
    }
    node_respond(n, m, WIRE_UPDATE_ANS, NULL);
    if (id_eq(&from, SELF(s)))
        return; /* our own Update, delivered here because its target is gone */
    bool routing = n->state == NODE_JOINED;
    bool changed = false;
    switch (u.type) {
    case SUPERPEER_FULL:
        on_full(s, &from, &u);
        break;
    case SUPERPEER_ADD:
        if (!s->is_super || !(routing || n->state == NODE_JOINING))
            break;
        for (unsigned i = 0; i < u.n; i++) {
            struct node_peer p = body_entry(&u, i);
            changed |= member_joined(s, &p);
        }
        break;
    case SUPERPEER_REMOVE:
        if (!s->is_super || !routing)
            break;
        for (unsigned i = 0; i < u.n; i++) {
            struct id id = body_entry(&u, i).id;
            if (id_eq(&id, SELF(s)))
                reannounce(s); /* we are alive: whoever thought otherwise was wrong */
            else
                changed |= drop_member(s, &id, false);
        }
        break;
    case SUPERPEER_DIGEST:
        if (s->is_super && routing) {
            /* A joined super-peer we do not know (the tier missed its join, or dropped it on
             * a false suspicion): admit it as a Join would. */
            struct conn *c = node_conn_find(n, &from);
            if (!member_has(s, &from) && c && m->h.n_via == 1) {
                struct node_peer p = {from, c->addr};
                changed |= member_joined(s, &p);
                broadcast(s, SUPERPEER_ADD, &p, 1, &p.id);
            }
            uint32_t size;
            uint64_t h = digest(s, &size);
            if (size != u.total || h != u.hash)
                send_full(s, &from);
        }
        break;
    case SUPERPEER_ATTACH_TO:
        /* Our super-peer sends us to another one (a super-peer joined in our range). */
        if (!s->is_super && routing && s->have_sp && id_eq(&from, &s->sp.id)) {
            struct node_peer e[SUPERPEER_POINTER];
            for (unsigned i = 0; i < u.n; i++)
                e[i] = body_entry(&u, i);
            s->moves = 0;
            apply_pointer(s, &from, e, u.n);
        }
        break;
    }
    if (changed && routing)
        membership_changed(s);
}

/* The admitting super-peer's side of a Join (role super or ordinary). */
static void on_join(struct superpeer *s, const struct wire_message *m)
{
    struct node *n = N(s);
    struct wire_join_req j;
    if (wire_decode_join_req(m->body.p, m->body.len, &j) < 0 || j.overlay_data.len != 1 ||
        (j.overlay_data.p[0] != SUPERPEER_ROLE_SUPER &&
         j.overlay_data.p[0] != SUPERPEER_ROLE_ORDINARY)) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad JoinReq");
        return;
    }
    struct conn *c = node_conn_find(n, &j.joining);
    if (!s->is_super || !node_routes(n)) {
        node_respond_error(n, m, WIRE_ERR_FORBIDDEN, "not a joined super-peer");
        return;
    }
    if (!c || id_eq(&j.joining, SELF(s))) {
        node_respond_error(n, m, WIRE_ERR_FORBIDDEN, "Attach before Join");
        return;
    }
    struct node_peer p = {j.joining, c->addr};
    if (j.overlay_data.p[0] == SUPERPEER_ROLE_ORDINARY) {
        if (member_remove(s, &p.id)) /* it was a super-peer once; not any more */
            membership_changed(s);
        client_touch(s, &p.id, &p.addr);
        struct node_peer l[SUPERPEER_POINTER];
        size_t nl = pointer_for(s, &p.id, l);
        GByteArray *ov = g_byte_array_new(), *b = g_byte_array_new();
        body_encode(ov, SUPERPEER_ATTACH_TO, (uint32_t)nl, l, nl);
        struct wire_join_ans a = {{ov->data, ov->len}};
        wire_encode_join_ans(b, &a);
        node_respond(n, m, WIRE_JOIN_ANS, b);
        g_byte_array_free(b, TRUE);
        g_byte_array_free(ov, TRUE);
        return;
    }
    /* A super-peer: it takes its range out of ours (member_joined), the tier learns of it. */
    struct wire_join_ans a = {{NULL, 0}};
    GByteArray *b = g_byte_array_new();
    wire_encode_join_ans(b, &a);
    node_respond(n, m, WIRE_JOIN_ANS, b);
    g_byte_array_free(b, TRUE);
    /* A member that Joins again restarted before its crash was noticed: its new node holds
     * no records, and our predecessor did not change, so hand them over once more. */
    bool again = member_has(s, &p.id);
    bool added = member_joined(s, &p);
    broadcast(s, SUPERPEER_ADD, &p, 1, &p.id);
    if (again && id_eq(&s->members[pred_index(s)].id, &p.id))
        s->pred_hash = 0;
    if (added || again)
        membership_changed(s);
}

static void on_leave(struct superpeer *s, const struct wire_message *m)
{
    struct node *n = N(s);
    struct wire_leave_req r;
    struct body l;
    struct id from;
    if (wire_decode_leave_req(m->body.p, m->body.len, &r) < 0 ||
        (r.overlay_data.len && (body_decode(r.overlay_data.p, r.overlay_data.len, &l) < 0 ||
                                l.type != SUPERPEER_ATTACH_TO))) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad LeaveReq");
        return;
    }
    if (!request_origin(m, &from) || !id_eq(&from, &r.leaving)) {
        node_respond_error(n, m, WIRE_ERR_FORBIDDEN, "a node leaves only for itself");
        return;
    }
    node_respond(n, m, WIRE_LEAVE_ANS, NULL);
    if (n->state != NODE_JOINED)
        return;
    if (s->is_super) {
        client_remove(s, &r.leaving);
        node_conn_remove(n, &r.leaving);
        if (member_remove(s, &r.leaving))
            membership_changed(s);
        return;
    }
    if (s->have_backup && id_eq(&s->backup.id, &r.leaving))
        s->have_backup = false;
    if (!s->have_sp || !id_eq(&s->sp.id, &r.leaving))
        return;
    node_conn_remove(n, &r.leaving);
    mark_lost(s, &r.leaving);
    if (r.overlay_data.len) {
        /* It names its successor, now responsible for our id. */
        struct node_peer to = body_entry(&l, 0);
        s->moves = 0;
        client_move(s, &to, NULL);
    } else {
        failover(s, &r.leaving);
    }
}

static void on_route_query(struct superpeer *s, const struct wire_message *m)
{
    struct node *n = N(s);
    struct wire_route_query_req q;
    struct id target, origin;
    if (wire_decode_route_query_req(m->body.p, m->body.len, &q) < 0 ||
        wire_dest_id(&q.destination, &target) < 0 || !request_origin(m, &origin)) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad RouteQueryReq");
        return;
    }
    if (!s->is_super || !node_routes(n)) {
        node_respond_error(n, m, WIRE_ERR_FORBIDDEN, "not a joined super-peer");
        return;
    }
    /* The answer: the next hop towards the destination (or this node when responsible). */
    struct node_peer next = self_peer(s);
    if (!superpeer_responsible(&s->base, &target))
        superpeer_next_hop(&s->base, &target, &next);
    GByteArray *b = g_byte_array_new();
    body_encode(b, SUPERPEER_ATTACH_TO, 1, &next, 1);
    node_respond(n, m, WIRE_ROUTE_QUERY_ANS, b);
    g_byte_array_free(b, TRUE);
    if (q.send_update)
        send_full(s, &origin);
}

static void on_probe(struct superpeer *s, const struct wire_message *m)
{
    struct node *n = N(s);
    struct wire_probe_req q;
    if (wire_decode_probe_req(m->body.p, m->body.len, &q) < 0) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad ProbeReq");
        return;
    }
    struct wire_probe_ans a;
    memset(&a, 0, sizeof a);
    for (unsigned i = 0; i < q.n && a.n < WIRE_MAX_PROBE; i++) {
        uint32_t v;
        switch (q.requested[i]) {
        case WIRE_PROBE_RESPONSIBLE_SET: {
            /* Share of the id space this node is responsible for, in parts per billion. */
            struct id span = {~0ull, ~0ull};
            if (!s->is_super)
                span = (struct id){0, 0};
            else if (s->n_members)
                span = id_dist(&s->members[pred_index(s)].id, SELF(s));
            v = (uint32_t)(id_to_unit(&span) * 1e9);
            if (s->is_super && v == 0)
                v = 1; /* never empty: 0 tells an ordinary peer (probe_says_super) */
            break;
        }
        case WIRE_PROBE_NUM_RESOURCES:
            v = (uint32_t)node_stored_records(n);
            break;
        case WIRE_PROBE_UPTIME:
            v = (uint32_t)((env_now(&n->env) - n->started) / ENV_S);
            break;
        default:
            continue;
        }
        a.info[a.n].type = q.requested[i];
        a.info[a.n].value = v;
        a.n++;
    }
    GByteArray *b = g_byte_array_new();
    wire_encode_probe_ans(b, &a);
    node_respond(n, m, WIRE_PROBE_ANS, b);
    g_byte_array_free(b, TRUE);
}

static void superpeer_on_request(struct topology *t, const struct wire_message *m)
{
    struct superpeer *s = (struct superpeer *)t;
    switch (m->code) {
    case WIRE_UPDATE_REQ:
        on_update(s, m);
        break;
    case WIRE_JOIN_REQ:
        on_join(s, m);
        break;
    case WIRE_LEAVE_REQ:
        on_leave(s, m);
        break;
    case WIRE_ROUTE_QUERY_REQ:
        on_route_query(s, m);
        break;
    case WIRE_PROBE_REQ:
        on_probe(s, m);
        break;
    default:
        node_respond_error(N(s), m, WIRE_ERR_INVALID_MESSAGE, "unsupported method");
    }
}

/* ---- joining -------------------------------------------------------------------------------- */

static void join_start(struct superpeer *s, const struct env_addr *bootstrap);

static void super_joined(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    struct superpeer *s = (struct superpeer *)n->topo;
    uint32_t gen = *(uint32_t *)arg;
    g_free(arg);
    if (gen != s->gen || n->state != NODE_JOINING || status != NODE_OK)
        return; /* the join timer tries again */
    s->have_sp = false; /* the admitting peer is just a member now */
    node_set_joined(n);
    start_timers(s);
    membership_changed(s);
}

/* The member table is complete: Join at the super-peer responsible for our id until now. */
static void join_with_table(struct superpeer *s)
{
    const struct node_peer *owner = member_at_or_after(s, SELF(s));
    if (!owner)
        return;
    uint32_t *gen = g_new(uint32_t, 1);
    *gen = s->gen;
    uint8_t role = SUPERPEER_ROLE_SUPER;
    struct wire_join_req j = {.joining = *SELF(s), .overlay_data = {&role, 1}};
    GByteArray *b = g_byte_array_new();
    wire_encode_join_req(b, &j);
    send_to(s, &owner->id, WIRE_JOIN_REQ, b, super_joined, gen);
    g_byte_array_free(b, TRUE);
}

/* The Attach through the bootstrap was answered by p, the super-peer responsible for our id. */
static void join_attached(struct node *n, void *arg, int status, const struct node_peer *p)
{
    struct superpeer *s = (struct superpeer *)n->topo;
    uint32_t gen = *(uint32_t *)arg;
    g_free(arg);
    if (gen != s->gen || n->state != NODE_JOINING || status != NODE_OK)
        return;
    if (!s->is_super) {
        client_move(s, p, NULL);
        return;
    }
    /* Ask for the member list (RouteQuery with send_update, answered by FULL Updates). */
    s->sp = *p;
    s->have_sp = true;
    uint8_t idb[ID_BYTES];
    id_to_bytes(SELF(s), idb);
    struct wire_route_query_req q;
    memset(&q, 0, sizeof q);
    q.send_update = true;
    wire_dest_node(&q.destination, idb);
    GByteArray *b = g_byte_array_new();
    wire_encode_route_query_req(b, &q);
    send_to(s, &p->id, WIRE_ROUTE_QUERY_REQ, b, NULL, NULL);
    g_byte_array_free(b, TRUE);
}

static void join_start(struct superpeer *s, const struct env_addr *bootstrap)
{
    struct node *n = N(s);
    uint32_t g = new_attempt(s);
    s->have_sp = s->have_backup = false;
    s->n_members = 0;
    sync_reset(s);
    uint32_t *gen = g_new(uint32_t, 1);
    *gen = g;
    struct id target = attach_target(s);
    node_attach_bootstrap(n, &target, bootstrap, join_attached, gen);
}

static int superpeer_join(struct topology *t, const struct env_addr *bootstrap)
{
    struct superpeer *s = (struct superpeer *)t;
    if (!bootstrap) {
        if (!s->is_super) {
            env_logf(&N(s)->env, ENV_LOG_WARN, "an ordinary peer needs a bootstrap peer");
            return NODE_E_STATE;
        }
        node_set_joined(N(s));
        start_timers(s);
        return NODE_OK;
    }
    join_start(s, bootstrap);
    return NODE_OK;
}

/* ---- leaving, failures, connections ------------------------------------------------------ */

static void superpeer_leave(struct topology *t)
{
    struct superpeer *s = (struct superpeer *)t;
    GByteArray *ov = g_byte_array_new(), *b = g_byte_array_new();
    struct wire_leave_req r = {.leaving = *SELF(s)};
    if (s->is_super) {
        /* Tell members and ordinary peers; the latter move to our successor. */
        struct node_peer l[SUPERPEER_POINTER], succ;
        size_t nl = 0;
        if (ring_next(s, SELF(s), &succ))
            nl = ring_walk(s, &succ, SELF(s), l, SUPERPEER_POINTER);
        if (nl)
            body_encode(ov, SUPERPEER_ATTACH_TO, (uint32_t)nl, l, nl);
        r.overlay_data.p = ov->data;
        r.overlay_data.len = ov->len;
        wire_encode_leave_req(b, &r);
        for (uint32_t i = 0; i < s->n_members; i++)
            send_to(s, &s->members[i].id, WIRE_LEAVE_REQ, b, NULL, NULL);
        for (uint32_t i = 0; i < s->n_clients; i++)
            send_to(s, &s->clients[i].id, WIRE_LEAVE_REQ, b, NULL, NULL);
    } else if (s->have_sp) {
        wire_encode_leave_req(b, &r);
        send_to(s, &s->sp.id, WIRE_LEAVE_REQ, b, NULL, NULL);
    }
    g_byte_array_free(ov, TRUE);
    g_byte_array_free(b, TRUE);
}

static void superpeer_peer_lost(struct topology *t, const struct id *peer)
{
    struct superpeer *s = (struct superpeer *)t;
    struct node *n = N(s);
    if (n->state != NODE_JOINED && n->state != NODE_JOINING)
        return;
    if (!s->is_super) {
        if (s->have_backup && id_eq(&s->backup.id, peer))
            s->have_backup = false;
        if (s->have_sp && id_eq(&s->sp.id, peer))
            failover(s, peer);
        return;
    }
    client_remove(s, peer);
    if (drop_member(s, peer, true))
        membership_changed(s);
}

/* Attach with send_update (§6.5.1.1): the routing table as the attacher needs it — its
 * super-peer and backup — in an ATTACH_TO Update (see the file comment). */
static void superpeer_send_update(struct topology *t, const struct id *peer)
{
    struct superpeer *s = (struct superpeer *)t;
    if (!s->is_super || !node_routes(N(s)))
        return;
    struct node_peer l[SUPERPEER_POINTER];
    size_t nl = pointer_for(s, peer, l);
    if (nl)
        send_list(s, peer, SUPERPEER_ATTACH_TO, l, nl, NULL, NULL);
}

static void superpeer_peer_connected(struct topology *t, const struct node_peer *p)
{
    struct superpeer *s = (struct superpeer *)t;
    if (s->is_super) {
        if (member_has(s, &p->id))
            member_add(s, p); /* refresh the address */
    } else if (s->have_sp && id_eq(&s->sp.id, &p->id)) {
        s->sp.addr = p->addr;
    }
}

/* ---- ready-made states (the simulator's stable start) ----------------------------------- */

static void reset_tables(struct superpeer *s)
{
    s->n_members = s->n_clients = 0;
    s->have_sp = s->have_backup = s->have_failed = false;
    s->n_spares = 0;
    sync_reset(s);
}

/* install_ring form: a super-peer takes every peer given as a member; an ordinary peer takes
 * the first successor as its super-peer and the second as its backup. */
static void superpeer_install(struct topology *t, const struct node_peer *pred, size_t n_pred,
                              const struct node_peer *succ, size_t n_succ,
                              const struct node_peer *fingers, size_t n_fingers)
{
    struct superpeer *s = (struct superpeer *)t;
    reset_tables(s);
    if (s->is_super) {
        const struct node_peer *lists[3] = {pred, succ, fingers};
        size_t counts[3] = {n_pred, n_succ, n_fingers};
        for (unsigned l = 0; l < 3; l++)
            for (size_t i = 0; i < counts[l]; i++)
                member_add(s, &lists[l][i]);
        hand_records(s, false);
    } else if (n_succ) {
        s->sp = succ[0];
        s->have_sp = true;
        node_conn_add(N(s), &succ[0].id, &succ[0].addr);
        if (n_succ > 1) {
            s->backup = succ[1];
            s->have_backup = true;
        }
    }
    start_timers(s);
}

static void superpeer_install_view(struct topology *t, const struct topology_view *v)
{
    struct superpeer *s = (struct superpeer *)t;
    struct node *n = N(s);
    reset_tables(s);
    s->is_super = v->super ? v->super[v->self] != 0 : true;
#define IS_SUPER(i) (!v->super || v->super[i])
    if (s->is_super) {
        size_t count = 0;
        for (size_t i = 0; i < v->n; i++)
            count += i != v->self && IS_SUPER(i);
        if (count > s->cap_members) {
            s->members = g_renew(struct node_peer, s->members, count);
            s->cap_members = (uint32_t)count;
        }
        for (size_t i = 0; i < v->n; i++)
            if (i != v->self && IS_SUPER(i))
                s->members[s->n_members++] = v->peers[i]; /* the view is sorted */
        /* Our ordinary peers: those between the previous super-peer and us. */
        for (size_t k = 1; k < v->n; k++) {
            size_t j = (v->self + v->n - k) % v->n;
            if (IS_SUPER(j))
                break;
            client_touch(s, &v->peers[j].id, &v->peers[j].addr);
            node_conn_add(n, &v->peers[j].id, &v->peers[j].addr);
        }
        hand_records(s, false); /* the predecessor as installed */
    } else {
        /* The first super-peer after us is ours, the next the backup; the first few are
         * remembered as spares. */
        for (size_t k = 1; k < v->n && s->n_spares < SUPERPEER_SPARES; k++) {
            size_t j = (v->self + k) % v->n;
            if (!IS_SUPER(j))
                continue;
            remember_spare(s, &v->peers[j].addr);
            if (s->have_backup)
                continue;
            if (!s->have_sp) {
                s->sp = v->peers[j];
                s->have_sp = true;
            } else {
                s->backup = v->peers[j];
                s->have_backup = true;
            }
            node_conn_add(n, &v->peers[j].id, &v->peers[j].addr);
        }
    }
#undef IS_SUPER
    start_timers(s);
}

/* ---- introspection and life cycle -------------------------------------------------------- */

static size_t superpeer_successors(const struct topology *t, struct node_peer *out, size_t max)
{
    const struct superpeer *s = (const struct superpeer *)t;
    size_t n = 0;
    if (!s->is_super) {
        if (s->have_sp && n < max)
            out[n++] = s->sp;
        if (s->have_backup && n < max)
            out[n++] = s->backup;
        return n;
    }
    uint32_t i = lower_bound(s->members, s->n_members, SELF(s));
    for (; n < max && n < s->n_members; n++)
        out[n] = s->members[(i + n) % s->n_members];
    return n;
}

static size_t superpeer_predecessors(const struct topology *t, struct node_peer *out, size_t max)
{
    const struct superpeer *s = (const struct superpeer *)t;
    if (!s->is_super || !s->n_members)
        return 0;
    uint32_t p = pred_index(s);
    size_t n = 0;
    for (; n < max && n < s->n_members; n++)
        out[n] = s->members[(p + s->n_members - n) % s->n_members];
    return n;
}

static bool listed(const struct node_peer *l, size_t n, const struct id *id)
{
    for (size_t i = 0; i < n; i++)
        if (id_eq(&l[i].id, id))
            return true;
    return false;
}

/* Neighbours: a super-peer's nearest super-peers on each side (cfg.successors and
 * cfg.predecessors of them) and its ordinary peers; an ordinary peer's super-peer and backup.
 * The rest of the member table is routing state, not neighbours (graph snapshots would
 * otherwise hold S^2 edges among super-peers). */
static size_t superpeer_routing_table(const struct topology *t, struct node_peer *out, size_t max)
{
    const struct superpeer *s = (const struct superpeer *)t;
    if (!s->is_super)
        return superpeer_successors(t, out, max);
    size_t n = superpeer_successors(t, out, MIN(max, (size_t)N(s)->cfg->successors));
    struct node_peer pred[16];
    size_t np =
        superpeer_predecessors(t, pred, MIN((size_t)N(s)->cfg->predecessors, G_N_ELEMENTS(pred)));
    for (size_t i = 0; i < np && n < max; i++)
        if (!listed(out, n, &pred[i].id))
            out[n++] = pred[i];
    for (uint32_t i = 0; i < s->n_clients && n < max; i++) {
        out[n].id = s->clients[i].id;
        out[n].addr = s->clients[i].addr;
        n++;
    }
    return n;
}

static size_t superpeer_memory(const struct topology *t)
{
    const struct superpeer *s = (const struct superpeer *)t;
    return sizeof *s + s->cap_members * sizeof *s->members + s->cap_clients * sizeof *s->clients +
           s->cap_sync * sizeof *s->sync;
}

static void superpeer_destroy(struct topology *t)
{
    struct superpeer *s = (struct superpeer *)t;
    struct node *n = N(s);
    env_timer_stop(&n->env, s->digest_timer);
    env_timer_stop(&n->env, s->partition_timer);
    env_timer_stop(&n->env, s->tick_timer);
    g_free(s->members);
    g_free(s->clients);
    g_free(s->sync);
    g_free(s);
}

static const struct topology_ops superpeer_ops = {
    .name = "SUPERPEER",
    .destroy = superpeer_destroy,
    .join = superpeer_join,
    .install = superpeer_install,
    .install_view = superpeer_install_view,
    .leave = superpeer_leave,
    .responsible = superpeer_responsible,
    .next_hop = superpeer_next_hop,
    .replicas = superpeer_replicas,
    .keeps = superpeer_keeps,
    .on_request = superpeer_on_request,
    .peer_lost = superpeer_peer_lost,
    .send_update = superpeer_send_update,
    .peer_connected = superpeer_peer_connected,
    .routing_table = superpeer_routing_table,
    .successors = superpeer_successors,
    .predecessors = superpeer_predecessors,
    .memory = superpeer_memory,
};

struct topology *superpeer_new(struct node *n)
{
    struct superpeer *s = g_new0(struct superpeer, 1);
    s->base.ops = &superpeer_ops;
    s->base.node = n;
    s->is_super = n->cfg->superpeer.is_super;
    return &s->base;
}
