"""Bad rows within a budget, end to end: a moto server, worker processes and the CLI as a
user drives them (``send --max-bad-rows``, ``score --max-bad-rows``, ``query``,
``status``, a Prometheus scrape, the bucket's lifecycle rule)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from arq_batch.aws.emulator import free_port

from ..stories import scrape
from .conftest import cli
from .helpers import (
    BUCKET,
    HEADER,
    ROWS,
    exists,
    provision_and_train,
    queue_depth,
    wait_mid_job,
)

BAD = (b"Adelie,Torgersen,thirty-nine,18.7,181,3750,male,2007\n",
       b"Adelie,Torgersen,39.1\n",
       b"Adelie,Torgersen,-inf,18.7,181,3750,male,2007\n")


def dirty(copies: int, every: int) -> tuple[bytes, list[int]]:
    """Penguins ``copies`` times with the bad lines every ``every`` rows; their rows."""
    lines, rows = list(ROWS) * copies, []
    for i, line in enumerate(BAD):
        at = (i + 1) * every
        lines.insert(at, line)
        rows.append(at)
    return HEADER + b"".join(lines), rows


@pytest.fixture
def trained(config_file) -> str:
    return provision_and_train()


def test_a_job_with_a_budget_sets_its_bad_rows_aside_for_sql_and_the_operator(
        s3, sqs, trained, start_worker) -> None:
    # ~1 MB, so the wrong-width line lies past the first blocks: the worker reads the
    # input again from S3 to number it, and once more to copy the bad lines.
    body, rows = dirty(copies=60, every=6000)
    s3.put_object(Bucket=BUCKET, Key="staging/team/dirty.csv", Body=body)
    s3.put_object(Bucket=BUCKET, Key="staging/team/over.csv", Body=body)
    cli("send", f"s3://{BUCKET}/staging/team/dirty.csv", "--max-bad-rows", "3",
        "--output", f"s3://{BUCKET}/data/output/team/dirty.csv")
    cli("send", f"s3://{BUCKET}/staging/team/over.csv", "--max-bad-rows", "2",
        "--output", f"s3://{BUCKET}/data/output/team/over.csv")
    port = free_port()
    worker = start_worker("--metrics-port", str(port))
    worker.wait_for(lambda: len(worker.jobs()) == 2 and queue_depth(sqs) == 0)
    assert scrape(port)["arq_batch_rows_quarantined_total"] == 3
    assert worker.stop() == 0

    quarantined = s3.get_object(Bucket=BUCKET, Key="data/quarantine/staging/team/dirty.csv")
    assert quarantined["Body"].read() == HEADER + b"".join(BAD)
    assert quarantined["ServerSideEncryption"] == "AES256"
    output = s3.get_object(Bucket=BUCKET, Key="data/output/team/dirty.csv")["Body"].read()
    assert output.count(b"\n") == 1 + 60 * len(ROWS)
    assert not exists(s3, "data/output/team/over.csv")
    assert not exists(s3, "data/quarantine/staging/team/over.csv")

    found = json.loads(cli("query", 'SELECT input, "row", "column", reason FROM quarantine '
                           'ORDER BY "row"', "--format", "json").stdout)
    assert [r["row"] for r in found] == rows
    assert {r["input"] for r in found} == {f"s3://{BUCKET}/staging/team/dirty.csv"}
    assert [r["column"] for r in found] == ["bill_length_mm", None, "bill_length_mm"]
    ledger = json.loads(cli("query", "SELECT outcome, rows, rows_quarantined FROM jobs "
                            "ORDER BY outcome", "--format", "json").stdout)
    assert ledger == [{"outcome": "dead", "rows": None, "rows_quarantined": None},
                      {"outcome": "done", "rows": 60 * len(ROWS), "rows_quarantined": 3}]
    report = json.loads(s3.get_object(Bucket=BUCKET, Key="data/errors/staging/team/over.csv.json")
                        ["Body"].read())
    assert [b["row"] for b in report["detail"]["bad_rows"]][:3] == rows
    status = cli("status").stdout
    assert "quarantine  3 bad rows set aside by 1 job(s) in the last day" in status


def test_score_sets_bad_rows_aside_beside_its_output(trained, tmp_path: Path) -> None:
    body, rows = dirty(copies=1, every=100)
    source, output = tmp_path / "dirty.csv", tmp_path / "scored.csv"
    source.write_bytes(body)
    done = cli("score", "--input", str(source), "--output", str(output), "--max-bad-rows", "3",
               "--json")
    assert json.loads(done.stdout)["rows_quarantined"] == 3
    assert Path(f"{output}.quarantine").read_bytes() == HEADER + b"".join(BAD)
    lines = Path(f"{output}.errors.jsonl").read_text().splitlines()
    assert [json.loads(line)["row"] for line in lines] == rows
    refused = cli("score", "--input", str(source), "--output", str(tmp_path / "o.csv"),
                  "--max-bad-rows", "-1", check=False)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1


def test_provision_expires_quarantined_rows(s3, trained) -> None:
    rules = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    (rule,) = [r for r in rules if r["Filter"].get("Prefix") == "data/quarantine/"]
    assert rule["Expiration"]["Days"] == 30 and rule["Status"] == "Enabled"


def test_kill_9_mid_job_then_a_new_worker_writes_the_same_quarantine_once(
        s3, sqs, trained, config_file, start_worker) -> None:
    # worker.max_bad_rows in the config: every job has the budget, events included
    config_file(queue_settings={"visibility_timeout": 4}, worker={"max_bad_rows": 5})
    body, rows = dirty(copies=800, every=80_000)  # ~12 MB: the output goes multipart
    s3.put_object(Bucket=BUCKET, Key="data/input/dirty.csv", Body=body)
    first = start_worker()
    wait_mid_job(first, s3)
    first.signal(signal.SIGKILL)
    first.process.wait()
    assert not exists(s3, "data/output/dirty.csv")
    assert not exists(s3, "data/quarantine/dirty.csv")
    second = start_worker()
    second.wait_for(lambda: exists(s3, "data/output/dirty.csv"), timeout=120)
    second.wait_for(lambda: queue_depth(sqs) == 0)
    assert s3.get_object(Bucket=BUCKET, Key="data/quarantine/dirty.csv")["Body"].read() == \
        HEADER + b"".join(BAD)
    reasons = s3.get_object(Bucket=BUCKET, Key="data/quarantine/dirty.csv.errors.jsonl")
    assert [json.loads(line)["row"] for line in reasons["Body"].read().splitlines()] == rows
    output = s3.get_object(Bucket=BUCKET, Key="data/output/dirty.csv")["Body"].read()
    assert output.count(b"\n") == 1 + 800 * len(ROWS)
    assert len(second.jobs("done")) == 1
    assert second.stop() == 0
