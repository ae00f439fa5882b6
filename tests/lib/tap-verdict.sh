# tap_verdict FILE RC: why a TAP script's run does not count as complete,
# or nothing when it does. FILE holds its output, RC its exit status. A
# run is complete when it printed no "Bail out!", a plan line "1..N" (first
# or last), exactly N results, and exited 0 unless a result failed.
# tools/test fails a script's tier on any reason printed here.
tap_verdict() {
	local file=$1 rc=$2 ok bad plan bail
	ok=$(grep -cE '^ok( |$)' "$file")
	bad=$(grep -cE '^not ok( |$)' "$file")
	plan=$(grep -oE '^1\.\.[0-9]+' "$file" | tail -1)
	plan=${plan#1..}
	bail=$(grep -m1 '^Bail out!' "$file")
	if [[ -n $bail ]]; then
		echo "$bail"
	elif [[ -z $plan ]]; then
		echo "no TAP plan (1..N): the script stopped before the end"
	elif ((ok + bad != plan)); then
		echo "$((ok + bad)) results for a plan of $plan"
	elif ((rc != 0 && bad == 0)); then
		echo "exit status $rc with no failed test"
	fi
}
