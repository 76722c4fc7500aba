"""One object made of others, server-side: S3 multipart ``UploadPartCopy``.

S3 refuses parts under 5 MB except the last, and copies of over 5 GB. Sources at least
that big are copied by range without passing through the worker; bytes of smaller ones
(and the head of a big one that follows them) are read and uploaded, so at most about
5 MB per source ever passes through.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from arq_batch.aws.faults import classify
from arq_batch.core.uris import S3Uri

MIN_PART = 5 * 1024 * 1024
MAX_COPY = 5 * 1024 * 1024 * 1024


class Composer:
    """Builds ``target`` from ``sources`` in order; the object appears only when complete."""

    def __init__(self, s3: Any, target: S3Uri, metadata: Mapping[str, str],
                 sse: Mapping[str, str]) -> None:
        self._s3, self._target = s3, target
        self._args = {"Bucket": target.bucket, "Key": target.key}
        self._upload = self._s3.create_multipart_upload(
            **self._args, Metadata=dict(metadata), **sse)["UploadId"]
        self._parts: list[dict[str, Any]] = []
        self._buffer = bytearray()

    def run(self, sources: Sequence[tuple[S3Uri, int]]) -> None:
        """Append every (uri, size), then complete the upload (or abort it on any error)."""
        try:
            for uri, size in sources:
                self._append(uri, size)
            if self._buffer or not self._parts:
                self._put(bytes(self._buffer))
            self._s3.complete_multipart_upload(
                **self._args, UploadId=self._upload, MultipartUpload={"Parts": self._parts})
        except Exception as exc:
            with contextlib.suppress(Exception):
                self._s3.abort_multipart_upload(**self._args, UploadId=self._upload)
            raise classify(exc) from exc

    def _append(self, uri: S3Uri, size: int) -> None:
        position = 0
        if self._buffer:  # top the buffer up to a legal part first
            position = min(size, MIN_PART - len(self._buffer))
            self._buffer += self._read(uri, 0, position)
            if len(self._buffer) >= MIN_PART:
                self._put(bytes(self._buffer))
                self._buffer.clear()
        if size - position >= MIN_PART:
            for first in range(position, size, MAX_COPY):
                self._copy(uri, first, min(size, first + MAX_COPY))
        elif size > position:
            self._buffer += self._read(uri, position, size)

    def _read(self, uri: S3Uri, start: int, end: int) -> bytes:
        if start >= end:
            return b""
        r = self._s3.get_object(Bucket=uri.bucket, Key=uri.key, Range=f"bytes={start}-{end - 1}")
        return bytes(r["Body"].read())

    def _put(self, body: bytes) -> None:
        number = len(self._parts) + 1
        r = self._s3.upload_part(**self._args, UploadId=self._upload, PartNumber=number,
                                 Body=body)
        self._parts.append({"PartNumber": number, "ETag": r["ETag"]})

    def _copy(self, uri: S3Uri, start: int, end: int) -> None:
        number = len(self._parts) + 1
        r = self._s3.upload_part_copy(
            **self._args, UploadId=self._upload, PartNumber=number,
            CopySource={"Bucket": uri.bucket, "Key": uri.key},
            CopySourceRange=f"bytes={start}-{end - 1}")
        self._parts.append({"PartNumber": number, "ETag": r["CopyPartResult"]["ETag"]})
