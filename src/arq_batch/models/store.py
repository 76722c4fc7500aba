"""The model store: finds models in the bucket (latest.json, the model-prefix rule) and
caches each verified model by URI and ETag."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from arq_batch.engine.messages import model_folder
from arq_batch.kernel import layout
from arq_batch.kernel.errors import MissingObject, ModelError
from arq_batch.kernel.layout import CARD_FILE, MODEL_FILE, SCORER_FILE
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri, is_s3
from arq_batch.models import registry
from arq_batch.models.artifacts import Model, ModelCard, load_model


class ModelStore:
    """Loads each model once; re-checks ``latest.json`` and ETags at most every few seconds."""

    def __init__(self, store: ObjectStore, settings: Settings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store, self._settings, self._clock = store, settings, clock
        self._ttl = settings.worker.model_refresh_seconds
        self._lock = threading.Lock()
        self._latest: tuple[float, S3Uri] | None = None
        self._etags: dict[S3Uri, tuple[float, str]] = {}
        self._models: dict[tuple[S3Uri, str], Model] = {}

    def get(self, ref: S3Uri | None = None) -> Model:
        """The model at ``ref`` (a run folder), or the latest trained one."""
        with self._lock:
            uri = self._check_prefix(ref) if ref else self._resolve_latest()
            key = (uri, self._etag(uri))
            if key not in self._models:
                self._models = {key: self._load(uri)} | {
                    k: m for k, m in self._models.items() if k[0] != uri}
            return self._models[key]

    def latest_uri(self) -> S3Uri:
        """Where ``latest.json`` points now."""
        with self._lock:
            return self._resolve_latest()

    def latest_run_id(self) -> str | None:
        """The run ``latest.json`` points to, or None before the first training."""
        try:
            return self.latest_uri().name
        except ModelError:
            return None

    def _resolve_latest(self) -> S3Uri:
        now = self._clock()
        if self._latest and now - self._latest[0] < self._ttl:
            return self._latest[1]
        found = registry.latest(self._store, self._settings)
        if found is None:
            pointer = layout.latest_uri(self._settings.bucket, self._settings.prefixes)
            raise ModelError(f"no trained model: {pointer} is missing (run 'arq-batch train')")
        self._latest = (now, self._check_prefix(found[1]))
        return self._latest[1]

    def _etag(self, uri: S3Uri) -> str:
        now = self._clock()
        cached = self._etags.get(uri)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        try:
            etag = self._store.head(uri.child(CARD_FILE)).etag  # the card names both files
        except MissingObject as exc:
            raise ModelError(f"model not found: {uri.child(CARD_FILE)}") from exc
        self._etags[uri] = (now, etag)
        return etag

    def _load(self, uri: S3Uri) -> Model:
        try:
            card, scorer, artifact = (self._store.get_bytes(uri.child(name))
                                      for name in (CARD_FILE, SCORER_FILE, MODEL_FILE))
            names = ModelCard.from_json(card, str(uri)).baseline
            baseline = {name: self._store.get_bytes(uri.child(name)) for name in names}
        except MissingObject as exc:
            raise ModelError(f"model not found at {uri}: {exc}") from exc
        return load_model(card, scorer, artifact, str(uri).rstrip("/"), baseline)

    def _check_prefix(self, uri: S3Uri) -> S3Uri:
        return check_model_uri(uri, self._settings)


def check_model_uri(uri: S3Uri, settings: Settings) -> S3Uri:
    """Refuse models outside our buckets' model prefix: unpickling runs code."""
    key = uri.key if uri.key.endswith("/") else uri.key + "/"
    inside = key.startswith(settings.prefixes.model) and ".." not in key.split("/")
    if uri.bucket not in settings.buckets or not inside:
        raise ModelError(f"model {uri} is outside the configured model prefix "
                         f"s3://{settings.bucket}/{settings.prefixes.model}")
    return S3Uri(uri.bucket, key)


def load_local(folder: str | Path) -> Model:
    """A model from a local run folder (an explicit CLI choice), checked the same way."""
    path = Path(folder)
    try:
        card, scorer, artifact = ((path / name).read_bytes()
                                  for name in (CARD_FILE, SCORER_FILE, MODEL_FILE))
        names = ModelCard.from_json(card, str(path)).baseline
        baseline = {name: (path / name).read_bytes() for name in names}
    except OSError as exc:
        raise ModelError(f"model not found in {path}: {exc.strerror}") from exc
    return load_model(card, scorer, artifact, str(path), baseline)


def open_model(registry: ModelStore, ref: str | None) -> Model:
    """Resolve a ``--model`` flag: local folder, s3:// run folder, or latest."""
    if ref and not is_s3(ref):
        return load_local(ref)
    return registry.get(model_folder(S3Uri.parse(ref)) if ref else None)


def move(models: ModelStore, store: ObjectStore, settings: Settings, run_id: str, *,
         by: str, action: str, reason: str) -> registry.Promotion:
    """Promote or roll back to ``run_id`` (``models`` and the console): its artifacts are
    checked against their hashes first, so no worker is ever pointed at a run it would
    refuse."""
    models.get(registry.run_folder(settings, run_id))
    return registry.promote(store, settings, run_id, by=by, action=action, reason=reason)
