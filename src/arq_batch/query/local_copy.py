"""A compacted view held in the engine's memory, for a long-lived reader (the console).

Each refresh lists the view's compacted files and reads only those that appeared or
changed, dropping the rows of those that went (compacted files are immutable: a merge
writes a new file, then deletes the old ones, so a key and its ETag name its rows for
good). The rows live in a compressed in-memory database: 100,000 ledger records take
about 6 MB there against 45 MB in a plain table (measured), so a console holding a busy
fleet's history stays small. Queries then scan memory instead of fetching every file's
columns again (measured at 100,000 jobs: docs/performance.md, the console).
"""

from __future__ import annotations

import logging

import duckdb

from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.uris import S3Uri
from arq_batch.query.views import View, compacted_sql, packed_sql, typed_sql

logger = logging.getLogger(__name__)

HELD = "held"  # the compressed in-memory database the copies live in
COPY_FILES = 4  # compacted files read per step of a first copy


def hold(db: duckdb.DuckDBPyConnection) -> None:
    """Make the compressed database, and have freed memory returned to the system soon
    (DuckDB keeps up to 128 MB by default: a console would sit on its peak)."""
    db.execute(f"ATTACH ':memory:' AS {HELD} (COMPRESS)")
    for setting in ("allocator_flush_threshold", "allocator_bulk_deallocation_flush_threshold"):
        db.execute(f"SET {setting} = '16MB'")
    db.execute("SET allocator_background_threads = true")
    # One thread: a console's statements scan megabytes, and each extra thread keeps
    # buffers of its own (100,000 jobs: 121 MB against 139 MB while copying, measured).
    db.execute("SET threads = 1")
    # The files' bytes are read once into the copy; caching them as well would hold the
    # history twice.
    db.execute("SET enable_external_file_cache = false")


class LocalCopy:
    """One compacted view, copied into ``held`` and kept in step with its folder."""

    def __init__(self, db: duckdb.DuckDBPyConnection, store: ObjectStore, folder: S3Uri,
                 view: View) -> None:
        self._db, self._store, self._folder, self._view = db, store, folder, view
        self._raw, self._fresh = f"{HELD}.{view.name}_compacted", f"{HELD}.{view.name}_fresh"
        self._deduped = f"{HELD}.{view.name}_deduped"
        self._rows = ""  # the compacted rows as a relation, once there are any
        self._held: dict[str, str] = {}  # s3:// URL -> ETag

    def body(self, fresh: str | None) -> str:
        """The view's SELECT over the copy and ``fresh`` (the SQL of the records no
        compaction has reached, with ``filename``; None while there are none)."""
        if self._sync():
            self._rows = self._compacted_rows()
            self._db.execute(f"CHECKPOINT {HELD}")  # compresses what was just written
        parts = [f"SELECT * FROM {self._rows}"] if self._held else []
        if fresh is not None:
            unheld = f" WHERE filename NOT IN (SELECT source FROM {self._raw})" \
                if self._held else ""
            self._db.execute(f"CREATE OR REPLACE TABLE {self._fresh} AS SELECT * EXCLUDE "
                             f"(filename) FROM ({fresh}){unheld}")
            parts.append(f"SELECT * FROM {self._fresh}")
        return " UNION ALL BY NAME ".join(parts) or self._view.empty_sql()

    def _compacted_rows(self) -> str:
        """Each source's rows once: as they are while no two files hold the same source
        (the usual case), from a deduplicated table during a merge's short overlap."""
        row = self._db.execute(f"SELECT count(*) > count(DISTINCT source) FROM {self._raw}"
                               ).fetchone()
        self._db.execute(f"DROP TABLE IF EXISTS {self._deduped}")
        if row and row[0]:
            self._db.execute(f"CREATE TABLE {self._deduped} AS "
                             f"{compacted_sql(self._view, None, self._raw)}")
            return self._deduped
        return f"(SELECT * EXCLUDE (source, filename) FROM {self._raw})"

    def _sync(self) -> bool:
        """Bring the raw copy in step with the folder; whether anything changed."""
        listed = {f"s3://{self._folder.bucket}/{key}": info.etag
                  for key, info in self._store.list_objects(self._folder)
                  if key.endswith(".parquet")}
        gone = [url for url, etag in self._held.items() if listed.get(url) != etag]
        new = [url for url, etag in listed.items() if self._held.get(url) != etag]
        if not (gone or new):
            return False
        if not listed:
            self._db.execute(f"DROP TABLE IF EXISTS {self._raw}")
        elif not self._held:
            self._copy(list(listed))
        else:
            self._update(gone, new, list(listed))
        self._held = listed
        return bool(listed)

    def _copy(self, urls: list[str]) -> None:
        """A few files at a time, compressing in between: the peak stays near the copy's
        own size rather than every file's decoded columns at once."""
        self._db.execute(f"DROP TABLE IF EXISTS {self._raw}")
        for start in range(0, len(urls), COPY_FILES):
            batch = typed_sql(self._view, packed_sql(self._view, urls[start:start + COPY_FILES]))
            self._db.execute(f"CREATE TABLE {self._raw} AS {batch}" if not start else
                             f"INSERT INTO {self._raw} BY NAME {batch}")
            self._db.execute(f"CHECKPOINT {HELD}")

    def _update(self, gone: list[str], new: list[str], every: list[str]) -> None:
        try:
            if gone:
                self._db.execute(f"DELETE FROM {self._raw} WHERE filename IN "
                                 f"({', '.join(_quoted(u) for u in gone)})")
            if new:
                self._db.execute(f"INSERT INTO {self._raw} BY NAME "
                                 f"{typed_sql(self._view, packed_sql(self._view, new))}")
        except duckdb.BinderException:  # a newer file with a column the copy lacks
            logger.info("compacted schema changed; copying %s again", self._view.name,
                        extra={"event": "local_copy_rebuilt", "view": self._view.name})
            self._copy(every)


def _quoted(url: str) -> str:
    return "'" + url.replace("'", "''") + "'"
