/* fuzz_topology.c — libFuzzer target for the Bamboo and super-peer topology plug-ins
 * (core/bamboo.c: Rhea et al., USENIX 2004, docs/bamboo.md; core/superpeer.c: Yang &
 * Garcia-Molina, ICDE 2003, seed draft §5.3, docs/superpeer.md) behind RELOAD framing
 * (RFC 6940 §6.4.2: Join, Leave, Update, RouteQuery, Probe).
 *
 * Input: the first byte selects.
 *   bit 7 set:   the rest is a BambooUpdate body (bamboo.h), decoded and, when it decodes,
 *                encoded again: the encoding must decode to the same ids;
 *   bit 7 clear: the byte is the peer's mode (fuzz_env.h, fuzz_peer_receive), the second
 *                byte's low bit picks the topology (0 Bamboo, 1 super-peer), and the rest is a
 *                datagram delivered to that peer.  The super-peer bodies' decoder is static in
 *                superpeer.c, so it is reached this way: with mode bit 2 the peer is the
 *                datagram's destination and handles its Join, Update or Leave.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bamboo.h"
#include "../core/node.h"
#include "../core/wire.h"
#include "fuzz_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void bamboo_round_trip(const uint8_t *p, size_t len)
{
    struct bamboo_update u, u2;
    if (bamboo_decode_update(p, len, &u) != 0)
        return;
    struct id leaf[BAMBOO_MAX_LEAF_IDS], table[BAMBOO_MAX_TABLE_IDS];
    for (unsigned i = 0; i < u.n_leaf; i++)
        leaf[i] = id_from_bytes(u.leaf + i * ID_BYTES);
    for (unsigned i = 0; i < u.n_table; i++)
        table[i] = id_from_bytes(u.table + i * ID_BYTES);
    GByteArray *e = g_byte_array_new();
    bamboo_encode_update(e, u.type, leaf, u.n_leaf, table, u.n_table);
    if (bamboo_decode_update(e->data, e->len, &u2) != 0 || u2.type != u.type ||
        u2.n_leaf != u.n_leaf || u2.n_table != u.n_table ||
        (u.n_leaf && memcmp(u2.leaf, u.leaf, (size_t)u.n_leaf * ID_BYTES) != 0) ||
        (u.n_table && memcmp(u2.table, u.table, (size_t)u.n_table * ID_BYTES) != 0) ||
        e->len != len) {
        fprintf(stderr, "fuzz_topology: BambooUpdate round trip failed\n");
        abort();
    }
    g_byte_array_free(e, TRUE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 0x80) {
        bamboo_round_trip(data + 1, size - 1);
        return 0;
    }
    if (size < 2)
        return 0;
    enum node_topology t = (data[1] & 1) ? NODE_TOPOLOGY_SUPERPEER : NODE_TOPOLOGY_BAMBOO;
    fuzz_peer_receive(t, data[0], data + 2, size - 2);
    return 0;
}
