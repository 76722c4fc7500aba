"""The helper scripts in utils/ drive the same code as the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import cli
from .helpers import BUCKET, exists, queue_depth

ROOT = Path(__file__).resolve().parents[2]


def script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, str(ROOT / "utils" / name), *args],
                            capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_mock_process_trains_uploads_and_enqueues_then_a_worker_scores_it(
    s3, sqs, config_file, start_worker,
) -> None:
    script("mock_process.py")
    assert exists(s3, "model/output/latest.json") and exists(s3, "data/input/salary.csv")
    assert queue_depth(sqs) >= 1
    assert start_worker("--once").process.wait(timeout=120) == 0
    assert exists(s3, "data/output/salary.csv")
    assert queue_depth(sqs) == 0


def test_train_model_and_send_message(s3, sqs, config_file) -> None:
    cli("provision")
    trained = json.loads(script("train_model.py", "--data", str(ROOT / "data" / "salary.csv"),
                                "--target", "Salary", "--json").stdout)
    assert trained["predictor_type"] == "regressor" and trained["metrics"]["r2"] > 0.8
    sent = json.loads(script("send_message.py", f"s3://{BUCKET}/data/input/x.csv",
                             "--json").stdout)
    assert sent["job"]["input"] == f"s3://{BUCKET}/data/input/x.csv"
