/* cli.c — `p2psip sim`: runs one experiment (sim/world.h) from a YAML scenario
 * (sim/scenario.h) and writes its results folder.
 *
 *   p2psip sim SCENARIO.yaml [--seed N] [--set KEY=VALUE]... [--out DIR] [--quiet]
 *              [--verbose] [--help]
 *
 * The folder (default results/<name>/s<seed>-<first 8 hex digits of the SHA-1 of the resolved
 * scenario>/, so the same inputs land in the same folder) receives scenario.yaml, summary.tsv,
 * hops.tsv, latency_cdf.tsv, messages.tsv and meta.json; the layout follows the project's
 * design (docs: "Results and analysis").  summary.tsv is byte-identical across runs of the
 * same inputs except for its last three rows (wall_s, peak_rss_kib, memory_per_peer_bytes).
 */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "scenario.h"
#include "world.h"

#ifndef P2PSIP_VERSION
#define P2PSIP_VERSION "0.1.0"
#endif
#ifndef P2PSIP_GIT_REV
#define P2PSIP_GIT_REV "unknown"
#endif

static const char sim_usage[] =
    "Usage: p2psip sim SCENARIO.yaml [--seed N] [--set KEY=VALUE]... [--out DIR] [--quiet]\n"
    "                  [--verbose] [--help]\n"
    "\n"
    "Runs the discrete-event experiment the YAML scenario describes (keys: docs/scenarios.md).\n"
    "\n"
    "  --seed N         use run seed N instead of the scenario's seed\n"
    "  --set KEY=VALUE  override a scenario key (dotted: --set overlay.successors=8); repeatable\n"
    "  --out DIR        write results to DIR (default results/<name>/s<seed>-<scenario hash>/)\n"
    "  --quiet          no progress on stderr and no summary on stdout\n"
    "  --verbose        print the nodes' log lines on stderr\n"
    "  --help           show this help\n"
    "\n"
    "Results: scenario.yaml, summary.tsv, hops.tsv, latency_cdf.tsv, messages.tsv, meta.json.\n"
    "Exit codes: 0 success, 2 usage or scenario error.\n";

struct sim_args {
    const char *scenario;
    bool have_seed;
    guint64 seed;
    GPtrArray *overrides; /* char * borrowed from argv, NULL-terminated */
    const char *out;
    bool quiet, verbose, help;
};

struct sim_progress {
    bool quiet, tty;
    gint64 started, last;
    uint64_t lookups;
};

/* One summary row: the metric name and its value already formatted. */
struct sim_row {
    const char *name;
    char *value;
};

static int sim_fail(const char *fmt, const char *a)
{
    fputs("p2psip sim: ", stderr);
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    return 2;
}

/* Returns 0, or 2 after printing the problem; accepts "--opt VALUE" and "--opt=VALUE". */
static int sim_parse(int argc, char **argv, struct sim_args *a)
{
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
        bool takes_value = !strcmp(opt, "--seed") || !strcmp(opt, "--set") || !strcmp(opt, "--out");
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
        } else if (!strcmp(opt, "--seed")) {
            GError *err = NULL;
            if (!g_ascii_string_to_unsigned(val, 10, 0, G_MAXUINT64, &a->seed, &err)) {
                g_error_free(err);
                return sim_fail("--seed: '%s' is not a non-negative integer", val);
            }
            a->have_seed = true;
        } else if (!strcmp(opt, "--set")) {
            if (!strchr(val, '='))
                return sim_fail("--set '%s': expected KEY=VALUE", val);
            g_ptr_array_insert(a->overrides, (gint)a->overrides->len - 1, (gpointer)val);
        } else if (!strcmp(opt, "--out")) {
            a->out = val;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return sim_fail("unknown option '%s' (see p2psip sim --help)", arg);
        } else if (a->scenario) {
            return sim_fail("more than one scenario given ('%s'); run one at a time", arg);
        } else {
            a->scenario = arg;
        }
    }
    if (!a->help && !a->scenario)
        return sim_fail("%s", "no scenario given (usage: p2psip sim SCENARIO.yaml [OPTIONS])");
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

/* ---- progress ----------------------------------------------------------------------------- */

static void sim_on_progress(void *ud, const struct world *w)
{
    struct sim_progress *p = ud;
    gint64 now = g_get_monotonic_time();
    if (p->quiet || now - p->last < G_USEC_PER_SEC)
        return;
    p->last = now;
    double t = (double)world_now(w) / ENV_S, d = (double)world_duration(w) / ENV_S;
    const struct world_metrics *m = world_metrics(w);
    fprintf(stderr, "  t = %.1f / %.1f s (%3.0f %%)  events %llu  lookups %llu / %llu%s", t, d,
            d > 0 ? 100.0 * t / d : 100.0, (unsigned long long)world_events(w),
            (unsigned long long)m->lookups_completed, (unsigned long long)p->lookups,
            p->tty ? "\r" : "\n");
    fflush(stderr);
}

/* ---- results ------------------------------------------------------------------------------ */

static void sim_row_add(GArray *rows, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sim_row_add(GArray *rows, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct sim_row r = {.name = name, .value = g_strdup_vprintf(fmt, ap)};
    va_end(ap);
    g_array_append_val(rows, r);
}

#define U64(x) ((unsigned long long)(x))

static GArray *sim_summary_rows(const struct scenario *sc, const struct world_summary *s,
                                double wall_s, uint64_t peak_kib, uint64_t per_peer)
{
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(struct sim_row));
    sim_row_add(rows, "peers", "%u", s->peers);
    sim_row_add(rows, "joined", "%u", s->joined);
    sim_row_add(rows, "seed", "%llu", U64(sc->seed));
    sim_row_add(rows, "duration_s", "%.3f", (double)sc->duration / ENV_S);
    sim_row_add(rows, "measured_s", "%.3f", s->measured_s);
    sim_row_add(rows, "lookups", "%llu", U64(s->lookups));
    sim_row_add(rows, "lookups_completed", "%llu", U64(s->lookups_completed));
    sim_row_add(rows, "lookups_correct", "%llu", U64(s->lookups_correct));
    sim_row_add(rows, "lookup_timeouts", "%llu", U64(s->lookup_timeouts));
    sim_row_add(rows, "lookups_unfinished", "%llu", U64(s->lookups_unfinished));
    sim_row_add(rows, "lookup_success", "%.6f", s->lookup_success);
    sim_row_add(rows, "hops_mean", "%.4f", s->hops_mean);
    sim_row_add(rows, "hops_p50", "%u", s->hops_p50);
    sim_row_add(rows, "hops_p99", "%u", s->hops_p99);
    sim_row_add(rows, "hops_max", "%u", s->hops_max);
    sim_row_add(rows, "latency_ms_mean", "%.3f", s->latency_ms_mean);
    sim_row_add(rows, "latency_ms_p50", "%.3f", s->latency_ms_p50);
    sim_row_add(rows, "latency_ms_p95", "%.3f", s->latency_ms_p95);
    sim_row_add(rows, "latency_ms_p99", "%.3f", s->latency_ms_p99);
    sim_row_add(rows, "latency_ms_max", "%.3f", s->latency_ms_max);
    sim_row_add(rows, "stores", "%llu", U64(s->stores));
    sim_row_add(rows, "stores_ok", "%llu", U64(s->stores_ok));
    sim_row_add(rows, "stores_failed", "%llu", U64(s->stores_failed));
    sim_row_add(rows, "fetches", "%llu", U64(s->fetches));
    sim_row_add(rows, "fetches_found", "%llu", U64(s->fetches_found));
    sim_row_add(rows, "fetches_not_found", "%llu", U64(s->fetches_not_found));
    sim_row_add(rows, "fetches_failed", "%llu", U64(s->fetches_failed));
    sim_row_add(rows, "messages", "%llu", U64(s->messages));
    sim_row_add(rows, "message_bytes", "%llu", U64(s->message_bytes));
    sim_row_add(rows, "acks", "%llu", U64(s->acks));
    sim_row_add(rows, "ack_bytes", "%llu", U64(s->ack_bytes));
    sim_row_add(rows, "messages_per_peer_per_s", "%.4f", s->messages_per_peer_per_s);
    sim_row_add(rows, "bytes_per_peer_per_s", "%.3f", s->bytes_per_peer_per_s);
    sim_row_add(rows, "dropped", "%llu", U64(s->dropped));
    sim_row_add(rows, "events", "%llu", U64(s->events));
    /* The rows below vary from run to run; keep them last. */
    sim_row_add(rows, "wall_s", "%.3f", wall_s);
    sim_row_add(rows, "peak_rss_kib", "%llu", U64(peak_kib));
    sim_row_add(rows, "memory_per_peer_bytes", "%llu", U64(per_peer));
    return rows;
}

static void sim_rows_free(GArray *rows)
{
    for (guint i = 0; i < rows->len; i++)
        g_free(g_array_index(rows, struct sim_row, i).value);
    g_array_unref(rows);
}

static char *sim_summary_tsv(const GArray *rows)
{
    GString *s = g_string_new("metric\tvalue\n");
    for (guint i = 0; i < rows->len; i++) {
        const struct sim_row *r = &g_array_index(rows, struct sim_row, i);
        g_string_append_printf(s, "%s\t%s\n", r->name, r->value);
    }
    return g_string_free(s, FALSE);
}

static char *sim_hops_tsv(const struct world_metrics *m, const struct world_summary *s)
{
    GString *g = g_string_new("hops\tcount\n");
    if (m->hops->len > 0)
        for (uint32_t h = 0; h <= MIN(s->hops_max, 255u); h++)
            g_string_append_printf(g, "%u\t%llu\n", h, U64(m->hops_hist[h]));
    return g_string_free(g, FALSE);
}

/* The empirical CDF: one line per distinct latency, with the fraction at or below it. */
static char *sim_latency_tsv(const struct world *w)
{
    GString *g = g_string_new("latency_ms\tfraction\n");
    GArray *a = world_sorted_latencies(w);
    const env_time *x = (const env_time *)a->data;
    for (guint i = 0; i < a->len; i++)
        if (i + 1 == a->len || x[i + 1] != x[i])
            g_string_append_printf(g, "%.3f\t%.6f\n", x[i] / 1000.0, (double)(i + 1) / a->len);
    g_array_unref(a);
    return g_string_free(g, FALSE);
}

static char *sim_messages_tsv(const struct world_metrics *m)
{
    GString *g = g_string_new("type\tcount\tbytes\n");
    for (unsigned slot = 1; slot <= WORLD_SLOTS; slot++) {
        unsigned i = slot % WORLD_SLOTS; /* RELOAD codes first, the ACK last */
        const struct world_traffic *t = &m->traffic[i];
        if (t->count > 0)
            g_string_append_printf(g, "%s\t%llu\t%llu\n", world_slot_name(i), U64(t->count),
                                   U64(t->bytes));
    }
    return g_string_free(g, FALSE);
}

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

/* results/<name>/s<seed>-<8 hex of SHA-1(resolved YAML)>, name made safe for a path. */
static char *sim_default_dir(const struct scenario *sc, const char *yaml, char **run_id)
{
    char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA1, yaml, -1);
    *run_id = g_strdup_printf("s%llu-%.8s", U64(sc->seed), sha);
    g_free(sha);
    char *name = g_strdup(sc->name && sc->name[0] ? sc->name : "unnamed");
    g_strcanon(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", '_');
    if (name[0] == '.')
        name[0] = '_';
    char *dir = g_build_filename("results", name, *run_id, NULL);
    g_free(name);
    return dir;
}

static void sim_print_table(const char *dir, const GArray *rows)
{
    printf("results: %s\n", dir);
    for (guint i = 0; i < rows->len; i++) {
        const struct sim_row *r = &g_array_index(rows, struct sim_row, i);
        printf("  %-26s %s\n", r->name, r->value);
    }
}

/* Runs the experiment and writes every result file into dir. */
static int sim_run(const struct scenario *sc, const struct sim_args *a, const char *dir,
                   const char *run_id)
{
    uint64_t rss_before = sim_current_rss();
    gint64 t0 = g_get_monotonic_time();
    GError *err = NULL;
    struct world_options opt = {.out_dir = dir, .verbose = a->verbose};
    struct world *w = world_new(sc, &opt, &err);
    if (!w) {
        sim_fail("%s", err->message);
        g_error_free(err);
        return 2;
    }
    struct sim_progress prog = {
        .quiet = a->quiet,
        .tty = isatty(STDERR_FILENO),
        .started = t0,
        .last = t0,
        .lookups = sc->workload.lookups,
    };
    world_run(w, sim_on_progress, &prog);
    if (!a->quiet && prog.tty && prog.last != t0)
        fputc('\n', stderr);
    double wall_s = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;

    struct world_summary s;
    world_summarize(w, &s);
    uint64_t peak_kib = sim_peak_rss_kib();
    uint64_t peak = peak_kib * 1024;
    uint64_t per_peer = peak > rss_before ? (peak - rss_before) / sc->peers : 0;
    GArray *rows = sim_summary_rows(sc, &s, wall_s, peak_kib, per_peer);
    const struct world_metrics *m = world_metrics(w);
    bool ok = sim_write(dir, "summary.tsv", sim_summary_tsv(rows)) &&
              sim_write(dir, "hops.tsv", sim_hops_tsv(m, &s)) &&
              sim_write(dir, "latency_cdf.tsv", sim_latency_tsv(w)) &&
              sim_write(dir, "messages.tsv", sim_messages_tsv(m)) &&
              sim_write(dir, "meta.json",
                        sim_meta_json(sc, run_id, wall_s, s.events, peak_kib, per_peer));
    if (ok && !a->quiet)
        sim_print_table(dir, rows);
    sim_rows_free(rows);
    world_free(w);
    return ok ? 0 : 2;
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
    g_ptr_array_unref(a.overrides);
    if (!sc) {
        sim_fail("%s", err->message);
        g_error_free(err);
        return 2;
    }
    if (a.have_seed)
        sc->seed = a.seed;

    char *yaml = scenario_to_yaml(sc);
    char *run_id = NULL;
    char *dir = sim_default_dir(sc, yaml, &run_id);
    if (a.out) {
        g_free(dir);
        dir = g_strdup(a.out);
    }
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        fprintf(stderr, "p2psip sim: cannot create %s: %s\n", dir, g_strerror(errno));
        g_free(yaml);
        rc = 2;
    } else if (!sim_write(dir, "scenario.yaml", yaml)) {
        rc = 2;
    } else {
        rc = sim_run(sc, &a, dir, run_id);
    }
    g_free(dir);
    g_free(run_id);
    scenario_free(sc);
    return rc;
}
