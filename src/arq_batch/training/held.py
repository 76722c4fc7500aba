"""A run's test rows, kept with it, so the promotion gate can hold later runs against them.

A new run is judged on its own test rows, and those can be wrong: labels corrupted
upstream make every model look alike on them (a champion scores as badly as the new run
on shuffled labels). So each run keeps its raw test rows and encoded target beside its
artifacts, named by hash in its card, and a later run must also not be worse than the
champion on the champion's own test rows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from arq_batch.kernel import layout
from arq_batch.kernel.errors import MissingObject
from arq_batch.kernel.layout import TEST_ROWS_FILE
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.settings import Settings
from arq_batch.models.artifacts import Model, verify

TARGET = "\x00target"  # the encoded target's column: no input column can be named so


@dataclass(frozen=True)
class HeldRows:
    """Raw test rows and their encoded target."""

    table: pa.Table
    y: np.ndarray


def to_parquet(rows: pa.Table, y: np.ndarray) -> bytes:
    """``test_rows.parquet``: the rows as read, and the target as the run encoded it."""
    sink = io.BytesIO()
    pq.write_table(rows.append_column(TARGET, pa.array(y)), sink, compression="zstd")
    return sink.getvalue()


def champion_rows(store: ObjectStore, settings: Settings, champion: Model) -> HeldRows | None:
    """The champion's test rows, verified against its card (None: it kept none)."""
    digest = champion.card.test_rows_sha256
    if not digest:
        return None
    uri = layout.run_uri(settings.bucket, settings.prefixes, champion.card.run_id)
    try:
        data = store.get_bytes(uri.child(TEST_ROWS_FILE))
    except MissingObject:
        return None
    verify(data, digest, TEST_ROWS_FILE)
    table = pq.read_table(io.BytesIO(data))
    y = table.column(TARGET).to_numpy()
    return HeldRows(table.drop_columns([TARGET]), y)
