/* wire.c — the RELOAD codec, byte-exact with RFC 6940: the forwarding header (§6.3.2), the
 * message contents (§6.3.3), the security block (§6.3.4), the method bodies of §6.4.2, §6.5
 * and §7.4, CHORD-RELOAD's Update and RouteQuery answer (§10.7, §10.8) and the link-layer
 * FramedMessage (§6.6.2).
 *
 * All integers are big-endian; "opaque x<0..2^N-1>" is a length of N/8 bytes followed by the
 * bytes (§6.3.1).  Decoding walks a cursor whose error is sticky: the first failed read
 * records its code and empties the cursor, so every later read returns zeros and every loop
 * ends.  The parsing code can then follow the RFC's structure definitions field by field and
 * check the outcome once.  A length-prefixed field is parsed with a sub-cursor over exactly
 * its bytes; closing it rejects bytes left over (WIRE_E_INVALID) and hands any error up.
 */
#include "wire.h"

#include <string.h>

/* ---- reading ------------------------------------------------------------------------------ */

struct cur {
    const uint8_t *p, *end;
    int err; /* 0 or the first WIRE_E_* met */
};

static const uint8_t cur_empty[1];

static struct cur cur_make(const uint8_t *p, size_t len)
{
    if (!p)
        p = cur_empty; /* keeps pointer arithmetic defined for an empty NULL buffer */
    return (struct cur){.p = p, .end = p + len, .err = 0};
}

static struct cur cur_of(struct wire_bytes b)
{
    return cur_make(b.p, b.len);
}

static void cur_fail(struct cur *c, int err)
{
    if (!c->err)
        c->err = err;
    c->p = c->end;
}

static size_t cur_left(const struct cur *c)
{
    return (size_t)(c->end - c->p);
}

static bool cur_more(const struct cur *c)
{
    return c->p < c->end;
}

/* Ends a sub-cursor opened over a length-delimited field of c. */
static void cur_close(struct cur *c, const struct cur *sub)
{
    if (sub->err)
        cur_fail(c, sub->err);
    else if (cur_more(sub))
        cur_fail(c, WIRE_E_INVALID);
}

/* The result of a whole decode: the first error, or trailing bytes. */
static int cur_finish(struct cur *c)
{
    if (!c->err && cur_more(c))
        c->err = WIRE_E_INVALID;
    return c->err;
}

static const uint8_t *take(struct cur *c, size_t n)
{
    if (cur_left(c) < n) {
        cur_fail(c, WIRE_E_TRUNCATED);
        return NULL;
    }
    const uint8_t *q = c->p;
    c->p += n;
    return q;
}

static uint64_t get_uint(struct cur *c, unsigned n)
{
    const uint8_t *q = take(c, n);
    uint64_t v = 0;
    if (q)
        for (unsigned i = 0; i < n; i++)
            v = v << 8 | q[i];
    return v;
}

static uint8_t get_u8(struct cur *c)
{
    return (uint8_t)get_uint(c, 1);
}

static uint16_t get_u16(struct cur *c)
{
    return (uint16_t)get_uint(c, 2);
}

static uint32_t get_u32(struct cur *c)
{
    return (uint32_t)get_uint(c, 4);
}

static uint64_t get_u64(struct cur *c)
{
    return get_uint(c, 8);
}

/* Boolean, §6.3.1.1: one byte, 0 or 1. */
static bool get_bool(struct cur *c)
{
    uint8_t v = get_u8(c);
    if (v > 1)
        cur_fail(c, WIRE_E_INVALID);
    return v == 1;
}

static struct wire_bytes get_fixed(struct cur *c, size_t n)
{
    const uint8_t *q = take(c, n);
    return (struct wire_bytes){.p = q ? q : c->p, .len = q ? (uint32_t)n : 0};
}

/* opaque<0..2^(8*lenbytes)-1>. */
static struct wire_bytes get_opaque(struct cur *c, unsigned lenbytes)
{
    return get_fixed(c, (size_t)get_uint(c, lenbytes));
}

static struct id get_id(struct cur *c)
{
    const uint8_t *q = take(c, ID_BYTES);
    return q ? id_from_bytes(q) : (struct id){0, 0};
}

/* ---- writing ------------------------------------------------------------------------------ */

static uint64_t len_max(unsigned lenbytes)
{
    return ((uint64_t)1 << (8 * lenbytes)) - 1;
}

static void put_uint(GByteArray *o, uint64_t v, unsigned n)
{
    uint8_t b[8];
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    g_byte_array_append(o, b, n);
}

static void put_u8(GByteArray *o, uint8_t v)
{
    g_byte_array_append(o, &v, 1);
}

static void put_u16(GByteArray *o, uint16_t v)
{
    put_uint(o, v, 2);
}

static void put_u32(GByteArray *o, uint32_t v)
{
    put_uint(o, v, 4);
}

static void put_u64(GByteArray *o, uint64_t v)
{
    put_uint(o, v, 8);
}

static void put_bytes(GByteArray *o, const uint8_t *p, size_t n)
{
    if (n)
        g_byte_array_append(o, p, (guint)n);
}

static void put_opaque(GByteArray *o, unsigned lenbytes, const uint8_t *p, size_t n)
{
    g_assert(n <= len_max(lenbytes));
    put_uint(o, n, lenbytes);
    put_bytes(o, p, n);
}

static void put_wbytes(GByteArray *o, unsigned lenbytes, struct wire_bytes b)
{
    put_opaque(o, lenbytes, b.p, b.len);
}

static void put_id(GByteArray *o, const struct id *a)
{
    uint8_t b[ID_BYTES];
    id_to_bytes(a, b);
    put_bytes(o, b, ID_BYTES);
}

static void patch_uint(GByteArray *o, size_t at, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        o->data[at + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* A vector whose length is known only after its contents are written: vec_begin reserves the
 * length field, vec_end fills it with the bytes appended since. */
static size_t vec_begin(GByteArray *o, unsigned lenbytes)
{
    size_t at = o->len;
    put_uint(o, 0, lenbytes);
    return at;
}

static void vec_end(GByteArray *o, size_t at, unsigned lenbytes)
{
    size_t n = o->len - at - lenbytes;
    g_assert(n <= len_max(lenbytes));
    patch_uint(o, at, n, lenbytes);
}

/* ---- Destination, §6.3.2.2 ---------------------------------------------------------------- */

static void get_dest(struct cur *c, struct wire_dest *d)
{
    d->compressed = false;
    d->len = 0;
    d->data = NULL;
    if (cur_more(c) && (c->p[0] & 0x80)) { /* uint16 opaque_id, top bit set */
        d->type = WIRE_DEST_OPAQUE;
        d->compressed = true;
        d->len = 2;
        d->data = take(c, 2);
        return;
    }
    d->type = get_u8(c);
    struct cur v = cur_of(get_opaque(c, 1));
    struct wire_bytes b;
    switch (d->type) {
    case WIRE_DEST_NODE:
        d->data = take(&v, ID_BYTES);
        d->len = ID_BYTES;
        break;
    case WIRE_DEST_RESOURCE: /* ResourceId and opaque_id carry their own length byte */
    case WIRE_DEST_OPAQUE:
        b = get_opaque(&v, 1);
        d->data = b.p;
        d->len = (uint8_t)b.len;
        break;
    case 0:
        cur_fail(&v, WIRE_E_INVALID);
        break;
    default: /* an extension type: the TLV lets us carry it unparsed */
        b = get_fixed(&v, cur_left(&v));
        d->data = b.p;
        d->len = (uint8_t)b.len;
        break;
    }
    cur_close(c, &v);
}

static void put_dest(GByteArray *o, const struct wire_dest *d)
{
    if (d->compressed) {
        g_assert(d->len == 2 && (d->data[0] & 0x80));
        put_bytes(o, d->data, 2);
        return;
    }
    g_assert(d->type > 0 && d->type < 0x80);
    put_u8(o, d->type);
    size_t at = vec_begin(o, 1);
    switch (d->type) {
    case WIRE_DEST_NODE:
        g_assert(d->len == ID_BYTES);
        put_bytes(o, d->data, ID_BYTES);
        break;
    case WIRE_DEST_RESOURCE:
    case WIRE_DEST_OPAQUE:
        put_opaque(o, 1, d->data, d->len);
        break;
    default:
        put_bytes(o, d->data, d->len);
        break;
    }
    vec_end(o, at, 1);
}

static uint16_t get_dest_list(struct cur *c, size_t bytes, struct wire_dest *list)
{
    struct cur v = cur_of(get_fixed(c, bytes));
    uint16_t n = 0;
    while (cur_more(&v)) {
        if (n == WIRE_MAX_LIST) {
            cur_fail(&v, WIRE_E_TOO_MANY);
            break;
        }
        get_dest(&v, &list[n++]);
    }
    cur_close(c, &v);
    return n;
}

void wire_dest_node(struct wire_dest *d, const uint8_t bytes[ID_BYTES])
{
    *d = (struct wire_dest){.type = WIRE_DEST_NODE, .len = ID_BYTES, .data = bytes};
}

void wire_dest_resource(struct wire_dest *d, const uint8_t *bytes, uint8_t len)
{
    *d = (struct wire_dest){.type = WIRE_DEST_RESOURCE, .len = len, .data = bytes};
}

int wire_dest_id(const struct wire_dest *d, struct id *out)
{
    if (d->compressed || d->len != ID_BYTES ||
        (d->type != WIRE_DEST_NODE && d->type != WIRE_DEST_RESOURCE))
        return -1;
    *out = id_from_bytes(d->data);
    return 0;
}

void wire_encode_dest_list(GByteArray *out, const struct wire_dest *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_dest(out, &list[i]);
}

int wire_decode_dest_list(const uint8_t *p, size_t len, struct wire_dest *list, size_t max,
                          size_t *n)
{
    struct cur c = cur_make(p, len);
    *n = 0;
    while (cur_more(&c)) {
        if (*n == max) {
            cur_fail(&c, WIRE_E_TOO_MANY);
            break;
        }
        get_dest(&c, &list[(*n)++]);
    }
    return cur_finish(&c);
}

/* ---- Forwarding header, §6.3.2 ------------------------------------------------------------ */

/* relo_token .. max_response_length, then the three list lengths. */
#define HEADER_FIXED 38
#define HEADER_LENGTH_AT 16 /* offset of the length field */
#define HEADER_LISTS_AT 32  /* offset of via_list_length */

/* ForwardingOption, §6.3.2.3: type, flags, length<u16>-delimited value. */
static void check_options(struct cur *c)
{
    while (cur_more(c)) {
        if (get_u8(c) == 0)
            cur_fail(c, WIRE_E_INVALID);
        get_u8(c);
        get_opaque(c, 2);
    }
}

int wire_decode_header(const uint8_t *buf, size_t len, struct wire_header *h, size_t *header_len)
{
    struct cur c = cur_make(buf, len);
    uint32_t token = get_u32(&c);
    if (!c.err && token != WIRE_RELO_TOKEN)
        return WIRE_E_UNSUPPORTED;
    h->overlay = get_u32(&c);
    h->config_seq = get_u16(&c);
    h->version = get_u8(&c);
    h->ttl = get_u8(&c);
    h->fragment = get_u32(&c);
    h->length = get_u32(&c);
    h->txid = get_u64(&c);
    h->max_response_length = get_u32(&c);
    uint16_t via_bytes = get_u16(&c), dest_bytes = get_u16(&c), opt_bytes = get_u16(&c);
    if (c.err)
        return c.err;
    if (h->version != WIRE_VERSION)
        return WIRE_E_UNSUPPORTED;
    /* The high bit and "last fragment" set, offset 0; the six reserved bits are ignored. */
    if ((h->fragment & WIRE_FRAGMENT_LAST) != WIRE_FRAGMENT_LAST || (h->fragment & 0xffffff))
        return WIRE_E_UNSUPPORTED;
    if (h->length != len)
        return h->length > len ? WIRE_E_TRUNCATED : WIRE_E_INVALID;
    h->n_via = get_dest_list(&c, via_bytes, h->via);
    h->n_dest = get_dest_list(&c, dest_bytes, h->dest);
    h->options = get_fixed(&c, opt_bytes);
    struct cur o = cur_of(h->options);
    check_options(&o);
    cur_close(&c, &o);
    if (c.err)
        return c.err;
    *header_len = (size_t)(c.p - buf);
    return WIRE_OK;
}

/* Appends the header with a zero length field; returns where the message starts. */
static size_t put_header(GByteArray *o, const struct wire_header *h)
{
    g_assert(h->n_via <= WIRE_MAX_LIST && h->n_dest <= WIRE_MAX_LIST);
    size_t start = o->len;
    put_u32(o, WIRE_RELO_TOKEN);
    put_u32(o, h->overlay);
    put_u16(o, h->config_seq);
    put_u8(o, h->version);
    put_u8(o, h->ttl);
    put_u32(o, h->fragment);
    put_u32(o, 0);
    put_u64(o, h->txid);
    put_u32(o, h->max_response_length);
    put_u16(o, 0);
    put_u16(o, 0);
    put_u16(o, 0);
    size_t lists = o->len;
    for (unsigned i = 0; i < h->n_via; i++)
        put_dest(o, &h->via[i]);
    size_t dests = o->len;
    for (unsigned i = 0; i < h->n_dest; i++)
        put_dest(o, &h->dest[i]);
    size_t opts = o->len;
    put_bytes(o, h->options.p, h->options.len);
    g_assert(dests - lists <= 0xffff && opts - dests <= 0xffff && h->options.len <= 0xffff);
    patch_uint(o, start + HEADER_LISTS_AT, dests - lists, 2);
    patch_uint(o, start + HEADER_LISTS_AT + 2, opts - dests, 2);
    patch_uint(o, start + HEADER_LISTS_AT + 4, h->options.len, 2);
    return start;
}

static void patch_length(GByteArray *o, size_t start)
{
    size_t n = o->len - start;
    g_assert(n <= 0xffffffffu);
    patch_uint(o, start + HEADER_LENGTH_AT, n, 4);
}

void wire_reencode_header(GByteArray *out, const struct wire_header *h, const uint8_t *msg,
                          size_t msg_len, size_t header_len)
{
    g_assert(header_len <= msg_len);
    size_t start = put_header(out, h);
    put_bytes(out, msg + header_len, msg_len - header_len);
    patch_length(out, start);
}

/* ---- Security block, §6.3.4 --------------------------------------------------------------- */

void wire_security_none(struct wire_security *s)
{
    *s = (struct wire_security){
        .sig = {.hash_alg = 0, .sig_alg = 0, .identity_type = WIRE_SIGNER_NONE},
    };
}

static void get_signature(struct cur *c, struct wire_signature *s)
{
    s->hash_alg = get_u8(c);
    s->sig_alg = get_u8(c);
    s->identity_type = get_u8(c);
    s->identity = get_opaque(c, 2); /* SignerIdentity.length, then SignerIdentityValue */
    struct cur v = cur_of(s->identity);
    switch (s->identity_type) {
    case WIRE_SIGNER_CERT_HASH:
    case WIRE_SIGNER_CERT_HASH_NODE_ID:
        get_u8(&v); /* hash_alg */
        get_opaque(&v, 1);
        break;
    case WIRE_SIGNER_NONE:
        break;
    case 0:
        cur_fail(&v, WIRE_E_INVALID);
        break;
    default: /* "may be extended": the length lets us carry it */
        get_fixed(&v, cur_left(&v));
        break;
    }
    cur_close(c, &v);
    s->value = get_opaque(c, 2);
}

static void put_signature(GByteArray *o, const struct wire_signature *s)
{
    put_u8(o, s->hash_alg);
    put_u8(o, s->sig_alg);
    put_u8(o, s->identity_type);
    put_wbytes(o, 2, s->identity);
    put_wbytes(o, 2, s->value);
}

void wire_encode_signature(GByteArray *out, const struct wire_signature *s)
{
    put_signature(out, s);
}

int wire_decode_signature(const uint8_t *p, size_t len, struct wire_signature *s)
{
    struct cur c = cur_make(p, len);
    get_signature(&c, s);
    return cur_finish(&c);
}

void wire_encode_signer_identity(GByteArray *out, const struct wire_signature *s)
{
    put_u8(out, s->identity_type);
    put_wbytes(out, 2, s->identity);
}

void wire_encode_certificate(GByteArray *out, uint8_t type, const uint8_t *der, size_t len)
{
    put_u8(out, type);
    put_opaque(out, 2, der, len);
}

int wire_next_certificate(struct wire_bytes *rest, uint8_t *type, struct wire_bytes *cert)
{
    if (rest->len == 0)
        return 0;
    struct cur c = cur_of(*rest);
    *type = get_u8(&c);
    *cert = get_opaque(&c, 2);
    if (c.err)
        return c.err;
    size_t used = rest->len - cur_left(&c);
    rest->p += used;
    rest->len -= (uint32_t)used;
    return 1;
}

/* certificates<0..2^16-1> of GenericCertificate {CertificateType type; opaque cert<0..2^16-1>} */
static void get_security(struct cur *c, struct wire_security *s)
{
    s->certificates = get_opaque(c, 2);
    struct cur v = cur_of(s->certificates);
    while (cur_more(&v)) {
        get_u8(&v);
        get_opaque(&v, 2);
    }
    cur_close(c, &v);
    get_signature(c, &s->sig);
}

/* ---- Whole messages, §6.3 ----------------------------------------------------------------- */

int wire_decode_message(const uint8_t *buf, size_t len, struct wire_message *m)
{
    int rc = wire_decode_header(buf, len, &m->h, &m->header_len);
    if (rc)
        return rc;
    return wire_decode_contents(buf, len, m->header_len, m);
}

int wire_decode_contents(const uint8_t *buf, size_t len, size_t header_len, struct wire_message *m)
{
    if (header_len > len)
        return WIRE_E_TRUNCATED;
    m->header_len = header_len;
    struct cur c = cur_make(buf + header_len, len - header_len);
    m->code = get_u16(&c);
    m->body = get_opaque(&c, 4);
    m->extensions = get_opaque(&c, 4);
    struct cur e = cur_of(m->extensions);
    while (cur_more(&e)) { /* MessageExtension: type, critical, contents<0..2^32-1> */
        get_u16(&e);
        get_bool(&e);
        get_opaque(&e, 4);
    }
    cur_close(&c, &e);
    get_security(&c, &m->sec);
    return cur_finish(&c);
}

void wire_encode_contents(GByteArray *out, uint16_t code, const struct wire_bytes *body,
                          const struct wire_bytes *extensions)
{
    put_u16(out, code);
    put_wbytes(out, 4, *body);
    put_wbytes(out, 4, extensions ? *extensions : (struct wire_bytes){NULL, 0});
}

void wire_message_input(GByteArray *out, uint32_t overlay, uint64_t txid, const uint8_t *contents,
                        size_t len)
{
    put_u32(out, overlay);
    put_u64(out, txid);
    put_bytes(out, contents, len);
}

struct wire_bytes wire_message_contents(const uint8_t *buf, const struct wire_message *m)
{
    /* message_code (2), message_body<0..2^32-1>, message_extensions<0..2^32-1> */
    uint32_t len = 2 + 4 + m->body.len + 4 + m->extensions.len;
    return (struct wire_bytes){buf + m->header_len, len};
}

void wire_stored_data_input(GByteArray *out, const uint8_t *resource, size_t resource_len,
                            uint32_t kind, const struct wire_stored_data *d)
{
    put_bytes(out, resource, resource_len);
    put_u32(out, kind);
    put_u64(out, d->storage_time);
    wire_encode_stored_data_value(out, d);
}

void wire_encode_message(GByteArray *out, const struct wire_header *h, uint16_t code,
                         const struct wire_bytes *body, const struct wire_bytes *extensions,
                         const struct wire_security *sec)
{
    size_t start = put_header(out, h);
    wire_encode_contents(out, code, body, extensions);
    struct wire_security none;
    if (!sec) {
        wire_security_none(&none);
        sec = &none;
    }
    put_wbytes(out, 2, sec->certificates);
    put_signature(out, &sec->sig);
    patch_length(out, start);
}

/* ---- FramedMessage, §6.6.2 ---------------------------------------------------------------- */

void wire_frame_data(GByteArray *out, uint32_t sequence, const uint8_t *msg, size_t len)
{
    put_u8(out, WIRE_FRAME_DATA);
    put_u32(out, sequence);
    put_opaque(out, 3, msg, len);
}

void wire_frame_ack(GByteArray *out, uint32_t ack_sequence, uint32_t received)
{
    put_u8(out, WIRE_FRAME_ACK);
    put_u32(out, ack_sequence);
    put_u32(out, received);
}

int wire_decode_frame(const uint8_t *buf, size_t len, struct wire_frame *f)
{
    struct cur c = cur_make(buf, len);
    *f = (struct wire_frame){.type = get_u8(&c)};
    switch (f->type) {
    case WIRE_FRAME_DATA:
        f->sequence = get_u32(&c);
        f->message = get_opaque(&c, 3);
        break;
    case WIRE_FRAME_ACK:
        f->sequence = get_u32(&c);
        f->received = get_u32(&c);
        break;
    default:
        cur_fail(&c, WIRE_E_UNSUPPORTED);
        break;
    }
    return cur_finish(&c);
}

/* ---- Topology bodies, §6.4.2 and §10.7–10.8 ----------------------------------------------- */

void wire_encode_join_req(GByteArray *out, const struct wire_join_req *b)
{
    put_id(out, &b->joining);
    put_wbytes(out, 2, b->overlay_data);
}

int wire_decode_join_req(const uint8_t *p, size_t len, struct wire_join_req *b)
{
    struct cur c = cur_make(p, len);
    b->joining = get_id(&c);
    b->overlay_data = get_opaque(&c, 2);
    return cur_finish(&c);
}

void wire_encode_join_ans(GByteArray *out, const struct wire_join_ans *b)
{
    put_wbytes(out, 2, b->overlay_data);
}

int wire_decode_join_ans(const uint8_t *p, size_t len, struct wire_join_ans *b)
{
    struct cur c = cur_make(p, len);
    b->overlay_data = get_opaque(&c, 2);
    return cur_finish(&c);
}

void wire_encode_leave_req(GByteArray *out, const struct wire_leave_req *b)
{
    put_id(out, &b->leaving);
    put_wbytes(out, 2, b->overlay_data);
}

int wire_decode_leave_req(const uint8_t *p, size_t len, struct wire_leave_req *b)
{
    struct cur c = cur_make(p, len);
    b->leaving = get_id(&c);
    b->overlay_data = get_opaque(&c, 2);
    return cur_finish(&c);
}

void wire_encode_route_query_req(GByteArray *out, const struct wire_route_query_req *b)
{
    put_u8(out, b->send_update);
    put_dest(out, &b->destination);
    put_wbytes(out, 2, b->overlay_data);
}

int wire_decode_route_query_req(const uint8_t *p, size_t len, struct wire_route_query_req *b)
{
    struct cur c = cur_make(p, len);
    b->send_update = get_bool(&c);
    get_dest(&c, &b->destination);
    b->overlay_data = get_opaque(&c, 2);
    return cur_finish(&c);
}

void wire_encode_chord_route_query_ans(GByteArray *out, const struct wire_chord_route_query_ans *b)
{
    put_id(out, &b->next_peer);
}

int wire_decode_chord_route_query_ans(const uint8_t *p, size_t len,
                                      struct wire_chord_route_query_ans *b)
{
    struct cur c = cur_make(p, len);
    b->next_peer = get_id(&c);
    return cur_finish(&c);
}

void wire_encode_probe_req(GByteArray *out, const struct wire_probe_req *b)
{
    put_opaque(out, 1, b->requested, b->n);
}

int wire_decode_probe_req(const uint8_t *p, size_t len, struct wire_probe_req *b)
{
    struct cur c = cur_make(p, len);
    struct wire_bytes r = get_opaque(&c, 1);
    b->n = (uint8_t)r.len;
    for (uint32_t i = 0; i < r.len; i++) {
        if (r.p[i] == 0) /* invalidProbeInformationType */
            cur_fail(&c, WIRE_E_INVALID);
        b->requested[i] = r.p[i];
    }
    return cur_finish(&c);
}

/* ProbeInformation: type, length<u8>, and a uint32 for each type RFC 6940 defines. */
void wire_encode_probe_ans(GByteArray *out, const struct wire_probe_ans *b)
{
    g_assert(b->n <= WIRE_MAX_PROBE);
    size_t at = vec_begin(out, 2);
    for (unsigned i = 0; i < b->n; i++) {
        put_u8(out, b->info[i].type);
        put_u8(out, 4);
        put_u32(out, b->info[i].value);
    }
    vec_end(out, at, 2);
}

int wire_decode_probe_ans(const uint8_t *p, size_t len, struct wire_probe_ans *b)
{
    struct cur c = cur_make(p, len);
    struct cur v = cur_of(get_opaque(&c, 2));
    b->n = 0;
    while (cur_more(&v)) {
        if (b->n == WIRE_MAX_PROBE) {
            cur_fail(&v, WIRE_E_TOO_MANY);
            break;
        }
        uint8_t type = get_u8(&v);
        struct cur d = cur_of(get_opaque(&v, 1));
        if (type == 0)
            cur_fail(&d, WIRE_E_INVALID);
        else if (cur_left(&d) != 4) /* every known type is a uint32; others are not kept */
            cur_fail(&d, type <= WIRE_PROBE_UPTIME ? WIRE_E_INVALID : WIRE_E_UNSUPPORTED);
        b->info[b->n].type = type;
        b->info[b->n].value = get_u32(&d);
        b->n++;
        cur_close(&v, &d);
    }
    cur_close(&c, &v);
    return cur_finish(&c);
}

static uint16_t get_id_list(struct cur *c, struct id *out, unsigned max)
{
    struct cur v = cur_of(get_opaque(c, 2));
    size_t n = cur_left(&v) / ID_BYTES;
    if (cur_left(&v) % ID_BYTES)
        cur_fail(&v, WIRE_E_INVALID);
    else if (n > max)
        cur_fail(&v, WIRE_E_TOO_MANY);
    for (size_t i = 0; i < n && !v.err; i++)
        out[i] = get_id(&v);
    cur_close(c, &v);
    return c->err ? 0 : (uint16_t)n;
}

/* NodeId list<0..2^16-1> into a g_new array (NULL when empty). */
static struct id *get_id_vec(struct cur *c, uint16_t *n)
{
    struct cur v = cur_of(get_opaque(c, 2));
    struct id *ids = NULL;
    *n = 0;
    if (cur_left(&v) % ID_BYTES)
        cur_fail(&v, WIRE_E_INVALID);
    else if (cur_more(&v)) {
        *n = (uint16_t)(cur_left(&v) / ID_BYTES);
        ids = g_new(struct id, *n);
        for (unsigned i = 0; i < *n; i++)
            ids[i] = get_id(&v);
    }
    cur_close(c, &v);
    return ids;
}

static void put_id_list(GByteArray *o, const struct id *ids, size_t n)
{
    g_assert(n * ID_BYTES <= 0xffff);
    put_u16(o, (uint16_t)(n * ID_BYTES));
    for (size_t i = 0; i < n; i++)
        put_id(o, &ids[i]);
}

void wire_encode_chord_update(GByteArray *out, const struct wire_chord_update *b)
{
    put_u32(out, b->uptime);
    put_u8(out, b->type);
    switch (b->type) {
    case WIRE_CHORD_PEER_READY:
        break;
    case WIRE_CHORD_NEIGHBORS:
    case WIRE_CHORD_FULL:
        g_assert(b->n_pred <= WIRE_MAX_UPDATE_IDS && b->n_succ <= WIRE_MAX_UPDATE_IDS);
        put_id_list(out, b->pred, b->n_pred);
        put_id_list(out, b->succ, b->n_succ);
        if (b->type == WIRE_CHORD_FULL) {
            g_assert(b->n_fingers <= WIRE_MAX_UPDATE_IDS);
            put_id_list(out, b->fingers, b->n_fingers);
        }
        break;
    default:
        g_assert_not_reached();
    }
}

int wire_decode_chord_update(const uint8_t *p, size_t len, struct wire_chord_update *b)
{
    struct cur c = cur_make(p, len);
    b->uptime = get_u32(&c);
    b->type = get_u8(&c);
    b->n_pred = b->n_succ = b->n_fingers = 0;
    switch (b->type) {
    case WIRE_CHORD_PEER_READY:
        break;
    case WIRE_CHORD_FULL:
    case WIRE_CHORD_NEIGHBORS:
        b->n_pred = get_id_list(&c, b->pred, WIRE_MAX_UPDATE_IDS);
        b->n_succ = get_id_list(&c, b->succ, WIRE_MAX_UPDATE_IDS);
        if (b->type == WIRE_CHORD_FULL)
            b->n_fingers = get_id_list(&c, b->fingers, WIRE_MAX_UPDATE_IDS);
        break;
    case 0:
        cur_fail(&c, WIRE_E_INVALID);
        break;
    default:
        cur_fail(&c, WIRE_E_UNSUPPORTED);
        break;
    }
    return cur_finish(&c);
}

/* ---- Link management bodies, §6.5 --------------------------------------------------------- */

enum { ADDR_IPV4 = 1, ADDR_IPV6 = 2 };

/* IpAddressPort, §6.3.1.1: type, length of the rest, address and port. */
static void get_addr_port(struct cur *c, struct env_addr *a, bool *is_v6, uint8_t a6[16])
{
    uint8_t type = get_u8(c);
    struct cur v = cur_of(get_opaque(c, 1));
    const uint8_t *q;
    *is_v6 = false;
    memset(a6, 0, 16);
    switch (type) {
    case ADDR_IPV4:
        a->ip = get_u32(&v);
        a->port = get_u16(&v);
        break;
    case ADDR_IPV6:
        *is_v6 = true;
        a->ip = 0;
        if ((q = take(&v, 16)))
            memcpy(a6, q, 16);
        a->port = get_u16(&v);
        break;
    case 0:
        cur_fail(&v, WIRE_E_INVALID);
        break;
    default: /* unknown select arms are parse errors (§6.3.1.1) */
        cur_fail(&v, WIRE_E_UNSUPPORTED);
        break;
    }
    cur_close(c, &v);
}

static void put_addr_port(GByteArray *o, const struct env_addr *a, bool is_v6, const uint8_t a6[16])
{
    if (is_v6) {
        put_u8(o, ADDR_IPV6);
        put_u8(o, 18);
        put_bytes(o, a6, 16);
    } else {
        put_u8(o, ADDR_IPV4);
        put_u8(o, 6);
        put_u32(o, a->ip);
    }
    put_u16(o, a->port);
}

/* IceCandidate, §6.5.1.1. */
static void get_candidate(struct cur *c, struct wire_candidate *k)
{
    memset(k, 0, sizeof *k);
    get_addr_port(c, &k->addr, &k->is_v6, k->addr6);
    k->overlay_link = get_u8(c);
    k->foundation = get_opaque(c, 1);
    k->priority = get_u32(c);
    k->type = get_u8(c);
    switch (k->type) {
    case WIRE_CAND_HOST:
        break;
    case WIRE_CAND_SRFLX:
    case WIRE_CAND_RELAY:
        get_addr_port(c, &k->rel_addr, &k->rel_is_v6, k->rel_addr6);
        break;
    case 0:
        cur_fail(c, WIRE_E_INVALID);
        break;
    default:
        cur_fail(c, WIRE_E_UNSUPPORTED);
        break;
    }
    k->extensions = get_opaque(c, 2);
    struct cur e = cur_of(k->extensions);
    while (cur_more(&e)) { /* IceExtension: name<0..2^16-1>, value<0..2^16-1> */
        get_opaque(&e, 2);
        get_opaque(&e, 2);
    }
    cur_close(c, &e);
}

static void put_candidate(GByteArray *o, const struct wire_candidate *k)
{
    put_addr_port(o, &k->addr, k->is_v6, k->addr6);
    put_u8(o, k->overlay_link);
    put_wbytes(o, 1, k->foundation);
    put_u32(o, k->priority);
    put_u8(o, k->type);
    if (k->type == WIRE_CAND_SRFLX || k->type == WIRE_CAND_RELAY)
        put_addr_port(o, &k->rel_addr, k->rel_is_v6, k->rel_addr6);
    else
        g_assert(k->type == WIRE_CAND_HOST);
    put_wbytes(o, 2, k->extensions);
}

static uint16_t get_candidates(struct cur *c, struct wire_candidate *out)
{
    struct cur v = cur_of(get_opaque(c, 2));
    uint16_t n = 0;
    while (cur_more(&v)) {
        if (n == WIRE_MAX_CANDIDATES) {
            cur_fail(&v, WIRE_E_TOO_MANY);
            break;
        }
        get_candidate(&v, &out[n++]);
    }
    cur_close(c, &v);
    return n;
}

static void put_candidates(GByteArray *o, const struct wire_candidate *k, unsigned n)
{
    g_assert(n <= WIRE_MAX_CANDIDATES);
    size_t at = vec_begin(o, 2);
    for (unsigned i = 0; i < n; i++)
        put_candidate(o, &k[i]);
    vec_end(o, at, 2);
}

void wire_encode_attach(GByteArray *out, const struct wire_attach *b)
{
    put_wbytes(out, 1, b->ufrag);
    put_wbytes(out, 1, b->password);
    put_wbytes(out, 1, b->role);
    put_candidates(out, b->candidates, b->n_candidates);
    put_u8(out, b->send_update);
}

int wire_decode_attach(const uint8_t *p, size_t len, struct wire_attach *b)
{
    struct cur c = cur_make(p, len);
    b->ufrag = get_opaque(&c, 1);
    b->password = get_opaque(&c, 1);
    b->role = get_opaque(&c, 1);
    b->n_candidates = get_candidates(&c, b->candidates);
    b->send_update = get_bool(&c);
    return cur_finish(&c);
}

void wire_encode_app_attach(GByteArray *out, const struct wire_app_attach *b)
{
    put_wbytes(out, 1, b->ufrag);
    put_wbytes(out, 1, b->password);
    put_u16(out, b->application);
    put_wbytes(out, 1, b->role);
    put_candidates(out, b->candidates, b->n_candidates);
}

int wire_decode_app_attach(const uint8_t *p, size_t len, struct wire_app_attach *b)
{
    struct cur c = cur_make(p, len);
    b->ufrag = get_opaque(&c, 1);
    b->password = get_opaque(&c, 1);
    b->application = get_u16(&c);
    b->role = get_opaque(&c, 1);
    b->n_candidates = get_candidates(&c, b->candidates);
    return cur_finish(&c);
}

void wire_encode_ping_req(GByteArray *out, const struct wire_ping_req *b)
{
    put_wbytes(out, 2, b->padding);
}

int wire_decode_ping_req(const uint8_t *p, size_t len, struct wire_ping_req *b)
{
    struct cur c = cur_make(p, len);
    b->padding = get_opaque(&c, 2);
    return cur_finish(&c);
}

void wire_encode_ping_ans(GByteArray *out, const struct wire_ping_ans *b)
{
    put_u64(out, b->response_id);
    put_u64(out, b->time);
}

int wire_decode_ping_ans(const uint8_t *p, size_t len, struct wire_ping_ans *b)
{
    struct cur c = cur_make(p, len);
    b->response_id = get_u64(&c);
    b->time = get_u64(&c);
    return cur_finish(&c);
}

/* ErrorResponse, §6.3.3.1. */
void wire_encode_error(GByteArray *out, const struct wire_error *b)
{
    put_u16(out, b->code);
    put_wbytes(out, 2, b->info);
}

int wire_decode_error(const uint8_t *p, size_t len, struct wire_error *b)
{
    struct cur c = cur_make(p, len);
    b->code = get_u16(&c);
    b->info = get_opaque(&c, 2);
    return cur_finish(&c);
}

/* ConfigUpdateReq, §6.5.4.1: type, a 32-bit length of the rest, then config_data<0..2^24-1>
 * or kinds<0..2^24-1> (a sequence of KindDescription<0..2^16-1>). */
void wire_encode_config_update_req(GByteArray *out, const struct wire_config_update_req *b)
{
    put_u8(out, b->type);
    size_t at = vec_begin(out, 4);
    if (b->type == WIRE_CONFIG_UPDATE_CONFIG || b->type == WIRE_CONFIG_UPDATE_KIND)
        put_wbytes(out, 3, b->data);
    else
        put_bytes(out, b->data.p, b->data.len);
    vec_end(out, at, 4);
}

int wire_decode_config_update_req(const uint8_t *p, size_t len, struct wire_config_update_req *b)
{
    struct cur c = cur_make(p, len);
    b->type = get_u8(&c);
    struct cur rest = cur_of(get_opaque(&c, 4));
    if (b->type == WIRE_CONFIG_UPDATE_CONFIG || b->type == WIRE_CONFIG_UPDATE_KIND) {
        b->data = get_opaque(&rest, 3);
        if (b->type == WIRE_CONFIG_UPDATE_KIND) { /* KindDescription<0..2^16-1> each */
            struct cur kinds = cur_of(b->data);
            while (cur_more(&kinds))
                get_opaque(&kinds, 2);
            cur_close(&rest, &kinds);
        }
    } else {
        b->data = get_fixed(&rest, cur_left(&rest));
    }
    cur_close(&c, &rest);
    if (b->type == 0)
        cur_fail(&c, WIRE_E_INVALID); /* invalidConfigUpdateType */
    return cur_finish(&c);
}

/* ---- Storage bodies, §7 ------------------------------------------------------------------- */

/* The data model of a kind, or 0 (and the cursor fails with WIRE_E_UNKNOWN_KIND). */
static uint8_t kind_model(struct cur *c, uint32_t kind, wire_model_fn model, void *ud)
{
    int m = c->err ? 0 : model(kind, ud);
    if (m < WIRE_MODEL_SINGLE || m > WIRE_MODEL_DICTIONARY) {
        cur_fail(c, WIRE_E_UNKNOWN_KIND);
        return 0;
    }
    return (uint8_t)m;
}

/* The model-specific head of a StoredDataValue or MetaDataValue: index, key or nothing. */
static void get_entry_head(struct cur *c, uint8_t model, uint32_t *index, struct wire_bytes *key)
{
    if (model == WIRE_MODEL_ARRAY)
        *index = get_u32(c);
    else if (model == WIRE_MODEL_DICTIONARY)
        *key = get_opaque(c, 2);
}

static void put_entry_head(GByteArray *o, uint8_t model, uint32_t index, struct wire_bytes key)
{
    g_assert(model >= WIRE_MODEL_SINGLE && model <= WIRE_MODEL_DICTIONARY);
    if (model == WIRE_MODEL_ARRAY)
        put_u32(o, index);
    else if (model == WIRE_MODEL_DICTIONARY)
        put_wbytes(o, 2, key);
}

/* StoredData, §7: length, storage_time, lifetime, StoredDataValue (§7.2), Signature. */
static void get_stored_data(struct cur *c, uint8_t model, struct wire_stored_data *d)
{
    struct cur v = cur_of(get_opaque(c, 4));
    d->storage_time = get_u64(&v);
    d->lifetime = get_u32(&v);
    d->model = model;
    get_entry_head(&v, model, &d->index, &d->key);
    d->exists = get_bool(&v);
    d->value = get_opaque(&v, 4);
    get_signature(&v, &d->sig);
    cur_close(c, &v);
}

static void put_stored_data(GByteArray *o, const struct wire_stored_data *d)
{
    size_t at = vec_begin(o, 4);
    put_u64(o, d->storage_time);
    put_u32(o, d->lifetime);
    put_entry_head(o, d->model, d->index, d->key);
    put_u8(o, d->exists);
    put_wbytes(o, 4, d->value);
    put_signature(o, &d->sig);
    vec_end(o, at, 4);
}

void wire_encode_stored_data_value(GByteArray *out, const struct wire_stored_data *d)
{
    put_entry_head(out, d->model, d->index, d->key);
    put_u8(out, d->exists);
    put_wbytes(out, 4, d->value);
}

/* Grows a GArray by one zeroed element and returns it. */
static void *array_push(GArray *a)
{
    g_array_set_size(a, a->len + 1);
    return a->data + (size_t)(a->len - 1) * g_array_get_element_size(a);
}

static void *array_steal(GArray *a, uint32_t *n)
{
    *n = a->len;
    return g_array_free(a, FALSE);
}

/* StoredData values<0..2^32-1>. */
static struct wire_stored_data *get_stored_list(struct cur *c, uint8_t model, uint32_t *n)
{
    struct cur v = cur_of(get_opaque(c, 4));
    GArray *a = g_array_new(FALSE, TRUE, sizeof(struct wire_stored_data));
    while (cur_more(&v))
        get_stored_data(&v, model, array_push(a));
    cur_close(c, &v);
    return array_steal(a, n);
}

static void put_stored_list(GByteArray *o, const struct wire_stored_data *d, uint32_t n)
{
    size_t at = vec_begin(o, 4);
    for (uint32_t i = 0; i < n; i++)
        put_stored_data(o, &d[i]);
    vec_end(o, at, 4);
}

/* StoreReq, §7.4.1.1. */
void wire_encode_store_req(GByteArray *out, const struct wire_store_req *b)
{
    put_wbytes(out, 1, b->resource);
    put_u8(out, b->replica_number);
    size_t at = vec_begin(out, 4);
    for (uint32_t i = 0; i < b->n_kinds; i++) {
        const struct wire_store_kind *k = &b->kinds[i];
        put_u32(out, k->kind);
        put_u64(out, k->generation);
        put_stored_list(out, k->values, k->n_values);
    }
    vec_end(out, at, 4);
}

int wire_decode_store_req(const uint8_t *p, size_t len, struct wire_store_req *b,
                          wire_model_fn model, void *ud)
{
    struct cur c = cur_make(p, len);
    memset(b, 0, sizeof *b);
    b->resource = get_opaque(&c, 1);
    b->replica_number = get_u8(&c);
    struct cur v = cur_of(get_opaque(&c, 4));
    GArray *a = g_array_new(FALSE, TRUE, sizeof(struct wire_store_kind));
    while (cur_more(&v)) {
        struct wire_store_kind *k = array_push(a);
        k->kind = get_u32(&v);
        k->generation = get_u64(&v);
        uint8_t m = kind_model(&v, k->kind, model, ud);
        k->values = get_stored_list(&v, m, &k->n_values);
    }
    cur_close(&c, &v);
    b->kinds = array_steal(a, &b->n_kinds);
    int rc = cur_finish(&c);
    if (rc)
        wire_store_req_clear(b);
    return rc;
}

void wire_store_req_clear(struct wire_store_req *b)
{
    for (uint32_t i = 0; i < b->n_kinds; i++)
        g_free(b->kinds[i].values);
    g_free(b->kinds);
    memset(b, 0, sizeof *b);
}

/* StoreAns, §7.4.1.2. */
void wire_encode_store_ans(GByteArray *out, const struct wire_store_ans *b)
{
    size_t at = vec_begin(out, 2);
    for (unsigned i = 0; i < b->n_kinds; i++) {
        const struct wire_store_kind_ans *k = &b->kinds[i];
        put_u32(out, k->kind);
        put_u64(out, k->generation);
        put_id_list(out, k->replicas, k->n_replicas);
    }
    vec_end(out, at, 2);
}

int wire_decode_store_ans(const uint8_t *p, size_t len, struct wire_store_ans *b)
{
    struct cur c = cur_make(p, len);
    memset(b, 0, sizeof *b);
    struct cur v = cur_of(get_opaque(&c, 2));
    GArray *a = g_array_new(FALSE, TRUE, sizeof(struct wire_store_kind_ans));
    while (cur_more(&v)) {
        struct wire_store_kind_ans *k = array_push(a);
        k->kind = get_u32(&v);
        k->generation = get_u64(&v);
        k->replicas = get_id_vec(&v, &k->n_replicas);
    }
    cur_close(&c, &v);
    uint32_t n;
    b->kinds = array_steal(a, &n);
    b->n_kinds = (uint16_t)n; /* each entry takes >= 14 of at most 65535 bytes */
    int rc = cur_finish(&c);
    if (rc)
        wire_store_ans_clear(b);
    return rc;
}

void wire_store_ans_clear(struct wire_store_ans *b)
{
    for (unsigned i = 0; i < b->n_kinds; i++)
        g_free(b->kinds[i].replicas);
    g_free(b->kinds);
    memset(b, 0, sizeof *b);
}

/* StoredDataSpecifier, §7.4.2.1: kind, generation, length<u16> of the model_specifier. */
static void put_specifier(GByteArray *o, const struct wire_specifier *s)
{
    put_u32(o, s->kind);
    put_u64(o, s->generation);
    size_t at = vec_begin(o, 2);
    size_t list;
    switch (s->model) {
    case WIRE_MODEL_SINGLE:
        break;
    case WIRE_MODEL_ARRAY:
        list = vec_begin(o, 2);
        for (unsigned i = 0; i < s->n_ranges; i++) {
            put_u32(o, (uint32_t)s->ranges[i].first);
            put_u32(o, (uint32_t)s->ranges[i].last);
        }
        vec_end(o, list, 2);
        break;
    case WIRE_MODEL_DICTIONARY:
        list = vec_begin(o, 2);
        for (unsigned i = 0; i < s->n_keys; i++)
            put_wbytes(o, 2, s->keys[i]);
        vec_end(o, list, 2);
        break;
    default:
        g_assert_not_reached();
    }
    vec_end(o, at, 2);
}

static void get_specifier(struct cur *c, struct wire_specifier *s, wire_model_fn model, void *ud)
{
    s->kind = get_u32(c);
    s->generation = get_u64(c);
    s->model = kind_model(c, s->kind, model, ud);
    struct cur v = cur_of(get_opaque(c, 2));
    struct cur l = cur_make(NULL, 0);
    uint32_t n = 0;
    if (s->model == WIRE_MODEL_ARRAY) {
        l = cur_of(get_opaque(&v, 2));
        GArray *a = g_array_new(FALSE, TRUE, sizeof(struct wire_array_range));
        while (cur_more(&l)) {
            struct wire_array_range *r = array_push(a);
            r->first = (int32_t)get_u32(&l);
            r->last = (int32_t)get_u32(&l);
        }
        s->ranges = array_steal(a, &n);
        s->n_ranges = (uint16_t)n;
    } else if (s->model == WIRE_MODEL_DICTIONARY) {
        l = cur_of(get_opaque(&v, 2));
        GArray *a = g_array_new(FALSE, TRUE, sizeof(struct wire_bytes));
        while (cur_more(&l))
            *(struct wire_bytes *)array_push(a) = get_opaque(&l, 2);
        s->keys = array_steal(a, &n);
        s->n_keys = (uint16_t)n;
    }
    cur_close(&v, &l);
    cur_close(c, &v);
}

/* FetchReq (§7.4.2.1) and StatReq (§7.4.3.1). */
void wire_encode_fetch_req(GByteArray *out, const struct wire_fetch_req *b)
{
    put_wbytes(out, 1, b->resource);
    size_t at = vec_begin(out, 2);
    for (unsigned i = 0; i < b->n_specifiers; i++)
        put_specifier(out, &b->specifiers[i]);
    vec_end(out, at, 2);
}

int wire_decode_fetch_req(const uint8_t *p, size_t len, struct wire_fetch_req *b,
                          wire_model_fn model, void *ud)
{
    struct cur c = cur_make(p, len);
    memset(b, 0, sizeof *b);
    b->resource = get_opaque(&c, 1);
    struct cur v = cur_of(get_opaque(&c, 2));
    GArray *a = g_array_new(FALSE, TRUE, sizeof(struct wire_specifier));
    while (cur_more(&v))
        get_specifier(&v, array_push(a), model, ud);
    cur_close(&c, &v);
    uint32_t n;
    b->specifiers = array_steal(a, &n);
    b->n_specifiers = (uint16_t)n;
    int rc = cur_finish(&c);
    if (rc)
        wire_fetch_req_clear(b);
    return rc;
}

void wire_fetch_req_clear(struct wire_fetch_req *b)
{
    for (unsigned i = 0; i < b->n_specifiers; i++) {
        g_free(b->specifiers[i].ranges);
        g_free(b->specifiers[i].keys);
    }
    g_free(b->specifiers);
    memset(b, 0, sizeof *b);
}

/* FetchAns, §7.4.2.2. */
void wire_encode_fetch_ans(GByteArray *out, const struct wire_fetch_ans *b)
{
    size_t at = vec_begin(out, 4);
    for (uint32_t i = 0; i < b->n_kinds; i++) {
        const struct wire_fetch_kind *k = &b->kinds[i];
        put_u32(out, k->kind);
        put_u64(out, k->generation);
        put_stored_list(out, k->values, k->n_values);
    }
    vec_end(out, at, 4);
}

int wire_decode_fetch_ans(const uint8_t *p, size_t len, struct wire_fetch_ans *b,
                          wire_model_fn model, void *ud)
{
    struct cur c = cur_make(p, len);
    memset(b, 0, sizeof *b);
    struct cur v = cur_of(get_opaque(&c, 4));
    GArray *a = g_array_new(FALSE, TRUE, sizeof(struct wire_fetch_kind));
    while (cur_more(&v)) {
        struct wire_fetch_kind *k = array_push(a);
        k->kind = get_u32(&v);
        k->generation = get_u64(&v);
        uint8_t m = kind_model(&v, k->kind, model, ud);
        k->values = get_stored_list(&v, m, &k->n_values);
    }
    cur_close(&c, &v);
    b->kinds = array_steal(a, &b->n_kinds);
    int rc = cur_finish(&c);
    if (rc)
        wire_fetch_ans_clear(b);
    return rc;
}

void wire_fetch_ans_clear(struct wire_fetch_ans *b)
{
    for (uint32_t i = 0; i < b->n_kinds; i++)
        g_free(b->kinds[i].values);
    g_free(b->kinds);
    memset(b, 0, sizeof *b);
}

/* StoredMetaData, §7.4.3.2: value_length (the rest of the structure, as StoredData's
 * length), storage_time, lifetime, MetaDataValue {head; MetaData}. */
static void get_stored_meta(struct cur *c, uint8_t model, struct wire_stored_meta *m)
{
    struct wire_bytes all = get_opaque(c, 4);
    struct cur v = cur_of(all);
    m->value_length = all.len;
    m->storage_time = get_u64(&v);
    m->lifetime = get_u32(&v);
    m->model = model;
    get_entry_head(&v, model, &m->index, &m->key);
    m->exists = get_bool(&v); /* MetaData */
    m->meta_value_length = get_u32(&v);
    m->hash_alg = get_u8(&v);
    m->hash_value = get_opaque(&v, 1);
    cur_close(c, &v);
}

static void put_stored_meta(GByteArray *o, const struct wire_stored_meta *m)
{
    size_t at = vec_begin(o, 4);
    put_u64(o, m->storage_time);
    put_u32(o, m->lifetime);
    put_entry_head(o, m->model, m->index, m->key);
    put_u8(o, m->exists);
    put_u32(o, m->meta_value_length);
    put_u8(o, m->hash_alg);
    put_wbytes(o, 1, m->hash_value);
    vec_end(o, at, 4);
}

void wire_encode_stat_ans(GByteArray *out, const struct wire_stat_ans *b)
{
    size_t at = vec_begin(out, 4);
    for (uint32_t i = 0; i < b->n_kinds; i++) {
        const struct wire_stat_kind *k = &b->kinds[i];
        put_u32(out, k->kind);
        put_u64(out, k->generation);
        size_t vals = vec_begin(out, 4);
        for (uint32_t j = 0; j < k->n_values; j++)
            put_stored_meta(out, &k->values[j]);
        vec_end(out, vals, 4);
    }
    vec_end(out, at, 4);
}

int wire_decode_stat_ans(const uint8_t *p, size_t len, struct wire_stat_ans *b, wire_model_fn model,
                         void *ud)
{
    struct cur c = cur_make(p, len);
    memset(b, 0, sizeof *b);
    struct cur v = cur_of(get_opaque(&c, 4));
    GArray *a = g_array_new(FALSE, TRUE, sizeof(struct wire_stat_kind));
    while (cur_more(&v)) {
        struct wire_stat_kind *k = array_push(a);
        k->kind = get_u32(&v);
        k->generation = get_u64(&v);
        uint8_t m = kind_model(&v, k->kind, model, ud);
        struct cur l = cur_of(get_opaque(&v, 4));
        GArray *vals = g_array_new(FALSE, TRUE, sizeof(struct wire_stored_meta));
        while (cur_more(&l))
            get_stored_meta(&l, m, array_push(vals));
        cur_close(&v, &l);
        k->values = array_steal(vals, &k->n_values);
    }
    cur_close(&c, &v);
    b->kinds = array_steal(a, &b->n_kinds);
    int rc = cur_finish(&c);
    if (rc)
        wire_stat_ans_clear(b);
    return rc;
}

void wire_stat_ans_clear(struct wire_stat_ans *b)
{
    for (uint32_t i = 0; i < b->n_kinds; i++)
        g_free(b->kinds[i].values);
    g_free(b->kinds);
    memset(b, 0, sizeof *b);
}

/* FindReq, §7.4.4.1: resource, KindId kinds<0..2^8-1>. */
void wire_encode_find_req(GByteArray *out, const struct wire_find_req *b)
{
    g_assert(b->n_kinds <= G_N_ELEMENTS(b->kinds));
    put_wbytes(out, 1, b->resource);
    put_u8(out, (uint8_t)(4 * b->n_kinds));
    for (unsigned i = 0; i < b->n_kinds; i++)
        put_u32(out, b->kinds[i]);
}

int wire_decode_find_req(const uint8_t *p, size_t len, struct wire_find_req *b)
{
    struct cur c = cur_make(p, len);
    b->resource = get_opaque(&c, 1);
    struct cur v = cur_of(get_opaque(&c, 1));
    if (cur_left(&v) % 4)
        cur_fail(&v, WIRE_E_INVALID);
    b->n_kinds = (uint8_t)(cur_left(&v) / 4);
    for (unsigned i = 0; i < b->n_kinds; i++)
        b->kinds[i] = get_u32(&v);
    cur_close(&c, &v);
    return cur_finish(&c);
}

/* FindAns, §7.4.4.2: FindKindData {kind, closest ResourceId} results<0..2^16-1>. */
void wire_encode_find_ans(GByteArray *out, const struct wire_find_ans *b)
{
    g_assert(b->n_results <= G_N_ELEMENTS(b->results));
    size_t at = vec_begin(out, 2);
    for (unsigned i = 0; i < b->n_results; i++) {
        put_u32(out, b->results[i].kind);
        put_wbytes(out, 1, b->results[i].closest);
    }
    vec_end(out, at, 2);
}

int wire_decode_find_ans(const uint8_t *p, size_t len, struct wire_find_ans *b)
{
    struct cur c = cur_make(p, len);
    struct cur v = cur_of(get_opaque(&c, 2));
    b->n_results = 0;
    while (cur_more(&v)) {
        if (b->n_results == G_N_ELEMENTS(b->results)) {
            cur_fail(&v, WIRE_E_TOO_MANY);
            break;
        }
        b->results[b->n_results].kind = get_u32(&v);
        b->results[b->n_results].closest = get_opaque(&v, 1);
        b->n_results++;
    }
    cur_close(&c, &v);
    return cur_finish(&c);
}

/* ---- Names, §14.8 ------------------------------------------------------------------------- */

const char *wire_code_name(uint16_t code)
{
    static const char *const names[] = {
        [WIRE_PROBE_REQ] = "probe_req",
        [WIRE_PROBE_ANS] = "probe_ans",
        [WIRE_ATTACH_REQ] = "attach_req",
        [WIRE_ATTACH_ANS] = "attach_ans",
        [WIRE_STORE_REQ] = "store_req",
        [WIRE_STORE_ANS] = "store_ans",
        [WIRE_FETCH_REQ] = "fetch_req",
        [WIRE_FETCH_ANS] = "fetch_ans",
        [WIRE_FIND_REQ] = "find_req",
        [WIRE_FIND_ANS] = "find_ans",
        [WIRE_JOIN_REQ] = "join_req",
        [WIRE_JOIN_ANS] = "join_ans",
        [WIRE_LEAVE_REQ] = "leave_req",
        [WIRE_LEAVE_ANS] = "leave_ans",
        [WIRE_UPDATE_REQ] = "update_req",
        [WIRE_UPDATE_ANS] = "update_ans",
        [WIRE_ROUTE_QUERY_REQ] = "route_query_req",
        [WIRE_ROUTE_QUERY_ANS] = "route_query_ans",
        [WIRE_PING_REQ] = "ping_req",
        [WIRE_PING_ANS] = "ping_ans",
        [WIRE_STAT_REQ] = "stat_req",
        [WIRE_STAT_ANS] = "stat_ans",
        [WIRE_APP_ATTACH_REQ] = "app_attach_req",
        [WIRE_APP_ATTACH_ANS] = "app_attach_ans",
        [WIRE_CONFIG_UPDATE_REQ] = "config_update_req",
        [WIRE_CONFIG_UPDATE_ANS] = "config_update_ans",
        [WIRE_EXP_A_REQ] = "exp_a_req",
        [WIRE_EXP_A_ANS] = "exp_a_ans",
    };
    if (code == WIRE_ERROR)
        return "error";
    if (code < G_N_ELEMENTS(names) && names[code])
        return names[code];
    return "unknown";
}
