"""gzip outputs: compressed on a background thread, yet all-or-nothing like any output."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from arq_batch.formats.compression import CompressingWriter
from arq_batch.stores import local as files


def chunks() -> list[bytes]:
    return [os.urandom(64) * 1000 + f"chunk {i}\n".encode() for i in range(20)]


def test_chunks_come_out_in_order(tmp_path: Path) -> None:
    path = tmp_path / "out.csv.gz"
    writer, written = CompressingWriter(files.LocalWriter(str(path)), "gzip", level=1), chunks()
    for chunk in written:
        writer.write(chunk)
    writer.close()
    assert gzip.decompress(path.read_bytes()) == b"".join(written)


def test_an_aborted_output_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.csv.gz"
    writer = CompressingWriter(files.LocalWriter(str(path)), "gzip", level=9)
    for chunk in chunks():
        writer.write(chunk)
    writer.abort()
    assert list(tmp_path.iterdir()) == []


class FailingTarget(files.LocalWriter):
    """A target whose upload breaks after its first part, as a lost connection would."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.writes = 0

    def write(self, data: bytes) -> int:
        self.writes += 1
        if self.writes > 1:
            raise ConnectionError("upload failed")
        return super().write(data)


def test_a_failed_write_surfaces_in_the_caller(tmp_path: Path) -> None:
    writer = CompressingWriter(FailingTarget(str(tmp_path / "out.gz")), "gzip", level=1)
    with pytest.raises(ConnectionError, match="upload failed"):
        for chunk in chunks():
            writer.write(chunk)
        writer.close()
    writer.abort()
    assert list(tmp_path.iterdir()) == []
