"""The one owner of the turns running on this node: every path that asks "is it running here, cancel it, deliver
this permission answer, which chats do I hold" asks this registry.

A turn enters when the dispatcher claims it and leaves when its job is over, so it is known through every phase:
claimed but not started (a cancel then ends it without running), running with or without an agent session open
(a cancel interrupts the agent, or is noticed by the runner before it prompts), and finishing (its terminal status
being stored: a cancel waits for that outcome instead of calling it "elsewhere"). Cancels and answers relayed from
another node's API reach the same methods.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from enum import StrEnum

from core.model import Task
from core.ports.agents import SessionHandle

log = logging.getLogger(__name__)

FINISHING_WAIT_S = 10.0  # a finishing turn only has its terminal status left to store


class CancelOutcome(StrEnum):
    DEQUEUED = "dequeued"  # it never started
    INTERRUPTING = "interrupting"  # the agent was asked to stop; the turn ends as cancelled shortly
    NOT_RUNNING_HERE = "not_running_here"  # running on another node, or already over


@dataclass
class RunningTurn:
    task: Task
    job: asyncio.Task[None] | None = None
    started: bool = False  # its runner has begun; before that a cancel simply ends it
    cancel_requested: bool = False
    finishing: bool = False  # the agent is done with it; its terminal status is being stored
    handle: SessionHandle | None = None  # the agent session running it, while one is open
    answered: set[str] = field(default_factory=set)  # questions answered here (before the agent journals it)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class TurnRegistry:
    def __init__(self) -> None:
        self._turns: dict[str, RunningTurn] = {}

    # --- the dispatcher and the runner move a turn through its phases ------------------------------
    def claim(self, task: Task) -> RunningTurn:
        turn = RunningTurn(task)
        self._turns[task.id] = turn
        return turn

    def start(self, turn_id: str) -> bool:
        """The runner begins; False when the turn was cancelled before it started (it must not run)."""
        turn = self._turns[turn_id]
        turn.started = True
        return not turn.cancel_requested

    def attach(self, turn_id: str, handle: SessionHandle) -> None:
        self._turns[turn_id].handle = handle

    def finishing(self, turn_id: str) -> None:
        turn = self._turns[turn_id]
        turn.handle = None
        turn.finishing = True

    def release(self, turn_id: str) -> None:
        turn = self._turns.pop(turn_id, None)
        if turn is not None:
            turn.done.set()

    # --- what everyone else asks -----------------------------------------------------------------------
    def get(self, turn_id: str) -> RunningTurn | None:
        return self._turns.get(turn_id)

    def cancel_requested(self, turn_id: str) -> bool:
        turn = self._turns.get(turn_id)
        return turn is not None and turn.cancel_requested

    def count(self) -> int:
        return len(self._turns)

    def jobs(self) -> list[asyncio.Task[None]]:
        return [turn.job for turn in self._turns.values() if turn.job is not None]

    def chats(self) -> list[str]:
        """The chats with a turn here (claimed, running or finishing)."""
        return sorted({turn.task.chat_id for turn in self._turns.values() if turn.task.chat_id is not None})

    def turns_of(self, chat_id: str) -> list[str]:
        return [turn_id for turn_id, turn in self._turns.items() if turn.task.chat_id == chat_id]

    async def cancel(self, turn_id: str) -> CancelOutcome:
        """Interrupt a turn of this node (abort / session/cancel; never a kill)."""
        turn = self._turns.get(turn_id)
        if turn is None:
            return CancelOutcome.NOT_RUNNING_HERE
        if turn.finishing:  # report the outcome being stored, not a conflict
            await _wait(turn.done, FINISHING_WAIT_S)
            return CancelOutcome.NOT_RUNNING_HERE
        turn.cancel_requested = True  # a runner that has not prompted yet ends the turn cancelled
        if turn.handle is not None:
            await turn.handle.cancel()
        return CancelOutcome.INTERRUPTING

    async def answer_permission(self, turn_id: str, request_id: str, option_id: str | None) -> bool:
        """False when the turn does not run here or no such question waits."""
        turn = self._turns.get(turn_id)
        if turn is None or turn.handle is None or not await turn.handle.answer_permission(request_id, option_id):
            return False
        turn.answered.add(request_id)
        return True

    def answered(self, turn_id: str, request_id: str) -> bool:
        """The question was answered on this node (its ``permission_resolved`` event may not be journaled yet)."""
        turn = self._turns.get(turn_id)
        return turn is not None and request_id in turn.answered


async def _wait(event: asyncio.Event, timeout_s: float) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        log.warning("a finishing turn took over %.0f s to store its outcome", timeout_s)
