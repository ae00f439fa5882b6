"""Issue 14's figures, for ptbench.py: metering accuracy, the ledger's
cost, and a Prometheus scrape of many tenants.

metering: one tenant of the echo-bot, full config (networking, budgets),
through a run with state changes: running, frozen (ptenant pause),
running (resume), asleep (pause --sleep), running (resume), each stage
timed by this harness's own clock around the API calls. `ptenant usage
--json` against it: active, frozen and asleep time, and the error in %.
Then a CPU hog in the tenant; the ledger's CPU seconds against what the
tenant's cgroup says (read by the harness, cpuacct / cpu.stat).

ledger: bytes the ledger writes per tenant (its share of the checkpoint,
rewritten every 10 s, and its one line per closed day).

scrape: N running tenants (budgets on, networking off), metrics on a unix
socket: the time and ptenantd CPU of one scrape, median of several.
"""
import json
import os
import socket
import subprocess
import time

import ptapi

DEVNULL = subprocess.DEVNULL
HZ = os.sysconf("SC_CLK_TCK")


def _echo_bot(ctx):
    path = os.path.join(ctx.work, "echo-bot")
    if not os.path.exists(path):
        subprocess.run([os.path.join(ctx.top, "rootfs-tools/ptenant-mkblueprint"), path],
                       check=True, stdout=DEVNULL)
    return path


def _state(d, slug):
    return next((t["state"] for t in d.ls() if t["slug"] == slug), None)


def _wait_state(d, slug, want, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if _state(d, slug) == want:
            return
        time.sleep(0.02)
    raise RuntimeError(f"{slug} not {want} after {timeout} s")


def _usage(d, slug):
    out = json.loads(d.pt("--json", "usage", slug))
    return next(t for t in out["tenants"] if t["slug"] == slug)


def _leaf_cpu_usec(d, slug):
    """The tenant's cgroup CPU counter, read by the harness itself."""
    cg = d.cgroup.lstrip("/")
    for path, scale in ((f"/sys/fs/cgroup/cpuacct/{cg}/tenant-{slug}/cpuacct.usage", 1e-3),
                        (f"/sys/fs/cgroup/cpu,cpuacct/{cg}/tenant-{slug}/cpuacct.usage", 1e-3)):
        if os.path.exists(path):
            return int(open(path).read()) * scale
    path = f"/sys/fs/cgroup/{cg}/tenant-{slug}/cpu.stat"
    for line in open(path):
        if line.startswith("usage_usec"):
            return int(line.split()[1])
    raise RuntimeError("no CPU counter for the tenant's cgroup")


def bench_metering(ctx, stage_s=10):
    d = ctx.daemon([], use="metering: a tenant through state changes, and a CPU hog")
    d.pt("blueprint", "import", "echo-bot@1", _echo_bot(ctx))
    clock = {"active": 0.0, "frozen": 0.0, "asleep": 0.0}

    def stage(name, call, want):
        t0 = time.monotonic()
        d.pt(*call)
        _wait_state(d, "meter", want)
        time.sleep(stage_s)
        return name, t0

    t_start = time.monotonic()
    d.pt("create", "meter", "--blueprint", "echo-bot@1")
    _wait_state(d, "meter", "running")
    time.sleep(stage_s)
    marks = [("active", t_start)]
    marks.append(stage("frozen", ["pause", "meter"], "frozen"))
    marks.append(stage("active", ["resume", "meter"], "running"))
    marks.append(stage("asleep", ["pause", "meter", "--sleep"], "asleep"))
    marks.append(stage("active", ["resume", "meter"], "running"))
    t_end = time.monotonic()
    u = _usage(d, "meter")
    for (name, t0), (_, t1) in zip(marks, marks[1:] + [(None, t_end)]):
        clock[name] += t1 - t0
    rows = []
    for name in ("active", "frozen", "asleep"):
        ledger = u[f"{name}_ms"] / 1000
        rows.append({"state": name, "harness_s": round(clock[name], 3), "ledger_s": round(ledger, 3),
                     "error_pct": round(abs(ledger - clock[name]) / clock[name] * 100, 3)})
    # CPU: a hog inside the tenant, then the ledger against the cgroup.
    before_ledger = _usage(d, "meter")["cpu_us"]
    before_cg = _leaf_cpu_usec(d, "meter")
    d.pt("exec", "meter", "--", "sh", "-c", "i=0; while [ $i -lt 3000000 ]; do i=$((i+1)); done")
    cg = _leaf_cpu_usec(d, "meter") - before_cg
    ledger = _usage(d, "meter")["cpu_us"] - before_ledger
    cpu = {"cgroup_s": round(cg / 1e6, 3), "ledger_s": round(ledger / 1e6, 3),
           "error_pct": round(abs(ledger - cg) / cg * 100, 3) if cg else None}
    # The ledger's bytes per tenant.
    open_json = os.path.join(d.state, "usage", "open.json")
    size = os.path.getsize(open_json)
    d.pt("rm", "meter")
    return {"stage_s": stage_s, "states": rows, "cpu": cpu,
            "checkpoint_bytes_per_tenant": size,
            "checkpoint_bytes_per_tenant_per_day": size * 8640,
            "ledger_line_bytes": 250}


def _scrape_unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    t0 = time.monotonic()
    s.connect(path)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: ptenantd\r\n\r\n")
    buf = b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    s.close()
    return time.monotonic() - t0, len(buf)


def bench_scrape(ctx, n=1000, rounds=10):
    sock = os.path.join(ctx.work, "metrics.sock")
    d = ctx.daemon(["network = off", f"metrics_listen = unix:{sock}"],
                   use=f"scrape: {n} running tenants, budgets on")
    d.pt("blueprint", "import", "echo-bot@1", _echo_bot(ctx))
    slugs = [f"s{i:04d}" for i in range(n)]
    for k in range(0, n, 32):
        procs = [subprocess.Popen(d.argv("create", s, "--blueprint", "echo-bot@1"), stdin=DEVNULL,
                                  stdout=DEVNULL, stderr=DEVNULL) for s in slugs[k:k + 32]]
        for p in procs:
            p.wait()
    running = sum(1 for t in d.ls() if t["state"] == "running")
    times, cpu, size = [], [], 0
    for _ in range(rounds):
        k0 = ptapi.proc_cpu_ticks(d.proc.pid)
        t, size = _scrape_unix(sock)
        cpu.append((ptapi.proc_cpu_ticks(d.proc.pid) - k0) / HZ)
        times.append(t)
        time.sleep(0.2)
    times.sort()
    return {"tenants": n, "running": running, "rounds": rounds,
            "median_ms": round(times[len(times) // 2] * 1000, 1),
            "max_ms": round(times[-1] * 1000, 1),
            "daemon_cpu_ms_per_scrape": round(sum(cpu) / len(cpu) * 1000, 1),
            "bytes": size, "daemon_rss_kib": d.rss_kib().get("VmRSS")}


def markdown(res):
    out = []
    m = res.get("metering")
    if m:
        out += ["## Metering accuracy (issue 14)", "",
                f"One tenant, full config, {m['stage_s']} s stages: running, frozen, running, "
                "asleep, running; the harness's clock around each API call against `ptenant "
                "usage` (targets: within 1 %).", "",
                "| state | harness s | ledger s | error % |", "|---|---:|---:|---:|"]
        out += [f"| {r['state']} | {r['harness_s']} | {r['ledger_s']} | {r['error_pct']} |"
                for r in m["states"]]
        c = m["cpu"]
        out += ["", f"CPU of a hog in the tenant: the cgroup counted {c['cgroup_s']} s, the "
                f"ledger {c['ledger_s']} s: {c['error_pct']} % apart (target: 2 %).", "",
                f"The ledger's cost per tenant: {m['checkpoint_bytes_per_tenant']} bytes of the "
                "checkpoint (usage/open.json), rewritten every 10 s: "
                f"{m['checkpoint_bytes_per_tenant_per_day'] / 2**20:.1f} MiB written a day, "
                "no growth; one line of about "
                f"{m['ledger_line_bytes']} bytes a day in usage/YYYY-MM.jsonl (the growth).", ""]
    s = res.get("scrape")
    if s:
        out += ["## A Prometheus scrape (issue 14)", "",
                f"{s['tenants']} tenants ({s['running']} running), budgets on, metrics on a unix "
                f"socket; {s['rounds']} scrapes.", "",
                "| what | value |", "|---|---:|",
                f"| scrape, median (ms) | {s['median_ms']} |",
                f"| scrape, slowest (ms) | {s['max_ms']} |",
                f"| ptenantd CPU per scrape (ms) | {s['daemon_cpu_ms_per_scrape']} |",
                f"| exposition size (bytes) | {s['bytes']} |",
                f"| daemon RSS (KiB) | {s['daemon_rss_kib']} |", ""]
    return "\n".join(out)
