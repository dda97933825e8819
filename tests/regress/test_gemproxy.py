"""
A reverse proxy to another Gemini server (proxy = PATH gemini://...),
through the real daemon, to a second capsuled and to molly-brown, and to
a Gemini server that misbehaves on purpose (upstream_apps.py).

The upstream's status, meta and body are relayed as they come; its URL
is the config's (BASE, the rest of the path, the query), never the
client's; its certificate is checked as the line says (a pin, a CA, or
none when written so); capsuled presents its own client certificate,
never the reader's (it has no key for it).  Trouble before the header
is 43 (Gemini: PROXY ERROR), logged with the reason; after it, the body
is cut: no close_notify, " cut" in the log.  A 100 MB response relayed
to a slow reader keeps the worker's memory flat (back-pressure).
"""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from clientcerts import make_cert
from conftest import (CAPSULED, build_capsule, client_context, free_port,
                      gemini, read_response, wait_for)
from nodes import make_node  # noqa: F401 (a fixture)
from upstreams import HERE, log_lines, upstream_app  # noqa: F401

BIG = 100_000_000
ASAN = b"__asan_init" in CAPSULED.read_bytes()
# ASan holds freed memory in a quarantine (capped at 16 MB here, as
# test_hostile does) and pads allocations: a slack of its own
GROWTH_KB = (48 if ASAN else 8) * 1024
MOLLY = shutil.which("molly-brown") or "/usr/bin/molly-brown"
SCRIPTS = {
    "status": 'printf "%s meta of %s\\r\\n" "$QUERY_STRING" "$QUERY_STRING"',
    "cert": 'printf "20 text/plain\\r\\n%s\\n" "${TLS_CLIENT_HASH:-none}"',
}


def fingerprint(crt):
    out = subprocess.run(["openssl", "x509", "-in", str(crt), "-noout",
                          "-fingerprint", "-sha256"], check=True,
                         capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1].replace(":", "")


def upstream_root(path):
    root = build_capsule(path)
    for name, body in SCRIPTS.items():
        p = root / "cgi-bin" / name
        p.write_text("#!/bin/sh\n" + body + "\n")
        p.chmod(0o755)
    # sparse: 100 MB that cost no disk
    with open(root / "big.zip", "wb") as f:
        f.truncate(BIG)
    return root


@pytest.fixture
def up(make_node, tmp_path):
    """The upstream: a second capsuled, also on a PROXY listener."""
    s = make_node("up", root=upstream_root(tmp_path / "uproot"),
                  log_ip="full")
    s.pport = free_port()
    s.params["server_extra"] = (f"listen = 127.0.0.1:{s.pport} proxy\n"
                                "log_ip = full")
    s.write_config()
    s.start()
    s.crt = s.certdir / "localhost.crt"
    s.pin = fingerprint(s.crt)
    return s


def front(make_node, up, opts="", path="/up/", server_extra="", **kw):
    return make_node("front", server_extra=server_extra, host_extra=(
        f"proxy = {path} gemini://127.0.0.1:{up.port}/ sni=localhost "
        f"{opts}\n  verify=sha256:{up.pin}\nupstream_timeout = 1\n"),
        **kw).start()


def test_20_51_and_59_relayed_with_the_configured_url(make_node, up):
    s = front(make_node, up)
    r = s.get("/up/docs/")
    assert (r.status, r.meta, r.body) == (20, "text/gemini; lang=en-GB",
                                          b"# Docs index\n")
    assert r.close_notify
    r = s.get("/up/missing.gmi")
    assert (r.status, r.meta, r.body) == (51, "Not found", b"")
    r = s.get("/up/cgi-bin/status?59")
    assert (r.status, r.meta) == (59, "meta of 59")
    # the upstream was asked for its own URL: BASE, the rest, the query
    assert wait_for(lambda: log_lines(
        up, f'"gemini://localhost:{up.port}/cgi-bin/status?59" 59'))
    assert any(l.endswith(f"upstream=gemini://127.0.0.1:{up.port}/")
               for l in log_lines(s, "/up/docs/"))


def test_no_open_proxy(make_node, up):
    # the target check comes first: another host or port is 53, and the
    # upstream's URL is never one a client wrote
    s = front(make_node, up)
    for url in (f"gemini://127.0.0.1:{up.port}/up/docs/",
                f"gemini://localhost:{up.port}/up/docs/",
                "gemini://example.net/up/docs/"):
        assert gemini(s.port, url).status == 53, url
    assert log_lines(up, "/docs/") == []


def test_a_pin_that_does_not_match_is_43_and_nothing_is_sent(make_node, up):
    wrong = "00" * 32
    s = make_node("front", host_extra=(
        f"proxy = /up/ gemini://127.0.0.1:{up.port}/ sni=localhost "
        f"verify=sha256:{wrong}\n")).start()
    r = s.get("/up/docs/")
    assert r.status == 43 and r.body == b""
    assert wait_for(lambda: log_lines(
        s, f"its certificate SHA256:{up.pin} is not the pinned one"))
    time.sleep(0.2)
    assert log_lines(up, "/docs/") == [], "the request was never sent"


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_a_server_that_is_not_the_pinned_one_never_gets_our_certificate(
        make_node, tmp_path, version):
    # The pin is checked as the server's certificate arrives, and the
    # handshake ends there: capsuled's cert= (sent after the server's
    # flight, in TLS 1.2 and 1.3 alike) never reaches an impostor.
    ours = make_cert(tmp_path, "capsuled-front")
    impostor = make_cert(tmp_path, "impostor")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion,
                                                        version)
    ctx.load_cert_chain(impostor.crt, impostor.key)
    ctx.verify_mode = ssl.CERT_OPTIONAL      # asks for a certificate
    ctx.load_verify_locations(ours.crt)      # and would take ours
    lsock = socket.create_server(("127.0.0.1", 0))
    lsock.settimeout(10)
    seen = []

    def serve():
        conn, _ = lsock.accept()
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                seen.append(tls.getpeercert(binary_form=True))
                tls.recv(1100)
        except (OSError, ssl.SSLError) as e:
            seen.append(e)
    t = threading.Thread(target=serve)
    t.start()
    s = make_node("front", host_extra=(
        f"proxy = /up/ gemini://127.0.0.1:{lsock.getsockname()[1]}/ "
        f"sni=localhost verify=sha256:{'00' * 32}\n"
        f"  cert={ours.crt} key={ours.key}\n")).start()
    try:
        r = s.get("/up/docs/")
    finally:
        t.join(15)
        lsock.close()
    assert r.status == 43
    assert wait_for(lambda: log_lines(
        s, f"its certificate {impostor.fingerprint} is not the pinned one"))
    assert len(seen) == 1, "the impostor was connected to once"
    assert isinstance(seen[0], ssl.SSLError), \
        "the impostor's handshake ended with our alert, not with our " \
        "certificate in its hands"


def test_verify_by_ca_checks_the_chain_and_the_name(make_node, up):
    # capsuled's generated certificate is self-signed, with the host's
    # name: it is its own CA
    good = make_node("good", host_extra=(
        f"proxy = /up/ gemini://127.0.0.1:{up.port}/ sni=localhost "
        f"verify=ca:{up.crt}\n")).start()
    assert good.get("/up/docs/").status == 20
    bad = make_node("bad", host_extra=(
        f"proxy = /up/ gemini://127.0.0.1:{up.port}/ sni=example.org "
        f"verify=ca:{up.crt}\n")).start()
    r = bad.get("/up/docs/")
    assert r.status == 43
    assert wait_for(lambda: log_lines(bad, "TLS handshake:"))


def test_capsuleds_client_certificate_is_presented_not_the_readers(
        make_node, up, tmp_path):
    ours = make_cert(tmp_path, "capsuled-front")
    reader = make_cert(tmp_path, "a reader")
    s = front(make_node, up, opts=f"\n  cert={ours.crt}\n  key={ours.key}")
    for ctx in (None, reader.ctx()):
        r = gemini(s.port, s.url("/up/cgi-bin/cert"), ctx=ctx)
        assert (r.status, r.body.decode().strip()) == (20, ours.fingerprint)
    plain = make_node("plain", host_extra=(
        f"proxy = /up/ gemini://127.0.0.1:{up.port}/ sni=localhost "
        f"verify=sha256:{up.pin}\n")).start()
    r = gemini(plain.port, plain.url("/up/cgi-bin/cert"), ctx=reader.ctx())
    assert (r.status, r.body) == (20, b"none\n"), \
        "nothing the upstream could take for the reader's certificate"


def test_proxy_protocol_names_the_reader(make_node, up, upstream_app,
                                         tmp_path):
    # to a capsuled "proxy" listener, which refuses a connection without
    # a valid header: it logs the reader (log_ip full on both)
    s = make_node("front", server_extra="log_ip = full", host_extra=(
        f"proxy = /up/ gemini://127.0.0.1:{up.pport}/ sni=localhost "
        f"proxy_protocol verify=sha256:{up.pin}\n")).start()
    raw = socket.create_connection(("127.0.0.1", s.port),
                                   source_address=("127.0.0.7", 0))
    with client_context().wrap_socket(raw, server_hostname="localhost",
                                      suppress_ragged_eofs=False) as c:
        c.sendall(s.url("/up/docs/").encode() + b"\r\n")
        assert read_response(c).status == 20
    assert wait_for(lambda: any(l.split()[1] == "127.0.0.7" for l in
                                log_lines(up, "/docs/")))
    # what the header holds follows log_ip, as REMOTE_ADDR does
    port = free_port()
    upstream_app("gemini", port, up.crt, up.certdir / "localhost.key")
    for log_ip, want in (("full", "127.0.0.1:"), ("truncated",
                                                  "127.0.0.0:0 "),
                         ("off", "LOCAL")):
        n = make_node("ip-" + log_ip, server_extra=f"log_ip = {log_ip}",
                      host_extra=(f"proxy = /x/ gemini://127.0.0.1:{port}/ "
                                  f"proxy_protocol verify=none\n")).start()
        r = n.get("/x/echo")
        assert r.status == 20 and f"proxy {want}" in r.body.decode(), \
            (log_ip, r.body)


def test_an_upstream_that_is_down_is_43(make_node, up):
    s = make_node("front", host_extra=(
        f"proxy = /up/ gemini://127.0.0.1:{free_port()}/ verify=none\n"
    )).start()
    r = s.get("/up/")
    assert r.status == 43 and r.close_notify
    assert wait_for(lambda: log_lines(s, "cannot connect: Connection "
                                      "refused"))


@pytest.fixture
def bad(make_node, upstream_app, up):
    """A front proxying to the misbehaving Gemini server at /x/."""
    port = free_port()
    upstream_app("gemini", port, up.crt, up.certdir / "localhost.key")
    return make_node("front", host_extra=(
        f"proxy = /x/ gemini://127.0.0.1:{port}/base/ sni=localhost "
        f"verify=sha256:{up.pin}\nupstream_timeout = 1\n")).start()


def test_the_url_sent_is_base_and_the_rest(bad):
    r = bad.get("/x/a%20b/echo?q%20r")
    assert r.status == 20
    line = r.body.decode().splitlines()[0]
    assert line.startswith("request gemini://localhost:")
    assert line.endswith("/base/a%20b/echo?q%20r"), line
    assert "proxy none" in r.body.decode(), "no PROXY header unless asked"


@pytest.mark.parametrize("path,why", [
    ("/longmeta", "meta over 1024 bytes"),
    ("/nolf", "header line is too long"),
    ("/status?99", "header does not start with a status 10 to 69"),
    ("/status?5", "header does not start with a status 10 to 69"),
    ("/stall", "timed out before its header"),
    # a byte each 0.3 s: never a stall, but the header is due within
    # upstream_timeout of the request (capsuled.ini(5))
    ("/dribble", "timed out before its header"),
])
def test_a_bad_header_is_43_with_the_reason_logged(bad, path, why):
    r = bad.get("/x" + path)
    assert r.status == 43 and r.body == b"" and r.close_notify
    assert wait_for(lambda: log_lines(bad, why)), why


@pytest.mark.parametrize("path,why", [
    ("/hold", "stalled: nothing for 1 s after its header; cut"),
    ("/reset", "after its header; cut"),
])
def test_a_body_that_never_ends_or_is_reset_is_cut(bad, path, why):
    r = bad.get("/x" + path)
    assert r.status == 20 and r.body.startswith(b"partial\n")
    assert not r.close_notify, "a body cut short ends without close_notify"
    assert wait_for(lambda: log_lines(bad, why)), why
    assert wait_for(lambda: any(l.endswith(" cut") for l in
                                log_lines(bad, f"/x{path}\" 20")))


def status_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def test_100_mb_to_a_slow_reader_keeps_the_worker_flat(make_node, up):
    # back-pressure: the worker reads from the upstream only what the
    # reader has taken room for; buffering the body would show as some
    # 100 MB of VmHWM, the bound here is a few MB of buffers and TLS
    env = dict(os.environ)
    if ASAN:
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + \
            ":quarantine_size_mb=16"
    s = make_node("front", workers=1, write_timeout=30, host_extra=(
        f"proxy = /up/ gemini://127.0.0.1:{up.port}/ sni=localhost "
        f"verify=sha256:{up.pin}\n")).start(env)
    assert s.get("/up/docs/").status == 20     # warm: TLS, first buffers
    worker = s.worker_pids()[0]
    Path(f"/proc/{worker}/clear_refs").write_text("5")
    before = status_kb(worker, "VmRSS")
    with client_context().wrap_socket(
            socket.create_connection(("127.0.0.1", s.port), timeout=30),
            server_hostname="localhost", suppress_ragged_eofs=False) as c:
        c.sendall(s.url("/up/big.zip").encode() + b"\r\n")
        head, total, whole = b"", 0, False
        slow = time.monotonic() + 1.5
        while True:
            try:
                chunk = c.recv(65536)
            except ssl.SSLEOFError:
                break
            if not chunk:
                whole = True        # close_notify
                break
            head += chunk[:max(0, 64 - len(head))]
            total += len(chunk)
            if time.monotonic() < slow:     # slowly: 64 KB per 50 ms
                time.sleep(0.05)
    assert head.startswith(b"20 ") and whole
    assert total - head.index(b"\r\n") - 2 == BIG
    grew = status_kb(worker, "VmHWM") - before
    assert grew < GROWTH_KB, f"the worker grew by {grew} KB"


def test_molly_brown_as_the_upstream(tmp_path):
    # molly-brown listens on every interface: it runs, with a front
    # capsuled and the client, in a network namespace of their own
    # where only loopback exists
    if not os.path.exists(MOLLY):
        pytest.skip("molly-brown is not installed (apt-get install "
                    "molly-brown)")
    if subprocess.run(["unshare", "-n", "true"],
                      capture_output=True).returncode != 0:
        pytest.skip("no network namespace (needs root)")
    out = subprocess.run(
        ["unshare", "-n", sys.executable, str(HERE / "in_netns.py"),
         str(tmp_path), str(CAPSULED), MOLLY],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    results = dict(l.split(" ", 1) for l in out.stdout.splitlines()
                   if " " in l)
    assert results["/m/"].startswith("20 text/gemini")
    assert "# Fixture home" in results["/m/"]
    assert results["/m/missing.gmi"].startswith("51 ")
