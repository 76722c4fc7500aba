"""Model artifacts: the model.json card, sha256-checked loading, and compilation for scoring."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

import joblib
import numpy as np
import pyarrow as pa
import sklearn

from arq_batch import __version__
from arq_batch.errors import ModelError
from arq_batch.layout import CARD_FILE, MODEL_FILE
from arq_batch.scoring import LinearScorer

PREDICTOR_TYPES = ("regressor", "binary_classifier", "multiclass_classifier")


@dataclass(frozen=True)
class Feature:
    """A raw input column and whether the model treats it as a number or a category."""

    name: str
    type: str  # "numeric" | "categorical"


@dataclass(frozen=True)
class ModelCard:
    """What model.json records about a run (contract section 4)."""

    run_id: str
    created_at: str
    predictor_type: str
    target: str
    features: tuple[Feature, ...]
    sha256: str
    classes: tuple[Any, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """Serialise as pretty JSON."""
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes, source: str) -> ModelCard:
        """Parse model.json; ModelError if it is not one."""
        try:
            raw = json.loads(data)
            raw["features"] = tuple(Feature(**f) for f in raw["features"])
            raw["classes"] = tuple(raw.get("classes") or ())
            card = cls(**raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{source}/{CARD_FILE} is not a valid model card: {exc}") from exc
        if card.predictor_type not in PREDICTOR_TYPES:
            raise ModelError(f"{source}: unknown predictor_type {card.predictor_type!r}")
        return card


@dataclass(frozen=True)
class Model:
    """A verified, loaded model: its card, the fitted pipeline and the compiled scorer."""

    card: ModelCard
    pipeline: Any
    scorer: LinearScorer
    source: str


def runtime_versions() -> dict[str, str]:
    """Versions recorded in model.json, so a load can be traced to its build."""
    return {"python": sys.version.split()[0], "scikit-learn": sklearn.__version__,
            "arq-batch": __version__}


def dump_pipeline(pipeline: Any) -> tuple[bytes, str]:
    """The joblib bytes of a fitted pipeline and their sha256."""
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def load_model(card_bytes: bytes, artifact: bytes, source: str) -> Model:
    """Verify the artifact against its card's sha256, and only then unpickle it."""
    card = ModelCard.from_json(card_bytes, source)
    digest = hashlib.sha256(artifact).hexdigest()
    if digest != card.sha256:
        raise ModelError(f"sha256 mismatch for {source}/{MODEL_FILE}: model.json records "
                         f"{card.sha256}, the artifact hashes to {digest}; refusing to load it")
    try:
        pipeline = joblib.load(io.BytesIO(artifact))
        scorer = compile_pipeline(pipeline, card)
    except Exception as exc:  # a verified but unusable artifact is still a bad model
        raise ModelError(f"cannot load {source}/{MODEL_FILE}: {exc}") from exc
    return Model(card, pipeline, scorer, source)


def compile_pipeline(pipeline: Any, card: ModelCard) -> LinearScorer:
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
        classes=tuple(card.classes))


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
