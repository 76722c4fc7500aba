"""A dataset's statistics: one accumulator per model feature and one for the score.

Numbers are counted a block at a time, 131,072 values (1 MB) together: CSV blocks hold
~9,000 rows, and numpy's fixed cost per call (x 11 columns x ~20 operations) is what a
small block pays. Measured per million rows of 11 columns: blocks of 65,536 values, 105 ms
of CPU; 131,072, 73 ms; 262,144, 58 ms, but the image's 1M-row job then peaked 65-66 MB
above its floor, past the worker's 64 MB budget (62-64 MB with 1 MB blocks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from arq_batch.engine.scoring import ModelInputs
from arq_batch.monitoring.stats import CUSTOM, SCORE, Categorical, Numeric

GATHER_VALUES = 1 << 17


@dataclass
class Statistics:
    """Everything monitoring knows of one dataset; ``numeric`` and ``categorical`` follow
    the scorer's feature order, as ``ModelInputs`` hands the columns over."""

    numeric: dict[str, Numeric]
    categorical: dict[str, Categorical]
    score: Numeric | None = None
    rows: int = 0
    columns: set[str] = field(default_factory=set)  # the input's columns, by name
    # The numbers (and scores) gathered so far, a row per column, and a working row: one
    # block of space, reused (fresh arrays this size come from mmap and fault in every
    # 4 kB page each time: on 1M rows x 11 columns, 37,000 page faults and 107 ms of CPU
    # against 36 ms). Categories are counted as they come: their cost is per value.
    _held: int = field(default=0, compare=False, repr=False)
    _scored: bool = field(default=False, compare=False, repr=False)
    _block: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), compare=False,
                               repr=False)

    def observe(self, inputs: ModelInputs, scores: np.ndarray | None = None) -> None:
        """Count one batch: the model's parsed features and, when scored, its scores
        (every batch of a dataset with them, or none)."""
        self.rows += len(inputs.numbers)
        self.columns.update(inputs.columns)
        for text, values in zip(inputs.texts, self.categorical.values(), strict=True):
            values.add(text)
        self._scored = scores is not None and self.score is not None
        width = len(self.numeric)
        start = 0
        while start < len(inputs.numbers):  # a batch larger than the block goes in pieces
            block = self._space()
            take = min(len(inputs.numbers) - start, block.shape[1] - self._held)
            rows = slice(self._held, self._held + take)
            block[:width, rows] = inputs.numbers[start:start + take].T
            if self._scored:
                assert scores is not None
                block[width, rows] = scores[start:start + take]
            self._held, start = self._held + take, start + take
            if self._held == block.shape[1]:
                self.flush()

    def _space(self) -> np.ndarray:
        if not self._block.size:
            width = len(self.numeric) + 2  # the numbers, the score, the working row
            self._block = np.empty((width, max(1, GATHER_VALUES // width)))
        return self._block

    def flush(self) -> None:
        """Count everything observed so far (every reader of the figures calls this)."""
        held, self._held = self._held, 0
        if not held:
            return
        block, width = self._block, len(self.numeric)
        work = block[width + 1, :held]
        for j, stats in enumerate(self.numeric.values()):  # each row is contiguous
            stats.add(block[j, :held], work)
        if self._scored and self.score is not None:
            self.score.add(block[width, :held], work)

    def merge(self, other: Statistics) -> None:
        """Add another part of the same job (same features, bins and domains)."""
        self.flush()
        other.flush()
        self.rows += other.rows
        self.columns |= other.columns
        for name, numbers in self.numeric.items():
            numbers.merge(other.numeric[name])
        for name, values in self.categorical.items():
            values.merge(other.categorical[name])
        if self.score is not None and other.score is not None:
            self.score.merge(other.score)

    def to_json(self) -> dict[str, Any]:
        """statistics.json, in Model Monitor's schema (plus our ``arq_batch`` figures)."""
        self.flush()
        features = [s.to_json(n) for n, s in self.numeric.items()]
        features += [s.to_json(n) for n, s in self.categorical.items()]
        if self.score is not None:
            features.append(self.score.to_json(SCORE))
        return {"version": 0.0,
                "dataset": {"item_count": self.rows, CUSTOM: {"columns": sorted(self.columns)}},
                "features": features}

    def parsed(self, data: Mapping[str, Any]) -> Statistics:
        """Another dataset's statistics.json, read with this one's bins and domains."""
        entries = {f["name"]: f for f in data["features"]}
        numeric = {n: Numeric.from_json(entries[n], s.bounds) for n, s in self.numeric.items()}
        categorical = {n: Categorical.from_json(entries[n], s.domain)
                       for n, s in self.categorical.items()}
        score = (Numeric.from_json(entries[SCORE], self.score.bounds)
                 if self.score is not None and SCORE in entries else None)
        dataset = data["dataset"]
        return Statistics(numeric, categorical, score, int(dataset["item_count"]),
                          set(dataset.get(CUSTOM, {}).get("columns", ())))
