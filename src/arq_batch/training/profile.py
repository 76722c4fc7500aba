"""The first streaming pass: what preprocessing needs, gathered in bounded memory.

Per numeric column the exact count, mean and sum of squared deviations (Chan's parallel
merge); per text column its value counts, pruned to the most frequent when a column has
far more distinct values than the vocabulary keeps; and a uniform sample of rows
(bottom-k by a random key, ``training.held_rows`` of them) from which the medians used
for imputation are taken.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_CATEGORIES = 1000  # per column; rarer values share the all-zeros "other" encoding
TARGET_VALUES = 100  # a target with more distinct values than this is a regressor's
_PRUNE_AT = 20 * MAX_CATEGORIES


@dataclass
class Moments:
    """Count, mean and M2 of the non-null values of one column."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: np.ndarray) -> None:
        """Merge a batch's values (NaN = missing)."""
        values = values[~np.isnan(values)]
        if not len(values):
            return
        n, mean = len(values), float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total

    def with_fill(self, rows: int, fill: float) -> tuple[float, float]:
        """Mean and variance over all rows once missing values are imputed with ``fill``."""
        missing = rows - self.count
        mean = (self.count * self.mean + missing * fill) / max(rows, 1)
        m2 = (self.m2 + self.count * (self.mean - mean) ** 2 + missing * (fill - mean) ** 2)
        return mean, m2 / max(rows, 1)


@dataclass
class Profile:
    """Everything the first pass learnt about the data."""

    rows: int = 0
    numeric: dict[str, Moments] = field(default_factory=dict)
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    target: Counter[object] = field(default_factory=Counter)  # up to TARGET_VALUES + 1
    sample: pa.Table | None = None
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def vocabulary(self, name: str) -> list[str]:
        """The column's most frequent values (up to MAX_CATEGORIES), sorted as OneHotEncoder
        sorts them."""
        common = self.counts[name].most_common(MAX_CATEGORIES)
        return sorted(value for value, _ in common)

    def mode(self, name: str) -> str:
        """The most frequent value (ties: the smallest, as SimpleImputer picks)."""
        counts = self.counts[name]
        top = max(counts.values())
        return min(value for value, count in counts.items() if count == top)


def profile(batches: Iterable[pa.RecordBatch], target: str, seed: int,
            sample_rows: int) -> Profile:
    """One pass over the batches (rows without a target are skipped)."""
    result, rng = Profile(), np.random.default_rng(seed)
    for batch in batches:
        batch = batch.filter(pc.is_valid(batch.column(target)))
        result.rows += batch.num_rows
        if len(result.target) <= TARGET_VALUES:
            _count(result.target, batch.column(target))
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if pa.types.is_floating(column.type):
                values = column.to_numpy(zero_copy_only=False)
                result.numeric.setdefault(name, Moments()).add(values.astype(np.float64))
            elif name != target:
                _count(result.counts.setdefault(name, Counter()), column)
        _sample(result, pa.Table.from_batches([batch]), rng, sample_rows)
    return result


def _count(counter: Counter[Any], column: pa.Array) -> None:
    for item in pc.value_counts(column.drop_null()).to_pylist():
        counter[item["values"]] += item["counts"]
    if len(counter) > _PRUNE_AT:  # keep memory bounded; the top values survive pruning
        kept = counter.most_common(_PRUNE_AT // 2)
        counter.clear()
        counter.update(dict(kept))


def _sample(result: Profile, batch: pa.Table, rng: np.random.Generator, size: int) -> None:
    keys = np.concatenate([result.keys, rng.random(batch.num_rows)])
    table = batch if result.sample is None else pa.concat_tables([result.sample, batch])
    if len(keys) > size:
        keep = np.sort(np.argpartition(keys, size)[:size])
        table, keys = table.take(keep), keys[keep]
    result.sample, result.keys = table.combine_chunks(), keys
