/* plot.h — gnuplot figures of results, `p2psip plot` and `p2psip compare`.
 *
 * Figures (PNG and SVG, labelled with units and the scenario name, readable in print): the
 * hop-count histogram (hops.tsv), the latency CDF (latency_cdf.tsv), success and alive peers
 * over time (timeseries.tsv); for a sweep (runs.tsv, aggregate.tsv) each metric against the
 * swept parameter, one line per variant with 95 % confidence intervals.  The gnuplot scripts
 * are kept next to the figures (plots/NAME.gp) so a user can restyle them.  When gnuplot is not
 * installed, plot functions say so and return FALSE without failing the run.
 */
#ifndef P2PSIP_ANALYSIS_PLOT_H
#define P2PSIP_ANALYSIS_PLOT_H

#include <glib.h>

/* Renders the figures of one run folder into RUN_DIR/plots/. */
gboolean plot_run(const char *run_dir, GError **err);
/* Renders the figures of a sweep folder (runs.tsv, aggregate.tsv) into SWEEP_DIR/plots/. */
gboolean plot_sweep(const char *sweep_dir, GError **err);
/* True when a gnuplot binary is on the PATH. */
gboolean plot_have_gnuplot(void);

/* `p2psip plot RUN_DIR...` and `p2psip compare RUN_DIR...` (argv[0] is the command name). */
int plot_cli_main(int argc, char **argv);
int compare_cli_main(int argc, char **argv);

#endif
