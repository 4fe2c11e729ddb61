"""skopeo (OCI layout -> berth -> OCI layout) and oras (artifacts with a subject)."""

import hashlib
import json
import os
import subprocess
import tempfile

import oras.client
import oras.oci

from oci import OCI_MANIFEST, push_image, write_oci_layout


def skopeo(*args):
    r = subprocess.run(["skopeo", *args], capture_output=True, text=True)
    assert r.returncode == 0, f"skopeo {' '.join(args)}:\n{r.stderr}"
    return r.stdout


def creds(server):
    return ["--dest-tls-verify=false", "--dest-creds", f"AWS:{server.token()}"]


def src_creds(server):
    return ["--src-tls-verify=false", "--src-creds", f"AWS:{server.token()}"]


def top_digest(layout):
    with open(os.path.join(layout, "index.json")) as f:
        return json.load(f)["manifests"][0]["digest"]


def test_skopeo_round_trips_an_oci_image_with_identical_digests(server):
    server.create_repo("oci-img")
    src, dst = tempfile.mkdtemp(), tempfile.mkdtemp()
    original = write_oci_layout(src, [("amd64", {"hello": b"world\n"})], tag="v1")
    skopeo("copy", *creds(server), f"oci:{src}:v1", f"docker://{server.host}/oci-img:v1")
    skopeo("copy", *src_creds(server), f"docker://{server.host}/oci-img:v1", f"oci:{dst}:v1")
    assert top_digest(dst) == original
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", f"AWS:{server.token()}",
                                  f"docker://{server.host}/oci-img:v1"))
    assert inspected["Digest"] == original


def test_skopeo_pushes_docker_v2s2(server):
    server.create_repo("v2s2")
    src, dst = tempfile.mkdtemp(), tempfile.mkdtemp()
    write_oci_layout(src, [("amd64", {"f": b"v2s2\n"})], tag="v1")
    digestfile = os.path.join(dst, "..", os.path.basename(dst) + ".digest")
    skopeo("copy", "--format", "v2s2", "--digestfile", digestfile, *creds(server),
           f"oci:{src}:v1", f"docker://{server.host}/v2s2:v1")
    pushed = open(digestfile).read().strip()
    skopeo("copy", *src_creds(server), f"docker://{server.host}/v2s2:v1", f"dir:{dst}")
    manifest = open(os.path.join(dst, "manifest.json"), "rb").read()
    assert "sha256:" + hashlib.sha256(manifest).hexdigest() == pushed
    assert json.loads(manifest)["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    # That v2s2 image, as it now sits on disk, is an original in its own right: copied to
    # another repository and back, its manifest comes back byte for byte. (skopeo's OCI layout
    # only holds OCI manifests, so a v2s2 original lives in a `dir:` layout.)
    server.create_repo("v2s2-copy")
    again = tempfile.mkdtemp()
    skopeo("copy", "--preserve-digests", *creds(server), f"dir:{dst}", f"docker://{server.host}/v2s2-copy:v1")
    skopeo("copy", *src_creds(server), f"docker://{server.host}/v2s2-copy:v1", f"dir:{again}")
    assert open(os.path.join(again, "manifest.json"), "rb").read() == manifest
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", f"AWS:{server.token()}",
                                  f"docker://{server.host}/v2s2-copy:v1"))
    assert inspected["Digest"] == pushed


def test_skopeo_copies_a_multi_arch_index_with_all(server):
    server.create_repo("multi")
    src, dst = tempfile.mkdtemp(), tempfile.mkdtemp()
    original = write_oci_layout(src, [("amd64", {"a": b"1"}), ("arm64", {"a": b"2"})], tag="v1", as_index=True)
    skopeo("copy", "--all", *creds(server), f"oci:{src}:v1", f"docker://{server.host}/multi:v1")
    skopeo("copy", "--all", *src_creds(server), f"docker://{server.host}/multi:v1", f"oci:{dst}:v1")
    assert top_digest(dst) == original


def test_skopeo_login_then_copy(server):
    server.create_repo("login")
    authfile = os.path.join(tempfile.mkdtemp(), "auth.json")
    skopeo("login", "--tls-verify=false", "--authfile", authfile, "-u", "AWS", "-p", server.token(), server.host)
    src = tempfile.mkdtemp()
    write_oci_layout(src, [("amd64", {"x": b"y"})], tag="v1")
    skopeo("copy", "--dest-tls-verify=false", "--authfile", authfile, f"oci:{src}:v1",
           f"docker://{server.host}/login:v1")


def test_oras_pushes_an_artifact_with_a_subject_found_by_referrers(server):
    server.create_repo("app")
    subject_digest, subject_body = push_image(server, "app", "v1")
    client = oras.client.OrasClient(hostname=server.host, insecure=True, auth_backend="basic")
    client.login(username="AWS", password=server.token(), hostname=server.host)
    workdir = tempfile.mkdtemp()
    sbom = os.path.join(workdir, "sbom.json")
    with open(sbom, "w") as f:
        json.dump({"packages": []}, f)
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        r = client.push(target=f"{server.host}/app:sbom", files=["sbom.json"],
                        subject=oras.oci.Subject(mediaType=OCI_MANIFEST, digest=subject_digest,
                                                 size=len(subject_body)))
    finally:
        os.chdir(cwd)
    assert r.status_code == 201, r.text
    assert r.headers.get("OCI-Subject") == subject_digest
    found = server.request("GET", f"/v2/app/referrers/{subject_digest}").json()["manifests"]
    assert len(found) == 1
    assert found[0]["mediaType"] == OCI_MANIFEST
    assert found[0]["digest"] == r.headers["Docker-Content-Digest"]
    artifact_type = found[0]["artifactType"]
    filtered = server.request("GET", f"/v2/app/referrers/{subject_digest}",
                              params={"artifactType": artifact_type}).json()["manifests"]
    assert [m["digest"] for m in filtered] == [found[0]["digest"]]
    none = server.request("GET", f"/v2/app/referrers/{subject_digest}",
                          params={"artifactType": "application/x-other"}).json()["manifests"]
    assert none == []
