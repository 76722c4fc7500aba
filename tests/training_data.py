"""Raw training data of any size, written in chunks: 10 numeric and 2 categorical columns
and a binary target drawn from a known logistic model (so a good fit is recognisable)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

CHUNK_ROWS = 500_000
WEIGHTS = np.array([1.2, -0.8, 0.5, 0.0, 2.0, -1.5, 0.3, 0.9, -0.4, 0.1])
COLOURS = np.array([f"colour_{i}" for i in range(8)])
SHOPS = np.array([f"shop_{i:03d}" for i in range(60)])


def chunk(rows: int, rng: np.random.Generator) -> pa.Table:
    """``rows`` rows; x3 and colour have about 1% missing values."""
    standard = rng.standard_normal((rows, len(WEIGHTS)))
    colour, shop = rng.integers(0, len(COLOURS), rows), rng.integers(0, len(SHOPS), rows)
    logit = standard @ WEIGHTS + (colour - 3.5) * 0.4 + np.sin(shop) * 0.8
    label = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    columns = {f"x{j}": np.round(standard[:, j] * (j + 1) + 10 * j, 4) for j in range(len(WEIGHTS))}
    x3 = pa.array(columns["x3"], mask=rng.random(rows) < 0.01)
    colour_text = pa.array(COLOURS[colour], mask=rng.random(rows) < 0.01)
    return pa.table({**columns, "x3": x3, "colour": colour_text, "shop": SHOPS[shop],
                     "label": label})


def write(path: Path, rows: int, seed: int = 0) -> Path:
    """The CSV with a header, ``rows`` rows, in bounded memory."""
    rng = np.random.default_rng(seed)
    with pacsv.CSVWriter(str(path), chunk(1, rng).schema) as writer:
        for start in range(0, rows, CHUNK_ROWS):
            writer.write_table(chunk(min(CHUNK_ROWS, rows - start), rng))
    return path
