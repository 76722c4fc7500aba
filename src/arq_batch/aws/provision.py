"""``arq-batch provision``: the bucket, queues and notification, created idempotently.

This is the control-plane adapter: like s3.py and sqs.py it talks to boto3 directly.
Every step reads the current state first and writes only on a difference, so a second
run changes nothing (and S3 sends no second ``s3:TestEvent``).

S3-compatible stores lack some bucket features. A store that refuses one (501, 405,
``NotImplemented``), answers its PUT as something else (rclone: ``BucketAlreadyExists``)
or reads back nothing of it gets the feature *skipped*, with what follows, and
provisioning goes on. AWS and the emulator support every feature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from arq_batch.aws import clients
from arq_batch.aws import provision_queues as queues
from arq_batch.aws.faults import classify
from arq_batch.kernel.settings import Settings

NOTIFICATION_ID = "arq-batch-input"
LIFECYCLE_ID = "arq-batch-abort-incomplete-uploads"
SPLITS_RULE_ID = "arq-batch-expire-stale-splits"
SPLITS_DAYS = 7  # a split job's temporary objects that its workers could not remove
QUARANTINE_RULE_ID = "arq-batch-expire-quarantine"
# What follows when a store lacks a feature, said once here for the CLI and the docs.
FOLLOWS = {
    "default encryption": "objects are still written with server-side encryption headers; "
                          "whether the store encrypts them is the store's business",
    "public access block": "the bucket's access is whatever the store's own policy gives",
    "lifecycle": "incomplete multipart uploads of failed jobs, split jobs' temporary "
                 "objects a crash left behind, and quarantined rows are not expired by the "
                 "store",
    "event notifications": "new objects under the input prefix do not become jobs by "
                           "themselves: run `arq-batch watch` beside the workers",
}
_UNSUPPORTED = {"NotImplemented", "MethodNotAllowed", "BucketAlreadyExists",
                "BucketAlreadyOwnedByYou", "XNotImplemented"}


@dataclass
class Provisioned:
    """What provisioning changed, and the bucket features the store lacks."""

    changes: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def feature(self, name: str, step: Callable[[], list[str]]) -> None:
        """Run one bucket feature's step; a store without the feature skips it."""
        try:
            self.changes += step()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if error.get("Code") not in _UNSUPPORTED and status not in (405, 501):
                raise
            self.skip(name, f"not supported by this store (it answered "
                            f"{error.get('Code') or status} to {exc.operation_name})")
        except Unsupported as exc:
            self.skip(name, str(exc))

    def skip(self, name: str, why: str) -> None:
        self.skipped.append({"feature": name, "reason": f"{why}; {FOLLOWS[name]}"})


class Unsupported(Exception):
    """A store took a bucket configuration but reads back nothing of it."""


def provision(settings: Settings, s3: Any = None, sqs: Any = None) -> Provisioned:
    """Bring the infrastructure to the configured state; say what changed and what the
    store cannot do."""
    s3 = s3 or clients.client("s3", addressing_style=settings.s3.addressing_style)
    sqs = sqs or clients.client("sqs")
    done = Provisioned()
    try:
        done.changes += _create_bucket(s3, settings.bucket)
        _bucket_features(s3, settings, done)
        dlq_url, dlq_changes = queues.queue(sqs, settings.dlq_name,
                                            queues.dlq_attributes(settings))
        dlq_arn = queues.arn(sqs, dlq_url)
        queue_url, queue_changes = queues.queue(sqs, settings.queue, {})
        queue_arn = queues.arn(sqs, queue_url)
        attributes = queues.queue_attributes(settings, dlq_arn, queue_arn)
        queue_changes += queues.set_attributes(sqs, queue_url, settings.queue, attributes)
        done.changes += dlq_changes + queue_changes
        done.feature("event notifications", lambda: _notification(s3, settings, queue_arn))
    except ClientError as exc:
        raise classify(exc) from exc
    return done


def _create_bucket(s3: Any, bucket: str) -> list[str]:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        region = s3.meta.region_name
        extra = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **extra)
        return [f"created bucket {bucket}"]
    return []


def _bucket_features(s3: Any, settings: Settings, done: Provisioned) -> None:
    bucket = settings.bucket
    done.feature("default encryption", lambda: _encryption(s3, settings))
    done.feature("public access block", lambda: _public_access_block(s3, bucket))
    done.feature("lifecycle", lambda: _lifecycle(s3, bucket, settings))


def _encryption(s3: Any, settings: Settings) -> list[str]:
    bucket = settings.bucket
    rule: dict[str, Any] = {"SSEAlgorithm": settings.encryption.sse}
    if settings.encryption.kms_key_id:
        rule["KMSMasterKeyID"] = settings.encryption.kms_key_id
    wanted_sse = {"Rules": [{"ApplyServerSideEncryptionByDefault": rule,
                             "BucketKeyEnabled": settings.encryption.sse == "aws:kms"}]}
    def current() -> Any:
        return _sse_rule(_get(s3.get_bucket_encryption, "ServerSideEncryptionConfiguration",
                              Bucket=bucket))

    if current() == rule:
        return []
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=wanted_sse)
    _read_back(current() == rule)
    return [f"set default encryption {settings.encryption.sse} on {bucket}"]


def _public_access_block(s3: Any, bucket: str) -> list[str]:
    block = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                           "RestrictPublicBuckets"), True)

    def current() -> Any:
        return _get(s3.get_public_access_block, "PublicAccessBlockConfiguration", Bucket=bucket)

    if current() == block:
        return []
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
    _read_back(current() == block)
    return [f"blocked public access to {bucket}"]


def _read_back(applied: bool) -> None:
    if not applied:
        raise Unsupported("not supported by this store (it accepted the configuration but "
                          "reads back none of it)")


def _lifecycle(s3: Any, bucket: str, settings: Settings) -> list[str]:
    splits, quarantine = settings.prefixes.splits, settings.prefixes.quarantine
    days = settings.worker.quarantine_days
    wanted = {
        LIFECYCLE_ID: ({"ID": LIFECYCLE_ID, "Status": "Enabled", "Filter": {"Prefix": ""},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
                       "aborting incomplete uploads"),
        SPLITS_RULE_ID: ({"ID": SPLITS_RULE_ID, "Status": "Enabled",
                          "Filter": {"Prefix": splits}, "Expiration": {"Days": SPLITS_DAYS}},
                         f"expiring {splits} after {SPLITS_DAYS} days"),
        QUARANTINE_RULE_ID: ({"ID": QUARANTINE_RULE_ID, "Status": "Enabled",
                              "Filter": {"Prefix": quarantine}, "Expiration": {"Days": days}},
                             f"expiring {quarantine} after {days} days"),
    }
    rules = _get(s3.get_bucket_lifecycle_configuration, "Rules", Bucket=bucket) or []
    missing = [name for name in wanted if all(r.get("ID") != name for r in rules)]
    if not missing:
        return []
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={
        "Rules": [*rules, *(wanted[name][0] for name in missing)]})
    rules = _get(s3.get_bucket_lifecycle_configuration, "Rules", Bucket=bucket) or []
    _read_back(all(any(r.get("ID") == name for r in rules) for name in missing))
    return [f"added a lifecycle rule {wanted[name][1]} in {bucket}" for name in missing]


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
    configs = s3.get_bucket_notification_configuration(Bucket=settings.bucket).get(
        "QueueConfigurations", [])
    _read_back(any(_same_notification(c, wanted) for c in configs))
    return [f"sent s3:ObjectCreated:* under {settings.prefixes.input} to {queue_arn}"]


def _same_notification(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    rules = current.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    normalised = [{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules]
    return bool(current.get("QueueArn") == wanted["QueueArn"]
            and current.get("Events") == wanted["Events"]
            and normalised == wanted["Filter"]["Key"]["FilterRules"])
