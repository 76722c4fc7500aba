"""The SageMaker Python SDK as a user runs it; executed by .venv-sagemaker's Python.

    client.py invoke ENDPOINT_URL ROWS_JSON   -> predictions per serializer, as JSON
    client.py write ROWS_JSON PATH            -> write_numpy_to_dense_tensor into PATH
    client.py read PATH                       -> read_records of PATH, labels as JSON
    client.py descriptor                      -> the SDK's record.proto descriptor, hex
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


def main() -> None:
    action = sys.argv[1]
    if action == "invoke":
        print(json.dumps(invoke(sys.argv[2], json.loads(sys.argv[3]))))
    elif action == "write":
        with open(sys.argv[3], "wb") as out:
            write_numpy_to_dense_tensor(out, np.asarray(json.loads(sys.argv[2]), "float32"))
    elif action == "read":
        with open(sys.argv[2], "rb") as source:
            records = read_records(source)
        print(json.dumps([{k: list(v.float32_tensor.values) for k, v in r.label.items()}
                          for r in records]))
    elif action == "descriptor":
        print(DESCRIPTOR.serialized_pb.hex())


if __name__ == "__main__":
    main()
