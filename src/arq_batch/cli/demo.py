"""``arq-batch demo``: the whole pipeline on an embedded emulator (steps in demo_steps)."""

from __future__ import annotations

import argparse

from arq_batch.cli.common import Commands, Result, add_command
from arq_batch.kernel.settings import Settings


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``demo``."""
    add_command(commands, common, "demo", cmd_demo,
                "the whole pipeline end to end on an embedded AWS emulator",
                "Start a moto server on a free 127.0.0.1 port, provision, train on the bundled\n"
                "penguins data, drop inputs under data/input/, work the queue dry, print the\n"
                "results, call the endpoint with one sample, query what happened, then shut\n"
                "everything down. Needs the train, local and query extras; no AWS account.")


def cmd_demo(args: argparse.Namespace, settings: Settings) -> Result:
    """The end-to-end demo on an embedded emulator."""
    from arq_batch.cli.demo_steps import run_demo  # training and moto: the demo's alone

    return run_demo(settings, verbose=not args.json)
