"""Given-steps shared by unit and end-to-end tests: events and messages as AWS sends them,
a tiny trained model put into any object store, and a Prometheus scrape."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from arq_batch.kernel import layout
from arq_batch.kernel.layout import CARD_FILE, MODEL_FILE, SCORER_FILE
from arq_batch.kernel.ports import ObjectStore, QueueMessage
from arq_batch.kernel.settings import Settings
from arq_batch.models import registry
from arq_batch.models.scorer_file import scorer_to_json

BUCKETS = {"arq-batch-s3"}


def s3_event(*keys: str, bucket: str = "arq-batch-s3") -> dict[str, Any]:
    """An S3 notification as S3 sends it: keys URL-encoded, spaces as '+'."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-22T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "arq-batch-input",
               "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": key, "size": 10, "eTag": "abc", "sequencer": "0A"}}}
        for key in keys]}


def message(body: object, attributes: dict[str, str] | None = None) -> QueueMessage:
    """A received message with this body (JSON unless it is text already)."""
    text = body if isinstance(body, str) else json.dumps(body)
    return QueueMessage("msg-1", "receipt", text, attributes or {}, 1)


def publish_model(store: ObjectStore, settings: Settings, fitted: tuple[Any, Any, Any],
                  run_id: str = "tiny-run") -> str:
    """A fitted pipeline and its card (``tests.conftest.fit``) as ``train`` publishes
    them: model.joblib, scorer.json, model.json with both hashes, then latest.json."""
    from dataclasses import replace

    from arq_batch.models.artifacts import sha256
    from arq_batch.training.compiler import compile_pipeline
    from arq_batch.training.pickles import dump_pipeline

    pipeline, card, _ = fitted
    artifact, digest = dump_pipeline(pipeline)
    scorer = scorer_to_json(compile_pipeline(pipeline, card))
    card = replace(card, run_id=run_id, sha256=digest, scorer_sha256=sha256(scorer))
    folder = layout.run_uri(settings.bucket, settings.prefixes, run_id)
    for name, data in ((MODEL_FILE, artifact), (SCORER_FILE, scorer),
                       (CARD_FILE, card.to_json())):
        store.put_bytes(folder.child(name), data)
    registry.promote(store, settings, run_id, by="tests", action="promote", reason="fixture")
    return run_id


def scrape(port: int) -> dict[str, float]:
    """``/metrics`` over HTTP, as Prometheus reads it: sample name{labels} -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return samples
