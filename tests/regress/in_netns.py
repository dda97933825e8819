"""
Run by test_gemproxy.py under `unshare -n` (a network namespace where
only loopback exists): molly-brown, which listens on every interface,
behind a front capsuled, and the requests.  Prints "PATH RESPONSE" a
line each; every process it starts it ends by its PID.

  python3 in_netns.py WORKDIR CAPSULED MOLLY
"""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import Server, build_capsule, free_port, gemini  # noqa: E402
from conftest import wait_for  # noqa: E402

MOLLY_CONF = """\
Port = {port}
Hostname = "localhost"
CertPath = "{work}/molly.crt"
KeyPath = "{work}/molly.key"
DocBase = "{root}/"
AccessLog = "{work}/molly-access.log"
ErrorLog = "{work}/molly-error.log"
"""


def main():
    work, molly_bin = Path(sys.argv[1]), sys.argv[3]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    root = build_capsule(work / "mollyroot")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost", "-keyout",
                    str(work / "molly.key"), "-out", str(work / "molly.crt")],
                   check=True, capture_output=True)
    port = free_port()
    (work / "molly.conf").write_text(MOLLY_CONF.format(port=port, work=work,
                                                       root=root))
    molly = subprocess.Popen([molly_bin, "-c", str(work / "molly.conf")],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    front = None
    try:
        def up():
            try:
                return gemini(port, "gemini://localhost/", timeout=2).status
            except OSError:
                return 0
        if not wait_for(up, 10):
            print("molly-brown did not start", file=sys.stderr)
            return 1
        fw = work / "front"
        fw.mkdir()
        front = Server(fw, build_capsule(fw / "root"), host_extra=(
            f"proxy = /m/ gemini://localhost:{port}/ verify=none\n"))
        front.start()
        for path in ("/m/", "/m/missing.gmi"):
            r = front.get(path)
            print(path, r.header.decode(), r.body.decode(errors="replace")
                  .replace("\n", " "))
        return 0
    finally:
        if front is not None:
            front.stop()
        molly.terminate()
        molly.wait(10)


if __name__ == "__main__":
    sys.exit(main())
