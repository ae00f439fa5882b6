#!/usr/bin/env bats
# An OCI image as a blueprint through the CLI (issue 13): `ptenant
# blueprint import NAME@VERSION oci:DIR:TAG` and oci-archive:, a tenant
# created from it runs the image's entrypoint with its env, `blueprint ls`
# shows the image digest; a refused image leaves no version behind.

load helpers

CRAFT="/usr/bin/python3 $BATS_TEST_DIRNAME/oci-craft.py"

setup_file() {
	setup_daemon || return 1
	export IMG=$BATS_FILE_TMPDIR/img
	# A busybox image: the entrypoint prints its env and idles.
	$CRAFT "$IMG" <<EOF2
{"tag": "v1", "config": {"Entrypoint": ["/bin/sh", "-c"],
  "Cmd": ["echo \"started as \$(id -u):\$(id -g) in \$(pwd) with GREETING=\$GREETING\"; exec sleep 100000"],
  "Env": ["PATH=/bin", "GREETING=from-the-image"], "ExposedPorts": {"8080/tcp": {}},
  "WorkingDir": "/app", "User": "bot"},
 "layers": [{"entries": [{"name": "bin", "type": "dir"},
   {"name": "app", "type": "dir", "uid": 1000, "gid": 1000},
   {"name": "etc/passwd", "data": "root:x:0:0::/root:/bin/sh\nbot:x:1000:1001::/app:/bin/sh\n"},
   {"name": "etc/group", "data": "root:x:0:\nbot:x:1001:\n"},
   {"name": "bin/busybox", "data": "", "mode": 493},
   {"name": "bin/sh", "type": "symlink", "target": "busybox"}]}]}
EOF2
	# The crafted busybox is empty: put the real one in with a second,
	# plain layer made here (tar reads the real file).
	local bb=$BATS_FILE_TMPDIR/bb
	mkdir -p "$bb/bin" && cp /bin/busybox "$bb/bin/busybox"
	for app in id sleep echo cat ls; do ln -sf busybox "$bb/bin/$app"; done
	/usr/bin/python3 - "$IMG" "$bb" <<'PY'
import hashlib, io, json, os, sys, tarfile
out, src = sys.argv[1], sys.argv[2]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    t.add(src + "/bin", arcname="bin")
data = buf.getvalue()
def put(b):
    d = hashlib.sha256(b).hexdigest()
    open(os.path.join(out, "blobs/sha256", d), "wb").write(b)
    return "sha256:" + d, len(b)
index = json.load(open(os.path.join(out, "index.json")))
mdesc = index["manifests"][0]
m = json.load(open(os.path.join(out, "blobs/sha256", mdesc["digest"][7:])))
d, n = put(data)
m["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": n})
d, n = put(json.dumps(m).encode())
mdesc["digest"], mdesc["size"] = d, n
json.dump(index, open(os.path.join(out, "index.json"), "w"))
PY
}

logs_have() {
	pt logs "$1" 2>/dev/null | grep -q "$2"
}

teardown_file() {
	cleanup_daemon
}

@test "oci blueprint: imported by the CLI, a tenant runs the image's entrypoint with its env, user and workdir" {
	run pt blueprint import img@1 "oci:$IMG:v1"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"blueprint img@1 imported from oci:$IMG:v1: sha256:"*", 2 layer(s)"* ]]
	digest=$(jq -r '.manifests[0].digest' "$IMG/index.json")
	run pt --json blueprint ls
	[ "$(jq -r '.[] | select(.name == "img") | .digest' <<<"$output")" = "$digest" ]
	[ "$(jq -r '.[] | select(.name == "img") | .port' <<<"$output")" = 8080 ]
	run pt create ociapp --blueprint img@1
	echo "$output"
	[ "$status" -eq 0 ]
	wait_running ociapp
	wait_for logs_have ociapp "started as 1000:1001 in /app with GREETING=from-the-image"
	run pt logs ociapp
	echo "$output"
	[[ $output == *"started as 1000:1001 in /app with GREETING=from-the-image"* ]]
	# The image's user became the tenant's: kept in its spec.
	[ "$(pt --json inspect ociapp | jq -r '.spec.user')" = 1000:1001 ]
	pt rm ociapp
	# A spec that names a user wins over the image's.
	run pt create ociroot --blueprint img@1 --user 0:0
	[ "$status" -eq 0 ]
	wait_running ociroot
	wait_for logs_have ociroot "started as 0:0 in /app"
	pt rm ociroot
}

@test "oci blueprint: an oci-archive imports too; a refused image leaves no version" {
	tar -C "$IMG" -cf "$BATS_FILE_TMPDIR/img.tar" .
	run pt blueprint import img@2 "oci-archive:$BATS_FILE_TMPDIR/img.tar:v1"
	echo "$output"
	[ "$status" -eq 0 ]
	run pt blueprint import img@3 "oci:$IMG:nosuchtag"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"no image with that tag"* ]]
	run pt --json blueprint ls
	[ "$(jq -r '[.[] | select(.name == "img") | .version] | sort | join(",")' <<<"$output")" = 1,2 ]
	[ -z "$(ls /var/tmp | grep ptenant-import)" ]
}
