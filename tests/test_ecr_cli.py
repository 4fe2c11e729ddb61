"""The aws CLI and the real docker engine against berth's ECR API: the seeds' quick start."""

import json
import subprocess
import uuid

from ecr import aws
from oci import push_image
from test_docker import build_image, docker, pushed_digest
from test_skopeo_oras import skopeo


def test_seed_quick_start_with_docker(server):
    aws(server, "ecr", "create-repository", "--repository-name", "web-app",
        "--image-scanning-configuration", "scanOnPush=true", "--encryption-configuration", "encryptionType=AES256")
    password = aws(server, "ecr", "get-login-password", "--region", "us-east-1")
    r = docker("login", "--username", "AWS", "--password-stdin", server.host, input=password)
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


def test_aws_cli_repository_and_image_lifecycle(server):
    repo = aws(server, "ecr", "create-repository", "--repository-name", "team/api",
               "--image-scanning-configuration", "scanOnPush=true", "--image-tag-mutability", "IMMUTABLE")["repository"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["repositoryUri"] == f"{server.host}/team/api"
    described = aws(server, "ecr", "describe-repositories")["repositories"]
    assert [r["repositoryName"] for r in described] == ["team/api"]
    # get-login-password feeds a login that skopeo then pushes with.
    password = aws(server, "ecr", "get-login-password").strip()
    import tempfile
    from oci import write_oci_layout
    src = tempfile.mkdtemp()
    write_oci_layout(src, [("amd64", {"x": b"1"})], tag="v1")
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"AWS:{password}", f"oci:{src}:v1",
           f"docker://{server.host}/team/api:v1")
    images = aws(server, "ecr", "describe-images", "--repository-name", "team/api")["imageDetails"]
    assert images[0]["imageTags"] == ["v1"]
    assert images[0]["imageManifestMediaType"] == "application/vnd.oci.image.manifest.v1+json"
    pushed_at = images[0]["imagePushedAt"]
    assert pushed_at  # the CLI renders it as a date
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


def test_aws_cli_unimplemented_operation_is_named(server):
    aws(server, "ecr", "create-repository", "--repository-name", "scan")
    r = aws(server, "ecr", "start-image-scan", "--repository-name", "scan", "--image-id", "imageTag=v1", check=False)
    assert r.returncode != 0
    assert "StartImageScan" in r.stderr and "not implement" in r.stderr
