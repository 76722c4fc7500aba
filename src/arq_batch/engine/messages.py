"""Turn a raw queue message into jobs: the only module that reads message bodies.

Accepted shapes (contract section 6): our job message, S3 event notifications, either
wrapped in SNS, EventBridge ``Object Created`` events, the prototype's legacy message
attributes, and ``s3:TestEvent`` (no jobs). Anything else raises PoisonMessage.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from arq_batch.engine.options import OPTION_NAMES, JobOptions, parse_options
from arq_batch.formats import detect
from arq_batch.kernel.errors import BucketNotAllowed, PoisonMessage
from arq_batch.kernel.layout import MODEL_FILE, check_output, options_digest, output_metadata
from arq_batch.kernel.ports import QueueMessage
from arq_batch.kernel.settings import Prefixes
from arq_batch.kernel.uris import S3Uri


@dataclass(frozen=True)
class Job:
    """One input to score; ``output`` and ``model`` are None when the defaults apply."""

    job_id: str
    input: S3Uri
    output: S3Uri | None = None
    model: S3Uri | None = None
    options: JobOptions = field(default_factory=JobOptions)
    split_bytes: int | None = None  # split inputs larger than this; 0 never; None: config
    part: int | None = None  # one part of a split job (docs/split.md)
    event: bool = False  # from an S3/EventBridge notification, not a message naming it
    max_bad_rows: int | None = None  # the bad-row budget; None: worker.max_bad_rows

    def to_dict(self) -> dict[str, Any]:
        """The job message fields (contract 6.1, 11), without the ones left to defaults."""
        body: dict[str, Any] = {"job_id": self.job_id, "input": str(self.input)}
        if self.output:
            body["output"] = str(self.output)
        if self.model:
            body["model"] = str(self.model)
        for name in ("split_bytes", "part", "max_bad_rows"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        return body | self.options.to_dict()

    def to_body(self) -> str:
        """The job message that ``send`` enqueues."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Job:
        """The job of a job message's fields (``to_dict``'s inverse); PoisonMessage if bad."""
        return _from_job_message(body, str(body.get("job_id", "")))

    def output_metadata(self, run_id: str, input_etag: str) -> dict[str, str]:
        """The metadata its output carries: model run, input and version, options' digest."""
        options = self.options.effective(detect(self.input.name))
        if self.max_bad_rows is not None:  # a budget can change which rows the output holds
            options["max_bad_rows"] = self.max_bad_rows
        return output_metadata(run_id, self.input, input_etag, options_digest(options))


def parse(message: QueueMessage, allowed_buckets: Collection[str]) -> tuple[Job, ...]:
    """All jobs a message names (none for a TestEvent); PoisonMessage if it names none."""
    legacy = _legacy(message)
    jobs = (legacy,) if legacy else _from_body(_load(message.body), message.message_id, depth=0)
    for job in jobs:
        _check_buckets(job, allowed_buckets)
    return jobs


def model_folder(uri: S3Uri) -> S3Uri:
    """A model reference names its run folder; accept the artifact's own key too."""
    key = uri.key[: -len(MODEL_FILE)] if uri.key.endswith(MODEL_FILE) else uri.key
    return S3Uri(uri.bucket, key if key.endswith("/") else key + "/")


def _load(body: str) -> Any:
    try:
        return json.loads(body)
    except (TypeError, ValueError) as exc:
        raise PoisonMessage(f"message body is not JSON: {str(body)[:80]!r}") from exc
    except RecursionError:  # JSON nested deeper than Python's parser goes: still poison
        raise PoisonMessage("message body is JSON nested too deeply to read") from None


def _from_body(body: Any, message_id: str, depth: int) -> tuple[Job, ...]:
    if not isinstance(body, dict):
        raise PoisonMessage(f"message body is JSON but not an object: {type(body).__name__}")
    if body.get("Type") == "Notification" and "Message" in body and depth == 0:
        return _from_body(_load(body["Message"]), message_id, depth + 1)
    if body.get("Event") == "s3:TestEvent":
        return ()
    if "Records" in body:
        return _from_s3_event(body["Records"], message_id)
    if body.get("detail-type") == "Object Created":
        return (_from_eventbridge(body, message_id),)
    if "input" in body:
        return (_from_job_message(body, message_id),)
    raise PoisonMessage(f"unrecognised message with keys {sorted(body)[:8]}")


def _from_s3_event(records: Any, message_id: str) -> tuple[Job, ...]:
    if not isinstance(records, list) or not records:
        raise PoisonMessage("S3 event without records")
    jobs = []
    for index, record in enumerate(records):
        event = _get(record, "eventName")
        if _get(record, "eventSource") != "aws:s3" or not str(event).startswith("ObjectCreated:"):
            raise PoisonMessage(f"S3 record is not an ObjectCreated event: {event!r}")
        bucket = _get(record, "s3", "bucket", "name")
        # S3 URL-encodes keys in notifications, spaces as '+': unquote_plus, never unquote.
        key = unquote_plus(_get(record, "s3", "object", "key"))
        job_id = message_id if len(records) == 1 else f"{message_id}-{index}"
        jobs.append(Job(job_id, S3Uri(bucket, key), event=True))
    return tuple(jobs)


def _from_eventbridge(body: Mapping[str, Any], message_id: str) -> Job:
    # EventBridge carries the key as it is, not URL-encoded.
    bucket = _get(body, "detail", "bucket", "name")
    key = _get(body, "detail", "object", "key")
    return Job(str(body.get("id") or message_id), S3Uri(bucket, key), event=True)


def _from_job_message(body: Mapping[str, Any], message_id: str) -> Job:
    unknown = sorted(set(body) - {"input", "output", "model", "job_id", "split_bytes", "part",
                                  "max_bad_rows", *OPTION_NAMES})
    if unknown:
        raise PoisonMessage(f"job message has unknown fields {unknown}")
    try:
        options = parse_options(body)
    except ValueError as exc:
        raise PoisonMessage(f"job message: {exc}") from None
    output, model = body.get("output"), body.get("model")
    return Job(
        job_id=str(body.get("job_id") or message_id),
        input=parse_job_uri(body["input"], "input"),
        output=parse_job_uri(output, "output") if output else None,
        model=model_folder(S3Uri.parse(model)) if model else None,
        options=options,
        split_bytes=_count(body, "split_bytes"),
        part=_count(body, "part"),
        max_bad_rows=_count(body, "max_bad_rows"),
    )


def _count(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PoisonMessage(f"job message: {name} must be a whole number >= 0, got {value!r}")
    return value


def _legacy(message: QueueMessage) -> Job | None:
    attrs = message.attributes
    if "s3_bucket" not in attrs and "s3_bucket_file" not in attrs:
        return None
    bucket, key = attrs.get("s3_bucket", ""), attrs.get("s3_bucket_file", "")
    if not bucket or not key:
        raise PoisonMessage("legacy message needs both s3_bucket and s3_bucket_file")
    model_key = attrs.get("s3_bucket_model")
    model = model_folder(S3Uri(bucket, model_key)) if model_key else None
    return Job(message.message_id, S3Uri(bucket, key), model=model)


def parse_job_uri(text: Any, field: str) -> S3Uri:
    """An s3:// URI that names an object (not a folder); PoisonMessage otherwise."""
    uri = S3Uri.parse(text)
    if not uri.key or uri.key.endswith("/"):
        raise PoisonMessage(f"{field} must name an object, got {text!r}")
    return uri


def _get(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, dict) or name not in data:
            raise PoisonMessage(f"event is missing field {'.'.join(path)!r}")
        data = data[name]
    if not isinstance(data, str) or not data:
        raise PoisonMessage(f"event field {'.'.join(path)!r} must be a non-empty string")
    return data


def check_request(job: Job, allowed: Collection[str], prefixes: Prefixes) -> None:
    """What ``send`` and ``transform`` check before enqueueing (the worker checks the same
    again): allowed buckets, and an explicit output outside every prefix we own."""
    _check_buckets(job, allowed)
    if job.output is not None:
        check_output(job.output, prefixes, job.input)


def _check_buckets(job: Job, allowed: Collection[str]) -> None:
    for uri in (job.input, job.output, job.model):
        if uri is not None and uri.bucket not in allowed:
            raise BucketNotAllowed(f"bucket {uri.bucket!r} is not allowed for jobs")
