"""One large input split across a fleet of worker processes, on the moto server (issue 13)."""

from __future__ import annotations

import io
import json
import signal
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from .conftest import cli
from .helpers import (
    BUCKET,
    DLQ,
    HEADER,
    ROWS,
    dead_letter_bodies,
    exists,
    provision_and_train,
    queue_depth,
    send_job,
)

SPLITS = "data/splits/"


@pytest.fixture
def trained(config_file) -> str:
    return provision_and_train()


def numbered_csv(copies: int) -> bytes:
    """The penguins rows ``copies`` times, each with its own id first."""
    rows = [f"{i},".encode() + row for i, row in enumerate(ROWS * copies)]
    return b"id," + HEADER + b"".join(rows)


def as_jsonl(csv_body: bytes) -> bytes:
    table = pacsv.read_csv(io.BytesIO(csv_body))
    return b"".join(json.dumps(row).encode() + b"\n" for row in table.to_pylist())


def as_parquet(csv_body: bytes, row_group_rows: int) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pacsv.read_csv(io.BytesIO(csv_body)), sink, row_group_size=row_group_rows)
    return sink.getvalue()


def get(s3: Any, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def temporary_objects(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=SPLITS).get("Contents", [])]


def ledger(s3: Any) -> list[dict[str, Any]]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="data/jobs/")
            .get("Contents", [])]
    return [json.loads(get(s3, key)) for key in keys]


def predictions(s3: Any, job_id: str) -> pa.Table:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="data/predictions/")
            .get("Contents", []) if o["Key"].endswith(f"/{job_id}.parquet")]
    assert len(keys) == 1, keys
    return pq.read_table(io.BytesIO(get(s3, keys[0])))


INPUTS = {  # name: (body, split bytes): several parts each
    "big.csv": (lambda: numbered_csv(700), 4_500_000),  # outputs of 5 MB+ are copied
    "big.jsonl": (lambda: as_jsonl(numbered_csv(60)), 700_000),
    "big.parquet": (lambda: as_parquet(numbered_csv(100), 2_000), 60_000),
}


def test_split_inputs_give_the_unsplit_output_row_for_row(s3, sqs, trained, start_worker,
                                                          config_file) -> None:
    bodies = {name: make() for name, (make, _) in INPUTS.items()}
    for name, body in bodies.items():
        s3.put_object(Bucket=BUCKET, Key=f"staging/{name}", Body=body)
        split = INPUTS[name][1]
        send_job(sqs, job_id=f"whole-{name}", input=f"s3://{BUCKET}/staging/{name}",
                 output=f"s3://{BUCKET}/whole/{name}", split_bytes=0)
        cli("send", f"s3://{BUCKET}/staging/{name}", "--output",
            f"s3://{BUCKET}/split/{name}", "--split-bytes", str(split))
    workers = [start_worker("--concurrency", "1") for _ in range(3)]
    workers[0].wait_for(lambda: all(exists(s3, f"split/{n}") and exists(s3, f"whole/{n}")
                                    for n in bodies) and queue_depth(sqs) == 0, timeout=180)
    for name in bodies:
        whole, split = get(s3, f"whole/{name}"), get(s3, f"split/{name}")
        if name.endswith(".parquet"):
            assert pq.read_table(io.BytesIO(split)).equals(pq.read_table(io.BytesIO(whole)))
        else:
            assert split == whole, name  # same rows, same order, same predictions, one header
        assert split.count(b"id,species") == (1 if name.endswith(".csv") else 0)
    records = ledger(s3)
    parts = [r for r in records if r["outcome"] == "part"]
    assert len({r["worker_id"] for r in parts}) >= 2 and len(parts) >= 3 * 2
    done = {r["input"].rsplit("/", 1)[1]: r for r in records if r["outcome"] == "done"
            and r["output"].startswith(f"s3://{BUCKET}/split/")}
    assert {name: done[name]["rows"] for name in bodies} == {
        name: len(ROWS) * n for name, n in (("big.csv", 700), ("big.jsonl", 60),
                                            ("big.parquet", 100))}
    table = predictions(s3, done["big.csv"]["job_id"])
    assert table.column("row").to_pylist() == list(range(len(ROWS) * 700))
    scored = pacsv.read_csv(io.BytesIO(get(s3, "split/big.csv")))
    assert table.column("predicted_label").to_pylist() == scored.column(
        "predicted_label").to_pylist()
    assert temporary_objects(s3) == [] and queue_depth(sqs, DLQ) == 0
    progress = [e for w in workers for e in w.events() if e.get("event") == "split_progress"]
    assert max(e["parts_done"] for e in progress) == max(e["parts"] for e in progress)
