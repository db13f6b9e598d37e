/* hasher — a thread that digests large files for one worker's cache.
 *
 * Jobs and results live in two fixed rings of HASHER_QUEUE slots; a job is
 * admitted only while fewer than HASHER_QUEUE are in flight (queued,
 * running, or done and not yet taken), so neither ring can overflow and
 * the descriptors the hasher holds are bounded too.  The thread reads in
 * 256 KiB chunks and looks at the stop flag between them, so a shutdown
 * waits for one chunk at most, whatever the file's size. */
#include "http/hasher.h"

#include "http/digest.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

struct hasher {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int started, stop;
    int efd;
    struct hasher_job jobs[HASHER_QUEUE]; /* key: a malloc'ed copy */
    unsigned jhead, jcount;
    struct hasher_result res[HASHER_QUEUE];
    unsigned rhead, rcount;
    int inflight;
    struct hasher_stats st; /* under mu */
};

struct hasher *hasher_new(void)
{
    struct hasher *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->efd < 0) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    return h;
}

int hasher_fd(const struct hasher *h)
{
    return h->efd;
}

static int same_version(const struct stat *st, const struct hasher_job *j)
{
    return st->st_dev == j->dev && st->st_ino == j->ino && (uint64_t)st->st_size == j->size &&
           st->st_mtim.tv_sec == j->mtime.tv_sec && st->st_mtim.tv_nsec == j->mtime.tv_nsec;
}

/* Digests the job's file into r; 0 when it read exactly the version the job
 * names, -1 otherwise (or when stopping). */
static int digest_file(struct hasher *h, const struct hasher_job *j, struct hasher_result *r,
                       char *chunk)
{
    struct http_digest_run *run[HTTP_DIGEST_ALGS] = {NULL, NULL};
    struct stat st;
    int rc = -1;
    if (fstat(j->fd, &st) < 0 || !same_version(&st, j)) return -1;
    for (int a = 0; a < HTTP_DIGEST_ALGS; a++)
        if ((j->algs & (1u << a)) && !(run[a] = http_digest_start(a))) goto out;
    uint64_t off = 0;
    while (off < j->size) {
        if (__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) goto out;
        size_t want = j->size - off < CHUNK ? (size_t)(j->size - off) : CHUNK;
        ssize_t k = pread(j->fd, chunk, want, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) goto out; /* shrunk or unreadable */
        for (int a = 0; a < HTTP_DIGEST_ALGS; a++)
            if (run[a] && http_digest_update(run[a], chunk, (size_t)k) < 0) goto out;
        off += (uint64_t)k;
        pthread_mutex_lock(&h->mu); /* progress, for the metrics: once per chunk */
        h->st.bytes += (uint64_t)k;
        pthread_mutex_unlock(&h->mu);
    }
    /* the bytes read are the version only if nothing changed meanwhile */
    if (fstat(j->fd, &st) < 0 || !same_version(&st, j) || st.st_nlink == 0) goto out;
    rc = 0;
out:
    for (int a = 0; a < HTTP_DIGEST_ALGS; a++) {
        uint8_t *dst = a == HTTP_DIGEST_SHA256 ? r->sha256 : r->sha512;
        if (run[a] && http_digest_finish(run[a], rc == 0 ? dst : NULL) < 0) rc = -1;
    }
    return rc;
}

static void *hasher_main(void *arg)
{
    struct hasher *h = arg;
    char *chunk = malloc(CHUNK);
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->jcount && !h->stop)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->stop) break;
        struct hasher_job j = h->jobs[h->jhead];
        h->jhead = (h->jhead + 1) % HASHER_QUEUE;
        h->jcount--;
        pthread_mutex_unlock(&h->mu);

        struct hasher_result r;
        memset(&r, 0, sizeof r);
        r.ok = chunk && digest_file(h, &j, &r, chunk) == 0;
        r.algs = j.algs;
        r.dev = j.dev;
        r.ino = j.ino;
        r.size = j.size;
        r.mtime = j.mtime;
        r.key = (char *)j.key; /* the copy made at submit moves to the result */
        close(j.fd);

        pthread_mutex_lock(&h->mu);
        h->res[(h->rhead + h->rcount) % HASHER_QUEUE] = r; /* room: inflight bounds it */
        h->rcount++;
        h->st.done++;
        if (!r.ok) h->st.failed++;
        uint64_t one = 1;
        (void)!write(h->efd, &one, sizeof one);
    }
    pthread_mutex_unlock(&h->mu);
    free(chunk);
    return NULL;
}

/* the thread starts at the first job: a server of small files never has one */
static int start(struct hasher *h)
{
    pthread_attr_t at;
    if (pthread_attr_init(&at)) return -ENOMEM;
    pthread_attr_setstacksize(&at, 256 * 1024); /* the chunk is on the heap */
    int rc = pthread_create(&h->th, &at, hasher_main, h);
    pthread_attr_destroy(&at);
    if (rc) return -rc;
    h->started = 1;
    return 0;
}

int hasher_submit(struct hasher *h, const struct hasher_job *j)
{
    int rc = 0;
    char *key = strdup(j->key);
    if (!key) return -ENOMEM;
    pthread_mutex_lock(&h->mu);
    if (h->inflight >= HASHER_QUEUE) {
        h->st.dropped++;
        rc = -EAGAIN;
    } else if (!h->started && (rc = start(h)) < 0) {
        /* rc says why */
    } else {
        struct hasher_job *q = &h->jobs[(h->jhead + h->jcount) % HASHER_QUEUE];
        *q = *j;
        q->key = key;
        key = NULL;
        h->jcount++;
        h->inflight++;
        h->st.queued++;
        pthread_cond_signal(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    free(key);
    return rc;
}

int hasher_take(struct hasher *h, struct hasher_result *r)
{
    uint64_t v;
    (void)!read(h->efd, &v, sizeof v); /* cleared first: a later post wakes the loop again */
    pthread_mutex_lock(&h->mu);
    int got = h->rcount > 0;
    if (got) {
        *r = h->res[h->rhead];
        h->rhead = (h->rhead + 1) % HASHER_QUEUE;
        h->rcount--;
        h->inflight--;
    }
    pthread_mutex_unlock(&h->mu);
    return got;
}

void hasher_result_free(struct hasher_result *r)
{
    free(r->key);
    r->key = NULL;
}

void hasher_stats(const struct hasher *h, struct hasher_stats *st)
{
    struct hasher *m = (struct hasher *)h; /* the mutex, not the state, changes */
    pthread_mutex_lock(&m->mu);
    *st = h->st;
    st->depth = h->inflight;
    pthread_mutex_unlock(&m->mu);
}

void hasher_free(struct hasher *h)
{
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    __atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (h->started) pthread_join(h->th, NULL);
    for (; h->jcount; h->jcount--, h->jhead = (h->jhead + 1) % HASHER_QUEUE) {
        close(h->jobs[h->jhead].fd);
        free((char *)h->jobs[h->jhead].key);
    }
    for (; h->rcount; h->rcount--, h->rhead = (h->rhead + 1) % HASHER_QUEUE)
        free(h->res[h->rhead].key);
    close(h->efd);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}
