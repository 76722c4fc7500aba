"""``arq-batch transform``: a Batch Transform request becomes one job per input object.

``submit`` resolves the model once (``latest`` means the run that is latest *now*, so
every object of the job meets the same model), writes the job's record to
``data/transforms/<name>.json`` and enqueues its jobs, ids ``<name>.<n>``. ``describe``
answers like ``DescribeTransformJob`` from that record and the job ledger, where every
settled attempt already is; there is no other state to keep or lose.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from arq_batch.engine.compaction import compacted_tables
from arq_batch.engine.datasets import compacted_prefix
from arq_batch.engine.messages import Job, check_request, model_folder
from arq_batch.engine.transform_requests import TransformRequest, parse_manifest, relative_key
from arq_batch.kernel import layout
from arq_batch.kernel.errors import ConfigError, MissingObject, PermanentError
from arq_batch.kernel.outcomes import Outcome
from arq_batch.kernel.ports import ObjectStore, Queue, exists
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.models.store import ModelStore


@dataclass(frozen=True)
class Progress:
    """Where a transform job stands, in DescribeTransformJob's terms."""

    name: str
    status: str  # InProgress | Completed | Failed
    total: int
    completed: int
    failed: int
    rows: int
    failure_reason: str
    record: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """DescribeTransformJob's fields we can answer, plus our counts."""
        described = {"TransformJobName": self.name, "TransformJobStatus": self.status,
                     "ModelName": self.record["model_name"], "ModelUri": self.record["model"],
                     "CreationTime": self.record["created_at"],
                     "TransformInput": self.record["request"].get("TransformInput"),
                     "TransformOutput": self.record["request"].get("TransformOutput"),
                     "DataProcessing": self.record["request"].get("DataProcessing"),
                     "ObjectCounts": {"Total": self.total, "Completed": self.completed,
                                      "Failed": self.failed,
                                      "InProgress": self.total - self.completed - self.failed},
                     "Rows": self.rows}
        return described | ({"FailureReason": self.failure_reason} if self.failure_reason
                            else {})


class Transforms:
    """Submits and describes transform jobs against the bucket and the queue."""

    def __init__(self, store: ObjectStore, queue: Queue, models: ModelStore,
                 settings: Settings) -> None:
        self._store, self._queue, self._models, self._settings = store, queue, models, settings
        self._buckets = settings.buckets
        self._read: dict[str, dict[str, Any]] = {}

    def submit(self, request: TransformRequest, body: dict[str, Any]) -> dict[str, Any]:
        """Enqueue one job per object; ConfigError (exit 2) for what the request names wrong."""
        record_uri = self._record_uri(request.name)
        if exists(self._store, record_uri):
            raise PermanentError(f"transform job {request.name!r} already exists")
        model = self._model(request.model_name)
        jobs = [Job(f"{request.name}.{i}", source, request.output_for(relative), model,
                    request.options, max_bad_rows=request.max_bad_rows)
                for i, (source, relative) in enumerate(self._inputs(request))]
        if not jobs:
            raise ConfigError(f"no objects under {request.source}")
        for job in jobs:
            try:
                check_request(job, self._buckets, self._settings.prefixes)
            except PermanentError as exc:
                raise ConfigError(str(exc)) from None
        record = {"name": request.name, "model_name": request.model_name, "model": str(model),
                  "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "request": body, "jobs": [job.to_dict() for job in jobs]}
        self._store.put_bytes(record_uri, json.dumps(record, indent=1).encode())
        for job in jobs:
            self._queue.send(job.to_body())
        return record

    def describe(self, name: str) -> Progress:
        """The job's status from its record and the ledger."""
        try:
            record = json.loads(self._store.get_bytes(self._record_uri(name)))
        except MissingObject:
            raise ConfigError(f"no transform job named {name!r}") from None
        settled = self._settled(name, date.fromisoformat(record["created_at"][:10]))
        done = [s for s in settled.values() if s["outcome"] in (Outcome.DONE, Outcome.SKIPPED)]
        dead = [s for s in settled.values() if s["outcome"] == Outcome.DEAD]
        total = len(record["jobs"])
        status = ("InProgress" if len(done) + len(dead) < total
                  else "Failed" if dead else "Completed")
        reason = "; ".join(f"{s['input']}: {s['error_message']}" for s in dead[:3])
        return Progress(name, status, total, len(done), len(dead),
                        sum(s["rows"] or 0 for s in done), reason, record)

    def _settled(self, name: str, since: date) -> dict[str, dict[str, Any]]:
        """Each job's final ledger record (done or skipped before dead; retries ignored)."""
        final: dict[str, dict[str, Any]] = {}
        for record in self._ledger(name, since):
            if record["outcome"] not in (Outcome.DONE, Outcome.SKIPPED, Outcome.DEAD):
                continue
            seen = final.get(record["job_id"])
            if seen is None or seen["outcome"] == Outcome.DEAD or (
                    record["outcome"] == Outcome.DONE and seen["outcome"] == Outcome.SKIPPED):
                final[record["job_id"]] = record
        return final

    def _ledger(self, name: str, since: date) -> Iterator[dict[str, Any]]:
        """The job's records: compacted ones (read afresh), then those still small."""
        day, today = since, datetime.now(UTC).date()
        prefixes, bucket = self._settings.prefixes, self._settings.bucket
        while day <= today:
            dt = f"dt={day.isoformat()}/"
            folder = S3Uri(bucket, compacted_prefix(prefixes, "jobs") + dt)
            for table in compacted_tables(self._store, folder):
                yield from (r for r in table.to_pylist() if r["job_id"].startswith(f"{name}."))
            prefix = S3Uri(bucket, f"{prefixes.jobs}dt={day.isoformat()}/{name}.")
            for key in self._store.list_keys(prefix):
                if key not in self._read:  # ledger records never change: --wait reads each once
                    self._read[key] = json.loads(self._store.get_bytes(S3Uri(prefix.bucket,
                                                                              key)))
                yield self._read[key]
            day += timedelta(days=1)

    def _inputs(self, request: TransformRequest) -> Iterator[tuple[S3Uri, str]]:
        if request.data_type == "ManifestFile":
            try:
                prefix, keys = parse_manifest(json.loads(self._store.get_bytes(request.source)))
            except (ValueError, PermanentError) as exc:
                raise ConfigError(f"manifest {request.source}: {exc}") from None
            for key in keys:
                yield prefix.child(key) if prefix.key else S3Uri(prefix.bucket, key), key
            return
        for key in sorted(self._store.list_keys(request.source)):
            if not key.endswith("/"):
                yield S3Uri(request.source.bucket, key), relative_key(request.source, key)

    def _model(self, name: str) -> S3Uri:
        if name == "latest":
            return self._models.latest_uri()
        uri = (model_folder(S3Uri.parse(name)) if name.startswith("s3://")
               else layout.run_uri(self._settings.bucket, self._settings.prefixes, name))
        if not exists(self._store, uri.child(layout.CARD_FILE)):
            raise ConfigError(f"ModelName {name!r}: no model run at {uri}")
        return uri

    def _record_uri(self, name: str) -> S3Uri:
        return S3Uri(self._settings.bucket, f"{self._settings.prefixes.transforms}{name}.json")
