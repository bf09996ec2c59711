/* security.h — credentials for the real backend's commands (`p2psip peer`, `store`, `fetch`):
 * the --key/--cert/--ca options and the configuration document's <root-cert> and
 * <self-signed-permitted> (RFC 6940 §11.1, §11.3, §11.3.1, §13.3) turned into the security
 * provider of sec/provider.h that the node signs and verifies with (docs/security.md).
 *
 * The trust anchor is --ca FILE (a PEM CA certificate), else the document's first
 * <root-cert> (base64 DER), else, when the document permits self-signed certificates or the
 * credential signs itself, the self-signed mode.  The node's Node-ID is one its certificate
 * carries.  Security is on exactly when a credential is given.
 *
 * With a credential, the configuration document is checked too (RFC 6940 §11.1,
 * sec/confsig.h; docs/config.md, "Signed configurations"): at start, when the trust anchor is
 * a CA (or the configuration names a <configuration-signer>), the configuration the peer
 * follows must carry a signature by a certificate the anchor trusts whose Node-ID that
 * configuration's <configuration-signer> lists; a document received in a ConfigUpdate must be
 * signed by a signer the configuration in force lists, or it is refused, logged and counted
 * while the node keeps its configuration.
 */
#ifndef P2PSIP_NET_SECURITY_H
#define P2PSIP_NET_SECURITY_H

#include <glib.h>
#include <stdbool.h>

#include "../config/config.h"
#include "../core/node.h"

struct net_security;

/* Loads the credential (key_path and cert_path, PEM) and the trust anchor (ca_path, or from
 * doc, which may be NULL) and checks that the credential is valid now against it and is one of
 * overlay `overlay` (its RELOAD URIs name it, §11.3); certificates of other overlays are then
 * refused in messages too.  With doc, checks doc's signature by the rule above (the error
 * then reads "--config: FILE:LINE:COL: <signature>: reason (trust anchor: ...)").  NULL with *error set when something is missing or wrong (a key
 * without a certificate, --ca without a credential, unreadable files, a credential the anchor
 * does not trust or of another overlay); NULL without an error when no credential is given
 * (security off). */
struct net_security *net_security_new(const char *key_path, const char *cert_path,
                                      const char *ca_path, const struct config *doc,
                                      const char *overlay, GError **error);
void net_security_free(struct net_security *s);
/* Turns security on in cfg (which then borrows s: free s after the node); when s checked a
 * document and cfg reads ConfigUpdates (config_apply), cfg's parser becomes one that checks
 * their signatures first. */
void net_security_apply(struct net_security *s, struct node_config *cfg);
/* The env whose log and clock the ConfigUpdate check uses (before: stderr and the wall clock). */
void net_security_set_env(struct net_security *s, const struct env *env);
/* The Node-ID to run as: *wanted when given and the certificate carries it (false
 * otherwise), else the certificate's first. */
bool net_security_node_id(const struct net_security *s, const struct id *wanted, struct id *out);
/* One line for logs: user, Node-IDs, trust anchor. */
char *net_security_describe(const struct net_security *s);

#endif
