# Shared helpers for the ptenant integration suite (bats, run as root).
#
#   PTENANT_BUILD=/path/to/build bats tests/integration/
#
# Environment:
#   PTENANT_BUILD           meson build dir holding src/ptenantd/ptenantd,
#                           src/ptenant/ptenant and src/init/ptenant-init
#                           (default: the source tree's build/)
#   PTENANT_TEST_BLUEPRINT  a ready blueprint dir (manifest.json + rootfs/);
#                           default: one built once per bats run
#   PTENANT_TEST_KEEP=1     keep each daemon's temp dir (for post-mortems)
#
# A file's daemon lives in a throwaway dir from mktemp -d; everything a test
# needs to find again (the daemon's pid, the tenant pids seen) is kept in
# files there, because bats runs each test in its own process and variables
# set by one test never reach the next.
#
# Nothing here kills by name: the daemon by the pid recorded when we started
# it, tenant processes by the host pid that `ptenant --json ls` reported,
# and only while that pid still has the start time it had then. Each
# daemon gets a uid base of its own in the test uid space
# (../lib/tenant-procs.sh), so teardown also finds, by uid, any tenant
# process the daemon lost: that part needs neither the daemon nor jq.

# run -N and run ! are used.
bats_require_minimum_version 1.5.0

PTENANT_SRC=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
PTENANT_BUILD=${PTENANT_BUILD:-$PTENANT_SRC/build}
PTENANTD_BIN=$PTENANT_BUILD/src/ptenantd/ptenantd
PTENANT_BIN=$PTENANT_BUILD/src/ptenant/ptenant
PTENANT_INIT_BIN=$PTENANT_BUILD/src/init/ptenant-init
PTENANT_MKBLUEPRINT=$PTENANT_SRC/rootfs-tools/ptenant-mkblueprint
BLUEPRINT_REF=echo-bot@1
# shellcheck source=../lib/tenant-procs.sh
. "$PTENANT_SRC/tests/lib/tenant-procs.sh"

# ---- generic ---------------------------------------------------------------

# Prints why the suite cannot run, to fd 3 so bats shows it, and fails.
die() {
	echo "# helpers: $*" >&3
	echo "helpers: $*" >&2
	return 1
}

now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# wait_for [-t SECONDS] CMD [ARG]...: runs CMD every 50 ms until it
# succeeds (returns 0) or SECONDS (default 5, fractions allowed) have
# passed since the first try (returns 1, after one last try). The deadline
# is wall-clock time, so a slow CMD does not stretch it.
wait_for() {
	local timeout=5
	if [[ $1 == -t ]]; then
		timeout=$2
		shift 2
	fi
	local ms
	ms=$(awk -v t="$timeout" 'BEGIN { printf "%d", t * 1000 }')
	local deadline=$(($(now_ms) + ms))
	while :; do
		"$@" && return 0
		(($(now_ms) >= deadline)) && break
		sleep 0.05
	done
	"$@"
}

# The start time (field 22 of /proc/PID/stat, clock ticks since boot), or
# nothing if there is no such process. Fields are counted after the last
# ')' so a command name with spaces cannot shift them.
pid_starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	echo "${20}"
}

# True while PID exists and has not exited (a zombie counts as exited).
pid_alive() {
	local state
	[[ $1 =~ ^[0-9]+$ && $1 -gt 0 ]] || return 1
	state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
	[[ -n $state && $state != Z && $state != X ]]
}

pid_dead() {
	! pid_alive "$1"
}

# Remembers a tenant host pid (with its start time) so cleanup can kill it
# if the daemon could not stop it (or was not running).
track_pid() {
	local st
	[[ -n ${PT_DIR:-} && $1 =~ ^[0-9]+$ && $1 -gt 0 ]] || return 0
	st=$(pid_starttime "$1") || return 0
	echo "$1 $st" >>"$PT_DIR/tenant-pids"
}

# Kills PID with SIGNAL only if it still is the process we recorded.
kill_tracked() {
	local sig=$1 pid=$2 st=$3 now
	now=$(pid_starttime "$pid") || return 0
	[[ $now == "$st" ]] || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
}

# The recorded process has exited (or its pid now belongs to another).
tracked_gone() {
	pid_dead "$1" || [[ $(pid_starttime "$1") != "$2" ]]
}

# ---- blueprint -------------------------------------------------------------

# Sets PT_BLUEPRINT to a blueprint dir, building it once per bats run (all
# files share it: under BATS_RUN_TMPDIR, which bats removes at the end).
ensure_blueprint() {
	if [[ -n ${PTENANT_TEST_BLUEPRINT:-} ]]; then
		[[ -f $PTENANT_TEST_BLUEPRINT/manifest.json && -d $PTENANT_TEST_BLUEPRINT/rootfs ]] ||
			die "PTENANT_TEST_BLUEPRINT=$PTENANT_TEST_BLUEPRINT has no manifest.json and rootfs/"
		export PT_BLUEPRINT=$PTENANT_TEST_BLUEPRINT
		return 0
	fi
	local cache=${BATS_RUN_TMPDIR:-$BATS_FILE_TMPDIR}/echo-bot-blueprint
	(
		# Serialised in case the files run in parallel (bats --jobs).
		flock 9
		if [[ ! -f $cache/manifest.json ]]; then
			"$PTENANT_MKBLUEPRINT" "$cache" >"$cache.log" 2>&1 ||
				die "ptenant-mkblueprint $cache failed: $(cat "$cache.log")"
		fi
	) 9>"$cache.lock" || return 1
	export PT_BLUEPRINT=$cache
}

check_prereqs() {
	[[ $(id -u) -eq 0 ]] || die "the integration suite must run as root"
	local b
	for b in "$PTENANTD_BIN" "$PTENANT_BIN" "$PTENANT_INIT_BIN"; do
		[[ -x $b ]] || die "$b is missing: build first (meson setup BUILD && ninja -C BUILD) and set PTENANT_BUILD=BUILD"
	done
	command -v jq >/dev/null || die "jq is needed"
	command -v python3 >/dev/null || die "python3 is needed"
}

# ---- daemon ----------------------------------------------------------------

# Creates the throwaway dir and exports the paths every test uses.
new_daemon_dir() {
	PT_DIR=$(mktemp -d /tmp/ptenant-it.XXXXXX) || die "mktemp failed"
	export PT_DIR
	export PT_STATE=$PT_DIR/state
	export PT_RUN=$PT_DIR/run
	export PT_SOCK=$PT_RUN/ptenantd.sock
	export PT_LOG=$PT_DIR/daemon.log
	# An empty config of our own: a host's /etc/ptenant/ptenantd.conf
	# must not change what the suite runs against.
	export PT_CONF=$PT_DIR/ptenantd.conf
	: >"$PT_CONF"
	: >"$PT_DIR/tenant-pids"
	pt_test_uid_base >"$PT_DIR/uid-base"
}

# The options every ptenantd of the suite runs with: its own uid base,
# the API for root only, no cgroups, the throwaway dirs.
# Sets DAEMON_ARGS.
set_daemon_args() {
	DAEMON_ARGS=(-c "$PT_CONF" --api-group "" --cgroup-mode off --uid-base "$(cat "$PT_DIR/uid-base")"
		--state-dir "$PT_STATE" --runtime-dir "$PT_RUN")
}

daemon_pid() {
	local pid st
	read -r pid st 2>/dev/null <"$PT_DIR/daemon.pid" || return 1
	echo "$pid"
}

daemon_alive() {
	local pid st
	read -r pid st 2>/dev/null <"$PT_DIR/daemon.pid" || return 1
	pid_alive "$pid" && [[ $(pid_starttime "$pid") == "$st" ]]
}

daemon_answers() {
	"$PTENANT_BIN" --socket "$PT_SOCK" ls >/dev/null 2>&1
}

# start_daemon [PTENANTD_OPTION]...: starts ptenantd on $PT_DIR (which
# keeps its state: call it again after stop_daemon to restart on the same
# state) and waits until the API answers. Extra environment for the daemon
# goes before the call: FOO=bar start_daemon.
start_daemon() {
	[[ -n ${PT_DIR:-} ]] || new_daemon_dir || return 1
	echo "=== ptenantd start $(date +%T.%N)" >>"$PT_LOG"
	# fd 3 closed: bats waits for it, and the daemon outlives the test.
	set_daemon_args
	"$PTENANTD_BIN" "${DAEMON_ARGS[@]}" "$@" </dev/null >>"$PT_LOG" 2>&1 3>&- &
	local pid=$!
	echo "$pid $(pid_starttime "$pid")" >"$PT_DIR/daemon.pid"
	if ! wait_for -t 5 daemon_up || ! daemon_alive; then
		echo "ptenantd (pid $pid) did not come up on $PT_SOCK; its log:" >&2
		cat "$PT_LOG" >&2
		return 1
	fi
}

# For wait_for: the API answers. Also "true" when the daemon has died, to
# stop waiting for what can no longer come (the caller checks which).
daemon_up() {
	daemon_alive || return 0
	daemon_answers
}

# SIGTERM to the daemon we started (by its recorded pid), then wait for it
# to exit; SIGKILL if it has not after 5 s.
stop_daemon() {
	local pid st
	read -r pid st 2>/dev/null <"$PT_DIR/daemon.pid" || return 0
	kill_tracked TERM "$pid" "$st"
	if ! wait_for -t 5 pid_dead "$pid"; then
		echo "ptenantd $pid ignored SIGTERM; killing it" >&2
		kill_tracked KILL "$pid" "$st"
		wait_for -t 2 pid_dead "$pid"
	fi
	rm -f "$PT_DIR/daemon.pid"
}

# The CLI on our daemon's socket.
pt() {
	"$PTENANT_BIN" --socket "$PT_SOCK" "$@"
}

import_blueprint() {
	pt blueprint import "$BLUEPRINT_REF" "$PT_BLUEPRINT" >/dev/null ||
		die "blueprint import $BLUEPRINT_REF $PT_BLUEPRINT failed"
}

# One daemon with the blueprint imported: what most setup_file need.
setup_daemon() {
	check_prereqs || return 1
	ensure_blueprint || return 1
	new_daemon_dir || return 1
	start_daemon "$@" || return 1
	import_blueprint
}

# Removes every tenant through the daemon (restarting it if a test left it
# stopped; the slugs come from the state dir, so this needs no jq), stops
# the daemon, kills any tenant process we saw that is still there, then
# any process left in this daemon's uid slot (one the daemon lost track
# of), and removes the temp dir. Fails, naming them, if tenant processes
# were left: a test run must not leave orphans behind.
cleanup_daemon() {
	[[ -n ${PT_DIR:-} && -d $PT_DIR ]] || return 0
	local slug pid st base left
	if ! daemon_alive; then
		start_daemon >/dev/null 2>&1 || true
	fi
	if daemon_alive; then
		for slug in $(ls "$PT_STATE/tenants" 2>/dev/null); do
			pt rm "$slug" >/dev/null 2>&1 || true
		done
		stop_daemon
	fi
	while read -r pid st; do
		[[ -n $pid ]] && kill_tracked KILL "$pid" "$st"
	done <"$PT_DIR/tenant-pids"
	while read -r pid st; do
		[[ -n $pid ]] && { wait_for -t 2 tracked_gone "$pid" "$st" || true; }
	done <"$PT_DIR/tenant-pids"
	base=$(cat "$PT_DIR/uid-base" 2>/dev/null) || base=''
	if [[ -n $base ]] && ! left=$(kill_uid_range "$base" $((base + PT_TEST_UID_SPAN))); then
		echo "# cleanup: tenant processes were left running (now killed): $(echo $left)" >&3
		echo "cleanup: tenant processes were left running (now killed): $(echo $left)" >&2
	fi
	if [[ ${PTENANT_TEST_KEEP:-} == 1 ]]; then
		echo "# kept $PT_DIR" >&3
	else
		rm -rf -- "$PT_DIR"
	fi
	[[ -z ${left:-} ]]
}

# ---- tenants ---------------------------------------------------------------

# The tenant's summary from `ptenant --json ls` (compact JSON), or nothing.
tenant_json() {
	pt --json ls | jq -c --arg s "$1" '.[] | select(.slug == $s)'
}

# tenant_field SLUG JQ-PATH: e.g. tenant_field acme .last_exit.code
tenant_field() {
	pt --json ls | jq -r --arg s "$1" ".[] | select(.slug == \$s) | $2 // empty"
}

tenant_state() {
	tenant_field "$1" .state
}

# The host pid of the tenant's init (0 when not running); recorded for
# cleanup.
tenant_pid() {
	local pid
	pid=$(tenant_field "$1" .pid)
	track_pid "$pid"
	echo "${pid:-0}"
}

state_is() {
	[[ $(tenant_state "$1") == "$2" ]]
}

# For wait_for: running with a pid other than $2 (0 = any).
running_with_new_pid() {
	local j state pid
	j=$(tenant_json "$1") || return 1
	state=$(jq -r .state <<<"$j")
	pid=$(jq -r .pid <<<"$j")
	[[ $state == running && $pid -gt 0 && $pid != "${2:-0}" ]]
}

# The echo-bot inside answers its health check.
bot_ready() {
	pt exec "$1" -- wget -qO- http://127.0.0.1:8080/healthz 2>/dev/null | grep -qx ok
}

wait_running() {
	wait_for running_with_new_pid "$1" 0 || {
		echo "tenant $1 is not running: $(tenant_json "$1")" >&2
		return 1
	}
	tenant_pid "$1" >/dev/null
}

wait_bot() {
	wait_running "$1" || return 1
	if ! wait_for bot_ready "$1"; then
		echo "echo-bot in $1 does not answer; logs:" >&2
		pt logs "$1" >&2
		return 1
	fi
}

# create_tenant SLUG [CREATE-OPTION]...: creates from the test blueprint and
# waits for the bot to answer.
create_tenant() {
	local slug=$1
	shift
	pt create "$slug" --blueprint "$BLUEPRINT_REF" "$@" >/dev/null || return 1
	wait_bot "$slug"
}

# The page of the bot, fetched from inside the tenant.
bot_page() {
	pt exec "$1" -- wget -qO- http://127.0.0.1:8080/
}

# The tenant's journal as compact JSON lines.
events_of() {
	pt --json events "$1" | jq -c '.[]'
}

# has_event SLUG EVENT [REASON [CODE]]: the journal has such a record.
has_event() {
	pt --json events "$1" | jq -e --arg e "$2" --arg r "${3:-}" --arg c "${4:-}" '
		any(.[]; .event == $e
			and ($r == "" or .reason == $r)
			and ($c == "" or (.code | tostring) == $c))' >/dev/null
}

# The child processes (host pids) of the tenant's init: the entrypoint.
init_children() {
	pgrep -P "$1" || true
}

# The tenant's uid_map (or gid_map) as "inside outside count", spaces
# squeezed.
id_map_of() {
	pt exec "$1" -- cat "/proc/self/$2" | awk '{ print $1, $2, $3 }'
}

# Talks to the API socket directly. raw_request DATA sends DATA plus a
# newline; raw_request --big N sends N bytes of 'a' without a newline.
# Prints the first reply line (or nothing if the daemon closed without one).
raw_request() {
	python3 - "$PT_SOCK" "$@" <<'EOF'
import socket, sys, threading
path = sys.argv[1]
if sys.argv[2] == "--big":
    data = b"a" * int(sys.argv[3])
else:
    data = sys.argv[2].encode() + b"\n"
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(path)
def send():
    try:
        s.sendall(data)
    except OSError:
        pass  # the daemon may hang up on an oversized request
t = threading.Thread(target=send, daemon=True)
t.start()
buf = b""
while b"\n" not in buf:
    try:
        chunk = s.recv(65536)
    except OSError:
        break
    if not chunk:
        break
    buf += chunk
sys.stdout.write(buf.split(b"\n", 1)[0].decode(errors="replace"))
if buf:
    sys.stdout.write("\n")
EOF
}
