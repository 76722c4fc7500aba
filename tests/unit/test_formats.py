"""Each file format streams through the engine and comes back in the same format."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import zstandard

from arq_batch.formats import FileFormat, detect
from arq_batch.kernel.errors import DataError

from ..conftest import PENGUINS, run


@pytest.mark.parametrize(("name", "expected"), [
    ("a.csv", FileFormat("csv")), ("a.CSV.gz", FileFormat("csv", "gzip")),
    ("x/a.parquet", FileFormat("parquet")), ("a.jsonl", FileFormat("jsonl")),
    ("a.ndjson.gz", FileFormat("jsonl", "gzip")), ("noext", FileFormat("csv")),
])
def test_format_is_detected_from_the_name(name: str, expected: FileFormat) -> None:
    assert detect(name) == expected





def test_csv_keeps_every_value_as_written(tmp_path: Path, mass_model) -> None:
    body = b"id,island,bill_length_mm,bill_depth_mm,flipper_length_mm,sex,year,species\n" \
           b"007,Biscoe,48.6,16.0,230,male,2008,Gentoo\n" \
           b"008,Dream,NA,18.2,195,,2009,Adelie\n"
    out = pacsv.read_csv(run(tmp_path, "in.csv", body, mass_model[1]),
                         convert_options=pacsv.ConvertOptions(strings_can_be_null=False,
                                                              column_types={"id": pa.string()}))
    assert out.column_names[:8] == ["id", "island", "bill_length_mm", "bill_depth_mm",
                                    "flipper_length_mm", "sex", "year", "species"]
    assert out.column("id").to_pylist() == ["007", "008"]
    assert out.column("bill_depth_mm").to_pylist() == [16.0, 18.2]
    assert out.column_names[-1] == "score" and out.num_rows == 2


CODECS = {".gz": (gzip.compress, gzip.decompress),
          ".zst": (zstandard.compress, lambda data: zstandard.ZstdDecompressor().decompressobj()
                   .decompress(data))}


@pytest.mark.parametrize("suffix", list(CODECS))
@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_compressed_input_comes_back_compressed_the_same_way(
    tmp_path: Path, mass_model, suffix: str, kind: str,
) -> None:
    pack, unpack = CODECS[suffix]
    rows = pacsv.read_csv(PENGUINS)
    body = PENGUINS.read_bytes() if kind == "csv" else "".join(
        json.dumps(r) + "\n" for r in rows.to_pylist()).encode()
    out = unpack(run(tmp_path, f"in.{kind}{suffix}", pack(body), mass_model[1]).read_bytes())
    if kind == "csv":
        assert pacsv.read_csv(io.BytesIO(out)).column_names[-1] == "score"
    assert len(out.splitlines()) == 344 + (kind == "csv")


def test_parquet_comes_back_as_parquet_in_row_order(tmp_path: Path, species_model) -> None:
    buffer = io.BytesIO()
    pq.write_table(pacsv.read_csv(PENGUINS), buffer, row_group_size=50)
    table = pq.read_table(run(tmp_path, "in.parquet", buffer.getvalue(), species_model[1]))
    assert table.num_rows == 344
    assert table.column("species").to_pylist() == pacsv.read_csv(PENGUINS)["species"].to_pylist()
    assert table.column_names[-2:] == ["predicted_label", "score"]


def test_json_lines_keep_their_types(tmp_path: Path, sex_model) -> None:
    rows = pacsv.read_csv(PENGUINS).slice(0, 20).to_pylist()
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    out = [json.loads(line) for line in run(tmp_path, "in.jsonl", body, sex_model[1])
           .read_text().splitlines()]
    assert len(out) == 20 and out[0]["year"] == 2007 and out[0]["predicted_label"] == "male"


@pytest.mark.parametrize(("name", "body", "message"), [
    ("empty.csv", b"", "empty file"),
    ("header.csv", b"island,bill_length_mm\n", "no data rows"),
    ("bad.csv.gz", b"this is not gzip at all", "unreadable gzip compression"),
    ("bad.csv.zst", b"this is not zstd at all", "unreadable zstd compression"),
    ("cut.jsonl.zst", zstandard.compress(PENGUINS.read_bytes())[:-30],
     "unreadable zstd compression"),
    ("bad.parquet", b"PAR1 nonsense", "cannot read PARQUET"),
])
def test_unreadable_inputs_fail_and_leave_no_output(
    tmp_path: Path, mass_model, name: str, body: bytes, message: str,
) -> None:
    with pytest.raises(DataError, match=message):
        run(tmp_path, name, body, mass_model[1])
    assert not (tmp_path / f"out-{name}").exists()
    assert not list(tmp_path.glob(".out-*partial*"))


def test_csv_output_is_unquoted_unless_a_value_needs_quotes(tmp_path: Path, mass_model) -> None:
    head = b"id,island,bill_length_mm,bill_depth_mm,flipper_length_mm,sex,year,species\n"
    plain = run(tmp_path, "plain.csv", head + b"a1,Biscoe,48.6,16.0,230,male,2008,Gentoo\n",
                mass_model[1]).read_bytes()
    assert plain.startswith(head.rstrip() + b",score\na1,Biscoe,48.6,16.0,230,male,2008,Gentoo,")
    tricky = head + b'"x, ""y""",Biscoe,48.6,16.0,230,male,2008,Gentoo\n'
    out = pacsv.read_csv(run(tmp_path, "tricky.csv", tricky, mass_model[1]))
    assert out.column("id").to_pylist() == ['x, "y"']
