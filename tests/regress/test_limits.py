"""
Abuse limits (issue 6), through the real daemon: the request rate per
client answered with 44, the cap on a client's concurrent connections,
and the per-worker and global connection caps, past which a connection
is closed at once instead of waiting in the listen queue.

Clients are told apart by address; the tests connect from 127.0.0.x.
The per-client limits count over all workers (the tests at the end
show it); most servers here run one worker.  The
start-up probe comes from 127.0.0.1, so rate tests use other addresses.
"""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import CAPSULED, client_context, read_response, wait_for


C = "127.0.0.5"     # a client for the rate tests


def connect(port, src="127.0.0.1"):
    return socket.create_connection(("127.0.0.1", port), timeout=5,
                                    source_address=(src, 0))


def get(s, path="/hello.txt", src="127.0.0.1"):
    raw = connect(s.port, src)
    with client_context().wrap_socket(raw, server_hostname="localhost",
                                      suppress_ragged_eofs=False) as c:
        c.sendall(s.url(path).encode() + b"\r\n")
        return read_response(c)


def both_workers_up(s):
    """Both workers started (wait_ready needs only one to answer)."""
    deadline = time.time() + 5
    while len(s.worker_pids()) < 2 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    return s


def closed_at_once(port, src="127.0.0.1", within=1.0):
    """The server closes this connection without waiting for anything."""
    t = time.time()
    with connect(port, src) as c:
        c.settimeout(5)
        try:
            data = c.recv(100)
        except ConnectionResetError:
            data = b""
    return data == b"" and time.time() - t < within


def test_rate_limit_answers_44_with_seconds_to_wait(make_server):
    s = make_server(workers=1, rate_limit=5).start()   # 5 a minute
    statuses = [get(s, src=C).status for _ in range(5)]
    assert statuses == [20] * 5, "a burst of rate_limit is allowed"
    r = get(s, src=C)
    assert r.status == 44, "then slow down"
    assert r.meta.isdigit() and 1 <= int(r.meta) <= 12, \
        "meta: whole seconds until the next request is allowed"
    assert r.body == b"" and r.close_notify


def test_rate_limit_is_per_client_address(make_server):
    s = make_server(workers=1, rate_limit=2).start()
    assert [get(s, src=C).status for _ in range(3)] == [20, 20, 44]
    assert get(s, src="127.0.0.2").status == 20, "another client is served"


def test_rate_burst_and_period(make_server):
    s = make_server(workers=1, rate_limit=1,
                    server_extra="rate_period = 1\nrate_burst = 3").start()
    assert [get(s, src=C).status for _ in range(4)] == [20, 20, 20, 44]
    r = get(s, src=C)
    assert r.status == 44 and r.meta == "1"
    time.sleep(1.1)
    assert get(s, src=C).status == 20, "a token comes back each second"


def test_rate_limit_0_turns_it_off(make_server):
    s = make_server(workers=1, rate_limit=0).start()
    assert all(get(s).status == 20 for _ in range(30))


def test_max_per_client_closes_the_extra_connection_at_once(make_server):
    s = make_server(workers=1, max_per_client=3, request_timeout=10).start()
    held = [connect(s.port) for _ in range(3)]
    try:
        time.sleep(0.2)
        assert closed_at_once(s.port), "the 4th from the same address"
        assert get(s, src="127.0.0.2").status == 20, "others are served"
    finally:
        for c in held:
            c.close()
    time.sleep(0.2)
    assert get(s).status == 20, "room again once they are closed"


def test_every_worker_full_closes_new_connections_at_once(make_server):
    s = both_workers_up(make_server(
        workers=2, request_timeout=10,
        server_extra="max_connections = 5").start())
    held = [connect(s.port, f"127.0.0.{10 + i}") for i in range(10)]
    try:
        time.sleep(0.5)
        assert closed_at_once(s.port, "127.0.1.1"), \
            "2 workers x 5: the 11th is closed, not queued"
        held.pop().close()
        time.sleep(0.5)
        assert get(s, src="127.0.1.2").status == 20, "one slot is free"
    finally:
        for c in held:
            c.close()


def worker_fds(s):
    """{pid: descriptors} for each worker."""
    out = {}
    for pid in s.worker_pids():
        try:
            out[pid] = len(os.listdir(f"/proc/{pid}/fd"))
        except PermissionError:
            pytest.skip("cannot read the workers' /proc entries")
    return out


def test_one_full_worker_leaves_connections_to_the_other(make_server):
    # One worker is filled to its cap for certain, not by the kernel's
    # luck: connections are made one at a time, and each worker's count
    # is its descriptors over its idle ones (a connection that has sent
    # nothing holds one).  Then the other worker is stopped while a new
    # connection comes, so only the full one could take it: it must
    # leave it queued for the other, not take it and close it.
    s = both_workers_up(make_server(
        workers=2, request_timeout=10,
        server_extra="max_connections = 5").start())
    idle = worker_fds(s)
    assert len(idle) == 2

    def conns():
        now = worker_fds(s)
        return {p: now[p] - idle[p] for p in idle}

    def settles(want):
        assert wait_for(lambda: conns() == want, 2), (want, conns())

    held = []
    try:
        while max(conns().values()) < 5:
            n = sum(conns().values())
            held.append(connect(s.port, f"127.0.0.{10 + len(held)}"))
            assert wait_for(lambda: sum(conns().values()) == n + 1, 2), \
                "every connection is accepted while there is room"
        counts = conns()
        full = max(counts, key=counts.get)
        other = min(counts, key=counts.get)
        assert counts[other] < 5, counts
        for i in range(3):
            os.kill(other, signal.SIGSTOP)
            try:
                raw = connect(s.port, f"127.0.2.{i + 1}")
                time.sleep(0.5)     # the full worker's turn, and its pause
                assert conns()[full] == 5, "the full worker keeps out"
            finally:
                os.kill(other, signal.SIGCONT)
            settles({full: 5, other: counts[other] + 1})
            with client_context().wrap_socket(
                    raw, server_hostname="localhost",
                    suppress_ragged_eofs=False) as c:
                c.sendall(s.url("/hello.txt").encode() + b"\r\n")
                assert read_response(c).status == 20, \
                    "the other worker serves it"
            settles(counts)
    finally:
        for c in held:
            c.close()


def test_max_connections_total_caps_all_workers_together(make_server):
    s = both_workers_up(make_server(
        workers=2, request_timeout=10,
        server_extra="max_connections_total = 3").start())
    held = [connect(s.port, f"127.0.0.{10 + i}") for i in range(3)]
    try:
        time.sleep(0.5)
        assert closed_at_once(s.port, "127.0.1.1")
    finally:
        for c in held:
            c.close()
    time.sleep(0.5)
    assert get(s).status == 20


# -- behind a balancer: the client is the one the PROXY header names ------

def proxied_server(make_server, **kw):
    from conftest import free_port
    pport = free_port()
    s = make_server(workers=1, request_timeout=10,
                    server_extra=f"listen = 127.0.0.1:{pport} proxy", **kw)
    s.pport = pport
    return s.start()


def test_rate_limit_behind_a_balancer_counts_the_proxied_client(make_server):
    from test_proxy import exchange, v1
    s = proxied_server(make_server, rate_limit=2)

    def get_as(src):
        return exchange(s.pport, v1(src, "127.0.0.1", 40000, s.port),
                        s.url("/hello.txt").encode() + b"\r\n").status
    assert [get_as("203.0.113.7") for _ in range(3)] == [20, 20, 44], \
        "all from the balancer's address, but one client"
    assert get_as("203.0.113.8") == 20, "another client behind it"


def test_max_per_client_behind_a_balancer(make_server):
    from test_proxy import exchange, v1
    s = proxied_server(make_server, max_per_client=1)
    held = socket.create_connection(("127.0.0.1", s.pport))
    held.sendall(v1("198.51.100.9", "127.0.0.1", 40000, s.port))
    try:
        time.sleep(0.3)
        t = time.time()
        with socket.create_connection(("127.0.0.1", s.pport),
                                      timeout=5) as c:
            c.sendall(v1("198.51.100.9", "127.0.0.1", 40001, s.port))
            assert c.recv(100) == b"" and time.time() - t < 1, \
                "the same client's second connection is closed at once"
        r = exchange(s.pport, v1("198.51.100.10", "127.0.0.1", 40002,
                                 s.port), s.url("/").encode() + b"\r\n")
        assert r.status == 20, "another client through the same balancer"
    finally:
        held.close()


@pytest.mark.parametrize("header", ["v1 UNKNOWN", "v2 LOCAL"])
def test_a_header_that_names_no_client_counts_as_the_balancer(make_server,
                                                              header):
    # issue 19.11: PROXY UNKNOWN (v1) and LOCAL (v2) left the connection
    # untracked: no max_per_client, no rate_limit.  They count under the
    # balancer's own address.
    from test_proxy import exchange, v2_local
    raw = (b"PROXY UNKNOWN\r\n" if header == "v1 UNKNOWN" else v2_local())
    s = proxied_server(make_server, max_per_client=1, rate_limit=2)
    held = socket.create_connection(("127.0.0.1", s.pport))
    held.sendall(raw)
    try:
        time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", s.pport),
                                      timeout=5) as c:
            c.sendall(raw)
            assert c.recv(100) == b"", \
                "a second such connection from the balancer is over 1"
    finally:
        held.close()
    # no destination either: the URL names the proxy listener's port
    url = f"gemini://localhost:{s.pport}/hello.txt\r\n".encode()

    def status():
        try:
            return exchange(s.pport, raw, url).status
        except OSError:     # refused: the held one's close not seen yet
            return 0
    assert wait_for(lambda: status() == 20)
    got = [status() for _ in range(3)]
    assert 44 in got, "rate_limit 2 counts them too"


def start_with_fd_limit(make_server, limit, **kw):
    """A one-worker server started under `ulimit -n limit`."""
    s = make_server(workers=1, request_timeout=10, **kw)
    s.logfile = open(s.logpath, "ab")
    s.proc = subprocess.Popen(
        ["sh", "-c", f'ulimit -n {limit} && exec "$0" -d -c "$1"',
         str(CAPSULED), str(s.conf)],
        stdout=s.logfile, stderr=s.logfile, start_new_session=True)
    s.wait_ready()
    return s


def test_out_of_descriptors_closes_new_connections_at_once(make_server):
    """A hard descriptor limit below max_connections: the worker runs out
    (EMFILE), and then takes connections off the queue and closes them
    rather than leaving them to time out."""
    s = start_with_fd_limit(make_server, 64)
    # 2 per connection, 64 more, and one per root and listen address
    assert "needs about 2115 descriptors per worker but the limit is 64" \
        in s.log()
    held = []
    try:
        for i in range(80):
            held.append(connect(s.port, f"127.0.0.{10 + i}"))
        time.sleep(0.5)
        assert closed_at_once(s.port, "127.0.1.1"), \
            "out of descriptors: closed, not left in the queue"
        assert "Too many open files; closing new connections" in s.log()
    finally:
        for c in held:
            c.close()
    time.sleep(0.5)
    assert get(s, src="127.0.1.2").status == 20, "serving again"


def test_out_of_descriptors_for_the_file_is_40_not_51(make_server):
    """A file that exists but cannot be opened for want of descriptors is
    the server's trouble: 40 TEMPORARY FAILURE, and logged; 51 NOT FOUND
    would tell the client it is gone (Gemini protocol specification,
    status codes)."""
    s = start_with_fd_limit(make_server, 64)
    worker, = s.worker_pids()
    fd_dir = f"/proc/{worker}/fd"
    try:
        used = len(os.listdir(fd_dir))
    except PermissionError:
        pytest.skip("the worker is not dumpable: needs root to count its fds")
    # idle connections take all but one descriptor: the request's
    # connection gets that one, and its file none
    idle = 64 - used - 1
    held = [connect(s.port, f"127.0.0.{10 + i}") for i in range(idle)]
    try:
        deadline = time.time() + 5
        while len(os.listdir(fd_dir)) < used + idle:
            assert time.time() < deadline, "the idle connections in"
            time.sleep(0.05)
        r = get(s, "/hello.txt", src="127.0.1.1")
    finally:
        for c in held:
            c.close()
    assert (r.status, r.meta) == (40, "Temporary failure")
    assert "/hello.txt: Too many open files" in s.log()
    time.sleep(0.5)
    assert get(s, "/hello.txt", src="127.0.1.2").status == 20


# -- the limits are the server's, not each worker's (issue 11) -----------
#
# Which worker takes a connection is the kernel's choice; the tests make
# it theirs by stopping one worker (SIGSTOP) while the other accepts.  A
# handshake that completes proves the connection was taken.

def handshaken(port, src):
    """A TLS connection from src, handshake done, no request sent."""
    raw = connect(port, src)
    return client_context().wrap_socket(raw, server_hostname="localhost")


def refused_at_once(port, src, within=2.0):
    """Closed without a handshake (not left waiting for one)."""
    t = time.time()
    with connect(port, src) as c:
        c.settimeout(within)
        try:
            data = c.recv(100)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            return False
    return data == b"" and time.time() - t < within


class only:
    """Within the block only worker `pid` accepts: the others stopped."""
    def __init__(self, s, pid):
        self.stopped = [p for p in s.worker_pids() if p != pid]

    def __enter__(self):
        for p in self.stopped:
            os.kill(p, signal.SIGSTOP)

    def __exit__(self, *a):
        for p in self.stopped:
            os.kill(p, signal.SIGCONT)


def two_workers(make_server, **kw):
    s = both_workers_up(make_server(workers=2, request_timeout=10,
                                    **kw).start())
    pids = s.worker_pids()
    assert len(pids) == 2
    return s, pids


def test_max_per_client_counts_every_workers_connections(make_server):
    s, (a, b) = two_workers(make_server, max_per_client=3)
    held = []
    try:
        with only(s, a):
            held += [handshaken(s.port, C) for _ in range(2)]
        with only(s, b):
            held.append(handshaken(s.port, C))     # the 3rd: allowed
            assert refused_at_once(s.port, C), \
                "the 4th, on the other worker, is over max_per_client 3"
        with only(s, a):
            assert refused_at_once(s.port, C), "and on the first one"
        assert get(s, src="127.0.0.2").status == 20, "others are served"
    finally:
        for c in held:
            c.close()
    # the closes reach the shared counts: room again on either worker
    assert wait_for(lambda: get(s, src=C).status == 20, 3)


def test_rate_limit_counts_every_workers_requests(make_server):
    s, (a, b) = two_workers(make_server, rate_limit=3)    # 3 a minute
    with only(s, a):
        got = [get(s, src=C).status for _ in range(2)]
    with only(s, b):
        got += [get(s, src=C).status for _ in range(2)]
    assert got == [20, 20, 20, 44], \
        "rate_limit 3 is 3 requests in all, not 3 per worker"


def test_a_worker_killed_with_connections_leaves_no_client_locked_out(
        make_server):
    s, (a, b) = two_workers(make_server, max_per_client=2)
    held = []
    try:
        with only(s, a):
            held += [handshaken(s.port, C) for _ in range(2)]
        with only(s, b):
            assert refused_at_once(s.port, C)
        os.kill(a, signal.SIGKILL)     # its counts are never given back
        assert wait_for(lambda: len(s.worker_pids()) == 2 and
                        a not in s.worker_pids(), 5)
    finally:
        for c in held:
            c.close()
    assert wait_for(lambda: get(s, src=C).status == 20, 5), \
        "the parent forgets the dead worker's counts"
    held = [handshaken(s.port, C) for _ in range(2)]
    try:
        assert refused_at_once(s.port, C), "and the cap holds again"
    finally:
        for c in held:
            c.close()


def test_a_survivor_of_a_dead_workers_reset_counts_nobody_else(make_server):
    # issue 19.16: a worker dies with connections open and the parent
    # forgets every count; a connection that survives in the other worker
    # kept its slot, and its close was taken off a count it no longer had
    # a part in (here, its own client's new one), so the client could
    # hold more than max_per_client for good
    s, (a, b) = two_workers(make_server, max_per_client=1,
                            server_extra="log_ip = full")  # C, logged
    held = []
    try:
        with only(s, a):
            survivor = handshaken(s.port, C)
        with only(s, b):
            held.append(handshaken(s.port, "127.0.0.2"))
        os.kill(b, signal.SIGKILL)     # its counts are never given back
        assert wait_for(lambda: len(s.worker_pids()) == 2 and
                        b not in s.worker_pids(), 5)
        held.append(handshaken(s.port, C))     # allowed: counts were reset
        before = s.log().count(f"{C} ")
        survivor.close()
        assert wait_for(lambda: s.log().count(f"{C} ") > before, 5), \
            "the survivor's close is logged"
        assert refused_at_once(s.port, C), \
            "the client's one connection still counts against it"
    finally:
        for c in held:
            c.close()
