"""JSON Lines: only the model's fields are parsed; every other field passes through as is."""

from __future__ import annotations

import json
import random

import pyarrow.csv as pacsv
import pytest

from arq_batch.engine.scoring import score
from arq_batch.kernel.errors import DataError

from ..conftest import PENGUINS, run

ODD_VALUES = [None, 0, -1.5e-300, 2**53, "", "çà ✓ 企鹅", "line\nbreak \"quoted\"", True,
              [1, "two", {"three": [None, 3.5]}], {"a": [1, 2, {"b": None}]}, [], {}]




def penguin_records(count: int, seed: int = 0) -> list[dict]:
    """Penguin rows, each with unused fields of any JSON shape."""
    rng = random.Random(seed)
    rows = pacsv.read_csv(PENGUINS).to_pylist()
    out = []
    for i in range(count):
        record = {"id": i, "meta": rng.choice(ODD_VALUES), **rows[i % len(rows)],
                  "note": rng.choice(ODD_VALUES), "tags": [rng.choice(ODD_VALUES)]}
        out.append(record)
    return out


def test_every_input_field_survives_exactly_then_the_predictions(tmp_path, species_model) -> None:
    # Given 1,000 lines with mixed types, nulls, unicode, nested objects and arrays of mixed
    # types in fields the model does not use
    records = penguin_records(1000)
    body = "".join(json.dumps(r, ensure_ascii=bool(i % 2)) + "\n"
                   for i, r in enumerate(records)).encode()
    # When they are scored
    lines = run(tmp_path, "in.jsonl", body, species_model[1]).read_text().splitlines()
    # Then each output line parses to the input object plus the two prediction fields
    expected = score(pacsv.read_csv(PENGUINS).to_batches()[0], species_model[1]).to_pylist()
    assert len(lines) == 1000
    for i, (line, record) in enumerate(zip(lines, records, strict=True)):
        out = json.loads(line)
        assert list(out) == [*record, "predicted_label", "score"]
        assert {k: out[k] for k in record} == record
        assert out["predicted_label"] == expected[i % 344]["predicted_label"]
        assert out["score"] == pytest.approx(expected[i % 344]["score"], rel=1e-15)


def test_a_field_whose_type_changes_between_lines_is_still_read(tmp_path, mass_model) -> None:
    rows = pacsv.read_csv(PENGUINS).slice(0, 3).to_pylist()
    rows[1]["year"], rows[2]["island"] = "2008", 7  # a number as text, a category as a number
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    out = [json.loads(x) for x in run(tmp_path, "in.jsonl", body, mass_model[1]).read_text()
           .splitlines()]
    assert [o["year"] for o in out] == [2007, "2008", 2007] and len(out) == 3


def test_blank_lines_a_bom_and_crlf_are_tolerated(tmp_path, mass_model) -> None:
    rows = pacsv.read_csv(PENGUINS).slice(0, 2).to_pylist()
    body = b"\xef\xbb\xbf" + b"\r\n\r\n".join(json.dumps(r).encode() for r in rows) + b"\r\n"
    out = run(tmp_path, "in.jsonl", body, mass_model[1]).read_text().splitlines()
    assert [json.loads(x)["species"] for x in out] == ["Adelie", "Adelie"]


@pytest.mark.parametrize(("body", "message"), [
    (b'{"island": "Biscoe"}\n', "missing column"),
    (b'{"island": "Biscoe", "score": 1}\n', "already has a field named 'score'"),
    (b'{"island": "Biscoe"\n', "cannot read JSONL"),
    (b'[1, 2]\n', "cannot read JSONL"),
])
def test_bad_json_lines_are_data_errors(tmp_path, mass_model, body: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        run(tmp_path, "bad.jsonl", body, mass_model[1])
    assert not (tmp_path / "out-bad.jsonl").exists()
