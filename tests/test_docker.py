"""The real Docker engine against berth: every seed's `docker login`, `docker push`, `docker pull`."""

import json
import os
import subprocess
import tempfile
import uuid

import pytest

from oci import write_oci_layout


def docker(*args, check=True, input=None):
    r = subprocess.run(["docker", *args], capture_output=True, text=True, input=input)
    if check and r.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r


def login(server):
    token = server.berth("login-password").stdout
    r = docker("login", "--username", "AWS", "--password-stdin", server.host, input=token)
    assert "Login Succeeded" in r.stdout


def build_image(tag, shared=b"shared layer\n"):
    """Two layers from scratch: one shared between images that pass the same `shared`."""
    ctx = tempfile.mkdtemp(prefix="berth-docker-")
    with open(os.path.join(ctx, "shared.txt"), "wb") as f:
        f.write(shared)
    with open(os.path.join(ctx, "own.bin"), "wb") as f:
        f.write(os.urandom(64 * 1024))
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("FROM scratch\nCOPY shared.txt /shared.txt\nCOPY own.bin /own.bin\n")
    r = subprocess.run(["docker", "build", "-q", "-t", tag, ctx], capture_output=True, text=True,
                       env={**os.environ, "DOCKER_BUILDKIT": "0"})
    assert r.returncode == 0, r.stderr
    return tag


def pushed_digest(push_output):
    for line in push_output.splitlines():
        if "digest: sha256:" in line:
            return line.split("digest: ")[1].split()[0]
    raise AssertionError("no digest in docker push output:\n" + push_output)


@pytest.fixture
def images():
    tags = []
    yield tags
    for t in tags:
        docker("rmi", "-f", t, check=False)


def test_docker_login_push_rmi_pull_round_trip(server, images):
    server.create_repo("web-app")
    login(server)
    tag = f"{server.host}/web-app:{uuid.uuid4().hex[:12]}"
    images.append(build_image(tag))
    digest = pushed_digest(docker("push", tag).stdout)
    docker("rmi", tag)
    docker("pull", tag)
    repo_digests = json.loads(docker("image", "inspect", tag, "--format", "{{json .RepoDigests}}").stdout)
    assert f"{server.host}/web-app@{digest}" in repo_digests
    by_digest = f"{server.host}/web-app@{digest}"
    images.append(by_digest)
    docker("pull", by_digest)


def test_docker_mounts_a_shared_layer_across_repositories(server, images):
    server.create_repo("first")
    server.create_repo("second")
    login(server)
    shared = os.urandom(32 * 1024)
    a = f"{server.host}/first:v1"
    b = f"{server.host}/second:v1"
    images.append(build_image(a, shared))
    images.append(build_image(b, shared))
    docker("push", a)
    out = docker("push", b).stdout
    assert "Mounted from first" in out, out


def test_docker_pulls_linux_amd64_from_a_multi_arch_index(server, images):
    server.create_repo("multi")
    layout = tempfile.mkdtemp(prefix="berth-oci-")
    write_oci_layout(layout, [("amd64", {"arch": b"amd64\n"}), ("arm64", {"arch": b"arm64\n"})],
                     tag="v1", as_index=True)
    subprocess.run(["skopeo", "copy", "--all", "--dest-tls-verify=false",
                    "--dest-creds", f"AWS:{server.token()}", f"oci:{layout}:v1",
                    f"docker://{server.host}/multi:v1"], check=True, capture_output=True)
    login(server)
    tag = f"{server.host}/multi:v1"
    images.append(tag)
    docker("pull", tag)
    arch = docker("image", "inspect", tag, "--format", "{{.Architecture}}").stdout.strip()
    assert arch == "amd64"


def test_docker_push_over_an_immutable_tag_prints_ecrs_message(server, images):
    server.create_repo("web-app", "--tag-mutability", "IMMUTABLE")
    login(server)
    tag = f"{server.host}/web-app:v1"
    images.append(build_image(tag))
    docker("push", tag)
    build_image(tag)  # same tag, other content
    r = docker("push", tag, check=False)
    assert r.returncode != 0
    assert ("The image tag 'v1' already exists in the 'web-app' repository and cannot be "
            "overwritten because the repository is immutable.") in r.stderr, r.stderr


def test_docker_with_an_expired_token_prints_ecrs_denial(server, images):
    server.create_repo("web-app")
    # Log in and push, then move the server's clock 13 hours on: the 12-hour token has expired.
    login(server)
    tag = f"{server.host}/web-app:v1"
    images.append(build_image(tag))
    docker("push", tag)
    server.restart(BERTH_CLOCK_OFFSET_SECONDS=str(13 * 3600))
    docker("rmi", tag)
    r = docker("pull", tag, check=False)
    assert r.returncode != 0
    assert "denied: Your authorization token has expired. Reauthenticate and try again." in r.stderr, r.stderr
