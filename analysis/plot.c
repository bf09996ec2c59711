/* plot.c — gnuplot figures of a run or a sweep, and `p2psip plot` (analysis/plot.h).
 *
 * Reads the long-format TSVs a run folder holds (hops.tsv, latency_cdf.tsv, messages.tsv,
 * timeseries.tsv) or a sweep folder holds (runs.tsv, aggregate.tsv), writes one gnuplot script
 * per figure into plots/ with the data inline, and runs gnuplot on each script (no shell) to
 * get a PNG (pngcairo, 1200×800) and an SVG.  The figures are those of the experiments issue:
 * the hop-count histogram and latency CDF of Stoica et al., SIGCOMM 2001, §6.3 (path length),
 * lookup success and alive peers over time under churn (§6.4, §6.5), traffic by RELOAD message
 * type (RFC 6940 §6.3.3 message codes), and for a sweep each metric against the swept
 * parameter with 95 % confidence intervals over seeds.
 *
 * The scripts depend only on the input files (no paths, dates or versions), so the same run
 * gives byte-identical scripts.  A missing input file skips its figure; a malformed one is an
 * error naming FILE:LINE:COLUMN.
 */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../cli/cli.h"
#include "plot.h"
#include "plot_int.h"

GQuark plot_error_quark(void)
{
    return g_quark_from_static_string("p2psip-plot-error");
}

/* ---- TSV tables ------------------------------------------------------------------------- */

void plot_table_free(struct plot_table *t)
{
    if (!t)
        return;
    g_free(t->path);
    if (t->header)
        g_ptr_array_unref(t->header);
    g_ptr_array_unref(t->rows);
    g_array_unref(t->lines);
    g_free(t);
}

static GPtrArray *plot_cells(char *line)
{
    GPtrArray *cells = g_ptr_array_new_with_free_func(g_free);
    char **parts = g_strsplit(line, "\t", -1);
    for (char **p = parts; *p; p++)
        g_ptr_array_add(cells, *p);
    g_free(parts); /* the strings now belong to cells */
    return cells;
}

struct plot_table *plot_table_read(const char *path, const char *const *required, GError **err)
{
    char *text = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &text, &len, err))
        return NULL;
    if (memchr(text, '\0', len)) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT, "%s: not a text file (NUL byte)", path);
        g_free(text);
        return NULL;
    }
    struct plot_table *t = g_new0(struct plot_table, 1);
    t->path = g_strdup(path);
    t->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
    t->lines = g_array_new(FALSE, FALSE, sizeof(guint));
    guint header_line = 0;
    char **lines = g_strsplit(text, "\n", -1);
    g_free(text);
    gboolean ok = TRUE;
    for (guint i = 0; ok && lines[i]; i++) {
        char *line = lines[i];
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        GPtrArray *cells = plot_cells(line);
        guint lineno = i + 1;
        if (!t->header) {
            t->header = cells;
            header_line = lineno;
            for (guint c = 0; c < cells->len; c++) {
                const char *name = g_ptr_array_index(cells, c);
                if (*name == '\0') {
                    g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT,
                                "%s:%u: column %u of the header row has no name", path, lineno,
                                c + 1);
                    ok = FALSE;
                }
            }
        } else if (cells->len != t->header->len) {
            g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT,
                        "%s:%u: %u tab-separated fields, but the header row has %u", path, lineno,
                        cells->len, t->header->len);
            g_ptr_array_unref(cells);
            ok = FALSE;
        } else {
            g_ptr_array_add(t->rows, cells);
            g_array_append_val(t->lines, lineno);
        }
    }
    g_strfreev(lines);
    if (ok && !t->header) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT, "%s: empty file (no header row)", path);
        ok = FALSE;
    }
    for (const char *const *r = required; ok && r && *r; r++) {
        if (plot_table_column(t, *r) < 0) {
            GString *want = g_string_new(NULL);
            for (const char *const *q = required; *q; q++)
                g_string_append_printf(want, "%s%s", q == required ? "" : ", ", *q);
            g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT,
                        "%s:%u: the header row has no column '%s' (expected columns: %s)", path,
                        header_line, *r, want->str);
            g_string_free(want, TRUE);
            ok = FALSE;
        }
    }
    if (!ok) {
        plot_table_free(t);
        return NULL;
    }
    return t;
}

int plot_table_column(const struct plot_table *t, const char *name)
{
    for (guint c = 0; c < t->header->len; c++)
        if (!strcmp(g_ptr_array_index(t->header, c), name))
            return (int)c;
    return -1;
}

const char *plot_table_cell(const struct plot_table *t, guint row, int col)
{
    GPtrArray *cells = g_ptr_array_index(t->rows, row);
    return g_ptr_array_index(cells, (guint)col);
}

static gboolean plot_is_missing(const char *s)
{
    return *s == '\0' || !g_ascii_strcasecmp(s, "nan") || !g_ascii_strcasecmp(s, "-nan") ||
           !strcmp(s, "NA");
}

gboolean plot_table_number(const struct plot_table *t, guint row, int col, gboolean allow_missing,
                           double *out, GError **err)
{
    const char *s = plot_table_cell(t, row, col);
    if (allow_missing && plot_is_missing(s)) {
        *out = NAN;
        return TRUE;
    }
    char *end = NULL;
    double v = g_ascii_strtod(s, &end);
    if (end != s && *end == '\0' && isfinite(v) && !g_ascii_isspace(*s)) {
        *out = v;
        return TRUE;
    }
    /* The column (1-based, in bytes) where the cell starts, for the message. */
    GPtrArray *cells = g_ptr_array_index(t->rows, row);
    size_t at = 1;
    for (int c = 0; c < col; c++)
        at += strlen(g_ptr_array_index(cells, (guint)c)) + 1;
    g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT, "%s:%u:%zu: '%s' in column '%s' is not a number",
                t->path, g_array_index(t->lines, guint, row), at, s,
                (const char *)g_ptr_array_index(t->header, (guint)col));
    return FALSE;
}

gboolean plot_table_xy(const struct plot_table *t, int cx, int cy, GArray *xs, GArray *ys,
                       GError **err)
{
    for (guint r = 0; r < t->rows->len; r++) {
        double x, y;
        if (!plot_table_number(t, r, cx, FALSE, &x, err) ||
            !plot_table_number(t, r, cy, FALSE, &y, err))
            return FALSE;
        g_array_append_val(xs, x);
        g_array_append_val(ys, y);
    }
    return TRUE;
}

gboolean plot_series_select(const struct plot_table *t, const char *metric, GArray *ts, GArray *vs,
                            GError **err)
{
    int ct = plot_table_column(t, "time_s"), cm = plot_table_column(t, "metric"),
        cv = plot_table_column(t, "value");
    g_assert(ct >= 0 && cm >= 0 && cv >= 0);
    for (guint r = 0; r < t->rows->len; r++) {
        if (strcmp(plot_table_cell(t, r, cm), metric))
            continue;
        double tv, v;
        if (!plot_table_number(t, r, ct, FALSE, &tv, err) ||
            !plot_table_number(t, r, cv, TRUE, &v, err))
            return FALSE;
        g_array_append_val(ts, tv);
        g_array_append_val(vs, v);
    }
    return TRUE;
}

gboolean plot_table_load_optional(const char *dir, const char *file, const char *const *required,
                                  struct plot_table **out, GError **err)
{
    char *path = g_build_filename(dir, file, NULL);
    GError *e = NULL;
    *out = NULL;
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_free(path);
        return TRUE;
    }
    *out = plot_table_read(path, required, &e);
    if (!*out) {
        if (e->domain == PLOT_ERROR)
            g_propagate_error(err, e);
        else {
            g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT, "%s", e->message);
            g_error_free(e);
        }
    }
    g_free(path);
    return *out != NULL;
}

/* ---- folder and scenario names ---------------------------------------------------------- */

char *plot_folder_name(const char *dir)
{
    char *canon = g_canonicalize_filename(dir, NULL);
    char *base = g_path_get_basename(canon);
    g_free(canon);
    return base;
}

/* The value of a YAML scalar as written after "name:": double- or single-quoted, or plain
 * up to a comment. */
static char *plot_yaml_scalar(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    GString *s = g_string_new(NULL);
    if (*v == '"') {
        for (v++; *v && *v != '"'; v++) {
            if (*v == '\\' && v[1])
                v++;
            g_string_append_c(s, *v);
        }
    } else if (*v == '\'') {
        for (v++; *v; v++) {
            if (*v == '\'' && v[1] == '\'')
                v++;
            else if (*v == '\'')
                break;
            g_string_append_c(s, *v);
        }
    } else {
        const char *hash = strstr(v, " #");
        g_string_append_len(s, v, hash ? hash - v : (gssize)strlen(v));
        while (s->len && g_ascii_isspace(s->str[s->len - 1]))
            g_string_truncate(s, s->len - 1);
    }
    return g_string_free(s, FALSE);
}

char *plot_scenario_name(const char *dir)
{
    char *path = g_build_filename(dir, "scenario.yaml", NULL);
    char *text = NULL, *name = NULL;
    if (g_file_get_contents(path, &text, NULL, NULL)) {
        char **lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l && !name; l++)
            if (g_str_has_prefix(*l, "name:"))
                name = plot_yaml_scalar(*l + 5);
        g_strfreev(lines);
        g_free(text);
    }
    g_free(path);
    if (name && (*name == '\0' || !g_utf8_validate(name, -1, NULL))) {
        g_free(name);
        name = NULL;
    }
    return name ? name : plot_folder_name(dir);
}

/* ---- gnuplot scripts -------------------------------------------------------------------- */

struct plot_figure *plot_figure_new(const char *stem, const char *what)
{
    struct plot_figure *f = g_new0(struct plot_figure, 1);
    f->stem = g_strdup(stem);
    f->what = g_strdup(what);
    f->setup = g_string_new(NULL);
    f->body = g_string_new(NULL);
    return f;
}

void plot_figure_free(struct plot_figure *f)
{
    if (!f)
        return;
    g_free(f->stem);
    g_free(f->what);
    g_string_free(f->setup, TRUE);
    g_string_free(f->body, TRUE);
    g_free(f);
}

void plot_quote(GString *out, const char *s)
{
    g_string_append_c(out, '\'');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\'')
            g_string_append(out, "''");
        else if (*p < 0x20 || *p == 0x7f)
            g_string_append_c(out, ' ');
        else
            g_string_append_c(out, (char)*p);
    }
    g_string_append_c(out, '\'');
}

void plot_set_text(GString *out, const char *name, const char *text)
{
    g_string_append_printf(out, "set %s ", name);
    plot_quote(out, text);
    g_string_append_c(out, '\n');
}

void plot_number(GString *out, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    if (isnan(v))
        g_string_append(out, "NaN");
    else
        g_string_append(out, g_ascii_formatd(buf, sizeof buf, "%.10g", v));
}

const char *plot_line_style(guint n)
{
    return n <= 40 ? "linespoints" : "lines";
}

void plot_set_range(GString *out, const char *axis, double lo, double hi, gboolean logscale)
{
    if (!(lo <= hi))
        return;
    if (lo == hi) {
        if (logscale && lo > 0) {
            lo /= 2;
            hi *= 2;
        } else {
            double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1.0;
            lo -= pad;
            hi += pad;
        }
    }
    g_string_append_printf(out, "set %srange [", axis);
    plot_number(out, lo);
    g_string_append_c(out, ':');
    plot_number(out, hi);
    g_string_append(out, "]\n");
}

/* The look shared by every figure: a colour-blind-safe palette (Okabe and Ito) with a dash
 * pattern and point type per line so that lines stay apart in black-and-white print, a light
 * grid, and no top or right border. */
static const char plot_style[] =
    "set datafile separator tab\n"
    "set border 3 linewidth 1.2\n"
    "set tics nomirror out\n"
    "set grid linetype 1 linecolor rgb '#d0d0d0' linewidth 0.8 dashtype solid\n"
    "set key noautotitle\n"
    "set linetype 1 linecolor rgb '#0072b2' linewidth 2 dashtype 1 pointtype 7 pointsize 1.2\n"
    "set linetype 2 linecolor rgb '#d55e00' linewidth 2 dashtype 2 pointtype 5 pointsize 1.2\n"
    "set linetype 3 linecolor rgb '#009e73' linewidth 2 dashtype 4 pointtype 9 pointsize 1.4\n"
    "set linetype 4 linecolor rgb '#cc79a7' linewidth 2 dashtype 5 pointtype 13 pointsize 1.4\n"
    "set linetype 5 linecolor rgb '#e69f00' linewidth 2 dashtype 3 pointtype 11 pointsize 1.4\n"
    "set linetype 6 linecolor rgb '#56b4e9' linewidth 2 dashtype 1 pointtype 6 pointsize 1.2\n"
    "set linetype 7 linecolor rgb '#000000' linewidth 2 dashtype 2 pointtype 4 pointsize 1.2\n"
    "set linetype 8 linecolor rgb '#777777' linewidth 2 dashtype 4 pointtype 8 pointsize 1.4\n"
    "set linetype cycle 8\n";

/* Terminals: 1200×800 pixels with a 20-point font, which stays legible when the figure is
 * shrunk to one column of a paper; noenhanced so that metric names keep their underscores. */
static const char *const plot_terminals[][2] = {
    {"png", "set terminal pngcairo size 1200,800 noenhanced font 'Sans,20' linewidth 1.5"},
    {"svg", "set terminal svg size 1200,800 noenhanced font 'Sans,25' linewidth 1.5 "
            "background rgb 'white'"},
};

static char *plot_script_text(const struct plot_figure *f)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "# %s.gp — %s\n", f->stem, f->what);
    g_string_append_printf(s,
                           "# Written by p2psip (analysis/plot.c).  The data are inline: run "
                           "`gnuplot %s.gp` in this\n# folder to redraw %s.png and %s.svg "
                           "after editing the style.\n",
                           f->stem, f->stem, f->stem);
    g_string_append(s, "set encoding utf8\n");
    g_string_append(s, plot_style);
    g_string_append(s, f->setup->str);
    for (size_t i = 0; i < G_N_ELEMENTS(plot_terminals); i++) {
        g_string_append_printf(s, "\n%s\nset output ", plot_terminals[i][1]);
        char *out = g_strdup_printf("%s.%s", f->stem, plot_terminals[i][0]);
        plot_quote(s, out);
        g_free(out);
        g_string_append_c(s, '\n');
        g_string_append(s, f->body->str);
        g_string_append(s, "unset output\n");
    }
    return g_string_free(s, FALSE);
}

/* The first lines of gnuplot's complaints, for a one-paragraph message. */
static char *plot_head_lines(const char *text, int max_lines)
{
    GString *s = g_string_new(NULL);
    char **lines = g_strsplit(text, "\n", -1);
    int n = 0;
    for (char **l = lines; *l && n < max_lines; l++) {
        if (!**l)
            continue;
        g_string_append_printf(s, "%s%s", n ? "\n  " : "", *l);
        n++;
    }
    g_strfreev(lines);
    return g_string_free(s, FALSE);
}

static gboolean plot_file_nonempty(const char *dir, const char *stem, const char *ext)
{
    char *name = g_strdup_printf("%s.%s", stem, ext);
    char *path = g_build_filename(dir, name, NULL);
    GStatBuf st;
    gboolean ok = g_stat(path, &st) == 0 && st.st_size > 0;
    g_free(path);
    g_free(name);
    return ok;
}

static gboolean plot_run_gnuplot(const char *gnuplot, const char *dir, const struct plot_figure *f,
                                 GError **err)
{
    for (size_t i = 0; i < G_N_ELEMENTS(plot_terminals); i++) {
        char *name = g_strdup_printf("%s.%s", f->stem, plot_terminals[i][0]);
        char *path = g_build_filename(dir, name, NULL);
        g_unlink(path); /* so that a stale figure cannot pass for a new one */
        g_free(path);
        g_free(name);
    }
    char *script = g_strdup_printf("%s.gp", f->stem);
    char *argv[] = {(char *)gnuplot, (char *)"--default-settings", script, NULL};
    char *out = NULL, *errs = NULL;
    int status = 0;
    GError *e = NULL;
    gboolean ok =
        g_spawn_sync(dir, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &errs, &status, &e);
    if (!ok) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_GNUPLOT, "cannot run %s: %s", gnuplot, e->message);
        g_error_free(e);
    } else if (!g_spawn_check_wait_status(status, NULL) || (errs && *g_strstrip(errs))) {
        char *head = plot_head_lines(errs ? errs : "", 8);
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_GNUPLOT, "gnuplot failed on %s/%s%s%s", dir, script,
                    *head ? ":\n  " : " (no message)", head);
        g_free(head);
        ok = FALSE;
    } else {
        for (size_t i = 0; ok && i < G_N_ELEMENTS(plot_terminals); i++) {
            if (!plot_file_nonempty(dir, f->stem, plot_terminals[i][0])) {
                g_set_error(err, PLOT_ERROR, PLOT_ERROR_GNUPLOT,
                            "gnuplot ran %s/%s but wrote no %s.%s", dir, script, f->stem,
                            plot_terminals[i][0]);
                ok = FALSE;
            }
        }
    }
    g_free(out);
    g_free(errs);
    g_free(script);
    return ok;
}

gboolean plot_render(const char *dir, GPtrArray *figures, GError **err)
{
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_IO, "cannot create %s: %s", dir, g_strerror(errno));
        return FALSE;
    }
    for (guint i = 0; i < figures->len; i++) {
        const struct plot_figure *f = g_ptr_array_index(figures, i);
        char *name = g_strdup_printf("%s.gp", f->stem);
        char *path = g_build_filename(dir, name, NULL);
        char *text = plot_script_text(f);
        GError *e = NULL;
        gboolean ok = g_file_set_contents(path, text, -1, &e);
        if (!ok) {
            g_set_error(err, PLOT_ERROR, PLOT_ERROR_IO, "%s", e->message);
            g_error_free(e);
        }
        g_free(text);
        g_free(path);
        g_free(name);
        if (!ok)
            return FALSE;
    }
    if (figures->len == 0)
        return TRUE;
    char *gnuplot = g_find_program_in_path("gnuplot");
    if (!gnuplot) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_NO_GNUPLOT,
                    "gnuplot is not installed (not on the PATH): no figures drawn; the scripts "
                    "are in %s/*.gp",
                    dir);
        return FALSE;
    }
    gboolean ok = TRUE;
    for (guint i = 0; ok && i < figures->len; i++)
        ok = plot_run_gnuplot(gnuplot, dir, g_ptr_array_index(figures, i), err);
    g_free(gnuplot);
    return ok;
}

gboolean plot_have_gnuplot(void)
{
    char *path = g_find_program_in_path("gnuplot");
    gboolean have = path != NULL;
    g_free(path);
    return have;
}

/* ---- values with units ------------------------------------------------------------------ */

gboolean plot_parse_quantity(const char *text, double *value, const char **unit)
{
    static const struct {
        const char *suffix;
        double factor;
        const char *unit;
    } units[] = {
        /* The scenario's own syntax (sim/scenario.c).  Byte units are left out: "1MB" is
         * 2^20 bytes as a size but 8 Mbit/s as a bandwidth, so such values stay categories. */
        {"", 1, ""},
        {"us", 1e-6, "s"},
        {"ms", 1e-3, "s"},
        {"s", 1, "s"},
        {"m", 60, "s"},
        {"h", 3600, "s"},
        {"/s", 1, "1/s"},
        {"/m", 1.0 / 60, "1/s"},
        {"/min", 1.0 / 60, "1/s"},
        {"/h", 1.0 / 3600, "1/s"},
        {"bit", 1, "bit/s"},
        {"kbit", 1e3, "bit/s"},
        {"Mbit", 1e6, "bit/s"},
        {"Gbit", 1e9, "bit/s"},
        {"bit/s", 1, "bit/s"},
        {"kbit/s", 1e3, "bit/s"},
        {"Mbit/s", 1e6, "bit/s"},
        {"Gbit/s", 1e9, "bit/s"},
        {"bps", 1, "bit/s"},
        {"kbps", 1e3, "bit/s"},
        {"Mbps", 1e6, "bit/s"},
        {"Gbps", 1e9, "bit/s"},
    };
    char *end = NULL;
    double v = g_ascii_strtod(text, &end);
    if (end == text || !isfinite(v) || g_ascii_isspace(*text))
        return FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (!strcmp(end, units[i].suffix)) {
            *value = v * units[i].factor;
            *unit = units[i].unit;
            return TRUE;
        }
    }
    return FALSE;
}

/* ---- figures of one run ----------------------------------------------------------------- */

static void plot_scale(double max, double *div, const char **prefix)
{
    *div = 1;
    *prefix = "";
    if (max >= 1e7) {
        *div = 1e6;
        *prefix = "millions";
    } else if (max >= 1e4) {
        *div = 1e3;
        *prefix = "thousands";
    }
}

/* A round tic step (1, 2 or 5 times a power of ten) of at least x. */
static double plot_nice_step(double x)
{
    if (!(x > 0))
        return 1;
    double p = pow(10, floor(log10(x)));
    return x <= p ? p : x <= 2 * p ? 2 * p : x <= 5 * p ? 5 * p : 10 * p;
}

/* hops.tsv (hops, count): a histogram of the answered lookups by hop count. */
static gboolean plot_fig_hops(const char *dir, const char *name, GPtrArray *figs, GError **err)
{
    static const char *const req[] = {"hops", "count", NULL};
    struct plot_table *t;
    if (!plot_table_load_optional(dir, "hops.tsv", req, &t, err))
        return FALSE;
    if (!t)
        return TRUE;
    int ch = plot_table_column(t, "hops"), cc = plot_table_column(t, "count");
    struct plot_figure *f = plot_figure_new("hops", "hop count per answered lookup (hops.tsv)");
    double total = 0, sum = 0, hmin = INFINITY, hmax = -INFINITY, cmax = 0;
    g_string_append(f->setup, "$hops << EOD\n");
    for (guint r = 0; r < t->rows->len; r++) {
        double h, c;
        if (!plot_table_number(t, r, ch, FALSE, &h, err) ||
            !plot_table_number(t, r, cc, FALSE, &c, err)) {
            plot_table_free(t);
            plot_figure_free(f);
            return FALSE;
        }
        total += c;
        sum += h * c;
        hmin = MIN(hmin, h);
        hmax = MAX(hmax, h);
        cmax = MAX(cmax, c);
        plot_number(f->setup, h);
        g_string_append_c(f->setup, '\t');
        plot_number(f->setup, c);
        g_string_append_c(f->setup, '\n');
    }
    g_string_append(f->setup, "EOD\n");
    guint rows = t->rows->len;
    plot_table_free(t);
    if (rows == 0) { /* no lookup was answered: nothing to draw */
        plot_figure_free(f);
        return TRUE;
    }
    char *title = g_strdup_printf("%s: hops per lookup (%.0f lookups, mean %.2f)", name, total,
                                  total > 0 ? sum / total : 0.0);
    plot_set_text(f->setup, "title", title);
    g_free(title);
    plot_set_text(f->setup, "xlabel", "hops (overlay links crossed by a lookup)");
    double div;
    const char *prefix;
    plot_scale(cmax, &div, &prefix);
    char *ylabel = g_strdup_printf("lookups (count%s%s)", *prefix ? ", " : "", prefix);
    plot_set_text(f->setup, "ylabel", ylabel);
    g_free(ylabel);
    g_string_append(f->setup, "set grid noxtics ytics\nset boxwidth 0.8\n"
                              "set style fill solid 0.8 noborder\n");
    if (hmax - hmin <= 30)
        g_string_append(f->setup, "set xtics 1\n");
    plot_set_range(f->setup, "x", hmin - 0.6, hmax + 0.6, FALSE);
    g_string_append(f->setup, cmax > 0 ? "set yrange [0:*]\n" : "set yrange [0:1]\n");
    g_string_append(f->body, "plot $hops using 1:($2/");
    plot_number(f->body, div);
    g_string_append(f->body, ") with boxes linetype 1\n");
    g_ptr_array_add(figs, f);
    return TRUE;
}

/* The latency CDF figure, linear or logarithmic in x. */
static struct plot_figure *plot_latency_figure(const char *name, GArray *xs, GArray *ys,
                                               gboolean logx)
{
    struct plot_figure *f = plot_figure_new(logx ? "latency_cdf_log" : "latency_cdf",
                                            logx ? "lookup latency CDF, log x (latency_cdf.tsv)"
                                                 : "lookup latency CDF (latency_cdf.tsv)");
    double xmin = INFINITY, xmax = -INFINITY;
    guint n = 0;
    g_string_append(f->setup, "$latency << EOD\n");
    for (guint i = 0; i < xs->len; i++) {
        double x = g_array_index(xs, double, i);
        if (logx && x <= 0)
            continue;
        xmin = MIN(xmin, x);
        xmax = MAX(xmax, x);
        n++;
        plot_number(f->setup, x);
        g_string_append_c(f->setup, '\t');
        plot_number(f->setup, g_array_index(ys, double, i));
        g_string_append_c(f->setup, '\n');
    }
    g_string_append(f->setup, "EOD\n");
    char *title = g_strdup_printf("%s: lookup latency, cumulative distribution", name);
    plot_set_text(f->setup, "title", title);
    g_free(title);
    plot_set_text(f->setup, "xlabel",
                  logx ? "lookup latency (ms, log scale)" : "lookup latency (ms)");
    plot_set_text(f->setup, "ylabel", "fraction of lookups with latency ≤ x");
    if (logx) /* xfix: end the axis at the data, not at the next decade */
        g_string_append(f->setup, "set logscale x 10\nset autoscale xfix\n");
    else if (xmin >= 0)
        xmin = 0;
    if (xmin == xmax || !logx)
        plot_set_range(f->setup, "x", xmin, xmax, logx);
    g_string_append(f->setup, "set yrange [0:1.02]\nset ytics 0,0.1,1\n"
                              "set arrow 1 from graph 0, first 0.5 to graph 1, first 0.5 nohead "
                              "dashtype 3 linecolor rgb '#555555' linewidth 1\n"
                              "set arrow 2 from graph 0, first 0.95 to graph 1, first 0.95 nohead "
                              "dashtype 3 linecolor rgb '#555555' linewidth 1\n"
                              "set label 1 'median' at graph 0.01, first 0.5 offset 0,0.6 "
                              "textcolor rgb '#555555'\n"
                              "set label 2 '95 %' at graph 0.01, first 0.95 offset 0,0.6 "
                              "textcolor rgb '#555555'\n");
    g_string_append_printf(f->body, "plot $latency using 1:2 with %s linetype 1\n",
                           plot_line_style(n));
    return f;
}

/* latency_cdf.tsv (latency_ms, fraction); a second, log-x figure when the latencies span more
 * than two decades. */
static gboolean plot_fig_latency(const char *dir, const char *name, GPtrArray *figs, GError **err)
{
    static const char *const req[] = {"latency_ms", "fraction", NULL};
    struct plot_table *t;
    if (!plot_table_load_optional(dir, "latency_cdf.tsv", req, &t, err))
        return FALSE;
    if (!t)
        return TRUE;
    int cx = plot_table_column(t, "latency_ms"), cy = plot_table_column(t, "fraction");
    GArray *xs = g_array_new(FALSE, FALSE, sizeof(double));
    GArray *ys = g_array_new(FALSE, FALSE, sizeof(double));
    gboolean ok = plot_table_xy(t, cx, cy, xs, ys, err);
    double pmin = INFINITY, pmax = 0;
    for (guint i = 0; ok && i < xs->len; i++) {
        double x = g_array_index(xs, double, i);
        if (x > 0) {
            pmin = MIN(pmin, x);
            pmax = MAX(pmax, x);
        }
    }
    if (ok && xs->len > 0) {
        g_ptr_array_add(figs, plot_latency_figure(name, xs, ys, FALSE));
        if (pmax >= 100 * pmin)
            g_ptr_array_add(figs, plot_latency_figure(name, xs, ys, TRUE));
    }
    g_array_unref(xs);
    g_array_unref(ys);
    plot_table_free(t);
    return ok;
}

/* Traffic by message type: two bar charts side by side, datagrams sent and bytes sent (per
 * peer and second when traffic.tsv gives it), per RELOAD message type and link-layer ACK.
 * traffic.tsv (class, type, count, bytes, per_peer_per_s) is preferred: its bars are coloured
 * by class (application, maintenance); else messages.tsv (type, count, bytes). */
static gboolean plot_fig_messages(const char *dir, const char *name, GPtrArray *figs, GError **err)
{
    static const char *const req_traffic[] = {"class", "type", "count", "bytes", NULL};
    static const char *const req_messages[] = {"type", "count", "bytes", NULL};
    struct plot_table *t;
    if (!plot_table_load_optional(dir, "traffic.tsv", req_traffic, &t, err))
        return FALSE;
    const char *source = "traffic.tsv";
    if (!t) {
        source = "messages.tsv";
        if (!plot_table_load_optional(dir, "messages.tsv", req_messages, &t, err))
            return FALSE;
    }
    if (!t)
        return TRUE;
    if (t->rows->len == 0) {
        plot_table_free(t);
        return TRUE;
    }
    int ct = plot_table_column(t, "type"), cc = plot_table_column(t, "count"),
        cb = plot_table_column(t, "bytes"), ccl = plot_table_column(t, "class"),
        cpp = plot_table_column(t, "per_peer_per_s");
    char *what = g_strdup_printf("datagrams and bytes by message type (%s)", source);
    struct plot_figure *f = plot_figure_new("messages", what);
    g_free(what);
    GPtrArray *classes = g_ptr_array_new(); /* borrowed from t, first-seen order */
    GString *tics = g_string_new("set ytics (");
    double cmax = 0, bmax = 0;
    guint n = t->rows->len;
    /* Horizontal bars, the first type on top: the type names stay horizontal and legible
     * however many types there are.  Columns: y, datagrams, bytes, class index. */
    g_string_append(f->setup, "$messages << EOD\n");
    for (guint r = 0; r < n; r++) {
        double c, b, pp = NAN;
        if (!plot_table_number(t, r, cc, FALSE, &c, err) ||
            !plot_table_number(t, r, cb, FALSE, &b, err) ||
            (cpp >= 0 && !plot_table_number(t, r, cpp, FALSE, &pp, err))) {
            g_ptr_array_unref(classes);
            g_string_free(tics, TRUE);
            plot_figure_free(f);
            plot_table_free(t);
            return FALSE;
        }
        guint klass = 0;
        if (ccl >= 0 && !g_ptr_array_find_with_equal_func(classes, plot_table_cell(t, r, ccl),
                                                          g_str_equal, &klass)) {
            g_ptr_array_add(classes, (gpointer)plot_table_cell(t, r, ccl));
            klass = classes->len - 1;
        }
        if (cpp >= 0)
            b = pp;
        cmax = MAX(cmax, c);
        bmax = MAX(bmax, b);
        g_string_append_printf(f->setup, "%u\t", n - 1 - r);
        plot_number(f->setup, c);
        g_string_append_c(f->setup, '\t');
        plot_number(f->setup, b);
        g_string_append_printf(f->setup, "\t%u\n", klass);
        g_string_append(tics, r ? ", " : "");
        plot_quote(tics, plot_table_cell(t, r, ct));
        g_string_append_printf(tics, " %u", n - 1 - r);
    }
    g_string_append(f->setup, "EOD\n");
    g_string_append(tics, ") scale 0\n");
    g_string_append(f->setup, "set grid xtics noytics\nset style fill solid 0.8 noborder\n"
                              "unset ylabel\nset border 1\nset xtics nomirror\n");
    plot_set_range(f->setup, "y", -0.6, n - 0.4, FALSE);

    double cdiv, bdiv;
    const char *cpre;
    plot_scale(cmax, &cdiv, &cpre);
    const char *bunit;
    if (cpp >= 0) {
        bdiv = 1;
        bunit = "bytes/s per peer";
    } else {
        bdiv = bmax >= 1e6 ? 1e6 : bmax >= 1e4 ? 1e3 : 1;
        bunit = bmax >= 1e6 ? "bytes sent (MB)" : bmax >= 1e4 ? "bytes sent (kB)" : "bytes sent";
    }
    char *title = g_strdup_printf("%s: traffic by message type", name);
    g_string_append(f->body, "set multiplot title ");
    plot_quote(f->body, title);
    g_free(title);
    g_string_append_c(f->body, '\n');
    /* Two panels with the type names once, on the left: fixed margins line the bars up. */
    g_string_append(f->body, "set tmargin at screen 0.86\nset bmargin at screen 0.14\n");
    if (classes->len > 1) /* one key for both panels, above them */
        g_string_append(f->body, "set key at screen 0.95, screen 0.935 right horizontal\n");
    char *xlabel = g_strdup_printf("datagrams sent (%s)", *cpre ? cpre : "count");
    const double divs[] = {cdiv, bdiv};
    const double maxes[] = {cmax, bmax};
    const char *const xlabels[] = {xlabel, bunit};
    const char *const margins[] = {"set lmargin at screen 0.25\nset rmargin at screen 0.57\n",
                                   "set lmargin at screen 0.65\nset rmargin at screen 0.95\n"
                                   "unset ytics\n"};
    for (int panel = 0; panel < 2; panel++) {
        if (panel == 0)
            g_string_append(f->body, tics->str);
        g_string_append(f->body, margins[panel]);
        plot_set_text(f->body, "xlabel", xlabels[panel]);
        g_string_append(f->body, maxes[panel] > 0 ? "set xrange [0:*]\n" : "set xrange [0:1]\n");
        g_string_append(f->body, "set xtics ");
        plot_number(f->body, plot_nice_step(maxes[panel] / divs[panel] / 5));
        g_string_append_c(f->body, '\n');
        /* One bar series per class, so that the key names the colours. */
        g_string_append(f->body, "plot ");
        guint nclass = MAX(classes->len, 1);
        for (guint k = 0; k < nclass; k++) {
            /* boxxyerror: x y xlow xhigh ylow yhigh */
            g_string_append_printf(f->body, "%s$messages using (0):1:(0):($4 == %u ? $%d/",
                                   k ? ", " : "", k, panel == 0 ? 2 : 3);
            plot_number(f->body, divs[panel]);
            g_string_append_printf(f->body,
                                   " : NaN):($1 - 0.38):($1 + 0.38) with boxxyerror linetype %u",
                                   classes->len ? k + 1 : (guint)panel + 1);
            if (classes->len) {
                g_string_append(f->body, " title ");
                plot_quote(f->body, g_ptr_array_index(classes, k));
            }
        }
        g_string_append_c(f->body, '\n');
    }
    g_string_append(f->body, "unset multiplot\n");
    g_string_free(tics, TRUE);
    g_free(xlabel);
    g_ptr_array_unref(classes);
    g_ptr_array_add(figs, f);
    plot_table_free(t);
    return TRUE;
}

/* Time series drawn from timeseries.tsv (long format: time_s, metric, value); `also` is a
 * second metric drawn on the same axes when present. */
static const struct plot_series {
    const char *metric, *ylabel, *what, *also, *title, *also_title;
} plot_series[] = {
    {"alive_peers", "peers (count)", "alive peers", "joined_peers", "alive", "joined the ring"},
    {"lookup_success", "lookup success (fraction correct)", "lookup success", NULL, NULL, NULL},
    {"lookups", "lookups completed per interval (count)", "lookups completed", NULL, NULL, NULL},
    {"hops_mean", "mean hops per lookup", "mean hops per lookup", NULL, NULL, NULL},
    {"latency_ms_mean", "mean lookup latency (ms)", "mean lookup latency", NULL, NULL, NULL},
    {"bytes_per_peer_per_s", "traffic per peer (bytes/s)", "traffic per peer", NULL, NULL, NULL},
    {"records_lost", "records lost (count)", "records lost", NULL, NULL, NULL},
};

/* A time-series figure of one or two lines (ts[i], vs[i]; vs holds NAN for a missing value,
 * which gnuplot leaves as a gap). */
static struct plot_figure *plot_series_figure(const char *name, const struct plot_series *ps,
                                              GArray *const *ts, GArray *const *vs, guint nlines)
{
    char *stem = g_strdup_printf("time_%s", ps->metric);
    char *what = g_strdup_printf("%s over simulated time (timeseries.tsv)", ps->what);
    struct plot_figure *f = plot_figure_new(stem, what);
    g_free(stem);
    g_free(what);
    double tmin = INFINITY, tmax = -INFINITY, vmin = INFINITY, vmax = -INFINITY;
    g_string_append(f->body, "plot ");
    for (guint l = 0; l < nlines; l++) {
        g_string_append_printf(f->setup, "$series%u << EOD\n", l);
        for (guint i = 0; i < ts[l]->len; i++) {
            double t = g_array_index(ts[l], double, i), v = g_array_index(vs[l], double, i);
            tmin = MIN(tmin, t);
            tmax = MAX(tmax, t);
            if (!isnan(v)) {
                vmin = MIN(vmin, v);
                vmax = MAX(vmax, v);
            }
            plot_number(f->setup, t);
            g_string_append_c(f->setup, '\t');
            plot_number(f->setup, v);
            g_string_append_c(f->setup, '\n');
        }
        g_string_append(f->setup, "EOD\n");
    }
    for (guint l = 0; l < nlines; l++) {
        g_string_append_printf(f->body, "%s$series%u using 1:2 with %s linetype %u", l ? ", " : "",
                               l, plot_line_style(ts[l]->len), l + 1);
        if (nlines > 1) {
            g_string_append(f->body, " title ");
            plot_quote(f->body, l ? ps->also_title : ps->title);
        }
    }
    g_string_append_c(f->body, '\n');
    char *title = g_strdup_printf("%s: %s over time", name, ps->what);
    plot_set_text(f->setup, "title", title);
    g_free(title);
    plot_set_text(f->setup, "xlabel", "simulated time (s)");
    plot_set_text(f->setup, "ylabel", ps->ylabel);
    if (nlines > 1)
        g_string_append(f->setup, "set key bottom left\n");
    if (tmin == tmax)
        plot_set_range(f->setup, "x", tmin, tmax, FALSE);
    if (!strcmp(ps->metric, "lookup_success")) {
        /* Success near 1 matters: start at the tenth below the worst interval. */
        double lo = MAX(0.0, floor((vmin - 0.05) * 10) / 10);
        plot_set_range(f->setup, "y", lo, MAX(1.01, vmax), FALSE);
    } else if (vmin >= 0) {
        plot_set_range(f->setup, "y", 0, vmax > 0 ? vmax * 1.08 : 1, FALSE);
    } else {
        plot_set_range(f->setup, "y", vmin, vmax, FALSE);
        if (vmin < vmax)
            g_string_append(f->setup, "set yrange [*:*]\n");
    }
    return f;
}

static gboolean plot_fig_timeseries(const char *dir, const char *name, GPtrArray *figs,
                                    GError **err)
{
    static const char *const req[] = {"time_s", "metric", "value", NULL};
    struct plot_table *t;
    if (!plot_table_load_optional(dir, "timeseries.tsv", req, &t, err))
        return FALSE;
    if (!t)
        return TRUE;
    gboolean ok = TRUE;
    for (size_t s = 0; ok && s < G_N_ELEMENTS(plot_series); s++) {
        const struct plot_series *ps = &plot_series[s];
        GArray *ts[2], *vs[2];
        guint nlines = 0;
        gboolean any = FALSE;
        for (int l = 0; l < 2; l++) {
            const char *metric = l ? ps->also : ps->metric;
            ts[l] = g_array_new(FALSE, FALSE, sizeof(double));
            vs[l] = g_array_new(FALSE, FALSE, sizeof(double));
            if (metric && ok)
                ok = plot_series_select(t, metric, ts[l], vs[l], err);
            gboolean has = FALSE;
            for (guint i = 0; ok && i < vs[l]->len; i++)
                has |= !isnan(g_array_index(vs[l], double, i));
            if (l == 0)
                any = has;
            else if (has)
                nlines = 2;
        }
        if (ok && any)
            g_ptr_array_add(figs, plot_series_figure(name, ps, ts, vs, MAX(nlines, 1)));
        for (int l = 0; l < 2; l++) {
            g_array_unref(ts[l]);
            g_array_unref(vs[l]);
        }
    }
    plot_table_free(t);
    return ok;
}

static gboolean plot_dir_check(const char *dir, GError **err)
{
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT, "%s: no such folder", dir);
        return FALSE;
    }
    return TRUE;
}

static gboolean plot_has_file(const char *dir, const char *file)
{
    char *path = g_build_filename(dir, file, NULL);
    gboolean has = g_file_test(path, G_FILE_TEST_EXISTS);
    g_free(path);
    return has;
}

gboolean plot_run(const char *run_dir, GError **err)
{
    static const char *const inputs[] = {"summary.tsv", "hops.tsv", "latency_cdf.tsv",
                                         "messages.tsv", "timeseries.tsv"};
    if (!plot_dir_check(run_dir, err))
        return FALSE;
    gboolean any = FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS(inputs); i++)
        any |= plot_has_file(run_dir, inputs[i]);
    if (!any) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT,
                    "%s: not a run folder (no summary.tsv, hops.tsv, latency_cdf.tsv, "
                    "messages.tsv or timeseries.tsv)",
                    run_dir);
        return FALSE;
    }
    char *name = plot_scenario_name(run_dir);
    GPtrArray *figs = g_ptr_array_new_with_free_func((GDestroyNotify)plot_figure_free);
    gboolean ok = plot_fig_hops(run_dir, name, figs, err) &&
                  plot_fig_latency(run_dir, name, figs, err) &&
                  plot_fig_messages(run_dir, name, figs, err) &&
                  plot_fig_timeseries(run_dir, name, figs, err);
    if (ok && figs->len > 0) {
        char *plots = g_build_filename(run_dir, "plots", NULL);
        ok = plot_render(plots, figs, err);
        g_free(plots);
    }
    g_ptr_array_unref(figs);
    g_free(name);
    return ok;
}

/* ---- figures of a sweep ----------------------------------------------------------------- */

/* The summary metrics drawn against the swept parameter, with their axis labels. */
static const struct {
    const char *metric, *ylabel;
} plot_sweep_metrics[] = {
    {"lookup_success", "lookup success (fraction correct)"},
    {"lookup_consistency", "lookup consistency (fraction)"},
    {"hops_mean", "mean hops per lookup"},
    {"latency_ms_mean", "mean lookup latency (ms)"},
    {"latency_ms_p50", "median lookup latency (ms)"},
    {"latency_ms_p95", "95th-percentile lookup latency (ms)"},
    {"latency_ms_p99", "99th-percentile lookup latency (ms)"},
    {"lookup_timeouts", "lookup timeouts (count)"},
    {"retransmits_per_lookup", "retransmissions per lookup"},
    {"records_lost", "records lost (count)"},
    {"alive_peers_mean", "mean alive peers (count)"},
    {"bytes_per_peer_per_s", "traffic per peer (bytes/s)"},
    {"maintenance_bytes_per_peer_per_s", "maintenance traffic per peer (bytes/s)"},
    {"application_bytes_per_peer_per_s", "application traffic per peer (bytes/s)"},
    {"messages_per_peer_per_s", "messages per peer per second (1/s)"},
};

/* One point of a sweep line: x (a number, or the index of a category), mean and CI. */
struct plot_point {
    double x, mean, lo, hi;
};

static int plot_point_cmp(const void *a, const void *b)
{
    const struct plot_point *p = a, *q = b;
    return (p->x > q->x) - (p->x < q->x);
}

/* The sweep as read from aggregate.tsv: key columns before "metric". */
struct plot_sweep_data {
    struct plot_table *agg;
    int nkeys, cm, cmean, clo, chi;
    GPtrArray *xvalues; /* char *: distinct values of the first key, first-seen order */
    GPtrArray *groups;  /* char *: distinct "k2=v2, k3=v3" labels, first-seen order */
    gboolean numeric, logx, log2x;
    const char *xunit;
};

/* A line's legend: "k2=v2, k3=v3"; with a single second key just its value ("bamboo"), the key
 * then being the legend's title. */
static char *plot_group_label(const struct plot_sweep_data *d, guint row)
{
    if (d->nkeys == 2)
        return g_strdup(plot_table_cell(d->agg, row, 1));
    GString *s = g_string_new(NULL);
    for (int k = 1; k < d->nkeys; k++)
        g_string_append_printf(s, "%s%s=%s", k > 1 ? ", " : "",
                               (const char *)g_ptr_array_index(d->agg->header, (guint)k),
                               plot_table_cell(d->agg, row, k));
    return g_string_free(s, FALSE);
}

static guint plot_index_of(GPtrArray *a, const char *s)
{
    guint i;
    if (!g_ptr_array_find_with_equal_func(a, s, g_str_equal, &i)) {
        g_ptr_array_add(a, g_strdup(s));
        i = a->len - 1;
    }
    return i;
}

/* Decides the x axis: numbers with one unit (log scale when they span two decades, or base 2
 * when all are powers of two spanning a factor 8, as the peer counts of a path-length sweep),
 * else categories in the order of the file. */
static void plot_sweep_axis(struct plot_sweep_data *d)
{
    d->numeric = d->xvalues->len > 0;
    d->xunit = "";
    double lo = INFINITY, hi = -INFINITY;
    gboolean pow2 = TRUE;
    for (guint i = 0; d->numeric && i < d->xvalues->len; i++) {
        double v;
        const char *unit;
        if (!plot_parse_quantity(g_ptr_array_index(d->xvalues, i), &v, &unit) ||
            (i > 0 && strcmp(unit, d->xunit))) {
            d->numeric = FALSE;
            break;
        }
        d->xunit = unit;
        lo = MIN(lo, v);
        hi = MAX(hi, v);
        pow2 &= v >= 1 && v == ldexp(1.0, (int)lround(log2(v)));
    }
    d->logx = d->numeric && lo > 0 && (hi >= 100 * lo || (pow2 && hi >= 8 * lo));
    d->log2x = d->logx && pow2;
}

static double plot_sweep_x(const struct plot_sweep_data *d, guint row)
{
    const char *s = plot_table_cell(d->agg, row, 0);
    if (!d->numeric) {
        guint i = 0;
        g_ptr_array_find_with_equal_func(d->xvalues, s, g_str_equal, &i);
        return i;
    }
    double v = 0;
    const char *unit;
    plot_parse_quantity(s, &v, &unit);
    return v;
}

static struct plot_figure *plot_sweep_figure(const struct plot_sweep_data *d, const char *name,
                                             const char *metric, const char *ylabel, GError **err,
                                             gboolean *failed)
{
    char *stem = g_strdup_printf("sweep_%s", metric);
    char *what = g_strdup_printf("%s against the swept parameter, mean and 95 %% CI "
                                 "(aggregate.tsv)",
                                 metric);
    struct plot_figure *f = plot_figure_new(stem, what);
    g_free(stem);
    g_free(what);
    const char *xkey = g_ptr_array_index(d->agg->header, 0);
    double ymin = INFINITY, ymax = -INFINITY, xmin = INFINITY, xmax = -INFINITY;
    guint drawn = 0;
    GString *plot = g_string_new("plot ");
    for (guint g = 0; g < d->groups->len; g++) {
        GArray *pts = g_array_new(FALSE, FALSE, sizeof(struct plot_point));
        for (guint r = 0; r < d->agg->rows->len; r++) {
            if (strcmp(plot_table_cell(d->agg, r, d->cm), metric))
                continue;
            char *label = plot_group_label(d, r);
            gboolean mine = !strcmp(label, g_ptr_array_index(d->groups, g));
            g_free(label);
            if (!mine)
                continue;
            struct plot_point p = {.x = plot_sweep_x(d, r)};
            if (!plot_table_number(d->agg, r, d->cmean, TRUE, &p.mean, err) ||
                !plot_table_number(d->agg, r, d->clo, TRUE, &p.lo, err) ||
                !plot_table_number(d->agg, r, d->chi, TRUE, &p.hi, err)) {
                *failed = TRUE;
                break;
            }
            if (isnan(p.mean))
                continue;
            if (isnan(p.lo) || isnan(p.hi))
                p.lo = p.hi = p.mean; /* one seed: no interval */
            g_array_append_val(pts, p);
        }
        if (*failed || pts->len == 0) {
            g_array_unref(pts);
            if (*failed)
                break;
            continue;
        }
        g_array_sort(pts, plot_point_cmp);
        g_string_append_printf(f->setup, "$g%u << EOD\n", g);
        for (guint i = 0; i < pts->len; i++) {
            const struct plot_point *p = &g_array_index(pts, struct plot_point, i);
            double v[] = {p->x, p->mean, p->lo, p->hi};
            for (int k = 0; k < 4; k++) {
                plot_number(f->setup, v[k]);
                g_string_append_c(f->setup, k < 3 ? '\t' : '\n');
            }
            ymin = MIN(ymin, MIN(p->mean, p->lo));
            ymax = MAX(ymax, MAX(p->mean, p->hi));
            xmin = MIN(xmin, p->x);
            xmax = MAX(xmax, p->x);
        }
        g_string_append(f->setup, "EOD\n");
        g_string_append_printf(plot, "%s$g%u using 1:2:3:4 with yerrorlines linetype %u",
                               drawn ? ", \\\n     " : "", g, drawn + 1);
        if (d->nkeys > 1) {
            g_string_append(plot, " title ");
            plot_quote(plot, g_ptr_array_index(d->groups, g));
        }
        drawn++;
        g_array_unref(pts);
    }
    if (*failed || drawn == 0) {
        g_string_free(plot, TRUE);
        plot_figure_free(f);
        return NULL;
    }
    g_string_append_c(plot, '\n');
    g_string_append(f->body, plot->str);
    g_string_free(plot, TRUE);

    char *title = g_strdup_printf("%s: %s against %s (mean, 95 %% CI)", name, metric, xkey);
    plot_set_text(f->setup, "title", title);
    g_free(title);
    char *xlabel = g_strdup_printf("%s%s%s%s%s", xkey, *d->xunit ? " (" : "", d->xunit,
                                   *d->xunit ? ")" : "", d->logx ? ", log scale" : "");
    plot_set_text(f->setup, "xlabel", xlabel);
    g_free(xlabel);
    plot_set_text(f->setup, "ylabel", ylabel);
    if (d->nkeys == 2) {
        g_string_append(f->setup, "set key below title ");
        plot_quote(f->setup, g_ptr_array_index(d->agg->header, 1));
        g_string_append_c(f->setup, '\n');
    } else if (d->nkeys > 2)
        g_string_append(f->setup, "set key below\n");
    g_string_append(f->setup, "set errorbars 1.5\n");
    if (!d->numeric) {
        GString *tics = g_string_new("set xtics (");
        for (guint i = 0; i < d->xvalues->len; i++) {
            g_string_append(tics, i ? ", " : "");
            plot_quote(tics, g_ptr_array_index(d->xvalues, i));
            g_string_append_printf(tics, " %u", i);
        }
        g_string_append(tics, ")\n");
        g_string_append(f->setup, tics->str);
        g_string_free(tics, TRUE);
        plot_set_range(f->setup, "x", -0.5, d->xvalues->len - 0.5, FALSE);
    } else {
        if (d->logx)
            g_string_append_printf(f->setup, "set logscale x %d\n", d->log2x ? 2 : 10);
        if (xmin == xmax)
            plot_set_range(f->setup, "x", xmin, xmax, d->logx);
        else if (d->logx) /* a little room so that end points and bars stay visible */
            plot_set_range(f->setup, "x", xmin / 1.2, xmax * 1.2, TRUE);
        else
            plot_set_range(f->setup, "x", xmin - 0.05 * (xmax - xmin), xmax + 0.05 * (xmax - xmin),
                           FALSE);
    }
    if (ymin == ymax)
        plot_set_range(f->setup, "y", ymin, ymax, FALSE);
    return f;
}

static void plot_sweep_data_clear(struct plot_sweep_data *d)
{
    plot_table_free(d->agg);
    if (d->xvalues)
        g_ptr_array_unref(d->xvalues);
    if (d->groups)
        g_ptr_array_unref(d->groups);
}

gboolean plot_sweep(const char *sweep_dir, GError **err)
{
    static const char *const req[] = {"metric", "mean", "ci95_low", "ci95_high", NULL};
    if (!plot_dir_check(sweep_dir, err))
        return FALSE;
    if (!plot_has_file(sweep_dir, "runs.tsv") && !plot_has_file(sweep_dir, "aggregate.tsv")) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT,
                    "%s: not a sweep folder (no runs.tsv or aggregate.tsv)", sweep_dir);
        return FALSE;
    }
    struct plot_table *runs;
    if (!plot_table_load_optional(sweep_dir, "runs.tsv", NULL, &runs, err))
        return FALSE;
    plot_table_free(runs);
    struct plot_sweep_data d = {0};
    if (!plot_table_load_optional(sweep_dir, "aggregate.tsv", req, &d.agg, err))
        return FALSE;
    if (!d.agg)
        return TRUE;
    d.cm = plot_table_column(d.agg, "metric");
    d.cmean = plot_table_column(d.agg, "mean");
    d.clo = plot_table_column(d.agg, "ci95_low");
    d.chi = plot_table_column(d.agg, "ci95_high");
    d.nkeys = d.cm;     /* the swept keys are the columns before "metric" */
    if (d.nkeys == 0) { /* seeds only: nothing to draw against */
        plot_sweep_data_clear(&d);
        return TRUE;
    }
    d.xvalues = g_ptr_array_new_with_free_func(g_free);
    d.groups = g_ptr_array_new_with_free_func(g_free);
    for (guint r = 0; r < d.agg->rows->len; r++) {
        plot_index_of(d.xvalues, plot_table_cell(d.agg, r, 0));
        char *label = plot_group_label(&d, r);
        plot_index_of(d.groups, label);
        g_free(label);
    }
    plot_sweep_axis(&d);
    char *name = plot_scenario_name(sweep_dir);
    GPtrArray *figs = g_ptr_array_new_with_free_func((GDestroyNotify)plot_figure_free);
    gboolean failed = FALSE;
    for (size_t m = 0; !failed && m < G_N_ELEMENTS(plot_sweep_metrics); m++) {
        struct plot_figure *f = plot_sweep_figure(&d, name, plot_sweep_metrics[m].metric,
                                                  plot_sweep_metrics[m].ylabel, err, &failed);
        if (f)
            g_ptr_array_add(figs, f);
    }
    gboolean ok = !failed;
    if (ok && figs->len > 0) {
        char *plots = g_build_filename(sweep_dir, "plots", NULL);
        ok = plot_render(plots, figs, err);
        g_free(plots);
    }
    g_ptr_array_unref(figs);
    g_free(name);
    plot_sweep_data_clear(&d);
    return ok;
}

/* ---- p2psip plot -------------------------------------------------------------------------- */

static const char plot_usage[] =
    "Usage: p2psip plot RUN_DIR... [--quiet] [--help]\n"
    "\n"
    "Renders the gnuplot figures of results folders into DIR/plots/ as PNG (1200x800) and SVG,\n"
    "next to their scripts (DIR/plots/*.gp; the data are inline: edit one and run\n"
    "`gnuplot NAME.gp` in that folder to restyle it).  Each figure is drawn when its file is\n"
    "present:\n"
    "  a run folder:   hops (hops.tsv), latency_cdf and latency_cdf_log (latency_cdf.tsv),\n"
    "                  messages (messages.tsv), time_alive_peers, time_lookup_success, ...\n"
    "                  (timeseries.tsv)\n"
    "  a sweep folder (it has runs.tsv): sweep_METRIC for lookup_success, hops_mean,\n"
    "                  latency_ms_p50, latency_ms_p95, bytes_per_peer_per_s, ... against the\n"
    "                  first swept key, one line per combination of the other swept keys,\n"
    "                  with 95 % confidence intervals (aggregate.tsv)\n"
    "\n"
    "  --quiet   print nothing on success\n"
    "  --help    show this help\n"
    "\n"
    "Exit codes: 0 success, 1 gnuplot missing or failed, 2 usage error or unreadable folder.\n";

/* Exit code for a plot error: bad input is the user's (2), the rest is the machine's (1). */
static int plot_exit_code(const GError *e)
{
    return e->domain == PLOT_ERROR && e->code == PLOT_ERROR_INPUT ? 2 : 1;
}

int plot_cli_main(int argc, char **argv)
{
    gboolean quiet = FALSE;
    GPtrArray *dirs = g_ptr_array_new();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(plot_usage, stdout);
            g_ptr_array_unref(dirs);
            return 0;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = TRUE;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "p2psip plot: unknown option '%s' (see p2psip plot --help)\n", a);
            g_ptr_array_unref(dirs);
            return 2;
        } else {
            g_ptr_array_add(dirs, (gpointer)a);
        }
    }
    if (dirs->len == 0) {
        fputs("p2psip plot: no folder given (usage: p2psip plot RUN_DIR...)\n", stderr);
        g_ptr_array_unref(dirs);
        return 2;
    }
    for (guint i = 0; i < dirs->len; i++) {
        const char *dir = g_ptr_array_index(dirs, i);
        if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
            fprintf(stderr, "p2psip plot: %s: no such folder\n", dir);
            g_ptr_array_unref(dirs);
            return 2;
        }
    }
    int rc = 0;
    for (guint i = 0; i < dirs->len; i++) {
        const char *dir = g_ptr_array_index(dirs, i);
        GError *e = NULL;
        gboolean sweep = plot_has_file(dir, "runs.tsv");
        gboolean ok = sweep ? plot_sweep(dir, &e) : plot_run(dir, &e);
        if (!ok) {
            fprintf(stderr, "p2psip plot: %s\n", e->message);
            rc = MAX(rc, plot_exit_code(e));
            g_error_free(e);
        } else if (!quiet) {
            char *plots = g_build_filename(dir, "plots", NULL);
            printf("%s: %s figures in %s\n", dir, sweep ? "sweep" : "run", plots);
            g_free(plots);
        }
    }
    g_ptr_array_unref(dirs);
    return rc;
}
