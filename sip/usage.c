/* usage.c — the SIP usage of RELOAD (RFC 7904 §3): SipRegistration encode/decode and the
 * Resource-ID of an AoR.  The Destination entries of a route use core/wire's Destination codec
 * (RFC 6940 §6.3.2.2), so a route is byte-exact with a forwarding header's destination list.
 */
#include "usage.h"

#include <osipparser2/osip_parser.h>
#include <string.h>

/* ---- encoding ----------------------------------------------------------------------------- */

static void put_u16(GByteArray *o, size_t v)
{
    g_assert(v <= 0xffff);
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    g_byte_array_append(o, b, 2);
}

static void put_opaque16(GByteArray *o, struct wire_bytes b)
{
    put_u16(o, b.len);
    if (b.len)
        g_byte_array_append(o, b.p, b.len);
}

static void patch_u16(GByteArray *o, size_t at, size_t v)
{
    g_assert(v <= 0xffff);
    o->data[at] = (uint8_t)(v >> 8);
    o->data[at + 1] = (uint8_t)v;
}

void sip_usage_encode(GByteArray *out, const struct sip_registration *r)
{
    g_byte_array_append(out, &r->type, 1);
    size_t len_at = out->len;
    put_u16(out, 0);
    switch (r->type) {
    case SIP_USAGE_URI:
        put_opaque16(out, r->uri);
        break;
    case SIP_USAGE_ROUTE: {
        g_assert(r->n_dest <= SIP_USAGE_MAX_DEST);
        put_opaque16(out, r->contact_prefs);
        size_t list_at = out->len;
        put_u16(out, 0);
        wire_encode_dest_list(out, r->dest, r->n_dest);
        patch_u16(out, list_at, out->len - list_at - 2);
        break;
    }
    default:
        if (r->raw.len)
            g_byte_array_append(out, r->raw.p, r->raw.len);
        break;
    }
    patch_u16(out, len_at, out->len - len_at - 2);
}

/* ---- decoding ----------------------------------------------------------------------------- */

/* Reads opaque<0..2^16-1> at *p (bounded by end); NULL when it runs past end. */
static const uint8_t *get_opaque16(const uint8_t *p, const uint8_t *end, struct wire_bytes *b)
{
    if (end - p < 2)
        return NULL;
    size_t n = (size_t)p[0] << 8 | p[1];
    p += 2;
    if ((size_t)(end - p) < n)
        return NULL;
    b->p = p;
    b->len = (uint32_t)n;
    return p + n;
}

int sip_usage_decode(const uint8_t *p, size_t len, struct sip_registration *r)
{
    memset(r, 0, sizeof *r);
    if (len < 3)
        return WIRE_E_TRUNCATED;
    r->type = p[0];
    size_t body = (size_t)p[1] << 8 | p[2];
    if (body > len - 3)
        return WIRE_E_TRUNCATED;
    if (body < len - 3)
        return WIRE_E_INVALID; /* bytes after the structure */
    const uint8_t *q = p + 3, *end = q + body;
    switch (r->type) {
    case SIP_USAGE_URI:
        q = get_opaque16(q, end, &r->uri);
        break;
    case SIP_USAGE_ROUTE: {
        struct wire_bytes list;
        q = get_opaque16(q, end, &r->contact_prefs);
        if (q)
            q = get_opaque16(q, end, &list);
        if (!q)
            return WIRE_E_TRUNCATED;
        size_t n = 0;
        int rc = wire_decode_dest_list(list.p, list.len, r->dest, SIP_USAGE_MAX_DEST, &n);
        if (rc < 0)
            return rc;
        r->n_dest = (uint16_t)n;
        break;
    }
    case 0:
        return WIRE_E_INVALID; /* 0 is no type: the enum starts at 1, as RELOAD enums do */
    default:
        r->raw.p = q;
        r->raw.len = (uint32_t)body;
        q = end;
        break;
    }
    if (!q)
        return WIRE_E_TRUNCATED;
    return q == end ? WIRE_OK : WIRE_E_INVALID;
}

void sip_usage_route_to(struct sip_registration *r, const uint8_t node[ID_BYTES],
                        const char *contact_prefs)
{
    memset(r, 0, sizeof *r);
    r->type = SIP_USAGE_ROUTE;
    if (contact_prefs) {
        r->contact_prefs.p = (const uint8_t *)contact_prefs;
        r->contact_prefs.len = (uint32_t)strlen(contact_prefs);
    }
    r->n_dest = 1;
    wire_dest_node(&r->dest[0], node);
}

void sip_usage_uri(struct sip_registration *r, const char *uri)
{
    memset(r, 0, sizeof *r);
    r->type = SIP_USAGE_URI;
    r->uri.p = (const uint8_t *)uri;
    r->uri.len = (uint32_t)strlen(uri);
}

/* ---- AoR ---------------------------------------------------------------------------------- */

char *sip_usage_aor(const char *uri)
{
    osip_uri_t *u = NULL;
    char *out = NULL;
    if (!uri || osip_uri_init(&u) != 0)
        return NULL;
    if (osip_uri_parse(u, uri) == 0 && u->scheme && u->host && u->host[0] &&
        (g_ascii_strcasecmp(u->scheme, "sip") == 0 || g_ascii_strcasecmp(u->scheme, "sips") == 0)) {
        char *scheme = g_ascii_strdown(u->scheme, -1), *host = g_ascii_strdown(u->host, -1);
        char *user = NULL;
        if (u->username && u->username[0]) {
            user = g_strdup(u->username);
            __osip_uri_unescape(user);
        }
        out = g_strconcat(scheme, ":", user ? user : "", user ? "@" : "", host,
                          u->port && u->port[0] ? ":" : "", u->port ? u->port : "", NULL);
        g_free(scheme);
        g_free(host);
        g_free(user);
    }
    osip_uri_free(u);
    return out;
}

struct id sip_usage_resource_id(const char *aor)
{
    return id_hash(aor, strlen(aor));
}
