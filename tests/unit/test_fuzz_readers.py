"""Property-based tests of the readers: generated CSV and JSON Lines files, hostile bytes.

Every file ends in a correct output (one row out per row in, every input value kept) or a
clear DataError, never another exception.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from arq_batch.core.errors import DataError

from ..conftest import run

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FEATURES = ("island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "sex", "year")
CELL = st.one_of(st.text(max_size=12), st.sampled_from(
    ["", "NA", "39.1", " 18.7 ", "1e3", "-0", "Biscoe", 'say "hi"', "a,b", "two\nlines",
     "é", "企鹅", "\r", "nan"]))
EXTRA = st.lists(st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1,
                         max_size=8), max_size=3)


def csv_file(rows: list[list[str]], header: list[str], bom: bool, crlf: bool) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if crlf else "\n").writerows([header, *rows])
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


@FUZZ
@given(data=st.data(), extra=EXTRA, bom=st.booleans(), crlf=st.booleans())
@example(data=None, extra=["island"], bom=False, crlf=False)  # a duplicate header name
def test_any_csv_is_scored_row_for_row_or_refused_clearly(
    tmp_path_factory, mass_model, data, extra: list[str], bom: bool, crlf: bool,
) -> None:
    header = [*FEATURES, *extra]
    rows = [] if data is None else data.draw(st.lists(
        st.lists(CELL, min_size=len(header), max_size=len(header)), min_size=1, max_size=20))
    rows = rows or [["Biscoe", "39.1", "18.7", "181", "male", "2007", *["x"] * len(extra)]]
    body = csv_file(rows, header, bom, crlf)
    tmp = tmp_path_factory.mktemp("csv")
    try:
        out = run(tmp, "in.csv", body, mass_model[1])
    except DataError as exc:
        assert str(exc) and not (tmp / "out-in.csv").exists()
        return
    text = out.read_text()
    written = list(csv.reader(io.StringIO(text)))
    assert written[0] == [*header, "score"]
    # every input value comes back as it went in, then a number
    assert [r[:-1] for r in written[1:]] == rows
    assert all(float(r[-1]) == float(r[-1]) for r in written[1:])


@FUZZ
@given(records=st.lists(st.dictionaries(
    st.sampled_from([*FEATURES, "id", "meta"]),
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False,
                                                                       allow_infinity=False)
    | st.text(max_size=8) | st.lists(st.integers() | st.text(max_size=3), max_size=3)),
    min_size=1, max_size=15), blank_lines=st.booleans())
def test_any_json_lines_file_is_scored_line_for_line_or_refused_clearly(
    tmp_path_factory, mass_model, records: list[dict], blank_lines: bool,
) -> None:
    body = ("\n\n" if blank_lines else "\n").join(json.dumps(r) for r in records) + "\n"
    tmp = tmp_path_factory.mktemp("jsonl")
    try:
        out = run(tmp, "in.jsonl", body.encode(), mass_model[1])
    except DataError as exc:
        assert str(exc) and not (tmp / "out-in.jsonl").exists()
        return
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == len(records)
    for line, record in zip(lines, records, strict=True):
        assert {k: line[k] for k in record} == record and "score" in line


@pytest.mark.parametrize("body", [
    b"island,year\n" + "Biscoe,2007\n".encode("utf-16"),
    "island,bill_length_mm\nBiscoé,39.1\n".encode("latin-1"),
])
def test_bytes_that_are_not_utf8_are_a_data_error(tmp_path, mass_model, body: bytes) -> None:
    with pytest.raises(DataError):
        run(tmp_path, "in.csv", body, mass_model[1])
