"""The console against the emulator: every page on an empty bucket and on a bucket of
jobs of every outcome with hostile keys, column names and bodies; the query page's
walls, through the real engine."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from arq_batch.aws.provision import provision
from arq_batch.console.app import create_app, from_settings
from arq_batch.engine.ledger import LedgerRecord
from arq_batch.kernel import layout
from arq_batch.kernel.settings import load_settings
from arq_batch.query.engine import QueryError

from ..conftest import PENGUINS
from .conftest import cli
from .helpers import BUCKET, provision_and_train, queue_url, send_job

TOKEN = "console-e2e-token"
COLUMN = '"><script>alert(1)</script>'  # a column (feature) name
CATEGORY = "<img src=x onerror=alert(2)>"  # a value of that feature
TARGET = 'species"><script>alert(8)</script>'  # the target column
SCRIPTS = ("<script>alert", "<img src=x")


def console_client(**console: Any) -> TestClient:
    settings = load_settings()
    if console:
        import dataclasses

        settings = settings.replace(console=dataclasses.replace(settings.console, **console))
    return TestClient(create_app(from_settings(settings, TOKEN)))


def pages(run: str | None) -> list[str]:
    found = ["/", "/jobs", "/jobs?outcome=running", "/jobs?outcome=dead", "/jobs?q=script",
             "/jobs?date=2026-13-45", "/models", "/monitoring", "/dlq", "/query",
             "/query?sql=SELECT+outcome,+count(*)+FROM+jobs+GROUP+BY+ALL", "/signin"]
    return found + ([f"/models/{run}/report", "/monitoring/report?since=2000-01-01"]
                    if run else [])


def test_every_page_answers_on_an_empty_bucket_with_no_model(config_file) -> None:
    provision(load_settings())
    client = console_client()
    for path in pages(None):
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])
    assert "none yet" in client.get("/").text
    assert "No trained runs yet" in client.get("/models").text
    assert client.get("/monitoring/report").status_code == 404
    assert client.get("/jobs/unknown").status_code == 404


def hostile_training_data(tmp_path: Path) -> Path:
    """The penguins with ``island`` and ``species`` renamed to scripts, and one island
    named as an image."""
    text = PENGUINS.read_text().replace("Dream", CATEGORY)
    rows = list(csv.reader(io.StringIO(text)))
    rows[0] = [{"island": COLUMN, "species": TARGET}.get(c, c) for c in rows[0]]
    path = tmp_path / "hostile.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def ledger_entry(s3: Any, job: str, outcome: str, error: str = "", rows: int = 10,
                 cost_usd: float | None = None, rows_quarantined: int | None = None) -> None:
    now = datetime.now(UTC)
    record = LedgerRecord(job, job, 1, "worker-<b>1</b>", outcome, now - timedelta(seconds=2),
                          now, input=f"s3://{BUCKET}/data/input/{job}.csv", rows=rows,
                          error_class=error and "data_error", error_message=error or None,
                          cost_usd=cost_usd, rows_quarantined=rows_quarantined)
    uri = layout.ledger_uri(BUCKET, load_settings().prefixes, record.dt, job, 1)
    s3.put_object(Bucket=BUCKET, Key=uri.key, Body=record.to_json())


def test_every_page_and_both_reports_escape_hostile_keys_names_and_bodies(
        s3, sqs, config_file, tmp_path) -> None:
    # Given a model trained on a column named as a script, with a category named as one
    data = hostile_training_data(tmp_path)
    run = provision_and_train(TARGET, data)
    body = data.read_bytes()
    # ... a good input whose key is a script (and whose island drifts), a bad one, poison
    good = 'data/input/"><script>alert(3)</script>.csv'
    s3.put_object(Bucket=BUCKET, Key=good, Body=body.replace(b"Biscoe", b"<b>Atlantis</b>"))
    bad = "data/input/bad-<script>alert(4)</script>.csv"
    s3.put_object(Bucket=BUCKET, Key=bad, Body=body.replace(b"39.1", b"<script>alert(4)</script>"))
    for key in (good, bad):
        send_job(sqs, input=f"s3://{BUCKET}/{key}")
    sqs.send_message(QueueUrl=queue_url(sqs), MessageBody="<script>alert(5)</script>")
    # ... and ledger records of the other outcomes under a job id that is a script
    for outcome in ("skipped", "retry", "released", "split", "part"):
        ledger_entry(s3, f'"><script>alert(6)</script>-{outcome}', outcome,
                     "<script>alert(6)</script>" if outcome == "retry" else "")
    # When a worker works through the queue
    cli("worker", "--once")
    client = console_client()
    found = json.loads(cli("query", "SELECT job_id, outcome FROM jobs", "--json").stdout)["rows"]
    assert {r["outcome"] for r in found} == {"done", "dead", "skipped", "retry", "released",
                                             "split", "part"}, found
    jobs = sorted({r["job_id"] for r in found})
    # Then every page, each job's, and both reports show the values as text
    shown: dict[str, str] = {}
    for path in [*pages(run), *(f"/jobs/{quote(j, safe='')}" for j in jobs),
                 "/query?sql=" + quote("SELECT '<script>alert(7)</script>' AS \"<b>c</b>\"")]:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])
        assert not any(s in answer.text for s in SCRIPTS), path
        shown[path] = answer.text
    assert "&lt;script&gt;alert(3)" in shown["/jobs"]
    assert "&lt;script&gt;alert(6)" in shown["/jobs"]
    assert "&lt;script&gt;alert(5)" in shown["/dlq"]
    assert "&lt;b&gt;c&lt;/b&gt;" in shown["/query?sql=" + quote(
        "SELECT '<script>alert(7)</script>' AS \"<b>c</b>\"")]
    assert "&#34;&gt;&lt;script&gt;alert(8)" in shown[f"/models/{run}/report"]
    assert "&#34;&gt;&lt;script&gt;alert(1)" in shown["/monitoring/report?since=2000-01-01"]
    assert "&lt;script&gt;alert(1)" in shown["/monitoring"]  # it drifted: a chart of its own
    # ... and `monitor report`, written to a file, too
    out = tmp_path / "monitor.html"
    cli("monitor", "report", "--run", run, "--since", "2000-01-01", "--output", str(out))
    assert not any(s in out.read_text() for s in SCRIPTS)


def test_the_query_page_runs_one_select_within_its_limits_and_refuses_the_rest(
        config_file, s3) -> None:
    provision(load_settings())
    for job in ("a", "b", "c"):
        ledger_entry(s3, job, "done")
    client = console_client(query_max_rows=2, query_timeout_seconds=1.0)
    # A SELECT: its rows, cut at the row limit, and the same as CSV
    page = client.get("/query", params={"sql": "SELECT job_id FROM jobs ORDER BY job_id"})
    assert page.status_code == 200 and "cut at 2" in page.text
    download = client.get("/query.csv", params={"sql": "SELECT job_id FROM jobs ORDER BY 1"})
    assert download.text.splitlines() == ["job_id", "a", "b"]
    assert download.headers["content-type"].startswith("text/csv")
    # Every statement class that writes, loads or reads files is refused, in one line
    for sql in ("COPY jobs TO '/tmp/x.csv'", "ATTACH '/tmp/x.db'", "INSTALL httpfs",
                "LOAD httpfs", "CREATE TABLE t AS SELECT 1", "PRAGMA version",
                "SET threads = 1", "SELECT * FROM read_csv('/etc/passwd')",
                "SELECT * FROM '/etc/passwd'", "SELECT * FROM read_text('/etc/hostname')"):
        answer = client.get("/query", params={"sql": sql})
        assert answer.status_code == 400 and "root:" not in answer.text, sql
        assert client.get("/query.csv", params={"sql": sql}).status_code == 400
    # A statement that runs too long is stopped
    slow = ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t "
            "WHERE n < 1000000000) SELECT count(*) FROM t")
    stopped = client.get("/query", params={"sql": slow})
    assert stopped.status_code == 400 and "stopped after 1 s" in stopped.text


def test_the_engine_itself_reads_no_local_file_once_locked_down(config_file) -> None:
    # Behind the statement check stands DuckDB's own setting, locked
    from arq_batch.cli.query import engine_for

    engine = engine_for(load_settings())
    engine.lock_down()
    for sql in ("SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM '/etc/hostname'",
                "SET disabled_filesystems = ''", "SET lock_configuration = false"):
        with pytest.raises(QueryError):
            engine.run(sql)


def test_a_jobs_input_and_output_download_as_files_and_nothing_outside_the_buckets(
        s3, config_file) -> None:
    provision(load_settings())
    key = 'data/output/"><script>alert(9)</script>.csv'
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"<html><script>alert(9)</script></html>")
    client = console_client()
    answer = client.get("/download", params={"uri": f"s3://{BUCKET}/{key}"})
    assert answer.status_code == 200
    assert answer.content == b"<html><script>alert(9)</script></html>"
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-disposition"].startswith("attachment; filename*=UTF-8''")
    assert "<" not in answer.headers["content-disposition"]
    for uri in ("s3://another-bucket/secret.csv", f"s3://{BUCKET}/", "/etc/passwd",
                f"s3://{BUCKET}/data/output/missing.csv"):
        assert client.get("/download", params={"uri": uri}).status_code == 404, uri


def test_the_overview_shows_cost_per_job_per_day_and_per_million_rows(s3, config_file) -> None:
    provision(load_settings())
    now = datetime.now(UTC)
    for i, (outcome, rows) in enumerate((("done", 1000), ("done", 3000), ("dead", 0))):
        ledger_entry(s3, f"job-{i}", outcome, rows=rows, cost_usd=2e-6)
    page = console_client().get("/").text
    table = page[page.index('id="cost"'):page.index("</table>", page.index('id="cost"'))]
    cells = [c.split(">")[-1] for c in table.split("</td>")][:6]
    # 3 jobs, 4,000 rows scored (done ones), $0.000006 in all, per job, per million rows
    assert cells == [now.date().isoformat(), "3", "4,000", "$0.000006", "$0.000002",
                     "$0.001500"]


def test_a_jobs_page_lists_its_quarantined_rows_escaped_with_their_files(
        s3, config_file) -> None:
    provision(load_settings())
    ledger_entry(s3, "dirty", "done", rows=340, rows_quarantined=2)
    lines = [{"row": 4, "column": "bill_length_mm", "value": "<script>alert(10)</script>",
              "reason": "'<script>' is not a number"},
             {"row": 9, "column": None, "value": "a,b", "reason": "has 2 fields; the header "
                                                              "has 8"}]
    s3.put_object(Bucket=BUCKET, Key="data/quarantine/dirty.csv", Body=b"h\n<script>\na,b\n")
    s3.put_object(Bucket=BUCKET, Key="data/quarantine/dirty.csv.errors.jsonl",
                  Body="".join(json.dumps(line) + "\n" for line in lines).encode())
    client = console_client()
    page = client.get("/jobs/dirty").text
    section = page[page.index("<h2>Quarantined rows</h2>"):]
    assert "<script>alert" not in page and "&lt;script&gt;alert(10)" in section
    assert "2 bad row(s) set aside" in section and "(the whole row)" in section
    link = quote(f"s3://{BUCKET}/data/quarantine/dirty.csv", safe="/")
    assert f'/download?uri={link}"' in section
    assert client.get("/download", params={"uri": f"s3://{BUCKET}/data/quarantine/dirty.csv"}
                      ).content == b"h\n<script>\na,b\n"
