"""
Privileges and the sandbox (issue 6): started as root, workers drop to
the configured user, with no supplementary groups, NO_NEW_PRIVS, and
(Landlock) no reading outside the host roots.  These need root to start
capsuled as root; CI runs as root.
"""
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import CAPSULED

root_only = pytest.mark.skipif(os.geteuid() != 0,
                               reason="starting capsuled as root needs root")

NOBODY = pwd.getpwnam("nobody")


def status_fields(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.split()
    return fields


def run_check(conf):
    return subprocess.run([str(CAPSULED), "-n", "-c", str(conf)],
                          capture_output=True, text=True, timeout=30)


def start_fails(s):
    p = subprocess.run([str(CAPSULED), "-d", "-c", str(s.conf)],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stderr


def gdb_open(pid, path, dirfd=None):
    """open(path) inside process pid: the fd, or -1 when refused."""
    call = (f'call (int)openat({dirfd}, "{path}", 0)' if dirfd is not None
            else f'call (int)open("{path}", 0)')
    out = subprocess.run(
        ["gdb", "-p", str(pid), "-batch", "-nx", "-ex", call],
        capture_output=True, text=True, timeout=60).stdout
    vals = [l.split("=")[1].strip() for l in out.splitlines()
            if l.startswith("$1 =")]
    assert vals, out
    return int(vals[0])


@root_only
def test_workers_run_as_the_user_with_no_groups_and_no_new_privs(
        make_server):
    s = make_server().start()
    workers = s.worker_pids()
    assert len(workers) == 2
    for pid in workers:
        st = status_fields(pid)
        assert st["Uid"] == [str(NOBODY.pw_uid)] * 4, "real, eff, saved, fs"
        assert st["Gid"] == [str(NOBODY.pw_gid)] * 4
        assert st["Groups"] == [str(NOBODY.pw_gid)], "no root groups left"
        assert st["NoNewPrivs"] == ["1"]
    assert status_fields(s.proc.pid)["Uid"][0] == "0", \
        "the parent stays root: it rebinds and rereads keys on reload"
    assert "sandbox: workers run as nobody" in s.log()
    assert s.get("/hello.txt").status == 20


@root_only
@pytest.mark.skipif(shutil.which("gdb") is None, reason="needs gdb")
def test_a_worker_cannot_open_files_outside_the_roots(make_server, tmp_path):
    s = make_server().start()
    if "Landlock ABI" not in s.log():
        pytest.skip("this kernel has no Landlock")
    outside = tmp_path / "world-readable.txt"
    outside.write_text("not for workers\n")
    os.chmod(outside, 0o644)
    os.chmod(tmp_path, 0o755)      # so only Landlock can say no
    pid = s.worker_pids()[0]
    rootfd = [int(fd) for fd in os.listdir(f"/proc/{pid}/fd")
              if os.readlink(f"/proc/{pid}/fd/{fd}") == str(s.root)][0]
    assert gdb_open(pid, "/etc/passwd") == -1, "world-readable, not a root"
    assert gdb_open(pid, "../world-readable.txt", rootfd) == -1, \
        "up out of the root by hand, past fs.c"
    assert gdb_open(pid, "../certs/localhost.key", rootfd) == -1, \
        "the private key is out of a worker's reach after the drop"
    assert gdb_open(pid, "hello.txt", rootfd) >= 0, \
        "files beneath a root stay readable"
    assert s.get("/hello.txt").status == 20, "the worker survived gdb"
    # gdb left its strings malloc'd in the worker (LeakSanitizer would
    # say so at exit): discard it; the parent starts another
    os.kill(pid, signal.SIGKILL)


@root_only
def test_a_user_that_does_not_exist_fails_at_start(make_server):
    s = make_server(user="no-such-user-capsuled")
    rc, err = start_fails(s)
    assert rc == 1
    assert "user no-such-user-capsuled does not exist" in err, err
    assert run_check(s.conf).returncode == 1, "-n catches it too"


@root_only
def test_workers_never_run_as_root(make_server):
    s = make_server(user="root")
    rc, err = start_fails(s)
    assert rc == 1 and "never run as root" in err, err


def test_a_user_name_with_odd_characters_is_a_config_error(make_server):
    s = make_server(user="x;rm -rf")
    r = run_check(s.conf)
    assert r.returncode == 1 and "is not a user name" in r.stderr


@root_only
def test_workers_chroot_to_the_configured_directory(make_server, tmp_path):
    jail = tmp_path / "jail"
    jail.mkdir()
    from conftest import build_capsule
    root = build_capsule(jail / "root")
    s = make_server(root=root, root2=root,
                    server_extra=f"chroot = {jail}").start()
    for pid in s.worker_pids():
        assert os.readlink(f"/proc/{pid}/root") == str(jail)
    assert os.readlink(f"/proc/{s.proc.pid}/root") == "/"
    r = s.get("/hello.txt")
    assert r.status == 20 and r.body == b"hello\n"
    assert s.get("/listed/").status == 20, "autoindex inside the jail"
    assert s.get("/escape.txt").status == 51


@root_only
def test_a_root_outside_the_chroot_is_an_error(make_server, tmp_path):
    jail = tmp_path / "jail"
    jail.mkdir()
    s = make_server(server_extra=f"chroot = {jail}")
    r = run_check(s.conf)
    assert r.returncode == 1 and "is not inside chroot" in r.stderr, \
        r.stderr


@pytest.fixture
def nobody_dir():
    """A directory nobody can reach (pytest's own are root-only)."""
    d = tempfile.mkdtemp(prefix="capsuled-nobody-")
    os.chmod(d, 0o755)
    yield Path(d)
    shutil.rmtree(d)


@root_only
def test_not_started_as_root_it_runs_as_the_current_user_and_says_so(
        nobody_dir):
    from conftest import Server, build_capsule
    s = Server(nobody_dir, build_capsule(nobody_dir / "root"),
               user="daemon")      # cannot switch users: ignored
    for p in [nobody_dir, *nobody_dir.rglob("*")]:
        os.chown(p, NOBODY.pw_uid, NOBODY.pw_gid, follow_symlinks=False)
    s.logfile = open(s.logpath, "ab")
    s.proc = subprocess.Popen(
        ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}",
         "--clear-groups", str(CAPSULED), "-d", "-c", str(s.conf)],
        stdout=s.logfile, stderr=s.logfile, start_new_session=True)
    try:
        s.wait_ready()
        assert "not started as root: workers run as uid 65534" in s.log()
        for pid in s.worker_pids():
            assert status_fields(pid)["NoNewPrivs"] == ["1"]
        assert s.get("/hello.txt").status == 20
    finally:
        assert s.stop() == 0


def test_log_rotation_renews_workers_onto_the_new_file(make_server, tmp_path):
    log = tmp_path / "access.log"
    s = make_server(access_log=log).start()
    assert s.get("/hello.txt").status == 20
    before = s.worker_pids()
    os.rename(log, tmp_path / "access.log.1")
    s.signal(signal.SIGUSR1)
    deadline = time.time() + 5
    while time.time() < deadline and set(s.worker_pids()) & set(before):
        time.sleep(0.05)
    assert not set(s.worker_pids()) & set(before)
    assert s.get("/docs/").status == 20
    time.sleep(0.2)
    assert "/docs/" in log.read_text()
    assert "/docs/" not in (tmp_path / "access.log.1").read_text()


PROBE = r"""#!/bin/sh
printf '20 text/plain\r\n'
echo "uid $(id -u)"
grep NoNewPrivs /proc/self/status
cat /etc/hostname >/dev/null 2>&1 && echo "read /etc/hostname" ||
    echo "no /etc/hostname"
cat ../../outside.txt >/dev/null 2>&1 && echo "read outside" ||
    echo "no outside"
cat ../hello.txt >/dev/null 2>&1 && echo "read the root" ||
    echo "no root"
(echo x > ../open/written) 2>/dev/null && echo "wrote" || echo "no write"
kill -0 "$(cat ../open/workerpid)" 2>/dev/null && echo "signalled" ||
    echo "no signal"
"""


@root_only
def test_the_cgi_runner_and_its_scripts_are_confined(make_server, tmp_path):
    s = make_server().start()
    runner = s.children("cgi")
    assert len(runner) == 1
    st = status_fields(runner[0])
    assert st["Uid"] == [str(NOBODY.pw_uid)] * 4
    assert st["Groups"] == [str(NOBODY.pw_gid)]
    assert st["NoNewPrivs"] == ["1"]
    worker = s.worker_pids()[0]
    os.chmod(tmp_path, 0o755)          # so only the sandbox can say no
    (tmp_path / "outside.txt").write_text("outside\n")
    (tmp_path / "outside.txt").chmod(0o644)
    open_dir = s.root / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    (open_dir / "workerpid").write_text(f"{worker}\n")
    probe = s.root / "cgi-bin" / "probe"
    probe.write_text(PROBE)
    probe.chmod(0o755)
    r = s.get("/cgi-bin/probe")
    assert r.status == 20, r
    out = r.body.decode().splitlines()
    assert out[0] == f"uid {NOBODY.pw_uid}"
    assert out[1].split() == ["NoNewPrivs:", "1"]
    assert "read the root" in out, "scripts read the capsule"
    if "Landlock ABI" not in s.log():
        pytest.skip("this kernel has no Landlock")
    assert "no /etc/hostname" in out, "not all of /etc: keys live there"
    assert "no outside" in out
    assert "no write" in out, "nothing writable, even with mode 0777"
    abi = int(s.log().split("Landlock ABI ")[1].split()[0])
    if abi >= 6:
        assert "no signal" in out, "scripts cannot signal the workers"
