"""
The request line and the response header, through the real daemon.
Rules from the Gemini protocol specification (gemini://geminiprotocol.net/
docs/protocol-specification.gmi) and RFC 3986; each test names its rule.
"""
import socket
import ssl
import time

import pytest

from conftest import (client_context, gemini, parse_response, read_response,
                      tls_connect)


def test_home_is_text_gemini_with_the_hosts_lang(server):
    r = server.get("/")
    assert r.status == 20
    assert r.meta == "text/gemini; lang=en-GB"
    assert r.body.startswith(b"# Fixture home")


def test_header_is_two_digits_space_meta_crlf(server):
    r = server.get("/hello.txt")
    assert r.header == b"20 text/plain; charset=utf-8"
    assert r.body == b"hello\n"


def test_every_connection_ends_with_close_notify(server):
    for path in ("/", "/missing", "/docs"):
        assert server.get(path).close_notify, path
    assert server.request(b"\r\n").close_notify


def test_empty_path_is_the_same_resource_as_slash(server):
    a = gemini(server.port, f"gemini://localhost:{server.port}")
    b = server.get("/")
    assert (a.status, a.body) == (b.status, b.body)


def test_default_port_1965_is_implied_when_absent(make_server):
    # Our port is not 1965, so a URL without a port is for another port.
    s = make_server().start()
    assert s.request("gemini://localhost/").status == 53


def test_host_compare_is_case_insensitive(server):
    assert server.request(f"gemini://LocalHost:{server.port}/").status == 20


def test_bytes_after_the_first_crlf_are_ignored(server):
    r = server.request(f"gemini://localhost:{server.port}/hello.txt\r\n"
                       "gemini://localhost/other\r\ngarbage".encode())
    assert r.status == 20 and r.body == b"hello\n"


def long_url(server, total):
    base = f"gemini://localhost:{server.port}/"
    return base + "a" * (total - len(base))


def test_url_of_exactly_1024_bytes_is_accepted(server):
    r = server.request(long_url(server, 1024))
    assert r.status == 51          # well-formed, just not there


BAD_REQUESTS = [
    # (request bytes, rule)
    ("URL_1025", "a URL over 1024 bytes is rejected"),
    (b"\r\n", "an empty request line is rejected"),
    (b"/hello.txt\r\n", "a relative URL is rejected"),
    (b"localhost/hello.txt\r\n", "a scheme-less URL is rejected"),
    (b"\x16\x03\x01garbage\r\n", "garbage is rejected"),
    (b"gemini://user@localhost:PORT/\r\n", "userinfo is rejected"),
    (b"gemini://localhost:PORT/#frag\r\n", "a fragment is rejected"),
    (b"\xef\xbb\xbfgemini://localhost:PORT/\r\n",
     "a leading U+FEFF byte order mark is rejected"),
    (b"gemini://localhost:PORT/\xc3\x28\r\n",
     "bytes that are not UTF-8 are rejected"),
    (b"gemini://localhost:PORT/\xc0\xaf\r\n",
     "an overlong UTF-8 sequence is rejected"),
    (b"gemini://localhost:PORT/a\x00b\r\n", "a NUL byte is rejected"),
    (b"gemini://localhost:PORT/../etc/passwd\r\n",
     "dot segments climbing above the root are rejected"),
    (b"gemini://localhost:PORT/docs/../../etc/passwd\r\n",
     "dot segments climbing above the root from below are rejected"),
    (b"gemini://localhost:PORT/%2e%2e/etc/passwd\r\n",
     "percent-encoded dot segments climbing above the root are rejected"),
    (b"gemini://localhost:PORT/%2E%2E/%2E%2E/etc/passwd\r\n",
     "upper-case encoded dot segments climbing above the root are rejected"),
    (b"gemini://localhost:PORT/..%2fetc%2fpasswd\r\n",
     "an encoded slash in a segment is rejected"),
    (b"gemini://localhost:PORT/a%00b\r\n", "an encoded NUL is rejected"),
    (b"gemini://localhost:PORT/a%zzb\r\n", "a bad percent escape is rejected"),
    (b"gemini://localhost:99999/\r\n", "a port out of range is rejected"),
    (b"gemini:///hello.txt\r\n", "an empty host is rejected"),
    (b"gemini://localhost:PORT/a b\r\n", "a space in the URL is rejected"),
]


@pytest.mark.parametrize("raw,rule", BAD_REQUESTS,
                         ids=[r for _, r in BAD_REQUESTS])
def test_malformed_request_is_answered_59(server, raw, rule):
    if raw == "URL_1025":
        raw = long_url(server, 1025).encode() + b"\r\n"
    raw = raw.replace(b"PORT", str(server.port).encode())
    r = server.request(raw)
    assert r.status == 59, rule
    assert r.body == b"", "no body follows a 5x header"
    assert r.close_notify


def test_2000_bytes_without_crlf_is_answered_59_without_waiting(server):
    t = time.time()
    r = server.request(b"gemini://localhost/" + b"a" * 2000)
    assert r.status == 59
    assert time.time() - t < 2


PROXY_REQUESTS = [
    ("https://localhost:PORT/", "localhost", "another scheme is refused"),
    ("gopher://localhost:PORT/", "localhost", "gopher is refused"),
    ("gemini://elsewhere.example:PORT/", "localhost",
     "a host this server does not serve is refused"),
    ("gemini://example.org:PORT/", "localhost",
     "a host that differs from the SNI name is refused"),
    ("gemini://localhost:1/", "localhost", "another port is refused"),
]


@pytest.mark.parametrize("url,sni,rule", PROXY_REQUESTS,
                         ids=[r for *_, r in PROXY_REQUESTS])
def test_proxy_request_is_refused_53(server, url, sni, rule):
    r = server.request(url.replace("PORT", str(server.port)), sni=sni)
    assert r.status == 53, rule


def test_sni_picks_the_virtual_host(server):
    r = server.request(f"gemini://example.org:{server.port}/",
                       sni="example.org")
    assert r.status == 20 and r.body == b"# example.org home\n"
    assert r.meta == "text/gemini", "example.org has no lang"


def test_sni_picks_the_hosts_certificate(server):
    with tls_connect(server.port, sni="example.org") as s:
        der = s.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    cert = (server.certdir / "example.org.crt").read_text()
    assert pem.split() == cert.split()


def test_no_sni_to_an_address_gets_the_default_host(server):
    ctx = client_context()
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    with ctx.wrap_socket(raw, server_hostname=None,
                         suppress_ragged_eofs=False) as s:
        s.sendall(f"gemini://127.0.0.1:{server.port}/\r\n".encode())
        r = read_response(s)
    assert r.status == 20 and r.body.startswith(b"# Fixture home")


def test_ipv6_listener_serves_too(server):
    r = gemini(server.port, f"gemini://localhost:{server.port}/",
               host="::1")
    assert r.status == 20


def test_tls13_is_negotiated_when_the_client_offers_it(server):
    with tls_connect(server.port) as s:
        assert s.version() == "TLSv1.3"


def test_tls12_is_accepted(server):
    ctx = client_context(maximum=ssl.TLSVersion.TLSv1_2)
    r = gemini(server.port, server.url("/"), ctx=ctx)
    assert r.status == 20


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_tls_below_12_is_refused(server, version):
    ctx = client_context(maximum=getattr(ssl.TLSVersion, version),
                         minimum=ssl.TLSVersion.MINIMUM_SUPPORTED)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        gemini(server.port, server.url("/"), ctx=ctx)


def test_self_signed_client_certificate_is_accepted(server, tmp_path):
    import subprocess
    cert, key = tmp_path / "c.crt", tmp_path / "c.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=reader", "-days", "1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    ctx = client_context(cert=str(cert), key=str(key))
    r = gemini(server.port, server.url("/"), ctx=ctx)
    assert r.status == 20


def test_a_line_ended_by_lf_alone_is_not_a_request_until_the_deadline(server):
    # request_timeout is 3 s in the fixture config
    t = time.time()
    r = server.request(f"gemini://localhost:{server.port}/\n".encode())
    took = time.time() - t
    assert r.status == 59, "at the deadline: 59"
    assert 2 <= took < 6


def test_a_silent_client_is_cut_off_at_the_request_deadline(server):
    t = time.time()
    with tls_connect(server.port) as s:
        r = read_response(s)
    assert r.status == 59 and 2 <= time.time() - t < 6


def test_a_client_that_never_handshakes_is_closed_at_the_deadline(server):
    t = time.time()
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.settimeout(10)
        assert s.recv(100) == b""
    assert 2 <= time.time() - t < 6


def test_request_sent_one_byte_at_a_time_is_understood(server):
    with tls_connect(server.port) as s:
        for b in f"gemini://localhost:{server.port}/hello.txt\r\n".encode():
            s.sendall(bytes([b]))
        r = read_response(s)
    assert r.status == 20 and r.body == b"hello\n"


def test_response_header_meta_is_at_most_1024_bytes(make_server):
    # A directory asked for without its slash is redirected to DIR/ with
    # the path percent-encoded and the query kept (route.c
    # redirect_slash), so the meta can be three times the request's
    # path.  "é" * 127 is a 254-byte name; each é is 6 bytes encoded.
    name = "é" * 127
    s = make_server()
    (s.root / name).mkdir()
    s.start()
    enc = "/" + "%C3%A9" * 127
    base = f"gemini://localhost:{s.port}/{name}?".encode()

    def ask(query):
        return s.request(base + query.encode() + b"\r\n")

    # the longest query whose redirect still fits: a meta of 1024 bytes
    query = "q=" + "x" * (1024 - len(enc + "/?") - 2)
    r = ask(query)
    assert r.status == 31, r.header
    assert r.meta == enc + "/?" + query
    assert len(r.meta.encode()) == 1024
    # one byte more does not fit, nor does a request line of 1024
    # bytes: the server does not cut the target short (a wrong URL) but
    # answers 51, as it does for any path it cannot serve
    for q in (query + "x", "q=" + "x" * (1024 - len(base) - 2)):
        r = ask(q)
        assert len(base) + len(q) <= 1024
        assert r.status == 51 and len(r.meta.encode()) <= 1024, \
            (len(base) + len(q), r.header[:40], len(r.meta.encode()))
