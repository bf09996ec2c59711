/* test_dist.c — CUnit suite for the distributions of scenario files (sim/dist.h).
 *
 * For each distribution, 200,000 samples from a fixed seed are compared with the formulas of
 * dist.h: sample mean and median, and a shape check (the empirical CDF at two points, or the
 * mean and variance of ln X for the log-normal).  Tolerances are several standard errors wide
 * so that the tests are stable yet fail on a wrong formula (a wrong parameter conversion moves
 * the mean or median by far more).  Also: the median/mean conversions, determinism, the
 * normal sampler, the 1 us floor and dist_init's errors.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/dist.h"

#define N_SAMPLES 200000
#define SEED 20240601

/* ---- helpers ------------------------------------------------------------------------------- */

struct sampled {
    double *x; /* sorted, seconds */
    size_t n;
    double mean;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static struct sampled sample(const struct scenario_dist *spec, struct dist *d)
{
    GError *err = NULL;
    CU_ASSERT_FATAL(dist_init(d, spec, &err));
    CU_ASSERT_PTR_NULL(err);
    struct sim_rng r;
    sim_rng_init(&r, SEED, 7);
    struct sampled s = {.x = g_new(double, N_SAMPLES), .n = N_SAMPLES};
    double sum = 0;
    for (size_t i = 0; i < s.n; i++) {
        env_time us = dist_sample(d, &r);
        CU_ASSERT(us >= 1);
        s.x[i] = (double)us / 1e6;
        sum += s.x[i];
    }
    s.mean = sum / (double)s.n;
    qsort(s.x, s.n, sizeof *s.x, cmp_double);
    return s;
}

static double median(const struct sampled *s)
{
    return (s->x[s->n / 2 - 1] + s->x[s->n / 2]) / 2;
}

/* Fraction of samples <= x. */
static double ecdf(const struct sampled *s, double x)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->x[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (double)lo / (double)s->n;
}

static int close_rel(double got, double want, double tol)
{
    int ok = fabs(got - want) <= tol * fabs(want);
    if (!ok)
        fprintf(stderr, "\n    got %.6g, want %.6g (tolerance %.2g%%)", got, want, tol * 100);
    return ok;
}

static int close_abs(double got, double want, double tol)
{
    int ok = fabs(got - want) <= tol;
    if (!ok)
        fprintf(stderr, "\n    got %.6g, want %.6g (+- %.2g)", got, want, tol);
    return ok;
}

/* ---- each distribution --------------------------------------------------------------------- */

static void test_constant(void)
{
    struct scenario_dist spec = {.kind = SCENARIO_DIST_CONSTANT, .value = 90 * ENV_S};
    struct dist d;
    struct sampled s = sample(&spec, &d);
    CU_ASSERT_EQUAL(s.x[0], 90.0);
    CU_ASSERT_EQUAL(s.x[s.n - 1], 90.0);
    CU_ASSERT_EQUAL(dist_mean_s(&d), 90.0);
    CU_ASSERT_EQUAL(dist_median_s(&d), 90.0);
    g_free(s.x);
}

static void test_exponential(void)
{
    struct scenario_dist spec = {.kind = SCENARIO_DIST_EXPONENTIAL, .mean = 600 * ENV_S};
    struct dist d;
    struct sampled s = sample(&spec, &d);
    CU_ASSERT(close_rel(dist_mean_s(&d), 600, 1e-12));
    CU_ASSERT(close_rel(dist_median_s(&d), 600 * M_LN2, 1e-12));
    CU_ASSERT(close_rel(s.mean, 600, 0.015));
    CU_ASSERT(close_rel(median(&s), 600 * M_LN2, 0.02));
    /* F(x) = 1 - e^(-x/mean) */
    CU_ASSERT(close_abs(ecdf(&s, 60), 1 - exp(-0.1), 0.005));
    CU_ASSERT(close_abs(ecdf(&s, 1800), 1 - exp(-3.0), 0.005));
    g_free(s.x);
}

static void test_pareto(void)
{
    /* shape 3.5 (finite variance), given by its mean: x_m = mean (a - 1) / a */
    struct scenario_dist spec = {.kind = SCENARIO_DIST_PARETO, .shape = 3.5, .mean = 70 * ENV_S};
    struct dist d;
    struct sampled s = sample(&spec, &d);
    double xm = 70 * 2.5 / 3.5;
    CU_ASSERT(close_rel(d.b, xm, 1e-12));
    CU_ASSERT(close_rel(dist_mean_s(&d), 70, 1e-12));
    CU_ASSERT(close_rel(dist_median_s(&d), xm * pow(2, 1 / 3.5), 1e-12));
    CU_ASSERT(close_rel(s.mean, 70, 0.02));
    CU_ASSERT(close_rel(median(&s), xm * pow(2, 1 / 3.5), 0.02));
    CU_ASSERT(s.x[0] >= xm - 1e-6); /* support starts at x_m */
    /* F(x) = 1 - (x_m / x)^a */
    CU_ASSERT(close_abs(ecdf(&s, 1.2 * xm), 1 - pow(1 / 1.2, 3.5), 0.005));
    CU_ASSERT(close_abs(ecdf(&s, 3 * xm), 1 - pow(1 / 3.0, 3.5), 0.005));
    g_free(s.x);

    /* Given by its scale; shape <= 1 has an infinite mean but still samples. */
    struct scenario_dist heavy = {.kind = SCENARIO_DIST_PARETO, .shape = 0.8, .scale = ENV_S};
    s = sample(&heavy, &d);
    CU_ASSERT(isinf(dist_mean_s(&d)));
    CU_ASSERT(close_rel(median(&s), pow(2, 1 / 0.8), 0.02));
    g_free(s.x);
}

static void test_weibull(void)
{
    /* Stutzbach & Rejaie's session times: shape < 1, here given by a 30 min median. */
    struct scenario_dist spec = {
        .kind = SCENARIO_DIST_WEIBULL, .shape = 0.6, .median = 1800 * ENV_S};
    struct dist d;
    struct sampled s = sample(&spec, &d);
    double lambda = 1800 / pow(M_LN2, 1 / 0.6);
    CU_ASSERT(close_rel(d.b, lambda, 1e-12));
    CU_ASSERT(close_rel(dist_median_s(&d), 1800, 1e-12));
    CU_ASSERT(close_rel(dist_mean_s(&d), lambda * tgamma(1 + 1 / 0.6), 1e-12));
    CU_ASSERT(close_rel(s.mean, lambda * tgamma(1 + 1 / 0.6), 0.03));
    CU_ASSERT(close_rel(median(&s), 1800, 0.02));
    /* F(x) = 1 - e^(-(x/lambda)^k) */
    CU_ASSERT(close_abs(ecdf(&s, 0.1 * lambda), 1 - exp(-pow(0.1, 0.6)), 0.005));
    CU_ASSERT(close_abs(ecdf(&s, 4 * lambda), 1 - exp(-pow(4.0, 0.6)), 0.005));
    g_free(s.x);

    /* shape 2 (Rayleigh-like), given by its scale */
    struct scenario_dist k2 = {.kind = SCENARIO_DIST_WEIBULL, .shape = 2, .scale = 100 * ENV_S};
    s = sample(&k2, &d);
    CU_ASSERT(close_rel(s.mean, 100 * tgamma(1.5), 0.01));
    CU_ASSERT(close_rel(median(&s), 100 * sqrt(M_LN2), 0.01));
    CU_ASSERT(close_abs(ecdf(&s, 50), 1 - exp(-0.25), 0.005));
    g_free(s.x);
}

static void test_lognormal(void)
{
    /* given by its mean: mu = ln(mean) - sigma^2 / 2 */
    struct scenario_dist spec = {
        .kind = SCENARIO_DIST_LOGNORMAL, .sigma = 1.0, .mean = 300 * ENV_S};
    struct dist d;
    struct sampled s = sample(&spec, &d);
    double mu = log(300) - 0.5;
    CU_ASSERT(close_rel(d.a, mu, 1e-12));
    CU_ASSERT(close_rel(dist_mean_s(&d), 300, 1e-12));
    CU_ASSERT(close_rel(dist_median_s(&d), exp(mu), 1e-12));
    CU_ASSERT(close_rel(s.mean, 300, 0.02));
    CU_ASSERT(close_rel(median(&s), exp(mu), 0.02));
    /* ln X ~ N(mu, sigma^2) */
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < s.n; i++) {
        double l = log(s.x[i]);
        sum += l;
        sum2 += l * l;
    }
    double lmean = sum / (double)s.n;
    double lvar = sum2 / (double)s.n - lmean * lmean;
    CU_ASSERT(close_abs(lmean, mu, 0.01));
    CU_ASSERT(close_abs(lvar, 1.0, 0.02));
    g_free(s.x);

    /* given by its median */
    struct scenario_dist med = {
        .kind = SCENARIO_DIST_LOGNORMAL, .sigma = 0.5, .median = 60 * ENV_S};
    s = sample(&med, &d);
    CU_ASSERT(close_rel(dist_median_s(&d), 60, 1e-12));
    CU_ASSERT(close_rel(dist_mean_s(&d), 60 * exp(0.125), 1e-12));
    CU_ASSERT(close_rel(median(&s), 60, 0.01));
    CU_ASSERT(close_rel(s.mean, 60 * exp(0.125), 0.01));
    g_free(s.x);
}

/* ---- the normal sampler, the floor, determinism -------------------------------------------- */

static void test_normal(void)
{
    struct sim_rng r;
    sim_rng_init(&r, SEED, 3);
    double sum = 0, sum2 = 0;
    size_t within1 = 0;
    for (int i = 0; i < N_SAMPLES; i++) {
        double z = dist_normal(&r);
        CU_ASSERT(isfinite(z));
        sum += z;
        sum2 += z * z;
        within1 += fabs(z) <= 1;
    }
    double mean = sum / N_SAMPLES;
    CU_ASSERT(close_abs(mean, 0, 0.01));
    CU_ASSERT(close_abs(sum2 / N_SAMPLES - mean * mean, 1, 0.015));
    CU_ASSERT(close_abs((double)within1 / N_SAMPLES, erf(1 / M_SQRT2), 0.005));
}

static void test_floor(void)
{
    /* a 1 us mean: about 37 % of the draws are below 0.5 us and must still give 1 us */
    struct scenario_dist spec = {.kind = SCENARIO_DIST_EXPONENTIAL, .mean = 1};
    struct dist d;
    CU_ASSERT_FATAL(dist_init(&d, &spec, NULL));
    struct sim_rng r;
    sim_rng_init(&r, SEED, 1);
    for (int i = 0; i < 10000; i++)
        CU_ASSERT_FATAL(dist_sample(&d, &r) >= 1);

    /* xoshiro256** outputs 0 when s[1] == 0, so this state gives u = 0 first: the inversions
     * must not take log(0) or divide by it */
    struct sim_rng zero = {{0, 0, 1, 0}};
    CU_ASSERT_EQUAL(sim_rng_unit(&zero), 0.0);
    struct scenario_dist kinds[] = {
        {.kind = SCENARIO_DIST_EXPONENTIAL, .mean = ENV_S},
        {.kind = SCENARIO_DIST_PARETO, .shape = 2, .scale = ENV_S},
        {.kind = SCENARIO_DIST_WEIBULL, .shape = 0.5, .scale = ENV_S},
        {.kind = SCENARIO_DIST_LOGNORMAL, .sigma = 1, .median = ENV_S},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        CU_ASSERT_FATAL(dist_init(&d, &kinds[i], NULL));
        struct sim_rng z = {{0, 0, 1, 0}};
        env_time x = dist_sample(&d, &z);
        CU_ASSERT(x >= 1 && x < ((env_time)1 << 62));
    }
}

static void test_deterministic(void)
{
    struct scenario_dist specs[] = {
        {.kind = SCENARIO_DIST_EXPONENTIAL, .mean = 600 * ENV_S},
        {.kind = SCENARIO_DIST_PARETO, .shape = 3, .mean = 600 * ENV_S},
        {.kind = SCENARIO_DIST_WEIBULL, .shape = 0.6, .median = 600 * ENV_S},
        {.kind = SCENARIO_DIST_LOGNORMAL, .sigma = 1, .median = 600 * ENV_S},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(specs); k++) {
        struct dist d;
        CU_ASSERT_FATAL(dist_init(&d, &specs[k], NULL));
        struct sim_rng a, b, c;
        sim_rng_init(&a, 42, 5);
        sim_rng_init(&b, 42, 5);
        sim_rng_init(&c, 43, 5);
        int differ = 0;
        for (int i = 0; i < 100; i++) {
            env_time x = dist_sample(&d, &a);
            CU_ASSERT_EQUAL(x, dist_sample(&d, &b));
            differ += x != dist_sample(&d, &c);
        }
        CU_ASSERT(differ > 90);
    }
}

/* ---- dist_init's errors -------------------------------------------------------------------- */

static void expect_error(struct scenario_dist spec, const char *part)
{
    struct dist d;
    GError *err = NULL;
    CU_ASSERT_FALSE(dist_init(&d, &spec, &err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT(g_error_matches(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE));
    if (!strstr(err->message, part))
        fprintf(stderr, "\n    message '%s' lacks '%s'", err->message, part);
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, part));
    g_error_free(err);
}

static void test_errors(void)
{
    expect_error((struct scenario_dist){.kind = SCENARIO_DIST_NONE}, "no distribution");
    expect_error((struct scenario_dist){.kind = SCENARIO_DIST_CONSTANT}, "'value'");
    expect_error((struct scenario_dist){.kind = SCENARIO_DIST_EXPONENTIAL}, "'mean'");
    expect_error((struct scenario_dist){.kind = SCENARIO_DIST_PARETO, .scale = ENV_S}, "'shape'");
    expect_error((struct scenario_dist){.kind = SCENARIO_DIST_PARETO, .shape = 2},
                 "exactly one of 'scale' and 'mean'");
    expect_error(
        (struct scenario_dist){.kind = SCENARIO_DIST_PARETO, .shape = 2, .scale = 1, .mean = 5},
        "exactly one of 'scale' and 'mean'");
    expect_error((struct scenario_dist){.kind = SCENARIO_DIST_PARETO, .shape = 1, .mean = ENV_S},
                 "'shape' > 1");
    expect_error((struct scenario_dist){.kind = SCENARIO_DIST_WEIBULL, .shape = -1, .scale = 1},
                 "'shape'");
    expect_error((struct scenario_dist){.kind = SCENARIO_DIST_WEIBULL, .shape = NAN, .scale = 1},
                 "'shape'");
    expect_error((struct scenario_dist){.kind = SCENARIO_DIST_WEIBULL, .shape = 1},
                 "'scale' and 'median'");
    expect_error((struct scenario_dist){.kind = SCENARIO_DIST_LOGNORMAL, .median = ENV_S},
                 "'sigma'");
    expect_error(
        (struct scenario_dist){
            .kind = SCENARIO_DIST_LOGNORMAL, .sigma = 1, .median = ENV_S, .mean = ENV_S},
        "'median' and 'mean'");
}

CU_TestInfo test_dist_tests[] = {
    {"constant", test_constant},
    {"exponential: mean, median, CDF", test_exponential},
    {"pareto: mean, median, CDF, infinite mean", test_pareto},
    {"weibull: mean, median, CDF", test_weibull},
    {"lognormal: mean, median, ln X moments", test_lognormal},
    {"normal (Box-Muller)", test_normal},
    {"at least 1 us, no log(0)", test_floor},
    {"same seed, same samples", test_deterministic},
    {"dist_init errors", test_errors},
    CU_TEST_INFO_NULL,
};
