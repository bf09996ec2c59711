/* fuzz_sip.c — libFuzzer target for the SIP side of a peer: the proxy/registrar adapter's
 * input (sip/registrar.h: RFC 3261 §10.3 registrar, §16 proxy, §17.2 server transactions,
 * seed draft §5.5-5.6) and the SIP usage codec (sip/usage.h, RFC 7904 §3).
 *
 * Input: the first byte selects, modulo 4.
 *   1: the rest is a SipRegistration value: it is decoded and, when it decodes, encoded again,
 *      which must give the same bytes (known types are exact, unknown ones kept verbatim);
 *   2: the rest is a URI given to sip_usage_aor() and, when canonical, its Resource-ID taken;
 *   0, 3: the rest is up to 8 SIP datagrams separated by NUL bytes, for the adapters of a
 *      two-peer overlay: a datagram is from the user agent of peer 0 to its adapter, or, when
 *      it starts with '>' (removed), from peer 1's user agent to peer 1's adapter.  Stores,
 *      Fetches and AppAttaches travel between the peers, and the proxies forward to each
 *      other; one virtual second passes between datagrams, then 40 s so that every
 *      transaction and timer ends.  The adapters and nodes are then freed and must leave no
 *      timer behind.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/node.h"
#include "../sip/registrar.h"
#include "../sip/usage.h"
#include "fuzz_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DATAGRAMS 8

static void usage_round_trip(const uint8_t *p, size_t len)
{
    struct sip_registration r;
    if (sip_usage_decode(p, len, &r) != 0)
        return;
    GByteArray *e = g_byte_array_new();
    sip_usage_encode(e, &r);
    if (e->len != len || (len && memcmp(e->data, p, len) != 0)) {
        fprintf(stderr, "fuzz_sip: SipRegistration round trip changed the bytes\n");
        abort();
    }
    g_byte_array_free(e, TRUE);
}

static void aor(const uint8_t *p, size_t len)
{
    char *uri = g_strndup((const char *)p, len);
    char *a = sip_usage_aor(uri);
    if (a)
        (void)sip_usage_resource_id(a);
    g_free(a);
    g_free(uri);
}

/* Peer i (0 or 1): its node at 10.0.0.<i+1>:6084, its adapter's SIP at port 5060, and its
 * user agent at 192.168.0.<10 i + 10>:5062. */
struct peer {
    struct fuzz_host *node_host, *sip_host;
    struct node *node;
    struct sip_registrar *reg;
};

static void to_registrar(void *reg, const struct env_addr *from, const uint8_t *buf, size_t len)
{
    sip_registrar_receive(reg, from, buf, len);
}

static void adapter_send(void *ud, const struct env_addr *to, const char *msg, size_t len)
{
    struct fuzz_host *h = ud;
    if (g_getenv("FUZZ_SIP_TRACE")) /* to write seeds that answer what the proxy sent */
        fprintf(stderr, "---- %08x:%u -> %08x:%u\n%.*s", h->addr.ip, h->addr.port, to->ip,
                to->port, (int)len, msg);
    fuzz_env_send(h->f, &h->addr, to, (const uint8_t *)msg, len);
}

/* cfg is borrowed by the nodes (node_new) and must outlive them. */
static void peers_start(struct fuzz_env *f, const struct node_config *cfg, struct peer p[2])
{
    struct node_peer np[2];
    for (unsigned i = 0; i < 2; i++) {
        struct env_addr addr = {0x0a000001 + i, 6084};
        char name[16];
        g_snprintf(name, sizeof name, "fuzz-sip-%u", i);
        np[i] = (struct node_peer){id_hash(name, strlen(name)), addr};
        p[i].node_host = fuzz_env_host(f, &addr);
        p[i].node = node_new(&p[i].node_host->env, cfg, &np[i].id, &addr);
        p[i].node_host->deliver = fuzz_env_to_node;
        p[i].node_host->ud = p[i].node;
    }
    for (unsigned i = 0; i < 2; i++) {
        const struct node_peer *other = &np[1 - i];
        node_install_ring(p[i].node, other, 1, other, 1, other, 1);
        struct sip_registrar_config rc;
        sip_registrar_config_default(&rc);
        rc.domain = "p2psip.example";
        rc.addr = (struct env_addr){np[i].addr.ip, 5060};
        p[i].sip_host = fuzz_env_host(f, &rc.addr);
        p[i].reg = sip_registrar_new(&p[i].node_host->env, p[i].node, &rc, adapter_send,
                                     p[i].sip_host);
        p[i].sip_host->deliver = to_registrar;
        p[i].sip_host->ud = p[i].reg;
    }
}

static void adapter(const uint8_t *p, size_t len)
{
    struct fuzz_env f;
    fuzz_env_init(&f, 0x51b);
    struct node_config cfg;
    node_config_default(&cfg);
    struct peer peers[2];
    peers_start(&f, &cfg, peers);
    const uint8_t *end = p + len;
    for (unsigned i = 0; i < MAX_DATAGRAMS && p <= end; i++) {
        const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
        const uint8_t *stop = nul ? nul : end;
        unsigned to = p < stop && *p == '>'; /* '>': from peer 1's user agent to peer 1 */
        struct env_addr ua = {0xc0a8000a + 10 * to, 5062};
        fuzz_env_send(&f, &ua, &peers[to].sip_host->addr, p + to, (size_t)(stop - p) - to);
        fuzz_env_run(&f, f.now + ENV_S, 500);
        if (!nul)
            break;
        p = nul + 1;
    }
    fuzz_env_run(&f, f.now + 40 * ENV_S, 2000);
    for (unsigned i = 0; i < 2; i++)
        sip_registrar_free(peers[i].reg);
    for (unsigned i = 0; i < 2; i++)
        node_free(peers[i].node);
    fuzz_env_clear(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 1:
        usage_round_trip(data + 1, size - 1);
        break;
    case 2:
        aor(data + 1, size - 1);
        break;
    default:
        adapter(data + 1, size - 1);
        break;
    }
    return 0;
}
