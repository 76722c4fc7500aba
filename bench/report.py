"""The batch results table, and docs/performance.md, where each benchmark replaces only its
own section."""

from __future__ import annotations

import argparse
import os
import platform
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HEADER = """# Performance

Every table below comes from one run of its command on this machine
({machine}). Timings are reported, never asserted by tests.
"""


def section_main(name: str, measure: Callable[[int], str], description: str | None) -> int:
    """A benchmark script's entry point: ``--rows``, then its section of performance.md."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--write", default=str(Path(__file__).resolve().parents[1] / "docs"
                                                / "performance.md"))
    args = parser.parse_args()
    report = measure(args.rows)
    print(report)
    replace_section(Path(args.write), name, report)
    return 0


def replace_section(path: Path, name: str, body: str) -> None:
    """Put ``body`` between this section's markers, creating the file or section if needed."""
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    text = path.read_text() if path.exists() else HEADER.format(machine=machine)
    block = f"<!-- {name}:start -->\n{body.strip()}\n<!-- {name}:end -->"
    pattern = re.compile(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else \
        f"{text.rstrip()}\n\n{block}\n"
    path.write_text(text)


def table(rows: Sequence[Any]) -> str:
    """Markdown table with ratios against the baseline and the limit of the same scenario."""
    lines = ["| scenario | variant | wall s | rows/s | jobs/s | peak RSS MB | CPU s | moto CPU s "
             "| vs baseline | vs limit |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    by = {(r.scenario, r.variant): r.rate for r in rows}
    for r in rows:
        base, floor = by.get((r.scenario, "baseline")), by.get((r.scenario, "limit"))
        speed = f"{r.rate / base:.1f}x faster" if base and r.variant != "baseline" else ""
        gap = _versus(floor / r.rate) if floor and r.variant == "ours" else ""
        rss = f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb else "-"
        rate = f"{r.rate:,.0f}" if r.rows else "-"
        jobs = f"{r.rate:.1f}" if r.jobs else "-"
        cpu, server = (f"{v:.1f}" if v is not None else "-"
                       for v in (r.run.cpu_s, r.run.server_cpu_s))
        lines.append(f"| {r.scenario} | {r.variant} | {r.run.seconds:.2f} | {rate} | {jobs} "
                     f"| {rss} | {cpu} | {server} | {speed} | {gap} |")
    return "\n".join(lines)


def _versus(ratio: float) -> str:
    """How much slower (ratio above 1) or faster than the reference."""
    return f"{ratio:.2f}x slower" if ratio >= 1 else f"{1 / ratio:.2f}x faster"
