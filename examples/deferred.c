/* deferred — answers from a pool of worker threads: GET /work?ms=N is
 * handed to the pool, which answers it N ms later (default 100) from its
 * own thread; a client that leaves first is noticed (gone) and its job's
 * answer is dropped safely.  GET /stats: jobs done, clients gone.
 *
 *   build/examples/deferred [PORT [THREADS]]
 */
#include <berth.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct job {
    struct job *next;
    berth_req *req; /* the deferred handle: this job releases it */
    int ms;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct job *head, **tail = &head;
static atomic_long done, gone;

static void on_gone(berth_req *req, void *arg)
{
    (void)req;
    (void)arg;
    gone++; /* the job still ends the request: its calls return BERTH_ERR_GONE */
}

static void work(berth_req *req, void *arg)
{
    (void)arg;
    char v[16] = "100";
    berth_req_query_param(req, "ms", v, sizeof v);
    struct job *j = malloc(sizeof *j);
    if (!j || berth_req_defer(req, &j->req) < 0) {
        free(j);
        berth_respond(req, 503, "text/plain", "busy\n", 5);
        return;
    }
    j->ms = atoi(v);
    j->next = NULL;
    berth_req_callbacks(req, NULL, on_gone, NULL);
    pthread_mutex_lock(&mu);
    *tail = j;
    tail = &j->next;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

static void *pool(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (!head)
            pthread_cond_wait(&cv, &mu);
        struct job *j = head;
        head = j->next;
        if (!head) tail = &head;
        pthread_mutex_unlock(&mu);
        usleep((useconds_t)j->ms * 1000);
        char out[64];
        int n = snprintf(out, sizeof out, "done after %d ms\n", j->ms);
        /* safe whatever became of the client: BERTH_ERR_GONE then */
        if (berth_respond(j->req, 200, "text/plain", out, (size_t)n) == 0) done++;
        free(j);
    }
    return NULL;
}

static void stats(berth_req *req, void *arg)
{
    (void)arg;
    char out[64];
    int n = snprintf(out, sizeof out, "done %ld gone %ld\n", (long)done, (long)gone);
    berth_respond(req, 200, "text/plain", out, (size_t)n);
}

int main(int argc, char **argv)
{
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = argc > 1 ? atoi(argv[1]) : 8000;
    int threads = argc > 2 ? atoi(argv[2]) : 4;
    o.workers = 1;
    o.quiet = 1;
    berth_server *s;
    int rc = berth_server_new(&s, &o);
    if (rc == 0) rc = berth_route(s, "GET", "/work", 0, work, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/stats", 0, stats, NULL);
    if (rc == 0) rc = berth_server_listen(s);
    if (rc < 0) {
        fprintf(stderr, "deferred: %s\n", berth_strerror(rc));
        return 1;
    }
    for (int i = 0; i < (threads > 0 ? threads : 1); i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, pool, NULL) != 0) return 1;
        pthread_detach(t);
    }
    printf("serving on http://%s:%d/\n", berth_server_host(s), berth_server_port(s));
    fflush(stdout);
    rc = berth_server_run(s);
    berth_server_free(s);
    return rc < 0;
}
