"""The rules a loaded configuration must keep: names set, choices, ranges, and prefixes
that each have a folder of their own. ``settings`` calls ``validate`` once, at load."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from arq_batch.kernel.errors import ConfigError
from arq_batch.kernel.monitoring_settings import validate_monitoring

if TYPE_CHECKING:
    from arq_batch.kernel.settings import Prefixes, Settings

_CHOICES = (("encryption", "sse", ("AES256", "aws:kms")),
            ("s3", "addressing_style", ("auto", "path", "virtual")),
            ("log", "format", ("auto", "json", "text")))

_RANGES = (("worker", "concurrency", 1, float("inf"), "at least 1"),
           ("worker", "gzip_level", 1, 9, "between 1 and 9"),
           ("worker", "zstd_level", 1, 22, "between 1 and 22"),
           ("worker", "split_bytes", 0, float("inf"), "0 (never split) or a size in bytes"),
           ("worker", "max_bad_rows", 0, float("inf"), "0 (all or nothing) or more"),
           ("worker", "quarantine_days", 1, float("inf"), "at least 1 day"),
           ("training", "exact_max_bytes", 0, float("inf"), "a size in bytes"),
           ("training", "held_rows", 100, float("inf"), "at least 100"),
           ("training", "promote_tolerance", 0, 0.99, "between 0 and 0.99"),
           ("compaction", "interval_seconds", 1, float("inf"), "at least 1 second"),
           ("compaction", "min_age_seconds", 0, float("inf"), "0 or more seconds"),
           ("compaction", "claim_seconds", 10, float("inf"), "at least 10 seconds"),
           ("progress", "interval_seconds", 0.1, float("inf"), "at least 0.1 seconds"),
           ("progress", "stalled_after", 1, float("inf"), "at least 1"),
           ("cost", "vcpu_hour_usd", 0, float("inf"), "a price >= 0"),
           ("cost", "gb_hour_usd", 0, float("inf"), "a price >= 0"),
           ("cost", "vcpus", 0.125, float("inf"), "at least 0.125"),
           ("cost", "memory_gb", 0.125, float("inf"), "at least 0.125"),
           ("console", "port", 1, 65535, "a port between 1 and 65535"),
           ("console", "refresh_seconds", 0, 3600, "between 0 and 3600 seconds"),
           ("console", "page_size", 1, 1000, "between 1 and 1000"),
           ("console", "query_timeout_seconds", 0.1, 3600, "between 0.1 and 3600 seconds"),
           ("console", "query_max_rows", 1, 1_000_000, "between 1 and 1,000,000"),
           ("console", "session_hours", 0.01, 24 * 30, "between 0.01 and 720 hours"))


def validate(settings: Settings) -> None:
    """ConfigError (exit 2) naming the first setting that breaks a rule."""
    for name in ("bucket", "queue"):
        if not getattr(settings, name):
            raise ConfigError(f"{name} is not set (config {name!r} or ARQ_BATCH_{name.upper()})")
    for section, name, allowed in _CHOICES:
        if getattr(getattr(settings, section), name) not in allowed:
            *first, last = [repr(a) for a in allowed]
            raise ConfigError(f"{section}: {name} must be {', '.join(first)} or {last}")
    for section, name, low, high, rule in _RANGES:
        if not low <= getattr(getattr(settings, section), name) <= high:
            raise ConfigError(f"{section}: {name} must be {rule}")
    validate_monitoring(settings.monitoring)
    _validate_prefixes(settings.prefixes)


def _validate_prefixes(prefixes: Prefixes) -> None:
    """Each prefix a folder of its own: one inside another would make every report,
    record and output of the inner one a new job of the outer (a runaway loop)."""
    named = dataclasses.asdict(prefixes).items()
    for name, value in named:
        if not value.endswith("/") or value.startswith("/"):
            raise ConfigError(f"prefixes: {name} must end with '/' and not start with one")
    for name, value in named:
        for other, inner in named:
            if name != other and inner.startswith(value):
                raise ConfigError(f"prefixes: {name} ({value!r}) and {other} ({inner!r}) "
                                  "overlap; each prefix needs a folder of its own")
