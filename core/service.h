/* service.h — services findable by name (draft-ietf-p2psip-concepts-00 §2.1, §5.1, §6.1):
 * peers advertise the services they offer (a STUN server, a TURN-like relay, voicemail, a PSTN
 * gateway: service names are free strings) with a capacity, and any node finds the list of
 * providers of a service by its name and picks one with a pluggable policy.
 *
 * Storage (docs/services.md, "Design"): one dictionary (RFC 6940 §7.2.3) of Kind
 * NODE_KIND_SERVICE per service name, at Resource-ID hash("service:" NAME), keyed by the
 * provider's Node-ID; each value is one ServiceRecord (below).  A lookup is one Fetch of the
 * whole dictionary (RFC 6940 §7.4.2).  Kind-ID 0xf0000004 is in the private-use range
 * (RFC 6940 §14.6); it is neither RFC 6940's TURN-SERVICE (Kind 2: single value at a
 * Resource-ID derived from an iteration number, found by a random walk with Find, §9) nor our
 * generic dictionary 0xf0000003, so that a peer can tell service records apart and check them.
 *
 * ServiceRecord, network byte order, every length checked by the decoder:
 *
 *     struct {
 *         uint8          version;        // SERVICE_RECORD_VERSION
 *         NodeId         provider;       // 16 bytes; must equal the dictionary key
 *         CandType       candidate_type; // RFC 6940 §6.5.1.1: host 1, srflx 2, relay 4
 *         IpAddressPort  address;        // §6.3.1.1: type ipv4_address (1), length 6,
 *                                        //   IPv4 address and port
 *         uint32         capacity;       // what the provider can serve (its own unit)
 *         uint32         load;           // what it serves now, same unit
 *         opaque         name<1..2^8-1>; // the service name, no NUL byte
 *     } ServiceRecord;
 *
 * The advertising side is a struct service per node (service_new): service_advertise stores
 * the record and stores it again before its lifetime runs out (on the env clock), until
 * service_withdraw replaces it by a nonexistent value (exists = False, RFC 6940 §7.4.1.3).
 * Sans-I/O like the rest of core/: it acts only through node_store/node_fetch of its node and
 * the env's timers and randomness.
 *
 * Error codes: node.h's NODE_OK / NODE_E_*; the codec's are SERVICE_E_* below.
 */
#ifndef P2PSIP_SERVICE_H
#define P2PSIP_SERVICE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "id.h"
#include "node.h"

#define SERVICE_RECORD_VERSION 1
#define SERVICE_NAME_MAX 255
/* Encoded size of a ServiceRecord without its name bytes. */
#define SERVICE_RECORD_FIXED (1 + ID_BYTES + 1 + 8 + 4 + 4 + 1)

/* Codec results. */
enum {
    SERVICE_E_TRUNCATED = -30,   /* a length runs past the buffer, or bytes are left over */
    SERVICE_E_INVALID = -31,     /* a field holds a value this layout forbids */
    SERVICE_E_UNSUPPORTED = -32, /* another version, or an address that is not IPv4 */
};

/* One provider of a service, as advertised. */
struct service_record {
    struct id provider;
    uint8_t candidate_type; /* WIRE_CAND_HOST, WIRE_CAND_SRFLX or WIRE_CAND_RELAY */
    struct env_addr addr;   /* where the service is reached */
    uint32_t capacity;
    uint32_t load;
    char name[SERVICE_NAME_MAX + 1]; /* NUL-terminated */
};

/* Whether name can be advertised: 1..SERVICE_NAME_MAX bytes (a C string has no NUL). */
bool service_name_ok(const char *name);
/* The Resource-ID of a service name: SHA-1("service:" NAME), truncated like every id. */
struct id service_resource_id(const char *name);
/* Appends the ServiceRecord; returns 0, or SERVICE_E_INVALID (nothing appended) for a bad name
 * or candidate type. */
int service_record_encode(GByteArray *out, const struct service_record *r);
/* Parses exactly [p, p+len) into r; returns 0 or a negative SERVICE_E_* code. */
int service_record_decode(const uint8_t *p, size_t len, struct service_record *r);

/* ---- finding providers ---------------------------------------------------------------------- */

/* Completion of a find: status NODE_OK with n >= 1 providers (in the dictionary's order),
 * NODE_E_NOT_FOUND when no live record exists (values whose body does not decode, names
 * another service or sits under another Node-ID's key are skipped and counted in `skipped`),
 * or the Fetch's error (NODE_E_TIMEOUT, NODE_E_REFUSED).  latency is the time from the call
 * to the answer.  list is valid only during the call (the callee may reorder it, e.g. with
 * service_rank). */
typedef void (*service_find_cb)(void *ud, int status, struct service_record *list, size_t n,
                                size_t skipped, env_time latency);

/* ---- advertising (and finding through the same object) ------------------------------------- */

struct service_config {
    uint32_t lifetime;      /* s, the stored records' lifetime, 300 */
    env_time retry;         /* a failed store is tried again this much later, 10 s */
    env_time load_interval; /* at most one Store per advertisement per this, for load changes,
                               30 s */
    uint64_t cookie;        /* passed to node_store/node_fetch (env_event.cookie), 0 */
};
void service_config_default(struct service_config *c);

struct service;

/* A service agent of node n: env (copied) gives time, timers and randomness (normally the
 * node's own).  Ownership: the node must outlive the agent's use, and the agent must be freed
 * AFTER node_free (which drops pending completions) or when service_pending() is 0: it frees the
 * state of its pending requests, whose completions must then never run. */
struct service *service_new(const struct env *env, struct node *n,
                            const struct service_config *cfg);
void service_free(struct service *s);
/* Requests (Stores and Fetches) still awaiting their answer. */
unsigned service_pending(const struct service *s);

/* Advertises (or updates) service `name` offered at addr (candidate type cand) with a capacity
 * and a current load: stores it now and again at 80-90 % of the lifetime, for as long as it is
 * advertised; a failed store is retried after cfg.retry.  Returns NODE_OK, NODE_E_INVALID (bad
 * name or candidate type) or NODE_E_STATE (the node cannot store now: the advertisement is
 * kept and stored again at the next retry). */
int service_advertise(struct service *s, const char *name, const struct env_addr *addr,
                      uint8_t cand, uint32_t capacity, uint32_t load);
/* Sets the advertised load; the record is stored again at once unless it was stored less than
 * cfg.load_interval ago (then at that time).  NODE_E_NOT_FOUND when name is not advertised. */
int service_set_load(struct service *s, const char *name, uint32_t load);
/* Stops advertising name and replaces its record by a nonexistent value (RFC 6940 §7.4.1.3)
 * for one lifetime.  NODE_E_NOT_FOUND when name is not advertised; NODE_E_STATE when the node
 * cannot store now (the advertisement is forgotten all the same and expires by itself). */
int service_withdraw(struct service *s, const char *name);
/* Names advertised now. */
size_t service_advertised(const struct service *s);

/* Fetches the providers of service `name` through the agent's node; cb runs once (possibly
 * before the call returns, when the node answers the Fetch itself).  Returns NODE_OK,
 * NODE_E_INVALID (bad name) or NODE_E_STATE (cb will not run). */
int service_find(struct service *s, const char *name, service_find_cb cb, void *ud);

struct service_stats {
    uint64_t stores, stores_ok, stores_failed; /* advertisements and refreshes */
    uint64_t withdraws;
    uint64_t finds, finds_found, finds_not_found, finds_failed;
    uint64_t records_skipped; /* malformed or mismatched records seen by finds */
};
const struct service_stats *service_get_stats(const struct service *s);

/* ---- choosing a provider (draft §6.1) ------------------------------------------------------- */

/* A policy scores providers (smaller is better; equal scores are broken at random), or orders
 * the whole list itself when order is set.  A policy is a const struct (a small vtable), so new
 * policies need no change here. */
struct service_policy {
    const char *name;
    double (*score)(const struct service_policy *p, const struct node *n,
                    const struct service_record *r);
    void (*order)(const struct service_policy *p, const struct node *n, const struct env *env,
                  struct service_record *list, size_t count); /* NULL: sort by score */
};
/* random: every provider scores 0, so the order is a uniform shuffle. */
extern const struct service_policy service_policy_random;
/* least_loaded: load / capacity (a provider with capacity 0 scores +infinity). */
extern const struct service_policy service_policy_least_loaded;
/* lowest_rtt: the link layer's smoothed RTT to the provider (node_peer_rtt), 0 for the node
 * itself, +infinity when there is no sample (unknown RTTs come last, in random order). */
extern const struct service_policy service_policy_lowest_rtt;
/* two_choices: two providers drawn at random, the less loaded (load / capacity) first, then the
 * other, then the rest in random order ("the power of two choices", Mitzenmacher, IEEE TPDS
 * 12(10), 2001): least_loaded's balance without every finder herding onto the same provider
 * while the loads it reads are stale. */
extern const struct service_policy service_policy_two_choices;
/* The built-in policy of that name ("random", "least_loaded", "lowest_rtt", "two_choices"), or
 * NULL. */
const struct service_policy *service_policy_by_name(const char *name);

/* Sorts list best first under policy p as seen from node n, equal scores in random order
 * (one env_random(env) draw per provider); the choice is list[0].  Traversal takes the next
 * entries when the first provider fails. */
void service_rank(const struct service_policy *p, const struct node *n, const struct env *env,
                  struct service_record *list, size_t count);

#endif
