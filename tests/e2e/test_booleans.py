"""Booleans, one rule: trained as numbers 0/1 and marked in the card; scored from any
spelling of a boolean in every format for such a feature, and refused where the model
was trained on numbers (CSV, JSON Lines, Parquet and the endpoint alike)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from arq_batch.aws.s3 import S3Store
from arq_batch.kernel.settings import load_settings
from arq_batch.models.store import ModelStore, open_model
from arq_batch.serving.invocations import RequestError, invocations

from ..conftest import PENGUINS
from .conftest import cli


@pytest.fixture
def frame() -> pd.DataFrame:
    """The penguins with a boolean column that matters (pandas writes it True/False)."""
    data = pd.read_csv(PENGUINS)
    data["tagged"] = (data["species"] == "Gentoo") & (np.arange(len(data)) % 5 != 0)
    return data


@pytest.fixture
def trained(config_file, frame, tmp_path) -> str:
    path = tmp_path / "tagged.csv"
    frame.to_csv(path, index=False)
    cli("provision")
    result = cli("train", "--data", str(path), "--target", "species", "--num-models", "2",
                 "--json")
    return str(json.loads(result.stdout)["run_id"])


def _score(tmp_path, name: str) -> list[str]:
    out = tmp_path / f"out-{name}"
    cli("score", "--input", str(tmp_path / name), "--output", str(out))
    if name.endswith(".parquet"):
        return list(pq.read_table(out).column("predicted_label").to_pylist())
    if name.endswith(".jsonl"):
        return [json.loads(line)["predicted_label"] for line in out.read_text().splitlines()]
    return list(pacsv.read_csv(out).column("predicted_label").to_pylist())


def test_a_boolean_column_trains_and_scores_alike_in_every_format(trained, frame,
                                                                   tmp_path) -> None:
    card = json.loads(S3Store(load_settings().encryption).get_bytes(
        ModelStore(S3Store(load_settings().encryption), load_settings()).latest_uri()
        .child("model.json")))
    assert {"name": "tagged", "type": "numeric", "boolean": True} in card["features"]
    rows = frame.drop(columns=["species"])
    text = rows.assign(tagged=rows["tagged"].map({True: "TRUE", False: "false"}))
    text.to_csv(tmp_path / "spelled.csv", index=False)
    rows.to_json(tmp_path / "in.jsonl", orient="records", lines=True)
    rows.to_parquet(tmp_path / "in.parquet")
    labels = {name: _score(tmp_path, name) for name in ("spelled.csv", "in.jsonl",
                                                        "in.parquet")}
    assert labels["spelled.csv"] == labels["in.jsonl"] == labels["in.parquet"]


@pytest.mark.parametrize("name", ["in.jsonl", "in.parquet", "in.csv"])
def test_a_boolean_where_a_number_was_trained_is_a_data_error(trained, frame, tmp_path,
                                                             name) -> None:
    rows = frame.drop(columns=["species"]).assign(year=frame["year"] % 2 == 0)
    {"in.jsonl": lambda p: rows.to_json(p, orient="records", lines=True),
     "in.parquet": rows.to_parquet, "in.csv": lambda p: rows.to_csv(p, index=False)}[name](
        tmp_path / name)
    result = cli("score", "--input", str(tmp_path / name), "--output",
                 str(tmp_path / f"out-{name}"), check=False)
    assert result.returncode == 1, result.stderr
    assert "year" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / f"out-{name}").exists()


def test_the_endpoint_keeps_the_same_rule_strips_a_bom_and_refuses_huge_numbers(
        trained) -> None:
    settings = load_settings()
    model = open_model(ModelStore(S3Store(settings.encryption), settings), None)
    order = model.card.feature_names
    row = {"island": "Biscoe", "bill_length_mm": 47.0, "bill_depth_mm": 15.0,
           "flipper_length_mm": 215, "body_mass_g": 5000, "sex": "male", "year": 2008}

    def call(body: bytes, media: str = "application/json") -> bytes:
        return invocations(body, media, "application/json", model.scorer, order)[0]

    def instance(**changes: object) -> bytes:
        return json.dumps({"instances": [row | {"tagged": True} | changes]}).encode()

    assert call(instance()) == call(instance(tagged="true")) == call(instance(tagged=1))
    for bad in ({"tagged": "maybe"}, {"year": True}, {"year": int("9" * 401)}):
        with pytest.raises(RequestError) as refused:
            call(instance(**bad))
        assert refused.value.status == 400
    line = ",".join(str((row | {"tagged": "True"})[n]) for n in order).encode()
    assert call(b"\xef\xbb\xbf" + line, "text/csv") == call(line, "text/csv")
