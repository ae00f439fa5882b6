#!/bin/bash
# The systemd tier's guest suite: runs as root inside the VM that
# tests/systemd/run boots, where systemd 252 is pid 1 (cgroup v2, unified)
# and ptenantd.service (installed from the build, enabled) was started at
# boot. Prints TAP, the plan at the end.
#   guest.sh DIR 1    the first boot: everything, then two tenants for
#                     the reboot check; the caller reboots the VM
#   guest.sh DIR 2    after the reboot: the tenants came back per policy
# DIR holds the blueprint echo-bot@1/. The TAP numbering goes on across
# the reboot (the counts are kept in /var/lib/ptenant-test); the plan is
# printed at the end of phase 2.
#
# The checks are meant to be independent: each one that needs the daemon
# or the tenant first makes sure they are there (ensure_daemon,
# ensure_tenant), so a failed restart does not take the later checks down
# with it. Every failed check prints diagnostics as "# " lines, with the
# tail of `systemctl status ptenantd`.
set -u
dir=${1:-/opt/ptenant-test}
phase=${2:-1}
bp=$dir/echo-bot@1
keep=/var/lib/ptenant-test
mkdir -p "$keep"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_PAGER= SYSTEMD_COLORS=0

# fd 3: straight to the TAP stream, also from inside a check (whose
# output is captured for its diagnostics).
exec 3>&1
n=0
failed=0
[[ $phase == 1 ]] || read -r n failed <"$keep/counts"
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
diag() { sed 's/^/# /'; }
status_diag() {
	echo "ptenantd status:" | diag
	systemctl status ptenantd --no-pager -n 0 2>&1 | tail -n 12 | diag
	echo "ptenantd journal:" | diag
	journalctl -u ptenantd --no-pager -n 8 -o short-monotonic 2>&1 | diag
	# systemd's forked child logs why a start failed (e.g. "Failed to
	# attach to cgroup") with UNIT=, which -u does not match.
	echo "errors about ptenantd.service in this boot's journal:" | diag
	journalctl -b -p err --no-pager -o short-monotonic UNIT=ptenantd.service 2>&1 |
		grep -v 'Failed to start ptenantd' | tail -n 3 | diag
}
# check DESCRIPTION FUNCTION [ARG...]: the function prints what went wrong
# on failure (kept for the diagnostics) and returns non-zero.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		not_ok "$desc"
		[[ -z $out ]] || printf '%s\n' "$out" | diag
		status_diag
	fi
}
# wait_for SECONDS COMMAND...: polls the command every 0.2 s.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep 0.2
	done
}

# Every ptenant call is bounded: a daemon that stops answering must fail
# the check that met it, with a picture of where it is stuck, and not
# hang the suite until the host's qemu timeout (which shows nothing).
hang_diag() {
	local pid p
	echo "# hang: ptenant $* did not return in ${PTENANT_CALL_TIMEOUT}s; where ptenantd and its children are:" >&3
	pid=$(main_pid)
	ps -eo pid,ppid,stat,wchan:24,etime,time,args --forest 2>&1 | grep -v ' \[' | tail -n 25 | diag >&3
	for p in $pid $(pgrep -P "${pid:-1}" 2>/dev/null); do
		[[ -d /proc/$p ]] || continue
		echo "pid $p ($(cat "/proc/$p/comm" 2>/dev/null)): state $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null), syscall $(cut -d' ' -f1 "/proc/$p/syscall" 2>/dev/null)" | diag >&3
		cat "/proc/$p/stack" 2>/dev/null | head -n 12 | diag >&3
		ls -l "/proc/$p/fd" 2>/dev/null | awk 'NR > 1 { print $9, $10, $11 }' | head -n 30 | diag >&3
	done
	journalctl -u ptenantd --no-pager -n 15 -o short-monotonic 2>&1 | diag >&3
	dmesg 2>/dev/null | tail -n 10 | diag >&3
}
PTENANT_CALL_TIMEOUT=60
ptenant() {
	local rc=0
	timeout -k 5 "$PTENANT_CALL_TIMEOUT" /usr/bin/ptenant "$@" || rc=$?
	((rc != 124 && rc != 137)) || hang_diag "$@"
	return "$rc"
}

main_pid() { systemctl show -p MainPID --value ptenantd; }
is_active() { [[ $(systemctl is-active ptenantd) == active ]]; }
# Not on the way anywhere (starting, stopping, waiting to restart).
settled() { [[ ! $(systemctl is-active ptenantd) =~ ^(activating|deactivating|reloading)$ ]]; }
tenant_field() { ptenant --json ls 2>/dev/null | jq -r --arg s "$1" ".[] | select(.slug == \$s) | .$2"; }
tenant_running() { [[ $(tenant_field acme state) == running ]]; }
api_answers() { ptenant ls >/dev/null 2>&1; }

# The daemon up, whatever the check before did to it: reset-failed and
# start it. When even that fails (the restart bug: systemd cannot attach a
# new process to the unit's cgroup while the tenants' cgroups sit below
# it with controllers enabled), kill what is left in the unit's cgroup,
# remove its child cgroups and start it again, so that the next check
# starts from a clean service (the tenant is then created again).
ensure_daemon() {
	wait_for 30 settled
	is_active && wait_for 10 api_answers && return 0
	systemctl reset-failed ptenantd 2>/dev/null
	systemctl start ptenantd 2>/dev/null && wait_for 10 api_answers && return 0
	echo "# recovery: ptenantd does not start again; killing what is left in its unit's cgroup and starting it afresh" >&3
	local cg=/sys/fs/cgroup/system.slice/ptenantd.service
	# stop: no automatic restart in between.
	systemctl stop ptenantd 2>/dev/null
	systemctl kill -s KILL --kill-who=all ptenantd 2>/dev/null
	if [[ -d $cg ]]; then
		find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null
		sleep 0.5
		find "$cg" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
	fi
	systemctl reset-failed ptenantd 2>/dev/null
	systemctl start ptenantd 2>/dev/null && wait_for 10 api_answers
}

# The tenant acme running: it was created by the create check; after a
# hard recovery it may have to be started (or created) again.
ensure_tenant() {
	ensure_daemon || return 1
	wait_for 10 tenant_running && return 0
	if [[ -z $(tenant_field acme slug) ]]; then
		ptenant create acme --blueprint echo-bot@1 --memory 64M --cpu 0.5 --pids 64 >/dev/null 2>&1
	else
		ptenant start acme >/dev/null 2>&1
	fi
	wait_for 20 tenant_running
}

# ---- phase 2: after the reboot ------------------------------------------

if [[ $phase == 2 ]]; then
	t_reboot_running() {
		wait_for 30 is_active || { echo "ptenantd is $(systemctl is-active ptenantd) after the reboot"; return 1; }
		wait_for 10 api_answers || return 1
		keep_running() { [[ $(tenant_field boot-keep state) == running ]]; }
		wait_for 30 keep_running || { echo "boot-keep is $(tenant_field boot-keep state)"; ptenant --json ls; return 1; }
		local pid old
		pid=$(tenant_field boot-keep pid) old=$(cat "$keep/boot-keep.pid")
		[[ $pid != "$old" ]] || { echo "boot-keep has its pid of before the reboot ($pid)?"; return 1; }
		cg=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
		[[ $cg == /ptenant.slice/ptenant-tenants.scope/tenant-boot-keep ]] ||
			{ echo "boot-keep runs in $cg"; return 1; }
	}
	check "after a reboot, a running tenant (restart always) runs again, in ptenant-tenants.scope" t_reboot_running

	t_reboot_stopped() {
		[[ $(tenant_field boot-halt state) == stopped ]] ||
			{ echo "boot-halt is $(tenant_field boot-halt state)"; return 1; }
	}
	check "after a reboot, a tenant the operator stopped stays stopped" t_reboot_stopped

	t_shutdown_clean() {
		local prev
		(($(journalctl --list-boots --no-pager 2>/dev/null | wc -l) >= 2)) ||
			{ echo "no journal of the boot before"; journalctl --list-boots --no-pager; return 1; }
		prev=$(journalctl -b -1 --no-pager -o cat -u ptenant-tenants.scope 2>&1)
		echo "# the scope at the last shutdown: $(grep -iE 'stopp|timed out|kill|deactivated' <<<"$prev" | tr '\n' ' ' | cut -c1-300)" >&3
		! grep -qiE 'timed out|killing' <<<"$prev" ||
			{ echo "the scope's stop at the last shutdown hit its timeout:"; echo "$prev"; return 1; }
	}
	check "the last shutdown stopped ptenant-tenants.scope without its stop timeout (daemon first)" t_shutdown_clean

	t_reboot_journal() {
		journalctl -b -u ptenantd PTENANT_TENANT=boot-keep -o cat --no-pager | grep -qE 'exit|respawn|start' ||
			{ echo "no record of boot-keep's restart in this boot's journal"; return 1; }
	}
	check "the journal of this boot records boot-keep's restart" t_reboot_journal

	echo "1..$n"
	((failed == 0))
	exit
fi

# ---- the service as booted -----------------------------------------------

t_active() {
	wait_for 30 is_active || { echo "ptenantd is $(systemctl is-active ptenantd) after boot"; return 1; }
	systemctl is-enabled ptenantd | grep -qx enabled || { echo "ptenantd is not enabled"; return 1; }
}
check "ptenantd.service is enabled and active after boot" t_active

t_mainpid() {
	local pid
	pid=$(main_pid)
	[[ $pid =~ ^[0-9]+$ && $pid -gt 0 ]] || { echo "MainPID=$pid"; return 1; }
	[[ $(cat "/proc/$pid/comm" 2>/dev/null) == ptenantd ]] ||
		{ echo "MainPID $pid is '$(cat "/proc/$pid/comm" 2>/dev/null)', not ptenantd"; return 1; }
}
check "systemctl show -p MainPID names a ptenantd process" t_mainpid

t_verify() {
	local err
	err=$(systemd-analyze verify /usr/lib/systemd/system/ptenantd.service 2>&1 >/dev/null) ||
		{ echo "systemd-analyze verify failed: $err"; return 1; }
	[[ -z $err ]] || { echo "systemd-analyze verify printed on stderr: $err"; return 1; }
}
check "systemd-analyze verify ptenantd.service is clean" t_verify

t_cgroup_v2() {
	[[ $(stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]] || { echo "/sys/fs/cgroup is $(stat -f -c %T /sys/fs/cgroup)"; return 1; }
	local cg
	cg=$(awk -F: '$1 == "0" { print $3 }' "/proc/$(main_pid)/cgroup")
	[[ $cg == /system.slice/ptenantd.service || $cg == /system.slice/ptenantd.service/* ]] ||
		{ echo "ptenantd runs in $cg, not in its unit's cgroup"; return 1; }
}
check "cgroup v2 (unified), ptenantd in its unit's cgroup" t_cgroup_v2

# ---- a tenant with budgets ------------------------------------------------

t_import() {
	ptenant blueprint import echo-bot@1 "$bp" && ptenant blueprint ls | grep -q echo-bot
}
check "ptenant blueprint import echo-bot@1" t_import

t_create() {
	ptenant create acme --blueprint echo-bot@1 --memory 64M --cpu 0.5 --pids 64 &&
		wait_for 30 tenant_running ||
		{ echo "acme: state '$(tenant_field acme state)'"; ptenant --json ls; return 1; }
}
check "ptenant create acme (64M, 0.5 cpu, 64 pids) reaches running" t_create

# The tenant's cgroup, from its host pid in ptenant --json ls.
tenant_cgroup() {
	local pid
	pid=$(tenant_field acme pid)
	[[ $pid =~ ^[0-9]+$ && $pid -gt 0 ]] || { echo "acme has no pid ($pid)" >&2; return 1; }
	awk -F: '$1 == "0" { print "/sys/fs/cgroup" $3 }' "/proc/$pid/cgroup"
}

t_memory_max() {
	local cg v
	cg=$(tenant_cgroup) || return 1
	v=$(cat "$cg/memory.max") || return 1
	[[ $v == 67108864 ]] || { echo "$cg/memory.max = $v, want 67108864"; return 1; }
}
check "the tenant's cgroup has memory.max = 67108864" t_memory_max

t_cpu_pids() {
	local cg
	cg=$(tenant_cgroup) || return 1
	echo "# the tenant's cgroup: ${cg#/sys/fs/cgroup}" >&3
	[[ $(cat "$cg/cpu.max") == "50000 100000" ]] || { echo "cpu.max = $(cat "$cg/cpu.max")"; return 1; }
	[[ $(cat "$cg/pids.max") == 64 ]] || { echo "pids.max = $(cat "$cg/pids.max")"; return 1; }
}
check "the tenant's cgroup has cpu.max 50000 100000 and pids.max 64" t_cpu_pids

t_journal() {
	local out
	journal_has_create() {
		out=$(journalctl -u ptenantd PTENANT_TENANT=acme --no-pager -o cat 2>&1)
		grep -q 'create' <<<"$out"
	}
	wait_for 10 journal_has_create ||
		{ echo "journalctl -u ptenantd PTENANT_TENANT=acme shows no create event:"; echo "$out"; return 1; }
	[[ -z $(journalctl -u ptenantd PTENANT_TENANT=nosuchtenant --no-pager -o cat 2>/dev/null | grep -v '^-- No entries --$') ]] ||
		{ echo "PTENANT_TENANT=nosuchtenant matches entries"; return 1; }
}
check "journalctl -u ptenantd PTENANT_TENANT=acme shows the create event" t_journal

# ---- the API socket and the ptenant group --------------------------------

id ptenant-member >/dev/null 2>&1 || useradd -M -N -G ptenant ptenant-member
id ptenant-outsider >/dev/null 2>&1 || useradd -M -N ptenant-outsider

t_socket_mode() {
	local s=/run/ptenant/ptenantd.sock
	[[ -S $s ]] || { echo "no socket $s"; return 1; }
	[[ $(stat -c '%a %U %G' "$s") == "660 root ptenant" ]] || { echo "$s is $(stat -c '%a %U %G' "$s")"; return 1; }
}
check "the API socket is 0660 root:ptenant (group from sysusers)" t_socket_mode

t_member() {
	ensure_daemon || return 1
	runuser -u ptenant-member -- ptenant ls
}
check "a member of group ptenant reaches the API (ptenant ls)" t_member

t_outsider() {
	local out
	ensure_daemon || return 1
	if out=$(runuser -u ptenant-outsider -- ptenant ls 2>&1); then
		echo "ptenant-outsider could use the API: $out"
		return 1
	fi
	grep -qiE 'permission denied|EACCES' <<<"$out" || { echo "unexpected error for the outsider: $out"; return 1; }
}
check "a user outside group ptenant is refused (permission denied)" t_outsider

# ---- restarts: the tenant lives on, the API comes back --------------------
# With the daemon as of this suite's writing these three fail: systemd
# 252 cannot attach the new ptenantd to its unit's cgroup once the daemon
# has enabled controllers there ("Failed to attach to cgroup
# /system.slice/ptenantd.service: Device or resource busy", 219/CGROUP).
# With cgroup_parent = /ptenant in ptenantd.conf (tenants outside the
# unit) all three pass, which is how the checks themselves were tried.
# The tenant's pid before, compared after: the same process must still
# run (live restore), not a respawned one.

# after_restart OLD_MAIN_PID TENANT_PID: the daemon is active with a new
# main pid, the tenant still runs as TENANT_PID and the API answers.
after_restart() {
	local old_main=$1 tpid=$2 main
	wait_for 30 settled
	is_active || { echo "ptenantd is $(systemctl is-active ptenantd)"; return 1; }
	main=$(main_pid)
	[[ $main != "$old_main" && $main != 0 ]] || { echo "MainPID $main (was $old_main)"; return 1; }
	wait_for 10 api_answers || { echo "the API does not answer"; ptenant ls; return 1; }
	kill -0 "$tpid" 2>/dev/null || { echo "tenant pid $tpid is gone"; return 1; }
	[[ $(tenant_field acme pid) == "$tpid" ]] || { echo "acme pid is $(tenant_field acme pid), was $tpid"; return 1; }
	tenant_running || { echo "acme is $(tenant_field acme state)"; return 1; }
}

t_restart() {
	local main tpid
	ensure_tenant || { echo "setup: no running tenant acme"; return 1; }
	main=$(main_pid) tpid=$(tenant_field acme pid)
	systemctl restart ptenantd || { echo "systemctl restart ptenantd failed"; return 1; }
	after_restart "$main" "$tpid"
}
check "systemctl restart ptenantd: the tenant keeps its pid, the API answers" t_restart

t_stop_start() {
	local main tpid
	ensure_tenant || { echo "setup: no running tenant acme"; return 1; }
	main=$(main_pid) tpid=$(tenant_field acme pid)
	systemctl stop ptenantd || { echo "systemctl stop ptenantd failed"; return 1; }
	kill -0 "$tpid" 2>/dev/null || { echo "tenant pid $tpid died with the stop"; return 1; }
	systemctl start ptenantd || { echo "systemctl start ptenantd failed"; return 1; }
	after_restart "$main" "$tpid"
}
check "systemctl stop + start ptenantd: the tenant keeps its pid, the API answers" t_stop_start

t_kill9() {
	local main tpid
	ensure_tenant || { echo "setup: no running tenant acme"; return 1; }
	main=$(main_pid) tpid=$(tenant_field acme pid)
	kill -9 "$main" || return 1
	# Restart=on-failure: systemd starts it again by itself (or gives
	# up: failed).
	restarted_or_failed() {
		local s
		s=$(systemctl is-active ptenantd)
		[[ $s == failed ]] || [[ $s == active && $(main_pid) != "$main" && $(main_pid) != 0 ]]
	}
	wait_for 30 restarted_or_failed && is_active ||
		{ echo "ptenantd not restarted after kill -9 (is $(systemctl is-active ptenantd))"; return 1; }
	after_restart "$main" "$tpid"
}
check "kill -9 of ptenantd: systemd restarts it, the tenant keeps its pid" t_kill9

# ---- where tenants live, logging, sandboxing -----------------------------

t_scope() {
	ensure_tenant || return 1
	systemctl is-active ptenant-tenants.scope | grep -qx active ||
		{ echo "ptenant-tenants.scope is $(systemctl is-active ptenant-tenants.scope)"; return 1; }
	systemctl status ptenant-tenants.scope --no-pager 2>&1 | grep -q 'tenant-acme' ||
		{ echo "systemctl status ptenant-tenants.scope does not show tenant-acme:"; systemctl status ptenant-tenants.scope --no-pager; return 1; }
	[[ $(systemctl show -p TasksMax --value ptenant-tenants.scope) == infinity ]] ||
		{ echo "TasksMax of the scope: $(systemctl show -p TasksMax --value ptenant-tenants.scope)"; return 1; }
	[[ $(systemctl show -p TasksMax --value ptenantd) == infinity ]] ||
		{ echo "TasksMax of ptenantd: $(systemctl show -p TasksMax --value ptenantd)"; return 1; }
	echo "# $(journalctl -u ptenantd -b --no-pager -o cat | grep -m1 "tenants' cgroup" || echo "no scope line in the journal")" >&3
}
check "tenants live in ptenant-tenants.scope (systemctl status shows them), TasksMax=infinity" t_scope

t_logged_once() {
	local c
	c=$(journalctl -u ptenantd -b --no-pager -o cat | grep -c 'acme: create')
	[[ $c == 1 ]] || { echo "'acme: create' is logged $c times under -u ptenantd"; journalctl -u ptenantd -b --no-pager -o cat | grep 'acme: create'; return 1; }
}
check "each event is logged once under journald (no plain stderr copy)" t_logged_once

t_fields_absent() {
	local j
	j=$(journalctl -u ptenantd -b --no-pager -o json PTENANT_EVENT=blueprint-import | tail -1)
	[[ -n $j ]] || { echo "no blueprint-import entry"; return 1; }
	jq -e 'has("PTENANT_TENANT") or has("PTENANT_REASON") or has("PTENANT_EXIT_CODE") | not' <<<"$j" >/dev/null ||
		{ echo "blueprint-import carries empty fields: $j"; return 1; }
}
check "a daemon event has no empty PTENANT_TENANT/REASON fields" t_fields_absent

t_signal_field() {
	local init bot j
	# A tenant of this daemon's own: one it adopted after a restart is no
	# child of it, and its exit status is then unknown (reason unknown).
	ensure_daemon || return 1
	ptenant create sig --blueprint echo-bot@1 --memory 64M >/dev/null || return 1
	sig_running() { [[ $(tenant_field sig state) == running ]]; }
	wait_for 20 sig_running || { echo "sig is $(tenant_field sig state)"; return 1; }
	init=$(tenant_field sig pid)
	wait_for 10 pgrep -P "$init" >/dev/null
	bot=$(pgrep -P "$init" | head -1)
	[[ -n $bot ]] || { echo "no bot under init $init"; return 1; }
	kill -9 "$bot"
	exit_logged() {
		j=$(journalctl -u ptenantd -b --no-pager -o json PTENANT_TENANT=sig PTENANT_EVENT=exit | tail -1)
		[[ -n $j ]]
	}
	wait_for 10 exit_logged || { echo "no exit entry for sig"; return 1; }
	ptenant rm sig >/dev/null 2>&1
	jq -e '.PTENANT_SIGNAL == "9" and .PTENANT_REASON == "signal" and .PRIORITY == "4" and (has("PTENANT_EXIT_CODE") | not)' <<<"$j" >/dev/null ||
		{ echo "exit entry: $j"; return 1; }
}
check "a killed bot's exit has PTENANT_SIGNAL=9 at priority warning" t_signal_field

t_stop_info() {
	local j
	ensure_tenant || return 1
	ptenant stop acme >/dev/null || return 1
	stopped_logged() {
		j=$(journalctl -u ptenantd -b --no-pager -o json PTENANT_TENANT=acme PTENANT_EVENT=stopped | tail -1)
		[[ -n $j ]]
	}
	wait_for 10 stopped_logged || { echo "no stopped entry for acme"; return 1; }
	jq -e '.PRIORITY == "6"' <<<"$j" >/dev/null || { echo "stopped entry: $j"; return 1; }
	ptenant start acme >/dev/null && wait_for 20 tenant_running
}
check "a plain ptenant stop is logged at info, not warning" t_stop_info

t_security_score() {
	local line score
	line=$(systemd-analyze security ptenantd --no-pager 2>&1 | grep -i 'overall exposure level')
	echo "# systemd-analyze security: ${line#*→ }" >&3
	score=$(grep -oE '[0-9]+\.[0-9]+' <<<"$line" | head -1)
	[[ -n $score ]] || { echo "no score in: $line"; return 1; }
	# 9.6 (UNSAFE) before the unit was tuned.
	awk -v s="$score" 'BEGIN { exit !(s < 9.6) }' || { echo "score $score is not below 9.6"; return 1; }
}
check "systemd-analyze security rates the unit below the untuned 9.6" t_security_score

t_security_under_unit() {
	# The unit's own sandboxing, as systemd applies it to ptenantd, around
	# the security tier's daemon and its tenants.
	local props=() p v out rc
	for p in ProtectSystem ProtectHome NoNewPrivileges CapabilityBoundingSet TasksMax; do
		v=$(systemctl show -p "$p" --value ptenantd)
		props+=(-p "$p=$v")
	done
	out=$(systemd-run --quiet --wait --pipe --collect "${props[@]}" \
		env PTENANT_BUILD=/opt/ptenant-test/build PTENANT_PROBE=/opt/ptenant-test/probe \
		bash /opt/ptenant-test/src/tests/security/run.sh </dev/null 2>&1)
	rc=$?
	echo "# under the unit's sandbox: $(grep -m1 '^# security:' <<<"$out" | sed 's/^# //')" >&3
	grep '^not ok\|^Bail' <<<"$out"
	[[ $rc == 0 ]] && grep -qE '^1\.\.[0-9]+$' <<<"$out" && ! grep -q '^not ok\|^Bail' <<<"$out" ||
		{ echo "security tier under ${props[*]}: exit $rc"; tail -5 <<<"$out"; return 1; }
}
check "the security tier passes under the unit's sandboxing (systemd-run with its properties)" t_security_under_unit

t_upgrade() {
	local main tpid
	ensure_tenant || { echo "setup: no running tenant acme"; return 1; }
	main=$(main_pid) tpid=$(tenant_field acme pid)
	# The package over itself: the maintainer scripts of an upgrade
	# (prerm upgrade, postinst configure: restart, never stop first).
	DEBIAN_FRONTEND=noninteractive dpkg -i /opt/ptenant-test/ptenant.deb >/tmp/dpkg-upgrade.log 2>&1 ||
		{ cat /tmp/dpkg-upgrade.log; return 1; }
	after_restart "$main" "$tpid"
}
check "a package upgrade (dpkg -i over itself) restarts ptenantd and keeps the tenant's pid" t_upgrade

# An operator's `systemctl stop ptenant-tenants.scope` ends every tenant;
# the running daemon respawns them (restart always) into a scope it makes
# again, as the next ptenantd would. Before, every respawn failed until
# ptenantd was restarted.
t_scope_stopped() {
	local pid cg
	ensure_tenant || return 1
	pid=$(tenant_field acme pid)
	systemctl stop ptenant-tenants.scope || { echo "systemctl stop ptenant-tenants.scope failed"; return 1; }
	new_pid_running() { local p; p=$(tenant_field acme pid); [[ $(tenant_field acme state) == running && $p =~ ^[1-9] && $p != "$pid" ]]; }
	wait_for 30 new_pid_running ||
		{ echo "acme after the scope's stop: $(ptenant --json ls | jq -c '.[] | select(.slug == "acme") | {state, pid, error}')"; return 1; }
	cg=$(awk -F: '$1 == "0" { print $3 }' "/proc/$(tenant_field acme pid)/cgroup")
	[[ $cg == /ptenant.slice/ptenant-tenants.scope/tenant-acme ]] || { echo "acme runs in $cg"; return 1; }
	systemctl is-active ptenant-tenants.scope | grep -qx active ||
		{ echo "the scope is $(systemctl is-active ptenant-tenants.scope)"; return 1; }
	[[ $(cat "/sys/fs/cgroup$cg/memory.max") == 67108864 ]] ||
		{ echo "memory.max of the new leaf: $(cat "/sys/fs/cgroup$cg/memory.max")"; return 1; }
}
check "systemctl stop ptenant-tenants.scope: the daemon makes it again and acme is respawned into it, with its budget" t_scope_stopped

# ---- after all that -------------------------------------------------------

t_still_usable() {
	ensure_tenant || return 1
	ptenant stop acme >/dev/null && ptenant rm acme >/dev/null ||
		{ echo "could not stop and remove acme"; return 1; }
	[[ -z $(tenant_field acme slug) ]] || { echo "acme still listed"; return 1; }
}
check "the daemon still manages tenants at the end (stop, rm acme)" t_still_usable

# ---- before the reboot ------------------------------------------------------
# boot-keep runs (restart always, the default) and must come back after
# the reboot; boot-halt was stopped by the operator and must stay stopped.
t_before_reboot() {
	ensure_daemon || return 1
	ptenant create boot-keep --blueprint echo-bot@1 --memory 64M >/dev/null &&
		ptenant create boot-halt --blueprint echo-bot@1 --memory 64M >/dev/null || return 1
	keep_running() { [[ $(tenant_field boot-keep state) == running && $(tenant_field boot-halt state) == running ]]; }
	wait_for 30 keep_running || { ptenant --json ls; return 1; }
	ptenant stop boot-halt >/dev/null || return 1
	tenant_field boot-keep pid >"$keep/boot-keep.pid"
}
check "before the reboot: boot-keep running, boot-halt stopped" t_before_reboot

echo "$n $failed" >"$keep/counts"
sync
