"""Helpers for driving berth's ECR API with the real aws CLI and boto3."""

import json
import subprocess

import boto3
import botocore.config

from conftest import ROOT_KEY, ROOT_SECRET


def aws(server, *args, check=True, input=None, key=ROOT_KEY, secret=ROOT_SECRET):
    """Runs `aws <args> --endpoint-url <server>` and returns parsed JSON (or the process)."""
    env = server.env(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION="us-east-1",
                     AWS_PAGER="", AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    r = subprocess.run(["aws", *args, "--endpoint-url", server.url], capture_output=True, text=True,
                       env=env, input=input)
    if check:
        assert r.returncode == 0, f"aws {' '.join(args)}:\n{r.stderr}"
        return json.loads(r.stdout) if r.stdout.strip().startswith(("{", "[")) else r.stdout
    return r


def ecr_client(server, key=ROOT_KEY, secret=ROOT_SECRET, region="us-east-1"):
    return boto3.client(
        "ecr", endpoint_url=server.url, region_name=region,
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
