/* confsig.h — signatures of overlay configuration documents, RFC 6940 §11.1: each
 * <configuration> element "MAY be followed by signature elements that provide a signature over
 * the preceding configuration element"; the signature is computed over the element's exact
 * bytes "starting from, and including, the first < at the start of <configuration> up to and
 * including the > in </configuration>" (no canonical form: any change, whitespace included,
 * breaks it), is "the standard SecurityBlock defined in Section 6.3.4", base64-encoded
 * (RFC 4648) as the <signature>'s text, and is made by a certificate whose Node-ID a
 * <configuration-signer> of "the previous extant configuration" lists.
 *
 * Where the RFC leaves choices, p2psip (docs/config.md, "Signed configurations"):
 *   - signs the span's bytes followed by the SignerIdentity, as §6.3.4 does for messages (the
 *     input is the element instead of overlay || transaction_id || MessageContents);
 *   - always names the signer with cert_hash_node_id (§6.3.4), the Node-ID being the one the
 *     <configuration-signer> lists, and puts the signer's certificate in the SecurityBlock's
 *     bucket, so a verifier needs only the trust anchor;
 *   - compares a <configuration-signer> (and <bad-node>) with the Node-ID's 32 hex digits,
 *     ignoring case; other entries (the RFC's example has 16 digits) match nothing;
 *   - requires the signer's certificate to be valid now against the overlay's trust anchor
 *     (the CA, or in self-signed mode §11.3.1 its own signature and key-hash Node-IDs) and to
 *     be one of the configuration's overlay (its RELOAD URIs name the instance-name);
 *   - writes no algorithm= attribute (the grammar's one value, "rsa-sha1", is not what the
 *     SecurityBlock carries) and ignores it when reading: the SecurityBlock's Signature names
 *     its algorithm.
 * Kind signatures (<kind-signature>) are not checked.
 *
 * Errors are for people (the command line, a peer's log): GError in CONFSIG_ERROR naming
 * FILE:LINE:COLUMN of the <signature> (or of the <configuration> when it has none).  Nothing
 * here reads a clock: `now` (UNIX seconds) comes from the caller.
 */
#ifndef P2PSIP_SEC_CONFSIG_H
#define P2PSIP_SEC_CONFSIG_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../config/config.h"
#include "cred.h"

#define CONFSIG_ERROR (confsig_error_quark())
GQuark confsig_error_quark(void);
enum {
    CONFSIG_E_UNSIGNED = 1,  /* no <signature> follows the configuration */
    CONFSIG_E_MALFORMED,     /* not a base64 SecurityBlock, or no certificate it names */
    CONFSIG_E_UNTRUSTED,     /* the signer's certificate is not valid against the anchor */
    CONFSIG_E_NOT_SIGNER,    /* the signing Node-ID is not a listed configuration-signer */
    CONFSIG_E_BAD_SIGNATURE, /* the signature does not verify over the element's bytes */
    CONFSIG_E_INVALID,       /* signing: the document does not parse, or a crypto failure */
};

/* Who signed a configuration, once verified. */
struct confsig_signer {
    struct id node;               /* the Node-ID it signed as */
    char user[CRED_MAX_USER + 1]; /* the certificate's user name */
};

/* Verifies configuration c's <signature> (c comes from config_parse/config_parse_all, which
 * recorded where the element and its signature lie in c->text).  anchor is the overlay CA
 * (NULL: self-signed mode); signers lists the hex Node-IDs allowed to sign (the
 * <configuration-signer> elements of the configuration in force, or c's own at start), whose
 * names `whose` gives for messages ("this configuration", "the configuration in force
 * (sequence 3)"); bad_nodes (may be NULL) the <bad-node> Node-IDs whose certificates are not
 * valid.  true and *who filled (may be NULL), or false with *err set. */
bool confsig_verify(const struct config *c, const struct cred *anchor, const GPtrArray *signers,
                    const char *whose, const GPtrArray *bad_nodes, int64_t now,
                    struct confsig_signer *who, GError **err);

/* Signs every configuration of the document [text, text+len) (file names it in messages) with
 * signer (which must hold its key) and returns the new document (g_free; *out_len its length):
 * the same bytes with one <signature> after each <configuration>, an existing one replaced
 * in place, a new one on the next line with the configuration's indentation and namespace
 * prefix.  Each configuration is signed as the first of the certificate's Node-IDs its
 * <configuration-signer> lists, else as the certificate's first, and a note saying so is
 * appended to notes (may be NULL; g_free'd strings) — peers will refuse that signature unless
 * the configuration they follow lists the Node-ID.  The result is parsed and verified again
 * before it is returned.  NULL with *err set when the document does not parse or signing
 * fails. */
char *confsig_sign(const char *text, size_t len, const char *file, const struct cred *signer,
                   GPtrArray *notes, size_t *out_len, GError **err);

/* ---- ConfigUpdate (§6.5.4): a node parser that checks signatures ---------------------------
 * A guard holds the configuration in force (§11.1's "previous extant configuration": its
 * sequence, <configuration-signer> and <bad-node> lists) and the trust anchor, and serves as
 * the node's node_config_parse_fn: a document received in a ConfigUpdate is parsed
 * (config/config.h), its configuration of the node's overlay must be signed by a signer the
 * configuration in force lists (confsig_verify), else it is refused (the parser returns -1, so
 * the core answers Error_Incompatible_with_Overlay and keeps its configuration), logged as a
 * warning and counted.  A verified document that is newer (§6.3.2.1, as the core compares)
 * becomes the configuration in force, as the core then adopts it. */
struct confsig_guard;

/* A guard whose configuration in force is c (copied) and whose anchor is anchor (the overlay
 * CA, or NULL for self-signed mode; borrowed: it must outlive the guard). */
struct confsig_guard *confsig_guard_new(const struct config *c, const struct cred *anchor);
void confsig_guard_free(struct confsig_guard *g);
/* The clock and log: certificates are checked at epoch + env time / 1 s (net/'s env clock is
 * the UNIX time: epoch 0; a simulated or fake env's starts at 0) and refusals logged through
 * env.  Until this is called (env NULL) the time is `epoch` and messages go to stderr. */
void confsig_guard_set_clock(struct confsig_guard *g, const struct env *env, int64_t epoch);
/* Makes cfg's ConfigUpdate parser the guard (cfg borrows it: free the guard after the node). */
void confsig_guard_install(struct confsig_guard *g, struct node_config *cfg);
/* Documents refused so far. */
uint64_t confsig_guard_refused(const struct confsig_guard *g);

#endif
