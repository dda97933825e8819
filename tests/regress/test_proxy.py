"""
PROXY protocol (HAProxy's proxy-protocol.txt, v1 and v2) on a listener
marked "proxy", through the real daemon: the client named in the header
is the one logged; the header is read byte-exactly so the TLS handshake
behind it (often in the same segment) is intact; a proxy listener refuses
a connection without a valid header; a plain listener never trusts one.
"""
import socket
import ssl
import struct
import time

import pytest

from conftest import client_context, free_port, parse_response, wait_for

SIG = b"\r\n\r\n\x00\r\nQUIT\n"
NO_HEADER = "no valid PROXY header on a proxy listener; closed"  # server.c


def v1(src, dst, sport, dport):
    fam = "TCP6" if ":" in src else "TCP4"
    return f"PROXY {fam} {src} {dst} {sport} {dport}\r\n".encode()


def v2(src, dst, sport, dport, tlvs=b"", command=0x21):
    if ":" in src:
        fam = 0x21
        addrs = (socket.inet_pton(socket.AF_INET6, src) +
                 socket.inet_pton(socket.AF_INET6, dst))
    else:
        fam = 0x11
        addrs = socket.inet_aton(src) + socket.inet_aton(dst)
    body = addrs + struct.pack("!HH", sport, dport) + tlvs
    return SIG + bytes([command, fam]) + struct.pack("!H", len(body)) + body


def v2_local():
    return SIG + bytes([0x20, 0x00]) + struct.pack("!H", 0)


def exchange(port, header, request, pieces=1, pause=0.0, sni="localhost",
             timeout=10):
    """Send header and the TLS ClientHello in the same write (as a
    balancer does), or the header in pieces first; then one request.
    TLS is driven over memory BIOs so nothing is sent separately that a
    real balancer would have sent together."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client_context().wrap_bio(inc, out, server_hostname=sni)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    if pieces == 1:
        sock.sendall(header + hello)
    else:
        step = max(1, len(header) // pieces)
        for i in range(0, len(header), step):
            sock.sendall(header[i:i + step])
            time.sleep(pause)
        sock.sendall(hello)
    try:
        return _finish(sock, tls, inc, out, request)
    finally:
        sock.close()


def _pump(sock, inc):
    data = sock.recv(65536)
    if not data:
        inc.write_eof()
    else:
        inc.write(data)
    return bool(data)


def _finish(sock, tls, inc, out, request):
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(out.read())
            if not _pump(sock, inc):
                raise ConnectionError("closed during the handshake")
    tls.write(request)
    sock.sendall(out.read())
    data = bytearray()
    while True:
        try:
            chunk = tls.read(65536)
            if not chunk:
                break
            data += chunk
        except ssl.SSLWantReadError:
            sock.sendall(out.read())
            if not _pump(sock, inc):
                break
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
    return parse_response(bytes(data))


@pytest.fixture
def proxied(make_server, tmp_path):
    pport = free_port()
    log = tmp_path / "access.log"
    # full addresses: what is checked is which client is named
    s = make_server(access_log=log,
                    server_extra=f"listen = 127.0.0.1:{pport} proxy\n"
                    "log_ip = full")
    s.pport = pport
    s.access = log
    return s.start()


def logged(s, addr, path, timeout=3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in s.access.read_text().splitlines():
            if path in line:
                return line.split(" ")[1] == addr
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("make", [v1, v2], ids=["v1", "v2"])
def test_the_client_in_the_header_is_the_one_logged(proxied, make):
    s = proxied
    path = f"/hello.txt?{make.__name__}"
    r = exchange(s.pport, make("203.0.113.7", "127.0.0.1", 40000, s.port),
                 s.url(path).encode() + b"\r\n")
    assert r.status == 20 and r.body == b"hello\n"
    assert logged(s, "203.0.113.7", path), s.access.read_text()


@pytest.mark.parametrize("make", [v1, v2], ids=["v1", "v2"])
def test_ipv6_clients(proxied, make):
    s = proxied
    path = f"/hello.txt?six-{make.__name__}"
    r = exchange(s.pport, make("2001:db8::7", "2001:db8::1", 40000, s.port),
                 s.url(path).encode() + b"\r\n")
    assert r.status == 20
    assert logged(s, "2001:db8::7", path), s.access.read_text()


def test_a_header_in_single_bytes_with_pauses(proxied):
    s = proxied
    hdr = v1("198.51.100.9", "127.0.0.1", 1234, s.port)
    r = exchange(s.pport, hdr, s.url("/hello.txt?slow").encode() + b"\r\n",
                 pieces=len(hdr), pause=0.005)
    assert r.status == 20
    assert logged(s, "198.51.100.9", "/hello.txt?slow")


def test_v2_tlvs_are_skipped_unread(proxied):
    s = proxied
    tlvs = b"\x04" + struct.pack("!H", 2000) + b"\xee" * 2000  # NOOP
    hdr = v2("192.0.2.44", "127.0.0.1", 555, s.port, tlvs)
    r = exchange(s.pport, hdr, s.url("/hello.txt?tlv").encode() + b"\r\n",
                 pieces=7, pause=0.01)
    assert r.status == 20
    assert logged(s, "192.0.2.44", "/hello.txt?tlv")


def test_v2_local_keeps_the_balancers_own_address(proxied):
    s = proxied
    url = f"gemini://localhost:{s.pport}/hello.txt?local"
    r = exchange(s.pport, v2_local(), url.encode() + b"\r\n")
    assert r.status == 20
    assert logged(s, "127.0.0.1", "/hello.txt?local")


def test_the_port_the_client_connected_to_decides_53(proxied):
    # The balancer listens on 1965; the node on another port.  A URL
    # without a port is for 1965: with the header's destination port
    # that is us, not a proxy request.
    s = proxied
    hdr = v2("192.0.2.1", "127.0.0.1", 40000, 1965)
    assert exchange(s.pport, hdr, b"gemini://localhost/hello.txt\r\n"
                    ).status == 20
    hdr = v2("192.0.2.1", "127.0.0.1", 40000, 1966)
    assert exchange(s.pport, hdr, b"gemini://localhost/hello.txt\r\n"
                    ).status == 53


def refused(s, first, within=1.0):
    """Send bytes; True when the server closes without answering within
    `within` seconds (well under request_timeout = 3, so a header taken
    as valid and a handshake that later times out does not count) and
    logs the refusal once."""
    before = s.log().count(NO_HEADER)
    with socket.create_connection(("127.0.0.1", s.pport), timeout=10) as c:
        c.sendall(first)
        t = time.time()
        try:
            closed = c.recv(100) == b""
        except ConnectionResetError:
            closed = True
        if not closed or time.time() - t > within:
            return False
    # logged before the close, so it is there already; once, not twice
    wait_for(lambda: s.log().count(NO_HEADER) > before, 1)
    return s.log().count(NO_HEADER) == before + 1


def test_no_header_is_refused(proxied):
    s = proxied
    with pytest.raises((ConnectionError, ssl.SSLError)):
        exchange(s.pport, b"", s.url("/").encode() + b"\r\n")
    assert NO_HEADER in s.log()


@pytest.mark.parametrize("bad", [
    b"PROXY TCP4 192.0.2.1 127.0.0.1 1 2\n",        # bare LF
    b"PROXY TCP4 999.0.2.1 127.0.0.1 1 2\r\n",
    b"PROXY TCP9 192.0.2.1 127.0.0.1 1 2\r\n",
    b"PROXY " + b"A" * 120 + b"\r\n",                # longer than 107
    b"GET / HTTP/1.1\r\n\r\n",
    SIG + b"\x11\x11\x00\x0c" + b"\x00" * 12,         # version 1 in v2
])
def test_invalid_headers_are_refused(proxied, bad):
    assert refused(proxied, bad), proxied.log()


def test_a_header_that_never_ends_times_out(proxied):
    s = proxied
    with socket.create_connection(("127.0.0.1", s.pport), timeout=10) as c:
        c.sendall(b"PROXY TCP4 192.0.2.1")
        t = time.time()
        assert c.recv(100) == b""
        assert time.time() - t < 3 + 2   # request_timeout = 3
    assert s.get("/hello.txt").status == 20


def test_a_plain_listener_never_trusts_a_header(proxied):
    s = proxied
    with pytest.raises((ConnectionError, ssl.SSLError)):
        exchange(s.port, v1("203.0.113.66", "127.0.0.1", 1, s.port),
                 s.url("/hello.txt?plain").encode() + b"\r\n")
    time.sleep(0.2)
    assert "203.0.113.66" not in s.access.read_text()
    assert s.get("/hello.txt").status == 20
