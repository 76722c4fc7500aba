"""Single-request inference in the SageMaker Linear Learner shapes; knows nothing of HTTP.

``invocations(body, content_type, accept, scorer)`` returns the response bytes and type,
or raises RequestError carrying the HTTP status the server should answer with.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import numpy as np
import pyarrow as pa

from arq_batch.engine.scoring import (
    LinearScorer,
    best_class,
    class_probabilities,
    prediction_columns,
)
from arq_batch.engine.values import BOOLEAN_SPELLINGS, NULL_TOKENS
from arq_batch.formats import recordio
from arq_batch.kernel.errors import DataError

JSON, JSONLINES, CSV = "application/json", "application/jsonlines", "text/csv"
RECORDIO = recordio.MEDIA
_NULLS = frozenset(NULL_TOKENS)


class RequestError(Exception):
    """A request we refuse, with the status to answer and a message naming the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def invocations(body: bytes, content_type: str, accept: str,
                scorer: LinearScorer, feature_order: tuple[str, ...]) -> tuple[bytes, str]:
    """Parse, score and render one request."""
    media = _media(content_type, default=CSV)
    if media == RECORDIO:
        try:
            recordio.require_numbers(scorer.categorical)
        except DataError as exc:
            raise RequestError(400, str(exc)) from exc
    records = parse_request(body, media, feature_order)
    try:
        z = scorer.decision(_table(records, scorer))
    except DataError as exc:
        raise RequestError(400, str(exc)) from exc
    media = _media(accept, default=JSON)
    if media == RECORDIO:
        return render_recordio(scorer, z), RECORDIO
    return render(predictions(scorer, z), media)


def parse_request(body: bytes, media: str, order: tuple[str, ...]) -> list[dict[str, Any]]:
    """Records as ``{column: value}``; positional rows follow model.json's feature order."""
    if not body.strip():
        raise RequestError(400, "empty request body")
    if media == RECORDIO:
        return _recordio_rows(body, order)
    try:
        text = body.decode("utf-8-sig")  # a byte-order mark is not data, as in batch
        if media == CSV:
            rows = [row for row in csv.reader(io.StringIO(text)) if row]
            return [_positional(row, order) for row in rows]
        if media == JSON:
            return [_instance(item, order) for item in _instances(json.loads(text))]
        if media in (JSONLINES, "application/x-jsonlines"):
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
            return [_instance(item, order) for item in lines]
    except RecursionError:
        raise RequestError(400, f"malformed {media} body: nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError(400, f"malformed {media} body: {exc}") from exc
    raise RequestError(415, f"unsupported content type {media!r}; use {CSV}, {JSON}, "
                            f"{JSONLINES} or {RECORDIO}")


def _recordio_rows(body: bytes, order: tuple[str, ...]) -> list[dict[str, Any]]:
    try:
        payloads = list(recordio.frames(io.BytesIO(body)))
        rows = recordio.feature_rows(payloads, len(order), 1)
    except DataError as exc:
        raise RequestError(400, f"malformed {RECORDIO} body: {exc}") from exc
    return [dict(zip(order, row.tolist(), strict=True)) for row in rows]


def render_recordio(scorer: LinearScorer, z: np.ndarray) -> bytes:
    """Linear Learner's RecordIO response: ``score`` (every class's probability for a
    multiclass model) and ``predicted_label`` (the class index) per record."""
    if scorer.predictor_type == "regressor":
        return recordio.encode_predictions(z[:, 0], None)
    probabilities, labels = class_probabilities(scorer, z), best_class(scorer, z)
    if scorer.predictor_type == "binary_classifier":
        return recordio.encode_predictions(probabilities[:, 1], labels)
    return recordio.encode_predictions(probabilities, labels)


def predictions(scorer: LinearScorer, z: np.ndarray) -> list[dict[str, Any]]:
    """Linear Learner's per-record objects; multiclass ``score`` lists every class."""
    columns = {k: v.to_pylist() for k, v in prediction_columns(scorer, z).items()}
    if scorer.predictor_type == "regressor":
        return [{"score": s} for s in columns["score"]]
    scores: list[Any] = columns["score"]
    if scorer.predictor_type == "multiclass_classifier":
        scores = class_probabilities(scorer, z).tolist()
    return [{"score": s, "predicted_label": label}
            for s, label in zip(scores, columns["predicted_label"], strict=True)]


def render(records: list[dict[str, Any]], media: str) -> tuple[bytes, str]:
    """The response body in the ``Accept``-ed type."""
    if media == JSON:
        return json.dumps({"predictions": records}).encode(), JSON
    if media in (JSONLINES, "application/x-jsonlines"):
        return "".join(json.dumps(r) + "\n" for r in records).encode(), JSONLINES
    if media == CSV:
        return "".join(_csv_line(r) for r in records).encode(), CSV
    raise RequestError(406, f"cannot answer in {media!r}; accept {JSON}, {JSONLINES}, {CSV} "
                            f"or {RECORDIO}")


def _csv_line(record: dict[str, Any]) -> str:
    score = record["score"]
    values = score if isinstance(score, list) else [score]
    head = [record["predicted_label"]] if "predicted_label" in record else []
    return ",".join(str(v) for v in [*head, *values]) + "\n"


def _media(header: str, default: str) -> str:
    media = (header or "").split(";")[0].strip().lower()
    return default if media in ("", "*/*") else media


def _instances(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and isinstance(payload.get("instances"), list):
        return list(payload["instances"])
    raise RequestError(400, 'JSON body must be {"instances": [...]}')


def _instance(item: Any, order: tuple[str, ...]) -> dict[str, Any]:
    if isinstance(item, dict) and isinstance(item.get("features"), list):
        return _positional(item["features"], order)
    if isinstance(item, dict) and item:
        return item
    raise RequestError(400, 'each instance must be {"features": [...]} or {"<column>": value}')


def _positional(values: list[Any], order: tuple[str, ...]) -> dict[str, Any]:
    if len(values) != len(order):
        raise RequestError(400, f"expected {len(order)} values ({', '.join(order)}), "
                                f"got {len(values)}")
    return dict(zip(order, values, strict=True))


def _table(records: list[dict[str, Any]], scorer: LinearScorer) -> pa.Table:
    unknown = sorted({k for r in records for k in r} - set(scorer.features))
    if unknown:
        raise RequestError(400, f"unknown column(s): {', '.join(map(str, unknown))}")
    missing = sorted({n for r in records for n in scorer.features if n not in r})
    if missing:
        raise RequestError(400, f"missing column(s): {', '.join(missing)}")
    columns: dict[str, pa.Array] = {}
    for name in scorer.numeric:
        boolean = name in scorer.booleans
        columns[name] = pa.array([_number(r.get(name), name, boolean) for r in records],
                                 pa.float64())
    for name in scorer.categorical:
        columns[name] = pa.array([_text(r.get(name)) for r in records], pa.string())
    return pa.table(columns) if columns else pa.table({"_": [0] * len(records)})


def _number(value: Any, name: str, boolean: bool = False) -> float | None:
    """The batch reader's rule: booleans only for a feature trained from booleans, and
    only finite numbers (a 401-digit integer is a bad value, not a server error)."""
    if value is None or (isinstance(value, str) and value.strip() in _NULLS):
        return None
    if boolean:
        spelled = str(value).strip().lower()
        if spelled in BOOLEAN_SPELLINGS:
            return float(BOOLEAN_SPELLINGS[spelled])
        raise RequestError(400, f"column {name!r}: {str(value)[:40]!r} is not a boolean")
    if isinstance(value, bool):
        raise RequestError(400, f"column {name!r}: {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise RequestError(400, f"column {name!r}: {str(value)[:40]!r} is not a number "
                                "(or too large to represent)") from None
    if not math.isfinite(number):
        raise RequestError(400, f"column {name!r}: {str(value)[:40]!r} is not a finite number")
    return number


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, str) and value in _NULLS) else str(value)
