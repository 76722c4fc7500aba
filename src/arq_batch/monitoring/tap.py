"""Monitoring in the scoring pass: a tap that describes the input as it streams by, then
checks it against the baseline and writes the job's Model Monitor files.

The files are committed with the job, like its predictions: before the output, removed
again if the output fails, so a job leaves its output and its monitoring or neither.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from arq_batch.engine.scoring import MissingColumns, ScoredBatch
from arq_batch.kernel.errors import DataError
from arq_batch.kernel.monitoring_settings import MISSING_COLUMN, MonitoringSettings
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.uris import S3Uri
from arq_batch.monitoring.baseline import Baseline
from arq_batch.monitoring.checks import Findings, Violation, check
from arq_batch.monitoring.dataset import Statistics
from arq_batch.monitoring.stats import CUSTOM

STATISTICS, VIOLATIONS = "statistics.json", "constraint_violations.json"
logger = logging.getLogger(__name__)


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
    merge and check. Monitoring never fails a job by itself: should counting or checking
    fail, the tap logs why and the job goes on without its files (``fail_on`` aside).
    """

    columns: tuple[str, ...] = ()

    def __init__(self, folder: Folder, baseline: Baseline, config: MonitoringSettings,
                 about: Mapping[str, str], ignore: tuple[str, ...] = (),
                 final: bool = True) -> None:
        self._folder, self._baseline, self._config = folder, baseline, config
        self._about, self._ignore, self._final = dict(about), ignore, final
        self.statistics: Statistics | None = baseline.fresh()  # None: gave up
        self.findings: Findings | None = None
        self._undo: Callable[[], None] = lambda: None

    def write(self, scored: ScoredBatch) -> None:
        """Count one batch's features and scores."""
        if self.statistics is not None:
            with self._guard():
                self.statistics.observe(scored.inputs, scored.scores)

    def close(self) -> None:
        """Check, then commit statistics.json and constraint_violations.json."""
        with self._guard():
            if self.statistics is not None:
                self.statistics.flush()
                if self._final:
                    self.findings = check(self.statistics, self._baseline, self._config,
                                          self._ignore)
        if self.statistics is None:
            return
        if self.findings is not None:
            fail_on(self.findings, self._config)
        self._undo = publish(self._folder, self.statistics, self._about, self.findings)

    def abort(self) -> None:
        """Remove whatever was committed (the output failed after this tap closed)."""
        self._undo()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # a fault of monitoring's own, never of the input
            logger.exception("monitoring gave up on job %s: %s", self._about.get("job_id"),
                             exc, extra={"event": "monitoring_error", **self._about})
            self.statistics = self.findings = None


def fail_on(findings: Findings, config: MonitoringSettings) -> None:
    """ConstraintViolations if any violation is of a type ``monitoring.fail_on`` names."""
    fatal = findings.of_type(config.fail_on)
    if fatal:
        raise ConstraintViolations(fatal)


def publish(folder: Folder, statistics: Statistics, about: Mapping[str, str],
            findings: Findings | None) -> Callable[[], None]:
    """Write statistics.json, then (checked jobs) constraint_violations.json; returns how
    to remove them again, should the job fail after all."""
    files = {STATISTICS: json.dumps(_described(statistics, findings)).encode()}
    if findings is not None:
        files[VIOLATIONS] = json.dumps(dict(about) | findings.to_json()).encode()
    written = []
    for name, data in files.items():
        folder.put(name, data)
        written.append(name)

    def undo() -> None:
        for name in written:  # best effort: a later run overwrites them anyway
            with contextlib.suppress(Exception):
                folder.delete(name)
    return undo


def _described(statistics: Statistics, findings: Findings | None) -> dict[str, Any]:
    """statistics.json, each feature of a checked job with its distance from the baseline
    and the share of its values out of the baseline's range (numbers) or domain."""
    data = statistics.to_json()
    if findings is None:
        return data
    for feature in data["features"]:
        name = feature["name"]
        outside = ("out_of_range_fraction" if "numerical_statistics" in feature
                   else "unseen_fraction")
        feature[CUSTOM] |= {"distance": round(findings.distances.get(name, 0.0), 6),
                            outside: round(findings.outside.get(name, 0.0), 6)}
    return data


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
