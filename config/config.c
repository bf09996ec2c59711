/* config.c — reads the overlay configuration document, RFC 6940 §11.1 and its RELAX NG grammar
 * (§11.1.1), with GLib's GMarkup (config/config.h; docs/config.md is the user's reference).
 *
 * GMarkup knows nothing of namespaces, so the parser keeps a stack of the xmlns declarations
 * in scope and resolves every element name to (namespace URI, local name).  Each element is
 * classified by its parent (overlay > configuration > parameters, required-kinds > kind-block
 * > kind > kind parameters) when it starts; its text is collected and converted when it ends.
 * Parameters that are one number or boolean are rows of one table (params[] below) that also
 * says which scenario key, if any, names the same value: config_apply() and config_settings()
 * follow that table, so a new parameter is one row.
 *
 * Positions: GMarkup reports where it is in the input (after the tag it just read, sometimes
 * after the following line break), so tag_position() walks back to the tag's '<' to name the
 * line and column where the element starts.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../core/id.h"

G_DEFINE_QUARK(p2psip_config_error, config_error)

/* ---- the parameter table ------------------------------------------------------------------- */

struct param_def {
    const char *ns, *name; /* the element */
    enum config_param param;
    bool boolean;  /* xsd:boolean, else an integer in [min, max] */
    size_t offset; /* of the uint32_t or bool field in struct config */
    uint32_t min, max;
    const char *key;  /* the scenario key naming the same value, or NULL */
    const char *unit; /* its suffix in scenario syntax ("s", "ms", "") */
};

#define OFF(field) offsetof(struct config, field)
#define NS_B CONFIG_NS_BASE
#define NS_C CONFIG_NS_CHORD
#define NS_P CONFIG_NS_P2PSIP
static const struct param_def params[] = {
    {NS_B, "node-id-length", CONFIG_P_NODE_ID_LENGTH, false, OFF(node_id_length), 16, 20, NULL,
     NULL},
    {NS_B, "max-message-size", CONFIG_P_MAX_MESSAGE_SIZE, false, OFF(max_message_size), 1,
     UINT32_MAX, NULL, NULL},
    {NS_B, "initial-ttl", CONFIG_P_INITIAL_TTL, false, OFF(initial_ttl), 1, 255, NULL, NULL},
    /* "The value MUST be at least 200 milliseconds" (§11.1). */
    {NS_B, "overlay-reliability-timer", CONFIG_P_RELIABILITY_TIMER, false,
     OFF(reliability_timer_ms), 200, 3600000, "overlay.reliability_timer", "ms"},
    {NS_B, "turn-density", CONFIG_P_TURN_DENSITY, false, OFF(turn_density), 0, 255, NULL, NULL},
    {NS_B, "clients-permitted", CONFIG_P_CLIENTS_PERMITTED, true, OFF(clients_permitted), 0, 0,
     NULL, NULL},
    {NS_B, "no-ice", CONFIG_P_NO_ICE, true, OFF(no_ice), 0, 0, NULL, NULL},
    {NS_C, "chord-update-interval", CONFIG_P_CHORD_UPDATE_INTERVAL, false,
     OFF(chord_update_interval), 1, 86400 * 365, "overlay.update_interval", "s"},
    {NS_C, "chord-ping-interval", CONFIG_P_CHORD_PING_INTERVAL, false, OFF(chord_ping_interval), 1,
     86400 * 365, "overlay.ping_interval", "s"},
    {NS_C, "chord-reactive", CONFIG_P_CHORD_REACTIVE, true, OFF(chord_reactive), 0, 0,
     "overlay.reactive", ""},
    {NS_P, "successors", CONFIG_P_SUCCESSORS, false, OFF(successors), 1, 64, "overlay.successors",
     ""},
    {NS_P, "predecessors", CONFIG_P_PREDECESSORS, false, OFF(predecessors), 1, 64,
     "overlay.predecessors", ""},
    {NS_P, "replicas", CONFIG_P_REPLICAS, false, OFF(replicas), 0, 64, "overlay.replicas", ""},
    {NS_P, "bamboo-digit-bits", CONFIG_P_BAMBOO_DIGIT_BITS, false, OFF(bamboo_digit_bits), 1, 8,
     "overlay.bamboo.digit_bits", ""},
    {NS_P, "bamboo-leaf-set", CONFIG_P_BAMBOO_LEAF_SET, false, OFF(bamboo_leaf_set), 1, 64,
     "overlay.bamboo.leaf_set", ""},
    {NS_P, "bamboo-leafset-interval-ms", CONFIG_P_BAMBOO_LEAFSET_INTERVAL, false,
     OFF(bamboo_leafset_interval_ms), 1, 86400000, "overlay.bamboo.leafset_interval", "ms"},
    {NS_P, "bamboo-table-interval-ms", CONFIG_P_BAMBOO_TABLE_INTERVAL, false,
     OFF(bamboo_table_interval_ms), 1, 86400000, "overlay.bamboo.table_interval", "ms"},
    {NS_P, "bamboo-reactive", CONFIG_P_BAMBOO_REACTIVE, true, OFF(bamboo_reactive), 0, 0,
     "overlay.bamboo.reactive", ""},
    {NS_P, "bamboo-pns", CONFIG_P_BAMBOO_PNS, true, OFF(bamboo_pns), 0, 0, "overlay.bamboo.pns",
     ""},
    {NS_P, "superpeer-keepalive-ms", CONFIG_P_SUPERPEER_KEEPALIVE, false,
     OFF(superpeer_keepalive_ms), 1, 86400000, "overlay.superpeer.keepalive", "ms"},
};
_Static_assert(G_N_ELEMENTS(params) == CONFIG_P_COUNT, "one row per enum config_param");

/* Base-namespace elements of <configuration> that hold a list of strings. */
static const struct {
    const char *name;
    size_t offset; /* of the GPtrArray * field */
    bool base64;   /* whitespace inside is dropped */
} lists[] = {
    {"root-cert", OFF(root_certs), true},
    {"enrollment-server", OFF(enrollment_servers), false},
    {"kind-signer", OFF(kind_signers), false},
    {"configuration-signer", OFF(configuration_signers), false},
    {"bad-node", OFF(bad_nodes), false},
    {"overlay-link-protocol", OFF(overlay_link_protocols), false},
    {"mandatory-extension", OFF(mandatory_extensions), false},
};

/* The topology plug-ins p2psip runs (BAMBOO and SUPERPEER are private names). */
static const struct {
    const char *name;
    enum node_topology topology;
    const char *scenario; /* overlay.topology */
} topologies[] = {
    {"CHORD-RELOAD", NODE_TOPOLOGY_CHORD, "chord"},
    {"BAMBOO", NODE_TOPOLOGY_BAMBOO, "bamboo"},
    {"SUPERPEER", NODE_TOPOLOGY_SUPERPEER, "superpeer"},
};

/* Kinds registered with IANA that p2psip knows by name (RFC 6940 §14.6, RFC 7904 §7). */
static const struct {
    const char *name;
    uint32_t id;
    uint8_t model;
} named_kinds[] = {
    {"SIP-REGISTRATION", NODE_KIND_SIP_REGISTRATION, WIRE_MODEL_DICTIONARY},
    {"TURN-SERVICE", 0x2, WIRE_MODEL_SINGLE},
    {"CERTIFICATE_BY_NODE", 0x3, WIRE_MODEL_ARRAY},
    {"CERTIFICATE_BY_USER", 0x10, WIRE_MODEL_ARRAY},
};

static const char *const model_names[] = {[WIRE_MODEL_SINGLE] = "SINGLE",
                                          [WIRE_MODEL_ARRAY] = "ARRAY",
                                          [WIRE_MODEL_DICTIONARY] = "DICTIONARY"};
static const char *const access_names[] = {"USER-MATCH", "NODE-MATCH", "USER-NODE-MATCH",
                                           "NODE-MULTIPLE"};

const char *config_access_name(enum config_access a)
{
    return (unsigned)a < G_N_ELEMENTS(access_names) ? access_names[a] : "?";
}

enum node_access config_node_access(enum config_access a)
{
    switch (a) {
    case CONFIG_ACCESS_USER_MATCH:
        return NODE_ACCESS_USER_MATCH;
    case CONFIG_ACCESS_NODE_MATCH:
        return NODE_ACCESS_NODE_MATCH;
    case CONFIG_ACCESS_USER_NODE_MATCH:
        return NODE_ACCESS_USER_NODE_MATCH;
    case CONFIG_ACCESS_NODE_MULTIPLE:
        return NODE_ACCESS_NODE_MULTIPLE;
    }
    return NODE_ACCESS_OPEN;
}

/* ---- struct config ------------------------------------------------------------------------- */

static void setting_clear(gpointer p)
{
    struct config_setting *s = p;
    g_free(s->value);
    g_free(s->where);
}

static void bootstrap_clear(gpointer p)
{
    g_free(((struct config_bootstrap *)p)->address);
}

static struct config *config_new(const char *file, GBytes *text)
{
    struct config *c = g_new0(struct config, 1);
    c->file = g_strdup(file);
    c->text = g_bytes_ref(text);
    c->topology_name = g_strdup("CHORD-RELOAD");
    c->topology = NODE_TOPOLOGY_CHORD;
    c->node_id_length = 16;
    c->max_message_size = 5000;
    c->initial_ttl = 100;
    c->reliability_timer_ms = 3000;
    c->turn_density = 1;
    c->clients_permitted = true;
    c->chord_update_interval = 60; /* p2psip's defaults (docs/architecture.md) */
    c->chord_ping_interval = 60;
    c->chord_reactive = true;
    c->successors = 4;
    c->predecessors = 4;
    c->replicas = 2;
    c->bamboo_digit_bits = 4;
    c->bamboo_leaf_set = 8;
    c->bamboo_leafset_interval_ms = 5000;
    c->bamboo_table_interval_ms = 10000;
    c->bamboo_pns = true;
    c->superpeer_keepalive_ms = 15000;
    c->bootstraps = g_array_new(FALSE, TRUE, sizeof(struct config_bootstrap));
    g_array_set_clear_func(c->bootstraps, bootstrap_clear);
    for (size_t i = 0; i < G_N_ELEMENTS(lists); i++)
        *(GPtrArray **)((char *)c + lists[i].offset) = g_ptr_array_new_with_free_func(g_free);
    c->settings = g_array_new(FALSE, TRUE, sizeof(struct config_setting));
    g_array_set_clear_func(c->settings, setting_clear);
    return c;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    g_free(c->file);
    g_bytes_unref(c->text);
    g_free(c->instance_name);
    g_free(c->expiration);
    g_free(c->signature);
    g_free(c->topology_name);
    for (unsigned i = 0; i < c->n_kinds; i++) {
        g_free(c->kind_info[i].name);
        g_free(c->kind_info[i].signature);
    }
    g_array_unref(c->bootstraps);
    for (size_t i = 0; i < G_N_ELEMENTS(lists); i++)
        g_ptr_array_unref(*(GPtrArray **)((char *)c + lists[i].offset));
    g_free(c->self_signed_digest);
    g_free(c->shared_secret);
    g_array_unref(c->settings);
    g_free(c);
}

static void config_free_cb(gpointer p)
{
    config_free(p);
}

/* ---- the parser's state -------------------------------------------------------------------- */

/* What an element is, decided by its parent when it starts. */
enum elem {
    E_OVERLAY,
    E_CONFIGURATION,
    E_SIGNATURE, /* after a configuration */
    E_PARAM,     /* a params[] row */
    E_LIST,      /* a lists[] row */
    E_TOPOLOGY,
    E_SHARED_SECRET,
    E_SELF_SIGNED,
    E_BOOTSTRAP,
    E_REQUIRED_KINDS,
    E_KIND_BLOCK,
    E_KIND,
    E_KIND_SIGNATURE,
    E_DATA_MODEL,
    E_ACCESS_CONTROL,
    E_MAX_COUNT,
    E_MAX_SIZE,
    E_MAX_NODE_MULTIPLE,
};

struct frame {
    enum elem what;
    size_t row;  /* E_PARAM, E_LIST: the table row */
    char *qname; /* as written, for messages */
    unsigned line, col;
    GString *text;
    unsigned n_decls; /* namespace declarations this element made */
};

struct nsdecl {
    char *prefix; /* "" for the default namespace */
    char *uri;
};

/* The kind being read (a <kind-block>). */
struct kind_build {
    bool have_kind, have_model, have_access, have_count, have_size, have_multiple;
    struct node_kind def;
    struct config_kind info;
    char *signature;
    unsigned line, col;
};

struct parser {
    const char *file;
    const char *text;
    size_t len;
    GArray *line_starts; /* size_t: byte offset of each line, line 1 first */
    GMarkupParseContext *ctx;
    GPtrArray *frames;       /* struct frame *, innermost last */
    GArray *ns;              /* struct nsdecl in scope, innermost last */
    unsigned skip;           /* depth inside an ignored element of a foreign namespace */
    GBytes *bytes;           /* the document, shared by every struct config */
    GPtrArray *configs;      /* struct config *, in document order */
    struct config *cur;      /* the <configuration> being read */
    bool signature_expected; /* the last element of <overlay> was a configuration */
    size_t n_elements;       /* start tags seen so far, in document order */
    unsigned param_line[CONFIG_P_COUNT], param_col[CONFIG_P_COUNT];
    unsigned topology_line, topology_col;
    bool have_topology, have_secret, have_self_signed;
    struct kind_build kb;
};

static void frame_free(gpointer p)
{
    struct frame *f = p;
    g_free(f->qname);
    g_string_free(f->text, TRUE);
    g_free(f);
}

static void nsdecl_clear(gpointer p)
{
    struct nsdecl *d = p;
    g_free(d->prefix);
    g_free(d->uri);
}

static void kind_build_clear(struct kind_build *kb)
{
    g_free(kb->info.name);
    g_free(kb->info.signature);
    g_free(kb->signature);
    memset(kb, 0, sizeof *kb);
}

/* ---- positions and errors ------------------------------------------------------------------ */

/* Where the tag GMarkup has just read starts: walks back from its reported position (just
 * past the tag, or past the line break after it) to the '<'. */
static void tag_position(struct parser *p, unsigned *line, unsigned *col)
{
    int l = 1, ch = 1;
    g_markup_parse_context_get_position(p->ctx, &l, &ch);
    *line = (unsigned)l;
    *col = (unsigned)ch;
    if (l < 1 || (guint)l > p->line_starts->len)
        return;
    size_t start = g_array_index(p->line_starts, size_t, l - 1);
    const char *at = p->text + start;
    for (int i = 1; i < ch && at < p->text + p->len; i++)
        at = g_utf8_next_char(at);
    if (at > p->text + p->len) /* a lead byte at the end claims bytes that are not there */
        at = p->text + p->len;
    size_t off = (size_t)(at - p->text);
    unsigned back = 0;
    while (off > 0) {
        off--;
        if (p->text[off] == '\n')
            back++;
        else if (p->text[off] == '<')
            break;
    }
    if (p->text[off] != '<' || back >= (unsigned)l)
        return;
    size_t ls = off;
    while (ls > 0 && p->text[ls - 1] != '\n')
        ls--;
    *line = (unsigned)l - back;
    *col = 1 + (unsigned)g_utf8_strlen(p->text + ls, (gssize)(off - ls));
}

/* Sets *error to "FILE:LINE:COL: <element>: message" for frame f. */
G_GNUC_PRINTF(4, 5)
static void fail(struct parser *p, const struct frame *f, GError **error, const char *fmt, ...)
{
    if (error && *error)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_VALUE, "%s:%u:%u: <%s>: %s", p->file, f->line,
                f->col, f->qname, msg);
    g_free(msg);
}

/* ---- values -------------------------------------------------------------------------------- */

/* Whitespace-trimmed copy of the text (xsd's whitespace collapse for tokens and numbers). */
static char *trimmed(const GString *s)
{
    return g_strstrip(g_strdup(s->str));
}

/* The text without any whitespace (base64). */
static char *squeezed(const GString *s)
{
    GString *o = g_string_sized_new(s->len);
    for (size_t i = 0; i < s->len; i++)
        if (!g_ascii_isspace(s->str[i]))
            g_string_append_c(o, s->str[i]);
    return g_string_free(o, FALSE);
}

/* xsd:int / xsd:unsignedInt in [min, max]; decimal, or 0x-prefixed hexadecimal when hex. */
static bool parse_number(struct parser *p, const struct frame *f, const char *label, const char *t,
                         uint64_t min, uint64_t max, bool hex, uint64_t *out, GError **error)
{
    if (!label)
        label = "";
    const char *s = t;
    bool neg = false;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    int base = 10;
    if (hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!g_ascii_isxdigit(*s) || (base == 10 && !g_ascii_isdigit(*s))) {
        fail(p, f, error, "%s'%s' is not a number", label, t);
        return false;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (*end) {
        fail(p, f, error, "%s'%s' is not a number", label, t);
        return false;
    }
    if (neg && v) {
        fail(p, f, error,
             "%s%s is negative (expected %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT ")", label, t,
             min, max);
        return false;
    }
    if (errno == ERANGE || v < min || v > max) {
        fail(p, f, error, "%s%s is out of range (%" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT ")",
             label, t, min, max);
        return false;
    }
    *out = v;
    return true;
}

/* xsd:boolean: true, false, 1, 0. */
static bool parse_bool(struct parser *p, const struct frame *f, const char *t, bool *out,
                       GError **error)
{
    if (!strcmp(t, "true") || !strcmp(t, "1"))
        *out = true;
    else if (!strcmp(t, "false") || !strcmp(t, "0"))
        *out = false;
    else {
        fail(p, f, error, "'%s' is not a boolean (true, false, 1 or 0)", t);
        return false;
    }
    return true;
}

/* RFC 6940 §6.3.2: an overlay name must be usable as a DNS name (RFC 1035 §2.3.1). */
static bool dns_name(const char *s)
{
    if (!*s || strlen(s) > 253)
        return false;
    for (const char *c = s; *c; c++)
        if (!g_ascii_isalnum(*c) && *c != '-' && *c != '.')
            return false;
    return true;
}

/* ---- namespaces ---------------------------------------------------------------------------- */

static const char *ns_lookup(const struct parser *p, const char *prefix)
{
    for (guint i = p->ns->len; i-- > 0;) {
        const struct nsdecl *d = &g_array_index(p->ns, struct nsdecl, i);
        if (!strcmp(d->prefix, prefix))
            return d->uri;
    }
    return !strcmp(prefix, "xml") ? "http://www.w3.org/XML/1998/namespace" : NULL;
}

static bool ns_known(const char *uri)
{
    return uri && (!strcmp(uri, NS_B) || !strcmp(uri, NS_C) || !strcmp(uri, NS_P));
}

/* Pushes the element's xmlns declarations; returns how many. */
static unsigned ns_push(struct parser *p, const gchar **an, const gchar **av)
{
    unsigned n = 0;
    for (size_t i = 0; an[i]; i++) {
        const char *prefix = !strcmp(an[i], "xmlns")             ? ""
                             : g_str_has_prefix(an[i], "xmlns:") ? an[i] + 6
                                                                 : NULL;
        if (!prefix)
            continue;
        struct nsdecl d = {g_strdup(prefix), g_strdup(av[i])};
        g_array_append_val(p->ns, d);
        n++;
    }
    return n;
}

static void ns_pop(struct parser *p, unsigned n)
{
    g_array_set_size(p->ns, p->ns->len - n);
}

/* Splits a qualified name and resolves its prefix (elements: the default namespace when
 * unprefixed).  Returns the URI ("" for none) or NULL when the prefix is not declared. */
static const char *resolve(const struct parser *p, const char *qname, const char **local)
{
    const char *colon = strchr(qname, ':');
    if (!colon) {
        *local = qname;
        const char *uri = ns_lookup(p, "");
        return uri ? uri : "";
    }
    char *prefix = g_strndup(qname, (gsize)(colon - qname));
    const char *uri = ns_lookup(p, prefix);
    g_free(prefix);
    *local = colon + 1;
    return uri;
}

/* Checks the element's attributes: unprefixed ones must be in `allowed` (NULL-terminated);
 * prefixed ones are namespace declarations or foreign attributes, ignored, unless their
 * namespace is one of ours. */
static bool check_attributes(struct parser *p, const struct frame *f, const gchar **an,
                             const char *const *allowed, GError **error)
{
    for (size_t i = 0; an[i]; i++) {
        if (!strcmp(an[i], "xmlns") || g_str_has_prefix(an[i], "xmlns:"))
            continue;
        const char *local;
        if (strchr(an[i], ':')) {
            const char *uri = resolve(p, an[i], &local);
            if (!uri) {
                fail(p, f, error, "attribute %s: undeclared namespace prefix", an[i]);
                return false;
            }
            if (!ns_known(uri))
                continue; /* a foreign attribute (§11.1.1 foreign-attributes) */
            fail(p, f, error, "unknown attribute %s", an[i]);
            return false;
        }
        bool ok = false;
        for (size_t k = 0; allowed && allowed[k] && !ok; k++)
            ok = !strcmp(an[i], allowed[k]);
        if (!ok) {
            fail(p, f, error, "unknown attribute %s", an[i]);
            return false;
        }
    }
    return true;
}

static const char *attr(const gchar **an, const gchar **av, const char *name)
{
    for (size_t i = 0; an[i]; i++)
        if (!strcmp(an[i], name))
            return av[i];
    return NULL;
}

/* ---- element starts ------------------------------------------------------------------------ */

static bool start_configuration(struct parser *p, struct frame *f, const gchar **an,
                                const gchar **av, GError **error)
{
    static const char *const allowed[] = {"instance-name", "sequence", "expiration", NULL};
    if (!check_attributes(p, f, an, allowed, error))
        return false;
    const char *name = attr(an, av, "instance-name");
    if (!name) {
        fail(p, f, error, "missing attribute instance-name (the overlay's name)");
        return false;
    }
    char *n = g_strstrip(g_strdup(name));
    if (!dns_name(n)) {
        fail(p, f, error,
             "instance-name '%s' is not usable as a DNS name (letters, digits, '-' and '.'; "
             "RFC 6940 section 6.3.2)",
             n);
        g_free(n);
        return false;
    }
    for (guint i = 0; i < p->configs->len; i++)
        if (!strcmp(((struct config *)p->configs->pdata[i])->instance_name, n)) {
            fail(p, f, error, "a second configuration for instance-name '%s'", n);
            g_free(n);
            return false;
        }
    p->cur = config_new(p->file, p->bytes);
    p->cur->instance_name = n;
    p->cur->overlay = id_overlay_hash(n);
    const char *seq = attr(an, av, "sequence");
    uint64_t v = 0;
    if (seq) {
        char *t = g_strstrip(g_strdup(seq));
        bool ok = parse_number(p, f, "attribute sequence: ", t, 0, 65534, false, &v, error);
        g_free(t);
        if (!ok)
            return false;
    }
    p->cur->sequence = (uint16_t)v;
    const char *exp = attr(an, av, "expiration");
    if (exp) {
        GDateTime *dt = g_date_time_new_from_iso8601(exp, NULL);
        if (!dt) {
            fail(p, f, error, "expiration '%s' is not an RFC 3339 date and time", exp);
            return false;
        }
        g_date_time_unref(dt);
        p->cur->expiration = g_strdup(exp);
    }
    memset(p->param_line, 0, sizeof p->param_line);
    p->have_topology = p->have_secret = p->have_self_signed = false;
    p->topology_line = f->line;
    p->topology_col = f->col;
    return true;
}

static bool start_bootstrap(struct parser *p, struct frame *f, const gchar **an, const gchar **av,
                            GError **error)
{
    static const char *const allowed[] = {"address", "port", NULL};
    if (!check_attributes(p, f, an, allowed, error))
        return false;
    const char *a = attr(an, av, "address");
    if (!a) {
        fail(p, f, error, "missing attribute address");
        return false;
    }
    struct config_bootstrap b = {.address = g_strstrip(g_strdup(a)), .port = CONFIG_DEFAULT_PORT};
    struct in_addr v4;
    struct in6_addr v6;
    b.is_v4 = inet_pton(AF_INET, b.address, &v4) == 1;
    if (!b.is_v4 && inet_pton(AF_INET6, b.address, &v6) != 1) {
        fail(p, f, error, "address '%s' is neither an IPv4 nor an IPv6 address", b.address);
        g_free(b.address);
        return false;
    }
    const char *port = attr(an, av, "port");
    if (port) {
        uint64_t v;
        char *t = g_strstrip(g_strdup(port));
        bool ok = parse_number(p, f, "attribute port: ", t, 1, 65535, false, &v, error);
        g_free(t);
        if (!ok) {
            g_free(b.address);
            return false;
        }
        b.port = (uint16_t)v;
    }
    if (b.is_v4)
        b.addr = (struct env_addr){.ip = ntohl(v4.s_addr), .port = b.port};
    g_array_append_val(p->cur->bootstraps, b);
    return true;
}

static bool start_kind(struct parser *p, struct frame *f, const gchar **an, const gchar **av,
                       GError **error)
{
    static const char *const allowed[] = {"name", "id", NULL};
    if (!check_attributes(p, f, an, allowed, error))
        return false;
    if (p->kb.have_kind) {
        fail(p, f, error, "a kind-block holds one <kind>");
        return false;
    }
    const char *name = attr(an, av, "name"), *id = attr(an, av, "id");
    if (!name == !id) {
        fail(p, f, error,
             "needs exactly one of the attributes name (an IANA Kind name) and id "
             "(a private-use Kind-ID)");
        return false;
    }
    p->kb.have_kind = true;
    p->kb.line = f->line;
    p->kb.col = f->col;
    if (name) {
        char *n = g_strstrip(g_strdup(name));
        for (size_t i = 0; i < G_N_ELEMENTS(named_kinds) && !p->kb.def.id; i++)
            if (!strcmp(n, named_kinds[i].name))
                p->kb.def.id = named_kinds[i].id;
        p->kb.info.name = n;
        if (!p->kb.def.id) {
            fail(p, f, error,
                 "kind name '%s' is not a Kind p2psip knows (SIP-REGISTRATION, TURN-SERVICE, "
                 "CERTIFICATE_BY_NODE, CERTIFICATE_BY_USER); give a private kind by id=",
                 n);
            return false;
        }
        return true;
    }
    uint64_t v;
    char *t = g_strstrip(g_strdup(id));
    bool ok = parse_number(p, f, "attribute id: ", t, 0, UINT32_MAX, true, &v, error);
    g_free(t);
    if (!ok)
        return false;
    /* §14.6: 0xf0000001 to 0xfffffffe are private use, the only ids a document may define. */
    if (v < 0xf0000001u || v > 0xfffffffeu) {
        fail(p, f, error,
             "id %" G_GUINT64_FORMAT " (0x%" G_GINT64_MODIFIER "x) is not a private-use Kind-ID "
             "(0xf0000001..0xfffffffe, i.e. 4026531841..4294967294); name registered kinds by "
             "name=",
             v, v);
        return false;
    }
    p->kb.def.id = (uint32_t)v;
    return true;
}

/* Classifies a child of <configuration> in our namespaces; false when it is none we know. */
static bool classify_parameter(struct parser *p, struct frame *f, const char *uri,
                               const char *local)
{
    for (size_t i = 0; i < G_N_ELEMENTS(params); i++)
        if (!strcmp(uri, params[i].ns) && !strcmp(local, params[i].name)) {
            f->what = E_PARAM;
            f->row = i;
            return true;
        }
    if (strcmp(uri, NS_B) != 0)
        return false;
    for (size_t i = 0; i < G_N_ELEMENTS(lists); i++)
        if (!strcmp(local, lists[i].name)) {
            f->what = E_LIST;
            f->row = i;
            return true;
        }
    static const struct {
        const char *name;
        enum elem what;
    } others[] = {
        {"topology-plugin", E_TOPOLOGY},          {"shared-secret", E_SHARED_SECRET},
        {"self-signed-permitted", E_SELF_SIGNED}, {"bootstrap-node", E_BOOTSTRAP},
        {"required-kinds", E_REQUIRED_KINDS},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(others); i++)
        if (!strcmp(local, others[i].name)) {
            f->what = others[i].what;
            return true;
        }
    return false;
}

static bool classify_kind_parameter(struct frame *f, const char *uri, const char *local)
{
    static const struct {
        const char *name;
        enum elem what;
    } kps[] = {
        {"data-model", E_DATA_MODEL},
        {"access-control", E_ACCESS_CONTROL},
        {"max-count", E_MAX_COUNT},
        {"max-size", E_MAX_SIZE},
        {"max-node-multiple", E_MAX_NODE_MULTIPLE},
    };
    if (strcmp(uri, NS_B) != 0)
        return false;
    for (size_t i = 0; i < G_N_ELEMENTS(kps); i++)
        if (!strcmp(local, kps[i].name)) {
            f->what = kps[i].what;
            return true;
        }
    return false;
}

static void on_start(GMarkupParseContext *ctx, const gchar *qname, const gchar **an,
                     const gchar **av, gpointer ud, GError **error)
{
    struct parser *p = ud;
    size_t element = p->n_elements++; /* element_spans finds it again by this number */
    if (p->skip) {
        p->skip++;
        return;
    }
    struct frame *f = g_new0(struct frame, 1);
    f->qname = g_strdup(qname);
    f->text = g_string_new(NULL);
    tag_position(p, &f->line, &f->col);
    f->n_decls = ns_push(p, an, av);
    const struct frame *parent = p->frames->len ? p->frames->pdata[p->frames->len - 1] : NULL;
    const char *local;
    const char *uri = resolve(p, qname, &local);
    if (!uri) {
        fail(p, f, error, "undeclared namespace prefix");
        goto bad;
    }
    bool ours = ns_known(uri), base = !strcmp(uri, NS_B), ok = false;
    if (!parent) {
        ok = base && !strcmp(local, "overlay");
        if (!ok) {
            fail(p, f, error, "the root element must be <overlay xmlns=\"%s\">", NS_B);
            goto bad;
        }
        f->what = E_OVERLAY;
        if (!check_attributes(p, f, an, NULL, error))
            goto bad;
        g_ptr_array_add(p->frames, f);
        return;
    }
    switch (parent->what) {
    case E_OVERLAY:
        if (base && !strcmp(local, "configuration")) {
            f->what = E_CONFIGURATION;
            if (!start_configuration(p, f, an, av, error))
                goto bad;
            p->cur->span_start = element; /* an element number until element_spans */
            ok = true;
        } else if (base && !strcmp(local, "signature")) {
            static const char *const allowed[] = {"algorithm", NULL};
            if (!p->signature_expected) {
                fail(p, f, error, "a signature must follow the <configuration> it signs");
                goto bad;
            }
            f->what = E_SIGNATURE;
            ok = check_attributes(p, f, an, allowed, error);
            if (!ok)
                goto bad;
            struct config *signed_c = p->configs->pdata[p->configs->len - 1];
            signed_c->sig_start = element; /* an element number until element_spans */
            signed_c->sig_end = 1;
        }
        p->signature_expected = false;
        break;
    case E_CONFIGURATION:
        ok = ours && classify_parameter(p, f, uri, local);
        if (ok && f->what == E_BOOTSTRAP && !start_bootstrap(p, f, an, av, error))
            goto bad;
        if (ok && f->what == E_SELF_SIGNED) {
            static const char *const allowed[] = {"digest", NULL};
            if (!check_attributes(p, f, an, allowed, error))
                goto bad;
            const char *d = attr(an, av, "digest");
            g_free(p->cur->self_signed_digest);
            p->cur->self_signed_digest = d ? g_strstrip(g_strdup(d)) : NULL;
        } else if (ok && f->what != E_BOOTSTRAP && !check_attributes(p, f, an, NULL, error)) {
            goto bad;
        }
        break;
    case E_REQUIRED_KINDS:
        ok = base && !strcmp(local, "kind-block");
        if (ok) {
            f->what = E_KIND_BLOCK;
            kind_build_clear(&p->kb);
            if (!check_attributes(p, f, an, NULL, error))
                goto bad;
        }
        break;
    case E_KIND_BLOCK:
        if (base && !strcmp(local, "kind")) {
            f->what = E_KIND;
            if (!start_kind(p, f, an, av, error))
                goto bad;
            ok = true;
        } else if (base && !strcmp(local, "kind-signature")) {
            static const char *const allowed[] = {"algorithm", NULL};
            f->what = E_KIND_SIGNATURE;
            if (!check_attributes(p, f, an, allowed, error))
                goto bad;
            ok = true;
        }
        break;
    case E_KIND:
        ok = classify_kind_parameter(f, uri, local);
        if (ok && !check_attributes(p, f, an, NULL, error))
            goto bad;
        break;
    default: /* a value holds no elements */
        fail(p, f, error, "unexpected inside <%s>, which holds a value", parent->qname);
        goto bad;
    }
    if (!ok && ours) {
        fail(p, f, error, "unknown element inside <%s>", parent->qname);
        goto bad;
    }
    if (!ok) { /* a foreign element (§11.1.1 foreign-elements): ignored with its contents */
        ns_pop(p, f->n_decls);
        frame_free(f);
        p->skip = 1;
        return;
    }
    g_ptr_array_add(p->frames, f);
    return;
bad:
    ns_pop(p, f->n_decls);
    frame_free(f);
}

/* ---- element ends -------------------------------------------------------------------------- */

static bool end_param(struct parser *p, const struct frame *f, GError **error)
{
    const struct param_def *d = &params[f->row];
    struct config *c = p->cur;
    if (p->param_line[d->param]) {
        fail(p, f, error, "given twice (first at line %u)", p->param_line[d->param]);
        return false;
    }
    char *t = trimmed(f->text);
    bool ok;
    if (d->boolean) {
        ok = parse_bool(p, f, t, (bool *)((char *)c + d->offset), error);
    } else {
        uint64_t v;
        ok = parse_number(p, f, NULL, t, d->min, d->max, false, &v, error);
        if (ok)
            *(uint32_t *)((char *)c + d->offset) = (uint32_t)v;
    }
    g_free(t);
    if (!ok)
        return false;
    c->given |= (uint64_t)1 << d->param;
    p->param_line[d->param] = f->line;
    p->param_col[d->param] = f->col;
    return true;
}

static bool end_list(struct parser *p, const struct frame *f, GError **error)
{
    char *t = lists[f->row].base64 ? squeezed(f->text) : trimmed(f->text);
    if (!*t) {
        fail(p, f, error, "empty");
        g_free(t);
        return false;
    }
    /* §11.1: "This URL MUST be of type "https:"." */
    if (!strcmp(lists[f->row].name, "enrollment-server") &&
        g_ascii_strncasecmp(t, "https://", 8) != 0) {
        fail(p, f, error, "'%s' is not an https: URL", t);
        g_free(t);
        return false;
    }
    g_ptr_array_add(*(GPtrArray **)((char *)p->cur + lists[f->row].offset), t);
    return true;
}

static bool end_topology(struct parser *p, const struct frame *f, GError **error)
{
    if (p->have_topology) {
        fail(p, f, error, "given twice (first at line %u)", p->topology_line);
        return false;
    }
    char *t = trimmed(f->text);
    for (size_t i = 0; i < G_N_ELEMENTS(topologies); i++)
        if (!strcmp(t, topologies[i].name)) {
            g_free(p->cur->topology_name);
            p->cur->topology_name = t;
            p->cur->topology = topologies[i].topology;
            p->have_topology = true;
            p->topology_line = f->line;
            p->topology_col = f->col;
            return true;
        }
    fail(p, f, error,
         "unknown topology '%s' (p2psip runs CHORD-RELOAD and its private plug-ins BAMBOO and "
         "SUPERPEER)",
         t);
    g_free(t);
    return false;
}

/* The kind-block is complete: checks the kind and adds it to the configuration. */
static bool end_kind_block(struct parser *p, const struct frame *f, GError **error)
{
    struct kind_build *kb = &p->kb;
    struct config *c = p->cur;
    struct frame at = {.qname = "kind", .line = kb->line, .col = kb->col};
    if (!kb->have_kind) {
        fail(p, f, error, "a kind-block needs a <kind>");
        return false;
    }
    const char *missing = !kb->have_model    ? "data-model"
                          : !kb->have_access ? "access-control"
                          : !kb->have_count  ? "max-count"
                          : !kb->have_size   ? "max-size"
                                             : NULL;
    if (missing) {
        fail(p, &at, error,
             "kind %" G_GUINT32_FORMAT " has no <%s> (RFC 6940 section 11.1: "
             "data-model, access-control, max-count and max-size are required)",
             kb->def.id, missing);
        return false;
    }
    if (kb->info.access == CONFIG_ACCESS_NODE_MULTIPLE && !kb->have_multiple) {
        fail(p, &at, error, "access-control NODE-MULTIPLE needs <max-node-multiple>");
        return false;
    }
    if (kb->info.access != CONFIG_ACCESS_NODE_MULTIPLE && kb->have_multiple) {
        fail(p, &at, error, "<max-node-multiple> applies to NODE-MULTIPLE only");
        return false;
    }
    /* A kind whose data model is fixed (IANA's, or one of this build's) must say the same. */
    uint8_t fixed = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(named_kinds); i++)
        if (named_kinds[i].id == kb->def.id)
            fixed = named_kinds[i].model;
    if (!fixed && node_kind_find(NULL, kb->def.id))
        fixed = node_kind_find(NULL, kb->def.id)->model;
    if (fixed && fixed != kb->def.model) {
        char id[16];
        g_snprintf(id, sizeof id, "0x%08" G_GINT32_MODIFIER "x", kb->def.id);
        fail(p, &at, error, "kind %s has the data model %s, not %s",
             kb->info.name ? kb->info.name : id, model_names[fixed], model_names[kb->def.model]);
        return false;
    }
    for (unsigned i = 0; i < c->n_kinds; i++)
        if (c->kinds[i].id == kb->def.id) {
            fail(p, &at, error, "kind %" G_GUINT32_FORMAT " is defined twice (first at line %u)",
                 kb->def.id, c->kind_info[i].line);
            return false;
        }
    if (c->n_kinds == CONFIG_MAX_KINDS) {
        fail(p, &at, error, "more than %d kinds", CONFIG_MAX_KINDS);
        return false;
    }
    kb->info.signature = kb->signature;
    kb->signature = NULL;
    kb->info.line = kb->line;
    /* The policy the storing peer enforces once nodes hold credentials (§7.3). */
    kb->def.access = (uint8_t)config_node_access(kb->info.access);
    kb->def.max_node_multiple = kb->info.max_node_multiple;
    c->kinds[c->n_kinds] = kb->def;
    c->kind_info[c->n_kinds] = kb->info;
    c->n_kinds++;
    memset(kb, 0, sizeof *kb); /* ownership moved to c */
    return true;
}

static bool end_kind_value(struct parser *p, const struct frame *f, GError **error)
{
    struct kind_build *kb = &p->kb;
    bool *have = f->what == E_DATA_MODEL       ? &kb->have_model
                 : f->what == E_ACCESS_CONTROL ? &kb->have_access
                 : f->what == E_MAX_COUNT      ? &kb->have_count
                 : f->what == E_MAX_SIZE       ? &kb->have_size
                                               : &kb->have_multiple;
    if (*have) {
        fail(p, f, error, "given twice in one kind");
        return false;
    }
    *have = true;
    char *t = trimmed(f->text);
    bool ok = false;
    uint64_t v = 0;
    switch (f->what) {
    case E_DATA_MODEL:
        for (uint8_t m = WIRE_MODEL_SINGLE; m <= WIRE_MODEL_DICTIONARY && !ok; m++)
            if (!strcmp(t, model_names[m])) {
                kb->def.model = m;
                ok = true;
            }
        if (!ok)
            fail(p, f, error, "unknown data model '%s' (SINGLE, ARRAY, DICTIONARY)", t);
        break;
    case E_ACCESS_CONTROL:
        for (size_t a = 0; a < G_N_ELEMENTS(access_names) && !ok; a++)
            if (!strcmp(t, access_names[a])) {
                kb->info.access = (enum config_access)a;
                ok = true;
            }
        if (!ok)
            fail(p, f, error,
                 "unknown access control policy '%s' (USER-MATCH, NODE-MATCH, USER-NODE-MATCH, "
                 "NODE-MULTIPLE)",
                 t);
        break;
    case E_MAX_COUNT:
        ok = parse_number(p, f, NULL, t, 1, INT32_MAX, false, &v, error);
        kb->def.max_count = (uint32_t)v;
        break;
    case E_MAX_SIZE:
        ok = parse_number(p, f, NULL, t, 1, INT32_MAX, false, &v, error);
        kb->def.max_size = (uint32_t)v;
        break;
    default:
        ok = parse_number(p, f, NULL, t, 1, INT32_MAX, false, &v, error);
        kb->info.max_node_multiple = (uint32_t)v;
        break;
    }
    g_free(t);
    return ok;
}

/* Adds one setting (scenario key = value) to c. */
G_GNUC_PRINTF(6, 7)
static void add_setting(struct parser *p, struct config *c, const char *key, unsigned line,
                        unsigned col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct config_setting s = {.key = key, .value = g_strdup_vprintf(fmt, ap)};
    va_end(ap);
    s.where = g_strdup_printf("%s:%u:%u", p->file, line, col);
    g_array_append_val(c->settings, s);
}

/* The configuration is complete: cross checks, then the scenario settings. */
static bool end_configuration(struct parser *p, const struct frame *f, GError **error)
{
    struct config *c = p->cur;
    if (c->node_id_length != 16) {
        struct frame at = {.qname = "node-id-length",
                           .line = p->param_line[CONFIG_P_NODE_ID_LENGTH],
                           .col = p->param_col[CONFIG_P_NODE_ID_LENGTH]};
        fail(p, &at, error, "p2psip runs 16-byte (128-bit) Node-IDs only, not %u",
             c->node_id_length);
        return false;
    }
    if (c->replicas > c->successors) {
        unsigned r = CONFIG_P_REPLICAS, s = CONFIG_P_SUCCESSORS;
        bool at_r = p->param_line[r] != 0;
        struct frame at = {.qname = at_r ? "p2psip:replicas" : "p2psip:successors",
                           .line = at_r ? p->param_line[r] : p->param_line[s],
                           .col = at_r ? p->param_col[r] : p->param_col[s]};
        if (!at.line)
            at = *f;
        fail(p, &at, error, "replicas (%u) must not exceed successors (%u)", c->replicas,
             c->successors);
        return false;
    }
    for (guint i = 0; i < c->mandatory_extensions->len; i++) {
        const char *ns = c->mandatory_extensions->pdata[i];
        if (!ns_known(ns) && strcmp(ns, NS_B) != 0) {
            fail(p, f, error,
                 "mandatory-extension '%s' is not supported by p2psip (it supports %s, %s and %s)",
                 ns, NS_B, NS_C, NS_P);
            return false;
        }
    }
    add_setting(p, c, "overlay.name", f->line, f->col, "%s", c->instance_name);
    const char *topo = "chord";
    for (size_t i = 0; i < G_N_ELEMENTS(topologies); i++)
        if (topologies[i].topology == c->topology)
            topo = topologies[i].scenario;
    add_setting(p, c, "overlay.topology", p->topology_line, p->topology_col, "%s", topo);
    for (size_t i = 0; i < G_N_ELEMENTS(params); i++) {
        const struct param_def *d = &params[i];
        if (!d->key || !(c->given & ((uint64_t)1 << d->param)))
            continue;
        const void *field = (const char *)c + d->offset;
        unsigned line = p->param_line[d->param], col = p->param_col[d->param];
        if (d->boolean)
            add_setting(p, c, d->key, line, col, "%s", *(const bool *)field ? "true" : "false");
        else
            add_setting(p, c, d->key, line, col, "%" G_GUINT32_FORMAT "%s",
                        *(const uint32_t *)field, d->unit);
    }
    g_ptr_array_add(p->configs, c);
    p->cur = NULL;
    p->signature_expected = true;
    return true;
}

static bool only_space(const GString *s)
{
    for (size_t i = 0; i < s->len; i++)
        if (!g_ascii_isspace(s->str[i]))
            return false;
    return true;
}

static void on_end(GMarkupParseContext *ctx, const gchar *qname, gpointer ud, GError **error)
{
    struct parser *p = ud;
    if (p->skip) {
        p->skip--;
        return;
    }
    struct frame *f = p->frames->pdata[p->frames->len - 1];
    bool container = f->what == E_BOOTSTRAP || f->what == E_OVERLAY ||
                     f->what == E_REQUIRED_KINDS || f->what == E_KIND || f->what == E_KIND_BLOCK ||
                     f->what == E_CONFIGURATION;
    bool ok = true;
    if (container && !only_space(f->text)) {
        fail(p, f, error, "unexpected text '%.40s'", g_strstrip(f->text->str));
        ok = false;
    }
    switch (ok ? f->what : E_OVERLAY) { /* E_OVERLAY: nothing to convert */
    case E_PARAM:
        ok = end_param(p, f, error);
        break;
    case E_LIST:
        ok = end_list(p, f, error);
        break;
    case E_TOPOLOGY:
        ok = end_topology(p, f, error);
        break;
    case E_SHARED_SECRET:
        if ((ok = !p->have_secret)) {
            g_free(p->cur->shared_secret);
            p->cur->shared_secret = trimmed(f->text);
            p->have_secret = true;
        } else {
            fail(p, f, error, "given twice");
        }
        break;
    case E_SELF_SIGNED:
        if (p->have_self_signed) {
            fail(p, f, error, "given twice");
            ok = false;
        } else {
            char *t = trimmed(f->text);
            ok = parse_bool(p, f, t, &p->cur->self_signed_permitted, error);
            g_free(t);
            p->have_self_signed = true;
        }
        break;
    case E_SIGNATURE: {
        struct config *c = p->configs->pdata[p->configs->len - 1];
        c->signature = squeezed(f->text);
        break;
    }
    case E_KIND_SIGNATURE:
        if (p->kb.signature) {
            fail(p, f, error, "a kind-block holds one <kind-signature>");
            ok = false;
        } else {
            p->kb.signature = squeezed(f->text);
        }
        break;
    case E_DATA_MODEL:
    case E_ACCESS_CONTROL:
    case E_MAX_COUNT:
    case E_MAX_SIZE:
    case E_MAX_NODE_MULTIPLE:
        ok = end_kind_value(p, f, error);
        break;
    case E_KIND_BLOCK:
        ok = end_kind_block(p, f, error);
        break;
    case E_CONFIGURATION:
        ok = end_configuration(p, f, error);
        break;
    case E_BOOTSTRAP:
    case E_OVERLAY:
    case E_REQUIRED_KINDS:
    case E_KIND:
        break;
    }
    ns_pop(p, f->n_decls);
    g_ptr_array_remove_index(p->frames, p->frames->len - 1);
}

static void on_text(GMarkupParseContext *ctx, const gchar *text, gsize len, gpointer ud,
                    GError **error)
{
    struct parser *p = ud;
    if (!p->skip && p->frames->len)
        g_string_append_len(((struct frame *)p->frames->pdata[p->frames->len - 1])->text, text,
                            (gssize)len);
}

/* ---- documents ----------------------------------------------------------------------------- */

/* Whether [t+i, t+len) starts with s (the text need not be NUL-terminated). */
static bool starts(const char *t, size_t len, size_t i, const char *s)
{
    size_t n = strlen(s);
    return i + n <= len && !memcmp(t + i, s, n);
}

/* Index just past the first occurrence of end at or after i, or len. */
static size_t skip_past(const char *t, size_t len, size_t i, const char *end)
{
    size_t n = strlen(end);
    for (; i + n <= len; i++)
        if (!memcmp(t + i, end, n))
            return i + n;
    return len;
}

/* Line and column (in characters) of byte offset off, as in error messages. */
static void offset_position(const struct parser *p, size_t off, unsigned *line, unsigned *col)
{
    guint l = 0;
    while (l + 1 < p->line_starts->len && g_array_index(p->line_starts, size_t, l + 1) <= off)
        l++;
    size_t ls = g_array_index(p->line_starts, size_t, l);
    *line = l + 1;
    *col = 1 + (unsigned)g_utf8_strlen(p->text + ls, (gssize)(off - ls));
}

/* Turns the element numbers on_start left in span_start and sig_start into the exact byte
 * spans a signature covers (§11.1: from the first '<' to the last '>' of the element).
 * GMarkup reports positions only roughly, so this re-reads the (well-formed: GMarkup has
 * accepted it) text, counting start tags as on_start did and skipping comments, processing
 * instructions, CDATA sections, declarations and quoted attribute values. */
struct span_mark {
    size_t offset, element; /* an open element: its '<' and number */
};
struct span_want {
    size_t element; /* the number on_start gave it */
    guint config;   /* index in p->configs */
    bool signature; /* its <signature>, not the <configuration> */
};

static void element_spans(struct parser *p)
{
    const char *t = p->text;
    size_t len = p->len, element = 0;
    GArray *open = g_array_new(FALSE, FALSE, sizeof(struct span_mark));
    GArray *want = g_array_new(FALSE, FALSE, sizeof(struct span_want));
    for (guint i = 0; i < p->configs->len; i++) {
        struct config *c = p->configs->pdata[i];
        struct span_want w = {c->span_start, i, false};
        g_array_append_val(want, w);
        c->span_start = c->span_end = SIZE_MAX;
        if (c->sig_end) {
            struct span_want ws = {c->sig_start, i, true};
            g_array_append_val(want, ws);
            c->sig_start = c->sig_end = SIZE_MAX;
        }
    }
    for (size_t i = 0; i < len;) {
        if (t[i] != '<') {
            i++;
            continue;
        }
        size_t start = i, el = SIZE_MAX, end;
        if (starts(t, len, i, "<!--")) {
            i = skip_past(t, len, i + 4, "-->");
            continue;
        } else if (starts(t, len, i, "<![CDATA[")) {
            i = skip_past(t, len, i + 9, "]]>");
            continue;
        } else if (starts(t, len, i, "<?")) {
            i = skip_past(t, len, i + 2, "?>");
            continue;
        }
        bool closing = starts(t, len, i, "</"), decl = starts(t, len, i, "<!");
        char quote = 0;
        int brackets = 0;
        for (i++; i < len; i++) {
            if (quote) {
                quote = t[i] == quote ? 0 : quote;
            } else if (t[i] == '"' || t[i] == '\'') {
                quote = t[i];
            } else if (decl && (t[i] == '[' || t[i] == ']')) {
                brackets += t[i] == '[' ? 1 : -1;
            } else if (t[i] == '>' && brackets <= 0) {
                break;
            }
        }
        end = i < len ? ++i : len;
        if (decl)
            continue;
        if (closing) {
            if (!open->len)
                continue;
            const struct span_mark *top = &g_array_index(open, struct span_mark, open->len - 1);
            start = top->offset;
            el = top->element;
            g_array_set_size(open, open->len - 1);
        } else if (end >= start + 3 && t[end - 2] == '/') {
            el = element++; /* <empty/> */
        } else {
            struct span_mark top = {start, element++};
            g_array_append_val(open, top);
            continue;
        }
        for (guint k = 0; k < want->len; k++) {
            const struct span_want *w = &g_array_index(want, struct span_want, k);
            if (w->element != el)
                continue;
            struct config *c = p->configs->pdata[w->config];
            if (!w->signature) {
                c->span_start = start, c->span_end = end;
                offset_position(p, start, &c->line, &c->col);
            } else {
                c->sig_start = start, c->sig_end = end;
                offset_position(p, start, &c->sig_line, &c->sig_col);
            }
        }
    }
    g_array_unref(open);
    g_array_unref(want);
}

/* Every configuration of the document, in order; NULL and *err on any problem. */
static GPtrArray *parse_document(const char *text, size_t len, const char *file, GError **err)
{
    /* A UTF-8 byte order mark is allowed before the XML declaration. */
    if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
        text += 3;
        len -= 3;
    }
    struct parser p = {.file = file, .text = text, .len = len};
    p.line_starts = g_array_new(FALSE, FALSE, sizeof(size_t));
    size_t zero = 0;
    g_array_append_val(p.line_starts, zero);
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n') {
            size_t next = i + 1;
            g_array_append_val(p.line_starts, next);
        }
    p.frames = g_ptr_array_new_with_free_func(frame_free);
    p.ns = g_array_new(FALSE, FALSE, sizeof(struct nsdecl));
    g_array_set_clear_func(p.ns, nsdecl_clear);
    p.bytes = g_bytes_new(text, len);
    p.configs = g_ptr_array_new_with_free_func(config_free_cb);
    static const GMarkupParser callbacks = {on_start, on_end, on_text, NULL, NULL};
    p.ctx = g_markup_parse_context_new(&callbacks, G_MARKUP_TREAT_CDATA_AS_TEXT, &p, NULL);
    GError *e = NULL;
    bool ok = g_markup_parse_context_parse(p.ctx, text, (gssize)len, &e) &&
              g_markup_parse_context_end_parse(p.ctx, &e);
    if (!ok && e->domain != CONFIG_ERROR) { /* GMarkup's own: not well-formed */
        int l = 0, ch = 0;
        g_markup_parse_context_get_position(p.ctx, &l, &ch);
        const char *msg = e->message;
        if (g_str_has_prefix(msg, "Error on line ") && strstr(msg, ": "))
            msg = strstr(msg, ": ") + 2;
        GError *wrapped = g_error_new(CONFIG_ERROR, CONFIG_ERROR_SYNTAX,
                                      "%s:%d:%d: not well-formed XML: %s", file, l, ch, msg);
        g_error_free(e);
        e = wrapped;
    }
    if (ok && p.configs->len == 0) {
        ok = false;
        e = g_error_new(CONFIG_ERROR, CONFIG_ERROR_VALUE,
                        "%s: no <configuration> element: a document describes at least one "
                        "overlay",
                        file);
    }
    if (ok)
        element_spans(&p);
    g_markup_parse_context_free(p.ctx);
    config_free(p.cur);
    kind_build_clear(&p.kb);
    g_ptr_array_unref(p.frames);
    if (p.ns->len)
        g_array_set_size(p.ns, 0);
    g_array_unref(p.ns);
    g_array_unref(p.line_starts);
    g_bytes_unref(p.bytes);
    if (!ok) {
        g_ptr_array_unref(p.configs);
        g_propagate_error(err, e);
        return NULL;
    }
    for (guint i = 0; i < p.configs->len; i++)
        ((struct config *)p.configs->pdata[i])->n_configurations = p.configs->len;
    return p.configs;
}

struct config *config_parse(const char *text, size_t len, const char *file, const char *instance,
                            GError **err)
{
    GPtrArray *all = parse_document(text, len, file, err);
    if (!all)
        return NULL;
    guint pick = 0;
    if (instance) {
        for (pick = 0; pick < all->len; pick++)
            if (!strcmp(((struct config *)all->pdata[pick])->instance_name, instance))
                break;
        if (pick == all->len) {
            GString *names = g_string_new(NULL);
            for (guint i = 0; i < all->len; i++)
                g_string_append_printf(names, "%s'%s'", i ? ", " : "",
                                       ((struct config *)all->pdata[i])->instance_name);
            g_set_error(err, CONFIG_ERROR, CONFIG_ERROR_VALUE,
                        "%s: no <configuration> with instance-name '%s' (it has %s)", file,
                        instance, names->str);
            g_string_free(names, TRUE);
            g_ptr_array_unref(all);
            return NULL;
        }
    }
    struct config *c = g_ptr_array_steal_index(all, pick);
    g_ptr_array_unref(all);
    return c;
}

GPtrArray *config_parse_all(const char *text, size_t len, const char *file, GError **err)
{
    return parse_document(text, len, file, err);
}

struct config *config_load(const char *path, const char *instance, GError **err)
{
    char *text = NULL;
    gsize len = 0;
    GError *e = NULL;
    if (!g_file_get_contents(path, &text, &len, &e)) {
        g_set_error(err, CONFIG_ERROR, CONFIG_ERROR_IO, "%s: cannot read: %s", path, e->message);
        g_error_free(e);
        return NULL;
    }
    struct config *c = config_parse(text, len, path, instance, err);
    g_free(text);
    return c;
}

/* ---- using a configuration ----------------------------------------------------------------- */

static bool given(const struct config *c, enum config_param p)
{
    return (c->given >> p) & 1;
}

void config_apply(const struct config *c, struct node_config *cfg)
{
    cfg->overlay = c->overlay;
    cfg->config_seq = c->sequence;
    cfg->topology = c->topology;
    if (given(c, CONFIG_P_INITIAL_TTL))
        cfg->initial_ttl = (uint8_t)c->initial_ttl;
    if (given(c, CONFIG_P_RELIABILITY_TIMER))
        cfg->reliability_timer = (env_time)c->reliability_timer_ms * ENV_MS;
    if (given(c, CONFIG_P_CHORD_UPDATE_INTERVAL))
        cfg->update_interval = (env_time)c->chord_update_interval * ENV_S;
    if (given(c, CONFIG_P_CHORD_PING_INTERVAL))
        cfg->ping_interval = (env_time)c->chord_ping_interval * ENV_S;
    if (given(c, CONFIG_P_CHORD_REACTIVE))
        cfg->reactive = c->chord_reactive;
    if (given(c, CONFIG_P_SUCCESSORS))
        cfg->successors = c->successors;
    if (given(c, CONFIG_P_PREDECESSORS))
        cfg->predecessors = c->predecessors;
    if (given(c, CONFIG_P_REPLICAS))
        cfg->replicas = cfg->superpeer.replicas = c->replicas;
    if (given(c, CONFIG_P_BAMBOO_DIGIT_BITS))
        cfg->bamboo.digit_bits = c->bamboo_digit_bits;
    if (given(c, CONFIG_P_BAMBOO_LEAF_SET))
        cfg->bamboo.leaf_set = c->bamboo_leaf_set;
    if (given(c, CONFIG_P_BAMBOO_LEAFSET_INTERVAL))
        cfg->bamboo.leafset_interval = (env_time)c->bamboo_leafset_interval_ms * ENV_MS;
    if (given(c, CONFIG_P_BAMBOO_TABLE_INTERVAL))
        cfg->bamboo.table_interval = (env_time)c->bamboo_table_interval_ms * ENV_MS;
    if (given(c, CONFIG_P_BAMBOO_REACTIVE))
        cfg->bamboo.reactive = c->bamboo_reactive;
    if (given(c, CONFIG_P_BAMBOO_PNS))
        cfg->bamboo.pns = c->bamboo_pns;
    if (given(c, CONFIG_P_SUPERPEER_KEEPALIVE))
        cfg->superpeer.keepalive = (env_time)c->superpeer_keepalive_ms * ENV_MS;
    cfg->kinds = c->n_kinds ? c->kinds : NULL;
    cfg->n_kinds = c->n_kinds;
    gsize len = 0;
    cfg->config_doc = g_bytes_get_data(c->text, &len);
    cfg->config_doc_len = len;
    cfg->config_parse = config_node_parse;
    cfg->config_parse_ud = NULL;
}

int config_node_parse(void *ud, const uint8_t *doc, size_t len, uint32_t overlay,
                      struct node_config_doc *out)
{
    GError *e = NULL;
    GPtrArray *all = parse_document((const char *)doc, len, "ConfigUpdate", &e);
    if (!all) {
        g_debug("ConfigUpdate: %s", e->message);
        g_error_free(e);
        return -1;
    }
    const struct config *c = NULL;
    for (guint i = 0; i < all->len && !c; i++)
        if (((const struct config *)all->pdata[i])->overlay == overlay)
            c = all->pdata[i];
    if (c)
        config_node_doc(c, out);
    g_ptr_array_unref(all);
    return c ? 0 : -1;
}

void config_node_doc(const struct config *c, struct node_config_doc *out)
{
    memset(out, 0, sizeof *out);
    out->overlay = c->overlay;
    out->sequence = c->sequence;
    out->n_kinds = c->n_kinds;
    memcpy(out->kinds, c->kinds, c->n_kinds * sizeof c->kinds[0]);
    for (guint i = 0; i < c->bootstraps->len && out->n_bootstraps < NODE_MAX_BOOTSTRAPS; i++) {
        const struct config_bootstrap *b =
            &g_array_index(c->bootstraps, struct config_bootstrap, i);
        if (b->is_v4)
            out->bootstraps[out->n_bootstraps++] = b->addr;
    }
}

const struct config_setting *config_settings(const struct config *c, size_t *n)
{
    *n = c->settings->len;
    return (const struct config_setting *)(void *)c->settings->data;
}
