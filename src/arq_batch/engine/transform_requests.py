"""SageMaker ``CreateTransformJob`` request bodies, parsed once into a frozen TransformRequest.

Every field of the API is either mapped, ignored with a warning (it only makes sense on
SageMaker's instances), or refused (ValueError: the CLI exits 2); docs/sagemaker.md lists
each. Anything that is not a field of the API is refused too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arq_batch.engine.options import JobOptions, parse_options
from arq_batch.kernel.errors import PoisonMessage
from arq_batch.kernel.uris import S3Uri

NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# Fields that configure SageMaker's own instances or bookkeeping: no effect here.
IGNORED = ("TransformResources", "MaxConcurrentTransforms", "MaxPayloadInMB",
           "BatchStrategy", "ModelClientConfig", "Tags", "ExperimentConfig",
           "DataCaptureConfig", "TransformOutput.KmsKeyId")
_TOP = {"TransformJobName", "ModelName", "TransformInput", "TransformOutput", "DataProcessing",
        "Environment", *(f for f in IGNORED if "." not in f)}
# The Environment variables a job reads (SageMaker passes them to the container); the
# others are for a SageMaker container's own code and are ignored with a warning.
MAX_BAD_ROWS = "MAX_BAD_ROWS"
_INPUT = {"DataSource", "ContentType", "CompressionType", "SplitType"}
_OUTPUT = {"S3OutputPath", "Accept", "AssembleWith", "KmsKeyId"}
_PROCESSING = {"InputFilter", "OutputFilter", "JoinSource"}


@dataclass(frozen=True)
class TransformRequest:
    """A Batch Transform job as we run it: one job per input object."""

    name: str
    model_name: str
    data_type: str  # "S3Prefix" | "ManifestFile"
    source: S3Uri
    output_path: S3Uri
    options: JobOptions
    warnings: tuple[str, ...] = ()
    max_bad_rows: int | None = None  # Environment MAX_BAD_ROWS

    def output_for(self, relative_key: str) -> S3Uri:
        """Where Batch Transform writes an object's output: ``<S3OutputPath>/<key>.out``."""
        base = self.output_path.key.rstrip("/")
        return S3Uri(self.output_path.bucket, f"{base}/{relative_key}.out" if base
                     else f"{relative_key}.out")


def parse_request(body: Any) -> TransformRequest:
    """The request's meaning; ValueError naming the first field we cannot honour."""
    top = _object(body, "the request", _TOP)
    name = _text(top, "TransformJobName", "")
    if not NAME.match(name):
        raise ValueError(f"TransformJobName {name!r} must be 1-63 letters, digits and hyphens")
    inputs = _object(top.get("TransformInput"), "TransformInput", _INPUT)
    outputs = _object(top.get("TransformOutput"), "TransformOutput", _OUTPUT)
    processing = _object(top.get("DataProcessing", {}), "DataProcessing", _PROCESSING)
    source = _object(inputs.get("DataSource"), "TransformInput.DataSource", {"S3DataSource"})
    s3 = _object(source.get("S3DataSource"), "DataSource.S3DataSource", {"S3DataType", "S3Uri"})
    data_type = _choice(s3, "S3DataType", "S3DataSource.", ("S3Prefix", "ManifestFile"))
    _choice(inputs, "CompressionType", "TransformInput.", ("None", "Gzip"), "None")
    _choice(inputs, "SplitType", "TransformInput.", ("None", "Line", "RecordIO"), "Line")
    _choice(outputs, "AssembleWith", "TransformOutput.", ("None", "Line"), "Line")
    options = parse_options({
        "content_type": inputs.get("ContentType"), "accept": outputs.get("Accept"),
        "input_filter": processing.get("InputFilter"),
        "output_filter": processing.get("OutputFilter"),
        # SageMaker's default is predictions only; its outputs are never compressed.
        "join_source": processing.get("JoinSource", "None"), "compression": "None"})
    warnings = [f"{field} is ignored: {_WHY}" for field in IGNORED if _present(top, field)]
    budget, ignored = _environment(top.get("Environment", {}))
    warnings += [f"Environment {name} is ignored: only {MAX_BAD_ROWS} means something here"
                 for name in ignored]
    return TransformRequest(name, _text(top, "ModelName", ""), data_type,
                            _s3(s3, "S3Uri", "S3DataSource."), _s3(outputs, "S3OutputPath",
                                                                   "TransformOutput."),
                            options, tuple(warnings), budget)


def _environment(value: Any) -> tuple[int | None, list[str]]:
    """The bad-row budget from ``Environment`` (strings, as SageMaker's API has them),
    and the names it does not use."""
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("Environment must be a JSON object of strings")
    budget = value.get(MAX_BAD_ROWS)
    if budget is not None and not budget.isdigit():
        raise ValueError(f"Environment {MAX_BAD_ROWS} must be a whole number >= 0, "
                         f"got {budget!r}")
    return (None if budget is None else int(budget)), sorted(set(value) - {MAX_BAD_ROWS})


_WHY = "workers and their resources come from the fleet (docs/sagemaker.md)"


def relative_key(prefix: S3Uri, key: str) -> str:
    """An object's key below the folder of an ``S3Prefix`` (as Batch Transform names it)."""
    folder = prefix.key[: prefix.key.rfind("/") + 1]
    return key[len(folder):]


def parse_manifest(body: Any) -> tuple[S3Uri, tuple[str, ...]]:
    """A manifest file: ``[{"prefix": "s3://b/p/"}, "relative/key", ...]``."""
    if not isinstance(body, list) or not body or not isinstance(body[0], dict) \
            or not isinstance(body[0].get("prefix"), str):
        raise ValueError('a manifest is a JSON list: [{"prefix": "s3://..."}, "key", ...]')
    keys = body[1:]
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise ValueError("a manifest names at least one object, each a non-empty string")
    return S3Uri.parse(body[0]["prefix"]), tuple(keys)


def _object(value: Any, where: str, known: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a JSON object")
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(f"{where} has unknown field {unknown[0]!r}")
    return value


def _text(data: Mapping[str, Any], field: str, where: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}{field} is required and must be a non-empty string")
    return value


def _choice(data: Mapping[str, Any], field: str, where: str, allowed: tuple[str, ...],
            default: str | None = None) -> str:
    value = data.get(field, default)
    if value not in allowed:
        raise ValueError(f"{where}{field} {value!r} is not supported; use "
                         f"{' or '.join(allowed)}")
    return str(value)


def _s3(data: Mapping[str, Any], field: str, where: str) -> S3Uri:
    try:
        return S3Uri.parse(_text(data, field, where))
    except PoisonMessage as exc:
        raise ValueError(f"{where}{field}: {exc}") from None


def _present(top: Mapping[str, Any], path: str) -> bool:
    head, _, tail = path.partition(".")
    value = top.get(head)
    return value is not None and (not tail or (isinstance(value, dict) and tail in value))
