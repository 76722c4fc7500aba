"""A model's baseline: built from training data at ``train``, read back for every job.

``statistics.json`` holds the training data's figures (quantile bins per number, value
frequencies per category, the score's distribution on the test split); ``constraints.json``
what a job must satisfy (type, completeness, domain) and the thresholds in force then.
Both are Model Monitor's schemas, so its consumers read them as they read its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arq_batch.engine.scoring import LinearScorer
from arq_batch.kernel.errors import ModelError
from arq_batch.kernel.monitoring_settings import MonitoringSettings
from arq_batch.monitoring.dataset import Statistics
from arq_batch.monitoring.stats import SCORE, Categorical, Numeric

STATISTICS_FILE, CONSTRAINTS_FILE = "statistics.json", "constraints.json"


def quantile_cuts(values: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the quantiles of the present values (ties merge bins)."""
    present = values[~np.isnan(values)]
    if not len(present):
        return np.zeros(0)
    return np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))


def build(table: pa.Table, scorer: LinearScorer, scores: np.ndarray,
          config: MonitoringSettings) -> tuple[bytes, bytes]:
    """statistics.json and constraints.json of the training rows in ``table`` and the
    scores of the test split."""
    inputs = scorer.inputs(table)
    numeric = {name: Numeric(quantile_cuts(inputs.numbers[:, j], config.bins))
               for j, name in enumerate(scorer.numeric)}
    stats = Statistics(numeric, {name: Categorical() for name in scorer.categorical},
                       Numeric(quantile_cuts(scores, config.bins)))
    stats.observe(inputs)
    stats.flush()
    assert stats.score is not None
    stats.score.add(scores)
    domains = {name: sorted(set(stats.categorical[name].counts) | set(values.to_pylist()))
               for name, values in zip(scorer.categorical, scorer.cat_values, strict=True)}
    return (json.dumps(stats.to_json(), indent=1).encode(),
            json.dumps(_constraints(stats, domains, config), indent=1).encode())


def _constraints(stats: Statistics, domains: Mapping[str, list[str]],
                 config: MonitoringSettings) -> dict[str, Any]:
    numbers = {**stats.numeric, **({SCORE: stats.score} if stats.score else {})}
    features: list[dict[str, Any]] = [
        {"name": name, "inferred_type": n.inferred_type,
         "completeness": n.present / max(n.present + n.missing, 1),
         "num_constraints": {"is_non_negative": bool(n.present and n.low >= 0)}}
        for name, n in numbers.items()]
    features += [{"name": name, "inferred_type": "String",
                  "completeness": c.present / max(c.present + c.missing, 1),
                  "string_constraints": {"domains": domains[name]}}
                 for name, c in stats.categorical.items()]
    return {"version": 0.0, "features": features, "monitoring_config": {
        "evaluate_constraints": "Enabled", "emit_metrics": "Enabled",
        "datatype_check_threshold": config.datatype_check_threshold,
        "domain_content_threshold": config.domain_content_threshold,
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": config.comparison_threshold,
            "comparison_method": config.comparison_method,
            "categorical_comparison_threshold": config.categorical_comparison_threshold,
            "categorical_drift_method": "LInfinity"}}}


@dataclass(frozen=True)
class Baseline:
    """A run's baseline, parsed: the training figures and each feature's constraints."""

    reference: Statistics
    constraints: Mapping[str, Mapping[str, Any]]  # by feature name

    @classmethod
    def parse(cls, statistics: bytes, constraints: bytes, scorer: LinearScorer,
              source: str) -> Baseline:
        """Read both files of a run; ModelError if they do not describe its features."""
        try:
            rules = {f["name"]: f for f in json.loads(constraints)["features"]}
            domains = {n: pa.array(rules[n]["string_constraints"]["domains"], pa.string())
                       for n in scorer.categorical}
            template = Statistics(
                {n: Numeric(np.zeros(0)) for n in scorer.numeric},
                {n: Categorical(domains[n]) for n in scorer.categorical},
                Numeric(np.zeros(0)) if SCORE in rules else None)
            reference = template.parsed(json.loads(statistics))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise ModelError(f"{source}: the monitoring baseline is unreadable: {exc}") from exc
        return cls(reference, rules)

    def fresh(self) -> Statistics:
        """Empty accumulators for a job: the baseline's bins, bounds and domains."""
        ref = self.reference
        return Statistics(
            {n: Numeric(s.cuts, (s.low, s.high),
                        non_integral=0 if s.inferred_type == "Integral" else None)
             for n, s in ref.numeric.items()},
            {n: Categorical(s.domain) for n, s in ref.categorical.items()},
            Numeric(ref.score.cuts, non_integral=None) if ref.score is not None else None)


def unseen_values(values: Categorical, limit: int = 5) -> list[str]:
    """A few of the values a job had that the baseline's domain lacks, most frequent first."""
    if values.domain is None or not values.counts:
        return []
    names = pa.array(list(values.counts), pa.string())
    outside = pc.invert(pc.is_in(names, value_set=values.domain)).to_numpy(zero_copy_only=False)
    found = [v for v, out in zip(values.counts, outside, strict=True) if out]
    return sorted(found, key=lambda v: -values.counts[v])[:limit]
