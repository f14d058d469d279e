"""Admission: before the pool opens a new agent session, the memory budget must have room for it.

The one entry point is ``Admission.admit(chat_id, agent)``, which the pool calls before ``open_session``. Room is
the last sample's total plus what a session of that agent is expected to add (``core.lifecycle.budget.admits``).
Without room it asks the budget to evict idle handles, and waits (bounded, listed as waiting in
``/api/agents/memory`` and ``/metrics``) for running turns to finish and become evictable; then it fails the
turn with what is charged, what it waited for and what to do.
"""

from __future__ import annotations

import asyncio
import logging

from returns.result import Failure, Result, Success

from app.memory.budget import MemoryBudget
from app.turns.journal import TurnJournal
from core.errors import AgentUnavailable, DomainError
from core.lifecycle.budget import admission_wait, admits, charge_of
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.store import Journal

log = logging.getLogger(__name__)

MIB = 1024 * 1024
DEFAULT_SESSION_BYTES = 256 * MIB  # an agent never seen yet: about one qwen process or one claude session
POLL_S = 1.0


class Admission:
    def __init__(
        self,
        *,
        budget: MemoryBudget,
        clock: Clock,
        wait_s: float,
        journal: Journal | None = None,  # where a waiting turn says what it waits for (with ``bus``)
        bus: EventBus | None = None,
    ) -> None:
        self._budget = budget
        self._journal = journal
        self._bus = bus
        self._clock = clock
        self.wait_s = wait_s
        self._lock = asyncio.Lock()  # one admission decides at a time, each seeing the room the others took

    def expected_bytes(self, agent: str) -> int:
        """What one more session of ``agent`` is expected to hold: the largest charge of one seen now."""
        sampled = self._budget.state.attribution
        if sampled is None:
            return DEFAULT_SESSION_BYTES
        charges = [charge_of(h, sampled.handles, sampled.processes) for h in sampled.handles if h.agent == agent]
        return int(max(charges)) if charges else DEFAULT_SESSION_BYTES

    def _held(self) -> int:
        return self._budget.total_bytes() + self._budget.reserved_bytes()

    def _room(self, agent: str) -> bool:
        return admits(self._held(), self.expected_bytes(agent), self._budget.policy)

    def _admitted(self, chat_id: str, agent: str) -> Result[None, DomainError]:
        """Room is held for it until a sample sees its session (so concurrent admissions do not all fit the
        same room)."""
        self._budget.state.reserved[(chat_id, agent)] = (self.expected_bytes(agent), self._clock.now())
        return Success(None)

    async def admit(self, chat_id: str, agent: str, turn_id: str | None = None) -> Result[None, DomainError]:
        if not self._budget.policy.budget_bytes:
            return Success(None)
        async with self._lock:
            await self._budget.sample()
            if self._room(agent):
                return self._admitted(chat_id, agent)
            wait = admission_wait(
                self._held(), self.expected_bytes(agent), self._budget.policy, turn_id=turn_id or "", agent=agent
            )
        if turn_id is not None and self._journal is not None and self._bus is not None:
            await TurnJournal(self._journal, self._bus, turn_id, chat_id).write([wait])  # the turn says why it waits
        return await self._wait(chat_id, agent)

    async def _wait(self, chat_id: str, agent: str) -> Result[None, DomainError]:
        key = (chat_id, agent)
        self._budget.state.waiting[key] = self._clock.now()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_s
        try:
            while True:
                async with self._lock:
                    reserve = self.expected_bytes(agent) + self._budget.reserved_bytes()
                    await self._budget.enforce(reserve_bytes=reserve)
                    if self._room(agent):
                        return self._admitted(chat_id, agent)
                if loop.time() >= deadline:
                    return Failure(self._refusal(agent))
                await asyncio.sleep(min(POLL_S, max(0.0, deadline - loop.time())))
        finally:
            self._budget.state.waiting.pop(key, None)

    def _refusal(self, agent: str) -> DomainError:
        mib = MIB
        total, budget = self._budget.total_bytes() // mib, self._budget.policy.budget_bytes // mib
        detail = (
            f"the memory budget has no room for another {agent} session: agents hold {total} MiB of "
            f"{budget} MiB and nothing idle could be let go of within {self.wait_s:.0f} s (busy turns and "
            "background work are never stopped); retry when a turn finishes, or raise HEARTH_MEMORY_BUDGET_MIB"
        )
        log.warning("admission refused: %s", detail)
        return AgentUnavailable(detail=detail, field="agent")
