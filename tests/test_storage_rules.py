"""Storage rules (issue 15, point 6) and what the log says of refusals (point 7)."""

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions
import pytest
import requests

from conftest import Server
from ecr import aws, ecr_client
from oci import descriptor, error_code, push_blob, push_image, put_manifest, sha256, OCI_MANIFEST


def test_a_layer_an_image_lists_cannot_be_deleted(server):
    server.create_repo("keep", "--tag-mutability", "IMMUTABLE")
    layer = os.urandom(2048)
    digest, _ = push_image(server, "keep", "v1", layers=[layer])
    r = server.request("DELETE", f"/v2/keep/blobs/{sha256(layer)}")
    assert r.status_code == 403 and error_code(r) == "DENIED"
    assert server.request("GET", f"/v2/keep/blobs/{sha256(layer)}").content == layer
    # A blob no manifest lists may go.
    loose = push_blob(server, "keep", b"loose")
    assert server.request("DELETE", f"/v2/keep/blobs/{loose}").status_code == 202
    assert server.request("HEAD", f"/v2/keep/blobs/{loose}").status_code == 404
    # Once the image is gone, so may its layer.
    assert server.request("DELETE", f"/v2/keep/manifests/{digest}").status_code == 202
    assert server.request("DELETE", f"/v2/keep/blobs/{sha256(layer)}").status_code == 202


def test_a_push_finishing_after_its_repository_is_deleted_gets_name_unknown(server):
    server.create_repo("doomed")
    blobs = [os.urandom(4096) for _ in range(24)]
    uploads = []
    for data in blobs:
        loc = server.request("POST", "/v2/doomed/blobs/uploads/").headers["Location"]
        r = server.request("PATCH", loc, data=data, headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 202
        uploads.append((r.headers["Location"], data))

    def complete(upload):
        loc, data = upload
        return server.request("PUT", loc, params={"digest": sha256(data)}).status_code

    with ThreadPoolExecutor(8) as pool:
        finishing = [pool.submit(complete, u) for u in uploads]
        time.sleep(0.005)
        server.berth("repo", "delete", "doomed", "--force")
        statuses = [f.result() for f in finishing]
    assert set(statuses) <= {201, 404}, statuses
    assert "panicked" not in server.server_log()
    # A repository of the same name starts empty: no link outlived the old one.
    server.create_repo("doomed")
    for data in blobs:
        assert server.request("HEAD", f"/v2/doomed/blobs/{sha256(data)}").status_code == 404
    # ECR's door says RepositoryNotFoundException for the same race, after the fact.
    ecr = ecr_client(server)
    upload = ecr.initiate_layer_upload(repositoryName="doomed")["uploadId"]
    ecr.upload_layer_part(repositoryName="doomed", uploadId=upload, partFirstByte=0,
                          partLastByte=2, layerPartBlob=b"abc")
    server.berth("repo", "delete", "doomed", "--force")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.complete_layer_upload(repositoryName="doomed", uploadId=upload,
                                  layerDigests=[sha256(b"abc")])
    assert e.value.response["Error"]["Code"] == "RepositoryNotFoundException"


def test_image_sizes_that_overflow_are_refused(server):
    server.create_repo("huge")
    layer = push_blob(server, "huge", b"layer")
    config = push_blob(server, "huge", b"{}")
    big = (1 << 53) - 1
    body = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": big}] * 1100,
    }).encode()
    r = put_manifest(server, "huge", "v1", body)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_INVALID", r.text
    assert "add up" in r.json()["errors"][0]["message"]
    assert server.request("GET", "/v2/huge/tags/list").json()["tags"] == []


def test_upload_sessions_are_bounded_per_repository_and_expire(make_server):
    server = make_server(extra_args=["--max-uploads-per-repository", "3"])
    server.create_repo("busy")
    server.create_repo("other")
    sessions = [server.request("POST", "/v2/busy/blobs/uploads/") for _ in range(3)]
    assert all(r.status_code == 202 for r in sessions)
    r = server.request("POST", "/v2/busy/blobs/uploads/")
    assert r.status_code == 429 and error_code(r) == "TOOMANYREQUESTS"
    # ECR's door says so in its own words.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr_client(server).initiate_layer_upload(repositoryName="busy")
    assert e.value.response["Error"]["Code"] == "LimitExceededException"
    assert server.request("POST", "/v2/other/blobs/uploads/").status_code == 202
    first = sessions[0].headers["Location"]
    assert server.request("DELETE", first).status_code == 204
    assert server.request("POST", "/v2/busy/blobs/uploads/").status_code == 202
    second = sessions[1].headers["Location"]
    assert server.request("PATCH", second, data=b"abc",
                          headers={"Content-Type": "application/octet-stream"}).status_code == 202
    uploads = os.path.join(server.data_dir, "uploads")
    assert len(os.listdir(uploads)) == 4
    # A day and more later, the sweep at start removes every session and its file.
    server.restart(BERTH_CLOCK_OFFSET_SECONDS=str(25 * 3600))
    deadline = time.time() + 10
    while os.listdir(uploads) and time.time() < deadline:
        time.sleep(0.1)
    assert os.listdir(uploads) == []
    assert "removed expired upload sessions" in server.server_log()
    # Back on time (tokens and signatures follow the clock), the session is unknown.
    server.restart()
    r = server.request("GET", second)
    assert r.status_code == 404 and error_code(r) == "BLOB_UPLOAD_UNKNOWN"


def test_a_refusal_is_logged_with_operation_code_key_and_request_id(server):
    ecr = ecr_client(server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.describe_repositories(repositoryNames=["absent"])
    request_id = e.value.response["ResponseMetadata"]["RequestId"]
    assert re.fullmatch(r"[0-9a-f-]{36}", request_id)
    time.sleep(0.2)
    line = next(l for l in server.server_log().splitlines() if request_id in l)
    assert "request refused" in line and " INFO " in line
    assert "op=DescribeRepositories" in line
    assert "code=RepositoryNotFoundException" in line
    assert "key=AKIABERTHTESTROOT001" in line
    # docker's first, credential-less request is the normal start of a login: DEBUG, not INFO.
    r = requests.get(server.url + "/v2/")
    assert r.status_code == 401
    quiet = r.headers["x-request-id"]
    r = requests.get(server.url + "/v2/", auth=("AWS", "forged"))
    assert r.status_code == 401
    loud = r.headers["x-request-id"]
    time.sleep(0.2)
    log = server.server_log()
    assert quiet not in log
    line = next(l for l in log.splitlines() if loud in l)
    assert "op=GET:base" in line and "code=UNAUTHORIZED" in line


def test_one_node_of_two_sweeps_expired_uploads_per_period(tmp_path):
    # Two nodes on one PostgreSQL database and one data directory: the sweep is a schedule
    # whose lease one node holds per period, so exactly one of them sweeps.
    nodes = [Server("postgres", str(tmp_path / name)) for name in ("a", "b")]
    for n in nodes:
        os.makedirs(n.dir, exist_ok=True)
    a, b = nodes
    b.metadata, b.data_dir = a.metadata, a.data_dir
    try:
        a.start()
        a.create_repo("shared")
        for _ in range(2):
            assert a.request("POST", "/v2/shared/blobs/uploads/").status_code == 202
        uploads = os.path.join(a.data_dir, "uploads")
        assert len(os.listdir(uploads)) == 2
        a.stop()
        later, debug = str(25 * 3600), "info,berth=debug"
        a.start(BERTH_CLOCK_OFFSET_SECONDS=later, RUST_LOG=debug)
        b.start(BERTH_CLOCK_OFFSET_SECONDS=later, RUST_LOG=debug)
        deadline = time.time() + 10
        while os.listdir(uploads) and time.time() < deadline:
            time.sleep(0.1)
        assert os.listdir(uploads) == []
        time.sleep(1)
        # Every run of the sweep logs, at debug when it found nothing: only one node ran it.
        runs = [n for n in nodes if re.search("removed expired upload sessions|swept upload sessions",
                                              n.server_log())]
        assert runs == [a], [n.server_log()[-800:] for n in nodes]
    finally:
        for n in nodes:
            n.kill()
