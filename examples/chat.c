/* chat — a chat room: GET / answers a page (embedded below) whose script
 * opens a WebSocket to /ws; every text message a client sends is broadcast
 * to every connected client as "#N: text".
 *
 *   build/examples/chat [PORT] [--tls-self-signed]   (default 8000; 0 picks a free port)
 *
 * workers = 1: every connection is on the one worker thread, so the
 * callbacks never run concurrently and the list of clients needs no lock
 * (with more workers, each would have to keep its own list, and a message
 * could reach only the clients of its own worker).  A client that does not
 * read its messages is dropped (1008) once its send queue is full, so one
 * slow reader cannot make the room use unbounded memory. */
#include <berth.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char page[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>berth chat</title>\n"
    "<style>body{font:16px sans-serif;margin:2em}#log{border:1px solid #ccc;height:20em;"
    "overflow:auto;padding:.5em;white-space:pre-wrap}</style></head><body>\n"
    "<h1>berth chat</h1><div id=\"log\"></div>\n"
    "<form id=\"f\"><input id=\"msg\" autocomplete=\"off\" size=\"60\" autofocus> "
    "<button>Send</button></form><p id=\"state\">connecting</p>\n"
    "<script>\n"
    "var log = document.getElementById('log'), state = document.getElementById('state');\n"
    "var ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + "
    "location.host + '/ws');\n"
    "function show(t) { var d = document.createElement('div'); d.className = 'm'; "
    "d.textContent = t; log.appendChild(d); log.scrollTop = log.scrollHeight; }\n"
    "ws.onopen = function () {\n"
    "  state.textContent = 'open';\n"
    "  var say = new URLSearchParams(location.search).get('say');\n"
    "  if (say) ws.send(say);\n"
    "};\n"
    "ws.onmessage = function (e) { show(e.data); };\n"
    "ws.onclose = function (e) { state.textContent = 'closed ' + e.code; };\n"
    "document.getElementById('f').onsubmit = function (e) {\n"
    "  e.preventDefault(); var m = document.getElementById('msg');\n"
    "  if (m.value) ws.send(m.value); m.value = '';\n"
    "};\n"
    "</script></body></html>\n";

struct client {
    berth_ws *ws;
    int id;
    struct client *prev, *next;
};

struct room {
    struct client *clients;
    int next_id;
};

static void serve_page(berth_req *r, void *arg)
{
    (void)arg;
    berth_respond(r, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}

static void on_open(berth_ws *ws, void *arg)
{
    struct room *room = arg;
    struct client *c = calloc(1, sizeof *c);
    if (!c) {
        berth_ws_close(ws, 1011, "out of memory");
        return;
    }
    c->ws = ws;
    c->id = ++room->next_id;
    c->next = room->clients;
    if (room->clients) room->clients->prev = c;
    room->clients = c;
    berth_ws_set_data(ws, c);
}

static void on_message(berth_ws *ws, int binary, const void *data, size_t len, void *arg)
{
    struct room *room = arg;
    struct client *from = berth_ws_get_data(ws);
    if (!from) return;
    if (binary) {
        berth_ws_close(ws, 1003, "this room takes text only");
        return;
    }
    char head[32];
    int hl = snprintf(head, sizeof head, "#%d: ", from->id);
    char *line = malloc((size_t)hl + len);
    if (!line) return;
    memcpy(line, head, (size_t)hl);
    memcpy(line + hl, data, len);
    /* berth_ws_send never closes or frees another client here (a failure
     * is handled from that client's own events), so walking the list is
     * safe; close only marks a client as closing */
    for (struct client *c = room->clients; c; c = c->next)
        if (berth_ws_send(c->ws, 0, line, (size_t)hl + len) == -ENOBUFS)
            berth_ws_close(c->ws, 1008, "you do not read your messages");
    free(line);
}

static void on_close(berth_ws *ws, int code, const char *reason, size_t len, void *arg)
{
    (void)code;
    (void)reason;
    (void)len;
    struct room *room = arg;
    struct client *c = berth_ws_get_data(ws);
    if (!c) return;
    if (c->prev)
        c->prev->next = c->next;
    else
        room->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c);
}

static void chat_ws(berth_req *r, void *arg)
{
    static const struct berth_ws_cb cb = {
        .open = on_open, .message = on_message, .close = on_close};
    struct berth_ws_opts o;
    berth_ws_opts_init(&o);
    o.max_message = 64 * 1024; /* a chat line, not a file */
    o.max_buffered = 1 << 20;
    berth_ws_upgrade(r, &cb, arg, &o);
}

int main(int argc, char **argv)
{
    struct berth_opts o;
    berth_opts_init(&o);
    o.port = 8000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tls-self-signed"))
            o.tls_self_signed = 1;
        else
            o.port = atoi(argv[i]);
    }
    o.workers = 1; /* see the top of this file */
    static struct room room;
    berth_server *s;
    int rc = berth_server_new(&s, &o);
    if (rc == 0) rc = berth_route(s, "GET", "/", 0, serve_page, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/ws", 0, chat_ws, &room);
    if (rc == 0) rc = berth_server_listen(s);
    if (rc < 0) {
        fprintf(stderr, "chat: %s\n", berth_strerror(rc));
        return 1;
    }
    const char *spki = berth_server_tls_spki(s);
    printf("Serving %s on %s port %d (%s://localhost:%d/) ...\n", spki ? "HTTPS" : "HTTP",
           berth_server_host(s), berth_server_port(s), spki ? "https" : "http",
           berth_server_port(s));
    if (spki) printf("TLS certificate (self-signed), SHA-256 SPKI fingerprint: %s\n", spki);
    fflush(stdout);
    rc = berth_server_run(s);
    berth_server_free(s);
    return rc < 0;
}
