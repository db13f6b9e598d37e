/* api — the public embedding API of include/berth.h: options, routes,
 * listening, running and stopping workers, and the request/response calls
 * a handler makes. */
#include "http/server.h"

#include "err.h"
#include "http/field.h"
#include "http/live.h"
#include "http/mime.h"
#include "http/resp.h"
#include "http/str.h"
#include "net.h"
#include "sandbox.h"
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int mime_users;

/* the public codes of berth.h are the library's own */
_Static_assert(BERTH_ERR_USAGE == BERTH_EUSAGE, "berth.h and err.h disagree");
_Static_assert(BERTH_ERR_FIELD == BERTH_EFIELD, "berth.h and err.h disagree");
_Static_assert(BERTH_ERR_RESERVED == BERTH_ERESERVED, "berth.h and err.h disagree");
_Static_assert(BERTH_ERR_TLS == BERTH_ETLS, "berth.h and err.h disagree");

static void wake_workers(struct berth_server *s)
{
    uint64_t one = 1;
    for (int i = 0; i < s->nworkers; i++)
        if (s->w[i].stopfd >= 0) (void)!write(s->w[i].stopfd, &one, sizeof one);
}

/* SIGHUP: the certificate files again, for new handshakes; on any error
 * the pair in use stays, and stderr says why. */
static void tls_reload(struct berth_server *s)
{
    char err[768], warn[512];
    int rc = tls_ctx_reload(s->tls, err, sizeof err, warn, sizeof warn);
    if (*warn) fprintf(stderr, "berth: warning: %s\n", warn);
    if (rc < 0)
        fprintf(stderr,
                "berth: cannot reload the certificate, still serving the previous one: %s\n", err);
    else if (rc == 0)
        fputs("berth: reloaded the TLS certificate and key\n", stderr);
}

/* HTTPS: the server's TLS context, or BERTH_ETLS after saying why. */
static int tls_setup(struct berth_server *s, const struct berth_opts *o)
{
    struct tls_conf tc = {.cert = o->tls_cert,
                          .key = o->tls_key,
                          .password_file = o->tls_password_file,
                          .self_signed = o->tls_self_signed,
                          .host = o->host,
                          .no_h2 = o->no_h2};
    char err[768], warn[512];
    int rc = tls_ctx_new(&s->tls, &tc, err, sizeof err, warn, sizeof warn);
    if (*warn) fprintf(stderr, "berth: warning: %s\n", warn);
    if (rc == -ENOMEM) return rc;
    if (rc < 0) {
        fprintf(stderr, "berth: %s\n", err);
        return BERTH_ETLS;
    }
    return 0;
}

static void on_signal(struct loop *l, int signo, void *arg)
{
    (void)l;
    struct berth_server *s = arg;
    if (signo == SIGHUP) {
        /* logrotate's postrotate: the workers write what they hold into the
         * renamed file, the last one opens the path anew (alog_sink_sync) */
        if (alog_sink_rotate(&s->log)) wake_workers(s);
        if (s->tls) tls_reload(s);
        return;
    }
    /* a second SIGINT/SIGTERM while draining: every connection closes now */
    if (__atomic_load_n(&s->stopped, __ATOMIC_ACQUIRE))
        __atomic_store_n(&s->force, 1, __ATOMIC_RELEASE);
    else if (s->o.drain_grace_ms > 0)
        /* the grace: a balancer learns from the health path, then the drain */
        fprintf(stderr, "berth: stopping in %d.%03d s%s%s%s; press Ctrl-C again to quit now\n",
                s->o.drain_grace_ms / 1000, s->o.drain_grace_ms % 1000, s->o.health ? " (" : "",
                s->o.health ? s->o.health : "", s->o.health ? " answers 503 meanwhile)" : "");
    if (!__atomic_load_n(&s->by_signal, __ATOMIC_ACQUIRE))
        __atomic_store_n(&s->by_signal, signo, __ATOMIC_RELEASE);
    berth_server_stop(s);
}

int berth_server_stop_signal(const berth_server *s)
{
    return s ? __atomic_load_n(&s->by_signal, __ATOMIC_ACQUIRE) : 0;
}

void berth_opts_init(struct berth_opts *o)
{
    memset(o, 0, sizeof *o);
    o->port = 8000;
    o->index = "index.html,index.htm";
    o->listing = 1;
    o->mime_default = "application/octet-stream";
    o->max_conn = 10000;
    o->max_header = 8192;
    o->max_body = 1 << 20;
    o->header_timeout_ms = 10000;
    o->idle_timeout_ms = 5000;
    o->send_timeout_ms = 30000;
    o->drain_grace_ms = -1; /* 2 s with health, none without */
    o->compress_cache = 16u << 20;
}

static char *dup_or_null(const char *s, int *fail)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *fail = 1;
    return d;
}

/* The root as an absolute name without a trailing "/" or "/.", so the
 * directory can be followed by name when it is replaced; NULL: not followed. */
static char *root_abspath(const char *root)
{
    char cwd[PATH_MAX] = "";
    if (*root != '/' && !getcwd(cwd, sizeof cwd)) return NULL;
    size_t n = strlen(cwd) + strlen(root) + 2, l;
    char *p = malloc(n);
    if (!p) return NULL;
    snprintf(p, n, "%s%s%s", cwd, *cwd ? "/" : "", root);
    while ((l = strlen(p)) > 1 && (p[l - 1] == '/' || (l > 2 && !strcmp(p + l - 2, "/."))))
        p[p[l - 1] == '/' ? l - 1 : l - 2] = '\0';
    return p;
}

int berth_server_new(berth_server **out, const struct berth_opts *o)
{
    struct berth_server *s = calloc(1, sizeof *s);
    int fail = 0, rc;
    if (!s) return -ENOMEM;
    alog_sink_init(&s->log);
    s->o = *o;
    s->host = dup_or_null(o->host, &fail);
    s->root = dup_or_null(o->root, &fail);
    s->index = dup_or_null(o->index, &fail);
    s->mime_default =
        dup_or_null(o->mime_default ? o->mime_default : "application/octet-stream", &fail);
    s->o.health = dup_or_null(o->health && *o->health ? o->health : NULL, &fail);
    if (s->o.drain_grace_ms < 0) s->o.drain_grace_ms = s->o.health ? 2000 : 0;
    s->sc.rootfd = -1;
    if (o->metrics_path && *o->metrics_path) s->metrics_path = dup_or_null(o->metrics_path, &fail);
    if (o->status_path && *o->status_path) s->status_path = dup_or_null(o->status_path, &fail);
    s->tls_cert_path = dup_or_null(o->tls_cert, &fail); /* berth_server_sandbox allows them */
    s->tls_key_path = dup_or_null(o->tls_key, &fail);
    s->tls_pw_path = dup_or_null(o->tls_password_file, &fail);
    s->admin = s->metrics_path || s->status_path;
    s->metrics_len = s->metrics_path ? strlen(s->metrics_path) : 0;
    s->status_len = s->status_path ? strlen(s->status_path) : 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->started_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    if (fail) {
        rc = -ENOMEM;
        goto fail;
    }
    if (o->log_format != 0 && o->log_format != 1) { /* CLF or combined */
        rc = BERTH_EUSAGE;
        goto fail;
    }
    if (!mime_type_ok(s->mime_default)) { /* it goes out in Content-Type as it is */
        rc = BERTH_EUSAGE;
        goto fail;
    }
    if (s->o.health && *s->o.health != '/') { /* a path, as a request names it */
        rc = BERTH_EUSAGE;
        goto fail;
    }
    if (s->o.max_header < 256) s->o.max_header = 256;
    if (s->o.max_conn <= 0) s->o.max_conn = 10000;
    s->lim.max_line = s->o.max_header;
    s->lim.max_header = s->o.max_header;
    s->lim.max_headers = MAX_HEADERS;
    if (s->root) {
        s->sc.rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->sc.rootfd < 0) {
            rc = -errno;
            goto fail;
        }
        s->sc.root_path = s->root_abs = root_abspath(s->root);
    }
    s->sc.epoch = &s->epoch;
    s->sc.index = s->index;
    s->sc.listing = o->listing;
    s->sc.hidden = o->hidden;
    s->sc.mime_default = s->mime_default;
    s->sc.compress = !o->no_compress && o->compress_cache > 0;
    s->sc.precompressed = !o->no_precompressed;
    s->sc.compress_cache = o->compress_cache;
    s->sc.digest = o->digest;
    s->sc.cache_size = o->cache_size;
    unsigned r = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)s;
    snprintf(s->boundary, sizeof s->boundary, "berth-%08x%08x", r, r * 2654435761u);
    s->sc.boundary = s->boundary;
    if ((rc = policy_init(&s->pol, o)) < 0) goto fail; /* --cache-control, --cors, --header */
    s->sc.pol = &s->pol;
    /* the type table is process-wide: loaded by the first server, released
     * by the last */
    if (__atomic_fetch_add(&mime_users, 1, __ATOMIC_SEQ_CST) == 0) mime_load("/etc/mime.types");
    s->mime_loaded = 1;
    if (o->log_path && (rc = alog_sink_open(&s->log, o->log_path)) < 0) goto fail;
    if ((o->tls_cert || o->tls_key || o->tls_password_file || o->tls_self_signed) &&
        (rc = tls_setup(s, o)) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    berth_server_free(s);
    return rc;
}

/* Blocks the signals the server handles in the calling thread (worker
 * threads inherit the mask): SIGPIPE always — sendfile has no MSG_NOSIGNAL, a
 * client gone mid-transfer must cost an EPIPE, not the embedding process —
 * and, unless no_signals, SIGINT/SIGTERM/SIGHUP, which worker 0's signalfd
 * reads, so nobody is interrupted mid-write. */
static void block_signals(const struct berth_server *s)
{
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    if (!s->o.no_signals) {
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGHUP); /* reopens the log file instead of ending the process */
    }
    pthread_sigmask(SIG_BLOCK, &block, NULL);
}

/* systemd's socket activation (sd_listen_fds(3), done by hand: a few
 * lines need no libsystemd): LISTEN_PID is this process and LISTEN_FDS
 * counts the sockets passed from descriptor 3 on.  The variables are
 * removed either way once they are ours, so no child inherits them and
 * takes the sockets for its own.  Returns the count, 0 when there are none
 * for this process. */
static int listen_fds(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    if (!pid || !fds) return 0;
    char *end;
    errno = 0;
    unsigned long p = strtoul(pid, &end, 10);
    if (errno || *end || p != (unsigned long)getpid()) return 0; /* another process's */
    unsigned long n = strtoul(fds, &end, 10);
    int bad = errno || *end || n > 1024;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return bad ? 0 : (int)n;
}

/* The listening socket systemd passed, fd 3, made ready for the workers:
 * close-on-exec, non-blocking.  0, or -errno after a line on stderr. */
static int inherited_socket(int n)
{
    const int fd = 3; /* SD_LISTEN_FDS_START */
    int type = 0, acc = 0;
    socklen_t len = sizeof type, alen = sizeof acc;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) < 0 || type != SOCK_STREAM || !acc) {
        fputs("berth: the descriptor systemd passed (fd 3) is not a listening stream socket; "
              "use ListenStream= in the .socket unit\n",
              stderr);
        return -ENOTSOCK;
    }
    if (n > 1)
        fprintf(stderr,
                "berth: warning: systemd passed %d sockets; serving on the first (fd 3) only\n", n);
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || net_set_nonblock(fd, 1) < 0) return -errno;
    return 0;
}

int berth_server_listen(berth_server *s)
{
    if (s->listening) return 0;
    int n = s->o.workers > 0 ? s->o.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 256) n = 256;
    s->w = calloc((size_t)n, sizeof *s->w);
    if (!s->w) return -ENOMEM;
    s->nworkers = n;
    for (int i = 0; i < n; i++) {
        s->w[i].id = i;
        s->w[i].pub.fd = -1; /* not set up yet: worker_free skips it */
    }
    for (int i = 0; i < n; i++) {
        int rc = worker_init(s, &s->w[i]);
        if (rc < 0) return rc;
    }
    /* the first socket binds without SO_REUSEPORT, so a port held by anyone
     * (another berth included) fails as "in use"; it turns the option on
     * afterwards, so the other workers' sockets can join it */
    struct net_listen_opt lo = {.backlog = 4096, .reuseport = 0, .nonblock = 1};
    struct net_addr bound;
    int port = s->o.port, one = 1, nfds = listen_fds();
    if (nfds > 0) {
        /* socket activation: every worker gets a duplicate of the one
         * socket; duplicates share a single accept queue (the kernel hands
         * each connection to one accept), so SO_REUSEPORT is not needed */
        int rc = inherited_socket(nfds);
        if (rc < 0) return rc;
        for (int i = 0; i < n; i++) {
            int fd = i == 0 ? 3 : fcntl(3, F_DUPFD_CLOEXEC, 3);
            if (fd < 0) return -errno;
            if ((rc = worker_listen(&s->w[i], fd)) < 0) {
                if (i) close(fd);
                return rc;
            }
        }
        if ((rc = net_local_addr(3, &bound)) < 0) return rc;
        port = net_addr_port(&bound);
        n = 0; /* nothing to bind */
    }
    for (int i = 0; i < n; i++) {
        int fd = net_listen(s->host, port, SOCK_STREAM, &lo, &bound);
        if (fd < 0) return fd;
        if (i == 0 && n > 1 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
        lo.reuseport = 1;
        port = net_addr_port(&bound); /* the others join the port the first one got */
        int rc = worker_listen(&s->w[i], fd);
        if (rc < 0) return rc;
    }
    s->port = port;
    net_addr_host(&bound, s->hoststr, sizeof s->hoststr);
    if (!strcmp(s->hoststr, "::") && (!s->host || !*s->host)) strcpy(s->hoststr, "0.0.0.0");
    s->listening = 1;
    /* from here a stop or reload signal waits for the loop instead of ending
     * the process: a program that prints "serving" after listening can be
     * signalled at once */
    block_signals(s);
    if (!s->o.no_signals) {
        loop_signal(s->w[0].loop, SIGINT, on_signal, s);
        loop_signal(s->w[0].loop, SIGTERM, on_signal, s);
        loop_signal(s->w[0].loop, SIGHUP, on_signal, s);
    }
    return 0;
}

/* The sandbox (berth.h): the root's tree for reading, the TLS files' and
 * /etc/localtime (glibc looks at it again for the log's times) for
 * reading, the log's directory for writing; restricted before the workers
 * start, which inherit it. */
int berth_server_sandbox(berth_server *s)
{
    if (!s->listening) return BERTH_EUSAGE;
    struct sandbox_conf c = {0};
    char root_dir[PATH_MAX], cert_dir[PATH_MAX], key_dir[PATH_MAX], pw_dir[PATH_MAX],
        log_dir[PATH_MAX], real[3][PATH_MAX];
    char why[512];
    /* the directory holding the root, not just the root: the server
     * follows a root replaced by name (a build tool's rm -rf and mkdir, a
     * deploy's ln -sfn current release-2), and a rule names one inode */
    if (s->root) {
        snprintf(root_dir, sizeof root_dir, "%s", s->root_abs ? s->root_abs : s->root);
        char *slash = strrchr(root_dir, '/');
        if (slash && slash[1]) slash[slash == root_dir] = '\0';
        c.read_dirs[c.nread_dirs++] = slash ? root_dir : ".";
    }
    c.read_files[c.nread_files++] = "/etc/localtime";
    /* the directories of the certificate and key, so a renewal that
     * replaces the files (certbot links new ones) still loads on SIGHUP */
    const char *tls[3] = {s->tls_cert_path, s->tls_key_path, s->tls_pw_path};
    char *dirs[3] = {cert_dir, key_dir, pw_dir};
    for (int i = 0; i < 3; i++) {
        if (!tls[i]) continue;
        c.read_files[c.nread_files++] = tls[i];
        snprintf(dirs[i], PATH_MAX, "%s", tls[i]);
        char *slash = strrchr(dirs[i], '/');
        if (slash) {
            slash[slash == dirs[i]] = '\0';
            c.read_dirs[c.nread_dirs++] = dirs[i];
        } else
            c.read_dirs[c.nread_dirs++] = ".";
        /* and where a symbolic link (certbot's live/ -> archive/) leads */
        if (realpath(tls[i], real[i]) && (slash = strrchr(real[i], '/'))) {
            slash[slash == real[i]] = '\0';
            c.read_dirs[c.nread_dirs++] = real[i];
        }
    }
    if (s->log.path) {
        snprintf(log_dir, sizeof log_dir, "%s", s->log.path);
        char *slash = strrchr(log_dir, '/');
        if (slash) slash[slash == log_dir] = '\0';
        c.write_dirs[c.nwrite_dirs++] = slash ? log_dir : ".";
    }
    int rc = sandbox_landlock(&c, why, sizeof why);
    s->sandboxed = rc > 0;
    if (rc < 0 && rc != -ENOSYS && rc != -EOPNOTSUPP) fprintf(stderr, "berth: %s\n", why);
    return rc;
}

int berth_server_port(const berth_server *s)
{
    return s->port;
}

const char *berth_server_host(const berth_server *s)
{
    return s->hoststr;
}

const char *berth_server_tls_spki(const berth_server *s)
{
    return s->tls ? tls_ctx_spki(s->tls) : NULL;
}

int berth_server_run(berth_server *s)
{
    /* stopped before it ran: no grace, run returns at once */
    if (__atomic_load_n(&s->stopped, __ATOMIC_ACQUIRE)) s->o.drain_grace_ms = 0;
    int rc = berth_server_listen(s);
    if (rc < 0) return rc;
    block_signals(s); /* this thread may not be the one that listened */
    __atomic_store_n(&s->running, s->nworkers, __ATOMIC_RELEASE);
    __atomic_store_n(&s->drain_left, s->nworkers, __ATOMIC_RELEASE);
    int started = 1;
    for (; started < s->nworkers; started++)
        if (pthread_create(&s->w[started].th, NULL, worker_main, &s->w[started]) != 0) break;
    if (started < s->nworkers) {
        rc = -EAGAIN;
        /* workers that never ran neither drain nor report */
        __atomic_sub_fetch(&s->running, s->nworkers - started, __ATOMIC_ACQ_REL);
        __atomic_sub_fetch(&s->drain_left, s->nworkers - started, __ATOMIC_ACQ_REL);
        berth_server_stop(s);
    }
    if (s->stopped) berth_server_stop(s);
    worker_main(&s->w[0]);
    for (int i = 1; i < started; i++)
        pthread_join(s->w[i].th, NULL);
    return rc;
}

void berth_server_stop(berth_server *s)
{
    __atomic_store_n(&s->stopped, 1, __ATOMIC_RELEASE);
    wake_workers(s);
}

void berth_server_free(berth_server *s)
{
    if (!s) return;
    for (int i = 0; i < s->nworkers; i++)
        worker_free(&s->w[i]);
    free(s->w);
    for (int i = 0; i < s->nroutes; i++) {
        free(s->routes[i].method);
        free(s->routes[i].path);
    }
    free(s->routes);
    if (s->sc.rootfd >= 0) close(s->sc.rootfd);
    tls_ctx_free(s->tls);
    alog_sink_free(&s->log);
    if (s->mime_loaded && __atomic_sub_fetch(&mime_users, 1, __ATOMIC_SEQ_CST) == 0) mime_unload();
    free(s->host);
    free(s->root);
    free(s->root_abs);
    free(s->index);
    free(s->mime_default);
    free(s->metrics_path);
    free(s->status_path);
    free((char *)s->o.health);
    free(s->tls_cert_path);
    free(s->tls_key_path);
    free(s->tls_pw_path);
    policy_free(&s->pol);
    free(s);
}

const char *berth_req_method(const berth_req *r)
{
    return r->method;
}

const char *berth_req_path(const berth_req *r)
{
    return r->path;
}

const char *berth_req_query(const berth_req *r)
{
    return r->query;
}

const char *berth_req_header(const berth_req *r, const char *name, size_t *len)
{
    if (!r->r) return NULL; /* a live request after its handler call */
    size_t nl = strlen(name);
    for (size_t i = 0; i < r->r->nheaders; i++) {
        const struct http_header *h = &r->r->headers[i];
        if (h->name.n == nl && !strncasecmp(h->name.p, name, nl)) {
            if (len) *len = h->value.n;
            return h->value.p;
        }
    }
    return NULL;
}

int berth_req_peer(const berth_req *r, char *buf, size_t len)
{
    if (!r->r) return BERTH_EUSAGE; /* the connection may be gone */
    return api_peer(r->c, buf, len);
}

int api_peer(const struct conn *c, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN] = "";
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (c->family == AF_INET)
        inet_ntop(AF_INET, c->peer, a, sizeof a);
    else if (c->family == AF_INET6 && !memcmp(c->peer, mapped, 12))
        inet_ntop(AF_INET, c->peer + 12, a, sizeof a);
    else if (c->family == AF_INET6)
        inet_ntop(AF_INET6, c->peer, a, sizeof a);
    size_t n = strlen(a);
    if (!buf || n >= len) return BERTH_EUSAGE;
    memcpy(buf, a, n + 1);
    return (int)n;
}

const void *berth_req_body(const berth_req *r, size_t *len)
{
    if (len) *len = r->r ? r->body_len : 0;
    return r->r ? r->body : NULL;
}

const char *berth_req_protocol(const berth_req *r)
{
    switch (r->r ? r->r->version : r->lv->lreq.version) {
    case 20:
        return "HTTP/2";
    case 10:
        return "HTTP/1.0";
    default:
        return "HTTP/1.1";
    }
}

int berth_req_secure(const berth_req *r)
{
    return r->r ? r->c->t.tls != NULL : r->lv->secure;
}

/* 1 when the fields added so far have one named name (ASCII case ignored) */
static int has_field(const struct buf *extra, const char *name)
{
    if (!buf_len(extra)) return 0; /* no storage yet: no arithmetic on NULL */
    const char *p = buf_head(extra), *end = p + buf_len(extra);
    while (p < end) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (!colon) break;
        if (http_str_eq_ci(http_str_make(p, (size_t)(colon - p)), name)) return 1;
        const char *nl_at = memchr(colon, '\n', (size_t)(end - colon));
        if (!nl_at) break;
        p = nl_at + 1;
    }
    return 0;
}

int berth_resp_header(berth_req *r, const char *name, const char *value)
{
    if (r->lv) return name && value ? live_resp_header(r->lv, name, value) : BERTH_EUSAGE;
    if (!name || !value || r->status) return BERTH_EUSAGE;
    size_t nl = strlen(name), vl = strlen(value);
    /* a CR or LF would let whoever supplies the value split the response */
    if (!http_field_token(name, nl) || !http_field_value(value, vl)) return BERTH_EFIELD;
    if (http_field_reserved(name, nl)) return BERTH_ERESERVED;
    if (http_str_eq_ci(http_str_make(name, nl), "content-type") && has_field(&r->extra, name))
        return BERTH_ERESERVED;
    /* room first, so a failure leaves no half line behind */
    int rc = buf_reserve(&r->extra, nl + vl + 4);
    if (rc < 0) return rc;
    buf_append(&r->extra, name, nl);
    buf_append(&r->extra, ": ", 2);
    buf_append(&r->extra, value, vl);
    buf_append(&r->extra, "\r\n", 2);
    return 0;
}

int berth_respond(berth_req *r, int status, const char *content_type, const void *body, size_t len)
{
    if (r->lv)
        return len && !body ? BERTH_EUSAGE : live_respond(r->lv, status, content_type, body, len);
    if (r->status) return BERTH_EUSAGE;
    if (status < 200 || status > 599 || (len && !body)) return BERTH_EUSAGE;
    if (content_type && !*content_type) content_type = NULL;
    if (content_type) {
        if (!http_field_value(content_type, strlen(content_type))) return BERTH_EFIELD;
        if (has_field(&r->extra, "content-type")) return BERTH_ERESERVED;
    }
    int rc = buf_append(&r->extra, "", 1); /* NUL-terminate */
    if (rc < 0) return rc;
    struct conn *c = r->c;
    size_t before = buf_len(&c->w->out);
    rc = resp_simple(&c->w->out, status, !c->closing, r->r->version, r->r->method == HTTP_HEAD,
                     buf_len(&r->extra) > 1 ? buf_head(&r->extra) : NULL, content_type, body, len);
    if (rc < 0) {
        /* out of memory half-way: take back the partial response and the
         * NUL, so the handler may try again (and the client gets 500 if not) */
        c->w->out.len = before;
        r->extra.len--;
        return rc;
    }
    r->status = status;
    r->bytes = r->r->method == HTTP_HEAD ? 0 : len;
    return 0;
}

const char *berth_strerror(int code)
{
    return err_str(code);
}
