/* What several libFuzzer targets share.  Not themselves targets (the
 * Makefile builds every fuzz/fuzz_*.c as one): fuzz/harness.c and
 * fuzz/harness_net.c go into build-fuzz/libfz.a, linked into each target,
 * so a target takes only the objects it calls — an in-memory target none
 * of the server's code, whose coverage counters libFuzzer would scan on
 * every run.
 *
 * harness.c:
 *   - a growing byte buffer, and a monotonic clock in milliseconds;
 *   - a temporary directory (tmpfs when there is one) removed at exit, and
 *     a small document root in one;
 *   - a request head parsed as the server parses one;
 *   - HTTP/2 frames from the records fuzz_h2 and fuzz_h2_conn read;
 * harness_net.c:
 *   - a real berth server on 127.0.0.1 run by a detached thread, and the
 *     client side of a whole connection over a real socket: connect, send
 *     while reading, read to the close or to the end of a response head;
 * inline here:
 *   - plain references for field grammar: tchar, comma lists.
 *
 * Every failure here is the harness's own (out of memory, no socket, no
 * temp directory): it aborts with a line naming the target.  The checks on
 * what the server sends stay in each target. */
#ifndef BERTH_FUZZ_HARNESS_H
#define BERTH_FUZZ_HARNESS_H

#include "http/parse.h"

#include <berth.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The target's name in the harness's messages, and the most bytes one
 * answer may bring before that is a failure (a bound on memory, not a
 * property: each target says what it expects; 0 keeps 64 MiB).  Call
 * first. */
void fz_setup(const char *name, size_t out_max);
const char *fz_name(void);
size_t fz_answer_max(void);
/* "<name>: what: detail" on stderr, then abort(). */
_Noreturn void fz_die(const char *what, const char *detail);

/* Bytes received or built; zero-initialised is empty. */
struct fz_bytes {
    uint8_t *p;
    size_t n, cap;
    long long last; /* fz_pump: when bytes last arrived */
};

void fz_put(struct fz_bytes *b, const void *p, size_t n);
/* room for n more bytes at b->p + b->n */
void fz_reserve(struct fz_bytes *b, size_t n);
long long fz_now_ms(void);

/* A fresh directory "<tmpfs or /tmp>/<tag>.XXXXXX", removed with all it
 * holds at exit; the path lives as long as the process (up to 4 a run). */
const char *fz_tmpdir(const char *tag);
/* dir/name holding text reps times over. */
void fz_put_file(const char *dir, const char *name, const char *text, size_t reps);
/* A fz_tmpdir to serve: a.txt (60 bytes), index.html, dir/b.css, and
 * big.bin (128 KiB: more than one send, past h2's first windows). */
const char *fz_docroot(const char *tag);

/* -- harness_net.c -- */

/* berth_opts_init, then what every whole-connection target wants: one
 * worker on 127.0.0.1, an ephemeral port, quiet, no signal handling, 3 s
 * head and idle timeouts (a held connection is a failure, not a wait). */
void fz_opts(struct berth_opts *o);
/* Listens, runs srv in a detached thread (its return, which must never
 * happen, aborts), and gives its port. */
int fz_serve(berth_server *srv);

/* Routes both the h1 and h2 targets mount: /echo answers "len=N\n", the
 * length of the body it received; /later is answered from another thread
 * (berth_req_defer). */
void fz_echo(berth_req *r, void *arg);
void fz_later(berth_req *r, void *arg);

/* A connection to 127.0.0.1:port, non-blocking (a signal interrupting the
 * wait only means waiting again), with TCP_NODELAY. */
int fz_dial(int port);
/* Reads what is there into o, waiting up to ms for the first byte; 1 at
 * EOF or reset, else 0. */
int fz_pump(int fd, struct fz_bytes *o, int ms);
/* Sends p[0..n), reading the answer meanwhile (the server may stop reading
 * while its output is not taken); stops early when the server closes or at
 * deadline. */
void fz_send_all(int fd, const void *p, size_t n, struct fz_bytes *o, long long deadline);
/* Reads until o holds a whole response head; its length through the blank
 * line, or 0 at EOF or deadline without one. */
size_t fz_read_head(int fd, struct fz_bytes *o, long long deadline);
/* Shuts our write side, reads until the server closes or stays silent for
 * silence_ms (the bound is on silence, not on the whole answer, which may
 * be large), closes fd; 1 when the server closed. */
int fz_finish(int fd, struct fz_bytes *o, int silence_ms);
/* A fresh connection sends req and the answer's head must begin with want:
 * the server survived the input.  Aborts otherwise. */
void fz_alive(int port, const char *req, size_t n, const char *want);

/* One HTTP/2 frame: its 9-byte head, then the payload. */
void fz_h2_frame(struct fz_bytes *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p,
                 size_t n);
/* The records [op][stream][len][len bytes] as frames after an empty
 * SETTINGS: op&3 0 raw bytes, 1 HEADERS from "name:value" lines (a leading
 * ':' belongs to the name) HPACK-encoded by nghttp2's deflater, 2 DATA,
 * 3 RST_STREAM (CANCEL); op&4 sets END_STREAM, op&8 leaves END_HEADERS
 * off.  Random bytes rarely make a valid HPACK block: this reaches past it. */
void fz_h2_records(const uint8_t *d, size_t n, struct fz_bytes *out);

/* data[0..n) copied into an exact-size heap block (so ASan sees a read past
 * it), set in *head (to free), and parsed there as a request head the way
 * the server parses one: default limits, up to 100 fields in h.
 * http_parse_request's result. */
int fz_parse_head(const uint8_t *data, size_t n, char **head, struct http_request *req,
                  struct http_header h[100]);

/* -- plain references the field checks compare the server's code with -- */

/* RFC 9110 §5.6.2: tchar (no ':', no NUL) */
static inline int fz_tchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c > 0 && c < 0x7f && strchr("!#$%&'*+-.^_`|~", c));
}

static inline int fz_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* p[0..n) is lit, ASCII case aside (lit in lower case or not) */
static inline int fz_eq_ci(const char *p, size_t n, const char *lit)
{
    if (strlen(lit) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (fz_lower((unsigned char)p[i]) != fz_lower((unsigned char)lit[i])) return 0;
    return 1;
}

/* The next member of the comma list s[0..n) from *at (0 to begin): s[*a..*b)
 * trimmed of SP/HTAB, maybe empty; 0 once every member was given (there
 * is one more member than there are commas). */
static inline int fz_list_next(const char *s, size_t n, size_t *at, size_t *a, size_t *b)
{
    if (*at > n) return 0;
    size_t i = *at, j = i;
    while (j < n && s[j] != ',')
        j++;
    size_t e = j;
    while (i < e && (s[i] == ' ' || s[i] == '\t'))
        i++;
    while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    *a = i;
    *b = e;
    *at = j + 1;
    return 1;
}

#endif
