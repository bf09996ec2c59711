/* graph.c — overlay snapshots analysed with igraph 0.10: connectivity, path lengths and degree
 * distributions of the routing graph, written as GraphML and long-format TSVs.
 *
 * The metrics are those used to judge a structured overlay's routing state: the path length
 * in hops that Chord predicts and measures (Stoica et al., SIGCOMM 2001, §6.3, "path length"
 * about ½·log2 N) set next to the hops lookups actually took, and whether the routing graph
 * stays connected under failures (§6.4); the RELOAD overlay it models is RFC 6940 (§9, the
 * CHORD-RELOAD topology plug-in: successors, predecessors and fingers are the edges).
 *
 * The graph: vertex i is peer slot i; a directed edge u→v means u holds v in its routing state.
 * Edges are cleaned before analysis — self-loops, duplicates (many fingers name the same peer)
 * and edges with a dead endpoint (stale entries) are dropped — so "edges" counts distinct
 * routing relations between live peers and dead peers are isolated vertices.  Components,
 * degrees and paths are counted over live vertices only.
 *
 * Paths: breadth-first search (igraph_distances) from a set of source vertices, directed and
 * unweighted.  mean_path averages the hop distance over the ordered pairs (s, t), s ≠ t, with
 * t reachable from s; diameter is the largest distance between two vertices of the largest
 * strongly connected component (a shortest path between two vertices of one strong component
 * never leaves it, so BFS on the whole graph gives the component's distances).  Every live
 * vertex is a source when the whole computation is cheap (alive · (alive + edges) at most
 * GRAPH_EXACT_WORK, about 0.1 s); otherwise `sources` vertices drawn with the given seed
 * (sim_rng) are used — uniformly among live vertices for mean_path, among the largest strong
 * component for diameter (a lower bound then) — and path_sampled = 1 says so in graph.tsv.
 * `sources` = 0 asks for the exact computation whatever it costs.
 *
 * Undefined values (no live vertex, no reachable pair, unknown measured hops) are NAN in
 * struct graph_metrics and "NaN" in graph.tsv, which R, pandas and gnuplot read as missing.
 *
 * igraph keeps global state (error handler, attribute table) and this build is not
 * thread-safe, so every igraph call here runs under one process-wide lock.  igraph's random
 * generator is never used.
 */
#include "graph.h"

#include <errno.h>
#include <igraph.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/engine.h"

/* Above this many BFS steps (alive vertices times (alive + edges)) paths are sampled. */
#define GRAPH_EXACT_WORK 25000000.0
/* Sources per igraph_distances call: the matrix is GRAPH_BATCH x vertices doubles. */
#define GRAPH_BATCH 16u
/* sim_rng streams of the snapshot seed: one per sample. */
#define GRAPH_STREAM_PATHS 0x6772617068700001ull
#define GRAPH_STREAM_DIAMETER 0x6772617068700002ull

G_LOCK_DEFINE_STATIC(graph_igraph);
static char graph_igraph_reason[256]; /* last igraph error, under the lock */

/* igraph's error handler while we hold the lock: remember why, free igraph's temporaries
 * and return the code to the caller instead of aborting. */
static void graph_on_igraph_error(const char *reason, const char *file, int line,
                                  igraph_error_t code)
{
    g_snprintf(graph_igraph_reason, sizeof graph_igraph_reason, "%s (%s)", reason,
               igraph_strerror(code));
    IGRAPH_FINALLY_FREE();
}

/* Everything one analysis allocates, so that one function can free it on every path. */
struct graph_work {
    igraph_t g;
    bool have_graph;
    igraph_vector_int_t membership, csize, degree, batch;
    igraph_matrix_t dist;
    igraph_vector_t peer;
    igraph_vector_bool_t alive;
    uint32_t *live; /* live vertex indices, ascending */
    uint32_t n_live;
    uint8_t *lscc_mark; /* 1 for vertices of the largest strong component */
    uint32_t *in_hist, *out_hist;
};

/* Frees the igraph objects; igraph_destroy needs the attribute table still installed. */
static void graph_work_clear_igraph(struct graph_work *w)
{
    if (w->have_graph)
        igraph_destroy(&w->g);
    w->have_graph = false;
    igraph_vector_int_destroy(&w->membership);
    igraph_vector_int_destroy(&w->csize);
    igraph_vector_int_destroy(&w->degree);
    igraph_vector_int_destroy(&w->batch);
    igraph_matrix_destroy(&w->dist);
    igraph_vector_destroy(&w->peer);
    igraph_vector_bool_destroy(&w->alive);
}

static void graph_work_clear(struct graph_work *w)
{
    g_free(w->live);
    g_free(w->lscc_mark);
    g_free(w->in_hist);
    g_free(w->out_hist);
}

static gboolean graph_igraph_failed(igraph_error_t rc, const char *what, GError **err)
{
    if (rc == IGRAPH_SUCCESS)
        return FALSE;
    g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_FAILED, "graph: igraph %s failed: %s", what,
                graph_igraph_reason[0] ? graph_igraph_reason : igraph_strerror(rc));
    return TRUE;
}

/* The cleaned edge list as igraph wants it (from, to, from, to, ...): live endpoints, no
 * self-loops, no duplicates; ordered by source, then by first appearance in the input.
 * Counting sort plus a last-seen stamp per target: O(vertices + edges), no hashing. */
static void graph_clean_edges(const struct graph_edges *ge, igraph_vector_int_t *out)
{
    uint32_t n = ge->n_vertices;
    uint32_t *start = g_new0(uint32_t, (gsize)n + 1);
    for (size_t i = 0; i < ge->n_edges; i++) {
        uint32_t u = ge->from[i], v = ge->to[i];
        if (u != v && ge->alive[u] && ge->alive[v])
            start[u + 1]++;
    }
    for (uint32_t u = 0; u < n; u++)
        start[u + 1] += start[u];
    uint32_t *fill = g_memdup2(start, sizeof(uint32_t) * n);
    uint32_t *targets = g_new(uint32_t, start[n] ? start[n] : 1);
    for (size_t i = 0; i < ge->n_edges; i++) {
        uint32_t u = ge->from[i], v = ge->to[i];
        if (u != v && ge->alive[u] && ge->alive[v])
            targets[fill[u]++] = v;
    }
    uint32_t *seen = g_new(uint32_t, n ? n : 1); /* seen[v] == u + 1: u→v already kept */
    memset(seen, 0, sizeof(uint32_t) * n);
    igraph_vector_int_clear(out);
    for (uint32_t u = 0; u < n; u++) {
        for (uint32_t k = start[u]; k < start[u + 1]; k++) {
            uint32_t v = targets[k];
            if (seen[v] == u + 1)
                continue;
            seen[v] = u + 1;
            igraph_vector_int_push_back(out, u);
            igraph_vector_int_push_back(out, v);
        }
    }
    g_free(seen);
    g_free(targets);
    g_free(fill);
    g_free(start);
}

/* Counts the components that hold live vertices and returns them; *largest gets the size of
 * the largest (ties: the one holding the lowest vertex index), *which its igraph id. */
static gboolean graph_components(struct graph_work *w, igraph_connectedness_t mode, uint32_t *count,
                                 uint32_t *largest, igraph_integer_t *which, GError **err)
{
    igraph_integer_t no = 0;
    if (graph_igraph_failed(
            igraph_connected_components(&w->g, &w->membership, &w->csize, &no, mode),
            "connected_components", err))
        return FALSE;
    /* Dead vertices are isolated, one component each; a live vertex never shares theirs. */
    *count = (uint32_t)no - (uint32_t)(igraph_vcount(&w->g) - w->n_live);
    *largest = 0;
    *which = -1;
    for (uint32_t i = 0; i < w->n_live; i++) {
        igraph_integer_t c = VECTOR(w->membership)[w->live[i]];
        if ((uint32_t)VECTOR(w->csize)[c] > *largest) {
            *largest = (uint32_t)VECTOR(w->csize)[c];
            *which = c;
        }
    }
    return TRUE;
}

/* Degree statistics and histogram over live vertices in one direction. */
static gboolean graph_degrees(struct graph_work *w, igraph_neimode_t mode, double *mean,
                              uint32_t *max, uint32_t **hist, GError **err)
{
    if (graph_igraph_failed(igraph_degree(&w->g, &w->degree, igraph_vss_all(), mode, true),
                            "degree", err))
        return FALSE;
    uint64_t sum = 0;
    *max = 0;
    for (uint32_t i = 0; i < w->n_live; i++) {
        uint32_t d = (uint32_t)VECTOR(w->degree)[w->live[i]];
        sum += d;
        if (d > *max)
            *max = d;
    }
    *mean = w->n_live ? (double)sum / w->n_live : NAN;
    *hist = g_new0(uint32_t, (gsize)*max + 1);
    for (uint32_t i = 0; i < w->n_live; i++)
        (*hist)[VECTOR(w->degree)[w->live[i]]]++;
    return TRUE;
}

static int graph_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* k vertices drawn without replacement from pool[0..n) (partial Fisher-Yates on a copy),
 * returned in ascending order. */
static uint32_t *graph_sample(const uint32_t *pool, uint32_t n, uint32_t k, uint64_t seed,
                              uint64_t stream)
{
    uint32_t *a = g_memdup2(pool, sizeof(uint32_t) * (n ? n : 1));
    struct sim_rng rng;
    sim_rng_init(&rng, seed, stream);
    for (uint32_t i = 0; i < k; i++) {
        uint32_t j = i + (uint32_t)sim_rng_below(&rng, n - i);
        uint32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
    uint32_t *chosen = g_memdup2(a, sizeof(uint32_t) * (k ? k : 1));
    g_free(a);
    qsort(chosen, k, sizeof *chosen, graph_cmp_u32);
    return chosen;
}

/* Distances from a batch of sources (igraph_distances: one BFS each, rows = sources) added
 * to *sum / *pairs when count_pairs; *ecc rises to the farthest vertex of the largest strong
 * component reached from a source inside it. */
static gboolean graph_distances(struct graph_work *w, const uint32_t *src, uint32_t n_src,
                                bool count_pairs, uint64_t *sum, uint64_t *pairs, uint32_t *ecc,
                                GError **err)
{
    igraph_vector_int_resize(&w->batch, n_src);
    for (uint32_t i = 0; i < n_src; i++)
        VECTOR(w->batch)[i] = src[i];
    igraph_vs_t from;
    igraph_vs_vector(&from, &w->batch);
    igraph_error_t rc = igraph_distances(&w->g, &w->dist, from, igraph_vss_all(), IGRAPH_OUT);
    igraph_vs_destroy(&from);
    if (graph_igraph_failed(rc, "distances", err))
        return FALSE;
    igraph_integer_t n = igraph_vcount(&w->g);
    for (uint32_t i = 0; i < n_src; i++) {
        bool in_lscc = w->lscc_mark[src[i]];
        for (igraph_integer_t v = 0; v < n; v++) {
            igraph_real_t d = MATRIX(w->dist, i, v);
            if (d == IGRAPH_INFINITY || d == 0)
                continue;
            if (count_pairs) {
                *sum += (uint64_t)d;
                (*pairs)++;
            }
            if (in_lscc && w->lscc_mark[v] && d > *ecc)
                *ecc = (uint32_t)d;
        }
    }
    return TRUE;
}

/* Sources in batches, bounding the distance matrix to GRAPH_BATCH rows. */
static gboolean graph_from_sources(struct graph_work *w, const uint32_t *src, uint32_t n_src,
                                   bool count_pairs, uint64_t *sum, uint64_t *pairs, uint32_t *ecc,
                                   GError **err)
{
    for (uint32_t i = 0; i < n_src; i += GRAPH_BATCH)
        if (!graph_distances(w, src + i, MIN(GRAPH_BATCH, n_src - i), count_pairs, sum, pairs, ecc,
                             err))
            return FALSE;
    return TRUE;
}

/* Mean path and diameter (see the file comment for exact vs sampled). */
static gboolean graph_paths(struct graph_work *w, uint32_t lscc_size, uint32_t edges,
                            uint32_t sources, uint64_t seed, struct graph_metrics *m, GError **err)
{
    m->mean_path = NAN;
    m->diameter = w->n_live ? 0 : NAN;
    m->path_sources = 0;
    if (w->n_live == 0)
        return TRUE;
    double work = (double)w->n_live * ((double)w->n_live + edges);
    bool sampled = sources > 0 && sources < w->n_live && work > GRAPH_EXACT_WORK;
    uint32_t *path_src, n_path;
    uint32_t *diam_src = NULL, n_diam = 0;
    if (!sampled) {
        path_src = g_memdup2(w->live, sizeof(uint32_t) * w->n_live);
        n_path = w->n_live;
    } else {
        path_src = graph_sample(w->live, w->n_live, sources, seed, GRAPH_STREAM_PATHS);
        n_path = sources;
        if (lscc_size < w->n_live) { /* else the path sources all lie in the component */
            uint32_t *pool = g_new(uint32_t, lscc_size), k = 0;
            for (uint32_t i = 0; i < w->n_live; i++)
                if (w->lscc_mark[w->live[i]])
                    pool[k++] = w->live[i];
            n_diam = MIN(sources, lscc_size);
            diam_src = graph_sample(pool, lscc_size, n_diam, seed, GRAPH_STREAM_DIAMETER);
            g_free(pool);
        }
    }
    uint64_t sum = 0, pairs = 0;
    uint32_t ecc = 0;
    gboolean ok = graph_from_sources(w, path_src, n_path, true, &sum, &pairs, &ecc, err) &&
                  graph_from_sources(w, diam_src, n_diam, false, &sum, &pairs, &ecc, err);
    g_free(path_src);
    g_free(diam_src);
    if (!ok)
        return FALSE;
    m->path_sources = n_path;
    m->mean_path = pairs ? (double)sum / (double)pairs : NAN;
    m->diameter = ecc;
    return TRUE;
}

/* The GraphML file: vertex attributes alive (boolean) and peer (index), graph attributes
 * snapshot and time_s. */
static gboolean graph_write_graphml(struct graph_work *w, const char *path, const char *tag,
                                    double time_s, const struct graph_edges *ge, GError **err)
{
    uint32_t n = ge->n_vertices;
    igraph_vector_bool_resize(&w->alive, n);
    igraph_vector_resize(&w->peer, n);
    for (uint32_t i = 0; i < n; i++) {
        VECTOR(w->alive)[i] = ge->alive[i] != 0;
        VECTOR(w->peer)[i] = i;
    }
    if (graph_igraph_failed(SETVABV(&w->g, "alive", &w->alive), "set alive", err) ||
        graph_igraph_failed(SETVANV(&w->g, "peer", &w->peer), "set peer", err) ||
        graph_igraph_failed(SETGAS(&w->g, "snapshot", tag), "set snapshot", err) ||
        graph_igraph_failed(SETGAN(&w->g, "time_s", time_s), "set time_s", err))
        return FALSE;
    FILE *f = fopen(path, "w");
    if (!f) {
        int e = errno;
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(e), "graph: cannot write %s: %s",
                    path, g_strerror(e));
        return FALSE;
    }
    igraph_error_t rc = igraph_write_graph_graphml(&w->g, f, false);
    bool bad = ferror(f) != 0;
    int e = errno;
    if (fclose(f) != 0 && !bad) {
        bad = true;
        e = errno;
    }
    if (graph_igraph_failed(rc, "write_graph_graphml", err))
        return FALSE;
    if (bad) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(e), "graph: cannot write %s: %s",
                    path, g_strerror(e));
        return FALSE;
    }
    return TRUE;
}

/* All the igraph work; the caller holds the lock and has set igraph's handlers. */
static gboolean graph_analyse(struct graph_work *w, const char *graphml, const char *tag,
                              double time_s, const struct graph_edges *ge, uint32_t sources,
                              uint64_t seed, struct graph_metrics *m, GError **err)
{
    igraph_vector_int_t edges;
    igraph_vector_int_init(&edges, 0);
    graph_clean_edges(ge, &edges);
    m->edges = (uint32_t)(igraph_vector_int_size(&edges) / 2);
    igraph_error_t rc = igraph_create(&w->g, &edges, ge->n_vertices, IGRAPH_DIRECTED);
    igraph_vector_int_destroy(&edges);
    if (graph_igraph_failed(rc, "create", err))
        return FALSE;
    w->have_graph = true;

    uint32_t largest_weak;
    igraph_integer_t weak_id, strong_id;
    if (!graph_components(w, IGRAPH_WEAK, &m->weak_components, &largest_weak, &weak_id, err) ||
        !graph_components(w, IGRAPH_STRONG, &m->strong_components, &m->largest_strong, &strong_id,
                          err))
        return FALSE;
    w->lscc_mark = g_new0(uint8_t, ge->n_vertices ? ge->n_vertices : 1);
    for (uint32_t i = 0; i < w->n_live; i++)
        w->lscc_mark[w->live[i]] = VECTOR(w->membership)[w->live[i]] == strong_id;

    if (!graph_degrees(w, IGRAPH_IN, &m->in_degree_mean, &m->in_degree_max, &w->in_hist, err) ||
        !graph_degrees(w, IGRAPH_OUT, &m->out_degree_mean, &m->out_degree_max, &w->out_hist, err))
        return FALSE;
    if (!graph_paths(w, m->largest_strong, m->edges, sources, seed, m, err))
        return FALSE;
    return graph_write_graphml(w, graphml, tag, time_s, ge, err);
}

static void graph_num(GString *s, const char *fmt, double v)
{
    if (isnan(v))
        g_string_append(s, "NaN");
    else
        g_string_append_printf(s, fmt, v);
}

/* Appends text to DIR/NAME, writing header first when the file is new or empty. */
static gboolean graph_append(const char *dir, const char *name, const char *header,
                             const GString *rows, GError **err)
{
    char *path = g_build_filename(dir, name, NULL);
    FILE *f = fopen(path, "a");
    int e = errno;
    bool ok = f != NULL;
    if (ok) {
        ok = fseek(f, 0, SEEK_END) == 0;
        long at = ok ? ftell(f) : -1;
        ok = at >= 0 && (at > 0 || fputs(header, f) >= 0) &&
             fwrite(rows->str, 1, rows->len, f) == rows->len;
        e = errno;
        if (fclose(f) != 0 && ok) {
            ok = false;
            e = errno;
        }
    }
    if (!ok)
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(e), "graph: cannot write %s: %s",
                    path, g_strerror(e));
    g_free(path);
    return ok;
}

static gboolean graph_write_tsv(const char *dir, const char *tag, double time_s,
                                const struct graph_metrics *m, double measured, bool sampled,
                                const struct graph_work *w, GError **err)
{
    GString *s = g_string_new(NULL);
    char *pre = g_strdup_printf("%s\t%.3f\t", tag, time_s);
#define ROW_U(name, v) g_string_append_printf(s, "%s%s\t%u\n", pre, name, (unsigned)(v))
#define ROW_F(name, fmt, v)                                                                        \
    (g_string_append_printf(s, "%s%s\t", pre, name), graph_num(s, fmt, v),                         \
     g_string_append_c(s, '\n'))
    ROW_U("vertices", m->vertices);
    ROW_U("alive", m->alive);
    ROW_U("edges", m->edges);
    ROW_U("weak_components", m->weak_components);
    ROW_U("strong_components", m->strong_components);
    ROW_U("largest_strong", m->largest_strong);
    ROW_F("diameter", "%.0f", m->diameter);
    ROW_F("mean_shortest_path", "%.4f", m->mean_path);
    ROW_U("path_sources", m->path_sources);
    ROW_U("path_sampled", sampled);
    ROW_F("in_degree_mean", "%.4f", m->in_degree_mean);
    ROW_F("out_degree_mean", "%.4f", m->out_degree_mean);
    ROW_U("in_degree_max", m->in_degree_max);
    ROW_U("out_degree_max", m->out_degree_max);
    ROW_F("measured_hops_mean", "%.4f", measured < 0 ? NAN : measured);
#undef ROW_U
#undef ROW_F
    g_free(pre);
    gboolean ok = graph_append(dir, "graph.tsv", "snapshot\ttime_s\tmetric\tvalue\n", s, err);
    g_string_truncate(s, 0);
    const char *dir_name[2] = {"in", "out"};
    const uint32_t *hist[2] = {w->in_hist, w->out_hist};
    const uint32_t max[2] = {m->in_degree_max, m->out_degree_max};
    for (int k = 0; k < 2 && w->n_live; k++)
        for (uint32_t d = 0; d <= max[k]; d++)
            if (hist[k][d])
                g_string_append_printf(s, "%s\t%s\t%u\t%u\n", tag, dir_name[k], d, hist[k][d]);
    ok = ok && graph_append(dir, "degree.tsv", "snapshot\tdirection\tdegree\tcount\n", s, err);
    g_string_free(s, TRUE);
    return ok;
}

static gboolean graph_check_input(const char *tag, const struct graph_edges *g, GError **err)
{
    if (!tag || !*tag || strpbrk(tag, "/\\\t\n\r")) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "graph: snapshot tag \"%s\" must be non-empty, without '/', '\\', tabs or "
                    "newlines",
                    tag ? tag : "");
        return FALSE;
    }
    if (g->n_vertices && !g->alive) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "graph: snapshot %s has no alive flags",
                    tag);
        return FALSE;
    }
    for (size_t i = 0; i < g->n_edges; i++)
        if (g->from[i] >= g->n_vertices || g->to[i] >= g->n_vertices) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "graph: snapshot %s edge %zu (%u -> %u) names a peer outside 0..%u", tag, i,
                        g->from[i], g->to[i], g->n_vertices ? g->n_vertices - 1 : 0);
            return FALSE;
        }
    return TRUE;
}

gboolean graph_snapshot(const char *dir, const char *tag, double time_s,
                        const struct graph_edges *g, double measured_hops_mean, uint32_t sources,
                        uint64_t seed, struct graph_metrics *out, GError **err)
{
    if (!graph_check_input(tag, g, err))
        return FALSE;
    struct graph_metrics m = {.vertices = g->n_vertices};
    struct graph_work w = {0};
    w.live = g_new(uint32_t, g->n_vertices ? g->n_vertices : 1);
    for (uint32_t i = 0; i < g->n_vertices; i++)
        if (g->alive[i])
            w.live[w.n_live++] = i;
    m.alive = w.n_live;

    char *file = g_strdup_printf("graph-%s.graphml", tag);
    char *graphml = g_build_filename(dir, file, NULL);
    G_LOCK(graph_igraph);
    graph_igraph_reason[0] = '\0';
    igraph_error_handler_t *old_error = igraph_set_error_handler(graph_on_igraph_error);
    igraph_attribute_table_t *old_table = igraph_set_attribute_table(&igraph_cattribute_table);
    igraph_vector_int_init(&w.membership, 0);
    igraph_vector_int_init(&w.csize, 0);
    igraph_vector_int_init(&w.degree, 0);
    igraph_vector_int_init(&w.batch, 0);
    igraph_matrix_init(&w.dist, 0, 0);
    igraph_vector_init(&w.peer, 0);
    igraph_vector_bool_init(&w.alive, 0);
    gboolean ok = graph_analyse(&w, graphml, tag, time_s, g, sources, seed, &m, err);
    graph_work_clear_igraph(&w);
    igraph_set_attribute_table(old_table);
    igraph_set_error_handler(old_error);
    G_UNLOCK(graph_igraph);
    g_free(graphml);
    g_free(file);

    bool sampled = m.path_sources < w.n_live;
    ok = ok && graph_write_tsv(dir, tag, time_s, &m, measured_hops_mean, sampled, &w, err);
    graph_work_clear(&w);
    if (out)
        *out = m;
    return ok;
}
