"""
Mistakes an admin makes, and what root opens on their behalf (issues 11
and 15): each gets a clear word in the log or on stderr, never a hang,
a silent failure, or a write through a planted link.
"""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CAPSULED, wait_for


def run(conf, *flags, timeout=30, stdin=subprocess.DEVNULL):
    """capsuled to its end; one that does not end (a bug) is killed with
    every process it started."""
    p = subprocess.Popen([str(CAPSULED), *flags, "-c", str(conf)],
                         stdin=stdin, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def one_line(text):
    return text.strip() != "" and "\n" not in text.strip()


# -- issue 15, item 4: a symlink planted where root writes is refused -----

def test_a_pidfile_that_is_a_symlink_is_refused(make_server, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    pidfile = tmp_path / "capsuled.pid"
    pidfile.symlink_to(victim)
    s = make_server(server_extra=f"pidfile = {pidfile}")
    p = run(s.conf, "-d")
    assert p.returncode == 1
    assert one_line(p.stderr), p.stderr
    assert f"pidfile {pidfile}: is a symbolic link (refused)" in p.stderr
    assert victim.read_text() == "precious\n", "root wrote nothing there"


def test_an_access_log_that_is_a_symlink_is_refused(make_server, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    log = tmp_path / "access.log"
    log.symlink_to(victim)
    s = make_server(access_log=log)
    p = run(s.conf, "-d")
    assert p.returncode == 1
    assert f"access_log {log}: is a symbolic link (refused)" in p.stderr
    assert victim.read_text() == "precious\n"


def test_a_symlink_planted_before_rotation_is_refused(make_server, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    log = tmp_path / "access.log"
    s = make_server(access_log=log).start()
    assert s.get("/hello.txt").status == 20
    log.rename(tmp_path / "access.log.1")
    log.symlink_to(victim)
    s.signal(signal.SIGUSR1)
    assert wait_for(lambda: "is a symbolic link (refused)" in s.log())
    assert s.get("/hello.txt").status == 20, "still serving"
    assert victim.read_text() == "precious\n"


# -- issue 11: an encrypted key fails at once, never prompts -------------

ENCRYPTED = "key is encrypted (capsuled needs an unencrypted key)"


def encrypt_key(s):
    """Replace localhost's key with the same key under a passphrase."""
    key = s.certdir / "localhost.key"
    subprocess.run(["openssl", "pkey", "-in", str(key), "-aes256",
                    "-passout", "pass:secret", "-out", str(key) + ".enc"],
                   check=True, capture_output=True)
    os.replace(str(key) + ".enc", key)
    assert "ENCRYPTED" in key.read_text()


def ensure_pair(make_server):
    """A server whose pair exists (the first start generates it)."""
    s = make_server().start()
    assert s.stop() == 0
    return s


def on_a_terminal(cmd, timeout=15):
    """cmd with a pseudo-terminal as its controlling terminal, where
    OpenSSL would prompt for a passphrase (and wait for ever)."""
    p = subprocess.Popen(["script", "-qec", "exec " + cmd, "/dev/null"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in children(p.pid):     # in the terminal's session
            os.killpg(pid, signal.SIGKILL)
        p.kill()
        p.communicate()
        raise
    return subprocess.CompletedProcess(p.args, p.returncode, out, "")


def children(pid):
    return [int(c) for c in subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)],
        capture_output=True, text=True).stdout.split()]


def test_an_encrypted_key_fails_check_at_once_even_on_a_terminal(
        make_server):
    s = ensure_pair(make_server)
    encrypt_key(s)
    p = on_a_terminal(f"{CAPSULED} -n -c {s.conf}")
    assert "pass phrase" not in p.stdout, "never prompts"
    assert ENCRYPTED in p.stdout
    assert p.returncode == 1
    p = run(s.conf, "-n")
    assert p.returncode == 1 and one_line(p.stderr), p.stderr
    assert f"localhost.key: {ENCRYPTED}" in p.stderr
    assert "UI routines" not in p.stderr


def test_an_encrypted_key_fails_start_at_once(make_server):
    s = ensure_pair(make_server)
    encrypt_key(s)
    p = run(s.conf, "-d")
    assert p.returncode == 1 and ENCRYPTED in p.stderr, p.stderr
    p = on_a_terminal(f"{CAPSULED} -d -c {s.conf}")
    assert p.returncode == 1 and ENCRYPTED in p.stdout, p.stdout


def test_an_encrypted_key_on_reload_keeps_serving_and_stops_on_sigterm(
        make_server):
    """The parent runs with a terminal: a prompt would hang the reload,
    and with it the reaping of workers and SIGTERM."""
    s = ensure_pair(make_server)
    s.logfile = open(s.logpath, "ab")
    s.proc = subprocess.Popen(
        ["script", "-qec", f"exec {CAPSULED} -d -c {s.conf}", "/dev/null"],
        stdin=subprocess.PIPE, stdout=s.logfile, stderr=s.logfile,
        start_new_session=True)
    try:
        s.wait_ready()
        daemon, = children(s.proc.pid)
        encrypt_key(s)
        os.kill(daemon, signal.SIGHUP)
        assert wait_for(lambda: ENCRYPTED in s.log(), 10), s.log()
        assert "pass phrase" not in s.log()
        assert s.get("/hello.txt").status == 20, "the old config serves"
        os.kill(daemon, signal.SIGTERM)
        assert s.proc.wait(20) == 0
    finally:
        if s.proc.poll() is None:
            for pid in children(s.proc.pid):    # its terminal's session
                os.killpg(pid, signal.SIGKILL)
            os.killpg(s.proc.pid, signal.SIGKILL)
            s.proc.wait()


# -- issue 11: -n catches what start would refuse ------------------------

def test_check_catches_a_certificate_in_a_missing_directory(make_server,
                                                            tmp_path):
    s = make_server(host_extra="")
    text = s.conf.read_text().replace(
        f"cert = {s.certdir}/localhost.crt",
        f"cert = {tmp_path}/nodir/localhost.crt").replace(
        f"key = {s.certdir}/localhost.key",
        f"key = {tmp_path}/nodir/localhost.key")
    s.write_config(text)
    p = run(s.conf, "-n")
    assert p.returncode == 1, p.stderr
    assert (f"{tmp_path}/nodir/localhost.crt cannot be generated: "
            f"directory {tmp_path}/nodir: No such file or directory") \
        in p.stderr
    assert run(s.conf, "-d").returncode == 1, "start refuses it too"


def test_check_catches_ticket_keys_that_cannot_be_read(make_server,
                                                       tmp_path):
    keys = tmp_path / "tickets"
    keys.write_bytes(os.urandom(80))
    keys.chmod(0o600)
    s = make_server(server_extra=f"ticket_keys = {keys}")
    assert run(s.conf, "-n").returncode == 0
    keys.unlink()
    p = run(s.conf, "-n")
    assert p.returncode == 1
    assert f"ticket_keys {keys}: No such file or directory" in p.stderr
    keys.mkdir()
    p = run(s.conf, "-n")
    assert p.returncode == 1 and f"ticket_keys {keys}" in p.stderr


# -- issue 11: a log that cannot be written never stops the serving ------

def test_access_log_write_failures_are_said_once_a_minute(make_server):
    s = make_server(workers=1, access_log="/dev/full").start()
    for _ in range(5):
        assert s.get("/hello.txt").status == 20, "serving goes on"
    assert wait_for(lambda: "access log /dev/full: No space left on device"
                    in s.log())
    said = [l for l in s.log().splitlines() if "access log /dev/full" in l]
    assert len(said) == 1, said
    assert "1 line(s) lost; said again each minute" in said[0]


def test_a_syslog_socket_that_never_reads_does_not_stall_a_worker(
        make_server):
    import socket
    import tempfile
    d = tempfile.mkdtemp(prefix="capsuled-log")
    path = os.path.join(d, "log")
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(path)                 # bound, never read: a stalled journald
    try:
        s = make_server(workers=1, access_log="syslog",
                        server_extra=f"syslog_socket = {path}").start()
        t = time.time()
        for _ in range(60):
            assert s.get("/hello.txt", timeout=5).status == 20
        assert time.time() - t < 30, "no request waited on the log"
        sink.setblocking(False)
        got = []
        while True:                 # what fitted before it was full
            try:
                got.append(sink.recv(4096).decode())
            except BlockingIOError:
                break
        assert any("/hello.txt" in g for g in got), got
        assert all(g.startswith("<30>") and "capsuled[" in g for g in got)
        assert len(got) < 60, "some lines were dropped, not queued"
        assert s.get("/docs/").status == 20
        sink.settimeout(5)
        note = sink.recv(4096).decode()
        assert "line(s) dropped: the log socket" in note, note
        assert "/docs/" in sink.recv(4096).decode()
    finally:
        sink.close()
        os.unlink(path)
        os.rmdir(d)


# -- issue 11: a root or cgi directory the user cannot read -------------

NOBODY = 65534


def test_a_root_the_user_cannot_read_is_said_and_answers_40(make_server):
    s = make_server(workers=1)
    s.root.chmod(0o700)             # root's own, and nobody serves it
    try:
        p = run(s.conf, "-n")
        assert p.returncode == 0, "a warning, not an error"
        assert (f"host localhost: root {s.root}: user nobody (uid {NOBODY})"
                f" cannot read and search it") in p.stderr, p.stderr
        s.start()
        assert f"root {s.root}: user nobody" in s.log()
        r = s.get("/hello.txt")
        assert (r.status, r.meta) == (40, "Temporary failure"), \
            "the admin's mistake, not a 51 NOT FOUND"
        assert wait_for(lambda: f"/hello.txt: Permission denied (uid "
                        f"{NOBODY}): fix the mode or owner of the root "
                        f"{s.root}" in s.log())
    finally:
        s.root.chmod(0o755)


def test_a_root_made_unreadable_is_said_at_reload(make_server):
    s = make_server(workers=1).start()
    s.root.chmod(0o700)
    try:
        s.signal(signal.SIGHUP)
        assert wait_for(lambda: f"root {s.root}: user nobody" in s.log())
    finally:
        s.root.chmod(0o755)


def test_a_cgi_directory_the_user_cannot_search_is_said_and_answers_42(
        make_server):
    s = make_server(workers=1)
    cgi = s.root / "cgi-bin"
    cgi.chmod(0o700)
    try:
        s.start()
        assert (f"host localhost: cgi directory cgi-bin: user nobody "
                f"(uid {NOBODY}) cannot read and search it") in s.log()
        r = s.get("/cgi-bin/env")
        assert r.status == 42, (r.status, r.meta)
        assert wait_for(lambda: "/cgi-bin/env: Permission denied (uid "
                        f"{NOBODY}): fix the mode or owner of the cgi "
                        "directory cgi-bin" in s.log())
        assert s.get("/hello.txt").status == 20, "the rest is served"
    finally:
        cgi.chmod(0o755)


def test_a_cgi_directory_replaced_after_start_is_said(make_server):
    s = make_server(workers=1).start()
    assert s.get("/cgi-bin/env").status == 20
    cgi = s.root / "cgi-bin"
    new = s.root / "cgi-bin.new"
    import shutil
    shutil.copytree(cgi, new, symlinks=True)
    cgi.rename(s.root / "cgi-bin.old")
    new.rename(cgi)                 # a deploy: the new tree renamed in
    r = s.get("/cgi-bin/env")
    assert r.status in (20, 42), r.status   # 42 under Landlock
    assert wait_for(lambda: "host localhost: cgi directory cgi-bin was "
                    "replaced after the CGI runner started" in s.log())
    s.signal(signal.SIGHUP)
    assert wait_for(lambda: "reloaded" in s.log())
    assert wait_for(lambda: s.get("/cgi-bin/env").status == 20, 5), \
        "a reload runs them"


# -- issue 11: roots and the descriptor limit ----------------------------

def fds_on(pid, path):
    """How many of pid's descriptors are open on path."""
    d = f"/proc/{pid}/fd"
    n = 0
    for fd in os.listdir(d):
        try:
            n += os.readlink(f"{d}/{fd}") == str(path)
        except OSError:
            pass
    return n


def test_hosts_that_share_a_root_share_one_descriptor(make_server):
    s = make_server(workers=1).start()      # both hosts: the same root
    assert s.root == s.root2
    assert fds_on(s.proc.pid, s.root) == 1
    worker, = s.worker_pids()
    assert fds_on(worker, s.root) == 1
    assert s.get("/hello.txt").status == 20
    s.signal(signal.SIGHUP)                 # and a reload closes it once
    assert wait_for(lambda: "reloaded" in s.log())
    assert wait_for(lambda: fds_on(s.proc.pid, s.root) == 1)
    assert s.get("/hello.txt").status == 20


def test_a_config_with_more_roots_than_descriptors_says_its_limit(
        make_server, tmp_path):
    s = make_server()
    hosts = []
    for i in range(100):
        root = tmp_path / f"r{i}"
        root.mkdir()
        hosts.append(f"[host h{i}.example]\nroot = {root}\n"
                     f"cert = {tmp_path}/h{i}.crt\nkey = {tmp_path}/h{i}.key\n")
    s.write_config(s.conf.read_text() + "\n" + "\n".join(hosts))
    p = subprocess.run(["sh", "-c", 'ulimit -n 64 && exec "$0" -n -c "$1"',
                        str(CAPSULED), str(s.conf)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert ("102 hosts with 101 roots and 2 listen addresses need at least "
            "119 descriptors, but the limit is 64") in p.stderr, p.stderr
    assert "Too many open files" not in p.stderr
