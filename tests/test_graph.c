/* test_graph.c — CUnit suite for overlay snapshots as graphs (analysis/graph.h, igraph).
 *
 * Graphs whose answers are known in closed form — a directed ring (diameter n-1, mean path
 * n/2), two disjoint rings, out- and mutual stars, a ring with dead peers — then a random
 * overlay checked against igraph's own diameter and average path length, the sampled path
 * estimate against the exact one, the files (TSV headers once, GraphML read back with
 * igraph_read_graph_graphml), byte-identical output for the same seed, bad input, and the
 * cost of a 10,000-peer snapshot.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <igraph.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../analysis/graph.h"
#include "../sim/engine.h"

/* ---- building edge lists --------------------------------------------------------------------- */

struct edges {
    struct graph_edges g;
    GArray *from, *to; /* uint32_t */
    uint8_t *alive;
};

static void edges_init(struct edges *e, uint32_t n)
{
    e->from = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    e->to = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    e->alive = g_malloc(n ? n : 1);
    memset(e->alive, 1, n);
    e->g = (struct graph_edges){.n_vertices = n, .alive = e->alive};
}

static void edges_add(struct edges *e, uint32_t u, uint32_t v)
{
    g_array_append_val(e->from, u);
    g_array_append_val(e->to, v);
    e->g.n_edges = e->from->len;
    e->g.from = (const uint32_t *)e->from->data;
    e->g.to = (const uint32_t *)e->to->data;
}

/* A directed ring over vertices first..first+k-1. */
static void edges_ring(struct edges *e, uint32_t first, uint32_t k)
{
    for (uint32_t i = 0; i < k; i++)
        edges_add(e, first + i, first + (i + 1) % k);
}

static void edges_clear(struct edges *e)
{
    g_array_free(e->from, TRUE);
    g_array_free(e->to, TRUE);
    g_free(e->alive);
}

/* A ring of n plus `extra` random out-edges per vertex (strongly connected). */
static void edges_random(struct edges *e, uint32_t n, uint32_t extra, uint64_t seed)
{
    struct sim_rng r;
    sim_rng_init(&r, seed, 7);
    edges_init(e, n);
    edges_ring(e, 0, n);
    for (uint32_t u = 0; u < n; u++)
        for (uint32_t k = 0; k < extra; k++)
            edges_add(e, u, (uint32_t)sim_rng_below(&r, n));
}

/* ---- a scratch results folder -----------------------------------------------------------------
 */

static char *tmpdir_new(void)
{
    char *dir = g_dir_make_tmp("test_graph_XXXXXX", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    return dir;
}

static void tmpdir_free(char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, name, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
    g_free(dir);
}

static char *slurp(const char *dir, const char *name)
{
    char *p = g_build_filename(dir, name, NULL), *text = NULL;
    if (!g_file_get_contents(p, &text, NULL, NULL))
        text = NULL;
    g_free(p);
    return text;
}

/* Runs one snapshot in a fresh folder and returns its metrics. */
static struct graph_metrics snap(const struct edges *e, uint32_t sources)
{
    char *dir = tmpdir_new();
    struct graph_metrics m;
    memset(&m, 0xAB, sizeof m);
    GError *err = NULL;
    CU_ASSERT_TRUE(graph_snapshot(dir, "t", 1.0, &e->g, -1, sources, 1, &m, &err));
    CU_ASSERT_PTR_NULL(err);
    if (err)
        g_error_free(err);
    tmpdir_free(dir);
    return m;
}

#define CU_ASSERT_NEAR(a, b) CU_ASSERT_DOUBLE_EQUAL((a), (b), 1e-9)

/* ---- closed-form graphs -----------------------------------------------------------------------
 */

static void test_ring(void)
{
    const uint32_t n = 10;
    struct edges e;
    edges_init(&e, n);
    edges_ring(&e, 0, n);
    /* Duplicates and self-loops (a finger table naming its successor twice, itself) vanish. */
    edges_add(&e, 3, 4);
    edges_add(&e, 5, 5);
    struct graph_metrics m = snap(&e, 64);
    CU_ASSERT_EQUAL(m.vertices, n);
    CU_ASSERT_EQUAL(m.alive, n);
    CU_ASSERT_EQUAL(m.edges, n);
    CU_ASSERT_EQUAL(m.weak_components, 1);
    CU_ASSERT_EQUAL(m.strong_components, 1);
    CU_ASSERT_EQUAL(m.largest_strong, n);
    CU_ASSERT_NEAR(m.diameter, n - 1);
    CU_ASSERT_NEAR(m.mean_path, n / 2.0);
    CU_ASSERT_EQUAL(m.path_sources, n);
    CU_ASSERT_NEAR(m.in_degree_mean, 1);
    CU_ASSERT_NEAR(m.out_degree_mean, 1);
    CU_ASSERT_EQUAL(m.in_degree_max, 1);
    CU_ASSERT_EQUAL(m.out_degree_max, 1);
    edges_clear(&e);
}

static void test_two_rings(void)
{
    struct edges e;
    edges_init(&e, 12);
    edges_ring(&e, 0, 5);
    edges_ring(&e, 5, 7);
    struct graph_metrics m = snap(&e, 64);
    CU_ASSERT_EQUAL(m.edges, 12);
    CU_ASSERT_EQUAL(m.weak_components, 2);
    CU_ASSERT_EQUAL(m.strong_components, 2);
    CU_ASSERT_EQUAL(m.largest_strong, 7);
    CU_ASSERT_NEAR(m.diameter, 6); /* of the larger ring only */
    /* Each ring of k: k sources, distances 1..k-1. */
    CU_ASSERT_NEAR(m.mean_path, (5 * 10 + 7 * 21) / (double)(5 * 4 + 7 * 6));
    edges_clear(&e);
}

static void test_star(void)
{
    const uint32_t n = 9; /* hub 0 and 8 leaves */
    struct edges e;
    edges_init(&e, n);
    for (uint32_t i = 1; i < n; i++)
        edges_add(&e, 0, i);
    struct graph_metrics m = snap(&e, 64);
    CU_ASSERT_EQUAL(m.weak_components, 1);
    CU_ASSERT_EQUAL(m.strong_components, n);
    CU_ASSERT_EQUAL(m.largest_strong, 1);
    CU_ASSERT_NEAR(m.diameter, 0);
    CU_ASSERT_NEAR(m.mean_path, 1); /* only hub → leaf pairs are reachable */
    CU_ASSERT_EQUAL(m.out_degree_max, n - 1);
    CU_ASSERT_EQUAL(m.in_degree_max, 1);
    CU_ASSERT_NEAR(m.out_degree_mean, (n - 1) / (double)n);

    for (uint32_t i = 1; i < n; i++) /* now mutual: leaves reach each other in 2 hops */
        edges_add(&e, i, 0);
    m = snap(&e, 64);
    CU_ASSERT_EQUAL(m.strong_components, 1);
    CU_ASSERT_EQUAL(m.largest_strong, n);
    CU_ASSERT_NEAR(m.diameter, 2);
    double leaves = n - 1;
    CU_ASSERT_NEAR(m.mean_path, (2 * leaves + 2 * leaves * (leaves - 1)) / (n * leaves));
    CU_ASSERT_EQUAL(m.in_degree_max, n - 1);
    edges_clear(&e);
}

static void test_dead_peers(void)
{
    /* A ring of 8 whose vertex 3 is down: its edges are stale, the rest is the line
     * 4 → 5 → 6 → 7 → 0 → 1 → 2. */
    struct edges e;
    edges_init(&e, 8);
    edges_ring(&e, 0, 8);
    e.alive[3] = 0;
    struct graph_metrics m = snap(&e, 64);
    CU_ASSERT_EQUAL(m.vertices, 8);
    CU_ASSERT_EQUAL(m.alive, 7);
    CU_ASSERT_EQUAL(m.edges, 6);
    CU_ASSERT_EQUAL(m.weak_components, 1);
    CU_ASSERT_EQUAL(m.strong_components, 7);
    CU_ASSERT_EQUAL(m.largest_strong, 1);
    CU_ASSERT_NEAR(m.diameter, 0);
    CU_ASSERT_NEAR(m.mean_path, 56.0 / 21.0); /* Σ d·(7-d) over Σ (7-d), d = 1..6 */
    CU_ASSERT_EQUAL(m.path_sources, 7);
    CU_ASSERT_NEAR(m.in_degree_mean, 6.0 / 7.0);

    /* Successor lists (two entries) route around the dead peer. */
    for (uint32_t i = 0; i < 8; i++)
        edges_add(&e, i, (i + 2) % 8);
    m = snap(&e, 64);
    CU_ASSERT_EQUAL(m.strong_components, 1);
    CU_ASSERT_EQUAL(m.largest_strong, 7);

    /* Nobody alive: nothing to measure, no crash. */
    memset(e.alive, 0, 8);
    m = snap(&e, 64);
    CU_ASSERT_EQUAL(m.alive, 0);
    CU_ASSERT_EQUAL(m.edges, 0);
    CU_ASSERT_EQUAL(m.weak_components, 0);
    CU_ASSERT_EQUAL(m.strong_components, 0);
    CU_ASSERT_EQUAL(m.largest_strong, 0);
    CU_ASSERT_EQUAL(m.path_sources, 0);
    CU_ASSERT_TRUE(isnan(m.mean_path));
    CU_ASSERT_TRUE(isnan(m.diameter));
    edges_clear(&e);
}

/* ---- against igraph's own algorithms, and sampling ------------------------------------------- */

static void test_matches_igraph(void)
{
    struct edges e;
    edges_random(&e, 300, 2, 42);
    struct graph_metrics m = snap(&e, 64); /* small: exact */
    CU_ASSERT_EQUAL(m.path_sources, 300);

    igraph_vector_int_t v;
    igraph_vector_int_init(&v, 0);
    for (guint i = 0; i < e.from->len; i++) {
        igraph_vector_int_push_back(&v, g_array_index(e.from, uint32_t, i));
        igraph_vector_int_push_back(&v, g_array_index(e.to, uint32_t, i));
    }
    igraph_t g;
    CU_ASSERT_EQUAL_FATAL(igraph_create(&g, &v, 300, IGRAPH_DIRECTED), IGRAPH_SUCCESS);
    igraph_real_t diameter, mean, unconn;
    igraph_diameter(&g, &diameter, NULL, NULL, NULL, NULL, true, true);
    igraph_average_path_length(&g, &mean, &unconn, true, true);
    CU_ASSERT_NEAR(m.diameter, diameter);
    CU_ASSERT_NEAR(m.mean_path, mean);
    CU_ASSERT_EQUAL(m.strong_components, 1);
    igraph_destroy(&g);
    igraph_vector_int_destroy(&v);
    edges_clear(&e);
}

static void test_sampled(void)
{
    struct edges e;
    edges_random(&e, 3000, 10, 7); /* 3000 · (3000 + ~33000) BFS steps: above the budget */
    struct graph_metrics exact = snap(&e, 0), sampled = snap(&e, 64);
    CU_ASSERT_EQUAL(exact.path_sources, 3000);
    CU_ASSERT_EQUAL(sampled.path_sources, 64);
    CU_ASSERT_DOUBLE_EQUAL(sampled.mean_path, exact.mean_path, 0.02 * exact.mean_path);
    CU_ASSERT_TRUE(sampled.diameter <= exact.diameter);
    CU_ASSERT_TRUE(sampled.diameter >= exact.diameter - 1);
    CU_ASSERT_EQUAL(sampled.edges, exact.edges);
    CU_ASSERT_EQUAL(sampled.in_degree_max, exact.in_degree_max);
    edges_clear(&e);

    /* 1000 newcomers that point into the core but are known by nobody: the largest strong
     * component is the core, and the diameter is sampled from the core alone. */
    struct edges t;
    edges_random(&t, 3000, 10, 7);
    t.g.n_vertices = 4000;
    t.alive = g_realloc(t.alive, 4000);
    memset(t.alive + 3000, 1, 1000);
    t.g.alive = t.alive;
    for (uint32_t i = 3000; i < 4000; i++)
        edges_add(&t, i, i % 3000);
    struct graph_metrics tail = snap(&t, 64);
    CU_ASSERT_EQUAL(tail.alive, 4000);
    CU_ASSERT_EQUAL(tail.largest_strong, 3000);
    CU_ASSERT_EQUAL(tail.strong_components, 1001);
    CU_ASSERT_EQUAL(tail.weak_components, 1);
    CU_ASSERT_EQUAL(tail.path_sources, 64);
    CU_ASSERT_TRUE(tail.diameter <= exact.diameter && tail.diameter >= exact.diameter - 1);
    edges_clear(&t);
}

/* ---- files ------------------------------------------------------------------------------------
 */

static guint count_lines(const char *text)
{
    guint n = 0;
    for (const char *c = text; *c; c++)
        n += *c == '\n';
    return n;
}

static void test_files(void)
{
    char *dir = tmpdir_new();
    struct edges e;
    edges_init(&e, 6);
    edges_ring(&e, 0, 6);
    edges_add(&e, 0, 3);
    e.alive[5] = 0;
    GError *err = NULL;
    struct graph_metrics m;
    CU_ASSERT_TRUE(graph_snapshot(dir, "t60", 60, &e.g, 2.5, 16, 1, &m, &err));
    CU_ASSERT_TRUE(graph_snapshot(dir, "t120", 120, &e.g, -1, 16, 1, NULL, &err));
    CU_ASSERT_PTR_NULL(err);

    char *tsv = slurp(dir, "graph.tsv");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tsv);
    CU_ASSERT_TRUE(g_str_has_prefix(tsv, "snapshot\ttime_s\tmetric\tvalue\n"));
    CU_ASSERT_PTR_NULL(strstr(tsv + 1, "snapshot\t")); /* header once */
    CU_ASSERT_EQUAL(count_lines(tsv), 1 + 2 * 15);
    CU_ASSERT_PTR_NOT_NULL(strstr(tsv, "t60\t60.000\tvertices\t6\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(tsv, "t60\t60.000\talive\t5\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(tsv, "t60\t60.000\tedges\t5\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(tsv, "t60\t60.000\tpath_sampled\t0\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(tsv, "t60\t60.000\tmeasured_hops_mean\t2.5000\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(tsv, "t120\t120.000\tmeasured_hops_mean\tNaN\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(tsv, "t120\t120.000\tdiameter\t0\n"));
    g_free(tsv);

    char *deg = slurp(dir, "degree.tsv");
    CU_ASSERT_PTR_NOT_NULL_FATAL(deg);
    /* Live vertices 0..4, edges 0→1 1→2 2→3 3→4 0→3: in-degrees 0,1,1,2,1; out 2,1,1,1,0. */
    CU_ASSERT_STRING_EQUAL(deg, "snapshot\tdirection\tdegree\tcount\n"
                                "t60\tin\t0\t1\nt60\tin\t1\t3\nt60\tin\t2\t1\n"
                                "t60\tout\t0\t1\nt60\tout\t1\t3\nt60\tout\t2\t1\n"
                                "t120\tin\t0\t1\nt120\tin\t1\t3\nt120\tin\t2\t1\n"
                                "t120\tout\t0\t1\nt120\tout\t1\t3\nt120\tout\t2\t1\n");
    g_free(deg);

    /* The GraphML reads back: all peer slots, the cleaned edges, the alive flags. */
    char *path = g_build_filename(dir, "graph-t60.graphml", NULL);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    igraph_attribute_table_t *old = igraph_set_attribute_table(&igraph_cattribute_table);
    igraph_t g;
    CU_ASSERT_EQUAL_FATAL(igraph_read_graph_graphml(&g, f, 0), IGRAPH_SUCCESS);
    fclose(f);
    CU_ASSERT_TRUE(igraph_is_directed(&g));
    CU_ASSERT_EQUAL(igraph_vcount(&g), 6);
    CU_ASSERT_EQUAL(igraph_ecount(&g), 5);
    for (igraph_integer_t i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(VAB(&g, "alive", i), i != 5);
        CU_ASSERT_NEAR(VAN(&g, "peer", i), i);
    }
    CU_ASSERT_NEAR(GAN(&g, "time_s"), 60);
    CU_ASSERT_STRING_EQUAL(GAS(&g, "snapshot"), "t60");
    igraph_destroy(&g);
    igraph_set_attribute_table(old);
    g_free(path);

    edges_clear(&e);
    tmpdir_free(dir);
}

static char *run_files(const struct edges *e, uint64_t seed)
{
    char *dir = tmpdir_new();
    GError *err = NULL;
    CU_ASSERT_TRUE(graph_snapshot(dir, "a", 10, &e->g, 4.25, 16, seed, NULL, &err));
    CU_ASSERT_TRUE(graph_snapshot(dir, "b", 20, &e->g, 4.25, 16, seed, NULL, &err));
    CU_ASSERT_PTR_NULL(err);
    char *tsv = slurp(dir, "graph.tsv"), *deg = slurp(dir, "degree.tsv");
    char *gml = slurp(dir, "graph-b.graphml");
    char *all = g_strconcat(tsv ? tsv : "", deg ? deg : "", gml ? gml : "", NULL);
    g_free(tsv);
    g_free(deg);
    g_free(gml);
    tmpdir_free(dir);
    return all;
}

static void test_deterministic(void)
{
    struct edges e;
    edges_random(&e, 2500, 12, 3); /* sampled */
    for (uint32_t i = 0; i < 2500; i += 7)
        e.alive[i] = 0;
    char *a = run_files(&e, 99), *b = run_files(&e, 99), *c = run_files(&e, 100);
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT_PTR_NOT_NULL(strstr(a, "a\t10.000\tpath_sampled\t1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(a, "a\t10.000\tpath_sources\t16\n"));
    CU_ASSERT_STRING_NOT_EQUAL(a, c); /* another seed, other sources */
    g_free(a);
    g_free(b);
    g_free(c);
    edges_clear(&e);
}

static void test_bad_input(void)
{
    char *dir = tmpdir_new();
    struct edges e;
    edges_init(&e, 3);
    edges_add(&e, 0, 3);
    GError *err = NULL;
    CU_ASSERT_FALSE(graph_snapshot(dir, "x", 0, &e.g, -1, 16, 1, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "outside"));
    g_clear_error(&err);
    CU_ASSERT_FALSE(graph_snapshot(dir, "a/b", 0, &e.g, -1, 16, 1, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL(err);
    g_clear_error(&err);

    struct edges ok;
    edges_init(&ok, 3);
    edges_ring(&ok, 0, 3);
    char *missing = g_build_filename(dir, "no", "such", NULL);
    CU_ASSERT_FALSE(graph_snapshot(missing, "x", 0, &ok.g, -1, 16, 1, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, missing));
    g_clear_error(&err);
    g_free(missing);
    edges_clear(&ok);
    edges_clear(&e);
    tmpdir_free(dir);
}

/* ---- cost -------------------------------------------------------------------------------------
 */

static void test_cost(void)
{
    struct edges e;
    edges_random(&e, 10000, 24, 11); /* ~25 edges per peer, like Chord's fingers + successors */
    char *dir = tmpdir_new();
    GError *err = NULL;
    struct graph_metrics m;
    gint64 t0 = g_get_monotonic_time();
    CU_ASSERT_TRUE(graph_snapshot(dir, "big", 0, &e.g, -1, 64, 1, &m, &err));
    double s = (g_get_monotonic_time() - t0) / 1e6;
    CU_ASSERT_PTR_NULL(err);
    CU_ASSERT_EQUAL(m.path_sources, 64);
    CU_ASSERT_EQUAL(m.strong_components, 1);
    /* Well under a second when optimised; generous for sanitizer builds. */
    CU_ASSERT_TRUE(s < 5.0);
    printf("(10k peers, %u edges: %.3f s) ", m.edges, s);
    tmpdir_free(dir);
    edges_clear(&e);
}

CU_TestInfo test_graph_tests[] = {
    {"directed ring", test_ring},
    {"two rings", test_two_rings},
    {"stars", test_star},
    {"dead peers", test_dead_peers},
    {"matches igraph", test_matches_igraph},
    {"sampled paths", test_sampled},
    {"files and GraphML", test_files},
    {"deterministic", test_deterministic},
    {"bad input", test_bad_input},
    {"cost of 10k peers", test_cost},
    CU_TEST_INFO_NULL,
};
