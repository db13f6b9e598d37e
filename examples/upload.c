/* upload — a handler that receives request bodies: POST /upload answers
 * with the body's length and bytes, whether the client sent it with a
 * Content-Length or in chunks (the server decodes them).  GET /proto says
 * which protocol the request came in and whether it was secure.  A static
 * root can be served beside it.
 *
 *   build/examples/upload [PORT [ROOT [MAX_BODY [tls]]]]
 *       (default 8000, no root, 1 MiB; "tls": HTTPS with an in-memory
 *       self-signed certificate, h2 by ALPN; h2c with prior knowledge is
 *       served on the plain port)
 */
#include <berth.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void upload(berth_req *req, void *arg)
{
    (void)arg;
    size_t n;
    const char *body = berth_req_body(req, &n);
    char len[32];
    snprintf(len, sizeof len, "%zu", n);
    berth_resp_header(req, "X-Body-Length", len);
    berth_respond(req, 200, "application/octet-stream", body, n);
}

static void proto(berth_req *req, void *arg)
{
    (void)arg;
    char out[64];
    int n = snprintf(out, sizeof out, "%s %s\n", berth_req_protocol(req),
                     berth_req_secure(req) ? "secure" : "plain");
    berth_respond(req, 200, "text/plain", out, (size_t)n);
}

int main(int argc, char **argv)
{
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = argc > 1 ? atoi(argv[1]) : 8000;
    o.root = argc > 2 && *argv[2] ? argv[2] : NULL;
    if (argc > 3 && *argv[3]) o.max_body = strtoul(argv[3], NULL, 10);
    if (argc > 4) {
        if (strcmp(argv[4], "tls") != 0) {
            fprintf(stderr, "upload: unknown option '%s'; the fourth argument is \"tls\" or none\n",
                    argv[4]);
            return 2;
        }
        o.tls_self_signed = 1;
    }
    o.workers = 1;
    berth_server *s;
    int rc = berth_server_new(&s, &o);
    if (rc == 0) rc = berth_route(s, "POST", "/upload", 0, upload, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/proto", 0, proto, NULL);
    if (rc == 0) rc = berth_server_listen(s);
    if (rc < 0) {
        fprintf(stderr, "upload: %s\n", berth_strerror(rc));
        return 1;
    }
    const char *spki = berth_server_tls_spki(s);
    if (spki) printf("TLS certificate (self-signed), SHA-256 SPKI fingerprint: %s\n", spki);
    printf("Serving %s on %s port %d (%s://localhost:%d/) ...\n", spki ? "HTTPS" : "HTTP",
           berth_server_host(s), berth_server_port(s), spki ? "https" : "http",
           berth_server_port(s));
    fflush(stdout);
    rc = berth_server_run(s);
    berth_server_free(s);
    return rc < 0;
}
