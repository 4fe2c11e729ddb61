"""Helpers that speak the distribution protocol over raw HTTP, and build OCI content."""

import gzip
import hashlib
import io
import json
import os
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(server, repo, data):
    """Monolithic upload: POST, then PUT with the digest."""
    digest = sha256(data)
    r = server.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    r = server.request(
        "PUT",
        r.headers["Location"],
        params={"digest": digest},
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    return digest


def descriptor(media_type, data, **extra):
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def image_manifest(config, layers, media_type=OCI_MANIFEST, **extra):
    layer_type = OCI_LAYER if media_type == OCI_MANIFEST else "application/vnd.docker.image.rootfs.diff.tar.gzip"
    config_type = OCI_CONFIG if media_type == OCI_MANIFEST else "application/vnd.docker.container.image.v1+json"
    m = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": descriptor(config_type, config),
        "layers": [descriptor(layer_type, l) for l in layers],
    }
    m.update(extra)
    return json.dumps(m, separators=(",", ":")).encode()


def put_manifest(server, repo, ref, body, media_type=OCI_MANIFEST):
    return server.request(
        "PUT", f"/v2/{repo}/manifests/{ref}", data=body, headers={"Content-Type": media_type}
    )


def push_image(server, repo, tag, layers=None, config=None, media_type=OCI_MANIFEST, **extra):
    """Pushes config and layers, then the manifest under `tag`. Returns (digest, manifest bytes)."""
    layers = layers if layers is not None else [os.urandom(1024)]
    config = config if config is not None else json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    for blob in [config, *layers]:
        push_blob(server, repo, blob)
    body = image_manifest(config, layers, media_type, **extra)
    r = put_manifest(server, repo, tag, body, media_type)
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == sha256(body)
    return sha256(body), body


def error_code(response):
    return response.json()["errors"][0]["code"]


def layer_tar(files):
    """A gzipped tar of {path: bytes}, as a real image layer."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        for path, content in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mtime = 0
            t.addfile(info, io.BytesIO(content))
    diff_id = sha256(raw.getvalue())
    return gzip.compress(raw.getvalue(), mtime=0), diff_id


def write_oci_layout(path, images, tag="latest", as_index=False):
    """Writes an OCI image layout. `images` is a list of (arch, {file: bytes}). With
    `as_index`, the tag names an index of all images; otherwise the first image."""
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        with open(os.path.join(blobs, hashlib.sha256(data).hexdigest()), "wb") as f:
            f.write(data)
        return data

    manifests = []
    for arch, files in images:
        layer, diff_id = layer_tar(files)
        config = put(json.dumps({
            "architecture": arch, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "config": {},
        }).encode())
        put(layer)
        body = put(image_manifest(config, [layer]))
        manifests.append(descriptor(OCI_MANIFEST, body, platform={"architecture": arch, "os": "linux"}))
    if as_index:
        index_body = put(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).encode())
        top = descriptor(OCI_INDEX, index_body)
    else:
        top = {k: v for k, v in manifests[0].items() if k != "platform"}
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [top]}, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return top["digest"]
