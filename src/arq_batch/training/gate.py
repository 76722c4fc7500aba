"""The promotion gate: is the new run not worse than the current one, on the new run's
test rows and on the current one's own (``held``)?

Both models score the same raw test rows through their compiled scorers (each with its
own preprocessing and threshold), and are judged by the new run's selection criterion.
The new run's test rows alone can be fooled: labels corrupted upstream make every model
score alike on them, so the current model's own test rows, kept with its run, judge too.
Runs with other features, another target or predictor type are another model family:
there is nothing to compare, so ``if-better`` promotes them (the reason says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from arq_batch.models.artifacts import Model, ModelCard
from arq_batch.training import selection
from arq_batch.training.evaluation import Scored
from arq_batch.training.fitted import Fitted
from arq_batch.training.held import HeldRows
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

    def to_card(self) -> dict[str, Any]:
        """What model.json records of it (``models show``, the report)."""
        return {"promoted": self.promote, "reason": self.reason,
                "held_against": self.current_run}


def decide(mode: str, fitted: Fitted, tested: Scored, card: ModelCard,
           current: Model | None, options: SearchOptions, tolerance: float,
           held_rows: Callable[[], HeldRows | None] = lambda: None) -> Decision:
    """Apply ``--promote`` to the new run (``tested``: its test rows, already scored)
    against the current model (``held_rows``: its own test rows, if it kept them; read
    only when there is something to compare)."""
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
    ok, reason = _judged(options, new, old, tolerance, f"test {{}} {{:.6g}} is {{}} {run}'s")
    held = held_rows()
    if held is None:
        return Decision(ok, f"{reason}; {run} kept no test rows to judge on", run, new, old)
    mine = selection.metric(options, held.y, tested.scorer.decision(held.table),
                            tested.scorer.threshold)
    theirs = selection.metric(options, held.y, current.scorer.decision(held.table),
                              current.scorer.threshold)
    held_ok, held_reason = _judged(options, mine, theirs, tolerance,
                                   f"on {run}'s own test rows {{}} {{:.6g}} is {{}} its")
    return Decision(ok and held_ok, f"{reason}; {held_reason}", run, new, old)


def _judged(options: SearchOptions, new: float, old: float, tolerance: float,
            template: str) -> tuple[bool, str]:
    """Whether ``new`` is not worse than ``old`` beyond the tolerance, and the sentence."""
    margin = tolerance * abs(old)
    criterion = options.selection_criterion
    ok = new <= old + margin if criterion in MINIMISED else new >= old - margin
    verdict = "not worse than" if ok else "worse than"
    return ok, (template.format(criterion, new, verdict) +
                f" {old:.6g} (tolerance {tolerance:g} relative)")


def _same_family(new: ModelCard, old: ModelCard) -> bool:
    return (new.features, new.target, new.predictor_type, new.classes) == \
        (old.features, old.target, old.predictor_type, old.classes)
