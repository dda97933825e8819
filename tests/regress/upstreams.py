"""
What the upstream tests share: a directory for UNIX sockets the workers
(user nobody) can reach, and upstream servers run as children of the
test, each in a process group of its own and ended by its PID.

  sock_dir                  fixture: a directory under /tmp, mode 0711
  upstream_app(kind, addr)  fixture: upstream_apps.py KIND ADDR ...
  fcgiwrap(path, ...)       fixture: Debian's fcgiwrap on a UNIX socket
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import wait_for

HERE = Path(__file__).resolve().parent
FCGIWRAP = shutil.which("fcgiwrap") or "/usr/sbin/fcgiwrap"


def log_lines(server, text):
    return [l for l in server.log().splitlines() if text in l]


class Child:
    """A process of the test's, in a group of its own: stop() ends the
    group by the child's PID (fcgiwrap forks its workers)."""

    def __init__(self, argv, ready=None, env=None, timeout=10):
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, env=env,
            umask=0)
        self.pid = self.proc.pid
        if ready is not None and not wait_for(ready, timeout):
            self.stop()
            raise RuntimeError(f"{argv[0]} did not start")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f:
                f.close()
        return self.proc.returncode


def connectable(path):
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.fixture
def sock_dir():
    """Workers run as nobody, who cannot search pytest's directories."""
    d = Path(tempfile.mkdtemp(prefix="capsuled-up-", dir="/tmp"))
    d.chmod(0o711)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def upstream_app():
    started = []

    def start(kind, addr, *args):
        c = Child([sys.executable, str(HERE / "upstream_apps.py"), kind,
                   str(addr), *map(str, args)])
        line = c.proc.stdout.readline()
        if line.strip() != b"ready":
            c.stop()
            raise RuntimeError(f"upstream_apps {kind}: {line!r}")
        started.append(c)
        return c
    yield start
    for c in started:
        c.stop()


@pytest.fixture
def fcgiwrap():
    started = []

    def start(path, children=1, env=None):
        c = Child([FCGIWRAP, "-f", "-c", str(children), "-s",
                   f"unix:{path}"], ready=lambda: connectable(path),
                  env=env)
        started.append(c)
        return c
    yield start
    for c in started:
        c.stop()


def need_fcgiwrap():
    return pytest.mark.skipif(not os.path.exists(FCGIWRAP),
                              reason="fcgiwrap is not installed "
                              "(apt-get install fcgiwrap)")


def pause_until(cond, timeout=5):
    """wait_for, that fails the test when the time runs out."""
    assert wait_for(cond, timeout), "timed out waiting"


def now_ms():
    return time.monotonic() * 1000
