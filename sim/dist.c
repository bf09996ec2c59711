/* dist.c — sampling the distributions of scenario files (sim/dist.h) by inversion of the CDF,
 * and the standard normal by the Box-Muller transform (Box & Muller, Ann. Math. Stat. 1958).
 *
 * The session-time models are those of the churn literature: exponential (Poisson churn, as in
 * Stoica et al., SIGCOMM 2001, §6.5), Pareto (Li et al., "Comparing the performance of
 * DHTs under churn", IPTPS 2004), Weibull (Stutzbach & Rejaie, IMC 2006, §5.1, whose measured
 * session lengths fit a Weibull) and log-normal.
 *
 * Every sample is built from sim_rng_unit(), uniform in [0, 1).  The inversions need a
 * uniform in (0, 1] so that no logarithm or power sees 0: we use v = 1 - u, whose logarithm
 * log1p(-u) is finite and exact for small u.
 *
 * Meaning of struct dist's fields, by kind (times in seconds):
 *   constant:    a = value
 *   exponential: a = mean
 *   pareto:      a = shape alpha, b = scale x_m
 *   weibull:     a = shape k,     b = scale lambda
 *   lognormal:   a = mu (of ln X, X in seconds), b = sigma
 */
#include "dist.h"

#include <math.h>
#include <stdarg.h>

/* Samples are capped at 2^62 us (about 146,000 years) so that heavy tails never overflow
 * env_time arithmetic downstream. */
#define DIST_MAX_US 4611686018427387904.0

static double dist_seconds(env_time us)
{
    return (double)us / (double)ENV_S;
}

/* The scale parameter of a two-parameter kind: exactly one of `direct` (the scale itself) and
 * `derived` (a median or a mean, converted by the caller) must be given. */
static gboolean dist_one_of(const char *kind, env_time direct, const char *direct_name,
                            env_time derived, const char *derived_name, GError **err)
{
    if ((direct != 0) == (derived != 0))
        return scenario_fail(err,
                             "%s distribution: give exactly one of '%s' and '%s' (a positive "
                             "duration)",
                             kind, direct_name, derived_name);
    return TRUE;
}

gboolean dist_init(struct dist *d, const struct scenario_dist *spec, GError **err)
{
    *d = (struct dist){.kind = spec->kind};
    switch (spec->kind) {
    case SCENARIO_DIST_CONSTANT:
        if (spec->value == 0)
            return scenario_fail(err, "constant distribution: 'value' must be a positive duration");
        d->a = dist_seconds(spec->value);
        return TRUE;
    case SCENARIO_DIST_EXPONENTIAL:
        if (spec->mean == 0)
            return scenario_fail(err,
                                 "exponential distribution: 'mean' must be a positive duration");
        d->a = dist_seconds(spec->mean);
        return TRUE;
    case SCENARIO_DIST_PARETO:
        if (!(spec->shape > 0 && isfinite(spec->shape)))
            return scenario_fail(err, "%s distribution: 'shape' must be a positive number (got %g)",
                                 "pareto", spec->shape);
        if (!dist_one_of("pareto", spec->scale, "scale", spec->mean, "mean", err))
            return FALSE;
        d->a = spec->shape;
        if (spec->scale) {
            d->b = dist_seconds(spec->scale);
        } else {
            /* mean = a x_m / (a - 1) exists only for a > 1. */
            if (spec->shape <= 1)
                return scenario_fail(err,
                                     "%s distribution: a 'mean' needs 'shape' > 1 (got %g); give "
                                     "'scale' instead",
                                     "pareto", spec->shape);
            d->b = dist_seconds(spec->mean) * (spec->shape - 1) / spec->shape;
        }
        return TRUE;
    case SCENARIO_DIST_WEIBULL:
        if (!(spec->shape > 0 && isfinite(spec->shape)))
            return scenario_fail(err, "%s distribution: 'shape' must be a positive number (got %g)",
                                 "weibull", spec->shape);
        if (!dist_one_of("weibull", spec->scale, "scale", spec->median, "median", err))
            return FALSE;
        d->a = spec->shape;
        /* median = lambda (ln 2)^(1/k) */
        d->b = spec->scale ? dist_seconds(spec->scale)
                           : dist_seconds(spec->median) / pow(M_LN2, 1.0 / spec->shape);
        return TRUE;
    case SCENARIO_DIST_LOGNORMAL:
        if (!(spec->sigma > 0 && isfinite(spec->sigma)))
            return scenario_fail(err, "%s distribution: 'sigma' must be a positive number (got %g)",
                                 "lognormal", spec->sigma);
        if (!dist_one_of("lognormal", spec->median, "median", spec->mean, "mean", err))
            return FALSE;
        d->b = spec->sigma;
        /* median = e^mu;  mean = e^(mu + sigma^2 / 2) */
        d->a = spec->median ? log(dist_seconds(spec->median))
                            : log(dist_seconds(spec->mean)) - spec->sigma * spec->sigma / 2;
        return TRUE;
    case SCENARIO_DIST_NONE:
        break;
    }
    return scenario_fail(err, "no distribution given (expected constant, exponential, pareto, "
                              "weibull or lognormal)");
}

/* -ln(v) for v = 1 - u uniform in (0, 1]: an exponential with mean 1, always finite. */
static double dist_unit_exp(struct sim_rng *r)
{
    return -log1p(-sim_rng_unit(r));
}

double dist_normal(struct sim_rng *r)
{
    /* Box-Muller with v1 in (0, 1]; the second normal of the pair is not kept, so a sample
     * always consumes exactly two draws and the rng carries no hidden state. */
    double radius = sqrt(2.0 * dist_unit_exp(r));
    double angle = 2.0 * M_PI * sim_rng_unit(r);
    return radius * cos(angle);
}

static double dist_sample_s(const struct dist *d, struct sim_rng *r)
{
    switch (d->kind) {
    case SCENARIO_DIST_CONSTANT:
        return d->a;
    case SCENARIO_DIST_EXPONENTIAL:
        return d->a * dist_unit_exp(r);
    case SCENARIO_DIST_PARETO:
        /* F^-1: x = x_m v^(-1/a), with v in (0, 1]; written through exp so that v near 0 gives
         * a large finite number rather than a division by zero. */
        return d->b * exp(dist_unit_exp(r) / d->a);
    case SCENARIO_DIST_WEIBULL:
        /* F^-1: x = lambda (-ln v)^(1/k) */
        return d->b * pow(dist_unit_exp(r), 1.0 / d->a);
    case SCENARIO_DIST_LOGNORMAL:
        return exp(d->a + d->b * dist_normal(r));
    case SCENARIO_DIST_NONE:
        break;
    }
    g_assert_not_reached();
}

env_time dist_sample(const struct dist *d, struct sim_rng *r)
{
    double us = dist_sample_s(d, r) * (double)ENV_S;
    if (!(us < DIST_MAX_US)) /* also catches +inf */
        return (env_time)DIST_MAX_US;
    if (us < 1.0)
        return 1;
    return (env_time)llround(us);
}

double dist_mean_s(const struct dist *d)
{
    switch (d->kind) {
    case SCENARIO_DIST_CONSTANT:
    case SCENARIO_DIST_EXPONENTIAL:
        return d->a;
    case SCENARIO_DIST_PARETO:
        return d->a > 1 ? d->a * d->b / (d->a - 1) : INFINITY;
    case SCENARIO_DIST_WEIBULL:
        return d->b * tgamma(1.0 + 1.0 / d->a);
    case SCENARIO_DIST_LOGNORMAL:
        return exp(d->a + d->b * d->b / 2);
    case SCENARIO_DIST_NONE:
        break;
    }
    g_assert_not_reached();
}

double dist_median_s(const struct dist *d)
{
    switch (d->kind) {
    case SCENARIO_DIST_CONSTANT:
        return d->a;
    case SCENARIO_DIST_EXPONENTIAL:
        return d->a * M_LN2;
    case SCENARIO_DIST_PARETO:
        return d->b * pow(2.0, 1.0 / d->a);
    case SCENARIO_DIST_WEIBULL:
        return d->b * pow(M_LN2, 1.0 / d->a);
    case SCENARIO_DIST_LOGNORMAL:
        return exp(d->a);
    case SCENARIO_DIST_NONE:
        break;
    }
    g_assert_not_reached();
}
