"""Bar charts as geometry for server-rendered SVG: no script and no library in the page.

A chart is a row of columns, each a stack of coloured bars (one per series); the template
draws each bar as a ``<rect>`` with a ``<title>`` (its tooltip) and colours it by CSS
class, so the page needs neither inline styles nor JavaScript.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT, BOTTOM = 720, 160, 20  # px; BOTTOM is the band for column labels


@dataclass(frozen=True)
class Bar:
    """One rectangle: where, how big, which series (CSS class) and its tooltip."""

    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


@dataclass(frozen=True)
class Chart:
    """An SVG's worth of bars, with column labels and the scale's top value."""

    title: str
    bars: list[Bar]
    labels: list[tuple[float, str]]
    top: float
    unit: str = ""
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        """Whether there is nothing to draw (every value zero)."""
        return not self.bars


def stacked(title: str, columns: Sequence[str], series: Mapping[str, Sequence[float]],
            label_every: int = 1, unit: str = "") -> Chart:
    """Columns of stacked bars; ``series`` maps a name to one value per column."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(columns))]
    top = max(totals, default=0.0)
    step = WIDTH / max(len(columns), 1)
    scale = (HEIGHT - BOTTOM - 4) / top if top else 0.0
    bars = []
    for i, column in enumerate(columns):
        base = float(HEIGHT - BOTTOM)
        for name, values in series.items():
            if values[i] <= 0:
                continue
            height = values[i] * scale
            base -= height
            bars.append(Bar(round(i * step + 1, 1), round(base, 1), round(step - 2, 1),
                            round(height, 1), name, f"{column}: {values[i]:,.4g} {unit}{name}"))
    labels = [(round(i * step + step / 2, 1), c) for i, c in enumerate(columns)
              if i % label_every == 0]
    return Chart(title, bars, labels, top, unit.strip())
