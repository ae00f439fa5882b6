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
echo "1..$n"
((failed == 0))
