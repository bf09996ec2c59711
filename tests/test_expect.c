/* test_expect.c — CUnit suite for expectations (sim/expect.h): every operator on both sides
 * of its boundary, pass and fail results, the failure message and expectations.tsv, and the
 * errors for an unknown metric or a value that is not a number (the `expect:` block of the
 * experiments issue).
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <string.h>

#include "../sim/expect.h"

static struct scenario_expect exp_make(const char *metric, const char *op, double value)
{
    struct scenario_expect e = {
        .metric = (char *)metric, .op = (char *)op, .value = value, .where = "x.yaml:7:3"};
    return e;
}

static GHashTable *metrics_new(void)
{
    GHashTable *m = g_hash_table_new(g_str_hash, g_str_equal);
    g_hash_table_insert(m, "lookup_success", "0.973100");
    g_hash_table_insert(m, "hops_mean", "3.5000");
    g_hash_table_insert(m, "lookups", "1000");
    g_hash_table_insert(m, "name", "chord");
    return m;
}

static void test_operators(void)
{
    struct {
        const char *op;
        bool below, equal, above; /* the result for measured 1, 2, 3 against 2 */
    } cases[] = {
        {">=", false, true, true}, {"<=", true, true, false},  {">", false, false, true},
        {"<", true, false, false}, {"==", false, true, false}, {"!=", true, false, true},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        CU_ASSERT_EQUAL(expect_compare(1, cases[i].op, 2), cases[i].below);
        CU_ASSERT_EQUAL(expect_compare(2, cases[i].op, 2), cases[i].equal);
        CU_ASSERT_EQUAL(expect_compare(3, cases[i].op, 2), cases[i].above);
    }
    CU_ASSERT_FALSE(expect_compare(2, "=>", 2));
    CU_ASSERT_FALSE(expect_compare(2, "", 2));
}

static void test_pass_and_fail(void)
{
    struct scenario_expect e[] = {
        exp_make("lookup_success", ">=", 0.99), /* fails: 0.9731 */
        exp_make("hops_mean", "<=", 8),         /* passes */
        exp_make("lookups", "==", 1000),        /* passes */
        exp_make("hops_mean", ">", 3.5),        /* fails at the boundary */
    };
    GPtrArray *list = g_ptr_array_new();
    for (size_t i = 0; i < G_N_ELEMENTS(e); i++)
        g_ptr_array_add(list, &e[i]);
    GHashTable *m = metrics_new();
    GArray *res = g_array_new(FALSE, FALSE, sizeof(struct expect_result));
    GError *err = NULL;
    CU_ASSERT_TRUE(expect_check(list, m, res, &err));
    CU_ASSERT_PTR_NULL(err);
    CU_ASSERT_EQUAL_FATAL(res->len, 4);
    const struct expect_result *r = (const struct expect_result *)res->data;
    CU_ASSERT_FALSE(r[0].pass);
    CU_ASSERT_DOUBLE_EQUAL(r[0].measured, 0.9731, 1e-12);
    CU_ASSERT_TRUE(r[1].pass);
    CU_ASSERT_TRUE(r[2].pass);
    CU_ASSERT_FALSE(r[3].pass);
    CU_ASSERT_EQUAL(expect_failures(res), 2);

    char *msg = expect_failure_message(&r[0]);
    CU_ASSERT_STRING_EQUAL(
        msg, "expectation failed: lookup_success >= 0.99 (measured 0.9731) at x.yaml:7:3");
    g_free(msg);
    char *tsv = expect_tsv(res);
    CU_ASSERT_STRING_EQUAL(tsv, "metric\top\texpected\tmeasured\tpass\n"
                                "lookup_success\t>=\t0.99\t0.9731\tfalse\n"
                                "hops_mean\t<=\t8\t3.5\ttrue\n"
                                "lookups\t==\t1000\t1000\ttrue\n"
                                "hops_mean\t>\t3.5\t3.5\tfalse\n");
    g_free(tsv);
    g_array_unref(res);
    g_hash_table_unref(m);
    g_ptr_array_unref(list);
}

static void test_none(void)
{
    GHashTable *m = metrics_new();
    GArray *res = g_array_new(FALSE, FALSE, sizeof(struct expect_result));
    CU_ASSERT_TRUE(expect_check(NULL, m, res, NULL));
    GPtrArray *empty = g_ptr_array_new();
    CU_ASSERT_TRUE(expect_check(empty, m, res, NULL));
    CU_ASSERT_EQUAL(res->len, 0);
    CU_ASSERT_EQUAL(expect_failures(res), 0);
    char *tsv = expect_tsv(res);
    CU_ASSERT_STRING_EQUAL(tsv, "metric\top\texpected\tmeasured\tpass\n");
    g_free(tsv);
    g_ptr_array_unref(empty);
    g_array_unref(res);
    g_hash_table_unref(m);
}

/* Checks one bad expectation: false, SCENARIO_ERROR_KEY, the position and every part. */
static void check_error(struct scenario_expect e, const char *const *parts)
{
    GPtrArray *list = g_ptr_array_new();
    g_ptr_array_add(list, &e);
    GHashTable *m = metrics_new();
    GArray *res = g_array_new(FALSE, FALSE, sizeof(struct expect_result));
    GError *err = NULL;
    CU_ASSERT_FALSE(expect_check(list, m, res, &err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT(g_error_matches(err, SCENARIO_ERROR, SCENARIO_ERROR_KEY));
    CU_ASSERT(g_str_has_prefix(err->message, "x.yaml:7:3: "));
    for (size_t i = 0; parts[i]; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(err->message, parts[i]));
    CU_ASSERT_EQUAL(res->len, 0);
    g_error_free(err);
    g_array_unref(res);
    g_hash_table_unref(m);
    g_ptr_array_unref(list);
}

static void test_errors(void)
{
    /* an unknown metric names itself and lists the known ones */
    check_error(exp_make("lookup_sucess", ">=", 0.99),
                (const char *const[]){"'expect.lookup_sucess'", "unknown metric",
                                      "hops_mean, lookup_success, lookups, name", NULL});
    check_error(exp_make("name", "==", 1),
                (const char *const[]){"'name' is not a number", "'chord'", NULL});
    check_error(exp_make("hops_mean", "=>", 1),
                (const char *const[]){"unknown operator '=>'", NULL});
}

CU_TestInfo test_expect_tests[] = {
    {"every operator", test_operators},
    {"pass, fail, message and expectations.tsv", test_pass_and_fail},
    {"no expectations", test_none},
    {"unknown metric, non-number, bad operator", test_errors},
    CU_TEST_INFO_NULL,
};
