/* expect.h — expectations: a scenario's `expect:` block checked against a run's summary.
 *
 * An expectation (struct scenario_expect, read by sim/scenario.c) says "METRIC OP NUMBER",
 * e.g. `lookup_success: ">= 0.99"`.  After a run, `p2psip sim` checks every one against the
 * run's summary.tsv metrics, prints each failure as
 *
 *   expectation failed: lookup_success >= 0.99 (measured 0.9731) at FILE:LINE:COLUMN
 *
 * on stderr, writes expectations.tsv into the run folder and exits 3 when any failed.  This
 * is how a protocol change is validated before deployment (the "go/no-go").
 *
 * Numbers are printed with "%.15g" (shortest exact-looking form of the double: 0.99, 2500),
 * the same in messages and in expectations.tsv.
 */
#ifndef P2PSIP_SIM_EXPECT_H
#define P2PSIP_SIM_EXPECT_H

#include <glib.h>
#include <stdbool.h>

#include "scenario.h"

/* The outcome of one expectation. */
struct expect_result {
    const struct scenario_expect *e; /* borrowed from the scenario */
    double measured;
    bool pass;
};

/* True when "measured OP expected" holds, OP one of >=, <=, >, <, ==, !=.  Comparison is of
 * doubles, so == means exactly equal as read from summary.tsv (its values are rounded to
 * the precision they are printed with).  An unknown operator is never true. */
bool expect_compare(double measured, const char *op, double expected);

/* Checks every expectation of `expect` (struct scenario_expect *, may be NULL or empty) in
 * order against `metrics` (metric name -> value text, as in summary.tsv; borrowed) and
 * appends one struct expect_result per expectation to `results`.  Returns false with *err
 * set (SCENARIO_ERROR, SCENARIO_ERROR_KEY) naming the expectation's FILE:LINE:COLUMN when a
 * metric is not in `metrics`, its value is not a number, or the operator is unknown; the
 * results appended before that stay. */
bool expect_check(const GPtrArray *expect, GHashTable *metrics, GArray *results, GError **err);

/* Number of failed results. */
unsigned expect_failures(const GArray *results);

/* "expectation failed: METRIC OP EXPECTED (measured M) at WHERE" (no newline); g_free it. */
char *expect_failure_message(const struct expect_result *r);

/* The text of expectations.tsv: the header "metric\top\texpected\tmeasured\tpass", then one
 * line per result, pass being "true" or "false"; g_free it. */
char *expect_tsv(const GArray *results);

#endif
