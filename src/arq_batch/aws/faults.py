"""The one place that reads botocore errors and decides: retryable or permanent."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from arq_batch.kernel.errors import ArqError, MissingObject, PermanentError, RetryableError

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


@contextlib.contextmanager
def aws_errors() -> Iterator[None]:
    """Around an AWS call: whatever it raises leaves as one of our errors (``classify``)."""
    try:
        yield
    except Exception as exc:
        raise classify(exc) from exc


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


def status_of(exc: BaseException) -> int:
    """The HTTP status of an AWS error response (0 for anything else)."""
    if not isinstance(exc, ClientError):
        return 0
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _classify_client_error(exc: ClientError) -> ArqError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = status_of(exc)
    message = f"{code}: {error.get('Message', '')}".strip()
    if code in _RETRYABLE_CODES or status >= 500:
        return RetryableError(message)
    if code in _MISSING_CODES or status == 404:
        return MissingObject(message)
    return PermanentError(message)
