"""Identity rules (issue 15, point 5): the root key at start, key limits and races, which
headers a signature must cover, and a CLI that never sends a secret."""

import json
import re
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests

from conftest import BERTH, ROOT_KEY, ROOT_SECRET
from ecr import aws, ecr_client


def iam(server, *args, check=True, env=None):
    r = server.berth("iam", *args, check=check, env=env)
    return json.loads(r.stdout) if check else r


def printed(stdout, label):
    m = re.search(rf"{label}:\s+(\S+)", stdout)
    assert m, stdout
    return m.group(1)


NO_ENV_ROOT = {"BERTH_ROOT_ACCESS_KEY_ID": "", "BERTH_ROOT_SECRET_ACCESS_KEY": ""}


def test_restarts_create_no_hidden_root_keys(make_server):
    server = make_server(extra_env=NO_ENV_ROOT)
    key, secret = printed(server.stdout, "root access key id"), printed(server.stdout, "root secret key")
    env = server.env(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
    for _ in range(3):
        server.restart()
        assert "shown at first start" in server.stdout
        assert printed(server.stdout, "root access key id") == key
    keys = iam(server, "list-access-keys", "--user-name", "root", env=env)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [key]


def test_a_taken_port_fails_the_first_start_before_any_key_is_made(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = tmp_path / "data"
        r = subprocess.run([BERTH, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data)],
                           capture_output=True, text=True, timeout=30,
                           env={"PATH": "/usr/bin:/bin", "RUST_LOG": "info"})
        assert r.returncode != 0 and "binding 127.0.0.1" in r.stderr
        assert "root secret key" not in r.stdout
        assert not data.exists()
    # The same data directory on a free port is a true first start: the secret is shown.
    proc = subprocess.Popen([BERTH, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={"PATH": "/usr/bin:/bin"})
    try:
        out = ""
        for line in proc.stdout:
            out += line
            if line.startswith("listening on"):
                break
        assert "shown once" in out, out
    finally:
        proc.kill()
        proc.wait()


def test_a_deleted_environment_root_key_stays_deleted(server):
    second = iam(server, "create-access-key", "--user-name", "root")["AccessKey"]
    other = server.env(AWS_ACCESS_KEY_ID=second["AccessKeyId"],
                       AWS_SECRET_ACCESS_KEY=second["SecretAccessKey"])
    old_token = server.token()
    iam(server, "delete-access-key", ROOT_KEY, env=other)
    server.restart()
    assert "stays deleted" in server.server_log()
    r = aws(server, "sts", "get-caller-identity", check=False)
    assert r.returncode != 0 and "InvalidClientTokenId" in r.stderr
    r = requests.get(server.url + "/v2/_catalog", auth=("AWS", old_token))
    assert r.status_code == 401
    keys = iam(server, "list-access-keys", "--user-name", "root", env=other)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [second["AccessKeyId"]]


def test_a_recreated_key_does_not_revive_the_tokens_of_the_deleted_one(server):
    # Releases before 0.1.1 re-created a deleted environment root key at every start; a data
    # directory upgraded from one has no record that the key was installed, so the next start
    # installs it again under the same id and secret. Tokens name the key's creation, so the
    # old ones stay dead while new ones work.
    second = iam(server, "create-access-key", "--user-name", "root")["AccessKey"]
    other = server.env(AWS_ACCESS_KEY_ID=second["AccessKeyId"],
                       AWS_SECRET_ACCESS_KEY=second["SecretAccessKey"])
    old_token = server.token()
    assert requests.get(server.url + "/v2/_catalog", auth=("AWS", old_token)).status_code == 200
    iam(server, "delete-access-key", ROOT_KEY, env=other)
    server.stop()
    server.sql("DELETE FROM settings WHERE name LIKE 'environment_root_key_installed:%'")
    server.start()
    assert "stays deleted" not in server.server_log()
    r = requests.get(server.url + "/v2/_catalog", auth=("AWS", old_token))
    assert r.status_code == 401, r.text
    new_token = server.berth("login-password").stdout.strip()
    assert new_token != old_token
    assert requests.get(server.url + "/v2/_catalog", auth=("AWS", new_token)).status_code == 200


def test_root_has_at_most_two_access_keys(server):
    iam(server, "create-access-key", "--user-name", "root")
    r = iam(server, "create-access-key", "--user-name", "root", check=False)
    assert r.returncode != 0 and "LimitExceeded" in r.stderr
    assert len(iam(server, "list-access-keys", "--user-name", "root")["AccessKeyMetadata"]) == 2


def test_concurrent_key_creation_cannot_pass_the_limit(server):
    iam(server, "create-user", "racer")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(
            lambda _: iam(server, "create-access-key", "--user-name", "racer", check=False),
            range(8)))
    assert sum(r.returncode == 0 for r in results) == 2
    assert all("LimitExceeded" in r.stderr for r in results if r.returncode != 0)
    assert len(iam(server, "list-access-keys", "--user-name", "racer")["AccessKeyMetadata"]) == 2


def test_a_key_never_outlives_its_user(server):
    for round in range(5):
        name = f"gone{round}"
        iam(server, "create-user", name)
        with ThreadPoolExecutor(2) as pool:
            created = pool.submit(iam, server, "create-access-key", "--user-name", name, check=False)
            deleted = pool.submit(iam, server, "delete-user", name, check=False)
        created, deleted = created.result(), deleted.result()
        if deleted.returncode == 0:
            # The user went first: the key was refused, and a new user of that name has none.
            assert created.returncode != 0 and "NoSuchEntity" in created.stderr
            iam(server, "create-user", name)
            assert iam(server, "list-access-keys", "--user-name", name)["AccessKeyMetadata"] == []
        else:
            assert "DeleteConflict" in deleted.stderr and created.returncode == 0


class PartialSigner(botocore.auth.SigV4Auth):
    """Signs without the named headers, as a forger who adds them afterwards would."""

    def __init__(self, leave_out, *args):
        super().__init__(*args)
        self.leave_out = leave_out

    def headers_to_sign(self, request):
        headers = super().headers_to_sign(request)
        for name in self.leave_out:
            del headers[name]
        return headers


def signed_ecr_call(server, operation, body, leave_out=()):
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=server.url + "/", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1",
                 "X-Amz-Target": f"AmazonEC2ContainerRegistry_V20150921.{operation}"})
    creds = botocore.credentials.Credentials(ROOT_KEY, ROOT_SECRET)
    PartialSigner(leave_out, creds, "ecr", "us-east-1").add_auth(request)
    return request


def test_a_signature_must_cover_host_and_every_amz_header(server):
    aws(server, "ecr", "create-repository", "--repository-name", "kept")
    # Signed as BatchGetImage with the target left out, then replayed as BatchDeleteImage.
    req = signed_ecr_call(server, "BatchGetImage",
                          {"repositoryName": "kept", "imageIds": [{"imageTag": "v1"}]},
                          leave_out=["x-amz-target"])
    headers = dict(req.headers)
    headers["X-Amz-Target"] = "AmazonEC2ContainerRegistry_V20150921.BatchDeleteImage"
    r = requests.post(server.url + "/", data=req.body, headers=headers)
    assert r.status_code == 400
    assert r.json()["__type"] == "IncompleteSignatureException"
    assert "'x-amz-target' must be a 'SignedHeader'" in r.json()["message"]
    req = signed_ecr_call(server, "DescribeRepositories", {}, leave_out=["host"])
    r = requests.post(server.url + "/", data=req.body, headers=dict(req.headers))
    assert r.status_code == 400 and r.json()["__type"] == "IncompleteSignatureException"
    assert "'Host' must be a 'SignedHeader'" in r.json()["message"]
    # Fully signed, the same call works.
    req = signed_ecr_call(server, "DescribeRepositories", {})
    r = requests.post(server.url + "/", data=req.body, headers=dict(req.headers))
    assert r.status_code == 200 and r.json()["repositories"][0]["repositoryName"] == "kept"


def test_the_cli_signs_and_never_sends_its_secret(server):
    captured = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def capture():
        conn, _ = listener.accept()
        conn.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 2:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        captured.append(data)
        conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()
    t = threading.Thread(target=capture)
    t.start()
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
    server.berth("repo", "list", "--endpoint", endpoint, check=False)
    t.join(10)
    listener.close()
    sent = captured[0]
    assert ROOT_SECRET.encode() not in sent
    assert re.search(rb"(?i)\r\nauthorization: AWS4-HMAC-SHA256 Credential=" + ROOT_KEY.encode(), sent)
    # And the server accepts the signature: the CLI works against it.
    assert server.berth("repo", "list").returncode == 0
