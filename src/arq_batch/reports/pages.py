"""Self-contained HTML report pages: inline PNG plots, no scripts, no network to view.

The training report and the monitoring report are both built from these two pieces.
Plots are matplotlib's with the Agg backend (no display, no GUI toolkit: the same on a
laptop and in a container), imported only when a page is drawn.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
         "padding:3px 8px;text-align:right}tr.winner{background:#e6f4ea;font-weight:bold}"
         "img{max-width:100%}section{margin-bottom:2em}")


def html_page(title: str, sections: list[tuple[str, str, str]]) -> bytes:
    """A page of (id, heading, body HTML) sections."""
    body = "".join(f'<section id="{sid}"><h2>{html.escape(head)}</h2>{content}</section>'
                   for sid, head, content in sections)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"{body}</body></html>").encode()


def image(draw: Callable[[Figure], None]) -> str:
    """An <img> of one figure, drawn by ``draw``, as an inline PNG."""
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
    return f'<img alt="plot" src="data:image/png;base64,{encoded}">'
