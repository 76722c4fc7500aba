"""The S3 adapter's streams: forward reads, ranged reads, and atomic multipart writes."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from arq_batch.aws.faults import aws_errors, classify, status_of
from arq_batch.kernel.errors import InputChanged
from arq_batch.kernel.streams import Readable, Seekable
from arq_batch.kernel.uris import S3Uri


class StreamReader(Readable):
    """Adapts botocore's StreamingBody to a file object, mapping read faults to ArqErrors."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, size: int | None = -1) -> bytes:
        with aws_errors():
            return bytes(self._body.read(None if size is None or size < 0 else size))

    def close(self) -> None:
        self._body.close()
        super().close()


class RangeReader(Seekable):
    """Seekable reads by HTTP range, with one read-ahead window to keep requests few."""

    WINDOW = 8 * 1024 * 1024

    def __init__(self, s3: Any, uri: S3Uri, size: int, etag: str = "") -> None:
        super().__init__(size)
        self._s3, self._uri = s3, uri
        self._condition = {"IfMatch": f'"{etag}"'} if etag else {}
        self._buf, self._buf_start = b"", 0

    def read(self, size: int | None = -1) -> bytes:
        end = self._end(size)
        if self._pos >= end:
            return b""
        buf_end = self._buf_start + len(self._buf)
        if not (self._buf_start <= self._pos and end <= buf_end):
            self._fill(self._pos, max(end, min(self._size, self._pos + self.WINDOW)))
        data = self._buf[self._pos - self._buf_start : end - self._buf_start]
        self._pos = end
        return data

    def _fill(self, start: int, end: int) -> None:
        try:
            r = self._s3.get_object(Bucket=self._uri.bucket, Key=self._uri.key,
                                    Range=f"bytes={start}-{end - 1}", **self._condition)
            self._buf, self._buf_start = r["Body"].read(), start
        except Exception as exc:
            if self._condition and status_of(exc) == 412:
                raise InputChanged(f"{self._uri} changed while it was read; the job starts "
                                   "again from the new version") from exc
            raise classify(exc) from exc


class MultipartWriter:
    """Buffers writes into parts and uploads them in the background (bounded in flight).

    Small outputs go out as one PUT; larger ones as a multipart upload completed on
    ``close``. Either way S3 shows the object only when it is whole.
    """

    MAX_IN_FLIGHT = 2
    # S3 allows 10,000 parts. Parts start small, which keeps a worker's buffers small, and
    # double every 1,000 parts: 5 MB parts reach 4.9 GB, then 10 MB parts, and so on, so
    # any object up to S3's 5 TB limit fits, and only huge ones use bigger buffers.
    PARTS_PER_SIZE = 1000

    def __init__(self, s3: Any, uri: S3Uri, metadata: dict[str, str], sse: dict[str, str],
                 part_size: int, uploads: ThreadPoolExecutor) -> None:
        self._s3, self._uri, self._metadata, self._sse = s3, uri, metadata, sse
        self._part_size, self._uploads = part_size, uploads
        self._buf = bytearray()
        self._upload_id: str | None = None
        self._parts: list[Future[dict[str, Any]]] = []
        self._slots = threading.BoundedSemaphore(self.MAX_IN_FLIGHT)

    def write(self, data: bytes) -> int:
        self._buf += data
        if len(self._buf) >= self._part_size << len(self._parts) // self.PARTS_PER_SIZE:
            self._flush_part()
        return len(data)

    def close(self) -> None:
        if self._upload_id is None:
            with aws_errors():
                self._s3.put_object(Bucket=self._uri.bucket, Key=self._uri.key,
                                    Body=self._buf, Metadata=self._metadata, **self._sse)
            return
        if self._buf:
            self._flush_part()
        try:
            parts = [future.result() for future in self._parts]
            self._s3.complete_multipart_upload(
                Bucket=self._uri.bucket, Key=self._uri.key, UploadId=self._upload_id,
                MultipartUpload={"Parts": parts})
        except Exception as exc:
            self.abort()
            raise classify(exc) from exc

    def abort(self) -> None:
        if self._upload_id is None:
            return
        for future in self._parts:
            future.cancel()
        with contextlib.suppress(Exception):
            self._s3.abort_multipart_upload(
                Bucket=self._uri.bucket, Key=self._uri.key, UploadId=self._upload_id)
        self._upload_id = None

    def _flush_part(self) -> None:
        if self._upload_id is None:
            with aws_errors():
                self._upload_id = self._s3.create_multipart_upload(
                    Bucket=self._uri.bucket, Key=self._uri.key, Metadata=self._metadata,
                    **self._sse)["UploadId"]
        self._slots.acquire()  # bounds memory: at most MAX_IN_FLIGHT parts queued
        # The buffer itself goes to the upload and a new one starts: no copy of the part.
        body, self._buf = self._buf, bytearray()
        self._parts.append(self._uploads.submit(self._upload_part, len(self._parts) + 1, body))

    def _upload_part(self, number: int, body: bytearray) -> dict[str, Any]:
        try:
            r = self._s3.upload_part(
                Bucket=self._uri.bucket, Key=self._uri.key, UploadId=self._upload_id,
                PartNumber=number, Body=body)
            return {"PartNumber": number, "ETag": r["ETag"]}
        finally:
            self._slots.release()
