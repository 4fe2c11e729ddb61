"""Hostile and malformed input: each gets a clear OCI error, never a 500, and changes nothing."""

import json
import os
import socket
import subprocess

import requests

from oci import descriptor, error_code, image_manifest, push_blob, push_image, put_manifest, sha256, OCI_MANIFEST


def assert_unchanged(server, repo):
    """The repository holds no tags, and no stray blobs from the failed request."""
    assert server.request("GET", f"/v2/{repo}/tags/list").json()["tags"] == []


def test_wrong_digest_is_refused_and_nothing_is_stored(server):
    server.create_repo("hh")
    loc = server.request("POST", "/v2/hh/blobs/uploads/").headers["Location"]
    r = server.request("PUT", loc, params={"digest": sha256(b"other")}, data=b"actual")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    for d in [sha256(b"other"), sha256(b"actual")]:
        assert server.request("HEAD", f"/v2/hh/blobs/{d}").status_code == 404
    r = server.request("POST", "/v2/hh/blobs/uploads/", params={"digest": sha256(b"x")}, data=b"y")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    assert server.request("HEAD", f"/v2/hh/blobs/{sha256(b'y')}").status_code == 404


def test_malformed_digests_are_refused(server):
    server.create_repo("hh")
    for bad in ["sha256:abc", "md5:" + "a" * 32, "sha256:" + "G" * 64, "..%2f..%2fetc"]:
        r = server.request("GET", f"/v2/hh/blobs/{bad}")
        assert r.status_code in (400, 404), bad
        assert r.status_code != 500
    r = server.request("POST", "/v2/hh/blobs/uploads/", params={"digest": "sha256:../../x"}, data=b"y")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"


def test_content_length_that_lies_leaves_no_blob(server):
    server.create_repo("liar")
    data = b"short body"
    digest = sha256(data)
    head = (
        f"POST /v2/liar/blobs/uploads/?digest={digest} HTTP/1.1\r\n"
        f"Host: {server.host}\r\nAuthorization: Basic "
        + __import__("base64").b64encode(f"AWS:{server.token()}".encode()).decode()
        + "\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(head + data)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        try:
            answer = s.recv(1000)
        except (socket.timeout, ConnectionResetError):
            answer = b""
    assert b" 201 " not in answer
    assert server.request("HEAD", f"/v2/liar/blobs/{digest}").status_code == 404
    # The server is still healthy.
    assert server.request("GET", "/v2/").status_code == 200


def curl(server, method, path):
    """A raw request with curl, the path sent exactly as written. Returns (status, JSON body)."""
    verb = ["-I"] if method == "HEAD" else ["-X", method]
    r = subprocess.run(
        ["curl", "-s", *verb, "-w", "\n%{http_code}", "--path-as-is", "--max-time", "30",
         "-u", f"AWS:{server.token()}", server.url + path],
        capture_output=True, text=True, check=True,
    )
    body, status = r.stdout.rsplit("\n", 1)
    return int(status), json.loads(body) if body and method != "HEAD" else None


def test_path_traversal_in_names_and_digests_is_refused_without_redirect(server):
    server.create_repo("ab")
    for method, path in [("GET", "/v2/../../etc/passwd/tags/list"), ("GET", "/v2/a/../b/tags/list"),
                         ("GET", "/v2/a//b/tags/list"), ("GET", "/v2/UPPER/tags/list"),
                         ("GET", "/v2/%2e%2e/tags/list"), ("GET", "/v2/a/./b/manifests/latest"),
                         ("PUT", "/v2/../ab/manifests/v1"), ("DELETE", "/v2/ab/../ab/manifests/v1"),
                         ("POST", "/v2/../../tmp/blobs/uploads/")]:
        status, body = curl(server, method, path)
        assert status == 400 and body["errors"][0]["code"] == "NAME_INVALID", (method, path, body)
    for path in ["/v2/ab/blobs/sha256:..%2f..%2fetc", "/v2/ab/blobs/..%2f..%2fetc",
                 "/v2/ab/blobs/sha256:../../../etc/passwd"]:
        status, body = curl(server, "GET", path)
        assert status in (400, 404), (path, status)
        if body:
            assert body["errors"][0]["code"] in ("DIGEST_INVALID", "NAME_INVALID"), (path, body)
    # A reference that cannot be a tag or digest names no manifest (the OCI conformance suite
    # probes with exactly this); storing under it is refused with the reason.
    for method in ["GET", "HEAD", "DELETE"]:
        status, body = curl(server, method, "/v2/ab/manifests/.INVALID_MANIFEST_NAME")
        assert status == 404, (method, status)
        if method != "HEAD":
            assert body["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert not os.path.exists(os.path.join(server.data_dir, "..", "etc"))
    assert server.request("GET", "/v2/ab/tags/list").json()["tags"] == []


def test_oversized_manifest_is_refused(server):
    server.create_repo("big")
    body = b'{"schemaVersion":2,' + b" " * (4 * 1024 * 1024) + b"}"
    r = put_manifest(server, "big", "v1", body)
    assert r.status_code == 413 and error_code(r) == "SIZE_INVALID"
    assert_unchanged(server, "big")
    # Exactly 4 MiB is within the limit: a real manifest padded with whitespace to the byte.
    config = b"{}"
    push_blob(server, "big", config)
    manifest = image_manifest(config, [])
    padded = manifest[:-1] + b" " * (4 * 1024 * 1024 - len(manifest)) + b"}"
    assert len(padded) == 4 * 1024 * 1024
    r = put_manifest(server, "big", "v1", padded)
    assert r.status_code == 201, r.text
    assert server.request("GET", "/v2/big/manifests/v1").content == padded


def test_invalid_json_manifest_is_refused(server):
    server.create_repo("bad")
    for body in [b"{not json", b"[]", b"", b'{"schemaVersion":2}']:
        r = put_manifest(server, "bad", "v1", body)
        assert r.status_code == 400 and error_code(r) == "MANIFEST_INVALID", body
    assert_unchanged(server, "bad")


def test_unknown_media_type_is_refused(server):
    server.create_repo("mt")
    config, layer = b"{}", b"l"
    push_blob(server, "mt", config)
    push_blob(server, "mt", layer)
    body = image_manifest(config, [layer])
    r = put_manifest(server, "mt", "v1", body, "application/x-unknown")
    assert r.status_code == 400 and error_code(r) == "MANIFEST_INVALID"
    schema1 = json.dumps({"schemaVersion": 1, "name": "mt", "tag": "v1", "fsLayers": []}).encode()
    r = put_manifest(server, "mt", "v1", schema1, "application/vnd.docker.distribution.manifest.v1+prettyjws")
    assert r.status_code == 400 and "schema1" in r.json()["errors"][0]["message"]
    assert_unchanged(server, "mt")


def test_manifest_with_unknown_blobs_is_refused(server):
    server.create_repo("missing")
    config = b"{}"
    push_blob(server, "missing", config)
    body = image_manifest(config, [b"never uploaded"])
    r = put_manifest(server, "missing", "v1", body)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_BLOB_UNKNOWN"
    assert r.json()["errors"][0]["detail"]["digest"] == sha256(b"never uploaded")
    assert server.request("GET", f"/v2/missing/manifests/{sha256(body)}").status_code == 404
    assert_unchanged(server, "missing")


def test_index_with_unknown_child_is_refused(server):
    server.create_repo("idx")
    child = image_manifest(b"{}", [])
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [descriptor(OCI_MANIFEST, child)]}).encode()
    r = put_manifest(server, "idx", "v1", index, "application/vnd.oci.image.index.v1+json")
    assert r.status_code == 400 and error_code(r) == "MANIFEST_BLOB_UNKNOWN"


def test_manifest_digest_mismatch_is_refused(server):
    server.create_repo("dm")
    config = b"{}"
    push_blob(server, "dm", config)
    body = image_manifest(config, [])
    r = put_manifest(server, "dm", sha256(b"something else"), body)
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    assert server.request("GET", f"/v2/dm/manifests/{sha256(body)}").status_code == 404


def test_invalid_tags_and_references_are_refused(server):
    server.create_repo("tagz")
    digest, body = push_image(server, "tagz", "ok")
    for bad in ["-lead", "." + "x", "a" * 129, "sha256:short"]:
        r = put_manifest(server, "tagz", bad, body)
        assert r.status_code == 400, bad
    assert server.request("GET", "/v2/tagz/tags/list").json()["tags"] == ["ok"]


def test_requests_without_auth_are_refused_everywhere(server):
    server.create_repo("auth")
    digest, _ = push_image(server, "auth", "v1")
    for method, path in [("GET", "/v2/"), ("GET", "/v2/auth/manifests/v1"), ("GET", f"/v2/auth/blobs/{digest}"),
                         ("POST", "/v2/auth/blobs/uploads/"), ("GET", "/v2/auth/tags/list"),
                         ("GET", "/v2/_catalog"), ("DELETE", "/v2/auth/manifests/v1"),
                         ("PUT", "/v2/auth/manifests/v2"), ("GET", f"/v2/auth/referrers/{digest}")]:
        r = requests.request(method, server.url + path)
        assert r.status_code == 401, (method, path)
        assert r.headers["WWW-Authenticate"].startswith("Basic realm=")
        assert error_code(r) == "UNAUTHORIZED"
    assert server.request("GET", "/v2/auth/manifests/v1").status_code == 200


def test_forged_and_garbled_tokens_get_401(server):
    good = server.token()
    claims, sig = good.split(".")
    forged = claims + "." + ("A" * len(sig))
    for password in [forged, "garbage", "", good + "x", "a.b"]:
        r = requests.get(server.url + "/v2/", auth=("AWS", password))
        assert r.status_code == 401, password
    r = requests.get(server.url + "/v2/", auth=("admin", good))
    assert r.status_code == 401
    r = requests.get(server.url + "/v2/", headers={"Authorization": "Basic !!!notbase64"})
    assert r.status_code == 401


def test_unknown_upload_ids_are_refused(server):
    server.create_repo("up")
    for loc in ["/v2/up/blobs/uploads/not-a-uuid", "/v2/up/blobs/uploads/00000000-0000-4000-8000-000000000000"]:
        assert server.request("PATCH", loc, data=b"x").status_code == 404
        assert server.request("GET", loc).status_code == 404
    # An upload cannot be finished through another repository.
    server.create_repo("other")
    loc = server.request("POST", "/v2/up/blobs/uploads/").headers["Location"]
    stolen = loc.replace("/v2/up/", "/v2/other/")
    r = server.request("PUT", stolen, params={"digest": sha256(b"")})
    assert r.status_code == 404 and error_code(r) == "BLOB_UPLOAD_UNKNOWN"


def test_unsupported_methods_get_405(server):
    r = server.request("POST", "/v2/_catalog")
    assert r.status_code == 405 and error_code(r) == "UNSUPPORTED"
