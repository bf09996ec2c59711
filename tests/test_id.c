/* test_id.c — 128-bit ids: SHA-1 Resource-IDs (RFC 6940 §10.2), the overlay hash (§6.3.2) and
 * ring arithmetic modulo 2^128. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "../core/id.h"

static void test_hash(void)
{
    /* SHA-1("abc") = a9993e364706816aba3e25717850c26c9cd0d89d: the first 128 bits. */
    struct id a = id_hash("abc", 3);
    char hex[ID_HEX_LEN + 1];
    id_to_hex(&a, hex);
    CU_ASSERT_STRING_EQUAL(hex, "a9993e364706816aba3e25717850c26c");
    /* The overlay field is the low 32 bits of the SHA-1 of the overlay name. */
    CU_ASSERT_EQUAL(id_overlay_hash("abc"), 0x9cd0d89du);
    struct id b;
    CU_ASSERT_EQUAL(id_from_hex(hex, &b), 0);
    CU_ASSERT_TRUE(id_eq(&a, &b));
    CU_ASSERT_EQUAL(id_from_hex("xyz", &b), -1);
    CU_ASSERT_EQUAL(id_from_hex("g9993e364706816aba3e25717850c26c", &b), -1);
}

static void test_bytes(void)
{
    uint8_t in[ID_BYTES], out[ID_BYTES];
    for (int i = 0; i < ID_BYTES; i++)
        in[i] = (uint8_t)(i * 17 + 3);
    struct id a = id_from_bytes(in);
    CU_ASSERT_EQUAL(a.hi >> 56, 3);
    id_to_bytes(&a, out);
    CU_ASSERT_EQUAL(memcmp(in, out, ID_BYTES), 0);
}

static void test_arith(void)
{
    struct id max = {~0ull, ~0ull}, one = {0, 1}, zero = {0, 0};
    struct id w = id_add(&max, &one);
    CU_ASSERT_TRUE(id_eq(&w, &zero)); /* wraps modulo 2^128 */
    struct id s = id_sub(&zero, &one);
    CU_ASSERT_TRUE(id_eq(&s, &max));
    struct id c = {0, ~0ull};
    struct id d = id_add(&c, &one);
    CU_ASSERT_EQUAL(d.hi, 1);
    CU_ASSERT_EQUAL(d.lo, 0);
    struct id p = id_pow2(127);
    CU_ASSERT_EQUAL(p.hi, 1ull << 63);
    p = id_pow2(3);
    CU_ASSERT_EQUAL(p.lo, 8);
    struct id q = id_add_pow2(&max, 0);
    CU_ASSERT_TRUE(id_eq(&q, &zero));
    CU_ASSERT_TRUE(id_cmp(&one, &max) < 0);
    CU_ASSERT_TRUE(id_cmp(&c, &d) < 0);
    struct id dist = id_dist(&max, &one); /* clockwise from max to 1 is 2 */
    CU_ASSERT_EQUAL(dist.lo, 2);
    CU_ASSERT_EQUAL(dist.hi, 0);
}

static void test_intervals(void)
{
    struct id a = {0, 10}, b = {0, 20}, x = {0, 15}, y = {0, 25};
    CU_ASSERT_TRUE(id_in_oc(&x, &a, &b));
    CU_ASSERT_TRUE(id_in_oc(&b, &a, &b));  /* closed at b */
    CU_ASSERT_FALSE(id_in_oc(&a, &a, &b)); /* open at a */
    CU_ASSERT_FALSE(id_in_oc(&y, &a, &b));
    /* Wrapping interval (20, 10]. */
    CU_ASSERT_TRUE(id_in_oc(&y, &b, &a));
    CU_ASSERT_TRUE(id_in_oc(&a, &b, &a));
    CU_ASSERT_FALSE(id_in_oc(&x, &b, &a));
    /* a == b: the whole ring. */
    CU_ASSERT_TRUE(id_in_oc(&x, &a, &a));
    CU_ASSERT_TRUE(id_in_oo(&x, &a, &b));
    CU_ASSERT_FALSE(id_in_oo(&b, &a, &b));
    CU_ASSERT_FALSE(id_in_oo(&a, &a, &a));
    CU_ASSERT_TRUE(id_in_oo(&x, &a, &a));
    struct id half = id_pow2(127);
    CU_ASSERT_DOUBLE_EQUAL(id_to_unit(&half), 0.5, 1e-12);
}

CU_TestInfo test_id_tests[] = {
    {"SHA-1 Resource-IDs, overlay hash, hex", test_hash},
    {"wire byte order", test_bytes},
    {"arithmetic modulo 2^128", test_arith},
    {"ring intervals", test_intervals},
    CU_TEST_INFO_NULL,
};
