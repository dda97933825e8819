"""
Operations: the pid file and its lock, log rotation with SIGUSR1, log
lines without control characters, start-up errors that say one thing and
exit before daemonising, the syslog facility, and reloads that add and
remove hosts and change certificates.
"""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (CAPSULED, free_port, gemini, read_response,
                      tls_connect, wait_for)


def run(conf, *flags, timeout=30):
    return subprocess.run([str(CAPSULED), *flags, "-c", str(conf)],
                          capture_output=True, text=True, timeout=timeout)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def one_line(text):
    return text.strip() != "" and "\n" not in text.strip()


# -- the pid file ---------------------------------------------------------

def test_pidfile_holds_the_parents_pid_and_goes_on_clean_exit(make_server,
                                                             tmp_path):
    pidfile = tmp_path / "capsuled.pid"
    s = make_server(server_extra=f"pidfile = {pidfile}").start()
    assert pidfile.read_text() == f"{s.proc.pid}\n"
    assert s.stop() == 0
    assert not pidfile.exists()


def test_second_instance_on_the_same_pidfile_refuses_and_says_why(
        make_server, tmp_path):
    pidfile = tmp_path / "capsuled.pid"
    s = make_server(server_extra=f"pidfile = {pidfile}").start()
    p = run(s.conf, "-d")
    assert p.returncode == 1
    assert one_line(p.stderr), p.stderr
    assert str(pidfile) in p.stderr
    assert f"already running (pid {s.proc.pid})" in p.stderr
    # the first one is untouched: same pid file, still serving
    assert pidfile.read_text() == f"{s.proc.pid}\n"
    assert s.get("/hello.txt").status == 20


def test_daemon_writes_its_pid_before_the_foreground_process_exits(
        make_server, tmp_path):
    pidfile = tmp_path / "capsuled.pid"
    s = make_server(server_extra=f"pidfile = {pidfile}")
    p = run(s.conf)                 # no -d: goes into the background
    assert p.returncode == 0, p.stderr
    pid = int(pidfile.read_text())  # there as soon as we are back
    try:
        assert alive(pid)
        assert wait_for(lambda: _answers(s))
    finally:
        os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not alive(pid), 20)
    assert wait_for(lambda: not pidfile.exists())


def _answers(s):
    try:
        return s.get("/hello.txt", timeout=2).status == 20
    except OSError:
        return False


def test_a_stale_pidfile_from_a_dead_daemon_is_taken_over(make_server,
                                                         tmp_path):
    pidfile = tmp_path / "capsuled.pid"
    pidfile.write_text("999999\n")  # nobody holds the lock
    s = make_server(server_extra=f"pidfile = {pidfile}").start()
    assert pidfile.read_text() == f"{s.proc.pid}\n"


# -- logs -----------------------------------------------------------------

def test_sigusr1_reopens_the_access_log_after_rotation(make_server,
                                                      tmp_path):
    log = tmp_path / "access.log"
    s = make_server(access_log=log).start()
    assert s.get("/hello.txt").status == 20
    assert wait_for(lambda: log.exists() and "/hello.txt" in log.read_text())
    rotated = tmp_path / "access.log.1"
    log.rename(rotated)
    s.signal(signal.SIGUSR1)
    assert wait_for(log.exists), "the parent reopens at once"
    time.sleep(0.3)                 # the workers reopen on their signal
    for _ in range(4):              # every worker gets one
        assert s.get("/docs/").status == 20
    assert wait_for(lambda: log.read_text().count("/docs/") == 4)
    assert "/docs/" not in rotated.read_text()
    assert "/hello.txt" not in log.read_text()


def test_log_lines_never_carry_raw_control_characters(make_server,
                                                     tmp_path):
    log = tmp_path / "access.log"
    s = make_server(access_log=log).start()
    nasty = (f"gemini://localhost:{s.port}/\x1b[2J\x07\x08\x7f\"\\"
             .encode() + b"\r\n")
    assert s.request(nasty).status == 59
    s.request(b"\x1b]0;owned\x07\x00\n\r\n")
    assert wait_for(lambda: "owned" in log.read_text())
    data = log.read_bytes()
    for line in data.split(b"\n"):
        assert not any(b < 0x20 or b == 0x7f for b in line), line
    assert b"\\x1b[2J\\x07\\x08\\x7f\\x22\\x5c" in data
    assert b"\\x1b]0;owned\\x07\\x00\\x0a" in data


def test_syslog_facility_takes_daemon_and_local0_to_local7(make_server):
    s = make_server(server_extra="syslog_facility = local3")
    assert run(s.conf, "-n").returncode == 0
    s.write_config(s.conf.read_text().replace("local3", "kern"))
    p = run(s.conf, "-n")
    line = s.conf.read_text().split("syslog_facility")[0].count("\n") + 1
    assert p.returncode == 1
    assert f"{s.conf}:{line}: syslog_facility" in p.stderr


# -- start-up errors: non-zero, one line, nothing left running -------------

def keygen(key, crt, cn="localhost"):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(crt), "-days", "30",
                    "-subj", f"/CN={cn}", "-addext",
                    f"subjectAltName=DNS:{cn}"],
                   check=True, capture_output=True)


def certs(s):
    """Both hosts' pairs made beforehand, so nothing else is said."""
    for name in ("localhost", "example.org"):
        keygen(s.certdir / f"{name}.key", s.certdir / f"{name}.crt", name)


def break_key(s, how):
    key = s.certdir / "localhost.key"
    certs(s)
    if how == "garbage":
        key.write_text("-----BEGIN PRIVATE KEY-----\nnope\n")
    elif how == "directory":
        key.unlink()
        key.mkdir()
    elif how == "mismatch":
        keygen(s.certdir / "other.key", s.certdir / "other.crt")
        os.replace(s.certdir / "other.key", key)
    return key


@pytest.mark.parametrize("how", ["garbage", "directory", "mismatch"])
@pytest.mark.parametrize("flags", [["-d"], []], ids=["foreground",
                                                      "daemon"])
def test_a_bad_key_is_one_line_and_exit_1(make_server, how, flags):
    s = make_server()
    key = break_key(s, how)
    p = run(s.conf, *flags)
    assert p.returncode == 1
    assert one_line(p.stderr), p.stderr
    assert str(key) in p.stderr
    assert p.stderr.startswith("capsuled: ")
    assert not _answers(s), "nothing may be left serving"


@pytest.mark.parametrize("flags", [["-d"], []], ids=["foreground",
                                                      "daemon"])
def test_port_in_use_and_bad_config_exit_before_daemonising(make_server,
                                                           flags):
    s = make_server()
    certs(s)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", s.port))
        busy.listen()
        p = run(s.conf, *flags)
    assert p.returncode == 1 and one_line(p.stderr), p.stderr
    assert "in use" in p.stderr
    s.write_config(s.conf.read_text().replace("workers = 2", "workers = x"))
    p = run(s.conf, *flags)
    assert p.returncode == 1 and one_line(p.stderr), p.stderr
    assert f"{s.conf}:" in p.stderr


@pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("setpriv"),
                    reason="as root, needs setpriv to run as nobody")
def test_a_key_the_daemon_may_not_read_is_one_line_and_exit_1():
    # Root reads anything, so as root run the daemon as nobody against a
    # key only root may read; otherwise a mode 000 key does the same.
    root = os.geteuid() == 0
    d = Path(tempfile.mkdtemp(prefix="capsuled-unreadable-"))
    try:
        d.chmod(0o755)
        (d / "root").mkdir()
        (d / "root" / "index.gmi").write_text("# hi\n")
        keygen(d / "k.key", d / "k.crt")
        (d / "k.crt").chmod(0o644)
        (d / "k.key").chmod(0o600 if root else 0)
        (d / "c.ini").write_text(
            "[server]\nlisten = 127.0.0.1:%d\n[host localhost]\n"
            "root = root\ncert = k.crt\nkey = k.key\n" % free_port())
        (d / "c.ini").chmod(0o644)
        exe = shutil.copy2(CAPSULED, d / "capsuled")  # wherever we live
        nobody = ["setpriv", "--reuid=65534", "--regid=65534",
                  "--clear-groups"] if root else []
        p = subprocess.run(nobody + [str(exe), "-d", "-c", str(d / "c.ini")],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and one_line(p.stderr), p.stderr
        assert f"{d}/k.key: key for host localhost: Permission denied" \
            in p.stderr
    finally:
        shutil.rmtree(d)


def test_unreadable_config_is_one_line(tmp_path):
    p = run(tmp_path / "missing.ini")
    assert p.returncode == 1 and one_line(p.stderr)
    assert "No such file" in p.stderr


# -- reloads: hosts and certificates --------------------------------------

def fingerprint(port, sni="localhost"):
    with tls_connect(port, sni) as c:
        return c.getpeercert(binary_form=True)


def reload_until(s, cond, timeout=5):
    s.signal(signal.SIGHUP)
    return wait_for(cond, timeout)


NEW_HOST = """
[host news.example]
root = {root}
cert = {certdir}/news.example.crt
key = {certdir}/news.example.key
"""


def test_reload_adds_a_host(make_server, tmp_path):
    s = make_server().start()
    url = f"gemini://news.example:{s.port}/"
    assert gemini(s.port, url, sni="news.example").status == 53
    root = tmp_path / "news"
    root.mkdir()
    (root / "index.gmi").write_text("# News\n")
    s.write_config(s.conf.read_text() +
                   NEW_HOST.format(root=root, certdir=s.certdir))
    assert reload_until(s, lambda: gemini(s.port, url, sni="news.example")
                        .status == 20)
    assert gemini(s.port, url, sni="news.example").body == b"# News\n"
    assert (s.certdir / "news.example.crt").exists(), "made at reload"
    assert fingerprint(s.port, "news.example") != fingerprint(s.port)


def test_reload_removes_a_host(make_server):
    s = make_server().start()
    url = f"gemini://example.org:{s.port}/"
    assert gemini(s.port, url, sni="example.org").status == 20
    text = s.conf.read_text()
    s.write_config(text[:text.index("[host example.org]")])
    assert reload_until(s, lambda: gemini(s.port, url, sni="example.org")
                        .status == 53)
    assert s.get("/hello.txt").status == 20


def test_reload_changes_a_certificate_and_keeps_in_flight_ones(make_server):
    s = make_server().start()
    old = fingerprint(s.port)
    early = tls_connect(s.port)         # handshaken on the old config
    assert early.getpeercert(binary_form=True) == old
    keygen(s.certdir / "new.key", s.certdir / "new.crt")
    s.write_config(s.conf.read_text()
                   .replace("localhost.crt", "new.crt")
                   .replace("localhost.key", "new.key"))
    assert reload_until(s, lambda: fingerprint(s.port) != old)
    new = subprocess.run(["openssl", "x509", "-in",
                          str(s.certdir / "new.crt"), "-outform", "DER"],
                         capture_output=True, check=True).stdout
    assert fingerprint(s.port) == new
    early.sendall(s.url("/hello.txt").encode() + b"\r\n")
    r = read_response(early)
    early.close()
    assert r.status == 20 and r.body == b"hello\n" and r.close_notify


def test_reload_with_a_broken_new_certificate_keeps_the_old_one(make_server):
    s = make_server().start()
    old = fingerprint(s.port)
    (s.certdir / "bad.crt").write_text("not a certificate\n")
    (s.certdir / "bad.key").write_text("not a key\n")
    s.write_config(s.conf.read_text().replace("localhost.crt", "bad.crt")
                   .replace("localhost.key", "bad.key"))
    s.signal(signal.SIGHUP)
    assert wait_for(lambda: "reload failed" in s.log())
    assert "bad.crt" in s.log()
    assert fingerprint(s.port) == old
    assert s.get("/hello.txt").status == 20


# -- systemd's readiness protocol (Type=notify) ----------------------------

def test_tells_the_service_manager_ready_reloading_stopping(make_server,
                                                            tmp_path):
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as n:
        n.bind(str(path))
        n.settimeout(10)
        s = make_server()
        s.logfile = open(s.logpath, "ab")
        s.proc = subprocess.Popen(
            [str(CAPSULED), "-d", "-c", str(s.conf)],
            env=dict(os.environ, NOTIFY_SOCKET=str(path)),
            stdout=s.logfile, stderr=s.logfile, start_new_session=True)
        assert n.recv(100) == b"READY=1"
        assert s.get("/hello.txt").status == 20, "ready means serving"
        s.signal(signal.SIGHUP)
        assert n.recv(100) == b"RELOADING=1"
        assert n.recv(100) == b"READY=1"
        s.signal(signal.SIGTERM)
        assert n.recv(100) == b"STOPPING=1"
        assert s.proc.wait(20) == 0
