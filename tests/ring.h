/* ring.h — test helpers: a CHORD-RELOAD ring on the fake environment (see ring.c). */
#ifndef P2PSIP_TESTS_RING_H
#define P2PSIP_TESTS_RING_H

#include "../core/node.h"
#include "fake_env.h"

#define LAT (20 * ENV_MS)

struct ring {
    struct fake_net *net;
    struct fake_host *h[64];
    unsigned n;
};

/* Adds host i with Node-ID SHA-1("node-<i>") and a node with 10 s stabilization periods. */
struct node *mk_node(struct ring *r, unsigned i);
/* n peers joining one after the other through peer 0, then 30 s of settling. */
void ring_build(struct ring *r, unsigned n);
/* Frees every node, checks that no timer survived them, frees the network. */
void ring_free(struct ring *r);
/* Index of the live, joined peer responsible for k (§10.1). */
unsigned oracle(const struct ring *r, const struct id *k);

struct fetch_result {
    int calls, status;
    char value[64];
    uint64_t generation;
    uint32_t n_values;
};
/* Stores VALUE (kind NODE_KIND_VALUE, 1 h) at SHA-1(name) through peer via; returns status. */
int store_value(struct ring *r, unsigned via, const char *name, const char *value);
/* Fetches NODE_KIND_VALUE at SHA-1(name) through peer via. */
struct fetch_result fetch_value(struct ring *r, unsigned via, const char *name);
void on_fetch(void *ud, int status, const struct wire_fetch_ans *ans);
void on_store(void *ud, int status);
/* What a node_app_attach completion reported (on_app_attach counts the calls). */
struct app_result {
    int calls, status;
    struct id node;
    struct env_addr addr;
};
void on_app_attach(void *ud, int status, const struct id *node, const struct env_addr *addr);
/* Live peers holding a value at SHA-1(name). */
unsigned holders(const struct ring *r, const char *name);

#endif
