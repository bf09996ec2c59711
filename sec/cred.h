/* cred.h — RELOAD credentials on OpenSSL's libcrypto: an overlay certificate authority, the
 * certificates it enrolls, self-signed certificates, and their verification.
 *
 * RFC 6940 §11.3 (what an enrollment server puts in a certificate), §11.3.1 (self-generated
 * credentials: the Node-ID is the hash of the public key) and §13.3 (certificate-based
 * security: one central authority per overlay).  A user's certificate has an empty subject
 * distinguished name and a critical subjectAltName holding exactly one rfc822Name (the user
 * name) and one uniformResourceIdentifier per Node-ID, a RELOAD URI (§14.15)
 * "reload://0110<32 hex digits>@OVERLAY/" whose destination list is one node_id Destination
 * (type 1, length 16, §6.3.2.2).  Keys are ECDSA P-256; certificates are signed with SHA-256.
 *
 * Time is a value: every function that looks at a validity window takes `now` (UNIX
 * seconds) from the caller; nothing here reads a clock.  Key generation, serial numbers and
 * enrolled Node-IDs draw on OpenSSL's random generator (RFC 6940 §11.3 asks for
 * cryptographically random Node-IDs), so credentials are never reproducible from a seed.
 *
 * Errors: functions return 0 or a negative CRED_E_* code (below); cred_strerror names it.
 * Loading and saving files report through GError for the command line.
 */
#ifndef P2PSIP_CRED_H
#define P2PSIP_CRED_H

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/id.h"

#define CRED_MAX_NODES 32    /* Node-IDs per certificate */
#define CRED_MAX_USER 255    /* bytes of a user name */
#define CRED_MAX_OVERLAY 255 /* bytes of an overlay name */

enum {
    CRED_OK = 0,
    CRED_E_MALFORMED = -1,     /* not a DER X.509 certificate, or its RELOAD fields are wrong */
    CRED_E_UNTRUSTED = -2,     /* not signed by the trusted CA (or a bad self-signature) */
    CRED_E_EXPIRED = -3,       /* now is after notAfter */
    CRED_E_NOT_YET_VALID = -4, /* now is before notBefore */
    CRED_E_NODE_MISMATCH = -5, /* self-signed: a Node-ID is not the hash of the public key */
    CRED_E_INVALID_ARG = -6,   /* bad user name, overlay name, count or window */
    CRED_E_CRYPTO = -7,        /* libcrypto failed (key generation, signing) */
};

/* A certificate and, when we hold it, its private key.  `info` is what the certificate says
 * (filled when the credential is made or loaded). */
struct cred_info {
    char user[CRED_MAX_USER + 1];       /* the rfc822Name; "" for a CA */
    char overlay[CRED_MAX_OVERLAY + 1]; /* from the RELOAD URIs (or the CA's subject CN) */
    unsigned n_nodes;
    struct id nodes[CRED_MAX_NODES];
    int64_t not_before, not_after; /* UNIX seconds */
    bool is_ca;                    /* basicConstraints CA:TRUE */
    bool self_issued;              /* issuer == subject */
};
struct cred {
    EVP_PKEY *key; /* NULL when only the certificate is known */
    X509 *cert;
    struct cred_info info;
};

/* A new overlay CA: an ECDSA P-256 key and a self-signed CA certificate (basicConstraints
 * CA:TRUE, keyCertSign) named "CN=<overlay> RELOAD CA", valid [not_before, not_after].  *out
 * is released with cred_free. */
int cred_ca_new(const char *overlay, int64_t not_before, int64_t not_after, struct cred **out);

/* Enrolls `user` (§11.3): a new key and a certificate signed by `ca` carrying the user name
 * and n_nodes Node-IDs, valid [not_before, not_after].  nodes gives the Node-IDs (the same
 * ones again when a user is re-enrolled); NULL draws them at random.  The user name must be
 * 1..CRED_MAX_USER printable ASCII characters without spaces (enrollment servers "SHOULD take
 * care to allow only legal characters"). */
int cred_enroll(const struct cred *ca, const char *user, unsigned n_nodes, const struct id *nodes,
                int64_t not_before, int64_t not_after, struct cred **out);

/* A self-signed credential (§11.3.1) for `user` in `overlay` with n_nodes Node-IDs, each
 * cred_self_node_id of the new key. */
int cred_self_signed(const char *overlay, const char *user, unsigned n_nodes, int64_t not_before,
                     int64_t not_after, struct cred **out);

/* The Node-ID §11.3.1 assigns to a self-signed key: SHA-1 (the overlay's hash, digest="sha1")
 * of the DER subjectPublicKeyInfo, its high-order 128 bits; with n_nodes > 1 the 1-based index
 * is prepended as a 4-byte big-endian integer (index 0 means "the single Node-ID form"). */
int cred_self_node_id(EVP_PKEY *key, uint32_t index, struct id *out);

/* Parses a DER certificate (as carried in a GenericCertificate) and reads its RELOAD fields
 * into a new credential without a key.  CRED_E_MALFORMED when the bytes are not exactly one
 * certificate or it does not carry a well-formed user name and Node-ID URIs (a CA
 * certificate, with no user name, is accepted and has is_ca set). */
int cred_from_der(const uint8_t *der, size_t len, struct cred **out);
/* Appends the certificate's DER encoding to out. */
void cred_to_der(const struct cred *c, GByteArray *out);

/* Verifies c's certificate at time now.  With a CA: the signature chains to ca's certificate
 * (which must itself be valid at now), the certificate is not a CA, carries a user name and at
 * least one Node-ID.  With ca == NULL (self-signed mode, §11.3.1): the certificate signs
 * itself and every Node-ID matches its public key.  Returns 0, CRED_E_UNTRUSTED,
 * CRED_E_EXPIRED, CRED_E_NOT_YET_VALID, CRED_E_NODE_MISMATCH or CRED_E_MALFORMED. */
int cred_verify(const struct cred *c, const struct cred *ca, int64_t now);

/* PEM files: the key (PKCS#8, unencrypted, written mode 0600) and the certificate.
 * cred_load reads cert_path and, when key_path is not NULL, the key (which must match). */
bool cred_save(const struct cred *c, const char *key_path, const char *cert_path, GError **error);
struct cred *cred_load(const char *key_path, const char *cert_path, GError **error);

void cred_free(struct cred *c);
const char *cred_strerror(int code);

#endif
