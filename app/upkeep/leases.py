"""Chat leases: a chat's live agents belong to one node at a time.

A node leases a chat when it claims one of its turns, and keeps the lease while it runs a turn there or holds a
live agent handle for it: so the chat's next turns come back to the node whose agents are warm. An evicted chat's
lease simply runs out and any node may take the chat. A node that stops renewing (it died, or lost the database)
loses its chats: the first node to notice fails the turn it left running, naming it, and takes the chat over; the
old node, if it comes back, learns at its next renewal that the chat is gone and lets go of its agents there.
A chat closed or deleted through another node's API is let go of the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from app.pool import AgentPool
from app.turns.registry import TurnRegistry
from app.upkeep.recovery import LostTurns
from core.ports.clock import Clock
from core.ports.store import LeaseStore

log = logging.getLogger(__name__)

ABANDONED = (
    "node {node} stopped renewing its lease on this chat (it stopped, or lost the database) while this turn ran; "
    "the turn is lost: submit it again"
)


class ChatLeases:
    def __init__(
        self,
        *,
        leases: LeaseStore,
        registry: TurnRegistry,
        pool: AgentPool,
        lost: LostTurns,
        wake_dispatcher: Callable[[], None],
        clock: Clock,
        node_id: str,
        ttl_s: float,
    ) -> None:
        self._leases = leases
        self._registry = registry
        self._pool = pool
        self._lost = lost
        self._wake_dispatcher = wake_dispatcher
        self._clock = clock
        self.node_id = node_id
        self.ttl = timedelta(seconds=ttl_s)

    def until(self, now: datetime) -> datetime:
        return now + self.ttl

    def held_chats(self) -> list[str]:
        """The chats this node must keep: a turn runs there, or an agent handle is live."""
        return sorted(set(self._registry.chats()) | {s.chat_id for s in self._pool.live_sessions()})

    async def renew(self) -> dict[str, object]:
        """The lease job: keep this node's chats, let go of the ones another node took, adopt abandoned ones."""
        held = self.held_chats()
        now = self._clock.now()
        lost = await self._leases.renew_chat_leases(self.node_id, held, now, self.until(now))
        for chat_id in lost:
            log.warning("chat %s was closed, deleted or taken by another node: stopping its agents here", chat_id)
            for turn_id in self._registry.turns_of(chat_id):
                await self._registry.cancel(turn_id)
            await self._pool.let_go(chat_id)
        taken = await self._leases.take_over_abandoned_chats(self.node_id, ABANDONED, now, self.until(now))
        for task in taken:
            log.warning("turn %s of chat %s failed: %s", task.id, task.chat_id, task.error)
            await self._lost.record(task, now)
        if taken:
            self._wake_dispatcher()  # the taken chats' queued turns can run here now
        return {"held": len(held), "lost": lost, "taken_over": [task.id for task in taken]}

    async def release(self) -> None:
        """Graceful shutdown, once no turn runs here: other nodes may take this node's chats at once."""
        await self._leases.release_chat_leases(self.node_id)
