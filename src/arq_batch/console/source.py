"""Where the pages read from: one query engine for the process, kept fresh, used by one
request at a time, with the query page's time and row limits.

The engine lives as long as the console, so DuckDB's extension, secret and the
compacted files' metadata are loaded once; its views are rebuilt at most every
``console.refresh_seconds`` so records written since show up. A DuckDB connection is not
for two threads at once, hence the lock; pages hold it only for their statements.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from arq_batch.kernel.console_settings import ConsoleSettings
from arq_batch.kernel.errors import ArqError
from arq_batch.query.engine import QueryEngine, QueryError, QueryResult
from arq_batch.query.readonly import check_read_only

logger = logging.getLogger(__name__)


class Source:
    """SQL over the bucket for pages (trusted statements) and people (checked ones)."""

    def __init__(self, make_engine: Callable[[], QueryEngine], settings: ConsoleSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._make, self._settings, self._clock = make_engine, settings, clock
        self._engine: QueryEngine | None = None
        self._fresh_at = float("-inf")
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Make the engine and its views now (at start-up, off the request path), so the
        first page does not wait for the first copy of the compacted records."""
        try:
            for view in ("jobs", "violations"):
                self.run(f"SELECT count(*) FROM {view}")
        except ArqError:
            logger.exception("warming the console's query engine failed",
                             extra={"event": "console_warm_failed"})

    def view_names(self) -> frozenset[str]:
        """The views a statement may name."""
        with self._lock:
            return self._current().view_names

    def run(self, sql: str, params: dict[str, Any] | None = None) -> QueryResult:
        """One of the console's own statements."""
        with self._lock:
            return self._current().run(sql, params)

    def run_people(self, sql: str) -> tuple[QueryResult, bool]:
        """A statement typed by a person: checked read-only, stopped after the time limit,
        cut at the row limit; returns the rows and whether more were left out."""
        limit = self._settings.query_max_rows
        with self._lock:
            engine = self._current()
            check_read_only(sql, engine.view_names)
            timer = threading.Timer(self._settings.query_timeout_seconds, engine.interrupt)
            timer.start()
            try:
                result = engine.run(sql, max_rows=limit + 1)
            except QueryError as exc:
                if "interrupt" in str(exc).lower():
                    raise QueryError(f"stopped after {self._settings.query_timeout_seconds:g} s "
                                     "(console.query_timeout_seconds)") from exc
                raise
            finally:
                timer.cancel()
        return QueryResult(result.columns, result.rows[:limit]), len(result.rows) > limit

    def _current(self) -> QueryEngine:
        if self._engine is None:
            self._engine = self._make()
            self._engine.lock_down()
            self._fresh_at = self._clock()
        elif self._clock() - self._fresh_at >= self._settings.refresh_seconds:
            self._engine.refresh()
            self._fresh_at = self._clock()
        return self._engine
