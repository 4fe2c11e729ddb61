"""boto3 against berth's ECR API: paginators, waiter-relevant error codes, hostile input."""

import datetime
import json
import os

import botocore.exceptions
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ROOT_KEY, ROOT_SECRET
from ecr import ecr_client
from oci import image_manifest, push_blob, put_manifest, sha256

TARGET = "AmazonEC2ContainerRegistry_V20150921."


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_paginators_over_250_repositories_and_250_images(server):
    ecr = ecr_client(server)
    for i in range(250):
        ecr.create_repository(repositoryName=f"repo-{i:03d}")
    pages = list(ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 100}))
    assert len(pages) == 3
    names = [r["repositoryName"] for p in pages for r in p["repositories"]]
    assert names == [f"repo-{i:03d}" for i in range(250)]
    config = b'{"os":"linux"}'
    push_blob(server, "repo-000", config)
    push_blob(server, "repo-000", b"layer")
    body = image_manifest(config, [b"layer"])
    for i in range(250):
        assert put_manifest(server, "repo-000", f"t{i:03d}", body).status_code == 201
    # One image with 250 tags is 250 image ids; 250 distinct images come from annotations.
    ids = [i for p in ecr.get_paginator("list_images").paginate(repositoryName="repo-000",
                                                                PaginationConfig={"PageSize": 40})
           for i in p["imageIds"]]
    assert len(ids) == 250 and len({i["imageTag"] for i in ids}) == 250
    for i in range(250):
        distinct = image_manifest(config, [b"layer"], annotations={"n": str(i)})
        assert put_manifest(server, "repo-001", f"v{i}", distinct).status_code == 400  # blobs not in repo-001
    push_blob(server, "repo-001", config)
    push_blob(server, "repo-001", b"layer")
    for i in range(250):
        distinct = image_manifest(config, [b"layer"], annotations={"n": str(i)})
        assert put_manifest(server, "repo-001", f"v{i}", distinct).status_code == 201
    details = [d for p in ecr.get_paginator("describe_images").paginate(repositoryName="repo-001",
                                                                       PaginationConfig={"PageSize": 100})
               for d in p["imageDetails"]]
    assert len(details) == 250 and len({d["imageDigest"] for d in details}) == 250
    assert all(isinstance(d["imagePushedAt"], datetime.datetime) for d in details)


def test_client_errors_carry_ecrs_exception_names(server):
    ecr = ecr_client(server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.describe_repositories(repositoryNames=["missing"])
    assert error_code(e) == "RepositoryNotFoundException"
    ecr.create_repository(repositoryName="dup")
    with pytest.raises(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName="dup")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.create_repository(repositoryName="Bad..Name")
    assert error_code(e) == "InvalidParameterException"
    assert "repositoryName" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.create_repository(repositoryName="enum", imageTagMutability="SOMETIMES")
    assert error_code(e) == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.put_image(repositoryName="dup", imageManifest=image_manifest(b"{}", [b"nope"]).decode(), imageTag="v1")
    assert error_code(e) == "LayersNotFoundException"
    # batch_get_image reports missing images as failures, not an exception.
    r = ecr.batch_get_image(repositoryName="dup", imageIds=[{"imageTag": "v1"}])
    assert r["failures"][0]["failureCode"] == "ImageNotFound"
    token = ecr.get_authorization_token()["authorizationData"][0]
    assert token["proxyEndpoint"] == server.url
    assert token["expiresAt"] - datetime.datetime.now(datetime.timezone.utc) > datetime.timedelta(hours=11, minutes=59)
    import base64
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    assert user == "AWS"
    assert requests.get(server.url + "/v2/", auth=(user, password)).status_code == 200


def test_a_wrong_secret_gets_invalid_signature(server):
    ecr = ecr_client(server, secret="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.describe_repositories()
    assert error_code(e) == "InvalidSignatureException"
    ecr = ecr_client(server, key="AKIANOSUCHKEY0000000")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.describe_repositories()
    assert error_code(e) == "UnrecognizedClientException"
    ecr = ecr_client(server, region="eu-west-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.describe_repositories()
    assert error_code(e) == "InvalidSignatureException"


def signed(server, operation, body, *, content_type="application/x-amz-json-1.1", when=None,
           secret=ROOT_SECRET, target=None, service="ecr", authorization=None):
    """A request signed by botocore's own signer, optionally at another time or for another
    service, or with its Authorization header replaced."""
    request = AWSRequest(method="POST", url=server.url + "/", data=body, headers={
        "Content-Type": content_type, "X-Amz-Target": target or TARGET + operation})
    signer = SigV4Auth(Credentials(ROOT_KEY, secret), service, "us-east-1")
    if when:
        import unittest.mock
        with unittest.mock.patch("botocore.auth.get_current_datetime", return_value=when):
            signer.add_auth(request)
    else:
        signer.add_auth(request)
    prepared = request.prepare()
    headers = dict(prepared.headers)
    if authorization is not None:
        headers["Authorization"] = authorization
    return requests.post(prepared.url, data=body, headers=headers)


def assert_unchanged(server):
    assert ecr_client(server).describe_repositories()["repositories"] == []


def test_hostile_requests_get_aws_shaped_errors_and_change_nothing(server):
    create = json.dumps({"repositoryName": "hostile"})
    cases = [
        (signed(server, "DropEverything", create), "UnknownOperationException"),
        (signed(server, "CreateRepository", create, target="Other_Service.CreateRepository"), "UnknownOperationException"),
        (signed(server, "CreateRepository", "{not json"), "SerializationException"),
        (signed(server, "CreateRepository", "[1,2]"), "SerializationException"),
        (signed(server, "CreateRepository", create, content_type="text/plain"), "SerializationException"),
        (signed(server, "CreateRepository", create, secret="wrong"), "InvalidSignatureException"),
        (signed(server, "CreateRepository", json.dumps({"repositoryName": "../etc"})), "InvalidParameterException"),
        (signed(server, "CreateRepository", json.dumps({"repositoryName": "ok-name", "imageTagMutability": "X"})), "InvalidParameterException"),
        (signed(server, "CreateRepository", json.dumps({"repositoryName": 7})), "InvalidParameterException"),
        (signed(server, "CreateRepository", json.dumps({})), "InvalidParameterException"),
        (signed(server, "DescribeRepositories", json.dumps({"maxResults": 5000})), "InvalidParameterException"),
        (signed(server, "DescribeRepositories", json.dumps({"maxResults": 0})), "InvalidParameterException"),
        (signed(server, "BatchGetImage", json.dumps({"repositoryName": "ok-name",
                                                     "imageIds": [{"imageTag": f"t{i}"} for i in range(101)]})),
         "InvalidParameterException"),
        (signed(server, "BatchDeleteImage", json.dumps({"repositoryName": "ok-name", "imageIds": []})),
         "InvalidParameterException"),
        (signed(server, "BatchCheckLayerAvailability", json.dumps({"repositoryName": "ok-name", "layerDigests": []})),
         "InvalidParameterException"),
        (signed(server, "ListImages", json.dumps({"repositoryName": "ok-name", "filter": {"tagStatus": "SOME"}})),
         "InvalidParameterException"),
        (signed(server, "CreateRepository", create,
                when=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)),
         "InvalidSignatureException"),
        (signed(server, "CreateRepository", create,
                when=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=20)),
         "InvalidSignatureException"),
        (signed(server, "CreateRepository", create, service="s3"), "InvalidSignatureException"),
        (signed(server, "CreateRepository", create, authorization="AWS4-HMAC-SHA256 garbage"),
         "IncompleteSignatureException"),
        (signed(server, "CreateRepository", create,
                authorization=f"AWS4-HMAC-SHA256 Credential={ROOT_KEY}/20260101/us-east-1/ecr/aws4_request"),
         "IncompleteSignatureException"),
    ]
    for response, expected in cases:
        assert response.status_code == 400, (expected, response.status_code, response.text)
        assert response.json()["__type"] == expected, response.text
        assert response.json()["message"]
    big = json.dumps({"repositoryName": "x" * (10 * 1024 * 1024 + 10)})
    r = signed(server, "CreateRepository", big)
    assert r.status_code == 400 and r.json()["__type"] == "SerializationException"
    r = requests.post(server.url + "/", data=create, headers={"X-Amz-Target": TARGET + "CreateRepository",
                                                              "Content-Type": "application/x-amz-json-1.1"})
    assert r.status_code == 400 and r.json()["__type"] == "MissingAuthenticationTokenException"
    assert_unchanged(server)


def test_a_request_replayed_outside_the_skew_window_is_refused(server):
    body = json.dumps({"repositoryName": "replayed"})
    request = AWSRequest(method="POST", url=server.url + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + "CreateRepository"})
    SigV4Auth(Credentials(ROOT_KEY, ROOT_SECRET), "ecr", "us-east-1").add_auth(request)
    captured = dict(request.prepare().headers)
    # Twenty minutes later, the same bytes are sent again.
    server.restart(BERTH_CLOCK_OFFSET_SECONDS="1200")
    r = requests.post(server.url + "/", data=body, headers=captured)
    assert r.status_code == 400 and r.json()["__type"] == "InvalidSignatureException", r.text
    assert "Signature expired" in r.json()["message"] or "expired" in r.json()["message"].lower()
    server.restart()
    assert_unchanged(server)


def test_sts_get_caller_identity(server):
    import boto3
    sts = boto3.client("sts", endpoint_url=server.url, region_name="us-east-1",
                       aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET)
    me = sts.get_caller_identity()
    assert len(me["Account"]) == 12
    assert me["Arn"] == f"arn:aws:iam::{me['Account']}:root"
    assert me["UserId"] == me["Account"]  # as AWS reports the root user
    bad = boto3.client("sts", endpoint_url=server.url, region_name="us-east-1",
                       aws_access_key_id=ROOT_KEY, aws_secret_access_key="wrong")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.get_caller_identity()
    assert error_code(e) == "SignatureDoesNotMatch"


def test_last_recorded_pull_time_follows_pulls(server):
    import time
    from oci import push_image
    ecr = ecr_client(server)
    ecr.create_repository(repositoryName="pulled")
    push_image(server, "pulled", "v1")
    detail = ecr.describe_images(repositoryName="pulled")["imageDetails"][0]
    assert "lastRecordedPullTime" not in detail
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    assert server.request("GET", "/v2/pulled/manifests/v1").status_code == 200
    deadline = time.time() + 15
    while time.time() < deadline:
        detail = ecr.describe_images(repositoryName="pulled")["imageDetails"][0]
        if "lastRecordedPullTime" in detail:
            break
        time.sleep(0.5)
    assert detail["lastRecordedPullTime"] >= before
    # Pulls noted just before a shutdown are written at shutdown.
    first = detail["lastRecordedPullTime"]
    time.sleep(1.1)
    assert server.request("GET", "/v2/pulled/manifests/v1").status_code == 200
    server.restart()
    detail = ecr_client(server).describe_images(repositoryName="pulled")["imageDetails"][0]
    assert detail["lastRecordedPullTime"] > first


def test_batch_delete_by_tag_untags_and_removes_the_image_with_its_last_tag(server):
    from oci import push_image, put_manifest
    ecr = ecr_client(server)
    ecr.create_repository(repositoryName="untag")
    digest, body = push_image(server, "untag", "a")
    assert put_manifest(server, "untag", "b", body).status_code == 201
    r = ecr.batch_delete_image(repositoryName="untag", imageIds=[{"imageTag": "a", "imageDigest": sha256(b"x")}])
    assert r["failures"][0]["failureCode"] == "ImageTagDoesNotMatchDigest"
    r = ecr.batch_delete_image(repositoryName="untag", imageIds=[{"imageTag": "a"}])
    assert r["imageIds"] == [{"imageDigest": digest, "imageTag": "a"}]
    images = ecr.describe_images(repositoryName="untag")["imageDetails"]
    assert [(i["imageDigest"], i["imageTags"]) for i in images] == [(digest, ["b"])]
    r = ecr.batch_delete_image(repositoryName="untag", imageIds=[{"imageTag": "b", "imageDigest": digest}])
    assert r["failures"] == []
    assert ecr.describe_images(repositoryName="untag")["imageDetails"] == []


def test_create_repository_with_bad_tags_creates_nothing(server):
    ecr = ecr_client(server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.create_repository(repositoryName="tagged",
                              tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert error_code(e) == "TooManyTagsException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.create_repository(repositoryName="tagged", tags=[{"Key": "", "Value": "v"}])
    assert error_code(e) == "InvalidTagParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.create_repository(repositoryName="tagged",
                              encryptionConfiguration={"encryptionType": "AES256", "kmsKey": "arn:aws:kms:us-east-1:111122223333:key/a"})
    assert error_code(e) == "InvalidParameterException"
    assert ecr.describe_repositories()["repositories"] == []


def test_batch_delete_of_an_index_child_is_a_failure_entry(server):
    from oci import OCI_INDEX, OCI_MANIFEST, descriptor, push_image
    ecr = ecr_client(server)
    ecr.create_repository(repositoryName="lists")
    child_digest, child = push_image(server, "lists", "child")
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": [descriptor(OCI_MANIFEST, child)]}).encode()
    assert put_manifest(server, "lists", "list", index, OCI_INDEX).status_code == 201
    r = ecr.batch_delete_image(repositoryName="lists", imageIds=[{"imageDigest": child_digest}])
    assert r["failures"][0]["failureCode"] == "ImageReferencedByManifestList"
    # Untagging the child keeps it: the index still needs it.
    ecr.batch_delete_image(repositoryName="lists", imageIds=[{"imageTag": "child"}])
    assert server.request("GET", f"/v2/lists/manifests/{child_digest}").status_code == 200


def test_tag_resource_counts_existing_and_new_tags(server):
    ecr = ecr_client(server)
    arn = ecr.create_repository(repositoryName="many",
                                tags=[{"Key": f"k{i}", "Value": "v"} for i in range(45)])["repository"]["repositoryArn"]
    # Re-setting existing keys does not add tags; five new ones reach the limit of 50.
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": f"k{i}", "Value": "w"} for i in range(50)])
    with pytest.raises(ecr.exceptions.TooManyTagsException):
        ecr.tag_resource(resourceArn=arn, tags=[{"Key": "one-more", "Value": "v"}])
    tags = ecr.list_tags_for_resource(resourceArn=arn)["tags"]
    assert len(tags) == 50 and all(t["Value"] == "w" for t in tags)


def test_put_image_checks_the_image_digest(server):
    from oci import push_image
    ecr = ecr_client(server)
    ecr.create_repository(repositoryName="digests")
    digest, body = push_image(server, "digests", "v1")
    with pytest.raises(ecr.exceptions.ImageDigestDoesNotMatchException):
        ecr.put_image(repositoryName="digests", imageManifest=body.decode(), imageTag="v2",
                      imageDigest=sha256(b"another manifest"))
    assert [i["imageTag"] for i in ecr.list_images(repositoryName="digests")["imageIds"]] == ["v1"]
    r = ecr.put_image(repositoryName="digests", imageManifest=body.decode(), imageTag="v2", imageDigest=digest)
    assert r["image"]["imageId"] == {"imageDigest": digest, "imageTag": "v2"}


def test_batch_get_image_honours_accepted_media_types(server):
    from oci import OCI_MANIFEST, push_image
    ecr = ecr_client(server)
    ecr.create_repository(repositoryName="accept")
    digest, body = push_image(server, "accept", "v1")
    docker_v2 = "application/vnd.docker.distribution.manifest.v2+json"
    r = ecr.batch_get_image(repositoryName="accept", imageIds=[{"imageTag": "v1"}],
                            acceptedMediaTypes=[docker_v2])
    assert r["images"] == []
    assert r["failures"][0]["imageId"] == {"imageTag": "v1"}
    assert r["failures"][0]["failureCode"] == "ImageNotFound"  # the model has no other code for it
    assert "acceptedMediaTypes" in r["failures"][0]["failureReason"]
    r = ecr.batch_get_image(repositoryName="accept", imageIds=[{"imageTag": "v1"}],
                            acceptedMediaTypes=[docker_v2, OCI_MANIFEST])
    assert r["failures"] == []
    image = r["images"][0]
    assert image["imageManifest"].encode() == body and image["imageManifestMediaType"] == OCI_MANIFEST
    assert image["imageId"] == {"imageDigest": digest, "imageTag": "v1"}


def test_describe_images_by_id_and_by_tag_status(server):
    from oci import OCI_INDEX, OCI_MANIFEST, descriptor, push_image
    ecr = ecr_client(server)
    ecr.create_repository(repositoryName="ids")
    push_image(server, "ids", "v1", layers=[b"a" * 100, b"b" * 50])
    config = b'{"os":"linux"}'
    push_blob(server, "ids", config)
    push_blob(server, "ids", b"c" * 10)
    small = image_manifest(config, [b"c" * 10])
    untagged = sha256(small)
    assert put_manifest(server, "ids", untagged, small).status_code == 201
    push_image(server, "ids", "v2", layers=[b"d" * 7])
    untagged_only = ecr.describe_images(repositoryName="ids", filter={"tagStatus": "UNTAGGED"})["imageDetails"]
    assert [d["imageDigest"] for d in untagged_only] == [untagged] and "imageTags" not in untagged_only[0]
    assert untagged_only[0]["imageSizeInBytes"] == 10
    tagged_only = ecr.describe_images(repositoryName="ids", filter={"tagStatus": "TAGGED"})["imageDetails"]
    assert sorted(t for d in tagged_only for t in d["imageTags"]) == ["v1", "v2"]
    assert sorted(d["imageSizeInBytes"] for d in tagged_only) == [7, 150]
    by_id = ecr.describe_images(repositoryName="ids", imageIds=[{"imageDigest": untagged}, {"imageTag": "v2"}])
    assert sorted(d["imageSizeInBytes"] for d in by_id["imageDetails"]) == [7, 10]
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.describe_images(repositoryName="ids", imageIds=[{"imageTag": "nope"}])
    # An index is as large as its largest image, as ECR documents for manifest lists.
    _, big_body = push_image(server, "ids", "big", layers=[b"e" * 300])
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": [descriptor(OCI_MANIFEST, small), descriptor(OCI_MANIFEST, big_body)]}).encode()
    assert put_manifest(server, "ids", "multi", index, OCI_INDEX).status_code == 201
    detail = ecr.describe_images(repositoryName="ids", imageIds=[{"imageTag": "multi"}])["imageDetails"][0]
    assert detail["imageSizeInBytes"] == 300
    assert detail["imageManifestMediaType"] == OCI_INDEX
