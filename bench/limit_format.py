"""The limit of one format: whole file in, scored, same format out, all in memory.

``python bench/limit_format.py FILE SCORER_JSON``: what pyarrow alone (and the numpy
scoring core) needs for the file, with nothing of the worker around it; bench/formats.py
runs it as a subprocess to time it and sample its memory. JSON Lines has no pyarrow
writer: its lines are built with the same Arrow string kernels the worker uses.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
import zstandard

from arq_batch.engine.scoring import LinearScorer, score
from arq_batch.formats import detect
from arq_batch.formats.jsonl import RAW, split_lines
from arq_batch.formats.jsonl_writer import Writer
from arq_batch.models.scorer_file import scorer_from_json


def decompressed(path: str) -> bytes:
    raw, codec = Path(path).read_bytes(), detect(path).compression
    if codec == "gzip":
        return gzip.decompress(raw)
    return zstandard.ZstdDecompressor().decompressobj().decompress(raw) if codec else raw


def scored_bytes(path: str, body: bytes, scorer: LinearScorer) -> bytes:
    kind, out = detect(path).kind, pa.BufferOutputStream()
    if kind == "parquet":
        table = pq.read_table(pa.BufferReader(body))
        pq.write_table(pa.Table.from_batches([score(b, scorer) for b in table.to_batches()]),
                       out)
    elif kind == "csv":
        table = pacsv.read_csv(pa.BufferReader(body))
        pacsv.write_csv(pa.Table.from_batches([score(b, scorer) for b in table.to_batches()]),
                        out)
    else:
        table, lines = pajson.read_json(pa.BufferReader(body)), split_lines(body)
        writer = Writer(out)
        for batch in table.to_batches():
            scored, rows = score(batch, scorer), lines.slice(0, batch.num_rows)
            lines = lines.slice(batch.num_rows)
            predictions = scored.schema.names[batch.num_columns:]
            writer.write(pa.RecordBatch.from_arrays(
                [rows, *(scored.column(n) for n in predictions)], [RAW, *predictions]))
    return bytes(out.getvalue())


def main(path: str, scorer_path: str) -> None:
    scorer = scorer_from_json(Path(scorer_path).read_bytes(), scorer_path)
    data = scored_bytes(path, decompressed(path), scorer)
    codec = detect(path).compression
    if codec == "gzip":  # at the worker's default levels
        zlib.compress(data, 1, wbits=31)
    elif codec == "zstd":
        zstandard.ZstdCompressor(level=3).compress(data)


if __name__ == "__main__":
    main(*sys.argv[1:3])
