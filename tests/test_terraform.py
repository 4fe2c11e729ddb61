"""Terraform 1.11 with the hashicorp/aws 5.100 provider (from the machine's local mirror)
managing berth through its ECR and STS endpoints."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import ROOT_KEY, ROOT_SECRET
from ecr import ecr_client

MAIN_TF = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "%(key)s"
  secret_key                  = "%(secret)s"
  skip_metadata_api_check     = true
  endpoints {
    ecr = "%(url)s"
    sts = "%(url)s"
  }
}

resource "aws_ecr_repository" "web" {
  name                 = "web-app"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = true
  image_scanning_configuration {
    scan_on_push = true
  }
  tags = { team = "platform" }
}

resource "aws_ecr_repository" "api" {
  name         = "team/api"
  force_delete = true
}

data "aws_ecr_authorization_token" "token" {}

output "web_url" { value = aws_ecr_repository.web.repository_url }
output "web_arn" { value = aws_ecr_repository.web.arn }
output "proxy_endpoint" { value = data.aws_ecr_authorization_token.token.proxy_endpoint }
output "user_name" { value = data.aws_ecr_authorization_token.token.user_name }
"""


def find_mirror():
    for root in ["/opt/tf-plugins", "/usr/share/terraform/plugins", os.path.expanduser("~/.terraform.d/plugins")]:
        if os.path.isdir(os.path.join(root, "registry.terraform.io", "hashicorp", "aws")):
            return root
    out = subprocess.run("find / -maxdepth 6 -path '*registry.terraform.io/hashicorp/aws' 2>/dev/null | head -1",
                         shell=True, capture_output=True, text=True).stdout.strip()
    return out.rsplit("/registry.terraform.io", 1)[0] if out else None


def terraform(workdir, *args, env):
    r = subprocess.run(["terraform", *args, "-no-color"], cwd=workdir, capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, f"terraform {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def test_terraform_applies_plans_clean_and_destroys(server, tmp_path):
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not installed: this test needs Terraform 1.11 on PATH")
    mirror = find_mirror()
    if mirror is None:
        pytest.fail("no local mirror of the hashicorp/aws provider was found")
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text(
        'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n    include = ["registry.terraform.io/*/*"]\n  }\n'
        '  direct { exclude = ["registry.terraform.io/*/*"] }\n}\n' % mirror)
    (tmp_path / "main.tf").write_text(MAIN_TF % {"key": ROOT_KEY, "secret": ROOT_SECRET, "url": server.url})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BERTH_"))}
    env.update(TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    version = json.loads(terraform(tmp_path, "version", "-json", env=env))["terraform_version"]
    assert version.startswith("1.11."), f"this test is written for Terraform 1.11, found {version}"
    terraform(tmp_path, "init", "-input=false", env=env)
    terraform(tmp_path, "apply", "-auto-approve", "-input=false", env=env)
    outputs = json.loads(terraform(tmp_path, "output", "-json", env=env))
    assert outputs["web_url"]["value"] == f"{server.host}/web-app"
    assert outputs["web_arn"]["value"].endswith(":repository/web-app")
    assert outputs["proxy_endpoint"]["value"] == server.url
    assert outputs["user_name"]["value"] == "AWS"
    ecr = ecr_client(server)
    repo = ecr.describe_repositories(repositoryNames=["web-app"])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"] == [{"Key": "team", "Value": "platform"}]
    plan = terraform(tmp_path, "plan", "-detailed-exitcode", "-input=false", env=env)
    assert "No changes." in plan
    terraform(tmp_path, "destroy", "-auto-approve", "-input=false", env=env)
    assert ecr.describe_repositories()["repositories"] == []
