"""boto3 clients built from the standard credential chain, with retry modes on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

DEFAULT_REGION = "us-east-1"


def client(service: str, pool_size: int = 32, addressing_style: str = "auto") -> Any:
    """A client honouring AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_S3 / _SQS, boto3's own
    per-service variables), profiles and roles; us-east-1 if no region is set.
    ``addressing_style`` (S3 only): ``auto`` leaves boto3's choice and its config file's.

    Retries use botocore's ``standard`` mode (exponential backoff with jitter on throttling,
    5xx and connection errors; ``max_attempts`` 5 retries, so 6 attempts in all) so our own
    code only sees faults that outlasted it. Not ``adaptive``: its client-side rate limiter
    is per process, and a fleet of workers is better served by SQS's own pacing.
    """
    session = boto3.session.Session()
    config = Config(
        region_name=session.region_name or DEFAULT_REGION,
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=pool_size,
        connect_timeout=10,
        read_timeout=70,  # above SQS's 20 s long poll, with margin
        tcp_keepalive=True,
    )
    if service == "s3" and addressing_style != "auto":
        config = config.merge(Config(s3={"addressing_style": addressing_style}))
    return session.client(service, config=config)


@dataclass(frozen=True)
class S3Connection:
    """How another S3 client (DuckDB's httpfs) reaches the same store as boto3 does."""

    region: str
    endpoint: str  # host[:port]; empty for AWS itself
    use_ssl: bool
    url_style: str = "path"  # DuckDB's: "path" or "vhost"
    key_id: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    session_token: str = field(default="", repr=False)


def s3_connection(addressing_style: str = "auto") -> S3Connection:
    """Credentials, region and endpoint exactly as boto3's standard chain resolves them.

    The endpoint honours ``AWS_ENDPOINT_URL_S3`` and ``AWS_ENDPOINT_URL`` because it is the
    S3 client's own; AWS's endpoints are left to the other client's defaults.
    """
    session = boto3.session.Session()
    endpoint = urlsplit(client("s3", addressing_style=addressing_style).meta.endpoint_url)
    credentials = session.get_credentials()
    frozen = credentials.get_frozen_credentials() if credentials else None
    custom = not (endpoint.hostname or "").endswith("amazonaws.com")
    return S3Connection(
        region=session.region_name or DEFAULT_REGION,
        endpoint=endpoint.netloc if custom else "",
        use_ssl=endpoint.scheme == "https",
        url_style="vhost" if addressing_style == "virtual" else "path",
        key_id=frozen.access_key if frozen else "",
        secret=frozen.secret_key if frozen else "",
        session_token=(frozen.token or "") if frozen else "")


def caller(fallback: str) -> str:
    """Who is calling, for promotion records: the STS identity's ARN, else ``fallback``.

    Any failure (no STS endpoint on an S3-compatible store, no permission) falls back:
    a record without an ARN is better than a promotion refused for want of one.
    """
    try:
        arn: str = client("sts").get_caller_identity()["Arn"]
    except Exception:
        return fallback
    return arn
