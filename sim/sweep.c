/* sweep.c — sweeps and seeds: the runs of a scenario, their tables, the Student-t interval,
 * fork()-based parallel execution and cluster scripts (see sweep.h).
 *
 * The t quantile is found by Newton's method on the t distribution's cumulative mass,
 * integrated with Simpson's rule (Student, "The probable error of a mean", Biometrika 1908;
 * the density as in any statistics text): accurate to ~1e-9 for every df, which a table of
 * the usual 30 rows is not.
 */
#include "sweep.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define U64(x) ((unsigned long long)(x))

/* ---- the plan ----------------------------------------------------------------------------- */

void sweep_plan_init(struct sweep_plan *p, const struct scenario *sc)
{
    p->seed = sc->seed;
    p->seeds = sc->seeds ? sc->seeds : 1;
    p->points = (uint32_t)scenario_sweep_points(sc);
    p->keys = g_ptr_array_new_with_free_func(g_free);
    p->overrides = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    for (guint i = 0; sc->sweep && i < sc->sweep->len; i++) {
        const struct scenario_sweep *s = g_ptr_array_index(sc->sweep, i);
        g_ptr_array_add(p->keys, g_strdup(s->key));
    }
    for (uint32_t pt = 0; pt < p->points; pt++)
        g_ptr_array_add(p->overrides, scenario_sweep_overrides(sc, pt));
}

void sweep_plan_clear(struct sweep_plan *p)
{
    g_clear_pointer(&p->keys, g_ptr_array_unref);
    g_clear_pointer(&p->overrides, g_ptr_array_unref);
}

uint64_t sweep_plan_total(const struct sweep_plan *p)
{
    return (uint64_t)p->points * p->seeds;
}

void sweep_plan_run(const struct sweep_plan *p, uint64_t k, uint32_t *point, uint64_t *seed)
{
    g_assert(k < sweep_plan_total(p));
    *point = (uint32_t)(k / p->seeds);
    *seed = p->seed + k % p->seeds;
}

const char *sweep_plan_value(const struct sweep_plan *p, uint32_t point, guint key)
{
    g_assert(point < p->overrides->len && key < p->keys->len);
    char **ov = g_ptr_array_index(p->overrides, point);
    const char *name = g_ptr_array_index(p->keys, key);
    size_t len = strlen(name);
    for (char **o = ov; o && *o; o++)
        if (!strncmp(*o, name, len) && (*o)[len] == '=')
            return *o + len + 1;
    return "";
}

bool sweep_plan_sweeps(const struct sweep_plan *p, const char *key)
{
    for (guint i = 0; i < p->keys->len; i++)
        if (!strcmp(g_ptr_array_index(p->keys, i), key))
            return true;
    return false;
}

char *sweep_run_name(uint32_t point, uint64_t seed)
{
    return g_strdup_printf("p%u-s%llu", point, U64(seed));
}

char *sweep_run_dir(const char *out, uint32_t point, uint64_t seed)
{
    char *name = sweep_run_name(point, seed);
    char *dir = g_build_filename(out, "runs", name, NULL);
    g_free(name);
    return dir;
}

/* ---- summary.tsv -------------------------------------------------------------------------- */

void sweep_summary_init(struct sweep_summary *s)
{
    s->names = g_ptr_array_new_with_free_func(g_free);
    s->values = g_ptr_array_new_with_free_func(g_free);
    s->by_name = g_hash_table_new(g_str_hash, g_str_equal);
}

void sweep_summary_clear(struct sweep_summary *s)
{
    g_clear_pointer(&s->by_name, g_hash_table_unref);
    g_clear_pointer(&s->names, g_ptr_array_unref);
    g_clear_pointer(&s->values, g_ptr_array_unref);
}

bool sweep_summary_parse(struct sweep_summary *s, const char *text, const char *origin,
                         GError **err)
{
    char **lines = g_strsplit(text, "\n", -1);
    bool ok = true;
    for (guint i = 0; ok && lines[i]; i++) {
        const char *line = lines[i];
        if (i == 0 || line[0] == '\0') /* the header, the final newline */
            continue;
        const char *tab = strchr(line, '\t');
        if (!tab || tab == line || strchr(tab + 1, '\t')) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s:%u: expected METRIC<TAB>VALUE, got '%s'", origin, i + 1, line);
            ok = false;
            break;
        }
        char *name = g_strndup(line, (gsize)(tab - line));
        if (g_hash_table_contains(s->by_name, name)) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s:%u: metric '%s' repeats", origin,
                        i + 1, name);
            g_free(name);
            ok = false;
            break;
        }
        char *value = g_strdup(tab + 1);
        g_ptr_array_add(s->names, name);
        g_ptr_array_add(s->values, value);
        g_hash_table_insert(s->by_name, name, value);
    }
    g_strfreev(lines);
    return ok;
}

bool sweep_summary_read(struct sweep_summary *s, const char *path, GError **err)
{
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, err))
        return false;
    bool ok = sweep_summary_parse(s, text, path, err);
    g_free(text);
    return ok;
}

bool sweep_metric_varies(const char *name)
{
    return !strcmp(name, "wall_s") || !strcmp(name, "peak_rss_kib") ||
           !strcmp(name, "memory_per_peer_bytes");
}

/* ---- the tables --------------------------------------------------------------------------- */

/* The metric columns: the first present run's metrics in order, without the varying ones and
 * those named like a column before them (run, point, seed, a swept key).  Borrowed names. */
static GPtrArray *sweep_metric_columns(const struct sweep_plan *p, const struct sweep_run *runs,
                                       size_t n)
{
    GPtrArray *cols = g_ptr_array_new();
    for (size_t i = 0; i < n; i++) {
        if (!runs[i].present)
            continue;
        const GPtrArray *names = runs[i].summary.names;
        for (guint j = 0; j < names->len; j++) {
            const char *m = g_ptr_array_index(names, j);
            if (sweep_metric_varies(m) || !strcmp(m, "run") || !strcmp(m, "point") ||
                !strcmp(m, "seed") || sweep_plan_sweeps(p, m))
                continue;
            g_ptr_array_add(cols, (gpointer)m);
        }
        break;
    }
    return cols;
}

char *sweep_runs_tsv(const struct sweep_plan *p, const struct sweep_run *runs, size_t n)
{
    GPtrArray *cols = sweep_metric_columns(p, runs, n);
    GString *g = g_string_new("run\tpoint\tseed");
    for (guint i = 0; i < p->keys->len; i++)
        g_string_append_printf(g, "\t%s", (const char *)g_ptr_array_index(p->keys, i));
    for (guint i = 0; i < cols->len; i++)
        g_string_append_printf(g, "\t%s", (const char *)g_ptr_array_index(cols, i));
    g_string_append_c(g, '\n');
    for (size_t r = 0; r < n; r++) {
        const struct sweep_run *run = &runs[r];
        if (!run->present)
            continue;
        g_string_append_printf(g, "%llu\t%u\t%llu", U64(run->index), run->point, U64(run->seed));
        for (guint i = 0; i < p->keys->len; i++)
            g_string_append_printf(g, "\t%s", sweep_plan_value(p, run->point, i));
        for (guint i = 0; i < cols->len; i++) {
            const char *v = g_hash_table_lookup(run->summary.by_name, g_ptr_array_index(cols, i));
            g_string_append_printf(g, "\t%s", v ? v : "NA");
        }
        g_string_append_c(g, '\n');
    }
    g_ptr_array_unref(cols);
    return g_string_free(g, FALSE);
}

/* A whole value text as a finite number. */
static bool sweep_number(const char *text, double *out)
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

char *sweep_aggregate_tsv(const struct sweep_plan *p, const struct sweep_run *runs, size_t n)
{
    GPtrArray *cols = sweep_metric_columns(p, runs, n);
    GString *g = g_string_new("");
    for (guint i = 0; i < p->keys->len; i++)
        g_string_append_printf(g, "%s\t", (const char *)g_ptr_array_index(p->keys, i));
    g_string_append(g, "metric\tn\tmean\tci95_low\tci95_high\n");
    GArray *x = g_array_new(FALSE, FALSE, sizeof(double));
    for (uint32_t pt = 0; pt < p->points; pt++) {
        for (guint c = 0; c < cols->len; c++) {
            const char *m = g_ptr_array_index(cols, c);
            g_array_set_size(x, 0);
            bool numeric = true;
            for (size_t r = 0; r < n; r++) {
                if (!runs[r].present || runs[r].point != pt)
                    continue;
                double v;
                const char *text = g_hash_table_lookup(runs[r].summary.by_name, m);
                if (!text)
                    continue;
                if (!sweep_number(text, &v)) {
                    numeric = false;
                    break;
                }
                g_array_append_val(x, v);
            }
            if (!numeric || x->len == 0)
                continue;
            double mean, lo, hi;
            sweep_ci95((const double *)x->data, x->len, &mean, &lo, &hi);
            for (guint i = 0; i < p->keys->len; i++)
                g_string_append_printf(g, "%s\t", sweep_plan_value(p, pt, i));
            g_string_append_printf(g, "%s\t%u\t%.10g\t%.10g\t%.10g\n", m, x->len, mean, lo, hi);
        }
    }
    g_array_unref(x);
    g_ptr_array_unref(cols);
    return g_string_free(g, FALSE);
}

/* ---- statistics --------------------------------------------------------------------------- */

/* Probability mass of Student's t with df degrees of freedom between 0 and t >= 0 (Simpson's
 * rule; the density is smooth and at most 0.4, so 2048 panels give ~1e-10). */
static double sweep_t_mass(double t, double df)
{
    double c = exp(lgamma((df + 1) / 2) - lgamma(df / 2)) / sqrt(df * G_PI);
    double e = -(df + 1) / 2;
    enum { PANELS = 2048 };
    double h = t / PANELS, sum = 0;
    for (int i = 0; i <= PANELS; i++) {
        double x = i * h;
        double f = pow(1 + x * x / df, e);
        sum += (i == 0 || i == PANELS) ? f : (i % 2 ? 4 * f : 2 * f);
    }
    return c * sum * h / 3;
}

double sweep_t975(unsigned df)
{
    g_assert(df >= 1);
    if (df > 100000)
        return 1.959963984540054; /* the normal quantile; the difference is below 1e-5 */
    double d = df;
    double c = exp(lgamma((d + 1) / 2) - lgamma(d / 2)) / sqrt(d * G_PI);
    /* The mass is increasing and concave in t > 0, so Newton's method started left of the
     * root (the normal quantile is smaller than every t quantile) climbs to it monotonically. */
    double t = 1.959963984540054;
    for (int i = 0; i < 100; i++) {
        double g = sweep_t_mass(t, d) - 0.475;
        double step = g / (c * pow(1 + t * t / d, -(d + 1) / 2));
        t -= step;
        if (fabs(step) < 1e-12 * t)
            break;
    }
    return t;
}

void sweep_ci95(const double *x, size_t n, double *mean, double *low, double *high)
{
    g_assert(n >= 1);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    double m = sum / n;
    *mean = *low = *high = m;
    if (n == 1)
        return;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    double half = sweep_t975((unsigned)(n - 1)) * sqrt(ss / (n - 1)) / sqrt((double)n);
    *low = m - half;
    *high = m + half;
}

/* ---- parallel execution ------------------------------------------------------------------- */

struct sweep_child {
    pid_t pid;
    uint64_t k;
    FILE *err; /* the child's stderr, an unlinked temporary file (NULL: not captured) */
};

/* Waits for one of our children; moves it from running to *out and sets statuses[k].
 * Returns false when there is no child left to wait for. */
static bool sweep_reap(GArray *running, int *statuses, struct sweep_child *out)
{
    for (;;) {
        int st = 0;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            return false;
        for (guint i = 0; i < running->len; i++) {
            struct sweep_child c = g_array_index(running, struct sweep_child, i);
            if (c.pid != pid)
                continue;
            if (WIFEXITED(st))
                statuses[c.k] = WEXITSTATUS(st);
            else
                statuses[c.k] = 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
            g_array_remove_index(running, i);
            *out = c;
            return true;
        }
        /* a child this call did not start: not ours to report */
    }
}

/* What the (ended) child wrote on stderr; closes the file.  g_free the result. */
static char *sweep_captured(FILE *f)
{
    GString *g = g_string_new("");
    if (f) {
        char buf[4096];
        size_t n;
        rewind(f);
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            g_string_append_len(g, buf, (gssize)n);
        fclose(f);
    }
    return g_string_free(g, FALSE);
}

uint64_t sweep_execute(uint64_t total, unsigned jobs, sweep_run_fn run, sweep_done_fn done,
                       void *ud, int *statuses)
{
    g_assert(jobs >= 1);
    for (uint64_t k = 0; k < total; k++)
        statuses[k] = -1;
    GArray *running = g_array_new(FALSE, FALSE, sizeof(struct sweep_child));
    uint64_t next = 0, finished = 0;
    bool go_on = true;
    while ((go_on && next < total) || running->len > 0) {
        struct sweep_child ended = {.k = UINT64_MAX};
        if (go_on && next < total && running->len < jobs) {
            fflush(NULL); /* or the child would write the parent's buffered output again */
            FILE *err = tmpfile();
            pid_t pid = fork();
            if (pid == 0) {
                if (err)
                    dup2(fileno(err), STDERR_FILENO);
                int rc = run(ud, next);
                fflush(NULL);
                _exit(rc & 0xff);
            }
            if (pid > 0) {
                struct sweep_child c = {.pid = pid, .k = next++, .err = err};
                g_array_append_val(running, c);
                continue;
            }
            if (err)
                fclose(err);
            if (running->len == 0) { /* nothing will free a process slot: give this run up */
                fprintf(stderr, "p2psip sim: cannot start run %llu: %s\n", U64(next),
                        g_strerror(errno));
                statuses[next] = 2;
                ended.k = next++;
            }
        }
        if (ended.k == UINT64_MAX && !sweep_reap(running, statuses, &ended))
            break;
        finished++;
        char *output = sweep_captured(ended.err);
        if (!done)
            fputs(output, stderr);
        else if (!done(ud, ended.k, statuses[ended.k], output, finished, total))
            go_on = false;
        g_free(output);
    }
    g_array_unref(running);
    return finished;
}

/* ---- cluster scripts ---------------------------------------------------------------------- */

char *sweep_emit_slurm(const char *job_name, uint64_t total, const char *head, const char *tail,
                       const char *collect)
{
    GString *g = g_string_new("#!/bin/bash\n");
    char *name = g_strdup(job_name);
    g_strcanon(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", '_');
    g_string_append_printf(g, "#SBATCH --job-name=%s\n", name);
    g_string_append_printf(g, "#SBATCH --array=0-%llu\n", U64(total - 1));
    g_string_append(g, "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n");
    g_string_append_printf(g,
                           "#\n# %llu runs of a p2psip sweep, one per array task (generated by "
                           "p2psip sim --emit slurm).\n"
                           "# Submit:  jobid=$(sbatch --parsable THIS_SCRIPT)\n"
                           "# Then collect runs.tsv and aggregate.tsv once every task is done:\n"
                           "#   sbatch --dependency=afterok:$jobid --wrap=\"%s\"\n"
                           "# or by hand:\n#   %s\n"
                           "set -eu\n",
                           U64(total), collect, collect);
    g_string_append_printf(g, "exec %s --run \"$SLURM_ARRAY_TASK_ID\" %s\n", head, tail);
    g_free(name);
    return g_string_free(g, FALSE);
}

char *sweep_emit_parallel(uint64_t total, const char *head, const char *tail, const char *collect)
{
    GString *g = g_string_new("");
    g_string_append_printf(g,
                           "# %llu runs of a p2psip sweep (generated by p2psip sim --emit "
                           "parallel).\n# Run them with:  parallel --jobs N < THIS_FILE\n",
                           U64(total));
    for (uint64_t k = 0; k < total; k++)
        g_string_append_printf(g, "%s --run %llu %s\n", head, U64(k), tail);
    g_string_append_printf(g, "# Then collect runs.tsv and aggregate.tsv:\n# %s\n", collect);
    return g_string_free(g, FALSE);
}
