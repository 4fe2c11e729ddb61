"""The aws CLI and the real docker engine against berth's ECR API: the seeds' quick start."""

import datetime
import json
import os
import subprocess
import uuid

from ecr import aws
from oci import push_image
from test_docker import build_image, docker, pushed_digest
from test_skopeo_oras import skopeo


def test_seed_quick_start_with_docker(server):
    aws(server, "ecr", "create-repository", "--repository-name", "web-app",
        "--image-scanning-configuration", "scanOnPush=true", "--encryption-configuration", "encryptionType=AES256")
    # The login line exactly as the seeds write it, with only the endpoint and host changed.
    r = shell(server, f"aws ecr get-login-password --region us-east-1 --endpoint-url {server.url} "
                      f"| docker login --username AWS --password-stdin {server.host}")
    assert "Login Succeeded" in r.stdout
    sha = uuid.uuid4().hex[:12]
    local = build_image(f"web-app:{sha}")
    remote = f"{server.host}/web-app"
    digest = None
    try:
        docker("tag", local, f"{remote}:{sha}")
        digest = pushed_digest(docker("push", f"{remote}:{sha}").stdout)
        docker("tag", local, f"{remote}:latest")
        docker("push", f"{remote}:latest")
        ids = aws(server, "ecr", "list-images", "--repository-name", "web-app")["imageIds"]
        assert sorted(i["imageTag"] for i in ids) == sorted([sha, "latest"])
        assert {i["imageDigest"] for i in ids} == {digest}
        details = aws(server, "ecr", "describe-images", "--repository-name", "web-app")["imageDetails"]
        assert len(details) == 1
        d = details[0]
        assert d["imageDigest"] == digest
        assert sorted(d["imageTags"]) == sorted([sha, "latest"])
        manifest = json.loads(subprocess.run(
            ["curl", "-s", "-u", f"AWS:{server.token()}", "-H",
             "Accept: application/vnd.docker.distribution.manifest.v2+json",
             f"{server.url}/v2/web-app/manifests/{sha}"], capture_output=True, text=True).stdout)
        assert d["imageSizeInBytes"] == sum(l["size"] for l in manifest["layers"])
        assert d["imageManifestMediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
        assert d["artifactMediaType"] == "application/vnd.docker.container.image.v1+json"
        assert d["registryId"] == aws(server, "sts", "get-caller-identity")["Account"]
        docker("rmi", f"{remote}:{sha}", f"{remote}:latest")
        docker("pull", f"{remote}:{sha}")
        docker("pull", f"{remote}@{digest}")
    finally:
        docker("rmi", "-f", local, f"{remote}:{sha}", f"{remote}:latest", check=False)
        if digest:
            docker("rmi", "-f", f"{remote}@{digest}", check=False)


def shell(server, line):
    """Runs one command line through bash, as a user pastes it, with the server's credentials."""
    env = server.env(AWS_PAGER="", AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                     AWS_DEFAULT_REGION="us-east-1")
    r = subprocess.run(["bash", "-o", "pipefail", "-c", line], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, f"{line}\n{r.stdout}\n{r.stderr}"
    return r


def test_aws_cli_repository_and_image_lifecycle(server):
    repo = aws(server, "ecr", "create-repository", "--repository-name", "team/api",
               "--image-scanning-configuration", "scanOnPush=true", "--image-tag-mutability", "IMMUTABLE")["repository"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["repositoryUri"] == f"{server.host}/team/api"
    described = aws(server, "ecr", "describe-repositories")["repositories"]
    assert [r["repositoryName"] for r in described] == ["team/api"]
    # get-login-password is piped into a login that skopeo then pushes with.
    import tempfile
    from oci import write_oci_layout
    auth_file = os.path.join(tempfile.mkdtemp(), "auth.json")
    shell(server, f"aws ecr get-login-password --endpoint-url {server.url} "
                  f"| skopeo login --authfile {auth_file} --tls-verify=false --username AWS --password-stdin {server.host}")
    password = json.load(open(auth_file))["auths"][server.host]["auth"]
    src = tempfile.mkdtemp()
    write_oci_layout(src, [("amd64", {"x": b"1"})], tag="v1")
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    skopeo("copy", "--dest-tls-verify=false", "--authfile", auth_file, f"oci:{src}:v1",
           f"docker://{server.host}/team/api:v1")
    after = datetime.datetime.now(datetime.timezone.utc)
    images = aws(server, "ecr", "describe-images", "--repository-name", "team/api")["imageDetails"]
    assert images[0]["imageTags"] == ["v1"]
    assert images[0]["imageManifestMediaType"] == "application/vnd.oci.image.manifest.v1+json"
    # The size is the compressed layers' sum, and the push time is when skopeo pushed.
    with open(os.path.join(src, "index.json")) as f:
        source_digest = json.load(f)["manifests"][0]["digest"]
    with open(os.path.join(src, "blobs", "sha256", source_digest.split(":")[1])) as f:
        source_manifest = json.load(f)
    assert images[0]["imageDigest"] == source_digest
    assert images[0]["imageSizeInBytes"] == sum(l["size"] for l in source_manifest["layers"])
    # awscli v1 prints the wire value (epoch seconds) unless cli_timestamp_format says otherwise.
    pushed_at = datetime.datetime.fromtimestamp(images[0]["imagePushedAt"], datetime.timezone.utc)
    assert before - datetime.timedelta(seconds=1) <= pushed_at <= after + datetime.timedelta(seconds=1)
    import base64
    password = base64.b64decode(password).decode().split(":", 1)[1]
    # Retag with batch-get-image + put-image, then pull the new tag with skopeo.
    got = aws(server, "ecr", "batch-get-image", "--repository-name", "team/api", "--image-ids", "imageTag=v1")
    assert got["failures"] == []
    manifest = got["images"][0]["imageManifest"]
    put = aws(server, "ecr", "put-image", "--repository-name", "team/api", "--image-tag", "release",
              "--image-manifest", manifest)["image"]
    assert put["imageId"]["imageDigest"] == images[0]["imageDigest"]
    dst = tempfile.mkdtemp()
    skopeo("copy", "--src-tls-verify=false", "--src-creds", f"AWS:{password}",
           f"docker://{server.host}/team/api:release", f"dir:{dst}")
    # Re-pushing the same image under the same tag is ImageAlreadyExistsException.
    r = aws(server, "ecr", "put-image", "--repository-name", "team/api", "--image-tag", "release",
            "--image-manifest", manifest, check=False)
    assert "ImageAlreadyExistsException" in r.stderr
    # The repository is immutable: moving v1 elsewhere is refused.
    other = push_image(server, "team/api", "other")[1].decode()
    r = aws(server, "ecr", "put-image", "--repository-name", "team/api", "--image-tag", "v1",
            "--image-manifest", other, check=False)
    assert "ImageTagAlreadyExistsException" in r.stderr
    # Untag by tag: the digest and its other tag stay.
    deleted = aws(server, "ecr", "batch-delete-image", "--repository-name", "team/api", "--image-ids", "imageTag=v1")
    assert deleted["failures"] == [] and deleted["imageIds"][0]["imageTag"] == "v1"
    left = aws(server, "ecr", "list-images", "--repository-name", "team/api", "--filter", "tagStatus=TAGGED")["imageIds"]
    assert {i["imageTag"] for i in left} == {"release", "other"}
    digest = images[0]["imageDigest"]
    deleted = aws(server, "ecr", "batch-delete-image", "--repository-name", "team/api", "--image-ids", f"imageDigest={digest}")
    assert deleted["imageIds"] == [{"imageDigest": digest}]
    missing = aws(server, "ecr", "batch-delete-image", "--repository-name", "team/api", "--image-ids", f"imageDigest={digest}")
    assert missing["failures"][0]["failureCode"] == "ImageNotFound"
    r = aws(server, "ecr", "delete-repository", "--repository-name", "team/api", check=False)
    assert "RepositoryNotEmptyException" in r.stderr
    aws(server, "ecr", "delete-repository", "--repository-name", "team/api", "--force")
    assert aws(server, "ecr", "describe-repositories")["repositories"] == []


def test_aws_cli_tags_mutability_and_scanning(server):
    arn = aws(server, "ecr", "create-repository", "--repository-name", "tagged",
              "--tags", "Key=team,Value=platform", "Key=env,Value=prod")["repository"]["repositoryArn"]
    tags = aws(server, "ecr", "list-tags-for-resource", "--resource-arn", arn)["tags"]
    assert tags == [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "platform"}]
    aws(server, "ecr", "untag-resource", "--resource-arn", arn, "--tag-keys", "env")
    aws(server, "ecr", "tag-resource", "--resource-arn", arn, "--tags", "Key=team,Value=infra")
    assert aws(server, "ecr", "list-tags-for-resource", "--resource-arn", arn)["tags"] == [{"Key": "team", "Value": "infra"}]
    r = aws(server, "ecr", "put-image-tag-mutability", "--repository-name", "tagged", "--image-tag-mutability",
            "IMMUTABLE_WITH_EXCLUSION", "--image-tag-mutability-exclusion-filters", "filterType=WILDCARD,filter=dev-*")
    assert r["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "dev-*"}]
    r = aws(server, "ecr", "put-image-scanning-configuration", "--repository-name", "tagged",
            "--image-scanning-configuration", "scanOnPush=true")
    assert r["imageScanningConfiguration"] == {"scanOnPush": True}
    repo = aws(server, "ecr", "describe-repositories", "--repository-names", "tagged")["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    reg = aws(server, "ecr", "describe-registry")
    assert reg["registryId"] == repo["registryId"]
    r = aws(server, "ecr", "create-repository", "--repository-name", "kms",
            "--encryption-configuration", "encryptionType=KMS,kmsKey=arn:aws:kms:us-east-1:111122223333:key/abc")
    assert r["repository"]["encryptionConfiguration"]["encryptionType"] == "KMS"


def test_create_repository_with_mutability_exclusions_lets_only_excluded_tags_move(server):
    repo = aws(server, "ecr", "create-repository", "--repository-name", "excl",
               "--image-tag-mutability", "IMMUTABLE_WITH_EXCLUSION",
               "--image-tag-mutability-exclusion-filters", "filterType=WILDCARD,filter=dev-*",
               "filterType=WILDCARD,filter=latest")["repository"]
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "dev-*"},
                                                          {"filterType": "WILDCARD", "filter": "latest"}]
    first = push_image(server, "excl", "seed")[1].decode()
    second = push_image(server, "excl", "v1")[1].decode()
    for tag in ["dev-1", "latest"]:
        aws(server, "ecr", "put-image", "--repository-name", "excl", "--image-tag", tag, "--image-manifest", first)
        moved = aws(server, "ecr", "put-image", "--repository-name", "excl", "--image-tag", tag,
                    "--image-manifest", second)
        assert moved["image"]["imageId"]["imageTag"] == tag
    r = aws(server, "ecr", "put-image", "--repository-name", "excl", "--image-tag", "v1",
            "--image-manifest", first, check=False)
    assert "ImageTagAlreadyExistsException" in r.stderr
    assert "cannot be overwritten because the repository is immutable" in r.stderr


def test_aws_cli_unimplemented_operation_is_named(server):
    aws(server, "ecr", "create-repository", "--repository-name", "scan")
    r = aws(server, "ecr", "start-image-scan", "--repository-name", "scan", "--image-id", "imageTag=v1", check=False)
    assert r.returncode != 0
    assert "StartImageScan" in r.stderr and "not implement" in r.stderr
