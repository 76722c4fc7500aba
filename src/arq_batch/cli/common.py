"""What every command group shares: the result shape and how a command is registered."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from arq_batch.kernel.settings import Settings

Result = tuple[dict[str, Any], str]  # (the --json object, the human summary)
Handler = Callable[[argparse.Namespace, Settings], Result]
Commands = Any  # argparse's private _SubParsersAction: what add_subparsers returns


def add_command(commands: Commands, parent: argparse.ArgumentParser, name: str,
                handler: Handler, summary: str, description: str = "") -> argparse.ArgumentParser:
    """A sub-command with ``--json``; ``summary`` shows in the command list, both in its help."""
    sub: argparse.ArgumentParser = commands.add_parser(
        name, parents=[parent], help=summary, description=description or summary,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.set_defaults(handler=handler)
    return sub
