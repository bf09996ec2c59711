/* sig.h — RELOAD signatures and the access-control policies of stored data.
 *
 * RFC 6940 §6.3.4 (the Signature structure, SignerIdentity cert_hash / cert_hash_node_id, the
 * GenericCertificate bucket and the message signature input overlay || transaction_id ||
 * MessageContents || SignerIdentity), §7.1 (the StoredData signature input resource_id ||
 * kind || storage_time || StoredDataValue || SignerIdentity) and §7.3 (USER-MATCH,
 * NODE-MATCH, USER-NODE-MATCH, NODE-MULTIPLE).
 *
 * The algorithms are the TLS SignatureAndHashAlgorithm pairs (RFC 5246 §7.4.1.4.1) sha256 with
 * ecdsa (what cred.c makes) or rsa (RSASSA-PKCS1-v1_5, the RFC's mandatory one, verified and
 * produced when the key is RSA).  An ECDSA signature_value is the DER ECDSA-Sig-Value, as in
 * TLS.  Signer identities hash the certificate with SHA-256.
 *
 * A receiver checks in this order: sig_find_signer (which certificate of the bucket the
 * SignerIdentity names, and which Node-ID), cred_verify (the certificate chains to the overlay
 * CA and is valid now), sig_verify (the signature over the input), then, for stored data,
 * sig_access_check.  Functions return 0 or a negative SIG_E_* code; nothing reads a clock.
 */
#ifndef P2PSIP_SIG_H
#define P2PSIP_SIG_H

#include <glib.h>
#include <stdint.h>

#include "../config/config.h"
#include "../core/access.h"
#include "../core/wire.h"
#include "cred.h"

enum { SIG_HASH_SHA256 = 4 };                /* TLS HashAlgorithm */
enum { SIG_ALG_RSA = 1, SIG_ALG_ECDSA = 3 }; /* TLS SignatureAlgorithm */

enum {
    SIG_OK = 0,
    SIG_E_MALFORMED = -1,      /* a Signature or certificate bucket that does not parse */
    SIG_E_ALGORITHM = -2,      /* an algorithm pair not supported, or not the key's */
    SIG_E_UNKNOWN_SIGNER = -3, /* no certificate of the bucket matches the SignerIdentity */
    SIG_E_BAD_SIGNATURE = -4,  /* the signature does not verify over the input */
    SIG_E_DENIED = -5,         /* the access-control policy refuses the signer */
    SIG_E_INVALID_ARG = -6,    /* signing with a Node-ID the certificate does not carry, ... */
    SIG_E_CRYPTO = -7,         /* libcrypto failed */
};

/* An owned Signature; sig_view lends it as the codec's struct wire_signature (valid while
 * the sig_signature is unchanged). */
struct sig_signature {
    uint8_t hash_alg, sig_alg, identity_type;
    GByteArray *identity; /* SignerIdentityValue */
    GByteArray *value;    /* signature_value */
};
void sig_view(const struct sig_signature *s, struct wire_signature *out);
void sig_signature_clear(struct sig_signature *s);

/* Signs input || SignerIdentity with c's key into *out (initialised here; release with
 * sig_signature_clear).  node NULL: identity cert_hash, allowed only when the certificate
 * carries exactly one Node-ID (§6.3.4); else cert_hash_node_id with *node, which the
 * certificate must carry (SIG_E_INVALID_ARG otherwise). */
int sig_sign(const struct cred *c, const struct id *node, const uint8_t *input, size_t len,
             struct sig_signature *out);

/* Verifies s over input || SignerIdentity with signer's public key: the identity must hash
 * signer's certificate (with the indicated Node-ID for cert_hash_node_id) and the algorithm
 * must be the key's.  Certificate validity is cred_verify's business, not this one's. */
int sig_verify(const struct wire_signature *s, const struct cred *signer, const uint8_t *input,
               size_t len);

/* Finds the certificate of a SecurityBlock's certificates bucket (§6.3.4) that s names, and
 * the Node-ID it signs as.  *signer is a new credential (cred_free) without a key.
 * SIG_E_MALFORMED for a malformed bucket or identity, SIG_E_UNKNOWN_SIGNER when no entry
 * matches (entries that are not X.509 or do not parse are skipped). */
int sig_find_signer(struct wire_bytes certificates, const struct wire_signature *s,
                    struct cred **signer, struct id *node);
/* Appends c's certificate to a bucket as a GenericCertificate of type x509. */
void sig_add_certificate(GByteArray *bucket, const struct cred *c);

/* Signature inputs without the trailing SignerIdentity (sig_sign and sig_verify add it) are
 * core/wire.h's, which the core builds itself: wire_message_input (overlay || transaction_id
 * || MessageContents; wire_message_contents gives that span of a decoded message) and
 * wire_stored_data_input (resource_id || kind || storage_time || StoredDataValue). */

/* The access-control decision of §7.3 (core/access.c's, for a certificate of ours) for a value d stored at resource under a kind with the
 * given policy (max_node_multiple for NODE-MULTIPLE), signed by a verified certificate whose
 * RELOAD fields are signer, signing as Node-ID node (from sig_find_signer).  H is the
 * overlay's hash (id_hash: SHA-1 truncated to 128 bits); NODE-MULTIPLE's i runs 1 ..
 * max_node_multiple and is hashed as a 4-byte big-endian integer after the Node-ID's 16
 * bytes.  USER-NODE-MATCH needs a dictionary value whose key is the 16 Node-ID bytes.
 * Returns 0 (allow) or SIG_E_DENIED. */
int sig_access_check(enum config_access policy, uint32_t max_node_multiple, const uint8_t *resource,
                     size_t resource_len, const struct wire_stored_data *d,
                     const struct cred_info *signer, const struct id *node);

const char *sig_strerror(int code);

#endif
