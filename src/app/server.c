#include "app/server.h"

#include "err.h"
#include "loop.h"
#include "net.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK  65536
#define HIGH_WATER  (64u << 10)  /* stop reading while this much is unsent */
#define BUF_KEEP    (256u << 10) /* an empty input buffer larger than this is freed */
#define LINGER_MS   2000         /* how long an error reply waits for the peer */
#define ACCEPT_WAIT 100          /* pause after EMFILE instead of spinning */

/* ---- answers ---- */

json_t *app_table_default(void)
{
    return json_pack("{s:s, s:s, s:s}", "morpheus", "Follow the white rabbit. \xf0\x9f\x90\xb0",
                     "ring", "In the caves beneath the Misty Mountains. \xf0\x9f\x92\x8d",
                     "\xf0\x9f\x90\xb6", "\xf0\x9f\x90\xbe Playing ball! \xf0\x9f\x8f\x90");
}

json_t *app_table_load(const char *path, char *why, size_t n)
{
    json_error_t e;
    json_t *t = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!t) {
        snprintf(why, n, "%s: %s (line %d)", path, e.text, e.line);
        return NULL;
    }
    const char *k;
    json_t *v;
    if (!json_is_object(t)) {
        snprintf(why, n, "%s: the search table must be a JSON object", path);
        goto fail;
    }
    json_object_foreach(t, k, v)
    {
        if (!json_is_string(v)) {
            snprintf(why, n, "%s: the answer for \"%.60s\" is not a string", path, k);
            goto fail;
        }
    }
    return t;
fail:
    json_decref(t);
    return NULL;
}

/* s, or the Python-style JSON text of a non-string, into b (no NUL) */
static int put_value(struct buf *b, const json_t *v)
{
    if (json_is_string(v)) return buf_append(b, json_string_value(v), json_string_length(v));
    return app_json_dump(b, v ? v : json_null());
}

static int reply_text(struct buf *out, const char *key, const char *s, size_t len)
{
    json_t *v = json_object();
    int rc = -ENOMEM;
    if (v && !json_object_set_new(v, key, json_stringn(s, len))) rc = app_encode_json(out, v);
    json_decref(v);
    return rc;
}

int app_respond(const json_t *table, const struct app_msg *req, struct buf *out, char *why,
                size_t n)
{
    if (!req->json) {
        /* any type but text/json is bytes: echo the first ten */
        static const char pre[] = "First 10 bytes of request: ";
        char body[sizeof pre - 1 + 10];
        size_t k = req->content_len < 10 ? req->content_len : 10;
        memcpy(body, pre, sizeof pre - 1);
        memcpy(body + sizeof pre - 1, req->content, k);
        return app_encode(out, APP_TYPE_SRV_BINARY, "binary", body, sizeof pre - 1 + k);
    }
    if (!json_is_object(req->json)) {
        snprintf(why, n, "request content is not a JSON object");
        return BERTH_EPROTO;
    }
    const json_t *action = json_object_get(req->json, "action");
    const json_t *value = json_object_get(req->json, "value");
    struct buf r;
    buf_init(&r, 0);
    int rc;
    if (json_is_string(action) && !strcmp(json_string_value(action), "search") &&
        json_string_length(action) == 6) {
        const json_t *hit =
            json_is_string(value)
                ? json_object_getn(table, json_string_value(value), json_string_length(value))
                : NULL;
        /* the reference writes `table.get(query) or f"No match for '{query}'."`
         * (single quotes since 2022): an empty answer counts as no match */
        if (hit && json_string_length(hit)) {
            rc = buf_append(&r, json_string_value(hit), json_string_length(hit));
        } else if ((rc = buf_append(&r, "No match for '", 14)) == 0 &&
                   (rc = put_value(&r, value)) == 0) {
            rc = buf_append(&r, "'.", 2);
        }
    } else if ((rc = buf_append(&r, "Error: invalid action '", 23)) == 0 &&
               (rc = put_value(&r, action)) == 0) {
        rc = buf_append(&r, "'.", 2);
    }
    if (rc == 0) rc = reply_text(out, "result", buf_head(&r), buf_len(&r));
    buf_free(&r);
    return rc;
}

/* ---- connections ---- */

enum conn_state {
    C_OPEN,  /* reading requests, answering them */
    C_FLUSH, /* the peer finished: send what is left, then close */
    C_ERROR, /* an error reply is queued: send it, then half-close */
    C_DRAIN, /* half-closed after an error: discard input until EOF or linger */
};

struct srv;

struct conn {
    struct loop_timer timer; /* the timer callback finds its conn by offsetof */
    struct srv *s;
    struct conn *prev, *next;
    struct conn *wnext; /* the admission queue, while waiting */
    int fd;
    enum conn_state state;
    int eof;         /* the peer will send nothing more */
    int partial;     /* c->in ends inside a message still arriving */
    int waiting;     /* in the admission queue: not reading */
    size_t admitted; /* bytes of the buffer budget the current message holds */
    /* loop_now() ms; 0: not running */
    uint64_t msg_start; /* the first byte of the partial message */
    uint64_t in_since;  /* the last byte of it */
    uint64_t out_since; /* answers owed and none taken since */
    struct buf in, out;
    struct app_dec dec;
    char peer[64];
};

struct srv {
    const struct app_server_opt *o;
    FILE *out;
    struct loop *l;
    int lfd;
    json_t *own_table; /* the built-in one, when o->table is NULL */
    const json_t *table;
    struct conn *head;
    struct loop_timer accept_pause;
    size_t nconn, max_conn;
    int full;         /* at max_conn: the listener is quiet */
    time_t full_said; /* when "limit reached" was last printed */
    size_t budget;    /* what unfinished messages may hold in all */
    size_t reserved;  /* the sum of the conns' `admitted` */
    int msg_ms;       /* whole-message deadline; 0: none */
    struct conn *wait_head, *wait_tail;
    int admitting; /* inside admit_waiters */
};

static void accept_cb(struct loop *l, int fd, unsigned events, void *arg);
static void conn_cb(struct loop *l, int fd, unsigned events, void *arg);
static int conn_arm(struct conn *c, int progress);
static void conn_free(struct conn *c);

static size_t msg_size(const struct conn *c)
{
    return c->dec.head_size + c->dec.content_len;
}

/* Gives the waiting connections, in order, the budget their message needs
 * while it lasts.  First come, first served: a large message is not passed
 * over for ever by small ones. */
static void admit_waiters(struct srv *s)
{
    if (s->admitting) return; /* conn_free below comes back here */
    s->admitting = 1;
    while (s->wait_head && s->reserved + msg_size(s->wait_head) <= s->budget) {
        struct conn *c = s->wait_head;
        s->wait_head = c->wnext;
        if (!s->wait_head) s->wait_tail = NULL;
        c->wnext = NULL;
        c->waiting = 0;
        c->admitted = msg_size(c);
        s->reserved += c->admitted;
        /* the time it waited was ours, not its: the message starts now */
        c->msg_start = c->in_since = 0;
        if (conn_arm(c, 1) < 0) conn_free(c);
    }
    s->admitting = 0;
}

/* The current message is done with (answered, refused, or its connection
 * gone): its share of the budget goes to whoever waits. */
static void release(struct conn *c)
{
    if (!c->admitted) return;
    c->s->reserved -= c->admitted;
    c->admitted = 0;
    admit_waiters(c->s);
}

/* The current message's header is parsed: the message may grow to its full
 * size only with a share of the budget; otherwise it waits in line. */
static void admit(struct conn *c)
{
    struct srv *s = c->s;
    if (c->admitted || c->waiting || !c->dec.header) return;
    if (!s->wait_head && s->reserved + msg_size(c) <= s->budget) {
        c->admitted = msg_size(c);
        s->reserved += c->admitted;
        return;
    }
    c->waiting = 1;
    c->msg_start = c->in_since = 0;
    if (s->wait_tail)
        s->wait_tail->wnext = c;
    else
        s->wait_head = c;
    s->wait_tail = c;
}

static void unqueue(struct conn *c)
{
    struct srv *s = c->s;
    if (!c->waiting) return;
    struct conn **p = &s->wait_head, *prev = NULL;
    while (*p && *p != c) {
        prev = *p;
        p = &prev->wnext;
    }
    if (*p) *p = c->wnext;
    if (s->wait_tail == c) s->wait_tail = prev;
    c->wnext = NULL;
    c->waiting = 0;
}

/* A buffer that held a large message is given back once it is empty, or
 * its pages would stay resident for the life of the connection. */
static void shrink(struct conn *c)
{
    if (!buf_len(&c->in) && c->in.cap > BUF_KEEP) buf_free(&c->in);
}

static void conn_free(struct conn *c)
{
    struct srv *s = c->s;
    loop_io_del(s->l, c->fd);
    loop_timer_stop(s->l, &c->timer);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->head = c->next;
    if (c->next) c->next->prev = c->prev;
    unqueue(c);
    buf_free(&c->in);
    buf_free(&c->out);
    app_dec_free(&c->dec);
    s->nconn--;
    /* below the limit again: accept (unless an EMFILE pause is running) */
    if (s->full && !loop_timer_armed(&s->accept_pause)) {
        s->full = 0;
        loop_io_set(s->l, s->lfd, LOOP_READ, accept_cb, s);
    }
    size_t held = c->admitted;
    free(c);
    if (held) {
        s->reserved -= held;
        admit_waiters(s);
    }
}

/* Queues {"error": why} and moves to C_ERROR; the peer hears why before the
 * connection closes. */
static void conn_refuse(struct conn *c, const char *why)
{
    if (!c->s->o->quiet) fprintf(c->s->out, "%s: %s; closing\n", c->peer, why);
    buf_clear(&c->in);
    c->partial = 0;
    unqueue(c);
    if (reply_text(&c->out, "error", why, strlen(why)) < 0) buf_clear(&c->out);
    c->state = C_ERROR;
    release(c);
}

/* Answers every whole request in c->in, in order, while the output is
 * below the high-water mark. */
static void conn_process(struct conn *c)
{
    while (c->state == C_OPEN && !c->waiting && buf_len(&c->out) < HIGH_WATER) {
        struct app_msg m;
        ssize_t r = app_decode(&c->dec, buf_head(&c->in), buf_len(&c->in), c->eof, &m);
        if (r == 0) {
            c->partial = buf_len(&c->in) > 0;
            if (c->eof) c->state = C_FLUSH; /* a clean end between messages */
            admit(c);
            return;
        }
        if (r < 0) {
            conn_refuse(c, c->dec.why);
            return;
        }
        c->partial = 0;
        c->msg_start = c->in_since = 0;
        char why[128];
        int rc = app_respond(c->s->table, &m, &c->out, why, sizeof why);
        app_msg_free(&m);
        buf_consume(&c->in, (size_t)r);
        release(c);
        if (rc == BERTH_EPROTO)
            conn_refuse(c, why);
        else if (rc < 0)
            conn_refuse(c, err_str(rc));
    }
}

/* Whether c may read now: never past its share of the budget. */
static int conn_reads(const struct conn *c)
{
    return c->state == C_DRAIN ||
           (c->state == C_OPEN && !c->eof && !c->waiting && buf_len(&c->out) < HIGH_WATER);
}

/* Reads once; 1 on progress, 0 on nothing, < 0 on a dead connection. */
static int conn_read(struct conn *c)
{
    ssize_t r = buf_read_fd(&c->in, c->fd, READ_CHUNK);
    if (r > 0) {
        if (c->state == C_DRAIN) buf_clear(&c->in);
        return 1;
    }
    if (r == 0) {
        c->eof = 1;
        return 1;
    }
    return r == -EAGAIN ? 0 : (int)r;
}

/* Sends what is queued; 1 on progress, 0 on EAGAIN, < 0 on a dead peer. */
static int conn_write(struct conn *c)
{
    int progress = 0;
    while (buf_len(&c->out)) {
        ssize_t w = send(c->fd, buf_head(&c->out), buf_len(&c->out), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno == EAGAIN ? progress : -errno;
        buf_consume(&c->out, (size_t)w);
        progress = 1;
    }
    return progress;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

/* The silence deadline of the partial message (--timeout) and its whole
 * deadline (--message-timeout); 0: none */
static uint64_t msg_deadline(const struct conn *c, int *whole)
{
    const struct srv *s = c->s;
    uint64_t quiet = c->in_since && s->o->timeout_ms > 0 ? c->in_since + s->o->timeout_ms : 0;
    uint64_t all = c->msg_start && s->msg_ms ? c->msg_start + (uint64_t)s->msg_ms : 0;
    if (whole) *whole = all && (!quiet || all <= quiet);
    return earliest(quiet, all);
}

static void conn_timeout(struct loop *l, struct loop_timer *t)
{
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, timer));
    int whole;
    uint64_t d = msg_deadline(c, &whole);
    if (c->state == C_OPEN && d && d <= loop_now(l)) {
        /* half a message and then silence, or a message that trickles */
        char why[128];
        if (whole)
            snprintf(why, sizeof why,
                     "timeout: message not complete within %d ms of its first byte", c->s->msg_ms);
        else
            snprintf(why, sizeof why, "timeout: no complete message within %d ms",
                     c->s->o->timeout_ms);
        conn_refuse(c, why);
        conn_cb(c->s->l, c->fd, 0, c);
        return;
    }
    /* a peer that reads nothing we send, or an error reply's linger ran out */
    conn_free(c);
}

/* Sets interest and timer from c's state; `progress`: bytes moved just now. */
static int conn_arm(struct conn *c, int progress)
{
    struct srv *s = c->s;
    struct loop *l = s->l;
    unsigned ev = (conn_reads(c) ? LOOP_READ : 0) | (buf_len(&c->out) ? LOOP_WRITE : 0);
    if (ev != loop_io_get(l, c->fd) && loop_io_set(l, c->fd, ev, conn_cb, c) < 0) return -ENOMEM;
    if (c->state == C_DRAIN) return 0; /* the linger timer runs */

    uint64_t now = loop_now(l);
    if (c->partial && c->state == C_OPEN && !c->waiting) {
        if (!c->msg_start) c->msg_start = now;
        if (!c->in_since || progress) c->in_since = now;
    } else {
        c->msg_start = c->in_since = 0;
    }
    if (!buf_len(&c->out))
        c->out_since = 0;
    else if (!c->out_since || progress)
        c->out_since = now;
    uint64_t d = msg_deadline(c, NULL);
    if (c->out_since && s->o->timeout_ms > 0)
        d = earliest(d, c->out_since + (uint64_t)s->o->timeout_ms);
    if (!d)
        loop_timer_stop(l, &c->timer);
    else if (!loop_timer_armed(&c->timer) || c->timer.when != d)
        return loop_timer_set(l, &c->timer, d > now ? d - now : 0, conn_timeout);
    return 0;
}

/* One step of the connection's state machine, then interest and timer are
 * re-armed from the state (quark's pattern). */
static void conn_cb(struct loop *l, int fd, unsigned events, void *arg)
{
    struct conn *c = arg;
    int progress = 0, rc;
    (void)fd;

    if ((events & (LOOP_READ | LOOP_HUP)) && conn_reads(c)) {
        if ((rc = conn_read(c)) < 0) goto dead;
        progress |= rc;
    }
    conn_process(c);
    if ((rc = conn_write(c)) < 0) goto dead;
    progress |= rc;
    /* after a write the peer may have room for more answers */
    if (c->state == C_OPEN && buf_len(&c->in) && buf_len(&c->out) < HIGH_WATER) {
        conn_process(c);
        if ((rc = conn_write(c)) < 0) goto dead;
    }
    shrink(c);

    if (!buf_len(&c->out)) {
        if (c->state == C_FLUSH) goto dead;
        if (c->state == C_ERROR) {
            /* half-close and keep reading a while: closing with unread
             * input would send a reset that can destroy the error reply */
            shutdown(c->fd, SHUT_WR);
            c->state = C_DRAIN;
            buf_clear(&c->in);
            shrink(c);
            if (loop_timer_set(l, &c->timer, LINGER_MS, conn_timeout) < 0) goto dead;
        }
        if (c->state == C_DRAIN && c->eof) goto dead;
    }
    if (conn_arm(c, progress) < 0) goto dead;
    return;
dead:
    conn_free(c);
}

static void accept_resume(struct loop *l, struct loop_timer *t)
{
    struct srv *s = (struct srv *)((char *)t - offsetof(struct srv, accept_pause));
    loop_io_set(l, s->lfd, LOOP_READ, accept_cb, s);
}

static void accept_cb(struct loop *l, int fd, unsigned events, void *arg)
{
    struct srv *s = arg;
    (void)events;
    for (int i = 0; i < 64; i++) {
        if (s->nconn >= s->max_conn) {
            /* the listener stays quiet until a connection ends: new clients
             * wait in the kernel's queue, and no wake-up is wasted */
            loop_io_set(l, fd, 0, accept_cb, s);
            s->full = 1;
            time_t now = time(NULL);
            if (!s->o->quiet && now - s->full_said >= 60) {
                fprintf(s->out,
                        "%zu connections, the limit: new clients wait until one closes "
                        "(--max-conn)\n",
                        s->max_conn);
                s->full_said = now;
            }
            return;
        }
        struct net_addr peer;
        int cfd = net_accept(fd, &peer);
        if (cfd == -EMFILE || cfd == -ENFILE || cfd == -ENOBUFS || cfd == -ENOMEM) {
            if (!s->o->quiet) fprintf(s->out, "accept: %s\n", err_str(cfd));
            /* level-triggered: a full fd table would wake us forever */
            loop_io_set(l, fd, 0, accept_cb, s);
            loop_timer_set(l, &s->accept_pause, ACCEPT_WAIT, accept_resume);
            return;
        }
        if (cfd == -EAGAIN) return;
        if (cfd < 0) continue; /* ECONNABORTED and friends: that peer is gone */
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(cfd);
            continue;
        }
        c->s = s;
        c->fd = cfd;
        buf_init(&c->in, 0);
        buf_init(&c->out, 0);
        app_dec_init(&c->dec, 0, s->o->max_content);
        net_addr_str(&peer, c->peer, sizeof c->peer);
        c->next = s->head;
        if (s->head) s->head->prev = c;
        s->head = c;
        s->nconn++;
        if (loop_io_set(l, cfd, LOOP_READ, conn_cb, c) < 0) conn_free(c);
    }
}

static void stop_cb(struct loop *l, int signo, void *arg)
{
    (void)signo;
    (void)arg;
    loop_stop(l);
}

int app_server_run(const struct app_server_opt *o, char *why, size_t n)
{
    struct srv s = {.o = o, .out = o->out ? o->out : stdout, .lfd = -1, .table = o->table};
    int rc;
    s.max_conn = o->max_conn ? o->max_conn : APP_MAX_CONN;
    s.msg_ms = o->message_timeout_ms < 0    ? 0
               : o->message_timeout_ms == 0 ? APP_MESSAGE_TIMEOUT_MS
                                            : o->message_timeout_ms;
    /* one message of the largest size must always fit, or it would wait
     * for ever */
    size_t one = (o->max_content ? o->max_content : APP_CONTENT_MAX) + 2 + APP_HEADER_MAX;
    s.budget = o->max_buffered ? o->max_buffered : APP_BUFFERED_MAX;
    if (s.budget < one) s.budget = one;
    if (!s.table && !(s.table = s.own_table = app_table_default())) return -ENOMEM;

    struct net_listen_opt lo = {.nonblock = 1};
    struct net_addr bound;
    rc = net_listen(o->host, o->port, SOCK_STREAM, &lo, &bound);
    if (rc < 0) {
        char what[300];
        snprintf(what, sizeof what, "cannot listen on %s port %d", o->host ? o->host : "*",
                 o->port);
        err_fmt(why, n, rc, what);
        goto fail;
    }
    s.lfd = rc;
    if (!(s.l = loop_new())) {
        rc = -ENOMEM;
        err_fmt(why, n, rc, "event loop");
        goto fail;
    }
    if ((rc = loop_signal(s.l, SIGINT, stop_cb, &s)) < 0 ||
        (rc = loop_signal(s.l, SIGTERM, stop_cb, &s)) < 0 ||
        (rc = loop_io_set(s.l, s.lfd, LOOP_READ, accept_cb, &s)) < 0) {
        err_fmt(why, n, rc, "event loop");
        goto fail;
    }
    char addr[300];
    const char *host = o->host ? o->host : "";
    if (!strncmp(host, "unix:", 5))
        snprintf(addr, sizeof addr, "%s", host);
    else
        net_addr_str(&bound, addr, sizeof addr);
    fprintf(s.out, "listening on %s (app protocol)\n", addr);
    fflush(s.out);

    rc = loop_run(s.l);
    if (rc < 0) err_fmt(why, n, rc, "event loop");
fail:
    while (s.head)
        conn_free(s.head);
    if (s.l) {
        loop_timer_stop(s.l, &s.accept_pause);
        loop_free(s.l);
    }
    if (s.lfd >= 0) {
        close(s.lfd);
        if (!strncmp(o->host ? o->host : "", "unix:", 5)) unlink(o->host + 5);
    }
    json_decref(s.own_table);
    fflush(s.out);
    return rc;
}
