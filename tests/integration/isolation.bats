#!/usr/bin/env bats
# Two tenants on one daemon, acme and globex: what each sees of the other,
# of the host and of the shared blueprint.

load helpers

ACME_SECRET=acme-s3cr3t-0d9f2b
LEAK=daemon-secret

setup_file() {
	# The daemon's own environment must never reach a tenant.
	PTENANT_LEAK_CHECK=$LEAK setup_daemon || return 1
	create_tenant acme --env "GREETING=hello from acme" --secret "api_key=$ACME_SECRET" || return 1
	create_tenant globex --env "GREETING=hello from globex" || return 1
}

teardown_file() {
	cleanup_daemon
}

# check_ps_lines TENANT [EXTRA-ARGS]: $lines is `ps -o pid,args` inside
# TENANT; every process must be the tenant's own: its init as pid 1, the
# bot's httpd (and the short-lived per-request httpd children), this ps,
# and the one EXTRA-ARGS process if given. Nothing of the host (ptenantd,
# bats, the host's init) and nothing of the other tenant.
check_ps_lines() {
	local line pid args n_init=0 n_ps=0 n_extra=0
	[[ ${lines[0]} =~ ^\ *PID\ +COMMAND ]]
	for line in "${lines[@]:1}"; do
		read -r pid args <<<"$line"
		if [[ $pid == 1 ]]; then
			[[ $args == *"ptenant-init -- /bot/start" ]] || { echo "pid 1 is: $args"; return 1; }
			n_init=$((n_init + 1))
		elif [[ $args == "httpd -f -p 8080 -h /bot/www -c /bot/httpd.conf" ]]; then
			:
		elif [[ $args == "ps -o pid,args" ]]; then
			n_ps=$((n_ps + 1))
		elif [[ -n ${2:-} && $args == "$2" ]]; then
			n_extra=$((n_extra + 1))
		else
			echo "$1 sees a process that is not its own: $line"
			return 1
		fi
	done
	local want_extra=0
	[[ -n ${2:-} ]] && want_extra=1
	[ "$n_init" -eq 1 ] && [ "$n_ps" -eq 1 ] && [ "$n_extra" -eq "$want_extra" ]
}

@test "isolation: each tenant sees only its own processes; pid 1 is ptenant-init" {
	local ginit marker
	ginit=$(tenant_pid globex)
	# A process in globex that acme must not see.
	run pt exec globex -- sh -c 'sleep 7777 </dev/null >/dev/null 2>&1 &'
	[ "$status" -eq 0 ]
	wait_for pgrep -P "$ginit" -fx 'sleep 7777'
	marker=$(pgrep -P "$ginit" -fx 'sleep 7777')
	[ -n "$marker" ]

	run pt exec acme -- ps -o pid,args
	[ "$status" -eq 0 ]
	echo "acme ps: $output"
	check_ps_lines acme
	[[ $output != *"sleep 7777"* ]]

	run pt exec globex -- ps -o pid,args
	[ "$status" -eq 0 ]
	echo "globex ps: $output"
	check_ps_lines globex 'sleep 7777'
	[[ $output == *"sleep 7777"* ]]

	# Distinct pid namespaces, neither the host's: the one pid 1 is in is
	# the one the host sees for the tenant's init.
	local ans gns hns
	ans=$(pt exec acme -- readlink /proc/1/ns/pid)
	gns=$(pt exec globex -- readlink /proc/1/ns/pid)
	hns=$(readlink /proc/self/ns/pid)
	[[ $ans == pid:\[* ]]
	[ "$ans" != "$gns" ]
	[ "$ans" != "$hns" ]
	[ "$gns" != "$hns" ]
	[ "$ans" = "$(readlink "/proc/$(tenant_pid acme)/ns/pid")" ]
	[ "$gns" = "$(readlink "/proc/$ginit/ns/pid")" ]

	kill -TERM "$marker"
}

@test "isolation: each tenant's hostname is its slug" {
	run pt exec acme -- hostname
	[ "$status" -eq 0 ]
	[ "$output" = acme ]
	run pt exec globex -- hostname
	[ "$status" -eq 0 ]
	[ "$output" = globex ]
	run pt exec acme -- cat /etc/hostname
	[ "$output" = acme ]
	run pt exec globex -- cat /etc/hostname
	[ "$output" = globex ]
}

@test "isolation: own env per tenant; the daemon's environment does not leak (env, /proc/*/environ)" {
	# The check is only meaningful if the daemon really has the variable.
	tr '\0' '\n' <"/proc/$(daemon_pid)/environ" | grep -qx "PTENANT_LEAK_CHECK=$LEAK"

	run pt exec acme -- env
	[ "$status" -eq 0 ]
	echo "acme env: $output"
	grep -qx 'GREETING=hello from acme' <<<"$output"
	grep -qx 'HOSTNAME=acme' <<<"$output"
	[[ $output != *"PTENANT_LEAK_CHECK"* ]]
	[[ $output != *"$LEAK"* ]]

	run pt exec globex -- env
	[ "$status" -eq 0 ]
	grep -qx 'GREETING=hello from globex' <<<"$output"
	[[ $output != *"hello from acme"* ]]
	[[ $output != *"PTENANT_LEAK_CHECK"* ]]

	local t
	for t in acme globex; do
		# init's environment, read inside the tenant.
		run pt exec "$t" -- sh -c 'tr "\0" "\n" </proc/1/environ'
		[ "$status" -eq 0 ]
		echo "$t /proc/1/environ: $output"
		grep -qx "GREETING=hello from $t" <<<"$output"
		[[ $output != *"PTENANT_LEAK_CHECK"* ]]
		[[ $output != *"$LEAK"* ]]
		# Every process in the tenant.
		run pt exec "$t" -- sh -c 'cat /proc/[0-9]*/environ | tr "\0" "\n"'
		[ "$status" -eq 0 ]
		[[ $output != *"PTENANT_LEAK_CHECK"* ]]
		[[ $output != *"$LEAK"* ]]
	done
}

@test "isolation: secret mounted at /run/secrets/api_key, 0400 root, only for the tenant that has it" {
	run pt exec acme -- cat /run/secrets/api_key
	[ "$status" -eq 0 ]
	[ "$output" = "$ACME_SECRET" ]
	run pt exec acme -- stat -c '%a %u %g %F' /run/secrets/api_key
	[ "$status" -eq 0 ]
	[ "$output" = "400 0 0 regular file" ]

	run pt exec globex -- test -e /run/secrets/api_key
	[ "$status" -eq 1 ]
	run pt exec globex -- ls -A /run/secrets
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run pt exec globex -- grep -r "$ACME_SECRET" /run /tmp /data /etc
	[ "$status" -ne 0 ]
	[[ $output != *"$ACME_SECRET"* ]]
}

@test "isolation: tenant root is a distinct unprivileged host uid (/proc status, uid_map, gid_map)" {
	local auid guid t u hp child
	auid=$(tenant_field acme .host_uid)
	guid=$(tenant_field globex .host_uid)
	[[ $auid =~ ^[0-9]+$ && $guid =~ ^[0-9]+$ ]]
	[ "$auid" -ne 0 ]
	[ "$guid" -ne 0 ]
	[ "$auid" -ne "$guid" ]
	# The two 65536-id ranges do not overlap.
	local d=$((auid > guid ? auid - guid : guid - auid))
	[ "$d" -ge 65536 ]

	for t in acme globex; do
		u=$(tenant_field "$t" .host_uid)
		hp=$(tenant_pid "$t")
		run awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$hp/status"
		[ "$output" = "$u $u $u $u" ]
		run awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$hp/status"
		[ "$output" = "$u $u $u $u" ]
		# The entrypoint, too.
		child=$(init_children "$hp")
		[ -n "$child" ]
		run awk '/^Uid:/ { print $2 }' "/proc/$child/status"
		[ "$output" = "$u" ]

		run id_map_of "$t" uid_map
		[ "$output" = "0 $u 65536" ]
		run id_map_of "$t" gid_map
		[ "$output" = "0 $u 65536" ]
		run pt exec "$t" -- id -u
		[ "$output" = 0 ]
	done
}

@test "isolation: files acme writes to /data and /tmp are invisible to globex" {
	run pt exec acme -- sh -c 'echo from-acme >/data/acme-only && echo from-acme >/tmp/acme-only'
	[ "$status" -eq 0 ]
	run pt exec acme -- cat /data/acme-only /tmp/acme-only
	[ "$output" = "from-acme"$'\n'"from-acme" ]

	run pt exec globex -- test -e /data/acme-only
	[ "$status" -eq 1 ]
	run pt exec globex -- test -e /tmp/acme-only
	[ "$status" -eq 1 ]
	run pt exec globex -- sh -c 'ls -A /data /tmp'
	[[ $output != *acme-only* ]]

	# On the host: in acme's own data dir, owned by acme's root.
	[ -f "$PT_STATE/tenants/acme/data/acme-only" ]
	[ "$(stat -c %u "$PT_STATE/tenants/acme/data/acme-only")" = "$(tenant_field acme .host_uid)" ]
	[ ! -e "$PT_STATE/tenants/globex/data/acme-only" ]
}

@test "isolation: the blueprint rootfs is shared read-only; writes land in the tenant's own layer" {
	run pt exec acme -- sh -c 'echo acme-layer >/bin/x'
	[ "$status" -eq 0 ]
	run pt exec acme -- cat /bin/x
	[ "$output" = acme-layer ]

	run pt exec globex -- test -e /bin/x
	[ "$status" -eq 1 ]
	[ ! -e "$PT_STATE/blueprints/echo-bot/1/rootfs/bin/x" ]
	[ -d "$PT_STATE/blueprints/echo-bot/1/rootfs/bin" ]
	[ ! -e "$PT_BLUEPRINT/rootfs/bin/x" ]
	# It went to acme's writable layer.
	[ -f "$PT_STATE/tenants/acme/upper/bin/x" ]
	[ "$(cat "$PT_STATE/tenants/acme/upper/bin/x")" = acme-layer ]
	[ ! -e "$PT_STATE/tenants/globex/upper/bin/x" ]
}

@test "isolation: the echo-bot answers inside each tenant with its hostname, GREETING and secret" {
	run bot_page acme
	[ "$status" -eq 0 ]
	echo "$output"
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[0]}" = "hostname: acme" ]
	[[ ${lines[1]} =~ ^requests:\ [0-9]+$ ]]
	[ "${lines[2]}" = "GREETING: hello from acme" ]
	[ "${lines[3]}" = "secret api_key: present" ]

	run bot_page globex
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "hostname: globex" ]
	[ "${lines[2]}" = "GREETING: hello from globex" ]
	[ "${lines[3]}" = "secret api_key: absent" ]
}

@test "isolation: restart gives a fresh writable layer (/etc file gone) while /data survives (counter counts on)" {
	local pid1 pid2 n1 n2
	run pt exec acme -- sh -c 'echo planted >/etc/it-marker && echo kept >/data/it-persist'
	[ "$status" -eq 0 ]
	n1=$(bot_page acme | awk '/^requests:/ { print $2 }')
	[[ $n1 =~ ^[0-9]+$ ]]
	pid1=$(tenant_pid acme)

	run pt restart acme
	[ "$status" -eq 0 ]
	[ "$output" = "acme: running" ]
	wait_bot acme
	pid2=$(tenant_pid acme)
	[ "$pid2" -ne "$pid1" ]
	pid_dead "$pid1"

	run pt exec acme -- test -e /etc/it-marker
	[ "$status" -eq 1 ]
	[ ! -e "$PT_STATE/tenants/acme/upper/etc/it-marker" ]
	run pt exec acme -- cat /data/it-persist
	[ "$output" = kept ]
	n2=$(bot_page acme | awk '/^requests:/ { print $2 }')
	[ "$n2" -eq $((n1 + 1)) ]
	# Still itself after the restart.
	run pt exec acme -- hostname
	[ "$output" = acme ]
}

@test "isolation: a tenant with a non-root user owns its /data and its secrets, and HOME is /data" {
	create_tenant it-user --user 1000:1000 --secret api_key=user-secret
	run pt exec it-user -- id -u
	[ "$output" = 1000 ]
	run pt exec it-user -- sh -c 'echo "$HOME"'
	[ "$output" = /data ]
	run pt exec it-user -- sh -c 'echo hi > /data/mine && cat /data/mine'
	[ "$status" -eq 0 ]
	[ "$output" = hi ]
	run pt exec it-user -- cat /run/secrets/api_key
	[ "$status" -eq 0 ]
	[ "$output" = user-secret ]
	run pt exec it-user -- stat -c '%u:%g %a' /run/secrets/api_key
	[ "$output" = "1000:1000 400" ]
	# On the host: the tenant's uid 1000, inside its own range.
	host_uid=$(tenant_field it-user .host_uid)
	[ "$(stat -c %u "$PT_STATE/tenants/it-user/data/mine")" -eq $((host_uid + 1000)) ]
	# The bot, run as that user, still counts its requests in /data.
	[[ $(bot_page it-user) == *"requests: 1"* ]]
	pt rm it-user >/dev/null
}

# The tenant's mount list says nothing of the host (issue 10, defect 8):
# no host uid in an option (the tmpfs of a user namespace shows its owner
# as a host uid unless made by the host), no devtmpfs size (host RAM), no
# host block device as a mount source.
@test "isolation: the tenant's mount list shows no host uid, RAM size or block device" {
	local host_dev host_root src ids
	run pt exec acme -- cat /proc/self/mountinfo
	[ "$status" -eq 0 ]
	echo "$output"
	# Every id the tenant has is below 65536 inside; a larger uid=/gid= is
	# a host id (its range's base, 1000000000 and up, say).
	ids=$(echo "$output" | grep -oE '[ug]id=[0-9]+' | awk -F= '$2 >= 65536' | sort -u)
	[ -z "$ids" ] || { echo "host ids in options: $ids"; false; }
	# The host's devtmpfs says size=...k (about half its RAM).
	host_dev=$(awk '$9 == "devtmpfs"' /proc/self/mountinfo | grep -oE 'size=[0-9]+k' | head -1)
	if [[ -n $host_dev ]]; then
		! echo "$output" | grep -F ",$host_dev,"
	fi
	! echo "$output" | grep -w devtmpfs
	# Nor the host path of the state directory (a bind's root shows it).
	! echo "$output" | grep -F -- "$PT_STATE"
	# The host's block devices: the source of / and of the state dir.
	for host_root in / "$PT_STATE"; do
		src=$(findmnt -n -o SOURCE --target "$host_root" | sed 's/\[.*//')
		[[ $src == /dev/* ]] || continue
		! echo "$output" | grep -F -- " $src "
	done
}
