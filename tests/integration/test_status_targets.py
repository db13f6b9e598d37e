"""--status with request targets that are not UTF-8, or whose UTF-8 is cut
by the table's 47-byte target column: every open connection must still be
listed (jansson refuses a string that is not UTF-8, and one such row used to
drop the worker's whole table, so any client could blank the page)."""
import json

from test_metrics import HOST, connect, make_root, poll, read_response, start, status_doc


def test_status_lists_connections_whatever_their_targets(tmp_path):
    root = make_root(tmp_path)
    srv = start(root)
    held = []
    try:
        targets = [b"/a.txt?\xff\xfe",                   # not UTF-8
                   b"/a.txt?x" + "\u00e9".encode() * 30,  # UTF-8, cut inside a character
                   b"/a.txt?plain"]
        for t in targets:
            s = connect(srv.port)
            s.sendall(b"GET " + t + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(s)[0] == 200
            held.append(s)
        ports = [s.getsockname()[1] for s in held]

        def rows():
            by_port = {r["peer_port"]: r for r in status_doc(srv.port)["connections"]}
            got = [by_port.get(p) for p in ports]
            return got if all(got) else None
        got = poll(rows, "every held connection in the table")
        assert got[2]["target"] == "/a.txt?plain"
        # the valid part is kept, the rest shown as '?'; never more than the column
        assert got[0]["target"] == "/a.txt???"
        t1 = got[1]["target"]
        assert t1.startswith("/a.txt?x\u00e9") and len(t1.encode()) <= 47
        assert set(t1[len("/a.txt?x"):]) <= {"\u00e9", "?"}
        json.dumps(got, ensure_ascii=False).encode("utf-8")  # all of it valid UTF-8
    finally:
        for s in held:
            s.close()
        srv.kill()
