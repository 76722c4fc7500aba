"""``arq-batch transform``: SageMaker CreateTransformJob requests run by the worker fleet."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from .conftest import cli
from .helpers import BUCKET, expected_labels, penguins_csv, provision_and_train, read_csv

PREFIX = "data/batch/"


def request(name: str, data_type: str = "S3Prefix", uri: str = f"s3://{BUCKET}/{PREFIX}",
            **extra) -> dict:
    """A CreateTransformJob body as the SageMaker docs show it."""
    body = {
        "TransformJobName": name, "ModelName": "latest",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": data_type,
                                                           "S3Uri": uri}},
                           "ContentType": "text/csv", "SplitType": "Line",
                           "CompressionType": "None"},
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/data/transformed/{name}",
                            "Accept": "text/csv", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    return body | extra


def submit(tmp_path, body: dict, *flags: str, check: bool = True):
    path = tmp_path / f"{body.get('TransformJobName', 'x')}.json"
    path.write_text(json.dumps(body))
    return cli("transform", "--request", str(path), *flags, check=check)


def describe(name: str) -> dict:
    return json.loads(cli("transform", "--describe", name, "--json").stdout)


def read(s3, key: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))


@pytest.fixture
def inputs(config_file, s3):
    provision_and_train("species")
    keys = [f"{PREFIX}a.csv", f"{PREFIX}b.csv", f"{PREFIX}deeper/c.csv"]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=BUCKET, Key=key, Body=penguins_csv(i + 1))
    return keys


def test_a_prefix_of_objects_gives_batch_transforms_outputs(tmp_path, inputs, s3):
    body = request("penguins-1", DataProcessing={"InputFilter": "$", "JoinSource": "Input",
                                                 "OutputFilter": "$[0,-2,-1]"})
    submitted = submit(tmp_path, body, "--json")
    assert len(json.loads(submitted.stdout)["jobs"]) == 3
    assert "TransformResources is ignored" in submitted.stderr
    assert describe("penguins-1")["TransformJobStatus"] == "InProgress"
    cli("worker", "--once")
    described = describe("penguins-1")
    assert described["TransformJobStatus"] == "Completed"
    rows = len(pd.read_csv(io.BytesIO(penguins_csv())))
    assert described["ObjectCounts"] == {"Total": 3, "Completed": 3, "Failed": 0,
                                         "InProgress": 0}
    assert described["Rows"] == rows * 6
    for key in ("a.csv", "b.csv", "deeper/c.csv"):
        out = read(s3, f"data/transformed/penguins-1/{key}.out")
        source = read_csv(s3, PREFIX + key)
        assert list(out.columns) == ["species", "predicted_label", "score"]
        assert out["species"].tolist() == source.column("species").to_pylist()
        assert out["predicted_label"].tolist() == expected_labels(source)


def test_a_manifest_with_one_bad_object_fails_naming_it_and_the_rest_are_done(
        tmp_path, inputs, s3, start_worker):
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}bad.csv", Body=b"species,island\nAdelie,Dream\n")
    manifest = [{"prefix": f"s3://{BUCKET}/{PREFIX}"}, "a.csv", "bad.csv", "deeper/c.csv"]
    s3.put_object(Bucket=BUCKET, Key="manifests/m.json", Body=json.dumps(manifest).encode())
    worker = start_worker("--concurrency", "2")
    body = request("penguins-2", "ManifestFile", f"s3://{BUCKET}/manifests/m.json")
    waited = submit(tmp_path, body, "--wait", check=False)
    worker.stop()
    assert waited.returncode == 1
    assert "penguins-2: Failed (3 object(s): 2 completed, 1 failed" in waited.stderr
    described = describe("penguins-2")
    assert described["TransformJobStatus"] == "Failed"
    assert described["ObjectCounts"]["Completed"] == 2
    assert f"s3://{BUCKET}/{PREFIX}bad.csv: missing column" in described["FailureReason"]
    # SageMaker's default join is None: predictions only.
    out = read(s3, "data/transformed/penguins-2/a.csv.out")
    assert list(out.columns) == ["predicted_label", "score"]
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="data/transformed/penguins-2/")
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        "data/transformed/penguins-2/a.csv.out", "data/transformed/penguins-2/deeper/c.csv.out"]


MALFORMED = [
    ({"Environment": {"A": "1"}, "Surprise": 1}, "the request has unknown field 'Surprise'"),
    ({"TransformJobName": "no_underscores"}, "TransformJobName 'no_underscores' must be"),
    ({"TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "AugmentedManifestFile",
                                                         "S3Uri": "s3://x/y"}}}},
     "S3DataSource.S3DataType 'AugmentedManifestFile' is not supported"),
    ({"TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                         "S3Uri": "s3://x/y"}},
                         "SplitType": "TFRecord"}}, "TransformInput.SplitType 'TFRecord'"),
    ({"TransformOutput": {"S3OutputPath": "s3://b/o", "Accept": "image/png"}},
     "accept 'image/png' is not one of"),
    ({"DataProcessing": {"InputFilter": "$..features"}}, "unsupported JSONPath '$..features'"),
    ({"ModelName": "no-such-run"}, "ModelName 'no-such-run': no model run"),
    ({"TransformOutput": {"S3OutputPath": "s3://elsewhere/out"}},
     "bucket 'elsewhere' is not allowed"),
    ({"TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/model/output/"}},
     "under model/output/, which arq-batch owns"),
    ({"TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/data/jobs/dt=2026-01-01"}},
     "under data/jobs/, which arq-batch owns"),
]


def test_malformed_or_unsupported_fields_exit_2_with_one_line(tmp_path, inputs):
    for change, message in MALFORMED:
        result = submit(tmp_path, request("penguins-3") | change, check=False)
        assert result.returncode == 2, (change, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert message in lines[-1], change
        assert [line for line in lines if "error" in line] == [lines[-1]]
