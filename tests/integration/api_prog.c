/* api_prog — a small program embedding berth through the installed
 * berth.h and berth.pc only, for test_api.py.
 *
 *   api_prog         serves on 127.0.0.1, a free port, one worker; prints
 *                    "codes FIELD USAGE RESERVED" then "port N"
 *
 *   GET /inject      tries to inject fields; the body lists each call's code
 *   GET /files/...   prefix route: "files <method> <path>"
 *   POST|PUT /upload exact routes: "<method> /upload"
 *   GET /status?N    answers status N with an empty body */
#include <berth.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void say(berth_req *req, int status, const char *text)
{
    berth_respond(req, status, "text/plain", text, strlen(text));
}

static void inject(berth_req *req, void *arg)
{
    (void)arg;
    char out[1024];
    int a = berth_resp_header(req, "X-Ok", "fine");
    int b = berth_resp_header(req, "X-Bad", "a\r\nSet-Cookie: evil=1");
    int c = berth_resp_header(req, "Content-Length", "0");
    int d = berth_resp_header(req, "Transfer-Encoding", "chunked");
    int e = berth_resp_header(req, "Bad Name", "v");
    int f = berth_respond(req, 200, "text/plain\r\nSet-Cookie: evil=2", "x", 1);
    snprintf(out, sizeof out, "%d %d %d %d %d %d\n%s\n%s\n", a, b, c, d, e, f, berth_strerror(b),
             berth_strerror(c));
    say(req, 200, out);
}

static void files(berth_req *req, void *arg)
{
    (void)arg;
    char out[512];
    snprintf(out, sizeof out, "files %s %s", berth_req_method(req), berth_req_path(req));
    say(req, 200, out);
}

static void upload(berth_req *req, void *arg)
{
    (void)arg;
    char out[64];
    snprintf(out, sizeof out, "%s /upload", berth_req_method(req));
    say(req, 200, out);
}

static void status(berth_req *req, void *arg)
{
    (void)arg;
    berth_respond(req, atoi(berth_req_query(req)), NULL, NULL, 0);
}

int main(void)
{
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.workers = 1;
    o.quiet = 1;
    berth_server *s;
    int rc = berth_server_new(&s, &o);
    if (rc == 0) rc = berth_route(s, "GET", "/inject", 0, inject, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/files", 1, files, NULL);
    if (rc == 0) rc = berth_route(s, "POST", "/upload", 0, upload, NULL);
    if (rc == 0) rc = berth_route(s, "PUT", "/upload", 0, upload, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/status", 0, status, NULL);
    if (rc == 0) rc = berth_server_listen(s);
    if (rc < 0) {
        fprintf(stderr, "api_prog: %s\n", berth_strerror(rc));
        return 1;
    }
    printf("codes %d %d %d\nport %d\n", BERTH_ERR_FIELD, BERTH_ERR_USAGE, BERTH_ERR_RESERVED,
           berth_server_port(s));
    fflush(stdout);
    rc = berth_server_run(s);
    berth_server_free(s);
    return rc < 0;
}
