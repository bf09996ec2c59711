/* id.c — 128-bit identifiers, SHA-1 Resource-IDs and ring arithmetic (RFC 6940 §10.2). */
#include "id.h"

#include <glib.h>
#include <string.h>

void id_to_bytes(const struct id *a, uint8_t out[ID_BYTES])
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(a->hi >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(a->lo >> (56 - 8 * i));
    }
}

struct id id_from_bytes(const uint8_t in[ID_BYTES])
{
    struct id r = {0, 0};
    for (int i = 0; i < 8; i++) {
        r.hi = (r.hi << 8) | in[i];
        r.lo = (r.lo << 8) | in[8 + i];
    }
    return r;
}

static void sha1(const void *data, size_t len, uint8_t out[20])
{
    GChecksum *c = g_checksum_new(G_CHECKSUM_SHA1);
    gsize n = 20;
    g_checksum_update(c, data, (gssize)len);
    g_checksum_get_digest(c, out, &n);
    g_checksum_free(c);
}

struct id id_hash(const void *name, size_t len)
{
    uint8_t d[20];
    sha1(name, len, d);
    return id_from_bytes(d);
}

uint32_t id_overlay_hash(const char *overlay_name)
{
    uint8_t d[20];
    sha1(overlay_name, strlen(overlay_name), d);
    return ((uint32_t)d[16] << 24) | ((uint32_t)d[17] << 16) | ((uint32_t)d[18] << 8) | d[19];
}

struct id id_add(const struct id *a, const struct id *b)
{
    struct id r;
    r.lo = a->lo + b->lo;
    r.hi = a->hi + b->hi + (r.lo < a->lo);
    return r;
}

struct id id_sub(const struct id *a, const struct id *b)
{
    struct id r;
    r.lo = a->lo - b->lo;
    r.hi = a->hi - b->hi - (a->lo < b->lo);
    return r;
}

struct id id_pow2(unsigned k)
{
    struct id r = {0, 0};
    if (k < 64)
        r.lo = (uint64_t)1 << k;
    else if (k < 128)
        r.hi = (uint64_t)1 << (k - 64);
    return r;
}

struct id id_add_pow2(const struct id *a, unsigned k)
{
    struct id p = id_pow2(k);
    return id_add(a, &p);
}

bool id_in_oc(const struct id *x, const struct id *a, const struct id *b)
{
    if (id_eq(a, b))
        return true;
    struct id dx = id_sub(x, a), db = id_sub(b, a);
    return !(dx.hi == 0 && dx.lo == 0) && id_cmp(&dx, &db) <= 0;
}

bool id_in_oo(const struct id *x, const struct id *a, const struct id *b)
{
    if (id_eq(x, a))
        return false;
    if (id_eq(a, b))
        return true;
    struct id dx = id_sub(x, a), db = id_sub(b, a);
    return id_cmp(&dx, &db) < 0;
}

double id_to_unit(const struct id *a)
{
    return (double)a->hi / 18446744073709551616.0;
}

void id_to_hex(const struct id *a, char out[ID_HEX_LEN + 1])
{
    g_snprintf(out, ID_HEX_LEN + 1, "%016" G_GINT64_MODIFIER "x%016" G_GINT64_MODIFIER "x",
               (guint64)a->hi, (guint64)a->lo);
}

int id_from_hex(const char *hex, struct id *out)
{
    uint8_t b[ID_BYTES];
    if (strlen(hex) != ID_HEX_LEN)
        return -1;
    for (int i = 0; i < ID_BYTES; i++) {
        int h = g_ascii_xdigit_value(hex[2 * i]), l = g_ascii_xdigit_value(hex[2 * i + 1]);
        if (h < 0 || l < 0)
            return -1;
        b[i] = (uint8_t)(h << 4 | l);
    }
    *out = id_from_bytes(b);
    return 0;
}
