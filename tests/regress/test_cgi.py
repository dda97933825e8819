"""
The CGI hook through the real daemon: the environment, the header check
(status 42 for anything wrong, Gemini protocol: "42 CGI error"),
timeouts, output caps, and no process, zombie or descriptor left behind.
The fixture scripts are in conftest.CGI_SCRIPTS.
"""
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import client_context, gemini, read_response, tls_connect


def env_of(r):
    assert r.status == 20, (r.status, r.meta)
    return dict(line.split("=", 1) for line in r.body.decode().splitlines()
                if "=" in line)


def cwd_of(pid):
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def script_processes(root):
    """Processes running a fixture script, matched by its path or their
    working directory (the runner starts "./name" in the script's
    directory, and children inherit it), and zombies a CGI runner has
    not reaped.  Nothing else on the machine counts."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,stat=,comm=,args="],
                         capture_output=True, text=True).stdout
    rows = [l.split(None, 4) + [""] for l in out.splitlines()]
    runners = {r[0] for r in rows if r[3] == "capsuled-cgi"}
    # a zombie has no cwd: it is ours if it bears one of this capsule's
    # script names (comm is cut to 15 bytes); another daemon's scripts,
    # from a test running beside this one, are not
    cgi = Path(root) / "cgi-bin"
    scripts = {n[:15] for n in os.listdir(cgi)} if cgi.is_dir() else set()
    marker = str(root)
    return [" ".join(r).strip() for r in rows
            if marker in r[4] or cwd_of(r[0]).startswith(marker) or
            (r[2].startswith("Z") and r[1] in runners and r[3] in scripts)]


def wait_no_processes(root, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        left = script_processes(root)
        if not left:
            return []
        time.sleep(0.1)
    return script_processes(root)


def test_cgi_environment_has_the_gemini_variables(server):
    env = env_of(server.get("/cgi-bin/env"))
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["SERVER_PROTOCOL"] == "GEMINI"
    assert env["SERVER_SOFTWARE"].startswith("capsuled/")
    assert env["SERVER_NAME"] == "localhost"
    assert env["SERVER_PORT"] == str(server.port)
    assert env["GEMINI_URL"] == server.url("/cgi-bin/env")
    assert env["GEMINI_URL_PATH"] == "/cgi-bin/env"
    assert env["SCRIPT_NAME"] == "/cgi-bin/env"
    assert env["PATH_INFO"] == ""
    assert env["QUERY_STRING"] == ""
    # log_ip's default, truncated: a script sees what the logs keep
    assert env["REMOTE_ADDR"] == "127.0.0.0"
    assert env["REMOTE_HOST"] == "127.0.0.0"
    assert "REMOTE_PORT" not in env
    assert env["TLS_VERSION"] == "TLSv1.3"
    assert env["TLS_CIPHER"].startswith("TLS_")
    assert env["PATH"] == "/usr/bin:/bin"
    assert "AUTH_TYPE" not in env, "no certificate, no AUTH_TYPE"


def test_cgi_environment_inherits_nothing_from_the_daemon(server):
    env = env_of(server.get("/cgi-bin/env"))
    allowed = {"GATEWAY_INTERFACE", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
               "SERVER_NAME", "SERVER_PORT", "GEMINI_URL", "GEMINI_URL_PATH",
               "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR",
               "REMOTE_HOST", "REMOTE_PORT", "TLS_VERSION", "TLS_CIPHER",
               "PATH", "PWD", "SHLVL", "_"}   # the last three: sh's own
    assert set(env) <= allowed, set(env) - allowed


def test_path_info_is_the_rest_of_the_path_and_query_stays_raw(server):
    env = env_of(server.get("/cgi-bin/env/mental-health/x%20y?a%20b&c=%2F"))
    assert env["SCRIPT_NAME"] == "/cgi-bin/env"
    assert env["PATH_INFO"] == "/mental-health/x y"
    assert env["QUERY_STRING"] == "a%20b&c=%2F"


def test_script_in_a_subdirectory_of_the_cgi_directory_runs(server):
    env = env_of(server.get("/cgi-bin/sub/nested/more"))
    assert env["SCRIPT_NAME"] == "/cgi-bin/sub/nested"
    assert env["PATH_INFO"] == "/more"


def test_client_certificate_variables(server, tmp_path):
    cert, key = tmp_path / "c.crt", tmp_path / "c.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=branch reader", "-days", "30",
                    "-set_serial", "0x1234ABCD",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    fp = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout",
                         "-fingerprint", "-sha256"], capture_output=True,
                        text=True).stdout.strip().split("=", 1)[1]
    ctx = client_context(cert=str(cert), key=str(key))
    env = env_of(gemini(server.port, server.url("/cgi-bin/env"), ctx=ctx))
    assert env["AUTH_TYPE"] == "CERTIFICATE"
    assert env["REMOTE_USER"] == "branch reader"
    assert env["TLS_CLIENT_HASH"] == "SHA256:" + fp.replace(":", "")
    assert env["TLS_CLIENT_SERIAL_NUMBER"] == "1234ABCD"
    for k in ("TLS_CLIENT_NOT_BEFORE", "TLS_CLIENT_NOT_AFTER"):
        assert len(env[k]) == 20 and env[k][10] == "T" and env[k][-1] == "Z"


def test_input_prompt_then_the_answer_comes_back_as_the_query(server):
    r = server.get("/cgi-bin/input")
    assert (r.status, r.meta, r.body) == (10, "Your name?", b"")
    r = server.get("/cgi-bin/input?Barnet%20UNISON")
    assert r.status == 20 and r.body == b"Hello, Barnet%20UNISON\n"


def test_non_2x_answer_from_a_script_has_no_body(server):
    r = server.get("/cgi-bin/redirect")
    assert (r.status, r.meta, r.body) == (31, "/hello.txt", b"")


@pytest.mark.parametrize("script,why", [
    ("bad-header", "a header that is not a status is a CGI error"),
    ("lf-header", "a header ended by LF alone is a CGI error"),
    ("big-meta", "meta over 1024 bytes is a CGI error"),
    ("bad-status", "a status outside 10-69 is a CGI error"),
    ("silent", "no output at all is a CGI error"),
    ("fail", "a non-zero exit before any output is a CGI error"),
    ("crash", "a script killed by a signal is a CGI error"),
])
def test_bad_script_output_is_answered_42(server, script, why):
    r = server.get("/cgi-bin/" + script)
    assert r.status == 42, why
    assert r.body == b"" and r.close_notify
    assert len(r.meta) > 0


def test_a_script_past_its_timeout_is_answered_42_and_killed(server,
                                                              capsule_dir):
    t = time.time()
    r = server.get("/cgi-bin/sleeper")
    took = time.time() - t
    assert r.status == 42 and "timed out" in r.meta
    assert 1.5 <= took < 5, "cgi_timeout is 2 s in the fixture"
    assert wait_no_processes(capsule_dir) == []


def test_flooding_output_is_capped_and_the_script_killed(make_server):
    s = make_server(server_extra="cgi_max_output = 65536").start()
    r = s.get("/cgi-bin/flood")
    assert r.status == 20
    assert 60000 < len(r.body) <= 65536
    assert not r.close_notify, "a cut body ends without close_notify"
    assert wait_no_processes(s.root) == []


def test_output_cut_at_the_timeout_ends_without_close_notify(server):
    # the script still talking at cgi_timeout (2 s here) is killed: what
    # the client got is not the whole response, so no close_notify
    r = server.get("/cgi-bin/trickle")
    assert r.status == 20 and r.body.startswith(b"tick\n")
    assert not r.close_notify


def test_output_that_ends_in_time_ends_with_close_notify(server):
    r = server.get("/cgi-bin/env")
    assert r.status == 20 and r.close_notify


def test_a_script_that_forks_a_child_leaves_no_process(server, capsule_dir):
    r = server.get("/cgi-bin/forker")
    assert r.status == 20 and r.body == b"forked\n"
    assert wait_no_processes(capsule_dir) == []


def test_client_hanging_up_mid_response_kills_the_script(make_server):
    # cgi_timeout far off: only the client going may end the script (the
    # worker must see its writes fail, not hold them and wait on)
    s = make_server(cgi_timeout=60).start()
    c = tls_connect(s.port)
    c.sendall(s.url("/cgi-bin/trickle").encode() + b"\r\n")
    assert c.recv(100).startswith(b"20 ")
    c.close()
    assert wait_no_processes(s.root, timeout=5) == []


def test_non_executable_file_in_cgi_dir_is_served_not_run(server):
    r = server.get("/cgi-bin/noexec.sh")
    assert r.status == 20 and b"RAN" not in r.body.split(b"\n", 1)[0]
    assert r.body.startswith(b"#!/bin/sh")
    r = server.get("/cgi-bin/readme.txt")
    assert r.status == 20 and r.body == b"not a script\n"


def test_cgi_directory_itself_is_not_run(server):
    assert server.get("/cgi-bin").status == 31
    assert server.get("/cgi-bin/").status == 20   # autoindex is on


def test_missing_script_is_51(server):
    assert server.get("/cgi-bin/nope").status == 51


def test_past_cgi_max_the_answer_is_44_with_a_retry_time(make_server):
    s = make_server(workers=1, server_extra="cgi_max = 1").start()
    busy = tls_connect(s.port)
    busy.sendall(s.url("/cgi-bin/sleeper").encode() + b"\r\n")
    time.sleep(0.3)
    r = s.get("/cgi-bin/env")
    busy.close()
    assert r.status == 44 and r.meta.isdigit()


def test_no_zombies_or_descriptors_left_after_many_scripts(server,
                                                           capsule_dir):
    pids = server.worker_pids()
    before = {p: len(os.listdir(f"/proc/{p}/fd")) for p in pids}
    for i in range(30):
        assert server.get(f"/cgi-bin/env?{i}").status == 20
        assert server.get("/cgi-bin/silent").status == 42
    time.sleep(0.3)
    after = {p: len(os.listdir(f"/proc/{p}/fd")) for p in pids
             if os.path.exists(f"/proc/{p}")}
    for p, n in after.items():
        assert n <= before[p] + 1, f"worker {p} holds {n - before[p]} more fds"
    zombies = subprocess.run(["ps", "-eo", "stat=,ppid="],
                             capture_output=True, text=True).stdout
    kids = set(pids) | {server.proc.pid} | set(server.children("cgi"))
    z = [l for l in zombies.splitlines()
         if l.split()[0].startswith("Z") and int(l.split()[1]) in kids]
    assert z == []


def test_a_body_whose_end_the_runner_never_tells_is_logged_cut(make_server,
                                                               tmp_path):
    # issue 19.18: a response that timed out waiting for the runner's
    # word on how the script ended was closed without close_notify, but
    # its access-log line did not say " cut"
    import signal
    s = make_server(workers=1, cgi_timeout=1)
    script = tmp_path / "root" / "cgi-bin" / "closes-stdout"
    script.write_text('#!/bin/sh\nprintf "20 text/plain\\r\\nbody\\n"\n'
                      "exec >&-\nsleep 30\n")
    script.chmod(0o755)
    s.start()
    c = tls_connect(s.port, timeout=20)
    c.sendall(s.url("/cgi-bin/closes-stdout").encode() + b"\r\n")
    got = b""
    while not got.endswith(b"body\n"):
        got += c.recv(100)
    runner, = s.children("cgi")
    os.kill(runner, signal.SIGSTOP)     # its word never comes in time
    try:
        r = read_response(c)
    finally:
        os.kill(runner, signal.SIGCONT)
        c.close()
    assert not r.close_notify
    line = [l for l in s.log().splitlines() if "closes-stdout" in l and
            '" 20 ' in l]
    assert line and line[-1].endswith(" cut"), line
