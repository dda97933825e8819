"""
The Debian package: `make deb` builds it (dpkg-buildpackage on a copy of
the tree, then lintian, which must report no error and no warning);
`dpkg -i` installs it on this machine; the installed capsuled checks the
installed config and, started in the foreground on a test port, serves
the default capsule over TLS with the certificate it makes under
/etc/capsuled/ and its workers as the capsuled user.  Removing keeps the
config and the capsule; purging takes the config, the certificates and
the logs, never the capsule under /var/gemini/ nor the user.

It needs root and dpkg (CI has both), and installs and purges the
package capsuled on this machine: where that package is already
installed it fails rather than purge someone's installation.
"""
import io
import os
import pwd
import re
import shutil
import signal
import ssl
import stat
import subprocess
import tarfile
import time

import pytest

from conftest import ROOT, free_port, gemini, tls_connect, wait_for

VERSION = re.search(r"^VERSION\s*=\s*(\S+)", (ROOT / "Makefile").read_text(),
                    re.M).group(1)
DEFAULT = "/var/gemini/gemini.example.org"
WANTS = "/etc/systemd/system/multi-user.target.wants/capsuled.service"
# what the package and capsuled make, and a purge takes
MADE = ["/etc/capsuled.ini", "/etc/capsuled", "/var/log/capsuled"]

# path in the package: mode (every one must be there, as it is)
FILES = {
    "usr/sbin/capsuled": 0o755,
    "usr/libexec/capsuled/strike": 0o755,
    "usr/share/man/man8/capsuled.8.gz": 0o644,
    "usr/share/man/man5/capsuled.ini.5.gz": 0o644,
    "etc/capsuled.ini": 0o644,
    "lib/systemd/system/capsuled.service": 0o644,
    "usr/lib/sysusers.d/capsuled.conf": 0o644,
    "usr/share/capsuled/default/index.gmi": 0o644,
    "usr/share/doc/capsuled/copyright": 0o644,
    "usr/share/doc/capsuled/changelog.gz": 0o644,
    "usr/share/doc/capsuled/examples/capsuled.ini": 0o644,
    "usr/share/doc/capsuled/examples/capsule/index.gmi": 0o644,
}


def run(*cmd, timeout=60, check=True, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check:
        assert p.returncode == 0, f"{cmd}: {p.stdout}{p.stderr}"
    return p


def dpkg(*args):
    """dpkg, waiting (bounded) while another dpkg or apt holds its lock."""
    deadline = time.time() + 120
    while True:
        p = run("dpkg", *args, timeout=120, check=False,
                stdin=subprocess.DEVNULL)   # never a conffile prompt
        if p.returncode == 0 or "lock" not in p.stderr or \
                time.time() > deadline:
            assert p.returncode == 0, f"dpkg {args}: {p.stdout}{p.stderr}"
            return p
        time.sleep(1)


def status():
    """dpkg's state of capsuled: 'ii' installed, 'rc' config left, or ''."""
    p = run("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "capsuled",
            check=False)
    return p.stdout.strip() if p.returncode == 0 else ""


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    assert os.geteuid() == 0, "test_deb installs a package: run as root"
    out = tmp_path_factory.mktemp("deb")
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)      # not the outer make's -s or -j
    env.pop("MAKELEVEL", None)
    p = run("make", "-s", "deb", f"DEBOUT={out}", cwd=ROOT, env=env,
            timeout=600)
    arch = run("dpkg", "--print-architecture").stdout.strip()
    deb = out / f"capsuled_{VERSION}_{arch}.deb"
    assert deb.exists(), p.stdout + p.stderr
    return deb, p.stdout


def contents(deb):
    """The package's files, as a tar (dpkg -c lists the same)."""
    p = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)],
                       capture_output=True, check=True, timeout=60)
    return tarfile.open(fileobj=io.BytesIO(p.stdout))


def test_lintian_finds_no_error_or_warning(package):
    deb, output = package
    assert "deb: lintian: no errors, no warnings" in output, output
    report = (deb.parent / "lintian.txt").read_text()
    # the rest is overridden, with reasons; but spelling-error-in-binary
    # (info) reads byte runs of machine code as words ("thIk"), which
    # come and go with each change to the code: it is not ours to fix
    tags = [l for l in report.splitlines() if re.match(r"[EWIPX]: ", l)
            and " spelling-error-in-binary " not in l]
    assert tags == [], report
    changes = (deb.parent / deb.name.replace(".deb", ".changes")).read_text()
    assert deb.name in changes


def test_package_holds_every_file_and_nothing_built_in_the_examples(package):
    deb, _ = package
    tar = contents(deb)
    members = {m.name.removeprefix("./"): m for m in tar.getmembers()}
    for path, mode in FILES.items():
        assert path in members, path
        m = members[path]
        assert m.isfile() and m.mode == mode and m.uname == "root", path
    examples = "usr/share/doc/capsuled/examples/capsule/"
    shipped = [p for p in members if p.startswith(examples)]
    assert any(p.endswith("/disputes.ini") for p in shipped)
    # the counter is in /usr/libexec, compiled; examples hold sources only
    assert not [p for p in shipped if p.endswith(("/strike", ".gitignore"))]
    # a capsule and the config are the admin's: dpkg owns none of them
    assert not [p for p in members if p.startswith(("var/", "etc/capsuled/"))]
    assert run("dpkg-deb", "-I", str(deb), "conffiles").stdout.split() == \
        ["/etc/capsuled.ini"]
    unit = tar.extractfile("./lib/systemd/system/capsuled.service").read()
    unit = unit.decode()
    assert "ExecStart=/usr/sbin/capsuled -d -c /etc/capsuled.ini" in unit
    assert "/usr/local" not in unit


def mode_owner(path):
    st = os.stat(path)
    return stat.S_IMODE(st.st_mode), st.st_uid


def start_installed(conf, log):
    """The installed binary in the foreground, as root, as the unit runs it."""
    return subprocess.Popen(["/usr/sbin/capsuled", "-d", "-c", str(conf)],
                            stdout=log, stderr=log, start_new_session=True)


def test_install_serve_remove_and_purge(package, tmp_path):
    deb, _ = package
    assert status() == "", \
        "the package capsuled is on this machine; this test would purge it"
    for path in MADE:
        assert not os.path.lexists(path), \
            f"{path}: left by make install or an earlier run? remove it"
    made_default = not os.path.exists(DEFAULT)
    made_var = not os.path.exists("/var/gemini")
    proc = None
    try:
        dpkg("-i", str(deb))
        assert status() == "ii"
        user = pwd.getpwnam("capsuled")       # made by sysusers.d
        assert user.pw_uid != 0 and user.pw_shell == "/usr/sbin/nologin"
        assert os.path.islink(WANTS)            # enabled by dh_installsystemd
        # the layout README.md describes: root writes, capsuled reads
        assert mode_owner("/etc/capsuled") == (0o700, 0)
        assert mode_owner("/var/log/capsuled") == (0o750, 0)
        if made_default:
            assert mode_owner(DEFAULT) == (0o755, 0)
            assert mode_owner(DEFAULT + "/index.gmi") == (0o644, 0)
        installed = open("/etc/capsuled.ini").read()
        assert installed == (ROOT / "etc/capsuled.ini").read_text()

        p = run("/usr/sbin/capsuled", "-n", "-c", "/etc/capsuled.ini")
        assert "configuration OK" in p.stderr

        # the installed config, on a free loopback port instead of 1965
        port = free_port()
        conf = tmp_path / "capsuled.ini"
        text, n = re.subn(r"^listen = .*$", f"listen = 127.0.0.1:{port}",
                          installed, flags=re.M)
        assert n == 1
        conf.write_text(text)
        log = open(tmp_path / "capsuled.log", "wb")
        proc = start_installed(conf, log)
        host = "gemini.example.org"          # the sample config's host
        url = f"gemini://{host}:{port}/"

        def answers():
            assert proc.poll() is None, (tmp_path / "capsuled.log").read_text()
            try:
                return gemini(port, url, sni=host, timeout=2).status != 0
            except OSError:
                return False
        assert wait_for(answers, timeout=20), \
            (tmp_path / "capsuled.log").read_text()
        r = gemini(port, url, sni=host)
        assert r.status == 20 and r.meta.startswith("text/gemini"), r.header
        if made_default:
            assert r.body.startswith(b"# capsuled is running\n")
        # made on first start, under /etc/capsuled/, and the one served
        crt = "/etc/capsuled/gemini.example.org.crt"
        assert mode_owner("/etc/capsuled/gemini.example.org.key") == \
            (0o600, 0)
        with tls_connect(port, sni=host) as s:
            served = ssl.DER_cert_to_PEM_cert(s.getpeercert(True))
        assert served.split() == open(crt).read().split()
        ps = run("ps", "-o", "user=,comm=", "--ppid", str(proc.pid)).stdout
        workers = [l.split() for l in ps.splitlines()
                   if l.split()[1:] == ["capsuled-worker"]]
        assert workers and all(w[0] == "capsuled" for w in workers), ps
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        log.close()

        dpkg("-r", "capsuled")
        assert status() == "rc"
        assert not os.path.exists("/usr/sbin/capsuled")
        for kept in ("/etc/capsuled.ini", crt, "/var/log/capsuled",
                     DEFAULT):
            assert os.path.exists(kept), kept

        dpkg("--purge", "capsuled")
        assert status() == ""
        for gone in MADE + [WANTS]:
            assert not os.path.lexists(gone), gone
        if made_default:
            assert os.path.exists(DEFAULT + "/index.gmi")
        assert pwd.getpwnam("capsuled")    # never removed: policy 9.2.2
    finally:
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if status():
            dpkg("--purge", "capsuled")
        for path in MADE + ([DEFAULT] if made_default else []):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.lexists(path):
                os.unlink(path)
        if made_var and os.path.isdir("/var/gemini") and \
                not os.listdir("/var/gemini"):
            os.rmdir("/var/gemini")
