"""The fitted pipeline as a pickle (``model.joblib``): written at ``train``, unpickled
only by training's own checks and tools, and only after its sha256 matches the card.
Workers and the endpoint never unpickle: they score with ``scorer.json``.
"""

from __future__ import annotations

import io
from typing import Any

from arq_batch.kernel.errors import ModelError
from arq_batch.kernel.layout import MODEL_FILE
from arq_batch.models.artifacts import ModelCard, sha256, verify


def dump_pipeline(pipeline: Any) -> tuple[bytes, str]:
    """The joblib bytes of a fitted pipeline and their sha256."""
    import joblib  # only training and load_pipeline need it; workers never unpickle

    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    data = buffer.getvalue()
    return data, sha256(data)


def load_pipeline(card_bytes: bytes, artifact: bytes, source: str) -> Any:
    """The fitted scikit-learn pipeline, unpickled only after its sha256 matches the card."""
    card = ModelCard.from_json(card_bytes, source)
    verify(artifact, card.sha256, f"{source}/{MODEL_FILE}")
    import joblib

    try:
        return joblib.load(io.BytesIO(artifact))
    except Exception as exc:  # a verified but unusable artifact is still a bad model
        raise ModelError(f"cannot load {source}/{MODEL_FILE}: {exc}") from exc
