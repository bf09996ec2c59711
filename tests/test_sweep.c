/* test_sweep.c — CUnit suite for sweeps and seeds (sim/sweep.h): the order of the runs
 * (point-major, then seed; the last swept key fastest), the seed of each run, the Student-t
 * 95 % interval against published t quantiles, the exact text of runs.tsv and aggregate.tsv,
 * fork()-based execution with its exit statuses, and the cluster scripts.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../sim/sweep.h"

/* ---- the order of runs ------------------------------------------------------------------- */

static const char sweep_yaml[] = "name: sweep-test\n"
                                 "duration: 10s\n"
                                 "peers: 8\n"
                                 "seed: 40\n"
                                 "seeds: 3\n"
                                 "sweep:\n"
                                 "  overlay.successors: [4, 8]\n"
                                 "  latency.ms: [10, 20, 30]\n";

static char *write_temp(const char *text)
{
    GError *err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("test_sweep-XXXXXX.yaml", &path, &err);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_FATAL(g_file_set_contents(path, text, -1, NULL));
    return path;
}

static void test_order(void)
{
    char *path = write_temp(sweep_yaml);
    GError *err = NULL;
    struct scenario *sc = scenario_load(path, NULL, &err);
    if (!sc)
        fprintf(stderr, "\n%s\n", err->message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    struct sweep_plan p;
    sweep_plan_init(&p, sc);
    CU_ASSERT_EQUAL(p.points, 6);
    CU_ASSERT_EQUAL(p.seeds, 3);
    CU_ASSERT_EQUAL(sweep_plan_total(&p), 18);
    CU_ASSERT_EQUAL_FATAL(p.keys->len, 2);
    CU_ASSERT_STRING_EQUAL(g_ptr_array_index(p.keys, 0), "overlay.successors");
    CU_ASSERT_STRING_EQUAL(g_ptr_array_index(p.keys, 1), "latency.ms");
    CU_ASSERT_TRUE(sweep_plan_sweeps(&p, "latency.ms"));
    CU_ASSERT_FALSE(sweep_plan_sweeps(&p, "latency"));

    /* point-major then seed; seeds 40, 41, 42 at every point */
    for (uint64_t k = 0; k < 18; k++) {
        uint32_t point;
        uint64_t seed;
        sweep_plan_run(&p, k, &point, &seed);
        CU_ASSERT_EQUAL(point, k / 3);
        CU_ASSERT_EQUAL(seed, 40 + k % 3);
    }
    /* the last key varies fastest */
    const char *want[6][2] = {{"4", "10"}, {"4", "20"}, {"4", "30"},
                              {"8", "10"}, {"8", "20"}, {"8", "30"}};
    for (uint32_t pt = 0; pt < 6; pt++) {
        CU_ASSERT_STRING_EQUAL(sweep_plan_value(&p, pt, 0), want[pt][0]);
        CU_ASSERT_STRING_EQUAL(sweep_plan_value(&p, pt, 1), want[pt][1]);
    }
    /* loading with a point's overrides gives that point's scenario */
    struct scenario *s4 =
        scenario_load(path, (const char *const *)g_ptr_array_index(p.overrides, 4), &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s4);
    CU_ASSERT_EQUAL(s4->overlay.successors, 8);
    CU_ASSERT_DOUBLE_EQUAL(s4->latency.ms, 20, 1e-12);
    scenario_free(s4);

    char *name = sweep_run_name(5, 42);
    CU_ASSERT_STRING_EQUAL(name, "p5-s42");
    char *dir = sweep_run_dir("out", 5, 42);
    CU_ASSERT_STRING_EQUAL(dir, "out/runs/p5-s42");
    g_free(name);
    g_free(dir);
    sweep_plan_clear(&p);
    scenario_free(sc);
    g_unlink(path);
    g_free(path);
}

static void test_no_sweep(void)
{
    char *path = write_temp("name: one\nduration: 10s\npeers: 8\nseed: 7\n");
    struct scenario *sc = scenario_load(path, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    struct sweep_plan p;
    sweep_plan_init(&p, sc);
    CU_ASSERT_EQUAL(sweep_plan_total(&p), 1);
    CU_ASSERT_EQUAL(p.keys->len, 0);
    uint32_t point;
    uint64_t seed;
    sweep_plan_run(&p, 0, &point, &seed);
    CU_ASSERT_EQUAL(point, 0);
    CU_ASSERT_EQUAL(seed, 7);
    sweep_plan_clear(&p);
    scenario_free(sc);
    g_unlink(path);
    g_free(path);
}

/* ---- statistics -------------------------------------------------------------------------- */

static void test_t975(void)
{
    /* t(0.975, df) as published in every table (and by R's qt(0.975, df)) */
    struct {
        unsigned df;
        double t;
    } known[] = {
        {1, 12.7062047362}, {2, 4.30265272975},  {3, 3.18244630528},   {4, 2.77644510520},
        {9, 2.26215716280}, {29, 2.04522964213}, {100, 1.98397151845}, {1000, 1.96233908082},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(known); i++) {
        double t = sweep_t975(known[i].df);
        if (fabs(t - known[i].t) > 1e-7)
            fprintf(stderr, "\ndf %u: %.10f, want %.10f\n", known[i].df, t, known[i].t);
        CU_ASSERT_DOUBLE_EQUAL(t, known[i].t, 1e-7);
    }
    CU_ASSERT_DOUBLE_EQUAL(sweep_t975(1000000), 1.95996, 1e-5);
}

static void test_ci95(void)
{
    double x[] = {1, 2, 3, 4, 5};
    double m, lo, hi;
    sweep_ci95(x, 5, &m, &lo, &hi);
    /* s = sqrt(2.5), half = t(4) * s / sqrt(5) = 2.7764451052 * 0.7071067812 */
    CU_ASSERT_DOUBLE_EQUAL(m, 3, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(lo, 3 - 1.9632432, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(hi, 3 + 1.9632432, 1e-6);

    double one = 0.25;
    sweep_ci95(&one, 1, &m, &lo, &hi);
    CU_ASSERT_EQUAL(m, 0.25);
    CU_ASSERT_EQUAL(lo, 0.25);
    CU_ASSERT_EQUAL(hi, 0.25);

    double same[] = {2, 2, 2};
    sweep_ci95(same, 3, &m, &lo, &hi);
    CU_ASSERT_EQUAL(lo, 2);
    CU_ASSERT_EQUAL(hi, 2);

    double two[] = {10, 12}; /* s = sqrt(2), half = 12.7062047 * sqrt(2) / sqrt(2) */
    sweep_ci95(two, 2, &m, &lo, &hi);
    CU_ASSERT_DOUBLE_EQUAL(lo, 11 - 12.7062047, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(hi, 11 + 12.7062047, 1e-6);
}

/* ---- the tables -------------------------------------------------------------------------- */

/* A plan over one key with the given values and seeds, built by hand. */
static void plan_make(struct sweep_plan *p, const char *key, const char *const *values,
                      uint32_t seeds, uint64_t seed)
{
    p->seed = seed;
    p->seeds = seeds;
    p->keys = g_ptr_array_new_with_free_func(g_free);
    p->overrides = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    p->points = 0;
    if (key)
        g_ptr_array_add(p->keys, g_strdup(key));
    for (size_t i = 0; values[i]; i++, p->points++) {
        char **ov = g_new0(char *, 2);
        ov[0] = key ? g_strdup_printf("%s=%s", key, values[i]) : NULL;
        g_ptr_array_add(p->overrides, ov);
    }
}

static void run_make(struct sweep_run *r, const struct sweep_plan *p, uint64_t k,
                     const char *summary)
{
    r->index = k;
    sweep_plan_run(p, k, &r->point, &r->seed);
    sweep_summary_init(&r->summary);
    r->present = summary != NULL;
    if (summary) {
        GError *err = NULL;
        CU_ASSERT_TRUE(sweep_summary_parse(&r->summary, summary, "summary.tsv", &err));
        CU_ASSERT_PTR_NULL(err);
    }
}

#define SUMMARY(seed, succ, hops, wall)                                                            \
    "metric\tvalue\npeers\t8\nseed\t" seed "\nlookup_success\t" succ "\nhops_mean\t" hops          \
    "\nwall_s\t" wall "\npeak_rss_kib\t1234\nmemory_per_peer_bytes\t99\n"

static void test_tables(void)
{
    struct sweep_plan p;
    plan_make(&p, "overlay.successors", (const char *const[]){"4", "8", NULL}, 2, 5);
    struct sweep_run runs[4];
    run_make(&runs[0], &p, 0, SUMMARY("5", "1.000000", "2.0000", "0.5"));
    run_make(&runs[1], &p, 1, SUMMARY("6", "0.900000", "4.0000", "0.7"));
    run_make(&runs[2], &p, 2, SUMMARY("5", "0.500000", "3.0000", "9.1"));
    run_make(&runs[3], &p, 3, NULL); /* absent: skipped */

    char *tsv = sweep_runs_tsv(&p, runs, 4);
    CU_ASSERT_STRING_EQUAL(tsv, "run\tpoint\tseed\toverlay.successors\tpeers\tlookup_success\t"
                                "hops_mean\n"
                                "0\t0\t5\t4\t8\t1.000000\t2.0000\n"
                                "1\t0\t6\t4\t8\t0.900000\t4.0000\n"
                                "2\t1\t5\t8\t8\t0.500000\t3.0000\n");
    g_free(tsv);

    /* point 0: hops 2, 4 -> mean 3, half = 12.7062047362 * sqrt(2) / sqrt(2) */
    char *agg = sweep_aggregate_tsv(&p, runs, 4);
    CU_ASSERT_STRING_EQUAL(agg, "overlay.successors\tmetric\tn\tmean\tci95_low\tci95_high\n"
                                "4\tpeers\t2\t8\t8\t8\n"
                                "4\tlookup_success\t2\t0.95\t0.3146897632\t1.585310237\n"
                                "4\thops_mean\t2\t3\t-9.706204736\t15.70620474\n"
                                "8\tpeers\t1\t8\t8\t8\n"
                                "8\tlookup_success\t1\t0.5\t0.5\t0.5\n"
                                "8\thops_mean\t1\t3\t3\t3\n");
    g_free(agg);
    for (int i = 0; i < 4; i++)
        sweep_summary_clear(&runs[i].summary);
    sweep_plan_clear(&p);
}

static void test_tables_seeds_only(void)
{
    /* seeds without a sweep: no key columns; a metric missing in a run is NA */
    struct sweep_plan p;
    plan_make(&p, NULL, (const char *const[]){"", NULL}, 2, 1);
    struct sweep_run runs[2];
    run_make(&runs[0], &p, 0, "metric\tvalue\nlookups\t10\nhops_mean\t2.5\n");
    run_make(&runs[1], &p, 1, "metric\tvalue\nlookups\t12\n");
    char *tsv = sweep_runs_tsv(&p, runs, 2);
    CU_ASSERT_STRING_EQUAL(tsv, "run\tpoint\tseed\tlookups\thops_mean\n"
                                "0\t0\t1\t10\t2.5\n"
                                "1\t0\t2\t12\tNA\n");
    g_free(tsv);
    char *agg = sweep_aggregate_tsv(&p, runs, 2);
    CU_ASSERT_STRING_EQUAL(agg, "metric\tn\tmean\tci95_low\tci95_high\n"
                                "lookups\t2\t11\t-1.706204736\t23.70620474\n"
                                "hops_mean\t1\t2.5\t2.5\t2.5\n");
    g_free(agg);
    for (int i = 0; i < 2; i++)
        sweep_summary_clear(&runs[i].summary);
    sweep_plan_clear(&p);
}

static void test_summary_errors(void)
{
    struct sweep_summary s;
    GError *err = NULL;
    sweep_summary_init(&s);
    CU_ASSERT_FALSE(sweep_summary_parse(&s, "metric\tvalue\na\t1\nbroken line\n", "f.tsv", &err));
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err->message, "f.tsv:3:"));
    g_clear_error(&err);
    sweep_summary_clear(&s);
    sweep_summary_init(&s);
    CU_ASSERT_FALSE(sweep_summary_parse(&s, "metric\tvalue\na\t1\na\t2\n", "f.tsv", &err));
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err->message, "'a' repeats"));
    g_clear_error(&err);
    sweep_summary_clear(&s);
    CU_ASSERT_TRUE(sweep_metric_varies("wall_s"));
    CU_ASSERT_FALSE(sweep_metric_varies("events"));
}

/* ---- execution --------------------------------------------------------------------------- */

static int exec_touched; /* changed only in the children */

static int exec_run(void *ud, uint64_t k)
{
    exec_touched = 1;
    char *path = g_strdup_printf("%s/%llu", (const char *)ud, (unsigned long long)k);
    g_file_set_contents(path, "", 0, NULL);
    g_free(path);
    fprintf(stderr, "run %llu says", (unsigned long long)k);
    if (k == 5)
        raise(SIGKILL);
    fputs(" goodbye\n", stderr);
    return (int)(k % 4);
}

static uint64_t exec_done_calls, exec_stop_after;
static bool exec_done(void *ud, uint64_t k, int status, const char *output, uint64_t done,
                      uint64_t total)
{
    char *want =
        g_strdup_printf("run %llu says%s", (unsigned long long)k, k == 5 ? "" : " goodbye\n");
    CU_ASSERT_STRING_EQUAL(output, want); /* captured, whole, even from a killed child */
    g_free(want);
    exec_done_calls++;
    CU_ASSERT_EQUAL(done, exec_done_calls);
    CU_ASSERT_EQUAL(total, 7);
    CU_ASSERT(k < 7);
    CU_ASSERT_EQUAL(status, k == 5 ? 128 + SIGKILL : (int)(k % 4));
    return done < exec_stop_after;
}

static void test_execute(void)
{
    for (unsigned jobs = 1; jobs <= 3; jobs += 2) {
        char *dir = g_dir_make_tmp("test_sweep-XXXXXX", NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
        int st[7];
        exec_done_calls = 0;
        exec_stop_after = 100;
        CU_ASSERT_EQUAL(sweep_execute(7, jobs, exec_run, exec_done, dir, st), 7);
        CU_ASSERT_EQUAL(exec_touched, 0); /* the runs happened in children */
        CU_ASSERT_EQUAL(exec_done_calls, 7);
        int want[7] = {0, 1, 2, 3, 0, 128 + SIGKILL, 2};
        for (int k = 0; k < 7; k++) {
            CU_ASSERT_EQUAL(st[k], want[k]);
            char *path = g_strdup_printf("%s/%d", dir, k);
            CU_ASSERT_TRUE(g_file_test(path, G_FILE_TEST_EXISTS));
            g_unlink(path);
            g_free(path);
        }
        /* asked to stop after 2 runs ended: those running finish, no new one starts */
        exec_done_calls = 0;
        exec_stop_after = 2;
        uint64_t ended = sweep_execute(7, jobs, exec_run, exec_done, dir, st);
        CU_ASSERT_EQUAL(ended, jobs == 1 ? 2 : 4); /* 3 running when the 2nd ends, +1 */
        int started = 0;
        for (int k = 0; k < 7; k++) {
            started += st[k] != -1;
            char *path = g_strdup_printf("%s/%d", dir, k);
            CU_ASSERT_EQUAL(g_file_test(path, G_FILE_TEST_EXISTS), st[k] != -1);
            g_unlink(path);
            g_free(path);
        }
        CU_ASSERT_EQUAL(started, (int)ended);
        g_rmdir(dir);
        g_free(dir);
    }
}

/* ---- cluster scripts --------------------------------------------------------------------- */

static unsigned count(const char *text, const char *needle)
{
    unsigned n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_emit(void)
{
    char *s = sweep_emit_slurm("my sweep", 10, "/bin/p2psip sim 'a b.yaml'", "--out /o --quiet",
                               "/bin/p2psip sim 'a b.yaml' --collect --out /o");
    CU_ASSERT_TRUE(g_str_has_prefix(s, "#!/bin/bash\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "#SBATCH --array=0-9\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "#SBATCH --job-name=my_sweep\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(
        s, "\nexec /bin/p2psip sim 'a b.yaml' --run \"$SLURM_ARRAY_TASK_ID\" --out /o --quiet\n"));
    CU_ASSERT_EQUAL(count(s, "--collect --out /o"), 2);
    g_free(s);

    char *p = sweep_emit_parallel(3, "p2psip sim x.yaml", "--out o", "p2psip sim x.yaml --collect");
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "\np2psip sim x.yaml --run 0 --out o\n"
                                     "p2psip sim x.yaml --run 1 --out o\n"
                                     "p2psip sim x.yaml --run 2 --out o\n"));
    CU_ASSERT_EQUAL(count(p, "--run"), 3);
    CU_ASSERT_TRUE(g_str_has_suffix(p, "# p2psip sim x.yaml --collect\n"));
    /* every line that is not a run is a comment */
    char **lines = g_strsplit(p, "\n", -1);
    for (char **l = lines; *l; l++)
        CU_ASSERT(**l == '\0' || **l == '#' || strstr(*l, " --run "));
    g_strfreev(lines);
    g_free(p);
}

CU_TestInfo test_sweep_tests[] = {
    {"runs: point-major, then seed; last key fastest", test_order},
    {"no sweep: one run with the scenario's seed", test_no_sweep},
    {"t quantiles against published values", test_t975},
    {"Student-t 95 % interval", test_ci95},
    {"runs.tsv and aggregate.tsv", test_tables},
    {"seeds only, missing metric", test_tables_seeds_only},
    {"summary.tsv errors", test_summary_errors},
    {"fork()ed runs and their exit statuses", test_execute},
    {"Slurm and GNU parallel scripts", test_emit},
    CU_TEST_INFO_NULL,
};
