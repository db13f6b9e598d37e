/* json_api — a small JSON API with request bodies (jansson): a list of
 * notes in memory.
 *
 *   POST   /notes          {"text": "..."}  -> 201 {"id": N, "text": "..."}
 *   GET    /notes          -> 200 [{"id": 1, "text": "..."}, ...]
 *   GET    /notes/:id      -> 200 {"id": N, "text": "..."} or 404
 *   DELETE /notes/:id      -> 204 or 404
 * A body that is not a JSON object with a string "text" is 400 with
 * {"error": "..."}; one over 64 KiB is 413 (the route's limit).
 *
 *   build/examples/json_api [PORT]
 */
#include <berth.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *notes; /* one worker: no lock needed */
static long next_id = 1;

static void reply(berth_req *req, int status, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!s) {
        berth_respond(req, 500, NULL, NULL, 0);
        return;
    }
    berth_respond(req, status, "application/json", s, strlen(s));
    free(s);
}

static void fail(berth_req *req, int status, const char *why)
{
    reply(req, status, json_pack("{s:s}", "error", why));
}

static void create(berth_req *req, void *arg)
{
    (void)arg;
    size_t n;
    const char *body = berth_req_body(req, &n);
    json_error_t err;
    json_t *in = json_loadb(body ? body : "", n, 0, &err);
    json_t *text = in ? json_object_get(in, "text") : NULL;
    if (!json_is_object(in) || !json_is_string(text)) {
        json_decref(in);
        fail(req, 400, in ? "the body must be an object with a string \"text\"" : err.text);
        return;
    }
    json_t *note = json_pack("{s:I,s:O}", "id", (json_int_t)next_id++, "text", text);
    json_decref(in);
    json_array_append(notes, note);
    char loc[64];
    snprintf(loc, sizeof loc, "/notes/%lld",
             (long long)json_integer_value(json_object_get(note, "id")));
    berth_resp_header(req, "Location", loc);
    reply(req, 201, note);
}

static void list(berth_req *req, void *arg)
{
    (void)arg;
    reply(req, 200, json_incref(notes));
}

/* the index of the note named by the route's :id, or -1 */
static long find(berth_req *req)
{
    size_t len;
    const char *id = berth_req_param(req, "id", &len);
    char buf[24];
    if (!id || !len || len >= sizeof buf) return -1;
    memcpy(buf, id, len);
    buf[len] = '\0';
    char *end;
    long want = strtol(buf, &end, 10);
    if (*end) return -1;
    for (size_t i = 0; i < json_array_size(notes); i++)
        if (json_integer_value(json_object_get(json_array_get(notes, i), "id")) == want)
            return (long)i;
    return -1;
}

static void get_one(berth_req *req, void *arg)
{
    (void)arg;
    long i = find(req);
    if (i < 0) {
        fail(req, 404, "no such note");
        return;
    }
    reply(req, 200, json_incref(json_array_get(notes, (size_t)i)));
}

static void delete_one(berth_req *req, void *arg)
{
    (void)arg;
    long i = find(req);
    if (i < 0) {
        fail(req, 404, "no such note");
        return;
    }
    json_array_remove(notes, (size_t)i);
    berth_respond(req, 204, NULL, NULL, 0);
}

int main(int argc, char **argv)
{
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = argc > 1 ? atoi(argv[1]) : 8000;
    o.workers = 1;
    notes = json_array();
    struct berth_route_opts body = {.max_body = 64 * 1024}, pat = {0};
    berth_server *s;
    int rc = berth_server_new(&s, &o);
    if (rc == 0) rc = berth_route_opts(s, "POST", "/notes", 0, create, NULL, &body);
    if (rc == 0) rc = berth_route(s, "GET", "/notes", 0, list, NULL);
    if (rc == 0) rc = berth_route_opts(s, "GET", "/notes/:id", 0, get_one, NULL, &pat);
    if (rc == 0) rc = berth_route_opts(s, "DELETE", "/notes/:id", 0, delete_one, NULL, &pat);
    if (rc == 0) rc = berth_server_listen(s);
    if (rc < 0) {
        fprintf(stderr, "json_api: %s\n", berth_strerror(rc));
        return 1;
    }
    printf("serving on http://%s:%d/\n", berth_server_host(s), berth_server_port(s));
    fflush(stdout);
    rc = berth_server_run(s);
    berth_server_free(s);
    json_decref(notes);
    return rc < 0;
}
