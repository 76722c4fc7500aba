"""The prototype's approach, re-implemented faithfully as the benchmark's baseline.

One process per message: receive one message, download the input and the model to disk,
``pandas.read_csv``, unpickle the pipeline, predict, ``to_csv``, upload, delete, exit.
This is deliberately NOT arq-batch code; it is what arq-batch replaces.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import boto3
import joblib
import pandas as pd


def main(queue_url: str, model_bucket: str, model_key: str, gzip_level: str) -> int:
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1,
                                   WaitTimeSeconds=1).get("Messages", [])
    if not messages:
        return 0
    message = messages[0]
    job = json.loads(message["Body"])
    bucket, key = job["input"][len("s3://"):].split("/", 1)
    out_bucket, out_key = job["output"][len("s3://"):].split("/", 1)
    with tempfile.TemporaryDirectory() as tmp:
        # File names keep their extensions, so pandas reads and writes .gz as the prototype did.
        local_in, local_out = Path(tmp) / Path(key).name, Path(tmp) / f"out-{Path(key).name}"
        local_model = Path(tmp) / "model.joblib"
        s3.download_file(bucket, key, str(local_in))
        s3.download_file(model_bucket, model_key, str(local_model))
        frame = pd.read_csv(local_in)
        pipeline = joblib.load(local_model)
        frame["score"] = pipeline.predict(frame)
        # A .gz output at the worker's gzip level (pandas would use 9): the comparison is of
        # the approach, not of compression settings.
        frame.to_csv(local_out, index=False,
                     compression={"method": "infer", "compresslevel": int(gzip_level)})
        s3.upload_file(str(local_out), out_bucket, out_key)
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
