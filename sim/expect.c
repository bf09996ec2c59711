/* expect.c — expectations checked against a run's summary metrics (see expect.h).
 *
 * Not from a paper: this is the project's acceptance check for protocol changes (issue
 * "Experiments researchers can trust", section "Expectations").
 */
#include "expect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool expect_compare(double measured, const char *op, double expected)
{
    if (!strcmp(op, ">="))
        return measured >= expected;
    if (!strcmp(op, "<="))
        return measured <= expected;
    if (!strcmp(op, ">"))
        return measured > expected;
    if (!strcmp(op, "<"))
        return measured < expected;
    if (!strcmp(op, "=="))
        return measured == expected;
    if (!strcmp(op, "!="))
        return measured != expected;
    return false;
}

static bool expect_known_op(const char *op)
{
    static const char *const ops[] = {">=", "<=", ">", "<", "==", "!="};
    for (size_t i = 0; i < G_N_ELEMENTS(ops); i++)
        if (op && !strcmp(op, ops[i]))
            return true;
    return false;
}

/* Parses a whole summary value as a finite number (C locale). */
static bool expect_parse(const char *text, double *out)
{
    char *end = NULL;
    if (!text || !*text)
        return false;
    double v = g_ascii_strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static int expect_cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The known metric names, sorted, comma-separated, for the "unknown metric" message. */
static char *expect_names(GHashTable *metrics)
{
    guint n = 0;
    const char **keys = (const char **)g_hash_table_get_keys_as_array(metrics, &n);
    qsort(keys, n, sizeof *keys, expect_cmp_names);
    char *s = g_strjoinv(", ", (char **)keys);
    g_free(keys);
    return s;
}

bool expect_check(const GPtrArray *expect, GHashTable *metrics, GArray *results, GError **err)
{
    for (guint i = 0; expect && i < expect->len; i++) {
        const struct scenario_expect *e = g_ptr_array_index(expect, i);
        const char *where = e->where ? e->where : "expect";
        if (!expect_known_op(e->op)) {
            g_set_error(
                err, SCENARIO_ERROR, SCENARIO_ERROR_KEY,
                "%s: key 'expect.%s': unknown operator '%s' (expected >=, <=, >, <, ==, !=)", where,
                e->metric, e->op ? e->op : "");
            return false;
        }
        const char *text = g_hash_table_lookup(metrics, e->metric);
        if (!text) {
            char *names = expect_names(metrics);
            g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_KEY,
                        "%s: key 'expect.%s': unknown metric '%s' (summary.tsv has: %s)", where,
                        e->metric, e->metric, names);
            g_free(names);
            return false;
        }
        struct expect_result r = {.e = e};
        if (!expect_parse(text, &r.measured)) {
            g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_KEY,
                        "%s: key 'expect.%s': metric '%s' is not a number ('%s')", where, e->metric,
                        e->metric, text);
            return false;
        }
        r.pass = expect_compare(r.measured, e->op, e->value);
        g_array_append_val(results, r);
    }
    return true;
}

unsigned expect_failures(const GArray *results)
{
    unsigned n = 0;
    for (guint i = 0; i < results->len; i++)
        n += !g_array_index(results, struct expect_result, i).pass;
    return n;
}

char *expect_failure_message(const struct expect_result *r)
{
    return g_strdup_printf("expectation failed: %s %s %.15g (measured %.15g) at %s", r->e->metric,
                           r->e->op, r->e->value, r->measured, r->e->where ? r->e->where : "?");
}

char *expect_tsv(const GArray *results)
{
    GString *g = g_string_new("metric\top\texpected\tmeasured\tpass\n");
    for (guint i = 0; i < results->len; i++) {
        const struct expect_result *r = &g_array_index(results, struct expect_result, i);
        g_string_append_printf(g, "%s\t%s\t%.15g\t%.15g\t%s\n", r->e->metric, r->e->op, r->e->value,
                               r->measured, r->pass ? "true" : "false");
    }
    return g_string_free(g, FALSE);
}
