/* provider.h — the real security provider: core/node.h's struct node_security_ops backed by
 * X.509 credentials (sec/cred.h) and ECDSA/RSA signatures (sec/sig.h) on OpenSSL's libcrypto.
 *
 * RFC 6940 §6.3.4 (every message signed; the SignerIdentity names a certificate of the
 * message's certificates bucket), §11.3 and §13.3 (the overlay's CA is the trust anchor) and
 * §11.3.1 (self-signed mode: no CA, the Node-ID is the hash of the public key).
 *
 * One provider serves any number of nodes of one process: it holds the credentials it signs
 * with (sec_provider_add; a real peer adds one, the simulator's `real` mode one per simulated
 * node), keyed by Node-ID, and signs as a node only with a credential carrying that Node-ID.
 * It verifies against one trust anchor.  Certificates it has verified are cached by the
 * SHA-256 of their DER encoding, so a signer seen before costs a hash and a signature check,
 * not an X.509 parse and chain verification; a cached certificate's validity window (and the
 * CA's) is still checked at every use.  Certificates that fail are not cached.  The cache is
 * not bounded: it holds at most the certificates of the overlay's users that this process
 * heard from (a certificate must verify to enter it).
 *
 * Time: verify() gets the env clock (microseconds).  Validity windows are UNIX seconds; the
 * provider checks them at epoch + now / 1 s, with epoch 0 by default, which is right for
 * net/ (its env clock is wall-clock time since the UNIX epoch).  The simulator's clock starts
 * at 0: it sets the epoch to the UNIX time its virtual time 0 stands for (e.g. the time the
 * run made its credentials) with sec_provider_set_epoch.
 *
 * Provider codes (negative; sec_provider_strerror names them) are what the ops return.
 */
#ifndef P2PSIP_SEC_PROVIDER_H
#define P2PSIP_SEC_PROVIDER_H

#include <stdint.h>

#include "../core/node.h"
#include "cred.h"

enum {
    SEC_PROVIDER_OK = 0,
    SEC_PROVIDER_E_UNSIGNED = -1,        /* signature algorithm or identity "none" */
    SEC_PROVIDER_E_MALFORMED = -2,       /* a Signature, bucket or certificate that does not parse */
    SEC_PROVIDER_E_UNKNOWN_SIGNER = -3,  /* no certificate (bucket or cache) the identity names */
    SEC_PROVIDER_E_UNTRUSTED = -4,       /* the signer's certificate is not the overlay CA's */
    SEC_PROVIDER_E_EXPIRED = -5,         /* ... or has expired (or the CA's has) */
    SEC_PROVIDER_E_NOT_YET_VALID = -6,   /* ... or is not valid yet */
    SEC_PROVIDER_E_NODE_MISMATCH = -7,   /* self-signed: a Node-ID is not the key's hash */
    SEC_PROVIDER_E_ALGORITHM = -8,       /* an algorithm pair not supported, or not the key's */
    SEC_PROVIDER_E_BAD_SIGNATURE = -9,   /* the signature does not verify over the input */
    SEC_PROVIDER_E_NO_CREDENTIAL = -10,  /* sign: no credential of this provider has the Node-ID */
    SEC_PROVIDER_E_CRYPTO = -11,         /* libcrypto failed */
    SEC_PROVIDER_E_OTHER_OVERLAY = -12,  /* a certificate of another overlay (set_overlay) */
};

struct sec_provider;

/* A provider trusting ca (an overlay CA certificate; copied, the caller keeps its own), or
 * with ca NULL the self-signed mode of §11.3.1 (a certificate must sign itself and its
 * Node-IDs be the hashes of its key).  Release with sec_provider_free. */
struct sec_provider *sec_provider_new(const struct cred *ca);
void sec_provider_free(struct sec_provider *p);
/* Adds a credential (certificate and private key; copied) this provider signs with, as each
 * of its Node-IDs.  A later credential with the same Node-ID replaces the earlier one.  The
 * caller should check it with cred_verify first: a node signing with a credential the overlay
 * does not trust is refused everywhere. */
void sec_provider_add(struct sec_provider *p, const struct cred *own);
/* Certificates are for one overlay (§11.3: their RELOAD URIs name it): with a name set
 * (copied; NULL: any, the default) a signer's certificate of another overlay is refused with
 * SEC_PROVIDER_E_OTHER_OVERLAY. */
void sec_provider_set_overlay(struct sec_provider *p, const char *name);
/* Validity is checked at unix_s + env time / 1 s (see the file comment).  Default 0. */
void sec_provider_set_epoch(struct sec_provider *p, int64_t unix_s);
/* The operations; node_config.security.ud is the struct sec_provider. */
const struct node_security_ops *sec_provider_ops(void);
const char *sec_provider_strerror(int code);

/* Counters, for tests and logs. */
struct sec_provider_stats {
    uint64_t signed_msgs, verified, failed;
    uint64_t cache_hits, certs_parsed; /* bucket certificates found in / added to the cache */
};
const struct sec_provider_stats *sec_provider_get_stats(const struct sec_provider *p);

#endif
