#!/usr/bin/env python3
"""Log floods against the daemon (issue 17), in one run:

  bench/logflood.py [--build DIR] [--out FILE.md]

Three phases on one private ptenantd (own state dir, socket, uid slot;
budgets on this host's cgroup; no network), each with a neighbour tenant
running the echo-bot:

  quiet      no other tenant: the neighbour's respawn (SIGKILL of its init
             to a new init running, seen through the API) and the API round
             trip (`ls`), as the baseline;
  limited    two tenants whose entrypoint is `yes` with an 80-byte line,
             under the default log budget (64K/s, burst 1M): the same two
             figures, and the daemon's CPU over 5 s;
  unlimited  the same two flooders with the log budget off
             (default_log_rate = 0): what splice-only draining costs.

Prints a table (and writes it to --out); the figures to compare are the
neighbour's and the API's under flood against quiet (target: within 2x)
and the daemon's CPU per flooding tenant (target: under 10% of a core).
"""
import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import ptapi

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LINE = "a line of a bot stuck in a print loop, long enough to be a realistic log line"
TICK = os.sysconf("SC_CLK_TCK")


class Daemon:
    def __init__(self, build, blueprint, log_rate):
        """log_rate None: the config names no log budget (a ptenantd from
        before it had one, for --before)."""
        self.build = build
        self.dir = tempfile.mkdtemp(prefix="ptenant-logflood.")
        self.sock = os.path.join(self.dir, "run", "ptenantd.sock")
        self.sub = f"ptenant-logflood-{os.getpid()}-{random.randrange(1 << 30)}"
        v1 = os.path.isdir("/sys/fs/cgroup/memory") and os.path.isdir("/sys/fs/cgroup/pids")
        self.cgdirs = ([f"/sys/fs/cgroup/{c}/{self.sub}" for c in ("memory", "cpu", "pids", "freezer")]
                       if v1 else [f"/sys/fs/cgroup/{self.sub}"])
        uid_base = ptapi.test_uid_base()
        os.makedirs(os.path.join(self.dir, "run"))
        conf = os.path.join(self.dir, "ptenantd.conf")
        with open(conf, "w") as f:
            f.write(f"cgroup_mode = {'v1' if v1 else 'v2'}\ncgroup_parent = /{self.sub}\n"
                    f'api_group = ""\nuid_base = {uid_base}\n'
                    + (f"default_log_rate = {log_rate}\n" if log_rate is not None else "") +
                    "restart_initial_ms = 0\ncrashloop_window_ms = 1\n")
        self.log = open(os.path.join(self.dir, "daemon.log"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(build, "src/ptenantd/ptenantd"), "-c", conf, "--state-dir",
             os.path.join(self.dir, "state"), "--runtime-dir", os.path.join(self.dir, "run"),
             "--init", os.path.join(build, "src/init/ptenant-init")],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                self.api({"op": "ping"})
                break
            except OSError:
                time.sleep(0.05)
        self.pt("blueprint", "import", "echo-bot@1", blueprint)

    def api(self, req):
        return ptapi.call(self.sock, req)

    def pt(self, *argv):
        subprocess.run([os.path.join(self.build, "src/ptenant/ptenant"), "--socket", self.sock, *argv],
                       check=True, stdout=subprocess.DEVNULL)

    def tenant(self, slug):
        return next(t for t in self.api({"op": "ls"})["tenants"] if t["slug"] == slug)

    def create(self, slug, entrypoint=None):
        spec = {"slug": slug, "blueprint": "echo-bot@1"}
        if entrypoint:
            spec["entrypoint"] = entrypoint
        path = os.path.join(self.dir, slug + ".json")
        with open(path, "w") as f:
            json.dump(spec, f)
        self.pt("create", "-f", path)

    def ticks(self):
        return ptapi.proc_cpu_ticks(self.proc.pid)

    def drained(self, flooders):
        """Bytes of output taken from the flooders' pipes so far: from
        stats (log.bytes + log.suppressed), or for a ptenantd without them
        the bytes it read(2) (/proc/PID/io rchar; the API's few bytes are
        noise)."""
        try:
            logs = [self.api({"op": "stats", "slug": f"flood{i}"})["tenants"][0]["log"]
                    for i in range(flooders)]
            return sum(l["bytes"] + l["suppressed"] for l in logs)
        except KeyError:
            with open(f"/proc/{self.proc.pid}/io") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("rchar:"))

    def close(self):
        for t in self.api({"op": "ls"})["tenants"]:
            subprocess.run([os.path.join(self.build, "src/ptenant/ptenant"), "--socket", self.sock,
                            "rm", t["slug"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        for d in self.cgdirs:
            for sub in os.listdir(d) if os.path.isdir(d) else []:
                if os.path.isdir(os.path.join(d, sub)):
                    os.rmdir(os.path.join(d, sub))
            if os.path.isdir(d):
                os.rmdir(d)
        shutil.rmtree(self.dir, ignore_errors=True)


def respawn_ms(d, slug, runs):
    out = []
    for _ in range(runs):
        old = d.tenant(slug)["pid"]
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        while True:
            t = d.tenant(slug)
            if t["state"] == "running" and t["pid"] not in (0, old):
                break
        out.append((time.monotonic() - t0) * 1e3)
        time.sleep(0.05)
    return out


def api_ms(d, calls):
    out = []
    for _ in range(calls):
        t0 = time.monotonic()
        d.api({"op": "ls"})
        out.append((time.monotonic() - t0) * 1e3)
    return out


def pct(v, p):
    return statistics.quantiles(v, n=100)[p - 1]


def phase(build, blueprint, name, flooders, log_rate, runs):
    d = Daemon(build, blueprint, log_rate)
    try:
        d.create("neighbour")
        for i in range(flooders):
            d.create(f"flood{i}", ["/bin/sh", "-c", f"yes '{LINE}'"])
        time.sleep(1.5)
        b0, c0 = d.drained(flooders), d.ticks()
        time.sleep(5)
        b1, c1 = d.drained(flooders), d.ticks()
        cpu_s = (c1 - c0) / TICK
        resp = respawn_ms(d, "neighbour", runs)
        lat = api_ms(d, 500)
    finally:
        d.close()
    return {"phase": name, "cpu": cpu_s / 5 * 100, "per_flooder": cpu_s / 5 * 100 / flooders if flooders else 0.0,
            "respawn_p50": statistics.median(resp), "respawn_max": max(resp),
            "api_p50": statistics.median(lat), "api_p99": pct(lat, 99),
            "mib_s": (b1 - b0) / 5 / 2**20,
            "mib_per_cpu_s": (b1 - b0) / 2**20 / cpu_s if cpu_s else float("inf")}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.environ.get("PTENANT_BUILD", os.path.join(TOP, "build")))
    p.add_argument("--runs", type=int, default=20, help="respawns measured per phase")
    p.add_argument("--out", help="also write the table here (markdown)")
    p.add_argument("--before", metavar="BUILD",
                   help="also the unlimited phase with the ptenantd of another build (one from "
                        "before the log budget: read(2)/write(2) draining), for the cost per byte")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/logflood.py: run as root")
    build = os.path.abspath(a.build)
    bp = tempfile.mkdtemp(prefix="ptenant-logflood-bp.")
    try:
        subprocess.run([os.path.join(TOP, "rootfs-tools/ptenant-mkblueprint"), bp], check=True,
                       stdout=subprocess.DEVNULL)
        rows = [phase(build, bp, "quiet", 0, "64K", a.runs),
                phase(build, bp, "limited (64K/s each)", 2, "64K", a.runs),
                phase(build, bp, "unlimited (budget off, splice)", 2, "0", a.runs)]
        if a.before:
            rows.append(phase(os.path.abspath(a.before), bp, "before (no budget, read/write)", 2,
                              None, a.runs))
    finally:
        shutil.rmtree(bp, ignore_errors=True)
    q = rows[0]
    lines = ["| phase | daemon CPU % of a core (per flooder) | output drained MiB/s (MiB per daemon CPU-s) | "
             "neighbour respawn p50 / max ms | API ls p50 / p99 ms |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['phase']} | {r['cpu']:.1f} ({r['per_flooder']:.1f}) | "
                     f"{r['mib_s']:.1f} ({r['mib_per_cpu_s']:.0f}) | "
                     f"{r['respawn_p50']:.2f} / {r['respawn_max']:.2f} "
                     f"({r['respawn_p50'] / q['respawn_p50']:.2f}x) | "
                     f"{r['api_p50']:.3f} / {r['api_p99']:.3f} ({r['api_p99'] / q['api_p99']:.2f}x) |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(f"Log floods, {time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores "
                    f"(bench/logflood.py)\n\n{text}\n")


if __name__ == "__main__":
    main()
