"""A real browser against `berth serve` (issue 4): headless Chromium opens a
listing, follows a link with a non-ASCII name, and renders a page whose
script, module script, WebAssembly and image only work when berth sends the
right bytes with the right Content-Type.  Over HTTPS (issue 9), with the
certificate of `--tls-self-signed` pinned by its printed SPKI fingerprint,
a page and each of its sub-resources arrive over h2.  Skipped when chromium
is absent."""
import html
import os
import re
import shutil
import struct
import subprocess
import tempfile
import urllib.parse
import zlib

import pytest

from test_serve import HOST, start_serve
from test_tls import HTTPS_RE

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and os.path.exists(p)), None)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

NAME = "日本語 ページ.html"  # non-ASCII and a space


def png(width, height):
    """A valid RGB PNG, made with zlib and struct."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"".join(bytes((x * 30 % 256, y * 40 % 256, 128)) for x in range(width))
                   for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# the smallest WebAssembly module exporting `answer` () -> i32 returning 42
WASM = bytes([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,        # magic, version
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,              # type: () -> i32
    0x03, 0x02, 0x01, 0x00,                                # func 0 has type 0
    0x07, 0x0a, 0x01, 0x06, 0x61, 0x6e, 0x73, 0x77, 0x65, 0x72, 0x00, 0x00,  # export "answer"
    0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b,        # body: i32.const 42
])


@pytest.fixture(scope="module")
def web_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser") / "www"
    d = root / "list"
    d.mkdir(parents=True)
    (d / NAME).write_text('<!doctype html><meta charset="utf-8"><title>j</title>'
                          '<p id="m">ARRIVED-AT-NON-ASCII</p>\n', encoding="utf-8")
    (d / "plain.txt").write_text("plain\n")
    (d / "a&b <c>.txt").write_text("odd\n")
    (root / "follow.html").write_text("""<!doctype html><meta charset="utf-8"><title>follow</title>
<p id="out">PENDING</p>
<iframe id="f" src="/list/"></iframe>
<script>
var f = document.getElementById('f'), step = 0;
f.onload = function () {
  var doc = f.contentDocument;
  if (step++ === 0) {
    var links = Array.prototype.slice.call(doc.querySelectorAll('a'));
    var a = links.filter(function (x) { return x.textContent.trim() === %s; })[0];
    if (!a) { document.getElementById('out').textContent = 'NO-LINK'; return; }
    a.click();
  } else {
    var m = doc.getElementById('m');
    document.getElementById('out').textContent = 'FOLLOWED:' + (m ? m.textContent : 'none') +
      ':' + decodeURIComponent(f.contentWindow.location.pathname);
  }
};
</script>
""" % ('"' + NAME + '"'), encoding="utf-8")
    (root / "app.html").write_text("""<!doctype html><html><head><meta charset="utf-8"><title>app</title>
<script src="app.js"></script>
<script type="module" src="mod.mjs"></script>
</head><body>
<p id="js">NO-JS</p><p id="mod">NO-MODULE</p><p id="img">NO-IMAGE</p><p id="wasm">NO-WASM</p>
<img id="pic" src="pic.png" onload="document.getElementById('img').textContent = 'IMG:' + this.naturalWidth + 'x' + this.naturalHeight" onerror="document.getElementById('img').textContent = 'IMG-ERROR'">
<script>
document.getElementById('js').textContent = window.fromAppJs || 'APP-JS-MISSING';
WebAssembly.instantiateStreaming(fetch('answer.wasm')).then(function (r) {
  document.getElementById('wasm').textContent = 'WASM:' + r.instance.exports.answer();
}, function (e) { document.getElementById('wasm').textContent = 'WASM-ERROR:' + e; });
</script>
</body></html>
""", encoding="utf-8")
    (root / "app.js").write_text("window.fromAppJs = 'JS-RAN';\n")
    (root / "mod.mjs").write_text("document.getElementById('mod').textContent = 'MODULE-RAN';\n")
    (root / "pic.png").write_bytes(png(7, 5))
    (root / "answer.wasm").write_bytes(WASM)
    return root


@pytest.fixture
def web(web_root):
    s = start_serve(web_root, "--quiet")
    yield s
    s.kill()


def dump_dom(url, budget_ms=5000, extra=()):
    profile = tempfile.mkdtemp(prefix="berth-chromium-")
    try:
        p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                            "--no-first-run", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                            "--user-data-dir=" + profile, "--virtual-time-budget=%d" % budget_ms] +
                           list(extra) + ["--dump-dom", url],
                           capture_output=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout.decode("utf-8", "replace")


def text_of(dom, id_):
    m = re.search(r'id="%s"[^>]*>([^<]*)<' % id_, dom)
    return html.unescape(m.group(1)) if m else None


def test_listing_renders_in_chromium(web):
    dom = dump_dom("http://%s:%d/list/" % (HOST, web.port))
    assert NAME in html.unescape(dom)
    assert "a&amp;b &lt;c&gt;.txt" in dom  # rendered as text, not markup
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]*)"', dom)]
    want = urllib.parse.quote(NAME)
    assert any(h == want or h.endswith("/" + want) for h in hrefs), hrefs


def test_chromium_follows_a_non_ascii_link(web):
    dom = dump_dom("http://%s:%d/follow.html" % (HOST, web.port))
    assert text_of(dom, "out") == "FOLLOWED:ARRIVED-AT-NON-ASCII:/list/" + NAME, dom[-1500:]


def test_page_with_script_module_wasm_and_image(web):
    dom = dump_dom("http://%s:%d/app.html" % (HOST, web.port))
    assert text_of(dom, "js") == "JS-RAN", dom
    assert text_of(dom, "mod") == "MODULE-RAN", "a module script needs a JavaScript type: %s" % dom
    assert text_of(dom, "img") == "IMG:7x5", dom
    assert text_of(dom, "wasm") == "WASM:42", "instantiateStreaming needs application/wasm: %s" % dom


H2_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>h2</title>
<link rel="stylesheet" href="h2.css">
<script src="h2.js"></script>
</head><body>
<p id="css">NO-CSS</p><p id="js">NO-JS</p><p id="img">NO-IMAGE</p><p id="protos">PENDING</p>
<img src="h2.png" onload="document.getElementById('img').textContent = 'IMG:' + this.naturalWidth"
     onerror="document.getElementById('img').textContent = 'IMG-ERROR'">
<script>
window.addEventListener('load', function () {
  var css = getComputedStyle(document.getElementById('css')).getPropertyValue('--berth').trim();
  document.getElementById('css').textContent = css || 'CSS-MISSING';
  document.getElementById('js').textContent = window.fromH2Js || 'JS-MISSING';
  var nav = performance.getEntriesByType('navigation')[0];
  var subs = performance.getEntriesByType('resource').map(function (e) {
    return e.name.replace(/^.*\\//, '') + '=' + e.nextHopProtocol;
  }).sort();
  document.getElementById('protos').textContent = ['page=' + nav.nextHopProtocol].concat(subs).join(' ');
});
</script>
</body></html>
"""


@pytest.fixture(scope="module")
def h2_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-h2")
    (root / "h2.html").write_text(H2_PAGE, encoding="utf-8")
    (root / "h2.css").write_text("#css { --berth: CSS-APPLIED; }\n")
    (root / "h2.js").write_text("window.fromH2Js = 'JS-RAN';\n")
    (root / "h2.png").write_bytes(png(9, 4))
    return root


def https_dom(root, *serve_args):
    """Loads h2.html from `berth serve --tls-self-signed` in Chromium, the
    certificate accepted through the fingerprint berth printed (and only
    through it: no --ignore-certificate-errors)."""
    s = start_serve(root, "--tls-self-signed", *serve_args, ready=HTTPS_RE)
    try:
        assert s.wait_for(rb"SPKI fingerprint: \S+", 10), s.output()
        pin = re.search(r"SPKI fingerprint: ([A-Za-z0-9+/]{43}=)", s.output()).group(1)
        return dump_dom("https://%s:%d/h2.html" % (HOST, s.port),
                        extra=["--ignore-certificate-errors-spki-list=" + pin])
    finally:
        s.kill()


def test_https_page_and_every_subresource_arrive_over_h2(h2_root):
    dom = https_dom(h2_root)
    assert text_of(dom, "css") == "CSS-APPLIED", dom
    assert text_of(dom, "js") == "JS-RAN", dom
    assert text_of(dom, "img") == "IMG:9", dom
    assert text_of(dom, "protos") == "page=h2 h2.css=h2 h2.js=h2 h2.png=h2", dom


def test_https_with_no_h2_is_http11_in_chromium(h2_root):
    """The other side of the test above: with --no-h2 the same page loads
    whole and Chromium reports http/1.1, so "h2" there is what was spoken."""
    dom = https_dom(h2_root, "--no-h2")
    assert text_of(dom, "js") == "JS-RAN" and text_of(dom, "img") == "IMG:9", dom
    assert text_of(dom, "protos") == \
        "page=http/1.1 h2.css=http/1.1 h2.js=http/1.1 h2.png=http/1.1", dom
