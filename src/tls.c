/* tls — a server's TLS over OpenSSL 3 (see tls.h).  No HTTP here: the
 * transport (http/transport.c) drives a connection through these calls. */
#include "tls.h"

#include "err.h"
#include "tls_wbuf.h"

#include <arpa/inet.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* TLS 1.2: forward-secret AEAD suites only (Mozilla's "intermediate" list
 * without DHE); TLS 1.3 keeps OpenSSL's defaults, which are all modern. */
#define CIPHERS12                                                                                  \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

#define SESSION_CACHE   20480 /* resumable sessions kept (about 1 KiB each) */
#define SESSION_TIMEOUT 3600  /* seconds a session may be resumed */
#define SELF_DAYS       90    /* a self-signed certificate's validity */

struct tls_ctx {
    pthread_mutex_t mu; /* guards ctx: reload swaps it while workers take it */
    SSL_CTX *ctx;
    char *cert, *key, *pwfile; /* key: the cert file when it holds both; pwfile may be NULL */
    int self_signed, no_h2;
    char spki[64];
};

static _Atomic uint64_t sent_ktls, sent_copy;

static SSL *ssl_of(const struct tls_conn *c)
{
    return (SSL *)c;
}

/* ---- context ---- */

static int alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    (void)s;
    static const unsigned char all[] = "\x02h2\x08http/1.1\x08http/1.0";
    const struct tls_ctx *t = arg;
    const unsigned char *ours = all;
    unsigned n = sizeof all - 1;
    if (t->no_h2) ours += 3, n -= 3;
    /* the server's order wins: h2 when the client has it */
    if (SSL_select_next_proto((unsigned char **)out, outlen, ours, n, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        /* nothing in common: a fatal no_application_protocol alert (RFC
         * 7301 §3.2), so that a client of another protocol (acme-tls/1, a
         * mail or DNS client sent here) is never answered in HTTP */
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *ctx_base(struct tls_ctx *t)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return NULL;
    /* no tickets: TLS 1.3 then issues stateful ones, resumption goes
     * through the server's cache, and no long-lived ticket key exists whose
     * theft would open recorded sessions */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_ENABLE_KTLS);
    /* the suite is the server's pick (CIPHERS12's order, AES-128-GCM
     * first), not the client's: what scanners check as "server cipher
     * order"; but a client that lists ChaCha20 first (no AES hardware)
     * gets ChaCha20 */
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
    /* buffers go back while a connection idles; writes may return early and
     * be retried from another address (the unsent rest moves into the
     * connection's own buffer) */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(ctx, CIPHERS12) ||
        !SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384")) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* a record's header and body in one read(2), not two; what is read
     * ahead counts as pending (tls_pending) */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"berth", 5);
    SSL_CTX_sess_set_cache_size(ctx, SESSION_CACHE);
    SSL_CTX_set_timeout(ctx, SESSION_TIMEOUT);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, t);
    return ctx;
}

/* the first queued OpenSSL error's reason, never NULL */
static const char *ossl_reason(void)
{
    const char *r = ERR_reason_error_string(ERR_peek_error());
    return r ? r : "unknown error";
}

static void spki_of(EVP_PKEY *pk, char out[64])
{
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int n = i2d_PUBKEY(pk, &der);
    out[0] = '\0';
    if (n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL))
        EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
    OPENSSL_free(der);
}

static int no_passphrase(char *buf, int size, int rw, void *u)
{
    (void)buf, (void)size, (void)rw, (void)u;
    return -1; /* never prompt on a terminal: an encrypted key is an error */
}

#define PASS_MAX 1024 /* bytes of a passphrase, as OpenSSL's own prompt takes */

/* The passphrase in file: its content without leading and trailing white
 * space (as python -m http.server's --tls-password-file reads it), into
 * pass (cleansed by the caller).  0, or -EINVAL with "cause; fix" in err. */
static int read_password(const char *file, char *pass, char *err, size_t n)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        snprintf(err, n, "cannot read the password file %s: %s; check the path and its permissions",
                 file, strerror(errno));
        return -EINVAL;
    }
    size_t len = fread(pass, 1, PASS_MAX, f);
    int big = len == PASS_MAX && fgetc(f) != EOF, bad = ferror(f);
    fclose(f);
    if (bad || big) {
        OPENSSL_cleanse(pass, PASS_MAX);
        snprintf(err, n, "cannot read the password file %s: %s; it must hold the passphrase alone",
                 file, bad ? "read error" : "longer than 1023 bytes");
        return -EINVAL;
    }
    /* (a NUL is no white space: strchr would match the set's own end) */
    while (len && pass[len - 1] && strchr(" \t\r\n\f\v", pass[len - 1]))
        len--;
    size_t skip = strspn(pass, " \t\r\n\f\v");
    if (skip > len) skip = len;
    memmove(pass, pass + skip, len - skip);
    memset(pass + len - skip, 0, PASS_MAX + 1 - (len - skip));
    return 0;
}

/* kf holds an encrypted PEM key: PKCS #8 or the traditional Proc-Type form */
static int pem_encrypted(const char *kf)
{
    char buf[16384];
    FILE *f = fopen(kf, "r");
    if (!f) return 0;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    return strstr(buf, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
           strstr(buf, "Proc-Type: 4,ENCRYPTED");
}

/* The private key in kf, decrypted with the passphrase in pwfile when one is
 * given (never a prompt); NULL with "cause; fix" in err. */
static EVP_PKEY *read_key(const char *kf, const char *pwfile, char *err, size_t n)
{
    char pass[PASS_MAX + 1];
    if (pwfile && read_password(pwfile, pass, err, n) < 0) return NULL;
    FILE *f = fopen(kf, "r");
    if (!f) {
        if (pwfile) OPENSSL_cleanse(pass, sizeof pass);
        snprintf(err, n, "cannot read the key %s: %s; check the path and its permissions", kf,
                 strerror(errno));
        return NULL;
    }
    /* a NULL callback with a string: OpenSSL takes the string as the passphrase */
    EVP_PKEY *pk =
        PEM_read_PrivateKey(f, NULL, pwfile ? NULL : no_passphrase, pwfile ? pass : NULL);
    fclose(f);
    if (pwfile) OPENSSL_cleanse(pass, sizeof pass);
    if (pk) return pk;
    ERR_clear_error();
    int decrypt = pem_encrypted(kf);
    if (pwfile && decrypt)
        snprintf(err, n,
                 "cannot decrypt the key %s with the passphrase in %s (bad decrypt); put the key's "
                 "passphrase in that file",
                 kf, pwfile);
    else if (decrypt)
        snprintf(err, n,
                 "the key %s is encrypted; give its passphrase in a file with --tls-password-file, "
                 "or decrypt it (openssl pkey -in KEY -out PLAIN)",
                 kf);
    else
        snprintf(err, n,
                 "%s holds no PEM private key (-----BEGIN PRIVATE KEY-----); give the key as "
                 "--tls-key%s",
                 kf, pwfile ? "" : " (an encrypted one with --tls-password-file)");
    return NULL;
}

static void say_validity(X509 *x, const char *file, char *warn, size_t wn)
{
    const ASN1_TIME *na = X509_get0_notAfter(x), *nb = X509_get0_notBefore(x);
    int expired = X509_cmp_current_time(na)<0, early = X509_cmp_current_time(nb)> 0;
    if (!expired && !early) return;
    char when[64] = "?";
    BIO *m = BIO_new(BIO_s_mem());
    if (m && ASN1_TIME_print(m, expired ? na : nb)) {
        int k = BIO_read(m, when, sizeof when - 1);
        when[k > 0 ? k : 0] = '\0';
    }
    BIO_free(m);
    snprintf(warn, wn,
             expired ? "the certificate %s expired on %s; clients will refuse it: renew it"
                     : "the certificate %s is valid only from %s; clients will refuse it until "
                       "then: check the clock or the certificate",
             file, when);
}

/* Loads cert (chain) and key into ctx, naming the cause of each failure. */
static int load_pair(struct tls_ctx *t, SSL_CTX *ctx, char *err, size_t n, char *warn, size_t wn)
{
    const char *cf = t->cert, *kf = t->key;
    FILE *f = fopen(cf, "r");
    if (!f) {
        snprintf(err, n, "cannot read the certificate %s: %s; check the path and its permissions",
                 cf, strerror(errno));
        return -EINVAL;
    }
    X509 *x = PEM_read_X509(f, NULL, no_passphrase, NULL);
    fclose(f);
    if (!x) {
        snprintf(err, n,
                 "%s holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the certificate "
                 "(and its chain) as --tls-cert and the private key as --tls-key",
                 cf);
        ERR_clear_error();
        return -EINVAL;
    }
    say_validity(x, cf, warn, wn);
    EVP_PKEY *pk = read_key(kf, t->pwfile, err, n);
    if (!pk) {
        X509_free(x);
        return -EINVAL;
    }
    int ok = X509_check_private_key(x, pk);
    X509_free(x);
    if (!ok) {
        snprintf(err, n,
                 "the key %s does not match the certificate %s; give the key the certificate was "
                 "made for",
                 kf, cf);
        ERR_clear_error();
        EVP_PKEY_free(pk);
        return -EINVAL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cf) != 1 || SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char e[160];
        ERR_error_string_n(ERR_get_error(), e, sizeof e);
        snprintf(err, n, "cannot use the certificate %s with the key %s: %s; check both files", cf,
                 kf, e);
        ERR_clear_error();
        EVP_PKEY_free(pk);
        return -EINVAL;
    }
    spki_of(pk, t->spki);
    EVP_PKEY_free(pk);
    return 0;
}

/* a name fit for a DNS subjectAltName (and for the list it is written in) */
static int dns_name(const char *h)
{
    if (!*h || strlen(h) > 253) return 0;
    for (; *h; h++)
        if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
              *h == '-' || *h == '.'))
            return 0;
    return 1;
}

static void san_add(char *san, size_t n, const char *name)
{
    unsigned char a[16];
    const char *kind = NULL;
    if (inet_pton(AF_INET, name, a) == 1)
        kind = strcmp(name, "0.0.0.0") ? "IP" : NULL;
    else if (inet_pton(AF_INET6, name, a) == 1)
        kind = strcmp(name, "::") ? "IP" : NULL;
    else if (dns_name(name))
        kind = "DNS";
    if (!kind) return; /* a wildcard bind or an odd name: not nameable */
    char entry[300];
    snprintf(entry, sizeof entry, ",%s:%s", kind, name);
    if (!strstr(san, entry + 1) && strlen(san) + strlen(entry) < n) strcat(san, entry);
}

static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    int ok = e && X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok;
}

/* An ECDSA P-256 certificate for the bind address, localhost, 127.0.0.1, ::1
 * and the host name, made and kept in memory only. */
static int self_signed(struct tls_ctx *t, SSL_CTX *ctx, const char *host, char *err, size_t n)
{
    char san[1024] = "DNS:localhost,IP:127.0.0.1,IP:::1", hn[256] = "";
    if (host) san_add(san, sizeof san, host);
    if (gethostname(hn, sizeof hn - 1) == 0) san_add(san, sizeof san, hn);
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    BIGNUM *bn = BN_new();
    int ok = pk && x && bn && X509_set_version(x, 2) && BN_rand(bn, 64, BN_RAND_TOP_ANY, 0) &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
             X509_gmtime_adj(X509_getm_notAfter(x), 86400L * SELF_DAYS) && X509_set_pubkey(x, pk);
    X509_NAME *nm = ok ? X509_get_subject_name(x) : NULL;
    ok = ok && nm &&
         X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                                    -1, 0) &&
         X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC,
                                    (const unsigned char *)"berth --tls-self-signed", -1, -1, 0) &&
         X509_set_issuer_name(x, nm) && add_ext(x, NID_subject_alt_name, san) &&
         add_ext(x, NID_basic_constraints, "critical,CA:FALSE") &&
         add_ext(x, NID_key_usage, "critical,digitalSignature") &&
         add_ext(x, NID_ext_key_usage, "serverAuth") && X509_sign(x, pk, EVP_sha256()) &&
         SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, pk) == 1;
    if (ok) spki_of(pk, t->spki);
    BN_free(bn);
    X509_free(x);
    EVP_PKEY_free(pk);
    if (!ok) {
        snprintf(err, n, "cannot make a self-signed certificate: %s; give --tls-cert and --tls-key",
                 ossl_reason());
        ERR_clear_error();
        return -ENOMEM;
    }
    return 0;
}

static SSL_CTX *ctx_build(struct tls_ctx *t, const char *host, char *err, size_t n, char *warn,
                          size_t wn)
{
    SSL_CTX *ctx = ctx_base(t);
    if (!ctx) {
        snprintf(err, n, "cannot set up TLS: %s; is OpenSSL 3 installed whole?", ossl_reason());
        ERR_clear_error();
        return NULL;
    }
    int rc =
        t->self_signed ? self_signed(t, ctx, host, err, n) : load_pair(t, ctx, err, n, warn, wn);
    if (rc < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int tls_ctx_new(struct tls_ctx **out, const struct tls_conf *conf, char *err, size_t errlen,
                char *warn, size_t warnlen)
{
    if (warnlen) warn[0] = '\0';
    if (!conf->self_signed && !conf->cert) {
        snprintf(err, errlen,
                 "a key needs its certificate; give --tls-cert (and --tls-key unless the "
                 "certificate's file holds the key too), or --tls-self-signed");
        return BERTH_EUSAGE;
    }
    struct tls_ctx *t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->self_signed = conf->self_signed;
    t->no_h2 = conf->no_h2;
    if (!t->self_signed) {
        t->cert = strdup(conf->cert);
        t->key = strdup(conf->key ? conf->key : conf->cert); /* one PEM file with both */
        t->pwfile = conf->password_file ? strdup(conf->password_file) : NULL;
        if (!t->cert || !t->key || (conf->password_file && !t->pwfile)) goto nomem;
    }
    pthread_mutex_init(&t->mu, NULL);
    t->ctx = ctx_build(t, conf->host, err, errlen, warn, warnlen);
    if (!t->ctx) {
        tls_ctx_free(t);
        return -EINVAL;
    }
    *out = t;
    return 0;
nomem:
    if (t) free(t->cert), free(t->key), free(t->pwfile), free(t);
    snprintf(err, errlen, "out of memory setting up TLS");
    return -ENOMEM;
}

int tls_ctx_reload(struct tls_ctx *t, char *err, size_t errlen, char *warn, size_t warnlen)
{
    if (warnlen) warn[0] = '\0';
    if (t->self_signed) return 1;
    char spki[64];
    memcpy(spki, t->spki, sizeof spki);
    SSL_CTX *ctx = ctx_build(t, NULL, err, errlen, warn, warnlen);
    if (!ctx) {
        memcpy(t->spki, spki, sizeof spki);
        return -EINVAL;
    }
    pthread_mutex_lock(&t->mu);
    SSL_CTX *old = t->ctx;
    t->ctx = ctx;
    pthread_mutex_unlock(&t->mu);
    SSL_CTX_free(old); /* connections made from it hold their own reference */
    return 0;
}

const char *tls_ctx_spki(const struct tls_ctx *t)
{
    return t->spki;
}

void tls_ctx_free(struct tls_ctx *t)
{
    if (!t) return;
    tls_wbuf_thread_free(); /* the server's last TLS work ran on this thread */
    SSL_CTX_free(t->ctx);
    pthread_mutex_destroy(&t->mu);
    free(t->cert);
    free(t->key);
    free(t->pwfile);
    free(t);
}

#define SENDFILE_COPY_MAX (1 << 20) /* bytes a copying tls_sendfile moves at most */

/* ---- connections ---- */

struct tls_conn *tls_conn_new(struct tls_ctx *t, int fd)
{
    pthread_mutex_lock(&t->mu);
    SSL *s = SSL_new(t->ctx);
    pthread_mutex_unlock(&t->mu);
    if (!s || !tls_wbuf_attach(s, fd)) {
        SSL_free(s);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_accept_state(s);
    return (struct tls_conn *)s;
}

/* The outcome of an SSL call that returned r <= 0.  The thread's error
 * queue is left empty, as the next SSL_get_error of any connection needs. */
static int io_result(SSL *s, int r, unsigned *want)
{
    int saved = errno;
    switch (SSL_get_error(s, r)) {
    case SSL_ERROR_WANT_READ:
        *want = TLS_WANT_READ;
        return TLS_WAIT;
    case SSL_ERROR_WANT_WRITE:
        *want = TLS_WANT_WRITE;
        return TLS_WAIT;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return saved > 0 && saved != EAGAIN ? -saved : -ECONNRESET;
    default:
        ERR_clear_error();
        return BERTH_EPROTO;
    }
}

int tls_handshake(struct tls_conn *c, unsigned *want)
{
    SSL *s = ssl_of(c);
    int r = SSL_do_handshake(s);
    if (r == 1) return 1;
    r = io_result(s, r, want);
    return r == 0 ? -ECONNRESET : r;
}

ssize_t tls_read(struct tls_conn *c, void *p, size_t n, unsigned *want)
{
    SSL *s = ssl_of(c);
    size_t got = 0;
    while (got < n) {
        size_t k = n - got < INT_MAX ? n - got : INT_MAX;
        int r = SSL_read(s, (char *)p + got, (int)k);
        if (r > 0) {
            got += (size_t)r;
            /* nothing more inside OpenSSL: another SSL_read would only
             * ask the socket, which for a request and its answer is a
             * read that fails with EAGAIN; bytes still in the socket
             * raise the next event instead */
            if (!SSL_has_pending(s)) break;
            continue;
        }
        int rc = io_result(s, r, want);
        /* what arrived before a wait or the end is returned now; the end
         * or the error shows again on the next call */
        return got ? (ssize_t)got : rc;
    }
    return (ssize_t)got;
}

/* tls_wbuf_send's outcome as a call's result: 1 (all sent), a wait for
 * writable, or an error. */
static int wbuf_result(int r, unsigned *want)
{
    if (r > 0) return 1;
    if (r < 0) return -ECONNRESET;
    *want = TLS_WANT_WRITE;
    return TLS_WAIT;
}

/* A write of more than one record collects its records (tls_wbuf) and sends
 * them together at the end.  Bytes count as written only once their records
 * have left: records still waiting make the call a TLS_WAIT (the plaintext
 * they hold remembered as owed), and the retry — the same bytes, as
 * OpenSSL requires anyway — sends them and then reports the owed count. */
ssize_t tls_write(struct tls_conn *c, const void *p, size_t n, unsigned *want)
{
    SSL *s = ssl_of(c);
    struct tls_wbuf *w = tls_wbuf_of(s);
    if (w && tls_wbuf_waiting(w)) {
        int f = wbuf_result(tls_wbuf_send(w), want);
        if (f != 1) return f;
        size_t owed = tls_wbuf_take_owed(w);
        if (owed) return (ssize_t)(owed < n ? owed : n);
    }
    int collect = w && n > 16384 && !tls_ktls_send(c);
    if (collect) tls_wbuf_collect(w, 1);
    size_t put = 0;
    ssize_t ret = 0;
    while (put < n) {
        size_t k = n - put < INT_MAX ? n - put : INT_MAX;
        int r = SSL_write(s, (const char *)p + put, (int)k);
        if (r > 0) {
            put += (size_t)r;
            continue;
        }
        int rc = io_result(s, r, want);
        ret = put ? (ssize_t)put : rc == 0 ? -EPIPE : rc;
        break;
    }
    if (put == n) ret = (ssize_t)put;
    if (!collect) return ret;
    tls_wbuf_collect(w, 0);
    if (!tls_wbuf_waiting(w)) return ret;
    /* records collected: send them; what the socket does not take yet is
     * owed to a retry when the call wrote everything (a partial count or a
     * wait already sends the caller back with the rest) */
    int f = wbuf_result(tls_wbuf_send(w), want);
    if (f == 1 || ret < 0 || put < n) return f < 0 && f != TLS_WAIT ? f : ret;
    tls_wbuf_owe(w, put);
    return f;
}

int tls_ktls_send(const struct tls_conn *c)
{
    return BIO_get_ktls_send(SSL_get_wbio(ssl_of(c))) > 0;
}

ssize_t tls_sendfile(struct tls_conn *c, int fd, off_t off, size_t n, char *buf, size_t cap,
                     unsigned *want)
{
    SSL *s = ssl_of(c);
    if (tls_ktls_send(c)) {
        /* the kernel encrypts: the file goes out as with plain sendfile */
        sent_ktls++;
        ossl_ssize_t r = SSL_sendfile(s, fd, off, n, 0);
        if (r >= 0) return (ssize_t)r;
        int rc = io_result(s, (int)r, want);
        return rc == 0 ? -EPIPE : rc;
    }
    /* no kTLS (a kernel without CONFIG_TLS, or a cipher it lacks): the
     * bytes pass through user space, a buffer at a time, up to
     * SENDFILE_COPY_MAX a call while the socket takes them all (as a
     * sendfile would: the caller's per-call work — a check that the file
     * is unchanged — is then paid per that, not per buffer).  A write that
     * must wait is retried with the same bytes read again from the same
     * offset; bytes of an earlier buffer already sent are reported. */
    sent_copy++;
    size_t done = 0;
    while (done < n && done < SENDFILE_COPY_MAX) {
        size_t k = n - done < cap ? n - done : cap;
        ssize_t r;
        do
            r = pread(fd, buf, k, off + (off_t)done);
        while (r < 0 && errno == EINTR);
        if (r <= 0) return done ? (ssize_t)done : r < 0 ? -errno : 0;
        ssize_t w = tls_write(c, buf, (size_t)r, want);
        if (w <= 0) return done ? (ssize_t)done : w;
        done += (size_t)w;
        if (w < r) break; /* the socket is full */
    }
    return (ssize_t)done;
}

int tls_pending(const struct tls_conn *c)
{
    return SSL_has_pending(ssl_of(c)); /* decrypted, or read ahead and not yet */
}

const char *tls_alpn(const struct tls_conn *c)
{
    const unsigned char *p;
    unsigned n;
    SSL_get0_alpn_selected(ssl_of(c), &p, &n);
    if (n == 2 && !memcmp(p, "h2", 2)) return "h2";
    if (n == 8 && !memcmp(p, "http/1.1", 8)) return "http/1.1";
    return "";
}

void tls_conn_free(struct tls_conn *c, int abort)
{
    SSL *s = ssl_of(c);
    if (!s) return;
    /* one close_notify, never waited for: the socket closes right after */
    if (!abort && SSL_is_init_finished(s)) SSL_shutdown(s);
    ERR_clear_error();
    SSL_free(s);
}

void tls_sendfile_stats(uint64_t *ktls, uint64_t *copy)
{
    *ktls = sent_ktls;
    *copy = sent_copy;
}

void tls_write_stats(uint64_t *records, uint64_t *sends)
{
    tls_wbuf_stats(records, sends);
}
