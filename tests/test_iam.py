"""IAM users and access keys: `berth iam …`, secrets sealed at rest, deletion refused at once."""

import glob
import json
import os
import re
import subprocess

import requests

from ecr import aws


def iam(server, *args, check=True, env=None):
    r = server.berth("iam", *args, check=check, env=env)
    return json.loads(r.stdout) if check else r


def database_dump(server):
    if server.backend == "postgres":
        return subprocess.run(["pg_dump", server.metadata], capture_output=True, check=True).stdout
    data = b""
    for path in glob.glob(os.path.join(server.data_dir, "berth.db*")):
        with open(path, "rb") as f:
            data += f.read()
    return data


def test_users_and_keys_work_on_both_doors_and_deletion_is_immediate(server):
    created = iam(server, "create-user", "alice")["User"]
    users = iam(server, "list-users")["Users"]
    assert [u["UserName"] for u in users] == ["alice"]
    # IAM's unique id: AIDA and 17 more, the same wherever it is reported.
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", created["UserId"]) and users[0]["UserId"] == created["UserId"]
    key = iam(server, "create-access-key", "--user-name", "alice")["AccessKey"]
    key_id, secret = key["AccessKeyId"], key["SecretAccessKey"]
    listed = iam(server, "list-access-keys", "--user-name", "alice")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key_id]
    assert secret not in json.dumps(listed)

    me = aws(server, "sts", "get-caller-identity", key=key_id, secret=secret)
    assert me["Arn"].endswith(":user/alice")
    assert me["UserId"] == created["UserId"]
    aws(server, "ecr", "create-repository", "--repository-name", "alice-repo", key=key_id, secret=secret)
    password = aws(server, "ecr", "get-login-password", key=key_id, secret=secret).strip()
    assert requests.get(server.url + "/v2/alice-repo/tags/list", auth=("AWS", password)).status_code == 200
    from ecr import ecr_client
    from oci import push_image
    _, manifest = push_image(server, "alice-repo", "v1", layers=[b"alice's layer"])
    layer = json.loads(manifest)["layers"][0]["digest"]
    url = ecr_client(server, key=key_id, secret=secret).get_download_url_for_layer(
        repositoryName="alice-repo", layerDigest=layer)["downloadUrl"]
    assert requests.get(url).content == b"alice's layer"

    # The secret is never plain in the database or the log.
    assert secret.encode() not in database_dump(server)
    assert secret not in server.server_log()

    r = iam(server, "delete-user", "alice", check=False)
    assert r.returncode != 0 and "DeleteConflict" in r.stderr
    iam(server, "delete-access-key", key_id)
    r = aws(server, "ecr", "describe-repositories", key=key_id, secret=secret, check=False)
    assert r.returncode != 0 and "UnrecognizedClientException" in r.stderr
    assert requests.get(server.url + "/v2/alice-repo/tags/list", auth=("AWS", password)).status_code == 401
    assert requests.get(url).status_code == 403
    iam(server, "delete-user", "alice")
    assert iam(server, "list-users")["Users"] == []
    # A user re-created under the same name is another user, with another id.
    again = iam(server, "create-user", "alice")["User"]
    assert again["UserId"] != created["UserId"]


def test_only_root_manages_iam_and_keys_are_limited(server):
    iam(server, "create-user", "bob")
    key = iam(server, "create-access-key", "--user-name", "bob")["AccessKey"]
    env = server.env(AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    r = iam(server, "create-user", "mallory", check=False, env=env)
    assert r.returncode != 0 and "AccessDeniedException" in r.stderr
    iam(server, "create-access-key", "--user-name", "bob")
    r = iam(server, "create-access-key", "--user-name", "bob", check=False)
    assert "LimitExceeded" in r.stderr
    r = iam(server, "create-user", "bob", check=False)
    assert "EntityAlreadyExists" in r.stderr
    r = iam(server, "create-access-key", "--user-name", "nobody", check=False)
    assert "NoSuchEntity" in r.stderr
    r = iam(server, "create-user", "bad name!", check=False)
    assert "InvalidParameterException" in r.stderr


def test_root_secret_is_sealed_and_survives_restart(server):
    from conftest import ROOT_SECRET
    assert ROOT_SECRET.encode() not in database_dump(server)
    key_file = os.path.join(server.data_dir, "keys", "master.key")
    assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"
    server.restart()
    assert aws(server, "ecr", "describe-repositories")["repositories"] == []


def test_a_key_from_another_account_reaches_nothing_here(server):
    from ecr import ecr_client
    import botocore.exceptions
    import pytest
    home = aws(server, "sts", "get-caller-identity")["Account"]
    aws(server, "ecr", "create-repository", "--repository-name", "home-repo")
    other = json.loads(server.berth("account", "create").stdout)
    other_id = other["Account"]["Id"]
    key, secret = other["AccessKey"]["AccessKeyId"], other["AccessKey"]["SecretAccessKey"]
    assert other_id != home
    assert aws(server, "sts", "get-caller-identity", key=key, secret=secret)["Account"] == other_id
    # Its own registry works and is separate.
    aws(server, "ecr", "create-repository", "--repository-name", "home-repo", key=key, secret=secret)
    foreign = ecr_client(server, key=key, secret=secret)
    for call in [
        lambda: foreign.describe_repositories(registryId=home),
        lambda: foreign.describe_repositories(registryId=home, repositoryNames=["home-repo"]),
        lambda: foreign.create_repository(registryId=home, repositoryName="planted"),
        lambda: foreign.delete_repository(registryId=home, repositoryName="home-repo", force=True),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    # Its docker token cannot read the default registry's repositories either.
    password = aws(server, "ecr", "get-login-password", key=key, secret=secret).strip()
    r = requests.get(server.url + "/v2/home-repo/tags/list", auth=("AWS", password))
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED"
    # Nothing changed at home.
    assert [r["repositoryName"] for r in aws(server, "ecr", "describe-repositories")["repositories"]] == ["home-repo"]
    # Only the default account's root creates accounts.
    env = server.env(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
    r = server.berth("account", "create", check=False, env=env)
    assert r.returncode != 0 and "AccessDeniedException" in r.stderr
