/* resolve.h — looking an AoR up in the overlay (RFC 7904 §4): Fetch the SIP-REGISTRATION
 * values stored at hash(AoR), follow every forwarding URI value to the AoR it names (each a
 * further Fetch), and collect the route values: the destination lists that reach the nodes
 * where the user registered.
 *
 * Forwarding is followed breadth first up to max_depth URI hops; an AoR already fetched in
 * this resolution is not fetched again, so a forwarding loop ends.  Sans-I/O like core/: it
 * acts only through node_fetch() of the node it is given.
 */
#ifndef P2PSIP_SIP_RESOLVE_H
#define P2PSIP_SIP_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/node.h"
#include "usage.h"

/* Results beyond node.h's NODE_OK / NODE_E_*: only forwarding URIs were found, and every one
 * of them led back to an AoR already visited or beyond max_depth. */
#define SIP_RESOLVE_E_LOOP (-20)

#define SIP_RESOLVE_MAX_ROUTES 32 /* routes collected per resolution; more are ignored */
#define SIP_RESOLVE_DEPTH 4       /* a sensible max_depth */

/* One route value found. */
struct sip_route {
    const char *aor;           /* the AoR it was registered under (after forwarding) */
    struct id node;            /* its dictionary key: the registering Node-ID (zero when the
                                * key is not 16 bytes long) */
    const char *contact_prefs; /* NUL-terminated (empty when none) */
    unsigned depth;            /* forwarding URIs followed to reach it */
    uint16_t n_dest;
    struct wire_dest dest[SIP_USAGE_MAX_DEST];
};

/* Completion: status NODE_OK with n >= 1 routes (in the order found), NODE_E_NOT_FOUND,
 * SIP_RESOLVE_E_LOOP, or the error of a Fetch that failed (NODE_E_TIMEOUT, NODE_E_REFUSED)
 * when nothing was found.  routes is valid only during the call. */
typedef void (*sip_resolve_cb)(void *ud, int status, const struct sip_route *routes, size_t n);

struct sip_resolve;

/* Starts resolving aor (canonical, sip_usage_aor()) through node n; cookie is passed to every
 * node_fetch() (ENV_EV_FETCH_DONE).  Returns NODE_OK, or NODE_E_STATE / NODE_E_INVALID from
 * node_fetch when nothing was started.  cb may be called before sip_resolve returns (when n
 * answers the Fetch itself).  When handle is not NULL it receives a handle, valid until cb
 * has been called, for sip_resolve_cancel(). */
int sip_resolve(struct node *n, const char *aor, unsigned max_depth, uint64_t cookie,
                sip_resolve_cb cb, void *ud, struct sip_resolve **handle);
/* cb will not be called.  The resolution's memory is released when its pending Fetches end;
 * free the node only after they have (node_free drops pending callbacks). */
void sip_resolve_cancel(struct sip_resolve *r);

#endif
