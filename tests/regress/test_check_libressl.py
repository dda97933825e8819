"""
make check-libressl (mk/libressl.sh) refuses, before it builds anything,
when it has no LibreSSL to build: a missing tarball says where to put
one, and a tarball that is not the one its .sha256 file names is not
used.  The round itself is the whole suite run by that target.
"""
import hashlib
import os
import subprocess

from conftest import ROOT


def check_libressl(tmp_path, tarball):
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)      # not the outer make's -s or -j
    env.pop("MAKELEVEL", None)
    env["LIBRESSL_CACHE"] = str(tmp_path / "cache")
    env["LIBRESSL_BUILD"] = str(tmp_path / "build")
    p = subprocess.run(["make", "-s", "check-libressl",
                        f"LIBRESSL_TARBALL={tarball}"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120, env=env)
    assert not (tmp_path / "cache").exists(), "nothing is built"
    assert not (tmp_path / "build").exists()
    return p


def test_a_missing_tarball_says_where_to_put_one(tmp_path):
    where = tmp_path / "libressl-4.3.2.tar.gz"
    p = check_libressl(tmp_path, where)
    assert p.returncode != 0
    assert f"no LibreSSL release tarball at {where}" in p.stderr, p.stderr
    assert "LIBRESSL_TARBALL=" in p.stderr


def test_a_tarball_that_is_not_its_sha256_is_refused(tmp_path):
    tarball = tmp_path / "libressl-4.3.2.tar.gz"
    tarball.write_bytes(b"not the release")
    other = hashlib.sha256(b"the release").hexdigest()
    (tmp_path / "libressl-4.3.2.sha256").write_text(
        f"{other}  libressl-4.3.2.tar.gz\n")
    p = check_libressl(tmp_path, tarball)
    assert p.returncode != 0
    mine = hashlib.sha256(b"not the release").hexdigest()
    assert f"sha256 {mine} is not the one in" in p.stderr, p.stderr
