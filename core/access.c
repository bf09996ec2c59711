/* access.c — RFC 6940 §7.3 access-control policies (see access.h). */
#include "access.h"

#include <string.h>

static bool hash_is(const uint8_t *name, size_t len, const uint8_t *resource, size_t resource_len)
{
    if (resource_len != ID_BYTES)
        return false;
    struct id h = id_hash(name, len);
    uint8_t b[ID_BYTES];
    id_to_bytes(&h, b);
    return memcmp(b, resource, ID_BYTES) == 0;
}

static bool user_matches(const struct node_signer *who, const uint8_t *resource, size_t rlen)
{
    return who->has_user && rlen == ID_BYTES && memcmp(who->user_hash, resource, ID_BYTES) == 0;
}

static bool key_is_node(const struct wire_stored_data *d, const uint8_t nb[ID_BYTES])
{
    return d && d->model == WIRE_MODEL_DICTIONARY && d->key.len == ID_BYTES &&
           memcmp(d->key.p, nb, ID_BYTES) == 0;
}

int access_check(uint8_t policy, uint32_t max_node_multiple, const uint8_t *resource,
                 size_t resource_len, const struct wire_stored_data *d,
                 const struct node_signer *who)
{
    if (!who)
        return ACCESS_E_DENIED;
    uint8_t nb[ID_BYTES + 4];
    id_to_bytes(&who->node, nb);
    bool ok = false;
    switch (policy) {
    case NODE_ACCESS_OPEN:
        ok = true;
        break;
    case NODE_ACCESS_USER_MATCH:
        ok = user_matches(who, resource, resource_len);
        break;
    case NODE_ACCESS_NODE_MATCH:
        ok = hash_is(nb, ID_BYTES, resource, resource_len);
        break;
    case NODE_ACCESS_USER_NODE_MATCH:
        ok = key_is_node(d, nb) && user_matches(who, resource, resource_len);
        break;
    case NODE_ACCESS_NODE_KEY_MATCH:
        ok = key_is_node(d, nb);
        break;
    case NODE_ACCESS_NODE_MULTIPLE:
        for (uint32_t i = 1; !ok && i <= max_node_multiple; i++) {
            nb[16] = (uint8_t)(i >> 24);
            nb[17] = (uint8_t)(i >> 16);
            nb[18] = (uint8_t)(i >> 8);
            nb[19] = (uint8_t)i;
            ok = hash_is(nb, sizeof nb, resource, resource_len);
        }
        break;
    }
    return ok ? ACCESS_OK : ACCESS_E_DENIED;
}

const char *access_name(uint8_t policy)
{
    switch (policy) {
    case NODE_ACCESS_OPEN:
        return "OPEN";
    case NODE_ACCESS_USER_MATCH:
        return "USER-MATCH";
    case NODE_ACCESS_NODE_MATCH:
        return "NODE-MATCH";
    case NODE_ACCESS_USER_NODE_MATCH:
        return "USER-NODE-MATCH";
    case NODE_ACCESS_NODE_MULTIPLE:
        return "NODE-MULTIPLE";
    case NODE_ACCESS_NODE_KEY_MATCH:
        return "NODE-KEY-MATCH";
    default:
        return "?";
    }
}
