"""The embedding API as a user meets it: `make install` into a temporary
DESTDIR, a C program (api_prog.c) built through the installed berth.pc
against the static and the shared library, then spoken to with http.client
and curl.  And the README's embedding snippet, compiled exactly as the
README says."""
import http.client
import os
import re
import shlex
import shutil
import subprocess
import threading

import pytest

from conftest import BUILD

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "/usr/local"


def sanitizer_flags():
    """An ASan/UBSan build's library needs the same runtime in the program."""
    out = subprocess.run(["nm", os.path.join(BUILD, "libberth.a")], capture_output=True,
                         text=True).stdout
    flags = []
    if "__asan_" in out:
        flags.append("-fsanitize=address")
    if "__ubsan_" in out:
        flags.append("-fsanitize=undefined")
    return flags


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert p.returncode == 0, "%s\n%s%s" % (cmd, p.stdout, p.stderr)
    return p.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """DESTDIR with berth installed under /usr/local, and the environment
    that lets pkg-config find it there."""
    dest = str(tmp_path_factory.mktemp("destdir"))
    run(["make", "--no-print-directory", "-C", REPO, "BUILD=" + BUILD, "install",
         "DESTDIR=" + dest, "PREFIX=" + PREFIX])
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = dest + PREFIX + "/lib/pkgconfig"
    # the installed berth.pc says prefix=/usr/local: the sysroot maps its
    # -I and -L into DESTDIR, so the command lines stay the user's
    env["PKG_CONFIG_SYSROOT_DIR"] = dest
    return dest, env


def pkg(env, *args):
    return shlex.split(run(["pkg-config"] + list(args) + ["berth"], env=env))


def test_install_puts_every_file_in_place_and_uninstall_removes_them(installed, tmp_path):
    dest, env = installed
    lib = dest + PREFIX + "/lib/"
    for f in ["bin/berth", "include/berth.h", "share/man/man1/berth.1", "lib/libberth.a",
              "lib/libberth.so", "lib/libberth.so.2", "lib/pkgconfig/berth.pc"]:
        assert os.path.exists(dest + PREFIX + "/" + f), f
    soname = run(["readelf", "-d", lib + "libberth.so"])
    assert "Library soname: [libberth.so.2]" in soname
    assert os.path.realpath(lib + "libberth.so") == os.path.realpath(lib + "libberth.so.2")
    # only the public API is exported by the shared library
    syms = run(["nm", "-D", "--defined-only", lib + "libberth.so"]).split()
    funcs = [s.split("@")[0] for s in syms if "berth" in s and s[0].islower()]
    assert "berth_server_new" in funcs and "berth_respond" in funcs
    assert not [s for s in syms if s.startswith(("buf_", "http_", "err_", "loop_"))], syms
    pc = open(lib + "pkgconfig/berth.pc").read()
    assert "prefix=" + PREFIX in pc and "-lberth" in pc
    assert pkg(env, "--libs") == ["-L" + lib.rstrip("/"), "-lberth"]
    static = pkg(env, "--static", "--libs")
    assert "-ljansson" in static and "-lpthread" in static

    # uninstall on a copy, so the other tests keep theirs
    copy = str(tmp_path / "copy")
    shutil.copytree(dest, copy, symlinks=True)
    run(["make", "--no-print-directory", "-C", REPO, "BUILD=" + BUILD, "uninstall",
         "DESTDIR=" + copy, "PREFIX=" + PREFIX])
    left = [os.path.join(d, f) for d, _, fs in os.walk(copy) for f in fs]
    assert left == [], left


def build_prog(env, tmp_path, kind):
    out = str(tmp_path / ("api_prog_" + kind))
    src = os.path.join(HERE, "api_prog.c")
    cflags = pkg(env, "--cflags")
    if kind == "shared":
        libs = pkg(env, "--libs")
    else:
        # the archive by name, then what it needs (Libs.private, Requires.private)
        libs = ["-l:libberth.a" if a == "-lberth" else a for a in pkg(env, "--static", "--libs")]
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror"] + sanitizer_flags() +
        [src, "-o", out] + cflags + libs, env=env)
    needed = run(["readelf", "-d", out])
    assert ("libberth.so.2" in needed) == (kind == "shared"), needed
    return out


class Prog:
    def __init__(self, path, env):
        self.proc = subprocess.Popen([path], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        codes = self.proc.stdout.readline().split()
        port = self.proc.stdout.readline().split()
        assert codes[:1] == ["codes"] and port[:1] == ["port"], (codes, port, self.stop())
        self.field, self.usage, self.reserved = (int(c) for c in codes[1:])
        self.port = int(port[1])

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            out, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, err


@pytest.fixture(params=["static", "shared"])
def prog(request, installed, tmp_path):
    dest, env = installed
    path = build_prog(env, tmp_path, request.param)
    run_env = dict(os.environ)
    run_env["LD_LIBRARY_PATH"] = dest + PREFIX + "/lib"
    p = Prog(path, run_env)
    yield p
    rc, err = p.stop()
    assert rc == 0, err


def test_injection_is_refused_with_its_error_code(prog):
    r, body = prog.request("GET", "/inject")
    assert r.status == 200
    lines = body.decode().split("\n")
    assert lines[0].split() == [str(c) for c in
                                [0, prog.field, prog.reserved, prog.reserved, prog.field,
                                 prog.field]]
    assert "token" in lines[1] and "Content-Length" in lines[2]
    assert r.getheader("X-Ok") == "fine"
    assert r.getheader("Set-Cookie") is None
    assert r.getheader("Content-Type") == "text/plain"
    assert r.getheader("Transfer-Encoding") is None
    assert len(r.msg.get_all("Content-Length")) == 1
    assert int(r.getheader("Content-Length")) == len(body)


def test_prefix_matches_whole_segments(prog):
    for path, want in [("/files", 200), ("/files/", 200), ("/files/a/b", 200),
                       ("/filesystem", 404), ("/files.bak", 404)]:
        r, body = prog.request("GET", path)
        assert r.status == want, (path, body)
        if want == 200:
            assert body.decode() == "files GET " + path


def test_head_runs_the_get_route_and_sends_no_body(prog):
    r, body = prog.request("HEAD", "/files/x")
    assert r.status == 200 and body == b""
    assert r.getheader("Content-Length") == str(len("files HEAD /files/x"))
    # curl agrees there is no body to wait for (it would time out otherwise)
    out = subprocess.run(["curl", "-sS", "-I", "--max-time", "20",
                          "http://127.0.0.1:%d/files/x" % prog.port],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "HTTP/1.1 200 OK"


def test_other_methods_get_405_with_allow_and_options_lists_them(prog):
    r, _ = prog.request("DELETE", "/upload")
    assert (r.status, r.reason) == (405, "Method Not Allowed")
    assert r.getheader("Allow") == "POST, PUT, OPTIONS"
    r, _ = prog.request("POST", "/files/a", body=b"abc")
    assert r.status == 405 and r.getheader("Allow") == "GET, HEAD, OPTIONS"
    r, body = prog.request("OPTIONS", "/upload")
    assert r.status == 204 and body == b""
    assert r.getheader("Allow") == "POST, PUT, OPTIONS"
    r, body = prog.request("PUT", "/upload", body=b"x")
    assert r.status == 200 and body == b"PUT /upload"
    r, _ = prog.request("DELETE", "/elsewhere")
    assert r.status == 404


def raw_status_line(port, path):
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n")[0].decode()


def test_reason_phrases_on_the_wire(prog):
    cases = {202: "Accepted", 303: "See Other", 409: "Conflict", 410: "Gone",
             418: "I'm a teapot", 422: "Unprocessable Content", 429: "Too Many Requests",
             502: "Bad Gateway", 504: "Gateway Timeout", 507: "Insufficient Storage",
             599: ""}
    for code, reason in cases.items():
        assert raw_status_line(prog.port, "/status?%d" % code) == "HTTP/1.1 %d %s" % (code, reason)


# ---- the README's embedding section ----

def readme_embedding():
    text = open(os.path.join(REPO, "README.md")).read()
    sec = text[text.index("## Embedding"):]
    sec = sec[:sec.index("\n## ", 1)]
    code = re.search(r"```c\n(.*?)```", sec, re.S).group(1)
    cmds = re.search(r"```sh\n(.*?)```", sec, re.S).group(1).strip().split("\n")
    return sec, code, cmds


def test_readme_snippet_compiles_from_the_top_of_the_clone(tmp_path):
    sec, code, cmds = readme_embedding()
    assert "top of the clone" in sec
    local = [c for c in cmds if "build/libberth.a" in c]
    assert len(local) == 1, cmds
    # the top of a clone after `make`: include/ and build/ (the build under test)
    top = tmp_path / "clone"
    top.mkdir()
    os.symlink(os.path.join(REPO, "include"), str(top / "include"))
    os.symlink(BUILD, str(top / "build"))
    (top / "hello.c").write_text(code)
    cmd = local[0]
    extra = sanitizer_flags()
    if extra:
        cmd += " " + " ".join(extra)
    run(["sh", "-c", cmd], cwd=str(top))
    assert os.access(str(top / "hello"), os.X_OK)


def test_readme_snippet_compiles_through_pkg_config(installed, tmp_path):
    dest, env = installed
    _, code, cmds = readme_embedding()
    viapc = [c for c in cmds if "pkg-config" in c]
    assert len(viapc) == 1, cmds
    (tmp_path / "hello.c").write_text(code)
    cmd = viapc[0]
    extra = sanitizer_flags()
    if extra:
        cmd += " " + " ".join(extra)
    run(["sh", "-c", cmd], cwd=str(tmp_path), env=env)
    needed = run(["readelf", "-d", str(tmp_path / "hello")])
    assert "libberth.so.2" in needed
