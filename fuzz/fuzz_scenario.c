/* fuzz_scenario.c — libFuzzer target for the YAML scenario loader (sim/scenario.h: libyaml
 * parsing, table-driven keys, --set overrides, sweeps; docs/scenarios.md).
 *
 * Input: a scenario file, optionally followed by up to 4 overrides ("key=value"), each after
 * a NUL byte.  The file is handed to scenario_load() through an in-memory file (memfd), as
 * the loader reads only paths.  Oracle besides the sanitizers: a scenario that loads is
 * written back with scenario_to_yaml(), which must load again (without the overrides, which
 * it already holds) and give the same YAML; every sweep point's overrides are produced for
 * the first and the last point.  A scenario that does not load must say why (an error set).
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../sim/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OVERRIDES 4

static int memfd = -1;
static char path[64];

/* Makes the in-memory file hold exactly [p, p+len). */
static void put(const void *p, size_t len)
{
    if (memfd < 0) {
        memfd = memfd_create("fuzz-scenario.yaml", 0);
        if (memfd < 0) {
            perror("memfd_create");
            abort();
        }
        g_snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    }
    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, p, len, 0) != (ssize_t)len) {
        perror("fuzz_scenario: writing the memfd");
        abort();
    }
}

static struct scenario *load(const char *const *overrides)
{
    GError *err = NULL;
    struct scenario *s = scenario_load(path, overrides, &err);
    if (!s && !err) {
        fprintf(stderr, "fuzz_scenario: scenario_load failed without an error\n");
        abort();
    }
    if (err)
        g_error_free(err);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The file, then the overrides: a copy of what follows the first NUL, NUL-terminated,
     * cut at its NULs. */
    const uint8_t *nul = size ? memchr(data, 0, size) : NULL;
    size_t file_len = nul ? (size_t)(nul - data) : size;
    size_t rest_len = nul ? size - file_len - 1 : 0;
    char *rest = g_malloc(rest_len + 1);
    if (rest_len)
        memcpy(rest, nul + 1, rest_len);
    rest[rest_len] = 0;
    const char *overrides[MAX_OVERRIDES + 1] = {NULL};
    for (size_t i = 0, at = 0; nul && i < MAX_OVERRIDES && at <= rest_len; i++) {
        overrides[i] = rest + at;
        at += strlen(rest + at) + 1;
    }

    put(data, file_len);
    struct scenario *s = load(overrides);
    if (s) {
        char *y1 = scenario_to_yaml(s);
        size_t points = scenario_sweep_points(s);
        if (points == 0) {
            fprintf(stderr, "fuzz_scenario: a loaded scenario with no sweep point\n");
            abort();
        }
        g_strfreev(scenario_sweep_overrides(s, 0));
        g_strfreev(scenario_sweep_overrides(s, points - 1));
        scenario_free(s);
        put(y1, strlen(y1));
        GError *err = NULL;
        struct scenario *s2 = scenario_load(path, NULL, &err);
        if (!s2) {
            fprintf(stderr, "fuzz_scenario: scenario_to_yaml wrote what does not load: %s\n%s",
                    err->message, y1);
            abort();
        }
        char *y2 = scenario_to_yaml(s2);
        if (strcmp(y1, y2) != 0) {
            fprintf(stderr, "fuzz_scenario: YAML round trip differs:\n%s\n---\n%s", y1, y2);
            abort();
        }
        g_free(y2);
        scenario_free(s2);
        g_free(y1);
    }
    g_free(rest);
    return 0;
}
