"""
Titan as clients really send it, byte for byte, through the real daemon:

- Lagrange 1.7.3 (src/gmrequest.c): "titan://HOST:PORT/PATH;mime=TYPE;
  size=N", then ";token=T" (percent-encoded) when one was typed; its
  port always written.  The Text tab always says text/plain; the File
  tab says what the file's extension gives: "text/gemini; charset=utf-8"
  for a .gmi (the type's own parameter, with its blank, inside the Titan
  parameters), "text/plain" for a .txt.  An upload with no data is
  ";mime=application/octet-stream;size=0": a delete.
- Later Lagrange: "text/gemini" alone for a .gmi, and "text/plain;
  charset=utf-8" for a text file whose extension it does not know.
- gmid's titan(1): ";size=N", then ";token=T", then ";mime=M", each only
  when given (no mime: the Titan default, text/gemini).
- The Titan specification's own examples (gemini://transjovian.org/titan/
  page/The%20Titan%20Specification): "plain/text" (sic) and a token.

And the README's "Publishing from Lagrange" recipe, step by step.
"""
import os
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest

from clientcerts import make_cert
from conftest import Server, build_capsule, gemini, read_response, \
    tls_connect, wait_for


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("lcerts")
    return {n: make_cert(d, n) for n in ("secretary", "stranger")}


@pytest.fixture(scope="module")
def srv(tmp_path_factory, certs):
    work = tmp_path_factory.mktemp("lagrange")
    root = build_capsule(work / "root")
    for d in ("news", "files"):
        (root / d).mkdir()
        shutil.chown(root / d, "nobody")
    (root / "news" / "2026-01-01-new-year.gmi").write_text("# New year\n")
    (work / "lists").mkdir()
    admins = work / "lists" / "admins"
    admins.write_text(f"{certs['secretary'].fingerprint} Branch secretary\n")
    extra = (f"titan = /news/ {admins}\n"
             f"titan = /files/ {admins}\n"
             "feeds = news\n")
    s = Server(work, root, host_extra=extra).start()
    yield s
    assert s.stop() == 0
    assert s.sanitizer_reports() == []


def send(s, line, body=b"", cert=None):
    """One raw Titan request: the line (no CRLF) and the body."""
    if isinstance(body, str):
        body = body.encode()
    ctx = cert.ctx() if cert else None
    with tls_connect(s.port, ctx=ctx) as c:
        c.sendall(line.encode() + b"\r\n" + body)
        return read_response(c)


def lagrange(s, path, body, cert, mime, token=None):
    """What Lagrange 1.7.3 sends for an upload from either tab."""
    if isinstance(body, str):
        body = body.encode()
    line = f"titan://localhost:{s.port}{path};mime={mime};size={len(body)}"
    if token:
        line += ";token=" + quote(token, safe="")
    return send(s, line, body, cert)


def lagrange_delete(s, path, cert):
    """Lagrange's upload with no data."""
    return send(s, f"titan://localhost:{s.port}{path};"
                "mime=application/octet-stream;size=0", b"", cert)


GMI = "# Strike dates\n\nThe branch strikes on 12 and 13 March.\n"


def test_lagrange_file_tab_gmi_with_its_charset_parameter(srv, certs):
    # issue 19.1: was "59 Unknown Titan parameter (size, mime, token)"
    path = "/news/2026-03-04-strike-dates.gmi"
    r = lagrange(srv, path, GMI, certs["secretary"],
                 "text/gemini; charset=utf-8")
    assert r.status == 30, r.meta
    assert (srv.root / path[1:]).read_text() == GMI
    assert srv.get(path).body == GMI.encode()


def test_lagrange_file_tab_gmi_charset_without_the_blank(srv, certs):
    path = "/news/2026-03-05-no-blank.gmi"
    r = lagrange(srv, path, GMI, certs["secretary"],
                 "text/gemini;charset=utf-8")
    assert r.status == 30, r.meta


def test_the_type_percent_encoded_whole(srv, certs):
    # was "Titan mime is not a type/subtype"
    path = "/news/2026-03-06-encoded.gmi"
    r = lagrange(srv, path, GMI, certs["secretary"],
                 "text%2Fgemini%3B%20charset%3Dutf-8")
    assert r.status == 30, r.meta


def test_lagrange_file_tab_txt(srv, certs):
    path = "/files/minutes.txt"
    r = lagrange(srv, path, "Minutes of the AGM\n", certs["secretary"],
                 "text/plain")
    assert r.status == 30, r.meta
    assert srv.get(path).meta.startswith("text/plain")


def test_later_lagrange_txt_with_a_charset(srv, certs):
    r = lagrange(srv, "/files/agenda.txt", "Agenda\n", certs["secretary"],
                 "text/plain; charset=utf-8")
    assert r.status == 30, r.meta


def test_later_lagrange_gmi_without_a_charset(srv, certs):
    r = lagrange(srv, "/news/2026-03-07-plain.gmi", GMI, certs["secretary"],
                 "text/gemini")
    assert r.status == 30, r.meta


def test_lagrange_text_tab_says_text_plain_for_a_gemtext_post(srv, certs):
    # the Text tab has no type to choose: text/plain onto a .gmi name
    path = "/news/2026-03-08-from-the-text-tab.gmi"
    r = lagrange(srv, path, GMI, certs["secretary"], "text/plain",
                 token="any token")
    assert r.status == 30, r.meta
    assert srv.get(path).meta.startswith("text/gemini")


def test_another_charset_is_refused_with_a_clear_50(srv, certs):
    path = "/news/2026-03-09-latin1.gmi"
    r = lagrange(srv, path, "# Caf\xe9\n".encode("latin-1"),
                 certs["secretary"], "text/gemini; charset=iso-8859-1")
    assert r.status == 50 and "iso-8859-1" in r.meta and "UTF-8" in r.meta
    assert not (srv.root / path[1:]).exists()


def test_an_unknown_parameter_is_59_naming_it(srv, certs):
    r = send(srv, f"titan://localhost:{srv.port}/news/2026-03-10-x.gmi;"
             "size=1;colour=red", b"x", certs["secretary"])
    assert r.status == 59 and "colour" in r.meta


def test_lagrange_delete_redirects_to_the_section(srv, certs):
    # issue 19.2: the 30 pointed at the file just deleted, and Lagrange,
    # following it, showed "Not Found" as for a failed delete
    path = "/news/2026-03-11-to-remove.gmi"
    assert lagrange(srv, path, "# To remove\n", certs["secretary"],
                    "text/plain").status == 30
    assert b"To remove" in srv.get("/news/").body
    r = lagrange_delete(srv, path, certs["secretary"])
    assert r.status == 30
    assert r.meta == f"gemini://localhost:{srv.port}/news/"
    assert not (srv.root / path[1:]).exists()
    index = gemini(srv.port, r.meta)      # what Lagrange opens next
    assert index.status == 20 and b"To remove" not in index.body


def test_lagrange_text_tab_emptied_is_a_delete_too(srv, certs):
    path = "/files/gone.txt"
    assert lagrange(srv, path, "x\n", certs["secretary"],
                    "text/plain").status == 30
    r = lagrange(srv, path, "", certs["secretary"], "text/plain")
    assert r.status == 30 and r.meta.endswith("/files/")
    assert not (srv.root / "files" / "gone.txt").exists()


def test_gmid_titan_without_a_mime_is_text_gemini(srv, certs):
    body = b"# From gmid's titan\n"
    r = send(srv, f"titan://localhost:{srv.port}/news/2026-03-12-gmid.gmi;"
             f"size={len(body)}", body, certs["secretary"])
    assert r.status == 30, r.meta


def test_gmid_titan_size_token_mime(srv, certs):
    body = b"notes\n"
    r = send(srv, f"titan://localhost:{srv.port}/files/gmid.txt;"
             f"size={len(body)};token=hello;mime=text/plain", body,
             certs["secretary"])
    assert r.status == 30, r.meta


@pytest.mark.parametrize("params", [
    "size=10;mime=plain/text;token=hello",       # the spec's first line
    "token=hello;mime=plain/text;size=10",       # its other example
])
def test_the_specifications_examples_parse_and_plain_text_is_refused(
        srv, certs, params):
    # the spec writes "plain/text": a valid type, not one titan_mime has
    r = send(srv, f"titan://localhost:{srv.port}/files/raw.txt;{params}",
             b"0123456789", certs["secretary"])
    assert r.status == 50 and "plain/text" in r.meta


def test_the_readme_recipe_as_an_officer_sees_it(srv, certs):
    """README "Publishing from Lagrange": the steps, in order."""
    sec, stranger = certs["secretary"], certs["stranger"]
    path = "/news/2026-03-13-pay-offer.gmi"
    # 2. an unlisted identity: an upload answers 61 with the fingerprint,
    # which the access log carries too (the admin copies it from there)
    r = lagrange(srv, path, "# Pay offer\n", stranger, "text/plain")
    assert r.status == 61 and stranger.fingerprint in r.meta
    assert wait_for(lambda: any(
        path in l and '" 61 ' in l and
        l.endswith(f' "{stranger.fingerprint}"')
        for l in srv.log().splitlines())), srv.log()[-2000:]
    # 4. open the new post's URL first: 51, then Ctrl+U on it
    assert srv.get(path).status == 51
    r = lagrange(srv, path, "# Pay offer\n\nThe offer is 3%.\n", sec,
                 "text/plain")
    assert r.status == 30
    assert r.meta == f"gemini://localhost:{srv.port}{path}"
    # 5. copy the page source, paste, edit, send
    source = gemini(srv.port, r.meta).body.decode()
    edited = source.replace("3%", "4%")
    assert lagrange(srv, path, edited, sec, "text/plain").status == 30
    assert srv.get(path).body.decode() == edited
    # 6. remove it
    r = lagrange_delete(srv, path, sec)
    assert r.status == 30 and r.meta.endswith("/news/")
    assert srv.get(path).status == 51
