"""Every AWS call a run makes, and whether an IAM policy allows it.

``record_calls`` hooks botocore's ``provide-client-params`` event on every client our AWS
adapters build, so each call is seen as the API parameters it was given (operation,
bucket, key, queue). ``Policy`` is a small evaluator of Allow statements: actions and
resources with ``*``/``?`` wildcards, ``StringLike``/``StringLikeIfExists`` on
``s3:prefix``, and Deny over Allow: all the stack's policies use (no NotAction).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pytest

REGION, ACCOUNT = "us-east-1", "123456789012"


@dataclass(frozen=True)
class Need:
    """One IAM permission one call needs: the action, the resource, the s3:prefix."""

    action: str
    resource: str
    prefix: str | None = None

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}" + (
            f" (s3:prefix {self.prefix!r})" if self.prefix is not None else "")


@dataclass(frozen=True)
class Call:
    """One recorded AWS API call."""

    service: str
    operation: str
    params: dict[str, Any]

    def needs(self) -> list[Need]:
        """The permissions IAM checks for this call."""
        return _S3[self.operation](self.params) if self.service == "s3" else [
            Need(f"sqs:{_SQS[self.operation]}", _queue_arn(self.params))]


def _object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _read(p: dict[str, Any]) -> list[Need]:
    # A GET or HEAD of a missing key answers 404 only with s3:ListBucket (else 403).
    return [Need("s3:GetObject", _object(p["Bucket"], p["Key"])),
            Need("s3:ListBucket", f"arn:aws:s3:::{p['Bucket']}")]


def _write(p: dict[str, Any]) -> list[Need]:
    return [Need("s3:PutObject", _object(p["Bucket"], p["Key"]))]


def _copy(p: dict[str, Any]) -> list[Need]:
    source = p["CopySource"]
    if isinstance(source, str):
        bucket, _, key = unquote(source).lstrip("/").partition("/")
    else:
        bucket, key = source["Bucket"], source["Key"]
    return [*_write(p), Need("s3:GetObject", _object(bucket, key))]


_S3 = {
    "GetObject": _read, "HeadObject": _read, "PutObject": _write,
    "CreateMultipartUpload": _write, "UploadPart": _write, "CompleteMultipartUpload": _write,
    "UploadPartCopy": _copy, "CopyObject": _copy,
    "AbortMultipartUpload": lambda p: [Need("s3:AbortMultipartUpload",
                                            _object(p["Bucket"], p["Key"]))],
    "DeleteObject": lambda p: [Need("s3:DeleteObject", _object(p["Bucket"], p["Key"]))],
    "DeleteObjects": lambda p: [Need("s3:DeleteObject", _object(p["Bucket"], o["Key"]))
                                for o in p["Delete"]["Objects"]],
    "ListObjectsV2": lambda p: [Need("s3:ListBucket", f"arn:aws:s3:::{p['Bucket']}",
                                     p.get("Prefix", ""))],
    "HeadBucket": lambda p: [Need("s3:ListBucket", f"arn:aws:s3:::{p['Bucket']}")],
}
_SQS = {"ReceiveMessage": "ReceiveMessage", "DeleteMessage": "DeleteMessage",
        "DeleteMessageBatch": "DeleteMessage", "ChangeMessageVisibility":
        "ChangeMessageVisibility", "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
        "SendMessage": "SendMessage", "SendMessageBatch": "SendMessage",
        "GetQueueUrl": "GetQueueUrl", "GetQueueAttributes": "GetQueueAttributes"}


def _queue_arn(params: dict[str, Any]) -> str:
    name = params.get("QueueName") or params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def record_calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every call made through clients built by ``arq_batch.aws.clients`` from now on."""
    from arq_batch.aws import clients

    calls: list[Call] = []
    original = clients.client

    def recording(service: str, *args: Any, **kwargs: Any) -> Any:
        client = original(service, *args, **kwargs)

        def seen(params: dict[str, Any], model: Any, **_: Any) -> None:
            calls.append(Call(service, model.name, dict(params)))

        client.meta.events.register("provide-client-params", seen)
        return client

    monkeypatch.setattr(clients, "client", recording)
    return calls


class Policy:
    """The Allow statements of one role's inline policies, resolved for one deployment."""

    def __init__(self, statements: list[dict[str, Any]]) -> None:
        self.statements = statements

    @classmethod
    def of_role(cls, template: dict[str, Any], role: str, names: dict[str, str]) -> Policy:
        """``role``'s statements, with ``!Sub``/``!GetAtt``/``!Ref`` replaced by ``names``."""
        policies = template["Resources"][role]["Properties"]["Policies"]
        text = json.dumps([s for p in policies for s in p["PolicyDocument"]["Statement"]],
                          default=str)
        statements = json.loads(text)
        return cls([_resolve(s, names) for s in statements])

    def allows(self, need: Need) -> bool:
        """Whether some statement allows it and none denies it."""
        return (any(_matches(s, need, "Allow") for s in self.statements)
                and not any(_matches(s, need, "Deny") for s in self.statements))

    def unused(self, needs: list[Need]) -> list[str]:
        """Each (statement, action, resource) no recorded need used: what is granted more."""
        spare = []
        for s in (s for s in self.statements if s["Effect"] == "Allow"):
            for action in _list(s["Action"]):
                for resource in _list(s["Resource"]):
                    one = {**s, "Action": action, "Resource": resource}
                    if not any(_matches(one, n, "Allow") for n in needs):
                        spare.append(f"{s.get('Sid')}: {action} on {resource}")
        return spare


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(statement: dict[str, Any], need: Need, effect: str) -> bool:
    if statement.get("Effect") != effect:
        return False
    if not any(fnmatch.fnmatchcase(need.action, a) for a in _list(statement["Action"])):
        return False
    if not any(fnmatch.fnmatchcase(need.resource, r) for r in _list(statement["Resource"])):
        return False
    return _condition(statement.get("Condition", {}), need)


def _condition(condition: dict[str, Any], need: Need) -> bool:
    for operator, tests in condition.items():
        for key, values in tests.items():
            if key != "s3:prefix" or operator not in ("StringLike", "StringLikeIfExists"):
                raise AssertionError(f"the evaluator does not know {operator} {key}")
            if need.prefix is None:
                if operator == "StringLike":
                    return False
                continue
            if not any(fnmatch.fnmatchcase(need.prefix, v) for v in _list(values)):
                return False
    return True


def _resolve(value: Any, names: dict[str, str]) -> Any:
    """CloudFormation's intrinsic functions, as cfn-lint's loader leaves them."""
    if isinstance(value, list):
        return [_resolve(v, names) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            text = value["Fn::Sub"]
            for name, resolved in names.items():
                text = text.replace("${" + name + "}", resolved)
            return text
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            return names[".".join(target) if isinstance(target, list) else target]
        if set(value) == {"Ref"}:
            return names[value["Ref"]]
        return {k: _resolve(v, names) for k, v in value.items()}
    return value
