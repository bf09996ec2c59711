/* access.h — the access-control policies of stored data, RFC 6940 §7.3, as the storing peer
 * and the fetcher apply them to a value whose signature the security provider verified.
 *
 * H is the overlay's hash (id_hash: SHA-1 truncated to 128 bits).
 *   USER-MATCH       H(signer's user name) = Resource-ID                              §7.3.1
 *   NODE-MATCH       H(signing Node-ID) = Resource-ID                                 §7.3.2
 *   USER-NODE-MATCH  USER-MATCH, and a dictionary value whose key is the signing
 *                    Node-ID's 16 bytes                                               §7.3.3
 *   NODE-MULTIPLE    H(Node-ID || i) = Resource-ID for some 1 <= i <= max_node_multiple,
 *                    i hashed as a 4-byte big-endian integer after the Node-ID (the RFC
 *                    leaves its encoding open)                                        §7.3.4
 *   NODE-KEY-MATCH   a dictionary value whose key is the signing Node-ID (this build's
 *                    extension: USER-NODE-MATCH without its user half; docs/sip.md)
 *   OPEN             any verified signer (this build's default for kinds without a policy)
 * The signing Node-ID is the one the SignerIdentity names (struct node_signer.node), which
 * the provider has checked the certificate carries.  Pure functions; no I/O.
 */
#ifndef P2PSIP_ACCESS_H
#define P2PSIP_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "wire.h"

enum { ACCESS_OK = 0, ACCESS_E_DENIED = -1 };

/* The decision for value d (its model and key matter to the dictionary policies) stored at
 * resource (resource_len bytes; policies other than OPEN need 16) under a kind with policy
 * `policy` (enum node_access) and max_node_multiple, signed by who.  ACCESS_OK or
 * ACCESS_E_DENIED (also for a policy this build does not know). */
int access_check(uint8_t policy, uint32_t max_node_multiple, const uint8_t *resource,
                 size_t resource_len, const struct wire_stored_data *d,
                 const struct node_signer *who);

/* "USER-MATCH", ... "OPEN", for logs; "?" when unknown. */
const char *access_name(uint8_t policy);

#endif
