"""The SageMaker Python SDK as a user runs it; executed by .venv-sagemaker's Python.

    client.py PLAN.json   -> one JSON object on the last line of stdout

The plan lists what to do in this one process (the SDK takes seconds to import):
``{"descriptor": true, "write": [[rows, path], ...], "invoke": [[endpoint_url, rows], ...],
"read": [path, ...]}``: the SDK's record.proto descriptor (hex), ``write_numpy_to_dense_tensor``
into each path, every predictor against each endpoint, ``read_records`` of each path.
"""

from __future__ import annotations

import json
import sys

import boto3
import numpy as np
from sagemaker.amazon.common import read_records, write_numpy_to_dense_tensor
from sagemaker.amazon.linear_learner import LinearLearnerPredictor
from sagemaker.amazon.record_pb2 import DESCRIPTOR
from sagemaker.deserializers import CSVDeserializer, JSONDeserializer, JSONLinesDeserializer
from sagemaker.predictor import Predictor
from sagemaker.serializers import CSVSerializer, JSONLinesSerializer, JSONSerializer
from sagemaker.session import Session


def invoke(url: str, rows: list[list[float]]) -> dict:
    runtime = boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1")
    session = Session(boto_session=boto3.Session(region_name="us-east-1"),
                      sagemaker_runtime_client=runtime)
    learner = LinearLearnerPredictor("arq-batch", sagemaker_session=session)
    records = learner.predict(np.asarray(rows, dtype="float32"))
    answers = {"recordio": [{k: list(v.float32_tensor.values) for k, v in r.label.items()}
                            for r in records]}
    shapes = {"csv": (CSVSerializer(), CSVDeserializer(), rows),
              "json": (JSONSerializer(), JSONDeserializer(),
                       {"instances": [{"features": row} for row in rows]}),
              "jsonlines": (JSONLinesSerializer(), JSONLinesDeserializer(),
                            [{"features": row} for row in rows])}
    for name, (serializer, deserializer, data) in shapes.items():
        predictor = Predictor("arq-batch", sagemaker_session=session, serializer=serializer,
                              deserializer=deserializer)
        answers[name] = predictor.predict(data)
    return answers


def labels(path: str) -> list[dict]:
    with open(path, "rb") as source:
        records = read_records(source)
    return [{k: list(v.float32_tensor.values) for k, v in r.label.items()} for r in records]


def write(rows: list[list[float]], path: str) -> None:
    with open(path, "wb") as out:
        write_numpy_to_dense_tensor(out, np.asarray(rows, "float32"))


def main() -> None:
    with open(sys.argv[1]) as source:
        plan = json.load(source)
    for rows, path in plan.get("write", []):
        write(rows, path)
    print(json.dumps({
        "descriptor": DESCRIPTOR.serialized_pb.hex() if plan.get("descriptor") else None,
        "invoke": [invoke(url, rows) for url, rows in plan.get("invoke", [])],
        "read": [labels(path) for path in plan.get("read", [])],
    }))


if __name__ == "__main__":
    main()
