"""Which jobs are monitored, where their Model Monitor files go, and a split job's merge.

A whole job's tap checks its input and writes the files itself. A split job's parts each
write their statistics alone; the assembly merges them, checks the whole input once and
writes the job's files, as if one worker had read it all.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from arq_batch.engine.messages import Job
from arq_batch.engine.scoring import PREDICTION_COLUMNS
from arq_batch.engine.split_plan import Plan, SplitKeys
from arq_batch.kernel import layout
from arq_batch.kernel.errors import ArqError
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri, is_s3
from arq_batch.models.artifacts import Model
from arq_batch.monitoring.baseline import Baseline
from arq_batch.monitoring.checks import Findings, check
from arq_batch.monitoring.tap import STATISTICS, Folder, MonitorTap, StoreFolder, fail_on, publish
from arq_batch.stores.local import LocalFolder

logger = logging.getLogger(__name__)


class Monitoring:
    """Makes jobs' monitoring taps; says once per run when a run has no baseline."""

    def __init__(self, store: ObjectStore, settings: Settings) -> None:
        self._store, self._settings = store, settings
        self._told: set[str] = set()
        self._lock = threading.Lock()

    def tap(self, job: Job, model: Model, day: str) -> MonitorTap | None:
        """The job's tap; None when monitoring is off or the model has no baseline."""
        baseline = self._baseline(model)
        if baseline is None:
            return None
        return MonitorTap(self._folder(day, job.job_id), baseline,
                          self._settings.monitoring, _about(job.job_id, str(job.input), model),
                          _ignored(model))

    def score_tap(self, destination: str, model: Model, source: str) -> MonitorTap | None:
        """``score``'s tap: files in the bucket's monitoring folder for an s3:// output (job
        id ``score-<output key>``), else in ``<output>.monitoring/`` beside it."""
        baseline = self._baseline(model)
        if baseline is None:
            return None

        folder: Folder = LocalFolder(f"{destination}.monitoring")
        job_id = f"score-{destination}"
        if is_s3(destination):
            job_id = f"score-{S3Uri.parse(destination).key}"
            folder = self._folder(datetime.now(UTC).strftime("%Y-%m-%d"), job_id)
        return MonitorTap(folder, baseline, self._settings.monitoring,
                          _about(job_id, source, model), _ignored(model))

    def part_tap(self, model: Model, keys: SplitKeys, index: int) -> MonitorTap | None:
        """A split job part's tap: its statistics only, beside the part's other objects."""
        baseline = self._baseline(model)
        if baseline is None:
            return None
        return MonitorTap(StoreFolder(self._store, keys.monitoring(index)), baseline,
                          self._settings.monitoring, {}, final=False)

    def assemble(self, plan: Plan, keys: SplitKeys, model: Model,
                 present: Mapping[str, object]) -> tuple[Findings | None, Callable[[], None]]:
        """Merge the parts' statistics (``present``: the parts' keys), check, and write
        the job's files; returns the findings and how to remove the files again."""
        baseline = self._baseline(model)
        if baseline is None:
            return None, lambda: None
        job_id = str(plan.job["job_id"])
        try:
            total = baseline.fresh()
            for part in plan.parts:
                uri = keys.monitoring(part.index).child(STATISTICS)
                if uri.key in present:  # a part without rows writes none
                    total.merge(total.parsed(json.loads(self._store.get_bytes(uri))))
            findings = check(total, baseline, self._settings.monitoring, _ignored(model))
        except ArqError:
            raise  # the store's: retried or reported like any other
        except Exception:  # monitoring's own fault: the job goes on without its files
            logger.exception("monitoring gave up on split job %s", job_id,
                             extra={"event": "monitoring_error", "job_id": job_id})
            return None, lambda: None
        fail_on(findings, self._settings.monitoring)
        about = _about(job_id, str(plan.job["input"]), model)
        return findings, publish(self._folder(plan.enqueued_at[:10], job_id), total, about,
                                 findings)

    def _baseline(self, model: Model) -> Baseline | None:
        """The run's baseline, if monitoring is on and the run has one."""
        if not self._settings.monitoring.enabled:
            return None
        if model.baseline is None:
            self._skipped(model.card.run_id)
        return model.baseline

    def _folder(self, day: str, job_id: str) -> StoreFolder:
        return StoreFolder(self._store, layout.monitoring_uri(
            self._settings.bucket, self._settings.prefixes, day, job_id))

    def _skipped(self, run_id: str) -> None:
        with self._lock:
            if run_id in self._told:
                return
            self._told.add(run_id)
        logger.warning("model run %s has no monitoring baseline (trained before it "
                       "existed): its jobs are scored without checks", run_id,
                       extra={"event": "monitoring_skipped", "run_id": run_id})


def _about(job_id: str, input_uri: str, model: Model) -> dict[str, str]:
    return {"job_id": job_id, "input": input_uri, "run_id": model.card.run_id}


def _ignored(model: Model) -> tuple[str, ...]:
    """Input columns that are expected beside the features: the target, the predictions."""
    return (model.card.target, *PREDICTION_COLUMNS)
