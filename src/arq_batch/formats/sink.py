"""The byte sink every format writer writes to: an ObjectWriter seen as an Arrow stream."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa

from arq_batch.kernel.ports import ObjectWriter


def sink_for(target: ObjectWriter) -> Any:
    """An Arrow output stream over ``target``; closing it does not commit the target."""
    return pa.PythonFile(_Sink(target), mode="w")


class _Sink(io.RawIOBase):
    """Passes bytes to an ObjectWriter; closing the format's stream must not commit it."""

    def __init__(self, target: ObjectWriter) -> None:
        self._target = target

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self._target.write(bytes(data))
