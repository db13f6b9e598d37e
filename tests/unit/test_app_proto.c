/* Unit tests of the application-protocol codec (src/app/proto.c): the
 * encoder's bytes against the Python reference's, the decoder over every
 * segmentation, each malformed case, the limits; and the server's answers. */
#include "app/proto.h"
#include "app/server.h"
#include "err.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Bytes Python 3 writes (json.dumps(..., ensure_ascii=False), sys.byteorder
 * "little", struct.pack(">H", ...)), captured once from the interpreter. */
static const char py_morpheus[] =
    "\000g{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-encoding\": "
    "\"utf-8\", \"content-length\": 43}{\"result\": \"Follow the white rabbit. "
    "\360\237\220\260\"}";
static const char py_dog_request[] =
    "\000g{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-encoding\": "
    "\"utf-8\", \"content-length\": 37}{\"action\": \"search\", \"value\": \"\360\237\220\266\"}";
static const char py_binary[] =
    "\000\177{\"byteorder\": \"little\", \"content-type\": "
    "\"binary/custom-server-binary-type\", \"content-encoding\": \"binary\", "
    "\"content-length\": 37}First 10 bytes of request: helloworld";

#define LIT(s) (s), (sizeof(s) - 1)

/* A raw message: 2-byte length of hdr, hdr, then content. */
static size_t raw(char *out, const char *hdr, const char *content, size_t clen)
{
    size_t hl = strlen(hdr);
    out[0] = (char)(hl >> 8);
    out[1] = (char)hl;
    memcpy(out + 2, hdr, hl);
    memcpy(out + 2 + hl, content, clen);
    return 2 + hl + clen;
}

static ssize_t decode_once(const char *p, size_t n, int eof, struct app_dec *d, struct app_msg *m)
{
    app_dec_init(d, 0, 0);
    return app_decode(d, p, n, eof, m);
}

/* Decodes p[0..n) fed as if read in pieces ending at `cut`: first p[0..cut),
 * then everything.  Checks the first call needs more (or returns the same
 * first message), and returns the full call's result. */
static ssize_t decode_split(struct app_dec *d, const char *p, size_t n, size_t cut,
                            struct app_msg *m)
{
    ssize_t r = app_decode(d, p, cut, 0, m);
    if (r > 0) return r; /* a whole message already fitted before the cut */
    cr_assert_eq(r, 0, "cut %zu: %zd (%s)", cut, r, d->why);
    return app_decode(d, p, n, 0, m);
}

Test(encode, search_response_matches_python)
{
    struct buf b;
    buf_init(&b, 0);
    json_t *v = json_pack("{s:s}", "result", "Follow the white rabbit. \360\237\220\260");
    cr_assert_eq(app_encode_json(&b, v), 0);
    cr_assert_eq(buf_len(&b), sizeof py_morpheus - 1);
    cr_assert_arr_eq(buf_head(&b), py_morpheus, sizeof py_morpheus - 1);
    json_decref(v);
    buf_free(&b);
}

Test(encode, request_key_order_matches_python)
{
    struct buf b;
    buf_init(&b, 0);
    json_t *v = json_object();
    json_object_set_new(v, "action", json_string("search"));
    json_object_set_new(v, "value", json_string("\360\237\220\266"));
    cr_assert_eq(app_encode_json(&b, v), 0);
    cr_assert_arr_eq(buf_head(&b), py_dog_request, sizeof py_dog_request - 1);
    cr_assert_eq(buf_len(&b), sizeof py_dog_request - 1);
    json_decref(v);
    buf_free(&b);
}

Test(encode, binary_matches_python)
{
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(
        app_encode(&b, APP_TYPE_SRV_BINARY, "binary", LIT("First 10 bytes of request: helloworld")),
        0);
    cr_assert_eq(buf_len(&b), sizeof py_binary - 1);
    cr_assert_arr_eq(buf_head(&b), py_binary, sizeof py_binary - 1);
    buf_free(&b);
}

Test(encode, escapes_like_python)
{
    /* Python: json.dumps({"k": "a\x1f\\\\u\x0b\"/"}, ensure_ascii=False) */
    static const char want[] = "{\"k\": \"a\\u001f\\\\\\\\u\\u000b\\\"/\"}";
    struct buf b;
    buf_init(&b, 0);
    json_t *v = json_pack("{s:s}", "k", "a\037\\\\u\013\"/");
    cr_assert_eq(app_json_dump(&b, v), 0);
    cr_assert_eq(buf_len(&b), sizeof want - 1, "%.*s", (int)buf_len(&b), buf_head(&b));
    cr_assert_arr_eq(buf_head(&b), want, sizeof want - 1);
    json_decref(v);
    buf_free(&b);
}

Test(encode, refuses_invalid_utf8_type_and_oversized_header)
{
    struct buf b;
    buf_init(&b, 0);
    cr_assert_lt(app_encode(&b, "bad\xff", "binary", "x", 1), 0);
    cr_assert_eq(buf_len(&b), 0);
    char *big = malloc(70000);
    memset(big, 'a', 69999);
    big[69999] = 0;
    cr_assert_eq(app_encode(&b, big, "binary", "x", 1), BERTH_ETOOBIG);
    cr_assert_eq(buf_len(&b), 0, "a failed encode leaves the buffer as it was");
    free(big);
    buf_free(&b);
}

Test(encode, round_trip_with_nul_content)
{
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(app_encode(&b, "application/octet-stream", "binary", "\0\1\2\0", 4), 0);
    struct app_dec d;
    struct app_msg m;
    cr_assert_eq(decode_once(buf_head(&b), buf_len(&b), 0, &d, &m), (ssize_t)buf_len(&b));
    cr_assert_eq(m.content_len, 4);
    cr_assert_arr_eq(m.content, "\0\1\2\0", 4);
    cr_assert_null(m.json);
    cr_assert_str_eq(m.type, "application/octet-stream");
    app_msg_free(&m);
    app_dec_free(&d);
    buf_free(&b);
}

Test(decode, reference_messages)
{
    struct app_dec d;
    struct app_msg m;
    cr_assert_eq(decode_once(LIT(py_dog_request), 0, &d, &m), (ssize_t)sizeof py_dog_request - 1);
    cr_assert_str_eq(m.type, "text/json");
    cr_assert_str_eq(m.encoding, "utf-8");
    cr_assert_eq(m.big_endian, 0);
    cr_assert_str_eq(json_string_value(json_object_get(m.json, "value")), "\360\237\220\266");
    app_msg_free(&m);
    app_dec_free(&d);
}

/* Every split point of three messages back to back, decoded in two reads at
 * every cut, then one byte at a time. */
Test(decode, every_split_point)
{
    char all[1024];
    size_t n = 0;
    memcpy(all + n, py_morpheus, sizeof py_morpheus - 1), n += sizeof py_morpheus - 1;
    memcpy(all + n, py_binary, sizeof py_binary - 1), n += sizeof py_binary - 1;
    memcpy(all + n, py_dog_request, sizeof py_dog_request - 1), n += sizeof py_dog_request - 1;
    const size_t sizes[] = {sizeof py_morpheus - 1, sizeof py_binary - 1,
                            sizeof py_dog_request - 1};

    for (size_t cut = 0; cut <= n; cut++) {
        struct app_dec d;
        app_dec_init(&d, 0, 0);
        size_t off = 0;
        for (int i = 0; i < 3; i++) {
            struct app_msg m;
            size_t c = cut > off ? cut - off : 0;
            ssize_t r = decode_split(&d, all + off, n - off, c < n - off ? c : n - off, &m);
            cr_assert_eq(r, (ssize_t)sizes[i], "cut %zu msg %d: %zd (%s)", cut, i, r, d.why);
            if (i == 1)
                cr_assert_arr_eq(m.content, "First 10 bytes of request: helloworld", 37);
            else
                cr_assert_not_null(m.json);
            app_msg_free(&m);
            off += (size_t)r;
        }
        struct app_msg m;
        cr_assert_eq(app_decode(&d, all + n, 0, 1, &m), 0, "clean end after the last message");
        app_dec_free(&d);
    }

    struct app_dec d;
    app_dec_init(&d, 0, 0);
    size_t start = 0, got = 0;
    for (size_t end = 1; end <= n; end++) {
        struct app_msg m;
        ssize_t r = app_decode(&d, all + start, end - start, 0, &m);
        cr_assert_geq(r, 0, "byte %zu: %s", end, d.why);
        if (r > 0) {
            cr_assert_eq(start + (size_t)r, end, "a message completes exactly at its last byte");
            cr_assert_eq((size_t)r, sizes[got]);
            got++;
            start = end;
            app_msg_free(&m);
        }
    }
    cr_assert_eq(got, 3);
    app_dec_free(&d);
}

/* Cutting a message anywhere and then closing is BERTH_EOF, never a message. */
Test(decode, truncated_then_eof_at_every_point)
{
    for (size_t cut = 1; cut < sizeof py_morpheus - 1; cut++) {
        struct app_dec d;
        struct app_msg m;
        app_dec_init(&d, 0, 0);
        cr_assert_eq(app_decode(&d, py_morpheus, cut, 0, &m), 0);
        cr_assert_eq(app_decode(&d, py_morpheus, cut, 1, &m), BERTH_EOF, "cut %zu", cut);
        cr_assert(strstr(d.why, "connection closed"), "%s", d.why);
        app_dec_free(&d);
    }
}

struct bad {
    const char *hdr;
    const char *content;
    int code;
    const char *why; /* a substring of app_dec.why */
};

#define HDR(bo, ct, ce, cl)                                                                        \
    "{\"byteorder\": " bo ", \"content-type\": " ct ", \"content-encoding\": " ce                  \
    ", \"content-length\": " cl "}"

static const struct bad bads[] = {
    {"{\"byteorder\": ", "", BERTH_EJSON, "header is not valid JSON"},
    {"hello world", "", BERTH_EJSON, "header is not valid JSON"},
    {"{\"a\": \"\xff\xfe\"}", "", BERTH_EJSON, "header is not valid UTF-8"},
    {"[1, 2, 3]", "", BERTH_EPROTO, "not a JSON object"},
    {"\"text\"", "", BERTH_EPROTO, "not a JSON object"},
    {"{}", "", BERTH_EPROTO, "lacks the required key \"byteorder\""},
    {"{\"byteorder\": \"little\", \"content-type\": \"x\", \"content-encoding\": \"y\"}", "",
     BERTH_EPROTO, "lacks the required key \"content-length\""},
    {"{\"byteorder\": \"little\", \"content-length\": 0, \"content-encoding\": \"y\"}", "",
     BERTH_EPROTO, "lacks the required key \"content-type\""},
    {"{\"byteorder\": \"little\", \"content-length\": 0, \"content-type\": \"y\"}", "",
     BERTH_EPROTO, "lacks the required key \"content-encoding\""},
    {HDR("\"middle\"", "\"text/json\"", "\"utf-8\"", "2"), "{}", BERTH_EPROTO, "\"byteorder\""},
    {HDR("1", "\"text/json\"", "\"utf-8\"", "2"), "{}", BERTH_EPROTO, "\"byteorder\""},
    {HDR("\"little\"", "null", "\"utf-8\"", "2"), "{}", BERTH_EPROTO, "\"content-type\""},
    {HDR("\"little\"", "\"text/json\"", "[]", "2"), "{}", BERTH_EPROTO, "\"content-encoding\""},
    {HDR("\"little\"", "\"text/json\"", "\"utf-8\"", "-1"), "", BERTH_EPROTO, "negative"},
    {HDR("\"little\"", "\"text/json\"", "\"utf-8\"", "2.5"), "{}", BERTH_EPROTO, "fraction"},
    {HDR("\"little\"", "\"text/json\"", "\"utf-8\"", "2.0"), "{}", BERTH_EPROTO, "integer"},
    {HDR("\"little\"", "\"text/json\"", "\"utf-8\"", "\"2\""), "{}", BERTH_EPROTO, "a string"},
    {HDR("\"little\"", "\"text/json\"", "\"utf-8\"", "true"), "{}", BERTH_EPROTO, "integer"},
    {HDR("\"little\"", "\"text/json\"", "\"utf-8\"", "99999999999999999999999"), "", BERTH_EJSON,
     "header is not valid JSON"},
    {HDR("\"little\"", "\"text/json\"", "\"utf-8\"", "16777217"), "", BERTH_ETOOBIG,
     "exceeds the limit"},
    {HDR("\"little\"", "\"text/json\"", "\"utf-8\"", "3"), "{x}", BERTH_EJSON,
     "content is not valid JSON"},
    {HDR("\"little\"", "\"text/json\"", "\"utf-8\"", "0"), "", BERTH_EJSON,
     "content is not valid JSON"},
    {HDR("\"little\"", "\"text/json\"", "\"utf-8\"", "4"), "\"\xc3\x28\"", BERTH_EJSON,
     "content is not valid UTF-8"},
    {HDR("\"little\"", "\"text/json\"", "\"latin-1\"", "2"), "{}", BERTH_EPROTO,
     "unsupported content-encoding"},
    {"{\"byteorder\": \"little\", \"content-type\": \"a\", \"content-encoding\": \"b\", "
     "\"content-length\": 0, \"content-length\": 5}",
     "", BERTH_EJSON, "duplicate key"},
    {"{\"byteorder\": \"little\", \"content-type\": \"a\\u0000b\", \"content-encoding\": \"b\", "
     "\"content-length\": 0}",
     "", BERTH_EJSON, "header is not valid JSON"},
};

Test(decode, each_malformed_case)
{
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        char msg[1024];
        size_t n = raw(msg, bads[i].hdr, bads[i].content, strlen(bads[i].content));
        struct app_dec d;
        struct app_msg m;
        ssize_t r = decode_once(msg, n, 0, &d, &m);
        cr_expect_eq(r, bads[i].code, "case %zu: got %zd (%s)", i, r, d.why);
        cr_expect(strstr(d.why, bads[i].why), "case %zu: '%s' lacks '%s'", i, d.why, bads[i].why);
        cr_expect_null(d.header, "case %zu: nothing is kept after an error", i);
        app_dec_free(&d);
    }
}

Test(decode, zero_header_length)
{
    struct app_dec d;
    struct app_msg m;
    cr_assert_eq(decode_once("\0\0", 2, 0, &d, &m), BERTH_EPROTO);
    cr_assert_str_eq(d.why, "header length is 0");
}

Test(decode, header_limit_checked_from_the_prefix_alone)
{
    struct app_dec d;
    struct app_msg m;
    /* 0x2001 = 8193 > APP_HEADER_MAX: refused before any header byte */
    cr_assert_eq(decode_once("\x20\x01", 2, 0, &d, &m), BERTH_ETOOBIG);
    cr_assert(strstr(d.why, "header length 8193"), "%s", d.why);
    cr_assert_eq(decode_once("\xff\xff", 2, 0, &d, &m), BERTH_ETOOBIG);
    /* one byte of prefix: need more */
    cr_assert_eq(decode_once("\xff", 1, 0, &d, &m), 0);
}

Test(decode, header_limit_exact)
{
    /* a header of exactly max_header bytes passes, one more does not */
    char hdr[200], msg[300];
    int k = snprintf(hdr, sizeof hdr, HDR("\"big\"", "\"x\"", "\"y\"", "0"));
    struct app_dec d;
    struct app_msg m;
    size_t n = raw(msg, hdr, "", 0);
    app_dec_init(&d, (size_t)k, 0);
    cr_assert_eq(app_decode(&d, msg, n, 0, &m), (ssize_t)n, "%s", d.why);
    cr_assert_eq(m.big_endian, 1);
    app_msg_free(&m);
    app_dec_init(&d, (size_t)k - 1, 0);
    cr_assert_eq(app_decode(&d, msg, n, 0, &m), BERTH_ETOOBIG);
}

Test(decode, content_limit_checked_before_content_arrives)
{
    char msg[300];
    struct app_dec d;
    struct app_msg m;
    size_t n = raw(msg, HDR("\"little\"", "\"b\"", "\"binary\"", "101"), "", 0);
    /* only the header is here; the claim alone is refused */
    app_dec_init(&d, 0, 100);
    cr_assert_eq(app_decode(&d, msg, n, 0, &m), BERTH_ETOOBIG);
    cr_assert(strstr(d.why, "content-length 101 exceeds the limit of 100 bytes"), "%s", d.why);

    char body[101];
    memset(body, 'z', sizeof body);
    n = raw(msg, HDR("\"little\"", "\"b\"", "\"binary\"", "100"), body, 100);
    app_dec_init(&d, 0, 100);
    cr_assert_eq(app_decode(&d, msg, n - 1, 0, &m), 0);
    cr_assert_eq(app_decode(&d, msg, n, 0, &m), (ssize_t)n);
    cr_assert_eq(m.content_len, 100);
    app_msg_free(&m);
}

Test(decode, default_content_limit_is_16_mib)
{
    char msg[300];
    struct app_dec d;
    struct app_msg m;
    size_t n = raw(msg, HDR("\"little\"", "\"b\"", "\"binary\"", "16777216"), "", 0);
    cr_assert_eq(decode_once(msg, n, 0, &d, &m), 0, "16 MiB exactly is allowed: need more");
    app_dec_free(&d);
    cr_assert_eq(decode_once(msg, n, 1, &d, &m), BERTH_EOF);
}

Test(decode, header_parsed_once_then_waits_for_content)
{
    char msg[300];
    struct app_dec d;
    struct app_msg m;
    size_t n =
        raw(msg, HDR("\"little\"", "\"text/json\"", "\"UTF-8\"", "13"), "{\"result\": 1}", 13);
    app_dec_init(&d, 0, 0);
    cr_assert_eq(app_decode(&d, msg, n - 13, 0, &m), 0);
    cr_assert_not_null(d.header, "the header is kept, not parsed again");
    cr_assert_eq(app_decode(&d, msg, n - 1, 0, &m), 0);
    cr_assert_eq(app_decode(&d, msg, n, 0, &m), (ssize_t)n);
    cr_assert_eq(json_integer_value(json_object_get(m.json, "result")), 1);
    cr_assert_null(d.header);
    app_msg_free(&m);
}

Test(decode, content_may_hold_nul_and_any_json)
{
    char msg[300];
    struct app_dec d;
    struct app_msg m;
    size_t n = raw(msg, HDR("\"little\"", "\"text/json\"", "\"utf-8\"", "8"), "\"a\\u0000b\"", 10);
    /* content-length 8 covers only part of the JSON text: invalid */
    cr_assert_eq(decode_once(msg, n, 0, &d, &m), BERTH_EJSON);
    n = raw(msg, HDR("\"little\"", "\"text/json\"", "\"utf-8\"", "10"), "\"a\\u0000b\"", 10);
    cr_assert_eq(decode_once(msg, n, 0, &d, &m), (ssize_t)n, "%s", d.why);
    cr_assert_eq(json_string_length(m.json), 3);
    app_msg_free(&m);
}

Test(decode, garbage_never_crashes)
{
    /* a cheap deterministic sweep; the fuzzer does the real work */
    unsigned x = 12345;
    char p[512];
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(round % 500) + 1;
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            p[i] = (char)(x >> 16);
        }
        if (round & 1) p[0] = 0; /* small header lengths reach the JSON layer */
        struct app_dec d;
        struct app_msg m;
        app_dec_init(&d, 0, 1000);
        ssize_t r = app_decode(&d, p, n, round & 2, &m);
        if (r > 0) app_msg_free(&m);
        app_dec_free(&d);
    }
}

/* ---- the server's answers (app_respond, src/app/server.c) ---- */

/* Decodes one text/json request built from `json` and returns the "result"
 * the server answers, as a malloc'd string. */
static char *answer_of(const char *json_text)
{
    struct buf req, out;
    buf_init(&req, 0);
    buf_init(&out, 0);
    json_t *v = json_loads(json_text, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(v, "%s", json_text);
    cr_assert_eq(app_encode_json(&req, v), 0);
    json_decref(v);
    struct app_dec d;
    struct app_msg m;
    cr_assert_gt(decode_once(buf_head(&req), buf_len(&req), 0, &d, &m), 0);
    json_t *table = app_table_default();
    char why[128];
    cr_assert_eq(app_respond(table, &m, &out, why, sizeof why), 0, "%s", why);
    app_msg_free(&m);
    cr_assert_eq(decode_once(buf_head(&out), buf_len(&out), 0, &d, &m), (ssize_t)buf_len(&out));
    char *r = strdup(json_string_value(json_object_get(m.json, "result")));
    app_msg_free(&m);
    json_decref(table);
    buf_free(&req);
    buf_free(&out);
    return r;
}

Test(respond, the_reference_answers)
{
    char *r = answer_of("{\"action\": \"search\", \"value\": \"morpheus\"}");
    cr_assert_str_eq(r, "Follow the white rabbit. \360\237\220\260");
    free(r);
    r = answer_of("{\"action\": \"search\", \"value\": \"\360\237\220\266\"}");
    cr_assert_str_eq(r, "\360\237\220\276 Playing ball! \360\237\217\220");
    free(r);
    r = answer_of("{\"value\": \"ring\", \"action\": \"search\"}");
    cr_assert_str_eq(r, "In the caves beneath the Misty Mountains. \360\237\222\215");
    free(r);
    r = answer_of("{\"action\": \"search\", \"value\": \"Morpheus\"}");
    cr_assert_str_eq(r, "No match for 'Morpheus'.");
    free(r);
    r = answer_of("{\"action\": \"searc\", \"value\": \"ring\"}");
    cr_assert_str_eq(r, "Error: invalid action 'searc'.");
    free(r);
}

Test(respond, non_string_values_appear_as_json)
{
    char *r = answer_of("{\"action\": \"search\", \"value\": [1, 2.5]}");
    cr_assert_str_eq(r, "No match for '[1, 2.5]'.");
    free(r);
    r = answer_of("{\"action\": \"search\"}");
    cr_assert_str_eq(r, "No match for 'null'.");
    free(r);
    r = answer_of("{\"value\": \"ring\"}");
    cr_assert_str_eq(r, "Error: invalid action 'null'.");
    free(r);
}

Test(respond, binary_first_ten_bytes_and_refusals)
{
    struct buf out;
    buf_init(&out, 0);
    struct app_msg m = {.type = "x", .encoding = "binary", .content = "abc", .content_len = 3};
    char why[128];
    cr_assert_eq(app_respond(NULL, &m, &out, why, sizeof why), 0);
    static const char want[] = "First 10 bytes of request: abc";
    cr_assert_arr_eq(buf_head(&out) + buf_len(&out) - (sizeof want - 1), want, sizeof want - 1);
    buf_free(&out);

    m.json = json_array();
    cr_assert_eq(app_respond(NULL, &m, &out, why, sizeof why), BERTH_EPROTO);
    cr_assert_str_eq(why, "request content is not a JSON object");
    json_decref(m.json);
    buf_free(&out);
}
