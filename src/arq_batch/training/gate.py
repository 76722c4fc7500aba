"""The promotion gate: does the new run beat the current one on the new run's test rows?

Both models score the same raw test rows through their compiled scorers (each with its
own preprocessing and threshold), and are judged by the new run's selection criterion.
Runs with other features, another target or predictor type are another model family:
there is nothing to compare, so ``if-better`` promotes them (the reason says so).
"""

from __future__ import annotations

from dataclasses import dataclass

from arq_batch.models.artifacts import Model, ModelCard
from arq_batch.training import selection
from arq_batch.training.evaluation import Scored
from arq_batch.training.fitted import Fitted
from arq_batch.training.options import MINIMISED, SearchOptions

MODES = ("if-better", "always", "never")


@dataclass(frozen=True)
class Decision:
    """Whether to move ``latest.json`` to the new run, and why."""

    promote: bool
    reason: str
    current_run: str | None = None
    new_metric: float | None = None
    current_metric: float | None = None


def decide(mode: str, fitted: Fitted, tested: Scored, card: ModelCard,
           current: Model | None, options: SearchOptions, tolerance: float) -> Decision:
    """Apply ``--promote`` to the new run (``tested``: its test rows, already scored)
    against the current model."""
    if mode == "never":
        return Decision(False, "--promote never")
    if current is None:
        return Decision(True, "first model: nothing to compare with")
    run = current.card.run_id
    if mode == "always":
        return Decision(True, "--promote always", run)
    if not _same_family(card, current.card):
        return Decision(True, f"not comparable with {run} (other features, target or "
                              "predictor type): promoted as a new model family", run)
    new = selection.metric(options, tested.y, tested.z, tested.scorer.threshold)
    old = selection.metric(options, fitted.y_test, current.scorer.decision(fitted.test),
                           current.scorer.threshold)
    margin = tolerance * abs(old)
    criterion = options.selection_criterion
    ok = new <= old + margin if criterion in MINIMISED else new >= old - margin
    verdict = "not worse than" if ok else "worse than"
    return Decision(ok, f"test {criterion} {new:.6g} is {verdict} {run}'s {old:.6g} "
                        f"(tolerance {tolerance:g} relative)", run, new, old)


def _same_family(new: ModelCard, old: ModelCard) -> bool:
    return (new.features, new.target, new.predictor_type, new.classes) == \
        (old.features, old.target, old.predictor_type, old.classes)
