"""One object made of others, server-side: S3 multipart ``UploadPartCopy``.

S3 refuses parts under 5 MB except the last, and copies of over 5 GB. Sources at least
that big are copied by range without passing through the worker; bytes of smaller ones
(and the head of a big one that follows them) are read and uploaded, so at most about
5 MB per source ever passes through.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from arq_batch.aws.faults import classify
from arq_batch.kernel.uris import S3Uri

MIN_PART = 5 * 1024 * 1024
MAX_COPY = 5 * 1024 * 1024 * 1024


Range = tuple[S3Uri, int, int]  # bytes [start, end) of an object


def pieces(sources: Sequence[tuple[S3Uri, int]]) -> list[tuple[str, list[Range]]]:
    """The parts of the composed object, in order: ``("copy", [range])`` for a server-side
    copy, ``("bytes", ranges)`` for ranges read and uploaded together (each part at least
    5 MB, but the last)."""
    parts: list[tuple[str, list[Range]]] = []
    buffer: list[Range] = []
    held = 0
    for uri, size in sources:
        position = 0
        if size == 0:
            continue
        if held:  # top the buffer up to a legal part first
            position = min(size, MIN_PART - held)
            buffer.append((uri, 0, position))
            held += position
            if held >= MIN_PART:
                parts.append(("bytes", buffer))
                buffer, held = [], 0
        if size - position >= MIN_PART:
            parts += [("copy", [(uri, first, min(size, first + MAX_COPY))])
                      for first in range(position, size, MAX_COPY)]
        elif size > position:
            buffer.append((uri, position, size))
            held += size - position
    if buffer or not parts:
        parts.append(("bytes", buffer))
    return parts


class Composer:
    """Builds ``target`` from ``sources`` in order; the object appears only when complete.

    Parts go up in parallel: S3 copies each on its side, and a 50 GB output in 256 MB
    parts is 200 copies, minutes one after another."""

    THREADS = 8

    def __init__(self, s3: Any, target: S3Uri, metadata: Mapping[str, str],
                 sse: Mapping[str, str]) -> None:
        self._s3 = s3
        self._args = {"Bucket": target.bucket, "Key": target.key}
        self._upload = self._s3.create_multipart_upload(
            **self._args, Metadata=dict(metadata), **sse)["UploadId"]

    def run(self, sources: Sequence[tuple[S3Uri, int]]) -> None:
        """Upload every part, then complete the upload (or abort it on any error)."""
        try:
            with ThreadPoolExecutor(self.THREADS, thread_name_prefix="s3-compose") as pool:
                etags = list(pool.map(self._part, itertools.count(1), pieces(sources)))
            self._s3.complete_multipart_upload(
                **self._args, UploadId=self._upload, MultipartUpload={"Parts": [
                    {"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, 1)]})
        except Exception as exc:
            with contextlib.suppress(Exception):
                self._s3.abort_multipart_upload(**self._args, UploadId=self._upload)
            raise classify(exc) from exc

    def _part(self, number: int, piece: tuple[str, list[Range]]) -> str:
        kind, ranges = piece
        if kind == "copy":
            [(uri, start, end)] = ranges
            r = self._s3.upload_part_copy(
                **self._args, UploadId=self._upload, PartNumber=number,
                CopySource={"Bucket": uri.bucket, "Key": uri.key},
                CopySourceRange=f"bytes={start}-{end - 1}")
            return str(r["CopyPartResult"]["ETag"])
        body = b"".join(self._read(*r) for r in ranges)
        return str(self._s3.upload_part(**self._args, UploadId=self._upload,
                                        PartNumber=number, Body=body)["ETag"])

    def _read(self, uri: S3Uri, start: int, end: int) -> bytes:
        r = self._s3.get_object(Bucket=uri.bucket, Key=uri.key, Range=f"bytes={start}-{end - 1}")
        return bytes(r["Body"].read())
