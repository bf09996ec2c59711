/* id.h — 128-bit RELOAD identifiers (Node-IDs and Resource-IDs) and ring arithmetic.
 *
 * RFC 6940 §6.3.1.1 (NodeId is NodeIdLength bytes, most significant byte first; this
 * project fixes NodeIdLength at 16) and §10.2 (a Resource-ID is the SHA-1 of the resource
 * name truncated to its most significant 128 bits).  All arithmetic is modulo 2^128.
 * Identifiers are stored as two host-order 64-bit halves so comparisons and additions
 * are a couple of instructions; id_to_bytes/id_from_bytes convert to the wire form.
 */
#ifndef P2PSIP_ID_H
#define P2PSIP_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ID_BYTES 16
#define ID_HEX_LEN 32

struct id {
    uint64_t hi; /* most significant 64 bits */
    uint64_t lo;
};

/* Wire conversion: 16 bytes, most significant first. */
void id_to_bytes(const struct id *a, uint8_t out[ID_BYTES]);
struct id id_from_bytes(const uint8_t in[ID_BYTES]);

/* Resource-ID of a name: SHA-1(name) truncated to 128 bits (RFC 6940 §10.2). */
struct id id_hash(const void *name, size_t len);

/* Lower 32 bits of SHA-1(overlay name): the forwarding header's overlay field (§6.3.2). */
uint32_t id_overlay_hash(const char *overlay_name);

static inline int id_cmp(const struct id *a, const struct id *b)
{
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return 0;
}

static inline bool id_eq(const struct id *a, const struct id *b)
{
    return a->hi == b->hi && a->lo == b->lo;
}

/* The wildcard Node-ID, all 1s (RFC 6940 §6.3.1.1, §6.1.1): a message whose first destination
 * it is goes to whichever peer receives it, which never forwards it. */
static inline struct id id_wildcard(void)
{
    return (struct id){UINT64_MAX, UINT64_MAX};
}

static inline bool id_is_wildcard(const struct id *a)
{
    return a->hi == UINT64_MAX && a->lo == UINT64_MAX;
}

/* a + b and a - b modulo 2^128. */
struct id id_add(const struct id *a, const struct id *b);
struct id id_sub(const struct id *a, const struct id *b);
/* 2^k for 0 <= k < 128. */
struct id id_pow2(unsigned k);
/* a + 2^k modulo 2^128. */
struct id id_add_pow2(const struct id *a, unsigned k);

/* Clockwise distance from a to b: (b - a) mod 2^128. */
static inline struct id id_dist(const struct id *a, const struct id *b)
{
    return id_sub(b, a);
}

/* True when x lies in the ring interval (a, b], going clockwise from a.
 * When a == b the interval is the whole ring (a single peer owns everything). */
bool id_in_oc(const struct id *x, const struct id *a, const struct id *b);
/* True when x lies in the open ring interval (a, b); when a == b: every x != a. */
bool id_in_oo(const struct id *x, const struct id *a, const struct id *b);

/* Approximate position of an id on the ring as a fraction in [0, 1). */
double id_to_unit(const struct id *a);

/* 32 lower-case hex digits and a NUL. */
void id_to_hex(const struct id *a, char out[ID_HEX_LEN + 1]);
/* Parses exactly 32 hex digits; returns 0 or -1. */
int id_from_hex(const char *hex, struct id *out);

#endif
