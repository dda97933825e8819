"""
ticket_keys: session tickets under keys from a file, so that nodes
sharing the file resume each other's sessions, and a reload (SIGHUP)
rotates them: the first key encrypts, every listed key decrypts.

Each test runs at TLS 1.2 and at TLS 1.3 and asserts what capsuled's
TLS library does there: OpenSSL resumes both; LibreSSL sends no TLS 1.3
tickets, so built with it nothing resumes at TLS 1.3 (resumes()).
"""
import os
import signal
import ssl
import subprocess
import time

import pytest

from conftest import (CAPSULED, client_context, read_response, resumes,
                      tls_connect)
from nodes import make_node  # noqa: F401 (a fixture)

KEY = 80


def keyfile(path, *keys):
    path.write_bytes(b"".join(keys))
    path.chmod(0o600)
    return path


VERSIONS = ["TLSv1_2", "TLSv1_3"]


def pinned(version):
    v = getattr(ssl.TLSVersion, version)
    return client_context(maximum=v, minimum=v)


def visit(s, ctx, session=None):
    """One request; the session it ends with, and whether it resumed."""
    with tls_connect(s.port, ctx=ctx, session=session) as c:
        c.sendall(s.url("/hello.txt").encode() + b"\r\n")
        r = read_response(c)
        assert r.status == 20
        return c.session, c.session_reused


def reload(s, timeout=10):
    """SIGHUP, then wait until the parent says it has reloaded."""
    before = s.log().count("reloaded ")
    s.signal(signal.SIGHUP)
    deadline = time.time() + timeout
    while s.log().count("reloaded ") == before:
        assert time.time() < deadline, s.log()
        time.sleep(0.05)


@pytest.fixture
def pair(make_node, tmp_path):
    """Two daemons on one certificate and one ticket key file."""
    keys = keyfile(tmp_path / "ticket.keys", os.urandom(KEY))
    a = make_node("a", server_extra=f"ticket_keys = {keys}").start()
    b = make_node("b", server_extra=f"ticket_keys = {keys}",
                  certdir=a.certdir).start()
    return a, b, keys


@pytest.mark.parametrize("version", VERSIONS)
def test_a_ticket_from_one_node_resumes_on_the_other(pair, version):
    a, b, _ = pair
    ctx = pinned(version)
    sess, reused = visit(a, ctx)
    assert not reused
    _, reused = visit(b, ctx, sess)
    assert reused == resumes(version), "node b resumes node a's ticket"


@pytest.mark.parametrize("version", VERSIONS)
def test_without_shared_keys_nodes_do_not_resume(make_node, version):
    a = make_node("a").start()
    b = make_node("b", certdir=a.certdir).start()
    ctx = pinned(version)
    sess, _ = visit(a, ctx)
    assert visit(a, ctx, sess)[1] == resumes(version), \
        "a resumes its own ticket"
    assert not visit(b, ctx, sess)[1]


@pytest.mark.parametrize("version", VERSIONS)
def test_keys_survive_a_reload(pair, version):
    a, _, _ = pair
    ctx = pinned(version)
    sess, _ = visit(a, ctx)
    reload(a)
    assert visit(a, ctx, sess)[1] == resumes(version)


@pytest.mark.parametrize("version", VERSIONS)
def test_rotation_old_key_second_still_resumes_then_dropped(pair, version):
    a, b, keys = pair
    ctx = pinned(version)
    old_sess, _ = visit(a, ctx)
    old = keys.read_bytes()
    keyfile(keys, os.urandom(KEY), old)          # new first, old second
    reload(a)
    renewed, reused = visit(a, ctx, old_sess)
    assert reused == resumes(version), \
        "a ticket under the second key still resumes"
    keyfile(keys, keys.read_bytes()[:KEY])       # old key dropped
    reload(a)
    assert not visit(a, ctx, old_sess)[1], "the dropped key is gone"
    assert visit(a, ctx, renewed)[1] == resumes(version), \
        "renewed under the new key"


@pytest.mark.parametrize("content,mode,words", [
    (b"x" * 79, 0o600, "keys of 80 random bytes"),
    (b"", 0o600, "keys of 80 random bytes"),
    (b"x" * 80 * 17, 0o600, "1 to 16 keys"),
    (b"x" * 80, 0o644, "chmod 600"),
])
def test_a_bad_key_file_stops_the_start_with_one_line(make_server, tmp_path,
                                                      content, mode, words):
    keys = tmp_path / "ticket.keys"
    keys.write_bytes(content)
    keys.chmod(mode)
    s = make_server(server_extra=f"ticket_keys = {keys}")
    p = subprocess.run([str(CAPSULED), "-d", "-c", str(s.conf)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert str(keys) in p.stderr and words in p.stderr, p.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_a_bad_key_file_at_reload_keeps_the_old_keys(pair, version):
    a, _, keys = pair
    ctx = pinned(version)
    sess, _ = visit(a, ctx)
    keys.write_bytes(b"short")
    a.signal(signal.SIGHUP)
    deadline = time.time() + 5
    while "reload failed" not in a.log() and time.time() < deadline:
        time.sleep(0.05)
    assert "reload failed" in a.log() and str(keys) in a.log()
    assert visit(a, ctx, sess)[1] == resumes(version)


# made under, offered under: the server name the client sends (None: none)
NAMES = [
    ("localhost", "localhost"),
    ("localhost", "example.org"),
    ("example.org", "localhost"),
    ("example.org", "example.org"),
    ("example.org", "EXAMPLE.org"),
    ("localhost", None),
    (None, "localhost"),
    (None, None),
]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_session_resumes_only_on_the_host_and_name_it_was_made_with(
        make_server, version):
    # issue 15: each host its own session-id context.  OpenSSL would
    # resume a TLS 1.3 session made under one SNI name under another,
    # and with it the client certificate it was made with.  Issue 18:
    # LibreSSL resumed a TLS 1.2 session made under the default host's
    # name under any other, then ended the handshake (unrecognized_name,
    # its check that a session keeps its name).  A session offered under
    # another name, or under none, or made under none and offered under
    # one, must fall back to a full handshake on either library; one
    # offered under its own name resumes where the library resumes.
    s = make_server().start()
    ctx = pinned(version)

    def hello(sni, session=None):
        host = (sni or "localhost").lower()
        with tls_connect(s.port, sni=sni, ctx=ctx, session=session) as c:
            c.sendall(s.url("/", host=host).encode() + b"\r\n")
            r = read_response(c)
            assert r.status == 20, (sni, r.header)
            return c.session, c.session_reused

    for made, offered in NAMES:
        sess, reused = hello(made)
        assert not reused
        _, reused = hello(offered, sess)
        want = made == offered and resumes(version)
        assert reused == want, f"made under {made}, offered under {offered}"
