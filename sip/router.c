/* router.c — one SIP socket in front of several SIP adapters (router.h): the seed draft's
 * §6.5 (a peer in several overlays, each serving a SIP domain).  Dispatch by the response's
 * Via branch, else the Request-URI's or To URI's host; see router.h.
 */
#include "router.h"

#include <glib.h>
#include <osipparser2/osip_parser.h>
#include <string.h>

struct sip_router_entry {
    char *domain;
    struct sip_registrar *reg;
    uint64_t count;
};

struct sip_router {
    GArray *entries; /* struct sip_router_entry, in the order added */
};

struct sip_router *sip_router_new(void)
{
    struct sip_router *rt = g_new0(struct sip_router, 1);
    rt->entries = g_array_new(FALSE, TRUE, sizeof(struct sip_router_entry));
    return rt;
}

void sip_router_free(struct sip_router *rt)
{
    if (!rt)
        return;
    for (guint i = 0; i < rt->entries->len; i++)
        g_free(g_array_index(rt->entries, struct sip_router_entry, i).domain);
    g_array_free(rt->entries, TRUE);
    g_free(rt);
}

void sip_router_add(struct sip_router *rt, const char *domain, struct sip_registrar *r)
{
    struct sip_router_entry e = {.domain = g_strdup(domain), .reg = r};
    g_array_append_val(rt->entries, e);
}

uint64_t sip_router_count(const struct sip_router *rt, unsigned i)
{
    return i < rt->entries->len ? g_array_index(rt->entries, struct sip_router_entry, i).count : 0;
}

/* The adapter serving domain host, or -1. */
static int by_domain(const struct sip_router *rt, const char *host)
{
    for (guint i = 0; host && i < rt->entries->len; i++)
        if (g_ascii_strcasecmp(g_array_index(rt->entries, struct sip_router_entry, i).domain,
                               host) == 0)
            return (int)i;
    return -1;
}

/* The adapter whose "-N-" a branch carries after "z9hG4bKp2p" or "z9hG4bKp2s", or -1. */
static int by_branch(const struct sip_router *rt, const char *branch)
{
    if (!branch || strlen(branch) < 11 || strncmp(branch, "z9hG4bKp2", 9) != 0 ||
        (branch[9] != 'p' && branch[9] != 's') || branch[10] != '-')
        return -1;
    const char *p = branch + 11;
    unsigned n = 0, digits = 0;
    while (g_ascii_isdigit(*p) && digits < 6) {
        n = n * 10 + (unsigned)(*p++ - '0');
        digits++;
    }
    return digits && *p == '-' && n < rt->entries->len ? (int)n : -1;
}

static int pick(const struct sip_router *rt, osip_message_t *m)
{
    if (MSG_IS_RESPONSE(m)) {
        osip_via_t *v = osip_list_get(&m->vias, 0);
        osip_generic_param_t *b = NULL;
        if (v && osip_via_param_get_byname(v, "branch", &b) >= 0 && b)
            return by_branch(rt, b->gvalue);
        return -1;
    }
    int i = m->req_uri ? by_domain(rt, m->req_uri->host) : -1;
    if (i < 0 && m->to && m->to->url)
        i = by_domain(rt, m->to->url->host);
    return i;
}

void sip_router_receive(struct sip_router *rt, const struct env_addr *from, const uint8_t *buf,
                        size_t len)
{
    if (rt->entries->len == 0)
        return;
    int i = -1;
    if (rt->entries->len > 1) {
        osip_message_t *m = NULL;
        if (osip_message_init(&m) == 0 && osip_message_parse(m, (const char *)buf, len) == 0)
            i = pick(rt, m);
        osip_message_free(m);
    }
    struct sip_router_entry *e =
        &g_array_index(rt->entries, struct sip_router_entry, i < 0 ? 0 : (unsigned)i);
    e->count++;
    sip_registrar_receive(e->reg, from, buf, len);
}
