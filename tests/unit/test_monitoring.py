"""Monitoring's pure parts: statistics that merge, the baseline, and each check."""

from __future__ import annotations

import dataclasses
import json
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arq_batch.engine.scoring import prediction_columns
from arq_batch.formats import detect
from arq_batch.kernel.errors import ConfigError, ModelError
from arq_batch.kernel.monitoring_settings import MonitoringSettings, validate_monitoring
from arq_batch.models.artifacts import load_model, sha256
from arq_batch.monitoring import baseline as monitoring
from arq_batch.monitoring.baseline import Baseline
from arq_batch.monitoring.checks import check
from arq_batch.monitoring.stats import Categorical, Numeric

from ..conftest import PENGUINS

CONFIG = MonitoringSettings()
IGNORED = ("species", "predicted_label", "score")


@pytest.fixture(scope="module")
def penguins() -> pa.Table:
    return pacsv.read_csv(PENGUINS)


@pytest.fixture(scope="module")
def baseline(species_model, penguins) -> Baseline:
    _, scorer, _ = species_model
    scores = prediction_columns(scorer, scorer.decision(penguins))["score"].to_numpy()
    statistics, constraints = monitoring.build(penguins, scorer, scores, CONFIG)
    return Baseline.parse(statistics, constraints, scorer, "test")


def job(baseline: Baseline, scorer, table: pa.Table):
    """A job's statistics of ``table``, in batches of 50 rows, and its findings."""
    stats = baseline.fresh()
    for batch in table.to_batches(50):
        inputs = scorer.inputs(batch)
        stats.observe(inputs, prediction_columns(scorer, scorer.combine(inputs))["score"]
                      .to_numpy())
    stats.flush()
    return stats, check(stats, baseline, CONFIG, IGNORED)


def kinds(findings) -> set[tuple[str, str]]:
    return {(v.feature_name, v.constraint_check_type) for v in findings.violations}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))), min_size=1,
                max_size=300), st.integers(1, 10))
def test_numbers_counted_in_parts_merge_into_the_whole(values, parts) -> None:
    array = np.array(values)
    cuts = np.array([-10.0, 0.0, 10.0])
    whole = Numeric(cuts, (-5.0, 5.0))
    whole.add(array)
    merged = Numeric(cuts, (-5.0, 5.0))
    for chunk in np.array_split(array, parts):
        part = Numeric(cuts, (-5.0, 5.0))
        part.add(chunk)
        merged.merge(Numeric.from_json(part.to_json("x"), (-5.0, 5.0)))
    for name in ("present", "missing", "low", "high", "non_integral", "below", "above"):
        assert getattr(merged, name) == getattr(whole, name), name
    assert merged.counts.tolist() == whole.counts.tolist()
    assert merged.counts.sum() == whole.present
    if whole.present:
        present = array[~np.isnan(array)]
        assert merged.mean == pytest.approx(present.mean(), rel=1e-9, abs=1e-6)
        assert merged.m2 == pytest.approx(((present - present.mean()) ** 2).sum(), rel=1e-6,
                                          abs=1e-3)


def test_categories_count_missing_and_unseen_values() -> None:
    values = Categorical(pa.array(["a", "b"]))
    values.add(pa.array(["a", "a", None, "c", "b"]))
    assert (values.present, values.missing, values.unseen) == (4, 1, 1)
    assert values.counts == {"a": 2, "b": 1, "c": 1}


def test_the_baseline_describes_each_raw_feature_and_the_score(baseline, penguins) -> None:
    ref = baseline.reference
    assert list(ref.numeric) == ["bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                                 "body_mass_g", "year"]
    assert list(ref.categorical) == ["island", "sex"]
    assert ref.rows == penguins.num_rows and ref.score is not None
    assert ref.numeric["year"].inferred_type == "Integral"
    assert ref.numeric["bill_length_mm"].inferred_type == "Fractional"
    assert len(ref.numeric["bill_length_mm"].cuts) == CONFIG.bins - 1
    assert baseline.constraints["sex"]["completeness"] == pytest.approx(333 / 344)
    assert baseline.constraints["island"]["string_constraints"]["domains"] == [
        "Biscoe", "Dream", "Torgersen"]


def test_the_training_data_itself_violates_nothing(species_model, baseline, penguins) -> None:
    _, scorer, _ = species_model
    _, findings = job(baseline, scorer, penguins)
    assert findings.violations == ()
    assert max(findings.distances.values()) < 1e-9


def test_each_kind_of_damage_is_found_as_its_check(species_model, baseline, penguins) -> None:
    _, scorer, _ = species_model
    n = penguins.num_rows
    broken = (penguins
              .set_column(penguins.schema.get_field_index("year"), "year",
                          pa.array(np.full(n, 2008.5)))
              .set_column(penguins.schema.get_field_index("bill_depth_mm"), "bill_depth_mm",
                          pa.array([None] * 40 + penguins["bill_depth_mm"].to_pylist()[40:],
                                   pa.float64()))
              .append_column("note", pa.array(["x"] * n)))
    _, findings = job(baseline, scorer, broken)
    assert kinds(findings) == {("year", "data_type_check"), ("year", "baseline_drift_check"),
                               ("bill_depth_mm", "completeness_check"),
                               ("note", "extra_column_check")}


def test_robust_comparison_allows_for_a_small_job(species_model, baseline, penguins) -> None:
    _, scorer, _ = species_model
    # 30 rows drawn at random from the training data itself: nothing drifted...
    few = penguins.take(np.random.default_rng(3).choice(penguins.num_rows, 30, replace=False))
    stats, robust = job(baseline, scorer, few)
    simple = check(stats, baseline, dataclasses.replace(CONFIG, comparison_method="Simple"),
                   IGNORED)
    # ...yet some distances pass 0.1 by chance, as they do with 30 rows against 344...
    chance = {n for n, d in robust.distances.items() if d > CONFIG.comparison_threshold}
    assert chance
    # ...which Simple calls drift and Robust, whose limit grows for small samples, does not
    assert {v for v in kinds(simple) if v[1] == "baseline_drift_check"} == {
        (n, "baseline_drift_check") for n in chance}
    assert not [v for v in kinds(robust) if v[1] == "baseline_drift_check"]


def test_baseline_files_are_hash_checked_and_named_by_the_card(species_model, baseline,
                                                               penguins) -> None:
    pipeline, scorer, _ = species_model
    from arq_batch.models.scorer_file import scorer_to_json
    from arq_batch.training.pickles import dump_pipeline

    from ..conftest import fit

    _, card, _ = fit("species")
    artifact, digest = dump_pipeline(pipeline)
    scorer_bytes = scorer_to_json(scorer)
    scores = prediction_columns(scorer, scorer.decision(penguins))["score"].to_numpy()
    files = dict(zip(("statistics.json", "constraints.json"),
                     monitoring.build(penguins, scorer, scores, CONFIG), strict=True))
    card = dataclasses.replace(card, sha256=digest, scorer_sha256=sha256(scorer_bytes),
                               baseline={n: sha256(d) for n, d in files.items()})
    model = load_model(card.to_json(), scorer_bytes, artifact, "run", files)
    assert model.baseline is not None
    tampered = files | {"constraints.json": files["constraints.json"].replace(b"0.1", b"0.9")}
    with pytest.raises(ModelError, match=r"sha256 mismatch for run/constraints\.json"):
        load_model(card.to_json(), scorer_bytes, artifact, "run", tampered)
    odd = json.loads(card.to_json()) | {"baseline": {"../../other.json": "x"}}
    with pytest.raises(ModelError, match="baseline must name"):
        load_model(json.dumps(odd).encode(), scorer_bytes, artifact, "run", files)


@pytest.mark.parametrize(("change", "message"), [
    ({"fail_on": ["drift"]}, "unknown check 'drift'"),
    ({"comparison_method": "Fancy"}, "comparison_method must be"),
    ({"bins": 1}, "bins must be between 2 and 100"),
    ({"comparison_threshold": 1.5}, "comparison_threshold must be between 0 and 1"),
])
def test_a_monitoring_section_that_cannot_work_is_refused(change, message) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_monitoring(dataclasses.replace(CONFIG, **change))


def test_infinite_values_leave_the_statistics_strict_json() -> None:
    numbers = Numeric(np.array([0.0]), (-1.0, 1.0))
    numbers.add(np.array([1.0, float("inf"), float("-inf"), float("nan"), -2.0]))
    entry = json.loads(json.dumps(numbers.to_json("x"), allow_nan=False))
    assert entry["numerical_statistics"]["common"] == {"num_present": 4, "num_missing": 1}
    assert entry["arq_batch"]["below_baseline_min"] == 2
    assert entry["arq_batch"]["above_baseline_max"] == 1
    assert Numeric.from_json(entry).present == 4


def test_a_fault_of_monitorings_own_never_fails_the_job(species_model, baseline, tmp_path,
                                                        monkeypatch, caplog) -> None:
    from arq_batch.engine.filestream import Source, transform
    from arq_batch.kernel.fleet_settings import WorkerSettings
    from arq_batch.monitoring import dataset
    from arq_batch.monitoring.tap import MonitorTap
    from arq_batch.stores import local as files

    _, scorer, _ = species_model

    def broken(self, inputs, scores=None):
        raise ZeroDivisionError("a bug in the statistics")

    monkeypatch.setattr(dataset.Statistics, "observe", broken)
    folder = files.LocalFolder(str(tmp_path / "monitoring"))
    tap = MonitorTap(folder, baseline, CONFIG, {"job_id": "j1"}, IGNORED)
    opener = partial(files.open_file, str(PENGUINS))
    rows = transform(Source(detect("penguins.csv"), opener, opener),
                     files.LocalWriter(str(tmp_path / "out.csv")), scorer,
                     WorkerSettings(), [tap])
    assert rows == 344 and (tmp_path / "out.csv").exists()
    assert not (tmp_path / "monitoring").exists() and tap.findings is None
    assert [r.event for r in caplog.records if hasattr(r, "event")] == ["monitoring_error"]


@pytest.mark.parametrize("name", ["penguins.csv", "penguins.jsonl", "penguins.parquet",
                                  "penguins.jsonl.gz", "penguins.csv.zst"])
def test_monitoring_sees_the_inputs_own_columns_in_every_format(
        name, species_model, baseline, penguins, tmp_path) -> None:
    # Given the training data itself, written in one format (JSON Lines' reader carries
    # each raw line in a bookkeeping column; no format's reader may show its own columns)
    import gzip
    import io

    import pyarrow.parquet as pq
    import zstandard

    from arq_batch.engine.filestream import Source, transform
    from arq_batch.kernel.fleet_settings import WorkerSettings
    from arq_batch.monitoring.tap import MonitorTap
    from arq_batch.stores import local as files

    _, scorer, _ = species_model
    path, fmt = tmp_path / name, detect(name)
    if fmt.kind == "parquet":
        pq.write_table(penguins, path)
    else:
        buffer = io.BytesIO()
        if fmt.kind == "csv":
            pacsv.write_csv(penguins, buffer)
        else:
            penguins.to_pandas().to_json(buffer, orient="records", lines=True)
        data = buffer.getvalue()
        path.write_bytes({"gzip": gzip.compress, "zstd": zstandard.compress}.get(
            fmt.compression, bytes)(data))
    # When it is scored with monitoring on
    tap = MonitorTap(files.LocalFolder(str(tmp_path / "m")), baseline, CONFIG, {"job_id": "j"},
                     IGNORED)
    opener = partial(files.open_file, str(path))
    transform(Source(fmt, opener, opener), files.LocalWriter(str(tmp_path / f"out-{name}")),
              scorer, WorkerSettings(), [tap])
    # Then nothing is reported, extra columns least of all
    assert tap.findings is not None and kinds(tap.findings) == set()
