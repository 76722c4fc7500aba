"""The issue's targets, checked against one run's figures: met, or missed by how much."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


class Measured(Protocol):
    scenario: str
    variant: str

    @property
    def rate(self) -> float: ...

    @property
    def peak_rss_mb(self) -> float | None: ...


@dataclass(frozen=True)
class Target:
    """``value`` compares two figures of the run; at least (or at most) ``bound``."""

    name: str
    bound: float
    at_most: bool
    value: Callable[[Callable[[str, str], Measured]], float]
    unit: str = "x"
    strict: bool = False  # "under", not "within"


_COMPARE = {"<": operator.lt, "<=": operator.le, ">=": operator.ge}

TARGETS = (
    Target("(a) ours vs baseline, rows/s", 3.0, False, lambda r: r("a", "ours").rate / r(
        "a", "baseline").rate),
    Target("(a) ours vs limit, time", 1.3, True, lambda r: r("a", "limit").rate / r(
        "a", "ours").rate),
    Target("(b) ours, Parquet vs CSV, rows/s", 5.0, False, lambda r: r("b", "ours").rate / r(
        "a", "ours").rate),
    Target("(c) ours, peak RSS for ~1 GB", 300.0, True,
           lambda r: r("c", "ours").peak_rss_mb or 0.0, " MB", strict=True),
    Target("(d) ours vs baseline, jobs/s", 30.0, False, lambda r: r("d", "ours").rate / r(
        "d", "baseline").rate),
    Target("(e) concurrency 4 vs 1, jobs/s", 2.0, False,
           lambda r: r("e: concurrency", "ours").rate / r("d", "ours").rate),
    Target("(e) 2 processes x 2 vs 1, jobs/s", 2.0, False,
           lambda r: r("e: 2 processes", "ours").rate / r("d", "ours").rate),
)


def targets_table(rows: Sequence[Measured]) -> str:
    """Markdown: each target whose figures this run has, with its verdict."""
    def find(scenario: str, variant: str) -> Measured:
        return next(r for r in rows if r.scenario.startswith(scenario) and r.variant == variant)

    lines = ["| target | goal | measured | verdict |", "|---|---:|---:|---|"]
    for t in TARGETS:
        try:
            value = t.value(find)
        except StopIteration:  # a scenario --quick leaves out
            continue
        op = ("<" if t.strict else "<=") if t.at_most else ">="
        met = _COMPARE[op](value, t.bound)
        by = value / t.bound if t.at_most else t.bound / value
        goal = f"{op} {t.bound:g}{t.unit}"
        verdict = "met" if met else f"missed: {by:.1f}x short"
        lines.append(f"| {t.name} | {goal} | {value:.2f}{t.unit} | {verdict} |")
    return "\n".join(lines)
