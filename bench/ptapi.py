"""What the Python benches share: one call to ptenantd's control API, and
a test uid slot for a private daemon."""
import json
import os
import socket
import select
import subprocess
import sys
import time

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


def proc_cpu_ticks(pid, children=False):
    """User + system CPU of a process so far, in clock ticks (SC_CLK_TCK);
    with children, also that of its reaped children."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime stime cutime cstime: fields 14-17, here 11-14 after the name.
    return sum(int(x) for x in fields[11:15 if children else 13])


def test_uid_base():
    """A slot of 64 tenant uid ranges in the test uid space, as every test
    daemon gets one (tests/lib/tenant-procs.sh): inside tools/test's block,
    or by hand in a block no one else uses."""
    return int(subprocess.check_output(
        ["bash", "-c", '. "$1"; pt_test_uid_base', "_", os.path.join(TOP, "tests/lib/tenant-procs.sh")]))


def probe(sock_path):
    """`ls` round trips one after another until stdin closes; then the
    latencies (ms) and the failed calls, as JSON on stdout. Its own
    process, so the harness's work does not time it (ptbench ApiProbe)."""
    lat, errors = [], 0
    call(sock_path, {"op": "ls"})
    print("ready", flush=True)
    while not select.select([sys.stdin], [], [], 0)[0]:
        t = time.monotonic_ns()
        try:
            call(sock_path, {"op": "ls"})
            lat.append((time.monotonic_ns() - t) / 1e6)
        except (OSError, ValueError):
            errors += 1
    sys.stdout.write(json.dumps({"lat_ms": lat, "errors": errors}))


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "probe":
    probe(sys.argv[2])
