/* libFuzzer target for `berth top`'s screen (top_render in src/http/top.c):
 * it formats a status document fetched from a server, whose strings
 * (targets, peers) come from that server's clients, onto a terminal.
 *
 * Input: byte 0 picks the sort and the row limit; the rest is the JSON text.
 * Invariants:
 *   - the answer is 0, or -EPROTO with a reason and nothing appended;
 *   - on 0 the screen is whole lines: exactly 2 + the rows shown, each
 *     ending in '\n', with no other control byte, no DEL and no C1 control
 *     (U+0080..U+009F, C2 80..C2 9F in UTF-8: U+009B is CSI to many
 *     terminals), so a hostile string can neither drive the terminal nor
 *     break the table's lines. */
#include "buf.h"
#include "http/top.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    enum top_sort sort = data[0] & 1 ? TOP_BY_AGE : TOP_BY_BYTES;
    int rows = (data[0] >> 1) & 7;
    char *json = malloc(size);
    memcpy(json, data + 1, size - 1);
    json[size - 1] = '\0';
    struct buf out;
    buf_init(&out, 0);
    char err[256] = "";
    int rc = top_render(&out, json, sort, rows, err, sizeof err);
    if (rc == -EPROTO) {
        if (!err[0] || buf_len(&out)) abort();
    } else if (rc == 0) {
        /* the rows the document has: its connections that are objects */
        json_t *root = json_loads(json, 0, NULL);
        json_t *conns = json_object_get(root, "connections");
        size_t objs = 0, i;
        json_t *c;
        json_array_foreach(conns, i, c) objs += json_is_object(c) != 0;
        json_decref(root);
        size_t shown = rows > 0 && (size_t)rows < objs ? (size_t)rows : objs;
        const char *s = buf_head(&out);
        size_t n = buf_len(&out), lines = 0;
        if (!n || s[n - 1] != '\n') abort();
        for (size_t k = 0; k < n; k++) {
            unsigned char ch = (unsigned char)s[k];
            if (ch == '\n')
                lines++;
            else if (ch < 0x20 || ch == 0x7f)
                abort();
            else if (ch == 0xc2 && k + 1 < n && (unsigned char)s[k + 1] >= 0x80 &&
                     (unsigned char)s[k + 1] <= 0x9f)
                abort();
        }
        if (lines != 2 + shown) abort();
    } else {
        abort();
    }
    buf_free(&out);
    free(json);
    return 0;
}
