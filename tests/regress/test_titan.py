"""
Titan uploads (gemini://transjovian.org/titan/page/The%20Titan%20
Specification): `titan://HOST/PATH;size=N;mime=T;token=T` then N bytes,
from a certificate listed in the `titan` rule's file.  Decided before
the body (size, type, path, certificate); written by the writer process
through a temporary file and a rename, so readers see the old file or
the new one, never a part.  Through the real daemon with real client
certificates and the tests' own Titan client (clientcerts.titan).
"""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from clientcerts import make_cert, titan, titan_line
from conftest import (Server, build_capsule, client_context, gemini,
                      read_response, tls_connect, wait_for)

MAX = 64 * 1024


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tcerts")
    return {n: make_cert(d, n) for n in ("secretary", "chair", "stranger")} | {
        "expired": make_cert(d, "expired", expired=True)}


def write_admins(path, certs, names=("secretary", "expired")):
    lines = ["# who may publish"]
    for n in names:
        lines.append(f"{certs[n].fingerprint} Branch {n}")
    tmp = Path(str(path) + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)


@pytest.fixture(scope="module")
def srv(tmp_path_factory, certs):
    work = tmp_path_factory.mktemp("titan")
    root = build_capsule(work / "root")
    news = root / "news"
    news.mkdir()
    (news / "2026-01-01-new-year.gmi").write_text("# New year\n")
    # a hand-written page with the latest-posts block (issue 13: the home
    # page's generated block shows an upload in the next request)
    (root / "home.gmi").write_text(
        "# Home\n\n## Latest\n\n<!-- capsuled:latest 100 news -->\n")
    (news / "sub").mkdir()
    outside = work / "outside"
    outside.mkdir()
    os.symlink(outside, news / "linked")
    for d in (news, news / "sub", outside):
        shutil.chown(d, "nobody")    # the daemon's user writes here
    (work / "lists").mkdir()    # the workers (nobody) read it again
    admins = work / "lists" / "admins"
    write_admins(admins, certs)
    extra = (f"titan = /news/ {admins}\n"
             f"titan_max_size = {MAX}\n"
             "titan_mime = text/gemini text/plain\n"
             "feeds = news\n")
    s = Server(work, root, host_extra=extra).start()
    s.news, s.outside, s.admins = news, outside, admins
    yield s
    assert s.stop() == 0
    assert s.sanitizer_reports() == []


def up(s, path, body, cert, **kw):
    return titan(s.port, path, body, cert, **kw)


def temps(d):
    return [n for n in os.listdir(d) if n.startswith(".titan-")]


def test_create_answers_30_with_the_gemini_url(srv, certs):
    r = up(srv, "/news/2026-02-01-created.gmi", "# Created\n",
           certs["secretary"])
    assert r.status == 30
    assert r.meta == f"gemini://localhost:{srv.port}/news/2026-02-01-created.gmi"
    assert (srv.news / "2026-02-01-created.gmi").read_text() == "# Created\n"
    assert srv.get("/news/2026-02-01-created.gmi").body == b"# Created\n"


def test_replace_and_delete(srv, certs):
    p = srv.news / "2026-02-02-replaced.gmi"
    assert up(srv, "/news/2026-02-02-replaced.gmi", "# One\n" * 100,
              certs["secretary"]).status == 30
    assert up(srv, "/news/2026-02-02-replaced.gmi", "# Two\n",
              certs["secretary"]).status == 30
    assert p.read_text() == "# Two\n"
    # size=0 deletes (Titan spec)
    assert up(srv, "/news/2026-02-02-replaced.gmi", "",
              certs["secretary"]).status == 30
    assert not p.exists()
    assert srv.get("/news/2026-02-02-replaced.gmi").status == 51
    assert up(srv, "/news/2026-02-02-replaced.gmi", "",
              certs["secretary"]).status == 51


def test_certificate_answers(srv, certs):
    path = "/news/2026-02-03-nope.gmi"
    r = up(srv, path, "x", None)
    assert r.status == 60
    r = up(srv, path, "x", certs["stranger"])
    assert r.status == 61 and certs["stranger"].fingerprint in r.meta
    r = up(srv, path, "x", certs["expired"])
    assert r.status == 62
    assert not (srv.news / "2026-02-03-nope.gmi").exists()


def header_only(s, path, size, cert, mime="text/gemini"):
    """Send the request line and nothing of the body: the answer must
    come anyway."""
    with tls_connect(s.port, ctx=cert.ctx(), timeout=5) as c:
        c.sendall(titan_line(s.port, path, size, mime))
        return read_response(c)


def test_oversize_is_refused_before_the_body(srv, certs):
    r = header_only(srv, "/news/2026-02-04-big.gmi", MAX + 1,
                    certs["secretary"])
    assert r.status == 50 and str(MAX) in r.meta
    assert "titan_max_size" in r.meta
    # exactly the limit is fine
    assert up(srv, "/news/2026-02-04-big.gmi", "a" * MAX,
              certs["secretary"]).status == 30


def test_wrong_type_is_refused_before_the_body(srv, certs):
    r = header_only(srv, "/news/2026-02-05-pic.png", 10, certs["secretary"],
                    mime="image/png")
    assert r.status == 50
    assert "image/png" in r.meta and "text/gemini text/plain" in r.meta
    assert not (srv.news / "2026-02-05-pic.png").exists()


@pytest.mark.parametrize("path,status", [
    ("/news/../escape.gmi", 50),             # normalised to /escape.gmi
    ("/news/../../escape.gmi", 59),          # climbs above the root
    ("/news/%2e%2e/%2e%2e/escape.gmi", 59),
    ("/news/%2e%2e/escape.gmi", 50),
    ("/news%2Fescape.gmi", 59),              # encoded slash
    ("/news/linked/escape.gmi", 50),         # a symlinked directory
    ("/news/.hidden.gmi", 50),               # a dotfile
    ("/news/.titan-1-1", 50),
    ("/news/sub", 50),                       # a directory
    ("/news/", 50),
    ("/news/missing/x.gmi", 51),             # no such directory
    ("/escape.gmi", 50),                     # outside the titan PATH
    ("/newsletter.gmi", 50),
])
def test_path_escapes_are_refused_and_nothing_is_written(srv, certs, path,
                                                          status):
    before = sorted(os.listdir(srv.news)), sorted(os.listdir(srv.outside))
    r = header_only(srv, path, 5, certs["secretary"])
    assert r.status == status, r.meta
    assert not (srv.root / "escape.gmi").exists()
    assert not (srv.root.parent / "escape.gmi").exists()
    after = sorted(os.listdir(srv.news)), sorted(os.listdir(srv.outside))
    assert before == after


def test_short_body_leaves_nothing(srv, certs):
    r = up(srv, "/news/2026-02-06-short.gmi", "x" * 1000, certs["secretary"],
           send=100)
    assert r.status in (0, 40, 59)
    assert wait_for(lambda: temps(srv.news) == [])
    assert not (srv.news / "2026-02-06-short.gmi").exists()


def test_stalled_body_times_out_and_leaves_nothing(srv, certs):
    t0 = time.time()
    with tls_connect(srv.port, ctx=certs["secretary"].ctx(),
                     timeout=15) as c:
        c.sendall(titan_line(srv.port, "/news/2026-02-07-stall.gmi", 1000)
                  + b"y" * 10)
        r = read_response(c)
    assert r.status == 59 and "timeout" in r.meta.lower()
    assert time.time() - t0 < 10     # request_timeout is 3 s
    assert wait_for(lambda: temps(srv.news) == [])
    assert not (srv.news / "2026-02-07-stall.gmi").exists()


def test_two_concurrent_uploads_to_one_path_leave_one_whole_file(srv, certs):
    path = "/news/2026-02-08-race.gmi"
    bodies = [b"A" * 40000, b"B" * 30000]
    for _ in range(5):
        results = []
        ts = [threading.Thread(target=lambda b=b: results.append(
              up(srv, path, b, certs["secretary"]).status)) for b in bodies]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert results == [30, 30]
        assert (srv.news / "2026-02-08-race.gmi").read_bytes() in bodies
    assert temps(srv.news) == []


def test_readers_never_see_a_partial_file(srv, certs):
    """32 clients read the post and its section while it is replaced."""
    path = "/news/2026-02-09-busy.gmi"
    versions = [b"# Busy one\n" + b"1" * 50000, b"# Busy two\n" + b"2" * 20000]
    assert up(srv, path, versions[0], certs["secretary"]).status == 30
    stop = threading.Event()
    bad, reads = [], [0]

    def reader():
        while not stop.is_set():
            r = srv.get(path)
            reads[0] += 1
            if r.status != 20 or r.body not in versions:
                bad.append((r.status, len(r.body)))
            if srv.get("/news/").status != 20:
                bad.append("index")
    ts = [threading.Thread(target=reader) for _ in range(32)]
    for t in ts:
        t.start()
    try:
        for i in range(10):
            assert up(srv, path, versions[i % 2],
                      certs["secretary"]).status == 30
    finally:
        stop.set()
        for t in ts:
            t.join()
    assert bad == [] and reads[0] > 32


def test_the_new_post_is_in_the_index_feed_and_home_block_at_once(srv, certs):
    path = "/news/2026-03-01-pay-ballot-result.gmi"
    before = srv.get("/news/").body + srv.get("/news/atom.xml").body
    assert b"Pay ballot result" not in before
    assert up(srv, path, "# Pay ballot result\n\nWe won.\n",
              certs["secretary"]).status == 30
    assert b"2026-03-01 Pay ballot result" in srv.get("/news/").body
    home = srv.get("/home.gmi").body
    assert b"=> /news/2026-03-01-pay-ballot-result.gmi 2026-03-01 " \
        b"Pay ballot result" in home and b"capsuled:" not in home
    atom = srv.get("/news/atom.xml").body
    assert b"Pay ballot result" in atom
    assert b"2026-03-01-pay-ballot-result.gmi" in atom
    assert up(srv, path, "", certs["secretary"]).status == 30
    assert b"Pay ballot result" not in srv.get("/news/").body
    assert b"Pay ballot result" not in srv.get("/news/atom.xml").body
    assert b"Pay ballot result" not in srv.get("/home.gmi").body


def test_admins_file_changed_on_disk_takes_effect_without_reload(srv, certs):
    path = "/news/2026-03-02-chair.gmi"
    pids = srv.worker_pids()
    try:
        assert up(srv, path, "# Chair\n", certs["chair"]).status == 61
        write_admins(srv.admins, certs, ("secretary", "chair"))
        assert up(srv, path, "# Chair\n", certs["chair"]).status == 30
        # rotation: the secretary's old certificate is taken out; a
        # removal is trusted once the list has stood still 2 s (it might
        # be half written before: issue 19.14).  An oversize upload is
        # the probe: 61 unlisted, 50 listed, nothing written either way
        write_admins(srv.admins, certs, ("chair",))
        assert wait_for(lambda: header_only(srv, path, MAX + 1,
                                            certs["secretary"]).status == 61,
                        6)
        assert up(srv, path, "", certs["chair"]).status == 30
    finally:
        write_admins(srv.admins, certs)
    assert srv.worker_pids() == pids


def test_parameters_in_any_order_with_a_token(srv, certs):
    line = (f"titan://localhost:{srv.port}/news/2026-03-03-order.gmi;"
            "token=s%20ecret;mime=text/plain;size=3\r\n").encode()
    with tls_connect(srv.port, ctx=certs["secretary"].ctx()) as c:
        c.sendall(line + b"abc")
        assert read_response(c).status == 30
    assert (srv.news / "2026-03-03-order.gmi").read_bytes() == b"abc"


@pytest.mark.parametrize("line", [
    "titan://localhost:{port}/news/x.gmi",                 # no size
    "titan://localhost:{port}/news/x.gmi;size=-1",
    "titan://localhost:{port}/news/x.gmi;size=1;size=2",
    "titan://localhost:{port}/news/x.gmi;size=1;colour=red",
    "titan://localhost:{port}/news/x.gmi;size=1;mime=nonsense",
    "titan://localhost:{port}/news/x.gmi?q;size=1",
])
def test_bad_titan_requests_are_59(srv, certs, line):
    r = gemini(srv.port, line.format(port=srv.port),
               ctx=certs["secretary"].ctx())
    assert r.status == 59


def test_titan_obeys_the_gemini_host_and_port_rules(srv, certs):
    r = gemini(srv.port, "titan://elsewhere.example:%d/news/x.gmi;size=1"
               % srv.port, ctx=certs["secretary"].ctx())
    assert r.status == 53
    r = gemini(srv.port, "titan://localhost:1/news/x.gmi;size=1",
               ctx=certs["secretary"].ctx())
    assert r.status == 53
    r = gemini(srv.port, "titan://localhost:%d/news/x.gmi;size=1" % srv.port,
               sni="example.org", ctx=certs["secretary"].ctx())
    assert r.status == 53


def test_a_host_without_titan_refuses_uploads(srv, certs):
    r = gemini(srv.port, "titan://example.org:%d/x.gmi;size=1" % srv.port,
               sni="example.org", ctx=certs["secretary"].ctx())
    assert r.status == 50


def test_publish_correct_delete_sequence_is_logged(srv, certs):
    """The branch secretary's day: publish, correct, remove; one
    access-log line each with the name, the path, the size, the status."""
    path = "/news/2026-03-04-strike-dates.gmi"
    sec = certs["secretary"]
    steps = [("# Strike dates\n\n12 and 13 March\n", 30),
             ("# Strike dates\n\n12, 13 and 14 March\n", 30),
             ("", 30)]
    for body, status in steps:
        assert up(srv, path, body, sec).status == status
    lines = [l for l in srv.log().splitlines() if "strike-dates" in l]
    assert len(lines) == 3, lines
    for (body, status), line in zip(steps, lines):
        assert f";size={len(body.encode())};" in line
        assert f'" {status} ' in line
        assert line.endswith('"Branch secretary"')
    for line in lines:
        print(line)


def test_a_reload_brings_a_new_writer_and_the_old_one_leaves(srv, certs):
    import signal as sig
    old = srv.children("titan")
    assert len(old) == 1
    srv.signal(sig.SIGHUP)
    assert wait_for(lambda: len(srv.children("titan")) == 1 and
                    srv.children("titan") != old, timeout=10)
    path = "/news/2026-03-05-after-reload.gmi"
    assert wait_for(lambda: up(srv, path, "# Reloaded\n",
                               certs["secretary"]).status == 30)
    assert (srv.news / "2026-03-05-after-reload.gmi").read_text() == \
        "# Reloaded\n"
    assert up(srv, path, "", certs["secretary"]).status == 30


def test_a_dead_writer_is_replaced_without_reading_the_config_file(srv,
                                                                   certs):
    # as with the CGI runner (issue 11): the file on disk may be half
    # edited, so a writer that dies is replaced from the config in memory
    import signal as sig
    # a writer retired by an earlier test's reload may still be leaving
    assert wait_for(lambda: len(srv.children("titan")) == 1, timeout=10)
    before = srv.children("titan")
    good = srv.conf.read_text()
    srv.conf.write_text(good[:len(good) // 2] + "\n[host")
    try:
        os.kill(before[0], sig.SIGKILL)
        assert wait_for(lambda: srv.children("titan") not in ([], before),
                        timeout=10), srv.log()
        path = "/news/2026-03-06-after-a-crash.gmi"
        assert wait_for(lambda: up(srv, path, "# Still here\n",
                                   certs["secretary"]).status == 30)
        assert (srv.news / "2026-03-06-after-a-crash.gmi").read_text() == \
            "# Still here\n"
        assert up(srv, path, "", certs["secretary"]).status == 30
        assert "reload" not in srv.log().split("titan writer")[-1]
        assert "titan writer" in srv.log() and "starting a new one" in \
            srv.log()
    finally:
        srv.conf.write_text(good)


def test_a_refused_upload_logs_no_token(srv, certs):
    # the token is a secret (a password, in some servers' use of it):
    # the access log leaves it out whether the upload began or not
    for cert, status in ((None, 60), (certs["stranger"], 61)):
        ctx = cert.ctx() if cert else client_context()
        line = (f"titan://localhost:{srv.port}/news/x.gmi;size=5;"
                f"mime=text/gemini;token=HUNTER2-{status}\r\n").encode()
        with tls_connect(srv.port, ctx=ctx) as s:
            s.sendall(line)
            assert read_response(s).status == status
    assert wait_for(lambda: "/news/x.gmi;size=5;mime=text/gemini\" 61"
                    in srv.log()), srv.log()
    assert "HUNTER2" not in srv.log()


# -- issue 19: what an officer reads, and what the log keeps --------------

def lines_with(s, text):
    return [l for l in s.log().splitlines() if text in l and '"titan://' in l]


def test_an_upload_to_a_directory_says_how_to_name_a_post(srv, certs):
    r = header_only(srv, "/news/", 5, certs["secretary"])
    assert r.status == 50 and "directory" in r.meta
    assert "/news/2" in r.meta and "-slug.gmi" in r.meta, r.meta


def test_an_undated_name_in_a_feed_directory_shows_the_expected_one(srv,
                                                                     certs):
    # it would answer 30 and never be listed in the index or the feed
    r = header_only(srv, "/news/Branch%20Notes.gmi", 5, certs["secretary"])
    assert r.status == 50 and "YYYY-MM-DD-slug.gmi" in r.meta
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert f"/news/{today}-branch-notes.gmi" in r.meta, r.meta
    assert not (srv.news / "Branch Notes.gmi").exists()
    # a dated post, or a file in a directory that is no feed, is fine
    assert up(srv, "/news/sub/notes.gmi", "# Notes\n",
              certs["secretary"]).status == 30
    assert up(srv, "/news/sub/notes.gmi", "", certs["secretary"]).status == 30


def test_a_refused_upload_from_a_listed_certificate_logs_its_name(srv,
                                                                   certs):
    r = header_only(srv, "/news/2026-04-02-big.gmi", MAX + 1,
                    certs["secretary"])
    assert r.status == 50
    assert wait_for(lambda: any(l.endswith('"Branch secretary"') for l in
                                lines_with(srv, "2026-04-02-big.gmi")))


def test_the_log_shows_the_request_as_sent_for_accepted_and_refused(srv,
                                                                     certs):
    sec = certs["secretary"]
    for path, body, status in (("/news/2026-04-03-order.gmi", b"# O\n", 30),
                               ("/news/2026-04-03-order.png", b"# O\n", 50)):
        line = (f"titan://localhost:{srv.port}{path};mime=text/gemini;"
                f"size={len(body)};token=S3CRET").encode()
        with tls_connect(srv.port, ctx=sec.ctx()) as c:
            c.sendall(line + b"\r\n" + body)
            assert read_response(c).status == status
        want = f'"titan://localhost:{srv.port}{path};mime=text/gemini;' \
            f'size={len(body)}" {status} '
        assert wait_for(lambda: any(want in l for l in lines_with(srv, path))
                        ), srv.log()[-1500:]
    assert "S3CRET" not in srv.log()


# -- issue 19.9, 19.10: the name decides the type; no control bytes --------

@pytest.mark.parametrize("path,mime,says", [
    ("/news/2026-04-04-evil.html", "text/gemini", "text/html"),
    ("/news/2026-04-04-evil.svg", "text/plain", "image/svg+xml"),
    ("/news/sub/evil", "text/gemini", ".gmi"),
    ("/news/sub/notes.txt", "text/gemini", "text/plain"),
])
def test_a_name_served_as_another_type_is_refused(srv, certs, path, mime,
                                                  says):
    r = header_only(srv, path, 5, certs["secretary"], mime=mime)
    assert r.status == 50 and mime in r.meta and says in r.meta, r.meta
    assert not (srv.root / path[1:]).exists()


@pytest.mark.parametrize("name,rule", [
    ("2026-04-05-a%0Ab.gmi", "control"),        # LF
    ("2026-04-05-a%1B%5B2Jb.gmi", "control"),   # ESC [2J
    ("2026-04-05-a%C2%85b.gmi", "control"),     # NEL, a C1 control
    ("2026-04-05-a%7Fb.gmi", "control"),        # DEL
    ("2026-04-05-a%FFb.gmi", "UTF-8"),          # not UTF-8
])
def test_names_with_control_bytes_or_not_utf8_are_refused(srv, certs, name,
                                                          rule):
    before = sorted(os.listdir(srv.news))
    r = header_only(srv, "/news/" + name, 5, certs["secretary"])
    assert r.status in (50, 59) and rule in r.meta, r.meta
    assert sorted(os.listdir(srv.news)) == before


# -- issue 19.5-19.8, 19.16: slots, deadlines, a slow or dying writer ------

def titan_server(tmp_path, certs, names=("secretary", "chair", "third"),
                 server_extra="", host_extra="", **kw):
    root = build_capsule(tmp_path / "root")
    news = root / "news"
    news.mkdir()
    (news / "sub").mkdir()
    for d in (news, news / "sub"):
        shutil.chown(d, "nobody")
    (tmp_path / "lists").mkdir()
    admins = tmp_path / "lists" / "admins"
    write_admins(admins, certs, names)
    s = Server(tmp_path, root, server_extra=server_extra,
               host_extra=f"titan = /news/ {admins}\nfeeds = news\n" +
               host_extra, **kw)
    s.news = news
    return s.start()


@pytest.fixture(scope="module")
def certs3(certs, tmp_path_factory):
    return certs | {"third": make_cert(tmp_path_factory.mktemp("third"),
                                       "third")}


class trickle:
    """An upload whose request line and first bytes are sent, the rest
    held back until .finish()."""
    def __init__(self, s, path, size, cert, first=1, src="127.0.0.1"):
        raw = socket.create_connection(("127.0.0.1", s.port), timeout=30,
                                       source_address=(src, 0))
        self.c = cert.ctx().wrap_socket(raw, server_hostname="localhost",
                                        suppress_ragged_eofs=False)
        self.size, self.sent = size, first
        self.c.sendall(titan_line(s.port, path, size) + b"x" * first)

    def finish(self):
        self.c.sendall(b"x" * (self.size - self.sent))
        return self.answer()

    def answer(self):
        r = read_response(self.c)
        self.c.close()
        return r


def job_pids(s):
    """The writer's children: one per upload in flight."""
    out = []
    for w in s.children("titan"):
        ps = subprocess.run(["ps", "-o", "pid=", "--ppid", str(w)],
                            capture_output=True, text=True).stdout
        out += [int(p) for p in ps.split()]
    return out


def test_one_certificate_cannot_take_every_upload_slot(tmp_path, certs3):
    # issue 19.5: 64 trickling uploads from listed certificates held
    # every slot; now each certificate has titan_jobs_per_cert
    s = titan_server(tmp_path, certs3, server_extra="titan_jobs_per_cert = 1"
                     "\ntitan_jobs_per_address = 0", request_timeout=10)
    try:
        held = trickle(s, "/news/2026-05-01-slow.gmi", 10,
                       certs3["secretary"])
        assert wait_for(lambda: len(job_pids(s)) == 1)
        r = header_only(s, "/news/2026-05-01-second.gmi", 5,
                        certs3["secretary"])
        assert r.status == 44 and r.meta.isdigit(), r.meta
        assert "titan_jobs_per_cert" in s.log()
        assert up(s, "/news/2026-05-01-chair.gmi", "# Chair\n",
                  certs3["chair"]).status == 30, "another certificate"
        assert held.finish().status == 30
        assert up(s, "/news/2026-05-01-again.gmi", "# Again\n",
                  certs3["secretary"]).status == 30, "its slot is free again"
    finally:
        s.stop()


def test_one_address_cannot_take_every_upload_slot(tmp_path, certs3):
    s = titan_server(tmp_path, certs3, server_extra="titan_jobs_per_cert = 0"
                     "\ntitan_jobs_per_address = 2", request_timeout=10)
    try:
        held = [trickle(s, f"/news/2026-05-02-slow{i}.gmi", 10, certs3[n])
                for i, n in enumerate(("secretary", "chair"))]
        assert wait_for(lambda: len(job_pids(s)) == 2)
        r = header_only(s, "/news/2026-05-02-third.gmi", 5, certs3["third"])
        assert r.status == 44
        other = trickle(s, "/news/2026-05-02-other.gmi", 3, certs3["third"],
                        src="127.0.0.2")
        assert other.finish().status == 30, "another address is served"
        assert [h.finish().status for h in held] == [30, 30]
    finally:
        s.stop()


def test_a_trickling_upload_is_cut_off_by_its_deadline(tmp_path, certs3):
    # 100 bytes at titan_min_rate 50 bytes/s: 2 s, after request_timeout
    # 3 s: one byte every 0.5 s (each within request_timeout) is too slow
    s = titan_server(tmp_path, certs3, server_extra="titan_min_rate = 50",
                     request_timeout=3)
    try:
        t = trickle(s, "/news/2026-05-03-trickle.gmi", 100,
                    certs3["secretary"])
        t.c.settimeout(30)
        got = None
        for _ in range(99):
            time.sleep(0.5)
            try:
                t.c.sendall(b"x")
            except OSError:
                break
        got = t.answer()
        assert got.status == 59 and "titan_min_rate" in got.meta, got
        assert wait_for(lambda: temps(s.news) == [])
        assert not (s.news / "2026-05-03-trickle.gmi").exists()
    finally:
        s.stop()


def test_a_slow_writer_is_never_a_failure_that_stored_the_file(tmp_path,
                                                                certs3):
    # issue 19.6: the worker answered 59 while the writer went on and
    # renamed the file into place.  The job is stopped (a stalled disk)
    # while the body goes to it; the client must hear 4x and nothing may
    # be stored, or 30 and the file in place.
    s = titan_server(tmp_path, certs3, write_timeout=2, request_timeout=3)
    path = "/news/2026-05-04-stalled.gmi"
    try:
        t = trickle(s, path, 10, certs3["secretary"], first=0)
        assert wait_for(lambda: len(job_pids(s)) == 1)
        job = job_pids(s)[0]
        os.kill(job, signal.SIGSTOP)
        try:
            r = t.finish()
        finally:
            os.kill(job, signal.SIGCONT)
        assert wait_for(lambda: job_pids(s) == [], 10)
        stored = (s.news / "2026-05-04-stalled.gmi").exists()
        assert 40 <= r.status <= 49 and not stored, (r, stored)
        assert "nothing was stored" in r.meta
        assert temps(s.news) == []
    finally:
        s.stop()


def test_a_job_killed_mid_upload_is_logged_and_leaves_nothing(tmp_path,
                                                              certs3):
    # issue 19.7: a bare "40 Upload failed", nothing logged, and
    # .titan-PID-HEX left in the section for ever
    s = titan_server(tmp_path, certs3, request_timeout=10)
    try:
        t = trickle(s, "/news/2026-05-05-killed.gmi", 1000,
                    certs3["secretary"], first=500)
        assert wait_for(lambda: len(job_pids(s)) == 1 and
                        temps(s.news) != [])
        job = job_pids(s)[0]
        os.kill(job, signal.SIGKILL)
        r = t.answer()
        assert r.status == 40 and "nothing was stored" in r.meta, r
        assert wait_for(lambda: temps(s.news) == [])
        assert wait_for(lambda: f"(pid {job}) was killed by signal 9" in
                        s.log()), s.log()[-2000:]
    finally:
        s.stop()


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_a_new_writer_removes_leftovers_and_only_them(tmp_path, certs3):
    s = titan_server(tmp_path, certs3)
    gone = dead_pid()
    leftovers = [s.news / f".titan-{gone}-5f00aa", s.news / "sub" /
                 f".titan-{gone}-1"]
    kept = [s.news / ".titan-notes",                 # not the pattern
            s.news / f".titan-{gone}-xyz",           # not hex
            s.news / f".titan-{os.getpid()}-1",      # its process lives
            s.root / f".titan-{gone}-1"]             # not a titan directory
    try:
        for p in leftovers + kept:
            p.write_text("partial")
        old = s.children("titan")
        os.kill(old[0], signal.SIGKILL)
        assert wait_for(lambda: s.children("titan") not in ([], old), 10)
        assert wait_for(lambda: not any(p.exists() for p in leftovers))
        assert all(p.exists() for p in kept)
        assert "left by a job that ended before it was done" in s.log()
    finally:
        s.stop()


def test_a_dead_writers_jobs_go_with_it(tmp_path, certs3):
    # issue 19.16: a replacement writer counted from 0 while the old
    # writer's jobs ran on, orphaned; now they end with it
    s = titan_server(tmp_path, certs3, request_timeout=10)
    try:
        t = trickle(s, "/news/2026-05-06-orphan.gmi", 100,
                    certs3["secretary"])
        assert wait_for(lambda: len(job_pids(s)) == 1)
        job = job_pids(s)[0]
        writer = s.children("titan")
        os.kill(writer[0], signal.SIGKILL)
        assert wait_for(lambda: not os.path.exists(f"/proc/{job}") or
                        open(f"/proc/{job}/stat").read().split()[2] == "Z",
                        5), "the orphaned job runs on"
        r = t.answer()
        assert r.status == 40 and "nothing was stored" in r.meta, r
        assert wait_for(lambda: s.children("titan") not in ([], writer), 10)
        assert wait_for(lambda: temps(s.news) == [])
        assert not (s.news / "2026-05-06-orphan.gmi").exists()
    finally:
        s.stop()


def test_titan_quota_is_checked_before_the_body(tmp_path, certs3):
    s = titan_server(tmp_path, certs3, host_extra="titan_quota = 1000\n")
    try:
        (s.news / "2026-05-07-old.gmi").write_bytes(b"o" * 900)
        r = header_only(s, "/news/2026-05-07-new.gmi", 200,
                        certs3["secretary"])
        assert r.status == 50 and "titan_quota" in r.meta, r
        assert "900 of 1000" in r.meta
        assert up(s, "/news/2026-05-07-small.gmi", "s" * 50,
                  certs3["secretary"]).status == 30
        # replacing a file counts what it replaces
        assert up(s, "/news/2026-05-07-old.gmi", "n" * 940,
                  certs3["secretary"]).status == 30
        assert up(s, "/news/2026-05-07-small.gmi", "",
                  certs3["secretary"]).status == 30, "a delete always may"
    finally:
        s.stop()


def test_an_upload_cut_by_a_stop_ends_its_line_with_cut(tmp_path, certs3):
    # issue 19.18: " cut" is the last word, after the uploader's name
    s = titan_server(tmp_path, certs3, request_timeout=30,
                     server_extra="stop_timeout = 1")
    t = trickle(s, "/news/2026-05-08-cut.gmi", 100, certs3["secretary"])
    assert wait_for(lambda: len(job_pids(s)) == 1)
    s.signal(signal.SIGTERM)
    s.proc.wait(20)
    t.c.close()
    line = lines_with(s, "2026-05-08-cut.gmi")
    assert line and line[-1].endswith('"Branch secretary" cut'), line
    assert temps(s.news) == []
    s.stop()


def test_an_upload_under_an_access_rule_is_checked_against_titan_only(
        tmp_path, certs3):
    # issue 19.18, documented in capsuled.ini(5): the titan list decides
    # who uploads, whatever access rule covers the path for readers
    readers = tmp_path / "readers"
    s = titan_server(tmp_path, certs3, names=("secretary",),
                     host_extra=f"access = /news/ {readers}\n"
                     if readers.write_text(f"{certs3['chair'].fingerprint}"
                                           " Reader\n") else "")
    try:
        path = "/news/2026-05-09-members.gmi"
        assert up(s, path, "# M\n", certs3["secretary"]).status == 30
        assert up(s, path, "# M\n", certs3["chair"]).status == 61
        r = gemini(s.port, s.url(path), ctx=certs3["secretary"].ctx())
        assert r.status == 61, "reading is the access list's to allow"
        r = gemini(s.port, s.url(path), ctx=certs3["chair"].ctx())
        assert r.status == 20
    finally:
        s.stop()


def test_the_name_is_judged_by_the_hosts_mime_rules_too(tmp_path, certs3):
    # the file route's lookup: a `mime` rule, then the built-in table
    s = titan_server(tmp_path, certs3, host_extra="mime = .note text/gemini\n")
    try:
        assert up(s, "/news/sub/minutes.note", "# Minutes\n",
                  certs3["secretary"]).status == 30
        assert s.get("/news/sub/minutes.note").meta.startswith(
            "text/gemini")
    finally:
        s.stop()
