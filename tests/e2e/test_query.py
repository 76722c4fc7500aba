"""SQL over what the worker did: the ledger, the predictions dataset, errors and outputs."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import zstandard

from arq_batch.engine.ledger import LedgerRecord
from arq_batch.kernel import layout
from arq_batch.kernel.settings import load_settings

from ..faults.proxy import Rule
from .conftest import cli
from .helpers import (
    BUCKET,
    DLQ,
    exists,
    kill_mid_job,
    penguins_csv,
    provision_and_train,
    queue_depth,
    queue_url,
)

ROWS = 344


@pytest.fixture
def trained(config_file) -> str:
    return provision_and_train()


def query(sql: str, fmt: str | None = None) -> Any:
    """``arq-batch query`` as a user runs it: rows as dicts (--json), or the printed text."""
    if fmt is None:
        return json.loads(cli("query", sql, "--json").stdout)["rows"]
    return cli("query", sql, "--format", fmt).stdout


def upload_mix(s3) -> None:
    """Five good inputs in three formats and two compressions, one with a bad cell."""
    body = penguins_csv()
    table = pacsv.read_csv(io.BytesIO(body))
    parquet = io.BytesIO()
    pq.write_table(table, parquet)
    for key, data in (("good.csv", body), ("good.parquet", parquet.getvalue()),
                      ("good.csv.gz", gzip.compress(body)), ("retry.csv", body),
                      ("good.csv.zst", zstandard.compress(body)),
                      ("bad.csv", body.replace(b"39.1", b"thirty-nine", 1))):
        s3.put_object(Bucket=BUCKET, Key=f"data/input/{key}", Body=data)


def test_query_counts_jobs_predictions_errors_and_outputs_of_a_mixed_run(
    s3, sqs, trained, proxy, start_worker,
) -> None:
    # Given a retryable fault on one input (all 6 of botocore's attempts fail once), a bad
    # input, a poison message and three good inputs
    proxy.rules.append(Rule(500, method="GET", path=r"/data/input/retry\.csv", times=6))
    upload_mix(s3)
    sqs.send_message(QueueUrl=queue_url(sqs), MessageBody="not a job")
    # When a worker works through them
    worker = start_worker()
    worker.wait_for(lambda: len(worker.jobs("done")) == 5 and queue_depth(sqs) == 0, 120)
    assert worker.stop() == 0
    # Then the ledger has every attempt, the retry included
    outcomes = query("SELECT outcome, count(*) AS n FROM jobs GROUP BY outcome ORDER BY 1")
    assert outcomes == [{"outcome": "dead", "n": 2}, {"outcome": "done", "n": 5},
                        {"outcome": "retry", "n": 1}]
    (retried,) = query("SELECT receive_count, error_class FROM jobs WHERE outcome = 'retry'")
    assert retried == {"receive_count": 1, "error_class": "retryable"}
    # And the predictions dataset holds every row of the done jobs, equal to the outputs
    (totals,) = query("SELECT count(*) AS n, count(DISTINCT input) AS inputs, "
                      "min(dt) = current_date AS today FROM predictions")
    assert totals == {"n": 5 * ROWS, "inputs": 5, "today": True}
    assert_predictions_equal_output(s3, "retry.csv")
    # And the error reports and the CSV outputs are there to query
    errors = query("SELECT error, input FROM errors ORDER BY error")
    assert [e["error"] for e in errors] == ["data_error", "poison_message"]
    assert errors[0]["input"] == f"s3://{BUCKET}/data/input/bad.csv"
    per_file = query("SELECT key, count(*) AS n FROM outputs GROUP BY key ORDER BY key")
    assert [(r["key"].rsplit("/", 1)[1], r["n"]) for r in per_file] == [
        ("good.csv", ROWS), ("good.csv.gz", ROWS), ("good.csv.zst", ROWS), ("retry.csv", ROWS)]
    # And the same SQL answers the same in every format
    sql = "SELECT outcome, count(*) AS n FROM jobs GROUP BY outcome ORDER BY 1"
    assert json.loads(query(sql, "json")) == outcomes
    rows = list(csv.DictReader(io.StringIO(query(sql, "csv"))))
    assert [(r["outcome"], int(r["n"])) for r in rows] == [(o["outcome"], o["n"])
                                                           for o in outcomes]


def assert_predictions_equal_output(s3, name: str) -> None:
    output = pacsv.read_csv(io.BytesIO(
        s3.get_object(Bucket=BUCKET, Key=f"data/output/{name}")["Body"].read()))
    predicted = query("SELECT row, predicted_label, score FROM predictions "
                      f"WHERE input = 's3://{BUCKET}/data/input/{name}' ORDER BY row")
    assert [p["row"] for p in predicted] == list(range(output.num_rows))
    assert [p["predicted_label"] for p in predicted] == output["predicted_label"].to_pylist()
    assert [p["score"] for p in predicted] == pytest.approx(output["score"].to_pylist(),
                                                            rel=1e-12)


def test_bad_sql_and_a_missing_view_fail_in_one_line_and_an_empty_result_does_not(
    trained,
) -> None:
    for sql in ("SELEC 1", "SELECT * FROM no_such_view"):
        result = cli("query", sql, check=False)
        assert result.returncode == 1, result
        assert len(result.stderr.strip().splitlines()) == 1
    # A fresh bucket: the views exist and are empty
    assert query("SELECT count(*) AS n FROM jobs") == [{"n": 0}]
    assert query("SELECT * FROM predictions") == []


def test_a_job_killed_mid_way_leaves_no_predictions_and_a_redelivery_skips(
    s3, sqs, trained, config_file, start_worker,
) -> None:
    # Given a worker killed while scoring a big input
    config_file(queue_settings={"visibility_timeout": 4})
    rows = kill_mid_job(s3, start_worker)
    # Then that attempt left no predictions and no done record
    assert not exists(s3, "data/predictions/")
    assert query("SELECT count(*) AS n FROM jobs WHERE outcome = 'done'") == [{"n": 0}]
    # When a second worker completes it, and the same input is sent once more
    second = start_worker()
    second.wait_for(lambda: exists(s3, "data/output/big.csv"), timeout=120)
    cli("send", f"s3://{BUCKET}/data/input/big.csv")
    second.wait_for(lambda: any(e["outcome"] == "skipped" for e in second.jobs()))
    assert second.stop() == 0
    # Then one done and one skipped record, and the rows are in the dataset once
    outcomes = query("SELECT outcome, count(*) AS n FROM jobs GROUP BY 1 ORDER BY 1")
    assert outcomes == [{"outcome": "done", "n": 1}, {"outcome": "skipped", "n": 1}]
    (files,) = query("SELECT count(DISTINCT filename) AS n, count(*) AS rows "
                     "FROM read_parquet('s3://arq-batch-s3/data/predictions/*/*/*.parquet', "
                     "filename=true)")
    assert files == {"n": 1, "rows": rows}


def test_a_failing_ledger_write_changes_no_outcome_and_is_logged_and_counted(
    s3, sqs, trained, proxy, start_worker,
) -> None:
    # Given every PUT under data/jobs/ refused
    proxy.rules.append(Rule(403, method="PUT", path=r"/data/jobs/"))
    s3.put_object(Bucket=BUCKET, Key="data/input/a.csv", Body=penguins_csv())
    # When a worker scores the input
    worker = start_worker("--metrics-port", "0")
    worker.wait_for(lambda: exists(s3, "data/output/a.csv") and queue_depth(sqs) == 0)
    worker.wait_for(lambda: any(e.get("event") == "ledger_error" for e in worker.events()))
    assert worker.stop() == 0
    # Then the job is done, its predictions are there, and only the ledger is missing
    assert [e["outcome"] for e in worker.jobs() if "outcome" in e] == ["done"]
    assert exists(s3, "data/predictions/")
    assert not exists(s3, "data/jobs/")
    assert proxy.faults["403"] >= 1


def ledger_entry(s3, job: str, outcome: str, finished: datetime, seconds: float,
                 rows: int | None = None, error: str | None = None) -> None:
    """A ledger record as a worker writes it, with a chosen time."""
    record = LedgerRecord(job, job, 1, "test:1", outcome, finished - timedelta(seconds=seconds),
                          finished, input=f"s3://{BUCKET}/data/input/{job}.csv", rows=rows,
                          error_class=error and "data_error", error_message=error)
    uri = layout.ledger_uri(BUCKET, load_settings().prefixes, record.dt, job, 1)
    s3.put_object(Bucket=BUCKET, Key=uri.key, Body=record.to_json())


def test_status_reports_a_known_history(s3, sqs, trained) -> None:
    # Given a known ledger, two queued messages (after S3's test event) and a dead letter
    now = datetime.now(UTC)
    ledger_entry(s3, "done-1", "done", now - timedelta(minutes=10), 2.0, rows=1000)
    ledger_entry(s3, "done-2", "done", now - timedelta(minutes=20), 4.0, rows=3000)
    ledger_entry(s3, "retried", "retry", now - timedelta(minutes=30), 1.0, error="slow")
    ledger_entry(s3, "dead", "dead", now - timedelta(hours=5), 1.0, error="bad cell")
    ledger_entry(s3, "old", "done", now - timedelta(days=2), 1.0, rows=5)
    for _ in range(2):
        sqs.send_message(QueueUrl=queue_url(sqs), MessageBody="{}")
    sqs.send_message(QueueUrl=queue_url(sqs, DLQ), MessageBody="{}")
    # When an operator asks for the status
    status = json.loads(cli("status", "--json").stdout)
    # Then every figure follows from that history
    assert status["queue"] == {"visible": 3, "in_flight": 0, "delayed": 0}
    assert status["dead_letter_queue"] == {"visible": 1, "in_flight": 0, "delayed": 0}
    assert status["model_run"] == trained
    assert status["jobs_last_hour"] == {"done": 2, "retry": 1}
    assert status["jobs_last_day"] == {"done": 2, "retry": 1, "dead": 1}
    assert status["rows_last_hour"] == 4000
    assert status["rows_per_second"] == pytest.approx(4000 / 604, abs=0.1)
    assert (status["p50_job_seconds"], status["p95_job_seconds"]) == (3.0, 3.9)
    assert [(f["job_id"], f["error_message"]) for f in status["last_failures"]] == [
        ("retried", "slow"), ("dead", "bad cell")]
    assert "last hour   2 done, 1 retry" in cli("status").stdout
