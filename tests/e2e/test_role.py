"""The stack's task role matches the code: every AWS call of a real run is allowed.

Each kind of work runs in this process against the moto server with every botocore call
recorded (``tests/iam.py``): the worker on a whole job, a split job, a monitored job, a
data error and a poison message (reports, the dead-letter queue), the endpoint loading
its model, and a ``watch`` pass. Each call's permissions are checked against the
template's TaskRole, so a prefix the code starts writing cannot be forgotten there."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

from arq_batch import wiring
from arq_batch.aws.sqs import SqsQueue
from arq_batch.engine.compaction import Compactor
from arq_batch.feeders.watch import Watcher
from arq_batch.kernel.settings import load_settings
from arq_batch.models.store import ModelStore, open_model
from arq_batch.worker.main import build_worker

from ..iam import ACCOUNT, REGION, Call, Policy, record_calls
from .helpers import BUCKET, DLQ, QUEUE, penguins_csv, provision_and_train, send_job

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "arq-batch.yaml"
NAMES = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
         "BucketName": BUCKET, "Bucket.Arn": f"arn:aws:s3:::{BUCKET}",
         "JobQueue.Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}",
         "DeadLetterQueue.Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{DLQ}"}


# Granted for paths the run above does not take, each exercised by another test.
NOT_TAKEN = [
    # a job that fails after its quarantine committed removes it (test_quarantine's unit
    # test of a failed output commit)
    "WithdrawWhatAFailedJobWroteAndFinishedSplits: s3:DeleteObject on "
    "arn:aws:s3:::arq-batch-s3/data/quarantine/*",
    # a multipart output that fails half-way is aborted (test_worker's kill and data tests)
    "WriteOutputsAndRecords: s3:AbortMultipartUpload on arn:aws:s3:::arq-batch-s3/*",
    # the heartbeat, retry backoff and release at shutdown (test_worker's long-job tests)
    "WorkTheQueueAndSendSplitParts: sqs:ChangeMessageVisibility on "
    f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}",
]


@pytest.fixture(scope="module")
def task_role() -> Policy:
    return Policy.of_role(cfn_yaml.load(str(TEMPLATE)), "TaskRole", NAMES)


def _work_every_kind_of_job(s3, sqs, settings) -> None:
    """Whole CSV and Parquet jobs (monitored), a split job, a data error, a poison message,
    a redelivered (skipped) job, a job that sets a bad row aside, then the endpoint's model
    load and one watch pass."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    s3.put_object(Bucket=BUCKET, Key="data/input/whole.csv", Body=penguins_csv())
    s3.put_object(Bucket=BUCKET, Key="big/split.csv", Body=penguins_csv(40))  # no event
    s3.put_object(Bucket=BUCKET, Key="data/input/bad.csv", Body=b"species\nAdelie\n")
    table = pacsv.read_csv(Path(__file__).resolve().parents[2] / "data" / "penguins.csv")
    sink = __import__("io").BytesIO()
    pq.write_table(table, sink)
    s3.put_object(Bucket=BUCKET, Key="data/input/t.parquet", Body=sink.getvalue())
    send_job(sqs, input=f"s3://{BUCKET}/big/split.csv", split_bytes=100_000, job_id="split")
    dirty = penguins_csv().replace(b"39.1", b"thirty-nine", 1)  # one bad row, set aside
    s3.put_object(Bucket=BUCKET, Key="big/dirty.csv", Body=dirty)
    send_job(sqs, input=f"s3://{BUCKET}/big/dirty.csv", max_bad_rows=1)
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"],
                     MessageBody="not a job")
    build_worker(settings, 2, once=True).run()
    send_job(sqs, input=f"s3://{BUCKET}/data/input/whole.csv")  # done already: skipped
    build_worker(settings, 1, once=True).run()
    open_model(ModelStore(wiring.object_store(settings), settings), None)  # what serve loads
    s3.put_object(Bucket=BUCKET, Key="data/input/watched.csv", Body=penguins_csv())
    Watcher(wiring.object_store(settings), SqsQueue(settings.queue), settings).run_pass()
    Compactor(wiring.object_store(settings), settings).run(min_age=0)  # a worker's upkeep


def test_every_call_of_the_worker_endpoint_and_watch_is_allowed_by_the_task_role(
        s3, sqs, config_file, monkeypatch, task_role) -> None:
    # Given a trained model (set-up calls are not the task role's), then every call recorded
    provision_and_train()
    calls = record_calls(monkeypatch)
    settings = load_settings()
    settings = settings.replace(queue_settings=dataclasses.replace(
        settings.queue_settings, wait_time_seconds=1), progress=dataclasses.replace(
        settings.progress, interval_seconds=0.001))  # every job publishes its progress
    # When every kind of work runs
    _work_every_kind_of_job(s3, sqs, settings)
    # Then it really did (so the calls cover each path) ...
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    for expected in ("data/output/whole.csv", "data/output/big/split.csv", "data/output/t.parquet",
                     "data/errors/bad.csv.json", "data/quarantine/big/dirty.csv"):
        assert expected in keys, sorted(keys)
    assert any(k.startswith("data/monitoring/") for k in keys)
    for prefix in ("data/splits/", "data/progress/", "data/compacted/"):
        assert any(c.params.get("Key", "").startswith(prefix) for c in calls), prefix
    assert any(k.startswith("data/watch/") for k in keys)
    # ... and the role allows every permission each of its calls needs
    needs = {str(n): n for call in calls for n in call.needs()}
    denied = sorted(name for name, need in needs.items() if not task_role.allows(need))
    assert denied == [], "\n".join(denied)
    # and grants nothing no call used, but for paths this run does not take
    spare = task_role.unused(list(needs.values()))
    assert sorted(spare) == sorted(NOT_TAKEN), "\n".join(spare)


def test_the_evaluator_refuses_what_the_role_does_not_grant(task_role) -> None:
    """The check above can fail: calls outside the role's prefixes and queues are denied."""
    refused = [Call("s3", "PutObject", {"Bucket": BUCKET, "Key": "model/output/latest.json"}),
               Call("s3", "GetObject", {"Bucket": "other", "Key": "data/input/a.csv"}),
               Call("s3", "DeleteObject", {"Bucket": BUCKET, "Key": "data/input/a.csv"}),
               Call("s3", "ListObjectsV2", {"Bucket": BUCKET, "Prefix": "model/"}),
               Call("sqs", "SendMessage", {"QueueUrl": "http://x/123456789012/other"})]
    for call in refused:
        assert not all(task_role.allows(n) for n in call.needs()), call
    assert json.dumps(task_role.statements)  # resolved: plain JSON, no intrinsic left


@pytest.fixture(scope="module")
def console_role() -> Policy:
    return Policy.of_role(cfn_yaml.load(str(TEMPLATE)), "ConsoleRole", NAMES)


def test_every_call_of_the_console_is_allowed_by_its_own_role(
        s3, sqs, config_file, monkeypatch, console_role, task_role) -> None:
    # Given two runs (the second the champion) and a dead letter
    from starlette.testclient import TestClient

    from arq_batch.console.app import create_app, from_settings

    provision_and_train("species")
    second = provision_and_train("sex")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=DLQ)["QueueUrl"], MessageBody="{}")
    calls = record_calls(monkeypatch)
    # When every page is opened, and every action taken with the token
    client = TestClient(create_app(from_settings(load_settings(), "role-token")))
    for path in ("/", "/jobs", "/jobs/none", "/models", f"/models/{second}/report",
                 "/monitoring", "/monitoring/report", "/dlq", "/query?sql=SELECT+1"):
        assert client.get(path).status_code in (200, 404), path
    bearer = {"authorization": "Bearer role-token"}
    for path, form in (("/models/rollback", {"confirm": "yes"}),
                       ("/models/promote", {"run_id": second, "confirm": "yes"}),
                       ("/dlq/redrive", {})):
        assert client.post(path, data=form, headers=bearer).status_code == 200, path
    # Then the console role allows each call, and grants nothing no call used
    needs = {str(n): n for call in calls for n in call.needs()}
    denied = sorted(name for name, need in needs.items() if not console_role.allows(need))
    assert denied == [], "\n".join(denied)
    assert console_role.unused(list(needs.values())) == []
    # ... while the workers' role could not have made the console's writes
    writes = [n for n in needs.values() if n.action == "s3:PutObject"]
    assert writes and not any(task_role.allows(n) for n in writes)
