/* config.h — the overlay configuration document, RFC 6940 §11.1 (grammar §11.1.1): one XML
 * file that names an overlay and gives its topology plug-in and parameters, its kinds (data
 * model, access control, size limits), its bootstrap nodes and its enrollment and credential
 * settings.  `p2psip peer --config FILE` and the simulator's `overlay.config` key read the same
 * document, so that a simulated overlay and a deployed one are described once (docs/config.md).
 *
 * The file is parsed with GLib's GMarkup (no DTDs, no entities beyond XML's five, no network),
 * with namespaces resolved here.  Elements of the base, Chord and p2psip namespaces must be
 * the ones the grammar allows where they appear; elements of other namespaces are ignored
 * unless a <mandatory-extension> names their namespace, which is then refused.  Every error
 * names FILE:LINE:COLUMN of the element (or attribute's element) and the element, e.g.
 * "overlay.xml:9:5: <topology-plugin>: unknown topology 'PASTRY' (...)".
 *
 * Private extensions, in the namespace CONFIG_NS_P2PSIP: the topology names BAMBOO and
 * SUPERPEER beside CHORD-RELOAD, and parameters of p2psip's plug-ins (<p2psip:successors>,
 * <p2psip:replicas>, ...; docs/config.md lists them).
 */
#ifndef P2PSIP_CONFIG_H
#define P2PSIP_CONFIG_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/node.h"

#define CONFIG_NS_BASE "urn:ietf:params:xml:ns:p2p:config-base"
#define CONFIG_NS_CHORD "urn:ietf:params:xml:ns:p2p:config-chord"
/* p2psip's own extension namespace (a tag URI, RFC 4151). */
#define CONFIG_NS_P2PSIP "tag:p2psip.example,2025:config"

#define CONFIG_DEFAULT_PORT 6084 /* <bootstrap-node> without port= (§11.1) */
#define CONFIG_MAX_KINDS NODE_MAX_KINDS

/* Access control policies, §7.3: config_node_access maps them onto node_kind.access, which a
 * storing peer with a security provider enforces (core/access.h). */
enum config_access {
    CONFIG_ACCESS_USER_MATCH,
    CONFIG_ACCESS_NODE_MATCH,
    CONFIG_ACCESS_USER_NODE_MATCH,
    CONFIG_ACCESS_NODE_MULTIPLE,
};

struct config_kind {
    char *name;                 /* the name= attribute (an IANA Kind name), NULL for id= */
    enum config_access access;  /* <access-control> */
    uint32_t max_node_multiple; /* <max-node-multiple>, NODE-MULTIPLE only (else 0) */
    char *signature;            /* <kind-signature> base64 text, NULL when absent */
    unsigned line;              /* of the <kind> element */
};

struct config_bootstrap {
    char *address; /* as written: IPv4 or IPv6 */
    uint16_t port; /* CONFIG_DEFAULT_PORT when absent */
    bool is_v4;
    struct env_addr addr; /* when is_v4 */
};

/* One value the document gives that a scenario key also names (see config_settings). */
struct config_setting {
    const char *key; /* a scenario key: overlay.name, overlay.successors, ... */
    char *value;     /* in scenario syntax: "chord", "400s", "3000ms", "true", "4" */
    char *where;     /* "FILE:LINE:COLUMN" of the element (or configuration) that gave it */
};

/* Bits of struct config.given: which optional parameters the document sets. */
enum config_param {
    CONFIG_P_NODE_ID_LENGTH,
    CONFIG_P_MAX_MESSAGE_SIZE,
    CONFIG_P_INITIAL_TTL,
    CONFIG_P_RELIABILITY_TIMER,
    CONFIG_P_TURN_DENSITY,
    CONFIG_P_CLIENTS_PERMITTED,
    CONFIG_P_NO_ICE,
    CONFIG_P_CHORD_UPDATE_INTERVAL,
    CONFIG_P_CHORD_PING_INTERVAL,
    CONFIG_P_CHORD_REACTIVE,
    CONFIG_P_SUCCESSORS,
    CONFIG_P_PREDECESSORS,
    CONFIG_P_REPLICAS,
    CONFIG_P_BAMBOO_DIGIT_BITS,
    CONFIG_P_BAMBOO_LEAF_SET,
    CONFIG_P_BAMBOO_LEAFSET_INTERVAL,
    CONFIG_P_BAMBOO_TABLE_INTERVAL,
    CONFIG_P_BAMBOO_REACTIVE,
    CONFIG_P_BAMBOO_PNS,
    CONFIG_P_SUPERPEER_KEEPALIVE,
    CONFIG_P_COUNT
};

/* One <configuration> element, and the document it came from. */
struct config {
    char *file;                /* where it was read from (or "ConfigUpdate") */
    GBytes *text;              /* the whole document, as read (sent in ConfigUpdate, §6.5.4) */
    unsigned n_configurations; /* <configuration> elements in the document */
    char *instance_name;       /* instance-name=, the overlay name */
    uint32_t overlay;          /* id_overlay_hash(instance_name), §6.3.2 */
    uint16_t sequence;         /* sequence= (0 .. 65534; 0 when absent) */
    char *expiration;          /* expiration= (RFC 3339, as written), NULL when absent */
    char *signature;           /* the <signature> after the configuration, base64 text, or NULL */
    /* Where the configuration is in `text` (byte offsets): [span_start, span_end) runs from
     * the '<' of <configuration> to the '>' of </configuration>, what its signature covers
     * (§11.1); [sig_start, sig_end) is its <signature> element (both 0 when absent).  line,
     * col and sig_line, sig_col are where they start, for messages (sec/confsig.h). */
    size_t span_start, span_end, sig_start, sig_end;
    unsigned line, col, sig_line, sig_col;

    /* Topology and parameters.  Absent parameters hold RFC 6940's defaults (or p2psip's, for
     * its extensions) and their bit in `given` is clear. */
    uint64_t given;      /* 1 << enum config_param */
    char *topology_name; /* <topology-plugin>: CHORD-RELOAD (default), BAMBOO, ... */
    enum node_topology topology;
    uint32_t node_id_length;        /* <node-id-length>: 16 (the only length p2psip runs) */
    uint32_t max_message_size;      /* <max-message-size>: 5000 (kept, not enforced) */
    uint32_t initial_ttl;           /* <initial-ttl>: 100 */
    uint32_t reliability_timer_ms;  /* <overlay-reliability-timer>: 3000, >= 200 */
    uint32_t turn_density;          /* <turn-density>: 1 (kept) */
    bool clients_permitted;         /* <clients-permitted>: true (kept) */
    bool no_ice;                    /* <no-ice>: false (kept) */
    uint32_t chord_update_interval; /* <chord:chord-update-interval>, seconds */
    uint32_t chord_ping_interval;   /* <chord:chord-ping-interval>, seconds */
    bool chord_reactive;            /* <chord:chord-reactive>: true */
    uint32_t successors, predecessors, replicas; /* <p2psip:successors> ...: 4, 4, 2 */
    uint32_t bamboo_digit_bits, bamboo_leaf_set; /* 4, 8 */
    uint32_t bamboo_leafset_interval_ms;         /* 5000 */
    uint32_t bamboo_table_interval_ms;           /* 10000 */
    bool bamboo_reactive, bamboo_pns;            /* false, true */
    uint32_t superpeer_keepalive_ms;             /* 15000 */

    /* Kinds (<required-kinds>): kinds[i] is the definition the core uses, kind_info[i] the
     * rest, in document order. */
    struct node_kind kinds[CONFIG_MAX_KINDS];
    struct config_kind kind_info[CONFIG_MAX_KINDS];
    unsigned n_kinds;

    GArray *bootstraps; /* struct config_bootstrap, in document order */

    /* Enrollment and credentials (kept for credentials, issue 7; GPtrArray of char *). */
    GPtrArray *root_certs;             /* <root-cert> base64 */
    GPtrArray *enrollment_servers;     /* <enrollment-server> https: URLs */
    bool self_signed_permitted;        /* <self-signed-permitted> */
    char *self_signed_digest;          /* its digest=, NULL when absent */
    char *shared_secret;               /* <shared-secret>, NULL when absent */
    GPtrArray *configuration_signers;  /* <configuration-signer> hex Node-IDs */
    GPtrArray *kind_signers;           /* <kind-signer> */
    GPtrArray *bad_nodes;              /* <bad-node> */
    GPtrArray *overlay_link_protocols; /* <overlay-link-protocol> */
    GPtrArray *mandatory_extensions;   /* <mandatory-extension> (all supported ones) */

    GArray *settings; /* struct config_setting, for config_settings() */
};

#define CONFIG_ERROR (config_error_quark())
GQuark config_error_quark(void);
enum { CONFIG_ERROR_IO, CONFIG_ERROR_SYNTAX, CONFIG_ERROR_VALUE };

/* Parses a document of len bytes (file names it in messages).  instance selects the
 * <configuration> whose instance-name it is (an error when there is none); NULL selects the
 * first.  Every configuration of the document is checked.  Returns NULL and sets *err
 * (CONFIG_ERROR) on any problem. */
struct config *config_parse(const char *text, size_t len, const char *file, const char *instance,
                            GError **err);
/* Every configuration of a document, in document order (a GPtrArray of struct config *
 * that frees them), checked as by config_parse; NULL and *err on any problem. */
GPtrArray *config_parse_all(const char *text, size_t len, const char *file, GError **err);
/* Reads and parses the file at path. */
struct config *config_load(const char *path, const char *instance, GError **err);
void config_free(struct config *c);

/* Sets what the document says in a node's configuration: the overlay hash and sequence, the
 * topology, every parameter the document gives, the kinds (borrowed from c, which must
 * outlive the node) and the document itself with config_node_parse for ConfigUpdate.
 * Bootstrap nodes are left to the caller (c->bootstraps). */
void config_apply(const struct config *c, struct node_config *cfg);

/* What a node adopts from configuration c through ConfigUpdate (node.h's node_config_doc:
 * overlay, sequence, kinds, IPv4 bootstrap nodes). */
void config_node_doc(const struct config *c, struct node_config_doc *out);
/* A node_config_parse_fn (ud unused): the configuration whose overlay hash is `overlay`.
 * It checks no signature: net/security.c's hook does, for peers with credentials. */
int config_node_parse(void *ud, const uint8_t *doc, size_t len, uint32_t overlay,
                      struct node_config_doc *out);

/* The values of c that scenario keys also name (the simulator's defaults under
 * overlay.config): overlay.name and overlay.topology always, the others when the document
 * gives them.  Borrowed from c. */
const struct config_setting *config_settings(const struct config *c, size_t *n);

/* Names, for messages and docs: "CHORD-RELOAD", "SINGLE", "USER-MATCH", ... */
const char *config_access_name(enum config_access a);
/* The core's policy (enum node_access, node_kind.access) for a document's <access-control>. */
enum node_access config_node_access(enum config_access a);

#endif
