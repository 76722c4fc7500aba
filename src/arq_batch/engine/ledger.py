"""The job ledger: one record per settled job attempt, the table behind ``jobs``.

The column list here is the one schema: the worker writes it, ``query`` reads it with
these types, and a test holds the Glue table in ``infra/`` to it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

# (name, Athena/Glue type); DuckDB reads the same names with the types in DUCKDB_TYPES.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("job_id", "string"), ("message_id", "string"), ("receive_count", "int"),
    ("worker_id", "string"), ("input", "string"), ("input_etag", "string"),
    ("input_size", "bigint"), ("output", "string"), ("rows", "bigint"),
    ("seconds", "double"), ("run_id", "string"), ("outcome", "string"),
    ("error_class", "string"), ("error_message", "string"),
    ("started_at", "string"), ("finished_at", "string"),
    # Monitoring (done jobs of models with a baseline): constraint violations, and the
    # feature furthest from its baseline with its distance.
    ("violations", "int"), ("worst_feature", "string"), ("worst_distance", "double"),
    # Cost (docs/performance.md): CPU time the attempt's thread used, and its share of the
    # worker task's price for the time it ran, unrounded.
    ("cpu_seconds", "double"), ("cost_usd", "double"),
    # Rows a done job set aside within its max_bad_rows (docs/quarantine.md).
    ("rows_quarantined", "bigint"),
)
DUCKDB_TYPES = {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE"}


@dataclass(frozen=True)
class LedgerRecord:
    """What happened to one job in one delivery of its message."""

    job_id: str
    message_id: str
    receive_count: int
    worker_id: str
    outcome: str
    started_at: datetime
    finished_at: datetime
    input: str | None = None
    input_etag: str | None = None
    input_size: int | None = None
    output: str | None = None
    rows: int | None = None
    run_id: str | None = None
    error_class: str | None = None
    error_message: str | None = None
    violations: int | None = None
    worst_feature: str | None = None
    worst_distance: float | None = None
    cpu_seconds: float | None = None
    cost_usd: float | None = None
    rows_quarantined: int | None = None

    @property
    def seconds(self) -> float:
        """Wall time of the attempt."""
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    @property
    def dt(self) -> str:
        """The date partition: the day the attempt was settled (UTC)."""
        return self.finished_at.strftime("%Y-%m-%d")

    def to_json(self) -> bytes:
        """One JSON object on one line, timestamps as ISO 8601 UTC."""
        fields = asdict(self) | {"seconds": self.seconds}
        for name in ("started_at", "finished_at"):
            fields[name] = fields[name].isoformat(timespec="milliseconds")
        return (json.dumps({name: fields[name] for name, _ in COLUMNS}) + "\n").encode()
