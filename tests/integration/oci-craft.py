"""Writes an OCI image layout from a JSON description, for the import
tests: the layers a hostile or an unusual image would have, which no image
tool would make on purpose.
    oci-craft.py DIR < description.json
description: {"tag": "t", "config": {...image config "config" object...},
              "layers": [{"compress": "gzip"|"zstd"|"none",
                          "entries": [{"name": "a/b", "type": "file"|"dir"|"symlink"|
                                       "hardlink"|"char"|"fifo", "data": "...",
                                       "target": "...", "uid": 0, "gid": 0, "mode": 420}]}]}
Several tags: {"images": [description, ...]}."""
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
         "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}


def blob(out, data, media):
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(out, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return {"mediaType": media, "digest": "sha256:" + digest, "size": len(data)}


def layer_tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            info = tarfile.TarInfo(e["name"])
            info.type = TYPES[e.get("type", "file")]
            info.uid, info.gid = e.get("uid", 0), e.get("gid", 0)
            info.mode = e.get("mode", 0o755 if info.type == tarfile.DIRTYPE else 0o644)
            info.mtime = 1700000000
            data = e.get("data", "").encode()
            if info.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = e["target"]
            if info.type == tarfile.CHRTYPE:
                info.devmajor, info.devminor = 1, 3
            if info.type == tarfile.REGTYPE:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                t.addfile(info)
    return buf.getvalue()


def compress(data, how):
    if how == "gzip":
        return gzip.compress(data), "application/vnd.oci.image.layer.v1.tar+gzip"
    if how == "zstd":
        return (subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE,
                               check=True).stdout, "application/vnd.oci.image.layer.v1.tar+zstd")
    return data, "application/vnd.oci.image.layer.v1.tar"


def image(out, d):
    layers, diffs = [], []
    for l in d["layers"]:
        raw = layer_tar(l["entries"])
        diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
        data, media = compress(raw, l.get("compress", "gzip"))
        layers.append(blob(out, data, media))
    config = {"architecture": "amd64", "os": "linux", "config": d.get("config", {}),
              "rootfs": {"type": "layers", "diff_ids": diffs}}
    cdesc = blob(out, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cdesc, "layers": layers}
    mdesc = blob(out, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    mdesc["annotations"] = {"org.opencontainers.image.ref.name": d.get("tag", "latest")}
    return mdesc


def main():
    out = sys.argv[1]
    d = json.load(sys.stdin)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    manifests = [image(out, i) for i in d.get("images", [d])]
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": manifests}, f)


main()
