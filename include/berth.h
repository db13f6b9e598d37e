/* berth.h — embed berth's HTTP/1.1 server in a C program.
 *
 *   struct berth_opts o;
 *   berth_opts_init(&o);
 *   o.port = 8000;
 *   berth_server *s;
 *   if (berth_server_new(&s, &o) < 0 || berth_route(s, "GET", "/", 0, hello, NULL) < 0 ||
 *       berth_server_listen(s) < 0) ...
 *   berth_server_run(s);           // until SIGINT/SIGTERM or berth_server_stop()
 *   berth_server_free(s);
 *
 * Build: cc prog.c $(pkg-config --cflags --libs berth)   (shared libberth.so)
 *        cc prog.c $(pkg-config --cflags berth) -l:libberth.a \
 *           $(pkg-config --static --libs berth | sed 's/-lberth //')   (static)
 *
 * Compatibility: calls are only ever added, never changed.  struct
 * berth_opts grows at its end as features arrive, so a program fills it with
 * berth_opts_init() (never by hand) and is compiled against the berth.h of
 * the library it links; the shared library's SONAME changes whenever the
 * struct grows (libberth.so.2 since 0.3.0), so an old binary is never run
 * against a larger struct.
 *
 * Conventions (libuv style)
 * - Errors: every fallible call returns 0 (or a count) or a negative code:
 *   -errno for system errors, BERTH_ERR_* (end of this file) for the
 *   library's own.  berth_strerror() names the cause.
 * - Ownership: strings passed in are copied before the call returns; the
 *   caller keeps what it passed.  Pointers handed out (berth_server_host,
 *   berth_strerror, berth_req_*) belong to the library: never free them.
 * - Lifetimes: a berth_server lives from berth_server_new() to
 *   berth_server_free().  A berth_req and everything it points at belong to
 *   the server and are valid only during the handler call; copy what you
 *   keep (or keep the request itself: "Embedding API v2" below).  A
 *   route's `arg` is yours: the server never frees it, and it must outlive
 *   the server.
 * - Threads: set-up calls (berth_opts_init, berth_server_new, berth_route,
 *   berth_server_listen) and berth_server_free are made from one thread, not
 *   while berth_server_run() is running on another.  berth_server_stop() is
 *   safe from any thread and from a signal handler.  berth_server_listen()
 *   (in the thread that calls it) and berth_server_run() (in its threads)
 *   block SIGPIPE (and SIGINT/SIGTERM/SIGHUP unless
 *   no_signals: SIGINT/SIGTERM become berth_server_stop(), a second one
 *   closes every connection at once; SIGHUP reopens the log file and reloads
 *   the TLS certificate).  Handlers run on the worker
 *   thread that owns the connection; with workers > 1 they run concurrently
 *   and must be thread-safe.  berth_req_* and berth_resp_* / berth_respond
 *   are called only by the handler, on its own thread, with its own req —
 *   except on a request kept with berth_req_defer (API v2 below), whose
 *   answer calls are safe from any thread.  berth_strerror() is safe from
 *   any thread. */
#ifndef BERTH_H
#define BERTH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct berth_server berth_server;
typedef struct berth_req berth_req;

struct berth_opts {
    const char *host;         /* NULL or "": all interfaces, dual-stack */
    int port;                 /* 0: any free port (see berth_server_port) */
    const char *root;         /* static files from here; NULL: handlers only */
    int workers;              /* event-loop threads on SO_REUSEPORT; 0: one per CPU */
    const char *index;        /* directory index files, comma-separated, tried in order;
                                 default "index.html,index.htm" */
    int listing;              /* HTML listing of directories without an index; default 1 */
    int hidden;               /* serve dotfiles (/.well-known/ always); default 0 */
    const char *mime_default; /* default "application/octet-stream"; a media type
                                 (type/subtype[;name=value]), else BERTH_ERR_USAGE */
    const char *log_path;     /* access log file; NULL: stderr */
    int quiet;                /* no access log */
    int max_conn;             /* open connections, all workers; default 10000 */
    size_t max_header;        /* request head bytes; default 8192 */
    size_t max_body;          /* request body a handler may receive; default 1 MiB */
    int header_timeout_ms;    /* a request head must arrive within; default 10000 */
    int idle_timeout_ms;      /* idle keep-alive connection; default 5000 */
    int send_timeout_ms;      /* no send progress; default 30000 */
    int http10;               /* answer as HTTP/1.0 would: close after each response */
    int no_signals;           /* do not turn SIGINT/SIGTERM into berth_server_stop() (a second
                                 one: close every connection now), nor SIGHUP into reopening
                                 log_path */
    int log_format;           /* access log: 0 Common Log Format (default), 1 nginx's combined
                                 (CLF then "Referer" "User-Agent") */
    /* HTTPS (TLS 1.2 and 1.3) instead of plain HTTP, when tls_cert or
     * tls_self_signed is set.  A certificate that cannot be used fails
     * berth_server_new() with BERTH_ERR_TLS after a line on stderr naming
     * the cause and the fix; SIGHUP (unless no_signals) loads the files
     * again: new handshakes use the new pair, open connections keep theirs,
     * and a bad file keeps the old pair (stderr says why). */
    const char *tls_cert; /* PEM certificate, optionally followed by its chain */
    const char *tls_key;  /* PEM private key of tls_cert (ECDSA or RSA; encrypted only with
                             tls_password_file); NULL: tls_cert's file holds the key too */
    int tls_self_signed;  /* an in-memory ECDSA P-256 certificate for localhost, 127.0.0.1,
                             ::1, host and the host name (berth_server_tls_spki() pins it) */
    int no_h2;            /* ALPN offers http/1.1 only, never h2 */
    /* Operations: GET of these paths (exact, before routes and files; NULL
     * or "": off) answers the Prometheus text exposition of the server's
     * counters, and the JSON connection table (version, uptime, workers,
     * every open connection's peer, protocol, state, age, bytes, target). */
    const char *metrics_path;
    const char *status_path;
    /* Behind a load balancer (HAProxy's send-proxy / send-proxy-v2): every
     * connection must begin with a PROXY protocol header, v1 or v2 (told
     * apart by its first byte), before TLS or HTTP.  The client it names is
     * the peer of the access log and of berth_req_peer(); LOCAL, UNKNOWN and
     * non-TCP headers keep the socket's own peer.  A connection without a
     * valid header is closed without an answer (within header_timeout_ms). */
    int proxy_protocol;
    /* A GET or HEAD of this path (query ignored) answers 200 "ok" while
     * serving and 503 from the moment a stop (SIGTERM, berth_server_stop)
     * begins; never logged, and ahead of routes and files.  NULL: none. */
    const char *health;
    /* On a stop, the listener stays open and requests are served for this
     * long before the drain begins (the health path says 503 meanwhile, so
     * a balancer's checks see it); a second SIGINT/SIGTERM ends it.  -1
     * (default): 2000 with health, 0 without. */
    int drain_grace_ms;
    /* Site features (issue 11): caching policy, SPA fallback, CORS, extra
     * fields, tar downloads (JSON listings need no option).  Checked by
     * berth_server_new (BERTH_ERR_USAGE when a value is bad); strings are
     * copied. */
    /* Cache-Control of static file answers (200, 206, 304) whose name has no
     * content fingerprint ("app.3f9a1c2b.js" always gets "public,
     * max-age=31536000, immutable"); a list of cache directives; NULL: none */
    const char *cache_control;
    /* a GET/HEAD of a missing path whose last segment has no extension,
     * from a client whose Accept names text/html, gets the root's index
     * file (200); missing assets stay 404 */
    int spa;
    /* CORS: "*" or one origin (scheme://host[:port]) in
     * Access-Control-Allow-Origin on every response, preflights answered
     * 204; NULL: off */
    const char *cors;
    /* "Name: value" fields added to every response (nextra_headers of them) */
    const char *const *extra_headers;
    int nextra_headers;
    /* ?download=tar on a directory is refused (403) */
    int no_tar;
    /* Content encoding of static files.  A file F with a precompressed
     * sidecar F.br, F.zst or F.gz (a regular file beneath the root, not
     * older than F) is answered with it when the request's Accept-Encoding
     * allows (the client's best choice; ties br > zstd > gzip), unless
     * no_precompressed.  Compressible types (text, JavaScript, JSON, XML,
     * SVG, wasm, uncompressed fonts) of 256 B to 4 MiB are compressed
     * once per file version and coding (brotli, zstd, gzip; over 64 KiB by
     * a helper thread a worker starts when first needed, the file going out
     * as it is meanwhile; it inherits the worker's blocked signals and is
     * joined by berth_server_free()) and kept in memory,
     * compress_cache bytes per worker (least recently used evicted; default
     * 16 MiB; 0 keeps none and compresses none), unless no_compress.  Every
     * answer for such a file carries Vary: Accept-Encoding, and each coding
     * its own ETag (the file's with -br, -zst or -gz). */
    int no_compress;
    int no_precompressed;
    size_t compress_cache;
    /* Content validators and the file cache.  Each file's ETag is
     * derived from its bytes (SHA-256), so it is the same on every machine
     * and survives a deploy that resets mtimes; a large file's is computed
     * by a hashing thread per worker, the answers meanwhile carrying a
     * validator made of size and mtime (that thread starts at the first
     * file over 32 KiB, only reads files, calls no handler, and is joined by
     * berth_server_free()).  Requests with Want-Repr-Digest /
     * Want-Content-Digest (RFC 9530) get Repr-Digest / Content-Digest
     * (sha-256, sha-512). */
    int digest;        /* also send Repr-Digest: sha-256 on every file answer; default 0 */
    size_t cache_size; /* bytes each worker's file cache may hold (entries, paths, prebuilt
                          fields, small files' bytes); entries not used lately go first
                          (CLOCK); 0: default 64 MiB */
    /* An encrypted tls_key (PKCS #8 or traditional PEM): the file holding its
     * passphrase, read at start and at each reload (never a prompt); its
     * content with leading and trailing white space removed is the
     * passphrase, as python -m http.server --tls-password-file reads it.
     * The passphrase is wiped from memory once the key is decrypted.  NULL:
     * the key must not be encrypted.  (Since 0.3.0.) */
    const char *tls_password_file;
};

/* A handler answers with berth_respond() (once); if it does not, the
 * client gets 500.  It must not block for long: its worker serves no other
 * connection meanwhile. */
typedef void berth_handler(berth_req *req, void *arg);

/* Fills o with the defaults noted above; set fields afterwards. */
void berth_opts_init(struct berth_opts *o);
/* Creates a server (nothing is bound yet).  o and its strings are copied;
 * root is opened now (a missing directory fails here).  *out is set only on
 * success and is released with berth_server_free(). */
int berth_server_new(berth_server **out, const struct berth_opts *o);

/* Routes requests ahead of static files.  Call before berth_server_run().
 *
 * method: a token ("GET", "POST", "PURGE"; case matters) or NULL for any;
 *   anything else is BERTH_ERR_FIELD.  A "GET" route also answers HEAD: the
 *   handler runs (berth_req_method() says "HEAD") and the client gets the
 *   status and fields with the Content-Length of the body given, and no body.
 *   A "HEAD" route registered for the same path takes HEAD itself.
 * path: the decoded, normalised path, starting with '/' (else
 *   BERTH_ERR_USAGE).  prefix == 0: that path exactly.  prefix != 0: the path
 *   and everything below it, by whole segments: "/files" matches "/files",
 *   "/files/" and "/files/a", never "/filesystem"; "/files/" matches the same
 *   three ("/files" too); "/" matches every path.
 * Routes are tried in registration order; the first whose path and method
 * match answers.  When routes match the path but none the method, the
 * client gets 405 with an Allow field listing the routes' methods (HEAD
 * after GET, and OPTIONS), and OPTIONS gets 204 with that Allow unless a
 * route takes OPTIONS (or any method) itself.  With a root, static files
 * answer GET and HEAD on every path: those methods fall through to them
 * instead of 405, and Allow lists them.  A path no route matches goes to the
 * static files, or 404 without a root.
 * h is called on a worker thread with arg (yours; see Lifetimes). */
int berth_route(berth_server *s, const char *method, const char *path, int prefix, berth_handler *h,
                void *arg);

/* Binds the listening sockets now (so the port is known, and errors such as
 * "address already in use" surface before run).  Under systemd socket
 * activation (LISTEN_PID is this process, LISTEN_FDS >= 1; sd_listen_fds(3))
 * it binds nothing: every worker serves on a duplicate of descriptor 3 (one
 * shared accept queue; host and port are ignored and berth_server_port()
 * says the socket's), and it removes LISTEN_PID, LISTEN_FDS and
 * LISTEN_FDNAMES from the environment so no child takes the socket. */
int berth_server_listen(berth_server *s);
/* The bound port, once listening (0 before). */
int berth_server_port(const berth_server *s);
/* The bound address, "0.0.0.0" for dual-stack wildcard, "::1", ... ("" before
 * listening); the server's string, valid until berth_server_free(). */
const char *berth_server_host(const berth_server *s);

/* With TLS, the base64 SHA-256 of the certificate's public key (what
 * chromium --ignore-certificate-errors-spki-list= takes); NULL without TLS.
 * Valid until berth_server_free(). */
const char *berth_server_tls_spki(const berth_server *s);

/* Serves until stopped, on the calling thread and workers - 1 threads it
 * starts (listening first if berth_server_listen() was not called).  On
 * stop, in-flight responses finish (for at most 10 s), idle connections
 * close, and the threads are joined before it returns.  Returns 0 or a
 * negative error code.  Call it once per server. */
int berth_server_run(berth_server *s);
/* Asks berth_server_run() to stop and returns at once.  Safe from any thread
 * and from a signal handler; before run, it makes run return at once. */
void berth_server_stop(berth_server *s);
/* After berth_server_run() returned: the signal (SIGINT or SIGTERM) that
 * stopped it, or 0 when berth_server_stop() did (or it failed).  Lets a
 * program say why it ends, as python's http.server does for Ctrl-C. */
int berth_server_stop_signal(const berth_server *s);
/* Closes everything the server holds and frees it.  Not while
 * berth_server_run() is running; NULL is ignored. */
void berth_server_free(berth_server *s);

/* The request.  Strings are NUL-terminated and valid during the handler
 * call only. */
const char *berth_req_method(const berth_req *r); /* as sent: "GET", "HEAD", ... */
const char *berth_req_path(const berth_req *r);   /* decoded and normalised */
const char *berth_req_query(const berth_req *r);  /* after '?', raw; "" if none */
/* A field's value (not NUL-terminated; its length in *len), the first one
 * when repeated, or NULL when absent.  name ignores ASCII case. */
const char *berth_req_header(const berth_req *r, const char *name, size_t *len);
/* The body (its whole Content-Length, up to max_body; longer gets 413
 * before the handler runs); *len is 0 when there is none. */
const void *berth_req_body(const berth_req *r, size_t *len);
/* The protocol the request came in: "HTTP/1.0", "HTTP/1.1" or "HTTP/2" (h2
 * over TLS or h2c), a static string.  A handler answers the same way over
 * each: framing, HEAD, 405 and the body are the server's. */
const char *berth_req_protocol(const berth_req *r);
/* 1 when the request came over TLS (https), 0 over plain TCP (http, h2c). */
int berth_req_secure(const berth_req *r);

/* Adds a response field, before berth_respond(); name and value are copied.
 * name is an RFC 9110 token, value visible characters (bytes >= 0x80
 * allowed) with spaces or tabs only between them, possibly empty: anything
 * else (CR, LF, NUL, other controls, leading or trailing space) is
 * BERTH_ERR_FIELD.  The fields berth writes itself are BERTH_ERR_RESERVED:
 * Content-Length, Transfer-Encoding, Connection, Keep-Alive, Upgrade, TE,
 * Trailer (framing is the server's), Date and Server (every response
 * already has them), and Content-Type when one was already added (give it
 * to berth_respond instead).  Other names may repeat (Set-Cookie); past 64
 * KiB of fields in all, a call fails with the limit's code.  A refused call
 * changes nothing; after berth_respond it is BERTH_ERR_USAGE. */
int berth_resp_header(berth_req *r, const char *name, const char *value);
/* Sends the response: status 200..599, content_type (NULL or "": none;
 * checked as a field value, BERTH_ERR_FIELD; BERTH_ERR_RESERVED when a
 * Content-Type field was added), body of len bytes (copied; NULL only when
 * len is 0).  Content-Length is len, also for HEAD, where the body is not
 * sent; 204 and 304 carry neither.  Once per request: a second call, or a
 * status out of range, is BERTH_ERR_USAGE.  A refused call sends nothing, so
 * the handler may call again. */
int berth_respond(berth_req *r, int status, const char *content_type, const void *body, size_t len);

/* The cause of an error code (and, for BERTH_ERR_FIELD and
 * BERTH_ERR_RESERVED, the fix): a static string, never NULL. */
const char *berth_strerror(int code);

/* The client's address as text into buf ("192.0.2.7", "2001:db8::1"; an
 * IPv4-mapped one as IPv4; "" when unknown, as on a unix socket): the PROXY
 * header's client with proxy_protocol, else the socket's peer.  Returns its
 * length, or BERTH_ERR_USAGE when it does not fit in len bytes with its NUL
 * (46 always do). */
int berth_req_peer(const berth_req *r, char *buf, size_t len);

/* ---- WebSocket (RFC 6455), with permessage-deflate (RFC 7692) ----
 *
 *   static void on_msg(berth_ws *ws, int binary, const void *p, size_t n, void *arg)
 *   {
 *       berth_ws_send(ws, binary, p, n);                // echo
 *   }
 *   static void ws(berth_req *r, void *arg)
 *   {
 *       static const struct berth_ws_cb cb = {.message = on_msg};
 *       berth_ws_upgrade(r, &cb, NULL, NULL);          // instead of berth_respond
 *   }
 *   berth_route(s, "GET", "/ws", 0, ws, NULL);
 *
 * A WebSocket is an HTTP/1.1 GET that a handler upgrades; from then on the
 * connection carries frames.  Over HTTP/2 (h2 over TLS, or h2c) it is an
 * extended CONNECT (RFC 8441: :method CONNECT, :protocol websocket), which
 * the same route and handler receive as a GET of its :path
 * (berth_req_method says "GET", berth_req_protocol "HTTP/2"); the answer is
 * a 200 that leaves the stream open, whose DATA frames then carry the
 * frames both ways, beside the connection's other streams.  The server
 * offers it (SETTINGS_ENABLE_CONNECT_PROTOCOL) when it has routes.  The
 * calls and callbacks below are the same over both; over h2 the stream's
 * flow control is the backpressure, and the end of the stream (END_STREAM,
 * RST_STREAM) is the TCP close.  The callbacks below run on the worker
 * thread that owns it (with workers > 1, different WebSockets' callbacks run
 * concurrently on different threads; workers = 1 puts them all on one).
 * Every berth_ws_* call is made on that thread: inside a callback of this
 * or of another WebSocket or handler of the same worker.  A WebSocket of
 * another worker is not yours to touch.
 *
 * A browser sends the page's Origin with its handshake and does not stop a
 * page of another site from connecting: check berth_req_header(r, "Origin")
 * before upgrading when that matters (cookies, say).
 *
 * The library answers pings, reassembles fragments, checks UTF-8, masking,
 * control frames and close codes, and fails the connection as the RFC
 * says (1002 protocol error, 1007 invalid text, 1009 a message over
 * max_message), the close callback telling the code. */
typedef struct berth_ws berth_ws;

struct berth_ws_cb {
    /* After the 101 (HTTP/2: the 200) was queued; ws is usable from here
     * on.  May be NULL. */
    void (*open)(berth_ws *ws, void *arg);
    /* A whole message (text: valid UTF-8, binary = 0; binary = 1).  data is
     * the library's, valid during the call only (not NUL-terminated). */
    void (*message)(berth_ws *ws, int binary, const void *data, size_t len, void *arg);
    /* Once, when the WebSocket ends: the peer's close code (1005 when it
     * gave none), the code the library failed it with (1002, 1007, 1009),
     * or 1006 when the TCP connection ended without a close (or the idle
     * ping went unanswered, or the server stopped at once); reason (len
     * bytes, UTF-8, not NUL-terminated) as sent.  ws is freed when it
     * returns: forget it.  Called only if open was due. */
    void (*close)(berth_ws *ws, int code, const char *reason, size_t len, void *arg);
    /* The send queue fell to low_water or below after a berth_ws_send left
     * it above: send more.  May be NULL. */
    void (*drain)(berth_ws *ws, void *arg);
};

struct berth_ws_opts {
    size_t max_message;    /* a received message's limit, after decompression; more: 1009.
                              default 16 MiB */
    size_t max_buffered;   /* send queue bound (at most INT_MAX); default 64 MiB */
    size_t low_water;      /* drain is called at or below this; default 64 KiB */
    int ping_interval_ms;  /* ping after this long without input; 0: never; default 30000 */
    int pong_timeout_ms;   /* no input for this long after a ping: the connection is closed
                              (code 1006); default 10000 */
    int deflate;           /* accept permessage-deflate when offered; default 1 */
    const char *protocols; /* subprotocols, comma-separated, preferred first: the first the
                              client offers is chosen (berth_ws_protocol); NULL: none */
};

/* Fills o with the defaults above. */
void berth_ws_opts_init(struct berth_ws_opts *o);

/* Called by a handler instead of berth_respond(): checks the request as a
 * WebSocket handshake and answers 101 Switching Protocols (HTTP/2: 200);
 * the connection (HTTP/2: the stream) becomes a WebSocket once the handler
 * returns (open is called then).  cb
 * (copied) and arg (yours; must outlive the WebSocket) are passed to the
 * callbacks; o (copied; NULL: defaults).  Returns 0, or:
 *   BERTH_ERR_HANDSHAKE: not a valid handshake, and the client has been
 *     answered already (426 with Upgrade: websocket when it did not ask to
 *     upgrade, or asked for another version than 13; 400 for a bad key, a
 *     method other than GET, HTTP/1.0, an HTTP/2 request that is not an
 *     extended CONNECT, or over HTTP/2 a version other than 13 (with
 *     Sec-WebSocket-Version: 13: h2 has no 426); 503 while the server
 *     stops).  The handler just returns.  Over HTTP/2 an extended CONNECT
 *     that its handler does not upgrade, yet answers 2xx, is answered 501
 *     instead (the client would take a 2xx for an open WebSocket).  So is
 *     one that its handler defers (berth_req_defer) and answers 2xx later
 *     without upgrading: berth_respond returns 0 and the client gets the
 *     501; a streamed answer started 2xx is that whole 501 (berth_resp_start
 *     returns 0, berth_resp_write then BERTH_ERR_USAGE, berth_resp_end
 *     releases the request as ever).  Over HTTP/1.1 a 2xx goes out as it
 *     is: only a 101 opens a WebSocket there (RFC 6455 section 4.1).
 *   BERTH_ERR_USAGE: NULL arguments, or the request was answered already;
 *     nothing sent.  -ENOMEM: nothing sent (the client gets 500 unless the
 *     handler answers). */
int berth_ws_upgrade(berth_req *r, const struct berth_ws_cb *cb, void *arg,
                     const struct berth_ws_opts *o);

/* Queues a message (text when binary == 0: it must be UTF-8, which is not
 * checked) as one frame, compressed when permessage-deflate was agreed;
 * data is copied.  Returns the bytes now queued (berth_ws_buffered; what
 * the socket took at once is not counted), so the caller sees
 * backpressure; -ENOBUFS when the message would take the queue past
 * max_buffered (nothing queued); -EPIPE once the WebSocket is closing. */
int berth_ws_send(berth_ws *ws, int binary, const void *data, size_t len);
/* Sends a ping (len <= 125, else BERTH_ERR_USAGE); pongs are not reported,
 * any input counts as life.  0 or a negative code as for berth_ws_send. */
int berth_ws_ping(berth_ws *ws, const void *data, size_t len);
/* Starts the closing handshake: code 1000-1003, 1007-1014 or 3000-4999 (0:
 * a close without a code), reason UTF-8 of at most 123 bytes (NULL: none);
 * else BERTH_ERR_USAGE.  Messages that arrive meanwhile are dropped; the
 * close callback comes when the peer answers (or after 5 s).  -EPIPE when
 * closing already. */
int berth_ws_close(berth_ws *ws, int code, const char *reason);
/* Bytes queued and not yet taken by the socket (over HTTP/2: by the
 * stream, as its flow-control window allows). */
size_t berth_ws_buffered(const berth_ws *ws);
/* A pointer of yours kept with ws (NULL at first). */
void berth_ws_set_data(berth_ws *ws, void *data);
void *berth_ws_get_data(const berth_ws *ws);
/* The subprotocol agreed, "" for none (the library's string, valid while
 * ws is). */
const char *berth_ws_protocol(const berth_ws *ws);
/* The client's address, as berth_req_peer(). */
int berth_ws_peer(const berth_ws *ws, char *buf, size_t len);

/* The library's own error codes a program may test for (all others are
 * -errno); berth_strerror() describes them. */
#define BERTH_ERR_USAGE    (-4006) /* an argument out of its documented range */
#define BERTH_ERR_FIELD    (-4008) /* a malformed field name or value */
#define BERTH_ERR_RESERVED (-4009) /* a field the server writes itself */
#define BERTH_ERR_TLS      (-4010) /* the TLS certificate or key cannot be used (see stderr) */
/* WebSocket */
#define BERTH_ERR_HANDSHAKE (-4022) /* not a WebSocket handshake: the client was answered */

/* ==== Embedding API v2: request bodies, streaming, deferred answers ====
 *
 * A request (berth_req) normally lives for its handler call.  Three things
 * make it live longer, until the exchange ends:
 * - a route whose body is streamed (berth_route_opts with on_body): the
 *   handler runs when the head has arrived, the body follows in pieces;
 * - a streamed answer (berth_resp_start ... berth_resp_end);
 * - berth_req_defer(): the handler keeps the request and answers later,
 *   from any thread.
 * Such a request is a handle with a reference count: the server holds one
 * while the client is connected, the program one from berth_req_defer (or
 * from the handler's start of a streamed answer) until it calls
 * berth_respond or berth_resp_end on it — exactly once, even after the
 * client went away (those calls then return BERTH_ERR_GONE and release it).
 * So a handle is never freed under the program's feet, and never leaks.
 *
 * Threads: calls on a deferred handle (berth_resp_*, berth_respond,
 * berth_req_resume) are safe from any thread, and from several at once
 * (the library serialises them); bytes reach the client through the owning
 * worker, which a thread-safe queue and an eventfd wake.  Callbacks
 * (on_body, writable, gone) always run on the owning worker thread, never
 * concurrently for one request; they must not block.  The request's fields
 * (berth_req_header, berth_req_param, berth_req_body) are readable during
 * the handler call only; berth_req_method, berth_req_path and
 * berth_req_query stay readable until the handle is released.
 *
 * Stopping: kept requests are waited for like any answer in flight, within
 * the drain (10 s at most); then their clients are cut and gone is called,
 * and the program still ends each handle.  After berth_server_run has
 * returned, calls on a handle return BERTH_ERR_GONE (they touch no worker);
 * berth_server_free waits for no handle, so end them before it.
 * HEAD: a streamed answer's writes are accepted and dropped; the head says
 * the declared length, if any. */

/* A piece of a streamed request body: data[0..len) (valid during the call
 * only; decoded: no chunk framing), then once end != 0 (with len possibly
 * 0): the body is complete.  Runs on the worker thread, in order. */
typedef void berth_body_cb(berth_req *req, const void *data, size_t len, int end, void *arg);
/* writable: the response queue fell below its low mark after having been
 * full or over half full; gone: the client disconnected (or reset the h2
 * stream, or the server stopped) before the answer ended — later calls on
 * req return BERTH_ERR_GONE, and the program still ends it with
 * berth_resp_end to release it.  gone is called at most once, and only
 * while the program still holds the request (not after it ended it). */
typedef void berth_event_cb(berth_req *req, void *arg);

struct berth_route_opts {
    /* The largest body the route takes (0: berth_opts.max_body for a whole
     * body; no limit for a streamed one).  A Content-Length over it is
     * answered 413 before the body is read (nothing of it is read: the
     * connection closes); a chunked body that passes it, 413 too.  A whole
     * body has header_timeout_ms plus a second per 64 KiB received to
     * arrive (then 408); one with a transfer coding besides chunked
     * ("gzip, chunked") is answered 501, as only chunked is decoded. */
    unsigned long long max_body;
    /* NULL: the body is delivered whole (berth_req_body) and the handler
     * runs once it has arrived.  Set: the handler runs on the head, and the
     * body comes in pieces to on_body (with the route's arg); the request
     * is deferred for the handler (no 500 when it returns without an
     * answer): answer from on_body, at its end, or later.  A piece not yet
     * wanted can be held back with berth_req_pause. */
    berth_body_cb *on_body;
    /* Bytes a streamed answer may queue before berth_resp_write refuses
     * with BERTH_ERR_FULL (0: 1 MiB); writable fires below a quarter. */
    size_t max_queue;
};

/* berth_route with options (o NULL: none).  path may be a pattern here:
 * a segment ":name" matches any one non-empty segment, a last segment
 * "*name" (or "*") matches the rest of the path, possibly empty — both read
 * back with berth_req_param (and the rest with berth_req_remainder).
 * Otherwise as berth_route; o is copied. */
int berth_route_opts(berth_server *s, const char *method, const char *path, int prefix,
                     berth_handler *h, void *arg, const struct berth_route_opts *o);

/* A path parameter of the route's pattern (":id" -> "id"), decoded, not
 * NUL-terminated (*len its length), or NULL when the pattern has none of
 * that name.  During the handler call. */
const char *berth_req_param(const berth_req *r, const char *name, size_t *len);
/* What a prefix route (or a trailing "*name") matched after its fixed part:
 * for route "/files" and path "/files/a/b", "a/b" (no leading '/'); ""
 * when nothing follows.  NUL-terminated; during the handler call. */
const char *berth_req_remainder(const berth_req *r);
/* The query parameter name (the first one): %XX and '+' decoded into buf
 * (NUL-terminated).  Returns the decoded length, -ENOENT when absent,
 * BERTH_ERR_USAGE when it does not fit in len bytes with its NUL, or
 * BERTH_ERR_FIELD for a malformed %-escape.  "a" in "?a&b=1" is "".  Any
 * thread for a live handle; it reads berth_req_query. */
int berth_req_query_param(const berth_req *r, const char *name, char *buf, size_t len);

/* Keeps req past its handler call: *handle is the request to answer later
 * (from any thread), with berth_respond or a streamed answer ending in
 * berth_resp_end.  Call from the handler (or on_body), on the worker
 * thread.  Calling it again returns the same handle.  0, -ENOMEM, or
 * BERTH_ERR_USAGE once the request was answered. */
int berth_req_defer(berth_req *req, berth_req **handle);
/* Callbacks for a deferred or streamed request (either may be NULL), with
 * arg.  On the worker thread (handler or on_body). */
int berth_req_callbacks(berth_req *req, berth_event_cb *writable, berth_event_cb *gone, void *arg);
/* The program's own pointer for this request (NULL until set): where the
 * per-request state of on_body and the callbacks lives.  Worker thread, or
 * any thread on a deferred handle the program serialises itself. */
void berth_req_set_user(berth_req *req, void *user);
void *berth_req_user(const berth_req *req);
/* Holds back the request body: on_body is not called again, and the
 * connection (or h2 stream) is not read, so the client's sends block on
 * its flow control — an upload never piles up in memory.  From on_body or
 * the handler (worker thread).  berth_req_resume (any thread) delivers again. */
int berth_req_pause(berth_req *req);
int berth_req_resume(berth_req *req);

/* Streamed answers.  berth_resp_start sends the status and the fields
 * added so far (berth_resp_header) with content_type (as in berth_respond)
 * and length: the body's size when known (sent as Content-Length; writing
 * more is BERTH_ERR_USAGE, ending with less closes the connection), or -1:
 * chunked over HTTP/1.1, DATA frames over h2, close-delimited over
 * HTTP/1.0.  The head goes out at once.  From the handler, or on a
 * deferred handle from any thread. */
int berth_resp_start(berth_req *req, int status, const char *content_type, long long length);
/* Queues data[0..len) (copied) as the next body piece.  Returns the bytes
 * now queued for the client (this piece included, at most INT_MAX), or
 * BERTH_ERR_FULL (nothing queued: wait for writable), BERTH_ERR_GONE,
 * BERTH_ERR_USAGE (not started, ended, or past the declared length). */
int berth_resp_write(berth_req *req, const void *data, size_t len);
/* The same without a copy: data stays the caller's until release(data,
 * rarg) is called — once, on the thread that lets go of it: the worker
 * once the piece is sent, the calling thread when the call fails, or the
 * thread that drops the request's last reference when the client went away
 * with the piece unsent.  release must be thread-safe accordingly. */
int berth_resp_write_ref(berth_req *req, const void *data, size_t len,
                         void (*release)(void *data, void *rarg), void *rarg);
/* Queues len bytes of file fd from offset off (fd is duplicated: the
 * caller may close its own at once).  Over plain HTTP/1.1 it goes out by
 * sendfile.  Counts toward the queue as len bytes. */
int berth_resp_sendfile(berth_req *req, int fd, long long off, long long len);
/* A trailer field for the end of a chunked (HTTP/1.1) or h2 answer: before
 * berth_resp_end, checked like berth_resp_header; fields a recipient needs
 * before the content (RFC 9110 §6.5.1: Host, Cache-Control, TE, Range,
 * conditionals, authentication, Set-Cookie, Age, Expires, Location,
 * Retry-After, Vary, Content-Type/-Encoding/-Range/-Language/-Location)
 * are BERTH_ERR_RESERVED too.  An answer with a
 * Content-Length or over HTTP/1.0 drops them (RFC 9110 §6.5: they are
 * optional for the recipient). */
int berth_resp_trailer(berth_req *req, const char *name, const char *value);
/* Ends the streamed answer (the last chunk and trailers, or END_STREAM) and
 * releases the program's reference: req must not be used afterwards.
 * BERTH_ERR_GONE when the client went away (released all the same).  On a
 * deferred handle never answered it answers 500 (as a handler returning
 * without an answer does) and releases it. */
int berth_resp_end(berth_req *req);

#define BERTH_ERR_GONE (-4020) /* the client went away; end the request to release it */
#define BERTH_ERR_FULL (-4021) /* the response queue is full; wait for writable */

/* Sandbox (opt-in; `berth serve` calls it unless --no-sandbox).  Call after
 * berth_server_listen() and before berth_server_run(), on the thread that
 * will call run, before the program starts any other thread: Landlock
 * restricts the calling thread and the threads it creates afterwards, so
 * run's workers are restricted, threads already running are not.  From
 * then on the process (not just the server) can only read beneath the
 * directory holding root (so a root replaced by name is still followed) and
 * the TLS certificate's and key's directories (SIGHUP reloads them) and
 * /etc/localtime, create and write files in the access log's directory
 * (SIGHUP reopens the log there: a log directory replaced by a new one
 * cannot be written, restart instead), and nothing else on the file
 * system: no exec, no other file; with Landlock ABI 4 no TCP bind or
 * connect (accepting is unaffected), with ABI 6 no signals to other
 * processes.  It also sets no_new_privs.  It cannot be undone.
 * Returns the Landlock ABI version in force (>= 1); -ENOSYS when the kernel
 * has no Landlock, -EOPNOTSUPP when it is disabled (boot option lsm=):
 * nothing changed then; BERTH_ERR_USAGE before listening; another negative
 * code after a line on stderr naming the cause. */
int berth_server_sandbox(berth_server *s);

#ifdef __cplusplus
}
#endif
#endif
