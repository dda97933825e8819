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


def check_libressl(tmp_path, tarball, cache=None):
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)      # not the outer make's -s or -j
    env.pop("MAKELEVEL", None)
    env["LIBRESSL_CACHE"] = str(cache or tmp_path / "cache")
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


def test_a_cache_directory_it_did_not_make_is_never_wiped(tmp_path):
    # LIBRESSL_CACHE=~/.cache by mistake: a new build starts with rm -rf
    # of the cache, so a directory that is not one of its own is refused
    tarball = tmp_path / "libressl-4.3.2.tar.gz"
    tarball.write_bytes(b"no sha256 file beside it: not checked")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "precious").write_text("keep me\n")
    p = check_libressl(tmp_path, tarball, cache=mine)
    assert p.returncode != 0
    assert f"{mine} is not a directory this script made" in p.stderr, \
        p.stderr
    assert (mine / "precious").read_text() == "keep me\n"
