"""The pure scoring core equals the fitted pipeline's own predict / predict_proba."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from arq_batch.engine.scoring import score
from arq_batch.engine.values import InvalidValues
from arq_batch.kernel.errors import DataError


def as_text_batch(frame) -> pa.RecordBatch:
    """What the CSV reader hands the scorer: every column as text, 'NA' for missing."""
    text = frame.astype(object).where(frame.notna(), "NA").astype(str)
    return pa.RecordBatch.from_pandas(text, preserve_index=False)


def test_regressor_scores_equal_predict(mass_model) -> None:
    pipeline, scorer, x = mass_model
    out = score(as_text_batch(x), scorer)
    np.testing.assert_allclose(out.column("score").to_numpy(), pipeline.predict(x), rtol=1e-10)
    assert out.schema.names == [*x.columns, "score"]


def test_binary_labels_and_probabilities_equal_the_pipeline(sex_model) -> None:
    pipeline, scorer, x = sex_model
    out = score(as_text_batch(x), scorer)
    assert out.column("predicted_label").to_pylist() == list(pipeline.predict(x))
    np.testing.assert_allclose(out.column("score").to_numpy(), pipeline.predict_proba(x)[:, 1],
                               rtol=1e-10)


def test_multiclass_labels_and_best_probability_equal_the_pipeline(species_model) -> None:
    pipeline, scorer, x = species_model
    out = score(pa.RecordBatch.from_pandas(x, preserve_index=False), scorer)  # typed input
    assert out.column("predicted_label").to_pylist() == list(pipeline.predict(x))
    np.testing.assert_allclose(out.column("score").to_numpy(),
                               pipeline.predict_proba(x).max(axis=1), rtol=1e-10)


def test_missing_values_and_unseen_categories_score_like_the_pipeline(species_model) -> None:
    pipeline, scorer, x = species_model
    odd = x.head(3).copy()
    odd.loc[0, "bill_length_mm"] = np.nan
    odd.loc[1, "island"] = "Atlantis"  # never seen in training: one-hot all zeros
    odd.loc[2, "sex"] = np.nan
    out = score(as_text_batch(odd), scorer)
    assert out.column("predicted_label").to_pylist() == list(pipeline.predict(odd))
    np.testing.assert_allclose(out.column("score").to_numpy(),
                               pipeline.predict_proba(odd).max(axis=1), rtol=1e-10)


def test_extra_columns_pass_through_in_order(mass_model) -> None:
    _, scorer, x = mass_model
    batch = as_text_batch(x.head(2))
    with_id = pa.RecordBatch.from_arrays([pa.array(["007", "008"]), *batch.columns],
                                         names=["id", *batch.schema.names])
    out = score(with_id, scorer)
    assert out.column("id").to_pylist() == ["007", "008"]
    assert out.schema.names[0] == "id" and out.schema.names[-1] == "score"


def test_non_numeric_cells_are_listed_with_their_rows(mass_model) -> None:
    _, scorer, x = mass_model
    batch = as_text_batch(x.head(5)).to_pandas()
    batch.loc[1, "bill_depth_mm"] = "deep"
    batch.loc[3, "flipper_length_mm"] = "12,5"
    with pytest.raises(InvalidValues) as caught:
        score(pa.RecordBatch.from_pandas(batch, preserve_index=False), scorer)
    assert [(b.row, b.column) for b in caught.value.bad] == [(1, "bill_depth_mm")]
    assert "'deep' is not a number" in str(caught.value)
    assert "row 11" in str(caught.value.shifted(9))


def test_a_missing_model_column_is_a_data_error(mass_model) -> None:
    _, scorer, x = mass_model
    with pytest.raises(DataError, match=r"missing column.*island"):
        score(as_text_batch(x.drop(columns=["island"]).head(2)), scorer)


@pytest.mark.parametrize("spelling", ["nan", "NaN", "", "NA", " NA ", "null", "-nan"])
def test_every_spelling_of_missing_scores_as_missing(mass_model, spelling: str) -> None:
    pipeline, scorer, x = mass_model
    rows = x.head(2).copy()
    text = as_text_batch(rows).to_pandas()
    text.loc[0, "bill_length_mm"] = spelling
    text.loc[1, "bill_length_mm"] = f" {text.loc[1, 'bill_length_mm']} "  # spaces are ignored
    rows.loc[rows.index[0], "bill_length_mm"] = np.nan
    out = score(pa.RecordBatch.from_pandas(text, preserve_index=False), scorer)
    np.testing.assert_allclose(out.column("score").to_numpy(), pipeline.predict(rows),
                               rtol=1e-10)


@pytest.mark.parametrize("cell", ["1e400", "-1e400", "inf", "-inf", "Infinity", " INF "])
def test_an_infinite_number_is_a_bad_value_never_a_nan_score(species_model, cell: str) -> None:
    # Scored, an infinite feature gives a NaN score and the first class, silently
    _, scorer, x = species_model
    text = as_text_batch(x.head(4)).to_pandas()
    text.loc[2, "bill_length_mm"] = cell
    with pytest.raises(InvalidValues) as caught:
        score(pa.RecordBatch.from_pandas(text, preserve_index=False), scorer)
    assert [(b.row, b.column) for b in caught.value.bad] == [(2, "bill_length_mm")]
    assert "is not a finite number" in str(caught.value)


def test_an_infinite_float_in_a_typed_column_is_a_bad_value_too(mass_model) -> None:
    _, scorer, x = mass_model
    typed = x.head(3).copy()
    typed["flipper_length_mm"] = typed["flipper_length_mm"].astype(float)
    typed.loc[typed.index[0], "flipper_length_mm"] = np.inf
    with pytest.raises(InvalidValues, match="'inf' is not a finite number"):
        score(pa.RecordBatch.from_pandas(typed, preserve_index=False), scorer)
