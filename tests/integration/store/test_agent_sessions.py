"""Agent sessions (``AgentSessionStore``): one per (chat, agent)."""

from __future__ import annotations

from core.model import AgentSessionStatus, BackendKind, Usage
from core.ports.store import Store
from tests.integration.store.records import at, chat, session


async def test_agent_sessions_unique_per_chat_and_agent(store: Store) -> None:
    await store.create_chat(chat())
    first = session(backend_session_id="ses_1", node_id="n1")
    await store.upsert_agent_session(first)
    await store.upsert_agent_session(session(agent="native", backend=BackendKind.NATIVE))
    updated = first.model_copy(update={"backend_session_id": "ses_2", "turns": 4, "usage": Usage(input_tokens=7)})
    await store.upsert_agent_session(updated)
    assert await store.get_agent_session("c1", "opencode") == updated
    assert await store.get_agent_session("c1", "qwen") is None
    assert [s.agent for s in await store.list_agent_sessions("c1")] == ["native", "opencode"]

    await store.set_agent_session_status("c1", "opencode", AgentSessionStatus.EVICTED, at(3))
    evicted = await store.get_agent_session("c1", "opencode")
    assert evicted is not None
    assert (evicted.status, evicted.last_used_at) == (AgentSessionStatus.EVICTED, at(3))
    await store.set_agent_session_status("c1", "missing", AgentSessionStatus.IDLE, at(3))  # no row: no-op
