"""The read path: compaction keeps answers equal, running jobs show progress, jobs cost.

A real moto server, worker processes and the CLI, as an operator would use them."""

from __future__ import annotations

import json
import signal
import time

import pytest

from .conftest import cli
from .helpers import BUCKET, HEADER, big_job, penguins_csv, provision_and_train

FIGURES = {
    "jobs": "SELECT outcome, count(*) AS n, sum(rows) AS rows, round(sum(cost_usd), 10) AS usd "
            "FROM jobs GROUP BY ALL ORDER BY ALL",
    "predictions": "SELECT count(*) AS n, count(DISTINCT input) AS inputs, "
                   "round(sum(score), 6) AS total FROM predictions",
    "violations": "SELECT feature_name, constraint_check_type, count(*) AS n FROM violations "
                  "GROUP BY ALL ORDER BY ALL",
}


@pytest.fixture
def trained(config_file) -> str:
    return provision_and_train()


def figures() -> dict[str, list[dict]]:
    return {name: json.loads(cli("query", sql, "--format", "json").stdout)
            for name, sql in FIGURES.items()}


def held_figures(engine) -> dict[str, list[dict]]:
    """The same figures from a long-lived engine holding compacted rows in memory."""
    engine.refresh()
    return {name: json.loads(json.dumps(engine.run(sql).records(), default=str))
            for name, sql in FIGURES.items()}


@pytest.fixture
def long_lived(trained):
    """An engine as the console keeps one: jobs and violations copied into memory."""
    from arq_batch import wiring
    from arq_batch.kernel.settings import load_settings
    from arq_batch.query.engine import QueryEngine

    settings = load_settings()
    return QueryEngine(settings, wiring.query_connection(settings),
                       wiring.object_store(settings), keep_local=frozenset({"jobs",
                                                                            "violations"}))


def status() -> dict:
    found = json.loads(cli("status", "--json").stdout)
    # Sums of floats read in another order differ in their last bits: round the costs.
    return {k: round(found[k], 10) if "cost" in k else found[k] for k in (
        "jobs_last_day", "rows_last_hour", "cost_last_day_usd", "cost_per_million_rows_usd",
        "drifted_last_day")}


def keys(s3, prefix: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get(
        "Contents", [])]


def _drifted() -> bytes:
    lines = penguins_csv().decode().splitlines()
    column = lines[0].split(",").index("body_mass_g")
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        if row[column].replace(".", "").isdigit():
            row[column] = str(float(row[column]) / 1000)
    return "\n".join([lines[0], *(",".join(r) for r in rows)]).encode() + b"\n"


def test_compaction_leaves_every_answer_as_it_was(s3, trained, long_lived) -> None:
    # Given jobs of every kind: done, failed, drifted
    for i in range(6):
        s3.put_object(Bucket=BUCKET, Key=f"data/input/a{i}.csv", Body=penguins_csv())
    s3.put_object(Bucket=BUCKET, Key="data/input/bad.csv", Body=HEADER + b"x\n")
    s3.put_object(Bucket=BUCKET, Key="data/input/kg.csv", Body=_drifted())
    cli("worker", "--once")
    before, shown = figures(), status()
    assert sum(r["n"] for r in before["jobs"]) == 8 and before["violations"]
    assert held_figures(long_lived) == before
    # When one compaction pass gathers everything
    done = json.loads(cli("compact", "--min-age", "0", "--json").stdout)["partitions"]
    # Then the small objects are gone, gathered into a few Parquet files ...
    assert {d["dataset"] for d in done} == {"jobs", "predictions", "violations"}
    assert not [k for k in keys(s3, "data/jobs/") if k.endswith(".json")]
    assert not [k for k in keys(s3, "data/predictions/") if k.endswith(".parquet")]
    assert not [k for k in keys(s3, "data/monitoring/")
                if k.endswith("constraint_violations.json")]
    # ... and every answer, from SQL and from status, is what it was
    assert figures() == before and status() == shown
    assert held_figures(long_lived) == before  # the console's engine, its copy made
    # And later jobs add to the compacted ones, counted once each
    s3.put_object(Bucket=BUCKET, Key="data/input/later.csv", Body=penguins_csv())
    cli("worker", "--once")
    after = figures()
    assert sum(r["n"] for r in after["jobs"]) == 9
    assert after["predictions"][0]["n"] == before["predictions"][0]["n"] + 344
    assert held_figures(long_lived) == after
    # ... also once compacted in turn: the copy takes the new file (and drops merged ones)
    cli("compact", "--min-age", "0")
    assert held_figures(long_lived) == after
    # ... and when a merge replaces a file by another holding its rows, neither counts twice
    old = next(k for k in keys(s3, "data/compacted/jobs/") if k.endswith(".parquet"))
    s3.copy_object(Bucket=BUCKET, Key=old.replace(".parquet", "-merged.parquet"),
                   CopySource={"Bucket": BUCKET, "Key": old})
    assert held_figures(long_lived) == after
    s3.delete_object(Bucket=BUCKET, Key=old)
    assert held_figures(long_lived) == after


def test_every_attempt_records_its_cpu_time_and_cost(s3, trained) -> None:
    s3.put_object(Bucket=BUCKET, Key="data/input/c.csv", Body=penguins_csv(20))
    cli("worker", "--once", "--concurrency", "2")
    (job,) = json.loads(cli("query", "SELECT seconds, cpu_seconds, cost_usd FROM jobs",
                            "--format", "json").stdout)
    price = (1 * 0.04048 + 2 * 0.004445) / 3600  # the default Fargate task, per second
    assert job["cpu_seconds"] > 0 and job["cost_usd"] == pytest.approx(
        job["seconds"] * price / 2, rel=1e-3)
    shown = json.loads(cli("status", "--json").stdout)
    assert shown["cost_last_day_usd"] == pytest.approx(job["cost_usd"])
    assert shown["cost_per_million_rows_usd"] == pytest.approx(job["cost_usd"] * 1e6 / 6880)


def _running() -> list[dict]:
    return json.loads(cli("status", "--json").stdout)["running"]


def test_a_running_job_shows_progress_that_advances_and_stalls_when_its_worker_dies(
        s3, config_file, start_worker) -> None:
    # Given progress published every 0.3 s, and a job of several seconds
    config_file(progress={"interval_seconds": 0.3, "stalled_after": 3},
                queue_settings={"visibility_timeout": 6})
    provision_and_train()
    big_job(s3, copies=15000)
    worker = start_worker()
    # When it runs, status lists it with rows so far, a share read and an ETA ...
    worker.wait_for(lambda: bool(_running()), timeout=60)
    first = _running()[0]
    assert first["input"].endswith("big.csv") and not first["stalled"]
    time.sleep(1.0)
    second = _running()[0]
    assert second["rows"] > first["rows"] and second["percent"] > first["percent"]
    assert second["eta_seconds"] is not None
    # ... and when its worker is killed, it turns stalled after a few missed updates
    worker.signal(signal.SIGKILL)
    worker.process.wait()
    time.sleep(1.5)
    (stalled,) = _running()
    assert stalled["stalled"] and stalled["job_id"] == first["job_id"]
    # Then a retry on another worker takes it over, and once settled it is gone
    retry = start_worker()
    retry.wait_for(lambda: bool(retry.jobs("done")), timeout=120)
    assert _running() == []
    retry.stop()
