"""Score a Spark DataFrame with an arq-batch model, where a data lake's data already lives.

``score(df, model_uri)`` adds the worker's prediction columns (``predicted_label`` for
classifiers, ``score``) with ``DataFrame.mapInArrow``: Arrow batches in, the same batches
plus predictions out, scored by the same compiled scorer (``scorer.json``, never the
pickle) as the worker, ``score`` and the endpoint. The driver resolves the model once
(``latest`` becomes one run, so every executor scores with the same model) and each
executor's Python worker fetches and hash-checks it once, then keeps it.

May import: the kernel, engine, models, the AWS adapters and ``wiring`` (beside the
worker; nothing imports it). Needs the
``[spark]`` extra (PySpark); the rest of arq-batch never imports PySpark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from arq_batch import wiring
from arq_batch.engine.messages import model_folder
from arq_batch.engine.predictions import as_text
from arq_batch.engine.scoring import score as score_batch
from arq_batch.kernel.settings import Settings, load_settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.models.artifacts import Model

_MODELS: dict[S3Uri, Model] = {}  # per Python worker process: fetched once, then kept


def score(df: Any, model_uri: str | None = None, settings: Settings | None = None) -> Any:
    """``df`` with the model's prediction columns; ``model_uri`` is a run folder
    (``s3://BUCKET/model/output/RUN/``), by default the run ``latest.json`` points to."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    settings = settings or load_settings()
    folder = _resolve(model_uri, settings)
    model = model_at(folder, settings)
    added = [StructField("score", DoubleType())]
    if model.card.predictor_type != "regressor":
        added.insert(0, StructField("predicted_label", StringType()))
    schema = StructType([*df.schema.fields, *added])

    def scored(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        scorer = model_at(folder, settings).scorer
        for batch in batches:
            out = score_batch(batch, scorer)
            if "predicted_label" in out.schema.names:
                index = out.schema.get_field_index("predicted_label")
                out = out.set_column(index, "predicted_label", as_text(out.column(index)))
            yield out

    return df.mapInArrow(scored, schema)


def model_at(folder: S3Uri, settings: Settings) -> Model:
    """The verified model of one run folder, fetched once per process."""
    if folder not in _MODELS:
        _MODELS[folder] = wiring.model_store(settings).get(folder)
    return _MODELS[folder]


def _resolve(model_uri: str | None, settings: Settings) -> S3Uri:
    if model_uri:
        return model_folder(S3Uri.parse(model_uri))
    return wiring.model_store(settings).latest_uri()
