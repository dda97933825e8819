"""
Several daemons in one test, each in its own directory: the nodes of a
cluster behind a balancer.  Import the fixture into a test module:
    from nodes import make_node  # noqa: F401 (a fixture)
"""
import pytest

from conftest import Server, build_capsule


@pytest.fixture
def make_node(tmp_path):
    started = []

    def make(name, root=None, **kw):
        work = tmp_path / name
        work.mkdir()
        if root is None:
            root = build_capsule(work / "root")
        s = Server(work, root, **kw)
        if "certdir" in kw:
            s.certdir = kw["certdir"]
        started.append(s)
        return s
    yield make
    for s in started:
        s.stop()
        assert s.sanitizer_reports() == []
