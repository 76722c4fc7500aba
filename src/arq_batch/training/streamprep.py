"""From the first pass's profile to a fitted preprocessing step and a target encoding.

The ColumnTransformer is the one the in-memory path fits, so both paths publish the same
artifact: it is fitted on the profile's uniform sample (so medians for imputation are the
sample's), then given what the whole file says: the exact means and variances (of the
imputed values, as StandardScaler would see them), the most frequent category, and the
capped vocabularies (values beyond the cap one-hot to all zeros: an "other" bucket).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from arq_batch.kernel.errors import DataError
from arq_batch.models.artifacts import Feature
from arq_batch.training import estimators
from arq_batch.training.encoding import Encoder
from arq_batch.training.fitted import native
from arq_batch.training.profile import TARGET_VALUES, Profile


@dataclass(frozen=True)
class Plan:
    """What the second pass needs to turn raw batches into training rows."""

    target: str
    predictor: str
    features: tuple[Feature, ...]
    classes: tuple[Any, ...]
    prep: Any
    target_scale: tuple[float, float]  # regressors train on a standardised target
    encoder: Encoder  # the prep's parameters, applied to Arrow batches

    @property
    def outputs(self) -> int:
        """Decision columns: one, or one per class for multiclass."""
        return len(self.classes) if self.predictor == "multiclass_classifier" else 1

    def encode(self, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """The target as the trainer sees it: a number or the class index."""
        if self.predictor == "regressor":
            return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        index = pc.index_in(column, value_set=pa.array(list(self.classes), column.type))
        return np.asarray(index.to_numpy(zero_copy_only=False), dtype=np.float64)


def prepare(profile: Profile, target: str, requested: str) -> Plan:
    """Choose the predictor, the features and fit the preprocessing from the profile."""
    if profile.sample is None or profile.rows == 0:
        raise DataError(f"no rows have a value for the target {target!r}")
    if target not in profile.sample.schema.names:
        raise DataError(f"target column {target!r} is not in the data (columns: "
                        f"{', '.join(profile.sample.schema.names)})")
    numeric_target = target in profile.numeric
    predictor = _predictor(profile, numeric_target, requested, target)
    features = tuple(
        Feature(name, "numeric" if name in profile.numeric else "categorical")
        for name in profile.sample.schema.names
        if name != target and (profile.numeric.get(name) or profile.counts.get(name)))
    classes: tuple[Any, ...] = ()
    if predictor != "regressor":
        classes = tuple(sorted(native(v) for v in profile.target))
    scale = (0.0, 1.0)
    if predictor == "regressor":
        moments = profile.numeric[target]
        scale = (moments.mean, float(np.sqrt(moments.m2 / max(moments.count, 1))) or 1.0)
    prep = _prep(profile, features)
    return Plan(target, predictor, features, classes, prep, scale, Encoder.of(prep, features))


def frame_of(batch: pa.RecordBatch | pa.Table, features: tuple[Feature, ...]) -> pd.DataFrame:
    """The pandas frame the ColumnTransformer reads: missing categories as NaN."""
    frame = pa.table({f.name: batch.column(f.name) for f in features}).to_pandas()
    for feature in features:
        if feature.type == "categorical":
            column = frame[feature.name].astype(object)
            frame[feature.name] = column.where(column.notna(), np.nan)
    return frame


def _predictor(profile: Profile, numeric: bool, requested: str, target: str) -> str:
    distinct = len(profile.target)
    if requested == "auto":
        if numeric and distinct >= estimators.REGRESSOR_MIN_VALUES:
            return "regressor"
        requested = "binary_classifier" if distinct == 2 else "multiclass_classifier"
    if requested == "regressor" and not numeric:
        raise DataError(f"a regressor needs a numeric target; {target!r} is not numeric")
    if requested == "binary_classifier" and distinct != 2:
        raise DataError(f"a binary classifier needs 2 target values; {target!r} has "
                        f"{distinct if distinct <= TARGET_VALUES else 'many'}")
    if requested != "regressor" and distinct > TARGET_VALUES:
        raise DataError(f"target {target!r} has over {TARGET_VALUES} distinct values: "
                        "too many classes")
    if distinct < 2:
        raise DataError(f"target {target!r} has fewer than 2 distinct values")
    return requested


def _prep(profile: Profile, features: tuple[Feature, ...]) -> Any:
    categorical = [f.name for f in features if f.type == "categorical"]
    prep = estimators.build_prep(features, [profile.vocabulary(n) for n in categorical])
    assert profile.sample is not None
    prep.fit(frame_of(profile.sample, features))
    numeric = [f.name for f in features if f.type == "numeric"]
    if numeric:
        steps = prep.named_transformers_["num"].named_steps
        fills = steps["impute"].statistics_
        pairs = [profile.numeric[n].with_fill(profile.rows, f) for n, f in zip(numeric, fills,
                                                                               strict=True)]
        mean, var = (np.array(values) for values in zip(*pairs, strict=True))
        scale = steps["scale"]
        scale.mean_, scale.var_, scale.n_samples_seen_ = mean, var, profile.rows
        scale.scale_ = np.where(var > 0, np.sqrt(var), 1.0)  # as StandardScaler treats 0
    if categorical:
        impute = prep.named_transformers_["cat"].named_steps["impute"]
        impute.statistics_ = np.array([profile.mode(n) for n in categorical], dtype=object)
    return prep

