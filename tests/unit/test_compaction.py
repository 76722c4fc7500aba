"""Compaction on the in-memory store: nothing lost or doubled, whatever a compactor does."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from arq_batch.engine.compaction import CLAIM, Compactor, compacted_sources, compacted_tables
from arq_batch.engine.ledger import LedgerRecord
from arq_batch.kernel import layout
from arq_batch.kernel.errors import RetryableError
from arq_batch.kernel.uris import S3Uri

DAY = "2026-12-07"
BUCKET = "arq-batch-s3"


def record(i: int) -> LedgerRecord:
    finished = datetime(2026, 12, 7, 10, tzinfo=UTC) + timedelta(seconds=i)
    return LedgerRecord(f"job-{i:04d}", f"m{i}", 1, "w", "done", finished, finished,
                        rows=10, run_id="r")


@pytest.fixture
def ledger(bucket, settings) -> list[str]:
    """Forty settled attempts' records, as workers write them."""
    keys = []
    for i in range(40):
        uri = layout.ledger_uri(BUCKET, settings.prefixes, DAY, f"job-{i:04d}", 1)
        bucket.put_bytes(uri, record(i).to_json())
        keys.append(f"s3://{BUCKET}/{uri.key}")
    return keys


def small(bucket) -> list[str]:
    return list(bucket.list_keys(S3Uri(BUCKET, "data/jobs/")))


def compacted_rows(bucket) -> list[str]:
    folder = S3Uri(BUCKET, f"data/compacted/jobs/dt={DAY}/")
    return sorted(s for t in compacted_tables(bucket, folder, ["source"])
                  for s in t.column("source").to_pylist())


def test_a_pass_gathers_every_record_into_one_file_then_removes_them(bucket, settings,
                                                                     ledger) -> None:
    (done,) = Compactor(bucket, settings).run(min_age=0)
    assert (done.dataset, done.partition, done.objects) == ("jobs", f"dt={DAY}", 40)
    assert small(bucket) == [] and compacted_rows(bucket) == sorted(ledger)
    assert not list(bucket.list_keys(S3Uri(BUCKET, f"data/compacted/jobs/dt={DAY}/{CLAIM}")))


def test_young_records_wait_for_a_later_pass(bucket, settings, ledger) -> None:
    assert Compactor(bucket, settings).run(min_age=3600) == []
    assert len(small(bucket)) == 40


def test_a_compactor_that_dies_before_deleting_leaves_nothing_counted_twice(
        bucket, settings, ledger, monkeypatch) -> None:
    # Given a compactor that commits its file, then dies on its first delete
    original = bucket.delete

    def dying(uri: S3Uri) -> None:
        if uri.key.startswith("data/jobs/"):
            raise RetryableError("killed")
        original(uri)

    monkeypatch.setattr(bucket, "delete", dying)
    with pytest.raises(RetryableError):
        Compactor(bucket, settings).run(min_age=0)
    monkeypatch.setattr(bucket, "delete", original)
    # Then every record is both compacted and still there: a reader skips the small ones
    # named in compacted files (the views' anti-join on ``source``) ...
    folder = S3Uri(BUCKET, f"data/compacted/jobs/dt={DAY}/")
    assert compacted_sources(bucket, folder) == set(ledger) and len(small(bucket)) == 40
    # ... and the next pass deletes them without gathering them again
    (done,) = Compactor(bucket, settings).run(min_age=0)
    assert (done.objects, done.leftovers, done.file) == (0, 40, None)
    assert small(bucket) == [] and compacted_rows(bucket) == sorted(ledger)


def test_two_compactors_at_once_gather_each_record_once(bucket, settings, ledger) -> None:
    barrier = threading.Barrier(2)
    results: list[list] = []

    def compact() -> None:
        barrier.wait()
        results.append(Compactor(bucket, settings).run(min_age=0))

    threads = [threading.Thread(target=compact) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(d.objects for r in results for d in r) == 40
    assert compacted_rows(bucket) == sorted(ledger)  # no record twice


def test_a_claim_left_by_a_dead_compactor_is_taken_over_once_stale(bucket, settings,
                                                                   ledger) -> None:
    claim = S3Uri(BUCKET, f"data/compacted/jobs/dt={DAY}/{CLAIM}")
    now = datetime.now(UTC).timestamp()
    bucket.put_bytes(claim, b'{"by": "dead", "at": %f}' % now)
    assert Compactor(bucket, settings).run(min_age=0) == []  # held: left alone
    bucket.put_bytes(claim, b'{"by": "dead", "at": %f}' % (now - 3600))
    (done,) = Compactor(bucket, settings).run(min_age=0)
    assert done.objects == 40


def test_a_partitions_many_files_are_merged_into_one(bucket, settings) -> None:
    # Given records arriving between passes: one new compacted file per pass
    for i in range(16):
        uri = layout.ledger_uri(BUCKET, settings.prefixes, DAY, f"job-{i:04d}", 1)
        bucket.put_bytes(uri, record(i).to_json())
        Compactor(bucket, settings).run(min_age=0)
    # Then the sixteenth pass merged them: one file holding every record once
    files = [k for k in bucket.list_keys(S3Uri(BUCKET, f"data/compacted/jobs/dt={DAY}/"))
             if k.endswith(".parquet")]
    assert len(files) == 1
    assert len(compacted_rows(bucket)) == 16 == len(set(compacted_rows(bucket)))
