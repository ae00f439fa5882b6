#!/usr/bin/env bash
# TAP tests of tap_verdict, the check that keeps a tier from passing
# without running (tools/test uses it on every TAP script).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap-verdict.sh"
f=$(mktemp)
trap 'rm -f "$f"' EXIT
n=0 failed=0

# case NAME RC EXPECTED-REASON-GLOB TAP-TEXT
case_() {
	local name=$1 rc=$2 want=$3 got
	printf '%b' "$4" >"$f"
	got=$(tap_verdict "$f" "$rc")
	n=$((n + 1))
	# shellcheck disable=SC2053
	if [[ $got == $want ]]; then echo "ok $n - $name"
	else failed=$((failed + 1)); echo "not ok $n - $name: got '$got', want '$want'"; fi
}

case_ "a complete run passes" 0 "" '1..2\nok 1 - a\nok 2 - b\n'
case_ "plan at the end passes" 0 "" 'ok 1 - a\nok 2 - b\n1..2\n'
case_ "a failed test with exit 1 is complete" 1 "" '1..2\nok 1 - a\nnot ok 2 - b\n'
case_ "Bail out! fails" 1 "Bail out! ptenantd did not start" 'Bail out! ptenantd did not start\n'
case_ "Bail out! after a plan and results fails" 0 "Bail out!*" '1..1\nok 1 - a\nBail out! leftovers\n'
case_ "no output at all fails" 0 "no TAP plan*" ''
case_ "results without a plan fail" 0 "no TAP plan*" 'ok 1 - a\n'
case_ "a plan not reached fails" 1 "1 results for a plan of 20" '1..20\nnot ok 1 - setup_file failed\n'
case_ "more results than planned fail" 0 "3 results for a plan of 2" '1..2\nok 1\nok 2\nok 3\n'
case_ "exit 1 with every test passed fails" 1 "exit status 1 with no failed test" '1..1\nok 1 - a\n'
case_ "an empty plan is complete (the tier then counts zero tests)" 0 "" '1..0\n'
case_ "comment lines saying ok do not count" 0 "" '1..1\nok 1 - a\n# ok - tests\n'
echo "1..$n"
((failed == 0))
