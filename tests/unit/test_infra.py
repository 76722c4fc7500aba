"""The CloudFormation template's storage/queue part deploys on moto (cfn-lint runs in make lint)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import cfn_yaml
from moto import mock_aws

from arq_batch.engine import ledger, predictions
from arq_batch.engine.ledger import LedgerRecord
from arq_batch.kernel import layout
from arq_batch.kernel.settings import Prefixes

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "arq-batch.yaml"
BUCKET = "arq-batch-s3"


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


def glue_tables() -> dict[str, dict[str, Any]]:
    """The template's Glue tables' TableInput, by table name, with ${BucketName} resolved."""
    template = cfn_yaml.load(str(TEMPLATE))
    tables = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Glue::Table":
            table = json.loads(json.dumps(resource["Properties"]["TableInput"],
                                          default=str).replace("${BucketName}", BUCKET))
            tables[table["Name"]] = _resolve_sub(table)
    return tables


def _resolve_sub(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return value["Fn::Sub"].replace("${!", "${")
    if isinstance(value, dict):
        return {k: _resolve_sub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_sub(v) for v in value]
    return value


def columns(table: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]


def test_the_jobs_table_matches_what_the_worker_writes() -> None:
    jobs = glue_tables()["jobs"]
    # Columns: what LedgerRecord.to_json writes, in order, with the declared types
    assert columns(jobs) == list(ledger.COLUMNS)
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    written = json.loads(LedgerRecord("j", "m", 1, "w", "done", now, now).to_json())
    assert list(written) == [name for name, _ in columns(jobs)]
    # Partitions: projection renders the same prefix the worker writes to
    params = jobs["Parameters"]
    assert [k["Name"] for k in jobs["PartitionKeys"]] == ["dt"]
    assert (params["projection.dt.type"], params["projection.dt.format"]) == ("date",
                                                                              "yyyy-MM-dd")
    key = layout.ledger_uri(BUCKET, Prefixes(), "2026-11-23", "j", 1)
    rendered = params["storage.location.template"].replace("${dt}", "2026-11-23")
    assert str(key).startswith(rendered) and "/" not in str(key)[len(rendered):]


def test_the_predictions_table_matches_what_the_worker_writes() -> None:
    table = glue_tables()["predictions"]
    assert columns(table) == list(predictions.COLUMNS)
    assert predictions.schema(()).names == [name for name, _ in columns(table)]
    params = table["Parameters"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["run_id", "dt"]
    assert params["projection.run_id.type"] == "injected"
    key = layout.predictions_uri(BUCKET, Prefixes(), "run-1", "2026-11-23", "j")
    rendered = params["storage.location.template"].replace("${run_id}", "run-1").replace(
        "${dt}", "2026-11-23")
    assert str(key).startswith(rendered) and "/" not in str(key)[len(rendered):]


def test_the_errors_table_reads_the_reports_fields() -> None:
    report_fields = ["message_id", "job", "error", "detail", "attempts", "at"]
    assert [name for name, _ in columns(glue_tables()["errors"])] == report_fields


@mock_aws
def test_moto_accepts_the_glue_tables() -> None:
    # moto's CloudFormation does not create Glue resources, so the same TableInputs go in
    # through the Glue API, and come back as written.
    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_database(DatabaseInput={"Name": "arq_batch"})
    for table in glue_tables().values():
        glue.create_table(DatabaseName="arq_batch", TableInput=table)
    for name, table in glue_tables().items():
        stored = glue.get_table(DatabaseName="arq_batch", Name=name)["Table"]
        assert columns(stored) == columns(table)
        assert stored["Parameters"] == table["Parameters"]
