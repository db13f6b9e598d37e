/* h2: requests and answers through the HTTP/2 session (http/h2), against a
 * real nghttp2 client in memory (tests/unit/h2_peer.h). */
#include "h2_peer.h"

Test(h2, get_fills_the_request_like_h1_and_gets_the_answer)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    const nghttp2_nv extra[] = {NV("if-none-match", "\"abc\""), NV("range", "bytes=0-1"),
                                NV("x-thing", "Value 1"), NV("cookie", "a=1"), NV("cookie", "b=2")};
    int32_t id = request(&c, "GET", "/dir/file.txt?q=1", extra, 5, NULL);
    pump(&v, &c);
    cr_assert_eq(v.rc, 0);
    cr_assert_eq(v.seen.n, 1);
    cr_expect_eq(v.seen.id, id);
    cr_expect_eq(v.seen.method, HTTP_GET);
    cr_expect_str_eq(v.seen.method_str, "GET");
    cr_expect_str_eq(v.seen.target, "/dir/file.txt?q=1");
    cr_expect_str_eq(v.seen.path, "/dir/file.txt?q=1");
    cr_expect_str_eq(v.seen.host, "example.test");
    cr_expect_eq(v.seen.version, 20);
    cr_expect_eq(v.seen.keep_alive, 1);
    cr_expect_eq(v.seen.content_length, -1);
    cr_expect_str_eq(v.seen.inm, "\"abc\"");
    cr_expect_str_eq(v.seen.range, "bytes=0-1");
    cr_expect_str_eq(v.seen.cookie, "a=1; b=2", "cookies joined (RFC 9113 8.2.3)");
    cr_expect(strstr(v.seen.fields, "x-thing=Value 1;"), "%s", v.seen.fields);
    cr_expect(!strstr(v.seen.fields, ":"), "no pseudo field among headers: %s", v.seen.fields);
    struct got *g = got_of(&c, id);
    cr_expect_eq(g->status, 200);
    cr_expect_eq(g->len, 5);
    cr_expect(g->body && memcmp(g->body, "hello", 5) == 0);
    cr_expect(strstr(g->fields, "content-type: text/plain\n"), "%s", g->fields);
    cr_expect(strstr(g->fields, "x-multi: a\nx-multi: b\n"), "%s", g->fields);
    cr_expect(strstr(g->fields, "server: berth\n"), "%s", g->fields);
    cr_expect(!strstr(g->fields, "connection") && !strstr(g->fields, "keep-alive") &&
                  !strstr(g->fields, "transfer-encoding"),
              "connection-specific fields dropped: %s", g->fields);
    cr_expect(g->closed && g->rst == 0);
    srv_free(&v);
    cli_free(&c);
}

Test(h2, head_and_304_and_204_carry_no_data)
{
    const char *resps[] = {TEXT_200, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
                           "HTTP/1.1 204 No Content\r\n\r\n"};
    const char *methods[] = {"HEAD", "GET", "DELETE"};
    for (int i = 0; i < 3; i++) {
        struct srv v;
        struct cli c;
        srv_init(&v, NULL);
        cli_init(&c, 0, 65535);
        v.answer = answer_text;
        v.resp = resps[i];
        int32_t id = request(&c, methods[i], "/x", NULL, 0, NULL);
        pump(&v, &c);
        struct got *g = got_of(&c, id);
        cr_expect_eq(g->status, i == 0 ? 200 : i == 1 ? 304 : 204);
        cr_expect_eq(g->len, 0, "%s: no body", methods[i]);
        cr_expect(g->end_on_headers, "%s: END_STREAM on HEADERS", methods[i]);
        if (i == 0) cr_expect(strstr(g->fields, "content-length: 5\n"), "HEAD keeps the length");
        srv_free(&v);
        cli_free(&c);
    }
}

Test(h2, file_region_body)
{
    struct srv v;
    struct cli c;
    char path[64];
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.fd = temp_file(300000, path, sizeof path);
    unlink(path);
    v.off = 1000;
    v.end = 250000;
    v.answer = answer_file;
    int32_t id = request(&c, "GET", "/f", NULL, 0, NULL);
    pump(&v, &c);
    struct got *g = got_of(&c, id);
    cr_assert_eq(g->status, 200);
    cr_assert_eq(g->len, 249000);
    expect_region(v.fd, 1000, g->body, g->len);
    cr_expect(g->closed && g->rst == 0);
    srv_free(&v);
    cli_free(&c);
}

/* The client opens its window 32 KiB at a time: the server never sends (nor
 * reads from the file) more than the window, and the whole 1 MiB arrives. */
Test(h2, large_body_follows_flow_control)
{
    struct srv v;
    struct cli c;
    char path[64];
    srv_init(&v, NULL);
    cli_init(&c, 1, 32768);
    v.fd = temp_file(1 << 20, path, sizeof path);
    unlink(path);
    v.end = 1 << 20;
    v.answer = answer_file;
    int32_t id = request(&c, "GET", "/big", NULL, 0, NULL);
    pump(&v, &c);
    struct got *g = got_of(&c, id);
    cr_assert_eq(g->status, 200);
    cr_assert_leq(g->len, 32768, "the first window only: %zu", g->len);
    size_t consumed = 0;
    for (int i = 0; i < 400 && g->len < (1u << 20); i++) {
        size_t before = g->len, out_before = v.out_bytes;
        cr_assert_eq(nghttp2_session_consume(c.ng, id, before - consumed), 0);
        consumed = before;
        pump(&v, &c);
        g = got_of(&c, id);
        cr_assert_leq(g->len - before, 32768, "no more than the stream's window");
        cr_assert_leq(v.out_bytes - out_before, 32768 + 4096);
    }
    cr_assert_eq(g->len, 1u << 20);
    expect_region(v.fd, 0, g->body, g->len);
    srv_free(&v);
    cli_free(&c);
}

/* A client that never opens its window: nothing but the head goes out, and
 * the session holds no body bytes for it. */
Test(h2, closed_window_buffers_nothing)
{
    struct srv v;
    struct cli c;
    char path[64];
    srv_init(&v, NULL);
    cli_init(&c, 1, 0);
    v.fd = temp_file(1 << 20, path, sizeof path);
    unlink(path);
    v.end = 1 << 20;
    v.answer = answer_file;
    int32_t id = request(&c, "GET", "/big", NULL, 0, NULL);
    for (int i = 0; i < 5; i++)
        pump(&v, &c);
    struct got *g = got_of(&c, id);
    cr_assert_eq(g->status, 200);
    cr_assert_eq(g->len, 0);
    cr_assert_lt(v.out_bytes, 1024, "only SETTINGS, acks and the head: %zu", v.out_bytes);
    cr_assert_neq(fcntl(v.xfd, F_GETFD), -1, "the stream holds its transfer");
    srv_free(&v);
    cr_expect_eq(fcntl(v.xfd, F_GETFD), -1, "the transfer is released with the session");
    cli_free(&c);
}

/* multipart/byteranges from the real static code, over a file large enough
 * to be sent as regions (part headers from static_xfer_next) */
Test(h2, multipart_from_static_serve)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    char dir[] = "/tmp/berth-h2d-XXXXXX";
    cr_assert(mkdtemp(dir));
    char fpath[128];
    snprintf(fpath, sizeof fpath, "%s/big.bin", dir);
    int fd = open(fpath, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    char *data = malloc(200000);
    for (int i = 0; i < 200000; i++)
        data[i] = (char)('a' + i % 26);
    cr_assert_eq(write(fd, data, 200000), 200000);
    close(fd);
    static uint64_t epoch;
    v.sc = (struct static_conf){.rootfd = open(dir, O_PATH | O_DIRECTORY),
                                .index = "index.html",
                                .mime_default = "application/octet-stream",
                                .boundary = "berth-test-boundary",
                                .epoch = &epoch};
    cr_assert_geq(v.sc.rootfd, 0);
    v.cache = fcache_new(&v.sc);
    cr_assert(v.cache);
    v.answer = answer_static;
    const nghttp2_nv extra[] = {NV("range", "bytes=0-9,100000-100009,199990-")};
    int32_t id = request(&c, "GET", "/big.bin", extra, 1, NULL);
    pump(&v, &c);
    struct got *g = got_of(&c, id);
    cr_assert_eq(g->status, 206, "%s", g->fields);
    const char *cl = strstr(g->fields, "content-length: ");
    cr_assert(cl);
    cr_expect_eq((size_t)atol(cl + 16), g->len, "the body is as long as announced");
    char *b = g->body;
    cr_assert(b && g->len > 30);
    const char *want[] = {"abcdefghij", data + 100000, data + 199990};
    const char *at = b;
    for (int i = 0; i < 3; i++) {
        at = memmem(at, (size_t)(b + g->len - at), "\r\n\r\n", 4);
        cr_assert(at, "part %d", i);
        at += 4;
        cr_expect(memcmp(at, want[i], 10) == 0, "part %d bytes", i);
    }
    cr_expect(memmem(b, g->len, "--berth-test-boundary--\r\n", 25), "closing boundary");
    unlink(fpath);
    rmdir(dir);
    free(data);
    srv_free(&v);
    cli_free(&c);
}

Test(h2, post_body_whole)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    size_t left = 150000;
    nghttp2_data_provider prd = {.source.ptr = &left, .read_callback = body_read};
    const nghttp2_nv extra[] = {NV("content-length", "150000")};
    int32_t id = request(&c, "POST", "/up", extra, 1, &prd);
    pump(&v, &c);
    cr_assert_eq(v.rc, 0);
    cr_assert_eq(v.seen.n, 1);
    cr_expect_eq(v.seen.method, HTTP_POST);
    cr_expect_eq(v.seen.content_length, 150000);
    cr_expect_eq(v.seen.body_len, 150000);
    cr_expect(v.seen.body[0] == 'p' && v.seen.body[149999] == 'p');
    cr_expect_eq(got_of(&c, id)->status, 200);

    /* without content-length: the body's length stands in */
    left = 1000;
    id = request(&c, "PUT", "/up2", NULL, 0, &prd);
    pump(&v, &c);
    cr_assert_eq(v.seen.n, 2);
    cr_expect_eq(v.seen.content_length, 1000);
    cr_expect_eq(v.seen.body_len, 1000);
    srv_free(&v);
    cli_free(&c);
}

Test(h2, body_over_limit_is_413)
{
    struct srv v;
    struct cli c;
    struct h2_conf conf = {.max_body = 10000};
    srv_init(&v, &conf);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    size_t left = 50000;
    nghttp2_data_provider prd = {.source.ptr = &left, .read_callback = body_read};
    int32_t id = request(&c, "POST", "/up", NULL, 0, &prd);
    pump(&v, &c);
    cr_assert_eq(v.rc, 0, "a stream's problem, not the connection's");
    cr_expect_eq(v.seen.n, 0);
    cr_expect_eq(v.seen.rejects, 1);
    cr_expect_eq(got_of(&c, id)->status, 413);
    /* the connection goes on */
    id = request(&c, "GET", "/next", NULL, 0, NULL);
    pump(&v, &c);
    cr_expect_eq(got_of(&c, id)->status, 200);
    srv_free(&v);
    cli_free(&c);
}

/* ---- malformed requests ---- */

struct bad {
    const char *what;
    nghttp2_nv nv[6];
    size_t n;
    int want_status; /* 0: a stream reset (PROTOCOL_ERROR) */
};

Test(h2, malformed_requests_are_stream_errors_or_400)
{
    static const struct bad cases[] = {
        /* NO_COPY_NAME: nghttp2 lower-cases the names it copies */
        {"upper-case name",
         {{(uint8_t *)"X-Upper", (uint8_t *)"1", 7, 1, NGHTTP2_NV_FLAG_NO_COPY_NAME}},
         1,
         0},
        {"connection-specific field", {NV("connection", "keep-alive")}, 1, 0},
        {"keep-alive field", {NV("keep-alive", "5")}, 1, 0},
        {"transfer-encoding", {NV("transfer-encoding", "chunked")}, 1, 0},
        {"te other than trailers", {NV("te", "gzip")}, 1, 0},
        {"repeated host", {NV("host", "example.test"), NV("host", "example.test")}, 2, 0},
        {"host other than :authority", {NV("host", "other.test")}, 1, 400},
        {"unsupported expectation", {NV("expect", "fly")}, 1, 417},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct srv v;
        struct cli c;
        srv_init(&v, NULL);
        cli_init(&c, 0, 65535);
        v.answer = answer_text;
        v.resp = TEXT_200;
        int32_t id = request(&c, "GET", "/m", cases[i].nv, cases[i].n, NULL);
        pump(&v, &c);
        struct got *g = got_of(&c, id);
        cr_expect_eq(v.rc, 0, "%s: the connection survives", cases[i].what);
        cr_expect_eq(v.seen.n, 0, "%s: never reaches on_request", cases[i].what);
        if (cases[i].want_status) {
            cr_expect_eq(g->status, cases[i].want_status, "%s", cases[i].what);
            cr_expect_eq(v.seen.rejects, 1, "%s", cases[i].what);
        } else {
            cr_expect_eq(g->status, 0, "%s: no answer", cases[i].what);
            cr_expect(g->closed && g->rst == NGHTTP2_PROTOCOL_ERROR, "%s: rst %u", cases[i].what,
                      g->rst);
        }
        /* the next request on the connection is served */
        int32_t next = request(&c, "GET", "/ok", NULL, 0, NULL);
        pump(&v, &c);
        cr_expect_eq(got_of(&c, next)->status, 200, "%s: then a good request", cases[i].what);
        srv_free(&v);
        cli_free(&c);
    }
}

Test(h2, missing_path_and_content_length_mismatch_are_reset)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    nghttp2_nv nopath[] = {NV(":method", "GET"), NV(":scheme", "http"),
                           NV(":authority", "example.test")};
    int32_t a = nghttp2_submit_request(c.ng, NULL, nopath, 3, NULL, NULL);
    size_t left = 10;
    nghttp2_data_provider prd = {.source.ptr = &left, .read_callback = body_read};
    const nghttp2_nv cl[] = {NV("content-length", "20")};
    int32_t b = request(&c, "POST", "/p", cl, 1, &prd);
    pump(&v, &c);
    cr_expect_eq(v.seen.n, 0);
    cr_expect_eq(got_of(&c, a)->rst, NGHTTP2_PROTOCOL_ERROR);
    cr_expect_eq(got_of(&c, b)->rst, NGHTTP2_PROTOCOL_ERROR);
    cr_expect_eq(v.rc, 0);
    srv_free(&v);
    cli_free(&c);
}

Test(h2, connect_and_asterisk)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    nghttp2_nv conn[] = {NV(":method", "CONNECT"), NV(":authority", "example.test:443")};
    int32_t a = nghttp2_submit_request(c.ng, NULL, conn, 2, NULL, NULL);
    int32_t b = request(&c, "OPTIONS", "*", NULL, 0, NULL);
    pump(&v, &c);
    cr_expect_eq(got_of(&c, a)->status, 400, "CONNECT is refused as over HTTP/1.1");
    cr_expect_eq(got_of(&c, b)->status, 200);
    cr_expect_eq(v.seen.n, 1);
    cr_expect_eq(v.seen.method, HTTP_OPTIONS);
    cr_expect_str_eq(v.seen.path, "*");
    srv_free(&v);
    cli_free(&c);
}

Test(h2, oversized_header_list_is_431)
{
    struct srv v;
    struct cli c;
    struct h2_conf conf = {.max_header = 4096};
    srv_init(&v, &conf);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    static char big[3000];
    memset(big, 'v', sizeof big - 1);
    nghttp2_nv extra[] = {{(uint8_t *)"x-a", (uint8_t *)big, 3, sizeof big - 1, 0},
                          {(uint8_t *)"x-b", (uint8_t *)big, 3, sizeof big - 1, 0}};
    int32_t id = request(&c, "GET", "/h", extra, 2, NULL);
    pump(&v, &c);
    cr_expect_eq(got_of(&c, id)->status, 431);
    cr_expect_eq(v.seen.n, 0);
    cr_expect_eq(v.rc, 0);
    srv_free(&v);
    cli_free(&c);
}

/* ---- drain and h2c ---- */

Test(h2, shutdown_lets_open_streams_finish)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    int32_t id = request(&c, "GET", "/slow", NULL, 0, NULL);
    pump(&v, &c); /* unanswered so far */
    cr_assert_eq(v.seen.n, 1);
    cr_assert_eq(h2_shutdown(v.s), 0);
    pump(&v, &c);
    cr_expect(c.goaway && c.goaway_code == NGHTTP2_NO_ERROR);
    cr_assert_eq(h2_respond(v.s, id, TEXT_200, strlen(TEXT_200), NULL), 0);
    pump(&v, &c);
    cr_expect_eq(got_of(&c, id)->status, 200);
    cr_expect_eq(got_of(&c, id)->len, 5);
    cr_expect(!h2_want_write(v.s));
    cr_expect_eq(h2_respond(v.s, id, TEXT_200, strlen(TEXT_200), NULL), -ENOENT,
                 "a stream is answered once");
    srv_free(&v);
    cli_free(&c);
}

Test(h2, preface_already_consumed)
{
    struct srv v;
    struct h2_conf conf = {.preface_consumed = 1};
    srv_init(&v, &conf);
    v.answer = answer_text;
    v.resp = TEXT_200;
    struct raw r;
    raw_start(&r);
    raw_get(&r, 1, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM);
    cr_expect_eq(
        h2_session_recv(v.s, r.p + NGHTTP2_CLIENT_MAGIC_LEN, r.len - NGHTTP2_CLIENT_MAGIC_LEN), 0);
    cr_expect_eq(v.seen.n, 1);
    cr_expect_eq(drain(&v).headers, 1);
    raw_free(&r);
    srv_free(&v);
}

Test(h2, bad_head_and_gone_stream)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    int32_t id = request(&c, "GET", "/x", NULL, 0, NULL);
    pump(&v, &c);
    char path[64];
    int fd = temp_file(10, path, sizeof path);
    unlink(path);
    struct http_xfer x = {.fd = fd, .end = 10};
    cr_expect_eq(h2_respond(v.s, id, "garbage", 7, &x), BERTH_EPROTO);
    cr_expect_lt(x.fd, 0, "the transfer is released on failure too");
    x.fd = dup(0);
    cr_expect_eq(h2_respond(v.s, 99, TEXT_200, strlen(TEXT_200), &x), -ENOENT);
    cr_expect_lt(x.fd, 0);
    srv_free(&v);
    cli_free(&c);
}

/* A declared body over the limit is refused before it is sent; a client that
 * expects 100-continue gets its 100 and then the whole exchange. */
Test(h2, content_length_over_limit_and_expect_continue)
{
    struct srv v;
    struct cli c;
    struct h2_conf conf = {.max_body = 10000};
    srv_init(&v, &conf);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    nghttp2_nv big[] = {NV(":method", "POST"), NV(":scheme", "http"),
                        NV(":authority", "example.test"), NV(":path", "/up"),
                        NV("content-length", "50000")};
    int32_t a = nghttp2_submit_headers(c.ng, NGHTTP2_FLAG_NONE, -1, NULL, big, 5, NULL);
    cr_assert_gt(a, 0);
    pump(&v, &c);
    cr_expect_eq(got_of(&c, a)->status, 413, "answered before any DATA");
    cr_expect_eq(v.seen.rejects, 1);

    nghttp2_nv exp[] = {
        NV(":method", "POST"), NV(":scheme", "http"),       NV(":authority", "example.test"),
        NV(":path", "/up"),    NV("content-length", "100"), NV("expect", "100-continue")};
    int32_t b = nghttp2_submit_headers(c.ng, NGHTTP2_FLAG_NONE, -1, NULL, exp, 6, NULL);
    pump(&v, &c);
    cr_expect(strstr(got_of(&c, b)->fields, ":status: 100\n"), "%s", got_of(&c, b)->fields);
    cr_expect_eq(v.seen.n, 0);
    size_t left = 100;
    nghttp2_data_provider prd = {.source.ptr = &left, .read_callback = body_read};
    cr_assert_eq(nghttp2_submit_data(c.ng, NGHTTP2_FLAG_END_STREAM, b, &prd), 0);
    pump(&v, &c);
    cr_expect_eq(v.seen.n, 1);
    cr_expect_eq(v.seen.body_len, 100);
    cr_expect_eq(got_of(&c, b)->status, 200);
    srv_free(&v);
    cli_free(&c);
}

/* The file changes while it is sent (as conn.c checks around sendfile): the
 * stream is reset, never ended as if the answer were whole. */
Test(h2, file_changed_midway_resets_the_stream)
{
    struct srv v;
    struct cli c;
    char path[64];
    srv_init(&v, NULL);
    cli_init(&c, 1, 16384);
    v.fd = temp_file(200000, path, sizeof path);
    unlink(path);
    v.end = 200000;
    v.answer = answer_file;
    int32_t id = request(&c, "GET", "/f", NULL, 0, NULL);
    pump(&v, &c);
    struct got *g = got_of(&c, id);
    cr_assert_eq(g->status, 200);
    cr_assert_lt(g->len, 200000);
    cr_assert_eq(pwrite(v.fd, "more", 4, 200000), 4, "the file grows");
    size_t consumed = 0;
    for (int i = 0; i < 100 && !g->closed; i++) {
        cr_assert_eq(nghttp2_session_consume(c.ng, id, g->len - consumed), 0);
        consumed = g->len;
        pump(&v, &c);
        g = got_of(&c, id);
    }
    cr_expect(g->closed);
    cr_expect_eq(g->rst, NGHTTP2_INTERNAL_ERROR, "reset, not ended: %u", g->rst);
    srv_free(&v);
    cli_free(&c);
}

/* Streams are reused (their buffers kept): nothing of one request shows in
 * the next. */
Test(h2, reused_streams_start_clean)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    for (int i = 0; i < 40; i++) {
        const nghttp2_nv extra[] = {NV("if-none-match", "\"abc\""), NV("x-odd", "1")};
        int odd = i % 2;
        int32_t id =
            request(&c, odd ? "HEAD" : "GET", odd ? "/odd" : "/even", extra, odd ? 2 : 0, NULL);
        pump(&v, &c);
        cr_assert_eq(v.seen.n, i + 1);
        cr_assert_str_eq(v.seen.path, odd ? "/odd" : "/even");
        cr_assert_str_eq(v.seen.inm, odd ? "\"abc\"" : "");
        cr_assert_eq(!!strstr(v.seen.fields, "x-odd"), odd);
        cr_assert_eq(got_of(&c, id)->len, odd ? 0 : 5, "request %d", i);
        for (int k = 0; k < c.ng_count; k++) /* the client's record of streams is small */
            free(c.g[k].body);
        c.ng_count = 0;
    }
    srv_free(&v);
    cli_free(&c);
}

/* The answer head in every form the HTTP/1.1 builders may give: bare LF line
 * ends, names in any case (connection-specific ones dropped whatever their
 * case), padded values, more fields than fit the session's stack array; a
 * head with no blank line is refused. */
Test(h2, answer_head_forms)
{
    char resp[4096];
    size_t n = (size_t)snprintf(resp, sizeof resp,
                                "HTTP/1.1 201 Created\nCONNECTION: close\nProxy-Connection: x\n"
                                "UPGRADE: h2c\nTRANSFER-encoding: chunked\nKEEP-ALIVE: 1\n"
                                "X-Padded: \t v w \t\nContent-Length: 2\n");
    for (int i = 0; i < 60; i++)
        n += (size_t)snprintf(resp + n, sizeof resp - n, "X-F%02d: %d\r\n", i, i);
    n += (size_t)snprintf(resp + n, sizeof resp - n, "\nok");
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = resp;
    int32_t id = request(&c, "GET", "/x", NULL, 0, NULL);
    pump(&v, &c);
    cr_assert_eq(v.rc, 0);
    struct got *g = got_of(&c, id);
    cr_expect_eq(g->status, 201);
    cr_expect(g->len == 2 && memcmp(g->body, "ok", 2) == 0);
    cr_expect(strstr(g->fields, "x-padded: v w\ncontent-length: 2\nx-f00: 0\nx-f01: 1\n"), "%s",
              g->fields);
    cr_expect(strstr(g->fields, "x-f59: 59\n"), "every field kept: %s", g->fields);
    cr_expect(!strstr(g->fields, "connection") && !strstr(g->fields, "keep-alive") &&
                  !strstr(g->fields, "upgrade") && !strstr(g->fields, "transfer-encoding"),
              "connection-specific fields dropped in any case: %s", g->fields);
    id = request(&c, "GET", "/y", NULL, 0, NULL);
    v.answer = NULL;
    pump(&v, &c);
    static const char nohead[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nok";
    cr_expect_eq(h2_respond(v.s, id, nohead, sizeof nohead - 1, NULL), BERTH_EPROTO);
    cr_expect_eq(h2_respond(v.s, id, TEXT_200, strlen(TEXT_200), NULL), 0,
                 "a refused head leaves the stream to answer");
    pump(&v, &c);
    cr_expect_eq(got_of(&c, id)->status, 200);
    srv_free(&v);
    cli_free(&c);
}

/* With windows wide open, the body still leaves in bounded slices (pump
 * checks each h2_session_send call) and whole, in-memory and file bodies. */
Test(h2, wide_window_output_is_bounded_per_call)
{
    struct srv v;
    struct cli c;
    char path[64];
    srv_init(&v, NULL);
    cli_init(&c, 0, (1u << 31) - 1);
    cr_assert_eq(nghttp2_session_set_local_window_size(c.ng, NGHTTP2_FLAG_NONE, 0, 1 << 30), 0);
    v.fd = temp_file(3 << 20, path, sizeof path);
    unlink(path);
    v.off = 100;
    v.end = (3 << 20) - 100;
    v.answer = answer_file;
    int32_t id = request(&c, "GET", "/big", NULL, 0, NULL);
    size_t before = v.out_bytes;
    pump(&v, &c);
    struct got *g = got_of(&c, id);
    cr_assert_eq(g->status, 200);
    cr_assert_eq(g->len, v.end - v.off);
    expect_region(v.fd, v.off, g->body, g->len);
    cr_expect_lt(v.out_bytes - before, g->len + 4096, "no byte sent twice");
    cr_expect(g->closed && g->rst == 0);
    srv_free(&v);
    cli_free(&c);
}

/* Answer heads are kept per session (http/h2_head) and their pairs handed
 * to nghttp2 uncopied: a kept head must not change while a queued HEADERS
 * frame still reads it, and nothing may point into the caller's bytes.  Eight
 * streams answered in one go with six heads (more than the session keeps),
 * the caller's buffer scribbled over after each call; then eight more with
 * new, longer heads once the first went out (kept slots reused, grown). */
Test(h2, kept_heads_stay_intact_while_frames_are_queued)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.answer = NULL; /* recorded, answered below */
    for (int round = 0; round < 2; round++) {
        int32_t id[8];
        for (int i = 0; i < 8; i++)
            id[i] = request(&c, "GET", "/k", NULL, 0, NULL);
        pump(&v, &c);
        cr_assert_eq(v.seen.n, 8 * (round + 1));
        for (int i = 0; i < 8; i++) {
            char b[1024];
            int k = round * 4 + i % 6;
            int n = snprintf(b, sizeof b,
                             "HTTP/1.1 200 OK\r\nX-Head-Number: %0*d\r\nContent-Length: "
                             "1\r\nConnection: keep-alive\r\n\r\n%c",
                             1 + round * 500, k, 'a' + k);
            cr_assert_eq(h2_respond(v.s, id[i], b, (size_t)n, NULL), 0);
            memset(b, 'Z', sizeof b);
        }
        pump(&v, &c);
        for (int i = 0; i < 8; i++) {
            int k = round * 4 + i % 6;
            char want[1024];
            snprintf(want, sizeof want, ":status: 200\nx-head-number: %0*d\ncontent-length: 1\n",
                     1 + round * 500, k);
            struct got *g = got_of(&c, id[i]);
            cr_expect_eq(g->status, 200, "round %d stream %d", round, i);
            cr_expect_str_eq(g->fields, want, "round %d stream %d", round, i);
            cr_expect(g->len == 1 && g->body[0] == 'a' + k, "round %d stream %d", round, i);
            free(g->body);
        }
        c.ng_count = 0;
    }
    srv_free(&v);
    cli_free(&c);
}

/* h2_respond_buf: the stream takes the buffer's storage for the body; the
 * caller's buffer is then free for the next answer (reused here at once and
 * scribbled over), and each body arrives as it was given. */
Test(h2, respond_buf_takes_the_storage)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.answer = NULL;
    int32_t id[3];
    for (int i = 0; i < 3; i++)
        id[i] = request(&c, i == 2 ? "HEAD" : "GET", "/b", NULL, 0, NULL);
    pump(&v, &c);
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 3; i++) {
        char body[3000];
        memset(body, 'p' + i, sizeof body);
        char head[96];
        int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
                         sizeof body);
        cr_assert_eq(buf_append(&b, head, (size_t)n), 0);
        cr_assert_eq(buf_append(&b, body, i == 2 ? 0 : sizeof body), 0);
        cr_assert_eq(h2_respond_buf(v.s, id[i], &b, NULL), 0);
        buf_clear(&b);
        char junk[512];
        memset(junk, 'Z', sizeof junk);
        cr_assert_eq(buf_append(&b, junk, sizeof junk), 0); /* the caller's again */
        buf_clear(&b);
    }
    pump(&v, &c);
    for (int i = 0; i < 3; i++) {
        struct got *g = got_of(&c, id[i]);
        cr_expect_eq(g->status, 200);
        cr_expect(strstr(g->fields, "content-length: 3000\n"), "%s", g->fields);
        cr_expect_eq(g->len, i == 2 ? 0 : 3000, "stream %d", i);
        for (size_t k = 0; k < g->len; k++)
            if (g->body[k] != 'p' + i) cr_assert_fail("stream %d byte %zu: %c", i, k, g->body[k]);
        cr_expect(g->closed && g->rst == 0);
    }
    buf_free(&b);
    srv_free(&v);
    cli_free(&c);
}

/* as over HTTP/1.1: a tag list may be split over fields (the first is kept,
 * the conditions read them all); a one-value field sent twice is voided */
Test(h2, repeated_conditional_fields_are_lists_or_ignored)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    const nghttp2_nv extra[] = {NV("if-none-match", "\"a\""), NV("if-none-match", "\"b\""),
                                NV("range", "bytes=0-1"), NV("range", "bytes=2-3")};
    int32_t id = request(&c, "GET", "/m", extra, 4, NULL);
    pump(&v, &c);
    cr_assert_eq(v.seen.n, 1);
    cr_expect_str_eq(v.seen.inm, "\"a\"");
    cr_expect_str_eq(v.seen.range, "", "two ranges: an invalid, ignored one");
    cr_expect_eq(got_of(&c, id)->status, 200);
    srv_free(&v);
    cli_free(&c);
}
