"""The S3 adapter: streaming reads, ranged reads, atomic streaming writes, SSE on every write."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, cast

from botocore.exceptions import ClientError

from arq_batch.aws import clients
from arq_batch.aws.faults import aws_errors, classify
from arq_batch.aws.s3_compose import Composer
from arq_batch.aws.s3_streams import MultipartWriter, RangeReader, StreamReader
from arq_batch.kernel.errors import ConfigError, PermanentError
from arq_batch.kernel.ports import ObjectInfo
from arq_batch.kernel.settings import Encryption
from arq_batch.kernel.uris import S3Uri

MIN_PART = 5 * 1024 * 1024  # S3's floor for every part but the last
DEFAULT_PART = 8 * 1024 * 1024


class S3Store:
    """ObjectStore over one boto3 S3 client (thread-safe, connection-pooled)."""

    def __init__(self, encryption: Encryption, part_size: int = DEFAULT_PART,
                 client: Any = None, upload_threads: int = 4,
                 addressing_style: str = "auto") -> None:
        self._s3 = client or clients.client("s3", addressing_style=addressing_style)
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
        with aws_errors():
            r = self._s3.head_object(Bucket=uri.bucket, Key=uri.key)
        return _info(r)

    def open_stream(self, uri: S3Uri) -> BinaryIO:
        """A forward-only stream of the object's bytes; nothing is buffered to disk."""
        return self.open_object(uri)[1]

    def open_object(self, uri: S3Uri) -> tuple[ObjectInfo, BinaryIO]:
        """What a HEAD would say, and the bytes as a stream, from one GET."""
        with aws_errors():
            r = self._s3.get_object(Bucket=uri.bucket, Key=uri.key)
        return _info(r), cast(BinaryIO, StreamReader(r["Body"]))

    def open_seekable(self, uri: S3Uri, size: int, etag: str = "") -> BinaryIO:
        """A seekable file served by ranged GETs (Parquet reads its footer first); with
        ``etag`` every GET carries ``If-Match``, so an object replaced while it is read
        fails the read (InputChanged, retryable) instead of mixing two versions."""
        return cast(BinaryIO, RangeReader(self._s3, uri, size, etag))

    def open_range(self, uri: S3Uri, start: int, end: int, etag: str) -> BinaryIO:
        """A stream of bytes ``[start, end)``; a changed object (another ETag) is a
        permanent error, so parts of one split job all read the same version."""
        with aws_errors():
            r = self._s3.get_object(Bucket=uri.bucket, Key=uri.key,
                                    Range=f"bytes={start}-{end - 1}", IfMatch=f'"{etag}"')
        return cast(BinaryIO, StreamReader(r["Body"]))

    def compose(self, target: S3Uri, sources: Sequence[tuple[S3Uri, int]],
                metadata: Mapping[str, str]) -> None:
        """Write ``target`` as the concatenation of ``sources`` (uri, size), server-side."""
        with aws_errors():
            composer = Composer(self._s3, target, metadata, self._sse)
        composer.run(sources)

    def get_bytes(self, uri: S3Uri) -> bytes:
        """The whole object, for small things like model.json."""
        return self.open_stream(uri).read()

    def put_bytes(self, uri: S3Uri, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        """Write a small object in one encrypted PUT."""
        with aws_errors():
            self._s3.put_object(Bucket=uri.bucket, Key=uri.key, Body=data,
                                Metadata=dict(metadata or {}), **self._sse)

    def open_writer(self, uri: S3Uri,
                    metadata: Mapping[str, str] | None = None) -> MultipartWriter:
        """A streaming writer; the object appears only when ``close`` succeeds."""
        return MultipartWriter(self._s3, uri, dict(metadata or {}), self._sse, self._part_size,
                               self._uploads)

    def put_new(self, uri: S3Uri, data: bytes) -> bool:
        """Write a small object unless it exists (False then): S3's conditional write.

        A store that ignores ``If-None-Match`` (rclone's) writes it anyway: True."""
        try:
            self._s3.put_object(Bucket=uri.bucket, Key=uri.key, Body=data, IfNoneMatch="*",
                                **self._sse)
        except Exception as exc:
            if isinstance(exc, ClientError) and exc.response.get(
                    "ResponseMetadata", {}).get("HTTPStatusCode") == 412:
                return False
            raise classify(exc) from exc
        return True

    def list_keys(self, uri: S3Uri) -> Iterator[str]:
        """Every key under the URI's key taken as a prefix."""
        return (key for key, _ in self.list_objects(uri))

    def list_objects(self, uri: S3Uri) -> Iterator[tuple[str, ObjectInfo]]:
        """Every object under the URI's key taken as a prefix, with its size and ETag."""
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=uri.bucket, Prefix=uri.key)
        with aws_errors():
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"], ObjectInfo(item["Size"], item["ETag"].strip('"'),
                                                  modified=item["LastModified"].timestamp())

    def delete(self, uri: S3Uri) -> None:
        """Remove one object (S3 answers success for a key that is already gone)."""
        with aws_errors():
            self._s3.delete_object(Bucket=uri.bucket, Key=uri.key)


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
