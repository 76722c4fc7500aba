"""Object locations: ``s3://bucket/key`` parsed once into a value type."""

from __future__ import annotations

from dataclasses import dataclass

from arq_batch.kernel.errors import PoisonMessage


@dataclass(frozen=True, order=True)
class S3Uri:
    """A bucket and key; ``str()`` gives back the ``s3://`` form."""

    bucket: str
    key: str

    @classmethod
    def parse(cls, text: str) -> S3Uri:
        """Parse ``s3://bucket/key``; raise PoisonMessage on anything else."""
        if not isinstance(text, str) or not text.startswith("s3://"):
            raise PoisonMessage(f"not an s3:// URI: {text!r}")
        bucket, _, key = text[len("s3://") :].partition("/")
        if not bucket:
            raise PoisonMessage(f"S3 URI without a bucket: {text!r}")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def child(self, name: str) -> S3Uri:
        """The URI of ``name`` inside this URI taken as a folder."""
        prefix = self.key if not self.key or self.key.endswith("/") else self.key + "/"
        return S3Uri(self.bucket, prefix + name)

    @property
    def name(self) -> str:
        """The last path segment (the file name)."""
        return self.key.rstrip("/").rsplit("/", 1)[-1]


def is_s3(text: str) -> bool:
    """True for ``s3://`` URIs, False for local paths."""
    return text.startswith("s3://")
