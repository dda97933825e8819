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


@pytest.fixture
def cluster(make_node, tmp_path):
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
        if certdir:
            kw["certdir"] = certdir
        n = make_node(name, **kw)
        (n.root / "node.txt").write_text(f"node {name}\n")
        (n.root / "cgi-bin").mkdir(exist_ok=True)    # cgi = cgi-bin
        script = n.root / "cgi-bin" / "addr"
        script.write_text(CGI_SCRIPT.format(name=name))
        script.chmod(0o755)
        n.pport, n.name = pport, name
        n.access = tmp_path / name / "access.log"
        n.start()
        certdir = n.certdir
        nodes.append(n)
    fport = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(HAPROXY_CFG.format(fport=fport, a=nodes[0].pport,
                                      b=nodes[1].pport))
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
