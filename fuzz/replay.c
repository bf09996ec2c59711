/* replay.c — a main() for the fuzz targets without libFuzzer (docs/fuzzing.md): feeds every
 * file named on the command line, or found in a directory named there, to
 * LLVMFuzzerTestOneInput once, in name order.  Built with the ordinary compiler as
 * fuzz/out/replay_<target>, it lets `make test` (tests/t_fuzz.sh) replay the seed corpora and
 * the regression inputs of past findings (fuzz/regress/<target>/) without clang, and under
 * AddressSanitizer and UBSan with `make test SANITIZE=1`.  A finding aborts, so a regression
 * makes the test fail.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_file(const char *path, unsigned *count)
{
    gchar *buf = NULL;
    gsize len = 0;
    GError *err = NULL;
    if (!g_file_get_contents(path, &buf, &len, &err)) {
        fprintf(stderr, "replay: %s\n", err->message);
        g_error_free(err);
        return;
    }
    /* A copy of the exact size (as libFuzzer gives), so that overreads are caught. */
    uint8_t *copy = g_malloc(len ? len : 1);
    memcpy(copy, buf, len);
    g_free(buf);
    LLVMFuzzerTestOneInput(copy, len);
    g_free(copy);
    (*count)++;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    for (int a = 1; a < argc; a++) {
        if (!g_file_test(argv[a], G_FILE_TEST_IS_DIR)) {
            run_file(argv[a], &count);
            continue;
        }
        GDir *d = g_dir_open(argv[a], 0, NULL);
        if (!d)
            continue;
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
        const char *name;
        while ((name = g_dir_read_name(d)))
            g_ptr_array_add(names, g_build_filename(argv[a], name, NULL));
        g_dir_close(d);
        qsort(names->pdata, names->len, sizeof(char *), cmp_str);
        for (guint i = 0; i < names->len; i++)
            run_file(names->pdata[i], &count);
        g_ptr_array_free(names, TRUE);
    }
    printf("replayed %u inputs\n", count);
    return 0;
}
