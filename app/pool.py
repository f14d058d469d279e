"""Live agent session handles, one per (chat, agent): lazy get-or-create, busy marking, eviction, close hooks.

The pool only keeps handles; which ones to evict is decided by ``core.lifecycle``. Every handle the pool opened
is closed by the pool (eviction, chat close, crash replacement or shutdown): it is the handles' one owner.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from app.metrics import Metrics
from core.errors import AgentUnavailable, DomainError
from core.lifecycle.budget import BudgetReason
from core.lifecycle.eviction import EvictionPolicy, LiveHandle, choose_evictions
from core.model import AgentSessionStatus
from core.ports.agents import AgentBackend, SessionHandle, SessionSpec
from core.ports.clock import Clock
from core.ports.store import AgentSessionStore

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (chat_id, agent)
# (chat_id, agent, turn_id): room for a new session? The turn is told why it waits
Admit = Callable[[str, str, str | None], Awaitable[Result[None, DomainError]]]
CLOSE_TIMEOUT_S = 10.0


@dataclass
class LiveSession:
    chat_id: str
    agent: str
    handle: SessionHandle
    last_used: datetime
    busy: bool = False
    fresh: bool = True  # opened by the current checkout (not kept warm from an earlier turn)
    cwd: str = ""  # the chat worktree its agent works in
    turn_started: datetime | None = None  # when its latest turn began (background work started since is its own)
    turn_id: str | None = None  # its latest turn: a forced eviction journals what it stopped under it

    @property
    def key(self) -> Key:
        return (self.chat_id, self.agent)


class AgentPool:
    def __init__(
        self,
        backends: Mapping[str, AgentBackend],
        sessions: AgentSessionStore,
        clock: Clock,
        metrics: Metrics,
        idle_ttl_s: float,
        max_live: int,
    ) -> None:
        self._backends = backends
        self._sessions = sessions
        self._clock = clock
        self._metrics = metrics
        self.idle_ttl_s = idle_ttl_s
        self.max_live = max_live
        self._live: dict[Key, LiveSession] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._crashed: set[Key] = set()  # keys whose handle died; the next open counts as a restart
        # idle handles whose agent still runs background work they started: no eviction takes them (app.memory)
        self.keep: frozenset[Key] = frozenset()
        self.admit: Admit | None = None  # the memory budget's admission (app.memory.admission), when there is one

    def _lock(self, key: Key) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def backend(self, agent: str) -> AgentBackend | None:
        return self._backends.get(agent)

    async def checkout(self, spec: SessionSpec, turn_id: str | None = None) -> Result[LiveSession, DomainError]:
        """The live handle for (chat, agent), opened (resuming ``spec.resume_id``) when there is none; marked busy
        for the turn ``turn_id``."""
        assert spec.chat_id is not None, "pooled sessions belong to a chat"
        key = (spec.chat_id, spec.agent)
        backend = self._backends.get(spec.agent)
        if backend is None:
            return Failure(AgentUnavailable(detail=f"agent {spec.agent!r} is not configured", field="agent"))
        async with self._lock(key):
            live = self._live.get(key)
            if live is not None and not live.handle.is_alive():
                log.warning("agent %s in chat %s died; reopening its session", spec.agent, spec.chat_id)
                self._metrics.crashes[spec.agent] += 1
                self._crashed.add(key)
                del self._live[key]
                await _close_quietly(live.handle)
                await self._sessions.set_agent_session_status(
                    spec.chat_id, spec.agent, AgentSessionStatus.CRASHED, self._clock.now()
                )
                live = None
            if live is not None:
                live.fresh = False
            else:
                if self.admit is not None and isinstance(admitted := await self.admit(*key, turn_id), Failure):
                    return admitted
                opened = await backend.open_session(spec)
                if not is_successful(opened):
                    return Failure(opened.failure())
                if key in self._crashed:
                    self._crashed.discard(key)
                    self._metrics.restarts[spec.agent] += 1
                live = LiveSession(spec.chat_id, spec.agent, opened.unwrap(), self._clock.now())
                self._live[key] = live
            live.busy = True
            live.cwd, live.turn_started, live.turn_id = spec.cwd, self._clock.now(), turn_id
            return Success(live)

    async def checkin(self, live: LiveSession) -> None:
        """The turn is over: idle again, and the LRU cap is enforced now rather than at the next job run."""
        live.busy = False
        live.last_used = self._clock.now()
        if not live.handle.is_alive():
            await self.discard(live, crashed=True)
        await self.evict_idle()

    async def discard(self, live: LiveSession, *, crashed: bool) -> None:
        """Drop a handle that can no longer be trusted (dead process, watchdog gave up)."""
        async with self._lock(live.key):
            if self._live.get(live.key) is live:
                del self._live[live.key]
            if crashed:
                self._metrics.crashes[live.agent] += 1
                self._crashed.add(live.key)
            await _close_quietly(live.handle)
        if crashed:
            await self._sessions.set_agent_session_status(
                live.chat_id, live.agent, AgentSessionStatus.CRASHED, self._clock.now()
            )

    def find(self, chat_id: str, agent: str) -> LiveSession | None:
        return self._live.get((chat_id, agent))

    def live_counts(self) -> dict[str, int]:
        return dict(Counter(agent for _, agent in self._live))

    def snapshot(self) -> list[dict[str, object]]:
        return [
            {"chat_id": s.chat_id, "agent": s.agent, "busy": s.busy, "last_used": s.last_used.isoformat()}
            for s in self._live.values()
        ]

    async def evict_idle(self) -> list[Key]:
        """Evict what core.lifecycle picks (idle TTL, then LRU over the cap, then the idle handles of an agent whose
        process wants draining; busy never). Rows stay: reattach later."""
        handles = [
            LiveHandle(chat_id=s.chat_id, agent=s.agent, last_used=s.last_used, busy=s.busy or s.key in self.keep)
            for s in self._live.values()
        ]
        policy = EvictionPolicy(idle_ttl_s=self.idle_ttl_s, max_live=self.max_live)
        chosen = {e.key: e.reason.value for e in choose_evictions(handles, self._clock.now(), policy)}
        # an agent whose process keeps the memory of sessions let go of is emptied, so its backend can stop it
        for agent in [name for name, backend in self._backends.items() if backend.wants_drain()]:
            idle = [s.key for s in self._live.values() if s.agent == agent and not s.busy and s.key not in self.keep]
            chosen |= {key: "drain" for key in idle if key not in chosen}
        return [key for key, reason in chosen.items() if await self._evict(key, reason)]

    async def evict(self, keys: list[Key], reason: str) -> list[Key]:
        """Evict these idle handles (the memory budget's choice); a handle busy again meanwhile stays."""
        return [key for key in keys if await self._evict(key, reason)]

    async def _evict(self, key: Key, reason: str) -> bool:
        async with self._lock(key):
            live = self._live.get(key)
            if live is None or live.busy:  # raced with a checkout: it is in use again
                return False
            # the agent may still run work of its own in the session (OpenCode busy after hearth's turn ended):
            # closing would dispose it. Only a forced budget eviction, past the background grace, goes on.
            if reason != BudgetReason.FORCED and await live.handle.working():
                log.info("keeping %s in chat %s: its session is still busy at the agent", live.agent, live.chat_id)
                return False
            del self._live[key]
            await _close_quietly(live.handle)
        self._metrics.evictions[live.agent] += 1
        self._metrics.evictions_by_reason[(live.agent, reason)] += 1
        await self._sessions.set_agent_session_status(
            live.chat_id, live.agent, AgentSessionStatus.EVICTED, self._clock.now()
        )
        return True

    async def discard_dead_idle(self) -> list[Key]:
        """Health monitor: idle handles whose agent died are dropped and marked crashed; the next turn respawns."""
        dead = [live for live in self._live.values() if not live.busy and not live.handle.is_alive()]
        for live in dead:
            await self.discard(live, crashed=True)
        return [live.key for live in dead]

    def live_sessions(self) -> list[LiveSession]:
        return list(self._live.values())

    async def let_go(self, chat_id: str) -> None:
        """Every handle of the chat goes; the session rows stay as they are (resumable, or another node's now)."""
        for key in [k for k in self._live if k[0] == chat_id]:
            async with self._lock(key):
                live = self._live.pop(key, None)
                if live is not None:
                    await _close_quietly(live.handle)

    async def close_chat(self, chat_id: str) -> None:
        """Close hook: every handle of the chat goes; the sessions are marked closed and never resumed."""
        await self.let_go(chat_id)
        for row in await self._sessions.list_agent_sessions(chat_id):
            await self._sessions.set_agent_session_status(
                chat_id, row.agent, AgentSessionStatus.CLOSED, self._clock.now()
            )

    async def aclose(self) -> None:
        """Shutdown: close every handle; sessions stay resumable (evicted) for the next hearth."""
        while self._live:
            _, live = self._live.popitem()
            await _close_quietly(live.handle)
            await self._sessions.set_agent_session_status(
                live.chat_id, live.agent, AgentSessionStatus.EVICTED, self._clock.now()
            )


async def _close_quietly(handle: SessionHandle) -> None:
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await handle.close()
    except TimeoutError:
        log.warning("closing an agent session took over %.0f s; left to its backend's shutdown", CLOSE_TIMEOUT_S)
    except Exception:
        log.exception("closing an agent session failed; its backend stops the process at shutdown")
