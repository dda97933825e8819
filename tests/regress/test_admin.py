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


def run(conf, *flags, timeout=30, **kw):
    return subprocess.run([str(CAPSULED), *flags, "-c", str(conf)],
                          capture_output=True, text=True, timeout=timeout,
                          **kw)


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
