"""Chat leases: a chat's live agents belong to one node at a time (design.md, "Several nodes").

A node leases a chat when it claims one of its turns, and keeps the lease while it runs a turn there or holds a
live agent handle for it: so the chat's next turns come back to the node whose agents are warm. An evicted chat's
lease simply runs out and any node may take the chat. A node that stops renewing (it died, or lost the database)
loses its chats: the first node to notice fails the turn it left running, naming it, and takes the chat over; the
old node, if it comes back, learns at its next renewal that the chat is gone and lets go of its agents there.
A chat closed or deleted through another node's API is let go of the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from app.pool import AgentPool
from app.turns.dispatcher import Dispatcher
from app.turns.runner import TurnRunner
from app.upkeep.recovery import journal_lost_turn
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.store import Store

log = logging.getLogger(__name__)

ABANDONED = (
    "node {node} stopped renewing its lease on this chat (it stopped, or lost the database) while this turn ran; "
    "the turn is lost: submit it again"
)


class ChatLeases:
    def __init__(
        self,
        *,
        store: Store,
        bus: EventBus,
        pool: AgentPool,
        dispatcher: Dispatcher,
        runner: TurnRunner,
        clock: Clock,
        node_id: str,
        ttl_s: float,
    ) -> None:
        self._store = store
        self._bus = bus
        self._pool = pool
        self._dispatcher = dispatcher
        self._runner = runner
        self._clock = clock
        self.node_id = node_id
        self.ttl = timedelta(seconds=ttl_s)

    def until(self, now: datetime) -> datetime:
        return now + self.ttl

    def held_chats(self) -> list[str]:
        """The chats this node must keep: a turn runs there, or an agent handle is live."""
        return sorted(set(self._dispatcher.inflight_chats()) | {s.chat_id for s in self._pool.live_sessions()})

    async def renew(self) -> dict[str, object]:
        """The lease job: keep this node's chats, let go of the ones another node took, adopt abandoned ones."""
        held = self.held_chats()
        now = self._clock.now()
        lost = await self._store.renew_chat_leases(self.node_id, held, now, self.until(now))
        for chat_id in lost:
            log.warning("chat %s was closed, deleted or taken by another node: stopping its agents here", chat_id)
            for turn_id in self._dispatcher.inflight_turns(chat_id):
                await self._runner.cancel(turn_id)
            await self._pool.let_go(chat_id)
        taken = await self._store.take_over_abandoned_chats(self.node_id, ABANDONED, now, self.until(now))
        for task in taken:
            log.warning("turn %s of chat %s failed: %s", task.id, task.chat_id, task.error)
            await journal_lost_turn(self._store, self._bus, task, now)
        if taken:
            self._dispatcher.wake()  # the taken chats' queued turns can run here now
        return {"held": len(held), "lost": lost, "taken_over": [task.id for task in taken]}

    async def release(self) -> None:
        """Graceful shutdown, once no turn runs here: other nodes may take this node's chats at once."""
        await self._store.release_chat_leases(self.node_id)
