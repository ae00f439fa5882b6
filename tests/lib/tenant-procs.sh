# Finding tenant processes that a test left behind, without the daemon and
# without jq or python (teardown must not depend on what may be broken).
#
# Every daemon a test starts gets a uid base of its own inside the test
# uid space: a slot of PT_TEST_UID_SPAN host uids (64 tenant ranges). A
# tenant's processes run as host uids of its range, so a process whose uid
# lies in a test daemon's slot after that daemon's tenants were removed is
# a leftover, and ours to end. The demo and an installed ptenantd use
# uid_base 1000000000 (4096 ranges, below the test space), so nothing here
# can touch their tenants.
#
# tools/test claims one block of 16 slots for its whole run (a lock in
# /dev/shm, which a fresh-machine root shares with its host) and exports it
# as PT_TEST_UID_LO/HI, so two test runs on one machine never end each
# other's tenants. A suite run by hand picks a slot of the whole space.

PT_TEST_UID_SPAN=$((64 * 65536))
PT_TEST_SPACE_LO=1500000000
PT_TEST_BLOCK_SLOTS=16
# 37 blocks: the test daemons keep the default uid_ranges (4096), and
# ptenantd refuses a uid_base whose 4096 ranges pass 2^32 - 1; with 40
# blocks the slots above 4026531840 (in blocks 37 to 39) failed every
# daemon start there, about 1 in 17 when run by hand.
PT_TEST_BLOCKS=37
PT_TEST_SPACE_HI=$((PT_TEST_SPACE_LO + PT_TEST_BLOCKS * PT_TEST_BLOCK_SLOTS * PT_TEST_UID_SPAN))
# Run by hand (no block exported by tools/test): the whole space, but
# pt_test_uid_base then keeps out of the blocks in use.
[[ -n ${PT_TEST_UID_LO:-} ]] || PT_TEST_BY_HAND=1
PT_TEST_UID_LO=${PT_TEST_UID_LO:-$PT_TEST_SPACE_LO}
PT_TEST_UID_HI=${PT_TEST_UID_HI:-$PT_TEST_SPACE_HI}

# The blocks of the test space that some process runs in (by its uid),
# one index a line: one pass over /proc.
pt_test_busy_blocks() {
	local f k v uid
	for f in /proc/[0-9]*/status; do
		uid=''
		while read -r k v _; do
			[[ $k == Uid: ]] && { uid=$v; break; }
		done 2>/dev/null <"$f"
		[[ -n $uid ]] && ((uid >= PT_TEST_SPACE_LO && uid < PT_TEST_SPACE_HI)) || continue
		echo $(((uid - PT_TEST_SPACE_LO) / (PT_TEST_BLOCK_SLOTS * PT_TEST_UID_SPAN)))
	done | sort -un
}

# Whether block B is free: its lock not held (by a tools/test run) and
# no process in it (a suite run by hand, a tenant left behind).
pt_test_block_free() { # B BUSY-LIST
	(flock -n 9) 9>"/dev/shm/ptenant-test-uid-block-$1.lock" 2>/dev/null &&
		! grep -qx "$1" <<<"$2"
}

# A uid base for one test daemon: a random slot of [PT_TEST_UID_LO, _HI);
# by hand, of a free block, so that it never runs in the block of a
# tools/test run on the same machine (whose leftover check would take its
# tenants for leftovers and end them).
pt_test_uid_base() {
	local slots=$(((PT_TEST_UID_HI - PT_TEST_UID_LO) / PT_TEST_UID_SPAN)) b i busy
	if [[ -n ${PT_TEST_BY_HAND:-} ]]; then
		busy=$(pt_test_busy_blocks)
		b=$((RANDOM % PT_TEST_BLOCKS))
		for ((i = 0; i < PT_TEST_BLOCKS; i++, b = (b + 1) % PT_TEST_BLOCKS)); do
			pt_test_block_free "$b" "$busy" || continue
			echo $((PT_TEST_SPACE_LO + (b * PT_TEST_BLOCK_SLOTS + RANDOM % PT_TEST_BLOCK_SLOTS) * PT_TEST_UID_SPAN))
			return 0
		done
	fi
	echo $((PT_TEST_UID_LO + ((RANDOM * 32768 + RANDOM) % slots) * PT_TEST_UID_SPAN))
}

# Claims a free block of the test space for this shell and its children
# (the lock is held on fd PT_TEST_BLOCK_FD until they all exit) and exports
# its bounds. Fails when all PT_TEST_BLOCKS are taken.
pt_test_claim_block() {
	local start=$((RANDOM % PT_TEST_BLOCKS)) i b busy
	busy=$(pt_test_busy_blocks)
	for ((i = 0; i < PT_TEST_BLOCKS; i++)); do
		b=$(((start + i) % PT_TEST_BLOCKS))
		# A block with processes in it is someone's (a suite run by hand).
		! grep -qx "$b" <<<"$busy" || continue
		exec {PT_TEST_BLOCK_FD}>"/dev/shm/ptenant-test-uid-block-$b.lock" || return 1
		if flock -n "$PT_TEST_BLOCK_FD"; then
			PT_TEST_UID_LO=$((PT_TEST_SPACE_LO + b * PT_TEST_BLOCK_SLOTS * PT_TEST_UID_SPAN))
			PT_TEST_UID_HI=$((PT_TEST_UID_LO + PT_TEST_BLOCK_SLOTS * PT_TEST_UID_SPAN))
			export PT_TEST_UID_LO PT_TEST_UID_HI
			return 0
		fi
		exec {PT_TEST_BLOCK_FD}>&-
	done
	return 1
}

# uid_range_procs LO HI: "pid uid name" of each live (not zombie) process
# whose real uid is in [LO, HI).
uid_range_procs() {
	local lo=$1 hi=$2 f k v name state uid
	for f in /proc/[0-9]*/status; do
		name='' state='' uid=''
		while read -r k v _; do
			case $k in
			Name:) name=$v ;;
			State:) state=$v ;;
			Uid:) uid=$v; break ;;
			esac
		done 2>/dev/null <"$f"
		[[ -n $uid && $state != Z && $state != X ]] || continue
		((uid >= lo && uid < hi)) || continue
		f=${f#/proc/}
		echo "${f%/status} $uid $name"
	done
}

# kill_uid_range LO HI: SIGKILL to every process of that uid range, by pid
# (each pid's uid checked again just before), until none is left or 3 s
# have passed. Prints what it found ("pid uid name" lines) and returns 1
# if it found anything.
kill_uid_range() {
	local lo=$1 hi=$2 found='' list pid uid name _i
	for _i in $(seq 60); do
		list=$(uid_range_procs "$lo" "$hi")
		[[ -n $list ]] || break
		[[ -n $found ]] || found=$list
		while read -r pid uid name; do
			[[ $(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) == "$uid" ]] &&
				kill -KILL "$pid" 2>/dev/null
		done <<<"$list"
		sleep 0.05
	done
	[[ -z $found ]] || { echo "$found"; return 1; }
}
