/* test_config.c — CUnit suite for the overlay configuration document (config/config.h, RFC 6940
 * §11.1) and what the core does with it (§6.3.2 overlay hash, §6.3.2.1 configuration
 * sequences, §6.5.4 ConfigUpdate, §7.4.1 kind limits), the latter on the fake network.
 *
 * Covers: the shipped docs/overlay-example.xml; a document in the RFC's own style (several
 * configurations, signatures, foreign elements and attributes, credentials kept); every
 * refusal naming FILE:LINE:COLUMN and the element; config_apply() and the scenario settings;
 * the ConfigUpdateReq codec; another overlay's messages counted and dropped without an ACK;
 * max-size and max-count enforced by the storing peer; a newer document spreading through a
 * ring by ConfigUpdate, kinds included; signed configurations (sec/confsig.h, §11.1): the
 * exact byte spans signed, sign then verify, a changed byte, a signer not listed, a signer of
 * another CA or overlay, a <bad-node> signer, an unsigned document, self-signed mode,
 * re-signing in place, and ConfigUpdate through sec/confsig.h's guard on the fake network (a
 * tampered or re-signed newer document refused, the signer's adopted).  Tests run from the repository root.
 */
#include <CUnit/CUnit.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "../config/config.h"
#include "../core/node.h"
#include "../core/wire.h"
#include "../sec/confsig.h"
#include "../sim/scenario.h"
#include "../sim/world.h"
#include "fake_env.h"
#include "ring.h"

/* ---- documents ----------------------------------------------------------------------------- */

#define HEAD                                                                                       \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                                 \
    "<overlay xmlns=\"urn:ietf:params:xml:ns:p2p:config-base\"\n"                                  \
    "         xmlns:chord=\"urn:ietf:params:xml:ns:p2p:config-chord\"\n"                           \
    "         xmlns:p2psip=\"tag:p2psip.example,2025:config\">\n"
/* Line 5 opens the configuration; the body starts on line 6. */
#define CONF(body)                                                                                 \
    HEAD "<configuration instance-name=\"t.example\" sequence=\"7\">\n" body                       \
         "</configuration>\n</overlay>\n"
#define KIND(attrs, body)                                                                          \
    "<required-kinds>\n<kind-block>\n<kind " attrs ">\n" body "</kind>\n</kind-block>\n"           \
    "</required-kinds>\n"
#define KIND_OK_BODY                                                                               \
    "<data-model>ARRAY</data-model>\n<access-control>NODE-MATCH</access-control>\n"                \
    "<max-count>2</max-count>\n<max-size>8</max-size>\n"

static struct config *parse_ok(const char *text, const char *instance)
{
    GError *err = NULL;
    struct config *c = config_parse(text, strlen(text), "t.xml", instance, &err);
    if (!c) {
        fprintf(stderr, "\nunexpected error: %s\n", err->message);
        g_error_free(err);
    }
    return c;
}

/* Parsing fails with a message that starts with `prefix` and contains `part`. */
static void parse_fails(const char *text, const char *instance, const char *prefix,
                        const char *part)
{
    GError *err = NULL;
    struct config *c = config_parse(text, strlen(text), "t.xml", instance, &err);
    CU_ASSERT_PTR_NULL(c);
    config_free(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_EQUAL(err->domain, CONFIG_ERROR);
    bool ok = g_str_has_prefix(err->message, prefix) && strstr(err->message, part);
    if (!ok)
        fprintf(stderr, "\nmessage: %s\nwanted: %s ... %s\n", err->message, prefix, part);
    CU_ASSERT(ok);
    g_error_free(err);
}

static const char *setting(const struct config *c, const char *key)
{
    size_t n;
    const struct config_setting *s = config_settings(c, &n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s[i].key, key))
            return s[i].value;
    return NULL;
}

/* ---- parsing ------------------------------------------------------------------------------- */

static void test_example(void)
{
    GError *err = NULL;
    struct config *c = config_load("docs/overlay-example.xml", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->instance_name, "p2psip.example");
    CU_ASSERT_EQUAL(c->overlay, id_overlay_hash("p2psip.example"));
    CU_ASSERT_EQUAL(c->sequence, 1);
    CU_ASSERT_EQUAL(c->topology, NODE_TOPOLOGY_CHORD);
    CU_ASSERT_EQUAL(c->n_configurations, 1);
    CU_ASSERT_EQUAL_FATAL(c->n_kinds, 2);
    CU_ASSERT_EQUAL(c->kinds[0].id, NODE_KIND_SIP_REGISTRATION);
    CU_ASSERT_EQUAL(c->kinds[0].model, WIRE_MODEL_DICTIONARY);
    CU_ASSERT_EQUAL(c->kinds[0].max_count, 10);
    CU_ASSERT_EQUAL(c->kinds[0].max_size, 2048);
    CU_ASSERT_STRING_EQUAL(c->kind_info[0].name, "SIP-REGISTRATION");
    CU_ASSERT_EQUAL(c->kind_info[0].access, CONFIG_ACCESS_USER_NODE_MATCH);
    CU_ASSERT_EQUAL(c->kinds[1].id, NODE_KIND_VALUE);
    CU_ASSERT_EQUAL(c->kinds[1].model, WIRE_MODEL_SINGLE);
    CU_ASSERT_EQUAL_FATAL(c->bootstraps->len, 1);
    const struct config_bootstrap *b = &g_array_index(c->bootstraps, struct config_bootstrap, 0);
    CU_ASSERT(b->is_v4 && b->addr.ip == 0x7f000001u && b->addr.port == 6084);
    CU_ASSERT(c->self_signed_permitted);
    CU_ASSERT_STRING_EQUAL(c->self_signed_digest, "sha1");
    CU_ASSERT_STRING_EQUAL(setting(c, "overlay.name"), "p2psip.example");
    CU_ASSERT_STRING_EQUAL(setting(c, "overlay.topology"), "chord");
    CU_ASSERT_STRING_EQUAL(setting(c, "overlay.update_interval"), "60s");
    CU_ASSERT_STRING_EQUAL(setting(c, "overlay.reliability_timer"), "3000ms");
    CU_ASSERT_STRING_EQUAL(setting(c, "overlay.replicas"), "2");
    CU_ASSERT_PTR_NULL(setting(c, "overlay.bamboo.leaf_set")); /* not given */
    config_free(c);
}

/* The RFC's example in spirit: two configurations, signatures, credentials, foreign elements
 * and attributes, a kind signature, IPv6 bootstrap nodes. */
static const char rfc_style[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<overlay xmlns=\"urn:ietf:params:xml:ns:p2p:config-base\"\n"
    "   xmlns:ext=\"urn:ietf:params:xml:ns:p2p:config-ext1\"\n"
    "   xmlns:chord=\"urn:ietf:params:xml:ns:p2p:config-chord\">\n"
    "   <configuration instance-name=\"overlay.example.org\" sequence=\"22\"\n"
    "       expiration=\"2002-10-10T07:00:00Z\" ext:ext-example=\"stuff\" >\n"
    "       <topology-plugin> CHORD-RELOAD </topology-plugin>\n"
    "       <node-id-length>16</node-id-length>\n"
    "       <root-cert>\n  MIIDJDCCAo2g\n  AwIBAgIBADAN\n       </root-cert>\n"
    "       <root-cert> YmFkIGNlcnQK </root-cert>\n"
    "       <enrollment-server>https://example.org</enrollment-server>\n"
    "       <enrollment-server>https://example.net</enrollment-server>\n"
    "       <self-signed-permitted\n                 "
    "digest=\"sha1\">false</self-signed-permitted>\n"
    "       <bootstrap-node address=\"192.0.0.1\" port=\"6084\" />\n"
    "       <bootstrap-node address=\"192.0.2.2\" />\n"
    "       <bootstrap-node address=\"2001:DB8::1\" port=\"6084\" />\n"
    "       <turn-density> 20 </turn-density>\n"
    "       <clients-permitted> false </clients-permitted>\n"
    "       <no-ice> false </no-ice>\n"
    "       <chord:chord-update-interval>\n           400</chord:chord-update-interval>\n"
    "       <chord:chord-ping-interval>30</chord:chord-ping-interval>\n"
    "       <chord:chord-reactive> true </chord:chord-reactive>\n"
    "       <shared-secret> password </shared-secret>\n"
    "       <max-message-size>4000</max-message-size>\n"
    "       <initial-ttl> 30 </initial-ttl>\n"
    "       <overlay-reliability-timer> 3000 </overlay-reliability-timer>\n"
    "       <overlay-link-protocol>TLS</overlay-link-protocol>\n"
    "       <configuration-signer>47112162e84c69ba</configuration-signer>\n"
    "       <kind-signer> 47112162e84c69ba </kind-signer>\n"
    "       <kind-signer> 6eba45d31a900c06 </kind-signer>\n"
    "       <bad-node> 6ebc45d31a900c06 </bad-node>\n"
    "       <ext:example-extension> foo <ext:inner/> </ext:example-extension>\n"
    "       <required-kinds>\n"
    "         <kind-block>\n"
    "           <kind name=\"SIP-REGISTRATION\">\n"
    "               <data-model>DICTIONARY</data-model>\n"
    "               <access-control>USER-MATCH</access-control>\n"
    "               <max-count>1</max-count>\n"
    "               <max-size>100</max-size>\n"
    "           </kind>\n"
    "           <kind-signature>\n   VGhpcyBpcyBub3QgcmlnaHQhCg==\n   </kind-signature>\n"
    "         </kind-block>\n"
    "         <kind-block>\n"
    "           <kind id=\"0xf0000100\">\n"
    "               <data-model>ARRAY</data-model>\n"
    "               <access-control>NODE-MULTIPLE</access-control>\n"
    "               <max-node-multiple>3</max-node-multiple>\n"
    "               <max-count>22</max-count>\n"
    "               <max-size>4</max-size>\n"
    "               <ext:example-kind-extension> 1 </ext:example-kind-extension>\n"
    "           </kind>\n"
    "         </kind-block>\n"
    "       </required-kinds>\n"
    "   </configuration>\n"
    "   <signature> VGhpcyBpcyBub3QgcmlnaHQhCg== </signature>\n"
    "   <configuration instance-name=\"other.example.net\">\n"
    "   </configuration>\n"
    "   <signature> VGhpcyBpcyBub3QgcmlnaHQhCg== </signature>\n"
    "</overlay>\n";

static void test_rfc_style(void)
{
    struct config *c = parse_ok(rfc_style, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->instance_name, "overlay.example.org");
    CU_ASSERT_EQUAL(c->n_configurations, 2);
    CU_ASSERT_EQUAL(c->sequence, 22);
    CU_ASSERT_STRING_EQUAL(c->expiration, "2002-10-10T07:00:00Z");
    CU_ASSERT_STRING_EQUAL(c->signature, "VGhpcyBpcyBub3QgcmlnaHQhCg==");
    CU_ASSERT_EQUAL(c->root_certs->len, 2);
    CU_ASSERT_STRING_EQUAL(c->root_certs->pdata[0], "MIIDJDCCAo2gAwIBAgIBADAN");
    CU_ASSERT_EQUAL(c->enrollment_servers->len, 2);
    CU_ASSERT_FALSE(c->self_signed_permitted);
    CU_ASSERT_EQUAL(c->kind_signers->len, 2);
    CU_ASSERT_STRING_EQUAL(c->kind_signers->pdata[1], "6eba45d31a900c06");
    CU_ASSERT_EQUAL(c->configuration_signers->len, 1);
    CU_ASSERT_EQUAL(c->bad_nodes->len, 1);
    CU_ASSERT_STRING_EQUAL(c->shared_secret, "password");
    CU_ASSERT_EQUAL(c->turn_density, 20);
    CU_ASSERT_FALSE(c->clients_permitted);
    CU_ASSERT_EQUAL(c->max_message_size, 4000);
    CU_ASSERT_EQUAL(c->initial_ttl, 30);
    CU_ASSERT_EQUAL(c->chord_update_interval, 400);
    CU_ASSERT_EQUAL(c->chord_ping_interval, 30);
    CU_ASSERT_EQUAL_FATAL(c->bootstraps->len, 3);
    const struct config_bootstrap *b = &g_array_index(c->bootstraps, struct config_bootstrap, 1);
    CU_ASSERT(b->is_v4 && b->addr.ip == 0xc0000202u && b->addr.port == CONFIG_DEFAULT_PORT);
    b = &g_array_index(c->bootstraps, struct config_bootstrap, 2);
    CU_ASSERT(!b->is_v4 && !strcmp(b->address, "2001:DB8::1"));
    CU_ASSERT_EQUAL_FATAL(c->n_kinds, 2);
    CU_ASSERT_STRING_EQUAL(c->kind_info[0].signature, "VGhpcyBpcyBub3QgcmlnaHQhCg==");
    CU_ASSERT_EQUAL(c->kinds[1].id, 0xf0000100u);
    CU_ASSERT_EQUAL(c->kinds[1].max_count, 22);
    CU_ASSERT_EQUAL(c->kind_info[1].access, CONFIG_ACCESS_NODE_MULTIPLE);
    CU_ASSERT_EQUAL(c->kind_info[1].max_node_multiple, 3);
    CU_ASSERT_STRING_EQUAL(setting(c, "overlay.update_interval"), "400s");
    CU_ASSERT_STRING_EQUAL(setting(c, "overlay.reactive"), "true");
    config_free(c);

    c = parse_ok(rfc_style, "other.example.net");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->sequence, 0);
    CU_ASSERT_EQUAL(c->n_kinds, 0);
    CU_ASSERT_EQUAL(c->initial_ttl, 100); /* the RFC's default */
    config_free(c);
    parse_fails(rfc_style, "missing.example",
                "t.xml: no <configuration> with instance-name "
                "'missing.example'",
                "'overlay.example.org', 'other.example.net'");

    /* The RFC's example also makes its extension mandatory, which p2psip does not support. */
    char *mandatory = g_strdup(rfc_style);
    char *at = strstr(mandatory, "       <bad-node>");
    GString *s = g_string_new_len(mandatory, at - mandatory);
    g_string_append(s, "       <mandatory-extension>\n urn:ietf:params:xml:ns:p2p:config-ext1\n"
                       "       </mandatory-extension>\n");
    g_string_append(s, at);
    parse_fails(s->str, NULL,
                "t.xml:5:4: <configuration>: mandatory-extension "
                "'urn:ietf:params:xml:ns:p2p:config-ext1' is not supported",
                "");
    g_string_free(s, TRUE);
    g_free(mandatory);
}

static void test_refusals(void)
{
    /* Unknown topology, with the element's line and column. */
    parse_fails(CONF("  <topology-plugin>PASTRY</topology-plugin>\n"), NULL,
                "t.xml:6:3: <topology-plugin>: unknown topology 'PASTRY'", "CHORD-RELOAD");
    /* Kinds: no data model, an unknown one, bad numbers, bad ids, a conflicting model. */
    parse_fails(
        CONF(KIND("id=\"4026531856\"", "<access-control>USER-MATCH</access-control>\n"
                                       "<max-count>1</max-count>\n<max-size>8</max-size>\n")),
        NULL, "t.xml:8:1: <kind>: kind 4026531856 has no <data-model>", "required");
    parse_fails(CONF(KIND("id=\"4026531856\"", "<data-model>TREE</data-model>\n")), NULL,
                "t.xml:9:1: <data-model>: unknown data model 'TREE'", "SINGLE, ARRAY");
    parse_fails(CONF(KIND("id=\"4026531856\"", "<max-size>12x</max-size>\n")), NULL,
                "t.xml:9:1: <max-size>: '12x' is not a number", "");
    parse_fails(CONF(KIND("id=\"2000\"", KIND_OK_BODY)), NULL,
                "t.xml:8:1: <kind>: id 2000 (0x7d0) is not a private-use Kind-ID", "name=");
    parse_fails(CONF(KIND("name=\"FOO\"", KIND_OK_BODY)), NULL,
                "t.xml:8:1: <kind>: kind name 'FOO' is not a Kind p2psip knows", "id=");
    parse_fails(CONF(KIND("name=\"SIP-REGISTRATION\"", KIND_OK_BODY)), NULL,
                "t.xml:8:1: <kind>: kind SIP-REGISTRATION has the data model DICTIONARY, not "
                "ARRAY",
                "");
    parse_fails(CONF(KIND("id=\"0xf0000001\"", KIND_OK_BODY)), NULL,
                "t.xml:8:1: <kind>: kind 0xf0000001 has the data model SINGLE, not ARRAY", "");
    parse_fails(CONF(KIND("id=\"0xf0000100\" name=\"SIP-REGISTRATION\"", KIND_OK_BODY)), NULL,
                "t.xml:8:1: <kind>: needs exactly one of", "");
    parse_fails(
        CONF(KIND("id=\"0xf0000100\"", "<data-model>ARRAY</data-model>\n"
                                       "<access-control>NODE-MULTIPLE</access-control>\n"
                                       "<max-count>2</max-count>\n<max-size>8</max-size>\n")),
        NULL, "t.xml:8:1: <kind>: access-control NODE-MULTIPLE needs <max-node-multiple>", "");
    parse_fails(CONF(KIND("id=\"0xf0000100\"", "<data-model>ARRAY</data-model>\n"
                                               "<access-control>ANYONE</access-control>\n")),
                NULL, "t.xml:10:1: <access-control>: unknown access control policy 'ANYONE'", "");
    /* Numbers and parameters. */
    parse_fails(CONF("\n  <initial-ttl>300</initial-ttl>\n"), NULL,
                "t.xml:7:3: <initial-ttl>: 300 is out of range (1..255)", "");
    parse_fails(CONF("<overlay-reliability-timer>150</overlay-reliability-timer>\n"), NULL,
                "t.xml:6:1: <overlay-reliability-timer>: 150 is out of range (200..", "");
    parse_fails(CONF("<chord:chord-reactive>yes</chord:chord-reactive>\n"), NULL,
                "t.xml:6:1: <chord:chord-reactive>: 'yes' is not a boolean", "");
    parse_fails(CONF("<p2psip:successors>4</p2psip:successors>\n"
                     "<p2psip:successors>5</p2psip:successors>\n"),
                NULL, "t.xml:7:1: <p2psip:successors>: given twice (first at line 6)", "");
    parse_fails(CONF("<p2psip:successors>2</p2psip:successors>\n"
                     "<p2psip:replicas>3</p2psip:replicas>\n"),
                NULL, "t.xml:7:1: <p2psip:replicas>: replicas (3) must not exceed successors (2)",
                "");
    parse_fails(CONF("<node-id-length>20</node-id-length>\n"), NULL,
                "t.xml:6:1: <node-id-length>: p2psip runs 16-byte", "not 20");
    parse_fails(CONF("<successors>4</successors>\n"), NULL,
                "t.xml:6:1: <successors>: unknown element inside <configuration>", "");
    parse_fails(CONF("<p2psip:fingers>4</p2psip:fingers>\n"), NULL,
                "t.xml:6:1: <p2psip:fingers>: unknown element inside <configuration>", "");
    parse_fails(CONF("<initial-ttl><b>1</b></initial-ttl>\n"), NULL,
                "t.xml:6:14: <b>: unexpected inside <initial-ttl>", "");
    parse_fails(CONF("<enrollment-server>http://e.example</enrollment-server>\n"), NULL,
                "t.xml:6:1: <enrollment-server>: 'http://e.example' is not an https: URL", "");
    parse_fails(CONF("<bootstrap-node address=\"10.0.0.300\"/>\n"), NULL,
                "t.xml:6:1: <bootstrap-node>: address '10.0.0.300' is neither", "");
    parse_fails(CONF("<bootstrap-node address=\"10.0.0.3\" port=\"0\"/>\n"), NULL,
                "t.xml:6:1: <bootstrap-node>: attribute port: 0 is out of range (1..65535)", "");
    parse_fails(CONF("<bootstrap-node adress=\"10.0.0.3\"/>\n"), NULL,
                "t.xml:6:1: <bootstrap-node>: unknown attribute adress", "");
    /* The configuration element and the document. */
    parse_fails(HEAD "<configuration sequence=\"1\"/>\n</overlay>\n", NULL,
                "t.xml:5:1: <configuration>: missing attribute instance-name", "");
    parse_fails(HEAD "<configuration instance-name=\"a b\"/>\n</overlay>\n", NULL,
                "t.xml:5:1: <configuration>: instance-name 'a b' is not usable as a DNS name", "");
    parse_fails(HEAD "<configuration instance-name=\"a\" sequence=\"65535\"/>\n</overlay>\n", NULL,
                "t.xml:5:1: <configuration>: attribute sequence: 65535 is out of range", "");
    parse_fails(HEAD "<configuration instance-name=\"a\"/><configuration instance-name=\"a\"/>\n"
                     "</overlay>\n",
                NULL, "t.xml:5:35: <configuration>: a second configuration for instance-name 'a'",
                "");
    parse_fails(HEAD "</overlay>\n", NULL, "t.xml: no <configuration> element", "");
    parse_fails("<overlay><configuration instance-name=\"a\"/></overlay>", NULL,
                "t.xml:1:1: <overlay>: the root element must be <overlay xmlns=", "config-base");
    parse_fails(HEAD "<configuration instance-name=\"a\">\n<initial-ttl>5</initial-ttl\n", NULL,
                "t.xml:", "not well-formed XML");
    parse_fails(HEAD "<signature>AAAA</signature>\n</overlay>\n", NULL,
                "t.xml:5:1: <signature>: a signature must follow the <configuration>", "");
}

static void test_apply(void)
{
    struct config *c = parse_ok(
        CONF("<topology-plugin>BAMBOO</topology-plugin>\n"
             "<initial-ttl>40</initial-ttl>\n"
             "<overlay-reliability-timer>1500</overlay-reliability-timer>\n"
             "<chord:chord-update-interval>30</chord:chord-update-interval>\n"
             "<p2psip:replicas>3</p2psip:replicas>\n"
             "<p2psip:bamboo-leaf-set>4</p2psip:bamboo-leaf-set>\n"
             "<p2psip:bamboo-leafset-interval-ms>2500</p2psip:bamboo-leafset-interval-ms>\n"
             "<p2psip:bamboo-pns>false</p2psip:bamboo-pns>\n" KIND("id=\"0xf0000010\"",
                                                                   KIND_OK_BODY)),
        NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    struct node_config cfg;
    node_config_default(&cfg);
    config_apply(c, &cfg);
    CU_ASSERT_EQUAL(cfg.overlay, id_overlay_hash("t.example"));
    CU_ASSERT_EQUAL(cfg.config_seq, 7);
    CU_ASSERT_EQUAL(cfg.topology, NODE_TOPOLOGY_BAMBOO);
    CU_ASSERT_EQUAL(cfg.initial_ttl, 40);
    CU_ASSERT_EQUAL(cfg.reliability_timer, 1500 * ENV_MS);
    CU_ASSERT_EQUAL(cfg.update_interval, 30 * ENV_S);
    CU_ASSERT_EQUAL(cfg.ping_interval, 60 * ENV_S); /* not given: unchanged */
    CU_ASSERT_EQUAL(cfg.replicas, 3);
    CU_ASSERT_EQUAL(cfg.superpeer.replicas, 3);
    CU_ASSERT_EQUAL(cfg.bamboo.leaf_set, 4);
    CU_ASSERT_EQUAL(cfg.bamboo.leafset_interval, 2500 * ENV_MS);
    CU_ASSERT_FALSE(cfg.bamboo.pns);
    CU_ASSERT_EQUAL(cfg.n_kinds, 1);
    CU_ASSERT_PTR_EQUAL(cfg.kinds, c->kinds);
    CU_ASSERT_PTR_NOT_NULL(cfg.config_doc);
    CU_ASSERT_PTR_EQUAL(cfg.config_parse, config_node_parse);
    CU_ASSERT_STRING_EQUAL(setting(c, "overlay.topology"), "bamboo");
    CU_ASSERT_STRING_EQUAL(setting(c, "overlay.bamboo.leafset_interval"), "2500ms");
    CU_ASSERT_STRING_EQUAL(setting(c, "overlay.bamboo.pns"), "false");
    CU_ASSERT_PTR_NULL(setting(c, "overlay.successors"));
    /* The document's own parser, as a ConfigUpdate receiver uses it. */
    struct node_config_doc doc;
    CU_ASSERT_EQUAL(config_node_parse(NULL, cfg.config_doc, cfg.config_doc_len, cfg.overlay, &doc),
                    0);
    CU_ASSERT_EQUAL(doc.sequence, 7);
    CU_ASSERT_EQUAL(doc.n_kinds, 1);
    CU_ASSERT_EQUAL(doc.kinds[0].max_size, 8);
    CU_ASSERT(config_node_parse(NULL, cfg.config_doc, cfg.config_doc_len, 1234, &doc) < 0);
    CU_ASSERT(config_node_parse(NULL, (const uint8_t *)"<x>", 3, cfg.overlay, &doc) < 0);
    config_free(c);
}

/* ---- the ConfigUpdateReq codec (§6.5.4.1) --------------------------------------------------- */

static void test_wire(void)
{
    static const uint8_t doc[] = "<overlay/>";
    struct wire_config_update_req req = {.type = WIRE_CONFIG_UPDATE_CONFIG,
                                         .data = {doc, sizeof doc - 1}};
    GByteArray *b = g_byte_array_new();
    wire_encode_config_update_req(b, &req);
    /* type, uint32 length of the rest, config_data<0..2^24-1> */
    static const uint8_t want[] = {1,   0,   0,   0,   13,  0,   0,   10,  '<',
                                   'o', 'v', 'e', 'r', 'l', 'a', 'y', '/', '>'};
    CU_ASSERT_EQUAL_FATAL(b->len, sizeof want);
    CU_ASSERT(memcmp(b->data, want, sizeof want) == 0);
    struct wire_config_update_req got;
    CU_ASSERT_EQUAL(wire_decode_config_update_req(b->data, b->len, &got), 0);
    CU_ASSERT_EQUAL(got.type, WIRE_CONFIG_UPDATE_CONFIG);
    CU_ASSERT(got.data.len == 10 && memcmp(got.data.p, doc, 10) == 0);
    b->data[4] = 14; /* the length claims a byte more */
    CU_ASSERT(wire_decode_config_update_req(b->data, b->len, &got) < 0);
    b->data[4] = 13;
    b->data[0] = 0; /* invalidConfigUpdateType */
    CU_ASSERT(wire_decode_config_update_req(b->data, b->len, &got) < 0);
    /* kind: a sequence of KindDescription<0..2^16-1>. */
    static const uint8_t kinds[] = {0, 2, 'a', 'b', 0, 1, 'c'};
    g_byte_array_set_size(b, 0);
    req = (struct wire_config_update_req){.type = WIRE_CONFIG_UPDATE_KIND, .data = {kinds, 7}};
    wire_encode_config_update_req(b, &req);
    CU_ASSERT_EQUAL(wire_decode_config_update_req(b->data, b->len, &got), 0);
    CU_ASSERT_EQUAL(got.data.len, 7);
    b->data[b->len - 2] = 5; /* the last KindDescription runs past the vector */
    CU_ASSERT(wire_decode_config_update_req(b->data, b->len, &got) < 0);
    /* an unknown type keeps its raw contents */
    static const uint8_t other[] = {9, 0, 0, 0, 2, 'x', 'y'};
    CU_ASSERT_EQUAL(wire_decode_config_update_req(other, sizeof other, &got), 0);
    CU_ASSERT(got.type == 9 && got.data.len == 2);
    CU_ASSERT_STRING_EQUAL(wire_code_name(WIRE_CONFIG_UPDATE_REQ), "config_update_req");
    g_byte_array_free(b, TRUE);
}

/* ---- the core on the fake network ---------------------------------------------------------- */

static struct node *add_node(struct ring *r, unsigned i, const struct node_config *cfg)
{
    char name[32];
    snprintf(name, sizeof name, "node-%u", i);
    struct id id = id_hash(name, strlen(name));
    r->h[i] = fake_net_add_host(r->net);
    r->h[i]->node = node_new(&r->h[i]->env, cfg, &id, &r->h[i]->addr);
    if (i >= r->n)
        r->n = i + 1;
    return r->h[i]->node;
}

static void base_config(struct node_config *cfg, const struct config *doc)
{
    node_config_default(cfg);
    cfg->update_interval = 10 * ENV_S;
    cfg->ping_interval = 10 * ENV_S;
    if (doc)
        config_apply(doc, cfg);
}

/* n peers with configuration cfg joining through peer 0, then settling. */
static void build(struct ring *r, unsigned n, const struct node_config *cfg)
{
    r->net = fake_net_new(LAT);
    r->n = 0;
    for (unsigned i = 0; i < n; i++) {
        struct node *nd = add_node(r, i, cfg);
        CU_ASSERT_EQUAL_FATAL(node_join(nd, i ? &r->h[0]->addr : NULL), NODE_OK);
        fake_net_run_until(r->net, fake_net_now(r->net) + 2 * ENV_S);
    }
    fake_net_run_until(r->net, fake_net_now(r->net) + 20 * ENV_S);
}

static void test_other_overlay(void)
{
    struct ring r = {.net = fake_net_new(LAT)};
    struct node_config a_cfg, b_cfg;
    base_config(&a_cfg, NULL);
    base_config(&b_cfg, NULL);
    b_cfg.overlay = id_overlay_hash("elsewhere.example");
    struct node *a = add_node(&r, 0, &a_cfg);
    struct node *b = add_node(&r, 1, &b_cfg);
    CU_ASSERT_EQUAL(node_join(a, NULL), NODE_OK);
    CU_ASSERT_EQUAL(node_join(b, &r.h[0]->addr), NODE_OK);
    fake_net_run_until(r.net, 10 * ENV_S);
    const struct node_stats *s = node_get_stats(a);
    CU_ASSERT(s->dropped_overlay >= 1);
    CU_ASSERT_EQUAL(s->dropped_malformed, 0);
    CU_ASSERT_EQUAL(s->msgs_sent, 0); /* not even an ACK */
    CU_ASSERT_EQUAL(node_get_stats(b)->dropped_overlay, 0);
    CU_ASSERT_FALSE(node_is_joined(b));
    struct node_peer t[4];
    CU_ASSERT_EQUAL(node_routing_table(a, t, 4), 0);
    ring_free(&r);
}

struct store_result {
    int calls, status;
};

static void store_done(void *ud, int status)
{
    struct store_result *s = ud;
    s->calls++;
    s->status = status;
}

/* Stores one value through node `via` and waits for the answer; returns the status. */
static int store(struct ring *r, unsigned via, const char *name, uint32_t kind, uint32_t index,
                 size_t size, bool exists)
{
    struct id res = id_hash(name, strlen(name));
    uint8_t value[64];
    memset(value, 'v', sizeof value);
    g_assert(size <= sizeof value);
    struct node_value v = {.index = index,
                           .value = value,
                           .value_len = (uint32_t)size,
                           .exists = exists,
                           .lifetime = 600};
    struct store_result s = {0};
    int rc = node_store(r->h[via]->node, &res, kind, &v, 0, store_done, &s);
    if (rc != NODE_OK)
        return rc;
    fake_net_run_until(r->net, fake_net_now(r->net) + 20 * ENV_S);
    CU_ASSERT_EQUAL(s.calls, 1);
    return s.status;
}

#define KIND_LIMITS                                                                                \
    "<required-kinds>\n<kind-block><kind id=\"0xf0000001\"><data-model>SINGLE</data-model>"        \
    "<access-control>USER-MATCH</access-control><max-count>1</max-count>"                          \
    "<max-size>16</max-size></kind></kind-block>\n"                                                \
    "<kind-block><kind id=\"0xf0000010\">" KIND_OK_BODY "</kind></kind-block>\n"                   \
    "</required-kinds>\n"

static void test_kind_limits(void)
{
    struct config *doc = parse_ok(CONF(KIND_LIMITS), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    struct node_config cfg;
    base_config(&cfg, doc);
    struct ring r;
    build(&r, 5, &cfg);
    /* The origin checks its own limits... */
    CU_ASSERT_EQUAL(store(&r, 1, "k", NODE_KIND_VALUE, 0, 16, true), NODE_OK);
    CU_ASSERT_EQUAL(store(&r, 1, "k", NODE_KIND_VALUE, 0, 17, true), NODE_E_INVALID);
    CU_ASSERT_EQUAL(store(&r, 1, "a", 0xf0000020u, 0, 1, true), NODE_E_INVALID); /* unknown */
    /* ... and so does the storing peer: an origin whose kinds say 64 bytes is refused
     * (Error_Data_Too_Large). */
    struct node_kind lax[2];
    memcpy(lax, doc->kinds, sizeof lax);
    lax[0].max_size = 64;
    struct node_config lax_cfg = cfg;
    lax_cfg.kinds = lax;
    add_node(&r, 5, &lax_cfg);
    CU_ASSERT_EQUAL(node_join(r.h[5]->node, &r.h[0]->addr), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 10 * ENV_S);
    char name[16];
    for (unsigned i = 0;; i++) { /* a key the lax peer is not responsible for itself */
        snprintf(name, sizeof name, "big-%u", i);
        struct id k = id_hash(name, strlen(name));
        if (oracle(&r, &k) != 5)
            break;
    }
    CU_ASSERT_EQUAL(store(&r, 5, name, NODE_KIND_VALUE, 0, 40, true), NODE_E_REFUSED);
    CU_ASSERT_EQUAL(store(&r, 5, name, NODE_KIND_VALUE, 0, 16, true), NODE_OK);
    /* max-count 2 for the array kind: the values that would exist after the Store count. */
    CU_ASSERT_EQUAL(store(&r, 2, "arr", 0xf0000010u, 0, 8, true), NODE_OK);
    CU_ASSERT_EQUAL(store(&r, 2, "arr", 0xf0000010u, 1, 8, true), NODE_OK);
    CU_ASSERT_EQUAL(store(&r, 2, "arr", 0xf0000010u, 2, 8, true), NODE_E_REFUSED);
    CU_ASSERT_EQUAL(store(&r, 2, "arr", 0xf0000010u, 1, 4, true), NODE_OK);  /* overwrite */
    CU_ASSERT_EQUAL(store(&r, 2, "arr", 0xf0000010u, 0, 0, false), NODE_OK); /* remove */
    CU_ASSERT_EQUAL(store(&r, 2, "arr", 0xf0000010u, 2, 8, true), NODE_OK);
    CU_ASSERT_EQUAL(store(&r, 2, "arr", 0xf0000010u, 3, 9, true), NODE_E_INVALID); /* size */
    ring_free(&r);
    config_free(doc);
}

#define NEW_KIND                                                                                   \
    "<required-kinds>\n<kind-block><kind id=\"0xf0000010\">" KIND_OK_BODY "</kind></kind-block>\n" \
    "</required-kinds>\n"

static void test_config_update_spreads(void)
{
    struct config *old = parse_ok(CONF(""), NULL);
    char *newer_text = g_strdup(CONF(NEW_KIND));
    char *seq = strstr(newer_text, "sequence=\"7\"");
    seq[10] = '8';
    struct config *newer = parse_ok(newer_text, NULL);
    g_free(newer_text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(old);
    CU_ASSERT_PTR_NOT_NULL_FATAL(newer);
    CU_ASSERT_EQUAL(newer->sequence, 8);
    struct node_config cfg, new_cfg;
    base_config(&cfg, old);
    base_config(&new_cfg, newer);
    struct ring r;
    build(&r, 6, &cfg);
    const struct node_kind *shared_kinds = cfg.kinds;
    const uint8_t *shared_doc = cfg.config_doc;
    for (unsigned i = 0; i < r.n; i++)
        CU_ASSERT_EQUAL(node_config_sequence(r.h[i]->node), 7);
    /* The old peers do not know the new kind. */
    CU_ASSERT_EQUAL(store(&r, 1, "x", 0xf0000010u, 0, 8, true), NODE_E_INVALID);
    /* A peer started with the newer document joins; every message it exchanges shows it older
     * sequences, so it pushes its document, and the peers that adopt it push it on. */
    add_node(&r, 6, &new_cfg);
    CU_ASSERT_EQUAL(node_join(r.h[6]->node, &r.h[0]->addr), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 40 * ENV_S);
    uint64_t adopted = 0;
    for (unsigned i = 0; i < r.n; i++) {
        CU_ASSERT_EQUAL(node_config_sequence(r.h[i]->node), 8);
        adopted += node_get_stats(r.h[i]->node)->config_updates;
    }
    CU_ASSERT_EQUAL(adopted, 6); /* each old peer adopted it once */
    CU_ASSERT_EQUAL(node_get_stats(r.h[6]->node)->config_updates, 0);
    /* Each adopted it into its own copy: the configuration they share is untouched. */
    CU_ASSERT_EQUAL(cfg.config_seq, 7);
    CU_ASSERT_PTR_EQUAL(cfg.kinds, shared_kinds);
    CU_ASSERT_PTR_EQUAL(cfg.config_doc, shared_doc);
    /* The new kind works from any peer, with its limits. */
    for (unsigned i = 0; i < r.n; i++) {
        char name[16];
        snprintf(name, sizeof name, "x-%u", i);
        CU_ASSERT_EQUAL(store(&r, i, name, 0xf0000010u, 0, 8, true), NODE_OK);
    }
    CU_ASSERT_EQUAL(store(&r, 3, "x-0", 0xf0000010u, 1, 9, true), NODE_E_INVALID);
    /* A late peer with the old document is brought up to date as it joins. */
    add_node(&r, 7, &cfg);
    CU_ASSERT_EQUAL(node_join(r.h[7]->node, &r.h[2]->addr), NODE_OK);
    fake_net_run_until(r.net, fake_net_now(r.net) + 20 * ENV_S);
    CU_ASSERT_EQUAL(node_config_sequence(r.h[7]->node), 8);
    ring_free(&r);
    config_free(old);
    config_free(newer);
}

/* Peer 0 claims sequence 10 in its headers but holds document `doc`: it pushes doc to every
 * peer it hears from.  Returns the ring with peers 1.. configured by `cfgs`. */
static void pusher_ring(struct ring *r, const struct config *doc, uint32_t overlay,
                        const struct node_config *cfgs, unsigned n)
{
    /* Static: peer 0 borrows it for the ring's life, and each ring is freed before the next
     * call. */
    static struct node_config p;
    base_config(&p, doc);
    p.overlay = overlay;
    p.config_seq = 10;
    r->net = fake_net_new(LAT);
    r->n = 0;
    CU_ASSERT_EQUAL(node_join(add_node(r, 0, &p), NULL), NODE_OK);
    for (unsigned i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(node_join(add_node(r, i + 1, &cfgs[i]), &r->h[0]->addr), NODE_OK);
        fake_net_run_until(r->net, fake_net_now(r->net) + 2 * ENV_S);
    }
    fake_net_run_until(r->net, fake_net_now(r->net) + 20 * ENV_S);
    for (unsigned i = 0; i <= n; i++)
        CU_ASSERT(node_is_joined(r->h[i]->node));
}

static void test_config_update_refused(void)
{
    struct config *old = parse_ok(CONF(""), NULL); /* t.example, sequence 7 */
    struct config *other = parse_ok(
        HEAD "<configuration instance-name=\"u.example\" sequence=\"20\"/>\n</overlay>\n", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(old);
    CU_ASSERT_PTR_NOT_NULL_FATAL(other);
    /* Peer 1 follows sequence 9 (and pushes nothing itself): a document of sequence 7 is not
     * newer and is refused (Error_Config_Too_Old).  Peer 2 reads no documents at all. */
    struct node_config cfgs[2];
    base_config(&cfgs[0], old);
    cfgs[0].config_seq = 9;
    cfgs[0].config_doc = NULL;
    base_config(&cfgs[1], NULL);
    cfgs[1].overlay = old->overlay;
    cfgs[1].config_seq = 3;
    struct ring r;
    pusher_ring(&r, old, old->overlay, cfgs, 2);
    CU_ASSERT_EQUAL(node_config_sequence(r.h[1]->node), 9);
    CU_ASSERT_EQUAL(node_config_sequence(r.h[2]->node), 3);
    CU_ASSERT_EQUAL(node_get_stats(r.h[1]->node)->config_updates, 0);
    CU_ASSERT_EQUAL(node_get_stats(r.h[2]->node)->config_updates, 0);
    ring_free(&r);
    /* A document whose only configuration is another overlay's is refused, however new. */
    base_config(&cfgs[0], old);
    cfgs[0].config_seq = 1;
    cfgs[0].config_doc = NULL;
    pusher_ring(&r, other, old->overlay, cfgs, 1);
    CU_ASSERT_EQUAL(node_config_sequence(r.h[1]->node), 1);
    CU_ASSERT_EQUAL(node_get_stats(r.h[1]->node)->config_updates, 0);
    ring_free(&r);
    /* The same pusher with a valid newer document: adopted (the control). */
    struct config *newer = parse_ok(
        HEAD "<configuration instance-name=\"t.example\" sequence=\"20\"/>\n</overlay>\n", NULL);
    pusher_ring(&r, newer, old->overlay, cfgs, 1);
    CU_ASSERT_EQUAL(node_config_sequence(r.h[1]->node), 20);
    CU_ASSERT_EQUAL(node_get_stats(r.h[1]->node)->config_updates, 1);
    ring_free(&r);
    config_free(old);
    config_free(other);
    config_free(newer);
}

/* ---- the simulator: overlay.config --------------------------------------------------------- */

/* A temporary folder with doc.xml (body inside the configuration) and scen.yaml (overlay
 * section lines, each indented by two spaces). */
struct scen_dir {
    char *dir, *doc, *yaml;
};

static void scen_dir_make(struct scen_dir *d, const char *doc_body, const char *overlay_lines)
{
    d->dir = g_dir_make_tmp("test_config.XXXXXX", NULL);
    g_assert(d->dir);
    d->doc = g_build_filename(d->dir, "doc.xml", NULL);
    d->yaml = g_build_filename(d->dir, "scen.yaml", NULL);
    char *doc = g_strdup_printf(CONF("%s"), doc_body);
    char *yaml = g_strdup_printf("name: cfg\nduration: 20s\npeers: 30\n"
                                 "overlay:\n  config: doc.xml\n%s"
                                 "workload:\n  start: 2s\n  lookups: 50\n",
                                 overlay_lines);
    g_assert(g_file_set_contents(d->doc, doc, -1, NULL));
    g_assert(g_file_set_contents(d->yaml, yaml, -1, NULL));
    g_free(doc);
    g_free(yaml);
}

static void scen_dir_free(struct scen_dir *d)
{
    g_unlink(d->doc);
    g_unlink(d->yaml);
    g_rmdir(d->dir);
    g_free(d->doc);
    g_free(d->yaml);
    g_free(d->dir);
}

static void scen_fails(const struct scen_dir *d, const char *const *overrides, const char *prefix,
                       const char *part)
{
    GError *err = NULL;
    struct scenario *sc = scenario_load(d->yaml, overrides, &err);
    CU_ASSERT_PTR_NULL(sc);
    scenario_free(sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    bool ok = g_str_has_prefix(err->message, prefix) && strstr(err->message, part);
    if (!ok)
        fprintf(stderr, "\nmessage: %s\nwanted: %s ... %s\n", err->message, prefix, part);
    CU_ASSERT(ok);
    g_error_free(err);
}

#define DOC_SIM                                                                                    \
    "<topology-plugin>BAMBOO</topology-plugin>\n"                                                  \
    "<chord:chord-update-interval>30</chord:chord-update-interval>\n"                              \
    "<p2psip:successors>6</p2psip:successors>\n"                                                   \
    "<p2psip:replicas>3</p2psip:replicas>\n"                                                       \
    "<p2psip:bamboo-leaf-set>5</p2psip:bamboo-leaf-set>\n" KIND_LIMITS

static void test_scenario_defaults(void)
{
    struct scen_dir d;
    scen_dir_make(&d, DOC_SIM, "  replicas: 1\n");
    GError *err = NULL;
    struct scenario *sc = scenario_load(d.yaml, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    CU_ASSERT_STRING_EQUAL(sc->overlay.name, "t.example");
    CU_ASSERT_STRING_EQUAL(sc->overlay.topology, "bamboo");
    CU_ASSERT_EQUAL(sc->overlay.successors, 6);
    CU_ASSERT_EQUAL(sc->overlay.replicas, 1); /* the scenario's own key wins */
    CU_ASSERT_EQUAL(sc->overlay.update_interval, 30 * ENV_S);
    CU_ASSERT_EQUAL(sc->overlay.ping_interval, 60 * ENV_S); /* not in the document */
    CU_ASSERT_EQUAL(sc->overlay.bamboo.leaf_set, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc->overlay.doc);
    char *yaml = scenario_to_yaml(sc);
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "  config: \"doc.xml\"\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "  topology: \"bamboo\"\n"));
    g_free(yaml);
    /* The simulated peers follow the document: its sequence and its kinds' limits. */
    struct world *w = world_new(sc, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    world_run_until(w, 3 * ENV_S);
    struct node *n = world_node(w, 0);
    CU_ASSERT_EQUAL(node_config_sequence(n), 7);
    struct id res = id_hash("k", 1);
    uint8_t v[17] = {0};
    struct node_value val = {.value = v, .value_len = 17, .exists = true, .lifetime = 60};
    CU_ASSERT_EQUAL(node_store(n, &res, NODE_KIND_VALUE, &val, 0, NULL, NULL), NODE_E_INVALID);
    val.value_len = 16;
    CU_ASSERT_EQUAL(node_store(n, &res, NODE_KIND_VALUE, &val, 0, NULL, NULL), NODE_OK);
    CU_ASSERT_EQUAL(node_store(n, &res, 0xf0000010u, &val, 0, NULL, NULL), NODE_E_INVALID);
    val.value_len = 8;
    CU_ASSERT_EQUAL(node_store(n, &res, 0xf0000010u, &val, 0, NULL, NULL), NODE_OK);
    world_free(w);
    scenario_free(sc);
    /* --set wins over the document too; overlay.name picks a configuration by name. */
    sc = scenario_load(d.yaml, (const char *const[]){"overlay.successors=8", NULL}, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    CU_ASSERT_EQUAL(sc->overlay.successors, 8);
    scenario_free(sc);
    scen_fails(&d, (const char *const[]){"overlay.name=u.example", NULL}, d.yaml,
               "key 'overlay.config': ");
    scen_fails(&d, (const char *const[]){"overlay.name=u.example", NULL}, d.yaml,
               "no <configuration> with instance-name 'u.example'");
    /* A document value that breaks a scenario rule is named by its place in the document. */
    scen_fails(&d, (const char *const[]){"overlay.replicas=3", "overlay.successors=2", NULL},
               "--set overlay.replicas=3", "must not exceed");
    scen_dir_free(&d);
    scen_dir_make(&d, "<p2psip:replicas>3</p2psip:replicas>\n", "  successors: 2\n");
    char *where = g_strdup_printf("%s:6:1: key 'overlay.replicas': ", d.doc);
    scen_fails(&d, NULL, where, "must not exceed overlay.successors (2)");
    g_free(where);
    scen_dir_free(&d);
    /* A bad document is refused with the scenario's key and the document's position. */
    scen_dir_make(&d, "<topology-plugin>PASTRY</topology-plugin>\n", "");
    where = g_strdup_printf("%s:5:11: key 'overlay.config': %s:6:1: <topology-plugin>: ", d.yaml,
                            d.doc);
    scen_fails(&d, NULL, where, "unknown topology 'PASTRY'");
    g_free(where);
    scen_dir_free(&d);
}

/* Regression (found by fuzz/fuzz_config.c; fuzz/regress/config/utf8-lead-at-end): a document
 * ending in a UTF-8 lead byte right after a tag made the error position's walk step past the
 * buffer (read 2 bytes beyond it; AddressSanitizer catches it under SANITIZE=1).  It is refused
 * with a position like any malformed document. */
static void test_utf8_lead_at_end(void)
{
    static const char doc[] = "<!-->\n<o>\xf7";
    char *exact = g_memdup2(doc, sizeof doc - 1); /* no NUL after it: overreads are caught */
    GError *err = NULL;
    struct config *c = config_parse(exact, sizeof doc - 1, "t.xml", NULL, &err);
    CU_ASSERT_PTR_NULL(c);
    config_free(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_TRUE(g_str_has_prefix(err->message, "t.xml:"));
    g_error_free(err);
    g_free(exact);
}

/* ---- signed configurations (sec/confsig.h) ------------------------------------------------- */

#define SIG_NOW ((int64_t)1800000000) /* a fixed "now" (2027-01-15) */
#define SIG_DAY ((int64_t)86400)

static struct cred *sig_ca(const char *overlay)
{
    struct cred *ca = NULL;
    CU_ASSERT_EQUAL_FATAL(cred_ca_new(overlay, SIG_NOW - SIG_DAY, SIG_NOW + 365 * SIG_DAY, &ca), 0);
    return ca;
}

static struct cred *sig_user(const struct cred *ca, const char *user)
{
    struct cred *c = NULL;
    CU_ASSERT_EQUAL_FATAL(
        cred_enroll(ca, user, 1, NULL, SIG_NOW - SIG_DAY, SIG_NOW + 30 * SIG_DAY, &c), 0);
    return c;
}

/* A document of overlay t.example, sequence seq (and a second configuration, o.example) whose
 * <configuration-signer> lists `listed` (and whose <bad-node> lists `bad`, when given). */
static char *sig_doc_seq(const struct cred *listed, const struct cred *bad, unsigned seq)
{
    char hex[ID_HEX_LEN + 1], badhex[ID_HEX_LEN + 1] = "";
    id_to_hex(&listed->info.nodes[0], hex);
    if (bad)
        id_to_hex(&bad->info.nodes[0], badhex);
    return g_strdup_printf(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<b:overlay xmlns:b=\"urn:ietf:params:xml:ns:p2p:config-base\">\n"
        "  <!-- a comment with <b:configuration> inside -->\n"
        "  <b:configuration instance-name=\"t.example\" sequence=\"%u\">\n"
        "    <b:configuration-signer>%s</b:configuration-signer>\n"
        "    %s%s%s\n"
        "  </b:configuration>\n"
        "  <b:configuration instance-name=\"o.example\"/>\n"
        "</b:overlay>\n",
        seq, hex, bad ? "<b:bad-node>" : "", badhex, bad ? "</b:bad-node>" : "");
}

static char *sig_doc(const struct cred *listed, const struct cred *bad)
{
    return sig_doc_seq(listed, bad, 3);
}

/* Signs text with signer; the signed document (g_free). */
static char *sig_sign(const char *text, const struct cred *signer)
{
    GError *err = NULL;
    size_t len = 0;
    char *out = confsig_sign(text, strlen(text), "doc.xml", signer, NULL, &len, &err);
    if (!out)
        fprintf(stderr, "\nsign: %s\n", err->message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_EQUAL(strlen(out), len);
    return out;
}

/* Verifies text's configuration t.example against its own signers; NULL when it verifies,
 * else the error message (g_free). */
static char *sig_check(const char *text, const struct cred *anchor, struct confsig_signer *who)
{
    GError *err = NULL;
    struct config *c = config_parse(text, strlen(text), "doc.xml", "t.example", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char *msg = NULL;
    if (!confsig_verify(c, anchor, c->configuration_signers, "this configuration", c->bad_nodes,
                        SIG_NOW, who, &err)) {
        CU_ASSERT_EQUAL(err->domain, CONFSIG_ERROR);
        msg = g_strdup(err->message);
        g_error_free(err);
    }
    config_free(c);
    return msg;
}

static void expect_refusal(const char *text, const struct cred *anchor, const char *part)
{
    char *msg = sig_check(text, anchor, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
    if (!strstr(msg, part))
        fprintf(stderr, "\nmessage: %s\nwanted: %s\n", msg, part);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, part));
    g_free(msg);
}

static void test_signature_spans(void)
{
    const char *doc = "<?xml version=\"1.0\"?>\n"
                      "<overlay xmlns=\"urn:ietf:params:xml:ns:p2p:config-base\">\n"
                      "  <configuration instance-name=\"a.example\"><initial-ttl>9</initial-ttl>\n"
                      "  </configuration   >\n"
                      "  <signature algorithm=\"x>y\">QUJD\n  REVG</signature>\n"
                      "  <configuration instance-name=\"b.example\"/><signature>QQ==</signature>\n"
                      "</overlay>\n";
    GError *err = NULL;
    GPtrArray *all = config_parse_all(doc, strlen(doc), "t.xml", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(all);
    CU_ASSERT_EQUAL_FATAL(all->len, 2);
    const struct config *a = all->pdata[0], *b = all->pdata[1];
    const char *t = g_bytes_get_data(a->text, NULL);
    char *span = g_strndup(t + a->span_start, a->span_end - a->span_start);
    CU_ASSERT_STRING_EQUAL(span, "<configuration instance-name=\"a.example\"><initial-ttl>9"
                                 "</initial-ttl>\n  </configuration   >");
    g_free(span);
    span = g_strndup(t + a->sig_start, a->sig_end - a->sig_start);
    CU_ASSERT_STRING_EQUAL(span, "<signature algorithm=\"x>y\">QUJD\n  REVG</signature>");
    g_free(span);
    CU_ASSERT_STRING_EQUAL(a->signature, "QUJDREVG");
    CU_ASSERT(a->line == 3 && a->col == 3 && a->sig_line == 5 && a->sig_col == 3);
    span = g_strndup(t + b->span_start, b->span_end - b->span_start);
    CU_ASSERT_STRING_EQUAL(span, "<configuration instance-name=\"b.example\"/>");
    g_free(span);
    CU_ASSERT(b->line == 7 && b->col == 3 && b->sig_line == 7 && b->sig_col == 45);
    g_ptr_array_unref(all);
}

static void test_signature_verifies(void)
{
    struct cred *ca = sig_ca("t.example"), *signer = sig_user(ca, "signer");
    char *doc = sig_doc(signer, NULL), *signed_doc = sig_sign(doc, signer);
    /* The original bytes are kept; a <b:signature> follows each configuration. */
    CU_ASSERT_PTR_NOT_NULL(strstr(signed_doc, "  </b:configuration>\n  <b:signature>\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(signed_doc, "<b:configuration instance-name=\"o.example\"/>\n"
                                              "  <b:signature>"));
    struct confsig_signer who;
    char *msg = sig_check(signed_doc, ca, &who);
    if (msg)
        fprintf(stderr, "\nunexpected: %s\n", msg);
    CU_ASSERT_PTR_NULL(msg);
    CU_ASSERT(id_eq(&who.node, &signer->info.nodes[0]));
    CU_ASSERT_STRING_EQUAL(who.user, "signer");
    /* Signing again replaces the signatures in place: still one per configuration. */
    char *again = sig_sign(signed_doc, signer);
    CU_ASSERT_PTR_NULL(sig_check(again, ca, NULL));
    GError *err = NULL;
    GPtrArray *all = config_parse_all(again, strlen(again), "doc.xml", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(all);
    CU_ASSERT_EQUAL(all->len, 2);
    unsigned n_sig = 0;
    for (const char *q = again; (q = strstr(q, "<b:signature>")) != NULL; q++)
        n_sig++;
    CU_ASSERT_EQUAL(n_sig, 2);
    g_ptr_array_unref(all);
    g_free(again);
    /* Expired or not yet valid: the signer's certificate is checked at `now`. */
    struct config *c = config_parse(signed_doc, strlen(signed_doc), "doc.xml", NULL, &err);
    CU_ASSERT_FALSE(confsig_verify(c, ca, c->configuration_signers, "x", NULL,
                                   SIG_NOW + 60 * SIG_DAY, NULL, &err));
    CU_ASSERT_EQUAL(err ? err->code : 0, CONFSIG_E_UNTRUSTED);
    g_clear_error(&err);
    config_free(c);
    g_free(signed_doc);
    g_free(doc);
    cred_free(signer);
    cred_free(ca);
}

static void test_signature_refusals(void)
{
    struct cred *ca = sig_ca("t.example"), *signer = sig_user(ca, "signer");
    struct cred *peer = sig_user(ca, "peer"); /* of the CA, but not listed */
    struct cred *other_ca = sig_ca("t.example"), *mallory = sig_user(other_ca, "mallory");
    struct cred *o_ca = sig_ca("o.example"), *o_signer = sig_user(o_ca, "osigner");
    char *doc = sig_doc(signer, NULL), *signed_doc = sig_sign(doc, signer);

    /* Unsigned. */
    expect_refusal(doc, ca, "doc.xml:4:3: <configuration>: configuration 't.example' "
                            "(sequence 3) is not signed");
    /* One byte of the signed text changed: sequence 3 -> 4. */
    char *tampered = g_strdup(signed_doc);
    char *seq = strstr(tampered, "sequence=\"3\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(seq);
    seq[10] = '4';
    expect_refusal(tampered, ca, "doc.xml:8:3: <signature>: the signature does not verify over "
                                 "the <configuration> at line 4");
    /* Whitespace counts too (no canonical form, §11.1). */
    char *spaced = g_strdup(signed_doc);
    char *nl = strstr(spaced, "</b:configuration-signer>\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
    nl[strlen("</b:configuration-signer>")] = ' ';
    expect_refusal(spaced, ca, "does not verify");
    /* The signature's own text damaged. */
    char *garbled = g_strdup(signed_doc);
    char *b64 = strstr(garbled, "<b:signature>\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(b64);
    memcpy(b64 + strlen("<b:signature>\n      "), "!!!!", 4);
    char *msg = sig_check(garbled, ca, NULL);
    CU_ASSERT_PTR_NOT_NULL(msg);
    g_free(msg);
    /* A signer the CA certified but the configuration does not list. */
    char *by_peer = sig_sign(doc, peer);
    expect_refusal(by_peer, ca, "is not a <configuration-signer> of this configuration");
    /* A listed Node-ID cannot be borrowed: the same document listing mallory, signed by mallory
     * of another CA, against our CA. */
    char *doc_m = sig_doc(mallory, NULL), *by_mallory = sig_sign(doc_m, mallory);
    expect_refusal(by_mallory, ca, "certificate not signed by the overlay CA");
    CU_ASSERT_PTR_NULL(sig_check(by_mallory, other_ca, NULL)); /* fine for its own CA */
    /* A certificate of another overlay. */
    char *doc_o = sig_doc(o_signer, NULL), *by_o = sig_sign(doc_o, o_signer);
    expect_refusal(by_o, o_ca, "is one of overlay o.example, not t.example");
    /* The signer is a <bad-node>. */
    char *doc_bad = sig_doc(signer, signer), *by_bad = sig_sign(doc_bad, signer);
    expect_refusal(by_bad, ca, "is a <bad-node>");
    /* ConfigUpdate's rule: the signers of the configuration in force, not the new one's. */
    GError *err = NULL;
    struct config *c = config_parse(by_peer, strlen(by_peer), "ConfigUpdate", "t.example", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    GPtrArray *in_force = g_ptr_array_new_with_free_func(g_free);
    char hex[ID_HEX_LEN + 1];
    id_to_hex(&peer->info.nodes[0], hex);
    g_ptr_array_add(in_force, g_ascii_strup(hex, -1)); /* hex compares ignoring case */
    CU_ASSERT(confsig_verify(c, ca, in_force, "in force", NULL, SIG_NOW, NULL, &err));
    g_clear_error(&err);
    config_free(c);
    g_ptr_array_unref(in_force);

    g_free(by_bad);
    g_free(doc_bad);
    g_free(by_o);
    g_free(doc_o);
    g_free(by_mallory);
    g_free(doc_m);
    g_free(by_peer);
    g_free(garbled);
    g_free(spaced);
    g_free(tampered);
    g_free(signed_doc);
    g_free(doc);
    cred_free(o_signer);
    cred_free(o_ca);
    cred_free(mallory);
    cred_free(other_ca);
    cred_free(peer);
    cred_free(signer);
    cred_free(ca);
}

static void test_signature_self_signed(void)
{
    struct cred *self = NULL, *forger = NULL;
    CU_ASSERT_EQUAL_FATAL(
        cred_self_signed("t.example", "self", 1, SIG_NOW - SIG_DAY, SIG_NOW + SIG_DAY, &self), 0);
    CU_ASSERT_EQUAL_FATAL(
        cred_self_signed("t.example", "forger", 1, SIG_NOW - SIG_DAY, SIG_NOW + SIG_DAY, &forger),
        0);
    char *doc = sig_doc(self, NULL), *by_self = sig_sign(doc, self);
    char *by_forger = sig_sign(doc, forger);
    /* No CA: the Node-ID is the key's hash, so listing it names the key. */
    CU_ASSERT_PTR_NULL(sig_check(by_self, NULL, NULL));
    expect_refusal(by_forger, NULL, "is not a <configuration-signer>");
    GError *err = NULL;
    size_t len;
    GPtrArray *notes = g_ptr_array_new_with_free_func(g_free);
    char *out = confsig_sign(doc, strlen(doc), "doc.xml", forger, notes, &len, &err);
    CU_ASSERT_PTR_NOT_NULL(out);
    CU_ASSERT_EQUAL(notes->len, 2); /* neither configuration lists the forger */
    g_free(out);
    g_ptr_array_unref(notes);
    /* A signer without its key, or a document that does not parse, cannot sign. */
    CU_ASSERT_PTR_NULL(confsig_sign("<overlay/>", 10, "x.xml", self, NULL, &len, &err));
    CU_ASSERT_EQUAL(err ? err->code : 0, CONFSIG_E_INVALID);
    g_clear_error(&err);
    g_free(by_forger);
    g_free(by_self);
    g_free(doc);
    cred_free(forger);
    cred_free(self);
}

/* A ring of two on the fake network: peer 0 follows `pushed` but claims sequence 10 in its
 * headers, so it pushes `pushed` to peer 1, which follows `in_force` (not pushing it), with a
 * signature-checking guard (the overlay CA `ca`) when `guarded`.  Returns peer 1's guard (or
 * NULL); r is for ring_free. */
static struct confsig_guard *guarded_ring(struct ring *r, const struct config *pushed,
                                          const struct config *in_force, const struct cred *ca,
                                          bool guarded, struct node_config cfg[2])
{
    base_config(&cfg[0], pushed);
    cfg[0].config_seq = 10;
    base_config(&cfg[1], in_force);
    cfg[1].config_doc = NULL;
    struct confsig_guard *g = guarded ? confsig_guard_new(in_force, ca) : NULL;
    if (g)
        confsig_guard_install(g, &cfg[1]);
    r->net = fake_net_new(LAT);
    r->n = 0;
    CU_ASSERT_EQUAL(node_join(add_node(r, 0, &cfg[0]), NULL), NODE_OK);
    add_node(r, 1, &cfg[1]);
    if (g)
        confsig_guard_set_clock(g, &r->h[1]->env, SIG_NOW); /* the fake clock starts at 0 */
    CU_ASSERT_EQUAL(node_join(r->h[1]->node, &r->h[0]->addr), NODE_OK);
    fake_net_run_until(r->net, fake_net_now(r->net) + 20 * ENV_S);
    CU_ASSERT(node_is_joined(r->h[1]->node));
    return g;
}

static struct config *sig_parsed(const char *text)
{
    struct config *c = parse_ok(text, "t.example");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    return c;
}

static void test_signature_config_update(void)
{
    struct cred *ca = sig_ca("t.example"), *signer = sig_user(ca, "signer");
    struct cred *peer = sig_user(ca, "peer");
    char *d3 = sig_doc_seq(signer, NULL, 3), *d4 = sig_doc_seq(signer, NULL, 4);
    char *d4_peer = sig_doc_seq(peer, NULL, 4);
    char *s3 = sig_sign(d3, signer), *s4 = sig_sign(d4, signer);
    /* A newer document with one byte changed after signing (sequence 4 -> 5), and one that a
     * peer wrote listing itself and signed: valid signatures, but not by a signer in force. */
    char *tampered = g_strdup(s4);
    char *seq = strstr(tampered, "sequence=\"4\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(seq);
    seq[10] = '5';
    char *resigned = sig_sign(d4_peer, peer);
    struct config *in_force = sig_parsed(s3), *good = sig_parsed(s4);
    struct config *bad[2] = {sig_parsed(tampered), sig_parsed(resigned)};
    struct node_config cfg[2];
    struct ring r;
    for (unsigned i = 0; i < 2; i++) {
        struct confsig_guard *g = guarded_ring(&r, bad[i], in_force, ca, true, cfg);
        CU_ASSERT_EQUAL(node_config_sequence(r.h[1]->node), 3);
        CU_ASSERT_EQUAL(node_get_stats(r.h[1]->node)->config_updates, 0);
        CU_ASSERT(confsig_guard_refused(g) >= 1);
        ring_free(&r);
        confsig_guard_free(g);
    }
    /* The control: the signer's sequence 4 is adopted. */
    struct confsig_guard *g = guarded_ring(&r, good, in_force, ca, true, cfg);
    CU_ASSERT_EQUAL(node_config_sequence(r.h[1]->node), 4);
    CU_ASSERT_EQUAL(node_get_stats(r.h[1]->node)->config_updates, 1);
    CU_ASSERT_EQUAL(confsig_guard_refused(g), 0);
    ring_free(&r);
    confsig_guard_free(g);
    /* Without a guard (a node without credentials) the tampered document is adopted: the
     * check is the host's parser's, not the core's. */
    CU_ASSERT_PTR_NULL(guarded_ring(&r, bad[0], in_force, ca, false, cfg));
    CU_ASSERT_EQUAL(node_config_sequence(r.h[1]->node), 5);
    ring_free(&r);
    for (unsigned i = 0; i < 2; i++)
        config_free(bad[i]);
    config_free(good);
    config_free(in_force);
    g_free(resigned);
    g_free(tampered);
    g_free(s4);
    g_free(s3);
    g_free(d4_peer);
    g_free(d4);
    g_free(d3);
    cred_free(peer);
    cred_free(signer);
    cred_free(ca);
}

CU_TestInfo test_config_tests[] = {
    {"a UTF-8 lead byte at the end is refused without reading past it", test_utf8_lead_at_end},
    {"docs/overlay-example.xml parses", test_example},
    {"an RFC 6940 style document: configurations, signatures, foreign elements", test_rfc_style},
    {"refusals name FILE:LINE:COLUMN and the element", test_refusals},
    {"config_apply and the scenario settings", test_apply},
    {"ConfigUpdateReq codec", test_wire},
    {"another overlay's messages are counted and dropped, unacknowledged", test_other_overlay},
    {"max-size and max-count are enforced by the storing peer", test_kind_limits},
    {"a newer document spreads through ConfigUpdate, kinds included", test_config_update_spreads},
    {"older documents are not adopted; a peer without a parser keeps its own",
     test_config_update_refused},
    {"overlay.config: the document's values are the scenario's defaults", test_scenario_defaults},
    {"signatures cover the exact bytes of each <configuration>", test_signature_spans},
    {"a signed configuration verifies; re-signing replaces in place; expiry counts",
     test_signature_verifies},
    {"unsigned, changed, unlisted, other CA, other overlay and bad-node signers are refused",
     test_signature_refusals},
    {"self-signed mode: the listed Node-ID names the key", test_signature_self_signed},
    {"ConfigUpdate: a tampered or re-signed newer document is refused, the signer's adopted",
     test_signature_config_update},
    CU_TEST_INFO_NULL,
};
