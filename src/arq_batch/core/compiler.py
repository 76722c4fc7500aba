"""Compile a fitted pipeline into a LinearScorer, and store that scorer as plain JSON.

The JSON form (scorer.json) lets workers and the endpoint score without scikit-learn and
without unpickling anything. Python writes floats with the shortest repr that round-trips,
so the arrays read back bit for bit and predictions do not change.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from arq_batch.core.errors import ModelError
from arq_batch.core.scoring import LinearScorer

FORMAT = 1


def compile_pipeline(pipeline: Any, card: Any) -> LinearScorer:
    """Reduce the fitted ColumnTransformer + linear model to the arrays scoring needs."""
    prep, estimator = pipeline.named_steps["prep"], pipeline.named_steps["model"]
    coef = np.atleast_2d(estimator.coef_)  # Ridge on 1-D y gives (n,); classifiers (k, n)
    numeric = tuple(f.name for f in card.features if f.type == "numeric")
    categorical = tuple(f.name for f in card.features if f.type == "categorical")
    num = _numeric_parts(prep, len(numeric))
    cat_fill, cat_values, cat_coef = _categorical_parts(prep, categorical, coef[:, len(numeric):])
    return LinearScorer(
        predictor_type=card.predictor_type, numeric=numeric,
        num_fill=num[0], num_mean=num[1], num_scale=num[2], num_coef=coef[:, :len(numeric)].T,
        categorical=categorical, cat_fill=cat_fill, cat_values=cat_values, cat_coef=cat_coef,
        intercept=np.atleast_1d(estimator.intercept_).astype(np.float64),
        classes=tuple(card.classes), threshold=float(getattr(estimator, "threshold", 0.0)),
        booleans=frozenset(f.name for f in card.features if f.boolean))


def _numeric_parts(prep: Any, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if count == 0:
        empty = np.zeros(0)
        return empty, empty, empty
    steps = prep.named_transformers_["num"].named_steps
    return steps["impute"].statistics_, steps["scale"].mean_, steps["scale"].scale_


def _categorical_parts(
    prep: Any, names: tuple[str, ...], coef: np.ndarray
) -> tuple[tuple[str, ...], tuple[pa.Array, ...], tuple[np.ndarray, ...]]:
    if not names:
        return (), (), ()
    steps = prep.named_transformers_["cat"].named_steps
    fills = tuple(str(v) for v in steps["impute"].statistics_)
    values, blocks, start = [], [], 0
    for categories in steps["onehot"].categories_:
        block = coef[:, start:start + len(categories)].T
        start += len(categories)
        values.append(pa.array([str(c) for c in categories], pa.string()))
        # One extra zero row: an unseen category contributes nothing (handle_unknown="ignore").
        blocks.append(np.vstack([block, np.zeros((1, coef.shape[0]))]))
    return fills, tuple(values), tuple(blocks)


def scorer_to_json(scorer: LinearScorer) -> bytes:
    """The scorer's arrays as JSON."""
    return json.dumps({
        "format": FORMAT, "predictor_type": scorer.predictor_type,
        "numeric": scorer.numeric, "num_fill": scorer.num_fill.tolist(),
        "num_mean": scorer.num_mean.tolist(), "num_scale": scorer.num_scale.tolist(),
        "num_coef": scorer.num_coef.tolist(), "categorical": scorer.categorical,
        "cat_fill": scorer.cat_fill, "cat_values": [v.to_pylist() for v in scorer.cat_values],
        "cat_coef": [c.tolist() for c in scorer.cat_coef],
        "intercept": scorer.intercept.tolist(), "classes": list(scorer.classes),
        "threshold": scorer.threshold, "booleans": sorted(scorer.booleans),
    }).encode()


def scorer_from_json(data: bytes, source: str) -> LinearScorer:
    """Rebuild a scorer written by ``scorer_to_json``; ModelError if it is not one."""
    try:
        raw = json.loads(data)
        if raw["format"] != FORMAT:
            raise ValueError(f"unknown format {raw['format']!r}")
        intercept = np.asarray(raw["intercept"], dtype=np.float64)
        k, numeric = len(intercept), tuple(raw["numeric"])
        return LinearScorer(
            predictor_type=raw["predictor_type"], numeric=numeric,
            num_fill=_floats(raw["num_fill"]), num_mean=_floats(raw["num_mean"]),
            num_scale=_floats(raw["num_scale"]),
            num_coef=_floats(raw["num_coef"]).reshape(len(numeric), k),
            categorical=tuple(raw["categorical"]), cat_fill=tuple(raw["cat_fill"]),
            cat_values=tuple(pa.array(v, pa.string()) for v in raw["cat_values"]),
            cat_coef=tuple(_floats(c).reshape(-1, k) for c in raw["cat_coef"]),
            intercept=intercept, classes=tuple(raw["classes"]),
            threshold=float(raw.get("threshold", 0.0)),
            booleans=frozenset(raw.get("booleans", ())))
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{source} is not a valid scorer: {exc}") from exc


def _floats(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)
