"""
Routing rules in a host's section (capsuled.ini(5)): `redirect = FROM TO
[permanent]`, `gone = PATH`, `lang = PATH TAG[,TAG...]` and `mime = .EXT
TYPE`, through the real daemon over TLS.

Rules cited, from the Gemini protocol specification
(gemini://geminiprotocol.net/docs/protocol-specification.gmi):
- 30 temporary / 31 permanent redirect: the meta is a new URL for the
  resource, absolute or relative (resolved against the request's URL);
  a client uses it as is and does not apply the request's query to it;
  clients follow at most 5 redirects in a row.
- 52 gone: the resource is no longer available and will not be again;
  aggregators are to stop requesting it (so no feed lists it).
- 20: the meta is a MIME type; text/gemini takes a `lang` parameter, a
  comma-separated list of BCP 47 tags (quoted in a MIME parameter, RFC
  2045 5.1, since ',' is a tspecial).
"""
import os
import shutil
import signal
import socket
import subprocess

import pytest

from clientcerts import make_cert, titan
from conftest import (CAPSULED, Server, build_capsule, client_context, gemini,
                      read_response, wait_for)


def host_rules(port):
    return f"""\
feeds = news cy
access = /members/ {{lists}}/members
titan = /news/ {{lists}}/admins
redirect = /old.gmi /new.gmi
redirect = /blog/ /news/ permanent
redirect = /blog/special/ gemini://example.org:{port}/special/
redirect = /blog/keep.gmi /kept.gmi
redirect = /strike/ /disputes/strike.gmi
redirect = /ask /cgi-bin/input
redirect = /news/old-post.gmi /news/2026-01-01-first.gmi
redirect = /members/old-minutes.gmi /members/minutes.gmi
redirect = /caf%C3%A9.gmi /menu/caf%C3%A9.gmi
gone = /news/2026-01-02-retracted.gmi
gone = /campaign/
redirect = /campaign/results.gmi /news/2026-01-03-third.gmi
lang = /cy/ cy
lang = /bi/ cy,en
lang = /cy/en.gmi en-GB
mime = .md text/plain; charset=utf-8
mime = .zzqx application/x-zzqx
"""


def build(root):
    root = build_capsule(root)
    news = root / "news"
    news.mkdir()
    (news / "2026-01-01-first.gmi").write_text("# First post\n\nOne.\n")
    (news / "2026-01-02-retracted.gmi").write_text(
        "# Retracted press release\n\nWithdrawn.\n")
    (news / "2026-01-03-third.gmi").write_text("# Third post\n\nThree.\n")
    (root / "home.gmi").write_text(
        "# Home\n\n## Latest\n\n<!-- capsuled:latest 10 news -->\n")
    (root / "new.gmi").write_text("# New\n")
    (root / "kept.gmi").write_text("# Kept\n")
    (root / "campaign").mkdir()
    (root / "campaign" / "leaflet.gmi").write_text("# Still on disk\n")
    (root / "cy").mkdir()
    (root / "cy" / "index.gmi").write_text("# Croeso\n")
    (root / "cy" / "en.gmi").write_text("# Welcome\n")
    (root / "cy" / "2026-01-04-newyddion.gmi").write_text("# Newyddion\n")
    (root / "bi").mkdir()
    (root / "bi" / "index.gmi").write_text("# Croeso / Welcome\n")
    (root / "readme.md").write_text("# Read me\n")
    (root / "notes.md").write_text("")
    (root / "members").mkdir()
    (root / "members" / "minutes.gmi").write_text("# Minutes\n")
    (root / "disputes").mkdir()
    (root / "disputes" / "strike.gmi").write_text("# Strike\n")
    (root / "menu").mkdir()
    (root / "menu" / "caf\u00e9.gmi").write_text("# Caf\u00e9\n")
    return root


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("rcerts")
    return {n: make_cert(d, n) for n in ("secretary", "member")}


@pytest.fixture(scope="module")
def srv(tmp_path_factory, certs):
    work = tmp_path_factory.mktemp("rules")
    root = build(work / "root")
    root2 = work / "root2"
    (root2 / "special").mkdir(parents=True)
    (root2 / "special" / "x.gmi").write_text("# example.org special\n")
    shutil.chown(root / "news", "nobody")     # the writer's user
    lists = work / "lists"
    lists.mkdir()
    (lists / "members").write_text(certs["member"].fingerprint + " m\n")
    (lists / "admins").write_text(certs["secretary"].fingerprint + " s\n")
    s = Server(work, root, root2)
    s.params["host_extra"] = host_rules(s.port).format(lists=lists)
    s.write_config()
    s.start()
    s.root = root
    yield s
    assert s.stop() == 0
    assert s.sanitizer_reports() == []


def run_check(conf):
    return subprocess.run([str(CAPSULED), "-n", "-c", str(conf)],
                          capture_output=True, text=True, timeout=30)


def line_of(text, marker):
    return text[:text.index(marker)].count("\n") + 1


# -- 30 and 31 ----------------------------------------------------------

def test_an_exact_from_answers_30_with_a_path_the_client_resolves(srv):
    # spec 30: a temporary redirect; the meta may be a relative URL
    r = srv.get("/old.gmi")
    assert (r.status, r.meta, r.body) == (30, "/new.gmi", b"")
    assert srv.get(r.meta).body == b"# New\n"


def test_permanent_is_31_and_a_prefix_carries_the_rest_over(srv):
    # spec 31: permanent; "/blog/x" -> "/news/x" (the rest of the path)
    r = srv.get("/blog/2026-01-01-first.gmi")
    assert (r.status, r.meta) == (31, "/news/2026-01-01-first.gmi")
    assert srv.get(r.meta).body.startswith(b"# First post")
    assert srv.get("/blog/a/b/c.gmi").meta == "/news/a/b/c.gmi"
    assert srv.get("/blog/").meta == "/news/"


def test_a_prefix_covers_its_directory_name_without_the_slash(srv):
    assert (srv.get("/blog").status, srv.get("/blog").meta) == (31, "/news/")


def test_the_longest_from_wins(srv):
    r = srv.get("/blog/special/x.gmi")
    assert r.status == 30
    assert r.meta == f"gemini://example.org:{srv.port}/special/x.gmi"
    # the absolute URL works as a client follows it (another host of ours)
    assert gemini(srv.port, r.meta, sni="example.org").body == \
        b"# example.org special\n"
    assert srv.get("/blog/keep.gmi").meta == "/kept.gmi"


def test_a_to_without_a_slash_takes_every_path_under_from(srv):
    r = srv.get("/strike/day-one.gmi")
    assert (r.status, r.meta) == (30, "/disputes/strike.gmi")


def test_the_query_is_carried_over_since_clients_use_the_url_as_is(srv):
    # spec: a client does not apply the request's query to the redirect
    r = srv.get("/ask?Alice")
    assert (r.status, r.meta) == (30, "/cgi-bin/input?Alice")
    assert srv.get(r.meta).body == b"Hello, Alice\n"
    assert srv.get("/old.gmi?").meta == "/new.gmi?"


def test_targets_are_percent_encoded_and_paths_compared_decoded(srv):
    # RFC 3986 2.1: the FROM was written escaped, the request too
    r = srv.get("/caf%C3%A9.gmi")
    assert (r.status, r.meta) == (30, "/menu/caf%C3%A9.gmi")
    assert srv.get(r.meta).body == "# Caf\u00e9\n".encode()


def test_a_redirect_under_an_access_rule_needs_no_certificate(srv, certs):
    # capsuled.ini(5): redirect and gone come before the access rules
    r = srv.get("/members/old-minutes.gmi")
    assert (r.status, r.meta) == (30, "/members/minutes.gmi")
    assert srv.get(r.meta).status == 60      # spec 60: the target asks
    ctx = certs["member"].ctx()
    assert srv.get(r.meta, ctx=ctx).body == b"# Minutes\n"


def test_no_rule_no_change(srv):
    assert srv.get("/new.gmi").status == 20
    assert srv.get("/blogs/x").status == 51
    assert srv.get("/old.gmi/").status == 51    # an exact FROM is exact


# -- 52 -----------------------------------------------------------------

def test_gone_exact_is_52_though_the_file_is_there(srv):
    # spec 52: no longer available and will not be available again
    assert (srv.root / "news" / "2026-01-02-retracted.gmi").exists()
    r = srv.get("/news/2026-01-02-retracted.gmi")
    assert r.status == 52 and r.body == b""
    assert srv.get("/news/2026-01-03-third.gmi").status == 20


def test_gone_prefix_is_52_for_the_directory_and_under_it(srv):
    for path in ("/campaign/", "/campaign", "/campaign/leaflet.gmi",
                 "/campaign/never-was.gmi"):
        assert srv.get(path).status == 52, path


def test_a_redirect_inside_a_gone_section_is_the_longer_match(srv):
    r = srv.get("/campaign/results.gmi")
    assert (r.status, r.meta) == (30, "/news/2026-01-03-third.gmi")


def test_a_gone_post_is_in_no_index_feed_or_latest_block(srv):
    # spec 52: aggregators are to stop requesting it and say it is gone
    index = srv.get("/news/").body
    atom = srv.get("/news/atom.xml").body
    home = srv.get("/home.gmi").body
    for body in (index, atom, home):
        assert b"2026-01-02-retracted" not in body
        assert b"Retracted press release" not in body
        assert b"2026-01-01-first" in body and b"2026-01-03-third" in body


# -- lang and mime --------------------------------------------------------

def test_a_lang_path_gives_its_pages_their_language(srv):
    assert srv.get("/cy/").meta == "text/gemini; lang=cy"
    assert srv.get("/cy/2026-01-04-newyddion.gmi").meta == \
        "text/gemini; lang=cy"


def test_the_longest_lang_path_wins_and_a_list_is_quoted(srv):
    assert srv.get("/cy/en.gmi").meta == "text/gemini; lang=en-GB"
    # RFC 2045 5.1: ',' is a tspecial, so a list goes in quotes
    assert srv.get("/bi/").meta == 'text/gemini; lang="cy,en"'


def test_elsewhere_the_hosts_own_lang(srv):
    assert srv.get("/new.gmi").meta == "text/gemini; lang=en-GB"


def test_a_feeds_atom_takes_its_sections_lang(srv):
    assert b'xml:lang="cy"' in srv.get("/cy/atom.xml").body
    assert b'xml:lang="en-GB"' in srv.get("/news/atom.xml").body


def test_a_mime_rule_overrides_the_built_in_table(srv):
    # spec 20: the meta is the body's MIME type; .md is text/markdown
    # in the built-in table, text/plain here
    r = srv.get("/readme.md")
    assert (r.status, r.meta) == (20, "text/plain; charset=utf-8")
    assert srv.get("/notes.md").meta == "text/plain; charset=utf-8"


def test_a_mime_rule_overrides_libmagic(srv):
    # unknown.zzqx holds a PDF's first bytes: libmagic would say PDF
    assert srv.get("/unknown.zzqx").meta == "application/x-zzqx"


def test_without_a_rule_the_built_in_table_answers(srv):
    assert srv.get("/hello.txt").meta == "text/plain; charset=utf-8"


def test_without_rules_types_and_lang_are_as_before(make_server):
    s = make_server().start()
    assert s.get("/unknown.zzqx").meta == "application/pdf"
    assert s.get("/").meta == "text/gemini; lang=en-GB"


# -- Titan ----------------------------------------------------------------

def test_a_titan_upload_to_a_redirected_path_is_50_saying_where(srv, certs):
    # the certificate may upload to /news/: the rule is the reason
    r = titan(srv.port, "/news/old-post.gmi", "# Again\n",
              certs["secretary"])
    assert r.status == 50 and "/news/2026-01-01-first.gmi" in r.meta, r.meta
    assert not (srv.root / "news" / "old-post.gmi").exists()


def test_a_titan_upload_to_a_gone_path_is_50(srv, certs):
    r = titan(srv.port, "/news/2026-01-02-retracted.gmi", "# Back\n",
              certs["secretary"])
    assert r.status == 50 and "gone" in r.meta
    assert (srv.root / "news" / "2026-01-02-retracted.gmi").read_text() \
        .startswith("# Retracted")
    # a delete (size 0) is refused too: the rule, not the file, says gone
    assert titan(srv.port, "/news/2026-01-02-retracted.gmi", "",
                 certs["secretary"]).status == 50


def test_a_titan_upload_elsewhere_is_taken(srv, certs):
    r = titan(srv.port, "/news/2026-01-05-fresh.gmi", "# Fresh\n",
              certs["secretary"])
    assert r.status == 30, r.meta
    os.unlink(srv.root / "news" / "2026-01-05-fresh.gmi")


# -- -n and reload ------------------------------------------------------

@pytest.mark.parametrize("rules,marker,words", [
    ("redirect = /a /b\nredirect = /b /a\n", "redirect = /a",
     "redirect: loop: /a -> /b -> /a"),
    ("redirect = /x /y\nredirect = /a/ /b/\nredirect = /b/x/ /a/x/\n",
     "redirect = /b/x/", "redirect: loop: /b/x/ -> /a/x/ -> /b/x/"),
    ("redirect = /a/ /b/x/\nredirect = /b/ /a/\n", "redirect = /a/",
     "more than 5 redirects"),
    ("redirect = / /new/\n", "redirect = /", "more than 5 redirects"),
    ("redirect = /a news/b\n", "redirect = /a", 'TO "news/b" is neither'),
    ("redirect = /a gemini://x.example/?q\n", "redirect = /a",
     "has a query"),
    ("redirect = a /b\n", "redirect = a", 'FROM "a" is not a path'),
    ("gone = /a\nredirect = /a /b\n", "redirect = /a",
     "has a gone rule already"),
    ("lang = /cy/ cy_GB\n", "lang = /cy/", "is not a BCP 47 tag"),
    ("mime = .epub epub\n", "mime = ", "is not a type/subtype"),
])
def test_check_refuses_bad_rules_naming_file_and_line(make_server, rules,
                                                      marker, words):
    s = make_server(host_extra=rules)
    r = run_check(s.conf)
    assert r.returncode == 1
    line = line_of(s.conf.read_text(), marker)
    assert f"{s.conf}:{line}: " in r.stderr and words in r.stderr, r.stderr


def test_a_loop_through_another_host_of_ours_is_refused(make_server):
    s = make_server(host_extra="redirect = /x gemini://example.org/y\n")
    s.write_config(s.conf.read_text() + "redirect = /y gemini://localhost/x\n")
    r = run_check(s.conf)
    assert r.returncode == 1
    line = line_of(s.conf.read_text(), "redirect = /x")
    assert f"{s.conf}:{line}: redirect: loop: /x -> " \
        "gemini://example.org/y -> gemini://localhost/x" in r.stderr


def test_check_accepts_good_rules(make_server, tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "members").write_text("")
    (lists / "admins").write_text("")
    s = make_server(host_extra=host_rules(1965).format(lists=lists))
    s.start()           # makes the certificates -n wants
    s.stop()
    r = run_check(s.conf)
    assert r.returncode == 0, r.stderr


def test_reload_picks_up_every_rule(make_server):
    s = make_server(host_extra="redirect = /moving.gmi /a.gmi\n")
    (s.root / "readme.md").write_text("# Read me\n")
    s.start()
    assert (s.get("/moving.gmi").status, s.get("/moving.gmi").meta) == \
        (30, "/a.gmi")
    assert s.get("/hello.txt").status == 20
    text = s.conf.read_text().replace(
        "redirect = /moving.gmi /a.gmi\n",
        "redirect = /moving.gmi /b.gmi permanent\ngone = /hello.txt\n"
        "lang = /docs/ cy\nmime = .md text/x-markdown\n")
    s.write_config(text)
    s.signal(signal.SIGHUP)
    assert wait_for(lambda: s.get("/moving.gmi").status == 31)
    assert s.get("/moving.gmi").meta == "/b.gmi"
    assert s.get("/hello.txt").status == 52
    assert s.get("/docs/").meta == "text/gemini; lang=cy"
    assert s.get("/readme.md").meta == "text/x-markdown"


def test_a_reload_with_a_loop_keeps_the_old_rules_and_says_where(
        make_server):
    s = make_server(host_extra="redirect = /moving.gmi /a.gmi\n").start()
    bad = s.conf.read_text().replace(
        "redirect = /moving.gmi /a.gmi\n",
        "redirect = /moving.gmi /a.gmi\nredirect = /a.gmi /moving.gmi\n")
    s.write_config(bad)
    s.signal(signal.SIGHUP)
    line = line_of(bad, "redirect = /moving.gmi")
    assert wait_for(lambda: f"{s.conf}:{line}: redirect: loop" in s.log())
    assert "reload failed" in s.log()
    assert s.get("/a.gmi").status == 51          # the old rules serve on
    assert s.get("/moving.gmi").meta == "/a.gmi"


# -- where the rules stand in the routing ---------------------------------

def get_from(s, path, src="127.0.0.6"):
    """A request from another loopback address: a client of its own
    to the rate limit (the readiness probe spent none of its tokens)."""
    raw = socket.create_connection(("127.0.0.1", s.port), timeout=5,
                                   source_address=(src, 0))
    with client_context().wrap_socket(raw, server_hostname="localhost",
                                      suppress_ragged_eofs=False) as c:
        c.sendall(s.url(path).encode() + b"\r\n")
        return read_response(c)


def test_redirects_spend_none_of_the_rate_limit(make_server):
    # the routing order: target check, rules, then the rate limit (44)
    s = make_server(workers=1, rate_limit=2,
                    server_extra="rate_period = 3600",
                    host_extra="redirect = /old.gmi /hello.txt\n").start()
    assert [get_from(s, "/old.gmi").status for _ in range(6)] == [30] * 6
    assert [get_from(s, "/hello.txt").status for _ in range(3)] == \
        [20, 20, 44]
