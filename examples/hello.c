/* hello — seed 004's web server, embedded: GET / answers "Hello, client!".
 *
 *   build/examples/hello [PORT]      (default 8000; 0 picks a free port)
 *
 * The GET route answers HEAD too, other methods on "/" get 405 with Allow,
 * and every other path a 404, since no root is set. */
#include <berth.h>

#include <stdio.h>
#include <stdlib.h>

static void hello(berth_req *req, void *arg)
{
    (void)arg;
    static const char body[] = "Hello, client!";
    berth_respond(req, 200, "text/html; charset=utf-8", body, sizeof body - 1);
}

int main(int argc, char **argv)
{
    struct berth_opts o;
    berth_opts_init(&o);
    o.port = argc > 1 ? atoi(argv[1]) : 8000;
    o.workers = 1;
    berth_server *s;
    int rc = berth_server_new(&s, &o);
    if (rc == 0) rc = berth_route(s, "GET", "/", 0, hello, NULL);
    if (rc == 0) rc = berth_server_listen(s);
    if (rc < 0) {
        fprintf(stderr, "hello: %s\n", berth_strerror(rc));
        return 1;
    }
    printf("Serving HTTP on %s port %d (http://localhost:%d/) ...\n", berth_server_host(s),
           berth_server_port(s), berth_server_port(s));
    fflush(stdout);
    rc = berth_server_run(s);
    berth_server_free(s);
    return rc < 0;
}
