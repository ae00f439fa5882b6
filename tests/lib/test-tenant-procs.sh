#!/usr/bin/env bash
# TAP tests of the leftover finder (tenant-procs.sh) that every harness's
# teardown and tools/test rely on: it must find and end a process by its
# uid alone, and nothing outside the range. Needs root (setpriv).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tenant-procs.sh"
n=0 failed=0
check() { # description, command...
	local what=$1; shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $what"; else failed=$((failed + 1)); echo "not ok $n - $what"; fi
}
[[ $(id -u) == 0 ]] || { echo "1..0 # SKIP needs root"; exit 0; }

base=$(pt_test_uid_base)
check "a slot lies inside the test uid space and leaves room for 64 ranges" \
	test "$base" -ge "$PT_TEST_UID_LO" -a $((base + PT_TEST_UID_SPAN)) -le "$PT_TEST_UID_HI"

# Two stand-ins for a lost tenant: inside the slot, and just past its end.
setpriv --reuid=$((base + 65536 + 7)) --regid=$((base + 65536 + 7)) --clear-groups sleep 60 &
inside=$!
setpriv --reuid=$((base + PT_TEST_UID_SPAN)) --regid=$((base + PT_TEST_UID_SPAN)) --clear-groups sleep 60 &
outside=$!
sleep 0.2
check "uid_range_procs lists the process of the slot" \
	grep -q "^$inside $((base + 65536 + 7)) sleep$" <<<"$(uid_range_procs "$base" $((base + PT_TEST_UID_SPAN)))"
check "uid_range_procs leaves out the process one uid past the slot" \
	bash -c "! grep -q '^$outside ' <<<'$(uid_range_procs "$base" $((base + PT_TEST_UID_SPAN)))'"
left=$(kill_uid_range "$base" $((base + PT_TEST_UID_SPAN)))
rc=$?
check "kill_uid_range reports what it found and fails" test "$rc" = 1 -a -n "$left"
{ wait "$inside"; } 2>/dev/null
check "kill_uid_range ended the process of the slot" bash -c "! kill -0 $inside 2>/dev/null"
check "kill_uid_range spared the process outside the slot" kill -0 "$outside"
kill "$outside"; wait "$outside" 2>/dev/null
check "kill_uid_range succeeds quietly on an empty slot" \
	test -z "$(kill_uid_range "$base" $((base + PT_TEST_UID_SPAN)))"
# By hand (no block from tools/test), a slot is taken only from a block
# whose lock nobody holds: hold every lock but one's (those held already,
# by a tools/test run, stay held), and every slot lands in that block.
by_hand_bases() {
	env -u PT_TEST_UID_LO -u PT_TEST_UID_HI bash -c '
		. "$1/tenant-procs.sh"
		free=$2 fds=()
		for ((b = 0; b < PT_TEST_BLOCKS; b++)); do
			((b == free)) && continue
			exec {fd}>"/dev/shm/ptenant-test-uid-block-$b.lock"
			flock -n "$fd" && fds+=("$fd")
		done
		for i in 1 2 3 4 5; do pt_test_uid_base; done' _ "$here" "$1"
}
free=-1
for ((b = 0; b < PT_TEST_BLOCKS; b++)); do
	(flock -n 9) 9>"/dev/shm/ptenant-test-uid-block-$b.lock" && ! grep -qx "$b" <<<"$(pt_test_busy_blocks)" &&
		{ free=$b; break; }
done
bases=$(by_hand_bases "$free")
block_lo=$((PT_TEST_SPACE_LO + free * PT_TEST_BLOCK_SLOTS * PT_TEST_UID_SPAN))
check "by hand, every slot is in the one block whose lock is free (block $free)" \
	awk -v lo="$block_lo" -v hi=$((block_lo + PT_TEST_BLOCK_SLOTS * PT_TEST_UID_SPAN)) \
	'$1 < lo || $1 >= hi { bad = 1 } END { exit bad || NR != 5 }' <<<"$bases"
echo "1..$n"
((failed == 0))
