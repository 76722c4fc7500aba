"""Local files as the ports see objects: a writer that renames into place on ``close``
(so a file appears whole or not at all) and a folder of small files (``score``'s
monitoring files beside its output)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from arq_batch.kernel.errors import MissingObject


def open_file(path: str) -> BinaryIO:
    """Open a local input; MissingObject if it is not there."""
    try:
        return open(path, "rb")
    except FileNotFoundError as exc:
        raise MissingObject(f"input not found: {path}") from exc


def file_size(path: str) -> int:
    """The input's size in bytes; MissingObject if it is not there."""
    try:
        return os.path.getsize(path)
    except FileNotFoundError as exc:
        raise MissingObject(f"input not found: {path}") from exc


class LocalWriter:
    """Writes beside the target and renames on close, so the file appears whole or not at all."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._partial = self._path.with_name(f".{self._path.name}.partial-{os.getpid()}")
        self._file: BinaryIO | None = open(self._partial, "wb")  # noqa: SIM115

    def write(self, data: bytes) -> int:
        assert self._file is not None
        return self._file.write(data)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            os.replace(self._partial, self._path)

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._partial.unlink(missing_ok=True)


class LocalFolder:
    """Model Monitor files beside a local output (``score``), each written whole."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def put(self, name: str, data: bytes) -> None:
        writer = LocalWriter(str(self.path / name))
        writer.write(data)
        writer.close()

    def delete(self, name: str) -> None:
        (self.path / name).unlink(missing_ok=True)
