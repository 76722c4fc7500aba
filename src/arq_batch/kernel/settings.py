"""One frozen Settings object, built from YAML and the environment in one place: the only
reader of ``os.environ`` for our own configuration; AWS settings (endpoint, region,
credentials) stay with boto3's standard chain."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from arq_batch.kernel.console_settings import ConsoleSettings
from arq_batch.kernel.errors import ConfigError
from arq_batch.kernel.fleet_settings import (
    CompactionSettings,
    CostSettings,
    ProgressSettings,
    WorkerSettings,
)
from arq_batch.kernel.monitoring_settings import MonitoringSettings
from arq_batch.kernel.settings_rules import validate

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "config" / "config.yaml"


@dataclasses.dataclass(frozen=True)
class Prefixes:
    """Where each kind of object lives in the bucket (contract section 4)."""

    raw: str = "data/raw/"
    train: str = "data/train/"
    test: str = "data/test/"
    input: str = "data/input/"
    output: str = "data/output/"
    errors: str = "data/errors/"
    model: str = "model/output/"
    jobs: str = "data/jobs/"
    predictions: str = "data/predictions/"
    transforms: str = "data/transforms/"
    watch: str = "data/watch/"
    splits: str = "data/splits/"
    monitoring: str = "data/monitoring/"
    compacted: str = "data/compacted/"
    progress: str = "data/progress/"
    audit: str = "data/audit/"
    quarantine: str = "data/quarantine/"

    def owned(self) -> dict[str, str]:
        """Every prefix the system owns, by name: all but ``output``, where explicit outputs
        may also go. A job's explicit output under one of these is refused (contract 13)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "output"}

    def written(self) -> dict[str, str]:
        """Every prefix the system writes itself: all but ``input``. An S3 event for a key
        under one of these is our own write coming back, never a job (no self-feeding)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "input"}


@dataclasses.dataclass(frozen=True)
class Encryption:
    """Server-side encryption applied to every object we write."""

    sse: str = "AES256"
    kms_key_id: str = ""


@dataclasses.dataclass(frozen=True)
class QueueSettings:
    """Queue attributes set by provision and the receive/backoff policy."""

    visibility_timeout: int = 60
    max_receive_count: int = 3
    wait_time_seconds: int = 20
    retention_seconds: int = 1_209_600
    backoff_base_seconds: int = 10
    backoff_max_seconds: int = 900


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """``train``: when to stream, what streaming holds in memory, the promotion gate."""

    exact_max_bytes: int = 8 * 1024 * 1024  # larger inputs train by streaming (--solver)
    promote_tolerance: float = 0.005  # relative: a new run may be this much worse and win
    held_rows: int = 200_000  # streaming keeps at most this many sample/validation/test rows


@dataclasses.dataclass(frozen=True)
class ServeSettings:
    """Real-time endpoint settings."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 6 * 1024 * 1024
    body_timeout_seconds: float = 60.0
    max_connections: int = 1000
    keep_alive_seconds: int = 5


@dataclasses.dataclass(frozen=True)
class PredictionsSettings:
    """The Parquet dataset of every scored row that ``query`` and Athena read."""

    enabled: bool = True
    id_columns: tuple[str, ...] = ()  # input columns copied beside each prediction


@dataclasses.dataclass(frozen=True)
class MetricsSettings:
    """Prometheus ``/metrics`` (off while ``port`` is 0) and CloudWatch EMF log lines."""

    port: int = 0
    host: str = "127.0.0.1"
    emf: bool = False
    namespace: str = "arq-batch"


@dataclasses.dataclass(frozen=True)
class S3Settings:
    """Bucket addressing: ``auto`` (boto3's), ``path`` (MinIO and the like) or ``virtual``."""

    addressing_style: str = "auto"


@dataclasses.dataclass(frozen=True)
class LogSettings:
    """``format`` is ``auto`` (JSON unless stderr is a terminal), ``json`` or ``text``."""

    format: str = "auto"
    level: str = "INFO"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything arq-batch is configured with; passed explicitly, never global."""

    bucket: str = "arq-batch-s3"
    queue: str = "arq-batch-sqs"
    dlq: str = ""
    allowed_buckets: tuple[str, ...] = ()
    prefixes: Prefixes = Prefixes()
    encryption: Encryption = Encryption()
    queue_settings: QueueSettings = QueueSettings()
    worker: WorkerSettings = dataclasses.field(default_factory=WorkerSettings)
    serve: ServeSettings = ServeSettings()
    predictions: PredictionsSettings = PredictionsSettings()
    metrics: MetricsSettings = MetricsSettings()
    log: LogSettings = LogSettings()
    s3: S3Settings = S3Settings()
    training: TrainingSettings = TrainingSettings()
    monitoring: MonitoringSettings = dataclasses.field(default_factory=MonitoringSettings)
    compaction: CompactionSettings = dataclasses.field(default_factory=CompactionSettings)
    progress: ProgressSettings = dataclasses.field(default_factory=ProgressSettings)
    cost: CostSettings = dataclasses.field(default_factory=CostSettings)
    console: ConsoleSettings = dataclasses.field(default_factory=ConsoleSettings)

    @property
    def dlq_name(self) -> str:
        """The dead-letter queue: configured, or ``<queue>-dlq``."""
        return self.dlq or f"{self.queue}-dlq"

    @property
    def buckets(self) -> frozenset[str]:
        """Buckets a job may read from and write to."""
        return frozenset((self.bucket, *self.allowed_buckets))

    def replace(self, **changes: Any) -> Settings:
        """A copy with some top-level fields changed (used for CLI flags)."""
        return dataclasses.replace(self, **changes)


CONSOLE_TOKEN = "ARQ_BATCH_CONSOLE_TOKEN"  # a secret: from the environment only, never YAML


def console_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The token that lets the console change things (None: the console only reads)."""
    token = (os.environ if environ is None else environ).get(CONSOLE_TOKEN, "").strip()
    return token or None


ENV_OVERRIDES = {"ARQ_BATCH_BUCKET": "bucket", "ARQ_BATCH_QUEUE": "queue", "ARQ_BATCH_DLQ": "dlq"}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the config file named by ARQ_BATCH_CONFIG (or the default) + env."""
    env = os.environ if environ is None else environ
    path = Path(env.get("ARQ_BATCH_CONFIG") or DEFAULT_CONFIG)
    raw = _read_yaml(path) if path.exists() or "ARQ_BATCH_CONFIG" in env else {}
    overrides = {field: env[var] for var, field in ENV_OVERRIDES.items() if var in env}
    settings: Settings = _build(Settings, {**raw, **overrides}, where=str(path))
    validate(settings)
    return settings


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping of keys to values")
    return data


def _build(cls: type[Any], data: Mapping[str, Any], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown config key {unknown[0]!r}")
    values = {key: _coerce(hints[key], value, f"{where}: {key}") for key, value in data.items()}
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value or {}, where)
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings")
        return tuple(value)
    if origin in (typing.Union, types.UnionType):
        hint = next(h for h in typing.get_args(hint) if h is not type(None))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {hint.__name__}, got {type(value).__name__} {value!r}")
    return value
