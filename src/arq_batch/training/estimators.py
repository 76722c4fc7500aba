"""The scikit-learn side of training: predictor choice, pipeline, transformed data, metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from arq_batch.core.artifacts import Feature
from arq_batch.core.errors import DataError

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


def build_pipeline(features: tuple[Feature, ...], predictor_type: str) -> Pipeline:
    """Impute + standardise numbers, impute + one-hot categories, then the linear model."""
    numeric = [f.name for f in features if f.type == "numeric"]
    categorical = [f.name for f in features if f.type == "categorical"]
    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        parts.append(("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                                       ("scale", StandardScaler())]), numeric))
    if categorical:
        parts.append(("cat", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]),
            categorical))
    model = Ridge(alpha=1.0) if predictor_type == "regressor" else LogisticRegression(max_iter=2000)
    return Pipeline([("prep", ColumnTransformer(parts)), ("model", model)])


def transformed(pipeline: Pipeline, x: pd.DataFrame, y: pd.Series, predictor_type: str,
                classes: tuple[Any, ...]) -> pd.DataFrame:
    """Linear Learner's training format: target first (class index for classifiers)."""
    if predictor_type == "regressor":
        label = y.to_numpy()
    else:
        label = np.searchsorted(np.asarray(classes, dtype=object), y.to_numpy(dtype=object))
    matrix = pipeline.named_steps["prep"].transform(x)
    return pd.DataFrame(np.column_stack([label, matrix]))


def evaluate(pipeline: Pipeline, x: pd.DataFrame, y: pd.Series,
             predictor_type: str) -> dict[str, float]:
    """Test-split metrics: RMSE/MAE/R^2, or accuracy/F1/ROC AUC."""
    if predictor_type == "regressor":
        predicted = pipeline.predict(x)
        return _rounded({"rmse": metrics.root_mean_squared_error(y, predicted),
                         "mae": metrics.mean_absolute_error(y, predicted),
                         "r2": metrics.r2_score(y, predicted)})
    predicted, proba = pipeline.predict(x), pipeline.predict_proba(x)
    classes = pipeline.named_steps["model"].classes_
    result = {"accuracy": metrics.accuracy_score(y, predicted)}
    if predictor_type == "binary_classifier":
        result["f1"] = metrics.f1_score(y, predicted, pos_label=classes[1])
        result["roc_auc"] = metrics.roc_auc_score(y == classes[1], proba[:, 1])
    else:
        result["f1_macro"] = metrics.f1_score(y, predicted, average="macro")
        if set(y) == set(classes):  # ROC AUC is undefined when a class is absent from test
            result["roc_auc_ovr"] = metrics.roc_auc_score(y, proba, multi_class="ovr",
                                                          labels=classes)
    return _rounded(result)


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


def _rounded(values: dict[str, Any]) -> dict[str, float]:
    return {name: round(float(value), 6) for name, value in values.items()}
