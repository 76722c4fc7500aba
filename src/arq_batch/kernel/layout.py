"""Where things go in the bucket: output, error-report and model keys (contract 4, 8, 10)."""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import quote

from arq_batch.kernel.errors import OutputNotAllowed
from arq_batch.kernel.settings import Prefixes
from arq_batch.kernel.uris import S3Uri

LATEST = "latest.json"
MODEL_FILE = "model.joblib"  # the fitted pipeline, in every run folder
CARD_FILE = "model.json"  # its card, with the sha256 the artifacts must match
SCORER_FILE = "scorer.json"  # the compiled arrays workers score with (no pickle)
TEST_ROWS_FILE = "test_rows.parquet"  # the run's raw test rows: later runs' gate holds them
# User metadata on every output: a redelivered job with the same model, input version and
# options skips; an output whose input is another is never overwritten (contract 13).
RUN_ID_META = "model-run-id"
ETAG_META = "input-etag"
INPUT_META = "input-uri"
OPTIONS_META = "job-options"


def relative_input_key(key: str, prefixes: Prefixes) -> str:
    """The input key below ``data/input/``, or the whole key for inputs outside it."""
    return key[len(prefixes.input):] if key.startswith(prefixes.input) else key


def output_uri(input_uri: S3Uri, prefixes: Prefixes, explicit: S3Uri | None = None) -> S3Uri:
    """A job's output: explicit, else the input's path moved under ``data/output/``."""
    if explicit is not None:
        return explicit
    return S3Uri(input_uri.bucket, prefixes.output + relative_input_key(input_uri.key, prefixes))


def check_output(output: S3Uri, prefixes: Prefixes, job_input: S3Uri | None = None,
                 explicit: bool = True) -> None:
    """OutputNotAllowed for an output under a prefix the system owns (the model registry,
    the ledger, ...), onto the job's own input, or, when a request named it, with ``.`` or
    ``..`` segments (a store backed by a file system may resolve them to another key; a
    default output mirrors its input's key, segments and all, under ``data/output/``)."""
    segments = output.key.split("/")
    if explicit and ("." in segments or ".." in segments):
        raise OutputNotAllowed(f"output {output} has a '.' or '..' path segment")
    for name, prefix in prefixes.owned().items():
        if output.key.startswith(prefix):
            raise OutputNotAllowed(f"output {output} is under {prefix}, which arq-batch owns "
                                   f"({name}); choose a key outside it, e.g. under "
                                   f"{prefixes.output}")
    if output == job_input:
        raise OutputNotAllowed(f"output {output} would overwrite its own input")


def is_own_write(key: str, prefixes: Prefixes) -> bool:
    """Whether ``key`` lies under a prefix the system writes itself (all but the input's)."""
    return any(key.startswith(prefix) for prefix in prefixes.written().values())


def output_metadata(run_id: str, input_uri: S3Uri, etag: str, options: str) -> dict[str, str]:
    """The metadata every output carries: which model, input version and request made it.

    The input's URI is percent-encoded (S3 metadata is ASCII); a very long one is replaced
    by its hash so the 2 KB metadata limit always holds."""
    tag = quote(str(input_uri), safe="/:")
    if len(tag) > 1024:
        tag = "sha256:" + hashlib.sha256(str(input_uri).encode()).hexdigest()
    return {RUN_ID_META: run_id, ETAG_META: etag, INPUT_META: tag, OPTIONS_META: options}


def options_digest(effective: dict[str, object]) -> str:
    """A short hash of a job's effective options: equal options give equal output bytes."""
    text = json.dumps(effective, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def quarantine_uris(bucket: str, prefixes: Prefixes, input_uri: S3Uri) -> tuple[S3Uri, S3Uri]:
    """``data/quarantine/<relative input path>`` and its ``.errors.jsonl`` (contract 13)."""
    rows = S3Uri(bucket, prefixes.quarantine + relative_input_key(input_uri.key, prefixes))
    return rows, S3Uri(bucket, rows.key + ".errors.jsonl")


def error_report_uri(bucket: str, prefixes: Prefixes, input_uri: S3Uri | None,
                     message_id: str) -> S3Uri:
    """``data/errors/<relative input path>.json``, or ``data/errors/messages/<id>.json``."""
    if input_uri is None:
        return S3Uri(bucket, f"{prefixes.errors}messages/{message_id}.json")
    return S3Uri(bucket, f"{prefixes.errors}{relative_input_key(input_uri.key, prefixes)}.json")


def latest_uri(bucket: str, prefixes: Prefixes) -> S3Uri:
    """The pointer to the newest model run."""
    return S3Uri(bucket, prefixes.model + LATEST)


def run_uri(bucket: str, prefixes: Prefixes, run_id: str) -> S3Uri:
    """The folder of one training run's artifact."""
    return S3Uri(bucket, f"{prefixes.model}{run_id}/")


def safe_name(text: str) -> str:
    """``text`` as one path segment: job ids come from messages, so never trust them in a key.

    Characters outside ``[A-Za-z0-9._-]`` become ``_``; a name that had to change (or is
    very long) gets a short hash of the original, so two ids never share a key.
    """
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", text)[:100].lstrip(".") or "_"
    if cleaned == text:
        return text
    return f"{cleaned}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def ledger_uri(bucket: str, prefixes: Prefixes, dt: str, job_id: str, attempt: int) -> S3Uri:
    """``data/jobs/dt=<date>/<job_id>-<attempt>.json``: one object per settled attempt."""
    return S3Uri(bucket, f"{prefixes.jobs}dt={dt}/{safe_name(job_id)}-{attempt}.json")


def predictions_uri(bucket: str, prefixes: Prefixes, run_id: str, dt: str,
                    job_id: str) -> S3Uri:
    """``data/predictions/run_id=<run>/dt=<date>/<job_id>.parquet``."""
    return S3Uri(bucket, f"{prefixes.predictions}run_id={safe_name(run_id)}/dt={dt}/"
                         f"{safe_name(job_id)}.parquet")


def progress_uri(bucket: str, prefixes: Prefixes, job_id: str) -> S3Uri:
    """``data/progress/<job_id>.json``: a running job's live progress."""
    return S3Uri(bucket, f"{prefixes.progress}{safe_name(job_id)}.json")


def monitoring_uri(bucket: str, prefixes: Prefixes, dt: str, job_id: str) -> S3Uri:
    """``data/monitoring/dt=<date>/<job_id>/``: a job's statistics and violations."""
    return S3Uri(bucket, f"{prefixes.monitoring}dt={dt}/{safe_name(job_id)}/")
