"""scorer.json: the compiled pipeline as plain JSON, read back exactly."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from arq_batch.engine.scoring import score
from arq_batch.kernel.errors import ModelError
from arq_batch.models.artifacts import ModelCard, load_model, sha256
from arq_batch.models.scorer_file import scorer_from_json, scorer_to_json


@pytest.mark.parametrize("fixture", ["mass_model", "sex_model", "species_model"])
def test_the_json_scorer_predicts_exactly_what_the_compiled_one_does(fixture, request) -> None:
    _, scorer, x = request.getfixturevalue(fixture)
    batch = pa.RecordBatch.from_pandas(x, preserve_index=False)
    again = scorer_from_json(scorer_to_json(scorer), "scorer.json")
    before, after = score(batch, scorer), score(batch, again)
    assert before.equals(after)  # bit for bit, not approximately
    np.testing.assert_array_equal(again.num_coef, scorer.num_coef)


def test_a_tampered_scorer_is_refused(species_model) -> None:
    _, scorer, _ = species_model
    data = scorer_to_json(scorer)
    card = ModelCard("r", "now", "multiclass_classifier", "species", (), sha256(b"pipeline"),
                     sha256(data))
    assert load_model(card.to_json(), data, b"pipeline", "run").scorer.classes == scorer.classes
    with pytest.raises(ModelError, match=r"sha256 mismatch for run/scorer\.json"):
        load_model(card.to_json(), data.replace(b"0.", b"1.", 1), b"pipeline", "run")
    with pytest.raises(ModelError, match=r"sha256 mismatch for run/model\.joblib"):
        load_model(card.to_json(), data, b"pipelinf", "run")
