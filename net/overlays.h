/* overlays.h — the further overlays of one peer process (seed draft §6.5: a peer may take part
 * in several overlays, each with its own Node-ID, storage and neighbours).  `p2psip peer`'s
 * first overlay is the one its ordinary options describe; each `--overlay NAME,key=value,...`
 * adds one of these: a struct node of its own on a UDP socket of its own (so the overlay hash
 * of RFC 6940 §6.3.2 never has to demultiplex: a datagram of another overlay arriving on a
 * socket is counted and dropped by that socket's node, docs/config.md).
 *
 * The specification, comma-separated after the overlay name:
 *   listen=A.B.C.D:PORT   this overlay's RELOAD socket (required)
 *   bootstrap=A.B.C.D:PORT   join through this peer (default: the config's first bootstrap
 *                         node that is not listen=, else start the overlay)
 *   config=FILE           the overlay configuration document (RFC 6940 §11.1); the
 *                         configuration whose instance-name is NAME is used
 *   node-id=HEX32         the Node-ID (default: random)
 *   sip-domain=NAME       the SIP domain this overlay serves (default: the overlay name)
 *   key=FILE,cert=FILE    this overlay's credential (PEM, p2psip ca enroll): its node signs
 *                         and verifies as the first overlay's does with --key/--cert, and
 *                         checks config='s signature (net/security.h)
 *   ca=FILE               its trust anchor (default: config='s <root-cert>, else self-signed
 *                         mode).  Nothing is inherited from the first overlay: a certificate
 *                         names one overlay (RFC 6940 §11.3), and another overlay's CA is
 *                         not trusted unless given here
 * Joining is by the configured bootstrap peer only (no --cache, --discover or bootstrap
 * server for these overlays); the core retries a join as for the first overlay.
 */
#ifndef P2PSIP_NET_OVERLAYS_H
#define P2PSIP_NET_OVERLAYS_H

#include <glib.h>
#include <stdbool.h>

#include "../core/node.h"
#include "udp.h"

struct net_overlay;

/* Parses spec, reads its configuration document, opens its socket and creates its node (not
 * yet joined).  Prints "listening node-id=HEX addr=A.B.C.D:PORT overlay=NAME" on stdout.
 * NULL with err set (domain NET_OVERLAY_ERROR, code NET_OVERLAY_E_USAGE for a bad
 * specification or document, NET_OVERLAY_E_SOCKET when the socket cannot be opened). */
#define NET_OVERLAY_ERROR (net_overlay_error_quark())
GQuark net_overlay_error_quark(void);
enum { NET_OVERLAY_E_USAGE = 1, NET_OVERLAY_E_SOCKET = 2 };
struct net_overlay *net_overlay_new(const char *spec, bool verbose, GError **err);
/* Checks spec's syntax only (no file read, no socket): true, or false with err set. */
bool net_overlay_spec_check(const char *spec, GError **err);
/* Joins (or starts the overlay); prints "joined node-id=HEX addr=A.B.C.D:PORT overlay=NAME"
 * once joined.  Returns NODE_OK or node_join's error. */
int net_overlay_start(struct net_overlay *o);
/* Leaves gracefully (node_leave). */
void net_overlay_leave(struct net_overlay *o);
/* Logs the node's statistics line (as the first overlay's, with the overlay's name). */
void net_overlay_log_stats(struct net_overlay *o);
/* Frees the node, the socket and the document; free the node's SIP adapter first. */
void net_overlay_free(struct net_overlay *o);

struct node *net_overlay_node(struct net_overlay *o);
struct net_udp *net_overlay_udp(struct net_overlay *o);
const char *net_overlay_name(const struct net_overlay *o);
const char *net_overlay_sip_domain(const struct net_overlay *o);
bool net_overlay_joined(const struct net_overlay *o);

#endif
