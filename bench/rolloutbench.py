"""Issue 13's figures, for ptbench.py: health-gated rollouts and the cost
of health checks.

rollout: 200 tenants of the echo-bot (busybox httpd) with an http health
check, full config (networking, budgets). `ptenant rollout echo-bot@2
--parallel 32 --canary 1`: the time from the request to the last tenant
healthy on the new version (the daemon's own start and end stamps, and
the CLI's wall clock around --wait). Then a bad version, echo-bot@3,
healthy everywhere but in the tenant sorted last (its bot exits): 199
tenants move, the last fails, the rollout halts and moves them all back;
the time from that failure to every tenant back on @2 and healthy.

health: N tenants with a check every second; ptenantd's CPU (its own and
its reaped children's: an exec check's helper and command) over a window,
divided by the checks done in it: the cost of one check, and what that
makes for 1,000 tenants at the default interval (10 s).
"""
import json
import os
import shutil
import subprocess
import time

import ptapi

DEVNULL = subprocess.DEVNULL
HZ = os.sysconf("SC_CLK_TCK")


def _echo_bot(ctx, name):
    path = os.path.join(ctx.work, name)
    if not os.path.exists(path):
        subprocess.run([os.path.join(ctx.top, "rootfs-tools/ptenant-mkblueprint"), path],
                       check=True, stdout=DEVNULL)
    return path


def _versions(ctx, d):
    """echo-bot@1 and @2 (the same bot), @3 (fails in tenants named zz*)."""
    one = _echo_bot(ctx, "echo-bot")
    d.pt("blueprint", "import", "echo-bot@1", one)
    d.pt("blueprint", "import", "echo-bot@2", one)
    three = os.path.join(ctx.work, "echo-bot-3")
    shutil.copytree(one, three, symlinks=True)
    start = os.path.join(three, "rootfs/bot/start")
    os.rename(start, start + ".orig")
    with open(start, "w") as f:
        f.write('#!/bin/sh\ncase "$(hostname)" in zz*) echo "v3 fails here" >&2; exit 3;; esac\n'
                'exec /bot/start.orig "$@"\n')
    os.chmod(start, 0o755)
    d.pt("blueprint", "import", "echo-bot@3", three)


def _create_many(d, slugs, extra):
    for k in range(0, len(slugs), 32):
        procs = [subprocess.Popen(d.argv("create", s, "--blueprint", "echo-bot@1", *extra),
                                  stdin=DEVNULL, stdout=DEVNULL, stderr=subprocess.PIPE)
                 for s in slugs[k:k + 32]]
        for p in procs:
            if p.wait() != 0:
                raise RuntimeError(f"create: {p.stderr.read().decode().strip()}")


def _wait_healthy(d, n, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if sum(1 for t in d.ls() if t.get("health") == "healthy") >= n:
            return
        time.sleep(0.2)
    raise RuntimeError(f"fewer than {n} tenants healthy after {timeout} s")


def _rollout(d, *args):
    t0 = time.monotonic()
    r = subprocess.run(d.argv("--json", "rollout", *args, "--wait"), stdin=DEVNULL,
                       capture_output=True, text=True)
    wall = time.monotonic() - t0
    ro = json.loads(r.stdout)
    return ro, wall


def bench_rollout(ctx, n=200, parallel=32):
    d = ctx.daemon([], use=f"rollout: {n} tenants with http health checks")
    _versions(ctx, d)
    slugs = [f"b{i:03d}" for i in range(n - 1)] + ["zz-last"]
    _create_many(d, slugs, ["--health-http", "/healthz", "--health-interval", "1s"])
    _wait_healthy(d, n)
    good, good_wall = _rollout(d, "echo-bot@2", "--parallel", str(parallel), "--canary", "1")
    res = {"tenants": n, "parallel": parallel,
           "good": {"phase": good["phase"], "moved": good["counts"]["done"],
                    "failed": good["counts"]["failed"],
                    "seconds": round((good["ended_at"] - good["started_at"]) / 1000, 2),
                    "cli_wall_seconds": round(good_wall, 2)}}
    _wait_healthy(d, n)
    bad, bad_wall = _rollout(d, "echo-bot@3", "--parallel", str(parallel), "--canary", "1",
                             "--max-failures", "1", "--health-timeout", "30s")
    failed = [t["slug"] for t in bad["tenants"] if t["failed"]]
    events = [e for s in failed for e in json.loads(d.pt("--json", "events", s))]
    failed_at = min((e["ts"] for e in events if e.get("event") == "rollout-tenant-failed"
                     and e["ts"] >= bad["started_at"]), default=None)
    on_two = sum(1 for t in d.ls() if t["blueprint"] == "echo-bot@2")
    res["bad"] = {"phase": bad["phase"], "failed": bad["counts"]["failed"],
                  "reverted": bad["counts"]["reverted"],
                  "moved_before_failure": bad["counts"]["reverted"] - bad["counts"]["failed"],
                  "first_failure_to_all_back_seconds":
                  round((bad["ended_at"] - failed_at) / 1000, 2) if failed_at else None,
                  "whole_seconds": round((bad["ended_at"] - bad["started_at"]) / 1000, 2),
                  "on_old_version_after": on_two, "cli_wall_seconds": round(bad_wall, 2)}
    return res


def _checks(d, slugs):
    """Checks done so far by these tenants."""
    total = 0
    for s in slugs:
        h = json.loads(d.pt("--json", "inspect", s)).get("health", {})
        total += h.get("passed", 0) + h.get("failed", 0)
    return total


def _health_rows(ctx, d, kind, n, args, window=20):
    slugs = [f"{kind[0]}{i:04d}" for i in range(n)]
    _create_many(d, slugs, [*args, "--health-interval", "1s"])
    _wait_healthy(d, n, timeout=300)
    time.sleep(2)
    # The checks of a sample of tenants, scaled: inspecting all of them
    # would itself cost the daemon CPU inside the window.
    sample = slugs[::max(1, n // 10)]
    c0 = _checks(d, sample)
    k0, t0 = ptapi.proc_cpu_ticks(d.proc.pid, children=True), time.monotonic()
    time.sleep(window)
    k1, t1 = ptapi.proc_cpu_ticks(d.proc.pid, children=True), time.monotonic()
    c1 = _checks(d, sample)
    checks = round((c1 - c0) * n / len(sample) * (t1 - t0) / (time.monotonic() - t0 + 1e-9))
    cpu_s = (k1 - k0) / HZ
    per_check_us = cpu_s / checks * 1e6 if checks else None
    row = {"kind": kind, "tenants": n, "interval": "1s", "window_s": round(t1 - t0, 1),
           "checks": checks, "daemon_cpu_s": round(cpu_s, 2),
           "cpu_share_of_a_core": round(cpu_s / (t1 - t0), 3),
           "us_per_check": round(per_check_us, 1) if per_check_us else None,
           "daemon_rss_kib": d.rss_kib().get("VmRSS"),
           "at_1000_tenants_10s_share_of_a_core":
           round(per_check_us * 100 / 1e6, 4) if per_check_us else None}
    for k in range(0, n, 64):
        procs = [subprocess.Popen(d.argv("rm", s), stdin=DEVNULL, stdout=DEVNULL)
                 for s in slugs[k:k + 64]]
        for p in procs:
            p.wait()
    return row


def bench_health(ctx, n_http=1000, n_exec=100):
    d = ctx.daemon(["network = off", "cgroup_mode = off"],
                   use=f"health: {n_http} tenants with http checks, {n_exec} with exec checks")
    d.pt("blueprint", "import", "echo-bot@1", _echo_bot(ctx, "echo-bot"))
    return [_health_rows(ctx, d, "http", n_http, ["--health-http", "/healthz"]),
            _health_rows(ctx, d, "exec", n_exec, ["--health-exec", "true"])]


SYSTEMD_VM_ROOTFS = "/var/tmp/ptenant-systemd-vm"


def _debian_root(ctx):
    """A Debian 12 root: the systemd tier's cached one when it is there,
    else debootstrap's minbase from the configured mirror."""
    if os.path.isdir(SYSTEMD_VM_ROOTFS):
        for name in sorted(os.listdir(SYSTEMD_VM_ROOTFS)):
            path = os.path.join(SYSTEMD_VM_ROOTFS, name)
            if name.startswith("rootfs-") and os.path.isdir(os.path.join(path, "usr/bin")):
                return path, "the systemd tier's Debian 12 root (minbase + its packages)"
    path = os.path.join(ctx.work, "debian")
    subprocess.run(["debootstrap", "--variant=minbase", "bookworm", path,
                    "http://deb.debian.org/debian"], check=True, stdout=DEVNULL)
    return path, "Debian 12 minbase (debootstrap)"


def _umoci(*args, cwd):
    subprocess.run(["umoci", *args], check=True, cwd=cwd, stdout=DEVNULL)


def bench_image(ctx):
    """A real multi-layer image, made with umoci: a Debian 12 root, then
    the echo-bot's files, then a layer that removes the docs (whiteouts)
    and sets the config. Import time and disk use."""
    root, what = _debian_root(ctx)
    work = os.path.join(ctx.work, "image")
    os.makedirs(work)
    _umoci("init", "--layout", "img", cwd=work)
    _umoci("new", "--image", "img:v1", cwd=work)
    _umoci("unpack", "--image", "img:v1", "bundle", cwd=work)
    rootfs = os.path.join(work, "bundle/rootfs")
    subprocess.run(["cp", "-a", f"{root}/.", rootfs + "/"], check=True)
    # As image builders leave them: no device nodes (debootstrap makes
    # some in /dev; ptenant-import refuses them, as it should).
    for sub in ("dev", "proc", "sys", "run"):
        shutil.rmtree(os.path.join(rootfs, sub), ignore_errors=True)
        os.makedirs(os.path.join(rootfs, sub))
    _umoci("repack", "--refresh-bundle", "--image", "img:v1", "bundle", cwd=work)
    shutil.copytree(os.path.join(_echo_bot(ctx, "echo-bot"), "rootfs/bot"),
                    os.path.join(rootfs, "bot"), symlinks=True)
    _umoci("repack", "--refresh-bundle", "--image", "img:v1", "bundle", cwd=work)
    shutil.rmtree(os.path.join(rootfs, "usr/share/doc"), ignore_errors=True)
    _umoci("repack", "--refresh-bundle", "--image", "img:v1", "bundle", cwd=work)
    _umoci("config", "--image", "img:v1", "--config.entrypoint", "/bot/start",
           "--config.env", "PORT=8080", "--config.exposedports", "8080/tcp", cwd=work)
    layout = os.path.join(work, "img")
    blobs = subprocess.run(["du", "-sb", layout], capture_output=True, text=True,
                           check=True).stdout.split()[0]
    d = ctx.daemon(["network = off", "cgroup_mode = off"], use="image: import of a real "
                   "multi-layer OCI image")
    times = []
    for i in range(3):
        t0 = time.monotonic()
        out = d.pt("blueprint", "import", f"deb@{i + 1}", f"oci:{layout}:v1")
        times.append(time.monotonic() - t0)
    bps = {f"{b['name']}@{b['version']}": b for b in json.loads(d.pt("--json", "blueprint", "ls"))}
    t0 = time.monotonic()
    _umoci("unpack", "--image", "img:v1", "unpacked", cwd=work)
    umoci_s = time.monotonic() - t0
    return {"what": what, "layers": 3, "image_bytes": int(blobs),
            "import_seconds": [round(t, 2) for t in times],
            "import_said": out.strip(),
            "size_bytes": bps["deb@1"].get("size_bytes"),
            "umoci_unpack_seconds": round(umoci_s, 2)}


def markdown(res):
    out = []
    ro = res.get("rollout")
    if ro:
        g, b = ro["good"], ro["bad"]
        out += ["## Rollouts (issue 13)", "",
                f"{ro['tenants']} tenants of the echo-bot (busybox httpd) with an http health "
                "check every second, full config (networking, budgets). `ptenant rollout "
                f"--parallel {ro['parallel']} --canary 1`; a move is a restart on the new "
                "version, done when its first health check passes. Times from the daemon's "
                "own stamps (the CLI's --wait wall time beside).", "",
                "| what | result | seconds | CLI wall s |", "|---|---|---:|---:|",
                f"| healthy version, every tenant (target <= 10 s) | {g['phase']}: {g['moved']} "
                f"moved, {g['failed']} failed | {g['seconds']} | {g['cli_wall_seconds']} |",
                f"| bad version, failing in the tenant moved last: whole rollout | "
                f"{b['phase']}: {b['moved_before_failure']} moved first, {b['failed']} failed, "
                f"{b['reverted']} back | {b['whole_seconds']} | {b['cli_wall_seconds']} |",
                f"| ... from the first failure to every tenant back and healthy | "
                f"{b['on_old_version_after']} of {ro['tenants']} on the old version after | "
                f"{b['first_failure_to_all_back_seconds']} | |", ""]
    im = res.get("image")
    if im:
        t = sorted(im["import_seconds"])
        out += ["## Import of a real multi-layer image (issue 13)", "",
                f"An OCI layout made with umoci: {im['what']}, then the echo-bot's files, then "
                "a layer that deletes /usr/share/doc (whiteouts) and sets the config; "
                f"{im['image_bytes'] / 2**20:.1f} MiB of blobs (gzip). `ptenant blueprint "
                "import NAME@V oci:DIR:v1` (ptenant-import verifies every blob's digest, "
                "applies the layers, then the daemon copies the result in), 3 runs; "
                "`umoci unpack` of the same image beside, for scale.", "",
                "| what | value |", "|---|---:|",
                f"| import, median of 3 (s) | {t[1]} |",
                f"| umoci unpack (s) | {im['umoci_unpack_seconds']} |",
                f"| disk use of the version (`blueprint ls`, MiB) | "
                f"{im['size_bytes'] / 2**20:.1f} |",
                f"| image, compressed (MiB) | {im['image_bytes'] / 2**20:.1f} |", "",
                f"It said: `{im['import_said']}`", ""]
    hl = res.get("health")
    if hl:
        out += ["## Health checks: what they cost ptenantd (issue 13)", "",
                "Tenants with a check every second (no networking, no budgets: the check "
                "is the same either way); ptenantd's CPU (its own and its reaped children's: "
                "an exec check's helper and command) over the window, divided by the checks "
                "done in it.", "",
                "| kind | tenants | checks in window | daemon CPU s | share of a core | "
                "µs per check | at 1,000 tenants, every 10 s | daemon RSS KiB |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        out += [f"| {r['kind']} | {r['tenants']} | {r['checks']} | {r['daemon_cpu_s']} | "
                f"{r['cpu_share_of_a_core']} | {r['us_per_check']} | "
                f"{r['at_1000_tenants_10s_share_of_a_core']} of a core | {r['daemon_rss_kib']} |"
                for r in hl]
        out += [""]
    return "\n".join(out)
