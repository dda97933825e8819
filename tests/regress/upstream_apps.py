"""
Small upstream servers for the upstream tests, each run as a child of
the test (python3 upstream_apps.py KIND ...) and ended by its PID.  What
each does is chosen by the request's path, so one server answers every
case of a test module.

  scgi ADDR             an SCGI application, to the SCGI specification
                        (a netstring header: CONTENT_LENGTH first, then
                        SCGI 1; the body, CONTENT_LENGTH bytes; then the
                        response until the connection closes)
  fastcgi ADDR          a FastCGI responder that misbehaves on purpose
  gemini ADDR CERT KEY  a Gemini server over TLS that misbehaves on
                        purpose, and reports what it was sent

ADDR is unix:/PATH or PORT (on 127.0.0.1).  Each prints "ready" once it
listens.  The paths (the part after the upstream's PATH):

  /env        20 and every variable it was given, sorted (SCGI, FastCGI)
  /echo       20 and what it was sent: the request line and a PROXY
              header (gemini)
  /status?NN  the status NN with a meta
  /big?N      20 and N bytes of body
  /longmeta   a header whose meta is over 1024 bytes
  /nolf       2000 bytes and no line end, then the close
  /stall      nothing, ever, until the connection closes
  /hold       a header and part of a body, then nothing, never closing
  /trickle    a header, then a line every 0.2 s, for ever
  /reset      a header and part of a body, then a TCP reset
  /junk       (fastcgi) a response that is not FastCGI records
  /otherid    (fastcgi) a record for request 2
  /overloaded (fastcgi) END_REQUEST with protocolStatus OVERLOADED
  /stderr     (fastcgi) STDERR with control bytes, then a response
"""
import os
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def listen(addr):
    if addr.startswith("unix:"):
        path = addr[5:]
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0)      # the workers run as another user
        s.bind(path)
        os.umask(old)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(addr)))
    s.listen(64)
    return s


def reset(conn):
    """Close with a TCP (or UNIX) reset: no orderly end."""
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
    except OSError:
        pass
    conn.close()


def hold(conn, seconds=60):
    """Keep the connection open, saying nothing, until the peer goes."""
    conn.settimeout(seconds)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


def answer(path, query, send, conn, env=None):
    """The behaviours the paths choose; send(bytes) writes the response."""
    if path == "/env":
        body = "".join(f"{k}={v}\n" for k, v in sorted(env.items()))
        send(b"20 text/plain\r\n" + body.encode())
    elif path == "/status":
        send(f"{query or '20'} meta of {query}\r\n".encode())
    elif path == "/big":
        n = int(query or 0)
        send(b"20 application/octet-stream\r\n")
        chunk = b"x" * 65536
        while n > 0:
            send(chunk[:min(n, len(chunk))])
            n -= min(n, len(chunk))
    elif path == "/longmeta":
        send(b"20 " + b"a" * 1100 + b"\r\nbody\n")
    elif path == "/nolf":
        send(b"2" * 2000)
    elif path == "/stall":
        hold(conn)
        return "held"
    elif path == "/hold":
        send(b"20 text/plain\r\npartial\n")
        hold(conn)
        return "held"
    elif path == "/trickle":
        send(b"20 text/plain\r\n")
        for _ in range(3000):
            send(b"tick\n")
            time.sleep(0.2)
    elif path == "/reset":
        send(b"20 text/plain\r\n" + b"partial\n" * 1000)
        return "reset"
    elif path == "/dribble":
        # each byte well inside upstream_timeout, the header not
        for c in b"20 text/plain\r\n":
            send(bytes([c]))
            time.sleep(0.3)
        send(b"late\n")
    else:
        send(b"51 Not found\r\n")
    return "done"


# --- SCGI -----------------------------------------------------------------

def read_netstring(f):
    """The SCGI header: "LEN:" then LEN bytes then ","."""
    digits = b""
    while True:
        c = f.read(1)
        if c == b":":
            break
        if not c.isdigit() or len(digits) > 9:
            raise ValueError("netstring length")
        digits += c
    if digits == b"" or (digits[0:1] == b"0" and len(digits) > 1):
        raise ValueError("netstring length has a leading zero")
    data = f.read(int(digits))
    if f.read(1) != b",":
        raise ValueError("netstring does not end with ','")
    return data


def scgi_env(data):
    parts = data.split(b"\0")
    if parts[-1] != b"" or len(parts) % 2 != 1:
        raise ValueError("header is not NUL-terminated pairs")
    names, values = parts[0:-1:2], parts[1:-1:2]
    if names[0] != b"CONTENT_LENGTH" or not values[0].isdigit():
        raise ValueError("CONTENT_LENGTH is not first")
    if len(set(names)) != len(names):
        raise ValueError("a variable given twice")
    env = {n.decode(): v.decode() for n, v in zip(names, values)}
    if env.get("SCGI") != "1":
        raise ValueError("no SCGI 1")
    return env


class ScgiHandler(socketserver.StreamRequestHandler):
    def handle(self):
        conn = self.request
        try:
            env = scgi_env(read_netstring(self.rfile))
            body = self.rfile.read(int(env["CONTENT_LENGTH"]))
            assert len(body) == int(env["CONTENT_LENGTH"])
        except (ValueError, AssertionError) as e:
            conn.sendall(f"59 not SCGI: {e}\r\n".encode())
            return
        env["SCGI_BODY_BYTES"] = str(len(body))
        try:
            if answer(env.get("PATH_INFO", ""), env.get("QUERY_STRING"),
                      conn.sendall, conn, env) == "reset":
                reset(conn)
        except OSError:
            pass


# --- FastCGI --------------------------------------------------------------

def fcgi_record(rtype, content=b"", rid=1, pad=0):
    return struct.pack("!BBHHBx", 1, rtype, rid, len(content), pad) + \
        content + b"\0" * pad


def fcgi_params(data):
    env, i = {}, 0
    while i < len(data):
        lens = []
        for _ in range(2):
            if data[i] & 0x80:
                lens.append(struct.unpack("!I", data[i:i + 4])[0] &
                            0x7fffffff)
                i += 4
            else:
                lens.append(data[i])
                i += 1
        n, v = data[i:i + lens[0]], data[i + lens[0]:i + sum(lens)]
        env[n.decode()] = v.decode()
        i += sum(lens)
    return env


class FcgiHandler(socketserver.StreamRequestHandler):
    def read_request(self):
        params, keep = b"", 0
        while True:
            head = self.rfile.read(8)
            if len(head) < 8:
                return None, 0
            _, rtype, rid, clen, pad = struct.unpack("!BBHHBx", head)
            content = self.rfile.read(clen)
            self.rfile.read(pad)
            if rtype == 1:
                keep = content[2] & 1
            elif rtype == 4:
                params += content
            elif rtype == 5 and clen == 0:
                return fcgi_params(params), keep

    def handle(self):
        conn = self.request
        env, _ = self.read_request()
        if env is None:
            return
        path = env.get("PATH_INFO", "")

        def out(b):
            for i in range(0, len(b), 65535):
                conn.sendall(fcgi_record(6, b[i:i + 65535]))

        def end(proto=0):
            conn.sendall(fcgi_record(6) + fcgi_record(
                3, struct.pack("!IB3x", 0, proto)))
        try:
            if path == "/junk":
                conn.sendall(b"20 text/plain\r\nnot records\n")
            elif path == "/otherid":
                conn.sendall(fcgi_record(6, b"20 text/plain\r\n", rid=2))
            elif path == "/overloaded":
                end(proto=2)
            elif path == "/stderrflood":
                # stderr as fast as it can go, never a byte of stdout,
                # for at most 8 s (the front's cgi_timeout comes first)
                batch = fcgi_record(7, b"e" * 8000 + b"\n") * 8
                stop = time.monotonic() + 8
                while time.monotonic() < stop:
                    conn.sendall(batch)
                end()
            elif path == "/stderr":
                conn.sendall(fcgi_record(7, b"bad \x1b[31mred\x07 line\n"))
                out(b"20 text/plain\r\nok\n")
                end()
            elif answer(path, env.get("QUERY_STRING"), out, conn,
                        env) == "reset":
                reset(conn)
            else:
                end()
        except OSError:
            pass


# --- a Gemini server over TLS ---------------------------------------------

class GeminiHandler(socketserver.BaseRequestHandler):
    def handle(self):
        conn = self.request
        proxied = "none"
        conn.settimeout(10)
        try:
            head = conn.recv(16, socket.MSG_PEEK)
            if head[:12] == SIG:
                head = b""
                while len(head) < 16:
                    head += conn.recv(16 - len(head))
                body = b""
                n = struct.unpack("!H", head[14:16])[0]
                while len(body) < n:
                    body += conn.recv(n - len(body))
                proxied = proxy_text(head, body)
            tls = self.server.ctx.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            line = b""
            while not line.endswith(b"\r\n") and len(line) < 1100:
                c = tls.recv(1)
                if not c:
                    return
                line += c
            url = line[:-2].decode()
            rest = url.split("://", 1)[1]
            path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
            path, _, query = path.partition("?")
            if path.startswith("/base/"):   # test_gemproxy's BASE
                path = path[5:]
            if path.endswith("/echo"):
                tls.sendall(f"20 text/plain\r\nrequest {url}\nproxy "
                            f"{proxied}\n".encode())
                done = "done"
            else:
                done = answer(path, query, tls.sendall, tls)
            if done == "reset":
                reset(conn)
            elif done == "done":
                tls.unwrap()
        except (OSError, ssl.SSLError, ValueError):
            pass


def proxy_text(head, body):
    if head[12] == 0x20:
        return "LOCAL"
    if head[13] == 0x11:
        src, dst = socket.inet_ntoa(body[0:4]), socket.inet_ntoa(body[4:8])
        sp, dp = struct.unpack("!HH", body[8:12])
    else:
        src = socket.inet_ntop(socket.AF_INET6, body[0:16])
        dst = socket.inet_ntop(socket.AF_INET6, body[16:32])
        sp, dp = struct.unpack("!HH", body[32:36])
    return f"{src}:{sp} {dst}:{dp}"


class Server(socketserver.ThreadingMixIn, socketserver.BaseServer):
    daemon_threads = True

    def __init__(self, sock, handler):
        super().__init__(sock.getsockname(), handler)
        self.socket = sock

    def fileno(self):
        return self.socket.fileno()

    def get_request(self):
        return self.socket.accept()

    def shutdown_request(self, request):
        try:
            request.close()
        except OSError:
            pass


def main():
    kind, addr = sys.argv[1], sys.argv[2]
    handlers = {"scgi": ScgiHandler, "fastcgi": FcgiHandler,
                "gemini": GeminiHandler}
    server = Server(listen(addr), handlers[kind])
    if kind == "gemini":
        server.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    try:
        sys.stdin.read()     # until the test closes our stdin, or kills us
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
