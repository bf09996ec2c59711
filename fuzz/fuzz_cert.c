/* fuzz_cert.c — libFuzzer target for certificate parsing (sec/cred.h: DER X.509 certificates
 * with RELOAD's subjectAltName fields, RFC 6940 §11.3, §11.3.1, §13.3) and for finding a
 * signer in a SecurityBlock's certificate bucket (sec/sig.h: GenericCertificate and
 * SignerIdentity, §6.3.4) — what a peer does with the certificates any other peer sends it.
 *
 * Input: the first byte selects, modulo 2.
 *   0: the rest is a DER certificate: cred_from_der(); when it parses, its DER encoding must
 *      give the same bytes; it is verified against an overlay CA (made once per process) at
 *      a fixed time, and as a self-signed credential within its own validity window;
 *   1: the rest is a SignerIdentity and a bucket: identity type (1 byte), identity value
 *      length (1 byte) and bytes, then the GenericCertificate sequence; sig_find_signer()
 *      looks the signer up and, when found, its signature over a fixed input is checked
 *      (a signature of 0-length value: it must not verify).
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sec/cred.h"
#include "../sec/sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1767225600 /* 2026-01-01, within the CA's window */

static const struct cred *test_ca(void)
{
    static struct cred *ca;
    if (!ca && cred_ca_new("fuzz.example", NOW - 86400, NOW + 86400 * 365, &ca) != 0) {
        fprintf(stderr, "fuzz_cert: cannot make the CA\n");
        abort();
    }
    return ca;
}

static void certificate(const uint8_t *p, size_t len)
{
    struct cred *c;
    if (cred_from_der(p, len, &c) != 0)
        return;
    GByteArray *der = g_byte_array_new();
    cred_to_der(c, der);
    if (der->len != len || memcmp(der->data, p, len) != 0) {
        fprintf(stderr, "fuzz_cert: a parsed certificate encodes to other bytes\n");
        abort();
    }
    g_byte_array_free(der, TRUE);
    (void)cred_verify(c, test_ca(), NOW);
    /* Self-signed mode inside the certificate's own window, so that the checks behind the
     * window's (signature, Node-IDs against the key) run too. */
    (void)cred_verify(c, NULL, c->info.not_before + 1);
    cred_free(c);
}

static void bucket(const uint8_t *p, size_t len)
{
    if (len < 2 || (size_t)p[1] + 2 > len)
        return;
    struct wire_signature s = {.hash_alg = SIG_HASH_SHA256, .sig_alg = SIG_ALG_ECDSA,
                               .identity_type = p[0],
                               .identity = {p + 2, p[1]},
                               .value = {p, 0}};
    struct wire_bytes certs = {p + 2 + p[1], (uint32_t)(len - 2 - p[1])};
    struct cred *signer = NULL;
    struct id node;
    if (sig_find_signer(certs, &s, &signer, &node) != 0)
        return;
    static const uint8_t input[] = "fuzz";
    if (sig_verify(&s, signer, input, sizeof input) == 0) {
        fprintf(stderr, "fuzz_cert: an empty signature verified\n");
        abort();
    }
    cred_free(signer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2)
        bucket(data + 1, size - 1);
    else
        certificate(data + 1, size - 1);
    return 0;
}
