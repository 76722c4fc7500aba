"""The worker as stories, on the in-memory store and queue: no server, no network.

Given an upload and its S3 event, When a worker works the queue dry, Then ... . The same
stories run end to end against the moto server in ``tests/e2e/test_worker.py``; here
they run in a fraction of a second each."""

from __future__ import annotations

import dataclasses
import io
import json

import pyarrow.csv as pacsv
import pytest

from arq_batch.kernel.outcomes import Outcome
from arq_batch.kernel.uris import S3Uri
from arq_batch.models.store import ModelStore
from arq_batch.worker.loop import Worker
from arq_batch.worker.runner import JobRunner

from ..conftest import PENGUINS


@pytest.fixture
def work(bucket, queue, settings):
    """``work()``: one worker (concurrency 1) works the queue dry; returns it."""
    def run(**worker: object) -> Worker:
        tuned = settings.replace(  # an empty queue ends the run at once: no long poll
            worker=dataclasses.replace(settings.worker, **worker),
            queue_settings=dataclasses.replace(settings.queue_settings, wait_time_seconds=0))
        runner = JobRunner(bucket, ModelStore(bucket, tuned), tuned, queue)
        done = Worker(queue, bucket, runner, tuned, concurrency=1, once=True)
        done.run()
        return done

    return run


def upload(bucket, key: str, body: bytes = PENGUINS.read_bytes()) -> S3Uri:
    uri = S3Uri("arq-batch-s3", key)
    bucket.put_bytes(uri, body)
    return uri


def ledger(bucket) -> list[dict]:
    return [json.loads(bucket.get_bytes(S3Uri("arq-batch-s3", key)))
            for key in bucket.list_keys(S3Uri("arq-batch-s3", "data/jobs/"))]


def test_an_upload_is_scored_through_its_event(bucket, queue, s3_event, tiny_model, work,
                                               species_fit) -> None:
    # Given an upload and its S3 event
    upload(bucket, "data/input/team a/penguins.csv")
    s3_event("data/input/team+a/penguins.csv")  # S3 encodes spaces as '+'
    # When a worker works the queue dry
    work()
    # Then the output holds every row with the model's own predictions, the ledger says
    # done, and the message is gone
    out = bucket.get_bytes(S3Uri("arq-batch-s3", "data/output/team a/penguins.csv"))
    table = pacsv.read_csv(io.BytesIO(out))
    pipeline, _, x = species_fit
    assert table.column("predicted_label").to_pylist() == list(pipeline.predict(x))
    (record,) = ledger(bucket)
    assert (record["outcome"], record["rows"], record["run_id"]) == ("done", 344, tiny_model)
    assert queue.depth() == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_a_redelivered_job_is_skipped_and_its_output_kept(bucket, s3_event, tiny_model,
                                                           work) -> None:
    upload(bucket, "data/input/a.csv")
    s3_event("data/input/a.csv")
    work()
    first = bucket.head(S3Uri("arq-batch-s3", "data/output/a.csv"))
    s3_event("data/input/a.csv")  # S3 delivers at least once
    work()
    assert bucket.head(S3Uri("arq-batch-s3", "data/output/a.csv")) == first
    assert sorted(r["outcome"] for r in ledger(bucket)) == ["done", "skipped"]


def test_a_poison_message_is_reported_and_dead_lettered_and_the_worker_goes_on(
        bucket, queue, s3_event, tiny_model, work) -> None:
    queue.send("this is not a job")
    upload(bucket, "data/input/b.csv")
    s3_event("data/input/b.csv")
    worker = work()
    (letter,) = list(queue.drain_dlq(30))
    assert letter.body == "this is not a job"
    reports = list(bucket.list_keys(S3Uri("arq-batch-s3", "data/errors/messages/")))
    assert len(reports) == 1
    assert worker.outcomes[Outcome.DEAD] == 1 and worker.outcomes[Outcome.DONE] == 1


def test_a_hostile_output_is_dead_lettered_and_the_model_pointer_kept(
        bucket, queue, tiny_model, work) -> None:
    upload(bucket, "data/input/c.csv")
    latest = bucket.get_bytes(S3Uri("arq-batch-s3", "model/output/latest.json"))
    queue.send(json.dumps({"input": "s3://arq-batch-s3/data/input/c.csv",
                           "output": "s3://arq-batch-s3/model/output/latest.json"}))
    work()
    assert bucket.get_bytes(S3Uri("arq-batch-s3", "model/output/latest.json")) == latest
    report = json.loads(bucket.get_bytes(S3Uri("arq-batch-s3", "data/errors/c.csv.json")))
    assert report["error"] == "output_not_allowed"


def test_a_split_job_assembles_the_same_output_as_a_whole_one(bucket, queue, tiny_model,
                                                              work) -> None:
    # Given one input sent whole and as parts of ~20 kB (parts go through the queue)
    body = PENGUINS.read_bytes()
    header, rows = body.split(b"\n", 1)
    upload(bucket, "staging/big.csv", header + b"\n" + rows * 8)
    for name, split in (("whole", 0), ("split", 20_000)):
        queue.send(json.dumps({"input": "s3://arq-batch-s3/staging/big.csv",
                               "output": f"s3://arq-batch-s3/{name}/big.csv",
                               "split_bytes": split, "job_id": name}))
    # When workers work the queue dry
    work()
    # Then both outputs are the same bytes, and the parts' scratch objects are gone
    whole = bucket.get_bytes(S3Uri("arq-batch-s3", "whole/big.csv"))
    assert bucket.get_bytes(S3Uri("arq-batch-s3", "split/big.csv")) == whole
    parts = [r for r in ledger(bucket) if r["outcome"] == "part"]
    assert len(parts) > 3
    assert not list(bucket.list_keys(S3Uri("arq-batch-s3", "data/splits/split/parts/")))
