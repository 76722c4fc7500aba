"""DuckDB over the bucket: one connection with httpfs, S3 access as boto3 has it, views.

The httpfs extension comes from the PyPI package ``duckdb-extension-httpfs`` (pinned to
DuckDB's own version) and is loaded from its file, so nothing is downloaded at run time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb

from arq_batch.aws.clients import S3Connection
from arq_batch.engine.datasets import compacted_prefix, datasets
from arq_batch.kernel.errors import ArqError, ConfigError
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.query.fresh import FETCHED, HeldRows
from arq_batch.query.local_copy import LocalCopy, hold
from arq_batch.query.views import (
    COMPACTED,
    View,
    compacted_sql,
    fetched_sql,
    fresh_sql,
    packed_sql,
    quote,
    source_sql,
    views,
)

logger = logging.getLogger(__name__)


class QueryError(ArqError):
    """SQL that DuckDB refused (bad syntax, a missing table or column)."""

    kind = "query_error"


@dataclass(frozen=True)
class QueryResult:
    """Column names and rows, in order."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        """Rows as ``{column: value}``."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class Runner(Protocol):
    """What runs trusted statements: the engine itself, or the console's shared one."""

    def run(self, sql: str, params: dict[str, Any] | None = None) -> QueryResult: ...


class QueryEngine:
    """Runs SQL over the bucket; views are created for the names a statement mentions."""

    def __init__(self, settings: Settings, connection: S3Connection, store: ObjectStore,
                 keep_local: frozenset[str] = frozenset()) -> None:
        """``keep_local``: compacted views to copy into memory (``query.local_copy``), for
        a reader that lives long enough to repay the copy."""
        self._settings, self._store = settings, store
        self._views = views(settings)
        self._db = duckdb.connect()
        self._db.execute(f"LOAD '{_httpfs_path()}'")
        self._db.execute(_secret_sql(connection))
        self._db.execute("SET TimeZone = 'UTC'")  # dates of the dt= partitions are UTC days
        self._created: set[str] = set()
        if keep_local:
            hold(self._db)
        self._local = {name: LocalCopy(self._db, store, S3Uri(settings.bucket, compacted_prefix(
            settings.prefixes, name)), self._views[name]) for name in keep_local}
        self._known = {name: HeldRows() for name in keep_local}

    @property
    def view_names(self) -> frozenset[str]:
        """The views a statement may name."""
        return frozenset(self._views)

    def run(self, sql: str, params: dict[str, Any] | None = None,
            max_rows: int | None = None) -> QueryResult:
        """Execute one statement, keeping at most ``max_rows`` rows; QueryError with
        DuckDB's first line if it fails."""
        for name in self._mentioned(sql):
            self._create(self._views[name])
        try:
            cursor = self._db.execute(sql, params)
            if cursor is None:  # nothing but white space or comments
                raise QueryError("no SQL statement to run")
            rows = [] if not cursor.description else (
                cursor.fetchall() if max_rows is None else cursor.fetchmany(max_rows))
        except duckdb.Error as exc:
            raise QueryError(str(exc).strip().splitlines()[0]) from exc
        return QueryResult([d[0] for d in cursor.description or ()], rows)

    def refresh(self) -> None:
        """Forget the views made so far: the next statement sees records written since
        (a long-lived reader, such as the console, calls this every few seconds)."""
        self._created.clear()

    def interrupt(self) -> None:
        """Stop the statement running now (from another thread): it fails with QueryError."""
        self._db.interrupt()

    def lock_down(self) -> None:
        """No local files, and no setting changed from now on: for SQL from people."""
        self._db.execute("SET disabled_filesystems = 'LocalFileSystem'")
        self._db.execute("SET lock_configuration = true")

    def _mentioned(self, sql: str) -> list[str]:
        words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
        return [name for name in self._views if name in words and name not in self._created]

    def _create(self, view: View) -> None:
        if view.name in self._local:
            body = self._local[view.name].body(self._fresh(view))
        elif view.name not in COMPACTED:
            urls = self._sources(view)
            body = source_sql(view, urls) if urls else view.empty_sql()
        else:
            fresh, compacted = self._fresh(view), self._compacted(view)
            body = (compacted_sql(view, fresh, compacted) if compacted is not None
                    else f"SELECT * EXCLUDE (filename) FROM ({fresh})" if fresh
                    else view.empty_sql())
        self._db.execute(f"CREATE OR REPLACE VIEW {view.name} AS {body}")
        self._created.add(view.name)

    def _sources(self, view: View) -> list[str]:
        """One glob per suffix that has at least one file under the view's prefix."""
        if view.user_keys:
            return self._literal_sources(view)
        bucket = self._settings.bucket
        found: set[str] = set()
        for key in self._store.list_keys(S3Uri(bucket, view.prefix)):
            found.update(s for s in view.suffixes if key.endswith(s))
            if len(found) == len(view.suffixes):
                break
        pattern = {"jobs": "*/*", "predictions": "*/*/*", "violations": "*/*/"}.get(
            view.name, "**/*")
        return [f"s3://{bucket}/{view.prefix}{pattern}{s}" for s in view.suffixes if s in found]


    def _fresh(self, view: View) -> str | None:
        """SQL for the view's small objects not yet compacted (with ``filename``)."""
        if view.name not in FETCHED:
            urls = self._sources(view)
            return fresh_sql(view, "[" + ", ".join(quote(u) for u in urls) + "]") if urls \
                else None
        dataset = datasets(self._settings.prefixes)[view.name]
        table = (self._known[view.name] if view.name in self._known else HeldRows()).table(
            self._store, self._settings.bucket, dataset)
        if table is None:
            return None
        self._db.register(f"{view.name}_fresh", table)
        sql: str = fetched_sql(view, f"{view.name}_fresh")
        return sql

    def _compacted(self, view: View) -> str | None:
        """The view's compacted rows as a relation: its local copy, or one glob over its
        files (None while there are none)."""
        folder = compacted_prefix(self._settings.prefixes, view.name)
        keys = self._store.list_keys(S3Uri(self._settings.bucket, folder))
        if not any(k.endswith(".parquet") for k in keys):
            return None
        depth = "*/*/" if view.name == "predictions" else "*/"
        return packed_sql(view, [f"s3://{self._settings.bucket}/{folder}{depth}*.parquet"])

    def _literal_sources(self, view: View) -> list[str]:
        """Keys named after inputs are data: any character may be in them. While every key
        is one DuckDB reads literally, one glob per suffix, as above; otherwise the keys
        it can read, listed one by one, and a warning naming what was skipped."""
        bucket = self._settings.bucket
        keys = [k for k in self._store.list_keys(S3Uri(bucket, view.prefix))
                if k.endswith(view.suffixes)]
        unreadable = [k for k in keys if not _literal(k)]
        if not unreadable:
            return [f"s3://{bucket}/{view.prefix}**/*{s}" for s in view.suffixes
                    if any(k.endswith(s) for k in keys)]
        logger.warning("view %s skips %d object(s) whose keys the SQL engine cannot read "
                       "literally, e.g. %r", view.name, len(unreadable), unreadable[0],
                       extra={"event": "unreadable_keys_skipped", "view": view.name,
                              "keys": unreadable[:20]})
        return [f"s3://{bucket}/{k}" for k in keys if _literal(k)]


def _literal(key: str) -> bool:
    """Whether DuckDB's S3 reader reads ``key`` as it is: it takes ``?`` for a query
    string, glob characters as patterns, and resolves ``.``/``..`` segments (measured)."""
    segments = key.split("/")
    return not (set(key) & _GLOB_CHARACTERS or "." in segments or ".." in segments)


_GLOB_CHARACTERS = frozenset("?*[]{}")


def _secret_sql(c: S3Connection) -> str:
    options = {"KEY_ID": c.key_id, "SECRET": c.secret, "SESSION_TOKEN": c.session_token,
               "REGION": c.region}
    parts = [f"{k} {quote(v)}" for k, v in options.items() if v]
    if c.endpoint:  # an emulator or another S3-compatible store
        parts += [f"ENDPOINT {quote(c.endpoint)}", f"URL_STYLE {quote(c.url_style)}",
                  f"USE_SSL {'true' if c.use_ssl else 'false'}"]
    return f"CREATE OR REPLACE SECRET arq_batch (TYPE s3, {', '.join(parts)})"


def _httpfs_path() -> Path:
    try:
        import duckdb_extension_httpfs
    except ModuleNotFoundError as exc:
        raise ConfigError("query needs the DuckDB httpfs extension: "
                          "pip install 'arq-batch[query]'") from exc
    version = duckdb.__version__
    path = Path(duckdb_extension_httpfs.__file__).parent / "extensions" / f"v{version}"
    found = sorted(path.glob("httpfs.duckdb_extension"))
    if not found:
        raise ConfigError(f"duckdb-extension-httpfs does not match duckdb {version}; "
                          "install the same version of both")
    return found[0]
