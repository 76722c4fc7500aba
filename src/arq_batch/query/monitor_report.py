"""``arq-batch monitor report``: a run's baseline against its recent jobs, on one page.

Every job the run scored since a date is merged into one "recent" dataset (the jobs'
statistics.json files add up, bins and all) and compared with the baseline feature by
feature; the violations over time come from SQL over the ``violations`` view. The page
is self-contained: inline PNGs, no scripts, nothing fetched when it is opened.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from arq_batch.engine.scoring import PREDICTION_COLUMNS
from arq_batch.kernel.errors import MissingObject
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.models.artifacts import Model
from arq_batch.monitoring.checks import Findings, check
from arq_batch.monitoring.dataset import Statistics
from arq_batch.monitoring.stats import SCORE, Categorical, Numeric
from arq_batch.monitoring.tap import STATISTICS, VIOLATIONS
from arq_batch.query.engine import Runner
from arq_batch.reports.pages import Section, Table, html_page, image

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_BY_DAY = """
SELECT dt, constraint_check_type AS check_type, count(*) AS n FROM violations
WHERE run_id = $run AND dt >= $since GROUP BY ALL ORDER BY ALL"""
_LATEST = """
SELECT dt, job_id, input, feature_name, constraint_check_type, description FROM violations
WHERE run_id = $run AND dt >= $since ORDER BY dt DESC, job_id, feature_name LIMIT 50"""
SHOWN_VALUES = 15  # categories per plot, the most frequent first


def recent_statistics(store: ObjectStore, settings: Settings, model: Model,
                      since: date) -> tuple[Statistics, int]:
    """The run's jobs since ``since``, merged; and how many jobs that is."""
    assert model.baseline is not None
    prefix = S3Uri(settings.bucket, settings.prefixes.monitoring)
    folders = [key[: -len(VIOLATIONS)] for key in store.list_keys(prefix)
               if key.endswith("/" + VIOLATIONS) and _day(key, prefix.key) >= since]

    def of_run(folder: str) -> bytes | None:
        try:
            about = json.loads(store.get_bytes(S3Uri(settings.bucket, folder + VIOLATIONS)))
            if about.get("run_id") != model.card.run_id:
                return None
            return store.get_bytes(S3Uri(settings.bucket, folder + STATISTICS))
        except MissingObject:  # a failed job's files, being removed as we read
            return None

    total, jobs = model.baseline.fresh(), 0
    with ThreadPoolExecutor(8) as pool:  # one small GET pair per job
        for data in pool.map(of_run, folders):
            if data is not None:
                total.merge(total.parsed(json.loads(data)))
                jobs += 1
    return total, jobs


def _day(key: str, prefix: str) -> date:
    part = key[len(prefix):].split("/", 1)[0]
    try:
        return date.fromisoformat(part.removeprefix("dt="))
    except ValueError:
        return date.min


def render(model: Model, recent: Statistics, jobs: int, engine: Runner, since: date,
           settings: Settings) -> bytes:
    """The page."""
    assert model.baseline is not None
    params = {"run": model.card.run_id, "since": since}
    by_day = engine.run(_BY_DAY, params).records()
    latest = engine.run(_LATEST, params)
    findings = check(recent, model.baseline, settings.monitoring,
                     (model.card.target, *PREDICTION_COLUMNS))
    base = model.baseline.reference
    sections = [Section("summary", f"{jobs} job(s) since {since}, {recent.rows:,} rows",
                        table=_summary(base, recent, findings)),
                Section("violations", "Violations over time",
                        plot=image(partial(_over_time, by_day=by_day)),
                        table=Table(latest.columns, latest.rows))]
    return html_page(f"arq-batch monitoring: run {model.card.run_id}",
                     sections + _features(base, recent, findings))


def _features(base: Statistics, recent: Statistics, findings: Findings) -> list[Section]:
    """One plot per feature (and the score): baseline against recent."""
    sections = []
    for name, numbers in _numeric(base).items():
        mine = recent.score if name == SCORE else recent.numeric[name]
        assert mine is not None
        sections.append(Section(f"feature-{name}",
                                f"{name}: distance {findings.distances[name]:.3f}",
                                plot=image(partial(_bins, base=numbers, recent=mine))))
    for name, values in base.categorical.items():
        sections.append(Section(f"feature-{name}",
                                f"{name}: distance {findings.distances[name]:.3f}",
                                plot=image(partial(_frequencies, base=values,
                                                   recent=recent.categorical[name]))))
    return sections


def _numeric(stats: Statistics) -> dict[str, Numeric]:
    return {**stats.numeric, **({SCORE: stats.score} if stats.score is not None else {})}


def _summary(base: Statistics, recent: Statistics, findings: Findings) -> Table:
    checks: dict[str, list[str]] = {}
    for v in findings.violations:
        checks.setdefault(v.feature_name, []).append(v.constraint_check_type)
    rows: list[tuple[str, ...]] = []
    for name in [*_numeric(base), *base.categorical]:
        completeness = [_completeness(s, name) for s in (base, recent)]
        rows.append((name, f"{findings.distances.get(name, 0.0):.4f}",
                     f"{findings.outside.get(name, 0.0):.2%}", *completeness,
                     ", ".join(checks.get(name, [])) or "none"))
    extra: list[tuple[str, ...]] = [(c, "", "", "", "", "extra_column_check")
                                    for c in sorted(checks) if c not in findings.distances]
    return Table(["feature", "distance", "out of range / unseen", "baseline completeness",
                   "recent completeness", "violations (recent, merged)"], rows + extra)


def _completeness(stats: Statistics, name: str) -> str:
    found: Numeric | Categorical | None = (stats.score if name == SCORE else
                                           stats.numeric.get(name) or stats.categorical.get(name))
    if found is None or not found.present + found.missing:
        return ""
    return f"{found.present / (found.present + found.missing):.2%}"


def _over_time(fig: Figure, by_day: list[dict[str, Any]]) -> None:
    ax = fig.add_subplot()
    days = sorted({str(r["dt"]) for r in by_day})
    bottom = np.zeros(len(days))
    for kind in sorted({r["check_type"] for r in by_day}):
        counts = Counter({str(r["dt"]): r["n"] for r in by_day if r["check_type"] == kind})
        heights = np.array([counts[d] for d in days], dtype=float)
        ax.bar(days, heights, bottom=bottom, label=kind)
        bottom += heights
    ax.set_ylabel("violations")
    if days:
        ax.legend(fontsize=8)


def _bins(fig: Figure, base: Numeric, recent: Numeric) -> None:
    ax = fig.add_subplot()
    x = np.arange(len(base.counts))
    for offset, stats, label in ((-0.2, base, "baseline"), (0.2, recent, "recent")):
        ax.bar(x + offset, stats.counts / max(stats.present, 1), width=0.4, label=label)
    inner = [f"{lo:.3g} to {hi:.3g}" for lo, hi in pairwise(base.cuts)]
    labels = ([f"< {base.cuts[0]:.3g}", *inner, f">= {base.cuts[-1]:.3g}"]
              if len(base.cuts) else ["all"])
    ax.set_xticks(x, labels, rotation=30, fontsize=7)
    ax.set_ylabel("share of values")
    ax.legend(fontsize=8)


def _frequencies(fig: Figure, base: Categorical, recent: Categorical) -> None:
    ax = fig.add_subplot()
    shares = {name: {v: c / max(s.present, 1) for v, c in s.counts.items()}
              for name, s in (("baseline", base), ("recent", recent))}
    shown = sorted(set(shares["baseline"]) | set(shares["recent"]),
                   key=lambda v: -max(shares["baseline"].get(v, 0), shares["recent"].get(v, 0)))
    shown = shown[:SHOWN_VALUES]
    x = np.arange(len(shown))
    for offset, label in ((-0.2, "baseline"), (0.2, "recent")):
        ax.bar(x + offset, [shares[label].get(v, 0) for v in shown], width=0.4, label=label)
    ax.set_xticks(x, shown, rotation=30, fontsize=7)
    ax.set_ylabel("share of values")
    ax.legend(fontsize=8)
