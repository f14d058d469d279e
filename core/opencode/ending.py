"""How an OpenCode turn ends: the first error or abort it saw decides its terminal event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core import raw
from core.events import AgentEvent, TurnCancelled, TurnCompleted, TurnFailed
from core.opencode.parts import Ids, error_text

ABORTED = "MessageAbortedError"


@dataclass(frozen=True)
class Outcome:
    cancelled: bool
    text: str


def outcome_of(error: Any) -> Outcome:
    """An error OpenCode reported (``session.error`` or a message's ``error``)."""
    if isinstance(error, Mapping) and raw.text(error, "name") == ABORTED:
        return Outcome(cancelled=True, text="aborted")
    return Outcome(cancelled=False, text=error_text(error))


def terminal_event(outcome: Outcome | None, abort_requested: bool, finish: str | None, ids: Ids) -> AgentEvent:
    """Cancelled after an abort, failed after another error, else completed (``max_tokens`` when the last
    assistant message was cut at the length limit)."""
    if outcome is not None and outcome.cancelled:
        return TurnCancelled(session_id=ids.session_id, turn_id=ids.turn_id, reason="aborted by request")
    if outcome is not None:
        return TurnFailed(session_id=ids.session_id, turn_id=ids.turn_id, error=outcome.text)
    if abort_requested:
        return TurnCancelled(session_id=ids.session_id, turn_id=ids.turn_id, reason="aborted by request")
    stop = "max_tokens" if finish == "length" else "end_turn"
    return TurnCompleted(session_id=ids.session_id, turn_id=ids.turn_id, stop_reason=stop)
