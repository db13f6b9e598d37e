/* libFuzzer target for the WebSocket opening handshake's field checks
 * (src/http/ws_hs.c: Upgrade/Connection tokens, Sec-WebSocket-Key,
 * -Version, -Protocol) and the permessage-deflate offer parser
 * (ws_pmd_negotiate in src/http/ws_pmd.c), reached as the server reaches
 * them: a request head parsed by http_parse_request, then ws_hs_check.
 *
 * Input: byte 0 picks whether deflate is allowed and which subprotocol list
 * the server has; the rest is the request head.  Invariants:
 *   - a refusal is a 400 or a 426 with a reason;
 *   - an acceptance had exactly one Sec-WebSocket-Key, and its accept value
 *     is the 28-character base64 of SHA-1(key + GUID), recomputed here;
 *   - the subprotocol chosen is one of the server's, offered verbatim
 *     (trimmed, case-sensitive) in some Sec-WebSocket-Protocol element;
 *   - permessage-deflate is agreed only when allowed, its answer is a valid
 *     offer that negotiates to the same parameters and the same answer (a
 *     fixed point), with windows in range;
 *   - ws_hs_has_token agrees with a plain reference implementation;
 *   - every Sec-WebSocket-Extensions value, negotiated on its own into an
 *     exact-size heap buffer (ASan sees an overrun), obeys the same rules. */
#include "harness.h"
#include "http/parse.h"
#include "http/ws_hs.h"
#include "http/ws_pmd.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const protocol_sets[] = {NULL, "chat", "chat, superchat",
                                            " v2.json ,v1.json,,x"};

/* the reference: split at ',', trim SP/HTAB, compare ASCII-case-blind */
static int ref_has_token(const char *s, size_t n, const char *tok)
{
    size_t at = 0, a, b;
    while (fz_list_next(s, n, &at, &a, &b))
        if (fz_eq_ci(s + a, b - a, tok)) return 1;
    return 0;
}

static int eq_ci(struct http_str s, const char *lit)
{
    return fz_eq_ci(s.p, s.n, lit);
}

static void check_conf(const struct ws_pmd_conf *c)
{
    if (c->server_bits < 8 || c->server_bits > 15) abort(); /* 8..15 (RFC 7692 §7.1.2.1) */
    if (c->client_bits && (c->client_bits < 8 || c->client_bits > 15)) abort();
    if (c->server_no_ctx > 1 || c->client_no_ctx > 1) abort();
}

/* the answer, read back as an offer, must give the same parameters and the
 * same answer again */
static void check_answer(const char *resp, const struct ws_pmd_conf *c)
{
    size_t n = strlen(resp);
    if (n < 18 || memcmp(resp, "permessage-deflate", 18)) abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)resp[i] < 0x20 || (unsigned char)resp[i] >= 0x7f) abort();
    struct ws_pmd_conf again;
    char resp2[128];
    if (ws_pmd_negotiate(resp, n, &again, resp2, sizeof resp2) != 1) abort();
    if (memcmp(&again, c, sizeof again) || strcmp(resp, resp2)) abort();
}

/* one value on its own, the answer written into a heap buffer of exactly
 * rn bytes */
static void negotiate_alone(const char *v, size_t n, size_t rn)
{
    char *resp = malloc(rn);
    struct ws_pmd_conf c;
    int rc = ws_pmd_negotiate(v, n, &c, resp, rn);
    if (rc != 0 && rc != 1) abort();
    if (rc == 1) {
        if (strlen(resp) >= rn) abort();
        check_conf(&c);
        check_answer(resp, &c);
    }
    free(resp);
}

static void check_accept(struct http_str key, const char *accept)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char in[WS_KEY_LEN + sizeof guid], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char want[WS_ACCEPT_LEN + 1];
    if (key.n != WS_KEY_LEN) abort();
    memcpy(in, key.p, key.n);
    memcpy(in + key.n, guid, sizeof guid - 1);
    if (!EVP_Digest(in, key.n + sizeof guid - 1, md, &mdlen, EVP_sha1(), NULL)) abort();
    EVP_EncodeBlock((unsigned char *)want, md, 20);
    if (strlen(accept) != WS_ACCEPT_LEN || strcmp(accept, want)) abort();
}

/* the chosen protocol is in the server's list and offered by the client */
static void check_protocol(const char *chosen, const char *protocols, const struct http_header *h,
                           size_t nh)
{
    if (!*chosen) return;
    size_t cn = strlen(chosen);
    if (!protocols || !ref_has_token(protocols, strlen(protocols), chosen)) abort();
    for (size_t i = 0; i < nh; i++) {
        if (!eq_ci(h[i].name, "sec-websocket-protocol")) continue;
        const char *v = h[i].value.p;
        size_t at = 0, a, b;
        while (fz_list_next(v, h[i].value.n, &at, &a, &b))
            if (b - a == cn && !memcmp(v + a, chosen, cn)) return;
    }
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int deflate = data[0] & 1;
    const char *protocols = protocol_sets[(data[0] >> 1) & 3];
    size_t rn = 8 + (size_t)(data[0] >> 3) * 4; /* 8..132 bytes for the lone answers */
    char *head;
    struct http_request req;
    struct http_header h[100];
    int hl = fz_parse_head(data + 1, size - 1, &head, &req, h);
    if (hl > 0) {
        size_t nh = req.nheaders, nkey = 0;
        struct http_str key = {0};
        for (size_t i = 0; i < nh; i++) {
            static const char *const toks[] = {"websocket", "upgrade", "permessage-deflate"};
            for (size_t t = 0; t < 3; t++)
                if (ws_hs_has_token(h[i].value.p, h[i].value.n, toks[t]) !=
                    ref_has_token(h[i].value.p, h[i].value.n, toks[t]))
                    abort();
            if (eq_ci(h[i].name, "sec-websocket-key")) nkey++, key = h[i].value;
            if (eq_ci(h[i].name, "sec-websocket-extensions"))
                negotiate_alone(h[i].value.p, h[i].value.n, rn);
        }
        struct ws_hs hs;
        int rc = ws_hs_check(req.method == HTTP_GET, req.version, h, nh, protocols, deflate, &hs);
        if (rc == 0) {
            if (req.method != HTTP_GET || req.version < 11 || nkey != 1) abort();
            check_accept(key, hs.accept);
            check_protocol(hs.protocol, protocols, h, nh);
            if (hs.deflate) {
                if (!deflate) abort();
                check_conf(&hs.pmd);
                check_answer(hs.ext, &hs.pmd);
            }
        } else if (rc != -1 || (hs.status != 400 && hs.status != 426) || !hs.why) {
            abort();
        }
    }
    free(head);
    return 0;
}
