"""The model registry in the bucket: the runs under ``model/output/``, which one
``latest.json`` points to, and the record of every promotion.

Promotion only ever rewrites ``latest.json`` (one PUT, atomic in S3), which workers and
endpoints already re-read every ``worker.model_refresh_seconds``. Each promotion then
leaves ``model/output/_promotions/<time>-<run>.json`` (who, when, from, to, why), and
``rollback`` replays those records to find the run promoted before the current one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from arq_batch.kernel import layout
from arq_batch.kernel.errors import MissingObject, ModelError, PermanentError
from arq_batch.kernel.layout import CARD_FILE
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.models.artifacts import ModelCard

PROMOTIONS = "_promotions/"
ACTIONS = ("train", "promote", "rollback")


@dataclass(frozen=True)
class Promotion:
    """One move of ``latest.json``."""

    at: str
    by: str
    action: str  # train | promote | rollback
    from_run: str | None
    to_run: str
    reason: str

    @classmethod
    def from_json(cls, data: bytes) -> Promotion:
        """Parse a record; ModelError if it is not one."""
        try:
            return cls(**json.loads(data))
        except (ValueError, TypeError) as exc:
            raise ModelError(f"not a promotion record: {exc}") from exc


def latest(store: ObjectStore, settings: Settings) -> tuple[str, S3Uri] | None:
    """``latest.json`` read (the one reader of it): the run id and its folder, or None
    before the first promotion; ModelError if it is not a model pointer."""
    try:
        pointer = json.loads(store.get_bytes(_latest(settings)))
        return str(pointer["run_id"]), S3Uri.parse(pointer["uri"])
    except MissingObject:
        return None
    except (ValueError, KeyError, TypeError, PermanentError) as exc:
        raise ModelError(f"{_latest(settings)} is not a valid model pointer: {exc}") from exc


def current_run(store: ObjectStore, settings: Settings) -> str | None:
    """The run ``latest.json`` points to, or None before the first promotion."""
    found = latest(store, settings)
    return found[0] if found else None


def cards(store: ObjectStore, settings: Settings) -> list[ModelCard]:
    """Every run's card, oldest first."""
    root = S3Uri(settings.bucket, settings.prefixes.model)
    runs = sorted({key[len(root.key):].split("/")[0] for key in store.list_keys(root)
                   if key.endswith("/" + CARD_FILE)})
    return [card(store, settings, run) for run in runs if not run.startswith("_")]


def card(store: ObjectStore, settings: Settings, run_id: str) -> ModelCard:
    """One run's card; ModelError if there is no such run."""
    folder = layout.run_uri(settings.bucket, settings.prefixes, run_id)
    try:
        return ModelCard.from_json(store.get_bytes(folder.child(CARD_FILE)), str(folder))
    except MissingObject as exc:
        raise ModelError(f"no run {run_id!r} under {folder}") from exc


def run_folder(settings: Settings, run_id: str) -> S3Uri:
    """A run's folder (``model/output/<run_id>/``)."""
    return layout.run_uri(settings.bucket, settings.prefixes, run_id)


def promote(store: ObjectStore, settings: Settings, run_id: str, *, by: str, action: str,
            reason: str) -> Promotion:
    """Point ``latest.json`` at the run, then record the move."""
    folder = layout.run_uri(settings.bucket, settings.prefixes, run_id)
    record = Promotion(datetime.now(UTC).isoformat(timespec="milliseconds"), by, action,
                       current_run(store, settings), run_id, reason)
    pointer = json.dumps({"run_id": run_id, "uri": str(folder)}).encode()
    store.put_bytes(_latest(settings), pointer)
    stamp = record.at.replace(":", "").replace("+0000", "Z")
    store.put_bytes(S3Uri(settings.bucket, f"{settings.prefixes.model}{PROMOTIONS}"
                          f"{stamp}-{run_id}.json"), json.dumps(asdict(record)).encode())
    return record


def history(store: ObjectStore, settings: Settings) -> list[Promotion]:
    """Every promotion record, oldest first."""
    root = S3Uri(settings.bucket, settings.prefixes.model + PROMOTIONS)
    return [Promotion.from_json(store.get_bytes(S3Uri(settings.bucket, key)))
            for key in sorted(store.list_keys(root))]


def previous_run(records: list[Promotion], current: str | None) -> str:
    """The run promoted before the current one: promotions push, rollbacks pop."""
    stack: list[str] = []
    for record in records:
        if record.action == "rollback":
            if stack:
                stack.pop()
            continue
        if not stack and record.from_run:
            stack.append(record.from_run)
        if not stack or stack[-1] != record.to_run:
            stack.append(record.to_run)
    if len(stack) < 2 or stack[-1] != current:
        raise ModelError(f"no earlier promoted run to roll back to from {current or 'nothing'}"
                         " (see 'arq-batch models list')")
    return stack[-2]


def _latest(settings: Settings) -> S3Uri:
    return layout.latest_uri(settings.bucket, settings.prefixes)
