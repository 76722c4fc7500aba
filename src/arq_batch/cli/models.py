"""``arq-batch models``: the runs in the bucket, which one is current, and moving it."""

from __future__ import annotations

import argparse
import getpass
import json
from dataclasses import asdict
from typing import Any

from arq_batch import wiring
from arq_batch.cli.common import Commands, Result, add_command
from arq_batch.kernel.errors import ConfigError
from arq_batch.kernel.settings import Settings

ACTIONS = ("list", "show", "promote", "rollback")


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``models list|show|promote|rollback``."""
    models = add_command(
        commands, common, "models", cmd_models, "list trained runs; show, promote or roll back",
        "list: every run with its test metrics (* marks latest.json's); show RUN: its card\n"
        "and search; promote RUN: point latest.json at it (after checking its hashes);\n"
        "rollback: back to the run promoted before the current one. Every move is\n"
        "recorded under model/output/_promotions/; workers switch within\n"
        "worker.model_refresh_seconds.")
    models.add_argument("action", choices=ACTIONS, help="what to do")
    models.add_argument("run", nargs="?", metavar="RUN", help="a run id (show, promote)")


def cmd_models(args: argparse.Namespace, settings: Settings) -> Result:
    """Dispatch one models action."""
    from arq_batch.models import registry

    store = wiring.object_store(settings)
    if args.action in ("show", "promote") and not args.run:
        raise ConfigError(f"models {args.action} needs a RUN id (see 'arq-batch models list')")
    if args.action == "list":
        return _list(store, settings)
    if args.action == "show":
        card = registry.card(store, settings, args.run)
        return asdict(card), json.dumps(asdict(card), indent=2)
    target = args.run if args.action == "promote" else registry.previous_run(
        registry.history(store, settings), registry.current_run(store, settings))
    return _move(store, settings, target, args.action)


def _list(store: Any, settings: Settings) -> Result:
    from arq_batch.models import registry

    current = registry.current_run(store, settings)
    rows: list[dict[str, Any]] = [{"run_id": c.run_id, "created_at": c.created_at,
             "predictor_type": c.predictor_type, "target": c.target, "metrics": c.metrics,
             "current": c.run_id == current} for c in registry.cards(store, settings)]
    lines = [f"{'*' if r['current'] else ' '} {r['run_id']}  {r['predictor_type']:<21} "
             f"{r['target']:<12} " + ", ".join(f"{k}={v}" for k, v in r["metrics"].items())
             for r in rows]
    return {"current": current, "runs": rows}, "\n".join(lines) or "no trained runs"


def _move(store: Any, settings: Settings, run_id: str, action: str) -> Result:
    from arq_batch.aws.clients import caller
    from arq_batch.models.store import move

    record = move(wiring.model_store(settings, store), store, settings, run_id,
                  by=caller(getpass.getuser()), action=action, reason=f"models {action}")
    return asdict(record), (f"latest.json: {record.from_run or 'nothing'} -> {record.to_run} "
                            f"({action}, by {record.by})")
