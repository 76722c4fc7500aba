"""The audit trail: one JSON record in the bucket per change made from the console.

Keys start with the time counted down (``data/audit/<9999999999999 - ms>-<id>.json``),
so a plain S3 listing yields the newest first and the page reads only the first few
objects however long the trail grows.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import islice

from arq_batch.kernel.errors import MissingObject
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.uris import S3Uri

_LAST_MS = 9_999_999_999_999


@dataclass(frozen=True)
class AuditRecord:
    """One change: what, on what, when, from where, by whom, and how it ended."""

    action: str
    target: str
    at: str
    source: str  # the client's address as the console saw it (behind an ALB: the ALB's)
    actor: str
    result: str

    @classmethod
    def parse(cls, data: bytes) -> AuditRecord:
        """A record as written; ValueError for anything else."""
        fields = json.loads(data)
        if not isinstance(fields, dict):
            raise ValueError("not an audit record")
        return cls(**{name: str(fields.get(name, "")) for name in cls.__dataclass_fields__})


class AuditLog:
    """Writes and lists the audit records under one prefix of the bucket."""

    def __init__(self, store: ObjectStore, bucket: str, prefix: str) -> None:
        self._store, self._folder = store, S3Uri(bucket, prefix)

    def record(self, action: str, target: str, source: str, actor: str,
               result: str) -> AuditRecord:
        """Write one record (before the answer goes back: an action is never unrecorded)."""
        now = datetime.now(UTC)
        entry = AuditRecord(action, target, now.isoformat(timespec="milliseconds"),
                            source, actor, result)
        countdown = _LAST_MS - int(now.timestamp() * 1000)
        key = f"{self._folder.key}{countdown:013d}-{uuid.uuid4().hex[:12]}.json"
        self._store.put_bytes(S3Uri(self._folder.bucket, key), json.dumps(asdict(entry)).encode(),
                              {"content-type": "application/json"})
        return entry

    def recent(self, limit: int = 20) -> list[AuditRecord]:
        """The newest ``limit`` records, newest first."""
        keys = list(islice((k for k in self._store.list_keys(self._folder)
                            if k.endswith(".json")), limit))
        with ThreadPoolExecutor(8) as pool:
            found = list(pool.map(self._read, keys))
        return [r for r in found if r is not None]

    def _read(self, key: str) -> AuditRecord | None:
        try:
            return AuditRecord.parse(self._store.get_bytes(S3Uri(self._folder.bucket, key)))
        except (MissingObject, ValueError, TypeError):
            return None
