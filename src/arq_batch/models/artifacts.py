"""Model artifacts: the model.json card and sha256-checked loading."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from arq_batch import __version__
from arq_batch.engine.scoring import LinearScorer
from arq_batch.kernel.errors import ModelError
from arq_batch.kernel.layout import CARD_FILE, MODEL_FILE, SCORER_FILE
from arq_batch.models.scorer_file import scorer_from_json
from arq_batch.monitoring.baseline import CONSTRAINTS_FILE, STATISTICS_FILE, Baseline

PREDICTOR_TYPES = ("regressor", "binary_classifier", "multiclass_classifier")


@dataclass(frozen=True)
class Feature:
    """A raw input column and whether the model treats it as a number or a category."""

    name: str
    type: str  # "numeric" | "categorical"
    # A numeric feature trained from a boolean column (as 0/1): scoring accepts booleans
    # for it, and refuses them for every other numeric feature (docs/training.md).
    boolean: bool = False


@dataclass(frozen=True)
class ModelCard:
    """What model.json records about a run (contract section 4)."""

    run_id: str
    created_at: str
    predictor_type: str
    target: str
    features: tuple[Feature, ...]
    sha256: str
    scorer_sha256: str
    classes: tuple[Any, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    threshold: float = 0.0  # binary: the decision threshold tuned on validation
    search: dict[str, Any] = field(default_factory=dict)  # every candidate, and the winner
    # The monitoring baseline's files and their sha256 (runs trained before it: none).
    baseline: dict[str, str] = field(default_factory=dict)
    # The sha256 of test_rows.parquet, the run's raw test rows and encoded target, which
    # the promotion gate holds later runs against ("": a run trained before it kept them).
    test_rows_sha256: str = ""
    # The promotion gate's verdict on this run when it was trained: promoted, reason and
    # the run it was held against (a later promote or rollback does not change it).
    gate: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The raw input columns in model.json order: positional inputs follow it."""
        return tuple(f.name for f in self.features)

    def to_json(self) -> bytes:
        """Serialise as pretty JSON; ``boolean`` only on the features trained from booleans."""
        card = asdict(self)
        card["features"] = [{k: v for k, v in f.items() if k != "boolean" or v}
                            for f in card["features"]]
        return json.dumps(card, indent=2).encode()

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
        if card.baseline and set(card.baseline) != {STATISTICS_FILE, CONSTRAINTS_FILE}:
            raise ModelError(f"{source}: baseline must name {STATISTICS_FILE} and "
                             f"{CONSTRAINTS_FILE}, not {sorted(card.baseline)}")
        return card


@dataclass(frozen=True)
class Model:
    """A verified model ready to score: its card and its compiled scorer."""

    card: ModelCard
    scorer: LinearScorer
    source: str
    baseline: Baseline | None = None  # None: the run has none, monitoring is skipped


def runtime_versions(sklearn_version: str) -> dict[str, str]:
    """Versions recorded in model.json, so a load can be traced to its build."""
    return {"python": sys.version.split()[0], "scikit-learn": sklearn_version,
            "arq-batch": __version__}


def sha256(data: bytes) -> str:
    """Hex digest recorded in, and checked against, model.json."""
    return hashlib.sha256(data).hexdigest()


def load_model(card_bytes: bytes, scorer_bytes: bytes, artifact: bytes, source: str,
               baseline: Mapping[str, bytes] | None = None) -> Model:
    """Verify the artifacts against the card; scoring needs no unpickling at all.

    Workers and the endpoint score with scorer.json (plain arrays). model.joblib is still
    checked, so a run whose pipeline was tampered with is refused as a whole, and so are
    the baseline's files (``baseline``: the ones the card names, by name).
    """
    card = ModelCard.from_json(card_bytes, source)
    verify(artifact, card.sha256, f"{source}/{MODEL_FILE}")
    verify(scorer_bytes, card.scorer_sha256, f"{source}/{SCORER_FILE}")
    scorer = scorer_from_json(scorer_bytes, f"{source}/{SCORER_FILE}")
    files = dict(baseline or {})
    for name, digest in card.baseline.items():
        verify(files.get(name, b""), digest, f"{source}/{name}")
    parsed = (Baseline.parse(files[STATISTICS_FILE], files[CONSTRAINTS_FILE], scorer, source)
              if card.baseline else None)
    return Model(card, scorer, source, parsed)


def verify(data: bytes, expected: str, name: str) -> None:
    """ModelError unless ``data`` hashes to ``expected``."""
    digest = sha256(data)
    if digest != expected:
        raise ModelError(f"sha256 mismatch for {name}: model.json records {expected}, "
                         f"the file hashes to {digest}; refusing to load it")
