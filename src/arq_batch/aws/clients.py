"""boto3 clients built from the standard credential chain, with retry modes on."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

DEFAULT_REGION = "us-east-1"


def client(service: str, pool_size: int = 32) -> Any:
    """A client honouring AWS_ENDPOINT_URL, profiles and roles; us-east-1 if no region is set.

    Retries use botocore's ``standard`` mode (exponential backoff with jitter on throttling,
    5xx and connection errors) so our own code only sees faults that outlasted it.
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
    return session.client(service, config=config)
