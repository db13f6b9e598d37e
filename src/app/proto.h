/* app/proto — the application protocol of Real Python's sockets guide.
 *
 * A message is a 2-byte big-endian header length (the frame module's
 * FRAME_LEN16), a UTF-8 JSON header object with the keys byteorder
 * ("little"/"big"), content-type, content-encoding and content-length, then
 * content-length bytes of content.  text/json content is JSON in UTF-8; any
 * other type is opaque bytes.  docs/PROTOCOL.md describes it in full.
 *
 * The decoder follows frame's convention: feed it the whole unconsumed input
 * (the same start, possibly more bytes) and consume its return value after a
 * message.  It parses each header once, refuses a content-length over the
 * limit before any byte of content is buffered, and allocates nothing but the
 * parsed JSON.  The encoder writes exactly the bytes Python's reference writes
 * (json.dumps(..., ensure_ascii=False), keys in the reference's order). */
#ifndef BERTH_APP_PROTO_H
#define BERTH_APP_PROTO_H

#include "buf.h"
#include "frame.h"

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#define APP_HEADER_MAX      8192u       /* largest JSON header accepted */
#define APP_CONTENT_MAX     (16u << 20) /* default content-length limit */
#define APP_TYPE_JSON       "text/json"
#define APP_TYPE_SRV_BINARY "binary/custom-server-binary-type"
#define APP_TYPE_CLI_BINARY "binary/custom-client-binary-type"

/* One decoded message.  Strings live in `header`; `content` points into the
 * caller's input and is valid until that input is consumed. */
struct app_msg {
    json_t *header;       /* the header object (owned) */
    const char *type;     /* content-type */
    const char *encoding; /* content-encoding */
    int big_endian;       /* byteorder was "big" */
    const char *content;
    size_t content_len;
    json_t *json; /* text/json: the parsed content (owned); else NULL */
};

void app_msg_free(struct app_msg *m);

struct app_dec {
    struct frame_dec frame; /* the 2-byte header length */
    size_t max_content;
    json_t *header;   /* parsed header waiting for its content, or NULL */
    size_t head_size; /* 2 + header length, once the header is parsed */
    size_t content_len;
    char why[192]; /* the last error, one line for humans */
};

/* max_header: largest header (<= 65535; 0 = APP_HEADER_MAX); max_content:
 * largest content-length (0 = APP_CONTENT_MAX). */
void app_dec_init(struct app_dec *d, size_t max_header, size_t max_content);
void app_dec_free(struct app_dec *d);

/* Looks for one message at the start of p[0..n); `eof`: no more bytes will
 * come.  > 0: *m is filled (free it with app_msg_free) and the value is the
 * bytes it used; 0: need more (or, at eof with n == 0, a clean end); < 0:
 * BERTH_EPROTO, BERTH_EJSON, BERTH_ETOOBIG or BERTH_EOF, with d->why saying
 * exactly what was wrong.  After an error the stream cannot be trusted. */
ssize_t app_decode(struct app_dec *d, const char *p, size_t n, int eof, struct app_msg *m);

/* Appends one message (length, header, content) to out.  0 or < 0. */
int app_encode(struct buf *out, const char *type, const char *encoding, const void *content,
               size_t len);
/* Appends a text/json, utf-8 message whose content is v. */
int app_encode_json(struct buf *out, const json_t *v);
/* Appends v as Python's json.dumps(v, ensure_ascii=False) writes it. */
int app_json_dump(struct buf *out, const json_t *v);

#endif
