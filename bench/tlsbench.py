"""Issue 15's figures, for ptbench.py: HTTPS at ptenant-ingress, beside nginx.

Both terminate TLS with the same certificate (a wildcard *.bench.test and
bench.test, ECDSA P-256, signed by an intermediate of a throwaway CA, both
made here with the openssl CLI; served as leaf + intermediate, like an ACME
client's fullchain.pem), one worker each, TLS 1.2 and 1.3 on both, in front
of the same backend as the `ingress` section (a second nginx serving a
small static file), all in a network namespace of the bench's own. Clients
reach them as be.bench.test through a hosts file for that namespace
(/etc/netns/NS/hosts, which `ip netns exec` mounts over /etc/hosts), so
wrk and the idle client send SNI like a browser; `openssl s_time` sends
none, so the full handshakes also take the "no SNI: first domain with a
certificate" path.

  keep-alive   wrk -t1 -c50 -d5s over HTTPS: requests/s, p50 and p99.
  resumed      the same with Connection: close: wrk reconnects for every
               request and resumes its TLS session (a TLS 1.3 ticket: no
               certificate signature, but still an X25519 exchange).
  full         openssl s_time -new, CLIENTS at once: a full handshake, one
               GET and the answer per connection.
  idle         RSS with 10,000 idle TLS connections (handshake done, one
               request answered, kept alive), per connection.

Each timed test runs ROUNDS times, the two servers alternated, and also
gives the server's own CPU time per request or connection (the ingress's
process, nginx's worker): on a small machine the clients share the cores
with the server, and OpenSSL's client side of a handshake costs more than
the server's, so connections/s can be the client's limit; CPU per
connection is the server's own figure either way.

Run as a script (`tlsbench.py idle PORT N HOST CAFILE`, by Debian's
/usr/bin/python3 in the namespace) it is the idle connections' client.
"""
import json
import os
import re
import resource
import selectors
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import time

import idlebench
import ptapi
from idlebench import DEVNULL, DOMAIN, NGINX_BACKEND, rss_kib, start_nginx

# The ingress's plain HTTP port (required, unused here), its HTTPS port, nginx's.
HTTP_PORT, INGRESS_TLS, NGINX_TLS = 18610, 18611, 18612
HOST = f"be.{DOMAIN}"
ROUNDS, SECONDS, CONNS = 3, 5, 50
CLIENTS = 2     # s_time processes at once: one a core on the 2-core bench machine
IDLE_CONNS = 10000
# The idle client's handshakes in flight at once.
WINDOW = 64
# An idle connection must outlive opening the other 9,999 (tens of seconds
# with OpenSSL 3.0's slow handshakes), on both servers alike.
KEEPALIVE_S = 300
# The ingress's TLS 1.2 suites (src/ingress/tls.h), given to nginx too; both
# negotiate TLS 1.3 with these clients, so this only keeps the configs alike.
TLS12_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                 "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
IDLE_CLIENT = "/usr/bin/python3"  # Debian's, not whatever python3 is first on PATH
SERVERS = ("ptenant-ingress", "nginx")


# ---- set-up --------------------------------------------------------------------

def missing(build):
    """Why the section cannot run here, or None."""
    for tool in ("nginx", "wrk", "openssl"):
        if not shutil.which(tool):
            return f"{tool} missing (tools/install-deps bench)"
    if not os.path.exists(IDLE_CLIENT):
        return f"{IDLE_CLIENT} missing"
    if "http_ssl_module" not in subprocess.run(["nginx", "-V"], capture_output=True,
                                               text=True).stderr:
        return "this nginx has no ssl module"
    ingress = os.path.join(build, "src/ingress/ptenant-ingress")
    if not os.access(ingress, os.X_OK):
        return f"{ingress} not built"
    if "--https-listen" not in subprocess.run([ingress, "--help"], capture_output=True,
                                              text=True).stdout:
        return f"{ingress} has no --https-listen (built before HTTPS)"
    return None


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=DEVNULL, stderr=DEVNULL)


def make_key(cwd, name):
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", name, cwd=cwd)
    os.chmod(os.path.join(cwd, name), 0o600)


def sign(cwd, name, subject, ca, ext):
    """name.pem for name.key, signed by ca (.pem, .key) with extensions ext."""
    with open(os.path.join(cwd, f"{name}.ext"), "w") as f:
        f.write("\n".join(ext) + "\n")
    openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=cwd)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "3", "-sha256", "-extfile", f"{name}.ext",
            "-out", f"{name}.pem", cwd=cwd)


def make_certs(work):
    """A root CA, an intermediate, and the wildcard leaf: all ECDSA P-256.
    Returns the paths of the root (what clients trust), the served chain
    (leaf, intermediate) and the leaf's key (0600 root, as the ingress's
    man page asks: its key helper reads it before the drop to nobody)."""
    d = os.path.join(work, "certs")
    os.mkdir(d, 0o755)
    for k in ("root.key", "int.key", "leaf.key"):
        make_key(d, k)
    openssl("req", "-x509", "-new", "-key", "root.key", "-sha256", "-days", "3",
            "-subj", "/CN=ptbench throwaway root", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "root.pem", cwd=d)
    ca_ext = ["basicConstraints=critical,CA:TRUE,pathlen:0",
              "keyUsage=critical,keyCertSign,cRLSign"]
    sign(d, "int", "/CN=ptbench throwaway intermediate", "root", ca_ext)
    sign(d, "leaf", f"/CN=*.{DOMAIN}", "int",
         [f"subjectAltName=DNS:*.{DOMAIN},DNS:{DOMAIN}", "basicConstraints=critical,CA:FALSE",
          "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth"])
    chain = os.path.join(d, "chain.pem")
    with open(chain, "w") as out:
        for part in ("leaf.pem", "int.pem"):
            with open(os.path.join(d, part)) as f:
                out.write(f.read())
    return {"root": os.path.join(d, "root.pem"), "chain": chain,
            "key": os.path.join(d, "leaf.key")}


class HostsFile:
    """/etc/netns/NETNS/hosts naming HOST 127.0.0.1, for whatever runs
    through `ip netns exec NETNS`; removed on exit, with /etc/netns if this
    made it and nothing else is in it."""

    def __init__(self, netns):
        self.dir = f"/etc/netns/{netns}"

    def __enter__(self):
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "hosts"), "w") as f:
            f.write(f"127.0.0.1 localhost {HOST}\n")
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)
        try:
            os.rmdir("/etc/netns")
        except OSError:  # another namespace's files, or gone already
            pass


class TlsIngress:
    """ptenant-ingress with HTTPS from a --config file (https_listen and a
    [DOMAIN] section with cert and key), the rest on the command line as
    in the `ingress` section, keep-alive as long as nginx's here."""

    def __init__(self, build, netns, work, routes, certs):
        conf = os.path.join(work, "ingress.conf")
        with open(conf, "w") as f:
            f.write(f"https_listen = 127.0.0.1:{INGRESS_TLS}\n[{DOMAIN}]\n"
                    f"cert = {certs['chain']}\nkey = {certs['key']}\n")
        self.log = os.path.join(work, "ingress.log")
        self.logf = open(self.log, "w")
        # nsenter execs the ingress: self.proc.pid is the ingress itself.
        self.proc = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{netns}",
             os.path.join(build, "src/ingress/ptenant-ingress"), "--config", conf,
             "--listen", f"127.0.0.1:{HTTP_PORT}", "--routes", routes, "--user", "nobody",
             "--wake-socket", "", "--max-conns", "20000",
             "--keepalive-timeout", str(KEEPALIVE_S * 1000)],
            stdin=DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid

    def notes(self, limit=30):
        """What the ingress said besides its access lines."""
        with open(self.log, errors="replace") as f:
            lines = [x.rstrip() for x in f if " access " not in x]
        return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])

    def check_alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"ptenant-ingress exited with status {self.proc.returncode}: "
                               + " | ".join(self.notes()[-5:]))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.logf.close()


def nginx_tls_body(certs):
    return (f"upstream be {{ server 127.0.0.1:{NGINX_BACKEND}; keepalive 64; }} "
            f"server {{ listen 127.0.0.1:{NGINX_TLS} ssl backlog=4096; "
            f"ssl_certificate {certs['chain']}; ssl_certificate_key {certs['key']}; "
            # nginx 1.22 (Debian 12) leaves TLS 1.3 out by default; the ingress has it.
            f"ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers {TLS12_CIPHERS}; "
            f"keepalive_timeout {KEEPALIVE_S}s; "
            "location / { proxy_pass http://be; proxy_http_version 1.1; "
            "proxy_set_header Connection \"\"; } }")


def nginx_worker(proc, work, timeout=5):
    """The one worker of the nginx started as proc (`ip netns exec` execs
    nginx, so proc.pid is its master)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        nginx_alive(proc, work)
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
            kids = f.read().split()
        if kids:
            return int(kids[0])
        time.sleep(0.05)
    raise RuntimeError("nginx (TLS) started no worker")


def nginx_alive(proc, work):
    """Raises if the TLS nginx exited, with why: its stderr went nowhere
    (start_nginx) and a bad config fails before its error log is open, so
    `nginx -t` says it again."""
    if proc.poll() is None:
        return
    test = subprocess.run(["nginx", "-t", "-c", os.path.join(work, "nginx-tls.conf")],
                          capture_output=True, text=True).stderr.strip().splitlines()
    raise RuntimeError(f"nginx (TLS) exited with status {proc.returncode}: {test[:1]}")


# ---- measurements ----------------------------------------------------------------

def cpu_s(pid):
    """User + system CPU seconds of a process so far."""
    return ptapi.proc_cpu_ticks(pid) / os.sysconf("SC_CLK_TCK")


def wrk_tls(netns, port, pid, close):
    """idlebench.wrk over HTTPS by name (SNI), with the server's CPU time
    per request; close: Connection: close, a new connection each request."""
    c0 = cpu_s(pid)
    r = idlebench.wrk(netns, port, HOST, SECONDS, CONNS, url=f"https://{HOST}:{port}/",
                      headers=["Connection: close"] if close else [])
    r["cpu_us_per_req"] = ((cpu_s(pid) - c0) * 1e6 / r["requests"]) if r["requests"] else None
    return r


def s_time(netns, port, pid):
    """Full handshakes: CLIENTS `openssl s_time -new` at once for SECONDS,
    each connection a full handshake, one GET and its answer to EOF.
    s_time has no header option and sends `GET PATH HTTP/1.0`: the Host
    and Connection headers ride in PATH, and X-Pad takes the trailing
    " HTTP/1.0". Its own timing is in whole seconds, so the wall time is
    taken here."""
    path = f"/ HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\nX-Pad: x"
    argv = ["ip", "netns", "exec", netns, "openssl", "s_time", "-connect", f"{HOST}:{port}",
            "-new", "-time", str(SECONDS), "-www", path]
    c0, t0 = cpu_s(pid), time.monotonic()
    procs = [subprocess.Popen(argv, stdin=DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(CLIENTS)]
    outs = [p.communicate()[0] for p in procs]
    wall, cpu = time.monotonic() - t0, cpu_s(pid) - c0
    conns, sizes = 0, []
    for out in outs:
        m = re.search(r"(\d+) connections in \d+ real seconds, (\d+) bytes read per", out)
        if not m:
            raise RuntimeError(f"s_time on port {port}: no result: {out[-300:]!r}")
        conns += int(m.group(1))
        sizes.append(int(m.group(2)))
    return {"conns": conns, "per_s": conns / wall, "bytes_per_conn": sizes,
            "cpu_us_per_conn": cpu * 1e6 / conns if conns else None}


def run_client(netns, port, n, root, stdin):
    """This file as the idle client, in netns, n connections to port."""
    return subprocess.Popen(["ip", "netns", "exec", netns, IDLE_CLIENT, os.path.abspath(__file__),
                             "idle", str(port), str(n), HOST, root], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def probe(netns, port, root, timeout=10):
    """One verified connection and request (the idle client with n = 1),
    retried until the server answers: the protocol, suite and status."""
    end = time.monotonic() + timeout
    while True:
        p = run_client(netns, port, 1, root, DEVNULL)
        out, err = p.communicate(timeout=30)
        if p.returncode == 0:
            got = json.loads(out)
            if got["statuses"] != {"200": 1}:
                raise RuntimeError(f"TLS probe on port {port}: answered {got['statuses']}")
            return got
        if time.monotonic() > end:
            raise RuntimeError(f"TLS probe on port {port}: {err.strip()[-300:]}")
        time.sleep(0.2)


def idle_tls_memory(netns, port, pid, root):
    """The server process's RSS before, with IDLE_CONNS idle TLS
    connections open (from the client script, in the namespace), and a
    second after they closed."""
    before = rss_kib(pid)
    p = run_client(netns, port, IDLE_CONNS, root, subprocess.PIPE)
    line = p.stdout.readline()
    if not line:
        p.wait(30)
        raise RuntimeError(f"idle TLS connections to port {port}: {p.stderr.read()[-500:]}")
    opened = json.loads(line)
    time.sleep(1)
    during = rss_kib(pid)
    p.stdin.close()
    p.wait(60)
    time.sleep(1)
    return {"connections": opened["open"], "open_s": opened["seconds"],
            "statuses": opened["statuses"], "rss_kib_before": before, "rss_kib_with": during,
            "rss_kib_after_close": rss_kib(pid),
            "per_conn_kib": (during - before) / opened["open"]}


# ---- the section ----------------------------------------------------------------

def alternated(servers, test):
    """test(port, pid) for each server, ROUNDS rounds alternated; a dead
    server is caught before its turn (alive raises)."""
    runs = []
    for rnd in range(ROUNDS):
        for name, port, pid, alive in servers:
            alive()
            r = test(port, pid)
            r.update(name=name, round=rnd)
            runs.append(r)
    return runs


def bench_tls(ctx):
    why = missing(ctx.build)
    if why:
        return {"skipped": why}
    netns, work, routes, backend = idlebench.proxy_setup(ctx, "tls")
    procs, ing = [backend], None
    try:
        with HostsFile(netns):
            certs = make_certs(work)
            procs.append(start_nginx(work, netns, "tls", nginx_tls_body(certs)))
            ing = TlsIngress(ctx.build, netns, work, routes, certs)
            return measure(netns, work, certs, ing, procs[-1])
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as e:
        return {"failed": str(e), "ingress_said": ing.notes() if ing else []}
    finally:
        if ing:
            ing.stop()
        for p in procs:
            p.terminate()
            p.wait(10)
        subprocess.run(["ip", "netns", "del", netns], stderr=DEVNULL)


def probe_all(netns, certs, servers):
    out = {}
    for name, port, _, alive in servers:
        try:
            out[name] = probe(netns, port, certs["root"])
        except RuntimeError:
            alive()  # a server that exited says so, with its log, rather than "refused"
            raise
    return out


def busy():
    """How busy the machine is besides: other work on the two cores moves
    every figure here, so the report says how quiet it was."""
    try:
        with open("/proc/pressure/cpu") as f:
            some = float(re.search(r"avg60=([\d.]+)", f.readline()).group(1))
    except (OSError, AttributeError):
        some = None
    return {"loadavg_1min": os.getloadavg()[0], "cpu_pressure_some_avg60": some}


def measure(netns, work, certs, ing, nginx):
    worker = nginx_worker(nginx, work)
    servers = [("ptenant-ingress", INGRESS_TLS, ing.pid, ing.check_alive),
               ("nginx", NGINX_TLS, worker, lambda: nginx_alive(nginx, work))]
    res = {"busy_at_start": busy(), "probe": probe_all(netns, certs, servers)}
    res["keepalive"] = alternated(servers, lambda port, pid: wrk_tls(netns, port, pid, False))
    res["resumed"] = alternated(servers, lambda port, pid: wrk_tls(netns, port, pid, True))
    res["full"] = alternated(servers, lambda port, pid: s_time(netns, port, pid))
    res["memory"] = {}
    for name, port, pid, alive in servers:
        alive()
        res["memory"][name] = idle_tls_memory(netns, port, pid, certs["root"])
    ing.check_alive()
    # The processes beside the ones measured, which do not grow a connection.
    res["memory"]["fixed_kib"] = {
        "ptenant-ingress key helper": sum(rss_kib(int(k)) for k in children(ing.pid)),
        "nginx master": rss_kib(nginx.pid)}
    res["ingress_said"] = ing.notes()
    res["busy_at_end"] = busy()
    return res


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return f.read().split()


# ---- the report ------------------------------------------------------------------

def median_of(runs, name, key):
    xs = [r[key] for r in runs if r["name"] == name and r.get(key) is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    return a / b if a is not None and b else None


def f0(x):
    return "-" if x is None else f"{x:.0f}"


def f2(x):
    return "-" if x is None else f"{x:.2f}"


def summary_rows(res):
    """(what, ingress, nginx, ratio) rows of medians."""
    rows = []
    for test, label in (("keepalive", "keep-alive"), ("resumed", "new connection a request, "
                                                                  "session resumed")):
        runs = res[test]
        rps = [median_of(runs, n, "rps") for n in SERVERS]
        p99 = [median_of(runs, n, "p99_ms") for n in SERVERS]
        cpu = [median_of(runs, n, "cpu_us_per_req") for n in SERVERS]
        rows += [(f"{label}: requests/s", *map(f0, rps), f2(ratio(*rps))),
                 (f"{label}: p99 ms", *map(f2, p99), f2(ratio(*p99))),
                 (f"{label}: server CPU µs a request", *map(f0, cpu), f2(ratio(*cpu)))]
    hs = [median_of(res["full"], n, "per_s") for n in SERVERS]
    cpu = [median_of(res["full"], n, "cpu_us_per_conn") for n in SERVERS]
    rows += [(f"full handshakes/s ({CLIENTS} s_time clients)", *map(f0, hs), f2(ratio(*hs))),
             ("full handshake + request: server CPU µs", *map(f0, cpu), f2(ratio(*cpu)))]
    mem = [res["memory"][n] for n in SERVERS]
    rows += [("RSS before, KiB", *(f0(m["rss_kib_before"]) for m in mem), ""),
             (f"RSS with {IDLE_CONNS:,} idle TLS connections, KiB",
              *(f0(m["rss_kib_with"]) for m in mem), ""),
             ("RSS a second after they closed, KiB",
              *(f0(m["rss_kib_after_close"]) for m in mem), ""),
             ("KiB an idle TLS connection", *(f2(m["per_conn_kib"]) for m in mem),
              f2(ratio(*(m["per_conn_kib"] for m in mem))))]
    return rows


def busy_note(tls):
    a, b = tls["busy_at_start"], tls["busy_at_end"]
    return (f"Load average and CPU pressure (some, avg60, %) at the start: "
            f"{a['loadavg_1min']:.2f}, {a['cpu_pressure_some_avg60']}; at the end (with the "
            f"bench's own load): {b['loadavg_1min']:.2f}, {b['cpu_pressure_some_avg60']}.")


def markdown(res):
    tls = res.get("tls")
    if not tls:
        return ""
    out = ["## HTTPS: ptenant-ingress and nginx terminating TLS (issue 15)", ""]
    if "skipped" in tls or "failed" in tls:
        out += [f"Skipped: {tls['skipped']}" if "skipped" in tls else
                f"**Failed:** {tls['failed']}", ""]
        out += [f"    {x}" for x in tls.get("ingress_said", [])]
        return "\n".join(out + [""])
    pr = tls["probe"]
    out += ["Same certificate (wildcard *.bench.test, ECDSA P-256, leaf + intermediate), "
            "one worker each, same backend (nginx, a static file), in the bench's network "
            "namespace. Negotiated: " + "; ".join(
                f"{n} {pr[n]['version']} {pr[n]['cipher']}" for n in SERVERS) + ". "
            f"`wrk -t1 -c{CONNS} -d{SECONDS}s` to https://{HOST}/ (SNI), {ROUNDS} rounds "
            "alternated; resumed: the same with `Connection: close` (wrk reconnects and "
            f"resumes its TLS 1.3 session); full handshakes: {CLIENTS} `openssl s_time -new` "
            "(no SNI) at once, one GET a connection. Server CPU: the ingress's process, "
            "nginx's worker. The ingress writes an access line a request to its log file; "
            "nginx's access_log is off (as in the `ingress` section). Medians. "
            + busy_note(tls), "",
            "| what | ptenant-ingress | nginx | ingress/nginx |", "|---|---:|---:|---:|"]
    out += [f"| {w} | {a} | {b} | {r} |" for w, a, b, r in summary_rows(tls)]
    rps = [median_of(tls["keepalive"], n, "rps") for n in SERVERS]
    r = ratio(*rps)
    out += ["", f"Target: keep-alive requests/s at least 0.8x nginx's: "
            f"{'-' if r is None else f'{r:.3f}'}x, "
            f"{'met' if r is not None and r >= 0.8 else '**not met**'}.", "",
            "| test | server | round | requests/s | p50 ms | p99 ms | CPU µs/req | non-2xx "
            "| socket errors |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for test in ("keepalive", "resumed"):
        for x in tls[test]:
            out.append(f"| {test} | {x['name']} | {x['round']} | {x['rps']:.0f} | "
                       f"{f2(x['p50_ms'])} | {f2(x['p99_ms'])} | {f0(x['cpu_us_per_req'])} | "
                       f"{x['non2xx']} | {x['socket_errors']} |")
    out += ["", "| full handshakes | round | connections/s | CPU µs/conn | bytes read a "
            "connection |", "|---|---:|---:|---:|---|"]
    for x in tls["full"]:
        out.append(f"| {x['name']} | {x['round']} | {x['per_s']:.0f} | "
                   f"{f0(x['cpu_us_per_conn'])} | {x['bytes_per_conn']} |")
    mem = tls["memory"]
    out += ["", "Idle connections opened: " + "; ".join(
        f"{n} {mem[n]['connections']} in {mem[n]['open_s']:.1f} s, answers {mem[n]['statuses']}"
        for n in SERVERS) + ". Fixed, not per connection (RSS KiB): " + ", ".join(
        f"{k} {v}" for k, v in mem["fixed_kib"].items()) + ".", ""]
    said = [x for x in tls["ingress_said"] if "handshake" in x or "error" in x.lower()]
    if said:
        out += ["The ingress logged:", ""] + [f"    {x}" for x in said] + [""]
    return "\n".join(out)


# ---- the idle client (run as a script) ---------------------------------------------

class Conn:
    """One client connection, driven without blocking: TCP connect, TLS
    handshake (verified, with SNI), one GET, its whole answer; then idle."""

    def __init__(self, ctx, port, host):
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setblocking(False)
        self.sock = ctx.wrap_socket(raw, server_hostname=host, do_handshake_on_connect=False)
        self.sock.connect_ex(("127.0.0.1", port))  # EINPROGRESS; writable once connected
        self.req = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        self.state, self.buf, self.status = "connect", b"", None

    def step(self):
        """Goes as far as it can: the selector event to wait for, or 0 when
        the answer is complete."""
        try:
            if self.state == "connect":
                err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise ConnectionError(f"connect: {os.strerror(err)}")
                self.state = "handshake"
            if self.state == "handshake":
                self.sock.do_handshake()
                self.state = "send"
            if self.state == "send":
                self.sock.send(self.req)  # small: one record
                self.state = "recv"
            while not self.complete():
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError(f"closed after {self.buf[:80]!r}")
                self.buf += data
            return 0
        except ssl.SSLWantReadError:
            return selectors.EVENT_READ
        except ssl.SSLWantWriteError:
            return selectors.EVENT_WRITE

    def complete(self):
        head, sep, body = self.buf.partition(b"\r\n\r\n")
        if not sep:
            return False
        self.status = head.split(b" ", 2)[1].decode()
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        return len(body) >= int(m.group(1)) if m else body.endswith(b"0\r\n\r\n")


def open_idle(port, n, host, cafile):
    """n connections, WINDOW at a time in flight; all kept."""
    ctx = ssl.create_default_context(cafile=cafile)
    sel = selectors.DefaultSelector()
    done, started = [], 0
    while len(done) < n:
        while started < n and started - len(done) < WINDOW:
            c = Conn(ctx, port, host)
            sel.register(c.sock, selectors.EVENT_WRITE, c)
            started += 1
        events = sel.select(timeout=30)
        if not events:
            raise TimeoutError(f"nothing moved for 30 s with {len(done)} of {n} open")
        for key, _ in events:
            c = key.data
            want = c.step()
            if want:
                sel.modify(c.sock, want, c)
            else:
                sel.unregister(c.sock)
                done.append(c)
    return done


def idle_client(port, n, host, cafile):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < n + 64:
        sys.exit(f"open files limit {hard}: too low for {n} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    t0 = time.monotonic()
    conns = open_idle(port, n, host, cafile)
    statuses = {}
    for c in conns:
        statuses[c.status] = statuses.get(c.status, 0) + 1
    first = conns[0].sock
    print(json.dumps({"open": len(conns), "seconds": time.monotonic() - t0,
                      "version": first.version(), "cipher": first.cipher()[0],
                      "statuses": statuses}), flush=True)
    sys.stdin.read()  # idle until the bench closes our stdin
    for c in conns:
        c.sock.close()


if __name__ == "__main__":
    if len(sys.argv) != 6 or sys.argv[1] != "idle":
        sys.exit("usage: tlsbench.py idle PORT N HOST CAFILE")
    idle_client(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
