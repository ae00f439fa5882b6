"""Issue 12's figures, for ptbench.py: idle tenants and the ingress.

idle: a tenant running the echo-bot behind ptenant-ingress. Time to the
first byte of a response through the ingress, from the client's send:
running (the baseline), frozen (the wake is a thaw), asleep (the wake is
a cold start and the daemon's wait for the port); the pause and resume
API calls (a freeze/thaw cycle); CPU used by a frozen CPU hog over 10 s.

ingress: requests/s and latency through ptenant-ingress and through
nginx (Debian's nginx-light) as a reverse proxy, one worker each, with
keep-alive on both sides nginx supports (client, and upstream keepalive),
to the same backend: a second nginx serving a small static file. wrk,
keep-alive, in one run, alternated. Then the ingress's memory with
10,000 idle keep-alive client connections.
"""
import ctypes
import json
import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import time

import ptapi

IPORT, NGINX_PROXY, NGINX_BACKEND, IBENCH = 18600, 18601, 18602, 18603
DOMAIN = "bench.test"
DEVNULL = subprocess.DEVNULL


def _stats(samples):
    s = sorted(samples)
    if not s:
        return {"median": None, "min": None, "max": None, "p99": None}
    return {"median": s[len(s) // 2], "min": s[0], "max": s[-1],
            "p99": s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]}


_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def connect_in(netns, port, timeout):
    """A TCP connection to 127.0.0.1:port of network namespace netns: the
    socket is made there (setns for a moment), so no subprocess is timed."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if _libc.setns(there, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    finally:
        _libc.setns(own, CLONE_NEWNET)
        os.close(own)
        os.close(there)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def first_byte_ms(netns, port, slug, timeout=40):
    """Sends one GET through the ingress, returns ms to the first byte of
    the answer, and the status line."""
    s = connect_in(netns, port, timeout)
    t0 = time.monotonic_ns()
    s.sendall(b"GET / HTTP/1.1\r\nHost: %s.%s\r\nConnection: close\r\n\r\n"
              % (slug.encode(), DOMAIN.encode()))
    b = s.recv(1)
    t1 = time.monotonic_ns()
    rest = b
    while True:
        x = s.recv(65536)
        if not x:
            break
        rest += x
    s.close()
    return (t1 - t0) / 1e6, rest.split(b"\r\n", 1)[0].decode(errors="replace")


class Ingress:
    def __init__(self, build, netns, routes, log, port, extra=()):
        self.log = log
        argv = ["nsenter", f"--net=/run/netns/{netns}",
                os.path.join(build, "src/ingress/ptenant-ingress"), "--listen",
                f"127.0.0.1:{port}", "--domain", DOMAIN, "--routes", routes,
                "--user", "nobody", *extra]
        self.logf = open(log, "w")
        self.proc = subprocess.Popen(argv, stdin=DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_connected(self, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if "wake channel" in open(self.log).read() and ": connected" in open(self.log).read():
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.logf.close()


def in_ns(netns, argv, **kw):
    return subprocess.run(["ip", "netns", "exec", netns, *argv], **kw)


def wait_state(d, slug, state, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        (t,) = [x for x in d.ls() if x["slug"] == slug]
        if t["state"] == state:
            return True
        time.sleep(0.02)
    raise RuntimeError(f"{slug} not {state} after {timeout} s")


def bench_idle(ctx):
    bp = os.path.join(ctx.work, "echo-bot")
    subprocess.run([os.path.join(ctx.top, "rootfs-tools/ptenant-mkblueprint"), bp],
                   check=True, stdout=DEVNULL)
    d = ctx.daemon(["ingress_user = nobody"], use="idle: frozen and asleep tenants woken "
                   "through the ingress")
    os.chmod(d.dir, 0o755)
    os.chmod(d.run, 0o755)
    d.pt("blueprint", "import", "echo-bot@1", bp)
    ing = Ingress(ctx.build, d.netns, os.path.join(d.run, "routes.json"),
                  os.path.join(d.dir, "ingress.log"), IPORT)
    try:
        if not ing.wait_connected():
            raise RuntimeError("the ingress did not connect to the wake channel")
        return idle_rows(ctx, d)
    finally:
        ing.stop()


def idle_rows(ctx, d):
    d.pt("create", "wk", "--blueprint", "echo-bot@1")
    for _ in range(100):  # the bot listens
        if first_byte_ms(d.netns, IPORT, "wk")[1].startswith("HTTP/1.1 200"):
            break
        time.sleep(0.05)
    run, frozen, asleep, pause, resume = [], [], [], [], []
    bad = []
    for i in range(ctx.warmup + ctx.runs):
        time.sleep(0.1)
        ms, status = first_byte_ms(d.netns, IPORT, "wk")
        keep = i >= ctx.warmup
        if keep:
            run.append(ms)
        t0 = time.monotonic_ns()
        ptapi.call(d.sock, {"op": "pause", "slug": "wk"})
        t1 = time.monotonic_ns()
        if keep:
            pause.append((t1 - t0) / 1e6)
        time.sleep(0.1)
        ms, status = first_byte_ms(d.netns, IPORT, "wk")
        if not status.startswith("HTTP/1.1 200"):
            bad.append(status)
        if keep:
            frozen.append(ms)
        ptapi.call(d.sock, {"op": "pause", "slug": "wk"})
        t0 = time.monotonic_ns()
        ptapi.call(d.sock, {"op": "resume", "slug": "wk"})
        t1 = time.monotonic_ns()
        if keep:
            resume.append((t1 - t0) / 1e6)
    for i in range(ctx.warmup + min(ctx.runs, 10)):
        ptapi.call(d.sock, {"op": "pause", "slug": "wk", "sleep": True})
        wait_state(d, "wk", "asleep")
        time.sleep(0.2)
        ms, status = first_byte_ms(d.netns, IPORT, "wk")
        if not status.startswith("HTTP/1.1 200"):
            bad.append(status)
        if i >= ctx.warmup:
            asleep.append(ms)
    # A frozen CPU hog: CPU seconds over 10 s.
    spec = {"slug": "hogz", "blueprint": "echo-bot@1", "entrypoint": ["/bin/sh", "-c",
            "while :; do :; done"], "resources": {"cpu": "0.5"}}
    ptapi.call(d.sock, {"op": "create", "spec": spec, "start": True})
    time.sleep(1)
    ptapi.call(d.sock, {"op": "pause", "slug": "hogz"})
    u0 = ptapi.call(d.sock, {"op": "stats", "slug": "hogz"})
    time.sleep(10)
    u1 = ptapi.call(d.sock, {"op": "stats", "slug": "hogz"})
    cpu0, cpu1 = cpu_usec(u0), cpu_usec(u1)
    d.pt("rm", "hogz")
    d.pt("rm", "wk")
    rows = [
        {"name": "request to a running tenant", "how": "first byte through the ingress",
         "unit": "ms", **_stats(run)},
        {"name": "request to a frozen tenant", "how": "the same, the tenant paused before: "
         "held, woken (thawed), sent on", "unit": "ms", **_stats(frozen)},
        {"name": "  added by the wake from frozen", "how": "frozen minus running, per "
         "percentile", "unit": "ms",
         "median": _stats(frozen)["median"] - _stats(run)["median"],
         "p99": _stats(frozen)["p99"] - _stats(run)["p99"], "min": None, "max": None},
        {"name": "request to an asleep tenant", "how": "pause --sleep before: cold start, "
         "its port accepting, then sent on", "unit": "ms", **_stats(asleep)},
        {"name": "pause (freeze)", "how": "API call, answered once frozen", "unit": "ms",
         **_stats(pause)},
        {"name": "resume (thaw)", "how": "API call", "unit": "ms", **_stats(resume)},
    ]
    return {"rows": rows, "frozen_cpu_usec_10s": (cpu1 - cpu0) if cpu0 is not None else None,
            "errors": bad}


def cpu_usec(stats_reply):
    for t in stats_reply.get("tenants", [stats_reply.get("tenant", {})]):
        if "cpu_usec" in t:
            return t["cpu_usec"]
        if "budget" in t and "cpu_usec" in t["budget"]:
            return t["budget"]["cpu_usec"]
    return None


NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx-{name}.pid;
error_log {dir}/nginx-{name}.err;
events {{ worker_connections 20000; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  {body}
}}
"""


def start_nginx(work, netns, name, body):
    conf = os.path.join(work, f"nginx-{name}.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=work, name=name, body=body))
    p = subprocess.Popen(["ip", "netns", "exec", netns, "nginx", "-c", conf, "-g", "daemon off;"],
                         stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, start_new_session=True)
    return p


def wrk(netns, port, host, seconds, conns, url=None, headers=()):
    """wrk -t1 in netns; url defaults to http://127.0.0.1:PORT/, headers are
    more -H values (each "Name: value", with the space wrk splits on)."""
    url = url or f"http://127.0.0.1:{port}/"
    hdrs = [x for h in (f"Host: {host}", *headers) for x in ("-H", h)]
    out = in_ns(netns, ["wrk", "-t", "1", "-c", str(conns), "-d", f"{seconds}s", "--latency",
                        *hdrs, url],
                capture_output=True, text=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError(f"wrk on {url}: no result: {out!r}")
    rps = float(m.group(1))
    lat = {}
    for pct, val, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", out, re.M):
        lat[pct] = float(val) * {"us": 1e-3, "ms": 1, "s": 1e3}[unit]
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    n = re.search(r"(\d+) requests in", out)
    return {"rps": rps, "p50_ms": lat.get("50"), "p99_ms": lat.get("99"),
            "non2xx": int(errs.group(1)) if errs else 0,
            "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0,
            "requests": int(n.group(1)) if n else None}


def proxy_setup(ctx, tag):
    """What both proxies of a section share: a network namespace of the
    bench's own (lo up), a work directory, and the backend, a second nginx
    serving a small static file, named be.DOMAIN in a routes file for the
    ingress. Returns (netns, work, routes, backend process)."""
    netns = f"{ctx.prefix}-{tag}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
    work = tempfile.mkdtemp(prefix=f"{tag}.", dir=ctx.work)
    os.chmod(work, 0o755)
    with open(os.path.join(work, "index.html"), "w") as f:
        f.write("hello from the backend\n" * 4)
    routes = os.path.join(work, "routes.json")
    with open(routes, "w") as f:
        json.dump({"version": 1, "routes": {"be": {"address": "127.0.0.1", "port": NGINX_BACKEND,
                                                    "state": "running"}}}, f)
    os.chmod(routes, 0o644)
    backend = start_nginx(work, netns, "backend",
                          f"server {{ listen 127.0.0.1:{NGINX_BACKEND} backlog=4096; "
                          f"root {work}; }}")
    return netns, work, routes, backend


def bench_ingress(ctx):
    if not shutil.which("nginx") or not shutil.which("wrk"):
        return {"skipped": "nginx or wrk missing (tools/install-deps bench)"}
    netns, work, routes, backend = proxy_setup(ctx, "ingress")
    procs = [backend,
             start_nginx(work, netns, "proxy",
                         f"upstream be {{ server 127.0.0.1:{NGINX_BACKEND}; keepalive 64; }} "
                         f"server {{ listen 127.0.0.1:{NGINX_PROXY} backlog=4096; location / {{ "
                         "proxy_pass http://be; proxy_http_version 1.1; "
                         "proxy_set_header Connection \"\"; } }")]
    ing = Ingress(ctx.build, netns, routes, os.path.join(work, "ingress.log"), IBENCH,
                  ["--wake-socket", "", "--max-conns", "20000"])
    try:
        time.sleep(0.5)
        res = {"runs": []}
        for rnd in range(3):
            for name, port in (("ptenant-ingress", IBENCH), ("nginx proxy", NGINX_PROXY)):
                r = wrk(netns, port, f"be.{DOMAIN}", 5, 50)
                r.update(name=name, round=rnd)
                res["runs"].append(r)
        res["memory"] = idle_conns_memory(netns, ing.proc, IBENCH, 10000)
        return res
    finally:
        ing.stop()
        for p in procs:
            p.terminate()
            p.wait(10)
        subprocess.run(["ip", "netns", "del", netns], stderr=DEVNULL)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l.split()[1] for l in f if l.startswith("VmRSS:")))


def idle_conns_memory(netns, proc, port, n):
    """The ingress's RSS before and with n idle keep-alive client
    connections (each has made one request), from a client in the netns."""
    # The ingress is nsenter's child: nsenter execs it, so proc.pid is it.
    before = rss_kib(proc.pid)
    code = f"""
import resource, socket, sys, time
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 30000), hard))
socks = []
for i in range({n}):
    s = socket.create_connection(("127.0.0.1", {port}))
    s.sendall(b"GET / HTTP/1.1\\r\\nHost: be.{DOMAIN}\\r\\n\\r\\n")
    socks.append(s)
for s in socks:
    s.settimeout(10)
    buf = b""
    while b"hello" not in buf:
        buf += s.recv(4096)
print("open", len(socks), flush=True)
sys.stdin.read()
"""
    p = subprocess.Popen(["ip", "netns", "exec", netns, "/usr/bin/python3", "-c", code],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline()
    if not line.startswith("open"):
        p.stdin.close()
        p.wait(30)
        raise RuntimeError(f"idle connections: {p.stderr.read()[-500:]}")
    time.sleep(1)
    during = rss_kib(proc.pid)
    p.stdin.close()
    p.wait(30)
    return {"connections": n, "opened": line.strip(), "rss_kib_before": before,
            "rss_kib_with": during, "per_conn_bytes": (during - before) * 1024 / n}


def markdown(res):
    out = []
    idle = res.get("idle")
    if idle:
        out += ["## Idle tenants and wake through the ingress (issue 12)", "",
                "| what | how | median ms | p99 | min | max |", "|---|---|---:|---:|---:|---:|"]
        f = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
        for r in idle["rows"]:
            out.append(f"| {r['name']} | {r['how']} | {f(r['median'])} | {f(r['p99'])} | "
                       f"{f(r['min'])} | {f(r['max'])} |")
        out += ["", f"A frozen CPU hog (cpu 0.5) over 10 s: {idle['frozen_cpu_usec_10s']} "
                "microseconds of CPU.", ""]
        if idle["errors"]:
            out += [f"Requests that were not answered 200: {idle['errors']}", ""]
    ing = res.get("ingress")
    if ing and "runs" in ing:
        out += ["## ptenant-ingress and nginx as a reverse proxy (issue 12)", "",
                "`wrk -t1 -c50 -d5s`, keep-alive, same backend (nginx, a static file), "
                "three rounds alternated.", "",
                "| proxy | round | requests/s | p50 ms | p99 ms | non-2xx |",
                "|---|---:|---:|---:|---:|---:|"]
        for r in ing["runs"]:
            out.append(f"| {r['name']} | {r['round']} | {r['rps']:.0f} | {r['p50_ms']} | "
                       f"{r['p99_ms']} | {r['non2xx']} |")
        m = ing["memory"]
        out += ["", f"ptenant-ingress with {m['connections']} idle keep-alive connections "
                f"({m['opened']}): RSS {m['rss_kib_before']} KiB before, {m['rss_kib_with']} KiB "
                f"with them ({m['per_conn_bytes']:.0f} bytes a connection).", ""]
    elif ing:
        out += ["## ptenant-ingress and nginx", "", ing.get("skipped", ""), ""]
    return "\n".join(out)
