"""The CloudFormation template's storage/queue part deploys on moto (cfn-lint runs in make lint)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from moto import mock_aws

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "arq-batch.yaml"


@mock_aws
def test_the_storage_and_queue_part_deploys() -> None:
    # moto ignores notifications, public access blocks, queue policies, versioning and
    # lifecycle rules in templates (cfn-lint checks their shape); the rest is checked here.
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    cfn.create_stack(StackName="arq", TemplateBody=TEMPLATE.read_text(),
                     Capabilities=["CAPABILITY_IAM"], Parameters=[
                         {"ParameterKey": "DeployRuntime", "ParameterValue": "false"},
                         {"ParameterKey": "ImageUri", "ParameterValue": "unused"},
                         {"ParameterKey": "Subnets", "ParameterValue": "subnet-12345678"},
                         {"ParameterKey": "SecurityGroups", "ParameterValue": "sg-12345678"}])
    stack = cfn.describe_stacks(StackName="arq")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    s3, sqs = boto3.client("s3", region_name="us-east-1"), boto3.client("sqs", "us-east-1")
    rules = s3.get_bucket_encryption(Bucket="arq-batch-s3")[
        "ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    url = sqs.get_queue_url(QueueName="arq-batch-sqs")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":arq-batch-sqs-dlq")
    assert int(redrive["maxReceiveCount"]) == 3
    roles = [r["RoleName"] for r in boto3.client("iam", "us-east-1").list_roles()["Roles"]]
    assert any("TaskRole" in name for name in roles)
    assert not any("ExecutionRole" in name for name in roles)  # runtime not deployed
