"""The worker's gauges: Prometheus counters and histograms, and CloudWatch EMF fields.

Prometheus is scraped from ``/metrics`` when a port is set; EMF rides on each job's JSON
log line (``_aws`` plus the values at the top level), so CloudWatch Logs turns it into
metrics with no agent.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from arq_batch.engine.ledger import LedgerRecord
from arq_batch.kernel.outcomes import Outcome
from arq_batch.monitoring.checks import Findings

# Job seconds from a tiny file to a 1 GB one.
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class WorkerMetrics:
    """One worker's metrics, in a registry of its own (tests run several workers)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.jobs = Counter("arq_batch_jobs", "Job attempts settled, by outcome", ["outcome"],
                            registry=r)
        self.rows = Counter("arq_batch_rows_scored", "Rows scored by done jobs", registry=r)
        self.quarantined = Counter("arq_batch_rows_quarantined",
                                   "Bad rows done jobs set aside within their budget",
                                   registry=r)
        self.job_seconds = Histogram("arq_batch_job_seconds", "Wall time of job attempts",
                                     ["outcome"], buckets=_BUCKETS, registry=r)
        self.bytes_in = Counter("arq_batch_input_bytes", "Input bytes of done jobs", registry=r)
        self.bytes_out = Counter("arq_batch_output_bytes", "Output bytes written", registry=r)
        self.receive_errors = Counter("arq_batch_receive_errors", "Failed receives", registry=r)
        self.delete_errors = Counter("arq_batch_delete_errors", "Failed deletes", registry=r)
        self.ledger_failures = Counter("arq_batch_ledger_write_failures",
                                       "Ledger records that could not be written", registry=r)
        self.in_flight = Gauge("arq_batch_jobs_in_flight", "Jobs running now", registry=r)
        self.distance = Gauge("arq_batch_feature_distance",
                              "Distance from the baseline in the last checked job, by feature",
                              ["feature"], registry=r)
        self.violations = Counter("arq_batch_constraint_violations",
                                  "Constraint violations found, by check type", ["check"],
                                  registry=r)
        self.violating_jobs = Counter("arq_batch_jobs_with_violations",
                                      "Done jobs whose input violated constraints", registry=r)

    def serve(self, port: int, host: str) -> None:
        """Expose ``/metrics`` on a daemon thread."""
        start_http_server(port, addr=host, registry=self.registry)

    def observe(self, record: LedgerRecord, output_bytes: int = 0,
                findings: Findings | None = None) -> None:
        """Count one settled job attempt (and what monitoring found in it)."""
        if findings is not None:
            for feature, distance in findings.distances.items():
                self.distance.labels(feature).set(distance)
            for violation in findings.violations:
                self.violations.labels(violation.constraint_check_type).inc()
            if findings.violations:
                self.violating_jobs.inc()
        self.jobs.labels(record.outcome).inc()
        self.job_seconds.labels(record.outcome).observe(record.seconds)
        if record.outcome == Outcome.DONE:
            self.rows.inc(record.rows or 0)
            self.quarantined.inc(record.rows_quarantined or 0)
            self.bytes_in.inc(record.input_size or 0)
            self.bytes_out.inc(output_bytes)


def emf_fields(record: LedgerRecord, namespace: str, output_bytes: int = 0,
               findings: Findings | None = None) -> dict[str, Any]:
    """The Embedded Metric Format members for one job's log line (dimension: outcome).

    A checked job adds ``violations`` (the stack's alarm watches it) and one
    ``feature_distance.<feature>`` per feature: a log line holds one value per name, so
    the feature rides in the metric's name rather than in a dimension."""
    values: dict[str, tuple[float, str]] = {"seconds": (record.seconds, "Seconds")}
    if record.outcome == Outcome.DONE:
        values |= {"rows": (record.rows or 0, "Count"),
                   "rows_quarantined": (record.rows_quarantined or 0, "Count"),
                   "input_bytes": (record.input_size or 0, "Bytes"),
                   "output_bytes": (output_bytes, "Bytes")}
    if findings is not None:
        values |= {"violations": (len(findings.violations), "Count")}
        values |= {f"feature_distance.{name}": (round(d, 6), "None")
                   for name, d in findings.distances.items()}
    return {
        "_aws": {
            "Timestamp": int(record.finished_at.timestamp() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": namespace, "Dimensions": [["outcome"]],
                "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
            }],
        },
        "outcome": record.outcome,
        **{name: value for name, (value, _) in values.items()},
    }
