"""A job's statistics against its model's baseline: Model Monitor's checks, by name.

Distances are L-infinity, as Model Monitor computes them: for numbers, the largest gap
between the two cumulative distributions at the baseline's quantile cuts (the two-sample
Kolmogorov-Smirnov statistic, read at those cuts); for categories, the largest gap between
two values' frequencies. One measure for both kinds, bounded by 0 and 1, so one threshold
means the same on every feature, and ``constraints.json`` thresholds keep their meaning.
(PSI would need a floor for empty bins and has no natural bound.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from arq_batch.kernel import monitoring_settings as checks
from arq_batch.kernel.monitoring_settings import MonitoringSettings
from arq_batch.monitoring.baseline import Baseline, unseen_values
from arq_batch.monitoring.dataset import Statistics
from arq_batch.monitoring.stats import SCORE, Categorical, Numeric

KS_CRITICAL = 1.949  # c(alpha) of the two-sample KS test at alpha = 0.001
Z_COMPLETENESS = 3.0  # a job's completeness may sit this many standard errors low


@dataclass(frozen=True)
class Violation:
    """One entry of constraint_violations.json."""

    feature_name: str
    constraint_check_type: str
    description: str


@dataclass(frozen=True)
class Findings:
    """The violations, and per feature its distance and out-of-baseline fraction."""

    violations: tuple[Violation, ...] = ()
    distances: Mapping[str, float] = field(default_factory=dict)
    outside: Mapping[str, float] = field(default_factory=dict)  # out of range / unseen

    @property
    def worst(self) -> tuple[str, float] | None:
        """The feature furthest from its baseline, and how far."""
        if not self.distances:
            return None
        name = max(self.distances, key=lambda n: self.distances[n])
        return name, self.distances[name]

    def of_type(self, kinds: tuple[str, ...]) -> list[Violation]:
        """The violations of these check types."""
        return [v for v in self.violations if v.constraint_check_type in kinds]

    def to_json(self) -> dict[str, Any]:
        """constraint_violations.json's body."""
        return {"violations": [asdict(v) for v in self.violations]}


def check(job: Statistics, baseline: Baseline, config: MonitoringSettings,
          ignore: tuple[str, ...] = ()) -> Findings:
    """Every check on every feature; ``ignore`` names input columns that are not extra
    (the target, the prediction columns)."""
    found: list[Violation] = []
    distances, outside = {}, {}
    ref = baseline.reference
    for name, numbers in [*job.numeric.items(), *([(SCORE, job.score)] if job.score else [])]:
        base = ref.score if name == SCORE else ref.numeric[name]
        assert base is not None
        distances[name] = _cdf_distance(base, numbers)
        outside[name] = (numbers.below + numbers.above) / max(numbers.present, 1)
        found += _numeric(name, numbers, base, distances[name], job.rows, baseline, config)
    for name, values in job.categorical.items():
        distances[name] = _frequency_distance(ref.categorical[name], values)
        outside[name] = values.unseen / max(values.present, 1)
        found += _categorical(name, values, ref.categorical[name], distances[name], job.rows,
                              baseline, config)
    known = {*job.numeric, *job.categorical, *ignore}
    found += [Violation(c, checks.EXTRA_COLUMN, f"Extra column {c!r} is not in the baseline")
              for c in sorted(job.columns - known)]
    return Findings(tuple(found), distances, outside)


def _numeric(name: str, numbers: Numeric, base: Numeric, distance: float, rows: int,
             baseline: Baseline, config: MonitoringSettings) -> list[Violation]:
    rule = baseline.constraints.get(name, {})
    found = _completeness(name, numbers.present, rows, rule)
    if rule.get("inferred_type") == "Integral" and numbers.present:
        share = (numbers.non_integral or 0) / numbers.present
        if share > config.datatype_check_threshold:
            found.append(Violation(name, checks.DATA_TYPE, (
                f"Data type match requirement is not met. Expected data type: Integral, "
                f"Expected match: {1 - config.datatype_check_threshold:.2%}. Observed: only "
                f"{1 - share:.2%} of data is Integral.")))
    limit = _limit(config.comparison_threshold, base.present, numbers.present, config)
    if numbers.present and distance > limit:
        found.append(_drift(name, distance, limit))
    return found


def _categorical(name: str, values: Categorical, base: Categorical, distance: float,
                 rows: int, baseline: Baseline, config: MonitoringSettings) -> list[Violation]:
    found = _completeness(name, values.present, rows, baseline.constraints.get(name, {}))
    share = values.unseen / max(values.present, 1)
    if share > config.domain_content_threshold:
        found.append(Violation(name, checks.CATEGORICAL_VALUES, (
            f"Data does not meet the domain content requirement: {share:.2%} of values are "
            f"outside the baseline's domain (allowed: {config.domain_content_threshold:.2%}), "
            f"e.g. {', '.join(map(repr, unseen_values(values)))}")))
    limit = _limit(config.categorical_comparison_threshold, base.present, values.present,
                   config)
    if values.present and distance > limit:
        found.append(_drift(name, distance, limit))
    return found


def _completeness(name: str, present: int, rows: int,
                  rule: Mapping[str, Any]) -> list[Violation]:
    """Below the baseline's completeness by more than sampling explains (for a column
    with no missing values in training: any missing value)."""
    expected = float(rule.get("completeness", 0.0))
    if not rows:
        return []
    observed = present / rows
    allowance = Z_COMPLETENESS * math.sqrt(expected * (1 - expected) / rows)
    if observed >= expected - allowance - 1e-12:
        return []
    return [Violation(name, checks.COMPLETENESS, (
        f"Data completeness requirement is not met. Expected completeness: {expected:.4f}, "
        f"observed: {observed:.4f}"))]


def _limit(threshold: float, n: int, m: int, config: MonitoringSettings) -> float:
    """Robust: no lower than the distance two samples of these sizes reach by chance."""
    if config.comparison_method == "Simple" or not n or not m:
        return threshold
    return max(threshold, KS_CRITICAL * math.sqrt((n + m) / (n * m)))


def _drift(name: str, distance: float, limit: float) -> Violation:
    return Violation(name, checks.DRIFT, (
        f"Baseline drift distance: {distance:.4f} exceeds threshold: {limit:.4f}"))


def _cdf_distance(base: Numeric, job: Numeric) -> float:
    if not base.present or not job.present:
        return 0.0
    gap = np.cumsum(base.counts) / base.present - np.cumsum(job.counts) / job.present
    return float(np.abs(gap).max())


def _frequency_distance(base: Categorical, job: Categorical) -> float:
    if not base.present or not job.present:
        return 0.0
    values = set(base.counts) | set(job.counts)
    return max(abs(base.counts.get(v, 0) / base.present - job.counts.get(v, 0) / job.present)
               for v in values)
