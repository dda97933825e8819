"""
Access logs an admin's tools read, and readers' privacy (issue 23):

- log_format = common and combined: Debian's GoAccess reads a log the
  real daemon wrote after a scripted mix of every Gemini status capsuled
  can send (10 to 62, and 0: no response): no line is a format error,
  and its counts (valid requests, status classes, visitors' hosts) are
  what the test sent, through the status table of capsuled.ini(5).
- log_format = json: every line is one JSON object of the documented
  fields and types; hostile request lines (control bytes, quotes, bytes
  that are not UTF-8) stay escaped in it.
- log_ip = truncated (the default) and off: no full client address in
  the access log or the error log, IPv4 and IPv6; a CGI script's
  REMOTE_ADDR follows; full keeps them (so the check can fail).
"""
import json
import re
import shutil
import socket
import subprocess
import time

import pytest

from clientcerts import make_cert
from conftest import client_context, read_response, wait_for

GOACCESS = shutil.which("goaccess")
V4 = "127.45.67.89"         # a reader; loopback, and unlike the server's
V4_NET = "127.45.67.0"

# capsuled.ini(5): the HTTP status common and combined write
HTTP = {0: 499, 10: 100, 11: 100, 20: 200, 30: 302, 31: 301, 40: 503,
        41: 503, 42: 500, 43: 502, 44: 429, 50: 400, 51: 404, 52: 410,
        53: 421, 59: 400, 60: 401, 61: 403, 62: 403}

# prints the status its query names: every status a script may send
STATUS_CGI = """#!/bin/sh
case "$QUERY_STRING" in
2*) printf '%s text/plain\\r\\nok\\n' "$QUERY_STRING" ;;
*) printf '%s status %s\\r\\n' "$QUERY_STRING" "$QUERY_STRING" ;;
esac
"""
# says who it serves on stderr, which the runner writes to the error log
WHO_CGI = """#!/bin/sh
echo "sees REMOTE_ADDR=$REMOTE_ADDR REMOTE_PORT=${REMOTE_PORT:-none}" >&2
printf '20 text/plain\\r\\n%s\\n' "$REMOTE_ADDR"
"""
FAIL_CGI = "#!/bin/sh\nexit 3\n"     # no header: 42, the client named


def connect(port, src="127.0.0.1", dst="127.0.0.1", ctx=None):
    family = socket.AF_INET6 if ":" in dst else socket.AF_INET
    raw = socket.socket(family, socket.SOCK_STREAM)
    raw.settimeout(10)
    raw.bind((src, 0))
    raw.connect((dst, port))
    return (ctx or client_context()).wrap_socket(
        raw, server_hostname="localhost", suppress_ragged_eofs=False)


def ask(s, request, src="127.0.0.1", dst="127.0.0.1", ctx=None):
    if isinstance(request, str):
        request = request.encode() + b"\r\n"
    with connect(s.port, src, dst, ctx) as c:
        c.sendall(request)
        return read_response(c)


def hang_up(s, src="127.0.0.1"):
    """Half a request line, then gone: logged with no response (0)."""
    with connect(s.port, src) as c:
        c.sendall(b"gemini://localhost/half")


@pytest.fixture
def logged(make_server, tmp_path):
    """A daemon writing its access log to a file; .access is the path,
    .lines() the lines written since the start (the readiness probe's
    are dropped)."""
    def start(fmt="capsuled", ip=None, extra=""):
        log = tmp_path / "access.log"
        lists = tmp_path / "lists"
        lists.mkdir(exist_ok=True)
        (lists / "members").write_text("# nobody yet\n")
        server_extra = f"log_format = {fmt}\n" + extra
        if ip:
            server_extra += f"log_ip = {ip}\n"
        s = make_server(access_log=log, server_extra=server_extra,
                        host_extra=f"access = /members/ {lists}/members")
        cgi = s.root / "cgi-bin"
        for name, text in (("status", STATUS_CGI), ("who", WHO_CGI),
                           ("fails", FAIL_CGI)):
            (cgi / name).write_text(text)
            (cgi / name).chmod(0o755)
        s.start()
        s.access = log
        s.lists = lists
        assert wait_for(lambda: log.exists() and log.read_text() != "")
        time.sleep(0.2)             # the probe's line, then none
        log.write_text("")          # O_APPEND: the daemon goes on at 0
        s.lines = lambda: log.read_text().splitlines()
        return s
    return start


def every_status(s):
    """Each status capsuled sends, from capsuled itself where it can and
    from a script otherwise; from three clients (two IPv4 networks and
    IPv6).  Returns the statuses sent, in order."""
    u = s.url
    plan = [
        ("/hello.txt", 20), ("/docs", 31), ("/missing.gmi", 51),
        ("/cgi-bin/bad-header", 42), ("/members/", 60),
        (f"gemini://example.net:{s.port}/", 53), (b"no url\r\n", 59),
        ("/cgi-bin/input", 10),
    ]
    for st in (11, 20, 30, 31, 40, 41, 42, 43, 44, 50, 51, 52, 53, 59,
               60, 61, 62):
        plan.append((f"/cgi-bin/status?{st}", st))
    sent = []
    for i, (req, want) in enumerate(plan):
        src, dst = [("127.0.0.1", "127.0.0.1"), (V4, "127.0.0.1"),
                    ("::1", "::1")][i % 3]
        if isinstance(req, str) and req.startswith("/"):
            req = u(req)
        r = ask(s, req, src, dst)
        assert r.status == want, (req, r.header)
        sent.append(want)
    hang_up(s)
    sent.append(0)
    assert wait_for(lambda: len(s.lines()) == len(sent)), s.lines()
    return sent


def goaccess(log, fmt, tmp_path, *extra):
    out = tmp_path / "report.json"
    bad = tmp_path / "invalid.txt"
    p = subprocess.run([GOACCESS, str(log), "--no-global-config",
                        f"--log-format={fmt}", f"--invalid-requests={bad}",
                        "-o", str(out), *extra],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(out.read_text()), bad.read_text()


def classes(sent):
    n = {}
    for st in sent:
        c = f"{HTTP[st] // 100}xx"
        n[c] = n.get(c, 0) + 1
    return n


@pytest.mark.skipif(GOACCESS is None, reason="goaccess is not installed "
                    "(apt-get install goaccess)")
@pytest.mark.parametrize("fmt", ["common", "combined"])
def test_goaccess_reads_every_line_and_counts_what_was_sent(logged, fmt,
                                                           tmp_path):
    s = logged(fmt)
    sent = every_status(s)
    report, invalid = goaccess(s.access, fmt.upper(), tmp_path)
    g = report["general"]
    assert invalid == "" and g["failed_requests"] == 0, invalid
    assert g["valid_requests"] == g["total_requests"] == len(sent)
    got = {c["data"][:3]: c["hits"]["count"]
           for c in report["status_codes"]["data"]}
    assert got == classes(sent)
    # the visitors' hosts panel: each client's network, as log_ip keeps it
    hosts = {h["data"] for h in report["hosts"]["data"]}
    assert hosts == {"127.0.0.0", V4_NET, "::"}
    assert g["bandwidth"] == sum(int(re.search(r'" \d{3} (\d+)', l)[1])
                                 for l in s.lines()), "body bytes"


@pytest.mark.skipif(GOACCESS is None, reason="goaccess is not installed "
                    "(apt-get install goaccess)")
def test_goaccess_reads_the_duration_with_the_documented_format(logged,
                                                               tmp_path):
    """capsuled.ini(5) gives GoAccess the combined format plus the
    duration; its total time served is the sum of the lines' ms."""
    s = logged("combined")
    every_status(s)
    report, invalid = goaccess(
        s.access, '%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %L %^',
        tmp_path, "--date-format=%d/%b/%Y", "--time-format=%T")
    assert invalid == "" and report["general"]["failed_requests"] == 0
    total_us = sum(r["cumts"]["count"] if isinstance(r["cumts"], dict)
                   else r["cumts"] for panel in ("requests", "static_requests",
                                                "not_found")
                   for r in report[panel]["data"])
    ms = sum(int(l.split()[-2]) for l in s.lines())  # ... MS CUT
    assert total_us == ms * 1000


@pytest.mark.parametrize("fmt", ["common", "combined"])
def test_common_and_combined_keep_the_exact_gemini_status(logged, fmt):
    """No information lost: the HTTP status for the analyser, the exact
    Gemini status in the second field; combined adds the duration and
    the cut."""
    s = logged(fmt)
    assert ask(s, s.url("/cgi-bin/status?44")).status == 44
    assert ask(s, s.url("/cgi-bin/status?61")).status == 61
    assert wait_for(lambda: len(s.lines()) == 2)
    pat = (r'^127\.0\.0\.0 (\d\d) - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d '
           r'\+0000\] "gemini://localhost:\d+/cgi-bin/status\?(\d\d)" '
           r'(\d{3}) 0' + (r' "-" "-" \d+ -$' if fmt == "combined" else "$"))
    for line, (gem, http) in zip(s.lines(), [(44, 429), (61, 403)]):
        m = re.match(pat, line)
        assert m, line
        assert m.groups() == (str(gem), str(gem), str(http))


JSON_FIELDS = {"time": str, "client": (str, type(None)),
               "host": (str, type(None)), "request": (str, type(None)),
               "status": int, "meta": (str, type(None)), "bytes": int,
               "header_bytes": int, "duration_ms": int,
               "tls": (str, type(None)), "resumed": bool,
               "cert": (str, type(None)), "user": (str, type(None)),
               "upload": (str, type(None)), "upstream": (str, type(None)),
               "cut": bool}

HOSTILE = [
    b"gemini://localhost/\x1b[2J\x07\"quoted\"\\back\r\n",
    b"gemini://localhost/\xff\xfe\xc2\x9b\xed\xa0\x80\r\n",
    b"gemini://localhost/nul\x00after\r\n",
    b"\x9b31m\x1b]0;owned\x07\n\r\n",
]


def json_lines(s):
    out = []
    for raw in s.access.read_bytes().splitlines():
        assert not any(b < 0x20 or b == 0x7f for b in raw), raw
        out.append(json.loads(raw.decode("utf-8")))     # strict UTF-8
    return out


def test_json_lines_have_the_documented_fields_and_types(logged):
    s = logged("json")
    r = ask(s, s.url("/hello.txt"))
    assert r.status == 20
    assert ask(s, s.url("/missing.gmi"), "::1", "::1").status == 51
    hang_up(s)
    assert wait_for(lambda: len(s.lines()) == 3)
    ok, missing, none = json_lines(s)
    for rec in (ok, missing, none):
        assert set(rec) == set(JSON_FIELDS), rec
        for k, t in JSON_FIELDS.items():
            assert isinstance(rec[k], t), (k, rec)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rec["time"])
    assert ok["client"] == "127.0.0.0" and ok["host"] == "localhost"
    assert ok["status"] == 20 and ok["meta"] is None
    assert ok["bytes"] == len(r.body) == 6
    assert ok["header_bytes"] == len(r.header) + 2 and ok["tls"] == "TLSv1.3"
    assert missing["client"] == "::" and missing["meta"] == "Not found"
    assert none["status"] == 0 and none["request"] == "gemini://localhost/half"
    assert not ok["cut"] and ok["cert"] is None and ok["user"] is None


def test_json_keeps_hostile_request_lines_escaped_and_valid(logged):
    s = logged("json")
    for raw in HOSTILE:
        ask(s, raw)
    assert wait_for(lambda: len(s.lines()) == len(HOSTILE))
    reqs = [r["request"] for r in json_lines(s)]
    assert reqs[0] == ("gemini://localhost/\\x1b[2J\\x07\\x22quoted\\x22"
                       "\\x5cback")
    assert reqs[1] == "gemini://localhost/\\xff\\xfe\\xc2\\x9b\\xed\\xa0\\x80"
    assert reqs[2] == "gemini://localhost/nul\\x00after"
    assert reqs[3] == "\\x9b31m\\x1b]0;owned\\x07\\x0a"


def test_json_names_a_listed_reader_and_its_certificate(logged, tmp_path):
    """Under an access rule: the listed name and the fingerprint.  On a
    public page, a certificate is no one's business unless log_ip is
    full (a fingerprint would follow a reader across visits)."""
    s = logged("json")
    cert = make_cert(tmp_path, "alice")
    (s.lists / "members").write_text(f"{cert.fingerprint} Alice Jones\n")
    (s.root / "members").mkdir()
    (s.root / "members" / "index.gmi").write_text("# Members\n")
    assert ask(s, s.url("/members/"), ctx=cert.ctx()).status == 20
    assert ask(s, s.url("/hello.txt"), ctx=cert.ctx()).status == 20
    assert wait_for(lambda: len(s.lines()) == 2)
    member, public = json_lines(s)
    assert member["user"] == "Alice Jones"
    assert member["cert"] == cert.fingerprint
    assert public["user"] is None and public["cert"] is None


# -- log_ip ----------------------------------------------------------------

def privacy_run(s):
    """Requests from an IPv4 and the IPv6 client, some of which make the
    error log name the client (a script that fails, one that says its
    REMOTE_ADDR on stderr, one that never answers in time)."""
    for src, dst in ((V4, "127.0.0.1"), ("::1", "::1")):
        assert ask(s, s.url("/hello.txt"), src, dst).status == 20
        assert ask(s, s.url("/cgi-bin/fails"), src, dst).status == 42
        assert ask(s, s.url("/cgi-bin/who"), src, dst).status == 20
        assert ask(s, b"\x00bad\r\n", src, dst).status == 59
    assert wait_for(lambda: len(s.lines()) == 8)
    assert wait_for(lambda: s.log().count("sees REMOTE_ADDR=") == 2)
    time.sleep(0.3)
    return s.access.read_text(errors="replace"), s.log()


@pytest.mark.parametrize("fmt", ["capsuled", "combined", "json"])
def test_log_ip_truncated_leaves_no_full_address(logged, fmt):
    s = logged(fmt)                 # truncated: the built-in default
    access, errors = privacy_run(s)
    for text in (access, errors):
        assert V4 not in text and "::1" not in text
    assert V4_NET in access and "127.45.67.0: " in errors
    assert f"REMOTE_ADDR={V4_NET} REMOTE_PORT=none" in errors
    assert "REMOTE_ADDR=:: REMOTE_PORT=none" in errors


def test_log_ip_off_leaves_no_address_at_all(logged):
    s = logged("combined", ip="off")
    access, errors = privacy_run(s)
    for text in (access, errors):
        assert "127.45.67" not in text and "::1" not in text
    assert all(re.match(r"- \d\d - \[", l) for l in access.splitlines())
    assert "REMOTE_ADDR=0.0.0.0 REMOTE_PORT=none" in errors
    assert "REMOTE_ADDR=:: REMOTE_PORT=none" in errors


def test_log_ip_full_keeps_the_address_for_logs_and_scripts(logged):
    s = logged("capsuled", ip="full")
    access, errors = privacy_run(s)
    assert f"{V4} localhost" in access and "::1 localhost" in access
    assert re.search(rf"REMOTE_ADDR={re.escape(V4)} REMOTE_PORT=\d+", errors)
    assert f"{V4}: " in errors
