"""
The daemon as a process: flags, config errors, certificates, reload,
worker restarts, graceful stop, and clients that must not block others.
"""
import os
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

from conftest import CAPSULED, gemini, read_response, tls_connect


def run_check(conf):
    return subprocess.run([str(CAPSULED), "-n", "-c", str(conf)],
                          capture_output=True, text=True, timeout=30)


def test_check_flag_accepts_a_good_config(make_server):
    s = make_server()
    s.start()           # makes the certificates
    s.stop()
    r = run_check(s.conf)
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stderr


def line_of(text, marker):
    return text[:text.index(marker)].count("\n") + 1


@pytest.mark.parametrize("old,new,marker,words", [
    ("workers = 2", "workers = 2\nbogus = 1", "bogus", 'unknown key "bogus"'),
    ("[host example.org]", "[hots typo]\nroot = /\n[host example.org]",
     "[hots", "unknown section"),
    ("workers = 2", "workers = many", "workers", "workers"),
    ("request_timeout = 3", "request_timeout = -1", "request_timeout",
     "request_timeout"),
    ("listen = 127.0.0.1", "listen = localhost", "listen", "listen"),
    ("autoindex = on", "autoindex = maybe", "autoindex", "autoindex"),
    ("lang = en-GB", "lang = en GB!", "lang", "lang"),
    ("workers = 2", "workers = 2\nworkers = 3", "workers = 3", "twice"),
    ("workers = 2", "workers = 2\njust words", "just words", "syntax"),
])
def test_config_errors_name_file_and_line(make_server, old, new, marker,
                                          words):
    s = make_server()
    text = s.conf.read_text().replace(old, new, 1)
    s.write_config(text)
    r = run_check(s.conf)
    assert r.returncode == 1
    line = line_of(text, marker)
    assert f"{s.conf}:{line}:" in r.stderr and words in r.stderr, r.stderr


def test_missing_root_is_an_error_naming_the_host(make_server, tmp_path):
    s = make_server(root=tmp_path / "nope")
    r = run_check(s.conf)
    line = line_of(s.conf.read_text(), "[host localhost]")
    assert r.returncode == 1 and "nope" in r.stderr
    assert f":{line}:" in r.stderr


def test_relative_paths_resolve_against_the_config_directory(make_server,
                                                             tmp_path):
    s = make_server()
    text = s.conf.read_text().replace(f"root = {s.root}", "root = root", 1)
    s.write_config(text)
    s.start()
    assert s.get("/hello.txt").status == 20


def test_generated_certificate_is_ecdsa_p256_for_the_host(make_server):
    s = make_server().start()
    crt, key = s.certdir / "localhost.crt", s.certdir / "localhost.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    text = subprocess.run(["openssl", "x509", "-in", str(crt), "-noout",
                           "-text"], capture_output=True, text=True).stdout
    assert "prime256v1" in text or "P-256" in text
    assert "DNS:localhost" in text
    end = subprocess.run(["openssl", "x509", "-in", str(crt), "-noout",
                          "-checkend", str(9 * 365 * 86400)])
    assert end.returncode == 0, "valid for ten years"
    assert "generated a self-signed" in s.log()


def test_existing_certificate_is_never_overwritten(make_server):
    s = make_server()
    (s.certdir / "localhost.crt").write_text("not a cert\n")
    p = subprocess.run([str(CAPSULED), "-d", "-c", str(s.conf)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "not generating" in p.stderr
    assert (s.certdir / "localhost.crt").read_text() == "not a cert\n"


def test_check_mode_loads_the_pairs_that_exist(make_server):
    # -n with example.org's pair still to be generated must still load
    # localhost's: a broken certificate is found before the start
    s = make_server()
    crt, key = s.certdir / "localhost.crt", s.certdir / "localhost.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "1", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    assert run_check(s.conf).returncode == 0
    crt.write_text("not a cert\n")
    r = run_check(s.conf)
    assert r.returncode == 1 and str(crt) in r.stderr, r.stderr
    host = line_of(s.conf.read_text(), "[host localhost]")
    assert f"{s.conf}:{host}: {crt}: cannot load certificate" in r.stderr
    assert "example.org.key will be generated at start" in r.stderr


def test_port_in_use_is_one_clear_line_and_exit_1(make_server):
    s = make_server()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", s.port))
        busy.listen()
        p = subprocess.run([str(CAPSULED), "-d", "-c", str(s.conf)],
                           capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert f"listen 127.0.0.1:{s.port}" in p.stderr
    assert "in use" in p.stderr


def test_sighup_reload_changes_root_and_keeps_serving(make_server, tmp_path):
    s = make_server().start()
    other = tmp_path / "other"
    other.mkdir()
    (other / "index.gmi").write_text("# Reloaded\n")
    s.write_config(s.conf.read_text().replace(f"root = {s.root}",
                                              f"root = {other}", 1))
    s.signal(signal.SIGHUP)
    deadline = time.time() + 5
    while time.time() < deadline:
        if s.get("/").body == b"# Reloaded\n":
            break
        time.sleep(0.1)
    assert s.get("/").body == b"# Reloaded\n"


def test_bad_reload_keeps_the_old_config_and_says_why(make_server):
    s = make_server().start()
    good = s.conf.read_text()
    s.write_config(good.replace("workers = 2", "workers = 2\noops"))
    s.signal(signal.SIGHUP)
    time.sleep(0.5)
    assert s.get("/hello.txt").status == 20
    line = line_of(s.conf.read_text(), "oops")
    assert "reload failed" in s.log() and f"{s.conf}:{line}:" in s.log()


def test_reload_keeps_in_flight_responses_running(make_server, capsule_dir):
    s = make_server().start()
    with tls_connect(s.port) as c:
        c.sendall(s.url("/big.bin").encode() + b"\r\n")
        first = c.recv(1000)
        s.signal(signal.SIGHUP)
        time.sleep(0.3)
        r = read_response(c)
    assert len(first) + len(r.header) + len(r.body) + 2 >= 3 * 1024 * 1024
    assert r.close_notify


def test_a_worker_that_dies_is_restarted(make_server):
    s = make_server().start()
    before = s.worker_pids()
    assert len(before) == 2
    os.kill(before[0], signal.SIGKILL)
    deadline = time.time() + 5
    while time.time() < deadline:
        now = s.worker_pids()
        if len(now) == 2 and before[0] not in now:
            break
        time.sleep(0.1)
    assert len(now) == 2 and before[0] not in now
    for _ in range(4):
        assert s.get("/hello.txt").status == 20


def test_sigterm_finishes_in_flight_responses_then_exits_0(make_server):
    s = make_server(write_timeout=10).start()
    c = tls_connect(s.port)
    c.sendall(s.url("/big.bin").encode() + b"\r\n")
    c.recv(100)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    r = read_response(c)
    c.close()
    assert r.close_notify
    assert s.proc.wait(20) == 0


def test_slow_clients_do_not_delay_others(make_server):
    s = make_server(workers=1).start()
    idle = []
    for _ in range(50):      # connected, never a byte
        idle.append(socket.create_connection(("127.0.0.1", s.port)))
    for _ in range(20):      # handshaken, half a request
        c = tls_connect(s.port)
        c.sendall(b"gemini://localhost")
        idle.append(c)
    slow = tls_connect(s.port)   # asks for 3 MB and does not read
    slow.sendall(s.url("/big.bin").encode() + b"\r\n")
    idle.append(slow)
    try:
        for _ in range(10):
            t = time.time()
            assert s.get("/hello.txt").status == 20
            assert time.time() - t < 1.0
    finally:
        for c in idle:
            c.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_whole_process_group_stops_cleanly(make_server, sig):
    # ^C in `make run` signals every process of the group at once: the
    # parent must still reap everyone (the CGI runner too) and exit 0.
    s = make_server().start()
    assert s.get("/cgi-bin/env").status == 20
    os.killpg(s.proc.pid, sig)
    assert s.proc.wait(15) == 0
    assert "stopped" in s.log()
