"""The promotion gate cannot be fooled by the new run's own test rows (issue 31, item 1):
a run is also held against the current model's test rows, kept with its run. Real
training on the penguins, into the in-memory store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from arq_batch.kernel.layout import TEST_ROWS_FILE
from arq_batch.kernel.uris import S3Uri
from arq_batch.models.store import ModelStore
from arq_batch.training.pipeline import TrainRequest, TrainResult, train

from ..conftest import PENGUINS


@pytest.fixture
def trainer(bucket, settings, tmp_path):
    """``trainer(frame, target)``: train on ``frame`` with ``--promote if-better``."""
    def run(frame: pd.DataFrame, target: str, name: str) -> TrainResult:
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        models = ModelStore(bucket, settings)
        return train(TrainRequest(str(path), target), bucket, settings,
                     current=lambda: models.get() if models.latest_run_id() else None)

    return run


def penguins() -> pd.DataFrame:
    return pd.read_csv(PENGUINS)


def test_a_run_trained_on_shuffled_labels_is_refused(trainer, bucket) -> None:
    champion = trainer(penguins(), "sex", "good")
    assert champion.promoted
    # Labels corrupted upstream: the sex column shuffled. On its own (shuffled) test rows
    # the champion scores as badly as the new run, so that comparison alone says "not
    # worse"; on the champion's own test rows the new run is far worse.
    frame = penguins()
    frame["sex"] = np.random.default_rng(0).permutation(frame["sex"].to_numpy())
    shuffled = trainer(frame, "sex", "shuffled")
    assert not shuffled.promoted, shuffled.promotion
    own, held = shuffled.promotion.split("; ")
    assert "is not worse than" in own and "own test rows" in held and "is worse than its" in held
    folder = S3Uri("arq-batch-s3", f"model/output/{champion.run_id}/")
    assert bucket.get_bytes(folder.child(TEST_ROWS_FILE))  # kept with the champion's run
    # The verdict is in the refused run's card (models show) and its report.
    refused = S3Uri("arq-batch-s3", f"model/output/{shuffled.run_id}/")
    recorded = json.loads(bucket.get_bytes(refused.child("model.json")))["gate"]
    assert recorded == {"promoted": False, "reason": shuffled.promotion,
                        "held_against": champion.run_id}
    page = bucket.get_bytes(refused.child("report.html")).decode()
    assert "not promoted:" in page and "own test rows" in page


def test_a_run_on_a_tenth_of_the_data_is_refused(trainer) -> None:
    frame = penguins()
    champion = trainer(frame, "sex", "all")
    small = trainer(frame.sample(frac=0.1, random_state=1), "sex", "tenth")
    assert champion.promoted and not small.promoted, small.promotion
    assert "own test rows" in small.promotion and "is worse than its" in small.promotion


def test_a_genuinely_better_run_is_still_promoted(trainer) -> None:
    frame = penguins()
    small = trainer(frame.sample(frac=0.1, random_state=1), "sex", "tenth")
    better = trainer(frame, "sex", "all")
    assert small.promoted and better.promoted, better.promotion
    own, held = better.promotion.split("; ")
    assert "is not worse than" in own and "is not worse than its" in held
