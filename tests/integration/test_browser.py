"""A real browser against `berth serve` (issue 4): headless Chromium opens a
listing, follows a link with a non-ASCII name, and renders a page whose
script, module script, WebAssembly and image only work when berth sends the
right bytes with the right Content-Type.  Skipped when chromium is absent."""
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


def dump_dom(url, budget_ms=5000):
    profile = tempfile.mkdtemp(prefix="berth-chromium-")
    try:
        p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                            "--no-first-run", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                            "--user-data-dir=" + profile, "--virtual-time-budget=%d" % budget_ms,
                            "--dump-dom", url],
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
