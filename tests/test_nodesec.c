/* test_nodesec.c — CUnit suite for signed messages in the core (core/node.c, "security") with
 * the real provider (sec/provider.h): RFC 6940 §6.3.4 (every message signed, the final
 * receiver verifies), §13.6.2 and §11.3 (a Join is admitted only with a credential the
 * overlay trusts, for a Node-ID the credential carries).
 *
 * Covers: the provider alone (signer identities, the certificate cache, its error codes);
 * an overlay whose nodes all hold credentials joins, stores and fetches, and what
 * crosses the network verifies independently with sec/sig; a peer with another CA's
 * credential, or with none, cannot join and the refusal is counted; a Join signed by one
 * Node-ID for another is refused with Error_Forbidden; a message tampered with in transit is
 * dropped and not acted upon while the genuine one is; a certificate that expires is refused
 * from then on (checked in the provider's cache at the env clock); without a provider
 * messages go out unsigned as before, and a node with one drops them; Bamboo and super-peer
 * overlays work with signatures as Chord does.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <string.h>

#include "../core/node.h"
#include "../sec/cred.h"
#include "../sec/provider.h"
#include "../sec/sig.h"
#include "../sim/pcap.h"
#include "fake_env.h"

#define NOW ((int64_t)1800000000) /* the UNIX time the fake clock's 0 stands for */
#define DAY ((int64_t)86400)
#define LATENCY (20 * ENV_MS)
#define OVERLAY "nodesec.example"
#define PCAP_PATH "tests/tmp/signed.pcap" /* signed messages for tests/t_tshark.sh */

/* A small overlay on the fake network: trusted peers share one provider (as the simulator's
 * nodes do); an outsider has its own, trusting another CA. */
struct secnet {
    struct fake_net *net;
    struct cred *ca, *other_ca;
    struct sec_provider *prov, *other_prov;
    struct node_config cfg, client_cfg, plain_cfg, other_cfg;
    struct fake_host *h[8];
    unsigned n;
};

static struct id node_name(const char *name)
{
    return id_hash(name, strlen(name));
}

static void secnet_init(struct secnet *s)
{
    memset(s, 0, sizeof *s);
    s->net = fake_net_new(LATENCY);
    CU_ASSERT_EQUAL_FATAL(cred_ca_new(OVERLAY, NOW - DAY, NOW + 365 * DAY, &s->ca), 0);
    CU_ASSERT_EQUAL_FATAL(cred_ca_new(OVERLAY, NOW - DAY, NOW + 365 * DAY, &s->other_ca), 0);
    s->prov = sec_provider_new(s->ca);
    s->other_prov = sec_provider_new(s->other_ca);
    sec_provider_set_epoch(s->prov, NOW);
    sec_provider_set_epoch(s->other_prov, NOW);
    node_config_default(&s->cfg);
    s->cfg.overlay = id_overlay_hash(OVERLAY);
    s->cfg.update_interval = 10 * ENV_S;
    s->cfg.ping_interval = 10 * ENV_S;
    s->plain_cfg = s->cfg; /* no security */
    s->cfg.security.ops = sec_provider_ops();
    s->cfg.security.ud = s->prov;
    s->client_cfg = s->cfg;
    s->client_cfg.client = true;
    s->other_cfg = s->cfg;
    s->other_cfg.security.ud = s->other_prov;
}

/* Enrolls `name` (Node-ID SHA-1(name)) with ca, valid [from, until], into provider p. */
static void enroll(struct cred *ca, struct sec_provider *p, const char *name, int64_t from,
                   int64_t until)
{
    struct id id = node_name(name);
    struct cred *c = NULL;
    CU_ASSERT_EQUAL_FATAL(cred_enroll(ca, name, 1, &id, from, until, &c), 0);
    sec_provider_add(p, c);
    cred_free(c);
}

/* A host and node named `name` with configuration cfg. */
static struct node *add_node(struct secnet *s, const char *name, const struct node_config *cfg)
{
    struct id id = node_name(name);
    struct fake_host *h = s->h[s->n++] = fake_net_add_host(s->net);
    h->node = node_new(&h->env, cfg, &id, &h->addr);
    return h->node;
}

static void run(struct secnet *s, env_time dt)
{
    fake_net_run_until(s->net, fake_net_now(s->net) + dt);
}

static void secnet_free(struct secnet *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        node_free(s->h[i]->node);
        s->h[i]->node = NULL;
    }
    CU_ASSERT_EQUAL(fake_net_pending_timers(s->net), 0);
    fake_net_free(s->net);
    sec_provider_free(s->prov);
    sec_provider_free(s->other_prov);
    cred_free(s->ca);
    cred_free(s->other_ca);
}

static void on_store(void *ud, int status)
{
    *(int *)ud = status;
}

static int store(struct secnet *s, struct node *via, const char *name, const char *value)
{
    struct id k = node_name(name);
    struct node_value v = {.value = (const uint8_t *)value, .value_len = (uint32_t)strlen(value),
                           .exists = true, .lifetime = 3600};
    int status = 99;
    CU_ASSERT_EQUAL(node_store(via, &k, NODE_KIND_VALUE, &v, 1, on_store, &status), NODE_OK);
    run(s, 20 * ENV_S);
    return status;
}

struct fetched {
    int status, calls;
    char value[64];
};

static void on_fetch(void *ud, int status, const struct wire_fetch_ans *ans)
{
    struct fetched *f = ud;
    f->calls++;
    f->status = status;
    if (status == NODE_OK && ans->n_kinds && ans->kinds[0].n_values) {
        const struct wire_stored_data *d = &ans->kinds[0].values[0];
        g_snprintf(f->value, sizeof f->value, "%.*s", (int)d->value.len, (const char *)d->value.p);
    }
}

/* Every data frame that crosses the network, with its sender's host index. */
struct tap {
    GPtrArray *frames; /* GBytes */
    GArray *from;      /* unsigned */
};

static void tap_fn(void *ud, unsigned from, const uint8_t *buf, size_t len)
{
    struct tap *t = ud;
    if (len && buf[0] == WIRE_FRAME_DATA) {
        g_ptr_array_add(t->frames, g_bytes_new(buf, len));
        g_array_append_val(t->from, from);
    }
}

static void tap_init(struct tap *t)
{
    t->frames = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    t->from = g_array_new(FALSE, FALSE, sizeof(unsigned));
}

static void tap_clear(struct tap *t)
{
    g_ptr_array_free(t->frames, TRUE);
    g_array_free(t->from, TRUE);
}

/* Decodes the message of a data frame into *m (pointing into f); false when it is none. */
static bool frame_message(GBytes *f, struct wire_message *m)
{
    gsize len;
    const uint8_t *p = g_bytes_get_data(f, &len);
    struct wire_frame fr;
    return wire_decode_frame(p, len, &fr) == 0 && fr.type == WIRE_FRAME_DATA &&
           wire_decode_message(fr.message.p, fr.message.len, m) == 0;
}

/* ---- tests ------------------------------------------------------------------------------ */

/* Three credentialed peers and a client: the overlay forms, a value is stored and fetched,
 * nothing is dropped; every message is signed (cert_hash, certificate in the bucket) and
 * verifies with sec/sig on its own. */
static void test_signed_overlay(void)
{
    struct secnet s;
    secnet_init(&s);
    const char *names[] = {"peer-a", "peer-b", "peer-c", "client-d"};
    for (unsigned i = 0; i < 4; i++)
        enroll(s.ca, s.prov, names[i], NOW - DAY, NOW + 30 * DAY);
    struct tap t;
    tap_init(&t);
    fake_net_set_tap(s.net, tap_fn, &t);
    for (unsigned i = 0; i < 3; i++) {
        struct node *n = add_node(&s, names[i], &s.cfg);
        CU_ASSERT_EQUAL(node_join(n, i ? &s.h[0]->addr : NULL), NODE_OK);
        run(&s, 5 * ENV_S);
    }
    run(&s, 30 * ENV_S);
    for (unsigned i = 0; i < 3; i++)
        CU_ASSERT_TRUE(node_is_joined(s.h[i]->node));
    struct node *c = add_node(&s, names[3], &s.client_cfg);
    CU_ASSERT_EQUAL(node_client_connect(c, &s.h[1]->addr), NODE_OK);
    CU_ASSERT_EQUAL(store(&s, c, "alice", "sip:alice@192.0.2.7"), NODE_OK);
    struct fetched f = {0};
    struct id k = node_name("alice");
    CU_ASSERT_EQUAL(node_fetch(s.h[2]->node, &k, NODE_KIND_VALUE, 2, on_fetch, &f), NODE_OK);
    run(&s, 20 * ENV_S);
    CU_ASSERT_EQUAL(f.status, NODE_OK);
    CU_ASSERT_STRING_EQUAL(f.value, "sip:alice@192.0.2.7");
    for (unsigned i = 0; i < s.n; i++) {
        const struct node_stats *st = node_get_stats(s.h[i]->node);
        CU_ASSERT_EQUAL(st->dropped_signature, 0);
        CU_ASSERT_EQUAL(st->refused_join, 0);
    }
    /* Independent check of what crossed the network. */
    CU_ASSERT_TRUE_FATAL(t.frames->len > 20);
    struct wire_message *m = g_new(struct wire_message, 1);
    unsigned checked = 0;
    for (guint i = 0; i < t.frames->len; i++) {
        CU_ASSERT_TRUE_FATAL(frame_message(t.frames->pdata[i], m));
        CU_ASSERT_EQUAL(m->sec.sig.identity_type, WIRE_SIGNER_CERT_HASH);
        CU_ASSERT_EQUAL(m->sec.sig.hash_alg, SIG_HASH_SHA256);
        CU_ASSERT_EQUAL(m->sec.sig.sig_alg, SIG_ALG_ECDSA);
        struct cred *signer = NULL;
        struct id node;
        CU_ASSERT_EQUAL_FATAL(sig_find_signer(m->sec.certificates, &m->sec.sig, &signer, &node), 0);
        CU_ASSERT_EQUAL(cred_verify(signer, s.ca, NOW), 0);
        GByteArray *in = g_byte_array_new();
        gsize len;
        const uint8_t *p = g_bytes_get_data(t.frames->pdata[i], &len);
        struct wire_bytes cont = wire_message_contents(p + WIRE_FRAME_DATA_OVERHEAD, m);
        wire_message_input(in, m->h.overlay, m->h.txid, cont.p, cont.len);
        CU_ASSERT_EQUAL(sig_verify(&m->sec.sig, signer, in->data, in->len), 0);
        checked++;
        g_byte_array_unref(in);
        cred_free(signer);
    }
    CU_ASSERT_EQUAL(checked, t.frames->len);
    /* The first messages, for tshark (tests/t_tshark.sh checks the signature fields). */
    GError *err = NULL;
    CU_ASSERT_EQUAL_FATAL(g_mkdir_with_parents("tests/tmp", 0755), 0);
    struct pcap_writer *w = pcap_open(PCAP_PATH, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    const struct env_addr dst = {0x0a0000fe, 6084};
    for (guint i = 0; i < MIN(t.frames->len, 12u); i++) {
        gsize len;
        const uint8_t *p = g_bytes_get_data(t.frames->pdata[i], &len);
        unsigned from = g_array_index(t.from, unsigned, i);
        pcap_write_udp(w, (env_time)NOW * ENV_S + i * ENV_MS, &s.h[from]->addr, &dst, p, len);
    }
    pcap_close(w);
    /* The provider parsed each certificate once and then found it in its cache. */
    const struct sec_provider_stats *ps = sec_provider_get_stats(s.prov);
    CU_ASSERT_TRUE(ps->certs_parsed <= 4);
    CU_ASSERT_TRUE(ps->cache_hits > ps->certs_parsed);
    fake_net_set_tap(s.net, NULL, NULL);
    g_free(m);
    tap_clear(&t);
    secnet_free(&s);
}

/* A peer whose credential another CA signed, and one without any credential, cannot join:
 * the bootstrap peer refuses them (refused_join), they stay outside its tables; a peer with a
 * trusted credential joins the same way. */
static void test_join_untrusted_refused(void)
{
    struct secnet s;
    secnet_init(&s);
    enroll(s.ca, s.prov, "peer-a", NOW - DAY, NOW + 30 * DAY);
    enroll(s.ca, s.prov, "peer-ok", NOW - DAY, NOW + 30 * DAY);
    enroll(s.other_ca, s.other_prov, "mallory", NOW - DAY, NOW + 30 * DAY);
    struct node *a = add_node(&s, "peer-a", &s.cfg);
    CU_ASSERT_EQUAL(node_join(a, NULL), NODE_OK);
    run(&s, ENV_S);
    struct node *m = add_node(&s, "mallory", &s.other_cfg);
    struct node *none = add_node(&s, "no-credential", &s.cfg); /* not in the provider */
    CU_ASSERT_EQUAL(node_join(m, &s.h[0]->addr), NODE_OK);
    CU_ASSERT_EQUAL(node_join(none, &s.h[0]->addr), NODE_OK);
    run(&s, 60 * ENV_S);
    CU_ASSERT_FALSE(node_is_joined(m));
    CU_ASSERT_FALSE(node_is_joined(none));
    const struct node_stats *st = node_get_stats(a);
    CU_ASSERT_TRUE(st->refused_join >= 2);
    CU_ASSERT_TRUE(st->dropped_signature >= 2);
    /* The outsider cannot trust the answers either (the bootstrap's CA is not its own). */
    CU_ASSERT_TRUE(node_get_stats(m)->dropped_signature >= 1);
    struct node_peer rt[16];
    size_t nrt = node_routing_table(a, rt, 16);
    struct id mid = node_name("mallory"), nid = node_name("no-credential");
    for (size_t i = 0; i < nrt; i++)
        CU_ASSERT_FALSE(id_eq(&rt[i].id, &mid) || id_eq(&rt[i].id, &nid));
    /* The control: a trusted peer joins through the same bootstrap peer. */
    uint64_t refused = st->refused_join;
    struct node *ok = add_node(&s, "peer-ok", &s.cfg);
    CU_ASSERT_EQUAL(node_join(ok, &s.h[0]->addr), NODE_OK);
    run(&s, 30 * ENV_S);
    CU_ASSERT_TRUE(node_is_joined(ok));
    nrt = node_routing_table(a, rt, 16);
    struct id okid = node_name("peer-ok");
    bool found = false;
    for (size_t i = 0; i < nrt; i++)
        found |= id_eq(&rt[i].id, &okid);
    CU_ASSERT_TRUE(found);
    /* The refused ones keep retrying and keep being refused (wherever their attempts are
     * routed: the new peer may be responsible for them now). */
    CU_ASSERT_TRUE(st->refused_join + node_get_stats(ok)->refused_join > refused);
    secnet_free(&s);
}

/* A JoinReq signed by signer for Node-ID `joining`, framed, to the peer `to`. */
static GByteArray *signed_join(const struct cred *signer, const struct id *joining,
                               const struct id *to, uint64_t txid)
{
    GByteArray *body = g_byte_array_new();
    struct wire_join_req j = {.joining = *joining};
    wire_encode_join_req(body, &j);
    struct wire_header *h = g_new0(struct wire_header, 1);
    h->overlay = id_overlay_hash(OVERLAY);
    h->version = WIRE_VERSION;
    h->ttl = 100;
    h->fragment = WIRE_FRAGMENT_LAST;
    h->txid = txid;
    uint8_t from_b[ID_BYTES], to_b[ID_BYTES];
    id_to_bytes(&signer->info.nodes[0], from_b);
    id_to_bytes(to, to_b);
    h->n_via = 1;
    wire_dest_node(&h->via[0], from_b);
    h->n_dest = 1;
    wire_dest_node(&h->dest[0], to_b);
    struct wire_bytes bb = {body->data, body->len};
    GByteArray *contents = g_byte_array_new(), *in = g_byte_array_new();
    wire_encode_contents(contents, WIRE_JOIN_REQ, &bb, NULL);
    wire_message_input(in, h->overlay, txid, contents->data, contents->len);
    struct sig_signature sig;
    CU_ASSERT_EQUAL_FATAL(sig_sign(signer, NULL, in->data, in->len, &sig), 0);
    GByteArray *bucket = g_byte_array_new();
    sig_add_certificate(bucket, signer);
    struct wire_security sec = {.certificates = {bucket->data, bucket->len}};
    sig_view(&sig, &sec.sig);
    GByteArray *msg = g_byte_array_new(), *frame = g_byte_array_new();
    wire_encode_message(msg, h, WIRE_JOIN_REQ, &bb, NULL, &sec);
    wire_frame_data(frame, (uint32_t)txid, msg->data, msg->len);
    sig_signature_clear(&sig);
    g_byte_array_unref(bucket);
    g_byte_array_unref(msg);
    g_byte_array_unref(contents);
    g_byte_array_unref(in);
    g_byte_array_unref(body);
    g_free(h);
    return frame;
}

/* The error code of the last RELOAD error answer in a host's inbox, or 0. */
static uint16_t last_error(const struct fake_host *h)
{
    struct wire_message *m = g_new(struct wire_message, 1);
    uint16_t code = 0;
    for (guint i = 0; i < h->inbox->len; i++) {
        struct wire_error e;
        if (frame_message(h->inbox->pdata[i], m) && m->code == WIRE_ERROR &&
            wire_decode_error(m->body.p, m->body.len, &e) == 0)
            code = e.code;
    }
    g_free(m);
    return code;
}

/* A Join signed with a trusted credential but for a Node-ID that credential does not carry
 * is refused with Error_Forbidden and counted; for its own Node-ID it is not. */
static void test_join_wrong_node_id(void)
{
    struct secnet s;
    secnet_init(&s);
    enroll(s.ca, s.prov, "peer-a", NOW - DAY, NOW + 30 * DAY);
    struct node *a = add_node(&s, "peer-a", &s.cfg);
    CU_ASSERT_EQUAL(node_join(a, NULL), NODE_OK);
    run(&s, ENV_S);
    struct id eve_id = node_name("eve"), victim = node_name("victim");
    struct cred *eve = NULL;
    CU_ASSERT_EQUAL_FATAL(cred_enroll(s.ca, "eve", 1, &eve_id, NOW - DAY, NOW + DAY, &eve), 0);
    struct fake_host *eh = fake_net_add_host(s.net); /* no node: its inbox records answers */
    GByteArray *f = signed_join(eve, &victim, node_id(a), 41);
    fake_net_inject(s.net, s.h[0], &eh->addr, f->data, f->len);
    run(&s, ENV_S);
    const struct node_stats *st = node_get_stats(a);
    CU_ASSERT_EQUAL(st->refused_join, 1);
    CU_ASSERT_EQUAL(st->dropped_signature, 0); /* the signature itself is fine */
    CU_ASSERT_EQUAL(last_error(eh), WIRE_ERR_FORBIDDEN);
    g_byte_array_unref(f);
    /* Eve joining as herself passes the check (whatever the topology then answers). */
    f = signed_join(eve, &eve_id, node_id(a), 42);
    guint before = eh->inbox->len;
    fake_net_inject(s.net, s.h[0], &eh->addr, f->data, f->len);
    run(&s, ENV_S);
    CU_ASSERT_EQUAL(st->refused_join, 1);
    CU_ASSERT_TRUE(eh->inbox->len > before);
    g_byte_array_unref(f);
    cred_free(eve);
    secnet_free(&s);
}

/* A Store whose value is altered in transit fails verification at the storing peer: counted,
 * answered Error_Forbidden, not stored.  The genuine datagram (same transaction) is then
 * stored: the refusal was not cached against it. */
static void test_tampered_message(void)
{
    struct secnet s;
    secnet_init(&s);
    enroll(s.ca, s.prov, "peer-a", NOW - DAY, NOW + 30 * DAY);
    enroll(s.ca, s.prov, "client-c", NOW - DAY, NOW + 30 * DAY);
    struct node *a = add_node(&s, "peer-a", &s.cfg);
    CU_ASSERT_EQUAL(node_join(a, NULL), NODE_OK);
    run(&s, ENV_S);
    struct node *c = add_node(&s, "client-c", &s.client_cfg);
    CU_ASSERT_EQUAL(node_client_connect(c, &s.h[0]->addr), NODE_OK);
    struct tap t;
    tap_init(&t);
    fake_net_set_tap(s.net, tap_fn, &t);
    fake_net_drop_next(s.net, 1); /* the StoreReq: captured by the tap, lost on the way */
    const char *value = "tamper-me-value";
    struct id k = node_name("bob");
    struct node_value v = {.value = (const uint8_t *)value, .value_len = (uint32_t)strlen(value),
                           .exists = true, .lifetime = 3600};
    int status = 99;
    CU_ASSERT_EQUAL(node_store(c, &k, NODE_KIND_VALUE, &v, 1, on_store, &status), NODE_OK);
    fake_net_set_tap(s.net, NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(t.frames->len, 1);
    gsize len;
    const uint8_t *orig = g_bytes_get_data(t.frames->pdata[0], &len);
    uint8_t *bad = g_memdup2(orig, len);
    uint8_t *at = memmem(bad, len, value, strlen(value));
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    at[0] ^= 0x20; /* "Tamper-me-value" */
    fake_net_inject(s.net, s.h[0], &s.h[1]->addr, bad, len);
    run(&s, ENV_S);
    const struct node_stats *st = node_get_stats(a);
    CU_ASSERT_EQUAL(st->dropped_signature, 1);
    CU_ASSERT_FALSE(node_holds(a, &k, NODE_KIND_VALUE));
    CU_ASSERT_EQUAL(status, NODE_E_REFUSED); /* the client got (and verified) Forbidden */
    CU_ASSERT_EQUAL(node_get_stats(c)->dropped_signature, 0);
    /* The genuine datagram. */
    fake_net_inject(s.net, s.h[0], &s.h[1]->addr, orig, len);
    run(&s, ENV_S);
    CU_ASSERT_EQUAL(st->dropped_signature, 1);
    CU_ASSERT_TRUE(node_holds(a, &k, NODE_KIND_VALUE));
    g_free(bad);
    tap_clear(&t);
    run(&s, 20 * ENV_S);
    secnet_free(&s);
}

/* A client whose certificate expires 100 s into the run stores before and is refused after:
 * the provider checks the cached certificate's window at the env clock each time. */
static void test_expired_certificate(void)
{
    struct secnet s;
    secnet_init(&s);
    enroll(s.ca, s.prov, "peer-a", NOW - DAY, NOW + 30 * DAY);
    enroll(s.ca, s.prov, "client-c", NOW - DAY, NOW + 100);
    struct node *a = add_node(&s, "peer-a", &s.cfg);
    CU_ASSERT_EQUAL(node_join(a, NULL), NODE_OK);
    run(&s, ENV_S);
    struct node *c = add_node(&s, "client-c", &s.client_cfg);
    CU_ASSERT_EQUAL(node_client_connect(c, &s.h[0]->addr), NODE_OK);
    CU_ASSERT_EQUAL(store(&s, c, "early", "v"), NODE_OK);
    CU_ASSERT_EQUAL(node_get_stats(a)->dropped_signature, 0);
    run(&s, 100 * ENV_S); /* now past NOW + 100 */
    CU_ASSERT_EQUAL(store(&s, c, "late", "v"), NODE_E_REFUSED);
    CU_ASSERT_TRUE(node_get_stats(a)->dropped_signature >= 1);
    struct id late = node_name("late"), early = node_name("early");
    CU_ASSERT_FALSE(node_holds(a, &late, NODE_KIND_VALUE));
    CU_ASSERT_TRUE(node_holds(a, &early, NODE_KIND_VALUE));
    /* A certificate not valid yet is refused likewise. */
    enroll(s.ca, s.prov, "client-f", NOW + 10 * DAY, NOW + 20 * DAY);
    struct node *f = add_node(&s, "client-f", &s.client_cfg);
    CU_ASSERT_EQUAL(node_client_connect(f, &s.h[0]->addr), NODE_OK);
    CU_ASSERT_EQUAL(store(&s, f, "future", "v"), NODE_E_REFUSED);
    secnet_free(&s);
}

/* Without a provider messages carry the "none" signature and no certificate, and the overlay
 * works as before; a node with a provider drops such a message and refuses its request. */
static void test_without_security(void)
{
    struct secnet s;
    secnet_init(&s);
    struct tap t;
    tap_init(&t);
    fake_net_set_tap(s.net, tap_fn, &t);
    struct node *a = add_node(&s, "plain-a", &s.plain_cfg);
    struct node *b = add_node(&s, "plain-b", &s.plain_cfg);
    CU_ASSERT_EQUAL(node_join(a, NULL), NODE_OK);
    run(&s, ENV_S);
    CU_ASSERT_EQUAL(node_join(b, &s.h[0]->addr), NODE_OK);
    run(&s, 30 * ENV_S);
    CU_ASSERT_TRUE(node_is_joined(b));
    CU_ASSERT_EQUAL(store(&s, b, "carol", "x"), NODE_OK);
    fake_net_set_tap(s.net, NULL, NULL);
    struct wire_message *m = g_new(struct wire_message, 1);
    CU_ASSERT_TRUE(t.frames->len > 5);
    for (guint i = 0; i < t.frames->len; i++) {
        CU_ASSERT_TRUE_FATAL(frame_message(t.frames->pdata[i], m));
        CU_ASSERT_EQUAL(m->sec.sig.identity_type, WIRE_SIGNER_NONE);
        CU_ASSERT_EQUAL(m->sec.certificates.len, 0);
    }
    g_free(m);
    tap_clear(&t);
    /* A secured peer meets an unsigned one. */
    enroll(s.ca, s.prov, "secure-s", NOW - DAY, NOW + DAY);
    struct node *sn = add_node(&s, "secure-s", &s.cfg);
    CU_ASSERT_EQUAL(node_join(sn, NULL), NODE_OK);
    run(&s, ENV_S);
    struct node *p = add_node(&s, "plain-p", &s.plain_cfg);
    CU_ASSERT_EQUAL(node_join(p, &s.h[2]->addr), NODE_OK);
    run(&s, 20 * ENV_S);
    CU_ASSERT_FALSE(node_is_joined(p));
    CU_ASSERT_TRUE(node_get_stats(sn)->refused_join >= 1);
    CU_ASSERT_TRUE(node_get_stats(sn)->dropped_signature >= 1);
    secnet_free(&s);
}

/* Bamboo and super-peer behave the same with signatures: every peer joins, nothing is dropped
 * or refused, and a value stored through one peer is fetched through another. */
static void test_other_topologies(void)
{
    const enum node_topology topos[] = {NODE_TOPOLOGY_BAMBOO, NODE_TOPOLOGY_SUPERPEER};
    for (size_t t = 0; t < G_N_ELEMENTS(topos); t++) {
        struct secnet s;
        secnet_init(&s);
        s.cfg.topology = topos[t];
        struct node_config super = s.cfg;
        super.superpeer.is_super = true;
        const char *names[] = {"t-a", "t-b", "t-c", "t-d", "t-e"};
        for (unsigned i = 0; i < 5; i++) {
            enroll(s.ca, s.prov, names[i], NOW - DAY, NOW + 30 * DAY);
            /* Super-peer: the first two are super-peers, the others ordinary peers. */
            struct node *n = add_node(&s, names[i],
                                      topos[t] == NODE_TOPOLOGY_SUPERPEER && i < 2 ? &super : &s.cfg);
            CU_ASSERT_EQUAL(node_join(n, i ? &s.h[0]->addr : NULL), NODE_OK);
            run(&s, 5 * ENV_S);
        }
        run(&s, 30 * ENV_S);
        for (unsigned i = 0; i < s.n; i++)
            CU_ASSERT_TRUE(node_is_joined(s.h[i]->node));
        CU_ASSERT_EQUAL(store(&s, s.h[3]->node, "topo", "v"), NODE_OK);
        struct fetched f = {0};
        struct id k = node_name("topo");
        CU_ASSERT_EQUAL(node_fetch(s.h[4]->node, &k, NODE_KIND_VALUE, 2, on_fetch, &f), NODE_OK);
        run(&s, 20 * ENV_S);
        CU_ASSERT_EQUAL(f.status, NODE_OK);
        CU_ASSERT_STRING_EQUAL(f.value, "v");
        for (unsigned i = 0; i < s.n; i++) {
            CU_ASSERT_EQUAL(node_get_stats(s.h[i]->node)->dropped_signature, 0);
            CU_ASSERT_EQUAL(node_get_stats(s.h[i]->node)->refused_join, 0);
        }
        secnet_free(&s);
    }
}

/* The provider on its own: signing as each Node-ID of a credential (cert_hash for one,
 * cert_hash_node_id for several), verification with the certificate in the bucket or, once
 * seen, from the cache; a tampered input, an unknown signer, a Node-ID without a credential
 * and a certificate of another overlay are refused with their own codes. */
static void test_provider(void)
{
    struct cred *ca = NULL, *one = NULL, *two = NULL;
    CU_ASSERT_EQUAL_FATAL(cred_ca_new(OVERLAY, NOW - DAY, NOW + DAY, &ca), 0);
    struct id a = node_name("a"), bc[2] = {node_name("b"), node_name("c")};
    CU_ASSERT_EQUAL_FATAL(cred_enroll(ca, "one", 1, &a, NOW - DAY, NOW + DAY, &one), 0);
    CU_ASSERT_EQUAL_FATAL(cred_enroll(ca, "two", 2, bc, NOW - DAY, NOW + DAY, &two), 0);
    struct sec_provider *p = sec_provider_new(ca), *q = sec_provider_new(ca);
    sec_provider_add(p, one);
    sec_provider_add(p, two);
    sec_provider_set_epoch(p, NOW);
    sec_provider_set_epoch(q, NOW);
    const struct node_security_ops *ops = sec_provider_ops();
    const uint8_t input[] = "overlay || txid || contents";
    const struct id *signers[] = {&a, &bc[1]};
    for (unsigned i = 0; i < 2; i++) {
        GByteArray *sig = g_byte_array_new(), *bucket = g_byte_array_new();
        CU_ASSERT_EQUAL_FATAL(ops->sign(p, signers[i], input, sizeof input, sig), 0);
        ops->certificates(p, signers[i], bucket);
        struct wire_signature ws;
        CU_ASSERT_EQUAL_FATAL(wire_decode_signature(sig->data, sig->len, &ws), 0);
        CU_ASSERT_EQUAL(ws.identity_type, i ? WIRE_SIGNER_CERT_HASH_NODE_ID : WIRE_SIGNER_CERT_HASH);
        struct wire_bytes b = {bucket->data, bucket->len}, none = {NULL, 0};
        struct node_signer who;
        /* q has never seen the certificate: without the bucket it cannot find the signer. */
        CU_ASSERT_EQUAL(ops->verify(q, none, &ws, input, sizeof input, 0, &who),
                        SEC_PROVIDER_E_UNKNOWN_SIGNER);
        CU_ASSERT_EQUAL(ops->verify(q, b, &ws, input, sizeof input, 0, &who), 0);
        CU_ASSERT(id_eq(&who.node, signers[i]));
        struct id uh = id_hash(i ? "two" : "one", 3);
        uint8_t ub[ID_BYTES];
        id_to_bytes(&uh, ub);
        CU_ASSERT(who.has_user && memcmp(who.user_hash, ub, ID_BYTES) == 0);
        /* Seen once, it is cached. */
        CU_ASSERT_EQUAL(ops->verify(q, none, &ws, input, sizeof input, 0, &who), 0);
        CU_ASSERT_EQUAL(ops->verify(q, b, &ws, input, sizeof input - 2, 0, &who),
                        SEC_PROVIDER_E_BAD_SIGNATURE);
        /* The same certificate in an overlay of another name. */
        struct sec_provider *r = sec_provider_new(ca);
        sec_provider_set_epoch(r, NOW);
        sec_provider_set_overlay(r, "elsewhere.example");
        CU_ASSERT_EQUAL(ops->verify(r, b, &ws, input, sizeof input, 0, &who),
                        SEC_PROVIDER_E_OTHER_OVERLAY);
        sec_provider_set_overlay(r, OVERLAY);
        CU_ASSERT_EQUAL(ops->verify(r, b, &ws, input, sizeof input, 0, &who), 0);
        /* Past the certificate's end. */
        CU_ASSERT_EQUAL(ops->verify(r, b, &ws, input, sizeof input, 2 * DAY * ENV_S, &who),
                        SEC_PROVIDER_E_EXPIRED);
        sec_provider_free(r);
        g_byte_array_unref(sig);
        g_byte_array_unref(bucket);
    }
    GByteArray *sig = g_byte_array_new();
    struct id nobody = node_name("nobody");
    CU_ASSERT_EQUAL(ops->sign(p, &nobody, input, sizeof input, sig), SEC_PROVIDER_E_NO_CREDENTIAL);
    CU_ASSERT_EQUAL(sig->len, 0);
    CU_ASSERT_STRING_EQUAL(ops->strerror(SEC_PROVIDER_E_OTHER_OVERLAY),
                           "certificate of another overlay");
    g_byte_array_unref(sig);
    sec_provider_free(p);
    sec_provider_free(q);
    cred_free(one);
    cred_free(two);
    cred_free(ca);
}

CU_TestInfo test_nodesec_tests[] = {
    {"provider", test_provider},
    {"signed_overlay", test_signed_overlay},
    {"join_untrusted_refused", test_join_untrusted_refused},
    {"join_wrong_node_id", test_join_wrong_node_id},
    {"tampered_message", test_tampered_message},
    {"expired_certificate", test_expired_certificate},
    {"without_security", test_without_security},
    {"other_topologies", test_other_topologies},
    CU_TEST_INFO_NULL,
};
