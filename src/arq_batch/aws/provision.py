"""``arq-batch provision``: the bucket, queues and notification, created idempotently.

This is the control-plane adapter: like s3.py and sqs.py it talks to boto3 directly.
Every step reads the current state first and writes only on a difference, so a second
run changes nothing (and S3 sends no second ``s3:TestEvent``).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from arq_batch.aws import clients
from arq_batch.aws.faults import classify
from arq_batch.core.settings import Settings

NOTIFICATION_ID = "arq-batch-input"
LIFECYCLE_ID = "arq-batch-abort-incomplete-uploads"


def provision(settings: Settings, s3: Any = None, sqs: Any = None) -> list[str]:
    """Bring the infrastructure to the configured state; return what changed."""
    s3, sqs = s3 or clients.client("s3"), sqs or clients.client("sqs")
    try:
        changes = _bucket(s3, settings)
        dlq_url, dlq_changes = _queue(sqs, settings.dlq_name, _dlq_attributes(settings))
        dlq_arn = _arn(sqs, dlq_url)
        queue_url, queue_changes = _queue(sqs, settings.queue, {})
        queue_arn = _arn(sqs, queue_url)
        attributes = _queue_attributes(settings, dlq_arn, queue_arn)
        queue_changes += _set_attributes(sqs, queue_url, settings.queue, attributes)
        return changes + dlq_changes + queue_changes + _notification(s3, settings, queue_arn)
    except ClientError as exc:
        raise classify(exc) from exc


def _bucket(s3: Any, settings: Settings) -> list[str]:
    bucket, changes = settings.bucket, []
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        region = s3.meta.region_name
        extra = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **extra)
        changes.append(f"created bucket {bucket}")
    rule: dict[str, Any] = {"SSEAlgorithm": settings.encryption.sse}
    if settings.encryption.kms_key_id:
        rule["KMSMasterKeyID"] = settings.encryption.kms_key_id
    wanted_sse = {"Rules": [{"ApplyServerSideEncryptionByDefault": rule,
                             "BucketKeyEnabled": settings.encryption.sse == "aws:kms"}]}
    current = _get(s3.get_bucket_encryption, "ServerSideEncryptionConfiguration", Bucket=bucket)
    if _sse_rule(current) != rule:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=wanted_sse)
        changes.append(f"set default encryption {settings.encryption.sse} on {bucket}")
    block = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                           "RestrictPublicBuckets"), True)
    if _get(s3.get_public_access_block, "PublicAccessBlockConfiguration", Bucket=bucket) != block:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
        changes.append(f"blocked public access to {bucket}")
    return changes + _lifecycle(s3, bucket)


def _lifecycle(s3: Any, bucket: str) -> list[str]:
    rules = _get(s3.get_bucket_lifecycle_configuration, "Rules", Bucket=bucket) or []
    if any(r.get("ID") == LIFECYCLE_ID for r in rules):
        return []
    rule = {"ID": LIFECYCLE_ID, "Status": "Enabled", "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket,
                                          LifecycleConfiguration={"Rules": [*rules, rule]})
    return [f"added a lifecycle rule aborting incomplete uploads in {bucket}"]


def _get(call: Any, field: str, **kwargs: Any) -> Any:
    """The field of a Get* call, or None when S3 says the configuration does not exist."""
    try:
        return call(**kwargs).get(field)
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise


def _sse_rule(config: Any) -> Any:
    rules = (config or {}).get("Rules") or [{}]
    return rules[0].get("ApplyServerSideEncryptionByDefault")


def _queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, list[str]]:
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"], [
            f"created queue {name}"]
    return url, _set_attributes(sqs, url, name, attributes)


def _set_attributes(sqs: Any, url: str, name: str, wanted: dict[str, str]) -> list[str]:
    current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    differ = {k: v for k, v in wanted.items() if not _same_attribute(current.get(k), v)}
    if not differ:
        return []
    sqs.set_queue_attributes(QueueUrl=url, Attributes=differ)
    return [f"set {', '.join(sorted(differ))} on queue {name}"]


def _same_attribute(current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if wanted.startswith("{"):  # policies compare as JSON, not as text
        return bool(json.loads(current) == json.loads(wanted))
    return current == wanted


def _arn(sqs: Any, url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attrs["QueueArn"])


def _dlq_attributes(settings: Settings) -> dict[str, str]:
    return {"MessageRetentionPeriod": str(settings.queue_settings.retention_seconds)}


def _queue_attributes(settings: Settings, dlq_arn: str, queue_arn: str) -> dict[str, str]:
    q = settings.queue_settings
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowS3ToSend", "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{settings.bucket}"}}}]}
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": q.max_receive_count}
    return {"VisibilityTimeout": str(q.visibility_timeout),
            "ReceiveMessageWaitTimeSeconds": str(q.wait_time_seconds),
            "MessageRetentionPeriod": str(q.retention_seconds),
            "RedrivePolicy": json.dumps(redrive), "Policy": json.dumps(policy)}


def _notification(s3: Any, settings: Settings, queue_arn: str) -> list[str]:
    wanted = {"Id": NOTIFICATION_ID, "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"],
              "Filter": {"Key": {"FilterRules": [
                  {"Name": "prefix", "Value": settings.prefixes.input}]}}}
    current = s3.get_bucket_notification_configuration(Bucket=settings.bucket)
    configs = current.get("QueueConfigurations", [])
    if any(_same_notification(c, wanted) for c in configs):
        return []
    others = [c for c in configs if c.get("Id") != NOTIFICATION_ID]
    config = {k: v for k, v in current.items() if k.endswith("Configurations")}
    config["QueueConfigurations"] = [*others, wanted]
    s3.put_bucket_notification_configuration(Bucket=settings.bucket,
                                             NotificationConfiguration=config)
    return [f"sent s3:ObjectCreated:* under {settings.prefixes.input} to {queue_arn}"]


def _same_notification(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    rules = current.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    normalised = [{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules]
    return bool(current.get("QueueArn") == wanted["QueueArn"]
            and current.get("Events") == wanted["Events"]
            and normalised == wanted["Filter"]["Key"]["FilterRules"])
