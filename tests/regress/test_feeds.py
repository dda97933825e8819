"""
Generated feeds: for a directory the host lists in `feeds`, a gemfeed
index (Gemini subscription companion spec) at /DIR/ and an Atom 1.0 feed
(RFC 4287) at /DIR/atom.xml, made from its YYYY-MM-DD-slug.gmi files and
kept current with no restart.  Through the real daemon over TLS.
"""
import calendar
import os
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import warnings

import pytest

with warnings.catch_warnings():     # feedparser 6.0 imports cgi (3.11)
    warnings.simplefilter("ignore", DeprecationWarning)
    import feedparser

from conftest import Server

A = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?"
                     r"(Z|[+-]\d{2}:\d{2})$")
# The companion spec: a link line whose label starts with a date.
ENTRY = re.compile(r"^=>[ \t]*(\S+)[ \t]+(\d{4}-\d{2}-\d{2})[ \t](.*)$")

NEWS = {
    "2024-07-16-bad-news-for-housing-workers.gmi":
        "# Bad News for Housing Workers in Barnet Council\n\n"
        "16 July 2024\n\n"
        "Barnet Council has announced cuts to the housing service.\n",
    "2024-03-08-international-womens-day.gmi":
        "## Not the title\n# International Women's Day\n\n"
        "=> https://example.org/ a link is not the summary\n"
        "```\npreformatted is not the summary\n```\n"
        "The branch marches today.\n",
    "2023-11-30-no-heading.gmi": "Just text, no heading.\n",
    "2024-02-30-not-a-date.gmi": "# Thirtieth of February\n",
    "2024-05-01-bread-and-roses.gmi": "# Bread & <Roses> \"now\"\n\nA & B.\n",
    "notes.gmi": "# Undated notes\n",
    ".2024-01-01-hidden.gmi": "# Hidden\n",
    "2024-06-01-picture.png": "not gemtext",
}
ORDER = ["2024-07-16-bad-news-for-housing-workers.gmi",
         "2024-05-01-bread-and-roses.gmi",
         "2024-03-08-international-womens-day.gmi",
         "2023-11-30-no-heading.gmi"]

PAST = time.time() - 3600


def stamp(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


def age(path, when=PAST):
    """Put mtimes in the past: the cache then trusts them (not racy)."""
    os.utime(path, (when, when))


def write(path, text, when=None):
    Path(path).write_text(text)
    if when is not None:
        age(path, when)


def build_feeds(root):
    root = Path(root)
    news = root / "news"
    news.mkdir(parents=True)
    for name, text in NEWS.items():
        write(news / name, text, PAST)
    letters = root / "letters"
    letters.mkdir()
    write(letters / "index.gmi", "# Open letters, by hand\n", PAST)
    write(letters / "2024-01-10-to-the-leader.gmi", "# To the Leader\n", PAST)
    many = root / "many"
    many.mkdir()
    for day in range(1, 21):
        write(many / f"2024-01-{day:02d}-day-{day}.gmi", f"# Day {day}\n",
              PAST)
    own = root / "own"
    own.mkdir()
    write(own / "2024-01-01-x.gmi", "# X\n", PAST)
    write(own / "atom.xml", "<feed>hand made</feed>\n", PAST)
    plain = root / "plain"
    plain.mkdir()
    write(plain / "2024-01-01-dated.gmi", "# Dated\n", PAST)
    (root / "index.gmi").write_text("# Home\n")
    for d in (news, letters, many, own, plain, root):
        age(d)
    return root


FEEDS = ("feeds = news letters many own\n"
         "feed_title = news Branch news\n")


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    work = tmp_path_factory.mktemp("feeds")
    root = build_feeds(work / "root")
    s = Server(work, root, host_extra=FEEDS).start()
    yield s
    assert s.stop() == 0
    assert s.sanitizer_reports() == []


@pytest.fixture
def live(make_server, tmp_path):
    """A daemon of its own, for tests that change the capsule."""
    root = build_feeds(tmp_path / "live")
    return make_server(root, host_extra=FEEDS).start()


def entries(body):
    return [ENTRY.match(l).groups() for l in body.decode().splitlines()
            if ENTRY.match(l)]


def atom(server, path="/news/atom.xml"):
    r = server.get(path)
    assert r.status == 20, r.header
    return ET.fromstring(r.body)


def check_rfc4287(feed):
    """The elements RFC 4287 requires (4.1.1, 4.1.2), checked by name."""
    assert feed.tag == A + "feed"
    for name in ("id", "title", "updated"):
        assert len(feed.findall(A + name)) == 1, f"feed needs one {name}"
    assert RFC3339.match(feed.find(A + "updated").text)
    es = feed.findall(A + "entry")
    assert feed.findall(A + "author") or \
        all(e.findall(A + "author") for e in es), \
        "atom:author on the feed unless every entry has one"
    for link in feed.findall(A + "link"):
        assert link.get("href"), "a link needs href"
    for e in es:
        for name in ("id", "title", "updated"):
            assert len(e.findall(A + name)) == 1, f"entry needs one {name}"
        assert RFC3339.match(e.find(A + "updated").text)
        if e.find(A + "content") is None:
            assert any(l.get("rel") == "alternate"
                       for l in e.findall(A + "link")), \
                "no content: an alternate link is required"
        assert len(e.findall(A + "summary")) <= 1
    ids = [e.find(A + "id").text for e in es]
    assert len(ids) == len(set(ids)), "entry ids are unique"
    return es


# --- the gemfeed index ---------------------------------------------------

def test_feed_index_is_gemtext_with_the_host_lang(feeds):
    r = feeds.get("/news/")
    assert r.status == 20 and r.meta == "text/gemini; lang=en-GB"


def test_feed_index_lists_dated_files_newest_first(feeds):
    names = [e[0] for e in entries(feeds.get("/news/").body)]
    assert names == ORDER


def test_feed_index_title_line_is_the_configured_feed_title(feeds):
    assert feeds.get("/news/").body.decode().splitlines()[0] == \
        "# Branch news"


def test_feed_index_title_defaults_to_the_directory_name(feeds):
    assert feeds.get("/many/").body.decode().splitlines()[0] == "# many"


def test_entry_label_is_date_space_first_level1_heading(feeds):
    got = {n: (d, t) for n, d, t in entries(feeds.get("/news/").body)}
    assert got["2024-07-16-bad-news-for-housing-workers.gmi"] == \
        ("2024-07-16", "Bad News for Housing Workers in Barnet Council")
    assert got["2024-03-08-international-womens-day.gmi"] == \
        ("2024-03-08", "International Women's Day"), "## is not the title"


def test_entry_without_heading_is_labelled_with_its_slug(feeds):
    got = {n: t for n, d, t in entries(feeds.get("/news/").body)}
    assert got["2023-11-30-no-heading.gmi"] == "no-heading"


def test_entry_line_matches_the_companion_spec_example(feeds):
    lines = feeds.get("/news/").body.decode().splitlines()
    assert ("=> 2024-07-16-bad-news-for-housing-workers.gmi 2024-07-16 "
            "Bad News for Housing Workers in Barnet Council") in lines


def test_invalid_calendar_date_is_not_an_entry(feeds):
    body = feeds.get("/news/").body.decode()
    assert "2024-02-30" not in body and "Thirtieth" not in body


def test_undated_dotfile_and_non_gmi_files_are_not_entries(feeds):
    body = feeds.get("/news/").body.decode()
    assert "notes.gmi" not in body and "hidden" not in body.lower()
    assert "picture.png" not in body


def test_entries_are_capped_at_feed_entries(make_server, tmp_path):
    root = build_feeds(tmp_path / "cap")
    s = make_server(root, host_extra=FEEDS + "feed_entries = 5\n").start()
    got = [n for n, d, t in entries(s.get("/many/").body)]
    assert got == [f"2024-01-{d:02d}-day-{d}.gmi" for d in range(20, 15, -1)]
    assert len(atom(s, "/many/atom.xml").findall(A + "entry")) == 5


def test_default_cap_is_100(make_server, tmp_path):
    root = tmp_path / "big"
    (root / "news").mkdir(parents=True)
    for i in range(120):
        d = time.gmtime(PAST - i * 86400)
        write(root / "news" / time.strftime("%Y-%m-%d-post.gmi", d), "x\n")
    s = make_server(root, host_extra="feeds = news\n").start()
    assert len(entries(s.get("/news/").body)) == 100


def test_feed_index_links_the_atom_feed_and_home_last(feeds):
    lines = [l for l in feeds.get("/news/").body.decode().splitlines() if l]
    assert lines[-2:] == ["=> atom.xml Atom feed", "=> / Home page"], \
        "a section index keeps its Atom link and links back home"


def test_entry_links_are_percent_encoded(make_server, tmp_path):
    root = tmp_path / "enc"
    (root / "news").mkdir(parents=True)
    write(root / "news" / "2024-01-01-a b:c.gmi", "# Spaced\n")
    s = make_server(root, host_extra="feeds = news\n").start()
    assert entries(s.get("/news/").body)[0][0] == "2024-01-01-a%20b%3Ac.gmi"
    r = s.get("/news/2024-01-01-a%20b%3Ac.gmi")
    assert r.status == 20 and r.body == b"# Spaced\n", "the link resolves"


# --- the Atom feed -------------------------------------------------------

def test_atom_is_served_as_application_atom_xml(feeds):
    r = feeds.get("/news/atom.xml")
    assert r.status == 20 and r.meta == "application/atom+xml"
    assert r.body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')


def test_atom_is_well_formed_with_the_rfc4287_required_elements(feeds):
    for d in ("news", "letters", "many"):
        check_rfc4287(atom(feeds, f"/{d}/atom.xml"))


def test_atom_feed_id_title_updated_author_links(feeds):
    f = atom(feeds)
    base = f"gemini://localhost:{feeds.port}"
    assert f.find(A + "id").text == base + "/news/"
    assert f.find(A + "title").text == "Branch news"
    assert f.find(A + "updated").text == \
        max(e.find(A + "updated").text for e in f.findall(A + "entry")), \
        "RFC 4287 4.2.15: the feed changed when its latest entry did"
    assert f.find(A + "author").find(A + "name").text == "localhost", \
        "no feed_author: the host name"
    links = {l.get("rel"): l.get("href") for l in f.findall(A + "link")}
    assert links["self"] == base + "/news/atom.xml"
    assert links["alternate"] == base + "/news/"


def test_atom_entries_ids_links_dates_newest_first(feeds):
    es = check_rfc4287(atom(feeds))
    base = f"gemini://localhost:{feeds.port}/news/"
    assert [e.find(A + "id").text for e in es] == [base + n for n in ORDER]
    for e, name in zip(es, ORDER):
        link = [l for l in e.findall(A + "link")
                if l.get("rel") == "alternate"][0]
        assert link.get("href") == base + name
        assert e.find(A + "published").text == name[:10] + "T00:00:00Z", \
            "published: the date in the file's name"
        assert e.find(A + "updated").text == stamp(PAST), \
            "updated: the file's mtime"


def test_atom_entry_title_and_summary_from_the_gemtext(feeds):
    es = {e.find(A + "id").text.rsplit("/", 1)[1]: e
          for e in atom(feeds).findall(A + "entry")}
    e = es["2024-03-08-international-womens-day.gmi"]
    assert e.find(A + "title").text == "International Women's Day"
    assert e.find(A + "summary").text == "The branch marches today.", \
        "headings, links and preformatted text are not the summary"
    assert es["2023-11-30-no-heading.gmi"].find(A + "title").text == \
        "no-heading"
    e = es["2024-07-16-bad-news-for-housing-workers.gmi"]
    assert e.find(A + "summary").text == \
        "Barnet Council has announced cuts to the housing service.", \
        "a dateline under the title is not the summary"


def test_atom_escapes_ampersand_less_than_and_quotes(feeds):
    raw = feeds.get("/news/atom.xml").body.decode()
    assert "<title>Bread &amp; &lt;Roses&gt; &quot;now&quot;</title>" in raw
    es = {e.find(A + "id").text.rsplit("/", 1)[1]: e
          for e in atom(feeds).findall(A + "entry")}
    e = es["2024-05-01-bread-and-roses.gmi"]
    assert e.find(A + "title").text == 'Bread & <Roses> "now"'
    assert e.find(A + "summary").text == "A & B."


def test_atom_drops_characters_xml_forbids(make_server, tmp_path):
    root = tmp_path / "ctl"
    (root / "news").mkdir(parents=True)
    (root / "news" / "2024-01-01-ctl.gmi").write_bytes(
        b"# Bell\x07 and \xff byte\n\nNUL\x00 here\x1b.\n")
    s = make_server(root, host_extra="feeds = news\n").start()
    e = atom(s).find(A + "entry")
    assert e.find(A + "title").text == "Bell  and \ufffd byte"
    assert e.find(A + "summary").text == "NUL  here ."


def test_atom_summary_is_cut_near_300_bytes_on_a_utf8_boundary(
        make_server, tmp_path):
    root = tmp_path / "long"
    (root / "news").mkdir(parents=True)
    write(root / "news" / "2024-01-01-long.gmi",
          "# Long\n\n" + "Grève générale " * 60 + "\n")
    s = make_server(root, host_extra="feeds = news\n").start()
    summary = atom(s).find(A + "entry").find(A + "summary").text
    assert len(summary.encode()) <= 303 and summary.endswith("\u2026")
    assert summary.startswith("Grève générale Grève")


# --- which directories, and what wins ------------------------------------

def test_directory_with_an_index_file_serves_it(feeds):
    r = feeds.get("/letters/")
    assert r.status == 20 and r.body == b"# Open letters, by hand\n"


def test_directory_with_an_index_file_still_gets_atom(feeds):
    es = check_rfc4287(atom(feeds, "/letters/atom.xml"))
    assert [e.find(A + "title").text for e in es] == ["To the Leader"]


def test_a_real_atom_xml_wins_over_the_generated_one(feeds):
    r = feeds.get("/own/atom.xml")
    assert r.status == 20 and r.body == b"<feed>hand made</feed>\n"
    assert entries(feeds.get("/own/").body)[0][0] == "2024-01-01-x.gmi"


def test_directory_not_in_feeds_is_unaffected(feeds):
    r = feeds.get("/plain/")
    assert r.status == 20
    assert r.body.decode().startswith("# Index of /plain/"), "autoindex"
    assert feeds.get("/plain/atom.xml").status == 51


def test_feed_directory_without_slash_redirects(feeds):
    r = feeds.get("/news")
    assert r.status == 31 and r.meta == "/news/"


def test_feed_directory_that_does_not_exist_is_51(make_server, tmp_path):
    root = tmp_path / "none"
    root.mkdir()
    s = make_server(root, host_extra="feeds = news\n").start()
    assert s.get("/news/").status == 51
    assert s.get("/news/atom.xml").status == 51


def test_empty_feed_directory_gives_a_valid_empty_feed(make_server, tmp_path):
    root = tmp_path / "empty"
    (root / "news").mkdir(parents=True)
    age(root / "news", 1700000000)
    s = make_server(root, host_extra="feeds = news\n").start()
    r = s.get("/news/")
    assert r.status == 20 and entries(r.body) == []
    assert r.body.decode().startswith("# news\n")
    f = atom(s)
    assert check_rfc4287(f) == []
    assert f.find(A + "updated").text == "2023-11-14T22:13:20Z", \
        "no entries: updated is the directory's mtime"


def test_posts_in_a_feed_directory_are_served_as_files(feeds):
    r = feeds.get("/news/2024-07-16-bad-news-for-housing-workers.gmi")
    assert r.status == 20 and r.body.startswith(b"# Bad News")


def test_feeds_are_per_host(feeds):
    r = feeds.request(f"gemini://example.org:{feeds.port}/news/",
                      sni="example.org")
    assert r.status == 51, \
        "example.org lists no feeds (nor autoindex): same root, no feed"
    r = feeds.request(f"gemini://example.org:{feeds.port}/news/atom.xml",
                      sni="example.org")
    assert r.status == 51


# --- no restart ----------------------------------------------------------

def all_workers(server, path, n=8):
    """Ask often enough that every worker's cache answers."""
    return [server.get(path) for _ in range(n)]


def test_a_dropped_file_appears_without_restart(live):
    all_workers(live, "/news/")
    all_workers(live, "/news/atom.xml")
    write(live.root / "news" / "2024-08-01-strike-called.gmi",
          "# Strike called\n\nMembers voted to strike.\n")
    for r in all_workers(live, "/news/"):
        assert entries(r.body)[0] == ("2024-08-01-strike-called.gmi",
                                      "2024-08-01", "Strike called")
    for r in all_workers(live, "/news/atom.xml"):
        f = ET.fromstring(r.body)
        e = f.find(A + "entry")
        assert f.find(A + "updated").text == e.find(A + "updated").text
        assert e.find(A + "title").text == "Strike called"


def test_a_post_unreadable_at_first_shows_once_it_is_made_readable(live):
    # an admin copies a post in with the wrong mode, then fixes the mode:
    # only its ctime changes, not the directory, yet it must show
    post = live.root / "news" / "2024-08-01-strike-called.gmi"
    write(post, "# Strike called\n\nMembers voted to strike.\n")
    post.chmod(0)
    age(post, PAST)
    age(live.root / "news", PAST)    # nothing racy: the caches are used
    for r in all_workers(live, "/news/"):
        assert post.name not in r.body.decode()
    post.chmod(0o644)
    for r in all_workers(live, "/news/"):
        assert entries(r.body)[0][0] == post.name


def test_a_removed_file_disappears_without_restart(live):
    all_workers(live, "/news/")
    all_workers(live, "/news/atom.xml")
    os.unlink(live.root / "news" / ORDER[0])
    for r in all_workers(live, "/news/"):
        assert [e[0] for e in entries(r.body)] == ORDER[1:]
    for r in all_workers(live, "/news/atom.xml"):
        assert ORDER[0] not in r.body.decode()


def test_a_title_edited_in_place_updates(live):
    path = live.root / "news" / ORDER[1]
    all_workers(live, "/news/")
    all_workers(live, "/news/atom.xml")
    dir_mtime = os.stat(live.root / "news").st_mtime_ns
    with open(path, "r+") as f:       # in place: same inode, same directory
        f.write("# Bread and Roses, corrected\n")
        f.truncate()
    assert os.stat(live.root / "news").st_mtime_ns == dir_mtime
    for r in all_workers(live, "/news/"):
        got = {n: t for n, d, t in entries(r.body)}
        assert got[ORDER[1]] == "Bread and Roses, corrected"
    for r in all_workers(live, "/news/atom.xml"):
        assert "Bread and Roses, corrected" in r.body.decode()


def test_an_edit_with_an_older_mtime_still_updates(live):
    """cp -p or rsync -t: the mtime goes back, the change still shows."""
    path = live.root / "news" / ORDER[1]
    all_workers(live, "/news/")
    write(path, "# Older stamp, new words\n", PAST - 86400)
    for r in all_workers(live, "/news/"):
        got = {n: t for n, d, t in entries(r.body)}
        assert got[ORDER[1]] == "Older stamp, new words"


def test_a_new_post_and_its_rewrite_straight_after_both_show(live):
    """A post added and rewritten at once: the next request to the
    index shows it, the next to atom.xml its new title.  This is the
    end-to-end path only; the two writes still get different mtimes
    here (nanosecond time stamps), so the racy case, a rewrite with the
    same size and mtime, is for tests/unit/feed_test.c, which sets the
    time stamps itself."""
    news = live.root / "news"
    for i in range(5):
        write(news / f"2025-01-0{i + 1}-quick-{i}.gmi", f"# Quick {i}\n")
        r = live.get("/news/")
        assert entries(r.body)[0][2] == f"Quick {i}"
        write(news / f"2025-01-0{i + 1}-quick-{i}.gmi", f"# Quack {i}\n")
        r = live.get("/news/atom.xml")
        assert f"<title>Quack {i}</title>" in r.body.decode()


def test_a_renamed_file_moves_to_its_new_date(live):
    news = live.root / "news"
    all_workers(live, "/news/")
    os.rename(news / ORDER[3], news / "2024-12-24-no-heading.gmi")
    for r in all_workers(live, "/news/"):
        assert entries(r.body)[0][:2] == ("2024-12-24-no-heading.gmi",
                                         "2024-12-24")


# --- feeds a reader trusts -------------------------------------------------

def feed_times(feed):
    """Every time stamp of an Atom feed, as epoch seconds."""
    out = []
    for el in feed.iter():
        if el.tag in (A + "updated", A + "published"):
            assert RFC3339.match(el.text), el.text
            out.append(calendar.timegm(time.strptime(el.text,
                                                     "%Y-%m-%dT%H:%M:%SZ")))
    return out


def check_trusted(body, now=None):
    """feedparser (a real reader's parser) and our own rules: RFC 4287's
    required elements, nothing in the future, published <= updated, and
    the feed's updated the latest entry's."""
    now = now or time.time()
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    feed = ET.fromstring(body)
    es = check_rfc4287(feed)
    assert all(t <= now + 1 for t in feed_times(feed)), \
        "nothing in a feed may be in the future"
    for e in es:
        assert e.find(A + "published").text <= e.find(A + "updated").text
        s = e.find(A + "summary")
        assert s is None or not s.text.startswith(">"), "no quote marker"
    if es:
        assert feed.find(A + "updated").text == \
            max(e.find(A + "updated").text for e in es)
    return es


def test_every_feed_validates(feeds):
    for d in ("news", "letters", "many"):
        check_trusted(feeds.get(f"/{d}/atom.xml").body)


def test_a_post_dropped_this_morning_is_not_stamped_in_the_future(live):
    """Noon of today was the stamp of a post dropped today: in the
    future every morning.  Named for today (UTC) and tomorrow (an admin
    ahead of UTC), neither may be."""
    now = time.time()
    for t in (now, now + 86400):
        name = time.strftime("%Y-%m-%d-today.gmi", time.gmtime(t))
        write(live.root / "news" / name, "# Today\n\nNews.\n")
    for r in all_workers(live, "/news/atom.xml", 4):
        es = check_trusted(r.body)
        assert es[0].find(A + "title").text == "Today"


def test_an_edit_in_place_moves_updated_not_published(live):
    path = live.root / "news" / ORDER[0]
    before = {e.find(A + "id").text: e for e in
              atom(live).findall(A + "entry")}
    with open(path, "a") as f:         # in place: same inode
        f.write("\nA correction.\n")
    for r in all_workers(live, "/news/atom.xml", 4):
        f = ET.fromstring(r.body)
        e = f.find(A + "entry")
        old = before[e.find(A + "id").text]
        assert e.find(A + "published").text == \
            old.find(A + "published").text, "published stays"
        assert e.find(A + "updated").text > old.find(A + "updated").text
        assert e.find(A + "updated").text == stamp(os.stat(path).st_mtime)
        assert f.find(A + "updated").text == e.find(A + "updated").text
        check_trusted(r.body)


def test_feed_author_names_the_feeds(make_server, tmp_path):
    root = build_feeds(tmp_path / "author")
    s = make_server(root, host_extra=FEEDS +
                    "feed_author = Barnet UNISON & friends\n").start()
    for d in ("news", "many"):
        f = atom(s, f"/{d}/atom.xml")
        assert f.find(A + "author").find(A + "name").text == \
            "Barnet UNISON & friends"
    assert feedparser.parse(s.get("/news/atom.xml").body).feed.author == \
        "Barnet UNISON & friends"


SUPPORT = ("# {who} backs the strikers\n\n{date}\n\n"
           "Barnet UNISON is a proud active fighting UNISON branch.\n\n"
           "Below is a message of support for our strikers.\n\n{own}")


def test_summaries_skip_quotes_salutations_and_shared_boilerplate(
        make_server, tmp_path):
    root = tmp_path / "sum"
    d = root / "disputes"
    d.mkdir(parents=True)
    write(d / "2024-10-30-libby.gmi", SUPPORT.format(
        who="Libby Nolan", date="30 October 2024",
        own="Big Thanks to Libby Nolan.\n"))
    write(d / "2024-10-31-gaby.gmi", SUPPORT.format(
        who="Gaby Lawler", date="31 October 2024", own=""))
    write(d / "2024-11-02-john.gmi", SUPPORT.format(
        who="John McDonnell", date="2 November 2024",
        own="=> https://example.org/ video\nJohn McDonnell MP says...\n"))
    write(d / "2022-07-15-heat.gmi",
          "# Heat\n\n15 July 2022\n\n> \u201cFor the first time...\u201d\n\n"
          "The shocking brutal inequality.\n")
    write(d / "2023-11-16-letter.gmi",
          "# Open letter\n\nDear James Mass,\n\nWe are writing to you.\n")
    write(d / "2020-12-13-schools.gmi",
          "# Schools\n\nHi Ian\n\nThe letter below appeared.\n")
    s = make_server(root, host_extra="feeds = disputes\n").start()
    body = s.get("/disputes/atom.xml").body
    check_trusted(body)
    got = {e.find(A + "id").text.rsplit("/", 1)[1]:
           (e.find(A + "summary").text if e.find(A + "summary") is not None
            else None) for e in ET.fromstring(body).findall(A + "entry")}
    assert got == {
        "2024-10-30-libby.gmi": "Big Thanks to Libby Nolan.",
        "2024-10-31-gaby.gmi": None,
        "2024-11-02-john.gmi": "John McDonnell MP says...",
        "2022-07-15-heat.gmi": "The shocking brutal inequality.",
        "2023-11-16-letter.gmi": "We are writing to you.",
        "2020-12-13-schools.gmi": "The letter below appeared.",
    }
    # the boilerplate is shared no longer once only one post has it
    os.unlink(d / "2024-10-31-gaby.gmi")
    os.unlink(d / "2024-11-02-john.gmi")
    for r in all_workers(s, "/disputes/atom.xml", 4):
        e = [e for e in ET.fromstring(r.body).findall(A + "entry")
             if e.find(A + "id").text.endswith("libby.gmi")][0]
        assert e.find(A + "summary").text == \
            "Barnet UNISON is a proud active fighting UNISON branch."


def test_a_marker_line_is_never_a_summary(make_server, tmp_path):
    # issue 19.13: a post that opens with a latest-posts block gave its
    # marker line (which no reader ever sees) as its Atom <summary>
    root = tmp_path / "mark"
    d = root / "news"
    d.mkdir(parents=True)
    write(d / "2024-09-01-roundup.gmi",
          "# Roundup\n\n<!-- capsuled:latest 3 news -->\n\n"
          "What the branch did this summer.\n", PAST)
    write(d / "2024-09-02-broken.gmi",
          "# Broken\n\n<!--capsuled:nonsense-->\nOnly this.\n", PAST)
    s = make_server(root, host_extra="feeds = news\n").start()
    body = s.get("/news/atom.xml").body
    check_trusted(body)
    got = {e.find(A + "id").text.rsplit("/", 1)[1]:
           e.find(A + "summary").text
           for e in ET.fromstring(body).findall(A + "entry")}
    assert got == {"2024-09-01-roundup.gmi":
                   "What the branch did this summer.",
                   "2024-09-02-broken.gmi": "Only this."}
    assert b"capsuled:" not in body


# --- the default capsule, as `make run` serves it ------------------------

ROOT = Path(__file__).resolve().parents[2]
DATED = re.compile(r"^(\d{4}-\d{2}-\d{2})-[^/]+\.gmi$")


def run_ini_feed_lines():
    return [l for l in (ROOT / "etc" / "run.ini").read_text().splitlines()
            if l.split("=")[0].strip() in ("feeds", "feed_title",
                                           "feed_entries", "feed_author")]


def inferred_mark(path):
    """README "Publishing": a line "Date inferred: ..." marks the post."""
    return " (date inferred)" if any(
        l.startswith("Date inferred:")
        for l in path.read_text("utf-8").splitlines()) else ""


def first_heading(path):
    for line in path.read_text("utf-8").splitlines():
        if line.startswith("#") and not line.startswith("##"):
            return line[1:].strip()
    return None


def test_make_run_gives_every_dated_section_of_the_capsule_a_feed(
        make_server):
    capsule = ROOT / "capsule"
    sections = sorted({p.parent.name for p in capsule.glob("*/*.gmi")
                       if DATED.match(p.name)})
    listed = " ".join(l.split("=", 1)[1] for l in run_ini_feed_lines()
                      if l.startswith("feeds")).split()
    assert sections and set(sections) <= set(listed)
    s = make_server(capsule, host_extra="\n".join(run_ini_feed_lines()))
    s.start()
    for d in sections:
        posts = sorted((p for p in (capsule / d).iterdir()
                        if DATED.match(p.name)), reverse=True)
        got = entries(s.get(f"/{d}/").body)
        # a post whose date was inferred says so after its title
        assert [(n, t) for n, _, t in got] == \
            [(p.name, first_heading(p) + inferred_mark(p))
             for p in posts], d
        body = s.get(f"/{d}/atom.xml").body
        es = check_trusted(body)
        assert len(es) == len(posts)
        assert ET.fromstring(body).find(A + "author").find(A + "name") \
            .text == "Barnet UNISON", "run.ini's feed_author"
        sums = [e.find(A + "summary").text for e in es
                if e.find(A + "summary") is not None]
        assert len(sums) == len(set(sums)), f"{d}: no shared summary"
        for t in sums:
            assert not re.match(r"(Dear|Hi)\b", t), "no salutation"


def test_an_inferred_date_is_marked_in_index_and_atom_with_no_restart(live):
    # README "Publishing": a post with a line "Date inferred: ..." keeps
    # its gemfeed line ("=> NAME DATE TITLE": the companion spec) and
    # adds "(date inferred)" after the title; its Atom title says so too
    post = Path(live.root) / "news" / "2024-10-30-message.gmi"
    write(post, "# A message of support\n\nWords.\n\n## About this page\n\n"
          "Date inferred: about late October 2024.\n", PAST - 60)
    age(post.parent, PAST - 60)
    got = dict((n, t) for n, d, t in entries(live.get("/news/").body))
    assert got["2024-10-30-message.gmi"] == \
        "A message of support (date inferred)"
    assert got["2024-07-16-bad-news-for-housing-workers.gmi"] == \
        "Bad News for Housing Workers in Barnet Council"
    titles = [e.find(A + "title").text
              for e in atom(live).findall(A + "entry")]
    assert "A message of support (date inferred)" in titles
    assert sum("(date inferred)" in t for t in titles) == 1
    # the date confirmed: the next request drops the mark
    write(post, "# A message of support\n\n30 October 2024\n\nWords.\n",
          PAST)
    got = dict((n, t) for n, d, t in entries(live.get("/news/").body))
    assert got["2024-10-30-message.gmi"] == "A message of support"
    assert "(date inferred)" not in live.get("/news/atom.xml").body.decode()
