"""Error reports in ``data/errors/``: what failed, why, and the first bad lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from arq_batch.engine.messages import Job
from arq_batch.engine.quarantine import TooManyBadRows
from arq_batch.engine.values import InvalidValues
from arq_batch.kernel import layout
from arq_batch.kernel.errors import ArqError
from arq_batch.kernel.ports import ObjectStore, QueueMessage
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.monitoring.tap import violations_of

BODY_EXCERPT = 4096


def describe(error: ArqError) -> str:
    """One line for logs and the DLQ's error attribute."""
    return f"{error.kind}: {error}"


def build_report(message: QueueMessage, job: Job | None, error: ArqError) -> dict[str, Any]:
    """The report body of contract section 10."""
    detail: Any = str(error)
    if isinstance(error, InvalidValues):
        detail = {"summary": str(error), "bad_rows": [
            {"row": bad.row + error.row_offset + 1, "column": bad.column, "reason": bad.reason}
            for bad in error.bad]}
    elif isinstance(error, TooManyBadRows):  # rows 0-based, as in .errors.jsonl
        detail = {"summary": str(error), "max_bad_rows": error.budget,
                  "bad_rows": [bad.to_dict() for bad in error.bad]}
    elif violations := violations_of(error):
        detail = {"summary": str(error), "violations": violations}
    return {
        "message_id": message.message_id,
        "job": job.to_dict() if job else {"body": message.body[:BODY_EXCERPT]},
        "error": error.kind,
        "detail": detail,
        "attempts": message.receive_count,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_report(store: ObjectStore, settings: Settings, message: QueueMessage,
                 job: Job | None, error: ArqError) -> S3Uri:
    """Write the report beside the other errors; returns where it went."""
    input_uri = job.input if job and job.input.bucket == settings.bucket else None
    uri = layout.error_report_uri(settings.bucket, settings.prefixes, input_uri,
                                  message.message_id)
    # One line: Athena's JSON SerDe reads one object per line.
    body = json.dumps(build_report(message, job, error)).encode()
    store.put_bytes(uri, body, {"content-type": "application/json"})
    return uri

