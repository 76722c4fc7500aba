"""docs/performance.md is written by two benchmarks; each replaces only its own section."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

HEADER = """# Performance

Every table below comes from one run of its command on this machine
({machine}). Timings are reported, never asserted by tests.
"""


def replace_section(path: Path, name: str, body: str) -> None:
    """Put ``body`` between this section's markers, creating the file or section if needed."""
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    text = path.read_text() if path.exists() else HEADER.format(machine=machine)
    block = f"<!-- {name}:start -->\n{body.strip()}\n<!-- {name}:end -->"
    pattern = re.compile(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else \
        f"{text.rstrip()}\n\n{block}\n"
    path.write_text(text)
