"""How a job attempt (or a message) ends: the one list of outcomes.

``done`` (its output is complete; the message is deleted), ``skipped`` (a redelivery whose
output was already there), ``retry`` (hidden for a growing backoff), ``dead`` (reported
and dead-lettered), ``released`` (shutdown: visible again at once). A split job's plan and
each of its parts settle as ``split`` and ``part``; the job itself is ``done`` when its
output is assembled. They are strings too, as the ledger and the logs write them.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """One settled attempt's outcome."""

    DONE = "done"
    SKIPPED = "skipped"
    RETRY = "retry"
    DEAD = "dead"
    RELEASED = "released"
    SPLIT = "split"
    PART = "part"
