"""Fixtures shared by unit and end-to-end tests."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from arq_batch.engine.values import NULL_TOKENS
from arq_batch.kernel.settings import Settings, load_settings
from arq_batch.models.artifacts import ModelCard
from arq_batch.training import estimators
from arq_batch.training.compiler import compile_pipeline
from arq_batch.training.memory import clean
from arq_batch.training.pickles import dump_pipeline

DATA = Path(__file__).resolve().parents[1] / "data"
PENGUINS = DATA / "penguins.csv"
SALARY = DATA / "salary.csv"


@pytest.fixture
def settings() -> Settings:
    """The default settings with a short long-poll, so tests never sit idle for 20 s."""
    base = load_settings({})
    return base.replace(queue_settings=dataclasses.replace(base.queue_settings,
                                                           wait_time_seconds=1))


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
    from arq_batch.kernel.settings import WorkerSettings
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
