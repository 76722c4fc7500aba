"""Statistics of one dataset, gathered batch by batch, as Model Monitor's statistics.json.

Numbers: present and missing counts, sum, mean and spread (Chan's merge), min, max, how
many are not whole numbers, and counts in fixed bins cut at the baseline's quantiles, so
two datasets compare bin by bin and the parts of a split job merge by adding. Categories:
value counts, pruned to the most frequent when a column holds far more values than any
domain does. The model's score is described as one more numeric feature, ``score``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SCORE = "score"
CUSTOM = "arq_batch"  # our figures beside Model Monitor's (its schema provisions custom stats)
SHOWN_VALUES = 1000  # categorical buckets written per feature, the most frequent first
_PRUNE_AT = 20 * SHOWN_VALUES


@dataclass
class Numeric:
    """One numeric column; ``bounds`` are the baseline's min and max (out-of-range counts)."""

    cuts: np.ndarray
    bounds: tuple[float, float] = (-math.inf, math.inf)
    present: int = 0
    missing: int = 0
    total: float = 0.0
    mean: float = 0.0
    m2: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    # Values that are not whole numbers; None: not counted (a job's column whose baseline
    # is Fractional already, where no count could fail a check: 40% of the time, measured)
    non_integral: int | None = 0
    below: int = 0
    above: int = 0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.cuts) + 1:
            self.counts = np.zeros(len(self.cuts) + 1, dtype=np.int64)

    def add(self, values: np.ndarray, work: np.ndarray | None = None) -> None:
        """Count a batch of values (NaN: missing). Contiguous values are fastest, and
        ``work`` (as long as ``values``) saves allocating the one working array."""
        with np.errstate(invalid="ignore"):  # inf - inf is NaN, as it should be
            total = float(values.sum())
            present = ~np.isnan(values) if math.isnan(total) else None  # None: all are
            n = len(values) if present is None else int(np.count_nonzero(present))
            self.missing += len(values) - n
            if not n:
                return
            if present is not None:
                total = float(np.sum(values, where=present))
            low, high = float(np.fmin.reduce(values)), float(np.fmax.reduce(values))
            self._count(values, present, n, work, (low, high))
            # The batch's spread around its own mean (two passes, no precision lost to
            # values far from zero), squared in place: ``@`` would spin up BLAS's threads,
            # which took a second core's worth of CPU from the job.
            deviations = np.subtract(values, total / n, out=work)
            m2 = float(np.sum(np.square(deviations, out=deviations), where=present
                              if present is not None else True))
        self._combine(n, total, total / n, m2, low, high)

    def _count(self, values: np.ndarray, present: np.ndarray | None, n: int,
               work: np.ndarray | None, extremes: tuple[float, float]) -> None:
        """Non-whole numbers, out-of-range values and bins (comparisons are False for NaN)."""
        if self.non_integral is not None:
            other = values != np.floor(values, out=work)
            if present is not None:
                other &= present
            self.non_integral += int(np.count_nonzero(other))
        if extremes[0] < self.bounds[0]:
            self.below += int(np.count_nonzero(values < self.bounds[0]))
        if extremes[1] > self.bounds[1]:
            self.above += int(np.count_nonzero(values > self.bounds[1]))
        self.counts += _bin_counts(values, self.cuts, n)

    def merge(self, other: Numeric) -> None:
        """Add another dataset's figures for the same column and bins."""
        self.missing += other.missing
        if not other.present:
            return
        self.non_integral = (None if self.non_integral is None or other.non_integral is None
                             else self.non_integral + other.non_integral)
        self.below, self.above = self.below + other.below, self.above + other.above
        self.counts = self.counts + other.counts
        self._combine(other.present, other.total, other.mean, other.m2, other.low, other.high)

    def _combine(self, n: int, total: float, mean: float, m2: float, low: float,
                 high: float) -> None:
        """Chan's merge of count, mean and M2, and the sum and extremes beside them."""
        count = self.present + n
        delta = mean - self.mean
        self.mean += delta * n / count
        self.m2 += m2 + delta * delta * self.present * n / count
        self.present, self.total = count, self.total + total
        self.low, self.high = min(self.low, low), max(self.high, high)

    @property
    def inferred_type(self) -> str:
        """Model Monitor's name for what the present values are."""
        if not self.present:
            return "Unknown"
        return "Integral" if self.non_integral == 0 else "Fractional"

    def to_json(self, name: str) -> dict[str, Any]:
        """The feature's entry in statistics.json."""
        seen = self.present > 0
        return {"name": name, "inferred_type": self.inferred_type, "numerical_statistics": {
            "common": {"num_present": self.present, "num_missing": self.missing},
            "mean": _json(self.mean), "sum": _json(self.total),
            "std_dev": _json(math.sqrt(self.m2 / self.present)) if seen else 0.0,
            "min": _json(self.low) if seen else 0.0, "max": _json(self.high) if seen else 0.0,
            "distribution": {"kll": {"buckets": self._buckets()}}},
            CUSTOM: {"non_integral": self.non_integral, "below_baseline_min": self.below,
                     "above_baseline_max": self.above}}  # non_integral null: not counted

    def _buckets(self) -> list[dict[str, float | None]]:
        """One bucket per bin; the outer bins reach to this dataset's min and max."""
        inner = [float(c) for c in self.cuts]
        first = min([self.low, *inner[:1]]) if self.present else (inner or [0.0])[0]
        last = max([self.high, *inner[-1:]]) if self.present else (inner or [0.0])[-1]
        edges = [first, *inner, last]
        return [{"lower_bound": _json(lo), "upper_bound": _json(hi), "count": int(c)}
                for lo, hi, c in zip(edges[:-1], edges[1:], self.counts, strict=True)]

    @classmethod
    def from_json(cls, entry: Mapping[str, Any],
                  bounds: tuple[float, float] = (-math.inf, math.inf)) -> Numeric:
        """A feature entry of statistics.json back into figures (to merge or compare)."""
        stats, custom = entry["numerical_statistics"], entry.get(CUSTOM, {})
        buckets = stats["distribution"]["kll"]["buckets"]
        present = int(stats["common"]["num_present"])
        return cls(np.array([float(b["upper_bound"]) for b in buckets[:-1]]), bounds,
                   present, int(stats["common"]["num_missing"]), _float(stats["sum"]),
                   _float(stats["mean"]), _float(stats["std_dev"]) ** 2 * present,
                   _float(stats["min"]) if present else math.inf,
                   _float(stats["max"]) if present else -math.inf,
                   _count(custom.get("non_integral", 0)), int(custom.get("below_baseline_min", 0)),
                   int(custom.get("above_baseline_max", 0)),
                   np.array([int(b["count"]) for b in buckets], dtype=np.int64))


def _json(value: float) -> float | None:
    """A figure as strict JSON has it: an infinite input value makes sums and moments
    infinite or NaN, which JSON cannot hold, so they are written as null."""
    return value if math.isfinite(value) else None


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


def _bin_counts(values: np.ndarray, cuts: np.ndarray, present: int) -> np.ndarray:
    """Values per bin, bin ``j`` holding those with ``j`` cuts at or below them (NaN in
    none: ``present`` counts the others).

    One comparison pass per cut: with ten bins, 13x faster than ``searchsorted`` and
    ``bincount`` (measured: 0.015 s against 0.20 s per million values)."""
    below = [np.count_nonzero(values < cut) for cut in cuts]
    return np.diff(np.array([0, *below, present], dtype=np.int64))


@dataclass
class Categorical:
    """One text column; ``domain`` is the baseline's (values outside it are unseen)."""

    domain: pa.Array | None = None
    present: int = 0
    missing: int = 0
    unseen: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, text: pa.Array | pa.ChunkedArray) -> None:
        """Count a batch of values (null: missing)."""
        self.missing += text.null_count
        self.present += len(text) - text.null_count
        if self.domain is not None:
            known = pc.is_in(text, value_set=self.domain)
            self.unseen += len(text) - text.null_count - (pc.sum(known).as_py() or 0)
        found = pc.value_counts(text)  # nulls too, as one entry: cheaper than dropping them
        self._count((value, count) for value, count in zip(
            found.field("values").to_pylist(), found.field("counts").to_pylist(), strict=True)
            if value is not None)

    def merge(self, other: Categorical) -> None:
        """Add another dataset's figures for the same column."""
        self.present, self.missing = self.present + other.present, self.missing + other.missing
        self.unseen += other.unseen
        self._count(other.counts.items())

    def _count(self, items: Iterable[tuple[str, int]]) -> None:
        for value, count in items:
            self.counts[value] += count
        if len(self.counts) > _PRUNE_AT:  # bounded memory; the frequent values survive
            kept = self.counts.most_common(_PRUNE_AT // 2)
            self.counts = Counter(dict(kept))

    def to_json(self, name: str) -> dict[str, Any]:
        """The feature's entry in statistics.json."""
        buckets = [{"value": v, "count": c} for v, c in self.counts.most_common(SHOWN_VALUES)]
        return {"name": name, "inferred_type": "String", "string_statistics": {
            "common": {"num_present": self.present, "num_missing": self.missing},
            "distinct_count": len(self.counts),
            "distribution": {"categorical": {"buckets": buckets}}},
            CUSTOM: {"unseen": self.unseen}}

    @classmethod
    def from_json(cls, entry: Mapping[str, Any], domain: pa.Array | None = None) -> Categorical:
        """A feature entry of statistics.json back into figures."""
        stats = entry["string_statistics"]
        buckets = stats["distribution"]["categorical"]["buckets"]
        return cls(domain, int(stats["common"]["num_present"]),
                   int(stats["common"]["num_missing"]), int(entry.get(CUSTOM, {}).get("unseen", 0)),
                   Counter({str(b["value"]): int(b["count"]) for b in buckets}))
