"""The training pipeline of contract section 5: raw data -> model search -> a published
run, its report, and (if the gate agrees) ``latest.json``."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn

from arq_batch.engine.scoring import prediction_columns
from arq_batch.kernel import layout
from arq_batch.kernel.errors import ModelError
from arq_batch.kernel.layout import CARD_FILE, MODEL_FILE, SCORER_FILE, TEST_ROWS_FILE
from arq_batch.kernel.monitoring_settings import MonitoringSettings
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.models import registry
from arq_batch.models.artifacts import Model, ModelCard, runtime_versions, sha256
from arq_batch.models.scorer_file import scorer_from_json, scorer_to_json
from arq_batch.monitoring import baseline as monitoring
from arq_batch.training import evaluation, gate, held, report
from arq_batch.training.compiler import compile_pipeline
from arq_batch.training.fitted import Fitted
from arq_batch.training.options import SearchOptions
from arq_batch.training.pickles import dump_pipeline
from arq_batch.training.solve import solve
from arq_batch.training.streamprep import frame_of

REPORT_FILE = "report.html"


@dataclass(frozen=True)
class TrainRequest:
    """The ``train`` command's arguments."""

    data: str
    target: str
    predictor_type: str = "auto"
    test_size: float = 0.2
    seed: int = 0
    options: SearchOptions = field(default_factory=SearchOptions)
    promote: str = "if-better"
    report_path: str | None = None
    by: str = "arq-batch"


@dataclass(frozen=True)
class TrainResult:
    """What ``train --json`` prints (contract section 3, plus the search and the gate)."""

    run_id: str
    model_uri: str
    predictor_type: str
    metrics: dict[str, float] = field(default_factory=dict)
    rows_train: int = 0
    rows_test: int = 0
    rows_validation: int = 0
    solver: str = ""
    selection: dict[str, Any] = field(default_factory=dict)
    promoted: bool = False
    promotion: str = ""
    report_uri: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields."""
        return asdict(self)


def train(request: TrainRequest, store: ObjectStore, settings: Settings,
          say: Callable[[str], None] = lambda text: None, *,
          current: Callable[[], Model | None] = lambda: None) -> TrainResult:
    """Raw data in; a published run out. ``current`` loads the model latest.json names
    (none: the gate has nothing to compare with and promotes)."""
    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
    fitted = solve(request, store, settings, run_id, say)
    card, artifact, scorer_bytes, tested = _artifacts(fitted, request, run_id)
    described = _baseline(fitted, tested, settings.monitoring)
    test_rows = held.to_parquet(fitted.test, fitted.y_test)
    champion = current()
    decision = gate.decide(request.promote, fitted, tested, card, champion, fitted.options,
                           settings.training.promote_tolerance,
                           lambda: held.champion_rows(store, settings, champion)
                           if champion else None)
    card = replace(card, baseline={name: sha256(data) for name, data in described.items()},
                   test_rows_sha256=sha256(test_rows), gate=decision.to_card())
    folder = publish(store, settings, card, artifact, scorer_bytes,
                     {**described, TEST_ROWS_FILE: test_rows})
    page = report.render(fitted, card, tested)
    store.put_bytes(folder.child(REPORT_FILE), page)
    if request.report_path:
        Path(request.report_path).write_bytes(page)
    say(f"model written to {folder}; report {folder.child(REPORT_FILE)}")
    if decision.promote:
        registry.promote(store, settings, run_id, by=request.by, action="train",
                         reason=decision.reason)
    say(("promoted: " if decision.promote else "not promoted: ") + decision.reason)
    return TrainResult(run_id, str(folder), fitted.predictor, card.metrics,
                       fitted.rows["train"], fitted.rows["test"], fitted.rows["validation"],
                       fitted.search.solver, _selection(fitted, decision), decision.promote,
                       decision.reason, str(folder.child(REPORT_FILE)))


def publish(store: ObjectStore, settings: Settings, card: ModelCard, artifact: bytes,
            scorer: bytes, files: Mapping[str, bytes]) -> S3Uri:
    """Write the artifacts and the other files (the baseline, the test rows), then
    model.json (it names them all by hash). latest.json is the promotion gate's to move,
    never this function's."""
    folder = layout.run_uri(settings.bucket, settings.prefixes, card.run_id)
    store.put_bytes(folder.child(MODEL_FILE), artifact)
    store.put_bytes(folder.child(SCORER_FILE), scorer)
    for name, data in files.items():
        kind = "application/json" if name.endswith(".json") else "application/octet-stream"
        store.put_bytes(folder.child(name), data, {"content-type": kind})
    store.put_bytes(folder.child(CARD_FILE), card.to_json())
    return folder


def _artifacts(fitted: Fitted, request: TrainRequest,
               run_id: str) -> tuple[ModelCard, bytes, bytes, evaluation.Scored]:
    """The card, model.joblib, scorer.json and the test rows scored by that scorer."""
    artifact, digest = dump_pipeline(fitted.pipeline)
    card = ModelCard(run_id=run_id, created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                     predictor_type=fitted.predictor, target=request.target,
                     features=fitted.features, sha256=digest, scorer_sha256="",
                     classes=fitted.classes, versions=runtime_versions(sklearn.__version__),
                     threshold=fitted.search.best.threshold,
                     search=fitted.search.to_card(fitted.options))
    scorer_bytes = scorer_to_json(compile_pipeline(fitted.pipeline, card))
    # Scored once, by the scorer exactly as workers will read it back from scorer.json.
    result = evaluation.scored(scorer_from_json(scorer_bytes, SCORER_FILE), fitted.test,
                               fitted.y_test)
    _self_check(fitted, result.z)
    card = replace(card, scorer_sha256=sha256(scorer_bytes),
                   metrics=evaluation.test_metrics(result))
    return card, artifact, scorer_bytes, result


def _baseline(fitted: Fitted, tested: evaluation.Scored,
              config: MonitoringSettings) -> dict[str, bytes]:
    """Model Monitor's baseline: the training rows' statistics, the test split's scores."""
    scores = prediction_columns(tested.scorer, tested.z)["score"].to_numpy(zero_copy_only=False)
    rows = fitted.described if fitted.described is not None else fitted.test
    statistics, constraints = monitoring.build(rows, tested.scorer, scores, config)
    return {monitoring.STATISTICS_FILE: statistics, monitoring.CONSTRAINTS_FILE: constraints}


def _selection(fitted: Fitted, decision: gate.Decision) -> dict[str, Any]:
    best = fitted.search.best
    return {"criterion": fitted.options.selection_criterion,
            "winner": best.candidate.index, "validation_metric": best.metric,
            "candidates": len(fitted.search.trials), "test_metric": decision.new_metric,
            "current_test_metric": decision.current_metric}


def _self_check(fitted: Fitted, z: np.ndarray) -> None:
    """The scorer's decisions (as workers will compute them) must agree with the pipeline
    before publishing."""
    if not fitted.test.num_rows:
        return
    model, prep = fitted.pipeline.named_steps["model"], fitted.pipeline.named_steps["prep"]
    expected = model.decision_function(prep.transform(frame_of(fitted.test, fitted.features)))
    if not np.allclose(z[:, 0] if z.shape[1] == 1 else z, expected, rtol=1e-7, atol=1e-9):
        raise ModelError("compiled scorer disagrees with the fitted pipeline; not publishing")
