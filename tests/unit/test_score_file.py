"""``score_file``: the worker's engine on local files, with progress by bytes read."""

from __future__ import annotations

import pyarrow.csv as pacsv

from arq_batch.models.artifacts import Model, ModelCard
from arq_batch.worker.score_file import score_file

from ..conftest import PENGUINS


def test_a_local_file_is_scored_with_progress_up_to_the_whole_input(
    species_model, settings, tmp_path,
) -> None:
    _, scorer, _ = species_model
    card = ModelCard("run", "now", "multiclass_classifier", "species", (), "", "")
    seen: list[tuple[int, float | None]] = []
    out = tmp_path / "out.csv"
    rows = score_file(str(PENGUINS), str(out), Model(card, scorer, "local"), store=None,
                      settings=settings, progress=lambda r, done: seen.append((r, done)))
    assert rows.rows == 344 and pacsv.read_csv(out).num_rows == 344
    assert seen[-1] == (344, 1.0)
    assert all(0 < done <= 1 for _, done in seen)
