/* main.c — the CUnit test runner: one suite per module, registered here.
 *
 * Usage: tests/run_tests [SUITE...]   (no argument: every suite; names as listed below)
 * Each module's test file defines a NULL-terminated CU_TestInfo array; the suites are
 * declared weak so that a partial build (one module's tests) still links and runs.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#define SUITE(name) extern CU_TestInfo name[] __attribute__((weak));
SUITE(test_id_tests)
SUITE(test_wire_tests)
SUITE(test_storage_tests)
SUITE(test_node_tests)
SUITE(test_engine_tests)
SUITE(test_scenario_tests)
SUITE(test_world_tests)
SUITE(test_dist_tests)
SUITE(test_underlay_tests)
SUITE(test_churn_tests)
SUITE(test_graph_tests)
SUITE(test_sweep_tests)
SUITE(test_expect_tests)
SUITE(test_plot_tests)
SUITE(test_bamboo_tests)
SUITE(test_superpeer_tests)
SUITE(test_nat_tests)
SUITE(test_ice_tests)
SUITE(test_sip_tests)
SUITE(test_election_tests)
SUITE(test_service_tests)
SUITE(test_sipsim_tests)
SUITE(test_config_tests)
SUITE(test_sec_tests)
SUITE(test_secmodel_tests)
SUITE(test_nodesec_tests)
SUITE(test_adversary_tests)
SUITE(test_redundant_tests)
SUITE(test_client_tests)
#undef SUITE

struct suite_ref {
    const char *name;
    CU_TestInfo *tests;
};

int main(int argc, char **argv)
{
    struct suite_ref all[] = {
        {"id", test_id_tests},         {"wire", test_wire_tests},
        {"storage", test_storage_tests}, {"node", test_node_tests},
        {"engine", test_engine_tests}, {"scenario", test_scenario_tests},
        {"world", test_world_tests},   {"dist", test_dist_tests},
        {"underlay", test_underlay_tests}, {"churn", test_churn_tests},
        {"graph", test_graph_tests},   {"sweep", test_sweep_tests},
        {"expect", test_expect_tests}, {"plot", test_plot_tests},
        {"bamboo", test_bamboo_tests}, {"superpeer", test_superpeer_tests},
        {"nat", test_nat_tests},
        {"ice", test_ice_tests},
        {"sip", test_sip_tests},
        {"election", test_election_tests},
        {"service", test_service_tests},
        {"sipsim", test_sipsim_tests},
        {"config", test_config_tests},
        {"sec", test_sec_tests},
        {"secmodel", test_secmodel_tests},
        {"nodesec", test_nodesec_tests},
        {"adversary", test_adversary_tests},
        {"redundant", test_redundant_tests},
        {"client", test_client_tests},
    };
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    int registered = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!all[i].tests)
            continue;
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], all[i].name) == 0;
        if (!wanted)
            continue;
        CU_SuiteInfo suite[] = {
            {.pName = (char *)all[i].name, .pTests = all[i].tests},
            CU_SUITE_INFO_NULL,
        };
        if (CU_register_suites(suite) != CUE_SUCCESS) {
            fprintf(stderr, "cannot register suite %s: %s\n", all[i].name, CU_get_error_msg());
            return 2;
        }
        registered++;
    }
    if (registered == 0) {
        fprintf(stderr, "no such suite\n");
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
