"""Settings of ``arq-batch console``; ``Settings`` holds one, defaults in config/config.yaml.

The token that allows changes is a secret and comes from the environment alone
(``settings.console_token``), never from here.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ConsoleSettings:
    """Where the console listens and the limits of what one request may cost."""

    host: str = "127.0.0.1"
    port: int = 8090
    refresh_seconds: float = 2.0  # how old the records a page shows may be
    page_size: int = 50
    query_timeout_seconds: float = 10.0
    query_max_rows: int = 1000
    session_hours: float = 12.0
