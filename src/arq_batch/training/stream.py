"""Training on data bigger than memory: profile in one pass, then split, transform and
spool in a second, then train every candidate over the spool, epoch by epoch.

Memory holds one batch, the profile (moments, capped vocabularies, a sample of rows), the
validation rows and the raw test rows judged at the end: each at most ``held_rows``
(``training.held_rows``), uniform samples when the data has more. The transformed training
rows go to a local spool of float32 files, so later epochs do not parse the input again.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.pipeline import Pipeline

from arq_batch.kernel.errors import DataError
from arq_batch.kernel.ports import ObjectWriter
from arq_batch.training import selection
from arq_batch.training.encoding import Encoded
from arq_batch.training.fitted import Fitted, linear_learner_csv, uniform
from arq_batch.training.options import SearchOptions, candidates
from arq_batch.training.profile import Profile
from arq_batch.training.search import SearchResult, choose, class_weights, judge
from arq_batch.training.sgd import EarlyStopping, Fleet
from arq_batch.training.streamprep import prepare

Say = Callable[[str], None]


def fit(batches: Callable[[], Iterator[pa.RecordBatch]], profile: Profile, target: str,
        predictor_type: str, options: SearchOptions, split: tuple[float, int, int],
        writers: dict[str, ObjectWriter], say: Say) -> Fitted:
    """Profile in hand, split, transform, spool and search; returns the fitted pipeline."""
    plan = prepare(profile, target, predictor_type)
    options = options.checked(plan.predictor)
    test_size, seed, held_rows = split
    shares = _shares(profile.rows, test_size, held_rows)
    with tempfile.TemporaryDirectory(prefix="arq-batch-train-") as folder:
        spool = _Spool(Path(folder))
        held = _split_pass(batches(), plan, shares, seed, spool, writers)
        say(f"split {spool.rows} train / {len(held.y_val)} validation / {held.test_rows} test "
            f"rows; training {options.num_models} {plan.predictor} candidates")
        # Class shares from the validation rows: a uniform sample of the same stream.
        weights = class_weights(held.y_val, plan.predictor, options)
        result = _search(spool, held, plan, options, weights, seed)
    model = result.model(plan.predictor, plan.classes)
    rows = {"train": spool.rows, "validation": len(held.y_val), "test": held.test_rows}
    return Fitted(plan.predictor, plan.features, plan.classes,
                  Pipeline([("prep", plan.prep), ("model", model)]), result,
                  pa.concat_tables(held.test) if held.test else pa.table({}),
                  np.concatenate(held.y_test) if held.y_test else np.zeros(0), rows, options,
                  profile.sample)


class _Spool:
    """Encoded training batches as local .npz files (float32 numbers, int32 codes)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.rows = folder, 0
        self.files: list[Path] = []

    def add(self, x: Encoded, y: np.ndarray) -> None:
        path = self.folder / f"{len(self.files):06d}.npz"
        np.savez(path, numeric=x.numeric.astype(np.float32), codes=x.codes, y=y)
        self.files.append(path)
        self.rows += len(y)

    def read(self, y_fn: Callable[[np.ndarray], np.ndarray],
             weights: np.ndarray | None) -> Iterator[tuple[Any, ...]]:
        for path in self.files:
            with np.load(path) as data:
                x = Encoded(data["numeric"].astype(np.float64), data["codes"])
                y = data["y"]
            w = np.ones(len(y)) if weights is None else weights[y.astype(np.intp)]
            yield x, y_fn(y), w


class _Held:
    def __init__(self) -> None:
        self.x_val: list[Encoded] = []
        self.y_val_parts: list[np.ndarray] = []
        self.test: list[pa.Table] = []
        self.y_test: list[np.ndarray] = []
        self.test_rows = 0

    @property
    def y_val(self) -> np.ndarray:
        return np.concatenate(self.y_val_parts) if self.y_val_parts else np.zeros(0)


def _shares(rows: int, test_size: float, held: int) -> tuple[float, float, float]:
    """Test share, validation share (capped in rows) and the judged test share."""
    validation = min(0.2 * (1 - test_size), held / max(rows, 1))
    judged = test_size * min(1.0, held / max(test_size * rows, 1))
    return test_size, validation, judged


def _split_pass(batches: Iterator[pa.RecordBatch], plan: Any, shares: tuple[float, ...],
                seed: int, spool: _Spool, writers: dict[str, ObjectWriter]) -> _Held:
    test_share, val_share, judged = shares
    held, start, widths = _Held(), 0, plan.encoder.widths
    for batch in batches:
        batch = batch.filter(pc.is_valid(batch.column(plan.target)))
        u = uniform(np.arange(start, start + batch.num_rows), seed)
        start += batch.num_rows
        x = plan.encoder.encode(batch)
        y = plan.encode(batch.column(plan.target))
        test, val = u < test_share, (u >= test_share) & (u < test_share + val_share)
        train = ~(test | val)
        for name, rows in (("train", train), ("validation", val), ("test", test)):
            writers[name].write(linear_learner_csv(y[rows], x.take(rows), widths))
        spool.add(x.take(train), y[train])
        held.x_val.append(x.take(val))
        held.y_val_parts.append(y[val])
        held.test_rows += int(test.sum())
        keep = np.flatnonzero(u < judged)
        held.test.append(pa.Table.from_batches([batch]).take(keep))
        held.y_test.append(y[keep])
    if not spool.rows or not len(held.y_val):
        raise DataError("too few rows to train and validate on")
    return held


def _search(spool: _Spool, held: _Held, plan: Any, options: SearchOptions,
            weights: np.ndarray | None, seed: int) -> SearchResult:
    cands = candidates(options.num_models, spool.rows, seed)
    widths = plan.encoder.widths
    # Validation sees the float32 numbers training reads from the spool.
    encoded = Encoded(np.concatenate([v.numeric for v in held.x_val]).astype(np.float32)
                      .astype(np.float64), np.concatenate([v.codes for v in held.x_val]))
    x_val, y_val = encoded.dense(widths), held.y_val
    mean, std = plan.target_scale
    fleet = Fleet(options.loss, cands, x_val.shape[1], plan.outputs, options.quantile)
    stopper = EarlyStopping(fleet, options.early_stopping_patience,
                            options.early_stopping_tolerance)

    def to_fit(y: np.ndarray) -> np.ndarray:
        return np.asarray((y - mean) / std)  # regressors: standardised; others: (0, 1)

    started = time.perf_counter()
    for epoch in range(1, options.epochs + 1):
        fleet.epoch(spool.read(to_fit, weights), widths)
        losses = selection.loss_matrix(options.loss, to_fit(y_val), fleet.decision(x_val),
                                       options.quantile).mean(axis=0)
        if not stopper.update(losses, epoch):
            break
    seconds = time.perf_counter() - started
    trials = []
    for i, candidate in enumerate(cands):
        coef, intercept = stopper.best_w[i].T * std, stopper.best_b[i] * std
        intercept = intercept + mean
        trials.append(judge(candidate, coef, intercept, x_val, y_val, options, seconds,
                            best_epoch=int(stopper.best_epoch[i]), curve=fleet.curves[i]))
    return choose("streaming", trials, options)

