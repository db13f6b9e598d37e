/* sse_clock — Server-Sent Events: GET /clock streams the time once every
 * INTERVAL ms (default 1000) as text/event-stream, until the client goes;
 * GET / serves a page that shows it.  One thread ticks for every client.
 *
 *   build/examples/sse_clock [PORT [INTERVAL_MS]]
 */
#include <berth.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 256

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static berth_req *clients[MAX_CLIENTS]; /* deferred handles, owned until released */
static int interval_ms = 1000;

static void drop(berth_req *req)
{
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (clients[i] == req) clients[i] = NULL;
}

/* the client went away: forget it and release the handle (on the worker) */
static void on_gone(berth_req *req, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    drop(req);
    pthread_mutex_unlock(&mu);
    berth_resp_end(req);
}

static void clock_route(berth_req *req, void *arg)
{
    (void)arg;
    berth_req *h;
    berth_resp_header(req, "Cache-Control", "no-cache");
    if (berth_resp_start(req, 200, "text/event-stream", -1) < 0 || berth_req_defer(req, &h) < 0) {
        berth_respond(req, 500, "text/plain", "no room\n", 8);
        return;
    }
    berth_req_callbacks(req, NULL, on_gone, NULL);
    berth_resp_write(h, "retry: 1000\n\n", 13);
    pthread_mutex_lock(&mu);
    int i = 0;
    while (i < MAX_CLIENTS && clients[i])
        i++;
    if (i < MAX_CLIENTS) clients[i] = h;
    pthread_mutex_unlock(&mu);
    if (i == MAX_CLIENTS) berth_resp_end(h);
}

static void *ticker(void *arg)
{
    (void)arg;
    for (unsigned long id = 1;; id++) {
        char ev[128];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        int n = snprintf(ev, sizeof ev, "id: %lu\ndata: ", id);
        n += (int)strftime(ev + n, sizeof ev - (size_t)n, "%Y-%m-%dT%H:%M:%SZ", &tm);
        n += snprintf(ev + n, sizeof ev - (size_t)n, "\n\n");
        pthread_mutex_lock(&mu);
        for (int i = 0; i < MAX_CLIENTS; i++)
            /* a client too slow to take its events (queue full) skips one */
            if (clients[i]) (void)berth_resp_write(clients[i], ev, (size_t)n);
        pthread_mutex_unlock(&mu);
        usleep((useconds_t)interval_ms * 1000);
    }
    return NULL;
}

static const char page[] =
    "<!doctype html><meta charset=utf-8><title>clock</title><p id=t>…</p>\n"
    "<script>new EventSource('/clock').onmessage = e => t.textContent = e.data;</script>\n";

static void index_route(berth_req *req, void *arg)
{
    (void)arg;
    berth_respond(req, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}

int main(int argc, char **argv)
{
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = argc > 1 ? atoi(argv[1]) : 8000;
    if (argc > 2) interval_ms = atoi(argv[2]) > 0 ? atoi(argv[2]) : 1000;
    o.workers = 1;
    berth_server *s;
    pthread_t t;
    int rc = berth_server_new(&s, &o);
    if (rc == 0) rc = berth_route(s, "GET", "/clock", 0, clock_route, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/", 0, index_route, NULL);
    if (rc == 0) rc = berth_server_listen(s);
    if (rc < 0) {
        fprintf(stderr, "sse_clock: %s\n", berth_strerror(rc));
        return 1;
    }
    if (pthread_create(&t, NULL, ticker, NULL) != 0) return 1;
    printf("serving on http://%s:%d/\n", berth_server_host(s), berth_server_port(s));
    fflush(stdout);
    rc = berth_server_run(s);
    berth_server_free(s);
    return rc < 0;
}
