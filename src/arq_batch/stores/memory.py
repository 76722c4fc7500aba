"""An object store in memory, behaving as S3 does where arq-batch relies on it: objects
appear whole on ``close`` or not at all, ETags change with the bytes, conditional writes
and reads (``If-None-Match``, ``If-Match``), listings in key order.
``tests/unit/test_store_contract.py`` holds it and the S3 adapter to the same behaviours.

For fast tests, and for users' own tests of code built on arq-batch (as dramatiq ships
its ``StubBroker``): ``MemoryStore(buckets=["b"])``; its queue is ``stores.memory_queue``.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from arq_batch.kernel.errors import (
    ConfigError,
    InputChanged,
    MissingObject,
    PermanentError,
)
from arq_batch.kernel.ports import ObjectInfo
from arq_batch.kernel.streams import Seekable
from arq_batch.kernel.uris import S3Uri


@dataclass(frozen=True)
class _Object:
    data: bytes
    metadata: Mapping[str, str]
    modified: float
    etag: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", hashlib.md5(self.data).hexdigest())

    def info(self) -> ObjectInfo:
        return ObjectInfo(len(self.data), self.etag, dict(self.metadata), self.modified)


class MemoryStore:
    """``ObjectStore`` over dicts; thread-safe. A missing bucket is a missing object."""

    def __init__(self, buckets: Sequence[str] = ("arq-batch-s3",),
                 clock: Callable[[], float] = time.time) -> None:
        self._buckets: dict[str, dict[str, _Object]] = {b: {} for b in buckets}
        self._lock, self._clock = threading.Lock(), clock

    def head_bucket(self, bucket: str) -> None:
        """ConfigError if the bucket is missing, as the S3 adapter says it."""
        if bucket not in self._buckets:
            raise ConfigError(f"bucket {bucket!r} is not reachable; run 'arq-batch provision'")

    def head(self, uri: S3Uri) -> ObjectInfo:
        """Size, ETag and metadata; MissingObject if it is not there."""
        return self._get(uri).info()

    def open_stream(self, uri: S3Uri) -> BinaryIO:
        """The object's bytes as they are now (a later write does not change them)."""
        return io.BytesIO(self._get(uri).data)

    def open_object(self, uri: S3Uri) -> tuple[ObjectInfo, BinaryIO]:
        """What a HEAD would say, and the bytes, from one read."""
        found = self._get(uri)
        return found.info(), io.BytesIO(found.data)

    def open_seekable(self, uri: S3Uri, size: int, etag: str = "") -> BinaryIO:
        """A seekable file; with ``etag``, a read after the object changed fails as
        InputChanged, as the S3 adapter's ranged reads with ``If-Match`` do."""
        return cast(BinaryIO, _Seekable(self, uri, size, etag))

    def open_range(self, uri: S3Uri, start: int, end: int, etag: str) -> BinaryIO:
        """Bytes ``[start, end)`` of the version with ``etag``; PermanentError otherwise."""
        found = self._get(uri)
        if found.etag != etag:
            raise PermanentError(f"PreconditionFailed: {uri} is no longer version {etag}")
        return io.BytesIO(found.data[start:end])

    def compose(self, target: S3Uri, sources: Sequence[tuple[S3Uri, int]],
                metadata: Mapping[str, str]) -> None:
        """``target`` as the concatenation of ``sources``, in one step."""
        data = b"".join(self._get(uri).data[:size] for uri, size in sources)
        self._put(target, data, metadata)

    def get_bytes(self, uri: S3Uri) -> bytes:
        """The whole object."""
        return self._get(uri).data

    def put_bytes(self, uri: S3Uri, data: bytes,
                  metadata: Mapping[str, str] | None = None) -> None:
        """Write an object whole."""
        self._put(uri, bytes(data), metadata or {})

    def open_writer(self, uri: S3Uri,
                    metadata: Mapping[str, str] | None = None) -> _Writer:
        """A writer whose object appears only when ``close`` succeeds."""
        self._bucket(uri)
        return _Writer(self, uri, dict(metadata or {}))

    def put_new(self, uri: S3Uri, data: bytes) -> bool:
        """Write unless the key exists (False then), atomically."""
        with self._lock:
            objects = self._bucket(uri)
            if uri.key in objects:
                return False
            objects[uri.key] = _Object(bytes(data), {}, self._clock())
        return True

    def list_keys(self, uri: S3Uri) -> Iterator[str]:
        """Every key under the URI's key taken as a prefix, in key order."""
        return (key for key, _ in self.list_objects(uri))

    def list_objects(self, uri: S3Uri) -> Iterator[tuple[str, ObjectInfo]]:
        """Every object under the prefix with its size, ETag and time, in key order (S3
        orders by UTF-8 bytes)."""
        with self._lock:
            found = [(k, o.info()) for k, o in self._bucket(uri).items()
                     if k.startswith(uri.key)]
        return iter(sorted(found, key=lambda item: item[0].encode()))

    def delete(self, uri: S3Uri) -> None:
        """Remove one object; a key already gone is no error, as in S3."""
        with self._lock:
            self._bucket(uri).pop(uri.key, None)

    def _bucket(self, uri: S3Uri) -> dict[str, _Object]:
        if uri.bucket not in self._buckets:
            raise MissingObject(f"NoSuchBucket: {uri.bucket}")
        return self._buckets[uri.bucket]

    def _get(self, uri: S3Uri) -> _Object:
        with self._lock:
            found = self._bucket(uri).get(uri.key)
        if found is None:
            raise MissingObject(f"NoSuchKey: {uri}")
        return found

    def _put(self, uri: S3Uri, data: bytes, metadata: Mapping[str, str]) -> None:
        with self._lock:
            self._bucket(uri)[uri.key] = _Object(data, dict(metadata), self._clock())


class _Writer:
    """Buffers until ``close``; ``abort`` leaves nothing behind."""

    def __init__(self, store: MemoryStore, uri: S3Uri, metadata: dict[str, str]) -> None:
        self._store, self._uri, self._metadata = store, uri, metadata
        self._buffer: io.BytesIO | None = io.BytesIO()

    def write(self, data: bytes) -> int:
        assert self._buffer is not None, "write after close or abort"
        return self._buffer.write(data)

    def close(self) -> None:
        if self._buffer is not None:
            self._store.put_bytes(self._uri, self._buffer.getvalue(), self._metadata)
            self._buffer = None

    def abort(self) -> None:
        self._buffer = None


class _Seekable(Seekable):
    """Ranged reads of one version of an object."""

    def __init__(self, store: MemoryStore, uri: S3Uri, size: int, etag: str) -> None:
        super().__init__(size)
        self._store, self._uri, self._etag = store, uri, etag

    def read(self, size: int | None = -1) -> bytes:
        found = self._store._get(self._uri)
        if self._etag and found.etag != self._etag:
            raise InputChanged(f"{self._uri} changed while it was read; the job starts "
                               "again from the new version")
        data = found.data[self._pos:max(self._pos, self._end(size))]
        self._pos += len(data)
        return data
