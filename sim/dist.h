/* dist.h — sampling the probability distributions of scenario files (struct scenario_dist):
 * constant, exponential, Pareto, Weibull and log-normal, from a deterministic sim_rng stream.
 *
 * Parameterisations (all times in microseconds, as env_time):
 *   exponential(mean):             F(x) = 1 - e^(-x/mean)
 *   pareto(shape a, scale x_m):    F(x) = 1 - (x_m/x)^a, x >= x_m;  mean = a x_m / (a - 1)
 *   weibull(shape k, scale l):     F(x) = 1 - e^(-(x/l)^k);  median = l (ln 2)^(1/k)
 *   lognormal(mu, sigma):          ln X ~ N(mu, sigma^2);  median = e^mu,
 *                                  mean = e^(mu + sigma^2/2)
 * A scale given as a median or a mean is converted once by dist_init.
 */
#ifndef P2PSIP_SIM_DIST_H
#define P2PSIP_SIM_DIST_H

#include <glib.h>

#include "engine.h"
#include "scenario.h"

struct dist {
    enum scenario_dist_kind kind;
    double a, b; /* kind-specific, in seconds where a time: see dist.c */
};

/* Resolves a scenario distribution into sampling parameters; returns FALSE and sets err when
 * the parameters do not define a distribution (the loader already checks the usual cases). */
gboolean dist_init(struct dist *d, const struct scenario_dist *spec, GError **err);
/* One sample, in microseconds (never 0: at least 1 us). */
env_time dist_sample(const struct dist *d, struct sim_rng *r);
/* The distribution's mean and median in seconds (infinite mean for Pareto shape <= 1). */
double dist_mean_s(const struct dist *d);
double dist_median_s(const struct dist *d);
/* A standard normal sample (Box-Muller), for log-normal and jitter models. */
double dist_normal(struct sim_rng *r);

#endif
