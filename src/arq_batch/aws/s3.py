"""The S3 adapter: streaming reads, ranged reads, atomic streaming writes, SSE on every write."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO, cast

from arq_batch.aws import clients
from arq_batch.aws.faults import classify
from arq_batch.core.errors import ConfigError, PermanentError
from arq_batch.core.ports import ObjectInfo
from arq_batch.core.settings import Encryption
from arq_batch.core.uris import S3Uri

MIN_PART = 5 * 1024 * 1024  # S3's floor for every part but the last


class S3Store:
    """ObjectStore over one boto3 S3 client (thread-safe, connection-pooled)."""

    def __init__(self, encryption: Encryption, part_size: int = 8 * 1024 * 1024,
                 client: Any = None, upload_threads: int = 4) -> None:
        self._s3 = client or clients.client("s3")
        self._sse = _sse_args(encryption)
        self._part_size = max(part_size, MIN_PART)
        self._uploads = ThreadPoolExecutor(upload_threads, thread_name_prefix="s3-upload")

    def head_bucket(self, bucket: str) -> None:
        """ConfigError if the bucket is missing: a worker without its bucket cannot start."""
        try:
            self._s3.head_bucket(Bucket=bucket)
        except Exception as exc:
            error = classify(exc)
            if isinstance(error, PermanentError):
                raise ConfigError(f"bucket {bucket!r} is not reachable ({error}); "
                                  "run 'arq-batch provision'") from exc
            raise error from exc

    def head(self, uri: S3Uri) -> ObjectInfo:
        """Size, ETag and user metadata; MissingObject if it is not there."""
        try:
            r = self._s3.head_object(Bucket=uri.bucket, Key=uri.key)
        except Exception as exc:
            raise classify(exc) from exc
        return _info(r)

    def open_stream(self, uri: S3Uri) -> BinaryIO:
        """A forward-only stream of the object's bytes; nothing is buffered to disk."""
        return self.open_object(uri)[1]

    def open_object(self, uri: S3Uri) -> tuple[ObjectInfo, BinaryIO]:
        """What a HEAD would say, and the bytes as a stream, from one GET."""
        try:
            r = self._s3.get_object(Bucket=uri.bucket, Key=uri.key)
        except Exception as exc:
            raise classify(exc) from exc
        return _info(r), cast(BinaryIO, _StreamReader(r["Body"]))

    def open_seekable(self, uri: S3Uri, size: int) -> BinaryIO:
        """A seekable file served by ranged GETs (Parquet reads its footer first)."""
        return cast(BinaryIO, _RangeReader(self._s3, uri, size))

    def get_bytes(self, uri: S3Uri) -> bytes:
        """The whole object, for small things like model.json."""
        return self.open_stream(uri).read()

    def put_bytes(self, uri: S3Uri, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        """Write a small object in one encrypted PUT."""
        try:
            self._s3.put_object(Bucket=uri.bucket, Key=uri.key, Body=data,
                                Metadata=dict(metadata or {}), **self._sse)
        except Exception as exc:
            raise classify(exc) from exc

    def open_writer(self, uri: S3Uri, metadata: Mapping[str, str] | None = None) -> _Writer:
        """A streaming writer; the object appears only when ``close`` succeeds."""
        return _Writer(self, uri, dict(metadata or {}))

    def list_keys(self, uri: S3Uri) -> Iterator[str]:
        """Every key under the URI's key taken as a prefix."""
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=uri.bucket, Prefix=uri.key)
        for page in pages:
            yield from (item["Key"] for item in page.get("Contents", []))


def _info(response: Mapping[str, Any]) -> ObjectInfo:
    """Size, ETag and metadata from a HEAD or GET response (same headers)."""
    return ObjectInfo(response["ContentLength"], response["ETag"].strip('"'),
                      response.get("Metadata", {}))


def _sse_args(encryption: Encryption) -> dict[str, str]:
    if encryption.sse == "aws:kms":
        args = {"ServerSideEncryption": "aws:kms"}
        if encryption.kms_key_id:
            args["SSEKMSKeyId"] = encryption.kms_key_id
        return args
    return {"ServerSideEncryption": "AES256"}


class _StreamReader(io.RawIOBase):
    """Adapts botocore's StreamingBody to a file object, mapping read faults to ArqErrors."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return bytes(self._body.read(None if size is None or size < 0 else size))
        except Exception as exc:
            raise classify(exc) from exc

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


class _RangeReader(io.RawIOBase):
    """Seekable reads by HTTP range, with one read-ahead window to keep requests few."""

    WINDOW = 8 * 1024 * 1024

    def __init__(self, s3: Any, uri: S3Uri, size: int) -> None:
        self._s3, self._uri, self._size = s3, uri, size
        self._pos = 0
        self._buf, self._buf_start = b"", 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        if self._pos >= end:
            return b""
        buf_end = self._buf_start + len(self._buf)
        if not (self._buf_start <= self._pos and end <= buf_end):
            self._fill(self._pos, max(end, min(self._size, self._pos + self.WINDOW)))
        data = self._buf[self._pos - self._buf_start : end - self._buf_start]
        self._pos = end
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _fill(self, start: int, end: int) -> None:
        try:
            r = self._s3.get_object(Bucket=self._uri.bucket, Key=self._uri.key,
                                    Range=f"bytes={start}-{end - 1}")
            self._buf, self._buf_start = r["Body"].read(), start
        except Exception as exc:
            raise classify(exc) from exc


class _Writer:
    """Buffers writes into parts and uploads them in the background (bounded in flight).

    Small outputs go out as one PUT; larger ones as a multipart upload completed on
    ``close``. Either way S3 shows the object only when it is whole.
    """

    MAX_IN_FLIGHT = 2

    def __init__(self, store: S3Store, uri: S3Uri, metadata: dict[str, str]) -> None:
        self._store, self._uri, self._metadata = store, uri, metadata
        self._buf = bytearray()
        self._upload_id: str | None = None
        self._parts: list[Future[dict[str, Any]]] = []
        self._slots = threading.BoundedSemaphore(self.MAX_IN_FLIGHT)

    def write(self, data: bytes) -> int:
        self._buf += data
        if len(self._buf) >= self._store._part_size:
            self._flush_part()
        return len(data)

    def close(self) -> None:
        if self._upload_id is None:
            self._store.put_bytes(self._uri, bytes(self._buf), self._metadata)
            return
        if self._buf:
            self._flush_part()
        try:
            parts = [future.result() for future in self._parts]
            self._store._s3.complete_multipart_upload(
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
            self._store._s3.abort_multipart_upload(
                Bucket=self._uri.bucket, Key=self._uri.key, UploadId=self._upload_id)
        self._upload_id = None

    def _flush_part(self) -> None:
        s3 = self._store._s3
        if self._upload_id is None:
            try:
                self._upload_id = s3.create_multipart_upload(
                    Bucket=self._uri.bucket, Key=self._uri.key, Metadata=self._metadata,
                    **self._store._sse)["UploadId"]
            except Exception as exc:
                raise classify(exc) from exc
        number, body = len(self._parts) + 1, bytes(self._buf)
        self._buf.clear()
        self._slots.acquire()  # bounds memory: at most MAX_IN_FLIGHT parts queued
        self._parts.append(self._store._uploads.submit(self._upload_part, number, body))

    def _upload_part(self, number: int, body: bytes) -> dict[str, Any]:
        try:
            r = self._store._s3.upload_part(
                Bucket=self._uri.bucket, Key=self._uri.key, UploadId=self._upload_id,
                PartNumber=number, Body=body)
            return {"PartNumber": number, "ETag": r["ETag"]}
        finally:
            self._slots.release()
