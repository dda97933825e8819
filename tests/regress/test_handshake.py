"""
Handshakes that do not finish: the worker waits without spinning, and a
client refused a handshake is told why.

Issue 18: built with LibreSSL, every TLS 1.2 handshake failed and its
worker spun at 100% CPU until request_timeout (LibreSSL pushes a
buffering BIO above ours, and the worker flushed that one as if it were
its own); and on both libraries the alert a refused handshake ends with
was dropped at the close, so the client saw a bare EOF.
"""
import os
import socket
import ssl
import time

import pytest

from conftest import client_context, gemini, tls_library

VERSIONS = ["TLSv1_2", "TLSv1_3"]
STALL = 3       # request_timeout: how long a stalled handshake is kept


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/PID/stat (fields 14, 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_hello(port, version):
    """A client that has sent its ClientHello: the socket, its half-done
    handshake, and the memory BIOs it reads from and writes to."""
    v = getattr(ssl.TLSVersion, version)
    ctx = client_context(maximum=v, minimum=v)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname="localhost")
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    sock.sendall(out.read())
    return sock, tls, inc, out


def server_flight(sock, tls, inc, out):
    """Read the server's answer until the client has its next flight
    ready (the server's flight is whole: True) or the server closes
    first (False).  Nothing more is sent."""
    while out.pending == 0:
        data = sock.recv(65536)
        if not data:
            return False
        inc.write(data)
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
    return True


def first_flight(port, version):
    hs = client_hello(port, version)
    assert server_flight(*hs), "the server closed before its first flight"
    return hs


@pytest.fixture
def one_worker(make_server):
    s = make_server(workers=1, request_timeout=STALL).start()
    pid, = s.worker_pids()
    return s, pid


# An idle worker uses a few milliseconds in the window (one handshake);
# a spinning one all of the CPU it is given, a sixth of it even on a
# loaded machine.
IDLE = 1 / 6


@pytest.mark.parametrize("version", VERSIONS)
def test_a_stalled_handshake_leaves_the_worker_idle(one_worker, version):
    # request_timeout bounds the handshake; until then the worker waits
    # for the client in epoll, not in a loop, having sent its flight.
    s, pid = one_worker
    before = cpu_seconds(pid)
    start = time.monotonic()
    hs = client_hello(s.port, version)
    with hs[0] as sock:
        whole = server_flight(*hs)
        sock.settimeout(STALL + 10)
        while sock.recv(65536):
            pass                # request_timeout closes it
    window = time.monotonic() - start
    used = cpu_seconds(pid) - before
    assert used < window * IDLE, \
        f"the worker used {used:.2f} s of CPU in {window:.1f} s"
    assert whole, "the server's first flight came whole"
    assert window >= STALL - 0.5


@pytest.mark.parametrize("version", VERSIONS)
def test_a_client_gone_mid_handshake_leaves_the_worker_idle(one_worker,
                                                            version):
    s, pid = one_worker
    before = cpu_seconds(pid)
    client_hello(s.port, version)[0].close()
    time.sleep(STALL)
    used = cpu_seconds(pid) - before
    assert used < STALL * IDLE, f"the worker used {used:.2f} s of CPU"
    assert gemini(s.port, s.url("/hello.txt")).status == 20


def refused(port, ctx):
    """The handshake's end as the client saw it: the reason its ssl
    module gives (an alert received: "..._ALERT_...")."""
    with pytest.raises(ssl.SSLError) as e:
        gemini(port, f"gemini://localhost:{port}/", ctx=ctx)
    return e.value.reason


def test_no_shared_cipher_ends_with_a_handshake_failure_alert(server):
    # RFC 5246 7.4.1.3: no acceptable cipher suite is a handshake_failure
    # alert; capsuled offers ECDHE with AEAD only (no RSA key exchange)
    ctx = client_context(maximum=ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("AES128-SHA256")
    assert refused(server.port, ctx) == "SSLV3_ALERT_HANDSHAKE_FAILURE"


def test_tls11_ends_with_a_protocol_version_alert(server):
    # Gemini: TLS 1.2 at least; RFC 5246 E.1: a version the server will
    # not speak is a protocol_version alert
    ctx = client_context(maximum=ssl.TLSVersion.TLSv1_1,
                         minimum=ssl.TLSVersion.MINIMUM_SUPPORTED)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    assert refused(server.port, ctx) == "TLSV1_ALERT_PROTOCOL_VERSION"


def flip_last_byte(flight):
    """The client's flight, the last byte of its Finished record changed:
    the server cannot decrypt it."""
    return flight[:-1] + bytes([flight[-1] ^ 1])


def plaintext_finished(flight):
    """Instead of the client's flight, an empty Finished in a plaintext
    record: a message the server does not expect there."""
    return b"\x16\x03\x03\x00\x04\x14\x00\x00\x00"


@pytest.mark.parametrize("version,change,alert", [
    # RFC 5246 7.2.2, RFC 8446 5.2: a record that does not decrypt
    ("TLSv1_2", flip_last_byte, "BAD_RECORD_MAC"),
    ("TLSv1_3", flip_last_byte, "BAD_RECORD_MAC"),
    # RFC 5246 7.2.2 (a message out of order), RFC 8446 5: a plaintext
    # handshake record once the handshake is encrypted
    ("TLSv1_2", plaintext_finished, "UNEXPECTED_MESSAGE"),
    ("TLSv1_3", plaintext_finished, "UNEXPECTED_MESSAGE"),
])
def test_a_bad_second_flight_ends_with_an_alert(server, version, change,
                                                alert):
    sock, tls, inc, out = first_flight(server.port, version)
    with sock:
        sock.sendall(change(out.read()))
        while data := sock.recv(65536):     # until the server closes
            inc.write(data)
    inc.write_eof()
    with pytest.raises(ssl.SSLError) as e:
        tls.do_handshake()      # TLS 1.3: done on the client's side,
        tls.read(1)             # the alert comes as a record
    if (tls_library(), version, alert) == ("LibreSSL", "TLSv1_3",
                                           "BAD_RECORD_MAC"):
        # LibreSSL's TLS 1.3 record layer sends no alert for a record
        # that does not decrypt (RFC 8446 5.2 says it must): it closes
        assert e.value.reason == "UNEXPECTED_EOF_WHILE_READING", e.value
    else:
        assert e.value.reason.endswith("_ALERT_" + alert), e.value


@pytest.mark.parametrize("version", VERSIONS)
def test_the_alert_arrives_though_the_client_sent_on(server, version):
    # A client that sends on after a bad flight (its request, say) leaves
    # bytes the server never reads; a close with unread bytes is a TCP
    # reset, which must not take the alert with it.
    sock, tls, inc, out = first_flight(server.port, version)
    more = b"\x17\x03\x03\x04\x00" + b"x" * 1024     # a record's worth
    with sock:
        sock.sendall(flip_last_byte(out.read()) + more * 4)
        try:
            while data := sock.recv(65536):
                inc.write(data)
        except ConnectionResetError:
            pass                # the reset came after the alert
    inc.write_eof()
    with pytest.raises(ssl.SSLError) as e:
        tls.do_handshake()
        tls.read(1)
    if (tls_library(), version) == ("LibreSSL", "TLSv1_3"):
        # no alert for a record that does not decrypt (see above)
        assert e.value.reason == "UNEXPECTED_EOF_WHILE_READING", e.value
    else:
        assert e.value.reason.endswith("_ALERT_BAD_RECORD_MAC"), e.value
