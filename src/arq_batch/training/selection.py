"""Losses, selection metrics and the tuned decision threshold, all from decision values.

Everything here takes ``z``, the linear predictor (what ``LinearScorer.decision`` returns),
so candidates, the promotion gate and the report measure models the way workers score.
Targets are encoded once: regressors a float, binary 0/1 (1 = ``classes[1]``), multiclass
the class index.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_softmax, softmax
from sklearn import metrics

from arq_batch.training.options import MINIMISED, SearchOptions

HUBER_DELTA = 1.35  # in standard deviations of the target, which streaming standardises


def loss_matrix(loss: str, y: np.ndarray, z: np.ndarray, quantile: float = 0.5) -> np.ndarray:
    """Per-row loss of every candidate, (rows, candidates), for z (rows, candidates, k)."""
    if loss == "softmax":
        logp = log_softmax(z, axis=2)
        return -np.take_along_axis(logp, y.astype(np.intp)[:, None, None], axis=2)[:, :, 0]
    z1, yy = z[:, :, 0], y[:, None]
    if loss == "logistic":  # -log sigmoid(+-z), as softplus(z) - y z: one exp per value
        return np.asarray(np.logaddexp(0.0, z1) - yy * z1)
    if loss == "hinge":
        return np.asarray(np.maximum(0.0, 1.0 - (2 * yy - 1) * z1))
    r = yy - z1
    if loss == "squared":
        return np.asarray(0.5 * r * r)
    if loss == "absolute":
        return np.asarray(np.abs(r))
    if loss == "huber":
        a = np.abs(r)
        return np.asarray(np.where(a <= HUBER_DELTA, 0.5 * r * r,
                                   HUBER_DELTA * (a - 0.5 * HUBER_DELTA)))
    return np.asarray(np.maximum(quantile * r, (quantile - 1) * r))  # quantile (pinball)


def loss_gradient(loss: str, y: np.ndarray, z: np.ndarray, quantile: float = 0.5) -> np.ndarray:
    """d loss / d z, the same shape as z."""
    if loss == "softmax":
        grad = softmax(z, axis=2)
        grad[np.arange(len(y)), :, y.astype(np.intp)] -= 1.0
        return np.asarray(grad)
    yy = y[:, None, None]
    if loss == "logistic":
        return np.asarray(expit(z) - yy)
    if loss == "hinge":
        sign = 2 * yy - 1
        return np.where(sign * z < 1.0, -sign, 0.0)
    r = z - yy
    if loss == "squared":
        return np.asarray(r)
    if loss == "absolute":
        return np.asarray(np.sign(r))
    if loss == "huber":
        return np.asarray(np.clip(r, -HUBER_DELTA, HUBER_DELTA))
    return np.where(r > 0, 1 - quantile, -quantile)


def better(criterion: str, a: float, b: float) -> bool:
    """Whether metric value a beats b under the criterion."""
    return a < b if criterion in MINIMISED else a > b


def metric(options: SearchOptions, y: np.ndarray, z: np.ndarray,
           threshold: float = 0.0) -> float:
    """One model's value of the selection criterion; z is (rows, k).

    Short of a target recall (precision), the value is recall - 1 (precision - 1): below
    every model that meets it, and better the closer it gets.
    """
    criterion, loss = options.selection_criterion, options.loss
    if criterion == "loss":
        return float(loss_matrix(loss, y, z[:, None, :], options.quantile).mean())
    if criterion == "rmse":
        return float(np.sqrt(np.mean((y - z[:, 0]) ** 2)))
    if criterion == "mae":
        return float(np.mean(np.abs(y - z[:, 0])))
    predicted = z.argmax(axis=1) if z.shape[1] > 1 else (z[:, 0] > threshold).astype(int)
    if criterion == "accuracy":
        return float(np.mean(predicted == y))
    if criterion == "f1_macro":
        return float(metrics.f1_score(y, predicted, average="macro", zero_division=0))
    if criterion == "f_beta":
        return float(metrics.fbeta_score(y, predicted, beta=options.beta, zero_division=0))
    precision = float(metrics.precision_score(y, predicted, zero_division=0))
    recall = float(metrics.recall_score(y, predicted, zero_division=0))
    if criterion == "precision_at_target_recall":
        return precision if recall >= options.target_recall else recall - 1.0
    return recall if precision >= options.target_precision else precision - 1.0


def tune_threshold(options: SearchOptions, y: np.ndarray, z: np.ndarray) -> float:
    """The decision threshold (on z) that is best for a binary criterion on validation.

    Cuts fall midway between neighbouring distinct scores, so ``z > threshold`` (what the
    scorer does) gives exactly the counted operating point. ``loss`` keeps 0 (p = 0.5).
    """
    criterion = options.selection_criterion
    if criterion == "loss":
        return 0.0
    order = np.argsort(-z, kind="stable")
    zs, ys = z[order], y[order]
    cuts = np.r_[0, np.flatnonzero(zs[:-1] > zs[1:]) + 1, len(zs)]  # k rows predicted 1
    tp = np.r_[0, np.cumsum(ys)][cuts]
    positives, k = ys.sum(), cuts
    fp = k - tp
    precision = tp / np.maximum(k, 1)  # 0 when nothing is predicted, as scikit-learn says
    recall = tp / max(positives, 1)
    value = _criterion_values(options, tp, fp, precision, recall, len(ys), positives)
    best = int(np.argmax(value))  # the first maximum: the highest threshold among equals
    cut = cuts[best]
    if cut == 0:
        return float(zs[0])
    if cut == len(zs):
        return float(np.nextafter(zs[-1], -np.inf))
    return float((zs[cut - 1] + zs[cut]) / 2)


def _criterion_values(options: SearchOptions, tp: np.ndarray, fp: np.ndarray,
                      precision: np.ndarray, recall: np.ndarray, rows: int,
                      positives: float) -> np.ndarray:
    criterion = options.selection_criterion
    if criterion == "accuracy":
        return (tp + (rows - positives - fp)) / rows
    if criterion == "f_beta":
        b2 = options.beta ** 2
        return np.where(precision + recall > 0,
                        (1 + b2) * precision * recall / np.maximum(b2 * precision + recall,
                                                                    1e-300), 0.0)
    if criterion == "precision_at_target_recall":
        return np.where(recall >= options.target_recall, precision, recall - 1.0)
    # recall_at_target_precision; short of the target, the most precise cut comes first
    return np.where((precision >= options.target_precision) & (tp > 0), recall,
                    precision - 1.0)
