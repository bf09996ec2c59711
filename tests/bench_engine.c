/* bench_engine.c — raw throughput of the discrete-event engine (sim/engine.h) in the classic
 * "hold" model: the queue holds a fixed number of pending events; each operation pops the
 * earliest and schedules a new one at now + a random delay (exponential, mean 1 s), as a
 * simulation in steady state does.
 *
 * Usage: tests/bench_engine [OPERATIONS [PENDING]]   (defaults 10000000 and 1000000)
 * Prints TSV lines: engine_events_per_s, engine_pending, engine_wall_s, engine_memory_bytes.
 * Build: cc -std=c11 -O2 -g -D_GNU_SOURCE $(pkg-config --cflags glib-2.0) \
 *          -o tests/bench_engine tests/bench_engine.c sim/engine.c \
 *          $(pkg-config --libs glib-2.0) -lm
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../sim/engine.h"

struct bench {
    struct sim_engine *engine;
    struct sim_rng rng;
};

static void hold(void *arg)
{
    struct bench *b = arg;
    env_time delay = (env_time)sim_rng_exp(&b->rng, 1e6);
    sim_schedule(b->engine, delay, hold, b);
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    unsigned long long ops = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000ull;
    unsigned long long pending = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000ull;
    struct bench b = {.engine = sim_engine_new()};
    sim_rng_init(&b.rng, 1, 0);
    for (unsigned long long i = 0; i < pending; i++)
        sim_schedule(b.engine, (env_time)sim_rng_exp(&b.rng, 1e6), hold, &b);

    double t0 = wall_seconds();
    for (unsigned long long i = 0; i < ops; i++)
        sim_step(b.engine);
    double wall = wall_seconds() - t0;

    printf("engine_events_per_s\t%.0f\n", wall > 0 ? (double)ops / wall : 0.0);
    printf("engine_pending\t%zu\n", sim_pending(b.engine));
    printf("engine_wall_s\t%.3f\n", wall);
    printf("engine_memory_bytes\t%zu\n", sim_engine_memory(b.engine));
    sim_engine_free(b.engine);
    return 0;
}
