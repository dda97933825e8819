"""
SCGI through the real daemon, to an application written to the SCGI
specification (upstream_apps.py: it refuses a header that is not a
netstring of NUL-terminated pairs with CONTENT_LENGTH first and SCGI
1).  One connection per request; the response is the application's
bytes until it closes, checked as a CGI script's output is: a bad
header, an application that is down or silent, is answered 43 (Gemini:
PROXY ERROR) with the reason logged; one that fails after its header
leaves the body cut (no close_notify, " cut" in the log).
"""
import pytest

from conftest import gemini, wait_for
from nodes import make_node  # noqa: F401 (a fixture)
from upstreams import log_lines, sock_dir, upstream_app  # noqa: F401


@pytest.fixture
def app(make_node, sock_dir, upstream_app):
    """A front capsuled with the application at /app/ (a UNIX socket)."""
    sock = sock_dir / "scgi.sock"
    upstream_app("scgi", f"unix:{sock}")
    s = make_node("front", host_extra=f"scgi = /app/ unix:{sock}\n"
                  "upstream_timeout = 1\n").start()
    s.sock = sock
    return s


def env_of(r):
    assert r.status == 20, (r.status, r.meta)
    return dict(l.split("=", 1) for l in r.body.decode().splitlines())


def test_the_header_is_a_netstring_of_cgis_variables(app):
    env = env_of(app.get("/app/env?a%20b"))
    # the application checked CONTENT_LENGTH first and SCGI 1: it
    # answers 59 otherwise; no body is sent
    assert env["CONTENT_LENGTH"] == "0" and env["SCGI"] == "1"
    assert env["SCGI_BODY_BYTES"] == "0"
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["SERVER_NAME"] == "localhost"
    assert env["SERVER_PORT"] == str(app.port)
    assert env["GEMINI_URL"] == app.url("/app/env?a%20b")
    assert env["SCRIPT_NAME"] == "/app", "no file: the mount point"
    assert env["PATH_INFO"] == "/env"
    assert env["QUERY_STRING"] == "a%20b"
    assert env["DOCUMENT_ROOT"] == str(app.root)
    assert "PATH" not in env, "CGI's own PATH is not an application's"


def test_the_application_answers_any_status(app):
    for status in (10, 30, 44, 51, 59, 60):
        r = app.get(f"/app/status?{status}")
        assert (r.status, r.meta) == (status, f"meta of {status}")
        assert r.body == b"" and r.close_notify


def test_a_prefix_without_its_slash_goes_to_it(app):
    r = app.get("/app?q")
    assert (r.status, r.meta) == (31, "/app/?q")


def test_a_large_body_is_whole(make_node, sock_dir, upstream_app):
    sock = sock_dir / "scgi.sock"
    upstream_app("scgi", f"unix:{sock}")
    s = make_node("front", server_extra="cgi_max_output = 4000000",
                  host_extra=f"scgi = /app/ unix:{sock}\n").start()
    r = s.get("/app/big?3000000")
    assert r.status == 20 and len(r.body) == 3000000 and r.close_notify


@pytest.mark.parametrize("path,why", [
    ("/longmeta", "meta over 1024 bytes"),
    ("/nolf", "header line is too long"),
    ("/status?99", "header does not start with a status 10 to 69"),
    ("/status?05", "header does not start with a status 10 to 69"),
    ("/stall", "timed out before its header"),
    ("/nothing-at-all", None),
])
def test_a_bad_header_is_43_with_the_reason_logged(app, path, why):
    r = app.get(path if path.startswith("/app") else "/app" + path)
    if why is None:     # the application's own 51: relayed
        assert r.status == 51
        return
    assert r.status == 43 and r.body == b"" and r.close_notify
    assert wait_for(lambda: log_lines(app, why)), why


def cut_short(s, path, why):
    r = s.get(path)
    assert r.status == 20 and r.body.startswith(b"partial\n")
    assert not r.close_notify, "a body cut short ends without close_notify"
    assert wait_for(lambda: log_lines(s, why)), why
    assert wait_for(lambda: any(l.endswith(" cut") for l in
                                log_lines(s, f"{path}\" 20")))


def test_a_body_that_never_ends_is_cut(app):
    cut_short(app, "/app/hold", "stalled: nothing for 1 s after its "
              "header; cut")


def test_a_reset_mid_body_is_cut(make_node, upstream_app):
    # over TCP: a UNIX socket has no reset, and SCGI's end is the close
    from conftest import free_port
    port = free_port()
    upstream_app("scgi", port)
    s = make_node("front", host_extra=(
        f"scgi = /app/ 127.0.0.1:{port}\n")).start()
    cut_short(s, "/app/reset", "reading: Connection reset by peer after "
              "its header; cut")


def test_a_trickle_is_cut_at_cgi_timeout(app):
    # each line comes within upstream_timeout, but the whole response
    # must come within cgi_timeout (2 s here), as a CGI script's
    r = app.get("/app/trickle")
    assert r.status == 20 and r.body.startswith(b"tick\n")
    assert not r.close_notify
    assert wait_for(lambda: log_lines(app, "ran out of cgi_timeout"))


def test_an_application_that_is_down_is_43(make_node, sock_dir):
    s = make_node("front", host_extra=(
        f"scgi = /app/ unix:{sock_dir}/nobody.sock\n"
        "scgi = /tcp/ 127.0.0.1:1\n")).start()
    for path in ("/app/env", "/tcp/env"):
        r = s.get(path)
        assert r.status == 43 and r.close_notify
    assert wait_for(lambda: log_lines(s, "cannot connect: No such file"))
    assert wait_for(lambda: log_lines(s, "cannot connect: Connection "
                                      "refused"))


def test_over_tcp_too(make_node, upstream_app):
    from conftest import free_port
    port = free_port()
    upstream_app("scgi", port)
    s = make_node("front", host_extra=(
        f"scgi = /app/ 127.0.0.1:{port}\n")).start()
    assert env_of(s.get("/app/env"))["SCRIPT_NAME"] == "/app"
    r = gemini(s.port, s.url("/app/status?20"))
    assert r.status == 20 and r.close_notify
