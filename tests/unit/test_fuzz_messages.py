"""Property-based tests of the edges: any message body, any S3 key.

Examples hypothesis once found stay below as explicit regression cases (``@example``).
"""

from __future__ import annotations

import json
from urllib.parse import quote_plus

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from arq_batch.engine.messages import Job, parse
from arq_batch.kernel import layout
from arq_batch.kernel.errors import PermanentError
from arq_batch.kernel.ports import QueueMessage
from arq_batch.kernel.settings import Prefixes

from ..stories import BUCKETS, message, s3_event

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
# Bodies that look like the shapes we accept, with any of their parts wrong.
NEAR_MISSES = st.one_of(
    st.fixed_dictionaries({"input": JSON}, optional={"output": JSON, "model": JSON,
                                                     "job_id": JSON, "extra": JSON}),
    st.fixed_dictionaries({"Records": st.lists(st.fixed_dictionaries(
        {"eventSource": st.sampled_from(["aws:s3", "aws:sqs"]) | JSON,
         "eventName": st.sampled_from(["ObjectCreated:Put", "ObjectRemoved:Delete"]) | JSON,
         "s3": st.fixed_dictionaries({"bucket": st.fixed_dictionaries({"name": JSON}),
                                      "object": st.fixed_dictionaries({"key": JSON})}) | JSON}),
        max_size=3) | JSON}),
    st.fixed_dictionaries({"Type": st.just("Notification"), "Message": st.text() | JSON}),
    st.fixed_dictionaries({"detail-type": st.just("Object Created"), "detail": JSON}),
    st.fixed_dictionaries({"Event": st.just("s3:TestEvent")}),
)
# Keys as people and programs name objects: spaces, +, %, =, #, unicode, ../, very long.
KEY_PART = st.lists(st.characters(blacklist_categories=["Cs", "Cc"]) | st.sampled_from(
    [" ", "+", "%", "%2B", "=", "#", "&", "?", "..", "../", "é", "企鹅"]),
    min_size=1, max_size=40).map("".join)


@FUZZ
@given(body=st.text() | st.binary().map(lambda b: b.decode("latin-1")) | JSON.map(json.dumps)
       | NEAR_MISSES.map(json.dumps),
       attributes=st.dictionaries(st.sampled_from(["s3_bucket", "s3_bucket_file",
                                                    "s3_bucket_model", "other"]),
                                  st.text(max_size=30), max_size=3))
@example(body='{"Type": "Notification", "Message": "{\\"Type\\": \\"Notification\\"}"}',
         attributes={})
@example(body="", attributes={"s3_bucket": "arq-batch-s3", "s3_bucket_file": "/"})
def test_any_message_is_jobs_or_a_permanent_error(body: str, attributes: dict[str, str]) -> None:
    # Given any body and attributes, When parsed, Then jobs or a clear permanent error
    try:
        jobs = parse(QueueMessage("m", "r", body, attributes, 1), BUCKETS)
    except PermanentError as exc:
        assert str(exc)
        return
    assert all(isinstance(job, Job) and job.input.bucket in BUCKETS for job in jobs)


@FUZZ
@given(parts=st.lists(KEY_PART, min_size=1, max_size=4))
@example(parts=["../../model/output", "latest.json"])
@example(parts=["a b+c%2B=d#e.csv"])
@example(parts=["x" * 900])
def test_any_key_round_trips_from_event_to_output_and_stays_in_its_prefixes(
    parts: list[str],
) -> None:
    prefixes = Prefixes()
    key = prefixes.input + "/".join(parts)
    # Given an S3 notification for that key, URL-encoded as S3 sends it
    (job,) = parse(message(s3_event(quote_plus(key, safe="/"))), BUCKETS)
    # Then the job names exactly that key, and everything derived from it stays put
    assert job.input.key == key
    output = layout.output_uri(job.input, prefixes)
    assert output.key == prefixes.output + key[len(prefixes.input):]
    report = layout.error_report_uri("arq-batch-s3", prefixes, job.input, job.job_id)
    assert report.key.startswith(prefixes.errors) and report.key.endswith(".json")
    # Job and run ids come from messages too: in keys they are one safe segment each
    ledger = layout.ledger_uri("arq-batch-s3", prefixes, "2026-11-23", key, 1)
    assert ledger.key.startswith(prefixes.jobs + "dt=2026-11-23/") and ledger.key.count("/") == 3
    dataset = layout.predictions_uri("arq-batch-s3", prefixes, key, "2026-11-23", key)
    assert dataset.key.startswith(prefixes.predictions + "run_id=")
    assert dataset.key.count("/") == 4 and ".." not in dataset.key.split("/")
