"""
The default capsule is clean gemtext with no broken links, and gemlint
(tests/gemlint.py) catches each kind of error it claims to, on small
throwaway capsules.

Gemtext rules checked are the spec's: link lines are "=>" at the very
start of a line followed by a URL (a leading space makes a text line);
"```" lines toggle preformatted mode; text/gemini is UTF-8.  Feeds: a
directory of YYYY-MM-DD-slug.gmi files gets a generated gemfeed index
(title from each file's first "#" heading) and an atom.xml.
"""
import datetime
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CAPSULE = ROOT / "capsule"
LINT = ROOT / "tests" / "gemlint.py"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
    else sys.executable
DATED = re.compile(r"^\d{4}-\d{2}-\d{2}-[^/]+\.gmi$")
A = "{http://www.w3.org/2005/Atom}"


def lint(*args, cwd=None):
    p = subprocess.run([PYTHON, str(LINT), *map(str, args)], cwd=cwd,
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def tree(root, files):
    """files: {relative path: str or bytes}; a path ending in / is a dir."""
    for rel, data in files.items():
        p = root / rel
        if rel.endswith("/"):
            p.mkdir(parents=True, exist_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode("utf-8")
        p.write_bytes(data)
    return root


# --- the default capsule ----------------------------------------------------

def test_default_capsule_lints_clean():
    rc, out, err = lint(CAPSULE)
    assert (rc, out, err) == (0, "", ""), out + err


def dated_files():
    return sorted(p.relative_to(CAPSULE).as_posix()
                  for p in CAPSULE.rglob("*.gmi")
                  if DATED.match(p.name) and
                  not any(part.startswith(".") for part in
                          p.relative_to(CAPSULE).parts))


def test_every_post_of_the_branch_is_its_own_page():
    # 17 posts in the two seed exports, none merged or dropped
    assert len(dated_files()) == 17


def test_dates_file_records_every_post_once_with_its_reason():
    lines = [l for l in (CAPSULE / ".dates").read_text("utf-8").splitlines()
             if l.strip() and not l.startswith("#")]
    seen = {}
    for l in lines:
        m = re.match(r"^(\S+) (\d{4}-\d{2}-\d{2}) "
                     r"(stated|confirmed: \S.*|inferred: \S.*)$", l)
        assert m, "bad .dates line: " + l
        path, date, why = m.groups()
        assert path not in seen, "listed twice: " + path
        seen[path] = date
        assert Path(path).name.startswith(date + "-"), path
        datetime.date.fromisoformat(date)
    assert sorted(seen) == dated_files()


def test_dated_sections_have_no_hand_written_index():
    for d in {Path(f).parent for f in dated_files()}:
        assert not (CAPSULE / d / "index.gmi").exists(), d


def links(path):
    return [l.split()[1] for l in path.read_text("utf-8").splitlines()
            if l.startswith("=>") and len(l.split()) > 1]


def test_home_page_links_sections_feeds_counter_and_about():
    got = set(links(CAPSULE / "index.gmi"))
    sections = {"/" + Path(f).parent.as_posix() + "/" for f in dated_files()}
    assert sections <= got
    assert {s + "atom.xml" for s in sections} <= got
    assert {"/cgi-bin/strike", "/cgi-bin/strike/mental-health",
            "/about.gmi"} <= got
    assert (CAPSULE / "index.gmi").read_text("utf-8").startswith("# ")


def test_fact_sheet_links_both_strike_counters():
    sheet = [f for f in dated_files() if "all-you-need-to-know" in f]
    assert len(sheet) == 1
    got = set(links(CAPSULE / sheet[0]))
    assert {"/cgi-bin/strike", "/cgi-bin/strike/mental-health"} <= got


def test_about_page_gives_the_branch_contacts():
    text = (CAPSULE / "about.gmi").read_text("utf-8")
    assert "mailto:contactus@barnetunison.org.uk" in text
    assert "020 8359 2088" in text     # the UK format, as the branch's site
    assert "0208 359 2088" not in text
    assert "https://www.barnetunison.me.uk/" in text


def dates():
    """.dates: {path: (date, "stated" | "confirmed" | "inferred")}"""
    got = {}
    for l in (CAPSULE / ".dates").read_text("utf-8").splitlines():
        if l.strip() and not l.startswith("#"):
            path, date, why = l.split(" ", 2)
            got[path] = (datetime.date.fromisoformat(date),
                         why.split(":")[0])
    return got


MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]


def test_each_post_says_how_sure_its_date_is():
    # a confirmed date is shown plainly under the title; an inferred one
    # is never shown as fact, and the page says it was inferred
    for path, (date, how) in dates().items():
        lines = (CAPSULE / path).read_text("utf-8").splitlines()
        plain = "%d %s %d" % (date.day, MONTHS[date.month - 1], date.year)
        text = "\n".join(lines)
        if how == "inferred":
            assert "\nDate inferred: " in text, path
            assert not re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}",
                                    lines[2]), path
        else:
            assert lines[2] == plain, path
            assert "Date inferred" not in text, path


def test_each_post_ends_with_where_its_original_is():
    for path in dated_files():
        text = (CAPSULE / path).read_text("utf-8")
        about = text[text.index("\n## About this page\n"):]
        assert "=> https://www.barnetunison.me.uk/wp/" in about, path


# A promise the export broke: the words, then what must follow them (a
# link, or an editor's note saying what the original had).
PROMISES = ["click on the link below", "Here is Animation Number Three",
            "Below is a message of support", "which you can view here",
            "View statement here", "or email:", "please email",
            "access via this link )", "I attach a copy"]


def test_no_promise_is_left_empty():
    seen = 0
    for path in dated_files():
        lines = (CAPSULE / path).read_text("utf-8").splitlines()
        for i, l in enumerate(lines):
            if not any(p in l for p in PROMISES):
                continue
            seen += 1
            nxt = [x for x in lines[i + 1:] if x.strip()][:1]
            assert nxt, (path, l)
            assert nxt[0].startswith(("=> ", "Editor’s note: ")) or \
                (nxt[0].startswith("Big Thanks") and "libby" in path), \
                (path, l, nxt[0])
    assert seen >= 12


def test_community_care_titles_have_their_links():
    cc = (CAPSULE / "disputes/2024-07-18-community-care-articles.gmi")
    got = [l for l in links(cc) if "communitycare.co.uk/20" in l]
    # 11 of the 15 found (the 8 March 2024 article since the first ten)
    assert len(got) == 11 and len(set(got)) == 11
    press = CAPSULE / "press/2024-09-05-mass-exodus-of-mental-health-" \
        "social-workers.gmi"
    assert set(got) <= set(links(press))


def test_editors_notes_are_marked_and_branch_words_kept():
    # every line of the branch's posts (the seed exports) is still there,
    # word for word; what the capsule adds is marked as the editor's
    seeds = Path(__file__).resolve().parents[3] / "shared" / "seeds"
    if not seeds.is_dir():
        seeds = Path("/work/shared/seeds")
    def norm(t):
        # the capsule puts a URL on a link line of its own, and a space
        # after a full stop the export ran into a date ("dispute.26")
        t = re.sub(r"\S*/\S*", "", re.sub(r"https?://", "", t))
        t = re.sub(r"\.(\d)", r". \1", t.replace("\u00a0", " "))
        return re.sub(r"\s+", " ", t).strip()
    ours = norm(" ".join(
        re.sub(r"^(\* |> |=> \S+ |## |# |\d+\. ?)", "", l)
        for p in dated_files()
        for l in (CAPSULE / p).read_text("utf-8").splitlines()))
    missing = []
    for f in sorted(seeds.glob("*.txt")):
        for l in f.read_text("utf-8").splitlines():
            l = norm(re.sub(r"^(•|\d+\.) ?", "", l.strip()))
            if len(l) > 40 and l not in ours:
                missing.append(l)
    assert missing == []
    for p in dated_files():
        for l in (CAPSULE / p).read_text("utf-8").splitlines():
            if "editor’s note" in l.lower() and not l.startswith("=>"):
                assert l.startswith("Editor’s note: ") or \
                    "an editor’s note" in l, (p, l)


def test_home_page_carries_the_generated_latest_block():
    lines = (CAPSULE / "index.gmi").read_text("utf-8").splitlines()
    i = lines.index("## Latest")
    rest = [l for l in lines[i + 1:] if l.strip()]
    assert rest[0] == "<!-- capsuled:latest 5 news letters press disputes -->"
    assert rest[1].startswith("## ")     # nothing hand-written under it


def test_home_page_says_what_each_client_does():
    text = (CAPSULE / "index.gmi").read_text("utf-8")
    assert "subscribe to a section directly" not in text
    assert "Lagrange" in text and "“Subscribe to page”" in text
    assert "Amfora" in text and "Atom feed" in text


def test_press_contact_on_the_home_page_and_the_press_release():
    for p in ["index.gmi", "press/2024-09-05-mass-exodus-of-mental-health-"
              "social-workers.gmi"]:
        text = (CAPSULE / p).read_text("utf-8")
        assert "020 8359 2088" in text, p
        assert "=> mailto:contactus@barnetunison.org.uk " in text, p


def straight_quotes(text):
    """Straight ' and " in a page's own words (not in link URLs)."""
    bad = []
    for l in text.splitlines():
        if l.startswith("=>"):
            l = " ".join(l.split()[2:])
        if l.startswith("<!-- capsuled:latest "):
            continue
        if "'" in l or '"' in l:
            bad.append(l)
    return bad


def test_one_quote_style_on_the_home_page_about_and_counter():
    for p in ["index.gmi", "about.gmi"]:
        assert straight_quotes((CAPSULE / p).read_text("utf-8")) == [], p
    subprocess.run(["make", "-s", "capsule/cgi-bin/strike"], cwd=ROOT,
                   check=True)
    out = subprocess.run(["./strike"], cwd=CAPSULE / "cgi-bin",
                         env={"STRIKE_TODAY": "2026-12-02"},
                         capture_output=True, timeout=10).stdout
    assert straight_quotes(out.decode("utf-8")) == []


# --- gemlint on small capsules ------------------------------------------------

GOOD = {
    "index.gmi": "# Home\n\n=> news/ News\n=> /about.gmi About\n",
    "about.gmi": "# About\n",
    "news/2024-01-02-first.gmi": "# First\n\ntext\n",
}

# (files added to GOOD, expected "file:line: message" fragments)
BAD = [
    ("invalid UTF-8",
     {"a.gmi": b"# A\nok\ncaf\xe9\n"}, ["a.gmi:3: not valid UTF-8"]),
    ("byte order mark",
     {"a.gmi": b"\xef\xbb\xbf# A\n"}, ["a.gmi:1: starts with a byte order"]),
    ("carriage return",
     {"a.gmi": b"# A\r\nx\n"}, ["a.gmi:1: CR in line"]),
    ("whitespace before =>",
     {"a.gmi": "# A\n\n  => /about.gmi About\n"},
     ["a.gmi:3: whitespace before '=>'"]),
    ("indented text (hard-wrap leftover)",
     {"a.gmi": "# A\n\ttext\n"}, ["a.gmi:2: text line starts with"]),
    ("empty link target",
     {"a.gmi": "# A\n=>\n=>   \n"},
     ["a.gmi:2: link line has no target", "a.gmi:3: link line has no"]),
    ("unclosed preformat",
     {"a.gmi": "# A\n```\ncode\n```\n\n```ascii art\nx\n"},
     ["a.gmi:6: ``` preformatted block opened here is never closed"]),
    ("relative link to a missing file",
     {"a.gmi": "# A\n=> nothere.gmi\n"},
     ["a.gmi:2: broken link nothere.gmi: no such file"]),
    ("root-relative link to a missing file",
     {"news/b.gmi": "# B\n=> /news/2024-01-03-missing.gmi\n"},
     ["news/b.gmi:2: broken link /news/2024-01-03-missing.gmi"]),
    ("relative link resolves against the page's directory",
     {"news/b.gmi": "# B\n=> about.gmi\n"},
     ["news/b.gmi:2: broken link about.gmi: no such file news/about.gmi"]),
    ("directory link without trailing slash",
     {"a.gmi": "# A\n=> /news News\n"},
     ["a.gmi:2: broken link /news: names a directory without the "
      "trailing slash"]),
    ("missing directory",
     {"a.gmi": "# A\n=> /letters/\n"}, ["a.gmi:2: broken link /letters/"]),
    ("dotfile",
     {".secret.gmi": "# S\n", "a.gmi": "# A\n=> .secret.gmi\n"},
     ["a.gmi:2: broken link .secret.gmi: names a dotfile"]),
    ("dot directory",
     {".git/x.gmi": "# S\n", "a.gmi": "# A\n=> /.git/x.gmi\n"},
     ["a.gmi:2: broken link /.git/x.gmi: names a dotfile"]),
    ("climbing above the root",
     {"a.gmi": "# A\n=> ../outside.gmi\n"},
     ["a.gmi:2: link ../outside.gmi climbs above the root"]),
    ("encoded slash is not a separator",
     {"a.gmi": "# A\n=> news%2F2024-01-02-first.gmi\n"},
     ["a.gmi:2: link news%2F2024-01-02-first.gmi encodes '/'"]),
    ("encoded dot segment",
     {"news/b.gmi": "# B\n=> %2E%2E/about.gmi\n"},
     ["news/b.gmi:2: link %2E%2E/about.gmi encodes a dot segment"]),
    ("bad percent escape",
     {"a.gmi": "# A\n=> 100%.gmi\n"}, ["a.gmi:2: link 100%.gmi has a bad"]),
    ("atom.xml of a directory without dated files",
     {"misc/x.gmi": "# X\n", "a.gmi": "# A\n=> /misc/atom.xml\n"},
     ["a.gmi:2: broken link /misc/atom.xml"]),
    ("generated index has no index.gmi of its own",
     {"a.gmi": "# A\n=> /news/index.gmi\n"},
     ["a.gmi:2: broken link /news/index.gmi: no index.gmi here"]),
    ("unknown CGI script",
     {"a.gmi": "# A\n=> /cgi-bin/picket\n=> /cgi-bin/\n"},
     ["a.gmi:2: broken link /cgi-bin/picket: no CGI script",
      "a.gmi:3: broken link /cgi-bin/: names no CGI script"]),
    ("dated file without a heading",
     {"news/2024-02-03-nohead.gmi": "Some text\n"},
     ["news/2024-02-03-nohead.gmi:1: dated file must start with a '# "]),
    ("dated file with an impossible date",
     {"news/2024-02-30-leap.gmi": "# Leap\n"},
     ["news/2024-02-30-leap.gmi:1: file name date 2024-02-30 is not"]),
    ("marker with a bad count",
     {"a.gmi": "# A\n<!-- capsuled:latest 0 news -->\n"},
     ["a.gmi:2: '<!--' line is shown raw"]),
    ("marker with two spaces",
     {"a.gmi": "# A\n<!--  capsuled:latest 5 news -->\n"},
     ["a.gmi:2: '<!--' line is shown raw"]),
    ("marker with no directory",
     {"a.gmi": "# A\n<!-- capsuled:latest 5 -->\n"},
     ["a.gmi:2: '<!--' line is shown raw"]),
    ("marker with trailing text",
     {"a.gmi": "# A\n<!-- capsuled:latest 5 news --> more\n"},
     ["a.gmi:2: '<!--' line is shown raw"]),
    ("any other HTML comment",
     {"a.gmi": "# A\n<!-- draft -->\n"},
     ["a.gmi:2: '<!--' line is shown raw"]),
    ("marker naming a directory without posts",
     {"misc/x.gmi": "# X\n",
      "a.gmi": "# A\n<!-- capsuled:latest 5 news misc -->\n"},
     ["a.gmi:2: marker names misc, which is no directory of dated posts"]),
    ("marker naming a missing directory",
     {"a.gmi": "# A\n<!-- capsuled:latest 5 letters -->\n"},
     ["a.gmi:2: marker names letters, which is no directory"]),
    ("hand-written index in a dated directory",
     {"news/index.gmi": "# News\n"},
     ["news/index.gmi:1: hand-written index in a dated directory"]),
]


@pytest.mark.parametrize("files,want", [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_lint_catches(tmp_path, files, want):
    root = tree(tmp_path / "cap", {**GOOD, **files})
    rc, out, err = lint("cap", cwd=tmp_path)
    assert rc == 1, out + err
    lines = out.splitlines()
    for w in want:
        assert any(l.startswith("cap/" + w) for l in lines), \
            "%r not in:\n%s" % (w, out)
    assert all(re.match(r"^cap/\S+:\d+: \S", l) for l in lines), out


def test_lint_passes_what_the_server_serves(tmp_path):
    files = {
        **GOOD,
        "café.gmi": "# Café\n",
        "docs/": None,
        "cgi-bin/counter": "#!/bin/sh\n",
        "a.gmi": "\n".join([
            "# A",
            "=> /",                                   # root
            "=> ./",                                  # this directory
            "=> news/",                               # generated index
            "=> news/atom.xml Atom",                  # generated feed
            "=> /news/2024-01-02-first.gmi First",
            "=> news/../about.gmi",                   # dot segments
            "=> caf%C3%A9.gmi",                       # percent-decoded
            "=> /about.gmi#top",                      # fragment dropped
            "=> /about.gmi?q=1",                      # query dropped
            "=> #top",                                # same document
            "=> /docs/ Empty directory (auto index)",
            "=> /cgi-bin/strike Counter (built by make)",
            "=> /cgi-bin/strike/mental-health One dispute",
            "=> /cgi-bin/counter?x An existing script",
            "=> gemini://example.org/nowhere Absolute",
            "=> https://example.org/ Web",
            "=> mailto:branch@example.org Mail",
            "=> //example.org/x Network-path",
            "=>/about.gmi No space after the arrow",
            "<!-- capsuled:latest 5 news -->",       # the generated block
            "<!-- capsuled:latest 999 news news -->",
            "```",
            "=> not-a-link-in-preformatted-text.gmi",
            "  indented preformatted text",
            "```",
            "",
        ]),
    }
    root = tree(tmp_path / "cap", {k: v for k, v in files.items()})
    rc, out, err = lint(root)
    assert (rc, out, err) == (0, "", "")


def test_lint_reports_problems_in_dotted_paths_never(tmp_path):
    # not served, so not linted: capsule/.dates style files and dot dirs
    root = tree(tmp_path / "cap", {**GOOD, ".drafts/x.gmi": "  => broken\n"})
    assert lint(root)[0] == 0


def test_lint_usage_errors(tmp_path):
    assert lint()[0] == 2
    assert lint(tmp_path / "missing")[0] == 2
    assert lint("--bogus", tmp_path)[0] == 2


def test_lint_extra_cgi_names(tmp_path):
    root = tree(tmp_path / "cap", {**GOOD, "a.gmi": "# A\n=> /cgi-bin/vote\n"})
    assert lint(root)[0] == 1
    assert lint("--cgi", "vote", root)[0] == 0


# --- the data file is not content ---------------------------------------------

@pytest.fixture
def capsule_server(make_server):
    """capsuled serving the real capsule, as etc/run.ini does."""
    subprocess.run(["make", "-s", "capsule/cgi-bin/strike"], cwd=ROOT,
                   check=True)
    s = make_server(root=CAPSULE,
                    host_extra="feeds = news letters press disputes")
    return s.start()


@pytest.mark.parametrize("path", [
    "/.data/disputes.ini",      # where it lives: a dotfile, never served
    "/.data/",
    "/data/disputes.ini",       # where it was served until it moved
    "/data/",
    "/.dates",
])
def test_the_counters_data_file_cannot_be_fetched(capsule_server, path):
    r = capsule_server.get(path)
    assert r.status // 10 != 2, (path, r.status, r.meta)
    assert b"[dispute" not in (r.body or b"")


def test_the_counter_reads_its_data_file_through_the_daemon(capsule_server):
    # the CGI sandbox reads ../.data/disputes.ini from cgi-bin/
    r = capsule_server.get("/cgi-bin/strike/mental-health")
    assert r.status == 20, (r.status, r.meta, capsule_server.log())
    body = r.body.decode("utf-8")
    assert "\n81 days of strike action taken; today is not a strike " \
        "day.\n" in body
    assert "only strike action" in body and "suspended" in body
    assert "The newest report we hold is of Wednesday 4 September 2024" \
        in body


# --- every generated list tells the truth about dates -------------------------

MARK = " (date inferred)"
LISTED = re.compile(r"^=> (\S+) (\d{4}-\d{2}-\d{2}) (.*)$")


def says_inferred(path):
    """The form README "Publishing" defines: a line "Date inferred: ..."."""
    return any(l.startswith("Date inferred:") for l in
               (CAPSULE / path).read_text("utf-8").splitlines())


def check_listed(where, path, date, label):
    assert path.endswith(".gmi") and Path(path).name.startswith(date + "-")
    if says_inferred(path):
        assert label.endswith(MARK), (where, path, label)
    else:
        assert MARK not in label, (where, path, label)


def test_every_generated_list_marks_an_inferred_date(capsule_server):
    # .dates and the posts agree on which dates were inferred ...
    inferred = {p for p, (_, how) in dates().items() if how == "inferred"}
    assert inferred == {p for p in dated_files() if says_inferred(p)}
    assert inferred
    seen = set()
    # ... and each section index (gemfeed: "=> NAME DATE TITLE"), each
    # Atom feed and the home page's latest block lists such a post with
    # "(date inferred)" after its title, and no other post so
    for section in sorted({Path(p).parent.as_posix() for p in dated_files()}):
        r = capsule_server.get(f"/{section}/")
        assert r.status == 20, (section, r.status, r.meta)
        for l in r.body.decode("utf-8").splitlines():
            m = LISTED.match(l)
            if m and m.group(1) not in ("atom.xml", "/"):
                path = f"{section}/{m.group(1)}"
                check_listed(f"/{section}/", path, m.group(2), m.group(3))
                seen.add(path)
        r = capsule_server.get(f"/{section}/atom.xml")
        assert r.status == 20, (section, r.status, r.meta)
        feed = ET.fromstring(r.body)
        for e in feed.findall(A + "entry"):
            href = e.find(A + "link").get("href")
            path = href.split("/", 3)[3]
            title = e.find(A + "title").text
            check_listed(f"/{section}/atom.xml", path, Path(path).name[:10],
                         title)
            seen.add(path)
    assert inferred <= seen, "an inferred post is missing from the lists"
    r = capsule_server.get("/")
    assert r.status == 20
    # hand-written links on the page carry no date: only the block's match
    latest = [m for m in map(LISTED.match,
                             r.body.decode("utf-8").splitlines()) if m]
    assert len(latest) == 5, [m.group(0) for m in latest]
    for m in latest:
        check_listed("/ (latest)", m.group(1)[1:], m.group(2), m.group(3))


def test_how_to_join_the_members_area_is_public():
    # the steps to get in must be readable by those not let in yet: a
    # page outside /members/ (the access rule's directory), linked from
    # the home page and the about page
    page = CAPSULE / "members-area.gmi"
    text = page.read_text("utf-8")
    assert "SHA256:" in text and "=> /members/ " in text
    for p in ("index.gmi", "about.gmi"):
        assert "/members-area.gmi" in links(CAPSULE / p), p


def test_the_members_page_promises_nothing_it_does_not_hold():
    text = (CAPSULE / "members" / "index.gmi").read_text("utf-8")
    held = [p for p in (CAPSULE / "members").iterdir()
            if p.name != "index.gmi"]
    assert held == []
    assert "all the members’ area holds" in text
    for promise in ("* the minutes", "* ballot timetables",
                    "* the stewards’ bulletin", "* draft letters"):
        assert promise not in text
    # the steps an officer takes, as Lagrange 1.7.3 names them (README
    # "Publishing from Lagrange"): its upload dialog has no path field
    assert "Upload Page with Titan..." in text
    assert "set the path" not in text
