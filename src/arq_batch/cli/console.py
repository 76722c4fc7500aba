"""``arq-batch console``: serve the operators' pages (docs/console.md)."""

from __future__ import annotations

import argparse
import ipaddress

from arq_batch.cli.common import Commands, Result, add_command
from arq_batch.kernel.errors import ConfigError
from arq_batch.kernel.settings import CONSOLE_TOKEN, Settings, console_token


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``console``."""
    console = add_command(
        commands, common, "console", cmd_console, "web pages for operators (jobs, models, DLQ)",
        "Overview, jobs with live progress, one job, models (promote, rollback), monitoring,\n"
        "the DLQ (redrive) and read-only SQL, at http://HOST:PORT/. Changes need the token\n"
        f"in {CONSOLE_TOKEN} (Authorization: Bearer, or the page's sign-in); without it the\n"
        "console only reads, and it refuses to listen beyond loopback. Runs until SIGTERM.")
    console.add_argument("--host", help="address to listen on (default: console.host, "
                                        "127.0.0.1)")
    console.add_argument("--port", type=_port, help="port to listen on (default: console.port, "
                                                    "8090)")


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port (1-65535): {text!r}")
    return int(text)


def cmd_console(args: argparse.Namespace, settings: Settings) -> Result:
    """Check where to listen, then serve until stopped."""
    from arq_batch.console.app import from_settings, serve

    host = args.host or settings.console.host
    port = args.port or settings.console.port
    token = console_token()
    if token is None and not loopback(host):
        raise ConfigError(f"--host {host} is reachable from other machines: set "
                          f"{CONSOLE_TOKEN} first, or listen on 127.0.0.1")
    serve(from_settings(settings, token), host, port)
    return {"stopped": True}, "console stopped"


def loopback(host: str) -> bool:
    """Whether only this machine can reach ``host``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything
