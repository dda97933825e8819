"""
metrics_file (issue 23): the parent writes Prometheus' text exposition
format, summed from every worker's counters.

- `promtool check metrics` (Debian's prometheus package) passes on it,
  and node-exporter's textfile collector serves it;
- counters rise by exactly what a scripted run sent;
- the file is replaced whole by a rename: a reader in a loop never sees
  a part of one, and each write is a new file;
- a worker killed mid-run does not make any counter go backwards (the
  parent keeps a dead worker's counts), and the restart is counted;
- a metrics_file whose directory is missing stops -n and the start with
  the file and line.
"""
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import CAPSULED, free_port, gemini, wait_for
from upstreams import sock_dir, upstream_app  # noqa: F401 (fixtures)

PROMTOOL = shutil.which("promtool")
NODE_EXPORTER = shutil.which("prometheus-node-exporter")
SERIES = re.compile(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$")


def parse(path, text=None):
    """{series: value} of a metrics file; raises on a line it cannot read."""
    out = {}
    for line in (text if text is not None else path.read_text()).splitlines():
        if line.startswith("#"):
            continue
        m = SERIES.match(line)
        assert m, line
        out[m[1]] = float(m[2])
    return out


@pytest.fixture
def metered(make_server, tmp_path):
    def start(interval=1, workers=2, extra=""):
        prom = tmp_path / "prom" / "capsuled.prom"
        prom.parent.mkdir(exist_ok=True)
        s = make_server(workers=workers, server_extra=(
            f"metrics_file = {prom}\nmetrics_interval = {interval}\n" +
            extra))
        s.start()
        s.prom = prom
        assert wait_for(prom.exists), s.log()
        return s
    return start


def req(host, klass):
    return f'capsuled_requests_total{{host="{host}",class="{klass}"}}'


def status(n):
    return f'capsuled_responses_total{{status="{n}"}}'


def quiet(s, timeout=10):
    """The counters once every request so far is in them: two writes in
    a row (two files: each is new) that say the same."""
    def read():
        with s.prom.open() as f:       # the inode of what is read
            return os.fstat(f.fileno()).st_ino, parse(s.prom, f.read())

    deadline = time.time() + timeout
    last = read()
    while time.time() < deadline:
        time.sleep(0.1)
        now = read()
        if now[0] != last[0] and now[1] == last[1]:
            return now[1]
        if now[0] != last[0]:
            last = now
    raise AssertionError("the counters did not settle")


def settled(s, key, value, timeout=10):
    """The file shows key at value (it is rewritten each second)."""
    return wait_for(lambda: parse(s.prom).get(key) == value, timeout)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed "
                    "(apt-get install prometheus)")
def test_promtool_checks_the_file_clean(metered):
    s = metered()
    for path in ("/hello.txt", "/missing", "/cgi-bin/env", "/cgi-bin/fail"):
        s.get(path)
    s.request(b"junk\r\n")
    assert settled(s, status(59), 1)
    p = subprocess.run([PROMTOOL, "check", "metrics"],
                       stdin=s.prom.open("rb"), capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0 and p.stdout + p.stderr == "", \
        p.stdout + p.stderr


def test_counters_rise_by_exactly_what_was_sent(metered):
    s = metered()
    before = quiet(s)
    sent = {"/hello.txt": 20, "/missing.gmi": 51, "/docs": 31,
            "/cgi-bin/env": 20, "/cgi-bin/bad-header": 42}
    for path, want in sent.items():
        assert s.get(path).status == want
    assert gemini(s.port, f"gemini://example.org:{s.port}/",
                  sni="example.org").status == 20
    assert s.request(b"not a url\r\n").status == 59
    n = len(sent) + 2
    handshakes = 'capsuled_tls_handshakes_total{result="full"}'
    count = "capsuled_request_duration_seconds_count"
    assert settled(s, count, before[count] + n), parse(s.prom)
    after = parse(s.prom)
    rise = {k: after[k] - before.get(k, 0) for k in after
            if after[k] != before.get(k, 0)}
    body = len(b"hello\n")
    expect = {
        req("localhost", "2x"): 2, req("localhost", "3x"): 1,
        req("localhost", "4x"): 1, req("localhost", "5x"): 1,
        req("example.org", "2x"): 1, req("-", "5x"): 1,
        status(20): 3, status(31): 1, status(42): 1, status(51): 1,
        status(59): 1, handshakes: n, count: n,
        'capsuled_cgi_runs_total{outcome="ok"}': 1,
        'capsuled_cgi_runs_total{outcome="failed"}': 1,
    }
    for k, v in expect.items():
        assert rise.pop(k, 0) == v, (k, rise)
    # what is left: the bodies' bytes, the duration's sum and buckets
    assert rise.pop('capsuled_response_bytes_total{host="localhost"}') > body
    assert rise.pop('capsuled_response_bytes_total{host="example.org"}') > 0
    rise.pop("capsuled_request_duration_seconds_sum", None)
    assert all(k.startswith("capsuled_request_duration_seconds_bucket")
               and v <= n for k, v in rise.items()), rise


def test_upstream_runs_are_counted_by_how_they_ended(make_server, tmp_path,
                                                    sock_dir, upstream_app):
    # issue 23: "CGI/upstream runs, timeouts and failures"; an SCGI
    # application (upstream_apps.py) answers, fails its header, is silent
    sock = sock_dir / "scgi.sock"
    upstream_app("scgi", f"unix:{sock}")
    prom = tmp_path / "prom" / "capsuled.prom"
    prom.parent.mkdir()
    s = make_server(server_extra=f"metrics_file = {prom}\n"
                    "metrics_interval = 1\n",
                    host_extra=f"scgi = /app/ unix:{sock}\n"
                    "upstream_timeout = 1\n").start()
    s.prom = prom
    assert wait_for(prom.exists), s.log()
    sent = {"/app/status?20": 20, "/app/status?51": 51, "/app/nolf": 43,
            "/app/stall": 43, "/app/hold": 20}
    for path, want in sent.items():
        assert s.get(path).status == want, path
    runs = 'capsuled_upstream_runs_total{{outcome="{}"}}'
    assert settled(s, runs.format("timeout"), 2), parse(s.prom)
    counts = parse(s.prom)
    assert {o: counts[runs.format(o)] for o in
            ("ok", "failed", "timeout", "cancelled")} == \
        {"ok": 2, "failed": 1, "timeout": 2, "cancelled": 0}
    assert counts['capsuled_cgi_runs_total{outcome="ok"}'] == 0


def test_the_file_is_replaced_whole_each_time(metered):
    s = metered()
    seen, inodes, stop = [], set(), threading.Event()

    def reader():
        while not stop.is_set():
            try:
                with s.prom.open() as f:
                    text = f.read()
                    inodes.add(os.fstat(f.fileno()).st_ino)
            except FileNotFoundError:
                seen.append("missing")
                continue
            seen.append(text)

    t = threading.Thread(target=reader)
    t.start()
    try:
        deadline = time.time() + 4.5        # four or five writes
        while time.time() < deadline:
            s.get("/hello.txt")
    finally:
        stop.set()
        t.join()
    assert "missing" not in seen
    whole = [x for x in seen if x.endswith("capsuled_worker_restarts_total"
                                           " 0\n") and x.startswith("# HELP")]
    assert len(whole) == len(seen) > 100, "a reader saw part of a file"
    assert len(inodes) >= 3, "each write is a new file, renamed over"
    assert list(s.prom.parent.iterdir()) == [s.prom], "no temporary left"


def test_a_worker_killed_mid_run_does_not_make_counters_go_backwards(
        metered):
    s = metered()
    samples, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            try:
                s.get("/hello.txt", timeout=5)
            except OSError:
                pass

    def watch():
        while not stop.is_set():
            samples.append(parse(s.prom))
            time.sleep(0.05)

    threads = [threading.Thread(target=load), threading.Thread(target=load),
               threading.Thread(target=watch)]
    for t in threads:
        t.start()
    before_kill = s.worker_pids()
    try:
        assert wait_for(lambda: parse(s.prom)[status(20)] >= 20, 10)
        # a worker killed (restarted at once), its successor killed
        # within a second (restarted a second later: its slot is free
        # meanwhile), then a reload (the old workers finish and go)
        first = s.worker_pids()[0]
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: len(s.worker_pids()) == 2 and
                        first not in s.worker_pids())
        os.kill([p for p in s.worker_pids()
                 if p not in before_kill][0], signal.SIGKILL)
        assert wait_for(lambda: parse(s.prom)[
            "capsuled_worker_restarts_total"] == 2, 10)
        s.signal(signal.SIGHUP)
        assert wait_for(lambda: "reloaded" in s.log(), 10)
        time.sleep(3.5)                     # three more writes under load
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert len(samples) > 20
    for a, b in zip(samples, samples[1:]):
        for k, v in a.items():
            if "_total" in k or k.endswith(("_count", "_sum")) or \
                    "_bucket" in k:
                assert b[k] >= v, (k, v, b[k])
    assert samples[-1]["capsuled_workers"] == 2


@pytest.mark.skipif(NODE_EXPORTER is None, reason="prometheus-node-exporter "
                    "is not installed")
def test_node_exporters_textfile_collector_serves_it(metered):
    s = metered()
    assert s.get("/hello.txt").status == 20
    assert settled(s, status(20), 2)        # the start's probe, and ours
    port = free_port()
    ne = subprocess.Popen([NODE_EXPORTER, "--collector.disable-defaults",
                           "--collector.textfile",
                           f"--collector.textfile.directory={s.prom.parent}",
                           f"--web.listen-address=127.0.0.1:{port}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def scrape():
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    return r.read().decode()
            except OSError:
                return None
        assert wait_for(lambda: scrape() is not None, 10)
        text = scrape()
    finally:
        ne.send_signal(signal.SIGTERM)
        ne.wait(10)
    assert "node_textfile_scrape_error 0" in text, text[-2000:]
    assert f"{status(20)} 2" in text


def test_a_metrics_file_in_a_missing_directory_stops_the_start(make_server,
                                                               tmp_path):
    missing = tmp_path / "nowhere" / "capsuled.prom"
    s = make_server(server_extra=f"metrics_file = {missing}")
    line = s.conf.read_text().split("metrics_file")[0].count("\n") + 1
    for flags in (["-n"], ["-d"]):
        p = subprocess.run([str(CAPSULED), *flags, "-c", str(s.conf)],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1
        assert f"{s.conf}:{line}: metrics_file {missing}: " \
            f"{missing.parent}: No such file or directory" in p.stderr
