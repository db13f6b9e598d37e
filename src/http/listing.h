/* listing — HTML directory index pages, and the escaping they need. */
#ifndef BERTH_HTTP_LISTING_H
#define BERTH_HTTP_LISTING_H

#include "buf.h"

#include <stddef.h>

/* Appends s[0..n) to b with & < > " ' replaced by character references, so
 * the text is safe in element content and in quoted attribute values.
 * 0, or buf_reserve()'s negative code. */
int http_html_escape(struct buf *b, const char *s, size_t n);

/* Appends s[0..n) to b percent-encoded (RFC 3986): every byte outside the
 * unreserved set (ALPHA DIGIT - . _ ~) and '/' becomes %XX, so any file name
 * (spaces, '#', '?', '%', ':', non-ASCII) round-trips through a URL path.
 * 0, or buf_reserve()'s negative code. */
int http_url_encode(struct buf *b, const char *s, size_t n);

/* Appends a complete HTML5 page listing the directory open at dirfd, whose
 * URL path is urlpath (normalised, ending in '/'; the links are relative to
 * it, so the page must be served at that URL).  The entries: "../" (except
 * at "/"), then directories, then regular files, each group in byte order of
 * name, with size and modification time (UTC).  Only what would be served is
 * listed, so a crawler can follow every link: names beginning with '.' are
 * left out unless show_hidden; special files (devices, sockets, FIFOs) are
 * left out; a symlink is listed only when beneath_open(rootfd, urlpath+name)
 * opens it (not dangling, not leading out of the root), with its target's
 * type, size and date.  rootfd < 0 skips that check (symlinks are followed
 * wherever they lead).  Names are shown HTML-escaped with control
 * characters as U+FFFD and bytes that are not UTF-8 as "\xHH"; links
 * percent-encode the raw bytes.  dirfd is neither moved nor closed.  0, or a
 * negative code (-errno reading the directory, or the buffer's). */
int http_listing(struct buf *out, int rootfd, int dirfd, const char *urlpath, int show_hidden);

/* How a listing is ordered and which form it takes (?sort=, &order=, and
 * Accept: application/json). */
enum listing_sort { LISTING_NAME, LISTING_SIZE, LISTING_MTIME };
struct listing_opts {
    enum listing_sort sort; /* directories stay first; ties go by name */
    int desc;               /* descending (within directories and files each) */
    int json;               /* a JSON array instead of the HTML page */
    size_t max_entries;     /* more entries than this: -E2BIG (0: no limit) */
};

/* http_listing with an order and a form.  The HTML page gets a GET form
 * choosing the order (?sort=name|size|mtime&order=asc|desc); its links stay
 * the entries' alone.  The JSON form
 * is an array of {"name", "type" ("dir" or "file": what the entry would be
 * served as, so a symlink shows its target's), "size" (bytes; null for a
 * directory), "mtime" (RFC 3339, UTC, seconds), "url" (the entry's link,
 * relative, percent-encoded: the raw bytes of any name)}; names are the
 * same entries as the page's, as JSON strings: UTF-8 kept as it is (control
 * characters JSON-escaped), each byte that is not UTF-8 as the text \xHH (so
 * the JSON is always valid; "url" is exact).  lo NULL: by name, HTML,
 * without the form (http_listing's page).  0, or a negative code (-E2BIG
 * past lo->max_entries). */
int http_listing_ex(struct buf *out, int rootfd, int dirfd, const char *urlpath, int show_hidden,
                    const struct listing_opts *lo);

/* What the entry `name` of the directory open at dirfd (URL path urlpath,
 * ending in '/') would be served as: 1 with *st from it, or from its target
 * for a symlink beneath_open(rootfd, urlpath+name) lets through (rootfd < 0:
 * any symlink is followed); 0 when it would not be served (gone, dangling,
 * leading out of the root, special file).  The listing's and the tar
 * download's one rule. */
struct stat;
int http_listing_servable(int rootfd, int dirfd, const char *urlpath, const char *name,
                          struct stat *st);

#endif
