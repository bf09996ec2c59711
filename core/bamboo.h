/* bamboo.h — what the Bamboo topology plug-in (bamboo.c) offers beyond topology.h: the
 * per-neighbour retransmission timeout (Rhea, Geels, Roscoe and Kubiatowicz, "Handling Churn
 * in a DHT", USENIX 2004, §5.2: TCP-style timeouts from RTT estimates) and the codec of the
 * BambooUpdate body carried in RELOAD Update requests and answers (docs/bamboo.md).
 */
#ifndef P2PSIP_BAMBOO_H
#define P2PSIP_BAMBOO_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "id.h"

struct topology;
struct node_peer;

/* How long to wait for the answer to a message sent to neighbour peer before retrying:
 * srtt + 4 rttvar from the link layer's estimate (node_peer_rtt, RFC 6298), clamped to
 * [cfg.bamboo.rto_floor, cfg.bamboo.rto_cap].  Without a sample it uses the routing-table
 * cell's latency estimate r (from the view or a probe) as a first sample (srtt r, rttvar r/2),
 * and failing that RFC 6298's initial 1 s, clamped likewise.  t must be a Bamboo plug-in. */
env_time bamboo_timeout(const struct topology *t, const struct id *peer);

/* The routing-table entry in row `row`, column `col` (introspection, for tests and analysis):
 * true with the peer in *out, false when the cell is empty or does not exist (a row not
 * allocated, a column past the row's width).  t must be a Bamboo plug-in. */
bool bamboo_table_entry(const struct topology *t, unsigned row, unsigned col,
                        struct node_peer *out);

/* BambooUpdate (docs/bamboo.md):
 *
 *     enum { leaf_set(1), full(2), (255) } BambooUpdateType;
 *     struct {
 *         BambooUpdateType type;
 *         NodeId leaf_set<0..2^16-1>;       -- the sender's leaf set
 *         NodeId routing_table<0..2^16-1>;  -- full only: every routing-table entry
 *     } BambooUpdate;
 *
 * A leaf_set Update is the periodic push of leaf-set recovery, and its answer (an UpdateAns
 * whose body is a leaf_set BambooUpdate) is the pull; full answers send_update (joining). */
enum { BAMBOO_UPDATE_LEAF_SET = 1, BAMBOO_UPDATE_FULL = 2 };
#define BAMBOO_MAX_LEAF_IDS 64    /* 2 x the largest leaf set per side */
#define BAMBOO_MAX_TABLE_IDS 1024 /* routing-table entries per Update (16 KiB) */

/* A decoded BambooUpdate; the Node-IDs (16 bytes each, most significant first) point into the
 * decoded buffer and are valid only while it is. */
struct bamboo_update {
    uint8_t type;
    uint16_t n_leaf, n_table;
    const uint8_t *leaf, *table;
};

/* Appends a BambooUpdate.  At most BAMBOO_MAX_LEAF_IDS and BAMBOO_MAX_TABLE_IDS ids are
 * written; the rest are left out.  table must be empty (n_table 0) for a leaf_set Update. */
void bamboo_encode_update(GByteArray *out, uint8_t type, const struct id *leaf, size_t n_leaf,
                          const struct id *table, size_t n_table);
/* Parses exactly [p, p + len).  Returns 0, or WIRE_E_TRUNCATED (a length runs past the end),
 * WIRE_E_INVALID (an unknown type, a list length not a multiple of 16, trailing bytes, a
 * leaf_set Update with routing-table ids) or WIRE_E_TOO_MANY (more ids than the limits). */
int bamboo_decode_update(const uint8_t *p, size_t len, struct bamboo_update *u);

#endif
