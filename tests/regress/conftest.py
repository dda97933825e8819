"""
The regress harness: starts the real ./capsuled on a free loopback port
with a generated certificate and a fixture capsule, and talks to it over
real TLS with Python's ssl module (OpenSSL underneath).

Fixtures:
  capsule_dir   a fixture capsule built fresh for the session
  server        a running daemon on that capsule (session-wide)
  make_server   start more daemons with their own config (per test)
Helpers:
  gemini(server, request, ...)  -> Response(header, status, meta, body,
                                   close_notify)
  tls_library(), resumes(version)  which TLS library capsuled runs with,
                                   and what it resumes
"""
import functools
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CAPSULED = ROOT / "capsuled"


@functools.lru_cache(maxsize=None)
def tls_library():
    """"OpenSSL" or "LibreSSL": the TLS library ./capsuled runs with, as
    its -V says.  make check runs with OpenSSL, make check-libressl
    with LibreSSL; where their behaviour differs a test asserts each."""
    out = subprocess.run([str(CAPSULED), "-V"], capture_output=True,
                         text=True, check=True).stdout
    lib = out.split("(", 1)[1].split()[0]
    assert lib in ("OpenSSL", "LibreSSL"), out
    return lib


def resumes(version):
    """Whether capsuled resumes sessions at this TLS version ("TLSv1_2",
    "TLSv1_3").  LibreSSL (4.3.2) sends no TLS 1.3 session tickets, so
    built with it capsuled resumes TLS 1.2 sessions only."""
    return version == "TLSv1_2" or tls_library() == "OpenSSL"


def wait_for(cond, timeout=5):
    """Poll cond every 50 ms until it holds or timeout seconds pass."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def free_port(family=socket.AF_INET, addr="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def refuses(port, addr="127.0.0.1"):
    """Nothing listens on addr:port (the connection is refused)."""
    try:
        socket.create_connection((addr, port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


@dataclass
class Response:
    header: bytes
    status: int
    meta: str
    body: bytes
    close_notify: bool


def client_context(cert=None, key=None, maximum=None, minimum=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # Gemini: trust on first use
    # Python sets this by default, and then a close without close_notify
    # reads as a clean end: every close_notify check would pass
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    if cert:
        ctx.load_cert_chain(cert, key)
    with warnings.catch_warnings():   # TLS 1.0/1.1 on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        if maximum:
            ctx.maximum_version = maximum
        if minimum:
            ctx.minimum_version = minimum
    return ctx


def tls_connect(port, sni="localhost", host="127.0.0.1", ctx=None,
                timeout=10, session=None):
    ctx = ctx or client_context()
    raw = socket.create_connection((host, port), timeout=timeout)
    s = ctx.wrap_socket(raw, server_hostname=sni,
                        suppress_ragged_eofs=False, session=session)
    return s


def read_response(s, limit=None):
    """Read to the end; close_notify says whether the server sent it."""
    data = bytearray()
    close_notify = False
    while True:
        try:
            chunk = s.recv(65536)
        except ssl.SSLEOFError:
            break  # EOF without close_notify
        except (ConnectionResetError, ssl.SSLError):
            break
        if not chunk:
            close_notify = True
            break
        data += chunk
        if limit and len(data) >= limit:
            break
    return parse_response(bytes(data), close_notify)


def parse_response(data, close_notify=True):
    end = data.find(b"\r\n")
    if end < 0:
        return Response(data, 0, "", b"", close_notify)
    header = data[:end]
    status = int(header[:2]) if header[:2].isdigit() else 0
    meta = header[3:].decode("utf-8", "replace")
    return Response(header, status, meta, data[end + 2:], close_notify)


def gemini(port, request, sni="localhost", host="127.0.0.1", ctx=None,
           timeout=10, crlf=True):
    """One request. request: str URL or raw bytes (sent as is)."""
    if isinstance(request, str):
        request = request.encode() + (b"\r\n" if crlf else b"")
    with tls_connect(port, sni, host, ctx, timeout) as s:
        s.sendall(request)
        r = read_response(s)
        r.session_reused = s.session_reused
        r.session = s.session
        return r


CONFIG = """\
[server]
listen = 127.0.0.1:{port} [::1]:{port}
workers = {workers}
access_log = {access_log}
request_timeout = {request_timeout}
write_timeout = {write_timeout}
user = {user}
rate_limit = {rate_limit}
max_per_client = {max_per_client}
{server_extra}

[host localhost]
root = {root}
cert = {certdir}/localhost.crt
key = {certdir}/localhost.key
lang = en-GB
autoindex = on
cgi = cgi-bin
cgi_timeout = {cgi_timeout}
{host_extra}

[host example.org]
root = {root2}
cert = {certdir}/example.org.crt
key = {certdir}/example.org.key
"""


class Server:
    def __init__(self, workdir, root, root2=None, **kw):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.root = Path(root)
        self.root2 = Path(root2 or root)
        self.certdir = self.workdir / "certs"
        self.certdir.mkdir(exist_ok=True)
        self.conf = self.workdir / "capsuled.ini"
        self.logpath = self.workdir / "capsuled.log"
        self.params = dict(port=self.port, workers=2, access_log="stderr",
                           request_timeout=3, write_timeout=5,
                           user="nobody", rate_limit=0, max_per_client=0,
                           cgi_timeout=2,
                           server_extra="", host_extra="",
                           root=self.root, root2=self.root2,
                           certdir=self.certdir)
        self.params.update(kw)
        self.write_config()
        self.proc = None

    def write_config(self, text=None):
        self.conf.write_text(text if text is not None
                             else CONFIG.format(**self.params))

    def start(self, env=None, prefix=()):
        """prefix: a command that runs capsuled (setpriv ...)."""
        self.logfile = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [*prefix, str(CAPSULED), "-d", "-c", str(self.conf)],
            stdout=self.logfile, stderr=self.logfile,
            start_new_session=True, env=env)
        self.wait_ready()
        return self

    def wait_ready(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("capsuled exited: " + self.log())
            try:
                r = gemini(self.port, f"gemini://localhost:{self.port}/",
                           timeout=2)
                if r.status:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("capsuled did not answer: " + self.log())

    def log(self):
        if not self.logpath.exists():
            return ""
        return self.logpath.read_text(errors="replace")

    def url(self, path="/", host="localhost"):
        return f"gemini://{host}:{self.port}{path}"

    def get(self, path="/", **kw):
        return gemini(self.port, self.url(path), **kw)

    def request(self, raw, **kw):
        return gemini(self.port, raw, **kw)

    def children(self, role):
        """Pids of the daemon's children named capsuled-<role>."""
        out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid",
                              str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return [int(l.split()[0]) for l in out.splitlines()
                if l.split()[1:] == ["capsuled-" + role]]

    def worker_pids(self):
        return self.children("worker")

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def sanitizer_reports(self):
        """Sanitizer findings in the daemon's output (CI builds with them),
        and libevent's own complaints ("[warn] event_del_: ...")."""
        return [l for l in self.log().splitlines()
                if "Sanitizer" in l or "runtime error:" in l or
                l.startswith(("[warn]", "[err]"))]

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.logfile.close()
        return self.proc.returncode if self.proc else None


def build_capsule(root):
    """The fixture capsule: every awkward thing a root can hold."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.gmi").write_text("# Fixture home\n\n=> docs/ Docs\n")
    (root / "hello.txt").write_text("hello\n")
    (root / "docs").mkdir()
    (root / "docs" / "index.gmi").write_text("# Docs index\n")
    (root / "listed").mkdir()
    (root / "listed" / "b.gmi").write_text("# B\n")
    (root / "listed" / "a file.gmi").write_text("# A\n")
    (root / "listed" / "sub").mkdir()
    (root / "listed" / ".hidden").write_text("secret\n")
    (root / "ünïcødé name.gmi").write_text("# Unicode\n")
    (root / "with space.txt").write_text("space\n")
    (root / ".secret").write_text("dotfile secret\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    (root / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    (root / "unknown.zzqx").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    os.mkfifo(root / "fifo")
    outside = root.parent / "outside-secret.txt"
    outside.write_text("outside the root\n")
    os.symlink(outside, root / "escape.txt")
    os.symlink("../outside-secret.txt", root / "escape-rel.txt")
    os.symlink("/etc", root / "etc-link")
    os.symlink("hello.txt", root / "inside-link.txt")
    build_cgi(root / "cgi-bin")
    return root


CGI_SCRIPTS = {
    # name: shell body (after #!/bin/sh); each prints a whole response
    "env": 'printf "20 text/plain\\r\\n"; env',
    "input": 'if [ -z "$QUERY_STRING" ]; then printf "10 Your name?\\r\\n";'
             ' else printf "20 text/plain\\r\\nHello, %s\\n" '
             '"$QUERY_STRING"; fi',
    "bad-header": 'printf "hello world\\r\\n"',
    "lf-header": 'printf "20 text/plain\\nbody\\n"',
    "big-meta": 'printf "20 %s\\r\\n" "$(head -c 1100 /dev/zero | tr "\\0" a)"',
    "bad-status": 'printf "99 nope\\r\\n"',
    "silent": 'exit 0',
    "fail": 'echo oops >&2; exit 3',
    "sleeper": 'sleep 30; printf "20 text/plain\\r\\nlate\\n"',
    # flood and trickle ignore SIGPIPE: only the runner's kill ends them
    "flood": "trap '' PIPE; printf '20 text/plain\\r\\n'; "
             "s=$(head -c 4000 /dev/zero | tr '\\0' y); "
             'while :; do echo "$s"; done 2>/dev/null',
    "forker": 'sleep 300 & printf "20 text/plain\\r\\nforked\\n"',
    "trickle": "trap '' PIPE; printf '20 text/plain\\r\\n'; "
               'while :; do echo tick; sleep 0.1; done 2>/dev/null',
    "redirect": 'printf "31 /hello.txt\\r\\nignored body\\n"',
    "crash": 'kill -SEGV $$',
}


def build_cgi(d):
    d.mkdir()
    for name, body in CGI_SCRIPTS.items():
        p = d / name
        p.write_text("#!/bin/sh\n" + body + "\n")
        p.chmod(0o755)
    (d / "readme.txt").write_text("not a script\n")
    noexec = d / "noexec.sh"
    noexec.write_text("#!/bin/sh\nprintf '20 text/plain\\r\\nRAN\\n'\n")
    noexec.chmod(0o644)
    (d / "sub").mkdir()
    (d / "sub" / "nested").write_text((d / "env").read_text())
    (d / "sub" / "nested").chmod(0o755)


@pytest.fixture(scope="session")
def capsule_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("capsule")
    return build_capsule(base / "root")


@pytest.fixture(scope="session")
def server(capsule_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("server")
    root2 = work / "root2"
    root2.mkdir()
    (root2 / "index.gmi").write_text("# example.org home\n")
    s = Server(work, capsule_dir, root2).start()
    yield s
    assert s.stop() == 0, "SIGTERM must end capsuled with status 0"
    assert s.sanitizer_reports() == []


@pytest.fixture
def make_server(tmp_path):
    started = []

    def make(root=None, **kw):
        if root is None:
            root = build_capsule(tmp_path / "root")
        s = Server(tmp_path, root, **kw)
        started.append(s)
        return s
    yield make
    for s in started:
        s.stop()
        assert s.sanitizer_reports() == []
