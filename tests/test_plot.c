/* test_plot.c — CUnit suite for the gnuplot figures and `p2psip compare`
 * (analysis/plot.h, analysis/plot_int.h).
 *
 * Builds small synthetic run and sweep folders in a temporary directory and checks that
 * plot_run and plot_sweep write non-empty PNG (by signature) and SVG files, that a missing
 * input skips its figure, that a malformed TSV is an error naming FILE:LINE:COLUMN, that the
 * scripts are byte-identical for the same inputs wherever the folder is, and that compare
 * writes compare.tsv and exits 2 on usage errors.  The rendering assertions are skipped (with
 * a message) only when gnuplot is not installed.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../analysis/plot.h"
#include "../analysis/plot_int.h"

/* ---- fixtures ------------------------------------------------------------------------------ */

static char *tmp_dir(void)
{
    GError *err = NULL;
    char *dir = g_dir_make_tmp("p2psip-plot-XXXXXX", &err);
    g_assert_no_error(err);
    return dir;
}

static void rm_rf(const char *path)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
        GDir *d = g_dir_open(path, 0, NULL);
        const char *name;
        while (d && (name = g_dir_read_name(d))) {
            char *child = g_build_filename(path, name, NULL);
            rm_rf(child);
            g_free(child);
        }
        if (d)
            g_dir_close(d);
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

static void put(const char *dir, const char *file, const char *text)
{
    g_mkdir_with_parents(dir, 0755);
    char *path = g_build_filename(dir, file, NULL);
    GError *err = NULL;
    g_file_set_contents(path, text, -1, &err);
    g_assert_no_error(err);
    g_free(path);
}

static gboolean exists(const char *dir, const char *file)
{
    char *path = g_build_filename(dir, file, NULL);
    gboolean yes = g_file_test(path, G_FILE_TEST_EXISTS);
    g_free(path);
    return yes;
}

static char *slurp(const char *dir, const char *file, gsize *len)
{
    char *path = g_build_filename(dir, file, NULL);
    char *text = NULL;
    if (!g_file_get_contents(path, &text, len, NULL))
        text = NULL;
    g_free(path);
    return text;
}

static const char hops_tsv[] = "hops\tcount\n0\t2\n1\t10\n2\t40\n3\t35\n4\t13\n";
static const char latency_tsv[] = "latency_ms\tfraction\n0.000\t0.02\n50.000\t0.10\n"
                                  "100.000\t0.45\n150.000\t0.80\n200.000\t0.97\n250.000\t1.0\n";
static const char messages_tsv[] = "type\tcount\tbytes\nping_req\t100\t14000\n"
                                   "ping_ans\t100\t18000\nack\t200\t1800\n";
static const char traffic_tsv[] = "class\ttype\tcount\tbytes\tper_peer_per_s\n"
                                  "application\tping_req\t100\t14000\t4.667\n"
                                  "maintenance\tupdate_req\t30\t9000\t3.000\n"
                                  "maintenance\tack\t130\t1170\t0.390\n";
static const char timeseries_tsv[] =
    "# long format: one row per interval and metric\n"
    "time_s\tmetric\tvalue\n"
    "0\talive_peers\t100\n0\tlookup_success\tnan\n"
    "10\talive_peers\t96\n10\tjoined_peers\t94\n10\tlookup_success\t0.98\n"
    "20\talive_peers\t91\n20\tlookup_success\t0.95\n"
    "30\talive_peers\t93\n30\tlookup_success\t0.99\n";
static const char summary_tsv[] = "metric\tvalue\npeers\t100\nlookup_success\t0.970000\n"
                                  "hops_mean\t2.4200\nlatency_ms_p95\t200.000\n";

/* A complete run folder; the scenario name has a quote that gnuplot strings must escape. */
static void make_run(const char *dir)
{
    put(dir, "scenario.yaml", "# resolved\nname: \"it's \\\"tiny\\\"\"\nseed: 1\n");
    put(dir, "summary.tsv", summary_tsv);
    put(dir, "hops.tsv", hops_tsv);
    put(dir, "latency_cdf.tsv", latency_tsv);
    put(dir, "messages.tsv", messages_tsv);
    put(dir, "timeseries.tsv", timeseries_tsv);
}

static gboolean is_png(const char *dir, const char *file)
{
    gsize len = 0;
    char *data = slurp(dir, file, &len);
    gboolean ok = data && len > 100 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0;
    g_free(data);
    return ok;
}

static gboolean is_svg(const char *dir, const char *file)
{
    gsize len = 0;
    char *data = slurp(dir, file, &len);
    gboolean ok = data && len > 100 && strstr(data, "<svg") && strstr(data, "</svg>");
    g_free(data);
    return ok;
}

/* Checks plot_run's result: TRUE with gnuplot; without it FALSE with PLOT_ERROR_NO_GNUPLOT.
 * Returns whether the figures can be checked. */
static gboolean rendered(gboolean ok, GError *err)
{
    if (!plot_have_gnuplot()) {
        CU_ASSERT_FALSE(ok);
        CU_ASSERT(g_error_matches(err, PLOT_ERROR, PLOT_ERROR_NO_GNUPLOT));
        if (err)
            g_error_free(err);
        CU_PASS("gnuplot is not installed: rendering not checked");
        return FALSE;
    }
    if (!ok)
        fprintf(stderr, "\nunexpected error: %s\n", err ? err->message : "(none)");
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_PTR_NULL(err);
    if (err)
        g_error_free(err);
    return ok;
}

/* ---- run folders --------------------------------------------------------------------------- */

static void test_run_figures(void)
{
    char *dir = tmp_dir();
    make_run(dir);
    GError *err = NULL;
    gboolean ok = plot_run(dir, &err);
    char *plots = g_build_filename(dir, "plots", NULL);
    static const char *const stems[] = {"hops", "latency_cdf", "messages", "time_alive_peers",
                                        "time_lookup_success"};
    for (size_t i = 0; i < G_N_ELEMENTS(stems); i++) {
        char *gp = g_strdup_printf("%s.gp", stems[i]);
        CU_ASSERT(exists(plots, gp));
        g_free(gp);
    }
    if (rendered(ok, err)) {
        for (size_t i = 0; i < G_N_ELEMENTS(stems); i++) {
            char *png = g_strdup_printf("%s.png", stems[i]);
            char *svg = g_strdup_printf("%s.svg", stems[i]);
            CU_ASSERT(is_png(plots, png));
            CU_ASSERT(is_svg(plots, svg));
            g_free(png);
            g_free(svg);
        }
    }
    /* The title carries the scenario name, quoted for gnuplot; axes name their units. */
    char *gp = slurp(plots, "hops.gp", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(gp);
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "set title 'it''s \"tiny\": hops per lookup"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "set ylabel 'lookups (count)'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "pngcairo size 1200,800"));
    g_free(gp);
    gp = slurp(plots, "latency_cdf.gp", NULL);
    CU_ASSERT_PTR_NOT_NULL(gp && strstr(gp, "set xlabel 'lookup latency (ms)'"));
    g_free(gp);
    /* The time series keeps a missing interval as a gap (NaN). */
    gp = slurp(plots, "time_lookup_success.gp", NULL);
    CU_ASSERT_PTR_NOT_NULL(gp && strstr(gp, "0\tNaN\n10\t0.98\n"));
    g_free(gp);
    /* Alive peers with the joined peers on the same axes. */
    gp = slurp(plots, "time_alive_peers.gp", NULL);
    CU_ASSERT_PTR_NOT_NULL(gp && strstr(gp, "$series1 << EOD\n10\t94\nEOD\n"));
    CU_ASSERT_PTR_NOT_NULL(gp && strstr(gp, "title 'joined the ring'"));
    g_free(gp);
    /* Without traffic.tsv the bars come from messages.tsv. */
    gp = slurp(plots, "messages.gp", NULL);
    CU_ASSERT_PTR_NOT_NULL(gp && strstr(gp, "(messages.tsv)") && strstr(gp, "'ack' 0"));
    g_free(gp);
    /* With traffic.tsv the bars show bytes per peer and second, coloured by class. */
    put(dir, "traffic.tsv", traffic_tsv);
    err = NULL;
    ok = plot_run(dir, &err);
    if (rendered(ok, err))
        CU_ASSERT(is_png(plots, "messages.png"));
    gp = slurp(plots, "messages.gp", NULL);
    CU_ASSERT_PTR_NOT_NULL(gp && strstr(gp, "(traffic.tsv)"));
    CU_ASSERT_PTR_NOT_NULL(gp && strstr(gp, "2\t100\t4.667\t0\n1\t30\t3\t1\n"));
    CU_ASSERT_PTR_NOT_NULL(gp && strstr(gp, "title 'maintenance'"));
    CU_ASSERT_PTR_NOT_NULL(gp && strstr(gp, "set xlabel 'bytes/s per peer'"));
    g_free(gp);
    g_free(plots);
    rm_rf(dir);
    g_free(dir);
}

static void test_missing_files_skipped(void)
{
    char *dir = tmp_dir();
    put(dir, "hops.tsv", hops_tsv); /* no scenario.yaml, summary, CDF, messages, series */
    GError *err = NULL;
    gboolean ok = plot_run(dir, &err);
    char *plots = g_build_filename(dir, "plots", NULL);
    CU_ASSERT(exists(plots, "hops.gp"));
    CU_ASSERT_FALSE(exists(plots, "latency_cdf.gp"));
    CU_ASSERT_FALSE(exists(plots, "messages.gp"));
    CU_ASSERT_FALSE(exists(plots, "time_alive_peers.gp"));
    if (rendered(ok, err)) {
        CU_ASSERT(is_png(plots, "hops.png"));
        CU_ASSERT_FALSE(exists(plots, "latency_cdf.png"));
    }
    /* Without scenario.yaml the title names the folder. */
    char *gp = slurp(plots, "hops.gp", NULL);
    char *base = g_path_get_basename(dir);
    char *want = g_strdup_printf("set title '%s: hops per lookup", base);
    CU_ASSERT_PTR_NOT_NULL(gp && strstr(gp, want));
    g_free(want);
    g_free(base);
    g_free(gp);
    g_free(plots);

    /* A folder with no results at all, and no folder, are errors. */
    char *empty = g_build_filename(dir, "empty", NULL);
    g_mkdir(empty, 0755);
    err = NULL;
    CU_ASSERT_FALSE(plot_run(empty, &err));
    CU_ASSERT(g_error_matches(err, PLOT_ERROR, PLOT_ERROR_INPUT));
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err->message, "not a run folder"));
    g_clear_error(&err);
    char *none = g_build_filename(dir, "none", NULL);
    CU_ASSERT_FALSE(plot_run(none, &err));
    CU_ASSERT(g_error_matches(err, PLOT_ERROR, PLOT_ERROR_INPUT));
    g_clear_error(&err);
    g_free(none);
    g_free(empty);
    rm_rf(dir);
    g_free(dir);
}

/* plot_run on a folder whose FILE holds TEXT fails with a message holding WANT. */
static void expect_malformed(const char *file, const char *text, const char *want)
{
    char *dir = tmp_dir();
    make_run(dir);
    put(dir, file, text);
    GError *err = NULL;
    CU_ASSERT_FALSE(plot_run(dir, &err));
    CU_ASSERT(g_error_matches(err, PLOT_ERROR, PLOT_ERROR_INPUT));
    char *where = g_strdup_printf("%s/%s:%s", dir, file, want);
    gboolean ok = err && strstr(err->message, where);
    if (!ok)
        fprintf(stderr, "\nmessage: %s\nwanted: %s\n", err ? err->message : "(none)", where);
    CU_ASSERT(ok);
    g_free(where);
    g_clear_error(&err);
    rm_rf(dir);
    g_free(dir);
}

static void test_malformed(void)
{
    expect_malformed("hops.tsv", "hops\tcount\n1\t3\n2\tmany\n",
                     "3:3: 'many' in column 'count' is not a number");
    expect_malformed("latency_cdf.tsv", "latency_ms\tfraction\n10\t0.5\t7\n",
                     "2: 3 tab-separated fields, but the header row has 2");
    expect_malformed("messages.tsv", "type\tcnt\tbytes\nack\t1\t9\n",
                     "1: the header row has no column 'count'");
    expect_malformed("timeseries.tsv", "time_s\tmetric\tvalue\nsoon\talive_peers\t4\n",
                     "2:1: 'soon' in column 'time_s' is not a number");
    expect_malformed("hops.tsv", "", " empty file");
}

static void test_scripts_deterministic(void)
{
    char *a = tmp_dir(), *b = tmp_dir();
    char *b_run = g_build_filename(b, "elsewhere", "run", NULL);
    make_run(a);
    make_run(b_run);
    /* Results are compared whether or not gnuplot is installed: the scripts are written
     * either way. */
    GError *err = NULL;
    plot_run(a, &err);
    g_clear_error(&err);
    char *pa = g_build_filename(a, "plots", NULL), *pb = g_build_filename(b_run, "plots", NULL);
    char *first = slurp(pa, "messages.gp", NULL);
    plot_run(a, &err); /* again, in place */
    g_clear_error(&err);
    plot_run(b_run, &err); /* and in another folder */
    g_clear_error(&err);
    static const char *const scripts[] = {"hops.gp", "latency_cdf.gp", "messages.gp",
                                          "time_alive_peers.gp", "time_lookup_success.gp"};
    for (size_t i = 0; i < G_N_ELEMENTS(scripts); i++) {
        char *x = slurp(pa, scripts[i], NULL), *y = slurp(pb, scripts[i], NULL);
        CU_ASSERT_PTR_NOT_NULL(x);
        CU_ASSERT(x && y && strcmp(x, y) == 0);
        CU_ASSERT(x && !strstr(x, a)); /* no absolute paths */
        g_free(x);
        g_free(y);
    }
    char *again = slurp(pa, "messages.gp", NULL);
    CU_ASSERT(first && again && strcmp(first, again) == 0);
    g_free(first);
    g_free(again);
    g_free(pa);
    g_free(pb);
    g_free(b_run);
    rm_rf(a);
    rm_rf(b);
    g_free(a);
    g_free(b);
}

/* ---- sweep folders ------------------------------------------------------------------------- */

static void test_sweep_figures(void)
{
    char *dir = tmp_dir();
    put(dir, "scenario.yaml", "name: pathlength\n");
    put(dir, "runs.tsv",
        "run\tseed\tpeers\toverlay.successors\tlookup_success\n"
        "0001\t1\t64\t2\t1\n");
    GString *agg = g_string_new("peers\toverlay.successors\tmetric\tn\tmean\tci95_low\t"
                                "ci95_high\n");
    static const int peers[] = {64, 256, 1024};
    for (int s = 2; s <= 4; s += 2) {
        for (size_t p = 0; p < G_N_ELEMENTS(peers); p++) {
            double h = 3.0 + p - 0.1 * s;
            g_string_append_printf(agg, "%d\t%d\thops_mean\t5\t%.2f\t%.2f\t%.2f\n", peers[p], s, h,
                                   h - 0.1, h + 0.1);
            g_string_append_printf(agg, "%d\t%d\tlookup_success\t5\t1\tnan\tnan\n", peers[p], s);
            g_string_append_printf(agg, "%d\t%d\twall_s\t5\t0.5\t0.4\t0.6\n", peers[p], s);
        }
    }
    put(dir, "aggregate.tsv", agg->str);
    g_string_free(agg, TRUE);
    GError *err = NULL;
    gboolean ok = plot_sweep(dir, &err);
    char *plots = g_build_filename(dir, "plots", NULL);
    char *gp = slurp(plots, "sweep_hops_mean.gp", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(gp);
    /* One line per value of the second key, x on a log2 axis, 95 % CI error bars. */
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "$g0 << EOD\n64\t2.8\t2.7\t2.9\n256\t3.8\t"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "$g1 << EOD\n64\t2.6\t"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "with yerrorlines"));
    /* One second key: the lines are named by its values, the legend by the key. */
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "title '4'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "set key below title 'overlay.successors'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "set logscale x 2"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "set title 'pathlength: hops_mean against peers"));
    g_free(gp);
    CU_ASSERT(exists(plots, "sweep_lookup_success.gp"));
    CU_ASSERT_FALSE(exists(plots, "sweep_wall_s.gp")); /* bookkeeping is not drawn */
    if (rendered(ok, err)) {
        CU_ASSERT(is_png(plots, "sweep_hops_mean.png"));
        CU_ASSERT(is_svg(plots, "sweep_lookup_success.svg"));
    }
    g_free(plots);

    /* A seed group (no swept key) has nothing to draw against; a sweep without aggregate.tsv
     * skips its figures; a malformed aggregate is an error. */
    char *group = g_build_filename(dir, "group", NULL);
    put(group, "runs.tsv", "run\tseed\tlookup_success\n");
    put(group, "aggregate.tsv", "metric\tn\tmean\tci95_low\tci95_high\nhops_mean\t5\t3\t2\t4\n");
    err = NULL;
    CU_ASSERT_TRUE(plot_sweep(group, &err));
    CU_ASSERT_FALSE(exists(group, "plots"));
    put(group, "aggregate.tsv",
        "peers\tmetric\tmean\tci95_low\tci95_high\n8\thops_mean\tx\t1\t2\n");
    CU_ASSERT_FALSE(plot_sweep(group, &err));
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err->message, "aggregate.tsv:2:13: 'x'"));
    g_clear_error(&err);
    g_free(group);
    rm_rf(dir);
    g_free(dir);
}

/* ---- helpers ------------------------------------------------------------------------------- */

static void test_helpers(void)
{
    GString *s = g_string_new(NULL);
    plot_quote(s, "it's\ta");
    CU_ASSERT_STRING_EQUAL(s->str, "'it''s a'");
    g_string_free(s, TRUE);

    double v;
    const char *unit;
    CU_ASSERT(plot_parse_quantity("30s", &v, &unit) && v == 30 && !strcmp(unit, "s"));
    CU_ASSERT(plot_parse_quantity("200ms", &v, &unit) && v == 0.2 && !strcmp(unit, "s"));
    CU_ASSERT(plot_parse_quantity("5m", &v, &unit) && v == 300);
    CU_ASSERT(plot_parse_quantity("30/min", &v, &unit) && v == 0.5 && !strcmp(unit, "1/s"));
    CU_ASSERT(plot_parse_quantity("1Mbit", &v, &unit) && v == 1e6 && !strcmp(unit, "bit/s"));
    CU_ASSERT(plot_parse_quantity("1024", &v, &unit) && v == 1024 && !strcmp(unit, ""));
    CU_ASSERT_FALSE(plot_parse_quantity("chord", &v, &unit));
    CU_ASSERT_FALSE(plot_parse_quantity("3 s", &v, &unit));

    /* Tables: comments and blank lines skipped, CRLF accepted, missing values. */
    char *dir = tmp_dir();
    put(dir, "t.tsv", "# comment\r\nx\ty\r\n\r\n1\tNA\r\n2\t3.5\r\n");
    char *path = g_build_filename(dir, "t.tsv", NULL);
    GError *err = NULL;
    struct plot_table *t = plot_table_read(path, (const char *const[]){"x", "y", NULL}, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->rows->len, 2);
    CU_ASSERT_EQUAL(g_array_index(t->lines, guint, 1), 5);
    CU_ASSERT(plot_table_number(t, 0, 1, TRUE, &v, &err) && isnan(v));
    CU_ASSERT_FALSE(plot_table_number(t, 0, 1, FALSE, &v, &err));
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err->message, "t.tsv:4:3: 'NA' in column 'y'"));
    g_clear_error(&err);
    CU_ASSERT(plot_table_number(t, 1, 1, FALSE, &v, &err) && v == 3.5);
    plot_table_free(t);
    g_free(path);
    rm_rf(dir);
    g_free(dir);
}

/* ---- p2psip plot and p2psip compare -------------------------------------------------------- */

/* Runs a command's main with stdout and stderr sent to /dev/null; returns its exit code. */
static int run_quiet(int (*main_fn)(int, char **), char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    fflush(stdout);
    fflush(stderr);
    int out = dup(1), errfd = dup(2);
    FILE *null = fopen("/dev/null", "w");
    dup2(fileno(null), 1);
    dup2(fileno(null), 2);
    int rc = main_fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(errfd, 2);
    close(out);
    close(errfd);
    fclose(null);
    return rc;
}

static void test_cli(void)
{
    char *dir = tmp_dir();
    char *a = g_build_filename(dir, "base", NULL), *b = g_build_filename(dir, "change", NULL);
    char *out = g_build_filename(dir, "cmp", NULL);
    make_run(a);
    make_run(b);
    put(b, "summary.tsv",
        "metric\tvalue\npeers\t100\nlookup_success\t0.990000\n"
        "hops_mean\t2.5000\nextra\t7\n");
    char *argv_cmp[] = {"compare", a, b, "--out", out, NULL};
    CU_ASSERT_EQUAL(run_quiet(compare_cli_main, argv_cmp), 0); /* 0 even without gnuplot */
    char *tsv = slurp(out, "compare.tsv", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tsv);
    CU_ASSERT(g_str_has_prefix(tsv, "run\tmetric\tvalue\tci95_low\tci95_high\n"
                                    "base\tpeers\t100\tNA\tNA\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(tsv, "change\textra\t7\tNA\tNA\n"));
    g_free(tsv);
    CU_ASSERT(exists(out, "hops.gp") && exists(out, "latency_cdf.gp"));
    CU_ASSERT(exists(out, "time_alive_peers.gp"));
    char *gp = slurp(out, "hops.gp", NULL);
    CU_ASSERT_PTR_NOT_NULL(gp && strstr(gp, "title 'base'") && strstr(gp, "title 'change'"));
    g_free(gp);
    if (plot_have_gnuplot())
        CU_ASSERT(is_png(out, "latency_cdf.png"));

    char *argv_plot[] = {"plot", a, "--quiet", NULL};
    CU_ASSERT_EQUAL(run_quiet(plot_cli_main, argv_plot), plot_have_gnuplot() ? 0 : 1);
    char *missing = g_build_filename(dir, "missing", NULL);
    char *argv_missing[] = {"compare", a, missing, NULL};
    CU_ASSERT_EQUAL(run_quiet(compare_cli_main, argv_missing), 2);
    char *argv_plot_missing[] = {"plot", missing, NULL};
    CU_ASSERT_EQUAL(run_quiet(plot_cli_main, argv_plot_missing), 2);
    char *argv_none[] = {"compare", NULL};
    CU_ASSERT_EQUAL(run_quiet(compare_cli_main, argv_none), 2);
    char *argv_opt[] = {"plot", "--frobnicate", a, NULL};
    CU_ASSERT_EQUAL(run_quiet(plot_cli_main, argv_opt), 2);
    char *argv_help[] = {"compare", "--help", NULL};
    CU_ASSERT_EQUAL(run_quiet(compare_cli_main, argv_help), 0);
    g_free(missing);
    g_free(a);
    g_free(b);
    g_free(out);
    rm_rf(dir);
    g_free(dir);
}

CU_TestInfo test_plot_tests[] = {
    {"run folder: PNG and SVG figures", test_run_figures},
    {"missing inputs skip their figures", test_missing_files_skipped},
    {"malformed TSVs name file:line:column", test_malformed},
    {"scripts are deterministic", test_scripts_deterministic},
    {"sweep folder: metric against the swept key", test_sweep_figures},
    {"quoting, quantities and tables", test_helpers},
    {"plot and compare commands", test_cli},
    CU_TEST_INFO_NULL,
};
