"""
Lingering close by time (issue 11).  A client that sends more than the
request line (200 KB of it) must still read its 59: the server drains
what comes after the response until the client closes or a short time
limit passes, since a close with unread input resets the connection and
the reset can throw the response away before the client has read it.
"""
import time

from conftest import read_response, tls_connect

REPEAT = 30


def test_a_200kb_request_line_always_gets_its_59(make_server):
    # Gemini: a request line is at most 1024 bytes; longer is 59
    s = make_server().start()
    line = b"gemini://localhost/" + b"a" * (200 * 1024) + b"\r\n"
    statuses = []
    for _ in range(REPEAT):
        with tls_connect(s.port) as c:
            c.sendall(line)
            statuses.append(read_response(c).status)
    assert statuses == [59] * REPEAT


def test_a_client_that_sends_for_ever_is_closed_at_the_limit(make_server):
    # the linger is bounded: a sender that never stops is cut off
    s = make_server().start()
    with tls_connect(s.port) as c:
        c.sendall(b"gemini://localhost/" + b"a" * 2000 + b"\r\n")
        t = time.time()
        c.settimeout(10)
        try:
            while time.time() - t < 10:
                c.sendall(b"x" * 16384)
        except OSError:
            pass
        assert time.time() - t < 8, "closed within the linger limits"
    assert s.get("/hello.txt").status == 20
