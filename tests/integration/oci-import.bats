#!/usr/bin/env bats
# OCI images made into blueprints (issue 13, item 1): ptenant-import on a
# layout that umoci builds from the test's own files, and on layers
# crafted by oci-craft.py where no image tool would go: whiteouts and
# opaque directories, gzip, zstd and plain layers, an oci-archive, tags;
# then each hostile shape refused with the layer and the entry named and
# nothing left behind (the destination gone, nothing written outside it).

load helpers

IMPORT=$PTENANT_BUILD/src/import/ptenant-import
CRAFT="/usr/bin/python3 $BATS_TEST_DIRNAME/oci-craft.py"

setup() {
	T=$(mktemp -d /tmp/ptenant-oci.XXXXXX)
}

teardown() {
	rm -rf "$T"
}

# craft JSON: a layout in $T/img from a description.
craft() {
	$CRAFT "$T/img" <<<"$1"
}

# refused PATTERN: the import of $T/img fails naming PATTERN, leaves no
# destination and nothing outside it.
refused() {
	run "$IMPORT" "${@:2}" "oci:$T/img" "$T/out"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"$1"* ]]
	[ ! -e "$T/out" ]
	[ ! -e "$T/escaped" ]
}

@test "oci import: an image umoci built from our files, its config made the manifest" {
	command -v umoci || skip "umoci is not installed (tools/deps: integration)"
	cd "$T"
	umoci init --layout img
	umoci new --image img:v1
	umoci unpack --image img:v1 bundle >/dev/null
	mkdir -p bundle/rootfs/bin bundle/rootfs/app bundle/rootfs/etc
	cp /bin/busybox bundle/rootfs/bin/busybox
	ln -s busybox bundle/rootfs/bin/sh
	printf 'root:x:0:0::/root:/bin/sh\nbot:x:1000:1000::/app:/bin/sh\n' >bundle/rootfs/etc/passwd
	printf 'root:x:0:\nbot:x:1000:\n' >bundle/rootfs/etc/group
	echo hello >bundle/rootfs/app/hello.txt
	chown 1000:1000 bundle/rootfs/app/hello.txt
	umoci repack --image img:v1 bundle
	umoci config --image img:v1 --config.entrypoint /bin/sh --config.cmd=-c --config.cmd='echo hi' \
		--config.env GREETING=hi --config.env PATH=/bin --config.workingdir /app --config.user bot \
		--config.exposedports 8080/tcp --config.exposedports 9090/tcp
	run "$IMPORT" oci:img:v1 "$T/out"
	echo "$output"
	[ "$status" -eq 0 ]
	digest=$(jq -r '.manifests[0].digest' img/index.json)
	[ "$(jq -r .digest <<<"$output")" = "$digest" ]
	m=$T/out/manifest.json
	[ "$(jq -c .entrypoint "$m")" = '["/bin/sh"]' ]
	[ "$(jq -c .args "$m")" = '["-c","echo hi"]' ]
	[ "$(jq -r .env.GREETING "$m")" = hi ]
	[ "$(jq -r .port "$m")" = 8080 ]
	[ "$(jq -r .image.user "$m")" = 1000:1000 ]
	[ "$(jq -r .image.workdir "$m")" = /app ]
	[ "$(jq -r .image.digest "$m")" = "$digest" ]
	[ "$(cat "$T/out/rootfs/app/hello.txt")" = hello ]
	[ "$(stat -c %u:%g "$T/out/rootfs/app/hello.txt")" = 1000:1000 ]
	[ -L "$T/out/rootfs/bin/sh" ]
	cmp /bin/busybox "$T/out/rootfs/bin/busybox"
	# The same image as an oci-archive (a tar of the layout).
	tar -C img -cf img.tar .
	run "$IMPORT" oci-archive:img.tar:v1 "$T/out2"
	[ "$status" -eq 0 ]
	[ "$(jq -r .digest <<<"$output")" = "$digest" ]
	[ ! -e "$T/out2/.oci" ]
	diff -r "$T/out/rootfs" "$T/out2/rootfs"
}

@test "oci import: whiteouts and opaque directories hide what lower layers put there; gzip, zstd, plain" {
	craft '{"config": {"Cmd": ["/bin/sh"]}, "layers": [
	  {"compress": "gzip", "entries": [{"name": "a", "type": "dir"}, {"name": "a/x", "data": "x"},
	    {"name": "a/y", "data": "y"}, {"name": "d/z", "data": "z"}, {"name": "d/sub/deep", "data": "deep"},
	    {"name": "f", "data": "file"}]},
	  {"compress": "zstd", "entries": [{"name": "a/.wh.x"}, {"name": "d/.wh..wh..opq"},
	    {"name": "d/new", "data": "new"}, {"name": "f", "type": "dir"}, {"name": "f/in", "data": "in"}]},
	  {"compress": "none", "entries": [{"name": "./b/c", "data": "c", "uid": 1000, "gid": 1001, "mode": 384},
	    {"name": "b/hl", "type": "hardlink", "target": "b/c"}, {"name": "b/link", "type": "symlink", "target": "/etc/passwd"}]}]}'
	run "$IMPORT" "oci:$T/img" "$T/out"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -r .layers <<<"$output")" = 3 ]
	[ "$(jq -r .whiteouts <<<"$output")" = 2 ]
	r=$T/out/rootfs
	[ "$(ls "$r/a")" = y ]
	[ "$(ls "$r/d")" = new ]
	[ "$(cat "$r/f/in")" = in ]
	[ "$(stat -c '%u:%g %a %h' "$r/b/c")" = "1000:1001 600 2" ]
	[ "$(readlink "$r/b/link")" = /etc/passwd ]
	[ "$(jq -c .entrypoint "$T/out/manifest.json")" = '["/bin/sh"]' ]
}

@test "oci import: tags pick the image; no tag among several names them" {
	craft '{"images": [{"tag": "one", "config": {"Cmd": ["/one"]}, "layers": [{"entries": [{"name": "one", "data": "1"}]}]},
	  {"tag": "two", "config": {"Cmd": ["/two"]}, "layers": [{"entries": [{"name": "two", "data": "2"}]}]}]}'
	run "$IMPORT" "oci:$T/img:two" "$T/out"
	[ "$status" -eq 0 ]
	[ -f "$T/out/rootfs/two" ] && [ ! -e "$T/out/rootfs/one" ]
	rm -rf "$T/out"
	refused "several images: name one with :TAG: the layout's tags are: one, two"
	run "$IMPORT" "oci:$T/img:three" "$T/out"
	[ "$status" -eq 1 ] && [[ $output == *"no image with that tag"* ]] && [ ! -e "$T/out" ]
}

hostile() { # WHY-PATTERN ENTRIES-JSON [OPTION...]: one layer after a harmless one
	craft '{"config": {"Cmd": ["/x"]}, "layers": [{"entries": [{"name": "ok", "data": "ok"},
	  {"name": "planted", "type": "symlink", "target": "'"$T"'"}]}, {"entries": '"$2"'}]}'
	refused "$1" "${@:3}"
}

@test "oci import: a .. component is refused, naming the layer and the entry" {
	hostile 'layer 2 (sha256:' '[{"name": "../escaped", "data": "x"}]'
	hostile 'entry ../escaped: a ".." component' '[{"name": "../escaped", "data": "x"}]'
	hostile 'entry a/../../escaped: a ".." component' '[{"name": "a/../../escaped", "data": "x"}]'
}

@test "oci import: an absolute path is refused" {
	hostile "entry $T/escaped: an absolute path" '[{"name": "'"$T"'/escaped", "data": "x"}]'
}

@test "oci import: a write through a symlink an earlier layer planted is refused" {
	hostile 'entry planted/escaped: a path through a symlink' '[{"name": "planted/escaped", "data": "x"}]'
	# ... and one planted earlier in the same layer.
	hostile 'entry l2/escaped: a path through a symlink' \
		'[{"name": "l2", "type": "symlink", "target": "'"$T"'"}, {"name": "l2/escaped", "data": "x"}]'
}

@test "oci import: hard links out of the tree or to a link are refused" {
	hostile 'entry hl: a hard link to ../../etc/passwd: a ".." component' \
		'[{"name": "hl", "type": "hardlink", "target": "../../etc/passwd"}]'
	hostile 'entry hl: a hard link to /etc/passwd: an absolute path' \
		'[{"name": "hl", "type": "hardlink", "target": "/etc/passwd"}]'
	hostile 'entry hl: a hard link to planted, which is not a regular file' \
		'[{"name": "hl", "type": "hardlink", "target": "planted"}]'
	hostile 'entry hl: a hard link to planted/x, which is not a regular file' \
		'[{"name": "hl", "type": "hardlink", "target": "planted/x"}]'
}

@test "oci import: device nodes and FIFOs are refused" {
	hostile 'entry dev/mem: a device node (char 1:3)' '[{"name": "dev/mem", "type": "char"}]'
	hostile 'entry pipe: a FIFO' '[{"name": "pipe", "type": "fifo"}]'
}

@test "oci import: a whiteout of the root, of . or of .. is refused" {
	hostile 'entry .wh..: a whiteout of "."' '[{"name": ".wh.."}]'
	hostile 'entry .wh.: a whiteout of ""' '[{"name": ".wh."}]'
	hostile 'entry a/.wh...: a whiteout of ".."' '[{"name": "a/.wh..."}]'
	# A whiteout through the planted link removes nothing outside.
	touch "$T/victim"
	hostile 'entry planted/.wh.victim: its directory is not a directory inside the root' \
		'[{"name": "planted/.wh.victim"}]'
	[ -e "$T/victim" ]
}

@test "oci import: owners above 65535 are refused" {
	hostile 'entry big: owner 70000:0 outside 0..65535' '[{"name": "big", "data": "x", "uid": 70000}]'
}

@test "oci import: limits on entries and bytes" {
	hostile 'more than 3 entries in the image' \
		'[{"name": "a", "data": "1"}, {"name": "b", "data": "2"}]' --max-entries 3
	hostile 'more than 10 bytes of files in the image' '[{"name": "big", "data": "0123456789ab"}]' --max-bytes 10
}

@test "oci import: a layer whose content does not match its digest is refused" {
	craft '{"config": {"Cmd": ["/x"]}, "layers": [{"compress": "none", "entries": [{"name": "a", "data": "aaaa"}]}]}'
	blob=$(jq -r '.layers[0].digest' "$T/img/blobs/sha256/$(jq -r '.manifests[0].digest' "$T/img/index.json" | cut -d: -f2)" | cut -d: -f2)
	sed -i 's/aaaa/bbbb/' "$T/img/blobs/sha256/$blob"
	refused "layer 1 (sha256:"
	refused "corrupt or tampered with"
}

@test "oci import: bad sources and configs get clear errors" {
	run "$IMPORT" "docker://x" "$T/out"
	[ "$status" -eq 2 ] && [[ $output == *"want oci:DIR[:TAG] or oci-archive:FILE[:TAG]"* ]]
	run "$IMPORT" "oci:$T/none" "$T/out"
	[ "$status" -eq 1 ] && [[ $output == *"not an OCI image layout"* ]] && [ ! -e "$T/out" ]
	craft '{"config": {}, "layers": [{"entries": [{"name": "a", "data": "1"}]}]}'
	refused "neither Entrypoint nor Cmd"
	rm -rf "$T/img"
	craft '{"config": {"Cmd": ["/x"], "User": "nobody"}, "layers": [{"entries": [{"name": "a", "data": "1"}]}]}'
	refused "config User nobody: no user nobody"
	mkdir "$T/out"
	run "$IMPORT" "oci:$T/img" "$T/out"
	[ "$status" -eq 1 ] && [[ $output == *"File exists"* ]] && [ -d "$T/out" ]
	printf 'not a tar' >"$T/bad.tar"
	rmdir "$T/out"
	run "$IMPORT" "oci-archive:$T/bad.tar" "$T/out"
	[ "$status" -eq 1 ] && [ ! -e "$T/out" ]
}
