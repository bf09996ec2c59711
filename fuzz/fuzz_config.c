/* fuzz_config.c — libFuzzer target for the overlay configuration document (config/config.h,
 * RFC 6940 §11.1, grammar §11.1.1), which a peer also receives from other peers in a
 * ConfigUpdate (§6.5.4) and so must parse safely whatever it holds.
 *
 * Input: the document.  It is parsed with config_parse() (the first configuration); when it
 * parses, it is applied to a node configuration, its settings are listed, and the ConfigUpdate
 * path (config_node_parse, selecting the configuration by overlay hash) must accept the same
 * bytes.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../config/config.h"
#include "../core/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *err = NULL;
    struct config *c = config_parse((const char *)data, size, "fuzz.xml", NULL, &err);
    if (!c) {
        if (!err) {
            fprintf(stderr, "fuzz_config: config_parse failed without an error\n");
            abort();
        }
        g_error_free(err);
        return 0;
    }
    struct node_config cfg;
    node_config_default(&cfg);
    config_apply(c, &cfg);
    size_t n = 0;
    const struct config_setting *s = config_settings(c, &n);
    (void)s;
    struct node_config_doc doc;
    if (config_node_parse(NULL, data, size, cfg.overlay, &doc) != 0) {
        fprintf(stderr, "fuzz_config: a document config_parse accepts is refused in a "
                        "ConfigUpdate\n");
        abort();
    }
    config_free(c);
    return 0;
}
