/* usage.h — the SIP usage of RELOAD (RFC 7904 §3): the SIP-REGISTRATION kind's value codec
 * and the Resource-ID of an Address of Record.
 *
 * A SIP-REGISTRATION (Kind-ID 1, NODE_KIND_SIP_REGISTRATION, dictionary data model) is stored
 * at the Resource-ID hash(AoR) under the dictionary key of the registering node's Node-ID
 * (RFC 7904 §3.2).  Its value is a SipRegistration:
 *
 *     enum { sip_registration_uri(1), sip_registration_route(2), (255) } SipRegistrationType;
 *     struct {
 *         SipRegistrationType type;
 *         uint16 length;                        -- bytes of what follows
 *         (type uri)   opaque uri<0..2^16-1>;                   -- forwarding to another AoR
 *         (type route) opaque contact_prefs<0..2^16-1>;         -- callee preferences
 *                      Destination destination_list<0..2^16-1>;  -- reaches the node
 *     } SipRegistration;
 *
 * Decoding is zero-copy, like core/wire.h: the decoded structure points into the caller's
 * buffer.  Every length is checked; trailing bytes after a known type's data, a length that
 * runs past the buffer or an unparsable Destination are refused with a negative WIRE_E* code.
 * A type this build does not know is decoded with its data kept raw (the length field exists
 * so that the structure can be extended, RFC 7904 §3.2) and re-encoded verbatim.
 */
#ifndef P2PSIP_SIP_USAGE_H
#define P2PSIP_SIP_USAGE_H

#include <glib.h>
#include <stdint.h>

#include "../core/id.h"
#include "../core/wire.h"

enum sip_usage_type { SIP_USAGE_URI = 1, SIP_USAGE_ROUTE = 2 };

/* Destinations kept per route; a route normally holds one (the registering peer) or two
 * (a client behind its peer). */
#define SIP_USAGE_MAX_DEST 16

struct sip_registration {
    uint8_t type;                    /* enum sip_usage_type, or an unknown type */
    struct wire_bytes uri;           /* SIP_USAGE_URI: another AoR */
    struct wire_bytes contact_prefs; /* SIP_USAGE_ROUTE: RFC 3840 callee preferences */
    uint16_t n_dest;                 /* SIP_USAGE_ROUTE */
    struct wire_dest dest[SIP_USAGE_MAX_DEST];
    struct wire_bytes raw; /* any other type: the data after the length field */
};

/* Appends r.  Lengths beyond a field's range are bugs (assertions). */
void sip_usage_encode(GByteArray *out, const struct sip_registration *r);
/* Decodes exactly [p, p+len) into r; returns 0 or a negative WIRE_E* code. */
int sip_usage_decode(const uint8_t *p, size_t len, struct sip_registration *r);

/* Fills r with a route of one destination, the Node-ID in node (16 bytes of caller storage
 * that r points to), and contact_prefs (may be NULL). */
void sip_usage_route_to(struct sip_registration *r, const uint8_t node[ID_BYTES],
                        const char *contact_prefs);
/* Fills r with a forwarding URI (borrowed). */
void sip_usage_uri(struct sip_registration *r, const char *uri);

/* The canonical AoR of a SIP or SIPS URI (RFC 3261 §10.3 step 5: URI parameters and headers
 * removed, escaped characters unescaped): "scheme:user@host[:port]" with the scheme and host
 * in lower case; RFC 6940 §13.5.1 names such a URI ("sip:alice@dht.example.com") as the
 * Resource Name.  Returns a g_malloc'd string, or NULL when uri is not a sip/sips URI with a
 * host. */
char *sip_usage_aor(const char *uri);
/* The Resource-ID of an AoR: SHA-1 of the canonical AoR string truncated to 128 bits
 * (RFC 7904 §3.2 with RFC 6940 §10.2).  aor must already be canonical. */
struct id sip_usage_resource_id(const char *aor);

#endif
