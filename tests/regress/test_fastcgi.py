"""
FastCGI through the real daemon, to Debian's fcgiwrap (the CGI wrapper
gmid and nginx users run) and to a responder that misbehaves on purpose
(upstream_apps.py).  FastCGI specification 1.0: the Responder role,
BEGIN_REQUEST with FCGI_KEEP_CONN, PARAMS, an empty STDIN, STDOUT and
STDERR records, END_REQUEST.  The responder's STDOUT is a Gemini
response, checked as a CGI script's is: a bad header, a responder that
is down or silent, is answered 43 (Gemini: PROXY ERROR) and logged.
"""
import concurrent.futures
import os
import subprocess

import pytest

from conftest import ROOT, gemini, wait_for
from nodes import make_node  # noqa: F401 (a fixture)
from upstreams import (fcgiwrap, log_lines, need_fcgiwrap,  # noqa: F401
                       sock_dir, upstream_app)

pytestmark = need_fcgiwrap()

CAPSULE = ROOT / "capsule"

# prints the FastCGI connections fcgiwrap (its parent) holds: the inode
# of each socket it has open, its listening socket's among them
CONNS_SCRIPT = """#!/bin/sh
printf '20 text/plain\\r\\n'
for f in /proc/$PPID/fd/*; do readlink "$f"; done | grep '^socket:' | sort
"""

# what test_cgi's env script is, so the two can be compared
CGI_VARS = {"GATEWAY_INTERFACE", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
            "SERVER_NAME", "SERVER_PORT", "GEMINI_URL", "GEMINI_URL_PATH",
            "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR",
            "REMOTE_HOST", "TLS_VERSION", "TLS_CIPHER"}


def env_of(r):
    assert r.status == 20, (r.status, r.meta)
    return dict(line.split("=", 1) for line in
                r.body.decode().replace("\r\n", "\n").splitlines()
                if "=" in line)


@pytest.fixture(scope="module", autouse=True)
def strike_built():
    subprocess.run(["make", "-s", "capsule/cgi-bin/strike"], cwd=ROOT,
                   check=True)


def front(make_node, sock, name="front", root=None, extra=""):
    return make_node(name, root=root, host_extra=(
        f"fastcgi = /cgi-bin/ unix:{sock}\n"
        "upstream_timeout = 1\n" + extra)).start()


def test_variables_are_cgis_and_a_wrappers(make_node, sock_dir, fcgiwrap):
    # FastCGI 3.4 / RFC 3875: the same variables a CGI script gets, and
    # DOCUMENT_ROOT and SCRIPT_FILENAME for a wrapper to find the script
    sock = sock_dir / "fcgiwrap.sock"
    fcgiwrap(sock)
    s = front(make_node, sock)
    r = gemini(s.port, s.url("/cgi-bin/env/mental-health/x%20y?a%20b&c=%2F"))
    env = env_of(r)
    assert CGI_VARS <= set(env)
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["SERVER_PROTOCOL"] == "GEMINI"
    assert env["SERVER_NAME"] == "localhost"
    assert env["SERVER_PORT"] == str(s.port)
    assert env["GEMINI_URL"] == s.url(
        "/cgi-bin/env/mental-health/x%20y?a%20b&c=%2F")
    assert env["SCRIPT_NAME"] == "/cgi-bin/env"
    assert env["PATH_INFO"] == "/mental-health/x y"
    assert env["QUERY_STRING"] == "a%20b&c=%2F"
    assert env["REMOTE_ADDR"] == "127.0.0.0", "log_ip truncated, as CGI"
    assert env["TLS_VERSION"] == "TLSv1.3"
    assert env["DOCUMENT_ROOT"] == str(s.root)
    assert env["SCRIPT_FILENAME"] == str(s.root / "cgi-bin" / "env")
    assert "AUTH_TYPE" not in env, "no certificate, no AUTH_TYPE"
    lines = log_lines(s, "/cgi-bin/env/mental-health")
    assert any(l.endswith(f"upstream=fastcgi:unix:{sock}") for l in lines), \
        "the access log says which upstream answered"


def test_strike_counter_answers_as_it_does_under_cgi(make_node, sock_dir,
                                                     fcgiwrap):
    sock = sock_dir / "fcgiwrap.sock"
    fcgiwrap(sock)
    cgi = make_node("cgi", root=CAPSULE).start()
    fcgi = front(make_node, sock, root=CAPSULE)
    for path in ("/cgi-bin/strike", "/cgi-bin/strike/mental-health",
                 "/cgi-bin/strike/nope"):
        a = gemini(cgi.port, cgi.url(path))
        b = gemini(fcgi.port, fcgi.url(path))
        if b.body != a.body:        # the day turned between the two
            a = gemini(cgi.port, cgi.url(path))
        assert (b.status, b.meta) == (a.status, a.meta), path
        assert b.status in (20, 51) and b.close_notify
        # fcgiwrap "fixes" line ends up to the first blank line (it takes
        # them for CGI headers): CRLF there, which gemtext allows
        assert b.body.replace(b"\r\n", b"\n") == a.body, path


def test_a_responder_that_is_down_is_43_and_logged(make_node, sock_dir,
                                                   fcgiwrap):
    sock = sock_dir / "fcgiwrap.sock"
    fw = fcgiwrap(sock)
    s = front(make_node, sock)
    assert s.get("/cgi-bin/env").status == 20
    fw.stop()
    r = s.get("/cgi-bin/env")
    assert r.status == 43 and r.close_notify and r.body == b""
    assert wait_for(lambda: log_lines(s, "cannot connect: Connection "
                                      "refused"))


def test_keepalive_reuses_one_connection(make_node, sock_dir, fcgiwrap):
    # FCGI_KEEP_CONN (5.1): with keepalive=1 one worker's requests all go
    # over one connection, as fcgiwrap's own descriptors show; without,
    # one connection each.  fcgiwrap -c 1 serves one connection at a
    # time: the kept one holds it, so the other node runs after.
    sock = sock_dir / "fcgiwrap.sock"
    fcgiwrap(sock)
    root = sock_dir / "root"
    root.mkdir()
    (root / "index.gmi").write_text("# root\n")
    (root / "cgi-bin").mkdir()
    script = root / "cgi-bin" / "conns"
    script.write_text(CONNS_SCRIPT)
    script.chmod(0o755)
    for name, keep, want in (("kept", " keepalive=1", 2),
                             ("fresh", "", 11)):
        s = make_node(name, root=root, workers=1, host_extra=(
            f"fastcgi = /cgi-bin/ unix:{sock}{keep}\n")).start()
        seen = set()
        for _ in range(10):
            r = s.get("/cgi-bin/conns")
            assert r.status == 20, r.meta
            seen |= set(r.body.split())
        # the listening socket, and one connection or ten
        assert len(seen) == want, (name, seen)
        s.stop()        # its kept connection goes with its worker


@pytest.mark.parametrize("path,why", [
    ("/junk", "a record that is not FastCGI version 1"),
    ("/otherid", "a record for another request"),
    ("/overloaded", "the responder refused the request: overloaded"),
    ("/longmeta", "meta over 1024 bytes"),
    ("/nolf", "header line is too long"),
    ("/status?99", "header does not start with a status 10 to 69"),
    ("/stall", "timed out before its header"),
])
def test_a_responder_that_misbehaves_is_43_with_the_reason_logged(
        make_node, sock_dir, upstream_app, path, why):
    sock = sock_dir / "bad.sock"
    upstream_app("fastcgi", f"unix:{sock}")
    s = front(make_node, sock)
    r = s.get("/cgi-bin" + path)
    assert r.status == 43 and r.body == b"" and r.close_notify
    assert wait_for(lambda: log_lines(s, why)), why


def test_a_reset_after_the_header_cuts_the_body(make_node, sock_dir,
                                                upstream_app):
    sock = sock_dir / "bad.sock"
    upstream_app("fastcgi", f"unix:{sock}")
    s = front(make_node, sock)
    r = s.get("/cgi-bin/reset")
    assert r.status == 20 and not r.close_notify, \
        "a body cut short ends without close_notify"
    assert wait_for(lambda: any(l.endswith(" cut") for l in
                                log_lines(s, "/cgi-bin/reset")))


def test_stderr_records_are_logged_escaped(make_node, sock_dir,
                                           upstream_app):
    sock = sock_dir / "bad.sock"
    upstream_app("fastcgi", f"unix:{sock}")
    s = front(make_node, sock)
    r = s.get("/cgi-bin/stderr")
    assert (r.status, r.body) == (20, b"ok\n")
    assert wait_for(lambda: log_lines(s, "stderr: bad "))
    line = log_lines(s, "stderr: bad ")[0]
    assert "\x1b" not in line and "\x07" not in line and "red" in line


def test_a_stderr_flood_holds_neither_the_worker_nor_the_reader(
        make_node, sock_dir, upstream_app):
    # Records with nothing for the reader, as fast as the responder can
    # write them: the one worker still answers others meanwhile, and the
    # request ends at cgi_timeout (43: no header came) with the reason.
    sock = sock_dir / "bad.sock"
    upstream_app("fastcgi", f"unix:{sock}")
    s = make_node("front", workers=1, cgi_timeout=2,
                  host_extra=f"fastcgi = /cgi-bin/ unix:{sock}\n").start()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        flood = pool.submit(s.get, "/cgi-bin/stderrflood")
        assert wait_for(lambda: log_lines(s, "stderr: eeee"))
        assert s.get("/hello.txt").status == 20, \
            "the worker answers others while the responder floods"
        r = flood.result(timeout=30)
    assert r.status == 43 and r.body == b""
    assert wait_for(lambda: log_lines(s, "timed out before its header"))
    assert wait_for(lambda: log_lines(s, "stderr: more lines dropped"))


def test_output_over_cgi_max_output_is_cut(make_node, sock_dir,
                                           upstream_app):
    sock = sock_dir / "bad.sock"
    upstream_app("fastcgi", f"unix:{sock}")
    s = make_node("front", server_extra="cgi_max_output = 65536",
                  host_extra=f"fastcgi = /cgi-bin/ unix:{sock}\n").start()
    r = s.get("/cgi-bin/big?1000000")
    assert r.status == 20 and 60000 < len(r.body) <= 65536
    assert not r.close_notify
    assert wait_for(lambda: log_lines(s, "output over cgi_max_output"))


def test_titan_uploads_under_the_path_are_refused(make_node, sock_dir,
                                                  fcgiwrap):
    # the upstream's path is the application's: capsuled takes no upload
    # there, even where a titan rule would (a later issue may)
    sock = sock_dir / "fcgiwrap.sock"
    fcgiwrap(sock)
    lst = sock_dir / "uploaders"
    lst.write_text("")
    s = front(make_node, sock, extra=f"titan = /cgi-bin/ {lst}\n")
    r = gemini(s.port, f"titan://localhost:{s.port}/cgi-bin/x.gmi;size=3;"
               "mime=text/gemini\r\nabc".encode())
    assert r.status == 50 and "upstream" in r.meta
