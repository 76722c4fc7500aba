"""Provisioning, training and model integrity against a real moto server (issue: foundation)."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from unittest import mock

import pytest

from arq_batch.aws.s3 import S3Store
from arq_batch.kernel.errors import ModelError
from arq_batch.kernel.settings import load_settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.models.store import ModelStore, check_model_uri

from ..conftest import PENGUINS, SALARY
from .conftest import cli

BUCKET, QUEUE, DLQ = "arq-batch-s3", "arq-batch-sqs", "arq-batch-sqs-dlq"


def test_provision_twice_builds_everything_once(s3, sqs, config_file) -> None:
    first = json.loads(cli("provision", "--json").stdout)
    second = json.loads(cli("provision", "--json").stdout)
    assert first["changes"] and second["changes"] == []
    assert first["skipped"] == second["skipped"] == []  # the emulator has every feature
    assert [c.split()[0] for c in first["changes"]] == [  # as before stores could lack any
        "created", "set", "blocked", "added", "added", "added", "created", "created", "set",
        "sent"]
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{DLQ}")
    assert int(redrive["maxReceiveCount"]) == 3
    notification = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    (queue_config,) = notification["QueueConfigurations"]
    assert queue_config["QueueArn"].endswith(f":{QUEUE}")
    assert queue_config["Filter"]["Key"]["FilterRules"][0]["Value"] == "data/input/"


def test_an_object_under_data_input_delivers_an_s3_event(s3, sqs, config_file) -> None:
    cli("provision")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)  # the s3:TestEvent from provisioning
    s3.put_object(Bucket=BUCKET, Key="data/input/a file.csv", Body=b"x\n1\n")
    s3.put_object(Bucket=BUCKET, Key="data/output/ignored.csv", Body=b"x\n1\n")
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])]
    keys = [r["s3"]["object"]["key"] for b in bodies for r in b.get("Records", [])]
    assert len(keys) == 1 and "a" in keys[0] and keys[0].endswith(".csv")


@pytest.mark.parametrize(("target", "kind", "metric", "floor"), [
    ("body_mass_g", "regressor", "r2", 0.7),
    ("sex", "binary_classifier", "accuracy", 0.8),
    ("species", "multiclass_classifier", "accuracy", 0.9),
])
def test_training_writes_every_object_with_sensible_metrics(
    s3, config_file, target: str, kind: str, metric: str, floor: float,
) -> None:
    cli("provision")
    result = json.loads(cli("train", "--data", str(PENGUINS), "--target", target, "--json").stdout)
    assert result["predictor_type"] == kind and result["metrics"][metric] > floor
    run = result["run_id"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert {"data/raw/penguins.csv", f"data/train/{run}/train.csv", f"data/test/{run}/test.csv",
            f"model/output/{run}/model.joblib", f"model/output/{run}/model.json",
            f"model/output/{run}/scorer.json",
            "model/output/latest.json"} <= keys
    rows = list(csv.reader(io.StringIO(s3.get_object(
        Bucket=BUCKET, Key=f"data/train/{run}/train.csv")["Body"].read().decode())))
    assert len(rows) == result["rows_train"]
    values = [float(v) for row in rows for v in row]  # headerless: the first row parses too
    assert not any(math.isnan(v) for v in values)
    card = json.loads(s3.get_object(Bucket=BUCKET, Key=f"model/output/{run}/model.json")["Body"]
                      .read())
    assert {"run_id", "created_at", "predictor_type", "target", "features", "classes", "metrics",
            "sha256", "scorer_sha256", "versions"} <= set(card)
    assert card["features"][0] == {"name": "species" if target != "species" else "island",
                                   "type": "categorical"}
    latest = json.loads(s3.get_object(Bucket=BUCKET, Key="model/output/latest.json")["Body"]
                        .read())
    assert latest == {"run_id": run, "uri": f"s3://{BUCKET}/model/output/{run}/"}
    head = s3.head_object(Bucket=BUCKET, Key=f"model/output/{run}/model.joblib")
    assert head["ServerSideEncryption"] == "AES256"


def test_training_is_reproducible_with_the_same_seed(config_file) -> None:
    cli("provision")
    runs = [json.loads(cli("train", "--data", str(SALARY), "--target", "Salary", "--seed", "7",
                           "--json").stdout) for _ in range(2)]
    assert runs[0]["metrics"] == runs[1]["metrics"] and runs[0]["run_id"] != runs[1]["run_id"]


def test_a_missing_target_column_fails_with_exit_1(config_file) -> None:
    cli("provision")
    result = cli("train", "--data", str(SALARY), "--target", "Wage", check=False)
    assert result.returncode == 1
    assert "target column 'Wage' is not in the data" in result.stderr.strip().splitlines()[-1]


def test_a_flipped_byte_is_refused_before_unpickling(s3, config_file) -> None:
    cli("provision")
    run = json.loads(cli("train", "--data", str(SALARY), "--target", "Salary",
                         "--json").stdout)["run_id"]
    key = f"model/output/{run}/model.joblib"
    blob = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    blob[len(blob) // 2] ^= 0x01
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(blob))
    settings = load_settings()
    registry = ModelStore(S3Store(settings.encryption), settings)
    with mock.patch("joblib.load") as unpickle, pytest.raises(ModelError, match="sha256 mismatch"):
        registry.get(S3Uri(BUCKET, f"model/output/{run}/"))
    unpickle.assert_not_called()


@pytest.mark.parametrize("uri", [
    S3Uri(BUCKET, "data/input/model/"), S3Uri("other-bucket", "model/output/run/"),
    S3Uri(BUCKET, "model/output/../data/input/x/"),
])
def test_models_outside_the_model_prefix_are_refused(uri: S3Uri) -> None:
    with pytest.raises(ModelError, match="outside the configured model prefix"):
        check_model_uri(uri, load_settings({}))


def test_a_new_latest_model_is_picked_up_without_restart(config_file) -> None:
    cli("provision")
    settings = load_settings()
    first = json.loads(cli("train", "--data", str(SALARY), "--target", "Salary", "--json").stdout)
    now = [0.0]
    registry = ModelStore(S3Store(settings.encryption), settings, clock=lambda: now[0])
    assert registry.get().card.run_id == first["run_id"]
    now[0] += settings.worker.model_refresh_seconds  # the pointer's cache has expired
    time.sleep(1.1)  # run ids have one-second resolution plus a random suffix
    second = json.loads(cli("train", "--data", str(SALARY), "--target", "Salary", "--json").stdout)
    assert registry.get().card.run_id == second["run_id"]
