"""What the Python benches share: one call to ptenantd's control API, and
a test uid slot for a private daemon."""
import json
import os
import socket
import subprocess

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def call(sock_path, req, timeout=30):
    """One request on a connection of its own; the reply as a dict."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    return json.loads(buf)


def test_uid_base():
    """A slot of 64 tenant uid ranges in the test uid space, as every test
    daemon gets one (tests/lib/tenant-procs.sh): inside tools/test's block,
    or by hand in a block no one else uses."""
    return int(subprocess.check_output(
        ["bash", "-c", '. "$1"; pt_test_uid_base', "_", os.path.join(TOP, "tests/lib/tenant-procs.sh")]))
