"""Given/Then steps for worker tests: models, inputs, queue state."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow.csv as pacsv

from arq_batch.aws.model_store import ModelStore
from arq_batch.aws.provision import provision
from arq_batch.aws.s3 import S3Store
from arq_batch.core.artifacts import load_pipeline
from arq_batch.core.layout import CARD_FILE, MODEL_FILE
from arq_batch.core.settings import load_settings
from arq_batch.training.pipeline import TrainRequest, train

from ..conftest import PENGUINS

BUCKET, QUEUE, DLQ = "arq-batch-s3", "arq-batch-sqs", "arq-batch-sqs-dlq"
HEADER, *ROWS = PENGUINS.read_bytes().splitlines(keepends=True)


def provision_and_train(target: str = "species") -> str:
    """Provision and train in this process; returns the run id."""
    settings = load_settings()
    provision(settings)
    result = train(TrainRequest(str(PENGUINS), target), S3Store(settings.encryption), settings)
    return result.run_id


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


def send_job(sqs: Any, **body: str) -> str:
    return str(sqs.send_message(QueueUrl=queue_url(sqs), MessageBody=json.dumps(body))["MessageId"])


def exists(s3: Any, key: str) -> bool:
    return "Contents" in s3.list_objects_v2(Bucket=BUCKET, Prefix=key)


def read_csv(s3: Any, key: str) -> Any:
    return pacsv.read_csv(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))


def expected_labels(table: Any) -> list[Any]:
    """What the latest model's own scikit-learn pipeline predicts for these rows."""
    settings = load_settings()
    store = S3Store(settings.encryption)
    folder = ModelStore(store, settings).latest_uri()
    card = store.get_bytes(folder.child(CARD_FILE))
    pipeline = load_pipeline(card, store.get_bytes(folder.child(MODEL_FILE)), str(folder))
    features = [f["name"] for f in json.loads(card)["features"]]
    return list(pipeline.predict(table.select(features).to_pandas()))
