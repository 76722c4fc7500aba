"""Monitoring in the scoring pass: a tap that describes the input as it streams by, then
checks it against the baseline and writes the job's Model Monitor files.

The files are committed with the job, like its predictions: before the output, removed
again if the output fails, so a job leaves its output and its monitoring or neither.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Protocol

from arq_batch.core.errors import DataError
from arq_batch.core.monitoring.baseline import Baseline
from arq_batch.core.monitoring.checks import Findings, Violation, check
from arq_batch.core.monitoring.config import MISSING_COLUMN, MonitoringSettings
from arq_batch.core.monitoring.dataset import Statistics
from arq_batch.core.ports import ObjectStore
from arq_batch.core.scoring import MissingColumns, ScoredBatch
from arq_batch.core.uris import S3Uri

STATISTICS, VIOLATIONS = "statistics.json", "constraint_violations.json"


class ConstraintViolations(DataError):
    """The input broke constraints that ``monitoring.fail_on`` makes fatal."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = tuple(violations)
        kinds = sorted({v.constraint_check_type for v in violations})
        names = sorted({v.feature_name for v in violations})
        super().__init__(f"the input violates its model's constraints ({', '.join(kinds)}) "
                         f"in {', '.join(names)}; monitoring.fail_on makes that an error")


class Folder(Protocol):
    """Where one dataset's Model Monitor files go: an S3 folder, or beside a local output."""

    def put(self, name: str, data: bytes) -> None: ...
    def delete(self, name: str) -> None: ...


@dataclass(frozen=True)
class StoreFolder:
    """A folder in the object store."""

    store: ObjectStore
    uri: S3Uri

    def put(self, name: str, data: bytes) -> None:
        self.store.put_bytes(self.uri.child(name), data, {"content-type": "application/json"})

    def delete(self, name: str) -> None:
        self.store.delete(self.uri.child(name))


class MonitorTap:
    """Statistics of every scored batch, then the checks and the two files.

    ``about`` (job id, input, run id) heads constraint_violations.json, so the files name
    their job on their own; ``ignore`` are input columns that are not extra ones. A part
    of a split job (``final=False``) writes its statistics alone, for the assembly to
    merge and check.
    """

    columns: tuple[str, ...] = ()

    def __init__(self, folder: Folder, baseline: Baseline, config: MonitoringSettings,
                 about: Mapping[str, str], ignore: tuple[str, ...] = (),
                 final: bool = True) -> None:
        self._folder, self._baseline, self._config = folder, baseline, config
        self._about, self._ignore, self._final = dict(about), ignore, final
        self.statistics = baseline.fresh()
        self.findings: Findings | None = None
        self._undo: Callable[[], None] = lambda: None

    def write(self, scored: ScoredBatch) -> None:
        """Count one batch's features and scores."""
        self.statistics.observe(scored.inputs, scored.scores)

    def close(self) -> None:
        """Check, then commit statistics.json and constraint_violations.json."""
        self.statistics.flush()
        if not self._final:
            self._undo = publish(self._folder, self.statistics)
            return
        self.findings = checked(self.statistics, self._baseline, self._config, self._ignore)
        self._undo = publish(self._folder, self.statistics,
                             self._about | self.findings.to_json())

    def abort(self) -> None:
        """Remove whatever was committed (the output failed after this tap closed)."""
        self._undo()


def checked(statistics: Statistics, baseline: Baseline, config: MonitoringSettings,
            ignore: tuple[str, ...]) -> Findings:
    """The checks; ConstraintViolations if any is of a type ``monitoring.fail_on`` names."""
    findings = check(statistics, baseline, config, ignore)
    fatal = findings.of_type(config.fail_on)
    if fatal:
        raise ConstraintViolations(fatal)
    return findings


def publish(folder: Folder, statistics: Statistics,
            violations: Mapping[str, object] | None = None) -> Callable[[], None]:
    """Write statistics.json, then (checked jobs) constraint_violations.json; returns how
    to remove them again, should the job fail after all."""
    written = []
    for name, data in ((STATISTICS, statistics.to_bytes()),
                       (VIOLATIONS, json.dumps(violations).encode() if violations else None)):
        if data is not None:
            folder.put(name, data)
            written.append(name)

    def undo() -> None:
        for name in written:  # best effort: a later run overwrites them anyway
            with contextlib.suppress(Exception):
                folder.delete(name)
    return undo


def violations_of(error: Exception) -> list[dict[str, str]]:
    """The constraint violations a failed job's error report lists: those ``fail_on``
    made fatal, or the missing columns that stopped the model from scoring at all."""
    if isinstance(error, ConstraintViolations):
        return [asdict(v) for v in error.violations]
    if isinstance(error, MissingColumns):
        return [asdict(Violation(name, MISSING_COLUMN, f"Missing column {name!r}, which the "
                                                       "model needs"))
                for name in error.names]
    return []
