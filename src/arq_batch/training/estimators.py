"""The scikit-learn side of training: predictor choice, features, preprocessing, target."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from arq_batch.kernel.errors import DataError
from arq_batch.models.artifacts import Feature

REGRESSOR_MIN_VALUES = 10  # a numeric target with fewer distinct values is a class label


def choose_predictor(target: pd.Series, requested: str) -> str:
    """``auto``: numeric with many values -> regressor, two -> binary, else multiclass."""
    if requested != "auto":
        return requested
    distinct = target.nunique()
    if pd.api.types.is_numeric_dtype(target) and distinct >= REGRESSOR_MIN_VALUES:
        return "regressor"
    return "binary_classifier" if distinct == 2 else "multiclass_classifier"


def features_of(frame: pd.DataFrame, target: str) -> tuple[Feature, ...]:
    """Every other column, in order: numbers are numeric, everything else categorical."""
    return tuple(
        Feature(name, "numeric" if pd.api.types.is_numeric_dtype(frame[name]) else "categorical")
        for name in frame.columns if name != target)


def build_prep(features: tuple[Feature, ...],
               categories: list[list[str]] | None = None) -> ColumnTransformer:
    """Impute + standardise numbers, impute + one-hot categories (``categories``: fixed
    vocabularies, as streaming training gathers them; None: every value seen in fit)."""
    numeric = [f.name for f in features if f.type == "numeric"]
    categorical = [f.name for f in features if f.type == "categorical"]
    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        parts.append(("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                                       ("scale", StandardScaler())]), numeric))
    if categorical:
        parts.append(("cat", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(categories=categories or "auto", handle_unknown="ignore",
                                     sparse_output=False))]), categorical))
    return ColumnTransformer(parts)


def build_pipeline(features: tuple[Feature, ...], predictor_type: str) -> Pipeline:
    """The single default model (what ``train`` fitted before the model search)."""
    model = Ridge(alpha=1.0) if predictor_type == "regressor" else LogisticRegression(max_iter=2000)
    return Pipeline([("prep", build_prep(features)), ("model", model)])


def encode_target(values: Any, predictor_type: str, classes: tuple[Any, ...]) -> np.ndarray:
    """Regressors: the number; classifiers: the class index (Linear Learner's label)."""
    if predictor_type == "regressor":
        return np.asarray(values, dtype=np.float64)
    return np.searchsorted(np.asarray(classes, dtype=object), np.asarray(values, dtype=object))


def check_target(frame: pd.DataFrame, target: str, predictor_type: str) -> None:
    """Clear errors for targets that cannot train the requested model."""
    if target not in frame.columns:
        raise DataError(f"target column {target!r} is not in the data "
                        f"(columns: {', '.join(map(str, frame.columns))})")
    distinct = frame[target].nunique()
    if predictor_type == "regressor" and not pd.api.types.is_numeric_dtype(frame[target]):
        raise DataError(f"a regressor needs a numeric target; {target!r} is not numeric")
    if predictor_type == "binary_classifier" and distinct != 2:
        raise DataError(f"a binary classifier needs 2 target values; {target!r} has {distinct}")
    if distinct < 2:
        raise DataError(f"target {target!r} has fewer than 2 distinct values")

