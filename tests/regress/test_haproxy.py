"""
Scale-out through a real HAProxy (TCP mode, send-proxy-v2, round robin)
in front of two capsuled nodes that share a certificate and a ticket key
file, all on loopback.  The client connects from 127.0.0.7 so that its
address differs from the balancer's (127.0.0.1).  Checks: both nodes
answer; each node logs the client's address, not the balancer's; a CGI
script sees the client as REMOTE_ADDR; a session ticket issued by one
node resumes on the other.  Run with -s to see the session.
"""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import client_context, free_port, read_response, resumes
from nodes import make_node  # noqa: F401 (a fixture)

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
CLIENT = "127.0.0.7"        # the reader; the balancer is 127.0.0.1
pytestmark = pytest.mark.skipif(not os.path.exists(HAPROXY),
                                reason="haproxy is not installed")

HAPROXY_CFG = """\
global
    maxconn 256

defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend gemini
    bind 127.0.0.1:{fport}
    default_backend capsules

backend capsules
    balance roundrobin
    # health checks carry a PROXY header too (command LOCAL)
    default-server send-proxy-v2 check inter 200ms fall 2 rise 1
    server a 127.0.0.1:{a}
    server b 127.0.0.1:{b}

# docs/scaling.md: uploads on a port of their own, to node a alone
frontend titan
    bind 127.0.0.1:{tport}
    default_backend uploads

backend uploads
    default-server send-proxy-v2 check inter 200ms fall 2 rise 1
    server a 127.0.0.1:{a}
"""

CGI_SCRIPT = """#!/bin/sh
printf '20 text/plain\\r\\n%s node {name}\\n' "$REMOTE_ADDR"
"""


def say(*words):
    print("  |", *words)


def request(port, path, ctx, session=None):
    """A request through the balancer from CLIENT."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10,
                                   source_address=(CLIENT, 0))
    with ctx.wrap_socket(raw, server_hostname="localhost",
                         suppress_ragged_eofs=False, session=session) as s:
        sport = s.getsockname()[1]
        s.sendall(f"gemini://localhost:{port}{path}\r\n".encode())
        r = read_response(s)
        r.session, r.session_reused, r.sport = s.session, s.session_reused, \
            sport
        return r


@pytest.fixture(scope="module")
def admin(tmp_path_factory):
    from clientcerts import make_cert
    return make_cert(tmp_path_factory.mktemp("hcerts"), "secretary")


@pytest.fixture
def cluster(make_node, tmp_path, admin):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "admins").write_text(f"{admin.fingerprint} Branch secretary\n")
    keys = tmp_path / "ticket.keys"
    keys.write_bytes(os.urandom(80))
    keys.chmod(0o600)
    nodes = []
    certdir = None
    for name in ("a", "b"):
        pport = free_port()
        # full addresses: the reader and the balancer share a /24
        extra = (f"listen = 127.0.0.1:{pport} proxy\n"
                 f"ticket_keys = {keys}\nlog_ip = full")
        kw = dict(access_log=tmp_path / name / "access.log",
                  server_extra=extra)
        if name == "a":     # the upload node: it alone has titan rules
            kw["host_extra"] = f"titan = /news/ {lists}/admins\n"
        if certdir:
            kw["certdir"] = certdir
        n = make_node(name, **kw)
        (n.root / "node.txt").write_text(f"node {name}\n")
        (n.root / "news").mkdir()
        shutil.chown(n.root / "news", "nobody")
        (n.root / "cgi-bin").mkdir(exist_ok=True)    # cgi = cgi-bin
        script = n.root / "cgi-bin" / "addr"
        script.write_text(CGI_SCRIPT.format(name=name))
        script.chmod(0o755)
        n.pport, n.name = pport, name
        n.access = tmp_path / name / "access.log"
        n.start()
        certdir = n.certdir
        nodes.append(n)
    fport, tport = free_port(), free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(HAPROXY_CFG.format(fport=fport, tport=tport,
                                      a=nodes[0].pport, b=nodes[1].pport))
    hlog = open(tmp_path / "haproxy.log", "wb")
    hap = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=hlog,
                           stderr=hlog, start_new_session=True)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            assert hap.poll() is None, (tmp_path / "haproxy.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", fport), 1).close()
                break
            except OSError:
                time.sleep(0.05)
        say(f"haproxy {hap.pid} on 127.0.0.1:{fport} -> node a "
            f"127.0.0.1:{nodes[0].pport}, node b 127.0.0.1:{nodes[1].pport}"
            " (send-proxy-v2, roundrobin)")
        nodes[0].tport = tport
        yield fport, nodes
        time.sleep(0.6)                 # a few health checks more
        log = (tmp_path / "haproxy.log").read_text()
        assert "is DOWN" not in log, log
    finally:
        hap.terminate()                 # our own haproxy, by its pid
        try:
            hap.wait(10)
        except subprocess.TimeoutExpired:
            hap.kill()
            hap.wait()
        hlog.close()


def wait_logged(node, needle, timeout=3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        lines = [l for l in node.access.read_text().splitlines()
                 if needle in l]
        if lines:
            return lines[-1]
        time.sleep(0.05)
    return None


def test_haproxy_round_robin_client_address_and_resumption(cluster):
    fport, nodes = cluster
    by_name = {n.name: n for n in nodes}
    ctx = client_context()

    # both nodes answer, in turn
    seen = []
    for i in range(4):
        r = request(fport, f"/node.txt?{i}", ctx)
        assert r.status == 20, r.header
        name = r.body.decode().split()[1]
        seen.append(name)
        say(f"GET /node.txt?{i} from {CLIENT}:{r.sport} -> {r.status} "
            f"{r.meta!r}, served by node {name}")
        line = wait_logged(by_name[name], f"/node.txt?{i}")
        say(f"    node {name} access log: {line}")
        assert line is not None and line.split(" ")[1] == CLIENT, \
            "the node logs the client, not the balancer"
    assert set(seen) == {"a", "b"}, seen

    # a ticket from one node resumes on the other (LibreSSL: TLS 1.2
    # only; it sends no TLS 1.3 tickets)
    for version in ("TLSv1_2", "TLSv1_3"):
        v = getattr(ssl.TLSVersion, version)
        pinned = client_context(maximum=v, minimum=v)
        first = request(fport, "/node.txt?ticket", pinned)
        one = first.body.decode().split()[1]
        say(f"{version} full handshake with node {one}: session_reused="
            f"{first.session_reused}, ticket lifetime "
            f"{first.session.ticket_lifetime_hint}s")
        assert not first.session_reused
        for _ in range(4):
            r = request(fport, "/node.txt?resume", pinned, first.session)
            other = r.body.decode().split()[1]
            say(f"resumption with node {other} using node {one}'s ticket: "
                f"session_reused={r.session_reused}")
            if other != one:
                break
        assert other != one
        assert r.session_reused == resumes(version), \
            "a ticket issued by one node resumes on the other"


def test_cgi_sees_the_client_as_remote_addr(cluster):
    fport, nodes = cluster
    ctx = client_context()
    addrs, names = set(), set()
    # round robin, but a health check or a retry may shift the turn:
    # ask until both nodes have answered (bounded)
    for _ in range(10):
        if names == {"a", "b"}:
            break
        r = request(fport, "/cgi-bin/addr", ctx)
        assert r.status == 20
        addr, _, name = r.body.decode().split()
        say(f"GET /cgi-bin/addr -> {r.status}, node {name}'s script: "
            f"REMOTE_ADDR={addr}")
        addrs.add(addr)
        names.add(name)
    assert names == {"a", "b"} and addrs == {CLIENT}


def upload(port, path, body, cert):
    """A Titan upload through the balancer from CLIENT."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10,
                                   source_address=(CLIENT, 0))
    with cert.ctx().wrap_socket(raw, server_hostname="localhost",
                                suppress_ragged_eofs=False) as s:
        s.sendall(f"titan://localhost:{port}{path};mime=text/plain;"
                  f"size={len(body)}\r\n".encode() + body)
        return read_response(s)


def test_uploads_go_to_one_node_on_a_port_of_their_own(cluster, admin):
    """issue 19.19: behind round robin, an upload landed on whichever
    node took it; docs/scaling.md gives uploads their own port, to one
    node, and the other nodes refuse them."""
    fport, (a, b) = cluster
    r = upload(a.tport, "/news/2026-06-01-from-titan.gmi", b"# Posted\n",
               admin)
    say(f"upload on the upload port {a.tport} -> {r.status} {r.meta}")
    assert r.status == 30, r.header
    assert r.meta == f"gemini://localhost:{a.tport}/news/2026-06-01-" \
        "from-titan.gmi", "the answer names the port the reader used"
    assert (a.root / "news" / "2026-06-01-from-titan.gmi").exists()
    assert not (b.root / "news" / "2026-06-01-from-titan.gmi").exists()
    refused = set()
    for i in range(6):      # round robin: node b takes some of them
        r = upload(fport, f"/news/2026-06-02-try{i}.gmi", b"# T\n", admin)
        refused.add((r.status, r.meta))
    assert (50, "Uploads are not accepted here") in refused, refused
    assert not list((b.root / "news").iterdir()), "node b wrote nothing"
