/* redundant.h — lookups and fetches routed over several independent paths.
 *
 * Redundant routing after Castro et al., "Secure routing for structured peer-to-peer overlay
 * networks" (OSDI 2002, §4.3): a request that may cross hostile peers is sent along k paths
 * that start at k distinct first hops, and the answers are combined.  RFC 6940 makes each
 * path expressible on the wire: path 1 is the ordinary route; path i > 1 is source-routed
 * through a first hop X_i with the destination list [X_i, Resource-ID] (§6.1.1, §6.3.2.2), so
 * every peer on the way forwards it by the usual rules.  docs/security.md, "Redundant
 * routing", says how the first hops are chosen and how independent the paths are per topology.
 *
 * Combining:
 *   lookups  once every path has ended (or one reliability_timer after the first answer, if
 *            sooner), the answering Node-ID nearest the key as the topology assigns keys
 *            (clockwise; numerically on Bamboo): a peer claiming a key it is not responsible
 *            for sits further from it than the peer that is, so one clean path suffices;
 *   fetches  with signatures (node_config.security.ops set) the first answer that still
 *            holds a value after the fetcher's checks is taken at once; without, the values
 *            most answering peers return (compared byte for byte, one vote per peer: paths
 *            that merged count once; at the same moment as lookups unless distinct peers on
 *            more than k/2 paths agree sooner), ties to the answer from the peer nearest the
 *            key.
 *
 * Completion is reported exactly as node_lookup / node_fetch report it (ENV_EV_LOOKUP_DONE,
 * ENV_EV_FETCH_DONE with the chosen answer's responder and hop count, the latency until the
 * decision), and a fetch's callback gets the chosen answer.  k <= 1, a client, or a node
 * that is itself responsible for the key: the plain node_lookup / node_fetch.
 */
#ifndef P2PSIP_REDUNDANT_H
#define P2PSIP_REDUNDANT_H

#include <stdint.h>

#include "node.h"

#define REDUNDANT_MAX_PATHS 16

/* As node_lookup / node_fetch, over min(k, REDUNDANT_MAX_PATHS, the routing table's
 * entries + 1) paths.  Return NODE_OK, NODE_E_STATE or NODE_E_INVALID as they do. */
int redundant_lookup(struct node *n, const struct id *key, unsigned k, uint64_t cookie);
int redundant_fetch(struct node *n, const struct id *res, uint32_t kind, unsigned k,
                    uint64_t cookie, node_fetch_cb cb, void *ud);

#endif
