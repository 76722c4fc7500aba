"""Split jobs' pure parts: byte ranges of lines, the quote check, plans; composing in S3."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from arq_batch.aws.s3 import S3Store
from arq_batch.engine.messages import parse
from arq_batch.engine.split_plan import Part, Plan, SplitKeys, byte_parts, row_group_parts
from arq_batch.formats.ranges import LineRange, SplitUnsafe
from arq_batch.kernel.errors import PoisonMessage
from arq_batch.kernel.ports import QueueMessage
from arq_batch.kernel.uris import S3Uri


def read_parts(data: bytes, split: int, quotes: bool = False, header: bytes = b"") -> bytes:
    """Every part's stream as a worker reads it, one after the other."""
    out = b""
    for part in byte_parts(len(data), split):
        raw = io.BytesIO(data[max(0, part.start - 1):])
        prefix = header if part.index else b""
        out += LineRange(raw, part.start, part.end, prefix, quotes).read()[len(prefix):]
    return out


lines = st.lists(st.text(alphabet="ab,\r", max_size=12).map(str.encode), max_size=30)


@given(lines, st.booleans(), st.integers(1, 200))
@example([b"a" * 50, b"b"], True, 3)  # one line longer than several parts: they are empty
@settings(max_examples=300, deadline=None)
def test_the_parts_of_a_file_are_its_lines_each_once_in_order(rows, newline_at_end,
                                                              split) -> None:
    data = b"\n".join(rows) + (b"\n" if newline_at_end and rows else b"")
    assert read_parts(data, split) == data
    assert read_parts(data, split, quotes=True) == data  # no quotes: nothing to refuse


@given(st.integers(1, 60))
def test_quoted_values_without_line_breaks_split_fine(split) -> None:
    data = b'id,note\n1,"a, b"\n2,"say ""hi"""\n3,plain\n' * 3
    assert read_parts(data, split, quotes=True) == data


@given(st.integers(1, 80))
def test_a_quoted_line_break_is_found_wherever_the_cuts_fall(split) -> None:
    data = b'id,note\n1,plain\n2,"two\nlines"\n3,plain\n4,"x"\n'
    with pytest.raises(SplitUnsafe):
        read_parts(data, split, quotes=True)


def test_parts_after_the_first_read_the_header_first() -> None:
    data = b"a,b\n1,2\n3,4\n5,6\n"
    part = byte_parts(len(data), 6)[1]
    stream = LineRange(io.BytesIO(data[part.start - 1:]), part.start, part.end, b"a,b\n")
    assert stream.read() == b"a,b\n3,4\n"  # "1,2" starts at byte 4, in part 0


def test_byte_parts_cover_the_file_and_row_groups_gather_up_to_the_size() -> None:
    parts = byte_parts(1000, 300)
    assert [(p.start, p.end) for p in parts] == [(0, 250), (250, 500), (500, 750), (750, 1000)]
    groups = row_group_parts([100, 100, 250, 50, 50], [10, 10, 25, 5, 5], 200)
    assert groups == (Part(0, 0, 2, 0), Part(1, 2, 3, 20), Part(2, 3, 5, 45))


def test_a_plan_reads_back_as_written_and_markers_name_their_rows() -> None:
    plan = Plan({"job_id": "j", "input": "s3://b/k.csv"}, "etag", 1000, "s3://b/o.csv", "run",
                "2026-11-23T10:00:00+00:00", "a,b\n", byte_parts(1000, 300))
    assert Plan.parse(plan.to_json()) == plan and plan.by_bytes
    keys = SplitKeys(S3Uri("bkt", "data/splits/j/"))
    assert keys.done_parts([keys.done(3, 1234).key, keys.plan.key, keys.done(0, 7).key]) == {
        3: 1234, 0: 7}


def job_message(**fields: object) -> QueueMessage:
    return QueueMessage("m", "r", json.dumps({"input": "s3://arq-batch-s3/a.csv", **fields}),
                        {}, 1)


def test_job_messages_carry_split_bytes_and_part() -> None:
    [job] = parse(job_message(split_bytes=1000, part=2), {"arq-batch-s3"})
    assert (job.split_bytes, job.part) == (1000, 2)
    assert json.loads(job.to_body())["part"] == 2
    for bad in (-1, True, "10", 1.5):
        with pytest.raises(PoisonMessage, match="split_bytes"):
            parse(job_message(split_bytes=bad), {"arq-batch-s3"})


@mock_aws
def test_compose_copies_big_parts_server_side_and_joins_small_ones() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="bkt")
    mb = 1024 * 1024
    sizes = [6 * mb, 1 * mb, 0, 12 * mb, 100, 2 * mb]
    bodies = [bytes([65 + i]) * size for i, size in enumerate(sizes)]
    for i, body in enumerate(bodies):
        s3.put_object(Bucket="bkt", Key=f"p/{i}", Body=body)
    copies: list[str] = []
    s3.meta.events.register("provide-client-params.s3.UploadPartCopy",
                            lambda params, **_: copies.append(params["CopySourceRange"]))
    from arq_batch.kernel.settings import Encryption as Sse

    store = S3Store(Sse(), client=s3)
    store.compose(S3Uri("bkt", "out"), [(S3Uri("bkt", f"p/{i}"), n) for i, n in enumerate(sizes)],
                  {"model-run-id": "r"})
    got = s3.get_object(Bucket="bkt", Key="out")
    assert got["Body"].read() == b"".join(bodies)
    assert got["Metadata"] == {"model-run-id": "r"} and got["ServerSideEncryption"] == "AES256"
    # 6 MB copied whole; 4 MB of the 12 MB top the 1 MB up to a part; the rest is copied
    assert copies == [f"bytes=0-{6 * mb - 1}", f"bytes={4 * mb}-{12 * mb - 1}"]


def test_compose_pieces_are_legal_parts_in_order() -> None:
    from arq_batch.aws.s3_compose import MIN_PART, pieces

    a, b, c = (S3Uri("bkt", k) for k in "abc")
    got = pieces([(a, 100), (b, 0), (c, MIN_PART + 10)])
    assert got == [("bytes", [(a, 0, 100), (c, 0, MIN_PART - 100)]),
                   ("bytes", [(c, MIN_PART - 100, MIN_PART + 10)])]
    assert pieces([]) == [("bytes", [])]  # an empty object is one empty part
