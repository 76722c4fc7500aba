"""The error hierarchy: every failure is either retryable or permanent.

Which AWS faults are which is decided in one place, ``arq_batch.aws.faults``.
"""

from __future__ import annotations

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


class InputChanged(RetryableError):
    """The input was replaced while it was read: the retry starts again from scratch."""

    kind = "input_changed"


class PermanentError(ArqError):
    """Trying again cannot help: report it and dead-letter the message."""

    kind = "permanent"


class PoisonMessage(PermanentError):
    """A message body we cannot turn into a job."""

    kind = "poison_message"


class BucketNotAllowed(PermanentError):
    """A job names a bucket outside the configured allow-list."""

    kind = "bucket_not_allowed"


class OutputNotAllowed(PermanentError):
    """A job's output would land under a prefix the system owns, or onto another input's."""

    kind = "output_not_allowed"


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
