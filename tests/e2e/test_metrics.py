"""The worker's gauges: Prometheus scraped over HTTP, CloudWatch EMF in the JSON log."""

from __future__ import annotations

from collections.abc import Iterator

import jsonschema
import pytest

from arq_batch.aws.emulator import free_port

from ..faults.proxy import FaultProxy, Rule
from ..stories import scrape
from .helpers import BUCKET, exists, penguins_csv, provision_and_train, queue_depth

# The structure AWS documents for Embedded Metric Format (the "_aws" member and the
# references it makes to top-level members), as a JSON schema.
EMF_SCHEMA = {
    "type": "object",
    "required": ["_aws"],
    "properties": {"_aws": {
        "type": "object",
        "required": ["Timestamp", "CloudWatchMetrics"],
        "properties": {
            "Timestamp": {"type": "integer", "minimum": 0},
            "CloudWatchMetrics": {"type": "array", "minItems": 1, "items": {
                "type": "object",
                "required": ["Namespace", "Dimensions", "Metrics"],
                "properties": {
                    "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                    "Dimensions": {"type": "array", "items": {
                        "type": "array", "maxItems": 30,
                        "items": {"type": "string", "minLength": 1, "maxLength": 250}}},
                    "Metrics": {"type": "array", "maxItems": 100, "items": {
                        "type": "object", "required": ["Name"],
                        "properties": {"Name": {"type": "string", "minLength": 1},
                                       "Unit": {"type": "string"}}}},
                }}},
        }}},
}


@pytest.fixture
def trained(config_file) -> str:
    return provision_and_train()


@pytest.fixture
def ledger_refused(aws, monkeypatch) -> Iterator[FaultProxy]:
    """Workers go through a proxy that refuses every ledger PUT."""
    with FaultProxy(aws.url, [Rule(403, method="PUT", path=r"/data/jobs/")]) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        yield proxy


def test_prometheus_shows_the_counts_of_a_known_run(s3, sqs, trained, ledger_refused,
                                                    start_worker) -> None:
    # Given three good inputs and a bad one, and ledger writes that fail
    for name in ("a.csv", "b.csv", "c.csv"):
        s3.put_object(Bucket=BUCKET, Key=f"data/input/{name}", Body=penguins_csv())
    s3.put_object(Bucket=BUCKET, Key="data/input/bad.csv", Body=b"nothing,useful\n1,2\n")
    port = free_port()
    # When a worker with a metrics port scores them
    worker = start_worker("--metrics-port", str(port))
    worker.wait_for(lambda: exists(s3, "data/output/c.csv") and queue_depth(sqs) == 0, 60)
    worker.wait_for(lambda: scrape(port).get("arq_batch_ledger_write_failures_total") == 4)
    metrics = scrape(port)
    assert worker.stop() == 0
    # Then a scrape shows exactly that run
    assert metrics['arq_batch_jobs_total{outcome="done"}'] == 3
    assert metrics['arq_batch_jobs_total{outcome="dead"}'] == 1
    assert metrics["arq_batch_rows_scored_total"] == 3 * 344
    assert metrics['arq_batch_job_seconds_count{outcome="done"}'] == 3
    assert metrics["arq_batch_input_bytes_total"] == 3 * len(penguins_csv())
    assert metrics["arq_batch_output_bytes_total"] > 3 * len(penguins_csv())
    assert metrics["arq_batch_jobs_in_flight"] == 0
    assert metrics["arq_batch_receive_errors_total"] == 0


def test_each_job_log_line_is_a_valid_emf_record(s3, sqs, config_file, start_worker) -> None:
    # Given EMF on, as in the container's config
    config_file(metrics={"emf": True})
    provision_and_train()
    s3.put_object(Bucket=BUCKET, Key="data/input/a.csv", Body=penguins_csv())
    # When a worker scores an input
    worker = start_worker("--once")
    assert worker.process.wait(timeout=120) == 0
    # Then its job line carries metrics CloudWatch can extract
    (line,) = worker.jobs("done")
    jsonschema.validate(line, EMF_SCHEMA)
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "arq-batch"
    for dimension in directive["Dimensions"][0]:
        assert isinstance(line[dimension], str)
    for metric in directive["Metrics"]:
        assert isinstance(line[metric["Name"]], int | float)
    assert line["rows"] == 344 and line["outcome"] == "done"
