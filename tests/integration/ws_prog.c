/* ws_prog — the WebSocket API (include/berth.h) driven by test_ws.py: a
 * server whose /ws route upgrades with the options given on the command
 * line, and whose callbacks print what happened and obey a few commands.
 *
 *   ws_prog PING_MS PONG_TIMEOUT_MS MAX_BUFFERED [tls|plain [IDLE_MS]]
 *
 * ("tls": HTTPS with a self-signed certificate, its SPKI printed; IDLE_MS
 * the idle timeout of connections.)  Each
 * upgrade prints "upgrade over PROTOCOL" (berth_req_protocol: HTTP/2 for
 * RFC 8441); /page is an HTML page whose WebSocket to /ws sends "hello"
 * and shows what comes back (test_ws_h2.py drives it with Chromium).
 *
 * On open it sends "protocol:<chosen>"; messages "close" (the server starts
 * the closing handshake with 4000 "asked"), "ping" (berth_ws_ping), "flood"
 * (64 KiB messages until berth_ws_send refuses; "drained" once the drain
 * callback comes), anything else is echoed.  Every close is printed as
 * "close CODE REASON".
 *
 * /later defers its answer and gives it from another thread without
 * upgrading: 200 with a body (/later), a streamed 200 whose write and end
 * are printed as "later-stream WRITE END" (/later?stream), or a 404
 * (/later?404): test_ws_h2.py checks that an extended CONNECT answered 2xx
 * so is a 501, as from a synchronous handler. */
#include <berth.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct berth_ws_opts wo;

static void on_open(berth_ws *ws, void *arg)
{
    (void)arg;
    char m[100];
    int n = snprintf(m, sizeof m, "protocol:%s", berth_ws_protocol(ws));
    berth_ws_send(ws, 0, m, (size_t)n);
}

static void on_message(berth_ws *ws, int binary, const void *data, size_t len, void *arg)
{
    (void)arg;
    if (!binary && len == 5 && !memcmp(data, "close", 5)) {
        int rc = berth_ws_close(ws, 4000, "asked");
        int again = berth_ws_close(ws, 4000, "asked");
        int bad = berth_ws_send(ws, 0, "x", 1);
        printf("closing %d %d %d\n", rc, again == -EPIPE, bad == -EPIPE);
    } else if (!binary && len == 4 && !memcmp(data, "ping", 4)) {
        printf("ping %d %d\n", berth_ws_ping(ws, "abc", 3), berth_ws_ping(ws, NULL, 200));
    } else if (!binary && len == 5 && !memcmp(data, "flood", 5)) {
        static char block[64 * 1024];
        int sent = 0, rc, last = 0;
        memset(block, 'f', sizeof block);
        while ((rc = berth_ws_send(ws, 1, block, sizeof block)) >= 0) {
            if (rc < last) break; /* the socket took some: keep going */
            last = rc;
            sent++;
        }
        printf("flood %d messages, then %s, %zu buffered\n", sent,
               rc == -ENOBUFS ? "ENOBUFS" : "other", berth_ws_buffered(ws));
        berth_ws_set_data(ws, (void *)1);
    } else {
        berth_ws_send(ws, binary, data, len);
    }
    fflush(stdout);
}

static void on_drain(berth_ws *ws, void *arg)
{
    (void)arg;
    if (berth_ws_get_data(ws)) {
        berth_ws_set_data(ws, NULL);
        printf("drain %zu\n", berth_ws_buffered(ws));
        fflush(stdout);
        berth_ws_send(ws, 0, "drained", 7);
    }
}

static void on_close(berth_ws *ws, int code, const char *reason, size_t len, void *arg)
{
    (void)ws;
    (void)arg;
    printf("close %d %.*s\n", code, (int)len, reason);
    fflush(stdout);
}

static void page(berth_req *r, void *arg)
{
    (void)arg;
    static const char html[] =
        "<!doctype html><meta charset=utf-8><p id=state>connecting</p><p id=log></p><script>\n"
        "var ws = new WebSocket((location.protocol == 'https:' ? 'wss://' : 'ws://') +\n"
        "                       location.host + '/ws');\n"
        "ws.onopen = function () { document.getElementById('state').textContent = 'open';\n"
        "                          ws.send('hello'); };\n"
        "ws.onmessage = function (e) { document.getElementById('log').textContent += e.data + "
        "';'; };\n"
        "ws.onclose = function (e) { document.getElementById('state').textContent = 'closed';"
        " };\n"
        "</script>\n";
    berth_respond(r, 200, "text/html; charset=utf-8", html, sizeof html - 1);
}

static void *answer_later(void *arg)
{
    berth_req *h = arg;
    const char *q = berth_req_query(h);
    if (!strcmp(q, "stream")) {
        int st = berth_resp_start(h, 200, "text/plain", -1);
        int w = berth_resp_write(h, "not a websocket", 15);
        int e = berth_resp_end(h);
        printf("later-stream %d %d %d\n", st, w, e);
    } else if (!strcmp(q, "404")) {
        berth_respond(h, 404, "text/plain", "none here", 9);
    } else {
        printf("later %d\n", berth_respond(h, 200, "text/plain", "not a websocket", 15));
    }
    fflush(stdout);
    return NULL;
}

static void later(berth_req *r, void *arg)
{
    (void)arg;
    berth_req *h;
    pthread_t t;
    if (berth_req_defer(r, &h) < 0 || pthread_create(&t, NULL, answer_later, h) != 0) {
        berth_respond(r, 500, "text/plain", "no thread", 9);
        return;
    }
    pthread_detach(t);
}

static void upgrade(berth_req *r, void *arg)
{
    (void)arg;
    printf("upgrade over %s\n", berth_req_protocol(r));
    fflush(stdout);
    static const struct berth_ws_cb cb = {
        .open = on_open, .message = on_message, .close = on_close, .drain = on_drain};
    int rc = berth_ws_upgrade(r, &cb, NULL, &wo);
    if (rc < 0) {
        printf("upgrade %s %s\n", rc == BERTH_ERR_HANDSHAKE ? "refused" : "failed",
               berth_strerror(rc));
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    berth_ws_opts_init(&wo);
    if (argc > 1) wo.ping_interval_ms = atoi(argv[1]);
    if (argc > 2) wo.pong_timeout_ms = atoi(argv[2]);
    if (argc > 3) wo.max_buffered = (size_t)atol(argv[3]);
    wo.protocols = "chat, superchat";
    int tls = argc > 4 && !strcmp(argv[4], "tls");
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.workers = 1;
    o.quiet = 1;
    o.status_path = "/status";
    o.tls_self_signed = tls;
    if (argc > 5) o.idle_timeout_ms = atoi(argv[5]);
    berth_server *s;
    int rc = berth_server_new(&s, &o);
    if (rc == 0) rc = berth_route(s, "GET", "/ws", 0, upgrade, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/page", 0, page, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/later", 0, later, NULL);
    if (rc == 0) rc = berth_server_listen(s);
    if (rc < 0) {
        fprintf(stderr, "ws_prog: %s\n", berth_strerror(rc));
        return 1;
    }
    const char *spki = berth_server_tls_spki(s);
    printf("Serving HTTP%s on 127.0.0.1 port %d\n", spki ? "S" : "", berth_server_port(s));
    if (spki) printf("SPKI fingerprint: %s\n", spki);
    fflush(stdout);
    rc = berth_server_run(s);
    berth_server_free(s);
    return rc < 0;
}
