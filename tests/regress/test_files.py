"""
Serving the capsule directory: nothing outside the root, only regular
files and directories, directory rules, MIME types.  Through the real
daemon over TLS.
"""
import hashlib
import os
import socket
import time
from urllib.parse import quote

import pytest
from conftest import client_context, read_response


def test_missing_file_is_51(server):
    assert server.get("/no-such-file.gmi").status == 51


@pytest.mark.parametrize("path,rule", [
    ("/.secret", "a dotfile is not served"),
    ("/.git/config", "a file inside a dot directory is not served"),
    ("/.git/", "a dot directory is not listed"),
    ("/listed/.hidden", "a nested dotfile is not served"),
])
def test_names_starting_with_a_dot_are_not_served(server, path, rule):
    assert server.get(path).status == 51, rule


@pytest.mark.parametrize("path,rule", [
    ("/escape.txt", "an absolute symlink out of the root is not followed"),
    ("/escape-rel.txt", "a relative symlink out of the root is not followed"),
    ("/etc-link/passwd", "a symlinked directory outside is not followed"),
    ("/etc-link/", "a symlinked directory outside is not listed"),
])
def test_symlinks_out_of_the_root_are_refused(server, path, rule):
    r = server.get(path)
    assert r.status == 51, rule
    assert b"outside the root" not in r.body and b"root:" not in r.body


def test_symlink_inside_the_root_is_followed(server):
    r = server.get("/inside-link.txt")
    assert r.status == 20 and r.body == b"hello\n"


def test_autoindex_lists_links_as_a_request_would_find_them(make_server,
                                                            tmp_path):
    # a listing must not tell what lies outside the root: a link out of
    # it is left out, as a request for it answers 51; a link that stays
    # inside (even out of this directory) is listed by what it names
    root = tmp_path / "links-root"
    (root / "links").mkdir(parents=True)
    (root / "hello.txt").write_text("hello\n")
    (root / "links" / "plain.txt").write_text("plain\n")
    for name, target in [("out-file", "/etc/passwd"), ("out-dir", "/etc"),
                         ("out-rel", "../../outside.txt"),
                         ("up-file", "../hello.txt"), ("up-dir", ".."),
                         ("loop", "loop")]:
        os.symlink(target, root / "links" / name)
    (tmp_path / "outside.txt").write_text("secret\n")
    s = make_server(root).start()
    listing = s.get("/links/")
    assert listing.status == 20
    names = {l.split()[1] for l in listing.body.decode().splitlines()
             if l.startswith("=> ")}
    assert names == {"../", "plain.txt", "up-file", "up-dir/"}, names
    assert s.get("/links/up-file").body == b"hello\n"
    for name in ("out-file", "out-dir", "out-rel", "loop"):
        assert s.get(f"/links/{name}").status == 51, name


def test_fifo_is_refused_without_blocking(server):
    t = time.time()
    assert server.get("/fifo").status == 51
    assert time.time() - t < 2
    assert server.get("/hello.txt").status == 20, "the worker is not stuck"


@pytest.mark.parametrize("path,rule", [
    ("/docs/../hello.txt", "dot segments inside the root are resolved"),
    ("/docs/%2e%2e/hello.txt", "encoded dot segments inside are resolved"),
    ("/./hello.txt", "a single dot segment is removed"),
])
def test_dot_segments_inside_the_root_resolve(server, path, rule):
    r = server.get(path)
    assert r.status == 20 and r.body == b"hello\n", rule


@pytest.mark.parametrize("path,status", [
    ("/..%5c..%5cetc%5cpasswd", 51),    # one name, "..\\..\\etc\\passwd"
    ("/%5c..%5c..%5cetc/passwd", 51),
    ("/..\\..\\etc\\passwd", 59),       # RFC 3986 2: not a URL character
    ("/docs%5cindex.gmi", 51),          # docs/index.gmi exists: not this
    ("/docs%5Cindex.gmi", 51),
])
def test_backslashes_are_names_not_separators(server, path, status):
    assert (server.root / "docs" / "index.gmi").is_file()
    r = server.get(path)
    assert r.status == status, r.header
    assert b"root:" not in r.body and b"Docs index" not in r.body


def test_directory_without_trailing_slash_redirects_31(server):
    r = server.get("/docs")
    assert r.status == 31 and r.meta == "/docs/"


def test_redirect_keeps_the_query(server):
    r = server.get("/docs?x=1")
    assert r.status == 31 and r.meta == "/docs/?x=1"


def test_directory_with_index_serves_the_index(server):
    r = server.get("/docs/")
    assert r.status == 20 and r.body == b"# Docs index\n"
    assert r.meta.startswith("text/gemini")


def test_autoindex_lists_sorted_encoded_names_without_dotfiles(server):
    r = server.get("/listed/")
    assert r.status == 20 and r.meta.startswith("text/gemini")
    lines = r.body.decode().splitlines()
    links = [l for l in lines if l.startswith("=> ") and "Parent" not in l]
    assert links == ["=> a%20file.gmi a file.gmi", "=> b.gmi b.gmi",
                     "=> sub/ sub/"]
    assert ".hidden" not in r.body.decode()


def test_autoindex_off_answers_51_for_a_directory_without_index(
        make_server, tmp_path):
    s = make_server()
    s.write_config(s.conf.read_text().replace("autoindex = on",
                                              "autoindex = off"))
    s.start()
    assert s.get("/listed/").status == 51
    assert s.get("/docs/").status == 20


def test_unicode_and_space_names_are_served_percent_encoded(server):
    r = server.get("/" + quote("ünïcødé name.gmi"))
    assert r.status == 20 and r.body == b"# Unicode\n"
    r = server.get("/with%20space.txt")
    assert r.status == 20 and r.body == b"space\n"


def test_unicode_name_sent_as_utf8_iri_is_served(server):
    r = server.get("/ünïcødé%20name.gmi")
    assert r.status == 20


def test_3mb_binary_arrives_byte_for_byte(server, capsule_dir):
    r = server.get("/big.bin")
    want = (capsule_dir / "big.bin").read_bytes()
    assert r.status == 20
    assert hashlib.sha256(r.body).digest() == hashlib.sha256(want).digest()
    assert r.close_notify


@pytest.mark.parametrize("path", ["/big.bin", "/hello.txt"])
def test_a_reader_that_lags_gets_every_byte_and_close_notify(server,
                                                             capsule_dir,
                                                             path):
    # a small window and a pause: the server's socket fills, and what
    # it holds back to send in one segment must wait, not be lost
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(10)
    raw.connect(("127.0.0.1", server.port))
    with client_context().wrap_socket(raw, server_hostname="localhost",
                                      suppress_ragged_eofs=False) as s:
        s.sendall(server.url(path).encode() + b"\r\n")
        time.sleep(1)
        r = read_response(s)
    want = (capsule_dir / path.lstrip("/")).read_bytes()
    assert r.status == 20
    assert hashlib.sha256(r.body).digest() == hashlib.sha256(want).digest()
    assert r.close_notify


@pytest.mark.parametrize("path,mime", [
    ("/index.gmi", "text/gemini; lang=en-GB"),
    ("/hello.txt", "text/plain; charset=utf-8"),
    ("/unknown.zzqx", "application/pdf"),   # libmagic, by content
])
def test_mime_types(server, path, mime):
    assert server.get(path).meta == mime


def test_access_log_has_one_line_per_request_with_escapes(server):
    server.request(f"gemini://localhost:{server.port}/log%0Atest\x01"
                   .encode() + b"\r\n")
    server.get("/hello.txt")
    time.sleep(0.2)
    log = server.log()
    line = [l for l in log.splitlines() if "/hello.txt" in l][-1]
    # log_ip's default, truncated: the client's /24
    assert " 127.0.0.0 localhost " in line and " 20 " in line
    assert "\\x01" in log, "control characters are escaped"
    assert "\x01" not in log


def test_access_log_escapes_c1_controls_and_keeps_the_status(server):
    # CSI (U+009B) is a terminal escape to 8-bit terminals, raw or in
    # UTF-8; a request of control bytes escapes to four times its size,
    # and the status, bytes and time must still end the line
    base = f"gemini://localhost:{server.port}/"
    server.request(base.encode() + b"c1-\x9b31m-\xc2\x9b31m\r\n")
    long = base.encode() + b"long-" + b"\x01" * (1024 - len(base) - 5)
    assert len(long) == 1024
    assert server.request(long + b"\r\n").status == 59
    time.sleep(0.2)
    lines = server.log().splitlines()
    c1 = [l for l in lines if "/c1-" in l][-1]
    assert "\x9b" not in c1 and "\xc2\x9b" not in c1
    assert "c1-\\x9b31m-\\xc2\\x9b31m" in c1
    cut = [l for l in lines if "/long-" in l][-1]
    assert cut.endswith("ms") and '..." 59 ' in cut, cut[-80:]
