/* wire.h — the RELOAD codec: RFC 6940 §6.3 (forwarding header, message contents, security
 * block), §6.4.2, §6.5, §7.4 and §10.7 (method bodies) and §6.6.2 (FramedMessage).
 *
 * Decoding is zero-copy: decoded structures point into the caller's buffer (struct
 * wire_bytes, struct wire_dest), so they are valid only while that buffer is.  Decoders check
 * every length against the buffer and return a negative WIRE_E* code on any malformed input;
 * they never read past the end.  Decoders of bodies with unbounded element counts (Store,
 * Fetch, Stat, StoreAns, FetchAns, StatAns) allocate arrays with g_new and must be released
 * with the matching *_clear() function, which is safe on a zeroed or failed structure.
 * Encoders append to a GByteArray and cannot fail.
 */
#ifndef P2PSIP_WIRE_H
#define P2PSIP_WIRE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "env.h"
#include "id.h"

#define WIRE_RELO_TOKEN 0xd2454c4fu
#define WIRE_VERSION 0x0a
#define WIRE_FRAGMENT_LAST 0xc0000000u /* high bit plus "last fragment", offset 0 */
#define WIRE_MAX_LIST 128              /* entries kept per via or destination list */
#define WIRE_MAX_CANDIDATES 16
#define WIRE_MAX_UPDATE_IDS 128 /* Node-IDs per list in a ChordUpdate */
#define WIRE_MAX_PROBE 16

/* Decoder results. */
enum {
    WIRE_OK = 0,
    WIRE_E_TRUNCATED = -1,    /* a length runs past the buffer, or the buffer ends early */
    WIRE_E_INVALID = -2,      /* a field holds a value the RFC forbids */
    WIRE_E_UNSUPPORTED = -3,  /* wrong token or version, fragmented message, unknown type */
    WIRE_E_UNKNOWN_KIND = -4, /* a StoredData of a Kind whose data model is not known */
    WIRE_E_TOO_MANY = -5,     /* more list entries than this implementation keeps */
};

/* Message codes, RFC 6940 §14.8. */
enum wire_code {
    WIRE_PROBE_REQ = 0x1,
    WIRE_PROBE_ANS = 0x2,
    WIRE_ATTACH_REQ = 0x3,
    WIRE_ATTACH_ANS = 0x4,
    WIRE_STORE_REQ = 0x7,
    WIRE_STORE_ANS = 0x8,
    WIRE_FETCH_REQ = 0x9,
    WIRE_FETCH_ANS = 0xa,
    WIRE_FIND_REQ = 0xd,
    WIRE_FIND_ANS = 0xe,
    WIRE_JOIN_REQ = 0xf,
    WIRE_JOIN_ANS = 0x10,
    WIRE_LEAVE_REQ = 0x11,
    WIRE_LEAVE_ANS = 0x12,
    WIRE_UPDATE_REQ = 0x13,
    WIRE_UPDATE_ANS = 0x14,
    WIRE_ROUTE_QUERY_REQ = 0x15,
    WIRE_ROUTE_QUERY_ANS = 0x16,
    WIRE_PING_REQ = 0x17,
    WIRE_PING_ANS = 0x18,
    WIRE_STAT_REQ = 0x19,
    WIRE_STAT_ANS = 0x1a,
    WIRE_APP_ATTACH_REQ = 0x1d,
    WIRE_APP_ATTACH_ANS = 0x1e,
    WIRE_CONFIG_UPDATE_REQ = 0x21,
    WIRE_CONFIG_UPDATE_ANS = 0x22,
    /* RFC 6940 §14.8's experimentation codes, used by this project's private AppData extension
     * (core/appdata.c; docs/sip.md, "Across NATs"). */
    WIRE_EXP_A_REQ = 0x23,
    WIRE_EXP_A_ANS = 0x24,
    WIRE_ERROR = 0xffff,
};

/* Error codes carried in an ErrorResponse, RFC 6940 §14.9. */
enum wire_error_code {
    WIRE_ERR_FORBIDDEN = 0x2,
    WIRE_ERR_NOT_FOUND = 0x3,
    WIRE_ERR_REQUEST_TIMEOUT = 0x4,
    WIRE_ERR_GENERATION_COUNTER_TOO_LOW = 0x5,
    WIRE_ERR_INCOMPATIBLE_WITH_OVERLAY = 0x6,
    WIRE_ERR_UNSUPPORTED_FORWARDING_OPTION = 0x7,
    WIRE_ERR_DATA_TOO_LARGE = 0x8,
    WIRE_ERR_DATA_TOO_OLD = 0x9,
    WIRE_ERR_TTL_EXCEEDED = 0xa,
    WIRE_ERR_MESSAGE_TOO_LARGE = 0xb,
    WIRE_ERR_UNKNOWN_KIND = 0xc,
    WIRE_ERR_UNKNOWN_EXTENSION = 0xd,
    WIRE_ERR_RESPONSE_TOO_LARGE = 0xe,
    WIRE_ERR_CONFIG_TOO_OLD = 0xf,
    WIRE_ERR_CONFIG_TOO_NEW = 0x10,
    WIRE_ERR_IN_PROGRESS = 0x11,
    WIRE_ERR_INVALID_MESSAGE = 0x14,
};

/* Data models, RFC 6940 §7.2 (the values used in the overlay configuration). */
enum wire_model { WIRE_MODEL_SINGLE = 1, WIRE_MODEL_ARRAY = 2, WIRE_MODEL_DICTIONARY = 3 };

/* A borrowed run of bytes. */
struct wire_bytes {
    const uint8_t *p;
    uint32_t len;
};

/* Destination, RFC 6940 §6.3.2.2. */
enum wire_dest_type { WIRE_DEST_NODE = 1, WIRE_DEST_RESOURCE = 2, WIRE_DEST_OPAQUE = 3 };
struct wire_dest {
    uint8_t type;         /* enum wire_dest_type */
    bool compressed;      /* the 16-bit form with the top bit set (type is OPAQUE, len 2) */
    uint8_t len;          /* bytes at data */
    const uint8_t *data;  /* Node-ID (16 bytes), Resource-ID or opaque id */
};

/* Forwarding header, RFC 6940 §6.3.2. */
struct wire_header {
    uint32_t overlay;
    uint16_t config_seq;
    uint8_t version; /* decoders reject anything but WIRE_VERSION */
    uint8_t ttl;
    uint32_t fragment;
    uint32_t length; /* total message length; filled in by the encoder */
    uint64_t txid;
    uint32_t max_response_length;
    uint16_t n_via, n_dest;
    struct wire_dest via[WIRE_MAX_LIST];
    struct wire_dest dest[WIRE_MAX_LIST];
    struct wire_bytes options; /* the raw ForwardingOption sequence */
};

/* Signature, RFC 6940 §6.3.4.  For now only algorithm none and identity none are produced. */
enum { WIRE_SIGNER_CERT_HASH = 1, WIRE_SIGNER_CERT_HASH_NODE_ID = 2, WIRE_SIGNER_NONE = 3 };
struct wire_signature {
    uint8_t hash_alg;      /* TLS HashAlgorithm; 0 = none */
    uint8_t sig_alg;       /* TLS SignatureAlgorithm; 0 = anonymous */
    uint8_t identity_type; /* WIRE_SIGNER_* */
    struct wire_bytes identity; /* the SignerIdentityValue bytes */
    struct wire_bytes value;    /* signature_value */
};
struct wire_security {
    struct wire_bytes certificates; /* the raw GenericCertificate sequence */
    struct wire_signature sig;
};
/* Fills s with an empty certificate bucket and the unsigned "none" signature. */
void wire_security_none(struct wire_security *s);
/* A lone Signature (§6.3.4), as sec/sig.c builds and checks them: the encoder appends it; the
 * decoder parses exactly [p, p+len) (the SignerIdentityValue of cert_hash and
 * cert_hash_node_id is checked) and returns 0 or a negative WIRE_E* code; s points into p.
 * wire_encode_signer_identity appends only the SignerIdentity (type, length, value): the
 * part of a Signature that §6.3.4 and §7.1 append to the signed input. */
void wire_encode_signature(GByteArray *out, const struct wire_signature *s);
int wire_decode_signature(const uint8_t *p, size_t len, struct wire_signature *s);
void wire_encode_signer_identity(GByteArray *out, const struct wire_signature *s);
/* GenericCertificate (§6.3.4): appends one {type, cert<0..2^16-1>} (len < 65536) to a
 * certificates bucket.  wire_next_certificate takes the first entry off *rest (a bucket's
 * remaining bytes): 1 and the entry (pointing into the bucket), 0 when *rest is empty, or a
 * negative WIRE_E* code when the entry is malformed. */
#define WIRE_CERT_X509 0 /* CertificateType x509, RFC 6091 */
void wire_encode_certificate(GByteArray *out, uint8_t type, const uint8_t *der, size_t len);
int wire_next_certificate(struct wire_bytes *rest, uint8_t *type, struct wire_bytes *cert);

/* A whole RELOAD message (forwarding header, MessageContents, SecurityBlock). */
struct wire_message {
    struct wire_header h;
    size_t header_len; /* bytes of the forwarding header in the decoded buffer */
    uint16_t code;
    struct wire_bytes body;
    struct wire_bytes extensions; /* raw MessageExtension sequence */
    struct wire_security sec;
};

/* Decodes only the forwarding header (enough to forward).  *header_len receives its size.
 * Besides the lists' syntax it checks what a forwarder must trust: the token and version
 * (WIRE_E_UNSUPPORTED), that the message is unfragmented (fragment = WIRE_FRAGMENT_LAST up
 * to the reserved bits, else WIRE_E_UNSUPPORTED) and that h.length equals len
 * (WIRE_E_TRUNCATED when it is larger, WIRE_E_INVALID when smaller).  It never allocates. */
int wire_decode_header(const uint8_t *buf, size_t len, struct wire_header *h, size_t *header_len);
/* Decodes a whole message: the header as above, then MessageContents and SecurityBlock,
 * which must end exactly at len. */
int wire_decode_message(const uint8_t *buf, size_t len, struct wire_message *m);
/* Decodes what follows a forwarding header of header_len bytes (MessageContents and
 * SecurityBlock, which must end exactly at len) into m, leaving m->h to the caller: for a
 * node that already holds the decoded (and possibly modified) header. */
int wire_decode_contents(const uint8_t *buf, size_t len, size_t header_len, struct wire_message *m);
/* Appends a whole message; h->length is ignored and computed.  extensions may be NULL (none);
 * sec may be NULL (wire_security_none). */
void wire_encode_message(GByteArray *out, const struct wire_header *h, uint16_t code,
                         const struct wire_bytes *body, const struct wire_bytes *extensions,
                         const struct wire_security *sec);
/* The message signature input of §6.3.4 without the trailing SignerIdentity (the signer
 * appends that): overlay || transaction_id || MessageContents, where contents are the encoded
 * MessageContents (message_code, message_body, message_extensions).  wire_message_contents
 * gives that span of a message decoded from buf (by wire_decode_message, or by
 * wire_decode_contents at the header_len it was given); wire_encode_contents appends the
 * MessageContents wire_encode_message writes (extensions may be NULL: none). */
void wire_message_input(GByteArray *out, uint32_t overlay, uint64_t txid, const uint8_t *contents,
                        size_t len);
struct wire_bytes wire_message_contents(const uint8_t *buf, const struct wire_message *m);
void wire_encode_contents(GByteArray *out, uint16_t code, const struct wire_bytes *body,
                          const struct wire_bytes *extensions);
/* Appends a message whose header is replaced by h and whose contents and security block are
 * copied verbatim from a decoded message of header_len header bytes (the forwarding path). */
void wire_reencode_header(GByteArray *out, const struct wire_header *h, const uint8_t *msg,
                          size_t msg_len, size_t header_len);

/* A destination for a Node-ID or Resource-ID held in caller storage of 16 bytes. */
void wire_dest_node(struct wire_dest *d, const uint8_t bytes[ID_BYTES]);
void wire_dest_resource(struct wire_dest *d, const uint8_t *bytes, uint8_t len);
/* The 16-byte id of a node or 16-byte resource destination; -1 for anything else. */
int wire_dest_id(const struct wire_dest *d, struct id *out);
/* A bare sequence of Destinations (§6.3.2.2) with no length prefix, as other structures embed
 * it (RFC 7904's destination_list): the encoder appends n entries; the decoder parses exactly
 * [p, p+len) into at most max entries (WIRE_E_TOO_MANY beyond), sets *n and returns 0 or a
 * negative WIRE_E* code.  Decoded entries point into p. */
void wire_encode_dest_list(GByteArray *out, const struct wire_dest *list, size_t n);
int wire_decode_dest_list(const uint8_t *p, size_t len, struct wire_dest *list, size_t max,
                          size_t *n);

/* FramedMessage, RFC 6940 §6.6.2. */
enum { WIRE_FRAME_DATA = 128, WIRE_FRAME_ACK = 129 };
struct wire_frame {
    uint8_t type;
    uint32_t sequence; /* data: sequence; ack: ack_sequence */
    uint32_t received; /* ack only */
    struct wire_bytes message; /* data only */
};
void wire_frame_data(GByteArray *out, uint32_t sequence, const uint8_t *msg, size_t len);
void wire_frame_ack(GByteArray *out, uint32_t ack_sequence, uint32_t received);
int wire_decode_frame(const uint8_t *buf, size_t len, struct wire_frame *f);
/* Bytes a data frame adds around a message. */
#define WIRE_FRAME_DATA_OVERHEAD 8

/* ---- Topology bodies, §6.4.2 ---- */
struct wire_join_req {
    struct id joining;
    struct wire_bytes overlay_data;
};
struct wire_join_ans {
    struct wire_bytes overlay_data;
};
struct wire_leave_req {
    struct id leaving;
    struct wire_bytes overlay_data;
};
struct wire_route_query_req {
    bool send_update;
    struct wire_dest destination;
    struct wire_bytes overlay_data;
};
/* ProbeInformationType, §6.4.2.5.1. */
enum { WIRE_PROBE_RESPONSIBLE_SET = 1, WIRE_PROBE_NUM_RESOURCES = 2, WIRE_PROBE_UPTIME = 3 };
struct wire_probe_req {
    uint8_t n;
    uint8_t requested[255];
};
struct wire_probe_ans {
    uint16_t n;
    struct {
        uint8_t type;
        uint32_t value;
    } info[WIRE_MAX_PROBE];
};
/* ChordUpdate, §10.7. */
enum { WIRE_CHORD_PEER_READY = 1, WIRE_CHORD_NEIGHBORS = 2, WIRE_CHORD_FULL = 3 };
struct wire_chord_update {
    uint32_t uptime;
    uint8_t type;
    uint16_t n_pred, n_succ, n_fingers;
    struct id pred[WIRE_MAX_UPDATE_IDS];
    struct id succ[WIRE_MAX_UPDATE_IDS];
    struct id fingers[WIRE_MAX_UPDATE_IDS];
};
/* ChordRouteQueryAns, §10.8: the next peer. */
struct wire_chord_route_query_ans {
    struct id next_peer;
};

/* ---- Link management bodies, §6.5 ---- */
enum { WIRE_LINK_DTLS_UDP_SR = 1, WIRE_LINK_DTLS_UDP_SR_NO_ICE = 3, WIRE_LINK_TLS_TCP_FH_NO_ICE = 4 };
enum { WIRE_CAND_HOST = 1, WIRE_CAND_SRFLX = 2, WIRE_CAND_RELAY = 4 };
struct wire_candidate {
    struct env_addr addr; /* IPv4 only; an IPv6 candidate decodes with ip = 0 and is_v6 */
    bool is_v6;
    uint8_t overlay_link;
    struct wire_bytes foundation;
    uint32_t priority;
    uint8_t type;
    struct env_addr rel_addr; /* srflx and relay only */
    struct wire_bytes extensions; /* raw IceExtension sequence */
    /* IPv6 (IpAddressPort type 2, §6.3.1.1): when is_v6 the address is addr6 and the port is
     * addr.port; likewise rel_is_v6 selects rel_addr6 with rel_addr.port. */
    uint8_t addr6[16];
    bool rel_is_v6;
    uint8_t rel_addr6[16];
};
struct wire_attach { /* AttachReqAns: the request and the answer share a body */
    struct wire_bytes ufrag, password, role;
    uint16_t n_candidates;
    struct wire_candidate candidates[WIRE_MAX_CANDIDATES];
    bool send_update;
};
struct wire_app_attach { /* AppAttachReq and AppAttachAns share a layout */
    struct wire_bytes ufrag, password;
    uint16_t application;
    struct wire_bytes role;
    uint16_t n_candidates;
    struct wire_candidate candidates[WIRE_MAX_CANDIDATES];
};
struct wire_ping_req {
    struct wire_bytes padding;
};
struct wire_ping_ans {
    uint64_t response_id;
    uint64_t time;
};
struct wire_error {
    uint16_t code;
    struct wire_bytes info;
};
/* ConfigUpdateReq, §6.5.4.1 (the answer's body is empty).  type config: data is config_data,
 * the whole configuration document; type kind: data is the raw KindDescription sequence (each
 * an opaque<0..2^16-1> kind-block, checked by the decoder); any other type: data is the raw
 * remainder the length field covers. */
enum { WIRE_CONFIG_UPDATE_CONFIG = 1, WIRE_CONFIG_UPDATE_KIND = 2 };
struct wire_config_update_req {
    uint8_t type;
    struct wire_bytes data;
};

/* ---- Storage bodies, §7 ---- */
/* Returns the data model (enum wire_model) of a Kind, or 0 when the Kind is unknown. */
typedef int (*wire_model_fn)(uint32_t kind, void *ud);

struct wire_stored_data {
    uint64_t storage_time;
    uint32_t lifetime;
    uint8_t model;          /* set by the decoder from the kind; by the caller when encoding */
    uint32_t index;         /* array entries */
    struct wire_bytes key;  /* dictionary entries */
    bool exists;
    struct wire_bytes value;
    struct wire_signature sig;
};
struct wire_store_kind {
    uint32_t kind;
    uint64_t generation;
    uint32_t n_values;
    struct wire_stored_data *values;
};
struct wire_store_req {
    struct wire_bytes resource;
    uint8_t replica_number;
    uint32_t n_kinds;
    struct wire_store_kind *kinds;
};
struct wire_store_kind_ans {
    uint32_t kind;
    uint64_t generation;
    uint16_t n_replicas;
    struct id *replicas;
};
struct wire_store_ans {
    uint16_t n_kinds;
    struct wire_store_kind_ans *kinds;
};
struct wire_array_range {
    int32_t first, last;
};
struct wire_specifier {
    uint32_t kind;
    uint64_t generation;
    uint8_t model; /* set by the decoder from the kind; by the caller when encoding */
    uint16_t n_ranges;
    struct wire_array_range *ranges;
    uint16_t n_keys;
    struct wire_bytes *keys;
};
struct wire_fetch_req { /* also StatReq */
    struct wire_bytes resource;
    uint16_t n_specifiers;
    struct wire_specifier *specifiers;
};
struct wire_fetch_kind {
    uint32_t kind;
    uint64_t generation;
    uint32_t n_values;
    struct wire_stored_data *values;
};
struct wire_fetch_ans {
    uint32_t n_kinds;
    struct wire_fetch_kind *kinds;
};
struct wire_stored_meta {
    /* StoredMetaData's leading value_length: like StoredData's length, the bytes of the rest
     * of the structure (§7.4.3.2 "same as the corresponding fields in StoredData").  The
     * encoder computes it and the decoder checks it; the stored value's own length is
     * meta_value_length. */
    uint32_t value_length;
    uint64_t storage_time;
    uint32_t lifetime;
    uint8_t model;
    uint32_t index;
    struct wire_bytes key;
    bool exists;
    uint32_t meta_value_length;
    uint8_t hash_alg;
    struct wire_bytes hash_value;
};
struct wire_stat_kind {
    uint32_t kind;
    uint64_t generation;
    uint32_t n_values;
    struct wire_stored_meta *values;
};
struct wire_stat_ans {
    uint32_t n_kinds;
    struct wire_stat_kind *kinds;
};
struct wire_find_req {
    struct wire_bytes resource;
    uint8_t n_kinds;
    uint32_t kinds[63]; /* kinds<0..2^8-1> holds at most 63 four-byte Kind-IDs */
};
struct wire_find_ans {
    uint16_t n_results;
    struct {
        uint32_t kind;
        struct wire_bytes closest;
    } results[64];
};

/* Body encoders append to out; decoders parse exactly [p, p+len) and fail on trailing bytes. */
void wire_encode_join_req(GByteArray *out, const struct wire_join_req *b);
int wire_decode_join_req(const uint8_t *p, size_t len, struct wire_join_req *b);
void wire_encode_join_ans(GByteArray *out, const struct wire_join_ans *b);
int wire_decode_join_ans(const uint8_t *p, size_t len, struct wire_join_ans *b);
void wire_encode_leave_req(GByteArray *out, const struct wire_leave_req *b);
int wire_decode_leave_req(const uint8_t *p, size_t len, struct wire_leave_req *b);
void wire_encode_route_query_req(GByteArray *out, const struct wire_route_query_req *b);
int wire_decode_route_query_req(const uint8_t *p, size_t len, struct wire_route_query_req *b);
void wire_encode_chord_route_query_ans(GByteArray *out, const struct wire_chord_route_query_ans *b);
int wire_decode_chord_route_query_ans(const uint8_t *p, size_t len,
                                      struct wire_chord_route_query_ans *b);
void wire_encode_probe_req(GByteArray *out, const struct wire_probe_req *b);
int wire_decode_probe_req(const uint8_t *p, size_t len, struct wire_probe_req *b);
void wire_encode_probe_ans(GByteArray *out, const struct wire_probe_ans *b);
int wire_decode_probe_ans(const uint8_t *p, size_t len, struct wire_probe_ans *b);
void wire_encode_chord_update(GByteArray *out, const struct wire_chord_update *b);
int wire_decode_chord_update(const uint8_t *p, size_t len, struct wire_chord_update *b);
void wire_encode_attach(GByteArray *out, const struct wire_attach *b);
int wire_decode_attach(const uint8_t *p, size_t len, struct wire_attach *b);
void wire_encode_app_attach(GByteArray *out, const struct wire_app_attach *b);
int wire_decode_app_attach(const uint8_t *p, size_t len, struct wire_app_attach *b);
void wire_encode_ping_req(GByteArray *out, const struct wire_ping_req *b);
int wire_decode_ping_req(const uint8_t *p, size_t len, struct wire_ping_req *b);
void wire_encode_ping_ans(GByteArray *out, const struct wire_ping_ans *b);
int wire_decode_ping_ans(const uint8_t *p, size_t len, struct wire_ping_ans *b);
void wire_encode_error(GByteArray *out, const struct wire_error *b);
int wire_decode_error(const uint8_t *p, size_t len, struct wire_error *b);
void wire_encode_config_update_req(GByteArray *out, const struct wire_config_update_req *b);
int wire_decode_config_update_req(const uint8_t *p, size_t len, struct wire_config_update_req *b);

void wire_encode_store_req(GByteArray *out, const struct wire_store_req *b);
int wire_decode_store_req(const uint8_t *p, size_t len, struct wire_store_req *b,
                          wire_model_fn model, void *ud);
void wire_store_req_clear(struct wire_store_req *b);
/* Appends d's StoredDataValue (§7.2: the model's index or key, exists, value), the part of a
 * StoredData the §7.1 signature covers; d->model must be set. */
void wire_encode_stored_data_value(GByteArray *out, const struct wire_stored_data *d);
/* The StoredData signature input of §7.1 without the trailing SignerIdentity: resource_id (its
 * raw bytes, no length prefix) || kind || storage_time || StoredDataValue (d->model must be
 * set).  The storer signs it, the storing peer and the fetcher verify it. */
void wire_stored_data_input(GByteArray *out, const uint8_t *resource, size_t resource_len,
                            uint32_t kind, const struct wire_stored_data *d);
void wire_encode_store_ans(GByteArray *out, const struct wire_store_ans *b);
int wire_decode_store_ans(const uint8_t *p, size_t len, struct wire_store_ans *b);
void wire_store_ans_clear(struct wire_store_ans *b);
void wire_encode_fetch_req(GByteArray *out, const struct wire_fetch_req *b);
int wire_decode_fetch_req(const uint8_t *p, size_t len, struct wire_fetch_req *b,
                          wire_model_fn model, void *ud);
void wire_fetch_req_clear(struct wire_fetch_req *b);
void wire_encode_fetch_ans(GByteArray *out, const struct wire_fetch_ans *b);
int wire_decode_fetch_ans(const uint8_t *p, size_t len, struct wire_fetch_ans *b,
                          wire_model_fn model, void *ud);
void wire_fetch_ans_clear(struct wire_fetch_ans *b);
/* StatReq has the FetchReq layout. */
#define wire_encode_stat_req wire_encode_fetch_req
#define wire_decode_stat_req wire_decode_fetch_req
#define wire_stat_req_clear wire_fetch_req_clear
void wire_encode_stat_ans(GByteArray *out, const struct wire_stat_ans *b);
int wire_decode_stat_ans(const uint8_t *p, size_t len, struct wire_stat_ans *b,
                         wire_model_fn model, void *ud);
void wire_stat_ans_clear(struct wire_stat_ans *b);
void wire_encode_find_req(GByteArray *out, const struct wire_find_req *b);
int wire_decode_find_req(const uint8_t *p, size_t len, struct wire_find_req *b);
void wire_encode_find_ans(GByteArray *out, const struct wire_find_ans *b);
int wire_decode_find_ans(const uint8_t *p, size_t len, struct wire_find_ans *b);

/* Human-readable name of a message code ("ping_req", "error", ...); "unknown" otherwise. */
const char *wire_code_name(uint16_t code);

#endif
