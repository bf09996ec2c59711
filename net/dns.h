/* dns.h — locating SIP servers (RFC 3263 §4) for a peer's SIP adapter: the next hop of a
 * request for a domain that no overlay of this peer serves (seed draft §2, §6.3), found by DNS
 * NAPTR → SRV → A queries through c-ares (Debian libc-ares-dev), asynchronously on the GLib
 * main loop.  Implements registrar.h's struct sip_locator.
 *
 * For a domain D and the URI's port P (0: none), UDP only:
 *   - P given: D's A record, port P (§4.2: no NAPTR or SRV when the URI has a port);
 *   - else the NAPTR records of D with service "SIP+D2U" and flag "s", by order then
 *     preference (§4.1); the first one's replacement is the SRV name;
 *   - no such NAPTR: the SRV name _sip._udp.D (§4.1, last paragraph);
 *   - SRV records by priority, then larger weight first (no random selection: the choice is
 *     the same every time), each target's A record in turn, the SRV's port (§4.2);
 *   - no SRV record: D's A record, port 5060 (§4.2).
 * Every query is tried twice, 1 s and then 2 s (c-ares doubles the timeout), so a search of up
 * to four chained queries ends within about 12 s (measured against a server that never
 * answers: 9.2 s for NAPTR, SRV and A) and never blocks the loop; the adapter keeps the server
 * transaction waiting meanwhile (Timer C and the caller's own timers still run).  IPv4 only; no
 * caching beyond what c-ares does (none for this API).
 */
#ifndef P2PSIP_NET_DNS_H
#define P2PSIP_NET_DNS_H

#include <glib.h>

#include "../sip/registrar.h"
#include "udp.h"

struct net_dns;

/* A resolver on the default main context.  server: "A.B.C.D:PORT" of the DNS server to ask
 * (NULL: the system's, /etc/resolv.conf).  log: where to log each search's result (borrowed).
 * NULL with err set when c-ares cannot start or server is malformed. */
struct net_dns *net_dns_new(const char *server, struct net_udp *log, GError **err);
/* Cancels every search (their callbacks do not run) and closes c-ares. */
void net_dns_free(struct net_dns *d);
/* The locator to put in sip_registrar_config.locator; valid as long as d. */
const struct sip_locator *net_dns_locator(struct net_dns *d);

struct net_dns_stats {
    uint64_t searches, found, failed, queries;
};
const struct net_dns_stats *net_dns_get_stats(const struct net_dns *d);

#endif
