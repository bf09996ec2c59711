/* scenario.c — loads a YAML scenario file (sim/scenario.h) with libyaml's document API.
 *
 * Follows DESIGN.md ("What the product is": a researcher writes a YAML scenario) and STYLE.md
 * point 9 (GError at the edges where a person reads the message); docs/scenarios.md is the
 * user's reference for every key.
 *
 * Loading runs in four steps:
 *   1. libyaml parses the file into a document; we copy it into a small tree of mappings,
 *      sequences and scalars, each node keeping its 1-based line and column;
 *   2. every --set KEY=VALUE override is grafted onto the tree (nodes it creates remember the
 *      override text instead of a position);
 *   3. the tree is checked against one table of key descriptors (dotted name, type, field
 *      offset, default, range): unknown keys, wrong shapes;
 *   4. the table is walked to fill struct scenario, parsing each value (or the default, which
 *      is written in the same syntax as the file), then cross-key rules are checked.
 * A new key is one row in scenario_keys[]; scenario_free() and scenario_to_yaml() follow the
 * same table, so they never need to learn about it.
 */
#include "scenario.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

G_DEFINE_QUARK(p2psip_scenario_error, scenario_error)

/* ---- the key table ------------------------------------------------------------------------- */

enum key_type {
    KEY_STRING,   /* char *, g_strdup'ed; .min = minimum length; .choices restricts values */
    KEY_U32,      /* uint32_t in [.min, .max or UINT32_MAX] */
    KEY_U64,      /* uint64_t in [.min, .max or UINT64_MAX] */
    KEY_DOUBLE,   /* double, finite, >= .fmin (> with KEY_FMIN_OPEN), <= .fmax with KEY_FMAX */
    KEY_DURATION, /* env_time from "200ms", "10s", ... in [.min, .max or UINT64_MAX] us */
    KEY_BOOL,     /* bool from true / false */
    KEY_ENUM,     /* an enum (int-sized) holding the index of the value in .choices */
};

enum {
    KEY_FMIN_OPEN = 1, /* KEY_DOUBLE: the lower bound itself is refused */
    KEY_FMAX = 2,      /* KEY_DOUBLE: .fmax applies */
    KEY_DNS_NAME = 4,  /* KEY_STRING: letters, digits, '-' and '.' only */
};

struct scenario_key {
    const char *name; /* dotted path */
    enum key_type type;
    size_t offset;
    const char *def; /* default, in file syntax; NULL = required */
    uint64_t min, max;
    double fmin, fmax;
    unsigned flags;
    const char *const *choices; /* NULL-terminated */
};

/* The first four fields of a row; the rest are designated where they differ from 0. */
#define KEY(key, type_, field, default_)                                                           \
    .name = key, .type = type_, .offset = offsetof(struct scenario, field), .def = default_

static const char *const topology_names[] = {"chord", NULL};
static const char *const join_names[] = {"instant", "protocol", NULL};
static const char *const latency_names[] = {"constant", "uniform", NULL};

_Static_assert(sizeof(enum scenario_join) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum scenario_latency_model) == sizeof(int), "enums are stored as int");

/* Keys of one section must be adjacent (scenario_to_yaml relies on it); docs/scenarios.md
 * lists them in this order. */
static const struct scenario_key scenario_keys[] = {
    {KEY("name", KEY_STRING, name, NULL), .min = 1},
    {KEY("seed", KEY_U64, seed, "1")},
    {KEY("duration", KEY_DURATION, duration, NULL), .min = 1},
    {KEY("peers", KEY_U32, peers, NULL), .min = 1},
    {KEY("overlay.topology", KEY_STRING, overlay.topology, "chord"), .choices = topology_names},
    /* RFC 6940 section 6.3.2: the overlay name must be usable as a DNS name. */
    {KEY("overlay.name", KEY_STRING, overlay.name, "p2psip.example"), .min = 1,
     .flags = KEY_DNS_NAME},
    {KEY("overlay.join", KEY_ENUM, overlay.join, "instant"), .choices = join_names},
    {KEY("overlay.join_interval", KEY_DURATION, overlay.join_interval, "200ms")},
    {KEY("overlay.successors", KEY_U32, overlay.successors, "4"), .min = 1},
    {KEY("overlay.predecessors", KEY_U32, overlay.predecessors, "4"), .min = 1},
    {KEY("overlay.replicas", KEY_U32, overlay.replicas, "2")},
    {KEY("overlay.update_interval", KEY_DURATION, overlay.update_interval, "60s"), .min = 1},
    {KEY("overlay.ping_interval", KEY_DURATION, overlay.ping_interval, "60s"), .min = 1},
    {KEY("overlay.reactive", KEY_BOOL, overlay.reactive, "true")},
    /* RFC 6940 section 11.1, overlay-reliability-timer: "MUST be at least 200 milliseconds" */
    {KEY("overlay.reliability_timer", KEY_DURATION, overlay.reliability_timer, "3s"),
     .min = 200 * ENV_MS},
    {KEY("latency.model", KEY_ENUM, latency.model, "constant"), .choices = latency_names},
    {KEY("latency.ms", KEY_DOUBLE, latency.ms, "50")},
    {KEY("latency.min_ms", KEY_DOUBLE, latency.min_ms, "10")},
    {KEY("latency.max_ms", KEY_DOUBLE, latency.max_ms, "100")},
    {KEY("workload.start", KEY_DURATION, workload.start, "10s")},
    {KEY("workload.lookups", KEY_U64, workload.lookups, "1000")},
    {KEY("workload.lookup_rate", KEY_DOUBLE, workload.lookup_rate, "100"), .flags = KEY_FMIN_OPEN},
    {KEY("workload.keys", KEY_U64, workload.keys, "0")},
    {KEY("workload.keys_per_peer", KEY_U64, workload.keys_per_peer, "0")},
    {KEY("workload.records", KEY_U64, workload.records, "0")},
    {KEY("workload.record_lifetime", KEY_U32, workload.record_lifetime, "3600"), .min = 1},
    {KEY("workload.value_size", KEY_U32, workload.value_size, "64")},
    {KEY("workload.fetches", KEY_U64, workload.fetches, "0")},
    {KEY("workload.fetch_rate", KEY_DOUBLE, workload.fetch_rate, "100"), .flags = KEY_FMIN_OPEN},
    {KEY("output.pcap", KEY_STRING, output.pcap, "")},
};
#define N_KEYS G_N_ELEMENTS(scenario_keys)

static const struct scenario_key *key_find(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(scenario_keys[i].name, name) == 0)
            return &scenario_keys[i];
    return NULL;
}

/* True when some key lies below `path` (path is a section such as "overlay"). */
static bool key_is_section(const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < N_KEYS; i++)
        if (strncmp(scenario_keys[i].name, path, len) == 0 && scenario_keys[i].name[len] == '.')
            return true;
    return false;
}

/* "a, b, c": the distinct names directly below section `prefix` (NULL = top level). */
static char *key_children(const char *prefix)
{
    size_t len = prefix ? strlen(prefix) + 1 : 0;
    GString *out = g_string_new(NULL);
    GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *name = scenario_keys[i].name;
        if (prefix && (strncmp(name, prefix, len - 1) != 0 || name[len - 1] != '.'))
            continue;
        const char *rest = name + len;
        char *child = g_strndup(rest, strcspn(rest, "."));
        bool dup = false;
        for (guint j = 0; j < seen->len && !dup; j++)
            dup = strcmp(seen->pdata[j], child) == 0;
        if (dup) {
            g_free(child);
            continue;
        }
        g_string_append_printf(out, "%s%s", seen->len ? ", " : "", child);
        g_ptr_array_add(seen, child);
    }
    g_ptr_array_free(seen, TRUE);
    return g_string_free(out, FALSE);
}

static char *choices_text(const char *const *choices)
{
    return g_strjoinv(", ", (char **)choices);
}

/* ---- the tree ------------------------------------------------------------------------------ */

/* Where a node came from: a file position (1-based) or an override string. */
struct spos {
    unsigned line, col;
    const char *origin; /* the override "KEY=VALUE" (borrowed), or NULL */
};

enum snode_kind { SN_SCALAR, SN_SEQUENCE, SN_MAPPING };

struct snode {
    enum snode_kind kind;
    struct spos pos;
    char *text;       /* SN_SCALAR */
    bool null;        /* SN_SCALAR: an empty plain scalar, ~ or null */
    GPtrArray *items; /* SN_SEQUENCE: struct snode * */
    GPtrArray *pairs; /* SN_MAPPING: struct spair *, in document order */
};

struct spair {
    char *key;
    struct spos pos; /* of the key */
    struct snode *value;
};

static void snode_free(struct snode *n);

static void spair_free(void *p)
{
    struct spair *pair = p;
    g_free(pair->key);
    snode_free(pair->value);
    g_free(pair);
}

static void snode_free_cb(void *p)
{
    snode_free(p);
}

static struct snode *snode_new(enum snode_kind kind, struct spos pos)
{
    struct snode *n = g_new0(struct snode, 1);
    n->kind = kind;
    n->pos = pos;
    if (kind == SN_MAPPING)
        n->pairs = g_ptr_array_new_with_free_func(spair_free);
    if (kind == SN_SEQUENCE)
        n->items = g_ptr_array_new_with_free_func(snode_free_cb);
    return n;
}

static void snode_free(struct snode *n)
{
    if (!n)
        return;
    g_free(n->text);
    if (n->items)
        g_ptr_array_free(n->items, TRUE);
    if (n->pairs)
        g_ptr_array_free(n->pairs, TRUE);
    g_free(n);
}

static struct spair *snode_pair(const struct snode *map, const char *key)
{
    for (guint i = 0; i < map->pairs->len; i++) {
        struct spair *p = map->pairs->pdata[i];
        if (strcmp(p->key, key) == 0)
            return p;
    }
    return NULL;
}

static const char *snode_kind_name(const struct snode *n)
{
    return n->kind == SN_MAPPING ? "a mapping" : n->kind == SN_SEQUENCE ? "a sequence" : "a value";
}

/* ---- errors -------------------------------------------------------------------------------- */

struct loader {
    const char *file;
    GError **err;
    struct snode *root;
    const struct snode *found[N_KEYS]; /* the node each key was read from, or NULL */
    size_t nodes;                      /* tree size, bounded against alias bombs */
};

/* Sets the error (the first one wins) and returns false.  The message is
 * "FILE:LINE:COL: key 'K': ..." or "--set K=V: key 'K': ...". */
G_GNUC_PRINTF(5, 6)
static bool fail(struct loader *ld, const struct spos *pos, int code, const char *key,
                 const char *fmt, ...)
{
    if (ld->err && *ld->err)
        return false;
    GString *msg = g_string_new(NULL);
    if (pos->origin)
        g_string_append_printf(msg, "--set %s: ", pos->origin);
    else
        g_string_append_printf(msg, "%s:%u:%u: ", ld->file, pos->line, pos->col);
    if (key)
        g_string_append_printf(msg, "key '%s': ", key);
    va_list ap;
    va_start(ap, fmt);
    g_string_append_vprintf(msg, fmt, ap);
    va_end(ap);
    g_set_error_literal(ld->err, SCENARIO_ERROR, code, msg->str);
    g_string_free(msg, TRUE);
    return false;
}

/* ---- step 1: YAML document -> tree --------------------------------------------------------- */

#define MAX_DEPTH 32
#define MAX_NODES 100000

static struct spos mark_pos(yaml_mark_t m)
{
    return (struct spos){.line = (unsigned)m.line + 1, .col = (unsigned)m.column + 1};
}

static char *path_join(const char *prefix, const char *key)
{
    return prefix ? g_strdup_printf("%s.%s", prefix, key) : g_strdup(key);
}

static struct snode *tree_from_yaml(struct loader *ld, yaml_document_t *doc, yaml_node_t *y,
                                    const char *path, int depth)
{
    struct spos pos = mark_pos(y->start_mark);
    if (depth > MAX_DEPTH || ++ld->nodes > MAX_NODES) {
        fail(ld, &pos, SCENARIO_ERROR_SYNTAX, path, "document nested too deeply or too large");
        return NULL;
    }
    if (y->type == YAML_SCALAR_NODE) {
        const char *v = (const char *)y->data.scalar.value;
        size_t len = y->data.scalar.length;
        if (memchr(v, '\0', len)) {
            fail(ld, &pos, SCENARIO_ERROR_VALUE, path, "value contains a NUL character");
            return NULL;
        }
        struct snode *n = snode_new(SN_SCALAR, pos);
        n->text = g_strndup(v, len);
        n->null = y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                  (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
                   strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
        return n;
    }
    if (y->type == YAML_SEQUENCE_NODE) {
        struct snode *n = snode_new(SN_SEQUENCE, pos);
        for (yaml_node_item_t *it = y->data.sequence.items.start; it < y->data.sequence.items.top;
             it++) {
            struct snode *item =
                tree_from_yaml(ld, doc, yaml_document_get_node(doc, *it), path, depth + 1);
            if (!item) {
                snode_free(n);
                return NULL;
            }
            g_ptr_array_add(n->items, item);
        }
        return n;
    }
    struct snode *n = snode_new(SN_MAPPING, pos);
    for (yaml_node_pair_t *p = y->data.mapping.pairs.start; p < y->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        struct spos kpos = mark_pos(k->start_mark);
        if (k->type != YAML_SCALAR_NODE) {
            fail(ld, &kpos, SCENARIO_ERROR_SYNTAX, path, "keys must be plain names, not %s",
                 k->type == YAML_MAPPING_NODE ? "mappings" : "sequences");
            snode_free(n);
            return NULL;
        }
        char *key = g_strndup((const char *)k->data.scalar.value, k->data.scalar.length);
        char *sub = path_join(path, key);
        struct spair *dup = snode_pair(n, key);
        struct snode *value = NULL;
        if (dup)
            fail(ld, &kpos, SCENARIO_ERROR_KEY, sub, "duplicate key (first given at %u:%u)",
                 dup->pos.line, dup->pos.col);
        else
            value = tree_from_yaml(ld, doc, yaml_document_get_node(doc, p->value), sub, depth + 1);
        g_free(sub);
        if (!value) {
            g_free(key);
            snode_free(n);
            return NULL;
        }
        struct spair *pair = g_new(struct spair, 1);
        *pair = (struct spair){.key = key, .pos = kpos, .value = value};
        g_ptr_array_add(n->pairs, pair);
    }
    return n;
}

/* libyaml's reader errors carry a byte offset only. */
static struct spos offset_pos(const char *buf, size_t len, size_t offset)
{
    struct spos pos = {.line = 1, .col = 1};
    for (size_t i = 0; i < offset && i < len; i++) {
        if (buf[i] == '\n') {
            pos.line++;
            pos.col = 1;
        } else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
            pos.col++;
        }
    }
    return pos;
}

static bool syntax_error(struct loader *ld, yaml_parser_t *p, const char *buf, size_t len)
{
    struct spos pos = p->error == YAML_READER_ERROR ? offset_pos(buf, len, p->problem_offset)
                                                    : mark_pos(p->problem_mark);
    const char *problem = p->problem ? p->problem : "cannot parse";
    if (p->context)
        return fail(ld, &pos, SCENARIO_ERROR_SYNTAX, NULL,
                    "YAML syntax error: %s (%s that started at %u:%u)", problem, p->context,
                    (unsigned)p->context_mark.line + 1, (unsigned)p->context_mark.column + 1);
    return fail(ld, &pos, SCENARIO_ERROR_SYNTAX, NULL, "YAML syntax error: %s", problem);
}

static char *read_all(const char *path, size_t *len, int *errnum)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *errnum = errno;
        return NULL;
    }
    GString *buf = g_string_new(NULL);
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        g_string_append_len(buf, chunk, (gssize)got);
    *errnum = ferror(f) ? errno : 0;
    fclose(f);
    if (*errnum) {
        g_string_free(buf, TRUE);
        return NULL;
    }
    *len = buf->len;
    return g_string_free(buf, FALSE);
}

/* Parses the file into ld->root (a mapping; an empty file gives an empty mapping). */
static bool load_tree(struct loader *ld)
{
    static const struct spos top = {.line = 1, .col = 1};
    size_t len = 0;
    int errnum = 0;
    char *buf = read_all(ld->file, &len, &errnum);
    if (!buf)
        return fail(ld, &top, SCENARIO_ERROR_IO, NULL, "cannot read scenario: %s",
                    g_strerror(errnum));
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    yaml_document_t doc;
    bool ok = yaml_parser_load(&parser, &doc);
    if (!ok) {
        syntax_error(ld, &parser, buf, len);
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) {
            ld->root = snode_new(SN_MAPPING, top);
        } else if (root->type != YAML_MAPPING_NODE) {
            struct spos pos = mark_pos(root->start_mark);
            ok = fail(ld, &pos, SCENARIO_ERROR_SYNTAX, NULL,
                      "a scenario is a mapping of keys (name, duration, peers, ...), not %s",
                      root->type == YAML_SEQUENCE_NODE ? "a sequence" : "a single value");
        } else {
            ld->root = tree_from_yaml(ld, &doc, root, NULL, 0);
            ok = ld->root != NULL;
        }
        yaml_document_delete(&doc);
    }
    if (ok) { /* exactly one document */
        ok = yaml_parser_load(&parser, &doc);
        if (!ok) {
            syntax_error(ld, &parser, buf, len);
        } else {
            yaml_node_t *extra = yaml_document_get_root_node(&doc);
            if (extra) {
                struct spos pos = mark_pos(doc.start_mark);
                ok = fail(ld, &pos, SCENARIO_ERROR_SYNTAX, NULL,
                          "a scenario file holds one YAML document; found a second one");
            }
            yaml_document_delete(&doc);
        }
    }
    yaml_parser_delete(&parser);
    g_free(buf);
    return ok;
}

/* ---- step 2: overrides --------------------------------------------------------------------- */

static bool apply_override(struct loader *ld, const char *ov)
{
    struct spos pos = {.origin = ov};
    const char *eq = strchr(ov, '=');
    if (!eq || eq == ov)
        return fail(ld, &pos, SCENARIO_ERROR_KEY, NULL, "expected KEY=VALUE");
    char *path = g_strstrip(g_strndup(ov, (gsize)(eq - ov)));
    char **parts = g_strsplit(path, ".", -1);
    bool ok = true;
    for (char **p = parts; *p && ok; p++)
        if (**p == '\0')
            ok = fail(ld, &pos, SCENARIO_ERROR_KEY, path, "empty component in dotted key");
    struct snode *map = ld->root;
    for (char **p = parts; ok && *p; p++) {
        struct spair *pair = snode_pair(map, *p);
        bool last = p[1] == NULL;
        struct snode *value = last ? snode_new(SN_SCALAR, pos) : NULL;
        if (last)
            value->text = g_strdup(eq + 1);
        if (pair && !last && pair->value->kind == SN_MAPPING) {
            map = pair->value;
            continue;
        }
        if (!value)
            value = snode_new(SN_MAPPING, pos);
        if (pair) { /* the override replaces what the file said */
            snode_free(pair->value);
            pair->value = value;
        } else {
            pair = g_new(struct spair, 1);
            *pair = (struct spair){.key = g_strdup(*p), .pos = pos, .value = value};
            g_ptr_array_add(map->pairs, pair);
        }
        map = value;
    }
    g_strfreev(parts);
    g_free(path);
    return ok;
}

/* ---- value parsing ------------------------------------------------------------------------- */

enum parse_result { PARSE_OK, PARSE_BAD, PARSE_NEGATIVE, PARSE_TOO_LARGE };

/* Decimal digits with an optional leading '-'. */
static enum parse_result parse_uint(const char *t, uint64_t *out)
{
    bool neg = *t == '-';
    const char *p = t + neg;
    if (!isdigit((unsigned char)*p))
        return PARSE_BAD;
    uint64_t v = 0;
    bool overflow = false;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        overflow |= v > (UINT64_MAX - d) / 10;
        v = v * 10 + d;
    }
    if (*p)
        return PARSE_BAD;
    if (neg && v)
        return PARSE_NEGATIVE;
    *out = v;
    return overflow ? PARSE_TOO_LARGE : PARSE_OK;
}

static const struct {
    const char *name;
    env_time us;
} duration_units[] = {
    {"h", 3600 * ENV_S}, {"m", 60 * ENV_S}, {"s", ENV_S}, {"ms", ENV_MS}, {"us", 1},
};

/* NUMBER[UNIT]: digits, optional fraction, unit us|ms|s|m|h (none = seconds); rounded to the
 * nearest microsecond. */
static enum parse_result parse_duration(const char *t, env_time *out)
{
    bool neg = *t == '-';
    const char *p = t + neg;
    const char *int_start = p;
    while (isdigit((unsigned char)*p))
        p++;
    const char *int_end = p, *frac_start = p;
    if (*p == '.') {
        frac_start = ++p;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (int_end == int_start && p == frac_start) /* no digit at all */
        return PARSE_BAD;
    env_time unit = 0;
    if (*p == '\0') {
        unit = ENV_S;
    } else {
        for (size_t i = 0; i < G_N_ELEMENTS(duration_units); i++)
            if (strcmp(p, duration_units[i].name) == 0)
                unit = duration_units[i].us;
    }
    if (!unit)
        return PARSE_BAD;
    uint64_t whole = 0;
    bool overflow = false;
    for (const char *d = int_start; d < int_end; d++) {
        overflow |= whole > (UINT64_MAX - 9) / 10;
        whole = whole * 10 + (uint64_t)(*d - '0');
    }
    double frac = 0;
    if (p > frac_start) {
        char *digits = g_strndup(frac_start - 1, (gsize)(p - frac_start + 1)); /* ".ddd" */
        frac = g_ascii_strtod(digits, NULL);
        g_free(digits);
    }
    overflow |= whole > UINT64_MAX / unit;
    env_time us = whole * unit;
    env_time part = (env_time)llround(frac * (double)unit);
    overflow |= us > UINT64_MAX - part;
    if (overflow)
        return PARSE_TOO_LARGE;
    us += part;
    if (neg && us)
        return PARSE_NEGATIVE;
    *out = us;
    return PARSE_OK;
}

/* The largest unit that represents us exactly: 200000 -> "200ms", 5400 s -> "90m". */
static void format_duration(env_time us, char *buf, size_t size)
{
    if (us == 0) {
        g_strlcpy(buf, "0s", size);
        return;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(duration_units); i++)
        if (us % duration_units[i].us == 0) {
            g_snprintf(buf, size, "%" G_GUINT64_FORMAT "%s", us / duration_units[i].us,
                       duration_units[i].name);
            return;
        }
}

/* The shortest text that reads back as exactly v. */
static void format_double(double v, char *buf, size_t size)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        g_snprintf(buf, size, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        char fmt[8];
        g_snprintf(fmt, sizeof fmt, "%%.%dg", prec);
        g_ascii_formatd(buf, (gint)size, fmt, v);
        if (g_ascii_strtod(buf, NULL) == v)
            return;
    }
}

/* A sentence describing what the key accepts, for error messages. */
static char *key_expectation(const struct scenario_key *k)
{
    char lo[32];
    switch (k->type) {
    case KEY_STRING:
        if (k->choices) {
            char *c = choices_text(k->choices);
            char *s = g_strdup_printf("one of: %s", c);
            g_free(c);
            return s;
        }
        return g_strdup(k->min ? "a non-empty string" : "a string");
    case KEY_ENUM: {
        char *c = choices_text(k->choices);
        char *s = g_strdup_printf("one of: %s", c);
        g_free(c);
        return s;
    }
    case KEY_BOOL:
        return g_strdup("true or false");
    case KEY_U32:
    case KEY_U64:
        return g_strdup_printf("an integer >= %" G_GUINT64_FORMAT, k->min);
    case KEY_DOUBLE:
        format_double(k->fmin, lo, sizeof lo);
        return g_strdup_printf("a number %s %s", k->flags & KEY_FMIN_OPEN ? ">" : ">=", lo);
    case KEY_DURATION:
        return g_strdup("a duration (a number with unit us, ms, s, m or h, e.g. 200ms; a bare "
                        "number means seconds)");
    }
    g_assert_not_reached();
}

static void store(struct scenario *s, const struct scenario_key *k, const void *v, size_t size)
{
    memcpy((char *)s + k->offset, v, size);
}

#define DNS_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."

static int choice_index(const char *const *choices, const char *t)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], t) == 0)
            return i;
    return -1;
}

/* Parses text t for key k into s.  pos and errors: as fail(). */
static bool parse_value(struct loader *ld, struct scenario *s, const struct scenario_key *k,
                        const char *t, const struct spos *pos)
{
    const int V = SCENARIO_ERROR_VALUE;
    char *want = NULL;
    bool ok = true;
    switch (k->type) {
    case KEY_STRING:
    case KEY_ENUM: {
        int idx = k->choices ? choice_index(k->choices, t) : 0;
        if (idx < 0) {
            char *c = choices_text(k->choices);
            ok = fail(ld, pos, V, k->name, "unknown value '%s' (expected: %s)", t, c);
            g_free(c);
        } else if (strlen(t) < k->min) {
            ok = fail(ld, pos, V, k->name, "must not be empty");
        } else if ((k->flags & KEY_DNS_NAME) && strspn(t, DNS_CHARS) != strlen(t)) {
            ok = fail(ld, pos, V, k->name,
                      "must be a DNS name (letters, digits, '-' and '.'), got '%s'", t);
        } else if (k->type == KEY_ENUM) {
            store(s, k, &idx, sizeof idx);
        } else {
            char **field = (char **)((char *)s + k->offset);
            g_free(*field);
            *field = g_strdup(t);
        }
        break;
    }
    case KEY_BOOL: {
        bool b = strcmp(t, "true") == 0;
        if (!b && strcmp(t, "false") != 0)
            ok = fail(ld, pos, V, k->name, "expected true or false, got '%s'", t);
        else
            store(s, k, &b, sizeof b);
        break;
    }
    case KEY_U32:
    case KEY_U64: {
        uint64_t max = k->max ? k->max : k->type == KEY_U32 ? UINT32_MAX : UINT64_MAX;
        uint64_t v = 0;
        enum parse_result r = parse_uint(t, &v);
        if (r == PARSE_BAD) {
            want = key_expectation(k);
            ok = fail(ld, pos, V, k->name, "expected %s, got '%s'", want, t);
        } else if (r == PARSE_TOO_LARGE || (r == PARSE_OK && v > max)) {
            ok = fail(ld, pos, V, k->name, "must be <= %" G_GUINT64_FORMAT ", got %s", max, t);
        } else if (r == PARSE_NEGATIVE || v < k->min) {
            ok = fail(ld, pos, V, k->name, "must be >= %" G_GUINT64_FORMAT ", got %s", k->min, t);
        } else if (k->type == KEY_U32) {
            uint32_t v32 = (uint32_t)v;
            store(s, k, &v32, sizeof v32);
        } else {
            store(s, k, &v, sizeof v);
        }
        break;
    }
    case KEY_DOUBLE: {
        char *end = NULL;
        double v = *t && !isspace((unsigned char)*t) ? g_ascii_strtod(t, &end) : NAN;
        char bound[32];
        bool open = k->flags & KEY_FMIN_OPEN;
        if (!end || *end || !isfinite(v)) {
            want = key_expectation(k);
            ok = fail(ld, pos, V, k->name, "expected %s, got '%s'", want, t);
        } else if (v < k->fmin || (open && v == k->fmin)) {
            format_double(k->fmin, bound, sizeof bound);
            ok = fail(ld, pos, V, k->name, "must be %s %s, got %s", open ? ">" : ">=", bound, t);
        } else if ((k->flags & KEY_FMAX) && v > k->fmax) {
            format_double(k->fmax, bound, sizeof bound);
            ok = fail(ld, pos, V, k->name, "must be <= %s, got %s", bound, t);
        } else {
            store(s, k, &v, sizeof v);
        }
        break;
    }
    case KEY_DURATION: {
        env_time v = 0;
        uint64_t max = k->max ? k->max : UINT64_MAX;
        char bound[32];
        enum parse_result r = parse_duration(t, &v);
        if (r == PARSE_BAD) {
            want = key_expectation(k);
            ok = fail(ld, pos, V, k->name, "expected %s, got '%s'", want, t);
        } else if (r == PARSE_TOO_LARGE || (r == PARSE_OK && v > max)) {
            format_duration(max, bound, sizeof bound);
            ok = fail(ld, pos, V, k->name, "duration must be <= %s, got '%s'", bound, t);
        } else if (r == PARSE_NEGATIVE || v < k->min) {
            format_duration(k->min, bound, sizeof bound);
            ok = fail(ld, pos, V, k->name, "duration must be >= %s, got '%s'", bound, t);
        } else {
            store(s, k, &v, sizeof v);
        }
        break;
    }
    }
    g_free(want);
    return ok;
}

/* ---- step 3: shape check ------------------------------------------------------------------- */

static bool check_shape(struct loader *ld, const struct snode *map, const char *prefix)
{
    for (guint i = 0; i < map->pairs->len; i++) {
        const struct spair *p = map->pairs->pdata[i];
        char *path = path_join(prefix, p->key);
        const struct scenario_key *k = key_find(path);
        const struct snode *v = p->value;
        bool ok = true;
        if (k) {
            if (v->kind != SN_SCALAR) {
                char *want = key_expectation(k);
                ok = fail(ld, &v->pos, SCENARIO_ERROR_VALUE, path, "expected %s, got %s", want,
                          snode_kind_name(v));
                g_free(want);
            } else if (v->null) {
                char *want = key_expectation(k);
                ok = fail(ld, &v->pos, SCENARIO_ERROR_VALUE, path, "missing value (expected %s)",
                          want);
                g_free(want);
            }
        } else if (key_is_section(path)) {
            if (v->kind == SN_MAPPING) {
                ok = check_shape(ld, v, path);
            } else if (!(v->kind == SN_SCALAR && v->null)) { /* "overlay:" alone is empty */
                char *children = key_children(path);
                ok = fail(ld, &v->pos, SCENARIO_ERROR_VALUE, path,
                          "expected a mapping (keys: %s), got %s", children, snode_kind_name(v));
                g_free(children);
            }
        } else {
            char *children = key_children(prefix);
            if (prefix)
                ok = fail(ld, &p->pos, SCENARIO_ERROR_KEY, path,
                          "unknown key (valid keys in '%s': %s)", prefix, children);
            else
                ok = fail(ld, &p->pos, SCENARIO_ERROR_KEY, path,
                          "unknown key (valid top-level keys: %s)", children);
            g_free(children);
        }
        g_free(path);
        if (!ok)
            return false;
    }
    return true;
}

/* ---- step 4: fill the struct --------------------------------------------------------------- */

/* The scalar for a dotted key, or NULL; *enclosing is the deepest mapping on the way. */
static const struct snode *tree_lookup(const struct snode *root, const char *name,
                                       const struct snode **enclosing)
{
    char **parts = g_strsplit(name, ".", -1);
    const struct snode *n = root;
    *enclosing = root;
    for (char **p = parts; *p && n; p++) {
        if (n->kind != SN_MAPPING) { /* a null section */
            n = NULL;
            break;
        }
        *enclosing = n;
        struct spair *pair = snode_pair(n, *p);
        n = pair ? pair->value : NULL;
    }
    g_strfreev(parts);
    return n;
}

static bool fill(struct loader *ld, struct scenario *s)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct scenario_key *k = &scenario_keys[i];
        const struct snode *enclosing;
        const struct snode *n = tree_lookup(ld->root, k->name, &enclosing);
        ld->found[i] = n;
        if (n) {
            if (!parse_value(ld, s, k, n->text, &n->pos))
                return false;
        } else if (k->def) {
            static const struct spos builtin = {.origin = "(built-in default)"};
            bool ok = parse_value(ld, s, k, k->def, &builtin);
            g_assert(ok); /* a default that does not parse is a bug in the table */
        } else {
            return fail(ld, &enclosing->pos, SCENARIO_ERROR_KEY, k->name, "missing required key");
        }
    }
    return true;
}

static const struct spos *key_pos(const struct loader *ld, const char *name)
{
    const struct scenario_key *k = key_find(name);
    g_assert(k);
    const struct snode *n = ld->found[k - scenario_keys];
    return n ? &n->pos : &ld->root->pos;
}

static bool key_given(const struct loader *ld, const char *name)
{
    const struct scenario_key *k = key_find(name);
    g_assert(k);
    return ld->found[k - scenario_keys] != NULL;
}

/* Rules that involve more than one key.  Errors point at the key the user most likely set. */
static bool check_cross(struct loader *ld, struct scenario *s)
{
    const int V = SCENARIO_ERROR_VALUE;
    if (s->latency.min_ms > s->latency.max_ms) {
        const char *at = key_given(ld, "latency.min_ms") ? "latency.min_ms" : "latency.max_ms";
        char lo[32], hi[32];
        format_double(s->latency.min_ms, lo, sizeof lo);
        format_double(s->latency.max_ms, hi, sizeof hi);
        return fail(ld, key_pos(ld, at), V, at,
                    "latency.min_ms (%s) must not exceed latency.max_ms (%s)", lo, hi);
    }
    if (s->overlay.replicas > s->overlay.successors) {
        const char *at =
            key_given(ld, "overlay.replicas") ? "overlay.replicas" : "overlay.successors";
        return fail(ld, key_pos(ld, at), V, at,
                    "overlay.replicas (%u) must not exceed overlay.successors (%u): replicas "
                    "are stored on successors",
                    s->overlay.replicas, s->overlay.successors);
    }
    if (s->workload.keys_per_peer) {
        uint64_t per = s->workload.keys_per_peer;
        const char *at = "workload.keys_per_peer";
        if (per > UINT64_MAX / s->peers)
            return fail(ld, key_pos(ld, at), V, at, "peers * keys_per_peer overflows");
        uint64_t keys = per * s->peers;
        if (key_given(ld, "workload.keys") && s->workload.keys != keys)
            return fail(ld, key_pos(ld, "workload.keys"), V, "workload.keys",
                        "%" G_GUINT64_FORMAT
                        " contradicts workload.keys_per_peer (%" G_GUINT64_FORMAT
                        " per peer * %" G_GUINT32_FORMAT " peers = %" G_GUINT64_FORMAT
                        "); set only one of them",
                        s->workload.keys, per, s->peers, keys);
        s->workload.keys = keys;
    }
    return true;
}

/* ---- public API ---------------------------------------------------------------------------- */

struct scenario *scenario_load(const char *path, const char *const *overrides, GError **err)
{
    g_return_val_if_fail(path != NULL, NULL);
    g_return_val_if_fail(err == NULL || *err == NULL, NULL);
    GError *local = NULL;
    struct loader ld = {.file = path, .err = &local};
    struct scenario *s = g_new0(struct scenario, 1);
    s->file = g_strdup(path);
    bool ok = load_tree(&ld);
    for (size_t i = 0; ok && overrides && overrides[i]; i++)
        ok = apply_override(&ld, overrides[i]);
    ok = ok && check_shape(&ld, ld.root, NULL) && fill(&ld, s) && check_cross(&ld, s);
    snode_free(ld.root);
    if (!ok) {
        scenario_free(s);
        g_propagate_error(err, local);
        return NULL;
    }
    return s;
}

void scenario_free(struct scenario *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < N_KEYS; i++)
        if (scenario_keys[i].type == KEY_STRING)
            g_free(*(char **)((char *)s + scenario_keys[i].offset));
    g_free(s->file);
    g_free(s);
}

static void yaml_quote(GString *out, const char *t)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_printf(out, "\\%c", *p);
        else if (*p == '\n')
            g_string_append(out, "\\n");
        else if (*p == '\t')
            g_string_append(out, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            g_string_append_printf(out, "\\x%02x", *p);
        else
            g_string_append_c(out, (char)*p);
    }
    g_string_append_c(out, '"');
}

char *scenario_to_yaml(const struct scenario *s)
{
    GString *out = g_string_new("# p2psip scenario, fully resolved: every key, defaults "
                                "included (docs/scenarios.md)\n");
    char **prev = g_new0(char *, 1);
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct scenario_key *k = &scenario_keys[i];
        char **parts = g_strsplit(k->name, ".", -1);
        guint depth = g_strv_length(parts) - 1;
        /* Open the sections this key does not share with the previous one. */
        guint common = 0;
        while (common < depth && prev[common] && strcmp(prev[common], parts[common]) == 0)
            common++;
        for (guint d = common; d < depth; d++)
            g_string_append_printf(out, "%*s%s:\n", (int)(2 * d), "", parts[d]);
        g_string_append_printf(out, "%*s%s: ", (int)(2 * depth), "", parts[depth]);
        const void *field = (const char *)s + k->offset;
        char buf[64];
        switch (k->type) {
        case KEY_STRING:
            yaml_quote(out, *(char *const *)field ? *(char *const *)field : "");
            break;
        case KEY_ENUM:
            g_string_append(out, k->choices[*(const int *)field]);
            break;
        case KEY_BOOL:
            g_string_append(out, *(const bool *)field ? "true" : "false");
            break;
        case KEY_U32:
            g_string_append_printf(out, "%" G_GUINT32_FORMAT, *(const uint32_t *)field);
            break;
        case KEY_U64:
            g_string_append_printf(out, "%" G_GUINT64_FORMAT, *(const uint64_t *)field);
            break;
        case KEY_DOUBLE:
            format_double(*(const double *)field, buf, sizeof buf);
            g_string_append(out, buf);
            break;
        case KEY_DURATION:
            format_duration(*(const env_time *)field, buf, sizeof buf);
            g_string_append(out, buf);
            break;
        }
        g_string_append_c(out, '\n');
        g_strfreev(prev);
        prev = parts;
    }
    g_strfreev(prev);
    return g_string_free(out, FALSE);
}
