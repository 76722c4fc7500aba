"""The ``monitoring`` section of the settings, and the check names Model Monitor uses."""

from __future__ import annotations

from dataclasses import dataclass

from arq_batch.kernel.errors import ConfigError

DATA_TYPE, COMPLETENESS, DRIFT = "data_type_check", "completeness_check", "baseline_drift_check"
MISSING_COLUMN, EXTRA_COLUMN = "missing_column_check", "extra_column_check"
CATEGORICAL_VALUES = "categorical_values_check"
CHECKS = (DATA_TYPE, COMPLETENESS, DRIFT, MISSING_COLUMN, EXTRA_COLUMN, CATEGORICAL_VALUES)
METHODS = ("Robust", "Simple")


@dataclass(frozen=True)
class MonitoringSettings:
    """Per-job checks against the model's baseline (docs/monitoring.md).

    The thresholds keep Model Monitor's names and meanings: distances are L-infinity
    (numbers: between the cumulative distributions over the baseline's quantile bins;
    categories: between the value frequencies); the two ``*_threshold`` fractions are how
    much of a column may be of another type or outside the baseline's domain.
    """

    enabled: bool = True
    fail_on: tuple[str, ...] = ()  # check types that make a job fail as a data error
    bins: int = 10  # baseline quantile bins per numeric feature (Model Monitor shows 10)
    comparison_threshold: float = 0.1
    comparison_method: str = "Robust"  # Robust: never below the KS test's critical value
    categorical_comparison_threshold: float = 0.1
    datatype_check_threshold: float = 0.1
    domain_content_threshold: float = 0.01


def validate_monitoring(config: MonitoringSettings) -> None:
    """ConfigError, in one line, for a monitoring section that cannot work."""
    unknown = [kind for kind in config.fail_on if kind not in CHECKS]
    if unknown:
        raise ConfigError(f"monitoring: fail_on: unknown check {unknown[0]!r} "
                          f"(known: {', '.join(CHECKS)})")
    if config.comparison_method not in METHODS:
        raise ConfigError("monitoring: comparison_method must be 'Robust' or 'Simple'")
    if not 2 <= config.bins <= 100:
        raise ConfigError("monitoring: bins must be between 2 and 100")
    for name in ("comparison_threshold", "categorical_comparison_threshold",
                 "datatype_check_threshold", "domain_content_threshold"):
        if not 0 <= getattr(config, name) <= 1:
            raise ConfigError(f"monitoring: {name} must be between 0 and 1")
