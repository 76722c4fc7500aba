"""Nothing is lost on a flaky cloud: a worker behind a fault-injecting proxy.

Every request the worker makes goes through ``tests/faults/proxy.py``, which spoils a
seeded share of them (S3 and SQS 5xx, throttling, resets before and after moto acted,
bodies cut half-way, seconds of latency). The test checks the result with its own
client, straight to moto.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest

from ..faults.proxy import Rule, flaky_cloud
from .helpers import (
    BUCKET,
    HEADER,
    ROWS,
    dead_letter_bodies,
    latest_model,
    penguins_csv,
    provision_and_train,
    queue_depth,
)

GRACE = 20.0  # the worker's grace_seconds in the test config
PERMANENT = {"data_error", "missing_object"}  # the kinds bad inputs may die of


@dataclass(frozen=True)
class Input:
    key: str
    body: bytes
    rows: int  # -1: a bad input, which must be dead-lettered


def inputs(count: int, seed: int = 7) -> list[Input]:
    """Small inputs in every format, one in ten bad for a reason that is really permanent."""
    rng = random.Random(seed)
    table = pacsv.read_csv(io.BytesIO(penguins_csv()))
    made = []
    for i in range(count):
        n = rng.randint(1, 40)
        start = rng.randrange(len(ROWS) - n)
        csv = HEADER + b"".join(ROWS[start:start + n])
        kind = ("csv", "csv.gz", "jsonl", "parquet", "bad")[i % 10 // 2]
        if kind == "bad":
            body, name = rng.choice([
                (csv.replace(b"island,", b"isle,", 1), "csv"),  # a feature column missing
                (b"", "csv"), (b"\x1f\x8b\x08\x00 not gzip at all", "csv.gz")])
            made.append(Input(f"data/input/flaky/{i:03d}.{name}", body, -1))
            continue
        if kind == "csv.gz":
            body = gzip.compress(csv)
        elif kind == "jsonl":
            rows = table.slice(start, n).to_pylist()
            body = "".join(json.dumps(r) + "\n" for r in rows).encode()
        elif kind == "parquet":
            sink = io.BytesIO()
            pq.write_table(table.slice(start, n), sink)
            body = sink.getvalue()
        else:
            body = csv
        made.append(Input(f"data/input/flaky/{i:03d}.{kind}", body, n))
    return made


def read_output(s3: Any, key: str) -> pa.Table:
    data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    if key.endswith(".gz"):
        data, key = gzip.decompress(data), key[:-3]
    if key.endswith(".parquet"):
        return pq.read_table(io.BytesIO(data))
    if key.endswith(".jsonl"):
        return pajson.read_json(io.BytesIO(data))
    return pacsv.read_csv(io.BytesIO(data))


def dead_input(body: dict[str, Any]) -> str:
    """The input key a dead-lettered S3 event names (event keys are URL-encoded)."""
    return unquote_plus(body["Records"][0]["s3"]["object"]["key"])


def settled_inputs(events: list[dict[str, Any]]) -> set[str]:
    return {e["input"] for e in events if e["outcome"] in ("done", "skipped", "dead")}


@pytest.fixture
def trained(config_file) -> str:
    # Receives spoiled by resets count against SQS's redrive limit too; a higher limit
    # keeps SQS itself from dead-lettering a good job that only met bad luck.
    config_file(queue_settings={"max_receive_count": 8})
    return provision_and_train()


def test_a_flaky_cloud_loses_nothing_and_dead_letters_only_bad_inputs(
    s3, sqs, trained, proxy, start_worker, capsys,
) -> None:
    made = inputs(120)
    for item in made:
        s3.put_object(Bucket=BUCKET, Key=item.key, Body=item.body)
    proxy.rules.extend(flaky_cloud(share=0.15))
    bad = {i.key for i in made if i.rows < 0}
    good = [i for i in made if i.rows >= 0]

    # A rolling restart half-way: SIGTERM with jobs in flight and faults on, exit 0 within
    # the grace period; a second worker carries on.
    first = start_worker("--concurrency", "3")
    first.wait_for(lambda: len(settled_inputs(first.jobs())) >= 40, timeout=240)
    started = time.monotonic()
    assert first.stop(timeout=GRACE + 5) == 0  # SIGTERM
    assert time.monotonic() - started < GRACE
    second = start_worker("--concurrency", "3")
    second.wait_for(lambda: len(settled_inputs(first.jobs() + second.jobs())) == len(made)
                    and queue_depth(sqs) == 0, timeout=240)
    events = first.jobs() + second.jobs()
    with capsys.disabled():  # the counts belong in every run's output, passed or not
        print(f"\nflaky cloud: {proxy.requests} requests, faults injected: {proxy.faults}; "
              f"outcomes: {dict(Counter(e['outcome'] for e in events))}")
    assert 0.08 < sum(proxy.faults.values()) / proxy.requests < 0.25

    # The second worker lived through the rest, and stops cleanly too.
    started = time.monotonic()
    assert second.stop(timeout=GRACE + 5) == 0
    assert time.monotonic() - started < GRACE
    proxy.rules.clear()  # expected_labels reads the model through AWS_ENDPOINT_URL too

    # Every bad input, and nothing else, was dead-lettered, for a permanent reason.
    dead = [e for e in events if e["outcome"] == "dead"]
    assert {e["input"].split("/", 3)[3] for e in dead} == bad
    assert all(e["error"].split(":")[0] in PERMANENT for e in dead), dead
    assert {dead_input(b) for b in dead_letter_bodies(sqs)} == bad
    for event in dead:
        assert s3.head_object(Bucket=BUCKET, Key=event["report"].split("/", 3)[3])

    # Every good input was scored by one message, whole and correct.
    scored = [e for e in events if e["outcome"] == "done"]
    predict = latest_model()
    for item in good:
        ids = {e["job_id"] for e in scored if e["input"].endswith(item.key)}
        assert len(ids) == 1, (item.key, ids)
        table = read_output(s3, item.key.replace("data/input/", "data/output/"))
        assert table.num_rows == item.rows, item.key
        assert table.column("predicted_label").to_pylist() == predict(table)


def test_a_body_cut_half_way_is_retried_never_a_short_output(
    s3, sqs, trained, proxy, start_worker,
) -> None:
    """The GET of the input dies half-way through its body, once: no short output is
    published, and the retry scores every row."""
    copies = 60
    s3.put_object(Bucket=BUCKET, Key="data/input/cut.csv", Body=penguins_csv(copies))
    s3.put_object(Bucket=BUCKET, Key="data/input/cut2.csv.gz",
                  Body=gzip.compress(penguins_csv(copies)))
    proxy.rules.append(Rule("cut", method="GET", path=r"/data/input/cut", times=2))
    worker = start_worker()
    worker.wait_for(lambda: len(worker.jobs("done")) == 2 and queue_depth(sqs) == 0,
                    timeout=120)
    assert proxy.faults == {"cut": 2}
    assert len(worker.jobs("retry")) == 2
    assert read_output(s3, "data/output/cut.csv").num_rows == 344 * copies
    assert read_output(s3, "data/output/cut2.csv.gz").num_rows == 344 * copies
    assert worker.stop() == 0
