"""Self-contained HTML report pages: inline PNG plots, no scripts, no network to view.

The training report and the monitoring report are both built from these pieces: a page
is a list of ``Section``s rendered by one Jinja2 template with autoescaping on, so every
value that came from data (a column name, a category, a reason) is escaped by the
template itself, in text and in attributes alike; only the plots are trusted markup.
Plots are matplotlib's with the Agg backend (no display, no GUI toolkit: the same on a
laptop and in a container), imported only when a page is drawn.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_TEMPLATES = Environment(loader=PackageLoader("arq_batch.reports", "templates"),
                         autoescape=True, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Table:
    """A table of plain values; ``marked`` rows are highlighted (a search's winner)."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    marked: frozenset[int] = frozenset()
    headed: bool = False  # the first cell of each row is its heading (a metrics table)


@dataclass(frozen=True)
class Section:
    """One section of a page: a heading, then any of a paragraph, a plot and a table."""

    id: str
    heading: str
    text: str = ""
    plot: Markup | None = None
    table: Table | None = None
    extra: list[Table] = field(default_factory=list)


def html_page(title: str, sections: Sequence[Section]) -> bytes:
    """The page, every value escaped by the template."""
    return _TEMPLATES.get_template("report.html").render(
        title=title, sections=sections, cell=cell).encode()


def cell(value: Any) -> str:
    """How a table shows one value: floats to six significant digits."""
    return f"{value:.6g}" if isinstance(value, float) else "" if value is None else str(value)


def image(draw: Callable[[Figure], None]) -> Markup:
    """An <img> of one figure, drawn by ``draw``, as an inline PNG (our own bytes: the
    only markup a page takes unescaped)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    # A bare Figure, not pyplot's (no global figure registry), with fixed margins: any
    # automatic layout draws every plot twice (bbox_inches="tight": 0.13 s against 0.07 s).
    fig = Figure(figsize=(7, 4.2))
    fig.subplots_adjust(left=0.14, right=0.97, top=0.95, bottom=0.13)
    draw(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return Markup('<img alt="plot" src="data:image/png;base64,{}">').format(encoded)
