"""
Reloads and rotations cut no reader (issue 11).  SIGHUP and SIGUSR1
retire the old workers: they give up their listening sockets at once and
finish every response in flight for as long as it makes progress (no
fixed grace: the old one cut a long download at 10 s, without
close_notify).  Only SIGTERM has a hard limit, stop_timeout, and what it
cuts is still logged, marked as cut.  A reload keeps the session ticket
key, so readers resume their sessions across it.
"""
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import (CAPSULED, client_context, free_port, refuses, resumes,
                      tls_connect, wait_for)

MB = 1 << 20
# read at RATE for longer than the old fixed grace of 10 s
SIZE, RATE = 24 * MB, 2 * MB


def reload_and_wait(s, sig=signal.SIGHUP, word="reloaded"):
    before = s.log().count(word)
    s.signal(sig)
    assert wait_for(lambda: s.log().count(word) > before), s.log()


def paced_download(s, path, got, rate=RATE):
    """Read path at about rate bytes/s; got[path] = (bytes, close_notify)."""
    c = tls_connect(s.port, timeout=30)
    c.sendall(s.url(path).encode() + b"\r\n")
    n, t0, notify = 0, time.time(), False
    try:
        while True:
            ahead = n / rate - (time.time() - t0)
            if ahead > 0:
                time.sleep(ahead)
            chunk = c.recv(65536)
            if not chunk:
                notify = True
                break
            n += len(chunk)
    except (ssl.SSLError, OSError):
        pass
    c.close()
    got[path] = (n, notify)


def big_file(root, name, size=SIZE):
    with open(root / name, "wb") as f:
        f.truncate(size)          # sparse: no disk to speak of


def test_downloads_outlive_a_reload_and_a_rotation(make_server, tmp_path):
    # capsuled(8): old workers finish their responses, however long they
    # take while the reader keeps reading
    s = make_server(access_log=tmp_path / "access.log")
    big_file(s.root, "long-a.bin")
    big_file(s.root, "long-b.bin")
    s.start()
    got = {}
    a = threading.Thread(target=paced_download, args=(s, "/long-a.bin", got))
    a.start()
    time.sleep(0.5)
    reload_and_wait(s)
    b = threading.Thread(target=paced_download, args=(s, "/long-b.bin", got))
    b.start()
    time.sleep(0.5)
    os.rename(tmp_path / "access.log", tmp_path / "access.log.1")
    s.signal(signal.SIGUSR1)     # rotation retires the workers serving b
    assert wait_for(lambda: (tmp_path / "access.log").exists())
    assert s.get("/hello.txt").status == 20
    a.join(60)
    b.join(60)
    for path in ("/long-a.bin", "/long-b.bin"):
        n, notify = got[path]
        assert SIZE < n < SIZE + 100, f"{path}: {n} bytes of {SIZE} + header"
        assert notify, f"{path}: the whole response ends with close_notify"


def test_a_listener_moved_away_and_back_while_a_download_runs(make_server):
    # an old worker with a response in flight used to keep the old port
    # listening: connections to it hung, and moving back failed with
    # "Address already in use"
    s = make_server()
    big_file(s.root, "long.bin")
    s.start()
    old, new = s.port, free_port()
    got = {}
    t = threading.Thread(target=paced_download,
                         args=(s, "/long.bin", got, 8 * MB))
    t.start()
    time.sleep(0.5)
    text = s.conf.read_text()
    s.write_config(text.replace(f":{old}", f":{new}"))
    reload_and_wait(s)
    assert wait_for(lambda: refuses(old), 2), \
        "the old port is let go of at once, not left to hang"
    s.write_config(text)
    reload_and_wait(s)
    assert "Address already in use" not in s.log()
    assert s.get("/hello.txt").status == 20
    t.join(30)
    assert got["/long.bin"][1], "the download went on through both reloads"


def test_sigterm_cuts_at_stop_timeout_and_logs_what_it_cut(make_server,
                                                          tmp_path):
    log = tmp_path / "access.log"
    s = make_server(access_log=log, write_timeout=60,
                    server_extra="stop_timeout = 1")
    big_file(s.root, "long.bin")
    s.start()
    c = tls_connect(s.port, timeout=30)
    c.sendall(s.url("/long.bin").encode() + b"\r\n")
    c.recv(1000)                 # then reads no more
    t = time.time()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(15) == 0
    assert time.time() - t < 5, "stopped at stop_timeout, not later"
    c.close()
    lines = [l for l in log.read_text().splitlines() if "/long.bin" in l]
    assert len(lines) == 1, log.read_text()
    fields = lines[0].split()
    assert fields[-1] == "cut", lines[0]
    assert fields[-4] == "20" and int(fields[-3]) > 0, lines[0]


def test_a_whole_response_is_not_marked_cut(make_server, tmp_path):
    log = tmp_path / "access.log"
    s = make_server(access_log=log).start()
    assert s.get("/hello.txt").status == 20
    s.stop()
    line, = [l for l in log.read_text().splitlines() if "/hello.txt" in l]
    assert line.endswith("ms"), line


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGUSR1])
def test_sessions_resume_across_a_reload(make_server, tmp_path, version,
                                         sig):
    # no ticket_keys: the key made at start is kept until a restart
    s = make_server(access_log=tmp_path / "access.log").start()
    v = getattr(ssl.TLSVersion, version)
    ctx = client_context(maximum=v, minimum=v)
    with tls_connect(s.port, ctx=ctx) as c:
        c.sendall(s.url("/hello.txt").encode() + b"\r\n")
        while c.recv(4096):
            pass
        session = c.session
    old = set(s.worker_pids())
    if sig == signal.SIGHUP:
        reload_and_wait(s)
    else:
        s.signal(sig)
    assert wait_for(lambda: not old & set(s.worker_pids())), \
        "only new workers serve"
    with tls_connect(s.port, ctx=ctx, session=session) as c:
        c.sendall(s.url("/hello.txt").encode() + b"\r\n")
        while c.recv(4096):
            pass
        assert c.session_reused == resumes(version), \
            "the ticket from before still resumes (LibreSSL: TLS 1.2 only)"


# A wildcard address is bound only inside a network namespace of our own,
# whose one interface is its loopback: the test exposes nothing.
LO_UP = """
import fcntl, os, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913,
                      struct.pack("16sH", b"lo", 0))[:18])[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))
os.execv(sys.argv[1], sys.argv[1:])
"""
NS_GET = """
import sys
sys.path.insert(0, sys.argv[1])
from conftest import gemini
print(gemini(int(sys.argv[2]), sys.argv[3], timeout=5).status)
"""


def ns_get(s, path):
    """A request from inside the daemon's network namespace: the status,
    or 0."""
    r = subprocess.run(["nsenter", "-t", str(s.proc.pid), "-n",
                        sys.executable, "-c", NS_GET,
                        str(Path(__file__).parent), str(s.port),
                        s.url(path)], capture_output=True, text=True)
    return int(r.stdout) if r.returncode == 0 and r.stdout.strip() else 0


def test_a_reload_that_widens_a_listener_to_the_wildcard(make_server):
    # 0.0.0.0:P cannot be bound while 127.0.0.1:P listens: the old
    # workers give theirs up first, instead of "Address already in use"
    s = make_server()
    s.logfile = open(s.logpath, "ab")
    s.proc = subprocess.Popen(
        ["unshare", "-n", sys.executable, "-c", LO_UP, str(CAPSULED), "-d",
         "-c", str(s.conf)], stdout=s.logfile, stderr=s.logfile,
        start_new_session=True)
    assert wait_for(lambda: ns_get(s, "/hello.txt") == 20, 15), s.log()
    s.write_config(s.conf.read_text().replace(
        f"127.0.0.1:{s.port}", f"0.0.0.0:{s.port}"))
    reload_and_wait(s, word="reload")
    assert wait_for(lambda: "reloaded" in s.log() or
                    "reload failed" in s.log(), 10)
    assert "reloaded" in s.log() and "Address already in use" not in \
        s.log(), s.log()
    assert ns_get(s, "/hello.txt") == 20
    assert len(s.worker_pids()) == 2
