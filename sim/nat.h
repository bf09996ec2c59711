/* nat.h — simulated NAT boxes after RFC 4787 ("NAT Behavioral Requirements for Unicast UDP"):
 * mapping behaviour (§4.1), filtering behaviour (§5), binding timeout and its refresh (§4.3),
 * port assignment (§4.2) and hairpinning (§6), plus the scenario's layout of peers behind
 * boxes (the `nat:` block, docs/nat.md).
 *
 * A box has one public address, NAT_IP_BASE + box + 1 (inside 100.64.0.0/10, the shared
 * address space of RFC 6598), and hands out external ports in [port_min, port_max].  Its
 * state is a set of mappings and, when the filter is stricter than the mapping, of filter
 * permissions; both live until `timeout` after their last refresh and are dropped lazily.
 *
 *   nat_outbound: a datagram from internal endpoint X:x to remote Y:y leaves through the box:
 *     the mapping for (X:x, and Y or Y:y as the mapping behaviour keys it) is found or made,
 *     refreshed, and the datagram leaves from the box's address and that mapping's port.
 *   nat_inbound: a datagram from Y:y reaches external port p: it passes when a live mapping
 *     holds p and the filter admits Y:y; it then goes to the mapping's internal endpoint.
 *
 * Time is the caller's (the engine's now); the only randomness is the seeded stream used for
 * random port assignment, so a run stays deterministic.  The box has no latency of its own:
 * the world translates a datagram when it is sent and filters it when it arrives.
 */
#ifndef P2PSIP_SIM_NAT_H
#define P2PSIP_SIM_NAT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/env.h"
#include "scenario.h"

#define NAT_NONE UINT32_MAX     /* "no box": a public peer */
#define NAT_IP_BASE 0x64400000u /* 100.64.0.0; box b is NAT_IP_BASE + b + 1 */
#define NAT_MAX_BOXES 0x3ffffeu /* every box address stays inside 100.64.0.0/10 */
#define NAT_PORT_MIN 1024       /* the default range of external ports */
#define NAT_PORT_MAX 65535

/* What a box did with a datagram. */
enum nat_verdict {
    NAT_PASS = 0,
    NAT_NO_BINDING,  /* inbound: no live mapping holds the external port */
    NAT_FILTERED,    /* inbound: the mapping exists but its filter refuses the sender */
    NAT_NO_PORT,     /* outbound: a new mapping is needed and every external port is in use */
    NAT_NO_HAIRPIN,  /* outbound to the box's own public address while hairpinning is off */
    NAT_UNREACHABLE, /* a private address used from outside its box (decided by the world) */
};
#define NAT_VERDICTS (NAT_UNREACHABLE + 1)

/* One box's behaviour. */
struct nat_config {
    enum scenario_nat_type type;           /* the label it was built from (counts) */
    enum scenario_nat_behaviour mapping;   /* RFC 4787 §4.1 */
    enum scenario_nat_behaviour filtering; /* RFC 4787 §5 */
    enum scenario_nat_ports ports;         /* preserve or random (§4.2) */
    env_time timeout;                      /* binding timeout (§4.3) */
    bool hairpin;                          /* §6: internal hosts reach each other through
                                              the box's public address */
    bool inbound_refresh;                  /* inbound traffic refreshes bindings too */
    uint16_t port_min, port_max;           /* external ports handed out */
};

/* The configuration of a shorthand type (its mapping, filtering and port assignment; full
 * cone, restricted and port-restricted preserve ports, symmetric draws them at random) with
 * a 120 s timeout, no hairpinning, no inbound refresh and ports 1024-65535.  SCENARIO_NAT_CUSTOM
 * gives endpoint-independent mapping and filtering, to be set by the caller. */
void nat_config_default(struct nat_config *c, enum scenario_nat_type type);

struct nat;

/* An empty set of boxes; seed drives random port assignment (and nat_from_scenario's
 * layout). */
struct nat *nat_new(uint64_t seed);
void nat_free(struct nat *n);

/* Adds a box with this behaviour (copied); returns its index (0, 1, ...).  At most
 * NAT_MAX_BOXES boxes. */
uint32_t nat_box_add(struct nat *n, const struct nat_config *cfg);
uint32_t nat_boxes(const struct nat *n);
const struct nat_config *nat_box_config(const struct nat *n, uint32_t box);
/* The public address of a box, and the box owning a public address (NAT_NONE: none). */
uint32_t nat_box_ip(uint32_t box);
uint32_t nat_box_at(const struct nat *n, uint32_t ip);

/* A datagram from `internal` to `remote` leaves through box at time now: on NAT_PASS
 * *external is the address and port it leaves from (the receiver sees it as the source).
 * NAT_NO_PORT when a new mapping is needed and none is free; NAT_NO_HAIRPIN when remote is
 * the box's own address and hairpinning is off.  Refreshes the mapping (and the filter's
 * permission for remote). */
enum nat_verdict nat_outbound(struct nat *n, uint32_t box, const struct env_addr *internal,
                              const struct env_addr *remote, env_time now,
                              struct env_addr *external);
/* A datagram from `remote` reaches external port `port` of box at time now: NAT_PASS with
 * *internal the endpoint it is forwarded to, NAT_NO_BINDING or NAT_FILTERED.  With
 * inbound_refresh, a datagram that passes refreshes the mapping and its permission. */
enum nat_verdict nat_inbound(struct nat *n, uint32_t box, uint16_t port,
                             const struct env_addr *remote, env_time now,
                             struct env_addr *internal);
/* The internal endpoint a live mapping on that port leads to, without filtering or
 * refreshing anything; false when there is none. */
bool nat_peek(const struct nat *n, uint32_t box, uint16_t port, env_time now,
              struct env_addr *internal);

/* Verdicts returned by nat_outbound and nat_inbound over the whole run. */
uint64_t nat_count(const struct nat *n, enum nat_verdict v);
/* Mappings made over the whole run. */
uint64_t nat_mappings_made(const struct nat *n);
/* Entries held now (mappings, their index and permissions, expired ones not yet dropped). */
size_t nat_entries(const struct nat *n);
/* Bytes held: tables, boxes and the peer layout. */
size_t nat_memory(const struct nat *n);
const char *nat_verdict_name(enum nat_verdict v);

/* ---- the scenario's layout: which peer sits behind which box ---- */

/* Whether the scenario has a nat block (a non-empty nat.mix). */
bool nat_in_scenario(const struct scenario *sc);
/* Lays out peers 0..peers-1 behind boxes as sc->nat says: the mix's shares become exact
 * counts (largest remainder, over all `peers` slots), dealt to the peers by a seeded shuffle;
 * the peers of one mix entry share boxes nat.peers_per_nat at a time, in index order.  Boxes
 * are numbered in the order of their first peer.  Returns NULL and sets err (SCENARIO_ERROR)
 * when the shares do not sum to 1 or more than NAT_MAX_BOXES boxes would be needed. */
struct nat *nat_from_scenario(const struct scenario *sc, uint32_t peers, uint64_t seed,
                              GError **err);
/* The box of a peer (NAT_NONE for a public peer, and for a peer index beyond the layout). */
uint32_t nat_peer_box(const struct nat *n, uint32_t peer);
/* Peers of each type in the layout (SCENARIO_NAT_PUBLIC included). */
uint32_t nat_type_peers(const struct nat *n, enum scenario_nat_type t);
/* "public", "full_cone", "restricted", "port_restricted", "symmetric", "custom". */
const char *nat_type_name(enum scenario_nat_type t);

#endif
