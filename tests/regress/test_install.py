"""
Installing: `make install` and `make uninstall` into a DESTDIR, with GNU
make and (when present) BSD make; the man pages lint clean; the systemd
unit passes `systemd-analyze verify`; the rc.d script parses.
"""
import os
import shutil
import stat
import subprocess

import pytest

from conftest import ROOT

MAKES = [m for m in ("make", "bmake") if shutil.which(m)]

FILES = {
    "usr/local/sbin/capsuled": 0o755,
    "usr/local/libexec/capsuled/strike": 0o755,
    "usr/local/man/man8/capsuled.8": 0o644,
    "usr/local/man/man5/capsuled.ini.5": 0o644,
    "usr/local/share/examples/capsuled/capsuled.ini": 0o644,
    "usr/local/share/examples/capsuled/disputes.ini": 0o644,
    "usr/local/share/examples/capsuled/admins": 0o644,
    "usr/local/share/examples/capsuled/capsuled.service": 0o644,
    "usr/local/share/examples/capsuled/capsuled.rc": 0o755,
    "usr/local/lib/systemd/system/capsuled.service": 0o644,
    "etc/capsuled.ini": 0o644,
}


def make(tool, *args):
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)      # not the outer make's -s or -j
    env.pop("MAKELEVEL", None)
    p = subprocess.run([tool, *args], cwd=ROOT, capture_output=True,
                       text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def tree(d):
    return sorted(str(p.relative_to(d)) for p in d.rglob("*")
                  if not p.is_dir())


@pytest.mark.parametrize("tool", MAKES)
def test_install_puts_every_file_in_place(tool, tmp_path):
    dest = tmp_path / "dest"
    make(tool, "install", f"DESTDIR={dest}")
    assert tree(dest) == sorted(FILES)
    for f, mode in FILES.items():
        assert stat.S_IMODE((dest / f).stat().st_mode) == mode, f
    built = (ROOT / "capsuled").read_bytes()
    assert (dest / "usr/local/sbin/capsuled").read_bytes() == built
    sample = (ROOT / "etc/capsuled.ini").read_text()
    assert (dest / "etc/capsuled.ini").read_text() == sample


@pytest.mark.parametrize("tool", MAKES)
def test_uninstall_removes_all_but_the_admins_config(tool, tmp_path):
    dest = tmp_path / "dest"
    make(tool, "install", f"DESTDIR={dest}")
    make(tool, "uninstall", f"DESTDIR={dest}")
    assert tree(dest) == ["etc/capsuled.ini"]


def test_install_keeps_an_existing_config(tmp_path):
    dest = tmp_path / "dest"
    (dest / "etc").mkdir(parents=True)
    (dest / "etc/capsuled.ini").write_text("; mine\n")
    p = make("make", "install", f"DESTDIR={dest}")
    assert "keeping" in p.stdout
    assert (dest / "etc/capsuled.ini").read_text() == "; mine\n"


def test_paths_follow_prefix_and_sysconfdir(tmp_path):
    dest = tmp_path / "dest"
    make("make", "install", f"DESTDIR={dest}", "PREFIX=/opt/caps",
         "SYSCONFDIR=/opt/caps/etc")
    unit = (dest / "opt/caps/lib/systemd/system/capsuled.service").read_text()
    assert "ExecStart=/opt/caps/sbin/capsuled -d -c " \
        "/opt/caps/etc/capsuled.ini" in unit
    assert "/usr/local" not in unit
    rc = (dest / "opt/caps/share/examples/capsuled/capsuled.rc").read_text()
    assert 'daemon="/opt/caps/sbin/capsuled"' in rc
    page = (dest / "opt/caps/man/man8/capsuled.8").read_text()
    assert "/opt/caps/libexec/capsuled/strike" in page
    assert (dest / "opt/caps/etc/capsuled.ini").exists()


def test_the_installed_daemon_and_counter_run(tmp_path):
    dest = tmp_path / "dest"
    make("make", "install", f"DESTDIR={dest}")
    p = subprocess.run([str(dest / "usr/local/sbin/capsuled"), "-x"],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "usage: capsuled" in p.stderr
    env = {"STRIKE_TODAY": "2024-10-05", "PATH": "/usr/bin:/bin",
           "STRIKE_DATA": str(dest / "usr/local/share/examples/capsuled/"
                              "disputes.ini")}
    p = subprocess.run([str(dest / "usr/local/libexec/capsuled/strike")],
                       capture_output=True, text=True, env=env)
    assert p.stdout.startswith("20 text/gemini"), p.stdout + p.stderr
    # the example is the capsule's own data file, from its dot directory
    assert (dest / "usr/local/share/examples/capsuled/disputes.ini")\
        .read_bytes() == (ROOT / "capsule/.data/disputes.ini").read_bytes()
    assert "\n81 days of strike action taken; today is not a strike " \
        "day.\n" in p.stdout


@pytest.mark.skipif(not shutil.which("mandoc"), reason="no mandoc")
def test_man_pages_lint_clean():
    p = subprocess.run(["make", "-s", "lint-man"], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout == "", p.stdout + p.stderr


@pytest.mark.skipif(not shutil.which("systemd-analyze"),
                    reason="no systemd-analyze")
def test_systemd_unit_verifies_clean(tmp_path):
    # verify wants ExecStart's binary and the Documentation= pages to
    # exist: point it at an installed copy of each.
    dest = tmp_path / "dest"
    make("make", "install", f"DESTDIR={dest}")
    units = tmp_path / "units"
    units.mkdir()
    unit = (dest / "usr/local/lib/systemd/system/capsuled.service")
    (units / "capsuled.service").write_text(unit.read_text().replace(
        "/usr/local/sbin/", f"{dest}/usr/local/sbin/"))
    env = dict(os.environ, MANPATH=str(dest / "usr/local/man"))
    p = subprocess.run(["systemd-analyze", "verify",
                        str(units / "capsuled.service")],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0 and p.stdout + p.stderr == "", \
        p.stdout + p.stderr


def test_rc_script_parses_and_uses_rc_subr():
    script = ROOT / "etc/rc.d/capsuled"
    shell = shutil.which("ksh") or "/bin/sh"
    p = subprocess.run([shell, "-n", str(script)], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    text = script.read_text()
    assert ". /etc/rc.d/rc.subr" in text and text.rstrip().endswith(
        "rc_cmd $1")
    assert "rc_configtest()" in text and "-n ${daemon_flags}" in text


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to start as the unit does")
def test_the_units_capabilities_let_the_parent_open_roots_and_logs(
        make_server, tmp_path):
    # the unit's CapabilityBoundingSet with the layout the README makes:
    # a root readable by its owner only (not root), a root-owned log
    # directory.  Root without CAP_DAC_* would be refused both.
    unit = (ROOT / "etc" / "capsuled.service").read_text()
    caps = next(l.split("=", 1)[1].split() for l in unit.splitlines()
                if l.startswith("CapabilityBoundingSet="))
    bounding = "-all," + ",".join("+" + c[4:].lower() for c in caps)
    tmp_path.chmod(0o755)
    root = tmp_path / "capsule"
    root.mkdir()
    (root / "index.gmi").write_text("# Home\n")
    os.chown(root, 65534, 65534)
    root.chmod(0o700)
    logs = tmp_path / "log"
    logs.mkdir(mode=0o750)
    s = make_server(root, access_log=f"{logs}/access.log")
    s.start(prefix=["setpriv", f"--bounding-set={bounding}", "--"])
    assert s.get("/").status == 20
    assert "gemini://localhost" in (logs / "access.log").read_text()
