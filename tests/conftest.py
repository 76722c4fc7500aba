"""Fixtures shared by unit and end-to-end tests."""

from __future__ import annotations

import dataclasses
import json
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from arq_batch.engine.values import NULL_TOKENS
from arq_batch.kernel.settings import Settings, load_settings
from arq_batch.models.artifacts import ModelCard
from arq_batch.stores.memory import MemoryStore
from arq_batch.stores.memory_queue import MemoryQueue
from arq_batch.training import estimators
from arq_batch.training.compiler import compile_pipeline
from arq_batch.training.memory import clean
from arq_batch.training.pickles import dump_pipeline

from . import stories

DATA = Path(__file__).resolve().parents[1] / "data"
PENGUINS = DATA / "penguins.csv"
SALARY = DATA / "salary.csv"


@pytest.fixture
def settings(tmp_path) -> Settings:
    """The default settings with a short long-poll, so tests never sit idle for 20 s."""
    base = load_settings({})
    return base.replace(queue_settings=dataclasses.replace(base.queue_settings,
                                                           wait_time_seconds=1),
                        worker=dataclasses.replace(base.worker,
                                                   heartbeat_file=str(tmp_path / "beat")))


@pytest.fixture
def bucket(settings) -> MemoryStore:
    """The configured bucket, in memory (``arq_batch.stores.memory``): no server at all."""
    return MemoryStore([settings.bucket])


@pytest.fixture
def queue(settings) -> MemoryQueue:
    """The job queue and its dead-letter queue, in memory, with the configured policy."""
    q = settings.queue_settings
    return MemoryQueue(q.visibility_timeout, q.max_receive_count)


@pytest.fixture
def s3_event(queue, settings):
    """``s3_event(key)``: S3's notification of an upload, enqueued as S3 would."""
    def notify(*keys: str) -> str:
        return queue.send(json.dumps(stories.s3_event(*keys, bucket=settings.bucket)))

    return notify


@pytest.fixture(scope="session")
def species_fit():
    """A fitted species classifier and its card (no AWS, no baseline)."""
    return fit("species")


@pytest.fixture
def tiny_model(bucket, settings, species_fit) -> str:
    """The species classifier published into ``bucket`` as ``train`` does; its run id."""
    return stories.publish_model(bucket, settings, species_fit)


def fit(target: str, predictor: str = "auto", path: Path = PENGUINS):
    """A fitted pipeline and its card, without any AWS: what training publishes."""
    frame = clean(pd.read_csv(path, keep_default_na=False, na_values=list(NULL_TOKENS)), target)
    kind = estimators.choose_predictor(frame[target], predictor)
    features = estimators.features_of(frame, target)
    pipeline = estimators.build_pipeline(features, kind)
    x = frame[[f.name for f in features]]
    pipeline.fit(x, frame[target])
    classes = tuple(getattr(pipeline.named_steps["model"], "classes_", ()))
    _, digest = dump_pipeline(pipeline)
    card = ModelCard("test-run", "2026-01-01T00:00:00+00:00", kind, target, features, digest,
                     "", tuple(c.item() if hasattr(c, "item") else c for c in classes))
    return pipeline, card, x


@pytest.fixture(scope="session")
def species_model():
    """Multiclass: penguin species from measurements, island and sex."""
    pipeline, card, x = fit("species")
    return pipeline, compile_pipeline(pipeline, card), x


@pytest.fixture(scope="session")
def sex_model():
    """Binary: penguin sex."""
    pipeline, card, x = fit("sex")
    return pipeline, compile_pipeline(pipeline, card), x


@pytest.fixture(scope="session")
def mass_model():
    """Regressor: body mass."""
    pipeline, card, x = fit("body_mass_g")
    return pipeline, compile_pipeline(pipeline, card), x


def run(tmp_path: Path, name: str, body: bytes, scorer, shape=None) -> Path:
    """Score ``body`` as a local file called ``name`` with the worker's engine; the output.

    ``shape`` (a ``core.shaping.Shape``) carries job options: formats, filters, join."""
    from arq_batch.engine.filestream import Source, transform
    from arq_batch.formats import detect
    from arq_batch.kernel.fleet_settings import WorkerSettings
    from arq_batch.stores import local as files

    source, target = tmp_path / name, tmp_path / f"out-{name}"
    source.write_bytes(body)
    opener = partial(files.open_file, str(source))
    transform(Source(detect(name), opener, opener), files.LocalWriter(str(target)), scorer,
              WorkerSettings(batch_rows=100), shape=shape)
    return target


def numeric_penguins(tmp_path_factory) -> Path:
    """The penguins without their text columns but the target: what RecordIO can carry."""
    path = tmp_path_factory.mktemp("numeric") / "penguins.csv"
    pd.read_csv(PENGUINS).drop(columns=["island", "sex"]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def numeric_species_model(tmp_path_factory):
    """Multiclass on the four measurements only, with its card."""
    pipeline, card, x = fit("species", path=numeric_penguins(tmp_path_factory))
    return pipeline, compile_pipeline(pipeline, card), x, card
