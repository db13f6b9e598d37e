/* libFuzzer target for the client's check of a server's permessage-deflate
 * answer (ws_client_pmd_accept in src/ws_client_pmd.c, what `berth echo
 * --ws --ws-deflate` runs on the 101's Sec-WebSocket-Extensions).
 *
 * Input: byte 0 picks the offer (server_max_window_bits asked or not, and
 * which; client_max_window_bits with a value or not; the two
 * no_context_takeover flags); the rest is the answer, copied into an
 * exact-size heap buffer (ASan sees a read past it).  Invariants:
 *   - the result is 1, 0 or BERTH_EPROTO; a refusal says why, cause then
 *     fix ("; "); 0 only for a value of nothing but commas and white space;
 *   - an agreement is within the offer: windows 8..15 (0: 15 for ours),
 *     the server's at most the one asked, ours at most the one offered, the
 *     no_context_takeover asked of the server granted, ours kept when we
 *     offered it; and the codec sets up for it;
 *   - berth's own server (ws_pmd_negotiate) answers the offer with an
 *     answer the client agrees to (the two sides of the handshake meet). */
#include "err.h"
#include "http/ws_pmd.h"
#include "ws_client_pmd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t pick = data[0];
    struct ws_deflate o = {.on = 1};
    if (pick & 1) o.server_max_window_bits = 8 + (pick >> 1 & 7);
    if (pick & 16) o.client_max_window_bits = 8 + (pick >> 5 & 7);
    o.server_no_context_takeover = pick >> 4 & 1 && pick & 128;
    o.client_no_context_takeover = (pick & 6) == 6;
    char *v = malloc(size - 1 ? size - 1 : 1);
    if (!v) return 0;
    memcpy(v, data + 1, size - 1);
    struct ws_pmd_conf c;
    char why[512] = "";
    int rc = ws_client_pmd_accept(&o, v, size - 1, &c, why, sizeof why);
    if (rc != 1 && rc != 0 && rc != BERTH_EPROTO) abort();
    if (rc == BERTH_EPROTO && (!why[0] || !strstr(why, "; "))) abort();
    if (rc == 0)
        for (size_t i = 0; i < size - 1; i++)
            if (v[i] != ',' && v[i] != ' ' && v[i] != '\t') abort();
    if (rc == 1) {
        if (c.server_bits < 8 || c.server_bits > 15) abort();
        if (c.client_bits && (c.client_bits < 8 || c.client_bits > 15)) abort();
        if (o.server_max_window_bits && c.server_bits > o.server_max_window_bits) abort();
        if (o.client_max_window_bits &&
            (!c.client_bits || c.client_bits > o.client_max_window_bits))
            abort();
        if (o.server_no_context_takeover && !c.server_no_ctx) abort();
        if (o.client_no_context_takeover && !c.client_no_ctx) abort();
        struct ws_pmd *z = ws_pmd_new(&c, 0);
        if (!z) abort();
        ws_pmd_free(z);
    }
    free(v);

    /* the offer, answered by berth's server, is agreed to */
    char offer[200], resp[200];
    struct ws_pmd_conf sc;
    if (ws_client_pmd_offer(&o, offer, sizeof offer) != 0) abort();
    if (ws_pmd_negotiate(offer, strlen(offer), &sc, resp, sizeof resp) != 1) abort();
    if (ws_client_pmd_accept(&o, resp, strlen(resp), &c, why, sizeof why) != 1) abort();
    return 0;
}
