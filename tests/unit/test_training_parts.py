"""The search's pure parts: thresholds, the streaming statistics, the row split, Linear
Learner's record text and the registry's rollback rule."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arq_batch.kernel.errors import ModelError
from arq_batch.models.registry import Promotion, previous_run
from arq_batch.training import selection
from arq_batch.training.encoding import Encoded, codes_of
from arq_batch.training.fitted import linear_learner_csv, uniform
from arq_batch.training.options import SearchOptions
from arq_batch.training.profile import Moments

CRITERIA = ("accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(-6, 6)), min_size=2, max_size=40),
       st.sampled_from(CRITERIA), st.floats(0.05, 1.0))
def test_the_tuned_threshold_is_the_best_cut_by_brute_force(pairs, criterion, target) -> None:
    y = np.array([p[0] for p in pairs], dtype=float)
    z = np.array([p[1] for p in pairs], dtype=float) / 2  # ties on purpose
    options = SearchOptions(selection_criterion=criterion, target_recall=target,
                            target_precision=target, beta=0.5)
    threshold = selection.tune_threshold(options, y, z)
    found = selection.metric(options, y, z[:, None], threshold)
    cuts = np.r_[np.unique(z) - 0.25, z.max() + 0.25]  # every distinct operating point
    best = max(selection.metric(options, y, z[:, None], t) for t in cuts)
    assert found == pytest.approx(best)


def test_short_of_a_target_recall_a_model_ranks_below_every_one_that_meets_it() -> None:
    options = SearchOptions(selection_criterion="precision_at_target_recall", target_recall=0.9)
    y = np.array([1, 1, 1, 1, 0, 0], dtype=float)
    meets = selection.metric(options, y, np.array([[3], [2], [1], [0.5], [0.7], [-1.0]]), 0.0)
    misses = selection.metric(options, y, np.array([[3], [-2], [-1], [-0.5], [-3], [-1.0]]), 0.0)
    assert meets == pytest.approx(0.8) and misses == pytest.approx(0.25 - 1)
    assert selection.better(options.selection_criterion, meets, misses)


@given(st.lists(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))),
                         max_size=30), min_size=1, max_size=6))
def test_moments_merged_batch_by_batch_equal_numpy_over_everything(batches) -> None:
    moments = Moments()
    for batch in batches:
        moments.add(np.array(batch, dtype=float))
    values = np.array([v for b in batches for v in b if not np.isnan(v)])
    assert moments.count == len(values)
    if len(values):
        assert moments.mean == pytest.approx(values.mean(), rel=1e-9, abs=1e-6)
        assert moments.m2 / len(values) == pytest.approx(values.var(), rel=1e-6, abs=1e-3)


def test_the_row_split_does_not_depend_on_batching_and_is_uniform() -> None:
    whole = uniform(np.arange(100_000), seed=7)
    pieces = np.concatenate([uniform(np.arange(a, b), seed=7)
                             for a, b in ((0, 3), (3, 50_000), (50_000, 100_000))])
    assert np.array_equal(whole, pieces)
    assert abs(np.mean(whole < 0.2) - 0.2) < 0.01 and whole.min() >= 0 and whole.max() < 1
    assert not np.array_equal(whole, uniform(np.arange(100_000), seed=8))


def test_linear_learner_text_reads_back_as_the_float32_values() -> None:
    rng = np.random.default_rng(0)
    rows = Encoded(rng.standard_normal((50, 2)) * 1e3,
                   rng.integers(0, 4, (50, 1)).astype(np.int32))  # 3: the all-zeros "other"
    label = rng.integers(0, 3, 50).astype(float)
    text = linear_learner_csv(label, rows, (3,))
    back = np.loadtxt(io.BytesIO(text), delimiter=",")
    assert np.array_equal(back[:, 0], label)
    assert np.array_equal(back[:, 1:].astype(np.float32), rows.dense((3,)).astype(np.float32))
    assert np.array_equal(codes_of(rows.dense((3,)), (3,)).codes, rows.codes)


def _moves(*moves: tuple[str, str | None, str]) -> list[Promotion]:
    return [Promotion("t", "me", action, src, dst, "") for action, src, dst in moves]


def test_rollback_goes_back_one_promotion_at_a_time() -> None:
    history = _moves(("train", None, "a"), ("train", "a", "b"), ("promote", "b", "c"))
    assert previous_run(history, "c") == "b"
    history += _moves(("rollback", "c", "b"))
    assert previous_run(history, "b") == "a"
    history += _moves(("rollback", "b", "a"))
    with pytest.raises(ModelError, match="no earlier promoted run"):
        previous_run(history, "a")
    # A pointer from before records existed counts as the first run.
    assert previous_run(_moves(("train", "old", "new")), "new") == "old"


def test_the_encoder_gives_exactly_what_the_column_transformer_gives() -> None:
    from arq_batch.training import source
    from arq_batch.training.encoding import Encoder
    from arq_batch.training.profile import profile
    from arq_batch.training.streamprep import frame_of, prepare

    from ..conftest import PENGUINS

    raw = source.describe(str(PENGUINS), None)  # type: ignore[arg-type]
    types = source.fixed_types(source.first_schema(raw, None))  # type: ignore[arg-type]
    batches = list(source.batches(raw, None, types))  # type: ignore[arg-type]
    plan = prepare(profile(batches, "species", 0, 100), "species", "auto")
    encoder = Encoder.of(plan.prep, plan.features)
    for batch in batches:  # penguins has missing numbers and categories
        dense = encoder.encode(batch).dense(encoder.widths)
        assert np.array_equal(dense, plan.prep.transform(frame_of(batch, plan.features)))
