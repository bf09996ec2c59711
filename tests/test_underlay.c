/* test_underlay.c — CUnit suite for the simulated network (sim/underlay.h).
 *
 * Each latency model alone (constant, uniform, Vivaldi-style coordinates with heights, a
 * latency matrix read from a file, including the shipped synthetic King-like one and
 * malformed files whose errors must name FILE:LINE:COLUMN), then each wrapper: jitter, random
 * loss, access links (serialisation delay bytes * 8 / bandwidth, FIFO queueing, drop-tail
 * overflow on both directions), partitions and healing, verdict counters, memory, and
 * determinism.  The scenario struct is filled by hand: the loader is tested elsewhere.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../sim/underlay.h"

#define SEED 7

/* The loader's defaults for the keys the underlay reads. */
static struct scenario scenario_defaults(void)
{
    struct scenario sc = {0};
    sc.latency.model = SCENARIO_LATENCY_CONSTANT;
    sc.latency.ms = 50;
    sc.latency.min_ms = 10;
    sc.latency.max_ms = 100;
    sc.latency.dims = 2;
    sc.latency.side_ms = 150;
    sc.latency.height_ms = 10;
    sc.latency.matrix = "";
    sc.network.queue_bytes = 65536;
    return sc;
}

static struct underlay *make(const struct scenario *sc, uint32_t peers)
{
    GError *err = NULL;
    struct underlay *u = underlay_new(sc, peers, SEED, &err);
    if (err)
        fprintf(stderr, "\n    underlay_new: %s", err->message);
    CU_ASSERT_PTR_NULL(err);
    g_clear_error(&err);
    return u;
}

/* Sends and expects delivery; returns the one-way delay (arrival - now). */
static env_time delay_of(struct underlay *u, uint32_t src, uint32_t dst, size_t bytes, env_time now,
                         struct sim_rng *r)
{
    env_time at = 0;
    CU_ASSERT_EQUAL(underlay_send(u, src, dst, bytes, now, r, &at), UNDERLAY_DELIVER);
    if (underlay_has_downlinks(u))
        CU_ASSERT_EQUAL(underlay_arrive(u, dst, bytes, at, &at), UNDERLAY_DELIVER);
    CU_ASSERT(at >= now);
    return at - now;
}

/* ---- latency models ------------------------------------------------------------------------ */

static void test_constant(void)
{
    struct scenario sc = scenario_defaults();
    sc.latency.ms = 42.5;
    struct underlay *u = make(&sc, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    struct sim_rng r;
    sim_rng_init(&r, SEED, 1);
    struct sim_rng before = r;
    for (uint32_t i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(delay_of(u, i % 10, (i * 7) % 10, 100, i * ENV_MS, &r), 42500);
    CU_ASSERT_EQUAL(memcmp(&r, &before, sizeof r), 0); /* no draws without randomness */
    CU_ASSERT_EQUAL(underlay_latency(u, 3, 4), 42500);
    CU_ASSERT_EQUAL(underlay_count(u, UNDERLAY_DELIVER), 100);
    CU_ASSERT_EQUAL(underlay_count(u, UNDERLAY_LOST), 0);
    CU_ASSERT_EQUAL(underlay_groups(u), 1);
    underlay_free(u);
}

static void test_uniform(void)
{
    struct scenario sc = scenario_defaults();
    sc.latency.model = SCENARIO_LATENCY_UNIFORM;
    sc.latency.min_ms = 10;
    sc.latency.max_ms = 20;
    struct underlay *u = make(&sc, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    struct sim_rng r;
    sim_rng_init(&r, SEED, 1);
    env_time lo = UINT64_MAX, hi = 0;
    double sum = 0;
    const int n = 50000;
    for (int i = 0; i < n; i++) {
        env_time d = delay_of(u, 0, 1, 100, 0, &r);
        lo = MIN(lo, d);
        hi = MAX(hi, d);
        sum += (double)d;
    }
    CU_ASSERT(lo >= 10000 && lo < 10050);
    CU_ASSERT(hi <= 20000 && hi > 19950);
    CU_ASSERT(fabs(sum / n - 15000) < 60); /* se about 13 us */
    CU_ASSERT_EQUAL(underlay_latency(u, 0, 1), 15000);
    underlay_free(u);

    /* min == max: a constant, without draws */
    sc.latency.min_ms = sc.latency.max_ms = 7;
    u = make(&sc, 2);
    CU_ASSERT_EQUAL(delay_of(u, 0, 1, 1, 0, &r), 7000);
    underlay_free(u);
}

static double mean_pair_latency_ms(const struct underlay *u, uint32_t peers)
{
    double sum = 0;
    for (uint32_t i = 0; i + 1 < peers; i++)
        sum += (double)underlay_latency(u, i, i + 1);
    return sum / (peers - 1) / 1000.0;
}

static void test_coordinates(void)
{
    const uint32_t n = 20000;
    struct scenario sc = scenario_defaults();
    sc.latency.model = SCENARIO_LATENCY_COORDINATES;
    struct underlay *u = make(&sc, n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    /* symmetric, 0 to itself, and the triangle inequality holds (heights are counted once on
     * each side: h_b appears twice on the right), up to 1 us of rounding */
    struct sim_rng r;
    sim_rng_init(&r, SEED, 2);
    for (int t = 0; t < 2000; t++) {
        uint32_t a = sim_rng_below(&r, n), b = sim_rng_below(&r, n), c = sim_rng_below(&r, n);
        CU_ASSERT_EQUAL(underlay_latency(u, a, b), underlay_latency(u, b, a));
        CU_ASSERT(underlay_latency(u, a, c) <=
                  underlay_latency(u, a, b) + underlay_latency(u, b, c) + 1);
    }
    CU_ASSERT_EQUAL(underlay_latency(u, 5, 5), 0);
    /* what is sent is the base latency */
    CU_ASSERT_EQUAL(delay_of(u, 10, 20, 100, 0, &r), underlay_latency(u, 10, 20));

    /* The same seed with side 0 keeps the same heights: the difference is the Euclidean
     * distance, in [0, side * sqrt(2)]; side 0 alone gives h_a + h_b, mean 2 * height_ms. */
    sc.latency.side_ms = 0;
    struct underlay *flat = make(&sc, n);
    for (uint32_t i = 0; i + 1 < n; i += 97) {
        env_time full = underlay_latency(u, i, i + 1), heights = underlay_latency(flat, i, i + 1);
        CU_ASSERT(full + 1 >= heights);
        CU_ASSERT(full <= heights + (env_time)(150 * M_SQRT2 * 1000) + 1);
    }
    double h2 = mean_pair_latency_ms(flat, n);
    CU_ASSERT(fabs(h2 - 20) < 0.6); /* se about 0.14 ms */

    /* heights 0: the mean distance of two points in a unit square is 0.5214 */
    sc.latency.side_ms = 150;
    sc.latency.height_ms = 0;
    struct underlay *core = make(&sc, n);
    CU_ASSERT(fabs(mean_pair_latency_ms(core, n) - 0.5214 * 150) < 1.5);
    underlay_free(core);
    /* three dimensions: 0.6617 in a unit cube */
    sc.latency.dims = 3;
    sc.latency.side_ms = 100;
    core = make(&sc, n);
    CU_ASSERT(fabs(mean_pair_latency_ms(core, n) - 0.6617 * 100) < 1.5);
    CU_ASSERT(underlay_memory(core) >= (size_t)n * 4 * sizeof(float));

    /* a peer's position does not depend on the number of peers */
    sc.latency.dims = 2;
    sc.latency.side_ms = 150;
    sc.latency.height_ms = 10;
    struct underlay *small = make(&sc, 100);
    for (uint32_t i = 0; i < 99; i++)
        CU_ASSERT_EQUAL(underlay_latency(small, i, 99 - i), underlay_latency(u, i, 99 - i));
    underlay_free(small);
    underlay_free(core);
    underlay_free(flat);
    underlay_free(u);
}

/* ---- the matrix model ---------------------------------------------------------------------- */

static char *write_tmp(const char *text)
{
    char *path = NULL;
    int fd = g_file_open_tmp("p2psip-matrix-XXXXXX.txt", &path, NULL);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_FATAL(g_file_set_contents(path, text, -1, NULL));
    return path;
}

static struct underlay *matrix_from(const char *path, uint32_t peers, GError **err)
{
    struct scenario sc = scenario_defaults();
    sc.latency.model = SCENARIO_LATENCY_MATRIX;
    sc.latency.matrix = (char *)path;
    return underlay_new(&sc, peers, SEED, err);
}

static void test_matrix(void)
{
    char *path = write_tmp("# a 3-host matrix\n"
                           "3   # hosts\n"
                           "\n"
                           "0 10.5 20\r\n"
                           "\t11 0 30.25  # row 2\n"
                           "# comment between rows\n"
                           "21 31 0");
    GError *err = NULL;
    struct underlay *u = matrix_from(path, 7, &err);
    CU_ASSERT_PTR_NULL(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    CU_ASSERT_EQUAL(underlay_latency(u, 0, 1), 10500);
    CU_ASSERT_EQUAL(underlay_latency(u, 1, 0), 11000); /* row = sender */
    CU_ASSERT_EQUAL(underlay_latency(u, 1, 2), 30250);
    CU_ASSERT_EQUAL(underlay_latency(u, 2, 1), 31000);
    CU_ASSERT_EQUAL(underlay_latency(u, 4, 5), 30250); /* peer i uses host i mod 3 */
    CU_ASSERT_EQUAL(underlay_latency(u, 3, 0), 0);
    struct sim_rng r;
    sim_rng_init(&r, SEED, 1);
    CU_ASSERT_EQUAL(delay_of(u, 5, 3, 100, 1000, &r), 21000);
    CU_ASSERT(underlay_memory(u) >= 9 * sizeof(uint32_t));
    underlay_free(u);
    g_unlink(path);
    g_free(path);
}

/* The shipped synthetic matrix, found through the scenario file's folder as a relative name. */
static void test_matrix_king_like(void)
{
    struct scenario sc = scenario_defaults();
    sc.file = "scenarios/not-a-real-scenario.yaml";
    sc.latency.model = SCENARIO_LATENCY_MATRIX;
    sc.latency.matrix = "data/king-like-256.txt";
    GError *err = NULL;
    struct underlay *u = underlay_new(&sc, 256, SEED, &err);
    if (err)
        fprintf(stderr, "\n    %s", err->message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    GArray *all = g_array_new(FALSE, FALSE, sizeof(env_time));
    for (uint32_t i = 0; i < 256; i++) {
        CU_ASSERT_EQUAL(underlay_latency(u, i, i), 0);
        for (uint32_t j = i + 1; j < 256; j++) {
            env_time l = underlay_latency(u, i, j);
            CU_ASSERT_EQUAL(l, underlay_latency(u, j, i));
            g_array_append_val(all, l);
        }
    }
    env_time *x = (env_time *)all->data;
    env_time lo = UINT64_MAX, hi = 0;
    size_t below_med = 0;
    for (guint k = 0; k < all->len; k++) {
        lo = MIN(lo, x[k]);
        hi = MAX(hi, x[k]);
        below_med += x[k] < 40 * ENV_MS;
    }
    CU_ASSERT(lo > 0);
    CU_ASSERT(hi >= 200 * ENV_MS && hi <= 400 * ENV_MS);
    /* median within 40..80 ms: fewer than half below 40 ms, more than half below 80 ms */
    CU_ASSERT(below_med < all->len / 2);
    size_t below_80 = 0;
    for (guint k = 0; k < all->len; k++)
        below_80 += x[k] < 80 * ENV_MS;
    CU_ASSERT(below_80 > all->len / 2);
    g_array_free(all, TRUE);
    underlay_free(u);
}

/* A malformed matrix: the error names FILE:LINE:COLUMN and says what is wrong. */
static void expect_matrix_error(const char *text, const char *position, const char *what)
{
    char *path = write_tmp(text);
    GError *err = NULL;
    struct underlay *u = matrix_from(path, 4, &err);
    CU_ASSERT_PTR_NULL(u);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT(g_error_matches(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE));
    char *want = g_strdup_printf("%s:%s: latency.matrix: ", path, position);
    int ok = g_str_has_prefix(err->message, want) && strstr(err->message, what);
    if (!ok)
        fprintf(stderr, "\n    got '%s', want '%s...%s'", err->message, want, what);
    CU_ASSERT(ok);
    g_free(want);
    g_error_free(err);
    underlay_free(u);
    g_unlink(path);
    g_free(path);
}

static void test_matrix_errors(void)
{
    expect_matrix_error("2\n0 1\nx 0\n", "3:1", "expected a latency in milliseconds, got 'x'");
    expect_matrix_error("2\n0 1\n1 1.5ms\n", "3:3", "got '1.5ms'");
    expect_matrix_error("2\n0 1\n1 nan\n", "3:3", "got 'nan'");
    expect_matrix_error("2\n0 -1\n1 0\n", "2:3", "must be >= 0 ms, got -1");
    expect_matrix_error("2\n0 1\n1\n", "3:2", "row 2: expected 2 values, found 1");
    expect_matrix_error("2\n0 1 # short rows\n  1 # here\n", "3:5",
                        "row 2: expected 2 values, found 1");
    expect_matrix_error("2\n0 1 2\n1 0\n", "2:5", "row 1 has more than 2 values");
    expect_matrix_error("3\n0 1 2\n1 0 2\n", "4:1", "the file ends after 2 of 3 rows");
    expect_matrix_error("3\n0 1 2\n1 0 2", "3:6", "the file ends after 2 of 3 rows");
    expect_matrix_error("1\n0\n\n5\n", "4:1", "extra data after the 1 rows");
    expect_matrix_error("# hosts\nabc\n", "2:1", "number of hosts (a positive integer), got 'abc'");
    expect_matrix_error("0\n", "1:1", "got '0'");
    expect_matrix_error("  2.5\n", "1:3", "got '2.5'");
    expect_matrix_error("2 2\n", "1:3", "alone on its line");
    expect_matrix_error("", "1:1", "no host count");
    expect_matrix_error("# only\n# comments\n", "3:1", "no host count");

    /* a missing file: an I/O error naming it */
    GError *err = NULL;
    CU_ASSERT_PTR_NULL(matrix_from("/nonexistent/m.txt", 4, &err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT(g_error_matches(err, SCENARIO_ERROR, SCENARIO_ERROR_IO));
    CU_ASSERT(g_str_has_prefix(err->message, "/nonexistent/m.txt: latency.matrix: "));
    g_error_free(err);
}

/* underlay_new checks a hand-filled scenario as the loader would. */
static void test_bad_parameters(void)
{
    struct scenario sc = scenario_defaults();
    GError *err = NULL;
    sc.network.loss = 1.5;
    CU_ASSERT_PTR_NULL(underlay_new(&sc, 4, SEED, &err));
    CU_ASSERT(err && strstr(err->message, "network.loss"));
    g_clear_error(&err);

    sc = scenario_defaults();
    sc.latency.model = SCENARIO_LATENCY_UNIFORM;
    sc.latency.min_ms = 30;
    sc.latency.max_ms = 20;
    CU_ASSERT_PTR_NULL(underlay_new(&sc, 4, SEED, &err));
    CU_ASSERT(err && strstr(err->message, "latency.min_ms"));
    g_clear_error(&err);

    sc = scenario_defaults();
    sc.latency.model = SCENARIO_LATENCY_COORDINATES;
    sc.latency.dims = 0;
    CU_ASSERT_PTR_NULL(underlay_new(&sc, 4, SEED, &err));
    CU_ASSERT(err && strstr(err->message, "latency.dims"));
    g_clear_error(&err);

    sc = scenario_defaults();
    sc.latency.model = SCENARIO_LATENCY_MATRIX;
    CU_ASSERT_PTR_NULL(underlay_new(&sc, 4, SEED, &err));
    CU_ASSERT(err && strstr(err->message, "latency.matrix"));
    g_clear_error(&err);

    sc = scenario_defaults();
    sc.latency.jitter_ms = -1;
    CU_ASSERT_PTR_NULL(underlay_new(&sc, 4, SEED, &err));
    CU_ASSERT(err && strstr(err->message, "latency.jitter_ms"));
    g_clear_error(&err);
}

/* ---- jitter and loss ----------------------------------------------------------------------- */

static void test_jitter(void)
{
    struct scenario sc = scenario_defaults();
    sc.latency.ms = 10;
    sc.latency.jitter_ms = 5;
    struct underlay *u = make(&sc, 2);
    struct sim_rng r;
    sim_rng_init(&r, SEED, 1);
    const int n = 100000;
    double sum = 0;
    size_t over_15ms = 0;
    env_time lo = UINT64_MAX;
    for (int i = 0; i < n; i++) {
        env_time d = delay_of(u, 0, 1, 100, 0, &r);
        lo = MIN(lo, d);
        sum += (double)(d - 10000);
        over_15ms += d > 15000;
    }
    CU_ASSERT(lo >= 10000 && lo < 10010);
    CU_ASSERT(fabs(sum / n - 5000) < 75); /* se about 16 us */
    /* exponential: P(jitter > mean) = 1/e */
    CU_ASSERT(fabs((double)over_15ms / n - exp(-1)) < 0.006);
    underlay_free(u);
}

static void test_loss(void)
{
    struct scenario sc = scenario_defaults();
    sc.network.loss = 0.1;
    struct underlay *u = make(&sc, 10);
    struct sim_rng r;
    sim_rng_init(&r, SEED, 1);
    const int n = 100000;
    int lost = 0;
    for (int i = 0; i < n; i++) {
        env_time at = 0;
        enum underlay_verdict v = underlay_send(u, i % 10, (i + 3) % 10, 200, 0, &r, &at);
        CU_ASSERT(v == UNDERLAY_DELIVER || v == UNDERLAY_LOST);
        lost += v == UNDERLAY_LOST;
    }
    CU_ASSERT(fabs((double)lost / n - 0.1) < 0.005); /* se about 0.001 */
    CU_ASSERT_EQUAL(underlay_count(u, UNDERLAY_LOST), (uint64_t)lost);
    CU_ASSERT_EQUAL(underlay_count(u, UNDERLAY_DELIVER), (uint64_t)(n - lost));
    underlay_free(u);

    sc.network.loss = 1;
    u = make(&sc, 2);
    env_time at;
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_EQUAL(underlay_send(u, 0, 1, 10, 0, &r, &at), UNDERLAY_LOST);
    underlay_free(u);
}

/* ---- access links -------------------------------------------------------------------------- */

static void test_serialisation(void)
{
    struct scenario sc = scenario_defaults();
    sc.latency.ms = 10;
    sc.network.upload_bps = 1000000; /* 1 Mbit/s: 1000 bytes take 8 ms */
    struct underlay *u = make(&sc, 4);
    struct sim_rng r;
    sim_rng_init(&r, SEED, 1);
    CU_ASSERT_EQUAL(delay_of(u, 0, 1, 1000, 0, &r), 8000 + 10000);
    /* back to back on the same uplink: the second waits for the first */
    CU_ASSERT_EQUAL(delay_of(u, 0, 2, 1000, 0, &r), 16000 + 10000);
    CU_ASSERT_EQUAL(delay_of(u, 0, 3, 500, 1000, &r), 15000 + 4000 + 10000);
    /* another sender's uplink is independent */
    CU_ASSERT_EQUAL(delay_of(u, 1, 0, 1000, 0, &r), 18000);
    /* once idle, no waiting; bytes * 8 / bw is rounded up to whole microseconds */
    CU_ASSERT_EQUAL(delay_of(u, 0, 1, 1001, ENV_S, &r), 8008 + 10000);
    CU_ASSERT_EQUAL(delay_of(u, 0, 1, 1, 2 * ENV_S, &r), 8 + 10000);
    underlay_free(u);

    /* both directions: store and forward through the uplink, the core and the downlink */
    sc.network.download_bps = 2000000;
    u = make(&sc, 4);
    CU_ASSERT_EQUAL(delay_of(u, 0, 1, 1000, 0, &r), 8000 + 10000 + 4000);
    /* two senders reach one downlink at the same time: the second queues behind */
    CU_ASSERT_EQUAL(delay_of(u, 2, 3, 1000, 0, &r), 22000);
    CU_ASSERT_EQUAL(delay_of(u, 1, 3, 1000, 0, &r), 26000);
    underlay_free(u);

    /* unlimited links cost nothing and allocate nothing */
    sc.network.upload_bps = sc.network.download_bps = 0;
    u = make(&sc, 1000000);
    CU_ASSERT(underlay_memory(u) < 1024);
    CU_ASSERT_EQUAL(delay_of(u, 999999, 0, 60000, 0, &r), 10000);
    underlay_free(u);
    sc.network.upload_bps = 1000000;
    u = make(&sc, 1000000);
    CU_ASSERT(underlay_memory(u) >= 1000000 * sizeof(env_time));
    CU_ASSERT(underlay_memory(u) < 1000000 * sizeof(env_time) + 1024);
    underlay_free(u);
}

static void test_queue_overflow(void)
{
    struct scenario sc = scenario_defaults();
    sc.latency.ms = 10;
    sc.network.upload_bps = 1000000;
    sc.network.queue_bytes = 3000;
    struct underlay *u = make(&sc, 4);
    struct sim_rng r;
    sim_rng_init(&r, SEED, 1);
    env_time at = 0;
    int delivered = 0, full = 0;
    for (int i = 0; i < 10; i++) {
        enum underlay_verdict v = underlay_send(u, 0, 1, 1000, 0, &r, &at);
        if (v == UNDERLAY_DELIVER) {
            delivered++;
            CU_ASSERT_EQUAL(at, (env_time)delivered * 8000 + 10000);
        }
        full += v == UNDERLAY_QUEUE_FULL;
    }
    CU_ASSERT_EQUAL(delivered, 3); /* 3000 bytes of queue, the one being sent included */
    CU_ASSERT_EQUAL(full, 7);
    CU_ASSERT_EQUAL(underlay_count(u, UNDERLAY_QUEUE_FULL), 7);
    /* when the first has left, 2000 bytes remain: room for one more */
    CU_ASSERT_EQUAL(underlay_send(u, 0, 1, 1000, 8000, &r, &at), UNDERLAY_DELIVER);
    CU_ASSERT_EQUAL(at, 32000 + 10000);
    CU_ASSERT_EQUAL(underlay_send(u, 0, 1, 1000, 8000, &r, &at), UNDERLAY_QUEUE_FULL);
    /* an idle link takes a datagram larger than the whole queue */
    CU_ASSERT_EQUAL(underlay_send(u, 0, 1, 5000, ENV_S, &r, &at), UNDERLAY_DELIVER);
    CU_ASSERT_EQUAL(at, ENV_S + 40000 + 10000);
    underlay_free(u);

    /* the downlink overflows: many senders, one receiver */
    sc.network.upload_bps = 0;
    sc.network.download_bps = 1000000;
    u = make(&sc, 20);
    delivered = full = 0;
    for (uint32_t s = 1; s < 20; s++) {
        enum underlay_verdict v = underlay_send(u, s, 0, 1000, 0, &r, &at);
        if (v == UNDERLAY_DELIVER)
            v = underlay_arrive(u, 0, 1000, at, &at);
        delivered += v == UNDERLAY_DELIVER;
        full += v == UNDERLAY_QUEUE_FULL;
    }
    CU_ASSERT_EQUAL(delivered, 3);
    CU_ASSERT_EQUAL(full, 16);
    underlay_free(u);
}

/* ---- partitions ---------------------------------------------------------------------------- */

static void test_partition(void)
{
    struct scenario sc = scenario_defaults();
    struct underlay *u = make(&sc, 9);
    struct sim_rng r;
    sim_rng_init(&r, SEED, 1);
    env_time at;
    underlay_partition(u, 2);
    CU_ASSERT_EQUAL(underlay_groups(u), 2);
    CU_ASSERT_EQUAL(underlay_send(u, 0, 1, 10, 0, &r, &at), UNDERLAY_PARTITIONED);
    CU_ASSERT_EQUAL(underlay_send(u, 3, 8, 10, 0, &r, &at), UNDERLAY_PARTITIONED);
    CU_ASSERT_EQUAL(underlay_send(u, 0, 2, 10, 0, &r, &at), UNDERLAY_DELIVER);
    CU_ASSERT_EQUAL(underlay_send(u, 1, 7, 10, 0, &r, &at), UNDERLAY_DELIVER);
    CU_ASSERT_EQUAL(underlay_count(u, UNDERLAY_PARTITIONED), 2);
    underlay_partition(u, 3);
    CU_ASSERT_EQUAL(underlay_send(u, 0, 2, 10, 0, &r, &at), UNDERLAY_PARTITIONED);
    CU_ASSERT_EQUAL(underlay_send(u, 2, 8, 10, 0, &r, &at), UNDERLAY_DELIVER);
    /* heal: 0 or 1 */
    underlay_partition(u, 0);
    CU_ASSERT_EQUAL(underlay_groups(u), 1);
    CU_ASSERT_EQUAL(underlay_send(u, 0, 1, 10, 0, &r, &at), UNDERLAY_DELIVER);
    underlay_partition(u, 4);
    underlay_partition(u, 1);
    CU_ASSERT_EQUAL(underlay_groups(u), 1);
    CU_ASSERT_EQUAL(underlay_send(u, 0, 1, 10, 0, &r, &at), UNDERLAY_DELIVER);
    CU_ASSERT_EQUAL(underlay_count(u, UNDERLAY_PARTITIONED), 3);
    CU_ASSERT_EQUAL(underlay_count(u, UNDERLAY_DELIVER), 5);
    underlay_free(u);
}

/* ---- determinism --------------------------------------------------------------------------- */

struct trace {
    enum underlay_verdict v[2000];
    env_time at[2000];
};

static void run_trace(uint64_t seed, struct trace *t)
{
    struct scenario sc = scenario_defaults();
    sc.latency.model = SCENARIO_LATENCY_COORDINATES;
    sc.latency.jitter_ms = 3;
    sc.network.loss = 0.05;
    sc.network.upload_bps = 500000;
    sc.network.download_bps = 2000000;
    sc.network.queue_bytes = 8000;
    struct underlay *u = underlay_new(&sc, 50, seed, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    struct sim_rng r;
    sim_rng_init(&r, seed, 99);
    for (int i = 0; i < 2000; i++) {
        t->at[i] = 0;
        t->v[i] = underlay_send(u, i % 5, (i * 13 + 1) % 50, 100 + i % 900, (env_time)i * 500, &r,
                                &t->at[i]);
        if (t->v[i] == UNDERLAY_DELIVER)
            t->v[i] = underlay_arrive(u, (i * 13 + 1) % 50, 100 + i % 900, t->at[i], &t->at[i]);
    }
    underlay_free(u);
}

/* The downlink serves datagrams when they reach it, in arrival order: one that was sent later
 * on a shorter path is not held up by one still in flight on a longer path (the world calls
 * underlay_arrive from the arrival event), and the backlog counts only what has arrived. */
static void test_downlink_arrival_order(void)
{
    struct scenario sc = scenario_defaults();
    sc.network.download_bps = 100000000; /* 100 Mbit/s: 1000 bytes take 80 us */
    sc.network.queue_bytes = 1500;
    struct underlay *u = make(&sc, 4);
    struct sim_rng r;
    sim_rng_init(&r, SEED, 3);
    env_time at, done;
    /* with limited downlinks underlay_send stops at the receiver's link */
    CU_ASSERT_TRUE(underlay_has_downlinks(u));
    CU_ASSERT_EQUAL(underlay_send(u, 1, 0, 1000, 0, &r, &at), UNDERLAY_DELIVER);
    CU_ASSERT_EQUAL(at, 50 * ENV_MS);
    /* a datagram reaching the link at 11 ms, then one at 200 ms: both pass at once */
    CU_ASSERT_EQUAL(underlay_arrive(u, 0, 1000, 11 * ENV_MS, &done), UNDERLAY_DELIVER);
    CU_ASSERT_EQUAL(done, 11 * ENV_MS + 80);
    CU_ASSERT_EQUAL(underlay_arrive(u, 0, 1000, 200 * ENV_MS, &done), UNDERLAY_DELIVER);
    CU_ASSERT_EQUAL(done, 200 * ENV_MS + 80);
    /* two at the same instant: the second waits; a third overflows the 1500-byte queue */
    CU_ASSERT_EQUAL(underlay_arrive(u, 0, 1000, ENV_S, &done), UNDERLAY_DELIVER);
    CU_ASSERT_EQUAL(underlay_arrive(u, 0, 400, ENV_S, &done), UNDERLAY_DELIVER);
    CU_ASSERT_EQUAL(done, ENV_S + 80 + 32);
    CU_ASSERT_EQUAL(underlay_arrive(u, 0, 1000, ENV_S, &done), UNDERLAY_QUEUE_FULL);
    underlay_free(u);
}

static void test_deterministic(void)
{
    static struct trace a, b, c;
    run_trace(11, &a);
    run_trace(11, &b);
    run_trace(12, &c);
    CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof a), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(&a, &c, sizeof a), 0);
    int kinds[4] = {0};
    for (int i = 0; i < 2000; i++)
        kinds[a.v[i]]++;
    CU_ASSERT(kinds[UNDERLAY_DELIVER] > 0 && kinds[UNDERLAY_LOST] > 0 &&
              kinds[UNDERLAY_QUEUE_FULL] > 0);
}

CU_TestInfo test_underlay_tests[] = {
    {"constant latency", test_constant},
    {"uniform latency: bounds and mean", test_uniform},
    {"coordinates: symmetry, triangle, heights, distances", test_coordinates},
    {"matrix file read back", test_matrix},
    {"matrix: shipped king-like-256", test_matrix_king_like},
    {"matrix: malformed files name FILE:LINE:COLUMN", test_matrix_errors},
    {"bad parameters", test_bad_parameters},
    {"jitter: exponential mean", test_jitter},
    {"random loss rate", test_loss},
    {"access links: serialisation and FIFO", test_serialisation},
    {"access links: a full queue drops", test_queue_overflow},
    {"downlinks serve in arrival order", test_downlink_arrival_order},
    {"partition and heal", test_partition},
    {"same seed, same verdicts and times", test_deterministic},
    CU_TEST_INFO_NULL,
};
