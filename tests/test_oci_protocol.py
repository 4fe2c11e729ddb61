"""The OCI Distribution v1.1 workflows over raw HTTP: pull, push, discovery, management."""

import json
import os

from oci import (
    DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, descriptor, error_code,
    image_manifest, push_blob, push_image, put_manifest, sha256,
)


def test_base_endpoint_answers_with_api_version(server):
    r = server.request("GET", "/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_manifest_get_and_head_by_tag_and_digest(server):
    server.create_repo("web-app")
    digest, body = push_image(server, "web-app", "v1")
    for ref in ["v1", digest]:
        r = server.request("GET", f"/v2/web-app/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200
        assert r.content == body
        assert r.headers["Content-Type"] == OCI_MANIFEST
        assert r.headers["Docker-Content-Digest"] == digest
        h = server.request("HEAD", f"/v2/web-app/manifests/{ref}")
        assert h.status_code == 200
        assert h.headers["Content-Length"] == str(len(body))
        assert h.content == b""


def test_manifest_not_in_accept_list_is_not_served(server):
    server.create_repo("neg")
    push_image(server, "neg", "v1")
    r = server.request("GET", "/v2/neg/manifests/v1", headers={"Accept": DOCKER_MANIFEST})
    assert r.status_code == 404
    assert error_code(r) == "MANIFEST_UNKNOWN"


def test_blob_get_head_and_ranges(server):
    server.create_repo("blobs")
    data = os.urandom(5000)
    digest = push_blob(server, "blobs", data)
    r = server.request("GET", f"/v2/blobs/blobs/{digest}")
    assert r.status_code == 200 and r.content == data
    assert r.headers["Docker-Content-Digest"] == digest
    h = server.request("HEAD", f"/v2/blobs/blobs/{digest}")
    assert h.status_code == 200 and h.headers["Content-Length"] == "5000"
    r = server.request("GET", f"/v2/blobs/blobs/{digest}", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == "bytes 10-19/5000"
    r = server.request("GET", f"/v2/blobs/blobs/{digest}", headers={"Range": "bytes=4990-"})
    assert r.status_code == 206 and r.content == data[4990:]
    r = server.request("GET", f"/v2/blobs/blobs/{digest}", headers={"Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == data[-5:]


def test_large_blob_in_odd_chunks_reads_back_exactly(server):
    # Uploads are written in 2 MiB block-aligned buffers (direct I/O) with the remainder through
    # the page cache, and blobs are read in 4 MiB mapped windows: chunks and ranges that start
    # and end off those boundaries must still land and come back byte for byte.
    server.create_repo("large")
    mib = 1024 * 1024
    data = os.urandom(11 * mib + 12345)
    cuts = [0, 1, 3 * mib + 6, 3 * mib + 6 + 4096, 8 * mib - 1, len(data)]
    loc = server.request("POST", "/v2/large/blobs/uploads/").headers["Location"]
    for start, end in zip(cuts[:-2], cuts[1:-1]):
        r = server.request("PATCH", loc, data=data[start:end],
                           headers={"Content-Range": f"{start}-{end - 1}"})
        assert r.status_code == 202, r.text
        assert r.headers["Range"] == f"0-{end - 1}"
        loc = r.headers["Location"]
    digest = sha256(data)
    r = server.request("PUT", loc, params={"digest": digest}, data=data[cuts[-2]:],
                       headers={"Content-Range": f"{cuts[-2]}-{len(data) - 1}"})
    assert r.status_code == 201, r.text
    r = server.request("GET", f"/v2/large/blobs/{digest}")
    assert r.status_code == 200 and sha256(r.content) == digest
    for first, last in [(4 * mib - 3, 4 * mib + 2), (8 * mib - 1, None), (0, 2 * mib)]:
        spec = f"bytes={first}-{'' if last is None else last}"
        r = server.request("GET", f"/v2/large/blobs/{digest}", headers={"Range": spec})
        assert r.status_code == 206, spec
        assert r.content == data[first:None if last is None else last + 1], spec
    # The same bytes in one monolithic PUT: several full buffers and an unaligned tail.
    server.create_repo("large-mono")
    loc = server.request("POST", "/v2/large-mono/blobs/uploads/").headers["Location"]
    r = server.request("PUT", loc, params={"digest": digest}, data=data)
    assert r.status_code == 201, r.text
    assert sha256(server.request("GET", f"/v2/large-mono/blobs/{digest}").content) == digest


def test_bad_range_headers_get_416(server):
    server.create_repo("ranges")
    digest = push_blob(server, "ranges", b"0123456789")
    for bad in ["bytes=20-30", "bytes=5-2", "bytes=0-1,3-4", "pages=0-1", "bytes=x-"]:
        r = server.request("GET", f"/v2/ranges/blobs/{digest}", headers={"Range": bad})
        assert r.status_code == 416, bad
        assert error_code(r) == "RANGE_INVALID"
        assert r.headers["Content-Range"] == "bytes */10"


def test_single_request_monolithic_upload(server):
    server.create_repo("mono")
    data = b"single post"
    r = server.request("POST", "/v2/mono/blobs/uploads/", params={"digest": sha256(data)}, data=data)
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/mono/blobs/{sha256(data)}"
    assert server.request("GET", r.headers["Location"]).content == data


def test_chunked_upload_with_status_and_out_of_order_chunks(server):
    server.create_repo("chunks")
    data = os.urandom(3000)
    r = server.request("POST", "/v2/chunks/blobs/uploads/")
    loc = r.headers["Location"]
    # A first chunk that does not start at 0 is refused.
    r = server.request("PATCH", loc, data=data[:10], headers={"Content-Range": "5-14"})
    assert r.status_code == 416
    r = server.request("PATCH", loc, data=data[:1000], headers={"Content-Range": "0-999"})
    assert r.status_code == 202 and r.headers["Range"] == "0-999"
    loc = r.headers["Location"]
    # Out of order: starts past the end.
    r = server.request("PATCH", loc, data=data[1500:2000], headers={"Content-Range": "1500-1999"})
    assert r.status_code == 416
    assert r.headers["Range"] == "0-999"
    s = server.request("GET", loc)
    assert s.status_code == 204 and s.headers["Range"] == "0-999"
    assert s.headers["Location"] == loc
    r = server.request("PATCH", loc, data=data[1000:2000], headers={"Content-Range": "1000-1999"})
    assert r.status_code == 202 and r.headers["Range"] == "0-1999"
    r = server.request("PUT", loc, params={"digest": sha256(data)}, data=data[2000:],
                       headers={"Content-Range": "2000-2999"})
    assert r.status_code == 201, r.text
    assert server.request("GET", f"/v2/chunks/blobs/{sha256(data)}").content == data


def test_streamed_patch_without_content_range(server):
    server.create_repo("stream")
    r = server.request("POST", "/v2/stream/blobs/uploads/")
    r = server.request("PATCH", r.headers["Location"], data=b"abc")
    r = server.request("PATCH", r.headers["Location"], data=b"def")
    assert r.headers["Range"] == "0-5"
    r = server.request("PUT", r.headers["Location"], params={"digest": sha256(b"abcdef")})
    assert r.status_code == 201


def test_cancelled_upload_is_gone(server):
    server.create_repo("cancel")
    loc = server.request("POST", "/v2/cancel/blobs/uploads/").headers["Location"]
    server.request("PATCH", loc, data=b"partial")
    assert server.request("DELETE", loc).status_code == 204
    r = server.request("GET", loc)
    assert r.status_code == 404 and error_code(r) == "BLOB_UPLOAD_UNKNOWN"
    r = server.request("PUT", loc, params={"digest": sha256(b"partial")})
    assert r.status_code == 404


def test_upload_survives_a_restart(server):
    server.create_repo("resume")
    loc = server.request("POST", "/v2/resume/blobs/uploads/").headers["Location"]
    server.request("PATCH", loc, data=b"before restart ", headers={"Content-Range": "0-14"})
    server.restart()
    r = server.request("PATCH", loc, data=b"after", headers={"Content-Range": "15-19"})
    assert r.status_code == 202, r.text
    r = server.request("PUT", loc, params={"digest": sha256(b"before restart after")})
    assert r.status_code == 201, r.text


def test_cross_repository_mount(server):
    server.create_repo("src")
    server.create_repo("dst")
    digest = push_blob(server, "src", b"shared layer")
    r = server.request("POST", "/v2/dst/blobs/uploads/", params={"mount": digest, "from": "src"})
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/dst/blobs/{digest}"
    assert server.request("GET", f"/v2/dst/blobs/{digest}").content == b"shared layer"
    # A blob the source lacks falls back to a new upload session.
    r = server.request("POST", "/v2/dst/blobs/uploads/", params={"mount": sha256(b"nope"), "from": "src"})
    assert r.status_code == 202 and "/blobs/uploads/" in r.headers["Location"]


def test_blob_from_another_repository_is_not_visible_without_mount(server):
    server.create_repo("one")
    server.create_repo("two")
    digest = push_blob(server, "one", b"private")
    r = server.request("GET", f"/v2/two/blobs/{digest}")
    assert r.status_code == 404 and error_code(r) == "BLOB_UNKNOWN"


def test_tags_list_is_lexical_and_paginated(server):
    server.create_repo("tags")
    digest, body = push_image(server, "tags", "b")
    for tag in ["c", "a", "B", "a1"]:
        assert put_manifest(server, "tags", tag, body).status_code == 201
    r = server.request("GET", "/v2/tags/tags/list")
    assert r.json() == {"name": "tags", "tags": ["B", "a", "a1", "b", "c"]}
    r = server.request("GET", "/v2/tags/tags/list", params={"n": 2})
    assert r.json()["tags"] == ["B", "a"]
    assert r.headers["Link"] == '</v2/tags/tags/list?n=2&last=a>; rel="next"'
    r = server.request("GET", "/v2/tags/tags/list", params={"n": 2, "last": "a"})
    assert r.json()["tags"] == ["a1", "b"]
    r = server.request("GET", "/v2/tags/tags/list", params={"n": 0})
    assert r.json()["tags"] == []
    r = server.request("GET", "/v2/tags/tags/list", params={"n": "many"})
    assert r.status_code == 400


def test_catalog_is_paginated(server):
    for name in ["zeta", "alpha", "team/mid"]:
        server.create_repo(name)
    r = server.request("GET", "/v2/_catalog")
    assert r.json() == {"repositories": ["alpha", "team/mid", "zeta"]}
    r = server.request("GET", "/v2/_catalog", params={"n": 1, "last": "alpha"})
    assert r.json() == {"repositories": ["team/mid"]}
    assert "last=team/mid" in r.headers["Link"]


def test_referrers_with_artifact_type_filter_and_subject_header(server):
    server.create_repo("refs")
    subject_digest, subject_body = push_image(server, "refs", "v1")
    subject = descriptor(OCI_MANIFEST, subject_body)
    empty = b"{}"
    push_blob(server, "refs", empty)
    sig_layer = push_blob(server, "refs", b"signature")
    for artifact_type in ["application/vnd.example.sig", "application/vnd.example.sbom"]:
        body = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(empty), "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": sig_layer, "size": 9}],
            "subject": subject, "annotations": {"kind": artifact_type},
        }).encode()
        r = put_manifest(server, "refs", sha256(body), body)
        assert r.status_code == 201, r.text
        assert r.headers["OCI-Subject"] == subject_digest
    r = server.request("GET", f"/v2/refs/referrers/{subject_digest}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == OCI_INDEX
    found = r.json()["manifests"]
    assert sorted(m["artifactType"] for m in found) == ["application/vnd.example.sbom", "application/vnd.example.sig"]
    assert all(m["annotations"]["kind"] == m["artifactType"] for m in found)
    r = server.request("GET", f"/v2/refs/referrers/{subject_digest}",
                       params={"artifactType": "application/vnd.example.sig"})
    assert [m["artifactType"] for m in r.json()["manifests"]] == ["application/vnd.example.sig"]
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    r = server.request("GET", f"/v2/refs/referrers/{sha256(b'nothing')}")
    assert r.status_code == 200 and r.json()["manifests"] == []


def test_delete_by_tag_removes_only_the_tag(server):
    server.create_repo("del")
    digest, body = push_image(server, "del", "v1")
    put_manifest(server, "del", "v2", body)
    assert server.request("DELETE", "/v2/del/manifests/v1").status_code == 202
    assert server.request("GET", "/v2/del/manifests/v1").status_code == 404
    assert server.request("GET", "/v2/del/manifests/v2").status_code == 200
    assert server.request("GET", f"/v2/del/manifests/{digest}").status_code == 200


def test_delete_by_digest_removes_manifest_and_tags(server):
    server.create_repo("deld")
    digest, _ = push_image(server, "deld", "v1")
    assert server.request("DELETE", f"/v2/deld/manifests/{digest}").status_code == 202
    assert server.request("GET", f"/v2/deld/manifests/{digest}").status_code == 404
    assert server.request("GET", "/v2/deld/manifests/v1").status_code == 404
    assert server.request("GET", "/v2/deld/tags/list").json()["tags"] == []
    r = server.request("DELETE", f"/v2/deld/manifests/{digest}")
    assert r.status_code == 404 and error_code(r) == "MANIFEST_UNKNOWN"


def test_delete_blob(server):
    server.create_repo("delb")
    digest = push_blob(server, "delb", b"bye")
    assert server.request("DELETE", f"/v2/delb/blobs/{digest}").status_code == 202
    r = server.request("HEAD", f"/v2/delb/blobs/{digest}")
    assert r.status_code == 404


def test_all_four_manifest_types_are_accepted(server):
    server.create_repo("types")
    oci_digest, oci_body = push_image(server, "types", "oci")
    docker_digest, docker_body = push_image(server, "types", "docker", media_type=DOCKER_MANIFEST)
    for media_type, child_type, child in [(OCI_INDEX, OCI_MANIFEST, oci_body), (DOCKER_LIST, DOCKER_MANIFEST, docker_body)]:
        index = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": [
            descriptor(child_type, child, platform={"architecture": "amd64", "os": "linux"})]}).encode()
        r = put_manifest(server, "types", "list", index, media_type)
        assert r.status_code == 201, r.text
        g = server.request("GET", "/v2/types/manifests/list", headers={"Accept": media_type})
        assert g.headers["Content-Type"] == media_type and g.content == index


def test_sha512_digest_reference_is_accepted(server):
    import hashlib
    server.create_repo("sha512")
    config, layer = b'{"a":1}', b"layer"
    push_blob(server, "sha512", config)
    push_blob(server, "sha512", layer)
    body = image_manifest(config, [layer])
    ref = "sha512:" + hashlib.sha512(body).hexdigest()
    r = put_manifest(server, "sha512", ref, body)
    assert r.status_code == 201, r.text
    assert server.request("GET", f"/v2/sha512/manifests/{ref}").content == body


def test_a_manifest_an_index_lists_cannot_be_deleted_before_the_index(server):
    server.create_repo("idx")
    child_digest, child = push_image(server, "idx", "child")
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": [descriptor(OCI_MANIFEST, child)]}).encode()
    assert put_manifest(server, "idx", "list", index, OCI_INDEX).status_code == 201
    r = server.request("DELETE", f"/v2/idx/manifests/{child_digest}")
    assert r.status_code == 403 and error_code(r) == "DENIED"
    assert server.request("GET", f"/v2/idx/manifests/{child_digest}").status_code == 200
    assert server.request("DELETE", f"/v2/idx/manifests/{sha256(index)}").status_code == 202
    assert server.request("DELETE", f"/v2/idx/manifests/{child_digest}").status_code == 202


def test_sha512_blob_upload_and_pull(server):
    import hashlib
    server.create_repo("sha512b")
    data = os.urandom(3000)
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    r = server.request("POST", "/v2/sha512b/blobs/uploads/", params={"digest": digest}, data=data,
                       headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == digest
    g = server.request("GET", f"/v2/sha512b/blobs/{digest}")
    assert g.status_code == 200 and g.content == data and g.headers["Docker-Content-Digest"] == digest
    wrong = "sha512:" + hashlib.sha512(b"other").hexdigest()
    r = server.request("POST", "/v2/sha512b/blobs/uploads/", params={"digest": wrong}, data=data)
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    assert server.request("HEAD", f"/v2/sha512b/blobs/{wrong}").status_code == 404


def test_a_128_character_tag_is_the_longest(server):
    server.create_repo("longtag")
    digest, body = push_image(server, "longtag", "t" * 128)
    assert server.request("GET", "/v2/longtag/manifests/" + "t" * 128).headers["Docker-Content-Digest"] == digest
    r = put_manifest(server, "longtag", "t" * 129, body)
    assert r.status_code == 400 and error_code(r) == "TAG_INVALID"
    assert server.request("GET", "/v2/longtag/tags/list").json()["tags"] == ["t" * 128]


def test_an_expired_token_gets_403_denied_with_ecrs_message(server):
    import requests
    # A token issued now, shown to a server whose clock is 13 hours on: 12 hours have passed.
    stale = server.token()
    server.restart(BERTH_CLOCK_OFFSET_SECONDS=str(13 * 3600))
    for method, path in [("GET", "/v2/"), ("GET", "/v2/_catalog"), ("POST", "/v2/any/blobs/uploads/")]:
        r = requests.request(method, server.url + path, auth=("AWS", stale))
        assert r.status_code == 403, (path, r.status_code)
        assert r.json() == {"errors": [{"code": "DENIED", "message":
                                        "Your authorization token has expired. Reauthenticate and try again."}]}


def test_an_abandoned_patch_leaves_a_resumable_prefix(server):
    """A client that hangs up mid-PATCH, then asks where the upload stands and resumes from
    there: whatever part of the abandoned chunk was kept is a prefix of what was sent."""
    import base64
    import socket
    server.create_repo("resume")
    data = os.urandom(24 * 1024 * 1024)
    loc = server.request("POST", "/v2/resume/blobs/uploads/").headers["Location"]
    auth = base64.b64encode(f"AWS:{server.token()}".encode()).decode()
    # A first acknowledged chunk, so that the reported Range is never the ambiguous "0-0".
    r = server.request("PATCH", loc, data=data[:1024 * 1024], headers={"Content-Range": f"0-{1024 * 1024 - 1}"})
    assert r.status_code == 202
    for _ in range(3):
        status = server.request("GET", loc)
        assert status.status_code == 204
        have = int(status.headers["Range"].split("-")[1]) + 1 if status.headers.get("Range") else 0
        head = (f"PATCH {loc} HTTP/1.1\r\nHost: {server.host}\r\nAuthorization: Basic {auth}\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Range: {have}-{len(data) - 1}\r\n"
                f"Content-Length: {len(data) - have}\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            try:
                s.sendall(head + data[have:have + 4 * 1024 * 1024])
            except (BrokenPipeError, ConnectionResetError):
                pass
        # Hung up; ask again at once, while the abandoned chunk may still be settling.
    deadline = __import__("time").time() + 10
    while True:
        status = server.request("GET", loc)
        have = int(status.headers["Range"].split("-")[1]) + 1 if status.headers.get("Range") else 0
        r = server.request("PUT", loc, params={"digest": sha256(data)}, data=data[have:],
                           headers={"Content-Range": f"{have}-{len(data) - 1}"} if have < len(data) else {})
        if r.status_code == 201 or __import__("time").time() > deadline:
            break
        assert r.status_code == 416, r.text  # the upload grew meanwhile: ask again
    assert r.status_code == 201, r.text
    g = server.request("GET", f"/v2/resume/blobs/{sha256(data)}")
    assert g.status_code == 200 and sha256(g.content) == sha256(data)


def test_an_abandoned_single_request_upload_leaves_nothing(server):
    """A client that hangs up in the middle of a one-request upload (`POST ?digest=`): no
    blob appears and no upload file is left behind."""
    import base64
    import socket
    import time
    server.create_repo("gone")
    data = os.urandom(6 * 1024 * 1024)
    auth = base64.b64encode(f"AWS:{server.token()}".encode()).decode()
    head = (f"POST /v2/gone/blobs/uploads/?digest={sha256(data)} HTTP/1.1\r\n"
            f"Host: {server.host}\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(head + data[:3 * 1024 * 1024])
    uploads = os.path.join(server.data_dir, "uploads")
    deadline = time.time() + 10
    while os.listdir(uploads) and time.time() < deadline:
        time.sleep(0.05)
    assert os.listdir(uploads) == []
    assert server.request("HEAD", f"/v2/gone/blobs/{sha256(data)}").status_code == 404
