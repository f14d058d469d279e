"""Whether an interrupted turn is followed by a continuation turn, and what that turn asks.

A chat with ``on_interrupt = "continue"`` opts in. A turn cut short by its agent crashing or by hearth restarting
is followed by a linked turn (``Task.continues``) on the same agent, which resumes the same session and is asked
to carry on. Never for a turn the user cancelled (it did not fail), never for any other failure (the agent or its
LLM answered with an error: repeating it would only repeat that), and at most ``MAX_ATTEMPTS`` continuations in
a row, so an agent that crashes on every attempt stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from core.model import OnInterrupt, Task, TaskStatus

MAX_ATTEMPTS = 3


class Interruption(StrEnum):
    AGENT_CRASH = "its agent process crashed"
    RESTART = "hearth restarted"


def attempts_before(task: Task, tasks: Mapping[str, Task]) -> int:
    """How many continuations lead up to ``task`` (0 for a turn the user asked for)."""
    count, current, seen = 0, task, {task.id}
    while current.continues is not None and current.continues not in seen:
        count += 1
        seen.add(current.continues)
        parent = tasks.get(current.continues)
        if parent is None:
            break
        current = parent
    return count


def continuation_prompt(cause: Interruption, attempt: int) -> str:
    return (
        f"Your previous turn was interrupted before it finished ({cause.value}; continuation {attempt} of "
        f"{MAX_ATTEMPTS}). Check what you already did, then continue the task where you left off."
    )


def continuation_of(
    task: Task, on_interrupt: OnInterrupt, cause: Interruption | None, tasks: Mapping[str, Task]
) -> str | None:
    """The prompt of the turn that continues ``task``, or None when none is due. ``tasks`` holds the chain of
    turns ``task`` continues (by id), to count the attempts so far."""
    if on_interrupt is not OnInterrupt.CONTINUE or cause is None or task.status is not TaskStatus.FAILED:
        return None
    attempt = attempts_before(task, tasks) + 1
    return continuation_prompt(cause, attempt) if attempt <= MAX_ATTEMPTS else None
