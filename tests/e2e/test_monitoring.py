"""Data quality and drift on every job: the baseline at train, the checks in the worker's
pass, and everything they found in files, SQL, the ledger, status, metrics and a report."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from arq_batch.aws.emulator import free_port

from .. import monitoring_schemas, training_data
from ..stories import scrape
from .conftest import cli
from .helpers import BUCKET, exists, provision_and_train, queue_depth

ROWS = 5000
# One numeric column scaled, one categorical collapsed, nulls in another, an unseen
# category in a fourth; the scores move with the scaled column.
EXPECTED = {("x1", "baseline_drift_check"), ("colour", "baseline_drift_check"),
            ("x5", "completeness_check"), ("shop", "categorical_values_check"),
            ("score", "baseline_drift_check")}


@pytest.fixture(scope="module")
def training_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 rows of 10 numeric and 2 categorical columns and a binary target."""
    return training_data.write(tmp_path_factory.mktemp("monitoring") / "train.csv", 20_000)


@pytest.fixture
def trained(config_file, training_csv: Path) -> str:
    return provision_and_train("label", training_csv)


def like_training(seed: int) -> pa.Table:
    return training_data.chunk(ROWS, np.random.default_rng(seed))


def hostile(seed: int) -> pa.Table:
    """Rows from the training distribution, then broken four ways."""
    table, rng = like_training(seed), np.random.default_rng(seed + 100)
    shop = np.where(rng.random(ROWS) < 0.05, "shop_999", table["shop"].to_numpy(False))
    x5 = pa.array(table["x5"].to_numpy(), mask=rng.random(ROWS) < 0.3)
    return (table.set_column(table.schema.get_field_index("x1"), "x1",
                             pc.multiply(table["x1"], 100.0))
            .set_column(table.schema.get_field_index("colour"), "colour",
                        pa.array(["colour_0"] * ROWS))
            .set_column(table.schema.get_field_index("x5"), "x5", x5)
            .set_column(table.schema.get_field_index("shop"), "shop", pa.array(shop)))


def csv_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pacsv.write_csv(table, out)
    return out.getvalue()


def query(sql: str) -> list[dict[str, Any]]:
    return list(json.loads(cli("query", sql, "--json").stdout)["rows"])


def monitoring_files(s3) -> dict[str, dict[str, Any]]:
    """Every monitoring file in the bucket, by key."""
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="data/monitoring/").get("Contents", [])
    return {o["Key"]: json.loads(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read())
            for o in listed}


def found(violations: dict[str, Any]) -> set[tuple[str, str]]:
    return {(v["feature_name"], v["constraint_check_type"]) for v in violations["violations"]}


def test_drift_is_found_by_feature_and_check_everywhere_and_jobs_still_score(
    s3, sqs, trained, start_worker, tmp_path,
) -> None:
    # Given a batch like the training data and one broken four ways
    s3.put_object(Bucket=BUCKET, Key="data/input/normal.csv", Body=csv_bytes(like_training(1)))
    s3.put_object(Bucket=BUCKET, Key="data/input/hostile.csv", Body=csv_bytes(hostile(2)))
    # When a worker with a metrics port scores both
    port = free_port()
    worker = start_worker("--metrics-port", str(port))
    worker.wait_for(lambda: len(worker.jobs("done")) == 2 and queue_depth(sqs) == 0, 120)
    metrics = scrape(port)
    assert worker.stop() == 0
    # Then both were scored in full
    for name in ("normal.csv", "hostile.csv"):
        output = s3.get_object(Bucket=BUCKET, Key=f"data/output/{name}")["Body"].read()
        assert pacsv.read_csv(io.BytesIO(output)).num_rows == ROWS
    # And each job's files name it, the normal one with no violation, the other exactly
    files = monitoring_files(s3)
    by_input = {body["input"].rsplit("/", 1)[1]: (key, body) for key, body in files.items()
                if key.endswith("/constraint_violations.json")}
    assert found(by_input["normal.csv"][1]) == set()
    assert found(by_input["hostile.csv"][1]) == EXPECTED
    statistics = {}
    for name, (key, body) in by_input.items():
        assert body["run_id"] == trained
        statistics[name] = files[key.replace("constraint_violations.json", "statistics.json")]
        assert statistics[name]["dataset"]["item_count"] == ROWS
        jsonschema.validate(statistics[name], monitoring_schemas.STATISTICS)
        jsonschema.validate(body, monitoring_schemas.VIOLATIONS)
    # And each feature's statistics carry its distance and its share out of range or domain
    figures = {f["name"]: f["arq_batch"] for f in statistics["hostile.csv"]["features"]}
    assert figures["x1"]["distance"] > 0.8 and figures["x1"]["out_of_range_fraction"] > 0.99
    assert figures["shop"]["unseen_fraction"] == pytest.approx(0.05, abs=0.01)
    assert figures["x0"]["distance"] < 0.05
    # And SQL sees the same violations, the ledger their count and the worst distance
    rows = query("SELECT input, run_id, feature_name, constraint_check_type, "
                 "dt = current_date AS today FROM violations")
    assert {(r["feature_name"], r["constraint_check_type"]) for r in rows} == EXPECTED
    assert {(r["input"], r["run_id"], r["today"]) for r in rows} == {
        (f"s3://{BUCKET}/data/input/hostile.csv", trained, True)}
    ledger = {r["input"].rsplit("/", 1)[1]: r for r in query(
        "SELECT input, violations, worst_feature, worst_distance FROM jobs "
        "WHERE outcome = 'done'")}
    assert ledger["normal.csv"]["violations"] == 0
    assert ledger["normal.csv"]["worst_distance"] < 0.05
    assert ledger["hostile.csv"]["violations"] == len(EXPECTED)
    assert ledger["hostile.csv"]["worst_feature"] in ("x1", "score")
    assert ledger["hostile.csv"]["worst_distance"] > 0.8
    # And status names the features, Prometheus has the distances and counts
    status = json.loads(cli("status", "--json").stdout)
    assert {(d["feature"], tuple(d["checks"])) for d in status["drifted_last_day"]} == {
        (f, (c,)) for f, c in EXPECTED}
    assert "x5  completeness_check  in 1 job" in cli("status").stdout
    assert metrics["arq_batch_jobs_with_violations_total"] == 1
    assert metrics['arq_batch_constraint_violations_total{check="baseline_drift_check"}'] == 3
    assert 'arq_batch_feature_distance{feature="x1"}' in metrics
    # And the report plots every feature against the baseline, with nothing to fetch
    page = tmp_path / "report.html"
    summary = json.loads(cli("monitor", "report", "--run", trained, "--output", str(page),
                             "--json").stdout)
    assert (summary["jobs"], summary["rows"]) == (2, 2 * ROWS)
    text = page.read_text()
    for feature in ("x0", "x9", "colour", "shop", "score"):
        assert f'id="feature-{feature}"' in text
    assert text.count("data:image/png;base64,") == 1 + 10 + 2 + 1
    assert "http://" not in text and "https://" not in text and "<script" not in text


def test_baseline_files_follow_model_monitors_schemas(s3, trained, tmp_path) -> None:
    # Given the run's baseline
    folder = f"model/output/{trained}/"
    statistics, constraints = (
        json.loads(s3.get_object(Bucket=BUCKET, Key=folder + name)["Body"].read())
        for name in ("statistics.json", "constraints.json"))
    # Then both parse with Model Monitor's schemas and describe every raw feature
    jsonschema.validate(statistics, monitoring_schemas.STATISTICS)
    jsonschema.validate(constraints, monitoring_schemas.CONSTRAINTS)
    features = [f"x{j}" for j in range(10)] + ["colour", "shop"]
    assert [f["name"] for f in statistics["features"]] == [*features, "score"]
    assert {f["name"] for f in constraints["features"]} == {*features, "score"}
    rules = {f["name"]: f for f in constraints["features"]}
    assert rules["shop"]["string_constraints"]["domains"] == sorted(training_data.SHOPS)
    assert 0.98 < rules["x3"]["completeness"] < 1.0 and rules["x0"]["completeness"] == 1.0
    assert statistics["dataset"]["item_count"] == 20_000
    # And `score` checks a local file the same way, writing the files beside its output
    source = tmp_path / "hostile.csv"
    source.write_bytes(csv_bytes(hostile(3)))
    result = json.loads(cli("score", "--input", str(source), "--output",
                            str(tmp_path / "out.csv"), "--json").stdout)
    assert {(v["feature_name"], v["constraint_check_type"])
            for v in result["violations"]} == EXPECTED
    written = json.loads((tmp_path / "out.csv.monitoring/constraint_violations.json").read_text())
    jsonschema.validate(written, monitoring_schemas.VIOLATIONS)
    assert found(written) == EXPECTED


def test_a_run_without_a_baseline_scores_as_before_and_says_so_once(
    s3, sqs, trained, start_worker,
) -> None:
    # Given the latest run stripped of its baseline, as runs trained before it were
    folder = f"model/output/{trained}/"
    card = json.loads(s3.get_object(Bucket=BUCKET, Key=folder + "model.json")["Body"].read())
    del card["baseline"]
    s3.put_object(Bucket=BUCKET, Key=folder + "model.json", Body=json.dumps(card).encode())
    for name in ("statistics.json", "constraints.json"):
        s3.delete_object(Bucket=BUCKET, Key=folder + name)
    # When a worker scores two inputs
    for name in ("a.csv", "b.csv"):
        s3.put_object(Bucket=BUCKET, Key=f"data/input/{name}", Body=csv_bytes(hostile(4)))
    worker = start_worker()
    worker.wait_for(lambda: len(worker.jobs("done")) == 2 and queue_depth(sqs) == 0, 120)
    assert worker.stop() == 0
    # Then both outputs are there, no monitoring files, and the skip was logged once
    assert exists(s3, "data/output/a.csv") and exists(s3, "data/output/b.csv")
    assert not exists(s3, "data/monitoring/")
    skipped = [e for e in worker.events() if e.get("event") == "monitoring_skipped"]
    assert [e["run_id"] for e in skipped] == [trained]
    assert [r["violations"] for r in query("SELECT violations FROM jobs")] == [None, None]
    assert query("SELECT count(*) AS n FROM violations") == [{"n": 0}]  # empty, not an error


def test_fail_on_makes_violations_a_data_error_with_them_in_the_report(
    s3, sqs, trained, config_file, start_worker,
) -> None:
    # Given config that fails jobs on unseen categories and missing values
    config_file(monitoring={"fail_on": ["categorical_values_check", "completeness_check"]})
    s3.put_object(Bucket=BUCKET, Key="data/input/normal.csv", Body=csv_bytes(like_training(5)))
    s3.put_object(Bucket=BUCKET, Key="data/input/hostile.csv", Body=csv_bytes(hostile(6)))
    # When a worker works through both
    worker = start_worker()
    worker.wait_for(lambda: len(worker.jobs("done")) == 1 and len(worker.jobs("dead")) == 1
                    and queue_depth(sqs) == 0, 120)
    assert worker.stop() == 0
    # Then the normal job is done and the hostile one is a data error naming the violations
    assert exists(s3, "data/output/normal.csv") and not exists(s3, "data/output/hostile.csv")
    report = json.loads(s3.get_object(Bucket=BUCKET, Key="data/errors/hostile.csv.json")
                        ["Body"].read())
    assert report["error"] == "data_error"
    assert {(v["feature_name"], v["constraint_check_type"])
            for v in report["detail"]["violations"]} == {
        ("shop", "categorical_values_check"), ("x5", "completeness_check")}
    # And it left no monitoring files or predictions behind
    files = monitoring_files(s3)
    assert len(files) == 2
    assert {b["input"] for k, b in files.items() if k.endswith("/constraint_violations.json")} \
        == {f"s3://{BUCKET}/data/input/normal.csv"}
    rows = query("SELECT DISTINCT input FROM predictions")
    assert rows == [{"input": f"s3://{BUCKET}/data/input/normal.csv"}]


def test_a_split_job_merges_its_parts_statistics_into_the_whole_files(
    s3, sqs, trained, start_worker,
) -> None:
    # Given a hostile input scored whole, and the same bytes split into parts
    body = csv_bytes(hostile(7))
    s3.put_object(Bucket=BUCKET, Key="data/staging/h.csv", Body=body)
    cli("send", f"s3://{BUCKET}/data/staging/h.csv", "--output",
        f"s3://{BUCKET}/data/output/whole.csv")
    cli("send", f"s3://{BUCKET}/data/staging/h.csv", "--output",
        f"s3://{BUCKET}/data/output/split.csv", "--split-bytes", str(len(body) // 4 + 1))
    # When a worker works the queue dry
    worker = start_worker()
    worker.wait_for(lambda: exists(s3, "data/output/whole.csv")
                    and exists(s3, "data/output/split.csv") and queue_depth(sqs) == 0, 120)
    assert worker.stop() == 0
    # Then the split job's files hold the same figures and violations as the whole one's
    files = monitoring_files(s3)
    by_job = {body["job_id"]: key.rsplit("/", 1)[0] for key, body in files.items()
              if key.endswith("/constraint_violations.json")}
    outputs = {r["output"].rsplit("/", 1)[1]: r["job_id"] for r in query(
        "SELECT job_id, output FROM jobs WHERE outcome = 'done'")}
    (whole, split) = ({name: files[f"{by_job[outputs[output]]}/{name}.json"]
                       for name in ("statistics", "constraint_violations")}
                      for output in ("whole.csv", "split.csv"))
    assert found(whole["constraint_violations"]) == found(split["constraint_violations"]) \
        == EXPECTED
    assert whole["statistics"]["dataset"] == split["statistics"]["dataset"]
    assert whole["statistics"]["dataset"]["item_count"] == ROWS
    for a, b in zip(whole["statistics"]["features"], split["statistics"]["features"],
                    strict=True):
        if "numerical_statistics" in a:
            a, b = a["numerical_statistics"], b["numerical_statistics"]
            assert a["distribution"] == b["distribution"]
            assert (a["min"], a["max"]) == (b["min"], b["max"])
        else:
            a, b = a["string_statistics"], b["string_statistics"]
            assert {x["value"]: x["count"] for x in a["distribution"]["categorical"]["buckets"]} \
                == {x["value"]: x["count"] for x in b["distribution"]["categorical"]["buckets"]}
        assert a["common"] == b["common"]
