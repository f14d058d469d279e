"""The agent pool: one warm handle per (chat, agent), reused, evicted by core's decisions, replaced when dead."""

from __future__ import annotations

from datetime import UTC, datetime

from app.clock import SystemClock
from app.metrics import Metrics
from app.pool import AgentPool
from core.model import AgentSession, AgentSessionStatus, BackendKind, Chat
from core.ports.agents import SessionSpec
from core.ports.store import Store
from tests.doubles.scripted_backend import ScriptedBackend

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _spec(chat: str) -> SessionSpec:
    return SessionSpec(chat_id=chat, agent="scripted", cwd="/w")


async def _pool(store: Store, backend: ScriptedBackend, max_live: int = 10) -> AgentPool:
    for chat in ("c1", "c2", "c3"):
        await store.create_chat(Chat(id=chat, repo_path="/r", created_at=T0))
        await store.upsert_agent_session(
            AgentSession(chat_id=chat, agent="scripted", backend=BackendKind.WARM_ACP, last_used_at=T0)
        )
    return AgentPool({"scripted": backend}, store, SystemClock(), Metrics(), idle_ttl_s=3600, max_live=max_live)


async def test_a_handle_is_kept_warm_and_reused(fast_store: Store) -> None:
    backend = ScriptedBackend()
    pool = await _pool(fast_store, backend)
    first = (await pool.checkout(_spec("c1"))).unwrap()
    assert first.fresh
    assert first.busy
    await pool.checkin(first)
    again = (await pool.checkout(_spec("c1"))).unwrap()
    assert again is first
    assert not again.fresh
    assert len(backend.sessions) == 1


async def test_over_the_cap_the_least_recently_used_idle_handle_goes_never_a_busy_one(fast_store: Store) -> None:
    backend = ScriptedBackend()
    pool = await _pool(fast_store, backend, max_live=1)
    busy = (await pool.checkout(_spec("c1"))).unwrap()
    idle = (await pool.checkout(_spec("c2"))).unwrap()
    await pool.checkin(idle)  # over the cap of 1: the idle one goes, the busy one stays
    assert pool.find("c1", "scripted") is busy
    assert pool.find("c2", "scripted") is None
    evicted = await fast_store.get_agent_session("c2", "scripted")
    assert evicted is not None
    assert evicted.status is AgentSessionStatus.EVICTED


async def test_a_dead_handle_is_replaced_and_counted_as_a_crash(fast_store: Store) -> None:
    backend = ScriptedBackend()
    pool = await _pool(fast_store, backend)
    live = (await pool.checkout(_spec("c1"))).unwrap()
    await pool.checkin(live)
    backend.alive = False
    assert await pool.discard_dead_idle() == [("c1", "scripted")]
    crashed = await fast_store.get_agent_session("c1", "scripted")
    assert crashed is not None
    assert crashed.status is AgentSessionStatus.CRASHED
    backend.alive = True
    replaced = (await pool.checkout(_spec("c1"))).unwrap()
    assert replaced is not live


async def test_closing_a_chat_closes_its_handles_and_sessions(fast_store: Store) -> None:
    backend = ScriptedBackend()
    pool = await _pool(fast_store, backend)
    await pool.checkin((await pool.checkout(_spec("c1"))).unwrap())
    await pool.close_chat("c1")
    assert pool.find("c1", "scripted") is None
    assert backend.sessions[0].closed
    closed = await fast_store.get_agent_session("c1", "scripted")
    assert closed is not None
    assert closed.status is AgentSessionStatus.CLOSED
