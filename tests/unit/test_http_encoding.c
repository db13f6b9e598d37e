#include "http/encoding.h"

#include <criterion/criterion.h>
#include <string.h>

#define ALL (HTTP_ENC_BIT(HTTP_ENC_BR) | HTTP_ENC_BIT(HTTP_ENC_ZSTD) | HTTP_ENC_BIT(HTTP_ENC_GZIP))

static struct http_accept_enc parse(const char *v)
{
    struct http_accept_enc a;
    http_ae_init(&a);
    if (v) http_ae_parse(&a, v, strlen(v));
    return a;
}

static enum http_enc pick(const char *v, unsigned avail)
{
    struct http_accept_enc a = parse(v);
    return http_ae_choose(&a, avail);
}

static int q(const char *v, enum http_enc e)
{
    struct http_accept_enc a = parse(v);
    return http_ae_q(&a, e);
}

Test(encoding, absent_field_is_identity)
{
    cr_expect_eq(pick(NULL, ALL), HTTP_ENC_IDENTITY);
    cr_expect_eq(q(NULL, HTTP_ENC_IDENTITY), 1000);
    cr_expect_eq(q(NULL, HTTP_ENC_GZIP), 0);
}

Test(encoding, empty_value_is_identity_only)
{
    cr_expect_eq(pick("", ALL), HTTP_ENC_IDENTITY);
    cr_expect_eq(pick(" , ,, ", ALL), HTTP_ENC_IDENTITY);
    cr_expect_eq(q("", HTTP_ENC_BR), 0);
}

Test(encoding, ties_go_br_zstd_gzip)
{
    cr_expect_eq(pick("gzip, zstd, br", ALL), HTTP_ENC_BR);
    cr_expect_eq(pick("gzip, deflate, br, zstd", ALL), HTTP_ENC_BR); /* Chromium's */
    cr_expect_eq(pick("gzip, zstd", ALL), HTTP_ENC_ZSTD);
    cr_expect_eq(pick("gzip, deflate", ALL), HTTP_ENC_GZIP);
    cr_expect_eq(pick("br, gzip", HTTP_ENC_BIT(HTTP_ENC_GZIP)), HTTP_ENC_GZIP);
    cr_expect_eq(pick("br, gzip", 0), HTTP_ENC_IDENTITY);
}

Test(encoding, client_weights_win)
{
    cr_expect_eq(pick("br;q=0.5, gzip", ALL), HTTP_ENC_GZIP);
    cr_expect_eq(pick("br;q=0.5, gzip;q=0.501", ALL), HTTP_ENC_GZIP);
    cr_expect_eq(pick("zstd;q=0.9, br;q=0.8", ALL), HTTP_ENC_ZSTD);
    cr_expect_eq(pick("identity, gzip;q=0.5", ALL), HTTP_ENC_IDENTITY);
    cr_expect_eq(pick("identity;q=0.5, gzip;q=0.5", ALL), HTTP_ENC_GZIP); /* tie: coding */
    cr_expect_eq(q("br;q=0.123", HTTP_ENC_BR), 123);
    cr_expect_eq(q("br;q=1.000", HTTP_ENC_BR), 1000);
    cr_expect_eq(q("br;q=0.", HTTP_ENC_BR), 0);
}

Test(encoding, q0_refuses)
{
    cr_expect_eq(pick("br;q=0, gzip", ALL), HTTP_ENC_GZIP);
    cr_expect_eq(pick("br;q=0.000", ALL), HTTP_ENC_IDENTITY);
    cr_expect_eq(pick("*;q=0, gzip", ALL), HTTP_ENC_GZIP);
}

Test(encoding, identity_rules)
{
    /* unlisted identity: acceptable, below any listed coding */
    cr_expect_eq(q("gzip", HTTP_ENC_IDENTITY), 1);
    cr_expect_eq(pick("gzip;q=0.001", ALL), HTTP_ENC_GZIP);
    /* refused: identity;q=0, or *;q=0 without an identity entry */
    cr_expect_eq(q("identity;q=0", HTTP_ENC_IDENTITY), 0);
    cr_expect_eq(q("*;q=0", HTTP_ENC_IDENTITY), 0);
    cr_expect_eq(q("*;q=0, identity", HTTP_ENC_IDENTITY), 1000);
    cr_expect_eq(pick("identity;q=0, gzip", ALL), HTTP_ENC_GZIP);
    /* nothing acceptable: identity anyway (as nginx and h2o) */
    cr_expect_eq(pick("identity;q=0", ALL), HTTP_ENC_IDENTITY);
    cr_expect_eq(pick("*;q=0", ALL), HTTP_ENC_IDENTITY);
    cr_expect_eq(pick("identity;q=0, br", HTTP_ENC_BIT(HTTP_ENC_GZIP)), HTTP_ENC_IDENTITY);
}

Test(encoding, star)
{
    cr_expect_eq(pick("*", ALL), HTTP_ENC_BR);
    cr_expect_eq(pick("*", HTTP_ENC_BIT(HTTP_ENC_ZSTD)), HTTP_ENC_ZSTD);
    cr_expect_eq(pick("*;q=0.5, br;q=0.4", ALL), HTTP_ENC_ZSTD);
    cr_expect_eq(q("*;q=0.3", HTTP_ENC_IDENTITY), 300);
    cr_expect_eq(q("*;q=0.3, identity;q=0.2", HTTP_ENC_IDENTITY), 200);
    cr_expect_eq(q("*;q=0.3, gzip;q=0", HTTP_ENC_GZIP), 0);
    cr_expect_eq(pick("*;q=0.3, identity", ALL), HTTP_ENC_IDENTITY);
}

Test(encoding, case_and_whitespace)
{
    cr_expect_eq(q("BR", HTTP_ENC_BR), 1000);
    cr_expect_eq(q("Gzip ; Q=0.7", HTTP_ENC_GZIP), 700);
    cr_expect_eq(q("\tzStD\t;\tq=0.2\t", HTTP_ENC_ZSTD), 200);
    cr_expect_eq(q(",,, br ,,", HTTP_ENC_BR), 1000);
    cr_expect_eq(q("IDENTITY;q=0", HTTP_ENC_IDENTITY), 0);
    cr_expect_eq(q("x-gzip", HTTP_ENC_GZIP), 1000);
    cr_expect_eq(q("X-GZIP;q=0.5", HTTP_ENC_GZIP), 500);
}

Test(encoding, malformed_elements_ignored)
{
    /* neither granted nor refused: as if not listed */
    static const char *const bad[] = {
        "br;q=1.5",  "br;q=2",    "br;q=0.1234", "br;q=",      "br;q",     "br;q=.5",
        "br;q=1.01", "br;q=-0",   "br;level=1",  "br;q=0.5;x", "br q=0.5", "br;q=0.5 x",
        "b\"r",      "br;q =0.5", "br;;q=0.5",   "br;q=0x1",   "br;",      "br ;",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_expect_eq(q(bad[i], HTTP_ENC_BR), 0, "%s", bad[i]);
        struct http_accept_enc a = parse(bad[i]);
        cr_expect_eq(a.q[HTTP_ENC_BR], -1, "%s", bad[i]);
    }
    /* a malformed identity refusal refuses nothing */
    cr_expect_eq(q("identity;q=0.0.0", HTTP_ENC_IDENTITY), 1);
    /* the rest of the list still counts */
    cr_expect_eq(pick("br;q=5, gzip", ALL), HTTP_ENC_GZIP);
    /* *, with a malformed coding entry, still covers it */
    cr_expect_eq(q("br;q=9, *;q=0.4", HTTP_ENC_BR), 400);
}

Test(encoding, first_weight_of_a_repeat_wins_and_lines_join)
{
    cr_expect_eq(q("br;q=0, br", HTTP_ENC_BR), 0);
    cr_expect_eq(q("br, br;q=0", HTTP_ENC_BR), 1000);
    struct http_accept_enc a;
    http_ae_init(&a);
    http_ae_parse(&a, "gzip;q=0.5", 10);
    http_ae_parse(&a, "br;q=0.6", 8);
    cr_expect_eq(http_ae_choose(&a, ALL), HTTP_ENC_BR);
    cr_expect_eq(http_ae_q(&a, HTTP_ENC_GZIP), 500);
}

Test(encoding, unknown_codings_ignored)
{
    cr_expect_eq(pick("deflate, compress, exi, pack200-gzip", ALL), HTTP_ENC_IDENTITY);
    cr_expect_eq(pick("gzipx, xbr, zstd2", ALL), HTTP_ENC_IDENTITY);
}

Test(encoding, names)
{
    cr_expect_str_eq(http_enc_name(HTTP_ENC_BR), "br");
    cr_expect_str_eq(http_enc_name(HTTP_ENC_ZSTD), "zstd");
    cr_expect_str_eq(http_enc_name(HTTP_ENC_GZIP), "gzip");
    cr_expect_str_eq(http_enc_suffix(HTTP_ENC_ZSTD), ".zst");
    cr_expect_str_eq(http_enc_suffix(HTTP_ENC_GZIP), ".gz");
    cr_expect_str_eq(http_enc_suffix(HTTP_ENC_IDENTITY), "");
}
