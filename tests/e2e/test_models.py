"""The promotion gate and the registry commands, with a worker running throughout."""

from __future__ import annotations

import json
import time
from typing import Any

from ..conftest import PENGUINS
from .conftest import cli
from .helpers import BUCKET, exists

TARGET = "body_mass_g"


def latest(s3: Any) -> str:
    return str(json.loads(s3.get_object(Bucket=BUCKET, Key="model/output/latest.json")["Body"]
                          .read())["run_id"])


def train(*flags: str) -> dict[str, Any]:
    out = cli("train", "--data", str(PENGUINS), "--target", TARGET, "--json", *flags).stdout
    return dict(json.loads(out))


def scored_by(s3: Any, worker: Any, name: str) -> str:
    """Send penguins as a new input; the run id the worker's output says scored it."""
    s3.put_object(Bucket=BUCKET, Key=f"data/input/{name}.csv", Body=PENGUINS.read_bytes())
    worker.wait_for(lambda: exists(s3, f"data/output/{name}.csv"))
    head = s3.head_object(Bucket=BUCKET, Key=f"data/output/{name}.csv")
    return str(head["Metadata"]["model-run-id"])


def test_if_better_refuses_a_worse_run_and_rollback_switches_a_running_worker(
    s3, config_file, start_worker,
) -> None:
    config_file(worker={"model_refresh_seconds": 1})
    cli("provision")
    first = train()
    assert first["promoted"] and "first model" in first["promotion"]
    worker = start_worker()
    assert scored_by(s3, worker, "a") == first["run_id"]

    # The same features and target, but a 5% quantile: far worse RMSE on the test split.
    worse = train("--loss", "quantile", "--quantile", "0.05")
    assert not worse["promoted"] and "worse than" in worse["promotion"]
    assert worse["selection"]["test_metric"] > worse["selection"]["current_test_metric"]
    assert latest(s3) == first["run_id"]

    forced = train("--loss", "quantile", "--quantile", "0.05", "--promote", "always")
    assert forced["promoted"] and latest(s3) == forced["run_id"]
    assert scored_by(s3, worker, "b") == forced["run_id"]

    rolled = json.loads(cli("models", "rollback", "--json").stdout)
    assert (rolled["from_run"], rolled["to_run"], rolled["action"]) == \
        (forced["run_id"], first["run_id"], "rollback")
    assert latest(s3) == first["run_id"]
    # Workers re-read latest.json at most every model_refresh_seconds (1 s here): a job
    # that starts within 1 s of the last read may still get the old run (as CI once saw).
    time.sleep(1.1)
    assert scored_by(s3, worker, "c") == first["run_id"]

    listed = json.loads(cli("models", "list", "--json").stdout)
    assert listed["current"] == first["run_id"]
    assert {r["run_id"] for r in listed["runs"]} == {first["run_id"], worse["run_id"],
                                                     forced["run_id"]}
    assert [r["current"] for r in listed["runs"] if r["run_id"] == first["run_id"]] == [True]
    shown = json.loads(cli("models", "show", worse["run_id"], "--json").stdout)
    assert shown["search"]["options"]["loss"] == "quantile"

    records = s3.list_objects_v2(Bucket=BUCKET, Prefix="model/output/_promotions/")["Contents"]
    moves = [json.loads(s3.get_object(Bucket=BUCKET, Key=r["Key"])["Body"].read())
             for r in sorted(records, key=lambda r: r["Key"])]
    assert [(m["action"], m["from_run"], m["to_run"]) for m in moves] == [
        ("train", None, first["run_id"]), ("train", first["run_id"], forced["run_id"]),
        ("rollback", forced["run_id"], first["run_id"])]
    assert all(m["by"] and m["at"] for m in moves)

    # Nothing earlier to go back to now; promote moves it by hand.
    refused = cli("models", "rollback", check=False)
    assert refused.returncode == 1 and "no earlier promoted run" in refused.stderr
    cli("models", "promote", worse["run_id"])
    assert latest(s3) == worse["run_id"]
