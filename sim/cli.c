/* cli.c — `p2psip sim`: runs one experiment (sim/world.h) from a YAML scenario
 * (sim/scenario.h) and writes its results folder, or a sweep of them (sim/sweep.h).
 *
 *   p2psip sim SCENARIO.yaml [--seed N] [--set KEY=VALUE]... [--out DIR] [--pcap FILE]
 *              [--jobs N] [--run K] [--collect] [--emit slurm|parallel] [--quiet]
 *              [--verbose] [--help]
 *
 * A single run's folder (default results/<name>/s<seed>-<first 8 hex digits of the SHA-1 of
 * the resolved scenario>/, so the same inputs land in the same folder) receives
 * scenario.yaml, summary.tsv, the world's TSVs (world_write_results), meta.json and, with an
 * `expect:` block, expectations.tsv (sim/expect.h); the layout follows the project's design
 * (docs: "Results and analysis").  summary.tsv is byte-identical across runs of the same
 * inputs except for its last three rows (wall_s, peak_rss_kib, memory_per_peer_bytes).
 *
 * A scenario with a `sweep:` block or `seeds:` above 1 is a sweep: every (point, seed) run
 * goes to OUT/runs/p<point>-s<seed>/ (OUT default results/<name>/sweep-<hash>/), in forked
 * children, at most --jobs at a time; the parent then writes OUT/runs.tsv and
 * OUT/aggregate.tsv from the run folders, in run order, so they do not depend on --jobs.
 *
 * Exit codes (cli/cli.h): 0 success, 2 usage, scenario or run error, 3 failed expectations.
 */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../analysis/plot.h"
#include "../cli/cli.h"
#include "expect.h"
#include "scenario.h"
#include "sweep.h"
#include "world.h"

#ifndef P2PSIP_VERSION
#define P2PSIP_VERSION "0.1.0"
#endif
#ifndef P2PSIP_GIT_REV
#define P2PSIP_GIT_REV "unknown"
#endif

#define U64(x) ((unsigned long long)(x))

static const char sim_usage[] =
    "Usage: p2psip sim SCENARIO.yaml [OPTIONS]\n"
    "\n"
    "Runs the discrete-event experiment the YAML scenario describes (keys: docs/scenarios.md).\n"
    "A scenario with a sweep: block or seeds: N > 1 is a sweep: one run per combination of the\n"
    "swept values (crossed, the last key fastest) and seed (seed, seed+1, ... seed+N-1).\n"
    "\n"
    "Options:\n"
    "  --seed N           run seed N instead of the scenario's (a sweep: every point's first)\n"
    "  --set KEY=VALUE    override a scenario key (dotted: --set overlay.successors=8);\n"
    "                     repeatable; a swept key cannot be set\n"
    "  --out DIR          results folder (default results/<name>/s<seed>-<hash>/, for a sweep\n"
    "                     results/<name>/sweep-<hash>/); with --emit: the file to write\n"
    "  --pcap FILE        write the run's datagrams to FILE as a pcap (RELOAD on UDP 6084,\n"
    "                     simulated addresses and times; single runs only)\n"
    "  --quiet, -q        no progress display and nothing on stdout\n"
    "  --verbose, -v      print the nodes' log lines on stderr\n"
    "  --help, -h         show this help\n"
    "\n"
    "Sweeps:\n"
    "  --jobs N, -j N     run N runs at once, each in a forked process (default: the number\n"
    "                     of cores)\n"
    "  --run K            run only combination K (0-based, point-major then seed) into its\n"
    "                     folder, e.g. as one task of a cluster job array\n"
    "  --collect          rebuild runs.tsv and aggregate.tsv from the run folders in OUT\n"
    "  --emit slurm|parallel\n"
    "                     write a Slurm job-array script or a GNU parallel job list running\n"
    "                     every combination with --run, and the --collect command to run\n"
    "                     after it (stdout, or --out FILE); runs nothing\n"
    "\n"
    "A run writes scenario.yaml, summary.tsv, hops.tsv, latency_cdf.tsv, messages.tsv,\n"
    "timeseries.tsv, traffic.tsv, meta.json, expectations.tsv (with an expect: block),\n"
    "call_setup_cdf.tsv (with a sip: section) and, when output.plots is true and gnuplot is\n"
    "installed, plots/.  A sweep writes\n"
    "scenario.yaml, runs/p<point>-s<seed>/ (one run folder each), runs.tsv (one row per run),\n"
    "aggregate.tsv (mean and Student-t 95 % interval over seeds) and plots/.\n"
    "On a terminal, a progress line (simulated time, percent, events/s, ETA) is shown on\n"
    "stderr; nothing when stderr is not a terminal or with --quiet.\n"
    "\n"
    "Exit codes: 0 success; 2 usage or scenario error, or a run that failed; 3 an expectation\n"
    "failed (in any run of a sweep).\n";

struct sim_args {
    const char *scenario;
    bool have_seed;
    guint64 seed;
    GPtrArray *overrides; /* char * borrowed from argv, NULL-terminated */
    const char *out;
    const char *pcap;
    const char *emit; /* "slurm", "parallel" or NULL */
    bool have_run;
    guint64 run;
    bool collect;
    guint64 jobs; /* 0: the number of cores */
    bool quiet, verbose, help;
};

/* How one run reports: progress display, summary table on stdout, prefix of its messages. */
struct sim_view {
    bool progress;
    bool table;
    const char *label; /* "run p0-s1: " in a sweep, "" alone */
};

static int sim_fail(const char *fmt, const char *a)
{
    fputs("p2psip sim: ", stderr);
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    return 2;
}

/* ---- the command line --------------------------------------------------------------------- */

static bool sim_parse_u64(const char *opt, const char *val, guint64 min, guint64 *out)
{
    GError *err = NULL;
    if (!g_ascii_string_to_unsigned(val, 10, min, G_MAXUINT64, out, &err)) {
        g_error_free(err);
        fprintf(stderr, "p2psip sim: %s: '%s' is not an integer >= %llu\n", opt, val, U64(min));
        return false;
    }
    return true;
}

/* Returns 0, or 2 after printing the problem; accepts "--opt VALUE" and "--opt=VALUE". */
static int sim_parse(int argc, char **argv, struct sim_args *a)
{
    static const char *const valued[] = {"--seed", "--set", "--out",  "--pcap",
                                         "--emit", "--run", "--jobs", "-j"};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = NULL;
        const char *eq = strchr(arg, '=');
        char opt[32] = "";
        if (g_str_has_prefix(arg, "--") && eq && (size_t)(eq - arg) < sizeof opt) {
            memcpy(opt, arg, (size_t)(eq - arg));
            opt[eq - arg] = '\0';
            val = eq + 1;
        } else {
            g_strlcpy(opt, arg, sizeof opt);
        }
        bool takes_value = false;
        for (size_t v = 0; v < G_N_ELEMENTS(valued); v++)
            takes_value |= !strcmp(opt, valued[v]);
        if (takes_value && !val) {
            if (i + 1 >= argc)
                return sim_fail("%s needs a value (see p2psip sim --help)", opt);
            val = argv[++i];
        }
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            a->help = true;
        } else if (!strcmp(opt, "--quiet") || !strcmp(opt, "-q")) {
            a->quiet = true;
        } else if (!strcmp(opt, "--verbose") || !strcmp(opt, "-v")) {
            a->verbose = true;
        } else if (!strcmp(opt, "--collect")) {
            a->collect = true;
        } else if (!strcmp(opt, "--seed")) {
            if (!sim_parse_u64(opt, val, 0, &a->seed))
                return 2;
            a->have_seed = true;
        } else if (!strcmp(opt, "--run")) {
            if (!sim_parse_u64(opt, val, 0, &a->run))
                return 2;
            a->have_run = true;
        } else if (!strcmp(opt, "--jobs") || !strcmp(opt, "-j")) {
            if (!sim_parse_u64(opt, val, 1, &a->jobs))
                return 2;
        } else if (!strcmp(opt, "--set")) {
            if (!strchr(val, '=') || val[0] == '=')
                return sim_fail("--set '%s': expected KEY=VALUE", val);
            g_ptr_array_insert(a->overrides, (gint)a->overrides->len - 1, (gpointer)val);
        } else if (!strcmp(opt, "--out")) {
            a->out = val;
        } else if (!strcmp(opt, "--pcap")) {
            if (!*val)
                return sim_fail("%s", "--pcap needs a file name");
            a->pcap = val;
        } else if (!strcmp(opt, "--emit")) {
            if (strcmp(val, "slurm") && strcmp(val, "parallel"))
                return sim_fail("--emit '%s': expected slurm or parallel", val);
            a->emit = val;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return sim_fail("unknown option '%s' (see p2psip sim --help)", arg);
        } else if (a->scenario) {
            return sim_fail("more than one scenario given ('%s'); run one at a time", arg);
        } else {
            a->scenario = arg;
        }
    }
    if (a->help)
        return 0;
    if (!a->scenario)
        return sim_fail("%s", "no scenario given (usage: p2psip sim SCENARIO.yaml [OPTIONS])");
    if ((a->emit != NULL) + a->have_run + a->collect > 1)
        return sim_fail("%s", "--emit, --run and --collect exclude each other");
    return 0;
}

/* ---- measurements of the process ---------------------------------------------------------- */

static uint64_t sim_current_rss(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t sim_peak_rss_kib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_maxrss; /* KiB on Linux */
}

/* ---- progress: one line on a terminal, redrawn at most 4 times a second ---------------- */

struct sim_progress {
    bool on;
    gint64 started, last;
    uint64_t last_events;
    int width; /* characters shown, so the line can be blanked */
};

/* "42.0s", "12m05s", "3h07m". */
static void sim_fmt_time(char *buf, size_t n, double s)
{
    if (s < 0)
        g_strlcpy(buf, "?", n);
    else if (s < 60)
        snprintf(buf, n, "%.1fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%um%02us", (unsigned)(s / 60), (unsigned)s % 60);
    else
        snprintf(buf, n, "%uh%02um", (unsigned)(s / 3600), (unsigned)(s / 60) % 60);
}

/* "850", "12.3k", "4.56M". */
static void sim_fmt_rate(char *buf, size_t n, double r)
{
    if (r >= 1e6)
        snprintf(buf, n, "%.2fM", r / 1e6);
    else if (r >= 1e3)
        snprintf(buf, n, "%.1fk", r / 1e3);
    else
        snprintf(buf, n, "%.0f", r);
}

static void sim_progress_show(struct sim_progress *p, const char *line)
{
    int len = (int)strlen(line);
    fprintf(stderr, "\r%s%*s", line, p->width > len ? p->width - len : 0, "");
    fflush(stderr);
    p->width = len;
}

static void sim_progress_clear(struct sim_progress *p)
{
    if (p->on && p->width > 0) {
        fprintf(stderr, "\r%*s\r", p->width, "");
        fflush(stderr);
        p->width = 0;
    }
}

static void sim_on_progress(void *ud, const struct world *w)
{
    struct sim_progress *p = ud;
    if (!p->on)
        return;
    gint64 now = g_get_monotonic_time();
    if (now - p->last < G_USEC_PER_SEC / 4)
        return;
    double t = (double)world_now(w) / ENV_S, d = (double)world_duration(w) / ENV_S;
    double elapsed = (double)(now - p->started) / G_USEC_PER_SEC;
    uint64_t events = world_events(w);
    double rate = (double)(events - p->last_events) * G_USEC_PER_SEC / (double)(now - p->last);
    char st[16], sd[16], se[16], sr[16], line[128];
    sim_fmt_time(st, sizeof st, t);
    sim_fmt_time(sd, sizeof sd, d);
    sim_fmt_time(se, sizeof se, t > 0 ? elapsed * (d - t) / t : -1);
    sim_fmt_rate(sr, sizeof sr, rate);
    snprintf(line, sizeof line, "  simulated %s / %s  %3.0f %%  %s events/s  ETA %s", st, sd,
             d > 0 ? 100.0 * t / d : 100.0, sr, se);
    sim_progress_show(p, line);
    p->last = now;
    p->last_events = events;
}

/* ---- results ------------------------------------------------------------------------------ */

static void sim_json_string(GString *g, const char *key, const char *val, bool last)
{
    g_string_append_printf(g, "  \"%s\": \"", key);
    for (const char *c = val; *c; c++) {
        if (*c == '"' || *c == '\\')
            g_string_append_printf(g, "\\%c", *c);
        else if ((unsigned char)*c < 0x20)
            g_string_append_printf(g, "\\u%04x", (unsigned char)*c);
        else
            g_string_append_c(g, *c);
    }
    g_string_append_printf(g, "\"%s\n", last ? "" : ",");
}

static char *sim_meta_json(const struct scenario *sc, const char *run_id, double wall_s,
                           uint64_t events, uint64_t peak_kib, uint64_t per_peer)
{
    GString *g = g_string_new("{\n");
    sim_json_string(g, "name", sc->name, false);
    sim_json_string(g, "scenario_file", sc->file ? sc->file : "", false);
    sim_json_string(g, "run_id", run_id, false);
    g_string_append_printf(g, "  \"seed\": %llu,\n", U64(sc->seed));
    sim_json_string(g, "version", P2PSIP_VERSION, false);
    sim_json_string(g, "git_revision", P2PSIP_GIT_REV, false);
    g_string_append_printf(g, "  \"peers\": %u,\n", sc->peers);
    g_string_append_printf(g, "  \"simulated_s\": %.3f,\n", (double)sc->duration / ENV_S);
    g_string_append_printf(g, "  \"wall_s\": %.3f,\n", wall_s);
    g_string_append_printf(g, "  \"events\": %llu,\n", U64(events));
    g_string_append_printf(g, "  \"events_per_s\": %.0f,\n", wall_s > 0 ? events / wall_s : 0.0);
    g_string_append_printf(g, "  \"peak_rss_kib\": %llu,\n", U64(peak_kib));
    g_string_append_printf(g, "  \"memory_per_peer_bytes\": %llu\n", U64(per_peer));
    g_string_append(g, "}\n");
    return g_string_free(g, FALSE);
}

/* Writes dir/name; takes text.  Returns false after printing the problem. */
static bool sim_write(const char *dir, const char *name, char *text)
{
    char *path = g_build_filename(dir, name, NULL);
    GError *err = NULL;
    bool ok = g_file_set_contents(path, text, -1, &err);
    if (!ok) {
        sim_fail("%s", err->message);
        g_error_free(err);
    }
    g_free(path);
    g_free(text);
    return ok;
}

static bool sim_mkdir(const char *dir)
{
    if (g_mkdir_with_parents(dir, 0755) == 0)
        return true;
    fprintf(stderr, "p2psip sim: cannot create %s: %s\n", dir, g_strerror(errno));
    return false;
}

/* The scenario name made safe for a path. */
static char *sim_safe_name(const struct scenario *sc)
{
    char *name = g_strdup(sc->name && sc->name[0] ? sc->name : "unnamed");
    g_strcanon(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", '_');
    if (name[0] == '.')
        name[0] = '_';
    return name;
}

/* results/<name>/<prefix><8 hex of SHA-1(yaml)>; *id (optional) gets the last part. */
static char *sim_default_dir(const struct scenario *sc, const char *yaml, const char *prefix,
                             char **id)
{
    char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA1, yaml, -1);
    char *last = g_strdup_printf("%s%.8s", prefix, sha);
    g_free(sha);
    char *name = sim_safe_name(sc);
    char *dir = g_build_filename("results", name, last, NULL);
    g_free(name);
    if (id)
        *id = last;
    else
        g_free(last);
    return dir;
}

static void sim_print_table(const char *dir, const struct sweep_summary *s)
{
    printf("results: %s\n", dir);
    for (guint i = 0; i < s->names->len; i++)
        printf("  %-32s %s\n", (const char *)g_ptr_array_index(s->names, i),
               (const char *)g_ptr_array_index(s->values, i));
}

static void sim_plot(const char *label, const char *dir, bool sweep)
{
    GError *err = NULL;
    if (!(sweep ? plot_sweep(dir, &err) : plot_run(dir, &err))) {
        fprintf(stderr, "p2psip sim: %splots not rendered: %s\n", label,
                err ? err->message : "unknown error");
        g_clear_error(&err);
    }
}

/* Checks the expectations against the summary, writes expectations.tsv and prints the
 * failures.  Returns 0, 3 (some failed) or 2 (an unknown metric). */
static int sim_expectations(const struct scenario *sc, const struct sweep_summary *summary,
                            const char *dir, const char *label)
{
    if (!sc->expect || sc->expect->len == 0)
        return 0;
    GArray *res = g_array_new(FALSE, FALSE, sizeof(struct expect_result));
    GError *err = NULL;
    int rc = 0;
    if (!expect_check(sc->expect, summary->by_name, res, &err)) {
        fprintf(stderr, "p2psip sim: %s%s\n", label, err->message);
        g_error_free(err);
        rc = 2;
    } else {
        for (guint i = 0; i < res->len; i++) {
            const struct expect_result *r = &g_array_index(res, struct expect_result, i);
            if (r->pass)
                continue;
            char *msg = expect_failure_message(r);
            fprintf(stderr, "%s%s\n", label, msg);
            g_free(msg);
        }
        rc = expect_failures(res) ? 3 : 0;
        if (!sim_write(dir, "expectations.tsv", expect_tsv(res)))
            rc = 2;
    }
    g_array_unref(res);
    return rc;
}

/* The summary.tsv names the world will have, plus ours: checks expectations before running
 * (an unknown metric is a scenario error and should not wait for the end of a long run). */
static bool sim_precheck(const struct scenario *sc, const struct world *w, const char *label)
{
    if (!sc->expect || sc->expect->len == 0)
        return true;
    GArray *rows = world_summary_rows(w, NULL);
    GHashTable *names = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < rows->len; i++)
        g_hash_table_insert(names, (gpointer)g_array_index(rows, struct world_row, i).name, "0");
    g_hash_table_insert(names, "wall_s", "0");
    g_hash_table_insert(names, "peak_rss_kib", "0");
    g_hash_table_insert(names, "memory_per_peer_bytes", "0");
    GArray *res = g_array_new(FALSE, FALSE, sizeof(struct expect_result));
    GError *err = NULL;
    bool ok = expect_check(sc->expect, names, res, &err);
    if (!ok) {
        fprintf(stderr, "p2psip sim: %s%s\n", label, err->message);
        g_error_free(err);
    }
    g_array_unref(res);
    g_hash_table_unref(names);
    g_array_unref(rows);
    return ok;
}

/* A nat: block that leaves no peer public (every peer behind its own NAT, the seed draft's
 * extreme): no relay or STUN server exists, so traversal cannot run (docs/nat.md).  Says so on
 * stderr before the run, --quiet or not: the results are a failure, not a measurement of it.
 * With relay servers (nat.relay_servers) traversal runs through them, and only the super-peer
 * topology is warned: no peer is eligible. */
static void sim_warn_no_public(const struct scenario *sc, const struct world *w, const char *label)
{
    uint32_t n = world_peers(w);
    for (uint32_t i = 0; i < n; i++)
        if (world_peer_public(w, i))
            return;
    if (n == 0)
        return;
    bool super = sc->overlay.topology && !strcmp(sc->overlay.topology, "superpeer");
    if (sc->nat.relay_servers > 0 && sc->nat.traversal) { /* traversal runs through them */
        if (super)
            fprintf(stderr,
                    "p2psip sim: %swarning: all %u peers are behind NATs and none is public: no "
                    "super-peer can be elected (summary: peers_public 0, superpeers_end 0)\n",
                    label, n);
        return;
    }
    fprintf(stderr,
            "p2psip sim: %swarning: all %u peers are behind NATs and none is public: there is no "
            "relay and no STUN server, so NAT traversal cannot run%s; lookups that need a hop "
            "into another NAT fail (summary: peers_public 0%s)\n",
            label, n, super ? ", and no super-peer can be elected" : "",
            super ? ", superpeers_end 0" : "");
}

/* Runs the experiment and writes every result file into dir (which exists).  Returns 0, 2
 * (an error, printed) or 3 (failed expectations, printed). */
static int sim_run(const struct scenario *sc, const struct sim_args *a, const char *dir,
                   const char *run_id, const struct sim_view *v)
{
    /* Results of an earlier run in the same folder must not pass for this one's. */
    for (const char *const *f = (const char *const[]){"summary.tsv", "expectations.tsv", NULL}; *f;
         f++) {
        char *path = g_build_filename(dir, *f, NULL);
        g_unlink(path);
        g_free(path);
    }
    uint64_t rss_before = sim_current_rss();
    gint64 t0 = g_get_monotonic_time();
    GError *err = NULL;
    struct world_options opt = {.out_dir = dir, .pcap_path = a->pcap, .verbose = a->verbose};
    struct world *w = world_new(sc, &opt, &err);
    if (!w) {
        fprintf(stderr, "p2psip sim: %s%s\n", v->label, err->message);
        g_error_free(err);
        return 2;
    }
    if (!sim_precheck(sc, w, v->label)) {
        world_free(w);
        return 2;
    }
    sim_warn_no_public(sc, w, v->label);
    struct sim_progress prog = {
        .on = v->progress && !a->quiet && isatty(STDERR_FILENO),
        .started = t0,
        .last = t0,
    };
    world_run(w, sim_on_progress, &prog);
    sim_progress_clear(&prog);
    double wall_s = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;

    struct world_summary s;
    world_summarize(w, &s);
    uint64_t peak_kib = sim_peak_rss_kib();
    uint64_t peak = peak_kib * 1024;
    uint64_t per_peer = peak > rss_before && sc->peers ? (peak - rss_before) / sc->peers : 0;
    GArray *rows = world_summary_rows(w, &s);
    GString *tsv = g_string_new("metric\tvalue\n");
    for (guint i = 0; i < rows->len; i++) {
        const struct world_row *r = &g_array_index(rows, struct world_row, i);
        g_string_append_printf(tsv, "%s\t%s\n", r->name, r->text);
    }
    /* These vary from run to run; they stay last. */
    g_string_append_printf(tsv, "wall_s\t%.3f\n", wall_s);
    g_string_append_printf(tsv, "peak_rss_kib\t%llu\n", U64(peak_kib));
    g_string_append_printf(tsv, "memory_per_peer_bytes\t%llu\n", U64(per_peer));
    g_array_unref(rows);

    struct sweep_summary summary;
    sweep_summary_init(&summary);
    bool ok = sweep_summary_parse(&summary, tsv->str, "summary.tsv", &err);
    if (!ok) { /* the world wrote a row that breaks the format: a bug */
        fprintf(stderr, "p2psip sim: %s%s\n", v->label, err->message);
        g_clear_error(&err);
    }
    char *text = g_string_free(tsv, FALSE);
    if (ok)
        ok = sim_write(dir, "summary.tsv", text);
    else
        g_free(text);
    if (ok && !world_write_results(w, dir, &err)) {
        fprintf(stderr, "p2psip sim: %s%s\n", v->label, err->message);
        g_clear_error(&err);
        ok = false;
    }
    ok = ok && sim_write(dir, "meta.json",
                         sim_meta_json(sc, run_id, wall_s, s.events, peak_kib, per_peer));
    world_free(w);
    int rc = ok ? sim_expectations(sc, &summary, dir, v->label) : 2;
    if (ok && v->table && !a->quiet)
        sim_print_table(dir, &summary);
    sweep_summary_clear(&summary);
    if (ok && sc->output.plots && plot_have_gnuplot())
        sim_plot(v->label, dir, false);
    return rc;
}

/* ---- one run ------------------------------------------------------------------------------ */

static int sim_single(struct scenario *sc, const struct sim_args *a)
{
    char *yaml = scenario_to_yaml(sc);
    char *prefix = g_strdup_printf("s%llu-", U64(sc->seed));
    char *run_id = NULL;
    char *dir = sim_default_dir(sc, yaml, prefix, &run_id);
    g_free(prefix);
    if (a->out) {
        g_free(dir);
        dir = g_strdup(a->out);
    }
    int rc = 2;
    if (!sim_mkdir(dir)) {
        g_free(yaml);
    } else if (sim_write(dir, "scenario.yaml", yaml)) {
        struct sim_view v = {.progress = true, .table = true, .label = ""};
        rc = sim_run(sc, a, dir, run_id, &v);
    }
    g_free(dir);
    g_free(run_id);
    return rc;
}

/* ---- sweeps ------------------------------------------------------------------------------- */

struct sim_sweep {
    const struct sim_args *a;
    struct sweep_plan plan;
    char *out;
    struct sim_progress prog; /* the parent's */
    bool stopped;             /* a run failed: no new runs */
};

/* The YAML of a run: the scenario without its sweep block and with seeds 1, so that running
 * the run folder's scenario.yaml repeats exactly that run. */
static char *sim_run_yaml(struct scenario *sc)
{
    GPtrArray *sweep = sc->sweep, *none = g_ptr_array_new();
    uint32_t seeds = sc->seeds;
    sc->sweep = none;
    sc->seeds = 1;
    char *yaml = scenario_to_yaml(sc);
    sc->sweep = sweep;
    sc->seeds = seeds;
    g_ptr_array_unref(none);
    return yaml;
}

/* Builds and runs combination k into its folder.  Returns 0, 2 or 3. */
static int sim_sweep_one(struct sim_sweep *sw, uint64_t k, const struct sim_view *v)
{
    uint32_t point;
    uint64_t seed;
    sweep_plan_run(&sw->plan, k, &point, &seed);
    GPtrArray *ov = g_ptr_array_new();
    for (char **o = g_ptr_array_index(sw->plan.overrides, point); *o; o++)
        g_ptr_array_add(ov, *o);
    for (guint i = 0; i + 1 < sw->a->overrides->len; i++)
        g_ptr_array_add(ov, g_ptr_array_index(sw->a->overrides, i));
    g_ptr_array_add(ov, NULL);
    GError *err = NULL;
    struct scenario *sc = scenario_load(sw->a->scenario, (const char *const *)ov->pdata, &err);
    g_ptr_array_unref(ov);
    if (!sc) {
        fprintf(stderr, "p2psip sim: %s%s\n", v->label, err->message);
        g_error_free(err);
        return 2;
    }
    sc->seed = seed;
    char *dir = sweep_run_dir(sw->out, point, seed);
    char *run_id = sweep_run_name(point, seed);
    int rc = 2;
    if (sim_mkdir(dir) && sim_write(dir, "scenario.yaml", sim_run_yaml(sc)))
        rc = sim_run(sc, sw->a, dir, run_id, v);
    g_free(run_id);
    g_free(dir);
    scenario_free(sc);
    return rc;
}

/* In a forked child: one run of the sweep, quiet, its messages prefixed with its name. */
static int sim_sweep_child(void *ud, uint64_t k)
{
    struct sim_sweep *sw = ud;
    uint32_t point;
    uint64_t seed;
    sweep_plan_run(&sw->plan, k, &point, &seed);
    char *name = sweep_run_name(point, seed);
    char *label = g_strdup_printf("run %s: ", name);
    struct sim_view v = {.progress = false, .table = false, .label = label};
    int rc = sim_sweep_one(sw, k, &v);
    g_free(label);
    g_free(name);
    return rc;
}

/* After each run: the progress line, and no new runs once one has failed with an error
 * (a bad swept value or an unknown metric would fail the same way in every run). */
static bool sim_sweep_done(void *ud, uint64_t k, int status, const char *output, uint64_t done,
                           uint64_t total)
{
    struct sim_sweep *sw = ud;
    gint64 now = g_get_monotonic_time();
    if (output && *output) {
        sim_progress_clear(&sw->prog);
        fputs(output, stderr);
        sw->prog.last = 0; /* redraw now */
    }
    if (sw->prog.on && (done == 0 || now - sw->prog.last >= G_USEC_PER_SEC / 4)) {
        sw->prog.last = now;
        double elapsed = (double)(now - sw->prog.started) / G_USEC_PER_SEC;
        char se[16], sl[16], line[128];
        sim_fmt_time(se, sizeof se, elapsed);
        sim_fmt_time(sl, sizeof sl, done ? elapsed * (double)(total - done) / (double)done : -1);
        snprintf(line, sizeof line, "  sweep: %llu / %llu runs done (%3.0f %%)  elapsed %s  ETA %s",
                 U64(done), U64(total), 100.0 * (double)done / (double)total, se, sl);
        sim_progress_show(&sw->prog, line);
    }
    if (status == 0 || status == 3)
        return true;
    if (!sw->stopped && done < total) {
        uint32_t point;
        uint64_t seed;
        sweep_plan_run(&sw->plan, k, &point, &seed);
        char *name = sweep_run_name(point, seed);
        sim_progress_clear(&sw->prog);
        fprintf(stderr, "p2psip sim: run %s failed; starting no further runs\n", name);
        g_free(name);
    }
    sw->stopped = true;
    return false;
}

/* Reads every run folder, writes runs.tsv and aggregate.tsv, and reports.  statuses (may be
 * NULL) are the runs' exit codes when they ran here.  Returns 0, 2 or 3. */
static int sim_sweep_collect(struct sim_sweep *sw, const int *statuses)
{
    uint64_t total = sweep_plan_total(&sw->plan);
    struct sweep_run *runs = g_new0(struct sweep_run, total);
    GString *missing = g_string_new(""), *failed = g_string_new("");
    uint64_t n_missing = 0, n_failed = 0;
    for (uint64_t k = 0; k < total; k++) {
        struct sweep_run *r = &runs[k];
        r->index = k;
        sweep_plan_run(&sw->plan, k, &r->point, &r->seed);
        sweep_summary_init(&r->summary);
        char *dir = sweep_run_dir(sw->out, r->point, r->seed);
        char *name = sweep_run_name(r->point, r->seed);
        char *path = g_build_filename(dir, "summary.tsv", NULL);
        GError *err = NULL;
        int status = statuses ? statuses[k] : 0;
        r->present = (status == 0 || status == 3) && sweep_summary_read(&r->summary, path, &err);
        if (err && !g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            fprintf(stderr, "p2psip sim: %s\n", err->message);
        g_clear_error(&err);
        if (!r->present) {
            n_missing++;
            g_string_append_printf(missing, " %s", name);
            if (status == -1)
                g_string_append(missing, " (not run)");
            else if (status > 128)
                g_string_append_printf(missing, " (signal %d)", status - 128);
            else if (status != 0 && status != 3)
                g_string_append_printf(missing, " (exit %d)", status);
        } else {
            /* failed expectations: from the exit code, or from expectations.tsv */
            char *epath = g_build_filename(dir, "expectations.tsv", NULL), *text = NULL;
            bool fail = status == 3;
            if (!statuses && g_file_get_contents(epath, &text, NULL, NULL))
                fail = strstr(text, "\tfalse\n") != NULL;
            g_free(text);
            g_free(epath);
            if (fail) {
                n_failed++;
                g_string_append_printf(failed, " %s", name);
            }
        }
        g_free(path);
        g_free(name);
        g_free(dir);
    }
    bool ok = sim_write(sw->out, "runs.tsv", sweep_runs_tsv(&sw->plan, runs, total)) &&
              sim_write(sw->out, "aggregate.tsv", sweep_aggregate_tsv(&sw->plan, runs, total));
    for (uint64_t k = 0; k < total; k++)
        sweep_summary_clear(&runs[k].summary);
    g_free(runs);

    int rc = ok ? 0 : 2;
    if (n_missing) {
        fprintf(stderr, "p2psip sim: %llu of %llu runs failed or have no summary.tsv:%s\n",
                U64(n_missing), U64(total), missing->str);
        rc = 2;
    }
    if (n_failed) {
        fprintf(stderr, "p2psip sim: expectations failed in %llu of %llu runs:%s\n", U64(n_failed),
                U64(total), failed->str);
        if (rc == 0)
            rc = 3;
    }
    g_string_free(missing, TRUE);
    g_string_free(failed, TRUE);
    if (ok && !sw->a->quiet && total > n_missing)
        printf("results: %s\n  runs.tsv        %llu runs (%u points x %u seeds)\n"
               "  aggregate.tsv   mean and 95 %% interval over seeds\n",
               sw->out, U64(total - n_missing), sw->plan.points, sw->plan.seeds);
    return rc;
}

/* Shell text of this binary, for scripts ("p2psip" when it cannot be found). */
static char *sim_self(void)
{
    char *exe = g_file_read_link("/proc/self/exe", NULL);
    char *q = g_shell_quote(exe ? exe : "p2psip");
    g_free(exe);
    return q;
}

static int sim_sweep_emit(struct sim_sweep *sw, const struct scenario *sc)
{
    const struct sim_args *a = sw->a;
    char *self = sim_self();
    char *file = g_canonicalize_filename(a->scenario, NULL);
    char *qfile = g_shell_quote(file);
    char *out = g_canonicalize_filename(sw->out, NULL);
    char *qout = g_shell_quote(out);
    GString *opts = g_string_new("--out ");
    g_string_append(opts, qout);
    if (a->have_seed)
        g_string_append_printf(opts, " --seed %llu", U64(a->seed));
    for (guint i = 0; i + 1 < a->overrides->len; i++) {
        char *q = g_shell_quote(g_ptr_array_index(a->overrides, i));
        g_string_append_printf(opts, " --set %s", q);
        g_free(q);
    }
    char *head = g_strdup_printf("%s sim %s", self, qfile);
    char *tail = g_strdup_printf("%s --quiet", opts->str);
    char *collect = g_strdup_printf("%s --collect %s", head, opts->str);
    uint64_t total = sweep_plan_total(&sw->plan);
    char *text = !strcmp(a->emit, "slurm") ? sweep_emit_slurm(sc->name, total, head, tail, collect)
                                           : sweep_emit_parallel(total, head, tail, collect);
    int rc = 0;
    if (a->out) {
        GError *err = NULL;
        if (!g_file_set_contents(a->out, text, -1, &err)) {
            sim_fail("%s", err->message);
            g_error_free(err);
            rc = 2;
        } else if (!strcmp(a->emit, "slurm")) {
            g_chmod(a->out, 0755);
        }
    } else {
        fputs(text, stdout);
    }
    g_free(text);
    g_free(collect);
    g_free(tail);
    g_free(head);
    g_string_free(opts, TRUE);
    g_free(qout);
    g_free(out);
    g_free(qfile);
    g_free(file);
    g_free(self);
    return rc;
}

static int sim_sweep(struct scenario *sc, const struct sim_args *a)
{
    struct sim_sweep sw = {.a = a};
    sweep_plan_init(&sw.plan, sc);
    int rc = 0;
    for (guint i = 0; i + 1 < a->overrides->len; i++) {
        const char *set = g_ptr_array_index(a->overrides, i);
        char *key = g_strndup(set, (gsize)(strchr(set, '=') - set));
        bool swept = sweep_plan_sweeps(&sw.plan, key);
        if (swept)
            fprintf(stderr,
                    "p2psip sim: --set %s: key '%s' is swept by %s; remove it from the sweep "
                    "or from --set\n",
                    set, key, a->scenario);
        g_free(key);
        if (swept)
            rc = 2;
    }
    if (sweep_plan_sweeps(&sw.plan, "seed") || sweep_plan_sweeps(&sw.plan, "seeds"))
        rc = sim_fail("%s: the seed cannot be swept; use seeds: N for N seeds per point",
                      a->scenario);
    if (a->pcap && rc == 0)
        rc = sim_fail("%s", "--pcap records a single run; this scenario is a sweep (use "
                            "output.pcap, written in every run folder)");
    char *yaml = scenario_to_yaml(sc);
    sw.out = a->out && !a->emit ? g_strdup(a->out) : sim_default_dir(sc, yaml, "sweep-", NULL);
    uint64_t total = sweep_plan_total(&sw.plan);
    if (rc != 0) {
        g_free(yaml);
    } else if (a->emit) {
        g_free(yaml);
        rc = sim_sweep_emit(&sw, sc);
    } else if (a->have_run) {
        g_free(yaml);
        if (a->run >= total) {
            fprintf(stderr, "p2psip sim: --run %llu: the sweep has %llu runs (0 to %llu)\n",
                    U64(a->run), U64(total), U64(total - 1));
            rc = 2;
        } else {
            struct sim_view v = {.progress = true, .table = true, .label = ""};
            rc = sim_sweep_one(&sw, a->run, &v);
        }
    } else if (!sim_mkdir(sw.out) || !sim_write(sw.out, "scenario.yaml", yaml)) {
        rc = 2;
    } else if (a->collect) {
        rc = sim_sweep_collect(&sw, NULL);
    } else {
        unsigned jobs = a->jobs ? (unsigned)MIN(a->jobs, 4096) : g_get_num_processors();
        jobs = (unsigned)MAX(1, MIN(jobs, total));
        sw.prog.on = !a->quiet && isatty(STDERR_FILENO);
        sw.prog.started = g_get_monotonic_time();
        int *statuses = g_new(int, total);
        if (sw.prog.on)
            sim_sweep_done(&sw, 0, 0, NULL, 0, total);
        sweep_execute(total, jobs, sim_sweep_child, sim_sweep_done, &sw, statuses);
        sim_progress_clear(&sw.prog);
        rc = sim_sweep_collect(&sw, statuses);
        g_free(statuses);
    }
    if (!a->emit && !a->have_run && rc != 2 && sc->output.plots && plot_have_gnuplot())
        sim_plot("", sw.out, true);
    g_free(sw.out);
    sweep_plan_clear(&sw.plan);
    return rc;
}

int sim_cli_main(int argc, char **argv)
{
    struct sim_args a = {.overrides = g_ptr_array_new()};
    g_ptr_array_add(a.overrides, NULL);
    int rc = sim_parse(argc, argv, &a);
    if (rc != 0 || a.help) {
        if (a.help && rc == 0)
            fputs(sim_usage, stdout);
        g_ptr_array_unref(a.overrides);
        return rc;
    }

    GError *err = NULL;
    struct scenario *sc = scenario_load(a.scenario, (const char *const *)a.overrides->pdata, &err);
    if (!sc) {
        sim_fail("%s", err->message);
        g_error_free(err);
        g_ptr_array_unref(a.overrides);
        return 2;
    }
    if (a.have_seed)
        sc->seed = a.seed;
    bool sweep =
        (sc->sweep && sc->sweep->len > 0) || sc->seeds > 1 || a.emit || a.have_run || a.collect;
    rc = sweep ? sim_sweep(sc, &a) : sim_single(sc, &a);
    scenario_free(sc);
    g_ptr_array_unref(a.overrides);
    return rc;
}
