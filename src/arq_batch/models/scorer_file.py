"""A compiled scorer as plain JSON (``scorer.json``), and back.

The JSON form (scorer.json) lets workers and the endpoint score without scikit-learn and
without unpickling anything. Python writes floats with the shortest repr that round-trips,
so the arrays read back bit for bit and predictions do not change.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from arq_batch.engine.scoring import LinearScorer
from arq_batch.kernel.errors import ModelError

FORMAT = 1


def scorer_to_json(scorer: LinearScorer) -> bytes:
    """The scorer's arrays as JSON."""
    return json.dumps({
        "format": FORMAT, "predictor_type": scorer.predictor_type,
        "numeric": scorer.numeric, "num_fill": scorer.num_fill.tolist(),
        "num_mean": scorer.num_mean.tolist(), "num_scale": scorer.num_scale.tolist(),
        "num_coef": scorer.num_coef.tolist(), "categorical": scorer.categorical,
        "cat_fill": scorer.cat_fill, "cat_values": [v.to_pylist() for v in scorer.cat_values],
        "cat_coef": [c.tolist() for c in scorer.cat_coef],
        "intercept": scorer.intercept.tolist(), "classes": list(scorer.classes),
        "threshold": scorer.threshold, "booleans": sorted(scorer.booleans),
    }).encode()


def scorer_from_json(data: bytes, source: str) -> LinearScorer:
    """Rebuild a scorer written by ``scorer_to_json``; ModelError if it is not one."""
    try:
        raw = json.loads(data)
        if raw["format"] != FORMAT:
            raise ValueError(f"unknown format {raw['format']!r}")
        intercept = np.asarray(raw["intercept"], dtype=np.float64)
        k, numeric = len(intercept), tuple(raw["numeric"])
        return LinearScorer(
            predictor_type=raw["predictor_type"], numeric=numeric,
            num_fill=_floats(raw["num_fill"]), num_mean=_floats(raw["num_mean"]),
            num_scale=_floats(raw["num_scale"]),
            num_coef=_floats(raw["num_coef"]).reshape(len(numeric), k),
            categorical=tuple(raw["categorical"]), cat_fill=tuple(raw["cat_fill"]),
            cat_values=tuple(pa.array(v, pa.string()) for v in raw["cat_values"]),
            cat_coef=tuple(_floats(c).reshape(-1, k) for c in raw["cat_coef"]),
            intercept=intercept, classes=tuple(raw["classes"]),
            threshold=float(raw.get("threshold", 0.0)),
            booleans=frozenset(raw.get("booleans", ())))
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{source} is not a valid scorer: {exc}") from exc


def _floats(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)
