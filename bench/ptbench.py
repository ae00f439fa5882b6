#!/usr/bin/env python3
"""ptenant benchmarks, side by side with runc and bubblewrap, in one run.

Run it through bench/run (root, Debian 12). Every timing is the median,
min and max of --runs runs after --warmup runs that are thrown away. The
three runtimes share one busybox rootfs (the imported blueprint's) and one
entrypoint, bench/bot/start, which creates /data/ready (seen with inotify) and
then idles; "entrypoint running" is the moment the harness sees it created,
for every runtime alike. Cold-start runs of the runtimes are interleaved, so
background load hits them all the same, and each starts after SETTLE_S of
quiet, so none inherits a warm kernel lock from the row before it.

ptenant runs with its full config (FULL_CONF: networking and budgets, and
the always-on seccomp filter, capabilities and masks); VARIANTS adds a
cold-start row for each part left out. runc gets ptenant's seccomp
allow-list and masked paths (runc_config). Every daemon runs in a network
namespace of its own; everything the run makes is removed at the end and
checked for (the "Cleanup" section of the report).

Writes OUT/latest.json (every sample) and OUT/latest.md (the tables).
"""
import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import resource
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import idlebench
import meterbench
import rolloutbench
import tlsbench

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVNULL = subprocess.DEVNULL

# runc's container root; outside ptenant's uid_base range (1e9 .. 1e9+4096*65536).
RUNC_HOST_UID = 2000000000
# The capability set ptenant keeps (src/lib/confine.c), given to runc too.
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_SETFCAP",
        "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"]
ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=bench", "HOME=/root", "PORT=8080"]

# The subnet of tenant addresses. Every bench daemon runs in a network
# namespace of its own (ptbench-PID-dN, made with `ip netns add` and
# removed at the end), so the veths, routes, gateway address and nftables
# tables of each stay in it, and no packet reaches the host's network.
SUBNET = "10.213.0.0/16"

# The config of "ptenant, full": tenant networking (a routed /32 veth per
# tenant, nftables) and budgets (a cgroup per tenant under a subtree of the
# daemon's own, /ptbench-PID-dN in each hierarchy; cgroup_mode = auto picks
# v2 or v1 there), with the default seccomp filter, capabilities, masks and
# rlimits, which are always on. {cgroup} is each daemon's subtree.
FULL_CONF = ["network = on", f"subnet = {SUBNET}", "cgroup_mode = auto",
             "cgroup_parent = {cgroup}"]

# Daemon variants for the cold-start table: a name and the ptenantd.conf
# lines that change FULL_CONF (a key given here replaces the full config's
# line of that key; "network = off" also drops the subnet, "cgroup_mode = off"
# the cgroup_parent). Each variant gets a daemon of its own. The first is
# the full config, which every other section uses too.
VARIANTS = [
    ("ptenant, full (networking, budgets)", []),
    ("ptenant, no networking", ["network = off"]),
    ("ptenant, no budgets", ["cgroup_mode = off"]),
    ("ptenant, neither (the default config)", ["network = off", "cgroup_mode = off"]),
]

# Only for the benchmark: a kill counts as the first crash after a healthy
# run (which the default policy restarts at once), however quickly the
# runs follow each other. See doc/performance.md.
BENCH_CONF = ["api_group =", "crashloop_window_ms = 50", "stop_grace_ms = 5000"]

# Every timed start, respawn and exec begins after this much quiet. On
# cgroup v1 the first cgroup.procs write after a quiet spell waits for an
# RCU grace period (the kernel's cgroup_threadgroup_rwsem, about 10 ms
# here), one within ~25 ms of the previous is nearly free: without the
# pause a row's cost would depend on the row run just before it. A tenant
# started or respawned on an idle host pays it; 100 at once mostly do not.
# Also past crashloop_window_ms, so each kill is "a first crash".
SETTLE_S = 0.1

# Everything the run creates outside its work directory is named with this
# prefix: network namespaces, cgroup subtrees (ptenant's and runc's).
PREFIX = f"ptbench-{os.getpid()}"


def conf_key(line):
    return line.split("=", 1)[0].strip()


def daemon_conf(variant, cgroup):
    """BENCH_CONF + FULL_CONF with the variant's lines put in."""
    lines = [x.replace("{cgroup}", cgroup) for x in BENCH_CONF + FULL_CONF]
    for v in variant:
        keys = [conf_key(x) for x in lines]
        if conf_key(v) in keys:
            lines[keys.index(conf_key(v))] = v
        else:
            lines.append(v)
    conf = {conf_key(x): x.split("=", 1)[1].strip() for x in lines}
    drop = set()
    if conf.get("network") == "off":
        drop.add("subnet")
    if conf.get("cgroup_mode") == "off":
        drop.add("cgroup_parent")
    return [x for x in lines if conf_key(x) not in drop]


def log(msg):
    print(f"ptbench: {msg}", file=sys.stderr, flush=True)


def now_ns():
    return time.monotonic_ns()


def stats(samples):
    return {"n": len(samples), "median": statistics.median(samples),
            "min": min(samples), "max": max(samples)}


def p99(samples):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


class ApiProbe:
    """`ls` round trips on the control API, one after another, from a
    process of its own (bench/ptapi.py probe), while a batch starts: what
    an operator's CLI sees meanwhile. A process, not a thread of the
    harness: a thread shares the GIL with the harness's own 100 Popens and
    its readiness polling, and measured those more than the daemon (p99
    14 ms as a thread against a separate process's, same run)."""

    def __init__(self, sock):
        self.sock, self.lat, self.errors = sock, [], 0
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(TOP, "bench/ptapi.py"),
                                      "probe", self.sock],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.proc.stdout.readline()  # "ready": its first call is done
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        out = json.loads(self.proc.stdout.read())
        self.proc.wait()
        self.lat, self.errors = out["lat_ms"], out["errors"]


# ---- the readiness file ------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
IN_CREATE, IN_MOVED_TO = 0x100, 0x80
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len


class ReadyFile:
    """The file the entrypoint creates, /data/ready, watched with inotify
    on the host side of its data directory. Not a fifo any more: a
    tenant's /data is an overlay (its mount list shows no host path), and
    a fifo made on the host is another pipe than the one the tenant opens
    through the overlay; a file created through it is created in the
    host directory, and inotify there sees it. Armed (the old file gone,
    the watch set) before the start; fileno-style .fd for poll."""

    def __init__(self, path, uid=0):
        self.path = path
        self.fd = -1
        self.uid = uid

    def arm(self):
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0 or _libc.inotify_add_watch(
                self.fd, os.path.dirname(self.path).encode(), IN_CREATE | IN_MOVED_TO) < 0:
            raise OSError(ctypes.get_errno(), f"inotify on {os.path.dirname(self.path)}")

    def fired(self):
        """Whether the events waiting on .fd include the file's creation."""
        name = os.path.basename(self.path).encode()
        try:
            buf = os.read(self.fd, 65536)
        except BlockingIOError:
            return False
        off = 0
        while off + _EVENT.size <= len(buf):
            _, _, _, n = _EVENT.unpack_from(buf, off)
            if buf[off + _EVENT.size:off + _EVENT.size + n].rstrip(b"\0") == name:
                return True
            off += _EVENT.size + n
        return False

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def wait_fifos(fifos, timeout_s=30.0, close=True):
    """Waits until every armed fifo has delivered its line; returns the
    monotonic ns at which each one did, in the order given. close=False
    leaves closing them to the caller (closing 100 inotify fds takes a
    quarter of a second of grace periods)."""
    poll = select.poll()
    by_fd = {}
    for i, f in enumerate(fifos):
        poll.register(f.fd, select.POLLIN)
        by_fd[f.fd] = i
    done = [None] * len(fifos)
    left = len(fifos)
    deadline = time.monotonic() + timeout_s
    while left:
        ms = int((deadline - time.monotonic()) * 1000)
        if ms <= 0:
            raise TimeoutError(f"{left} of {len(fifos)} entrypoints never said ready "
                               f"(first: {fifos[done.index(None)].path})")
        for fd, ev in poll.poll(ms):
            t = now_ns()
            if ev & select.POLLIN and fifos[by_fd[fd]].fired():
                i = by_fd[fd]
                done[i] = t
                poll.unregister(fd)
                left -= 1
    for f in fifos if close else []:
        f.close()
    return done


# ---- ptenant ----------------------------------------------------------------

class Daemon:
    def __init__(self, build, work, name, variant, trace=False):
        self.build = build
        self.name = name
        self.dir = os.path.join(work, name)
        self.state = os.path.join(self.dir, "state")
        self.run = os.path.join(self.dir, "run")
        self.sock = os.path.join(self.run, "ptenantd.sock")
        self.cli = os.path.join(build, "src/ptenant/ptenant")
        os.makedirs(self.dir)
        self.cgroup = f"/{PREFIX}-{name}"
        self.conf_lines = daemon_conf(variant, self.cgroup)
        self.conf = os.path.join(self.dir, "ptenantd.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(self.conf_lines) + "\n")
        self.log_path = os.path.join(self.dir, "ptenantd.log")
        # A network namespace of its own, whatever the variant: the daemon's
        # side of the tenant links, its gateway address and its nftables
        # tables live there. nsenter, not `ip netns exec`: that one remounts
        # /sys, which hides the cgroup hierarchies under /sys/fs/cgroup.
        # nsenter execs ptenantd, so self.proc.pid is the daemon's pid.
        self.netns = f"{PREFIX}-{name}"
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
        argv = ["nsenter", f"--net=/run/netns/{self.netns}",
                os.path.join(build, "src/ptenantd/ptenantd"), "-c", self.conf,
                "--state-dir", self.state, "--runtime-dir", self.run]
        if trace:
            argv.append("--trace-spawn")
        self.logf = open(self.log_path, "w")
        # Its own session: a Ctrl-C reaches the harness only, which then
        # removes the tenants and stops the daemon itself.
        self.proc = subprocess.Popen(argv, stdin=DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(500):
            if os.path.exists(self.sock):
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"ptenantd exited: {open(self.log_path).read()}")
            time.sleep(0.01)
        else:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("ptenantd did not create its socket")
        # What it made of the config, from its start-up lines.
        self.budgets = next((line.strip() for line in open(self.log_path)
                             if line.startswith("ptenantd: budgets")), "?")
        with open(f"/proc/{self.proc.pid}/limits") as f:
            self.nofile = next(" ".join(line.split()[3:5]) for line in f
                               if line.startswith("Max open files"))

    def info(self):
        return {"name": self.name, "use": getattr(self, "use", ""), "conf": self.conf_lines, "budgets": self.budgets,
                "netns": self.netns, "nofile_soft_hard": self.nofile}

    def argv(self, *args):
        return [self.cli, "--socket", self.sock, *args]

    def pt(self, *args, check=True):
        r = subprocess.run(self.argv(*args), stdin=DEVNULL, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"ptenant {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def ls(self):
        return json.loads(self.pt("--json", "ls"))

    def data_dir(self, slug):
        return os.path.join(self.state, "tenants", slug, "data")

    def host_uid(self, slug):
        return os.stat(self.data_dir(slug)).st_uid

    def fifo(self, slug):
        return ReadyFile(os.path.join(self.data_dir(slug), "ready"), self.host_uid(slug))

    def rss_kib(self):
        return proc_status(self.proc.pid)

    def stop(self):
        """Removes every tenant, then stops the daemon (SIGTERM, by pid) and
        deletes its network namespace. Returns what is left: tenants the
        daemon still lists, tenant processes still alive, a daemon that
        would not stop."""
        left = []
        pids = []
        if self.proc.poll() is None:
            try:
                tenants = self.ls()
                pids = [t["pid"] for t in tenants if t.get("pid")]
                # In waves below the daemon's cap on API connections (128:
                # more at once are refused, by design).
                for k in range(0, len(tenants), 64):
                    procs = [subprocess.Popen(self.argv("rm", t["slug"]), stdin=DEVNULL,
                                              stdout=DEVNULL, stderr=DEVNULL)
                             for t in tenants[k:k + 64]]
                    for p in procs:
                        p.wait()
                left += [f"{self.name}: tenant {t['slug']} not removed" for t in self.ls()]
            except Exception as e:  # still stop the daemon
                left.append(f"{self.name}: cleanup of tenants failed: {e}")
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                left.append(f"{self.name}: ptenantd {self.proc.pid} ignored SIGTERM")
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        for pid in pids:
            if os.path.exists(f"/proc/{pid}"):
                left.append(f"{self.name}: tenant init {pid} still running")
        # The host sides of the veths, the gateway address and the nftables
        # tables go with the namespace.
        r = subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, text=True)
        if r.returncode != 0:
            left.append(f"ip netns del {self.netns}: {r.stderr.strip()}")
        return left


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def entrypoint_pid(init_pid, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        c = children(init_pid)
        if c:
            return c[0]
        time.sleep(0.001)
    raise TimeoutError(f"ptenant-init {init_pid} has no child")


# ---- runc and bubblewrap ------------------------------------------------------

def c_strings(path, array):
    """The string literals of `static const char *const ARRAY[] = {...};`
    in one of ptenant's sources."""
    with open(os.path.join(TOP, path)) as f:
        text = f.read()
    m = re.search(re.escape(array) + r"\[\]\s*=\s*\{(.*?)\};", text, re.S)
    if not m:
        raise RuntimeError(f"no {array} in {path}")
    out = re.findall(r'"([^"]+)"', m.group(1))
    if not out:
        raise RuntimeError(f"{array} in {path} is empty")
    return out


# The namespace flags clone and unshare may not carry (src/lib/seccomp.c).
CLONE_NS_FLAGS = 0x7E020000   # NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP
UNSHARE_NS_FLAGS = CLONE_NS_FLAGS | 0x80   # and CLONE_NEWTIME
SCMP_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}


def runc_seccomp():
    """ptenant's default seccomp profile as an OCI one: the very allow-list
    of src/lib/seccomp-lists.h (about 280 names), EPERM for everything
    else, native ABI only, clone and unshare without namespace flags,
    socket for AF_UNIX, AF_INET/AF_INET6 stream and datagram and route
    netlink, five personalities, clone3 ENOSYS: ptenant's first filter,
    rule for rule. Not its second, tiny filter (ioctl TIOCSTI and
    TIOCLINUX denied): OCI has one filter per container."""
    def masked(index, mask, value):
        return {"index": index, "value": mask, "valueTwo": value, "op": "SCMP_CMP_MASKED_EQ"}
    allow = "SCMP_ACT_ALLOW"
    low32 = 0xffffffff
    rules = [{"names": c_strings("src/lib/seccomp-lists.h", "pt_seccomp_default_allow"),
              "action": allow},
             {"names": ["clone"], "action": allow, "args": [masked(0, CLONE_NS_FLAGS, 0)]},
             {"names": ["unshare"], "action": allow,
              "args": [masked(0, UNSHARE_NS_FLAGS, 0)]},
             {"names": ["socket"], "action": allow, "args": [masked(0, low32, 1)]}]
    for family in (2, 10):          # AF_INET, AF_INET6
        for kind in (1, 2):         # SOCK_STREAM, SOCK_DGRAM
            rules.append({"names": ["socket"], "action": allow,
                          "args": [masked(0, low32, family), masked(1, 0xf, kind)]})
    rules.append({"names": ["socket"], "action": allow,    # AF_NETLINK, NETLINK_ROUTE
                  "args": [masked(0, low32, 16), masked(2, low32, 0)]})
    for persona in (0x0, 0x8, 0x20000, 0x20008, 0xffffffff):
        rules.append({"names": ["personality"], "action": allow,
                      "args": [{"index": 0, "value": persona, "op": "SCMP_CMP_EQ"}]})
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "architectures": [SCMP_ARCH.get(platform.machine(), "SCMP_ARCH_NATIVE")],
            "syscalls": rules}


def runc_config(rootfs, data, cgroup):
    """The OCI bundle config: ptenant's namespaces, a 65536-id user
    namespace mapping, ptenant's mounts, capability set, seccomp filter
    (runc_seccomp) and masked and read-only /proc and /sys paths (read
    from src/lib/plan.c). runc does not layer an overlay: the shared
    rootfs is mounted read-only, which is less work than ptenant's overlay
    with a fresh upper layer. No network link: runc gets an empty network
    namespace, as ptenant does with network = off."""
    nosuid = ["nosuid", "nodev", "noexec"]
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": False, "user": {"uid": 0, "gid": 0},
            "args": ["/bot/start"], "env": ENV, "cwd": "/",
            "capabilities": {k: CAPS for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": nosuid},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": nosuid + ["ro"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "noexec", "strictatime", "mode=755", "size=64k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/data", "type": "bind", "source": data,
             "options": ["rbind", "nosuid", "nodev"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "noexec", "mode=0755", "size=1m"]},
        ],
        "linux": {
            "uidMappings": [{"containerID": 0, "hostID": RUNC_HOST_UID, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": RUNC_HOST_UID, "size": 65536}],
            "namespaces": [{"type": t} for t in
                           ("pid", "ipc", "uts", "mount", "user", "network", "cgroup")],
            "cgroupsPath": cgroup,
            "maskedPaths": ["/" + x for x in c_strings("src/lib/plan.c", "masked_paths")],
            "readonlyPaths": ["/" + x for x in c_strings("src/lib/plan.c", "readonly_paths")],
            "seccomp": runc_seccomp(),
        },
    }


class Runc:
    def __init__(self, work, rootfs):
        self.dir = os.path.join(work, "runc")
        self.root = os.path.join(self.dir, "state")
        self.cgroup_parent = f"{PREFIX}-runc"
        self.ids = set()
        os.makedirs(self.root)
        self.version = subprocess.run(["runc", "--version"], capture_output=True,
                                      text=True).stdout.splitlines()[0]

    def bundle(self, name, rootfs):
        b = os.path.join(self.dir, name)
        data = os.path.join(b, "data")
        os.makedirs(data)
        os.chown(data, RUNC_HOST_UID, RUNC_HOST_UID)
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(runc_config(rootfs, data, f"/{self.cgroup_parent}/{name}"), f, indent=1)
        return b, ReadyFile(os.path.join(data, "ready"), RUNC_HOST_UID)

    def run_argv(self, bundle, cid):
        self.ids.add(cid)
        return ["runc", "--root", self.root, "run", "-d", "--bundle", bundle, cid]

    def argv(self, *args):
        return ["runc", "--root", self.root, *args]

    def delete(self, cid):
        subprocess.run(self.argv("delete", "-f", cid), stdin=DEVNULL, stdout=DEVNULL,
                       stderr=DEVNULL)
        self.ids.discard(cid)

    def cleanup(self):
        for cid in list(self.ids):
            self.delete(cid)
        # runc removes each container's cgroup; the parent is removed with
        # every other cgroup of the run (remove_cgroups).

    def leftovers(self):
        r = subprocess.run(self.argv("list", "-q"), capture_output=True, text=True)
        return [f"runc container {c}" for c in r.stdout.split()]


def cgroup_hierarchies():
    """/sys/fs/cgroup (cgroup2 or the v1 tmpfs) and every directory below
    it that is a hierarchy (memory, cpu, ..., unified)."""
    base = "/sys/fs/cgroup"
    out = [base]
    for e in sorted(os.listdir(base)):
        p = os.path.join(base, e)
        if os.path.isdir(p) and not os.path.islink(p) and os.path.ismount(p):
            out.append(p)
    return out


def run_cgroups():
    """Every cgroup directory the run made: PREFIX-* at the top of each
    hierarchy."""
    out = []
    for h in cgroup_hierarchies():
        for e in os.listdir(h):
            p = os.path.join(h, e)
            if (e == PREFIX or e.startswith(PREFIX + "-")) and os.path.isdir(p):
                out.append(p)
    return out


def remove_cgroups():
    """rmdir, deepest first, of every cgroup the run made (the daemons have
    removed their tenants' cgroups by then; what is left is the subtrees)."""
    for top in run_cgroups():
        for dirpath, _, _ in os.walk(top, topdown=False):
            try:
                os.rmdir(dirpath)
            except OSError as e:
                log(f"cannot remove {dirpath}: {e}")


def run_netns():
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [x.split()[0] for x in r.stdout.splitlines()
            if x.split() and x.split()[0].startswith(PREFIX + "-")]


def bwrap_argv(rootfs, data):
    """bwrap --unshare-all (user, ipc, pid, net, uts, cgroup) of the same
    rootfs, read-only, with the same mounts as far as bwrap has them."""
    argv = ["bwrap", "--unshare-all", "--die-with-parent",
            "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev",
            "--ro-bind", "/sys", "/sys",
            "--tmpfs", "/tmp", "--tmpfs", "/run", "--bind", data, "/data",
            "--hostname", "bench", "--clearenv"]
    for e in ENV:
        k, _, v = e.partition("=")
        argv += ["--setenv", k, v]
    return argv + ["/bot/start"]


# ---- the measurements ---------------------------------------------------------

def timed_start(argv, fifo, popen_kw=None):
    """Starts argv and returns (ms until the entrypoint said ready, process).
    Its stderr goes to a file: a detached container may keep a pipe open."""
    err = tempfile.TemporaryFile()
    fifo.arm()
    t0 = now_ns()
    p = subprocess.Popen(argv, stdin=DEVNULL, stdout=DEVNULL, stderr=err,
                         **(popen_kw or {}))
    t1 = wait_fifos([fifo])[0]
    p.errfile = err
    return (t1 - t0) / 1e6, p


def check_exit(p, what):
    p.wait(timeout=30)
    err = getattr(p, "errfile", None)
    text = ""
    if err:
        err.seek(0)
        text = err.read().decode(errors="replace").strip()
        err.close()
    elif p.stderr:
        text = p.stderr.read().decode(errors="replace").strip()
    if p.returncode != 0:
        raise RuntimeError(f"{what} exited {p.returncode}: {text}")


def bench_cold(ctx):
    """Cold start of one tenant: request to entrypoint running."""
    rows = []
    runners = []
    for k, (name, conf) in enumerate(VARIANTS):
        d = ctx.main if k == 0 else ctx.imported_daemon(conf, use=f"cold start: {name}")
        d.pt("create", "cold", "--blueprint", "bench@1", "--no-start")
        fifo = d.fifo("cold")

        def run_pt(d=d, fifo=fifo):
            ms, p = timed_start(d.argv("start", "cold"), fifo)
            check_exit(p, "ptenant start")
            d.pt("stop", "cold")
            return ms
        runners.append((name, "`ptenant start` of a created tenant", run_pt))
    d = ctx.main
    seq = [0]

    def run_create(d=d):
        seq[0] += 1
        slug = f"new{seq[0]}"
        data_parent = os.path.join(d.state, "tenants")
        # The fifo can only exist once the tenant does, so this row waits
        # for `ptenant create` itself and for the entrypoint's line in a
        # regular file instead: a small overestimate of the poll kind.
        t0 = now_ns()
        d.pt("create", slug, "--blueprint", "bench@1")
        ready = os.path.join(data_parent, slug, "data", "ready")
        while not os.path.exists(ready):
            time.sleep(0.0002)
        t1 = now_ns()
        d.pt("rm", slug)
        return (t1 - t0) / 1e6
    runners.append(("ptenant, create + start", "`ptenant create` of a new tenant", run_create))
    rbundle, rfifo = ctx.runc.bundle("cold", ctx.rootfs)

    def run_runc():
        ms, p = timed_start(ctx.runc.run_argv(rbundle, "ptbench-cold"), rfifo)
        check_exit(p, "runc run")
        ctx.runc.delete("ptbench-cold")
        return ms
    runners.append((ctx.runc.version, "`runc run -d`, same rootfs read-only", run_runc))
    bdata = os.path.join(ctx.work, "bwrap-data")
    os.makedirs(bdata)
    bfifo = ReadyFile(os.path.join(bdata, "ready"))

    def run_bwrap():
        ms, p = timed_start(bwrap_argv(ctx.rootfs, bdata), bfifo,
                            {"start_new_session": True})
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        return ms
    runners.append((ctx.bwrap_version, "`bwrap --unshare-all`, same rootfs", run_bwrap))

    samples = {name: [] for name, _, _ in runners}
    for i in range(ctx.warmup + ctx.runs):
        for name, _, fn in runners:
            time.sleep(SETTLE_S)
            ms = fn()
            if i >= ctx.warmup:
                samples[name].append(ms)
    for name, how, _ in runners:
        rows.append({"name": name, "how": how, "unit": "ms", "samples": samples[name],
                     **stats(samples[name])})
    return rows


def cpu_busy_ms():
    """CPU time spent by the whole machine so far (every core, every
    process and the kernel's own work: /proc/stat less idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) * 1000.0 / os.sysconf("SC_CLK_TCK")


def settle_machine(busy_pct=15, window_s=0.2, timeout_s=20):
    """Waits until the machine is quiet: under busy_pct of one core over
    window_s. A batch's stop leaves the kernel tearing down 100 network
    namespaces (cleanup_net) for seconds after the processes are gone;
    without this, each run paid for the one before it, more with every
    run (ptenant's 100 at once went from 601 to 1015 ms over 20 runs)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        c0 = cpu_busy_ms()
        time.sleep(window_s)
        if (cpu_busy_ms() - c0) < busy_pct / 100 * window_s * 1000:
            return
    log(f"machine still busy after {timeout_s} s; measuring anyway")


def batch_runs(ctx, argvs, fifos, stop, popen_kw=None, api_sock=None):
    """Runs all argvs at once, --warmup + --runs times; returns the times
    from the first start to the last and to the first entrypoint line,
    the machine's CPU time per start over that span (cpu_busy_ms: the
    runtime, its clients, the sandboxes' own start and the kernel), and,
    with api_sock, the `ls` round trips made meanwhile."""
    totals, firsts, cpus, api = [], [], [], []
    for i in range(ctx.warmup + ctx.runs):
        for f in fifos:
            f.arm()
        errs = [tempfile.TemporaryFile() for _ in argvs]
        settle_machine()
        probe = ApiProbe(api_sock) if api_sock else None
        if probe:
            probe.__enter__()
        c0 = cpu_busy_ms()
        t0 = now_ns()
        procs = [subprocess.Popen(a, stdin=DEVNULL, stdout=DEVNULL, stderr=e,
                                  **(popen_kw or {})) for a, e in zip(argvs, errs)]
        ready = wait_fifos(fifos, 120, close=False)
        c1 = cpu_busy_ms()
        for fi in fifos:
            fi.close()
        if probe:
            probe.__exit__()
            if probe.errors:
                raise RuntimeError(f"{probe.errors} ls calls failed during the batch")
        for p, e in zip(procs, errs):
            p.errfile = e
        if i >= ctx.warmup:
            totals.append((max(ready) - t0) / 1e6)
            firsts.append((min(ready) - t0) / 1e6)
            cpus.append((c1 - c0) / len(argvs))
            if probe:
                api += probe.lat
        stop(procs)
    return (totals, firsts, cpus, api) if api_sock else (totals, firsts, cpus)


def batch_row(name, n, totals, firsts, cpus):
    per_s = [n / (t / 1e3) for t in totals]
    return {"name": name, "unit": "ms", "samples": totals, **stats(totals),
            "tenants_per_s": stats(per_s), "first_ready": stats(firsts),
            "cpu_ms_per_start": stats(cpus)}


def bench_batch(ctx, n):
    """n starts at once, from the first request to the last entrypoint
    running: n `ptenant start`s, n `runc run -d`s, n `bwrap`s."""
    d = ctx.main
    slugs = [f"b{i:03d}" for i in range(n)]
    procs = [subprocess.Popen(d.argv("create", s, "--blueprint", "bench@1", "--no-start"),
                              stdin=DEVNULL, stdout=DEVNULL) for s in slugs]
    for p in procs:
        p.wait()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    rows = []

    def stop_pt(procs):
        for p in procs:
            check_exit(p, "ptenant start")
        stops = [subprocess.Popen(d.argv("stop", s), stdin=DEVNULL, stdout=DEVNULL)
                 for s in slugs]
        for p in stops:
            p.wait()
    # Alone, as runc and bwrap run; then again with the API probe, whose
    # own load (an `ls` loop, about a core) would slow the batch.
    t, f, c = batch_runs(ctx, [d.argv("start", s) for s in slugs],
                         [d.fifo(s) for s in slugs], stop_pt)
    rows.append(batch_row(f"ptenant, {n} tenants at once", n, t, f, c))
    t, f, c, api = batch_runs(ctx, [d.argv("start", s) for s in slugs],
                              [d.fifo(s) for s in slugs], stop_pt, api_sock=d.sock)
    rows.append(batch_row(f"ptenant, {n} tenants at once, `ls` in a loop meanwhile", n,
                          t, f, c))
    rows[-1]["api_ls_ms"] = {**stats(api), "p99": p99(api)}
    rm = [subprocess.Popen(d.argv("rm", s), stdin=DEVNULL, stdout=DEVNULL) for s in slugs]
    for p in rm:
        p.wait()

    bundles = [ctx.runc.bundle(f"b{i:03d}", ctx.rootfs) for i in range(n)]
    ids = [f"ptbench-b{i:03d}" for i in range(n)]

    def stop_runc(procs):
        for p in procs:
            check_exit(p, "runc run")
        dels = [subprocess.Popen(ctx.runc.argv("delete", "-f", c), stdin=DEVNULL,
                                 stdout=DEVNULL, stderr=DEVNULL) for c in ids]
        for p in dels:
            p.wait()
    t, f, c = batch_runs(ctx, [ctx.runc.run_argv(b, cid) for (b, _), cid in zip(bundles, ids)],
                         [fi for _, fi in bundles], stop_runc)
    rows.append(batch_row(f"runc, {n} containers at once", n, t, f, c))
    for c in ids:
        ctx.runc.ids.discard(c)

    datas = [os.path.join(ctx.work, f"bwrap-b{i:03d}") for i in range(n)]
    for x in datas:
        os.makedirs(x)

    def stop_bwrap(procs):
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)
        for p in procs:
            p.wait()
    t, f, c = batch_runs(ctx, [bwrap_argv(ctx.rootfs, x) for x in datas],
                         [ReadyFile(os.path.join(x, "ready")) for x in datas], stop_bwrap,
                         {"start_new_session": True})
    rows.append(batch_row(f"bwrap, {n} sandboxes at once", n, t, f, c))
    return rows


def standby_ready(d, slug, timeout=10.0):
    """Waits until the tenant's next run is parked (respawn_standby = on)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sb = json.loads(d.pt("--json", "inspect", slug)).get("standby", {})
        if sb.get("state") == "ready":
            return sb
        time.sleep(0.02)
    raise RuntimeError(f"{slug}: no standby ready in {timeout} s")


def bench_respawn(ctx):
    """SIGKILL of a tenant's entrypoint until its new entrypoint runs: cold
    (the default), and taken over by its standby (respawn_standby = on)."""
    cold = respawn_rows(ctx, ctx.main, "ptenant respawn", False)
    d = ctx.imported_daemon(["respawn_standby = on"], use="respawn with a standby "
                            "(respawn_standby = on)")
    return cold + respawn_rows(ctx, d, "ptenant respawn, standby on", True)


def respawn_rows(ctx, d, name, standby):
    d.pt("create", "resp", "--blueprint", "bench@1", "--no-start")
    fifo = d.fifo("resp")
    fifo.arm()
    d.pt("start", "resp")
    wait_fifos([fifo])
    samples, exits = [], []
    for i in range(ctx.warmup + ctx.runs):
        (t,) = [x for x in d.ls() if x["slug"] == "resp"]
        victim = entrypoint_pid(t["pid"])
        # ptenant-init's pidfd turns readable when the old tenant is gone:
        # the split between the kernel's teardown and the daemon's respawn.
        pidfd = os.pidfd_open(t["pid"])
        if standby:
            standby_ready(d, "resp")
        time.sleep(SETTLE_S)  # quiet, and past crashloop_window_ms: a "first crash"
        fifo.arm()
        t0 = now_ns()
        os.kill(victim, signal.SIGKILL)
        poll = select.poll()
        poll.register(pidfd, select.POLLIN)
        poll.poll(10000)
        t_exit = now_ns()
        os.close(pidfd)
        t1 = wait_fifos([fifo])[0]
        if i >= ctx.warmup:
            samples.append((t1 - t0) / 1e6)
            exits.append((t_exit - t0) / 1e6)
    d.pt("rm", "resp")
    how = "SIGKILL of the entrypoint (host pid) to the new entrypoint's line"
    if standby:
        how += " (its next run parked beforehand)"
    return [{"name": name, "how": how, "unit": "ms", "samples": samples, **stats(samples)},
            {"name": "  of which: old tenant gone", "how": "SIGKILL to ptenant-init's pidfd "
             "readable (kernel: entrypoint, init, namespaces torn down)", "unit": "ms",
             "samples": exits, **stats(exits)}]


def bench_exec(ctx):
    """`ptenant exec SLUG -- true` against `runc exec ID true`."""
    d = ctx.main
    d.pt("create", "ex", "--blueprint", "bench@1", "--no-start")
    fifo = d.fifo("ex")
    fifo.arm()
    d.pt("start", "ex")
    wait_fifos([fifo])
    rbundle, rfifo = ctx.runc.bundle("exec", ctx.rootfs)
    _, p = timed_start(ctx.runc.run_argv(rbundle, "ptbench-exec"), rfifo)
    check_exit(p, "runc run")
    (t,) = [x for x in d.ls() if x["slug"] == "ex"]
    init = t["pid"]
    cmds = [
        ("ptenant exec", "`ptenant exec ex -- true`", d.argv("exec", "ex", "--", "true")),
        ("runc exec", "`runc exec ID true`", ctx.runc.argv("exec", "ptbench-exec", "true")),
        ("nsenter (floor)", "`nsenter -t PID -a true` into the ptenant tenant: "
         "joining the namespaces and one exec, no confinement",
         ["nsenter", "-t", str(init), "-a", "true"]),
    ]
    samples = {name: [] for name, _, _ in cmds}
    for i in range(ctx.warmup + ctx.runs):
        for name, _, argv in cmds:
            time.sleep(SETTLE_S)  # `ptenant exec` joins the tenant's cgroups too
            t0 = now_ns()
            r = subprocess.run(argv, stdin=DEVNULL, stdout=DEVNULL, stderr=subprocess.PIPE)
            t1 = now_ns()
            if r.returncode != 0:
                raise RuntimeError(f"{name}: exit {r.returncode}: {r.stderr.decode()}")
            if i >= ctx.warmup:
                samples[name].append((t1 - t0) / 1e6)
    ctx.runc.delete("ptbench-exec")
    d.pt("rm", "ex")
    return [{"name": name, "how": how, "unit": "ms", "samples": samples[name],
             **stats(samples[name])} for name, how, _ in cmds]


MEMINFO_KEYS = ("MemFree", "Slab", "SUnreclaim", "KernelStack", "PageTables", "Percpu",
                "Shmem", "Cached", "Buffers")


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in MEMINFO_KEYS:
                out[k] = int(v.split()[0])
    return out


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def tenant_pids(d):
    pids = []
    for t in d.ls():
        if t["pid"]:
            pids.append(t["pid"])
            pids += children(t["pid"])
    return pids


def sample_level(ctx, d, n):
    pids = tenant_pids(d)
    rss, pss, mi = [], [], []
    for _ in range(ctx.runs):
        rss.append(d.rss_kib()["VmRSS"])
        pss.append(sum(pss_kib(p) for p in pids))
        mi.append(meminfo())
        time.sleep(0.02)
    mi_med = {k: statistics.median(m[k] for m in mi) for k in MEMINFO_KEYS}
    return {"tenants": n, "daemon_rss_kib": stats(rss),
            "daemon_status": d.rss_kib(),
            "daemon_fds": len(os.listdir(f"/proc/{d.proc.pid}/fd")),
            "tenant_pss_kib": stats(pss),
            "tenant_processes": len(pids), "meminfo_kib": mi_med}


def bench_memory(ctx, levels):
    """The daemon's RSS with 1, 100, 500 running tenants (idle sleepers,
    --restart never), on a daemon of its own; per-tenant kernel and user
    memory from the growth between the first and the last level."""
    d = ctx.imported_daemon([], use="memory (full config)")
    base = {"tenants": 0, "daemon_rss_kib": d.rss_kib()["VmRSS"], "meminfo_kib": meminfo()}
    out = []
    have = 0
    for n in levels:
        slugs = [f"m{i:03d}" for i in range(have, n)]
        for k in range(0, len(slugs), 25):
            procs = [subprocess.Popen(d.argv("create", s, "--blueprint", "bench@1",
                                             "--restart", "never"),
                                      stdin=DEVNULL, stdout=DEVNULL, stderr=subprocess.PIPE)
                     for s in slugs[k:k + 25]]
            for p in procs:
                check_exit(p, "ptenant create")
        have = n
        # Running means: ptenant-init has started the entrypoint.
        for t in d.ls():
            entrypoint_pid(t["pid"])
        time.sleep(0.5)
        out.append(sample_level(ctx, d, n))
        log(f"memory: {n} tenants, daemon RSS {out[-1]['daemon_rss_kib']['median']} KiB")
    lo, hi = out[0], out[-1]
    dn = hi["tenants"] - lo["tenants"]
    per = {}
    if dn > 0:
        a, b = lo["meminfo_kib"], hi["meminfo_kib"]
        per = {
            "tenants_between": dn,
            "used_kib": ((a["MemFree"] - b["MemFree"]) - (b["Cached"] - a["Cached"])
                         - (b["Buffers"] - a["Buffers"]) + (b["Shmem"] - a["Shmem"])) / dn,
            "slab_kib": (b["Slab"] - a["Slab"]) / dn,
            "slab_unreclaimable_kib": (b["SUnreclaim"] - a["SUnreclaim"]) / dn,
            "kernel_stack_kib": (b["KernelStack"] - a["KernelStack"]) / dn,
            "page_tables_kib": (b["PageTables"] - a["PageTables"]) / dn,
            "percpu_kib": (b["Percpu"] - a["Percpu"]) / dn,
            "user_pss_kib": hi["tenant_pss_kib"]["median"] / hi["tenants"],
            "daemon_rss_kib": (hi["daemon_rss_kib"]["median"]
                               - lo["daemon_rss_kib"]["median"]) / dn,
        }
    return {"base": base, "levels": out, "per_tenant": per, "daemon_nofile": d.nofile}


def parse_trace(text, slug):
    """The first set of "trace-spawn SLUG STEP MS ms" lines in text, as
    {step: ms} in their order (a repeated step starts the next set)."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) == 5 and f[0] == "trace-spawn" and f[1] == slug and f[4] == "ms":
            if f[2] in out:
                break
            out[f[2]] = float(f[3])
    return out


def log_mark(d):
    with open(d.log_path) as f:
        f.seek(0, 2)
        return f.tell()


def log_since(d, mark):
    with open(d.log_path) as f:
        f.seek(mark)
        return f.read()


def collect_steps(traces):
    steps, order = {}, []
    for tr in traces:
        for k, v in tr.items():
            if k not in steps:
                steps[k] = []
                order.append(k)
            steps[k].append(v)
    return [{"step": k, **stats(steps[k])} for k in order]


def bench_profile(ctx):
    """Where the time of a cold start and of a respawn goes: the steps
    `ptenantd --trace-spawn` prints, on a daemon of its own."""
    d = ctx.imported_daemon([], trace=True, use="profile (full config, `--trace-spawn`)")
    d.pt("create", "prof", "--blueprint", "bench@1", "--no-start")
    fifo = d.fifo("prof")
    cold, cold_ms = [], []
    for i in range(ctx.warmup + ctx.runs):
        time.sleep(SETTLE_S)
        mark = log_mark(d)
        ms, p = timed_start(d.argv("start", "prof"), fifo)
        check_exit(p, "ptenant start")
        d.pt("stop", "prof")
        if i >= ctx.warmup:
            tr = parse_trace(log_since(d, mark), "prof")
            tr.pop("d-exit-handling", None)  # the stop's, not the start's
            cold.append(tr)
            cold_ms.append(ms)
    fifo.arm()
    d.pt("start", "prof")
    wait_fifos([fifo])
    resp, resp_ms = [], []
    for i in range(ctx.warmup + ctx.runs):
        (t,) = [x for x in d.ls() if x["slug"] == "prof"]
        victim = entrypoint_pid(t["pid"])
        time.sleep(SETTLE_S)
        mark = log_mark(d)
        fifo.arm()
        t0 = now_ns()
        os.kill(victim, signal.SIGKILL)
        t1 = wait_fifos([fifo])[0]
        if i >= ctx.warmup:
            time.sleep(0.01)  # the daemon prints its lines after the spawn
            resp.append(parse_trace(log_since(d, mark), "prof"))
            resp_ms.append((t1 - t0) / 1e6)
    d.pt("rm", "prof")
    return {"cold": {"steps": collect_steps(cold), "total_ms": stats(cold_ms)},
            "respawn": {"steps": collect_steps(resp), "total_ms": stats(resp_ms)}}


# ---- context and report -------------------------------------------------------

class Ctx:
    def __init__(self, args):
        self.args = args
        self.runs = args.runs
        self.warmup = args.warmup
        self.top = TOP
        self.prefix = PREFIX
        self.build = args.build
        self.work = tempfile.mkdtemp(prefix="ptbench.", dir="/var/tmp")
        os.chmod(self.work, 0o755)
        self.daemons = []
        self.n_daemons = 0
        self.runc = None
        self.left = []
        self.bwrap_version = subprocess.run(["bwrap", "--version"], capture_output=True,
                                            text=True).stdout.strip()

    def daemon(self, conf, trace=False, use=""):
        self.n_daemons += 1
        d = Daemon(self.build, self.work, f"d{self.n_daemons - 1}", conf, trace)
        d.use = use
        self.daemons.append(d)
        return d

    def prepare(self):
        self.blueprint = os.path.join(self.work, "bench-blueprint")
        subprocess.run([os.path.join(TOP, "rootfs-tools/ptenant-mkblueprint"),
                        "--bot", os.path.join(TOP, "bench/bot"), "--name", "bench",
                        "--version", "1", self.blueprint], check=True, stdout=DEVNULL)
        self.rootfs = None

    def imported_daemon(self, conf, trace=False, use=""):
        d = self.daemon(conf, trace, use)
        d.pt("blueprint", "import", "bench@1", self.blueprint)
        return d

    def cleanup(self):
        """Removes everything the run made, then checks that nothing is
        left: runc containers, tenants and their processes, daemons, network
        namespaces, cgroups. self.left says what was (empty: all gone)."""
        left = []
        if self.runc:
            self.runc.cleanup()
            left += self.runc.leftovers()
        for d in self.daemons:
            try:
                left += d.stop()
            except Exception as e:
                left.append(f"stopping daemon {d.dir}: {e}")
        for ns in run_netns():  # a daemon that failed to start leaves one
            subprocess.run(["ip", "netns", "del", ns], stderr=DEVNULL)
        remove_cgroups()
        left += [f"network namespace {ns}" for ns in run_netns()]
        left += [f"cgroup {p}" for p in run_cgroups()]
        for x in left:
            log(f"left behind: {x}")
        self.left = left
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    osr = {}
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                osr[k] = v.strip('"')
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem_kib / 2**20, 1),
            "kernel": platform.release(), "os": osr.get("PRETTY_NAME", "?"),
            "loadavg_at_start": os.getloadavg()}


def fmt(x):
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def targets(res):
    """The issue's targets, each checked against this run's medians."""
    rows = []
    cold = {r["name"]: r for r in res.get("cold", [])}
    full = cold.get(VARIANTS[0][0])
    runc = next((r for r in res.get("cold", []) if r["name"].startswith("runc")), None)
    if full and runc:
        rows.append(("cold start median at most 1/4 of `runc run`'s",
                     f"{fmt(full['median'])} ms vs {fmt(runc['median'])} ms "
                     f"(ratio {full['median'] / runc['median']:.2f})",
                     full["median"] <= runc["median"] / 4))
    if res.get("respawn"):
        r = next((x for x in res["respawn"] if x["name"].endswith("standby on")),
                 res["respawn"][0])
        rows.append((f"respawn under 10 ms ({r['name']})", f"{fmt(r['median'])} ms",
                     r["median"] < 10))
    if res.get("batch"):
        r = res["batch"][0]
        bw = next((b for b in res["batch"] if b["name"].startswith("bwrap")), None)
        if bw:
            rows.append((f"{r['name'].split(', ')[1].replace(' at once', '')} at once, "
                         "at most bubblewrap's time for as many",
                         f"{fmt(r['median'])} ms vs {fmt(bw['median'])} ms "
                         f"(ratio {r['median'] / bw['median']:.2f})", r["median"] <= bw["median"]))
        r = next((x for x in res["batch"] if x.get("api_ls_ms")), None)
        if r:
            a = r["api_ls_ms"]
            rows.append(("API (`ls` round trip) p99 at most 5 ms while they start",
                         f"p99 {fmt(a['p99'])} ms (median {fmt(a['median'])}, "
                         f"{a['n']} calls)", a["p99"] <= 5))
    if res.get("memory"):
        lv = res["memory"]["levels"][-1]
        kib = lv["daemon_rss_kib"]["median"]
        rows.append((f"daemon under 16 MiB RSS with {lv['tenants']} tenants",
                     f"{kib / 1024:.1f} MiB", kib < 16 * 1024))
    if not rows:
        return []
    out = ["## Targets (issue 11), medians of this run", "", "| target | measured | met |",
           "|---|---|---|"]
    out += [f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in rows]
    return out + [""]


def markdown(res):
    m = res["machine"]
    lines = [f"# ptenant benchmarks, {res['date']}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB, {m['os']}, "
             f"kernel {m['kernel']}; load average at start {m['loadavg_at_start'][0]:.2f}. "
             f"Commit {res['commit']}. {res['runs']} runs after {res['warmup']} warm-up runs; "
             f"median (min-max).", ""]
    lines += targets(res)
    if "cold" in res:
        lines += ["## Cold start: request to entrypoint running", "",
                  "| runtime | how | median ms | min | max |", "|---|---|---:|---:|---:|"]
        for r in res["cold"]:
            lines.append(f"| {r['name']} | {r['how']} | {fmt(r['median'])} | "
                         f"{fmt(r['min'])} | {fmt(r['max'])} |")
        lines.append("")
    if "batch" in res:
        lines += ["## Many tenants at once", "",
                  "| what | total median ms | min | max | tenants/s (median) | first ready ms "
                  "| machine CPU ms per start |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for r in res["batch"]:
            cpu = r.get("cpu_ms_per_start")
            lines.append(f"| {r['name']} | {fmt(r['median'])} | {fmt(r['min'])} | "
                         f"{fmt(r['max'])} | {r['tenants_per_s']['median']:.0f} | "
                         f"{fmt(r['first_ready']['median'])} | "
                         f"{fmt(cpu['median']) if cpu else '?'} |")
        lines += ["", "Machine CPU per start: the whole machine's busy time (every core, "
                  "/proc/stat) from the first start to the last ready, over the number of "
                  "starts: the runtime, its clients, each sandbox's own start and the "
                  "kernel's work for them. On 2 cores, a batch cannot end sooner than "
                  "its CPU over 2.", ""]
        for r in res["batch"]:
            if r.get("api_ls_ms"):
                a = r["api_ls_ms"]
                lines += [f"While {r['name'].split(', ')[1].replace(' at once', '')} start: "
                          f"{a['n']} `ls` round trips on the API, one after another; "
                          f"median {fmt(a['median'])} ms, p99 {fmt(a['p99'])} ms, "
                          f"max {fmt(a['max'])} ms.", ""]
    if "respawn" in res or "exec" in res:
        lines += ["## Respawn and exec", "", "| what | how | median ms | min | max |",
                  "|---|---|---:|---:|---:|"]
        for r in res.get("respawn", []) + res.get("exec", []):
            lines.append(f"| {r['name']} | {r['how']} | {fmt(r['median'])} | "
                         f"{fmt(r['min'])} | {fmt(r['max'])} |")
        lines.append("")
    if "memory" in res:
        mem = res["memory"]
        lines += ["## Memory", "", "| running tenants | daemon RSS median KiB | min | max | "
                  "daemon fds | tenant processes | their PSS sum KiB |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        for lv in mem["levels"]:
            r = lv["daemon_rss_kib"]
            lines.append(f"| {lv['tenants']} | {r['median']:.0f} | {r['min']} | {r['max']} | "
                         f"{lv['daemon_fds']} | {lv['tenant_processes']} | "
                         f"{lv['tenant_pss_kib']['median']:.0f} |")
        if mem.get("daemon_nofile"):
            lines += ["", f"The daemon's open-files limit (soft hard): {mem['daemon_nofile']}."]
        p = mem["per_tenant"]
        if p:
            lines += ["", f"Per tenant, from the growth between "
                      f"{mem['levels'][0]['tenants']} and {mem['levels'][-1]['tenants']} tenants "
                      "(/proc/meminfo deltas; other work on the machine adds noise):", "",
                      "| per tenant | KiB |", "|---|---:|",
                      f"| memory in use (MemFree drop less page cache, plus shmem) | "
                      f"{p['used_kib']:.0f} |",
                      f"| of which slab (unreclaimable) | {p['slab_kib']:.0f} "
                      f"({p['slab_unreclaimable_kib']:.0f}) |",
                      f"| of which kernel stacks | {p['kernel_stack_kib']:.0f} |",
                      f"| of which page tables | {p['page_tables_kib']:.0f} |",
                      f"| of which percpu | {p['percpu_kib']:.0f} |",
                      f"| user: PSS of init + entrypoint | {p['user_pss_kib']:.0f} |",
                      f"| daemon RSS growth | {p['daemon_rss_kib']:.1f} |"]
        lines.append("")
    if res.get("daemons"):
        lines += ["## Daemon configs", "",
                  "Every bench daemon runs in a network namespace of its own. Budgets: "
                  "what the daemon said at start.", "",
                  "| daemon | used for | ptenantd.conf (besides the bench lines) | budgets |",
                  "|---|---|---|---|"]
        for d in res["daemons"]:
            conf = "; ".join(f"`{x}`" for x in d["conf"]
                             if x not in BENCH_CONF) or "(none)"
            note = d["budgets"].replace("ptenantd: ", "")
            lines.append(f"| {d['name']} | {d['use']} | {conf} | {note} |")
        lines += ["", "Bench lines, in every daemon: " +
                  "; ".join(f"`{x}`" for x in BENCH_CONF) + ".", ""]
    if "profile" in res:
        for kind, title in (("cold", "a cold start"), ("respawn", "a respawn")):
            pr = res["profile"][kind]
            lines += [f"## Profile of {title} (`ptenantd --trace-spawn`)", "",
                      "d- steps: the daemon; p-: the parent side of the spawn; c-: the "
                      "child, each step from the end of the one before.", "",
                      "| step | median ms | min | max |", "|---|---:|---:|---:|"]
            for st in pr["steps"]:
                lines.append(f"| {st['step']} | {st['median']:.3f} | {st['min']:.3f} | "
                             f"{st['max']:.3f} |")
            t = pr["total_ms"]
            lines += [f"| **total, to the entrypoint's line (traced daemon)** | "
                      f"{t['median']:.3f} | {t['min']:.3f} | {t['max']:.3f} |", ""]
    if "left_behind" in res:
        left = res["left_behind"]
        for extra in (idlebench.markdown(res), tlsbench.markdown(res), rolloutbench.markdown(res),
                      meterbench.markdown(res)):
            if extra:
                lines += [extra]
        lines += ["## Cleanup", "",
                  "Nothing left behind (runc containers, tenants and their processes, "
                  "daemons, network namespaces, cgroups)." if not left else
                  "**Left behind:** " + "; ".join(left) + ".", ""]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--out", default=os.path.join(TOP, "bench/results"))
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--memory-levels", default="1,100,500")
    ap.add_argument("--only", default="cold,profile,respawn,exec,idle,ingress,tls,rollout,image,health,metering,scrape,batch,memory",
                    help="comma-separated sections to run; they always run in this "
                    "order, the ones that leave many namespaces to tear down last")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("ptbench: run as root")
    only = args.only.split(",")
    # Daemons inherit it (and raise their soft limit to the hard one).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = Ctx(args)
    commit = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    res = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "commit": commit,
           "runs": args.runs, "warmup": args.warmup, "machine": machine()}
    t_start = time.monotonic()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sys.exit(130))
    try:
        ctx.prepare()
        ctx.main = ctx.imported_daemon(
            VARIANTS[0][1], use=f"{VARIANTS[0][0]}: cold start, create + start, respawn, "
            "exec, many at once")
        # runc and bwrap use the very rootfs the first daemon imported.
        ctx.rootfs = os.path.join(ctx.main.state, "blueprints/bench/1/rootfs")
        ctx.runc = Runc(ctx.work, ctx.rootfs)
        if "cold" in only:
            log("cold start")
            res["cold"] = bench_cold(ctx)
        if "profile" in only:
            log("profile")
            res["profile"] = bench_profile(ctx)
        if "respawn" in only:
            log("respawn")
            res["respawn"] = bench_respawn(ctx)
        if "exec" in only:
            log("exec")
            res["exec"] = bench_exec(ctx)
        if "idle" in only:
            log("idle tenants, woken through the ingress")
            res["idle"] = idlebench.bench_idle(ctx)
        if "ingress" in only:
            log("ptenant-ingress and nginx")
            res["ingress"] = idlebench.bench_ingress(ctx)
        if "tls" in only:
            log("HTTPS: ptenant-ingress and nginx terminating TLS")
            res["tls"] = tlsbench.bench_tls(ctx)
        if "rollout" in only:
            log("rollouts: 200 tenants, a healthy version and a bad one")
            res["rollout"] = rolloutbench.bench_rollout(ctx)
        if "image" in only:
            log("import of a real multi-layer OCI image")
            res["image"] = rolloutbench.bench_image(ctx)
        if "health" in only:
            log("health checks: what they cost the daemon")
            res["health"] = rolloutbench.bench_health(ctx)
        if "metering" in only:
            log("metering: accuracy against our clock and the cgroup")
            res["metering"] = meterbench.bench_metering(ctx)
        if "scrape" in only:
            log("a Prometheus scrape of 1,000 tenants")
            res["scrape"] = meterbench.bench_scrape(ctx)
        if "batch" in only:
            log(f"{args.batch} at once")
            res["batch"] = bench_batch(ctx, args.batch)
        if "memory" in only:
            log("memory")
            res["memory"] = bench_memory(ctx, [int(x) for x in args.memory_levels.split(",")])
    finally:
        res["daemons"] = [d.info() for d in ctx.daemons]
        ctx.cleanup()
        res["left_behind"] = ctx.left
    res["seconds"] = round(time.monotonic() - t_start, 1)
    res["machine"]["loadavg_at_end"] = os.getloadavg()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "latest.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = markdown(res) + (f"\nWhole run: {res['seconds']} s; load average at the end "
                          f"{res['machine']['loadavg_at_end'][0]:.2f}.\n")
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
