/* cli.c — `p2psip ca`: the overlay certificate authority of RFC 6940 §11.3 and §13.3 as a
 * command (cli/cli.h), on sec/cred.h.
 *
 *   p2psip ca init --dir DIR [--overlay NAME] [--days N]
 *       a new CA key and self-signed CA certificate: DIR/ca.key (0600), DIR/ca.pem
 *   p2psip ca enroll --dir DIR --user NAME [--nodes N] [--days N]
 *       a user key and certificate signed by DIR's CA: DIR/<user>.key, DIR/<user>.pem
 *   p2psip ca self-sign --dir DIR --user NAME [--overlay NAME] [--nodes N] [--days N]
 *       a self-signed credential (§11.3.1): the Node-IDs are hashes of the public key
 *   p2psip ca show FILE [--ca CA.pem]
 *       prints a certificate's user, overlay, Node-IDs and validity (and checks it)
 *   p2psip ca sign-config --key KEY --cert CERT DOC > SIGNED
 *       signs each <configuration> of an overlay configuration document (RFC 6940 §11.1,
 *       sec/confsig.h) and writes the signed document to stdout
 *   p2psip ca verify-config DOC [--ca CA.pem] [--overlay NAME]
 *       checks the signatures of a document's configurations (each against its own
 *       <configuration-signer> list), as a peer with that trust anchor does at start
 *
 * The clock is read here, at the edge, and handed to sec/cred.c as a value.  Exit codes:
 * 0 success, 1 verification failed (show --ca), 2 usage error or unusable files.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../cli/cli.h"
#include "confsig.h"
#include "cred.h"

#define CA_DEFAULT_OVERLAY "p2psip.example"
#define CA_DEFAULT_CA_DAYS 3650
#define CA_DEFAULT_USER_DAYS 365
#define CA_MAX_DAYS 36500
#define CA_UNSET INT_MIN /* --days or --nodes not given */

enum { CA_EXIT_OK = 0, CA_EXIT_FAILED = 1, CA_EXIT_USAGE = 2 };

static const char ca_usage[] =
    "Usage: p2psip ca SUBCOMMAND [OPTIONS]\n"
    "\n"
    "The overlay certificate authority (RFC 6940 sections 11.3 and 13.3).\n"
    "\n"
    "Subcommands:\n"
    "  init --dir DIR [--overlay NAME] [--days N]\n"
    "        create the CA: DIR/ca.key (ECDSA P-256, mode 0600) and DIR/ca.pem\n"
    "  enroll --dir DIR --user NAME [--nodes N] [--days N]\n"
    "        a user key and certificate signed by DIR's CA, with the user name and N random\n"
    "        Node-IDs (reload: URIs) in subjectAltName: DIR/NAME.key and DIR/NAME.pem\n"
    "  self-sign --dir DIR --user NAME [--overlay NAME] [--nodes N] [--days N]\n"
    "        a self-signed credential whose Node-IDs are hashes of its public key\n"
    "  show FILE [--ca CA.pem]\n"
    "        print a certificate's user, overlay, Node-IDs and validity; with --ca also verify\n"
    "        it against that CA now (self-signed certificates verify without --ca)\n"
    "  sign-config --key KEY --cert CERT DOC\n"
    "        sign every <configuration> of the overlay configuration document DOC (RFC 6940\n"
    "        section 11.1) as the certificate's Node-ID its <configuration-signer> lists, and\n"
    "        write the signed document to stdout (an existing <signature> is replaced)\n"
    "  verify-config DOC [--ca CA.pem] [--overlay NAME]\n"
    "        check the signature of each configuration (or of NAME's) against its own\n"
    "        <configuration-signer> list and the CA (without --ca: self-signed mode), as a\n"
    "        peer does at start (docs/config.md, \"Signed configurations\")\n"
    "\n"
    "Exit codes: 0 success, 1 verification failed, 2 usage error or unusable files.\n";

static int ca_usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static int ca_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("p2psip ca: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nRun 'p2psip ca --help' for usage.\n", stderr);
    return CA_EXIT_USAGE;
}

struct ca_opts {
    char *dir, *overlay, *user, *ca, *key, *cert;
    int days, nodes;
};

static bool ca_parse(const char *sub, struct ca_opts *o, int *argc, char ***argv)
{
    GOptionEntry entries[] = {
        {"dir", 0, 0, G_OPTION_ARG_FILENAME, &o->dir, "the CA directory", "DIR"},
        {"overlay", 0, 0, G_OPTION_ARG_STRING, &o->overlay,
         "overlay name (default " CA_DEFAULT_OVERLAY ")", "NAME"},
        {"user", 0, 0, G_OPTION_ARG_STRING, &o->user, "user name (rfc822Name)", "NAME"},
        {"nodes", 0, 0, G_OPTION_ARG_INT, &o->nodes, "Node-IDs in the certificate (default 1)",
         "N"},
        {"days", 0, 0, G_OPTION_ARG_INT, &o->days, "validity in days from now", "N"},
        {"ca", 0, 0, G_OPTION_ARG_FILENAME, &o->ca, "CA certificate to verify against", "FILE"},
        {"key", 0, 0, G_OPTION_ARG_FILENAME, &o->key, "the signer's private key (sign-config)",
         "FILE"},
        {"cert", 0, 0, G_OPTION_ARG_FILENAME, &o->cert, "the signer's certificate (sign-config)",
         "FILE"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new(!strcmp(sub, "show")       ? "FILE"
                                               : strstr(sub, "-config") ? "DOC"
                                                                         : "");
    g_option_context_set_description(ctx, ca_usage);
    g_option_context_add_main_entries(ctx, entries, NULL);
    char *prgname = g_strdup_printf("p2psip ca %s", sub);
    g_set_prgname(prgname);
    g_free(prgname);
    GError *err = NULL;
    bool ok = g_option_context_parse(ctx, argc, argv, &err);
    if (!ok) {
        ca_usage_error("%s", err->message);
        g_error_free(err);
    }
    g_option_context_free(ctx);
    return ok;
}

static void ca_opts_clear(struct ca_opts *o)
{
    g_free(o->dir);
    g_free(o->overlay);
    g_free(o->user);
    g_free(o->ca);
    g_free(o->key);
    g_free(o->cert);
}

/* A file name for a user: the name with anything but [A-Za-z0-9@._-] replaced by '_'. */
static char *ca_user_base(const char *dir, const char *user, const char *ext)
{
    char *safe = g_strdup(user);
    for (char *p = safe; *p; p++)
        if (!g_ascii_isalnum(*p) && !strchr("@._-", *p))
            *p = '_';
    char *name = g_strconcat(safe[0] == '.' ? "_" : "", safe, ext, NULL);
    char *path = g_build_filename(dir, name, NULL);
    g_free(safe);
    g_free(name);
    return path;
}

static void ca_print_time(const char *label, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[64] = "?";
    if (gmtime_r(&tt, &tm))
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%-11s %s\n", label, buf);
}

static void ca_print(const struct cred *c)
{
    printf("%-11s %s\n", "user:", c->info.user[0] ? c->info.user : "(none: a CA certificate)");
    printf("%-11s %s\n", "overlay:", c->info.overlay);
    printf("%-11s %s\n", "issuer:",
           c->info.is_ca         ? "self (overlay CA)"
           : c->info.self_issued ? "self-signed"
                                 : "overlay CA");
    for (unsigned i = 0; i < c->info.n_nodes; i++) {
        char hex[ID_HEX_LEN + 1];
        id_to_hex(&c->info.nodes[i], hex);
        printf("%-11s %s\n", "node-id:", hex);
    }
    ca_print_time("not-before:", c->info.not_before);
    ca_print_time("not-after:", c->info.not_after);
}

/* Checks --days (default def) and --nodes and turns them into a window from now. */
static bool ca_window(struct ca_opts *o, int def_days, int64_t now, int64_t *nb, int64_t *na)
{
    if (o->days == CA_UNSET)
        o->days = def_days;
    if (o->days < 1 || o->days > CA_MAX_DAYS) {
        ca_usage_error("--days must be between 1 and 36500");
        return false;
    }
    if (o->nodes == CA_UNSET)
        o->nodes = 1;
    if (o->nodes < 1 || o->nodes > CRED_MAX_NODES) {
        ca_usage_error("--nodes must be between 1 and 32");
        return false;
    }
    *nb = now;
    *na = now + (int64_t)o->days * 86400;
    return true;
}

static bool ca_save(const struct cred *c, const char *key, const char *pem)
{
    GError *err = NULL;
    if (cred_save(c, key, pem, &err))
        return true;
    fprintf(stderr, "p2psip ca: %s\n", err->message);
    g_error_free(err);
    return false;
}

static bool ca_mkdir(const char *dir)
{
    if (g_mkdir_with_parents(dir, 0700) == 0)
        return true;
    fprintf(stderr, "p2psip ca: %s: %s\n", dir, g_strerror(errno));
    return false;
}

static int ca_init(struct ca_opts *o, int64_t now)
{
    int64_t nb, na;
    if (!o->dir)
        return ca_usage_error("init needs --dir DIR");
    if (o->user)
        return ca_usage_error("init takes no --user");
    if (!ca_window(o, CA_DEFAULT_CA_DAYS, now, &nb, &na))
        return CA_EXIT_USAGE;
    const char *overlay = o->overlay ? o->overlay : CA_DEFAULT_OVERLAY;
    char *key = g_build_filename(o->dir, "ca.key", NULL);
    char *pem = g_build_filename(o->dir, "ca.pem", NULL);
    struct cred *ca = NULL;
    int rc = CA_EXIT_USAGE;
    if (g_file_test(key, G_FILE_TEST_EXISTS)) {
        ca_usage_error("%s already exists (a CA is never overwritten)", key);
        goto out;
    }
    int r = cred_ca_new(overlay, nb, na, &ca);
    if (r == CRED_E_INVALID_ARG) {
        ca_usage_error("invalid overlay name '%s' (letters, digits, '-', '.', '_', '~')", overlay);
        goto out;
    }
    if (r != 0) {
        fprintf(stderr, "p2psip ca: %s\n", cred_strerror(r));
        goto out;
    }
    if (!ca_mkdir(o->dir) || !ca_save(ca, key, pem))
        goto out;
    printf("CA of overlay %s: %s, %s\n", overlay, key, pem);
    ca_print(ca);
    rc = CA_EXIT_OK;
out:
    cred_free(ca);
    g_free(key);
    g_free(pem);
    return rc;
}

static int ca_enroll(struct ca_opts *o, int64_t now, bool self)
{
    int64_t nb, na;
    if (!o->dir)
        return ca_usage_error("%s needs --dir DIR", self ? "self-sign" : "enroll");
    if (!o->user)
        return ca_usage_error("%s needs --user NAME", self ? "self-sign" : "enroll");
    if (!self && o->overlay)
        return ca_usage_error("enroll takes the overlay from the CA, not --overlay");
    if (!ca_window(o, CA_DEFAULT_USER_DAYS, now, &nb, &na))
        return CA_EXIT_USAGE;
    struct cred *ca = NULL, *c = NULL;
    char *ca_key = g_build_filename(o->dir, "ca.key", NULL);
    char *ca_pem = g_build_filename(o->dir, "ca.pem", NULL);
    char *key = ca_user_base(o->dir, o->user, ".key");
    char *pem = ca_user_base(o->dir, o->user, ".pem");
    int rc = CA_EXIT_USAGE;
    int r;
    if (self) {
        r = cred_self_signed(o->overlay ? o->overlay : CA_DEFAULT_OVERLAY, o->user,
                             (unsigned)o->nodes, nb, na, &c);
    } else {
        GError *err = NULL;
        ca = cred_load(ca_key, ca_pem, &err);
        if (!ca) {
            fprintf(stderr, "p2psip ca: %s (run 'p2psip ca init --dir %s' first)\n", err->message,
                    o->dir);
            g_error_free(err);
            goto out;
        }
        if (!ca->info.is_ca) {
            fprintf(stderr, "p2psip ca: %s is not a CA certificate\n", ca_pem);
            goto out;
        }
        r = cred_enroll(ca, o->user, (unsigned)o->nodes, NULL, nb, na, &c);
    }
    if (r == CRED_E_INVALID_ARG) {
        ca_usage_error("invalid user or overlay name '%s' (1-255 printable ASCII characters, no "
                       "spaces)",
                       o->user);
        goto out;
    }
    if (r != 0) {
        fprintf(stderr, "p2psip ca: %s\n", cred_strerror(r));
        goto out;
    }
    if (g_file_test(key, G_FILE_TEST_EXISTS)) {
        ca_usage_error("%s already exists (remove it to re-enroll)", key);
        goto out;
    }
    if (!ca_mkdir(o->dir) || !ca_save(c, key, pem))
        goto out;
    printf("%s: %s, %s\n", self ? "self-signed" : "enrolled", key, pem);
    ca_print(c);
    rc = CA_EXIT_OK;
out:
    cred_free(ca);
    cred_free(c);
    g_free(ca_key);
    g_free(ca_pem);
    g_free(key);
    g_free(pem);
    return rc;
}

static int ca_show(struct ca_opts *o, int argc, char **argv, int64_t now)
{
    if (argc != 2)
        return ca_usage_error("show expects exactly one argument, FILE");
    GError *err = NULL;
    struct cred *c = cred_load(NULL, argv[1], &err);
    struct cred *ca = NULL;
    int rc = CA_EXIT_USAGE;
    if (!c) {
        fprintf(stderr, "p2psip ca: %s\n", err->message);
        g_error_free(err);
        goto out;
    }
    if (o->ca) {
        ca = cred_load(NULL, o->ca, &err);
        if (!ca) {
            fprintf(stderr, "p2psip ca: %s\n", err->message);
            g_error_free(err);
            goto out;
        }
    }
    ca_print(c);
    rc = CA_EXIT_OK;
    if (o->ca || (c->info.self_issued && !c->info.is_ca)) {
        int r = cred_verify(c, ca, now);
        printf("%-11s %s\n", "verified:", r == 0 ? "ok" : cred_strerror(r));
        rc = r == 0 ? CA_EXIT_OK : CA_EXIT_FAILED;
    }
out:
    cred_free(c);
    cred_free(ca);
    return rc;
}

static int ca_sign_config(struct ca_opts *o, int argc, char **argv)
{
    if (argc != 2)
        return ca_usage_error("sign-config expects exactly one argument, DOC");
    if (!o->key || !o->cert)
        return ca_usage_error("sign-config needs --key and --cert (the configuration signer's)");
    GError *err = NULL;
    char *text = NULL, *out = NULL;
    gsize len = 0;
    size_t out_len = 0;
    int rc = CA_EXIT_USAGE;
    GPtrArray *notes = g_ptr_array_new_with_free_func(g_free);
    struct cred *signer = cred_load(o->key, o->cert, &err);
    if (!signer || !g_file_get_contents(argv[1], &text, &len, &err)) {
        fprintf(stderr, "p2psip ca: %s\n", err->message);
        goto out;
    }
    out = confsig_sign(text, len, argv[1], signer, notes, &out_len, &err);
    if (!out) {
        fprintf(stderr, "p2psip ca: sign-config: %s\n", err->message);
        goto out;
    }
    for (guint i = 0; i < notes->len; i++)
        fprintf(stderr, "p2psip ca: warning: %s\n", (char *)notes->pdata[i]);
    rc = fwrite(out, 1, out_len, stdout) == out_len && fflush(stdout) == 0 ? CA_EXIT_OK
                                                                          : CA_EXIT_FAILED;
out:
    g_clear_error(&err);
    g_ptr_array_unref(notes);
    cred_free(signer);
    g_free(text);
    g_free(out);
    return rc;
}

static int ca_verify_config(struct ca_opts *o, int argc, char **argv, int64_t now)
{
    if (argc != 2)
        return ca_usage_error("verify-config expects exactly one argument, DOC");
    GError *err = NULL;
    char *text = NULL;
    gsize len = 0;
    struct cred *ca = NULL;
    GPtrArray *all = NULL;
    int rc = CA_EXIT_USAGE;
    if ((o->ca && !(ca = cred_load(NULL, o->ca, &err))) ||
        !g_file_get_contents(argv[1], &text, &len, &err) ||
        !(all = config_parse_all(text, len, argv[1], &err))) {
        fprintf(stderr, "p2psip ca: %s\n", err->message);
        goto out;
    }
    if (ca && !ca->info.is_ca) {
        fprintf(stderr, "p2psip ca: --ca %s is not a CA certificate\n", o->ca);
        goto out;
    }
    rc = CA_EXIT_OK;
    unsigned checked = 0;
    for (guint i = 0; i < all->len; i++) {
        const struct config *c = all->pdata[i];
        if (o->overlay && strcmp(o->overlay, c->instance_name) != 0)
            continue;
        checked++;
        struct confsig_signer who;
        char hex[ID_HEX_LEN + 1];
        if (confsig_verify(c, ca, c->configuration_signers, "this configuration", c->bad_nodes,
                           now, &who, &err)) {
            id_to_hex(&who.node, hex);
            printf("%s sequence %u: signed by node-id=%s (user %s): ok\n", c->instance_name,
                   c->sequence, hex, who.user);
        } else {
            printf("%s sequence %u: %s\n", c->instance_name, c->sequence, err->message);
            g_clear_error(&err);
            rc = CA_EXIT_FAILED;
        }
    }
    if (!checked)
        rc = ca_usage_error("%s has no configuration '%s'", argv[1], o->overlay);
out:
    g_clear_error(&err);
    if (all)
        g_ptr_array_unref(all);
    cred_free(ca);
    g_free(text);
    return rc;
}

int sec_cli_ca(int argc, char **argv)
{
    if (argc < 2)
        return ca_usage_error("missing subcommand (init, enroll, self-sign, show, sign-config, "
                              "verify-config)");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        fputs(ca_usage, stdout);
        return CA_EXIT_OK;
    }
    bool known = !strcmp(sub, "init") || !strcmp(sub, "enroll") || !strcmp(sub, "self-sign") ||
                 !strcmp(sub, "show") || !strcmp(sub, "sign-config") ||
                 !strcmp(sub, "verify-config");
    if (!known)
        return ca_usage_error("unknown subcommand '%s' (init, enroll, self-sign, show, "
                              "sign-config, verify-config)",
                              sub);
    struct ca_opts o = {.days = CA_UNSET, .nodes = CA_UNSET};
    argc--;
    argv++;
    if (!ca_parse(sub, &o, &argc, &argv)) {
        ca_opts_clear(&o);
        return CA_EXIT_USAGE;
    }
    int64_t now = (int64_t)time(NULL);
    int rc;
    bool takes_arg = !strcmp(sub, "show") || strstr(sub, "-config");
    if (!takes_arg && argc != 1)
        rc = ca_usage_error("unexpected argument '%s'", argv[1]);
    else if (!strcmp(sub, "sign-config"))
        rc = ca_sign_config(&o, argc, argv);
    else if (!strcmp(sub, "verify-config"))
        rc = ca_verify_config(&o, argc, argv, now);
    else if (!strcmp(sub, "init"))
        rc = ca_init(&o, now);
    else if (!strcmp(sub, "enroll"))
        rc = ca_enroll(&o, now, false);
    else if (!strcmp(sub, "self-sign"))
        rc = ca_enroll(&o, now, true);
    else
        rc = ca_show(&o, argc, argv, now);
    ca_opts_clear(&o);
    return rc;
}
