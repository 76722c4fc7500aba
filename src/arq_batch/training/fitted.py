"""What either solver path hands back to the pipeline, and the pieces both paths share:
Linear Learner's record format and the seeded, batching-independent row split."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from arq_batch.core.artifacts import Feature
from arq_batch.training.options import SearchOptions
from arq_batch.training.search import SearchResult


@dataclass(frozen=True)
class Fitted:
    """The winning pipeline, the search behind it and the raw test rows to judge it on."""

    predictor: str
    features: tuple[Feature, ...]
    classes: tuple[Any, ...]
    pipeline: Any  # prep + LinearModel
    search: SearchResult
    test: pa.Table  # raw test rows (features and target), possibly a uniform sample
    y_test: np.ndarray  # their encoded target
    rows: dict[str, int]  # train / validation / test
    options: SearchOptions  # as checked against the predictor type (no "auto" left)


def linear_learner_csv(label: np.ndarray, matrix: np.ndarray) -> bytes:
    """Headerless, target first, then the transformed features (Linear Learner's format)."""
    columns = [pa.array(label, pa.float64()), *(pa.array(matrix[:, j], pa.float64())
                                                for j in range(matrix.shape[1]))]
    table = pa.Table.from_arrays(columns, names=[f"c{j}" for j in range(len(columns))])
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    return buffer.getvalue()


def uniform(index: np.ndarray, seed: int) -> np.ndarray:
    """A value in [0, 1) per row number (SplitMix64), the same however rows are batched."""
    z = index.astype(np.uint64) + np.uint64(seed + 1) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
