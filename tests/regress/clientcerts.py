"""
Client certificates made with the openssl command (no Python package
needed), and the tests' own small Titan client.

  make_cert(dir, name, expired=False) -> Cert(crt, key, fingerprint)
  titan(port, path, body, cert, ...)  -> Response (conftest)
"""
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from conftest import client_context, read_response, tls_connect


@dataclass
class Cert:
    crt: Path
    key: Path
    fingerprint: str    # "SHA256:" + 64 upper-case hex digits

    def ctx(self):
        return client_context(self.crt, self.key)


CA_CONF = """\
[ca]
default_ca = c
[c]
database = {db}/index.txt
new_certs_dir = {db}
serial = {db}/serial
default_md = sha256
policy = p
[p]
commonName = supplied
"""


def _run(*args, cwd=None):
    subprocess.run(args, check=True, capture_output=True, cwd=cwd)


def make_cert(directory, name, expired=False, not_yet=False):
    """A self-signed P-256 client certificate whose CN is name; expired
    (valid in January 2020) or not yet valid (from 2090) on request."""
    d = Path(directory) / ("cert-" + name)
    d.mkdir(parents=True, exist_ok=True)
    crt, key = d / "cert.pem", d / "key.pem"
    if not (expired or not_yet):
        _run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
             "-out", str(crt), "-days", "365", "-subj", "/CN=" + name)
    else:
        db = d / "db"
        db.mkdir(exist_ok=True)
        (db / "index.txt").write_text("")
        (db / "serial").write_text("01\n")
        (d / "ca.cnf").write_text(CA_CONF.format(db=db))
        _run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
             "-out", str(d / "req.csr"), "-subj", "/CN=" + name)
        start, end = (("20200101000000Z", "20200201000000Z") if expired
                      else ("20900101000000Z", "20910101000000Z"))
        _run("openssl", "ca", "-batch", "-config", str(d / "ca.cnf"),
             "-selfsign", "-keyfile", str(key), "-in", str(d / "req.csr"),
             "-startdate", start, "-enddate", end, "-out", str(crt))
    out = subprocess.run(["openssl", "x509", "-in", str(crt), "-noout",
                          "-fingerprint", "-sha256"], check=True,
                         capture_output=True, text=True).stdout
    hexdigits = out.strip().split("=", 1)[1].replace(":", "").upper()
    return Cert(crt, key, "SHA256:" + hexdigits)


def titan_line(port, path, size, mime="text/gemini", token=None,
               host="localhost"):
    line = f"titan://{host}:{port}{path};size={size}"
    if mime is not None:
        line += f";mime={mime}"
    if token is not None:
        line += f";token={token}"
    return (line + "\r\n").encode()


def titan(port, path, body, cert=None, mime="text/gemini", size=None,
          send=None, timeout=10, sni="localhost"):
    """Upload body to path (size=len(body) unless given); send: the
    bytes of body actually sent (a short body), before the reply is
    read."""
    if isinstance(body, str):
        body = body.encode()
    size = len(body) if size is None else size
    data = titan_line(port, path, size, mime) + (
        body if send is None else body[:send])
    ctx = cert.ctx() if cert else client_context()
    with tls_connect(port, sni, ctx=ctx, timeout=timeout) as s:
        s.sendall(data)
        if send is not None and send < size:
            s.shutdown(socket.SHUT_WR)
        return read_response(s)
