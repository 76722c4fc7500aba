"""The error hierarchy and the one place that decides retryable vs. permanent."""

from __future__ import annotations

import socket

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class ArqError(Exception):
    """Base of every error arq-batch raises on purpose."""

    kind = "error"


class ConfigError(ArqError):
    """Bad configuration or usage: the CLI exits with code 2."""

    kind = "config"


class RetryableError(ArqError):
    """A passing fault (throttling, 5xx, timeouts): try the message again later."""

    kind = "retryable"


class PermanentError(ArqError):
    """Trying again cannot help: report it and dead-letter the message."""

    kind = "permanent"


class PoisonMessage(PermanentError):
    """A message body we cannot turn into a job."""

    kind = "poison_message"


class BucketNotAllowed(PermanentError):
    """A job names a bucket outside the configured allow-list."""

    kind = "bucket_not_allowed"


class MissingObject(PermanentError):
    """The input object (or model) does not exist."""

    kind = "missing_object"


class DataError(PermanentError):
    """The input's content cannot be scored: columns, values, compression, emptiness."""

    kind = "data_error"


class ModelError(PermanentError):
    """The model is missing, outside the model prefix, or fails its sha256 check."""

    kind = "model_error"


class Cancelled(ArqError):
    """A job stopped because the worker is shutting down; its message is released."""

    kind = "cancelled"


_RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "KMS.ThrottlingException",
    }
)
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchBucket"})


def classify(exc: BaseException) -> ArqError:
    """Turn any exception from our adapters into an ArqError subclass, once."""
    if isinstance(exc, ArqError):
        return exc
    if isinstance(exc, ClientError):
        return _classify_client_error(exc)
    transient = (BotoConnectionError, ReadTimeoutError, ConnectionError, socket.timeout)
    if isinstance(exc, transient):
        return RetryableError(f"connection problem: {exc}")
    if isinstance(exc, BotoCoreError):
        return RetryableError(f"AWS client error: {exc}")
    return RetryableError(f"unexpected {type(exc).__name__}: {exc}")


def _classify_client_error(exc: ClientError) -> ArqError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    message = f"{code}: {error.get('Message', '')}".strip()
    if code in _RETRYABLE_CODES or status >= 500:
        return RetryableError(message)
    if code in _MISSING_CODES or status == 404:
        return MissingObject(message)
    return PermanentError(message)
