/* compare.c — `p2psip compare RUN_DIR...`: results of several runs side by side
 * (analysis/plot.h).
 *
 * Each folder is a run folder (its summary.tsv) or a sweep or seed-group folder (its
 * aggregate.tsv: one column per sweep point with the mean over seeds and its 95 % confidence
 * interval).  The command prints one aligned table (a row per metric, a column per run; for
 * two columns also the difference and the relative difference, starred when the confidence
 * intervals do not overlap), writes the same numbers as compare.tsv in long format and draws
 * overlaid figures of the run folders: hop-count distributions and latency CDFs (the figures
 * of Stoica et al., SIGCOMM 2001, §6.3) and, when the runs have time series, alive peers and
 * lookup success over time (§6.4–6.5).  Everything lands in --out (default ./compare/).
 */
#include <errno.h>
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../cli/cli.h"
#include "plot.h"
#include "plot_int.h"

/* One cell of the table: the value as written in the file and, for means over seeds, the
 * 95 % confidence interval. */
struct compare_value {
    char *text;
    double v, lo, hi;
    gboolean numeric, has_ci;
};

/* The values of one run folder, or of one point of a sweep (or of a seed group). */
struct compare_col {
    char *label;        /* folder name, plus the sweep point: compare.tsv's run, the legend */
    char *dir;          /* the folder as given */
    guint source;       /* index of the folder on the command line: the table's column */
    char *point;        /* "k1=v1, k2=v2" for a sweep point, "" otherwise: a group of rows */
    GPtrArray *pkeys;   /* char *: the swept keys of the point (empty for a run folder) */
    GPtrArray *pvals;   /* char *: their values */
    gboolean is_run;    /* a run folder (summary.tsv), whose figures can be overlaid */
    GHashTable *values; /* metric -> struct compare_value *; order kept in metrics */
    GPtrArray *metrics; /* char *: the metrics in file order */
};

static void compare_value_free(struct compare_value *v)
{
    g_free(v->text);
    g_free(v);
}

static struct compare_col *compare_col_new(const char *dir, guint source, const char *name,
                                           const char *point, gboolean is_run)
{
    struct compare_col *c = g_new0(struct compare_col, 1);
    c->dir = g_strdup(dir);
    c->source = source;
    c->point = g_strdup(point);
    c->label = *point ? g_strdup_printf("%s %s", name, point) : g_strdup(name);
    c->is_run = is_run;
    c->values =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)compare_value_free);
    c->metrics = g_ptr_array_new_with_free_func(g_free);
    c->pkeys = g_ptr_array_new_with_free_func(g_free);
    c->pvals = g_ptr_array_new_with_free_func(g_free);
    return c;
}

static void compare_col_free(struct compare_col *c)
{
    g_free(c->dir);
    g_free(c->label);
    g_free(c->point);
    g_hash_table_unref(c->values);
    g_ptr_array_unref(c->metrics);
    g_ptr_array_unref(c->pkeys);
    g_ptr_array_unref(c->pvals);
    g_free(c);
}

/* Adds a metric (the first occurrence wins; the key is owned by c->metrics). */
static void compare_col_add(struct compare_col *c, const char *metric, struct compare_value *v)
{
    if (g_hash_table_contains(c->values, metric)) {
        compare_value_free(v);
        return;
    }
    char *key = g_strdup(metric);
    g_ptr_array_add(c->metrics, key);
    g_hash_table_insert(c->values, key, v);
}

/* A label without tabs or line breaks, so that compare.tsv stays one row per line. */
static char *compare_clean(const char *s)
{
    char *out = g_strdup(s);
    for (char *p = out; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r')
            *p = ' ';
    return out;
}

/* A run folder: one column from summary.tsv (metric, value). */
static gboolean compare_load_run(const char *dir, guint source, const char *name, GPtrArray *cols,
                                 GError **err)
{
    static const char *const req[] = {"metric", "value", NULL};
    struct plot_table *t;
    if (!plot_table_load_optional(dir, "summary.tsv", req, &t, err))
        return FALSE;
    g_assert(t); /* the caller checked that the file exists */
    int cm = plot_table_column(t, "metric"), cv = plot_table_column(t, "value");
    struct compare_col *c = compare_col_new(dir, source, name, "", TRUE);
    for (guint r = 0; r < t->rows->len; r++) {
        struct compare_value *v = g_new0(struct compare_value, 1);
        v->text = compare_clean(plot_table_cell(t, r, cv));
        char *end = NULL;
        v->v = g_ascii_strtod(v->text, &end);
        v->numeric = end != v->text && *end == '\0' && isfinite(v->v);
        compare_col_add(c, plot_table_cell(t, r, cm), v);
    }
    plot_table_free(t);
    g_ptr_array_add(cols, c);
    return TRUE;
}

/* A sweep or seed-group folder: one column per sweep point from aggregate.tsv (swept keys,
 * then metric, n, mean, ci95_low, ci95_high). */
static gboolean compare_load_aggregate(const char *dir, guint source, const char *name,
                                       GPtrArray *cols, GError **err)
{
    static const char *const req[] = {"metric", "mean", "ci95_low", "ci95_high", NULL};
    struct plot_table *t;
    if (!plot_table_load_optional(dir, "aggregate.tsv", req, &t, err))
        return FALSE;
    g_assert(t);
    int cm = plot_table_column(t, "metric"), cmean = plot_table_column(t, "mean"),
        clo = plot_table_column(t, "ci95_low"), chi = plot_table_column(t, "ci95_high"),
        cn = plot_table_column(t, "n");
    int nkeys = cm; /* the swept keys are the columns before "metric" */
    GHashTable *by_point = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    gboolean ok = TRUE;
    for (guint r = 0; ok && r < t->rows->len; r++) {
        GString *point = g_string_new(NULL);
        for (int k = 0; k < nkeys; k++)
            g_string_append_printf(point, "%s%s=%s", k ? ", " : "",
                                   (const char *)g_ptr_array_index(t->header, (guint)k),
                                   plot_table_cell(t, r, k));
        char *clean = compare_clean(point->str);
        g_string_free(point, TRUE);
        struct compare_col *c = g_hash_table_lookup(by_point, clean);
        if (!c) {
            c = compare_col_new(dir, source, name, clean, FALSE);
            for (int k = 0; k < nkeys; k++) {
                g_ptr_array_add(c->pkeys, compare_clean(g_ptr_array_index(t->header, (guint)k)));
                g_ptr_array_add(c->pvals, compare_clean(plot_table_cell(t, r, k)));
            }
            g_hash_table_insert(by_point, g_strdup(clean), c);
            g_ptr_array_add(cols, c);
        }
        g_free(clean);
        struct compare_value *v = g_new0(struct compare_value, 1);
        ok = plot_table_number(t, r, cmean, TRUE, &v->v, err) &&
             plot_table_number(t, r, clo, TRUE, &v->lo, err) &&
             plot_table_number(t, r, chi, TRUE, &v->hi, err);
        v->text = compare_clean(plot_table_cell(t, r, cmean));
        v->numeric = ok && !isnan(v->v);
        /* One seed has no interval (aggregate.tsv writes the mean as both bounds). */
        double n = 2;
        if (cn >= 0 && !plot_table_number(t, r, cn, TRUE, &n, err))
            ok = FALSE;
        v->has_ci = v->numeric && !isnan(v->lo) && !isnan(v->hi) && !(n < 2);
        compare_col_add(c, plot_table_cell(t, r, cm), v);
    }
    g_hash_table_unref(by_point);
    plot_table_free(t);
    return ok;
}

/* ---- the table ------------------------------------------------------------------------- */

static char *compare_format(const char *fmt, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    return g_strdup(g_ascii_formatd(buf, sizeof buf, fmt, v));
}

static char *compare_cell(const struct compare_value *v)
{
    if (!v)
        return g_strdup("-");
    if (!v->has_ci)
        return g_strdup(v->text);
    double half = (v->hi - v->lo) / 2;
    if (!(half > 0) || !isfinite(half))
        return g_strdup_printf("%s ± 0", v->text);
    /* The half-width to two significant digits and the mean to the same decimal place
     * (0.9959 ± 0.0033, 747.0 ± 6.7, 1500 ± 1800): digits beyond the interval mean nothing.
     * compare.tsv keeps every digit. */
    int place = (int)floor(log10(half)) - 1; /* the last significant digit's power of ten */
    if (place >= 0) {
        double unit = pow(10, place);
        return g_strdup_printf("%.0f ± %.0f", round(v->v / unit) * unit, round(half / unit) * unit);
    }
    return g_strdup_printf("%.*f ± %.*f", -place, v->v, -place, half);
}

/* Digits after the decimal point of a number as written ("1347.056": 3, "10000": 0), or -1
 * when it is not written in plain decimal notation. */
static int compare_decimals(const char *text)
{
    if (strpbrk(text, "eEnN"))
        return -1;
    const char *dot = strchr(text, '.');
    return dot ? (int)strlen(dot + 1) : 0;
}

/* The difference b - a and its size relative to a; "*" when both have confidence intervals
 * and they do not overlap. */
static void compare_diff(const struct compare_value *a, const struct compare_value *b, char **diff,
                         char **rel, gboolean *starred)
{
    *starred = FALSE;
    if (!a || !b || !a->numeric || !b->numeric) {
        *diff = g_strdup("");
        *rel = g_strdup("");
        return;
    }
    double d = b->v - a->v;
    int pa = compare_decimals(a->text), pb = compare_decimals(b->text);
    int places = pa < 0 || pb < 0 ? -1 : MAX(pa, pb);
    if (d == 0) {
        *diff = g_strdup("0");
    } else if (places >= 0) {
        char *fmt = g_strdup_printf("%%+.%df", places);
        *diff = compare_format(fmt, d);
        g_free(fmt);
    } else {
        *diff = compare_format("%+.6g", d);
    }
    if (d == 0) {
        *rel = g_strdup("0 %");
    } else if (a->v != 0) {
        char *pct = compare_format("%+.2f", 100 * d / fabs(a->v));
        *rel = g_strdup_printf("%s %%", pct);
        g_free(pct);
    } else {
        *rel = g_strdup("-");
    }
    if (a->has_ci && b->has_ci && (b->lo > a->hi || b->hi < a->lo)) {
        char *s = g_strdup_printf("%s *", *rel);
        g_free(*rel);
        *rel = s;
        *starred = TRUE;
    }
}

/* Adds s to a list of distinct strings (borrowed) unless it is there already. */
static void compare_add_once(GPtrArray *list, const char *s)
{
    if (!g_ptr_array_find_with_equal_func(list, s, g_str_equal, NULL))
        g_ptr_array_add(list, (gpointer)s);
}

static void compare_pad(GString *out, const char *s, glong width, gboolean right)
{
    glong n = g_utf8_strlen(s, -1);
    if (right)
        for (glong i = n; i < width; i++)
            g_string_append_c(out, ' ');
    g_string_append(out, s);
    if (!right)
        for (glong i = n; i < width; i++)
            g_string_append_c(out, ' ');
}

/* One row of the table for a metric at a sweep point ("" outside sweeps): a cell per folder
 * and, for two folders, their difference. */
static char **compare_row(GPtrArray *cols, guint nsources, const char *point, const char *metric,
                          gboolean *starred)
{
    gboolean two = nsources == 2;
    char **row = g_new0(char *, 1 + nsources + (two ? 2 : 0) + 1);
    row[0] = g_strdup(metric);
    const struct compare_value *v[2] = {NULL, NULL};
    for (guint src = 0; src < nsources; src++) {
        const struct compare_value *cv = NULL;
        for (guint i = 0; i < cols->len && !cv; i++) {
            const struct compare_col *c = g_ptr_array_index(cols, i);
            if (c->source == src && !strcmp(c->point, point))
                cv = g_hash_table_lookup(c->values, metric);
        }
        if (src < 2)
            v[src] = cv;
        row[1 + src] = compare_cell(cv);
    }
    if (two)
        compare_diff(v[0], v[1], &row[3], &row[4], starred);
    return row;
}

/* The table as text: a column per folder, a row per metric, and for sweeps a group of rows per
 * sweep point (points matched by their swept values, so two sweeps of the same keys line up).
 * Column widths come from the widest cell. */
static char *compare_table(GPtrArray *cols, GPtrArray *sources, char **only)
{
    guint nsources = sources->len;
    guint ncells = 1 + nsources + (nsources == 2 ? 2 : 0);
    GPtrArray *points = g_ptr_array_new();
    for (guint i = 0; i < cols->len; i++)
        compare_add_once(points, ((struct compare_col *)g_ptr_array_index(cols, i))->point);
    GPtrArray *rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    char **head = g_new0(char *, ncells + 1);
    head[0] = g_strdup("metric");
    for (guint src = 0; src < nsources; src++)
        head[1 + src] = g_strdup(g_ptr_array_index(sources, src));
    if (nsources == 2) {
        head[3] = g_strdup("difference");
        head[4] = g_strdup("relative");
    }
    g_ptr_array_add(rows, head);
    gboolean any_star = FALSE;
    for (guint p = 0; p < points->len; p++) {
        const char *point = g_ptr_array_index(points, p);
        if (*point) { /* a heading row: the sweep point */
            char **row = g_new0(char *, 2);
            row[0] = g_strdup_printf("[%s]", point);
            g_ptr_array_add(rows, row);
        }
        GPtrArray *metrics = g_ptr_array_new();
        for (guint i = 0; i < cols->len; i++) {
            const struct compare_col *c = g_ptr_array_index(cols, i);
            for (guint m = 0; !strcmp(c->point, point) && m < c->metrics->len; m++)
                if (!only || g_strv_contains((const char *const *)only,
                                             g_ptr_array_index(c->metrics, m)))
                    compare_add_once(metrics, g_ptr_array_index(c->metrics, m));
        }
        for (guint m = 0; m < metrics->len; m++) {
            gboolean star = FALSE;
            g_ptr_array_add(
                rows, compare_row(cols, nsources, point, g_ptr_array_index(metrics, m), &star));
            any_star |= star;
        }
        g_ptr_array_unref(metrics);
    }
    glong *width = g_new0(glong, ncells);
    for (guint r = 0; r < rows->len; r++) {
        char **row = g_ptr_array_index(rows, r);
        for (guint k = 0; k < ncells && row[k] && (k > 0 || row[1]); k++)
            width[k] = MAX(width[k], g_utf8_strlen(row[k], -1));
    }
    GString *out = g_string_new(NULL);
    for (guint r = 0; r < rows->len; r++) {
        char **row = g_ptr_array_index(rows, r);
        if (!row[1]) { /* a sweep point heading spans the line */
            g_string_append_printf(out, "%s%s\n", r > 1 ? "\n" : "", row[0]);
            continue;
        }
        for (guint k = 0; k < ncells; k++) {
            if (k)
                g_string_append(out, "  ");
            compare_pad(out, row[k], width[k], k > 0); /* metric left, numbers right */
        }
        g_string_append_c(out, '\n');
    }
    if (any_star)
        g_string_append(out, "* the 95 % confidence intervals do not overlap\n");
    g_free(width);
    g_ptr_array_unref(rows);
    g_ptr_array_unref(points);
    return g_string_free(out, FALSE);
}

/* compare.tsv: run, metric, value, ci95_low, ci95_high (NA without an interval). */
static char *compare_tsv(GPtrArray *cols)
{
    GString *out = g_string_new("run\tmetric\tvalue\tci95_low\tci95_high\n");
    for (guint i = 0; i < cols->len; i++) {
        const struct compare_col *c = g_ptr_array_index(cols, i);
        for (guint m = 0; m < c->metrics->len; m++) {
            const char *metric = g_ptr_array_index(c->metrics, m);
            const struct compare_value *v = g_hash_table_lookup(c->values, metric);
            g_string_append_printf(out, "%s\t%s\t%s\t", c->label, metric,
                                   *v->text ? v->text : "NA");
            if (v->has_ci) {
                plot_number(out, v->lo);
                g_string_append_c(out, '\t');
                plot_number(out, v->hi);
                g_string_append_c(out, '\n');
            } else {
                g_string_append(out, "NA\tNA\n");
            }
        }
    }
    return g_string_free(out, FALSE);
}

/* ---- overlaid figures ------------------------------------------------------------------ */

/* One line of an overlay: x and y of one run. */
struct compare_line {
    const char *label;
    GArray *xs, *ys;
};

static void compare_line_clear(gpointer p)
{
    struct compare_line *l = p;
    g_array_unref(l->xs);
    g_array_unref(l->ys);
}

/* Reads one figure's data from every run folder that has the file.  kind: "hops" (fractions of
 * lookups per hop count), "latency" (the CDF) or a time-series metric. */
static gboolean compare_lines(GPtrArray *cols, const char *kind, GArray *lines, GError **err)
{
    gboolean hops = !strcmp(kind, "hops"), latency = !strcmp(kind, "latency");
    const char *file = hops ? "hops.tsv" : latency ? "latency_cdf.tsv" : "timeseries.tsv";
    static const char *const req_hops[] = {"hops", "count", NULL};
    static const char *const req_lat[] = {"latency_ms", "fraction", NULL};
    static const char *const req_ts[] = {"time_s", "metric", "value", NULL};
    const char *const *req = hops ? req_hops : latency ? req_lat : req_ts;
    for (guint i = 0; i < cols->len; i++) {
        const struct compare_col *c = g_ptr_array_index(cols, i);
        if (!c->is_run)
            continue;
        struct plot_table *t;
        if (!plot_table_load_optional(c->dir, file, req, &t, err))
            return FALSE;
        if (!t)
            continue;
        struct compare_line l = {.label = c->label,
                                 .xs = g_array_new(FALSE, FALSE, sizeof(double)),
                                 .ys = g_array_new(FALSE, FALSE, sizeof(double))};
        gboolean ok = hops || latency ? plot_table_xy(t, plot_table_column(t, req[0]),
                                                      plot_table_column(t, req[1]), l.xs, l.ys, err)
                                      : plot_series_select(t, kind, l.xs, l.ys, err);
        plot_table_free(t);
        if (!ok) {
            compare_line_clear(&l);
            return FALSE;
        }
        if (hops) { /* counts to fractions: runs with different numbers of lookups compare */
            double total = 0;
            for (guint k = 0; k < l.ys->len; k++)
                total += g_array_index(l.ys, double, k);
            for (guint k = 0; total > 0 && k < l.ys->len; k++)
                g_array_index(l.ys, double, k) /= total;
        }
        gboolean any = FALSE;
        for (guint k = 0; k < l.ys->len; k++)
            any |= !isnan(g_array_index(l.ys, double, k));
        if (any)
            g_array_append_val(lines, l);
        else
            compare_line_clear(&l);
    }
    return TRUE;
}

static const struct compare_overlay {
    const char *kind, *stem, *what, *title, *xlabel, *ylabel, *key;
} compare_overlays[] = {
    {"hops", "hops", "hop-count distributions of the compared runs (hops.tsv)", "hops per lookup",
     "hops (overlay links crossed by a lookup)", "fraction of lookups", "top right"},
    {"latency", "latency_cdf", "lookup latency CDFs of the compared runs (latency_cdf.tsv)",
     "lookup latency, cumulative distribution", "lookup latency (ms)",
     "fraction of lookups with latency ≤ x", "bottom right"},
    {"alive_peers", "time_alive_peers", "alive peers over time (timeseries.tsv)",
     "alive peers over time", "simulated time (s)", "alive peers (count)", "bottom left"},
    {"lookup_success", "time_lookup_success", "lookup success over time (timeseries.tsv)",
     "lookup success over time", "simulated time (s)", "lookup success (fraction correct)",
     "bottom left"},
};

static struct plot_figure *compare_figure(const struct compare_overlay *o, GArray *lines,
                                          const char *scenarios)
{
    struct plot_figure *f = plot_figure_new(o->stem, o->what);
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    g_string_append(f->body, "plot ");
    for (guint i = 0; i < lines->len; i++) {
        const struct compare_line *l = &g_array_index(lines, struct compare_line, i);
        g_string_append_printf(f->setup, "$run%u << EOD\n", i);
        for (guint k = 0; k < l->xs->len; k++) {
            double x = g_array_index(l->xs, double, k), y = g_array_index(l->ys, double, k);
            plot_number(f->setup, x);
            g_string_append_c(f->setup, '\t');
            plot_number(f->setup, y);
            g_string_append_c(f->setup, '\n');
            xmin = MIN(xmin, x);
            xmax = MAX(xmax, x);
            if (!isnan(y)) {
                ymin = MIN(ymin, y);
                ymax = MAX(ymax, y);
            }
        }
        g_string_append(f->setup, "EOD\n");
        g_string_append_printf(f->body, "%s$run%u using 1:2 with %s linetype %u title ",
                               i ? ", \\\n     " : "", i, plot_line_style(l->xs->len), i + 1);
        plot_quote(f->body, l->label);
    }
    g_string_append_c(f->body, '\n');

    char *title = g_strdup_printf("%s: %s", scenarios, o->title);
    plot_set_text(f->setup, "title", title);
    g_free(title);
    plot_set_text(f->setup, "xlabel", o->xlabel);
    plot_set_text(f->setup, "ylabel", o->ylabel);
    g_string_append_printf(f->setup, "set key %s\n", o->key);
    if (!strcmp(o->kind, "hops")) {
        if (xmax - xmin <= 30)
            g_string_append(f->setup, "set xtics 1\n");
        plot_set_range(f->setup, "x", xmin - 0.5, xmax + 0.5, FALSE);
        g_string_append(f->setup, "set yrange [0:*]\n");
    } else if (!strcmp(o->kind, "latency")) {
        plot_set_range(f->setup, "x", MIN(xmin, 0), xmax, FALSE);
        g_string_append(f->setup, "set yrange [0:1.02]\nset ytics 0,0.1,1\n");
    } else {
        if (xmin == xmax)
            plot_set_range(f->setup, "x", xmin, xmax, FALSE);
        if (!strcmp(o->kind, "lookup_success"))
            plot_set_range(f->setup, "y", MAX(0.0, floor((ymin - 0.05) * 10) / 10), MAX(1.01, ymax),
                           FALSE);
        else
            plot_set_range(f->setup, "y", 0, ymax > 0 ? ymax * 1.08 : 1, FALSE);
    }
    return f;
}

/* The scenario names of the run folders, each once, for the figures' titles. */
static char *compare_scenarios(GPtrArray *cols)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < cols->len; i++) {
        const struct compare_col *c = g_ptr_array_index(cols, i);
        if (!c->is_run)
            continue;
        char *name = plot_scenario_name(c->dir);
        if (g_ptr_array_find_with_equal_func(names, name, g_str_equal, NULL))
            g_free(name);
        else
            g_ptr_array_add(names, name);
    }
    g_ptr_array_add(names, NULL);
    char *joined = g_strjoinv(" vs ", (char **)names->pdata);
    g_ptr_array_unref(names);
    return joined;
}

static gboolean compare_figures(GPtrArray *cols, GPtrArray *figs, GError **err)
{
    char *scenarios = compare_scenarios(cols);
    gboolean ok = TRUE;
    for (size_t o = 0; ok && o < G_N_ELEMENTS(compare_overlays); o++) {
        GArray *lines = g_array_new(FALSE, FALSE, sizeof(struct compare_line));
        g_array_set_clear_func(lines, compare_line_clear);
        ok = compare_lines(cols, compare_overlays[o].kind, lines, err);
        if (ok && lines->len > 0)
            g_ptr_array_add(figs, compare_figure(&compare_overlays[o], lines, scenarios));
        g_array_unref(lines);
    }
    g_free(scenarios);
    return ok;
}

/* ---- --by: one column per value of a swept key ------------------------------------------ */

/* Turns the values of the swept key `key` into the table's columns: each sweep point loses
 * that key (so the points that differ only by it become one group of rows) and goes to the
 * column of its value, headed by the value (by "FOLDER VALUE" when several folders are
 * given).  Columns are in the order the values first appear.  Returns the new headings, or
 * NULL (err set) when a folder was not swept over `key`. */
static GPtrArray *compare_pivot(GPtrArray *cols, GPtrArray *names, const char *key, GError **err)
{
    GPtrArray *heads = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < cols->len; i++) {
        struct compare_col *c = g_ptr_array_index(cols, i);
        guint k;
        if (!g_ptr_array_find_with_equal_func(c->pkeys, key, g_str_equal, &k)) {
            GString *keys = g_string_new(NULL);
            for (guint j = 0; j < c->pkeys->len; j++)
                g_string_append_printf(keys, "%s%s", j ? ", " : "",
                                       (const char *)g_ptr_array_index(c->pkeys, j));
            g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT,
                        "--by %s: %s has no swept key '%s' (%s%s)", key, c->dir, key,
                        keys->len ? "its swept keys: " : "not a sweep folder",
                        keys->str);
            g_string_free(keys, TRUE);
            g_ptr_array_unref(heads);
            return NULL;
        }
        const char *value = g_ptr_array_index(c->pvals, k);
        char *head = names->len > 1 ? g_strdup_printf("%s %s",
                                                      (const char *)g_ptr_array_index(names, c->source),
                                                      value)
                                    : g_strdup(value);
        guint h;
        if (!g_ptr_array_find_with_equal_func(heads, head, g_str_equal, &h)) {
            g_ptr_array_add(heads, head);
            h = heads->len - 1;
        } else {
            g_free(head);
        }
        c->source = h;
        GString *point = g_string_new(NULL);
        for (guint j = 0; j < c->pkeys->len; j++)
            if (j != k)
                g_string_append_printf(point, "%s%s=%s", point->len ? ", " : "",
                                       (const char *)g_ptr_array_index(c->pkeys, j),
                                       (const char *)g_ptr_array_index(c->pvals, j));
        g_free(c->point);
        c->point = g_string_free(point, FALSE);
    }
    return heads;
}

/* ---- p2psip compare ------------------------------------------------------------------- */

static const char compare_usage[] =
    "Usage: p2psip compare RUN_DIR... [--by KEY] [--metrics LIST] [--out DIR] [--help]\n"
    "\n"
    "Prints the summaries of results folders side by side: one row per metric, one column per\n"
    "run; with two columns also the difference (second minus first) and the relative\n"
    "difference.  A run folder contributes its summary.tsv; a sweep or seed-group folder (one\n"
    "with aggregate.tsv) one column per sweep point: the mean over seeds ± the half-width of\n"
    "its 95 % confidence interval ('*' after the relative difference: the two intervals do\n"
    "not overlap).\n"
    "\n"
    "Writes into DIR (default ./compare/): compare.tsv (long format: run, metric, value,\n"
    "ci95_low, ci95_high; NA where there is no interval) and, drawn with gnuplot as PNG and SVG\n"
    "with their scripts, the run folders' hop-count distributions and latency CDFs overlaid\n"
    "(hops, latency_cdf) and, when the runs have time series, alive peers and lookup success\n"
    "over time (time_alive_peers, time_lookup_success).  The legend names the folders.\n"
    "\n"
    "  --by KEY        one column per value of the swept key KEY (e.g. --by\n"
    "                  overlay.topology: a column per topology, a group of rows per value of\n"
    "                  the other swept keys); every folder must be a sweep over KEY\n"
    "  --metrics LIST  print only these metrics (comma-separated, e.g.\n"
    "                  lookup_success,hops_mean); compare.tsv keeps them all\n"
    "  --out DIR       where compare.tsv and the figures go (default: compare)\n"
    "  --help          show this help\n"
    "\n"
    "Exit codes: 0 success (also without gnuplot: the figures are then skipped), 1 gnuplot\n"
    "failed or DIR cannot be written, 2 usage error or unreadable folder.\n";

static int compare_fail(const char *msg)
{
    fprintf(stderr, "p2psip compare: %s\n", msg);
    return 2;
}

/* Column headings: the folder names, or the paths as given when two folders share a name. */
static GPtrArray *compare_names(GPtrArray *dirs)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < dirs->len; i++)
        g_ptr_array_add(names, plot_folder_name(g_ptr_array_index(dirs, i)));
    for (guint i = 0; i < dirs->len; i++) {
        gboolean clash = FALSE;
        for (guint j = 0; j < dirs->len; j++)
            clash |= i != j && !strcmp(g_ptr_array_index(names, i), g_ptr_array_index(names, j));
        if (clash) {
            char *given = g_strdup(g_ptr_array_index(dirs, i));
            size_t n = strlen(given);
            while (n > 1 && given[n - 1] == G_DIR_SEPARATOR)
                given[--n] = '\0';
            g_free(names->pdata[i]);
            names->pdata[i] = given;
        }
    }
    return names;
}

/* The value of option `name` at argv[*i] (--name VALUE or --name=VALUE), or NULL; *rc = 2
 * when the value is missing. */
static const char *compare_option(int argc, char **argv, int *i, const char *name, int *rc)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n))
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        char *msg = g_strdup_printf("%s needs a value (see p2psip compare --help)", name);
        *rc = compare_fail(msg);
        g_free(msg);
        return NULL;
    }
    return argv[++*i];
}

static int compare_parse(int argc, char **argv, GPtrArray *dirs, const char **out, const char **by,
                         const char **metrics, gboolean *help)
{
    int rc = 0;
    const char *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = TRUE;
        } else if (!strcmp(a, "--out") || !strcmp(a, "-o")) {
            if (i + 1 >= argc)
                return compare_fail("--out needs a folder (see p2psip compare --help)");
            *out = argv[++i];
        } else if (g_str_has_prefix(a, "--out=")) {
            *out = a + strlen("--out=");
        } else if ((v = compare_option(argc, argv, &i, "--by", &rc)) || rc) {
            if (rc)
                return rc;
            if (!*v)
                return compare_fail("--by needs a swept key (e.g. --by overlay.topology)");
            *by = v;
        } else if ((v = compare_option(argc, argv, &i, "--metrics", &rc)) || rc) {
            if (rc)
                return rc;
            if (!*v)
                return compare_fail("--metrics needs a comma-separated list of metrics");
            *metrics = v;
        } else if (a[0] == '-' && a[1] != '\0') {
            char *msg = g_strdup_printf("unknown option '%s' (see p2psip compare --help)", a);
            rc = compare_fail(msg);
            g_free(msg);
            return rc;
        } else {
            g_ptr_array_add(dirs, (gpointer)a);
        }
    }
    if (!*help && dirs->len == 0)
        return compare_fail("no folder given (usage: p2psip compare RUN_DIR... [--out DIR])");
    if (!**out)
        return compare_fail("--out needs a folder");
    return 0;
}

static gboolean compare_has(const char *dir, const char *file)
{
    char *path = g_build_filename(dir, file, NULL);
    gboolean has = g_file_test(path, G_FILE_TEST_IS_REGULAR);
    g_free(path);
    return has;
}

/* Loads every folder's columns; returns 0 or 2 after printing the problem. */
static int compare_load(GPtrArray *dirs, GPtrArray *names, GPtrArray *cols)
{
    int rc = 0;
    for (guint i = 0; rc == 0 && i < dirs->len; i++) {
        const char *dir = g_ptr_array_index(dirs, i);
        GError *e = NULL;
        if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
            char *msg = g_strdup_printf("%s: no such folder", dir);
            rc = compare_fail(msg);
            g_free(msg);
        } else if (compare_has(dir, "aggregate.tsv")) {
            if (!compare_load_aggregate(dir, i, g_ptr_array_index(names, i), cols, &e))
                rc = compare_fail(e->message);
        } else if (compare_has(dir, "summary.tsv")) {
            if (!compare_load_run(dir, i, g_ptr_array_index(names, i), cols, &e))
                rc = compare_fail(e->message);
        } else {
            char *path = g_build_filename(dir, "summary.tsv", NULL);
            char *msg = g_strdup_printf("%s: no such file (not a run folder; a sweep folder "
                                        "has aggregate.tsv)",
                                        path);
            rc = compare_fail(msg);
            g_free(msg);
            g_free(path);
        }
        if (e)
            g_error_free(e);
    }
    return rc;
}

int compare_cli_main(int argc, char **argv)
{
    GPtrArray *dirs = g_ptr_array_new();
    const char *out = "compare", *by = NULL, *metrics = NULL;
    gboolean help = FALSE;
    int rc = compare_parse(argc, argv, dirs, &out, &by, &metrics, &help);
    if (rc != 0 || help) {
        if (help)
            fputs(compare_usage, stdout);
        g_ptr_array_unref(dirs);
        return rc;
    }
    GPtrArray *cols = g_ptr_array_new_with_free_func((GDestroyNotify)compare_col_free);
    GPtrArray *figs = g_ptr_array_new_with_free_func((GDestroyNotify)plot_figure_free);
    GPtrArray *names = compare_names(dirs);
    GError *e = NULL;
    rc = compare_load(dirs, names, cols);
    GPtrArray *heads = NULL;
    if (rc == 0 && by && !(heads = compare_pivot(cols, names, by, &e)))
        rc = compare_fail(e->message);
    if (rc == 0 && !compare_figures(cols, figs, &e))
        rc = compare_fail(e->message);
    char **only = metrics ? g_strsplit(metrics, ",", -1) : NULL;
    if (rc == 0) {
        char *table = compare_table(cols, heads ? heads : names, only);
        fputs(table, stdout);
        g_free(table);

        char *tsv = compare_tsv(cols);
        char *path = g_build_filename(out, "compare.tsv", NULL);
        if (g_mkdir_with_parents(out, 0755) != 0 || !g_file_set_contents(path, tsv, -1, &e)) {
            fprintf(stderr, "p2psip compare: cannot write %s: %s\n", path,
                    e ? e->message : g_strerror(errno));
            rc = 1;
        } else if (figs->len > 0 && !plot_render(out, figs, &e)) {
            gboolean missing = g_error_matches(e, PLOT_ERROR, PLOT_ERROR_NO_GNUPLOT);
            fprintf(stderr, "p2psip compare: %s\n", e->message);
            rc = missing ? 0 : 1;
        } else {
            printf("\nwrote %s and %u overlaid figure%s in %s\n", path, figs->len,
                   figs->len == 1 ? "" : "s", out);
        }
        g_free(path);
        g_free(tsv);
    }
    g_clear_error(&e);
    g_strfreev(only);
    if (heads)
        g_ptr_array_unref(heads);
    g_ptr_array_unref(figs);
    g_ptr_array_unref(cols);
    g_ptr_array_unref(names);
    g_ptr_array_unref(dirs);
    return rc;
}
