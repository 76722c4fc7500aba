"""One large input split across a fleet of worker processes, on the moto server (issue 13)."""

from __future__ import annotations

import gzip as gzip_module
import io
import json
import signal
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from arq_batch import wiring

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
        # JSON Lines also checks compressed outputs: gzip members of the parts, joined.
        gzip = {"compression": "Gzip"} if name.endswith(".jsonl") else {}
        send_job(sqs, job_id=f"whole-{name}", input=f"s3://{BUCKET}/staging/{name}",
                 output=f"s3://{BUCKET}/whole/{name}", split_bytes=0, **gzip)
        cli("send", f"s3://{BUCKET}/staging/{name}", "--output",
            f"s3://{BUCKET}/split/{name}", "--split-bytes", str(split),
            *(["--compression", "Gzip"] if gzip else []))
    workers = [start_worker("--concurrency", "1") for _ in range(3)]
    workers[0].wait_for(lambda: all(exists(s3, f"split/{n}") and exists(s3, f"whole/{n}")
                                    for n in bodies) and queue_depth(sqs) == 0, timeout=180)
    for name in bodies:
        whole, split = get(s3, f"whole/{name}"), get(s3, f"split/{name}")
        if name.endswith(".jsonl"):
            whole, split = gzip_module.decompress(whole), gzip_module.decompress(split)
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
    assert done["big.csv"]["input_size"] == len(bodies["big.csv"])  # bytes-in metrics
    table = predictions(s3, done["big.csv"]["job_id"])
    assert table.column("row").to_pylist() == list(range(len(ROWS) * 700))
    scored = pacsv.read_csv(io.BytesIO(get(s3, "split/big.csv")))
    assert table.column("predicted_label").to_pylist() == scored.column(
        "predicted_label").to_pylist()
    assert temporary_objects(s3) == [] and queue_depth(sqs, DLQ) == 0
    progress = [e for w in workers for e in w.events() if e.get("event") == "split_progress"]
    assert max(e["parts_done"] for e in progress) == max(e["parts"] for e in progress)


def test_a_part_worker_killed_mid_part_is_redone_and_the_output_is_exact(
        s3, sqs, trained, start_worker) -> None:
    body = numbered_csv(1200)  # ~21 MB in 3 parts: long enough to be killed inside one
    s3.put_object(Bucket=BUCKET, Key="staging/kill.csv", Body=body)
    cli("send", f"s3://{BUCKET}/staging/kill.csv", "--output", f"s3://{BUCKET}/split/kill.csv",
        "--split-bytes", "7000000")
    victim = start_worker("--concurrency", "1")
    victim.wait_for(lambda: bool(s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads")) and
                    any(e.get("outcome") == "split" for e in victim.events()), timeout=60)
    victim.signal(signal.SIGKILL)
    victim.process.wait()
    assert not exists(s3, "split/kill.csv")
    survivors = [start_worker("--concurrency", "1") for _ in range(2)]
    send_job(sqs, job_id="whole-kill", input=f"s3://{BUCKET}/staging/kill.csv",
             output=f"s3://{BUCKET}/whole/kill.csv", split_bytes=0)
    survivors[0].wait_for(lambda: exists(s3, "split/kill.csv") and exists(s3, "whole/kill.csv")
                          and queue_depth(sqs) == 0, timeout=180)
    assert get(s3, "split/kill.csv") == get(s3, "whole/kill.csv")
    redone = [r for r in ledger(s3) if r["outcome"] == "part" and r["receive_count"] == 2]
    assert len(redone) == 1  # the part the victim held, delivered again
    assert temporary_objects(s3) == [] and queue_depth(sqs, DLQ) == 0


def row_offsets(body: bytes) -> list[int]:
    """Each data row's first byte in the file."""
    offsets, position = [], body.index(b"\n") + 1
    while position < len(body):
        offsets.append(position)
        position = body.index(b"\n", position) + 1
    return offsets


def test_one_bad_cell_dead_letters_the_whole_job_naming_part_and_row(
        s3, sqs, trained, start_worker) -> None:
    from arq_batch.engine.split_plan import byte_parts

    body = bytearray(numbered_csv(200))  # ~3.3 MB in 4 parts
    bad_row = 50_000  # 0-based data row, in the third part
    start = row_offsets(bytes(body))[bad_row]
    cell = start
    for _ in range(3):  # past id, species and island: the row's bill_length_mm
        cell = body.index(b",", cell) + 1
    end = body.index(b",", cell)
    body[cell:end] = b"abc"
    parts = byte_parts(len(body), 900_000)
    part = next(p.index for p in parts if p.start <= start < p.end)
    assert part == 2
    s3.put_object(Bucket=BUCKET, Key="staging/cell.csv", Body=bytes(body))
    cli("send", f"s3://{BUCKET}/staging/cell.csv", "--split-bytes", "900000")
    workers = [start_worker("--concurrency", "1") for _ in range(2)]
    workers[0].wait_for(lambda: queue_depth(sqs) == 0 and queue_depth(sqs, DLQ) == 1,
                        timeout=120)
    [dead] = dead_letter_bodies(sqs)
    assert dead["input"] == f"s3://{BUCKET}/staging/cell.csv" and "part" not in dead
    report = json.loads(get(s3, "data/errors/staging/cell.csv.json"))
    assert report["job"]["part"] == part and report["error"] == "data_error"
    [bad] = report["detail"]["bad_rows"]
    assert (bad["row"], bad["column"]) == (bad_row + 1, "bill_length_mm")
    assert not exists(s3, "data/output/staging/cell.csv")
    workers[0].wait_for(lambda: temporary_objects(s3) == [], timeout=30)
    assert [r["job_id"] for r in ledger(s3) if r["outcome"] == "dead"] == [dead["job_id"]]


def test_a_csv_with_quoted_line_breaks_is_scored_whole_and_right(
        s3, sqs, trained, start_worker) -> None:
    rows = [b'%d,"note %d\nsecond line, with a comma",' % (i, i) + row
            for i, row in enumerate(ROWS * 40)]
    body = b"id,note," + HEADER + b"".join(rows)
    s3.put_object(Bucket=BUCKET, Key="staging/quoted.csv", Body=body)
    cli("send", f"s3://{BUCKET}/staging/quoted.csv", "--output",
        f"s3://{BUCKET}/split/quoted.csv", "--split-bytes", "200000")
    worker = start_worker("--concurrency", "2")
    worker.wait_for(lambda: exists(s3, "split/quoted.csv") and queue_depth(sqs) == 0,
                    timeout=120)
    quoted = pacsv.ParseOptions(newlines_in_values=True)
    scored = pacsv.read_csv(io.BytesIO(get(s3, "split/quoted.csv")), parse_options=quoted)
    assert scored.column("id").to_pylist() == list(range(len(ROWS) * 40))
    assert scored.column("note").to_pylist()[:2] == ["note 0\nsecond line, with a comma",
                                                     "note 1\nsecond line, with a comma"]
    assert [e.get("event") for e in worker.events()].count("split_unsafe") == 1
    send_job(sqs, job_id="whole-quoted", input=f"s3://{BUCKET}/staging/quoted.csv",
             output=f"s3://{BUCKET}/whole/quoted.csv", split_bytes=0)
    worker.wait_for(lambda: exists(s3, "whole/quoted.csv"), timeout=60)
    assert get(s3, "split/quoted.csv") == get(s3, "whole/quoted.csv")
    worker.wait_for(lambda: temporary_objects(s3) == [] and queue_depth(sqs) == 0, timeout=30)
    assert queue_depth(sqs, DLQ) == 0


def test_two_workers_racing_to_assemble_produce_one_output_and_status_shows_progress(
        s3, sqs, trained, monkeypatch) -> None:
    import threading

    from arq_batch.aws.sqs import SqsQueue
    from arq_batch.engine import messages
    from arq_batch.kernel.settings import load_settings
    from arq_batch.models.store import ModelStore
    from arq_batch.worker.runner import JobRunner
    from arq_batch.worker.splits import assembly

    settings = load_settings()
    store, queue = wiring.object_store(settings), SqsQueue(settings.queue, settings.dlq_name)
    s3.put_object(Bucket=BUCKET, Key="staging/race.csv", Body=numbered_csv(100))
    send_job(sqs, job_id="race", input=f"s3://{BUCKET}/staging/race.csv",
             output=f"s3://{BUCKET}/split/race.csv", split_bytes=500_000)
    runner = JobRunner(store, ModelStore(store, settings), settings, queue)

    def jobs() -> list[messages.Job]:
        received = queue.receive(10, 1)
        queue.delete(received)
        return [job for m in received for job in messages.parse(m, settings.buckets)]

    [whole] = jobs()
    assert runner.run(whole).kind == "split"
    parts = sorted(jobs(), key=lambda job: job.part or 0)
    assert len(parts) == 4
    rows = [runner.run(job).rows for job in parts[:-2]]
    [progress] = json.loads(cli("status", "--json").stdout)["split_jobs"]
    assert progress == {"job_id": "race", "input": f"s3://{BUCKET}/staging/race.csv",
                        "parts_done": 2, "parts": 4, "rows": sum(rows), "failed": False}
    assert "race  2 of 4 parts done" in cli("status").stdout
    # The last two parts both mark themselves done, then both look: each sees all done.
    marked = threading.Barrier(2, timeout=30)
    mark = assembly.Parts._mark

    def mark_then_wait(self, keys, index, rows):
        result = mark(self, keys, index, rows)
        marked.wait()
        return result

    monkeypatch.setattr(assembly.Parts, "_mark", mark_then_wait)
    results: list = []
    racers = [threading.Thread(target=lambda j=job: results.append(
        JobRunner(store, ModelStore(store, settings), settings, queue).run(j)))
        for job in parts[-2:]]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert len(results) == 2 and [r.assembled is not None for r in results].count(True) == 1
    uploads = s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    assert uploads == [] and temporary_objects(s3) == []
    monkeypatch.setattr(assembly.Parts, "_mark", mark)
    send_job(sqs, job_id="race-whole", input=f"s3://{BUCKET}/staging/race.csv",
             output=f"s3://{BUCKET}/whole/race.csv", split_bytes=0)
    [reference] = jobs()
    runner.run(reference)
    assert get(s3, "split/race.csv") == get(s3, "whole/race.csv")
