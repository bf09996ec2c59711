/* sweep.h — sweeps and seeds: one run per (sweep point, seed), run in parallel by fork(),
 * tabulated in runs.tsv and aggregated over seeds with a Student-t 95 % confidence interval.
 *
 * A scenario with a `sweep:` block (dotted keys, each with a list of values, crossed in file
 * order, the last key varying fastest; sim/scenario.h) and `seeds: S` describes
 * points x S runs.  Run k (0-based) is point k / S with seed `seed + k % S`: point-major,
 * then seed, the order of runs.tsv and of `p2psip sim --run K`.  Each run is an ordinary
 * run (sim/cli.c) whose results go to OUT/runs/p<point>-s<seed>/; the tables below are
 * rebuilt from those folders, so a sweep run on a cluster (--emit) is collected the same
 * way as a local one and the tables never depend on how many runs went in parallel.
 *
 *   runs.tsv       run, point, seed, the swept keys, then every summary.tsv metric in the
 *                  first run's order, one row per run, in run order.  The metrics that vary
 *                  between identical runs (wall_s, peak_rss_kib, memory_per_peer_bytes) and
 *                  those that repeat a column already present (seed; peers when peers is
 *                  swept) are left out.  A value a run does not have is written NA.
 *   aggregate.tsv  the swept keys, metric, n, mean, ci95_low, ci95_high: one row per point
 *                  and numeric metric, over that point's seeds (long format).  The interval is
 *                  mean -/+ t(0.975, n-1) s / sqrt(n) with s the sample standard deviation;
 *                  for n = 1 both bounds are the mean.  Numbers are printed with "%.10g".
 *
 * The statistics follow Student (1908) as in any textbook (e.g. Jain, "The Art of Computer
 * Systems Performance Analysis", §13.2); the t quantile is computed, not tabulated.
 */
#ifndef P2PSIP_SIM_SWEEP_H
#define P2PSIP_SIM_SWEEP_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "scenario.h"

/* The runs of a scenario. */
struct sweep_plan {
    uint64_t seed;        /* seed of every point's first run */
    uint32_t seeds;       /* runs per point, >= 1 */
    uint32_t points;      /* sweep points, 1 without a sweep */
    GPtrArray *keys;      /* swept dotted keys in file order (char *, owned) */
    GPtrArray *overrides; /* per point: NULL-terminated strv of "KEY=VALUE" (owned) */
};

/* Fills p from a loaded scenario (its sweep block, seeds and seed).  Clear with
 * sweep_plan_clear. */
void sweep_plan_init(struct sweep_plan *p, const struct scenario *sc);
void sweep_plan_clear(struct sweep_plan *p);
/* points x seeds. */
uint64_t sweep_plan_total(const struct sweep_plan *p);
/* Point and seed of run k < total. */
void sweep_plan_run(const struct sweep_plan *p, uint64_t k, uint32_t *point, uint64_t *seed);
/* The value of swept key i at point (the text after '=' of its override). */
const char *sweep_plan_value(const struct sweep_plan *p, uint32_t point, guint key);
/* True when key is swept. */
bool sweep_plan_sweeps(const struct sweep_plan *p, const char *key);

/* "p<point>-s<seed>", the name of a run and of its folder under OUT/runs/; g_free it. */
char *sweep_run_name(uint32_t point, uint64_t seed);
/* OUT/runs/p<point>-s<seed>; g_free it. */
char *sweep_run_dir(const char *out, uint32_t point, uint64_t seed);

/* ---- one run's summary.tsv -------------------------------------------------------------- */

struct sweep_summary {
    GPtrArray *names;    /* metric names in file order (char *, owned) */
    GPtrArray *values;   /* their value texts, parallel to names (char *, owned) */
    GHashTable *by_name; /* name -> value text (both borrowed from the arrays) */
};

void sweep_summary_init(struct sweep_summary *s);
void sweep_summary_clear(struct sweep_summary *s);
/* Parses the text of a summary.tsv ("metric\tvalue" header, then NAME\tVALUE lines) into an
 * initialised, empty s.  Returns false with *err set naming `origin` and the line when a line
 * is malformed or a name repeats. */
bool sweep_summary_parse(struct sweep_summary *s, const char *text, const char *origin,
                         GError **err);
/* Reads and parses path. */
bool sweep_summary_read(struct sweep_summary *s, const char *path, GError **err);
/* True for the summary rows that vary between runs of the same inputs (wall time, memory). */
bool sweep_metric_varies(const char *name);

/* ---- the tables ------------------------------------------------------------------------- */

/* One run as collected from its folder. */
struct sweep_run {
    uint64_t index;
    uint32_t point;
    uint64_t seed;
    bool present;                 /* its summary.tsv was read */
    struct sweep_summary summary; /* empty when not present */
};

/* Text of runs.tsv and aggregate.tsv for runs[0..n-1] (in run order; absent runs are
 * skipped); g_free them. */
char *sweep_runs_tsv(const struct sweep_plan *p, const struct sweep_run *runs, size_t n);
char *sweep_aggregate_tsv(const struct sweep_plan *p, const struct sweep_run *runs, size_t n);

/* ---- statistics ------------------------------------------------------------------------- */

/* The 0.975 quantile of Student's t distribution with df >= 1 degrees of freedom (12.7062
 * for df = 1, 2.2622 for df = 9, 1.95996 as df grows). */
double sweep_t975(unsigned df);
/* Mean and Student-t 95 % interval of x[0..n-1], n >= 1 (n = 1: all three are x[0]). */
void sweep_ci95(const double *x, size_t n, double *mean, double *low, double *high);

/* ---- parallel execution ----------------------------------------------------------------- */

/* Runs one combination in a forked child and returns its exit code (0, 3, or 2 on error). */
typedef int (*sweep_run_fn)(void *ud, uint64_t k);
/* Told in the parent after run k ended with `status` (see sweep_execute); `output` is what
 * the run wrote on stderr (for the callback to print); `done` runs of `total` have ended.
 * Returns false to start no further runs (those running finish). */
typedef bool (*sweep_done_fn)(void *ud, uint64_t k, int status, const char *output, uint64_t done,
                              uint64_t total);

/* Runs run(ud, k) for every k in [0, total), each in its own fork()ed child of the calling
 * process, at most `jobs` (>= 1) at a time, started in order of k.  The child flushes stdio
 * and _exits with the function's result.  statuses[k] receives the child's exit code, 128
 * plus the signal number when a signal killed it, 2 when no child could be forked, or -1
 * when the run was not started because done (may be NULL) asked to stop.
 *
 * A child's stderr goes to a temporary file that the parent hands to done once the child
 * has ended (or writes on stderr itself when done is NULL), so that the messages of runs in
 * parallel never interleave and the parent's progress line can be cleared first.  stdout is
 * shared.  Returns the number of runs that ended.  It reaps every child of the process
 * (waitpid(-1)): call it when no other child runs, and from one thread. */
uint64_t sweep_execute(uint64_t total, unsigned jobs, sweep_run_fn run, sweep_done_fn done,
                       void *ud, int *statuses);

/* ---- cluster scripts -------------------------------------------------------------------- */

/* The command of run K is "HEAD --run K TAIL": head and tail are shell text, already quoted
 * (head: the binary, "sim" and the scenario; tail: --out and the user's options).
 *
 * A Slurm job-array script for `total` runs: "#SBATCH --array=0-(total-1)", each task
 * running run $SLURM_ARRAY_TASK_ID; the collect command to run once every task has finished
 * is given in a comment (with the sbatch line that chains it).  g_free the result. */
char *sweep_emit_slurm(const char *job_name, uint64_t total, const char *head, const char *tail,
                       const char *collect);
/* A GNU parallel job list: one command line per run, in run order, between comment lines
 * (how to run the list, and the collect command to run after it; a shell comment is a no-op
 * if parallel runs it).  g_free the result. */
char *sweep_emit_parallel(uint64_t total, const char *head, const char *tail, const char *collect);

#endif
