#!/usr/bin/env bats
# ptenantd in a chroot: the kernel refuses CLONE_NEWUSER there, and a start
# must say so instead of a bare "clone3: Operation not permitted".

load helpers

# Starts ptenantd chrooted into a plain directory that holds binds of the
# host's top-level directories (so every path, the build and $PT_DIR
# included, is where it was), in a mount namespace of its own so nothing
# of it shows outside. exec all the way: $! stays the daemon's pid.
write_chroot_wrapper() {
	mkdir -p "$PT_DIR/root"
	cat >"$PT_DIR/ptenantd-chroot" <<-'EOF_WRAP'
	#!/bin/sh
	exec unshare -m --propagation private -- sh -c '
		r=$0
		for d in /*; do
			n=${d#/}
			if [ -L "$d" ]; then
				[ -L "$r/$n" ] || cp -P "$d" "$r/$n"
			elif [ -d "$d" ]; then
				mkdir -p "$r/$n" && mount --rbind "$d" "$r/$n" || exit 1
			fi
		done
		exec chroot "$r" "$@"' "$PT_CHROOT" "$PT_CHROOT_BIN" "$@"
	EOF_WRAP
	chmod +x "$PT_DIR/ptenantd-chroot"
}

setup_file() {
	check_prereqs || return 1
	command -v unshare >/dev/null || die "unshare (util-linux) is needed"
	ensure_blueprint || return 1
	new_daemon_dir || return 1
	write_chroot_wrapper
	PT_CHROOT=$PT_DIR/root PT_CHROOT_BIN=$PTENANTD_BIN PTENANTD_BIN=$PT_DIR/ptenantd-chroot \
		start_daemon || return 1
	import_blueprint
}

teardown_file() {
	cleanup_daemon
}

@test "chroot: a start in a chroot names the chroot as the cause, not only EPERM" {
	run pt create cr-start --blueprint "$BLUEPRINT_REF"
	[ "$status" -eq 1 ]
	[[ $output == *"clone3: Operation not permitted (ptenantd runs in a chroot, where the kernel refuses CLONE_NEWUSER; use a real root (pivot_root) or a container)"* ]]
	# The daemon is still up and the tenant exists, not running, with the
	# same reason in its error.
	[ "$(tenant_state cr-start)" != running ]
	[[ $(tenant_field cr-start .error) == *"ptenantd runs in a chroot"* ]]
}
