"""The demo's steps: every stage of the product against an embedded moto server."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arq_batch import wiring
from arq_batch.aws.emulator import Emulator
from arq_batch.aws.provision import provision
from arq_batch.aws.s3 import S3Store
from arq_batch.cli.demo_console import console_stage
from arq_batch.cli.query import current_status, engine_for, render_table, status_text
from arq_batch.feeders import dlq
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.serving import lifecycle
from arq_batch.training.pipeline import TrainRequest, train
from arq_batch.worker.main import run_worker

DATA = Path(__file__).resolve().parents[3] / "data"
TARGET = "species"
DEMO_QUERIES = (
    "SELECT outcome, count(*) AS jobs, sum(rows) AS rows FROM jobs GROUP BY outcome",
    "SELECT predicted_label, count(*) AS n, round(avg(score), 3) AS mean_score "
    "FROM predictions GROUP BY ALL ORDER BY n DESC",
    "SELECT error, input FROM errors",
    "SELECT input, feature_name, constraint_check_type FROM violations ORDER BY ALL",
    "SELECT q.row, q.column, q.value, q.reason FROM quarantine AS q",
)


def run_demo(settings: Settings, verbose: bool = True) -> tuple[dict[str, Any], str]:
    """Provision, train, drop inputs, work the queue dry, call the endpoint, clean up."""
    say = print if verbose else (lambda *a, **k: None)
    with Emulator() as aws:
        os.environ.update(aws.env)  # boto3's own chain picks these up, exactly as on AWS
        settings = _demo_settings(settings)
        say(f"1. embedded AWS (moto) at {aws.url}; provisioning")
        for change in provision(settings).changes:
            say(f"   {change}")
        store = wiring.object_store(settings)
        say(f"2. training a classifier for {TARGET!r} on data/penguins.csv: a search over "
            "16 candidates, the best on validation wins")
        report = Path(tempfile.gettempdir()) / "arq-batch-demo-report.html"
        trained = train(TrainRequest(str(_data_file("penguins.csv")), TARGET,
                                     report_path=str(report)), store, settings,
                        lambda text: say(f"   {text}"))
        say(f"   winner: {trained.selection['winner']} ({trained.selection['criterion']} "
            f"{trained.selection['validation_metric']:.4f} on validation); the report, with "
            f"its plots, is at {report}")
        jobs, letters = _batch_stage(store, settings, say)
        say("6. real-time endpoint: create, one single-sample inference, delete")
        answer = _endpoint_round_trip(say)
        say("7. SQL over what just happened (arq-batch query), then arq-batch status")
        answers = _sql_stage(settings, say)
        say("8. the console over the same bucket (arq-batch console; docs/console.md)")
        pages = console_stage(say)
    summary = {"run_id": trained.run_id, "metrics": trained.metrics, "jobs": jobs,
               "dead_letters": [d.error for d in letters], "endpoint_answer": answer,
               "queries": answers, "console_pages": pages}
    return summary, "demo finished: everything shut down"


def _batch_stage(store: S3Store, settings: Settings,
                 say: Any) -> tuple[list[dict[str, Any]], list[dlq.DeadLetter]]:
    """Upload inputs, work the queue dry, show the results and the dead letters."""
    inputs = _upload_inputs(store, settings)
    say(f"3. uploaded {len(inputs)} inputs under data/input/; working the queue dry")
    worker = run_worker(settings, concurrency=2, once=True)
    jobs = [e for e in worker.history if e.get("input") in inputs]
    say(_table(jobs))
    say("4. a few predictions from data/output/penguins.csv:")
    say(_preview(store, settings))
    letters = dlq.list_dead_letters(wiring.job_queue(settings))
    say(f"5. dead-letter queue: {len(letters)} message(s)")
    for letter in letters:
        say(f"   {letter.error}")
    jobs.append(_resend_with_budget(store, settings, say))
    return jobs, letters


def _resend_with_budget(store: S3Store, settings: Settings, say: Any) -> dict[str, Any]:
    """The broken file again, with a budget of bad rows: scored, its bad row set aside."""
    broken = S3Uri(settings.bucket, settings.prefixes.input + "broken/penguins.csv")
    output = S3Uri(settings.bucket, settings.prefixes.output + "broken/penguins.resent.csv")
    wiring.job_queue(settings).send(json.dumps(
        {"input": str(broken), "output": str(output), "max_bad_rows": 5}))
    say("   $ arq-batch send .../broken/penguins.csv --max-bad-rows 5 "
        "--output .../broken/penguins.resent.csv")
    worker = run_worker(settings, concurrency=1, once=True)
    (job,) = [e for e in worker.history if e.get("input") == str(broken)]
    say(f"   {job['outcome']}: {job.get('rows')} rows scored; the bad one set aside in "
        f"data/quarantine/broken/penguins.csv, why in its .errors.jsonl (docs/quarantine.md)")
    return job


def _sql_stage(settings: Settings, say: Any) -> dict[str, list[dict[str, Any]]]:
    engine = engine_for(settings)
    answers = {}
    for sql in DEMO_QUERIES:
        result = engine.run(sql)
        answers[sql] = result.records()
        say(f"   $ arq-batch query \"{sql}\"")
        say("\n".join(f"     {line}" for line in
                      render_table(result.columns, result.rows).splitlines()))
    say("   $ arq-batch status")
    say("\n".join(f"     {line}" for line in status_text(current_status(settings)).splitlines()))
    return answers


def _demo_settings(settings: Settings) -> Settings:
    queue = dataclasses.replace(settings.queue_settings, wait_time_seconds=1)
    heartbeat = str(Path(tempfile.gettempdir()) / "arq-batch-demo-heartbeat")
    return settings.replace(queue_settings=queue,
                            worker=dataclasses.replace(settings.worker, heartbeat_file=heartbeat))


def _data_file(name: str) -> Path:
    return DATA / name


def _upload_inputs(store: S3Store, settings: Settings) -> list[str]:
    raw = _data_file("penguins.csv").read_bytes()
    table = pacsv.read_csv(io.BytesIO(raw))
    parquet = io.BytesIO()
    pq.write_table(table, parquet)
    bad = raw.replace(b"39.1", b"thirty-nine", 1)
    # An upstream system that started sending kilograms: scored, and flagged as drift.
    kilograms = io.BytesIO()
    pacsv.write_csv(table.set_column(table.schema.get_field_index("body_mass_g"), "body_mass_g",
                                     pc.divide(table["body_mass_g"], 1000.0)), kilograms)
    files = {"penguins.csv": raw, "parquet/penguins.parquet": parquet.getvalue(),
             "compressed/penguins.csv.gz": gzip.compress(raw),
             "new penguins 2026.csv": raw, "broken/penguins.csv": bad,
             "drifted/penguins-in-kg.csv": kilograms.getvalue()}
    uris = []
    for name, body in files.items():
        uri = S3Uri(settings.bucket, settings.prefixes.input + name)
        store.put_bytes(uri, body)
        uris.append(str(uri))
    return uris


def _table(jobs: list[dict[str, Any]]) -> str:
    lines = [f"   {'input':<50} {'rows':>6} {'seconds':>8}  outcome"]
    for job in sorted(jobs, key=lambda j: str(j["input"])):
        name = str(job["input"]).split("/data/input/", 1)[-1]
        rows = job.get("rows", "-")
        seconds = job.get("seconds", "-")
        lines.append(f"   {name:<50} {rows!s:>6} {seconds!s:>8}  {job['outcome']}")
    return "\n".join(lines)


def _preview(store: S3Store, settings: Settings, count: int = 5) -> str:
    uri = S3Uri(settings.bucket, settings.prefixes.output + "penguins.csv")
    table = pacsv.read_csv(io.BytesIO(store.get_bytes(uri)))
    picked = table.select(["island", "bill_length_mm", TARGET, "predicted_label", "score"])
    return "\n".join(f"   {row}" for row in picked.slice(0, count).to_pylist())


def _endpoint_round_trip(say: Any) -> Any:
    created = lifecycle.create("arq-batch-demo")
    try:
        sample = b"Biscoe,48.6,16.0,230,5800,male,2008"
        answer = json.loads(lifecycle.invoke(created, sample, "text/csv"))
        say(f"   POST {created.invocations_url()} {sample.decode()!r}\n   -> {answer}")
    finally:
        lifecycle.delete(created.name)
    say("   endpoint deleted")
    return answer
