"""``arq_batch.spark.score`` in PySpark's local mode against the moto server (make test-spark)."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import Any

import pyarrow.csv as pacsv
import pytest

from tests.faults.proxy import FaultProxy, Rule

from ..conftest import PENGUINS
from .conftest import cli
from .helpers import BUCKET, provision_and_train

pytestmark = pytest.mark.spark


@pytest.fixture
def spark(aws, monkeypatch) -> Iterator[tuple[Any, FaultProxy]]:
    """A local Spark with two cores whose executors reach moto through a counting proxy."""
    from pyspark.sql import SparkSession

    count = Rule("delay", method="GET", path=r"/scorer\.json$", delay=0.0)
    with FaultProxy(aws.url, [count]) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)  # inherited by Python workers
        monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
        session = (SparkSession.builder.master("local[2]").appName("arq-batch-test")
                   .config("spark.ui.enabled", "false")
                   .config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.python.worker.reuse", "true").getOrCreate())
        try:
            yield session, proxy
        finally:
            session.stop()


def test_spark_scores_like_the_worker_and_fetches_the_model_once_per_process(
        s3, config_file, spark) -> None:
    from arq_batch.kernel.errors import ModelError
    from arq_batch.spark import score

    session, proxy = spark
    run = provision_and_train()
    body = PENGUINS.read_bytes()
    s3.put_object(Bucket=BUCKET, Key="staging/penguins.csv", Body=body)
    cli("send", f"s3://{BUCKET}/staging/penguins.csv", "--output",
        f"s3://{BUCKET}/scored/penguins.csv", "--join-source", "None")
    cli("worker", "--once")
    worker = pacsv.read_csv(io.BytesIO(s3.get_object(Bucket=BUCKET, Key="scored/penguins.csv")
                                       ["Body"].read()))
    # Every column as text, as the worker reads CSV; eight partitions over two processes.
    df = session.read.csv(str(PENGUINS), header=True, inferSchema=False).repartition(8)
    count_before = proxy.rules[0].fired
    rows = score(df, f"s3://{BUCKET}/model/output/{run}/").toArrow()
    fetched = proxy.rules[0].fired - count_before
    # Spark's repartition shuffles: match rows by their content, not their order.
    ours = {tuple(r.values())[:-2]: tuple(r.values())[-2:] for r in rows.to_pylist()}
    inputs = pacsv.read_csv(PENGUINS, convert_options=pacsv.ConvertOptions(
        column_types=dict.fromkeys(rows.column_names[:-2], "string"))).to_pylist()
    for row, label, value in zip(inputs, worker.column("predicted_label").to_pylist(),
                                 worker.column("score").to_pylist(), strict=True):
        got_label, got_score = ours[tuple(row.values())]
        assert got_label == label and got_score == pytest.approx(value, rel=1e-12)
    assert rows.num_rows == len(inputs) == 344
    # The driver once, then each of at most two Python worker processes once: not per task.
    assert 1 <= fetched <= 3, fetched
    for name in ("model.json", "model.joblib", "scorer.json", "statistics.json",
                 "constraints.json"):  # a copy of the run, one byte added
        blob = s3.get_object(Bucket=BUCKET, Key=f"model/output/{run}/{name}")["Body"].read()
        s3.put_object(Bucket=BUCKET, Key=f"model/output/tampered/{name}",
                      Body=blob + b" " if name == "scorer.json" else blob)
    with pytest.raises(ModelError, match="sha256 mismatch"):
        score(df, f"s3://{BUCKET}/model/output/tampered/")
