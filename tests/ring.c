/* ring.c — helpers shared by the core's test suites: a ring of peers on the fake env built
 * through the join protocol, an oracle for responsibility, and store/fetch round trips. */
#include "ring.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>



/* The configuration of every mk_node peer: node_new borrows it, so it lives for the program. */
static const struct node_config *ring_config(void)
{
    static struct node_config cfg;
    static bool done;
    if (!done) {
        node_config_default(&cfg);
        cfg.update_interval = 10 * ENV_S;
        cfg.ping_interval = 10 * ENV_S;
        cfg.partition_interval = 20 * ENV_S;
        done = true;
    }
    return &cfg;
}

struct node *mk_node(struct ring *r, unsigned i)
{
    char name[32];
    snprintf(name, sizeof name, "node-%u", i);
    struct id id = id_hash(name, strlen(name));
    r->h[i] = fake_net_add_host(r->net);
    r->h[i]->node = node_new(&r->h[i]->env, ring_config(), &id, &r->h[i]->addr);
    return r->h[i]->node;
}

/* n peers joining one after the other through peer 0 (the join protocol, §10.5). */
void ring_build(struct ring *r, unsigned n)
{
    r->net = fake_net_new(LAT);
    r->n = n;
    for (unsigned i = 0; i < n; i++) {
        struct node *nd = mk_node(r, i);
        CU_ASSERT_EQUAL_FATAL(node_join(nd, i ? &r->h[0]->addr : NULL), NODE_OK);
        fake_net_run_until(r->net, fake_net_now(r->net) + 2 * ENV_S);
    }
    fake_net_run_until(r->net, fake_net_now(r->net) + 30 * ENV_S);
}

void ring_free(struct ring *r)
{
    for (unsigned i = 0; i < r->n; i++) {
        node_free(r->h[i]->node);
        r->h[i]->node = NULL;
    }
    /* Every timer belonged to a node: none may survive it. */
    CU_ASSERT_EQUAL(fake_net_pending_timers(r->net), 0);
    fake_net_free(r->net);
}

/* The live peer responsible for k: the first live id at or after k (§10.1). */
unsigned oracle(const struct ring *r, const struct id *k)
{
    int best = -1;
    struct id bd = {0, 0};
    for (unsigned i = 0; i < r->n; i++) {
        if (r->h[i]->down || !r->h[i]->node || !node_is_joined(r->h[i]->node))
            continue;
        struct id d = id_dist(k, node_id(r->h[i]->node));
        if (best < 0 || id_cmp(&d, &bd) < 0) {
            best = (int)i;
            bd = d;
        }
    }
    return (unsigned)best;
}

void on_fetch(void *ud, int status, const struct wire_fetch_ans *ans)
{
    struct fetch_result *f = ud;
    f->calls++;
    f->status = status;
    if (status == NODE_OK && ans->n_kinds && ans->kinds[0].n_values) {
        const struct wire_stored_data *d = &ans->kinds[0].values[0];
        snprintf(f->value, sizeof f->value, "%.*s", (int)d->value.len, (const char *)d->value.p);
        f->generation = ans->kinds[0].generation;
        f->n_values = ans->kinds[0].n_values;
    }
}

void on_store(void *ud, int status)
{
    *(int *)ud = status;
}

void on_app_attach(void *ud, int status, const struct id *node, const struct env_addr *addr)
{
    struct app_result *a = ud;
    a->calls++;
    a->status = status;
    if (node)
        a->node = *node;
    if (addr)
        a->addr = *addr;
}

int store_value(struct ring *r, unsigned via, const char *name, const char *value)
{
    struct id k = id_hash(name, strlen(name));
    struct node_value v = {.value = (const uint8_t *)value, .value_len = (uint32_t)strlen(value),
                           .exists = true, .lifetime = 3600};
    int status = 99;
    CU_ASSERT_EQUAL(node_store(r->h[via]->node, &k, NODE_KIND_VALUE, &v, 1, on_store, &status),
                    NODE_OK);
    fake_net_run_until(r->net, fake_net_now(r->net) + 20 * ENV_S);
    return status;
}

struct fetch_result fetch_value(struct ring *r, unsigned via, const char *name)
{
    struct fetch_result f = {0};
    struct id k = id_hash(name, strlen(name));
    CU_ASSERT_EQUAL(node_fetch(r->h[via]->node, &k, NODE_KIND_VALUE, 2, on_fetch, &f), NODE_OK);
    fake_net_run_until(r->net, fake_net_now(r->net) + 20 * ENV_S);
    CU_ASSERT_EQUAL(f.calls, 1);
    return f;
}

unsigned holders(const struct ring *r, const char *name)
{
    struct id k = id_hash(name, strlen(name));
    unsigned n = 0;
    for (unsigned i = 0; i < r->n; i++)
        n += !r->h[i]->down && r->h[i]->node && node_holds(r->h[i]->node, &k, NODE_KIND_VALUE);
    return n;
}

