"""The training pipeline of contract section 5, from raw CSV to ``latest.json``."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sklearn
from sklearn.model_selection import train_test_split

from arq_batch.core import layout
from arq_batch.core.artifacts import ModelCard, dump_pipeline, runtime_versions, sha256
from arq_batch.core.compiler import compile_pipeline, scorer_from_json, scorer_to_json
from arq_batch.core.errors import DataError, ModelError
from arq_batch.core.layout import CARD_FILE, MODEL_FILE, SCORER_FILE
from arq_batch.core.ports import ObjectStore
from arq_batch.core.scoring import NULL_TOKENS, prediction_columns
from arq_batch.core.settings import Settings
from arq_batch.core.uris import S3Uri, is_s3
from arq_batch.training import estimators


@dataclass(frozen=True)
class TrainRequest:
    """The ``train`` command's arguments."""

    data: str
    target: str
    predictor_type: str = "auto"
    test_size: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class TrainResult:
    """What ``train --json`` prints."""

    run_id: str
    model_uri: str
    predictor_type: str
    metrics: dict[str, float] = field(default_factory=dict)
    rows_train: int = 0
    rows_test: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields of contract section 3."""
        return asdict(self)


def train(request: TrainRequest, store: ObjectStore, settings: Settings,
          say: Callable[[str], None] = lambda text: None) -> TrainResult:
    """Raw CSV -> data/raw -> clean -> split -> data/train, data/test -> fit -> artifact."""
    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
    bucket, prefixes = settings.bucket, settings.prefixes
    raw, name = _read_source(request.data, store)
    store.put_bytes(S3Uri(bucket, f"{prefixes.raw}{name}"), raw)
    say(f"raw data uploaded to s3://{bucket}/{prefixes.raw}{name}")
    frame = clean(_parse_csv(raw), request.target)
    predictor = estimators.choose_predictor(frame[request.target], request.predictor_type)
    estimators.check_target(frame, request.target, predictor)
    features = estimators.features_of(frame, request.target)
    train_df, test_df = _split(frame, request, predictor)
    say(f"split {len(train_df)} train / {len(test_df)} test rows; fitting a {predictor}")
    x_cols = [f.name for f in features]
    pipeline = estimators.build_pipeline(features, predictor)
    pipeline.fit(train_df[x_cols], train_df[request.target])
    classes = tuple(_native(c) for c in getattr(pipeline.named_steps["model"], "classes_", ()))
    for frame_part, prefix, stem in ((train_df, prefixes.train, "train"),
                                     (test_df, prefixes.test, "test")):
        matrix = estimators.transformed(pipeline, frame_part[x_cols], frame_part[request.target],
                                   predictor, classes)
        store.put_bytes(S3Uri(bucket, f"{prefix}{run_id}/{stem}.csv"),
                        matrix.to_csv(header=False, index=False).encode())
    metrics = estimators.evaluate(pipeline, test_df[x_cols], test_df[request.target], predictor)
    say("metrics on the test split: " + ", ".join(f"{k}={v}" for k, v in metrics.items()))
    artifact, digest = dump_pipeline(pipeline)
    card = ModelCard(run_id=run_id, created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                     predictor_type=predictor, target=request.target, features=features,
                     sha256=digest, scorer_sha256="", classes=classes, metrics=metrics,
                     versions=runtime_versions(sklearn.__version__))
    scorer = scorer_to_json(compile_pipeline(pipeline, card))
    _self_check(pipeline, scorer, test_df[x_cols])
    card = replace(card, scorer_sha256=sha256(scorer))
    model_uri = publish(store, settings, card, artifact, scorer)
    say(f"model written to {model_uri}")
    return TrainResult(run_id, str(model_uri), predictor, metrics, len(train_df), len(test_df))


def publish(store: ObjectStore, settings: Settings, card: ModelCard, artifact: bytes,
            scorer: bytes) -> S3Uri:
    """Write the artifacts, then model.json, then (last) point latest.json at the run."""
    folder = layout.run_uri(settings.bucket, settings.prefixes, card.run_id)
    store.put_bytes(folder.child(MODEL_FILE), artifact)
    store.put_bytes(folder.child(SCORER_FILE), scorer)
    store.put_bytes(folder.child(CARD_FILE), card.to_json())
    pointer = json.dumps({"run_id": card.run_id, "uri": str(folder)}).encode()
    store.put_bytes(layout.latest_uri(settings.bucket, settings.prefixes), pointer)
    return folder


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


def _read_source(data: str, store: ObjectStore) -> tuple[bytes, str]:
    if is_s3(data):
        uri = S3Uri.parse(data)
        return store.get_bytes(uri), uri.name
    path = Path(data)
    try:
        return path.read_bytes(), path.name
    except OSError as exc:
        raise DataError(f"cannot read {data}: {exc.strerror}") from exc


def _parse_csv(raw: bytes) -> pd.DataFrame:
    try:
        return pd.read_csv(io.BytesIO(raw), keep_default_na=False, na_values=list(NULL_TOKENS))
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot parse the training CSV: {exc}") from exc


def _split(frame: pd.DataFrame, request: TrainRequest,
           predictor: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    stratify = None if predictor == "regressor" else frame[request.target]
    try:
        train_df, test_df = train_test_split(frame, test_size=request.test_size,
                                             random_state=request.seed, stratify=stratify)
    except ValueError as exc:
        raise DataError(f"cannot split the data: {exc}") from exc
    return train_df, test_df


def _self_check(pipeline: Any, scorer_json: bytes, x: pd.DataFrame) -> None:
    """The scorer as workers will read it must agree with the pipeline before publishing."""
    scorer = scorer_from_json(scorer_json, SCORER_FILE)
    columns = prediction_columns(scorer, scorer.decision(pa.Table.from_pandas(x)))
    if scorer.predictor_type == "regressor":
        same = np.allclose(columns["score"].to_numpy(), pipeline.predict(x), rtol=1e-9)
    else:
        same = columns["predicted_label"].to_pylist() == [_native(v) for v in pipeline.predict(x)]
    if not same:
        raise ModelError("compiled scorer disagrees with the fitted pipeline; not publishing")


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
