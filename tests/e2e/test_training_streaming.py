"""Data bigger than memory: a raw file in the moto server trains through the streaming path
in memory that does not grow with the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pacsv

from arq_batch.engine.scoring import score
from arq_batch.engine.values import NULL_TOKENS
from arq_batch.models.artifacts import load_model
from arq_batch.training.pickles import load_pipeline
from arq_batch.training.streamprep import frame_of
from tests.peak import run_measured
from tests.training_data import write

from .helpers import BUCKET

# Both files (126 and 380 MB) are larger than what pyarrow's reader holds ahead (~100 MB
# at 2 MB blocks, training/source.py), so every fixed buffer fills in both runs.
SMALL_ROWS, BIG_ROWS = 1_200_000, 3_600_000
FLAGS = ("--num-models", "4", "--epochs", "2", "--promote", "always", "--json")


def train_measured(data: str) -> tuple[dict[str, Any], float]:
    """``arq-batch train`` in a child process: its JSON and its own peak RSS in MB."""
    done, peak = run_measured(["-m", "arq_batch", "train", "--data", data, "--target", "label",
                               *FLAGS])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), peak


def upload(s3: Any, path: Path, key: str) -> str:
    s3.upload_file(str(path), BUCKET, key)
    return f"s3://{BUCKET}/{key}"


def test_a_file_20_times_the_memory_it_may_use_trains_by_streaming(
    s3, config_file, tmp_path,
) -> None:
    # held_rows caps what streaming keeps (sample, validation, judged test rows); the
    # small run holds as much as the big one, so any growth with the file would show.
    config_file(training={"exact_max_bytes": 1_000_000, "held_rows": 20_000})
    subprocess.run([sys.executable, "-m", "arq_batch", "provision"], check=True,
                   capture_output=True, env=dict(os.environ))
    small_path = write(tmp_path / "small.csv", SMALL_ROWS, seed=1)
    header, _, body = small_path.read_bytes().partition(b"\n")
    big_path = tmp_path / "big.csv"  # the same rows three times: only the size matters here
    big_path.write_bytes(header + b"\n" + body * (BIG_ROWS // SMALL_ROWS))
    decoded_mb = pacsv.read_csv(small_path).nbytes * (BIG_ROWS // SMALL_ROWS) / 2**20
    small, big = upload(s3, small_path, "raw/small.csv"), upload(s3, big_path, "raw/big.csv")

    _, small_rss = train_measured(small)
    result, big_rss = train_measured(big)

    assert result["solver"] == "streaming"  # chosen by size: the file is over 1 MB
    assert result["rows_train"] + result["rows_validation"] + result["rows_test"] == BIG_ROWS
    assert result["metrics"]["roc_auc"] > 0.85  # the generating model is learnable
    growth = big_rss - small_rss
    print(f"\npeak RSS: {small_rss:.0f} MB for {SMALL_ROWS:,} rows, {big_rss:.0f} MB for "
          f"{BIG_ROWS:,} rows ({decoded_mb:.0f} MB decoded): growth {growth:+.0f} MB")
    assert growth * 20 < decoded_mb, (small_rss, big_rss, decoded_mb)
    assert_scorer_matches_artifact(s3, result["run_id"], big_path)


def assert_scorer_matches_artifact(s3: Any, run_id: str, path: Path) -> None:
    """What workers compute (scorer.json) equals the pickled pipeline's own predictions."""
    files = {name: s3.get_object(Bucket=BUCKET, Key=f"model/output/{run_id}/{name}")["Body"]
             .read() for name in ("model.json", "scorer.json", "model.joblib", "statistics.json",
                                  "constraints.json")}
    baseline = {name: files[name] for name in ("statistics.json", "constraints.json")}
    model = load_model(files["model.json"], files["scorer.json"], files["model.joblib"], run_id,
                       baseline)
    # The streaming run's baseline describes the first pass's sample (held_rows of them)
    assert model.baseline is not None and model.baseline.reference.rows == 20_000
    pipeline = load_pipeline(files["model.json"], files["model.joblib"], run_id)
    # Missing values as training and workers read them (pandas' tokens, "" included).
    rows = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        null_values=list(NULL_TOKENS), strings_can_be_null=True))
    rows = rows.slice(0, 20_000).combine_chunks()
    scored = score(rows.to_batches()[0], model.scorer)
    frame = frame_of(rows, model.card.features)
    assert scored.column("predicted_label").to_pylist() == list(pipeline.predict(frame))
    assert np.allclose(scored.column("score").to_numpy(), pipeline.predict_proba(frame)[:, 1],
                       rtol=1e-9, atol=1e-12)
