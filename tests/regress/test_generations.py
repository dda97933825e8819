"""
Processes and descriptors across reloads and stops (issue 6: "nothing
... may leak memory or descriptors"; found in review).  A reload builds a
new generation of workers and a CGI runner; nothing of the old one may
reach the new processes (an old port held open, an old root, the old
runner's socket, which would keep that runner alive for ever), a reload
that fails must leave nothing behind, and stopping must not leave CGI
scripts running after capsuled has gone.
"""
import os
import signal
import socket

import pytest

from conftest import free_port, refuses, tls_connect, wait_for

root_only = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="workers are not dumpable: only root may read their /proc/PID/fd")


def fds(pid):
    d = f"/proc/{pid}/fd"
    out = []
    for n in os.listdir(d):
        try:
            out.append(os.readlink(f"{d}/{n}"))
        except FileNotFoundError:
            pass        # the listing's own descriptor
    return sorted(out)


def reload_and_wait(s, word):
    """SIGHUP, then wait for one more log line saying `word`."""
    before = s.log().count(word)
    s.signal(signal.SIGHUP)
    assert wait_for(lambda: s.log().count(word) > before), s.log()


def running(pid):
    """Alive and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_reloads_leave_one_cgi_runner(make_server):
    s = make_server().start()
    assert s.get("/cgi-bin/env").status == 20
    for _ in range(3):
        reload_and_wait(s, "reloaded")
    # the old runners end once their workers have: nothing else may hold
    # their sockets
    assert wait_for(lambda: len(s.children("cgi")) == 1), s.children("cgi")
    assert s.get("/cgi-bin/env").status == 20


def test_a_reload_that_moves_the_port_lets_go_of_the_old_one(make_server):
    s = make_server().start()
    old, new = s.port, free_port()
    s.write_config(s.conf.read_text().replace(f":{old}", f":{new}"))
    reload_and_wait(s, "reloaded")
    s.port = new
    assert s.get("/hello.txt").status == 20
    assert wait_for(lambda: refuses(old)), \
        f"port {old} still accepts connections after the reload"


@root_only
def test_new_processes_inherit_nothing_of_the_old_generation(make_server):
    s = make_server().start()
    assert s.get("/cgi-bin/env").status == 20
    workers = s.worker_pids()
    runner, = s.children("cgi")
    before_worker, before_runner = fds(workers[0]), fds(runner)
    reload_and_wait(s, "reloaded")
    assert wait_for(lambda: len(s.children("cgi")) == 1 and
                    not set(s.worker_pids()) & set(workers))
    assert len(fds(s.worker_pids()[0])) == len(before_worker)
    assert len(fds(s.children("cgi")[0])) == len(before_runner)


@root_only
def test_no_child_holds_the_pid_file(make_server, tmp_path):
    # a process of the unprivileged user with the root-owned pid file
    # open could rewrite it (what rc scripts then kill), and hold its lock
    pidfile = tmp_path / "capsuled.pid"
    s = make_server(server_extra=f"pidfile = {pidfile}").start()
    assert s.get("/cgi-bin/env").status == 20
    for pid in s.worker_pids() + s.children("cgi"):
        assert str(pidfile) not in fds(pid), pid


def test_failed_reloads_leave_no_descriptor_in_the_parent(make_server):
    s = make_server().start()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    good = s.conf.read_text()
    before = len(os.listdir(f"/proc/{s.proc.pid}/fd"))
    s.write_config(good.replace(
        f"listen = 127.0.0.1:{s.port}",
        f"listen = 127.0.0.1:{busy.getsockname()[1]} 127.0.0.1:{s.port}"))
    for _ in range(3):
        reload_and_wait(s, "reload failed")
    busy.close()
    assert "in use" in s.log()
    assert len(os.listdir(f"/proc/{s.proc.pid}/fd")) == before
    assert s.get("/hello.txt").status == 20


def test_a_reload_failing_at_the_access_log_binds_nothing(make_server,
                                                          tmp_path):
    s = make_server().start()
    good = s.conf.read_text()
    extra = free_port()
    with_port = good.replace(f"listen = 127.0.0.1:{s.port}",
                             f"listen = 127.0.0.1:{s.port} 127.0.0.1:{extra}")
    s.write_config(with_port.replace(
        "access_log = stderr",
        f"access_log = {tmp_path}/no/such/dir/access.log"))
    reload_and_wait(s, "reload failed")
    assert "access_log" in s.log()
    assert refuses(extra), "a failed reload left a new port listening"
    # fixed, the same reload must now succeed: the port is free to bind
    s.write_config(with_port)
    reload_and_wait(s, "reloaded")
    s.port = extra
    assert s.get("/hello.txt").status == 20


def test_a_failed_reload_keeps_the_access_log_where_it_was(make_server,
                                                           tmp_path):
    s = make_server().start()
    s.write_config(s.conf.read_text().replace(
        "access_log = stderr",
        f"access_log = {tmp_path}/no/such/dir/access.log"))
    reload_and_wait(s, "reload failed")
    # workers started after the failed reload log where the old ones did
    killed = s.worker_pids()
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: len(s.worker_pids()) == 2 and
                    not set(s.worker_pids()) & set(killed))
    for i in range(4):
        assert s.get(f"/hello.txt?after-failed-reload-{i}").status == 20
    assert wait_for(lambda: all(f"after-failed-reload-{i}" in s.log()
                                for i in range(4))), s.log()


def slow_script(s, name="hang"):
    """A CGI script that sends its pids and then hangs, with a child."""
    p = s.root / "cgi-bin" / name
    p.write_text("#!/bin/sh\nsleep 300 &\n"
                 "printf '20 text/plain\\r\\n%s %s\\n' $$ $!\nwait\n")
    p.chmod(0o755)
    return f"/cgi-bin/{name}"


def start_script(s, path):
    c = tls_connect(s.port)
    c.sendall(s.url(path).encode() + b"\r\n")
    data = b""
    while data.count(b"\n") < 2:
        chunk = c.recv(100)
        assert chunk, data
        data += chunk
    pids = [int(p) for p in data.split(b"\n")[1].split()]
    assert all(running(p) for p in pids)
    return c, pids


def stop_with_a_script_running(s, hang_workers=False):
    """Stop capsuled while a script hangs; it must exit 0, script gone."""
    c, pids = start_script(s, slow_script(s))
    if hang_workers:
        for w in s.worker_pids():
            os.kill(w, signal.SIGSTOP)
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(30) == 0
    c.close()
    assert wait_for(lambda: not any(running(p) for p in pids), 2), pids


def test_stopping_ends_running_scripts_at_their_timeout(make_server):
    # the in-flight response (a script) finishes at cgi_timeout: the
    # runner must outlive the stop long enough to kill the script
    stop_with_a_script_running(make_server(cgi_timeout=2).start())


def test_stopping_kills_scripts_that_outlast_the_workers_grace(make_server):
    # a script with a long timeout: a stopping worker gives its responses
    # 10 s, then closes them, and the runner kills their scripts
    stop_with_a_script_running(make_server(cgi_timeout=120).start())


def test_stopping_with_hung_workers_still_kills_the_scripts(make_server):
    # workers that do not stop are killed after the parent's 15 s grace;
    # the runner then gets SIGTERM and kills every script it started
    stop_with_a_script_running(make_server(cgi_timeout=120).start(),
                               hang_workers=True)


def test_a_script_dies_with_a_runner_killed_outright(make_server):
    # Linux PR_SET_PDEATHSIG: the script's own process goes with its
    # runner (its children, in the same group, are the script's business)
    s = make_server(cgi_timeout=120).start()
    c, (script, child) = start_script(s, slow_script(s))
    runner, = s.children("cgi")
    os.kill(runner, signal.SIGKILL)
    assert wait_for(lambda: not running(script), 2)
    c.close()
    os.kill(child, signal.SIGKILL)      # ours to clean up: we made it
    # a new runner, not the old one still listed until it is reaped
    assert wait_for(lambda: len(s.children("cgi")) == 1 and
                    s.children("cgi") != [runner])
    assert s.get("/cgi-bin/env").status == 20


# -- issue 19.18: draining generations, stop_timeout, the cut mark --------

def listens(pid, port):
    """Does process pid hold a listening socket on port?"""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{f[9]}]")
    d = f"/proc/{pid}/fd"
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return False
    for n in names:
        try:
            if os.readlink(f"{d}/{n}") in inodes:
                return True
        except FileNotFoundError:
            pass
    return False


@root_only
def test_a_reload_past_16_draining_generations_is_refused(make_server):
    # the old workers' table had a fixed size and, full, dropped them
    # without a word: the parent lost track of workers still serving
    s = make_server(workers=1, request_timeout=60).start()
    held = []
    try:
        for _ in range(16):
            # the one serving worker takes the next idle client, held
            old = [p for p in s.worker_pids() if listens(p, s.port)]
            assert len(old) == 1
            held.append(tls_connect(s.port))
            reload_and_wait(s, "reloaded")
            assert wait_for(lambda: not listens(old[0], s.port) and
                            any(listens(p, s.port) for p in
                                s.worker_pids()), 5)
        assert len(s.worker_pids()) == 17, "16 draining, one serving"
        reload_and_wait(s, "reload refused")
        assert "16 older generations are still finishing" in s.log()
        assert s.get("/hello.txt").status == 20, "the old config serves"
    finally:
        for c in held:
            c.close()
    assert wait_for(lambda: len(s.worker_pids()) == 1, 10)
    reload_and_wait(s, "reloaded")


def test_a_reload_that_changes_stop_timeout_reaches_old_workers(make_server,
                                                                tmp_path):
    # the old workers kept the old value, and cut a response the new one
    # would have let finish
    import time
    root = tmp_path / "root"
    s = make_server(workers=1, server_extra="stop_timeout = 1")
    (root / "huge.bin").write_bytes(b"h" * (32 << 20))
    s.start()
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    raw.settimeout(30)
    raw.connect(("127.0.0.1", s.port))
    from conftest import client_context
    c = client_context().wrap_socket(raw, server_hostname="localhost",
                                     suppress_ragged_eofs=False)
    c.sendall(s.url("/huge.bin").encode() + b"\r\n")
    got = len(c.recv(65536))
    s.write_config(s.conf.read_text().replace("stop_timeout = 1",
                                              "stop_timeout = 30"))
    reload_and_wait(s, "reloaded")
    s.signal(signal.SIGTERM)
    time.sleep(2)        # past the old stop_timeout, reading nothing
    while True:
        try:
            chunk = c.recv(1 << 20)
        except OSError:
            break
        if not chunk:
            break
        got += len(chunk)
    c.close()
    assert got > 32 << 20, f"cut after {got} bytes"
    s.proc.wait(30)
    lines = [l for l in s.log().splitlines() if "/huge.bin" in l]
    assert lines and not lines[-1].endswith(" cut"), lines


def test_stopping_cuts_only_exchanges_under_way(make_server):
    # an idle connection with a handshake done was logged as cut, with
    # an empty request; a response cut short is, and " cut" ends its line
    s = make_server(workers=1, request_timeout=60,
                    server_extra="stop_timeout = 1").start()
    idle = tls_connect(s.port)
    busy = tls_connect(s.port, timeout=30)
    busy.sendall(s.url("/cgi-bin/trickle").encode() + b"\r\n")
    assert busy.recv(100).startswith(b"20 ")
    s.signal(signal.SIGTERM)
    s.proc.wait(20)
    idle.close()
    busy.close()
    log = s.log().splitlines()
    trickle = [l for l in log if "/cgi-bin/trickle" in l]
    assert trickle and trickle[-1].endswith(" cut"), trickle
    assert not [l for l in log if '""' in l and l.endswith(" cut")], log
