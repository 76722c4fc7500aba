"""The views ``query`` predefines, each over one prefix of the bucket.

A view over a prefix with no files yet is an empty table of the same columns, so a
query on a fresh bucket answers with no rows instead of an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from arq_batch.engine import ledger, predictions
from arq_batch.kernel.settings import Settings

_TYPES = ledger.DUCKDB_TYPES | {"timestamp": "TIMESTAMP WITH TIME ZONE", "date": "DATE",
                                "json": "JSON"}
# Timestamps are ISO 8601 text in the ledger (so every JSON reader agrees on them); the
# view hands them out as timestamps.
_LEDGER_TIMES = ("started_at", "finished_at")
# One row per violation; the job's fields head each constraint_violations.json.
_VIOLATION_JOB = (("job_id", "string"), ("input", "string"), ("run_id", "string"))
_VIOLATION = (("feature_name", "string"), ("constraint_check_type", "string"),
              ("description", "string"))
_QUARANTINE_LINE = (("row", "bigint"), ("column", "string"), ("value", "string"),
                    ("reason", "string"), ("input", "string"))
_QUARANTINE_COLUMNS = (("input", "string"), *_QUARANTINE_LINE[:-1])
_ERROR_COLUMNS = (("message_id", "string"), ("job", "json"), ("error", "string"),
                  ("detail", "json"), ("attempts", "int"), ("at", "string"))


@dataclass(frozen=True)
class View:
    """A view: the files it reads (suffixes under a prefix) and how to read them."""

    name: str
    prefix: str
    suffixes: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # for the empty table
    user_keys: bool = False  # keys follow input keys (any character), not our own names

    def empty_sql(self) -> str:
        """The view's columns with no rows."""
        cols = ", ".join(f"CAST(NULL AS {_TYPES[t]}) AS {name}" for name, t in self.columns)
        return f"SELECT {cols} WHERE false"


def views(settings: Settings) -> dict[str, View]:
    """Every predefined view, by name."""
    p = settings.prefixes
    ledger_cols = tuple((n, "timestamp" if n in _LEDGER_TIMES else t) for n, t in ledger.COLUMNS)
    prediction_cols = (*predictions.COLUMNS[:2],
                       *((c, "string") for c in settings.predictions.id_columns),
                       *predictions.COLUMNS[2:], ("run_id", "string"), ("dt", "date"))
    error_cols = (*_ERROR_COLUMNS, ("input", "string"), ("key", "string"))
    output_cols = (("key", "string"),)
    return {v.name: v for v in (
        View("jobs", p.jobs, (".json",), (*ledger_cols, ("dt", "date"))),
        View("predictions", p.predictions, (".parquet",), prediction_cols),
        View("errors", p.errors, (".json",), error_cols, user_keys=True),
        View("quarantine", p.quarantine, (".errors.jsonl",), _QUARANTINE_COLUMNS, True),
        View("violations", p.monitoring, ("constraint_violations.json",),
             (*_VIOLATION_JOB, *_VIOLATION, ("dt", "date"))),
        View("outputs", p.output, (".csv", ".csv.gz", ".csv.zst"), output_cols, True),
        View("outputs_parquet", p.output, (".parquet", ".pq"), output_cols, True),
        View("outputs_jsonl", p.output, (".jsonl", ".jsonl.gz", ".jsonl.zst", ".ndjson",
                                         ".ndjson.gz", ".json", ".json.gz"), output_cols, True),
    )}


def source_sql(view: View, urls: list[str]) -> str:
    """The SELECT that reads ``urls`` (s3:// globs or files) for ``view``."""
    files = "[" + ", ".join(quote(u) for u in urls) + "]"
    if view.name in COMPACTED:
        return f"SELECT * EXCLUDE (filename) FROM ({fresh_sql(view, files)})"
    if view.name == "quarantine":
        columns = "{" + ", ".join(f"{quote(n)}: {quote(_TYPES[t])}"
                                  for n, t in _QUARANTINE_LINE) + "}"
        return (f"SELECT input, \"row\", \"column\", value, reason FROM read_json({files}, "
                f"columns={columns}, format='newline_delimited', filename=true, "
                "hive_partitioning=false)")
    if view.name == "errors":
        columns = "{" + ", ".join(f"{quote(n)}: {quote(_TYPES[t])}"
                                  for n, t in _ERROR_COLUMNS) + "}"
        return (f"SELECT *, job->>'input' AS input, filename AS key FROM read_json({files}, "
                f"columns={columns}, format='auto', filename=true, hive_partitioning=false)")
    reader = {"outputs": "read_csv", "outputs_parquet": "read_parquet",
              "outputs_jsonl": "read_json_auto"}[view.name]
    return (f"SELECT * EXCLUDE (filename), filename AS key FROM {reader}({files}, "
            "union_by_name=true, filename=true, hive_partitioning=false)")


# Views whose small objects compaction gathers (engine.datasets): their rows are the
# compacted files' plus the small objects' not yet in them (each compacted row names its
# ``source``), so a view never counts a row twice, whatever a compactor was doing.
COMPACTED = ("jobs", "violations", "predictions")
_HIVE = {"jobs": "{'dt': DATE}", "violations": "{'dt': DATE}",
         "predictions": "{'run_id': VARCHAR, 'dt': DATE}"}
_CASTS = ", ".join(f"CAST({n} AS TIMESTAMP WITH TIME ZONE) AS {n}" for n in _LEDGER_TIMES)


def fetched_sql(view: View, relation: str) -> str:
    """The fresh rows of ``view`` from an Arrow table registered as ``relation``
    (``query.fresh``), shaped as ``_fresh_sql`` shapes them (with ``filename``)."""
    casts = f" REPLACE ({_CASTS})" if view.name == "jobs" else ""
    return f"SELECT * EXCLUDE (dt){casts}, CAST(dt AS DATE) AS dt FROM {relation}"


def typed_sql(view: View, relation: str) -> str:
    """``relation``'s rows with the view's types (the ledger's times as timestamps)."""
    casts = f" REPLACE ({_CASTS})" if view.name == "jobs" else ""
    return f"SELECT *{casts} FROM {relation}"


def packed_sql(view: View, compacted: list[str]) -> str:
    """The compacted Parquet files of ``view`` as one relation, with ``filename``."""
    return (f"read_parquet([{', '.join(quote(u) for u in compacted)}], filename=true, "
            f"hive_partitioning=true, union_by_name=true, hive_types={_HIVE[view.name]})")


def compacted_sql(view: View, fresh: str | None, packed: str) -> str:
    """``view`` over its compacted rows (``packed``: ``packed_sql`` or a local copy of it)
    and the fresh small objects' rows.

    Each source's rows come from one compacted file only (a merge writes the new file
    before it removes the old ones), and a small object is read only while no compacted
    file holds it (a compactor removes them after its file is committed)."""
    replace = f" REPLACE ({_CASTS})" if view.name == "jobs" else ""
    select = (f"SELECT * EXCLUDE (source, filename){replace} FROM {packed} AS p SEMI JOIN "
              f"(SELECT source, min(filename) AS filename FROM {packed} GROUP BY source) "
              "AS chosen USING (source, filename)")
    if fresh is None:
        return select
    return (f"{select} UNION ALL BY NAME SELECT * EXCLUDE (filename) FROM ({fresh}) "
            f"WHERE filename NOT IN (SELECT source FROM {packed})")


def fresh_sql(view: View, files: str) -> str:
    """A compacted view's small objects, with the ``filename`` each row came from."""
    if view.name == "jobs":
        columns = "{" + ", ".join(f"{quote(n)}: {quote(_TYPES[t])}"
                                  for n, t in ledger.COLUMNS) + "}"
        return (f"SELECT * REPLACE ({_CASTS}) FROM read_json({files}, columns={columns}, "
                "format='newline_delimited', hive_partitioning=true, filename=true, "
                "hive_types={'dt': DATE})")
    if view.name == "predictions":
        return (f"SELECT * FROM read_parquet({files}, hive_partitioning=true, filename=true, "
                "union_by_name=true, hive_types={'run_id': VARCHAR, 'dt': DATE})")
    return _violations_sql(files)


def _violations_sql(files: str) -> str:
    job = ", ".join(f"{quote(n)}: 'VARCHAR'" for n, _ in _VIOLATION_JOB)
    each = ", ".join(f"{n} VARCHAR" for n, _ in _VIOLATION)
    found = ", ".join(f"v.{n}" for n, _ in _VIOLATION)
    return (f"SELECT job_id, input, run_id, {found}, dt, filename FROM (SELECT *, "
            f"unnest(violations) AS v FROM read_json({files}, columns={{{job}, 'violations': "
            f"'STRUCT({each})[]'}}, format='newline_delimited', hive_partitioning=true, "
            "filename=true, hive_types={'dt': DATE}))")


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
