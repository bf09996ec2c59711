/* appdata.c — AppData, a private RELOAD extension: an application's datagram carried through
 * the overlay to a Node-ID, for applications (SIP) whose own path to a peer behind a NAT does
 * not exist while the overlay's does (docs/sip.md, "Across NATs").  RFC 6940 defines no
 * generic data message; this uses the message codes §14.8 leaves for experimentation,
 * exp_a_req (0x23) and exp_a_ans (0x24), routed like any request (§6.1–6.2: symmetric
 * recursive routing, end-to-end retransmission) and answered along the reversed via list.
 *
 *   struct {
 *       NodeId   node;            -- the node meant (16 bytes)
 *       uint16   application;     -- IANA port number, as AppAttach's (§6.5.2; SIP 5060)
 *       uint32   sender_ip;       -- the sender's own address for the application (IPv4),
 *       uint16   sender_port;     --   0/0 when it does not listen for it
 *       opaque   data<0..2^16-1>;
 *   } AppDataReq;                 -- exp_a_req
 *   AppDataAns: empty             -- exp_a_ans
 *
 * Only the node named takes the data: a node that is merely responsible for that Node-ID now
 * (its owner left) answers Error_Not_Found, as one without a receiver for the application
 * does; a malformed body gets Error_Invalid_Message.  A node that does not implement the
 * extension answers it as any unknown method.
 */
#include <string.h>

#include "node_int.h"

#define APPDATA_FIXED ((size_t)ID_BYTES + 2 + 4 + 2 + 2)

static struct node_app *app_entry(struct node *n, uint16_t application)
{
    for (unsigned i = 0; i < n->n_apps; i++)
        if (n->apps[i].application == application)
            return &n->apps[i];
    return NULL;
}

void node_app_on_data(struct node *n, uint16_t application, node_app_data_cb cb, void *ud)
{
    struct node_app *a = app_entry(n, application);
    if (a) {
        a->data_cb = cb;
        a->data_ud = ud;
    }
}

static void put16(GByteArray *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    g_byte_array_append(b, x, 2);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void appdata_done(struct node *n, void *arg, int status, const struct wire_message *resp)
{
    (void)n;
    (void)arg;
    (void)status;
    (void)resp; /* the application keeps its own timers (SIP's transactions) */
}

int node_app_send(struct node *n, const struct id *to, uint16_t application, const uint8_t *data,
                  size_t len)
{
    if (len > 65535)
        return NODE_E_INVALID;
    if (!node_can_originate(n))
        return NODE_E_STATE;
    struct node_app *mine = app_entry(n, application);
    GByteArray *b = g_byte_array_sized_new((guint)(APPDATA_FIXED + len));
    uint8_t id[ID_BYTES];
    id_to_bytes(to, id);
    g_byte_array_append(b, id, ID_BYTES);
    put16(b, application);
    uint32_t ip = mine ? mine->addr.ip : 0;
    uint8_t ipb[4] = {(uint8_t)(ip >> 24), (uint8_t)(ip >> 16), (uint8_t)(ip >> 8), (uint8_t)ip};
    g_byte_array_append(b, ipb, 4);
    put16(b, mine ? mine->addr.port : 0);
    put16(b, (uint16_t)len);
    if (len)
        g_byte_array_append(b, data, (guint)len);
    struct node_dest d = {.type = WIRE_DEST_NODE, .id = *to};
    node_request(n, &d, 1, WIRE_EXP_A_REQ, b, NULL, appdata_done, NULL);
    g_byte_array_free(b, TRUE);
    return NODE_OK;
}

void appdata_on_request(struct node *n, const struct wire_message *m)
{
    const uint8_t *p = m->body.p;
    size_t len = m->body.len;
    if (len < APPDATA_FIXED || len != APPDATA_FIXED + (size_t)get16(p + APPDATA_FIXED - 2)) {
        node_respond_error(n, m, WIRE_ERR_INVALID_MESSAGE, "bad AppDataReq");
        return;
    }
    struct id meant, from;
    meant = id_from_bytes(p);
    struct node_app *a = app_entry(n, get16(p + ID_BYTES));
    if (!id_eq(&meant, node_id(n)) || !a || !a->data_cb || m->h.n_via == 0 ||
        wire_dest_id(&m->h.via[0], &from) < 0) {
        node_respond_error(n, m, WIRE_ERR_NOT_FOUND, "no such node or application");
        return;
    }
    const uint8_t *q = p + ID_BYTES + 2;
    struct env_addr sender = {
        .ip = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3],
        .port = get16(q + 4),
    };
    node_respond(n, m, WIRE_EXP_A_ANS, NULL);
    /* Answered first: the receiver may free or reconfigure the node's application. */
    a->data_cb(a->data_ud, &from, &sender, p + APPDATA_FIXED, len - APPDATA_FIXED);
}
