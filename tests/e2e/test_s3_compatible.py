"""Against a second S3 implementation: ``rclone serve s3`` for S3, moto for SQS.

rclone's S3 server lacks bucket sub-resources (encryption, public access block,
lifecycle, notifications) and conditional writes; everything else must work as on AWS.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import time
import urllib.request

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from arq_batch.aws.emulator import free_port

from .conftest import cli
from .helpers import BUCKET, QUEUE, expected_labels, penguins_csv, queue_url, send_job

FEATURES = {"default encryption", "public access block", "lifecycle", "event notifications"}


def table(store, key: str) -> pa.Table:
    body = store.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    if key.endswith(".parquet"):
        return pq.read_table(io.BytesIO(body))
    if key.endswith(".gz"):
        body = gzip.decompress(body)
    if ".jsonl" in key:
        return pa.Table.from_pylist([json.loads(line) for line in body.splitlines()])
    return pacsv.read_csv(io.BytesIO(body))


@pytest.fixture
def trained(rclone, config_file):
    provisioned = json.loads(cli("provision", "--json").stdout)
    cli("train", "--data", "data/penguins.csv", "--target", "species")
    return provisioned


def test_provision_skips_what_the_store_lacks_and_builds_the_rest(rclone, config_file, sqs):
    config_file(s3={"addressing_style": "path"})  # what MinIO deployments often need
    first = cli("provision", "--json")
    report = json.loads(first.stdout)
    assert {s["feature"] for s in report["skipped"]} == FEATURES
    assert any("arq-batch watch" in s["reason"] for s in report["skipped"])
    assert f"created queue {QUEUE}" in report["changes"]
    redrive = sqs.get_queue_attributes(QueueUrl=queue_url(sqs), AttributeNames=["All"])
    assert json.loads(redrive["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 3
    again = json.loads(cli("provision", "--json").stdout)
    assert again["changes"] == [] and again["skipped"] == report["skipped"]
    human = cli("provision").stdout
    assert "skipped event notifications" in human


def test_two_watch_passes_enqueue_each_new_object_once_then_each_has_one_output(
        rclone, trained, sqs):
    body = penguins_csv()
    sources = pacsv.read_csv(io.BytesIO(body))
    parquet = io.BytesIO()
    pq.write_table(sources, parquet)
    inputs = {"data/input/a.csv": body, "data/input/deeper/b.csv.gz": gzip.compress(body),
              "data/input/c.parquet": parquet.getvalue(),
              "data/input/d.jsonl": "".join(json.dumps(r) + "\n" for r in
                                            sources.to_pylist()).encode()}
    for key, data in inputs.items():
        rclone.put_object(Bucket=BUCKET, Key=key, Body=data)
    first = json.loads(cli("watch", "--once", "--json").stdout)
    second = json.loads(cli("watch", "--once", "--json").stdout)
    assert sorted(first["enqueued"]) == sorted(inputs) and second["enqueued"] == []
    cli("worker", "--once")
    want = expected_labels(sources)
    for key in inputs:
        out = table(rclone, key.replace("data/input/", "data/output/"))
        assert out.column("predicted_label").to_pylist() == want, key
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url(sqs),
                                          AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
    # An overwritten object is new again, as S3 would notify it.
    rclone.put_object(Bucket=BUCKET, Key="data/input/a.csv", Body=penguins_csv(2))
    assert json.loads(cli("watch", "--once", "--json").stdout)["enqueued"] == [
        "data/input/a.csv"]


def test_jobs_score_query_and_bad_inputs_against_the_store(rclone, trained, sqs, tmp_path):
    rclone.put_object(Bucket=BUCKET, Key="data/big/big.csv", Body=penguins_csv(600))
    cli("send", f"s3://{BUCKET}/data/big/big.csv", "--output", f"s3://{BUCKET}/out/big.csv")
    cli("send", f"s3://{BUCKET}/data/big/absent.csv")
    # send refuses another bucket (exit 2); a message sent around it reaches the worker
    send_job(sqs, input=f"s3://{BUCKET}/data/big/big.csv", output="s3://elsewhere/big.csv")
    cli("worker", "--once")
    head = rclone.head_object(Bucket=BUCKET, Key="out/big.csv")
    assert head["ContentLength"] > 5 * 1024 * 1024  # a multipart upload of several parts
    assert table(rclone, "out/big.csv").num_rows == 344 * 600
    errors = rclone.list_objects_v2(Bucket=BUCKET, Prefix="data/errors/")["Contents"]
    assert len(errors) == 2  # the missing object and the bucket jobs may not use
    dlq = sqs.get_queue_url(QueueName=f"{QUEUE}-dlq")["QueueUrl"]
    depth = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
    assert int(depth["ApproximateNumberOfMessages"]) == 2

    local = tmp_path / "scored.csv"
    cli("score", "--input", f"s3://{BUCKET}/data/big/big.csv", "--output", str(local))
    assert pacsv.read_csv(local).num_rows == 344 * 600
    counted = json.loads(cli("query", "SELECT outcome, count(*) AS n FROM jobs GROUP BY 1 "
                                      "ORDER BY 1", "--format", "json").stdout)
    assert counted == [{"outcome": "dead", "n": 2}, {"outcome": "done", "n": 1}]


def test_serve_loads_its_model_from_the_store(rclone, trained):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "arq_batch", "serve", "--port", str(port)],
                              env=dict(os.environ), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping") as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the endpoint did not start"
                time.sleep(0.2)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=b"Biscoe,48.6,16.0,230,5800,male,2008", headers={"Content-Type": "text/csv"})
        with urllib.request.urlopen(request) as response:
            answer = json.loads(response.read())
        assert answer["predictions"][0]["predicted_label"] == "Gentoo"
    finally:
        server.terminate()
        server.wait(20)
