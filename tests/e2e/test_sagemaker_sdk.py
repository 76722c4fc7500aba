"""The SageMaker Python SDK itself as the client: endpoint and RecordIO batch files.

The SDK runs in its own venv (.venv-sagemaker, made by ``make test``; its pins clash with
ours), through ``tests/sdk/client.py``. Its answers must equal the batch worker's for a
regressor, a binary and a multiclass model trained on the numeric penguin columns.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import uvicorn
from google.protobuf import descriptor_pb2

from arq_batch.aws.emulator import free_port
from arq_batch.aws.model_store import ModelStore
from arq_batch.aws.provision import provision
from arq_batch.aws.s3 import S3Store
from arq_batch.core.formats.record_schema import FILE
from arq_batch.core.layout import run_uri
from arq_batch.core.settings import ServeSettings, load_settings
from arq_batch.serving.app import server_config
from arq_batch.training.pipeline import TrainRequest, train

from ..conftest import PENGUINS
from .conftest import cli
from .helpers import BUCKET

ROOT = Path(__file__).resolve().parents[2]
SDK_PYTHON = Path(os.environ.get("ARQ_SAGEMAKER_PYTHON", ROOT / ".venv-sagemaker/bin/python"))
CLIENT = ROOT / "tests/sdk/client.py"
TARGETS = {"body_mass_g": "regressor", "sex": "binary_classifier",
           "species": "multiclass_classifier"}


def sdk(*args: str) -> str:
    if not SDK_PYTHON.exists():
        pytest.fail(f"{SDK_PYTHON} is missing: `make test` builds .venv-sagemaker")
    result = subprocess.run([str(SDK_PYTHON), str(CLIENT), *args], capture_output=True,
                            text=True, timeout=120, env=os.environ | {
                                "SAGEMAKER_SUPPRESS_V2_WARNING": "1"})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""  # the SDK
    # prints its config notices on stdout first


@contextmanager
def endpoint(model) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(server_config(model, ServeSettings(), "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def batch(s3, rows: pd.DataFrame, records: Path, run: str) -> tuple[pd.DataFrame, list]:
    """The worker's predictions for ``rows`` as CSV, and for the SDK-written RecordIO file."""
    model = f"s3://{BUCKET}/model/output/{run}/"
    s3.put_object(Bucket=BUCKET, Key=f"data/batch/{run}.csv", Body=rows.to_csv(index=False))
    s3.put_object(Bucket=BUCKET, Key=f"data/batch/{run}.recordio", Body=records.read_bytes())
    cli("send", f"s3://{BUCKET}/data/batch/{run}.csv", "--model", model,
        "--output", f"s3://{BUCKET}/data/scored/{run}.csv")
    cli("send", f"s3://{BUCKET}/data/batch/{run}.recordio", "--model", model,
        "--accept", "application/x-recordio-protobuf",
        "--output", f"s3://{BUCKET}/data/scored/{run}.recordio")
    cli("worker", "--once")
    scored = s3.get_object(Bucket=BUCKET, Key=f"data/scored/{run}.csv")["Body"].read()
    out = records.with_suffix(".out")
    out.write_bytes(s3.get_object(Bucket=BUCKET, Key=f"data/scored/{run}.recordio")["Body"]
                    .read())
    return pd.read_csv(io.BytesIO(scored)), json.loads(sdk("read", str(out)))


def top(score) -> float:
    """The score batch outputs hold: a multiclass answer's highest probability."""
    return max(score) if isinstance(score, list) else float(score)


def test_our_record_schema_is_the_sdks_message_for_message():
    theirs = descriptor_pb2.FileDescriptorProto.FromString(bytes.fromhex(sdk("descriptor")))
    assert (theirs.package, theirs.syntax or "proto2") == (FILE.package, FILE.syntax)
    assert [m.name for m in theirs.message_type] == [m.name for m in FILE.message_type]
    for mine, sdks in zip(FILE.message_type, theirs.message_type, strict=True):
        assert mine == sdks, mine.name


@pytest.mark.parametrize("target", TARGETS)
def test_sdk_clients_get_the_batch_workers_predictions(config_file, s3, tmp_path, target):
    text = [c for c in ("island", "sex", "species") if c != target]
    numeric = pd.read_csv(PENGUINS).drop(columns=text)
    data = tmp_path / "numeric.csv"
    numeric.to_csv(data, index=False)
    settings = load_settings()
    provision(settings)
    run = train(TrainRequest(str(data), target), S3Store(settings.encryption), settings).run_id
    model = ModelStore(S3Store(settings.encryption), settings).get(
        run_uri(BUCKET, settings.prefixes, run))
    assert model.card.predictor_type == TARGETS[target]
    features = list(model.card.feature_names)
    rows = numeric.dropna().iloc[::37][features].reset_index(drop=True)
    records = tmp_path / "rows.recordio"
    sdk("write", json.dumps(rows.to_numpy().tolist()), str(records))
    with endpoint(model) as url:
        answers = json.loads(sdk("invoke", url, json.dumps(rows.to_numpy().tolist())))
    scored, read_back = batch(s3, rows, records, run)

    classes = list(model.card.classes)
    want_scores = scored["score"].tolist()
    labelled = "predicted_label" in scored
    got = {
        "recordio": [(classes[int(r["predicted_label"][0])] if labelled else None,
                      top(r["score"] if len(r["score"]) > 1 else r["score"][0]))
                     for r in answers["recordio"]],
        "batch recordio": [(classes[int(r["predicted_label"][0])] if labelled else None,
                            r["score"][0]) for r in read_back],
        "json": [(p.get("predicted_label"), top(p["score"]))
                 for p in answers["json"]["predictions"]],
        "jsonlines": [(p.get("predicted_label"), top(p["score"])) for p in answers["jsonlines"]],
        "csv": [(row[0] if labelled else None,
                 top([float(v) for v in row[1:]] if labelled else float(row[0])))
                for row in answers["csv"]],
    }
    want_labels = scored["predicted_label"].tolist() if labelled else [None] * len(rows)
    for client, pairs in got.items():
        assert [label for label, _ in pairs] == want_labels, client
        assert [score for _, score in pairs] == pytest.approx(want_scores, rel=1e-5), client
