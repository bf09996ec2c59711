/* router.h — one SIP socket in front of several SIP adapters, one per overlay this peer
 * process has joined (seed draft §6.5: a peer in several overlays; SIP requests for a domain go
 * to the overlay configured for that domain).  Sans-I/O like the adapters: the host hands each
 * datagram of its SIP socket to sip_router_receive, which passes it on to one adapter.
 *
 * Which adapter (docs/sip.md, "Several overlays"):
 *   - a response: the one whose Via branch it carries (an adapter with cfg.instance N > 0
 *     starts its branches with "-N-"; the others' responses go to the first adapter);
 *   - a request: the adapter of the Request-URI's host when an adapter serves that domain,
 *     else the adapter of the To URI's host, else the first adapter (which sends requests for
 *     domains no overlay serves out by ordinary SIP when it has a locator, registrar.h);
 *   - a datagram libosip2 cannot parse: the first adapter, which counts and drops it.
 * Domains compare case-insensitively.  The router parses each datagram once more than the
 * adapter does (a few microseconds per message).
 */
#ifndef P2PSIP_SIP_ROUTER_H
#define P2PSIP_SIP_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "registrar.h"

struct sip_router;

struct sip_router *sip_router_new(void);
/* Frees the router, not the adapters. */
void sip_router_free(struct sip_router *rt);
/* Adds adapter r, serving SIP domain `domain` (copied), created with cfg.instance equal to the
 * number of adapters added before it: the first added is the default. */
void sip_router_add(struct sip_router *rt, const char *domain, struct sip_registrar *r);
/* Hands one datagram to the adapter it belongs to; buf is borrowed. */
void sip_router_receive(struct sip_router *rt, const struct env_addr *from, const uint8_t *buf,
                        size_t len);
/* Datagrams handed to adapter i (in the order added), for the statistics. */
uint64_t sip_router_count(const struct sip_router *rt, unsigned i);

#endif
