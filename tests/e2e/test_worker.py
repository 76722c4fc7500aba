"""The worker end to end: real processes, real S3 notifications, a real moto server."""

from __future__ import annotations

import json
import signal
import time

import pytest
import zstandard

from .helpers import (
    BUCKET,
    DLQ,
    HEADER,
    big_job,
    exists,
    expected_labels,
    kill_mid_job,
    latest_model,
    penguins_csv,
    provision_and_train,
    queue_depth,
    queue_url,
    read_csv,
    wait_mid_job,
)


@pytest.fixture
def trained(config_file) -> str:
    return provision_and_train()


def test_an_upload_is_scored_through_the_s3_notification(s3, sqs, trained, start_worker) -> None:
    body = penguins_csv().replace(HEADER, b"id," + HEADER, 1)
    body = b"\n".join(line if i == 0 else f"{i:04d},".encode() + line
                      for i, line in enumerate(body.splitlines())) + b"\n"
    worker = start_worker()
    s3.put_object(Bucket=BUCKET, Key="data/input/team a/batch 1.csv", Body=body)
    worker.wait_for(lambda: exists(s3, "data/output/team a/batch 1.csv"))
    out = read_csv(s3, "data/output/team a/batch 1.csv")
    assert out.column_names == ["id", *HEADER.decode().strip().split(","), "predicted_label",
                                "score"]
    assert out.column("id").to_pylist()[:2] == [1, 2] and out.num_rows == 344
    assert out.column("predicted_label").to_pylist() == expected_labels(out)
    head = s3.head_object(Bucket=BUCKET, Key="data/output/team a/batch 1.csv")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"]["model-run-id"] == trained
    worker.wait_for(lambda: queue_depth(sqs) == 0)
    assert queue_depth(sqs, DLQ) == 0
    assert worker.stop() == 0


def bad_csv(s3, key: str, body: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def tamper(s3, run: str) -> None:
    """A copy of the trained run whose artifact has one byte flipped."""
    for name in ("model.json", "model.joblib"):
        blob = bytearray(s3.get_object(Bucket=BUCKET, Key=f"model/output/{run}/{name}")["Body"]
                         .read())
        if name == "model.joblib":
            blob[100] ^= 0xFF
        s3.put_object(Bucket=BUCKET, Key=f"model/output/tampered/{name}", Body=bytes(blob))


CASES = {
    # name: (setup(s3, run), message body, error kind, report key or None for messages/)
    "poison": (None, "this is not a job", "poison_message", None),
    "missing_object": (None, {"input": f"s3://{BUCKET}/staging/nope.csv"}, "missing_object",
                       "data/errors/staging/nope.csv.json"),
    "bucket_not_allowed": (None, {"input": "s3://not-ours/data/input/a.csv"},
                           "bucket_not_allowed", None),
    "missing_column": (lambda s3, run: bad_csv(s3, "staging/cols.csv", b"island,sex\nDream,male\n"),
                       {"input": f"s3://{BUCKET}/staging/cols.csv"}, "data_error",
                       "data/errors/staging/cols.csv.json"),
    "non_numeric": (lambda s3, run: bad_csv(s3, "staging/text.csv",
                                            penguins_csv().replace(b"39.1", b"abc", 1)),
                    {"input": f"s3://{BUCKET}/staging/text.csv"}, "data_error",
                    "data/errors/staging/text.csv.json"),
    "empty_file": (lambda s3, run: bad_csv(s3, "staging/empty.csv", b""),
                   {"input": f"s3://{BUCKET}/staging/empty.csv"}, "data_error",
                   "data/errors/staging/empty.csv.json"),
    "header_only": (lambda s3, run: bad_csv(s3, "staging/header.csv", HEADER),
                    {"input": f"s3://{BUCKET}/staging/header.csv"}, "data_error",
                    "data/errors/staging/header.csv.json"),
    "bad_gzip": (lambda s3, run: bad_csv(s3, "staging/bad.csv.gz", b"not gzip data"),
                 {"input": f"s3://{BUCKET}/staging/bad.csv.gz"}, "data_error",
                 "data/errors/staging/bad.csv.gz.json"),
    "bad_zstd": (lambda s3, run: bad_csv(s3, "staging/bad.csv.zst",
                                         zstandard.compress(penguins_csv())[:-40]),
                 {"input": f"s3://{BUCKET}/staging/bad.csv.zst"}, "data_error",
                 "data/errors/staging/bad.csv.zst.json"),
    "model_missing": (lambda s3, run: bad_csv(s3, "staging/ok.csv", penguins_csv()),
                      {"input": f"s3://{BUCKET}/staging/ok.csv",
                       "model": f"s3://{BUCKET}/model/output/no-such-run/"}, "model_error",
                      "data/errors/staging/ok.csv.json"),
    "model_tampered": (lambda s3, run: (bad_csv(s3, "staging/ok2.csv", penguins_csv()),
                                        tamper(s3, run)),
                       {"input": f"s3://{BUCKET}/staging/ok2.csv",
                        "model": f"s3://{BUCKET}/model/output/tampered/"}, "model_error",
                       "data/errors/staging/ok2.csv.json"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_permanent_error_is_reported_dead_lettered_and_survived(
    case: str, s3, sqs, trained, start_worker,
) -> None:
    setup, body, kind, report_key = CASES[case]
    if setup:
        setup(s3, trained)
    worker = start_worker()
    raw = body if isinstance(body, str) else json.dumps(body)
    message_id = sqs.send_message(QueueUrl=queue_url(sqs), MessageBody=raw)["MessageId"]
    report_key = report_key or f"data/errors/messages/{message_id}.json"
    worker.wait_for(lambda: exists(s3, report_key))
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=report_key)["Body"].read())
    assert report["error"] == kind and report["message_id"] == message_id
    assert {"job", "detail", "attempts", "at"} <= set(report)
    worker.wait_for(lambda: queue_depth(sqs, DLQ) == 1)
    (dead,) = sqs.receive_message(QueueUrl=queue_url(sqs, DLQ), MessageAttributeNames=["All"])[
        "Messages"]
    assert dead["Body"] == raw
    assert dead["MessageAttributes"]["arq_error"]["StringValue"].startswith(kind)
    # ...and the worker is still alive, scoring the next good job.
    s3.put_object(Bucket=BUCKET, Key="data/input/next.csv", Body=penguins_csv())
    worker.wait_for(lambda: exists(s3, "data/output/next.csv"))
    worker.wait_for(lambda: queue_depth(sqs) == 0)
    assert not exists(s3, "data/output/staging")
    assert worker.stop() == 0


def test_a_bad_row_report_lists_lines_and_reasons(s3, sqs, trained, start_worker) -> None:
    body = penguins_csv(3).replace(b"Adelie,Dream,39.5,16.7", b"Adelie,Dream,39.5,n/a?", 1)
    worker = start_worker()
    s3.put_object(Bucket=BUCKET, Key="data/input/rows.csv", Body=body)
    worker.wait_for(lambda: exists(s3, "data/errors/rows.csv.json"))
    detail = json.loads(s3.get_object(Bucket=BUCKET, Key="data/errors/rows.csv.json")["Body"]
                        .read())["detail"]
    line = body.splitlines().index(next(x for x in body.splitlines() if b"n/a?" in x))
    assert detail["bad_rows"][0] == {"row": line, "column": "bill_depth_mm",
                                     "reason": "'n/a?' is not a number"}
    assert not exists(s3, "data/output/rows.csv")
    worker.stop()


def test_kill_9_mid_job_then_a_new_worker_completes_it_once(
    s3, sqs, trained, config_file, start_worker,
) -> None:
    config_file(queue_settings={"visibility_timeout": 4})
    rows = kill_mid_job(s3, start_worker)
    assert not exists(s3, "data/output/big.csv")  # nothing partial is visible
    second = start_worker()
    second.wait_for(lambda: exists(s3, "data/output/big.csv"), timeout=120)
    second.wait_for(lambda: queue_depth(sqs) == 0)
    out = read_csv(s3, "data/output/big.csv")
    assert out.num_rows == rows
    assert out.slice(0, 344).column("predicted_label").to_pylist() == expected_labels(
        out.slice(0, 344))
    assert len([e for e in second.jobs("done") if e["input"].endswith("big.csv")]) == 1
    assert queue_depth(sqs, DLQ) == 0
    assert second.stop() == 0


def test_sigterm_lets_the_running_job_finish_and_exits_0(s3, sqs, trained, start_worker) -> None:
    rows = big_job(s3)
    worker = start_worker()
    wait_mid_job(worker, s3)
    worker.signal(signal.SIGTERM)
    assert worker.process.wait(timeout=30) == 0
    assert read_csv(s3, "data/output/big.csv").num_rows == rows
    assert queue_depth(sqs) == 0


def test_sigterm_past_the_grace_period_releases_the_message(
    s3, sqs, trained, config_file, start_worker,
) -> None:
    config_file(worker={"grace_seconds": 0.2})
    big_job(s3)
    worker = start_worker()
    wait_mid_job(worker, s3)
    worker.signal(signal.SIGTERM)
    assert worker.process.wait(timeout=30) == 0
    assert [e["outcome"] for e in worker.jobs()] == ["released"]
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url(sqs), AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]
    assert int(attrs["ApproximateNumberOfMessages"]) == 1  # visible again at once
    assert not exists(s3, "data/output/big.csv")


def test_two_workers_share_100_jobs_every_output_exactly_once(
    s3, sqs, trained, start_worker,
) -> None:
    """Delivery is at-least-once: SQS may hand one message to both workers at once (moto's
    ReceiveMessage can race the same way), and both then write the same bytes to the same
    key. So: one correct output per input, each input scored, and any input scored twice
    was one message delivered twice, never two jobs."""
    small = penguins_csv()[: len(HEADER) + sum(len(r) for r in penguins_csv().splitlines(True)
                                                 [1:11])]
    workers = [start_worker("--concurrency", "2") for _ in range(2)]
    for i in range(100):
        s3.put_object(Bucket=BUCKET, Key=f"data/input/many/{i:03d}.csv", Body=small)
    workers[0].wait_for(lambda: len(s3.list_objects_v2(
        Bucket=BUCKET, Prefix="data/output/many/").get("Contents", [])) == 100, timeout=180)
    workers[0].wait_for(lambda: queue_depth(sqs) == 0)
    for worker in workers:
        assert worker.stop() == 0
    scored = [e for w in workers for e in w.jobs("done") if not e.get("skipped")]
    assert {e["input"] for e in scored} == {
        f"s3://{BUCKET}/data/input/many/{i:03d}.csv" for i in range(100)}
    messages_per_input = {e["input"]: {d["job_id"] for d in scored if d["input"] == e["input"]}
                          for e in scored}
    assert all(len(ids) == 1 for ids in messages_per_input.values())
    assert all(w.jobs("done") for w in workers)  # both took part
    predict = latest_model()  # loaded once for the hundred outputs
    for i in range(100):
        output = read_csv(s3, f"data/output/many/{i:03d}.csv")
        assert output.num_rows == 10
        assert output.column("predicted_label").to_pylist() == predict(output)


def test_a_job_longer_than_the_visibility_timeout_is_not_redelivered(
    s3, sqs, trained, config_file, start_worker,
) -> None:
    # 3 s, not 2: the heartbeat beats every second, and a moto server busy with another
    # test's upload once took longer than the 1 s of slack 2 s left.
    config_file(queue_settings={"visibility_timeout": 3})
    big_job(s3, copies=6000)  # 2M rows: ~7 s of work, and a 90 MB upload rather than 225
    worker = start_worker("--concurrency", "2")
    # The job's log line follows its output: wait for the line, not the object.
    worker.wait_for(lambda: any(e["input"].endswith("big.csv") for e in worker.jobs()),
                    timeout=120)
    finished = [e for e in worker.jobs() if e["input"].endswith("big.csv")]
    seconds = finished[0]["seconds"]
    assert seconds > 3, f"job took {seconds} s: not longer than the visibility timeout"
    time.sleep(4)
    assert len([e for e in worker.jobs() if e["input"].endswith("big.csv")]) == 1
    assert queue_depth(sqs) == 0
    worker.stop()


def test_a_zstd_input_is_scored_into_a_zstd_output(s3, sqs, trained, start_worker) -> None:
    s3.put_object(Bucket=BUCKET, Key="data/input/z/in.csv.zst",
                  Body=zstandard.compress(penguins_csv()))
    worker = start_worker()
    worker.wait_for(lambda: exists(s3, "data/output/z/in.csv.zst"))
    packed = s3.get_object(Bucket=BUCKET, Key="data/output/z/in.csv.zst")["Body"].read()
    text = zstandard.ZstdDecompressor().decompressobj().decompress(packed)
    assert text.startswith(HEADER.rstrip() + b",predicted_label,score\n")
    assert len(text.splitlines()) == 345
    assert worker.stop() == 0


def test_send_enqueues_a_job_message_the_worker_runs(s3, sqs, trained, start_worker) -> None:
    from .conftest import cli

    s3.put_object(Bucket=BUCKET, Key="staging/job.csv", Body=penguins_csv())
    sent = json.loads(cli("send", f"s3://{BUCKET}/staging/job.csv", "--output",
                          f"s3://{BUCKET}/results/job.csv", "--json").stdout)
    assert sent["job"]["input"] == f"s3://{BUCKET}/staging/job.csv" and sent["message_id"]
    worker = start_worker("--once")
    assert worker.process.wait(timeout=60) == 0
    assert read_csv(s3, "results/job.csv").num_rows == 344


def test_score_runs_the_same_engine_on_local_paths_and_s3_uris(s3, trained, tmp_path) -> None:
    from ..conftest import PENGUINS
    from .conftest import cli

    local = json.loads(cli("score", "--input", str(PENGUINS), "--output",
                           str(tmp_path / "out.csv"), "--json").stdout)
    assert local["rows"] == 344 and local["run_id"] == trained
    s3.put_object(Bucket=BUCKET, Key="staging/in.csv", Body=PENGUINS.read_bytes())
    remote = json.loads(cli("score", "--input", f"s3://{BUCKET}/staging/in.csv", "--output",
                            f"s3://{BUCKET}/results/in.csv", "--json").stdout)
    assert remote["rows"] == 344
    assert (tmp_path / "out.csv").read_bytes() == s3.get_object(
        Bucket=BUCKET, Key="results/in.csv")["Body"].read()


def test_score_reads_and_writes_zstd_and_refuses_a_corrupt_frame(s3, trained, tmp_path) -> None:
    from ..conftest import PENGUINS
    from .conftest import cli

    s3.put_object(Bucket=BUCKET, Key="staging/in.csv.zst",
                  Body=zstandard.compress(PENGUINS.read_bytes()))
    result = json.loads(cli("score", "--input", f"s3://{BUCKET}/staging/in.csv.zst",
                            "--output", str(tmp_path / "out.csv.zst"), "--json").stdout)
    assert result["rows"] == 344
    text = zstandard.ZstdDecompressor().decompressobj().decompress(
        (tmp_path / "out.csv.zst").read_bytes())
    assert len(text.splitlines()) == 345
    corrupt = tmp_path / "bad.csv.zst"
    corrupt.write_bytes(zstandard.compress(PENGUINS.read_bytes())[:-25])
    failed = cli("score", "--input", str(corrupt), "--output", str(tmp_path / "o.csv.zst"),
                 check=False)
    assert failed.returncode == 1 and "unreadable zstd compression" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.csv.zst").exists()
