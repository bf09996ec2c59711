/* fuzz_wire.c — libFuzzer target for the RELOAD codec (core/wire.h: RFC 6940 §6.3 forwarding
 * header, MessageContents and SecurityBlock, §6.4.2, §6.5, §7.4 and §10.7 bodies, §6.6.2
 * FramedMessage) and for a whole CHORD-RELOAD peer receiving a datagram (node_receive).
 *
 * Input: the first byte selects.
 *   bit 7 set:   the rest is one message body, decoded by the body codec (byte & 0x7f) modulo
 *                the table below;
 *   bit 7 clear: the rest is a datagram (a FramedMessage): it is decoded down to its body by
 *                the body's code, then given to a peer built by fuzz_peer_receive() with the
 *                byte as its mode (fuzz_env.h).
 * Oracle besides the sanitizers: whatever decodes must survive a round trip — encoding the
 * decoded structure gives bytes that decode again, and encoding that gives the same bytes.
 * Decoders are zero-copy and never read past the buffer, so the input is copied to a buffer
 * of its exact size (libFuzzer's own is, too).
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/node.h"
#include "../core/wire.h"
#include "fuzz_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- one table of body codecs ------------------------------------------------------------ */

typedef int (*codec_decode)(const uint8_t *p, size_t len, void *b);
typedef void (*codec_encode)(GByteArray *out, const void *b);
typedef void (*codec_clear)(void *b);

struct codec {
    const char *name;
    uint16_t code, code2; /* the message codes whose body this is (0: none) */
    size_t size;
    codec_decode decode;
    codec_encode encode;
    codec_clear clear; /* NULL: nothing allocated */
};

/* Adapters from the typed codec functions to the table's signatures. */
#define PLAIN(T)                                                                                \
    static int dec_##T(const uint8_t *p, size_t len, void *b)                                   \
    {                                                                                           \
        return wire_decode_##T(p, len, b);                                                      \
    }                                                                                           \
    static void enc_##T(GByteArray *out, const void *b)                                         \
    {                                                                                           \
        wire_encode_##T(out, b);                                                                \
    }
#define MODEL(T)                                                                                \
    static int dec_##T(const uint8_t *p, size_t len, void *b)                                   \
    {                                                                                           \
        return wire_decode_##T(p, len, b, node_kind_model, NULL);                               \
    }                                                                                           \
    static void enc_##T(GByteArray *out, const void *b)                                         \
    {                                                                                           \
        wire_encode_##T(out, b);                                                                \
    }                                                                                           \
    static void clr_##T(void *b)                                                                \
    {                                                                                           \
        wire_##T##_clear(b);                                                                    \
    }
PLAIN(join_req)
PLAIN(join_ans)
PLAIN(leave_req)
PLAIN(route_query_req)
PLAIN(chord_route_query_ans)
PLAIN(probe_req)
PLAIN(probe_ans)
PLAIN(chord_update)
PLAIN(attach)
PLAIN(app_attach)
PLAIN(ping_req)
PLAIN(ping_ans)
PLAIN(error)
PLAIN(find_req)
PLAIN(find_ans)
MODEL(store_req)
MODEL(fetch_req)
MODEL(fetch_ans)
MODEL(stat_ans)

static int dec_store_ans(const uint8_t *p, size_t len, void *b)
{
    return wire_decode_store_ans(p, len, b);
}
static void enc_store_ans(GByteArray *out, const void *b)
{
    wire_encode_store_ans(out, b);
}
static void clr_store_ans(void *b)
{
    wire_store_ans_clear(b);
}

/* A bare destination list (RFC 7904's destination_list). */
struct dest_list {
    size_t n;
    struct wire_dest d[WIRE_MAX_LIST];
};
static int dec_dest_list(const uint8_t *p, size_t len, void *b)
{
    struct dest_list *l = b;
    return wire_decode_dest_list(p, len, l->d, WIRE_MAX_LIST, &l->n);
}
static void enc_dest_list(GByteArray *out, const void *b)
{
    const struct dest_list *l = b;
    wire_encode_dest_list(out, l->d, l->n);
}

#define C(T, c1, c2) {#T, c1, c2, sizeof(struct wire_##T), dec_##T, enc_##T, NULL}
#define A(T, c1, c2) {#T, c1, c2, sizeof(struct wire_##T), dec_##T, enc_##T, clr_##T}
static const struct codec codecs[] = {
    C(join_req, WIRE_JOIN_REQ, 0),
    C(join_ans, WIRE_JOIN_ANS, 0),
    C(leave_req, WIRE_LEAVE_REQ, 0),
    C(route_query_req, WIRE_ROUTE_QUERY_REQ, 0),
    C(chord_route_query_ans, WIRE_ROUTE_QUERY_ANS, 0),
    C(probe_req, WIRE_PROBE_REQ, 0),
    C(probe_ans, WIRE_PROBE_ANS, 0),
    C(chord_update, WIRE_UPDATE_REQ, 0),
    C(attach, WIRE_ATTACH_REQ, WIRE_ATTACH_ANS),
    C(app_attach, WIRE_APP_ATTACH_REQ, WIRE_APP_ATTACH_ANS),
    C(ping_req, WIRE_PING_REQ, 0),
    C(ping_ans, WIRE_PING_ANS, 0),
    C(error, WIRE_ERROR, 0),
    C(find_req, WIRE_FIND_REQ, 0),
    C(find_ans, WIRE_FIND_ANS, 0),
    A(store_req, WIRE_STORE_REQ, 0),
    A(store_ans, WIRE_STORE_ANS, 0),
    A(fetch_req, WIRE_FETCH_REQ, WIRE_STAT_REQ),
    A(fetch_ans, WIRE_FETCH_ANS, 0),
    A(stat_ans, WIRE_STAT_ANS, 0),
    {"dest_list", 0, 0, sizeof(struct dest_list), dec_dest_list, enc_dest_list, NULL},
};

static void fail(const char *what, const char *name)
{
    fprintf(stderr, "fuzz_wire: %s round trip failed: %s\n", name, what);
    abort();
}

static bool same(const GByteArray *a, const GByteArray *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Decodes [p, p+len) with c; when that succeeds, checks the round trip. */
static void body_round_trip(const struct codec *c, const uint8_t *p, size_t len)
{
    void *b1 = g_malloc0(c->size), *b2 = g_malloc0(c->size);
    if (c->decode(p, len, b1) == 0) {
        GByteArray *e1 = g_byte_array_new(), *e2 = g_byte_array_new();
        c->encode(e1, b1);
        if (c->decode(e1->data, e1->len, b2) != 0)
            fail("the encoding of a decoded body does not decode", c->name);
        c->encode(e2, b2);
        if (!same(e1, e2))
            fail("encoding is not stable", c->name);
        g_byte_array_free(e1, TRUE);
        g_byte_array_free(e2, TRUE);
    }
    if (c->clear) {
        c->clear(b1);
        c->clear(b2);
    }
    g_free(b1);
    g_free(b2);
}

static void message_encode(GByteArray *out, const struct wire_message *m)
{
    wire_encode_message(out, &m->h, m->code, &m->body, &m->extensions, &m->sec);
}

/* A datagram: FramedMessage, then the message, then its body by code. */
static void datagram(const uint8_t *p, size_t len)
{
    struct wire_frame f;
    if (wire_decode_frame(p, len, &f) != 0)
        return;
    GByteArray *e = g_byte_array_new();
    struct wire_frame f2;
    if (f.type == WIRE_FRAME_DATA)
        wire_frame_data(e, f.sequence, f.message.p, f.message.len);
    else
        wire_frame_ack(e, f.sequence, f.received);
    if (wire_decode_frame(e->data, e->len, &f2) != 0 || f2.type != f.type ||
        f2.sequence != f.sequence || (f.type == WIRE_FRAME_ACK && f2.received != f.received) ||
        f2.message.len != f.message.len)
        fail("frame", "FramedMessage");
    g_byte_array_free(e, TRUE);
    if (f.type != WIRE_FRAME_DATA)
        return;

    struct wire_message *m = g_new0(struct wire_message, 1), *m2 = g_new0(struct wire_message, 1);
    if (wire_decode_message(f.message.p, f.message.len, m) == 0) {
        GByteArray *e1 = g_byte_array_new(), *e2 = g_byte_array_new();
        message_encode(e1, m);
        if (wire_decode_message(e1->data, e1->len, m2) != 0)
            fail("the encoding of a decoded message does not decode", "message");
        message_encode(e2, m2);
        if (!same(e1, e2))
            fail("encoding is not stable", "message");
        /* The forwarding path: a new header in front of the same contents. */
        g_byte_array_set_size(e2, 0);
        wire_reencode_header(e2, &m2->h, e1->data, e1->len, m2->header_len);
        if (!same(e1, e2))
            fail("re-encoding the header changed the message", "message");
        g_byte_array_free(e1, TRUE);
        g_byte_array_free(e2, TRUE);
        for (size_t i = 0; i < G_N_ELEMENTS(codecs); i++)
            if (codecs[i].code && (codecs[i].code == m->code || codecs[i].code2 == m->code))
                body_round_trip(&codecs[i], m->body.p, m->body.len);
    }
    g_free(m);
    g_free(m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    if (sel & 0x80) {
        body_round_trip(&codecs[(sel & 0x7f) % G_N_ELEMENTS(codecs)], p, len);
        return 0;
    }
    datagram(p, len);
    fuzz_peer_receive(NODE_TOPOLOGY_CHORD, sel, p, len);
    return 0;
}
