"""Batch Transform's per-job options (contract 11): content types, filters, join, compression.

``JobOptions`` is what a job message, ``send`` flags and ``transform`` requests all become;
``parse_options`` is the one place their raw values are checked. The defaults are today's
behaviour: the format from the file name, output in the input's format, input columns
joined with the predictions, compression as the input's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from arq_batch.engine import jsonpath
from arq_batch.formats import FileFormat, Kind

# Media types (SageMaker's names first) and the format each one means.
MEDIA_KINDS = {
    "text/csv": Kind.CSV, "text/x-csv": Kind.CSV,
    "application/jsonlines": Kind.JSONL, "application/x-jsonlines": Kind.JSONL,
    "application/jsonl": Kind.JSONL, "application/json": Kind.JSONL,
    "application/x-parquet": Kind.PARQUET, "application/vnd.apache.parquet": Kind.PARQUET,
    "application/x-recordio-protobuf": Kind.RECORDIO,
}
KIND_MEDIA = {Kind.CSV: "text/csv", Kind.JSONL: "application/jsonlines",
              Kind.PARQUET: "application/x-parquet",
              Kind.RECORDIO: "application/x-recordio-protobuf"}
JOIN_SOURCES = ("Input", "None")
COMPRESSIONS = {"Gzip": "gzip", "Zstd": "zstd", "None": ""}


@dataclass(frozen=True)
class JobOptions:
    """A job's Batch Transform options, as given; empty strings mean "the default"."""

    content_type: str = ""
    accept: str = ""
    input_filter: str = ""
    output_filter: str = ""
    join_source: str = ""
    compression: str = ""

    def to_dict(self) -> dict[str, str]:
        """The fields that are set, as a job message carries them."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    @property
    def joined(self) -> bool:
        """Input columns go into the output (our default; SageMaker's default is None)."""
        return self.join_source != "None"

    def input_format(self, by_name: FileFormat) -> FileFormat:
        """``content_type`` overrides the format detected from the name (not compression)."""
        if not self.content_type:
            return by_name
        return FileFormat(MEDIA_KINDS[_media(self.content_type)], by_name.compression)

    def output_format(self, source: FileFormat) -> FileFormat:
        """``accept`` and ``compression`` override the input's format and compression."""
        kind = MEDIA_KINDS[_media(self.accept)] if self.accept else source.kind
        compression = COMPRESSIONS[self.compression] if self.compression else source.compression
        # Parquet compresses inside the file; a gzip around it would only cost time.
        return FileFormat(kind, "" if kind == Kind.PARQUET else compression)

    def effective(self, by_name: FileFormat) -> dict[str, object]:
        """What decides the output's bytes, defaults resolved: two requests with equal
        ``effective`` options write the same output (the idempotency key's part)."""
        source = self.input_format(by_name)
        return {"input": source, "output": self.output_format(source),
                "input_filter": self.input_filter, "output_filter": self.output_filter,
                "joined": self.joined}

    def selectors(self) -> tuple[jsonpath.Selector | None, jsonpath.Selector | None]:
        """The parsed input and output filters (None when not set)."""
        return (jsonpath.parse(self.input_filter) if self.input_filter else None,
                jsonpath.parse(self.output_filter) if self.output_filter else None)


OPTION_NAMES = tuple(f.name for f in fields(JobOptions))


def parse_options(values: Mapping[str, Any]) -> JobOptions:
    """JobOptions from raw values; ValueError naming the first bad one."""
    raw: dict[str, str] = {}
    for name in OPTION_NAMES:
        value = values.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {type(value).__name__}")
        raw[name] = value or ""
    options = JobOptions(**raw)
    for name in ("content_type", "accept"):
        value = getattr(options, name)
        if value and _media(value) not in MEDIA_KINDS:
            raise ValueError(f"{name} {value!r} is not one of {', '.join(KIND_MEDIA.values())}")
    if options.join_source and options.join_source not in JOIN_SOURCES:
        raise ValueError(f"join_source must be Input or None, got {options.join_source!r}")
    if options.compression and options.compression not in COMPRESSIONS:
        raise ValueError(f"compression must be Gzip, Zstd or None, got {options.compression!r}")
    options.selectors()  # raises ValueError for a filter outside the subset
    return options


def _media(value: str) -> str:
    return value.split(";")[0].strip().lower()
