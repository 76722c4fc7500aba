"""Security cases at the message edge: junk, huge events, buckets that are not ours."""

from __future__ import annotations

import random

import pytest

from arq_batch.engine.messages import parse
from arq_batch.kernel.errors import BucketNotAllowed, PoisonMessage

from ..stories import BUCKETS, message, s3_event


def test_256_kb_of_junk_is_a_poison_message_with_a_short_reason() -> None:
    junk = random.Random(0).randbytes(256 * 1024).decode("latin-1")
    with pytest.raises(PoisonMessage) as caught:
        parse(message(junk), BUCKETS)
    # The reason quotes an 80-character prefix (each byte at most 4 characters of repr)
    assert len(str(caught.value)) <= 400


def test_an_s3_event_with_1000_records_is_1000_jobs_none_dropped() -> None:
    keys = [f"data/input/batch/{i:04d}.csv" for i in range(1000)]
    jobs = parse(message(s3_event(*keys)), BUCKETS)
    assert [j.input.key for j in jobs] == keys
    assert len({j.job_id for j in jobs}) == 1000


@pytest.mark.parametrize("body", [
    {"input": "s3://not-ours/data/input/a.csv"},
    {"input": "s3://arq-batch-s3/data/input/a.csv", "output": "s3://not-ours/out.csv"},
    {"input": "s3://arq-batch-s3/data/input/a.csv", "model": "s3://not-ours/model/output/r/"},
])
def test_any_bucket_outside_the_allow_list_refuses_the_whole_message(body: dict) -> None:
    # Refused while parsing, before any job runs: nothing is read from or written to it
    with pytest.raises(BucketNotAllowed):
        parse(message(body), BUCKETS)


def test_one_foreign_record_refuses_the_whole_event() -> None:
    event = s3_event("data/input/a.csv")
    event["Records"] += s3_event("data/input/b.csv", bucket="not-ours")["Records"]
    with pytest.raises(BucketNotAllowed):
        parse(message(event), BUCKETS)


def test_a_body_nested_deeper_than_the_parser_goes_is_poison_not_a_crash() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(PoisonMessage, match="nested too deeply"):
        parse(message(deep), BUCKETS)
    wrapped = '{"Type": "Notification", "Message": "' + "[" * 100_000 + '"}'
    with pytest.raises(PoisonMessage):
        parse(message(wrapped), BUCKETS)


def test_the_endpoint_answers_400_to_a_body_nested_too_deeply(species_model) -> None:
    from arq_batch.serving.invocations import RequestError, parse_request

    _, scorer, _ = species_model
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    for media in ("application/json", "application/jsonlines"):
        with pytest.raises(RequestError) as refused:
            parse_request(deep, media, scorer.features)
        assert refused.value.status == 400 and "nested too deeply" in str(refused.value)
