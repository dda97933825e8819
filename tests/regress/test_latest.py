"""
The "latest posts" block: a hand-written gemtext page holding the line
`<!-- capsuled:latest N DIR [DIR...] -->` is served with the newest N
posts of those feed directories in that line's place, following posts
dropped in, edited and removed with no restart.  A page without a
marker is served byte for byte; no reader ever sees a marker line.
Through the real daemon over TLS.
"""
import os
import re
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAST = time.time() - 3600
MARKER = re.compile(r"^\s*<!--\s*capsuled:", re.I)
LINK = re.compile(r"^=> (\S+) (\d{4}-\d{2}-\d{2}) (.*)$")

HOME = ("# Barnet UNISON\n\n## Latest\n\n"
        "<!-- capsuled:latest 3 news letters -->\n\n"
        "## Sections\n\n=> /news/ Branch news\n")
FEEDS = "feeds = news letters press\n"


def write(path, text, when=PAST):
    Path(path).write_text(text)
    os.utime(path, (when, when))


def build(root):
    root = Path(root)
    for d in ("news", "letters", "press"):
        (root / d).mkdir(parents=True)
    write(root / "news" / "2024-07-17-housing.gmi", "# Housing workers\n")
    write(root / "news" / "2024-10-10-tea.gmi", "# Tea and coffee cut\n")
    write(root / "news" / "2021-09-27-apthorp.gmi", "# Apthorp\n")
    write(root / "letters" / "2023-11-16-open-letter.gmi",
          "# Open letter\n")
    write(root / "letters" / "2024-11-03-no-title.gmi", "no heading\n")
    write(root / "press" / "2025-01-01-press.gmi", "# Not listed\n")
    write(root / "index.gmi", HOME)
    for d in ("news", "letters", "press", "."):
        os.utime(root / d, (PAST, PAST))
    return root


@pytest.fixture
def live(make_server, tmp_path):
    return make_server(build(tmp_path / "root"), host_extra=FEEDS).start()


def block(body):
    """The link lines between "## Latest" and the next heading."""
    lines = body.decode().split("## Latest\n", 1)[1].split("##")[0]
    return [LINK.match(l).groups() for l in lines.splitlines()
            if LINK.match(l)]


def every_worker(server, path="/", n=6):
    return [server.get(path) for _ in range(n)]


def no_marker_shown(body):
    pre = False
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("```"):
            pre = not pre
        assert pre or not MARKER.match(line), line


def test_the_block_lists_the_newest_posts_across_feeds(live):
    r = live.get("/")
    assert r.status == 20 and r.meta.startswith("text/gemini")
    assert block(r.body) == [
        ("/letters/2024-11-03-no-title.gmi", "2024-11-03", "no-title"),
        ("/news/2024-10-10-tea.gmi", "2024-10-10", "Tea and coffee cut"),
        ("/news/2024-07-17-housing.gmi", "2024-07-17", "Housing workers"),
    ]
    text = r.body.decode()
    assert text.startswith("# Barnet UNISON\n\n## Latest\n\n=> /letters/")
    assert text.endswith("Housing workers\n\n## Sections\n\n"
                         "=> /news/ Branch news\n"), "the rest as written"
    no_marker_shown(r.body)
    for path, _, _ in block(r.body):
        assert live.get(path).status == 20, "each link resolves"


def test_the_block_follows_a_drop_an_edit_and_a_removal(live):
    news = live.root / "news"
    every_worker(live)
    # dropped: first at once, on every worker
    (news / "2026-12-02-x.gmi").write_text("# Strike called\n")
    for r in every_worker(live):
        assert block(r.body)[0] == ("/news/2026-12-02-x.gmi", "2026-12-02",
                                    "Strike called")
        assert len(block(r.body)) == 3
    # edited in place: the new title
    with open(news / "2026-12-02-x.gmi", "r+") as f:
        f.write("# Strike CALLED off\n")
        f.truncate()
    for r in every_worker(live):
        assert block(r.body)[0][2] == "Strike CALLED off"
    # removed: gone, the next oldest back
    os.unlink(news / "2026-12-02-x.gmi")
    for r in every_worker(live):
        assert [p for p, _, _ in block(r.body)] == [
            "/letters/2024-11-03-no-title.gmi", "/news/2024-10-10-tea.gmi",
            "/news/2024-07-17-housing.gmi"]


def test_an_edit_of_the_page_itself_shows(live):
    every_worker(live)
    write(live.root / "index.gmi",
          HOME.replace("latest 3 news letters", "latest 1 letters"),
          time.time())
    for r in every_worker(live):
        assert [p for p, _, _ in block(r.body)] == \
            ["/letters/2024-11-03-no-title.gmi"]


PLAIN = {
    "plain.gmi": b"# Plain\n\nNo marker here.\n",
    "crlf.gmi": b"# CR LF\r\n\r\nText\r\n",
    "bom.gmi": b"\xef\xbb\xbf# BOM\n",
    "nolf.gmi": b"# No LF at the end",
    "comment.gmi": b"# HTML\n<!-- a comment, not ours -->\n"
                   b"Text <!-- capsuled:latest 5 news --> in a line\n",
    "pre.gmi": b"# How to\n```\n<!-- capsuled:latest 5 news -->\n```\n",
    "bytes.gmi": bytes(range(256)) * 4,
    "empty.gmi": b"",
}


def test_a_page_without_a_marker_is_served_byte_for_byte(live):
    for name, data in PLAIN.items():
        (live.root / name).write_bytes(data)
    for _ in range(2):      # read and cached, then from the cache
        for name, data in PLAIN.items():
            r = live.get("/" + name)
            assert r.status == 20 and r.body == data, name


def test_a_big_page_streams_unchanged(live):
    data = (b"# Big\n" + b"x" * 100 + b"\n") * 3000     # > 256 KiB
    assert len(data) > 256 * 1024
    (live.root / "big.gmi").write_bytes(data)
    r = live.get("/big.gmi")
    assert r.status == 20 and r.body == data


BAD = [
    "<!-- capsuled:latest 0 news -->",
    "<!-- capsuled:latest 101 news -->",
    "<!-- capsuled:latest five news -->",
    "<!-- capsuled:latest 5 -->",
    "<!-- capsuled:latest 5 nowhere -->",
    "<!-- capsuled:latest 5 news nowhere -->",
    "<!-- capsuled:latest 5 plain -->",
    "<!-- capsuled:latest 5 news",
    "<!-- capsuled:latest 5 news-->",
    "<!--capsuled:latest 5 news -->",
    "<!-- capsuled:newest 5 news -->",
    "  <!-- CAPSULED:latest 5 news -->\t",
]


def test_malformed_markers_never_appear_and_are_logged_once(live):
    text = "# Bad\n" + "".join(f"{m}\nline {i}\n" for i, m in
                               enumerate(BAD))
    write(live.root / "bad.gmi", text)
    for r in every_worker(live, "/bad.gmi"):
        assert r.status == 20
        no_marker_shown(r.body)
        assert r.body.decode() == "# Bad\n" + "".join(
            f"line {i}\n" for i in range(len(BAD))), "only the markers go"
    log = live.log()
    for i in range(len(BAD)):
        line = 2 + 2 * i
        hits = [l for l in log.splitlines() if f"/bad.gmi:{line}: marker:"
                in l]
        assert 1 <= len(hits) <= 2, (line, hits)   # once in each worker
    assert "'nowhere' is not one of the host" in log
    assert "'plain' is not one of the host" in log, "a dir not in feeds"


def test_a_marker_for_a_missing_directory_is_dropped(make_server, tmp_path):
    root = build(tmp_path / "gone")
    os.rename(root / "letters", root / "old-letters")
    s = make_server(root, host_extra=FEEDS).start()
    for r in every_worker(s):
        no_marker_shown(r.body)
        assert r.body.decode().count("## Latest\n\n\n## Sections") == 1
    assert "directory 'letters' is missing" in s.log()


def test_a_host_without_feeds_drops_markers_too(make_server, tmp_path):
    root = build(tmp_path / "nofeeds")
    s = make_server(root).start()
    r = s.get("/")
    no_marker_shown(r.body)
    assert block(r.body) == []


def test_section_index_links_home_and_keeps_its_atom_link(live):
    lines = live.get("/news/").body.decode().splitlines()
    assert "=> atom.xml Atom feed" in lines and "=> / Home page" in lines


# --- the capsule `make run` serves -------------------------------------

def run_ini_host_lines():
    keys = ("feeds", "feed_title", "feed_entries", "feed_author")
    return [l for l in (ROOT / "etc" / "run.ini").read_text().splitlines()
            if l.split("=")[0].strip() in keys]


def test_the_capsule_home_page_shows_no_marker_and_its_blocks_are_right(
        make_server):
    capsule = ROOT / "capsule"
    s = make_server(capsule, host_extra="\n".join(run_ini_host_lines()))
    s.start()
    r = s.get("/")
    assert r.status == 20
    no_marker_shown(r.body)
    served = r.body.decode().splitlines()
    for line in (capsule / "index.gmi").read_text().splitlines():
        m = re.match(r"^<!-- capsuled:latest (\d+) (.*) -->$", line)
        if not m:
            continue
        posts = sorted(((p.name, d) for d in m.group(2).split()
                        for p in (capsule / d).glob("*.gmi")
                        if re.match(r"^\d{4}-\d{2}-\d{2}-", p.name)),
                       reverse=True)[:int(m.group(1))]
        want = [f"/{d}/{n}" for n, d in posts]
        got = [LINK.match(l).group(1) for l in served if LINK.match(l)]
        assert any(got[i:i + len(want)] == want for i in range(len(got))), \
            "the block: the newest posts of the marker's feeds"
    assert "marker:" not in s.log(), "the capsule's markers are well-formed"
