"""ECR's repository and tag rules, through the /v2 door and the admin CLI."""

import json
import os

import requests

from oci import error_code, image_manifest, push_blob, push_image, put_manifest, sha256


def test_push_to_a_missing_repository_is_name_unknown_with_ecrs_message(server):
    r = server.request("POST", "/v2/ghost/blobs/uploads/")
    assert r.status_code == 404
    assert error_code(r) == "NAME_UNKNOWN"
    account = server.stdout.split("account (registry):")[1].split()[0]
    assert r.json()["errors"][0]["message"] == (
        f"The repository with name 'ghost' does not exist in the registry with id '{account}'"
    )


def test_auto_create_repositories_lifts_create_before_push(make_server):
    s = make_server(extra_args=["--auto-create-repositories", "true"])
    digest, _ = push_image(s, "made/on-push", "v1")
    assert s.request("GET", "/v2/made/on-push/manifests/v1").status_code == 200


def test_repository_names_follow_ecr_rules(server):
    for bad in ["a", "UPPER", "a//b", "a/../b", "-lead", "trail-", "a" * 257]:
        r = server.berth("repo", "create", "--", bad, check=False)
        assert r.returncode != 0, bad
        assert "InvalidParameterException" in r.stderr, r.stderr
    for good in ["ab", "team/web.app_1", "a-b/c__d", "a" * 256]:
        server.create_repo(good)


def test_immutable_tag_cannot_move_but_same_digest_is_accepted(server):
    server.create_repo("web-app", "--tag-mutability", "IMMUTABLE")
    digest, body = push_image(server, "web-app", "v1")
    assert put_manifest(server, "web-app", "v1", body).status_code == 201
    # Another image whose blobs are uploaded, but whose manifest has never been stored.
    config, layer = b'{"os":"linux","n":2}', os.urandom(512)
    push_blob(server, "web-app", config)
    push_blob(server, "web-app", layer)
    other = image_manifest(config, [layer])
    r = put_manifest(server, "web-app", "v1", other)
    assert r.status_code == 400 and error_code(r) == "TAG_INVALID"
    # Nothing changed: the refused manifest was not stored, and v1 still points where it did.
    assert server.request("HEAD", f"/v2/web-app/manifests/{sha256(other)}").status_code == 404
    assert server.request("GET", "/v2/web-app/tags/list").json()["tags"] == ["v1"]
    assert r.json()["errors"][0]["message"] == (
        "The image tag 'v1' already exists in the 'web-app' repository and cannot be "
        "overwritten because the repository is immutable."
    )
    assert server.request("GET", "/v2/web-app/manifests/v1").headers["Docker-Content-Digest"] == digest


def test_mutability_exclusion_filters(server):
    server.create_repo("ex", "--tag-mutability", "IMMUTABLE_WITH_EXCLUSION", "--filter", "latest", "--filter", "dev-*")
    _, a = push_image(server, "ex", "v1")
    _, b = push_image(server, "ex", "v2")
    for tag in ["latest", "dev-1"]:
        assert put_manifest(server, "ex", tag, a).status_code == 201
        assert put_manifest(server, "ex", tag, b).status_code == 201
    assert put_manifest(server, "ex", "v1", b).status_code == 400
    server.berth("repo", "set-mutability", "ex", "MUTABLE_WITH_EXCLUSION", "--filter", "release-*")
    assert put_manifest(server, "ex", "v1", b).status_code == 201
    assert put_manifest(server, "ex", "release-1", a).status_code == 201
    assert put_manifest(server, "ex", "release-1", b).status_code == 400


def test_mutable_tags_move(server):
    server.create_repo("mut")
    _, a = push_image(server, "mut", "v1")
    b_digest, b = push_image(server, "mut", "other")
    assert put_manifest(server, "mut", "v1", b).status_code == 201
    assert server.request("GET", "/v2/mut/manifests/v1").headers["Docker-Content-Digest"] == b_digest


def test_concurrent_pushes_to_one_immutable_tag_have_one_winner(server):
    from concurrent.futures import ThreadPoolExecutor
    server.create_repo("race", "--tag-mutability", "IMMUTABLE")
    bodies = [push_image(server, "race", f"seed{i}")[1] for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda b: put_manifest(server, "race", "v1", b).status_code, bodies))
    assert codes.count(201) == 1, codes
    assert codes.count(400) == 7, codes


def test_concurrent_pushes_of_the_same_blob_are_safe(server):
    from concurrent.futures import ThreadPoolExecutor
    import os
    server.create_repo("same")
    data = os.urandom(200_000)
    with ThreadPoolExecutor(8) as pool:
        digests = list(pool.map(lambda _: push_blob(server, "same", data), range(8)))
    assert len(set(digests)) == 1
    assert server.request("GET", f"/v2/same/blobs/{digests[0]}").content == data


def test_admin_cli_lists_and_deletes_repositories(server):
    server.create_repo("keep")
    server.create_repo("full")
    push_image(server, "full", "v1")
    listed = json.loads(server.berth("repo", "list").stdout)["repositories"]
    assert [r["repositoryName"] for r in listed] == ["full", "keep"]
    assert listed[0]["repositoryArn"].startswith("arn:aws:ecr:us-east-1:")
    r = server.berth("repo", "delete", "full", check=False)
    assert r.returncode != 0 and "RepositoryNotEmptyException" in r.stderr
    server.berth("repo", "delete", "full", "--force")
    r = server.berth("repo", "create", "keep", check=False)
    assert "RepositoryAlreadyExistsException" in r.stderr
    listed = json.loads(server.berth("repo", "list").stdout)["repositories"]
    assert [r["repositoryName"] for r in listed] == ["keep"]
    assert server.request("GET", "/v2/full/tags/list").status_code == 404


def test_admin_api_refuses_bad_credentials(server):
    env = server.env(AWS_SECRET_ACCESS_KEY="wrong")
    r = server.berth("repo", "list", check=False, env=env)
    # A wrong secret makes a signature that does not match, as AWS says it.
    assert r.returncode != 0 and "InvalidSignatureException" in r.stderr
    r = requests.post(server.url + "/berth/admin/v1/repositories/list", json={})
    assert r.status_code == 400 and r.json()["__type"] == "MissingAuthenticationTokenException"
    # The secret itself, sent as HTTP Basic, is no credential at all: only signatures are.
    r = requests.post(server.url + "/berth/admin/v1/repositories/list", json={},
                      auth=(server.env()["AWS_ACCESS_KEY_ID"], server.env()["AWS_SECRET_ACCESS_KEY"]))
    assert r.status_code == 400 and r.json()["__type"] == "IncompleteSignatureException"
    # A well-signed request with a malformed body.
    import botocore.auth, botocore.awsrequest, botocore.credentials
    url = server.url + "/berth/admin/v1/repositories/create"
    req = botocore.awsrequest.AWSRequest(method="POST", url=url, data=b"{bad json",
                                         headers={"Content-Type": "application/json"})
    creds = botocore.credentials.Credentials(server.env()["AWS_ACCESS_KEY_ID"],
                                             server.env()["AWS_SECRET_ACCESS_KEY"])
    botocore.auth.SigV4Auth(creds, "berth", "us-east-1").add_auth(req)
    r = requests.post(url, data=req.body, headers=dict(req.headers))
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException"
