"""The `berth` command line itself (issue 8): usage errors are one line that
names the argument and the allowed range, `berth help CMD` is `berth CMD
--help`, the startup line of `berth serve` lists the IPv6 URLs of a
dual-stack socket, and the man page documents every option each command's
--help lists (so it cannot fall behind the code)."""
import http.client
import os
import re
import shutil
import socket
import subprocess

import pytest

from conftest import run_berth

COMMANDS = ("serve", "echo-server", "echo", "app-server", "app-client")
MAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "man", "berth.1")


def usage_error(args):
    """Runs berth with args; it must exit 2 with exactly one line on stderr
    and nothing on stdout.  Returns that line."""
    p = run_berth(*args, timeout=10)
    err = p.stderr.decode()
    assert p.returncode == 2, (args, p)
    assert p.stdout == b"", (args, p)
    assert err.count("\n") == 1 and err.endswith("\n"), (args, err)
    return err.rstrip("\n")


# ---------------------------------------------------------------- usage errors

@pytest.mark.parametrize("args,message", [
    (["serve", "0", "8080"], "unexpected argument 8080"),
    (["serve", "-b", "127.0.0.1", "0", "extra"], "unexpected argument extra"),
    (["serve", "70000"], "port must be 0..65535: 70000"),
    (["serve", "notaport"], "port must be 0..65535: notaport"),
    (["serve", "--port", "70000"], "port must be 0..65535: 70000"),
    (["serve", "--port=-1"], "port must be 0..65535: -1"),
    (["serve", "--workers", "0"], "--workers must be 1..256: 0"),
    (["serve", "--workers", "257"], "--workers must be 1..256: 257"),
    (["serve", "--max-conn", "0"], "--max-conn must be 1..10000000: 0"),
    (["serve", "--max-header", "100"], "--max-header must be 256..1M bytes: 100"),
    (["serve", "--max-header", "2M"], "--max-header must be 256..1M bytes: 2M"),
    (["serve", "--header-timeout", "0"], "--header-timeout must be 0.001..86400 seconds: 0"),
    (["serve", "--idle-timeout", "86401"], "--idle-timeout must be 0.001..86400 seconds: 86401"),
    (["serve", "--send-timeout", "soon"], "--send-timeout must be 0.001..86400 seconds: soon"),
    (["serve", "-p", "HTTP/2"], "--protocol must be HTTP/1.0 or HTTP/1.1: HTTP/2"),
    (["serve", "--bogus"], "unknown option --bogus"),
    (["serve", "--bogus=1"], "unknown option --bogus"),
    (["serve", "-Z"], "unknown option -Z"),
    (["serve", "-qZ"], "unknown option -Z"),
    (["serve", "--port"], "option --port needs a value"),
    (["serve", "-d"], "option -d needs a value"),
    (["serve", "--quiet=yes"], "option --quiet takes no value"),
])
def test_serve_usage_errors(args, message):
    assert usage_error(args) == "berth serve: %s; try 'berth serve --help'" % message


def test_ambiguous_abbreviation_names_the_candidates():
    err = usage_error(["serve", "--i", "x"])
    assert err.startswith("berth serve: ambiguous option --i ("), err
    assert "--index" in err and "--idle-timeout" in err and "try 'berth serve --help'" in err


@pytest.mark.parametrize("cmd", COMMANDS)
def test_unknown_option_is_one_line_for_every_command(cmd):
    """No glibc line before it and no whole usage text after it."""
    for bad, name in (("--bogus", "--bogus"), ("-Z", "-Z")):
        assert usage_error([cmd, bad]) == \
            "berth %s: unknown option %s; try 'berth %s --help'" % (cmd, name, cmd)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_missing_value_is_one_line_for_every_command(cmd):
    assert usage_error([cmd, "--port"]) == \
        "berth %s: option --port needs a value; try 'berth %s --help'" % (cmd, cmd)


def test_top_level_usage_errors():
    assert usage_error(["frobnicate"]) == "berth: unknown command 'frobnicate'; try 'berth --help'"
    assert usage_error(["--bogus"]) == "berth: unknown option --bogus; try 'berth --help'"
    assert usage_error(["help", "frobnicate"]) == \
        "berth: unknown command 'frobnicate'; try 'berth --help'"
    assert usage_error(["help", "serve", "echo"]) == \
        "berth: unexpected argument echo; try 'berth --help'"
    p = run_berth(timeout=10)
    assert p.returncode == 2 and b"usage: berth" in p.stderr and p.stdout == b""


# ---------------------------------------------------------------- help

@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_command_is_the_commands_help(cmd):
    direct = run_berth(cmd, "--help", timeout=10)
    via = run_berth("help", cmd, timeout=10)
    assert direct.returncode == 0 and direct.stdout.startswith(b"usage: berth " + cmd.encode())
    assert (via.returncode, via.stdout, via.stderr) == (0, direct.stdout, b"")


def test_top_level_help_lists_commands_and_help():
    for args in (["--help"], ["help"], ["-h"], ["help", "help"], ["help", "--help"]):
        p = run_berth(*args, timeout=10)
        assert p.returncode == 0 and p.stderr == b""
        out = p.stdout.decode()
        for cmd in COMMANDS:
            assert re.search(r"^  %s " % re.escape(cmd), out, re.M), (cmd, out)
        assert "berth help COMMAND" in out


# ---------------------------------------------------------------- startup URLs

def have_ipv6_loopback():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def startup_urls(srv):
    """The URLs the server printed before its first request."""
    return re.findall(r"http://\S+?/", srv.output())


def get(host, port):
    c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        c.request("GET", "/hello.txt")
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


@pytest.fixture
def root(tmp_path):
    (tmp_path / "hello.txt").write_bytes(b"hi\n")
    return tmp_path


@pytest.mark.skipif(not have_ipv6_loopback(), reason="no IPv6 loopback here")
def test_dual_stack_startup_lists_ipv6_urls(server, root):
    srv = server("serve", "0", "-d", str(root), "-q")
    assert srv.wait_for(r"http://\[::1\]:%d/" % srv.port, timeout=10), srv.output()
    urls = startup_urls(srv)
    assert "http://127.0.0.1:%d/" % srv.port in urls, urls
    # a link-local address needs a %zone no browser takes: never listed
    assert not any(re.match(r"http://\[fe[89ab]", u, re.I) for u in urls), urls
    # every IPv6 URL printed answers (the socket really is dual-stack)
    for u in urls:
        m = re.match(r"http://\[([0-9a-fA-F:.]+)\]:(\d+)/$", u)
        if m:
            assert get(m.group(1), int(m.group(2))) == (200, b"hi\n"), u
    assert get("127.0.0.1", srv.port) == (200, b"hi\n")


@pytest.mark.skipif(not have_ipv6_loopback(), reason="no IPv6 loopback here")
def test_bind_ipv6_wildcard_prints_bracketed_urls(server, root):
    srv = server("serve", "0", "-b", "::", "-d", str(root), "-q")
    assert srv.wait_for(r"http://\[::1\]:%d/" % srv.port, timeout=10), srv.output()
    first = srv.output().splitlines()[0]
    assert first == "Serving HTTP on :: port %d (http://[::]:%d/) ..." % (srv.port, srv.port)
    urls = startup_urls(srv)
    assert "http://127.0.0.1:%d/" % srv.port in urls, urls  # "::" takes IPv4 too
    assert get("::1", srv.port) == (200, b"hi\n")


@pytest.mark.skipif(not have_ipv6_loopback(), reason="no IPv6 loopback here")
def test_bind_ipv6_loopback_prints_one_bracketed_url(server, root):
    srv = server("serve", "0", "-b", "::1", "-d", str(root), "-q")
    first = srv.output().splitlines()[0]
    assert first == "Serving HTTP on ::1 port %d (http://[::1]:%d/) ..." % (srv.port, srv.port)
    assert get("::1", srv.port) == (200, b"hi\n")


def test_bind_ipv4_wildcard_lists_no_ipv6(server, root):
    srv = server("serve", "0", "-b", "0.0.0.0", "-d", str(root), "-q")
    assert srv.wait_for(r"http://127\.0\.0\.1:%d/" % srv.port, timeout=10), srv.output()
    assert not [u for u in startup_urls(srv) if "[" in u], srv.output()


# ---------------------------------------------------------------- the man page

def help_options(cmd):
    """Every option an option line of `berth CMD --help` defines: the lines
    that start (after indentation) with a dash, up to the description."""
    p = run_berth(cmd, "--help", timeout=10)
    assert p.returncode == 0
    opts = set()
    for line in p.stdout.decode().splitlines():
        m = re.match(r"^\s+(-\S.*?)(?:\s{2,}|$)", line)
        if m:
            opts.update(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", m.group(1)))
    return opts


def man_text():
    with open(MAN, encoding="utf-8") as f:
        src = f.read()
    # roff escapes to plain text: \- is a dash, \fB..\fR are fonts, \& nothing
    return re.sub(r"\\f[BIRP]|\\f\(..|\\&", "", src.replace("\\-", "-"))


def man_section(text, cmd):
    """The text of the subsection '.SS berth CMD ...' up to the next one."""
    m = re.search(r"^\.SS \"?berth %s(?![\w-]).*?$(.*?)(?=^\.S[SH] |\Z)" % re.escape(cmd), text,
                  re.M | re.S)
    assert m, "man/berth.1 has no '.SS berth %s' subsection" % cmd
    return m.group(1)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_man_page_documents_every_option(cmd):
    opts = help_options(cmd)
    assert len(opts) >= 6 and "--help" in opts, opts  # the parse found the option lines
    section = man_section(man_text(), cmd)
    missing = sorted(o for o in opts
                     if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), section))
    assert not missing, "man/berth.1 does not document %s for berth %s" % (missing, cmd)


def test_man_page_has_the_usual_sections():
    text = man_text()
    for sh in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "SIGNALS", "FILES",
               "EXAMPLES", "SEE ALSO"):
        assert re.search(r'^\.SH "?%s"?\s*$' % sh, text, re.M), sh
    man_section(text, "help")
    for sig in ("SIGINT", "SIGTERM", "SIGHUP"):
        assert sig in text


@pytest.mark.skipif(not shutil.which("groff"), reason="no groff")
def test_man_page_renders_without_warnings():
    p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", MAN], capture_output=True,
                       timeout=30)
    assert p.returncode == 0 and p.stderr == b"", p.stderr


def readme_commands():
    """(command, options) for every berth command line in README.md's sh blocks."""
    readme = os.path.join(os.path.dirname(MAN), "..", "README.md")
    with open(readme, encoding="utf-8") as f:
        blocks = re.findall(r"^```sh\n(.*?)^```", f.read(), re.M | re.S)
    found = []
    for line in "\n".join(blocks).splitlines():
        line = line.split(" #", 1)[0]
        for part in re.split(r"[|&;]", line):
            words = part.split()
            if len(words) >= 2 and words[0] == "berth" and words[1] in COMMANDS:
                opts = {w.split("=", 1)[0] for w in words[2:] if re.match(r"--?[A-Za-z]", w)}
                found.append((words[1], opts))
    return found


def test_readme_examples_use_documented_options():
    found = readme_commands()
    assert {cmd for cmd, _ in found} == set(COMMANDS), found
    text = man_text()
    for cmd, opts in found:
        section = man_section(text, cmd)
        for o in opts:
            assert re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), section), (cmd, o)
