"""Given/Then steps for worker tests: models, inputs, queue state."""

from __future__ import annotations

import io
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv

from arq_batch.aws.provision import provision
from arq_batch.aws.s3 import S3Store
from arq_batch.kernel import layout
from arq_batch.kernel.layout import CARD_FILE, MODEL_FILE, SCORER_FILE
from arq_batch.kernel.settings import load_settings
from arq_batch.models import registry
from arq_batch.models.store import ModelStore
from arq_batch.monitoring.baseline import CONSTRAINTS_FILE, STATISTICS_FILE
from arq_batch.training.pickles import load_pipeline
from arq_batch.training.pipeline import REPORT_FILE, TrainRequest, train

from ..conftest import PENGUINS

BUCKET, QUEUE, DLQ = "arq-batch-s3", "arq-batch-sqs", "arq-batch-sqs-dlq"
HEADER, *ROWS = PENGUINS.read_bytes().splitlines(keepends=True)


_RUNS: dict[tuple[str, str], tuple[str, dict[str, bytes]]] = {}  # -> run id, its files


def provision_and_train(target: str = "species", data: Path = PENGUINS) -> str:
    """Provision, and give the fresh emulator a trained model; returns the run id.

    The first call per target trains (the search and its report take a few seconds);
    later ones put the same run's files back, as a deployment would copy them, since
    every test starts from an empty emulator. Tests of training itself call ``train``."""
    settings = load_settings()
    provision(settings)
    store = S3Store(settings.encryption)
    if (str(data), target) not in _RUNS:
        run_id = train(TrainRequest(str(data), target), store, settings).run_id
        folder = layout.run_uri(settings.bucket, settings.prefixes, run_id)
        _RUNS[str(data), target] = run_id, {name: store.get_bytes(folder.child(name))
                                 for name in (MODEL_FILE, SCORER_FILE, CARD_FILE,
                                              STATISTICS_FILE, CONSTRAINTS_FILE, REPORT_FILE)}
        return run_id
    run_id, files = _RUNS[str(data), target]
    folder = layout.run_uri(settings.bucket, settings.prefixes, run_id)
    for name, data in files.items():
        store.put_bytes(folder.child(name), data)
    registry.promote(store, settings, run_id, by="tests", action="promote", reason="fixture")
    return run_id


def penguins_csv(copies: int = 1) -> bytes:
    """The penguins file with its rows repeated ``copies`` times."""
    return HEADER + b"".join(ROWS) * copies


def queue_url(sqs: Any, name: str = QUEUE) -> str:
    return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])


def queue_depth(sqs: Any, name: str = QUEUE) -> int:
    """Visible plus in-flight messages."""
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url(sqs, name), AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(v) for v in attrs.values())


def send_job(sqs: Any, **body: Any) -> str:
    return str(sqs.send_message(QueueUrl=queue_url(sqs), MessageBody=json.dumps(body))["MessageId"])


def exists(s3: Any, key: str) -> bool:
    return "Contents" in s3.list_objects_v2(Bucket=BUCKET, Prefix=key)


def dead_letter_bodies(sqs: Any) -> list[dict[str, Any]]:
    """Every message body in the dead-letter queue, once each (hidden while we page)."""
    url, found = queue_url(sqs, DLQ), {}
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       VisibilityTimeout=300).get("Messages", []):
        found.update({m["MessageId"]: json.loads(m["Body"]) for m in batch})
    return list(found.values())


def read_csv(s3: Any, key: str) -> Any:
    return pacsv.read_csv(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))


def latest_model() -> Callable[[Any], list[Any]]:
    """The latest model's own scikit-learn pipeline, as a function of a table's rows."""
    settings = load_settings()
    store = S3Store(settings.encryption)
    folder = ModelStore(store, settings).latest_uri()
    card = store.get_bytes(folder.child(CARD_FILE))
    pipeline = load_pipeline(card, store.get_bytes(folder.child(MODEL_FILE)), str(folder))
    features = [f["name"] for f in json.loads(card)["features"]]
    return lambda table: list(pipeline.predict(table.select(features).to_pandas()))


def expected_labels(table: Any) -> list[Any]:
    """What the latest model's own scikit-learn pipeline predicts for these rows."""
    return latest_model()(table)


def big_job(s3, key: str = "data/input/big.csv", copies: int = 3000) -> int:
    """An input of ``copies`` x the penguins (3000: ~1M rows, ~45 MB, a few seconds' job
    whose output goes multipart), uploaded; its rows."""
    body = penguins_csv(copies)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return 344 * copies


def wait_mid_job(worker, s3) -> None:
    """Until the job's output upload has begun: well into the job, with most still to do.

    (The first 5 MB part of a ~100 MB output; a fixed sleep instead raced the job.)"""
    worker.wait_for(lambda: bool(s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads")),
                    timeout=60)


def kill_mid_job(s3, start_worker) -> int:
    """A worker SIGKILLed while scoring a big input; returns the input's rows."""
    rows = big_job(s3)
    worker = start_worker()
    wait_mid_job(worker, s3)
    worker.signal(signal.SIGKILL)
    worker.process.wait()
    return rows
