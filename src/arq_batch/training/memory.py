"""Training on data that fits in memory: the exact solvers, a stratified three-way split."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from arq_batch.kernel.errors import DataError
from arq_batch.kernel.ports import ObjectWriter
from arq_batch.training import estimators, exact
from arq_batch.training.encoding import Encoder, codes_of
from arq_batch.training.fitted import Fitted, linear_learner_csv, native
from arq_batch.training.options import SearchOptions, candidates
from arq_batch.training.search import class_weights

VALIDATION_SHARE = 0.2  # of the rows left after the test split, as Linear Learner's channel


def fit(table: pa.Table, target: str, requested: str, options: SearchOptions,
        test_size: float, seed: int, writers: dict[str, ObjectWriter],
        say: Callable[[str], None]) -> Fitted:
    """Clean, split, fit every candidate exactly and keep the best."""
    frame = clean(table.to_pandas(), target)
    predictor = estimators.choose_predictor(frame[target], requested)
    estimators.check_target(frame, target, predictor)
    options = options.checked(predictor)
    features = estimators.features_of(frame, target)
    names = [f.name for f in features]
    parts = _split(frame, target, predictor, test_size, seed)
    classes: tuple[Any, ...] = () if predictor == "regressor" else tuple(
        sorted(native(v) for v in frame[target].unique()))
    prep = estimators.build_prep(features).fit(parts["train"][names])
    xs = {name: prep.transform(part[names]) for name, part in parts.items()}
    ys = {name: estimators.encode_target(part[target].map(native), predictor, classes)
          for name, part in parts.items()}
    widths = Encoder.of(prep, features).widths
    for name, writer in writers.items():
        writer.write(linear_learner_csv(ys[name], codes_of(xs[name], widths), widths))
    say(f"split {len(xs['train'])} train / {len(xs['validation'])} validation / "
        f"{len(xs['test'])} test rows; fitting {options.num_models} {predictor} candidates")
    result = exact.search(xs["train"], ys["train"], xs["validation"], ys["validation"],
                          candidates(options.num_models, len(xs["train"]), seed), options,
                          class_weights(ys["train"], predictor, options))
    pipeline = Pipeline([("prep", prep), ("model", result.model(predictor, classes))])
    test = pa.Table.from_pandas(parts["test"][[*names, target]], preserve_index=False)
    return Fitted(predictor, features, classes, pipeline, result, test, ys["test"],
                  {name: len(part) for name, part in parts.items()}, options,
                  pa.Table.from_pandas(frame[names], preserve_index=False))


def clean(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """Drop rows without a target and all-empty columns; categories become plain text."""
    if target not in frame.columns:
        raise DataError(f"target column {target!r} is not in the data "
                        f"(columns: {', '.join(map(str, frame.columns))})")
    frame = frame.dropna(subset=[target]).dropna(axis="columns", how="all")
    if frame.empty:
        raise DataError(f"no rows have a value for the target {target!r}")
    for name in frame.columns:
        if name != target and not pd.api.types.is_numeric_dtype(frame[name]):
            frame[name] = frame[name].map(lambda v: v if pd.isna(v) else str(v)).astype(object)
            frame[name] = frame[name].where(frame[name].notna(), np.nan)
    return frame.reset_index(drop=True)


def _split(frame: pd.DataFrame, target: str, predictor: str, test_size: float,
           seed: int) -> dict[str, pd.DataFrame]:
    def cut(part: pd.DataFrame, share: float) -> list[pd.DataFrame]:
        stratify = None if predictor == "regressor" else part[target]
        halves: list[pd.DataFrame] = train_test_split(part, test_size=share, random_state=seed,
                                                      stratify=stratify)
        return halves

    try:
        rest, test = cut(frame, test_size)
        train, validation = cut(rest, VALIDATION_SHARE)
    except ValueError as exc:
        raise DataError(f"cannot split the data: {exc}") from exc
    return {"train": train, "validation": validation, "test": test}

