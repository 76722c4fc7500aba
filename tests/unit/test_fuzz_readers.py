"""Property-based tests of the readers: generated CSV and JSON Lines files, hostile bytes.

Every file ends in a correct output (one row out per row in, every input value kept) or a
clear DataError, never another exception.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import pickle
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from arq_batch.kernel.errors import DataError

from ..conftest import run

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FEATURES = ("species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "sex",
            "year")
CELL = st.one_of(st.text(max_size=12), st.sampled_from(
    ["", "NA", "39.1", " 18.7 ", "1e3", "-0", "Biscoe", 'say "hi"', "a,b", "two\nlines",
     "é", "企鹅", "\r", "nan"]))
EXTRA = st.lists(st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1,
                         max_size=8), max_size=3)


def csv_file(rows: list[list[str]], header: list[str], bom: bool, crlf: bool) -> bytes:
    """RFC 4180. (Python's csv module leaves a lone carriage return unquoted when lines end
    in "\n", which makes another line of it for any reader.)"""
    def field(value: str) -> str:
        quoted = any(c in value for c in ',"\r\n')
        return f'"{value.replace(chr(34), chr(34) * 2)}"' if quoted else value

    end = "\r\n" if crlf else "\n"
    text = "".join(",".join(field(v) for v in row) + end for row in [header, *rows])
    return ("\ufeff" if bom else "").encode() + text.encode()


@FUZZ
@given(data=st.data(), extra=EXTRA, bom=st.booleans(), crlf=st.booleans())
@example(data=None, extra=["island"], bom=False, crlf=False)  # a duplicate header name
def test_any_csv_is_scored_row_for_row_or_refused_clearly(
    tmp_path_factory, mass_model, data, extra: list[str], bom: bool, crlf: bool,
) -> None:
    header = [*FEATURES, *extra]
    rows = [] if data is None else data.draw(st.lists(
        st.lists(CELL, min_size=len(header), max_size=len(header)), min_size=1, max_size=20))
    good = ["Adelie", "Biscoe", "39.1", "18.7", "181", "male", "2007"]
    rows = rows or [[*good, *["x"] * len(extra)]]
    body = csv_file(rows, header, bom, crlf)
    tmp = tmp_path_factory.mktemp("csv")
    try:
        out = run(tmp, "in.csv", body, mass_model[1])
    except DataError as exc:  # only for a value that is no number, or a repeated feature
        reasons = ("non-numeric value", "appear more than once")
        assert any(r in str(exc) for r in reasons) and not (tmp / "out-in.csv").exists(), exc
        return
    written = list(csv.reader(io.StringIO(out.read_bytes().decode(), newline="")))
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
# Found by this test: a list where a category belongs was read as a features array and
# its scoring raised ArrowNotImplementedError instead of a data error.
@example(records=[{"species": None, "island": None, "sex": [], "bill_length_mm": None,
                   "bill_depth_mm": None, "flipper_length_mm": None, "year": None}],
         blank_lines=False)
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


def test_quoted_line_breaks_across_block_boundaries_are_read_as_values(
    tmp_path, mass_model,
) -> None:
    """Found by this file's first test once it really scored: a quoted line break falling at
    a 128 KB block boundary broke pyarrow's reader. 20,000 rows span many blocks."""
    good = ["Adelie", "Biscoe", "39.1", "18.7", "181", "male", "2007"]
    rows = [[*good, f"note {i}\nsecond line, with a comma"] for i in range(20_000)]
    body = csv_file(rows, [*FEATURES, "note"], bom=False, crlf=True)
    written = list(csv.reader(io.StringIO(
        run(tmp_path, "quoted.csv", body, mass_model[1]).read_bytes().decode(), newline="")))
    assert [r[:-1] for r in written[1:]] == rows


def test_ten_thousand_columns_of_wide_rows_are_scored(tmp_path, mass_model) -> None:
    """Rows of ~300 KB, wider than the reader's usual 128 KB block: the block grows."""
    extra = [f"c{i}" for i in range(10_000)]
    row = ["Adelie", "Biscoe", "39.1", "18.7", "181", "male", "2007",
           *[f"value-{i:023d}" for i in range(10_000)]]
    body = csv_file([row] * 3, [*FEATURES, *extra], bom=False, crlf=False)
    written = list(csv.reader(io.StringIO(run(tmp_path, "wide.csv", body, mass_model[1])
                                          .read_text())))
    assert written[0] == [*FEATURES, *extra, "score"]
    assert [r[:-1] for r in written[1:]] == [row] * 3


def test_one_50_mb_line_is_a_clear_data_error(tmp_path, mass_model) -> None:
    header = ",".join(FEATURES).encode() + b"\n"
    short = b"Adelie,Biscoe,39.1,18.7,181,male,2007\n"
    long = b"Adelie,Biscoe," + b"9" * (50 << 20) + b",1,1,male,2007\n"
    body = header + short * 10 + long + short
    with pytest.raises(DataError, match="a row is longer than 131,072 bytes"):
        run(tmp_path, "long.csv", body, mass_model[1])
    with pytest.raises(DataError, match="header or first row is longer than 16,777,216"):
        run(tmp_path, "first.csv", header + body[len(header) + len(short) * 10:],
            mass_model[1])


BOMB = """
import pickle, resource, sys
from pathlib import Path
from arq_batch.kernel.errors import DataError
from tests.conftest import run
scorer = pickle.loads(Path(sys.argv[1]).read_bytes())
try:
    run(Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]).read_bytes(), scorer)
    print("scored")
except DataError as exc:
    print(f"DataError: {exc}")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def peak_mb(tmp_path, scorer_file, name: str, body: bytes) -> tuple[str, int]:
    """Score ``body`` in a fresh process: what happened, and its peak RSS in MB."""
    (tmp_path / "in").write_bytes(body)
    work = tmp_path / name.replace(".", "-")
    work.mkdir()
    result = subprocess.run([sys.executable, "-c", BOMB, str(scorer_file), str(work), name,
                             str(tmp_path / "in")], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    outcome, peak = result.stdout.splitlines()
    return outcome, int(peak)


def test_a_gzip_bomb_is_refused_within_a_few_mb_of_a_normal_job(tmp_path, mass_model) -> None:
    """512 MB of zeros without a line break, 500 KB gzipped; and a bomb of short rows."""
    scorer_file = tmp_path / "scorer.pickle"
    scorer_file.write_bytes(pickle.dumps(mass_model[1]))
    header = ",".join(FEATURES).encode() + b"\n"
    normal, normal_peak = peak_mb(tmp_path, scorer_file, "ok.csv.gz", gzip.compress(
        header + b"Adelie,Biscoe,39.1,18.7,181,male,2007\n" * 5))
    assert normal == "scored"
    for name, head in (("row.csv.gz", header), ("header.csv.gz", b"")):
        packer = zlib.compressobj(6, wbits=31)
        bomb = packer.compress(head) + b"".join(packer.compress(bytes(1 << 20))
                                                for _ in range(512)) + packer.flush()
        outcome, bomb_peak = peak_mb(tmp_path, scorer_file, name, bomb)
        print(f"normal job peak {normal_peak} MB, {name} {bomb_peak} MB ({len(bomb):,} B)")
        assert outcome.startswith("DataError: the header or first row is longer")
        assert bomb_peak - normal_peak < 48
