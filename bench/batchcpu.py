#!/usr/bin/env python3
"""Where the CPU of 100 starts at once goes (doc/performance.md, "Targets:
what holds them back"): the machine's busy time from the first launch to
the last entrypoint's line, split into the daemon's (its /proc stat), the
`ptenant start` clients' (rusage of the harness's children) and the rest
(the tenants' setup, kernel threads, the harness). As root:

    bench/batchcpu.py [--build DIR] [--runs N] [--n N]
"""
import argparse
import os
import resource
import subprocess
import sys
from subprocess import DEVNULL

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptapi  # noqa: E402
import ptbench as pb  # noqa: E402

TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_ms(pid):
    try:
        return ptapi.proc_cpu_ticks(pid) * 1000 / TCK
    except OSError:
        return 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(pb.TOP, "build"))
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    args.warmup, args.keep = 0, False
    args.build = os.path.abspath(args.build)
    ctx = pb.Ctx(args)
    ctx.prepare()
    try:
        d = ctx.imported_daemon(pb.VARIANTS[0][1])
        slugs = [f"c{i:03d}" for i in range(args.n)]
        for p in [subprocess.Popen(d.argv("create", s, "--blueprint", "bench@1", "--no-start"),
                                   stdin=DEVNULL, stdout=DEVNULL) for s in slugs]:
            p.wait()
        print("| run | batch ms | machine CPU ms | daemon | clients | rest |")
        print("|---:|---:|---:|---:|---:|---:|")
        for run in range(args.runs):
            fifos = [d.fifo(s) for s in slugs]
            for f in fifos:
                f.arm()
            pb.settle_machine()
            c0, d0 = pb.cpu_busy_ms(), proc_cpu_ms(d.proc.pid)
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = pb.now_ns()
            procs = [subprocess.Popen(d.argv("start", s), stdin=DEVNULL, stdout=DEVNULL)
                     for s in slugs]
            ready = pb.wait_fifos(fifos, 120, close=False)
            c1, d1 = pb.cpu_busy_ms(), proc_cpu_ms(d.proc.pid)
            for f in fifos:
                f.close()
            for p in procs:
                p.wait()
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            clients = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1000
            total, daemon = c1 - c0, d1 - d0
            print(f"| {run} | {(max(ready) - t0) / 1e6:.0f} | {total:.0f} | {daemon:.0f} | "
                  f"{clients:.0f} | {total - daemon - clients:.0f} |", flush=True)
            for p in [subprocess.Popen(d.argv("stop", s), stdin=DEVNULL, stdout=DEVNULL)
                      for s in slugs]:
                p.wait()
        for p in [subprocess.Popen(d.argv("rm", s), stdin=DEVNULL, stdout=DEVNULL)
                  for s in slugs]:
            p.wait()
    finally:
        ctx.cleanup()
        if ctx.left:
            sys.exit(1)


if __name__ == "__main__":
    main()
