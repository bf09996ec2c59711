/* plot_int.h — internals shared by analysis/plot.c and analysis/compare.c: reading the
 * results TSVs, writing gnuplot scripts and running gnuplot.  Not for use outside analysis/.
 *
 * A figure is a gnuplot script that holds its data inline (datablocks), so the script alone
 * reproduces the figure (`gnuplot hops.gp` in the plots folder) and its text depends only on
 * the input files: no paths, dates or versions.
 */
#ifndef P2PSIP_ANALYSIS_PLOT_INT_H
#define P2PSIP_ANALYSIS_PLOT_INT_H

#include <glib.h>

/* Errors of plot_run, plot_sweep and the shared helpers (domain PLOT_ERROR). */
#define PLOT_ERROR (plot_error_quark())
GQuark plot_error_quark(void);
enum {
    PLOT_ERROR_INPUT,      /* a results file or folder is missing, unreadable or malformed */
    PLOT_ERROR_IO,         /* a script or figure could not be written */
    PLOT_ERROR_GNUPLOT,    /* gnuplot failed (exit status or messages on stderr) */
    PLOT_ERROR_NO_GNUPLOT, /* gnuplot is not on the PATH (the scripts are still written) */
};

/* ---- TSV tables ------------------------------------------------------------------------- */

/* A tab-separated file: a header row, then rows with exactly as many cells.  Blank lines and
 * lines starting with '#' are skipped; a trailing '\r' is dropped. */
struct plot_table {
    char *path;        /* the file read, for messages */
    GPtrArray *header; /* char *: column names */
    GPtrArray *rows;   /* GPtrArray * of char *: the cells of each data row */
    GArray *lines;     /* guint: the line number (1-based) of each data row */
};

/* Reads path.  required is a NULL-terminated list of column names that must be in the
 * header (or NULL).  Returns NULL and sets *err when the file cannot be read (domain
 * G_FILE_ERROR, code G_FILE_ERROR_NOENT when it does not exist) or is malformed
 * (PLOT_ERROR_INPUT, naming FILE:LINE). */
struct plot_table *plot_table_read(const char *path, const char *const *required, GError **err);
void plot_table_free(struct plot_table *t);
/* Index of the named column, or -1. */
int plot_table_column(const struct plot_table *t, const char *name);
/* The cell of a row (borrowed). */
const char *plot_table_cell(const struct plot_table *t, guint row, int col);
/* Parses a cell as a finite number.  When allow_missing, "nan", "NA" and an empty cell give
 * NAN.  Otherwise sets *err (PLOT_ERROR_INPUT, "FILE:LINE:COLUMN: ...") and returns FALSE. */
gboolean plot_table_number(const struct plot_table *t, guint row, int col, gboolean allow_missing,
                           double *out, GError **err);

/* Appends the numbers of columns cx and cy of every row to xs and ys (double); FALSE with
 * *err naming FILE:LINE:COLUMN on a cell that is not a number. */
gboolean plot_table_xy(const struct plot_table *t, int cx, int cy, GArray *xs, GArray *ys,
                       GError **err);
/* From a long-format time series (columns time_s, metric, value), appends the rows of one
 * metric to ts and vs in file order; a missing value ("nan", "NA", empty) becomes NAN.
 * Returns FALSE with *err on a malformed number. */
gboolean plot_series_select(const struct plot_table *t, const char *metric, GArray *ts, GArray *vs,
                            GError **err);

/* Reads DIR/FILE when it exists: returns TRUE with *out NULL when the file is absent, FALSE
 * with *err (PLOT_ERROR_INPUT) when it cannot be read or is malformed. */
gboolean plot_table_load_optional(const char *dir, const char *file, const char *const *required,
                                  struct plot_table **out, GError **err);

/* The scenario name of a results folder (the `name:` line of DIR/scenario.yaml), else the
 * folder's name.  Newly allocated. */
char *plot_scenario_name(const char *dir);
/* The name of a folder as a person calls it: the last component of its canonical path. */
char *plot_folder_name(const char *dir);

/* ---- gnuplot scripts -------------------------------------------------------------------- */

/* One figure: setup (datablocks and settings, run once) and body (the plot commands, run
 * once per terminal: PNG, then SVG).  The body must set everything it changes. */
struct plot_figure {
    char *stem; /* file names: STEM.gp, STEM.png, STEM.svg */
    char *what; /* one line saying what the figure shows, for the script's comment */
    GString *setup;
    GString *body;
};

struct plot_figure *plot_figure_new(const char *stem, const char *what);
void plot_figure_free(struct plot_figure *f);
/* Appends s as a gnuplot single-quoted string (quotes doubled, control characters blanked). */
void plot_quote(GString *out, const char *s);
/* Appends `set NAME 'TEXT'` (title, xlabel, ylabel ...). */
void plot_set_text(GString *out, const char *name, const char *text);
/* Appends `set AXISrange [lo:hi]` padded so that an axis whose data span is empty (one
 * value) does not make gnuplot warn; log axes pad by a factor. Does nothing when lo > hi
 * (no data). */
void plot_set_range(GString *out, const char *axis, double lo, double hi, gboolean logscale);
/* "linespoints" for a line of at most 40 samples (a lone sample stays visible), else
 * "lines". */
const char *plot_line_style(guint n);
/* Appends a number the way the data files write numbers: "%.10g". */
void plot_number(GString *out, double v);

/* Writes every figure's script into dir (created if needed), then runs gnuplot on each when
 * it is installed and checks that it exited 0, printed nothing on stderr and wrote non-empty
 * PNG and SVG files.  Returns FALSE with PLOT_ERROR_NO_GNUPLOT (scripts written),
 * PLOT_ERROR_GNUPLOT or PLOT_ERROR_IO. */
gboolean plot_render(const char *dir, GPtrArray *figures, GError **err);

/* ---- values with units ------------------------------------------------------------------ */

/* Parses a swept value such as "1000", "30s", "200ms", "0.05/s", "1Mbit" (the scenario's
 * duration, rate and bandwidth syntax) into a number in a base unit (s, 1/s, bit/s).  *unit is
 * the base unit's label ("" for a bare number).  Returns FALSE when the text is not a number
 * with one of those units. */
gboolean plot_parse_quantity(const char *text, double *value, const char **unit);

#endif
