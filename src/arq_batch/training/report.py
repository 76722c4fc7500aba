"""``report.html``: one self-contained page per run (inline PNGs, no scripts, no network).

Metrics, the candidate table, learning curves (streaming fits; exact fits are not
iterative, so their page shows each candidate's validation metric instead), confusion
matrix + ROC + precision/recall for classifiers or parity + residuals for regressors, and
the largest coefficients. Plots are matplotlib's, drawn by ``reports.pages``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from sklearn import metrics

from arq_batch.models.artifacts import ModelCard
from arq_batch.reports.pages import Section, Table, html_page, image
from arq_batch.training.evaluation import Scored
from arq_batch.training.fitted import Fitted

TOP_COEFFICIENTS = 20


def render(fitted: Fitted, card: ModelCard, test: Scored) -> bytes:
    """The run's report."""
    kind = fitted.predictor
    plots: list[tuple[str, str, Callable[[Figure], None]]] = [
        ("learning-curves", "Learning curves", lambda fig: _curves(fig, fitted))]
    if kind == "regressor":
        plots += [("parity", "Predicted vs actual", lambda fig: _parity(fig, test)),
                  ("residuals", "Residuals", lambda fig: _residuals(fig, test))]
    else:
        plots.append(("confusion-matrix", "Confusion matrix",
                      lambda fig: _confusion(fig, test, fitted.classes)))
        plots += [("roc", "ROC curve", lambda fig: _roc(fig, test, fitted.classes)),
                  ("precision-recall", "Precision / recall",
                   lambda fig: _pr(fig, test, fitted.classes))]
    plots.append(("coefficients", "Largest coefficients", lambda fig: _coefficients(fig, fitted)))
    sections = [_metrics(card), _gate(card), _candidates(card)]
    sections += [Section(sid, head, plot=image(draw)) for sid, head, draw in plots]
    return html_page(f"arq-batch run {card.run_id}: {kind} for {card.target}", sections)


def _metrics(card: ModelCard) -> Section:
    search = card.search
    threshold = f"; decision threshold {card.threshold:.6g}" if card.threshold else ""
    return Section("metrics", "Test metrics",
                   f"{search.get('reason', '')} ({search.get('solver')} solver){threshold}",
                   table=Table([], list(card.metrics.items()), headed=True))


def _gate(card: ModelCard) -> Section:
    verdict = card.gate
    if not verdict:
        return Section("gate", "Promotion", "not recorded")
    said = "promoted" if verdict.get("promoted") else "not promoted"
    return Section("gate", "Promotion", f"{said}: {verdict.get('reason', '')}")


def _candidates(card: ModelCard) -> Section:
    rows = card.search.get("candidates", [])
    if not rows:
        return Section("candidates", "Model search", "no candidates recorded")
    columns = list(rows[0])
    winner = {i for i, row in enumerate(rows) if row["candidate"] == card.search["winner"]}
    return Section("candidates", "Model search", table=Table(
        columns, [[row.get(c) for c in columns] for row in rows], frozenset(winner)))


def _curves(fig: Figure, fitted: Fitted) -> None:
    ax, trials = fig.subplots(), fitted.search.trials
    winner = fitted.search.winner
    if any(t.curve.get("validation_loss") for t in trials):
        for i, trial in enumerate(trials):
            loss = trial.curve["validation_loss"]
            ax.plot(range(1, len(loss) + 1), loss, lw=2.5 if i == winner else 0.8,
                    label=f"candidate {i}" if i == winner else None)
        ax.set(xlabel="epoch", ylabel="validation loss", yscale="log")
        ax.legend()
        return
    values = [t.metric for t in trials]
    ax.bar(range(len(values)), values, color=["#2a7" if i == winner else "#999"
                                              for i in range(len(values))])
    ax.set(xlabel="candidate (exact solver: not iterative)",
           ylabel=f"validation {fitted.options.selection_criterion}")


def _parity(fig: Figure, test: Scored) -> None:
    ax = fig.subplots()
    ax.scatter(test.y, test.z[:, 0], s=4, alpha=0.5)
    low, high = float(np.min(test.y)), float(np.max(test.y))
    ax.plot([low, high], [low, high], color="k", lw=1)
    ax.set(xlabel="actual", ylabel="predicted")


def _residuals(fig: Figure, test: Scored) -> None:
    ax = fig.subplots()
    ax.scatter(test.z[:, 0], test.y - test.z[:, 0], s=4, alpha=0.5)
    ax.axhline(0, color="k", lw=1)
    ax.set(xlabel="predicted", ylabel="actual - predicted")


def _confusion(fig: Figure, test: Scored, classes: tuple[Any, ...]) -> None:
    ax = fig.subplots()
    labels = [str(c) for c in classes]
    metrics.ConfusionMatrixDisplay(
        metrics.confusion_matrix(test.y, test.predicted, labels=range(len(classes))),
        display_labels=labels).plot(ax=ax, colorbar=False)


def _roc(fig: Figure, test: Scored, classes: tuple[Any, ...]) -> None:
    ax, proba = fig.subplots(), test.probabilities
    for index in _shown(classes):
        truth = test.y == index
        if truth.any() and not truth.all():
            metrics.RocCurveDisplay.from_predictions(truth, proba[:, index], ax=ax,
                                                     name=str(classes[index]))
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--")


def _pr(fig: Figure, test: Scored, classes: tuple[Any, ...]) -> None:
    ax, proba = fig.subplots(), test.probabilities
    for index in _shown(classes):
        truth = test.y == index
        if truth.any():
            metrics.PrecisionRecallDisplay.from_predictions(truth, proba[:, index], ax=ax,
                                                            name=str(classes[index]))


def _shown(classes: tuple[Any, ...]) -> range:
    return range(1, 2) if len(classes) == 2 else range(len(classes))


def _coefficients(fig: Figure, fitted: Fitted) -> None:
    prep, model = fitted.pipeline.named_steps["prep"], fitted.pipeline.named_steps["model"]
    names = np.asarray(prep.get_feature_names_out(), dtype=object)
    weight = np.abs(np.atleast_2d(model.coef_)).max(axis=0)
    top = np.argsort(-weight)[:TOP_COEFFICIENTS][::-1]
    fig.subplots_adjust(left=0.32)  # room for names like "cat__island_Biscoe"
    ax = fig.subplots()
    ax.barh([str(n) for n in names[top]], weight[top])
    ax.set(xlabel="|coefficient| (standardised features; largest over classes)")
