"""The pure scoring core: an Arrow record batch in, the same batch plus predictions out.

The fitted scikit-learn pipeline (impute -> standardise / one-hot -> linear model) is
compiled once into plain arrays, so a batch of any size, including a single row for the
endpoint, costs a few vectorised numpy operations and no per-call validation. Tests
hold the result equal to the pipeline's own ``predict`` / ``predict_proba``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arq_batch.engine import values
from arq_batch.formats.jsonl import INTERNAL
from arq_batch.kernel.errors import DataError

PREDICTION_COLUMNS = ("predicted_label", "score")


@dataclass(frozen=True)
class LinearScorer:
    """A fitted pipeline reduced to arrays (``training.compiler``; stored as scorer.json)."""

    predictor_type: str
    numeric: tuple[str, ...]
    num_fill: np.ndarray  # imputed value per numeric feature
    num_mean: np.ndarray
    num_scale: np.ndarray
    num_coef: np.ndarray  # (n_numeric, k)
    categorical: tuple[str, ...]
    cat_fill: tuple[str, ...]
    cat_values: tuple[pa.Array, ...]  # known categories per categorical feature
    cat_coef: tuple[np.ndarray, ...]  # (n_values + 1, k); the last row (zeros) is "unknown"
    intercept: np.ndarray  # (k,)
    classes: tuple[Any, ...] = ()
    threshold: float = 0.0  # binary: positive when the decision exceeds it (tuned in training)
    booleans: frozenset[str] = frozenset()  # numeric features trained from booleans (0/1)

    @property
    def features(self) -> tuple[str, ...]:
        """Raw input columns the model reads."""
        return self.numeric + self.categorical

    def decision(self, batch: pa.RecordBatch | pa.Table) -> np.ndarray:
        """The linear predictor, shape (rows, k), exactly as the pipeline computes it."""
        return self.combine(self.inputs(batch))

    def inputs(self, batch: pa.RecordBatch | pa.Table) -> ModelInputs:
        """The model's features read from ``batch``; DataError if it cannot have them."""
        missing = [name for name in self.features if name not in batch.schema.names]
        if missing:
            raise MissingColumns(missing)
        twice = [name for name in self.features if batch.schema.names.count(name) > 1]
        if twice:  # which of them would the model read? (other columns may repeat)
            raise DataError(f"column(s) the model needs appear more than once: "
                            f"{', '.join(twice)}")
        # Column-major: each feature's values lie together, for scoring and statistics alike.
        numbers = np.empty((batch.num_rows, len(self.numeric)), order="F")
        for j, name in enumerate(self.numeric):
            with values.values_of(name):
                numbers[:, j] = values.numbers(batch.column(name), name, name in self.booleans)
        texts = []
        for name in self.categorical:
            with values.values_of(name):
                texts.append(values.categories(batch.column(name), name))
        # Reader bookkeeping (JSON Lines' raw line) is not an input column: monitoring's
        # extra_column_check must see the input's own columns only.
        columns = tuple(n for n in batch.schema.names if not n.startswith(INTERNAL))
        return ModelInputs(numbers, tuple(texts), columns)

    def combine(self, inputs: ModelInputs) -> np.ndarray:
        """The linear predictor of parsed inputs: impute, standardise, encode, sum."""
        z = np.tile(self.intercept, (len(inputs.numbers), 1))
        if self.numeric:
            x = np.where(np.isnan(inputs.numbers), self.num_fill, inputs.numbers)
            standard = (x - self.num_mean) / self.num_scale
            # Feature by feature, not a matrix product: BLAS sums in an order that depends
            # on the batch's size and alignment, so one row could score 1 ulp apart in two
            # batchings (a split job's parts against the whole file). This order is fixed.
            for j in range(len(self.numeric)):
                z += standard[:, j, None] * self.num_coef[j]
        for text, fill, known, coef in zip(inputs.texts, self.cat_fill, self.cat_values,
                                           self.cat_coef, strict=True):
            index = pc.index_in(pc.fill_null(text, fill), value_set=known)
            z += coef[pc.fill_null(index, len(known)).to_numpy()]
        return z


@dataclass(frozen=True)
class ModelInputs:
    """The model's features as read from one batch, before imputation: what it scores
    and what monitoring describes, parsed once for both."""

    numbers: np.ndarray  # (rows, numeric features), column-major; NaN: a missing value
    texts: tuple[pa.Array | pa.ChunkedArray, ...]  # per categorical feature; null: missing
    columns: tuple[str, ...]  # every column of the batch the model read


@dataclass(frozen=True)
class ScoredBatch:
    """One scored batch as the transform's taps see it."""

    first_row: int  # counted from the start of the input
    batch: pa.RecordBatch  # the input's columns, then the prediction columns
    inputs: ModelInputs
    numbers: np.ndarray | None = None  # each row's number in the input, if not consecutive

    @property
    def rows(self) -> np.ndarray:
        """Each row's 0-based number in the input (bad rows set aside leave gaps)."""
        if self.numbers is not None:
            return self.numbers
        return np.arange(self.first_row, self.first_row + self.batch.num_rows)

    @property
    def scores(self) -> np.ndarray:
        """The ``score`` column as numbers."""
        return np.asarray(self.batch.column("score").to_numpy(zero_copy_only=False),
                          dtype=np.float64)


class MissingColumns(DataError):
    """The input lacks features the model needs (Model Monitor: ``missing_column_check``)."""

    def __init__(self, names: list[str]) -> None:
        self.names = tuple(names)
        super().__init__(f"missing column(s) the model needs: {', '.join(names)}")


def score(batch: pa.RecordBatch, scorer: LinearScorer) -> pa.RecordBatch:
    """Append the prediction columns, named as SageMaker Linear Learner names them."""
    clash = [name for name in PREDICTION_COLUMNS if name in batch.schema.names]
    if clash:
        raise DataError(f"input already has a column named {clash[0]!r}")
    columns = prediction_columns(scorer, scorer.decision(batch))
    arrays = [*batch.columns, *columns.values()]
    return pa.RecordBatch.from_arrays(arrays, names=[*batch.schema.names, *columns])


def prediction_columns(scorer: LinearScorer, z: np.ndarray) -> dict[str, pa.Array]:
    """Regressor: ``score``; classifiers: ``predicted_label`` and ``score``."""
    if scorer.predictor_type == "regressor":
        return {"score": pa.array(z[:, 0])}
    probabilities = class_probabilities(scorer, z)
    best = best_class(scorer, z)
    # Typed as the classes are, so a batch with no rows left (all set aside) has the type too.
    labels = pa.array(np.asarray(scorer.classes, dtype=object)[best].tolist(),
                      pa.array(list(scorer.classes)).type)
    if scorer.predictor_type == "binary_classifier":
        return {"predicted_label": labels, "score": pa.array(probabilities[:, 1])}
    return {"predicted_label": labels,
            "score": pa.array(probabilities[np.arange(len(best)), best])}


def class_probabilities(scorer: LinearScorer, z: np.ndarray) -> np.ndarray:
    """Class probabilities, shape (rows, classes), as ``predict_proba`` gives them."""
    if scorer.predictor_type == "binary_classifier":
        positive = 1.0 / (1.0 + np.exp(-z[:, 0]))
        return np.column_stack([1.0 - positive, positive])
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities


def best_class(scorer: LinearScorer, z: np.ndarray) -> np.ndarray:
    """Each row's predicted class, as its index in ``scorer.classes``."""
    if scorer.predictor_type == "binary_classifier":
        return (z[:, 0] > scorer.threshold).astype(np.intp)
    best: np.ndarray = np.asarray(z.argmax(axis=1), dtype=np.intp)
    return best
