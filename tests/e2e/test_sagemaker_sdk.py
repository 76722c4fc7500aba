"""The SageMaker Python SDK itself as the client: endpoint and RecordIO batch files.

The SDK runs in its own venv (.venv-sagemaker, made by ``make test``; its pins clash with
ours), through ``tests/sdk/client.py``, twice in all (it takes seconds to import). Its
answers must equal the batch worker's for a regressor, a binary and a multiclass model
trained on the numeric penguin columns.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pandas as pd
import pytest
import uvicorn
from google.protobuf import descriptor_pb2

from arq_batch.aws.emulator import free_port
from arq_batch.aws.provision import provision
from arq_batch.aws.s3 import S3Store
from arq_batch.formats.record_schema import FILE
from arq_batch.kernel.layout import run_uri
from arq_batch.kernel.settings import ServeSettings, load_settings
from arq_batch.models.store import ModelStore
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


def sdk(tmp_path: Path, **plan) -> dict:
    """Run one plan through the SDK (see tests/sdk/client.py)."""
    if not SDK_PYTHON.exists():
        pytest.fail(f"{SDK_PYTHON} is missing: `make test` builds .venv-sagemaker")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    result = subprocess.run([str(SDK_PYTHON), str(CLIENT), str(path)], capture_output=True,
                            text=True, timeout=180,
                            env=os.environ | {"SAGEMAKER_SUPPRESS_V2_WARNING": "1"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # after the SDK's notices


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


def trained(tmp_path: Path, target: str, settings):
    """A model of the numeric penguin columns, and a few rows in its feature order."""
    numeric = pd.read_csv(PENGUINS).drop(columns=[c for c in ("island", "sex", "species")
                                                  if c != target])
    data = tmp_path / f"{target}.csv"
    numeric.to_csv(data, index=False)
    store = S3Store(settings.encryption)
    run = train(TrainRequest(str(data), target), store, settings).run_id
    model = ModelStore(store, settings).get(run_uri(BUCKET, settings.prefixes, run))
    assert model.card.predictor_type == TARGETS[target]
    rows = numeric.dropna().iloc[::37][list(model.card.feature_names)].reset_index(drop=True)
    return model, rows


def send(target: str, model, name: str, *flags: str) -> None:
    cli("send", f"s3://{BUCKET}/data/batch/{target}.{name}", "--model",
        f"s3://{BUCKET}/model/output/{model.card.run_id}/",
        "--output", f"s3://{BUCKET}/data/scored/{target}.{name}", *flags)


def top(score) -> float:
    """The score batch outputs hold: a multiclass answer's highest probability."""
    return max(score) if isinstance(score, list) else float(score)


def answers_of(answer: dict, read_back: list, classes: list, labelled: bool) -> dict:
    """Every client's (label, score) pairs; RecordIO labels are class indices."""
    def label(r):
        return classes[int(r["predicted_label"][0])] if labelled else None

    return {
        "LinearLearnerPredictor": [(label(r), top(r["score"] if len(r["score"]) > 1
                                                  else r["score"][0]))
                                   for r in answer["recordio"]],
        "batch RecordIO": [(label(r), r["score"][0]) for r in read_back],
        "json": [(p.get("predicted_label"), top(p["score"]))
                 for p in answer["json"]["predictions"]],
        "jsonlines": [(p.get("predicted_label"), top(p["score"])) for p in answer["jsonlines"]],
        "csv": [(row[0] if labelled else None,
                 top([float(v) for v in row[1:]] if labelled else float(row[0])))
                for row in answer["csv"]],
    }


def test_our_record_schema_and_every_sdk_client_agree_with_the_batch_worker(
        config_file, s3, tmp_path):
    settings = load_settings()
    provision(settings)
    models = {target: trained(tmp_path, target, settings) for target in TARGETS}
    files = {t: tmp_path / f"{t}.recordio" for t in TARGETS}
    with ExitStack() as stack:
        urls = {t: stack.enter_context(endpoint(m)) for t, (m, _) in models.items()}
        first = sdk(tmp_path, descriptor=True,
                    write=[[rows.to_numpy().tolist(), str(files[t])]
                           for t, (_, rows) in models.items()],
                    invoke=[[urls[t], rows.to_numpy().tolist()]
                            for t, (_, rows) in models.items()])

    theirs = descriptor_pb2.FileDescriptorProto.FromString(bytes.fromhex(first["descriptor"]))
    assert (theirs.package, theirs.syntax or "proto2") == (FILE.package, FILE.syntax)
    assert list(theirs.message_type) == list(FILE.message_type)

    for target, (model, rows) in models.items():
        s3.put_object(Bucket=BUCKET, Key=f"data/batch/{target}.csv",
                      Body=rows.to_csv(index=False))
        s3.put_object(Bucket=BUCKET, Key=f"data/batch/{target}.recordio",
                      Body=files[target].read_bytes())
        send(target, model, "csv")
        send(target, model, "recordio", "--accept", "application/x-recordio-protobuf")
    cli("worker", "--once", "--concurrency", "2")
    for target in TARGETS:
        files[target].with_suffix(".out").write_bytes(s3.get_object(
            Bucket=BUCKET, Key=f"data/scored/{target}.recordio")["Body"].read())
    read_back = sdk(tmp_path, read=[str(files[t].with_suffix(".out")) for t in TARGETS])["read"]

    for i, (target, (model, rows)) in enumerate(models.items()):
        scored = pd.read_csv(io.BytesIO(s3.get_object(
            Bucket=BUCKET, Key=f"data/scored/{target}.csv")["Body"].read()))
        labelled = "predicted_label" in scored
        want_labels = scored["predicted_label"].tolist() if labelled else [None] * len(rows)
        got = answers_of(first["invoke"][i], read_back[i], list(model.card.classes), labelled)
        for client, pairs in got.items():
            assert [label for label, _ in pairs] == want_labels, (target, client)
            assert [score for _, score in pairs] == pytest.approx(
                scored["score"].tolist(), rel=1e-5), (target, client)
