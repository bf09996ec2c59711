/* test_sipsim.c — CUnit suite for SIP in the simulator (sim/sipua.h on sim/world.h): on a small
 * CHORD-RELOAD world every peer runs the proxy/registrar adapter (seed draft §5.5–5.6, RFC 7904)
 * and its user agent registers (RFC 3261 §10); a call goes INVITE → 180 → 200 → ACK → BYE
 * through the caller's peer and the callee's (§13–15, the seed's option 3), with a setup
 * latency the underlay explains; a callee whose peer crashed gets 480, one that never
 * registered 404; a peer coming back re-registers its user; state lives only while calls
 * run; a seeded run is deterministic; and the scenario loader's sip: section.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "../sim/scenario.h"
#include "../sim/sipua.h"
#include "../sim/world.h"
#include "../sip/registrar.h"
#include "world_util.h"

#define TS_PEERS 10
#define TS_LATENCY_MS 50

/* A 10-peer instant ring, constant 50 ms one-way latency, one user per peer, no lookups and
 * no call arrivals (the tests place calls themselves): the loader's defaults by hand. */
static void ts_scenario(struct scenario *sc)
{
    world_util_scenario(sc, "test_sipsim", "test-sipsim", TS_PEERS, "chord", TS_LATENCY_MS);
    sc->workload.start = 2 * ENV_S;
    sc->duration = 5 * 60 * ENV_S;
    sc->sip.enabled = true;
    sc->sip.users_per_peer = 1;
    sc->sip.call_rate = 0;
    sc->sip.answer_delay = 1 * ENV_S;
    sc->sip.call_duration = 5 * ENV_S;
    sc->sip.register_expires = 3600 * ENV_S;
}

static struct world *ts_world(const struct scenario *sc)
{
    GError *err = NULL;
    struct world *w = world_new(sc, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(world_sipua(w));
    return w;
}

static uint64_t ts_failed(const struct sipua_stats *st)
{
    return st->failed_404 + st->failed_480 + st->failed_408 + st->failed_5xx + st->failed_other +
           st->failed_timeout;
}

/* Every user registers with its own peer within the first second after the join; then a call
 * from user 0 to user 5 is set up through peer 0 (lookup, AppAttach) and peer 5, ACKed, held
 * and hung up; a second call reuses peer 0's cached AppAttach answer, so it sets up faster. */
static void test_sipsim_call(void)
{
    struct scenario sc;
    ts_scenario(&sc);
    struct world *w = ts_world(&sc);
    struct sipua *s = world_sipua(w);
    world_run_until(w, 2 * ENV_S);
    const struct sipua_stats *st = sipua_stats(s);
    CU_ASSERT_EQUAL(sipua_users(s), TS_PEERS);
    for (uint32_t u = 0; u < TS_PEERS; u++)
        CU_ASSERT(sipua_registered(s, u));
    CU_ASSERT_EQUAL(st->registrations, TS_PEERS);
    CU_ASSERT_EQUAL(st->registrations_ok, TS_PEERS);
    struct sip_registrar_contact ct[2];
    CU_ASSERT_EQUAL(
        sip_registrar_contacts(sipua_registrar(s, 5), "sip:user5@p2psip.example", ct, 2), 1);
    CU_ASSERT_STRING_EQUAL(ct[0].uri, "sip:user5@10.0.0.6:5062");

    CU_ASSERT(sipua_call(s, 0, 5));
    world_run_until(w, 2 * ENV_S + 3 * ENV_S); /* set up, not yet hung up */
    CU_ASSERT_EQUAL(st->calls, 1);
    CU_ASSERT_EQUAL(st->calls_completed, 1);
    CU_ASSERT_EQUAL(st->answered, 1);
    CU_ASSERT_EQUAL(st->calls_ended, 0);
    CU_ASSERT_EQUAL(sipua_active_calls(s), 2); /* both sides hold the dialog */
    world_run_until(w, 20 * ENV_S);
    CU_ASSERT_EQUAL(st->calls_ended, 1);
    CU_ASSERT_EQUAL(st->byes_failed, 0);
    CU_ASSERT_EQUAL(ts_failed(st), 0);
    CU_ASSERT_EQUAL(sipua_active_calls(s), 0); /* nothing kept after the BYE */
    /* The call crossed peer 0 (lookup, AppAttach, INVITE forwarded and record-routed) and
     * peer 5 (to the contact): both forwarded the INVITE, the ACK and the BYE. */
    const struct sip_registrar_stats *x = sip_registrar_get_stats(sipua_registrar(s, 0));
    const struct sip_registrar_stats *y = sip_registrar_get_stats(sipua_registrar(s, 5));
    CU_ASSERT_EQUAL(x->lookups, 1);
    CU_ASSERT_EQUAL(x->lookups_found, 1);
    CU_ASSERT_EQUAL(x->app_attaches, 1);
    CU_ASSERT_EQUAL(x->forwarded, 2);            /* INVITE and BYE */
    CU_ASSERT_EQUAL(x->forwarded_stateless, 1);  /* the ACK of the 2xx */
    CU_ASSERT_EQUAL(y->forwarded, 2);
    CU_ASSERT_EQUAL(y->forwarded_stateless, 1);

    /* Setup latency: the answer delay, the lookup and the AppAttach through the overlay
     * (round trips of at most log2(10) + 1 hops), then one round trip peer 0 <-> peer 5. */
    GArray *a = sipua_sorted_setup(s);
    CU_ASSERT_EQUAL_FATAL(a->len, 1);
    env_time first = g_array_index(a, env_time, 0);
    g_array_unref(a);
    env_time rtt = 2 * TS_LATENCY_MS * ENV_MS;
    CU_ASSERT(first >= sc.sip.answer_delay + 3 * rtt); /* Fetch, AppAttach, INVITE/200 */
    CU_ASSERT(first <= sc.sip.answer_delay + 11 * rtt);

    CU_ASSERT(sipua_call(s, 0, 5));
    world_run_until(w, 40 * ENV_S);
    CU_ASSERT_EQUAL(st->calls_completed, 2);
    CU_ASSERT_EQUAL(st->calls_ended, 2);
    a = sipua_sorted_setup(s);
    CU_ASSERT_EQUAL_FATAL(a->len, 2);
    env_time second = g_array_index(a, env_time, 0);
    g_array_unref(a);
    CU_ASSERT(second < first);
    CU_ASSERT(second >= sc.sip.answer_delay + 2 * rtt); /* Fetch again, then INVITE/200 */
    CU_ASSERT_EQUAL(x->app_attaches, 1);                /* the cached answer */
    world_free(w);
}

/* A callee whose peer crashed after it registered: its binding still points at that peer,
 * whose AppAttach gets no answer, so the caller's peer answers 480.  A callee whose peer was
 * down from the start never registered: 404.  Both are counted by cause; the caller's state
 * goes with the failure.  When the crashed peer comes back, its user registers again and the
 * next call succeeds. */
static void test_sipsim_callee_down(void)
{
    struct scenario sc;
    ts_scenario(&sc);
    struct world *w = ts_world(&sc);
    struct sipua *s = world_sipua(w);
    world_peer_down(w, 8, false); /* before anyone registered */
    world_run_until(w, 2 * ENV_S);
    const struct sipua_stats *st = sipua_stats(s);
    CU_ASSERT(!sipua_registered(s, 8));
    CU_ASSERT(sipua_registered(s, 7));
    world_peer_down(w, 7, false);
    CU_ASSERT(!sipua_registered(s, 7));
    CU_ASSERT(!sipua_call(s, 7, 1)); /* a user whose peer is down places no call */

    CU_ASSERT(sipua_call(s, 0, 7));
    CU_ASSERT(sipua_call(s, 1, 8));
    world_run_until(w, 2 * ENV_S + 100 * ENV_S);
    CU_ASSERT_EQUAL(st->calls, 2);
    CU_ASSERT_EQUAL(st->calls_completed, 0);
    CU_ASSERT_EQUAL(st->failed_480, 1);
    CU_ASSERT_EQUAL(st->failed_404, 1);
    CU_ASSERT_EQUAL(ts_failed(st), 2);
    CU_ASSERT_EQUAL(sipua_active_calls(s), 0);

    world_peer_up(w, 7);
    world_run_until(w, 2 * ENV_S + 130 * ENV_S);
    CU_ASSERT(sipua_registered(s, 7));
    CU_ASSERT(sipua_call(s, 2, 7));
    world_run_until(w, 2 * ENV_S + 160 * ENV_S);
    CU_ASSERT_EQUAL(st->calls_completed, 1);
    CU_ASSERT_EQUAL(st->calls_ended, 1);

    /* Summary rows exist only with a sip: section and add up. */
    GArray *rows = world_summary_rows(w, NULL);
    double calls = -1, failed = -1, f480 = -1, success = -1;
    for (guint i = 0; i < rows->len; i++) {
        const struct world_row *r = &g_array_index(rows, struct world_row, i);
        if (strcmp(r->name, "calls") == 0)
            calls = r->value;
        else if (strcmp(r->name, "calls_failed") == 0)
            failed = r->value;
        else if (strcmp(r->name, "calls_failed_480") == 0)
            f480 = r->value;
        else if (strcmp(r->name, "call_success") == 0)
            success = r->value;
    }
    g_array_unref(rows);
    CU_ASSERT_EQUAL(calls, 3);
    CU_ASSERT_EQUAL(failed, 2);
    CU_ASSERT_EQUAL(f480, 1);
    CU_ASSERT_DOUBLE_EQUAL(success, 1.0 / 3.0, 1e-6);
    world_free(w);
}

/* Poisson calls between 10 users for two minutes: the same seed gives the same rows, byte for
 * byte; every call that was set up and hung up left no state. */
static GArray *ts_poisson_rows(void)
{
    struct scenario sc;
    ts_scenario(&sc);
    sc.sip.call_rate = 120.0 / 3600.0; /* 120 per user per hour */
    sc.sip.answer_delay = 500 * ENV_MS;
    sc.sip.call_duration = 10 * ENV_S;
    sc.duration = 2 * 60 * ENV_S;
    struct world *w = ts_world(&sc);
    world_run(w, NULL, NULL);
    const struct sipua_stats *st = sipua_stats(world_sipua(w));
    CU_ASSERT(st->calls >= 20);
    CU_ASSERT_EQUAL(ts_failed(st), 0);
    CU_ASSERT(st->calls_completed + 1 >= st->calls); /* the last may still ring at the end */
    CU_ASSERT(sipua_active_calls(world_sipua(w)) <= 2 * (st->calls - st->calls_ended));
    GArray *rows = world_summary_rows(w, NULL);
    world_free(w);
    return rows;
}

static void test_sipsim_deterministic(void)
{
    GArray *a = ts_poisson_rows(), *b = ts_poisson_rows();
    CU_ASSERT_EQUAL_FATAL(a->len, b->len);
    for (guint i = 0; i < a->len; i++) {
        const struct world_row *x = &g_array_index(a, struct world_row, i);
        const struct world_row *y = &g_array_index(b, struct world_row, i);
        CU_ASSERT_STRING_EQUAL(x->name, y->name);
        CU_ASSERT_STRING_EQUAL(x->text, y->text);
    }
    g_array_unref(a);
    g_array_unref(b);
}

/* The loader: a sip: section (even empty) turns the user agents on with the defaults, and
 * only then does the resolved YAML carry it; a --set sip.* key turns them on too; a bad
 * value names the key. */
static struct scenario *ts_load(const char *text, const char *const *overrides, GError **err)
{
    char *path = NULL;
    int fd = g_file_open_tmp("sipsim-XXXXXX.yaml", &path, NULL);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    g_file_set_contents(path, text, -1, NULL);
    struct scenario *s = scenario_load(path, overrides, err);
    g_unlink(path);
    g_free(path);
    return s;
}

static void test_sipsim_scenario(void)
{
    const char *base = "name: t\nduration: 1m\npeers: 4\n";
    GError *err = NULL;
    struct scenario *s = ts_load(base, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(!s->sip.enabled);
    char *yaml = scenario_to_yaml(s);
    CU_ASSERT_PTR_NULL(strstr(yaml, "sip:"));
    g_free(yaml);
    scenario_free(s);

    char *text = g_strconcat(base, "sip:\n", NULL);
    s = ts_load(text, NULL, &err);
    g_free(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(s->sip.enabled);
    CU_ASSERT_EQUAL(s->sip.users_per_peer, 1);
    CU_ASSERT_DOUBLE_EQUAL(s->sip.call_rate, 2.0 / 3600.0, 1e-12);
    CU_ASSERT_EQUAL(s->sip.answer_delay, 2 * ENV_S);
    CU_ASSERT_EQUAL(s->sip.call_duration, 60 * ENV_S);
    CU_ASSERT_EQUAL(s->sip.register_expires, 3600 * ENV_S);
    yaml = scenario_to_yaml(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "\nsip:\n  users_per_peer: 1\n"));
    g_free(yaml);
    scenario_free(s);

    const char *set[] = {"sip.call_rate=30/h", NULL};
    s = ts_load(base, set, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(s->sip.enabled);
    CU_ASSERT_DOUBLE_EQUAL(s->sip.call_rate, 30.0 / 3600.0, 1e-12);
    scenario_free(s);

    text = g_strconcat(base, "sip:\n  register_expires: 10s\n", NULL);
    s = ts_load(text, NULL, &err);
    g_free(text);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, ":5:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "sip.register_expires"));
    g_clear_error(&err);
    text = g_strconcat(base, "sip:\n  callrate: 1/h\n", NULL);
    s = ts_load(text, NULL, &err);
    g_free(text);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "sip.callrate"));
    g_clear_error(&err);
}

/* Calls to users whose peer sits behind a NAT box (docs/sip.md, "Across NATs"): the callee
 * peer's SIP address from its AppAttach is private, so the caller's peer gets no answer there
 * and, at its first retransmission, carries the INVITE through the overlay (AppData,
 * core/appdata.c); the callee's peer answers the same way, and the ACK and the BYE follow the
 * tunnel.  From a public and from a NATed caller; every call completes and ends, none gets
 * 408, and a second call to the same peer uses the tunnel from its first datagram. */
static void test_sipsim_nat(void)
{
    const char *text = "name: sip-nat\nseed: 1\nduration: 2m\npeers: 12\n"
                       "overlay: {topology: chord, join: instant}\n"
                       "latency: {model: constant, ms: 50}\n"
                       "nat:\n  mix:\n    - {type: public, share: 0.5}\n"
                       "    - {type: port_restricted, share: 0.25}\n"
                       "    - {type: symmetric, share: 0.25}\n"
                       "workload: {start: 2s, lookups: 0, lookup_rate: 0}\n"
                       "sip: {users_per_peer: 1, call_rate: 0, answer_delay: 1s,\n"
                       "      call_duration: 5s}\n";
    GError *err = NULL;
    struct scenario *sc = ts_load(text, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    struct world *w = ts_world(sc);
    struct sipua *s = world_sipua(w);
    uint32_t pub = UINT32_MAX, nat1 = UINT32_MAX, nat2 = UINT32_MAX;
    for (uint32_t i = 0; i < 12; i++) {
        if (world_peer_public(w, i)) {
            if (pub == UINT32_MAX)
                pub = i;
        } else if (nat1 == UINT32_MAX) {
            nat1 = i;
        } else if (nat2 == UINT32_MAX) {
            nat2 = i;
        }
    }
    CU_ASSERT_FATAL(pub != UINT32_MAX && nat2 != UINT32_MAX);
    world_run_until(w, 3 * ENV_S);
    const struct sipua_stats *st = sipua_stats(s);
    CU_ASSERT_EQUAL(st->registrations_ok, 12);

    CU_ASSERT(sipua_call(s, pub, nat1)); /* public caller, NATed callee */
    world_run_until(w, 25 * ENV_S);
    CU_ASSERT_EQUAL(st->calls_completed, 1);
    CU_ASSERT_EQUAL(st->calls_ended, 1);
    const struct sip_registrar_stats *x = sip_registrar_get_stats(sipua_registrar(s, pub));
    const struct sip_registrar_stats *y = sip_registrar_get_stats(sipua_registrar(s, nat1));
    CU_ASSERT(x->tunnelled_sent >= 3);     /* INVITE (again), ACK, BYE */
    CU_ASSERT(x->tunnelled_received >= 3); /* 180, 200, 200 of the BYE */
    CU_ASSERT(y->tunnelled_received >= 3);
    CU_ASSERT_EQUAL(y->tunnelled_sent, x->tunnelled_received);
    CU_ASSERT_EQUAL(x->proxy_timeouts, 0);

    CU_ASSERT(sipua_call(s, nat2, nat1)); /* NATed caller, NATed callee */
    world_run_until(w, 50 * ENV_S);
    CU_ASSERT_EQUAL(st->calls_completed, 2);
    CU_ASSERT_EQUAL(st->calls_ended, 2);

    /* Again from the public peer: its AppAttach answer is cached and so is the tunnel, so the
     * INVITE goes through the tunnel from its first transmission. */
    uint64_t retrans = x->tunnelled_sent;
    CU_ASSERT(sipua_call(s, pub, nat1));
    world_run_until(w, 75 * ENV_S);
    CU_ASSERT_EQUAL(st->calls_completed, 3);
    CU_ASSERT_EQUAL(st->calls_ended, 3);
    CU_ASSERT_EQUAL(st->byes_failed, 0);
    CU_ASSERT_EQUAL(ts_failed(st), 0);
    CU_ASSERT(x->tunnelled_sent >= retrans + 3);
    CU_ASSERT_EQUAL(sipua_active_calls(s), 0);
    world_free(w);
    scenario_free(sc);
}

CU_TestInfo test_sipsim_tests[] = {
    {"call", test_sipsim_call},
    {"callee_down", test_sipsim_callee_down},
    {"deterministic", test_sipsim_deterministic},
    {"scenario", test_sipsim_scenario},
    {"nat", test_sipsim_nat},
    CU_TEST_INFO_NULL,
};
