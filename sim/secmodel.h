/* secmodel.h — a modelled security provider (struct node_security_ops, core/node.h) for the
 * simulator and the unit tests: RFC 6940 §6.3.4 signatures and §13 certificates of the real
 * sizes, without public-key cryptography.
 *
 * docs/security.md ("Design for the integration", the simulator's `modelled` mode) asks that a
 * large run not be dominated by cryptography while messages and stored values keep the size
 * and the per-operation cost real signatures would have.  This model does that:
 *
 * - A "certificate" is a GenericCertificate of private-use type SECMODEL_CERT_TYPE (224, RFC
 *   6091's private range, so that tshark does not try to read it as X.509) holding the
 *   Node-ID and the user name, padded to the size one of our P-256 X.509 certificates has
 *   (`p2psip ca enroll` with one Node-ID: 397 bytes + the user name, 417 for
 *   "alice@p2psip.example"), and tagged with HMAC-SHA256 under the model's CA secret: a
 *   certificate the model did not issue, or one altered in flight, does not verify.
 * - A signature is sha256 (4) with ecdsa (3), SignerIdentity cert_hash (SHA-256 of the
 *   certificate) and a 72-byte value shaped like a DER ECDSA-Sig-Value whose r and s are
 *   HMAC-SHA256 under the signer's own secret, derived from the run secret and its Node-ID.
 *   sign() signs only as `self`, the Node-ID the core passes (its own): code that goes through
 *   the ops cannot sign as another node, so a hostile simulated peer cannot forge another
 *   node's values.  (The model's secrets are private to secmodel.c; nothing hands them out.)
 * - Only enrolled Node-IDs hold a credential: sign() fails for the others
 *   (SECMODEL_E_NO_CREDENTIAL), so their messages go unsigned and their Joins are refused.
 * - Every sign and verify adds a configurable CPU cost to counters the simulator reports.
 *
 * Deterministic: the secrets come from the seed, nothing else varies.  The verifier needs the
 * signer's certificate in the message's certificates bucket (the model keeps no cache, so a
 * sender that omits it is caught).  One model serves any number of nodes.
 */
#ifndef P2PSIP_SECMODEL_H
#define P2PSIP_SECMODEL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/node.h"

#define SECMODEL_CERT_TYPE 224      /* CertificateType from RFC 6091's private-use range */
#define SECMODEL_CERT_BASE 397      /* bytes of a certificate besides its user name */
#define SECMODEL_SIG_VALUE 72       /* bytes of a DER ECDSA P-256 signature (at most) */

enum {
    SECMODEL_OK = 0,
    SECMODEL_E_NO_CREDENTIAL = -1, /* sign(): this Node-ID holds no credential */
    SECMODEL_E_MALFORMED = -2,     /* a signature or certificate that does not parse */
    SECMODEL_E_UNKNOWN_SIGNER = -3, /* no certificate in the bucket matches the identity */
    SECMODEL_E_UNTRUSTED = -4,     /* a certificate the model's CA did not issue */
    SECMODEL_E_BAD_SIGNATURE = -5, /* the signature does not verify over the input */
    SECMODEL_E_ALGORITHM = -6,     /* not sha256/ecdsa with identity cert_hash */
};

struct secmodel_stats {
    uint64_t signs, verifies;  /* operations performed (successful or not) */
    uint64_t sign_refused;     /* sign() for a Node-ID without a credential */
    uint64_t verify_failed;    /* verify() that returned an error */
    uint64_t cpu_us;           /* signs * sign_us + verifies * verify_us */
};

struct secmodel;

/* A model whose secrets derive from seed.  No Node-ID holds a credential until enrolled. */
struct secmodel *secmodel_new(uint64_t seed);
void secmodel_free(struct secmodel *m);
/* Gives Node-ID id a credential with user name `user` (1..255 bytes, copied), replacing any
 * it had; user NULL gives the default name "n<32 hex digits of the Node-ID>@sim". */
void secmodel_enroll(struct secmodel *m, const struct id *id, const char *user);
/* Every Node-ID not enrolled or revoked explicitly holds a credential with the default user
 * name (on: what a large run wants, no per-node memory); off by default. */
void secmodel_enroll_all(struct secmodel *m, bool on);
/* Id holds no credential (even under secmodel_enroll_all). */
void secmodel_revoke(struct secmodel *m, const struct id *id);
bool secmodel_has_credential(const struct secmodel *m, const struct id *id);
/* The CPU time one sign and one verify count for, microseconds (default 0). */
void secmodel_set_costs(struct secmodel *m, uint32_t sign_us, uint32_t verify_us);
const struct secmodel_stats *secmodel_get_stats(const struct secmodel *m);

/* The provider: put &ops and the model in node_config.security {ops, ud}. */
const struct node_security_ops *secmodel_ops(void);
const char *secmodel_strerror(int code);

#endif
