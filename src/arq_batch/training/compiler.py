"""Compile a fitted scikit-learn pipeline into the arrays of a ``LinearScorer``.

It walks the fitted ColumnTransformer's imputers, scaler and one-hot encoder and the
linear model's coefficients; tests hold the compiled scorer's predictions equal to the
pipeline's own ``predict``/``predict_proba``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from arq_batch.engine.scoring import LinearScorer


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
