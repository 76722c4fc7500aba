"""A lean worker: small read blocks joined back into big batches, part sizes that grow
only for huge outputs, no pandas, allocators that give memory back."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pyarrow as pa
import pytest
from moto import mock_aws

from arq_batch.aws.s3_streams import MultipartWriter
from arq_batch.formats.csv import coalesce
from arq_batch.kernel.uris import S3Uri

MB = 1024 * 1024


def test_small_batches_are_joined_in_order_into_batches_of_at_least_the_size() -> None:
    batches = [pa.record_batch({"x": pa.array(range(i * 100, i * 100 + 100))})
               for i in range(25)]  # 800 bytes each
    joined = list(coalesce(iter(batches), min_bytes=4000))
    assert [b.num_rows for b in joined] == [500] * 5
    assert all(b.nbytes >= 4000 for b in joined)
    assert pa.Table.from_batches(joined).column("x").to_pylist() == list(range(2500))
    assert [b.num_rows for b in coalesce(iter(batches[:7]), 4000)] == [500, 200]
    assert list(coalesce(iter([]), 4000)) == []


class CountingS3:
    """moto's S3 client, noting the size of each part it is sent."""

    def __init__(self, s3: Any) -> None:
        self._s3, self.part_sizes = s3, []

    def upload_part(self, **kwargs: Any) -> Any:
        self.part_sizes.append(len(kwargs["Body"]))
        return self._s3.upload_part(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


@mock_aws
def test_part_sizes_double_every_thousand_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """So that 10,000 parts reach S3's 5 TB object limit; shown with 2 parts per size."""
    monkeypatch.setattr(MultipartWriter, "PARTS_PER_SIZE", 2)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lean-bucket")
    counting = CountingS3(s3)
    with ThreadPoolExecutor(2) as pool:
        writer = MultipartWriter(counting, S3Uri("lean-bucket", "out.bin"), {}, {}, 5 * MB, pool)
        chunk = b"x" * MB
        for _ in range(41):
            writer.write(chunk)
        writer.close()
    assert counting.part_sizes == [5 * MB, 5 * MB, 10 * MB, 10 * MB, 11 * MB]
    assert s3.head_object(Bucket="lean-bucket", Key="out.bin")["ContentLength"] == 41 * MB


def test_the_worker_process_runs_without_pandas_on_jemalloc() -> None:
    """pandas is installed here (training needs it), yet the worker neither loads it nor
    needs it: the scoring core works on Arrow and numpy alone."""
    script = """
import sys
from arq_batch.worker import lean
lean.keep_unused_libraries_out()
lean.give_freed_memory_back()
import pyarrow as pa
import numpy as np
from arq_batch.engine.scoring import LinearScorer, score
one = np.ones(1)
scorer = LinearScorer("regressor", ("x",), one * 0, one * 0, one, np.full((1, 1), 2.0), (), (),
                      (), (), np.zeros(1))
scored = score(pa.record_batch({"x": pa.array(["1.5", "NA"])}), scorer)
print("pandas" in sys.modules, pa.default_memory_pool().backend_name)
print(scored.column("score").to_pylist())
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert result.stdout.splitlines() == ["False jemalloc", "[3.0, 0.0]"]
