#!/usr/bin/env python3
"""The soak (issue 10): crash and OOM cycles over many tenants while API
clients hammer the daemon, then the books are checked.

  bench/soak.py --build DIR                  1,000 cycles over 50 tenants, 32 clients
  bench/soak.py --build DIR --short          the CI version (tools/test, fault tier)

Each cycle picks the next tenant of the cycled set and either SIGKILLs its
init from the host (a crash: exit reason "signal", code 9) or runs a
memory hog in it through `ptenant exec` until its 32 MiB budget is hit (an
OOM kill: reason "oom-killed"), then waits for the respawn (a new pid).
A fifth of the tenants are never cycled: they are the neighbours, and
their pids must not change. Meanwhile CLIENTS threads call ls, inspect
and stats on the API socket in a loop, each call timed.

At the end, for every tenant: its journal has exactly one exit with the
right reason and one respawn per cycle it was put through, its restart
count is the number of its cycles, and it is running. The daemon's fd
count and RSS are printed after the tenants started and at the end (they
must be flat: at most 2 fds and 2 MiB more), with the API latency
percentiles. Prints TAP; exit 0 only when every check held.

Runs as root: a private ptenantd (own state dir, socket and uid slot),
budgets on this host's cgroup (v1 or v2) under a throwaway parent, no
network. Everything it made is removed at the end.
"""
import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import ptapi

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MEMORY = "32M"


class Soak:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.dir = tempfile.mkdtemp(prefix="ptenant-soak.")
        self.sock = os.path.join(self.dir, "run", "ptenantd.sock")
        self.sub = f"ptenant-soak-{os.getpid()}"
        self.daemon = None
        self.n = 0
        self.failed = 0
        self.uid_base = ptapi.test_uid_base()

    # ---- TAP ---------------------------------------------------------
    def check(self, what, cond, detail=""):
        self.n += 1
        if cond:
            print(f"ok {self.n} - {what}", flush=True)
        else:
            self.failed += 1
            print(f"not ok {self.n} - {what}", flush=True)
            for line in str(detail).splitlines()[:20]:
                print(f"#   {line}", flush=True)

    def note(self, text):
        print(f"# soak: {text}", flush=True)

    # ---- the daemon and its API -----------------------------------------
    def api(self, req, timeout=30):
        return ptapi.call(self.sock, req, timeout)

    def pt(self, *argv, check=True):
        return subprocess.run([os.path.join(self.build, "src/ptenant/ptenant"), "--socket", self.sock,
                               *argv], capture_output=True, text=True, check=check, timeout=120)

    def cgroup_mode(self):
        if os.path.isdir("/sys/fs/cgroup/memory") and os.path.isdir("/sys/fs/cgroup/pids"):
            return "v1", [f"/sys/fs/cgroup/{c}/{self.sub}" for c in ("memory", "cpu", "pids", "freezer")]
        return "v2", [f"/sys/fs/cgroup/{self.sub}"]

    def start_daemon(self):
        mode, self.cgdirs = self.cgroup_mode()
        os.makedirs(os.path.join(self.dir, "run"))
        conf = os.path.join(self.dir, "ptenantd.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                f"cgroup_mode = {mode}", f"cgroup_parent = /{self.sub}", 'api_group = ""',
                f"uid_base = {self.uid_base}",
                # Every crash comes after a healthy run: respawn at once, never
                # a crash-loop delay (a run of 1 ms clears the history).
                "restart_initial_ms = 0", "crashloop_window_ms = 1", "crashloop_burst = 32",
                "stop_grace_ms = 1000", ""]))
        self.log = open(os.path.join(self.dir, "daemon.log"), "w")
        self.daemon = subprocess.Popen(
            [os.path.join(self.build, "src/ptenantd/ptenantd"), "-c", conf,
             "--state-dir", os.path.join(self.dir, "state"), "--runtime-dir", os.path.join(self.dir, "run"),
             "--init", os.path.join(self.build, "src/init/ptenant-init")],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(self.sock):
                try:
                    self.api({"op": "ping"})
                    return mode
                except OSError:
                    pass
            if self.daemon.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit(f"Bail out! ptenantd did not start: {open(self.log.name).read()[-2000:]}")

    def daemon_figures(self):
        pid = self.daemon.pid
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        return fds, rss

    def settled_figures(self, fds0, limit=3.0):
        """The daemon's figures once what the last calls left in flight
        (a client's closed connection not yet read, a respawn under way)
        is done: a leak stays, a transient goes."""
        end = time.monotonic() + limit
        while True:
            fds, rss = self.daemon_figures()
            if fds <= fds0 + 2 or time.monotonic() > end:
                return fds, rss
            time.sleep(0.05)

    def fd_targets(self):
        d = f"/proc/{self.daemon.pid}/fd"
        out = []
        for n in sorted(os.listdir(d), key=int, reverse=True):  # the newest first
            try:
                out.append(f"fd {n} -> {os.readlink(os.path.join(d, n))}")
            except OSError:
                pass
        return out

    def tenants(self):
        return {t["slug"]: t for t in self.api({"op": "ls"})["tenants"]}

    # ---- the cycles ------------------------------------------------------
    def wait_new_pid(self, slug, old, limit=30.0):
        end = time.monotonic() + limit
        while time.monotonic() < end:
            t = self.tenants().get(slug, {})
            if t.get("state") == "running" and t.get("pid") not in (0, old):
                return True
            time.sleep(0.01)
        return False

    def crash(self, slug, pid):
        os.kill(pid, signal.SIGKILL)

    def oom(self, slug, pid):
        # The hog is killed with the whole tenant; exec's own exit status
        # is of no interest.
        self.pt("exec", slug, "--", "/bot/hog", "mem", check=False)

    def clients(self, stop, lat, errors, slugs):
        ops = [lambda s: {"op": "ls"}, lambda s: {"op": "inspect", "slug": s},
               lambda s: {"op": "stats", "slug": s}]
        rnd = random.Random()
        while not stop.is_set():
            slug = rnd.choice(slugs)
            req = rnd.choice(ops)(slug)
            t0 = time.monotonic()
            try:
                r = self.api(req, timeout=10)
                if not r.get("ok"):
                    errors.append(f"{req['op']} {slug}: {r}")
            except (OSError, ValueError) as e:
                errors.append(f"{req['op']} {slug}: {e}")
            lat.append(time.monotonic() - t0)

    def run(self):
        a = self.args
        bp = os.path.join(self.dir, "blueprint")
        subprocess.run([os.path.join(TOP, "tests/budget/make-blueprint"), bp], check=True)
        mode = self.start_daemon()
        self.pt("blueprint", "import", "budget@1", bp)
        slugs = [f"s{i:03d}" for i in range(a.tenants)]
        t0 = time.monotonic()
        for s in slugs:
            self.pt("create", s, "--blueprint", "budget@1", "--memory", MEMORY, "--pids", "64")
        self.note(f"{a.tenants} tenants started in {time.monotonic() - t0:.1f} s (cgroup {mode}, "
                  f"uid base {self.uid_base})")
        time.sleep(0.5)
        fds0, rss0 = self.daemon_figures()
        neighbours = slugs[: max(1, a.tenants // 5)]
        cycled = slugs[len(neighbours):]
        before = self.tenants()
        plan = {s: {"signal": 0, "oom-killed": 0} for s in slugs}

        stop, lat, errors = threading.Event(), [], []
        threads = [threading.Thread(target=self.clients, args=(stop, lat, errors, slugs), daemon=True)
                   for _ in range(a.clients)]
        for th in threads:
            th.start()
        t0 = time.monotonic()
        lost = []
        for i in range(a.cycles):
            slug = cycled[i % len(cycled)]
            kind = "oom-killed" if i % 2 else "signal"
            pid = self.tenants()[slug]["pid"]
            (self.oom if kind == "oom-killed" else self.crash)(slug, pid)
            plan[slug][kind] += 1
            if not self.wait_new_pid(slug, pid):
                lost.append(f"cycle {i}: {slug} ({kind}) not respawned: {self.tenants().get(slug)}")
                if len(lost) > 5:
                    break
        took = time.monotonic() - t0
        stop.set()
        for th in threads:
            th.join()
        fds1, rss1 = self.settled_figures(fds0)
        self.note(f"{a.cycles} cycles ({a.cycles // 2} crashes, {a.cycles - a.cycles // 2} OOM kills) "
                  f"over {len(cycled)} tenants in {took:.1f} s, {len(neighbours)} neighbours untouched")
        self.check("every cycle ended in a respawn", not lost, "\n".join(lost))

        after = self.tenants()
        moved = [s for s in neighbours if after[s]["pid"] != before[s]["pid"]]
        self.check(f"no neighbour's pid changed ({len(neighbours)} neighbours)", not moved, moved)
        wrong = []
        for s in slugs:
            ev = self.api({"op": "events", "slug": s})["events"]
            exits = [e for e in ev if e["event"] == "exit"]
            got = {k: sum(1 for e in exits if e.get("reason") == k) for k in ("signal", "oom-killed")}
            resp = sum(1 for e in ev if e["event"] == "respawn")
            want = plan[s]
            n = want["signal"] + want["oom-killed"]
            if got != want or len(exits) != n or resp != n or after[s]["restarts"] != n \
                    or after[s]["state"] != "running":
                wrong.append(f"{s}: want {want}, journal {got} ({len(exits)} exits, {resp} respawns), "
                             f"restarts {after[s]['restarts']}, {after[s]['state']}")
        self.check("every cycle recorded with its reason (signal or oom-killed), one respawn each, "
                   "restart counts match", not wrong, "\n".join(wrong))
        self.note(f"daemon fds {fds0} -> {fds1}, RSS {rss0} -> {rss1} KiB")
        self.check(f"daemon fd count flat ({fds0} -> {fds1})", fds1 <= fds0 + 2,
                   "\n".join(self.fd_targets()))
        self.check(f"daemon RSS flat ({rss0} -> {rss1} KiB)", rss1 <= rss0 + 2048)
        if lat:
            q = statistics.quantiles(lat, n=100)
            self.note(f"API: {len(lat)} calls from {a.clients} clients, p50 {q[49] * 1e3:.2f} ms, "
                      f"p99 {q[98] * 1e3:.2f} ms, max {max(lat) * 1e3:.2f} ms")
        self.check(f"{len(lat)} API calls from {a.clients} clients, none failed", lat and not errors,
                   "\n".join(errors[:10]))

    def cleanup(self):
        left = []
        if self.daemon and self.daemon.poll() is None:
            try:
                for s in self.tenants():
                    self.pt("rm", s, check=False)
            except OSError as e:
                left.append(f"API at cleanup: {e}")
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        for d in getattr(self, "cgdirs", []):
            if os.path.isdir(d):
                for sub in os.listdir(d):
                    p = os.path.join(d, sub)
                    if os.path.isdir(p):
                        try:
                            os.rmdir(p)
                        except OSError:
                            left.append(f"cgroup {p}")
                try:
                    os.rmdir(d)
                except OSError:
                    left.append(f"cgroup {d}")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.check("nothing left behind (tenants, cgroups)", not left, "\n".join(left))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.environ.get("PTENANT_BUILD", os.path.join(TOP, "build")))
    p.add_argument("--tenants", type=int, default=50)
    p.add_argument("--cycles", type=int, default=1000)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--short", action="store_true", help="6 tenants, 40 cycles, 4 clients (CI)")
    a = p.parse_args()
    if a.short:
        a.tenants, a.cycles, a.clients = 6, 40, 4
    if os.geteuid() != 0:
        sys.exit("bench/soak.py: run as root")
    soak = Soak(a)
    try:
        soak.run()
    finally:
        soak.cleanup()
        print(f"1..{soak.n}")
    sys.exit(1 if soak.failed else 0)


if __name__ == "__main__":
    main()
