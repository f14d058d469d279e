"""Whether a node takes one more turn now: the single place a queued turn is admitted (pure).

A turn mostly waits on its LLM, so a small fixed count of parallel turns leaves the machine idle while chats queue
behind each other. What a running turn really holds is one agent handle (a session of a warm process, an OpenCode
session, or a one-shot process), so the bound is on busy handles, set high enough that only a runaway (thousands of
sockets or processes) meets it. A memory budget is the other real limit; it joins here as one more field.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Refusal(StrEnum):
    HANDLES = "every agent handle this node may hold busy is busy"
    STOPPING = "the node is shutting down"


@dataclass(frozen=True)
class AdmissionView:
    busy_handles: int  # turns running here: each holds exactly one agent handle
    max_busy_handles: int
    stopping: bool = False


def refusal(view: AdmissionView) -> Refusal | None:
    """None: admit one more turn; else why not (the dispatcher looks again when a turn ends)."""
    if view.stopping:
        return Refusal.STOPPING
    if view.busy_handles >= view.max_busy_handles:
        return Refusal.HANDLES
    return None
